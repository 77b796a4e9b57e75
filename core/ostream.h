#ifndef BKP_OSTREAM_H
#define BKP_OSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "objfmt.h"

/*
 * Object stream writer: turns a byte stream into a container object
 * (objfmt.h) in storage.  Plaintext is cut into chunk_size pieces; each is
 * compressed (zstd) and sealed (crypto_seal) by a pool of worker threads, and
 * written to storage in order.  Memory is bounded by (threads + 3) chunks.
 */

struct storage;
struct ostream;

struct ostream_chunk {
	uint64_t index;      /* chunk number, from 0 */
	uint64_t offset;     /* object offset of the chunk's 4-byte frame */
	uint32_t sealed_len; /* bytes after the frame length */
	uint32_t plain_len;  /* plaintext bytes in the chunk */
};

struct ostream_result {
	uint64_t size;       /* bytes in the object */
	uint64_t chunks;
	uint64_t plain;      /* plaintext bytes */
	uint8_t hash[32];    /* hash (hash.h) of the object */
};

/*
 * ostream_new(st, key, h, subkey, hash_alg, level, threads, cb, arg, &os):
 * start writing object key, hashing it with hash_alg (HASH_*).  threads == 0
 * compresses and seals in the calling thread.  cb (may be NULL) is called in
 * the calling thread for every chunk written, in order; a non-zero return
 * fails the stream.
 */
int ostream_new(struct storage *st, const char *key,
    const struct obj_header *h, const uint8_t subkey[32], int hash_alg,
    int level, int threads,
    int (*cb)(void *, const struct ostream_chunk *), void *arg,
    struct ostream **out);

/* ostream_write(os, buf, len): append plaintext. */
int ostream_write(struct ostream *os, const void *buf, size_t len);

/* ostream_tell(os): plaintext bytes written so far. */
uint64_t ostream_tell(const struct ostream *os);

/* ostream_stored(os): object bytes written to storage so far. */
uint64_t ostream_stored(const struct ostream *os);

/*
 * ostream_finish(os, &res): seal the last chunk (marked last), write
 * everything and commit the object.  os stays allocated: free it.
 */
int ostream_finish(struct ostream *os, struct ostream_result *res);

/* ostream_free(os): free; aborts the object if not finished.  NULL ok. */
void ostream_free(struct ostream *os);

#endif
