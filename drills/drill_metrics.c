#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drill_metrics.h"

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int
drill_metrics_rpo(const int64_t *created_us, size_t n, int64_t now_us,
    double window_s, struct drill_rpo *out)
{
	int64_t wstart = now_us - (int64_t)(window_s * DRILL_US);
	int64_t *t;
	size_t i, m = 0;
	double gap;

	memset(out, 0, sizeof(*out));
	out->newest_age = INFINITY;
	if (n == 0 || (t = malloc(n * sizeof(*t))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (created_us[i] <= now_us)
			t[m++] = created_us[i];
	if (m == 0) {
		free(t);
		return -1;
	}
	if (m > 1)
		qsort(t, m, sizeof(*t), cmp_i64);
	out->newest_us = t[m - 1];
	out->newest_age = (double)(now_us - t[m - 1]) / DRILL_US;
	/* A gap counts if the archive that ends it is in the window. */
	for (i = 0; i < m; i++) {
		if (t[i] < wstart)
			continue;
		out->in_window++;
		if (i == 0)
			continue;
		gap = (double)(t[i] - t[i - 1]) / DRILL_US;
		if (gap > out->max_gap) {
			out->max_gap = gap;
			out->gap_from_us = t[i - 1];
			out->gap_to_us = t[i];
		}
	}
	free(t);
	out->achieved = out->newest_age > out->max_gap ? out->newest_age :
	    out->max_gap;
	return 0;
}

char *
drill_metrics_iso(int64_t us, char *buf, size_t len)
{
	time_t t = (time_t)(us >= 0 ? us / DRILL_US : (us - DRILL_US + 1) /
	    DRILL_US);
	struct tm tm;

	if (len == 0)
		return buf;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
	return buf;
}

/* Read exactly n digits; -1 if they are not there. */
static int
digits(const char **p, int n)
{
	int v = 0;

	while (n-- > 0) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	return v;
}

int
drill_metrics_parse_time(const char *s, int64_t *us)
{
	struct tm tm;
	const char *p = s;
	int64_t frac = 0, scale = 100000;
	int y, mo, d, h = 0, mi = 0, sec = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if ((y = digits(&p, 4)) < 0 || *p++ != '-' ||
	    (mo = digits(&p, 2)) < 0 || *p++ != '-' ||
	    (d = digits(&p, 2)) < 0)
		return -1;
	if (*p == 'T' || *p == ' ') {
		p++;
		if ((h = digits(&p, 2)) < 0 || *p++ != ':' ||
		    (mi = digits(&p, 2)) < 0)
			return -1;
		if (*p == ':') {
			p++;
			if ((sec = digits(&p, 2)) < 0)
				return -1;
			if (*p == '.') {
				p++;
				if (!isdigit((unsigned char)*p))
					return -1;
				while (isdigit((unsigned char)*p)) {
					frac += (*p - '0') * scale;
					scale /= 10;
					p++;
				}
			}
		}
		if (*p == 'Z')
			p++;
		else if (strcmp(p, "+00:00") == 0)
			p += 6;
	}
	if (*p != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    h > 23 || mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*us = (int64_t)t * DRILL_US + frac;
	return 0;
}

char *
drill_metrics_human(double secs, char *buf, size_t len)
{
	long long s;

	if (len == 0)
		return buf;
	if (isnan(secs) || isinf(secs))
		snprintf(buf, len, "never");
	else if (secs < 0)
		snprintf(buf, len, "-");
	else if (secs > 0 && secs < 0.001)
		snprintf(buf, len, "%.0fus", secs * 1e6);
	else if (secs < 1)
		snprintf(buf, len, "%.3fs", secs);
	else if (secs < 60)
		snprintf(buf, len, "%.1fs", secs);
	else {
		s = (long long)(secs + 0.5);
		if (s < 3600)
			snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
		else if (s < 86400)
			snprintf(buf, len, "%lldh%02lldm", s / 3600,
			    s % 3600 / 60);
		else
			snprintf(buf, len, "%lldd%02lldh", s / 86400,
			    s % 86400 / 3600);
	}
	return buf;
}
