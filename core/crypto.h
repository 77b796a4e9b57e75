#ifndef BKP_CRYPTO_H
#define BKP_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

/*
 * Chunked online AEAD (the STREAM construction): each chunk of an object is
 * sealed on its own under a per-object subkey with nonce
 * (chunk index, last-chunk flag), so chunks decrypt independently (random
 * access, parallelism) while truncation, reordering and swapping between
 * objects or archives are detected.  docs/FORMAT.md, "Chunk encryption".
 */

enum {
	CRYPTO_AUTO = 0,
	CRYPTO_AES256GCM = 1,
	CRYPTO_XCHACHA20 = 2
};

#define CRYPTO_TAG 16   /* bytes added to every chunk */
#define CRYPTO_KEY 32

/* crypto_init(): initialise libsodium; -1 on failure. */
int crypto_init(void);

/* crypto_cipher_available(c): 1 if this CPU can run cipher c. */
int crypto_cipher_available(int c);

/* crypto_cipher_pick(pref): pref if not AUTO; else AES-256-GCM where the
 * CPU supports it, XChaCha20-Poly1305 otherwise. */
int crypto_cipher_pick(int pref);

/* crypto_cipher_name(c) / crypto_cipher_parse(name): "aes256gcm",
 * "xchacha20poly1305", "auto"; parse returns -1 for unknown names. */
const char *crypto_cipher_name(int c);
int crypto_cipher_parse(const char *name);

/*
 * crypto_subkey(datakey, stream, subkey): derive the key of stream
 * ("data" or "manifest") from an archive's data key.
 */
void crypto_subkey(const uint8_t datakey[CRYPTO_KEY], const char *stream,
    uint8_t subkey[CRYPTO_KEY]);

/*
 * crypto_seal(c, subkey, ad, adlen, index, last, in, inlen, out): encrypt
 * chunk number index; out receives inlen + CRYPTO_TAG bytes.
 */
int crypto_seal(int c, const uint8_t subkey[CRYPTO_KEY], const uint8_t *ad,
    size_t adlen, uint64_t index, int last, const uint8_t *in, size_t inlen,
    uint8_t *out);

/*
 * crypto_open(c, subkey, ad, adlen, index, last, in, inlen, out): decrypt
 * and authenticate; out receives inlen - CRYPTO_TAG bytes.  ERR_CORRUPT if
 * anything (key, index, last flag, ad, bytes) differs from the seal.
 */
int crypto_open(int c, const uint8_t subkey[CRYPTO_KEY], const uint8_t *ad,
    size_t adlen, uint64_t index, int last, const uint8_t *in, size_t inlen,
    uint8_t *out);

#endif
