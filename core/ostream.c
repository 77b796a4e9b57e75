#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zstd.h>

#include "crypto.h"
#include "err.h"
#include "hash.h"
#include "ostream.h"
#include "storage.h"

enum { S_FREE, S_FILLING, S_QUEUED, S_BUSY, S_DONE };

struct slot {
	int state;
	int last;
	int failed;
	uint64_t index;
	uint8_t *in;
	size_t in_len;
	uint8_t *out;        /* 4-byte frame length, then sealed bytes */
	size_t out_len;
};

struct worker {
	struct ostream *os;
	pthread_t tid;
	ZSTD_CCtx *cctx;
	uint8_t *zbuf;
	int started;
};

struct ostream {
	struct storage_put *put;
	uint8_t hdr[OBJ_HEADER];
	int cipher;
	uint8_t *subkey;     /* sodium_malloc'ed */
	int level;
	size_t cs;           /* chunk size */
	size_t zcap;         /* ZSTD_compressBound(cs) */
	int (*cb)(void *, const struct ostream_chunk *);
	void *cbarg;

	pthread_mutex_t mtx;
	pthread_cond_t work;  /* a slot was queued, or stop */
	pthread_cond_t done;  /* a slot finished */
	struct slot *ring;
	size_t nslots;
	uint64_t next_index;  /* index of the next chunk to start filling */
	uint64_t next_work;   /* next chunk a worker takes */
	uint64_t next_out;    /* next chunk to write out */
	struct slot *cur;     /* slot being filled */
	int stop;
	char failmsg[256];

	struct worker *workers;
	int nworkers;         /* 0: work inline with inline_w */
	struct worker inline_w;
	pthread_t writer;     /* writes finished chunks in order (threaded) */
	int writer_started;
	int werr;             /* the writer failed; message in failmsg */

	struct hash hstate;
	uint64_t stored;
	uint64_t plain;
	int finished;
};

/* Compress and seal one slot; returns 0 or -1 with msg filled. */
static int
process(struct ostream *os, struct worker *w, struct slot *s, char *msg,
    size_t msglen)
{
	size_t z;

	z = ZSTD_compress2(w->cctx, w->zbuf, os->zcap, s->in, s->in_len);
	if (ZSTD_isError(z)) {
		snprintf(msg, msglen, "compression failed: %s",
		    ZSTD_getErrorName(z));
		return -1;
	}
	if (crypto_seal(os->cipher, os->subkey, os->hdr, OBJ_HEADER, s->index,
	    s->last, w->zbuf, z, s->out + 4) != ERR_OK) {
		snprintf(msg, msglen, "%s", err_get());
		return -1;
	}
	objfmt_put_le32(s->out, (uint32_t)(z + CRYPTO_TAG));
	s->out_len = 4 + z + CRYPTO_TAG;
	return 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct ostream *os = w->os;
	struct slot *s;
	char msg[256];
	int rc;

	pthread_mutex_lock(&os->mtx);
	for (;;) {
		while (!os->stop && (os->next_work == os->next_index ||
		    os->ring[os->next_work % os->nslots].state != S_QUEUED))
			pthread_cond_wait(&os->work, &os->mtx);
		if (os->stop)
			break;
		s = &os->ring[os->next_work % os->nslots];
		os->next_work++;
		s->state = S_BUSY;
		pthread_mutex_unlock(&os->mtx);
		rc = process(os, w, s, msg, sizeof(msg));
		pthread_mutex_lock(&os->mtx);
		if (rc != 0) {
			s->failed = 1;
			if (os->failmsg[0] == '\0')
				snprintf(os->failmsg, sizeof(os->failmsg), "%s",
				    msg);
		}
		s->state = S_DONE;
		pthread_cond_broadcast(&os->done);
	}
	pthread_mutex_unlock(&os->mtx);
	return NULL;
}

static int
worker_init(struct ostream *os, struct worker *w)
{
	w->os = os;
	if ((w->cctx = ZSTD_createCCtx()) == NULL ||
	    (w->zbuf = malloc(os->zcap)) == NULL)
		return -1;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx,
	    ZSTD_c_compressionLevel, os->level)))
		return -1;
	return 0;
}

static void
worker_release(struct worker *w)
{
	ZSTD_freeCCtx(w->cctx);
	free(w->zbuf);
}

/* Write one finished slot to storage (mtx not held). */
static int
emit(struct ostream *os, struct slot *s)
{
	struct ostream_chunk ci;
	int rc;

	rc = storage_put_write(os->put, s->out, s->out_len);
	if (rc == ERR_OK) {
		hash_update(&os->hstate, s->out, s->out_len);
		ci.index = s->index;
		ci.offset = os->stored;
		ci.sealed_len = (uint32_t)(s->out_len - 4);
		ci.plain_len = (uint32_t)s->in_len;
		os->stored += s->out_len;
		if (os->cb != NULL && os->cb(os->cbarg, &ci) != 0)
			rc = ERR_FAIL;
	}
	return rc;
}

/* Threaded mode: write finished chunks in order, hashing them, so the
 * caller's thread only fills chunks. */
static void *
writer_main(void *arg)
{
	struct ostream *os = arg;
	struct slot *s;
	int rc;

	pthread_mutex_lock(&os->mtx);
	for (;;) {
		s = &os->ring[os->next_out % os->nslots];
		while (!os->stop && (os->next_out == os->next_index ||
		    s->state != S_DONE))
			pthread_cond_wait(&os->done, &os->mtx);
		if (os->stop)
			break;
		if (s->failed) {
			os->werr = 1;
			pthread_cond_broadcast(&os->done);
			break;
		}
		pthread_mutex_unlock(&os->mtx);
		rc = emit(os, s);
		pthread_mutex_lock(&os->mtx);
		if (rc != ERR_OK) {
			snprintf(os->failmsg, sizeof(os->failmsg), "%s",
			    err_get());
			os->werr = 1;
			pthread_cond_broadcast(&os->done);
			break;
		}
		s->state = S_FREE;
		os->next_out++;
		pthread_cond_broadcast(&os->done);
	}
	pthread_mutex_unlock(&os->mtx);
	return NULL;
}

/* Write finished slots to storage in order (inline mode), or in threaded
 * mode wait for the writer thread if wait_all.  Called with mtx held.
 * Returns 0 or -1. */
static int
drain(struct ostream *os, int wait_all)
{
	struct slot *s;
	int rc;

	if (os->nworkers > 0) {
		/* The writer thread drains; wait for it if asked. */
		while (!os->werr && wait_all && os->next_out != os->next_index)
			pthread_cond_wait(&os->done, &os->mtx);
		if (os->werr) {
			err_set("%s", os->failmsg);
			return -1;
		}
		return 0;
	}

	for (;;) {
		if (os->next_out == os->next_index ||
		    (os->cur != NULL && os->next_out == os->cur->index))
			return 0;
		s = &os->ring[os->next_out % os->nslots];
		if (s->state != S_DONE) {
			if (!wait_all)
				return 0;
			pthread_cond_wait(&os->done, &os->mtx);
			continue;
		}
		if (s->failed) {
			err_set("%s", os->failmsg);
			return -1;
		}
		/* Inline streams are shared by threads (the manifest gets file
		 * records from the walk and chunk records from the data
		 * stream's writer): emit under the lock. */
		rc = emit(os, s);
		if (rc != ERR_OK)
			return -1;
		s->state = S_FREE;
		os->next_out++;
		pthread_cond_broadcast(&os->done);
	}
}

/* Hand the current slot to the workers (or process it inline). */
static int
submit(struct ostream *os, int last)
{
	struct slot *s = os->cur;
	char msg[256];

	s->last = last;
	os->cur = NULL;
	if (os->nworkers == 0) {
		if (process(os, &os->inline_w, s, msg, sizeof(msg)) != 0) {
			err_set("%s", msg);
			return -1;
		}
		s->state = S_DONE;
		return drain(os, 0);
	}
	s->state = S_QUEUED;
	pthread_cond_broadcast(&os->work);
	return drain(os, 0);
}

/* Take the next ring slot for filling, waiting for it to be written out. */
static int
acquire(struct ostream *os)
{
	struct slot *s = &os->ring[os->next_index % os->nslots];

	while (s->state != S_FREE) {
		if (drain(os, 0) != 0)
			return -1;
		if (s->state == S_FREE)
			break;
		pthread_cond_wait(&os->done, &os->mtx);
	}
	s->state = S_FILLING;
	s->index = os->next_index++;
	s->in_len = 0;
	s->failed = 0;
	os->cur = s;
	return 0;
}

int
ostream_new(struct storage *st, const char *key, const struct obj_header *h,
    const uint8_t subkey[32], int hash_alg, int level, int threads,
    int (*cb)(void *, const struct ostream_chunk *), void *arg,
    struct ostream **out)
{
	struct ostream *os;
	size_t i;
	int rc = ERR_FAIL;

	if ((os = calloc(1, sizeof(*os))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	pthread_mutex_init(&os->mtx, NULL);
	pthread_cond_init(&os->work, NULL);
	pthread_cond_init(&os->done, NULL);
	objfmt_encode(h, os->hdr);
	os->cipher = h->cipher;
	os->level = level;
	os->cs = h->chunk_size;
	os->zcap = ZSTD_compressBound(os->cs);
	os->cb = cb;
	os->cbarg = arg;
	os->nworkers = threads < 0 ? 0 : threads;
	os->nslots = os->nworkers == 0 ? 1 : (size_t)os->nworkers + 3;
	if ((os->subkey = sodium_malloc(32)) == NULL ||
	    (os->ring = calloc(os->nslots, sizeof(*os->ring))) == NULL)
		goto nomem;
	memcpy(os->subkey, subkey, 32);
	for (i = 0; i < os->nslots; i++)
		if ((os->ring[i].in = malloc(os->cs)) == NULL ||
		    (os->ring[i].out = malloc(os->zcap + CRYPTO_TAG + 4)) ==
		    NULL)
			goto nomem;
	hash_init(&os->hstate, hash_alg);
	if ((rc = storage_put_start(st, key, &os->put)) != ERR_OK)
		goto fail;
	if ((rc = storage_put_write(os->put, os->hdr, OBJ_HEADER)) != ERR_OK)
		goto fail;
	hash_update(&os->hstate, os->hdr, OBJ_HEADER);
	os->stored = OBJ_HEADER;
	if (os->nworkers == 0) {
		if (worker_init(os, &os->inline_w) != 0)
			goto nomem;
	} else {
		if ((os->workers = calloc((size_t)os->nworkers,
		    sizeof(*os->workers))) == NULL)
			goto nomem;
		for (i = 0; i < (size_t)os->nworkers; i++) {
			if (worker_init(os, &os->workers[i]) != 0)
				goto nomem;
			if (pthread_create(&os->workers[i].tid, NULL,
			    worker_main, &os->workers[i]) != 0) {
				err_set("cannot start worker thread");
				rc = ERR_FAIL;
				goto fail;
			}
			os->workers[i].started = 1;
		}
		if (pthread_create(&os->writer, NULL, writer_main, os) != 0) {
			err_set("cannot start writer thread");
			rc = ERR_FAIL;
			goto fail;
		}
		os->writer_started = 1;
	}
	*out = os;
	return ERR_OK;
nomem:
	err_set("out of memory");
	rc = ERR_FAIL;
fail:
	ostream_free(os);
	return rc;
}

int
ostream_write(struct ostream *os, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	size_t n;
	int rc = ERR_OK;

	pthread_mutex_lock(&os->mtx);
	while (len > 0) {
		if (os->cur != NULL && os->cur->in_len == os->cs &&
		    submit(os, 0) != 0)
			goto fail;
		if (os->cur == NULL && acquire(os) != 0)
			goto fail;
		n = os->cs - os->cur->in_len;
		if (n > len)
			n = len;
		memcpy(os->cur->in + os->cur->in_len, b, n);
		os->cur->in_len += n;
		os->plain += n;
		b += n;
		len -= n;
	}
	pthread_mutex_unlock(&os->mtx);
	return ERR_OK;
fail:
	pthread_mutex_unlock(&os->mtx);
	rc = ERR_FAIL;
	return rc;
}

uint64_t
ostream_tell(const struct ostream *os)
{
	return os->plain;
}

uint64_t
ostream_stored(const struct ostream *os)
{
	return os->stored;
}

int
ostream_finish(struct ostream *os, struct ostream_result *res)
{
	struct storage_put *put;
	int rc;

	pthread_mutex_lock(&os->mtx);
	if (os->cur == NULL && acquire(os) != 0)
		goto fail;
	if (submit(os, 1) != 0 || drain(os, 1) != 0)
		goto fail;
	pthread_mutex_unlock(&os->mtx);
	if (os->writer_started) {
		pthread_mutex_lock(&os->mtx);
		os->stop = 1;
		pthread_cond_broadcast(&os->done);
		pthread_mutex_unlock(&os->mtx);
		pthread_join(os->writer, NULL);
		os->writer_started = 0;
		os->stop = 0;
	}
	res->size = os->stored;
	res->chunks = os->next_out;
	res->plain = os->plain;
	hash_final(&os->hstate, res->hash);
	put = os->put;
	os->put = NULL;
	if ((rc = storage_put_end(put)) != ERR_OK)
		return rc;
	os->finished = 1;
	return ERR_OK;
fail:
	pthread_mutex_unlock(&os->mtx);
	return ERR_FAIL;
}

void
ostream_free(struct ostream *os)
{
	size_t i;

	if (os == NULL)
		return;
	pthread_mutex_lock(&os->mtx);
	os->stop = 1;
	pthread_cond_broadcast(&os->work);
	pthread_cond_broadcast(&os->done);   /* the writer waits on done */
	pthread_mutex_unlock(&os->mtx);
	if (os->writer_started)
		pthread_join(os->writer, NULL);
	for (i = 0; os->workers != NULL && i < (size_t)os->nworkers; i++) {
		if (os->workers[i].started)
			pthread_join(os->workers[i].tid, NULL);
		worker_release(&os->workers[i]);
	}
	free(os->workers);
	worker_release(&os->inline_w);
	storage_put_abort(os->put);
	for (i = 0; os->ring != NULL && i < os->nslots; i++) {
		free(os->ring[i].in);
		free(os->ring[i].out);
	}
	free(os->ring);
	if (os->subkey != NULL)
		sodium_free(os->subkey);
	pthread_cond_destroy(&os->work);
	pthread_cond_destroy(&os->done);
	pthread_mutex_destroy(&os->mtx);
	free(os);
}
