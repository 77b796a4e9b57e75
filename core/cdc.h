#ifndef BKP_CDC_H
#define BKP_CDC_H

#include <stddef.h>
#include <stdint.h>

/*
 * Content-defined chunking: FastCDC (Xia et al., USENIX ATC 2016) with
 * normalized chunking level 2, over a gear table derived from a secret key
 * so that chunk boundaries (and so chunk sizes) do not fingerprint content
 * for someone without the key.  A chunk is cut after its L-th byte when
 *
 *	L == CDC_MAX, or
 *	CDC_MIN <= L < CDC_AVG and (fp & CDC_MASK_S) == 0, or
 *	CDC_AVG <= L < CDC_MAX and (fp & CDC_MASK_L) == 0,
 *
 * where fp = (fp << 1) + gear[byte] is the rolling gear hash after that
 * byte.  Bit k of fp is a function of the last k+1 bytes only, so the masks
 * take the high-order bits (their lowest is bit 43: a window of 44 to 64
 * bytes); and fp after byte L is the hash of bytes L-63..L whatever came
 * before, so the cut points depend on the content and on the position in
 * the chunk, never on how the caller splits its buffers.
 */

#define CDC_MIN (128u * 1024)      /* no cut before this many bytes */
#define CDC_AVG (512u * 1024)      /* normalisation point */
#define CDC_MAX (2u * 1024 * 1024) /* always cut here */
#define CDC_ID_LEN 16

/*
 * 21 one-bits (odds of a cut 1 in 2 MiB a byte) before CDC_AVG, 17 (1 in
 * 128 KiB) after it: on random data about 1 chunk in 6 ends between CDC_MIN
 * and CDC_AVG, most of the rest within 256 KiB after CDC_AVG, and the mean
 * is about 590 KiB.
 */
#define CDC_MASK_S UINT64_C(0xfffff80000000000)
#define CDC_MASK_L UINT64_C(0xffff800000000000)

struct cdc {
	uint64_t gear[256];
	uint64_t fp;      /* rolling fingerprint */
	size_t pos;       /* bytes of the current chunk seen so far */
};

/*
 * cdc_init(c, key): gear table derived from a 32-byte secret key:
 * gear[i] = little-endian uint64 of BLAKE2b-64(message = the 9 bytes
 * "bkp-gear" || (uint8_t)i, key = key).  Then cdc_reset(c).
 */
void cdc_init(struct cdc *c, const uint8_t key[32]);

/* cdc_reset(c): start a new stream (a new chunk at position 0). */
void cdc_reset(struct cdc *c);

/*
 * cdc_cut(c, p, n, &used): scan up to n bytes of the current chunk.
 * Returns 1 when the chunk ends inside p: *used is the number of bytes of p
 * that belong to it (1..n) and the state is reset for the next chunk;
 * returns 0 when all n bytes belong to the current chunk (*used = n) and it
 * goes on.  The caller ends the last chunk itself at end of stream.
 */
int cdc_cut(struct cdc *c, const uint8_t *p, size_t n, size_t *used);

/*
 * cdc_id(key, p, n, id): the chunk's identity, BLAKE3 in keyed mode (key =
 * the same 32-byte key) truncated to CDC_ID_LEN bytes.  Never a bare hash
 * of the content, which would tell anyone holding a guess of a file whether
 * the repository stores it.
 */
void cdc_id(const uint8_t key[32], const void *p, size_t n,
    uint8_t id[CDC_ID_LEN]);

#endif
