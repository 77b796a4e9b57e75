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
 * of version 2 (BLAKE3), so that the tests also prove bkp still reads
 * version 1 archives; the file records' hash member must then be
 * "blake2b" (else "blake3").
 *
 * BKP_FORGE_FORMAT=3 writes a version 3 archive (docs/FORMAT.md §5-§8a):
 * TARFILE's bytes are the archive's pieces (data/<id>, not necessarily a
 * tar stream), the "chunk" records go into its frames object
 * (frames/<id>, subkey "frames": a "frames" record, the chunk records,
 * an "end" record), the manifest's "archive" record and the record carry
 * deps, base and chain, and the manifest's "end" binds the frames object
 * (frames_size, frames_blake3).  The file records are still used as
 * given: they must carry "s" segments ([[src, off, len], ...]), which may
 * name deps (source k >= 1 is deps[k-1]).  Version 3 knobs:
 *   BKP_FORGE_DEPS         the deps, archive ids separated by spaces (the
 *                          word "self" is the new archive's own id);
 *                          default none
 *   BKP_FORGE_BASE         base: an id, "self", or "null"; default the
 *                          last of the deps (null without deps)
 *   BKP_FORGE_CHAIN        chain; default 0 without deps, else 1
 *   BKP_FORGE_FRAMES_EDIT  merged into the frames object's "end" record
 *   BKP_FORGE_FRAMES_HEAD_EDIT  merged into its "frames" record
 *   BKP_FORGE_SWAP_FRAMES=1  store the manifest at frames/<id> and the
 *                          frames object at manifests/<id> (each sealed
 *                          under its own subkey, as written), the record
 *                          naming the sizes and hashes of what is stored
 *                          at each key
 * (BKP_FORGE_CHUNK_EDIT edits the frames object's chunk records.)
 *
 * Knobs for every version:
 *   BKP_FORGE_CONTENT=raw  content "raw" (data object header and records)
 *   BKP_FORGE_CREATED_US=N the archive's created_us (default: now)
 *   BKP_FORGE_CHUNK_SIZE=N the data object's chunk size (default: the
 *                          repository's)
 *   BKP_FORGE_ARCHIVE_EDIT merged into the manifest's "archive" record
 *
 * Knobs for manifest- and container-level attacks (all optional; each a
 * JSON text in the environment unless said otherwise):
 *   BKP_FORGE_RECORD_EDIT  merged into the archive record (archives/<id>.json)
 *                          before it is written: members replace, objects
 *                          merge recursively, null deletes a member
 *   BKP_FORGE_END_EDIT     merged likewise into the manifest's "end" record
 *   BKP_FORGE_CHUNK_EDIT   an object keyed by chunk index ("0", "1", ...):
 *                          an object is merged into that "chunk" record,
 *                          null drops the record, an array of objects is
 *                          written instead of it (each merged into a copy)
 *   BKP_FORGE_RAW_LINES    a FILE whose bytes are appended verbatim to the
 *                          manifest plaintext after the file records (no
 *                          JSON check, no line-length bound)
 *   BKP_FORGE_BOMB=N       a decompression bomb: the data object is one
 *                          chunk, TARFILE padded with zeros to N bytes,
 *                          compressed as one zstd frame that declares N
 *                          bytes (the chunk record says chunk_size, or N
 *                          if smaller); with BKP_FORGE_BOMB_NOSIZE=1 the
 *                          frame does not declare its content size
 * Manifest records are written here (not through manifest_put), so a
 * record may exceed the readers' line bound.
 * Exit status: 0 ok, 1 failure, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <zstd.h>

#include "crypto.h"
#include "err.h"
#include "hash.h"
#include "keys.h"
#include "objfmt.h"
#include "ostream.h"
#include "repo.h"
#include "storage.h"
#include "util.h"

#define BUFSZ (1u << 16)
#define MANIFEST_CHUNK (1u << 20)

/* The manifest's plaintext stream (docs/FORMAT.md §8), written here so
 * that lines need not be valid or short. */
struct mw {
	struct ostream *os;
};

static int
mput_raw(struct mw *mw, const void *b, size_t n)
{
	return ostream_write(mw->os, b, n);
}

static int
mput(struct mw *mw, const json_t *rec)
{
	char *s;
	int rc;

	if ((s = json_dumps(rec, JSON_COMPACT | JSON_ENSURE_ASCII)) == NULL) {
		err_set("cannot encode manifest record");
		return ERR_FAIL;
	}
	rc = mput_raw(mw, s, strlen(s));
	free(s);
	return rc == ERR_OK ? mput_raw(mw, "\n", 1) : rc;
}

/* JSON merge (RFC 7386): patch's members replace dst's, objects merge,
 * null deletes. */
static void
merge(json_t *dst, json_t *patch)
{
	const char *k;
	json_t *v, *d;

	json_object_foreach(patch, k, v) {
		d = json_object_get(dst, k);
		if (json_is_null(v))
			json_object_del(dst, k);
		else if (json_is_object(v) && json_is_object(d))
			merge(d, v);
		else
			json_object_set(dst, k, v);
	}
}

/* The JSON of environment variable name, or NULL (set: fail on bad JSON). */
static json_t *
env_json(const char *name, int *bad)
{
	const char *s = getenv(name);
	json_error_t jerr;
	json_t *j;

	if (s == NULL || *s == '\0')
		return NULL;
	if ((j = json_loads(s, 0, &jerr)) == NULL) {
		fprintf(stderr, "bkp-forge: %s: %s\n", name, jerr.text);
		*bad = 1;
	}
	return j;
}

static json_t *chunk_edit;

/* Chunk callback: one manifest "chunk" record per data chunk (edited as
 * BKP_FORGE_CHUNK_EDIT says). */
static int
chunk_put(struct mw *mw, uint64_t index, uint64_t offset, uint64_t sealed,
    uint64_t plain)
{
	json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I}", "t", "chunk", "i",
	    (json_int_t)index, "off", (json_int_t)offset, "len",
	    (json_int_t)sealed, "plain", (json_int_t)plain);
	json_t *ed = NULL, *c, *v;
	char k[32];
	size_t i;
	int rc = ERR_OK;

	if (j == NULL)
		return ERR_FAIL;
	snprintf(k, sizeof(k), "%llu", (unsigned long long)index);
	if (chunk_edit != NULL)
		ed = json_object_get(chunk_edit, k);
	if (ed == NULL || json_is_object(ed)) {
		if (ed != NULL)
			merge(j, ed);
		rc = mput(mw, j);
	} else if (json_is_array(ed)) {
		json_array_foreach(ed, i, v) {
			if (rc != ERR_OK || (c = json_deep_copy(j)) == NULL)
				break;
			if (json_is_object(v))
				merge(c, v);
			rc = mput(mw, c);
			json_decref(c);
		}
	}       /* null: dropped */
	json_decref(j);
	return rc;
}

static int
chunk_record(void *arg, const struct ostream_chunk *c)
{
	return chunk_put(arg, c->index, c->offset, c->sealed_len,
	    c->plain_len) == ERR_OK ? 0 : -1;
}

/* Put rec (consumed) into the manifest. */
static int
put(struct mw *mw, json_t *rec)
{
	int rc;

	if (rec == NULL) {
		err_set("cannot build a manifest record");
		return ERR_FAIL;
	}
	rc = mput(mw, rec);
	json_decref(rec);
	return rc;
}

/* Copy the records of path into the manifest, as given; count the "file"
 * records and their content bytes. */
static int
put_file_records(struct mw *mw, const char *path,
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
			size = json_integer_value(json_object_get(j,
			    "size"));
			if (json_is_integer(json_object_get(j, "size")))
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

/* Append the bytes of file path to the manifest verbatim. */
static int
put_raw_lines(struct mw *mw, const char *path)
{
	uint8_t buf[BUFSZ];
	size_t n;
	FILE *f;
	int rc = ERR_OK;

	if ((f = fopen(path, "rb")) == NULL) {
		err_set("cannot open '%s'", path);
		return ERR_FAIL;
	}
	while (rc == ERR_OK && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		rc = mput_raw(mw, buf, n);
	fclose(f);
	return rc;
}

/*
 * BKP_FORGE_BOMB: write the data object by hand: one chunk whose
 * plaintext is the tar padded with zeros to n bytes, as one zstd frame
 * (declaring its content size unless nosize), sealed as the last chunk.
 */
static int
put_bomb(struct storage *sto, const char *dkey, const struct obj_header *h,
    const uint8_t *subkey, int alg, const char *tarpath, uint64_t n,
    int nosize, struct mw *mw, struct ostream_result *res,
    uint64_t *tar_bytes)
{
	uint8_t hdr[OBJ_HEADER], *plain = NULL, *obj = NULL;
	size_t zcap, z, got;
	ZSTD_CCtx *cc = NULL;
	FILE *f = NULL;
	int rc = ERR_FAIL;

	objfmt_encode(h, hdr);
	zcap = ZSTD_compressBound((size_t)n);
	if ((plain = calloc(1, (size_t)n)) == NULL ||
	    (obj = malloc(OBJ_HEADER + 4 + zcap + CRYPTO_TAG)) == NULL ||
	    (cc = ZSTD_createCCtx()) == NULL ||
	    (f = fopen(tarpath, "rb")) == NULL) {
		err_set("bomb: out of memory or cannot read '%s'", tarpath);
		goto out;
	}
	got = fread(plain, 1, (size_t)n, f);
	*tar_bytes = n;
	(void)got;
	ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, nosize ? 0 : 1);
	z = ZSTD_compress2(cc, obj + OBJ_HEADER + 4, zcap, plain, (size_t)n);
	if (ZSTD_isError(z)) {
		err_set("bomb: zstd: %s", ZSTD_getErrorName(z));
		goto out;
	}
	/* seal in place: the compressed frame, then the tag */
	{
		uint8_t *frame = malloc(z);

		if (frame == NULL)
			goto out;
		memcpy(frame, obj + OBJ_HEADER + 4, z);
		rc = crypto_seal(h->cipher, subkey, hdr, OBJ_HEADER, 0, 1,
		    frame, z, obj + OBJ_HEADER + 4);
		free(frame);
		if (rc != ERR_OK)
			goto out;
	}
	memcpy(obj, hdr, OBJ_HEADER);
	objfmt_put_le32(obj + OBJ_HEADER, (uint32_t)(z + CRYPTO_TAG));
	res->size = OBJ_HEADER + 4 + z + CRYPTO_TAG;
	res->chunks = 1;
	hash_buf(alg, obj, (size_t)res->size, res->hash);
	if ((rc = chunk_put(mw, 0, OBJ_HEADER, z + CRYPTO_TAG,
	    n < h->chunk_size ? n : h->chunk_size)) != ERR_OK)
		goto out;
	rc = storage_put_bytes(sto, dkey, obj, (size_t)res->size);
out:
	if (f != NULL)
		fclose(f);
	ZSTD_freeCCtx(cc);
	free(plain);
	free(obj);
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

/* Version 3: deps, base and chain from the environment (BKP_FORGE_DEPS,
 * BKP_FORGE_BASE, BKP_FORGE_CHAIN), "self" being the archive's own id. */
static int
chain_members(const char *id, json_t **deps, json_t **base, json_int_t *chain)
{
	const char *d = getenv("BKP_FORGE_DEPS");
	const char *b = getenv("BKP_FORGE_BASE");
	const char *c = getenv("BKP_FORGE_CHAIN");
	char *copy, *tok, *save = NULL;

	if ((*deps = json_array()) == NULL)
		return ERR_FAIL;
	if (d != NULL && *d != '\0') {
		if ((copy = strdup(d)) == NULL)
			return ERR_FAIL;
		for (tok = strtok_r(copy, " \t\n", &save); tok != NULL;
		    tok = strtok_r(NULL, " \t\n", &save))
			json_array_append_new(*deps, json_string(
			    strcmp(tok, "self") == 0 ? id : tok));
		free(copy);
	}
	if (b != NULL && *b != '\0')
		*base = strcmp(b, "null") == 0 ? json_null() :
		    json_string(strcmp(b, "self") == 0 ? id : b);
	else if (json_array_size(*deps) > 0)
		*base = json_deep_copy(json_array_get(*deps,
		    json_array_size(*deps) - 1));
	else
		*base = json_null();
	*chain = c != NULL && *c != '\0' ? (json_int_t)strtoll(c, NULL, 10) :
	    json_array_size(*deps) > 0 ? 1 : 0;
	return *base != NULL ? ERR_OK : ERR_FAIL;
}

/* Add the version 3 members deps, base and chain to rec. */
static void
set_chain(json_t *rec, json_t *deps, json_t *base, json_int_t chain)
{
	json_object_set_new(rec, "deps", json_deep_copy(deps));
	json_object_set_new(rec, "base", json_deep_copy(base));
	json_object_set_new(rec, "chain", json_integer(chain));
}

/* BKP_FORGE_SWAP_FRAMES: exchange the objects stored at keys a and b. */
static int
swap_objects(struct storage *st, const char *a, const char *b)
{
	uint8_t *ba = NULL, *bb = NULL;
	size_t la, lb;
	int rc;

	if ((rc = storage_get(st, a, 1u << 30, &ba, &la)) != ERR_OK ||
	    (rc = storage_get(st, b, 1u << 30, &bb, &lb)) != ERR_OK)
		goto out;
	if ((rc = storage_delete(st, a)) != ERR_OK ||
	    (rc = storage_delete(st, b)) != ERR_OK ||
	    (rc = storage_put_bytes(st, a, bb, lb)) != ERR_OK)
		goto out;
	rc = storage_put_bytes(st, b, ba, la);
out:
	free(ba);
	free(bb);
	return rc;
}

int
main(int argc, char **argv)
{
	const struct repo_config *cfg;
	struct repo *r = NULL;
	struct mw mwbuf = { NULL }, *mw = &mwbuf;
	struct mw fwbuf = { NULL }, *fw = &fwbuf;
	struct mw *cw;              /* where the chunk records go */
	struct obj_header mh;
	struct ostream *os = NULL;
	struct ostream_result dres;
	struct obj_header h;
	/* datakey | data subkey | manifest subkey | frames subkey */
	uint8_t *keys = NULL;
	uint8_t mhash[32], fhash[32];
	uint64_t files = 0, bytes = 0, tar_bytes = 0, msize, fsize = 0;
	char id[REPO_ID_HEX + 1], dkey[64], mkey[64], fkey[64], rkey[64];
	char when[40], hex[65], member[HASH_MEMBER_MAX], *text = NULL;
	const char *fmt = getenv("BKP_FORGE_FORMAT");
	int version = fmt == NULL ? 2 : strcmp(fmt, "1") == 0 ? 1 :
	    strcmp(fmt, "3") == 0 ? 3 : 2;
	int alg = version == 1 ? HASH_BLAKE2B : HASH_BLAKE3;
	const char *host = "bkp-forge";
	const char *cont = getenv("BKP_FORGE_CONTENT");
	const char *cus = getenv("BKP_FORGE_CREATED_US");
	const char *swap = getenv("BKP_FORGE_SWAP_FRAMES");
	const char *csz = getenv("BKP_FORGE_CHUNK_SIZE");
	const char *content;
	int64_t created_us = cus != NULL && *cus != '\0' ?
	    (int64_t)strtoll(cus, NULL, 10) : util_now_us();
	int rc = ERR_FAIL, data_done = 0, man_done = 0, fr_done = 0, bad = 0;
	const char *raw_lines = getenv("BKP_FORGE_RAW_LINES");
	const char *bomb = getenv("BKP_FORGE_BOMB");
	const char *nosize = getenv("BKP_FORGE_BOMB_NOSIZE");
	json_t *rec, *record_edit, *end_edit, *archive_edit, *frames_edit;
	json_t *frames_head_edit, *deps = NULL, *base = NULL;
	json_int_t chain = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: bkp-forge REPO NAME TARFILE "
		    "MANIFEST_LINES\n");
		return 2;
	}
	content = cont != NULL && strcmp(cont, "raw") == 0 ? "raw" : "tar";
	record_edit = env_json("BKP_FORGE_RECORD_EDIT", &bad);
	end_edit = env_json("BKP_FORGE_END_EDIT", &bad);
	chunk_edit = env_json("BKP_FORGE_CHUNK_EDIT", &bad);
	archive_edit = env_json("BKP_FORGE_ARCHIVE_EDIT", &bad);
	frames_edit = env_json("BKP_FORGE_FRAMES_EDIT", &bad);
	frames_head_edit = env_json("BKP_FORGE_FRAMES_HEAD_EDIT", &bad);
	if (bad)
		return 2;
	if (crypto_init() != 0 || (keys = sodium_malloc(4 * 32)) == NULL) {
		err_set("cannot initialise libsodium");
		goto done;
	}
	if ((rc = repo_open(argv[1], NULL, &r)) != ERR_OK)
		goto done;
	cfg = repo_config(r);
	randombytes_buf(keys, 32);
	crypto_subkey(keys, "data", keys + 32);
	crypto_subkey(keys, "manifest", keys + 64);
	crypto_subkey(keys, "frames", keys + 96);
	memset(&h, 0, sizeof(h));
	randombytes_buf(h.id, sizeof(h.id));
	util_hex(h.id, sizeof(h.id), id);
	h.type = OBJ_TYPE_DATA;
	h.cipher = crypto_cipher_pick(cfg->cipher);
	h.content = strcmp(content, "raw") == 0 ? OBJ_CONTENT_RAW :
	    OBJ_CONTENT_TAR;
	h.chunk_size = csz != NULL && *csz != '\0' ?
	    (uint32_t)strtoul(csz, NULL, 10) : cfg->chunk_size;
	repo_key_data(id, dkey, sizeof(dkey));
	repo_key_manifest(id, mkey, sizeof(mkey));
	repo_key_frames(id, fkey, sizeof(fkey));
	repo_key_record(id, rkey, sizeof(rkey));
	util_iso8601(created_us, when, sizeof(when));
	if (version >= 3 && chain_members(id, &deps, &base, &chain) !=
	    ERR_OK) {
		err_set("cannot build deps, base and chain");
		rc = ERR_FAIL;
		goto done;
	}

	/* Manifest: archive record, file records; data: the tar, with a
	 * chunk record per chunk (in the manifest, or in version 3 in the
	 * frames object); then the end records. */
	memset(&mh, 0, sizeof(mh));
	mh.type = OBJ_TYPE_MANIFEST;
	mh.cipher = h.cipher;
	mh.content = OBJ_CONTENT_JSONL;
	mh.chunk_size = MANIFEST_CHUNK;
	memcpy(mh.id, h.id, sizeof(mh.id));
	if ((rc = ostream_new(repo_storage(r), mkey, &mh, keys + 64, alg, 3, 0,
	    NULL, NULL, &mw->os)) != ERR_OK)
		goto done;
	cw = mw;
	if (version >= 3) {
		if ((rc = ostream_new(repo_storage(r), fkey, &mh, keys + 96,
		    alg, 3, 0, NULL, NULL, &fw->os)) != ERR_OK)
			goto done;
		rec = json_pack("{s:s, s:i, s:s}", "t", "frames", "v", version,
		    "id", id);
		if (rec != NULL && frames_head_edit != NULL)
			merge(rec, frames_head_edit);
		if ((rc = put(fw, rec)) != ERR_OK)
			goto done;
		cw = fw;
	}
	rec = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I}",
	    "t", "archive", "v", version, "id", id, "name", argv[2],
	    "host", host, "created", when, "created_us",
	    (json_int_t)created_us, "cipher", crypto_cipher_name(h.cipher),
	    "content", content, "chunk_size", (json_int_t)h.chunk_size);
	if (rec != NULL && version >= 2)
		json_object_set_new(rec, "hash", json_string(hash_name(alg)));
	if (rec != NULL && version >= 3)
		set_chain(rec, deps, base, chain);
	if (rec != NULL && archive_edit != NULL)
		merge(rec, archive_edit);
	if ((rc = put(mw, rec)) != ERR_OK ||
	    (rc = put_file_records(mw, argv[4], &files, &bytes)) != ERR_OK ||
	    (raw_lines != NULL && *raw_lines != '\0' &&
	    (rc = put_raw_lines(mw, raw_lines)) != ERR_OK))
		goto done;
	if (bomb != NULL && *bomb != '\0') {
		if ((rc = put_bomb(repo_storage(r), dkey, &h, keys + 32, alg,
		    argv[3], strtoull(bomb, NULL, 10), nosize != NULL &&
		    strcmp(nosize, "1") == 0, cw, &dres, &tar_bytes)) != ERR_OK)
			goto done;
	} else if ((rc = ostream_new(repo_storage(r), dkey, &h, keys + 32, alg,
	    3, 0, chunk_record, cw, &os)) != ERR_OK ||
	    (rc = put_tar(os, argv[3], &tar_bytes)) != ERR_OK ||
	    (rc = ostream_finish(os, &dres)) != ERR_OK)
		goto done;
	data_done = 1;
	util_hex(dres.hash, 32, hex);
	if (version >= 3) {
		struct ostream_result fres;

		rec = json_pack("{s:s, s:I, s:I, s:s}", "t", "end",
		    "chunks", (json_int_t)dres.chunks,
		    "data_size", (json_int_t)dres.size,
		    hash_member(member, "data", alg), hex);
		if (rec != NULL && frames_edit != NULL)
			merge(rec, frames_edit);
		if ((rc = put(fw, rec)) != ERR_OK ||
		    (rc = ostream_finish(fw->os, &fres)) != ERR_OK)
			goto done;
		fsize = fres.size;
		memcpy(fhash, fres.hash, 32);
		fr_done = 1;
	}
	rec = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:I}",
	    "t", "end", "files", (json_int_t)files, "bytes", (json_int_t)bytes,
	    "tar_bytes", (json_int_t)tar_bytes, "chunks",
	    (json_int_t)dres.chunks, "data_size", (json_int_t)dres.size,
	    hash_member(member, "data", alg), hex, "warnings",
	    (json_int_t)0);
	if (rec != NULL && version >= 3) {
		json_object_set_new(rec, "frames_size", json_integer(
		    (json_int_t)fsize));
		util_hex(fhash, 32, hex);
		json_object_set_new(rec, hash_member(member, "frames", alg),
		    json_string(hex));
	}
	if (rec != NULL && end_edit != NULL)
		merge(rec, end_edit);
	if ((rc = put(mw, rec)) != ERR_OK)
		goto done;
	{
		struct ostream_result mres;

		if ((rc = ostream_finish(mw->os, &mres)) != ERR_OK)
			goto done;
		msize = mres.size;
		memcpy(mhash, mres.hash, 32);
	}
	man_done = 1;
	if (version >= 3 && swap != NULL && strcmp(swap, "1") == 0) {
		uint64_t t;
		uint8_t th[32];

		if ((rc = swap_objects(repo_storage(r), mkey, fkey)) != ERR_OK)
			goto done;
		t = msize, msize = fsize, fsize = t;
		memcpy(th, mhash, 32);
		memcpy(mhash, fhash, 32);
		memcpy(fhash, th, 32);
	}

	/* The archive record: the commit. */
	rec = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I, "
	    "s:I, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:f}}",
	    "bkp_archive", version, "id", id, "repository", cfg->id,
	    "name", argv[2], "host", host, "created", when,
	    "created_us", (json_int_t)created_us,
	    "cipher", crypto_cipher_name(h.cipher), "content", content,
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
	if (rec != NULL && version >= 3) {
		json_object_set_new(rec, "frames", objref(alg, fkey, fsize,
		    fhash));
		set_chain(rec, deps, base, chain);
	}
	if (rec != NULL && record_edit != NULL)
		merge(rec, record_edit);
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
		if (fr_done)
			storage_delete(repo_storage(r), fkey);
	}
	free(text);
	ostream_free(os);
	ostream_free(mw->os);
	ostream_free(fw->os);
	json_decref(record_edit);
	json_decref(end_edit);
	json_decref(chunk_edit);
	json_decref(archive_edit);
	json_decref(frames_edit);
	json_decref(frames_head_edit);
	json_decref(deps);
	json_decref(base);
	repo_free(r);
	if (keys != NULL)
		sodium_free(keys);
	return rc == ERR_OK ? 0 : 1;
}
