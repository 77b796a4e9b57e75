/*
 * Unit tests for core/manifest.c: writer/reader round trips (across
 * manifest chunk boundaries), byte strings that are or are not UTF-8,
 * "file" record decoding and its refusals, malformed and over-long lines,
 * wrong keys, and the object hash the reader reports.
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

#include "crypto.h"
#include "err.h"
#include "hash.h"
#include "manifest.h"
#include "objfmt.h"
#include "ostream.h"
#include "storage.h"
#include "support.h"

/* The sample "file" records below carry format 1 (BLAKE2b-256) digests. */
static int
decode_v1(const json_t *rec, struct mfile *f)
{
	return manifest_file_decode(rec, HASH_BLAKE2B, f);
}

static struct storage *st;
static uint8_t subkey[32], id[16];

static void
setup(void)
{
	cr_assert_eq(crypto_init(), 0);
	support_tmpdir("manifest");
	cr_assert_eq(storage_open(support_path("repo"), NULL, &st), ERR_OK);
	randombytes_buf(subkey, sizeof(subkey));
	randombytes_buf(id, sizeof(id));
}

static void
teardown(void)
{
	storage_free(st);
	st = NULL;
	support_cleanup();
}

TestSuite(manifest, .init = setup, .fini = teardown);

static json_t *
jparse(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, JSON_ALLOW_NUL, &e);

	cr_assert_not_null(j, "bad test JSON: %s: %s", s, e.text);
	return j;
}

/* A valid "file" record for a regular file. */
static json_t *
file_rec(void)
{
	return jparse("{\"t\":\"file\",\"path\":\"data/ehr/a.csv\","
	    "\"type\":\"file\",\"mode\":420,\"uid\":0,\"gid\":0,"
	    "\"mtime\":1700000000,\"size\":5,\"blake2b\":"
	    "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\","
	    "\"o\":0,\"e\":1536}");
}

/* Write raw plaintext as a manifest object (bypassing manifest_put). */
static void
write_raw(const char *key, const void *buf, size_t len, const uint8_t *sk)
{
	struct obj_header h;
	struct ostream_result res;
	struct ostream *os;

	memset(&h, 0, sizeof(h));
	h.type = OBJ_TYPE_MANIFEST;
	h.cipher = CRYPTO_XCHACHA20;
	h.content = OBJ_CONTENT_JSONL;
	h.chunk_size = MANIFEST_CHUNK;
	memcpy(h.id, id, 16);
	cr_assert_eq(ostream_new(st, key, &h, sk, HASH_BLAKE3, 1, 0, NULL, NULL,
	    &os),
	    ERR_OK);
	cr_assert_eq(ostream_write(os, buf, len), ERR_OK);
	cr_assert_eq(ostream_finish(os, &res), ERR_OK);
	ostream_free(os);
}

/* Read every record of key; return the first non-1 status of
 * manifest_next (0 at a clean end) and the number of records. */
static int
read_all(const char *key, const uint8_t *sk, size_t *n)
{
	struct manifest_reader *mr;
	const char *type;
	json_t *rec;
	int rc;

	*n = 0;
	if ((rc = manifest_reader_open(st, key, CRYPTO_XCHACHA20, sk, id,
	    HASH_BLAKE3, &mr)) != ERR_OK)
		return rc;
	while ((rc = manifest_next(mr, &rec, &type)) == 1) {
		json_decref(rec);
		(*n)++;
	}
	manifest_reader_free(mr);
	return rc;
}

Test(manifest, roundtrip_records_and_hash)
{
	struct manifest_writer *mw;
	struct manifest_reader *mr;
	json_t *recs[3000], *rec;
	const char *type;
	uint8_t hash[32], rhash[32], fhash[32], *obj;
	uint64_t size, rsize;
	size_t i, n = 0, objlen;
	char pad[1024];

	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	recs[n++] = jparse("{\"t\":\"archive\",\"v\":1,\"name\":\"db\","
	    "\"created_us\":1795629600123456,\"chunk_size\":4096}");
	/* enough records to span several 1 MiB manifest chunks */
	for (i = 0; i < 2990; i++) {
		rec = file_rec();
		{
			uint8_t rnd[600];

			randombytes_buf(rnd, sizeof(rnd));
			sodium_bin2base64(pad, sizeof(pad), rnd, sizeof(rnd),
			    sodium_base64_VARIANT_ORIGINAL);
		}
		json_object_set_new(rec, "pad", json_string(pad));
		json_object_set_new(rec, "o", json_integer((json_int_t)i));
		json_object_set_new(rec, "e", json_integer((json_int_t)i + 1));
		if (i % 7 == 0)
			cr_assert_eq(manifest_set_bytes(rec, "path",
			    "bin\xff\xfe", 5), ERR_OK);
		if (i % 11 == 0)
			json_object_set_new(rec, "path",
			    json_string("d\xc3\xa9j\xc3\xa0/\xe2\x82\xac"));
		recs[n++] = rec;
	}
	recs[n++] = jparse("{\"t\":\"chunk\",\"i\":0,\"off\":64,\"len\":100,"
	    "\"plain\":4096}");
	recs[n++] = jparse("{\"t\":\"skipped\",\"path\":\"x\",\"reason\":"
	    "\"Permission denied\"}");
	recs[n++] = jparse("{\"t\":\"future-type\",\"whatever\":[1,2,3]}");
	recs[n++] = jparse("{\"t\":\"end\",\"files\":2990,\"bytes\":0}");

	cr_assert_eq(manifest_writer_new(st, "manifests/m", CRYPTO_XCHACHA20,
	    subkey, id, HASH_BLAKE3, &mw), ERR_OK);
	for (i = 0; i < n; i++)
		cr_assert_eq(manifest_put(mw, recs[i]), ERR_OK);
	cr_assert_eq(manifest_writer_finish(mw, &size, hash), ERR_OK);
	manifest_writer_free(mw);
	cr_expect_gt(size, MANIFEST_CHUNK + 64, "more than one chunk");

	cr_assert_eq(manifest_reader_open(st, "manifests/m", CRYPTO_XCHACHA20,
	    subkey, id, HASH_BLAKE3, &mr), ERR_OK);
	for (i = 0; i < n; i++) {
		cr_assert_eq(manifest_next(mr, &rec, &type), 1, "record %zu: %s",
		    i, err_get());
		cr_expect(json_equal(rec, recs[i]), "record %zu differs", i);
		cr_expect_str_eq(type, json_string_value(json_object_get(
		    recs[i], "t")));
		if (i == 1)
			cr_expect_eq(manifest_reader_hash(mr, rhash, &rsize),
			    -1, "hash before the end");
		json_decref(rec);
	}
	cr_expect_eq(manifest_next(mr, &rec, &type), 0);
	cr_assert_eq(manifest_reader_hash(mr, rhash, &rsize), 0);
	cr_expect_arr_eq(rhash, hash, 32);
	cr_expect_eq(rsize, size);
	manifest_reader_free(mr);
	/* and both equal the stored object's BLAKE2b-256 and size */
	cr_assert_eq(storage_get(st, "manifests/m", 1 << 24, &obj, &objlen),
	    ERR_OK);
	hash_buf(HASH_BLAKE3, obj, objlen, fhash);
	cr_expect_arr_eq(fhash, hash, 32);
	cr_expect_eq(objlen, size);
	free(obj);
	for (i = 0; i < n; i++)
		json_decref(recs[i]);
	manifest_reader_free(NULL);
	manifest_writer_free(NULL);
}

Test(manifest, empty_manifest)
{
	struct manifest_writer *mw;
	uint8_t hash[32];
	uint64_t size;
	size_t n;

	cr_assert_eq(manifest_writer_new(st, "manifests/e", CRYPTO_XCHACHA20,
	    subkey, id, HASH_BLAKE3, &mw), ERR_OK);
	cr_assert_eq(manifest_writer_finish(mw, &size, hash), ERR_OK);
	manifest_writer_free(mw);
	cr_expect_eq(read_all("manifests/e", subkey, &n), 0);
	cr_expect_eq(n, 0);
}

Test(manifest, writer_free_aborts)
{
	struct manifest_writer *mw;
	json_t *rec = file_rec();
	uint64_t size;

	cr_assert_eq(manifest_writer_new(st, "manifests/a", CRYPTO_XCHACHA20,
	    subkey, id, HASH_BLAKE3, &mw), ERR_OK);
	cr_assert_eq(manifest_put(mw, rec), ERR_OK);
	manifest_writer_free(mw);
	cr_expect_eq(storage_stat(st, "manifests/a", &size), ERR_NOTFOUND);
	json_decref(rec);
}

Test(manifest, wrong_key_or_id_refused)
{
	static const char text[] = "{\"t\":\"archive\"}\n";
	uint8_t sk2[32], id2[16];
	struct manifest_reader *mr = NULL;
	size_t n;

	write_raw("manifests/k", text, sizeof(text) - 1, subkey);
	cr_expect_eq(read_all("manifests/k", subkey, &n), 0);
	cr_expect_eq(n, 1);
	memcpy(sk2, subkey, 32);
	sk2[0] ^= 1;
	cr_expect_eq(read_all("manifests/k", sk2, &n), ERR_CORRUPT);
	cr_expect_eq(n, 0);
	memcpy(id2, id, 16);
	id2[15] ^= 1;
	cr_expect_eq(manifest_reader_open(st, "manifests/k", CRYPTO_XCHACHA20,
	    subkey, id2, HASH_BLAKE3, &mr), ERR_CORRUPT);
	cr_expect_neq(manifest_reader_open(st, "manifests/k",
	    CRYPTO_AES256GCM, subkey, id, HASH_BLAKE3, &mr), ERR_OK);
	cr_expect_eq(manifest_reader_open(st, "manifests/none",
	    CRYPTO_XCHACHA20, subkey, id, HASH_BLAKE3, &mr), ERR_NOTFOUND);
	cr_expect_null(mr);
}

Test(manifest, malformed_lines_refused)
{
	static const struct {
		const char *text;
		size_t good;  /* records before the failure */
	} v[] = {
		{ "{\"t\":\"a\"}\nnot json\n", 1 },
		{ "[1,2]\n", 0 },
		{ "\"t\"\n", 0 },
		{ "{\"x\":1}\n", 0 },
		{ "{\"t\":1}\n", 0 },
		{ "{\"t\":null}\n", 0 },
		{ "{\"t\":\"a\",\"t\":\"b\"}\n", 0 },
		{ "{\"t\":\"a\"} {\"t\":\"b\"}\n", 0 },
		{ "\n", 0 },
		{ "{\"t\":\"a\"}\n{\"t\":\"b\"}", 1 },   /* no final newline */
		{ "{\"t\":\"a\"", 0 },
	};
	char key[32];
	size_t i, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(key, sizeof(key), "manifests/bad%zu", i);
		write_raw(key, v[i].text, strlen(v[i].text), subkey);
		cr_expect_eq(read_all(key, subkey, &n), ERR_CORRUPT, "'%s'",
		    v[i].text);
		cr_expect_eq(n, v[i].good, "'%s'", v[i].text);
	}
}

Test(manifest, line_length_bound)
{
	struct manifest_writer *mw;
	json_t *rec;
	uint8_t hash[32];
	uint64_t size;
	char *buf;
	size_t n, len, over;

	/* a record of exactly MANIFEST_MAX_LINE - 1 bytes (plus newline) is
	 * written and read back */
	len = MANIFEST_MAX_LINE - 1;
	over = strlen("{\"t\":\"x\",\"p\":\"\"}");
	buf = malloc(MANIFEST_MAX_LINE + 2);
	cr_assert_not_null(buf);
	memset(buf, 'a', len - over);
	buf[len - over] = '\0';
	rec = json_pack("{s:s,s:s}", "t", "x", "p", buf);
	cr_assert_not_null(rec);
	cr_assert_eq(manifest_writer_new(st, "manifests/long",
	    CRYPTO_XCHACHA20, subkey, id, HASH_BLAKE3, &mw), ERR_OK);
	cr_assert_eq(manifest_put(mw, rec), ERR_OK, "%s", err_get());
	cr_assert_eq(manifest_writer_finish(mw, &size, hash), ERR_OK);
	manifest_writer_free(mw);
	cr_expect_eq(read_all("manifests/long", subkey, &n), 0, "%s",
	    err_get());
	cr_expect_eq(n, 1);
	/* one byte more is refused by the writer */
	json_decref(rec);
	memset(buf, 'a', len - over + 1);
	buf[len - over + 1] = '\0';
	rec = json_pack("{s:s,s:s}", "t", "x", "p", buf);
	cr_assert_eq(manifest_writer_new(st, "manifests/long2",
	    CRYPTO_XCHACHA20, subkey, id, HASH_BLAKE3, &mw), ERR_OK);
	cr_expect_neq(manifest_put(mw, rec), ERR_OK);
	manifest_writer_free(mw);
	json_decref(rec);
	/* and by the reader, when written by hand: MANIFEST_MAX_LINE bytes
	 * before the newline */
	memcpy(buf, "{\"t\":\"x\",\"p\":\"", 14);
	memset(buf + 14, 'a', MANIFEST_MAX_LINE - 16);
	memcpy(buf + MANIFEST_MAX_LINE - 2, "\"}\n", 3);
	write_raw("manifests/long3", buf, MANIFEST_MAX_LINE + 1, subkey);
	cr_expect_eq(read_all("manifests/long3", subkey, &n), ERR_CORRUPT);
	/* a line with no newline at all, far longer than the bound */
	memset(buf, 'z', MANIFEST_MAX_LINE + 2);
	write_raw("manifests/long4", buf, MANIFEST_MAX_LINE + 2, subkey);
	cr_expect_eq(read_all("manifests/long4", subkey, &n), ERR_CORRUPT);
	free(buf);
}

Test(manifest, set_get_bytes_table)
{
	static const struct {
		const char *s;
		size_t n;
		int as_string;
	} v[] = {
		{ "plain/path.txt", 14, 1 },
		{ "", 0, 1 },
		{ "d\xc3\xa9j\xc3\xa0 vu", 9, 1 },
		{ "\xf0\x9f\x98\x80", 4, 1 },
		{ "ctl\x01\x1f", 5, 1 },
		{ "\xff", 1, 0 },
		{ "a\xff" "b", 3, 0 },
		{ "latin1 caf\xe9", 11, 0 },
		{ "\xed\xa0\x80", 3, 0 },   /* surrogate */
		{ "\xc0\xaf", 2, 0 },       /* overlong */
		{ "trunc\xe2\x82", 7, 0 },
	};
	json_t *rec;
	char *s;
	size_t i, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		rec = json_object();
		cr_assert_eq(manifest_set_bytes(rec, "path", v[i].s, v[i].n),
		    ERR_OK);
		cr_expect_eq(json_object_get(rec, "path") != NULL,
		    v[i].as_string, "case %zu: path", i);
		cr_expect_eq(json_object_get(rec, "path_b64") != NULL,
		    !v[i].as_string, "case %zu: path_b64", i);
		cr_assert_eq(manifest_get_bytes(rec, "path", &s, &n), ERR_OK,
		    "case %zu", i);
		cr_expect_eq(n, v[i].n);
		cr_expect_arr_eq(s, v[i].s, v[i].n);
		cr_expect_eq(s[n], '\0');
		free(s);
		/* through JSON text and back */
		{
			char *text = json_dumps(rec, JSON_COMPACT |
			    JSON_ENSURE_ASCII);
			json_t *back = jparse(text);

			cr_assert_eq(manifest_get_bytes(back, "path", &s, &n),
			    ERR_OK);
			cr_expect_eq(n, v[i].n);
			cr_expect_arr_eq(s, v[i].s, v[i].n);
			free(s);
			free(text);
			json_decref(back);
		}
		json_decref(rec);
	}
}

Test(manifest, get_bytes_refusals)
{
	static const struct {
		const char *json;
		int rc;
	} v[] = {
		{ "{}", ERR_NOTFOUND },
		{ "{\"other\":\"x\"}", ERR_NOTFOUND },
		{ "{\"link\":1}", ERR_CORRUPT },
		{ "{\"link\":null}", ERR_CORRUPT },
		{ "{\"link\":\"a\\u0000b\"}", ERR_CORRUPT },
		{ "{\"link_b64\":\"not base64!\"}", ERR_CORRUPT },
		{ "{\"link_b64\":\"Zm9\"}", ERR_CORRUPT },
		{ "{\"link_b64\":5}", ERR_CORRUPT },
		{ "{\"link_b64\":\"YQBi\"}", ERR_CORRUPT },   /* "a\0b" */
		{ "{\"link_b64\":\"Zm9v\"}", ERR_OK },
	};
	json_t *rec;
	char *s;
	size_t i, n;
	int rc;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		rec = jparse(v[i].json);
		s = NULL;
		rc = manifest_get_bytes(rec, "link", &s, &n);
		cr_expect_eq(rc, v[i].rc, "%s: %d", v[i].json, rc);
		if (rc == ERR_OK) {
			cr_expect_str_eq(s, "foo");
			free(s);
		}
		json_decref(rec);
	}
	/* longer than the 64 KiB path bound, as string and as base64 */
	{
		char *big = malloc(70000);
		char *b64;

		memset(big, 'p', 69999);
		big[69999] = '\0';
		rec = json_pack("{s:s}", "link", big);
		cr_expect_eq(manifest_get_bytes(rec, "link", &s, &n),
		    ERR_CORRUPT);
		json_decref(rec);
		b64 = malloc(100000);
		sodium_bin2base64(b64, 100000, (const uint8_t *)big, 69999,
		    sodium_base64_VARIANT_ORIGINAL);
		rec = json_pack("{s:s}", "link_b64", b64);
		cr_expect_eq(manifest_get_bytes(rec, "link", &s, &n),
		    ERR_CORRUPT);
		json_decref(rec);
		free(b64);
		free(big);
	}
}

Test(manifest, file_decode_valid)
{
	struct mfile f;
	json_t *rec = file_rec();

	cr_assert_eq(decode_v1(rec, &f), ERR_OK, "%s", err_get());
	cr_expect_str_eq(f.path, "data/ehr/a.csv");
	cr_expect_eq(f.pathlen, 14);
	cr_expect_eq(f.type, MF_FILE);
	cr_expect_eq(f.size, 5);
	cr_expect_eq(f.o, 0);
	cr_expect_eq(f.e, 1536);
	cr_expect_eq(f.hash[0], 0x00);
	cr_expect_eq(f.hash[1], 0x11);
	cr_expect_eq(f.hash[31], 0xff);
	cr_expect_null(f.link);
	manifest_file_release(&f);
	json_decref(rec);
	/* a symlink with a non-UTF-8 target; o == e is allowed */
	rec = jparse("{\"t\":\"file\",\"path_b64\":\"/w==\",\"type\":"
	    "\"symlink\",\"size\":0,\"o\":7,\"e\":7,\"link_b64\":\"Yf8=\"}");
	cr_assert_eq(decode_v1(rec, &f), ERR_OK, "%s", err_get());
	cr_expect_eq(f.pathlen, 1);
	cr_expect_eq((unsigned char)f.path[0], 0xff);
	cr_expect_eq(f.type, MF_SYMLINK);
	cr_assert_not_null(f.link);
	cr_expect_str_eq(f.link, "a\xff");
	manifest_file_release(&f);
	manifest_file_release(&f);
	json_decref(rec);
	/* directories need no hash */
	rec = jparse("{\"t\":\"file\",\"path\":\"d\",\"type\":\"dir\","
	    "\"size\":0,\"o\":0,\"e\":512}");
	cr_expect_eq(decode_v1(rec, &f), ERR_OK);
	cr_expect_eq(f.type, MF_DIR);
	manifest_file_release(&f);
	json_decref(rec);
}

Test(manifest, file_decode_refusals)
{
	static const struct {
		const char *field;
		const char *json;   /* new value, or NULL to delete */
	} v[] = {
		{ "path", NULL },
		{ "path", "5" },
		{ "type", NULL },
		{ "type", "\"regular\"" },
		{ "type", "\"\"" },
		{ "type", "1" },
		{ "o", NULL },
		{ "o", "-1" },
		{ "o", "\"0\"" },
		{ "o", "1.5" },
		{ "e", NULL },
		{ "e", "-5" },
		{ "e", "true" },
		{ "size", NULL },
		{ "size", "-1" },
		{ "size", "\"5\"" },
		{ "blake2b", NULL },
		{ "blake2b", "7" },
		{ "blake2b", "\"\"" },
		{ "blake2b", "\"0011\"" },
		{ "blake2b", "\"00112233445566778899aabbccddeeff00112233445566"
		    "778899aabbccddeef\"" },
		{ "blake2b", "\"00112233445566778899aabbccddeeff00112233445566"
		    "778899aabbccddeeff00\"" },
		{ "blake2b", "\"zz112233445566778899aabbccddeeff00112233445566"
		    "778899aabbccddeeff\"" },
	};
	struct mfile f;
	json_t *rec;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		rec = file_rec();
		if (v[i].json == NULL)
			json_object_del(rec, v[i].field);
		else
			json_object_set_new(rec, v[i].field,
			    json_loads(v[i].json, JSON_DECODE_ANY, NULL));
		cr_expect_eq(decode_v1(rec, &f), ERR_CORRUPT,
		    "%s = %s", v[i].field, v[i].json ? v[i].json : "(none)");
		cr_expect_null(f.path);
		json_decref(rec);
	}
	/* e < o */
	rec = file_rec();
	json_object_set_new(rec, "o", json_integer(1000));
	json_object_set_new(rec, "e", json_integer(999));
	cr_expect_eq(decode_v1(rec, &f), ERR_CORRUPT, "e < o");
	json_decref(rec);
	/* links without a target */
	rec = jparse("{\"t\":\"file\",\"path\":\"l\",\"type\":\"symlink\","
	    "\"size\":0,\"o\":0,\"e\":512}");
	cr_expect_eq(decode_v1(rec, &f), ERR_CORRUPT, "symlink");
	json_decref(rec);
	rec = jparse("{\"t\":\"file\",\"path\":\"l\",\"type\":\"hardlink\","
	    "\"size\":0,\"o\":0,\"e\":512,\"link\":7}");
	cr_expect_eq(decode_v1(rec, &f), ERR_CORRUPT, "hardlink");
	json_decref(rec);
}

Test(manifest, get_u64_and_type_names)
{
	static const char *names[] = { NULL, "file", "dir", "symlink",
	    "hardlink", "other" };
	json_t *rec = jparse("{\"a\":0,\"b\":9007199254740993,\"c\":-1,"
	    "\"d\":\"1\",\"e\":1.0,\"f\":null}");
	uint64_t v;
	int i;

	cr_expect_eq(manifest_get_u64(rec, "a", &v), ERR_OK);
	cr_expect_eq(v, 0);
	cr_expect_eq(manifest_get_u64(rec, "b", &v), ERR_OK);
	cr_expect_eq(v, 9007199254740993ULL);
	cr_expect_eq(manifest_get_u64(rec, "c", &v), ERR_CORRUPT);
	cr_expect_eq(manifest_get_u64(rec, "d", &v), ERR_CORRUPT);
	cr_expect_eq(manifest_get_u64(rec, "e", &v), ERR_CORRUPT);
	cr_expect_eq(manifest_get_u64(rec, "f", &v), ERR_CORRUPT);
	cr_expect_eq(manifest_get_u64(rec, "missing", &v), ERR_CORRUPT);
	json_decref(rec);
	for (i = MF_FILE; i <= MF_OTHER; i++) {
		cr_expect_str_eq(manifest_type_name(i), names[i]);
		cr_expect_eq(manifest_type_parse(names[i]), i);
	}
	cr_expect_str_eq(manifest_type_name(0), "?");
	cr_expect_str_eq(manifest_type_name(6), "?");
	cr_expect_eq(manifest_type_parse("File"), -1);
	cr_expect_eq(manifest_type_parse(""), -1);
	cr_expect_eq(manifest_type_parse("fifo"), -1);
}

Test(manifest, file_decode_path_with_nul_no_double_free)
{
	struct mfile f;
	json_t *rec = file_rec();

	json_object_set_new(rec, "path", json_stringn("a\0b", 3));
	cr_expect_eq(decode_v1(rec, &f), ERR_CORRUPT);
	json_decref(rec);
	rec = jparse("{\"t\":\"file\",\"path\":\"l\",\"type\":\"symlink\","
	    "\"size\":0,\"o\":0,\"e\":512}");
	json_object_set_new(rec, "link", json_stringn("x\0y", 3));
	cr_expect_eq(decode_v1(rec, &f), ERR_CORRUPT);
	json_decref(rec);
}

/* Version 3 "file" records: segments instead of o and e. */
Test(manifest, file_decode_segments)
{
	static const char *const bad[] = {
		"[[0, 0]]",                 /* two numbers */
		"[[0, 0, 0]]",              /* empty */
		"[[0, -1, 5]]",             /* negative */
		"[[257, 0, 5]]",            /* source past the deps bound */
		"[[0, 0, 4611686018427387905]]",  /* over 2^62 */
		"[[0, \"0\", 5]]",
		"[[0, 0, 1.5]]",
		"[0, 0, 5]",
		"{\"a\": 1}",
	};
	struct mfile f;
	json_t *rec;
	size_t i;
	char *big, *p;

	rec = file_rec();
	json_object_del(rec, "o");
	json_object_del(rec, "e");
	json_object_set_new(rec, "s", jparse("[[0, 1024, 512], [3, 0, 1024],"
	    " [256, 4611686018427387904, 1]]"));
	cr_assert_eq(decode_v1(rec, &f), ERR_OK, "%s", err_get());
	cr_assert_eq(f.nseg, 3);
	cr_expect_eq(f.seg[0].src, 0);
	cr_expect_eq(f.seg[0].off, 1024);
	cr_expect_eq(f.seg[0].len, 512);
	cr_expect_eq(f.seg[1].src, 3);
	cr_expect_eq(f.seg[2].src, 256);
	cr_expect_eq(f.seg[2].off, 1ULL << 62);
	manifest_file_release(&f);
	cr_expect_null(f.seg);
	/* none: an empty raw archive's file (the restore checks that) */
	json_object_set_new(rec, "s", jparse("[]"));
	cr_expect_eq(decode_v1(rec, &f), ERR_OK);
	cr_expect_eq(f.nseg, 0);
	cr_expect(f.has_seg);
	manifest_file_release(&f);
	json_object_set_new(rec, "s", jparse("[[0, 1024, 512]]"));
	/* o and e beside segments: refused */
	json_object_set_new(rec, "o", json_integer(0));
	cr_expect_eq(decode_v1(rec, &f), ERR_CORRUPT);
	json_object_del(rec, "o");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object_set_new(rec, "s", jparse(bad[i]));
		cr_expect_eq(decode_v1(rec, &f), ERR_CORRUPT, "%s", bad[i]);
		cr_expect_null(f.seg);
	}
	/* at most MANIFEST_MAX_SEG */
	big = malloc((MANIFEST_MAX_SEG + 1) * 10 + 8);
	cr_assert_not_null(big);
	p = big;
	*p++ = '[';
	for (i = 0; i <= MANIFEST_MAX_SEG; i++) {
		memcpy(p, ",[0,0,1]" + (i == 0), 8 - (i == 0));
		p += 8 - (i == 0);
	}
	memcpy(p, "]", 2);
	json_object_set_new(rec, "s", jparse(big));
	cr_expect_eq(decode_v1(rec, &f), ERR_CORRUPT, "too many segments");
	free(big);
	json_decref(rec);
}
