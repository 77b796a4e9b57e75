/*
 * The file index (findex.h): a backup host's comparison state for
 * incremental backups.  The file, byte for byte: docs/STATE.md.
 *
 * Both sides stream through a buffer of IX_BUF bytes and hold one record
 * at a time in buffers that only grow to the largest record seen (bounded
 * by the per-record limits), so memory never follows the record count.
 */

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "findex.h"
#include "hash.h"
#include "manifest.h"
#include "util.h"

#define IX_MAGIC "BKPIDX1\n"
#define IX_MAGIC_LEN 8
#define IX_VERSION 1
/* magic, version, repo, name hash, archive, created_us, full_us, chain,
 * hash_alg, key, narch; the archive table follows. */
#define IX_HEAD (8 + 4 + 16 + 16 + 16 + 8 + 8 + 4 + 1 + 32 + 4)
/* A record's body without its path, segments and chunks: pathlen, type,
 * mode, uid, gid, dev, ino, size, data, mtime_s, mtime_ns, ctime_s,
 * ctime_ns, hdrhash, hash, nseg, nchunk. */
#define IX_REC_FIXED (4 + 1 + 4 + 8 * 6 + 8 + 4 + 8 + 4 + 16 + 32 + 4 + 4)
#define IX_SEG 20
#define IX_CHUNK 32
#define IX_REC_MIN (IX_REC_FIXED + 1 + IX_SEG)
#define IX_REC_MAX ((size_t)4 << 20)
#define IX_END 0xffffffffu          /* the trailer's marker */
#define IX_SUM 32                   /* BLAKE3 */
#define IX_BUF ((size_t)256 << 10)
#define IX_TMP ".tmp-"
#define IX_TMP_HEX 16
#define IX_STALE_SECS 3600          /* a temporary's age before it may go */

struct findex {
	int fd;
	char *file;                     /* its path, for messages */
	uint8_t *buf;                   /* read ahead: buf[pos..end) */
	size_t pos, end;
	struct hash *hs;                /* the check pass hashes all it reads */
	size_t hpos;                    /* buf[0..hpos) is hashed */
	off_t data;                     /* where the records start */
	uint8_t *body;                  /* a record longer than buf */
	size_t bodycap;
	char *path[2];                  /* this record's path, the last one's */
	int cur;                        /* which of path[] is this record's */
	size_t lastlen;                 /* 0: no record yet */
	struct findex_seg *seg;
	size_t segcap;
	struct findex_chunk *chunk;
	size_t chunkcap;
	uint64_t count;                 /* records read */
	int done;                       /* the trailer's marker was read */
	struct findex_head *head;
};

struct findex_writer {
	struct hash hs;                 /* first: it wants 64-byte alignment */
	int fd;
	char *path, *tmp, *dir;
	uint8_t *buf;                   /* buf[0..pos) not written yet */
	size_t pos;
	size_t narch;
	char *last;                     /* the last record's path */
	size_t lastlen;                 /* 0: no record yet */
	uint64_t count;
	int failed;
};

/* Little-endian encoding, inline (a million records are 30 million
 * fields): each returns the position after what it wrote or read. */
static inline uint8_t *
enc32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
	return p + 4;
}

static inline uint8_t *
enc64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
	return p + 8;
}

static inline uint8_t *
encb(uint8_t *p, const void *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

static inline uint32_t
dec32(const uint8_t **p)
{
	uint32_t v;

	memcpy(&v, *p, 4);
	*p += 4;
	return le32toh(v);
}

static inline uint64_t
dec64(const uint8_t **p)
{
	uint64_t v;

	memcpy(&v, *p, 8);
	*p += 8;
	return le64toh(v);
}

static inline void
decb(const uint8_t **p, void *d, size_t n)
{
	memcpy(d, *p, n);
	*p += n;
}

static void
name_hash(const char *name, uint8_t out[16])
{
	crypto_generichash(out, 16, (const uint8_t *)name, strlen(name),
	    NULL, 0);
}

int
findex_path(const char *repo_id_hex, const char *name, char *buf, size_t len)
{
	char dir[PATH_MAX], hex[33];
	uint8_t h[16];

	if (strlen(repo_id_hex) != 32 ||
	    strspn(repo_id_hex, "0123456789abcdef") != 32) {
		err_set("bad repository id '%s'", repo_id_hex);
		return ERR_FAIL;
	}
	if (util_state_dir(dir, sizeof(dir)) != 0)
		return ERR_FAIL;
	name_hash(name, h);
	util_hex(h, sizeof(h), hex);
	if ((size_t)snprintf(buf, len, "%s/index/%s/%s", dir, repo_id_hex,
	    hex) >= len) {
		err_set("state directory path too long: '%s'", dir);
		return ERR_FAIL;
	}
	return ERR_OK;
}

int
findex_pathcmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen, i = 0;
	uint64_t wa, wb;
	unsigned ca, cb;

	/* The common prefix, a word at a time, then byte by byte. */
	for (; i + 8 <= n; i += 8) {
		memcpy(&wa, a + i, 8);
		memcpy(&wb, b + i, 8);
		if (wa != wb)
			break;
	}
	for (; i < n && a[i] == b[i]; i++)
		;
	if (i == n)
		return (alen > blen) - (alen < blen);
	ca = (unsigned char)a[i];
	cb = (unsigned char)b[i];
	return ca < cb ? -1 : 1;
}

/*
 * What is wrong with rec in an index whose archive table has narch
 * entries, or NULL: the bounds that the writer enforces and the reader
 * checks (docs/STATE.md, "Records").
 */
static const char *
rec_fault(const struct findex_rec *r, size_t narch)
{
	size_t i;

	if (r->pathlen < 1 || r->pathlen > FINDEX_MAX_PATH)
		return "path length out of range";
	if (r->type < MF_FILE || r->type > MF_OTHER)
		return "unknown type";
	if (r->mtime_ns >= 1000000000u || r->ctime_ns >= 1000000000u)
		return "nanoseconds out of range";
	if (r->data > r->size)
		return "more data than size";
	if (r->nseg < 1 || r->nseg > FINDEX_MAX_SEG)
		return "segment count out of range";
	if (r->nchunk > FINDEX_MAX_CHUNKS)
		return "chunk count out of range";
	for (i = 0; i < r->nseg; i++)
		if (r->seg[i].src >= narch ||
		    r->seg[i].off > UINT64_MAX - r->seg[i].len)
			return "segment out of range";
	for (i = 0; i < r->nchunk; i++)
		if (r->chunk[i].src >= narch ||
		    r->chunk[i].off > UINT64_MAX - r->chunk[i].len)
			return "chunk out of range";
	return NULL;
}

/* Body bytes of rec. */
static size_t
rec_len(const struct findex_rec *r)
{
	return IX_REC_FIXED + r->pathlen + r->nseg * IX_SEG +
	    r->nchunk * IX_CHUNK;
}

/* grow(p, &cap, n, sz): p (of cap elements of sz bytes) made to hold n
 * elements, and at least one: p or its new place, NULL if out of memory
 * (p stays). */
static void *
grow(void *p, size_t *cap, size_t n, size_t sz)
{
	if (n == 0)
		n = 1;
	if (n <= *cap)
		return p;
	if ((p = realloc(p, n * sz)) == NULL) {
		err_set("out of memory");
		return NULL;
	}
	*cap = n;
	return p;
}

/* ---- Reading ---- */

static int
ix_corrupt(struct findex *ix, const char *what)
{
	err_set("file index '%s': %s", ix->file, what);
	return ERR_CORRUPT;
}

static int
rec_corrupt(struct findex *ix, const char *what)
{
	err_set("file index '%s': record %llu: %s", ix->file,
	    (unsigned long long)ix->count + 1, what);
	return ERR_CORRUPT;
}

/* Hash what the check pass consumed since it last did. */
static void
rd_hash(struct findex *ix)
{
	if (ix->hs != NULL && ix->pos > ix->hpos)
		hash_update(ix->hs, ix->buf + ix->hpos,
		    ix->pos - ix->hpos);
	ix->hpos = ix->pos;
}

/* Move buf[pos..end) to the front and read more after it: 1, 0 at the
 * end of the file, or ERR_FAIL. */
static int
rd_more(struct findex *ix)
{
	ssize_t n;

	rd_hash(ix);
	memmove(ix->buf, ix->buf + ix->pos, ix->end - ix->pos);
	ix->end -= ix->pos;
	ix->pos = ix->hpos = 0;
	do
		n = read(ix->fd, ix->buf + ix->end, IX_BUF - ix->end);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		err_set("cannot read file index '%s': %s", ix->file,
		    strerror(errno));
		return ERR_FAIL;
	}
	ix->end += (size_t)n;
	return n > 0;
}

/* rd_take(ix, n, &p): the next n (<= IX_BUF) bytes of the file, in place
 * until the next read; ERR_CORRUPT if the file ends first. */
static int
rd_take(struct findex *ix, size_t n, const uint8_t **p)
{
	int rc;

	while (ix->end - ix->pos < n)
		if ((rc = rd_more(ix)) <= 0)
			return rc < 0 ? rc : ix_corrupt(ix, "truncated");
	*p = ix->buf + ix->pos;
	ix->pos += n;
	return ERR_OK;
}

/* rd_copy(ix, dst, n): the next n bytes of the file, any number. */
static int
rd_copy(struct findex *ix, uint8_t *dst, size_t n)
{
	const uint8_t *p;
	size_t k;
	int rc;

	while (n > 0) {
		k = ix->end - ix->pos;
		k = k == 0 ? 1 : k < n ? k : n;
		if ((rc = rd_take(ix, k, &p)) != ERR_OK)
			return rc;
		memcpy(dst, p, k);
		dst += k;
		n -= k;
	}
	return ERR_OK;
}

static int
read_head(struct findex *ix, uint8_t namehash[16])
{
	struct findex_head *h = ix->head;
	const uint8_t *p, *arch;
	uint32_t version, narch;
	int rc;

	if ((rc = rd_take(ix, IX_HEAD, &p)) != ERR_OK)
		return rc;
	if (memcmp(p, IX_MAGIC, IX_MAGIC_LEN) != 0)
		return ix_corrupt(ix, "not a file index (bad magic)");
	p += IX_MAGIC_LEN;
	version = dec32(&p);
	decb(&p, h->repo, 16);
	decb(&p, namehash, 16);
	decb(&p, h->archive, 16);
	h->created_us = (int64_t)dec64(&p);
	h->full_us = (int64_t)dec64(&p);
	h->chain = dec32(&p);
	h->hash_alg = *p++;
	decb(&p, h->key, 32);
	narch = dec32(&p);
	if (version != IX_VERSION)
		return ix_corrupt(ix, "unknown version");
	if (h->hash_alg != HASH_BLAKE2B && h->hash_alg != HASH_BLAKE3)
		return ix_corrupt(ix, "unknown hash algorithm");
	if (narch < 1 || narch > FINDEX_MAX_ARCH)
		return ix_corrupt(ix, "archive table size out of range");
	h->narch = narch;
	ix->data = IX_HEAD + (off_t)narch * 16;
	if ((rc = rd_take(ix, narch * 16, &arch)) != ERR_OK)
		return rc;
	memcpy(h->arch, arch, narch * 16);
	return ERR_OK;
}

static void
dec_segs(const uint8_t **p, struct findex_seg *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		s[i].src = dec32(p);
		s[i].off = dec64(p);
		s[i].len = dec64(p);
	}
}

static void
dec_chunks(const uint8_t **p, struct findex_chunk *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		decb(p, c[i].id, FINDEX_ID_LEN);
		c[i].src = dec32(p);
		c[i].off = dec64(p);
		c[i].len = dec32(p);
	}
}

/* The fields between the path and the segment count. */
static void
dec_stat(const uint8_t **p, struct findex_rec *r)
{
	r->type = *(*p)++;
	r->mode = dec32(p);
	r->uid = dec64(p);
	r->gid = dec64(p);
	r->dev = dec64(p);
	r->ino = dec64(p);
	r->size = dec64(p);
	r->data = dec64(p);
	r->mtime_s = (int64_t)dec64(p);
	r->mtime_ns = dec32(p);
	r->ctime_s = (int64_t)dec64(p);
	r->ctime_ns = dec32(p);
	decb(p, r->hdrhash, 16);
	decb(p, r->hash, 32);
}

/* Decode body[0..len) into r, checking that every count fits len. */
static int
dec_rec(struct findex *ix, const uint8_t *body, size_t len,
    struct findex_rec *r)
{
	const uint8_t *p = body;
	char *path = ix->path[ix->cur];
	size_t base;
	void *q;

	r->pathlen = dec32(&p);
	if (r->pathlen < 1 || r->pathlen > FINDEX_MAX_PATH ||
	    len < IX_REC_FIXED + r->pathlen)
		return rec_corrupt(ix, "path length out of range");
	decb(&p, path, r->pathlen);
	path[r->pathlen] = '\0';
	r->path = path;
	dec_stat(&p, r);
	r->nseg = dec32(&p);
	if (r->nseg < 1 || r->nseg > FINDEX_MAX_SEG ||
	    len < IX_REC_FIXED + r->pathlen + r->nseg * IX_SEG)
		return rec_corrupt(ix, "segment count out of range");
	if ((q = grow(ix->seg, &ix->segcap, r->nseg, sizeof(*ix->seg))) ==
	    NULL)
		return ERR_FAIL;
	ix->seg = q;
	dec_segs(&p, ix->seg, r->nseg);
	r->seg = ix->seg;
	r->nchunk = dec32(&p);
	base = IX_REC_FIXED + r->pathlen + r->nseg * IX_SEG;
	if (r->nchunk > FINDEX_MAX_CHUNKS ||
	    len != base + r->nchunk * IX_CHUNK)
		return rec_corrupt(ix, "chunk count out of range or length "
		    "mismatch");
	if ((q = grow(ix->chunk, &ix->chunkcap, r->nchunk,
	    sizeof(*ix->chunk))) == NULL)
		return ERR_FAIL;
	ix->chunk = q;
	dec_chunks(&p, ix->chunk, r->nchunk);
	r->chunk = ix->chunk;
	return ERR_OK;
}

/* The trailer after its marker: the record count (its hash is the check
 * pass's business). */
static int
read_end(struct findex *ix)
{
	const uint8_t *p;
	int rc;

	if ((rc = rd_take(ix, 8, &p)) != ERR_OK)
		return rc;
	if (dec64(&p) != ix->count)
		return ix_corrupt(ix, "record count mismatch");
	ix->done = 1;
	return 0;
}

/* read_rec(ix, r): the next record, checked: 1, 0 after the trailer's
 * marker and count, or ERR_*. */
static int
read_rec(struct findex *ix, struct findex_rec *r)
{
	const uint8_t *p;
	const char *what;
	uint32_t len;
	void *q;
	int rc;

	if (ix->done)
		return 0;
	if ((rc = rd_take(ix, 4, &p)) != ERR_OK)
		return rc;
	if ((len = dec32(&p)) == IX_END)
		return read_end(ix);
	if (len < IX_REC_MIN || len > IX_REC_MAX)
		return rec_corrupt(ix, "length out of range");
	if (len <= IX_BUF)
		rc = rd_take(ix, len, &p);
	else if ((q = grow(ix->body, &ix->bodycap, len, 1)) == NULL)
		return ERR_FAIL;
	else if ((rc = rd_copy(ix, ix->body = q, len)) == ERR_OK)
		p = ix->body;
	if (rc != ERR_OK || (rc = dec_rec(ix, p, len, r)) != ERR_OK)
		return rc;
	if ((what = rec_fault(r, ix->head->narch)) != NULL)
		return rec_corrupt(ix, what);
	if (ix->lastlen > 0 && findex_pathcmp(ix->path[!ix->cur], ix->lastlen,
	    r->path, r->pathlen) >= 0)
		return rec_corrupt(ix, "path out of order");
	ix->lastlen = r->pathlen;
	ix->cur = !ix->cur;
	ix->count++;
	return 1;
}

/* The check pass: the whole file, from its start. */
static int
check(struct findex *ix, const uint8_t repo[16], const char *name)
{
	struct hash hs;
	struct findex_rec r;
	uint8_t nh[16], want[16], sum[IX_SUM];
	const uint8_t *got;
	int rc;

	hash_init(&hs, HASH_BLAKE3);
	ix->hs = &hs;
	rc = read_head(ix, nh);
	while (rc == ERR_OK && (rc = read_rec(ix, &r)) == 1)
		rc = ERR_OK;
	rd_hash(ix);
	ix->hs = NULL;
	hash_final(&hs, sum);
	if (rc != 0 || (rc = rd_take(ix, IX_SUM, &got)) != ERR_OK)
		return rc;
	if (memcmp(sum, got, sizeof(sum)) != 0)
		return ix_corrupt(ix, "damaged (checksum mismatch)");
	if (ix->pos < ix->end || (rc = rd_more(ix)) != 0)
		return rc < 0 ? rc : ix_corrupt(ix, "data after the trailer");
	if (memcmp(ix->head->repo, repo, 16) != 0)
		return ix_corrupt(ix, "belongs to another repository");
	name_hash(name, want);
	if (memcmp(nh, want, sizeof(want)) != 0)
		return ix_corrupt(ix, "belongs to another dataset");
	return ERR_OK;
}

/* Back to the first record after the check pass. */
static int
rewind_ix(struct findex *ix)
{
	if (lseek(ix->fd, ix->data, SEEK_SET) != ix->data) {
		err_set("cannot seek in file index '%s': %s", ix->file,
		    strerror(errno));
		return ERR_FAIL;
	}
	ix->pos = ix->end = ix->hpos = 0;
	ix->lastlen = 0;
	ix->count = 0;
	ix->done = 0;
	return ERR_OK;
}

static struct findex *
ix_new(int fd, const char *path)
{
	struct findex *ix = calloc(1, sizeof(*ix));

	if (ix == NULL)
		return NULL;
	ix->fd = -1;
	ix->file = strdup(path);
	ix->buf = malloc(IX_BUF);
	ix->path[0] = malloc(FINDEX_MAX_PATH + 1);
	ix->path[1] = malloc(FINDEX_MAX_PATH + 1);
	ix->head = sodium_malloc(sizeof(*ix->head));
	if (ix->file == NULL || ix->buf == NULL || ix->path[0] == NULL ||
	    ix->path[1] == NULL || ix->head == NULL) {
		findex_close(ix);
		return NULL;
	}
	memset(ix->head, 0, sizeof(*ix->head));
	ix->fd = fd;
	return ix;
}

int
findex_open(const char *path, const uint8_t repo[16], const char *name,
    struct findex **out, const struct findex_head **head)
{
	struct findex *ix;
	int fd, rc, e;

	*out = NULL;
	*head = NULL;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		e = errno;
		err_set("cannot open file index '%s': %s", path, strerror(e));
		return e == ENOENT ? ERR_NOTFOUND : ERR_FAIL;
	}
	if ((ix = ix_new(fd, path)) == NULL) {
		close(fd);
		err_set("out of memory");
		return ERR_FAIL;
	}
	if ((rc = check(ix, repo, name)) != ERR_OK ||
	    (rc = rewind_ix(ix)) != ERR_OK) {
		findex_close(ix);
		return rc;
	}
	*out = ix;
	*head = ix->head;
	return ERR_OK;
}

int
findex_next(struct findex *ix, struct findex_rec *rec)
{
	return read_rec(ix, rec);
}

void
findex_close(struct findex *ix)
{
	if (ix == NULL)
		return;
	if (ix->fd >= 0)
		close(ix->fd);
	if (ix->buf != NULL)
		sodium_memzero(ix->buf, IX_BUF);   /* the header held key */
	free(ix->buf);
	free(ix->file);
	free(ix->body);
	free(ix->path[0]);
	free(ix->path[1]);
	free(ix->seg);
	free(ix->chunk);
	sodium_free(ix->head);   /* wipes it */
	free(ix);
}

/* ---- Writing ---- */

/* Hash and write w->buf[0..pos); a failure sticks (w->failed). */
static void
wr_flush(struct findex_writer *w)
{
	if (!w->failed && w->pos > 0) {
		hash_update(&w->hs, w->buf, w->pos);
		if (util_write_full(w->fd, w->buf, w->pos) != 0) {
			err_set("cannot write '%s': %s", w->tmp,
			    strerror(errno));
			w->failed = 1;
		}
	}
	w->pos = 0;
}

/* Room for the next n (<= IX_BUF) bytes of the file, which the caller
 * fills. */
static uint8_t *
wr_take(struct findex_writer *w, size_t n)
{
	uint8_t *p;

	if (IX_BUF - w->pos < n)
		wr_flush(w);
	p = w->buf + w->pos;
	w->pos += n;
	return p;
}

static void
wr_head(struct findex_writer *w, const uint8_t nh[16],
    const struct findex_head *h)
{
	uint8_t *p = wr_take(w, IX_HEAD);

	p = encb(p, IX_MAGIC, IX_MAGIC_LEN);
	p = enc32(p, IX_VERSION);
	p = encb(p, h->repo, 16);
	p = encb(p, nh, 16);
	p = encb(p, h->archive, 16);
	p = enc64(p, (uint64_t)h->created_us);
	p = enc64(p, (uint64_t)h->full_us);
	p = enc32(p, h->chain);
	*p++ = (uint8_t)h->hash_alg;
	p = encb(p, h->key, 32);
	enc32(p, (uint32_t)h->narch);
	memcpy(wr_take(w, h->narch * 16), h->arch, h->narch * 16);
}

static void
wr_rec(struct findex_writer *w, const struct findex_rec *r)
{
	uint8_t *p;
	size_t i;

	p = enc32(wr_take(w, 8), (uint32_t)rec_len(r));
	enc32(p, (uint32_t)r->pathlen);
	memcpy(wr_take(w, r->pathlen), r->path, r->pathlen);
	p = wr_take(w, IX_REC_FIXED - 8);
	*p++ = (uint8_t)r->type;
	p = enc32(p, r->mode);
	p = enc64(p, r->uid);
	p = enc64(p, r->gid);
	p = enc64(p, r->dev);
	p = enc64(p, r->ino);
	p = enc64(p, r->size);
	p = enc64(p, r->data);
	p = enc64(p, (uint64_t)r->mtime_s);
	p = enc32(p, r->mtime_ns);
	p = enc64(p, (uint64_t)r->ctime_s);
	p = enc32(p, r->ctime_ns);
	p = encb(p, r->hdrhash, 16);
	p = encb(p, r->hash, 32);
	enc32(p, (uint32_t)r->nseg);
	for (i = 0; i < r->nseg; i++) {
		p = enc32(wr_take(w, IX_SEG), r->seg[i].src);
		p = enc64(p, r->seg[i].off);
		enc64(p, r->seg[i].len);
	}
	enc32(wr_take(w, 4), (uint32_t)r->nchunk);
	for (i = 0; i < r->nchunk; i++) {
		p = encb(wr_take(w, IX_CHUNK), r->chunk[i].id, FINDEX_ID_LEN);
		p = enc32(p, r->chunk[i].src);
		p = enc64(p, r->chunk[i].off);
		enc32(p, r->chunk[i].len);
	}
}

/* The directory of path (malloc'ed) and where its last component starts. */
static char *
split_dir(const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL) {
		*base = path;
		return strdup(".");
	}
	*base = slash + 1;
	return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* Is the directory entry e a temporary of an index named base? */
static int
is_tmp_of(const char *e, const char *base)
{
	size_t n = strlen(base);

	return strncmp(e, base, n) == 0 &&
	    strncmp(e + n, IX_TMP, strlen(IX_TMP)) == 0 &&
	    strlen(e + n + strlen(IX_TMP)) == IX_TMP_HEX;
}

/*
 * Remove the temporaries of the index base in dir that killed writers
 * left: untouched for IX_STALE_SECS and locked by nobody (a writer holds
 * an flock on its temporary until it commits or aborts; the age keeps a
 * writer that has just created its file and not yet locked it safe).
 * Best effort: what cannot be looked at stays.
 */
static void
clean_stale(const char *dir, const char *base)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat sb;
	time_t old = time(NULL) - IX_STALE_SECS;
	int fd;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (!is_tmp_of(e->d_name, base))
			continue;
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    sb.st_mtime < old && flock(fd, LOCK_EX | LOCK_NB) == 0)
			unlinkat(dirfd(d), e->d_name, 0);
		close(fd);
	}
	closedir(d);
}

/* Create w->tmp beside w->path (O_EXCL, 0600) and lock it. */
static int
wr_create(struct findex_writer *w)
{
	uint8_t rnd[IX_TMP_HEX / 2];
	char hex[IX_TMP_HEX + 1];
	size_t n = strlen(w->path) + strlen(IX_TMP) + IX_TMP_HEX + 1;
	int tries;

	if ((w->tmp = malloc(n)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	for (tries = 0; tries < 8 && w->fd < 0; tries++) {
		randombytes_buf(rnd, sizeof(rnd));
		util_hex(rnd, sizeof(rnd), hex);
		snprintf(w->tmp, n, "%s%s%s", w->path, IX_TMP, hex);
		w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (w->fd < 0 && errno != EEXIST)
			break;
	}
	if (w->fd < 0 || fchmod(w->fd, 0600) != 0 ||
	    flock(w->fd, LOCK_EX) != 0) {
		err_set("cannot create '%s': %s", w->tmp, strerror(errno));
		if (w->fd >= 0) {
			close(w->fd);
			w->fd = -1;
			unlink(w->tmp);
		}
		return ERR_FAIL;
	}
	return ERR_OK;
}

/* What is wrong with a writer's head, or NULL. */
static const char *
head_fault(const uint8_t repo[16], const struct findex_head *h)
{
	if (memcmp(h->repo, repo, 16) != 0)
		return "head's repository is not repo";
	if (h->hash_alg != HASH_BLAKE2B && h->hash_alg != HASH_BLAKE3)
		return "unknown hash algorithm";
	if (h->narch < 1 || h->narch > FINDEX_MAX_ARCH)
		return "archive table size out of range";
	return NULL;
}

static void
wr_free(struct findex_writer *w)
{
	if (w->buf != NULL)
		sodium_memzero(w->buf, IX_BUF);   /* the header held key */
	free(w->buf);
	free(w->last);
	free(w->path);
	free(w->tmp);
	free(w->dir);
	sodium_memzero(&w->hs, sizeof(w->hs));
	free(w);
}

int
findex_writer_new(const char *path, const uint8_t repo[16], const char *name,
    const struct findex_head *h, struct findex_writer **out)
{
	struct findex_writer *w = NULL;
	const char *what, *base;
	uint8_t nh[16];

	*out = NULL;
	if ((what = head_fault(repo, h)) != NULL) {
		err_set("file index '%s': %s (a bug)", path, what);
		return ERR_FAIL;
	}
	if (posix_memalign((void **)&w, 64, sizeof(*w)) != 0) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->narch = h->narch;
	w->path = strdup(path);
	w->dir = split_dir(path, &base);
	w->buf = malloc(IX_BUF);
	w->last = malloc(FINDEX_MAX_PATH);
	if (w->path == NULL || w->dir == NULL || w->buf == NULL ||
	    w->last == NULL) {
		err_set("out of memory");
		wr_free(w);
		return ERR_FAIL;
	}
	if (util_mkdirs(w->dir, 0700) != 0) {
		err_set("cannot create '%s': %s", w->dir, strerror(errno));
		wr_free(w);
		return ERR_FAIL;
	}
	clean_stale(w->dir, base);
	if (wr_create(w) != ERR_OK) {
		wr_free(w);
		return ERR_FAIL;
	}
	hash_init(&w->hs, HASH_BLAKE3);
	name_hash(name, nh);
	wr_head(w, nh, h);
	*out = w;
	return ERR_OK;
}

int
findex_put(struct findex_writer *w, const struct findex_rec *rec)
{
	const char *what;

	if (w->failed) {
		err_set("file index '%s': written to after a failure (a bug)",
		    w->path);
		return ERR_FAIL;
	}
	what = rec_fault(rec, w->narch);
	if (what == NULL && w->lastlen > 0 && findex_pathcmp(w->last,
	    w->lastlen, rec->path, rec->pathlen) >= 0)
		what = "out of order";
	if (what != NULL) {
		err_set("file index '%s': record %llu: %s (a bug)", w->path,
		    (unsigned long long)w->count, what);
		w->failed = 1;
		return ERR_FAIL;
	}
	wr_rec(w, rec);
	memcpy(w->last, rec->path, rec->pathlen);
	w->lastlen = rec->pathlen;
	w->count++;
	return w->failed ? ERR_FAIL : ERR_OK;
}

/* fsync dir, so that a new name in it is durable. */
static int
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL)) {
		err_set("cannot sync directory '%s': %s", dir,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return ERR_FAIL;
	}
	close(fd);
	return ERR_OK;
}

/* The trailer, then the temporary made durable and renamed over path
 * (still locked, so that no findex_writer_new takes it for a leftover). */
static int
wr_finish(struct findex_writer *w)
{
	uint8_t sum[IX_SUM], *p;

	if (w->failed) {
		err_set("file index '%s': not committed after a failure",
		    w->path);
		return ERR_FAIL;
	}
	p = enc32(wr_take(w, 12), IX_END);
	enc64(p, w->count);
	wr_flush(w);
	if (w->failed)
		return ERR_FAIL;
	hash_final(&w->hs, sum);
	if (util_write_full(w->fd, sum, sizeof(sum)) != 0 ||
	    fsync(w->fd) != 0 || rename(w->tmp, w->path) != 0) {
		err_set("cannot write '%s': %s", w->path, strerror(errno));
		return ERR_FAIL;
	}
	return ERR_OK;
}

int
findex_writer_commit(struct findex_writer *w)
{
	int rc = wr_finish(w);

	if (rc != ERR_OK)
		unlink(w->tmp);
	if (close(w->fd) != 0 && rc == ERR_OK) {
		err_set("cannot write '%s': %s", w->path, strerror(errno));
		rc = ERR_FAIL;
	}
	if (rc == ERR_OK)
		rc = sync_dir(w->dir);
	wr_free(w);
	return rc;
}

void
findex_writer_abort(struct findex_writer *w)
{
	if (w == NULL)
		return;
	unlink(w->tmp);
	close(w->fd);
	wr_free(w);
}

int
findex_remove(const char *path)
{
	if (unlink(path) != 0 && errno != ENOENT) {
		err_set("cannot remove file index '%s': %s", path,
		    strerror(errno));
		return ERR_FAIL;
	}
	return ERR_OK;
}
