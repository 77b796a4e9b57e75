# shellcheck shell=bash
# bkp drill and bkp report against an S3 repository: s3rver behind the
# checking proxy (tests/s3/harness.sh).  One server for the file; each test
# uses its own prefix.

S3_HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../s3" && pwd)/harness.sh

setup_file() {
	# shellcheck source=../s3/harness.sh
	. "$S3_HARNESS"
	s3_start "$FILE_TMP/s3"
}

teardown_file() {
	s3_stop
}

# s3d_setup: a repository under this test's prefix with one archive of
# dataset "ehr"; sets REPO, KEY, PFX, ID, SCR.
s3d_setup() {
	. "$S3_HARNESS"
	PFX=t-$(basename "$T")
	REPO=s3://$S3_BUCKET/$PFX
	KEY=$T/key
	export REPO KEY PFX
	run_bkp keygen "$KEY"
	expect_exit 0
	run_bkp init -r "$REPO" --recipient "$KEY.pub"
	expect_exit 0
	make_dataset src
	run_bkp backup -r "$REPO" --name ehr src
	expect_exit 0
	ID=$(head -n 1 "$BKPT_DIR/stdout")
	[[ $ID =~ ^[0-9a-f]{32}$ ]] || fail "backup printed '$ID'"
	SCR=$T/scratch
	mkdir -p "$SCR"
}

# s3d_records: the drill record keys under this test's prefix, in order.
s3d_records() {
	s3_aws s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "$PFX/drills/" \
		--output json | python3 -c '
import json, sys
o = json.load(sys.stdin)
for c in sorted(x["Key"] for x in o.get("Contents", [])):
    print(c)'
}

test_drill_s3_passes_and_report_reads_it() {
	s3d_setup
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR"
	expect_exit 0
	expect_stdout_match "drill ehr ${ID:0:12}: PASS"
	[ -z "$(ls -A "$SCR")" ] || fail "scratch not wiped"
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR" --hook 'exit 5'
	expect_exit 1
	local keys
	mapfile -t keys < <(s3d_records)
	[ "${#keys[@]}" = 2 ] || fail "expected 2 drill records on S3, found ${#keys[@]}"
	s3_aws s3 cp "s3://$S3_BUCKET/${keys[0]}" first.json >/dev/null || fail "cannot fetch record"
	s3_aws s3 cp "s3://$S3_BUCKET/${keys[1]}" second.json >/dev/null || fail "cannot fetch record"
	python3 - first.json second.json "$ID" "${keys[0]#"$PFX"/}" <<'PY' || fail "records on S3"
import hashlib, json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a["result"] == "pass" and a["archive"]["id"] == sys.argv[3]
assert b["result"] == "fail" and b["hooks"][0]["exit_code"] == 5
assert b["prev"]["key"] == sys.argv[4], b["prev"]
assert b["prev"]["blake2b"] == hashlib.blake2b(open(sys.argv[1], "rb").read(), digest_size=32).hexdigest()
PY
	run_bkp report -r "$REPO" --format json --out r.json
	expect_exit 0
	python3 - r.json <<'PY' || fail "report over S3"
import json, sys
o = json.load(open(sys.argv[1]))
assert len(o["drills"]) == 2 and o["chain"]["breaks"] == 0
assert [d["result"] for d in o["drills"]] == ["pass", "fail"]
PY
	run_bkp report -r "$REPO" --out r.html
	expect_exit 0
	grep -q 'chain intact' r.html || fail "HTML report over S3"
	! grep -qF hello.txt r.html || fail "file name in the report"
}

test_drill_s3_corrupted_object_fails() {
	s3d_setup
	local dkey
	s3_aws s3 cp "s3://$S3_BUCKET/$PFX/archives/$ID.json" rec.json >/dev/null || fail "cannot fetch archive record"
	dkey=$(python3 -c 'import json,sys; print(json.load(open("rec.json"))["data"]["key"])')
	s3_aws s3 cp "s3://$S3_BUCKET/$PFX/$dkey" data.bin >/dev/null || fail "cannot fetch data object"
	flip_byte data.bin $(($(stat -c %s data.bin) / 2))
	s3_aws s3 cp data.bin "s3://$S3_BUCKET/$PFX/$dkey" >/dev/null || fail "cannot replace data object"
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR"
	expect_exit 1
	expect_stdout_match 'restore failed: archive is damaged'
	[ -z "$(ls -A "$SCR")" ] || fail "scratch not wiped"
	[ "$(s3d_records | wc -l)" = 1 ] || fail "the failed drill was not recorded"
}
