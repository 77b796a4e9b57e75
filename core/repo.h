#ifndef BKP_REPO_H
#define BKP_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

/*
 * A repository: storage plus its "config" object (format version, id,
 * recipients, cipher and chunk size) and its committed archives, each
 * visible through one write-once record "archives/<id>.json".  Layout and
 * schemas: docs/FORMAT.md.
 */

struct repo;
struct storage;
struct storage_opts;

#define REPO_ID_HEX 32

/* Archive format version written (records and manifests); readers take
 * 1 (BLAKE2b-256 hashes), 2 (the hash the record names) and 3 (pieces:
 * incremental archives that reference earlier archives' data). */
#define REPO_ARCHIVE_VERSION 3

/* Bound on the archives a version 3 archive's data may reference. */
#define REPO_MAX_DEPS 256

/* A committed archive, as its record (untrusted, bounds-checked) says. */
struct repo_archive {
	char id[REPO_ID_HEX + 1];
	int version;         /* bkp_archive: 1, 2 or 3 */
	int hash_alg;        /* HASH_*: of files and objects */
	char *name;          /* dataset name */
	char *host;          /* host that took the backup */
	int64_t created;     /* UTC seconds since the epoch */
	int64_t created_us;  /* UTC microseconds since the epoch (ordering) */
	int cipher;          /* CRYPTO_AES256GCM or CRYPTO_XCHACHA20 */
	int content;         /* OBJ_CONTENT_TAR or OBJ_CONTENT_RAW */
	uint32_t chunk_size; /* plaintext (tar) bytes per chunk */
	uint64_t chunks;     /* chunks in the data object */
	uint64_t data_size;  /* bytes in the data object */
	uint64_t manifest_size;
	uint8_t data_hash[32];     /* hash (hash_alg) of the data object */
	uint8_t manifest_hash[32]; /* hash (hash_alg) of the manifest object */
	uint64_t frames_size;      /* version 3: the frames object (the data */
	uint8_t frames_hash[32];   /* object's chunk table) */
	uint64_t files;      /* entries archived */
	uint64_t bytes;      /* file content bytes read */
	uint64_t warnings;   /* source files skipped */
	/* Version 3: the archives whose data objects this one's entries
	 * reference ("deps", ids only; source k of a segment is deps[k-1]),
	 * the archive it was compared with ("base", empty for a full) and
	 * the incrementals since the chain's full ("chain", 0 for a full). */
	char (*deps)[REPO_ID_HEX + 1];
	size_t ndeps;
	char base[REPO_ID_HEX + 1];
	uint32_t chain;
	size_t nrecip;
	struct repo_recipient {
		char fpr[KEYS_FPR_HEX + 1];
		uint8_t sealed[KEYS_SEALED];
	} *recip;
};

/* repo_config: the parsed "config" object. */
struct repo_config {
	char id[REPO_ID_HEX + 1];
	int cipher;          /* preferred cipher; CRYPTO_AUTO to pick per host */
	uint32_t chunk_size;
	size_t nrecip;
	struct keys_public *recip;
	uint8_t hash[32];    /* BLAKE2b-256 of the config object's bytes */
};

/*
 * repo_init(url, sopts, recip, nrecip, cipher, chunk_size, &cfg_hash):
 * create a repository.  ERR_EXISTS if one is there.
 */
int repo_init(const char *url, const struct storage_opts *sopts,
    const struct keys_public *recip, size_t nrecip, int cipher,
    uint32_t chunk_size, struct repo_config *out);

/* repo_open(url, sopts, &r): open; ERR_NOREPO if there is no repository. */
int repo_open(const char *url, const struct storage_opts *sopts,
    struct repo **out);

/*
 * repo_parse_config(buf, len, &c): parse and bound-check the bytes of a
 * "config" object (untrusted: read from storage).  ERR_OK, ERR_CORRUPT
 * (message set) if they are not a well-formed format-1 config, ERR_FAIL if
 * out of memory.  On success release with repo_config_release(); on
 * failure c holds nothing.  repo_open() uses it; exported for the fuzz
 * harness (tests/fuzz/fuzz_config.c).
 */
int repo_parse_config(const uint8_t *buf, size_t len, struct repo_config *c);

/* repo_config_release(c): free what c holds (not c itself). */
void repo_config_release(struct repo_config *c);

/*
 * repo_parse_record(buf, len, id, repo_id, &a): parse and bound-check the
 * bytes of the archive record "archives/<id>.json" (untrusted); id is the
 * 32 hex digits its key names, which the record's "id" must repeat, and
 * repo_id the repository's, which its "repository" must.  ERR_OK (then
 * release with repo_archive_release()), ERR_CORRUPT (message naming the
 * record) or ERR_FAIL (out of memory); on failure a holds nothing.
 * repo_list() uses it; exported for the fuzz harness.
 */
int repo_parse_record(const uint8_t *buf, size_t len, const char *id,
    const char *repo_id, struct repo_archive *a);

/* repo_free(r): NULL does nothing. */
void repo_free(struct repo *r);

/* repo_storage(r), repo_config(r): accessors. */
struct storage *repo_storage(struct repo *r);
const struct repo_config *repo_config(const struct repo *r);

/*
 * repo_list(r, name, &arr, &n): all committed archives (only those named
 * name, if not NULL), oldest first.  Unreadable records are reported on
 * stderr by the caller through the count *nbad (may be NULL).  Free with
 * repo_archives_free().
 */
int repo_list(struct repo *r, const char *name, struct repo_archive **arr,
    size_t *n, size_t *nbad);

/* repo_archive_cmp(x, y): qsort order of struct repo_archive, the order of
 * repo_list(): oldest (created_us) first, then by id. */
int repo_archive_cmp(const void *x, const void *y);

/* repo_archives_free(arr, n): free a list. */
void repo_archives_free(struct repo_archive *arr, size_t n);

/*
 * repo_find(r, spec, &a): resolve "ID", a unique id prefix (4+ hex chars),
 * "NAME:latest" or "latest".  ERR_NOTFOUND / ERR_USAGE (ambiguous).
 * Release with repo_archive_release().
 */
int repo_find(struct repo *r, const char *spec, struct repo_archive *a);

/* repo_archive_release(a): free what a holds (not a itself). */
void repo_archive_release(struct repo_archive *a);

/* repo_name_ok(name): 1 if name is a valid dataset name: 1 to 200
 * printable ASCII characters other than space, '/' and ':'. */
int repo_name_ok(const char *name);

/* Object keys of an archive's parts (static buffers are not used: out must
 * hold at least 64 bytes). */
void repo_key_data(const char *id, char *out, size_t outlen);
void repo_key_manifest(const char *id, char *out, size_t outlen);
void repo_key_frames(const char *id, char *out, size_t outlen);
void repo_key_record(const char *id, char *out, size_t outlen);

/*
 * repo_unwrap(a, sk, datakey): unwrap a's data key with sk; ERR_KEY if sk is
 * not among its recipients.
 */
int repo_unwrap(const struct repo_archive *a, const struct keys_secret *sk,
    uint8_t datakey[KEYS_DATAKEY]);

#endif
