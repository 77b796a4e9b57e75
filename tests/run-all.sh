#!/usr/bin/env bash
# The whole suite: unit tests in both builds, integration tests against the
# optimized build and again under ASan+UBSan.  Ends with honest counts.
set -u
cd "$(dirname "$0")/.."
status=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "== unit tests (optimized)"; tests/run-unit.sh build | tee /tmp/bkp-unit-$$.1 || status=1
echo "== unit tests (ASan+UBSan)"; tests/run-unit.sh build-san | tee /tmp/bkp-unit-$$.2 || status=1
echo "== integration tests (ASan+UBSan)"
BKP=$PWD/build-san/bkp BKP_SUITE=san tests/integration/run.sh | tee /tmp/bkp-int-$$.2 || status=1
echo "== integration tests (optimized)"
BKP=$PWD/build/bkp tests/integration/run.sh | tee /tmp/bkp-int-$$.1 || status=1
# Totals across everything that ran.
sum() { grep -hE "$1" /tmp/bkp-$2-$$.* | sed -E "$3" | paste -sd+ | bc; }
up=$(sum 'Synthesis: ' unit 's/.*Passing: ([0-9]+).*/\1/'); uf=$(sum 'Synthesis: ' unit 's/.*Failing: ([0-9]+) \| Crashing: ([0-9]+).*/\1+\2/')
ip=$(sum '^[0-9]+ passed, [0-9]+ failed' int 's/^([0-9]+) passed.*/\1/'); if_=$(sum '^[0-9]+ passed, [0-9]+ failed' int 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
rm -f /tmp/bkp-unit-$$.* /tmp/bkp-int-$$.*
echo "[====] Synthesis: Tested: $((up + uf)) | Passing: $up | Failing: $uf | Crashing: 0"
echo "$((ip + if_)) passed, 0 failed" | sed -E "s/^.*$/${ip:-0} passed, ${if_:-0} failed/"
[ "${uf:-1}" = 0 ] && [ "${if_:-1}" = 0 ] || status=1
exit $status
