# shellcheck shell=bash
# Memory at scale (issue 13 item 7).  A restore of an archive of 1,000,000
# files of 20 bytes in 1,000 directories, into an empty target, must peak
# at 128 MiB RSS or less: the writer pool's queue is bounded by what the
# waiting files hold (a 4 KiB buffer, an entry, a job), not by their
# content; before, it held hundreds of thousands of such files (2 GiB at
# this size).  A full `verify -k` of the archive, a backup of part of
# the restored tree, an incremental of that part with 1% of its files
# changed and a `verify -k` of the incremental (which reads its chain) are
# held to the same bound.  (At 1,000,000 files all on their own, measured
# by hand for issue 14: full backup 42 MiB, incremental 41 MiB, verify -k
# of the incremental 79 MiB, its restore 79 MiB.)
#
# Cost: the archive is forged (tests/tools/forge.c) from a ustar stream
# and manifest lines this file's Python writes directly (1,000 distinct
# contents, their BLAKE3 digests from b3sum), about 12 s.  The restore
# goes into a private tmpfs (a mount namespace of its own, so it vanishes
# with the process): on a disk mounted with `discard`, removing a million
# files that hold data takes about 3 ms each.  That needs root and
# unshare(1); without, or with too little free memory (the tmpfs takes
# about 5 KiB a file), fewer files go onto the scratch file system, with
# a note.  Under the sanitizer build (BKP_SUITE=san): 100,000 files, the
# same bound, with ASan's quarantine cut to 8 MiB (its default 256 MiB of
# freed memory would be measured otherwise).

# shellcheck disable=SC2034  # read by run.sh
TEST_TIMEOUT=420
MEM_LIMIT_KIB=$((128 * 1024))

# small_gen WHAT N: the archive of N files of 20 bytes, 1,000 a directory
# (m/dDDDD/fNNNNNNN, each directory an entry of its own): WHAT=manifest
# prints its manifest "file" lines, WHAT=tar its ustar stream.  The same N
# gives the same archive.
small_gen() {
	/usr/bin/python3 - "$1" "$2" <<'EOF'
import os, subprocess, sys, tempfile
what, n = sys.argv[1], int(sys.argv[2])
per, k = 1000, 1000
ndirs = (n + per - 1) // per
contents = [b"small file #%04d...\n" % i for i in range(k)]
assert all(len(c) == 20 for c in contents)
with tempfile.TemporaryDirectory() as d:
    names = []
    for i, c in enumerate(contents):
        names.append(os.path.join(d, "%04d" % i))
        with open(names[-1], "wb") as f:
            f.write(c)
    digests = subprocess.run(["b3sum", "--no-names"] + names,
                             capture_output=True, check=True).stdout.split()
digests = [x.decode() for x in digests]
assert len(digests) == k

def header(name, size, typ, mode):
    h = bytearray(512)
    h[0:len(name)] = name.encode()
    h[100:108] = b"%07o\0" % mode
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"%011o\0" % 1700000000
    h[148:156] = b" " * 8
    h[156:157] = typ
    h[257:265] = b"ustar\x0000"
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)

def files(i):
    return range(i * per, min(n, (i + 1) * per))

if what == "manifest":
    out, off = sys.stdout, 0
    for i in range(ndirs):
        out.write('{"t":"file","path":"m/d%04d/","type":"dir","mode":493,'
                  '"uid":0,"gid":0,"size":0,"o":%d,"e":%d}\n' % (i, off, off + 512))
        off += 512
        for j in files(i):
            out.write('{"t":"file","path":"m/d%04d/f%07d","type":"file",'
                      '"mode":420,"uid":0,"gid":0,"size":20,"o":%d,"e":%d,"blake3":"%s"}\n'
                      % (i, j, off, off + 1024, digests[j % k]))
            off += 1024
else:
    out, pad = sys.stdout.buffer, bytes(512 - 20)
    for i in range(ndirs):
        b = [header("m/d%04d/" % i, 0, b"5", 0o755)]
        for j in files(i):
            b += [header("m/d%04d/f%07d" % (i, j), 20, b"0", 0o644),
                  contents[j % k], pad]
        out.write(b"".join(b))
    out.write(bytes(1024))
EOF
}

# peak OUT CMD...: run CMD; its peak RSS in KiB goes to OUT; CMD's status.
peak() {
	/usr/bin/python3 -c '
import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)' "$@"
}

# expect_peak WHAT FILE: the peak in FILE is within MEM_LIMIT_KIB.
expect_peak() {
	local kib
	kib=$(cat "$2" 2>/dev/null)
	[[ $kib =~ ^[0-9]+$ ]] || fail "$1: no peak RSS measured"
	note "$1: peak RSS $((kib / 1024)) MiB (limit $((MEM_LIMIT_KIB / 1024)) MiB)"
	[ "$kib" -le "$MEM_LIMIT_KIB" ] ||
		fail "$1 peaked at $((kib / 1024)) MiB RSS, over $((MEM_LIMIT_KIB / 1024)) MiB"
}

test_a_million_small_files_restore_verify_and_backup_in_bounded_memory() {
	local n=1000000 fs=tmpfs avail_kib need_kib sample=m/d0000/f0000999 got
	if [ "${BKP_SUITE:-}" = san ]; then
		n=100000
		export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=8:thread_local_quarantine_size_kb=256"
	fi
	if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
		fs=scratch
		n=20000
		note "no private tmpfs (needs root and unshare -m): $n files on the scratch file system"
	else
		avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
		need_kib=$((n * 5 + 1024 * 1024))
		if [ "$avail_kib" -lt "$need_kib" ]; then
			n=$(((avail_kib - 1024 * 1024) / 5 / 1000 * 1000))
			[ "$n" -ge 20000 ] || n=20000
			note "$((avail_kib / 1024)) MiB available: $n files"
		fi
	fi
	note "$n files of 20 bytes, restored into $fs"

	FORGE=$(dirname "$BKP")/tests/bkp-forge
	[ -x "$FORGE" ] || fail "bkp-forge not found at '$FORGE' (make unit-bins)"
	new_repo
	mkdir -p "$T/work" "$T/rt"
	small_gen manifest "$n" >"$T/work/m.mf" || fail "small_gen manifest failed"
	ID=$(small_gen tar "$n" | "$FORGE" "$REPO" small /dev/stdin "$T/work/m.mf" 2>"$T/work/forge.err") ||
		fail "bkp-forge failed: $(cat "$T/work/forge.err")"
	[[ $ID =~ ^[0-9a-f]{32}$ ]] || fail "bkp-forge printed '$ID', not an archive id"
	rm -f "$T/work/m.mf"

	# The restore, a check of what it wrote, and a backup of its first
	# 100 directories, all while the tmpfs exists.
	cat >"$T/work/restore.sh" <<'EOF'
set -u
if [ "$fs" = tmpfs ]; then
	mount -t tmpfs -o "size=$((n * 5 / 1024 + 1024))m,nr_inodes=$((n + n / 50 + 10000))" tmpfs "$T/rt" || exit 90
fi
peak "$T/work/restore.rss" "$BKP" restore -q -r "$REPO" -k "$KEY" "$ID" --target "$T/rt/t" \
	>"$T/work/restore.out" 2>"$T/work/restore.err"
echo $? >"$T/work/restore.rc"
find "$T/rt/t" -type f | wc -l >"$T/work/count"
cat "$T/rt/t/$sample" >"$T/work/sample" 2>&1
mkdir "$T/rt/b" && mv "$T"/rt/t/m/d00[0-9][0-9] "$T/rt/b/" &&
	peak "$T/work/backup.rss" "$BKP" backup -q -r "$REPO" --name part "$T/rt/b" \
	>"$T/work/backup.out" 2>"$T/work/backup.err"
echo $? >"$T/work/backup.rc"
# An incremental of the same files, 1% of them changed.
for f in "$T"/rt/b/d00[0-9][0-9]/f*00; do echo changed >>"$f"; done
peak "$T/work/incr.rss" "$BKP" backup --json -r "$REPO" --name part "$T/rt/b" \
	>"$T/work/incr.out" 2>"$T/work/incr.err"
echo $? >"$T/work/incr.rc"
EOF
	export -f peak
	export T REPO KEY ID n fs sample
	if [ "$fs" = tmpfs ]; then
		unshare -m bash "$T/work/restore.sh"
	else
		bash "$T/work/restore.sh"
	fi
	[ "$?" = 90 ] && fail "cannot mount a tmpfs at $T/rt"
	[ "$(cat "$T/work/restore.rc")" = 0 ] ||
		fail "restore exited $(cat "$T/work/restore.rc"): $(head -c 2000 "$T/work/restore.err")"
	got=$(cat "$T/work/count")
	[ "$got" = "$n" ] || fail "restore wrote $got files, not $n"
	[ "$(cat "$T/work/sample")" = "small file #0999..." ] ||
		fail "'$sample' holds '$(cat "$T/work/sample")'"
	expect_peak "restore of $n files" "$T/work/restore.rss"
	[ "$(cat "$T/work/backup.rc")" = 0 ] ||
		fail "backup exited $(cat "$T/work/backup.rc"): $(head -c 2000 "$T/work/backup.err")"
	expect_peak "backup of $((n < 100000 ? n : 100000)) of them" "$T/work/backup.rss"
	[ "$(cat "$T/work/incr.rc")" = 0 ] ||
		fail "incremental backup exited $(cat "$T/work/incr.rc"): $(head -c 2000 "$T/work/incr.err")"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["chain"] == 1 and d["reused"] > 0, d' \
		"$T/work/incr.out" || fail "the second backup of them is not an incremental"
	expect_peak "incremental backup of them (1% changed)" "$T/work/incr.rss"
	INCR=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/work/incr.out")
	peak "$T/work/verify-incr.rss" "$BKP" verify -q -r "$REPO" -k "$KEY" "$INCR" \
		>"$T/work/verify-incr.out" 2>"$T/work/verify-incr.err" ||
		fail "verify -k of the incremental failed: $(head -c 2000 "$T/work/verify-incr.err")"
	expect_peak "verify -k of the incremental" "$T/work/verify-incr.rss"

	peak "$T/work/verify.rss" "$BKP" verify -q -r "$REPO" -k "$KEY" "$ID" \
		>"$T/work/verify.out" 2>"$T/work/verify.err" ||
		fail "verify -k failed: $(head -c 2000 "$T/work/verify.err")"
	expect_peak "verify -k of $n files" "$T/work/verify.rss"
}
