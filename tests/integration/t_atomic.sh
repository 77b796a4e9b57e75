# shellcheck shell=bash
# Atomicity and robustness: unreadable sources, interrupted backups, locks.

# As root every file is readable, so bkp runs as nobody over a tree that
# nobody owns, with one unreadable file and one unreadable directory.
test_unreadable_file_exit_3() {
	id nobody >/dev/null 2>&1 || fail "test needs the user 'nobody'"
	[ "$(id -u)" = 0 ] || fail "test needs root (to switch to nobody)"
	new_repo
	make_dataset src
	echo 'top secret' >src/unreadable.txt
	mkdir src/locked-dir
	echo inside >src/locked-dir/f
	chmod 0711 "$T"
	chown -R nobody "$REPO" src "$T/state" "$T/home"
	chmod 000 src/unreadable.txt src/locked-dir
	run_bkp_as nobody backup -r "$REPO" --name unreadable src
	expect_exit 3 "backup with unreadable source files (as nobody)"
	expect_stderr_match 'unreadable\.txt'
	expect_stderr_match 'locked-dir'
	grep -aqE '^bkp: .*unreadable\.txt' "$BKPT_DIR/stderr" || grep -aqE 'warning.*unreadable\.txt' "$BKPT_DIR/stderr" ||
		fail "no warning line naming src/unreadable.txt"
	ID=$(head -n 1 "$BKPT_DIR/stdout")
	[[ $ID =~ ^[0-9a-f]{32}$ ]] || fail "backup with warnings printed no archive id"
	run_bkp list -r "$REPO"
	expect_stdout_match "$ID"
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target r
	expect_exit 0 "restore of the archive made with warnings"
	[ ! -e r/src/unreadable.txt ] || [ ! -s r/src/unreadable.txt ] || fail "unreadable file was restored with content"
	[ ! -e r/src/locked-dir/f ] || fail "file inside the unreadable directory was restored"
	rm -f src/unreadable.txt
	chmod 755 src/locked-dir
	rm -rf src/locked-dir r/src/unreadable.txt r/src/locked-dir
	# Everything else is there, equal (owner differs: not compared).
	tree_equal src r/src
	run_bkp verify -r "$REPO" -k "$KEY" "$ID"
	expect_exit 0
}

# start_big_backup NAME DIR: start bkp backup in the background; sets BGPID.
start_big_backup() {
	"$BKP" backup -r "$REPO" --name "$1" "$2" >"$BKPT_DIR/bg.out" 2>"$BKPT_DIR/bg.err" &
	BGPID=$!
}

# wait_for_writes BASE_KB GROWTH_KB: until the repository has grown by
# GROWTH_KB since BASE_KB (the backup is mid-way), at most 30 s.
wait_for_writes() {
	local base=$1 growth=$2 i
	for i in $(seq 1 600); do
		[ "$(du -sk "$REPO" | cut -f1)" -gt $((base + growth)) ] && return 0
		kill -0 "$BGPID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# wait_exit PID SECS: wait for PID to exit, at most SECS seconds; return
# its status, or 255 (after killing it) if it hung.
wait_exit() {
	local pid=$1 i
	for i in $(seq 1 $(($2 * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 255
	fi
	wait "$pid" 2>/dev/null
}

test_sigkill_during_backup_leaves_no_archive() {
	new_repo
	make_dataset small
	backup_id good small
	local good=$ID mb=200
	[ "${BKP_SUITE:-}" = san ] && mb=100
	mkdir big
	head -c "${mb}M" /dev/urandom >big/a.bin
	head -c 1M /dev/urandom >big/b.bin
	local sig base when rc
	# Signals at two points: early (3 MB stored) and later (30 MB).
	# (Not SIGINT: a background job of a non-interactive shell ignores it.)
	for when in KILL:3000 TERM:3000 KILL:30000 TERM:30000; do
		sig=${when%:*}
		base=$(du -sk "$REPO" | cut -f1)
		start_big_backup big big
		wait_for_writes "$base" "${when#*:}" ||
			fail "test setup: backup finished or wrote nothing before SIG$sig could be sent ($(cat "$BKPT_DIR/bg.err"))"
		kill -s "$sig" "$BGPID"
		wait_exit "$BGPID" 20
		rc=$?
		[ "$rc" != 255 ] || fail "backup did not exit within 20 s of SIG$sig (sent after ${when#*:} KiB stored): it hangs"
		[ "$rc" != 0 ] || fail "backup exited 0 after SIG$sig"
		note "backup killed by SIG$sig after ${when#*:} KiB stored (exit $rc)"
		run_bkp list -r "$REPO"
		expect_exit 0 "list after SIG$sig"
		[ "$(grep -ac . "$BKPT_DIR/stdout")" = 1 ] || fail "list after SIG$sig shows $(grep -ac . "$BKPT_DIR/stdout") archives, expected only the good one"
		expect_stdout_match "$good"
		run_bkp list -r "$REPO" --json
		python3 -c 'import json,sys; assert len(json.load(open(sys.argv[1]))) == 1' "$BKPT_DIR/stdout" ||
			fail "list --json after SIG$sig does not show exactly one archive"
		run_bkp verify -r "$REPO" --all
		expect_exit 0 "key-less verify --all after SIG$sig"
		run_bkp verify -r "$REPO" -k "$KEY" --all
		expect_exit 0 "verify -k --all after SIG$sig"
	done
	# The next backup works (no stale lock, no leftovers in the way).
	backup_id big big/b.bin
	local next=$ID
	run_bkp verify -r "$REPO" -k "$KEY" "$next"
	expect_exit 0
	run_bkp list -r "$REPO"
	[ "$(grep -ac . "$BKPT_DIR/stdout")" = 2 ] || fail "list after the next backup does not show 2 archives"
}

# A stop asked for once all input has been read, while the last chunks
# are still compressed and stored (zstd level 19 over 16 MiB of random
# data takes a second or more), still commits nothing: bkp used to finish
# and commit such a backup and exit 0.
test_sigterm_after_input_read_commits_nothing() {
	new_repo
	head -c 16M /dev/urandom >r.bin
	local rc
	"$BKP" backup -r "$REPO" --name late --level 19 --stdin-name r.bin - <r.bin \
		>"$BKPT_DIR/bg.out" 2>"$BKPT_DIR/bg.err" &
	BGPID=$!
	sleep 0.4
	kill -0 "$BGPID" 2>/dev/null ||
		fail "test setup: backup finished before SIGTERM could be sent ($(cat "$BKPT_DIR/bg.err"))"
	kill -s TERM "$BGPID"
	wait_exit "$BGPID" 20
	rc=$?
	[ "$rc" != 255 ] || fail "backup did not exit within 20 s of SIGTERM"
	[ "$rc" != 0 ] || fail "backup exited 0 after SIGTERM (it committed $(cat "$BKPT_DIR/bg.out"))"
	grep -aq 'interrupted' "$BKPT_DIR/bg.err" || fail "no 'interrupted' error: $(cat "$BKPT_DIR/bg.err")"
	run_bkp list -r "$REPO"
	expect_exit 0 "list after SIGTERM"
	[ "$(grep -ac . "$BKPT_DIR/stdout")" = 0 ] || fail "list after SIGTERM shows an archive"
	# The next backup works (no stale lock, no leftovers in the way).
	run_bkp backup -r "$REPO" --name late --stdin-name r.bin - <r.bin
	expect_exit 0 "backup after the interrupted one"
}

# A backup reading from a FIFO we hold open keeps the repository locked; a
# second backup of the same name meanwhile exits 11.
test_concurrent_backup_locked_exit_11() {
	new_repo
	mkfifo fifo
	"$BKP" backup -r "$REPO" --name db --stdin-name db.sql - <fifo >"$BKPT_DIR/bg.out" 2>"$BKPT_DIR/bg.err" &
	local p1=$!
	exec 3>fifo
	head -c 1M /dev/urandom >first.part
	cat first.part >&3
	sleep 1
	[ "${BKP_SUITE:-}" = san ] && sleep 1
	kill -0 "$p1" 2>/dev/null || fail "first backup exited early: $(cat "$BKPT_DIR/bg.err")"
	echo other >other.sql
	run_bkp backup -r "$REPO" --name db --stdin-name db.sql - <other.sql
	expect_exit 11 "second backup while the first holds the lock"
	expect_error_line 'lock'
	# Readers are not blocked, and see no half-made archive.
	run_bkp list -r "$REPO"
	expect_exit 0 "list during a backup"
	[ -z "$OUT" ] || fail "list during a backup shows: $OUT"
	head -c 1000 /dev/urandom >last.part
	cat last.part >&3
	exec 3>&-
	wait "$p1"
	local rc=$?
	[ "$rc" = 0 ] || fail "first backup exited $rc after its input closed: $(cat "$BKPT_DIR/bg.err")"
	local id
	id=$(head -n 1 "$BKPT_DIR/bg.out")
	run_bkp restore -r "$REPO" -k "$KEY" "$id" --target r
	expect_exit 0
	cat first.part last.part | cmp - r/db.sql || fail "the locked-out backup's data differs"
	run_bkp backup -r "$REPO" --name db --stdin-name db.sql - <other.sql
	expect_exit 0 "backup after the lock was released"
}

# Disk full mid-backup (a small tmpfs holds the repository; where mounting
# is not allowed, a file-size limit stands in for it): the backup fails
# cleanly, leaves no archive, frees what it wrote, and the next one works.
test_disk_full_leaves_no_archive() {
	local small=$T/small mounted=0
	mkdir -p "$small"
	if mount -t tmpfs -o size=6M tmpfs "$small" 2>/dev/null; then
		mounted=1
		trap 'umount "$T/small" 2>/dev/null' EXIT
	else
		note "cannot mount a tmpfs here: using a file-size limit (ulimit -f) instead"
	fi
	KEY=$T/key KEYPUB=$T/key.pub REPO=$small/repo
	run_bkp keygen "$KEY"
	expect_exit 0
	run_bkp init -r "$REPO" --recipient "$KEYPUB"
	expect_exit 0
	make_dataset src
	backup_id good src
	local good=$ID
	mkdir big
	head -c 12M /dev/urandom >big/random.bin
	if [ "$mounted" = 1 ]; then
		run_bkp backup -r "$REPO" --name big big
	else
		(
			trap '' XFSZ
			ulimit -f 4096
			run_bkp backup -r "$REPO" --name big big
		) || exit 1
	fi
	expect_exit 1 "backup onto a full disk"
	expect_error_line 'space|full|write|quota|large'
	run_bkp list -r "$REPO"
	expect_exit 0
	[ "$(grep -ac . "$BKPT_DIR/stdout")" = 1 ] || fail "list after a disk-full backup shows $(grep -ac . "$BKPT_DIR/stdout") archives, expected 1"
	run_bkp verify -r "$REPO" -k "$KEY" --all
	expect_exit 0 "verify --all after a disk-full backup"
	if [ "$mounted" = 1 ]; then
		local used
		used=$(du -sk "$REPO" | cut -f1)
		[ "$used" -lt 2048 ] || fail "the failed backup left ${used} KiB behind in the repository"
	fi
	backup_id after src
	run_bkp restore -r "$REPO" -k "$KEY" "$good" --target r
	expect_exit 0
	tree_equal src r/src
	if [ "$mounted" = 1 ]; then
		umount "$small" || fail "cannot unmount $small"
		trap - EXIT
	fi
	return 0
}

# Write once: no object in the repository is rewritten in place.  Objects
# present before more backups, lists, restores and verifies (and a failed
# backup) are still there, same inode, size, mtime and bytes.  (tmp/ and
# lock files are not objects.)
test_repository_objects_are_write_once() {
	new_repo
	make_dataset src
	backup_id first src
	snap_repo() {
		python3 - "$REPO" >"$1" <<'PY'
import hashlib, os, sys
root = sys.argv[1]
for dp, dns, fns in os.walk(root):
    rel = os.path.relpath(dp, root)
    if rel.split(os.sep)[0] == "tmp":
        continue
    for n in sorted(fns):
        if "lock" in n:
            continue
        p = os.path.join(dp, n)
        st = os.lstat(p)
        h = hashlib.sha256(open(p, "rb").read()).hexdigest()
        print(os.path.relpath(p, root), st.st_ino, st.st_size, st.st_mtime_ns, h)
PY
	}
	snap_repo before.txt
	echo more >src/new-file
	backup_id second src
	printf 'stdin data' | run_bkp backup -r "$REPO" --name s --stdin-name s.txt -
	expect_exit 0
	run_bkp backup -r "$REPO" --name missing "$T/does-not-exist"
	expect_fail "backup of a missing path"
	run_bkp list -r "$REPO" --json
	run_bkp verify -r "$REPO" --all
	expect_exit 0
	run_bkp verify -r "$REPO" -k "$KEY" --all
	expect_exit 0
	run_bkp restore -r "$REPO" -k "$KEY" latest --target r
	expect_exit 0
	snap_repo after.txt
	local missing
	missing=$(LC_ALL=C comm -23 <(LC_ALL=C sort before.txt) <(LC_ALL=C sort after.txt))
	[ -z "$missing" ] || fail "repository files changed or vanished: $(printf '%s\n' "$missing" | cut -d' ' -f1 | head -n 5 | tr '\n' ' ')"
	[ "$(wc -l <after.txt)" -gt "$(wc -l <before.txt)" ] || fail "later backups added no objects"
}

# init refuses an existing repository and leaves its config alone.
test_init_refuses_existing_repository() {
	new_repo
	local sum
	sum=$(sha256sum <"$REPO/config")
	run_bkp keygen "$T/other"
	expect_exit 0
	run_bkp init -r "$REPO" --recipient "$T/other.pub"
	expect_error_line "$(re_quote "$REPO")|exist"
	[ "$(sha256sum <"$REPO/config")" = "$sum" ] || fail "a refused init changed the config"
	mkdir src
	echo x >src/f
	backup_id still src
}

# A restore whose writes fail (here with EFBIG: a file-size limit of 1 MiB,
# SIGXFSZ ignored; a full disk fails alike with ENOSPC) names the files it
# could not write, exits 1, and leaves no partial file behind: libarchive
# would give such a file its full size, with holes, so that it looked
# restored.  Into a fresh target (the writer pool), into one that is not
# empty (the reading thread writes), and a raw (stdin) archive.  (After a
# file whose full size libarchive could not restore, the same handle's next
# header fails with that message: big2.bin is named, if not for its own
# error.)
test_restore_write_failure_leaves_no_partial_file() {
	new_repo
	mkdir -p src/d
	# Files that fit, in a second source (bkp 0.2 archived sources in
	# the order given, so these came after the failing ones): a failed
	# write must not stop the files after it.
	local i
	mkdir after
	for i in 0 1 2 3 4 5 6 7 8 9; do
		echo "fits $i" >"after/s$i.txt"
	done
	head -c 3000000 /dev/urandom >src/d/big.bin
	head -c 1500000 /dev/urandom >src/d/big2.bin
	echo small >src/d/small.txt
	head -c 200000 /dev/urandom >src/mid.bin
	run_bkp backup -r "$REPO" --name wf src after
	expect_exit 0
	head -c 2500000 /dev/urandom >db.sql
	run_bkp backup -r "$REPO" --name raw --stdin-name db.sql - <db.sql
	expect_exit 0
	local t a f
	for t in fresh busy raw; do
		mkdir "$t"
		a=wf:latest
		[ "$t" = busy ] && echo keep >"$t/other"
		[ "$t" = raw ] && a=raw:latest
		(
			trap '' XFSZ
			ulimit -f 1024
			run_bkp restore -r "$REPO" -k "$KEY" "$a" --target "$t"
		)
		expect_exit 1 "restore into '$t' with writes failing"
		if [ "$t" = raw ]; then
			expect_stderr_match "cannot write 'db\.sql': .*File too large"
			[ ! -e "$t/db.sql" ] || fail "raw restore left a partial db.sql"
			continue
		fi
		expect_stderr_match "'src/d/big\.bin': .*File too large"
		expect_stderr_match "'src/d/big2\.bin'"
		expect_stderr_match "entries not restored"
		[ ! -e "$t/src/d/big.bin" ] || fail "a partial big.bin was left in '$t' ($(stat -c %s "$t/src/d/big.bin") bytes)"
		[ ! -e "$t/src/d/big2.bin" ] || fail "a partial big2.bin was left in '$t'"
		cmp src/mid.bin "$t/src/mid.bin" || fail "mid.bin not restored in '$t'"
		for i in 0 1 2 3 4 5 6 7 8 9; do
			cmp "after/s$i.txt" "$t/after/s$i.txt" ||
				fail "after/s$i.txt not restored in '$t' after a failed write"
		done
		# whatever is there is whole
		while IFS= read -r f; do
			cmp "$f" "$t/$f" || fail "'$t/$f' differs from its source"
		done < <(cd "$t" && find src after -type f)
	done
}
