/*
 * Content-defined chunking (FastCDC with a keyed gear table) and keyed
 * chunk identities; the rule is spelled out in cdc.h.
 *
 * cdc_cut() walks the current chunk in stages by its length, each stage a
 * tight loop of its own: the bytes that cannot reach the first test are
 * skipped, the 64 before it only hashed, then the two masks are tested in
 * turn.  A stage ends where the chunk's length says, not where the buffer
 * does, which is what keeps the cut points independent of the caller's
 * buffer sizes.
 */
#include <string.h>

#include <blake3.h>
#include <sodium.h>

#include "cdc.h"

/* fp's top bit depends on the last 64 bytes and nothing before them. */
#define CDC_WINDOW 64

void
cdc_init(struct cdc *c, const uint8_t key[32])
{
	uint8_t msg[9], out[8];
	unsigned i, j;

	memcpy(msg, "bkp-gear", 8);
	for (i = 0; i < 256; i++) {
		msg[8] = (uint8_t)i;
		/* BLAKE2b with an 8-byte digest: the one-shot call takes any
		 * length from 1 to 64 (crypto_generichash_BYTES_MIN is a
		 * recommendation for digests used as hashes); it cannot fail
		 * with these lengths. */
		(void)crypto_generichash(out, sizeof(out), msg, sizeof(msg),
		    key, 32);
		c->gear[i] = 0;
		for (j = 0; j < 8; j++)
			c->gear[i] |= (uint64_t)out[j] << (8 * j);
	}
	sodium_memzero(out, sizeof(out));
	cdc_reset(c);
}

void
cdc_reset(struct cdc *c)
{
	c->fp = 0;
	c->pos = 0;
}

/* room(c, end, left): how many of the left bytes bring the chunk up to end
 * bytes at most. */
static size_t
room(const struct cdc *c, size_t end, size_t left)
{
	if (c->pos >= end)
		return 0;
	return end - c->pos < left ? end - c->pos : left;
}

/* hash(c, p, n): feed p[0..n) into the fingerprint, testing nothing. */
static void
hash(struct cdc *c, const uint8_t *p, size_t n)
{
	const uint64_t *gear = c->gear;
	uint64_t fp = c->fp;
	size_t i;

	for (i = 0; i < n; i++)
		fp = (fp << 1) + gear[p[i]];
	c->fp = fp;
	c->pos += n;
}

/*
 * scan(c, p, n, mask): feed p[0..n) into the fingerprint up to and
 * including the first byte after which (fp & mask) == 0; returns how many
 * bytes it fed.  The run ended on a cut point if it fed any byte and fp
 * then matches: a run that went through without one ends on a mismatch.
 *
 * This is the loop every byte backed up goes through: one load, one
 * shift-and-add (a single lea with gcc on x86-64) and a test a byte, fp in
 * a register.  Unrolled by 8 so that the loop's own count and branch are
 * paid once per 8 bytes (about 10% faster with gcc -O2); the tests stay
 * one per byte, since any byte's fp may match.
 */
static size_t
scan(struct cdc *c, const uint8_t *p, size_t n, uint64_t mask)
{
	const uint64_t *gear = c->gear;
	uint64_t fp = c->fp;
	size_t i = 0;

#define CDC_STEP(k) do {						\
	fp = (fp << 1) + gear[p[i + (k)]];				\
	if ((fp & mask) == 0) {						\
		i += (k) + 1;						\
		goto out;						\
	}								\
} while (0)

	for (; i + 8 <= n; i += 8) {
		CDC_STEP(0); CDC_STEP(1); CDC_STEP(2); CDC_STEP(3);
		CDC_STEP(4); CDC_STEP(5); CDC_STEP(6); CDC_STEP(7);
	}
	for (; i < n; i++)
		CDC_STEP(0);
#undef CDC_STEP
out:
	c->fp = fp;
	c->pos += i;
	return i;
}

int
cdc_cut(struct cdc *c, const uint8_t *p, size_t n, size_t *used)
{
	size_t i, k;

	/* Bytes whose effect on fp is shifted out before the first test. */
	i = room(c, CDC_MIN - CDC_WINDOW, n);
	c->pos += i;

	/* The window before the first test (the chunk's CDC_MIN-th byte). */
	k = room(c, CDC_MIN - 1, n - i);
	hash(c, p + i, k);
	i += k;

	k = room(c, CDC_AVG - 1, n - i);
	if (k > 0) {
		i += scan(c, p + i, k, CDC_MASK_S);
		if ((c->fp & CDC_MASK_S) == 0)
			goto cut;
	}
	k = room(c, CDC_MAX, n - i);
	if (k > 0) {
		i += scan(c, p + i, k, CDC_MASK_L);
		if ((c->fp & CDC_MASK_L) == 0 || c->pos == CDC_MAX)
			goto cut;
	}
	*used = n;
	return 0;
cut:
	*used = i;
	cdc_reset(c);
	return 1;
}

void
cdc_id(const uint8_t key[32], const void *p, size_t n,
    uint8_t id[CDC_ID_LEN])
{
	blake3_hasher h;

	blake3_hasher_init_keyed(&h, key);
	blake3_hasher_update(&h, p, n);
	blake3_hasher_finalize(&h, id, CDC_ID_LEN);
}
