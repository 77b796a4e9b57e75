#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "drill_metrics.h"
#include "drill_record.h"
#include "drill_store.h"
#include "err.h"
#include "storage.h"
#include "util.h"

#define VERIFY_MAX (64 * 1024)
#define MAX_KEY 127

/* Keys under a prefix, in order. */
struct keylist {
	char **k;
	size_t n, cap;
	const char *suffix;
};

static int
collect(void *arg, const char *key, uint64_t size)
{
	struct keylist *l = arg;
	size_t len = strlen(key), sl = strlen(l->suffix);
	char **nk;

	(void)size;
	if (len > MAX_KEY || len < sl || strcmp(key + len - sl, l->suffix) != 0)
		return 0;
	if (l->n >= DRILL_STORE_MAX_RECORDS) {
		err_set("too many records under '%s'", DRILL_STORE_PREFIX);
		return ERR_FAIL;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		if ((nk = realloc(l->k, l->cap * sizeof(*nk))) == NULL) {
			err_set("out of memory");
			return ERR_FAIL;
		}
		l->k = nk;
	}
	if ((l->k[l->n] = strdup(key)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	l->n++;
	return 0;
}

static void
keylist_free(struct keylist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->k[i]);
	free(l->k);
}

static int
cmpkey(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
list_keys(struct storage *st, const char *prefix, const char *suffix,
    struct keylist *l)
{
	int rc;

	memset(l, 0, sizeof(*l));
	l->suffix = suffix;
	if ((rc = storage_list(st, prefix, collect, l)) != ERR_OK) {
		keylist_free(l);
		memset(l, 0, sizeof(*l));
		return rc;
	}
	/* Backends list in order; sort anyway, the chain depends on it. */
	if (l->n > 1)
		qsort(l->k, l->n, sizeof(*l->k), cmpkey);
	return ERR_OK;
}

int
drill_store_put(struct storage *st, struct drill_record *rec)
{
	struct keylist l;
	char *text = NULL, stamp[32], rnd[9];
	uint8_t *buf = NULL, r[4];
	size_t len;
	int64_t t = rec->started_us;
	time_t secs = (time_t)(t / DRILL_US);
	struct tm tm;
	int rc, tries;

	if (sodium_init() < 0) {
		err_set("cannot initialise libsodium");
		return ERR_FAIL;
	}
	if ((rc = list_keys(st, DRILL_STORE_PREFIX, ".json", &l)) != ERR_OK) {
		err_prefix("listing drill records: ");
		return rc;
	}
	rec->has_prev = 0;
	rec->prev_key[0] = '\0';
	if (l.n > 0) {
		const char *last = l.k[l.n - 1];

		rc = storage_get(st, last, DRILL_RECORD_MAX, &buf, &len);
		if (rc != ERR_OK) {
			err_prefix("reading previous drill record '%s': ",
			    last);
			keylist_free(&l);
			return rc;
		}
		crypto_generichash(rec->prev_hash, 32, buf, len, NULL, 0);
		memcpy(rec->prev_key, last, strlen(last) + 1);
		rec->has_prev = 1;
		free(buf);
	}
	keylist_free(&l);

	if (gmtime_r(&secs, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm) == 0) {
		err_set("bad drill time");
		return ERR_FAIL;
	}
	for (tries = 0; tries < 3; tries++) {
		randombytes_buf(r, sizeof(r));
		util_hex(r, sizeof(r), rnd);
		snprintf(rec->key, sizeof(rec->key), "%s%s.%06lldZ-%s.json",
		    DRILL_STORE_PREFIX, stamp, (long long)(t % DRILL_US), rnd);
		free(text);
		if ((rc = drill_record_json(rec, &text)) != ERR_OK)
			return rc;
		rc = storage_put_bytes(st, rec->key, text, strlen(text));
		if (rc != ERR_EXISTS)
			break;
	}
	free(text);
	if (rc != ERR_OK)
		err_prefix("storing drill record '%s': ", rec->key);
	return rc;
}

void
drill_store_free(struct drill_record *recs, size_t n)
{
	size_t i;

	if (recs == NULL)
		return;
	for (i = 0; i < n; i++)
		drill_record_release(&recs[i]);
	free(recs);
}

int
drill_store_load(struct storage *st, struct drill_record **recs,
    size_t *n, size_t *nbad, size_t *chain_breaks)
{
	struct drill_record *out = NULL;
	struct keylist l;
	uint8_t prev_hash[32], hash[32], *buf;
	const char *prev_key = NULL;
	size_t i, len, k = 0;
	int rc;

	*recs = NULL;
	*n = *nbad = *chain_breaks = 0;
	if ((rc = list_keys(st, DRILL_STORE_PREFIX, ".json", &l)) != ERR_OK) {
		err_prefix("listing drill records: ");
		return rc;
	}
	if (l.n > 0 && (out = calloc(l.n, sizeof(*out))) == NULL) {
		keylist_free(&l);
		err_set("out of memory");
		return ERR_FAIL;
	}
	for (i = 0; i < l.n; i++) {
		struct drill_record *rec = &out[k];

		rc = storage_get(st, l.k[i], DRILL_RECORD_MAX, &buf, &len);
		if (rc == ERR_NOTFOUND || rc == ERR_CORRUPT) {
			/* Vanished or oversized: its successor cannot
			 * match, which the chain reports. */
			(*nbad)++;
			prev_key = NULL;
			continue;
		}
		if (rc != ERR_OK) {
			err_prefix("reading drill record '%s': ", l.k[i]);
			goto fail;
		}
		crypto_generichash(hash, 32, buf, len, NULL, 0);
		rc = drill_record_parse(buf, len, rec);
		free(buf);
		if (rc == ERR_FAIL)
			goto fail;
		if (rc != ERR_OK) {
			drill_record_release(rec);
			(*nbad)++;
		} else {
			memcpy(rec->key, l.k[i], strlen(l.k[i]) + 1);
			memcpy(rec->hash, hash, 32);
			if (prev_key == NULL && i == 0)
				rec->chain_ok = !rec->has_prev;
			else
				rec->chain_ok = rec->has_prev &&
				    prev_key != NULL &&
				    strcmp(rec->prev_key, prev_key) == 0 &&
				    sodium_memcmp(rec->prev_hash, prev_hash,
				    32) == 0;
			if (!rec->chain_ok)
				(*chain_breaks)++;
			k++;
		}
		memcpy(prev_hash, hash, 32);
		prev_key = l.k[i];
	}
	/* prev_key points into l: compare before freeing, done above. */
	keylist_free(&l);
	*recs = out;
	*n = k;
	return ERR_OK;

fail:
	keylist_free(&l);
	drill_store_free(out, k);
	return rc;
}

/* Read a time in microseconds from field us or ISO field iso. */
static int
vtime(json_t *o, const char *us, const char *iso, int64_t *t)
{
	json_t *v;

	if ((v = json_object_get(o, us)) != NULL && json_is_integer(v) &&
	    json_integer_value(v) >= 0) {
		*t = json_integer_value(v);
		return 0;
	}
	if ((v = json_object_get(o, iso)) != NULL && json_is_string(v) &&
	    json_string_length(v) < 64)
		return drill_metrics_parse_time(json_string_value(v), t);
	return -1;
}

static int
parse_verification(const uint8_t *buf, size_t len,
    struct drill_verification *v)
{
	json_t *o, *id, *res, *kind;
	const char *s;
	int rc = -1;
	size_t i;

	memset(v, 0, sizeof(*v));
	if ((o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES,
	    NULL)) == NULL)
		return -1;
	if (!json_is_object(o))
		goto out;
	if ((id = json_object_get(o, "archive")) == NULL)
		id = json_object_get(o, "archive_id");
	if (json_is_object(id))
		id = json_object_get(id, "id");
	if (!json_is_string(id) || json_string_length(id) != 32)
		goto out;
	s = json_string_value(id);
	for (i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			goto out;
	memcpy(v->archive_id, s, 33);
	if (vtime(o, "finished_us", "finished", &v->time_us) != 0 &&
	    vtime(o, "time_us", "time", &v->time_us) != 0 &&
	    vtime(o, "started_us", "started", &v->time_us) != 0)
		goto out;
	res = json_object_get(o, "result");
	if (json_is_string(res)) {
		s = json_string_value(res);
		if (strcmp(s, "ok") == 0 || strcmp(s, "pass") == 0 ||
		    strcmp(s, "passed") == 0)
			v->ok = 1;
		else if (strcmp(s, "fail") == 0 || strcmp(s, "failed") == 0 ||
		    strcmp(s, "corrupt") == 0 || strcmp(s, "missing") == 0 ||
		    strcmp(s, "error") == 0)
			v->ok = 0;
		else
			goto out;
	} else if (json_is_boolean(res = json_object_get(o, "ok")))
		v->ok = json_is_true(res);
	else
		goto out;
	kind = json_object_get(o, "mode");
	if (kind == NULL)
		kind = json_object_get(o, "kind");
	snprintf(v->kind, sizeof(v->kind), "%s",
	    json_is_string(kind) && (strcmp(json_string_value(kind),
	    "keyless") == 0 || strcmp(json_string_value(kind), "full") == 0) ?
	    json_string_value(kind) : "unknown");
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int
drill_store_verifications(struct storage *st,
    struct drill_verification **v, size_t *n, size_t *nbad)
{
	struct drill_verification *out = NULL;
	struct keylist l;
	uint8_t *buf;
	size_t i, len, k = 0;
	int rc;

	*v = NULL;
	*n = *nbad = 0;
	if ((rc = list_keys(st, DRILL_STORE_VERIFY_PREFIX, ".json", &l)) !=
	    ERR_OK) {
		err_prefix("listing verification records: ");
		return rc;
	}
	if (l.n > 0 && (out = calloc(l.n, sizeof(*out))) == NULL) {
		keylist_free(&l);
		err_set("out of memory");
		return ERR_FAIL;
	}
	for (i = 0; i < l.n; i++) {
		rc = storage_get(st, l.k[i], VERIFY_MAX, &buf, &len);
		if (rc == ERR_NOTFOUND || rc == ERR_CORRUPT) {
			(*nbad)++;
			continue;
		}
		if (rc != ERR_OK) {
			err_prefix("reading verification record '%s': ",
			    l.k[i]);
			keylist_free(&l);
			free(out);
			return rc;
		}
		if (parse_verification(buf, len, &out[k]) == 0)
			k++;
		else
			(*nbad)++;
		free(buf);
	}
	keylist_free(&l);
	*v = out;
	*n = k;
	return ERR_OK;
}
