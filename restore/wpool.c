/*
 * Writer pool for restores: see wpool.h.  One mutex guards the writers'
 * FIFOs of jobs, each job's list of data segments and the queued byte
 * count.  A job goes to the writer its path hashes to, so two entries of
 * one path are written by one thread in archive order, and the existence
 * check before each file is exact: libarchive's NO_OVERWRITE alone would
 * skip an existing file silently.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#include "err.h"
#include "wpool.h"

#define WPOOL_MAX_THREADS 8
#define WPOOL_MAX_MSGS 256      /* warnings kept until delivered */

struct seg {
	struct seg *next;
	uint8_t *data;
	size_t len;
	uint64_t off;
};

struct wjob {
	struct wjob *next;
	struct archive_entry *e;
	struct seg *head, *tail;
	int ended;
};

struct writer {
	struct wpool *p;
	pthread_t tid;
	struct wjob *head, *tail;   /* this writer's FIFO */
};

struct wpool {
	pthread_mutex_t mu;
	pthread_cond_t more;        /* a job, a segment or an end arrived */
	pthread_cond_t room;        /* queued bytes fell */
	size_t queued, maxqueued;
	int stopping;
	int finished;
	uint64_t failed;
	char *msgs[WPOOL_MAX_MSGS]; /* undelivered warnings */
	size_t nmsgs;
	uint64_t dropped;           /* warnings beyond WPOOL_MAX_MSGS */
	int flags;
	int nthreads;
	struct writer w[WPOOL_MAX_THREADS];
};

static void
job_free(struct wjob *j)
{
	struct seg *s;

	while ((s = j->head) != NULL) {
		j->head = s->next;
		free(s->data);
		free(s);
	}
	archive_entry_free(j->e);
	free(j);
}

/* Note one failed entry (with the lock held). */
static void
failed(struct wpool *p, const char *path, const char *why)
{
	char msg[1024], *m;

	p->failed++;
	snprintf(msg, sizeof(msg), "cannot restore '%s': %s",
	    path != NULL ? path : "?", why != NULL ? why : "unknown error");
	if (p->nmsgs < WPOOL_MAX_MSGS && (m = strdup(msg)) != NULL)
		p->msgs[p->nmsgs++] = m;
	else
		p->dropped++;
}

/* Next segment of j (NULL at its end, or once the pool is stopping: the
 * restore failed before ending j), waiting for it; lock held. */
static struct seg *
next_seg(struct wpool *p, struct wjob *j)
{
	struct seg *s;

	while (j->head == NULL && !j->ended && !p->stopping)
		pthread_cond_wait(&p->more, &p->mu);
	if ((s = j->head) != NULL) {
		j->head = s->next;
		if (j->head == NULL)
			j->tail = NULL;
	}
	return s;
}

/* Is anything (even a dangling symlink) at path? */
static int
exists(const char *path)
{
	struct stat sb;

	return path != NULL && (lstat(path, &sb) == 0 || errno != ENOENT);
}

/* Write one file; after a failure, its remaining data is discarded. */
static void
write_job(struct wpool *p, struct archive *aw, struct wjob *j)
{
	const char *why = NULL;
	struct seg *s;
	int ok;

	if (aw == NULL)
		why = "out of memory";
	else if ((p->flags & ARCHIVE_EXTRACT_NO_OVERWRITE) &&
	    exists(archive_entry_pathname(j->e)))
		why = "it exists, not overwritten (use --overwrite)";
	else if (archive_write_header(aw, j->e) < ARCHIVE_WARN)
		why = archive_error_string(aw);
	ok = why == NULL;
	pthread_mutex_lock(&p->mu);
	while ((s = next_seg(p, j)) != NULL) {
		pthread_mutex_unlock(&p->mu);
		if (ok && archive_write_data_block(aw, s->data, s->len,
		    (la_int64_t)s->off) < ARCHIVE_WARN)
			ok = 0;
		pthread_mutex_lock(&p->mu);
		p->queued -= s->len;
		pthread_cond_broadcast(&p->room);
		free(s->data);
		free(s);
	}
	pthread_mutex_unlock(&p->mu);
	if (ok && archive_write_finish_entry(aw) >= ARCHIVE_WARN)
		return;
	if (why == NULL)
		why = archive_error_string(aw);
	pthread_mutex_lock(&p->mu);
	failed(p, archive_entry_pathname(j->e), why);
	pthread_mutex_unlock(&p->mu);
}

/* Take w's next job; NULL once stopping and w's queue is empty. */
static struct wjob *
take(struct writer *w)
{
	struct wpool *p = w->p;
	struct wjob *j;

	pthread_mutex_lock(&p->mu);
	while (w->head == NULL && !p->stopping)
		pthread_cond_wait(&p->more, &p->mu);
	if ((j = w->head) != NULL) {
		w->head = j->next;
		if (w->head == NULL)
			w->tail = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	return j;
}

static void *
writer(void *arg)
{
	struct writer *w = arg;
	struct wpool *p = w->p;
	struct archive *aw;
	struct wjob *j;

	if ((aw = archive_write_disk_new()) != NULL) {
		archive_write_disk_set_options(aw, p->flags);
		archive_write_disk_set_standard_lookup(aw);
	}
	while ((j = take(w)) != NULL) {
		write_job(p, aw, j);
		job_free(j);
	}
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
wpool_new(int nthreads, int flags, size_t maxqueued, struct wpool **pp)
{
	struct wpool *p;
	int i;

	*pp = NULL;
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > WPOOL_MAX_THREADS)
		nthreads = WPOOL_MAX_THREADS;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->more, NULL);
	pthread_cond_init(&p->room, NULL);
	p->maxqueued = maxqueued;
	p->flags = flags;
	for (i = 0; i < nthreads; i++) {
		p->w[i].p = p;
		if (pthread_create(&p->w[i].tid, NULL, writer, &p->w[i]) != 0)
			break;
		p->nthreads++;
	}
	if (p->nthreads == 0) {
		wpool_free(p);
		err_set("cannot start a writer thread");
		return ERR_FAIL;
	}
	*pp = p;
	return ERR_OK;
}

/* FNV-1a of a path (NULL hashes as ""). */
static unsigned
path_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; s != NULL && *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

int
wpool_begin(struct wpool *p, struct archive_entry *e, struct wjob **jp)
{
	struct writer *w;
	struct wjob *j;

	*jp = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		archive_entry_free(e);
		err_set("out of memory");
		return ERR_FAIL;
	}
	j->e = e;
	w = &p->w[path_hash(archive_entry_pathname(e)) % (unsigned)p->nthreads];
	pthread_mutex_lock(&p->mu);
	if (p->stopping) {
		pthread_mutex_unlock(&p->mu);
		job_free(j);
		err_set("internal error: writer pool already finished");
		return ERR_FAIL;
	}
	if (w->tail != NULL)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	pthread_cond_broadcast(&p->more);
	pthread_mutex_unlock(&p->mu);
	*jp = j;
	return ERR_OK;
}

int
wpool_add(struct wpool *p, struct wjob *j, uint8_t *data, size_t len,
    uint64_t off)
{
	struct seg *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		free(data);
		err_set("out of memory");
		return ERR_FAIL;
	}
	s->data = data;
	s->len = len;
	s->off = off;
	pthread_mutex_lock(&p->mu);
	while (p->queued > 0 && p->queued + len > p->maxqueued)
		pthread_cond_wait(&p->room, &p->mu);
	if (j->tail != NULL)
		j->tail->next = s;
	else
		j->head = s;
	j->tail = s;
	p->queued += len;
	pthread_cond_broadcast(&p->more);
	pthread_mutex_unlock(&p->mu);
	return ERR_OK;
}

void
wpool_end(struct wpool *p, struct wjob *j)
{
	pthread_mutex_lock(&p->mu);
	j->ended = 1;
	pthread_cond_broadcast(&p->more);
	pthread_mutex_unlock(&p->mu);
}

uint64_t
wpool_finish(struct wpool *p)
{
	int i;

	if (!p->finished) {
		pthread_mutex_lock(&p->mu);
		p->stopping = 1;
		pthread_cond_broadcast(&p->more);
		pthread_mutex_unlock(&p->mu);
		for (i = 0; i < p->nthreads; i++)
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
	struct wjob *j;
	int i;

	if (p == NULL)
		return;
	wpool_finish(p);
	for (i = 0; i < WPOOL_MAX_THREADS; i++)
		while ((j = p->w[i].head) != NULL) {
			p->w[i].head = j->next;
			job_free(j);
		}
	while (p->nmsgs > 0)
		free(p->msgs[--p->nmsgs]);
	pthread_cond_destroy(&p->more);
	pthread_cond_destroy(&p->room);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
