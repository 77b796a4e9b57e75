/*
 * Fuzz the key file readers: public key JSON (keys_parse_public,
 * keys_load_public, which also takes a secret key file's clear public
 * half) and secret key files (keys_load_secret).  The reader bounds the
 * Argon2id parameters a file may ask for (opslimit 1..10, memlimit 8 MiB
 * to 4 GiB), but even the bounds are too slow for fuzzing: inputs asking
 * for more than opslimit 2 and 8 MiB are not given to keys_load_secret.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "err.h"
#include "fuzz.h"
#include "keys.h"

#define FUZZ_PASSPHRASE "fuzz passphrase"
#define FUZZ_OPS_MAX 2
#define FUZZ_MEM_MAX (8 * 1024 * 1024)

/* 1 unless o asks for a KDF dearer than the harness allows. */
static int
kdf_cheap(const uint8_t *data, size_t size)
{
	json_t *o, *kdf, *ops, *mem;
	int cheap = 1;

	if ((o = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
	    NULL)) == NULL)
		return 1;
	kdf = json_object_get(o, "kdf");
	ops = json_object_get(kdf, "opslimit");
	mem = json_object_get(kdf, "memlimit");
	if (json_is_integer(ops) && json_is_integer(mem) &&
	    (json_integer_value(ops) > FUZZ_OPS_MAX ||
	    json_integer_value(mem) > FUZZ_MEM_MAX))
		cheap = 0;
	json_decref(o);
	return cheap;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keys_public pub, pub2;
	struct keys_secret *sk = NULL;
	char path[64];
	int fd, rc;

	if (keys_parse_public((const char *)data, size, &pub) == ERR_OK)
		fuzz_check(strlen(pub.fpr) == KEYS_FPR_HEX, "fingerprint");
	fd = fuzz_memfd(data, size, path, sizeof(path));
	rc = keys_load_public(path, &pub2);
	if (rc == ERR_OK)
		fuzz_check(strlen(pub2.fpr) == KEYS_FPR_HEX, "fingerprint");
	if (kdf_cheap(data, size) &&
	    keys_load_secret(path, FUZZ_PASSPHRASE, &sk) == ERR_OK) {
		/* A secret key that opens belongs to its public half. */
		fuzz_check(rc == ERR_OK && memcmp(keys_secret_public(sk), &pub2,
		    sizeof(pub2)) == 0, "secret key's public half");
		keys_secret_free(sk);
	}
	close(fd);
	return 0;
}
