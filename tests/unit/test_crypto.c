/*
 * Unit tests for core/crypto.c: seal/open round trips for both ciphers,
 * every way an open must fail (index, last flag, additional data, key,
 * tampered bytes, short input), subkey derivation as docs/FORMAT.md §4
 * specifies it, cipher names, and the nonce layout of §6 proven by
 * decrypting with libsodium directly.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "crypto.h"
#include "err.h"

static void
setup(void)
{
	cr_assert_eq(crypto_init(), 0);
}

TestSuite(crypto, .init = setup);

/* The ciphers this CPU can run. */
static size_t
ciphers(int out[2])
{
	size_t n = 0;

	if (crypto_cipher_available(CRYPTO_AES256GCM))
		out[n++] = CRYPTO_AES256GCM;
	out[n++] = CRYPTO_XCHACHA20;
	return n;
}

static void
fill(uint8_t *b, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 131u + seed * 7u + (i >> 8));
}

Test(crypto, roundtrip_both_ciphers)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 4096, 65537 };
	static const uint64_t idx[] = { 0, 1, 255, 256, UINT64_MAX };
	uint8_t key[CRYPTO_KEY], ad[64];
	uint8_t *in, *sealed, *out;
	int cs[2];
	size_t nc, c, s, k;

	nc = ciphers(cs);
	in = malloc(65537);
	sealed = malloc(65537 + CRYPTO_TAG);
	out = malloc(65537);
	cr_assert(in && sealed && out);
	randombytes_buf(key, sizeof(key));
	fill(ad, sizeof(ad), 9);
	for (c = 0; c < nc; c++)
		for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
			for (k = 0; k < sizeof(idx) / sizeof(idx[0]); k++) {
				int last = (int)(k & 1);

				fill(in, sizes[s], (unsigned)(s + k));
				cr_assert_eq(crypto_seal(cs[c], key, ad,
				    sizeof(ad), idx[k], last, in, sizes[s],
				    sealed), ERR_OK);
				if (sizes[s] >= 16)
					cr_expect_neq(memcmp(sealed, in,
					    sizes[s]), 0);
				memset(out, 0xee, sizes[s]);
				cr_assert_eq(crypto_open(cs[c], key, ad,
				    sizeof(ad), idx[k], last, sealed,
				    sizes[s] + CRYPTO_TAG, out), ERR_OK,
				    "cipher %d size %zu index %llu", cs[c],
				    sizes[s], (unsigned long long)idx[k]);
				cr_expect_arr_eq(out, in, sizes[s]);
			}
	free(in);
	free(sealed);
	free(out);
}

Test(crypto, open_must_fail)
{
	enum { N = 100 };
	uint8_t key[CRYPTO_KEY], key2[CRYPTO_KEY], ad[64], ad2[64];
	uint8_t in[N], sealed[N + CRYPTO_TAG], bad[N + CRYPTO_TAG], out[N];
	int cs[2];
	size_t nc, c, pos;

	nc = ciphers(cs);
	randombytes_buf(key, sizeof(key));
	memcpy(key2, key, sizeof(key));
	key2[31] ^= 1;
	fill(ad, sizeof(ad), 1);
	memcpy(ad2, ad, sizeof(ad));
	ad2[40] ^= 0x80;
	fill(in, sizeof(in), 2);
	for (c = 0; c < nc; c++) {
		int ci = cs[c];

		cr_assert_eq(crypto_seal(ci, key, ad, sizeof(ad), 7, 0, in, N,
		    sealed), ERR_OK);
		/* sanity: the reference open works */
		cr_assert_eq(crypto_open(ci, key, ad, sizeof(ad), 7, 0, sealed,
		    sizeof(sealed), out), ERR_OK);
		cr_expect_eq(crypto_open(ci, key, ad, sizeof(ad), 6, 0,
		    sealed, sizeof(sealed), out), ERR_CORRUPT, "index 6");
		cr_expect_eq(crypto_open(ci, key, ad, sizeof(ad), 8, 0,
		    sealed, sizeof(sealed), out), ERR_CORRUPT, "index 8");
		cr_expect_eq(crypto_open(ci, key, ad, sizeof(ad),
		    7 | (1ull << 56), 0, sealed, sizeof(sealed), out),
		    ERR_CORRUPT, "index high byte");
		cr_expect_eq(crypto_open(ci, key, ad, sizeof(ad), 7, 1,
		    sealed, sizeof(sealed), out), ERR_CORRUPT, "last flag");
		cr_expect_eq(crypto_open(ci, key, ad2, sizeof(ad2), 7, 0,
		    sealed, sizeof(sealed), out), ERR_CORRUPT, "other ad");
		cr_expect_eq(crypto_open(ci, key, ad, sizeof(ad) - 1, 7, 0,
		    sealed, sizeof(sealed), out), ERR_CORRUPT, "short ad");
		cr_expect_eq(crypto_open(ci, key, NULL, 0, 7, 0,
		    sealed, sizeof(sealed), out), ERR_CORRUPT, "no ad");
		cr_expect_eq(crypto_open(ci, key2, ad, sizeof(ad), 7, 0,
		    sealed, sizeof(sealed), out), ERR_CORRUPT, "other key");
		/* the other cipher under the same key */
		if (nc == 2)
			cr_expect_eq(crypto_open(cs[1 - c], key, ad,
			    sizeof(ad), 7, 0, sealed, sizeof(sealed), out),
			    ERR_CORRUPT, "other cipher");
		/* every single flipped bit position class: first, middle,
		 * last ciphertext byte and every tag byte */
		for (pos = 0; pos < sizeof(sealed); pos++) {
			if (!(pos == 0 || pos == N / 2 || pos == N - 1 ||
			    pos >= N))
				continue;
			memcpy(bad, sealed, sizeof(sealed));
			bad[pos] ^= 0x01;
			cr_expect_eq(crypto_open(ci, key, ad, sizeof(ad), 7, 0,
			    bad, sizeof(bad), out), ERR_CORRUPT,
			    "flipped byte %zu", pos);
		}
		/* truncated: one byte short, tag only, less than a tag */
		cr_expect_eq(crypto_open(ci, key, ad, sizeof(ad), 7, 0, sealed,
		    sizeof(sealed) - 1, out), ERR_CORRUPT, "one short");
		cr_expect_eq(crypto_open(ci, key, ad, sizeof(ad), 7, 0, sealed,
		    CRYPTO_TAG, out), ERR_CORRUPT, "tag only");
		cr_expect_eq(crypto_open(ci, key, ad, sizeof(ad), 7, 0, sealed,
		    CRYPTO_TAG - 1, out), ERR_CORRUPT, "shorter than tag");
		cr_expect_eq(crypto_open(ci, key, ad, sizeof(ad), 7, 0, sealed,
		    0, out), ERR_CORRUPT, "empty");
	}
}

Test(crypto, empty_chunk_seals_to_tag_and_authenticates)
{
	uint8_t key[CRYPTO_KEY], sealed[CRYPTO_TAG], out[1];
	int cs[2];
	size_t nc, c;

	nc = ciphers(cs);
	randombytes_buf(key, sizeof(key));
	for (c = 0; c < nc; c++) {
		cr_assert_eq(crypto_seal(cs[c], key, NULL, 0, 0, 1, NULL, 0,
		    sealed), ERR_OK);
		cr_expect_eq(crypto_open(cs[c], key, NULL, 0, 0, 1, sealed,
		    CRYPTO_TAG, out), ERR_OK);
		cr_expect_eq(crypto_open(cs[c], key, NULL, 0, 0, 0, sealed,
		    CRYPTO_TAG, out), ERR_CORRUPT);
	}
}

Test(crypto, unknown_cipher_refused)
{
	uint8_t key[CRYPTO_KEY] = { 0 }, buf[64] = { 0 }, out[64];

	cr_expect_neq(crypto_seal(0, key, NULL, 0, 0, 0, buf, 8, out), ERR_OK);
	cr_expect_neq(crypto_seal(3, key, NULL, 0, 0, 0, buf, 8, out), ERR_OK);
	cr_expect_eq(crypto_open(3, key, NULL, 0, 0, 0, buf, 32, out),
	    ERR_CORRUPT);
	cr_expect_eq(crypto_open(0, key, NULL, 0, 0, 0, buf, 32, out),
	    ERR_CORRUPT);
}

Test(crypto, subkey_matches_spec)
{
	static const char *streams[] = { "data", "manifest", "", "x" };
	uint8_t dk[CRYPTO_KEY], dk2[CRYPTO_KEY];
	uint8_t got[4][CRYPTO_KEY], want[CRYPTO_KEY], other[CRYPTO_KEY];
	uint8_t personal[16];
	size_t i, j;

	randombytes_buf(dk, sizeof(dk));
	memcpy(dk2, dk, sizeof(dk));
	dk2[0] ^= 1;
	memset(personal, 0, sizeof(personal));
	memcpy(personal, "bkp-subkey-v1", 13);
	for (i = 0; i < 4; i++) {
		crypto_subkey(dk, streams[i], got[i]);
		cr_assert_eq(crypto_generichash_blake2b_salt_personal(want,
		    sizeof(want), (const uint8_t *)streams[i],
		    strlen(streams[i]), dk, sizeof(dk), NULL, personal), 0);
		cr_expect_arr_eq(got[i], want, CRYPTO_KEY, "stream '%s'",
		    streams[i]);
		/* a different data key gives a different subkey */
		crypto_subkey(dk2, streams[i], other);
		cr_expect_neq(memcmp(other, got[i], CRYPTO_KEY), 0);
		/* not the data key itself, nor an unpersonalised hash */
		cr_expect_neq(memcmp(got[i], dk, CRYPTO_KEY), 0);
		crypto_generichash(want, sizeof(want),
		    (const uint8_t *)streams[i], strlen(streams[i]), dk,
		    sizeof(dk));
		cr_expect_neq(memcmp(got[i], want, CRYPTO_KEY), 0);
	}
	for (i = 0; i < 4; i++)
		for (j = i + 1; j < 4; j++)
			cr_expect_neq(memcmp(got[i], got[j], CRYPTO_KEY), 0,
			    "'%s' == '%s'", streams[i], streams[j]);
	/* deterministic */
	crypto_subkey(dk, "data", want);
	cr_expect_arr_eq(want, got[0], CRYPTO_KEY);
}

Test(crypto, subkey_known_answer)
{
	/* Fixed vector: data key 00 01 .. 1f, stream "data", computed from
	 * the spec with libsodium; guards against accidental change. */
	uint8_t dk[CRYPTO_KEY], sk[CRYPTO_KEY], want[CRYPTO_KEY];
	uint8_t personal[16] = { 'b', 'k', 'p', '-', 's', 'u', 'b', 'k', 'e',
	    'y', '-', 'v', '1', 0, 0, 0 };
	size_t i;

	for (i = 0; i < sizeof(dk); i++)
		dk[i] = (uint8_t)i;
	crypto_subkey(dk, "manifest", sk);
	crypto_generichash_blake2b_salt_personal(want, 32,
	    (const uint8_t *)"manifest", 8, dk, 32, NULL, personal);
	cr_expect_arr_eq(sk, want, 32);
}

Test(crypto, cipher_names)
{
	static const struct {
		int c;
		const char *name;
	} v[] = {
		{ CRYPTO_AES256GCM, "aes256gcm" },
		{ CRYPTO_XCHACHA20, "xchacha20poly1305" },
		{ CRYPTO_AUTO, "auto" },
	};
	static const char *bad[] = {
		"", "AES256GCM", "aes256", "aes256gcm ", "xchacha20",
		"chacha20poly1305", "xchacha20poly1305-ietf", "none", "Auto",
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		cr_expect_str_eq(crypto_cipher_name(v[i].c), v[i].name);
		cr_expect_eq(crypto_cipher_parse(v[i].name), v[i].c);
		cr_expect_eq(crypto_cipher_parse(crypto_cipher_name(v[i].c)),
		    v[i].c);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(crypto_cipher_parse(bad[i]), -1, "'%s'", bad[i]);
}

Test(crypto, cipher_pick)
{
	cr_expect_eq(crypto_cipher_pick(CRYPTO_XCHACHA20), CRYPTO_XCHACHA20);
	cr_expect_eq(crypto_cipher_pick(CRYPTO_AES256GCM), CRYPTO_AES256GCM);
	cr_expect_eq(crypto_cipher_pick(CRYPTO_AUTO),
	    crypto_aead_aes256gcm_is_available() ? CRYPTO_AES256GCM :
	    CRYPTO_XCHACHA20);
	cr_expect_eq(crypto_cipher_available(CRYPTO_XCHACHA20), 1);
	cr_expect_eq(crypto_cipher_available(CRYPTO_AUTO), 0);
	cr_expect_eq(crypto_cipher_available(7), 0);
}

/* Nonce per FORMAT.md §6: index 8 bytes big-endian, last, zeros. */
static void
spec_nonce(uint8_t *n, size_t len, uint64_t index, int last)
{
	int i;

	memset(n, 0, len);
	for (i = 0; i < 8; i++)
		n[i] = (uint8_t)(index >> (8 * (7 - i)));
	n[8] = (uint8_t)last;
}

Test(crypto, nonce_layout_matches_spec)
{
	static const struct {
		uint64_t index;
		int last;
	} v[] = {
		{ 0, 0 }, { 0, 1 }, { 1, 0 }, { 0x0102030405060708ull, 1 },
		{ 0xff00000000000001ull, 0 }, { 300, 1 },
	};
	uint8_t key[CRYPTO_KEY], ad[64], in[33], sealed[33 + CRYPTO_TAG];
	uint8_t out[33], nonce[24];
	unsigned long long outlen;
	size_t i;

	randombytes_buf(key, sizeof(key));
	fill(ad, sizeof(ad), 3);
	fill(in, sizeof(in), 4);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		/* XChaCha20-Poly1305-IETF: 24-byte nonce */
		cr_assert_eq(crypto_seal(CRYPTO_XCHACHA20, key, ad, sizeof(ad),
		    v[i].index, v[i].last, in, sizeof(in), sealed), ERR_OK);
		spec_nonce(nonce, 24, v[i].index, v[i].last);
		cr_expect_eq(crypto_aead_xchacha20poly1305_ietf_decrypt(out,
		    &outlen, NULL, sealed, sizeof(sealed), ad, sizeof(ad),
		    nonce, key), 0, "xchacha nonce for %llu/%d",
		    (unsigned long long)v[i].index, v[i].last);
		cr_expect_eq(outlen, sizeof(in));
		cr_expect_arr_eq(out, in, sizeof(in));
		/* a nonce with the other last byte must not decrypt */
		nonce[8] ^= 1;
		cr_expect_neq(crypto_aead_xchacha20poly1305_ietf_decrypt(out,
		    &outlen, NULL, sealed, sizeof(sealed), ad, sizeof(ad),
		    nonce, key), 0);
		/* and our hand-made seal opens with crypto_open */
		spec_nonce(nonce, 24, v[i].index, v[i].last);
		crypto_aead_xchacha20poly1305_ietf_encrypt(sealed, &outlen, in,
		    sizeof(in), ad, sizeof(ad), NULL, nonce, key);
		cr_expect_eq(crypto_open(CRYPTO_XCHACHA20, key, ad, sizeof(ad),
		    v[i].index, v[i].last, sealed, sizeof(sealed), out),
		    ERR_OK);

		if (!crypto_aead_aes256gcm_is_available())
			continue;
		/* AES-256-GCM: 12-byte nonce */
		cr_assert_eq(crypto_seal(CRYPTO_AES256GCM, key, ad, sizeof(ad),
		    v[i].index, v[i].last, in, sizeof(in), sealed), ERR_OK);
		spec_nonce(nonce, 12, v[i].index, v[i].last);
		cr_expect_eq(crypto_aead_aes256gcm_decrypt(out, &outlen, NULL,
		    sealed, sizeof(sealed), ad, sizeof(ad), nonce, key), 0,
		    "aes nonce for %llu/%d", (unsigned long long)v[i].index,
		    v[i].last);
		cr_expect_eq(outlen, sizeof(in));
		cr_expect_arr_eq(out, in, sizeof(in));
		nonce[8] ^= 1;
		cr_expect_neq(crypto_aead_aes256gcm_decrypt(out, &outlen, NULL,
		    sealed, sizeof(sealed), ad, sizeof(ad), nonce, key), 0);
		spec_nonce(nonce, 12, v[i].index, v[i].last);
		crypto_aead_aes256gcm_encrypt(sealed, &outlen, in, sizeof(in),
		    ad, sizeof(ad), NULL, nonce, key);
		cr_expect_eq(crypto_open(CRYPTO_AES256GCM, key, ad, sizeof(ad),
		    v[i].index, v[i].last, sealed, sizeof(sealed), out),
		    ERR_OK);
	}
}

/*
 * AES-256-GCM goes through OpenSSL; its bytes must be libsodium's
 * crypto_aead_aes256gcm bytes exactly (FORMAT.md §6), at every length
 * including full 4 MiB chunks (the bulk code paths), and a failed open
 * must leave no unauthenticated plaintext behind.
 */
Test(crypto, aes_gcm_is_byte_identical_to_libsodium)
{
	static const size_t lens[] = { 0, 1, 15, 16, 17, 255, 65536 + 3,
	    (4u << 20), (4u << 20) + 13 };
	size_t max = (4u << 20) + 13, i, j;
	uint8_t key[CRYPTO_KEY], ad[64], nonce[12];
	uint8_t *in = malloc(max), *ours = malloc(max + CRYPTO_TAG);
	uint8_t *theirs = malloc(max + CRYPTO_TAG), *out = malloc(max);
	unsigned long long outlen;
	int zero;

	cr_assert(in != NULL && ours != NULL && theirs != NULL && out != NULL);
	if (!crypto_aead_aes256gcm_is_available())
		cr_skip_test("libsodium has no AES-GCM on this CPU to compare");
	randombytes_buf(key, sizeof(key));
	randombytes_buf(ad, sizeof(ad));
	randombytes_buf(in, max);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		cr_assert_eq(crypto_seal(CRYPTO_AES256GCM, key, ad, sizeof(ad),
		    i + 7, (int)(i & 1), in, lens[i], ours), ERR_OK);
		spec_nonce(nonce, 12, i + 7, (int)(i & 1));
		crypto_aead_aes256gcm_encrypt(theirs, &outlen, in, lens[i], ad,
		    sizeof(ad), NULL, nonce, key);
		cr_assert_eq(outlen, lens[i] + CRYPTO_TAG);
		cr_assert_arr_eq(ours, theirs, lens[i] + CRYPTO_TAG,
		    "sealed bytes differ at length %zu", lens[i]);
		cr_assert_eq(crypto_open(CRYPTO_AES256GCM, key, ad, sizeof(ad),
		    i + 7, (int)(i & 1), theirs, lens[i] + CRYPTO_TAG, out),
		    ERR_OK);
		cr_assert_arr_eq(out, in, lens[i]);
		/* a flipped tag bit: refused, output wiped */
		theirs[lens[i] + CRYPTO_TAG - 1] ^= 0x40;
		cr_assert_eq(crypto_open(CRYPTO_AES256GCM, key, ad, sizeof(ad),
		    i + 7, (int)(i & 1), theirs, lens[i] + CRYPTO_TAG, out),
		    ERR_CORRUPT);
		for (zero = 1, j = 0; j < lens[i]; j++)
			zero &= out[j] == 0;
		cr_assert(zero, "plaintext left behind at length %zu", lens[i]);
	}
	free(in);
	free(ours);
	free(theirs);
	free(out);
}
