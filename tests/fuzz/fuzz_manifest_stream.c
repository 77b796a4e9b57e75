/*
 * Fuzz the manifest reader: the input is a manifest's plaintext, written
 * as a real manifest object (ostream, into memory storage) and read back
 * with manifest_reader_open / manifest_next, each "file" record decoded
 * with manifest_file_decode and the other records' common fields read as
 * restore and verify read them.  The object itself is well-formed: what is
 * fuzzed is the line reader and the record decoders behind the
 * authentication (a compromised backup host can write any plaintext).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto.h"
#include "err.h"
#include "fuzz.h"
#include "hash.h"
#include "manifest.h"
#include "memstore.h"
#include "objfmt.h"
#include "ostream.h"
#include "storage.h"

#define KEY "manifests/fuzz"

static const uint8_t subkey[32] = { 1, 2, 3, 4 };
static const uint8_t id[16] = { 0xb, 0xc, 0xd };

/* Store data as the manifest object KEY; its hash and size in res. */
static void
write_manifest(struct storage *st, const uint8_t *data, size_t size,
    struct ostream_result *res)
{
	struct obj_header h = { 0 };
	struct ostream *os;

	h.type = OBJ_TYPE_MANIFEST;
	h.cipher = CRYPTO_XCHACHA20;
	h.content = OBJ_CONTENT_JSONL;
	h.chunk_size = MANIFEST_CHUNK;
	memcpy(h.id, id, sizeof(id));
	fuzz_check(ostream_new(st, KEY, &h, subkey, HASH_BLAKE3, 1, 0, NULL,
	    NULL, &os) == ERR_OK, "ostream_new");
	fuzz_check(ostream_write(os, data, size) == ERR_OK &&
	    ostream_finish(os, res) == ERR_OK, "writing the manifest");
	ostream_free(os);
}

static void
one_record(const json_t *rec, const char *type)
{
	struct mfile f;
	uint64_t u;
	size_t n;
	char *s;

	if (strcmp(type, "file") == 0) {
		if (manifest_file_decode(rec, HASH_BLAKE3, &f) == ERR_OK) {
			fuzz_check(f.path != NULL && strlen(f.path) ==
			    f.pathlen && f.o <= f.e, "decoded file record");
			fuzz_check(f.type >= MF_FILE && f.type <= MF_OTHER,
			    "decoded file type");
			fuzz_check((f.link != NULL) == (f.type == MF_SYMLINK ||
			    f.type == MF_HARDLINK), "decoded link");
		} else
			fuzz_check(f.path == NULL && f.link == NULL,
			    "failed decode left allocations");
		manifest_file_release(&f);
		/* Version 1 archives name the hash "blake2b". */
		if (manifest_file_decode(rec, HASH_BLAKE2B, &f) == ERR_OK)
			manifest_file_release(&f);
		return;
	}
	if (manifest_get_bytes(rec, "path", &s, &n) == ERR_OK) {
		fuzz_check(strlen(s) == n, "path with a NUL");
		free(s);
	}
	(void)manifest_get_u64(rec, "i", &u);
	(void)manifest_get_u64(rec, "off", &u);
	(void)manifest_get_u64(rec, "len", &u);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct storage *st;
	struct manifest_reader *mr;
	struct ostream_result res;
	const char *type;
	uint8_t hash[32];
	uint64_t osize;
	json_t *rec;
	int rc;

	fuzz_check(crypto_init() == 0, "crypto_init");
	fuzz_check((st = memstore_new()) != NULL, "memstore_new");
	write_manifest(st, data, size, &res);
	fuzz_check(manifest_reader_open(st, KEY, CRYPTO_XCHACHA20, subkey, id,
	    HASH_BLAKE3, &mr) == ERR_OK, "manifest_reader_open");
	while ((rc = manifest_next(mr, &rec, &type)) == 1) {
		one_record(rec, type);
		json_decref(rec);
	}
	if (rc == 0) {
		/* Read to the end: the reader's hash is the writer's. */
		fuzz_check(manifest_reader_hash(mr, hash, &osize) == 0 &&
		    osize == res.size && memcmp(hash, res.hash, 32) == 0,
		    "manifest hash differs from the one written");
	} else
		fuzz_check(rc == ERR_CORRUPT, "manifest_next status");
	manifest_reader_free(mr);
	storage_free(st);
	return 0;
}
