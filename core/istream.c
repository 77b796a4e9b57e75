#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zstd.h>

#include "crypto.h"
#include "err.h"
#include "hash.h"
#include "istream.h"
#include "storage.h"
#include "util.h"

enum { S_FREE, S_QUEUED, S_BUSY, S_DONE };

struct rslot {
	int state;
	int status;          /* ERR_* of processing */
	int consumed;        /* the caller is done with it */
	int hashed;          /* the hasher is done with it (or not hashing) */
	size_t plan_idx;
	uint8_t *sealed;     /* frame: 4-byte length + sealed bytes */
	uint8_t *plain;
	size_t plain_len;
	char msg[256];
};

struct rworker {
	struct istream *is;
	pthread_t tid;
	ZSTD_DCtx *dctx;
	uint8_t *zbuf;
	int started;
};

/* What the stream keeps of a source (istream_source). */
struct isrc {
	char *key;
	uint8_t hdr[OBJ_HEADER]; /* as stored: the chunks' additional data */
	int cipher;
	size_t cs;
	size_t maxsealed;
	uint64_t nchunks;
};

struct istream {
	struct storage *st;
	struct isrc *srcs;
	size_t nsrcs;
	uint8_t *subkeys;    /* 32 bytes a source, in guarded memory */
	size_t maxcs;        /* the largest chunk size: plain buffers */
	size_t maxsealed;    /* the largest sealed frame: frame buffers */
	const struct istream_chunk *plan;
	size_t nplan;

	pthread_mutex_t mtx;
	pthread_cond_t work;
	pthread_cond_t done;
	struct rslot *ring;
	size_t nslots;
	size_t next_queue;   /* next plan item to queue */
	size_t next_work;    /* next plan item a worker takes */
	size_t next_out;     /* next plan item to return */
	int held;            /* a returned slot is held by the caller */
	int stop;

	struct rworker *workers;
	int nworkers;
	struct istream_stats stats;
	int full;            /* one source, every chunk in order: hash it */
	struct hash hstate;
	uint64_t hashed;     /* object bytes hashed */
	size_t next_hash;    /* next plan item the hasher takes */
	int hash_broken;     /* a chunk failed: no object hash */
	pthread_t hasher;
	int hasher_started;
};

static void refill(struct istream *is);

/* A slot both the caller and the hasher are done with can be reused. */
static void
maybe_free(struct istream *is, struct rslot *s)
{
	if (s->consumed && s->hashed) {
		s->state = S_FREE;
		refill(is);
	}
}

/* Hashes the object's frames in order on its own thread, so a full
 * verification's object hash does not load the caller's thread. */
static void *
hasher_main(void *arg)
{
	struct istream *is = arg;
	struct rslot *s;

	pthread_mutex_lock(&is->mtx);
	while (is->next_hash < is->nplan) {
		s = &is->ring[is->next_hash % is->nslots];
		while (!is->stop && !(s->state == S_DONE &&
		    s->plan_idx == is->next_hash && !s->hashed))
			pthread_cond_wait(&is->done, &is->mtx);
		if (is->stop)
			break;
		pthread_mutex_unlock(&is->mtx);
		if (s->status == ERR_OK && !is->hash_broken) {
			hash_update(&is->hstate, s->sealed,
			    (size_t)is->plan[s->plan_idx].sealed_len + 4);
			is->hashed += (uint64_t)is->plan[s->plan_idx].sealed_len +
			    4;
		} else
			is->hash_broken = 1;
		pthread_mutex_lock(&is->mtx);
		s->hashed = 1;
		is->next_hash++;
		maybe_free(is, s);
		pthread_cond_broadcast(&is->done);
	}
	pthread_mutex_unlock(&is->mtx);
	return NULL;
}

/* Decrypt and decompress one chunk into s->plain. */
static int
open_chunk(int cipher, const uint8_t *subkey, const uint8_t *hdr,
    ZSTD_DCtx *dctx, uint8_t *zbuf, const struct istream_chunk *c,
    uint64_t nchunks, size_t cs, const uint8_t *frame, uint8_t *plain,
    size_t *plain_len)
{
	size_t zlen, n;
	unsigned long long fcs;
	int rc;

	if (objfmt_le32(frame) != c->sealed_len) {
		err_set("chunk %llu: frame length %u differs from the "
		    "manifest's %u", (unsigned long long)c->index,
		    objfmt_le32(frame), c->sealed_len);
		return ERR_CORRUPT;
	}
	rc = crypto_open(cipher, subkey, hdr, OBJ_HEADER, c->index,
	    c->index + 1 == nchunks, frame + 4, c->sealed_len, zbuf);
	if (rc != ERR_OK)
		return rc;
	zlen = c->sealed_len - CRYPTO_TAG;
	fcs = ZSTD_getFrameContentSize(zbuf, zlen);
	if (fcs == ZSTD_CONTENTSIZE_ERROR || fcs == ZSTD_CONTENTSIZE_UNKNOWN ||
	    fcs > cs) {
		err_set("chunk %llu: bad compressed frame",
		    (unsigned long long)c->index);
		return ERR_CORRUPT;
	}
	n = ZSTD_decompressDCtx(dctx, plain, cs, zbuf, zlen);
	if (ZSTD_isError(n) || n != fcs ||
	    (c->plain_len != UINT32_MAX && n != c->plain_len) ||
	    (c->index + 1 < nchunks && n != cs)) {
		err_set("chunk %llu: decompressed size is wrong",
		    (unsigned long long)c->index);
		return ERR_CORRUPT;
	}
	*plain_len = n;
	return ERR_OK;
}

/* Fetch the chunk in slot s from its source src and open it. */
static void
process_src(struct istream *is, struct rworker *w, struct rslot *s,
    const struct istream_chunk *c, const struct isrc *src)
{
	double t0, t1, t2;
	int rc;

	t0 = util_mono();
	if (c->sealed_len < CRYPTO_TAG || c->sealed_len > src->maxsealed) {
		err_set("chunk %llu: invalid length %u",
		    (unsigned long long)c->index, c->sealed_len);
		rc = ERR_CORRUPT;
		goto out;
	}
	rc = storage_get_range(is->st, src->key, c->offset,
	    (size_t)c->sealed_len + 4, s->sealed);
	t1 = util_mono();
	if (rc == ERR_OK)
		rc = open_chunk(src->cipher, is->subkeys + 32 * (size_t)c->src,
		    src->hdr, w->dctx, w->zbuf, c, src->nchunks, src->cs,
		    s->sealed, s->plain, &s->plain_len);
	t2 = util_mono();
	pthread_mutex_lock(&is->mtx);
	is->stats.t_fetch += t1 - t0;
	is->stats.t_decrypt += t2 - t1;
	if (rc == ERR_OK) {
		is->stats.fetched += (uint64_t)c->sealed_len + 4;
		is->stats.chunks++;
	}
	pthread_mutex_unlock(&is->mtx);
out:
	s->status = rc;
	if (rc != ERR_OK)
		snprintf(s->msg, sizeof(s->msg), "'%s': %s", src->key,
		    err_get());
}

static void
process(struct istream *is, struct rworker *w, struct rslot *s)
{
	const struct istream_chunk *c = &is->plan[s->plan_idx];

	if (c->src < is->nsrcs) {
		process_src(is, w, s, c, &is->srcs[c->src]);
		return;
	}
	s->status = ERR_CORRUPT;
	snprintf(s->msg, sizeof(s->msg), "chunk %llu: source %u out of "
	    "range (%zu sources)", (unsigned long long)c->index, c->src,
	    is->nsrcs);
}

static void *
rworker_main(void *arg)
{
	struct rworker *w = arg;
	struct istream *is = w->is;
	struct rslot *s;

	pthread_mutex_lock(&is->mtx);
	for (;;) {
		while (!is->stop && is->next_work == is->next_queue)
			pthread_cond_wait(&is->work, &is->mtx);
		if (is->stop)
			break;
		s = &is->ring[is->next_work % is->nslots];
		is->next_work++;
		s->state = S_BUSY;
		pthread_mutex_unlock(&is->mtx);
		process(is, w, s);
		pthread_mutex_lock(&is->mtx);
		s->state = S_DONE;
		pthread_cond_broadcast(&is->done);
	}
	pthread_mutex_unlock(&is->mtx);
	return NULL;
}

/* Queue plan items into free slots.  Called with mtx held. */
static void
refill(struct istream *is)
{
	struct rslot *s;

	while (is->next_queue < is->nplan &&
	    is->next_queue - is->next_out < is->nslots) {
		s = &is->ring[is->next_queue % is->nslots];
		if (s->state != S_FREE)
			break;
		s->plan_idx = is->next_queue++;
		s->state = S_QUEUED;
		s->consumed = 0;
		s->hashed = !is->full;
	}
	pthread_cond_broadcast(&is->work);
}

int
istream_read_header(struct storage *st, const char *key,
    struct obj_header *h)
{
	uint8_t hdr[OBJ_HEADER];
	int rc;

	if ((rc = storage_get_range(st, key, 0, OBJ_HEADER, hdr)) != ERR_OK)
		return rc;
	if ((rc = objfmt_decode(hdr, h)) != ERR_OK)
		err_prefix("'%s': ", key);
	return rc;
}

/* Check the stored header equals the expected one. */
static int
check_header(struct storage *st, const char *key, const struct obj_header *h,
    uint8_t hdr[OBJ_HEADER])
{
	uint8_t want[OBJ_HEADER];
	struct obj_header got;
	int rc;

	if ((rc = istream_read_header(st, key, &got)) != ERR_OK)
		return rc;
	objfmt_encode(&got, hdr);
	objfmt_encode(h, want);
	if (memcmp(hdr, want, OBJ_HEADER) != 0) {
		err_set("'%s': object header does not match the archive "
		    "record (wrong object or tampered)", key);
		return ERR_CORRUPT;
	}
	return ERR_OK;
}

/* Copy the sources into is and check each stored header against the
 * expected one. */
static int
open_sources(struct istream *is, const struct istream_source *srcs,
    size_t nsrcs)
{
	struct isrc *d;
	size_t i;
	int rc;

	/* calloc checks the count: 32 * nsrcs is less than its size */
	if ((is->srcs = calloc(nsrcs, sizeof(*is->srcs))) == NULL ||
	    (is->subkeys = sodium_malloc(32 * nsrcs)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	is->nsrcs = nsrcs;
	for (i = 0; i < nsrcs; i++) {
		d = &is->srcs[i];
		if ((d->key = strdup(srcs[i].key)) == NULL) {
			err_set("out of memory");
			return ERR_FAIL;
		}
		memcpy(is->subkeys + 32 * i, srcs[i].subkey, 32);
		d->cipher = srcs[i].h->cipher;
		d->cs = srcs[i].h->chunk_size;
		d->maxsealed = objfmt_max_sealed(srcs[i].h->chunk_size);
		d->nchunks = srcs[i].nchunks;
		if ((rc = check_header(is->st, d->key, srcs[i].h, d->hdr)) !=
		    ERR_OK)
			return rc;
		if (d->cs > is->maxcs)
			is->maxcs = d->cs;
		if (d->maxsealed > is->maxsealed)
			is->maxsealed = d->maxsealed;
	}
	return ERR_OK;
}

/* The ring of slots and the workers, with buffers for the largest chunk
 * of any source. */
static int
start_workers(struct istream *is)
{
	struct rworker *w;
	size_t i;

	if ((is->ring = calloc(is->nslots, sizeof(*is->ring))) == NULL ||
	    (is->workers = calloc((size_t)is->nworkers,
	    sizeof(*is->workers))) == NULL)
		goto nomem;
	for (i = 0; i < is->nslots; i++)
		if ((is->ring[i].sealed = malloc(is->maxsealed + 4)) == NULL ||
		    (is->ring[i].plain = malloc(is->maxcs)) == NULL)
			goto nomem;
	for (i = 0; i < (size_t)is->nworkers; i++) {
		w = &is->workers[i];
		w->is = is;
		if ((w->dctx = ZSTD_createDCtx()) == NULL ||
		    (w->zbuf = malloc(is->maxsealed)) == NULL)
			goto nomem;
		if (pthread_create(&w->tid, NULL, rworker_main, w) != 0) {
			err_set("cannot start worker thread");
			return ERR_FAIL;
		}
		w->started = 1;
	}
	return ERR_OK;
nomem:
	err_set("out of memory");
	return ERR_FAIL;
}

/* With hash_alg, a plan of every chunk of a single source in order also
 * hashes the object, on a thread of its own. */
static int
start_hasher(struct istream *is, int hash_alg)
{
	size_t i;

	is->full = hash_alg != 0 && is->nsrcs == 1 &&
	    is->nplan == is->srcs[0].nchunks;
	for (i = 0; is->full && i < is->nplan; i++)
		if (is->plan[i].index != i || is->plan[i].src != 0)
			is->full = 0;
	if (!is->full)
		return ERR_OK;
	hash_init(&is->hstate, hash_alg);
	hash_update(&is->hstate, is->srcs[0].hdr, OBJ_HEADER);
	is->hashed = OBJ_HEADER;
	if (pthread_create(&is->hasher, NULL, hasher_main, is) != 0) {
		err_set("cannot start hasher thread");
		return ERR_FAIL;
	}
	is->hasher_started = 1;
	return ERR_OK;
}

static int
istream_open(struct storage *st, const struct istream_source *srcs,
    size_t nsrcs, const struct istream_chunk *plan, size_t nplan,
    int threads, int hash_alg, struct istream **out)
{
	struct istream *is;
	int rc;

	if (nsrcs == 0) {
		err_set("istream: no sources");
		return ERR_FAIL;
	}
	if ((is = calloc(1, sizeof(*is))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	pthread_mutex_init(&is->mtx, NULL);
	pthread_cond_init(&is->work, NULL);
	pthread_cond_init(&is->done, NULL);
	is->st = st;
	is->plan = plan;
	is->nplan = nplan;
	is->nworkers = threads < 1 ? 1 : threads;
	is->nslots = (size_t)is->nworkers + 2;
	if ((rc = open_sources(is, srcs, nsrcs)) != ERR_OK ||
	    (rc = start_workers(is)) != ERR_OK ||
	    (rc = start_hasher(is, hash_alg)) != ERR_OK) {
		istream_free(is);
		return rc;
	}
	pthread_mutex_lock(&is->mtx);
	refill(is);
	pthread_mutex_unlock(&is->mtx);
	*out = is;
	return ERR_OK;
}

int
istream_new_multi(struct storage *st, const struct istream_source *srcs,
    size_t nsrcs, const struct istream_chunk *plan, size_t nplan,
    int threads, struct istream **out)
{
	return istream_open(st, srcs, nsrcs, plan, nplan, threads, 0, out);
}

int
istream_new(struct storage *st, const char *key, const struct obj_header *h,
    const uint8_t subkey[32], uint64_t nchunks,
    const struct istream_chunk *plan, size_t nplan, int threads,
    int hash_alg, struct istream **out)
{
	const struct istream_source src = { key, h, subkey, nchunks };

	return istream_open(st, &src, 1, plan, nplan, threads, hash_alg, out);
}

int
istream_next_src(struct istream *is, const uint8_t **buf, size_t *len,
    uint64_t *index, uint32_t *src)
{
	struct rslot *s;

	pthread_mutex_lock(&is->mtx);
	if (is->held) {
		s = &is->ring[is->next_out % is->nslots];
		s->consumed = 1;
		is->next_out++;
		is->held = 0;
		maybe_free(is, s);
	}
	if (is->next_out == is->nplan) {
		pthread_mutex_unlock(&is->mtx);
		return 0;
	}
	s = &is->ring[is->next_out % is->nslots];
	/* The slot may still hold an earlier chunk the hasher is reading. */
	while (s->state != S_DONE || s->plan_idx != is->next_out)
		pthread_cond_wait(&is->done, &is->mtx);
	pthread_mutex_unlock(&is->mtx);
	if (s->status != ERR_OK) {
		err_set("%s", s->msg);
		return s->status;
	}
	is->held = 1;
	*buf = s->plain;
	*len = s->plain_len;
	*index = is->plan[s->plan_idx].index;
	*src = is->plan[s->plan_idx].src;
	return 1;
}

int
istream_next(struct istream *is, const uint8_t **buf, size_t *len,
    uint64_t *index)
{
	uint32_t src;

	return istream_next_src(is, buf, len, index, &src);
}

int
istream_object_hash(struct istream *is, uint8_t hash[32], uint64_t *size)
{
	if (!is->full || is->next_out != is->nplan || !is->hasher_started)
		return -1;
	pthread_join(is->hasher, NULL);
	is->hasher_started = 0;
	if (is->hash_broken || is->next_hash != is->nplan)
		return -1;
	hash_final(&is->hstate, hash);
	*size = is->hashed;
	return 0;
}

void
istream_stats(struct istream *is, struct istream_stats *st)
{
	pthread_mutex_lock(&is->mtx);
	*st = is->stats;
	pthread_mutex_unlock(&is->mtx);
}

void
istream_free(struct istream *is)
{
	size_t i;

	if (is == NULL)
		return;
	pthread_mutex_lock(&is->mtx);
	is->stop = 1;
	pthread_cond_broadcast(&is->work);
	pthread_cond_broadcast(&is->done);
	pthread_mutex_unlock(&is->mtx);
	if (is->hasher_started)
		pthread_join(is->hasher, NULL);
	for (i = 0; is->workers != NULL && i < (size_t)is->nworkers; i++) {
		if (is->workers[i].started)
			pthread_join(is->workers[i].tid, NULL);
		ZSTD_freeDCtx(is->workers[i].dctx);
		free(is->workers[i].zbuf);
	}
	free(is->workers);
	for (i = 0; is->ring != NULL && i < is->nslots; i++) {
		free(is->ring[i].sealed);
		free(is->ring[i].plain);
	}
	free(is->ring);
	for (i = 0; is->srcs != NULL && i < is->nsrcs; i++)
		free(is->srcs[i].key);
	free(is->srcs);
	if (is->subkeys != NULL)
		sodium_free(is->subkeys);
	pthread_cond_destroy(&is->work);
	pthread_cond_destroy(&is->done);
	pthread_mutex_destroy(&is->mtx);
	free(is);
}

/* Sequential reader. */
struct seqread {
	struct storage *st;
	char *key;
	uint8_t hdr[OBJ_HEADER];
	int cipher;
	uint8_t *subkey;
	size_t cs;
	size_t maxsealed;
	uint64_t size;       /* object size */
	uint64_t off;        /* next frame offset */
	uint64_t index;
	int eof;
	ZSTD_DCtx *dctx;
	uint8_t *frame, *zbuf, *plain;
	size_t plain_len, plain_pos;
	struct hash hstate;
};

int
seqread_open(struct storage *st, const char *key, const struct obj_header *h,
    const uint8_t subkey[32], int hash_alg, struct seqread **out)
{
	struct seqread *sr;
	int rc;

	if ((sr = calloc(1, sizeof(*sr))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	sr->st = st;
	sr->cipher = h->cipher;
	sr->cs = h->chunk_size;
	sr->maxsealed = objfmt_max_sealed(h->chunk_size);
	sr->off = OBJ_HEADER;
	if ((rc = storage_stat(st, key, &sr->size)) != ERR_OK ||
	    (rc = check_header(st, key, h, sr->hdr)) != ERR_OK)
		goto fail;
	rc = ERR_FAIL;
	if ((sr->key = strdup(key)) == NULL ||
	    (sr->subkey = sodium_malloc(32)) == NULL ||
	    (sr->dctx = ZSTD_createDCtx()) == NULL ||
	    (sr->frame = malloc(sr->maxsealed + 4)) == NULL ||
	    (sr->zbuf = malloc(sr->maxsealed)) == NULL ||
	    (sr->plain = malloc(sr->cs)) == NULL) {
		err_set("out of memory");
		goto fail;
	}
	memcpy(sr->subkey, subkey, 32);
	hash_init(&sr->hstate, hash_alg);
	hash_update(&sr->hstate, sr->hdr, OBJ_HEADER);
	*out = sr;
	return ERR_OK;
fail:
	seqread_free(sr);
	return rc;
}

/* Fetch, authenticate and decompress the next chunk. */
static int
seq_next_chunk(struct seqread *sr)
{
	struct istream_chunk c;
	uint8_t lenb[4];
	uint32_t len;
	int rc;

	if (sr->off + 4 > sr->size) {
		err_set("'%s' is truncated (no end-of-object chunk)", sr->key);
		return ERR_CORRUPT;
	}
	if ((rc = storage_get_range(sr->st, sr->key, sr->off, 4, lenb)) != 0)
		return rc;
	len = objfmt_le32(lenb);
	if (len < CRYPTO_TAG || len > sr->maxsealed ||
	    sr->off + 4 + len > sr->size) {
		err_set("'%s': chunk %llu has an invalid length", sr->key,
		    (unsigned long long)sr->index);
		return ERR_CORRUPT;
	}
	if ((rc = storage_get_range(sr->st, sr->key, sr->off, len + 4,
	    sr->frame)) != ERR_OK)
		return rc;
	c.index = sr->index;
	c.offset = sr->off;
	c.sealed_len = len;
	c.plain_len = UINT32_MAX;
	/* The chunk that ends the object must be sealed as the last one. */
	rc = open_chunk(sr->cipher, sr->subkey, sr->hdr, sr->dctx, sr->zbuf,
	    &c, sr->off + 4 + len == sr->size ? sr->index + 1 : UINT64_MAX,
	    sr->cs, sr->frame, sr->plain, &sr->plain_len);
	if (rc != ERR_OK) {
		err_prefix("'%s': ", sr->key);
		return rc;
	}
	hash_update(&sr->hstate, sr->frame, (size_t)len + 4);
	sr->off += 4 + (uint64_t)len;
	sr->index++;
	sr->plain_pos = 0;
	if (sr->off == sr->size)
		sr->eof = 1;
	return ERR_OK;
}

int
seqread_read(struct seqread *sr, uint8_t *buf, size_t len, size_t *got)
{
	size_t n, total = 0;
	int rc;

	while (total < len) {
		if (sr->plain_pos == sr->plain_len) {
			if (sr->eof)
				break;
			if ((rc = seq_next_chunk(sr)) != ERR_OK)
				return rc;
			continue;
		}
		n = sr->plain_len - sr->plain_pos;
		if (n > len - total)
			n = len - total;
		memcpy(buf + total, sr->plain + sr->plain_pos, n);
		sr->plain_pos += n;
		total += n;
	}
	*got = total;
	return ERR_OK;
}

uint64_t
seqread_object_size(const struct seqread *sr)
{
	return sr->size;
}

int
seqread_hash(struct seqread *sr, uint8_t hash[32])
{
	if (!sr->eof || sr->plain_pos != sr->plain_len)
		return -1;
	hash_final(&sr->hstate, hash);
	return 0;
}

void
seqread_free(struct seqread *sr)
{
	if (sr == NULL)
		return;
	if (sr->subkey != NULL)
		sodium_free(sr->subkey);
	ZSTD_freeDCtx(sr->dctx);
	free(sr->frame);
	free(sr->zbuf);
	free(sr->plain);
	free(sr->key);
	free(sr);
}
