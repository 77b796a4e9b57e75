# shellcheck shell=bash
# Must-fail cases: damaged or tampered archives, wrong key, wrong passphrase.
# A corrupt archive is a failure (exit 1) with a "bkp: ..." line naming it.

# tamper_setup: repository with 64 KiB chunks and an archive of a few
# hundred KiB of random data plus the sample dataset, so the data object
# has several chunks.  Sets ID, DATA, MANIFEST, NCHUNKS.
tamper_setup() {
	new_repo --chunk-size 65536
	make_dataset src
	head -c 400000 /dev/urandom >src/random.bin
	backup_id tamper src
	DATA=$REPO/$(record_get "$ID" "r['data']['key']")
	MANIFEST=$REPO/$(record_get "$ID" "r['manifest']['key']")
	NCHUNKS=$(record_get "$ID" "r['chunks']")
	[ -f "$DATA" ] && [ -f "$MANIFEST" ] || fail "record names objects that do not exist"
	[ "$NCHUNKS" -ge 5 ] || fail "expected at least 5 chunks with --chunk-size 65536, record says $NCHUNKS"
	data_frames "$DATA" "$NCHUNKS" >frames || fail "cannot find the chunk framing of $DATA"
	# The record's hashes are BLAKE3 (b3sum) of the stored objects.
	python3 - "$(record_json "$ID")" "$REPO" <<'EOF' || fail "record's data/manifest size or BLAKE3 do not match the stored objects"
import json, os, sys
from bkpt_hash import digest
r = json.load(open(sys.argv[1]))
assert r["bkp_archive"] == 3 and r["hash"] == "blake3", r["hash"]
for part in ("data", "manifest", "frames"):
    b = open(os.path.join(sys.argv[2], r[part]["key"]), "rb").read()
    assert r[part]["size"] == len(b), part
    assert r[part]["blake3"] == digest("blake3", b), part
EOF
}

# expect_corrupt WHAT: the last command failed with exit 1 and named the
# archive (its id, or at least its first 8 hex digits).
expect_corrupt() {
	expect_exit 1 "$1"
	grep -aE '^bkp( [a-z]+)?: ' "$BKPT_DIR/stderr" | grep -aq "${ID:0:8}" ||
		fail "no 'bkp: ...' line naming archive ${ID:0:8} for $1"
}

# both_verifies_fail WHAT: full and key-less verify both catch the damage.
both_verifies_fail() {
	run_bkp verify -r "$REPO" -k "$KEY" "$ID"
	expect_corrupt "verify -k: $1"
	run_bkp verify -r "$REPO" "$ID"
	expect_corrupt "key-less verify: $1"
}

# restore_refused WHAT: restore fails and writes nothing outside its target.
restore_refused() {
	outside_snapshot "$BKPT_DIR/before" rt
	rm -rf rt
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target rt
	expect_corrupt "restore: $1"
	outside_unchanged "$BKPT_DIR/before" rt
}

test_flipped_byte_caught_by_both_verifies() {
	tamper_setup
	cp "$DATA" data.orig
	cp "$MANIFEST" manifest.orig
	local size mid hdr len2 where off
	size=$(stat -c %s "$DATA")
	hdr=$(($(head -n 1 frames | cut -d' ' -f1) / 2))
	len2=$(sed -n 2p frames | cut -d' ' -f1)
	mid=$((size / 2))
	for where in "header:$hdr" "first byte:0" "second frame length:$len2" "middle:$mid" "last byte:-1"; do
		off=${where##*:}
		flip_byte "$DATA" "$off"
		both_verifies_fail "data object, flipped byte at ${where%:*} ($off)"
		cp data.orig "$DATA"
	done
	size=$(stat -c %s "$MANIFEST")
	for where in "first byte:0" "header:32" "middle:$((size / 2))" "last byte:-1"; do
		off=${where##*:}
		flip_byte "$MANIFEST" "$off"
		both_verifies_fail "manifest object, flipped byte at ${where%:*} ($off)"
		cp manifest.orig "$MANIFEST"
	done
	# And at a few random places of each.
	local i obj osize
	for i in 1 2 3 4 5 6 7 8; do
		if [ "$i" -le 6 ]; then obj=$DATA; else obj=$MANIFEST; fi
		osize=$(stat -c %s "$obj")
		off=$(python3 -c 'import random,sys; print(random.randrange(int(sys.argv[1])))' "$osize")
		cp "$obj" obj.orig
		flip_byte "$obj" "$off"
		both_verifies_fail "$(basename "$(dirname "$obj")") object, flipped byte at random offset $off of $osize"
		cp obj.orig "$obj"
	done
	# Undamaged again: both pass (so the failures above were the flips).
	run_bkp verify -r "$REPO" -k "$KEY" "$ID"
	expect_exit 0 "verify -k after undoing the flips"
	run_bkp verify -r "$REPO" "$ID"
	expect_exit 0 "key-less verify after undoing the flips"
}

test_flipped_record_hash_caught_by_both_verifies() {
	tamper_setup
	local rec part
	rec=$(record_json "$ID")
	cp "$rec" record.orig
	for part in data manifest; do
		record_set "$ID" "h = r['$part']['blake3']; r['$part']['blake3'] = ('1' if h[0] == '0' else '0') + h[1:]"
		both_verifies_fail "record's $part hash changed"
		cp record.orig "$rec"
		record_set "$ID" "h = r['$part']['blake3']; r['$part']['blake3'] = h[:-1] + ('1' if h[-1] == '0' else '0')"
		both_verifies_fail "record's $part hash changed (last digit)"
		cp record.orig "$rec"
	done
	run_bkp verify -r "$REPO" "$ID"
	expect_exit 0 "key-less verify after undoing the changes"
}

# One corrupt archive among good ones: verify --all fails and names it.
test_verify_all_names_the_bad_archive() {
	tamper_setup
	local bad=$ID
	backup_id good src
	local good=$ID
	ID=$bad
	flip_byte "$DATA" $(($(stat -c %s "$DATA") / 2))
	run_bkp verify -r "$REPO" -k "$KEY" --all
	expect_corrupt "verify -k --all"
	run_bkp verify -r "$REPO" --all
	expect_corrupt "key-less verify --all"
	run_bkp verify -r "$REPO" -k "$KEY" "$good"
	expect_exit 0 "verify -k of the good archive"
}

test_truncated_data_object_refused() {
	tamper_setup
	cp "$DATA" data.orig
	local last_off last_len cut
	read -r last_off last_len < <(tail -n 1 frames)
	for cut in "$last_off" $((last_off + last_len / 2)) $((last_off - 1000)) 64 10; do
		truncate -s "$cut" "$DATA"
		restore_refused "data object cut at $cut"
		both_verifies_fail "data object cut at $cut"
		cp data.orig "$DATA"
	done
	# Missing altogether.
	rm -f "$DATA"
	restore_refused "data object missing"
	both_verifies_fail "data object missing"
	cp data.orig "$DATA"
	cp "$MANIFEST" manifest.orig
	truncate -s $(($(stat -c %s "$MANIFEST") / 2)) "$MANIFEST"
	restore_refused "manifest object cut in half"
	both_verifies_fail "manifest object cut in half"
}

# An attacker who can write to the repository drops the last chunk and fixes
# the record (sizes, hashes, chunk count): key-less verify cannot tell, but
# the last-chunk flag in the AEAD must.
test_truncation_with_consistent_record_refused() {
	tamper_setup
	local last_off
	read -r last_off _ < <(tail -n 1 frames)
	truncate -s "$last_off" "$DATA"
	record_rehash "$ID"
	record_set "$ID" "r['chunks'] = r['chunks'] - 1"
	restore_refused "last chunk dropped, record rewritten"
	run_bkp verify -r "$REPO" -k "$KEY" "$ID"
	expect_corrupt "verify -k: last chunk dropped, record rewritten"
}

# swap_frames SRC SRCFRAMES I DST DSTFRAMES J: copy frame I of object SRC
# over frame J of DST (same length); *FRAMES are data_frames outputs.
swap_frames() {
	python3 - "$@" <<'EOF'
import os, struct, sys
src, sf, i, dst, df, j = sys.argv[1:7]
i, j = int(i), int(j)
def frame(f, k):
    lines = open(f).read().split("\n")
    o, l = map(int, lines[k].split())
    return o, l
so, sl = frame(sf, i)
do, dl = frame(df, j)
assert sl == dl, "frames differ in length"
chunk = open(src, "rb").read()[so:so + sl]
mode = os.stat(dst).st_mode
os.chmod(dst, 0o600)
with open(dst, "r+b") as f:
    f.seek(do)
    f.write(chunk)
os.chmod(dst, mode & 0o7777)
EOF
}

test_chunks_swapped_between_archives_refused() {
	new_repo --chunk-size 65536
	mkdir a b
	head -c 400000 /dev/urandom >a/random.bin
	head -c 400000 /dev/urandom >b/random.bin
	backup_id a a
	local ida=$ID
	backup_id b b
	local idb=$ID
	local da db na nb
	da=$REPO/$(record_get "$ida" "r['data']['key']")
	db=$REPO/$(record_get "$idb" "r['data']['key']")
	na=$(record_get "$ida" "r['chunks']")
	nb=$(record_get "$idb" "r['chunks']")
	data_frames "$da" "$na" >fa || fail "no framing in $da"
	data_frames "$db" "$nb" >fb || fail "no framing in $db"
	# A middle chunk of equal length in both (random data: all full chunks
	# compress to the same length).
	local i=2
	[ "$(sed -n "$((i + 1))p" fa | cut -d' ' -f2)" = "$(sed -n "$((i + 1))p" fb | cut -d' ' -f2)" ] ||
		fail "test setup: chunk $i differs in length between the archives"
	cp "$db" b.orig
	cp "$(record_json "$idb")" brec.orig
	swap_frames "$da" fa "$i" "$db" fb "$i"
	cmp -s "$db" b.orig && fail "test setup: swap changed nothing"
	ID=$idb
	restore_refused "chunk $i taken from archive $ida"
	both_verifies_fail "chunk $i taken from archive $ida"
	# Same, with the record rewritten to match: only the AEAD can tell.
	record_rehash "$idb"
	restore_refused "chunk $i from another archive, record rewritten"
	run_bkp verify -r "$REPO" -k "$KEY" "$idb"
	expect_corrupt "verify -k: chunk $i from another archive, record rewritten"
	# Reordering inside one archive: chunks i and i+1 swapped.
	cp b.orig "$db"
	cp brec.orig "$(record_json "$idb")"
	cp "$db" b.copy
	[ "$(sed -n "$((i + 1))p" fb | cut -d' ' -f2)" = "$(sed -n "$((i + 2))p" fb | cut -d' ' -f2)" ] ||
		fail "test setup: chunks $i and $((i + 1)) differ in length"
	swap_frames b.copy fb $((i + 1)) "$db" fb "$i"
	swap_frames b.copy fb "$i" "$db" fb $((i + 1))
	record_rehash "$idb"
	restore_refused "chunks $i and $((i + 1)) reordered, record rewritten"
	run_bkp verify -r "$REPO" -k "$KEY" "$idb"
	expect_corrupt "verify -k: chunks reordered, record rewritten"
	# Archive a is untouched.
	run_bkp verify -r "$REPO" -k "$KEY" "$ida"
	expect_exit 0 "verify -k of the untouched archive"
}

# The manifest object of one archive put in place of another's (same
# repository, record rewritten): refused, not silently restored.
test_manifest_swapped_between_archives_refused() {
	new_repo --chunk-size 65536
	mkdir a b
	echo one >a/f
	echo two >b/f
	backup_id a a
	local ida=$ID ma
	ma=$REPO/$(record_get "$ida" "r['manifest']['key']")
	backup_id b b
	local mb
	mb=$REPO/$(record_get "$ID" "r['manifest']['key']")
	chmod u+w "$mb"
	cp "$ma" "$mb"
	record_rehash "$ID"
	restore_refused "manifest of $ida in place of its own"
	run_bkp verify -r "$REPO" -k "$KEY" "$ID"
	expect_corrupt "verify -k: manifest of another archive"
}

# The record's version and hash are not authenticated, so someone with
# write access can rewrite a record as version 1 with correct BLAKE2b-256
# digests of the objects (key-less verification cannot tell), or name
# BLAKE2b in a version 2 record.  The encrypted manifest names the real
# version and hash, so a keyed verify and a restore refuse both.
test_record_rewritten_to_another_hash_refused() {
	tamper_setup
	local rec how
	rec=$(record_json "$ID")
	cp "$rec" record.orig
	for how in v1 v2-blake2b; do
		record_set "$ID" "
import bkpt_hash
for part in ('data', 'manifest', 'frames'):
    del r[part]['blake3']
    r[part]['blake2b'] = bkpt_hash.file_digest('blake2b', '$REPO/' + r[part]['key'])
if '$how' == 'v1':
    r['bkp_archive'] = 1
    del r['hash']
else:
    r['hash'] = 'blake2b'
"
		run_bkp verify -r "$REPO" "$ID"
		expect_exit 0 "key-less verify of a self-consistent rewritten record ($how)"
		run_bkp verify -r "$REPO" -k "$KEY" "$ID"
		expect_corrupt "verify -k of a record rewritten to BLAKE2b ($how)"
		# (a format 3 archive's frames object, read first, names its
		# hash as the manifest does)
		expect_stderr_match "does not match its (encrypted manifest|frames object)"
		restore_refused "record rewritten to BLAKE2b ($how)"
		cp record.orig "$rec"
	done
	run_bkp verify -r "$REPO" -k "$KEY" "$ID"
	expect_exit 0 "verify -k after undoing the rewrite"
}

test_wrong_key_exit_12() {
	tamper_setup
	run_bkp keygen "$T/other"
	expect_exit 0
	outside_snapshot "$BKPT_DIR/before" rt
	run_bkp restore -r "$REPO" -k "$T/other" "$ID" --target rt
	expect_exit 12 "restore with a key that is not a recipient"
	expect_error_line 'key'
	[ ! -e rt ] || [ -z "$(ls -A rt)" ] || fail "restore with the wrong key wrote into the target"
	outside_unchanged "$BKPT_DIR/before" rt
	run_bkp verify -r "$REPO" -k "$T/other" "$ID"
	expect_exit 12 "verify with the wrong key"
	expect_error_line 'key'
	# A public key file is not a secret key.
	run_bkp restore -r "$REPO" -k "$KEYPUB" "$ID" --target rt
	expect_fail "restore with a public key file"
	expect_error_line 'key'
}

test_wrong_passphrase_exit_12() {
	tamper_setup
	outside_snapshot "$BKPT_DIR/before" rt
	BKP_PASSPHRASE='not the passphrase' run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target rt
	expect_exit 12 "restore with a wrong passphrase"
	expect_error_line 'passphrase|key'
	[ ! -e rt ] || [ -z "$(ls -A rt)" ] || fail "restore with a wrong passphrase wrote into the target"
	outside_unchanged "$BKPT_DIR/before" rt
	BKP_PASSPHRASE='not the passphrase' run_bkp verify -r "$REPO" -k "$KEY" "$ID"
	expect_exit 12 "verify with a wrong passphrase"
	expect_error_line 'passphrase|key'
	echo 'not the passphrase' >pw
	(
		unset BKP_PASSPHRASE
		BKP_PASSPHRASE_FILE=$T/pw run_bkp verify -r "$REPO" -k "$KEY" "$ID"
		expect_exit 12 "verify with a wrong passphrase from BKP_PASSPHRASE_FILE"
	) || exit 1
}

# Someone who can write to the repository swaps or adds recipients in its
# config: the backup host (which pinned the config) refuses, and in no case
# can the attacker's key read a later backup.
test_swapped_recipients_refused() {
	new_repo
	mkdir src
	echo 'patient data' >src/f
	backup_id before src
	run_bkp keygen "$T/evil"
	expect_exit 0
	run_bkp init -r "$T/repo-evil" --recipient "$T/evil.pub"
	expect_exit 0
	cp "$REPO/config" config.orig
	local how n
	for how in swap add replace; do
		cp config.orig "$REPO/config"
		python3 - "$REPO/config" "$T/repo-evil/config" "$how" <<'PY'
import json, os, sys
p, evilp, how = sys.argv[1:4]
c, e = json.load(open(p)), json.load(open(evilp))
if how == "swap":
    c["recipients"] = e["recipients"]
elif how == "add":
    c["recipients"] = c["recipients"] + e["recipients"]
else:
    c = e
os.chmod(p, 0o644)
json.dump(c, open(p, "w"), indent=2)
PY
		n=$(find "$REPO" -path '*archives/*' -type f | wc -l)
		run_bkp backup -r "$REPO" --name after src
		if [ "$(_rc)" = 0 ]; then
			local id
			id=$(head -n 1 "$BKPT_DIR/stdout")
			run_bkp restore -r "$REPO" -k "$T/evil" "$id" --target "evil-$how"
			[ "$(_rc)" != 0 ] && [ ! -e "evil-$how/src/f" ] ||
				fail "after the config's recipients were changed ($how), the attacker's key restores a new backup"
			[ "$how" = replace ] || fail "backup accepted a config whose recipients were changed ($how)"
		else
			expect_error_line 'config|recipient|pin' "backup with recipients changed ($how)"
			[ "$(find "$REPO" -path '*archives/*' -type f | wc -l)" = "$n" ] ||
				fail "refused backup ($how) left an archive record"
		fi
	done
	cp config.orig "$REPO/config"
	backup_id restored src
}

# A missing or damaged secret key file: a clear error naming it, nothing
# restored.
test_missing_or_damaged_key_file() {
	new_repo
	mkdir src
	echo secret >src/f
	backup_id k src
	run_bkp restore -r "$REPO" -k "$T/no-such-key" "$ID" --target r1
	expect_error_line 'no-such-key'
	[ ! -e r1/src/f ] || fail "restore without a key file restored files"
	cp "$KEY" broken.key
	# Flip a character in the middle of the longest base64/hex run (the
	# encrypted secret).
	python3 - broken.key <<'PY'
import re, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
m = max(re.finditer(rb"[A-Za-z0-9+/=]{40,}", bytes(b)), key=lambda m: m.end() - m.start())
i = (m.start() + m.end()) // 2
b[i] = ord("A") if b[i] != ord("A") else ord("B")
open(p, "wb").write(bytes(b))
PY
	run_bkp restore -r "$REPO" -k "$T/broken.key" "$ID" --target r2
	case $(_rc) in 1 | 12) ;; *) fail "restore with a damaged key file exited $(_rc), expected 1 or 12" ;; esac
	expect_error_line 'broken\.key'
	[ ! -e r2/src/f ] || fail "restore with a damaged key file restored files"
	echo 'not json' >garbage.key
	run_bkp verify -r "$REPO" -k "$T/garbage.key" "$ID"
	expect_fail "verify with a garbage key file"
	expect_error_line 'garbage\.key'
}

# A restore that stops inside a file, at a chunk that fails authentication,
# leaves no part of that file behind: libarchive would have closed it at its
# full size, with holes, so that it looked restored.  Into a fresh target
# (the writer pool drops the file) and into one that is not empty (the
# reading thread writes it).
test_restore_cut_short_by_damage_leaves_no_partial_file() {
	new_repo --chunk-size 65536
	mkdir src
	head -c 600000 /dev/urandom >src/random.bin
	echo small >src/a.txt
	backup_id cut src
	DATA=$REPO/$(record_get "$ID" "r['data']['key']")
	flip_byte "$DATA" $(($(stat -c %s "$DATA") / 2))
	local t
	for t in fresh busy; do
		mkdir "$t"
		[ "$t" = busy ] && echo keep >"$t/other"
		run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target "$t"
		expect_exit 1 "restore into '$t' of an archive damaged mid-file"
		expect_stderr_match 'failed authentication'
		[ ! -e "$t/src/random.bin" ] ||
			fail "restore into '$t' left random.bin ($(stat -c %s "$t/src/random.bin") bytes of 600000)"
	done
}
