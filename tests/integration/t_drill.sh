# shellcheck shell=bash
# bkp drill: restore drills into private scratch directories, RTO/RPO
# against targets, validation, hooks, corruption, stale scratch clean-up,
# and the drill records they leave in the repository.

# drill_setup: a repository with one archive of dataset "ehr" made from the
# harness's sample tree (its file names stand in for PHI); sets SCR.
drill_setup() {
	new_repo
	make_dataset "$T/src"
	backup_id ehr src
	SCR=$T/scratch
	mkdir -p "$SCR"
}

# last_record: path of the newest drill record.
last_record() {
	ls "$REPO"/drills/*.json 2>/dev/null | LC_ALL=C sort | tail -n 1
}

# rec_get EXPR: a field of the newest drill record (python on r).
rec_get() {
	python3 - "$(last_record)" "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
v = eval(sys.argv[2], {"r": r})
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)
PY
}

# scratch_empty: nothing left on the scratch volume.
scratch_empty() {
	local left
	left=$(ls -A "$SCR")
	[ -z "$left" ] || fail "scratch volume not empty after the drill: $left"
}

# no_file_names FILE: none of the sample tree's file names appear.
no_file_names() {
	local n
	for n in hello.txt long.txt blob.bin private.conf readme.md small.bin run.sh "odd dir"; do
		! grep -qF "$n" "$1" || fail "'$1' contains the file name '$n'"
	done
}

test_drill_passes_and_leaves_a_record() {
	drill_setup
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR"
	expect_exit 0
	expect_stdout_match "^drill ehr ${ID:0:12}: PASS"
	expect_stdout_match 'scratch wiped'
	expect_stdout_match '^1 drill, 0 failed'
	scratch_empty
	local rec
	rec=$(last_record)
	[ -n "$rec" ] || fail "no drill record under drills/"
	json_valid "$rec" || fail "drill record is not JSON"
	[[ $(basename "$rec") =~ ^[0-9]{8}T[0-9]{6}\.[0-9]{6}Z-[0-9a-f]{8}\.json$ ]] ||
		fail "bad record name $(basename "$rec")"
	[ "$(rec_get 'r["bkp_drill"]')" = 2 ] || fail "schema version"
	[ "$(rec_get 'r["archive"]["hash"]')" = blake3 ] || fail "archive hash algorithm"
	[ "$(rec_get 'r["result"]')" = pass ] || fail "result not pass"
	[ "$(rec_get 'r["archive"]["id"]')" = "$ID" ] || fail "archive id"
	[ "$(rec_get 'r["archive"]["data_blake3"]')" = "$(record_get "$ID" "r['data']['blake3']")" ] ||
		fail "archive hash not recorded"
	[ "$(rec_get 'r["restore"]["status"]')" = ok ] || fail "restore status"
	[ "$(rec_get 'r["validation"]["status"]')" = ok ] || fail "validation status"
	[ "$(rec_get 'r["validation"]["mismatches"]')" = 0 ] || fail "mismatches"
	[ "$(rec_get 'r["validation"]["files"] > 0')" = true ] || fail "no file validated"
	[ "$(rec_get 'r["scratch"]["wiped"]')" = true ] || fail "wipe not recorded"
	[ "$(rec_get 'r["rto"]["passed"] and r["rpo"]["passed"]')" = true ] || fail "objectives"
	[ "$(rec_get 'r["prev"]["key"]')" = null ] || fail "first record has a predecessor"
	[ "$(rec_get 'all(k in r["phases"] for k in ("fetch_s","decrypt_s","extract_s","validate_s"))')" = true ] ||
		fail "phase timings missing"
	no_file_names "$rec"
	# the record is write-once: not writable by anyone
	[ ! -w "$rec" ] || [ "$(id -u)" = 0 ] || fail "record is writable"
}

test_drill_defaults_without_config() {
	drill_setup
	mkdir "$T/tmpd"
	TMPDIR=$T/tmpd run_bkp drill -r "$REPO" -k "$KEY"
	expect_exit 0
	expect_stdout_match 'RTO .* \(target 4h00m\)  RPO .* \(target 1d00h\)'
	[ "$(rec_get 'r["rto"]["target_s"]')" = 14400.0 ] || fail "default RTO is not 4h"
	[ "$(rec_get 'r["rpo"]["target_s"]')" = 86400.0 ] || fail "default RPO is not 24h"
	[ "$(rec_get 'r["selection"]')" = newest ] || fail "default selection"
	[ -z "$(ls -A "$T/tmpd")" ] || fail "default scratch (TMPDIR) not wiped"
}

test_drill_json_output() {
	drill_setup
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR" --json
	expect_exit 0
	printf '%s\n' "$OUT" >out.json
	json_valid out.json || fail "--json output is not JSON"
	python3 - out.json "$ID" <<'PY' || fail "--json content"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["passed"] is True and o["drills"] == 1 and o["failed"] == 0
r = o["records"][0]
assert r["archive"]["id"] == sys.argv[2] and r["key"].startswith("drills/")
PY
}

test_drill_fails_rto() {
	drill_setup
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR" --rto 0.000001s
	expect_exit 1
	expect_stdout_match ': FAIL'
	expect_stdout_match 'rto exceeded'
	[ "$(rec_get 'r["result"]')" = fail ] || fail "record says pass"
	[ "$(rec_get 'r["rto"]["passed"]')" = false ] || fail "rto passed"
	[ "$(rec_get 'r["rpo"]["passed"]')" = true ] || fail "rpo should pass"
	scratch_empty
}

test_drill_fails_rpo_old_archive() {
	drill_setup
	sleep 2
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR" --rpo 1s
	expect_exit 1
	expect_stdout_match 'rpo exceeded: newest archive is [0-9.]+s old, target 1\.0s'
	[ "$(rec_get 'r["rpo"]["passed"]')" = false ] || fail "rpo passed"
	[ "$(rec_get 'r["rpo"]["newest_age_s"] >= 2')" = true ] || fail "newest age"
	[ "$(rec_get 'r["restore"]["status"]')" = ok ] || fail "restore should still run"
}

test_drill_fails_rpo_gap_between_archives() {
	drill_setup
	sleep 3
	backup_id ehr src
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR" --rpo 2.5s
	expect_exit 1
	expect_stdout_match 'rpo exceeded: [0-9.]+s between consecutive archives'
	[ "$(rec_get 'r["rpo"]["max_gap_s"] >= 3')" = true ] || fail "gap not measured"
	[ "$(rec_get 'r["archive"]["id"]')" = "$ID" ] || fail "newest archive not chosen"
}

test_drill_hooks_run_in_the_restored_tree() {
	drill_setup
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR" \
		--hook 'test -f src/hello.txt && test "$PWD" = "$BKP_DRILL_DIR" && test "$BKP_DRILL_DATASET" = ehr && echo "archive=$BKP_DRILL_ARCHIVE"' \
		--hook 'echo "pw=${BKP_PASSPHRASE:-unset}"'
	expect_exit 0
	expect_stdout_match 'hooks 2/2 passed'
	[ "$(rec_get 'r["hooks"][0]["output"]')" = "archive=$ID" ] || fail "hook output not captured"
	[ "$(rec_get 'r["hooks"][1]["output"]')" = "pw=unset" ] || fail "the passphrase reached a hook"
	! grep -qF "$PASS" "$(last_record)" || fail "passphrase in the record"
}

test_drill_failing_hook() {
	drill_setup
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR" --hook 'echo checking; exit 1'
	expect_exit 1
	expect_stdout_match 'hook 1 failed \(exit 1\)'
	[ "$(rec_get 'r["hooks"][0]["exit_code"]')" = 1 ] || fail "exit code"
	[ "$(rec_get 'r["hooks"][0]["passed"]')" = false ] || fail "hook passed"
	[ "$(rec_get 'r["hooks"][0]["output"]')" = checking ] || fail "output"
	scratch_empty
}

test_drill_hook_timeout() {
	drill_setup
	local t0=$SECONDS
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR" --hook 'sleep 60' --hook-timeout 1s
	expect_exit 1
	expect_stdout_match 'hook 1 timed out after 1\.0s'
	[ $((SECONDS - t0)) -lt 30 ] || fail "the timeout did not stop the hook"
	[ "$(rec_get 'r["hooks"][0]["timed_out"]')" = true ] || fail "timed_out"
	scratch_empty
}

test_drill_corrupted_archive_fails_clearly() {
	drill_setup
	local obj size
	obj=$REPO/$(record_get "$ID" "r['data']['key']")
	size=$(stat -c %s "$obj")
	flip_byte "$obj" $((size / 2))
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR" --hook 'touch "$BKP_DRILL_DIR/../hook-ran"'
	expect_exit 1
	expect_stdout_match "drill ehr ${ID:0:12}: FAIL"
	expect_stdout_match 'restore failed: archive is damaged'
	expect_stdout_match 'hooks not run'
	expect_error_line 'drill ehr'
	[ "$(rec_get 'r["restore"]["status"]')" = corrupt ] || fail "restore status"
	[ "$(rec_get 'r["rto"]["achieved_s"]')" = null ] || fail "RTO reached on a damaged archive"
	scratch_empty
}

test_drill_wrong_key() {
	drill_setup
	run_bkp keygen "$T/other"
	expect_exit 0
	run_bkp drill -r "$REPO" -k "$T/other" --scratch "$SCR"
	expect_exit 1
	expect_stdout_match 'the key cannot open this archive'
	[ "$(rec_get 'r["restore"]["status"]')" = key ] || fail "restore status"
}

# start_killable_drill: a drill (in a session and process group of its
# own) whose hook records its pid and sleeps; waits until the hook runs.
# Sets DPID and HPID.
start_killable_drill() {
	setsid "$BKP" drill -r "$REPO" -k "$KEY" --scratch "$SCR" \
		--hook "echo \$\$ > '$T/hookpid'; touch '$T/started'; exec sleep 60" \
		>"$T/killed.out" 2>&1 &
	DPID=$!
	local i
	for i in $(seq 1 300); do
		[ -f "$T/started" ] && [ -s "$T/hookpid" ] && break
		sleep 0.1
	done
	[ -f "$T/started" ] || fail "the drill never reached its hook"
	HPID=$(cat "$T/hookpid")
	ls "$SCR"/bkp-drill-*/data/src/hello.txt >/dev/null 2>&1 ||
		fail "no restored data while the hook runs"
}

# running PID: the process exists and is not a zombie.
running() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

test_drill_killed_midway_guardian_wipes_at_once() {
	drill_setup
	start_killable_drill
	kill -9 "$DPID"
	wait "$DPID" 2>/dev/null
	local i
	for i in $(seq 1 100); do
		[ -z "$(ls -A "$SCR")" ] && ! running "$HPID" && break
		sleep 0.1
	done
	running "$HPID" && { kill -9 -- "-$HPID"; fail "the hook outlived its killed drill"; }
	scratch_empty
	ls "$REPO/drills" 2>/dev/null | grep -q . && fail "a killed drill left a record"
	return 0
}

test_drill_killed_with_guardian_is_wiped_next_time() {
	drill_setup
	start_killable_drill
	# the drill's whole process group (drill and guardian), as a cron
	# timeout would; the hook has a group of its own
	kill -9 -- "-$DPID"
	wait "$DPID" 2>/dev/null
	kill -9 -- "-$HPID" 2>/dev/null
	sleep 0.2
	# The restored data is still there: what such a kill leaves behind.
	ls "$SCR"/bkp-drill-*/data/src/hello.txt >/dev/null 2>&1 ||
		fail "expected the killed drill's restored data on the scratch volume"
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR"
	expect_exit 0
	expect_stderr_match 'wiped 1 stale drill scratch directory'
	[ "$(rec_get 'r["scratch"]["stale_wiped"]')" = 1 ] || fail "stale wipe not recorded"
	scratch_empty
}

test_drill_refuses_insufficient_scratch_space() {
	drill_setup
	mkdir "$T/small"
	# a 1 MiB tmpfs in a private mount namespace (gone with the process)
	unshare -m --propagation private sh -c '
		mount -t tmpfs -o size=1m tmpfs "$1" || exit 99
		"$BKP" drill -r "$2" -k "$3" --scratch "$1" >"$4/small.out" 2>"$4/small.err"
		echo $? >"$4/small.rc"
		ls -A "$1" >"$4/small.left"' sh "$T/small" "$REPO" "$KEY" "$T" ||
		fail "cannot mount a tmpfs (these tests run as root)"
	[ "$(cat small.rc)" = 1 ] || fail "expected exit 1, got $(cat small.rc): $(cat small.out small.err)"
	grep -q 'insufficient scratch space: need [0-9]* bytes, [0-9]* free' small.out ||
		fail "no clear refusal: $(cat small.out)"
	[ ! -s small.left ] || fail "something was written to the full volume: $(cat small.left)"
	[ "$(rec_get 'r["restore"]["status"]')" = not-run ] || fail "restore ran anyway"
	[ "$(rec_get 'r["scratch"]["needed_bytes"] > r["scratch"]["free_bytes"]')" = true ] ||
		fail "space figures not recorded"
}

test_drill_keep() {
	drill_setup
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR" --keep
	expect_exit 0
	expect_stdout_match 'scratch kept'
	local kept
	kept=$(sed -n 's/^  kept restored data in //p' "$BKPT_DIR/stdout")
	[ -f "$kept/src/hello.txt" ] || fail "--keep did not keep the restored tree"
	[ "$(stat -c %a "$(dirname "$kept")")" = 700 ] || fail "scratch dir not private"
	[ "$(rec_get 'r["scratch"]["kept"]')" = true ] || fail "kept not recorded"
	# a kept directory is not a stale one
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR"
	expect_exit 0
	expect_stderr_nomatch 'stale'
	[ -f "$kept/src/hello.txt" ] || fail "the next drill wiped a kept directory"
}

test_drill_config_file_and_missing_dataset() {
	drill_setup
	cat >drill.ini <<INI
[drill]
scratch = $SCR
rpo = 2d

[dataset ehr]
rto = 1h
hook = test -f src/hello.txt

[dataset billing]
rto = 2h
INI
	run_bkp drill -r "$REPO" -k "$KEY" --config drill.ini
	expect_exit 1
	expect_stdout_match "drill ehr ${ID:0:12}: PASS"
	expect_stdout_match 'RTO .* \(target 1h00m\)  RPO .* \(target 2d00h\)'
	expect_stdout_match 'drill billing -: FAIL'
	expect_stdout_match 'no archive to restore'
	expect_stdout_match '^2 drills, 1 failed'
	[ "$(ls "$REPO/drills" | wc -l)" = 2 ] || fail "expected two records"
	# --dataset narrows it down, and the command line beats the file
	run_bkp drill -r "$REPO" -k "$KEY" --config drill.ini --dataset ehr --rto 3h
	expect_exit 0
	expect_stdout_match '\(target 3h00m\)'
	expect_stdout_nomatch billing
}

test_drill_random_sampling() {
	drill_setup
	local first=$ID
	backup_id ehr src
	backup_id ehr src
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR" --sample random --samples 2 --window 1
	expect_exit 0
	expect_stdout_match '^2 drills, 0 failed'
	python3 - "$REPO/drills" <<'PY' || fail "random sampling"
import json, os, sys
d = sys.argv[1]
rs = [json.load(open(os.path.join(d, f))) for f in sorted(os.listdir(d))]
assert len(rs) == 2, len(rs)
assert all(r["selection"] == "random" for r in rs)
assert rs[0]["archive"]["id"] != rs[1]["archive"]["id"]
PY
	: "$first"
}

test_drill_records_form_a_hash_chain() {
	drill_setup
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR" -q
	expect_exit 0
	[ -z "$OUT" ] || fail "-q printed '$OUT' for a passing drill"
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR" -q
	expect_exit 0
	python3 - "$REPO" <<'PY' || fail "chain"
import hashlib, json, os, sys
d = os.path.join(sys.argv[1], "drills")
fs = sorted(os.listdir(d))
assert len(fs) == 2
first = open(os.path.join(d, fs[0]), "rb").read()
second = json.load(open(os.path.join(d, fs[1])))
assert second["prev"]["key"] == "drills/" + fs[0], second["prev"]
assert second["prev"]["blake2b"] == hashlib.blake2b(first, digest_size=32).hexdigest()
PY
}

test_drill_usage_errors() {
	drill_setup
	run_bkp drill -r "$REPO" -k "$KEY" --rto soon
	expect_exit 2
	expect_error_line 'rto'
	run_bkp drill -r "$REPO" -k "$KEY" --config "$T/nope.ini"
	expect_exit 2
	expect_error_line 'nope.ini'
	printf '[drill]\nrto = 1h\ncolour = red\n' >bad.ini
	run_bkp drill -r "$REPO" -k "$KEY" --config bad.ini
	expect_exit 2
	expect_error_line 'bad.ini:3: unknown key'
	run_bkp drill -r "$REPO" -k "$KEY" --sample often
	expect_exit 2
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$T/does-not-exist"
	expect_fail
	run_bkp drill -r "$T/no-repo" -k "$KEY"
	expect_exit 10
	BKP_PASSPHRASE=wrong run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR"
	expect_exit 12
	ls "$REPO/drills" 2>/dev/null | grep -q . && fail "a refused drill left a record"
	return 0
}

# A dataset holding a sparse file drills PASS: the restore reads its data
# (what the backup read and counted), the validation its whole logical
# size (holes as zeros).  A drill used to compare the two byte counts and
# fail every dataset with a sparse file.
test_drill_passes_with_a_sparse_file() {
	new_repo
	mkdir -p src
	echo head >src/plain
	truncate -s 64M src/sparse
	printf 'middle' | dd of=src/sparse bs=1 seek=$((32 << 20)) conv=notrunc status=none
	sparse_ok src/sparse || { note "this file system keeps no holes: the drill is still run"; }
	backup_id sp src
	SCR=$T/scratch
	mkdir -p "$SCR"
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR"
	expect_exit 0 "drill of a dataset with a sparse file"
	expect_stdout_match "^drill sp ${ID:0:12}: PASS"
}
