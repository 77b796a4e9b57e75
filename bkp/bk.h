#ifndef BKP_BK_H
#define BKP_BK_H

/*
 * The state of one backup, shared by backup.c (the run: objects, records,
 * standard input, the commit) and tree.c (the walk and each entry).
 * Private to bkp/.
 */

#include <stddef.h>
#include <stdint.h>

#include "backup.h"
#include "findex.h"
#include "pieces.h"
#include "prev.h"

struct archive;
struct archive_entry_linkresolver;
struct manifest_writer;
struct ostream;
struct repo;
struct storage;

#define READ_BUF (1u << 20)
#define WALK_LEVEL 8            /* index key bytes per path component */

/* Where the tar writer's bytes go (tar_write). */
enum { PH_DROP, PH_HDR, PH_SELF, PH_DATA };

struct bk {
	struct repo *repo;
	const struct backup_opts *o;
	struct backup_result *res;
	struct storage *st;
	struct ostream *data;
	struct manifest_writer *mw;  /* manifest */
	struct manifest_writer *fw;  /* frames: the data object's chunk table */
	struct archive *aw;          /* pax writer */
	struct archive *disk;        /* metadata reader */
	struct archive_entry_linkresolver *lr;
	uint8_t *buf;                /* READ_BUF */
	int hash_alg;                /* HASH_*: files and objects */
	double t0, last_progress;
	int failed;                  /* a write callback failed */

	int phase;                   /* PH_*: what tar_write does */
	uint8_t *hdr;                /* PH_HDR: the entry's header bytes */
	size_t hdrlen, hdrcap;
	struct prev prev;            /* what this backup builds on */
	struct pieces pc;            /* the entry being built */
	struct findex_writer *iw;    /* the next file index */
	char *last;                  /* the last key indexed */
	size_t lastlen, lastcap;
	uint64_t edata;              /* the entry's content bytes read */
	uint8_t *vec;                /* the current entry's index key */
	size_t veclen, veccap;
};

/* backup.c */
void bk_warn(struct bk *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void bk_progress(struct bk *b, int force);
int bk_cancelled(struct bk *b);
int bk_put_skipped(struct bk *b, const char *path, const char *why);
int bk_index(struct bk *b, struct findex_rec *rec);

/* tree.c: back up o->paths; the pax writer's output goes to tar_write. */
int tree_backup(struct bk *b);

/* tree_name_key(key): derive the key of the name hashes (walk order and
 * index keys) from the index secret. */
void tree_name_key(const uint8_t key[32]);

/* tree_name_hash(name, len, out): a name's hash under that key. */
void tree_name_hash(const char *name, size_t len, uint8_t out[WALK_LEVEL]);

#ifndef FINDEX_MAX_PATH
#define FINDEX_MAX_PATH 65536
#endif

#endif
