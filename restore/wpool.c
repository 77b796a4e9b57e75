/*
 * Check-and-write pool of a restore: see wpool.h.  The caller's thread
 * hashes each file as it hands the data over (BLAKE3 costs it little, and
 * the data is still in its cache), so a whole file reaches a writer only
 * once it passed, and a streamed one gets its verdict at wpool_end.  One
 * mutex guards the writers' FIFOs, every job's segment list and the queued
 * byte count; writing runs unlocked.
 *
 * The queue is bounded by what the queued files really hold, not by their
 * content: a segment counts its buffer's capacity (4 KiB for a file of 20
 * bytes), a job its own size and an estimate of its entry's (job_cost).
 * So a restore of millions of small files holds about a thousand of them
 * at a time, however fast the writers go; with the idle buffers (at most
 * maxqueued bytes too), the pool's memory is bounded whatever the count.  Each writer sleeps on a condition of
 * its own, the caller on room, and a thread is woken only for what it
 * waits on: a restore makes a few hand-overs per file.
 *
 * A job is held by the caller until wpool_end (or wpool_put returns) and
 * by its writer once forwarded (refs).  A file found bad has its waiting
 * segments freed at once, and data the caller still adds to it is
 * dropped, so the queue never fills with it.  Segments are appended by
 * the caller, and written and freed by the writer.
 *
 * The umask: libarchive's archive_write_header() sets the process umask to
 * 0 and back to read it, so a file or directory another thread creates in
 * that window gets permissions the umask should have removed (parent
 * directories 0777).  Each writer therefore takes a private copy of the
 * umask (unshare(CLONE_FS)) before its first header.  Where unshare is not
 * allowed (some container seccomp profiles), every header, the caller's
 * included, is made under one lock instead (wpool_create_lock).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <sodium.h>

#include "err.h"
#include "hash.h"
#include "util.h"
#include "wpool.h"

#define WPOOL_MAX_WRITERS 8
#define WPOOL_MAX_MSGS 256      /* warnings kept until delivered */
#define WPOOL_CLASSES 12        /* recycled buffers: 4 KiB << 0..11 */

struct seg {
	struct seg *next;
	uint8_t *data;
	size_t len;
	uint64_t off;
};

struct wjob {
	struct wjob *next;          /* in its writer's FIFO */
	struct archive_entry *e;
	uint8_t expect[32];
	struct hash h;              /* the caller's: a streamed file's data */
	uint64_t pos;               /* the caller's: end of the data hashed */
	int overlap;                /* the caller's: data given twice */
	struct seg *head, *tail;    /* not yet written or freed */
	size_t cost;                /* counted in queued once forwarded */
	int ended;                  /* complete, or dropped (bad) */
	int bad;                    /* failed its check, aborted or dropped */
	int refs;
	struct writer *w;           /* its writer, once forwarded */
};

/* A FIFO of jobs (the intake, or one writer's). */
struct jobq {
	struct wjob *head, *tail;
};

struct writer {
	struct wpool *p;
	pthread_t tid;
	struct jobq q;
	pthread_cond_t more;        /* a job, a hashed segment or a verdict */
};

struct wpool {
	pthread_mutex_t mu;
	pthread_cond_t room;        /* the caller's: queued bytes fell, or a
	                               writer is ready */
	int hash_alg;               /* HASH_* of the expected hashes */
	size_t queued, maxqueued;   /* what queued files hold (job_cost,
	                               seg_cost) */
	size_t want;                /* bytes the caller waits to add, or 0 */
	size_t own;                 /* of queued, what the caller's waiting
	                               job holds itself */
	int stopping, finished;
	uint64_t failed, corrupt;
	char *first_bad;
	char *msgs[WPOOL_MAX_MSGS]; /* undelivered warnings */
	size_t nmsgs;
	uint64_t dropped;           /* warnings beyond WPOOL_MAX_MSGS */
	pthread_mutex_t cache_mu;   /* guards cache and cached only */
	void *cache[WPOOL_CLASSES]; /* idle buffers by size class */
	size_t cached;              /* their bytes, at most maxqueued */
	int flags;
	mode_t umask;               /* the process umask at wpool_new */
	int ready;                  /* writers past their umask set-up */
	int fs_shared;              /* a writer could not unshare: lock */
	pthread_mutex_t create_mu;  /* headers, when fs_shared */
	int nwriters;
	struct writer w[WPOOL_MAX_WRITERS];
};

/*
 * Data buffers are recycled: a restore hands over a buffer per block, and
 * allocating each anew costs page faults (and, under AddressSanitizer,
 * grows its quarantine with the data).  A buffer for len bytes has the
 * capacity of len's class (the power of two from 4 KiB up); idle ones wait
 * on per-class free lists threaded through their first bytes.  -1: larger
 * than the largest class, allocated and freed as is.
 */
static int
buf_class(size_t len)
{
	size_t cap = 4096;
	int c = 0;

	while (cap < len) {
		cap <<= 1;
		if (++c == WPOOL_CLASSES)
			return -1;
	}
	return c;
}

/* Take back the buffer of len bytes b (any lock may be held). */
static void
buf_put(struct wpool *p, uint8_t *b, size_t len)
{
	int c = buf_class(len);
	size_t cap;

	if (b == NULL)
		return;
	cap = c < 0 ? 0 : (size_t)4096 << c;
	pthread_mutex_lock(&p->cache_mu);
	if (c >= 0 && p->cached + cap <= p->maxqueued) {
		memcpy(b, &p->cache[c], sizeof(void *));
		p->cache[c] = b;
		p->cached += cap;
		b = NULL;
	}
	pthread_mutex_unlock(&p->cache_mu);
	free(b);
}

uint8_t *
wpool_alloc(struct wpool *p, size_t len)
{
	int c = buf_class(len);
	uint8_t *b = NULL;

	if (c >= 0) {
		pthread_mutex_lock(&p->cache_mu);
		if ((b = p->cache[c]) != NULL) {
			memcpy(&p->cache[c], b, sizeof(void *));
			p->cached -= (size_t)4096 << c;
		}
		pthread_mutex_unlock(&p->cache_mu);
		if (b == NULL)
			b = malloc((size_t)4096 << c);
	} else
		b = malloc(len);
	if (b == NULL)
		err_set("out of memory");
	return b;
}

void
wpool_unalloc(struct wpool *p, uint8_t *b, size_t len)
{
	buf_put(p, b, len);
}

/* What a segment of len bytes holds: its buffer, at its capacity. */
static size_t
seg_cost(size_t len)
{
	int c = buf_class(len);

	return (c < 0 ? len : (size_t)4096 << c) + sizeof(struct seg);
}

/*
 * An estimate of what a job holds besides its segments: itself and its
 * entry.  libarchive's clone of a tar entry measured 2.3 KiB with a short
 * path and 5 bytes more per byte of path (kept as bytes and as wide
 * characters, libarchive 3.6); its extended attributes and ACL entries
 * are copied with it.
 */
#define ENTRY_COST 2560
#define ENTRY_COST_PER_PATH_BYTE 6
#define ENTRY_COST_PER_ITEM 128     /* an xattr or an ACL entry, besides
	                               its name and value */

static size_t
job_cost(struct archive_entry *e)
{
	const char *path = archive_entry_pathname(e), *name;
	const void *value;
	size_t n = sizeof(struct wjob) + ENTRY_COST, len;

	if (path != NULL)
		n += ENTRY_COST_PER_PATH_BYTE * strlen(path);
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &len) ==
	    ARCHIVE_OK)
		n += ENTRY_COST_PER_ITEM + (name != NULL ? strlen(name) : 0) +
		    len;
	n += ENTRY_COST_PER_ITEM * (size_t)archive_entry_acl_count(e,
	    ARCHIVE_ENTRY_ACL_TYPE_POSIX1E | ARCHIVE_ENTRY_ACL_TYPE_NFS4);
	return n;
}

/*
 * Give n bytes back to the queue; lock held.  A caller waiting for room
 * is woken once a quarter of the queue is free beyond what it waits to
 * add (or the queue is empty), not for every segment written: it then
 * hands over several files in a row.
 */
static void
unqueue(struct wpool *p, size_t n)
{
	p->queued -= n;
	if (p->want > 0 && (p->queued <= p->own ||
	    p->queued + p->want <= p->maxqueued - p->maxqueued / 4))
		pthread_cond_signal(&p->room);
}

/* Free a segment and give what it held back to the queue; lock held. */
static void
seg_drop(struct wpool *p, struct seg *s)
{
	unqueue(p, seg_cost(s->len));
	buf_put(p, s->data, s->len);
	free(s);
}

/* Drop one hold on j, freeing it with the last; lock held. */
static void
job_unref(struct wpool *p, struct wjob *j)
{
	struct seg *s;

	if (--j->refs > 0)
		return;
	while ((s = j->head) != NULL) {
		j->head = s->next;
		seg_drop(p, s);
	}
	if (j->w != NULL)
		unqueue(p, j->cost);    /* it was forwarded */
	archive_entry_free(j->e);
	free(j);
}

static struct wjob *
job_new(struct archive_entry *e, const uint8_t hash[32])
{
	struct wjob *j;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		archive_entry_free(e);
		err_set("out of memory");
		return NULL;
	}
	j->e = e;
	j->cost = job_cost(e);
	memcpy(j->expect, hash, 32);
	j->refs = 1;
	return j;
}

/* Note one file that could not be written, with the whole of its path
 * and reason (a path may be far longer than PATH_MAX); lock held. */
static void
failed(struct wpool *p, const char *path, const char *why)
{
	static const char fmt[] = "cannot restore '%s': %s";
	size_t n;
	char *m = NULL;

	p->failed++;
	if (path == NULL)
		path = "?";
	if (why == NULL)
		why = "unknown error";
	n = sizeof(fmt) + strlen(path) + strlen(why);
	if (p->nmsgs < WPOOL_MAX_MSGS && (m = malloc(n)) != NULL) {
		snprintf(m, n, fmt, path, why);
		p->msgs[p->nmsgs++] = m;
	} else
		p->dropped++;
}

/*
 * FNV-1a of a path's directory part (NULL and "x" hash as "").  Files go
 * to writers by directory: creating a file takes its directory's lock in
 * the kernel, which two writers filling one directory would wait on (and
 * every lookup through it), while all files of one path still meet one
 * writer, in order.
 */
static unsigned
dir_hash(const char *s)
{
	const char *end = s != NULL ? strrchr(s, '/') : NULL;
	unsigned h = 2166136261u;

	for (; end != NULL && s < end; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Append j to q and wake its reader, who waits on c; lock held. */
static void
jobq_push(struct jobq *q, struct wjob *j, pthread_cond_t *c)
{
	j->next = NULL;
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	pthread_cond_signal(c);
}

/* Take q's first job (NULL if empty); lock held. */
static struct wjob *
jobq_pop(struct jobq *q)
{
	struct wjob *j;

	if ((j = q->head) != NULL) {
		q->head = j->next;
		if (q->head == NULL)
			q->tail = NULL;
	}
	return j;
}

/* Hand j to the writer its path hashes to, and count it in the queue
 * until it is freed; lock held. */
static void
forward(struct wpool *p, struct wjob *j)
{
	struct writer *w = &p->w[dir_hash(archive_entry_pathname(j->e)) %
	    (unsigned)p->nwriters];

	p->queued += j->cost;
	j->refs++;
	j->w = w;
	jobq_push(&w->q, j, &w->more);
}

/* Wake j's writer, if it has one, to look at j again; lock held. */
static void
wake_writer(struct wjob *j)
{
	if (j->w != NULL)
		pthread_cond_signal(&j->w->more);
}

/* Mark j failed and free the segments it still holds; lock held. */
static void
kill_job(struct wpool *p, struct wjob *j)
{
	struct seg *s;

	j->bad = j->ended = 1;
	while ((s = j->head) != NULL) {
		j->head = s->next;
		seg_drop(p, s);
	}
	j->tail = NULL;
	wake_writer(j);
}

/* Count j as a file whose data does not match its hash; lock held. */
static void
note_corrupt(struct wpool *p, struct wjob *j)
{
	const char *path = archive_entry_pathname(j->e);

	p->corrupt++;
	if (p->first_bad == NULL)
		p->first_bad = strdup(path != NULL ? path : "?");
}

/* Is anything (even a dangling symlink) at path?  1 yes, 0 no, -1 if
 * that cannot be told (errno set: ENAMETOOLONG, ELOOP, EACCES...). */
static int
exists(const char *path)
{
	struct stat sb;

	if (path == NULL || lstat(path, &sb) == 0)
		return path != NULL;
	return errno == ENOENT ? 0 : -1;
}

/* Next segment of j to write, NULL when there is none (j complete, or
 * bad); a job the caller never ended is dropped once the pool stops;
 * lock held. */
static struct seg *
next_seg(struct wpool *p, struct wjob *j)
{
	struct seg *s;

	for (;;) {
		if (j->bad)
			return NULL;
		if ((s = j->head) != NULL) {
			j->head = s->next;
			if (j->head == NULL)
				j->tail = NULL;
			return s;
		}
		if (j->ended)
			return NULL;
		if (p->stopping) {
			kill_job(p, j);
			return NULL;
		}
		pthread_cond_wait(&j->w->more, &p->mu);
	}
}

/* Write one file; a file that fails its hash is removed again.  Returns
 * 1 if a write failed (libarchive's handle may then refuse everything:
 * the caller starts a new one), else 0. */
static int
write_job(struct wpool *p, struct archive *aw, struct wjob *j)
{
	const char *path = archive_entry_pathname(j->e), *why = NULL;
	char msg[512];
	struct seg *s;
	int created = 0, partial = 0, bad, there = 0;

	if (aw != NULL && (p->flags & ARCHIVE_EXTRACT_NO_OVERWRITE))
		there = exists(path);
	if (aw == NULL)
		why = "out of memory";
	else if (there > 0)
		why = "it exists, not overwritten (use --overwrite)";
	else if (there < 0)
		why = strerror(errno);  /* the path cannot even be looked at */
	else {
		wpool_create_lock(p);
		if (archive_write_header(aw, j->e) < ARCHIVE_WARN)
			why = archive_error_string(aw);
		else
			created = 1;
		wpool_create_unlock(p);
	}
	pthread_mutex_lock(&p->mu);
	while ((s = next_seg(p, j)) != NULL) {
		pthread_mutex_unlock(&p->mu);
		if (why == NULL && wpool_write_data(aw, s->data, s->len,
		    s->off) != ARCHIVE_OK) {
			why = wpool_write_error(aw, msg, sizeof(msg));
			partial = created;
		}
		pthread_mutex_lock(&p->mu);
		seg_drop(p, s);
	}
	bad = j->bad;
	pthread_mutex_unlock(&p->mu);
	if (created && archive_write_finish_entry(aw) < ARCHIVE_WARN &&
	    why == NULL)
		why = archive_error_string(aw);
	if (bad || partial) {
		/* Counted by the caller (or dropped); or its data could not
		 * be written whole, and libarchive would still have given it
		 * its full size, with holes, so that it looks restored. */
		if (created)
			unlink(path);
		if (bad)
			return partial;
	}
	if (why != NULL) {
		pthread_mutex_lock(&p->mu);
		failed(p, path, why);
		pthread_mutex_unlock(&p->mu);
	}
	return why != NULL;
}

/* A writer's libarchive handle, with the pool's options. */
static struct archive *
disk_new(struct wpool *p)
{
	struct archive *aw;

	wpool_create_lock(p);       /* it probes the umask too */
	aw = archive_write_disk_new();
	wpool_create_unlock(p);
	if (aw != NULL) {
		archive_write_disk_set_options(aw, p->flags);
		archive_write_disk_set_standard_lookup(aw);
	}
	return aw;
}

/*
 * Give the calling writer its own umask (the process's at wpool_new), so
 * that libarchive's umask probes here and in other threads do not meet;
 * else note that headers must take create_mu.  Wakes wpool_new.
 */
static void
private_umask(struct wpool *p)
{
	int ok = unshare(CLONE_FS) == 0;

	if (ok)
		umask(p->umask);
	pthread_mutex_lock(&p->mu);
	if (!ok)
		p->fs_shared = 1;
	p->ready++;
	pthread_cond_broadcast(&p->room);
	pthread_mutex_unlock(&p->mu);
}

void
wpool_create_lock(struct wpool *p)
{
	if (p != NULL && p->fs_shared)
		pthread_mutex_lock(&p->create_mu);
}

void
wpool_create_unlock(struct wpool *p)
{
	if (p != NULL && p->fs_shared)
		pthread_mutex_unlock(&p->create_mu);
}

/* Take w's next job; NULL once the pool stops and w's FIFO is empty;
 * lock held. */
static struct wjob *
take(struct writer *w)
{
	struct wpool *p = w->p;

	while (w->q.head == NULL && !p->stopping)
		pthread_cond_wait(&w->more, &p->mu);
	return jobq_pop(&w->q);
}

static void *
writer(void *arg)
{
	struct writer *w = arg;
	struct wpool *p = w->p;
	struct archive *aw;
	struct wjob *j;

	private_umask(p);
	aw = disk_new(p);
	pthread_mutex_lock(&p->mu);
	while ((j = take(w)) != NULL) {
		pthread_mutex_unlock(&p->mu);
		if (write_job(p, aw, j) && aw != NULL) {
			(void)archive_write_free(aw);   /* its error was said */
			aw = disk_new(p);
		}
		pthread_mutex_lock(&p->mu);
		job_unref(p, j);
	}
	pthread_mutex_unlock(&p->mu);
	if (aw != NULL) {
		if (archive_write_close(aw) != ARCHIVE_OK) {
			pthread_mutex_lock(&p->mu);
			failed(p, "file metadata", archive_error_string(aw));
			pthread_mutex_unlock(&p->mu);
		}
		archive_write_free(aw);
	}
	return NULL;
}

int
wpool_new(int nwriters, int flags, int hash_alg, size_t maxqueued,
    struct wpool **pp)
{
	struct wpool *p;
	int i;

	*pp = NULL;
	if (nwriters < 0)
		nwriters = 0;
	if (nwriters > WPOOL_MAX_WRITERS)
		nwriters = WPOOL_MAX_WRITERS;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	p->hash_alg = hash_alg;
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->create_mu, NULL);
	pthread_mutex_init(&p->cache_mu, NULL);
	pthread_cond_init(&p->room, NULL);
	for (i = 0; i < WPOOL_MAX_WRITERS; i++)
		pthread_cond_init(&p->w[i].more, NULL);
	p->maxqueued = maxqueued;
	p->flags = flags;
	p->umask = umask(0);        /* no writer exists yet to be affected */
	umask(p->umask);
	for (i = 0; i < nwriters; i++) {
		p->w[i].p = p;
		if (pthread_create(&p->w[i].tid, NULL, writer, &p->w[i]) != 0)
			break;
		p->nwriters++;
	}
	/* fs_shared is settled before the caller writes anything */
	pthread_mutex_lock(&p->mu);
	while (p->ready < p->nwriters)
		pthread_cond_wait(&p->room, &p->mu);
	pthread_mutex_unlock(&p->mu);
	if (nwriters > 0 && p->nwriters == 0) {
		wpool_free(p);
		err_set("cannot start the restore's threads");
		return ERR_FAIL;
	}
	*pp = p;
	return ERR_OK;
}

/*
 * Wait for room for len bytes (job_cost, seg_cost) of a job that holds own
 * bytes of the queue already (its cost, once forwarded); a larger piece
 * waits until the queue holds nothing else (the job's own segments are
 * written meanwhile).  Lock held.  -1 if the pool is stopping.
 */
static int
wait_room(struct wpool *p, size_t len, size_t own)
{
	while (!p->stopping && p->queued > own &&
	    p->queued + len > p->maxqueued) {
		p->want = len > 0 ? len : 1;
		p->own = own;
		pthread_cond_wait(&p->room, &p->mu);
	}
	p->want = p->own = 0;
	if (p->stopping) {
		err_set("internal error: the writer pool has finished");
		return -1;
	}
	return 0;
}

/* Append segment s to j; lock held. */
static void
append(struct wpool *p, struct wjob *j, struct seg *s)
{
	if (j->tail != NULL)
		j->tail->next = s;
	else
		j->head = s;
	j->tail = s;
	p->queued += seg_cost(s->len);
	wake_writer(j);
}

static struct seg *
seg_new(struct wpool *p, uint8_t *data, size_t len, uint64_t off)
{
	struct seg *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		wpool_unalloc(p, data, len);
		err_set("out of memory");
		return NULL;
	}
	s->data = data;
	s->len = len;
	s->off = off;
	return s;
}

int
wpool_put(struct wpool *p, struct archive_entry *e, const uint8_t hash[32],
    uint8_t *data, size_t len)
{
	struct wjob *j;
	struct seg *s = NULL;
	uint8_t got[HASH_LEN];
	int rc = ERR_OK, bad, keep;

	if ((j = job_new(e, hash)) == NULL) {
		wpool_unalloc(p, data, len);
		return ERR_FAIL;
	}
	hash_buf(p->hash_alg, data, len, got);
	bad = sodium_memcmp(got, hash, HASH_LEN) != 0;
	if (len > 0 && (s = seg_new(p, data, len, 0)) == NULL) {
		archive_entry_free(j->e);
		free(j);
		return ERR_FAIL;
	}
	if (len == 0)
		wpool_unalloc(p, data, len);
	pthread_mutex_lock(&p->mu);
	if (bad)
		note_corrupt(p, j);
	/* Nothing after a bad file is written; without writers, only
	 * checked. */
	keep = p->corrupt == 0 && p->nwriters > 0;
	if (keep && wait_room(p, j->cost + (s != NULL ? seg_cost(len) : 0),
	    0) != 0) {
		rc = ERR_FAIL;
		keep = 0;
	}
	if (s != NULL)
		append(p, j, s);
	j->ended = 1;
	if (keep)
		forward(p, j);
	else
		kill_job(p, j);
	job_unref(p, j);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int
wpool_begin(struct wpool *p, struct archive_entry *e, const uint8_t hash[32],
    struct wjob **jp)
{
	struct wjob *j;

	*jp = NULL;
	if ((j = job_new(e, hash)) == NULL)
		return ERR_FAIL;
	hash_init(&j->h, p->hash_alg);
	pthread_mutex_lock(&p->mu);
	if (p->corrupt == 0 && p->nwriters > 0 ? wait_room(p, j->cost, 0) != 0 :
	    p->stopping) {
		job_unref(p, j);
		pthread_mutex_unlock(&p->mu);
		err_set("internal error: the writer pool has finished");
		return ERR_FAIL;
	}
	if (p->corrupt > 0)
		kill_job(p, j);         /* nothing after a bad file is written */
	else if (p->nwriters > 0)
		forward(p, j);          /* it streams to its writer */
	pthread_mutex_unlock(&p->mu);
	*jp = j;
	return ERR_OK;
}

int
wpool_add(struct wpool *p, struct wjob *j, uint8_t *data, size_t len,
    uint64_t off)
{
	struct seg *s;
	int rc = ERR_OK;

	if (off < j->pos)
		j->overlap = 1;
	if (!j->overlap) {
		hash_zeros(&j->h, off - j->pos);
		hash_update(&j->h, data, len);
		j->pos = off + len;
	}
	if ((s = seg_new(p, data, len, off)) == NULL)
		return ERR_FAIL;
	pthread_mutex_lock(&p->mu);
	if (p->stopping) {
		err_set("internal error: the writer pool has finished");
		rc = ERR_FAIL;
	} else if (!j->bad && j->w != NULL && wait_room(p, seg_cost(len),
	    j->cost) != 0)
		rc = ERR_FAIL;
	if (rc == ERR_OK && !j->bad && j->w != NULL) {
		append(p, j, s);
		s = NULL;
	}
	/* else not to be written: nothing of it is kept */
	if (s != NULL) {
		buf_put(p, s->data, s->len);
		free(s);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void
wpool_end(struct wpool *p, struct wjob *j, uint64_t size, int abort)
{
	uint8_t got[HASH_LEN];
	int bad = j->overlap || size < j->pos;

	if (!bad) {
		hash_zeros(&j->h, size - j->pos);
		hash_final(&j->h, got);
		bad = sodium_memcmp(got, j->expect, HASH_LEN) != 0;
	}
	pthread_mutex_lock(&p->mu);
	if (bad && !abort && !j->bad)
		note_corrupt(p, j);
	if (bad || abort)
		kill_job(p, j);
	else {
		j->ended = 1;
		if (j->w == NULL)
			kill_job(p, j); /* without writers: only checked */
		wake_writer(j);
	}
	job_unref(p, j);
	pthread_mutex_unlock(&p->mu);
}

int
wpool_write_data(struct archive *aw, const void *b, size_t len, uint64_t off)
{
	const uint8_t *p = b;
	size_t n;
	int r;

	do {
		n = len < UTIL_WRITE_PIECE ? len : UTIL_WRITE_PIECE;
		r = (int)archive_write_data_block(aw, p, n, (la_int64_t)off);
		if (r != ARCHIVE_OK)
			return r;
		p += n;
		off += n;
		len -= n;
	} while (len > 0);
	return ARCHIVE_OK;
}

const char *
wpool_write_error(struct archive *aw, char *buf, size_t cap)
{
	const char *m = archive_error_string(aw);
	int e = archive_errno(aw);

	if (e > 0)
		snprintf(buf, cap, "%s: %s", m != NULL ? m : "write failed",
		    strerror(e));
	else
		snprintf(buf, cap, "%s", m != NULL ? m : "write failed");
	return buf;
}

uint64_t
wpool_corrupt(struct wpool *p, char *path, size_t cap)
{
	uint64_t n;

	pthread_mutex_lock(&p->mu);
	n = p->corrupt;
	if (cap > 0)
		snprintf(path, cap, "%s", p->first_bad != NULL ?
		    p->first_bad : "");
	pthread_mutex_unlock(&p->mu);
	return n;
}

uint64_t
wpool_finish(struct wpool *p)
{
	int i;

	if (!p->finished) {
		pthread_mutex_lock(&p->mu);
		p->stopping = 1;
		for (i = 0; i < p->nwriters; i++)
			pthread_cond_signal(&p->w[i].more);
		pthread_cond_broadcast(&p->room);
		pthread_mutex_unlock(&p->mu);
		for (i = 0; i < p->nwriters; i++)
			pthread_join(p->w[i].tid, NULL);
		p->finished = 1;
	}
	return p->failed;
}

void
wpool_warnings(struct wpool *p, void (*warn)(void *arg, const char *msg),
    void *arg)
{
	char *m[WPOOL_MAX_MSGS], more[96];
	size_t i, n;
	uint64_t dropped;

	pthread_mutex_lock(&p->mu);
	n = p->nmsgs;
	memcpy(m, p->msgs, n * sizeof(m[0]));
	p->nmsgs = 0;
	dropped = p->dropped;
	p->dropped = 0;
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < n; i++) {
		if (warn != NULL)
			warn(arg, m[i]);
		free(m[i]);
	}
	if (dropped > 0 && warn != NULL) {
		snprintf(more, sizeof(more), "and %llu more entries could not "
		    "be restored", (unsigned long long)dropped);
		warn(arg, more);
	}
}

void
wpool_free(struct wpool *p)
{
	uint8_t *b;
	int i;

	if (p == NULL)
		return;
	wpool_finish(p);
	while (p->nmsgs > 0)
		free(p->msgs[--p->nmsgs]);
	for (i = 0; i < WPOOL_CLASSES; i++)
		while ((b = p->cache[i]) != NULL) {
			memcpy(&p->cache[i], b, sizeof(void *));
			free(b);
		}
	free(p->first_bad);
	pthread_cond_destroy(&p->room);
	for (i = 0; i < WPOOL_MAX_WRITERS; i++)
		pthread_cond_destroy(&p->w[i].more);
	pthread_mutex_destroy(&p->create_mu);
	pthread_mutex_destroy(&p->cache_mu);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
