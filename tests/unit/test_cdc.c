/*
 * Content-defined chunking (core/cdc.c): the gear table and chunk ids
 * against independent implementations (Python's hashlib for BLAKE2b-64,
 * the BLAKE3 team's b3sum for keyed BLAKE3), the cut rule of cdc.h
 * against a byte-at-a-time model of it, cut points whatever the buffer
 * sizes, chunk sizes, locality of an edit, and the key's part in both.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "cdc.h"
#include "util.h"

#define MIB (1024u * 1024)

static void
setup(void)
{
	cr_assert(sodium_init() >= 0);
}

TestSuite(cdc, .init = setup);

/* Key 0, 1, ..., 31. */
static void
key_seq(uint8_t key[32])
{
	size_t i;

	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
}

/* n bytes of deterministic random data from a one-byte seed. */
static uint8_t *
random_data(size_t n, uint8_t tag)
{
	uint8_t seed[randombytes_SEEDBYTES] = { tag }, *b;

	b = malloc(n);
	cr_assert_not_null(b);
	randombytes_buf_deterministic(b, n, seed);
	return b;
}

/* A 64-bit xorshift, for piece sizes that do not repeat. */
static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * chunk(c, b, len, piece, lens, max): cut b[0..len) feeding cdc_cut()
 * pieces of `piece` bytes (0: random sizes from 1 to 64 KiB); the chunk
 * lengths go to lens, the last one ended by the caller as at end of
 * stream.  Returns how many chunks.
 */
static size_t
chunk(struct cdc *c, const uint8_t *b, size_t len, size_t piece,
    size_t *lens, size_t max)
{
	uint64_t s = 0x9e3779b97f4a7c15u;
	size_t off = 0, n, k, used, cur = 0, nch = 0;

	cdc_reset(c);
	while (off < len) {
		n = piece ? piece : 1 + (size_t)(xorshift(&s) % 65536);
		if (n > len - off)
			n = len - off;
		/* A piece can hold several cuts: feed it until it is used. */
		for (k = 0; k < n; k += used) {
			if (cdc_cut(c, b + off + k, n - k, &used)) {
				cr_assert(used >= 1 && used <= n - k);
				cr_assert_lt(nch, max);
				lens[nch++] = cur + used;
				cur = 0;
			} else {
				cr_assert_eq(used, n - k);
				cur += used;
			}
		}
		off += n;
	}
	if (cur > 0) {
		cr_assert_lt(nch, max);
		lens[nch++] = cur;
	}
	return nch;
}

/* ids(key, b, lens, n, out): the id of each chunk. */
static void
ids(const uint8_t key[32], const uint8_t *b, const size_t *lens, size_t n,
    uint8_t (*out)[CDC_ID_LEN])
{
	size_t i;

	for (i = 0; i < n; i++) {
		cdc_id(key, b, lens[i], out[i]);
		b += lens[i];
	}
}

Test(cdc, masks)
{
	cr_expect_eq(__builtin_popcountll(CDC_MASK_S), 21);
	cr_expect_eq(__builtin_popcountll(CDC_MASK_L), 17);
	/* Nothing below bit 43: a window of at least 44 bytes. */
	cr_expect_eq((CDC_MASK_S | CDC_MASK_L) & ((UINT64_C(1) << 43) - 1),
	    0);
}

/* gear[i] = LE64(BLAKE2b(digest_size=8, key, b"bkp-gear" + bytes([i])))
 * from Python's hashlib. */
Test(cdc, gear_table)
{
	static struct cdc c;
	uint8_t key[32] = { 0 };

	cdc_init(&c, key);
	cr_expect_eq(c.gear[0], UINT64_C(0x95ed160b3ed5dfc9));
	key_seq(key);
	cdc_init(&c, key);
	cr_expect_eq(c.gear[7], UINT64_C(0xf6b1d36c5879a76f));
	cr_expect_eq(c.gear[255], UINT64_C(0x10aa619986cf0531));
	cr_expect_eq(c.fp, 0);
	cr_expect_eq(c.pos, 0);
}

/* expect_id(key, in, want, same): in's id is (same) or is not want. */
static void
expect_id(const uint8_t key[32], const char *in, const char *want, int same)
{
	uint8_t id[CDC_ID_LEN];
	char hex[2 * CDC_ID_LEN + 1];

	cdc_id(key, in, strlen(in), id);
	util_hex(id, CDC_ID_LEN, hex);
	if (same)
		cr_expect_str_eq(hex, want, "id of \"%s\"", in);
	else
		cr_expect_str_neq(hex, want, "id of \"%s\"", in);
}

/* b3sum --keyed --length 16, key 0..31 on stdin. */
Test(cdc, id_known_answers)
{
	uint8_t key[32];

	key_seq(key);
	expect_id(key, "abc", "6da54495d8152f2bcba87bd7282df709", 1);
	expect_id(key, "", "73492b19995d71cdb1e9d74decc09809", 1);
	/* Deterministic, and nothing like it under another key. */
	expect_id(key, "abc", "6da54495d8152f2bcba87bd7282df709", 1);
	key[31] ^= 1;
	expect_id(key, "abc", "6da54495d8152f2bcba87bd7282df709", 0);
}

/*
 * The rule as cdc.h states it, one byte at a time, with fp rolling over
 * the whole stream and never reset: cdc_cut() hashes only the 64 bytes
 * before a chunk's first test and skips the rest, and must agree.
 */
static size_t
model(const struct cdc *c, const uint8_t *b, size_t len, size_t *lens,
    size_t max)
{
	uint64_t fp = 0;
	size_t i, l = 0, nch = 0;
	int cut;

	for (i = 0; i < len; i++) {
		fp = (fp << 1) + c->gear[b[i]];
		l++;
		if (l < CDC_MIN)
			cut = 0;
		else if (l < CDC_AVG)
			cut = (fp & CDC_MASK_S) == 0;
		else
			cut = l == CDC_MAX || (fp & CDC_MASK_L) == 0;
		if (cut) {
			cr_assert_lt(nch, max);
			lens[nch++] = l;
			l = 0;
		}
	}
	if (l > 0) {
		cr_assert_lt(nch, max);
		lens[nch++] = l;
	}
	return nch;
}

/*
 * Random data with runs of zeros (which cut only at CDC_MAX with this key,
 * zeros_cut_at_max): chunks cut by either mask and by the limit.
 */
#define SPLIT_LEN (24 * MIB + 12345)
#define SPLIT_MAX (SPLIT_LEN / CDC_MIN + 2)

static uint8_t *
split_data(void)
{
	uint8_t *b = random_data(SPLIT_LEN, 1);

	memset(b + 3 * MIB, 0, 5 * MIB);
	memset(b + 15 * MIB + 7, 0, 3 * MIB);
	return b;
}

Test(cdc, cuts_follow_the_rule)
{
	static struct cdc c;
	static size_t want[SPLIT_MAX], got[SPLIT_MAX];
	uint8_t key[32], *b = split_data();
	size_t n, m;

	key_seq(key);
	cdc_init(&c, key);
	n = model(&c, b, SPLIT_LEN, want, SPLIT_MAX);
	m = chunk(&c, b, SPLIT_LEN, SPLIT_LEN, got, SPLIT_MAX);
	cr_assert_eq(m, n);
	cr_expect_arr_eq(got, want, n * sizeof(want[0]));
	free(b);
}

Test(cdc, cuts_whatever_the_buffers, .timeout = 120)
{
	static const size_t pieces[] = { 1, 7, 63, 64, 65, 4096, 4099,
		65536, MIB, 0 };
	static struct cdc c;
	static size_t want[SPLIT_MAX], got[SPLIT_MAX];
	uint8_t key[32], *b = split_data();
	size_t i, n, m;

	key_seq(key);
	cdc_init(&c, key);
	n = chunk(&c, b, SPLIT_LEN, SPLIT_LEN, want, SPLIT_MAX);
	cr_assert_gt(n, 10);
	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		m = chunk(&c, b, SPLIT_LEN, pieces[i], got, SPLIT_MAX);
		cr_assert_eq(m, n, "pieces of %zu", pieces[i]);
		cr_expect_arr_eq(got, want, n * sizeof(want[0]),
		    "pieces of %zu", pieces[i]);
	}
	free(b);
}

/*
 * find_window(c, b, len, mask, avoid): the start of a 64-byte window of b
 * after which fp & mask is 0 and, unless avoid is 0, fp & avoid is not.  Its
 * first byte has an even gear value, so adds nothing to fp by the window's
 * end (its one bit is shifted out): fp matches from the second byte on as
 * well, and a test one byte early, from a hash begun one byte late, would
 * still see it.
 */
static size_t
find_window(const struct cdc *c, const uint8_t *b, size_t len,
    uint64_t mask, uint64_t avoid)
{
	uint64_t fp = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		fp = (fp << 1) + c->gear[b[i]];
		if (i >= 63 && (fp & mask) == 0 &&
		    (avoid == 0 || (fp & avoid) != 0) &&
		    (c->gear[b[i - 63]] & 1) == 0)
			return i - 63;
	}
	cr_assert_fail("no window in %zu bytes", len);
	return 0;
}

/*
 * The stage edges to the byte: a window that matches a mask, placed among
 * zeros (which never match with this key) to end at a chunk length L, cuts
 * there or not as the rule says; without a cut the chunk ends at CDC_MAX.
 */
Test(cdc, stage_edges)
{
	static struct cdc c;
	static size_t lens[8];
	static const struct {
		int small;      /* the window matches MASK_S, else only MASK_L */
		size_t end, want;
	} v[] = {
		{ 1, CDC_MIN - 1, CDC_MAX },
		{ 1, CDC_MIN, CDC_MIN },
		{ 1, CDC_AVG - 1, CDC_AVG - 1 },
		{ 0, CDC_AVG - 1, CDC_MAX },
		{ 0, CDC_AVG, CDC_AVG },
		{ 0, CDC_MAX - 1, CDC_MAX - 1 },
	};
	uint8_t key[32], *r = random_data(16 * MIB, 6), *b;
	size_t i, ws, wl, w, n, len = CDC_MAX + 1000;

	key_seq(key);
	cdc_init(&c, key);
	ws = find_window(&c, r, 16 * MIB, CDC_MASK_S, 0);
	wl = find_window(&c, r, 16 * MIB, CDC_MASK_L, CDC_MASK_S);
	b = malloc(len);
	cr_assert_not_null(b);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		w = v[i].small ? ws : wl;
		memset(b, 0, len);
		memcpy(b + v[i].end - 64, r + w, 64);
		n = chunk(&c, b, len, 4096, lens, 8);
		cr_assert_geq(n, 2);
		cr_expect_eq(lens[0], v[i].want, "window %s ending at %zu",
		    v[i].small ? "S" : "L", v[i].end);
	}
	free(b);
	free(r);
}

/*
 * After 64 zeros fp is gear[0] * (2^64 - 1), that is -gear[0], at every
 * test; with this key (as with all but about 1 key in 2^17) it has mask bits
 * set, so zeros never match and are cut at CDC_MAX.
 */
Test(cdc, zeros_cut_at_max)
{
	static struct cdc c;
	static size_t lens[8];
	uint8_t key[32], *z = calloc(1, 7 * MIB);
	size_t n;

	cr_assert_not_null(z);
	key_seq(key);
	cdc_init(&c, key);
	cr_assert_neq(-c.gear[0] & CDC_MASK_L, 0);
	n = chunk(&c, z, 7 * MIB, 64 * 1024, lens, 8);
	cr_assert_eq(n, 4);
	cr_expect_eq(lens[0], CDC_MAX);
	cr_expect_eq(lens[1], CDC_MAX);
	cr_expect_eq(lens[2], CDC_MAX);
	cr_expect_eq(lens[3], 7 * MIB - 3 * CDC_MAX);
	free(z);
}

#define SIZE_LEN (64 * MIB)
#define SIZE_MAX_CHUNKS (SIZE_LEN / CDC_MIN + 1)

Test(cdc, chunk_sizes, .timeout = 60)
{
	static struct cdc c;
	static size_t lens[SIZE_MAX_CHUNKS];
	uint8_t key[32], *b = random_data(SIZE_LEN, 2);
	size_t i, n, avg;

	key_seq(key);
	cdc_init(&c, key);
	n = chunk(&c, b, SIZE_LEN, MIB, lens, SIZE_MAX_CHUNKS);
	for (i = 0; i + 1 < n; i++) {
		cr_expect_geq(lens[i], CDC_MIN, "chunk %zu", i);
		cr_expect_leq(lens[i], CDC_MAX, "chunk %zu", i);
	}
	cr_expect(lens[n - 1] >= 1 && lens[n - 1] <= CDC_MAX);
	/* Every chunk but the last is cut by content: random data reaches
	 * CDC_MAX with odds of about e^-12 a chunk. */
	avg = SIZE_LEN / n;
	cr_expect(avg >= 300 * 1024 && avg <= 900 * 1024, "average %zu",
	    avg);
	free(b);
}

/*
 * 100 bytes inserted in the middle of 16 MiB: the chunk that holds them
 * changes, and the cut after it may move to another place in the next one
 * or two; every other chunk keeps its id.
 */
#define EDIT_LEN (16 * MIB)
#define EDIT_AT (8 * MIB + 333)
#define EDIT_MAX (EDIT_LEN / CDC_MIN + 2)

/* shared(a, na, b, nb): how many ids of a are also in b. */
static size_t
shared(uint8_t (*a)[CDC_ID_LEN], size_t na, uint8_t (*b)[CDC_ID_LEN],
    size_t nb)
{
	size_t i, j, k = 0;

	for (i = 0; i < na; i++)
		for (j = 0; j < nb; j++)
			if (memcmp(a[i], b[j], CDC_ID_LEN) == 0) {
				k++;
				break;
			}
	return k;
}

Test(cdc, insertion_is_local)
{
	static struct cdc c;
	static size_t la[EDIT_MAX], lb[EDIT_MAX];
	static uint8_t ia[EDIT_MAX][CDC_ID_LEN], ib[EDIT_MAX][CDC_ID_LEN];
	uint8_t key[32], *a = random_data(EDIT_LEN, 3), *b;
	size_t na, nb, k;

	b = malloc(EDIT_LEN + 100);
	cr_assert_not_null(b);
	memcpy(b, a, EDIT_AT);
	memset(b + EDIT_AT, 'x', 100);
	memcpy(b + EDIT_AT + 100, a + EDIT_AT, EDIT_LEN - EDIT_AT);

	key_seq(key);
	cdc_init(&c, key);
	na = chunk(&c, a, EDIT_LEN, 4096, la, EDIT_MAX);
	nb = chunk(&c, b, EDIT_LEN + 100, 4096, lb, EDIT_MAX);
	ids(key, a, la, na, ia);
	ids(key, b, lb, nb, ib);
	cr_assert_gt(na, 10);
	k = shared(ia, na, ib, nb);
	cr_expect_lt(k, na, "the edit changed no chunk");
	cr_expect_geq(k + 3, na, "%zu of %zu chunks kept", k, na);
	free(a);
	free(b);
}

/* common_cuts(la, na, lb, nb): how many cut offsets two chunkings of the
 * same stream share, the end of the stream left out. */
static size_t
common_cuts(const size_t *la, size_t na, const size_t *lb, size_t nb)
{
	size_t i = 0, j = 0, ca = la[0], cb = lb[0], k = 0;

	while (i + 1 < na && j + 1 < nb) {
		if (ca == cb)
			k++;
		if (ca <= cb)
			ca += la[++i];
		else
			cb += lb[++j];
	}
	return k;
}

Test(cdc, key_moves_the_cuts)
{
	static struct cdc c;
	static size_t la[EDIT_MAX], lb[EDIT_MAX];
	uint8_t key[32], *b = random_data(EDIT_LEN, 4);
	size_t na, nb, k;

	key_seq(key);
	cdc_init(&c, key);
	na = chunk(&c, b, EDIT_LEN, MIB, la, EDIT_MAX);
	cr_assert_eq(common_cuts(la, na, la, na), na - 1);
	key[0] ^= 0x80;
	cdc_init(&c, key);
	nb = chunk(&c, b, EDIT_LEN, MIB, lb, EDIT_MAX);
	cr_assert_gt(na, 10);
	cr_assert_gt(nb, 10);
	k = common_cuts(la, na, lb, nb);
	cr_expect_lt(k, 2, "%zu of %zu cut offsets shared", k, na - 1);
	free(b);
}

Test(cdc, empty_and_reset)
{
	static struct cdc c;
	uint8_t key[32], *b = random_data(CDC_MIN + 10, 5);
	size_t used = 99;

	key_seq(key);
	cdc_init(&c, key);
	cr_expect_eq(cdc_cut(&c, b, 0, &used), 0);
	cr_expect_eq(used, 0);
	cr_expect_eq(cdc_cut(&c, b, CDC_MIN - 1, &used), 0);
	cr_expect_eq(used, CDC_MIN - 1);
	cr_expect_eq(c.pos, CDC_MIN - 1);
	cdc_reset(&c);
	cr_expect_eq(c.pos, 0);
	cr_expect_eq(c.fp, 0);
	free(b);
}
