#ifndef BKP_WPOOL_H
#define BKP_WPOOL_H

#include <stddef.h>
#include <stdint.h>

struct archive_entry;

/*
 * A pool of threads that write regular files to disk, each through its
 * own libarchive write_disk handle, so that creating and filling files
 * (kernel work that dominates restores) runs on every core while the
 * restore's main thread reads, authenticates and hashes the next entries.
 * Only for plain regular files in a target that holds no symlink, whose
 * parent directories the caller has made.  A file is a job: its entry,
 * then segments of its data, then its end.  Entries of one path are
 * written in the order given, and with ARCHIVE_EXTRACT_NO_OVERWRITE a
 * path that exists is refused (not skipped silently, as libarchive
 * would).  The data bytes queued but not yet written are bounded.
 */
struct wpool;
struct wjob;

/*
 * wpool_new(nthreads, flags, maxqueued, &p): start nthreads writers whose
 * handles use the write_disk option flags; at most maxqueued bytes of
 * file data wait at a time (a larger segment waits for an empty queue).
 * ERR_OK or ERR_FAIL.
 */
int wpool_new(int nthreads, int flags, size_t maxqueued, struct wpool **p);

/*
 * wpool_begin(p, e, &job): queue a file whose entry is e (taken over);
 * wpool_add(p, job, data, len, off): hand over len bytes (malloc'd, taken
 * over) to write at offset off, waiting while the queue is full;
 * wpool_end(p, job): no more data; job belongs to the pool from then on.
 * ERR_OK, or ERR_FAIL if out of memory or the pool has been finished
 * (what was handed over is freed either way).
 */
int wpool_begin(struct wpool *p, struct archive_entry *e, struct wjob **job);
int wpool_add(struct wpool *p, struct wjob *job, uint8_t *data, size_t len,
    uint64_t off);
void wpool_end(struct wpool *p, struct wjob *job);

/*
 * wpool_finish(p): write everything queued, stop the threads and close
 * their handles; returns the number of entries that could not be written.
 * Every begun job must have been ended.  Idempotent.
 */
uint64_t wpool_finish(struct wpool *p);

/*
 * wpool_warnings(p, warn, arg): call warn(arg, msg) in the calling thread
 * for each entry the writers failed since the last call (the first 256
 * by name, then a count), so that one thread prints warnings.
 */
void wpool_warnings(struct wpool *p, void (*warn)(void *arg,
    const char *msg), void *arg);

/* wpool_free(p): finish if needed, then free; NULL ok. */
void wpool_free(struct wpool *p);

#endif
