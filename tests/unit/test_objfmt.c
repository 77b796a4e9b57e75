/*
 * Unit tests for core/objfmt.c: the 64-byte object header laid out byte for
 * byte as docs/FORMAT.md §6 says, round trips, and every malformed header
 * refused (magic, version, reserved bytes, type, cipher, compression,
 * content, chunk size bounds).
 */

#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>
#include <zstd.h>

#include "crypto.h"
#include "err.h"
#include "objfmt.h"

static void
sample(struct obj_header *h)
{
	size_t i;

	memset(h, 0, sizeof(*h));
	h->type = OBJ_TYPE_DATA;
	h->cipher = CRYPTO_XCHACHA20;
	h->content = OBJ_CONTENT_TAR;
	h->chunk_size = 4194304;
	for (i = 0; i < 16; i++)
		h->id[i] = (uint8_t)(0xa0 + i);
}

Test(objfmt, encode_layout_matches_spec)
{
	struct obj_header h;
	uint8_t b[OBJ_HEADER];
	size_t i;

	sample(&h);
	h.chunk_size = 0x00401000; /* 4 MiB + 4 KiB */
	memset(b, 0xcc, sizeof(b));
	objfmt_encode(&h, b);
	cr_expect_arr_eq(b, "BKPOBJ", 6);
	cr_expect_eq(b[6], 1);
	cr_expect_eq(b[7], 0);
	cr_expect_eq(b[8], 1);
	cr_expect_eq(b[9], 2);
	cr_expect_eq(b[10], 1);
	cr_expect_eq(b[11], 1);
	cr_expect_eq(b[12], 0x00);
	cr_expect_eq(b[13], 0x10);
	cr_expect_eq(b[14], 0x40);
	cr_expect_eq(b[15], 0x00);
	for (i = 0; i < 16; i++)
		cr_expect_eq(b[16 + i], 0xa0 + i);
	for (i = 32; i < 64; i++)
		cr_expect_eq(b[i], 0, "reserved byte %zu", i);
}

Test(objfmt, roundtrip_table)
{
	static const struct obj_header v[] = {
		{ OBJ_TYPE_DATA, CRYPTO_AES256GCM, OBJ_CONTENT_TAR, 4096, { 0 } },
		{ OBJ_TYPE_DATA, CRYPTO_XCHACHA20, OBJ_CONTENT_RAW, 65536,
		    { 1, 2, 3 } },
		{ OBJ_TYPE_MANIFEST, CRYPTO_XCHACHA20, OBJ_CONTENT_JSONL,
		    1048576, { [15] = 0xff } },
		{ OBJ_TYPE_MANIFEST, CRYPTO_AES256GCM, OBJ_CONTENT_JSONL,
		    OBJ_MAX_CHUNK, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
	};
	struct obj_header got;
	uint8_t b[OBJ_HEADER], b2[OBJ_HEADER];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		objfmt_encode(&v[i], b);
		memset(&got, 0x55, sizeof(got));
		cr_assert_eq(objfmt_decode(b, &got), ERR_OK, "case %zu", i);
		cr_expect_eq(got.type, v[i].type);
		cr_expect_eq(got.cipher, v[i].cipher);
		cr_expect_eq(got.content, v[i].content);
		cr_expect_eq(got.chunk_size, v[i].chunk_size);
		cr_expect_arr_eq(got.id, v[i].id, 16);
		objfmt_encode(&got, b2);
		cr_expect_arr_eq(b, b2, OBJ_HEADER);
	}
}

Test(objfmt, decode_rejects_table)
{
	static const struct {
		size_t off;
		uint8_t val;
		const char *what;
	} bad[] = {
		{ 0, 'b', "magic[0] lowercase" },
		{ 5, 'X', "magic[5]" },
		{ 0, 0, "magic zero" },
		{ 6, 2, "version 2" },
		{ 6, 0, "version 0" },
		{ 7, 1, "version 257" },
		{ 8, 0, "type 0" },
		{ 8, 3, "type 3" },
		{ 8, 0xff, "type 255" },
		{ 9, 0, "cipher 0 (auto is not stored)" },
		{ 9, 3, "cipher 3" },
		{ 10, 0, "compression 0" },
		{ 10, 2, "compression 2" },
		{ 11, 0, "content 0" },
		{ 11, 4, "content 4" },
		{ 32, 1, "reserved[32]" },
		{ 47, 0x80, "reserved[47]" },
		{ 63, 1, "reserved[63]" },
	};
	struct obj_header h, got;
	uint8_t b[OBJ_HEADER];
	size_t i;

	sample(&h);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		objfmt_encode(&h, b);
		cr_assert_eq(objfmt_decode(b, &got), ERR_OK);
		b[bad[i].off] = bad[i].val;
		cr_expect_eq(objfmt_decode(b, &got), ERR_CORRUPT, "%s",
		    bad[i].what);
	}
}

Test(objfmt, chunk_size_bounds)
{
	static const struct {
		uint32_t cs;
		int rc;
	} v[] = {
		{ 0, ERR_CORRUPT }, { 1, ERR_CORRUPT }, { 4095, ERR_CORRUPT },
		{ 4096, ERR_OK }, { 4097, ERR_OK }, { 1048576, ERR_OK },
		{ 67108864, ERR_OK }, { 67108865, ERR_CORRUPT },
		{ 0x80000000u, ERR_CORRUPT }, { UINT32_MAX, ERR_CORRUPT },
	};
	struct obj_header h, got;
	uint8_t b[OBJ_HEADER];
	size_t i;

	sample(&h);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		h.chunk_size = v[i].cs;
		objfmt_encode(&h, b);
		cr_expect_eq(objfmt_decode(b, &got), v[i].rc, "chunk_size %u",
		    v[i].cs);
		if (v[i].rc == ERR_OK)
			cr_expect_eq(got.chunk_size, v[i].cs);
	}
}

Test(objfmt, decode_hand_written_header)
{
	/* A header built from the spec alone, not by objfmt_encode. */
	uint8_t b[OBJ_HEADER] = { 'B', 'K', 'P', 'O', 'B', 'J', 1, 0,
	    2, 1, 1, 3, 0x00, 0x00, 0x10, 0x00 };
	struct obj_header h;

	memset(b + 16, 0x42, 16);
	cr_assert_eq(objfmt_decode(b, &h), ERR_OK);
	cr_expect_eq(h.type, OBJ_TYPE_MANIFEST);
	cr_expect_eq(h.cipher, CRYPTO_AES256GCM);
	cr_expect_eq(h.content, OBJ_CONTENT_JSONL);
	cr_expect_eq(h.chunk_size, 1048576);
	cr_expect_eq(h.id[0], 0x42);
	cr_expect_eq(h.id[15], 0x42);
}

Test(objfmt, max_sealed)
{
	static const uint32_t v[] = { 4096, 65536, 1048576, OBJ_MAX_CHUNK };
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		cr_expect_eq(objfmt_max_sealed(v[i]),
		    ZSTD_compressBound(v[i]) + CRYPTO_TAG);
		cr_expect_gt(objfmt_max_sealed(v[i]), (size_t)v[i] + 16);
	}
}

Test(objfmt, le32_helpers)
{
	uint8_t b[6] = { 0 };

	objfmt_put_le32(b + 1, 0x11223344u);
	cr_expect_eq(b[0], 0);
	cr_expect_eq(b[1], 0x44);
	cr_expect_eq(b[2], 0x33);
	cr_expect_eq(b[3], 0x22);
	cr_expect_eq(b[4], 0x11);
	cr_expect_eq(b[5], 0);
	cr_expect_eq(objfmt_le32(b + 1), 0x11223344u);
	objfmt_put_le32(b, UINT32_MAX);
	cr_expect_eq(objfmt_le32(b), UINT32_MAX);
	b[0] = 0x80;
	b[1] = b[2] = b[3] = 0;
	cr_expect_eq(objfmt_le32(b), 0x80u);
}
