/*
 * Content hashes: BLAKE2b-256 through libsodium (format version 1), BLAKE3
 * through its reference C implementation (format version 2), behind one
 * interface so that readers follow whatever an archive says it used.
 */
#include <stdio.h>
#include <string.h>

#include "hash.h"

void
hash_init(struct hash *h, int alg)
{
	h->alg = alg;
	if (alg == HASH_BLAKE2B)
		crypto_generichash_init(&h->u.b2, NULL, 0, HASH_LEN);
	else
		blake3_hasher_init(&h->u.b3);
}

void
hash_update(struct hash *h, const void *p, size_t n)
{
	if (h->alg == HASH_BLAKE2B)
		crypto_generichash_update(&h->u.b2, p, n);
	else
		blake3_hasher_update(&h->u.b3, p, n);
}

void
hash_zeros(struct hash *h, uint64_t n)
{
	static const uint8_t zeros[16384];
	size_t k;

	while (n > 0) {
		k = n > sizeof(zeros) ? sizeof(zeros) : (size_t)n;
		hash_update(h, zeros, k);
		n -= k;
	}
}

void
hash_final(struct hash *h, uint8_t out[HASH_LEN])
{
	if (h->alg == HASH_BLAKE2B)
		crypto_generichash_final(&h->u.b2, out, HASH_LEN);
	else
		blake3_hasher_finalize(&h->u.b3, out, HASH_LEN);
}

void
hash_buf(int alg, const void *p, size_t n, uint8_t out[HASH_LEN])
{
	struct hash h;

	hash_init(&h, alg);
	hash_update(&h, p, n);
	hash_final(&h, out);
}

const char *
hash_name(int alg)
{
	return alg == HASH_BLAKE2B ? "blake2b" : "blake3";
}

const char *
hash_label(int alg)
{
	return alg == HASH_BLAKE2B ? "BLAKE2b-256" : "BLAKE3";
}

int
hash_parse(const char *name)
{
	if (strcmp(name, "blake2b") == 0)
		return HASH_BLAKE2B;
	if (strcmp(name, "blake3") == 0)
		return HASH_BLAKE3;
	return -1;
}

const char *
hash_member(char buf[HASH_MEMBER_MAX], const char *prefix, int alg)
{
	snprintf(buf, HASH_MEMBER_MAX, "%s_%s", prefix, hash_name(alg));
	return buf;
}
