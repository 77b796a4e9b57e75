# shellcheck shell=bash
# Helpers for the incremental-backup tests (t_chain.sh, t_chain_s3.sh):
# sourced by those files, never run on its own (its name does not start
# with t_, so run.sh does not take it for a test file).  Exact tree
# comparison is tests/integration/tree_ns.py.

TREE_NS=$(dirname "${BKPT_LIB:-${BASH_SOURCE[0]}}")/tree_ns.py
# The system's python3 where there is one: a pyenv shim costs a second a
# start on a loaded machine, and these tests start python often.  Only
# the standard library is used.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# tree_exact A B [OPTS]: A and B are equal to the nanosecond (tree_ns.py:
# type, mode, owner, mtime, content, symlink targets, user xattrs,
# hard-link groups); fails the test with the first differences.
tree_exact() {
	local d
	if ! d=$("$PY" "$TREE_NS" "$@" 2>&1); then
		printf '%s\n' "$d" | head -n 40 >&2
		fail "trees differ: $1 vs $2: $(printf '%s\n' "$d" | head -n 4 | tr '\n' ';')"
	fi
	return 0
}

# listing: `bkp list --json` of $REPO into $T/list.json.
listing() {
	run_bkp list -r "$REPO" --json
	expect_exit 0 "list --json"
	cp "$BKPT_DIR/stdout" "$T/list.json"
}

# listed_ids: the ids in $T/list.json, space-separated, in list order.
listed_ids() {
	"$PY" -c 'import json,sys; print(" ".join(a["id"] for a in json.load(open(sys.argv[1]))))' "$T/list.json"
}

# arch ID EXPR: a field of archive ID in $T/list.json (python on `a`, the
# archive's object; `L` is the whole list).  Non-zero exit, with the
# archive's object on stderr, if ID is not listed exactly once or EXPR
# fails (a missing member).
arch() {
	"$PY" - "$T/list.json" "$1" "$2" <<'PYEOF'
import json, sys
L = json.load(open(sys.argv[1]))
m = [a for a in L if a["id"] == sys.argv[2]]
if len(m) != 1:
    sys.exit("archive %s is listed %d times" % (sys.argv[2], len(m)))
a = m[0]
try:
    v = eval(sys.argv[3], {"a": a, "L": L})
except Exception as e:
    sys.exit("%s %r; the archive in list --json: %s" % (type(e).__name__, e, json.dumps(a, sort_keys=True)[:700]))
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)
PYEOF
}

# CHAIN, DEPS: set by chain_deps ID [cached]: the archive's "chain" and
# "deps" (space-separated ids) from a fresh listing (with "cached": from
# the last one); fails the test if list --json lacks them or they have
# the wrong type.
chain_deps() {
	local v
	[ "${2:-}" = cached ] || listing
	v=$(arch "$1" '"%d|%s" % (a["chain"], " ".join(a["deps"])) if isinstance(a["chain"], int) and isinstance(a["deps"], list) and not isinstance(a["chain"], bool) else 1 / 0' 2>&1) ||
		fail "list --json lacks an integer \"chain\" or a list \"deps\" for archive $1: $v"
	CHAIN=${v%%|*}
	DEPS=${v#*|}
}

# deps_of ID [cached]: print the archive's "deps" (space-separated).
deps_of() {
	chain_deps "$1" "${2:-}"
	printf '%s\n' "$DEPS"
}

# expect_chain ID N [WHAT [cached]]: the archive's "chain" is N (0: a full
# backup, whose "deps" must be empty).
expect_chain() {
	chain_deps "$1" "${4:-}"
	[ "$CHAIN" = "$2" ] || fail "archive $1${3:+ ($3)}: \"chain\" is $CHAIN, expected $2 (deps: ${DEPS:-none})"
	if [ "$2" = 0 ]; then
		[ -z "$DEPS" ] || fail "full backup $1${3:+ ($3)} has \"deps\": $DEPS"
	else
		[ -n "$DEPS" ] || fail "incremental $1${3:+ ($3)} (chain $CHAIN) has no \"deps\""
	fi
	return 0
}

# data_size ID: bytes of the archive's own data object (what this backup
# stored): the record's data.size, else the size of $REPO/data/ID (local
# repositories) or of the object data/ID (S3, through awscli).
data_size() {
	local s pfx
	case $REPO in
	s3://*)
		pfx=${REPO#s3://*/}
		s3_aws s3 cp "$REPO/archives/$1.json" "$BKPT_DIR/rec.json" >/dev/null 2>&1 ||
			fail "awscli cannot fetch the record of $1"
		s=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["size"])' "$BKPT_DIR/rec.json" 2>/dev/null)
		if [[ ! $s =~ ^[0-9]+$ ]]; then
			s=$(s3_aws s3api head-object --bucket "$S3_BUCKET" --key "$pfx/data/$1" --query ContentLength --output text 2>/dev/null)
		fi
		;;
	*)
		s=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["size"])' "$REPO/archives/$1.json" 2>/dev/null)
		[[ $s =~ ^[0-9]+$ ]] || s=$(stat -c %s "$REPO/data/$1" 2>/dev/null)
		;;
	esac
	[[ $s =~ ^[0-9]+$ ]] || fail "no data size for archive $1 (record has no data.size, and no data/$1)"
	printf '%s\n' "$s"
}

# same_second_edit FILE TEXT: replace FILE's content by TEXT (same length),
# then set its mtime to the same second as before with other nanoseconds
# (as an edit within one second on a file system with coarse clocks).
same_second_edit() {
	"$PY" - "$1" "$2" <<'EOF'
import os, sys
p, text = sys.argv[1], sys.argv[2].encode()
st = os.stat(p)
assert len(text) == st.st_size, "same_second_edit: %d bytes for a %d-byte file" % (len(text), st.st_size)
with open(p, "r+b") as f:
    f.write(text)
sec, ns = divmod(st.st_mtime_ns, 10**9)
ns2 = (ns + 123456789) % 10**9
os.utime(p, ns=(st.st_atime_ns, sec * 10**9 + ns2))
assert os.stat(p).st_mtime_ns != st.st_mtime_ns
EOF
}

# exact_mtime_edit FILE TEXT: replace FILE's content by TEXT (same length)
# and put its mtime back exactly, to the nanosecond (only ctime tells).
exact_mtime_edit() {
	"$PY" - "$1" "$2" <<'EOF'
import os, sys
p, text = sys.argv[1], sys.argv[2].encode()
st = os.stat(p)
assert len(text) == st.st_size
with open(p, "r+b") as f:
    f.write(text)
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
EOF
}

# pad TEXT: TEXT padded with spaces to 63 characters and a newline.
pad() { printf '%-63s\n' "$1"; }

# snap N DIR: keep a copy of DIR as it is now (everything cp -a keeps:
# owner, mode, times to the nanosecond, xattrs, hard links) in snaps/N.
# The first copy a test makes is compared with DIR (so that a difference
# found later is bkp's, not cp's).
snap() {
	mkdir -p "$T/snaps/$1"
	cp -a "$2" "$T/snaps/$1/" || fail "cannot copy $2 to snaps/$1"
	if [ ! -e "$T/snaps/.checked" ]; then
		tree_exact "$2" "$T/snaps/$1/$(basename "$2")"
		: >"$T/snaps/.checked"
	fi
}

# restore_exact ID N [DIR]: restore archive ID into rN and compare DIR
# (default src) with the snapshot N taken when ID was made.
restore_exact() {
	local d=${3:-src}
	rm -rf "$T/r$2"
	run_bkp restore -r "$REPO" -k "$KEY" "$1" --target "$T/r$2"
	expect_exit 0 "restore of archive $1 (snapshot $2)"
	tree_exact "$T/snaps/$2/$d" "$T/r$2/$d"
}

# verify_both ID: full and key-less verify of ID pass.
verify_both() {
	run_bkp verify -r "$REPO" -k "$KEY" "$1"
	expect_exit 0 "verify -k of $1${2:+ ($2)}"
	run_bkp verify -r "$REPO" "$1"
	expect_exit 0 "key-less verify of $1${2:+ ($2)}"
}
