#ifndef BKP_REPORT_H
#define BKP_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * The auditor's report: gaps and failures first, then inventory,
 * integrity, drill history (with an inline SVG chart of RTO and RPO
 * against the objectives), the drill-record chain, and a mapping to the
 * HIPAA Security Rule.  Rendered from records only: dataset names, ids,
 * sizes, hashes and timings, never file names or contents (hook output
 * and hook commands are left out).  Every string taken from a record is
 * escaped for the output format.  Contents: docs/DRILLS.md.
 */

struct repo_archive;
struct drill_config;
struct drill_record;
struct drill_verification;

enum report_format { REPORT_HTML = 0, REPORT_JSON = 1, REPORT_MD = 2 };

struct report_input {
	const char *repo_id;
	const char *version;            /* bkp version, for the footer */
	int64_t now_us;                 /* report time */
	int64_t since_us;               /* period start (0: everything) */
	const struct drill_config *cfg; /* targets per dataset */
	const struct repo_archive *ar;  /* every archive, oldest first */
	size_t nar, ar_bad;
	const struct drill_record *dr;  /* every drill record, in order */
	size_t ndr, dr_bad, chain_breaks;
	const struct drill_verification *ver;
	size_t nver, ver_bad;
};

/* report_format_parse(s): REPORT_* for "html", "json", "md"; -1 else. */
int report_format_parse(const char *s);

/*
 * report_render(in, format, out): write the report.  Returns ERR_OK, or
 * ERR_FAIL if out of memory or writing failed.
 */
int report_render(const struct report_input *in, enum report_format format,
    FILE *out);

/*
 * report_gap_count(in): how many gaps and failures the report lists first
 * (0 means nothing needs attention); -1 if out of memory.
 */
long report_gap_count(const struct report_input *in);

#endif
