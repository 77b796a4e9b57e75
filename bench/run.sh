#!/bin/sh
# make bench: bkp against restic, borg and the pipeline limit (issue 6).
# Installs what it needs from Debian if missing, starts s3rver on loopback
# when the S3 test harness is available, then runs bench/bench.py.
# Knobs (environment): BENCH_SIZE (2G), BENCH_REPS (3), BENCH_SEED,
# BENCH_QUICK=1 (no 4x / big-file memory runs), BENCH_BIGFILE (8G),
# BENCH_DIR (bench/out), BENCH_ONLY=bkp,restic,..., BENCH_S3=0, BKP.
# See docs/BENCH.md. Never part of `make test` or CI.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${BENCH_DIR:-$here/out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export BENCH_DIR="$out"

need=""
command -v restic >/dev/null 2>&1 || need="$need restic"
command -v borg >/dev/null 2>&1 || need="$need borgbackup"
command -v zstd >/dev/null 2>&1 || need="$need zstd"
command -v tar >/dev/null 2>&1 || need="$need tar"
[ -x /usr/bin/python3 ] || need="$need python3"
if [ -n "$need" ]; then
	echo "bench: installing from Debian:$need"
	if [ "$(id -u)" = 0 ]; then
		apt-get install -y $need >"$out/apt.log" 2>&1 ||
			{ apt-get update >>"$out/apt.log" 2>&1 && apt-get install -y $need >>"$out/apt.log" 2>&1; } ||
			{ echo "bench: apt-get install$need failed, see $out/apt.log" >&2; exit 1; }
	else
		echo "bench: missing$need; run as root or: sudo apt-get install$need" >&2
		exit 1
	fi
fi

# S3 on loopback, through the S3 engineer's harness (tests/s3/harness.sh).
# It defines s3_start DIR / s3_stop and exports AWS_* for the started server.
s3_started=0
cleanup() {
	if [ "$s3_started" = 1 ]; then s3_stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ "${BENCH_S3:-1}" = 0 ]; then
	export BENCH_S3_SKIP="BENCH_S3=0"
elif [ ! -f "$root/tests/s3/harness.sh" ]; then
	export BENCH_S3_SKIP="tests/s3/harness.sh not there yet"
elif [ ! -d "$root/tests/s3/node_modules/s3rver" ]; then
	export BENCH_S3_SKIP="s3rver not installed (cd tests/s3 && npm ci)"
else
	. "$root/tests/s3/harness.sh"
	s3dir="$out/work/s3"
	rm -rf "$s3dir"
	mkdir -p "$s3dir"
	# prefer s3rver without the checking proxy: the proxy would be measured too
	export S3_NO_PROXY=1
	if s3_start "$s3dir" >"$out/s3-start.log" 2>&1; then
		s3_started=1
		export BENCH_S3_ENDPOINT="${S3_ENDPOINT:-${AWS_ENDPOINT_URL:-}}"
		export BENCH_S3_BUCKET="${S3_BUCKET:-bench}"
		export BENCH_S3_DATADIR="${S3_DATA_DIR:-$s3dir}"
		if [ -z "$BENCH_S3_ENDPOINT" ]; then
			export BENCH_S3_SKIP="harness started but exported no endpoint"
		fi
	else
		export BENCH_S3_SKIP="s3_start failed, see $out/s3-start.log"
	fi
fi

cd "$root"
/usr/bin/python3 "$here/bench.py"
