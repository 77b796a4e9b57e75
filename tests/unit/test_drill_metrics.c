/* RPO and gap arithmetic, time parsing and formatting. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "drill_metrics.h"

#define H (3600LL * DRILL_US)
#define D (24 * H)

/* now = 2026-11-25T12:00:00Z */
static const int64_t now = 1795608000LL * DRILL_US;

Test(drill_metrics, newest_age_and_gaps)
{
	/* deliberately unordered; a 30h gap between -40h and -10h */
	int64_t c[] = { now - 10 * H, now - 64 * H, now - 40 * H,
		now - 52 * H, now - 2 * H };
	struct drill_rpo r;

	cr_assert_eq(drill_metrics_rpo(c, 5, now, 30 * 86400.0, &r), 0);
	cr_expect_float_eq(r.newest_age, 2 * 3600.0, 1e-6);
	cr_expect_float_eq(r.max_gap, 30 * 3600.0, 1e-6);
	cr_expect_eq(r.gap_from_us, now - 40 * H);
	cr_expect_eq(r.gap_to_us, now - 10 * H);
	cr_expect_float_eq(r.achieved, 30 * 3600.0, 1e-6);
	cr_expect_eq(r.in_window, 5);
}

Test(drill_metrics, window_limits_gaps)
{
	/* a 10-day gap long before the 3-day window does not count; the
	 * gap straddling the window's start does */
	int64_t c[] = { now - 40 * D, now - 30 * D, now - 4 * D,
		now - 2 * D, now - 1 * D };
	struct drill_rpo r;

	cr_assert_eq(drill_metrics_rpo(c, 5, now, 3 * 86400.0, &r), 0);
	cr_expect_float_eq(r.max_gap, 2 * 86400.0, 1e-6);
	cr_expect_eq(r.in_window, 2);
	cr_expect_float_eq(r.newest_age, 86400.0, 1e-6);
	cr_expect_float_eq(r.achieved, 2 * 86400.0, 1e-6);
	cr_assert_eq(drill_metrics_rpo(c, 5, now, 60 * 86400.0, &r), 0);
	cr_expect_float_eq(r.max_gap, 26 * 86400.0, 1e-6);
}

Test(drill_metrics, single_archive_and_duplicates)
{
	int64_t one[] = { now - 5 * H };
	int64_t dup[] = { now - 5 * H, now - 5 * H };
	struct drill_rpo r;

	cr_assert_eq(drill_metrics_rpo(one, 1, now, 86400.0, &r), 0);
	cr_expect_float_eq(r.max_gap, 0.0, 1e-9);
	cr_expect_float_eq(r.achieved, 5 * 3600.0, 1e-6);
	cr_assert_eq(drill_metrics_rpo(dup, 2, now, 86400.0, &r), 0);
	cr_expect_float_eq(r.max_gap, 0.0, 1e-9);
}

Test(drill_metrics, none_or_only_future)
{
	int64_t fut[] = { now + H };
	struct drill_rpo r;

	cr_expect_eq(drill_metrics_rpo(NULL, 0, now, 86400.0, &r), -1);
	cr_expect(isinf(r.newest_age));
	cr_expect_eq(drill_metrics_rpo(fut, 1, now, 86400.0, &r), -1);
}

Test(drill_metrics, parse_and_format_times)
{
	static const struct {
		const char *s;
		int64_t us;
	} ok[] = {
		{ "2026-11-25", 1795564800LL * DRILL_US },
		{ "2026-11-25T12:00:00Z", 1795608000LL * DRILL_US },
		{ "2026-11-25 12:00", 1795608000LL * DRILL_US },
		{ "2026-11-25T12:00:00.25Z", 1795608000LL * DRILL_US + 250000 },
		{ "2026-11-25T12:00:00+00:00", 1795608000LL * DRILL_US },
		{ "1970-01-01", 0 },
	};
	static const char *const bad[] = { "", "2026", "2026-13-01",
		"2026-11-25T25:00", "2026-11-25X", "26-11-25", "yesterday",
		"2026-11-25T12:00:00.Z", "1969-12-31" };
	char buf[32];
	int64_t us;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_expect_eq(drill_metrics_parse_time(ok[i].s, &us), 0, "%s",
		    ok[i].s);
		cr_expect_eq(us, ok[i].us, "%s", ok[i].s);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(drill_metrics_parse_time(bad[i], &us), -1,
		    "accepted '%s'", bad[i]);
	cr_expect_str_eq(drill_metrics_iso(now + 999999, buf, sizeof(buf)),
	    "2026-11-25T12:00:00Z");
}

Test(drill_metrics, human_durations)
{
	static const struct {
		double s;
		const char *want;
	} t[] = {
		{ 0.0042, "0.004s" }, { 12.34, "12.3s" }, { 245, "4m05s" },
		{ 4 * 3600, "4h00m" }, { 3 * 3600 + 20 * 60, "3h20m" },
		{ 2 * 86400 + 4 * 3600, "2d04h" }, { INFINITY, "never" },
	};
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_expect_str_eq(drill_metrics_human(t[i].s, buf, sizeof(buf)),
		    t[i].want);
}
