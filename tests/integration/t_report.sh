# shellcheck shell=bash
# bkp report: the auditor's report over several drills: content, no PHI,
# tamper evidence, formats, and rendering in a real browser (Chromium).

# report_setup: dataset "ehr" with three drills (pass, RTO failure, failing
# hook) and dataset "pacs" with one archive and no drill.
report_setup() {
	new_repo
	make_dataset src
	backup_id ehr src
	EHR=$ID
	mkdir -p pacs-src/images
	printf 'x-ray of patient\n' >pacs-src/images/jane-doe-chest.dcm
	backup_id pacs pacs-src
	PACS=$ID
	SCR=$T/scratch
	mkdir -p "$SCR"
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR" --dataset ehr \
		--hook 'echo "first file: $(ls src | head -n 1)"'
	expect_exit 0
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR" --dataset ehr --rto 0.000001s
	expect_exit 1
	run_bkp drill -r "$REPO" -k "$KEY" --scratch "$SCR" --dataset ehr --hook 'exit 4'
	expect_exit 1
}

# no_phi FILE: none of the datasets' file names or contents appear.
no_phi() {
	local n
	for n in hello.txt long.txt blob.bin private.conf readme.md small.bin run.sh \
		"odd dir" jane-doe "x-ray of patient" "first file" "hello, world"; do
		! grep -qF "$n" "$1" || fail "'$1' contains PHI stand-in '$n'"
	done
}

# png_check FILE W H: a PNG of W x H pixels that is not blank (many
# distinct colours).  Decodes the PNG with the standard library only.
png_check() {
	python3 - "$@" <<'PY'
import struct, sys, zlib
path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = open(path, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, hdr = 8, b"", None
while pos < len(data):
    ln, typ = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + ln]
    if typ == b"IHDR":
        hdr = struct.unpack(">IIBBBBB", body)
    elif typ == b"IDAT":
        idat += body
    pos += 12 + ln
W, H, depth, ctype = hdr[0], hdr[1], hdr[2], hdr[3]
assert (W, H) == (w, h), "size %dx%d, expected %dx%d" % (W, H, w, h)
assert depth == 8 and ctype in (2, 6), "unexpected PNG format %d/%d" % (depth, ctype)
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = W * bpp
prev = bytearray(stride)
colours = set()
nonwhite = 0
i = 0
for y in range(H):
    f = raw[i]; i += 1
    line = bytearray(raw[i:i + stride]); i += stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + ((a + b) >> 1)) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    if y % 4 == 0:
        for x in range(0, stride, bpp * 2):
            px = bytes(line[x:x + 3])
            colours.add(px)
            if px != b"\xff\xff\xff":
                nonwhite += 1
    prev = line
print("colours", len(colours), "non-white samples", nonwhite)
assert len(colours) >= 20, "only %d colours: blank page?" % len(colours)
assert nonwhite >= 2000, "almost everything is white"
# the red of failures and the green of passes are there
def near(c, r, g, b):
    return abs(c[0] - r) < 40 and abs(c[1] - g) < 40 and abs(c[2] - b) < 40
assert any(near(c, 0xfb, 0xe3, 0xe3) for c in colours), "no failure (red) cells rendered"
assert any(near(c, 0xe3, 0xf4, 0xe1) for c in colours), "no pass (green) cells rendered"
PY
}

test_report_html_content() {
	report_setup
	run_bkp report -r "$REPO" --out report.html
	expect_exit 0
	expect_stderr_match 'report written to report.html'
	[ -s report.html ] || fail "no report.html"
	local f=report.html
	grep -q '<!DOCTYPE html>' $f || fail "not HTML"
	# gaps first, then the other sections, in order
	python3 - $f <<'PY' || fail "sections out of order"
import sys
h = open(sys.argv[1]).read()
ids = ["gaps", "inventory", "integrity", "drills", "chain", "hipaa"]
pos = [h.index('id="%s"' % i) for i in ids]
assert pos == sorted(pos), pos
PY
	grep -q "dataset &#39;pacs&#39; has never been drilled" $f || fail "undrilled dataset not listed"
	grep -q "failed: rto exceeded" $f || fail "RTO failure not listed"
	grep -q "failed: hook 1 failed (exit 4)" $f || fail "hook failure not listed"
	grep -q "2 of 2 archives have no verification record" $f || fail "verification gap not listed"
	grep -q "$EHR" $f || fail "archive id missing"
	grep -q "$PACS" $f || fail "archive id missing"
	grep -q "$(record_get "$EHR" "r['data']['blake3']")" $f || fail "archive hash missing"
	grep -q "$(record_get "$EHR" "r['recipients'][0]['fpr']")" $f || fail "recipient fingerprint missing"
	grep -q "3 drills in the period, 2 failed" $f || fail "drill counts"
	grep -q "chain intact" $f || fail "chain status"
	[ "$(grep -o '<svg ' $f | wc -l)" = 2 ] || fail "expected two SVG charts"
	grep -q 'class="objective"' $f || fail "no objective line in the chart"
	for req in '164.308(a)(7)(ii)(A)' '164.308(a)(7)(ii)(B)' '164.308(a)(7)(ii)(D)' '164.312(c)' '164.312(b)'; do
		grep -qF "$req" $f || fail "HIPAA mapping lacks $req"
	done
	# self-contained
	! grep -qE '(src|href)=|@import|url\(' $f || fail "external reference in the report"
	no_phi $f
}

test_report_renders_in_chromium() {
	command -v chromium >/dev/null || fail "chromium is not installed (add it to scripts/deps.sh)"
	report_setup
	run_bkp report -r "$REPO" --format html --out "$T/report.html"
	expect_exit 0
	local prof
	prof=$(mktemp -d "$T/chromium.XXXXXX")
	timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --user-data-dir="$prof" --screenshot="$T/report.png" \
		--window-size=1200,2000 "file://$T/report.html" >chromium.log 2>&1
	[ -s "$T/report.png" ] || { tail -n 5 chromium.log >&2; fail "chromium wrote no screenshot"; }
	png_check "$T/report.png" 1200 2000 || fail "the screenshot does not look like a rendered report"
}

test_report_json_and_markdown() {
	report_setup
	run_bkp report -r "$REPO" --format json --out r.json
	expect_exit 0
	json_valid r.json || fail "JSON report is not JSON"
	python3 - r.json "$EHR" <<'PY' || fail "JSON report content"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["bkp_report"] == 1
ds = {d["name"]: d for d in o["datasets"]}
assert set(ds) == {"ehr", "pacs"}, ds.keys()
assert ds["ehr"]["within_rpo"] is True and ds["pacs"]["last_drill"] is None
assert len(o["drills"]) == 3
assert [d["result"] for d in o["drills"]] == ["pass", "fail", "fail"]
assert o["drills"][1]["rto_passed"] is False
assert all(k in o["drills"][0]["phases"] for k in ("fetch_s", "decrypt_s", "extract_s", "validate_s"))
assert o["drills"][2]["hooks"][0]["exit_code"] == 4
assert o["chain"]["records"] == 3 and o["chain"]["breaks"] == 0
assert any(a["id"] == sys.argv[2] and a["latest_verification"] is None for a in o["archives"])
assert any("never been drilled" in g["text"] for g in o["gaps"])
PY
	no_phi r.json
	run_bkp report -r "$REPO" --format md
	expect_exit 0
	expect_stdout_match '^# Disaster-recovery evidence report'
	expect_stdout_match '^\| Started \| Dataset \|'
	expect_stdout_match '164\.312\(b\)'
	printf '%s\n' "$OUT" >r.md
	no_phi r.md
}

test_report_since() {
	report_setup
	run_bkp report -r "$REPO" --format json --since 2000-01-01
	expect_exit 0
	printf '%s\n' "$OUT" | python3 -c 'import json,sys; assert len(json.load(sys.stdin)["drills"]) == 3' ||
		fail "--since 2000-01-01 lost drills"
	run_bkp report -r "$REPO" --format json --since "$(date -u -d tomorrow +%F)"
	expect_exit 0
	printf '%s\n' "$OUT" | python3 -c 'import json,sys; assert len(json.load(sys.stdin)["drills"]) == 0' ||
		fail "--since tomorrow still lists drills"
}

test_report_detects_removed_and_altered_records() {
	report_setup
	local recs
	mapfile -t recs < <(ls "$REPO"/drills/*.json | LC_ALL=C sort)
	[ "${#recs[@]}" = 3 ] || fail "expected three records"
	# alter the first record (an RTO that passed becomes faster)
	chmod u+w "${recs[0]}"
	sed -i 's/"achieved_s": [0-9.e-]*/"achieved_s": 0.000001/' "${recs[0]}"
	run_bkp report -r "$REPO" --format json --out r.json
	expect_exit 0
	python3 - r.json "${recs[1]##*/}" <<'PY' || fail "altered record not detected"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["chain"]["breaks"] == 1, o["chain"]
bad = [d for d in o["drills"] if not d["chain_ok"]]
assert len(bad) == 1 and bad[0]["key"].endswith(sys.argv[2]), bad
PY
	# remove the middle record: the last one no longer links
	rm -f "${recs[1]}"
	run_bkp report -r "$REPO" --out r.html
	expect_exit 0
	grep -q "drill record chain broken at drills/${recs[2]##*/}" r.html ||
		fail "removed record not detected"
	grep -q 'CHAIN BROKEN' r.html || fail "chain status not shown"
	# garbage in a record is reported, not trusted
	printf '{"bkp_drill": 1, "dataset": "<b>x</b>"}' >"$REPO/drills/29991231T000000.000000Z-00000000.json"
	run_bkp report -r "$REPO" --out r.html
	expect_exit 0
	grep -q "1 drill record could not be read or failed validation" r.html ||
		fail "invalid record not reported"
	! grep -q '<b>x</b>' r.html || fail "content of an invalid record was rendered"
}

test_report_with_verification_records() {
	report_setup
	mkdir -p "$REPO/verifications"
	printf '{"archive":"%s","finished":"2026-01-02T03:04:05Z","result":"ok","mode":"keyless"}' "$EHR" \
		>"$REPO/verifications/20260102T030405Z-1.json"
	printf '{"archive":"%s","finished_us":1767323045000000,"ok":false}' "$PACS" \
		>"$REPO/verifications/20260102T030405Z-2.json"
	run_bkp report -r "$REPO" --out r.html
	expect_exit 0
	grep -q 'passed 2026-01-02T03:04:05Z (keyless)' r.html || fail "verification not shown"
	grep -q "latest verification (2026-01-02T03:04:05Z) failed" r.html || fail "failed verification not listed"
	! grep -q 'archives have no verification record' r.html || fail "verified archives listed as never verified"
}

test_report_usage_errors() {
	new_repo
	run_bkp report -r "$REPO" --format pdf
	expect_exit 2
	expect_error_line 'pdf'
	run_bkp report -r "$REPO" --since yesterday
	expect_exit 2
	run_bkp report -r "$T/none"
	expect_exit 10
	# an empty repository still gives an honest report
	run_bkp report -r "$REPO" --format md
	expect_exit 0
	expect_stdout_match 'No drill records in the repository'
	run_bkp report -r "$REPO" --out "$T/no/such/dir/r.html"
	expect_fail
	[ ! -e "$T/no/such/dir" ] || fail "created directories"
}
