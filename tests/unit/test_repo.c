/*
 * Unit tests for core/repo.c: init and open, malformed configs, archive
 * records written by hand from docs/FORMAT.md §5 (listing order, skipped
 * malformed records, every id/name resolution rule), unwrapping data keys,
 * and one record made by a real backup_run.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>

#include "backup.h"
#include "crypto.h"
#include "err.h"
#include "hash.h"
#include "keys.h"
#include "repo.h"
#include "storage.h"
#include "support.h"
#include "util.h"

#define PW "repo test passphrase"

static const char *tmpdir;
static char root[128];

static void
setup(void)
{
	cr_assert_eq(crypto_init(), 0);
	tmpdir = support_tmpdir("repo");
	snprintf(root, sizeof(root), "%s/repo", tmpdir);
	setenv("BKP_STATE_DIR", tmpdir, 1);
}

static void
teardown(void)
{
	support_cleanup();
}

TestSuite(repo, .init = setup, .fini = teardown);

/* A public key made directly (no Argon2): fine for configs. */
static void
fake_public(struct keys_public *pub)
{
	uint8_t xs[32], es[64];

	crypto_box_keypair(pub->x25519, xs);
	crypto_sign_keypair(pub->ed25519, es);
	keys_fingerprint(pub->x25519, pub->ed25519, pub->fpr);
}

static void
init_repo(struct repo_config *cfg)
{
	struct keys_public pub;

	fake_public(&pub);
	cr_assert_eq(repo_init(root, NULL, &pub, 1, CRYPTO_XCHACHA20, 4096,
	    cfg), ERR_OK, "%s", err_get());
}

static struct repo *
open_repo(void)
{
	struct repo *r = NULL;

	cr_assert_eq(repo_open(root, NULL, &r), ERR_OK, "%s", err_get());
	return r;
}

static void
put(const char *key, const char *text)
{
	struct storage *st;

	cr_assert_eq(storage_open(root, NULL, &st), ERR_OK);
	cr_assert_eq(storage_put_bytes(st, key, text, strlen(text)), ERR_OK,
	    "put %s: %s", key, err_get());
	storage_free(st);
}

/* SCRATCH/src holding a.txt, and options that back it up as "docs" at
 * level 1 (paths[0] points to src, which must outlive o). */
static void
docs_source(struct backup_opts *o, char **paths, char *src, size_t srclen)
{
	cr_assert_eq(mkdir(support_path("src"), 0700), 0);
	support_write_file(support_path("src/a.txt"), "hello backup\n", 13);
	memset(o, 0, sizeof(*o));
	snprintf(src, srclen, "%s", support_path("src"));
	paths[0] = src;
	o->name = "docs";
	o->paths = paths;
	o->npaths = 1;
	o->level = 1;
}

Test(repo, init_then_open)
{
	struct keys_public pub[3];
	struct repo_config cfg;
	const struct repo_config *c;
	struct repo *r;
	uint8_t *buf, h[32];
	size_t len, i;

	for (i = 0; i < 3; i++)
		fake_public(&pub[i]);
	cr_assert_eq(repo_init(root, NULL, pub, 3, CRYPTO_AUTO, 8192, &cfg),
	    ERR_OK, "%s", err_get());
	cr_expect_eq(strlen(cfg.id), REPO_ID_HEX);
	cr_expect_eq(cfg.chunk_size, 8192);
	cr_expect_eq(cfg.cipher, CRYPTO_AUTO);
	r = open_repo();
	c = repo_config(r);
	cr_expect_str_eq(c->id, cfg.id);
	cr_expect_eq(c->cipher, CRYPTO_AUTO);
	cr_expect_eq(c->chunk_size, 8192);
	cr_assert_eq(c->nrecip, 3);
	for (i = 0; i < 3; i++) {
		cr_expect_str_eq(c->recip[i].fpr, pub[i].fpr);
		cr_expect_arr_eq(c->recip[i].x25519, pub[i].x25519, 32);
		cr_expect_arr_eq(c->recip[i].ed25519, pub[i].ed25519, 32);
	}
	/* the config hash is BLAKE2b-256 of the stored bytes */
	cr_expect_arr_eq(c->hash, cfg.hash, 32);
	cr_assert_eq(storage_get(repo_storage(r), "config", 1 << 20, &buf,
	    &len), ERR_OK);
	crypto_generichash(h, 32, buf, len, NULL, 0);
	cr_expect_arr_eq(h, cfg.hash, 32);
	{
		json_t *j = json_loadb((const char *)buf, len, 0, NULL);

		cr_assert_not_null(j);
		cr_expect_eq(json_integer_value(json_object_get(j,
		    "bkp_repository")), 1);
		cr_expect_str_eq(json_string_value(json_object_get(j, "id")),
		    cfg.id);
		cr_expect_str_eq(json_string_value(json_object_get(j,
		    "cipher")), "auto");
		cr_expect_eq(json_integer_value(json_object_get(j,
		    "chunk_size")), 8192);
		cr_expect_eq(json_array_size(json_object_get(j,
		    "recipients")), 3);
		json_decref(j);
	}
	free(buf);
	repo_free(r);
	repo_free(NULL);
}

Test(repo, init_twice_and_bad_arguments)
{
	struct keys_public pub;
	struct repo_config cfg, cfg2;
	static const uint32_t bad_cs[] = { 0, 512, 4095, 4097, 4096 + 256,
	    (64u << 20) + 512, 1u << 30 };
	size_t i;

	fake_public(&pub);
	for (i = 0; i < sizeof(bad_cs) / sizeof(bad_cs[0]); i++)
		cr_expect_eq(repo_init(root, NULL, &pub, 1, CRYPTO_XCHACHA20,
		    bad_cs[i], &cfg), ERR_USAGE, "chunk_size %u", bad_cs[i]);
	cr_expect_eq(repo_init(root, NULL, &pub, 0, CRYPTO_XCHACHA20, 4096,
	    &cfg), ERR_USAGE, "no recipients");
	cr_assert_eq(repo_init(root, NULL, &pub, 1, CRYPTO_XCHACHA20,
	    64u << 20, &cfg), ERR_OK);
	cr_expect_eq(repo_init(root, NULL, &pub, 1, CRYPTO_XCHACHA20, 4096,
	    &cfg2), ERR_EXISTS);
	/* the first config is intact */
	{
		struct repo *r = open_repo();

		cr_expect_str_eq(repo_config(r)->id, cfg.id);
		cr_expect_eq(repo_config(r)->chunk_size, 64u << 20);
		repo_free(r);
	}
}

Test(repo, open_without_repository)
{
	struct repo *r = NULL;

	cr_expect_eq(repo_open(root, NULL, &r), ERR_NOREPO);
	cr_assert_eq(mkdir(root, 0700), 0);
	cr_expect_eq(repo_open(root, NULL, &r), ERR_NOREPO);
	cr_assert_eq(mkdir(support_path("repo/data"), 0700), 0);
	cr_expect_eq(repo_open(root, NULL, &r), ERR_NOREPO);
	cr_expect_null(r);
}

/* A config built from raw JSON pieces. */
struct cfgcase {
	const char *version, *id, *cipher, *chunk_size, *recipients, *extra;
	int rc;
	const char *what;
};

/* Re-dump JSON text compactly (one line); frees text. */
static char *
compact(char *text)
{
	json_t *j;
	char *out;

	cr_assert_not_null(text);
	j = json_loads(text, 0, NULL);
	cr_assert_not_null(j);
	out = json_dumps(j, JSON_COMPACT);
	cr_assert_not_null(out);
	json_decref(j);
	free(text);
	return out;
}

#define GOOD_ID "\"0123456789abcdef0123456789abcdef\""

Test(repo, config_variants)
{
	struct keys_public pub, pub2;
	char *r1, *r2, recips[4096], dup[4096], *text;
	struct repo *r;
	size_t i;

	fake_public(&pub);
	fake_public(&pub2);
	r1 = compact(keys_format_public(&pub, NULL));
	r2 = compact(keys_format_public(&pub2, "second"));
	snprintf(recips, sizeof(recips), "[%s, %s]", r1, r2);
	/* a recipient object with a duplicate member */
	cr_assert_eq(r1[strlen(r1) - 1], '}');
	snprintf(dup, sizeof(dup), "[%.*s, \"fpr\": \"%s\"}]",
	    (int)strlen(r1) - 1, r1, pub2.fpr);
	{
		const struct cfgcase v[] = {
			{ "1", GOOD_ID, "\"xchacha20poly1305\"", "4096", recips,
			    "", ERR_OK, "valid" },
			{ "1", GOOD_ID, "\"auto\"", "67108864", recips,
			    ", \"future\": {\"x\": 1}", ERR_OK,
			    "unknown member ignored" },
			{ "1", GOOD_ID, "\"aes256gcm\"", "1048576", recips, "",
			    ERR_OK, "aes" },
			{ "2", GOOD_ID, "\"auto\"", "4096", recips, "",
			    ERR_CORRUPT, "version 2" },
			{ "0", GOOD_ID, "\"auto\"", "4096", recips, "",
			    ERR_CORRUPT, "version 0" },
			{ "\"1\"", GOOD_ID, "\"auto\"", "4096", recips, "",
			    ERR_CORRUPT, "version as string" },
			{ "1.0", GOOD_ID, "\"auto\"", "4096", recips, "",
			    ERR_CORRUPT, "version as real" },
			{ "1", "\"0123\"", "\"auto\"", "4096", recips, "",
			    ERR_CORRUPT, "short id" },
			{ "1", "\"0123456789ABCDEF0123456789ABCDEF\"", "\"auto\"",
			    "4096", recips, "", ERR_CORRUPT, "uppercase id" },
			{ "1", "\"0123456789abcdef0123456789abcdeg\"", "\"auto\"",
			    "4096", recips, "", ERR_CORRUPT, "non-hex id" },
			{ "1", "5", "\"auto\"", "4096", recips, "", ERR_CORRUPT,
			    "id not a string" },
			{ "1", GOOD_ID, "\"des\"", "4096", recips, "",
			    ERR_CORRUPT, "unknown cipher" },
			{ "1", GOOD_ID, "2", "4096", recips, "", ERR_CORRUPT,
			    "cipher as number" },
			{ "1", GOOD_ID, "\"auto\"", "4095", recips, "",
			    ERR_CORRUPT, "chunk_size 4095" },
			{ "1", GOOD_ID, "\"auto\"", "4608", recips, "", ERR_OK,
			    "chunk_size 4608" },
			{ "1", GOOD_ID, "\"auto\"", "4097", recips, "",
			    ERR_CORRUPT, "chunk_size not a multiple of 512" },
			{ "1", GOOD_ID, "\"auto\"", "67109376", recips, "",
			    ERR_CORRUPT, "chunk_size over 64 MiB" },
			{ "1", GOOD_ID, "\"auto\"", "-4096", recips, "",
			    ERR_CORRUPT, "chunk_size negative" },
			{ "1", GOOD_ID, "\"auto\"", "\"4096\"", recips, "",
			    ERR_CORRUPT, "chunk_size as string" },
			{ "1", GOOD_ID, "\"auto\"", "4096", "[]", "",
			    ERR_CORRUPT, "no recipients" },
			{ "1", GOOD_ID, "\"auto\"", "4096", "{}", "",
			    ERR_CORRUPT, "recipients not an array" },
			{ "1", GOOD_ID, "\"auto\"", "4096", "[{}]", "",
			    ERR_CORRUPT, "empty recipient" },
			{ "1", GOOD_ID, "\"auto\"", "4096", "[5]", "",
			    ERR_CORRUPT, "recipient not an object" },
			{ "1", GOOD_ID, "\"auto\"", "4096", dup, "",
			    ERR_CORRUPT, "duplicate member in a recipient" },
			{ "1", GOOD_ID, "\"auto\"", "4096", recips,
			    ", \"chunk_size\": 8192", ERR_CORRUPT,
			    "duplicate chunk_size" },
			{ "1", GOOD_ID, "\"auto\"", "4096", recips,
			    ", \"id\": " GOOD_ID, ERR_CORRUPT,
			    "duplicate id, same value" },
			{ "1", GOOD_ID, "\"auto\"", "4096", recips,
			    ", \"recipients\": []", ERR_CORRUPT,
			    "duplicate recipients" },
		};

		for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
			teardown();
			setup();
			cr_assert_eq(asprintf(&text, "{\"bkp_repository\": %s, "
			    "\"id\": %s, \"created\": "
			    "\"2026-11-25T18:00:00.000000Z\", \"cipher\": %s, "
			    "\"chunk_size\": %s, \"recipients\": %s%s}\n",
			    v[i].version, v[i].id, v[i].cipher,
			    v[i].chunk_size, v[i].recipients, v[i].extra) > 0,
			    1);
			put("config", text);
			free(text);
			r = NULL;
			cr_expect_eq(repo_open(root, NULL, &r), v[i].rc,
			    "%s: %s", v[i].what, err_get());
			if (r != NULL && v[i].rc == ERR_OK)
				cr_expect_eq(repo_config(r)->nrecip,
				    v[i].recipients == recips ? 2 : 1);
			repo_free(r);
		}
	}
	/* 65 recipients */
	{
		size_t cap = 65 * (strlen(r1) + 2) + 8, off = 0;
		char *many = malloc(cap);

		many[off++] = '[';
		for (i = 0; i < 65; i++)
			off += (size_t)snprintf(many + off, cap - off, "%s%s",
			    i ? "," : "", r1);
		snprintf(many + off, cap - off, "]");
		teardown();
		setup();
		cr_assert(asprintf(&text, "{\"bkp_repository\": 1, \"id\": "
		    GOOD_ID ", \"cipher\": \"auto\", \"chunk_size\": 4096, "
		    "\"recipients\": %s}", many) > 0);
		put("config", text);
		free(text);
		free(many);
		r = NULL;
		cr_expect_eq(repo_open(root, NULL, &r), ERR_CORRUPT,
		    "65 recipients");
		repo_free(r);
	}
	/* not JSON, empty, an array, and over 256 KiB */
	{
		static const char *junk[] = { "", "not json", "[1]", "null",
		    "{\"bkp_repository\": 1" };
		char *big;

		for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
			teardown();
			setup();
			put("config", junk[i]);
			r = NULL;
			cr_expect_eq(repo_open(root, NULL, &r), ERR_CORRUPT,
			    "'%s'", junk[i]);
		}
		teardown();
		setup();
		big = malloc((256u << 10) + 16384);
		cr_assert_not_null(big);
		snprintf(big, 8192, "{\"bkp_repository\": 1, \"id\": " GOOD_ID
		    ", \"cipher\": \"auto\", \"chunk_size\": 4096, "
		    "\"recipients\": %s, \"pad\": \"", recips);
		{
			size_t pre = strlen(big);

			memset(big + pre, 'p', (256u << 10));
			memcpy(big + pre + (256u << 10), "\"}", 3);
		}
		put("config", big);
		free(big);
		cr_expect_eq(repo_open(root, NULL, &r), ERR_CORRUPT,
		    "config over 256 KiB");
	}
	free(r1);
	free(r2);
}

/* Archive records by hand. */
struct arec {
	const char *id;
	const char *name;
	int64_t created_us;
};

/* The id of the repository at root (records must name it), or a fixed
 * one before there is a config. */
static const char *
root_repo_id(void)
{
	static char id[REPO_ID_HEX + 1];
	char path[256];
	json_t *c, *v;

	snprintf(path, sizeof(path), "%s/config", root);
	snprintf(id, sizeof(id), "%s", "0123456789abcdef0123456789abcdef");
	if ((c = json_load_file(path, 0, NULL)) != NULL) {
		if (json_is_string(v = json_object_get(c, "id")))
			snprintf(id, sizeof(id), "%s", json_string_value(v));
		json_decref(c);
	}
	return id;
}

static json_t *
record_json(const char *id, const char *name, int64_t created_us,
    const struct keys_public *to, const uint8_t *datakey)
{
	uint8_t sealed[KEYS_SEALED], dk[KEYS_DATAKEY];
	char key[64], mkey[64], hex[65], when[40], *b64;
	uint8_t h[32];
	json_t *j;

	memset(h, 0x5a, sizeof(h));
	util_hex(h, 32, hex);
	util_iso8601(created_us, when, sizeof(when));
	repo_key_data(id, key, sizeof(key));
	repo_key_manifest(id, mkey, sizeof(mkey));
	if (to != NULL) {
		cr_assert_eq(keys_seal(to, datakey, sealed), ERR_OK);
	} else {
		randombytes_buf(dk, sizeof(dk));
		randombytes_buf(sealed, sizeof(sealed));
	}
	b64 = util_b64(sealed, sizeof(sealed));
	j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:i, "
	    "s:i, s:{s:s, s:i, s:s}, s:{s:s, s:i, s:s}, s:[{s:s, s:s}], "
	    "s:{s:i, s:i, s:i, s:i, s:f}}",
	    "bkp_archive", 1, "id", id,
	    "repository", root_repo_id(), "name", name,
	    "host", "host1", "created", when, "created_us",
	    (json_int_t)created_us, "cipher", "xchacha20poly1305",
	    "content", "tar", "chunk_size", 4096, "chunks", 3,
	    "data", "key", key, "size", 1000, "blake2b", hex,
	    "manifest", "key", mkey, "size", 500, "blake2b", hex,
	    "recipients", "fpr", to ? to->fpr :
	    "00000000000000000000000000000000", "sealed", b64,
	    "stats", "files", 10, "bytes", 1234, "tar_bytes", 5000,
	    "warnings", 0, "seconds", 1.5);
	free(b64);
	cr_assert_not_null(j);
	return j;
}

static void
put_record(const char *id, json_t *j)
{
	char key[64], *text;

	repo_key_record(id, key, sizeof(key));
	text = json_dumps(j, JSON_COMPACT);
	put(key, text);
	free(text);
}

static void
add_record(const char *id, const char *name, int64_t created_us)
{
	json_t *j = record_json(id, name, created_us, NULL, NULL);

	put_record(id, j);
	json_decref(j);
}

#define IDA "abcd0000000000000000000000000001"
#define IDB "abcd1111111111111111111111111112"
#define IDC "ffff0000000000000000000000000003"
#define IDD "12340000000000000000000000000004"
#define IDE "00000000000000000000000000000005"

static void
sample_archives(void)
{
	struct repo_config cfg;

	init_repo(&cfg);
	/* written in an order that is neither id nor time order */
	add_record(IDC, "web", 3000);
	add_record(IDA, "db", 1000);
	add_record(IDD, "db", 4000);
	add_record(IDB, "db", 2000);
	add_record(IDE, "web", 500);
}

Test(repo, list_ordering_and_filter)
{
	static const char *all[] = { IDE, IDA, IDB, IDC, IDD };
	static const char *db[] = { IDA, IDB, IDD };
	struct repo_archive *arr;
	struct repo *r;
	size_t n, nbad = 99, i;

	sample_archives();
	r = open_repo();
	cr_assert_eq(repo_list(r, NULL, &arr, &n, &nbad), ERR_OK);
	cr_assert_eq(n, 5);
	cr_expect_eq(nbad, 0);
	for (i = 0; i < n; i++)
		cr_expect_str_eq(arr[i].id, all[i], "position %zu", i);
	/* the record's fields, as written */
	cr_expect_str_eq(arr[1].name, "db");
	cr_expect_str_eq(arr[1].host, "host1");
	cr_expect_eq(arr[1].created_us, 1000);
	cr_expect_eq(arr[1].cipher, CRYPTO_XCHACHA20);
	cr_expect_eq(arr[1].chunk_size, 4096);
	cr_expect_eq(arr[1].chunks, 3);
	cr_expect_eq(arr[1].data_size, 1000);
	cr_expect_eq(arr[1].manifest_size, 500);
	cr_expect_eq(arr[1].data_hash[0], 0x5a);
	cr_expect_eq(arr[1].files, 10);
	cr_expect_eq(arr[1].bytes, 1234);
	cr_expect_eq(arr[1].nrecip, 1);
	repo_archives_free(arr, n);
	cr_assert_eq(repo_list(r, "db", &arr, &n, NULL), ERR_OK);
	cr_assert_eq(n, 3);
	for (i = 0; i < n; i++)
		cr_expect_str_eq(arr[i].id, db[i]);
	repo_archives_free(arr, n);
	cr_assert_eq(repo_list(r, "none", &arr, &n, NULL), ERR_OK);
	cr_expect_eq(n, 0);
	repo_archives_free(arr, n);
	repo_free(r);
}

Test(repo, list_ties_broken_by_id)
{
	struct repo_config cfg;
	struct repo_archive *arr, a;
	struct repo *r;
	size_t n;

	init_repo(&cfg);
	add_record(IDC, "db", 7);
	add_record(IDA, "db", 7);
	add_record(IDB, "db", 7);
	r = open_repo();
	cr_assert_eq(repo_list(r, NULL, &arr, &n, NULL), ERR_OK);
	cr_assert_eq(n, 3);
	cr_expect_str_eq(arr[0].id, IDA);
	cr_expect_str_eq(arr[1].id, IDB);
	cr_expect_str_eq(arr[2].id, IDC);
	repo_archives_free(arr, n);
	cr_assert_eq(repo_find(r, "latest", &a), ERR_OK);
	cr_expect_str_eq(a.id, IDC);
	repo_archive_release(&a);
	repo_free(r);
}

Test(repo, find_table)
{
	static const struct {
		const char *spec;
		int rc;
		const char *id;
	} v[] = {
		{ "latest", ERR_OK, IDD },
		{ "db:latest", ERR_OK, IDD },
		{ "web:latest", ERR_OK, IDC },
		{ "nosuch:latest", ERR_NOTFOUND, NULL },
		{ IDA, ERR_OK, IDA },
		{ "abcd0", ERR_OK, IDA },
		{ "abcd1", ERR_OK, IDB },
		{ "ffff", ERR_OK, IDC },
		{ "1234", ERR_OK, IDD },
		{ "abcd", ERR_USAGE, NULL },        /* ambiguous */
		{ "abc", ERR_USAGE, NULL },         /* too short */
		{ "ab", ERR_USAGE, NULL },
		{ "", ERR_USAGE, NULL },
		{ "zzzz", ERR_USAGE, NULL },        /* not hex */
		{ "ABCD0", ERR_USAGE, NULL },       /* ids are lowercase */
		{ IDA "0", ERR_USAGE, NULL },       /* longer than an id */
		{ "9999", ERR_NOTFOUND, NULL },
		{ "abcd2", ERR_NOTFOUND, NULL },
		{ "Latest", ERR_USAGE, NULL },
		{ "db:", ERR_USAGE, NULL },
		{ "db:first", ERR_USAGE, NULL },
	};
	struct repo_archive a;
	struct repo *r;
	size_t i;
	int rc;

	sample_archives();
	r = open_repo();
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(&a, 0, sizeof(a));
		rc = repo_find(r, v[i].spec, &a);
		cr_expect_eq(rc, v[i].rc, "'%s': %d (%s)", v[i].spec, rc,
		    err_get());
		if (rc == ERR_OK && v[i].id != NULL)
			cr_expect_str_eq(a.id, v[i].id, "'%s'", v[i].spec);
		if (rc == ERR_OK)
			repo_archive_release(&a);
	}
	repo_free(r);
}

Test(repo, find_in_empty_repository)
{
	struct repo_config cfg;
	struct repo_archive a;
	struct repo *r;

	init_repo(&cfg);
	r = open_repo();
	cr_expect_eq(repo_find(r, "latest", &a), ERR_NOTFOUND);
	cr_expect_eq(repo_find(r, "db:latest", &a), ERR_NOTFOUND);
	cr_expect_eq(repo_find(r, "abcd", &a), ERR_NOTFOUND);
	repo_free(r);
}

/* Mutations of a valid record: each must make it unreadable. */
struct mut {
	const char *what;
	const char *path;   /* member, or "obj.member" */
	const char *json;   /* new value, NULL to delete */
};

static void
apply(json_t *j, const struct mut *m)
{
	char top[64];
	const char *dot = strchr(m->path, '.');
	json_t *o = j;
	const char *member = m->path;

	if (dot != NULL) {
		snprintf(top, sizeof(top), "%.*s", (int)(dot - m->path),
		    m->path);
		o = json_object_get(j, top);
		if (json_is_array(o))
			o = json_array_get(o, 0);
		member = dot + 1;
	}
	cr_assert_not_null(o, "%s", m->path);
	if (m->json == NULL)
		json_object_del(o, member);
	else
		json_object_set_new(o, member, json_loads(m->json,
		    JSON_DECODE_ANY, NULL));
}

/* Each mutation in v alone, on a fresh scratch repository holding only
 * that record: nothing is listed and the record is counted as skipped. */
/* A version 1 record made version 2: BLAKE3, named. */
static void
to_v2(json_t *j)
{
	static const char *const parts[] = { "data", "manifest" };
	json_t *o, *h;
	size_t i;

	json_object_set_new(j, "bkp_archive", json_integer(2));
	json_object_set_new(j, "hash", json_string("blake3"));
	for (i = 0; i < 2; i++) {
		o = json_object_get(j, parts[i]);
		h = json_incref(json_object_get(o, "blake2b"));
		json_object_del(o, "blake2b");
		json_object_set_new(o, "blake3", h);
	}
}

/* Make j a version 3 record: a frames object and a chain of two deps. */
static void
to_v3(json_t *j, const char *id)
{
	char fkey[64];
	json_t *f;

	to_v2(j);
	json_object_set_new(j, "bkp_archive", json_integer(3));
	repo_key_frames(id, fkey, sizeof(fkey));
	f = json_deep_copy(json_object_get(j, "manifest"));
	json_object_set_new(f, "key", json_string(fkey));
	json_object_set_new(j, "frames", f);
	json_object_set_new(j, "deps", json_pack("[s, s]", IDA, IDC));
	json_object_set_new(j, "base", json_string(IDA));
	json_object_set_new(j, "chain", json_integer(2));
}

static void
expect_each_refused_v(const struct mut *v, size_t nv, int v2)
{
	struct repo_config cfg;
	struct repo_archive *arr;
	struct repo *r;
	size_t i, n, nbad;
	json_t *j;

	for (i = 0; i < nv; i++) {
		teardown();
		setup();
		init_repo(&cfg);
		j = record_json(IDB, "db", 5, NULL, NULL);
		if (v2 == 3)
			to_v3(j, IDB);
		else if (v2)
			to_v2(j);
		apply(j, &v[i]);
		put_record(IDB, j);
		json_decref(j);
		r = open_repo();
		cr_assert_eq(repo_list(r, NULL, &arr, &n, &nbad), ERR_OK);
		cr_expect_eq(n, 0, "%s: accepted", v[i].what);
		cr_expect_eq(nbad, 1, "%s", v[i].what);
		repo_archives_free(arr, n);
		repo_free(r);
	}
}

static void
expect_each_refused(const struct mut *v, size_t nv)
{
	expect_each_refused_v(v, nv, 0);
}

Test(repo, malformed_records_skipped_and_counted)
{
	static const struct mut v[] = {
		{ "version 2 without its hash", "bkp_archive", "2" },
		{ "version 3", "bkp_archive", "3" },
		{ "version 0", "bkp_archive", "0" },
		{ "no version", "bkp_archive", NULL },
		{ "id differs from the key", "id",
		    "\"abcd0000000000000000000000000009\"" },
		{ "no name", "name", NULL },
		{ "name not a string", "name", "7" },
		{ "name too long", "name", "\"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
		    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
		    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
		    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
    "n\"" },
		{ "name with a control character", "name", "\"d\\u001bb\"" },
		{ "no host", "host", NULL },
		{ "host with a newline", "host", "\"h\\nx\"" },
		{ "host with ESC", "host", "\"h\\u001b[2Jx\"" },
		{ "host with a space", "host", "\"h x\"" },
		{ "empty host", "host", "\"\"" },
		{ "another repository", "repository",
		    "\"0123456789abcdef0123456789abcdef\"" },
		{ "no repository", "repository", NULL },
		{ "no content", "content", NULL },
		{ "unknown content", "content", "\"zip\"" },
		{ "no created_us", "created_us", NULL },
		{ "negative created_us", "created_us", "-1" },
		{ "created_us as string", "created_us", "\"1000\"" },
		{ "cipher auto", "cipher", "\"auto\"" },
		{ "unknown cipher", "cipher", "\"rot13\"" },
		{ "chunk_size 4095", "chunk_size", "4095" },
		{ "chunk_size over 64 MiB", "chunk_size", "67108865" },
		{ "zero chunks", "chunks", "0" },
		{ "more chunks than the size allows", "chunks", "47" },
		{ "negative chunks", "chunks", "-3" },
		{ "no data", "data", NULL },
		{ "data key of another archive", "data.key",
		    "\"data/abcd0000000000000000000000000009\"" },
		{ "data key in manifests/", "data.key",
		    "\"manifests/" IDA "\"" },
		{ "short data hash", "data.blake2b", "\"5a5a\"" },
		{ "non-hex data hash", "data.blake2b", "\"zz5a5a5a5a5a5a5a5a5a"
		    "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a\"" },
		{ "data size under the header", "data.size", "63" },
		{ "negative data size", "data.size", "-1" },
		{ "no manifest", "manifest", NULL },
		{ "manifest key wrong", "manifest.key", "\"manifests/x\"" },
		{ "no manifest hash", "manifest.blake2b", NULL },
		{ "no stats", "stats", NULL },
		{ "negative files", "stats.files", "-1" },
		{ "no bytes", "stats.bytes", NULL },
		{ "no recipients", "recipients", "[]" },
		{ "recipients not an array", "recipients", "{}" },
		{ "short fpr", "recipients.fpr", "\"0123\"" },
		{ "uppercase fpr", "recipients.fpr",
		    "\"0123456789ABCDEF0123456789ABCDEF\"" },
		{ "sealed too short", "recipients.sealed", "\"AAAA\"" },
		{ "sealed not base64", "recipients.sealed", "\"!!!!\"" },
		{ "no sealed", "recipients.sealed", NULL },
	};
	struct repo_config cfg;
	struct repo_archive *arr;
	struct repo *r;
	size_t i, n, nbad;
	json_t *j;
	char id[33];

	init_repo(&cfg);
	add_record(IDA, "db", 1000);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(id, sizeof(id), "bb%030zu", i);
		j = record_json(id, "db", 2000 + (int64_t)i, NULL, NULL);
		apply(j, &v[i]);
		put_record(id, j);
		json_decref(j);
	}
	/* not JSON, and a duplicate member (by text) */
	put("archives/cc000000000000000000000000000001.json", "{not json");
	{
		char *text;

		j = record_json("cc000000000000000000000000000002", "db", 3000,
		    NULL, NULL);
		text = json_dumps(j, JSON_COMPACT);
		text[strlen(text) - 1] = '\0';
		{
			char *t2;

			cr_assert(asprintf(&t2, "%s,\"created_us\":1}", text) >
			    0);
			put("archives/cc000000000000000000000000000002.json",
			    t2);
			free(t2);
		}
		free(text);
		json_decref(j);
	}
	/* keys in archives/ that are not records are ignored, not bad */
	put("archives/README", "hello");
	put("archives/" IDB ".json.tmp", "x");
	put("archives/ABCD0000000000000000000000000001.json", "x");
	put("archives/sub/" IDB ".json", "x");
	r = open_repo();
	cr_assert_eq(repo_list(r, NULL, &arr, &n, &nbad), ERR_OK);
	cr_expect_eq(n, 1, "only the good record is listed");
	if (n >= 1)
		cr_expect_str_eq(arr[0].id, IDA);
	cr_expect_eq(nbad, sizeof(v) / sizeof(v[0]) + 2, "nbad %zu", nbad);
	repo_archives_free(arr, n);
	/* latest skips them too */
	{
		struct repo_archive a;

		cr_assert_eq(repo_find(r, "latest", &a), ERR_OK);
		cr_expect_str_eq(a.id, IDA);
		repo_archive_release(&a);
		/* Named by id, a malformed record is reported as such (issue
		 * 13: not as "no archive with id"). */
		cr_expect_eq(repo_find(r, "bb00", &a), ERR_CORRUPT);
		cr_expect(strstr(err_get(), "malformed") != NULL, "%s",
		    err_get());
		cr_expect_eq(repo_find(r, "ee00", &a), ERR_NOTFOUND);
		cr_expect(strstr(err_get(), "no archive with id") != NULL,
		    "%s", err_get());
	}
	repo_free(r);
	/* and each mutation alone is refused (no accidental pass) */
	expect_each_refused(v, sizeof(v) / sizeof(v[0]));
}

/* Version 2 records name their hash; version 1 ones are BLAKE2b-256. */
Test(repo, record_versions_and_hashes)
{
	static const struct mut bad[] = {
		{ "no hash", "hash", NULL },
		{ "unknown hash", "hash", "\"sha1\"" },
		{ "hash not a string", "hash", "3" },
		{ "hash named but members of another", "hash", "\"blake2b\"" },
		{ "no data hash", "data.blake3", NULL },
		{ "short manifest hash", "manifest.blake3", "\"5a5a\"" },
	};
	struct repo_config cfg;
	struct repo_archive a;
	struct repo *r;
	json_t *j;

	init_repo(&cfg);
	add_record(IDA, "db", 1000);            /* version 1 */
	j = record_json(IDB, "db", 2000, NULL, NULL);
	to_v2(j);
	put_record(IDB, j);
	json_decref(j);
	/* version 2 may name BLAKE2b too */
	j = record_json(IDC, "db", 3000, NULL, NULL);
	json_object_set_new(j, "bkp_archive", json_integer(2));
	json_object_set_new(j, "hash", json_string("blake2b"));
	put_record(IDC, j);
	json_decref(j);
	r = open_repo();
	cr_assert_eq(repo_find(r, IDA, &a), ERR_OK, "%s", err_get());
	cr_expect_eq(a.version, 1);
	cr_expect_eq(a.hash_alg, HASH_BLAKE2B);
	cr_expect_eq(a.data_hash[0], 0x5a);
	repo_archive_release(&a);
	cr_assert_eq(repo_find(r, IDB, &a), ERR_OK, "%s", err_get());
	cr_expect_eq(a.version, 2);
	cr_expect_eq(a.hash_alg, HASH_BLAKE3);
	cr_expect_eq(a.data_hash[31], 0x5a);
	cr_expect_eq(a.manifest_hash[0], 0x5a);
	repo_archive_release(&a);
	cr_assert_eq(repo_find(r, IDC, &a), ERR_OK, "%s", err_get());
	cr_expect_eq(a.hash_alg, HASH_BLAKE2B);
	repo_archive_release(&a);
	repo_free(r);
	expect_each_refused_v(bad, sizeof(bad) / sizeof(bad[0]), 1);
}

/* Version 3: frames object and chain members, each bound enforced. */
Test(repo, record_version3_chain)
{
	static const struct mut bad[] = {
		{ "no frames object", "frames", NULL },
		{ "frames under another key", "frames.key",
		    "\"frames/abcd0000000000000000000000000001\"" },
		{ "frames smaller than a header", "frames.size", "10" },
		{ "no deps", "deps", NULL },
		{ "deps not an array", "deps", "\"x\"" },
		{ "a dep not an id", "deps", "[\"abc\"]" },
		{ "a dep in upper case", "deps",
		    "[\"ABCD0000000000000000000000000001\"]" },
		{ "itself a dep", "deps",
		    "[\"abcd1111111111111111111111111112\"]" },
		{ "a dep twice", "deps", "[\"abcd0000000000000000000000000001\","
		    "\"abcd0000000000000000000000000001\"]" },
		{ "no base", "base", NULL },
		{ "base itself", "base",
		    "\"abcd1111111111111111111111111112\"" },
		{ "base not an id", "base", "7" },
		{ "no chain", "chain", NULL },
		{ "chain 0 with a base", "chain", "0" },
		{ "chain negative", "chain", "-1" },
		{ "chain over 32 bits", "chain", "4294967296" },
	};
	struct repo_config cfg;
	struct repo_archive a;
	struct repo *r;
	json_t *j, *deps;
	int i;

	init_repo(&cfg);
	j = record_json(IDB, "db", 2000, NULL, NULL);
	to_v3(j, IDB);
	put_record(IDB, j);
	json_decref(j);
	/* a full: no deps, null base, chain 0 */
	j = record_json(IDD, "db", 3000, NULL, NULL);
	to_v3(j, IDD);
	json_object_set_new(j, "deps", json_array());
	json_object_set_new(j, "base", json_null());
	json_object_set_new(j, "chain", json_integer(0));
	put_record(IDD, j);
	json_decref(j);
	/* 256 deps is the bound: 257 is refused */
	for (i = 0; i < 2; i++) {
		char id[REPO_ID_HEX + 1];
		int k;

		j = record_json(i ? IDE : IDC, "db", 4000 + i, NULL, NULL);
		to_v3(j, i ? IDE : IDC);
		deps = json_array();
		for (k = 0; k < 256 + i; k++) {
			snprintf(id, sizeof(id), "%032x", k + 100);
			json_array_append_new(deps, json_string(id));
		}
		json_object_set_new(j, "deps", deps);
		put_record(i ? IDE : IDC, j);
		json_decref(j);
	}
	r = open_repo();
	cr_assert_eq(repo_find(r, IDB, &a), ERR_OK, "%s", err_get());
	cr_expect_eq(a.version, 3);
	cr_expect_eq(a.ndeps, 2);
	cr_expect_str_eq(a.deps[0], IDA);
	cr_expect_str_eq(a.deps[1], IDC);
	cr_expect_str_eq(a.base, IDA);
	cr_expect_eq(a.chain, 2);
	cr_expect_eq(a.frames_size, 500);
	cr_expect_eq(a.frames_hash[0], 0x5a);
	repo_archive_release(&a);
	cr_assert_eq(repo_find(r, IDD, &a), ERR_OK, "%s", err_get());
	cr_expect_eq(a.ndeps, 0);
	cr_expect_eq(a.base[0], '\0');
	cr_expect_eq(a.chain, 0);
	repo_archive_release(&a);
	cr_assert_eq(repo_find(r, IDC, &a), ERR_OK, "%s", err_get());
	cr_expect_eq(a.ndeps, 256);
	repo_archive_release(&a);
	cr_expect_neq(repo_find(r, IDE, &a), ERR_OK, "257 deps accepted");
	repo_free(r);
	expect_each_refused_v(bad, sizeof(bad) / sizeof(bad[0]), 3);
}

Test(repo, record_bound_256k)
{
	struct repo_config cfg;
	struct repo_archive *arr;
	struct repo *r;
	size_t n, nbad;
	char *pad;
	json_t *j;

	init_repo(&cfg);
	j = record_json(IDA, "db", 1, NULL, NULL);
	pad = malloc(256u << 10);
	memset(pad, 'p', (256u << 10) - 1);
	pad[(256u << 10) - 1] = '\0';
	json_object_set_new(j, "pad", json_string(pad));
	put_record(IDA, j);
	json_decref(j);
	free(pad);
	r = open_repo();
	cr_assert_eq(repo_list(r, NULL, &arr, &n, &nbad), ERR_OK);
	cr_expect_eq(n, 0);
	cr_expect_eq(nbad, 1);
	repo_archives_free(arr, n);
	repo_free(r);
}

Test(repo, keys_of_parts)
{
	char buf[64];

	repo_key_data(IDA, buf, sizeof(buf));
	cr_expect_str_eq(buf, "data/" IDA);
	repo_key_manifest(IDA, buf, sizeof(buf));
	cr_expect_str_eq(buf, "manifests/" IDA);
	repo_key_record(IDA, buf, sizeof(buf));
	cr_expect_str_eq(buf, "archives/" IDA ".json");
}

Test(repo, unwrap_recipient_and_stranger)
{
	struct keys_public pub, other;
	struct keys_secret *sk;
	struct repo_config cfg;
	struct repo_archive a;
	struct repo *r;
	uint8_t dk[KEYS_DATAKEY], *got;
	json_t *j;

	cr_assert_eq(keys_generate(support_path("k"), PW, KEYS_KDF_DEFAULT,
	    NULL, &pub), ERR_OK, "%s", err_get());
	cr_assert_eq(keys_load_secret(support_path("k"), PW, &sk), ERR_OK);
	fake_public(&other);
	cr_assert_eq(repo_init(root, NULL, &pub, 1, CRYPTO_XCHACHA20, 4096,
	    &cfg), ERR_OK);
	randombytes_buf(dk, sizeof(dk));
	/* IDA is wrapped for our key, IDB for another one */
	j = record_json(IDA, "db", 1, &pub, dk);
	put_record(IDA, j);
	json_decref(j);
	j = record_json(IDB, "db", 2, &other, dk);
	put_record(IDB, j);
	json_decref(j);
	/* IDC names our fingerprint but its box was sealed for another */
	j = record_json(IDC, "db", 3, &other, dk);
	json_object_set_new(json_array_get(json_object_get(j, "recipients"),
	    0), "fpr", json_string(pub.fpr));
	put_record(IDC, j);
	json_decref(j);
	got = sodium_malloc(KEYS_DATAKEY);
	cr_assert_not_null(got);
	r = open_repo();
	cr_assert_eq(repo_find(r, IDA, &a), ERR_OK);
	cr_expect_eq(repo_unwrap(&a, sk, got), ERR_OK, "%s", err_get());
	cr_expect_arr_eq(got, dk, KEYS_DATAKEY);
	repo_archive_release(&a);
	cr_assert_eq(repo_find(r, IDB, &a), ERR_OK);
	cr_expect_eq(repo_unwrap(&a, sk, got), ERR_KEY);
	repo_archive_release(&a);
	cr_assert_eq(repo_find(r, IDC, &a), ERR_OK);
	cr_expect_neq(repo_unwrap(&a, sk, got), ERR_OK);
	repo_archive_release(&a);
	repo_free(r);
	sodium_free(got);
	keys_secret_free(sk);
}

Test(repo, record_from_a_real_backup)
{
	struct keys_public pub;
	struct keys_secret *sk;
	struct repo_config cfg;
	struct repo_archive a, *arr;
	struct backup_opts o;
	struct backup_result res;
	struct repo *r;
	uint8_t *dk;
	char *paths[1], src[512];
	size_t n;

	cr_assert_eq(keys_generate(support_path("k"), PW, KEYS_KDF_DEFAULT,
	    NULL, &pub), ERR_OK);
	cr_assert_eq(keys_load_secret(support_path("k"), PW, &sk), ERR_OK);
	cr_assert_eq(repo_init(root, NULL, &pub, 1, CRYPTO_XCHACHA20, 4096,
	    &cfg), ERR_OK);
	docs_source(&o, paths, src, sizeof(src));
	o.threads = 1;
	r = open_repo();
	cr_assert_eq(backup_run(r, &o, &res), ERR_OK, "%s", err_get());
	repo_free(r);
	r = open_repo();
	cr_assert_eq(repo_list(r, NULL, &arr, &n, NULL), ERR_OK);
	cr_assert_eq(n, 1);
	cr_expect_str_eq(arr[0].id, res.id);
	cr_expect_str_eq(arr[0].name, "docs");
	cr_expect_eq(arr[0].chunks, res.chunks);
	cr_expect_eq(arr[0].files, res.files);
	cr_expect_eq(arr[0].chunk_size, 4096);
	repo_archives_free(arr, n);
	cr_assert_eq(repo_find(r, "docs:latest", &a), ERR_OK);
	cr_expect_str_eq(a.id, res.id);
	cr_expect_eq(a.version, REPO_ARCHIVE_VERSION);
	cr_expect_eq(a.hash_alg, HASH_BLAKE3);
	{
		uint8_t *obj, h[32];
		size_t len;
		char key[64];

		repo_key_data(a.id, key, sizeof(key));
		cr_assert_eq(storage_get(repo_storage(r), key, 1 << 24, &obj,
		    &len), ERR_OK);
		cr_expect_eq(len, a.data_size);
		hash_buf(HASH_BLAKE3, obj, len, h);
		cr_expect_arr_eq(h, a.data_hash, 32, "record's data hash");
		free(obj);
	}
	dk = sodium_malloc(KEYS_DATAKEY);
	cr_expect_eq(repo_unwrap(&a, sk, dk), ERR_OK);
	sodium_free(dk);
	repo_archive_release(&a);
	repo_free(r);
	keys_secret_free(sk);
}

static volatile sig_atomic_t cancel_flag;

static int
count_cb(void *arg, const char *key, uint64_t size)
{
	(void)key;
	(void)size;
	(*(size_t *)arg)++;
	return 0;
}

/* Progress callback: interrupt the backup, after letting the data
 * stream's threads go idle. */
static void
cancel_on_progress(void *arg, const struct backup_progress *p)
{
	(void)arg;
	(void)p;
	cancel_flag = 1;
	usleep(300000);
}

Test(repo, cancelled_threaded_backup_returns, .timeout = 8)
{
	/* backup_run with threads > 0 that fails after the data stream was
	 * started must return (ostream_free without finish), not hang. */
	struct keys_public pub;
	struct repo_config cfg;
	struct backup_opts o;
	struct backup_result res;
	struct repo *r;
	char *paths[1], src[512];

	fake_public(&pub);
	cr_assert_eq(repo_init(root, NULL, &pub, 1, CRYPTO_XCHACHA20, 4096,
	    &cfg), ERR_OK);
	docs_source(&o, paths, src, sizeof(src));
	o.threads = 2;
	o.cancel = &cancel_flag;
	o.progress = cancel_on_progress;
	r = open_repo();
	cr_expect_eq(backup_run(r, &o, &res), ERR_FAIL);
	cr_expect_eq(cancel_flag, 1);
	cr_expect_str_eq(err_get(), "interrupted");
	repo_free(r);
	/* nothing was committed */
	r = open_repo();
	{
		struct repo_archive *arr;
		size_t n;

		cr_assert_eq(repo_list(r, NULL, &arr, &n, NULL), ERR_OK);
		cr_expect_eq(n, 0);
		repo_archives_free(arr, n);
		n = 0;
		cr_assert_eq(storage_list(repo_storage(r), "", count_cb, &n),
		    ERR_OK);
		cr_expect_eq(n, 1, "objects besides config: %zu", n - 1);
	}
	repo_free(r);
}

Test(repo, record_name_outside_spec_refused)
{
	static const struct mut v[] = {
		{ "empty name", "name", "\"\"" },
		{ "name with a slash", "name", "\"a/b\"" },
		{ "name with a colon", "name", "\"db:latest\"" },
		{ "name with a space", "name", "\"my db\"" },
	};

	expect_each_refused(v, sizeof(v) / sizeof(v[0]));
}
