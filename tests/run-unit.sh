#!/usr/bin/env bash
# Run every Criterion unit-test binary in BUILD/tests; print one Synthesis line.
set -u
build=${1:-build}
pass=0 fail=0 crash=0 status=0
for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	out=$("$t" --jobs=2 2>&1); rc=$?
	line=$(printf '%s\n' "$out" | grep 'Synthesis:' | tail -n 1)
	if [ $rc -ne 0 ] || [ -z "$line" ]; then
		printf '%s\n' "$out" | grep -vE '^\[----\]|^\[====\]' | tail -n 30
		status=1
	fi
	read -r p f c <<<"$(printf '%s' "$line" | sed -E 's/.*Passing: ([0-9]+).*Failing: ([0-9]+).*Crashing: ([0-9]+).*/\1 \2 \3/')"
	[ -n "${p:-}" ] || { p=0; f=1; c=0; }
	pass=$((pass + p)); fail=$((fail + f)); crash=$((crash + c))
	printf '  %-32s %s\n' "$(basename "$t")" "${line#*Synthesis: }"
done
echo "[====] Synthesis: Tested: $((pass + fail)) | Passing: $pass | Failing: $fail | Crashing: $crash ($build)"
exit $status
