#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "drill_metrics.h"
#include "drill_record.h"
#include "err.h"
#include "hash.h"
#include "util.h"

#define MAX_STR 4096            /* longest string field accepted */
#define MAX_RECIPIENTS 64

void
drill_record_init(struct drill_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->version = DRILL_RECORD_VERSION;
	rec->hash_alg = HASH_DEFAULT;
	rec->passed = 1;
}

static void
free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
drill_record_release(struct drill_record *rec)
{
	size_t i;

	if (rec == NULL)
		return;
	free(rec->dataset);
	free(rec->host);
	free(rec->bkp_version);
	free(rec->selection);
	free(rec->cipher);
	free_strv(rec->recipients, rec->nrecipients);
	free(rec->restore_status);
	free(rec->validate_status);
	for (i = 0; i < rec->nhooks; i++) {
		free(rec->hooks[i].command);
		free(rec->hooks[i].output);
	}
	free(rec->hooks);
	free_strv(rec->failures, rec->nfailures);
	drill_record_init(rec);
}

int
drill_record_strset(char **field, const char *s)
{
	char *p = NULL;

	if (s != NULL && (p = strdup(s)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	free(*field);
	*field = p;
	return ERR_OK;
}

static int
push_str(char ***v, size_t *n, const char *s)
{
	char **nv;

	if ((nv = realloc(*v, (*n + 1) * sizeof(*nv))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	*v = nv;
	if ((nv[*n] = strdup(s)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	(*n)++;
	return ERR_OK;
}

int
drill_record_fail(struct drill_record *rec, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	rec->passed = 0;
	if (rec->nfailures >= DRILL_MAX_FAILURES)
		return ERR_OK;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return push_str(&rec->failures, &rec->nfailures, buf);
}

void
drill_record_sanitize(const void *in, size_t len, char *out, size_t outlen,
    int *truncated)
{
	const unsigned char *p = in;
	size_t i, n;

	if (outlen == 0)
		return;
	n = len < outlen - 1 ? len : outlen - 1;
	for (i = 0; i < n; i++)
		out[i] = (p[i] >= 0x20 && p[i] < 0x7f) || p[i] == '\n' ||
		    p[i] == '\t' ? (char)p[i] : '?';
	out[n] = '\0';
	*truncated = len > n;
}

/* Build helpers: every json_object_set_new failure is caught at the end by
 * checking the count of failures carried in *bad. */
static void
put(json_t *o, const char *k, json_t *v, int *bad)
{
	if (v == NULL || json_object_set_new(o, k, v) != 0)
		*bad = 1;
}

static json_t *
jstr(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
jhex(const uint8_t *b, size_t n)
{
	char hex[2 * 64 + 1];

	util_hex(b, n, hex);
	return json_string(hex);
}

static json_t *
jtime(int64_t us)
{
	char buf[32];

	return json_string(drill_metrics_iso(us, buf, sizeof(buf)));
}

/* Seconds with microsecond precision; non-finite values become null. */
static json_t *
jsecs(double s)
{
	if (!isfinite(s))
		return json_null();
	return json_real(round(s * 1e6) / 1e6);
}

static json_t *
jstrv(char *const *v, size_t n, int *bad)
{
	json_t *a = json_array();
	size_t i;

	if (a == NULL) {
		*bad = 1;
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) != 0)
			*bad = 1;
	return a;
}

int
drill_record_json(const struct drill_record *rec, char **text)
{
	json_t *o, *a, *x, *h, *hs;
	char member[HASH_MEMBER_MAX];
	int bad = 0;
	size_t i;

	*text = NULL;
	if ((o = json_object()) == NULL)
		goto oom;
	put(o, "bkp_drill", json_integer(DRILL_RECORD_VERSION), &bad);
	put(o, "dataset", jstr(rec->dataset), &bad);
	put(o, "result", json_string(rec->passed ? "pass" : "fail"), &bad);
	put(o, "failures", jstrv(rec->failures, rec->nfailures, &bad), &bad);
	put(o, "started", jtime(rec->started_us), &bad);
	put(o, "started_us", json_integer(rec->started_us), &bad);
	put(o, "finished", jtime(rec->finished_us), &bad);
	put(o, "finished_us", json_integer(rec->finished_us), &bad);
	put(o, "host", jstr(rec->host), &bad);
	put(o, "bkp_version", jstr(rec->bkp_version), &bad);
	put(o, "repository", json_string(rec->repo_id), &bad);
	put(o, "selection", jstr(rec->selection), &bad);

	if ((a = json_object()) == NULL)
		goto oom_o;
	put(a, "id", json_string(rec->archive_id), &bad);
	put(a, "created", jtime(rec->archive_created_us), &bad);
	put(a, "created_us", json_integer(rec->archive_created_us), &bad);
	put(a, "data_size", json_integer((json_int_t)rec->data_size), &bad);
	put(a, "hash", json_string(hash_name(rec->hash_alg)), &bad);
	put(a, hash_member(member, "data", rec->hash_alg),
	    jhex(rec->data_hash, 32), &bad);
	put(a, "manifest_size", json_integer((json_int_t)rec->manifest_size),
	    &bad);
	put(a, hash_member(member, "manifest", rec->hash_alg),
	    jhex(rec->manifest_hash, 32), &bad);
	put(a, "files", json_integer((json_int_t)rec->archive_files), &bad);
	put(a, "bytes", json_integer((json_int_t)rec->archive_bytes), &bad);
	put(a, "cipher", jstr(rec->cipher), &bad);
	put(a, "recipients", jstrv(rec->recipients, rec->nrecipients, &bad),
	    &bad);
	put(o, "archive", a, &bad);

	if ((x = json_object()) == NULL)
		goto oom_o;
	put(x, "target_s", jsecs(rec->rto_target), &bad);
	put(x, "achieved_s", jsecs(rec->rto_achieved), &bad);
	put(x, "passed", json_boolean(rec->rto_passed), &bad);
	put(o, "rto", x, &bad);

	if ((x = json_object()) == NULL)
		goto oom_o;
	put(x, "target_s", jsecs(rec->rpo_target), &bad);
	put(x, "newest_age_s", jsecs(rec->rpo_newest_age), &bad);
	put(x, "max_gap_s", jsecs(rec->rpo_max_gap), &bad);
	put(x, "window_days", json_integer(rec->rpo_window_days), &bad);
	put(x, "achieved_s", jsecs(rec->rpo_achieved), &bad);
	put(x, "passed", json_boolean(rec->rpo_passed), &bad);
	put(o, "rpo", x, &bad);

	if ((x = json_object()) == NULL)
		goto oom_o;
	put(x, "prepare_s", jsecs(rec->t_prepare), &bad);
	put(x, "fetch_s", jsecs(rec->t_fetch), &bad);
	put(x, "decrypt_s", jsecs(rec->t_decrypt), &bad);
	put(x, "extract_s", jsecs(rec->t_extract), &bad);
	put(x, "restore_wall_s", jsecs(rec->t_restore_wall), &bad);
	put(x, "validate_s", jsecs(rec->t_validate), &bad);
	put(x, "hooks_s", jsecs(rec->t_hooks), &bad);
	put(o, "phases", x, &bad);

	if ((x = json_object()) == NULL)
		goto oom_o;
	put(x, "status", jstr(rec->restore_status), &bad);
	put(x, "files", json_integer((json_int_t)rec->r_files), &bad);
	put(x, "bytes", json_integer((json_int_t)rec->r_bytes), &bad);
	put(x, "fetched", json_integer((json_int_t)rec->r_fetched), &bad);
	put(x, "chunks", json_integer((json_int_t)rec->r_chunks), &bad);
	put(x, "skipped", json_integer((json_int_t)rec->r_skipped), &bad);
	put(x, "mismatches", json_integer((json_int_t)rec->r_mismatches),
	    &bad);
	put(o, "restore", x, &bad);

	if ((x = json_object()) == NULL)
		goto oom_o;
	put(x, "status", jstr(rec->validate_status), &bad);
	put(x, "files", json_integer((json_int_t)rec->v_files), &bad);
	put(x, "bytes", json_integer((json_int_t)rec->v_bytes), &bad);
	put(x, "mismatches", json_integer((json_int_t)rec->v_mismatches),
	    &bad);
	put(x, "counts_match", json_boolean(rec->counts_match), &bad);
	put(o, "validation", x, &bad);

	if ((hs = json_array()) == NULL)
		goto oom_o;
	for (i = 0; i < rec->nhooks; i++) {
		const struct drill_hook_result *r = &rec->hooks[i];

		if ((h = json_object()) == NULL) {
			json_decref(hs);
			goto oom_o;
		}
		put(h, "command", jstr(r->command), &bad);
		put(h, "passed", json_boolean(r->passed), &bad);
		put(h, "exit_code", json_integer(r->exit_code), &bad);
		put(h, "signal", json_integer(r->signal), &bad);
		put(h, "timed_out", json_boolean(r->timed_out), &bad);
		put(h, "seconds", jsecs(r->seconds), &bad);
		put(h, "output", jstr(r->output != NULL ? r->output : ""),
		    &bad);
		put(h, "output_truncated", json_boolean(r->truncated), &bad);
		if (json_array_append_new(hs, h) != 0)
			bad = 1;
	}
	put(o, "hooks", hs, &bad);

	if ((x = json_object()) == NULL)
		goto oom_o;
	put(x, "needed_bytes", json_integer((json_int_t)rec->scratch_needed),
	    &bad);
	put(x, "free_bytes", json_integer((json_int_t)rec->scratch_free),
	    &bad);
	put(x, "wiped", json_boolean(rec->scratch_wiped), &bad);
	put(x, "kept", json_boolean(rec->scratch_kept), &bad);
	put(x, "stale_wiped", json_integer((json_int_t)rec->stale_wiped),
	    &bad);
	put(o, "scratch", x, &bad);

	if ((x = json_object()) == NULL)
		goto oom_o;
	if (rec->has_prev) {
		put(x, "key", json_string(rec->prev_key), &bad);
		put(x, "blake2b", jhex(rec->prev_hash, 32), &bad);
	} else {
		put(x, "key", json_null(), &bad);
		put(x, "blake2b", json_null(), &bad);
	}
	put(o, "prev", x, &bad);

	if (bad)
		goto oom_o;
	if ((*text = json_dumps(o, JSON_INDENT(2) |
	    JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12))) ==
	    NULL)
		goto oom_o;
	json_decref(o);
	return ERR_OK;

oom_o:
	json_decref(o);
oom:
	err_set("cannot encode drill record (out of memory or bad text)");
	return ERR_FAIL;
}

/* ---- parsing: every field is checked before use ---- */

struct px {
	const char *what;      /* field being read, for the message */
	int bad;
};

static json_t *
field(json_t *o, const char *k, struct px *x)
{
	json_t *v = json_is_object(o) ? json_object_get(o, k) : NULL;

	if (v == NULL && !x->bad) {
		err_set("drill record: missing field '%s'", k);
		x->bad = 1;
	}
	return v;
}

static void
badf(struct px *x, const char *k)
{
	if (!x->bad)
		err_set("drill record: bad field '%s'", k);
	x->bad = 1;
}

static int64_t
get_int(json_t *o, const char *k, int64_t lo, int64_t hi, struct px *x)
{
	json_t *v = field(o, k, x);
	json_int_t n;

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || (n = json_integer_value(v)) < lo ||
	    n > hi) {
		badf(x, k);
		return 0;
	}
	return n;
}

static uint64_t
get_u64(json_t *o, const char *k, struct px *x)
{
	return (uint64_t)get_int(o, k, 0, INT64_MAX, x);
}

static double
get_secs(json_t *o, const char *k, struct px *x)
{
	json_t *v = field(o, k, x);
	double d;

	if (v == NULL)
		return 0;
	if (json_is_null(v))
		return INFINITY;
	if (!json_is_number(v) || !((d = json_number_value(v)) >= 0) ||
	    d > 1e12) {
		badf(x, k);
		return 0;
	}
	return d;
}

static int
get_bool(json_t *o, const char *k, struct px *x)
{
	json_t *v = field(o, k, x);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		badf(x, k);
		return 0;
	}
	return json_is_true(v);
}

/* A string of at most max bytes without control characters (newlines and
 * tabs allowed if multiline), or NULL if null is allowed and given. */
static char *
get_str(json_t *o, const char *k, size_t max, int nullok, int multiline,
    struct px *x)
{
	json_t *v = field(o, k, x);
	const char *s;
	size_t n, i;
	char *p;

	if (v == NULL)
		return NULL;
	if (json_is_null(v) && nullok)
		return NULL;
	if (!json_is_string(v) || (n = json_string_length(v)) > max) {
		badf(x, k);
		return NULL;
	}
	s = json_string_value(v);
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == 0 || ch == 0x7f || (ch < 0x20 && !(multiline &&
		    (ch == '\n' || ch == '\t')))) {
			badf(x, k);
			return NULL;
		}
	}
	if ((p = strdup(s)) == NULL) {
		err_set("out of memory");
		x->bad = 1;
	}
	return p;
}

static void
get_hexid(json_t *o, const char *k, char *out, size_t hexlen, struct px *x)
{
	json_t *v = field(o, k, x);
	const char *s;
	size_t i;

	out[0] = '\0';
	if (v == NULL)
		return;
	/* An empty archive id: the dataset had no archive to drill. */
	if (json_is_string(v) && json_string_length(v) == 0 &&
	    strcmp(k, "id") == 0)
		return;
	if (!json_is_string(v) || json_string_length(v) != hexlen) {
		badf(x, k);
		return;
	}
	s = json_string_value(v);
	for (i = 0; i < hexlen; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f'))) {
			badf(x, k);
			return;
		}
	memcpy(out, s, hexlen + 1);
}

static void
get_hash(json_t *o, const char *k, uint8_t out[32], struct px *x)
{
	char hex[65];

	get_hexid(o, k, hex, 64, x);
	if (!x->bad && util_unhex(hex, out, 32) != 0)
		badf(x, k);
}

/* The archive's hash: named from version 2 on, BLAKE2b-256 before. */
static void
get_hash_alg(json_t *o, int version, int *alg, struct px *x)
{
	const json_t *v = json_object_get(o, "hash");

	*alg = HASH_BLAKE2B;
	if (version < 2)
		return;
	if (!json_is_string(v) || (*alg = hash_parse(json_string_value(v))) <
	    0) {
		*alg = HASH_BLAKE2B;
		badf(x, "hash");
	}
}

static void
get_strv(json_t *o, const char *k, size_t maxn, size_t maxlen,
    char ***v, size_t *n, struct px *x)
{
	json_t *a = field(o, k, x), *e;
	size_t i;

	if (a == NULL)
		return;
	if (!json_is_array(a) || json_array_size(a) > maxn) {
		badf(x, k);
		return;
	}
	json_array_foreach(a, i, e) {
		if (!json_is_string(e) || json_string_length(e) > maxlen ||
		    strlen(json_string_value(e)) != json_string_length(e)) {
			badf(x, k);
			return;
		}
		if (push_str(v, n, json_string_value(e)) != ERR_OK) {
			x->bad = 1;
			return;
		}
	}
}

/* One of the words in set (NULL-terminated), or bad. */
static char *
get_word(json_t *o, const char *k, const char *const *set, struct px *x)
{
	char *s = get_str(o, k, 32, 0, 0, x);
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; set[i] != NULL; i++)
		if (strcmp(s, set[i]) == 0)
			return s;
	free(s);
	badf(x, k);
	return NULL;
}

static json_t *
sub(json_t *o, const char *k, struct px *x)
{
	json_t *v = field(o, k, x);

	if (v != NULL && !json_is_object(v)) {
		badf(x, k);
		return NULL;
	}
	return v;
}

int
drill_record_parse(const void *buf, size_t len, struct drill_record *rec)
{
	static const char *const restore_words[] = { "ok", "corrupt", "key",
		"failed", "not-run", NULL };
	static const char *const validate_words[] = { "ok", "mismatch",
		"failed", "not-run", NULL };
	static const char *const result_words[] = { "pass", "fail", NULL };
	static const char *const sel_words[] = { "newest", "random", "id",
		NULL };
	struct px x = { NULL, 0 };
	json_error_t jerr;
	json_t *o, *a, *v, *hs, *h;
	char *result, member[HASH_MEMBER_MAX];
	size_t i;

	drill_record_init(rec);
	if (len > DRILL_RECORD_MAX) {
		err_set("drill record: too large");
		return ERR_CORRUPT;
	}
	if ((o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		err_set("drill record: not JSON (line %d)", jerr.line);
		return ERR_CORRUPT;
	}
	if (!json_is_object(o)) {
		err_set("drill record: not a JSON object");
		goto corrupt;
	}
	rec->version = (int)get_int(o, "bkp_drill", 0, INT32_MAX, &x);
	if ((rec->version < 1 || rec->version > DRILL_RECORD_VERSION) &&
	    !x.bad) {
		err_set("drill record: unsupported schema version");
		goto corrupt;
	}
	rec->dataset = get_str(o, "dataset", 256, 0, 0, &x);
	result = get_word(o, "result", result_words, &x);
	rec->passed = result != NULL && strcmp(result, "pass") == 0;
	free(result);
	get_strv(o, "failures", DRILL_MAX_FAILURES, 255, &rec->failures,
	    &rec->nfailures, &x);
	rec->started_us = get_int(o, "started_us", 0, INT64_MAX / 2, &x);
	rec->finished_us = get_int(o, "finished_us", 0, INT64_MAX / 2, &x);
	rec->host = get_str(o, "host", 256, 1, 0, &x);
	rec->bkp_version = get_str(o, "bkp_version", 64, 1, 0, &x);
	get_hexid(o, "repository", rec->repo_id, DRILL_ID_HEX, &x);
	rec->selection = get_word(o, "selection", sel_words, &x);

	if ((a = sub(o, "archive", &x)) != NULL) {
		get_hexid(a, "id", rec->archive_id, DRILL_ID_HEX, &x);
		rec->archive_created_us = get_int(a, "created_us", 0,
		    INT64_MAX / 2, &x);
		rec->data_size = get_u64(a, "data_size", &x);
		get_hash_alg(a, rec->version, &rec->hash_alg, &x);
		get_hash(a, hash_member(member, "data", rec->hash_alg),
		    rec->data_hash, &x);
		rec->manifest_size = get_u64(a, "manifest_size", &x);
		get_hash(a, hash_member(member, "manifest", rec->hash_alg),
		    rec->manifest_hash, &x);
		rec->archive_files = get_u64(a, "files", &x);
		rec->archive_bytes = get_u64(a, "bytes", &x);
		rec->cipher = get_str(a, "cipher", 32, 1, 0, &x);
		get_strv(a, "recipients", MAX_RECIPIENTS, 64,
		    &rec->recipients, &rec->nrecipients, &x);
	}
	if ((v = sub(o, "rto", &x)) != NULL) {
		rec->rto_target = get_secs(v, "target_s", &x);
		rec->rto_achieved = get_secs(v, "achieved_s", &x);
		rec->rto_passed = get_bool(v, "passed", &x);
	}
	if ((v = sub(o, "rpo", &x)) != NULL) {
		rec->rpo_target = get_secs(v, "target_s", &x);
		rec->rpo_newest_age = get_secs(v, "newest_age_s", &x);
		rec->rpo_max_gap = get_secs(v, "max_gap_s", &x);
		rec->rpo_window_days = (int)get_int(v, "window_days", 0,
		    36500, &x);
		rec->rpo_achieved = get_secs(v, "achieved_s", &x);
		rec->rpo_passed = get_bool(v, "passed", &x);
	}
	if ((v = sub(o, "phases", &x)) != NULL) {
		rec->t_prepare = get_secs(v, "prepare_s", &x);
		rec->t_fetch = get_secs(v, "fetch_s", &x);
		rec->t_decrypt = get_secs(v, "decrypt_s", &x);
		rec->t_extract = get_secs(v, "extract_s", &x);
		rec->t_restore_wall = get_secs(v, "restore_wall_s", &x);
		rec->t_validate = get_secs(v, "validate_s", &x);
		rec->t_hooks = get_secs(v, "hooks_s", &x);
	}
	if ((v = sub(o, "restore", &x)) != NULL) {
		rec->restore_status = get_word(v, "status", restore_words, &x);
		rec->r_files = get_u64(v, "files", &x);
		rec->r_bytes = get_u64(v, "bytes", &x);
		rec->r_fetched = get_u64(v, "fetched", &x);
		rec->r_chunks = get_u64(v, "chunks", &x);
		rec->r_skipped = get_u64(v, "skipped", &x);
		rec->r_mismatches = get_u64(v, "mismatches", &x);
	}
	if ((v = sub(o, "validation", &x)) != NULL) {
		rec->validate_status = get_word(v, "status", validate_words,
		    &x);
		rec->v_files = get_u64(v, "files", &x);
		rec->v_bytes = get_u64(v, "bytes", &x);
		rec->v_mismatches = get_u64(v, "mismatches", &x);
		rec->counts_match = get_bool(v, "counts_match", &x);
	}
	hs = field(o, "hooks", &x);
	if (hs != NULL && (!json_is_array(hs) ||
	    json_array_size(hs) > 2 * 32)) {
		badf(&x, "hooks");
		hs = NULL;
	}
	if (hs != NULL && json_array_size(hs) > 0 && !x.bad) {
		rec->hooks = calloc(json_array_size(hs), sizeof(*rec->hooks));
		if (rec->hooks == NULL) {
			err_set("out of memory");
			x.bad = 1;
		}
	}
	if (hs != NULL && rec->hooks != NULL)
		json_array_foreach(hs, i, h) {
			struct drill_hook_result *r = &rec->hooks[i];

			if (!json_is_object(h)) {
				badf(&x, "hooks");
				break;
			}
			rec->nhooks = i + 1;
			r->command = get_str(h, "command", MAX_STR, 0, 0, &x);
			r->passed = get_bool(h, "passed", &x);
			r->exit_code = (int)get_int(h, "exit_code", -1, 255,
			    &x);
			r->signal = (int)get_int(h, "signal", 0, 128, &x);
			r->timed_out = get_bool(h, "timed_out", &x);
			r->seconds = get_secs(h, "seconds", &x);
			r->output = get_str(h, "output",
			    DRILL_HOOK_OUTPUT_MAX, 0, 1, &x);
			r->truncated = get_bool(h, "output_truncated", &x);
		}
	if ((v = sub(o, "scratch", &x)) != NULL) {
		rec->scratch_needed = get_u64(v, "needed_bytes", &x);
		rec->scratch_free = get_u64(v, "free_bytes", &x);
		rec->scratch_wiped = get_bool(v, "wiped", &x);
		rec->scratch_kept = get_bool(v, "kept", &x);
		rec->stale_wiped = get_u64(v, "stale_wiped", &x);
	}
	if ((v = sub(o, "prev", &x)) != NULL) {
		h = field(v, "key", &x);
		if (h != NULL && !json_is_null(h)) {
			char *k = get_str(v, "key", sizeof(rec->prev_key) - 1,
			    0, 0, &x);

			if (k != NULL) {
				memcpy(rec->prev_key, k, strlen(k) + 1);
				free(k);
			}
			get_hash(v, "blake2b", rec->prev_hash, &x);
			rec->has_prev = 1;
		}
	}
	if (x.bad)
		goto corrupt;
	if (rec->dataset == NULL || rec->selection == NULL ||
	    rec->restore_status == NULL || rec->validate_status == NULL) {
		err_set("drill record: missing fields");
		goto corrupt;
	}
	json_decref(o);
	return ERR_OK;

corrupt:
	json_decref(o);
	return ERR_CORRUPT;
}
