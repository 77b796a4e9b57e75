/*
 * Fuzz the manifest stream reader: the input is a manifest's plaintext,
 * written as a real manifest object (ostream, into memory storage) and
 * read back with manifest_reader_open / manifest_next, which must end
 * cleanly or with ERR_CORRUPT and then give the hash the writer computed.
 * The object is well-formed: what is fuzzed is the line splitting behind
 * the authentication (a compromised backup host can write any plaintext).
 * Slow (the 1 MiB manifest chunks cost an mmap each under ASan); the
 * records themselves are fuzzed fast by fuzz_manifest.c.
 */
#include <stdint.h>
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
		fuzz_check(json_is_object(rec) && type != NULL, "record");
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
