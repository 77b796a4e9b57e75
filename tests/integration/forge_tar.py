"""Raw tar records for forged archives (tests/integration/t_corpus.sh).

Python's tarfile only writes what it considers sane; hostile archives need
records with arbitrary fields.  This module writes ustar headers byte by
byte (POSIX.1-1988 ustar and the GNU variant), pax extended headers ('x'),
GNU long-name/long-link records ('L'/'K'), hard links carrying data, GNU
sparse 1.0 entries in pax (map at the start of the data), devices, FIFOs,
setuid files and SCHILY.xattr records, together with the manifest "file"
records (docs/FORMAT.md §8) that bkp-forge (tests/tools/forge.c) puts into
an archive.  Each record describes its entry truthfully unless a case asks
it to lie (rec=...).  Stdlib only, plus bkpt_hash for the archive hashes.

    from forge_tar import Forge
    f = Forge()
    f.file("a.txt", b"hello")
    f.hardlink("x", "victim.txt", data=b"pwned", rec={"type": "file"})
    f.save("case.tar", "case.mf")
"""
import base64
import json
import os

from bkpt_hash import digest

BLOCK = 512
MTIME = 1700000000


def _b(s):
    return s if isinstance(s, bytes) else s.encode("utf-8", "surrogateescape")


def _octal(v, width):
    """An octal numeric field of width bytes, NUL-terminated."""
    s = b"%0*o" % (width - 1, v)
    if len(s) > width - 1:
        # GNU base-256: high bit of the first byte set, big-endian value
        out = bytearray(width)
        out[0] = 0x80
        for i in range(width - 1, 0, -1):
            out[i] = v & 0xFF
            v >>= 8
        return bytes(out)
    return s + b"\0"


def _field(v, width):
    v = _b(v)
    return v[:width].ljust(width, b"\0")


def pad(data):
    """data padded with zeros to a multiple of 512."""
    return data + b"\0" * (-len(data) % BLOCK)


def header(name=b"", mode=0o644, uid=0, gid=0, size=0, mtime=MTIME,
           typeflag=b"0", linkname=b"", uname=b"root", gname=b"root",
           devmajor=0, devminor=0, prefix=b"", gnu=False, chksum=None,
           raw_size=None):
    """One 512-byte ustar (or, gnu=True, GNU) header; raw_size: the size
    field's 12 bytes verbatim."""
    h = bytearray(BLOCK)
    h[0:100] = _field(name, 100)
    h[100:108] = _octal(mode, 8)
    h[108:116] = _octal(uid, 8)
    h[116:124] = _octal(gid, 8)
    h[124:136] = raw_size if raw_size is not None else _octal(size, 12)
    h[136:148] = _octal(mtime, 12)
    h[148:156] = b" " * 8
    h[156:157] = _b(typeflag)
    h[157:257] = _field(linkname, 100)
    h[257:265] = b"ustar  \0" if gnu else b"ustar\x0000"
    h[265:297] = _field(uname, 32)
    h[297:329] = _field(gname, 32)
    h[329:337] = _octal(devmajor, 8)
    h[337:345] = _octal(devminor, 8)
    if not gnu:
        h[345:500] = _field(prefix, 155)
    s = sum(h) if chksum is None else chksum
    h[148:156] = b"%06o\0 " % s
    return bytes(h)


def pax_records(recs):
    """The body of a pax extended header: 'LEN key=value\\n' per record
    (recs: a list of (key, value) pairs or a dict; str or bytes)."""
    items = recs.items() if isinstance(recs, dict) else recs
    out = b""
    for k, v in items:
        kv = _b(k) + b"=" + _b(v) + b"\n"
        n = len(kv) + 2
        while len(b"%d " % n) + len(kv) != n:
            n += 1
        out += b"%d " % n + kv
    return out


class Tar:
    """A tar stream built record by record."""

    def __init__(self):
        self.buf = bytearray()

    @property
    def offset(self):
        return len(self.buf)

    def raw(self, b):
        self.buf += b

    def record(self, hdr, data=b""):
        self.buf += hdr
        self.buf += pad(data)

    def pax(self, recs, name=b"PaxHeader", typeflag=b"x"):
        body = pax_records(recs)
        self.record(header(name=name, size=len(body), typeflag=typeflag,
                           mode=0o644), body)

    def gnu_long(self, typeflag, name):
        body = _b(name) + b"\0"
        self.record(header(name=b"././@LongLink", size=len(body),
                           typeflag=typeflag, gnu=True), body)

    def end(self):
        self.buf += b"\0" * (2 * BLOCK)


def _merge(dst, patch):
    for k, v in patch.items():
        if v is None:
            dst.pop(k, None)
        elif isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        else:
            dst[k] = v


def _set_bytes(rec, field, value):
    value = _b(value)
    try:
        rec[field] = value.decode("utf-8")
        rec.pop(field + "_b64", None)
    except UnicodeDecodeError:
        rec[field + "_b64"] = base64.b64encode(value).decode()
        rec.pop(field, None)


class Forge:
    """A tar stream and its manifest "file" records.

    Every entry method takes, besides its own arguments:
      mode, uid, gid, mtime     header fields (defaults: 0644/0755, 0, 0)
      names="auto"|"pax"|"gnu"|"ustar"
                                how a long name (or link) is stored: auto
                                uses a pax record beyond 100 bytes; gnu an
                                'L'/'K' record; ustar truncates silently
      pax={...}                 extra pax records for the entry
      hdr={...}                 extra header() keyword arguments (lies in
                                the ustar header itself, e.g. raw_size)
      rec={...}                 merged into the manifest record (a lie;
                                None deletes a member)
      mf=False                  no manifest record for this entry
      in_tar=False              a manifest record but no tar entry
    Returns the manifest record (a dict, editable until save)."""

    def __init__(self, alg=None):
        self.alg = alg or os.environ.get("FORGE_HASH", "blake3")
        self.tar = Tar()
        self.recs = []
        self.extra_lines = []

    # -- entries --------------------------------------------------------
    def file(self, path, data=b"", mode=0o644, **kw):
        data = _b(data)
        return self._entry(path, b"0", "file", data, mode, size=len(data),
                           content=data, **kw)

    def dir(self, path, mode=0o755, **kw):
        path = _b(path)
        if not path.endswith(b"/"):
            path += b"/"
        return self._entry(path, b"5", "dir", b"", mode, **kw)

    def symlink(self, path, target, mode=0o777, **kw):
        return self._entry(path, b"2", "symlink", b"", mode, link=target,
                           **kw)

    def hardlink(self, path, target, data=b"", mode=0o644, **kw):
        """A hard link entry; with data, a pax header is added (libarchive
        honours a hard link's data only in pax entries)."""
        data = _b(data)
        if data:
            kw.setdefault("pax", {}).setdefault("comment", "link with data")
            kw.setdefault("hdr", {})
        return self._entry(path, b"1", "hardlink", data, mode, link=target,
                           **kw)

    def device(self, path, kind="chr", major=1, minor=3, mode=0o666, **kw):
        flag = {"chr": b"3", "blk": b"4"}[kind]
        hdr = dict(kw.pop("hdr", {}), devmajor=major, devminor=minor)
        return self._entry(path, flag, "other", b"", mode, hdr=hdr, **kw)

    def fifo(self, path, mode=0o644, **kw):
        return self._entry(path, b"6", "other", b"", mode, **kw)

    def sparse(self, path, realsize, segments, mode=0o644, map_text=None,
               content_hash=None, **kw):
        """A GNU sparse 1.0 file in pax: segments is a list of (offset,
        bytes); the map (count, then offset/size pairs, one decimal a
        line, padded to 512) precedes the data.  map_text overrides the
        map's text (malformed maps); content_hash the recorded hash (for
        sizes too large to hash here)."""
        path = _b(path)
        if map_text is None:
            lines = [b"%d" % len(segments)]
            for off, seg in segments:
                lines += [b"%d" % off, b"%d" % len(seg)]
            map_text = b"\n".join(lines) + b"\n"
        body = pad(_b(map_text)) + b"".join(_b(s) for _, s in segments)
        pax = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
               "GNU.sparse.name": path, "GNU.sparse.realsize": str(realsize)}
        pax.update(kw.pop("pax", {}))
        if content_hash is None:
            logical = bytearray(realsize)
            for off, seg in segments:
                logical[off:off + len(seg)] = _b(seg)
            content_hash = digest(self.alg, bytes(logical))
        dirn, _, base = path.rpartition(b"/")
        stored = (dirn + b"/" if dirn else b"") + b"GNUSparseFile.0/" + base
        rec = self._entry(stored, b"0", "file", body, mode, pax=pax,
                          size=realsize, content=None, rec_path=path, **kw)
        rec[self.alg] = content_hash
        return rec

    def record(self, rec):
        """An extra manifest record, used as given."""
        self.recs.append(rec)
        return rec

    def raw_line(self, line):
        """Bytes appended to the manifest verbatim (BKP_FORGE_RAW_LINES)."""
        self.extra_lines.append(_b(line))

    # -- machinery ------------------------------------------------------
    def _entry(self, path, typeflag, kind, data, mode, link=None, size=0,
               content=b"", uid=0, gid=0, mtime=MTIME, names="auto",
               pax=None, hdr=None, rec=None, mf=True, in_tar=True,
               rec_path=None):
        path = _b(path)
        link = _b(link) if link is not None else None
        pax = dict(pax or {})
        hdr = dict(hdr or {})
        t = self.tar
        o = t.offset
        if in_tar:
            name, lname = path, link or b""
            if names == "gnu":
                if len(name) > 100:
                    t.gnu_long(b"L", name)
                    name = name[:100]
                if len(lname) > 100:
                    t.gnu_long(b"K", lname)
                    lname = lname[:100]
            elif names == "auto":
                if len(name) > 100 or not _ascii(name):
                    pax.setdefault("path", name)
                    name = name[:100]
                if len(lname) > 100 or not _ascii(lname):
                    pax.setdefault("linkpath", lname)
                    lname = lname[:100]
            elif names == "pax":
                pax.setdefault("path", name)
                if link is not None:
                    pax.setdefault("linkpath", lname)
            if pax:
                if not all(_utf8(_b(v)) for v in pax.values()):
                    pax.setdefault("hdrcharset", "BINARY")
                t.pax(list(pax.items()),
                      name=b"PaxHeader/" + name.rstrip(b"/").split(b"/")[-1][:80])
            kw = dict(name=name, mode=mode, uid=uid, gid=gid,
                      size=len(data), mtime=mtime, typeflag=typeflag,
                      linkname=lname)
            kw.update(hdr)
            t.record(header(**kw), data)
        e = t.offset
        r = {"t": "file", "type": kind, "mode": mode, "uid": uid,
             "gid": gid, "mtime": mtime,
             "size": size if kind == "file" else 0, "o": o, "e": e}
        _set_bytes(r, "path", rec_path if rec_path is not None else path)
        if kind == "file" and content is not None:
            r[self.alg] = digest(self.alg, content)
        if link is not None:
            _set_bytes(r, "link", link)
        if rec:
            _merge(r, rec)
        if mf:
            self.recs.append(r)
        return r

    def save(self, tarpath, mfpath, linespath=None):
        self.tar.end()
        with open(tarpath, "wb") as f:
            f.write(self.tar.buf)
        with open(mfpath, "w") as m:
            for r in self.recs:
                m.write(json.dumps(r, separators=(",", ":")) + "\n")
        if linespath is not None:
            with open(linespath, "wb") as f:
                f.write(b"".join(self.extra_lines))


def _utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _ascii(b):
    return all(32 <= c < 127 for c in b)
