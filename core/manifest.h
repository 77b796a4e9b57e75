#ifndef BKP_MANIFEST_H
#define BKP_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * The manifest: an encrypted container object (objfmt.h, content JSONL)
 * whose plaintext is one JSON object per line: an "archive" record first,
 * then "file", "chunk" and "skipped" records as the backup produces them,
 * and an "end" record last.  Schema: docs/FORMAT.md, "Manifest".
 */

struct archive_entry;
struct storage;
struct manifest_writer;
struct manifest_reader;

#define MANIFEST_CHUNK (1u << 20)     /* plaintext bytes per manifest chunk */
#define MANIFEST_MAX_LINE (1u << 20)  /* longest record accepted */
/* Segments in one version 3 file record: each takes at most 64 bytes of
 * JSON, so they fit a line beside a 64 KiB path. */
#define MANIFEST_MAX_SEG 15000

/* File types in "file" records. */
enum { MF_FILE = 1, MF_DIR, MF_SYMLINK, MF_HARDLINK, MF_OTHER };

/* A "file" record, decoded. */
struct mfile {
	char *path;          /* raw bytes, NUL-terminated */
	size_t pathlen;
	int type;
	uint64_t size;       /* content bytes (regular files) */
	uint8_t hash[32];    /* hash (hash.h) of the content (regular files) */
	uint64_t o, e;       /* tar stream range of the entry [o, e) (v1, v2) */
	/* Version 3: the entry's tar bytes are the concatenation of these
	 * segments of archives' data plaintext (src 0: this archive, k: its
	 * record's deps[k-1]); none in versions 1 and 2. */
	struct mseg {
		uint32_t src;
		uint64_t off, len;
	} *seg;
	size_t nseg;
	int has_seg;         /* the record has "s" (version 3) */
	char *link;          /* symlink or hardlink target, or NULL */
	int has_meta;        /* mode, uid and gid are present and valid */
	uint64_t mode;       /* permission bits (mode & 07777) */
	uint64_t uid, gid;
};

/* manifest_writer_new(st, key, cipher, subkey, id, hash_alg, &mw): start a
 * manifest whose object is hashed with hash_alg (HASH_*). */
int manifest_writer_new(struct storage *st, const char *key, int cipher,
    const uint8_t subkey[32], const uint8_t id[16], int hash_alg,
    struct manifest_writer **out);

/* manifest_put(mw, rec): append a record (rec is not consumed). */
int manifest_put(struct manifest_writer *mw, const json_t *rec);

/* manifest_writer_finish(mw, &size, hash): commit; size and hash of the
 * object. */
int manifest_writer_finish(struct manifest_writer *mw, uint64_t *size,
    uint8_t hash[32]);

/* manifest_writer_free(mw): abort if unfinished; NULL ok. */
void manifest_writer_free(struct manifest_writer *mw);

/* manifest_reader_open(st, key, cipher, subkey, id, hash_alg, &mr). */
int manifest_reader_open(struct storage *st, const char *key, int cipher,
    const uint8_t subkey[32], const uint8_t id[16], int hash_alg,
    struct manifest_reader **out);

/*
 * manifest_next(mr, &rec, &type): the next record (a new reference the
 * caller must json_decref) and its "t" field.  Returns 1, 0 at the end of
 * the object, or ERR_CORRUPT (bad JSON, over-long line, missing "t").
 */
int manifest_next(struct manifest_reader *mr, json_t **rec,
    const char **type);

/*
 * manifest_parse_line(line, len, &rec, &type): decode one record, the
 * bytes of a line without its newline (untrusted: the plaintext is only
 * as honest as the host that wrote it).  ERR_OK with a new reference in
 * *rec and its "t" in *type, or ERR_CORRUPT (bad JSON, not an object, no
 * string "t").  manifest_next() uses it; exported for the fuzz harness.
 */
int manifest_parse_line(const char *line, size_t len, json_t **rec,
    const char **type);

/* manifest_reader_hash(mr, hash, &size): after manifest_next returned 0,
 * the hash and size of the manifest object; -1 before. */
int manifest_reader_hash(struct manifest_reader *mr, uint8_t hash[32],
    uint64_t *size);

/* manifest_reader_free(mr): NULL ok. */
void manifest_reader_free(struct manifest_reader *mr);

/* manifest_set_bytes(rec, field, s, n): set field to s as a string if it
 * is valid UTF-8, else field+"_b64" to its base64. */
int manifest_set_bytes(json_t *rec, const char *field, const char *s,
    size_t n);

/* manifest_get_bytes(rec, field, &s, &n): the reverse; new malloc'ed
 * NUL-terminated copy in *s.  ERR_NOTFOUND if neither field exists. */
int manifest_get_bytes(const json_t *rec, const char *field, char **s,
    size_t *n);

/* manifest_file_decode(rec, hash_alg, &f): decode and bound-check a "file"
 * record whose content hash is under the member hash_name(hash_alg). */
int manifest_file_decode(const json_t *rec, int hash_alg, struct mfile *f);

/* manifest_file_release(f): free what f holds. */
void manifest_file_release(struct mfile *f);

/* manifest_get_u64(rec, field, &v): a non-negative integer field. */
int manifest_get_u64(const json_t *rec, const char *field, uint64_t *v);

/* manifest_type_name(type) / manifest_type_parse(name). */
const char *manifest_type_name(int type);
int manifest_type_parse(const char *name);

/* manifest_entry_type(e): the type (MF_*) of tar entry e, decided by its
 * own type and hard link fields: a hard link entry is MF_HARDLINK whatever
 * its file type says. */
int manifest_entry_type(struct archive_entry *e);

#endif
