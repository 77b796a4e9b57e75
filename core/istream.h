#ifndef BKP_ISTREAM_H
#define BKP_ISTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "objfmt.h"

/*
 * Object stream readers.  istream fetches a planned list of chunks of one
 * or more container objects (its sources) with a pool of threads (ranged
 * reads, so only the chunks needed are downloaded), authenticates, decrypts
 * and decompresses each, and hands them back in plan order.  seqread walks
 * a container object from the start without a chunk table (used for
 * manifests).
 */

struct storage;
struct istream;
struct seqread;

/* A planned chunk.  Zero-initialise it: src is 0 for istream_new. */
struct istream_chunk {
	uint64_t index;      /* chunk number within its object */
	uint64_t offset;     /* object offset of its 4-byte frame length */
	uint32_t sealed_len; /* bytes after the frame length */
	uint32_t plain_len;  /* plaintext bytes expected */
	uint32_t src;        /* index into the sources (istream_new_multi) */
};

/* One object an istream reads chunks of. */
struct istream_source {
	const char *key;              /* object key */
	const struct obj_header *h;   /* expected header: cipher, chunk_size */
	const uint8_t *subkey;        /* 32 bytes */
	uint64_t nchunks;             /* chunks in the object: which is last */
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
 * which tells which chunk is last; every item's src must be 0).  The
 * header h is the one the object must have (checked against the stored
 * header as additional data).  plan must stay valid until istream_free().
 * With a hash_alg (HASH_*; 0 for none), a plan of every chunk also hashes
 * the whole object (istream_object_hash).
 */
int istream_new(struct storage *st, const char *key,
    const struct obj_header *h, const uint8_t subkey[32], uint64_t nchunks,
    const struct istream_chunk *plan, size_t nplan, int threads,
    int hash_alg, struct istream **out);

/*
 * istream_new_multi(st, srcs, nsrcs, plan, nplan, threads, &is): like
 * istream_new, but each plan item's src names its source in srcs[0..nsrcs)
 * (nsrcs >= 1; each source's stored header is checked as istream_new
 * does, when the stream is made).  The same
 * (src, index) may appear more than once in a plan: it is fetched again.
 * No object hash.  srcs is copied (keys, headers, subkeys); plan must stay
 * valid until istream_free().  A plan item with src >= nsrcs fails with
 * ERR_CORRUPT when istream_next reaches it.  Buffers are sized by the
 * largest chunk_size; memory is the same ring of slots as istream_new's.
 * istream_new is this with one source (and the object hash).
 */
int istream_new_multi(struct storage *st, const struct istream_source *srcs,
    size_t nsrcs, const struct istream_chunk *plan, size_t nplan,
    int threads, struct istream **out);

/*
 * istream_next(is, &buf, &len, &index): the next planned chunk's plaintext,
 * valid until the next call.  Returns 1 with a chunk, 0 at the end of the
 * plan, or a negative ERR_* status (ERR_CORRUPT for authentication or
 * structure failures) with a message naming the chunk and its object's
 * key ("'<key>': chunk N: ...").
 */
int istream_next(struct istream *is, const uint8_t **buf, size_t *len,
    uint64_t *index);

/* istream_next_src(is, &buf, &len, &index, &src): istream_next that also
 * gives the chunk's source (its plan item's src). */
int istream_next_src(struct istream *is, const uint8_t **buf, size_t *len,
    uint64_t *index, uint32_t *src);

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
