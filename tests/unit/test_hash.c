/*
 * Content hashes (core/hash.c): both algorithms against independent
 * digests (RFC 7693 / Python's hashlib for BLAKE2b-256, the BLAKE3 team's
 * b3sum for BLAKE3), incremental feeding against one-shot, holes, names.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "hash.h"
#include "util.h"

/* 3 MiB + 12345 bytes: every BLAKE3 SIMD width and a partial last chunk. */
#define PAT_LEN ((3u << 20) + 12345u)

static uint8_t *
pattern(void)
{
	uint8_t *b = malloc(PAT_LEN);
	size_t i;

	cr_assert_not_null(b);
	for (i = 0; i < PAT_LEN; i++)
		b[i] = (uint8_t)(i * 31u + (i >> 11));
	return b;
}

static void
expect_hex(const uint8_t h[HASH_LEN], const char *want, const char *what)
{
	char hex[2 * HASH_LEN + 1];

	util_hex(h, HASH_LEN, hex);
	cr_expect_str_eq(hex, want, "%s", what);
}

Test(hash, known_digests)
{
	static const struct {
		int alg;
		const char *in, *want;
	} v[] = {
		{ HASH_BLAKE2B, "", "0e5751c026e543b2e8ab2eb06099daa1d1e5df47"
		    "778f7787faab45cdf12fe3a8" },
		{ HASH_BLAKE2B, "abc", "bddd813c634239723171ef3fee98579b9496"
		    "4e3bb1cb3e427262c8c068d52319" },
		{ HASH_BLAKE3, "", "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9a"
		    "dc112b7cc9a93cae41f3262" },
		{ HASH_BLAKE3, "abc", "6437b3ac38465133ffb63b75273a8db548c558"
		    "465d79db03fd359c6cd5bd9d85" },
	};
	uint8_t h[HASH_LEN];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hash_buf(v[i].alg, v[i].in, strlen(v[i].in), h);
		expect_hex(h, v[i].want, hash_name(v[i].alg));
	}
}

Test(hash, long_input_and_any_split)
{
	static const struct {
		int alg;
		const char *want;
	} v[] = {
		{ HASH_BLAKE2B, "60b4b6bc908c1c460ab1ded586fcf1a9b668154df98b9d"
		    "1099bd38f547749fe7" },
		{ HASH_BLAKE3, "cbf16d14f6f9d5e84d8116e2ca4f05f043a89a40a99b7be"
		    "0cf6a9ee38407b3df" },
	};
	static const size_t steps[] = { 1, 63, 64, 1023, 1024, 1025, 4096,
		65536, 1u << 20, PAT_LEN };
	uint8_t *b = pattern(), h[HASH_LEN];
	struct hash st;
	size_t i, k, off, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hash_buf(v[i].alg, b, PAT_LEN, h);
		expect_hex(h, v[i].want, "one shot");
		for (k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
			if (steps[k] < 64 && v[i].alg == HASH_BLAKE2B)
				continue;       /* slow and says nothing new */
			hash_init(&st, v[i].alg);
			for (off = 0; off < PAT_LEN; off += n) {
				n = PAT_LEN - off < steps[k] ? PAT_LEN - off :
				    steps[k];
				hash_update(&st, b + off, n);
			}
			hash_final(&st, h);
			expect_hex(h, v[i].want, "in pieces");
		}
	}
	free(b);
}

Test(hash, zeros_are_holes)
{
	static const uint64_t sizes[] = { 0, 1, 16383, 16384, 16385,
		100000 };
	static const int algs[] = { HASH_BLAKE2B, HASH_BLAKE3 };
	uint8_t *z = calloc(1, 100000), a[HASH_LEN], b[HASH_LEN];
	struct hash st;
	size_t i, k;

	cr_assert_not_null(z);
	for (k = 0; k < 2; k++)
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			hash_init(&st, algs[k]);
			hash_update(&st, "x", 1);
			hash_zeros(&st, sizes[i]);
			hash_final(&st, a);
			hash_init(&st, algs[k]);
			hash_update(&st, "x", 1);
			hash_update(&st, z, (size_t)sizes[i]);
			hash_final(&st, b);
			cr_expect_arr_eq(a, b, HASH_LEN, "%s, %llu zeros",
			    hash_name(algs[k]), (unsigned long long)sizes[i]);
		}
	free(z);
}

Test(hash, names)
{
	cr_expect_eq(hash_parse("blake2b"), HASH_BLAKE2B);
	cr_expect_eq(hash_parse("blake3"), HASH_BLAKE3);
	cr_expect_eq(hash_parse("BLAKE3"), -1);
	cr_expect_eq(hash_parse("sha256"), -1);
	cr_expect_eq(hash_parse(""), -1);
	cr_expect_str_eq(hash_name(HASH_BLAKE2B), "blake2b");
	cr_expect_str_eq(hash_name(HASH_BLAKE3), "blake3");
	cr_expect_str_eq(hash_label(HASH_BLAKE2B), "BLAKE2b-256");
	cr_expect_str_eq(hash_label(HASH_BLAKE3), "BLAKE3");
	cr_expect_eq(HASH_DEFAULT, HASH_BLAKE3);
}

Test(hash, members)
{
	char m[HASH_MEMBER_MAX];

	cr_expect_str_eq(hash_member(m, "data", HASH_BLAKE3), "data_blake3");
	cr_expect_str_eq(hash_member(m, "manifest", HASH_BLAKE2B),
	    "manifest_blake2b");
}
