"""Re-encrypt a bkp secret key file (docs/FORMAT.md §2) with the weakest
KDF parameters a reader accepts (Argon2id, opslimit 1, memlimit 8 MiB), so
that tests that load the key many times spend little time deriving it.
libsodium through ctypes; test use only.

    python3 weak_key.py KEYFILE      (BKP_PASSPHRASE: the passphrase)
"""
import base64
import ctypes
import ctypes.util
import json
import os
import sys

na = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
assert na.sodium_init() >= 0
ALG_ARGON2ID13 = 2


def kdf(pw, salt, ops, mem):
    out = ctypes.create_string_buffer(32)
    rc = na.crypto_pwhash(out, ctypes.c_ulonglong(32), pw, ctypes.c_ulonglong(len(pw)),
                          salt, ctypes.c_ulonglong(ops), ctypes.c_size_t(mem),
                          ctypes.c_int(ALG_ARGON2ID13))
    assert rc == 0, "crypto_pwhash failed"
    return out.raw


def main(path):
    pw = os.environ["BKP_PASSPHRASE"].encode()
    k = json.load(open(path))
    ad = k["public"]["fpr"].encode()
    key = kdf(pw, base64.b64decode(k["kdf"]["salt"]), k["kdf"]["opslimit"],
              k["kdf"]["memlimit"])
    box = base64.b64decode(k["box"])
    sec = ctypes.create_string_buffer(len(box) - 16)
    n = ctypes.c_ulonglong(0)
    rc = na.crypto_aead_xchacha20poly1305_ietf_decrypt(
        sec, ctypes.byref(n), None, box, ctypes.c_ulonglong(len(box)), ad,
        ctypes.c_ulonglong(len(ad)), base64.b64decode(k["nonce"]), key)
    assert rc == 0, "wrong passphrase"
    salt, nonce = os.urandom(16), os.urandom(24)
    ops, mem = 1, 8 << 20
    key = kdf(pw, salt, ops, mem)
    out = ctypes.create_string_buffer(len(box))
    na.crypto_aead_xchacha20poly1305_ietf_encrypt(
        out, ctypes.byref(n), sec.raw, ctypes.c_ulonglong(len(sec.raw)), ad,
        ctypes.c_ulonglong(len(ad)), None, nonce, key)
    k["kdf"].update(opslimit=ops, memlimit=mem, salt=base64.b64encode(salt).decode())
    k["nonce"] = base64.b64encode(nonce).decode()
    k["box"] = base64.b64encode(out.raw[:n.value]).decode()
    tmp = path + ".weak"
    with open(tmp, "w") as f:
        json.dump(k, f)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


if __name__ == "__main__":
    main(sys.argv[1])
