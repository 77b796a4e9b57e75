#!/usr/bin/env bash
# Integration tests: drive the real bkp binary, one scratch directory per
# test.  Usage: BKP=/path/to/bkp tests/integration/run.sh [PATTERN]
# The contract (environment, helpers, output format) is documented at the top
# of tests/integration/lib.sh.
set -u

here=$(cd "$(dirname "$0")" && pwd)
pattern=${1:-}

# No controlling terminal for the tests (bkp must behave as under cron and
# never prompt): re-run in a session of our own when there is one.
if [ -z "${BKPT_DETACHED:-}" ] && (: </dev/tty) 2>/dev/null; then
	BKPT_DETACHED=1 exec setsid -w "$0" "$@"
fi
export BKPT_DETACHED=1

: "${BKP:=$here/../../build/bkp}"
case $BKP in /*) ;; *) BKP=$PWD/$BKP ;; esac
export BKP
export BKP_TEST_TIMEOUT=${BKP_TEST_TIMEOUT:-300}
export BKPT_LIB=$here/lib.sh
# Python snippets in the tests import bkpt_hash (the archive hashes,
# computed without bkp).
export PYTHONPATH=$here${PYTHONPATH:+:$PYTHONPATH}
command -v b3sum >/dev/null || { echo "FAIL (harness): b3sum not found; run scripts/deps.sh"; echo "0 passed, 1 failed"; exit 1; }
unset BKP_REPOSITORY BKP_KEY_FILE BKP_PASSPHRASE BKP_PASSPHRASE_FILE

if [ ! -x "$BKP" ]; then
	echo "FAIL (harness): BKP='$BKP' is not an executable; run make first"
	echo "0 passed, 1 failed"
	exit 1
fi

results=$(mktemp "${TMPDIR:-/tmp}/bkp-it-results.XXXXXX")
trap 'rm -f "$results"' EXIT

now_ms() { date +%s%3N; }

# report NAME STATUS MS DIR REASON: print the result line (and details).
report() {
	local name=$1 status=$2 ms=$3 dir=$4 reason=$5
	local secs
	secs=$(printf '%d.%d' $((ms / 1000)) $(((ms % 1000) / 100)))
	if [ "$status" = ok ]; then
		printf 'ok   %s (%ss)\n' "$name" "$secs"
		echo ok >>"$results"
	else
		printf 'FAIL %s (%ss)\n' "$name" "$secs"
		printf '%s\n' "$reason" | sed 's/^/    reason: /'
		if [ -n "$dir" ] && [ -f "$dir/.harness/output" ]; then
			echo "    last output (scratch dir kept: $dir):"
			tail -n 25 "$dir/.harness/output" | sed 's/^/    | /'
		fi
		echo FAIL >>"$results"
	fi
}

# run_test NAME: run test function NAME in a fresh scratch directory.
run_test() {
	local name=$1 T pid wd rc start ms reason timeout
	timeout=${TEST_TIMEOUT:-$BKP_TEST_TIMEOUT}
	T=$(mktemp -d "${TMPDIR:-/tmp}/bkp-it.XXXXXX")
	mkdir -p "$T/home" "$T/state" "$T/.harness/san"
	chmod 1777 "$T/.harness/san"
	start=$(now_ms)
	set -m
	(
		set +m
		cd "$T" || exit 1
		export T HOME=$T/home BKP_STATE_DIR=$T/state BKPT_DIR=$T/.harness
		export PASS=$PASS_DEFAULT BKP_PASSPHRASE=$PASS_DEFAULT
		unset BKP_REPOSITORY BKP_KEY_FILE BKP_PASSPHRASE_FILE
		export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86:log_path=$T/.harness/san/asan"
		export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=87:halt_on_error=1:print_stacktrace=1:log_path=$T/.harness/san/ubsan"
		shopt -s lastpipe
		"$name"
	) </dev/null >"$T/.harness/output" 2>&1 &
	pid=$!
	(
		trap 'exit 0' TERM
		sleep "$timeout" &
		wait $!
		# Not if the test ended meanwhile (we were being stopped).
		[ -e "$T/.harness/done" ] && exit 0
		echo "timed out after ${timeout}s" >>"$T/.harness/reason"
		kill -TERM -- "-$pid" 2>/dev/null
		sleep 2
		kill -KILL -- "-$pid" 2>/dev/null
	) >/dev/null 2>&1 &
	wd=$!
	set +m
	wait "$pid" 2>/dev/null
	rc=$?
	: >"$T/.harness/done"
	kill -TERM -- "-$wd" 2>/dev/null
	wait "$wd" 2>/dev/null
	# Whatever the test left running in its process group goes too.
	kill -KILL -- "-$pid" 2>/dev/null
	ms=$(($(now_ms) - start))

	reason=
	[ -s "$T/.harness/reason" ] && reason=$(cat "$T/.harness/reason")
	if [ -z "$reason" ] && [ "$rc" -ne 0 ]; then
		reason="test function returned $rc (last command of the test failed)"
	fi
	local f
	for f in "$T"/.harness/san/*; do
		[ -s "$f" ] || continue
		reason="${reason:+$reason
}sanitizer report: $(grep -m 1 -E 'ERROR|runtime error' "$f")"
		head -n 30 "$f" >>"$T/.harness/output"
	done
	if [ -z "$reason" ]; then
		report "$name" ok "$ms" "" ""
		chmod -R u+rwX "$T" 2>/dev/null
		rm -rf "$T"
	else
		report "$name" FAIL "$ms" "$T" "$reason"
	fi
}

# run_file FILE: in a subshell: its setup_file, tests, teardown_file.
run_file() {
	local file=$1 tests=() t FILE_TMP setup_rc=0
	set +u
	# shellcheck source=lib.sh
	. "$here/lib.sh"
	# shellcheck disable=SC1090
	. "$file"
	while read -r t; do
		declare -F "$t" >/dev/null || continue
		if [ -n "$pattern" ] && ! [[ $t =~ $pattern ]]; then continue; fi
		tests+=("$t")
	done < <(grep -oE '^[[:space:]]*(function[[:space:]]+)?test_[A-Za-z0-9_]+' "$file" |
		sed -E 's/^[[:space:]]*(function[[:space:]]+)?//' | awk '!seen[$0]++')
	[ "${#tests[@]}" -gt 0 ] || return 0
	FILE_TMP=$(mktemp -d "${TMPDIR:-/tmp}/bkp-it-file.XXXXXX")
	export FILE_TMP
	cd "$FILE_TMP" || return 1
	if declare -F setup_file >/dev/null; then
		setup_file >"$FILE_TMP/setup.log" 2>&1 </dev/null || setup_rc=$?
	fi
	for t in "${tests[@]}"; do
		if [ "$setup_rc" -ne 0 ]; then
			report "$t" FAIL 0 "" "setup_file of $(basename "$file") failed (exit $setup_rc): $(tail -n 5 "$FILE_TMP/setup.log")"
			continue
		fi
		run_test "$t"
	done
	if declare -F teardown_file >/dev/null; then
		cd "$FILE_TMP" && teardown_file >>"$FILE_TMP/setup.log" 2>&1 </dev/null
	fi
	cd / && rm -rf "$FILE_TMP"
}

for file in "$here"/t_*.sh; do
	[ -f "$file" ] || continue
	(run_file "$file")
done

passed=$(grep -c '^ok$' "$results")
failed=$(grep -c '^FAIL$' "$results")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
