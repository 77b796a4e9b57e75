/*
 * A restore's first pass over the manifest (see rstate.h): everything is
 * checked against the archive record before a data chunk is fetched, and
 * what is selected becomes ranges of the tar stream and the chunks that
 * hold them.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto.h"
#include "err.h"
#include "hash.h"
#include "istream.h"
#include "manifest.h"
#include "objfmt.h"
#include "repo.h"
#include "rstate.h"
#include "util.h"

int
restore_path_selected(const char *const *include, size_t ninclude,
    const char *path)
{
	char small[4096], *buf = small;
	size_t i, n = strlen(path), k;
	int hit = 0;

	if (ninclude == 0)
		return 1;
	/* Paths run to 64 KiB (docs/FORMAT.md §11). */
	if (n >= sizeof(small) && (buf = malloc(n + 1)) == NULL)
		return 0;
	for (i = 0; i < ninclude && !hit; i++) {
		if (fnmatch(include[i], path, 0) == 0) {
			hit = 1;
			break;
		}
		memcpy(buf, path, n + 1);
		for (k = n; k > 0 && !hit; k--) {
			if (buf[k] != '/')
				continue;
			buf[k] = '\0';
			hit = fnmatch(include[i], buf, 0) == 0;
		}
	}
	if (buf != small)
		free(buf);
	return hit;
}

int
plan_selected(const struct restore_opts *o, const char *path)
{
	return restore_path_selected(o->include, o->ninclude, path);
}

static int
cmp_need(const void *a, const void *b)
{
	const struct need *x = a, *y = b;
	int c = strcmp(x->target, y->target);

	return c != 0 ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The needed-target entry for path, if any (after add_needed sorted). */
struct need *
plan_find_need(const struct rs *r, const char *path)
{
	size_t lo = 0, hi = r->nneeded, mid;
	int c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = strcmp(path, r->needed[mid].target);
		if (c == 0)
			return &r->needed[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Is path part of what is read: selected, or a needed link target? */
int
plan_want(const struct rs *r, const char *path)
{
	return plan_selected(r->o, path) || plan_find_need(r, path) != NULL;
}

/* Remember a hard link target the selection lacks: its data will be
 * written at the first selected link (alias), and the other links made to
 * that. */
static int
need_target(struct rs *r, const char *target, const char *link)
{
	struct need *n;

	if (plan_selected(r->o, target))
		return ERR_OK;
	if (r->nneeded == r->capneeded) {
		r->capneeded = r->capneeded ? r->capneeded * 2 : 16;
		if ((n = realloc(r->needed, r->capneeded * sizeof(*n))) ==
		    NULL)
			goto nomem;
		r->needed = n;
	}
	n = &r->needed[r->nneeded];
	memset(n, 0, sizeof(*n));
	n->seq = r->nneeded;
	if ((n->target = strdup(target)) == NULL ||
	    (n->alias = strdup(link)) == NULL) {
		free(n->target);
		goto nomem;
	}
	r->nneeded++;
	return ERR_OK;
nomem:
	err_set("out of memory");
	return ERR_FAIL;
}

static int
cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->o < y->o ? -1 : x->o > y->o;
}

int
plan_add_range(struct rs *r, uint64_t o, uint64_t e)
{
	struct range *nr;

	if (r->nranges > 0 && r->ranges[r->nranges - 1].e == o) {
		r->ranges[r->nranges - 1].e = e;
		return ERR_OK;
	}
	if (r->nranges > 0 && o < r->ranges[r->nranges - 1].e) {
		err_set("manifest entries overlap or are out of order");
		return ERR_CORRUPT;
	}
	if (r->nranges == r->capranges) {
		r->capranges = r->capranges ? r->capranges * 2 : 64;
		if ((nr = realloc(r->ranges, r->capranges * sizeof(*nr))) ==
		    NULL) {
			err_set("out of memory");
			return ERR_FAIL;
		}
		r->ranges = nr;
	}
	r->ranges[r->nranges].o = o;
	r->ranges[r->nranges].e = e;
	r->nranges++;
	return ERR_OK;
}

/* The archive record and its authenticated manifest disagree. */
static int
record_mismatch(const struct rs *r)
{
	err_set("archive %s: the record does not match its encrypted manifest "
	    "(tampered record?)", r->a->id);
	return ERR_CORRUPT;
}

/* Version 3: the manifest's deps, base and chain are the record's. */
static int
check_chain_members(const struct rs *r, json_t *j)
{
	json_t *deps = json_object_get(j, "deps"), *v;
	uint64_t chain;
	size_t i;

	if (!json_is_array(deps) || json_array_size(deps) != r->a->ndeps)
		return ERR_CORRUPT;
	json_array_foreach(deps, i, v)
		if (!json_is_string(v) ||
		    strcmp(json_string_value(v), r->a->deps[i]) != 0)
			return ERR_CORRUPT;
	v = json_object_get(j, "base");
	if (r->a->base[0] == '\0' ? !json_is_null(v) : (!json_is_string(v) ||
	    strcmp(json_string_value(v), r->a->base) != 0))
		return ERR_CORRUPT;
	if (manifest_get_u64(j, "chain", &chain) != ERR_OK ||
	    chain != r->a->chain)
		return ERR_CORRUPT;
	return ERR_OK;
}

/* Check the manifest's first record against the archive record. */
static int
check_header_record(struct rs *r, json_t *j)
{
	const char *content;
	uint64_t cs, cus, ver;
	json_t *v;

	/* The record's version and hash are not authenticated: the manifest's
	 * are, and a record rewritten to another hash must not pass. */
	if (manifest_get_u64(j, "v", &ver) != ERR_OK ||
	    ver != (uint64_t)r->a->version)
		goto bad;
	v = json_object_get(j, "hash");
	if (ver >= 2 && (!json_is_string(v) ||
	    hash_parse(json_string_value(v)) != r->a->hash_alg))
		goto bad;
	v = json_object_get(j, "id");
	if (!json_is_string(v) || strcmp(json_string_value(v), r->a->id))
		goto bad;
	v = json_object_get(j, "name");
	if (!json_is_string(v) || strcmp(json_string_value(v), r->a->name))
		goto bad;
	v = json_object_get(j, "host");
	if (!json_is_string(v) || strcmp(json_string_value(v), r->a->host))
		goto bad;
	if (manifest_get_u64(j, "chunk_size", &cs) != ERR_OK ||
	    cs != r->a->chunk_size ||
	    manifest_get_u64(j, "created_us", &cus) != ERR_OK ||
	    (int64_t)cus != r->a->created_us)
		goto bad;
	v = json_object_get(j, "cipher");
	if (!json_is_string(v) ||
	    crypto_cipher_parse(json_string_value(v)) != r->a->cipher)
		goto bad;
	v = json_object_get(j, "content");
	if (!json_is_string(v))
		goto bad;
	content = json_string_value(v);
	/* The record's content was parsed and bounded with it (repo.c). */
	if (strcmp(content, r->a->content == OBJ_CONTENT_RAW ? "raw" :
	    "tar") != 0)
		goto bad;
	r->content = r->a->content;
	if (ver >= 3 && check_chain_members(r, j) != ERR_OK)
		goto bad;
	return ERR_OK;
bad:
	return record_mismatch(r);
}

static int
check_end_record(struct rs *r, json_t *j)
{
	uint64_t chunks, size, files, bytes;
	uint8_t hash[32];
	char member[HASH_MEMBER_MAX];
	json_t *v;

	if (manifest_get_u64(j, "chunks", &chunks) != ERR_OK ||
	    manifest_get_u64(j, "data_size", &size) != ERR_OK ||
	    manifest_get_u64(j, "files", &files) != ERR_OK ||
	    manifest_get_u64(j, "bytes", &bytes) != ERR_OK)
		goto bad;
	v = json_object_get(j, hash_member(member, "data", r->a->hash_alg));
	if (!json_is_string(v) || util_unhex(json_string_value(v), hash, 32))
		goto bad;
	if (r->tab.n == 0 || r->tab.c[r->tab.n - 1].offset + 4 +
	    r->tab.c[r->tab.n - 1].sealed_len != r->a->data_size)
		goto bad;
	if (chunks != r->a->chunks || chunks != r->tab.n ||
	    size != r->a->data_size || files != r->a->files ||
	    bytes != r->a->bytes || memcmp(hash, r->a->data_hash, 32) != 0)
		goto bad;
	if (r->a->version >= 3) {
		/* The frames object, read before, is bound here. */
		v = json_object_get(j, hash_member(member, "frames",
		    r->a->hash_alg));
		if (manifest_get_u64(j, "frames_size", &size) != ERR_OK ||
		    size != r->a->frames_size || !json_is_string(v) ||
		    util_unhex(json_string_value(v), hash, 32) != 0 ||
		    memcmp(hash, r->a->frames_hash, 32) != 0)
			goto bad;
	}
	return ERR_OK;
bad:
	return record_mismatch(r);
}

int
plan_chunk_add(const struct repo_archive *a, json_t *j, struct chunk_table *t)
{
	struct istream_chunk *c;
	uint64_t i, off, len, plain, expect_off;

	if (manifest_get_u64(j, "i", &i) != ERR_OK ||
	    manifest_get_u64(j, "off", &off) != ERR_OK ||
	    manifest_get_u64(j, "len", &len) != ERR_OK ||
	    manifest_get_u64(j, "plain", &plain) != ERR_OK)
		return ERR_CORRUPT;
	expect_off = t->n == 0 ? OBJ_HEADER : t->c[t->n - 1].offset + 4 +
	    t->c[t->n - 1].sealed_len;
	/* Every chunk but the last holds exactly chunk_size bytes. */
	if (i != t->n || i >= a->chunks || off != expect_off ||
	    len < CRYPTO_TAG || len > objfmt_max_sealed(a->chunk_size) ||
	    off + 4 + len > a->data_size || plain > a->chunk_size ||
	    (t->n > 0 && t->c[t->n - 1].plain_len != a->chunk_size))
		return ERR_CORRUPT;
	if (t->n == t->cap) {
		/* Grown as authenticated records arrive: the record's count
		 * is not authenticated and must not size an allocation. */
		size_t cap = t->cap ? t->cap * 2 : 256;

		if ((c = realloc(t->c, cap * sizeof(*c))) == NULL) {
			err_set("out of memory");
			return ERR_FAIL;
		}
		t->c = c;
		t->cap = cap;
	}
	c = &t->c[t->n++];
	memset(c, 0, sizeof(*c));
	c->index = i;
	c->offset = off;
	c->sealed_len = (uint32_t)len;
	c->plain_len = (uint32_t)plain;
	t->plain_total += plain;
	return ERR_OK;
}

static int
add_chunk(struct rs *r, json_t *j)
{
	int rc = plan_chunk_add(r->a, j, &r->tab);

	if (rc == ERR_CORRUPT)
		err_set("archive %s: malformed chunk table in manifest",
		    r->a->id);
	return rc;
}

/* A selected hard link f: remember its target, to be made first (and,
 * in a partial restore, restored even if not selected). */
static int
add_target(struct rs *r, const struct mfile *f)
{
	int rc;

	if (!r->targets_full && (rc = pathset_add(&r->targets, f->link,
	    strlen(f->link))) != ERR_OK) {
		if (rc != PATHSET_FULL)
			return rc;
		r->targets_full = 1;
	}
	return r->o->ninclude > 0 ? need_target(r, f->link, f->path) : ERR_OK;
}

/* Pass 1: read the whole manifest. */
int
plan_scan(struct rs *r)
{
	struct manifest_reader *mr = NULL;
	struct mfile f;
	const char *t;
	json_t *j;
	int rc, n = 0, ended = 0;

	if ((rc = manifest_reader_open(r->sto, r->mkey, r->a->cipher,
	    r->keys + 64, r->id, r->a->hash_alg, &mr)) != ERR_OK)
		return rc;
	while ((rc = manifest_next(mr, &j, &t)) == 1) {
		if (ended) {
			rc = ERR_CORRUPT;
			err_set("records after the end of the manifest");
		} else if (n++ == 0) {
			rc = strcmp(t, "archive") == 0 ?
			    check_header_record(r, j) : ERR_CORRUPT;
		} else if (strcmp(t, "chunk") == 0 && !r->v3) {
			rc = add_chunk(r, j);
		} else if (strcmp(t, "file") == 0) {
			if ((rc = manifest_file_decode(j, r->a->hash_alg,
			    &f)) == ERR_OK && f.has_seg != r->v3) {
				manifest_file_release(&f);
				err_set("malformed file record in manifest");
				rc = ERR_CORRUPT;
			} else if (rc == ERR_OK) {
				if (plan_selected(r->o, f.path)) {
					rc = r->v3 ? chain_add_segments(r, &f) :
					    plan_add_range(r, f.o, f.e);
					r->sel_bytes += f.size;
					r->sel_files++;
					if (rc == ERR_OK && f.type ==
					    MF_HARDLINK)
						rc = add_target(r, &f);
				}
				manifest_file_release(&f);
			}
		} else if (strcmp(t, "end") == 0) {
			rc = check_end_record(r, j);
			ended = 1;
		} else
			rc = ERR_OK;   /* "skipped" and future records */
		json_decref(j);
		if (rc != ERR_OK)
			break;
	}
	if (rc == 0 && !ended) {
		err_set("manifest of archive %s is incomplete", r->a->id);
		rc = ERR_CORRUPT;
	}
	if (rc == 0) {
		uint8_t hash[32];
		uint64_t size;

		if (manifest_reader_hash(mr, hash, &size) != 0 ||
		    size != r->a->manifest_size ||
		    memcmp(hash, r->a->manifest_hash, 32) != 0) {
			err_set("object '%s' does not match the size and "
			    "%s in its record (damaged or tampered)",
			    r->mkey, hash_label(r->a->hash_alg));
			rc = ERR_CORRUPT;
		}
	}
	manifest_reader_free(mr);
	if (rc < 0) {
		char p[16 + REPO_ID_HEX];

		/* Once: some messages name the archive already. */
		snprintf(p, sizeof(p), "archive %s:", r->a->id);
		if (rc == ERR_CORRUPT && strncmp(err_get(), p, strlen(p)) != 0)
			err_prefix("%s ", p);
		return rc;
	}
	if (!r->v3 && r->ranges != NULL &&
	    r->ranges[r->nranges - 1].e > r->tab.plain_total) {
		err_set("archive %s: manifest entries beyond the data",
		    r->a->id);
		return ERR_CORRUPT;
	}
	return ERR_OK;
}

/* Add the ranges of hard link targets the selection lacks, so that the
 * links can be made; the targets are restored too. */
int
plan_add_needed(struct rs *r)
{
	struct manifest_reader *mr = NULL;
	struct range *nr;
	struct mfile f;
	const char *t;
	json_t *j;
	size_t k, w;
	int rc;

	if (r->nneeded == 0)
		return ERR_OK;
	/* Sort by target, first link first, and keep one per target. */
	qsort(r->needed, r->nneeded, sizeof(*r->needed), cmp_need);
	for (k = 1, w = 0; k < r->nneeded; k++) {
		if (strcmp(r->needed[k].target, r->needed[w].target) == 0) {
			free(r->needed[k].target);
			free(r->needed[k].alias);
		} else
			r->needed[++w] = r->needed[k];
	}
	r->nneeded = w + 1;
	if ((rc = manifest_reader_open(r->sto, r->mkey, r->a->cipher,
	    r->keys + 64, r->id, r->a->hash_alg, &mr)) != ERR_OK)
		return rc;
	if (r->v3)
		r->nranges = 0;     /* again, in manifest order, with them */
	while ((rc = manifest_next(mr, &j, &t)) == 1) {
		if (strcmp(t, "file") == 0 &&
		    (rc = manifest_file_decode(j, r->a->hash_alg, &f)) ==
		    ERR_OK) {
			if (r->v3) {
				if (plan_want(r, f.path)) {
					if (!plan_selected(r->o, f.path))
						r->sel_bytes += f.size;
					rc = chain_add_segments(r, &f);
				}
			} else if (!plan_selected(r->o, f.path) &&
			    plan_want(r, f.path)) {
				if (r->nranges == r->capranges) {
					r->capranges = r->capranges * 2 + 16;
					nr = realloc(r->ranges, r->capranges *
					    sizeof(*nr));
					if (nr == NULL) {
						manifest_file_release(&f);
						json_decref(j);
						err_set("out of memory");
						rc = ERR_FAIL;
						break;
					}
					r->ranges = nr;
				}
				r->ranges[r->nranges].o = f.o;
				r->ranges[r->nranges++].e = f.e;
				r->sel_bytes += f.size;
			}
			manifest_file_release(&f);
		}
		json_decref(j);
		if (rc < 0)
			break;
	}
	manifest_reader_free(mr);
	if (rc < 0 || r->v3)
		return rc < 0 ? rc : ERR_OK;
	if (r->nranges > 1)
		qsort(r->ranges, r->nranges, sizeof(*r->ranges), cmp_range);
	for (k = 1, w = 0; k < r->nranges; k++) {
		if (r->ranges[k].o <= r->ranges[w].e) {
			if (r->ranges[k].e > r->ranges[w].e)
				r->ranges[w].e = r->ranges[k].e;
		} else
			r->ranges[++w] = r->ranges[k];
	}
	if (r->nranges > 0)
		r->nranges = w + 1;
	return ERR_OK;
}

/* The chunks that hold the selected ranges, in order. */
int
plan_make(struct rs *r)
{
	uint64_t cs = r->a->chunk_size, first, last, i, prev = UINT64_MAX;
	size_t k;

	if (r->v3)
		return chain_plan(r);
	if ((r->plan = calloc((size_t)r->tab.n, sizeof(*r->plan))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	for (k = 0; k < r->nranges; k++) {
		if (r->ranges[k].e == r->ranges[k].o)
			continue;
		first = r->ranges[k].o / cs;
		last = (r->ranges[k].e - 1) / cs;
		for (i = first; i <= last && i < r->tab.n; i++) {
			if (prev != UINT64_MAX && i <= prev)
				continue;
			r->plan[r->nplan++] = r->tab.c[i];
			prev = i;
		}
	}
	return ERR_OK;
}
