#!/usr/bin/env bash
# Install what is missing, build (optimized and ASan+UBSan), and run every
# test: Criterion unit tests and the integration suite (real binary, real
# s3rver behind a signature-checking proxy) in both builds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
make -s -j"$(nproc)" all unit-bins
make -s -j"$(nproc)" SAN=1 all unit-bins
tests/run-all.sh
