/*
 * bkp-forge: test-only archive forger.  Sealed boxes are anonymous, so
 * anyone holding a repository's public keys can write an archive that
 * decrypts; this tool does exactly that, so tests can prove that restore
 * survives hostile tar streams that `bkp backup` never produces.
 *
 *   bkp-forge REPO NAME TARFILE MANIFEST_LINES
 *
 * Writes data/<id> whose plaintext is TARFILE verbatim (content "tar"),
 * manifests/<id> holding the "archive" record, the "file" records read from
 * MANIFEST_LINES (one JSON object per line, used as given), the "chunk"
 * records and the "end" record, then archives/<id>.json (the commit), all
 * as docs/FORMAT.md §4-§8 specify.  Prints the new archive id.
 * BKP_FORGE_FORMAT=1 writes format version 1 (BLAKE2b-256 hashes) instead
 * of the current version 2 (BLAKE3), so that the tests also prove bkp
 * still reads version 1 archives; the file records' hash member must then
 * be "blake2b" (else "blake3").
 * Exit status: 0 ok, 1 failure, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto.h"
#include "err.h"
#include "hash.h"
#include "keys.h"
#include "manifest.h"
#include "objfmt.h"
#include "ostream.h"
#include "repo.h"
#include "storage.h"
#include "util.h"

#define BUFSZ (1u << 16)

/* Chunk callback: one manifest "chunk" record per data chunk. */
static int
chunk_record(void *arg, const struct ostream_chunk *c)
{
	json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I}", "t", "chunk", "i",
	    (json_int_t)c->index, "off", (json_int_t)c->offset, "len",
	    (json_int_t)c->sealed_len, "plain", (json_int_t)c->plain_len);
	int rc = j == NULL ? ERR_FAIL : manifest_put(arg, j);

	json_decref(j);
	return rc == ERR_OK ? 0 : -1;
}

/* Put rec (consumed) into the manifest. */
static int
put(struct manifest_writer *mw, json_t *rec)
{
	int rc;

	if (rec == NULL) {
		err_set("cannot build a manifest record");
		return ERR_FAIL;
	}
	rc = manifest_put(mw, rec);
	json_decref(rec);
	return rc;
}

/* Copy the records of path into the manifest, as given; count the "file"
 * records and their content bytes. */
static int
put_file_records(struct manifest_writer *mw, const char *path,
    uint64_t *files, uint64_t *bytes)
{
	json_error_t jerr;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t size;
	json_t *j;
	FILE *f;
	int rc = ERR_OK;

	if ((f = fopen(path, "r")) == NULL) {
		err_set("cannot open '%s'", path);
		return ERR_FAIL;
	}
	while (rc == ERR_OK && (n = getline(&line, &cap, f)) > 0) {
		if (n == 1 && line[0] == '\n')
			continue;
		if ((j = json_loads(line, JSON_REJECT_DUPLICATES, &jerr)) ==
		    NULL) {
			err_set("'%s' line %d: %s", path, jerr.line, jerr.text);
			rc = ERR_FAIL;
			break;
		}
		if (json_is_string(json_object_get(j, "t")) &&
		    strcmp(json_string_value(json_object_get(j, "t")),
		    "file") == 0) {
			if (manifest_get_u64(j, "size", &size) == ERR_OK)
				*bytes += size;
			(*files)++;
		}
		rc = put(mw, j);
	}
	free(line);
	fclose(f);
	return rc;
}

/* Stream the tar file into the data object. */
static int
put_tar(struct ostream *os, const char *path, uint64_t *tar_bytes)
{
	uint8_t *buf;
	size_t n;
	FILE *f;
	int rc = ERR_OK;

	if ((f = fopen(path, "rb")) == NULL || (buf = malloc(BUFSZ)) == NULL) {
		if (f != NULL)
			fclose(f);
		err_set("cannot read '%s'", path);
		return ERR_FAIL;
	}
	while (rc == ERR_OK && (n = fread(buf, 1, BUFSZ, f)) > 0) {
		rc = ostream_write(os, buf, n);
		*tar_bytes += n;
	}
	if (rc == ERR_OK && ferror(f)) {
		err_set("cannot read '%s'", path);
		rc = ERR_FAIL;
	}
	free(buf);
	fclose(f);
	return rc;
}

static json_t *
objref(int alg, const char *key, uint64_t size, const uint8_t hash[32])
{
	char hex[65];

	util_hex(hash, 32, hex);
	return json_pack("{s:s, s:I, s:s}", "key", key, "size",
	    (json_int_t)size, hash_name(alg), hex);
}

/* The recipients array: the data key sealed to every configured key. */
static json_t *
recipients(const struct repo_config *cfg, const uint8_t *datakey)
{
	uint8_t sealed[KEYS_SEALED];
	json_t *arr = json_array();
	char *b64;
	size_t i;

	for (i = 0; arr != NULL && i < cfg->nrecip; i++) {
		if (keys_seal(&cfg->recip[i], datakey, sealed) != ERR_OK ||
		    (b64 = util_b64(sealed, sizeof(sealed))) == NULL) {
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, json_pack("{s:s, s:s}", "fpr",
		    cfg->recip[i].fpr, "sealed", b64));
		free(b64);
	}
	return arr;
}

int
main(int argc, char **argv)
{
	const struct repo_config *cfg;
	struct repo *r = NULL;
	struct manifest_writer *mw = NULL;
	struct ostream *os = NULL;
	struct ostream_result dres;
	struct obj_header h;
	uint8_t *keys = NULL;       /* datakey | data subkey | manifest subkey */
	uint8_t mhash[32];
	uint64_t files = 0, bytes = 0, tar_bytes = 0, msize;
	char id[REPO_ID_HEX + 1], dkey[64], mkey[64], rkey[64], when[40];
	char hex[65], member[HASH_MEMBER_MAX], *text = NULL;
	const char *fmt = getenv("BKP_FORGE_FORMAT");
	int version = fmt != NULL && strcmp(fmt, "1") == 0 ? 1 : 2;
	int alg = version == 1 ? HASH_BLAKE2B : HASH_BLAKE3;
	const char *host = "bkp-forge";
	int64_t created_us = util_now_us();
	int rc = ERR_FAIL, data_done = 0, man_done = 0;
	json_t *rec;

	if (argc != 5) {
		fprintf(stderr, "usage: bkp-forge REPO NAME TARFILE "
		    "MANIFEST_LINES\n");
		return 2;
	}
	if (crypto_init() != 0 || (keys = sodium_malloc(3 * 32)) == NULL) {
		err_set("cannot initialise libsodium");
		goto done;
	}
	if ((rc = repo_open(argv[1], NULL, &r)) != ERR_OK)
		goto done;
	cfg = repo_config(r);
	randombytes_buf(keys, 32);
	crypto_subkey(keys, "data", keys + 32);
	crypto_subkey(keys, "manifest", keys + 64);
	memset(&h, 0, sizeof(h));
	randombytes_buf(h.id, sizeof(h.id));
	util_hex(h.id, sizeof(h.id), id);
	h.type = OBJ_TYPE_DATA;
	h.cipher = crypto_cipher_pick(cfg->cipher);
	h.content = OBJ_CONTENT_TAR;
	h.chunk_size = cfg->chunk_size;
	repo_key_data(id, dkey, sizeof(dkey));
	repo_key_manifest(id, mkey, sizeof(mkey));
	repo_key_record(id, rkey, sizeof(rkey));
	util_iso8601(created_us, when, sizeof(when));

	/* Manifest: archive record, file records; data: the tar, with a
	 * chunk record per chunk; then the end record. */
	if ((rc = manifest_writer_new(repo_storage(r), mkey, h.cipher,
	    keys + 64, h.id, alg, &mw)) != ERR_OK)
		goto done;
	rec = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I}",
	    "t", "archive", "v", version, "id", id, "name", argv[2],
	    "host", host, "created", when, "created_us",
	    (json_int_t)created_us, "cipher", crypto_cipher_name(h.cipher),
	    "content", "tar", "chunk_size", (json_int_t)h.chunk_size);
	if (rec != NULL && version >= 2)
		json_object_set_new(rec, "hash", json_string(hash_name(alg)));
	if ((rc = put(mw, rec)) != ERR_OK ||
	    (rc = put_file_records(mw, argv[4], &files, &bytes)) != ERR_OK ||
	    (rc = ostream_new(repo_storage(r), dkey, &h, keys + 32, alg, 3, 0,
	    chunk_record, mw, &os)) != ERR_OK ||
	    (rc = put_tar(os, argv[3], &tar_bytes)) != ERR_OK ||
	    (rc = ostream_finish(os, &dres)) != ERR_OK)
		goto done;
	data_done = 1;
	util_hex(dres.hash, 32, hex);
	if ((rc = put(mw, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:I}",
	    "t", "end", "files", (json_int_t)files, "bytes", (json_int_t)bytes,
	    "tar_bytes", (json_int_t)tar_bytes, "chunks",
	    (json_int_t)dres.chunks, "data_size", (json_int_t)dres.size,
	    hash_member(member, "data", alg), hex, "warnings",
	    (json_int_t)0))) != ERR_OK ||
	    (rc = manifest_writer_finish(mw, &msize, mhash)) != ERR_OK)
		goto done;
	man_done = 1;

	/* The archive record: the commit. */
	rec = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I, "
	    "s:I, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:f}}",
	    "bkp_archive", version, "id", id, "repository", cfg->id,
	    "name", argv[2], "host", host, "created", when,
	    "created_us", (json_int_t)created_us,
	    "cipher", crypto_cipher_name(h.cipher), "content", "tar",
	    "chunk_size", (json_int_t)h.chunk_size,
	    "chunks", (json_int_t)dres.chunks,
	    "data", objref(alg, dkey, dres.size, dres.hash),
	    "manifest", objref(alg, mkey, msize, mhash),
	    "recipients", recipients(cfg, keys),
	    "stats", "files", (json_int_t)files, "bytes", (json_int_t)bytes,
	    "tar_bytes", (json_int_t)tar_bytes, "warnings", (json_int_t)0,
	    "seconds", 0.0);
	if (rec != NULL && version >= 2)
		json_object_set_new(rec, "hash", json_string(hash_name(alg)));
	text = rec == NULL ? NULL : json_dumps(rec, JSON_INDENT(2) |
	    JSON_SORT_KEYS);
	json_decref(rec);
	if (text == NULL) {
		err_set("cannot build the archive record");
		rc = ERR_FAIL;
		goto done;
	}
	if ((rc = storage_put_bytes(repo_storage(r), rkey, text,
	    strlen(text))) != ERR_OK)
		goto done;
	printf("%s\n", id);
done:
	if (rc != ERR_OK) {
		fprintf(stderr, "bkp-forge: %s\n", err_get());
		if (data_done)
			storage_delete(repo_storage(r), dkey);
		if (man_done)
			storage_delete(repo_storage(r), mkey);
	}
	free(text);
	ostream_free(os);
	manifest_writer_free(mw);
	repo_free(r);
	if (keys != NULL)
		sodium_free(keys);
	return rc == ERR_OK ? 0 : 1;
}
