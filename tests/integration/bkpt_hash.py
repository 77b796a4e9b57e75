"""The archive hashes of docs/FORMAT.md, computed without bkp: BLAKE2b-256
with Python's hashlib, BLAKE3 with b3sum (the BLAKE3 team's own tool, in
Rust), so the tests check bkp's digests against independent code."""
import hashlib
import subprocess


def digest(alg, data):
    """Hex digest of bytes data with the archive hash alg."""
    if alg == "blake2b":
        return hashlib.blake2b(data, digest_size=32).hexdigest()
    if alg == "blake3":
        out = subprocess.run(["b3sum", "--no-names", "-"], input=data,
                             capture_output=True, check=True).stdout
        return out.split()[0].decode()
    raise ValueError("unknown archive hash %r" % alg)


def file_digest(alg, path):
    with open(path, "rb") as f:
        return digest(alg, f.read())


def record_alg(r):
    """The hash an archive record says its archive uses."""
    return r["hash"] if r.get("bkp_archive", 1) >= 2 else "blake2b"
