#include <string.h>

#include <zstd.h>

#include "crypto.h"
#include "err.h"
#include "objfmt.h"

static const uint8_t magic[6] = { 'B', 'K', 'P', 'O', 'B', 'J' };

uint32_t
objfmt_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

void
objfmt_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

void
objfmt_encode(const struct obj_header *h, uint8_t out[OBJ_HEADER])
{
	memset(out, 0, OBJ_HEADER);
	memcpy(out, magic, sizeof(magic));
	out[6] = OBJ_VERSION & 0xff;
	out[7] = OBJ_VERSION >> 8;
	out[8] = (uint8_t)h->type;
	out[9] = (uint8_t)h->cipher;
	out[10] = OBJ_COMPRESS_ZSTD;
	out[11] = (uint8_t)h->content;
	objfmt_put_le32(out + 12, h->chunk_size);
	memcpy(out + 16, h->id, 16);
}

int
objfmt_decode(const uint8_t in[OBJ_HEADER], struct obj_header *h)
{
	unsigned version;
	int i;

	if (memcmp(in, magic, sizeof(magic)) != 0) {
		err_set("not a bkp object (bad magic)");
		return ERR_CORRUPT;
	}
	version = in[6] | (unsigned)in[7] << 8;
	if (version != OBJ_VERSION) {
		err_set("unsupported object format version %u", version);
		return ERR_CORRUPT;
	}
	h->type = in[8];
	h->cipher = in[9];
	h->content = in[11];
	h->chunk_size = objfmt_le32(in + 12);
	memcpy(h->id, in + 16, 16);
	for (i = 32; i < OBJ_HEADER; i++)
		if (in[i] != 0)
			goto bad;
	if ((h->type != OBJ_TYPE_DATA && h->type != OBJ_TYPE_MANIFEST) ||
	    (h->cipher != CRYPTO_AES256GCM && h->cipher != CRYPTO_XCHACHA20) ||
	    in[10] != OBJ_COMPRESS_ZSTD || h->content < OBJ_CONTENT_TAR ||
	    h->content > OBJ_CONTENT_JSONL || h->chunk_size < OBJ_MIN_CHUNK ||
	    h->chunk_size > OBJ_MAX_CHUNK)
		goto bad;
	return ERR_OK;
bad:
	err_set("malformed object header");
	return ERR_CORRUPT;
}

size_t
objfmt_max_sealed(uint32_t chunk_size)
{
	return ZSTD_compressBound(chunk_size) + CRYPTO_TAG;
}
