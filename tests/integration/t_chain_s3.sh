# shellcheck shell=bash
# (Counting GETs checks no memory safety: the optimized suite only.)
# Incremental backups on S3 (s3rver behind the checking proxy,
# tests/s3/harness.sh): a chain of three restores exactly, and a partial
# restore of one small file changed in the newest archive fetches only a
# small part of the chain's data (counted in the proxy's request log).

S3_HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../s3" && pwd)/harness.sh
# shellcheck source=chain_lib.sh
. "$(dirname "${BKPT_LIB:-${BASH_SOURCE[0]}}")/chain_lib.sh"

setup_file() {
	# shellcheck source=../s3/harness.sh
	# shellcheck source=../s3/harness.sh
	. "$S3_HARNESS"
	s3_start "$FILE_TMP/s3"
}

teardown_file() {
	s3_stop
}

# s3t_repo: a key pair and a fresh repository under this test's prefix.
s3t_repo() {
	# shellcheck source=../s3/harness.sh
	. "$S3_HARNESS"
	PFX=t-$(basename "$T")
	REPO=s3://$S3_BUCKET/$PFX
	KEY=$T/key
	KEYPUB=$T/key.pub
	export REPO KEY KEYPUB PFX
	run_bkp keygen "$KEY"
	expect_exit 0
	run_bkp init -r "$REPO" --recipient "$KEYPUB"
	expect_exit 0
}

# s3_gets FROM_LINE: GET requests of this test's prefix logged from line
# FROM_LINE of the proxy log on, summed by kind ("data": anything but
# records, manifests, frame tables and the config): prints JSON
# {"data": {"n": N, "bytes": B}, "meta": {...}, "keys": {key: bytes}}.
s3_gets() {
	"$PY" - "$S3_PROXY_LOG" "$1" "/$S3_BUCKET/$PFX/" <<'EOF'
import json, sys
log, start, pfx = sys.argv[1], int(sys.argv[2]), sys.argv[3]
META = ("archives/", "manifests/", "frames/", "config", "verifications/", "drills/", "locks/", "keys/", "log/")
out = {"data": {"n": 0, "bytes": 0}, "meta": {"n": 0, "bytes": 0}, "keys": {}, "missing_size": 0}
for i, line in enumerate(open(log), 1):
    if i < start:
        continue
    e = json.loads(line)
    if e["method"] != "GET" or not e["path"].startswith(pfx):
        continue
    key = e["path"][len(pfx):]
    if not key or e.get("query", "").startswith(("list-type", "prefix", "delimiter")) or "list-type=" in e.get("query", ""):
        continue
    kind = "meta" if key.startswith(META) else "data"
    n = e.get("resp_bytes")
    if n is None:
        out["missing_size"] += 1
        n = 0
    out[kind]["n"] += 1
    out[kind]["bytes"] += n
    out["keys"][key] = out["keys"].get(key, 0) + n
print(json.dumps(out, sort_keys=True))
EOF
}

# s3_data_total: bytes of all data objects under this test's prefix
# (everything but records, manifests, frame tables and the config).
s3_data_total() {
	s3_aws s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "$PFX/" --output json >"$BKPT_DIR/objs.json" ||
		fail "awscli cannot list the prefix"
	"$PY" - "$BKPT_DIR/objs.json" "$PFX/" <<'EOF'
import json, sys
META = ("archives/", "manifests/", "frames/", "config", "verifications/", "drills/", "locks/", "keys/", "log/")
objs = json.load(open(sys.argv[1])).get("Contents", [])
print(sum(o["Size"] for o in objs if not o["Key"][len(sys.argv[2]):].startswith(META)))
EOF
}

# A chain of three on S3, run 3 changing one small file; a partial
# restore of that file from the newest archive fetches a small fraction
# of the chain's data.
if [ "${BKP_SUITE:-}" != san ]; then
test_s3_chain_partial_restore_fetches_little() {
	s3t_repo
	local mb=6 i
	[ "${BKP_SUITE:-}" = san ] && mb=3
	mkdir -p src/a src/b
	head -c "${mb}M" /dev/urandom >src/a/big.bin
	head -c 1000000 /dev/urandom >src/b/mid.bin
	for i in $(seq 1 30); do echo "small $i" >"src/b/s$i.txt"; done
	echo 'version 1' >src/small.txt
	snap 1 src
	backup_id s3chain src
	local id1=$ID
	head -c 500000 /dev/urandom >src/b/mid2.bin
	echo 'edit 2' >>src/b/s7.txt
	snap 2 src
	backup_id s3chain src
	local id2=$ID
	echo 'version 3, the only change' >src/small.txt
	snap 3 src
	backup_id s3chain src
	local id3=$ID
	expect_chain "$id1" 0 "run 1"
	expect_chain "$id2" 1 "run 2"
	expect_chain "$id3" 2 "run 3"
	local s1 s2 s3 total
	s1=$(data_size "$id1")
	s2=$(data_size "$id2")
	s3=$(data_size "$id3")
	total=$(s3_data_total)
	note "data objects: run 1 $s1, run 2 $s2, run 3 $s3 bytes; all data under the prefix: $total bytes"
	[ $((s3 * 20)) -lt "$s1" ] || fail "run 3 (one small file changed) stored $s3 bytes of data, the full $s1"
	# Partial restore of the one file from the newest archive.
	local from gets
	from=$(($(wc -l <"$S3_PROXY_LOG") + 1))
	run_bkp restore -r "$REPO" -k "$KEY" "$id3" --target part --include src/small.txt
	expect_exit 0 "partial restore of src/small.txt from $id3"
	cmp src/small.txt part/src/small.txt || fail "partial restore: small.txt differs"
	[ "$(cd part && find . -type f)" = ./src/small.txt ] || fail "partial restore restored: $(cd part && find . -type f | tr '\n' ' ')"
	[ "$(stat -c %Y.%y src/small.txt)" = "$(stat -c %Y.%y part/src/small.txt)" ] || fail "partial restore: mtime of small.txt differs"
	gets=$(s3_gets "$from")
	note "GETs of the partial restore: $gets"
	"$PY" - "$gets" "$total" "$s1" <<'EOF' || fail "the partial restore of one small file fetched too much: $gets (chain data $total bytes)"
import json, sys
g, total, full = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
assert g["missing_size"] == 0, "the proxy log lacks resp_bytes (tests/s3/proxy.py too old?)"
d = g["data"]["bytes"]
print("data GETs: %d requests, %d bytes; metadata GETs: %d requests, %d bytes; chain data: %d bytes"
      % (g["data"]["n"], d, g["meta"]["n"], g["meta"]["bytes"], total))
assert d * 20 < total, "data bytes fetched %d not under 5%% of the chain's %d" % (d, total)
assert d < 1 << 20, "data bytes fetched %d: over 1 MiB for a 27-byte file" % d
assert g["data"]["n"] + g["meta"]["n"] <= 30, "%d GET requests" % (g["data"]["n"] + g["meta"]["n"])
EOF
	# Every archive of the chain restores its tree.
	restore_exact "$id1" 1
	restore_exact "$id2" 2
	restore_exact "$id3" 3
	run_bkp verify -r "$REPO" -k "$KEY" --all
	expect_exit 0 "verify -k --all"
	run_bkp verify -r "$REPO" --all
	expect_exit 0 "key-less verify --all"
	local n
	n=$(grep -F "/$S3_BUCKET/$PFX/" "$S3_PROXY_LOG" | grep -c '"rejected"')
	[ "$n" -eq 0 ] || fail "the proxy rejected $n requests"
}
fi
