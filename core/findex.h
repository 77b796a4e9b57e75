#ifndef BKP_FINDEX_H
#define BKP_FINDEX_H

#include <stddef.h>
#include <stdint.h>

/*
 * The file index: a backup host's own comparison state for incremental
 * backups (it holds only public keys, so it cannot read earlier manifests).
 * For the newest archive of a dataset that this host wrote, one record per
 * archived entry, in walk order (findex_pathcmp), so that the next backup
 * merges its walk against the index read sequentially, one record at a
 * time.  A record is named by a key, not by the entry's path: bkp uses the
 * keyed hashes of the path's components (bkp/tree.c), so that no file name
 * is kept in the clear.  The file, byte for byte: docs/STATE.md.
 */

#define FINDEX_MAX_ARCH   256     /* archive table entries */
#define FINDEX_MAX_SEG    30000   /* segments per record */
#define FINDEX_MAX_CHUNKS 65536   /* chunk ids per record */
#define FINDEX_ID_LEN 16
#define FINDEX_MAX_PATH   65536   /* bytes of a record's key */

struct findex;
struct findex_writer;

struct findex_seg { uint32_t src; uint64_t off, len; };   /* src: index into head.arch */
struct findex_chunk { uint8_t id[FINDEX_ID_LEN]; uint32_t src; uint64_t off; uint32_t len; };
struct findex_rec {
	const char *path; size_t pathlen;     /* the key: 1..65536 raw bytes (a NUL follows them) */
	int type;                             /* MF_FILE, MF_DIR, ... (manifest.h) */
	uint32_t mode; uint64_t uid, gid;
	uint64_t dev, ino, size;
	uint64_t data;                        /* content bytes, holes excluded (<= size) */
	int64_t mtime_s; uint32_t mtime_ns; int64_t ctime_s; uint32_t ctime_ns;  /* ns < 1e9 */
	uint8_t hdrhash[16];                  /* opaque to this module */
	uint8_t hash[32];                     /* content hash, opaque */
	const struct findex_seg *seg; size_t nseg;        /* 1..FINDEX_MAX_SEG */
	const struct findex_chunk *chunk; size_t nchunk;  /* 0..FINDEX_MAX_CHUNKS */
};
struct findex_head {
	uint8_t repo[16];        /* repository id (binary) */
	uint8_t archive[16];     /* the archive this index describes */
	int64_t created_us;      /* its record's created_us */
	int64_t full_us;         /* created_us of the full backup that starts its chain */
	uint32_t chain;          /* incrementals since that full (0: it is the full) */
	int hash_alg;            /* HASH_* of hash[] in records */
	uint8_t key[32];         /* chunking/chunk-id secret of this host's state */
	size_t narch;            /* 1..FINDEX_MAX_ARCH */
	uint8_t arch[FINDEX_MAX_ARCH][16];  /* archive ids that records' src name */
};

/* findex_path(repo_id_hex, name, buf, len): STATE/index/<repo id hex>/<hex of BLAKE2b-128 of the dataset name>
 * (STATE from util_state_dir; the name is hashed so that no dataset name becomes a path).  repo_id_hex is
 * 32 lowercase hex digits.  ERR_OK or ERR_FAIL. */
int findex_path(const char *repo_id_hex, const char *name, char *buf, size_t len);

/* findex_pathcmp(a, alen, b, blen): the order of keys: byte-wise (unsigned), a key sorting before the
 * longer keys it begins. */
int findex_pathcmp(const char *a, size_t alen, const char *b, size_t blen);

/* findex_open(path, repo, name, &ix, &head): open an index, first checking the whole file (magic, version,
 * bounds of every record, strictly increasing paths, trailer hash, the repository id equal to repo and the
 * dataset name hash equal to name's) in one sequential pass, so that a damaged file is refused before any
 * record is used. ERR_NOTFOUND if there is none; ERR_CORRUPT with a message saying what is wrong
 * ("file index 'STATEPATH': truncated" / "belongs to another repository" / ...); ERR_FAIL otherwise. *head is
 * owned by ix (sodium_malloc'ed, since it holds key; wiped on close). */
int findex_open(const char *path, const uint8_t repo[16], const char *name, struct findex **ix,
    const struct findex_head **head);
/* findex_next(ix, &rec): the next record (valid until the next call): 1, 0 at the end, or ERR_*
 * (ERR_CORRUPT if the file changed after findex_open checked it). */
int findex_next(struct findex *ix, struct findex_rec *rec);
void findex_close(struct findex *ix);   /* NULL ok */

/* Writer: a new index beside path (a temporary name in the same directory, mode 0600, directories made
 * 0700), records in strictly increasing findex_pathcmp order (a record out of order is ERR_FAIL with a
 * message: a bug), src < narch, bounds as above; commit writes the trailer, fsyncs, renames over path and
 * fsyncs the directory; abort removes the temporary file.  h->repo must equal repo (else ERR_FAIL: a bug).
 * Temporaries that killed writers left beside path are removed by the next findex_writer_new (docs/STATE.md).
 * After a failed findex_put, findex_writer_commit fails too (and removes the temporary file). */
int findex_writer_new(const char *path, const uint8_t repo[16], const char *name,
    const struct findex_head *h, struct findex_writer **w);
int findex_put(struct findex_writer *w, const struct findex_rec *rec);
int findex_writer_commit(struct findex_writer *w);   /* frees w */
void findex_writer_abort(struct findex_writer *w);   /* frees w; NULL ok */
/* findex_remove(path): delete an index (ENOENT is fine). */
int findex_remove(const char *path);

#endif
