/*
 * Unit tests for restore/wpool.c, the restore's check-and-write pool:
 * many small files and a file streamed in segments land byte for byte
 * with their modes; a full queue blocks the producer instead of growing;
 * an entry that cannot be written is counted and named once, from the
 * caller's thread; a file whose content does not match its hash is not
 * left behind and nothing after it is written; without writers the pool
 * only checks; a job cut short (the restore failed) does not hang finish;
 * the queue is bounded by what waiting files hold (buffers at capacity,
 * entries), not by their content, and a segment larger than the queue
 * still streams; a path too long to look at is refused with the real
 * reason, named in full.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>
#include <sodium.h>

#include "err.h"
#include "hash.h"
#include "support.h"
#include "wpool.h"

#define FLAGS (ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | \
    ARCHIVE_EXTRACT_NO_OVERWRITE | ARCHIVE_EXTRACT_SECURE_NODOTDOT | \
    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS)

static int saved = -1;

static void
setup(void)
{
	const char *d = support_tmpdir("wpool");

	saved = open(".", O_RDONLY | O_DIRECTORY);
	cr_assert(saved >= 0);
	cr_assert_eq(chdir(d), 0);
}

static void
teardown(void)
{
	if (saved >= 0) {
		cr_assert_eq(fchdir(saved), 0);
		close(saved);
	}
	support_cleanup();
}

TestSuite(wpool, .init = setup, .fini = teardown);

static struct archive_entry *
entry(const char *path, int64_t size, int mode)
{
	struct archive_entry *e = archive_entry_new();

	cr_assert_not_null(e);
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, mode);
	archive_entry_set_size(e, size);
	archive_entry_set_mtime(e, 1000000000 + size, 0);
	return e;
}

static uint8_t *
pattern(size_t n, unsigned seed)
{
	uint8_t *b = malloc(n > 0 ? n : 1);
	size_t i;

	cr_assert_not_null(b);
	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 31u + seed + (i >> 11));
	return b;
}

static void
hash_of(const uint8_t *b, size_t n, uint8_t out[32])
{
	hash_buf(HASH_BLAKE3, b, n, out);
}

/* A pool buffer holding a copy of the n bytes at b. */
static uint8_t *
pool_copy(struct wpool *p, const uint8_t *b, size_t n)
{
	uint8_t *c = wpool_alloc(p, n);

	cr_assert_not_null(c);
	if (n > 0)
		memcpy(c, b, n);
	return c;
}

/* A whole file; with bad, the hash given is wrong. */
static void
put_whole_h(struct wpool *p, const char *path, size_t n, unsigned seed,
    int mode, int bad)
{
	uint8_t *b = pattern(n, seed), h[32];

	hash_of(b, n, h);
	h[0] ^= (uint8_t)bad;
	cr_assert_eq(wpool_put(p, entry(path, (int64_t)n, mode), h,
	    pool_copy(p, b, n), n), ERR_OK);
	free(b);
}

static void
put_whole(struct wpool *p, const char *path, size_t n, unsigned seed,
    int mode)
{
	put_whole_h(p, path, n, seed, mode, 0);
}

/* A streamed file in segments of seg bytes; with bad, the hash is wrong;
 * with abort, the caller drops it at the end. */
static void
put_stream(struct wpool *p, const char *path, size_t n, size_t seg,
    unsigned seed, int bad, int abort)
{
	uint8_t *all = pattern(n, seed), h[32];
	struct wjob *j;
	size_t off;

	hash_of(all, n, h);
	h[5] ^= (uint8_t)bad;
	cr_assert_eq(wpool_begin(p, entry(path, (int64_t)n, 0644), h, &j),
	    ERR_OK);
	for (off = 0; off < n; off += seg) {
		size_t k = n - off < seg ? n - off : seg;

		cr_assert_eq(wpool_add(p, j, pool_copy(p, all + off, k), k,
		    off), ERR_OK);
	}
	wpool_end(p, j, n, abort);
	free(all);
}

static void
expect_file(const char *path, size_t n, unsigned seed, int mode)
{
	uint8_t *want = pattern(n, seed), *got;
	struct stat sb;
	size_t len;

	got = support_read_file(path, &len);
	cr_assert_not_null(got, "%s missing", path);
	cr_expect_eq(len, n, "%s: %zu bytes, want %zu", path, len, n);
	cr_expect(len != n || memcmp(got, want, n) == 0, "%s differs", path);
	cr_assert_eq(stat(path, &sb), 0);
	cr_expect_eq(sb.st_mode & 07777, (mode_t)mode, "%s mode %o", path,
	    (unsigned)(sb.st_mode & 07777));
	cr_expect_eq(sb.st_mtime, 1000000000 + (time_t)n);
	free(want);
	free(got);
}

static int nwarn;
static char lastwarn[512];

static void
count_warn(void *arg, const char *msg)
{
	(void)arg;
	nwarn++;
	snprintf(lastwarn, sizeof(lastwarn), "%s", msg);
}

Test(wpool, many_small_files_and_a_streamed_one)
{
	struct wpool *p;
	char name[64];
	size_t i, big = (5u << 20) + 77;

	cr_assert_eq(mkdir("d", 0755), 0);
	cr_assert_eq(wpool_new(3, FLAGS, HASH_BLAKE3, 1u << 20, &p), ERR_OK);
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "d/f%03zu", i);
		put_whole(p, name, i * 97, (unsigned)i, i % 2 ? 0640 : 0600);
	}
	/* streamed: segments handed over one by one, with a 1 MiB queue */
	put_stream(p, "d/big", big, 300000, 9, 0, 0);
	cr_assert_eq(wpool_finish(p), 0);
	cr_assert_eq(wpool_finish(p), 0, "finish is idempotent");
	cr_expect_eq(wpool_corrupt(p, NULL, 0), 0);
	wpool_warnings(p, count_warn, NULL);
	cr_expect_eq(nwarn, 0);
	wpool_free(p);
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "d/f%03zu", i);
		expect_file(name, i * 97, (unsigned)i, i % 2 ? 0640 : 0600);
	}
	expect_file("d/big", big, 9, 0644);
}

Test(wpool, failures_are_counted_and_named_in_the_callers_thread)
{
	struct wpool *p;

	support_write_file("taken", "old", 3);
	nwarn = 0;
	cr_assert_eq(wpool_new(2, FLAGS, HASH_BLAKE3, 1u << 20, &p), ERR_OK);
	put_whole(p, "taken", 10, 1, 0644);          /* NO_OVERWRITE */
	put_whole(p, "../escape", 10, 1, 0644);      /* SECURE_NODOTDOT */
	put_whole(p, "fine", 10, 1, 0644);
	cr_assert_eq(wpool_finish(p), 2);
	cr_expect_eq(nwarn, 0, "no warning before it is asked for");
	wpool_warnings(p, count_warn, NULL);
	cr_expect_eq(nwarn, 2);
	cr_expect(strstr(lastwarn, "cannot restore '") != NULL, "%s",
	    lastwarn);
	wpool_warnings(p, count_warn, NULL);
	cr_expect_eq(nwarn, 2, "each warning is delivered once");
	wpool_free(p);
	expect_file("fine", 10, 1, 0644);
	{
		size_t len;
		uint8_t *b = support_read_file("taken", &len);

		cr_expect(len == 3 && memcmp(b, "old", 3) == 0,
		    "an existing file is not overwritten");
		free(b);
	}
	cr_expect_eq(access("../escape", F_OK), -1);
}

Test(wpool, an_unended_job_does_not_hang_finish, .timeout = 20)
{
	struct wpool *p;
	struct wjob *j;
	uint8_t h[32] = { 0 };

	cr_assert_eq(wpool_new(2, FLAGS, HASH_BLAKE3, 1u << 20, &p), ERR_OK);
	cr_assert_eq(wpool_begin(p, entry("cut", 100, 0644), h, &j), ERR_OK);
	{
		uint8_t *b = pattern(40, 2);

		cr_assert_eq(wpool_add(p, j, pool_copy(p, b, 40), 40, 0),
		    ERR_OK);
		free(b);
	}
	/* the restore failed here: finish comes before wpool_end */
	wpool_finish(p);
	wpool_end(p, j, 0, 1);
	cr_expect_eq(wpool_corrupt(p, NULL, 0), 0,
	    "a dropped file is not a corrupt one");
	wpool_free(p);
	cr_expect_eq(access("cut", F_OK), -1, "the cut file was left");
	cr_assert_eq(wpool_new(1, FLAGS, HASH_BLAKE3, 1u << 20, &p), ERR_OK);
	wpool_finish(p);
	cr_assert_eq(wpool_begin(p, entry("late", 1, 0644), h, &j), ERR_FAIL,
	    "a finished pool takes no more jobs");
	wpool_free(p);
}

/* A small file whose content does not match is never written, and
 * nothing after it is; the first one is named. */
Test(wpool, a_bad_whole_file_is_not_written_nor_anything_after_it)
{
	struct wpool *p;
	char path[64];
	int i;

	cr_assert_eq(wpool_new(3, FLAGS, HASH_BLAKE3, 1u << 20, &p), ERR_OK);
	put_whole(p, "before", 500, 1, 0644);
	put_whole_h(p, "bad", 500, 2, 0644, 1);
	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "after%d", i);
		put_whole(p, path, 500, 3, 0644);
	}
	put_stream(p, "after-big", 3u << 20, 65536, 4, 0, 0);
	cr_assert_eq(wpool_finish(p), 0, "a bad file is not a write failure");
	cr_assert_eq(wpool_corrupt(p, path, sizeof(path)), 1);
	cr_expect_str_eq(path, "bad");
	wpool_free(p);
	expect_file("before", 500, 1, 0644);
	cr_expect_eq(access("bad", F_OK), -1);
	cr_expect_eq(access("after0", F_OK), -1);
	cr_expect_eq(access("after19", F_OK), -1);
	cr_expect_eq(access("after-big", F_OK), -1);
}

/* A streamed file found bad at its end is removed; the queue (smaller
 * than the file) does not jam; an aborted one is removed too. */
Test(wpool, a_bad_streamed_file_is_removed, .timeout = 30)
{
	struct wpool *p;
	char path[64];

	cr_assert_eq(wpool_new(2, FLAGS, HASH_BLAKE3, 256u << 10, &p), ERR_OK);
	put_stream(p, "dropped", 2u << 20, 100000, 7, 0, 1);
	put_whole(p, "ok", 10, 1, 0644);
	put_stream(p, "big-bad", 3u << 20, 100000, 8, 1, 0);
	put_stream(p, "later", 1u << 20, 100000, 9, 0, 0);
	wpool_finish(p);
	cr_assert_eq(wpool_corrupt(p, path, sizeof(path)), 1);
	cr_expect_str_eq(path, "big-bad");
	wpool_free(p);
	cr_expect_eq(access("dropped", F_OK), -1);
	expect_file("ok", 10, 1, 0644);
	cr_expect_eq(access("big-bad", F_OK), -1);
	cr_expect_eq(access("later", F_OK), -1);
}

/* No writers: a verification.  Files stream through a queue smaller than
 * they are and are only checked; nothing is written. */
Test(wpool, without_writers_it_only_checks, .timeout = 30)
{
	struct wpool *p;
	char path[64];

	cr_assert_eq(wpool_new(0, 0, HASH_BLAKE3, 64u << 10, &p), ERR_OK);
	put_whole(p, "a", 1000, 1, 0644);
	put_stream(p, "b", 2u << 20, 50000, 2, 0, 0);
	put_whole_h(p, "c", 1000, 3, 0644, 1);
	put_stream(p, "d", 1u << 20, 50000, 4, 0, 0);
	cr_assert_eq(wpool_finish(p), 0);
	cr_assert_eq(wpool_corrupt(p, path, sizeof(path)), 1);
	cr_expect_str_eq(path, "c");
	wpool_free(p);
	cr_expect_eq(support_count_entries("."), 0, "a check wrote files");
}

Test(wpool, a_segment_larger_than_the_queue_still_goes_through,
    .timeout = 20)
{
	struct wpool *p;

	cr_assert_eq(wpool_new(1, FLAGS, HASH_BLAKE3, 4096, &p), ERR_OK);
	put_whole(p, "a", 3000, 3, 0600);
	put_whole(p, "b", 100000, 4, 0600);     /* > the whole queue */
	put_whole(p, "c", 3000, 5, 0600);
	cr_assert_eq(wpool_finish(p), 0);
	wpool_free(p);
	expect_file("a", 3000, 3, 0600);
	expect_file("b", 100000, 4, 0600);
	expect_file("c", 3000, 5, 0600);
}

/* A streamed file whose segments are each larger than the queue: each
 * waits until the queue holds nothing but the file itself. */
Test(wpool, segments_larger_than_the_queue_stream_through, .timeout = 20)
{
	struct wpool *p;

	cr_assert_eq(wpool_new(1, FLAGS, HASH_BLAKE3, 64u << 10, &p), ERR_OK);
	put_whole(p, "a", 3000, 3, 0600);
	put_stream(p, "big", (1u << 20) + 5, 300000, 4, 0, 0);
	put_whole(p, "c", 3000, 5, 0600);
	cr_assert_eq(wpool_finish(p), 0);
	wpool_free(p);
	expect_file("a", 3000, 3, 0600);
	expect_file("big", (1u << 20) + 5, 4, 0644);
	expect_file("c", 3000, 5, 0600);
}

/* The caller's side of the test below: tiny and empty files, handed over
 * one by one (no Criterion assertions off the test's thread). */
struct filler {
	struct wpool *p;
	int n;                      /* files handed over so far */
	int failed;
};

static void *
fill(void *arg)
{
	struct filler *f = arg;
	uint8_t h[32], *b;
	char name[32];
	size_t len;
	int i;

	for (i = 0; i < 1000; i++) {
		len = i % 2 ? 20 : 0;
		snprintf(name, sizeof(name), "q/f%04d", i);
		b = wpool_alloc(f->p, len);
		if (b == NULL) {
			f->failed = 1;
			break;
		}
		memset(b, 'x', len);
		hash_buf(HASH_BLAKE3, b, len, h);
		if (wpool_put(f->p, entry(name, (int64_t)len, 0644), h, b,
		    len) != ERR_OK) {
			f->failed = 1;
			break;
		}
		__atomic_store_n(&f->n, i + 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

/*
 * Files of 20 or 0 bytes wait behind a file their writer is busy with.
 * Each holds a buffer of 4 KiB (or none) and its entry: with a 64 KiB
 * queue, the caller must stop after a dozen of them, not after 64 KiB of
 * content (thousands), which let a restore of millions of small files
 * hold gigabytes.
 */
Test(wpool, the_queue_counts_what_a_file_holds_not_its_content,
    .timeout = 30)
{
	struct wpool *p;
	struct filler f = { NULL, 0, 0 };
	pthread_t t;
	struct wjob *j;
	uint8_t h[32], *b = pattern(100, 1);
	int n, last = -1, still = 0;

	cr_assert_eq(mkdir("q", 0755), 0);
	cr_assert_eq(wpool_new(1, FLAGS, HASH_BLAKE3, 64u << 10, &p), ERR_OK);
	hash_of(b, 100, h);
	/* the only writer takes this file and waits for its end */
	cr_assert_eq(wpool_begin(p, entry("held", 100, 0644), h, &j), ERR_OK);
	cr_assert_eq(wpool_add(p, j, pool_copy(p, b, 100), 100, 0), ERR_OK);
	f.p = p;
	cr_assert_eq(pthread_create(&t, NULL, fill, &f), 0);
	/* until the caller has stood still for 300 ms, or is done */
	while (still < 30) {
		usleep(10000);
		n = __atomic_load_n(&f.n, __ATOMIC_SEQ_CST);
		still = n == last ? still + 1 : 0;
		last = n;
		if (n == 1000)
			break;
	}
	cr_expect(last >= 1 && last <= 16, "%d small files waited in a "
	    "64 KiB queue (at least 4 KiB each)", last);
	wpool_end(p, j, 100, 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_expect_eq(f.failed, 0);
	cr_expect_eq(f.n, 1000);
	cr_assert_eq(wpool_finish(p), 0);
	wpool_free(p);
	expect_file("held", 100, 1, 0644);
	cr_expect_eq(support_count_entries("q"), 1000);
	free(b);
}

static char longwarn[1 << 17];

static void
long_warn(void *arg, const char *msg)
{
	(void)arg;
	snprintf(longwarn, sizeof(longwarn), "%s", msg);
}

/* A path longer than PATH_MAX cannot be looked at: the writer says so
 * (it does not exist, so "exists, not overwritten" would be false), and
 * the warning names the whole path and ends with the reason. */
Test(wpool, a_path_too_long_is_refused_with_the_real_reason)
{
	struct wpool *p;
	char *path, *want;
	size_t n = 0, k;

	path = malloc(PATH_MAX + 400);
	cr_assert_not_null(path);
	while (n < PATH_MAX + 100) {
		for (k = 0; k < 200; k++)
			path[n++] = 'a';
		path[n++] = '/';
	}
	path[n++] = 'f';
	path[n] = '\0';
	cr_assert_eq(wpool_new(1, FLAGS, HASH_BLAKE3, 1u << 20, &p), ERR_OK);
	put_whole(p, path, 10, 1, 0644);
	cr_assert_eq(wpool_finish(p), 1);
	wpool_warnings(p, long_warn, NULL);
	wpool_free(p);
	cr_assert(asprintf(&want, "cannot restore '%s': %s", path,
	    strerror(ENAMETOOLONG)) > 0);
	cr_expect_str_eq(longwarn, want);
	free(want);
	free(path);
}

/* Two entries of one path (a forged archive): the first is written, the
 * second refused by name, whatever the number of writers. */
Test(wpool, a_duplicate_path_is_refused_not_silently_skipped)
{
	struct wpool *p;
	char name[32];
	int i;

	nwarn = 0;
	cr_assert_eq(wpool_new(4, FLAGS, HASH_BLAKE3, 1u << 20, &p), ERR_OK);
	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "dup%02d", i);
		put_whole(p, name, 1000, 1, 0644);
		put_whole(p, name, 2000, 2, 0600);
	}
	cr_assert_eq(wpool_finish(p), 50);
	wpool_warnings(p, count_warn, NULL);
	cr_expect_eq(nwarn, 50);
	cr_expect(strstr(lastwarn, "exists, not overwritten") != NULL, "%s",
	    lastwarn);
	wpool_free(p);
	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "dup%02d", i);
		expect_file(name, 1000, 1, 0644);
	}
}

/* Buffers are recycled by size class, larger ones are not, and the idle
 * ones stay within the queue's size. */
Test(wpool, buffers_are_recycled_within_bounds)
{
	struct wpool *p;
	uint8_t *a, *b, *c, *big, *v[8];
	int i;

	cr_assert_eq(wpool_new(1, FLAGS, HASH_BLAKE3, 1u << 20, &p), ERR_OK);
	a = wpool_alloc(p, 5000);
	cr_assert_not_null(a);
	memset(a, 1, 5000);
	wpool_unalloc(p, a, 5000);
	b = wpool_alloc(p, 8192);        /* same class: 8 KiB */
	cr_expect_eq(b, a, "a buffer of the class is reused");
	memset(b, 2, 8192);              /* its whole capacity is usable */
	c = wpool_alloc(p, 8193);        /* next class */
	cr_expect_neq(c, a);
	memset(c, 3, 8193);
	wpool_unalloc(p, b, 8192);
	wpool_unalloc(p, c, 8193);
	big = wpool_alloc(p, (16u << 20) + 1);  /* beyond the classes */
	cr_assert_not_null(big);
	big[(16u << 20)] = 4;
	wpool_unalloc(p, big, (16u << 20) + 1);
	/* eight idle 256 KiB buffers: those beyond the 1 MiB queue are
	 * freed at once (under ASan, any misuse of them is caught) */
	for (i = 0; i < 8; i++)
		cr_assert_not_null(v[i] = wpool_alloc(p, 200000));
	for (i = 0; i < 8; i++)
		wpool_unalloc(p, v[i], 200000);
	wpool_free(p);
}

/*
 * libarchive reads the umask in every header by setting it to 0 and back.
 * The writers must keep that to themselves: a directory the caller creates
 * meanwhile (as restore does for every directory entry, bracketed by
 * wpool_create_lock) must still get the umask, and the writers' files their
 * archived modes.
 */
static void
umask_kept(void)
{
	struct wpool *p;
	struct stat sb;
	char name[64];
	mode_t old = umask(022);
	size_t i, bad = 0, n = 3000;

	cr_assert_eq(mkdir("d", 0755), 0);
	cr_assert_eq(mkdir("m", 0755), 0);
	cr_assert_eq(wpool_new(3, FLAGS, HASH_BLAKE3, 1u << 20, &p), ERR_OK);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "d/f%04zu", i);
		put_whole(p, name, 10, (unsigned)i, 0640);
		snprintf(name, sizeof(name), "m/%04zu", i);
		wpool_create_lock(p);
		cr_assert_eq(mkdir(name, 0777), 0);
		wpool_create_unlock(p);
		cr_assert_eq(stat(name, &sb), 0);
		bad += (sb.st_mode & 07777) != 0755;
	}
	cr_assert_eq(wpool_finish(p), 0);
	wpool_free(p);
	cr_expect_eq(bad, 0, "%zu of %zu directories made beside the writers "
	    "missed the umask", bad, n);
	cr_expect_eq(umask(old), 022, "the caller's umask changed");
	for (i = 0; i < n; i += 97) {
		snprintf(name, sizeof(name), "d/f%04zu", i);
		expect_file(name, 10, (unsigned)i, 0640);
	}
}

Test(wpool, writers_keep_the_umask_to_themselves)
{
	umask_kept();
}

/* Where unshare(2) is refused (as under Docker's default seccomp profile),
 * the lock keeps the probes apart instead.  Criterion runs each test in a
 * process of its own, so the filter stays here. */
Test(wpool, umask_kept_without_unshare)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
	cr_assert_eq(unshare(CLONE_FS), -1, "the filter lets unshare through");
	umask_kept();
}
