#!/usr/bin/env bash
# The whole suite: unit tests in both builds, integration tests under
# ASan+UBSan and optimized.  Ends with honest totals: Criterion's Synthesis
# line for the unit tests and "N passed, N failed" for the integration suite.
set -u
cd "$(dirname "$0")/.."
status=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
echo "== unit tests (optimized)"
tests/run-unit.sh build | tee "$log/unit1" || status=1
echo "== unit tests (ASan+UBSan)"
tests/run-unit.sh build-san | tee "$log/unit2" || status=1
# The two integration suites run side by side: their tests spend most of
# their time starting processes and waiting on the disk, so two of them
# keep a 2-core machine busy where one does not.  Each suite's output
# follows once it has ended.
echo "== integration tests: ASan+UBSan and optimized, side by side"
BKP=$PWD/build-san/bkp BKP_SUITE=san tests/integration/run.sh >"$log/int1" 2>&1 &
san=$!
BKP=$PWD/build/bkp tests/integration/run.sh >"$log/int2" 2>&1 &
opt=$!
wait "$opt" || status=1
echo "== integration tests (optimized)"
cat "$log/int2"
wait "$san" || status=1
echo "== integration tests (ASan+UBSan)"
cat "$log/int1"
# Totals of everything that ran.
read -r up uf uc <<<"$(grep -h '^\[====\] Synthesis:' "$log"/unit* | awk '
	{ for (i = 1; i <= NF; i++) {
		if ($i == "Passing:") p += $(i + 1)
		if ($i == "Failing:") f += $(i + 1)
		if ($i == "Crashing:") c += $(i + 1) } }
	END { print p + 0, f + 0, c + 0 }')"
read -r ip if_ <<<"$(grep -hE '^[0-9]+ passed, [0-9]+ failed' "$log"/int* | awk '
	{ p += $1; f += $3 } END { print p + 0, f + 0 }')"
n_unit=$(grep -c '^\[====\] Synthesis:' "$log"/unit1 "$log"/unit2 | awk -F: '{ s += $2 } END { print s }')
n_int=$(grep -chE '^[0-9]+ passed, [0-9]+ failed' "$log"/int1 "$log"/int2 | awk '{ s += $1 } END { print s }')
# A run that printed no totals counts as a failure.
[ "$n_unit" -ge 2 ] && [ "$n_int" -ge 2 ] || { status=1; if_=$((if_ + 1)); }
[ "$uf" = 0 ] && [ "$uc" = 0 ] && [ "$if_" = 0 ] || status=1
echo "== totals"
echo "[====] Synthesis: Tested: $((up + uf + uc)) | Passing: $up | Failing: $uf | Crashing: $uc"
echo "$ip passed, $if_ failed"
exit $status
