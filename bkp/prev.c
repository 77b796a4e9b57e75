/*
 * The comparison state of an incremental backup: which archive it builds
 * on, the merge against this host's file index, and the new archive's
 * table of sources.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backup.h"
#include "err.h"
#include "findex.h"
#include "hash.h"
#include "objfmt.h"
#include "prev.h"
#include "repo.h"
#include "util.h"

static int
listed(const struct repo_archive *arr, size_t n, const uint8_t id[16])
{
	char hex[REPO_ID_HEX + 1];
	size_t i;

	util_hex(id, 16, hex);
	for (i = 0; i < n; i++)
		if (strcmp(arr[i].id, hex) == 0)
			return 1;
	return 0;
}

/* Is the open index one the new archive may build on?  NULL if so, else
 * why not. */
static const char *
unusable(struct prev *p, const struct repo_archive *arr, size_t n)
{
	char hex[REPO_ID_HEX + 1];
	size_t i;

	util_hex(p->h->archive, 16, hex);
	if (strcmp(hex, arr[n - 1].id) != 0) {
		snprintf(p->whybuf, sizeof(p->whybuf), "this host's file index "
		    "describes archive %s, not the dataset's newest archive %s",
		    hex, arr[n - 1].id);
		return p->whybuf;
	}
	if (arr[n - 1].version < 3)
		return "the newest archive has an older format";
	if (arr[n - 1].content != p->content)
		return p->content == OBJ_CONTENT_RAW ? "the newest archive "
		    "holds files, this backup standard input" : "the newest "
		    "archive holds standard input, this backup files";
	if (p->h->hash_alg != HASH_DEFAULT)
		return "the file index uses another hash";
	for (i = 0; i < p->h->narch; i++)
		if (!listed(arr, n, p->h->arch[i])) {
			util_hex(p->h->arch[i], 16, hex);
			snprintf(p->whybuf, sizeof(p->whybuf), "archive %s, "
			    "which the file index references, is gone", hex);
			return p->whybuf;
		}
	return NULL;
}

/* Open the index; NULL if it may be used, else why not. */
static const char *
open_index(struct prev *p, struct repo *r, const char *name,
    const struct repo_archive *arr, size_t n)
{
	uint8_t repo[16];
	int rc;

	if (util_unhex(repo_config(r)->id, repo, 16) != 0)
		return "the repository id is malformed";
	rc = findex_open(p->path, repo, name, &p->ix, &p->h);
	if (rc == ERR_NOTFOUND)
		return "there is no file index of it on this host";
	if (rc != ERR_OK) {
		snprintf(p->whybuf, sizeof(p->whybuf), "%s", err_get());
		return p->whybuf;
	}
	return unusable(p, arr, n);
}

/* The backup policy's fulls: asked for, chain too long, full too old. */
static int
policy_full(const struct prev *p, const struct backup_opts *o,
    int64_t created_us)
{
	if (o->full)
		return 1;
	if (p->h->chain + 1 > o->max_chain)
		return 1;
	return o->full_every > 0 &&
	    (double)(created_us - p->h->full_us) / 1e6 >= o->full_every;
}

int
prev_open(struct prev *p, struct repo *r, const struct backup_opts *o,
    const uint8_t newid[16], int64_t created_us, const char **why)
{
	struct repo_archive *arr = NULL;
	size_t n = 0, i;
	int rc;

	memset(p, 0, sizeof(*p));
	*why = NULL;
	p->content = o->stdin_name != NULL ? OBJ_CONTENT_RAW : OBJ_CONTENT_TAR;
	memcpy(p->src[0], newid, 16);
	p->nsrc = 1;
	for (i = 0; i < FINDEX_MAX_ARCH; i++)
		p->map[i] = UINT32_MAX;
	p->full_us = created_us;
	if ((p->key = sodium_malloc(32)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	randombytes_buf(p->key, 32);
	if (findex_path(repo_config(r)->id, o->name, p->path,
	    sizeof(p->path)) != ERR_OK)
		return ERR_FAIL;
	if ((rc = repo_list(r, o->name, &arr, &n, NULL)) != ERR_OK)
		return rc;
	if (n == 0)
		goto full;
	if ((*why = open_index(p, r, o->name, arr, n)) != NULL)
		goto full;
	if (policy_full(p, o, created_us))
		goto full;
	if (p->h->narch > REPO_MAX_DEPS) {
		*why = "its chain references too many archives";
		goto full;
	}
	/* The new archive's sources: itself, then the index's (its base
	 * and the base's deps): the chain since its full. */
	for (i = 0; i < p->h->narch; i++) {
		memcpy(p->src[i + 1], p->h->arch[i], 16);
		p->map[i] = (uint32_t)i + 1;
	}
	p->nsrc = p->h->narch + 1;
	p->incremental = 1;
	p->chain = p->h->chain + 1;
	p->full_us = p->h->full_us;
	memcpy(p->base, arr[n - 1].id, sizeof(p->base));
	memcpy(p->key, p->h->key, 32);
	repo_archives_free(arr, n);
	return ERR_OK;
full:
	findex_close(p->ix);
	p->ix = NULL;
	p->h = NULL;
	repo_archives_free(arr, n);
	return ERR_OK;
}

const struct findex_rec *
prev_find(struct prev *p, const char *path, size_t len, int *err)
{
	int rc, c;

	if (p->ix == NULL)
		return NULL;
	for (;;) {
		if (!p->have) {
			if (p->eof)
				return NULL;
			if ((rc = findex_next(p->ix, &p->rec)) < 0) {
				*err = 1;
				return NULL;
			}
			if (rc == 0) {
				p->eof = 1;
				return NULL;
			}
			p->have = 1;
		}
		c = findex_pathcmp(p->rec.path, p->rec.pathlen, path, len);
		if (c > 0)
			return NULL;
		if (c == 0)
			return &p->rec;
		p->have = 0;
	}
}

int
prev_src(struct prev *p, uint32_t old, uint32_t *src)
{
	if (p->h == NULL || old >= p->h->narch || p->map[old] == UINT32_MAX)
		return -1;
	*src = p->map[old];
	return 0;
}

void
prev_close(struct prev *p)
{
	findex_close(p->ix);
	p->ix = NULL;
	p->h = NULL;
	if (p->key != NULL)
		sodium_free(p->key);
	p->key = NULL;
}
