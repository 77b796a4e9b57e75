/*
 * Fuzz the auditor's report (report_render, report_gap_count) on records
 * read the way bkp report reads them.  The input is a list of objects
 * separated by lines "----", each starting with a tag byte: "a" an archive
 * record (the n-th one's id is n in 32 hex digits), "d" a drill record,
 * "v" a verification record, "c" a drill configuration; others are
 * ignored.  Each format is rendered into memory; the JSON one must parse,
 * and the HTML one must not hold a tag "<fuzz" (which its template never
 * writes): a name from a record that came through unescaped.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "drill_config.h"
#include "drill_record.h"
#include "drill_store.h"
#include "err.h"
#include "fuzz.h"
#include "memstore.h"
#include "repo.h"
#include "report.h"
#include "storage.h"

#define SEP "\n----\n"
#define MAX_ARCHIVES 64
#define NOW_US 1796679600000000LL   /* fixed: the output is deterministic */

/* The repository the seeds' records name. */
#define FUZZ_REPO "72ff5fa76b52b81d1f1f508275563fa3"

static void
render(const struct report_input *in, enum report_format format)
{
	char *text = NULL;
	size_t len = 0;
	json_t *j;
	FILE *f;

	fuzz_check((f = open_memstream(&text, &len)) != NULL,
	    "open_memstream");
	if (report_render(in, format, f) != ERR_OK) {
		fclose(f);
		free(text);
		return;
	}
	fuzz_check(fclose(f) == 0, "fclose");
	if (format == REPORT_JSON) {
		j = json_loadb(text, len, 0, NULL);
		fuzz_check(j != NULL, "the JSON report does not parse");
		json_decref(j);
	}
	if (format == REPORT_HTML)
		fuzz_check(memmem(text, len, "<fuzz", 5) == NULL,
		    "a record's text came into the HTML report unescaped");
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct repo_archive ar[MAX_ARCHIVES];
	struct drill_record *dr = NULL;
	struct drill_verification *ver = NULL;
	struct drill_config cfg;
	struct report_input in;
	struct storage *st;
	const uint8_t *p = data, *end = data + size, *q;
	char key[64], id[REPO_ID_HEX + 1], *text;
	size_t i, nar = 0, nid = 0, nobj = 0;

	memset(&in, 0, sizeof(in));
	fuzz_check(drill_config_init(&cfg) == ERR_OK, "drill_config_init");
	fuzz_check((st = memstore_new()) != NULL, "memstore_new");
	for (; p < end; p = q == end ? end : q + strlen(SEP)) {
		if ((q = memmem(p, (size_t)(end - p), SEP, strlen(SEP))) ==
		    NULL)
			q = end;
		if (q == p)
			continue;
		if (*p == 'a' && nid < MAX_ARCHIVES) {
			snprintf(id, sizeof(id), "%032zx", nid++);
			if (repo_parse_record(p + 1, (size_t)(q - p - 1), id,
			    FUZZ_REPO, &ar[nar]) == ERR_OK)
				nar++;
			else
				in.ar_bad++;
		} else if (*p == 'd' || *p == 'v') {
			snprintf(key, sizeof(key), "%s20260101T00%04zu.000000Z-"
			    "00000000.json", *p == 'd' ? DRILL_STORE_PREFIX :
			    DRILL_STORE_VERIFY_PREFIX, nobj++ % 10000);
			fuzz_check(memstore_put(st, key, p + 1,
			    (size_t)(q - p - 1)) == 0, "memstore_put");
		} else if (*p == 'c') {
			text = fuzz_cstr(p + 1, (size_t)(q - p - 1));
			(void)drill_config_parse(&cfg, text, "fuzz.ini");
			free(text);
		}
	}
	if (nar > 1)
		qsort(ar, nar, sizeof(ar[0]), repo_archive_cmp);
	in.repo_id = "72ff5fa76b52b81d1f1f508275563fa3";
	in.version = "fuzz";
	in.now_us = NOW_US;
	in.cfg = &cfg;
	in.ar = ar;
	in.nar = nar;
	if (drill_store_load(st, &dr, &in.ndr, &in.dr_bad,
	    &in.chain_breaks) == ERR_OK &&
	    drill_store_verifications(st, &ver, &in.nver, &in.ver_bad) ==
	    ERR_OK) {
		in.dr = dr;
		in.ver = ver;
		(void)report_gap_count(&in);
		render(&in, REPORT_HTML);
		render(&in, REPORT_JSON);
		render(&in, REPORT_MD);
	}
	free(ver);
	drill_store_free(dr, in.ndr);
	for (i = 0; i < nar; i++)
		repo_archive_release(&ar[i]);
	drill_config_release(&cfg);
	storage_free(st);
	return 0;
}
