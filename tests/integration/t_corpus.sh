# shellcheck shell=bash
# A corpus of hostile forged archives (issue 13).  Sealed boxes are
# anonymous, so anyone with a repository's public keys can write an archive
# that decrypts (docs/FORMAT.md §12).  Each case below is forged with
# bkp-forge (tests/tools/forge.c) from a tar stream written record by record
# by forge_tar.py (ustar/GNU/pax records with arbitrary fields) and manifest
# records that may lie, and is then run by one driver (corpus) through:
#
#   fresh      restore into a new, empty target
#   nonempty   restore into a target holding pre-existing files: victim.txt
#              (with a second hard link outside the target, so a write into
#              its inode shows outside) and pre/old.txt
#   overwrite  the same with --overwrite
#   partial    restore --include PATTERN into a new target
#   verify     verify -k (full)
#   keyless    verify (no key)
#   drill      bkp drill --dataset CASE (--keep, so the scratch restore can
#              be inspected: no device, no setuid/setgid file)
#
# each under `timeout` (a hang is a failure), and after each run asserts:
# nothing outside the target changed (paths, types, modes, link counts,
# owners, sizes, mtimes, inodes), no pre-existing file changed without
# --overwrite (content, inode, link count, mtime), exit < 128 and no
# sanitizer report, no raw control bytes (ESC, BEL, CR, C1 CSI) on stdout
# or stderr, never "(null)" nor "out of memory", and the expected outcome:
#   ok        exit 0
#   fail      exit 1 and, for every NAME regex, a "bkp: ..." line matching
#             it and the case's message regex (names are given with their
#             single quotes; C_PNAMES: the one regex for the partial run;
#             a drill needs only its FAIL summary, as it prints the
#             engine's last message, not each refusal)
#   withheld  exit 3 ("completed with items withheld by policy") and such a
#             line for every NAME
#   any       only the generic assertions
# A failing run does not stop the case: every run is tried and every
# failure reported (a hang stops the case: the next runs would hang too).
#
# Archive names are the case names (the drill's dataset).  The key is
# re-encrypted with the weakest KDF a reader accepts (weak_key.py), so the
# several hundred key loads of this file stay cheap.

# shellcheck source=forge_lib.sh
. "$(dirname "$BKPT_LIB")/forge_lib.sh"

TEST_TIMEOUT=900
C_TIMEOUT_DEFAULT=60

# corpus_arena: forge_lib's arena (repository with 4 KiB chunks, canary,
# sibling, outside file), a cheap key, a scratch volume for drills, and a
# unique path under /tmp for absolute-path cases ($U, exported).
corpus_arena() {
	arena
	python3 "$(dirname "$BKPT_LIB")/weak_key.py" "$KEY" || fail "weak_key.py failed"
	mkdir -p "$T/scratch"
	U=/tmp/bkp-corpus-$$-$RANDOM$RANDOM
	export U
	[ ! -e "$U" ] || fail "test setup: $U exists"
}

# build NAME: forge archive NAME from the Python on stdin, run with f (a
# forge_tar.Forge), T, U, H (the hash member) and digest; sets ID.  The
# BKP_FORGE_* knobs of bkp-forge pass through the environment.
build() {
	local name=$1 body lines=
	body=$(cat)
	mkdir -p "$T/work"
	/usr/bin/python3 - "$T/work/$name" "$body" <<'PY' || fail "build $name: python failed"
import os, sys
from forge_tar import Forge, header, pad, pax_records
from bkpt_hash import digest
base, body = sys.argv[1], sys.argv[2]
f = Forge()
exec(body, {"f": f, "T": os.environ["T"], "U": os.environ.get("U", ""),
            "H": f.alg, "digest": lambda b: digest(f.alg, b),
            "header": header, "pad": pad, "pax_records": pax_records})
f.save(base + ".tar", base + ".mf", base + ".lines")
PY
	[ -s "$T/work/$name.lines" ] && lines=$T/work/$name.lines
	BKP_FORGE_RAW_LINES=$lines forge_archive "$name"
}

# crun ARGS...: run_bkp under timeout ($C_TIMEOUT seconds).
crun() {
	LAST_ARGS="$*"
	timeout -k 5 "${C_TIMEOUT:-$C_TIMEOUT_DEFAULT}" "$BKP" "$@" \
		>"$BKPT_DIR/stdout" 2>"$BKPT_DIR/stderr"
	_run_bkp_finish $?
}

# c_snap OUT TARGET [overwrite]: everything under $T but the harness,
# state, home, repositories, work files, drill scratch and TARGET, with
# type, mode, link count, owner, size, mtime, inode and symlink target
# (not $T and rt themselves, whose times change as targets are made).
# With "overwrite", the link count of the outside links to victim.txt is
# left out: replacing victim.txt by a new file drops it, rightly.
c_snap() {
	(cd "$T" && find . \( -path ./.harness -o -path ./state -o -path ./home -o -path './repo*' \
		-o -path ./work -o -path ./scratch -o -path "./$2" \) -prune -o \
		-printf '%p %y %m %n %U:%G %s %T@ %i %l\n' | grep -avE '^\.(/rt)? d ' |
		if [ "${3:-}" = overwrite ]; then sed -E 's#^(\./outside/victim-link[^ ]* f [0-7]+) [0-9]+ #\1 - #'; else cat; fi |
		LC_ALL=C sort) >"$1"
}

# prefill DIR RUN: pre-existing files in target DIR; victim.txt has a
# second hard link outside the target ($T/outside/victim-link-RUN).
prefill() {
	mkdir -p "$1/pre"
	printf 'victim\n' >"$1/victim.txt"
	printf 'old\n' >"$1/pre/old.txt"
	ln "$1/victim.txt" "$T/outside/victim-link-$2"
	touch -d '2001-01-01 00:00:00 UTC' "$1/victim.txt" "$1/pre/old.txt" "$1/pre"
	stat -c '%i %h %Y %s' "$1/victim.txt" "$1/pre/old.txt" >"$BKPT_DIR/pre-$2"
}

# c_fail MSG: fail this run, naming the case and the run.
c_fail() { fail "[$CASE/$MODE] $*"; }

# c_named EXPECTATION: the NAME/message lines of a refusal.
c_named() {
	local re names=("${C_NAMES[@]}")
	[ "$MODE" = partial ] && [ -n "${C_PNAMES:-}" ] && names=("$C_PNAMES")
	if [ "$MODE" = drill ]; then
		# A drill prints its engine's last message (not each refusal),
		# and its reasons in its summary.
		grep -aqE ': FAIL' "$BKPT_DIR/stdout" || c_fail "a failed drill without a FAIL summary"
		return 0
	fi
	for re in "${names[@]}"; do
		grep -aE '^bkp( [a-z]+)?: ' "$BKPT_DIR/stderr" | grep -aE -- "$re" | grep -aqiE -- "$C_MSG" ||
			c_fail "no 'bkp: ...' line naming /$re/ and matching /$C_MSG/ (exit $(_rc)); stderr: $(head -c 400 "$BKPT_DIR/stderr" | tr '\n' '|' | cat -v)"
	done
}

# c_check EXPECTATION TARGET: the assertions after one run (see the top).
c_check() {
	local exp=$1 tgt=$2 rc
	rc=$(_rc)
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		: >"$BKPT_DIR/hang"
		c_fail "hang: no answer within ${C_TIMEOUT:-$C_TIMEOUT_DEFAULT}s (bkp $(_args | head -c 200))"
	fi
	[ "$rc" -lt 128 ] || c_fail "killed by a signal (exit $rc)"
	c_snap "$BKPT_DIR/snap-after" "$tgt" "$SNAPMODE"
	local d
	if ! d=$(diff "$BKPT_DIR/snap-before" "$BKPT_DIR/snap-after"); then
		c_fail "something outside the target changed: $(printf '%s' "$d" | grep -a '^[<>]' | head -n 4 | tr '\n' ' ')"
	fi
	# (The snapshot covers the canaries: size, mtime and inode.)
	if [ -e "$T/outside/victim-link-$MODE" ] && [ "$(cat "$T/outside/victim-link-$MODE")" != victim ]; then
		c_fail "the outside hard link to victim.txt changed: '$(head -c 40 "$T/outside/victim-link-$MODE")'"
	fi
	# One look for what must never be printed; the details only on a hit.
	if LC_ALL=C grep -aqP '[\x1b\x07\x0d]|\xc2\x9b|\(null\)|(?i:out of memory)' "$BKPT_DIR/stdout" "$BKPT_DIR/stderr"; then
		c_fail "a raw control byte (ESC, BEL, CR or C1 CSI), '(null)' or 'out of memory' was printed: $(LC_ALL=C grep -aP '[\x1b\x07\x0d]|\xc2\x9b|\(null\)|(?i:out of memory)' "$BKPT_DIR/stderr" "$BKPT_DIR/stdout" | head -n 2 | cat -v)"
	fi
	if [ -f "$BKPT_DIR/pre-$MODE" ] && [ "$MODE" != overwrite ]; then
		[ "$(cat "$tgt/victim.txt" 2>/dev/null)" = victim ] && [ "$(cat "$tgt/pre/old.txt" 2>/dev/null)" = old ] ||
			c_fail "a pre-existing file changed without --overwrite: victim.txt '$(head -c 40 "$tgt/victim.txt" 2>/dev/null)', pre/old.txt '$(head -c 40 "$tgt/pre/old.txt" 2>/dev/null)'"
		[ "$(stat -c '%i %h %Y %s' "$tgt/victim.txt" "$tgt/pre/old.txt" 2>&1)" = "$(cat "$BKPT_DIR/pre-$MODE")" ] ||
			c_fail "a pre-existing file's inode, link count, mtime or size changed without --overwrite"
	fi
	case $exp in
	ok) [ "$rc" = 0 ] || c_fail "expected exit 0, got $rc: $(head -c 300 "$BKPT_DIR/stderr" | tr '\n' '|' | cat -v)" ;;
	fail)
		[ "$rc" = 1 ] || c_fail "expected exit 1 (refused), got $rc: $(head -c 300 "$BKPT_DIR/stderr" | tr '\n' '|' | cat -v)"
		c_named
		;;
	withheld)
		[ "$rc" = 3 ] || c_fail "expected exit 3 (items withheld by policy), got $rc: $(head -c 300 "$BKPT_DIR/stderr" | tr '\n' '|' | cat -v)"
		c_named
		;;
	any) ;;
	*) c_fail "harness: unknown expectation '$exp'" ;;
	esac
	if [ -n "${C_POST:-}" ]; then
		"$C_POST" "$tgt"
	fi
	return 0
}

# c_run MODE EXPECTATION TARGET [prefill|overwrite] -- BKP ARGS...: one run
# in a subshell (a failure is recorded and the next run goes on); returns 1
# after a hang.
c_run() {
	MODE=$1
	local exp=$2 tgt=$3 how=$4
	shift 5
	(
		SNAPMODE=
		case $how in
		prefill) prefill "$tgt" "$MODE" ;;
		overwrite) prefill "$tgt" "$MODE"; SNAPMODE=overwrite ;;
		esac
		c_snap "$BKPT_DIR/snap-before" "$tgt" "$SNAPMODE"
		crun "$@"
		c_check "$exp" "$tgt"
	) || true
	# A sanitizer report fails this run (its reason is recorded); move it
	# aside so that it is not blamed on every later run as well.
	if compgen -G "$BKPT_DIR/san/*" >/dev/null; then
		mkdir -p "$BKPT_DIR/san-seen"
		mv "$BKPT_DIR"/san/* "$BKPT_DIR/san-seen/"
	fi
	[ ! -e "$BKPT_DIR/hang" ]
}

# c_want RUN: is RUN one of C_RUNS (or are all wanted)?
c_want() {
	[ -z "${C_RUNS:-}" ] || [[ " $C_RUNS " == *" $1 "* ]]
}

# corpus CASE EXPECTATION MSGRE INCLUDE NAME...: run archive $ID (forged as
# CASE) through every run.  Per-run expectations default to EXPECTATION
# and are overridden by C_FRESH, C_NONEMPTY, C_OVERWRITE, C_PARTIAL,
# C_VERIFY (default: any for withheld), C_KEYLESS (default ok) and C_DRILL
# (default: fail for fail, ok for ok, any for withheld).  C_POST: a
# function run after each run with the target (restores) or "" (others).
# C_TIMEOUT: seconds per run.  C_RUNS: the runs to do (names as above,
# space-separated; default all).
corpus() {
	CASE=$1
	local exp=$2 inc=$4 n=$((${CORPUS_N:-0} + 1)) r
	C_MSG=$3
	shift 4
	C_NAMES=("$@")
	CORPUS_N=$n
	export CASE C_MSG
	r=rt/c$n
	rm -f "$BKPT_DIR/hang"
	note "case $CASE: archive $ID, expect $exp"
	{ ! c_want fresh || c_run fresh "${C_FRESH:-$exp}" "$r-fresh" none -- restore -r "$REPO" -k "$KEY" "$ID" --target "$r-fresh"; } &&
		{ ! c_want nonempty || c_run nonempty "${C_NONEMPTY:-$exp}" "$r-nonempty" prefill -- restore -r "$REPO" -k "$KEY" "$ID" --target "$r-nonempty"; } &&
		{ ! c_want overwrite || c_run overwrite "${C_OVERWRITE:-$exp}" "$r-overwrite" overwrite -- restore -r "$REPO" -k "$KEY" "$ID" --target "$r-overwrite" --overwrite; } &&
		{ ! c_want partial || c_run partial "${C_PARTIAL:-$exp}" "$r-partial" none -- restore -r "$REPO" -k "$KEY" "$ID" --target "$r-partial" --include "$inc"; } &&
		{ ! c_want verify || c_run verify "${C_VERIFY:-$([ "$exp" = withheld ] && echo any || echo "$exp")}" nonexistent none -- verify -r "$REPO" -k "$KEY" "$ID"; } &&
		{ ! c_want keyless || c_run keyless "${C_KEYLESS:-ok}" nonexistent none -- verify -r "$REPO" "$ID"; } &&
		{ ! c_want drill || c_run drill "${C_DRILL:-$([ "$exp" = withheld ] && echo any || echo "$exp")}" nonexistent none -- \
			drill -r "$REPO" -k "$KEY" --dataset "$CASE" --scratch "$T/scratch" --keep; }
	! c_want drill || drill_scratch_check
	# Every run of the case is checked: drop its targets (and the outside
	# links to their victims), so that later snapshots stay small.
	chmod -R u+rwX "$T/$r"-* 2>/dev/null
	rm -rf "${T:?}/$r"-* "$T"/outside/victim-link-*
	return 0
}

# After a drill (--keep): its scratch restore made no device and no
# setuid/setgid file; then the scratch is emptied.
drill_scratch_check() {
	local bad
	bad=$(find "$T/scratch" \( -type b -o -type c -o -perm -4000 -o -perm -2000 \) -printf '%P ' 2>/dev/null)
	[ -z "$bad" ] || (MODE=drill; c_fail "the drill's scratch restore made a device or setuid/setgid file: $bad") || true
	chmod -R u+rwX "$T/scratch" 2>/dev/null
	rm -rf "${T:?}/scratch" && mkdir "$T/scratch"
}

# Post-run checks (C_POST); $1 is the target (or "nonexistent").
no_tmp_escape() {
	[ ! -e "$U" ] || { rm -rf "$U"; c_fail "something was written at $U (absolute path outside)"; }
	[ ! -e "$T/evil" ] && [ ! -e "$T/rt/evil" ] && [ ! -e "$T/outside/evil" ] && [ ! -e "$T/rt/pax-evil" ] &&
		[ ! -e "$T/rt/evil-gnu" ] || c_fail "an entry escaped beside the target: $(ls "$T" "$T/rt" | tr '\n' ' ')"
}

# ---------------------------------------------------------------------------
# Positive control: a forged archive of safe entries only (directory, file
# over several chunks, symlink, hard link, FIFO, a small sparse file, a
# user xattr, long names in pax and in GNU 'L' records) restores and
# verifies in every run; so the must-fail cases fail for their own reason.
control_post() {
	local d=$1
	[ -d "$d" ] && [ "$MODE" != partial ] || return 0
	[ "$(cat "$d/dir/a.txt")" = hello ] || c_fail "control: dir/a.txt not restored"
	[ "$d/dir/h" -ef "$d/dir/a.txt" ] || c_fail "control: hard link dir/h not restored"
	[ -p "$d/dir/fifo" ] || c_fail "control: FIFO not restored"
	[ "$(readlink "$d/dir/s")" = a.txt ] || c_fail "control: symlink not restored"
	[ "$(cat "$d/g/$(printf 'g%.0s' $(seq 1 150))")" = gnu ] || c_fail "control: GNU long name not restored"
}
test_corpus_control() {
	corpus_arena
	build control <<'PY'
f.dir("dir")
f.file("dir/a.txt", b"hello")
f.file("dir/big", bytes(range(256)) * 80)
f.symlink("dir/s", "a.txt")
f.hardlink("dir/h", "dir/a.txt")
f.fifo("dir/fifo")
f.file("dir/x", b"xattr", pax={"SCHILY.xattr.user.note": "hi"})
f.file("p/" + "p" * 150, b"pax")
f.file("g/" + "g" * 150, b"gnu", names="gnu")
PY
	C_POST=control_post corpus control ok . 'dir/a.txt'
	# A well-formed sparse file (GNU sparse 1.0 in pax), drilled too (a
	# drill used to fail on any sparse file: it compared the data bytes a
	# restore reads with the logical bytes its validation reads).
	# (bkp-forge counts a file's logical size as bytes read; a backup
	# reads a sparse file's data alone: 8 bytes here.)
	BKP_FORGE_RECORD_EDIT='{"stats":{"bytes":8}}' BKP_FORGE_END_EDIT='{"bytes":8}' \
		build sparse_ok <<'PY'
f.sparse("sparse", 1 << 20, [(0, b"head"), ((1 << 20) - 4, b"tail")])
PY
	C_POST=sparse_post corpus sparse_ok ok . sparse
}
sparse_post() {
	[ -d "$1" ] || return 0
	[ "$(stat -c %s "$1/sparse")" = 1048576 ] && [ "$(head -c 4 "$1/sparse")" = head ] &&
		[ "$(tail -c 4 "$1/sparse")" = tail ] || c_fail "sparse_ok: sparse file not restored"
}

# ---------------------------------------------------------------------------
# Path escapes: absolute names in ustar and in GNU 'L' records, '..' in
# ustar, GNU 'L' and pax path records.  Refused one by one (the rest of
# the archive is restored), every one named.
test_corpus_path_escapes() {
	corpus_arena
	build escapes <<'PY'
f.file("before", b"before")
f.file(U + "/evil", b"evil")                                     # absolute, ustar
f.file("../evil", b"evil")                                       # '..', ustar
f.file("a/" + "q" * 120 + "/../../../evil-gnu", b"e", names="gnu")  # '..' in a GNU long name
f.file(U + "/" + "p" * 120 + "/evil", b"e", names="gnu")         # absolute GNU long name
f.file("../pax-evil", b"e", names="pax")                         # '..' in a pax path record
f.file("after", b"after")
PY
	C_POST=no_tmp_escape C_PNAMES="'\.\./pax-evil'" corpus escapes fail 'unsafe|refus|absolute|\.\.' "../pax-evil" \
		"'$(re_quote "$U/evil")'" "'\.\./evil'" "'a/q{120}/\.\./\.\./\.\./evil-gnu'" \
		"'$(re_quote "$U")/p{120}/evil'" "'\.\./pax-evil'"
}

# A pax path record that differs from the manifest's path (the ustar name
# agrees with the manifest): the tar entry and its record disagree.
test_corpus_pax_path_differs() {
	corpus_arena
	build pax_path_differs <<'PY'
f.file("first", b"first")
f.file("innocent", b"e", names="ustar", pax={"path": "elsewhere/evil"})
f.file("after", b"after")
PY
	C_POST=no_tmp_escape corpus pax_path_differs fail 'disagree' innocent "'(innocent|elsewhere/evil)'"
}

# Item 7: a path longer than PATH_MAX (4096): restored, or refused with
# the real reason (File name too long), never "exists, not overwritten";
# and --include matches it.
long_post() {
	local d=$1
	[ -d "$d" ] || return 0
	if [ "$(_rc)" = 0 ]; then
		(cd "$d" && python3 -c '
import os, sys
fd, parts = os.open(".", os.O_RDONLY), os.environ["LONG"].split("/")
try:
    for p in parts[:-1]:
        fd = os.open(p, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    sys.exit(0 if os.read(os.open(parts[-1], os.O_RDONLY, dir_fd=fd), 10) == b"deep" else 1)
except OSError:
    sys.exit(1)') ||
			c_fail "exit 0, but the long path was not restored"
	else
		grep -aE '^bkp( [a-z]+)?: ' "$BKPT_DIR/stderr" | grep -aF "'deep/d10" | grep -aqi 'too long' ||
			c_fail "the long path failed without the real reason (File name too long): $(head -c 200 "$BKPT_DIR/stderr" | sed 's/x\{20,\}/X/g')"
	fi
	! grep -aq 'exists, not overwritten' "$BKPT_DIR/stderr" || c_fail "the long path is said to exist"
}
test_corpus_long_path() {
	corpus_arena
	local long
	long=deep/$(for i in $(seq 10 34); do printf 'd%s%s/' "$i" "$(printf 'x%.0s' $(seq 1 195))"; done)leaf
	[ ${#long} -gt 4096 ] || fail "test setup: path of ${#long} bytes"
	export LONG=$long
	build long_path <<'PY'
import os
f.file("before", b"before")
f.file(os.environ["LONG"], b"deep")
f.file("after", b"after")
PY
	C_POST=long_post C_VERIFY=ok C_DRILL=any corpus long_path any 'too long' "$long" "'deep/d10x+/d11x+/"
}

# A path over the 64 KiB bound (docs/FORMAT.md §11): a malformed record.
test_corpus_path_over_64k() {
	corpus_arena
	build path_over_64k <<'PY'
f.file("before", b"before")
f.file("/".join(["y" * 200] * 350), b"deep")
PY
	corpus path_over_64k fail '.' 'before' "$ID|'y{200}/y{200}"
}

# ---------------------------------------------------------------------------
# Symlink and hard-link tricks that restore refuses entry by entry.
links_post() {
	[ ! -e "$T/outside/evil" ] && [ ! -e "$T/outside/b" ] && [ ! -e "$T/outside/chain-evil" ] ||
		c_fail "an entry was written through a symlink into $T/outside"
	[ "$(stat -c %h /etc/passwd)" = 1 ] || c_fail "/etc/passwd has $(stat -c %h /etc/passwd) links"
}
test_corpus_symlink_tricks() {
	corpus_arena
	build symlinks <<'PY'
f.file("before", b"before")
f.symlink("link", T + "/outside")                # symlink, then a file through it
f.file("link/evil", b"evil")
f.dir("d")                                       # a directory replaced by a symlink
f.file("d/a", b"a")
f.symlink("d", T + "/outside", mf=True)
f.file("d/b", b"b")
f.symlink("c1", "c2")                            # a chain of symlinks out
f.symlink("c2", "c3")
f.symlink("c3", T + "/outside")
f.file("c1/chain-evil", b"evil")
f.file("after", b"after")
PY
	# --overwrite may replace a symlink in the target by a directory.
	C_POST=links_post C_VERIFY=any C_PARTIAL=any C_OVERWRITE=any corpus symlinks fail '.' 'link/evil' \
		"'link(/evil)?'" "'d(/b)?'" "'c1(/chain-evil)?'"
}

test_corpus_hardlink_tricks() {
	corpus_arena
	build hardlinks <<'PY'
f.file("a", b"a-data")
f.hardlink("out1", "../outside-file")            # links to outside
f.hardlink("out2", "/etc/passwd")
f.dir("dd")
f.hardlink("todir", "dd/")                       # a hard link to a directory
f.hardlink("carry", "a", data=b"pwned")          # a hard link carrying data (record: hardlink)
f.file("after", b"after")
PY
	C_POST=links_post C_PARTIAL=any corpus hardlinks fail '.' 'out1' \
		"'out1'" "'out2'" "'todir'" "'carry'"
}

# Item 1: a hard link must name a path an earlier "file" record restored
# as a regular file: not a symlink, not a link, not a later entry.
test_corpus_hardlink_targets() {
	corpus_arena
	build link_to_symlink <<'PY'
f.symlink("s", T + "/outside/canary")
f.hardlink("hs", "s")
PY
	C_POST=links_post corpus link_to_symlink fail '.' 'hs' "'hs'"
	build link_chain <<'PY'
f.file("a", b"a")
f.hardlink("b", "a")
f.hardlink("c", "b")
PY
	corpus link_chain fail '.' 'c' "'c'"
	build link_forward <<'PY'
f.hardlink("fw", "later")
f.file("later", b"later")
PY
	corpus link_forward fail '.' 'fw' "'fw'"
	build link_preexisting <<'PY'
f.file("first", b"first")
f.hardlink("z", "victim.txt")
PY
	corpus link_preexisting fail '.' 'z' "'z'"
}

# Item 1, the issue's main escape: a hard link entry carrying data whose
# record says "file" (path, size and hash all match).  Today it writes the
# attacker's bytes into victim.txt of a non-empty target.
test_corpus_hardlink_data_as_file() {
	corpus_arena
	build link_data_as_file <<'PY'
f.file("first", b"first")
f.hardlink("x", "victim.txt", data=b"pwned",
           rec={"type": "file", "size": 5, H: digest(b"pwned"), "link": None})
PY
	corpus link_data_as_file fail 'disagree' 'x' "'x'"
}

# Link then file, file then link: one path twice.
test_corpus_link_file_same_path() {
	corpus_arena
	build link_then_file <<'PY'
f.file("a", b"a-data")
f.hardlink("h", "a")
f.file("h", b"pwned")
PY
	# One path twice: refused unless --overwrite (then the later entry
	# replaces the earlier inside the target); verify does not look.
	C_POST=a_intact C_OVERWRITE=any C_VERIFY=any corpus link_then_file fail '.' 'h' "'h'"
	build file_then_link <<'PY'
f.file("f", b"data")
f.symlink("f", T + "/outside/canary")
f.file("g", b"g")
PY
	C_OVERWRITE=any C_VERIFY=any corpus file_then_link fail '.' 'f' "'f'"
}
a_intact() {
	[ ! -f "$1/a" ] || [ "$(cat "$1/a")" = a-data ] || c_fail "'a' was rewritten through the link 'h'"
}

# ---------------------------------------------------------------------------
# Manifest lies (item 1): every tar entry is checked against its record
# before anything is written; a disagreement stops the restore (exit 1).
lie() {
	local name=$1 inc=$2 named=$3
	build "$name"
	C_PNAMES=${LIE_PNAMES//@ID/$ID} corpus "$name" fail "$LIE_MSG" "$inc" "$named"
}
test_corpus_manifest_lies() {
	corpus_arena
	LIE_MSG=disagree
	lie lie_type_dir d "'d/?'" <<'PY'
f.dir("d", rec={"type": "file", H: digest(b"")})
PY
	lie lie_type_symlink s "'s'" <<'PY'
f.symlink("s", T + "/outside/canary", rec={"type": "file", H: digest(b""), "link": None})
PY
	lie lie_type_file_as_dir f "'f/?'" <<'PY'
f.file("f", b"data", rec={"type": "dir", "size": 0, H: None})
PY
	lie lie_type_fifo p "'p'" <<'PY'
f.fifo("p", rec={"type": "file", H: digest(b"")})
PY
	lie lie_symlink_target s "'s'" <<'PY'
f.symlink("s", T + "/outside", rec={"link": "inside"})
f.file("s/evil", b"evil")
PY
	lie lie_hardlink_target h "'h'" <<'PY'
f.file("a", b"a")
f.file("b", b"b")
f.hardlink("h", "a", rec={"link": "b"})
PY
	lie lie_mode_setuid suid "'suid'" <<'PY'
f.file("suid", b"#!/bin/sh\n", mode=0o4755, rec={"mode": 0o755})
PY
	lie lie_owner owned "'owned'" <<'PY'
f.file("owned", b"data", uid=0, gid=0, rec={"uid": 4242, "gid": 4242})
PY
	lie lie_path claimed "'(real|claimed)'" <<'PY'
f.file("real", b"data", rec={"path": "claimed"})
PY
	LIE_MSG='disagree|more entries|manifest'
	LIE_PNAMES="'(extra|a|b)'|@ID" lie missing_from_manifest a "'(extra|b)'" <<'PY'
ra = f.file("a", b"a")
ex = f.file("extra", b"extra", mf=False)
ra["e"] = ex["e"]
f.file("b", b"b")
PY
	LIE_PNAMES="'ghost'|@ID" lie missing_from_tar ghost "'(ghost|b)'" <<'PY'
f.file("a", b"a")
f.file("ghost", b"ghost", in_tar=False)
f.file("b", b"b")
PY
	LIE_MSG='bytes|size|disagree'
	lie lie_size sized "'sized'" <<'PY'
f.file("sized", b"data", rec={"size": 999})
PY
	lie lie_size_huge huge "'huge'" <<'PY'
f.file("huge", b"data", rec={"size": 2**63 - 1})
PY
	LIE_MSG='hash|match|disagree'
	lie lie_hash hashed "'hashed'" <<'PY'
f.file("hashed", b"data", rec={H: "00" * 32})
PY
	LIE_MSG='.'
	C_OVERWRITE=any C_VERIFY=any lie duplicate_path dup "'dup'" <<'PY'
f.file("dup", b"one")
f.file("dup", b"two")
f.file("after", b"after")
PY
}

# ---------------------------------------------------------------------------
# Bad chunk tables (the authenticated manifest's "chunk" records) and
# decompression bombs: refused as corrupt before anything is decompressed.
chunky() {
	build "$1" <<'PY'
f.file("big", bytes(range(256)) * 100)
f.file("after", b"after")
PY
}
test_corpus_chunk_tables() {
	corpus_arena
	local c edits=(
		'chunk_plain_big|{"1":{"plain":5000}}'
		'chunk_offset|{"1":{"off":70}}'
		'chunk_duplicated|{"1":[{},{}]}'
		'chunk_dropped|{"2":null}'
		'chunk_plain_short|{"0":{"plain":4000}}'
		'chunk_len_huge|{"0":{"len":4294967295}}'
	)
	for c in "${edits[@]}"; do
		BKP_FORGE_CHUNK_EDIT=${c#*|} chunky "${c%%|*}"
		corpus "${c%%|*}" fail 'chunk|frame|record|corrupt|match' big "$ID"
	done
}

# Item 4: a record claiming a huge chunk count (and a matching data
# size) makes no allocation from it; and one over the bound.
test_corpus_huge_chunk_count() {
	corpus_arena
	BKP_FORGE_RECORD_EDIT="{\"chunks\":$((1 << 40)),\"data\":{\"size\":$(((1 << 40) * 20 + 64))}}" chunky huge_chunks
	C_KEYLESS=fail corpus huge_chunks fail '.' big "$ID"
	BKP_FORGE_RECORD_EDIT="{\"chunks\":$((1 << 40))}" chunky chunks_over_bound
	C_KEYLESS=fail corpus chunks_over_bound fail '.' big "$ID"
}

test_corpus_decompression_bombs() {
	corpus_arena
	BKP_FORGE_BOMB=$((64 << 20)) chunky bomb_declared
	corpus bomb_declared fail '.' big "$ID"
	BKP_FORGE_BOMB=$((64 << 20)) BKP_FORGE_BOMB_NOSIZE=1 chunky bomb_undeclared
	corpus bomb_undeclared fail '.' big "$ID"
}

# ---------------------------------------------------------------------------
# Sparse maps (item 3): holes beyond what the data justifies are refused
# quickly, naming the entry; a malformed map has a real reason.
test_corpus_sparse() {
	corpus_arena
	build sparse_2p50 <<'PY'
f.file("before", b"before")
f.sparse("sp/huge", 1 << 50, [((1 << 50) - 512, b"x" * 512)], content_hash="00" * 32)
PY
	C_TIMEOUT=30 corpus sparse_2p50 fail 'hole|sparse' 'sp/huge' "'sp/huge'"
	build sparse_over_budget <<'PY'
f.sparse("sp/257g", (257 << 30) + 4096, [(257 << 30, b"y" * 1024)], content_hash="00" * 32)
PY
	C_TIMEOUT=30 corpus sparse_over_budget fail 'hole|sparse' 'sp/257g' "'sp/257g'"
	build sparse_map_text <<'PY'
f.sparse("sp/bad", 4096, [(0, b"z" * 10)], map_text=b"1\nabc\n10\n")
PY
	C_TIMEOUT=30 corpus sparse_map_text fail 'sparse|map|malformed' 'sp/bad' "'sp/bad'"
	build sparse_map_beyond <<'PY'
f.sparse("sp/beyond", 1000, [(0, b"z" * 10)], map_text=b"1\n2000000\n10\n", content_hash="00" * 32)
PY
	C_TIMEOUT=30 corpus sparse_map_beyond fail 'sparse|map|malformed|beyond|size' 'sp/beyond' "'sp/beyond'"
	build sparse_map_count <<'PY'
f.sparse("sp/count", 4096, [(0, b"z" * 10)], map_text=b"999999999999\n0\n10\n")
PY
	C_TIMEOUT=30 corpus sparse_map_count fail 'sparse|map|malformed' 'sp/count' "'sp/count'"
	build sparse_map_order <<'PY'
f.sparse("sp/order", 8192, [(4096, b"b" * 10), (0, b"a" * 10)])
PY
	C_TIMEOUT=30 corpus sparse_map_order fail 'sparse|map|malformed|order' 'sp/order' "'sp/order'"
}

# ---------------------------------------------------------------------------
# Oversized lines and records.
test_corpus_oversized() {
	corpus_arena
	build manifest_line_over <<'PY'
f.file("small", b"small")
f.raw_line(b'{"t":"skipped","path":"' + b"x" * (1 << 20) + b'","reason":"x"}\n')
PY
	corpus manifest_line_over fail 'long|line|manifest' small "$ID"
	build pax_record_huge <<'PY'
f.file("small", b"small")
o = f.tar.offset
f.tar.record(header(name=b"PaxHeader/big", size=40, typeflag=b"x"), b"99999999999 path=" + b"a" * 23)
f.tar.record(header(name=b"paxbig", size=4), b"data")
f.record({"t": "file", "path": "paxbig", "type": "file", "mode": 420, "uid": 0, "gid": 0,
          "mtime": 1700000000, "size": 4, H: digest(b"data"), "o": o, "e": f.tar.offset})
PY
	# libarchive skips a malformed pax record with a warning: any outcome
	# but a crash, a hang or a write outside.
	corpus pax_record_huge any '.' paxbig "$ID"
	build gnu_name_huge <<'PY'
f.file("small", b"small")
f.file("n" * (2 << 20), b"data", names="gnu")
PY
	corpus gnu_name_huge fail '.' small "$ID|'n+"
	build header_size_huge <<'PY'
f.file("sz", b"data", hdr={"size": 1 << 62}, rec={"size": 1 << 62})
PY
	corpus header_size_huge fail '.' sz "$ID|'sz'"
}

# ---------------------------------------------------------------------------
# Special files and security metadata (item 6): withheld by default, named
# in a warning, exit 3; restored with --devices, --setuid, --xattrs=all.
special_post() {
	local d=$1
	[ -d "$d" ] || return 0
	[ ! -c "$d/dev/null2" ] && [ ! -b "$d/dev/loopy" ] || c_fail "a device node was created without --devices"
	if [ -e "$d/bin/suid" ]; then
		[ ! -u "$d/bin/suid" ] || c_fail "bin/suid kept its setuid bit without --setuid"
		[ ! -g "$d/bin/sgid" ] || c_fail "bin/sgid kept its setgid bit without --setuid"
	fi
	if [ -e "$d/cap" ] && getfattr -n security.capability "$d/cap" >/dev/null 2>&1; then
		c_fail "security.capability restored without --xattrs=all"
	fi
	if [ -e "$d/trust" ] && getfattr -n trusted.x "$d/trust" >/dev/null 2>&1; then
		c_fail "trusted.x restored without --xattrs=all"
	fi
	[ "$MODE" = partial ] || [ -p "$d/fifo" ] || c_fail "the FIFO was not created"
	[ "$MODE" = partial ] || [ "$(getfattr --only-values -n user.x "$d/user" 2>/dev/null)" = ux ] ||
		c_fail "user.x was not restored"
}
test_corpus_special_files() {
	corpus_arena
	build special <<'PY'
import struct
f.dir("dev")
f.device("dev/null2", "chr", 1, 3)
f.device("dev/loopy", "blk", 7, 200)
f.fifo("fifo")
f.dir("bin")
f.file("bin/suid", b"#!/bin/sh\n", mode=0o4755, uid=0)
f.file("bin/sgid", b"#!/bin/sh\n", mode=0o2755, gid=0)
cap = struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0)  # VFS_CAP v2, effective, cap_net_bind_service
f.file("cap", b"cap", pax={"SCHILY.xattr.security.capability": cap})
f.file("trust", b"t", pax={"SCHILY.xattr.trusted.x": "tx"})
f.file("user", b"u", pax={"SCHILY.xattr.user.x": "ux"})
PY
	C_POST=special_post C_PNAMES="'dev/null2'" corpus special withheld 'withheld|not restored|polic' 'dev' \
		"'dev/null2'" "'dev/loopy'" "'bin/suid'" "'bin/sgid'" "'cap'" "'trust'"
	# Faithful restores on request.
	MODE=faithful
	(
		crun restore -r "$REPO" -k "$KEY" "$ID" --target rt/faithful --devices --setuid --xattrs=all
		[ "$(_rc)" = 0 ] || c_fail "restore --devices --setuid --xattrs=all exited $(_rc): $(head -c 300 "$BKPT_DIR/stderr" | tr '\n' '|')"
		[ -c rt/faithful/dev/null2 ] && [ -b rt/faithful/dev/loopy ] || c_fail "--devices: device nodes not created"
		[ -u rt/faithful/bin/suid ] && [ -g rt/faithful/bin/sgid ] || c_fail "--setuid: setuid/setgid bits not kept"
		getfattr -n security.capability rt/faithful/cap >/dev/null 2>&1 || c_fail "--xattrs=all: security.capability not restored"
		getfattr -n trusted.x rt/faithful/trust >/dev/null 2>&1 || c_fail "--xattrs=all: trusted.x not restored"
	) || true
	(
		crun restore -r "$REPO" -k "$KEY" "$ID" --target rt/noxattrs --xattrs=none --devices --setuid
		[ "$(_rc)" = 0 ] || c_fail "restore --xattrs=none exited $(_rc): $(head -c 300 "$BKPT_DIR/stderr" | tr '\n' '|')"
		[ -z "$(getfattr -d -m - rt/noxattrs/user rt/noxattrs/cap rt/noxattrs/trust 2>/dev/null)" ] ||
			c_fail "--xattrs=none restored extended attributes"
	) || true
}

# ---------------------------------------------------------------------------
# Control characters in names (item 5): every message escapes them
# (\033, \a, \r, \\, octal for C1 and invalid UTF-8); --json is ASCII.
test_corpus_control_chars() {
	corpus_arena
	build control_chars <<'PY'
f.file("before", b"before")
f.file("../\x1b]0;owned\x07\x1b[2J", b"e")            # ESC, BEL
f.file(U + "/csi\u009b31m", b"e")                       # C1 CSI, absolute
f.file("../cr\rname", b"e")                               # CR
f.file(b"../bad\\\xff", b"e")                             # backslash, invalid UTF-8
f.file("after", b"after")
PY
	C_POST=no_tmp_escape C_PARTIAL=ok corpus control_chars fail '.' 'before' \
		"'\.\./\\\\033\]0;owned\\\\a\\\\033\[2J'" "'$(re_quote "$U")/csi\\\\302\\\\23331m'" \
		"'\.\./cr\\\\rname'" "'\.\./bad\\\\\\\\\\\\377'"
	MODE=json
	(
		crun restore -r "$REPO" -k "$KEY" "$ID" --target rt/json --json
		LC_ALL=C grep -aqP '[^\x0a\x20-\x7e]' "$BKPT_DIR/stdout" &&
			c_fail "restore --json printed a byte that is not printable ASCII: $(LC_ALL=C grep -aP '[^\x0a\x20-\x7e]' "$BKPT_DIR/stdout" | head -c 200 | cat -v)"
		json_valid "$BKPT_DIR/stdout" || c_fail "restore --json did not print JSON"
		! LC_ALL=C grep -aqP '[\x1b\x07\x0d]|\xc2\x9b' "$BKPT_DIR/stderr" || c_fail "raw control bytes on stderr with --json"
	) || true
}

# ---------------------------------------------------------------------------
# --overwrite replaces a file by a new one (item 2): the outside hard link
# to the old victim.txt keeps its content, for tar and raw archives.
overwrite_post() {
	[ "$MODE" = overwrite ] || return 0
	[ "$(cat "$1/victim.txt")" = replaced ] || c_fail "--overwrite did not replace victim.txt"
}
test_corpus_overwrite_tar() {
	corpus_arena
	build overwrite_tar <<'PY'
f.file("victim.txt", b"replaced\n")
PY
	C_POST=overwrite_post C_FRESH=ok C_PARTIAL=ok C_OVERWRITE=ok C_VERIFY=ok C_DRILL=ok \
		corpus overwrite_tar fail 'exist|overwrit' 'victim.txt' "'victim.txt'"
}
test_corpus_overwrite_raw() {
	corpus_arena
	printf 'replaced\n' >"$T/work/raw"
	backup_id overwrite_raw --stdin-name victim.txt - <"$T/work/raw"
	C_POST=overwrite_post C_FRESH=ok C_PARTIAL=ok C_OVERWRITE=ok C_VERIFY=ok C_DRILL=ok \
		corpus overwrite_raw fail 'exist|overwrit' 'victim.txt' "'victim.txt'"
}

# ---------------------------------------------------------------------------
# Item 7: a record whose host field is malformed is reported as such.
test_corpus_record_host() {
	corpus_arena
	BKP_FORGE_RECORD_EDIT='{"host":42}' chunky host_number
	C_KEYLESS=fail C_DRILL=any corpus host_number fail 'malformed|invalid|host' big "$ID"
	run_bkp list -r "$REPO"
	! grep -aqi 'no archive' "$BKPT_DIR/stderr" || fail "list says 'no archive' for a malformed record"
}
