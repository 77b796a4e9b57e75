/*
 * Key-less verification: anyone with read access can check that an
 * archive's objects are present, have the sizes and hashes its
 * record states, and that the data object's chunk framing is whole.  This
 * proves integrity of the ciphertext, not authenticity (that needs a key:
 * restore_run with no target).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "err.h"
#include "hash.h"
#include "objfmt.h"
#include "repo.h"
#include "storage.h"
#include "verify.h"

#define BLOCK (8u << 20)

/* Hash a whole object, checking its size; walk the frames if data. */
static int
check_object(struct storage *st, const char *key, uint64_t want_size,
    const uint8_t want_hash[32], const struct repo_archive *a, int framed,
    uint8_t *buf, uint64_t *bytes)
{
	struct hash h;
	struct obj_header oh;
	uint8_t hash[32];
	uint64_t size, off = 0, next_frame = OBJ_HEADER, frames = 0;
	size_t n, i;
	int rc;

	if ((rc = storage_stat(st, key, &size)) != ERR_OK)
		return rc;
	if (size != want_size) {
		err_set("archive %s: object '%s' has %llu bytes, its record "
		    "says %llu", a->id, key, (unsigned long long)size,
		    (unsigned long long)want_size);
		return ERR_CORRUPT;
	}
	hash_init(&h, a->hash_alg);
	while (off < size) {
		n = size - off > BLOCK ? BLOCK : (size_t)(size - off);
		if ((rc = storage_get_range(st, key, off, n, buf)) != ERR_OK)
			return rc;
		hash_update(&h, buf, n);
		if (off == 0 && n >= OBJ_HEADER) {
			if ((rc = objfmt_decode(buf, &oh)) != ERR_OK) {
				err_prefix("archive %s: '%s': ", a->id, key);
				return rc;
			}
			if (framed && (oh.chunk_size != a->chunk_size ||
			    oh.cipher != a->cipher ||
			    oh.content != a->content)) {
				err_set("archive %s: '%s' header does not "
				    "match the record", a->id, key);
				return ERR_CORRUPT;
			}
		}
		/* Walk frame lengths that start inside this block. */
		for (i = 0; framed && next_frame + 4 <= off + n &&
		    next_frame >= off; i++) {
			uint32_t len = objfmt_le32(buf + (next_frame - off));

			if (len < CRYPTO_TAG ||
			    len > objfmt_max_sealed(a->chunk_size)) {
				err_set("archive %s: '%s': chunk %llu has an "
				    "invalid length", a->id, key,
				    (unsigned long long)frames);
				return ERR_CORRUPT;
			}
			next_frame += 4 + (uint64_t)len;
			frames++;
		}
		if (framed && next_frame < off + n && next_frame + 4 > off + n &&
		    off + n < size) {
			/* A length split across blocks: re-read it. */
			uint8_t lb[4];

			if ((rc = storage_get_range(st, key, next_frame, 4,
			    lb)) != ERR_OK)
				return rc;
			if (objfmt_le32(lb) < CRYPTO_TAG ||
			    objfmt_le32(lb) > objfmt_max_sealed(a->chunk_size)) {
				err_set("archive %s: '%s': chunk %llu has an "
				    "invalid length", a->id, key,
				    (unsigned long long)frames);
				return ERR_CORRUPT;
			}
			next_frame += 4 + (uint64_t)objfmt_le32(lb);
			frames++;
		}
		off += n;
		*bytes += n;
	}
	hash_final(&h, hash);
	if (memcmp(hash, want_hash, 32) != 0) {
		err_set("archive %s: object '%s' does not match the %s hash in "
		    "its record (damaged or tampered)", a->id, key,
		    hash_label(a->hash_alg));
		return ERR_CORRUPT;
	}
	if (framed && (next_frame != size || frames != a->chunks)) {
		err_set("archive %s: '%s' holds %llu chunks ending at %llu, its "
		    "record says %llu chunks in %llu bytes", a->id, key,
		    (unsigned long long)frames, (unsigned long long)next_frame,
		    (unsigned long long)a->chunks, (unsigned long long)size);
		return ERR_CORRUPT;
	}
	return ERR_OK;
}

/* One archive's own objects: manifest, frames (version 3), data. */
static int
check_objects(struct repo *r, const struct repo_archive *a, uint8_t *buf,
    uint64_t *bytes_read)
{
	char key[64];
	int rc;

	repo_key_manifest(a->id, key, sizeof(key));
	rc = check_object(repo_storage(r), key, a->manifest_size,
	    a->manifest_hash, a, 0, buf, bytes_read);
	if (rc == ERR_OK && a->version >= 3) {
		repo_key_frames(a->id, key, sizeof(key));
		rc = check_object(repo_storage(r), key, a->frames_size,
		    a->frames_hash, a, 0, buf, bytes_read);
	}
	if (rc == ERR_OK) {
		repo_key_data(a->id, key, sizeof(key));
		rc = check_object(repo_storage(r), key, a->data_size,
		    a->data_hash, a, 1, buf, bytes_read);
	}
	return rc == ERR_NOTFOUND ? ERR_CORRUPT : rc;
}

/* A version 3 archive's chain: every archive whose data it references
 * is an earlier archive of its dataset, and intact. */
static int
check_deps(struct repo *r, const struct repo_archive *a, uint8_t *buf,
    uint64_t *bytes_read)
{
	struct repo_archive d;
	size_t i;
	int rc = ERR_OK;

	for (i = 0; i < a->ndeps && rc == ERR_OK; i++) {
		if ((rc = repo_find(r, a->deps[i], &d)) != ERR_OK) {
			if (rc == ERR_NOTFOUND || rc == ERR_USAGE) {
				err_set("archive %s: archive %s it depends on "
				    "is missing", a->id, a->deps[i]);
				rc = ERR_CORRUPT;
			}
			break;
		}
		if (strcmp(d.id, a->deps[i]) != 0 || d.version < 3 ||
		    strcmp(d.name, a->name) != 0 ||
		    d.created_us >= a->created_us || d.content != a->content) {
			err_set("its record names archive %s, which is not an "
			    "earlier archive of dataset '%s'", a->deps[i],
			    a->name);
			rc = ERR_CORRUPT;
		} else if ((rc = check_objects(r, &d, buf, bytes_read)) ==
		    ERR_CORRUPT) {
			if (strstr(err_get(), d.id) == NULL)
				err_prefix("archive %s: ", d.id);
			err_prefix("archive %s: its base ", a->id);
		}
		repo_archive_release(&d);
	}
	return rc;
}

int
verify_keyless(struct repo *r, const struct repo_archive *a,
    uint64_t *bytes_read)
{
	uint8_t *buf;
	int rc;

	*bytes_read = 0;
	if ((buf = malloc(BLOCK)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	rc = check_objects(r, a, buf, bytes_read);
	if (rc == ERR_OK)
		rc = check_deps(r, a, buf, bytes_read);
	if (rc == ERR_CORRUPT && strncmp(err_get(), "archive ", 8) != 0)
		err_prefix("archive %s: ", a->id);
	free(buf);
	return rc;
}
