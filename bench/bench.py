#!/usr/bin/python3
"""Runner for `make bench` (issue 6): bkp against restic, borg and the
pipeline limit `tar | zstd -T0 -3`, on one seeded dataset, interleaved and
repeated; in each round, the nightly cases (incremental runs after 1% and
10% of the files changed, none changed, a database dump from stdin, and
bkp's restore of a chain's newest archive against a full one); then bkp's
peak RSS at 1x, 4x and on one 8 GiB file.

Started by bench/run.sh, which installs the tools and (optionally) starts
s3rver; read docs/BENCH.md for the knobs and how to read the output.
Nothing here asserts a time: the targets are reported as met or missed.
"""

import datetime
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import gen_dataset  # noqa: E402
import svgchart  # noqa: E402

MiB = 1 << 20
MB = 1000 * 1000


def env_str(name, default):
    v = os.environ.get(name)
    return v if v not in (None, "") else default


SIZE_STR = env_str("BENCH_SIZE", "2G")
SIZE = gen_dataset.parse_size(SIZE_STR)
REPS = int(env_str("BENCH_REPS", "3"))
SEED = int(env_str("BENCH_SEED", "20261125"))
QUICK = env_str("BENCH_QUICK", "0") not in ("0", "no", "false")
BIGFILE = gen_dataset.parse_size(env_str("BENCH_BIGFILE", "8G"))
OUT = os.path.abspath(env_str("BENCH_DIR", os.path.join(HERE, "out")))
BKP = os.path.abspath(env_str("BKP", os.path.join(ROOT, "build", "bkp")))
ONLY = [x for x in env_str("BENCH_ONLY", "").split(",") if x]
KEEP = env_str("BENCH_KEEP", "0") not in ("0", "no", "false")
SKIP_SCALE = env_str("BENCH_SCALE", "1") in ("0", "no", "false")
S3_SKIP_REASON = env_str("BENCH_S3_SKIP", "")
NIGHTLY = env_str("BENCH_NIGHTLY", "1") not in ("0", "no", "false")
NIGHTLY_S3 = env_str("BENCH_NIGHTLY_S3", "0") not in ("0", "no", "false")
# the database dump of the nightly cases: 200 MB, or a tenth of the dataset
DUMP_SIZE = gen_dataset.parse_size(env_str("BENCH_DUMP_SIZE", str(min(200 * 1000 * 1000,
                                                                       SIZE // 10))))
CHAIN = 7  # nightly runs at 1% before the restore of the chain's newest archive
S3RVER = os.path.join(ROOT, "tests", "s3", "node_modules", ".bin", "s3rver")
S3_BUCKET = "bench"
BKP_SHA = None
PASS = "bench-only-passphrase-not-a-secret"

WORK = os.path.join(OUT, "work")
SCRATCH = os.path.abspath(env_str("BENCH_SCRATCH", WORK))  # restore targets
SCRATCH_FS = env_str("BENCH_SCRATCH_FS", "auto")  # auto: an ext4 image if root; dir
SCRATCH_IMAGE = None  # the mounted scratch image, if any (scratch_image_mount)
LOGS = os.path.join(OUT, "logs")


def log(msg):
    print(msg, flush=True)


# --- measurement ----------------------------------------------------------

def measure(argv, cwd, env, logname, stdin_path=None, stdout_path=None):
    """Run argv (a list, or a str for sh -c) and return its wall time, CPU
    seconds (user+sys, the process and all its waited-for children) and peak
    RSS (the largest single process of the tree).  Its standard input is
    stdin_path (else /dev/null); its standard output goes to stdout_path if
    given, else with its standard error to the log.

    CPU and RSS come from GNU time, not from our own wait4(): Linux carries
    the forking parent's RSS high-water mark over into the child's
    ru_maxrss, so a child forked straight from this Python process would
    report at least Python's RSS. GNU time is tiny and forks the command
    itself."""
    if isinstance(argv, str):
        argv = ["/bin/sh", "-c", argv]
    # Untimed: write back what earlier commands left dirty, so that no
    # command pays for another's writeback (docs/BENCH.md, "Restore scratch").
    os.sync()
    os.makedirs(LOGS, exist_ok=True)
    path = os.path.join(LOGS, logname + ".log")
    tfile = os.path.join(LOGS, ".time")
    with open(path, "ab") as lf, open(stdin_path or os.devnull, "rb") as inf, \
            open(stdout_path or os.devnull, "wb") as outf:
        lf.write(("$ %s%s  (cwd %s)\n" % (" ".join(argv), " < " + stdin_path if stdin_path else "",
                                           cwd)).encode())
        lf.flush()
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", tfile, "--"] + argv,
                           cwd=cwd, env=env, stdin=inf, stdout=outf if stdout_path else lf,
                           stderr=lf)
        wall = time.monotonic() - t0
    user = sys_ = 0.0
    rss = 0
    try:
        with open(tfile) as f:
            last = [x for x in f.read().splitlines() if x.strip()][-1].split()
        user, sys_, rss = float(last[1]), float(last[2]), int(last[3])
    except (OSError, IndexError, ValueError):
        pass
    return {"wall": wall, "user": user, "sys": sys_, "cpu": user + sys_, "rss_kib": rss,
            "rc": p.returncode, "log": path}


def quiet(argv, cwd, env, logname):
    """Run an untimed set-up step; True on success."""
    r = measure(argv, cwd, env, logname)
    if r["rc"] != 0:
        log("  ! set-up step failed (rc %d): %s; see %s" % (r["rc"], argv, r["log"]))
    return r["rc"] == 0


def tree_bytes(top):
    """Apparent bytes and regular-file count under top (no symlink follow)."""
    n = files = 0
    for d, _, fs in os.walk(top):
        for f in fs:
            try:
                st = os.lstat(os.path.join(d, f))
            except OSError:
                continue
            n += st.st_size
            if (st.st_mode & 0o170000) == 0o100000:
                files += 1
    return n, files


def rmtree(p):
    if os.path.lexists(p):
        shutil.rmtree(p, ignore_errors=True)


def tail(path, n=5):
    try:
        with open(path, "rb") as f:
            return b"".join(f.readlines()[-n:]).decode(errors="replace")
    except OSError:
        return ""


# --- s3rver on loopback --------------------------------------------------------

class S3rver:
    """One s3rver process on 127.0.0.1 with bucket `bench`, its data in
    `datadir`; with tls=(key, cert) it serves https. restic 0.14 (minio-go)
    signs plain-http uploads with aws-chunked streaming, which s3rver 3.7
    stores verbatim (corrupting them), so restic is given the https one."""

    def __init__(self, datadir, tls=None):
        import socket
        with socket.socket() as so:
            so.bind(("127.0.0.1", 0))
            self.port = so.getsockname()[1]
        self.datadir = datadir
        rmtree(datadir)
        os.makedirs(datadir)
        argv = [S3RVER, "-d", datadir, "-a", "127.0.0.1", "-p", str(self.port), "-s",
                "--configure-bucket", S3_BUCKET]
        if tls:
            argv += ["--key", tls[0], "--cert", tls[1]]
        self.endpoint = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        os.makedirs(LOGS, exist_ok=True)
        self.logf = open(os.path.join(LOGS, "s3rver-%d.log" % self.port), "wb")
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=self.logf,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("s3rver did not start, see %s" % self.logf.name)

    def prefix_bytes(self, prefix):
        """Bytes of stored objects under prefix (s3rver's metadata files not
        counted)."""
        n = 0
        for d, _, fs in os.walk(os.path.join(self.datadir, S3_BUCKET, prefix)):
            for f in fs:
                if f.endswith("._S3rver_object"):
                    n += os.lstat(os.path.join(d, f)).st_size
        return n

    def remove_prefix(self, prefix):
        rmtree(os.path.join(self.datadir, S3_BUCKET, prefix))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


def s3_env(env):
    e = dict(env)
    e.update({"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
              "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"})
    return e


def start_s3():
    """Start the two servers; returns ({"http": S3rver, "https": S3rver}, note)
    or ({}, reason skipped)."""
    if S3_SKIP_REASON:
        return {}, "S3 SKIPPED: " + S3_SKIP_REASON
    if not os.access(S3RVER, os.X_OK):
        return {}, "S3 SKIPPED: s3rver not installed (cd tests/s3 && npm ci)"
    tls = os.path.join(WORK, "tls")
    os.makedirs(tls, exist_ok=True)
    key, cert = os.path.join(tls, "key.pem"), os.path.join(tls, "cert.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True)
    if p.returncode != 0:
        return {}, "S3 SKIPPED: openssl could not make a test certificate"
    servers = {}
    try:
        servers["http"] = S3rver(os.path.join(WORK, "s3-http"))
        servers["https"] = S3rver(os.path.join(WORK, "s3-https"), (key, cert))
        servers["cacert"] = cert
    except (RuntimeError, OSError) as e:
        for v in servers.values():
            v.stop()
        return {}, "S3 SKIPPED: %s" % e
    return servers, ("s3rver 3.7 on loopback, no proxy: bkp-s3 via %s, restic-s3 via %s "
                     "(TLS, self-signed; see docs/BENCH.md); server CPU/RSS not counted" % (
                         servers["http"].endpoint, servers["https"].endpoint))


# --- contenders -----------------------------------------------------------

class Contender:
    """One tool on one storage. Paths are made per repetition; `data` is the
    dataset's parent directory, and every tool backs up the relative path
    `data` from there so the archives hold the same names."""
    name = ""
    phases = ("backup", "restore", "verify")
    nightly = False  # takes part in the nightly cases (run_nightly)

    def __init__(self, base_env):
        self.env = dict(base_env)

    def setup(self, rep):
        return True

    def repo_bytes(self, rep):
        return None

    def cleanup(self, rep):
        pass


class Limit(Contender):
    name = "limit"
    phases = ("backup",)

    def backup(self, rep):
        return "tar -cf - data | zstd -q -T0 -3 > /dev/null"


class Bkp(Contender):
    name = "bkp"

    def __init__(self, base_env, key, s3=None):
        super().__init__(s3_env(base_env) if s3 else base_env)
        self.key = key
        self.s3 = s3
        if s3:
            self.name = "bkp-s3"

    def repo(self, rep):
        if self.s3:
            return "s3://%s/bkp-rep%d" % (S3_BUCKET, rep)
        return os.path.join(WORK, "bkp-rep%d" % rep)

    def ropt(self, rep):
        r = ["-r", self.repo(rep)]
        if self.s3:
            r += ["--endpoint", self.s3.endpoint]
        return r

    def setup(self, rep):
        self.cleanup(rep)
        return quiet([BKP, "init"] + self.ropt(rep) + ["--recipient", self.key + ".pub"],
                     WORK, self.env, "%s-init" % self.name)

    def backup(self, rep):
        return [BKP, "backup"] + self.ropt(rep) + ["--name", "bench", "--level", "3", "-q", "data"]

    nightly = True

    def nightly_backup(self, rep, label, full=False):
        return ([BKP, "backup"] + self.ropt(rep) + ["--name", "bench", "--level", "3", "--json"] +
                (["--full"] if full else []) + ["data"])

    def stdin_backup(self, rep, label):
        return [BKP, "backup"] + self.ropt(rep) + ["--name", "dump", "--stdin-name", "dump.sql",
                                                   "--level", "3", "--json", "-"]

    def restore_id(self, rep, archive, target):
        return [BKP, "restore"] + self.ropt(rep) + ["-k", self.key, archive, "--target", target]

    def restore(self, rep, target):
        return [BKP, "restore"] + self.ropt(rep) + ["-k", self.key, "latest", "--target", target]

    def verify(self, rep):
        return [BKP, "verify"] + self.ropt(rep) + ["-k", self.key, "--all"]

    def repo_bytes(self, rep):
        if self.s3:
            return self.s3.prefix_bytes("bkp-rep%d" % rep)
        return tree_bytes(self.repo(rep))[0]

    def cleanup(self, rep):
        if self.s3:
            self.s3.remove_prefix("bkp-rep%d" % rep)
        else:
            rmtree(self.repo(rep))


class Restic(Contender):
    name = "restic"

    def __init__(self, base_env, s3=None, cacert=None):
        super().__init__(s3_env(base_env) if s3 else base_env)
        self.s3 = s3
        self.cacert = cacert
        if s3:
            self.name = "restic-s3"
        self.env["RESTIC_PASSWORD"] = PASS

    def repo(self, rep):
        if self.s3:
            return "s3:%s/%s/restic-rep%d" % (self.s3.endpoint, S3_BUCKET, rep)
        return os.path.join(WORK, "restic-rep%d" % rep)

    def cache(self, rep):
        return os.path.join(WORK, "%s-cache%d" % (self.name, rep))

    def base(self, rep):
        tls = ["--cacert", self.cacert] if self.cacert else []
        return ["restic", "-r", self.repo(rep), "--cache-dir", self.cache(rep)] + tls

    def setup(self, rep):
        self.cleanup(rep)
        return quiet(self.base(rep) + ["init"], WORK, self.env, "%s-init" % self.name)

    def backup(self, rep):
        return self.base(rep) + ["backup", "-q", "data"]

    nightly = True

    def nightly_backup(self, rep, label):
        return self.backup(rep)

    def stdin_backup(self, rep, label):
        return self.base(rep) + ["backup", "-q", "--stdin", "--stdin-filename", "dump.sql"]

    def restore(self, rep, target):
        return self.base(rep) + ["restore", "latest", "--target", target]

    def verify(self, rep):
        return self.base(rep) + ["check", "--read-data"]

    def repo_bytes(self, rep):
        if self.s3:
            return self.s3.prefix_bytes("restic-rep%d" % rep)
        return tree_bytes(self.repo(rep))[0]

    def cleanup(self, rep):
        rmtree(self.cache(rep))
        if self.s3:
            self.s3.remove_prefix("restic-rep%d" % rep)
        else:
            rmtree(self.repo(rep))


class Borg(Contender):
    name = "borg"

    def __init__(self, base_env):
        super().__init__(base_env)
        self.env.update({"BORG_PASSPHRASE": PASS,
                         "BORG_BASE_DIR": os.path.join(WORK, "borg-base"),
                         "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes"})

    def repo(self, rep):
        return os.path.join(WORK, "borg-rep%d" % rep)

    def setup(self, rep):
        self.cleanup(rep)
        return quiet(["borg", "init", "-e", "repokey", self.repo(rep)], WORK, self.env,
                     "borg-init")

    def backup(self, rep):
        return ["borg", "create", "--compression", "zstd,3", self.repo(rep) + "::bench", "data"]

    nightly = True

    def nightly_backup(self, rep, label):
        return ["borg", "create", "--compression", "zstd,3", self.repo(rep) + "::bench-" + label,
                "data"]

    def stdin_backup(self, rep, label):
        return ["borg", "create", "--compression", "zstd,3", "--stdin-name", "dump.sql",
                self.repo(rep) + "::dump-" + label, "-"]

    def restore(self, rep, target):
        # borg extracts into the working directory: see run_phase
        return ["borg", "extract", self.repo(rep) + "::bench"]

    def verify(self, rep):
        return ["borg", "check", "--verify-data", self.repo(rep)]

    def repo_bytes(self, rep):
        return tree_bytes(self.repo(rep))[0]

    def cleanup(self, rep):
        rmtree(self.repo(rep))
        rmtree(os.path.join(WORK, "borg-base"))


# --- the interleaved runs --------------------------------------------------

def bkp_works(env):
    """True if build/bkp exists and can init a repository."""
    if not os.access(BKP, os.X_OK):
        return False, "%s not built" % BKP
    probe = os.path.join(WORK, "bkp-probe")
    rmtree(probe)
    r = measure([BKP, "init", "-r", probe, "--recipient", os.path.join(WORK, "key.pub")],
                WORK, env, "bkp-probe")
    rmtree(probe)
    if r["rc"] != 0:
        return False, "'bkp init' failed (rc %d): %s" % (r["rc"], tail(r["log"], 2).strip())
    return True, ""


def run_phase(c, phase, rep, data_parent, expect):
    tag = "%s-%s-rep%d" % (c.name, phase, rep)
    if phase == "backup":
        r = measure(c.backup(rep), data_parent, c.env, tag)
        if r["rc"] == 0:
            r["stored"] = c.repo_bytes(rep)
    elif phase == "restore":
        # a fresh directory each time, kept until scratch_release() unless
        # on the scratch image: see scratch_plan() for why
        target = os.path.join(SCRATCH, "restore-r%d-%s" % (rep, c.name))
        rmtree(target)
        os.makedirs(target)
        cwd = target if isinstance(c, Borg) else WORK
        r = measure(c.restore(rep, target), cwd, c.env, tag)
        if r["rc"] == 0:
            got, files = tree_bytes(target)
            r["restored_bytes"], r["restored_files"] = got, files
            if (got, files) != expect:
                r["rc"] = -1000
                r["error"] = "restored %d files / %d bytes, dataset has %d / %d" % (
                    files, got, expect[1], expect[0])
        if r["rc"] != 0:
            rmtree(target)
        elif SCRATCH_IMAGE:
            scratch_drop(target)
    else:
        r = measure(c.verify(rep), WORK, c.env, tag)
    if r["rc"] != 0:
        r.setdefault("error", "rc %d: %s" % (r["rc"], tail(r["log"], 3).strip()))
        log("  ! %s failed: %s" % (tag, r["error"]))
    else:
        log("  %-10s %-7s rep %d: %7.2f s wall, %7.2f s cpu, %6.1f MiB rss%s" % (
            c.name, phase, rep, r["wall"], r["cpu"], r["rss_kib"] / 1024,
            "" if r.get("stored") is None else ", %.1f MiB stored" % (r["stored"] / MiB)))
    return r


def summarize(samples, in_bytes):
    ok = [s for s in samples if s["rc"] == 0]
    if not ok:
        return {"ok": False, "n": 0, "failures": len(samples),
                "error": samples[0].get("error") if samples else "not run"}
    walls = [s["wall"] for s in ok]
    med = statistics.median(walls)
    out = {"ok": True, "n": len(ok), "failures": len(samples) - len(ok),
           "wall_median": med, "wall_min": min(walls), "wall_max": max(walls),
           "spread_pct": 100.0 * (max(walls) - min(walls)) / med if med else 0.0,
           "mbps_median": in_bytes / MB / med if med else None,
           "mbps_min": in_bytes / MB / max(walls), "mbps_max": in_bytes / MB / min(walls),
           "cpu_median": statistics.median(s["cpu"] for s in ok),
           "rss_mib_max": max(s["rss_kib"] for s in ok) / 1024,
           "rss_mib_median": statistics.median(s["rss_kib"] for s in ok) / 1024}
    stored = [s["stored"] for s in ok if s.get("stored") is not None]
    if stored:
        out["stored_bytes"] = int(statistics.median(stored))
    return out


def paired_ratio(samples, a, b, phase):
    """Throughput ratio a/b (= wall b / wall a), median over the repetitions
    where both succeeded: pairs come from the same interleaved round."""
    sa = {s["rep"]: s for s in samples if s["contender"] == a and s["phase"] == phase and s["rc"] == 0}
    sb = {s["rep"]: s for s in samples if s["contender"] == b and s["phase"] == phase and s["rc"] == 0}
    rs = [sb[r]["wall"] / sa[r]["wall"] for r in sa if r in sb and sa[r]["wall"] > 0]
    if not rs:
        return None
    return {"median": statistics.median(rs), "min": min(rs), "max": max(rs), "n": len(rs)}


def tool_version(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except Exception:  # noqa: BLE001 - a version is informational only
        return "unavailable"


def main():
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = datetime.datetime.now(datetime.timezone.utc)
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(SCRATCH, exist_ok=True)
    rmtree(LOGS)
    base_env = dict(os.environ)
    base_env["BKP_PASSPHRASE"] = PASS
    base_env["XDG_CACHE_HOME"] = os.path.join(WORK, "xdg-cache")
    # bkp's file indexes (incremental backups), one per repository and
    # dataset: kept in WORK, not in the user's state directory
    base_env["BKP_STATE_DIR"] = os.path.join(WORK, "bkp-state")
    rmtree(base_env["BKP_STATE_DIR"])

    # dataset
    ds_root = os.path.join(OUT, "dataset-%s-%d" % (SIZE_STR, SEED))
    ds = os.path.join(ds_root, "data")
    os.makedirs(ds_root, exist_ok=True)
    note = TreeChanger.recover(ds_root)
    if note:
        log(note)
    t0 = time.monotonic()
    log("dataset: making sure %s holds the %s dataset (seed %d)" % (ds, SIZE_STR, SEED))
    try:
        gen_dataset.gen_tree(ds, SIZE, SEED)
    except Exception as e:  # noqa: BLE001 - report and stop, nothing to measure
        log("bench: cannot generate the dataset: %s: %s" % (type(e).__name__, e))
        return 1
    in_bytes, in_files = tree_bytes(ds)
    log("dataset: %s, %.1f MiB in %d files (generation/check %.0f s)" % (
        ds, in_bytes / MiB, in_files, time.monotonic() - t0))

    # measure a private copy of bkp: build/bkp may be relinked by a `make`
    # in the same tree while we run, which would change the binary mid-run
    # or make it briefly unexecutable
    global BKP, BKP_SHA
    bkp_src = BKP
    bkp_sha = None
    if os.access(BKP, os.X_OK):
        copy = os.path.join(WORK, "bkp-under-test")
        shutil.copy2(BKP, copy + ".tmp")
        os.replace(copy + ".tmp", copy)
        with open(copy, "rb") as f:
            bkp_sha = hashlib.sha256(f.read()).hexdigest()
        BKP = copy
        BKP_SHA = bkp_sha
        log("bkp: measuring a copy of %s (sha256 %s)" % (bkp_src, bkp_sha[:16]))

    # bkp key, and whether bkp works yet
    key = os.path.join(WORK, "key")
    if not os.path.exists(key) and os.access(BKP, os.X_OK):
        for p in (key, key + ".pub"):
            if os.path.exists(p):
                os.unlink(p)
        quiet([BKP, "keygen", key], WORK, base_env, "bkp-keygen")
    bkp_ok, bkp_why = bkp_works(base_env)
    if not bkp_ok:
        log("bkp: SKIPPED, %s" % bkp_why)

    contenders = [Limit(base_env)]
    if bkp_ok:
        contenders.append(Bkp(base_env, key))
    contenders += [Restic(base_env), Borg(base_env)]
    want_s3 = not ONLY or any(n.endswith("-s3") for n in ONLY)
    servers, s3_note = start_s3() if want_s3 else ({}, "S3 SKIPPED: not in BENCH_ONLY")
    log(s3_note)
    if servers:
        if bkp_ok:
            contenders.append(Bkp(base_env, key, s3=servers["http"]))
        contenders.append(Restic(base_env, s3=servers["https"], cacert=servers["cacert"]))
    try:
        scratch_image_mount(in_bytes)
        return run_all(contenders, servers, s3_note, bkp_ok, bkp_why, base_env, key, ds,
                       ds_root, in_bytes, in_files, started)
    finally:
        scratch_image_unmount()
        for k in ("http", "https"):
            if k in servers:
                servers[k].stop()


# --- restore scratch ----------------------------------------------------------
#
# ext4 (seen on Linux 6.18) allocates inodes slowly right after many were
# freed: creating a tree where a just-removed tree of the same shape stood
# costs several times the kernel time of creating it on fresh ground (the
# same 300 MB bkp restore: 1.1 s fresh, 4.5 s right after removing the
# previous restore, 2.4 s even minutes later; restic alike).  A restore
# removed right after it was measured would thus slow down whichever
# contender comes next, and the figures would measure the order of the
# runs.  So every restore goes to a directory of its own that is kept until
# the end of the run (or of the round, if the disk is too small for that),
# and before the first round the dataset is copied once into the scratch
# directory (untimed) to take up inode space freed by earlier runs.

# That slowness belongs to ext4 without a journal (this VM's root file
# system): only there does the inode allocator skip inodes freed in the
# last 60 s (360 s while their inode table block is dirty) with
# recently_deleted(), looking each one up in the buffer cache, so a
# restore onto a just-removed one walks past thousands of them per file.
# A journaled ext4 (mkfs.ext4's default, what a restore target normally
# is) does not.  So, run as root, the bench makes one: a fresh ext4 on a
# sparse image in WORK, on a loop device with direct I/O (the image's
# data is not cached twice); each restore is removed as soon as it has
# been measured and checked, and its blocks are trimmed (punched out of
# the image).  BENCH_SCRATCH_FS=dir keeps the directory and the plan
# below.

def sh_ok(argv):
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        log("scratch: %s failed: %s" % (" ".join(argv), (p.stderr or p.stdout).strip()[:200]))
    return p.returncode == 0


def scratch_image_mount(in_bytes):
    """Make and mount the scratch image (see above) if asked and possible;
    sets SCRATCH and SCRATCH_IMAGE.  Logs what it did or why not."""
    if SCRATCH_FS == "dir":
        return
    try:
        scratch_image_make(in_bytes)
    except OSError as e:
        log("scratch: no image (%s); restores go to %s" % (e, SCRATCH))
        scratch_image_unmount(os.path.join(WORK, "scratch-ext4.img"),
                              os.path.join(WORK, "scratch-mnt"))


def scratch_image_make(in_bytes):
    global SCRATCH, SCRATCH_IMAGE
    why = None
    if os.geteuid() != 0:
        why = "not root"
    elif not all(shutil.which(t) for t in ("losetup", "mkfs.ext4", "mount", "umount", "fstrim")):
        why = "losetup, mkfs.ext4, mount or fstrim missing"
    if why:
        log("scratch: %s, so restores go to the directory %s" % (why, SCRATCH))
        return
    img = os.path.join(WORK, "scratch-ext4.img")
    mnt = os.path.join(WORK, "scratch-mnt")
    scratch_image_unmount(img, mnt)
    # sparse: only what is live takes space, and never more than the disk
    # has (a loop file system that outgrows its disk fails writes)
    free = shutil.disk_usage(WORK).free
    size = min(max(in_bytes * 6, BIGFILE * 2) + (16 << 30), free - (2 << 30))
    if size < in_bytes * 3:
        log("scratch: %.1f GiB free is too little for an image; restores go to %s" % (
            free / (1 << 30), SCRATCH))
        return
    with open(img, "wb") as f:
        f.truncate(size)
    os.makedirs(mnt, exist_ok=True)
    dev = None
    if sh_ok(["mkfs.ext4", "-q", "-F", img]):
        p = subprocess.run(["losetup", "--direct-io=on", "--find", "--show", img],
                           capture_output=True, text=True)
        dev = p.stdout.strip() if p.returncode == 0 else None
        if dev is None:
            log("scratch: losetup failed: %s" % p.stderr.strip()[:200])
    if dev and sh_ok(["mount", dev, mnt]):
        SCRATCH, SCRATCH_IMAGE = mnt, {"image": img, "dev": dev, "mnt": mnt, "bytes": size}
        log("scratch: restores go to a fresh journaled ext4 (%.0f GiB sparse image on %s, "
            "mounted at %s); each is removed once measured" % (size / (1 << 30), dev, mnt))
        return
    if dev:
        sh_ok(["losetup", "-d", dev])
    os.unlink(img)
    log("scratch: no image, restores go to %s" % SCRATCH)


def scratch_image_unmount(img=None, mnt=None):
    """Unmount and remove the scratch image (or one an earlier run left)."""
    global SCRATCH_IMAGE
    if SCRATCH_IMAGE:
        img, mnt = SCRATCH_IMAGE["image"], SCRATCH_IMAGE["mnt"]
    if not img or not os.path.exists(img):
        return
    if os.path.ismount(mnt):
        sh_ok(["umount", mnt])
    p = subprocess.run(["losetup", "-j", img], capture_output=True, text=True)
    for line in p.stdout.splitlines():
        sh_ok(["losetup", "-d", line.split(":")[0]])
    if not os.path.ismount(mnt):
        os.unlink(img)
    SCRATCH_IMAGE = None


def scratch_drop(target):
    """Untimed: remove a measured restore from the scratch image, and give
    its blocks back to the disk."""
    rmtree(target)
    os.sync()
    subprocess.run(["fstrim", SCRATCH], capture_output=True)


def scratch_plan(contenders, in_bytes, extra=0):
    """'each' (a restore is removed once measured) on the scratch image;
    else 'run' (keep all restores until the end of the run) if the disk has
    room for them, else 'round'; logs the choice."""
    if SCRATCH_IMAGE:
        return "each"
    n = sum(1 for c in contenders if "restore" in c.phases) + extra
    per_round = int(in_bytes * 1.15) * n
    free = shutil.disk_usage(SCRATCH).free
    if free > per_round * REPS + in_bytes * 2 + 4 * (1 << 30):
        mode = "run"
    else:
        mode = "round"
        log("scratch: %.1f GiB free is too little to keep %d rounds of restores "
            "(%.1f GiB); restores are removed after each round, so later rounds "
            "may restore onto just-freed inodes (see docs/BENCH.md)" % (
                free / (1 << 30), REPS, per_round * REPS / (1 << 30)))
    return mode


def scratch_fill(ds_root):
    """Untimed: copy the dataset into the scratch directory once (not into
    a fresh image: there is nothing to take up)."""
    if SCRATCH_IMAGE:
        return
    fill = os.path.join(SCRATCH, "restore-fill")
    rmtree(fill)
    p = subprocess.run(["cp", "-a", os.path.join(ds_root, "data"), fill],
                       capture_output=True, text=True)
    if p.returncode != 0:
        log("scratch: fill copy failed (%s); continuing" % p.stderr.strip()[:200])


def scratch_release(rep=None):
    """Remove the restores of round rep (None: all, and the fill)."""
    for name in os.listdir(SCRATCH):
        if not name.startswith("restore-"):
            continue
        if rep is None or name.startswith("restore-r%d-" % rep):
            rmtree(os.path.join(SCRATCH, name))


def run_all(contenders, servers, s3_note, bkp_ok, bkp_why, base_env, key, ds, ds_root,
            in_bytes, in_files, started):
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    if ONLY:
        contenders = [c for c in contenders if c.name in ONLY]
    nightly = {"enabled": NIGHTLY, "s3": NIGHTLY_S3, "chain": CHAIN}
    tc = dump = None
    if NIGHTLY and any(takes_nightly(c) for c in contenders):
        tc = TreeChanger(ds_root)
        dump_dir = os.path.join(OUT, "dump-%d-%d" % (DUMP_SIZE, SEED))
        os.makedirs(dump_dir, exist_ok=True)
        dump = os.path.join(dump_dir, "dump.sql")
        t0 = time.monotonic()
        lines, changed = gen_dataset.gen_dump(dump, DUMP_SIZE, SEED)
        nightly.update(files=len(tc.files), changed_1pct=tc.count(0.01),
                       changed_10pct=tc.count(0.10), dump_bytes=os.path.getsize(dump),
                       dump_next_bytes=os.path.getsize(dump + ".next"), dump_lines=lines,
                       dump_changed=changed)
        subprocess.run("cat dump.sql dump.sql.next > /dev/null", shell=True, cwd=dump_dir)
        log("nightly: %d files (%d changed per 1%% run, %d at 10%%); dump %s, %.1f MiB, "
            "%d of %d rows changed in the next (%.0f s)" % (
                len(tc.files), tc.count(0.01), tc.count(0.10), dump,
                os.path.getsize(dump) / MiB, changed, lines, time.monotonic() - t0))
    elif not NIGHTLY:
        log("nightly cases: SKIPPED (BENCH_NIGHTLY=0)")

    # warm-up: read the dataset once through the limit pipeline, keep the
    # compressed size as the limit's "stored" figure
    log("warm-up: tar | zstd -T0 -3 over the dataset (page cache warm from here on)")
    p = subprocess.run("tar -cf - data | zstd -q -T0 -3 | wc -c", shell=True, cwd=ds_root,
                       capture_output=True, text=True)
    limit_stored = int(p.stdout.strip() or 0)
    for argv in (["restic", "version"], ["borg", "--version"], [BKP, "--help"]):
        tool_version(argv)

    samples = []
    nsamples = []
    expect = (in_bytes, in_files)
    scratch_release()
    scratch_mode = scratch_plan(contenders, in_bytes, 2 if tc else 0)
    scratch_fill(ds_root)
    for rep in range(1, REPS + 1):
        k = (rep - 1) % len(contenders)
        order = contenders[k:] + contenders[:k]
        log("round %d/%d, order: %s" % (rep, REPS, " ".join(c.name for c in order)))
        ready = []
        for c in order:
            if c.setup(rep):
                ready.append(c)
                continue
            for phase in c.phases:
                samples.append({"contender": c.name, "phase": phase, "rep": rep, "rc": -1001,
                                "error": "repository init failed, see %s" % os.path.join(
                                    LOGS, "%s-init.log" % c.name)})
        for phase in ("backup", "restore", "verify"):
            for c in ready:
                if phase not in c.phases:
                    continue
                r = run_phase(c, phase, rep, ds_root, expect)
                if c.name == "limit":
                    r["stored"] = limit_stored
                r.update(contender=c.name, phase=phase, rep=rep)
                samples.append(r)
        if tc:
            nsamples += run_nightly([c for c in order if c in ready], rep, ds_root, expect, tc,
                                    dump)
        for c in order:
            c.cleanup(rep)
        if scratch_mode == "round":
            scratch_release(rep)
    scratch_release()

    results = {}
    for c in contenders:
        for phase in c.phases:
            s = [x for x in samples if x["contender"] == c.name and x["phase"] == phase]
            results.setdefault(c.name, {})[phase] = summarize(s, in_bytes)

    ratios = {}
    for phase in ("backup", "restore", "verify"):
        for a, b in (("bkp", "limit"), ("bkp", "restic"), ("bkp", "borg"),
                     ("bkp-s3", "restic-s3")):
            v = paired_ratio(samples, a, b, phase)
            if v is not None:
                ratios["%s/%s %s" % (a, b, phase)] = v

    scale = []
    if bkp_ok and not SKIP_SCALE and (not ONLY or "bkp" in ONLY):
        scale = memory_scaling(base_env, key, ds_root, in_bytes, results)

    targets = evaluate_targets(ratios, results, scale)
    if tc:
        nightly["samples"] = nsamples
        nightly["results"] = nightly_summary(nsamples)
        nightly["ratios"] = nightly_ratios(nsamples, nightly["results"])
        targets += nightly_targets(nightly["ratios"])
    doc = {
        "schema": "bkp-bench/2",
        "started_utc": started.isoformat(),
        "finished_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "config": {"size": SIZE_STR, "seed": SEED, "reps": REPS, "quick": QUICK,
                   "bigfile_bytes": BIGFILE, "only": ONLY, "nightly": NIGHTLY,
                   "nightly_s3": NIGHTLY_S3, "dump_bytes": DUMP_SIZE, "bkp_binary": os.environ.get("BKP") or os.path.join(ROOT, "build", "bkp"),
                   "bkp_sha256": BKP_SHA, "scratch": SCRATCH,
                   "restores_kept_until_end_of": scratch_mode,
                   "scratch_fs": ("ext4 with journal, fresh, on a sparse image on a loop "
                                  "device with direct I/O" if SCRATCH_IMAGE else
                                  "directory " + SCRATCH)},
        "dataset": {"path": ds, "bytes": in_bytes, "files": in_files,
                    "limit_compressed_bytes": limit_stored},
        "cache": "warm: the dataset was read once (tar | zstd) before measuring; "
                 "page cache not dropped between runs",
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                    "mem_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
                    "loadavg_start": os.getloadavg()},
        "versions": {"bkp": tool_version([BKP, "--version"]) if bkp_ok else "not run",
                     "restic": tool_version(["restic", "version"]),
                     "borg": tool_version(["borg", "--version"]),
                     "zstd": tool_version(["zstd", "--version"]),
                     "tar": tool_version(["tar", "--version"]),
                     "git": tool_version(["git", "-C", ROOT, "describe", "--always", "--dirty"])},
        "bkp_skipped": None if bkp_ok else bkp_why,
        "s3": s3_note,
        "samples": samples,
        "results": results,
        "ratios": ratios,
        "memory_scaling": scale,
        "nightly": nightly,
        "targets": targets,
    }
    jpath = os.path.join(OUT, "results-%s.json" % stamp)
    with open(jpath, "w") as f:
        json.dump(doc, f, indent=1)
    spath = os.path.join(OUT, "results-%s.svg" % stamp)
    with open(spath, "w") as f:
        f.write(svgchart.render(doc))
    print_report(doc)
    log("\nJSON:  %s\nchart: %s\nlogs:  %s" % (jpath, spath, LOGS))
    return 0


# --- nightly cases -----------------------------------------------------------
#
# After each round's verifies, on the same repositories: the dataset is
# changed in place, step by step, and every nightly contender backs up each
# state of it in turn (the round's order); then the dataset is put back.
# Steps: CHAIN runs each changing 1% of the files (for bkp, a chain of
# CHAIN incrementals on the round's full backup), then for bkp a --full of
# that same tree and a restore of each (the chain's newest against the
# full), a run with no change (for bkp, right after that full), a run with
# 10% of the files changed, and a database dump from standard input, first
# as it is and then with 1% of its rows changed in 10 contiguous runs.

NIGHTLY_CASES = (  # (key, label), in report order
    ("nochange", "no change"),
    ("1pct", "1% of files"),
    ("10pct", "10% of files"),
    ("dump", "dump, first"),
    ("dump1pct", "dump, 1% rows"),
    ("full", "bkp --full"),
)
NIGHTLY_TARGET_CASES = ("nochange", "1pct", "10pct", "dump1pct")


class TreeChanger:
    """Changes a seeded share of the dataset's files in place (a few bytes
    in the middle of each, its mtime bumped to now) and puts them back.
    Before a file is first changed, its original bytes and times go to a
    journal beside the dataset (ds_root/.nightly-journal.json), so that the
    next run undoes what a killed run changed before it reuses the dataset."""

    PATCH = 16  # bytes rewritten per file

    def __init__(self, ds_root):
        self.root = ds_root
        self.journal = os.path.join(ds_root, ".nightly-journal.json")
        self.files = []
        top = os.path.join(ds_root, "data")
        for d, dirs, fs in os.walk(top):
            dirs.sort()
            for f in sorted(fs):
                p = os.path.join(d, f)
                if f != ".bench-dataset" and os.path.isfile(p) and not os.path.islink(p):
                    self.files.append(os.path.relpath(p, ds_root))
        self.orig = {}  # relative path -> [offset, original bytes hex, atime_ns, mtime_ns]

    def count(self, frac):
        return max(1, round(len(self.files) * frac))

    def change(self, frac, step):
        """Change count(frac) files, chosen by (seed, step) only, so every
        round changes the same files the same way."""
        pick = random.Random("%d/%s" % (SEED, step)).sample(self.files, self.count(frac))
        for rel in pick:
            if rel not in self.orig:
                p = os.path.join(self.root, rel)
                st = os.lstat(p)
                off = st.st_size // 2
                with open(p, "rb") as f:
                    f.seek(off)
                    data = f.read(self.PATCH)
                self.orig[rel] = [off, data.hex(), st.st_atime_ns, st.st_mtime_ns]
        self._write_journal()
        for i, rel in enumerate(pick):
            off, hx = self.orig[rel][0], self.orig[rel][1]
            n = len(hx) // 2
            patch = ("<%s:%07d>" % (step, i)).encode().ljust(n, b"#")[:n]
            p = os.path.join(self.root, rel)
            with open(p, "r+b") as f:
                f.seek(off)
                f.write(patch)
            os.utime(p)  # mtime: now (the write set it too)
        return len(pick)

    def hashes(self):
        """sha256 of every file changed since the last revert, as it is now."""
        return {rel: file_sha256(os.path.join(self.root, rel)) for rel in self.orig}

    def _write_journal(self):
        tmp = self.journal + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.orig, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.journal)

    def revert(self):
        TreeChanger.undo(self.root, self.orig)
        self.orig = {}
        if os.path.exists(self.journal):
            os.unlink(self.journal)

    @staticmethod
    def undo(root, orig):
        for rel, (off, hx, atime, mtime) in orig.items():
            p = os.path.join(root, rel)
            with open(p, "r+b") as f:
                f.seek(off)
                f.write(bytes.fromhex(hx))
            os.utime(p, ns=(atime, mtime))

    @staticmethod
    def recover(ds_root):
        """Undo what a killed run's nightly cases left changed; if that
        fails, remove the dataset (it is made again).  Returns a note or None."""
        journal = os.path.join(ds_root, ".nightly-journal.json")
        if not os.path.exists(journal):
            return None
        try:
            with open(journal) as f:
                orig = json.load(f)
            TreeChanger.undo(ds_root, orig)
            note = "dataset: undid the nightly changes of an interrupted run (%d files)" % len(orig)
        except (OSError, ValueError, TypeError) as e:
            rmtree(os.path.join(ds_root, "data"))
            note = "dataset: cannot undo an interrupted run's nightly changes (%s): removed" % e
        os.unlink(journal)
        return note


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def nightly_backup(c, rep, case, step, ds_root, stdin=None, full=False):
    """One timed nightly backup of contender c; the repository's growth is
    measured around it (untimed), and for bkp its --json statistics kept."""
    tag = "%s-nightly-%s%d-rep%d" % (c.name, case, step, rep)
    label = "%s%d" % (case, step)
    before = c.repo_bytes(rep)
    jpath = os.path.join(LOGS, tag + ".json") if isinstance(c, Bkp) else None
    if stdin:
        argv, cwd = c.stdin_backup(rep, label), WORK
    else:
        argv = c.nightly_backup(rep, label, full=True) if full else c.nightly_backup(rep, label)
        cwd = ds_root
    r = measure(argv, cwd, c.env, tag, stdin_path=stdin, stdout_path=jpath)
    r.update(contender=c.name, case=case, step=step, rep=rep)
    if r["rc"] == 0:
        r["written"] = c.repo_bytes(rep) - before
        if jpath:
            try:
                with open(jpath) as f:
                    j = json.load(f)
                r["bkp"] = {k: j.get(k) for k in ("id", "stored", "new_bytes", "read_bytes",
                                                  "reused", "chain", "files", "bytes", "base")}
            except (OSError, ValueError) as e:
                r["rc"] = -1002
                r["error"] = "no JSON from bkp backup --json: %s" % e
    if r["rc"] != 0:
        r.setdefault("error", "rc %d: %s" % (r["rc"], tail(r["log"], 3).strip()))
        log("  ! %s failed: %s" % (tag, r["error"]))
    else:
        b = r.get("bkp") or {}
        # a nightly run of bkp that is not an incremental one is worth a word
        if b and case in NIGHTLY_TARGET_CASES and not b.get("chain"):
            r["not_incremental"] = True
            log("  ! %s: bkp made a full backup (chain %s), not an incremental one; see %s" % (
                tag, b.get("chain"), r["log"]))
        log("  %-10s %-9s rep %d: %7.2f s wall, %7.2f s cpu, %6.1f MiB rss, %9.2f MiB written%s" % (
            c.name, label, rep, r["wall"], r["cpu"], r["rss_kib"] / 1024, r["written"] / MiB,
            "" if not b else "; bkp: stored %.2f MiB, read %.1f MiB, chain %s" % (
                (b.get("stored") or 0) / MiB, (b.get("read_bytes") or 0) / MiB, b.get("chain"))))
    return r


def nightly_restores(c, rep, tip, full, expect, want):
    """Restore the chain's newest archive and the full archive of the same
    tree (order alternating by round); check files and bytes, and the
    changed files' content against the tree."""
    out = []
    pair = [("chain", tip), ("full", full)]
    if rep % 2 == 0:
        pair.reverse()
    for kind, archive in pair:
        tag = "%s-nightly-restore-%s-rep%d" % (c.name, kind, rep)
        target = os.path.join(SCRATCH, "restore-r%d-%s-%s" % (rep, c.name, kind))
        rmtree(target)
        os.makedirs(target)
        r = measure(c.restore_id(rep, archive, target), WORK, c.env, tag)
        r.update(contender=c.name, case="restore-" + kind, step=1, rep=rep, archive=archive)
        if r["rc"] == 0:
            got, files = tree_bytes(target)
            r["restored_bytes"], r["restored_files"] = got, files
            bad = [rel for rel, h in want.items()
                   if not os.path.isfile(os.path.join(target, rel)) or
                   file_sha256(os.path.join(target, rel)) != h]
            if (got, files) != expect:
                r["rc"] = -1000
                r["error"] = "restored %d files / %d bytes, the tree has %d / %d" % (
                    files, got, expect[1], expect[0])
            elif bad:
                r["rc"] = -1003
                r["error"] = "%d of the %d changed files differ from the tree, e.g. %s" % (
                    len(bad), len(want), bad[0])
        if r["rc"] != 0:
            r.setdefault("error", "rc %d: %s" % (r["rc"], tail(r["log"], 3).strip()))
            log("  ! %s failed: %s" % (tag, r["error"]))
            rmtree(target)
        else:
            log("  %-10s restore %-5s rep %d: %7.2f s wall, %7.2f s cpu, %6.1f MiB rss" % (
                c.name, kind, rep, r["wall"], r["cpu"], r["rss_kib"] / 1024))
            if SCRATCH_IMAGE:
                scratch_drop(target)
        out.append(r)
    return out


def takes_nightly(c):
    return c.nightly and (NIGHTLY_S3 or not getattr(c, "s3", None))


def run_nightly(order, rep, ds_root, expect, tc, dump):
    """The nightly cases of round rep (see above); returns their samples.
    The dataset is put back before returning, whatever happens."""
    live = [c for c in order if takes_nightly(c)]
    samples = []
    if not live:
        return samples
    log("round %d, nightly cases: %s" % (rep, " ".join(c.name for c in live)))
    t0 = time.monotonic()

    def each(case, step, stdin=None):
        for c in list(live):
            r = nightly_backup(c, rep, case, step, ds_root, stdin)
            samples.append(r)
            if r["rc"] != 0:
                live.remove(c)
                log("  %s drops out of this round's nightly cases" % c.name)

    try:
        for k in range(1, CHAIN + 1):
            tc.change(0.01, "c%d" % k)
            each("1pct", k)
        want = None
        for c in [x for x in live if isinstance(x, Bkp)]:
            tip = next(((s.get("bkp") or {}).get("id") for s in samples
                        if s["contender"] == c.name and s["case"] == "1pct" and s["step"] == CHAIN
                        and s["rep"] == rep), None)
            r = nightly_backup(c, rep, "full", 1, ds_root, full=True)
            samples.append(r)
            if r["rc"] != 0 or not tip:
                log("  %s: no restore of the chain against a full this round" % c.name)
                continue
            if want is None:
                want = tc.hashes()  # paths as restored: data/...
            samples += nightly_restores(c, rep, tip, r["bkp"]["id"], expect, want)
        each("nochange", 1)
        tc.change(0.10, "t1")
        each("10pct", 1)
        if dump:
            each("dump", 1, stdin=dump)
            each("dump1pct", 1, stdin=dump + ".next")
    finally:
        tc.revert()
    log("round %d, nightly cases took %.0f s in all" % (rep, time.monotonic() - t0))
    return samples


def nightly_summary(samples):
    out = {}
    keys = sorted({(s["contender"], s["case"]) for s in samples})
    for name, case in keys:
        ss = [s for s in samples if s["contender"] == name and s["case"] == case]
        ok = [s for s in ss if s["rc"] == 0]
        if not ok:
            out.setdefault(name, {})[case] = {"ok": False, "n": 0, "failures": len(ss),
                                              "error": ss[0].get("error")}
            continue
        walls = [s["wall"] for s in ok]
        med = statistics.median(walls)
        d = {"ok": True, "n": len(ok), "failures": len(ss) - len(ok),
             "wall_median": med, "wall_min": min(walls), "wall_max": max(walls),
             "spread_pct": 100.0 * (max(walls) - min(walls)) / med if med else 0.0,
             "cpu_median": statistics.median(s["cpu"] for s in ok),
             "rss_mib_max": max(s["rss_kib"] for s in ok) / 1024}
        w = [s["written"] for s in ok if s.get("written") is not None]
        if w:
            d.update(written_median=int(statistics.median(w)), written_min=min(w),
                     written_max=max(w))
        full = sum(1 for s in ok if s.get("not_incremental"))
        if full:
            d["bkp_not_incremental"] = full
        for k in ("stored", "read_bytes", "new_bytes", "reused", "chain"):
            v = [s["bkp"][k] for s in ok if s.get("bkp") and s["bkp"].get(k) is not None]
            if v:
                d["bkp_%s_median" % k] = statistics.median(v)
                d["bkp_%s_max" % k] = max(v)
        out.setdefault(name, {})[case] = d
    return out


def nightly_ratios(samples, results):
    """Wall time ratios a/b (<1: a is faster), median of the pairs of the
    same round and step; bytes written, median a / median b; bkp's restore
    of the chain's newest archive / of the full one, paired by round."""
    ratios = {}

    def pairs(a, b, ca, cb):
        sa = {(s["rep"], s["step"]): s for s in samples
              if s["contender"] == a and s["case"] == ca and s["rc"] == 0}
        sb = {(s["rep"], s["step"] if cb == ca else 1): s for s in samples
              if s["contender"] == b and s["case"] == cb and s["rc"] == 0}
        rs = [sa[k]["wall"] / sb[k]["wall"] for k in sa if k in sb and sb[k]["wall"] > 0]
        if not rs:
            return None
        return {"median": statistics.median(rs), "min": min(rs), "max": max(rs), "n": len(rs)}

    for a, b in (("bkp", "restic"), ("bkp", "borg"), ("bkp-s3", "restic-s3")):
        for case, _ in NIGHTLY_CASES:
            if case == "full":
                continue
            v = pairs(a, b, case, case)
            if v:
                ratios["%s/%s %s wall" % (a, b, case)] = v
            ra = results.get(a, {}).get(case, {})
            rb = results.get(b, {}).get(case, {})
            if ra.get("ok") and rb.get("ok") and "written_median" in ra and \
                    rb.get("written_median"):
                ratios["%s/%s %s written" % (a, b, case)] = {
                    "median": ra["written_median"] / rb["written_median"], "n": 1}
    for name in ("bkp", "bkp-s3"):
        v = pairs(name, name, "restore-chain", "restore-full")
        if v:
            ratios["%s restore chain/full wall" % name] = v
    return ratios


def nightly_targets(ratios):
    def med(key):
        v = ratios.get(key)
        return v["median"] if v else None

    def t(name, value, goal):
        if value is None:
            return {"target": name, "value": None, "goal": goal, "status": "not measured"}
        return {"target": name, "value": value, "goal": goal, "cmp": "<=",
                "status": "met" if value <= goal else "missed"}

    out = [t("nightly, no change: wall time bkp/restic (local)", med("bkp/restic nochange wall"),
             0.5),
           t("nightly, 1% of files: wall time bkp/restic (local)", med("bkp/restic 1pct wall"),
             0.5)]
    labels = dict(NIGHTLY_CASES)
    for case in NIGHTLY_TARGET_CASES:
        out.append(t("nightly, %s: bytes written bkp/restic (local)" % labels[case],
                     med("bkp/restic %s written" % case), 1.0))
    out.append(t("restore of a %d-run chain's newest / of a full archive (bkp, local)" % CHAIN,
                 med("bkp restore chain/full wall"), 1.2))
    return out


def print_nightly(n):
    print("\nnightly cases (docs/BENCH.md, 'Nightly cases'): %d files, %d changed per 1%% run, "
          "%d at 10%%; dump %.1f MiB, %d of %d rows changed in 10 runs" % (
              n["files"], n["changed_1pct"], n["changed_10pct"], n["dump_bytes"] / MiB,
              n["dump_changed"], n["dump_lines"]))
    hdr = "%-14s %-10s %4s %8s %17s %8s %8s %11s %11s %9s %5s" % (
        "case", "contender", "n", "wall s", "[min-max]", "CPU s", "RSS MiB", "written MiB",
        "bkp stored", "bkp read", "chain")
    print(hdr)
    print("-" * len(hdr))
    res = n["results"]
    cases = list(NIGHTLY_CASES) + [("restore-chain", "restore chain"),
                                   ("restore-full", "restore full")]
    for case, label in cases:
        for name in res:
            s = res[name].get(case)
            if s is None:
                continue
            if not s["ok"]:
                print("%-14s %-10s FAILED: %s" % (label, name, (s.get("error") or "")[:80]))
                continue
            mib = lambda k: fmt(s.get(k) / MiB if s.get(k) is not None else None, "%.2f")  # noqa
            print("%-14s %-10s %4d %8.2f %17s %8.2f %8.1f %11s %11s %9s %5s" % (
                label, name, s["n"], s["wall_median"],
                "[%.2f-%.2f]" % (s["wall_min"], s["wall_max"]), s["cpu_median"],
                s["rss_mib_max"], mib("written_median"), mib("bkp_stored_median"),
                fmt(s.get("bkp_read_bytes_median") and s["bkp_read_bytes_median"] / MiB, "%.1f"),
                fmt(s.get("bkp_chain_max"), "%d")))
    odd = ["%s %s: %d" % (name, case, c["bkp_not_incremental"]) for name in res
           for case, c in res[name].items() if c.get("bkp_not_incremental")]
    if odd:
        print("NOT INCREMENTAL: bkp made full backups in nightly runs (%s); see the logs" %
              ", ".join(odd))
    print("\nwritten = repository growth over the run; bkp stored/read = its --json \"stored\" "
          "and \"read_bytes\" (MiB); medians over rounds (1%%: over the %d runs of each "
          "round too)" % CHAIN)
    print("\nnightly ratios (wall time and bytes written, a/b: <1 means bkp is faster or "
          "writes less):")
    for k, v in n["ratios"].items():
        if "min" in v:
            print("  %-36s %6.2f   [%.2f-%.2f over %d pairs]" % (k, v["median"], v["min"], v["max"],
                                                               v["n"]))
        else:
            print("  %-36s %6.2f   (ratio of the medians)" % (k, v["median"]))


# --- memory scaling ---------------------------------------------------------

def bkp_cycle(env, key, parent, what, label, expect):
    """Init, back up `what` (relative to parent), restore, verify with bkp:
    one run each; returns {phase: sample}."""
    repo = os.path.join(WORK, "bkp-scale")
    target = os.path.join(SCRATCH, "bench-restore-scale")
    rmtree(repo)
    rmtree(target)
    out = {}
    if not quiet([BKP, "init", "-r", repo, "--recipient", key + ".pub"], WORK, env,
                 "scale-init"):
        return out
    cmds = [("backup", [BKP, "backup", "-r", repo, "--name", "scale", "--level", "3", "-q", what],
             parent),
            ("restore", [BKP, "restore", "-r", repo, "-k", key, "latest", "--target", target],
             WORK),
            ("verify", [BKP, "verify", "-r", repo, "-k", key, "--all"], WORK)]
    for phase, argv, cwd in cmds:
        if phase == "restore":
            os.makedirs(target)
        r = measure(argv, cwd, env, "scale-%s-%s" % (label, phase))
        if phase == "backup" and r["rc"] == 0:
            r["stored"] = tree_bytes(repo)[0]
        if phase == "restore":
            r["restored_bytes"], r["restored_files"] = tree_bytes(target)
            scratch_drop(target) if SCRATCH_IMAGE else rmtree(target)
            if r["rc"] == 0 and (r["restored_bytes"], r["restored_files"]) != expect:
                r["rc"] = -1000
                r["error"] = "restored %d files / %d bytes, input has %d / %d" % (
                    r["restored_files"], r["restored_bytes"], expect[1], expect[0])
        out[phase] = r
        log("  %-12s %-7s %7.2f s wall, %6.1f MiB rss%s" % (
            label, phase, r["wall"], r["rss_kib"] / 1024,
            "" if r["rc"] == 0 else "  FAILED: %s" % r.get("error", "rc %d" % r["rc"])))
        if r["rc"] != 0:
            break
    rmtree(repo)
    return out


def memory_scaling(env, key, ds_root, in_bytes, results):
    log("memory scaling: bkp peak RSS at 1x, 4x and one %.1f GiB file" % (BIGFILE / (1 << 30)))
    rows = []
    # 1x: the interleaved runs above already measured it
    b = results.get("bkp", {})
    if b:
        rows.append({"label": "1x", "bytes": in_bytes,
                     **{ph: (b[ph]["rss_mib_max"] if b.get(ph, {}).get("ok") else None)
                        for ph in ("backup", "restore", "verify")}})
    if QUICK:
        log("  BENCH_QUICK=1: 4x dataset and big file skipped")
        return rows
    big_root = os.path.join(OUT, "dataset-4x-%s-%d" % (SIZE_STR, SEED))
    os.makedirs(big_root, exist_ok=True)
    try:
        gen_dataset.gen_tree(os.path.join(big_root, "data"), 4 * SIZE, SEED + 4)
    except Exception as e:  # noqa: BLE001
        log("  cannot generate the 4x dataset (%s: %s): memory scaling stops" % (
            type(e).__name__, e))
        return rows
    subprocess.run("tar -cf - data > /dev/null", shell=True, cwd=big_root)  # warm-up
    b4, f4 = tree_bytes(os.path.join(big_root, "data"))
    r = bkp_cycle(env, key, big_root, "data", "4x", (b4, f4))
    if not KEEP:
        rmtree(big_root)
    rows.append({"label": "4x", "bytes": b4,
                 **{ph: (r[ph]["rss_kib"] / 1024 if ph in r and r[ph]["rc"] == 0 else None)
                    for ph in ("backup", "restore", "verify")},
                 "walls": {ph: r[ph]["wall"] for ph in r}})
    bf_root = os.path.join(OUT, "bigfile")
    os.makedirs(bf_root, exist_ok=True)
    name = "big-%d.bin" % BIGFILE
    gen_dataset.gen_bigfile(os.path.join(bf_root, name), BIGFILE, SEED + 8)
    subprocess.run(["cat", name], cwd=bf_root, stdout=subprocess.DEVNULL)  # warm-up
    r = bkp_cycle(env, key, bf_root, name, "bigfile", (BIGFILE, 1))
    if not KEEP:
        rmtree(bf_root)
    rows.append({"label": "1 file %.1f GiB" % (BIGFILE / (1 << 30)), "bytes": BIGFILE,
                 **{ph: (r[ph]["rss_kib"] / 1024 if ph in r and r[ph]["rc"] == 0 else None)
                    for ph in ("backup", "restore", "verify")},
                 "walls": {ph: r[ph]["wall"] for ph in r}})
    return rows


# --- targets and report -------------------------------------------------------

def evaluate_targets(ratios, results, scale):
    def med(key):
        v = ratios.get(key)
        return v["median"] if v else None

    def t(name, value, goal, cmp):
        if value is None:
            return {"target": name, "value": None, "goal": goal, "status": "not measured"}
        met = value >= goal if cmp == ">=" else value <= goal
        return {"target": name, "value": value, "goal": goal, "cmp": cmp,
                "status": "met" if met else "missed"}

    out = [t("backup throughput bkp/limit (local)", med("bkp/limit backup"), 0.9, ">="),
           t("backup throughput bkp/restic (local)", med("bkp/restic backup"), 2.0, ">="),
           t("restore throughput bkp/restic (local)", med("bkp/restic restore"), 2.0, ">="),
           t("full verify throughput bkp/restic check --read-data (local)",
             med("bkp/restic verify"), 2.0, ">=")]
    peaks = []
    for name in ("bkp", "bkp-s3"):
        for ph, s in results.get(name, {}).items():
            if s.get("ok"):
                peaks.append(s["rss_mib_max"])
    for row in scale:
        peaks += [row[ph] for ph in ("backup", "restore", "verify") if row.get(ph) is not None]
    out.append(t("bkp peak RSS MiB, backup/restore/verify, all sizes measured",
                 max(peaks) if peaks else None, 128.0, "<="))
    return out


def fmt(v, f="%.2f"):
    return "-" if v is None else f % v


def print_report(doc):
    ds = doc["dataset"]
    print()
    print("bkp bench  %s  dataset %.1f MiB (%d files, seed %d)  %d reps interleaved  %d CPUs" % (
        doc["started_utc"][:19], ds["bytes"] / MiB, ds["files"], doc["config"]["seed"],
        doc["config"]["reps"], doc["machine"]["cpus"]))
    print("cache: %s" % doc["cache"])
    kept = doc["config"].get("restores_kept_until_end_of", "run")
    print("restores: each into a fresh directory%s, %s (docs/BENCH.md, 'Restore scratch')" % (
        " on a fresh journaled ext4 image" if kept == "each" else "",
        "removed once measured" if kept == "each" else "kept until the end of the " + kept))
    print("%s" % doc["s3"])
    if doc["bkp_skipped"]:
        print("bkp SKIPPED: %s" % doc["bkp_skipped"])
    print()
    hdr = "%-8s %-10s %9s %17s %7s %8s %9s %9s %10s" % (
        "phase", "contender", "wall s", "[min-max]", "spread", "MB/s", "CPU s", "RSS MiB",
        "stored MiB")
    print(hdr)
    print("-" * len(hdr))
    for phase in ("backup", "restore", "verify"):
        for name, res in doc["results"].items():
            s = res.get(phase)
            if s is None:
                continue
            if not s["ok"]:
                print("%-8s %-10s FAILED: %s" % (phase, name, (s.get("error") or "")[:80]))
                continue
            print("%-8s %-10s %9.2f %17s %6.0f%% %8.1f %9.2f %9.1f %10s" % (
                phase, name, s["wall_median"], "[%.2f-%.2f]" % (s["wall_min"], s["wall_max"]),
                s["spread_pct"], s["mbps_median"], s["cpu_median"], s["rss_mib_max"],
                fmt(s.get("stored_bytes") and s["stored_bytes"] / MiB, "%.1f")))
    print("\nMB/s = dataset bytes / 1e6 / median wall; RSS = largest over the reps")
    print("\nratios (throughput, median of per-round pairs; >1 means bkp is faster):")
    for k, v in doc["ratios"].items():
        print("  %-28s %6.2f   [%.2f-%.2f over %d rounds]" % (k, v["median"], v["min"], v["max"],
                                                           v["n"]))
    if doc["memory_scaling"]:
        print("\nmemory scaling, bkp peak RSS MiB:")
        print("  %-18s %10s %9s %9s %9s   %s" % ("input", "MiB", "backup", "restore", "verify",
                                                 "MB/s backup/restore/verify"))
        for row in doc["memory_scaling"]:
            w = row.get("walls") or {}
            mbps = "/".join("%.0f" % (row["bytes"] / MB / w[ph]) if w.get(ph) else "-"
                            for ph in ("backup", "restore", "verify"))
            print("  %-18s %10.1f %9s %9s %9s   %s" % (
                row["label"], row["bytes"] / MiB, fmt(row.get("backup"), "%.1f"),
                fmt(row.get("restore"), "%.1f"), fmt(row.get("verify"), "%.1f"),
                mbps if w else "(see table above)"))
    if doc.get("nightly", {}).get("results"):
        print_nightly(doc["nightly"])
    print("\ntargets (issue 6; nightly cases):")
    for t in doc["targets"]:
        v = "-" if t["value"] is None else "%.2f" % t["value"]
        print("  [%-12s] %-62s %8s (goal %s %.2f)" % (
            t["status"], t["target"], v, t.get("cmp", ""), t["goal"]))


if __name__ == "__main__":
    sys.exit(main())
