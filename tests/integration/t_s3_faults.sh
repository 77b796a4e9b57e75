# shellcheck shell=bash
# S3 fault handling: the checking proxy (tests/s3/proxy.py) injects 500,
# 503 SlowDown, delays and dropped connections; backup and restore either
# succeed through retries or fail cleanly with nothing half-visible, and
# the next run succeeds.  One server for the file; faults are scoped to
# each test's prefix.

S3_HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../s3" && pwd)/harness.sh

setup_file() {
	# shellcheck source=../s3/harness.sh
	. "$S3_HARNESS"
	s3_start "$FILE_TMP/s3"
}

teardown_file() {
	s3_stop
}

s3t_repo() {
	PFX=t-$(basename "$T")
	REPO=s3://$S3_BUCKET/$PFX
	KEY=$T/key
	export REPO KEY PFX
	export BKP_S3_RETRY_BASE_MS=50
	run_bkp keygen "$KEY"
	expect_exit 0
	run_bkp init -r "$REPO" --recipient "$KEY.pub"
	expect_exit 0
}

# s3t_faults N: at least N faults were injected on this test's requests.
s3t_faults() {
	local n
	n=$(grep -F "/$S3_BUCKET/$PFX/" "$S3_PROXY_LOG" | grep -c '"fault"')
	note "faults injected: $n"
	[ "$n" -ge "$1" ] || fail "only $n of $1 faults were injected"
}

s3t_archives() {
	run_bkp list -r "$REPO"
	expect_exit 0
	grep -cE '^[0-9a-f]{32}' "$BKPT_DIR/stdout"
}

s3t_data() {
	mkdir -p src/d
	head -c 1500000 /dev/urandom >src/d/blob.bin
	seq 1 50000 >src/numbers.txt
	echo tiny >src/tiny
}

test_s3_backup_succeeds_through_faults() {
	s3t_repo
	s3t_data
	s3_fault "{\"method\":\"PUT\",\"path\":\"/$PFX/data/\",\"query\":\"partNumber=2&\",\"action\":\"503\",\"count\":2}"
	s3_fault "{\"method\":\"PUT\",\"path\":\"/$PFX/data/\",\"query\":\"partNumber=3&\",\"action\":\"drop\",\"count\":1}"
	s3_fault "{\"method\":\"PUT\",\"path\":\"/$PFX/data/\",\"query\":\"partNumber=4&\",\"action\":\"delay\",\"delay\":1,\"count\":1}"
	s3_fault "{\"method\":\"POST\",\"path\":\"/$PFX/data/\",\"query\":\"^uploadId=\",\"action\":\"500\",\"count\":1}"
	s3_fault "{\"method\":\"PUT\",\"path\":\"/$PFX/manifests/\",\"action\":\"drop\",\"count\":1}"
	s3_fault "{\"method\":\"PUT\",\"path\":\"/$PFX/archives/\",\"action\":\"503\",\"count\":1}"
	s3_fault "{\"method\":\"HEAD\",\"path\":\"/$PFX/\",\"action\":\"500\",\"count\":1}"
	BKP_S3_PART_SIZE=262144 backup_id faulty src
	s3t_faults 8
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target out
	expect_exit 0
	tree_equal src out/src
	run_bkp verify -r "$REPO" -k "$KEY" "$ID"
	expect_exit 0
}

test_s3_restore_and_verify_succeed_through_faults() {
	s3t_repo
	s3t_data
	backup_id clean src
	s3_fault "{\"method\":\"GET\",\"path\":\"/$PFX/data/\",\"action\":\"drop\",\"count\":2}"
	s3_fault "{\"method\":\"GET\",\"path\":\"/$PFX/data/\",\"action\":\"503\",\"count\":1}"
	s3_fault "{\"method\":\"GET\",\"path\":\"/$PFX/manifests/\",\"action\":\"500\",\"count\":1}"
	s3_fault "{\"method\":\"GET\",\"path\":\"/$PFX/archives/\",\"action\":\"503\",\"count\":1}"
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target out
	expect_exit 0
	tree_equal src out/src
	s3t_faults 5
	# After a drop mid-body, the next request asked only for the rest.
	python3 - "$S3_PROXY_LOG" "$PFX" <<'EOF' || fail "no resumed ranged GET after a drop"
import json, re, sys
gets = [json.loads(l) for l in open(sys.argv[1])]
gets = [e for e in gets if e["method"] == "GET" and "/%s/data/" % sys.argv[2] in e["path"]]
for i, e in enumerate(gets):
    if e.get("fault") != "drop":
        continue
    a = re.match(r"bytes=(\d+)-(\d+)", e.get("range", ""))
    assert a, "dropped GET without a range: %s" % e
    for f in gets[i + 1:]:
        b = re.match(r"bytes=(\d+)-(\d+)", f.get("range", ""))
        if b and b.group(2) == a.group(2):
            assert int(b.group(1)) > int(a.group(1)), "restarted from the start"
            print("resumed", e["range"], "->", f["range"])
            break
    else:
        raise SystemExit("no follow-up for %s" % e["range"])
EOF
	s3_fault "{\"method\":\"GET\",\"path\":\"/$PFX/data/\",\"action\":\"drop\",\"count\":1}"
	run_bkp verify -r "$REPO" --all
	expect_exit 0
	s3_fault "{\"method\":\"GET\",\"path\":\"/$PFX/data/\",\"action\":\"500\",\"count\":1}"
	run_bkp verify -r "$REPO" -k "$KEY" --all
	expect_exit 0
}

test_s3_failed_backup_leaves_nothing_and_next_run_succeeds() {
	s3t_repo
	s3t_data
	export BKP_S3_MAX_TRIES=3 BKP_S3_PART_SIZE=262144
	# The data upload fails for good: multipart upload aborted.
	s3_fault "{\"method\":\"PUT\",\"path\":\"/$PFX/data/\",\"query\":\"partNumber=3&\",\"action\":\"500\",\"count\":1000}"
	run_bkp backup -r "$REPO" --name broken src
	expect_fail
	expect_error_line "s3://$S3_BUCKET/$PFX/data/"
	expect_stderr_match 'HTTP 500|server error'
	[ "$(s3t_archives)" -eq 0 ] || fail "a failed backup is listed"
	s3_aws s3 ls --recursive "s3://$S3_BUCKET/$PFX/data/" >objs.txt
	[ ! -s objs.txt ] || fail "objects left under data/: $(cat objs.txt)"
	grep -F "/$PFX/data/" "$S3_PROXY_LOG" | grep '"DELETE"' | grep -q uploadId= ||
		fail "the multipart upload was not aborted"
	s3_faults_clear

	# The commit record fails for good: the archive stays invisible.
	s3_fault "{\"method\":\"PUT\",\"path\":\"/$PFX/archives/\",\"action\":\"503\",\"count\":1000}"
	run_bkp backup -r "$REPO" --name broken2 src
	expect_fail
	expect_error_line "s3://$S3_BUCKET/$PFX/archives/"
	[ "$(s3t_archives)" -eq 0 ] || fail "a backup without its record is listed"
	s3_faults_clear

	backup_id good src
	[ "$(s3t_archives)" -eq 1 ] || fail "the next backup is not listed"
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target out
	expect_exit 0
	tree_equal src out/src
}

test_s3_failed_restore_is_clean_and_retry_works() {
	s3t_repo
	s3t_data
	backup_id clean src
	export BKP_S3_MAX_TRIES=2
	s3_fault "{\"method\":\"GET\",\"path\":\"/$PFX/data/\",\"action\":\"503\",\"count\":1000}"
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target out
	expect_fail
	expect_error_line "s3://$S3_BUCKET/$PFX/data/"
	expect_stderr_match 'SlowDown|HTTP 503'
	s3_faults_clear
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target out2
	expect_exit 0
	tree_equal src out2/src
}

# Memory does not grow with the stream: it is bounded by part size x
# parallelism (plus the pipeline's own fixed buffers).
test_s3_upload_memory_bounded() {
	s3t_repo
	local small=40000000 big=160000000
	# Under ASan, freed memory sits in a quarantine and counts in RSS.
	[ "${BKP_SUITE:-}" = san ] && big=120000000
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
	peak() { # SIZE PARTSIZE -> peak RSS (KiB) of the backup
		head -c "$1" /dev/urandom >"in.$1"
		BKP_S3_PART_SIZE=$2 python3 -c '
import resource, subprocess, sys
with open(sys.argv[1], "rb") as f:
    r = subprocess.run(sys.argv[2:], stdin=f, stdout=subprocess.DEVNULL)
if r.returncode:
    sys.exit(r.returncode)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "in.$1" "$BKP" backup -r "$REPO" --name "m$1-$2" - ||
			fail "backup of $1 bytes failed"
		rm -f "in.$1"
	}
	local a b c
	a=$(peak "$small" 1048576)
	b=$(peak "$big" 1048576)
	c=$(peak "$small" 8388608)
	note "peak RSS KiB: $small bytes/1 MiB parts: $a; $big bytes/1 MiB parts: $b; $small bytes/8 MiB parts: $c"
	# A stream 3-4x longer, (nearly) the same peak (the pipeline ramps up
	# over its first MiBs, hence the sizes).
	[ $((b - a)) -lt 8192 ] || fail "peak grew by $((b - a)) KiB with a longer stream"
	# 8 MiB parts instead of 1 MiB: at most (4 parallel + 1) x 7 MiB more.
	[ $((c - a)) -lt $((5 * 7 * 1024 + 4096)) ] || fail "peak grew by $((c - a)) KiB with 8 MiB parts"
	grep -F "/$PFX/data/" "$S3_PROXY_LOG" | grep -q 'partNumber=30&' ||
		fail "the large stream was not uploaded in 1 MiB parts"
}
