#ifndef BKP_PREV_H
#define BKP_PREV_H

/*
 * What an incremental backup compares against: this host's file index
 * (core/findex.h) of the dataset's newest archive, read in walk order
 * alongside the walk, and the table of sources (archives) the new
 * archive's entries reference.  The host cannot read earlier manifests,
 * so when the index is missing, damaged, from elsewhere or not about the
 * newest archive, the backup is a full one (prev_open says why once).
 */

#include <stddef.h>
#include <stdint.h>

#include "findex.h"
#include "repo.h"

struct backup_opts;

struct prev {
	char path[4096];              /* the dataset's index file */
	struct findex *ix;            /* NULL: a full backup */
	const struct findex_head *h;
	struct findex_rec rec;        /* the record at the merge point */
	int have, eof;
	char whybuf[512];

	uint8_t *key;                 /* 32, sodium_malloc: chunking secret */
	int content;                  /* OBJ_CONTENT_* of this backup */
	int incremental;
	uint32_t chain;               /* of the new archive */
	int64_t full_us;              /* the chain's full */
	char base[REPO_ID_HEX + 1];   /* compared with ("" for a full) */

	/* The new archive's sources: src[0] is the new archive itself,
	 * src[k] its deps[k-1]. */
	uint8_t src[REPO_MAX_DEPS + 1][16];
	size_t nsrc;
	uint32_t map[FINDEX_MAX_ARCH];  /* old index source -> new, or ~0 */
};

/*
 * prev_open(p, r, o, newid, created_us, &why): decide full or
 * incremental and set p up.  A full is forced by o->full, by a chain at
 * o->max_chain or a full older than o->full_every; an unusable index
 * makes one too, and then *why (static or in p) says why in a sentence
 * ("no file index of it on this host").  *why is NULL when there is
 * nothing to say (an incremental, or the dataset's first archive).
 * Returns ERR_OK or ERR_FAIL (storage errors listing archives).
 */
int prev_open(struct prev *p, struct repo *r, const struct backup_opts *o,
    const uint8_t newid[16], int64_t created_us, const char **why);

/*
 * prev_find(p, path, len): the previous index's record for path, or NULL;
 * paths must be asked in increasing findex_pathcmp order (others return
 * NULL).  Valid until the next call.  An index read error is returned
 * as NULL with *err set non-zero: the caller fails the backup.
 */
const struct findex_rec *prev_find(struct prev *p, const char *path,
    size_t len, int *err);

/*
 * prev_src(p, old, &src): the new archive's source number for source
 * `old` of the previous index; -1 if there is none (then the caller
 * stores the bytes again).  The new archive's deps are the previous
 * index's sources: the chain since its full, whether or not referenced.
 */
int prev_src(struct prev *p, uint32_t old, uint32_t *src);

/* prev_close(p): free (also when prev_open failed). */
void prev_close(struct prev *p);

#endif
