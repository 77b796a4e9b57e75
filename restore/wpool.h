#ifndef BKP_WPOOL_H
#define BKP_WPOOL_H

#include <stddef.h>
#include <stdint.h>

struct archive;
struct archive_entry;

/*
 * The back half of a restore's pipeline: the thread that reads the tar
 * stream hands each regular file to the pool, which checks its content
 * against the hash its manifest records (in the caller's thread, as it
 * is handed over) and has a pool of writer threads, each with its own
 * libarchive write_disk handle, create the files, so that creating files
 * (kernel work that dominates restores) uses every core.  With no
 * writers, it only checks.
 *
 * Order and safety are those of a sequential restore: a file small enough
 * to be held whole is written only after it passed; a larger one streams
 * to its writer as it is hashed and is removed if it fails; once a file
 * fails, nothing after it is written.  Entries of one path go to one
 * writer, in order, and with ARCHIVE_EXTRACT_NO_OVERWRITE a path that
 * exists is refused (libarchive alone would skip it silently).  Only for
 * plain regular files in a target that holds no symlink, whose parent
 * directories the caller makes.  What the waiting files hold (their
 * buffers, at capacity, and their entries) is bounded in bytes, not in
 * files, so memory stays flat however many small files a restore has.
 * One thread (the caller) hands files over.
 */
struct wpool;
struct wjob;

/*
 * wpool_new(nwriters, flags, hash_alg, maxqueued, &p): start nwriters
 * writers (0: check only) whose handles use the write_disk option flags,
 * for files hashed with hash_alg (HASH_*); the files waiting hold at
 * most maxqueued bytes at a time, counting each buffer at its capacity and
 * each file's entry and bookkeeping (a larger piece waits for an empty
 * queue), and idle buffers kept for reuse at most maxqueued bytes more.
 * ERR_OK or ERR_FAIL.
 */
int wpool_new(int nwriters, int flags, int hash_alg, size_t maxqueued,
    struct wpool **p);

/*
 * wpool_alloc(p, len): a buffer for len bytes of file data, recycled by
 * the pool; NULL (and the error set) if out of memory.  Data handed to the
 * pool must come from here, with the same len; wpool_unalloc(p, b, len)
 * gives back one that is not handed over.
 */
uint8_t *wpool_alloc(struct wpool *p, size_t len);
void wpool_unalloc(struct wpool *p, uint8_t *b, size_t len);

/*
 * wpool_put(p, e, hash, data, len): a whole file: entry e and its len
 * bytes of content data (from wpool_alloc), both taken over, which must
 * hash to hash with the pool's algorithm.  Checked at once: a file that
 * does not is counted (wpool_corrupt) and dropped.  Waits while the queue
 * is full.
 */
int wpool_put(struct wpool *p, struct archive_entry *e,
    const uint8_t hash[32], uint8_t *data, size_t len);

/*
 * A streamed file: wpool_begin(p, e, hash, &job) queues it;
 * wpool_add(p, job, data, len, off) hands over len bytes (from wpool_alloc,
 * taken over) at offset off, waiting while the queue is full;
 * wpool_end(p, job, size, abort) says the content is complete at size
 * bytes, or with abort that the file is to be dropped (the caller found
 * it bad); the file's hash is checked then, and one that fails is counted
 * (wpool_corrupt) and removed.  The job belongs to the pool after
 * wpool_end.
 *
 * All return ERR_OK, or ERR_FAIL if out of memory or the pool has been
 * finished (what was handed over is freed either way).
 */
int wpool_begin(struct wpool *p, struct archive_entry *e,
    const uint8_t hash[32], struct wjob **job);
int wpool_add(struct wpool *p, struct wjob *job, uint8_t *data, size_t len,
    uint64_t off);
void wpool_end(struct wpool *p, struct wjob *job, uint64_t size, int abort);

/*
 * wpool_create_lock(p) / wpool_create_unlock(p): bracket every
 * archive_write_header() of the caller's own write_disk handles while the
 * pool exists (p may be NULL).  libarchive probes the process umask by
 * setting it to 0 for a moment; the pool's writers keep a private umask
 * where the system allows unshare(CLONE_FS), and otherwise this lock keeps
 * the probes and every creation apart.
 */
void wpool_create_lock(struct wpool *p);
void wpool_create_unlock(struct wpool *p);

/*
 * wpool_write_data(aw, b, len, off): archive_write_data_block() of len
 * bytes at offset off through the write_disk handle aw, in pieces of at
 * most UTIL_WRITE_PIECE bytes (why: util.h); ARCHIVE_OK, or the status
 * of the piece that failed.  Anything but ARCHIVE_OK is a failure: for a
 * failed write(2) (ENOSPC, EIO) libarchive returns only ARCHIVE_WARN.
 * wpool_write_error(aw, buf, cap) formats its message, with the errno's
 * text, into buf and returns buf.
 */
int wpool_write_data(struct archive *aw, const void *b, size_t len,
    uint64_t off);
const char *wpool_write_error(struct archive *aw, char *buf, size_t cap);

/*
 * wpool_corrupt(p, path, cap): how many files failed their hash so far;
 * path receives the first one's name.
 */
uint64_t wpool_corrupt(struct wpool *p, char *path, size_t cap);

/*
 * wpool_finish(p): check and write everything queued (a job never ended
 * is dropped), stop the threads and close their handles; returns the
 * number of files that could not be written.  Idempotent.
 */
uint64_t wpool_finish(struct wpool *p);

/*
 * wpool_warnings(p, warn, arg): call warn(arg, msg) in the calling thread
 * for each file the writers could not write since the last call (the
 * first 256 by name, then a count), so that one thread prints warnings.
 */
void wpool_warnings(struct wpool *p, void (*warn)(void *arg,
    const char *msg), void *arg);

/* wpool_free(p): finish if needed, then free; NULL ok. */
void wpool_free(struct wpool *p);

#endif
