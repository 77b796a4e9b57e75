/*
 * Version 3 archives in a restore: the sources (the archive and the
 * archives of its chain whose data it references), each with its own
 * data key and chunk table (its frames object); the plan of chunks to
 * fetch from all of them, in the order the entries' segments need them;
 * and the bytes fed to the tar reader (or the raw file) in that order.
 *
 * Segments jump between sources (an unchanged file's bytes are in the
 * base, a changed one's in the tip), so a chunk may be needed again after
 * another source's: when the feed leaves a chunk for another source's, it
 * keeps a copy of it in a small cache (CACHE_SLOTS chunks).  The planner
 * and the feeder take every decision through the same function (need),
 * so the plan holds exactly the chunks the feeder asks for.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <jansson.h>
#include <sodium.h>

#include "crypto.h"
#include "err.h"
#include "hash.h"
#include "istream.h"
#include "manifest.h"
#include "objfmt.h"
#include "repo.h"
#include "rstate.h"
#include "util.h"

enum { N_CUR, N_CACHE, N_FETCH };

/* The decision for chunk (src, idx): the current chunk, a cached one
 * (*slot), or a fetch (after which it is current; *slot >= 0 if the
 * chunk that was current must first be copied into that cache slot). */
static int
need(struct chain_walk *w, uint32_t src, uint64_t idx, int *slot)
{
	int i, lru = 0;

	*slot = -1;
	w->clock++;
	if (w->have && w->src == src && w->idx == idx)
		return N_CUR;
	for (i = 0; i < CACHE_SLOTS; i++)
		if (w->slot[i].used && w->slot[i].src == src &&
		    w->slot[i].idx == idx) {
			w->slot[i].stamp = w->clock;
			*slot = i;
			return N_CACHE;
		}
	if (w->have && w->src != src) {
		for (i = 0; i < CACHE_SLOTS; i++) {
			if (!w->slot[i].used) {
				lru = i;
				break;
			}
			if (w->slot[i].stamp < w->slot[lru].stamp)
				lru = i;
		}
		w->slot[lru].used = 1;
		w->slot[lru].src = w->src;
		w->slot[lru].idx = w->idx;
		w->slot[lru].stamp = w->clock;
		*slot = lru;
	}
	w->have = 1;
	w->src = src;
	w->idx = idx;
	return N_FETCH;
}

/* Sources */

static int
bad_frames(const struct rsrc *s)
{
	err_set("frames object '%s' is malformed", s->fkey);
	return ERR_CORRUPT;
}

static int
add_frame(struct rsrc *s, json_t *j)
{
	int rc = plan_chunk_add(s->a, j, &s->tab);

	return rc == ERR_CORRUPT ? bad_frames(s) : rc;
}

static int
frames_end(struct rsrc *s, json_t *j)
{
	const struct repo_archive *a = s->a;
	char member[HASH_MEMBER_MAX];
	uint64_t chunks, size;
	uint8_t hash[32];
	json_t *v;

	v = json_object_get(j, hash_member(member, "data", a->hash_alg));
	if (manifest_get_u64(j, "chunks", &chunks) != ERR_OK ||
	    manifest_get_u64(j, "data_size", &size) != ERR_OK)
		return bad_frames(s);
	/* No digest under the record's hash: the record names another hash
	 * than the archive was written with. */
	if (!json_is_string(v) || util_unhex(json_string_value(v), hash, 32) ||
	    chunks != a->chunks || chunks != s->tab.n ||
	    size != a->data_size || memcmp(hash, a->data_hash, 32) != 0 ||
	    s->tab.c[s->tab.n - 1].offset + 4 +
	    s->tab.c[s->tab.n - 1].sealed_len != a->data_size) {
		err_set("the record of archive %s does not match its frames "
		    "object (tampered record?)", a->id);
		return ERR_CORRUPT;
	}
	return ERR_OK;
}

/* Read a source's frames object: its data object's chunk table. */
static int
load_frames(struct rs *r, struct rsrc *s)
{
	struct manifest_reader *mr = NULL;
	const char *t;
	uint8_t id[16], hash[32];
	uint64_t v, size;
	json_t *j, *x;
	int rc, n = 0, ended = 0;

	util_unhex(s->a->id, id, 16);
	if ((rc = manifest_reader_open(r->sto, s->fkey, s->a->cipher,
	    s->keys + 64, id, s->a->hash_alg, &mr)) != ERR_OK)
		return rc;
	while ((rc = manifest_next(mr, &j, &t)) == 1) {
		if (ended)
			rc = bad_frames(s);
		else if (n++ == 0) {
			x = json_object_get(j, "id");
			rc = strcmp(t, "frames") == 0 && manifest_get_u64(j, "v",
			    &v) == ERR_OK && v == 3 && json_is_string(x) &&
			    strcmp(json_string_value(x), s->a->id) == 0 ?
			    ERR_OK : bad_frames(s);
		} else if (strcmp(t, "chunk") == 0)
			rc = add_frame(s, j);
		else if (strcmp(t, "end") == 0) {
			rc = s->tab.n > 0 ? frames_end(s, j) : bad_frames(s);
			ended = 1;
		} else
			rc = ERR_OK;
		json_decref(j);
		if (rc != ERR_OK)
			break;
	}
	if (rc == 0 && !ended)
		rc = bad_frames(s);
	if (rc == 0 && (manifest_reader_hash(mr, hash, &size) != 0 ||
	    size != s->a->frames_size ||
	    memcmp(hash, s->a->frames_hash, 32) != 0)) {
		err_set("object '%s' does not match the size and %s in its "
		    "record (damaged or tampered)", s->fkey,
		    hash_label(s->a->hash_alg));
		rc = ERR_CORRUPT;
	}
	manifest_reader_free(mr);
	return rc;
}

/* Set source s up for archive a: keys, object names, header. */
static int
open_source(struct rs *r, struct rsrc *s, const struct repo_archive *a,
    const struct keys_secret *sk)
{
	int rc;

	s->a = a;
	if ((s->keys = sodium_malloc(3 * 32)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	if ((rc = repo_unwrap(a, sk, s->keys)) != ERR_OK)
		return rc;
	crypto_subkey(s->keys, "data", s->keys + 32);
	crypto_subkey(s->keys, "frames", s->keys + 64);
	repo_key_data(a->id, s->dkey, sizeof(s->dkey));
	repo_key_frames(a->id, s->fkey, sizeof(s->fkey));
	memset(&s->h, 0, sizeof(s->h));
	s->h.type = OBJ_TYPE_DATA;
	s->h.cipher = a->cipher;
	s->h.content = a->content;
	s->h.chunk_size = a->chunk_size;
	util_unhex(a->id, s->h.id, 16);
	return load_frames(r, s);
}

/* A dependency must be an earlier version 3 archive of the dataset. */
static int
dep_ok(const struct repo_archive *a, const struct repo_archive *d)
{
	if (d->version == 3 && strcmp(d->name, a->name) == 0 &&
	    d->content == a->content && d->created_us < a->created_us)
		return ERR_OK;
	err_set("its record names archive %s, which is not an earlier archive "
	    "of dataset '%s'", d->id, a->name);
	return ERR_CORRUPT;
}

/* Does the message start by naming archive id? */
static int
names_archive(const char *id)
{
	const char *e = err_get();

	return strncmp(e, "archive ", 8) == 0 && strncmp(e + 8, id,
	    strlen(id)) == 0 && e[8 + strlen(id)] == ':';
}

int
chain_open(struct rs *r, const struct keys_secret *sk)
{
	const struct repo_archive *a = r->a;
	struct rsrc *s;
	size_t i;
	int rc;

	if ((r->src = calloc(a->ndeps + 1, sizeof(*r->src))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	r->nsrc = a->ndeps + 1;
	if ((rc = open_source(r, &r->src[0], a, sk)) != ERR_OK)
		goto fail;
	for (i = 0; i < a->ndeps; i++) {
		s = &r->src[i + 1];
		s->no = (uint32_t)i + 1;
		if ((rc = repo_find(r->repo, a->deps[i], &s->own)) != ERR_OK) {
			if (rc == ERR_NOTFOUND) {
				err_set("archive %s it depends on is missing",
				    a->deps[i]);
				rc = ERR_CORRUPT;
			}
			goto dep_fail;
		}
		s->loaded = 1;
		if (strcmp(s->own.id, a->deps[i]) != 0) {
			err_set("archive %s it depends on is missing",
			    a->deps[i]);
			rc = ERR_CORRUPT;
			goto dep_fail;
		}
		if ((rc = dep_ok(a, &s->own)) != ERR_OK ||
		    (rc = open_source(r, s, &s->own, sk)) != ERR_OK)
			goto dep_fail;
	}
	for (i = 0; i < r->nsrc; i++)
		if (r->src[i].a->chunk_size > r->cachecap)
			r->cachecap = r->src[i].a->chunk_size;
	/* The archive's own table, for the checks it shares with v2. */
	r->tab = r->src[0].tab;
	return ERR_OK;
dep_fail:
	if (strstr(err_get(), a->deps[i]) == NULL)
		err_prefix("base archive %s: ", a->deps[i]);
fail:
	/* Whatever failed (a missing frames object, a dependency this key
	 * cannot open, a read error), the message names the archive. */
	if (!names_archive(a->id))
		err_prefix("archive %s: ", a->id);
	return rc;
}

void
chain_release(struct rs *r)
{
	size_t i;

	for (i = 0; r->src != NULL && i < r->nsrc; i++) {
		if (r->src[i].keys != NULL)
			sodium_free(r->src[i].keys);
		if (r->src[i].tab.c != r->tab.c)
			free(r->src[i].tab.c);   /* src[0]'s is r->tab's */
		if (r->src[i].loaded)
			repo_archive_release(&r->src[i].own);
	}
	free(r->src);
	r->src = NULL;
	for (i = 0; i < CACHE_SLOTS; i++)
		free(r->cache[i]);
}

/* Ranges */

int
chain_add_segments(struct rs *r, const struct mfile *f)
{
	struct range *l;
	size_t i;

	if (f->nseg == 0 && (r->content != OBJ_CONTENT_RAW || f->size != 0)) {
		err_set("archive %s: '%s': a file record without segments",
		    r->a->id, f->path);
		return ERR_CORRUPT;
	}
	for (i = 0; i < f->nseg; i++) {
		const struct mseg *g = &f->seg[i];

		if (g->src >= r->nsrc) {
			err_set("archive %s: '%s': a segment names source %lu; "
			    "the archive has %lu dep%s", r->a->id, f->path,
			    (unsigned long)g->src, (unsigned long)(r->nsrc - 1),
			    r->nsrc == 2 ? "" : "s");
			return ERR_CORRUPT;
		}
		/* off and len are at most 2^62 each: no overflow. */
		if (g->off + g->len > r->src[g->src].tab.plain_total) {
			if (g->src == 0)
				err_set("archive %s: '%s': a segment beyond its "
				    "data", r->a->id, f->path);
			else
				err_set("archive %s: '%s': a segment beyond the "
				    "data of archive %s (source %lu)", r->a->id,
				    f->path, r->src[g->src].a->id,
				    (unsigned long)g->src);
			return ERR_CORRUPT;
		}
		l = r->nranges > 0 ? &r->ranges[r->nranges - 1] : NULL;
		if (l != NULL && l->src == g->src && l->e == g->off) {
			l->e += g->len;
			continue;
		}
		if (r->nranges == r->capranges) {
			size_t cap = r->capranges * 2 + 16;

			if ((l = realloc(r->ranges, cap * sizeof(*l))) == NULL) {
				err_set("out of memory");
				return ERR_FAIL;
			}
			r->ranges = l;
			r->capranges = cap;
		}
		l = &r->ranges[r->nranges++];
		l->src = g->src;
		l->o = g->off;
		l->e = g->off + g->len;
	}
	return ERR_OK;
}

int
chain_plan(struct rs *r)
{
	struct chain_walk w;
	struct istream_chunk *p;
	uint64_t cs, i, first, last, limit = 0;
	size_t k, cap = 0;
	int slot;

	/* Segments may name the same bytes again and again (a forged
	 * archive of a few hundred bytes could plan gigabytes of fetches):
	 * the plan is bounded by what the sources hold and by the number of
	 * ranges, which the manifest's own size bounds.  A real archive
	 * fetches each chunk about once, and again at most once a range. */
	for (k = 0; k < r->nsrc; k++)
		limit += 4 * r->src[k].tab.n;
	limit += 2 * (uint64_t)r->nranges + 65536;
	memset(&w, 0, sizeof(w));
	for (k = 0; k < r->nranges; k++) {
		const struct range *g = &r->ranges[k];

		cs = r->src[g->src].a->chunk_size;
		first = g->o / cs;
		last = (g->e - 1) / cs;
		for (i = first; i <= last; i++) {
			if (need(&w, g->src, i, &slot) != N_FETCH)
				continue;
			if (i >= r->src[g->src].tab.n) {
				err_set("archive %s: a segment beyond the data",
				    r->a->id);
				return ERR_CORRUPT;
			}
			if (r->nplan >= limit) {
				err_set("archive %s: its segments name the same "
				    "data over and over (more than %llu chunk "
				    "reads)", r->a->id, (unsigned long long)limit);
				return ERR_CORRUPT;
			}
			if (r->nplan == cap) {
				cap = cap * 2 + 64;
				if ((p = realloc(r->plan, cap * sizeof(*p))) ==
				    NULL) {
					err_set("out of memory");
					return ERR_FAIL;
				}
				r->plan = p;
			}
			r->plan[r->nplan] = r->src[g->src].tab.c[i];
			r->plan[r->nplan++].src = g->src;
		}
	}
	return ERR_OK;
}

int
chain_stream(struct rs *r, int threads)
{
	struct istream_source *ss;
	size_t i;
	int rc;

	if ((ss = calloc(r->nsrc, sizeof(*ss))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	for (i = 0; i < r->nsrc; i++) {
		ss[i].key = r->src[i].dkey;
		ss[i].h = &r->src[i].h;
		ss[i].subkey = r->src[i].keys + 32;
		ss[i].nchunks = r->src[i].tab.n;
	}
	r->iss = ss;
	rc = istream_new_multi(r->sto, ss, r->nsrc, r->plan, r->nplan,
	    threads, &r->is);
	return rc;
}

/* Feeding */

/* The plaintext of chunk (src, idx), fetched or cached. */
static int
chunk_at(struct rs *r, uint32_t src, uint64_t idx, const uint8_t **buf,
    size_t *len)
{
	struct chain_walk *w = &r->walk;
	uint64_t gi;
	uint32_t gs;
	int slot, d, rc;

	d = need(w, src, idx, &slot);
	if (d == N_CUR) {
		*buf = r->cbuf;
		*len = r->clen;
		return ERR_OK;
	}
	if (d == N_CACHE) {
		*buf = r->cache[slot];
		*len = r->cachelen[slot];
		return ERR_OK;
	}
	if (slot >= 0) {
		/* Leaving a chunk for another source's: keep a copy. */
		if (r->cache[slot] == NULL && (r->cache[slot] = malloc(
		    r->cachecap)) == NULL) {
			err_set("out of memory");
			return ERR_FAIL;
		}
		memcpy(r->cache[slot], r->cbuf, r->clen);
		r->cachelen[slot] = r->clen;
	}
	rc = istream_next_src(r->is, &r->cbuf, &r->clen, &gi, &gs);
	if (rc == 0) {
		err_set("archive %s: data ends early", r->a->id);
		return ERR_CORRUPT;
	}
	if (rc < 0) {
		if (rc == ERR_CORRUPT && strstr(err_get(), r->a->id) == NULL)
			err_prefix("archive %s: ", r->a->id);
		return rc;
	}
	if (gs != src || gi != idx) {
		err_set("archive %s: restore plan out of step", r->a->id);
		return ERR_FAIL;
	}
	r->st->chunks++;
	*buf = r->cbuf;
	*len = r->clen;
	return ERR_OK;
}

int
chain_read(struct rs *r, const void **out, size_t *outlen)
{
	const struct range *g;
	const uint8_t *buf;
	uint64_t cs, idx, base, end;
	size_t len;
	int rc;

	for (;;) {
		if (r->o->cancel != NULL && *r->o->cancel) {
			err_set("interrupted");
			return ERR_FAIL;
		}
		if (r->ri >= r->nranges) {
			*outlen = 0;
			return ERR_OK;
		}
		g = &r->ranges[r->ri];
		if (!r->rstarted) {     /* ranges are in feed order, not */
			r->rpos = g->o; /* in offset order */
			r->rstarted = 1;
		}
		if (r->rpos >= g->e) {
			r->ri++;
			r->rstarted = 0;
			continue;
		}
		cs = r->src[g->src].a->chunk_size;
		idx = r->rpos / cs;
		base = idx * cs;
		if ((rc = chunk_at(r, g->src, idx, &buf, &len)) != ERR_OK)
			return rc;
		end = g->e < base + len ? g->e : base + len;
		if (r->rpos >= end) {
			err_set("archive %s: a segment beyond its chunk",
			    r->a->id);
			return ERR_CORRUPT;
		}
		*out = buf + (r->rpos - base);
		*outlen = (size_t)(end - r->rpos);
		r->rpos = end;
		return ERR_OK;
	}
}

la_ssize_t
chain_feed(struct archive *ar, void *arg, const void **out)
{
	struct rs *r = arg;
	size_t n;
	int rc;

	if ((rc = chain_read(r, out, &n)) != ERR_OK) {
		r->feed_status = rc;
		archive_set_error(ar, rc == ERR_FAIL &&
		    strcmp(err_get(), "interrupted") == 0 ? EINTR : EIO, "%s",
		    err_get());
		return -1;
	}
	if (n > 0)
		return (la_ssize_t)n;
	if (r->tail_done)
		return 0;
	r->tail_done = 1;
	*out = r->zeros;
	return TAR_TAIL;
}

/* Full verification: every byte the archive depends on, and each data
 * object's size and hash against its record. */
int
chain_verify_objects(struct rs *r, int threads)
{
	struct istream *is;
	const uint8_t *b;
	uint8_t hash[32];
	uint64_t size, idx;
	size_t i, bl;
	int rc = ERR_OK, x;

	for (i = 0; i < r->nsrc && rc == ERR_OK; i++) {
		struct rsrc *s = &r->src[i];

		if ((rc = istream_new(r->sto, s->dkey, &s->h, s->keys + 32,
		    s->tab.n, s->tab.c, (size_t)s->tab.n, threads,
		    s->a->hash_alg, &is)) != ERR_OK)
			break;
		while ((x = istream_next(is, &b, &bl, &idx)) == 1)
			;
		rc = x;
		r->is = is;
		rs_add_stats(r);
		r->is = NULL;
		if (rc == ERR_OK && (istream_object_hash(is, hash, &size) != 0
		    || size != s->a->data_size ||
		    memcmp(hash, s->a->data_hash, 32) != 0)) {
			err_set("object '%s' does not match the %s in its "
			    "record (damaged or tampered)", s->dkey,
			    hash_label(s->a->hash_alg));
			rc = ERR_CORRUPT;
		}
		istream_free(is);
		if (rc != ERR_OK && i > 0 && rc == ERR_CORRUPT)
			err_prefix("base archive %s: ", s->a->id);
	}
	if (rc == ERR_CORRUPT)
		err_prefix("archive %s: ", r->a->id);
	return rc;
}
