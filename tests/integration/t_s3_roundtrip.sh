# shellcheck shell=bash
# S3 repositories end to end: bkp against s3rver behind the checking proxy
# (tests/s3/harness.sh), which recomputes every request's SigV4 signature
# with botocore and checks every payload digest.  One server for the file;
# each test uses its own prefix.

S3_HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../s3" && pwd)/harness.sh

setup_file() {
	# shellcheck source=../s3/harness.sh
	. "$S3_HARNESS"
	s3_start "$FILE_TMP/s3"
}

teardown_file() {
	s3_stop
}

# s3t_repo: a key pair and a fresh repository under this test's prefix.
s3t_repo() {
	. "$S3_HARNESS"
	PFX=t-$(basename "$T")
	REPO=s3://$S3_BUCKET/$PFX
	KEY=$T/key
	KEYPUB=$T/key.pub
	export REPO KEY KEYPUB PFX
	run_bkp keygen "$KEY"
	expect_exit 0
	run_bkp init -r "$REPO" --recipient "$KEYPUB" "$@"
	expect_exit 0
}

# s3t_no_rejects: the proxy accepted every request of this test's prefix.
s3t_no_rejects() {
	local n
	n=$(grep -F "/$S3_BUCKET/$PFX/" "$S3_PROXY_LOG" | grep -c '"rejected"')
	[ "$n" -eq 0 ] || fail "the proxy rejected $n requests: $(grep -F "/$PFX/" "$S3_PROXY_LOG" | grep '"rejected"' | head -3)"
	n=$(grep -cF "/$S3_BUCKET/$PFX/" "$S3_PROXY_LOG")
	[ "$n" -gt 0 ] || fail "no request of this test reached the proxy"
}

test_s3_roundtrip_backup_list_restore_verify() {
	s3t_repo
	make_dataset src
	backup_id tree src
	local id1=$ID
	printf 'stdin payload %s\n' "$(seq 1 2000)" >in.txt
	run_bkp backup -r "$REPO" --name piped --stdin-name piped.txt - <in.txt
	expect_exit 0
	local id2
	id2=$(head -n 1 "$BKPT_DIR/stdout")
	[[ $id2 =~ ^[0-9a-f]{32}$ ]] || fail "stdin backup printed '$id2'"

	run_bkp list -r "$REPO"
	expect_exit 0
	expect_stdout_match "$id1"
	expect_stdout_match "$id2"
	run_bkp list -r "$REPO" --json
	expect_exit 0
	json_valid "$BKPT_DIR/stdout" || fail "list --json is not JSON"

	run_bkp restore -r "$REPO" -k "$KEY" "$id1" --target out
	expect_exit 0
	tree_equal src out/src

	run_bkp restore -r "$REPO" -k "$KEY" "$id2" --target out2
	expect_exit 0
	cmp in.txt out2/piped.txt || fail "stdin archive restored differently"

	# Partial restore: one subtree only.
	local sub
	sub=$(cd src && find . -mindepth 1 -maxdepth 1 -type d | head -n 1 | sed 's|^\./||')
	[ -n "$sub" ] || fail "dataset has no directory"
	run_bkp restore -r "$REPO" -k "$KEY" "$id1" --target part --include "src/$sub/*"
	expect_exit 0
	[ -d "part/src/$sub" ] || fail "partial restore missed src/$sub"
	[ "$(find part/src -mindepth 1 -maxdepth 1 | wc -l)" -eq 1 ] ||
		fail "partial restore brought more than src/$sub: $(ls part/src)"
	diff -r "src/$sub" "part/src/$sub" || fail "partial restore differs"

	run_bkp verify -r "$REPO" --all
	expect_exit 0
	run_bkp verify -r "$REPO" -k "$KEY" --all
	expect_exit 0
	run_bkp verify -r "$REPO" -k "$KEY" "$id2"
	expect_exit 0
	s3t_no_rejects
}

# awscli, an independent client, sees a normal, complete object set whose
# sizes and BLAKE3 hashes (by b3sum) match what bkp recorded.
test_s3_awscli_sees_complete_objects() {
	s3t_repo
	mkdir -p src
	head -c 3000000 /dev/urandom >src/big.bin
	echo small >src/small.txt
	# Several parts, to exercise the multipart path.
	BKP_S3_PART_SIZE=524288 backup_id multi src
	s3_aws s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "$PFX/" \
		--output json >listing.json || fail "awscli cannot list"
	s3_aws s3 cp "s3://$S3_BUCKET/$PFX/archives/$ID.json" record.json ||
		fail "awscli cannot download the record"
	python3 - "$PFX" listing.json record.json <<'EOF' || fail "listing or record check failed"
import json, sys
pfx, listing, record = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
keys = {o["Key"][len(pfx) + 1:]: o["Size"] for o in listing["Contents"]}
rid = record["id"]
want = {"config", "archives/%s.json" % rid, record["data"]["key"], record["manifest"]["key"]}
missing = want - set(keys)
assert not missing, "missing objects: %s" % missing
for part in ("data", "manifest"):
    k, size = record[part]["key"], record[part]["size"]
    assert keys[k] == size, "%s: listed %d, recorded %d" % (k, keys[k], size)
print("\n".join("%s %s %s" % (p, record[p]["key"], record[p]["blake3"]) for p in ("data", "manifest")))
EOF
	python3 -c 'import json,sys; r=json.load(open("record.json")); print(r["data"]["key"], r["data"]["size"], r["data"]["blake3"]); print(r["manifest"]["key"], r["manifest"]["size"], r["manifest"]["blake3"])' >want.txt
	local key size hash got
	while read -r key size hash; do
		s3_aws s3 cp "s3://$S3_BUCKET/$PFX/$key" obj.bin >/dev/null || fail "awscli cannot download $key"
		[ "$(stat -c %s obj.bin)" -eq "$size" ] || fail "$key: downloaded $(stat -c %s obj.bin) bytes, recorded $size"
		got=$(b3sum --no-names obj.bin)
		[ "$got" = "$hash" ] || fail "$key: BLAKE3 $got, recorded $hash"
		note "$key: $size bytes, BLAKE3 (b3sum) matches"
	done <want.txt
	[ "$(wc -l <want.txt)" -eq 2 ] || fail "record lacks data/manifest"
	# The data object went up in parts (3 MB with 512 KiB parts).
	grep -F "/$PFX/data/" "$S3_PROXY_LOG" | grep -q 'partNumber=6&' ||
		fail "data object was not uploaded in parts"
	s3t_no_rejects
}

test_s3_wrong_secret_fails_clearly() {
	s3t_repo
	AWS_SECRET_ACCESS_KEY=Wr0ngSecretValue77 run_bkp list -r "$REPO"
	expect_fail
	expect_error_line 'SignatureDoesNotMatch'
	expect_stderr_match "s3://$S3_BUCKET/$PFX"
	expect_stderr_nomatch 'Wr0ngSecretValue77'
	[ "$(wc -l <"$BKPT_DIR/stderr")" -le 2 ] || fail "more than a short error"
	grep -F "/$PFX/" "$S3_PROXY_LOG" | grep -q '"rejected": "SignatureDoesNotMatch"' ||
		fail "the proxy did not see the bad signature"
	AWS_ACCESS_KEY_ID=AKIDNOTKNOWN run_bkp list -r "$REPO"
	expect_fail
	expect_error_line 'InvalidAccessKeyId'
	mkdir src && echo x >src/f
	AWS_SECRET_ACCESS_KEY=Wr0ngSecretValue77 run_bkp backup -r "$REPO" --name n src
	expect_fail
	expect_stderr_nomatch 'Wr0ngSecretValue77'
	run_bkp list -r "$REPO"
	expect_exit 0
	expect_stdout_nomatch '[0-9a-f]{32}'
}

test_s3_missing_bucket_and_plain_http() {
	run_bkp list -r "s3://no-such-bucket-here/x"
	expect_fail
	expect_error_line 'no-such-bucket-here.*NoSuchBucket|NoSuchBucket.*no-such-bucket-here'
	run_bkp list -r "s3://$S3_BUCKET/x" --endpoint http://192.0.2.1:9000
	expect_fail
	expect_error_line "refusing plain http.*192\.0\.2\.1"
	AWS_ENDPOINT_URL=http://127.0.0.1:1 BKP_S3_MAX_TRIES=2 run_bkp list -r "s3://$S3_BUCKET/x"
	expect_fail
	expect_error_line "cannot connect to '127\.0\.0\.1'"
}

test_s3_object_lock_and_storage_class() {
	s3t_repo --object-lock-days 3 --object-lock-mode COMPLIANCE --storage-class STANDARD_IA
	mkdir src && head -c 700000 /dev/urandom >src/f
	BKP_S3_PART_SIZE=262144 backup_id locked src --object-lock-days 3 \
		--object-lock-mode COMPLIANCE --storage-class STANDARD_IA
	# Every object write (single PUTs and CreateMultipartUpload) carried
	# the retention and the storage class; parts carried Content-MD5.
	python3 - "$S3_PROXY_LOG" "$PFX" <<'EOF' || fail "Object Lock headers missing"
import json, sys, datetime
writes = locked = parts = md5 = 0
want = (datetime.datetime.utcnow() + datetime.timedelta(days=3)).strftime("%Y-%m-%d")
for line in open(sys.argv[1]):
    e = json.loads(line)
    if "/%s/" % sys.argv[2] not in e["path"] or e["status"] != 200:
        continue
    q = e["query"]
    if (e["method"] == "PUT" and "partNumber" not in q) or (e["method"] == "POST" and q == "uploads="):
        writes += 1
        if (e.get("lock_mode") == "COMPLIANCE" and e.get("lock_until", "").startswith(want)
                and e.get("storage_class") == "STANDARD_IA"):
            locked += 1
    if e["method"] == "PUT":
        parts += 1
        md5 += "content_md5" in e
print("writes", writes, "locked", locked, "puts", parts, "with md5", md5)
assert writes >= 4 and locked == writes and md5 == parts
EOF
	s3t_no_rejects
}

# The proxy's checks are real: requests signed by botocore and then
# spoiled (other body, altered signature, unsigned header, unknown key,
# wrong digests) are refused as S3 refuses them.
test_s3_proxy_refuses_spoiled_requests() {
	/usr/bin/python3 "$(dirname "$S3_HARNESS")/selftest.py" \
		"$BKP_TEST_S3_ENDPOINT" "$S3_BUCKET" "self-$(basename "$T")" ||
		fail "the test proxy let a spoiled request through"
}

# HTTPS with certificate verification: a self-signed server is refused
# until its certificate is named with --ca-bundle or AWS_CA_BUNDLE.
test_s3_https_needs_a_trusted_certificate() {
	. "$S3_HARNESS"
	s3_start_tls "$T/tls" || fail "cannot start the TLS server"
	local repo=s3://$S3_BUCKET/tls
	run_bkp keygen key
	expect_exit 0
	run_bkp init -r "$repo" --recipient key.pub --endpoint "$S3_TLS_ENDPOINT"
	expect_fail
	expect_error_line "TLS certificate of '127\.0\.0\.1' not trusted"
	# Another self-signed certificate does not help.
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext "subjectAltName=IP:127.0.0.1" -keyout other.key -out other.pem 2>/dev/null
	run_bkp init -r "$repo" --recipient key.pub --endpoint "$S3_TLS_ENDPOINT" --ca-bundle other.pem
	expect_fail
	expect_error_line "not trusted"
	run_bkp init -r "$repo" --recipient key.pub --endpoint "$S3_TLS_ENDPOINT" --ca-bundle "$S3_TLS_CA"
	expect_exit 0
	echo "over TLS" >f.txt
	run_bkp backup -r "$repo" --name tls --endpoint "$S3_TLS_ENDPOINT" --ca-bundle "$S3_TLS_CA" f.txt
	expect_exit 0
	local id
	id=$(head -n 1 "$BKPT_DIR/stdout")
	AWS_CA_BUNDLE=$S3_TLS_CA run_bkp restore -r "$repo" -k key "$id" --target out --endpoint "$S3_TLS_ENDPOINT"
	expect_exit 0
	cmp f.txt out/f.txt || fail "TLS round trip differs"
	s3_stop_tls
}

# Credentials from a profile in the AWS files instead of the environment.
test_s3_credentials_from_profile() {
	s3t_repo
	printf '[default]\naws_access_key_id = AKIDWRONG\naws_secret_access_key = nope\n\n[backup]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >creds
	printf '[profile backup]\nregion = us-east-1\n' >conf
	export AWS_SHARED_CREDENTIALS_FILE=$T/creds AWS_CONFIG_FILE=$T/conf
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	run_bkp list -r "$REPO" --profile backup
	expect_exit 0
	AWS_PROFILE=backup run_bkp list -r "$REPO"
	expect_exit 0
	# The default profile holds an unknown key: a clear error.
	run_bkp list -r "$REPO"
	expect_fail
	expect_error_line 'InvalidAccessKeyId'
	run_bkp list -r "$REPO" --profile nosuch
	expect_exit 2
	expect_error_line "profile 'nosuch' not found"
	# A named profile wins over credentials in the environment.
	AWS_ACCESS_KEY_ID=AKIDWRONG AWS_SECRET_ACCESS_KEY=nope run_bkp list -r "$REPO" --profile backup
	expect_exit 0
	rm creds conf
	run_bkp list -r "$REPO"
	expect_exit 2
	expect_error_line 'no AWS credentials'
}
