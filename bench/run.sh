#!/bin/sh
# make bench: bkp against restic, borg and the pipeline limit (issue 6).
# Installs what it needs from Debian if missing, starts s3rver on loopback
# (through bench/bench.py) when tests/s3 has it installed.
# Knobs (environment): BENCH_SIZE (2G), BENCH_REPS (3), BENCH_SEED,
# BENCH_QUICK=1 (no 4x / big-file memory runs), BENCH_BIGFILE (8G),
# BENCH_DIR (bench/out), BENCH_ONLY=bkp,restic,..., BENCH_S3=0, BKP,
# BENCH_NIGHTLY=0 (no nightly cases), BENCH_NIGHTLY_S3=1, BENCH_DUMP_SIZE.
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
[ -x /usr/bin/time ] || need="$need time"
if [ -n "$need" ]; then
	echo "bench: installing from Debian:$need"
	if [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y $need >"$out/apt.log" 2>&1 ||
			{ apt-get update >>"$out/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y $need >>"$out/apt.log" 2>&1; } ||
			{ echo "bench: apt-get install$need failed, see $out/apt.log" >&2; exit 1; }
	else
		echo "bench: missing$need; run as root or: sudo apt-get install$need" >&2
		exit 1
	fi
fi

# S3 on loopback: bench.py starts s3rver itself (tests/s3/node_modules),
# without the tests' checking proxy, which would be measured too.
if [ "${BENCH_S3:-1}" = 0 ]; then
	export BENCH_S3_SKIP="BENCH_S3=0"
elif ! command -v node >/dev/null 2>&1; then
	export BENCH_S3_SKIP="node not installed (apt-get install nodejs)"
elif [ ! -x "$root/tests/s3/node_modules/.bin/s3rver" ]; then
	export BENCH_S3_SKIP="s3rver not installed (cd tests/s3 && npm ci)"
elif ! command -v openssl >/dev/null 2>&1; then
	export BENCH_S3_SKIP="openssl not installed (needed for restic's TLS endpoint)"
fi

cd "$root"
exec /usr/bin/python3 "$here/bench.py"
