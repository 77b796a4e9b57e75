#!/usr/bin/env python3
"""Exact tree comparison for the integration tests (t_chain*.sh).

    python3 tree_ns.py A B        exit 0 if trees A and B are equal, else
                                  print the differences (at most 40) and
                                  exit 1
    python3 tree_ns.py --list A   print one line per entry of A (what is
                                  compared), for notes and debugging

Compared per path (relative to the root; the roots themselves too unless
--ignore-root): file type; permission bits (not for symlinks); uid and gid;
mtime to the nanosecond (symlinks too; --symlink-mtime-s compares symlinks'
mtimes to the second only, --no-symlink-mtime not at all); size and BLAKE2b
of the content of regular files; symlink targets; device numbers of device
nodes; user.* extended attributes (names and values).  Hard links: the
groups of paths sharing an inode must be the same in A and B.  Access
times and ctimes are not compared (a restore cannot set a ctime).
"""

import hashlib
import os
import stat
import sys


def walk(root):
    out = {b".": os.lstat(root)}
    for dp, dns, fns in os.walk(root):
        for n in dns + fns:
            p = os.path.join(dp, n)
            out[os.path.relpath(p, root)] = os.lstat(p)
    return out


def xattrs(p):
    try:
        names = os.listxattr(p, follow_symlinks=False)
    except OSError:
        return {}
    return {n: os.getxattr(p, n, follow_symlinks=False)
            for n in sorted(names) if n.startswith("user.")}


def content(p):
    h = hashlib.blake2b(digest_size=16)
    with open(p, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def show(p):
    return p.decode("utf-8", "backslashreplace")


def kind(m):
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISFIFO, "fifo"), (stat.S_ISCHR, "chr"), (stat.S_ISBLK, "blk"),
                       (stat.S_ISSOCK, "sock")):
        if test(m):
            return name
    return "?"


def describe(root, p, s, symlink_mtime):
    """The compared attributes of one entry, as a dict."""
    full = os.path.join(root, p)
    d = {"type": kind(s.st_mode), "uid": s.st_uid, "gid": s.st_gid}
    if stat.S_ISLNK(s.st_mode):
        d["target"] = os.readlink(full)
        if symlink_mtime == "ns":
            d["mtime_ns"] = s.st_mtime_ns
        elif symlink_mtime == "s":
            d["mtime_s"] = s.st_mtime_ns // 10**9
    else:
        d["mode"] = "%04o" % stat.S_IMODE(s.st_mode)
        d["mtime_ns"] = s.st_mtime_ns
    if stat.S_ISREG(s.st_mode):
        d["size"] = s.st_size
        d["content"] = content(full)
    if stat.S_ISCHR(s.st_mode) or stat.S_ISBLK(s.st_mode):
        d["rdev"] = (os.major(s.st_rdev), os.minor(s.st_rdev))
    x = xattrs(full)
    if x:
        d["xattrs"] = x
    return d


def groups(t):
    by = {}
    for p, s in t.items():
        if not stat.S_ISDIR(s.st_mode) and s.st_nlink > 1:
            by.setdefault((s.st_dev, s.st_ino), []).append(p)
    return sorted(sorted(g) for g in by.values() if len(g) > 1)


def main(argv):
    opts = [a for a in argv if a.startswith("--")]
    args = [os.fsencode(a) for a in argv if not a.startswith("--")]
    symlink_mtime = "ns"
    if "--symlink-mtime-s" in opts:
        symlink_mtime = "s"
    if "--no-symlink-mtime" in opts:
        symlink_mtime = None
    if "--list" in opts:
        root = args[0]
        t = walk(root)
        for p in sorted(t):
            d = describe(root, p, t[p], symlink_mtime)
            print(show(p), " ".join("%s=%s" % (k, d[k]) for k in sorted(d)))
        for g in groups(t):
            print("hardlinks:", " ".join(show(x) for x in g))
        return 0
    a, b = args[0], args[1]
    ta, tb = walk(a), walk(b)
    errs = []
    for p in sorted(set(ta) | set(tb)):
        if p not in tb:
            errs.append("only in %s: %s" % (show(a), show(p)))
            continue
        if p not in ta:
            errs.append("only in %s: %s" % (show(b), show(p)))
            continue
        if p == b"." and "--ignore-root" in opts:
            continue
        da = describe(a, p, ta[p], symlink_mtime)
        db = describe(b, p, tb[p], symlink_mtime)
        for k in sorted(set(da) | set(db)):
            if da.get(k) != db.get(k):
                errs.append("%s: %s: %r vs %r" % (show(p), k, da.get(k), db.get(k)))
    ga, gb = groups(ta), groups(tb)
    if ga != gb:
        errs.append("hard-link groups differ: %s vs %s" % (
            [[show(x) for x in g] for g in ga], [[show(x) for x in g] for g in gb]))
    for e in errs[:40]:
        print(e)
    if len(errs) > 40:
        print("... and %d more differences" % (len(errs) - 40))
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
