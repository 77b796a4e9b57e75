#include <limits.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "crypto.h"
#include "err.h"

int
crypto_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

int
crypto_cipher_available(int c)
{
	if (c == CRYPTO_AES256GCM)
		return crypto_aead_aes256gcm_is_available();
	return c == CRYPTO_XCHACHA20;
}

int
crypto_cipher_pick(int pref)
{
	if (pref != CRYPTO_AUTO)
		return pref;
	return crypto_aead_aes256gcm_is_available() ? CRYPTO_AES256GCM :
	    CRYPTO_XCHACHA20;
}

const char *
crypto_cipher_name(int c)
{
	switch (c) {
	case CRYPTO_AES256GCM:
		return "aes256gcm";
	case CRYPTO_XCHACHA20:
		return "xchacha20poly1305";
	default:
		return "auto";
	}
}

int
crypto_cipher_parse(const char *name)
{
	if (strcmp(name, "aes256gcm") == 0)
		return CRYPTO_AES256GCM;
	if (strcmp(name, "xchacha20poly1305") == 0)
		return CRYPTO_XCHACHA20;
	if (strcmp(name, "auto") == 0)
		return CRYPTO_AUTO;
	return -1;
}

void
crypto_subkey(const uint8_t datakey[CRYPTO_KEY], const char *stream,
    uint8_t subkey[CRYPTO_KEY])
{
	uint8_t personal[crypto_generichash_blake2b_PERSONALBYTES] = { 0 };
	size_t n = strlen(stream);

	/* BLAKE2b-256 keyed with the data key, personalised "bkp-subkey-v1",
	 * over the stream name (docs/FORMAT.md). */
	memcpy(personal, "bkp-subkey-v1", 13);
	crypto_generichash_blake2b_salt_personal(subkey, CRYPTO_KEY,
	    (const uint8_t *)stream, n, datakey, CRYPTO_KEY, NULL, personal);
}

/* The nonce: 8-byte big-endian chunk index, 1 byte last flag, zeros. */
static void
make_nonce(uint8_t *nonce, size_t len, uint64_t index, int last)
{
	int i;

	memset(nonce, 0, len);
	for (i = 0; i < 8; i++)
		nonce[i] = (uint8_t)(index >> (56 - 8 * i));
	nonce[8] = last ? 1 : 0;
}

/*
 * AES-256-GCM through OpenSSL's EVP interface: the same construction and
 * bytes as libsodium's crypto_aead_aes256gcm (ciphertext then 16-byte tag,
 * 12-byte nonce), about four times faster on CPUs with VAES/AVX-512, and
 * it also opens archives on CPUs without AES-NI.  The expanded key lives
 * in the EVP context, which EVP_CIPHER_CTX_free() wipes.  0 on success,
 * 1 if an open fails authentication, -1 if OpenSSL fails otherwise; on a
 * failed open the unauthenticated output is wiped.
 */
static int
aes_gcm(int enc, const uint8_t key[CRYPTO_KEY], const uint8_t nonce[12],
    const uint8_t *ad, size_t adlen, const uint8_t *in, size_t inlen,
    uint8_t *out, uint8_t tag[CRYPTO_TAG])
{
	EVP_CIPHER_CTX *ctx;
	int n, rc = -1;

	if (inlen > INT_MAX || adlen > INT_MAX)
		return -1;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce,
	    enc) != 1)
		goto done;
	if (adlen > 0 && EVP_CipherUpdate(ctx, NULL, &n, ad, (int)adlen) != 1)
		goto done;
	if (inlen > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)inlen) != 1)
		goto done;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG,
	    tag) != 1)
		goto done;
	if (EVP_CipherFinal_ex(ctx, out + inlen, &n) != 1) {
		rc = enc ? -1 : 1;
		goto done;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG,
	    tag) != 1)
		goto done;
	rc = 0;
done:
	EVP_CIPHER_CTX_free(ctx);
	if (rc != 0 && !enc && inlen > 0)
		sodium_memzero(out, inlen);
	return rc;
}

int
crypto_seal(int c, const uint8_t subkey[CRYPTO_KEY], const uint8_t *ad,
    size_t adlen, uint64_t index, int last, const uint8_t *in, size_t inlen,
    uint8_t *out)
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	unsigned long long outlen;
	int rc;

	if (c == CRYPTO_AES256GCM) {
		make_nonce(nonce, crypto_aead_aes256gcm_NPUBBYTES, index, last);
		rc = aes_gcm(1, subkey, nonce, ad, adlen, in, inlen, out,
		    out + inlen);
	} else if (c == CRYPTO_XCHACHA20) {
		make_nonce(nonce, sizeof(nonce), index, last);
		rc = crypto_aead_xchacha20poly1305_ietf_encrypt(out, &outlen,
		    in, inlen, ad, adlen, NULL, nonce, subkey);
	} else {
		err_set("unknown cipher %d", c);
		return ERR_FAIL;
	}
	if (rc != 0) {
		err_set("encryption failed");
		return ERR_FAIL;
	}
	return ERR_OK;
}

int
crypto_open(int c, const uint8_t subkey[CRYPTO_KEY], const uint8_t *ad,
    size_t adlen, uint64_t index, int last, const uint8_t *in, size_t inlen,
    uint8_t *out)
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t tag[CRYPTO_TAG];
	unsigned long long outlen;
	int rc;

	if (inlen < CRYPTO_TAG) {
		err_set("chunk %llu is too short", (unsigned long long)index);
		return ERR_CORRUPT;
	}
	if (c == CRYPTO_AES256GCM) {
		make_nonce(nonce, crypto_aead_aes256gcm_NPUBBYTES, index, last);
		memcpy(tag, in + inlen - CRYPTO_TAG, CRYPTO_TAG);
		rc = aes_gcm(0, subkey, nonce, ad, adlen, in,
		    inlen - CRYPTO_TAG, out, tag);
		if (rc < 0) {
			err_set("chunk %llu: AES-256-GCM failed in OpenSSL",
			    (unsigned long long)index);
			return ERR_FAIL;
		}
	} else if (c == CRYPTO_XCHACHA20) {
		make_nonce(nonce, sizeof(nonce), index, last);
		rc = crypto_aead_xchacha20poly1305_ietf_decrypt(out, &outlen,
		    NULL, in, inlen, ad, adlen, nonce, subkey);
	} else {
		err_set("unknown cipher %d", c);
		return ERR_CORRUPT;
	}
	if (rc != 0) {
		err_set("chunk %llu failed authentication%s",
		    (unsigned long long)index,
		    last ? " (or the object is truncated)" : "");
		return ERR_CORRUPT;
	}
	return ERR_OK;
}
