#!/usr/bin/env bash
# Run libFuzzer harnesses: tests/fuzz/run.sh BUILD SECONDS NAME...
# Each BUILD/fuzz/fuzz_NAME runs SECONDS on its seeds (tests/fuzz/corpus/
# NAME, read only) plus a working corpus in BUILD/corpus/NAME that keeps
# what it finds between runs.  A crash, leak, timeout or sanitizer report
# stops that harness and leaves the input in BUILD/artifacts/.
# Exit 0 if every harness ran clean, 1 otherwise.
set -u
build=$1 secs=$2
shift 2
status=0
mkdir -p "$build/artifacts"
for name in "$@"; do
	bin=$build/fuzz/fuzz_$name seeds=tests/fuzz/corpus/$name
	work=$build/corpus/$name log=$build/fuzz-$name.log
	mkdir -p "$work"
	printf 'fuzz_%s: %ss ... ' "$name" "$secs"
	if "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 \
	    -print_final_stats=1 -artifact_prefix="$build/artifacts/$name-" \
	    "$work" "$seeds" >"$log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "ok, ${execs:-?} executions"
	else
		echo "FAILED (see $log)"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" |
		    head -n 5
		status=1
	fi
done
exit $status
