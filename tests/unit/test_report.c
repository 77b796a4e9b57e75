/* Report rendering from fixture records: content, gaps, escaping, no PHI. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "drill_config.h"
#include "drill_metrics.h"
#include "drill_record.h"
#include "drill_store.h"
#include "err.h"
#include "repo.h"
#include "report.h"

#define H (3600LL * DRILL_US)
#define NOW (1795608000LL * DRILL_US)
#define EVIL "<script>alert(1)</script>&\"'|*_"

static struct repo_archive ar[4];
static struct repo_recipient rc1 = { "00112233445566778899aabbccddeeff", { 0 } };
static struct drill_record dr[3];
static struct drill_verification ver[1];
static struct drill_config cfg;
static struct report_input in;

static void
archive(struct repo_archive *a, const char *id, const char *name,
    int64_t created)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->name = (char *)(uintptr_t)name;
	a->created_us = created;
	a->created = created / DRILL_US;
	a->cipher = CRYPTO_XCHACHA20;
	a->data_size = 5 << 20;
	a->manifest_size = 900;
	a->files = 40;
	a->bytes = 6 << 20;
	a->data_hash[0] = 0x5a;
	a->nrecip = 1;
	a->recip = &rc1;
}

static void
drill(struct drill_record *r, const char *dataset, const char *id,
    int64_t started, int passed)
{
	drill_record_init(r);
	drill_record_strset(&r->dataset, dataset);
	drill_record_strset(&r->selection, "newest");
	drill_record_strset(&r->restore_status, passed ? "ok" : "corrupt");
	drill_record_strset(&r->validate_status, passed ? "ok" : "not-run");
	snprintf(r->archive_id, sizeof(r->archive_id), "%s", id);
	snprintf(r->key, sizeof(r->key), "drills/%lld.json",
	    (long long)started);
	r->started_us = started;
	r->finished_us = started + 2 * DRILL_US;
	r->rto_target = 4 * 3600;
	r->rpo_target = 24 * 3600;
	r->rto_achieved = passed ? 42.5 : INFINITY;
	r->rto_passed = passed;
	r->rpo_achieved = 3 * 3600;
	r->rpo_passed = 1;
	r->v_files = passed ? 40 : 0;
	r->counts_match = passed;
	r->scratch_wiped = 1;
	r->chain_ok = 1;
	r->passed = passed;
	if (!passed)
		drill_record_fail(r, "restore failed: archive is damaged");
	r->nhooks = 1;
	r->hooks = calloc(1, sizeof(*r->hooks));
	r->hooks[0].command = strdup("psql -c 'select count(*)'");
	r->hooks[0].output = strdup("PATIENT-NAME-MUST-NOT-APPEAR");
	r->hooks[0].passed = passed;
	r->hooks[0].exit_code = passed ? 0 : 2;
}

static void
setup(void)
{
	cr_assert_eq(drill_config_init(&cfg), ERR_OK);
	/* ehr: fine; pacs: stale newest archive, never drilled;
	 * EVIL: a hostile dataset name from a record */
	archive(&ar[0], "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "ehr", NOW - 30 * H);
	archive(&ar[1], "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "ehr", NOW - 3 * H);
	archive(&ar[2], "cccccccccccccccccccccccccccccccc", "pacs", NOW - 50 * H);
	archive(&ar[3], "dddddddddddddddddddddddddddddddd", EVIL, NOW - 1 * H);
	ar[3].warnings = 2;
	drill(&dr[0], "ehr", ar[0].id, NOW - 20 * H, 0);
	drill(&dr[1], "ehr", ar[1].id, NOW - 2 * H, 1);
	drill(&dr[2], EVIL, ar[3].id, NOW - 1 * H, 1);
	dr[2].chain_ok = 0;
	snprintf(ver[0].archive_id, sizeof(ver[0].archive_id), "%s", ar[1].id);
	ver[0].time_us = NOW - H;
	ver[0].ok = 1;
	snprintf(ver[0].kind, sizeof(ver[0].kind), "keyless");
	memset(&in, 0, sizeof(in));
	in.repo_id = "0123456789abcdef0123456789abcdef";
	in.version = "0.1.0";
	in.now_us = NOW;
	in.cfg = &cfg;
	in.ar = ar;
	in.nar = 4;
	in.dr = dr;
	in.ndr = 3;
	in.chain_breaks = 1;
	in.ver = ver;
	in.nver = 1;
}

static void
teardown(void)
{
	size_t i;

	for (i = 0; i < 3; i++)
		drill_record_release(&dr[i]);
	drill_config_release(&cfg);
}

TestSuite(report, .init = setup, .fini = teardown);

static char *
render(enum report_format f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	cr_assert(m != NULL);
	cr_assert_eq(report_render(&in, f, m), ERR_OK, "%s", err_get());
	fclose(m);
	return buf;
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

Test(report, html_sections_gaps_first_and_chart)
{
	char *h = render(REPORT_HTML);
	const char *gaps = strstr(h, "id=\"gaps\""), *inv =
	    strstr(h, "id=\"inventory\"");

	cr_assert(gaps != NULL && inv != NULL && gaps < inv,
	    "gaps must come before the inventory");
	cr_expect(strncmp(h, "<!DOCTYPE html>", 15) == 0);
	cr_expect(strstr(h, "</html>") != NULL);
	/* listed gaps */
	cr_expect(strstr(h, "dataset &#39;pacs&#39; has never been drilled") !=
	    NULL);
	cr_expect(strstr(h, "dataset &#39;pacs&#39;: newest archive is 2d02h "
	    "old, beyond the RPO target of 1d00h") != NULL);
	cr_expect(strstr(h, "drill record chain broken at") != NULL);
	cr_expect(strstr(h, "failed: restore failed: archive is damaged") !=
	    NULL);
	cr_expect(strstr(h, "3 of 4 archives have no verification record") !=
	    NULL);
	cr_expect(strstr(h, "2 source files were skipped") != NULL);
	/* ehr's 27h gap between archives exceeds the 24h RPO */
	cr_expect(strstr(h, "dataset &#39;ehr&#39;: 1d03h between archives") !=
	    NULL);
	/* two SVG charts with objective lines, a failed point, a cross */
	cr_expect_eq(count(h, "<svg "), 2);
	cr_expect(count(h, "class=\"objective\"") >= 2);
	cr_expect(strstr(h, "class=\"fail\"") != NULL);
	cr_expect(strstr(h, "class=\"pass\"") != NULL);
	/* HIPAA mapping */
	cr_expect(strstr(h, "164.308(a)(7)(ii)(A)") != NULL);
	cr_expect(strstr(h, "164.308(a)(7)(ii)(B)") != NULL);
	cr_expect(strstr(h, "164.308(a)(7)(ii)(D)") != NULL);
	cr_expect(strstr(h, "164.312(c)") != NULL);
	cr_expect(strstr(h, "164.312(b)") != NULL);
	/* inventory facts */
	cr_expect(strstr(h, "xchacha20poly1305") != NULL);
	cr_expect(strstr(h, rc1.fpr) != NULL);
	cr_expect(strstr(h, "passed 2026-11-25T11:00:00Z (keyless)") != NULL);
	cr_expect(strstr(h, "never verified") != NULL);
	cr_expect(strstr(h, "<td class=\"bad\">never</td>") != NULL,
	    "undrilled dataset not marked in the inventory");
	cr_expect(strstr(h, "2026-11-25T10:00:00Z PASS") != NULL,
	    "last drill of ehr not in the inventory");
	/* self-contained: no external references */
	cr_expect(strstr(h, "src=") == NULL);
	cr_expect(strstr(h, "href=") == NULL);
	cr_expect(strstr(h, "@import") == NULL);
	cr_expect(strstr(h, "url(") == NULL);
	free(h);
}

Test(report, everything_from_records_is_escaped)
{
	char *h = render(REPORT_HTML), *m = render(REPORT_MD);

	cr_expect(strstr(h, "<script>") == NULL, "raw markup in HTML");
	cr_expect(strstr(h, "&lt;script&gt;alert(1)&lt;/script&gt;&amp;"
	    "&quot;&#39;") != NULL);
	cr_expect(strstr(m, "<script>") == NULL, "raw markup in Markdown");
	cr_expect(strstr(m, "&lt;script&gt;") != NULL);
	cr_expect(strstr(m, "\\|\\*\\_") != NULL, "table syntax not escaped");
	free(h);
	free(m);
}

Test(report, no_hook_output_in_any_format)
{
	enum report_format f[] = { REPORT_HTML, REPORT_MD, REPORT_JSON };
	size_t i;

	for (i = 0; i < 3; i++) {
		char *t = render(f[i]);

		cr_expect(strstr(t, "PATIENT-NAME") == NULL, "format %zu", i);
		free(t);
	}
}

Test(report, json_is_valid_and_complete)
{
	char *t = render(REPORT_JSON);
	json_error_t e;
	json_t *o = json_loads(t, 0, &e), *d;

	cr_assert(o != NULL, "invalid JSON: %s", e.text);
	cr_expect_eq(json_integer_value(json_object_get(o, "bkp_report")), 1);
	cr_expect_eq(json_array_size(json_object_get(o, "datasets")), 3);
	cr_expect_eq(json_array_size(json_object_get(o, "archives")), 4);
	cr_expect_eq(json_array_size(json_object_get(o, "drills")), 3);
	cr_expect(json_array_size(json_object_get(o, "gaps")) >= 6);
	d = json_array_get(json_object_get(o, "drills"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(d, "result")),
	    "fail");
	cr_expect(json_is_null(json_object_get(d, "rto_achieved_s")));
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(o,
	    "chain"), "breaks")), 1);
	json_decref(o);
	free(t);
}

Test(report, since_limits_drills)
{
	char *t;
	json_t *o;

	in.since_us = NOW - 5 * H;
	t = render(REPORT_JSON);
	o = json_loads(t, 0, NULL);
	cr_assert(o != NULL);
	cr_expect_eq(json_array_size(json_object_get(o, "drills")), 2);
	json_decref(o);
	free(t);
}

Test(report, clean_repository_has_no_gaps)
{
	char *h;

	/* one dataset, fresh, drilled, verified, chain intact */
	in.nar = 1;
	ar[0] = ar[1];
	in.ndr = 1;
	dr[0].passed = 1;
	dr[0].chain_ok = 1;
	dr[0].rto_passed = 1;
	dr[0].rto_achieved = 10;
	snprintf(dr[0].archive_id, sizeof(dr[0].archive_id), "%s", ar[0].id);
	drill_record_strset(&dr[0].restore_status, "ok");
	drill_record_strset(&dr[0].validate_status, "ok");
	dr[0].counts_match = 1;
	in.chain_breaks = 0;
	cr_expect_eq(report_gap_count(&in), 0);
	h = render(REPORT_HTML);
	cr_expect(strstr(h, "No gaps or failures") != NULL);
	cr_expect(strstr(h, "chain intact") != NULL);
	free(h);
}

Test(report, empty_repository)
{
	char *h;

	in.nar = 0;
	in.ndr = 0;
	in.nver = 0;
	in.chain_breaks = 0;
	h = render(REPORT_HTML);
	cr_expect(strstr(h, "no drills in the period") != NULL);
	cr_expect(strstr(h, "No drill records in the repository") != NULL);
	free(h);
}

Test(report, format_names)
{
	cr_expect_eq(report_format_parse("html"), REPORT_HTML);
	cr_expect_eq(report_format_parse("json"), REPORT_JSON);
	cr_expect_eq(report_format_parse("md"), REPORT_MD);
	cr_expect_eq(report_format_parse("pdf"), -1);
}
