"""SVG chart of one `make bench` result (the dict written as JSON): three
panels, throughput per phase with min-max whiskers, peak RSS per phase with
the 128 MiB target, and bkp's peak RSS across dataset sizes. Self-contained
SVG, no external assets."""

from xml.sax.saxutils import escape

COLORS = {"limit": "#7f7f7f", "bkp": "#1f77b4", "restic": "#d62728", "borg": "#2ca02c",
          "bkp-s3": "#6baed6", "restic-s3": "#ff9896"}
PHASES = ("backup", "restore", "verify")
W = 900


def _text(x, y, s, size=12, anchor="start", weight="normal", fill="#222"):
    return ('<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s" font-weight="%s" '
            'fill="%s">%s</text>' % (x, y, size, anchor, weight, fill, escape(str(s))))


def _nice_max(v):
    if v <= 0:
        return 1.0
    m = 1.0
    while m * 10 <= v:
        m *= 10
    while m > v * 10:
        m /= 10
    for f in (1, 2, 2.5, 5, 10):
        if f * m >= v:
            return f * m
    return 10 * m


def _bars(parts, y0, title, unit, groups, names, value, lo=None, hi=None, line=None,
          colors=None):
    """Grouped vertical bars: one group per phase, one bar per contender."""
    colors = colors or COLORS
    h = 230
    left, right = 70, W - 20
    top, bottom = y0 + 30, y0 + h - 40
    parts.append(_text(left, y0 + 16, title, 14, weight="bold"))
    vals = [value(g, n) for g in groups for n in names]
    vals += [hi(g, n) for g in groups for n in names] if hi else []
    vals = [v for v in vals if v is not None]
    if line is not None:
        vals.append(line[0])
    vmax = _nice_max(max(vals) if vals else 1.0)

    def ypos(v):
        return bottom - (bottom - top) * (v / vmax)

    for i in range(6):
        v = vmax * i / 5
        y = ypos(v)
        parts.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (
            left, y, right, y))
        parts.append(_text(left - 6, y + 4, ("%.0f" if vmax >= 10 else "%.2g") % v, 10, "end"))
    parts.append(_text(14, (top + bottom) / 2, unit, 11, "middle").replace(
        "<text ", '<text transform="rotate(-90 14 %.1f)" ' % ((top + bottom) / 2), 1))
    gw = (right - left) / max(1, len(groups))
    bw = min(40, (gw - 20) / max(1, len(names)))
    for gi, g in enumerate(groups):
        gx = left + gi * gw + (gw - bw * len(names)) / 2
        parts.append(_text(left + gi * gw + gw / 2, bottom + 16, g, 12, "middle"))
        for ni, n in enumerate(names):
            v = value(g, n)
            x = gx + ni * bw
            if v is None:
                continue
            y = ypos(v)
            parts.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">'
                         '<title>%s %s: %.3g %s</title></rect>' % (
                             x + 2, y, bw - 4, bottom - y, colors.get(n, "#9467bd"),
                             escape(n), escape(g), v, escape(unit)))
            ly = y
            if lo and hi and lo(g, n) is not None and hi(g, n) is not None:
                cx = x + bw / 2
                ly = min(y, ypos(hi(g, n)))
                parts.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000"/>' % (
                    cx, ypos(lo(g, n)), cx, ly))
            parts.append(_text(x + bw / 2, ly - 3, ("%.0f" if v >= 10 else "%.2g") % v, 9,
                               "middle"))
    if line is not None:
        y = ypos(line[0])
        parts.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#c00" '
                     'stroke-dasharray="6 4"/>' % (left, y, right, y))
        parts.append(_text(right, y - 4, line[1], 10, "end", fill="#c00"))
    return y0 + h


def render(doc):
    res = doc["results"]
    names = [n for n in ("limit", "bkp", "restic", "borg", "bkp-s3", "restic-s3") if n in res]
    parts = []
    ds = doc["dataset"]
    y = 10
    parts.append(_text(20, y + 16, "bkp bench %s: %.0f MiB, %d files, %d reps, warm cache" % (
        doc["started_utc"][:16].replace("T", " "), ds["bytes"] / 1048576.0, ds["files"],
        doc["config"]["reps"]), 15, weight="bold"))
    lx = 20
    for n in names:
        parts.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>' % (
            lx, y + 28, COLORS.get(n, "#9467bd")))
        parts.append(_text(lx + 16, y + 39, n, 12))
        lx += 30 + 8 * len(n)
    y += 50

    def get(key):
        def f(g, n):
            s = res.get(n, {}).get(g)
            return s.get(key) if s and s.get("ok") else None
        return f

    y = _bars(parts, y, "Throughput (MB/s of dataset, median; whiskers min-max)", "MB/s",
              PHASES, names, get("mbps_median"), get("mbps_min"), get("mbps_max"))
    y = _bars(parts, y, "Peak RSS (MiB, largest over reps)", "MiB", PHASES, names,
              get("rss_mib_max"), line=(128.0, "target 128 MiB (bkp)"))
    scale = doc.get("memory_scaling") or []
    if scale:
        labels = [r["label"] for r in scale]
        pc = dict(zip(PHASES, ("#1f77b4", "#ff7f0e", "#9467bd")))
        y = _bars(parts, y, "bkp peak RSS by input size (MiB)", "MiB", labels,
                  list(PHASES), lambda g, n: next((r.get(n) for r in scale if r["label"] == g),
                                                  None), line=(128.0, "target 128 MiB"), colors=pc)
        lx = 70
        for i, ph in enumerate(PHASES):
            c = pc[ph]
            parts.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>' % (lx, y, c))
            parts.append(_text(lx + 16, y + 11, ph, 12))
            lx += 90
        y += 24
    tl = ["%s %s" % (t["status"].upper(), t["target"]) + (
        "" if t["value"] is None else ": %.2f (goal %s %.2f)" % (t["value"], t["cmp"], t["goal"]))
        for t in doc.get("targets", [])]
    for line in tl:
        fill = "#080" if line.startswith("MET") else ("#c00" if line.startswith("MISSED") else "#666")
        parts.append(_text(20, y + 14, line, 12, fill=fill))
        y += 18
    y += 10
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
            'viewBox="0 0 %d %d" font-family="sans-serif">\n'
            '<rect width="100%%" height="100%%" fill="#fff"/>\n%s\n</svg>\n' % (
                W, y, W, y, "\n".join(parts)))
