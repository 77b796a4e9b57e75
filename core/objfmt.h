#ifndef BKP_OBJFMT_H
#define BKP_OBJFMT_H

#include <stddef.h>
#include <stdint.h>

/*
 * The container shared by data and manifest objects (docs/FORMAT.md,
 * "Object container"): a 64-byte header, then chunks, each framed as a
 * 4-byte little-endian length followed by that many sealed bytes.  A sealed
 * chunk decrypts (crypto_open, with the header as additional data) to one
 * zstd frame, which decompresses to at most chunk_size bytes: exactly
 * chunk_size for every chunk but the last.
 */

#define OBJ_HEADER 64
#define OBJ_VERSION 1
#define OBJ_MIN_CHUNK 4096u
#define OBJ_MAX_CHUNK (64u << 20)

enum { OBJ_TYPE_DATA = 1, OBJ_TYPE_MANIFEST = 2 };
enum { OBJ_CONTENT_TAR = 1, OBJ_CONTENT_RAW = 2, OBJ_CONTENT_JSONL = 3 };
enum { OBJ_COMPRESS_ZSTD = 1 };

struct obj_header {
	int type;            /* OBJ_TYPE_* */
	int cipher;          /* CRYPTO_* */
	int content;         /* OBJ_CONTENT_* */
	uint32_t chunk_size; /* plaintext bytes per chunk */
	uint8_t id[16];      /* archive id */
};

/* objfmt_encode(h, out): serialise h. */
void objfmt_encode(const struct obj_header *h, uint8_t out[OBJ_HEADER]);

/* objfmt_decode(in, h): parse and check magic, version, fields and the
 * zero reserved bytes; ERR_CORRUPT with a message otherwise. */
int objfmt_decode(const uint8_t in[OBJ_HEADER], struct obj_header *h);

/* objfmt_max_sealed(chunk_size): largest valid sealed length of a chunk. */
size_t objfmt_max_sealed(uint32_t chunk_size);

/* objfmt_le32 / objfmt_put_le32: little-endian helpers. */
uint32_t objfmt_le32(const uint8_t *p);
void objfmt_put_le32(uint8_t *p, uint32_t v);

#endif
