#ifndef BKP_KEYS_H
#define BKP_KEYS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Key pairs.  A bkp key is an X25519 pair (wraps/unwraps per-archive data
 * keys with sealed boxes) plus an Ed25519 pair (reserved for signed
 * manifests).  The secret half lives in sodium_malloc'ed memory and is
 * stored on disk encrypted under an Argon2id-derived key; the public half is
 * a small JSON file.  File formats: docs/FORMAT.md, "Key files".
 */

#define KEYS_FPR_HEX 32     /* hex chars in a fingerprint */
#define KEYS_DATAKEY 32     /* bytes in an archive data key */
#define KEYS_SEALED 80      /* crypto_box_SEALBYTES + KEYS_DATAKEY */

struct keys_public {
	uint8_t x25519[32];
	uint8_t ed25519[32];
	char fpr[KEYS_FPR_HEX + 1];
};

struct keys_secret; /* opaque; sodium_malloc'ed */

/*
 * KDF strength for new secret key files: DEFAULT is Argon2id with
 * opslimit 3 and memlimit 64 MiB (keeps restore under 128 MiB RSS); STRONG
 * is libsodium's SENSITIVE (opslimit 4, memlimit 1 GiB).  The parameters
 * used are stored in the file, so either loads the same way.
 */
enum keys_kdf { KEYS_KDF_DEFAULT, KEYS_KDF_STRONG };

/*
 * keys_generate(path, passphrase, kdf, comment, &pub): create a new key pair;
 * write the secret key file at path (mode 0600, created with O_EXCL and
 * O_NOFOLLOW through a temporary file renamed into place, so no partial file
 * is ever visible) and the public key at path.pub.  Refuses (ERR_EXISTS) if
 * either exists.  comment may be NULL.
 */
int keys_generate(const char *path, const char *passphrase, enum keys_kdf kdf,
    const char *comment, struct keys_public *pub);

/* keys_load_public(path, &pub): read a public key file (or a secret key
 * file, whose public half is stored in the clear). */
int keys_load_public(const char *path, struct keys_public *pub);

/* keys_parse_public(text, len, &pub): parse public key JSON; ERR_CORRUPT if
 * malformed or the fingerprint does not match the keys. */
int keys_parse_public(const char *text, size_t len, struct keys_public *pub);

/* keys_format_public(pub, comment): new malloc'ed public key JSON text. */
char *keys_format_public(const struct keys_public *pub, const char *comment);

/*
 * keys_load_secret(path, passphrase, &sk): read and decrypt a secret key
 * file.  ERR_KEY if the passphrase is wrong, ERR_CORRUPT if the file is
 * malformed, ERR_NOTFOUND if absent.
 */
int keys_load_secret(const char *path, const char *passphrase,
    struct keys_secret **out);

/* keys_secret_free(sk): wipe and free; NULL does nothing. */
void keys_secret_free(struct keys_secret *sk);

/* keys_secret_public(sk): the public half of sk. */
const struct keys_public *keys_secret_public(const struct keys_secret *sk);

/* keys_seal(pub, datakey, sealed): wrap a data key to a recipient. */
int keys_seal(const struct keys_public *pub, const uint8_t datakey[KEYS_DATAKEY],
    uint8_t sealed[KEYS_SEALED]);

/*
 * keys_unseal(sk, sealed, datakey): unwrap; ERR_KEY if sealed was not made
 * for sk (or was tampered with).  datakey should be sodium_malloc'ed.
 */
int keys_unseal(const struct keys_secret *sk, const uint8_t sealed[KEYS_SEALED],
    uint8_t datakey[KEYS_DATAKEY]);

/* keys_fingerprint(x25519, ed25519, fpr): compute a fingerprint (hex). */
void keys_fingerprint(const uint8_t x25519[32], const uint8_t ed25519[32],
    char fpr[KEYS_FPR_HEX + 1]);

#endif
