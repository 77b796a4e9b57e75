# shellcheck shell=bash
# The S3 server dies in the middle of a backup: the backup fails with a
# clear error, nothing is visible after the server comes back, and the next
# backup succeeds.  A file of its own: the test kills and restarts the
# server (s3rver and the checking proxy, tests/s3/harness.sh).

S3_HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../s3" && pwd)/harness.sh

setup_file() {
	# shellcheck source=../s3/harness.sh
	. "$S3_HARNESS"
	s3_start "$FILE_TMP/s3"
}

teardown_file() {
	s3_stop
}

test_s3_server_killed_mid_upload() {
	local PFX=t-$(basename "$T") i rc
	local REPO=s3://$S3_BUCKET/$PFX
	export BKP_S3_PART_SIZE=262144 BKP_S3_MAX_TRIES=3 BKP_S3_RETRY_BASE_MS=100
	run_bkp keygen key
	expect_exit 0
	run_bkp init -r "$REPO" --recipient key.pub
	expect_exit 0
	mkdir src
	head -c 6000000 /dev/urandom >src/big.bin
	# Slow part 6 down so that the kill lands mid-upload.
	s3_fault "{\"method\":\"PUT\",\"path\":\"/$PFX/data/\",\"query\":\"partNumber=6&\",\"action\":\"delay\",\"delay\":5,\"count\":1}"
	"$BKP" backup -r "$REPO" --name doomed src >bk.out 2>bk.err &
	local pid=$!
	for i in $(seq 1 200); do
		grep -F "/$PFX/data/" "$S3_PROXY_LOG" | grep -q 'partNumber=3&' && break
		sleep 0.1
	done
	grep -F "/$PFX/data/" "$S3_PROXY_LOG" | grep -q 'partNumber=3&' ||
		fail "the upload never got going"
	s3_kill
	wait "$pid"
	rc=$?
	note "backup after the kill: exit $rc: $(cat bk.err)"
	[ "$rc" -ne 0 ] || fail "backup succeeded although the server died"
	grep -qE "^bkp: .*(cannot connect|dropped|timed out)" bk.err ||
		fail "no clear error: $(cat bk.err)"
	san_check bk.err
	s3_restart || fail "cannot restart the server"
	run_bkp list -r "$REPO"
	expect_exit 0
	expect_stdout_nomatch '^[0-9a-f]{32}'
	run_bkp backup -r "$REPO" --name second src
	expect_exit 0
	local id
	id=$(head -n 1 "$BKPT_DIR/stdout")
	run_bkp list -r "$REPO"
	expect_exit 0
	[ "$(grep -cE '^[0-9a-f]{32}' "$BKPT_DIR/stdout")" -eq 1 ] || fail "expected exactly one archive"
	run_bkp restore -r "$REPO" -k key "$id" --target out
	expect_exit 0
	cmp src/big.bin out/src/big.bin || fail "restored data differs"
}
