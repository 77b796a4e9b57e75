/*
 * The pieces of one entry of a version 3 archive: segments of stored or
 * referenced bytes, and the content chunks the file index remembers.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cdc.h"
#include "err.h"
#include "findex.h"
#include "manifest.h"
#include "ostream.h"
#include "pieces.h"
#include "prev.h"

/* Room left for the entry's last self segments (padding) once it stops
 * referring to earlier bytes. */
#define SEG_LIMIT (MANIFEST_MAX_SEG - 2)

int
pieces_init(struct pieces *pc, struct ostream *data, struct prev *prev,
    const uint8_t key[32])
{
	memset(pc, 0, sizeof(*pc));
	pc->data = data;
	pc->prev = prev;
	pc->key = key;
	cdc_init(&pc->cdc, key);
	if ((pc->cbuf = malloc(CDC_MAX)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	return ERR_OK;
}

void
pieces_free(struct pieces *pc)
{
	free(pc->seg);
	free(pc->chunk);
	free(pc->cbuf);
	free(pc->tab);
	memset(pc, 0, sizeof(*pc));
}

void
pieces_begin(struct pieces *pc)
{
	pc->nseg = pc->nchunk = 0;
	pc->full = 0;
	pc->clen = 0;
	cdc_reset(&pc->cdc);
	if (pc->tabfilled)
		memset(pc->tab, 0, pc->tabcap * sizeof(*pc->tab));
	pc->tabfilled = 0;
}

static int
grow(void **p, size_t *cap, size_t n, size_t size)
{
	size_t nc;
	void *q;

	if (n < *cap)
		return ERR_OK;
	nc = *cap * 2 + 64;
	if ((q = realloc(*p, nc * size)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	*p = q;
	*cap = nc;
	return ERR_OK;
}

static int
add_seg(struct pieces *pc, uint32_t src, uint64_t off, uint64_t len)
{
	struct findex_seg *l = pc->nseg > 0 ? &pc->seg[pc->nseg - 1] : NULL;

	if (len == 0)
		return ERR_OK;
	if (l != NULL && l->src == src && l->off + l->len == off) {
		l->len += len;
		return ERR_OK;
	}
	if (pc->nseg >= MANIFEST_MAX_SEG) {
		err_set("an entry has more than %d segments", MANIFEST_MAX_SEG);
		return ERR_FAIL;
	}
	if (grow((void **)&pc->seg, &pc->capseg, pc->nseg,
	    sizeof(*pc->seg)) != ERR_OK)
		return ERR_FAIL;
	pc->seg[pc->nseg].src = src;
	pc->seg[pc->nseg].off = off;
	pc->seg[pc->nseg++].len = len;
	if (pc->nseg >= SEG_LIMIT)
		pc->full = 1;
	return ERR_OK;
}

/* Remember a content chunk for the next index (past the bound, the rest
 * of a huge file is simply not deduplicated next time). */
static int
add_chunk(struct pieces *pc, const uint8_t id[CDC_ID_LEN], uint32_t src,
    uint64_t off, uint32_t len)
{
	struct findex_chunk *c;

	if (pc->nchunk >= FINDEX_MAX_CHUNKS)
		return ERR_OK;
	if (grow((void **)&pc->chunk, &pc->capchunk, pc->nchunk,
	    sizeof(*pc->chunk)) != ERR_OK)
		return ERR_FAIL;
	c = &pc->chunk[pc->nchunk++];
	memcpy(c->id, id, CDC_ID_LEN);
	c->src = src;
	c->off = off;
	c->len = len;
	return ERR_OK;
}

int
pieces_self(struct pieces *pc, const void *p, size_t n)
{
	int rc;

	if ((rc = ostream_write(pc->data, p, n)) != ERR_OK)
		return rc;
	rc = add_seg(pc, 0, pc->off, n);
	pc->off += n;
	return rc;
}

static struct pc_slot *
lookup(struct pieces *pc, const uint8_t id[CDC_ID_LEN], int insert)
{
	size_t mask = pc->tabcap - 1, i;
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	for (i = (size_t)h & mask;; i = (i + 1) & mask) {
		if (!pc->tab[i].used)
			return insert ? &pc->tab[i] : NULL;
		if (memcmp(pc->tab[i].id, id, CDC_ID_LEN) == 0)
			return &pc->tab[i];
	}
}

int
pieces_known(struct pieces *pc, const struct findex_rec *rec)
{
	struct pc_slot *s;
	size_t cap = 64, i;

	if (rec == NULL || rec->nchunk == 0)
		return ERR_OK;
	while (cap < rec->nchunk * 2)
		cap *= 2;
	if (cap > pc->tabcap) {
		free(pc->tab);
		if ((pc->tab = calloc(cap, sizeof(*pc->tab))) == NULL) {
			pc->tabcap = 0;
			err_set("out of memory");
			return ERR_FAIL;
		}
		pc->tabcap = cap;
	}
	pc->tabfilled = 1;
	for (i = 0; i < rec->nchunk; i++) {
		s = lookup(pc, rec->chunk[i].id, 1);
		if (s->used)
			continue;
		memcpy(s->id, rec->chunk[i].id, CDC_ID_LEN);
		s->src = rec->chunk[i].src;   /* the old index's numbering */
		s->off = rec->chunk[i].off;
		s->len = rec->chunk[i].len;
		s->used = 1;
	}
	return ERR_OK;
}

/* A whole chunk was cut: refer to an earlier copy, or store it. */
static int
chunk_done(struct pieces *pc)
{
	uint8_t id[CDC_ID_LEN];
	struct pc_slot *s = NULL;
	uint32_t src;
	uint64_t off;
	uint32_t len = (uint32_t)pc->clen;
	int rc;

	if (len == 0)
		return ERR_OK;
	cdc_id(pc->key, pc->cbuf, pc->clen, id);
	pc->clen = 0;
	if (pc->tabfilled && !pc->full)
		s = lookup(pc, id, 0);
	if (s != NULL && s->len == len &&
	    prev_src(pc->prev, s->src, &src) == 0) {
		pc->ref_bytes += len;
		if ((rc = add_seg(pc, src, s->off, len)) != ERR_OK)
			return rc;
		return add_chunk(pc, id, src, s->off, len);
	}
	off = pc->off;
	if ((rc = pieces_self(pc, pc->cbuf, len)) != ERR_OK)
		return rc;
	pc->new_bytes += len;
	return add_chunk(pc, id, 0, off, len);
}

int
pieces_data(struct pieces *pc, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t used;
	int cut, rc;

	while (n > 0) {
		cut = cdc_cut(&pc->cdc, b, n, &used);
		memcpy(pc->cbuf + pc->clen, b, used);
		pc->clen += used;
		b += used;
		n -= used;
		if (cut && (rc = chunk_done(pc)) != ERR_OK)
			return rc;
	}
	return ERR_OK;
}

int
pieces_data_end(struct pieces *pc)
{
	int rc = chunk_done(pc);

	cdc_reset(&pc->cdc);
	return rc;
}

int
pieces_reuse(struct pieces *pc, const struct findex_rec *rec)
{
	uint32_t src;
	size_t i;

	if (rec->nseg >= SEG_LIMIT)
		return -1;
	for (i = 0; i < rec->nseg; i++)
		if (prev_src(pc->prev, rec->seg[i].src, &src) != 0 ||
		    add_seg(pc, src, rec->seg[i].off, rec->seg[i].len) !=
		    ERR_OK)
			goto fail;
	for (i = 0; i < rec->nchunk; i++)
		if (prev_src(pc->prev, rec->chunk[i].src, &src) != 0 ||
		    add_chunk(pc, rec->chunk[i].id, src, rec->chunk[i].off,
		    rec->chunk[i].len) != ERR_OK)
			goto fail;
	pc->ref_bytes += rec->size;
	return 0;
fail:
	pc->nseg = pc->nchunk = 0;
	pc->full = 0;
	return -1;
}
