#include <stdlib.h>
#include <string.h>

#include <archive_entry.h>
#include <sodium.h>

#include "crypto.h"
#include "err.h"
#include "hash.h"
#include "istream.h"
#include "manifest.h"
#include "ostream.h"
#include "repo.h"
#include "util.h"

struct manifest_writer {
	struct ostream *os;
};

struct manifest_reader {
	struct seqread *sr;
	uint8_t *buf;        /* MANIFEST_MAX_LINE + 1 */
	size_t len, pos;     /* buffered bytes and read position */
	int eof;
};

static void
header_for(struct obj_header *h, int cipher, const uint8_t id[16])
{
	memset(h, 0, sizeof(*h));
	h->type = OBJ_TYPE_MANIFEST;
	h->cipher = cipher;
	h->content = OBJ_CONTENT_JSONL;
	h->chunk_size = MANIFEST_CHUNK;
	memcpy(h->id, id, 16);
}

int
manifest_writer_new(struct storage *st, const char *key, int cipher,
    const uint8_t subkey[32], const uint8_t id[16], int hash_alg,
    struct manifest_writer **out)
{
	struct manifest_writer *mw;
	struct obj_header h;
	int rc;

	if ((mw = calloc(1, sizeof(*mw))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	header_for(&h, cipher, id);
	if ((rc = ostream_new(st, key, &h, subkey, hash_alg, 3, 0, NULL, NULL,
	    &mw->os)) != ERR_OK) {
		free(mw);
		return rc;
	}
	*out = mw;
	return ERR_OK;
}

int
manifest_put(struct manifest_writer *mw, const json_t *rec)
{
	char *s;
	size_t n;
	int rc;

	if ((s = json_dumps(rec, JSON_COMPACT | JSON_ENSURE_ASCII)) == NULL) {
		err_set("cannot encode manifest record");
		return ERR_FAIL;
	}
	n = strlen(s);
	if (n >= MANIFEST_MAX_LINE) {
		free(s);
		err_set("manifest record too long");
		return ERR_FAIL;
	}
	s[n] = '\n';
	rc = ostream_write(mw->os, s, n + 1);
	free(s);
	return rc;
}

int
manifest_writer_finish(struct manifest_writer *mw, uint64_t *size,
    uint8_t hash[32])
{
	struct ostream_result res;
	int rc;

	if ((rc = ostream_finish(mw->os, &res)) != ERR_OK)
		return rc;
	*size = res.size;
	memcpy(hash, res.hash, 32);
	return ERR_OK;
}

void
manifest_writer_free(struct manifest_writer *mw)
{
	if (mw == NULL)
		return;
	ostream_free(mw->os);
	free(mw);
}

int
manifest_reader_open(struct storage *st, const char *key, int cipher,
    const uint8_t subkey[32], const uint8_t id[16], int hash_alg,
    struct manifest_reader **out)
{
	struct manifest_reader *mr;
	struct obj_header h;
	int rc;

	if ((mr = calloc(1, sizeof(*mr))) == NULL ||
	    (mr->buf = malloc(MANIFEST_MAX_LINE + 1)) == NULL) {
		free(mr);
		err_set("out of memory");
		return ERR_FAIL;
	}
	header_for(&h, cipher, id);
	if ((rc = seqread_open(st, key, &h, subkey, hash_alg, &mr->sr)) !=
	    ERR_OK) {
		manifest_reader_free(mr);
		return rc;
	}
	*out = mr;
	return ERR_OK;
}

int
manifest_next(struct manifest_reader *mr, json_t **rec, const char **type)
{
	uint8_t *nl;
	size_t got, linelen;
	int rc;

	for (;;) {
		nl = memchr(mr->buf + mr->pos, '\n', mr->len - mr->pos);
		if (nl != NULL)
			break;
		if (mr->eof) {
			if (mr->pos != mr->len) {
				err_set("manifest ends inside a record");
				return ERR_CORRUPT;
			}
			return 0;
		}
		if (mr->pos > 0) {
			memmove(mr->buf, mr->buf + mr->pos, mr->len - mr->pos);
			mr->len -= mr->pos;
			mr->pos = 0;
		}
		if (mr->len == MANIFEST_MAX_LINE) {
			err_set("manifest record too long");
			return ERR_CORRUPT;
		}
		if ((rc = seqread_read(mr->sr, mr->buf + mr->len,
		    MANIFEST_MAX_LINE - mr->len, &got)) != ERR_OK)
			return rc;
		if (got == 0)
			mr->eof = 1;
		mr->len += got;
	}
	linelen = (size_t)(nl - (mr->buf + mr->pos));
	rc = manifest_parse_line((const char *)mr->buf + mr->pos, linelen, rec,
	    type);
	mr->pos += linelen + 1;
	return rc == ERR_OK ? 1 : rc;
}

int
manifest_parse_line(const char *line, size_t len, json_t **rec,
    const char **type)
{
	json_error_t jerr;
	json_t *j, *t;

	j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL || !json_is_object(j) ||
	    !json_is_string(t = json_object_get(j, "t"))) {
		json_decref(j);
		err_set("malformed manifest record");
		return ERR_CORRUPT;
	}
	*rec = j;
	*type = json_string_value(t);
	return ERR_OK;
}

int
manifest_reader_hash(struct manifest_reader *mr, uint8_t hash[32],
    uint64_t *size)
{
	if (!mr->eof || mr->pos != mr->len)
		return -1;
	*size = seqread_object_size(mr->sr);
	return seqread_hash(mr->sr, hash);
}

void
manifest_reader_free(struct manifest_reader *mr)
{
	if (mr == NULL)
		return;
	seqread_free(mr->sr);
	free(mr->buf);
	free(mr);
}

int
manifest_set_bytes(json_t *rec, const char *field, const char *s, size_t n)
{
	char name[64];
	char *b;
	int rc;

	if (util_utf8_valid(s, n))
		return json_object_set_new(rec, field, json_stringn(s, n)) ==
		    0 ? ERR_OK : ERR_FAIL;
	snprintf(name, sizeof(name), "%s_b64", field);
	if ((b = util_b64((const uint8_t *)s, n)) == NULL)
		return ERR_FAIL;
	rc = json_object_set_new(rec, name, json_string(b));
	free(b);
	return rc == 0 ? ERR_OK : ERR_FAIL;
}

int
manifest_get_bytes(const json_t *rec, const char *field, char **s, size_t *n)
{
	char name[64];
	const json_t *v;
	uint8_t *b;

	snprintf(name, sizeof(name), "%s_b64", field);
	if ((v = json_object_get(rec, field)) != NULL) {
		/* Both forms at once: which one is meant is ambiguous. */
		if (!json_is_string(v) || json_object_get(rec, name) != NULL)
			goto bad;
		*n = json_string_length(v);
		if (*n > 65536 || (*s = malloc(*n + 1)) == NULL)
			goto bad;
		memcpy(*s, json_string_value(v), *n);
		(*s)[*n] = '\0';
		if (strlen(*s) != *n) {
			free(*s);
			*s = NULL;
			goto bad;
		}
		return ERR_OK;
	}
	if ((v = json_object_get(rec, name)) == NULL)
		return ERR_NOTFOUND;
	if (!json_is_string(v) ||
	    util_unb64_alloc(json_string_value(v), 65536, &b, n) != 0)
		goto bad;
	if (strlen((char *)b) != *n) {
		free(b);
		goto bad;
	}
	*s = (char *)b;
	return ERR_OK;
bad:
	err_set("manifest field '%s' is malformed", field);
	return ERR_CORRUPT;
}

int
manifest_get_u64(const json_t *rec, const char *field, uint64_t *v)
{
	const json_t *j = json_object_get(rec, field);

	if (!json_is_integer(j) || json_integer_value(j) < 0) {
		err_set("manifest field '%s' is missing or malformed", field);
		return ERR_CORRUPT;
	}
	*v = (uint64_t)json_integer_value(j);
	return ERR_OK;
}

static const char *const type_names[] = {
	NULL, "file", "dir", "symlink", "hardlink", "other"
};

const char *
manifest_type_name(int type)
{
	return type >= MF_FILE && type <= MF_OTHER ? type_names[type] : "?";
}

int
manifest_type_parse(const char *name)
{
	int i;

	for (i = MF_FILE; i <= MF_OTHER; i++)
		if (strcmp(name, type_names[i]) == 0)
			return i;
	return -1;
}

/* "s": [[src, off, len], ...], 0 to MANIFEST_MAX_SEG segments, each
 * non-empty and within 2^62 (so off + len cannot overflow).  None only
 * for an empty raw archive's file (the caller checks). */
static int
decode_segments(const json_t *arr, struct mfile *f)
{
	const json_t *t;
	json_int_t v[3];
	size_t i, k;

	if (!json_is_array(arr) || json_array_size(arr) > MANIFEST_MAX_SEG)
		return ERR_CORRUPT;
	f->has_seg = 1;
	if (json_array_size(arr) == 0)
		return ERR_OK;
	if ((f->seg = calloc(json_array_size(arr), sizeof(*f->seg))) == NULL)
		return ERR_FAIL;
	json_array_foreach(arr, i, t) {
		if (!json_is_array(t) || json_array_size(t) != 3)
			return ERR_CORRUPT;
		for (k = 0; k < 3; k++) {
			if (!json_is_integer(json_array_get(t, k)))
				return ERR_CORRUPT;
			v[k] = json_integer_value(json_array_get(t, k));
			if (v[k] < 0 || (uint64_t)v[k] > (1ULL << 62))
				return ERR_CORRUPT;
		}
		if (v[0] > REPO_MAX_DEPS || v[2] == 0)
			return ERR_CORRUPT;
		f->seg[i].src = (uint32_t)v[0];
		f->seg[i].off = (uint64_t)v[1];
		f->seg[i].len = (uint64_t)v[2];
		f->nseg = i + 1;
	}
	return ERR_OK;
}

int
manifest_file_decode(const json_t *rec, int hash_alg, struct mfile *f)
{
	const json_t *v;
	int rc;

	memset(f, 0, sizeof(*f));
	if ((rc = manifest_get_bytes(rec, "path", &f->path, &f->pathlen)) !=
	    ERR_OK)
		goto bad;
	v = json_object_get(rec, "type");
	if (!json_is_string(v) ||
	    (f->type = manifest_type_parse(json_string_value(v))) < 0)
		goto bad;
	if (json_object_get(rec, "s") != NULL) {
		if (json_object_get(rec, "o") != NULL ||
		    decode_segments(json_object_get(rec, "s"), f) != ERR_OK)
			goto bad;
	} else if (manifest_get_u64(rec, "o", &f->o) != ERR_OK ||
	    manifest_get_u64(rec, "e", &f->e) != ERR_OK || f->e < f->o)
		goto bad;
	if (manifest_get_u64(rec, "size", &f->size) != ERR_OK)
		goto bad;
	/* mode, uid and gid: every archive bkp writes has them; a restore
	 * refuses a tar entry whose own differ (restore/check.c). */
	f->has_meta = manifest_get_u64(rec, "mode", &f->mode) == ERR_OK &&
	    f->mode <= 07777 &&
	    manifest_get_u64(rec, "uid", &f->uid) == ERR_OK &&
	    manifest_get_u64(rec, "gid", &f->gid) == ERR_OK;
	if (f->type == MF_FILE) {
		v = json_object_get(rec, hash_name(hash_alg));
		if (!json_is_string(v) ||
		    util_unhex(json_string_value(v), f->hash, 32) != 0)
			goto bad;
	}
	if (f->type == MF_SYMLINK || f->type == MF_HARDLINK) {
		if (manifest_get_bytes(rec, "link", &f->link, &(size_t){0}) !=
		    ERR_OK)
			goto bad;
	}
	return ERR_OK;
bad:
	manifest_file_release(f);
	err_set("malformed file record in manifest");
	return ERR_CORRUPT;
}

void
manifest_file_release(struct mfile *f)
{
	free(f->path);
	free(f->link);
	free(f->seg);
	f->path = f->link = NULL;
	f->seg = NULL;
	f->nseg = 0;
	f->has_seg = 0;
}

int
manifest_entry_type(struct archive_entry *e)
{
	if (archive_entry_hardlink(e) != NULL)
		return MF_HARDLINK;
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		return MF_FILE;
	case AE_IFDIR:
		return MF_DIR;
	case AE_IFLNK:
		return MF_SYMLINK;
	default:
		return MF_OTHER;
	}
}
