/*
 * Unit tests for core/findex.c (the file index, docs/STATE.md), with
 * BKP_STATE_DIR pointing into a scratch directory.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "crypto.h"
#include "err.h"
#include "findex.h"
#include "hash.h"
#include "manifest.h"
#include "support.h"
#include "util.h"

#define REPO_HEX "00112233445566778899aabbccddeeff"
#define NAME "home"
#define NARCH 3
#define MAXSEG 3
#define MAXCHUNK 3

static uint8_t repo[16];
static char ixpath[4096];

static void
setup(void)
{
	cr_assert_eq(crypto_init(), 0);
	support_tmpdir("findex");
	cr_assert_eq(setenv("BKP_STATE_DIR", support_path("state"), 1), 0);
	cr_assert_eq(util_unhex(REPO_HEX, repo, sizeof(repo)), 0);
	cr_assert_eq(findex_path(REPO_HEX, NAME, ixpath, sizeof(ixpath)),
	    ERR_OK, "%s", err_get());
}

static void
teardown(void)
{
	support_cleanup();
}

TestSuite(findex, .init = setup, .fini = teardown);

static void
make_head(struct findex_head *h)
{
	size_t i;

	memset(h, 0, sizeof(*h));
	memcpy(h->repo, repo, 16);
	memset(h->archive, 0xa5, 16);
	h->created_us = 1700000000123456;
	h->full_us = 1690000000000001;
	h->chain = 7;
	h->hash_alg = HASH_BLAKE3;
	for (i = 0; i < 32; i++)
		h->key[i] = (uint8_t)(0x40 + i);
	h->narch = NARCH;
	for (i = 0; i < NARCH; i++)
		memset(h->arch[i], (int)(0x10 + i), 16);
}

/* A writer of ixpath with make_head()'s head. */
static struct findex_writer *
new_writer(void)
{
	struct findex_writer *w;
	struct findex_head h;

	make_head(&h);
	cr_assert_eq(findex_writer_new(ixpath, repo, NAME, &h, &w), ERR_OK,
	    "%s", err_get());
	return w;
}

/* One generated record and the storage it points into. */
struct genrec {
	struct findex_rec r;
	char path[64];
	struct findex_seg seg[MAXSEG];
	struct findex_chunk chunk[MAXCHUNK];
};

/* Record i of a generated index: "dNNNN" every 10th, its files after it,
 * all fields derived from i (some negative times, every type). */
static void
gen(uint64_t i, struct genrec *g)
{
	struct findex_rec *r = &g->r;
	size_t k;

	memset(g, 0, sizeof(*g));
	if (i % 10 == 0)
		snprintf(g->path, sizeof(g->path), "d%04u", (unsigned)(i / 10));
	else
		snprintf(g->path, sizeof(g->path), "d%04u/f%u\xc3\xa9",
		    (unsigned)(i / 10), (unsigned)(i % 10));
	r->path = g->path;
	r->pathlen = strlen(g->path);
	r->type = MF_FILE + (int)(i % 5);
	r->mode = (uint32_t)(0100644 + i);
	r->uid = i * 7;
	r->gid = UINT64_MAX - i;
	r->dev = i << 40;
	r->ino = i * 1000003;
	r->size = i * i * 13;
	r->data = r->size / 3;
	r->mtime_s = (int64_t)i - 1000;
	r->mtime_ns = (uint32_t)((i * 7919) % 1000000000);
	r->ctime_s = INT64_MIN + (int64_t)i;
	r->ctime_ns = 999999999 - (uint32_t)i;
	for (k = 0; k < 16; k++)
		r->hdrhash[k] = (uint8_t)(i + k);
	for (k = 0; k < 32; k++)
		r->hash[k] = (uint8_t)(i * 3 + k);
	r->nseg = 1 + i % MAXSEG;
	for (k = 0; k < r->nseg; k++) {
		g->seg[k].src = (uint32_t)((i + k) % NARCH);
		g->seg[k].off = i * 4096 + k;
		g->seg[k].len = 512 * (k + 1);
	}
	r->seg = g->seg;
	r->nchunk = i % (MAXCHUNK + 1);
	for (k = 0; k < r->nchunk; k++) {
		memset(g->chunk[k].id, (int)(i + k), FINDEX_ID_LEN);
		g->chunk[k].src = (uint32_t)(k % NARCH);
		g->chunk[k].off = i * 65536 + k;
		g->chunk[k].len = (uint32_t)(i + k);
	}
	r->chunk = r->nchunk > 0 ? g->chunk : NULL;
}

static void
expect_rec_eq(const struct findex_rec *a, const struct findex_rec *b,
    uint64_t i)
{
	size_t k;

	cr_assert_eq(a->pathlen, b->pathlen, "record %llu",
	    (unsigned long long)i);
	cr_assert_eq(memcmp(a->path, b->path, a->pathlen), 0);
	cr_assert_eq(a->path[a->pathlen], '\0');
	cr_assert_eq(a->type, b->type);
	cr_assert_eq(a->mode, b->mode);
	cr_assert_eq(a->uid, b->uid);
	cr_assert_eq(a->gid, b->gid);
	cr_assert_eq(a->dev, b->dev);
	cr_assert_eq(a->ino, b->ino);
	cr_assert_eq(a->size, b->size);
	cr_assert_eq(a->data, b->data);
	cr_assert_eq(a->mtime_s, b->mtime_s);
	cr_assert_eq(a->mtime_ns, b->mtime_ns);
	cr_assert_eq(a->ctime_s, b->ctime_s);
	cr_assert_eq(a->ctime_ns, b->ctime_ns);
	cr_assert_eq(memcmp(a->hdrhash, b->hdrhash, 16), 0);
	cr_assert_eq(memcmp(a->hash, b->hash, 32), 0);
	cr_assert_eq(a->nseg, b->nseg);
	for (k = 0; k < a->nseg; k++) {
		cr_assert_eq(a->seg[k].src, b->seg[k].src);
		cr_assert_eq(a->seg[k].off, b->seg[k].off);
		cr_assert_eq(a->seg[k].len, b->seg[k].len);
	}
	cr_assert_eq(a->nchunk, b->nchunk);
	for (k = 0; k < a->nchunk; k++) {
		cr_assert_eq(memcmp(a->chunk[k].id, b->chunk[k].id,
		    FINDEX_ID_LEN), 0);
		cr_assert_eq(a->chunk[k].src, b->chunk[k].src);
		cr_assert_eq(a->chunk[k].off, b->chunk[k].off);
		cr_assert_eq(a->chunk[k].len, b->chunk[k].len);
	}
}

/* Write n generated records to ixpath and commit. */
static void
write_index(uint64_t n)
{
	struct findex_writer *w = new_writer();
	struct genrec g;
	uint64_t i;

	for (i = 0; i < n; i++) {
		gen(i, &g);
		cr_assert_eq(findex_put(w, &g.r), ERR_OK, "%s", err_get());
	}
	cr_assert_eq(findex_writer_commit(w), ERR_OK, "%s", err_get());
}

static int
open_status(void)
{
	const struct findex_head *h;
	struct findex *ix;
	int rc;

	rc = findex_open(ixpath, repo, NAME, &ix, &h);
	if (rc == ERR_OK) {
		cr_expect_not_null(h);
		findex_close(ix);
	} else {
		cr_expect_null(ix);
		cr_expect_null(h);
	}
	return rc;
}

Test(findex, round_trip)
{
	const struct findex_head *h;
	struct findex_head want;
	struct findex_rec r;
	struct findex *ix;
	struct genrec g;
	uint64_t i, n = 3000;

	write_index(n);
	make_head(&want);
	cr_assert_eq(findex_open(ixpath, repo, NAME, &ix, &h), ERR_OK, "%s",
	    err_get());
	cr_expect_eq(memcmp(h->repo, want.repo, 16), 0);
	cr_expect_eq(memcmp(h->archive, want.archive, 16), 0);
	cr_expect_eq(h->created_us, want.created_us);
	cr_expect_eq(h->full_us, want.full_us);
	cr_expect_eq(h->chain, want.chain);
	cr_expect_eq(h->hash_alg, want.hash_alg);
	cr_expect_eq(memcmp(h->key, want.key, 32), 0);
	cr_expect_eq(h->narch, want.narch);
	cr_expect_eq(memcmp(h->arch, want.arch, NARCH * 16), 0);
	for (i = 0; i < n; i++) {
		cr_assert_eq(findex_next(ix, &r), 1, "record %llu: %s",
		    (unsigned long long)i, err_get());
		gen(i, &g);
		expect_rec_eq(&r, &g.r, i);
	}
	cr_expect_eq(findex_next(ix, &r), 0);
	cr_expect_eq(findex_next(ix, &r), 0);
	findex_close(ix);
}

Test(findex, empty_index)
{
	const struct findex_head *h;
	struct findex_rec r;
	struct findex *ix;

	write_index(0);
	cr_assert_eq(findex_open(ixpath, repo, NAME, &ix, &h), ERR_OK, "%s",
	    err_get());
	cr_expect_eq(findex_next(ix, &r), 0);
	findex_close(ix);
}

/* The largest record the bounds allow, with the longest path. */
Test(findex, largest_record)
{
	static struct findex_seg seg[FINDEX_MAX_SEG];
	static struct findex_chunk chunk[FINDEX_MAX_CHUNKS];
	const struct findex_head *hp;
	struct findex_writer *w;
	struct findex_rec r, got;
	struct findex *ix;
	char *path;
	size_t k;

	path = malloc(FINDEX_MAX_PATH + 1);
	cr_assert_not_null(path);
	memset(path, 'x', FINDEX_MAX_PATH);
	path[FINDEX_MAX_PATH] = '\0';
	memset(&r, 0, sizeof(r));
	r.path = path;
	r.pathlen = FINDEX_MAX_PATH;
	r.type = MF_FILE;
	for (k = 0; k < FINDEX_MAX_SEG; k++)
		seg[k] = (struct findex_seg){ (uint32_t)(k % NARCH), k, 1 };
	for (k = 0; k < FINDEX_MAX_CHUNKS; k++) {
		memset(&chunk[k], 0, sizeof(chunk[k]));
		memcpy(chunk[k].id, &k, sizeof(k));
		chunk[k].src = NARCH - 1;
		chunk[k].off = UINT64_MAX - k;
		chunk[k].len = (uint32_t)k;
	}
	r.seg = seg;
	r.nseg = FINDEX_MAX_SEG;
	r.chunk = chunk;
	r.nchunk = FINDEX_MAX_CHUNKS;
	w = new_writer();
	cr_assert_eq(findex_put(w, &r), ERR_OK, "%s", err_get());
	cr_assert_eq(findex_writer_commit(w), ERR_OK, "%s", err_get());
	cr_assert_eq(findex_open(ixpath, repo, NAME, &ix, &hp), ERR_OK, "%s",
	    err_get());
	cr_assert_eq(findex_next(ix, &got), 1, "%s", err_get());
	expect_rec_eq(&got, &r, 0);
	cr_expect_eq(findex_next(ix, &got), 0);
	findex_close(ix);
	free(path);
}

static void
expect_order(const char *a, const char *b)
{
	cr_expect_lt(findex_pathcmp(a, strlen(a), b, strlen(b)), 0,
	    "'%s' < '%s'", a, b);
	cr_expect_gt(findex_pathcmp(b, strlen(b), a, strlen(a)), 0,
	    "'%s' > '%s'", b, a);
}

Test(findex, pathcmp_order)
{
	expect_order("a", "a/x");
	expect_order("a-b", "a/x");
	expect_order("a-b", "b");
	expect_order("a", "a-b");
	expect_order("a/x-1", "a/x/y");
	expect_order("a\x01", "a/z");
	expect_order("a\x01", "a/");
	expect_order("a", "a\xff");
	expect_order("a\x7f", "a\x80");
	expect_order("ab", "b");
	cr_expect_eq(findex_pathcmp("a/x", 3, "a/x", 3), 0);
	/* only the lengths given count */
	cr_expect_eq(findex_pathcmp("abc", 2, "abd", 2), 0);
}

static void
put_path(struct findex_writer *w, const char *p, int want)
{
	struct genrec g;

	gen(1, &g);
	g.r.path = p;
	g.r.pathlen = strlen(p);
	cr_expect_eq(findex_put(w, &g.r), want, "put '%s'", p);
}

Test(findex, out_of_order_refused)
{
	struct findex_writer *w = new_writer();

	put_path(w, "a", ERR_OK);
	put_path(w, "a-b", ERR_OK);
	put_path(w, "a/x", ERR_OK);
	put_path(w, "a/w", ERR_FAIL);
	cr_expect_not_null(strstr(err_get(), "out of order"), "%s",
	    err_get());
	/* the writer is spoiled: nothing is committed */
	put_path(w, "b", ERR_FAIL);
	cr_expect_eq(findex_writer_commit(w), ERR_FAIL);
	cr_expect_eq(access(ixpath, F_OK), -1);
	cr_expect_eq(support_count_dir(support_path("state/index/" REPO_HEX)),
	    0);
	/* nor is the same path twice */
	w = new_writer();
	put_path(w, "a", ERR_OK);
	put_path(w, "a", ERR_FAIL);
	findex_writer_abort(w);
}

/* Records the writer refuses as bugs. */
Test(findex, bad_records_refused)
{
	struct findex_writer *w;
	struct genrec g;
	int i;

	for (i = 0; i < 6; i++) {
		w = new_writer();
		gen(12, &g);
		switch (i) {
		case 0: g.r.seg = g.seg; g.seg[0].src = NARCH; break;
		case 1: g.r.nseg = 0; break;
		case 2: g.r.mtime_ns = 1000000000; break;
		case 3: g.r.type = 0; break;
		case 4: g.r.pathlen = 0; break;
		case 5: g.seg[0].off = UINT64_MAX; break;
		}
		cr_expect_eq(findex_put(w, &g.r), ERR_FAIL, "case %d", i);
		findex_writer_abort(w);
	}
	cr_expect_eq(support_count_dir(support_path("state/index/" REPO_HEX)),
	    0);
}

Test(findex, bad_head_refused)
{
	struct findex_writer *w;
	struct findex_head h;

	make_head(&h);
	h.repo[0] ^= 1;
	cr_expect_eq(findex_writer_new(ixpath, repo, NAME, &h, &w), ERR_FAIL);
	make_head(&h);
	h.narch = 0;
	cr_expect_eq(findex_writer_new(ixpath, repo, NAME, &h, &w), ERR_FAIL);
	h.narch = FINDEX_MAX_ARCH + 1;
	cr_expect_eq(findex_writer_new(ixpath, repo, NAME, &h, &w), ERR_FAIL);
	make_head(&h);
	h.hash_alg = 3;
	cr_expect_eq(findex_writer_new(ixpath, repo, NAME, &h, &w), ERR_FAIL);
	cr_expect_eq(support_count_dir(support_path("state/index/" REPO_HEX)),
	    0);
}

/* Replace the index with b[0..len): a new file, since rewriting one in
 * place makes ext4 write it out on close (auto_da_alloc), which is slow. */
static void
put_image(const uint8_t *b, size_t len)
{
	cr_assert(unlink(ixpath) == 0 || errno == ENOENT);
	support_write_file(ixpath, b, len);
}

/* Write byte v at off of the index, in place. */
static void
poke(size_t off, uint8_t v)
{
	int fd = open(ixpath, O_WRONLY);

	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, &v, 1, (off_t)off), 1);
	cr_assert_eq(close(fd), 0);
}

static uint8_t *
read_index(size_t *len)
{
	uint8_t *b = support_read_file(ixpath, len);

	cr_assert_not_null(b);
	return b;
}

Test(findex, truncation_refused)
{
	uint8_t *b;
	size_t len, off;

	write_index(500);
	b = read_index(&len);
	cr_assert_gt(len, 997 * 20);
	for (off = 0; off < len; off += 997) {
		put_image(b, off);
		cr_assert_eq(open_status(), ERR_CORRUPT, "cut at %zu", off);
		cr_assert_not_null(strstr(err_get(), "truncated"),
		    "cut at %zu: %s", off, err_get());
	}
	for (off = len - 45; off < len; off++) {
		put_image(b, off);
		cr_assert_eq(open_status(), ERR_CORRUPT, "cut at %zu", off);
	}
	put_image(b, len);
	cr_expect_eq(open_status(), ERR_OK, "%s", err_get());
	free(b);
}

Test(findex, flipped_byte_refused)
{
	uint8_t *b;
	size_t len, off;
	int bit;

	/* every byte of the header, the first record and the trailer, and a
	 * sample of the rest */
	write_index(150);
	b = read_index(&len);
	for (off = 0; off < len; off += off < 300 || off > len - 100 ? 1 : 53) {
		bit = 1 << (off % 8);
		poke(off, b[off] ^ (uint8_t)bit);
		cr_assert_eq(open_status(), ERR_CORRUPT, "flip at %zu", off);
		poke(off, b[off]);
	}
	cr_expect_eq(open_status(), ERR_OK, "%s", err_get());
	free(b);
}

Test(findex, trailing_data_refused)
{
	uint8_t *b;
	size_t len;

	write_index(10);
	b = read_index(&len);
	b = realloc(b, len + 1);
	cr_assert_not_null(b);
	b[len] = 0;
	put_image(b, len + 1);
	cr_expect_eq(open_status(), ERR_CORRUPT);
	cr_expect_not_null(strstr(err_get(), "after the trailer"), "%s",
	    err_get());
	free(b);
}

Test(findex, other_repository_refused)
{
	const struct findex_head *h;
	struct findex *ix;
	uint8_t other[16];

	write_index(20);
	memcpy(other, repo, 16);
	other[15] ^= 0x80;
	cr_expect_eq(findex_open(ixpath, other, NAME, &ix, &h), ERR_CORRUPT);
	cr_expect_null(ix);
	cr_expect_not_null(strstr(err_get(), "another repository"), "%s",
	    err_get());
	cr_expect_not_null(strstr(err_get(), ixpath), "%s", err_get());
}

Test(findex, other_dataset_refused)
{
	const struct findex_head *h;
	struct findex *ix;

	write_index(20);
	cr_expect_eq(findex_open(ixpath, repo, "homes", &ix, &h),
	    ERR_CORRUPT);
	cr_expect_null(ix);
	cr_expect_not_null(strstr(err_get(), "another dataset"), "%s",
	    err_get());
}

Test(findex, missing_is_notfound)
{
	cr_expect_eq(open_status(), ERR_NOTFOUND);
	write_index(1);
	cr_expect_eq(findex_remove(ixpath), ERR_OK);
	cr_expect_eq(open_status(), ERR_NOTFOUND);
	cr_expect_eq(findex_remove(ixpath), ERR_OK, "ENOENT is fine");
}

Test(findex, modes)
{
	struct stat sb;

	write_index(5);
	cr_assert_eq(stat(ixpath, &sb), 0);
	cr_expect_eq(sb.st_mode & 07777, 0600);
	cr_assert_eq(stat(support_path("state/index/" REPO_HEX), &sb), 0);
	cr_expect_eq(sb.st_mode & 07777, 0700);
	cr_assert_eq(stat(support_path("state/index"), &sb), 0);
	cr_expect_eq(sb.st_mode & 07777, 0700);
	/* and nothing else beside it */
	cr_expect_eq(support_count_dir(support_path("state/index/" REPO_HEX)),
	    1);
}

Test(findex, abort_leaves_nothing)
{
	struct findex_writer *w = new_writer();
	struct genrec g;

	gen(1, &g);
	cr_assert_eq(findex_put(w, &g.r), ERR_OK);
	cr_expect_eq(support_count_dir(support_path("state/index/" REPO_HEX)),
	    1, "the temporary");
	findex_writer_abort(w);
	cr_expect_eq(support_count_dir(support_path("state/index/" REPO_HEX)),
	    0);
	findex_writer_abort(NULL);
}

Test(findex, commit_replaces)
{
	const struct findex_head *h;
	struct findex_rec r;
	struct findex *ix;
	uint64_t n = 0;

	write_index(50);
	write_index(7);
	cr_assert_eq(findex_open(ixpath, repo, NAME, &ix, &h), ERR_OK);
	while (findex_next(ix, &r) == 1)
		n++;
	findex_close(ix);
	cr_expect_eq(n, 7);
	cr_expect_eq(support_count_dir(support_path("state/index/" REPO_HEX)),
	    1);
}

Test(findex, path_follows_spec)
{
	char want[4096], buf[4096], hex[33];
	uint8_t nh[16];

	crypto_generichash(nh, sizeof(nh), (const uint8_t *)NAME,
	    strlen(NAME), NULL, 0);
	util_hex(nh, sizeof(nh), hex);
	snprintf(want, sizeof(want), "%s/index/%s/%s", support_path("state"),
	    REPO_HEX, hex);
	cr_expect_str_eq(ixpath, want);
	cr_expect_eq(findex_path("../../etc", NAME, buf, sizeof(buf)),
	    ERR_FAIL);
	cr_expect_eq(findex_path("00112233445566778899AABBCCDDEEFF", NAME,
	    buf, sizeof(buf)), ERR_FAIL);
	cr_expect_eq(findex_path(REPO_HEX, NAME, buf, 20), ERR_FAIL);
}

/* A temporary name beside the index, as a writer makes it. */
static const char *
tmp_name(const char *hex16)
{
	static char p[4200];

	snprintf(p, sizeof(p), "%s.tmp-%s", ixpath, hex16);
	return p;
}

static void
make_old_file(const char *p)
{
	struct timeval tv[2] = { { 1000000000, 0 }, { 1000000000, 0 } };

	support_write_file(p, "x", 1);
	cr_assert_eq(utimes(p, tv), 0);
}

/* A killed writer's temporary (old, unlocked) goes; a fresh one, a
 * locked one and other names stay. */
Test(findex, stale_temporaries_removed)
{
	struct findex_writer *w;
	char dead[4200], fresh[4200], held[4200], other[4200];
	int fd;

	cr_assert_eq(util_mkdirs(support_path("state/index/" REPO_HEX), 0700),
	    0);
	snprintf(dead, sizeof(dead), "%s", tmp_name("0123456789abcdef"));
	snprintf(fresh, sizeof(fresh), "%s", tmp_name("1123456789abcdef"));
	snprintf(held, sizeof(held), "%s", tmp_name("2123456789abcdef"));
	snprintf(other, sizeof(other), "%s", tmp_name("3123"));
	make_old_file(dead);
	support_write_file(fresh, "x", 1);
	make_old_file(held);
	make_old_file(other);
	fd = open(held, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(flock(fd, LOCK_EX), 0);
	w = new_writer();
	cr_expect_eq(access(dead, F_OK), -1, "the dead writer's temporary");
	cr_expect_eq(access(fresh, F_OK), 0);
	cr_expect_eq(access(held, F_OK), 0);
	cr_expect_eq(access(other, F_OK), 0);
	cr_assert_eq(findex_writer_commit(w), ERR_OK);
	close(fd);
}

/* The file, byte for byte as docs/STATE.md specifies it, built here
 * independently of the writer. */
static uint8_t *
le(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint8_t *
bytes(uint8_t *p, const void *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

Test(findex, layout_follows_spec)
{
	struct findex_head h;
	struct genrec g;
	uint8_t want[4096], *p = want, *body, nh[16], *got;
	size_t k, len;

	write_index(4);
	make_head(&h);
	crypto_generichash(nh, sizeof(nh), (const uint8_t *)NAME,
	    strlen(NAME), NULL, 0);
	p = bytes(p, "BKPIDX1\n", 8);
	p = le(p, 1, 4);
	p = bytes(p, repo, 16);
	p = bytes(p, nh, 16);
	p = bytes(p, h.archive, 16);
	p = le(p, (uint64_t)h.created_us, 8);
	p = le(p, (uint64_t)h.full_us, 8);
	p = le(p, h.chain, 4);
	p = le(p, (uint64_t)h.hash_alg, 1);
	p = bytes(p, h.key, 32);
	p = le(p, NARCH, 4);
	p = bytes(p, h.arch, NARCH * 16);
	for (k = 0; k < 4; k++) {
		gen(k, &g);
		body = p + 4;
		p = le(body, g.r.pathlen, 4);
		p = bytes(p, g.r.path, g.r.pathlen);
		p = le(p, (uint64_t)g.r.type, 1);
		p = le(p, g.r.mode, 4);
		p = le(p, g.r.uid, 8);
		p = le(p, g.r.gid, 8);
		p = le(p, g.r.dev, 8);
		p = le(p, g.r.ino, 8);
		p = le(p, g.r.size, 8);
		p = le(p, g.r.data, 8);
		p = le(p, (uint64_t)g.r.mtime_s, 8);
		p = le(p, g.r.mtime_ns, 4);
		p = le(p, (uint64_t)g.r.ctime_s, 8);
		p = le(p, g.r.ctime_ns, 4);
		p = bytes(p, g.r.hdrhash, 16);
		p = bytes(p, g.r.hash, 32);
		p = le(p, g.r.nseg, 4);
		for (len = 0; len < g.r.nseg; len++) {
			p = le(p, g.seg[len].src, 4);
			p = le(p, g.seg[len].off, 8);
			p = le(p, g.seg[len].len, 8);
		}
		p = le(p, g.r.nchunk, 4);
		for (len = 0; len < g.r.nchunk; len++) {
			p = bytes(p, g.chunk[len].id, 16);
			p = le(p, g.chunk[len].src, 4);
			p = le(p, g.chunk[len].off, 8);
			p = le(p, g.chunk[len].len, 4);
		}
		le(body - 4, (uint64_t)(p - body), 4);
	}
	p = le(p, 0xffffffff, 4);
	p = le(p, 4, 8);
	hash_buf(HASH_BLAKE3, want, (size_t)(p - want), p);
	p += 32;
	got = read_index(&len);
	cr_assert_eq(len, (size_t)(p - want));
	cr_expect_eq(memcmp(got, want, len), 0);
	free(got);
}

/* Recompute the trailer's hash of an index image, as a careless or
 * hostile writer would: the reader's checks must stand without it. */
static void
reseal(uint8_t *b, size_t len)
{
	hash_buf(HASH_BLAKE3, b, len - 32, b + len - 32);
}

static void
expect_forged(const uint8_t *orig, size_t len, size_t off, uint64_t v,
    int n, const char *msg)
{
	uint8_t *b = malloc(len);

	cr_assert_not_null(b);
	memcpy(b, orig, len);
	le(b + off, v, n);
	reseal(b, len);
	put_image(b, len);
	cr_expect_eq(open_status(), ERR_CORRUPT, "offset %zu", off);
	cr_expect_not_null(strstr(err_get(), msg), "offset %zu: want '%s', "
	    "got '%s'", off, msg, err_get());
	free(b);
}

/* Offsets in the file write_index() makes (docs/STATE.md): the header is
 * 117 bytes and the archive table NARCH * 16; record 0 ("d0000") starts
 * right after. */
#define R0 (117 + NARCH * 16)
#define R0_BODY (R0 + 4)
#define R0_PATH (R0_BODY + 4)
#define R0_TYPE (R0_PATH + 5)
#define R0_MTIME_NS (R0_TYPE + 1 + 4 + 8 * 7)
#define R0_NSEG (R0_MTIME_NS + 4 + 8 + 4 + 16 + 32)

Test(findex, forged_structure_refused)
{
	uint8_t *b;
	size_t len;

	write_index(30);
	b = read_index(&len);
	expect_forged(b, len, 8, 2, 4, "unknown version");
	expect_forged(b, len, 80, 7, 1, "unknown hash algorithm");
	expect_forged(b, len, 113, 0, 4, "archive table size");
	expect_forged(b, len, R0, 3, 4, "length out of range");
	expect_forged(b, len, R0, 4 << 20 | 1, 4, "length out of range");
	expect_forged(b, len, R0_BODY, 0, 4, "path length");
	expect_forged(b, len, R0_PATH + 1, '9', 1, "out of order");
	expect_forged(b, len, R0_TYPE, 9, 1, "unknown type");
	expect_forged(b, len, R0_MTIME_NS, 1000000000, 4, "nanoseconds");
	expect_forged(b, len, R0_MTIME_NS - 16, UINT64_MAX, 8, "more data than size");
	expect_forged(b, len, R0_NSEG, 0, 4, "segment count");
	expect_forged(b, len, R0_NSEG + 4 + 20, 1, 4, "chunk count");
	expect_forged(b, len, R0_NSEG + 4, NARCH, 4, "segment out of range");
	expect_forged(b, len, len - 40, 31, 8, "record count mismatch");
	/* the original passes */
	put_image(b, len);
	cr_expect_eq(open_status(), ERR_OK, "%s", err_get());
	free(b);
}

/* Records longer than the read buffer take another path through the
 * reader: damage there is refused too. */
Test(findex, long_record_damage_refused)
{
	static struct findex_chunk chunk[20000];
	const struct findex_head *hp;
	struct findex_writer *w;
	struct findex_rec got;
	struct findex *ix;
	struct genrec g;
	uint8_t *b;
	size_t len, off, k;
	uint64_t i;

	w = new_writer();
	for (k = 0; k < 20000; k++) {
		memset(&chunk[k], (int)k, sizeof(chunk[k]));
		chunk[k].src = (uint32_t)(k % NARCH);
		chunk[k].off = k;
	}
	for (i = 0; i < 3; i++) {
		gen(i + 1, &g);
		if (i == 1) {
			g.r.chunk = chunk;
			g.r.nchunk = 20000;
		}
		cr_assert_eq(findex_put(w, &g.r), ERR_OK, "%s", err_get());
	}
	cr_assert_eq(findex_writer_commit(w), ERR_OK, "%s", err_get());
	cr_assert_eq(findex_open(ixpath, repo, NAME, &ix, &hp), ERR_OK, "%s",
	    err_get());
	for (i = 0; i < 3; i++) {
		cr_assert_eq(findex_next(ix, &got), 1, "%s", err_get());
		gen(i + 1, &g);
		if (i == 1) {
			g.r.chunk = chunk;
			g.r.nchunk = 20000;
		}
		expect_rec_eq(&got, &g.r, i);
	}
	cr_expect_eq(findex_next(ix, &got), 0);
	findex_close(ix);
	b = read_index(&len);
	cr_assert_gt(len, 600000);
	for (off = 0; off < len; off += 9973) {
		poke(off, b[off] ^ 0x20);
		cr_assert_eq(open_status(), ERR_CORRUPT, "flip at %zu", off);
		poke(off, b[off]);
	}
	cr_assert_eq(open_status(), ERR_OK, "%s", err_get());
	for (off = 0; off < len; off += 9973) {
		cr_assert_eq(truncate(ixpath, (off_t)off), 0);
		cr_assert_eq(open_status(), ERR_CORRUPT, "cut at %zu", off);
	}
	free(b);
}
