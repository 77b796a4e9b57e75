#ifndef BKP_DRILL_METRICS_H
#define BKP_DRILL_METRICS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Recovery-point arithmetic and UTC time formatting, shared by drills and
 * reports.  Times are microseconds since the epoch (UTC).
 */

#define DRILL_US 1000000LL

struct drill_rpo {
	int64_t newest_us;     /* creation time of the newest archive, or 0 */
	double newest_age;     /* seconds from newest_us to now (>= 0) */
	double max_gap;        /* largest gap between consecutive archives in
	                          the window, seconds; 0 with fewer than two */
	int64_t gap_from_us;   /* the archives bounding max_gap */
	int64_t gap_to_us;
	size_t in_window;      /* archives created inside the window */
	double achieved;       /* max(newest_age, max_gap): the most data a
	                          restore at any moment in the window would
	                          have lost */
};

/*
 * drill_metrics_rpo(created_us, n, now_us, window_s, &out): measure the
 * recovery point for one dataset whose archives were created at
 * created_us[0..n) (any order).  The window is [now - window_s, now]; a
 * gap counts if it ends inside the window (so the gap that straddles the
 * window's start counts too).  Archives created after now are ignored.
 * Returns 0, or -1 if no archive was created at or before now, or if out
 * of memory (out holds zeros and newest_age is +infinity).
 */
int drill_metrics_rpo(const int64_t *created_us, size_t n, int64_t now_us,
    double window_s, struct drill_rpo *out);

/*
 * drill_metrics_iso(us, buf, len): "2026-11-25T18:00:00Z" (len >= 21;
 * truncated otherwise).  Returns buf.
 */
char *drill_metrics_iso(int64_t us, char *buf, size_t len);

/*
 * drill_metrics_parse_time(s, &us): parse "YYYY-MM-DD",
 * "YYYY-MM-DDTHH:MM[:SS[.ffffff]]Z" (the 'T' may be a space; 'Z' or
 * "+00:00" optional) as UTC.  Returns 0, or -1 if s is not such a time.
 */
int drill_metrics_parse_time(const char *s, int64_t *us);

/*
 * drill_metrics_human(secs, buf, len): a short duration such as "0.004s",
 * "12.3s", "4m05s", "3h20m", "2d04h".  Returns buf.
 */
char *drill_metrics_human(double secs, char *buf, size_t len);

#endif
