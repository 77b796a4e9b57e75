/*
 * Unit tests for core/ostream.c and core/istream.c (istream and seqread):
 * streams of boundary sizes written with 0, 1 and 2 threads and read back
 * whole (seqread), by a full plan and by partial plans (istream), and from
 * two objects in one interleaved plan (istream_new_multi); the object
 * laid out as docs/FORMAT.md §6 says (header, frames, last flag, zstd content
 * sizes, size and BLAKE2b-256); and every tampering refused: truncation at
 * and inside a frame, flipped bytes, swapped or appended frames, a wrong
 * subkey or header, lying chunk tables; aborted writes leave nothing.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>
#include <zstd.h>

#include "crypto.h"
#include "err.h"
#include "hash.h"
#include "istream.h"
#include "objfmt.h"
#include "ostream.h"
#include "storage.h"
#include "support.h"

#define CS 4096u
#define MAXCH 64
#define ALG HASH_BLAKE3   /* the object hash the streams compute */

static char root[128];
static struct storage *st;
static uint8_t subkey[32];
static struct obj_header hdr;

static void
setup(void)
{
	cr_assert_eq(crypto_init(), 0);
	snprintf(root, sizeof(root), "%s/repo", support_tmpdir("streams"));
	cr_assert_eq(storage_open(root, NULL, &st), ERR_OK);
	randombytes_buf(subkey, sizeof(subkey));
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = OBJ_TYPE_DATA;
	hdr.cipher = CRYPTO_XCHACHA20;
	hdr.content = OBJ_CONTENT_RAW;
	hdr.chunk_size = CS;
	randombytes_buf(hdr.id, sizeof(hdr.id));
}

static void
teardown(void)
{
	storage_free(st);
	st = NULL;
	support_cleanup();
}

TestSuite(streams, .init = setup, .fini = teardown);

/* Deterministic test data: random-looking bytes with zero runs, so chunks
 * compress to different sizes. */
static uint8_t *
make_data(size_t n, unsigned seed)
{
	uint8_t s[randombytes_SEEDBYTES] = { 0 };
	uint8_t *b = malloc(n + 1);
	size_t i;

	cr_assert_not_null(b);
	s[0] = (uint8_t)seed;
	s[1] = (uint8_t)(seed >> 8);
	randombytes_buf_deterministic(b, n, s);
	for (i = 0; i < n; i++)
		if ((i / 700) % 3 == 1)
			b[i] = 0;
	return b;
}

struct rec {
	struct ostream_chunk c[MAXCH];
	size_t n;
	int fail_at;   /* return non-zero at this chunk index (+1), 0: never */
};

static int
rec_cb(void *arg, const struct ostream_chunk *c)
{
	struct rec *r = arg;

	if (r->n >= MAXCH)
		return -1;
	r->c[r->n++] = *c;
	if (r->fail_at > 0 && c->index + 1 == (uint64_t)r->fail_at)
		return 1;
	return 0;
}

/* Write data[0..n) to key, sealed with sk, in pieces of step bytes (0: all
 * at once). */
static void
write_obj_sk(const char *key, const struct obj_header *h, const uint8_t *sk,
    const uint8_t *data, size_t n, int threads, size_t step, struct rec *r,
    struct ostream_result *res)
{
	struct ostream *os;
	size_t off, k;

	memset(r, 0, sizeof(*r));
	cr_assert_eq(ostream_new(st, key, h, sk, ALG, 3, threads, rec_cb, r,
	    &os), ERR_OK, "%s", err_get());
	for (off = 0; off < n; off += k) {
		k = step == 0 ? n - off : (n - off < step ? n - off : step);
		cr_assert_eq(ostream_write(os, data + off, k), ERR_OK);
	}
	cr_expect_eq(ostream_tell(os), n);
	cr_assert_eq(ostream_finish(os, res), ERR_OK, "%s", err_get());
	cr_expect_eq(ostream_stored(os), res->size);
	ostream_free(os);
}

/* write_obj_sk with the suite's subkey. */
static void
write_obj(const char *key, const struct obj_header *h, const uint8_t *data,
    size_t n, int threads, size_t step, struct rec *r,
    struct ostream_result *res)
{
	write_obj_sk(key, h, subkey, data, n, threads, step, r, res);
}

static uint8_t *
get_obj(const char *key, size_t *len)
{
	uint8_t *buf;

	cr_assert_eq(storage_get(st, key, 1 << 24, &buf, len), ERR_OK,
	    "get %s: %s", key, err_get());
	return buf;
}

/* Read key whole with seqread in reads of step bytes. */
static int
seq_all(const char *key, const struct obj_header *h, const uint8_t *sk,
    uint8_t *out, size_t cap, size_t *got, size_t step, uint8_t hash[32])
{
	struct seqread *sr;
	size_t n, total = 0;
	int rc;

	if ((rc = seqread_open(st, key, h, sk, ALG, &sr)) != ERR_OK)
		return rc;
	for (;;) {
		if ((rc = seqread_read(sr, out + total, cap - total < step ?
		    cap - total : step, &n)) != ERR_OK)
			goto done;
		if (n == 0 && cap - total == 0 &&
		    (rc = seqread_read(sr, out + total, 1, &n)) != ERR_OK)
			goto done;
		if (n == 0)
			break;
		total += n;
		if (total == cap) {
			/* one more read must report the end */
			uint8_t extra[8];

			if ((rc = seqread_read(sr, extra, sizeof(extra), &n)) !=
			    ERR_OK)
				goto done;
			cr_assert_eq(n, 0, "data past the expected end");
			break;
		}
	}
	*got = total;
	rc = ERR_OK;
	if (hash != NULL) {
		cr_expect_eq(seqread_hash(sr, hash), 0);
	}
done:
	seqread_free(sr);
	return rc;
}

/* Take every chunk of is, checking each against its plan item, appending
 * their plaintext to out.  0 at the end of the plan, or the error. */
static int
drain(struct istream *is, const struct istream_chunk *plan, size_t nplan,
    uint8_t *out, size_t *got)
{
	const uint8_t *buf;
	size_t len, total = 0, k = 0;
	uint64_t idx;
	uint32_t src;
	int rc;

	while ((rc = istream_next_src(is, &buf, &len, &idx, &src)) == 1) {
		cr_assert_lt(k, nplan);
		cr_expect_eq(idx, plan[k].index, "plan order");
		cr_expect_eq(src, plan[k].src, "plan item %zu's source", k);
		cr_expect_eq(len, plan[k].plain_len);
		memcpy(out + total, buf, len);
		total += len;
		k++;
	}
	if (rc == 0) {
		cr_expect_eq(k, nplan);
		*got = total;
	}
	return rc;
}

/* Read the chunks in plan with istream, appending their plaintext to out. */
static int
ist_plan(const char *key, const struct obj_header *h, const uint8_t *sk,
    uint64_t nchunks, const struct istream_chunk *plan, size_t nplan,
    int threads, int hash_object, uint8_t *out, size_t *got,
    uint8_t hash[32], uint64_t *hsize)
{
	struct istream *is;
	int rc;

	if ((rc = istream_new(st, key, h, sk, nchunks, plan, nplan, threads,
	    hash_object ? ALG : 0, &is)) != ERR_OK)
		return rc;
	rc = drain(is, plan, nplan, out, got);
	if (rc == 0 && hash != NULL)
		rc = istream_object_hash(is, hash, hsize) == 0 ? ERR_OK : 1;
	istream_free(is);
	return rc;
}

static void
plan_from(const struct rec *r, struct istream_chunk *plan)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		plan[i].index = r->c[i].index;
		plan[i].offset = r->c[i].offset;
		plan[i].sealed_len = r->c[i].sealed_len;
		plan[i].plain_len = r->c[i].plain_len;
		plan[i].src = 0;
	}
}

/* The full round trip and layout checks for one (size, threads) case. */
static void
roundtrip_case(size_t n, int threads, size_t step, int cipher)
{
	struct obj_header h = hdr;
	struct ostream_result res;
	struct istream_chunk plan[MAXCH], sub[3];
	struct rec r;
	uint8_t *data, *obj, *out, hash[32], want_hdr[OBJ_HEADER];
	uint8_t zbuf[CS + 1024], zbad[CS + 1024], sk2[32];
	size_t objlen, got, want_chunks, i, nsub;
	uint64_t size, off, hsize;
	char key[64];

	h.cipher = cipher;
	snprintf(key, sizeof(key), "data/n%zu-t%d-s%zu-c%d", n, threads, step,
	    cipher);
	data = make_data(n, (unsigned)(n * 7 + (size_t)threads));
	write_obj(key, &h, data, n, threads, step, &r, &res);
	want_chunks = n == 0 ? 1 : (n + CS - 1) / CS;

	/* result and callback records */
	cr_expect_eq(res.chunks, want_chunks, "%s: chunks", key);
	cr_expect_eq(res.plain, n);
	cr_assert_eq(r.n, want_chunks, "%s: %zu callbacks", key, r.n);
	off = OBJ_HEADER;
	for (i = 0; i < r.n; i++) {
		cr_expect_eq(r.c[i].index, i);
		cr_expect_eq(r.c[i].offset, off, "%s: chunk %zu offset", key,
		    i);
		cr_expect_eq(r.c[i].plain_len, i + 1 < r.n ? CS :
		    n - (r.n - 1) * CS, "%s: chunk %zu plain", key, i);
		cr_expect_geq(r.c[i].sealed_len, CRYPTO_TAG);
		cr_expect_leq(r.c[i].sealed_len, objfmt_max_sealed(CS));
		off += 4 + r.c[i].sealed_len;
	}
	cr_expect_eq(off, res.size, "%s: frames end at the object's end", key);

	/* the object on disk: size, hash, header, frames */
	cr_assert_eq(storage_stat(st, key, &size), ERR_OK);
	cr_expect_eq(size, res.size);
	obj = get_obj(key, &objlen);
	cr_assert_eq(objlen, res.size);
	hash_buf(ALG, obj, objlen, hash);
	cr_expect_arr_eq(hash, res.hash, 32, "%s: object hash", key);
	objfmt_encode(&h, want_hdr);
	cr_expect_arr_eq(obj, want_hdr, OBJ_HEADER, "%s: header", key);
	for (i = 0; i < r.n; i++) {
		const uint8_t *f = obj + r.c[i].offset;
		int last = i + 1 == r.n;
		unsigned long long fcs;

		cr_expect_eq(objfmt_le32(f), r.c[i].sealed_len);
		/* sealed with the spec's nonce, header as ad, last flag */
		cr_assert_eq(crypto_open(cipher, subkey, obj, OBJ_HEADER, i,
		    last, f + 4, r.c[i].sealed_len, zbuf), ERR_OK,
		    "%s: chunk %zu with last=%d", key, i, last);
		cr_expect_eq(crypto_open(cipher, subkey, obj, OBJ_HEADER, i,
		    !last, f + 4, r.c[i].sealed_len, zbad), ERR_CORRUPT,
		    "%s: chunk %zu opens with last=%d", key, i, !last);
		/* one zstd frame stating its content size */
		fcs = ZSTD_getFrameContentSize(zbuf,
		    r.c[i].sealed_len - CRYPTO_TAG);
		cr_expect_eq(fcs, r.c[i].plain_len, "%s: frame content size",
		    key);
		cr_expect_eq(ZSTD_findFrameCompressedSize(zbuf,
		    r.c[i].sealed_len - CRYPTO_TAG),
		    r.c[i].sealed_len - CRYPTO_TAG, "one frame per chunk");
	}
	free(obj);

	out = malloc(n + CS);
	cr_assert_not_null(out);
	/* seqread, whole, in odd-sized reads */
	memset(hash, 0, sizeof(hash));
	cr_assert_eq(seq_all(key, &h, subkey, out, n, &got, 1000, hash),
	    ERR_OK, "%s: seqread: %s", key, err_get());
	cr_expect_eq(got, n);
	cr_expect_arr_eq(out, data, n, "%s: seqread bytes", key);
	cr_expect_arr_eq(hash, res.hash, 32, "%s: seqread hash", key);

	/* istream, every chunk, hashing the object */
	plan_from(&r, plan);
	memset(hash, 0, sizeof(hash));
	cr_assert_eq(ist_plan(key, &h, subkey, r.n, plan, r.n,
	    threads == 0 ? 1 : threads, 1, out, &got, hash, &hsize), ERR_OK,
	    "%s: istream: %s", key, err_get());
	cr_expect_eq(got, n);
	cr_expect_arr_eq(out, data, n, "%s: istream bytes", key);
	cr_expect_arr_eq(hash, res.hash, 32, "%s: istream object hash", key);
	cr_expect_eq(hsize, res.size);
	/* without hash_object, no hash */
	cr_assert_eq(ist_plan(key, &h, subkey, r.n, plan, r.n, 2, 0, out,
	    &got, hash, &hsize), 1, "object hash without hash_object");

	/* istream, a subset in a chosen order: last chunk, then chunk 0,
	 * then the middle one */
	nsub = 0;
	sub[nsub++] = plan[r.n - 1];
	if (r.n > 1)
		sub[nsub++] = plan[0];
	if (r.n > 2)
		sub[nsub++] = plan[r.n / 2];
	cr_assert_eq(ist_plan(key, &h, subkey, r.n, sub, nsub, 2, 1, out,
	    &got, hash, &hsize), r.n == 1 ? ERR_OK : 1,
	    "%s: subset read or object hash given", key);
	cr_assert_eq(ist_plan(key, &h, subkey, r.n, sub, nsub, 2, 0, out,
	    &got, NULL, NULL), ERR_OK, "%s: subset: %s", key, err_get());
	{
		size_t pos = 0;

		for (i = 0; i < nsub; i++) {
			cr_expect_arr_eq(out + pos, data + sub[i].index * CS,
			    sub[i].plain_len, "%s: subset chunk %llu", key,
			    (unsigned long long)sub[i].index);
			pos += sub[i].plain_len;
		}
		cr_expect_eq(got, pos);
	}

	/* a wrong subkey is refused by both readers */
	memcpy(sk2, subkey, 32);
	sk2[5] ^= 0x40;
	cr_expect_eq(seq_all(key, &h, sk2, out, n, &got, 4096, NULL),
	    ERR_CORRUPT, "%s: seqread with a wrong subkey", key);
	cr_expect_eq(ist_plan(key, &h, sk2, r.n, plan, r.n, 1, 0, out, &got,
	    NULL, NULL), ERR_CORRUPT, "%s: istream with a wrong subkey", key);
	free(out);
	free(data);
}

static const size_t sizes[] = { 0, 1, CS - 1, CS, CS + 1, 3 * CS + 5 };

Test(streams, roundtrip_threads0)
{
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		roundtrip_case(sizes[i], 0, 0, CRYPTO_XCHACHA20);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		roundtrip_case(sizes[i], 0, 1000, CRYPTO_XCHACHA20);
}

Test(streams, roundtrip_threads1)
{
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		roundtrip_case(sizes[i], 1, 0, CRYPTO_XCHACHA20);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		roundtrip_case(sizes[i], 1, 777, CRYPTO_XCHACHA20);
}

Test(streams, roundtrip_threads2)
{
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		roundtrip_case(sizes[i], 2, 0, CRYPTO_XCHACHA20);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		roundtrip_case(sizes[i], 2, CS, CRYPTO_XCHACHA20);
	/* more chunks than ring slots */
	roundtrip_case(20 * CS + 3, 2, 5000, CRYPTO_XCHACHA20);
}

Test(streams, roundtrip_aes)
{
	size_t i;

	if (!crypto_cipher_available(CRYPTO_AES256GCM))
		cr_skip_test("no AES-NI");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		roundtrip_case(sizes[i], (int)(i % 3), 0, CRYPTO_AES256GCM);
}

/* A 4-chunk object (3 * CS + 5 bytes) of incompressible data, so every
 * full chunk has the same sealed length, for the tampering tests. */
static void
make_victim(const char *key, uint8_t **data, struct rec *r,
    struct ostream_result *res)
{
	uint8_t s[randombytes_SEEDBYTES] = { 7 };

	*data = malloc(3 * CS + 5);
	cr_assert_not_null(*data);
	randombytes_buf_deterministic(*data, 3 * CS + 5, s);
	write_obj(key, &hdr, *data, 3 * CS + 5, 1, 0, r, res);
	cr_assert_eq(r->n, 4);
}

/* Store a modified copy of an object under key. */
static void
put_copy(const char *key, const uint8_t *buf, size_t len)
{
	cr_assert_eq(storage_put_bytes(st, key, buf, len), ERR_OK);
}

struct tamper {
	const char *what;
	size_t cut;          /* truncate to this length (0: keep) */
	long flip;           /* flip a bit at this offset (-1: none) */
	int open_fails;      /* seqread_open/istream_new must refuse */
};

Test(streams, tampered_objects_refused)
{
	struct ostream_result res;
	struct istream_chunk plan[MAXCH];
	struct rec r;
	uint8_t *data, *obj, *buf, *out;
	size_t objlen, got, i;
	char key[32];
	int rc;

	make_victim("data/v", &data, &r, &res);
	obj = get_obj("data/v", &objlen);
	plan_from(&r, plan);
	{
		/* cut points and flipped bytes, from the chunk table */
		const struct tamper v[] = {
			{ "cut at the last frame boundary", r.c[3].offset, -1,
			    0 },
			{ "cut at an inner frame boundary", r.c[2].offset, -1,
			    0 },
			{ "cut after the first frame", r.c[1].offset, -1, 0 },
			{ "cut to the header", OBJ_HEADER, -1, 0 },
			{ "cut inside the header", 40, -1, 1 },
			{ "cut inside a frame length", r.c[2].offset + 2, -1,
			    0 },
			{ "cut inside the last frame", objlen - 1, -1, 0 },
			{ "cut inside an inner frame", r.c[1].offset + 100,
			    -1, 0 },
			{ "flip in the magic", 0, 0, 1 },
			{ "flip in the id", 0, 20, 1 },
			{ "flip in the reserved bytes", 0, 40, 1 },
			{ "flip in the chunk size", 0, 13, 1 },
			{ "flip in the cipher", 0, 9, 1 },
			{ "flip in a frame length", 0,
			    (long)r.c[1].offset, 0 },
			{ "flip in a frame length's high byte", 0,
			    (long)r.c[1].offset + 3, 0 },
			{ "flip in ciphertext", 0, (long)r.c[1].offset + 50,
			    0 },
			{ "flip in the last tag byte", 0, (long)objlen - 1,
			    0 },
			{ "flip in the first ciphertext byte", 0,
			    (long)r.c[0].offset + 4, 0 },
		};

		out = malloc(4 * CS);
		cr_assert_not_null(out);
		for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
			size_t len = v[i].cut ? v[i].cut : objlen;

			buf = malloc(objlen);
			memcpy(buf, obj, objlen);
			if (v[i].flip >= 0)
				buf[v[i].flip] ^= 0x01;
			snprintf(key, sizeof(key), "data/t%zu", i);
			put_copy(key, buf, len);
			free(buf);
			rc = seq_all(key, &hdr, subkey, out, 3 * CS + 5, &got,
			    CS, NULL);
			cr_expect_eq(rc, ERR_CORRUPT, "seqread, %s: %d",
			    v[i].what, rc);
			rc = ist_plan(key, &hdr, subkey, 4, plan, 4, 2, 1, out,
			    &got, NULL, NULL);
			cr_expect_eq(rc, ERR_CORRUPT, "istream, %s: %d",
			    v[i].what, rc);
			if (v[i].open_fails) {
				struct seqread *sr = NULL;

				cr_expect_eq(seqread_open(st, key, &hdr,
				    subkey, ALG, &sr), ERR_CORRUPT, "open, %s",
				    v[i].what);
				seqread_free(sr);
			}
		}
		free(out);
	}
	free(obj);
	free(data);
}

Test(streams, truncation_with_a_consistent_chunk_table_refused)
{
	/* An attacker drops the last frame and shows a reader a chunk table
	 * that agrees: the new last chunk was not sealed as last. */
	struct ostream_result res;
	struct istream_chunk plan[MAXCH];
	struct rec r;
	uint8_t *data, *obj, *out;
	size_t objlen, got;

	make_victim("data/v", &data, &r, &res);
	obj = get_obj("data/v", &objlen);
	plan_from(&r, plan);
	put_copy("data/cut", obj, r.c[3].offset);
	out = malloc(4 * CS);
	cr_expect_eq(ist_plan("data/cut", &hdr, subkey, 3, plan, 3, 1, 1, out,
	    &got, NULL, NULL), ERR_CORRUPT);
	/* only the last chunk is affected: chunks 0 and 1 still read */
	cr_expect_eq(ist_plan("data/cut", &hdr, subkey, 3, plan, 2, 1, 0, out,
	    &got, NULL, NULL), ERR_OK);
	cr_expect_arr_eq(out, data, 2 * CS);
	/* and the original object read as 3 chunks fails at chunk 2 */
	cr_expect_eq(ist_plan("data/v", &hdr, subkey, 3, plan, 3, 1, 0, out,
	    &got, NULL, NULL), ERR_CORRUPT);
	free(out);
	free(obj);
	free(data);
}

Test(streams, swapped_and_appended_frames_refused)
{
	struct ostream_result res;
	struct istream_chunk plan[MAXCH], p2[MAXCH];
	struct rec r;
	uint8_t *data, *obj, *buf, *out;
	size_t objlen, got, flen;

	make_victim("data/v", &data, &r, &res);
	obj = get_obj("data/v", &objlen);
	plan_from(&r, plan);
	out = malloc(5 * CS);
	cr_assert_not_null(out);
	/* swap frames 0 and 1, of equal length */
	cr_assert_eq(r.c[0].sealed_len, r.c[1].sealed_len,
	    "test needs equal frames");
	flen = 4 + r.c[0].sealed_len;
	buf = malloc(objlen + flen);
	memcpy(buf, obj, objlen);
	memcpy(buf + r.c[0].offset, obj + r.c[1].offset, flen);
	memcpy(buf + r.c[1].offset, obj + r.c[0].offset, flen);
	put_copy("data/swapped", buf, objlen);
	cr_expect_eq(seq_all("data/swapped", &hdr, subkey, out, 3 * CS + 5,
	    &got, CS, NULL), ERR_CORRUPT, "seqread of swapped frames");
	cr_expect_eq(ist_plan("data/swapped", &hdr, subkey, 4, plan, 4, 2, 0,
	    out, &got, NULL, NULL), ERR_CORRUPT, "istream of swapped frames");
	/* frame 2 duplicated over frame 1 */
	memcpy(buf, obj, objlen);
	memcpy(buf + r.c[1].offset, obj + r.c[2].offset, flen);
	put_copy("data/dup", buf, objlen);
	cr_expect_eq(seq_all("data/dup", &hdr, subkey, out, 3 * CS + 5, &got,
	    CS, NULL), ERR_CORRUPT, "seqread of a duplicated frame");
	/* the last frame appended again: the old last is no longer last */
	memcpy(buf, obj, objlen);
	memcpy(buf + objlen, obj + r.c[3].offset, objlen - r.c[3].offset);
	put_copy("data/appended", buf, objlen + (objlen - r.c[3].offset));
	cr_expect_eq(seq_all("data/appended", &hdr, subkey, out, 5 * CS, &got,
	    CS, NULL), ERR_CORRUPT, "seqread of an appended frame");
	/* a frame from another object with the same header and key */
	{
		struct ostream_result res2;
		struct rec r2;
		uint8_t *data2, *obj2;
		size_t len2;

		data2 = make_data(3 * CS + 5, 99);
		memset(data2, 0x5a, 3 * CS + 5);
		randombytes_buf(data2, 3 * CS + 5);
		write_obj("data/other", &hdr, data2, 3 * CS + 5, 0, 0, &r2,
		    &res2);
		obj2 = get_obj("data/other", &len2);
		cr_assert_eq(r2.c[1].sealed_len, r.c[1].sealed_len);
		memcpy(buf, obj, objlen);
		memcpy(buf + r.c[1].offset, obj2 + r2.c[1].offset, flen);
		put_copy("data/spliced", buf, objlen);
		/* it authenticates (same key, index and header: the subkey is
		 * what makes objects distinct, FORMAT.md §6), but the bytes
		 * are the other object's: this documents why subkeys must be
		 * unique per object */
		cr_assert_eq(seq_all("data/spliced", &hdr, subkey, out,
		    3 * CS + 5, &got, CS, NULL), ERR_OK);
		cr_expect_arr_eq(out + CS, data2 + CS, CS);
		free(obj2);
		free(data2);
	}
	/* a plan that lies about a frame: length, plain size or offset */
	memcpy(p2, plan, sizeof(plan));
	p2[1].sealed_len++;
	cr_expect_eq(ist_plan("data/v", &hdr, subkey, 4, p2, 4, 1, 0, out,
	    &got, NULL, NULL), ERR_CORRUPT, "plan sealed_len");
	memcpy(p2, plan, sizeof(plan));
	p2[1].plain_len--;
	cr_expect_eq(ist_plan("data/v", &hdr, subkey, 4, p2, 4, 1, 0, out,
	    &got, NULL, NULL), ERR_CORRUPT, "plan plain_len");
	memcpy(p2, plan, sizeof(plan));
	p2[1].offset = plan[2].offset;
	p2[1].sealed_len = plan[2].sealed_len;
	cr_expect_eq(ist_plan("data/v", &hdr, subkey, 4, p2, 4, 1, 0, out,
	    &got, NULL, NULL), ERR_CORRUPT, "plan offset of another frame");
	memcpy(p2, plan, sizeof(plan));
	p2[0].sealed_len = (uint32_t)objfmt_max_sealed(CS) + 1;
	cr_expect_eq(ist_plan("data/v", &hdr, subkey, 4, p2, 4, 1, 0, out,
	    &got, NULL, NULL), ERR_CORRUPT, "plan length over the bound");
	memcpy(p2, plan, sizeof(plan));
	p2[0].sealed_len = 3;
	cr_expect_eq(ist_plan("data/v", &hdr, subkey, 4, p2, 4, 1, 0, out,
	    &got, NULL, NULL), ERR_CORRUPT, "plan length under the tag");
	free(buf);
	free(out);
	free(obj);
	free(data);
}

Test(streams, hostile_frame_lengths_refused)
{
	/* A frame length over the bound, or pointing past the end, is
	 * refused before anything is allocated or read. */
	static const uint32_t lens[] = { 0, 15, UINT32_MAX, 0x7fffffff };
	uint8_t h[OBJ_HEADER], buf[OBJ_HEADER + 64], out[64];
	size_t i, got;
	char key[32];

	objfmt_encode(&hdr, h);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memset(buf, 0, sizeof(buf));
		memcpy(buf, h, OBJ_HEADER);
		objfmt_put_le32(buf + OBJ_HEADER, lens[i]);
		snprintf(key, sizeof(key), "data/len%zu", i);
		put_copy(key, buf, sizeof(buf));
		cr_expect_eq(seq_all(key, &hdr, subkey, out, sizeof(out), &got,
		    sizeof(out), NULL), ERR_CORRUPT, "length %u", lens[i]);
	}
}

Test(streams, header_expectations_checked)
{
	struct ostream_result res;
	struct obj_header h;
	struct seqread *sr = NULL;
	struct istream *is = NULL;
	struct istream_chunk plan[MAXCH];
	struct rec r;
	uint8_t *data;

	make_victim("data/v", &data, &r, &res);
	plan_from(&r, plan);
	{
		struct obj_header got;

		cr_assert_eq(istream_read_header(st, "data/v", &got), ERR_OK);
		cr_expect_eq(got.type, hdr.type);
		cr_expect_eq(got.cipher, hdr.cipher);
		cr_expect_eq(got.content, hdr.content);
		cr_expect_eq(got.chunk_size, hdr.chunk_size);
		cr_expect_arr_eq(got.id, hdr.id, 16);
		cr_expect_eq(istream_read_header(st, "data/none", &got),
		    ERR_NOTFOUND);
	}
	h = hdr;
	h.id[0] ^= 1;
	cr_expect_eq(seqread_open(st, "data/v", &h, subkey, ALG, &sr),
	    ERR_CORRUPT);
	cr_expect_eq(istream_new(st, "data/v", &h, subkey, 4, plan, 4, 1, 0,
	    &is), ERR_CORRUPT);
	h = hdr;
	h.type = OBJ_TYPE_MANIFEST;
	cr_expect_eq(seqread_open(st, "data/v", &h, subkey, ALG, &sr),
	    ERR_CORRUPT);
	h = hdr;
	h.content = OBJ_CONTENT_TAR;
	cr_expect_eq(seqread_open(st, "data/v", &h, subkey, ALG, &sr),
	    ERR_CORRUPT);
	h = hdr;
	h.chunk_size = 2 * CS;
	cr_expect_eq(seqread_open(st, "data/v", &h, subkey, ALG, &sr),
	    ERR_CORRUPT);
	cr_expect_eq(seqread_open(st, "data/none", &hdr, subkey, ALG, &sr),
	    ERR_NOTFOUND);
	cr_expect_null(sr);
	cr_expect_null(is);
	free(data);
}

Test(streams, seqread_hash_only_at_end)
{
	struct ostream_result res;
	struct seqread *sr;
	struct rec r;
	uint8_t *data, buf[CS], hash[32];
	size_t got;

	make_victim("data/v", &data, &r, &res);
	cr_assert_eq(seqread_open(st, "data/v", &hdr, subkey, ALG, &sr),
	    ERR_OK);
	cr_expect_eq(seqread_object_size(sr), res.size);
	cr_assert_eq(seqread_read(sr, buf, 100, &got), ERR_OK);
	cr_expect_eq(got, 100);
	cr_expect_eq(seqread_hash(sr, hash), -1);
	seqread_free(sr);
	seqread_free(NULL);
	istream_free(NULL);
	free(data);
}

Test(streams, istream_stats_count_fetched_bytes)
{
	struct ostream_result res;
	struct istream_chunk plan[MAXCH];
	struct istream_stats sts;
	struct istream *is;
	struct rec r;
	const uint8_t *b;
	uint8_t *data;
	size_t len;
	uint64_t idx;

	make_victim("data/v", &data, &r, &res);
	plan_from(&r, plan);
	cr_assert_eq(istream_new(st, "data/v", &hdr, subkey, 4, plan + 1, 2,
	    2, 0, &is), ERR_OK);
	while (istream_next(is, &b, &len, &idx) == 1)
		;
	istream_stats(is, &sts);
	cr_expect_eq(sts.chunks, 2);
	cr_expect_eq(sts.fetched, 8 + (uint64_t)plan[1].sealed_len +
	    plan[2].sealed_len);
	istream_free(is);
	free(data);
}

/* Two objects for the multi-source tests: A (chunk size CS, 4 chunks) and
 * B (chunk size 2 * CS, 3 chunks), each with its own subkey and id.  Each
 * starts with a chunk of zeros: both frames 0 have the same length, so
 * one read as the other passes the frame length check. */
struct two {
	struct obj_header h[2];
	uint8_t sk[2][32];
	uint8_t *data[2];
	struct rec r[2];
	struct istream_source src[2];
};

static void
make_two(struct two *t)
{
	static const char *const keys[2] = { "data/a", "data/b" };
	static const size_t sizes2[2] = { 3 * CS + 5, 5 * CS + 7 };
	struct ostream_result res;
	size_t i;

	for (i = 0; i < 2; i++) {
		t->h[i] = hdr;
		t->h[i].chunk_size = (uint32_t)((i + 1) * CS);
		randombytes_buf(t->h[i].id, sizeof(t->h[i].id));
		randombytes_buf(t->sk[i], 32);
		t->data[i] = make_data(sizes2[i], (unsigned)(40 + i));
		memset(t->data[i], 0, t->h[i].chunk_size);
		write_obj_sk(keys[i], &t->h[i], t->sk[i], t->data[i],
		    sizes2[i], 1, 0, &t->r[i], &res);
		t->src[i].key = keys[i];
		t->src[i].h = &t->h[i];
		t->src[i].subkey = t->sk[i];
		t->src[i].nchunks = t->r[i].n;
	}
	cr_assert_eq(t->r[0].n, 4);
	cr_assert_eq(t->r[1].n, 3);
	cr_assert_neq(memcmp(t->h[0].id, t->h[1].id, 16), 0);
}

static void
free_two(struct two *t)
{
	free(t->data[0]);
	free(t->data[1]);
}

/* The plan item for chunk i of source src of t, read as source as. */
static struct istream_chunk
item_as(const struct two *t, uint32_t src, size_t i, uint32_t as)
{
	const struct ostream_chunk *c = &t->r[src].c[i];
	struct istream_chunk p;

	memset(&p, 0, sizeof(p));
	p.index = c->index;
	p.offset = c->offset;
	p.sealed_len = c->sealed_len;
	p.plain_len = c->plain_len;
	p.src = as;
	return p;
}

static struct istream_chunk
item(const struct two *t, uint32_t src, size_t i)
{
	return item_as(t, src, i, src);
}

/* Read plan from t's sources; 0 at the end of the plan, or the error. */
static int
ist_multi(const struct two *t, const struct istream_chunk *plan,
    size_t nplan, int threads, uint8_t *out, size_t *got)
{
	struct istream *is;
	int rc;

	if ((rc = istream_new_multi(st, t->src, 2, plan, nplan, threads,
	    &is)) != ERR_OK)
		return rc;
	rc = drain(is, plan, nplan, out, got);
	istream_free(is);
	return rc;
}

Test(streams, multi_source_interleaved_plan)
{
	struct istream_chunk plan[16];
	struct two t;
	uint8_t *out;
	size_t n = 0, got, pos, i;
	int threads;

	make_two(&t);
	/* A0 B0 A1 A0 B1 A3 B2 B0 A2 B1: repeats, both last chunks, more
	 * items than ring slots */
	plan[n++] = item(&t, 0, 0);
	plan[n++] = item(&t, 1, 0);
	plan[n++] = item(&t, 0, 1);
	plan[n++] = item(&t, 0, 0);
	plan[n++] = item(&t, 1, 1);
	plan[n++] = item(&t, 0, 3);
	plan[n++] = item(&t, 1, 2);
	plan[n++] = item(&t, 1, 0);
	plan[n++] = item(&t, 0, 2);
	plan[n++] = item(&t, 1, 1);
	out = malloc(n * 2 * CS);
	cr_assert_not_null(out);
	for (threads = 1; threads <= 3; threads++) {
		cr_assert_eq(ist_multi(&t, plan, n, threads, out, &got), 0,
		    "threads %d: %s", threads, err_get());
		for (i = 0, pos = 0; i < n; i++) {
			cr_expect_arr_eq(out + pos, t.data[plan[i].src] +
			    plan[i].index * t.h[plan[i].src].chunk_size,
			    plan[i].plain_len, "threads %d: item %zu",
			    threads, i);
			pos += plan[i].plain_len;
		}
		cr_expect_eq(got, pos);
	}
	free(out);
	free_two(&t);
}

/* The first item of a two-item plan reads; the second fails with
 * ERR_CORRUPT and a message holding want. */
static void
expect_second_fails(const struct two *t, const struct istream_chunk *plan,
    const char *want)
{
	struct istream *is;
	const uint8_t *b;
	size_t len;
	uint64_t idx;
	uint32_t src;

	cr_assert_eq(istream_new_multi(st, t->src, 2, plan, 2, 2, &is),
	    ERR_OK, "%s", err_get());
	cr_expect_eq(istream_next_src(is, &b, &len, &idx, &src), 1, "%s",
	    err_get());
	cr_expect_eq(src, plan[0].src);
	cr_expect_eq(istream_next_src(is, &b, &len, &idx, &src), ERR_CORRUPT,
	    "%s", want);
	cr_expect(strstr(err_get(), want) != NULL, "'%s' lacks '%s'",
	    err_get(), want);
	istream_free(is);
}

Test(streams, multi_source_wrong_source_refused)
{
	struct istream_chunk plan[2];
	struct two t;
	uint8_t *obj;
	size_t objlen;

	make_two(&t);
	cr_assert_eq(t.r[0].c[0].sealed_len, t.r[1].c[0].sealed_len,
	    "test needs equal frames 0");
	/* A's chunk 0 read as B: the same frame length, so B's frame 0 is
	 * read (it authenticates, being B's); its size gives it away */
	plan[0] = item(&t, 1, 1);
	plan[1] = item_as(&t, 0, 0, 1);
	expect_second_fails(&t, plan, "'data/b': chunk 0: decompressed size");
	/* A's chunk 1 read as B: B's frame there is another */
	plan[1] = item_as(&t, 0, 1, 1);
	expect_second_fails(&t, plan, "'data/b': chunk 1: frame length");
	/* B's chunk 1 read as A: longer than A's chunks can be */
	plan[0] = item(&t, 0, 1);
	plan[1] = item_as(&t, 1, 1, 0);
	expect_second_fails(&t, plan, "'data/a': chunk 1: invalid length");
	/* A's frames under B's header, opened with B's subkey and header:
	 * every chunk of A fails authentication */
	obj = get_obj("data/a", &objlen);
	objfmt_encode(&t.h[1], obj);
	put_copy("data/b2", obj, objlen);
	t.src[1].key = "data/b2";
	plan[0] = item(&t, 0, 2);
	plan[1] = item_as(&t, 0, 2, 1);
	expect_second_fails(&t, plan, "'data/b2': chunk 2 failed "
	    "authentication");
	free(obj);
	free_two(&t);
}

Test(streams, multi_source_src_out_of_range)
{
	struct istream_chunk plan[2];
	struct two t;

	make_two(&t);
	plan[0] = item(&t, 0, 0);
	plan[1] = item_as(&t, 1, 1, 2);
	expect_second_fails(&t, plan, "chunk 1: source 2 out of range");
	plan[1].src = UINT32_MAX;
	expect_second_fails(&t, plan, "source 4294967295 out of range");
	free_two(&t);
}

Test(streams, multi_source_open_checks)
{
	struct istream_chunk plan[MAXCH];
	struct istream *is = NULL;
	struct two t;
	uint8_t *out, hash[32];
	uint64_t size;
	size_t i, got;

	make_two(&t);
	/* no sources */
	cr_expect_eq(istream_new_multi(st, t.src, 0, plan, 0, 1, &is),
	    ERR_FAIL);
	/* a source's header is checked when the stream is made */
	t.src[1].h = &t.h[0];
	cr_expect_eq(istream_new_multi(st, t.src, 2, plan, 0, 1, &is),
	    ERR_CORRUPT);
	cr_expect(strstr(err_get(), "'data/b'") != NULL, "%s", err_get());
	cr_expect_null(is);
	t.src[1].h = &t.h[1];
	/* every chunk of A in order: read, but no object hash */
	for (i = 0; i < 4; i++)
		plan[i] = item(&t, 0, i);
	out = malloc(4 * CS);
	cr_assert_not_null(out);
	cr_assert_eq(istream_new_multi(st, t.src, 1, plan, 4, 2, &is), ERR_OK);
	cr_expect_eq(drain(is, plan, 4, out, &got), 0, "%s", err_get());
	cr_expect_eq(got, 3 * CS + 5);
	cr_expect_arr_eq(out, t.data[0], 3 * CS + 5);
	cr_expect_eq(istream_object_hash(is, hash, &size), -1);
	istream_free(is);
	free(out);
	free_two(&t);
}

/* Write 2.5 chunks, then free without finishing. */
static void
abort_case(int threads)
{
	struct ostream *os;
	struct rec r;
	uint8_t *data = make_data(5 * CS / 2, 3);
	uint64_t size;
	char tmp[256];

	memset(&r, 0, sizeof(r));
	cr_assert_eq(ostream_new(st, "data/aborted", &hdr, subkey, ALG, 3,
	    threads, rec_cb, &r, &os), ERR_OK);
	cr_assert_eq(ostream_write(os, data, 5 * CS / 2), ERR_OK);
	/* let the workers and the writer go idle first */
	usleep(200000);
	ostream_free(os);
	cr_expect_eq(storage_stat(st, "data/aborted", &size), ERR_NOTFOUND);
	snprintf(tmp, sizeof(tmp), "%s/tmp", root);
	cr_expect_eq(support_count_dir(tmp), 0, "temporaries left under tmp/");
	/* nothing at all in the repository but the (empty) tmp/ */
	cr_expect_leq(support_count_dir(root), 1);
	free(data);
	ostream_free(NULL);
}

Test(streams, free_without_finish_threads0, .timeout = 5)
{
	abort_case(0);
}

/* Threaded: ostream_free must wake the idle writer thread (it hung before
 * commit 64b6ac3). */
Test(streams, free_without_finish_threads1, .timeout = 5)
{
	abort_case(1);
}

Test(streams, free_without_finish_threads2, .timeout = 5)
{
	abort_case(2);
}

Test(streams, callback_failure_fails_the_stream)
{
	static const int threads[] = { 0, 2 };
	struct ostream_result res;
	struct ostream *os;
	struct rec r;
	uint8_t *data = make_data(4 * CS, 5);
	uint64_t size;
	size_t i;
	int rc;

	for (i = 0; i < 2; i++) {
		memset(&r, 0, sizeof(r));
		r.fail_at = 2;
		cr_assert_eq(ostream_new(st, "data/cbfail", &hdr, subkey, ALG,
		    3, threads[i], rec_cb, &r, &os), ERR_OK);
		rc = ostream_write(os, data, 4 * CS);
		if (rc == ERR_OK)
			rc = ostream_finish(os, &res);
		cr_expect_neq(rc, ERR_OK, "threads %d", threads[i]);
		ostream_free(os);
		cr_expect_eq(storage_stat(st, "data/cbfail", &size),
		    ERR_NOTFOUND);
	}
	free(data);
}

Test(streams, write_once_object)
{
	struct ostream_result res;
	struct ostream *os;
	struct rec r;
	uint8_t *data = make_data(100, 1);

	write_obj("data/once", &hdr, data, 100, 0, 0, &r, &res);
	cr_assert_eq(ostream_new(st, "data/once", &hdr, subkey, ALG, 3, 0, NULL,
	    NULL, &os), ERR_OK);
	cr_assert_eq(ostream_write(os, data, 50), ERR_OK);
	cr_expect_eq(ostream_finish(os, &res), ERR_EXISTS);
	ostream_free(os);
	free(data);
}
