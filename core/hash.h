#ifndef BKP_HASH_H
#define BKP_HASH_H

#include <stddef.h>
#include <stdint.h>

#include <blake3.h>
#include <sodium.h>

/*
 * The content hash of an archive: of every file (manifest "file" records)
 * and of the stored data and manifest objects (the archive record), 32
 * bytes.  Format version 1 archives use BLAKE2b-256, version 2 archives
 * BLAKE3; readers take the algorithm from the archive (docs/FORMAT.md,
 * "The archive's hash").  Key fingerprints, subkeys, pins and drill-record
 * chains keep BLAKE2b whatever the archive uses.
 */

enum {
	HASH_BLAKE2B = 1,
	HASH_BLAKE3 = 2
};

#define HASH_LEN 32
#define HASH_DEFAULT HASH_BLAKE3   /* what new archives use */

struct hash {
	int alg;
	union {
		crypto_generichash_state b2;
		blake3_hasher b3;
	} u;
};

/* hash_init(h, alg): start a hash; alg must be HASH_BLAKE2B or HASH_BLAKE3. */
void hash_init(struct hash *h, int alg);

/* hash_update(h, p, n): feed n bytes. */
void hash_update(struct hash *h, const void *p, size_t n);

/* hash_zeros(h, n): feed n zero bytes (holes of sparse files). */
void hash_zeros(struct hash *h, uint64_t n);

/* hash_final(h, out): the digest; h must be initialised again to reuse. */
void hash_final(struct hash *h, uint8_t out[HASH_LEN]);

/* hash_buf(alg, p, n, out): the digest of one buffer. */
void hash_buf(int alg, const void *p, size_t n, uint8_t out[HASH_LEN]);

/*
 * hash_name(alg): "blake2b" or "blake3", the name used in records and as
 * the JSON member holding a hex digest; hash_label(alg): "BLAKE2b-256" or
 * "BLAKE3", for people.  hash_parse(name): the algorithm, -1 if unknown.
 */
const char *hash_name(int alg);
const char *hash_label(int alg);
int hash_parse(const char *name);

/*
 * hash_member(buf, prefix, alg): "PREFIX_NAME" ("data_blake3"), the JSON
 * member that holds the digest of an object of that algorithm beside other
 * fields; written to buf, which it returns.  (Alone, a digest's member is
 * just hash_name(alg).)
 */
#define HASH_MEMBER_MAX 32
const char *hash_member(char buf[HASH_MEMBER_MAX], const char *prefix,
    int alg);

#endif
