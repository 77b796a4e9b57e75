# shellcheck shell=bash
# Helpers for forged-archive tests (t_forged.sh, t_corpus.sh): sourced by
# those files, never run on its own (its name does not start with t_, so
# run.sh does not take it for a test file).  Archives are forged by
# tests/tools/forge.c (bkp-forge) from a tar stream and manifest "file"
# lines, with only the repository's public keys.

# forge_bin: the path of bkp-forge (next to $BKP), or fail.
forge_bin() {
	FORGE=$(dirname "$BKP")/tests/bkp-forge
	[ -x "$FORGE" ] || fail "bkp-forge not found at '$FORGE' (build it: make unit-bins, or make SAN=1 unit-bins)"
}

# mk_tar TAR MF: write a PAX tar and its manifest "file" lines from the spec
# on stdin, one entry a line, fields separated by '|':
#   file|NAME|CONTENT   dir|NAME   symlink|NAME|TARGET
#   hardlink|NAME|TARGET[|DATA]   (DATA: a hard link entry carrying data,
#                                  given a pax header so readers honour it)
# Names are stored verbatim (no stripping of '/' or '..').  o and e are the
# stream offsets before and after the entry (its pax header included).
mk_tar() {
	local spec
	spec=$(cat)
	/usr/bin/python3 - "$1" "$2" "$spec" <<'EOF' || fail "mk_tar: python failed"
import hashlib, io, json, os, sys, tarfile
from bkpt_hash import digest
tarp, mfp, spec = sys.argv[1:4]
alg = os.environ.get("FORGE_HASH", "blake3")
out = open(tarp, "wb")
t = tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT)
recs, link_data = [], False
for line in spec.splitlines():
    if not line.strip():
        continue
    f = line.split("|")
    kind, name, arg = f[0], f[1], (f[2] if len(f) > 2 else "")
    ti = tarfile.TarInfo(name)
    ti.mtime, ti.uid, ti.gid = 1700000000, 0, 0
    data = b""
    if kind == "file":
        ti.type, ti.mode, data = tarfile.REGTYPE, 0o644, arg.encode()
    elif kind == "bigfile":
        # ARG bytes of a fixed pattern: large enough to be streamed
        kind = "file"
        ti.type, ti.mode = tarfile.REGTYPE, 0o644
        data = (hashlib.sha256(name.encode()).digest() * (int(arg) // 32 + 1))[:int(arg)]
    elif kind == "dir":
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755
    elif kind == "symlink":
        ti.type, ti.mode, ti.linkname = tarfile.SYMTYPE, 0o777, arg
    elif kind == "hardlink":
        ti.type, ti.mode, ti.linkname = tarfile.LNKTYPE, 0o644, arg
        data = f[3].encode() if len(f) > 3 else b""
        link_data = link_data or bool(data)
        if data:
            # libarchive honours a hard link's data only in pax entries
            ti.pax_headers = {"comment": "hard link with data"}
    else:
        sys.exit("mk_tar: unknown kind %r" % kind)
    ti.size = len(data)
    o = t.offset
    t.addfile(ti, io.BytesIO(data) if data else None)
    e = t.offset
    # tarfile stores directory names with a trailing '/', as libarchive's
    # pax writer does (and bkp backup records).
    path = name + "/" if kind == "dir" and not name.endswith("/") else name
    r = {"t": "file", "path": path,
         "type": {"file": "file", "dir": "dir", "symlink": "symlink",
                  "hardlink": "hardlink"}[kind],
         "mode": ti.mode, "uid": 0, "gid": 0, "mtime": ti.mtime,
         "size": len(data) if kind == "file" else 0, "o": o, "e": e}
    if kind == "file":
        r[alg] = digest(alg, data)
    if kind in ("symlink", "hardlink"):
        r["link"] = arg
    recs.append(r)
t.close()
out.close()
# Cross-check o with TarInfo.offset (start of the member's headers, pax
# header included) as a reader sees it.  tarfile's reader skips no data
# after a hard link entry, so not when a hard link carries data.
if not link_data:
    with tarfile.open(tarp, "r") as rt:
        offs = [m.offset for m in rt.getmembers()]
    if not recs or offs != [r["o"] for r in recs]:
        sys.exit("mk_tar: offsets %r differ from the reader's %r" %
                 ([r["o"] for r in recs], offs))
with open(mfp, "w") as m:
    for r in recs:
        m.write(json.dumps(r, separators=(",", ":")) + "\n")
EOF
}

# mf_edit MF PYTHON: run PYTHON on every record r of the manifest lines MF
# (H is the name of the hash member).
mf_edit() {
	/usr/bin/python3 - "$1" "$2" <<'EOF' || fail "mf_edit: python failed"
import json, os, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
for r in recs:
    exec(sys.argv[2], {"r": r, "H": os.environ.get("FORGE_HASH", "blake3")})
with open(sys.argv[1], "w") as m:
    for r in recs:
        m.write(json.dumps(r, separators=(",", ":")) + "\n")
EOF
}

# forge NAME: forge an archive in $REPO from the spec on stdin; sets ID.
forge() {
	local name=$1
	mkdir -p "$T/work"
	mk_tar "$T/work/$name.tar" "$T/work/$name.mf"
	forge_archive "$name"
}

# forge_archive NAME: forge from $T/work/NAME.tar and NAME.mf; sets ID.
# The format is 2, 1 with FORGE_HASH=blake2b, or FORGE_FORMAT; the
# dataset is NAME, or FORGE_DATASET.
forge_archive() {
	local name=$1
	local format=${FORGE_FORMAT:-2}
	[ "${FORGE_HASH:-blake3}" = blake2b ] && format=1
	ID=$(BKP_FORGE_FORMAT=$format "$FORGE" "$REPO" "${FORGE_DATASET:-$name}" "$T/work/$name.tar" "$T/work/$name.mf" 2>"$T/work/$name.err") ||
		fail "bkp-forge failed for '$name': $(cat "$T/work/$name.err")"
	[[ $ID =~ ^[0-9a-f]{32}$ ]] || fail "bkp-forge printed '$ID', not an archive id"
	note "forged archive $ID ('$name')"
}

# arena: a repository, a canary outside the target, a sibling directory
# and the (empty) parent of the target rt/target.
arena() {
	forge_bin
	new_repo --chunk-size 4096
	mkdir -p "$T/outside/sub" "$T/sibling" "$T/rt" "$T/work"
	printf 'canary\n' >"$T/outside/canary"
	printf 'sibling\n' >"$T/sibling/keep"
	printf 'outside file\n' >"$T/outside-file"
	chmod 0755 "$T/outside" "$T/outside/sub"
	touch -d '2001-01-01 00:00:00 UTC' "$T/outside/canary" "$T/outside/sub" "$T/outside" "$T/sibling"
}

# meta_snapshot OUT: like outside_snapshot, stricter: mode, link count,
# owner, size and mtime of everything under $T outside the target,
# directories included (but not $T and rt themselves, whose mtimes change
# when the target is created).  meta_unchanged BEFORE: fail on a change.
meta_snapshot() {
	(cd "$T" && find . \( -path ./.harness -o -path ./state -o -path ./home -o -path './repo*' \
		-o -path ./work -o -path ./rt/target -o -path ./rt/target2 \) -prune -o \
		-printf '%p %y %m %n %U:%G %s %T@ %l\n' | grep -avE '^\.(/rt)? d ' | LC_ALL=C sort) >"$1"
}
meta_unchanged() {
	local now d
	now=$(mktemp "$BKPT_DIR/meta.XXXXXX")
	meta_snapshot "$now"
	if ! d=$(diff "$1" "$now"); then
		printf '%s\n' "$d" | head -n 20 >&2
		fail "metadata outside the target changed: $(printf '%s' "$d" | grep -a '^[<>]' | head -n 4 | tr '\n' ' ')"
	fi
	rm -f "$now"
}

# expect_named NAME: a "bkp: ..." line on stderr of the last run names NAME.
expect_named() {
	grep -aE '^bkp( [a-z]+)?: ' "$BKPT_DIR/stderr" | grep -aqF -- "'$1'" ||
		fail "no 'bkp: ...' line naming '$1' on stderr of: bkp ${LAST_ARGS:-?}"
}

# canary_intact: the files outside are as arena made them.
canary_intact() {
	[ "$(cat "$T/outside/canary")" = canary ] || fail "the canary outside the target was changed"
	[ "$(cat "$T/sibling/keep")" = sibling ] || fail "the sibling directory's file was changed"
	[ "$(cat "$T/outside-file")" = 'outside file' ] || fail "\$T/outside-file was changed"
	[ "$(stat -c %h "$T/outside-file")" = 1 ] || fail "\$T/outside-file gained a hard link"
	[ "$(stat -c %h "$T/outside/canary")" = 1 ] || fail "the canary gained a hard link"
}

# hostile_restore ID NAME...: restore ID into rt/target; it must fail,
# name every NAME on stderr, and change nothing outside the target.
hostile_restore() {
	local id=$1 n
	shift
	outside_snapshot "$BKPT_DIR/before" rt/target
	meta_snapshot "$BKPT_DIR/meta-before"
	run_bkp restore -r "$REPO" -k "$KEY" "$id" --target rt/target
	outside_unchanged "$BKPT_DIR/before" rt/target
	meta_unchanged "$BKPT_DIR/meta-before"
	canary_intact
	expect_error_line '.' "restore of a hostile archive"
	for n in "$@"; do
		expect_named "$n"
	done
}

# verify_writes_nothing ID: bkp verify -k changes nothing anywhere under
# $T (it checks integrity, not path safety: its verdict is only noted).
verify_writes_nothing() {
	outside_snapshot "$BKPT_DIR/vbefore" nonexistent-target
	meta_snapshot "$BKPT_DIR/vmeta-before"
	run_bkp verify -r "$REPO" -k "$KEY" "$1"
	outside_unchanged "$BKPT_DIR/vbefore" nonexistent-target
	meta_unchanged "$BKPT_DIR/vmeta-before"
	canary_intact
	note "verify -k of hostile archive $1 exited $(_rc): $(head -c 300 "$BKPT_DIR/stderr" | tr '\n' ' ')"
}
