# shellcheck shell=bash
# Round trips: backup then restore gives back the same tree, bytes and
# metadata; archive selection; partial restore; overwrite; ciphers; sparse.

test_roundtrip_dataset() {
	new_repo
	make_dataset src
	backup_id ds src
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target r
	expect_exit 0
	[ "$(ls -A r)" = src ] || fail "restore target holds '$(ls -A r | tr '\n' ' ')', expected only 'src'"
	tree_equal src r/src
	run_bkp verify -r "$REPO" -k "$KEY" "$ID"
	expect_exit 0 "full verify of a good archive"
	run_bkp verify -r "$REPO" "$ID"
	expect_exit 0 "key-less verify of a good archive"
	# Nothing that names a file is stored unencrypted.
	if grep -rlaF -e 'link-to-hello' -e 'blob-hardlink' -e 'private.conf' "$REPO" "$T/state" >&2; then
		fail "a file name from the dataset is stored in clear in the repository or state"
	fi
	return 0
}

test_absolute_paths_stored_relative() {
	new_repo
	make_dataset src
	mkdir other
	echo second >other/f
	backup_id abs "$T/src" "$T/other"
	run_bkp restore -r "$REPO" -k "$KEY" latest --target r
	expect_exit 0
	tree_equal "$T/src" "r/${T#/}/src"
	cmp other/f "r/${T#/}/other/f" || fail "second path not restored"
}

test_exclude() {
	new_repo
	make_dataset src
	backup_id ex --exclude '*.bin' --exclude 'src/docs/notes' src
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target r
	expect_exit 0
	[ -f r/src/hello.txt ] || fail "hello.txt missing"
	[ -z "$(find r -name '*.bin')" ] || fail "excluded *.bin files were backed up: $(find r -name '*.bin')"
	[ ! -e r/src/docs/notes ] || fail "excluded src/docs/notes was backed up"
	[ -f r/src/docs/readme.md ] || fail "src/docs/readme.md missing"
}

test_stdin_backup_byte_for_byte() {
	new_repo
	local n=3000000
	[ "${BKP_SUITE:-}" = san ] && n=700000
	head -c "$n" /dev/urandom >in.bin
	printf '\0\0\nNUL bytes\0\xff\n' >>in.bin
	cat in.bin | run_bkp backup -r "$REPO" --name db --stdin-name db.sql -
	expect_exit 0
	expect_stdout_match '^[0-9a-f]{32}$'
	run_bkp restore -r "$REPO" -k "$KEY" db:latest --target r
	expect_exit 0
	[ "$(ls -A r)" = db.sql ] || fail "restore of a stdin archive gave '$(ls -A r)', expected db.sql"
	cmp in.bin r/db.sql || fail "stdin backup not restored byte for byte"
	# Default name, and an empty stream.
	printf 'small' | run_bkp backup -r "$REPO" --name s -
	expect_exit 0
	run_bkp restore -r "$REPO" -k "$KEY" s:latest --target r2
	expect_exit 0
	[ "$(cat r2/stdin)" = small ] || fail "default --stdin-name is not 'stdin'"
	run_bkp backup -r "$REPO" --name e --stdin-name empty.sql - </dev/null
	expect_exit 0
	run_bkp restore -r "$REPO" -k "$KEY" e:latest --target r3
	expect_exit 0
	[ -f r3/empty.sql ] && [ ! -s r3/empty.sql ] || fail "empty stdin not restored as an empty file"
	run_bkp verify -r "$REPO" -k "$KEY" --all
	expect_exit 0
}

test_empty_directories_roundtrip() {
	new_repo
	mkdir -p e/a/b/c e/x e/y
	chmod 0705 e/x
	chmod 0700 e/a/b/c
	touch -d '2003-03-03 03:03:03 UTC' e/a/b/c e/a/b e/a e/x e/y e
	backup_id empty e
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target r
	expect_exit 0
	tree_equal e r/e
	# A backup of one empty directory on its own.
	mkdir lonely
	chmod 0751 lonely
	touch -d '2004-04-04 04:04:04 UTC' lonely
	backup_id lonely lonely
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target r2
	expect_exit 0
	tree_equal lonely r2/lonely
}

# Three archives; each way of naming one picks the right one.  Made in
# quick succession (same second, as from a script): "latest" is still the
# last one made.
test_list_and_archive_selection() {
	new_repo
	mkdir src
	echo v1 >src/f
	backup_id a src
	local a1=$ID
	echo v3 >src/f
	backup_id a src
	local a3=$ID
	echo v2 >src/f
	backup_id b src
	local b2=$ID

	run_bkp list -r "$REPO"
	expect_exit 0
	[ "$(grep -ac . "$BKPT_DIR/stdout")" -eq 3 ] || fail "list shows $(grep -ac . "$BKPT_DIR/stdout") lines, expected 3"
	local id
	for id in "$a1" "$a3" "$b2"; do
		grep -a "$id" "$BKPT_DIR/stdout" | grep -aqE '20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}' ||
			fail "list line of $id lacks the id or a UTC ISO 8601 creation time"
	done
	grep -a "$a1" "$BKPT_DIR/stdout" | grep -aqw a || fail "list line of $a1 lacks its name"
	grep -a "$b2" "$BKPT_DIR/stdout" | grep -aqw b || fail "list line of $b2 lacks its name"
	run_bkp list -r "$REPO" --name a
	expect_exit 0
	[ "$(grep -ac . "$BKPT_DIR/stdout")" -eq 2 ] || fail "list --name a shows $(grep -ac . "$BKPT_DIR/stdout") lines, expected 2"
	expect_stdout_nomatch "$b2"
	run_bkp list -r "$REPO" --json
	python3 - "$BKPT_DIR/stdout" "$a1" "$a3" "$b2" <<'EOF' || fail "list --json is wrong"
import json, sys
a = json.load(open(sys.argv[1]))
ids = [o["id"] for o in a]
assert sorted(ids) == sorted(sys.argv[2:]), ids
EOF

	# spec -> expected content of src/f
	local spec want n=0
	for spec in "$a1:v1" "${a3:0:8}:v3" "${b2:0:4}:v2" "a\:latest:v3" "b\:latest:v2" "latest:v2" "$a3:v3"; do
		want=${spec##*:}
		spec=${spec%:*}
		spec=${spec//\\/}
		n=$((n + 1))
		run_bkp restore -r "$REPO" -k "$KEY" "$spec" --target "r$n"
		expect_exit 0 "restore $spec"
		[ "$(cat "r$n/src/f" 2>/dev/null)" = "$want" ] ||
			fail "restore '$spec' gave '$(cat "r$n/src/f" 2>/dev/null)', expected '$want'"
	done
	for spec in ffffffffffffffffffffffffffffffff fffff zzz:latest "${a1:0:3}"; do
		n=$((n + 1))
		run_bkp restore -r "$REPO" -k "$KEY" "$spec" --target "r$n"
		expect_error_line "${spec%%:*}"
		[ ! -e "r$n" ] || [ -z "$(ls -A "r$n")" ] || fail "failed restore of '$spec' wrote files"
	done
	return 0
}

test_partial_restore_include() {
	new_repo
	make_dataset src
	backup_id part src
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target r --include 'src/docs/*'
	expect_exit 0
	# src/docs itself is not matched by 'src/docs/*': its metadata may differ.
	tree_equal --ignore-root src/docs r/src/docs
	[ "$(ls -A r/src)" = docs ] || fail "--include 'src/docs/*' also restored: $(ls -A r/src | grep -avx docs | tr '\n' ' ')"
	# A directory pattern matches everything below it; patterns add up.
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target r2 --include src/data/deep --include 'src/bin/*.sh'
	expect_exit 0
	tree_equal src/data/deep r2/src/data/deep
	cmp src/bin/run.sh r2/src/bin/run.sh || fail "src/bin/run.sh not restored"
	local got
	got=$(cd r2 && find . -type f -o -type l | sort | tr '\n' ' ')
	[ "$got" = "./src/bin/run.sh ./src/data/deep/deeper/small.bin ./src/data/deep/rel-link " ] ||
		fail "partial restore restored: $got"
	# A pattern that matches nothing restores nothing.
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target r3 --include 'nomatch/*'
	[ -z "$(find r3 -type f 2>/dev/null)" ] || fail "--include 'nomatch/*' restored files"
	return 0
}

test_restore_overwrite() {
	new_repo
	make_dataset src
	backup_id ow src
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target r
	expect_exit 0
	echo changed >r/src/hello.txt
	echo changed >r/src/docs/readme.md
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target r
	expect_error_line 'hello\.txt|exist'
	[ "$(cat r/src/hello.txt)" = changed ] || fail "restore without --overwrite changed an existing file"
	[ "$(cat r/src/docs/readme.md)" = changed ] || fail "restore without --overwrite changed an existing file"
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target r --overwrite
	expect_exit 0 "restore --overwrite"
	tree_equal src r/src
}

# --cipher NAME is honoured, recorded per archive, and round-trips.
test_both_ciphers() {
	local c
	new_repo
	make_dataset src
	for c in aes256gcm xchacha20poly1305; do
		run_bkp init -r "$T/repo-$c" --recipient "$KEYPUB" --cipher "$c"
		expect_exit 0 "init --cipher $c"
		REPO=$T/repo-$c backup_id "c-$c" src
		[ "$(REPO=$T/repo-$c record_get "$ID" "r['cipher']")" = "$c" ] ||
			fail "archive record of a $c repository says cipher '$(REPO=$T/repo-$c record_get "$ID" "r['cipher']")'"
		run_bkp restore -r "$T/repo-$c" -k "$KEY" "$ID" --target "r-$c"
		expect_exit 0 "restore ($c)"
		tree_equal src "r-$c/src"
		run_bkp verify -r "$T/repo-$c" -k "$KEY" --all
		expect_exit 0 "verify ($c)"
	done
	if grep -aqw aes /proc/cpuinfo && grep -aqw pclmulqdq /proc/cpuinfo; then
		backup_id auto src
		[ "$(record_get "$ID" "r['cipher']")" = aes256gcm ] ||
			fail "cipher auto on an AES-NI CPU gave '$(record_get "$ID" "r['cipher']")'"
	fi
	return 0
}

# A 5 GiB sparse file: over 4 GiB, mostly holes; restored equal and sparse.
test_sparse_file_over_4gib() {
	new_repo
	mkdir sp
	truncate -s 5G sp/big
	printf 'head' | dd of=sp/big bs=1 seek=0 conv=notrunc status=none
	printf 'past 4 GiB' | dd of=sp/big bs=1 seek=$((4 * 1024 * 1024 * 1024 + 1)) conv=notrunc status=none
	printf 'END' | dd of=sp/big bs=1 seek=$((5 * 1024 * 1024 * 1024 - 3)) conv=notrunc status=none
	echo small >sp/small
	[ "$(stat -c %s sp/big)" = $((5 * 1024 * 1024 * 1024)) ] || fail "test setup: sparse file size wrong"
	backup_id sparse sp
	local dsize
	dsize=$(record_get "$ID" "r['data']['size']")
	[ "$dsize" -lt $((16 * 1024 * 1024)) ] || fail "stored archive of a sparse 5 GiB file is $dsize bytes"
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target r
	expect_exit 0
	[ "$(stat -c %s r/sp/big)" = $((5 * 1024 * 1024 * 1024)) ] || fail "restored size is $(stat -c %s r/sp/big)"
	sparse_cmp sp/big r/sp/big || fail "restored sparse file differs"
	sparse_ok r/sp/big || fail "restored file is not sparse: $(du -k r/sp/big | cut -f1) KiB allocated"
	cmp sp/small r/sp/small || fail "small file next to the sparse one differs"
}

# A repository for two recipients (ops and escrow): each key alone restores;
# a key that is not a recipient does not.
test_two_recipients_each_can_restore() {
	run_bkp keygen "$T/ops"
	expect_exit 0
	BKP_PASSPHRASE='escrow passphrase' run_bkp keygen "$T/escrow"
	expect_exit 0
	run_bkp keygen "$T/stranger"
	expect_exit 0
	REPO=$T/repo
	run_bkp init -r "$REPO" --recipient "$T/ops.pub" --recipient "$T/escrow.pub"
	expect_exit 0
	make_dataset src
	backup_id two src
	run_bkp restore -r "$REPO" -k "$T/ops" "$ID" --target r-ops
	expect_exit 0 "restore with the first recipient's key"
	tree_equal src r-ops/src
	BKP_PASSPHRASE='escrow passphrase' run_bkp restore -r "$REPO" -k "$T/escrow" "$ID" --target r-escrow
	expect_exit 0 "restore with the second recipient's key"
	tree_equal src r-escrow/src
	run_bkp restore -r "$REPO" -k "$T/stranger" "$ID" --target r-stranger
	expect_exit 12 "restore with a key that is not a recipient"
}

# --level and --threads change how, not what.
test_backup_level_and_threads() {
	new_repo --chunk-size 65536
	make_dataset src
	head -c 300000 /dev/urandom >src/random.bin
	seq 1 100000 >src/numbers.txt
	local opts n=0
	for opts in "--level 1 --threads 1" "--level 19 --threads 2" "--threads 4" "--level 3"; do
		n=$((n + 1))
		# shellcheck disable=SC2086
		backup_id "opt$n" $opts src
		run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target "r$n"
		expect_exit 0 "restore of a backup made with $opts"
		tree_equal src "r$n/src"
	done
	run_bkp backup -r "$REPO" --name bad --level 99 src
	expect_exit 2 "--level 99"
	run_bkp backup -r "$REPO" --name bad --threads -1 src
	expect_exit 2 "--threads -1"
}

# Full verify decrypts and hashes everything but writes nothing to disk
# (outside its state directory), temporary files included.
test_verify_writes_nothing() {
	new_repo
	make_dataset src
	backup_id v src
	mkdir tmpdir
	outside_snapshot "$BKPT_DIR/before" ''
	TMPDIR=$T/tmpdir run_bkp verify -r "$REPO" -k "$KEY" "$ID"
	expect_exit 0
	TMPDIR=$T/tmpdir run_bkp verify -r "$REPO" -k "$KEY" --all
	expect_exit 0
	outside_unchanged "$BKPT_DIR/before" ''
	[ -z "$(ls -A tmpdir)" ] || fail "verify left files in TMPDIR"
}

# A tree of very many links restored into an empty target: symlinks and
# hard links are made after everything else only up to a byte budget
# (restore.c DEFER_MAX); past it the restore finishes its writer pool,
# makes the links it holds and goes on with every symlink check on.  The
# tree must come back whole either way, and a file beneath a link-named
# directory must not be written through the link.
test_many_links_restore_whole() {
	new_repo
	local n=20000 i
	mkdir -p src/a src/b src/z
	echo target >src/a/t
	python3 - "$n" <<'PY' || fail "test setup: cannot make the links"
import os, sys
for i in range(1, int(sys.argv[1]) + 1):
    os.symlink("../a/t", "src/b/l%d" % i)
for i in range(1, 501):
    os.link("src/a/t", "src/a/h%d" % i)
for i in range(1, 201):
    with open("src/z/f%d" % i, "w") as f:
        f.write("f%d\n" % i)
PY
	backup_id links src
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target r
	expect_exit 0 "restore of a tree of $n symlinks and 500 hard links"
	tree_equal src r/src
	[ "$(stat -c %h r/src/a/t)" = 501 ] || fail "hard links of src/a/t not restored (link count $(stat -c %h r/src/a/t))"
}
