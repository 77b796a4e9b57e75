#ifndef BKP_RSTATE_H
#define BKP_RSTATE_H

/*
 * The state of one restore (or full verification), shared by the restore
 * engine's modules: restore.c (the flow: feeding the tar reader, one
 * entry at a time, links, directories), plan.c (the manifest's first
 * pass: checks against the record, the chunk table, the selection and
 * the chunks to fetch) and beneath.c (file system access that never
 * leaves the target).  Private to restore/.
 */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <archive.h>
#include <jansson.h>

#include "objfmt.h"
#include "pathset.h"
#include "repo.h"
#include "restore.h"

struct archive_entry;
struct istream;
struct istream_chunk;
struct istream_source;
struct keys_secret;
struct mfile;
struct manifest_reader;
struct repo;
struct repo_archive;
struct storage;
struct stat;
struct wpool;
struct spool;

#define TAR_TAIL 1024   /* end-of-archive blocks appended to a selection */

struct range {
	uint64_t o, e;
	uint32_t src;               /* version 3: the source (chain.c) */
};

/* A data object's chunk table, grown as authenticated records arrive. */
struct chunk_table {
	struct istream_chunk *c;
	uint64_t n;
	size_t cap;
	uint64_t plain_total;       /* plaintext bytes of those chunks */
};

/* Version 3: a source of the restore, the archive (0) or one of the
 * archives its data references (k: its record's deps[k-1]). */
struct rsrc {
	const struct repo_archive *a;
	struct repo_archive own;    /* a dependency's record (loaded) */
	int loaded;
	uint32_t no;
	uint8_t *keys;              /* datakey | data subkey | frames subkey */
	char dkey[64], fkey[64];
	struct obj_header h;
	struct chunk_table tab;     /* its frames object's chunk table */
};

#define CACHE_SLOTS 4

/* What the feed holds: the current chunk and copies of a few more. */
struct chain_walk {
	int have;
	uint32_t src;
	uint64_t idx;
	uint64_t clock;
	struct {
		int used;
		uint32_t src;
		uint64_t idx;
		uint64_t stamp;
	} slot[CACHE_SLOTS];
};

struct rs {
	struct repo *repo;
	const struct repo_archive *a;
	const struct restore_opts *o;
	struct restore_stats *st;
	struct storage *sto;
	uint8_t *keys;              /* datakey | data subkey | manifest subkey */
	uint8_t id[16];
	char dkey[64], mkey[64];
	int content;                /* OBJ_CONTENT_TAR or _RAW */
	struct chunk_table tab;     /* the data object's (v3: src[0]'s) */
	struct range *ranges;
	size_t nranges, capranges;
	uint64_t sel_bytes;         /* content bytes selected */
	uint64_t sel_files;
	struct istream_chunk *plan;
	size_t nplan;

	/* version 3 (chain.c) */
	int v3;
	struct rsrc *src;
	size_t nsrc;
	struct istream_source *iss;
	struct chain_walk walk;
	uint8_t *cache[CACHE_SLOTS];
	size_t cachelen[CACHE_SLOTS];
	size_t cachecap;
	int rstarted;               /* rpos is in range ri */

	/* feeding libarchive */
	struct istream *is;
	const uint8_t *cbuf;        /* current chunk plaintext */
	size_t clen;
	uint64_t cbase;             /* tar offset of cbuf[0] */
	int have_chunk;
	size_t ri;                  /* current range */
	uint64_t rpos;              /* next tar offset to feed in range ri */
	int tail_done;
	uint8_t zeros[TAR_TAIL];
	int feed_status;
	double t_wait;

	struct need {
		char *target;       /* hard link target outside the selection */
		char *alias;        /* first selected link to it */
		size_t seq;
		int done;           /* target's data written at alias */
	} *needed;
	size_t nneeded, capneeded;
	struct dirtime {
		char *path;
		struct timespec ts[2];
	} *dirs;                    /* pre-existing directories (overwrite) */
	size_t ndirs, capdirs;

	/* A target that starts empty holds no symlink until this restore
	 * makes one: then symlinks and hard links are made last (through
	 * a handle with ARCHIVE_EXTRACT_SECURE_SYMLINKS) and everything
	 * else is written without libarchive walking every path component
	 * for symlinks, which costs O(depth) system calls per entry.  The
	 * links held are bounded in bytes (restore.c DEFER_MAX): past that
	 * the restore leaves this mode (leave_fresh). */
	int fresh;
	struct archive_entry **deferred;
	size_t ndeferred, capdeferred;
	size_t deferred_bytes;      /* what they cost, about; bounded */
	/* ...and regular files are checked and written by a pool of
	 * threads (wpool.h), so that file creation runs on every core. */
	struct wpool *wp;
	struct pathset symlinks;    /* deferred symlinks' paths */
	/* Hard link targets the selection's links name: each is marked
	 * once this restore made it as a regular file, and a link is made
	 * only to a marked one.  Bounded: past its budget (targets_full) a
	 * restore into an empty target checks on disk (all it holds is its
	 * own), and a restore into a non-empty one refuses the links. */
	struct pathset targets;
	int targets_full;
	struct archive *aw, *safe;  /* write handles (NULL: verification) */
	uint64_t holes;             /* sparse holes hashed so far */

	struct manifest_reader *lock; /* lockstep reader */
	uint8_t *buf;
	double last_progress;
	uint64_t refused;
};

/* plan.c: the manifest's first pass. */

/* plan_selected(o, path): is path selected by o's --include patterns? */
int plan_selected(const struct restore_opts *o, const char *path);

/* plan_find_need(r, path): the hard link target the selection lacks that
 * path is, or NULL (after plan_add_needed sorted them). */
struct need *plan_find_need(const struct rs *r, const char *path);

/* plan_want(r, path): is path read at all: selected, or a needed link
 * target? */
int plan_want(const struct rs *r, const char *path);

/* plan_chunk_add(a, rec, t): add a "chunk" record of archive a's data
 * object to t, checking it against the table so far and the record:
 * ERR_OK, ERR_CORRUPT (no message) or ERR_FAIL. */
int plan_chunk_add(const struct repo_archive *a, json_t *rec,
    struct chunk_table *t);

/* plan_add_range(r, o, e): select the tar range [o, e); ranges come in
 * increasing order.  ERR_OK, ERR_CORRUPT if they overlap, or ERR_FAIL. */
int plan_add_range(struct rs *r, uint64_t o, uint64_t e);

/* plan_scan(r): read the whole manifest once: check its archive and end
 * records and its object's size and hash against the record, collect the
 * chunk table (grown as authenticated chunk records arrive) and the
 * selected ranges.  ERR_OK, ERR_CORRUPT (message set) or ERR_FAIL. */
int plan_scan(struct rs *r);

/* plan_add_needed(r): add the ranges of hard link targets the selection
 * lacks (a second manifest pass), sorted and merged. */
int plan_add_needed(struct rs *r);

/* plan_make(r): the chunks holding the selected ranges, in order. */
int plan_make(struct rs *r);

/* restore.c: rs_add_stats(r): add r->is's counters to the restore's. */
void rs_add_stats(struct rs *r);

/* chain.c: version 3 archives. */

/* chain_open(r, sk): the sources: keys, records and chunk tables. */
int chain_open(struct rs *r, const struct keys_secret *sk);

/* chain_release(r): free the sources. */
void chain_release(struct rs *r);

/* chain_add_segments(r, f): select f's bytes (appended in order). */
int chain_add_segments(struct rs *r, const struct mfile *f);

/* chain_plan(r): the chunks to fetch, in the order the feed needs them. */
int chain_plan(struct rs *r);

/* chain_stream(r, threads): start fetching the plan. */
int chain_stream(struct rs *r, int threads);

/* chain_read(r, &p, &n): the next bytes of the selection (n = 0 at its
 * end). */
int chain_read(struct rs *r, const void **p, size_t *n);

/* chain_feed: libarchive read callback over chain_read, then the tail. */
la_ssize_t chain_feed(struct archive *ar, void *arg, const void **out);

/* chain_verify_objects(r, threads): read every source's whole data
 * object and check its size and hash against its record. */
int chain_verify_objects(struct rs *r, int threads);

/* beneath.c: paths under the target (the current directory), never
 * through a symlink. */

/* beneath_path_safe(p): 1 if p is relative, non-empty and has no '..'
 * component. */
int beneath_path_safe(const char *p);

/* beneath_open_parent(path, &leaf): a descriptor of the directory holding
 * path's last component, opened component by component with O_NOFOLLOW;
 * *leaf points into path.  -1 (errno set) if a component is missing or is
 * not a directory. */
int beneath_open_parent(const char *path, const char **leaf);

/* beneath_lstat(path, &sb): lstat of path under the target: 0, or -1. */
int beneath_lstat(const char *path, struct stat *sb);

/* beneath_unlink(path): remove a file this restore wrote. */
void beneath_unlink(const char *path);

/* beneath_blocked(path, e): 1 if something exists at path that entry e
 * may not replace without --overwrite (anything but a directory for a
 * directory entry). */
int beneath_blocked(const char *path, struct archive_entry *e);

/* beneath_tmpname(path): a new malloc'ed name for a file beside path
 * (".bkp-restore-<16 hex>.tmp" in path's directory), for a file that is
 * renamed over path once complete; NULL if out of memory. */
char *beneath_tmpname(const char *path);

/* beneath_rename(from, to, noreplace): rename from over to (both in one
 * directory under the target); with noreplace, fail (EEXIST) rather than
 * replace anything.  0, or -1 with errno set. */
int beneath_rename(const char *from, const char *to, int noreplace);

#endif
