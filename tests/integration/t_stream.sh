# shellcheck shell=bash
# Streaming and random access: memory does not grow with the data, and a
# partial restore reads only the chunks holding what it restores.

# peak_rss_kb ARGS...: run bkp ARGS (stdin inherited) under GNU time; print
# the peak RSS in KiB.  The exit code and output land in the usual files.
peak_rss_kb() {
	[ -x /usr/bin/time ] || fail "test needs GNU time (/usr/bin/time, Debian package 'time')"
	LAST_ARGS="$*"
	/usr/bin/time -f '%M' -o "$BKPT_DIR/rss" "$BKP" "$@" >"$BKPT_DIR/stdout" 2>"$BKPT_DIR/stderr"
	_run_bkp_finish $?
	tail -n 1 "$BKPT_DIR/rss"
}

test_memory_does_not_grow_with_data() {
	new_repo
	local small=16 big=256
	[ "${BKP_SUITE:-}" = san ] && big=128
	mkdir s b
	head -c "${small}M" /dev/urandom >s/data.bin
	head -c "${big}M" /dev/urandom >b/data.bin
	local rs rb
	rs=$(peak_rss_kb backup -r "$REPO" --name s s)
	expect_exit 0
	local ids
	ids=$(head -n 1 "$BKPT_DIR/stdout")
	rb=$(peak_rss_kb backup -r "$REPO" --name b b)
	expect_exit 0
	local idb
	idb=$(head -n 1 "$BKPT_DIR/stdout")
	note "backup peak RSS: ${small} MiB -> ${rs} KiB, ${big} MiB -> ${rb} KiB"
	# 16x the data may not cost more than 1.5x + 32 MiB the memory.
	[ "$rb" -le $((rs * 3 / 2 + 32768)) ] ||
		fail "backup peak RSS grows with the data: ${small} MiB -> ${rs} KiB, ${big} MiB -> ${rb} KiB"
	rs=$(peak_rss_kb restore -r "$REPO" -k "$KEY" "$ids" --target rs)
	expect_exit 0
	rb=$(peak_rss_kb restore -r "$REPO" -k "$KEY" "$idb" --target rb)
	expect_exit 0
	note "restore peak RSS: ${small} MiB -> ${rs} KiB, ${big} MiB -> ${rb} KiB"
	[ "$rb" -le $((rs * 3 / 2 + 32768)) ] ||
		fail "restore peak RSS grows with the data: ${small} MiB -> ${rs} KiB, ${big} MiB -> ${rb} KiB"
	cmp b/data.bin rb/b/data.bin || fail "restored data differs"
	rb=$(peak_rss_kb verify -r "$REPO" -k "$KEY" "$idb")
	expect_exit 0
	[ "$rb" -le $((rs * 3 / 2 + 32768)) ] ||
		fail "verify peak RSS grows with the data: restore of ${small} MiB ${rs} KiB, verify of ${big} MiB ${rb} KiB"
}

# A small file backed up before a large one: damage in a chunk in the middle
# of the large file does not stop a partial restore of the small file (it
# is never read), while a full restore is refused.
test_partial_restore_reads_only_needed_chunks() {
	new_repo --chunk-size 65536
	mkdir big
	echo 'the small file' >small.txt
	head -c 1000000 /dev/urandom >big/random.bin
	backup_id ra small.txt big
	local data n mid off
	data=$REPO/$(record_get "$ID" "r['data']['key']")
	n=$(record_get "$ID" "r['chunks']")
	data_frames "$data" "$n" >frames || fail "cannot find the chunk framing"
	[ "$n" -ge 10 ] || fail "expected at least 10 chunks, record says $n"
	mid=$((n / 2 + 1))
	read -r off _ < <(sed -n "${mid}p" frames)
	flip_byte "$data" $((off + 100))
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target r --include small.txt
	expect_exit 0 "partial restore of a file in an undamaged chunk"
	[ "$(cat r/small.txt)" = 'the small file' ] || fail "small.txt not restored"
	[ ! -e r/big ] || fail "partial restore also restored big/"
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target r2
	expect_exit 1 "full restore of the damaged archive"
}
