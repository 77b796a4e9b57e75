# shellcheck shell=bash
# Archives written by earlier releases stay readable.  tests/fixtures/v1 is
# a repository written by bkp 0.1 (format version 1: BLAKE2b-256 hashes),
# see tests/fixtures/README.md: a directory archive ("fixture") and a raw
# stdin archive ("dump"), with its key (passphrase below, test only).

FIX=$(cd "$(dirname "$BKPT_LIB")/../fixtures/v1" && pwd)

# v1_repo: a writable copy of the fixture repository in $T/repo1.
v1_repo() {
	cp -r "$FIX/repo" "$T/repo1"
	cp "$FIX/key" "$FIX/key.pub" "$T/"
	chmod 0600 "$T/key"
	REPO=$T/repo1
	KEY=$T/key
	export BKP_PASSPHRASE='bkp format-1 fixture'
}

test_format1_listed_and_verified() {
	v1_repo
	run_bkp list -r "$REPO" --json
	expect_exit 0 "list"
	python3 - "$BKPT_DIR/stdout" "$REPO" <<'PY' || fail "list --json of format 1 archives"
import json, os, subprocess, sys
a = {x["name"]: x for x in json.load(open(sys.argv[1]))}
assert set(a) == {"fixture", "dump"}, a.keys()
for x in a.values():
    assert x["hash"] == "blake2b", x
    # b2sum, not bkp, computes the stored object's BLAKE2b-256
    got = subprocess.run(["b2sum", "-l", "256", os.path.join(sys.argv[2], "data", x["id"])],
                         capture_output=True, check=True).stdout.split()[0].decode()
    assert got == x["data_blake2b"], (got, x)
PY
	run_bkp verify -r "$REPO" --all
	expect_exit 0 "key-less verify of format 1 archives"
	run_bkp verify -r "$REPO" -k "$KEY" --all
	expect_exit 0 "full verify of format 1 archives"
}

test_format1_restored_whole_and_in_part() {
	v1_repo
	run_bkp restore -r "$REPO" -k "$KEY" fixture:latest --target out
	expect_exit 0 "restore of a format 1 archive"
	# backed up as /tmp/v1src: entries are under tmp/v1src/
	(cd out/tmp/v1src && sha256sum -c --quiet "$FIX/expected.sha256") || fail "restored files differ from the fixture's sums"
	[ "$(readlink out/tmp/v1src/link-to-csv)" = ehr/patients.csv ] || fail "symlink not restored"
	[ -d out/tmp/v1src/empty-dir ] || fail "empty directory not restored"
	run_bkp restore -r "$REPO" -k "$KEY" fixture:latest --target part --include 'tmp/v1src/ehr/notes'
	expect_exit 0 "partial restore of a format 1 archive"
	local p=part/tmp/v1src
	[ -f $p/ehr/notes/n1.txt ] && [ ! -e $p/ehr/patients.csv ] && [ ! -e $p/imaging.bin ] ||
		fail "partial restore restored the wrong entries"
	run_bkp restore -r "$REPO" -k "$KEY" dump:latest --target raw
	expect_exit 0 "restore of a format 1 raw archive"
	[ "$(sha256sum <raw/dump.sql | cut -d' ' -f1)" = dfa2e4481d056c5c14cafd02401d595db238f3b2369fee6cbc34204384e0cafd ] ||
		fail "restored dump.sql differs"
}

# A new backup into an old repository writes format 3 beside format 1, and
# a drill of a format 1 archive records its hash as BLAKE2b.
test_format1_and_2_side_by_side() {
	v1_repo
	make_dataset src
	run_bkp backup -r "$REPO" --name fixture src
	expect_exit 0 "backup into a repository holding format 1 archives"
	ID=$(head -n 1 "$BKPT_DIR/stdout")
	[ "$(record_get "$ID" "r['bkp_archive'], r['hash'], r['chain']")" = "(3, 'blake3', 0)" ] ||
		fail "the new archive is not a full format 3 archive with BLAKE3"
	expect_stderr_match "full backup, not an incremental: there is no file index"
	run_bkp backup -r "$REPO" --name fixture src
	expect_exit 0 "an incremental on top"
	ID=$(head -n 1 "$BKPT_DIR/stdout")
	[ "$(record_get "$ID" "r['bkp_archive'], r['chain']")" = "(3, 1)" ] ||
		fail "the second backup is not an incremental"
	run_bkp verify -r "$REPO" -k "$KEY" --all
	expect_exit 0 "full verify of format 1 and 3 archives together"
	mkdir -p scratch
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$T/scratch" --dataset dump --rpo 3000d
	expect_exit 0 "drill of a format 1 archive"
	python3 - "$REPO/drills" <<'PY' || fail "drill record of a format 1 archive"
import json, os, sys
d = sys.argv[1]
[f] = os.listdir(d)
r = json.load(open(os.path.join(d, f)))
assert r["bkp_drill"] == 2 and r["result"] == "pass", r["result"]
assert r["archive"]["hash"] == "blake2b" and len(r["archive"]["data_blake2b"]) == 64, r["archive"]
PY
}
