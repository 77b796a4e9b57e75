/*
 * Restore engine, also behind full verification (no target: nothing is
 * written).  Pass 1 reads the manifest: the chunk table, the tar ranges of
 * the selected entries and the end record, checked against the archive
 * record.  Then only the chunks holding those ranges are fetched, in
 * parallel, authenticated, decompressed and fed to libarchive's tar reader,
 * while a second manifest reader walks the selected entries in lockstep:
 * every entry must be the one the manifest names, and its size and
 * content hash must match.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <sodium.h>

#include "check.h"
#include "crypto.h"
#include "err.h"
#include "hash.h"
#include "istream.h"
#include "keys.h"
#include "manifest.h"
#include "objfmt.h"
#include "policy.h"
#include "repo.h"
#include "restore.h"
#include "rstate.h"
#include "storage.h"
#include "util.h"
#include "wpool.h"

#define POOL_QUEUE (8u << 20)      /* bytes waiting for the writers */
#define POOL_SMALL (1u << 20)      /* files held whole until checked */

/* An entry's write error (werr): none, its header, or its data. */
#define WERR_HEADER 1
#define WERR_DATA 2

#define WITHHELD_NAMED 100         /* withheld items named one by one */
#define DEFER_MAX (16u << 20)      /* deferred links, about, in bytes */
#define SYMLINKS_MAX (8u << 20)    /* their paths' set */
#define TARGETS_MAX (16u << 20)    /* hard link targets' set */
/* Sparse holes are hashed as zeros, at a few GB/s: an archive may
 * declare HOLES_BASE bytes of them, and HOLES_PER_BYTE more for each
 * byte of data it really holds, so that a declared size of 2^50 bytes
 * cannot keep a restore hashing for days. */
#define HOLES_BASE ((uint64_t)64 << 30)
#define HOLES_PER_BYTE 1024

static void
warnf(struct rs *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
warnf(struct rs *r, const char *fmt, ...)
{
	char *msg;
	va_list ap;
	int n;

	/* Paths run to 64 KiB: a message is never cut short. */
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		msg = NULL;
	if (r->o->warn != NULL)
		r->o->warn(r->o->arg, msg != NULL ? msg : "out of memory "
		    "(a warning was lost)");
	free(msg);
}

/* Count one thing withheld by policy (policy.h) and say what, for the
 * first WITHHELD_NAMED of them (restore_run says how many more). */
static void
withhold(struct rs *r, const char *path, const char *why)
{
	if (++r->st->withheld <= WITHHELD_NAMED)
		warnf(r, "'%s': withheld by policy: %s", path, why);
}

/* libarchive's message for ar, never NULL (it has none for some
 * malformed entries, such as a bad sparse map). */
static const char *
tar_error(struct archive *ar)
{
	const char *m = archive_error_string(ar);

	return m != NULL ? m : "malformed tar data (a bad header or sparse "
	    "map)";
}

static void
progress(struct rs *r, int force)
{
	double now = util_mono();

	if (r->o->progress_cb == NULL || (!force && now - r->last_progress <
	    0.2))
		return;
	r->last_progress = now;
	r->o->progress_cb(r->o->arg, r->st, r->sel_bytes);
}

/* libarchive read callback: the bytes of the selected ranges, then two
 * zero blocks. */
static la_ssize_t
feed(struct archive *ar, void *arg, const void **out)
{
	struct rs *r = arg;
	uint64_t idx, end;
	double t0;
	int rc;

	(void)ar;
	for (;;) {
		if (r->o->cancel != NULL && *r->o->cancel) {
			err_set("interrupted");
			r->feed_status = ERR_FAIL;
			archive_set_error(ar, EINTR, "interrupted");
			return -1;
		}
		if (r->ri >= r->nranges) {
			if (r->tail_done)
				return 0;
			r->tail_done = 1;
			*out = r->zeros;
			return TAR_TAIL;
		}
		if (r->rpos < r->ranges[r->ri].o)
			r->rpos = r->ranges[r->ri].o;
		if (r->rpos >= r->ranges[r->ri].e) {
			r->ri++;
			continue;
		}
		if (!r->have_chunk || r->rpos < r->cbase ||
		    r->rpos >= r->cbase + r->clen) {
			t0 = util_mono();
			rc = istream_next(r->is, &r->cbuf, &r->clen, &idx);
			r->t_wait += util_mono() - t0;
			if (rc <= 0) {
				if (rc == 0) {
					err_set("archive %s: data ends early",
					    r->a->id);
					rc = ERR_CORRUPT;
				}
				r->feed_status = rc;
				archive_set_error(ar, EIO, "%s", err_get());
				return -1;
			}
			r->have_chunk = 1;
			r->cbase = idx * r->a->chunk_size;
			r->st->chunks++;
			if (r->rpos < r->cbase || r->rpos >= r->cbase + r->clen)
				continue;   /* chunk before rpos: skip */
		}
		end = r->ranges[r->ri].e;
		if (end > r->cbase + r->clen)
			end = r->cbase + r->clen;
		*out = r->cbuf + (r->rpos - r->cbase);
		idx = end - r->rpos;
		r->rpos = end;
		return (la_ssize_t)idx;
	}
}

/* Next selected "file" record of the lockstep reader. */
static int
next_expected(struct rs *r, struct mfile *f)
{
	const char *t;
	json_t *j;
	int rc;

	while ((rc = manifest_next(r->lock, &j, &t)) == 1) {
		if (strcmp(t, "file") != 0) {
			json_decref(j);
			continue;
		}
		rc = manifest_file_decode(j, r->a->hash_alg, f);
		json_decref(j);
		if (rc != ERR_OK)
			return rc;
		if (plan_want(r, f->path))
			return 1;
		manifest_file_release(f);
	}
	return rc;
}

static int
extract_flags(const struct restore_opts *o)
{
	/* No ARCHIVE_EXTRACT_SPARSE: it scans every byte for zero blocks,
	 * while our archives carry sparse files' hole maps (pax sparse
	 * entries), which write_disk turns back into holes by seeking. */
	int f = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
	    ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_XATTR |
	    ARCHIVE_EXTRACT_FFLAGS | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	    ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;

	if (geteuid() == 0)
		f |= ARCHIVE_EXTRACT_OWNER;
	f |= o->overwrite ? ARCHIVE_EXTRACT_UNLINK :
	    ARCHIVE_EXTRACT_NO_OVERWRITE;
	return f;
}

/* Where an entry's data goes: the main thread's write handle (and its
 * hash), or the pool (which hashes it): a buffer of cap bytes for a small
 * file, or a job a larger one streams to. */
struct sink {
	struct archive *aw;
	uint8_t *buf;
	uint64_t cap;
	struct wjob *job;
	int pooled;
};

/* Hand one block to the sink. */
static int
sink_put(struct rs *r, struct sink *k, const char *path, const void *b,
    size_t len, uint64_t off, uint64_t pos, int *werr)
{
	uint8_t *copy;

	if (k->buf != NULL) {
		if (off > k->cap || len > k->cap - off) {
			err_set("archive %s: '%s' carries more data than its "
			    "size", r->a->id, path);
			return ERR_CORRUPT;
		}
		memset(k->buf + pos, 0, (size_t)(off - pos));
		memcpy(k->buf + off, b, len);
	} else if (k->job != NULL) {
		if ((copy = wpool_alloc(r->wp, len)) == NULL)
			return ERR_FAIL;
		memcpy(copy, b, len);
		return wpool_add(r->wp, k->job, copy, len, off);
	} else if (k->aw != NULL && !*werr &&
	    wpool_write_data(k->aw, b, len, off) != ARCHIVE_OK) {
		char msg[512];

		warnf(r, "cannot write '%s': %s", path,
		    wpool_write_error(k->aw, msg, sizeof(msg)));
		r->refused++;
		*werr = WERR_DATA;
	}
	return ERR_OK;
}

/* Hash (into h, unless NULL) the n zero bytes of a hole in path, within
 * the archive's budget for holes (HOLES_BASE). */
static int
hash_holes(struct rs *r, struct hash *h, uint64_t n, const char *path)
{
	uint64_t budget, step;
	char hs[32];

	if (n == 0)
		return ERR_OK;
	budget = r->st->bytes > (UINT64_MAX - HOLES_BASE) / HOLES_PER_BYTE ?
	    UINT64_MAX : HOLES_BASE + r->st->bytes * HOLES_PER_BYTE;
	if (n > budget - r->holes) {
		util_human(n, hs, sizeof(hs));
		err_set("archive %s: '%s' declares %s of sparse holes, more "
		    "than the archive's data justifies (64 GiB, and %u bytes "
		    "for each byte of data)", r->a->id, path, hs,
		    HOLES_PER_BYTE);
		return ERR_CORRUPT;
	}
	r->holes += n;
	for (; h != NULL && n > 0; n -= step) {
		step = n < ((uint64_t)1 << 30) ? n : (uint64_t)1 << 30;
		hash_zeros(h, step);
		if (r->o->cancel != NULL && *r->o->cancel) {
			err_set("interrupted");
			return ERR_FAIL;
		}
	}
	return ERR_OK;
}

/* Read one entry's data into the sink k; hash it unless pooled. */
static int
copy_entry(struct rs *r, struct archive *ar, struct sink *k,
    struct archive_entry *e, const char *path, uint64_t *size,
    uint8_t hash[32], int *werr)
{
	struct hash h;
	const void *buf;
	size_t len;
	la_int64_t off;
	uint64_t pos = 0;
	int x;

	hash_init(&h, r->a->hash_alg);
	for (;;) {
		x = archive_read_data_block(ar, &buf, &len, &off);
		if (x == ARCHIVE_EOF)
			break;
		if (x < ARCHIVE_WARN || off < 0 || (uint64_t)off < pos) {
			if (r->feed_status != ERR_OK)
				return r->feed_status;
			err_set("archive %s: '%s': %s", r->a->id, path,
			    tar_error(ar));
			return ERR_CORRUPT;
		}
		if ((x = hash_holes(r, k->pooled ? NULL : &h,
		    (uint64_t)off - pos, path)) != ERR_OK ||
		    (x = sink_put(r, k, path, buf, len, (uint64_t)off, pos,
		    werr)) != ERR_OK)
			return x;
		if (!k->pooled)
			hash_update(&h, buf, len);
		pos = (uint64_t)off + len;
		r->st->bytes += len;
		progress(r, 0);
	}
	if (archive_entry_size_is_set(e) &&
	    (uint64_t)archive_entry_size(e) > pos) {
		if ((x = hash_holes(r, k->pooled ? NULL : &h,
		    (uint64_t)archive_entry_size(e) - pos, path)) != ERR_OK)
			return x;
		if (k->buf != NULL && (uint64_t)archive_entry_size(e) <= k->cap)
			memset(k->buf + pos, 0, (size_t)(
			    (uint64_t)archive_entry_size(e) - pos));
		pos = (uint64_t)archive_entry_size(e);
	}
	hash_final(&h, hash);
	*size = pos;
	return ERR_OK;
}

/* Close and remove a file of which not all data was written: libarchive
 * would close it at its full size, with holes for what is missing, so
 * that it looked restored. */
static void
drop_partial(struct archive *aw, const char *path)
{
	(void)archive_write_finish_entry(aw);
	beneath_unlink(path);
}

/* libarchive leaves the times of directories that already exist alone
 * (made earlier by this restore for a deeper entry, or there before): like
 * tar, set them to the archived ones at the end. */
static int
remember_dir(struct rs *r, const char *path, struct archive_entry *e,
    size_t *mark)
{
	struct dirtime *d;
	struct stat sb;

	/* Cheap test first; the careful walk only for what exists. */
	if (archive_entry_filetype(e) != AE_IFDIR || lstat(path, &sb) != 0 ||
	    beneath_lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return ERR_OK;
	if (r->ndirs == r->capdirs) {
		r->capdirs = r->capdirs ? r->capdirs * 2 : 64;
		if ((d = realloc(r->dirs, r->capdirs * sizeof(*d))) == NULL)
			goto nomem;
		r->dirs = d;
	}
	d = &r->dirs[r->ndirs];
	if ((d->path = strdup(path)) == NULL)
		goto nomem;
	d->ts[0].tv_sec = archive_entry_atime(e);
	d->ts[0].tv_nsec = archive_entry_atime_nsec(e);
	d->ts[1].tv_sec = archive_entry_mtime(e);
	d->ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	if (!archive_entry_atime_is_set(e))
		d->ts[0] = d->ts[1];
	*mark = r->ndirs++;
	return ERR_OK;
nomem:
	err_set("out of memory");
	return ERR_FAIL;
}

/* Drop the directory remembered at mark (its entry was refused). */
static void
forget_dir(struct rs *r, size_t mark)
{
	if (mark == SIZE_MAX || mark + 1 != r->ndirs)
		return;
	free(r->dirs[mark].path);
	r->ndirs--;
}

static void
fix_dir_times(struct rs *r)
{
	struct dirtime *d;
	const char *leaf;
	char name[NAME_MAX + 1];
	size_t i, n;
	int dfd, fd;

	/* Never through a symlink: open each component with O_NOFOLLOW. */
	for (i = r->ndirs; i > 0; i--) {
		d = &r->dirs[i - 1];
		if ((dfd = beneath_open_parent(d->path, &leaf)) < 0)
			continue;
		n = strcspn(leaf, "/");
		if (n > 0 && n <= NAME_MAX) {
			memcpy(name, leaf, n);
			name[n] = '\0';
			fd = openat(dfd, name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0) {
				if (futimens(fd, d->ts) != 0)
					warnf(r, "cannot set the times of "
					    "'%s': %s", d->path,
					    strerror(errno));
				close(fd);
			}
		}
		close(dfd);
	}
}

/*
 * Partial restores: a selected hard link whose target is not selected gets
 * the target's data (the target entry is renamed to the first such link,
 * and *renamed set);
 * the other links point at that one; the first link's own entry is then
 * skipped.  *path and *hl are updated to the entry's new names.
 */
static int
alias_entry(struct rs *r, struct archive_entry *e, const char **path,
    const char **hl, int *skip, int *renamed)
{
	struct need *n;

	if (!plan_selected(r->o, *path) && (n = plan_find_need(r, *path)) != NULL) {
		archive_entry_copy_pathname(e, n->alias);
		n->done = 1;
		*renamed = 1;
	} else if (*hl != NULL && (n = plan_find_need(r, *hl)) != NULL &&
	    n->done) {
		if (strcmp(*path, n->alias) == 0)
			*skip = 1;
		else
			archive_entry_copy_hardlink(e, n->alias);
	}
	*path = archive_entry_pathname(e);
	*hl = archive_entry_hardlink(e);
	return *path == NULL ? ERR_CORRUPT : ERR_OK;
}

/* The deferred symlink that path lies beneath, as a length of path's
 * prefix, or 0. */
static size_t
beneath_link(const struct rs *r, const char *path)
{
	size_t k;

	if (r->symlinks.n == 0)
		return 0;
	for (k = 1; path[k] != '\0'; k++)
		if (path[k] == '/' && pathset_has(&r->symlinks, path, k))
			return k;
	return 0;
}

/* Keep a symlink or hard link entry to write after everything else:
 * ERR_OK, PATHSET_FULL past the deferral's budget (nothing kept), or
 * ERR_FAIL. */
static int
defer_entry(struct rs *r, struct archive_entry *e, const char *path)
{
	struct archive_entry **d;
	const char *l = archive_entry_symlink(e);
	size_t n = strlen(path), cost;
	int rc;

	/* An entry clone holds its strings twice (multibyte and wide). */
	cost = 1024 + 3 * (n + (l != NULL ? strlen(l) : 0) +
	    (archive_entry_hardlink(e) != NULL ?
	    strlen(archive_entry_hardlink(e)) : 0));
	if (r->deferred_bytes + cost > DEFER_MAX)
		return PATHSET_FULL;
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (archive_entry_filetype(e) == AE_IFLNK &&
	    archive_entry_hardlink(e) == NULL &&
	    (rc = pathset_add(&r->symlinks, path, n)) != ERR_OK)
		return rc;
	if (r->ndeferred == r->capdeferred) {
		r->capdeferred = r->capdeferred ? r->capdeferred * 2 : 64;
		if ((d = realloc(r->deferred, r->capdeferred * sizeof(*d))) ==
		    NULL)
			goto nomem;
		r->deferred = d;
	}
	if ((r->deferred[r->ndeferred] = archive_entry_clone(e)) == NULL)
		goto nomem;
	r->ndeferred++;
	r->deferred_bytes += cost;
	return ERR_OK;
nomem:
	err_set("out of memory");
	return ERR_FAIL;
}

/* Write the deferred links, with every symlink check on, and forget
 * them. */
static void
write_deferred(struct rs *r)
{
	struct archive_entry *e;
	const char *path;
	size_t i;

	for (i = 0; i < r->ndeferred; i++) {
		e = r->deferred[i];
		path = archive_entry_pathname(e);
		if (!r->o->overwrite && beneath_blocked(path, e)) {
			warnf(r, "'%s' exists, not overwritten (use "
			    "--overwrite)", path);
			r->refused++;
		} else if (archive_write_header(r->safe, e) < ARCHIVE_WARN ||
		    archive_write_finish_entry(r->safe) < ARCHIVE_WARN) {
			warnf(r, "cannot restore '%s': %s", path,
			    archive_error_string(r->safe));
			r->refused++;
		}
		archive_entry_free(e);
	}
	r->ndeferred = 0;
	r->deferred_bytes = 0;
	pathset_release(&r->symlinks);
}

static int pool_finish(struct rs *);

/*
 * Past the deferral's budget (a tree of very many links), leave the
 * fresh-target mode: the pool writes what it holds and stops, the
 * deferred links are made, and every later entry is written on this
 * thread with libarchive's symlink checks on, as into a non-empty
 * target.  So memory stays bounded whatever the number of links.
 */
static int
leave_fresh(struct rs *r)
{
	int rc;

	if ((rc = pool_finish(r)) != ERR_OK)
		return rc;
	wpool_free(r->wp);
	r->wp = NULL;
	write_deferred(r);
	r->fresh = 0;
	archive_write_disk_set_options(r->aw, extract_flags(r->o));
	return ERR_OK;
}

/* Is this entry one for the writer pool: a plain regular file? */
static int
pooled(struct archive_entry *e, const char *hl, const struct mfile *f)
{
	return archive_entry_filetype(e) == AE_IFREG && hl == NULL &&
	    f->type == MF_FILE && archive_entry_sparse_count(e) == 0;
}

/* Set up the sink of a pooled entry: a buffer for a small file, else a
 * pool job its data streams to. */
static int
pool_sink(struct rs *r, struct archive_entry *e, const struct mfile *f,
    struct sink *k)
{
	struct archive_entry *c;

	k->pooled = 1;
	if (f->size <= POOL_SMALL) {
		k->cap = f->size;
		return (k->buf = wpool_alloc(r->wp, (size_t)f->size)) ==
		    NULL ? ERR_FAIL : ERR_OK;
	}
	if ((c = archive_entry_clone(e)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	return wpool_begin(r->wp, c, f->hash, &k->job);
}

/* Hand a pooled entry, read whole (size bytes, checked against the
 * manifest's size), to the pool; what the sink holds goes with it. */
static int
pool_done(struct rs *r, struct archive_entry *e, const struct mfile *f,
    struct sink *k, uint64_t size)
{
	struct archive_entry *c;
	uint8_t *b = k->buf;

	if (k->job != NULL) {
		wpool_end(r->wp, k->job, size, 0);
		k->job = NULL;
		return ERR_OK;
	}
	k->buf = NULL;
	if ((c = archive_entry_clone(e)) == NULL) {
		wpool_unalloc(r->wp, b, (size_t)k->cap);
		err_set("out of memory");
		return ERR_FAIL;
	}
	return wpool_put(r->wp, c, f->hash, b, (size_t)k->cap);
}

/* ERR_CORRUPT (and the error set) once the pool found a file whose data
 * does not match its manifest record. */
static int
pool_check(struct rs *r)
{
	char *path;
	uint64_t n;

	if (r->wp == NULL || wpool_corrupt(r->wp, NULL, 0) == 0)
		return ERR_OK;
	/* A path runs to 64 KiB: name it whole. */
	if ((path = malloc(65537)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	n = wpool_corrupt(r->wp, path, 65537);
	r->st->mismatches = n;
	err_set("archive %s: '%s' does not match its recorded size and hash",
	    r->a->id, path);
	free(path);
	return ERR_CORRUPT;
}

/* Check and write what the pool holds; report what it could not write.
 * ERR_CORRUPT if a file failed its check. */
static int
pool_finish(struct rs *r)
{
	if (r->wp == NULL)
		return ERR_OK;
	r->refused += wpool_finish(r->wp);
	wpool_warnings(r->wp, r->o->warn, r->o->arg);
	return pool_check(r);
}

/* May hard link entry f be made?  Only to a file this restore made (or,
 * verifying, checked) from an earlier entry; why says why not. */
static int
link_target_ok(const struct rs *r, const struct mfile *f, char *why,
    size_t cap)
{
	if (pathset_marked(&r->targets, f->link, strlen(f->link)))
		return 1;
	/* Untracked past the budget: into an empty target link(2) finds
	 * only what this restore made; a verification writes nothing. */
	if (r->targets_full && (r->aw == NULL || r->fresh))
		return 1;
	if (r->targets_full)
		snprintf(why, cap, "a hard link to '%s', one of more hard link "
		    "targets than a restore into a non-empty directory "
		    "tracks (restore into an empty one)", f->link);
	else
		snprintf(why, cap, "a hard link to '%s', which no earlier "
		    "entry restored as a regular file", f->link);
	return 0;
}

/* Is something other than a directory at path (under the target)? */
static int
replaces_file(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0 && beneath_lstat(path, &sb) == 0 &&
	    !S_ISDIR(sb.st_mode);
}

/* After a write failure, libarchive's disk handle may be in its fatal
 * state, in which it refuses every later entry: start a new one (the
 * old one applies what it deferred, directory metadata, as it goes). */
static void
renew_disk(struct rs *r)
{
	struct archive *n = archive_write_disk_new();

	if (n == NULL)
		return;
	archive_write_disk_set_options(n, r->fresh ?
	    extract_flags(r->o) & ~ARCHIVE_EXTRACT_SECURE_SYMLINKS :
	    extract_flags(r->o));
	archive_write_disk_set_standard_lookup(n);
	(void)archive_write_free(r->aw);    /* its error is the one said */
	r->aw = n;
}

/* Restore or check one tar entry against its manifest record. */
static int
one_entry(struct rs *r, struct archive *ar, struct archive_entry *e)
{
	struct archive *aw = r->aw;
	const char *path = archive_entry_pathname(e), *hl, *wpath;
	struct sink sk = { NULL, NULL, 0, NULL, 0 };
	struct mfile f;
	char why[1024], *final = NULL, *tmp = NULL;
	uint8_t hash[32];
	uint64_t size;
	size_t dirmark = SIZE_MAX, k;
	int rc, x, werr = 0, skip = 0, renamed = 0, topool, made = 0;

	if ((rc = next_expected(r, &f)) != 1) {
		if (rc == 0) {
			err_set("archive %s: the data holds more entries than "
			    "its manifest", r->a->id);
			rc = ERR_CORRUPT;
		}
		return rc;
	}
	if (path == NULL || strcmp(path, f.path) != 0) {
		err_set("archive %s: the data and the manifest disagree at an "
		    "entry: the tar entry is '%s', the manifest's record '%s'",
		    r->a->id, path != NULL ? path : "", f.path);
		rc = ERR_CORRUPT;
		goto done;
	}
	/* Before anything is written: the entry is what its record says
	 * (kind, link, mode, owner), and a file carries exactly the bytes
	 * the manifest records. */
	if ((rc = check_entry(r->a->id, e, &f)) != ERR_OK)
		goto done;
	if (f.type == MF_FILE && (uint64_t)archive_entry_size(e) != f.size) {
		err_set("archive %s: '%s' carries %lld bytes, its manifest "
		    "records %llu", r->a->id, path,
		    (long long)archive_entry_size(e),
		    (unsigned long long)f.size);
		rc = ERR_CORRUPT;
		goto done;
	}
	hl = archive_entry_hardlink(e);
	if (r->nneeded > 0 && (rc = alias_entry(r, e, &path, &hl, &skip,
	    &renamed)) != ERR_OK)
		goto done;
	/* Checked (and written) by the pool: small files whole, only once
	 * they passed; larger ones stream to it.  Not a renamed link target:
	 * it comes before its new directory's entry, and a writer creating
	 * that directory (as a parent) while this thread restores its entry
	 * would leave the directory's mode and times unset. */
	topool = r->wp != NULL && !renamed && pooled(e, hl, &f);
	if (!skip && f.type != MF_FILE && archive_entry_size(e) != 0) {
		/* A hard link (or anything but a file) carrying data could
		 * rewrite what it links to: bkp never writes such entries.
		 * (The entry's own type decides: check_entry made the
		 * record's agree with it.) */
		warnf(r, "refusing '%s': a %s entry carrying data", path,
		    manifest_type_name(f.type));
		r->refused++;
		skip = 1;
	}
	if (!skip && (!beneath_path_safe(path) ||
	    (hl != NULL && !beneath_path_safe(hl)))) {
		warnf(r, "refusing unsafe path '%s'", path);
		r->refused++;
		skip = 1;
	}
	if (!skip && renamed && f.type != MF_FILE) {
		/* A partial restore gives a selected hard link its target's
		 * data: only a regular file's. */
		warnf(r, "refusing '%s': a hard link to a %s", path,
		    manifest_type_name(f.type));
		r->refused++;
		skip = 1;
	}
	if (!skip && f.type == MF_HARDLINK &&
	    !link_target_ok(r, &f, why, sizeof(why))) {
		warnf(r, "refusing '%s': %s", path, why);
		r->refused++;
		skip = 1;
	}
	if (!skip && aw != NULL) {
		/* Devices, setuid bits, security xattrs: policy.h. */
		if ((x = policy_apply(r->o, e, why, sizeof(why))) == ERR_FAIL) {
			rc = ERR_FAIL;
			goto done;
		}
		if (why[0] != '\0')
			withhold(r, path, why);
		skip = x == POLICY_SKIP;
	}
	if (skip) {
		/* refused, withheld, or already written as a link target */
	} else if (aw != NULL && !r->o->overwrite && !topool &&
	    beneath_blocked(path, e)) {
		/* (A pooled file's writer looks just before it creates it:
		 * a lookup here would wait on the directory while a writer
		 * creates another file in it.) */
		warnf(r, "'%s' exists, not overwritten (use --overwrite)",
		    path);
		r->refused++;
		skip = 1;
	} else if (aw != NULL && r->fresh && (k = beneath_link(r, path)) > 0) {
		/* What a secure-symlinks handle would refuse. */
		warnf(r, "refusing '%s': it lies beneath the symlink '%.*s'",
		    path, (int)k, path);
		r->refused++;
		skip = 1;
	} else if (aw != NULL && r->fresh && (hl != NULL ||
	    archive_entry_filetype(e) == AE_IFLNK)) {
		if ((rc = defer_entry(r, e, path)) == ERR_OK)
			skip = 1;
		else if (rc != PATHSET_FULL || (rc = leave_fresh(r)) != ERR_OK)
			goto done;
		/* else written below, with every check on */
	} else if (topool) {
		if ((rc = pool_sink(r, e, &f, &sk)) != ERR_OK)
			goto done;
		skip = 1;
	}
	if (!skip && aw != NULL && r->o->overwrite && f.type == MF_FILE &&
	    replaces_file(path)) {
		/* Replace by renaming a new file over the old name (as
		 * install(1) and rsync do): never truncate and rewrite the
		 * old inode, which other hard links, inside the target or
		 * outside, share; and the old file stays until the new one
		 * passed its check. */
		if ((final = strdup(path)) == NULL ||
		    (tmp = beneath_tmpname(path)) == NULL) {
			err_set("out of memory");
			rc = ERR_FAIL;
			goto done;
		}
		archive_entry_copy_pathname(e, tmp);
		path = final;
	}
	wpath = tmp != NULL ? tmp : path;
	if (!skip && aw != NULL) {
		if ((rc = remember_dir(r, path, e, &dirmark)) != ERR_OK)
			goto done;
		wpool_create_lock(r->wp);
		x = archive_write_header(aw, e);
		wpool_create_unlock(r->wp);
		if (x < ARCHIVE_WARN) {
			warnf(r, "cannot restore '%s': %s", path,
			    archive_error_string(aw));
			r->refused++;
			werr = WERR_HEADER;
			forget_dir(r, dirmark);
		} else
			made = archive_entry_filetype(e) == AE_IFREG;
	}
	if (!skip)
		sk.aw = aw;
	if ((rc = copy_entry(r, ar, &sk, e, path, &size, hash, &werr)) !=
	    ERR_OK)
		goto done;
	if (aw != NULL && !skip && werr == WERR_DATA) {
		/* Its data could not be written whole. */
		drop_partial(aw, wpath);
		made = 0;
	}
	if (f.type == MF_FILE && (size != f.size ||
	    (!sk.pooled && memcmp(hash, f.hash, 32) != 0))) {
		/* Do not leave a file that fails its check behind (the pool
		 * drops an aborted job). */
		if (aw != NULL && !skip && !werr)
			beneath_unlink(wpath);
		made = 0;
		r->st->mismatches++;
		err_set("archive %s: '%s' does not match its recorded size "
		    "and hash", r->a->id, path);
		rc = ERR_CORRUPT;
		goto done;
	}
	if (aw != NULL && !skip && !werr &&
	    archive_write_finish_entry(aw) < ARCHIVE_WARN) {
		warnf(r, "cannot restore '%s': %s", path,
		    archive_error_string(aw));
		r->refused++;
		werr = WERR_HEADER;
	}
	made = 0;       /* whole: whatever fails from here is another file */
	if (tmp != NULL && !skip && !werr &&
	    beneath_rename(tmp, final, 0) != 0) {
		warnf(r, "cannot replace '%s': %s", final, strerror(errno));
		r->refused++;
		werr = WERR_HEADER;
	}
	if (tmp != NULL && !skip && werr)
		beneath_unlink(tmp);
	if (sk.pooled && (rc = pool_done(r, e, &f, &sk, size)) != ERR_OK)
		goto done;
	/* A later hard link may name it: it is this restore's file. */
	if (f.type == MF_FILE && (sk.pooled || aw == NULL || (!skip &&
	    !werr)))
		pathset_mark(&r->targets, f.path, f.pathlen);
	if (r->wp != NULL) {
		wpool_warnings(r->wp, r->o->warn, r->o->arg);
		if ((rc = pool_check(r)) != ERR_OK)
			goto done;
	}
	r->st->files++;
	rc = ERR_OK;
done:
	if (rc != ERR_OK && made) {
		/* The restore stops inside this file (its data failed to
		 * authenticate, say). */
		drop_partial(aw, wpath);
	}
	if (sk.job != NULL)
		wpool_end(r->wp, sk.job, 0, 1);
	if (sk.buf != NULL)
		wpool_unalloc(r->wp, sk.buf, (size_t)sk.cap);
	if (werr && aw != NULL)
		renew_disk(r);
	manifest_file_release(&f);
	free(tmp);
	free(final);
	return rc;
}

/* Writers for the pool: the cores, at least 2 (writes wait on the disk),
 * at most 4. */
static int
pool_threads(void)
{
	int n = util_ncpu();

	return n < 2 ? 2 : n > 4 ? 4 : n;
}

/* The tar reader cannot read the next entry's header: name the entry
 * the manifest says comes next. */
static int
header_error(struct rs *r, struct archive *ar)
{
	char *msg = strdup(tar_error(ar));
	struct mfile f;

	if (msg != NULL && next_expected(r, &f) == 1) {
		err_set("archive %s: '%s': %s", r->a->id, f.path, msg);
		manifest_file_release(&f);
	} else
		err_set("archive %s: %s", r->a->id, msg != NULL ? msg :
		    "malformed tar data");
	free(msg);
	return ERR_CORRUPT;
}

static int
run_tar(struct rs *r)
{
	struct archive *ar = NULL, *aw = NULL, *safe = NULL;
	struct archive_entry *e;
	struct mfile f;
	int x, rc = ERR_FAIL;

	if ((ar = archive_read_new()) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	archive_read_support_format_tar(ar);
	if (r->o->target != NULL) {
		if ((aw = archive_write_disk_new()) == NULL ||
		    (safe = archive_write_disk_new()) == NULL) {
			err_set("out of memory");
			goto done;
		}
		archive_write_disk_set_options(aw, r->fresh ?
		    extract_flags(r->o) & ~ARCHIVE_EXTRACT_SECURE_SYMLINKS :
		    extract_flags(r->o));
		archive_write_disk_set_standard_lookup(aw);
		archive_write_disk_set_options(safe, extract_flags(r->o));
		archive_write_disk_set_standard_lookup(safe);
		r->aw = aw;
		r->safe = safe;
		/* Into a fresh target, the pool checks and writes regular
		 * files.  (A verification hashes on this thread: its other
		 * threads keep the cores busy, and a pool would add copies.) */
		if (r->fresh && (rc = wpool_new(pool_threads(), extract_flags(
		    r->o) & ~ARCHIVE_EXTRACT_SECURE_SYMLINKS, r->a->hash_alg,
		    POOL_QUEUE, &r->wp)) != ERR_OK)
			goto done;
	}
	if (archive_read_open(ar, r, NULL, r->v3 ? chain_feed : feed, NULL) !=
	    ARCHIVE_OK) {
		rc = r->feed_status != ERR_OK ? r->feed_status : ERR_CORRUPT;
		if (r->feed_status == ERR_OK)
			err_set("archive %s: %s", r->a->id,
			    tar_error(ar));
		goto done;
	}
	for (;;) {
		x = archive_read_next_header(ar, &e);
		if (x == ARCHIVE_EOF)
			break;
		if (x < ARCHIVE_WARN) {
			rc = r->feed_status != ERR_OK ? r->feed_status :
			    header_error(r, ar);
			goto done;
		}
		if ((rc = one_entry(r, ar, e)) != ERR_OK)
			goto done;
	}
	if ((rc = next_expected(r, &f)) != 0) {
		if (rc == 1) {
			manifest_file_release(&f);
			err_set("archive %s: the data ends before its manifest "
			    "does", r->a->id);
			rc = ERR_CORRUPT;
		}
		goto done;
	}
	if ((rc = pool_finish(r)) != ERR_OK)
		goto done;
	if (safe != NULL)
		write_deferred(r);
	aw = r->aw;     /* renewed after a failure, perhaps */
	if (aw != NULL && archive_write_close(aw) != ARCHIVE_OK)
		warnf(r, "cannot set directory metadata: %s",
		    archive_error_string(aw));
	fix_dir_times(r);
	rc = ERR_OK;
done:
	wpool_free(r->wp);
	r->wp = NULL;
	aw = r->aw;
	r->aw = r->safe = NULL;
	if (safe != NULL)
		archive_write_free(safe);
	if (aw != NULL)
		archive_write_free(aw);
	archive_read_free(ar);
	return rc;
}

/* The next bytes of a raw archive's file: 1, 0 at the end, or ERR_*. */
static int
raw_next(struct rs *r, const uint8_t **buf, size_t *len, uint64_t *idx)
{
	const void *p;
	int rc;

	if (r->v3) {
		if ((rc = chain_read(r, &p, len)) != ERR_OK)
			return rc;
		*buf = p;
		return *len > 0;
	}
	if ((rc = istream_next(r->is, buf, len, idx)) == 1)
		r->st->chunks++;
	return rc;
}

/* Put a raw archive's checked file tmp in place at path: over whatever
 * is there with --overwrite (a rename: other hard links to the old file
 * keep it), else only where nothing is. */
static void
raw_commit(struct rs *r, const char *tmp, const char *path)
{
	if (beneath_rename(tmp, path, !r->o->overwrite) == 0)
		return;
	if (errno == EEXIST)
		warnf(r, "'%s' exists, not overwritten (use --overwrite)",
		    path);
	else
		warnf(r, "cannot create '%s': %s", path, strerror(errno));
	r->refused++;
	unlink(tmp);
}

/* A raw (stdin) archive: one file, written under a temporary name and
 * renamed into place once it passed its check. */
static int
run_raw(struct rs *r)
{
	struct hash h;
	const uint8_t *buf;
	uint8_t hash[32];
	size_t len;
	uint64_t idx, total = 0;
	struct stat sb;
	struct mfile f;
	char *tmp = NULL;
	int fd = -1, rc;

	if ((rc = next_expected(r, &f)) != 1) {
		if (rc == 0)
			rc = ERR_OK;   /* not selected */
		return rc;
	}
	if (f.type != MF_FILE) {
		err_set("archive %s: '%s': a raw archive's record is not a "
		    "file", r->a->id, f.path);
		rc = ERR_CORRUPT;
		goto done;
	}
	if (r->o->target != NULL) {
		if (!beneath_path_safe(f.path) || strchr(f.path, '/') != NULL) {
			warnf(r, "refusing unsafe path '%s'", f.path);
			r->refused++;
			rc = ERR_OK;
			goto done;
		}
		if (!r->o->overwrite && lstat(f.path, &sb) == 0) {
			warnf(r, "'%s' exists, not overwritten (use "
			    "--overwrite)", f.path);
			r->refused++;
		} else if ((tmp = beneath_tmpname(f.path)) == NULL) {
			rc = ERR_FAIL;
			goto done;
		} else if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
			warnf(r, "cannot create '%s': %s", f.path,
			    strerror(errno));
			r->refused++;
		}
	}
	hash_init(&h, r->a->hash_alg);
	while ((rc = raw_next(r, &buf, &len, &idx)) == 1) {
		hash_update(&h, buf, len);
		total += len;
		r->st->bytes += len;
		if (fd >= 0 && util_write_full(fd, buf, len) != 0) {
			warnf(r, "cannot write '%s': %s", f.path,
			    strerror(errno));
			r->refused++;
			close(fd);
			fd = -1;
			unlink(tmp);            /* no partial file stays */
		}
		progress(r, 0);
	}
	if (rc < 0)
		goto done;
	hash_final(&h, hash);
	if (total != f.size || memcmp(hash, f.hash, 32) != 0) {
		r->st->mismatches++;
		err_set("archive %s: '%s' does not match its recorded size "
		    "and hash", r->a->id, f.path);
		rc = ERR_CORRUPT;
		goto done;
	}
	if (fd >= 0) {
		if (close(fd) != 0) {
			warnf(r, "cannot write '%s': %s", f.path,
			    strerror(errno));
			r->refused++;
			unlink(tmp);
		} else
			raw_commit(r, tmp, f.path);
		fd = -1;
	}
	r->st->files++;
	rc = ERR_OK;
done:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);    /* it failed its check: nothing stays */
	}
	free(tmp);
	manifest_file_release(&f);
	return rc;
}

/* Open the archive: unwrap the key and derive subkeys. */
static int
open_keys(struct rs *r, const struct keys_secret *sk)
{
	int rc;

	if ((r->keys = sodium_malloc(3 * 32)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	if ((rc = repo_unwrap(r->a, sk, r->keys)) != ERR_OK)
		return rc;
	crypto_subkey(r->keys, "data", r->keys + 32);
	crypto_subkey(r->keys, "manifest", r->keys + 64);
	util_unhex(r->a->id, r->id, 16);
	repo_key_data(r->a->id, r->dkey, sizeof(r->dkey));
	repo_key_manifest(r->a->id, r->mkey, sizeof(r->mkey));
	r->v3 = r->a->version >= 3;
	return r->v3 ? chain_open(r, sk) : ERR_OK;
}

static void
rs_release(struct rs *r)
{
	size_t i;

	for (i = 0; i < r->nneeded; i++) {
		free(r->needed[i].target);
		free(r->needed[i].alias);
	}
	free(r->needed);
	for (i = 0; i < r->ndirs; i++)
		free(r->dirs[i].path);
	free(r->dirs);
	for (i = 0; i < r->ndeferred; i++)
		archive_entry_free(r->deferred[i]);
	free(r->deferred);
	pathset_release(&r->symlinks);
	pathset_release(&r->targets);
	istream_free(r->is);
	manifest_reader_free(r->lock);
	chain_release(r);
	free(r->iss);
	free(r->tab.c);
	free(r->ranges);
	free(r->plan);
	if (r->keys != NULL)
		sodium_free(r->keys);
}

/* Count what the chunk stream read. */
void
rs_add_stats(struct rs *r)
{
	struct istream_stats ist;

	if (r->is == NULL)
		return;
	istream_stats(r->is, &ist);
	r->st->fetched += ist.fetched;
	r->st->t_fetch += ist.t_fetch;
	r->st->t_decrypt += ist.t_decrypt;
}

/* Enter the target directory (created 0700 if missing). */
static int
enter_target(const char *target, int *saved, int *fresh)
{
	struct dirent *de;
	DIR *d;

	struct stat sb;

	if ((*saved = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err_set("cannot open the current directory: %s",
		    strerror(errno));
		return ERR_FAIL;
	}
	if (util_mkdirs(target, 0700) != 0) {
		err_set("cannot create target '%s': %s", target,
		    strerror(errno));
		return ERR_FAIL;
	}
	if (stat(target, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		err_set("target '%s' is not a directory", target);
		return ERR_USAGE;
	}
	if (chdir(target) != 0) {
		err_set("cannot enter target '%s': %s", target,
		    strerror(errno));
		return ERR_FAIL;
	}
	*fresh = 0;
	if ((d = opendir(".")) != NULL) {
		*fresh = 1;
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0) {
				*fresh = 0;
				break;
			}
		closedir(d);
	}
	return ERR_OK;
}

int
restore_run(struct repo *repo, const struct repo_archive *a,
    const struct keys_secret *sk, const struct restore_opts *o,
    struct restore_stats *st)
{
	struct rs r;
	struct obj_header h;
	double t0 = util_mono(), tx;
	int rc, saved = -1, threads;

	memset(st, 0, sizeof(*st));
	memset(&r, 0, sizeof(r));
	r.repo = repo;
	r.a = a;
	r.o = o;
	r.st = st;
	r.sto = repo_storage(repo);
	pathset_init(&r.symlinks, SYMLINKS_MAX);
	pathset_init(&r.targets, TARGETS_MAX);
	if ((rc = open_keys(&r, sk)) != ERR_OK)
		goto done;
	if ((rc = plan_scan(&r)) != ERR_OK)
		goto done;
	if (r.content == OBJ_CONTENT_RAW && !r.v3) {
		r.nranges = 0;
		if (r.sel_files > 0 && (rc = plan_add_range(&r, 0,
		    r.tab.plain_total)) != ERR_OK)
			goto done;
	}
	if ((rc = plan_add_needed(&r)) != ERR_OK || (rc = plan_make(&r)) != ERR_OK)
		goto done;
	if ((rc = manifest_reader_open(r.sto, r.mkey, a->cipher, r.keys + 64,
	    r.id, a->hash_alg, &r.lock)) != ERR_OK)
		goto done;
	memset(&h, 0, sizeof(h));
	h.type = OBJ_TYPE_DATA;
	h.cipher = a->cipher;
	h.content = r.content;
	h.chunk_size = a->chunk_size;
	memcpy(h.id, r.id, 16);
	threads = o->threads > 0 ? o->threads : util_ncpu() > 4 ? 4 :
	    util_ncpu();
	if (!storage_is_local(r.sto) && threads < 4)
		threads = 4;   /* fetches overlap network latency */
	if (r.v3)
		rc = chain_stream(&r, threads);
	else
		rc = istream_new(r.sto, r.dkey, &h, r.keys + 32, r.tab.n,
		    r.plan, r.nplan, threads, o->target == NULL ?
		    a->hash_alg : 0, &r.is);
	if (rc != ERR_OK)
		goto done;
	if (o->target != NULL && (rc = enter_target(o->target, &saved, &r.fresh)) !=
	    ERR_OK)
		goto done;
	tx = util_mono();
	rc = r.content == OBJ_CONTENT_RAW ? run_raw(&r) : run_tar(&r);
	/* The tar reader stops at the end-of-archive blocks: authenticate
	 * the planned chunks it did not need too. */
	while (rc == ERR_OK) {
		const uint8_t *b;
		size_t bl;
		uint64_t bi;
		int x = istream_next(r.is, &b, &bl, &bi);

		if (x == 0)
			break;
		if (x < 0)
			rc = x;
	}
	st->t_extract = util_mono() - tx - r.t_wait;
	progress(&r, 1);
	if (rc == ERR_OK && r.v3 && o->target == NULL) {
		/* One stream at a time, so that memory is one stream's. */
		rs_add_stats(&r);
		istream_free(r.is);
		r.is = NULL;
		rc = chain_verify_objects(&r, threads);
	}
	if (rc == ERR_OK) {
		uint8_t hash[32];
		uint64_t size;

		/* A verification also proves the record's hash of the
		 * object (a restore relies on the authenticated chunk table
		 * and the manifest's copy of that hash). */
		if (r.is != NULL &&
		    istream_object_hash(r.is, hash, &size) == 0 &&
		    (size != a->data_size ||
		    memcmp(hash, a->data_hash, 32) != 0)) {
			err_set("archive %s: object '%s' does not match the "
			    "%s in its record (damaged or tampered)",
			    a->id, r.dkey, hash_label(a->hash_alg));
			rc = ERR_CORRUPT;
		}
	}
	if (st->withheld > WITHHELD_NAMED)
		warnf(&r, "and %llu more items withheld by policy",
		    (unsigned long long)(st->withheld - WITHHELD_NAMED));
	if (rc == ERR_OK && r.refused > 0) {
		if (o->target != NULL)
			err_set("%llu entr%s not restored (see above)",
			    (unsigned long long)r.refused,
			    r.refused == 1 ? "y" : "ies");
		else
			err_set("archive %s: %llu unsafe entr%s that a restore "
			    "would refuse (see above)", a->id,
			    (unsigned long long)r.refused,
			    r.refused == 1 ? "y" : "ies");
		rc = ERR_FAIL;
	}
done:
	rs_add_stats(&r);
	st->skipped = r.refused;
	if (saved >= 0) {
		if (fchdir(saved) != 0 && rc == ERR_OK) {
			err_set("cannot return to the working directory");
			rc = ERR_FAIL;
		}
		close(saved);
	}
	rs_release(&r);
	st->t_wall = util_mono() - t0;
	return rc;
}
