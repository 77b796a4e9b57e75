#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto.h"
#include "err.h"
#include "hash.h"
#include "keys.h"
#include "objfmt.h"
#include "repo.h"
#include "storage.h"
#include "util.h"

#define MAX_CONFIG (256u << 10)
#define MAX_RECORD (256u << 10)
#define MAX_RECIPIENTS 64
#define MAX_NAME 200

struct repo {
	struct storage *st;
	struct repo_config cfg;
};

int
repo_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > MAX_NAME)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e ||
		    s[i] == '/' || s[i] == ':')
			return 0;
	return 1;
}

void
repo_key_data(const char *id, char *out, size_t outlen)
{
	snprintf(out, outlen, "data/%s", id);
}

void
repo_key_manifest(const char *id, char *out, size_t outlen)
{
	snprintf(out, outlen, "manifests/%s", id);
}

void
repo_key_record(const char *id, char *out, size_t outlen)
{
	snprintf(out, outlen, "archives/%s.json", id);
}

void
repo_key_frames(const char *id, char *out, size_t outlen)
{
	snprintf(out, outlen, "frames/%s", id);
}

static int
is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == '\0';
}

static json_t *
recipient_json(const struct keys_public *k)
{
	char *text = keys_format_public(k, NULL);
	json_t *j;

	if (text == NULL)
		return NULL;
	j = json_loads(text, 0, NULL);
	free(text);
	return j;
}

int
repo_init(const char *url, const struct storage_opts *sopts,
    const struct keys_public *recip, size_t nrecip, int cipher,
    uint32_t chunk_size, struct repo_config *out)
{
	struct storage *st = NULL;
	json_t *cfg = NULL, *arr, *r;
	uint8_t id[16];
	char idhex[REPO_ID_HEX + 1], now[40];
	char *text = NULL;
	uint64_t size;
	size_t i;
	int rc;

	if (nrecip == 0 || nrecip > MAX_RECIPIENTS) {
		err_set("a repository needs 1 to %d recipients",
		    MAX_RECIPIENTS);
		return ERR_USAGE;
	}
	if (chunk_size < OBJ_MIN_CHUNK || chunk_size > OBJ_MAX_CHUNK ||
	    chunk_size % 512 != 0) {
		err_set("chunk size must be a multiple of 512 from %u to %u",
		    OBJ_MIN_CHUNK, OBJ_MAX_CHUNK);
		return ERR_USAGE;
	}
	if ((rc = storage_open(url, sopts, &st)) != ERR_OK)
		return rc;
	rc = storage_stat(st, "config", &size);
	if (rc == ERR_OK) {
		err_set("a repository already exists at '%s'", url);
		rc = ERR_EXISTS;
		goto done;
	}
	if (rc != ERR_NOTFOUND)
		goto done;
	randombytes_buf(id, sizeof(id));
	util_hex(id, sizeof(id), idhex);
	util_iso8601(util_now_us(), now, sizeof(now));
	rc = ERR_FAIL;
	if ((cfg = json_object()) == NULL || (arr = json_array()) == NULL)
		goto nomem;
	json_object_set_new(cfg, "bkp_repository", json_integer(1));
	json_object_set_new(cfg, "id", json_string(idhex));
	json_object_set_new(cfg, "created", json_string(now));
	json_object_set_new(cfg, "cipher",
	    json_string(crypto_cipher_name(cipher)));
	json_object_set_new(cfg, "chunk_size", json_integer(chunk_size));
	json_object_set_new(cfg, "recipients", arr);
	for (i = 0; i < nrecip; i++) {
		if ((r = recipient_json(&recip[i])) == NULL)
			goto nomem;
		json_array_append_new(arr, r);
	}
	if ((text = json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL)
		goto nomem;
	if ((rc = storage_put_bytes(st, "config", text, strlen(text))) !=
	    ERR_OK)
		goto done;
	memset(out, 0, sizeof(*out));
	memcpy(out->id, idhex, sizeof(idhex));
	out->cipher = cipher;
	out->chunk_size = chunk_size;
	crypto_generichash(out->hash, 32, (const uint8_t *)text, strlen(text),
	    NULL, 0);
	rc = ERR_OK;
	goto done;
nomem:
	err_set("out of memory");
done:
	free(text);
	json_decref(cfg);
	storage_free(st);
	return rc;
}

int
repo_parse_config(const uint8_t *buf, size_t len, struct repo_config *c)
{
	json_error_t jerr;
	json_t *j, *v, *arr, *r;
	const char *s;
	char *text;
	size_t i;
	int rc = ERR_CORRUPT;

	memset(c, 0, sizeof(*c));
	if ((j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL) {
		err_set("repository config is not valid JSON");
		return ERR_CORRUPT;
	}
	v = json_object_get(j, "bkp_repository");
	if (!json_is_integer(v) || json_integer_value(v) != 1) {
		err_set("unsupported repository format (bkp_repository is not "
		    "1)");
		goto done;
	}
	v = json_object_get(j, "id");
	if (!json_is_string(v) || strlen(s = json_string_value(v)) !=
	    REPO_ID_HEX || !is_hex(s, REPO_ID_HEX))
		goto bad;
	memcpy(c->id, s, REPO_ID_HEX + 1);
	v = json_object_get(j, "cipher");
	if (!json_is_string(v) ||
	    (c->cipher = crypto_cipher_parse(json_string_value(v))) < 0)
		goto bad;
	v = json_object_get(j, "chunk_size");
	if (!json_is_integer(v) || json_integer_value(v) < OBJ_MIN_CHUNK ||
	    json_integer_value(v) > OBJ_MAX_CHUNK ||
	    json_integer_value(v) % 512 != 0)
		goto bad;
	c->chunk_size = (uint32_t)json_integer_value(v);
	arr = json_object_get(j, "recipients");
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > MAX_RECIPIENTS)
		goto bad;
	c->nrecip = json_array_size(arr);
	if ((c->recip = calloc(c->nrecip, sizeof(*c->recip))) == NULL) {
		err_set("out of memory");
		rc = ERR_FAIL;
		goto done;
	}
	json_array_foreach(arr, i, r) {
		if ((text = json_dumps(r, JSON_COMPACT)) == NULL)
			goto bad;
		rc = keys_parse_public(text, strlen(text), &c->recip[i]);
		free(text);
		if (rc != ERR_OK)
			goto bad;
	}
	crypto_generichash(c->hash, 32, buf, len, NULL, 0);
	rc = ERR_OK;
	goto done;
bad:
	err_set("repository config is malformed");
	rc = ERR_CORRUPT;
done:
	if (rc != ERR_OK) {
		free(c->recip);
		c->recip = NULL;
	}
	json_decref(j);
	return rc;
}

int
repo_open(const char *url, const struct storage_opts *sopts,
    struct repo **out)
{
	struct repo *r;
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	if ((rc = storage_open(url, sopts, &r->st)) != ERR_OK)
		goto fail;
	rc = storage_get(r->st, "config", MAX_CONFIG, &buf, &len);
	if (rc == ERR_NOTFOUND) {
		err_set("no repository at '%s' (create one with bkp init)",
		    url);
		rc = ERR_NOREPO;
		goto fail;
	}
	if (rc != ERR_OK)
		goto fail;
	if ((rc = repo_parse_config(buf, len, &r->cfg)) != ERR_OK) {
		err_prefix("'%s': ", url);
		goto fail;
	}
	free(buf);
	*out = r;
	return ERR_OK;
fail:
	free(buf);
	repo_free(r);
	return rc;
}

void
repo_free(struct repo *r)
{
	if (r == NULL)
		return;
	storage_free(r->st);
	repo_config_release(&r->cfg);
	free(r);
}

void
repo_config_release(struct repo_config *c)
{
	free(c->recip);
	c->recip = NULL;
	c->nrecip = 0;
}

struct storage *
repo_storage(struct repo *r)
{
	return r->st;
}

const struct repo_config *
repo_config(const struct repo *r)
{
	return &r->cfg;
}

static int
get_u64(const json_t *o, const char *k, uint64_t *v)
{
	const json_t *j = json_object_get(o, k);

	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return -1;
	*v = (uint64_t)json_integer_value(j);
	return 0;
}

static int
get_str(const json_t *o, const char *k, size_t max, char **out)
{
	const json_t *j = json_object_get(o, k);
	size_t i, n;
	const char *s;

	if (!json_is_string(j) || (n = json_string_length(j)) > max)
		return -1;
	s = json_string_value(j);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -1;
	return (*out = strdup(s)) == NULL ? -1 : 0;
}

static int
get_obj(const json_t *o, const char *k, const char *wantkey, int hash_alg,
    uint64_t *size, uint8_t hash[32])
{
	const json_t *j = json_object_get(o, k), *v;

	if (!json_is_object(j) || get_u64(j, "size", size) != 0)
		return -1;
	v = json_object_get(j, "key");
	if (!json_is_string(v) || strcmp(json_string_value(v), wantkey) != 0)
		return -1;
	v = json_object_get(j, hash_name(hash_alg));
	if (!json_is_string(v) || util_unhex(json_string_value(v), hash, 32))
		return -1;
	return 0;
}

/* A host name as records hold it: 1..255 printable ASCII characters
 * (0x21-0x7e), as gethostname(2) gives. */
static int
host_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 255)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

static int
id_ok(const char *s)
{
	return s != NULL && strlen(s) == REPO_ID_HEX && is_hex(s, REPO_ID_HEX);
}

/* A version 3 record's chain members: "deps" (distinct ids other than
 * the archive's own, at most REPO_MAX_DEPS), "base" (null for a full,
 * else the archive it was compared with) and "chain" (0 exactly for a
 * full). */
static int
parse_chain(json_t *j, struct repo_archive *a)
{
	json_t *arr, *v;
	size_t i, k;
	uint64_t u;

	arr = json_object_get(j, "deps");
	if (!json_is_array(arr) || json_array_size(arr) > REPO_MAX_DEPS)
		return ERR_CORRUPT;
	if (json_array_size(arr) > 0 && (a->deps = calloc(json_array_size(
	    arr), sizeof(*a->deps))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	json_array_foreach(arr, i, v) {
		if (!id_ok(json_string_value(v)) ||
		    strcmp(json_string_value(v), a->id) == 0)
			return ERR_CORRUPT;
		for (k = 0; k < i; k++)
			if (strcmp(a->deps[k], json_string_value(v)) == 0)
				return ERR_CORRUPT;
		memcpy(a->deps[i], json_string_value(v), REPO_ID_HEX + 1);
		a->ndeps = i + 1;
	}
	v = json_object_get(j, "base");
	if (json_is_null(v))
		a->base[0] = '\0';
	else if (id_ok(json_string_value(v)) &&
	    strcmp(json_string_value(v), a->id) != 0)
		memcpy(a->base, json_string_value(v), REPO_ID_HEX + 1);
	else
		return ERR_CORRUPT;
	if (get_u64(j, "chain", &u) != 0 || u > UINT32_MAX ||
	    (u == 0) != (a->base[0] == '\0'))
		return ERR_CORRUPT;
	a->chain = (uint32_t)u;
	return ERR_OK;
}

int
repo_parse_record(const uint8_t *buf, size_t len, const char *id,
    const char *repo_id, struct repo_archive *a)
{
	json_error_t jerr;
	json_t *j, *v, *arr, *r, *st;
	char key[64];
	uint64_t u;
	size_t i;
	int rc = ERR_CORRUPT;

	memset(a, 0, sizeof(*a));
	if ((j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL)
		goto bad;
	v = json_object_get(j, "bkp_archive");
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > REPO_ARCHIVE_VERSION)
		goto bad;
	a->version = (int)json_integer_value(v);
	/* Version 1 hashed with BLAKE2b-256; version 2 names its hash. */
	a->hash_alg = HASH_BLAKE2B;
	if (a->version >= 2) {
		v = json_object_get(j, "hash");
		if (!json_is_string(v) ||
		    (a->hash_alg = hash_parse(json_string_value(v))) < 0)
			goto bad;
	}
	v = json_object_get(j, "id");
	if (!json_is_string(v) || strcmp(json_string_value(v), id) != 0)
		goto bad;
	memcpy(a->id, id, REPO_ID_HEX + 1);
	if (get_str(j, "name", MAX_NAME, &a->name) != 0 ||
	    !repo_name_ok(a->name) || get_str(j, "host", 255, &a->host) != 0 ||
	    !host_ok(a->host))
		goto bad;
	/* A record copied in from another repository is not one of this
	 * repository's archives. */
	v = json_object_get(j, "repository");
	if (!json_is_string(v) || strcmp(json_string_value(v), repo_id) != 0)
		goto bad;
	v = json_object_get(j, "content");
	if (!json_is_string(v))
		goto bad;
	if (strcmp(json_string_value(v), "tar") == 0)
		a->content = OBJ_CONTENT_TAR;
	else if (strcmp(json_string_value(v), "raw") == 0)
		a->content = OBJ_CONTENT_RAW;
	else
		goto bad;
	v = json_object_get(j, "created_us");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		goto bad;
	a->created_us = json_integer_value(v);
	a->created = a->created_us / 1000000;
	v = json_object_get(j, "cipher");
	if (!json_is_string(v))
		goto bad;
	a->cipher = crypto_cipher_parse(json_string_value(v));
	if (a->cipher != CRYPTO_AES256GCM && a->cipher != CRYPTO_XCHACHA20)
		goto bad;
	if (get_u64(j, "chunk_size", &u) != 0 || u < OBJ_MIN_CHUNK ||
	    u > OBJ_MAX_CHUNK)
		goto bad;
	a->chunk_size = (uint32_t)u;
	if (get_u64(j, "chunks", &a->chunks) != 0 || a->chunks == 0)
		goto bad;
	repo_key_data(id, key, sizeof(key));
	if (get_obj(j, "data", key, a->hash_alg, &a->data_size,
	    a->data_hash) != 0)
		goto bad;
	repo_key_manifest(id, key, sizeof(key));
	if (get_obj(j, "manifest", key, a->hash_alg, &a->manifest_size,
	    a->manifest_hash) != 0)
		goto bad;
	/* Every chunk takes at least 4 + 16 bytes. */
	if (a->data_size < OBJ_HEADER ||
	    a->chunks > (a->data_size - OBJ_HEADER) / 20)
		goto bad;
	st = json_object_get(j, "stats");
	if (!json_is_object(st) || get_u64(st, "files", &a->files) != 0 ||
	    get_u64(st, "bytes", &a->bytes) != 0 ||
	    get_u64(st, "warnings", &a->warnings) != 0)
		goto bad;
	if (a->version >= 3) {
		repo_key_frames(id, key, sizeof(key));
		if (get_obj(j, "frames", key, a->hash_alg, &a->frames_size,
		    a->frames_hash) != 0 || a->frames_size < OBJ_HEADER)
			goto bad;
		if ((rc = parse_chain(j, a)) != ERR_OK)
			goto chain_bad;
	}
	arr = json_object_get(j, "recipients");
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > MAX_RECIPIENTS)
		goto bad;
	a->nrecip = json_array_size(arr);
	if ((a->recip = calloc(a->nrecip, sizeof(*a->recip))) == NULL) {
		err_set("out of memory");
		rc = ERR_FAIL;
		goto done;
	}
	json_array_foreach(arr, i, r) {
		v = json_object_get(r, "fpr");
		if (!json_is_string(v) ||
		    strlen(json_string_value(v)) != KEYS_FPR_HEX ||
		    !is_hex(json_string_value(v), KEYS_FPR_HEX))
			goto bad;
		memcpy(a->recip[i].fpr, json_string_value(v), KEYS_FPR_HEX + 1);
		v = json_object_get(r, "sealed");
		if (!json_is_string(v) || util_unb64(json_string_value(v),
		    a->recip[i].sealed, KEYS_SEALED) != 0)
			goto bad;
	}
	rc = ERR_OK;
	goto done;
chain_bad:
	if (rc != ERR_CORRUPT)
		goto done;
bad:
	err_set("archive record 'archives/%s.json' is malformed", id);
	rc = ERR_CORRUPT;
done:
	if (rc != ERR_OK)
		repo_archive_release(a);
	json_decref(j);
	return rc;
}

void
repo_archive_release(struct repo_archive *a)
{
	free(a->name);
	free(a->host);
	free(a->recip);
	free(a->deps);
	a->name = a->host = NULL;
	a->recip = NULL;
	a->deps = NULL;
	a->ndeps = 0;
}

void
repo_archives_free(struct repo_archive *arr, size_t n)
{
	size_t i;

	for (i = 0; i < n && arr != NULL; i++)
		repo_archive_release(&arr[i]);
	free(arr);
}

struct collect {
	char **ids;
	size_t n, cap;
};

static int
collect_cb(void *arg, const char *key, uint64_t size)
{
	struct collect *c = arg;
	const char *id = key + strlen("archives/");
	char **ids;

	(void)size;
	if (strlen(id) != REPO_ID_HEX + 5 ||
	    strcmp(id + REPO_ID_HEX, ".json") != 0)
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 32;
		if ((ids = realloc(c->ids, c->cap * sizeof(*ids))) == NULL)
			goto nomem;
		c->ids = ids;
	}
	if ((c->ids[c->n] = strndup(id, REPO_ID_HEX)) == NULL)
		goto nomem;
	if (!is_hex(c->ids[c->n], REPO_ID_HEX)) {
		free(c->ids[c->n]);
		return 0;
	}
	c->n++;
	return 0;
nomem:
	err_set("out of memory");
	return ERR_FAIL;
}

int
repo_archive_cmp(const void *x, const void *y)
{
	const struct repo_archive *a = x, *b = y;

	if (a->created_us != b->created_us)
		return a->created_us < b->created_us ? -1 : 1;
	return strcmp(a->id, b->id);
}

/* Read and parse one record. */
static int
load_record(struct repo *r, const char *id, struct repo_archive *a)
{
	char key[64];
	uint8_t *buf;
	size_t len;
	int rc;

	repo_key_record(id, key, sizeof(key));
	if ((rc = storage_get(r->st, key, MAX_RECORD, &buf, &len)) != ERR_OK)
		return rc;
	rc = repo_parse_record(buf, len, id, r->cfg.id, a);
	free(buf);
	return rc;
}

int
repo_list(struct repo *r, const char *name, struct repo_archive **arr,
    size_t *n, size_t *nbad)
{
	struct collect c = { 0 };
	struct repo_archive *out = NULL;
	size_t i, k = 0, bad = 0;
	int rc;

	if ((rc = storage_list(r->st, "archives/", collect_cb, &c)) != ERR_OK)
		goto done;
	if (c.n > 0 && (out = calloc(c.n, sizeof(*out))) == NULL) {
		err_set("out of memory");
		rc = ERR_FAIL;
		goto done;
	}
	for (i = 0; i < c.n; i++) {
		rc = load_record(r, c.ids[i], &out[k]);
		if (rc == ERR_CORRUPT) {
			bad++;
			continue;
		}
		if (rc != ERR_OK)
			goto done;
		if (name != NULL && strcmp(out[k].name, name) != 0) {
			repo_archive_release(&out[k]);
			continue;
		}
		k++;
	}
	if (k > 1)
		qsort(out, k, sizeof(*out), repo_archive_cmp);
	*arr = out;
	*n = k;
	out = NULL;
	if (nbad != NULL)
		*nbad = bad;
	rc = ERR_OK;
done:
	if (out != NULL)
		repo_archives_free(out, k);
	for (i = 0; i < c.n; i++)
		free(c.ids[i]);
	free(c.ids);
	return rc;
}

/* No readable record has an id starting with spec[0..plen): the error of
 * an unreadable one that does (malformed, say), else ERR_NOTFOUND. */
static int
find_unreadable(struct repo *r, const char *spec, size_t plen)
{
	struct collect c = { 0 };
	struct repo_archive a;
	size_t i;
	int rc;

	if ((rc = storage_list(r->st, "archives/", collect_cb, &c)) != ERR_OK)
		goto done;
	rc = ERR_NOTFOUND;
	for (i = 0; i < c.n && rc == ERR_NOTFOUND; i++) {
		if (strncmp(c.ids[i], spec, plen) != 0)
			continue;
		if ((rc = load_record(r, c.ids[i], &a)) == ERR_OK) {
			repo_archive_release(&a);
			rc = ERR_NOTFOUND;
		}
	}
	if (rc == ERR_NOTFOUND)
		err_set("no archive with id '%s'", spec);
done:
	for (i = 0; i < c.n; i++)
		free(c.ids[i]);
	free(c.ids);
	return rc;
}

int
repo_find(struct repo *r, const char *spec, struct repo_archive *a)
{
	struct repo_archive *arr = NULL;
	const char *colon = strrchr(spec, ':');
	char *name = NULL;
	size_t n = 0, i, match = SIZE_MAX, nmatch = 0, plen;
	int rc;

	if (strcmp(spec, "latest") == 0 ||
	    (colon != NULL && strcmp(colon, ":latest") == 0)) {
		if (colon != NULL &&
		    (name = strndup(spec, (size_t)(colon - spec))) == NULL) {
			err_set("out of memory");
			return ERR_FAIL;
		}
		if ((rc = repo_list(r, name, &arr, &n, NULL)) != ERR_OK)
			goto done;
		if (n == 0) {
			err_set(name ? "no archive named '%s'" :
			    "the repository has no archives%s", name ? name :
			    "");
			rc = ERR_NOTFOUND;
			goto done;
		}
		match = n - 1;
	} else {
		plen = strlen(spec);
		if (plen < 4 || plen > REPO_ID_HEX || !is_hex(spec, plen)) {
			err_set("'%s' is not an archive id, id prefix (4+ hex "
			    "digits), NAME:latest or latest", spec);
			rc = ERR_USAGE;
			goto done;
		}
		if ((rc = repo_list(r, NULL, &arr, &n, NULL)) != ERR_OK)
			goto done;
		for (i = 0; i < n; i++)
			if (strncmp(arr[i].id, spec, plen) == 0) {
				match = i;
				nmatch++;
			}
		if (nmatch == 0) {
			rc = find_unreadable(r, spec, plen);
			goto done;
		}
		if (nmatch > 1) {
			err_set("archive id prefix '%s' is ambiguous", spec);
			rc = ERR_USAGE;
			goto done;
		}
	}
	*a = arr[match];
	memset(&arr[match], 0, sizeof(arr[match]));
	rc = ERR_OK;
done:
	repo_archives_free(arr, n);
	free(name);
	return rc;
}

int
repo_unwrap(const struct repo_archive *a, const struct keys_secret *sk,
    uint8_t datakey[KEYS_DATAKEY])
{
	const struct keys_public *pk = keys_secret_public(sk);
	size_t i;

	for (i = 0; i < a->nrecip; i++) {
		if (strcmp(a->recip[i].fpr, pk->fpr) != 0)
			continue;
		if (keys_unseal(sk, a->recip[i].sealed, datakey) == ERR_OK)
			return ERR_OK;
		err_set("archive %s: the data key wrapped for key %s does not "
		    "open (tampered record?)", a->id, pk->fpr);
		return ERR_CORRUPT;
	}
	err_set("key %s cannot open archive %s (not one of its recipients)",
	    pk->fpr, a->id);
	return ERR_KEY;
}
