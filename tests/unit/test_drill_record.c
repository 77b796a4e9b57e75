/* Drill records: JSON round trip, validation of untrusted input. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill_record.h"
#include "err.h"
#include "hash.h"

static void
fixture(struct drill_record *r)
{
	drill_record_init(r);
	cr_assert_eq(drill_record_strset(&r->dataset, "ehr"), ERR_OK);
	cr_assert_eq(drill_record_strset(&r->host, "db1"), ERR_OK);
	cr_assert_eq(drill_record_strset(&r->bkp_version, "0.1.0"), ERR_OK);
	cr_assert_eq(drill_record_strset(&r->selection, "newest"), ERR_OK);
	cr_assert_eq(drill_record_strset(&r->cipher, "aes256gcm"), ERR_OK);
	cr_assert_eq(drill_record_strset(&r->restore_status, "ok"), ERR_OK);
	cr_assert_eq(drill_record_strset(&r->validate_status, "ok"), ERR_OK);
	memcpy(r->repo_id, "0123456789abcdef0123456789abcdef", 33);
	memcpy(r->archive_id, "fedcba9876543210fedcba9876543210", 33);
	r->started_us = 1795608000000000LL;
	r->finished_us = r->started_us + 1500000;
	r->archive_created_us = r->started_us - 3600000000LL;
	r->data_size = 123456;
	r->data_hash[0] = 0xab;
	r->manifest_hash[31] = 0xcd;
	r->archive_files = 12;
	r->archive_bytes = 9999;
	r->rto_target = 14400;
	r->rto_achieved = 1.25;
	r->rto_passed = 1;
	r->rpo_target = 86400;
	r->rpo_newest_age = 3600;
	r->rpo_max_gap = 0;
	r->rpo_achieved = 3600;
	r->rpo_window_days = 30;
	r->rpo_passed = 1;
	r->v_files = 10;
	r->counts_match = 1;
	r->scratch_wiped = 1;
	r->nrecipients = 1;
	r->recipients = calloc(1, sizeof(char *));
	r->recipients[0] = strdup("00112233445566778899aabbccddeeff");
	r->nhooks = 1;
	r->hooks = calloc(1, sizeof(*r->hooks));
	r->hooks[0].command = strdup("pg_ctl start && psql -c 'select 1'");
	r->hooks[0].output = strdup("line 1\n\t\"quoted\" \\ back\n");
	r->hooks[0].passed = 1;
	r->hooks[0].seconds = 0.5;
}

Test(drill_record, round_trip)
{
	struct drill_record a, b;
	char *text;

	fixture(&a);
	cr_assert_eq(drill_record_fail(&a, "hook %d failed (exit %d)", 1, 3),
	    ERR_OK);
	a.has_prev = 1;
	snprintf(a.prev_key, sizeof(a.prev_key), "drills/x.json");
	a.prev_hash[5] = 0x42;
	cr_assert_eq(drill_record_json(&a, &text), ERR_OK);
	cr_expect(strstr(text, "\"bkp_drill\": 2") != NULL);
	cr_expect(strstr(text, "\"hash\": \"blake3\"") != NULL);
	cr_expect(strstr(text, "\"data_blake3\": \"ab") != NULL);
	cr_assert_eq(drill_record_parse(text, strlen(text), &b), ERR_OK,
	    "%s", err_get());
	cr_expect_str_eq(b.dataset, "ehr");
	cr_expect_eq(b.passed, 0);
	cr_assert_eq(b.nfailures, 1);
	cr_expect_str_eq(b.failures[0], "hook 1 failed (exit 3)");
	cr_expect_str_eq(b.archive_id, a.archive_id);
	cr_expect_eq(b.hash_alg, HASH_BLAKE3);
	cr_expect_eq(memcmp(b.data_hash, a.data_hash, 32), 0);
	cr_expect_eq(memcmp(b.manifest_hash, a.manifest_hash, 32), 0);
	cr_expect_eq(b.started_us, a.started_us);
	cr_expect_float_eq(b.rto_achieved, 1.25, 1e-9);
	cr_expect_float_eq(b.rpo_achieved, 3600, 1e-9);
	cr_assert_eq(b.nhooks, 1);
	cr_expect_str_eq(b.hooks[0].command, a.hooks[0].command);
	cr_expect_str_eq(b.hooks[0].output, a.hooks[0].output);
	cr_expect_eq(b.has_prev, 1);
	cr_expect_str_eq(b.prev_key, "drills/x.json");
	cr_expect_eq(b.prev_hash[5], 0x42);
	cr_expect_str_eq(b.recipients[0], a.recipients[0]);
	free(text);
	drill_record_release(&a);
	drill_record_release(&b);
}

Test(drill_record, not_reached_rto_is_null)
{
	struct drill_record a, b;
	char *text;

	fixture(&a);
	a.rto_achieved = INFINITY;
	cr_assert_eq(drill_record_json(&a, &text), ERR_OK);
	cr_expect(strstr(text, "\"achieved_s\": null") != NULL);
	cr_assert_eq(drill_record_parse(text, strlen(text), &b), ERR_OK);
	cr_expect(isinf(b.rto_achieved));
	free(text);
	drill_record_release(&a);
	drill_record_release(&b);
}

/* Replace the first occurrence of from with to in a record's JSON. */
static char *
mutate(const char *text, const char *from, const char *to)
{
	const char *p = strstr(text, from);
	char *out;
	size_t n;

	cr_assert(p != NULL, "fixture lacks %s", from);
	n = strlen(text) - strlen(from) + strlen(to) + 1;
	out = malloc(n);
	snprintf(out, n, "%.*s%s%s", (int)(p - text), text, to,
	    p + strlen(from));
	return out;
}

Test(drill_record, rejects_bad_records)
{
	static const struct {
		const char *from, *to;
	} bad[] = {
		{ "\"bkp_drill\": 2", "\"bkp_drill\": 3" },
		{ "\"bkp_drill\": 2", "\"bkp_drill\": 0" },
		{ "\"bkp_drill\": 2", "\"bkp_drill\": \"2\"" },
		{ "\"hash\": \"blake3\"", "\"hash\": \"md5\"" },
		{ "\"hash\": \"blake3\"", "\"hash\": \"blake2b\"" },
		{ "\"hash\": \"blake3\"", "\"hash\": 3" },
		{ "\"dataset\": \"ehr\"", "\"dataset\": 7" },
		{ "\"dataset\": \"ehr\"", "\"dataset\": \"a\\u0001b\"" },
		{ "\"result\": \"pass\"", "\"result\": \"maybe\"" },
		{ "\"started_us\": ", "\"started_us\": -" },
		{ "\"id\": \"fedcba", "\"id\": \"FEDCBA" },
		{ "\"data_blake3\": \"ab", "\"data_blake3\": \"zz" },
		{ "\"status\": \"ok\"", "\"status\": \"fine\"" },
		{ "\"files\": 12", "\"files\": 1.5" },
		{ "\"files\": 12", "\"files\": -12" },
		{ "\"exit_code\": 0", "\"exit_code\": 999" },
		{ "\"passed\": true", "\"passed\": 1" },
		{ "\"target_s\": 14400", "\"target_s\": -1" },
		{ "\"hooks\": [", "\"hooks\": 5, \"x\": [" },
		{ "\"selection\": \"newest\"", "\"selection\": \"all\"" },
		{ "{", "[" },
		{ "\"dataset\"", "\"dataset\": 1, \"dataset\"" },
	};
	struct drill_record a, b;
	char *text, *m;
	size_t i;

	fixture(&a);
	cr_assert_eq(drill_record_json(&a, &text), ERR_OK);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = mutate(text, bad[i].from, bad[i].to);
		cr_expect_eq(drill_record_parse(m, strlen(m), &b), ERR_CORRUPT,
		    "accepted mutation %zu (%s)", i, bad[i].to);
		drill_record_release(&b);
		free(m);
	}
	/* truncation anywhere must be refused */
	for (i = 0; i < strlen(text) - 1; i += 7) {
		cr_expect_eq(drill_record_parse(text, i, &b), ERR_CORRUPT);
		drill_record_release(&b);
	}
	free(text);
	drill_record_release(&a);
}

/* Version 1 records (before archives named their hash) are BLAKE2b-256. */
Test(drill_record, reads_version_1)
{
	struct drill_record a, b;
	char *text, *m1, *m2, *m3;

	fixture(&a);
	cr_assert_eq(drill_record_json(&a, &text), ERR_OK);
	m1 = mutate(text, "\"bkp_drill\": 2", "\"bkp_drill\": 1");
	m2 = mutate(m1, "\"data_blake3\"", "\"data_blake2b\"");
	m3 = mutate(m2, "\"manifest_blake3\"", "\"manifest_blake2b\"");
	cr_assert_eq(drill_record_parse(m3, strlen(m3), &b), ERR_OK, "%s",
	    err_get());
	cr_expect_eq(b.version, 1);
	cr_expect_eq(b.hash_alg, HASH_BLAKE2B);
	cr_expect_eq(memcmp(b.data_hash, a.data_hash, 32), 0);
	cr_expect_eq(memcmp(b.manifest_hash, a.manifest_hash, 32), 0);
	drill_record_release(&b);
	/* A version 1 record has no BLAKE3 members. */
	cr_expect_eq(drill_record_parse(m1, strlen(m1), &b), ERR_CORRUPT);
	drill_record_release(&b);
	free(m1);
	free(m2);
	free(m3);
	free(text);
	drill_record_release(&a);
}

Test(drill_record, oversized_strings_refused)
{
	struct drill_record a, b;
	char *text, *big;

	fixture(&a);
	big = malloc(DRILL_HOOK_OUTPUT_MAX + 64);
	memset(big, 'x', DRILL_HOOK_OUTPUT_MAX + 10);
	big[DRILL_HOOK_OUTPUT_MAX + 10] = '\0';
	free(a.hooks[0].output);
	a.hooks[0].output = big;
	cr_assert_eq(drill_record_json(&a, &text), ERR_OK);
	cr_expect_eq(drill_record_parse(text, strlen(text), &b), ERR_CORRUPT);
	drill_record_release(&b);
	free(text);
	drill_record_release(&a);
}

Test(drill_record, sanitize_output)
{
	char out[8];
	int trunc;

	drill_record_sanitize("ab\x01\xff\n\tc", 7, out, sizeof(out), &trunc);
	cr_expect_str_eq(out, "ab??\n\tc");
	cr_expect_eq(trunc, 0);
	drill_record_sanitize("0123456789", 10, out, sizeof(out), &trunc);
	cr_expect_str_eq(out, "0123456");
	cr_expect_eq(trunc, 1);
}

Test(drill_record, failures_are_bounded)
{
	struct drill_record a;
	int i;

	drill_record_init(&a);
	for (i = 0; i < DRILL_MAX_FAILURES + 10; i++)
		cr_assert_eq(drill_record_fail(&a, "reason %d", i), ERR_OK);
	cr_expect_eq(a.nfailures, DRILL_MAX_FAILURES);
	cr_expect_eq(a.passed, 0);
	drill_record_release(&a);
}
