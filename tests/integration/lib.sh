# shellcheck shell=bash
# Integration-test harness library for bkp.  Sourced by run.sh (and by every
# tests/integration/t_*.sh through it); not run on its own.
#
# HARNESS CONTRACT (other test files rely on it; keep it stable)
#
#   BKP=/abs/path/to/bkp tests/integration/run.sh [PATTERN]
#
#   run.sh sources this file and each tests/integration/t_*.sh (each file in a
#   subshell of its own), and runs every shell function named test_* that
#   the file defines, in the order they appear in the file; with PATTERN,
#   only tests whose name matches PATTERN (a bash extended regex, e.g.
#   'stdin|cipher') run.  Per file, an optional `setup_file` runs once before
#   its tests and `teardown_file` once after them (always, even if tests
#   failed); both run in the file's subshell with cwd = a per-file scratch
#   directory $FILE_TMP.  Variables setup_file sets are seen by the tests
#   (each test is a forked subshell of the file's shell).  If setup_file
#   fails (non-zero), every test of that file is reported as FAIL.
#
#   Each test runs in a fresh scratch directory (mktemp -d under
#   ${TMPDIR:-/tmp}) which is its cwd and is exported as $T, with
#     HOME=$T/home  BKP_STATE_DIR=$T/state  BKP_PASSPHRASE=<test passphrase>
#   (also in $PASS), BKP_REPOSITORY / BKP_KEY_FILE / BKP_PASSPHRASE_FILE unset,
#   stdin from /dev/null (no TTY: setsid, so no controlling terminal either),
#   in its own process group, killed after $BKP_TEST_TIMEOUT seconds (default
#   300; a file may set TEST_TIMEOUT=N for its tests).  BKP_SUITE=san is set
#   (by the caller) when $BKP is the sanitizer build; tests may shrink sizes
#   then.  $BKPT_DIR (= $T/.harness) holds harness files; leave it alone.
#
#   A test passes if it returns 0 without calling `fail`.  run.sh prints one
#   line per test, "ok   NAME (1.2s)" or "FAIL NAME (1.2s)", and after a
#   failure the reason and the last lines of the test's output (indented).
#   Scratch directories of passing tests are removed; failing ones are kept
#   (their path is printed).  The last line is exactly "N passed, N failed";
#   the exit status is non-zero if any test failed.
#
#   Sanitizers: ASAN_OPTIONS/UBSAN_OPTIONS get exitcode=86 / 87 and a
#   log_path under $BKPT_DIR/san; any report written there, or any
#   "ERROR: AddressSanitizer" / "runtime error:" / "ERROR: LeakSanitizer" in
#   a captured stderr, fails the test, also for bkp processes a test starts
#   without run_bkp.
#
# HELPERS
#   run_bkp ARGS...        run "$BKP" ARGS; stdin is inherited (so
#                          `run_bkp backup ... - <file` works; in a pipeline
#                          the variables below are lost, the files are not:
#                          the expect_* helpers read the files).  Sets
#                          RC, OUT, ERR; files $BKPT_DIR/{rc,stdout,stderr}.
#                          Never fails by itself (except on a sanitizer
#                          report).
#   run_bkp_as USER ARGS.. the same, as an unprivileged USER (setpriv).
#   expect_exit N          the last run_bkp exited N
#   expect_fail            the last run_bkp exited non-zero
#   expect_stdout_match RE / expect_stderr_match RE   (grep -aE on the files)
#   expect_stderr_nomatch RE / expect_stdout_nomatch RE
#   expect_error_line RE   non-zero exit and a stderr line "bkp: ..." matching RE
#   expect_one_line_error RE   the same, and nothing else on stderr
#   re_quote STRING        STRING escaped for use as a literal regex
#   fail MSG               fail the test now, with MSG as the reason
#   note MSG               add a line to the test's output (shown on failure)
#   make_dataset DIR       a sample tree: nested dirs, text, binary, empty
#                          file, empty dir, relative symlink, hardlinks,
#                          non-UTF-8 name, odd characters, modes 0600/0755/
#                          0640/0700/0444, old mtimes, user xattrs and POSIX
#                          ACLs (if the file system has them)
#   tree_equal [--ignore-root] A B
#                          content (diff -r --no-dereference) and metadata:
#                          type, mode, mtime (seconds; not for symlinks),
#                          symlink targets, hardlink groups, user xattrs
#                          and POSIX ACLs;
#                          fails the test on a difference.  --ignore-root:
#                          not the metadata of A and B themselves
#   new_repo [INIT ARGS]   keygen $T/key (+ .pub) and init $T/repo with it as
#                          recipient; exports REPO, KEY, KEYPUB
#   backup_id NAME ARGS..  run `bkp backup -r $REPO --name NAME ARGS`, expect
#                          exit 0 and a 32-hex id; sets ID
#   record_json ID         path of archives/<ID>.json in $REPO
#   record_get ID EXPR     a field of the record (python expression on `r`,
#                          e.g. "r['data']['key']")
#   data_frames FILE N     print "offset length" of each framed chunk (4-byte
#                          LE length + sealed bytes) of data object FILE that
#                          has N chunks (the header length is found by
#                          walking the framing)
#   flip_byte FILE OFFSET  xor the byte at OFFSET (negative: from the end)
#   record_rehash ID       rewrite the record so data/manifest "size" and
#                          hash match the objects now stored (simulates
#                          an attacker with write access to the repository)
#   snapshot_tree DIR OUT  list every path under DIR (NUL-safe) into OUT
#   outside_snapshot OUT TARGET / outside_unchanged OUT TARGET
#                          fail if anything under $T outside TARGET (other
#                          than the harness dir, state, home and $T/repo*)
#                          changed between the two calls
#   json_valid FILE        FILE parses as JSON (python3)
#   sparse_ok FILE         FILE occupies much less disk than its size
#   sparse_cmp A B         A and B are equal, reading only data extents
# ---------------------------------------------------------------------------

PASS_DEFAULT='correct horse battery staple 7f3a'

fail() {
	printf '%s\n' "$*" >>"$BKPT_DIR/reason"
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

note() { printf '# %s\n' "$*" >&2; }

# san_check FILE: fail if FILE (a captured stderr) or the sanitizer log
# directory holds a sanitizer report.
san_check() {
	local f
	if [ -n "${1:-}" ] && grep -aqE 'ERROR: (Address|Leak)Sanitizer|runtime error:|ERROR: ThreadSanitizer' "$1" 2>/dev/null; then
		grep -aE -m 5 -A 12 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1" >&2
		fail "sanitizer report in stderr of: bkp ${LAST_ARGS:-}"
	fi
	for f in "$BKPT_DIR"/san/*; do
		[ -s "$f" ] || continue
		head -n 40 "$f" >&2
		fail "sanitizer report ($f) after: bkp ${LAST_ARGS:-}"
	done
	return 0
}

_run_bkp_finish() {
	RC=$1
	printf '%s\n' "$RC" >"$BKPT_DIR/rc"
	printf '%s\n' "$LAST_ARGS" >"$BKPT_DIR/args"
	OUT=$(cat "$BKPT_DIR/stdout")
	ERR=$(cat "$BKPT_DIR/stderr")
	{
		printf '$ bkp %s  -> exit %s\n' "$LAST_ARGS" "$RC"
		sed -n '1,20{s/^/  out| /;p}' "$BKPT_DIR/stdout"
		sed -n '1,20{s/^/  err| /;p}' "$BKPT_DIR/stderr"
	} >&2
	cat "$BKPT_DIR/stdout" >>"$BKPT_DIR/all_output"
	cat "$BKPT_DIR/stderr" >>"$BKPT_DIR/all_output"
	san_check "$BKPT_DIR/stderr"
	return 0
}

run_bkp() {
	LAST_ARGS="$*"
	"$BKP" "$@" >"$BKPT_DIR/stdout" 2>"$BKPT_DIR/stderr"
	_run_bkp_finish $?
}

# run_bkp_as USER ARGS...: as run_bkp, as the unprivileged USER (its group
# is USER's primary group; no supplementary groups).  Capture files are
# written by the harness (root), not by USER.
run_bkp_as() {
	local user=$1 group
	shift
	group=$(id -gn "$user")
	LAST_ARGS="(as $user) $*"
	setpriv --reuid="$user" --regid="$group" --clear-groups \
		"$BKP" "$@" >"$BKPT_DIR/stdout" 2>"$BKPT_DIR/stderr"
	_run_bkp_finish $?
}

_rc() { cat "$BKPT_DIR/rc" 2>/dev/null || echo none; }
# _args: the arguments of the last run_bkp (also from a subshell).
_args() { cat "$BKPT_DIR/args" 2>/dev/null || echo '?'; }

expect_exit() {
	local rc
	rc=$(_rc)
	[ "$rc" = "$1" ] || fail "expected exit $1, got $rc from: bkp $(_args)${2:+ ($2)}"
}

expect_fail() {
	local rc
	rc=$(_rc)
	[ "$rc" != 0 ] && [ "$rc" != none ] || fail "expected a non-zero exit, got $rc from: bkp $(_args)${1:+ ($1)}"
}

expect_stdout_match() {
	grep -aqE -- "$1" "$BKPT_DIR/stdout" || fail "stdout of 'bkp $(_args)' does not match /$1/"
}
expect_stderr_match() {
	grep -aqE -- "$1" "$BKPT_DIR/stderr" || fail "stderr of 'bkp $(_args)' does not match /$1/"
}
expect_stdout_nomatch() {
	! grep -aqE -- "$1" "$BKPT_DIR/stdout" || fail "stdout of 'bkp $(_args)' unexpectedly matches /$1/"
}
expect_stderr_nomatch() {
	! grep -aqE -- "$1" "$BKPT_DIR/stderr" || fail "stderr of 'bkp $(_args)' unexpectedly matches /$1/"
}

# expect_error_line RE: a refusal "with a clear error": non-zero exit and a
# line of the form "bkp: ..." (or "bkp COMMAND: ...") on stderr that matches
# RE (case-insensitive).
expect_error_line() {
	expect_fail "${2:-}"
	grep -aE '^bkp( [a-z]+)?: ' "$BKPT_DIR/stderr" | grep -aqiE -- "$1" ||
		fail "no 'bkp: ...' error line matching /$1/ on stderr of: bkp $(_args)"
}

# re_quote STRING: STRING as an extended regex matching it literally.
re_quote() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|]/\\&/g'; }

# expect_one_line_error RE: as expect_error_line, and stderr is that one line.
expect_one_line_error() {
	expect_error_line "$@"
	[ "$(wc -l <"$BKPT_DIR/stderr")" -eq 1 ] ||
		fail "stderr of 'bkp $(_args)' is $(wc -l <"$BKPT_DIR/stderr") lines, expected one error line"
}

new_repo() {
	KEY=$T/key
	KEYPUB=$T/key.pub
	REPO=$T/repo
	export KEY KEYPUB REPO
	run_bkp keygen "$KEY"
	expect_exit 0 "keygen"
	[ -f "$KEYPUB" ] || fail "keygen did not write $KEYPUB"
	run_bkp init -r "$REPO" --recipient "$KEYPUB" "$@"
	expect_exit 0 "init"
	[ -f "$REPO/config" ] || fail "init did not write $REPO/config"
}

# backup_id NAME ARGS...: a backup that must succeed; sets ID.
backup_id() {
	local name=$1
	shift
	run_bkp backup -r "$REPO" --name "$name" "$@"
	expect_exit 0 "backup --name $name"
	ID=$(head -n 1 "$BKPT_DIR/stdout")
	[[ $ID =~ ^[0-9a-f]{32}$ ]] || fail "backup printed '$ID', not a 32-hex-char archive id"
	case $REPO in
	s3://*) ;;    # the S3 tests check objects through awscli
	*) [ -f "$REPO/archives/$ID.json" ] || fail "no record archives/$ID.json after backup" ;;
	esac
}

record_json() { printf '%s/archives/%s.json\n' "$REPO" "$1"; }

record_get() {
	python3 - "$(record_json "$1")" "$2" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
v = eval(sys.argv[2], {"r": r})
print(v if not isinstance(v, (dict, list)) else json.dumps(v))
EOF
}

# data_frames FILE NCHUNKS: offsets and lengths of the framed chunks.
data_frames() {
	python3 - "$1" "$2" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
n = int(sys.argv[2])
size = len(data)
for h in [64] + list(range(0, min(size, 65536))):
    off, frames = h, []
    while off + 4 <= size and len(frames) <= n:
        ln = struct.unpack_from("<I", data, off)[0]
        if ln == 0 or off + 4 + ln > size:
            break
        frames.append((off, 4 + ln))
        off += 4 + ln
    if off == size and len(frames) == n:
        for o, l in frames:
            print(o, l)
        sys.exit(0)
sys.exit("no framing of %d chunks found in %s" % (n, sys.argv[1]))
EOF
}

flip_byte() {
	python3 - "$1" "$2" <<'EOF'
import os, sys
p, off = sys.argv[1], int(sys.argv[2])
size = os.path.getsize(p)
if off < 0:
    off += size
assert 0 <= off < size, "offset out of range"
mode = os.stat(p).st_mode
os.chmod(p, 0o600)
with open(p, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0x01]))
os.chmod(p, mode & 0o7777)
EOF
}

record_rehash() {
	python3 - "$REPO" "$1" <<'EOF'
import json, os, sys
from bkpt_hash import digest, record_alg
repo, aid = sys.argv[1], sys.argv[2]
p = os.path.join(repo, "archives", aid + ".json")
r = json.load(open(p))
for part in ("data", "manifest"):
    obj = os.path.join(repo, r[part]["key"])
    b = open(obj, "rb").read()
    r[part]["size"] = len(b)
    r[part][record_alg(r)] = digest(record_alg(r), b)
mode = os.stat(p).st_mode
os.chmod(p, 0o600)
with open(p, "w") as f:
    json.dump(r, f)
os.chmod(p, mode & 0o7777)
EOF
}

# record_set ID PYTHON-STATEMENT: edit the record (r is the parsed JSON).
record_set() {
	python3 - "$(record_json "$1")" "$2" <<'EOF'
import json, os, sys
p = sys.argv[1]
r = json.load(open(p))
exec(sys.argv[2], {"r": r})
mode = os.stat(p).st_mode
os.chmod(p, 0o600)
with open(p, "w") as f:
    json.dump(r, f)
os.chmod(p, mode & 0o7777)
EOF
}

# outside_snapshot OUT TARGET: every path under $T with type, size and
# mtime (directories: only path; their mtimes change as entries come), except the harness dir, state, home, repositories ($T/repo*) and
# TARGET (relative to $T).  outside_unchanged BEFORE TARGET: fail if
# anything outside TARGET appeared, vanished or changed since BEFORE.
outside_snapshot() {
	(cd "$T" && find . \( -path ./.harness -o -path ./state -o -path ./home -o -path './repo*' \
		-o -path "./${2#./}" \) -prune -o -type d -printf '%p d\n' -o -printf '%p %y %s %T@ %l\n' |
		LC_ALL=C sort) >"$1"
}
outside_unchanged() {
	local now d
	now=$(mktemp "$BKPT_DIR/snap.XXXXXX")
	outside_snapshot "$now" "$2"
	if ! d=$(diff "$1" "$now"); then
		printf '%s\n' "$d" | head -n 20 >&2
		fail "something outside the target '$2' changed: $(printf '%s' "$d" | grep -a '^[<>]' | head -n 3 | tr '\n' ' ')"
	fi
	rm -f "$now"
}

snapshot_tree() {
	(cd "$1" && find . -print0 | sort -z | tr '\0' '\n') >"$2"
}

json_valid() {
	python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null
}

# sparse_cmp A B: the files are byte-for-byte equal, reading only their data
# extents (SEEK_DATA/SEEK_HOLE), so comparing mostly-hole files is quick.
sparse_cmp() {
	python3 - "$1" "$2" <<'EOF'
import os, sys

def extents(fd, size):
    out, off = [], 0
    while off < size:
        try:
            d = os.lseek(fd, off, os.SEEK_DATA)
        except OSError:
            break
        h = os.lseek(fd, d, os.SEEK_HOLE)
        out.append((d, h))
        off = h
    return out

fa, fb = (os.open(p, os.O_RDONLY) for p in sys.argv[1:3])
sa, sb = os.fstat(fa).st_size, os.fstat(fb).st_size
if sa != sb:
    sys.exit("sizes differ: %d vs %d" % (sa, sb))
ranges = sorted(extents(fa, sa) + extents(fb, sb))
total = 0
for start, end in ranges:
    off = start
    while off < end:
        n = min(end - off, 1 << 20)
        if os.pread(fa, n, off) != os.pread(fb, n, off):
            sys.exit("files differ within bytes %d..%d" % (off, off + n))
        off += n
        total += n
        if total > (1 << 30):
            sys.exit("more than 1 GiB of data extents: not a sparse file")
EOF
}

# sparse_ok FILE: allocated blocks under 5% of the apparent size.
sparse_ok() {
	local alloc size
	alloc=$(($(stat -c '%b' "$1") * $(stat -c '%B' "$1")))
	size=$(stat -c '%s' "$1")
	[ $((alloc * 20)) -lt "$size" ]
}

xattrs_supported() {
	local f="$1/.xattr-probe"
	: >"$f" && setfattr -n user.probe -v 1 "$f" 2>/dev/null
	local ok=$?
	rm -f "$f"
	return $ok
}

make_dataset() {
	local d=$1
	mkdir -p "$d"/docs/notes "$d"/bin "$d"/data/deep/deeper "$d"/empty-dir "$d/odd dir"
	printf 'hello, world\n' >"$d/hello.txt"
	printf 'line %s\n' $(seq 1 2000) >"$d/docs/notes/long.txt"
	printf '# notes\nnothing secret here\n' >"$d/docs/readme.md"
	head -c 200000 /dev/urandom >"$d/data/blob.bin"
	head -c 3000 /dev/urandom >"$d/data/deep/deeper/small.bin"
	: >"$d/data/empty"
	printf '#!/bin/sh\necho hi\n' >"$d/bin/run.sh"
	printf 'key=value\n' >"$d/docs/private.conf"
	printf 'group readable\n' >"$d/docs/shared.txt"
	printf 'read only\n' >"$d/data/ro.txt"
	ln -s ../hello.txt "$d/docs/link-to-hello"
	ln -s deeper/small.bin "$d/data/deep/rel-link"
	ln "$d/data/blob.bin" "$d/data/blob-hardlink.bin"
	ln "$d/hello.txt" "$d/docs/notes/hello-hard"
	printf 'not utf-8\n' >"$d/$(printf 'bad-\xff\xfe-name')"
	printf 'odd\n' >"$d/odd dir/it's a \"file\" #1 & (x) [y] {z} ~ \$HOME; é.txt"
	printf 'dash\n' >"$d/-leading-dash"
	chmod 0755 "$d/bin/run.sh" "$d/bin"
	chmod 0600 "$d/docs/private.conf"
	chmod 0640 "$d/docs/shared.txt"
	chmod 0444 "$d/data/ro.txt"
	chmod 0700 "$d/data/deep"
	chmod 0750 "$d/empty-dir"
	if xattrs_supported "$d"; then
		setfattr -n user.comment -v 'patient export' "$d/docs/readme.md"
		setfattr -n user.bin -v 0x00ff10 "$d/data/deep/deeper/small.bin"
	fi
	# POSIX ACLs where the file system has them: an access ACL on a file
	# and a default ACL on the empty directory.
	if command -v setfacl >/dev/null && setfacl -m u:nobody:r "$d/docs/shared.txt" 2>/dev/null; then
		setfacl -d -m u:nobody:rx "$d/empty-dir"
	fi
	touch -h -d '2001-02-03 04:05:06 UTC' "$d/docs/link-to-hello"
	touch -d '2001-02-03 04:05:06 UTC' "$d/hello.txt"
	touch -d '1999-12-31 23:59:59 UTC' "$d/docs/notes/long.txt"
	touch -d '2010-06-15 12:00:00 UTC' "$d/data/blob.bin" "$d/bin/run.sh"
	touch -d '2015-01-01 00:00:00 UTC' "$d/docs/private.conf" "$d/$(printf 'bad-\xff\xfe-name')"
	# Directories last, so their mtimes stay as set.
	touch -d '2005-05-05 05:05:05 UTC' "$d/empty-dir" "$d/data/deep/deeper" "$d/docs/notes" \
		"$d/docs" "$d/odd dir" "$d/data/deep" "$d/data" "$d/bin"
	touch -d '2020-02-02 02:02:02 UTC' "$d"
}

# tree_equal A B: fail unless trees A and B are equal in content and metadata.
tree_equal() {
	local skiproot=0 d
	[ "$1" = --ignore-root ] && { skiproot=1; shift; }
	local a=$1 b=$2
	[ -d "$a" ] || fail "tree_equal: '$a' is not a directory"
	[ -d "$b" ] || fail "tree_equal: '$b' is not a directory"
	if ! d=$(diff -r --no-dereference "$a" "$b" 2>&1); then
		printf '%s\n' "$d" | head -n 20 >&2
		fail "tree_equal: contents differ between $a and $b"
	fi
	if ! d=$(python3 - "$a" "$b" "$skiproot" 2>&1 <<'EOF'
import os, stat, sys
a, b = (os.fsencode(x) for x in sys.argv[1:3])
skiproot = sys.argv[3] == "1"

def walk(root):
    out = {}
    for dp, dns, fns in os.walk(root):
        rel = os.path.relpath(dp, root)
        out[rel] = os.lstat(dp)
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
            for n in names if n.startswith(("user.", "system.posix_acl_"))}

def show(p):
    return p.decode("utf-8", "backslashreplace")

ta, tb = walk(a), walk(b)
errs = []
for p in sorted(set(ta) | set(tb)):
    if p not in tb:
        errs.append("only in A: %s" % show(p)); continue
    if p not in ta:
        errs.append("only in B: %s" % show(p)); continue
    sa, sb = ta[p], tb[p]
    if skiproot and p == b".":
        continue
    pa, pb = os.path.join(a, p), os.path.join(b, p)
    if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
        errs.append("type differs: %s" % show(p)); continue
    if stat.S_ISLNK(sa.st_mode):
        if os.readlink(pa) != os.readlink(pb):
            errs.append("symlink target differs: %s: %r vs %r" % (show(p), os.readlink(pa), os.readlink(pb)))
        continue
    if stat.S_IMODE(sa.st_mode) != stat.S_IMODE(sb.st_mode):
        errs.append("mode differs: %s: %o vs %o" % (show(p), stat.S_IMODE(sa.st_mode), stat.S_IMODE(sb.st_mode)))
    if int(sa.st_mtime) != int(sb.st_mtime):
        errs.append("mtime differs: %s: %d vs %d" % (show(p), int(sa.st_mtime), int(sb.st_mtime)))
    if stat.S_ISREG(sa.st_mode) and sa.st_size != sb.st_size:
        errs.append("size differs: %s" % show(p))
    xa, xb = xattrs(pa), xattrs(pb)
    if xa != xb:
        errs.append("xattrs differ: %s: %r vs %r" % (show(p), xa, xb))

def groups(t):
    by = {}
    for p, s in t.items():
        if stat.S_ISREG(s.st_mode):
            by.setdefault((s.st_dev, s.st_ino), []).append(p)
    return sorted(sorted(g) for g in by.values() if len(g) > 1)

ga, gb = groups(ta), groups(tb)
if ga != gb:
    errs.append("hardlink groups differ: A %s vs B %s" % (
        [[show(x) for x in g] for g in ga], [[show(x) for x in g] for g in gb]))
for e in errs[:30]:
    print(e)
sys.exit(1 if errs else 0)
EOF
	); then
		printf '%s\n' "$d" >&2
		fail "tree_equal: metadata differs between $a and $b"
	fi
	return 0
}
