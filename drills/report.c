#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto.h"
#include "drill_config.h"
#include "drill_metrics.h"
#include "drill_record.h"
#include "drill_store.h"
#include "err.h"
#include "hash.h"
#include "repo.h"
#include "report.h"
#include "util.h"

#define QUARTER_DAYS 92     /* a drill at least this often (CIS 11.5) */
#define CELL 512
#define MAX_GAPS 10000

/* ---- the model: what the report says, computed once ---- */

struct ds {
	const char *name;
	double rto, rpo;              /* targets in force */
	int window_days;
	size_t narch;
	const struct repo_archive *oldest, *newest;
	struct drill_rpo rpo_now;     /* at report time */
	int has_rpo;
	int within_rpo;
	const struct drill_record *last_drill;
	size_t ndrills, nfailed;      /* in the period */
};

struct gap {
	const char *area;             /* section it belongs to */
	char text[320];
};

struct model {
	const struct report_input *in;
	struct ds *ds;
	size_t nds;
	struct gap *gaps;
	size_t ngaps;
	size_t drills_in_period, drills_failed;
	size_t never_verified, verify_failed;
	int oom;
};

static int
in_period(const struct report_input *in, int64_t t)
{
	return t >= in->since_us;
}

static struct ds *
ds_get(struct model *m, const char *name)
{
	struct ds *d;
	size_t i;

	for (i = 0; i < m->nds; i++)
		if (strcmp(m->ds[i].name, name) == 0)
			return &m->ds[i];
	if ((d = realloc(m->ds, (m->nds + 1) * sizeof(*d))) == NULL) {
		m->oom = 1;
		return NULL;
	}
	m->ds = d;
	d = &m->ds[m->nds++];
	memset(d, 0, sizeof(*d));
	d->name = name;
	return d;
}

static void
gap(struct model *m, const char *area, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
gap(struct model *m, const char *area, const char *fmt, ...)
{
	struct gap *g;
	va_list ap;

	if (m->ngaps >= MAX_GAPS)
		return;
	if ((g = realloc(m->gaps, (m->ngaps + 1) * sizeof(*g))) == NULL) {
		m->oom = 1;
		return;
	}
	m->gaps = g;
	g = &m->gaps[m->ngaps++];
	g->area = area;
	va_start(ap, fmt);
	vsnprintf(g->text, sizeof(g->text), fmt, ap);
	va_end(ap);
}

/* The latest verification of archive id, or NULL. */
static const struct drill_verification *
latest_verification(const struct report_input *in, const char *id)
{
	const struct drill_verification *best = NULL;
	size_t i;

	for (i = 0; i < in->nver; i++)
		if (strcmp(in->ver[i].archive_id, id) == 0 &&
		    (best == NULL || in->ver[i].time_us >= best->time_us))
			best = &in->ver[i];
	return best;
}

/* The latest drill of archive id, or NULL. */
static const struct drill_record *
latest_drill_of(const struct report_input *in, const char *id)
{
	const struct drill_record *best = NULL;
	size_t i;

	for (i = 0; i < in->ndr; i++)
		if (strcmp(in->dr[i].archive_id, id) == 0 &&
		    (best == NULL || in->dr[i].started_us >= best->started_us))
			best = &in->dr[i];
	return best;
}

static void
model_free(struct model *m)
{
	free(m->ds);
	free(m->gaps);
}

static int
model_build(const struct report_input *in, struct model *m)
{
	struct drill_target t;
	const struct drill_record *r;
	const struct drill_verification *v;
	int64_t *c = NULL;
	char a[32], b[32], d1[32], d2[32];
	size_t i, j, k;
	struct ds *d;

	memset(m, 0, sizeof(*m));
	m->in = in;
	/* Datasets: from archives, the configuration and drills. */
	for (i = 0; i < in->nar; i++)
		if (ds_get(m, in->ar[i].name) == NULL)
			goto oom;
	for (i = 0; in->cfg != NULL && !in->cfg->all_datasets &&
	    i < in->cfg->nds; i++)
		if (ds_get(m, in->cfg->ds[i].name) == NULL)
			goto oom;
	for (i = 0; i < in->ndr; i++)
		if (ds_get(m, in->dr[i].dataset) == NULL)
			goto oom;
	if (in->nar > 0 && (c = calloc(in->nar, sizeof(*c))) == NULL)
		goto oom;

	/* Integrity-chain and unreadable records come first of all. */
	if (in->ar_bad > 0)
		gap(m, "integrity", "%zu archive record%s could not be read "
		    "or failed validation", in->ar_bad, in->ar_bad == 1 ? "" :
		    "s");
	if (in->dr_bad > 0)
		gap(m, "audit", "%zu drill record%s could not be read or "
		    "failed validation", in->dr_bad, in->dr_bad == 1 ? "" :
		    "s");
	for (i = 0; i < in->ndr; i++)
		if (!in->dr[i].chain_ok)
			gap(m, "audit", "drill record chain broken at %s: the "
			    "record before it is missing, altered or out of "
			    "order", in->dr[i].key);

	for (i = 0; i < m->nds; i++) {
		d = &m->ds[i];
		if (in->cfg != NULL) {
			if (drill_config_target(in->cfg, d->name, &t) !=
			    ERR_OK)
				goto oom;
			d->rto = t.rto;
			d->rpo = t.rpo;
			d->window_days = t.window_days;
			drill_config_target_release(&t);
		} else {
			d->rto = DRILL_DEFAULT_RTO;
			d->rpo = DRILL_DEFAULT_RPO;
			d->window_days = DRILL_DEFAULT_WINDOW_DAYS;
		}
		for (k = 0, j = 0; j < in->nar; j++) {
			if (strcmp(in->ar[j].name, d->name) != 0)
				continue;
			c[k++] = in->ar[j].created_us;
			if (d->oldest == NULL ||
			    in->ar[j].created_us < d->oldest->created_us)
				d->oldest = &in->ar[j];
			if (d->newest == NULL ||
			    in->ar[j].created_us >= d->newest->created_us)
				d->newest = &in->ar[j];
		}
		d->narch = k;
		d->has_rpo = drill_metrics_rpo(c, k, in->now_us,
		    (double)d->window_days * 86400, &d->rpo_now) == 0;
		d->within_rpo = d->has_rpo && d->rpo_now.newest_age <= d->rpo;
		for (j = 0; j < in->ndr; j++) {
			r = &in->dr[j];
			if (strcmp(r->dataset, d->name) != 0)
				continue;
			if (d->last_drill == NULL ||
			    r->started_us >= d->last_drill->started_us)
				d->last_drill = r;
			if (in_period(in, r->started_us)) {
				d->ndrills++;
				d->nfailed += !r->passed;
			}
		}

		if (!d->has_rpo)
			gap(m, "backup", "dataset '%s' has no archive: nothing "
			    "can be restored", d->name);
		else {
			if (!d->within_rpo)
				gap(m, "backup", "dataset '%s': newest archive "
				    "is %s old, beyond the RPO target of %s",
				    d->name, drill_metrics_human(
				    d->rpo_now.newest_age, a, sizeof(a)),
				    drill_metrics_human(d->rpo, b, sizeof(b)));
			if (d->rpo_now.max_gap > d->rpo)
				gap(m, "backup", "dataset '%s': %s between "
				    "archives (%s to %s) in the last %d days, "
				    "beyond the RPO target of %s", d->name,
				    drill_metrics_human(d->rpo_now.max_gap, a,
				    sizeof(a)), drill_metrics_iso(
				    d->rpo_now.gap_from_us, d1, sizeof(d1)),
				    drill_metrics_iso(d->rpo_now.gap_to_us, d2,
				    sizeof(d2)), d->window_days,
				    drill_metrics_human(d->rpo, b, sizeof(b)));
		}
		if (d->last_drill == NULL)
			gap(m, "drills", "dataset '%s' has never been drilled",
			    d->name);
		else {
			double age = (double)(in->now_us -
			    d->last_drill->started_us) / DRILL_US;

			if (age > QUARTER_DAYS * 86400.0)
				gap(m, "drills", "dataset '%s': last drill %s "
				    "ago, more than %d days", d->name,
				    drill_metrics_human(age, a, sizeof(a)),
				    QUARTER_DAYS);
			if (!d->last_drill->passed)
				gap(m, "drills", "dataset '%s': the latest "
				    "drill (%s) failed", d->name,
				    drill_metrics_iso(
				    d->last_drill->started_us, a, sizeof(a)));
		}
	}

	/* Every failed drill in the period, with its reasons. */
	for (i = 0; i < in->ndr; i++) {
		r = &in->dr[i];
		if (!in_period(in, r->started_us))
			continue;
		m->drills_in_period++;
		if (!r->scratch_wiped && !r->scratch_kept)
			gap(m, "drills", "%s drill of '%s': scratch data was "
			    "NOT wiped", drill_metrics_iso(r->started_us, a,
			    sizeof(a)), r->dataset);
		if (r->passed)
			continue;
		m->drills_failed++;
		gap(m, "drills", "%s drill of '%s' (archive %.12s) failed: "
		    "%s%s", drill_metrics_iso(r->started_us, a, sizeof(a)),
		    r->dataset, r->archive_id[0] ? r->archive_id : "none",
		    r->nfailures > 0 ? r->failures[0] : "no reason recorded",
		    r->nfailures > 1 ? " (and more)" : "");
	}

	/* Verification, honestly: no record means never verified. */
	for (i = 0; i < in->nar; i++) {
		v = latest_verification(in, in->ar[i].id);
		if (v == NULL)
			m->never_verified++;
		else if (!v->ok) {
			m->verify_failed++;
			gap(m, "integrity", "archive %.12s of '%s': latest "
			    "verification (%s) failed", in->ar[i].id,
			    in->ar[i].name, drill_metrics_iso(v->time_us, a,
			    sizeof(a)));
		}
		if (in->ar[i].warnings > 0)
			gap(m, "backup", "archive %.12s of '%s': %llu source "
			    "file%s skipped at backup time", in->ar[i].id,
			    in->ar[i].name,
			    (unsigned long long)in->ar[i].warnings,
			    in->ar[i].warnings == 1 ? " was" : "s were");
	}
	if (m->never_verified > 0)
		gap(m, "integrity", "%zu of %zu archives have no verification "
		    "record (never verified by 'bkp verify')",
		    m->never_verified, in->nar);
	free(c);
	if (m->oom)
		goto oom_nofree;
	return ERR_OK;
oom:
	free(c);
oom_nofree:
	model_free(m);
	err_set("out of memory");
	return ERR_FAIL;
}

long
report_gap_count(const struct report_input *in)
{
	struct model m;
	long n;

	if (model_build(in, &m) != ERR_OK)
		return -1;
	n = (long)m.ngaps;
	model_free(&m);
	return n;
}

int
report_format_parse(const char *s)
{
	if (strcmp(s, "html") == 0)
		return REPORT_HTML;
	if (strcmp(s, "json") == 0)
		return REPORT_JSON;
	if (strcmp(s, "md") == 0 || strcmp(s, "markdown") == 0)
		return REPORT_MD;
	return -1;
}

/* ---- text output shared by HTML and Markdown ---- */

struct out {
	FILE *f;
	enum report_format fmt;
};

static void
esc(struct out *o, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (o->fmt == REPORT_HTML) {
			switch (*p) {
			case '&': fputs("&amp;", o->f); continue;
			case '<': fputs("&lt;", o->f); continue;
			case '>': fputs("&gt;", o->f); continue;
			case '"': fputs("&quot;", o->f); continue;
			case '\'': fputs("&#39;", o->f); continue;
			default: break;
			}
		} else {
			switch (*p) {
			case '<': fputs("&lt;", o->f); continue;
			case '>': fputs("&gt;", o->f); continue;
			case '&': fputs("&amp;", o->f); continue;
			case '\n': case '\r': case '\t': fputc(' ', o->f);
				continue;
			case '|': case '\\': case '`': case '*': case '_':
			case '[': case ']': case '#':
				fputc('\\', o->f);
				break;
			default: break;
			}
		}
		if (*p < 0x20 && *p != '\n' && *p != '\t')
			fputc('?', o->f);
		else
			fputc(*p, o->f);
	}
}

static void
heading(struct out *o, int level, const char *id, const char *text)
{
	if (o->fmt == REPORT_HTML) {
		fprintf(o->f, "<h%d id=\"%s\">", level, id);
		esc(o, text);
		fprintf(o->f, "</h%d>\n", level);
	} else {
		fprintf(o->f, "\n%.*s ", level, "######");
		esc(o, text);
		fputs("\n\n", o->f);
	}
}

static void
para(struct out *o, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
para(struct out *o, const char *cls, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (o->fmt == REPORT_HTML) {
		fprintf(o->f, "<p class=\"%s\">", cls != NULL ? cls : "");
		esc(o, buf);
		fputs("</p>\n", o->f);
	} else {
		esc(o, buf);
		fputs("\n\n", o->f);
	}
}

static void
table_begin(struct out *o, const char *const *head, size_t n)
{
	size_t i;

	if (o->fmt == REPORT_HTML) {
		fputs("<table><thead><tr>", o->f);
		for (i = 0; i < n; i++) {
			fputs("<th>", o->f);
			esc(o, head[i]);
			fputs("</th>", o->f);
		}
		fputs("</tr></thead><tbody>\n", o->f);
	} else {
		fputs("|", o->f);
		for (i = 0; i < n; i++) {
			fputc(' ', o->f);
			esc(o, head[i]);
			fputs(" |", o->f);
		}
		fputs("\n|", o->f);
		for (i = 0; i < n; i++)
			fputs("---|", o->f);
		fputc('\n', o->f);
	}
}

/* A row of n cells; cls[i] may be "ok", "bad", "warn" or NULL. */
static void
table_row(struct out *o, char cells[][CELL], const char *const *cls,
    size_t n)
{
	size_t i;

	if (o->fmt == REPORT_HTML) {
		fputs("<tr>", o->f);
		for (i = 0; i < n; i++) {
			if (cls != NULL && cls[i] != NULL)
				fprintf(o->f, "<td class=\"%s\">", cls[i]);
			else
				fputs("<td>", o->f);
			esc(o, cells[i]);
			fputs("</td>", o->f);
		}
		fputs("</tr>\n", o->f);
	} else {
		fputs("|", o->f);
		for (i = 0; i < n; i++) {
			fputc(' ', o->f);
			if (cls != NULL && cls[i] != NULL &&
			    strcmp(cls[i], "bad") == 0)
				fputs("**", o->f);
			esc(o, cells[i]);
			if (cls != NULL && cls[i] != NULL &&
			    strcmp(cls[i], "bad") == 0)
				fputs("**", o->f);
			fputs(" |", o->f);
		}
		fputc('\n', o->f);
	}
}

static void
table_end(struct out *o)
{
	fputs(o->fmt == REPORT_HTML ? "</tbody></table>\n" : "\n", o->f);
}

static void
hooks_str(const struct drill_record *r, char *buf, size_t len)
{
	size_t i, ok = 0, n = 0;
	int w;

	for (i = 0; i < r->nhooks; i++)
		ok += r->hooks[i].passed != 0;
	if (r->nhooks == 0) {
		snprintf(buf, len, "none");
		return;
	}
	w = snprintf(buf, len, "%zu/%zu passed", ok, r->nhooks);
	for (i = 0; i < r->nhooks && w > 0 && (size_t)w < len; i++) {
		const struct drill_hook_result *h = &r->hooks[i];

		if (h->passed)
			continue;
		n = (size_t)w;
		if (h->timed_out)
			w += snprintf(buf + n, len - n, "; #%zu timed out",
			    i + 1);
		else if (h->signal)
			w += snprintf(buf + n, len - n, "; #%zu signal %d",
			    i + 1, h->signal);
		else
			w += snprintf(buf + n, len - n, "; #%zu exit %d",
			    i + 1, h->exit_code);
	}
}

/* ---- the SVG chart ---- */

#define CW 520      /* chart size */
#define CH 260
#define ML 64       /* margins */
#define MR 16
#define MT 28
#define MB 40

static const char *const palette[] = { "#1f77b4", "#9467bd", "#8c564b",
	"#17becf", "#e377c2", "#7f7f7f", "#bcbd22", "#ff7f0e" };

static double
ypos(double v, double lo, double hi)
{
	double l;

	if (!(v > lo))
		v = lo;
	if (v > hi)
		v = hi;
	l = (log10(v) - log10(lo)) / (log10(hi) - log10(lo));
	return MT + (1 - l) * (CH - MT - MB);
}

static double
xpos(int64_t t, int64_t t0, int64_t t1)
{
	if (t1 <= t0)
		return ML + (CW - ML - MR) / 2.0;
	return ML + (double)(t - t0) / (double)(t1 - t0) * (CW - ML - MR);
}

/* One chart: which = 0 for RTO, 1 for RPO. */
static void
chart(struct out *o, const struct model *m, int which)
{
	static const struct { double s; const char *label; } ticks[] = {
		{ 0.001, "1ms" }, { 0.01, "10ms" }, { 0.1, "0.1s" },
		{ 1, "1s" }, { 10, "10s" }, { 60, "1m" }, { 600, "10m" },
		{ 3600, "1h" }, { 4 * 3600, "4h" }, { 86400, "1d" },
		{ 7 * 86400, "1w" }, { 30 * 86400, "30d" },
		{ 365 * 86400, "1y" } };
	const struct report_input *in = m->in;
	const struct drill_record *r;
	double lo = INFINITY, hi = 0, v, tg, x, y;
	int64_t t0 = INT64_MAX, t1 = INT64_MIN;
	size_t i, j, k, n = 0;
	char a[32], b[32], d[32];
	int first;

	for (i = 0; i < in->ndr; i++) {
		r = &in->dr[i];
		if (!in_period(in, r->started_us))
			continue;
		v = which ? r->rpo_achieved : r->rto_achieved;
		tg = which ? r->rpo_target : r->rto_target;
		if (isfinite(v) && v > 0) {
			lo = fmin(lo, v);
			hi = fmax(hi, v);
		}
		if (isfinite(tg) && tg > 0) {
			lo = fmin(lo, tg);
			hi = fmax(hi, tg);
		}
		t0 = r->started_us < t0 ? r->started_us : t0;
		t1 = r->started_us > t1 ? r->started_us : t1;
		n++;
	}
	fprintf(o->f, "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" "
	    "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
	    "aria-label=\"%s\">\n", CW, CH, CW, CH,
	    which ? "RPO over time" : "RTO over time");
	fprintf(o->f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
	    "fill=\"#ffffff\" stroke=\"#cccccc\"/>\n", CW, CH);
	fprintf(o->f, "<text x=\"%d\" y=\"18\" font-size=\"14\" "
	    "font-weight=\"bold\">%s achieved per drill (log scale) against "
	    "the objective</text>\n", ML, which ? "RPO" : "RTO");
	if (n == 0 || !isfinite(lo)) {
		fprintf(o->f, "<text x=\"%d\" y=\"%d\" font-size=\"13\">no "
		    "drills in the period</text></svg></figure>\n", ML,
		    CH / 2);
		return;
	}
	lo = fmax(lo / 3, 0.0005);
	hi = hi * 3;
	/* axes and ticks */
	fprintf(o->f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
	    "stroke=\"#333\"/>\n", ML, MT, ML, CH - MB);
	fprintf(o->f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
	    "stroke=\"#333\"/>\n", ML, CH - MB, CW - MR, CH - MB);
	for (i = 0; i < sizeof(ticks) / sizeof(ticks[0]); i++) {
		if (ticks[i].s < lo || ticks[i].s > hi)
			continue;
		y = ypos(ticks[i].s, lo, hi);
		fprintf(o->f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
		    "y2=\"%.1f\" stroke=\"#eeeeee\"/><text x=\"%d\" "
		    "y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s"
		    "</text>\n", ML, y, CW - MR, y, ML - 4, y + 4,
		    ticks[i].label);
	}
	fprintf(o->f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>"
	    "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">"
	    "%s</text>\n", ML, CH - MB + 16, drill_metrics_iso(t0, a,
	    sizeof(a)), CW - MR, CH - MB + 16, drill_metrics_iso(t1, b,
	    sizeof(b)));
	/* objectives: one dashed line per distinct target */
	for (i = 0; i < in->ndr; i++) {
		r = &in->dr[i];
		if (!in_period(in, r->started_us))
			continue;
		tg = which ? r->rpo_target : r->rto_target;
		for (j = 0; j < i; j++)
			if (in_period(in, in->dr[j].started_us) &&
			    (which ? in->dr[j].rpo_target :
			    in->dr[j].rto_target) == tg)
				break;
		if (j < i || !isfinite(tg) || tg <= 0)
			continue;
		y = ypos(tg, lo, hi);
		fprintf(o->f, "<line class=\"objective\" x1=\"%d\" y1=\"%.1f\" "
		    "x2=\"%d\" y2=\"%.1f\" stroke=\"#d62728\" "
		    "stroke-dasharray=\"6 4\" stroke-width=\"1.5\"/><text "
		    "x=\"%d\" y=\"%.1f\" font-size=\"11\" fill=\"#d62728\" "
		    "text-anchor=\"end\">objective %s</text>\n", ML, y,
		    CW - MR, y, CW - MR - 2, y - 4,
		    drill_metrics_human(tg, a, sizeof(a)));
	}
	/* one line per dataset, points coloured by pass/fail */
	for (k = 0; k < m->nds; k++) {
		const char *col = palette[k % 8];

		first = 1;
		for (i = 0; i < in->ndr; i++) {
			r = &in->dr[i];
			v = which ? r->rpo_achieved : r->rto_achieved;
			if (!in_period(in, r->started_us) || !isfinite(v) ||
			    strcmp(r->dataset, m->ds[k].name) != 0)
				continue;
			x = xpos(r->started_us, t0, t1);
			y = ypos(v, lo, hi);
			if (first)
				fprintf(o->f, "<polyline fill=\"none\" "
				    "stroke=\"%s\" stroke-width=\"1.5\" "
				    "points=\"", col);
			fprintf(o->f, "%.1f,%.1f ", x, y);
			first = 0;
		}
		if (!first)
			fputs("\"/>\n", o->f);
		for (i = 0; i < in->ndr; i++) {
			int ok;

			r = &in->dr[i];
			v = which ? r->rpo_achieved : r->rto_achieved;
			ok = which ? r->rpo_passed : r->rto_passed;
			if (!in_period(in, r->started_us) ||
			    strcmp(r->dataset, m->ds[k].name) != 0)
				continue;
			x = xpos(r->started_us, t0, t1);
			/* Not reached (restore failed): a cross on top. */
			if (!isfinite(v)) {
				fprintf(o->f, "<text class=\"fail\" "
				    "x=\"%.1f\" y=\"%d\" font-size=\"14\" "
				    "fill=\"#d62728\" text-anchor=\"middle\">"
				    "&#x2715;<title>", x, MT + 12);
				esc(o, m->ds[k].name);
				fprintf(o->f, " %s: not reached</title>"
				    "</text>\n", drill_metrics_iso(
				    r->started_us, d, sizeof(d)));
				continue;
			}
			y = ypos(v, lo, hi);
			fprintf(o->f, "<circle class=\"%s\" cx=\"%.1f\" "
			    "cy=\"%.1f\" r=\"5\" fill=\"%s\" stroke=\"%s\">"
			    "<title>", ok ? "pass" : "fail", x, y,
			    ok ? "#2ca02c" : "#d62728", col);
			esc(o, m->ds[k].name);
			fprintf(o->f, " %s: %s</title></circle>\n",
			    drill_metrics_iso(r->started_us, d, sizeof(d)),
			    drill_metrics_human(v, a, sizeof(a)));
		}
	}
	/* legend */
	for (k = 0; k < m->nds && k < 8; k++) {
		fprintf(o->f, "<rect x=\"%zu\" y=\"%d\" width=\"10\" "
		    "height=\"10\" fill=\"%s\"/><text x=\"%zu\" y=\"%d\" "
		    "font-size=\"11\">", ML + k * 110, CH - 14, palette[k],
		    ML + k * 110 + 14, CH - 5);
		esc(o, m->ds[k].name);
		fputs("</text>\n", o->f);
	}
	fputs("</svg></figure>\n", o->f);
}

/* ---- HTML and Markdown ---- */

static const char css[] =
"body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px;color:#222;"
"max-width:1150px}"
"h1{font-size:22px;border-bottom:2px solid #333;padding-bottom:4px}"
"h2{font-size:18px;margin-top:28px;border-bottom:1px solid #bbb}"
"table{border-collapse:collapse;margin:8px 0;font-size:12px}"
"th,td{border:1px solid #bbb;padding:3px 6px;text-align:left;"
"vertical-align:top}"
"td.hex{font-family:'DejaVu Sans Mono',monospace;font-size:11px;"
"overflow-wrap:anywhere}"
"th{background:#eef1f5}td.ok{background:#e3f4e1;color:#14551b}"
"td.bad{background:#fbe3e3;color:#8a1010;font-weight:bold}"
"td.warn{background:#fff4d6}"
"p.ok{background:#e3f4e1;padding:8px;border-left:4px solid #2ca02c}"
"p.bad{background:#fbe3e3;padding:8px;border-left:4px solid #d62728}"
"ul.gaps li{margin:3px 0;color:#8a1010}"
"figure{display:inline-block;margin:8px 12px 8px 0}"
".meta{color:#555;font-size:12px}"
"code{font-size:12px}";

static void
list_gaps(struct out *o, const struct model *m)
{
	size_t i;

	if (m->ngaps == 0) {
		para(o, "ok", "No gaps or failures: every dataset has an "
		    "archive within its RPO, every dataset was drilled in the "
		    "last %d days and its latest drill passed, and the record "
		    "chain is intact.", QUARTER_DAYS);
		return;
	}
	para(o, "bad", "%zu item%s need%s attention.", m->ngaps,
	    m->ngaps == 1 ? "" : "s", m->ngaps == 1 ? "s" : "");
	if (o->fmt == REPORT_HTML)
		fputs("<ul class=\"gaps\">\n", o->f);
	for (i = 0; i < m->ngaps; i++) {
		fputs(o->fmt == REPORT_HTML ? "<li>" : "- ", o->f);
		esc(o, "[");
		esc(o, m->gaps[i].area);
		esc(o, "] ");
		esc(o, m->gaps[i].text);
		fputs(o->fmt == REPORT_HTML ? "</li>\n" : "\n", o->f);
	}
	fputs(o->fmt == REPORT_HTML ? "</ul>\n" : "\n", o->f);
}

static void
inventory(struct out *o, const struct model *m)
{
	static const char *const h1[] = { "Dataset", "Archives", "Oldest",
		"Newest", "Newest age", "RPO target", "Within RPO",
		"Largest gap (window)", "RTO target", "Last drill" };
	static const char *const h2[] = { "Dataset", "Archive", "Created",
		"Stored size", "Entries", "Content bytes", "Cipher",
		"Recipient keys", "Skipped at backup" };
	const struct report_input *in = m->in;
	char c[10][CELL], t[32];
	const char *cls[10];
	size_t i, j;
	int w;

	table_begin(o, h1, 10);
	for (i = 0; i < m->nds; i++) {
		const struct ds *d = &m->ds[i];

		memset(cls, 0, sizeof(cls));
		snprintf(c[0], CELL, "%s", d->name);
		snprintf(c[1], CELL, "%zu", d->narch);
		if (d->narch > 0) {
			drill_metrics_iso(d->oldest->created_us, c[2], CELL);
			drill_metrics_iso(d->newest->created_us, c[3], CELL);
			drill_metrics_human(d->rpo_now.newest_age, c[4], CELL);
			drill_metrics_human(d->rpo_now.max_gap, c[7], CELL);
			cls[7] = d->rpo_now.max_gap > d->rpo ? "bad" : "ok";
		} else {
			snprintf(c[2], CELL, "-");
			snprintf(c[3], CELL, "-");
			snprintf(c[4], CELL, "no archive");
			snprintf(c[7], CELL, "-");
		}
		drill_metrics_human(d->rpo, c[5], CELL);
		snprintf(c[6], CELL, "%s", d->within_rpo ? "yes" : "NO");
		cls[6] = d->within_rpo ? "ok" : "bad";
		drill_metrics_human(d->rto, c[8], CELL);
		if (d->last_drill == NULL) {
			snprintf(c[9], CELL, "never");
			cls[9] = "bad";
		} else {
			snprintf(c[9], CELL, "%s %s", drill_metrics_iso(
			    d->last_drill->started_us, t, sizeof(t)),
			    d->last_drill->passed ? "PASS" : "FAIL");
			cls[9] = d->last_drill->passed ? "ok" : "bad";
		}
		table_row(o, c, cls, 10);
	}
	table_end(o);
	para(o, NULL, "Archives (%zu). Sizes are of the encrypted objects "
	    "and of the content they hold. Object Lock retention is not "
	    "recorded in archive records: check the bucket's default "
	    "retention for each repository on S3.", in->nar);
	table_begin(o, h2, 9);
	for (i = in->nar; i-- > 0;) {
		const struct repo_archive *a = &in->ar[i];

		memset(cls, 0, sizeof(cls));
		snprintf(c[0], CELL, "%s", a->name);
		snprintf(c[1], CELL, "%s", a->id);
		cls[1] = cls[7] = "hex";
		drill_metrics_iso(a->created_us, c[2], CELL);
		util_human(a->data_size + a->manifest_size, c[3], CELL);
		snprintf(c[4], CELL, "%llu", (unsigned long long)a->files);
		util_human(a->bytes, c[5], CELL);
		snprintf(c[6], CELL, "%s", crypto_cipher_name(a->cipher));
		c[7][0] = '\0';
		for (j = 0, w = 0; j < a->nrecip && w >= 0 && w < CELL; j++)
			w += snprintf(c[7] + w, CELL - (size_t)w, "%s%s",
			    j ? ", " : "", a->recip[j].fpr);
		snprintf(c[8], CELL, "%llu",
		    (unsigned long long)a->warnings);
		cls[8] = a->warnings ? "warn" : NULL;
		table_row(o, c, cls, 9);
	}
	table_end(o);
}

static void
integrity(struct out *o, const struct model *m)
{
	static const char *const h[] = { "Archive", "Dataset", "Created",
		"Data object hash", "Latest verification", "Latest drill "
		"validation" };
	const struct report_input *in = m->in;
	const struct drill_verification *v;
	const struct drill_record *r;
	char c[6][CELL], t[32], t2[65];
	const char *cls[6];
	size_t i;

	if (in->nver == 0)
		para(o, "bad", "No verification records were found in the "
		    "repository: no archive has a recorded 'bkp verify' run. "
		    "Drill validations below are the only integrity evidence.");
	else
		para(o, NULL, "%zu verification record%s; %zu archive%s "
		    "never verified; %zu whose latest verification failed.",
		    in->nver, in->nver == 1 ? "" : "s", m->never_verified,
		    m->never_verified == 1 ? "" : "s", m->verify_failed);
	if (in->ver_bad > 0)
		para(o, "bad", "%zu verification record%s could not be read.",
		    in->ver_bad, in->ver_bad == 1 ? "" : "s");
	table_begin(o, h, 6);
	for (i = in->nar; i-- > 0;) {
		const struct repo_archive *a = &in->ar[i];

		memset(cls, 0, sizeof(cls));
		snprintf(c[0], CELL, "%s", a->id);
		snprintf(c[1], CELL, "%s", a->name);
		drill_metrics_iso(a->created_us, c[2], CELL);
		util_hex(a->data_hash, 32, t2);
		snprintf(c[3], CELL, "%s %s", hash_label(a->hash_alg), t2);
		cls[0] = cls[3] = "hex";
		if ((v = latest_verification(in, a->id)) == NULL) {
			snprintf(c[4], CELL, "never verified");
			cls[4] = "warn";
		} else {
			snprintf(c[4], CELL, "%s %s (%s)", v->ok ? "passed" :
			    "FAILED", drill_metrics_iso(v->time_us, t,
			    sizeof(t)), v->kind);
			cls[4] = v->ok ? "ok" : "bad";
		}
		if ((r = latest_drill_of(in, a->id)) == NULL)
			snprintf(c[5], CELL, "never drilled");
		else {
			snprintf(c[5], CELL, "%s %s: %llu files, %llu "
			    "mismatches, restore %s",
			    strcmp(r->validate_status, "ok") == 0 &&
			    r->counts_match ? "passed" : "FAILED",
			    drill_metrics_iso(r->started_us, t, sizeof(t)),
			    (unsigned long long)r->v_files,
			    (unsigned long long)r->v_mismatches,
			    r->restore_status);
			cls[5] = strcmp(r->validate_status, "ok") == 0 &&
			    r->counts_match ? "ok" : "bad";
		}
		table_row(o, c, cls, 6);
	}
	table_end(o);
}

static void
drills(struct out *o, const struct model *m)
{
	static const char *const h[] = { "Started", "Dataset", "Archive",
		"Selection", "RTO achieved / objective",
		"RPO achieved / objective", "Restore", "Validation", "Hooks",
		"Scratch", "Result", "Record" };
	const struct report_input *in = m->in;
	const struct drill_record *r;
	char c[12][CELL], a[32], b[32];
	const char *cls[12];
	size_t i;

	para(o, NULL, "%zu drill%s in the period, %zu failed. RTO achieved "
	    "is the time from the drill's start until the data was restored, "
	    "validated against the manifest and the hooks had run; RPO "
	    "achieved is the larger of the newest archive's age at drill "
	    "time and the largest gap between consecutive archives in the "
	    "window.", m->drills_in_period, m->drills_in_period == 1 ? "" :
	    "s", m->drills_failed);
	if (o->fmt == REPORT_HTML) {
		chart(o, m, 0);
		chart(o, m, 1);
	}
	table_begin(o, h, 12);
	for (i = in->ndr; i-- > 0;) {
		r = &in->dr[i];
		if (!in_period(in, r->started_us))
			continue;
		memset(cls, 0, sizeof(cls));
		drill_metrics_iso(r->started_us, c[0], CELL);
		snprintf(c[1], CELL, "%s", r->dataset);
		snprintf(c[2], CELL, "%.12s", r->archive_id[0] ?
		    r->archive_id : "none");
		snprintf(c[3], CELL, "%s", r->selection);
		snprintf(c[4], CELL, "%s / %s", isfinite(r->rto_achieved) ?
		    drill_metrics_human(r->rto_achieved, a, sizeof(a)) :
		    "not reached", drill_metrics_human(r->rto_target, b,
		    sizeof(b)));
		cls[4] = r->rto_passed ? "ok" : "bad";
		snprintf(c[5], CELL, "%s / %s", drill_metrics_human(
		    r->rpo_achieved, a, sizeof(a)), drill_metrics_human(
		    r->rpo_target, b, sizeof(b)));
		cls[5] = r->rpo_passed ? "ok" : "bad";
		snprintf(c[6], CELL, "%s", r->restore_status);
		cls[6] = strcmp(r->restore_status, "ok") == 0 ? "ok" : "bad";
		snprintf(c[7], CELL, "%s: %llu files, %llu mismatches",
		    r->validate_status, (unsigned long long)r->v_files,
		    (unsigned long long)r->v_mismatches);
		cls[7] = strcmp(r->validate_status, "ok") == 0 &&
		    r->counts_match ? "ok" : "bad";
		hooks_str(r, c[8], CELL);
		{
			size_t k, hp = 0;

			for (k = 0; k < r->nhooks; k++)
				hp += r->hooks[k].passed != 0;
			cls[8] = hp == r->nhooks ? "ok" : "bad";
		}
		snprintf(c[9], CELL, "%s", r->scratch_kept ? "kept (--keep)" :
		    r->scratch_wiped ? "wiped" : "NOT WIPED");
		cls[9] = r->scratch_wiped ? "ok" : r->scratch_kept ? "warn" :
		    "bad";
		snprintf(c[10], CELL, "%s", r->passed ? "PASS" : "FAIL");
		cls[10] = r->passed ? "ok" : "bad";
		snprintf(c[11], CELL, "%s%s", r->key, r->chain_ok ? "" :
		    " (CHAIN BROKEN)");
		cls[11] = r->chain_ok ? NULL : "bad";
		table_row(o, c, cls, 12);
	}
	table_end(o);
}

static void
chain(struct out *o, const struct model *m)
{
	const struct report_input *in = m->in;
	char hex[65];

	if (in->ndr == 0) {
		para(o, "bad", "No drill records in the repository.");
		return;
	}
	util_hex(in->dr[in->ndr - 1].hash, 32, hex);
	para(o, in->chain_breaks == 0 ? "ok" : "bad", "%zu drill record%s, "
	    "each naming the BLAKE2b-256 of the record before it: %s. "
	    "Latest record %s, BLAKE2b-256 %s (note it: any later change to "
	    "the history breaks the chain at or before this record).",
	    in->ndr, in->ndr == 1 ? "" : "s", in->chain_breaks == 0 ?
	    "chain intact" : "CHAIN BROKEN", in->dr[in->ndr - 1].key, hex);
}

static void
hipaa(struct out *o, const struct model *m)
{
	static const char *const h[] = { "Requirement", "What this report "
		"shows", "Section", "Status" };
	char c[4][CELL];
	const char *cls[4] = { NULL, NULL, NULL, NULL };
	size_t i, nbackup = 0, ndrill = 0, nint = 0, naudit = 0;

	for (i = 0; i < m->ngaps; i++) {
		nbackup += strcmp(m->gaps[i].area, "backup") == 0;
		ndrill += strcmp(m->gaps[i].area, "drills") == 0;
		nint += strcmp(m->gaps[i].area, "integrity") == 0;
		naudit += strcmp(m->gaps[i].area, "audit") == 0;
	}
	table_begin(o, h, 4);
#define ROW(req, what, sec, n) do { \
	snprintf(c[0], CELL, "%s", req); \
	snprintf(c[1], CELL, "%s", what); \
	snprintf(c[2], CELL, "%s", sec); \
	if ((n) == 0) snprintf(c[3], CELL, "evidenced, no gaps"); \
	else snprintf(c[3], CELL, "%zu gap%s listed above", (size_t)(n), \
	    (n) == 1 ? "" : "s"); \
	cls[3] = (n) == 0 ? "ok" : "bad"; \
	table_row(o, c, cls, 4); \
} while (0)
	ROW("164.308(a)(7)(ii)(A) Data backup plan", "every dataset has "
	    "retrievable exact copies (encrypted archives) taken within its "
	    "recovery point objective", "Inventory", nbackup);
	ROW("164.308(a)(7)(ii)(B) Disaster recovery plan", "restores into a "
	    "clean environment complete within the recovery time objective",
	    "Drills", ndrill);
	ROW("164.308(a)(7)(ii)(D) Testing and revision procedures", "drills "
	    "are run, recorded and reviewed at least quarterly; failures are "
	    "listed first", "Gaps and failures; Drills", ndrill);
	ROW("164.312(c)(1) Integrity", "restored data matches the hash "
	    "(BLAKE3; BLAKE2b-256 in format 1 archives) of every file in the "
	    "authenticated manifest; archive objects are verified",
	    "Integrity", nint);
	ROW("164.312(b) Audit controls", "every drill leaves a write-once, "
	    "hash-chained record in the repository", "Drill record chain",
	    naudit);
#undef ROW
	table_end(o);
}

static void
render_text(const struct model *m, struct out *o)
{
	const struct report_input *in = m->in;
	char now[32], since[32];

	drill_metrics_iso(in->now_us, now, sizeof(now));
	if (in->since_us > 0)
		drill_metrics_iso(in->since_us, since, sizeof(since));
	else
		snprintf(since, sizeof(since), "the first record");
	if (o->fmt == REPORT_HTML) {
		fprintf(o->f, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
		    "<meta charset=\"utf-8\"><title>bkp disaster-recovery "
		    "report</title><style>%s</style></head><body>\n", css);
		fputs("<h1>Disaster-recovery evidence report</h1>\n", o->f);
	} else
		fputs("# Disaster-recovery evidence report\n\n", o->f);
	para(o, "meta", "Repository %s. Period: %s to %s. Generated by bkp "
	    "%s. %zu dataset%s, %zu archive%s, %zu drill%s in the period "
	    "(%zu failed). This report holds no file names or contents: only "
	    "dataset names, ids, sizes, hashes and timings.",
	    in->repo_id != NULL ? in->repo_id : "?", since, now,
	    in->version != NULL ? in->version : "?", m->nds,
	    m->nds == 1 ? "" : "s", in->nar, in->nar == 1 ? "" : "s",
	    m->drills_in_period, m->drills_in_period == 1 ? "" : "s",
	    m->drills_failed);
	heading(o, 2, "gaps", "1. Gaps and failures");
	list_gaps(o, m);
	heading(o, 2, "inventory", "2. Inventory");
	inventory(o, m);
	heading(o, 2, "integrity", "3. Integrity");
	integrity(o, m);
	heading(o, 2, "drills", "4. Drills");
	drills(o, m);
	heading(o, 2, "chain", "5. Drill record chain");
	chain(o, m);
	heading(o, 2, "hipaa", "6. HIPAA Security Rule mapping");
	hipaa(o, m);
	if (o->fmt == REPORT_HTML)
		fputs("</body></html>\n", o->f);
}

/* ---- JSON ---- */

static json_t *
jsecs(double s)
{
	return isfinite(s) ? json_real(s) : json_null();
}

static json_t *
jtime(int64_t us)
{
	char b[32];

	return json_string(drill_metrics_iso(us, b, sizeof(b)));
}

static int
render_json(const struct model *m, FILE *f)
{
	const struct report_input *in = m->in;
	json_t *o, *a, *x, *y;
	char hex[65], member[HASH_MEMBER_MAX];
	size_t i, j;
	int bad = 0;

#define ADD(obj, k, v) do { if (json_object_set_new(obj, k, v) != 0) \
	bad = 1; } while (0)
#define APP(arr, v) do { if (json_array_append_new(arr, v) != 0) \
	bad = 1; } while (0)
	if ((o = json_object()) == NULL)
		return ERR_FAIL;
	ADD(o, "bkp_report", json_integer(1));
	ADD(o, "repository", json_string(in->repo_id != NULL ? in->repo_id :
	    ""));
	ADD(o, "generated", jtime(in->now_us));
	ADD(o, "since", in->since_us > 0 ? jtime(in->since_us) : json_null());
	ADD(o, "bkp_version", json_string(in->version != NULL ? in->version :
	    ""));
	ADD(o, "gaps", a = json_array());
	for (i = 0; a != NULL && i < m->ngaps; i++)
		APP(a, json_pack("{s:s,s:s}", "area", m->gaps[i].area,
		    "text", m->gaps[i].text));
	ADD(o, "datasets", a = json_array());
	for (i = 0; a != NULL && i < m->nds; i++) {
		const struct ds *d = &m->ds[i];

		APP(a, x = json_object());
		if (x == NULL)
			break;
		ADD(x, "name", json_string(d->name));
		ADD(x, "archives", json_integer((json_int_t)d->narch));
		ADD(x, "newest", d->newest ? jtime(d->newest->created_us) :
		    json_null());
		ADD(x, "newest_age_s", d->has_rpo ?
		    jsecs(d->rpo_now.newest_age) : json_null());
		ADD(x, "max_gap_s", jsecs(d->rpo_now.max_gap));
		ADD(x, "rpo_target_s", jsecs(d->rpo));
		ADD(x, "rto_target_s", jsecs(d->rto));
		ADD(x, "within_rpo", json_boolean(d->within_rpo));
		ADD(x, "drills_in_period", json_integer((json_int_t)
		    d->ndrills));
		ADD(x, "failed_in_period", json_integer((json_int_t)
		    d->nfailed));
		ADD(x, "last_drill", d->last_drill ? json_string(
		    d->last_drill->key) : json_null());
	}
	ADD(o, "archives", a = json_array());
	for (i = 0; a != NULL && i < in->nar; i++) {
		const struct repo_archive *ar = &in->ar[i];
		const struct drill_verification *v =
		    latest_verification(in, ar->id);

		APP(a, x = json_object());
		if (x == NULL)
			break;
		ADD(x, "id", json_string(ar->id));
		ADD(x, "dataset", json_string(ar->name));
		ADD(x, "created", jtime(ar->created_us));
		ADD(x, "data_size", json_integer((json_int_t)ar->data_size));
		ADD(x, "hash", json_string(hash_name(ar->hash_alg)));
		util_hex(ar->data_hash, 32, hex);
		ADD(x, hash_member(member, "data", ar->hash_alg),
		    json_string(hex));
		ADD(x, "manifest_size", json_integer((json_int_t)
		    ar->manifest_size));
		util_hex(ar->manifest_hash, 32, hex);
		ADD(x, hash_member(member, "manifest", ar->hash_alg),
		    json_string(hex));
		ADD(x, "files", json_integer((json_int_t)ar->files));
		ADD(x, "bytes", json_integer((json_int_t)ar->bytes));
		ADD(x, "warnings", json_integer((json_int_t)ar->warnings));
		ADD(x, "cipher", json_string(crypto_cipher_name(ar->cipher)));
		ADD(x, "recipients", y = json_array());
		for (j = 0; y != NULL && j < ar->nrecip; j++)
			APP(y, json_string(ar->recip[j].fpr));
		ADD(x, "object_lock", json_string("not recorded"));
		if (v != NULL)
			ADD(x, "latest_verification", json_pack(
			    "{s:o,s:b,s:s}", "time", jtime(v->time_us), "ok",
			    v->ok, "kind", v->kind));
		else
			ADD(x, "latest_verification", json_null());
	}
	ADD(o, "drills", a = json_array());
	for (i = 0; a != NULL && i < in->ndr; i++) {
		const struct drill_record *r = &in->dr[i];

		if (!in_period(in, r->started_us))
			continue;
		APP(a, x = json_object());
		if (x == NULL)
			break;
		ADD(x, "key", json_string(r->key));
		ADD(x, "started", jtime(r->started_us));
		ADD(x, "dataset", json_string(r->dataset));
		ADD(x, "archive", json_string(r->archive_id));
		ADD(x, "result", json_string(r->passed ? "pass" : "fail"));
		ADD(x, "failures", y = json_array());
		for (j = 0; y != NULL && j < r->nfailures; j++)
			APP(y, json_string(r->failures[j]));
		ADD(x, "rto_achieved_s", jsecs(r->rto_achieved));
		ADD(x, "rto_target_s", jsecs(r->rto_target));
		ADD(x, "rto_passed", json_boolean(r->rto_passed));
		ADD(x, "rpo_achieved_s", jsecs(r->rpo_achieved));
		ADD(x, "rpo_target_s", jsecs(r->rpo_target));
		ADD(x, "rpo_passed", json_boolean(r->rpo_passed));
		ADD(x, "phases", y = json_object());
		if (y != NULL) {
			ADD(y, "fetch_s", jsecs(r->t_fetch));
			ADD(y, "decrypt_s", jsecs(r->t_decrypt));
			ADD(y, "extract_s", jsecs(r->t_extract));
			ADD(y, "restore_wall_s", jsecs(r->t_restore_wall));
			ADD(y, "validate_s", jsecs(r->t_validate));
			ADD(y, "hooks_s", jsecs(r->t_hooks));
		}
		ADD(x, "restore", json_string(r->restore_status));
		ADD(x, "validation", json_string(r->validate_status));
		ADD(x, "files_checked", json_integer((json_int_t)r->v_files));
		ADD(x, "mismatches", json_integer((json_int_t)
		    r->v_mismatches));
		ADD(x, "hooks", y = json_array());
		for (j = 0; y != NULL && j < r->nhooks; j++)
			APP(y, json_pack("{s:I,s:b,s:i,s:b}", "hook",
			    (json_int_t)(j + 1), "passed",
			    r->hooks[j].passed, "exit_code",
			    r->hooks[j].exit_code, "timed_out",
			    r->hooks[j].timed_out));
		ADD(x, "scratch_wiped", json_boolean(r->scratch_wiped));
		ADD(x, "chain_ok", json_boolean(r->chain_ok));
	}
	ADD(o, "chain", x = json_object());
	if (x != NULL) {
		ADD(x, "records", json_integer((json_int_t)in->ndr));
		ADD(x, "unreadable", json_integer((json_int_t)in->dr_bad));
		ADD(x, "breaks", json_integer((json_int_t)in->chain_breaks));
		if (in->ndr > 0) {
			util_hex(in->dr[in->ndr - 1].hash, 32, hex);
			ADD(x, "head_key", json_string(in->dr[in->ndr -
			    1].key));
			ADD(x, "head_blake2b", json_string(hex));
		}
	}
	ADD(o, "verification_records", json_integer((json_int_t)in->nver));
	ADD(o, "never_verified", json_integer((json_int_t)m->never_verified));
#undef ADD
#undef APP
	if (bad || json_dumpf(o, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(12) | JSON_ENSURE_ASCII) != 0) {
		json_decref(o);
		err_set("cannot encode the report as JSON");
		return ERR_FAIL;
	}
	fputc('\n', f);
	json_decref(o);
	return ERR_OK;
}

int
report_render(const struct report_input *in, enum report_format format,
    FILE *f)
{
	struct model m;
	struct out o = { f, format };
	int rc;

	if ((rc = model_build(in, &m)) != ERR_OK)
		return rc;
	if (format == REPORT_JSON)
		rc = render_json(&m, f);
	else
		render_text(&m, &o);
	model_free(&m);
	if (rc == ERR_OK && (fflush(f) != 0 || ferror(f))) {
		err_set("cannot write the report");
		rc = ERR_FAIL;
	}
	return rc;
}
