/*
 * Fuzz the object container reader: objfmt_decode on raw header bytes, and
 * seqread (framing, authentication, decompression and size checks) on an
 * object the input describes.
 *
 * Input: byte 0 picks the cipher (bit 0) and chunk size (bits 1-2); if bit
 * 3 is set the next 64 bytes are the stored header as is, else the
 * expected header is stored.  Then frames, each [mode][len: 2 bytes LE]
 * [len bytes]:
 *   mode bit 0: seal the bytes (as chunk i, its last flag true for the
 *               final frame, flipped by bit 1) with the object's key;
 *               else store them as they are;
 *   mode bit 2: compress the bytes with zstd before sealing;
 *   mode bit 3: the 4-byte frame length is the low bits of len + mode
 *               instead of the true one.
 * A key that seals lets the fuzzer past the authentication to the checks
 * behind it (a compromised backup host holds the data key of its own
 * archives).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "crypto.h"
#include "err.h"
#include "fuzz.h"
#include "hash.h"
#include "istream.h"
#include "memstore.h"
#include "objfmt.h"
#include "storage.h"

#define KEY "data/fuzz"
#define MAX_OBJECT (4u << 20)

static const uint8_t subkey[32] = { 9, 8, 7 };
static const uint32_t chunk_sizes[4] = { OBJ_MIN_CHUNK, 8192, 65536, 4096 };

struct obj {
	uint8_t *b;
	size_t len, cap;
};

static uint8_t *
grow(struct obj *o, size_t n)
{
	uint8_t *p;

	if (n > MAX_OBJECT - o->len)
		return NULL;
	if (o->len + n > o->cap) {
		o->cap = o->len + n + 4096;
		fuzz_check((o->b = realloc(o->b, o->cap)) != NULL, "realloc");
	}
	p = o->b + o->len;
	o->len += n;
	return p;
}

/* Append the frames the input p[0..n) describes to o. */
static void
frames(struct obj *o, const struct obj_header *h, const uint8_t *p,
    size_t n)
{
	uint8_t *z, *f;
	size_t len, zlen;
	uint64_t i;
	int mode, last;

	for (i = 0; n >= 3; i++) {
		mode = p[0];
		len = (size_t)p[1] | (size_t)p[2] << 8;
		p += 3;
		n -= 3;
		if (len > n)
			len = n;
		if (mode & 1) {
			zlen = len;
			fuzz_check((z = malloc(ZSTD_compressBound(len) + 1)) !=
			    NULL, "malloc");
			if (mode & 4)
				zlen = ZSTD_compress(z, ZSTD_compressBound(len),
				    p, len, 1);
			else
				memcpy(z, p, len);
			fuzz_check(!ZSTD_isError(zlen), "ZSTD_compress");
			last = (n - len < 3) ^ ((mode >> 1) & 1);
			if ((f = grow(o, 4 + zlen + CRYPTO_TAG)) != NULL) {
				objfmt_put_le32(f, (uint32_t)(zlen +
				    CRYPTO_TAG));
				fuzz_check(crypto_seal(h->cipher, subkey, o->b,
				    OBJ_HEADER, i, last, z, zlen, f + 4) ==
				    ERR_OK, "crypto_seal");
			}
			free(z);
		} else if ((f = grow(o, 4 + len)) != NULL) {
			objfmt_put_le32(f, (uint32_t)len);
			memcpy(f + 4, p, len);
		}
		if (f != NULL && (mode & 8))
			objfmt_put_le32(f, (uint32_t)(len + (size_t)mode));
		p += len;
		n -= len;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct obj_header h = { 0 }, got;
	struct storage *st;
	struct seqread *sr;
	struct obj o = { 0 };
	uint8_t buf[4096], hash[32], want[32];
	size_t n;
	int rc;

	if (size < 1)
		return 0;
	fuzz_check(crypto_init() == 0, "crypto_init");
	h.type = OBJ_TYPE_DATA;
	h.cipher = (data[0] & 1) && crypto_cipher_available(CRYPTO_AES256GCM) ?
	    CRYPTO_AES256GCM : CRYPTO_XCHACHA20;
	h.content = OBJ_CONTENT_TAR;
	h.chunk_size = chunk_sizes[(data[0] >> 1) & 3];
	memset(h.id, 0x5a, sizeof(h.id));
	(void)grow(&o, OBJ_HEADER);
	if ((data[0] & 8) && size >= 1 + OBJ_HEADER) {
		memcpy(o.b, data + 1, OBJ_HEADER);
		if (objfmt_decode(o.b, &got) == ERR_OK) {
			/* What decodes encodes back to the same bytes. */
			objfmt_encode(&got, buf);
			fuzz_check(memcmp(buf, o.b, OBJ_HEADER) == 0,
			    "header round trip");
		}
		data += OBJ_HEADER;
		size -= OBJ_HEADER;
	} else
		objfmt_encode(&h, o.b);
	frames(&o, &h, data + 1, size - 1);

	fuzz_check((st = memstore_new()) != NULL &&
	    memstore_put(st, KEY, o.b, o.len) == 0, "memstore");
	if (seqread_open(st, KEY, &h, subkey, HASH_BLAKE3, &sr) == ERR_OK) {
		while ((rc = seqread_read(sr, buf, sizeof(buf), &n)) ==
		    ERR_OK && n > 0)
			;
		if (rc == ERR_OK) {
			/* Read to the end: the hash is the object's. */
			hash_buf(HASH_BLAKE3, o.b, o.len, want);
			fuzz_check(seqread_hash(sr, hash) == 0 &&
			    memcmp(hash, want, 32) == 0 &&
			    seqread_object_size(sr) == o.len, "object hash");
		} else
			fuzz_check(rc == ERR_CORRUPT, "seqread status");
		seqread_free(sr);
	}
	storage_free(st);
	free(o.b);
	return 0;
}
