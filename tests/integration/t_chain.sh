# shellcheck shell=bash
# (The tests of options, standard input's dedup ratio, index damage and
# SIGKILL check behaviour no sanitizer adds to: they are defined in the
# optimized suite only, to keep the sanitizer suite's time.)
# Incremental, deduplicated backups (archive format 3): chains of
# incrementals restore exactly (every archive of a chain, to the
# nanosecond), a stream with clustered edits stores little, a missing or
# damaged file index gives a correct full backup, a killed incremental
# leaves nothing half-made, and damage to a base archive is caught when a
# dependent archive is verified.

# shellcheck source=chain_lib.sh
. "$(dirname "${BKPT_LIB:-${BASH_SOURCE[0]}}")/chain_lib.sh"

XATTRS=0

# chain_tree_init DIR: the starting tree of test_chain_restores_every_archive.
chain_tree_init() {
	local d=$1 big=2 i
	[ "${BKP_SUITE:-}" = san ] && big=1
	mkdir -p "$d"/static "$d"/del "$d"/ren "$d"/links "$d"/hl "$d"/pdir "$d"/churn
	for i in 1 2 3 4 5; do
		printf 'static file %s\n%s\n' "$i" "$(seq 1 $((i * 300)))" >"$d/static/s$i.txt"
	done
	head -c 300000 /dev/urandom >"$d/static/blob.bin"
	head -c "${big}M" /dev/urandom >"$d/big.bin"
	pad 'version 1' >"$d/same.txt"
	pad 'fast 1' >"$d/fast.txt"
	pad 'exact 1' >"$d/exact.txt"
	seq 1 1000 >"$d/log.txt"
	head -c 200000 /dev/urandom >"$d/trunc.bin"
	echo a >"$d/del/a"
	echo b >"$d/del/b"
	{ echo 'rename me'; seq 1 5000; } >"$d/ren/orig.txt"
	echo 'a file' >"$d/flip"
	echo t1 >"$d/links/t1"
	echo t2 >"$d/links/t2"
	ln -s t1 "$d/links/sl"
	ln -s ../static/s1.txt "$d/links/up"
	echo 'shared content' >"$d/hl/a"
	echo perm >"$d/perm.txt"
	chmod 0644 "$d/perm.txt"
	echo inside >"$d/pdir/f"
	chmod 0755 "$d/pdir"
	echo 'with xattrs' >"$d/x.txt"
	echo owned >"$d/owned.txt"
	echo touched >"$d/touched.txt"
	printf 'not utf-8\n' >"$d/$(printf 'bad-\xff-name')"
	if xattrs_supported "$d"; then
		XATTRS=1
		setfattr -n user.a -v 1 "$d/x.txt"
		setfattr -n user.keep -v 0x00ff10 "$d/static/s2.txt"
	fi
	touch -d '@1500000000.123456789' "$d"/static/*
	touch -h -d '@1500000001.987654321' "$d/links/up"
	touch -d '@1400000000.000000001' "$d/static"
}

# chain_mutate N DIR: the changes made before run N.
chain_mutate() {
	local n=$1 d=$2 i
	case $n in
	2)
		same_second_edit "$d/same.txt" "$(pad 'version 2')"
		pad 'fast 2' >"$d/fast.txt"
		seq 1001 1100 >>"$d/log.txt"
		mv "$d/ren/orig.txt" "$d/ren/moved.txt"
		ln -sfn t2 "$d/links/sl"
		ln "$d/hl/a" "$d/hl/b"
		chmod 0600 "$d/perm.txt"
		[ "$XATTRS" = 1 ] && setfattr -n user.a -v 2 "$d/x.txt"
		mkdir -p "$d/new"
		echo n1 >"$d/new/n1.txt"
		truncate -s 8M "$d/sparse.bin"
		printf 'island' | dd of="$d/sparse.bin" bs=1 seek=3000000 conv=notrunc status=none
		echo odd >"$d/new/it's a \"file\" #1 & (x) é.txt"
		;;
	3)
		truncate -s 50000 "$d/trunc.bin"
		rm -r "$d/del"
		rm "$d/flip"
		mkdir "$d/flip"
		echo inner >"$d/flip/inner"
		ln "$d/hl/a" "$d/hl/c"
		echo 'edited through c' >>"$d/hl/c"
		if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
			chown nobody "$d/owned.txt"
		fi
		chmod 0700 "$d/pdir"
		[ "$XATTRS" = 1 ] && setfattr -n user.b -v 'second attr' "$d/x.txt"
		: >"$d/new/empty"
		mkdir "$d/new/empty-dir"
		mkfifo "$d/new/fifo"
		same_second_edit "$d/same.txt" "$(pad 'version 3')"
		;;
	4)
		printf 'a small edit in the middle of the big file' |
			dd of="$d/big.bin" bs=1 seek=$(($(stat -c %s "$d/big.bin") / 2)) conv=notrunc status=none
		# The hard link b is broken: same content, same mtime, new inode.
		cp -p "$d/hl/b" "$d/hl/b.tmp"
		mv "$d/hl/b.tmp" "$d/hl/b"
		ln -sfn nowhere "$d/links/sl"
		[ "$XATTRS" = 1 ] && setfattr -x user.a "$d/x.txt"
		chmod 0755 "$d/perm.txt"
		touch -d '@1400000000.5' "$d/touched.txt"
		seq 1101 1200 >>"$d/log.txt"
		;;
	5)
		rm -r "$d/flip"
		echo 'file again' >"$d/flip"
		mkdir -p "$d/ren/inside/deeper"
		mv "$d/ren/moved.txt" "$d/ren/inside/deeper/moved.txt"
		rm "$d/hl/a"
		mkdir -p "$d/new/deep/d1/d2"
		for i in $(seq 1 20); do echo "deep $i" >"$d/new/deep/d1/d2/f$i"; done
		pad 'fast 5' >"$d/fast.txt"
		printf 'second island' | dd of="$d/sparse.bin" bs=1 seek=6000000 conv=notrunc status=none
		;;
	6) ;; # nothing changes
	7)
		rm -r "$d/new"
		rm "$d/links/sl"
		echo 'was a symlink' >"$d/links/sl"
		rm "$d/links/t1"
		ln -s t2 "$d/links/t1"
		same_second_edit "$d/same.txt" "$(pad 'version 1')"
		[ "$(id -u)" = 0 ] && chown root "$d/owned.txt"
		chmod 0755 "$d/pdir"
		: >"$d/log.txt"
		head -c 10000 /dev/urandom >>"$d/trunc.bin"
		;;
	8)
		ln "$d/hl/c" "$d/hl/c2"
		ln "$d/hl/b" "$d/hl/b2"
		printf 'second edit' | dd of="$d/big.bin" bs=1 seek=4096 conv=notrunc status=none
		echo 'new content, xattrs kept' >"$d/x.txt"
		mv "$d/pdir" "$d/pdir2"
		chmod 0640 "$d/static/s5.txt"
		;;
	esac
	return 0
}

# ------------------------------------------------------------------ tests

# Eight runs over a tree that changes in every way between them: run 1 is
# a full backup, runs 2-8 incrementals; every archive restores exactly the
# tree of its time; an unchanged run stores far less than the full.
test_chain_restores_every_archive() {
	new_repo
	chain_tree_init src
	local n ids=() sizes=() d id
	for n in 1 2 3 4 5 6 7 8; do
		[ "$n" -gt 1 ] && chain_mutate "$n" src
		snap "$n" src
		backup_id chain src
		ids[n]=$ID
		sizes[n]=$(data_size "$ID")
		note "run $n: archive $ID, data object ${sizes[n]} bytes"
		[ "$n" = 1 ] || expect_stderr_nomatch 'full backup'
	done
	# Chain shape: 0 for the full, then 1..7; each incremental depends on
	# the full (static/ never changes) and only on earlier archives.
	listing
	for n in 1 2 3 4 5 6 7 8; do
		expect_chain "${ids[n]}" $((n - 1)) "run $n" cached
		[ "$n" = 1 ] && continue
		d=$(deps_of "${ids[n]}" cached)
		[[ " $d " == *" ${ids[1]} "* ]] || fail "run $n (${ids[n]}): deps '$d' lack the full backup ${ids[1]}"
		for id in $d; do
			[[ " ${ids[*]:1:n-1} " == *" $id "* ]] ||
				fail "run $n (${ids[n]}): dep $id is not an earlier archive of the chain (${ids[*]:1:n-1})"
		done
	done
	# Run 6 changed nothing: it stores far less than the full.
	[ $((sizes[6] * 10)) -lt "${sizes[1]}" ] ||
		fail "unchanged run 6 stored ${sizes[6]} bytes of data, the full ${sizes[1]}: expected under 10%"
	[ "${sizes[6]}" -lt 65536 ] || fail "unchanged run 6 stored ${sizes[6]} bytes of data (expected < 64 KiB)"
	# Every archive.
	for n in 1 2 3 4 5 6 7 8; do
		restore_exact "${ids[n]}" "$n"
		rm -rf "$T/r$n"
	done
	run_bkp verify -r "$REPO" -k "$KEY" --all
	expect_exit 0 "verify -k --all"
	run_bkp verify -r "$REPO" --all
	expect_exit 0 "key-less verify --all"
	# Partial restore from the newest archive of files last stored in the
	# full (static/) and in run 8 (x.txt).
	run_bkp restore -r "$REPO" -k "$KEY" "${ids[8]}" --target part --include 'src/static/*' --include src/x.txt
	expect_exit 0 "partial restore from the newest archive"
	tree_exact --ignore-root "$T/snaps/8/src/static" part/src/static
	cmp src/x.txt part/src/x.txt || fail "partial restore: x.txt differs"
	[ "$(ls -A part/src | tr '\n' ' ')" = "static x.txt " ] || fail "partial restore restored: $(ls -A part/src | tr '\n' ' ')"
}

# bkp drill of a dataset whose newest archive is an incremental, and of
# one holding a sparse file (the drill compares the restored byte count
# with the record's).
test_chain_drill() {
	new_repo
	mkdir -p plain sparse scratch
	head -c 500000 /dev/urandom >plain/big.bin
	echo 1 >plain/f
	backup_id plain plain
	echo 2 >plain/f
	backup_id plain plain
	expect_chain "$ID" 1 "second archive of 'plain'"
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$T/scratch" --dataset plain
	expect_exit 0 "drill of 'plain', whose newest archive is an incremental"
	expect_stdout_match "^drill plain ${ID:0:12}: PASS"
	truncate -s 8M sparse/holes.bin
	printf 'island' | dd of=sparse/holes.bin bs=1 seek=3000000 conv=notrunc status=none
	echo 1 >sparse/f
	backup_id sparse sparse
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$T/scratch" --dataset sparse
	expect_exit 0 "drill of 'sparse', a full backup holding a sparse file"
	echo 2 >sparse/f
	backup_id sparse sparse
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$T/scratch" --dataset sparse
	expect_exit 0 "drill of 'sparse', an incremental over a sparse file"
}

# The options: --full, --rehash, --max-chain, --full-every.
if [ "${BKP_SUITE:-}" != san ]; then
test_chain_options() {
	new_repo
	mkdir src
	head -c 2000000 /dev/urandom >src/big.bin
	echo 0 >src/counter
	local ids=() n full
	backup_id opt src
	full=$(data_size "$ID")
	expect_chain "$ID" 0 "first backup"
	echo 1 >src/counter
	backup_id opt src
	expect_chain "$ID" 1 "second backup"
	# --full: a full backup although the index is there.
	echo 2 >src/counter
	backup_id opt --full src
	expect_chain "$ID" 0 "--full"
	[ "$(data_size "$ID")" -gt $((full / 2)) ] || fail "--full stored $(data_size "$ID") bytes of data; the first full $full"
	snap full src
	restore_exact "$ID" full
	# --rehash: every file read again, but what did not change is not
	# stored again.
	echo 3 >src/counter
	backup_id opt --rehash src
	expect_chain "$ID" 1 "--rehash after a full"
	[ $(($(data_size "$ID") * 10)) -lt "$full" ] ||
		fail "--rehash stored $(data_size "$ID") bytes of data, the full $full: chunk dedup should apply"
	snap rehash src
	restore_exact "$ID" rehash
	# --max-chain 2: at most 2 incrementals after a full.
	local want=(2 0 1 2 0)
	for n in 0 1 2 3 4; do
		echo "m$n" >src/counter
		backup_id opt --max-chain 2 src
		ids[n]=$ID
		expect_chain "$ID" "${want[n]}" "--max-chain 2, backup $((n + 1)) after the --rehash one"
	done
	snap maxchain src
	restore_exact "${ids[4]}" maxchain
	# --full-every: a full once the chain's full is older than that.
	echo fe1 >src/counter
	backup_id opt --full-every 1h src
	expect_chain "$ID" 1 "--full-every 1h, full made seconds ago"
	sleep 2
	echo fe2 >src/counter
	backup_id opt --full-every 1s src
	expect_chain "$ID" 0 "--full-every 1s, full made over 2 s ago"
	run_bkp backup -r "$REPO" --name opt --max-chain -1 src
	expect_exit 2 "--max-chain -1"
	run_bkp backup -r "$REPO" --name opt --full-every soon src
	expect_exit 2 "--full-every soon"
	run_bkp verify -r "$REPO" -k "$KEY" --all
	expect_exit 0
}
fi

# A 128 MB dump from stdin, then the same dump with 1% of its lines edited
# in 5 contiguous runs (as changed database rows cluster): the second
# archive stores under 15% of the first.  Each run of edits costs one or
# more content-defined chunks (128 KiB to 2 MiB): about 5-7 MB of new
# chunks in all, but up to 15 MB with some repositories' keys (seen once
# in about 15 repositories).  So a 20 MB dump stored 14-28% again (over
# the bound most of the time), a 64 MB one 6-15%, a 128 MB one 3-12%.
if [ "${BKP_SUITE:-}" != san ]; then
test_chain_stdin_dump_dedup() {
	new_repo
	local mb=128 bound=15
	# Under the sanitizers (4x slower), a 32 MB dump: the same code,
	# with the bound the smaller dump allows (see above).
	if [ "${BKP_SUITE:-}" = san ]; then
		mb=32
		bound=45
	fi
	"$PY" - "$mb" <<'EOF' || fail "test setup: cannot make the dumps"
import random, sys
mb = int(sys.argv[1])
rnd = random.Random(20240607)
edit = random.Random(7)
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
         "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"]
target = mb * 1000 * 1000
n_est = target // 81  # lines are 81 bytes long on average
per = n_est // 100 // 5
# One run of edited lines in each fifth of the dump.
seg = n_est // 5
starts = [k * seg + edit.randrange(0, seg - per) for k in range(5)]
edited = set()
for s in starts:
    edited.update(range(s, s + per))
size = i = 0
with open("dump1.sql", "w") as f1, open("dump2.sql", "w") as f2:
    b1, b2 = [], []
    while size < target:
        l = "INSERT INTO patients VALUES (%d, '%s %s %s', %d.%02d, '%08x');\n" % (
            i, rnd.choice(words), rnd.choice(words), rnd.choice(words),
            rnd.randrange(100000), rnd.randrange(100), rnd.getrandbits(32))
        b1.append(l)
        b2.append(l.replace("VALUES (", "VALUES (/* edited %d */ " % edit.getrandbits(20), 1)
                  if i in edited else l)
        size += len(l)
        i += 1
        if len(b1) >= 10000:
            f1.write("".join(b1))
            f2.write("".join(b2))
            b1, b2 = [], []
    f1.write("".join(b1))
    f2.write("".join(b2))
print("lines", i, "edited", len(edited), "in runs starting at", starts)
EOF
	run_bkp backup -r "$REPO" --name db --stdin-name dump.sql - <dump1.sql
	expect_exit 0 "backup of dump 1"
	local id1 id2 s1 s2
	id1=$(head -n 1 "$BKPT_DIR/stdout")
	run_bkp backup -r "$REPO" --name db --stdin-name dump.sql - <dump2.sql
	expect_exit 0 "backup of dump 2"
	id2=$(head -n 1 "$BKPT_DIR/stdout")
	s1=$(data_size "$id1")
	s2=$(data_size "$id2")
	note "dump 1: $s1 bytes of data; dump 2 (1% of lines edited): $s2 bytes ($((s2 * 100 / s1))%); record stats of dump 2: $("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("stats"))' "$REPO/archives/$id2.json" 2>&1)"
	[ $((s2 * 100)) -lt $((s1 * bound)) ] ||
		fail "the edited dump stored $s2 bytes of data, the first $s1: expected under $bound%"
	local d
	d=$(deps_of "$id2")
	[[ " $d " == *" $id1 "* ]] || fail "the second dump's deps '$d' lack the first archive $id1"
	run_bkp restore -r "$REPO" -k "$KEY" "$id1" --target r1
	expect_exit 0
	cmp dump1.sql r1/dump.sql || fail "dump 1 not restored byte for byte"
	run_bkp restore -r "$REPO" -k "$KEY" "$id2" --target r2
	expect_exit 0
	cmp dump2.sql r2/dump.sql || fail "dump 2 not restored byte for byte"
	rm -rf r1 r2
	verify_both "$id1"
	verify_both "$id2"
}
fi

# index_files: the files of this host's index state.
index_files() {
	find "$BKP_STATE_DIR/index" -type f 2>/dev/null | LC_ALL=C sort
}

# expect_full_said WHAT: the last backup succeeded, said "full backup"
# exactly once on stderr, and is a full backup (chain 0, no deps).
expect_full_said() {
	local n
	expect_exit 0 "backup after: $1"
	n=$(grep -aci 'full backup' "$BKPT_DIR/stderr")
	[ "$n" = 1 ] || fail "backup after $1: stderr has $n lines with 'full backup', expected 1: $(head -c 500 "$BKPT_DIR/stderr")"
	note "backup after $1 said: $(grep -ai 'full backup' "$BKPT_DIR/stderr")"
	ID=$(head -n 1 "$BKPT_DIR/stdout")
	[[ $ID =~ ^[0-9a-f]{32}$ ]] || fail "backup after $1 printed '$ID'"
	expect_chain "$ID" 0 "backup after $1"
}

# The host's index is missing, truncated, damaged, from another
# repository, or describes an older archive than the newest: the next
# backup is a correct full one that says so once; the one after is an
# incremental again.
if [ "${BKP_SUITE:-}" != san ]; then
test_chain_index_damage_gives_full() {
	new_repo
	make_dataset src
	head -c 300000 /dev/urandom >src/big.bin
	backup_id ds src
	local full
	full=$(data_size "$ID")
	echo one >src/change
	backup_id ds src
	expect_chain "$ID" 1 "second backup, index intact"
	[ -n "$(index_files)" ] || fail "no index state under \$BKP_STATE_DIR/index after two backups"
	note "index files: $(index_files | tr '\n' ' ')"
	local how f n=0
	for how in deleted truncated flipped other-repository other-host; do
		n=$((n + 1))
		echo "change $n" >src/change
		case $how in
		deleted) rm -rf "$BKP_STATE_DIR/index"/* ;;
		truncated) index_files | while read -r f; do truncate -s $(($(stat -c %s "$f") / 2)) "$f"; done ;;
		flipped) index_files | while read -r f; do flip_byte "$f" $(($(stat -c %s "$f") / 2)); done ;;
		other-repository)
			# The same dataset backed up into a second repository from this
			# host; its index copied over the first repository's.
			run_bkp init -r "$T/repo2" --recipient "$KEYPUB"
			expect_exit 0
			index_files >before
			cp -a "$BKP_STATE_DIR/index" index.saved
			run_bkp backup -r "$T/repo2" --name ds src
			expect_exit 0 "backup into the second repository"
			index_files >after
			local new old
			new=$(LC_ALL=C comm -13 before after)
			old=$(LC_ALL=C comm -12 before after)
			if [ -n "$new" ]; then
				[ "$(printf '%s\n' "$new" | wc -l)" = 1 ] && [ "$(printf '%s\n' "$old" | wc -l)" = 1 ] ||
					fail "test setup: cannot tell the two repositories' index files apart: before: $(tr '\n' ' ' <before); after: $(tr '\n' ' ' <after)"
				chmod u+w "$old" 2>/dev/null
				cp "$new" "$old"
				note "copied $new over $old"
			else
				note "the second repository's backup rewrote the same index file(s): $(tr '\n' ' ' <after)"
				cmp -s index.saved/"$(basename "$(head -n 1 after)")" "$(head -n 1 after)" &&
					note "(but left it unchanged)"
			fi
			;;
		other-host)
			# Another host (its own state) backs up the dataset: this
			# host's index describes an older archive than the newest.
			BKP_STATE_DIR=$T/state-other run_bkp backup -r "$REPO" --name ds src
			expect_full_said "a first backup from another host (no index there)"
			echo "change $n bis" >src/change
			;;
		esac
		snap "$how" src
		run_bkp backup -r "$REPO" --name ds src
		expect_full_said "index $how"
		local fid=$ID
		[ "$(data_size "$fid")" -gt $((full / 2)) ] ||
			fail "full backup after index $how stored $(data_size "$fid") bytes of data, the first full $full"
		restore_exact "$fid" "$how"
		# The index is whole again: the next backup is an incremental.
		echo "after $n" >src/change
		snap "$how-next" src
		run_bkp backup -r "$REPO" --name ds src
		expect_exit 0 "backup after the full that followed index $how"
		expect_stderr_nomatch 'full backup'
		ID=$(head -n 1 "$BKPT_DIR/stdout")
		expect_chain "$ID" 1 "the backup after the full that followed index $how"
		restore_exact "$ID" "$how-next"
		rm -rf "$T/r$how" "$T/r$how-next"
	done
	run_bkp verify -r "$REPO" -k "$KEY" --all
	expect_exit 0 "verify -k --all"
}
fi

# SIGKILL at random points of incremental backups: no half-made archive
# is ever listed, the next backup completes, and every archive restores
# the tree of its time.
if [ "${BKP_SUITE:-}" != san ]; then
test_chain_sigkill_incremental() {
	new_repo
	mkdir -p src/keep src/churn
	local mb=1 i
	head -c 1000000 /dev/urandom >src/keep/base.bin
	for i in $(seq 1 50); do echo "small $i" >"src/keep/f$i"; done
	snap base src
	backup_id k src
	# snap_of[ID]: the snapshot an archive was made from; restored[ID]: done.
	declare -A snap_of=() restored=()
	snap_of[$ID]=base
	# How long an incremental storing $mb MB of new data takes.
	head -c "${mb}M" /dev/urandom >src/churn/new.bin
	snap timing src
	local t0 t1 dur
	t0=$(date +%s%N)
	backup_id k src
	t1=$(date +%s%N)
	snap_of[$ID]=timing
	dur=$(((t1 - t0) / 1000000))
	[ "$dur" -ge 10 ] || dur=10
	note "an incremental of ${mb} MB new data takes ${dur} ms"
	local it delay rc known listed id new rounds=10
	[ "${BKP_SUITE:-}" = san ] && rounds=4
	for it in $(seq 1 "$rounds"); do
		# New data for this round.
		rm -f src/churn/*
		head -c "${mb}M" /dev/urandom >"src/churn/new$it.bin"
		echo "round $it" >>"src/keep/f$it"
		snap "k$it" src
		listing
		known=$(listed_ids)
		delay=$((RANDOM % dur + 1))
		# timeout(1) sends the SIGKILL: to its own child, so never to
		# another process that got the pid of a backup already done.
		timeout -s KILL "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))" \
			"$BKP" backup -r "$REPO" --name k src >bg.out 2>bg.err
		rc=$?
		san_check bg.err
		note "round $it: SIGKILL after ${delay} ms: exit $rc"
		listing
		listed=$(listed_ids)
		new=
		for id in $listed; do
			[[ " $known " == *" $id "* ]] || new="$new $id"
		done
		[ "$(wc -w <<<"$new")" -le 1 ] || fail "round $it: more than one new archive after one killed backup: $new"
		if [ -n "$new" ]; then
			new=${new# }
			snap_of[$new]=k$it
			note "round $it: the backup committed $new before the kill"
			# Listed, so whole: its objects are there and hash right.
			run_bkp verify -r "$REPO" "$new"
			expect_exit 0 "key-less verify of $new, committed before SIGKILL (round $it)"
		fi
		# The next backup of the same tree completes and restores.
		run_bkp backup -r "$REPO" --name k src
		expect_exit 0 "backup after SIGKILL (round $it)"
		id=$(head -n 1 "$BKPT_DIR/stdout")
		snap_of[$id]=k$it
		restore_exact "$id" "k$it"
		restored[$id]=1
		rm -rf "$T/rk$it"
	done
	# Every other archive there is restores the tree it was made of.
	run_bkp list -r "$REPO"
	expect_exit 0 "list after the kills"
	[ "$(grep -ac . "$BKPT_DIR/stdout")" = "${#snap_of[@]}" ] ||
		fail "list shows $(grep -ac . "$BKPT_DIR/stdout") archives, the backups made ${#snap_of[@]}"
	listing
	for id in $(listed_ids); do
		[ -n "${snap_of[$id]:-}" ] || fail "archive $id is listed but no backup made it"
		[ -n "${restored[$id]:-}" ] && continue
		restore_exact "$id" "${snap_of[$id]}"
		rm -rf "$T/r${snap_of[$id]}"
	done
	run_bkp verify -r "$REPO" --all
	expect_exit 0 "key-less verify --all after the kills"
	run_bkp verify -r "$REPO" -k "$KEY" --all
	expect_exit 0 "verify -k --all after the kills"
}
fi

# A flipped byte in the full backup's data object: verify of the full and
# of an incremental that depends on it fail, and the incremental's error
# names the full.
test_chain_damaged_base_fails_dependent() {
	new_repo
	mkdir src
	head -c 2000000 /dev/urandom >src/big.bin
	echo small >src/small.txt
	backup_id dmg src
	local base=$ID
	echo changed >src/small.txt
	backup_id dmg src
	local inc=$ID
	expect_chain "$inc" 1 "the incremental"
	local d
	d=$(deps_of "$inc")
	[[ " $d " == *" $base "* ]] || fail "the incremental's deps '$d' lack the base $base"
	verify_both "$base"
	verify_both "$inc"
	local data
	data=$REPO/$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["key"])' "$REPO/archives/$base.json" 2>/dev/null)
	[ -f "$data" ] || data=$REPO/data/$base
	[ -f "$data" ] || fail "no data object for the base archive ($data)"
	cp "$data" data.orig
	flip_byte "$data" $(($(stat -c %s "$data") / 2))
	run_bkp verify -r "$REPO" -k "$KEY" "$base"
	expect_exit 1 "verify -k of the damaged base"
	run_bkp verify -r "$REPO" "$base"
	expect_exit 1 "key-less verify of the damaged base"
	run_bkp verify -r "$REPO" -k "$KEY" "$inc"
	expect_exit 1 "verify -k of an incremental whose base is damaged"
	grep -aE '^bkp( [a-z]+)?: ' "$BKPT_DIR/stderr" | grep -aq "${base:0:8}" ||
		fail "verify -k of the incremental $inc does not name the damaged base ${base:0:8} in a 'bkp: ...' line: $(head -c 400 "$BKPT_DIR/stderr")"
	run_bkp verify -r "$REPO" "$inc"
	expect_exit 1 "key-less verify of an incremental whose base is damaged"
	grep -aq "${base:0:8}" "$BKPT_DIR/stderr" ||
		note "key-less verify of the incremental does not name the base ${base:0:8}"
	run_bkp restore -r "$REPO" -k "$KEY" "$inc" --target r
	expect_exit 1 "restore of an incremental whose base is damaged"
	# Undamaged again: everything passes (the failures were the flip).
	chmod u+w "$data"
	cp data.orig "$data"
	chmod 0444 "$data"
	verify_both "$base" "after undoing the flip"
	verify_both "$inc" "after undoing the flip"
	# The base's record gone: the incremental fails and names it.
	mv "$REPO/archives/$base.json" base.json
	run_bkp verify -r "$REPO" -k "$KEY" "$inc"
	expect_exit 1 "verify -k of an incremental whose base's record is gone"
	grep -aE '^bkp( [a-z]+)?: ' "$BKPT_DIR/stderr" | grep -aq "${base:0:8}" ||
		fail "verify -k of $inc, its base's record gone, does not name the base ${base:0:8}: $(head -c 400 "$BKPT_DIR/stderr")"
	run_bkp verify -r "$REPO" "$inc"
	expect_exit 1 "key-less verify of an incremental whose base's record is gone"
	run_bkp restore -r "$REPO" -k "$KEY" "$inc" --target r2
	expect_exit 1 "restore of an incremental whose base's record is gone"
	run_bkp list -r "$REPO"
	expect_exit 0 "list with a base's record gone"
	mv base.json "$REPO/archives/$base.json"
	verify_both "$inc" "with the base's record back"
}

# Two datasets backed up from the same tree: each has its own chain; an
# incremental of one never depends on the other's archives.
test_chain_two_datasets_separate() {
	new_repo
	mkdir src
	head -c 500000 /dev/urandom >src/big.bin
	echo 1 >src/f
	backup_id a src
	local a1=$ID
	backup_id b src
	local b1=$ID
	expect_chain "$b1" 0 "first archive of dataset b (dataset a has one of the same tree)"
	echo 2 >src/f
	backup_id a src
	local a2=$ID
	echo 3 >src/f
	snap b2 src
	backup_id b src
	local b2=$ID
	expect_chain "$a2" 1 "second archive of a"
	[ "$DEPS" = "$a1" ] || fail "second archive of a depends on '$DEPS', expected $a1"
	expect_chain "$b2" 1 "second archive of b"
	[ "$DEPS" = "$b1" ] || fail "second archive of b depends on '$DEPS', expected $b1"
	restore_exact "$b2" b2
}

# A content change that keeps the size and puts the mtime back to the
# nanosecond (as tar -x, rsync -t or touch -r would), and a file replaced
# by a rename of another of the same size and mtime: only ctime and the
# inode tell.  The incremental must still store the new content.
test_chain_edit_with_mtime_put_back() {
	new_repo
	mkdir src
	pad 'exact 1' >src/exact.txt
	pad 'replaced 1' >src/replaced.txt
	head -c 500000 /dev/urandom >src/filler.bin
	backup_id ex src
	sleep 0.05
	# The directory's times too are put back (as rsync -t would).
	touch -r src dirtimes
	exact_mtime_edit src/exact.txt "$(pad 'exact 2')"
	pad 'replaced 2' >src/replaced.new
	touch -r src/replaced.txt src/replaced.new
	mv src/replaced.new src/replaced.txt
	touch -r dirtimes src
	snap 2 src
	backup_id ex src
	expect_chain "$ID" 1 "the incremental"
	restore_exact "$ID" 2
}

# What is backed up changes between runs of one dataset: a second path
# dropped and added back, an exclude pattern added, standard input in
# between.  Each archive holds exactly what its run was asked for (an
# incremental must not carry over entries of the index that this run did
# not back up).
test_chain_paths_and_excludes_change() {
	new_repo
	mkdir -p src/sub other
	echo keep >src/keep.txt
	seq 1 100 >src/sub/app.log
	echo 'other tree' >other/o.txt
	head -c 300000 /dev/urandom >src/sub/blob.bin
	local id n=0 what
	for what in "src other" "src" "--exclude *.log src" "src other" "stdin" "src other"; do
		n=$((n + 1))
		echo "run $n" >src/keep.txt
		rm -rf "$T/snaps/$n" "$T/r$n"
		mkdir -p "$T/snaps/$n"
		case $what in
		stdin)
			seq 1 1000 >dump.txt
			run_bkp backup -r "$REPO" --name paths --stdin-name dump.txt - <dump.txt
			expect_exit 0 "run $n: stdin into the dataset"
			id=$(head -n 1 "$BKPT_DIR/stdout")
			run_bkp restore -r "$REPO" -k "$KEY" "$id" --target "$T/r$n"
			expect_exit 0 "restore of run $n (stdin)"
			[ "$(ls -A "$T/r$n")" = dump.txt ] || fail "run $n (stdin) restored: $(ls -A "$T/r$n" | tr '\n' ' ')"
			cmp dump.txt "$T/r$n/dump.txt" || fail "run $n (stdin) restored other bytes"
			continue
			;;
		"--exclude *.log src")
			cp -a src "$T/snaps/$n/"
			rm "$T/snaps/$n/src/sub/app.log"
			touch -r src/sub "$T/snaps/$n/src/sub"
			run_bkp backup -r "$REPO" --name paths --exclude '*.log' src
			;;
		*)
			# shellcheck disable=SC2086
			cp -a $what "$T/snaps/$n/"
			# shellcheck disable=SC2086
			run_bkp backup -r "$REPO" --name paths $what
			;;
		esac
		expect_exit 0 "run $n: backup $what"
		id=$(head -n 1 "$BKPT_DIR/stdout")
		run_bkp restore -r "$REPO" -k "$KEY" "$id" --target "$T/r$n"
		expect_exit 0 "restore of run $n ($what)"
		[ "$(ls -A "$T/r$n" | tr '\n' ' ')" = "$(ls -A "$T/snaps/$n" | tr '\n' ' ')" ] ||
			fail "run $n ($what) restored the top-level entries '$(ls -A "$T/r$n" | tr '\n' ' ')', expected '$(ls -A "$T/snaps/$n" | tr '\n' ' ')'"
		tree_exact --ignore-root "$T/snaps/$n" "$T/r$n"
		chain_deps "$id"
		note "run $n ($what): chain $CHAIN, deps: ${DEPS:-none}, data $(data_size "$id") bytes"
	done
	run_bkp verify -r "$REPO" -k "$KEY" --all
	expect_exit 0 "verify -k --all"
}
