#!/usr/bin/python3
"""Seeded generator of a synthetic PHI-like dataset for `make bench`.

Everything is synthetic: names, identifiers and notes are built from a seeded
pseudo-random generator and fixed word lists; no real person is described.
The same (size, seed) always produces byte-identical files, whatever the
number of worker processes (checked with CPython 3.11.2 and 3.11.7).

Usage:
  gen_dataset.py tree DIR SIZE [--seed N]
      A tree of about SIZE bytes (SIZE like 2G, 100M, 1500000):
        ~45% text: CSV, JSON (FHIR-like), HL7 v2 and clinical notes,
             1 KiB-200 KiB each (log-uniform), tens of thousands at 2G,
             spread over sites/years/months, plus a few deep directories;
        ~20% imaging-like incompressible 10 MiB binaries (some tens at 2G);
        ~35% one large, partly repetitive SQL dump.
  gen_dataset.py bigfile FILE SIZE [--seed N]
      One file of SIZE bytes (not sparse), made of pseudo-random 1 MiB blocks
      drawn from a pool of 256 (cheap to write, incompressible for a 2 MiB
      compression window).
  gen_dataset.py dump FILE SIZE [--seed N]
      A database dump of about SIZE bytes (one SQL INSERT row per line) in
      FILE, and the next night's dump in FILE.next: the same rows, 1% of
      them changed, in 10 contiguous runs (bench nightly cases).

DIR is written into DIR.tmp and renamed into place when complete, with a
DIR/.bench-dataset marker (size, seed, file count, bytes); an existing
complete DIR with the same parameters is left alone.
"""

import json
import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
import os
import random
import shutil
import sys

MiB = 1 << 20
KiB = 1 << 10
VERSION = 3  # bump when the generated content changes


def parse_size(s):
    s = s.strip().upper()
    mult = 1
    for suf, m in (("TIB", 1 << 40), ("GIB", 1 << 30), ("MIB", 1 << 20),
                   ("KIB", 1 << 10), ("T", 1 << 40), ("G", 1 << 30),
                   ("M", 1 << 20), ("K", 1 << 10), ("B", 1)):
        if s.endswith(suf):
            mult = m
            s = s[: -len(suf)]
            break
    return int(float(s) * mult)


SYL = ["an", "ber", "cal", "dor", "el", "fin", "gar", "hal", "is", "jon",
       "kel", "lin", "mar", "nor", "ol", "per", "quin", "ros", "sel", "tor",
       "ul", "van", "wes", "xa", "yor", "zel", "ton", "son", "ley", "ric"]
WORDS = ("patient presents with mild moderate severe acute chronic pain "
         "reports denies history of hypertension diabetes mellitus type two "
         "asthma copd chest shortness breath fever cough nausea vomiting "
         "abdominal headache dizziness fatigue weight loss gain rash edema "
         "lower extremity bilateral left right upper examination reveals "
         "normal abnormal tenderness swelling no acute distress alert oriented "
         "vital signs stable blood pressure heart rate respiratory oxygen "
         "saturation room air temperature afebrile labs pending ordered cbc "
         "bmp lipid panel a1c urinalysis imaging xray ct mri ultrasound "
         "impression plan continue current medication start discontinue "
         "increase decrease dose follow up in two weeks months return if "
         "symptoms worsen counseled on diet exercise smoking cessation "
         "referred to cardiology neurology orthopedics physical therapy "
         "lisinopril metformin atorvastatin albuterol amlodipine omeprazole "
         "levothyroxine gabapentin sertraline ibuprofen acetaminophen mg daily "
         "twice nightly as needed the and with for was is on at by from "
         "family social negative positive tolerated well without complication "
         "post operative wound clean dry intact sutures removed healing").split()
ICD = ["I10", "E11.9", "J45.909", "J44.9", "R07.9", "R51.9", "M54.5", "K21.9",
       "E78.5", "F32.9", "N39.0", "J06.9", "R10.9", "Z00.00", "E03.9", "G43.909"]
CPT = ["99213", "99214", "99203", "80053", "85025", "71046", "93000", "36415",
       "81001", "83036", "99395", "97110"]
LOINC = [("8480-6", "Systolic BP", "mm[Hg]"), ("8462-4", "Diastolic BP", "mm[Hg]"),
         ("8867-4", "Heart rate", "/min"), ("2339-0", "Glucose", "mg/dL"),
         ("4548-4", "HbA1c", "%"), ("2093-3", "Cholesterol", "mg/dL"),
         ("718-7", "Hemoglobin", "g/dL"), ("2160-0", "Creatinine", "mg/dL")]
STATES = ["CA", "NY", "TX", "FL", "WA", "IL", "PA", "OH", "GA", "NC", "MA", "OR"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        r = self.r
        self.last = [self._name(r, 2, 3) for _ in range(4000)]
        self.first = [self._name(r, 1, 2) for _ in range(1500)]
        self.street = [self._name(r, 2, 3) + " " + r.choice(["St", "Ave", "Rd", "Ln", "Blvd"])
                       for _ in range(800)]
        self.providers = ["Dr. %s %s" % (r.choice(self.first), r.choice(self.last))
                          for _ in range(300)]

    @staticmethod
    def _name(r, lo, hi):
        return "".join(r.choice(SYL) for _ in range(r.randint(lo, hi))).capitalize()

    def person(self):
        r = self.r
        return {
            "mrn": "MRN%08d" % r.randrange(10 ** 8),
            "last": r.choice(self.last),
            "first": r.choice(self.first),
            "dob": "%04d-%02d-%02d" % (r.randint(1930, 2020), r.randint(1, 12), r.randint(1, 28)),
            "sex": r.choice("MF"),
            "ssn": "9%02d-%02d-%04d" % (r.randrange(100), r.randrange(100), r.randrange(10000)),
            "addr": "%d %s" % (r.randint(1, 9999), r.choice(self.street)),
            "zip": "%05d" % r.randrange(100000),
            "state": r.choice(STATES),
            "phone": "555-%03d-%04d" % (r.randrange(1000), r.randrange(10000)),
        }

    def date(self):
        r = self.r
        return "%04d-%02d-%02d" % (r.randint(2015, 2026), r.randint(1, 12), r.randint(1, 28))

    def note(self, nwords):
        r = self.r
        w = r.choices(WORDS, k=nwords)
        out, line = [], []
        for i, x in enumerate(w):
            line.append(x)
            if len(line) > 12 and r.random() < 0.15:
                out.append(" ".join(line).capitalize() + ".")
                line = []
        if line:
            out.append(" ".join(line).capitalize() + ".")
        return " ".join(out)

    # --- file bodies: each returns str of about `size` bytes ----------------
    def csv(self, size):
        r = self.r
        parts = ["mrn,last_name,first_name,dob,sex,ssn,address,zip,state,phone,"
                 "visit_date,icd10,cpt,provider,charge_usd,note\n"]
        n = len(parts[0])
        while n < size:
            p = self.person()
            row = "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%d.%02d,\"%s\"\n" % (
                p["mrn"], p["last"], p["first"], p["dob"], p["sex"], p["ssn"], p["addr"],
                p["zip"], p["state"], p["phone"], self.date(), r.choice(ICD), r.choice(CPT),
                r.choice(self.providers), r.randint(20, 4000), r.randrange(100),
                self.note(r.randint(3, 14)))
            parts.append(row)
            n += len(row)
        return "".join(parts)[:size]

    def json(self, size):
        r = self.r
        entries = []
        n = 0
        while n < size:
            p = self.person()
            obs = []
            for _ in range(r.randint(1, 5)):
                code, disp, unit = r.choice(LOINC)
                obs.append({"resourceType": "Observation", "status": "final",
                            "code": {"coding": [{"system": "http://loinc.org", "code": code,
                                                 "display": disp}]},
                            "effectiveDateTime": self.date() + "T%02d:%02d:00Z" % (
                                r.randrange(24), r.randrange(60)),
                            "valueQuantity": {"value": round(r.uniform(1, 200), 1), "unit": unit}})
            e = {"resource": {"resourceType": "Patient", "id": p["mrn"],
                              "name": [{"family": p["last"], "given": [p["first"]]}],
                              "gender": "male" if p["sex"] == "M" else "female",
                              "birthDate": p["dob"],
                              "address": [{"line": [p["addr"]], "state": p["state"],
                                           "postalCode": p["zip"]}],
                              "telecom": [{"system": "phone", "value": p["phone"]}]},
                 "observations": obs}
            s = json.dumps(e, indent=1)
            entries.append(s)
            n += len(s) + 2
        return ('{"resourceType": "Bundle", "type": "collection", "entry": [\n'
                + ",\n".join(entries) + "\n]}\n")[:size]

    def hl7(self, size):
        r = self.r
        parts = []
        n = 0
        while n < size:
            p = self.person()
            ts = self.date().replace("-", "") + "%02d%02d" % (r.randrange(24), r.randrange(60))
            seg = ["MSH|^~\\&|EHR|HOSP%02d|LAB|HOSP|%s||ORU^R01|%d|P|2.5.1" % (
                       r.randrange(20), ts, r.randrange(10 ** 9)),
                   "PID|1||%s^^^HOSP^MR||%s^%s||%s|%s|||%s^^%s^%s^%s||%s" % (
                       p["mrn"], p["last"], p["first"], p["dob"].replace("-", ""), p["sex"],
                       p["addr"], r.choice(self.last), p["state"], p["zip"], p["phone"]),
                   "PV1|1|O|CLINIC^%d||||%s" % (r.randrange(50), r.choice(self.providers))]
            for i in range(r.randint(1, 6)):
                code, disp, unit = r.choice(LOINC)
                seg.append("OBX|%d|NM|%s^%s^LN||%.1f|%s|||||F" % (
                    i + 1, code, disp, r.uniform(1, 200), unit))
            if r.random() < 0.5:
                seg.append("NTE|1||" + self.note(r.randint(8, 40)))
            msg = "\r".join(seg) + "\r\n"
            parts.append(msg)
            n += len(msg)
        return "".join(parts)[:size]

    def notes(self, size):
        r = self.r
        parts = []
        n = 0
        while n < size:
            p = self.person()
            s = ("PROGRESS NOTE\nPatient: %s, %s  MRN: %s  DOB: %s\nDate: %s  Provider: %s\n\n"
                 "Subjective: %s\n\nObjective: %s\n\nAssessment: %s (%s)\n\nPlan: %s\n\n" % (
                     p["last"], p["first"], p["mrn"], p["dob"], self.date(),
                     r.choice(self.providers), self.note(r.randint(30, 120)),
                     self.note(r.randint(20, 80)), self.note(r.randint(5, 20)),
                     r.choice(ICD), self.note(r.randint(10, 50))))
            parts.append(s)
            n += len(s)
        return "".join(parts)[:size]

    def sql_block(self, size, table_no):
        r = self.r
        parts = []
        n = 0
        while n < size:
            rows = []
            for _ in range(50):
                p = self.person()
                rows.append("(%d,'%s','%s','%s','%s','%s',%s,'%s',NULL,'active',0)" % (
                    r.randrange(10 ** 9), p["mrn"], p["last"].replace("'", "''"), p["first"],
                    p["dob"], self.date(), r.choice(["NULL", "'%s'" % r.choice(ICD)]),
                    r.choice(CPT)))
            s = "INSERT INTO encounters_%d VALUES %s;\n" % (table_no, ",".join(rows))
            parts.append(s)
            n += len(s)
        return "".join(parts).encode()[:size]


def write(path, data):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return os.path.getsize(path)


_G = None  # the name pools, shared with forked workers


def _with_rng(seed):
    _G.r = random.Random(seed)
    return _G


def _write_text(job):
    path, kind, fsize, seed = job
    g = _with_rng(seed)
    return write(path, getattr(g, kind)(fsize))


def _write_image(job):
    path, i, seed = job
    r = random.Random(seed)
    hdr = b"\0" * 128 + b"DICM" + ("SYNTHETIC^%05d" % i).encode().ljust(64, b" ")
    return write(path, hdr + r.randbytes(10 * MiB - len(hdr)))


def _sql_block(job):
    want_len, table_no, seed = job
    return _with_rng(seed).sql_block(want_len, table_no)


def gen_tree(top, size, seed, jobs=None):
    global _G
    marker = os.path.join(top, ".bench-dataset")
    want = {"version": VERSION, "size": size, "seed": seed}
    if os.path.exists(marker):
        with open(marker) as f:
            have = json.load(f)
        if all(have.get(k) == v for k, v in want.items()):
            print("dataset: reusing %s (%d files, %d bytes)" % (top, have["files"], have["bytes"]),
                  flush=True)
            return
        shutil.rmtree(top)
    tmp = top + ".tmp"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    # Plan everything with one generator (names, sizes, per-file seeds), then
    # write in parallel: each file's content depends only on its own seed.
    _G = Gen(seed)
    r = random.Random(seed ^ 0x5EED)
    total = 0
    files = 0

    # imaging-like binaries: incompressible 10 MiB each
    images = []
    for i in range(max(1, round(size * 0.20 / (10 * MiB)))):
        d = os.path.join(tmp, "imaging", "study_%05d" % r.randrange(100000))
        os.makedirs(d, exist_ok=True)
        images.append((os.path.join(d, "series_%03d.dcm" % i), i, r.getrandbits(64)))
        total += 10 * MiB
        files += 1

    # one large partly repetitive SQL dump (~35%): a quarter of its 4 MiB blocks
    # repeat an earlier block verbatim (duplicated tables, re-exported logs)
    dump_size = max(MiB, int(size * 0.35))
    os.makedirs(os.path.join(tmp, "db"))
    dpath = os.path.join(tmp, "db", "ehr_dump.sql")
    head = b"-- synthetic EHR dump, no real data\nSET NAMES utf8;\n"
    blk = 4 * MiB
    plan, new_blocks = [], []
    for b in range(0, (dump_size + blk - 1) // blk):
        want_len = min(blk, dump_size - b * blk)
        n_new = sum(1 for p in plan if p[0] == "new")
        if n_new and r.random() < 0.25:
            plan.append(("repeat", r.randrange(n_new), want_len))
        else:
            plan.append(("new", len(new_blocks), want_len))
            new_blocks.append((want_len, b % 17, r.getrandbits(64)))
    total += len(head) + dump_size
    files += 1

    # text records up to the size budget; a few deep directories among them
    kinds = [("csv", "csv"), ("json", "json"), ("hl7", "hl7"), ("txt", "notes")]
    deep = []
    for k in range(4):
        p = os.path.join(tmp, "archive", "deep%d" % k,
                         *["level%02d_%s" % (j, r.choice(SYL)) for j in range(30 + 5 * k)])
        os.makedirs(p)
        deep.append(p)
    lo, hi = math.log(KiB), math.log(200 * KiB)
    texts = []
    while total < size:
        ext, kind = r.choice(kinds)
        fsize = int(math.exp(r.uniform(lo, hi)))
        fsize = min(fsize, max(KiB, size - total))
        if r.random() < 0.01:
            d = r.choice(deep)
        else:
            d = os.path.join(tmp, "records", "site%02d" % r.randrange(12),
                             str(r.randint(2015, 2026)), "%02d" % r.randint(1, 12))
        os.makedirs(d, exist_ok=True)
        texts.append((os.path.join(d, "%s_%08d.%s" % (ext, files, ext)), kind, fsize,
                      r.getrandbits(64)))
        total += fsize
        files += 1

    # concurrent.futures, not multiprocessing.Pool: if a worker dies (a
    # signal from outside), the pool is reported broken instead of hanging
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs or os.cpu_count() or 1, mp_context=ctx) as ex:
        t_res = ex.map(_write_text, texts, chunksize=32)
        i_res = ex.map(_write_image, images)
        blocks = ex.map(_sql_block, new_blocks)
        offsets = []
        with open(dpath, "w+b") as f:
            f.write(head)
            for what, idx, want_len in plan:
                if what == "new":
                    offsets.append(f.tell())
                    f.write(next(blocks))
                else:
                    f.seek(offsets[idx])
                    data = f.read(want_len)
                    f.seek(0, os.SEEK_END)
                    f.write(data)
        written = sum(t_res) + sum(i_res) + os.path.getsize(dpath)
    if written != total:
        raise RuntimeError("dataset: wrote %d bytes, planned %d" % (written, total))

    with open(os.path.join(tmp, ".bench-dataset"), "w") as f:
        json.dump(dict(want, files=files, bytes=total), f)
    os.rename(tmp, top)
    print("dataset: generated %s (%d files, %d bytes)" % (top, files, total), flush=True)


def gen_bigfile(path, size, seed):
    if os.path.exists(path) and os.path.getsize(path) == size:
        print("bigfile: reusing %s (%d bytes)" % (path, size), flush=True)
        return
    r = random.Random(seed)
    pool = [r.randbytes(MiB) for _ in range(256)]
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        left = size
        while left > 0:
            b = pool[r.randrange(256)]
            f.write(b[:left] if left < MiB else b)
            left -= MiB
    os.rename(tmp, path)
    print("bigfile: generated %s (%d bytes)" % (path, size), flush=True)


def gen_dump(path, size, seed, runs=10, frac=0.01):
    """A database dump of about `size` bytes, one INSERT row per line, into
    `path`, and the next night's dump into `path + ".next"`: the same rows,
    except `frac` of them, changed in place (another value, status
    'amended', so a line's length may change), in `runs` contiguous runs
    spread over the file (changed rows cluster: a batch updates neighbours).
    Both are rewritten only if their marker does not match; returns
    (lines, changed lines)."""
    marker = path + ".done"
    want = {"version": VERSION, "size": size, "seed": seed, "runs": runs, "frac": frac}
    if os.path.exists(marker) and os.path.exists(path) and os.path.exists(path + ".next"):
        with open(marker) as f:
            have = json.load(f)
        if all(have.get(k) == v for k, v in want.items()):
            return have["lines"], have["changed"]
    r = random.Random(seed)
    g = Gen(seed ^ 0xD0)
    mrns = ["MRN%08d" % r.randrange(10 ** 8) for _ in range(20000)]
    provs = [p.replace("'", "''") for p in g.providers]
    units = [(c, u) for c, _, u in LOINC]
    status = ["final", "final", "final", "preliminary", "corrected"]
    avg = 182  # about the length of a row
    lines = max(100, size // avg)
    changed = max(runs, int(lines * frac))
    per = changed // runs
    starts = []
    region = lines // runs
    for k in range(runs):  # one run in each tenth, at a seeded offset
        starts.append(k * region + r.randrange(max(1, region - per)))
    todo = set()
    for s0 in starts:
        todo.update(range(s0, s0 + per))
    r2 = random.Random(seed ^ 0xA3E)
    fmt = ("INSERT INTO lab_results (id,mrn,loinc,value,unit,taken_at,status,ordered_by) "
           "VALUES (%d,'%s','%s',%.1f,'%s','%04d-%02d-%02d %02d:%02d:%02d','%s','%s');\n")
    head = "-- synthetic lab results dump, no real data\nSET NAMES utf8;\nBEGIN;\n"
    n = 0
    with open(path + ".tmp", "w") as f1, open(path + ".next.tmp", "w") as f2:
        f1.write(head)
        f2.write(head)
        buf1, buf2 = [], []
        for i in range(lines):
            code, unit = units[r.randrange(len(units))]
            row = (1000000 + i, mrns[r.randrange(20000)], code, r.randrange(10, 4000) / 10.0, unit,
                   r.randint(2015, 2026), r.randint(1, 12), r.randint(1, 28), r.randrange(24),
                   r.randrange(60), r.randrange(60), status[r.randrange(5)],
                   provs[r.randrange(len(provs))])
            line = fmt % row
            buf1.append(line)
            if i in todo:
                row = row[:3] + (r2.randrange(10, 40000) / 10.0,) + row[4:11] + ("amended",
                                                                                  row[12])
                line = fmt % row
                n += 1
            buf2.append(line)
            if len(buf1) >= 4096:
                f1.write("".join(buf1))
                f2.write("".join(buf2))
                buf1, buf2 = [], []
        f1.write("".join(buf1) + "COMMIT;\n")
        f2.write("".join(buf2) + "COMMIT;\n")
    os.rename(path + ".tmp", path)
    os.rename(path + ".next.tmp", path + ".next")
    with open(marker, "w") as f:
        json.dump(dict(want, lines=lines, changed=n), f)
    return lines, n


def main(argv):
    seed = 20261125
    if "--seed" in argv:
        i = argv.index("--seed")
        seed = int(argv[i + 1])
        del argv[i:i + 2]
    if len(argv) != 4 or argv[1] not in ("tree", "bigfile", "dump"):
        sys.stderr.write(__doc__)
        return 2
    size = parse_size(argv[3])
    if argv[1] == "tree":
        gen_tree(os.path.abspath(argv[2]), size, seed)
    elif argv[1] == "dump":
        lines, changed = gen_dump(os.path.abspath(argv[2]), size, seed)
        print("dump: %d lines, %d changed in %s.next" % (lines, changed, argv[2]))
    else:
        gen_bigfile(os.path.abspath(argv[2]), size, seed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
