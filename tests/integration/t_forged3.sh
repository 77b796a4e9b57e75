# shellcheck shell=bash
# Forged version 3 archives (docs/FORMAT.md §5-§9).  Anyone with a
# repository's public keys can write an archive that decrypts, and a
# version 3 archive names other archives (its deps) whose bytes its
# segments splice into its tar stream: a restore must be safe whatever a
# forged archive's segments, deps, base, chain and frames object say.
# bkp-forge (tests/tools/forge.c, BKP_FORGE_FORMAT=3) writes the archives:
# the given bytes are the archive's pieces, its file records are used as
# given ("s" segments, which may name deps), and knobs set deps, base and
# chain and edit the record, the manifest and the frames object.
#
# Every case runs through t_corpus.sh's driver (corpus): restore into a
# fresh, a non-empty and (--overwrite) target, a partial restore, verify
# with and without the key, and a drill, each under a timeout, with its
# generic checks (nothing outside the target changes, no sanitizer report,
# no crash, no hang) and the expected outcome; a refusal must name the
# archive on a "bkp: ..." line (for the one-line cases, a single line).
# Positive controls (a forged archive whose segments interleave two
# sources many times; legitimate incrementals) prove the harness can pass.
# The refusal cases (segments, deps, damaged deps, record against
# manifest, frames) are defined in the sanitizer suite only (BKP_SUITE=
# san), where hostile input is checked for memory errors too; the
# optimized suite runs the controls, the splices and the plan bound.

# The corpus machinery (corpus_arena, build, corpus, c_*).  Sourcing the
# file also defines its test_* functions, but run.sh runs only those
# named in this file.
# shellcheck source=t_corpus.sh
. "$(dirname "$BKPT_LIB")/t_corpus.sh"

# build3 NAME: forge version 3 archive NAME (dataset NAME, or
# FORGE_DATASET) from the Python on stdin, as t_corpus's build does, with
# also pieces(NAME) (the pieces of archive NAME forged before), record(ID)
# (the record of archive ID, a dict), MTIME, work (the work directory)
# and name (NAME).  The pieces are f's tar bytes (end-of-archive blocks
# included, unreferenced); a record without "s" gets [[0, o, e - o]] (its
# own bytes), one with "s" loses o and e.  The BKP_FORGE_* knobs pass
# through; sets ID.
build3() {
	local name=$1 body lines=
	body=$(cat)
	mkdir -p "$T/work"
	/usr/bin/python3 - "$T/work/$name" "$body" <<'PY' || fail "build3 $name: python failed"
import json, os, sys
from forge_tar import Forge, header, pad, pax_records, MTIME
from bkpt_hash import digest
base, body = sys.argv[1], sys.argv[2]
work = os.path.dirname(base)
f = Forge()
def pieces(n):
    return open(os.path.join(work, n + ".tar"), "rb").read()
def record(i):
    return json.load(open(os.path.join(os.environ["REPO"], "archives",
                                       i + ".json")))
exec(body, {"f": f, "T": os.environ["T"], "U": os.environ.get("U", ""),
            "H": f.alg, "digest": lambda b: digest(f.alg, b),
            "header": header, "pad": pad, "pax_records": pax_records,
            "pieces": pieces, "record": record, "MTIME": MTIME,
            "work": work, "json": json, "os": os,
            "name": os.path.basename(base)})
for r in f.recs:
    if "s" in r:
        r.pop("o", None)
        r.pop("e", None)
    elif "o" in r and "e" in r:
        r["s"] = [[0, r["o"], r["e"] - r["o"]]]
        del r["o"], r["e"]
f.save(base + ".tar", base + ".mf", base + ".lines")
PY
	[ -s "$T/work/$name.lines" ] && lines=$T/work/$name.lines
	BKP_FORGE_RAW_LINES=$lines FORGE_FORMAT=3 forge_archive "$name"
}

# one_line_post: a failed run (other than a drill, which prints its own
# summary) printed exactly one line on stderr (verify: and its count of
# failed archives), which names an archive once where it names it as
# the subject ("archive ID: archive ID: ..." is not).
one_line_post() {
	[ "$(_rc)" != 0 ] && [ "$MODE" != drill ] || return 0
	[ "$(grep -avc '^bkp: verified [0-9]* archives* ' "$BKPT_DIR/stderr")" = 1 ] ||
		c_fail "not a one-line error: $(head -c 400 "$BKPT_DIR/stderr" | tr '\n' '|' | cat -v)"
	! grep -aqE 'archive ([0-9a-f]{32}): archive \1:' "$BKPT_DIR/stderr" ||
		c_fail "the archive is named twice: $(head -c 300 "$BKPT_DIR/stderr" | tr '\n' '|')"
}

# safe_base CASE [WORK]: a small forged version 3 archive of dataset CASE
# (work name WORK, default CASE-base: a directory and a file over several
# 4 KiB chunks); sets BASE (its id) and BASE_TOTAL (its pieces' length).
# The BKP_FORGE_* knobs pass through.
safe_base() {
	local work=${2:-$1-base}
	FORGE_DATASET=$1 build3 "$work" <<'PY'
f.dir("d")
f.file("d/base.txt", bytes(range(256)) * 40)
PY
	BASE=$ID
	BASE_TOTAL=$(stat -c %s "$T/work/$work.tar")
}

# own_tip NAME: forge tip NAME whose one file "a" is all its own bytes
# (the deps, base and chain are the BKP_FORGE_* knobs'); sets ID.
own_tip() {
	build3 "$1" <<'PY'
f.file("a", b"a" * 100)
PY
}

# ---------------------------------------------------------------------------
# Positive controls.  A forged full (no deps) restores; a tip whose one
# file interleaves its own bytes and its bases' in 400 segments (random
# ranges of ten chunks or more of each source, so the four-chunk cache
# both hits and evicts), beside the bases' files (unchanged entries, all
# their bytes), restores exactly in every run: with one base, and with
# two whose chunk sizes differ (64 KiB and 4 KiB; the tip's: 4 KiB).  So
# the must-fail cases below fail for their own reasons.

# il_base DATASET WORK SEED [CHUNK_SIZE]: a forged base of DATASET holding
# d-WORK/ and d-WORK/f.bin (40000 random bytes, also in work/WORK.expected).
il_base() {
	SEED=$3 BKP_FORGE_CHUNK_SIZE=${4:-} FORGE_DATASET=$1 build3 "$2" <<'PY'
import random
rnd = random.Random(int(os.environ["SEED"]))
body = bytes(rnd.getrandbits(8) for _ in range(40000))
f.dir("d-" + name)
f.file("d-%s/f.bin" % name, body)
open("%s/%s.expected" % (work, name), "wb").write(body)
PY
}

# il_tip NAME BASE_WORK...: the tip (dataset NAME, deps BKP_FORGE_DEPS
# in the order of the BASE_WORKs) whose file mix interleaves them.
il_tip() {
	local name=$1
	shift
	IL_BASES="$*" build3 "$name" <<'PY'
import random
rnd = random.Random(2)
srcs = []                           # (source, pieces offset, bytes)
for k, w in enumerate(os.environ["IL_BASES"].split()):
    body = open("%s/%s.expected" % (work, w), "rb").read()
    srcs.append((k + 1, pieces(w).index(body), body))
    # The base's records, verbatim but for the source (unchanged entries).
    for l in open("%s/%s.mf" % (work, w)):
        r = json.loads(l)
        r["s"] = [[k + 1, x[1], x[2]] for x in r["s"]]
        f.record(r)
own = bytes(rnd.getrandbits(8) for _ in range(40000))
# The tip's pieces: the header of mix, its own bytes, then zeros.
f.tar.raw(b"\0" * 512)              # the header, written below
srcs.append((0, f.tar.offset, own))
f.tar.raw(own)
zeros = f.tar.offset
f.tar.raw(b"\0" * 512)
segs, content = [], b""
for k in range(400):
    src, at, body = srcs[k % len(srcs)]
    n = rnd.randrange(1, 600)
    off = rnd.randrange(0, len(body) - n)
    segs.append([src, at + off, n])
    content += body[off:off + n]
f.tar.buf[0:512] = header(name=b"mix", size=len(content))
segs.insert(0, [0, 0, 512])
if len(content) % 512:
    segs.append([0, zeros, 512 - len(content) % 512])
open(work + "/mix.expected", "wb").write(content)
f.record({"t": "file", "path": "mix", "type": "file", "mode": 0o644,
          "uid": 0, "gid": 0, "mtime": MTIME, "size": len(content),
          H: digest(content), "s": segs})
PY
}

# interleave_post: mix and the bases' files (IL_CHECK: work names) are
# restored exactly.
interleave_post() {
	local d=$1 w
	[ -d "$d" ] || return 0
	cmp -s "$d/mix" "$T/work/mix.expected" || c_fail "interleave: mix not restored exactly"
	[ "$MODE" != partial ] || return 0
	for w in $IL_CHECK; do
		cmp -s "$d/d-$w/f.bin" "$T/work/$w.expected" || c_fail "interleave: d-$w/f.bin not restored exactly"
	done
}
test_forged3_control() {
	corpus_arena
	build3 full3 <<'PY'
f.dir("d")
f.file("d/a.txt", b"hello")
f.file("d/big", bytes(range(256)) * 80)
f.symlink("d/s", "a.txt")
f.hardlink("d/h", "d/a.txt")
PY
	C_POST=one_line_post corpus full3 ok . 'd/a.txt'
	il_base interleave il1 1
	BKP_FORGE_DEPS=$ID il_tip interleave il1
	IL_CHECK=il1 C_POST=interleave_post corpus interleave ok . mix
	local b1
	il_base interleave3 il64k 3 65536
	b1=$ID
	il_base interleave3 il4k 4
	BKP_FORGE_DEPS="$b1 $ID" il_tip interleave3 il64k il4k
	IL_CHECK="il64k il4k" C_POST=interleave_post corpus interleave3 ok . mix
}

# ---------------------------------------------------------------------------
# Segments that do not lie within their source: refused before any chunk
# is fetched, naming the archive, in one line.
if [ "${BKP_SUITE:-}" = san ]; then
test_forged3_segments() {
	# Refused before anything is written: four runs cover the paths
	# (restore whole and in part, verify with and without the key).
	local C_RUNS="fresh partial verify keyless"
	corpus_arena
	safe_base seg_beyond
	# A segment past the end of its own source's plaintext.
	build3 seg_beyond <<'PY'
f.file("a", b"a" * 100, rec={"s": [[0, 0, 512], [0, 512, 4000000]]})
PY
	C_POST=one_line_post corpus seg_beyond fail 'segment beyond its data' a "$ID"
	# Past the end of a dependency's plaintext (by one byte).
	safe_base seg_beyond_dep
	BKP_FORGE_DEPS=$BASE build3 seg_beyond_dep <<PY
f.file("a", b"a" * 100, rec={"s": [[0, 0, 512], [1, $BASE_TOTAL - 511, 512]]})
PY
	C_POST=one_line_post corpus seg_beyond_dep fail "segment beyond the data of archive $BASE \\(source 1\\)" a "$ID"
	# A source past the deps: 2 with one dep, 1 with none, 256 (the
	# largest a record may name) with one.
	safe_base seg_src_past
	BKP_FORGE_DEPS=$BASE build3 seg_src_past <<'PY'
f.file("a", b"a" * 100, rec={"s": [[0, 0, 512], [2, 0, 512]]})
PY
	C_POST=one_line_post corpus seg_src_past fail 'names source 2; the archive has 1 dep$' a "$ID"
	build3 seg_src_nodeps <<'PY'
f.file("a", b"a" * 100, rec={"s": [[1, 0, 1024]]})
PY
	C_POST=one_line_post corpus seg_src_nodeps fail 'names source 1; the archive has 0 deps$' a "$ID"
	safe_base seg_src_256
	BKP_FORGE_DEPS=$BASE build3 seg_src_256 <<'PY'
f.file("a", b"a" * 100, rec={"s": [[256, 0, 1024]]})
PY
	C_POST=one_line_post corpus seg_src_256 fail 'names source 256; the archive has 1 dep$' a "$ID"
	# A bad segment in the target of a hard link: a partial restore of
	# the link alone reads the target's record (the needed targets'
	# pass) and refuses it there too, naming the archive once.
	build3 seg_link_target <<'PY'
f.file("a", b"a" * 100, rec={"s": [[0, 0, 512], [0, 512, 4000000]]})
f.hardlink("h", "a")
PY
	C_POST=one_line_post corpus seg_link_target fail "'a': a segment beyond its data" h "$ID"
	# Zero-length and empty: malformed records.
	build3 seg_zero <<'PY'
f.file("a", b"a" * 100, rec={"s": [[0, 0, 512], [0, 512, 0], [0, 512, 512]]})
PY
	C_POST=one_line_post corpus seg_zero fail 'malformed|segment' a "$ID"
	build3 seg_none <<'PY'
f.file("a", b"a" * 100, rec={"s": []})
PY
	C_POST=one_line_post corpus seg_none fail 'malformed|segment' a "$ID"
	# off + len past 2^63 (each at the 2^62 bound), each past the bound,
	# past 2^64 (not an integer JSON can hold here), negative.
	build3 seg_overflow <<'PY'
f.file("a", b"a" * 100, rec={"s": [[0, 0, 512], [0, 1 << 62, 1 << 62]]})
PY
	C_POST=one_line_post corpus seg_overflow fail 'segment beyond its data' a "$ID"
	build3 seg_over_bound <<'PY'
f.file("a", b"a" * 100, rec={"s": [[0, 0, 512], [0, (1 << 62) + 1, 2]]})
PY
	C_POST=one_line_post corpus seg_over_bound fail 'malformed|segment' a "$ID"
	build3 seg_wrap <<'PY'
f.file("a", b"a" * 100, mf=False)
f.raw_line('{"t":"file","path":"a","type":"file","mode":420,"uid":0,"gid":0,'
           '"mtime":1700000000,"size":100,"%s":"%s","s":[[0,0,512],'
           '[0,18446744073709551615,2]]}\n' % (H, digest(b"a" * 100)))
PY
	C_POST=one_line_post corpus seg_wrap fail 'malformed|segment|manifest|invalid' a "$ID"
	build3 seg_negative <<'PY'
f.file("a", b"a" * 100, rec={"s": [[0, -512, 1024]]})
PY
	C_POST=one_line_post corpus seg_negative fail 'malformed|segment' a "$ID"
	# Both "s" and "o"/"e"; and 15001 segments (the bound is 15000).
	build3 seg_and_oe <<'PY'
f.file("a", b"a" * 100)
PY
	mf_edit "$T/work/seg_and_oe.mf" 'r["o"] = 0; r["e"] = r["s"][0][2]'
	FORGE_FORMAT=3 forge_archive seg_and_oe
	C_POST=one_line_post corpus seg_and_oe fail 'malformed|segment' a "$ID"
	build3 seg_many <<'PY'
r = f.file("a", b"a" * 100)
r["s"] = [[0, r["o"], 1]] * 15001
PY
	C_POST=one_line_post corpus seg_many fail 'malformed|segment' a "$ID"
}
fi

# ---------------------------------------------------------------------------
# Deps that are not earlier version 3 archives of the dataset, or not
# there: refused before anything is fetched, naming the archive (and the
# dependency), in one line.  Key-less verification checks the deps too.
if [ "${BKP_SUITE:-}" = san ]; then
test_forged3_deps() {
	# Refused before anything is written: three runs cover the paths
	# (a restore, verify with and without the key).
	local C_RUNS="fresh verify keyless"
	corpus_arena
	local other raw i ids
	# Missing.
	BKP_FORGE_DEPS=0123456789abcdef0123456789abcdef own_tip dep_missing
	C_POST=one_line_post C_KEYLESS=fail corpus dep_missing fail 'missing' a \
		"$ID: archive 0123456789abcdef0123456789abcdef it depends on is missing"
	# An archive of another dataset (made by bkp backup).
	mkdir -p src/d && printf 'other\n' >src/d/o.txt
	backup_id other src
	other=$ID
	BKP_FORGE_DEPS=$other own_tip dep_other_dataset
	C_POST=one_line_post C_KEYLESS=fail corpus dep_other_dataset fail 'not an earlier archive' a "$ID.*$other"
	# Later, and at the same time (created_us not earlier).
	safe_base dep_later
	BKP_FORGE_CREATED_US=$(( $(record_get "$BASE" "r['created_us']") - 1000000 )) \
		BKP_FORGE_DEPS=$BASE own_tip dep_later
	# (The drill restores the dataset's newest archive: the dep.)
	C_POST=one_line_post C_KEYLESS=fail C_DRILL=any corpus dep_later fail 'not an earlier archive' a "$ID.*$BASE"
	safe_base dep_same_time
	BKP_FORGE_CREATED_US=$(record_get "$BASE" "r['created_us']") \
		BKP_FORGE_DEPS=$BASE own_tip dep_same_time
	C_POST=one_line_post C_KEYLESS=fail C_DRILL=any corpus dep_same_time fail 'not an earlier archive' a "$ID.*$BASE"
	# A version 2 archive of the dataset.
	mk_tar "$T/work/dep_v2-base.tar" "$T/work/dep_v2-base.mf" <<'TAR'
file|v2.txt|version 2
TAR
	FORGE_DATASET=dep_v2 forge_archive dep_v2-base
	BKP_FORGE_DEPS=$ID own_tip dep_v2
	C_POST=one_line_post C_KEYLESS=fail corpus dep_v2 fail 'not an earlier archive' a "$ID"
	# The archive itself: the record is malformed.
	BKP_FORGE_DEPS=self own_tip dep_self
	C_POST=one_line_post C_KEYLESS=fail C_DRILL=any corpus dep_self fail 'malformed' a "$ID"
	BKP_FORGE_DEPS= BKP_FORGE_BASE=self BKP_FORGE_CHAIN=1 own_tip base_self
	C_POST=one_line_post C_KEYLESS=fail C_DRILL=any corpus base_self fail 'malformed' a "$ID"
	# A raw archive (bkp backup of standard input) named by a tar one,
	# and a tar archive named by a raw one.
	printf 'raw bytes\n' | run_bkp backup -r "$REPO" --name dep_raw -
	expect_exit 0 "backup of standard input"
	raw=$(tr -d '\n' <"$BKPT_DIR/stdout")
	BKP_FORGE_DEPS=$raw own_tip dep_raw
	C_POST=one_line_post C_KEYLESS=fail corpus dep_raw fail 'not an earlier archive' a "$ID.*$raw"
	safe_base tar_for_raw
	BKP_FORGE_CONTENT=raw BKP_FORGE_DEPS=$BASE build3 tar_for_raw <<'PY'
f.tar.raw(b"raw!" * 10)
f.record({"t": "file", "path": "stdin", "type": "file", "mode": 0o644,
          "uid": 0, "gid": 0, "mtime": MTIME, "size": 40,
          H: digest(b"raw!" * 10), "s": [[0, 0, 40]]})
PY
	C_POST=one_line_post C_KEYLESS=fail corpus tar_for_raw fail 'not an earlier archive' stdin "$ID.*$BASE"
	# Malformed deps: one twice, 257 of them; base and chain that
	# disagree (chain 0 with a base, chain 1 without one).
	safe_base dep_twice
	BKP_FORGE_DEPS="$BASE $BASE" own_tip dep_twice
	C_POST=one_line_post C_KEYLESS=fail C_DRILL=any corpus dep_twice fail 'malformed' a "$ID"
	ids=
	for i in $(seq 1 257); do ids+=" $(printf '%032x' "$i")"; done
	BKP_FORGE_DEPS=$ids own_tip dep_257
	C_POST=one_line_post C_KEYLESS=fail C_DRILL=any corpus dep_257 fail 'malformed' a "$ID"
	safe_base chain0_base
	BKP_FORGE_DEPS=$BASE BKP_FORGE_CHAIN=0 own_tip chain0_base
	C_POST=one_line_post C_KEYLESS=fail C_DRILL=any corpus chain0_base fail 'malformed' a "$ID"
	BKP_FORGE_CHAIN=1 own_tip chain1_nobase
	C_POST=one_line_post C_KEYLESS=fail C_DRILL=any corpus chain1_nobase fail 'malformed' a "$ID"
}
fi

# A dependency that is there but damaged: its frames object missing, its
# frames object's chunk table malformed, its data object damaged, its
# data key sealed to another key only.  The restore fails naming it.
if [ "${BKP_SUITE:-}" = san ]; then
test_forged3_dep_damaged() {
	# Refused before anything is written: three runs cover the paths
	# (a restore, verify with and without the key).
	local C_RUNS="fresh verify keyless"
	corpus_arena
	local b
	safe_base dep_no_frames
	b=$BASE
	rm -f "$REPO/frames/$b"
	BKP_FORGE_DEPS=$b build3 dep_no_frames <<'PY'
f.file("a", b"a" * 100, rec={"s": [[0, 0, 512], [1, 512, 512]]})
PY
	C_POST=one_line_post C_KEYLESS=fail corpus dep_no_frames fail '.' a "$ID: .*$b"
	BKP_FORGE_CHUNK_EDIT='{"1":null}' safe_base dep_frames_gap
	b=$BASE
	BKP_FORGE_DEPS=$b build3 dep_frames_gap <<'PY'
f.file("a", b"a" * 100, rec={"s": [[0, 0, 512], [1, 512, 512]]})
PY
	C_POST=one_line_post corpus dep_frames_gap fail 'frames' a "$ID.*$b"
	safe_base dep_data_damaged
	b=$BASE
	flip_byte "$REPO/data/$b" 100
	BKP_FORGE_DEPS=$b build3 dep_data_damaged <<'PY'
f.file("a", b"a" * 100, rec={"s": [[0, 0, 512], [1, 512, 100]]})
PY
	C_POST=one_line_post C_KEYLESS=fail corpus dep_data_damaged fail '.' a "$ID"
	BKP_FORGE_RECORD_EDIT="{\"recipients\":[{\"fpr\":\"$(printf '%032x' 4242)\",\"sealed\":\"$(head -c 80 /dev/zero | base64 -w0)\"}]}" \
		safe_base dep_other_key
	b=$BASE
	BKP_FORGE_DEPS=$b own_tip dep_other_key
	KEY_NAMED="$ID: .*$b" C_POST=key_post C_KEYLESS=ok corpus dep_other_key any . a
}
fi

# key_post: the run failed as a key that cannot open an archive (exit 12),
# in one line naming KEY_NAMED (a drill: its FAIL summary).
key_post() {
	[ "$MODE" != keyless ] || return 0
	if [ "$MODE" = drill ]; then
		grep -aqE ': FAIL' "$BKPT_DIR/stdout" || c_fail "a failed drill without a FAIL summary"
		return 0
	fi
	[ "$(_rc)" = 12 ] || c_fail "expected exit 12 (the key cannot open an archive), got $(_rc)"
	grep -aE '^bkp( [a-z]+)?: ' "$BKPT_DIR/stderr" | grep -aqE -- "$KEY_NAMED" ||
		c_fail "no 'bkp: ...' line naming /$KEY_NAMED/: $(head -c 400 "$BKPT_DIR/stderr" | tr '\n' '|')"
	one_line_post
}

# ---------------------------------------------------------------------------
# The record's deps, base or chain differ from the manifest's (the record
# is not authenticated; the manifest is): refused, in one line.  Every
# deps list named here is made of valid earlier archives of the dataset,
# so only the comparison can refuse it.
if [ "${BKP_SUITE:-}" = san ]; then
test_forged3_record_vs_manifest() {
	# Refused before anything is written: three runs cover the paths
	# (a restore, verify with and without the key).
	local C_RUNS="fresh verify keyless"
	corpus_arena
	local b1 b2
	safe_base rec_deps rec_deps-b1
	b1=$BASE
	safe_base rec_deps rec_deps-b2
	b2=$BASE
	BKP_FORGE_DEPS="$b1 $b2" BKP_FORGE_RECORD_EDIT="{\"deps\":[\"$b2\",\"$b1\"]}" own_tip rec_deps
	C_POST=one_line_post corpus rec_deps fail 'does not match' a "$ID"
	safe_base rec_deps_more rec_deps_more-b1
	b1=$BASE
	safe_base rec_deps_more rec_deps_more-b2
	b2=$BASE
	BKP_FORGE_DEPS="$b1" BKP_FORGE_RECORD_EDIT="{\"deps\":[\"$b1\",\"$b2\"]}" own_tip rec_deps_more
	C_POST=one_line_post corpus rec_deps_more fail 'does not match' a "$ID"
	safe_base rec_deps_added
	BKP_FORGE_RECORD_EDIT="{\"deps\":[\"$BASE\"],\"base\":\"$BASE\",\"chain\":1}" own_tip rec_deps_added
	C_POST=one_line_post corpus rec_deps_added fail 'does not match' a "$ID"
	safe_base rec_base rec_base-b1
	b1=$BASE
	safe_base rec_base rec_base-b2
	b2=$BASE
	BKP_FORGE_DEPS="$b1 $b2" BKP_FORGE_RECORD_EDIT="{\"base\":\"$b1\"}" own_tip rec_base
	C_POST=one_line_post corpus rec_base fail 'does not match' a "$ID"
	safe_base rec_chain
	BKP_FORGE_DEPS="$BASE" BKP_FORGE_RECORD_EDIT='{"chain":2}' own_tip rec_chain
	C_POST=one_line_post corpus rec_chain fail 'does not match' a "$ID"
	# The manifest edited instead: deps naming another valid archive.
	safe_base man_deps man_deps-b1
	b1=$BASE
	safe_base man_deps man_deps-b2
	b2=$BASE
	BKP_FORGE_DEPS="$b1" BKP_FORGE_ARCHIVE_EDIT="{\"deps\":[\"$b2\"]}" own_tip man_deps
	C_POST=one_line_post corpus man_deps fail 'does not match' a "$ID"
}
fi

# ---------------------------------------------------------------------------
# The frames object: swapped with the manifest (same header, other
# subkey), its end disagreeing with the record, a malformed chunk table,
# its head naming another archive, its size or hash not the record's or
# not the manifest's, missing.
big_tip() {
	build3 "$1" <<'PY'
f.file("big", bytes(range(256)) * 80)
PY
}
if [ "${BKP_SUITE:-}" = san ]; then
test_forged3_frames() {
	# Refused before anything is written: three runs cover the paths
	# (a restore, verify with and without the key).
	local C_RUNS="fresh verify keyless"
	corpus_arena
	local c zeros
	zeros=$(printf '0%.0s' $(seq 64))
	BKP_FORGE_SWAP_FRAMES=1 big_tip fr_swap
	C_POST=one_line_post corpus fr_swap fail '.' big "$ID"
	for c in 'fr_end_size|{"data_size":1000}' "fr_end_hash|{\"data_blake3\":\"$zeros\"}" \
		'fr_end_chunks|{"chunks":99}' 'fr_end_nochunks|{"chunks":null}'; do
		BKP_FORGE_FRAMES_EDIT=${c#*|} big_tip "${c%%|*}"
		C_POST=one_line_post corpus "${c%%|*}" fail 'frames|record' big "$ID"
	done
	for c in 'fr_gap|{"1":null}' 'fr_dup|{"1":[{},{}]}' 'fr_off|{"2":{"off":64}}' \
		'fr_plain|{"0":{"plain":100}}' 'fr_index|{"1":{"i":2}}' 'fr_last_dropped|{"5":null}' \
		'fr_len|{"3":{"len":15}}'; do
		BKP_FORGE_CHUNK_EDIT=${c#*|} big_tip "${c%%|*}"
		C_POST=one_line_post corpus "${c%%|*}" fail 'frames|record' big "$ID"
	done
	for c in 'fr_head_id|{"id":"0123456789abcdef0123456789abcdef"}' 'fr_head_v|{"v":2}' \
		'fr_head_t|{"t":"archive"}'; do
		BKP_FORGE_FRAMES_HEAD_EDIT=${c#*|} big_tip "${c%%|*}"
		C_POST=one_line_post corpus "${c%%|*}" fail 'frames' big "$ID"
	done
	BKP_FORGE_RECORD_EDIT="{\"frames\":{\"blake3\":\"$zeros\"}}" big_tip fr_rec_hash
	C_POST=one_line_post C_KEYLESS=fail corpus fr_rec_hash fail 'frames|record' big "$ID"
	BKP_FORGE_RECORD_EDIT='{"frames":{"size":100}}' big_tip fr_rec_size
	C_POST=one_line_post C_KEYLESS=fail corpus fr_rec_size fail 'frames|record' big "$ID"
	BKP_FORGE_END_EDIT="{\"frames_blake3\":\"$zeros\"}" big_tip fr_man_hash
	C_POST=one_line_post corpus fr_man_hash fail 'does not match' big "$ID"
	BKP_FORGE_END_EDIT='{"frames_size":null}' big_tip fr_man_nosize
	C_POST=one_line_post corpus fr_man_nosize fail 'does not match' big "$ID"
	big_tip fr_missing
	rm -f "$REPO/frames/$ID"
	C_POST=one_line_post C_KEYLESS=fail corpus fr_missing fail 'not found' big "$ID: .*frames/$ID"
}
fi

# ---------------------------------------------------------------------------
# Splicing: a forged tip whose segments take bytes of a legitimate base
# (made by bkp backup; the forger knows only its sizes) into its tar
# stream: garbage, a header that is not the record's, content for entries
# whose paths escape.  The checks of §9 refuse them as for any tar stream.
splice_base() {
	mkdir -p "src-$1/d" "src-$1/e"
	printf 'secret\n' >"src-$1/d/secret.txt"
	head -c 20000 /dev/urandom >"src-$1/d/big"
	printf 'x\n' >"src-$1/e/x"
	backup_id "$1" "src-$1"
	BASE=$ID
	BASE_TAR=$(record_get "$BASE" "r['stats']['tar_bytes']")
	export BASE_TAR
}
test_forged3_splice() {
	corpus_arena
	splice_base splice_garbage
	BKP_FORGE_DEPS=$BASE build3 splice_garbage <<'PY'
f.file("before", b"before")
f.record({"t": "file", "path": "x", "type": "file", "mode": 0o644, "uid": 0,
          "gid": 0, "mtime": MTIME, "size": 2048, H: digest(b"?"),
          "s": [[1, 700, 2560]]})
f.file("after", b"after")
PY
	C_PARTIAL=any corpus splice_garbage fail '.' x "$ID"
	# Every 512-byte block of the base, one record each, claiming to be
	# an empty file: whatever the base holds, nothing is written outside.
	splice_base splice_blocks
	BKP_FORGE_DEPS=$BASE build3 splice_blocks <<'PY'
for k in range(int(os.environ["BASE_TAR"]) // 512):
    f.record({"t": "file", "path": "b%d" % k, "type": "file", "mode": 0o644,
              "uid": 0, "gid": 0, "mtime": MTIME, "size": 0,
              H: digest(b""), "s": [[1, 512 * k, 512]]})
PY
	C_PARTIAL=any corpus splice_blocks fail '.' b0 "$ID"
	# The base's first header (a pax header or the first entry's) under
	# another name.
	splice_base splice_header
	BKP_FORGE_DEPS=$BASE build3 splice_header <<'PY'
f.record({"t": "file", "path": "innocent", "type": "file", "mode": 0o644,
          "uid": 0, "gid": 0, "mtime": MTIME, "size": 0, H: digest(b""),
          "s": [[1, 0, 2048]]})
PY
	C_PARTIAL=any corpus splice_header fail '.' innocent "$ID"
	# Own headers whose paths escape (.., absolute, through a symlink),
	# the content from the base (the forger cannot know its hash): the
	# entry is refused, then its content found corrupt.
	local c
	for c in "splice_dotdot|../evil" "splice_abs|$U/evil" "splice_symlink|link/evil"; do
		splice_base "${c%%|*}"
		P=${c#*|} BKP_FORGE_DEPS=$BASE build3 "${c%%|*}" <<'PY'
path = os.environ["P"]
f.file("before", b"before")
f.symlink("link", T + "/outside")
o = f.tar.offset
f.tar.raw(header(name=path.encode(), size=1536))
f.record({"t": "file", "path": path, "type": "file", "mode": 0o644,
          "uid": 0, "gid": 0, "mtime": MTIME, "size": 1536,
          H: digest(b"unknown"), "s": [[0, o, 512], [1, 0, 1536]]})
f.file("after", b"after")
PY
		# (--overwrite replaces the symlink by a directory in the
		# target, and verify makes no symlink: there, only the hash
		# refuses link/evil.)
		C_POST=no_tmp_escape C_PARTIAL=any corpus "${c%%|*}" fail 'unsafe|refus|absolute|\.\.|symlink|does not match' "${c#*|}" \
			"'$(re_quote "${c#*|}")'"
	done
}

# ---------------------------------------------------------------------------
# Legitimate incrementals (bkp backup): a restore reads each chunk it needs
# once.  Forty small files in 4 KiB chunks, every other one changed, then
# every third: the tip's segments jump between sources at every file, and
# a chunk read again would make the bytes fetched (restore --json) exceed
# the frames of every source's data object taken once.
inc_restore_check() {
	local id=$1 want=0 d k got
	for d in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["deps"]))' "$(record_json "$id")") "$id"; do
		k=$(record_get "$d" "r['data']['size']")
		want=$((want + k - 64))
	done
	rm -rf "rt/$id"
	run_bkp restore -r "$REPO" -k "$KEY" "$id" --target "rt/$id" --json
	expect_exit 0 "restore of incremental $id"
	tree_equal --ignore-root src "rt/$id/src"
	got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["fetched"])' "$BKPT_DIR/stdout")
	note "archive $id: fetched $got bytes; its sources' frames hold $want"
	[ "$got" -le "$want" ] || fail "restore of $id fetched $got bytes, more than every chunk of its sources once ($want)"
	[ "$got" -ge $(( $(record_get "$id" "r['data']['size']") - 64 )) ] || fail "restore of $id fetched $got bytes, less than its own chunks"
}
test_forged3_incremental_reads_chunks_once() {
	forge_bin
	new_repo --chunk-size 4096
	local i id1 id2 id3
	mkdir -p src
	for i in $(seq -w 0 39); do head -c 1500 /dev/urandom >"src/f$i"; done
	touch -d '2020-01-01' src/f*
	backup_id inc src
	id1=$ID
	for i in $(seq -w 0 2 39); do head -c 1500 /dev/urandom >"src/f$i"; done
	backup_id inc src
	id2=$ID
	[ "$(record_get "$id2" "r['chain'], r['deps']")" = "(1, ['$id1'])" ] || fail "the second backup is not an incremental on the first"
	inc_restore_check "$id2"
	for i in $(seq -w 0 3 39); do head -c 1500 /dev/urandom >"src/f$i"; done
	backup_id inc src
	id3=$ID
	[ "$(record_get "$id3" "r['chain']")" = 2 ] || fail "the third backup is not a second incremental"
	inc_restore_check "$id3"
	run_bkp verify -r "$REPO" -k "$KEY" "$id3"
	expect_exit 0 "verify -k of the incremental"
}

# Segments that name the same bytes of a dependency over and over: four
# records of 15,000 segments, each the whole of a 4 MiB dependency in
# 4 KiB chunks, in a manifest of a few hundred bytes.  The restore planned
# every read up front: about 1.9 GB of memory before it refused.  The plan
# is now bounded by what the sources hold and the number of ranges.
test_forged3_repeated_segments_bounded() {
	local forge dep tip peak_kib
	forge=$(dirname "$BKP")/tests/bkp-forge
	[ -x "$forge" ] || fail "bkp-forge not found at '$forge'"
	new_repo --chunk-size 4096
	mkdir -p "$T/amp"
	head -c 4194304 /dev/urandom >"$T/amp/dep.bin"
	: >"$T/amp/dep.mf"
	dep=$(BKP_FORGE_FORMAT=3 "$forge" "$REPO" amp "$T/amp/dep.bin" "$T/amp/dep.mf") ||
		fail "bkp-forge (the dependency) failed"
	head -c 1024 /dev/zero >"$T/amp/tip.bin"
	/usr/bin/python3 - >"$T/amp/tip.mf" <<'PY'
import json
for k in range(4):
    print(json.dumps({"t": "file", "path": "x%d" % k, "type": "file", "mode": 420,
                      "uid": 0, "gid": 0, "mtime": 0, "size": 0, "blake3": "0" * 64,
                      "s": [[1, 0, 4194304]] * 15000}, separators=(",", ":")))
PY
	tip=$(BKP_FORGE_DEPS=$dep BKP_FORGE_FORMAT=3 "$forge" "$REPO" amp "$T/amp/tip.bin" "$T/amp/tip.mf") ||
		fail "bkp-forge (the tip) failed"
	/usr/bin/python3 -c '
import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=open(sys.argv[1] + ".err", "w"))
open(sys.argv[1], "w").write("%d %d\n" % (rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
' "$T/amp/peak" timeout 120 "$BKP" restore -r "$REPO" -k "$KEY" "$tip" --target "$T/amp/out"
	read -r rc peak_kib <"$T/amp/peak"
	[ "$rc" = 1 ] || fail "restore exited $rc: $(head -c 500 "$T/amp/peak.err")"
	grep -q "over and over" "$T/amp/peak.err" ||
		fail "no refusal naming the repeats: $(head -c 500 "$T/amp/peak.err")"
	grep -q "${tip:0:8}" "$T/amp/peak.err" || fail "the refusal does not name archive ${tip:0:8}"
	note "restore peaked at $((peak_kib / 1024)) MiB"
	[ "$peak_kib" -le $((128 * 1024)) ] || fail "restore peaked at $((peak_kib / 1024)) MiB"
	[ ! -e "$T/amp/out/x0" ] || fail "a file was written"
}
