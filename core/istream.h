#ifndef BKP_ISTREAM_H
#define BKP_ISTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "objfmt.h"

/*
 * Object stream readers.  istream fetches a planned list of chunks of a
 * container object with a pool of threads (ranged reads, so only the
 * chunks needed are downloaded), authenticates, decrypts and decompresses
 * each, and hands them back in plan order.  seqread walks a container
 * object from the start without a chunk table (used for manifests).
 */

struct storage;
struct istream;
struct seqread;

struct istream_chunk {
	uint64_t index;      /* chunk number */
	uint64_t offset;     /* object offset of its 4-byte frame length */
	uint32_t sealed_len; /* bytes after the frame length */
	uint32_t plain_len;  /* plaintext bytes expected */
};

struct istream_stats {
	uint64_t fetched;    /* object bytes read */
	uint64_t chunks;
	double t_fetch;      /* seconds in storage reads, summed over threads */
	double t_decrypt;    /* seconds decrypting and decompressing */
};

/*
 * istream_new(st, key, h, subkey, nchunks, plan, nplan, threads, &is):
 * start reading the chunks listed in plan (nchunks is the object's total,
 * which tells which chunk is last).  The header h is the one the object
 * must have (checked against the stored header as additional data).
 * plan must stay valid until istream_free().  With a hash_alg (HASH_*; 0
 * for none), a plan of every chunk also hashes the whole object
 * (istream_object_hash).
 */
int istream_new(struct storage *st, const char *key,
    const struct obj_header *h, const uint8_t subkey[32], uint64_t nchunks,
    const struct istream_chunk *plan, size_t nplan, int threads,
    int hash_alg, struct istream **out);

/*
 * istream_next(is, &buf, &len, &index): the next planned chunk's plaintext,
 * valid until the next call.  Returns 1 with a chunk, 0 at the end of the
 * plan, or a negative ERR_* status (ERR_CORRUPT for authentication or
 * structure failures) with a message naming the chunk.
 */
int istream_next(struct istream *is, const uint8_t **buf, size_t *len,
    uint64_t *index);

/*
 * istream_object_hash(is, hash, &size): when the plan was every chunk in
 * order and all were returned, the hash and size of the whole object
 * as read.  -1 otherwise.  Call once.
 */
int istream_object_hash(struct istream *is, uint8_t hash[32], uint64_t *size);

/* istream_stats(is, &st): counters so far. */
void istream_stats(struct istream *is, struct istream_stats *st);

/* istream_free(is): stop the threads and free; NULL ok. */
void istream_free(struct istream *is);

/*
 * seqread_open(st, key, h, subkey, hash_alg, &sr): open a container object
 * for sequential reading, hashing it with hash_alg (HASH_*); h gives the
 * expected type, cipher, content and id (the stored header must match).
 */
int seqread_open(struct storage *st, const char *key,
    const struct obj_header *h, const uint8_t subkey[32], int hash_alg,
    struct seqread **out);

/* seqread_read(sr, buf, len, &got): read up to len plaintext bytes; *got
 * is 0 only at the authenticated end of the object. */
int seqread_read(struct seqread *sr, uint8_t *buf, size_t len, size_t *got);

/* seqread_object_size(sr): the object's size in bytes. */
uint64_t seqread_object_size(const struct seqread *sr);

/* seqread_hash(sr, hash): after the whole object was read, its
 * hash; -1 before that.  Call once. */
int seqread_hash(struct seqread *sr, uint8_t hash[32]);

/* seqread_free(sr): NULL ok. */
void seqread_free(struct seqread *sr);

/* istream_read_header(st, key, &h): read and decode an object's header. */
int istream_read_header(struct storage *st, const char *key,
    struct obj_header *h);

#endif
