# shellcheck shell=bash
# Forged archives.  Sealed boxes are anonymous: anyone holding a
# repository's public keys can write an archive that decrypts and
# authenticates (docs/FORMAT.md §12).  `bkp backup` sanitizes paths, so
# these archives are made by tests/tools/forge.c (bkp-forge) from tar
# streams written by Python's tarfile (PAX format) with hostile entries.
# Whatever such an archive holds, `bkp restore` must exit non-zero with a
# "bkp: ..." line naming the entry and write nothing outside its target;
# `bkp verify -k` must write nothing at all.
#
# Behaviour asserted for the safe entries of a hostile archive: restore
# skips (refuses) each unsafe entry with a warning and goes on, so the safe
# entries before AND after it are restored, and the exit status is 1
# ("N entries not restored").  An archive whose manifest disagrees with its
# tar stream is corrupt: the restore stops at the disagreement.
#
# Archives are forged in the current format (version 2, BLAKE3 digests from
# b3sum); with FORGE_HASH=blake2b, in version 1 (BLAKE2b-256), which bkp
# still reads.

# shellcheck source=forge_lib.sh
. "$(dirname "$BKPT_LIB")/forge_lib.sh"

# (g) Positive control: a forged archive of safe entries only (directories,
# files over several 4 KiB chunks, a relative symlink, a hard link, a
# UTF-8 name and a long name, both stored in pax headers) restores exactly
# and verifies; so the must-fail cases below fail for the right reason.
test_forged_safe_control() {
	arena
	local long big
	long=dir/$(printf 'n%.0s' $(seq 1 150))
	big=$(head -c 9000 /dev/zero | tr '\0' 'x')
	forge safe <<EOF
dir|dir
file|dir/a.txt|hello
file|dir/big|$big
symlink|dir/s|a.txt
hardlink|dir/h|dir/a.txt
file|dir/été.txt|unicode
file|$long|long name
file|top|top
EOF
	run_bkp list -r "$REPO"
	expect_exit 0 "list"
	expect_stdout_match "$ID"
	run_bkp verify -r "$REPO" -k "$KEY" "$ID"
	expect_exit 0 "verify -k of a forged archive of safe entries"
	outside_snapshot "$BKPT_DIR/before" rt/target
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target rt/target
	expect_exit 0 "restore of a forged archive of safe entries"
	outside_unchanged "$BKPT_DIR/before" rt/target
	canary_intact
	local d=rt/target
	[ "$(cat $d/dir/a.txt)" = hello ] || fail "dir/a.txt not restored"
	[ "$(cat $d/dir/big)" = "$big" ] || fail "dir/big not restored"
	[ -L $d/dir/s ] && [ "$(readlink $d/dir/s)" = a.txt ] || fail "symlink dir/s not restored"
	[ $d/dir/h -ef $d/dir/a.txt ] || fail "hard link dir/h not restored as a link to dir/a.txt"
	[ "$(cat "$d/dir/été.txt")" = unicode ] || fail "UTF-8 name not restored"
	[ "$(cat "$d/$long")" = 'long name' ] || fail "long (pax) name not restored"
	[ "$(cat $d/top)" = top ] || fail "top not restored"
	[ "$(stat -c %Y $d/dir/a.txt)" = 1700000000 ] || fail "mtime not restored"
}

# (a) Absolute paths, in the ustar name and (long) in a pax path record:
# refused, the safe entries around them restored.
test_forged_absolute_paths() {
	arena
	local u long
	u=/tmp/bkp-forged-$$-$RANDOM$RANDOM
	long=$T/abs/$(printf 'p%.0s' $(seq 1 120))/evil
	[ ! -e "$u" ] || fail "test setup: $u exists"
	forge abs <<EOF
file|before|before
file|$u/evil|evil
file|$T/abs/evil|evil
file|$long|evil
file|after|after
EOF
	hostile_restore "$ID" "$u/evil" "$T/abs/evil" "$long"
	[ ! -e "$u" ] || { rm -rf "$u"; fail "restore wrote $u/evil"; }
	[ ! -e "$T/abs" ] || fail "restore wrote under $T/abs"
	[ "$(cat rt/target/before)" = before ] || fail "safe entry before the absolute paths not restored"
	[ "$(cat rt/target/after)" = after ] || fail "safe entry after the absolute paths not restored"
	[ -z "$(find rt/target -name evil)" ] || fail "an absolute entry was restored inside the target: $(find rt/target -name evil)"
	verify_writes_nothing "$ID"
	[ ! -e "$u" ] || { rm -rf "$u"; fail "verify wrote $u/evil"; }
}

# (b) '..' components: "../evil", "a/../../evil", "./../evil", a long pax
# name that climbs out, and ".." itself as a directory: refused.
test_forged_dotdot() {
	arena
	local long
	long=a/$(printf 'q%.0s' $(seq 1 120))/../../../evil-long
	forge dotdot <<EOF
file|before|before
file|../evil|evil
dir|a
file|a/../../evil2|evil
file|./../evil3|evil
file|$long|evil
dir|..
file|after|after
EOF
	hostile_restore "$ID" ../evil a/../../evil2 ./../evil3 "$long" ../
	[ ! -e rt/evil ] && [ ! -e rt/evil2 ] && [ ! -e rt/evil3 ] && [ ! -e rt/evil-long ] ||
		fail "restore wrote beside the target: $(ls rt)"
	[ "$(cat rt/target/before)" = before ] || fail "safe entry before the '..' entries not restored"
	[ "$(cat rt/target/after)" = after ] || fail "safe entry after the '..' entries not restored"
	[ -d rt/target/a ] || fail "safe directory a not restored"
	verify_writes_nothing "$ID"
}

# (c) Write through a symlink: "link -> $T/outside" then "link/evil", and
# "abslink -> /tmp/<unique>" then "abslink/evil".  Without --overwrite the
# entries through the link are refused; with --overwrite (which replaces
# what is in the target) nothing outside is written either.
test_forged_write_through_symlink() {
	arena
	local u
	u=/tmp/bkp-forged-$$-$RANDOM$RANDOM
	mkdir "$u"
	forge through <<EOF
file|before|before
symlink|link|$T/outside
file|link/evil|evil
file|link/canary|overwritten
symlink|abslink|$u
file|abslink/evil|evil
file|after|after
EOF
	hostile_restore "$ID" link/evil link/canary abslink/evil
	[ -z "$(ls -A "$u")" ] || { ls -la "$u" >&2; rm -rf "$u"; fail "restore wrote through the symlink into $u"; }
	[ ! -e "$T/outside/evil" ] || fail "restore wrote through the symlink into $T/outside"
	[ -L rt/target/link ] && [ "$(readlink rt/target/link)" = "$T/outside" ] || fail "safe symlink 'link' not restored"
	[ "$(cat rt/target/before)" = before ] || fail "safe entry before not restored"
	[ "$(cat rt/target/after)" = after ] || fail "safe entry after not restored"

	# Again over the existing tree, with --overwrite.
	outside_snapshot "$BKPT_DIR/before2" rt/target
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target rt/target --overwrite
	outside_unchanged "$BKPT_DIR/before2" rt/target
	canary_intact
	[ -z "$(ls -A "$u")" ] || { ls -la "$u" >&2; rm -rf "$u"; fail "restore --overwrite wrote through the symlink into $u"; }
	if [ "$(_rc)" = 0 ]; then
		note "restore --overwrite succeeded: the symlinks were replaced by directories inside the target"
		[ ! -L rt/target/link ] && [ "$(cat rt/target/link/evil)" = evil ] ||
			fail "restore --overwrite succeeded but link/evil is not a file inside the target"
	else
		expect_error_line '.' "restore --overwrite of a write-through-symlink archive"
	fi
	verify_writes_nothing "$ID"
	[ -z "$(ls -A "$u")" ] || { rm -rf "$u"; fail "verify wrote into $u"; }
	rm -rf "$u"
}

# (c') Directory metadata through a symlink: "link -> $T/outside" then a
# directory entry "link/sub/" ($T/outside/sub exists).  The entry is
# refused, and restore must not set the times (or mode) of the directory
# outside either (directory times are fixed up at the end of a restore).
test_forged_dir_times_through_symlink() {
	arena
	forge dirtimes <<EOF
file|before|before
symlink|link|$T/outside
dir|link/sub
file|after|after
EOF
	hostile_restore "$ID" link/sub/
	[ "$(stat -c %Y "$T/outside/sub")" = "$(date -d '2001-01-01 00:00:00 UTC' +%s)" ] ||
		fail "restore changed the mtime of \$T/outside/sub through the symlink 'link'"
	[ "$(cat rt/target/before)" = before ] || fail "safe entry before not restored"
	[ "$(cat rt/target/after)" = after ] || fail "safe entry after not restored"
	verify_writes_nothing "$ID"
}

# (d) A symlink to the target's parent: "up -> .." then "up/evil", and a
# chain "self -> ." then "self/up/evil2": refused.
test_forged_symlink_dotdot() {
	arena
	forge updir <<EOF
file|before|before
symlink|up|..
file|up/evil|evil
symlink|self|.
file|self/up/evil2|evil
dir|d
symlink|d/up2|../..
file|d/up2/evil3|evil
file|after|after
EOF
	hostile_restore "$ID" up/evil self/up/evil2 d/up2/evil3
	[ ! -e rt/evil ] && [ ! -e rt/evil2 ] && [ ! -e rt/evil3 ] && [ ! -e evil3 ] ||
		fail "restore wrote through 'up' beside the target: $(ls rt)"
	[ -L rt/target/up ] && [ "$(readlink rt/target/up)" = .. ] || fail "safe symlink 'up' not restored"
	[ "$(cat rt/target/before)" = before ] || fail "safe entry before not restored"
	[ "$(cat rt/target/after)" = after ] || fail "safe entry after not restored"
	verify_writes_nothing "$ID"
}

# (e) Hard links to files outside the target: to /etc/passwd, to
# ../outside-file, through a symlink in the target to a file outside, hard
# link entries carrying data (which tar extractors write into the linked
# file), and a hard link to a symlink in the target that points outside,
# carrying data (written through the symlink if the extractor follows it).
# None may link to (or write into) a file outside.
test_forged_hardlinks_outside() {
	arena
	local passwd_links
	passwd_links=$(stat -c %h /etc/passwd)
	cp /etc/passwd "$T/work-passwd-copy" 2>/dev/null || true
	forge hard <<EOF
file|before|before
hardlink|h|/etc/passwd
hardlink|h2|../outside-file
hardlink|h3|../../outside-file
symlink|out|$T/outside
hardlink|h4|out/canary
hardlink|h5|out/canary|pwned
hardlink|h6|/etc/passwd|pwned
symlink|outf|$T/outside/canary
hardlink|h7|outf|pwned
file|after|after
EOF
	# h7 links to a symlink inside the target: it may be restored as
	# such (not named), but its data must not reach the canary.
	hostile_restore "$ID" h h2 h3 h4 h5 h6
	[ ! -f rt/target/h7 ] || [ -L rt/target/h7 ] || [ "$(cat rt/target/h7)" != pwned ] ||
		note "h7 restored as a regular file holding its data (inside the target)"
	[ "$(stat -c %h /etc/passwd)" = "$passwd_links" ] || fail "/etc/passwd gained a hard link"
	cmp -s /etc/passwd "$T/work-passwd-copy" || fail "/etc/passwd was changed"
	local f o
	for f in h h2 h3 h4 h5 h6 h7; do
		[ -e rt/target/$f ] || [ -L rt/target/$f ] || continue
		# lstat: the entry itself (h7 may be a symlink), not what it names
		for o in /etc/passwd "$T/outside-file" "$T/outside/canary"; do
			[ "$(stat -c %d:%i rt/target/$f)" != "$(stat -c %d:%i "$o")" ] ||
				fail "rt/target/$f is a hard link to $o"
		done
	done
	[ "$(cat rt/target/before)" = before ] || fail "safe entry before not restored"
	[ "$(cat rt/target/after)" = after ] || fail "safe entry after not restored"
	verify_writes_nothing "$ID"
	[ "$(stat -c %h /etc/passwd)" = "$passwd_links" ] || fail "/etc/passwd gained a hard link (verify)"
}

# (e') A hard link entry carrying data, linked to a file that already
# exists in the target: without --overwrite the existing file must not be
# replaced (the link's data would be written into it), and the restore
# must say so, naming the entry.
test_forged_hardlink_data_into_existing() {
	arena
	mkdir -p rt/target
	printf 'orig\n' >rt/target/existing
	touch -d '2001-01-01 00:00:00 UTC' rt/target/existing
	forge hardexist <<EOF
file|before|before
hardlink|h|existing|pwned
file|after|after
EOF
	outside_snapshot "$BKPT_DIR/before" rt/target
	meta_snapshot "$BKPT_DIR/meta-before"
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target rt/target
	outside_unchanged "$BKPT_DIR/before" rt/target
	meta_unchanged "$BKPT_DIR/meta-before"
	canary_intact
	[ "$(cat rt/target/existing)" = orig ] ||
		fail "the existing file 'existing' was overwritten without --overwrite through hard link entry 'h' (now: '$(cat rt/target/existing)'; restore exited $(_rc))"
	[ "$(stat -c %Y rt/target/existing)" = "$(date -d '2001-01-01 00:00:00 UTC' +%s)" ] ||
		fail "the mtime of the existing file 'existing' was changed through hard link entry 'h'"
	expect_error_line '.' "restore of a hard link with data onto an existing file"
	expect_named h
	[ "$(cat rt/target/before)" = before ] || fail "safe entry before not restored"
	[ "$(cat rt/target/after)" = after ] || fail "safe entry after not restored"
	verify_writes_nothing "$ID"
}

# (f) A well-formed, authenticated archive whose manifest disagrees with
# its tar stream (an entry renamed in the manifest; an entry's hash
# changed): refused as corrupt.  The restore stops at the disagreement:
# entries after it are not written, nor is the disputed entry under either
# name.
test_forged_manifest_disagrees() {
	arena
	mkdir -p "$T/work"
	mk_tar "$T/work/renamed.tar" "$T/work/renamed.mf" <<EOF
file|first|first
file|data.txt|data
file|after|after
EOF
	mf_edit "$T/work/renamed.mf" 'if r["path"] == "data.txt": r["path"] = "other.txt"'
	grep -q '"other.txt"' "$T/work/renamed.mf" || fail "test setup: rename failed"
	forge_archive renamed
	outside_snapshot "$BKPT_DIR/before" rt/target
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target rt/target
	outside_unchanged "$BKPT_DIR/before" rt/target
	canary_intact
	expect_error_line 'disagree|does not match|corrupt' "restore of an archive whose manifest renames an entry"
	[ ! -e rt/target/data.txt ] && [ ! -e rt/target/other.txt ] || fail "the disputed entry was restored"
	[ ! -e rt/target/after ] || fail "an entry after the disagreement was restored"
	run_bkp verify -r "$REPO" -k "$KEY" "$ID"
	expect_error_line 'disagree|does not match|corrupt' "verify -k of an archive whose manifest renames an entry"

	mk_tar "$T/work/rehash.tar" "$T/work/rehash.mf" <<EOF
file|first|first
file|data.txt|data
file|after|after
EOF
	mf_edit "$T/work/rehash.mf" 'if r["path"] == "data.txt": r[H] = "00" * 32'
	grep -q "$(printf '%064d' 0)" "$T/work/rehash.mf" || fail "test setup: hash edit failed"
	forge_archive rehash
	outside_snapshot "$BKPT_DIR/before" rt/target2
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target rt/target2
	outside_unchanged "$BKPT_DIR/before" rt/target2
	canary_intact
	expect_error_line "data.txt" "restore of an archive whose manifest has a wrong hash"
	[ ! -e rt/target2/after ] || fail "an entry after the mismatch was restored"
	[ ! -e rt/target2/data.txt ] || fail "the mismatching data.txt was left in the target"
	run_bkp verify -r "$REPO" -k "$KEY" "$ID"
	expect_error_line "data.txt" "verify -k of an archive whose manifest has a wrong hash"
}

# (h) Into a fresh target, regular files are written by a pool of threads:
# an archive that holds one path twice must still fail and name it (never
# pick one silently), and a large file (streamed to a writer while it is
# hashed) whose hash is wrong must not be left behind.
test_forged_duplicates_and_streamed_mismatch() {
	arena
	forge dups <<EOF
dir|d
file|d/same|first
file|d/other|other
file|d/same|second
bigfile|d/big|3000000
bigfile|d/big|3100000
file|d/after|after
EOF
	hostile_restore "$ID" d/same d/big
	[ "$(cat rt/target/d/same)" = first ] || fail "d/same holds '$(cat rt/target/d/same)', not the first entry's data"
	[ "$(stat -c %s rt/target/d/big)" = 3000000 ] || fail "d/big was replaced by its second entry"
	[ "$(cat rt/target/d/after)" = after ] || fail "the entry after the duplicates was not restored"

	mkdir -p "$T/work"
	mk_tar "$T/work/bigbad.tar" "$T/work/bigbad.mf" <<EOF
file|small|small
bigfile|big.bin|5000000
file|after|after
EOF
	mf_edit "$T/work/bigbad.mf" 'if r["path"] == "big.bin": r[H] = "11" * 32'
	forge_archive bigbad
	outside_snapshot "$BKPT_DIR/before" rt/target2
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target rt/target2
	outside_unchanged "$BKPT_DIR/before" rt/target2
	canary_intact
	expect_error_line "big.bin" "restore of a large file whose manifest hash is wrong"
	[ ! -e rt/target2/big.bin ] || fail "the mismatching streamed big.bin was left in the target"
	[ ! -e rt/target2/after ] || fail "an entry after the mismatch was restored"
}

# (i) Version 1 archives (BLAKE2b-256, written by bkp 0.1) are still read
# with every check: the positive control, a manifest that disagrees with its
# tar stream and a streamed file whose hash is wrong, all forged as version 1.
test_forged_version1_archives() {
	export FORGE_HASH=blake2b
	test_forged_safe_control
	[ "$(record_get "$ID" "r['bkp_archive']")" = 1 ] || fail "test setup: not a version 1 archive"
	run_bkp list -r "$REPO" --json
	expect_exit 0 "list of a version 1 archive"
	python3 - "$BKPT_DIR/stdout" "$ID" <<'PY' || fail "list --json does not name BLAKE2b for a version 1 archive"
import json, sys
a = [x for x in json.load(open(sys.argv[1])) if x["id"] == sys.argv[2]]
assert a and a[0]["hash"] == "blake2b" and len(a[0]["data_blake2b"]) == 64, a
PY
	run_bkp verify -r "$REPO" "$ID"
	expect_exit 0 "key-less verify of a version 1 archive"
}

test_forged_version1_manifest_disagrees() {
	export FORGE_HASH=blake2b
	test_forged_manifest_disagrees
}

test_forged_version1_streamed_mismatch() {
	export FORGE_HASH=blake2b
	test_forged_duplicates_and_streamed_mismatch
}
