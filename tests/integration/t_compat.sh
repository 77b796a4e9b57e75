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

# tests/fixtures/v2 is a repository written by bkp 0.2 (commit a5d22fa,
# format version 2: BLAKE3 hashes, no file index), see
# tests/fixtures/README.md: a directory archive ("fixture", of /tmp/v2src)
# and a raw stdin archive ("dump"), with its key (passphrase below, test
# only).

FIX2=$(cd "$(dirname "$BKPT_LIB")/../fixtures/v2" && pwd)
# 2026-01-02T03:04:05Z, the mtime of every entry of the fixture's tree
# except été.txt (.123456789 s later; kept, as its non-ASCII name gave it a
# pax header) and subsec.txt (.5 s later at backup; format 2 kept whole
# seconds only for an entry without a pax header).
V2_MTIME=1767323045

# v2_repo: a writable copy of the fixture repository in $T/repo2.
v2_repo() {
	cp -r "$FIX2/repo" "$T/repo2"
	cp "$FIX2/key" "$FIX2/key.pub" "$T/"
	chmod 0600 "$T/key"
	REPO=$T/repo2
	KEY=$T/key
	export BKP_PASSPHRASE='bkp format-2 fixture'
}

# mtime_ns PATH: PATH's mtime (of the link itself for a symlink), seconds
# and nanoseconds: 1767323045.123456789.
mtime_ns() { stat -c %.9Y "$1"; }

# v2_tree_ok DIR WHAT: DIR holds the fixture's tree as it was backed up:
# contents, symlink, hard link, empty file and directory, mtimes.
v2_tree_ok() {
	local d=$1 p
	(cd "$d" && sha256sum -c --quiet "$FIX2/expected.sha256") || fail "$2: restored files differ from the fixture's sums"
	[ "$(readlink "$d/link-to-csv")" = ehr/patients.csv ] || fail "$2: symlink not restored"
	[ "$(stat -c '%i %h' "$d/patients-hardlink.csv")" = "$(stat -c '%i 2' "$d/ehr/patients.csv")" ] ||
		fail "$2: hard link not restored as one inode with two names"
	[ "$(find "$d/empty-dir" -maxdepth 0 -type d -empty)" = "$d/empty-dir" ] || fail "$2: empty directory not restored"
	[ "$(find "$d/empty" -maxdepth 0 -type f -empty)" = "$d/empty" ] || fail "$2: empty file not restored"
	[ "$(mtime_ns "$d/été.txt")" = "$V2_MTIME.123456789" ] ||
		fail "$2: été.txt's mtime is $(mtime_ns "$d/été.txt"), expected $V2_MTIME.123456789"
	for p in subsec.txt imaging.bin empty ehr/patients.csv ehr/notes/n1.txt link-to-csv empty-dir ehr/notes ehr .; do
		[ "$(mtime_ns "$d/$p")" = "$V2_MTIME.000000000" ] ||
			fail "$2: $p's mtime is $(mtime_ns "$d/$p"), expected $V2_MTIME.000000000"
	done
	return 0
}

test_format2_listed_and_verified() {
	v2_repo
	run_bkp list -r "$REPO" --json
	expect_exit 0 "list"
	python3 - "$BKPT_DIR/stdout" "$REPO" <<'PY' || fail "list --json of format 2 archives"
import json, os, subprocess, sys
a = {x["name"]: x for x in json.load(open(sys.argv[1]))}
assert set(a) == {"fixture", "dump"}, a.keys()
for x in a.values():
    r = json.load(open(os.path.join(sys.argv[2], "archives", x["id"] + ".json")))
    assert r["bkp_archive"] == 2 and "chain" not in r and "deps" not in r, r
    # format 2: full archives, no chain
    assert (x["version"], x["hash"], x["chain"], x["base"], x["deps"]) == (2, "blake3", 0, None, []), x
    # b3sum, not bkp, computes the stored object's BLAKE3
    got = subprocess.run(["b3sum", "--no-names", os.path.join(sys.argv[2], "data", x["id"])],
                         capture_output=True, check=True).stdout.split()[0].decode()
    assert got == x["data_blake3"], (got, x)
assert a["fixture"]["files"] == 12 and a["dump"]["files"] == 1, a
PY
	run_bkp verify -r "$REPO" --all
	expect_exit 0 "key-less verify of format 2 archives"
	run_bkp verify -r "$REPO" -k "$KEY" --all
	expect_exit 0 "full verify of format 2 archives"
}

test_format2_restored_whole_and_in_part() {
	v2_repo
	run_bkp restore -r "$REPO" -k "$KEY" fixture:latest --target out
	expect_exit 0 "restore of a format 2 archive"
	# backed up as /tmp/v2src: entries are under tmp/v2src/
	v2_tree_ok out/tmp/v2src "whole restore"
	run_bkp restore -r "$REPO" -k "$KEY" fixture:latest --target part --include 'tmp/v2src/ehr/notes'
	expect_exit 0 "partial restore of a format 2 archive"
	local p=part/tmp/v2src
	[ "$(cd $p && find . ! -type d)" = ./ehr/notes/n1.txt ] ||
		fail "partial restore restored the wrong entries: $(cd $p && find . ! -type d | tr '\n' ' ')"
	(cd $p && grep ' ./ehr/notes/n1.txt$' "$FIX2/expected.sha256" | sha256sum -c --quiet) || fail "partial restore: n1.txt differs"
	# Either name of the hard-linked file alone (one of them is the tar's
	# hard-link entry, which then receives its target's content).
	local n
	for n in ehr/patients.csv patients-hardlink.csv; do
		rm -rf part
		run_bkp restore -r "$REPO" -k "$KEY" fixture:latest --target part --include "tmp/v2src/$n"
		expect_exit 0 "partial restore of $n alone"
		[ "$(cd $p && find . ! -type d)" = "./$n" ] || fail "partial restore of $n restored: $(cd $p && find . ! -type d | tr '\n' ' ')"
		(cd $p && grep " ./$n\$" "$FIX2/expected.sha256" | sha256sum -c --quiet) || fail "partial restore of $n alone: content differs"
	done
	run_bkp restore -r "$REPO" -k "$KEY" dump:latest --target raw
	expect_exit 0 "restore of a format 2 raw archive"
	[ "$(sha256sum <raw/dump.sql | cut -d' ' -f1)" = 10e62c24502e6fcba4816599a2d0f86c841d5ee7069a7ce89c56592c24190fa2 ] ||
		fail "restored dump.sql differs"
}

# listed ID: print the archive's "version", "chain", "base" and "deps"
# (one line, space-separated; "-" for a null base) from list --json.
listed() {
	run_bkp list -r "$REPO" --json
	expect_exit 0 "list --json"
	python3 - "$BKPT_DIR/stdout" "$1" <<'PY' || fail "list --json: no integer \"version\" and \"chain\", or no list \"deps\", for $1"
import json, sys
[a] = [x for x in json.load(open(sys.argv[1])) if x["id"] == sys.argv[2]]
assert type(a["version"]) is int and type(a["chain"]) is int and type(a["deps"]) is list, a
print(a["version"], a["chain"], a["base"] or "-", *a["deps"])
PY
}

# A new backup into a repository of format 2 archives writes format 3: a
# full backup first (this host has no file index for the dataset, and says
# so), then an incremental on it; all verify side by side and the
# incremental restores the tree of its time.
test_format2_and_3_side_by_side() {
	v2_repo
	run_bkp restore -r "$REPO" -k "$KEY" fixture:latest --target src
	expect_exit 0 "restore of the fixture as a source tree"
	# The same dataset from the same relative path (entries tmp/v2src/...).
	cd src || fail "no src"
	run_bkp backup -r "$REPO" --name fixture tmp/v2src
	cd "$T" || fail "no $T"
	expect_exit 0 "backup into a repository holding format 2 archives"
	local full inc f
	full=$(head -n 1 "$BKPT_DIR/stdout")
	[[ $full =~ ^[0-9a-f]{32}$ ]] || fail "backup printed '$full'"
	[ "$(grep -aci 'full backup' "$BKPT_DIR/stderr")" = 1 ] ||
		fail "the first backup does not say once on stderr that it is a full backup: $(head -c 400 "$BKPT_DIR/stderr")"
	expect_stderr_match 'full backup, not an incremental: there is no file index'
	[ "$(record_get "$full" "r['bkp_archive'], r['hash'], r['chain'], r['base'], r['deps']")" = "(3, 'blake3', 0, None, [])" ] ||
		fail "the new archive is not a full format 3 archive with BLAKE3"
	[ "$(listed "$full")" = "3 0 -" ] || fail "list --json of the first format 3 archive (version chain base deps): $(listed "$full")"
	# Changes: content, a new file, a sub-second mtime on a file without a
	# pax header, a new hard link (to a small file: the name that comes
	# first in the walk, whose order is keyed by this host's state, holds
	# the data, and content is referenced by path, so a link to a large
	# file could store it again).
	echo 'Another synthetic note.' >>src/tmp/v2src/ehr/notes/n1.txt
	echo new >src/tmp/v2src/new.txt
	touch -d '2026-01-02T03:04:05.5Z' src/tmp/v2src/subsec.txt
	ln src/tmp/v2src/ehr/notes/n1.txt src/tmp/v2src/notes-link.txt
	touch -d '2026-01-02T03:04:05Z' src/tmp/v2src/ehr/notes src/tmp/v2src
	cp -a src snap
	cd src || fail "no src"
	run_bkp backup -r "$REPO" --name fixture tmp/v2src
	cd "$T" || fail "no $T"
	expect_exit 0 "second backup (an incremental)"
	expect_stderr_nomatch '[Ff]ull backup'
	inc=$(head -n 1 "$BKPT_DIR/stdout")
	[[ $inc =~ ^[0-9a-f]{32}$ ]] || fail "backup printed '$inc'"
	[ "$(listed "$inc")" = "3 1 $full $full" ] ||
		fail "the second archive is not a format 3 incremental on $full alone (version chain base deps: $(listed "$inc"))"
	# Only the changes are stored: imaging.bin (48000 incompressible bytes)
	# and the CSV stay in the full's data object.
	local fsize isize
	fsize=$(record_get "$full" "r['data']['size']")
	isize=$(record_get "$inc" "r['data']['size']")
	[ $((isize * 4)) -lt "$fsize" ] ||
		fail "the incremental's data object ($isize bytes) is not under a quarter of the full's ($fsize bytes)"
	# The fixture's archives are still format 2 and full.
	[ "$(listed 8bdd0ba2b1a78e25512609ec93868390)" = "2 0 -" ] ||
		fail "list --json of the fixture's archive after format 3 backups: $(listed 8bdd0ba2b1a78e25512609ec93868390)"
	run_bkp verify -r "$REPO" --all
	expect_exit 0 "key-less verify of format 2 and 3 archives together"
	expect_stderr_match 'verified 4 archives'
	run_bkp verify -r "$REPO" -k "$KEY" --all
	expect_exit 0 "full verify of format 2 and 3 archives together"
	expect_stderr_match 'verified 4 archives'
	run_bkp restore -r "$REPO" -k "$KEY" "$inc" --target r2
	expect_exit 0 "restore of the incremental"
	tree_equal snap/tmp/v2src r2/tmp/v2src
	for f in subsec.txt été.txt new.txt ehr/notes/n1.txt notes-link.txt; do
		[ "$(mtime_ns "r2/tmp/v2src/$f")" = "$(mtime_ns "snap/tmp/v2src/$f")" ] ||
			fail "incremental restore: $f's mtime is $(mtime_ns "r2/tmp/v2src/$f"), was $(mtime_ns "snap/tmp/v2src/$f")"
	done
	# The format 2 archive (the fixture's id) still restores with format 3
	# ones beside it.
	run_bkp restore -r "$REPO" -k "$KEY" 8bdd0ba2b1a78e25512609ec93868390 --target again
	expect_exit 0 "restore of the format 2 archive after format 3 backups"
	v2_tree_ok again/tmp/v2src "restore of the format 2 archive beside format 3"
}
