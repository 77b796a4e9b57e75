#!/usr/bin/env bash
# serve.sh DIR: run the test S3 server (s3rver behind the checking proxy,
# see harness.sh) until SIGTERM.  When ready, DIR/env holds the exported
# settings as NAME=VALUE lines (written atomically).  Used by the C-level
# backend tests (tests/unit/test_s3backend.c).
set -u
dir=${1:?usage: serve.sh DIR}
. "$(dirname "$0")/harness.sh"
trap 's3_stop; exit 0' TERM INT
s3_start "$dir" || { s3_stop; exit 1; }
{
	echo "BKP_TEST_S3_ENDPOINT=$BKP_TEST_S3_ENDPOINT"
	echo "S3_PROXY_PORT=$S3_PROXY_PORT"
	echo "S3_PROXY_LOG=$S3_PROXY_LOG"
	echo "S3_BUCKET=$S3_BUCKET"
} >"$S3_DIR/env.tmp" && mv "$S3_DIR/env.tmp" "$S3_DIR/env"
while :; do
	sleep 1 &
	wait $!
done
