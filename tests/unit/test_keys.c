/*
 * Unit tests for core/keys.c: key generation, key files (including files
 * written by hand from the documented format), tampering, overwrite
 * refusal, sealing of data keys.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>

#include "err.h"
#include "keys.h"
#include "support.h"

#define PW "correct horse battery staple"

static const char *tmpdir;

static void
setup(void)
{
	cr_assert(sodium_init() >= 0);
	tmpdir = support_tmpdir("keys");
}

static void
teardown(void)
{
	support_cleanup();
}

TestSuite(keys, .init = setup, .fini = teardown);

/* The whole file, NUL-terminated; the test fails if it cannot be read. */
static char *
slurp(const char *path, size_t *lenp)
{
	size_t n;
	char *buf = (char *)support_read_file(path, &n);

	cr_assert_not_null(buf, "open %s", path);
	if (lenp != NULL)
		*lenp = n;
	return buf;
}

static json_t *
load_json(const char *path)
{
	json_error_t je;
	json_t *o = json_load_file(path, 0, &je);

	cr_assert_not_null(o, "%s: %s", path, je.text);
	return o;
}

static void
save_json(const char *path, const json_t *o)
{
	char *s = json_dumps(o, 0);

	cr_assert_not_null(s);
	support_write_file(path, s, strlen(s));
	free(s);
}

static char *
b64(const uint8_t *bin, size_t len)
{
	size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(n);

	cr_assert_not_null(s);
	return sodium_bin2base64(s, n, bin, len, sodium_base64_VARIANT_ORIGINAL);
}

static int
is_lower_hex(const char *s, size_t n)
{
	size_t i;

	if (strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

Test(keys, fingerprint_known_answer)
{
	uint8_t x[32], e[32];
	char fpr[KEYS_FPR_HEX + 1];
	int i;

	for (i = 0; i < 32; i++) {
		x[i] = (uint8_t)i;
		e[i] = (uint8_t)(32 + i);
	}
	keys_fingerprint(x, e, fpr);
	/* Python: blake2b(b"bkp-key-v1" + x + e, digest_size=16) */
	cr_assert_str_eq(fpr, "b3a05e0a1dcf99e62edf068b146b825d");
	e[31] ^= 1;
	keys_fingerprint(x, e, fpr);
	cr_assert_str_neq(fpr, "b3a05e0a1dcf99e62edf068b146b825d");
}

Test(keys, generate_load_round_trip)
{
	struct keys_public pub, pub2, pub3;
	struct keys_secret *sk = NULL;
	const struct keys_public *sp;
	struct stat st;
	char fpr[KEYS_FPR_HEX + 1];
	json_t *o, *kdf;
	char *text;
	size_t len;

	umask(0); /* modes must not depend on the caller's umask */
	cr_assert_eq(keys_generate(support_path("k"), PW, KEYS_KDF_DEFAULT,
	    "backup key \xc3\xa9", &pub), ERR_OK, "%s", err_get());
	cr_assert(is_lower_hex(pub.fpr, KEYS_FPR_HEX));
	keys_fingerprint(pub.x25519, pub.ed25519, fpr);
	cr_assert_str_eq(fpr, pub.fpr);

	cr_assert_eq(lstat(support_path("k"), &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0600, "secret mode %o",
	    (unsigned)(st.st_mode & 07777));
	cr_assert_eq(lstat(support_path("k.pub"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0644, "public mode %o",
	    (unsigned)(st.st_mode & 07777));
	/* Nothing but the two files: no temporaries left. */
	cr_assert_eq(support_count_entries(tmpdir), 2);

	/* Public file: documented fields, trailing newline. */
	text = slurp(support_path("k.pub"), &len);
	cr_assert_gt(len, 0);
	cr_assert_eq(text[len - 1], '\n');
	cr_assert_eq(keys_parse_public(text, len, &pub2), ERR_OK, "%s",
	    err_get());
	cr_assert_eq(memcmp(&pub, &pub2, sizeof(pub)), 0);
	free(text);
	o = load_json(support_path("k.pub"));
	cr_assert_eq(json_integer_value(json_object_get(o, "bkp_public_key")),
	    1);
	cr_assert_str_eq(json_string_value(json_object_get(o, "fpr")), pub.fpr);
	cr_assert_str_eq(json_string_value(json_object_get(o, "comment")),
	    "backup key \xc3\xa9");
	json_decref(o);

	/* Secret file: documented KDF parameters and cipher. */
	text = slurp(support_path("k"), &len);
	cr_assert_eq(text[len - 1], '\n');
	free(text);
	o = load_json(support_path("k"));
	kdf = json_object_get(o, "kdf");
	cr_assert_str_eq(json_string_value(json_object_get(kdf, "alg")),
	    "argon2id13");
	cr_assert_eq(json_integer_value(json_object_get(kdf, "opslimit")), 3);
	cr_assert_eq(json_integer_value(json_object_get(kdf, "memlimit")),
	    64 * 1024 * 1024);
	cr_assert_str_eq(json_string_value(json_object_get(o, "cipher")),
	    "xchacha20poly1305-ietf");
	json_decref(o);

	cr_assert_eq(keys_load_public(support_path("k.pub"), &pub2), ERR_OK);
	cr_assert_eq(memcmp(&pub, &pub2, sizeof(pub)), 0);
	cr_assert_eq(keys_load_public(support_path("k"), &pub3), ERR_OK, "%s",
	    err_get());
	cr_assert_eq(memcmp(&pub, &pub3, sizeof(pub)), 0);

	cr_assert_eq(keys_load_secret(support_path("k"), PW, &sk), ERR_OK, "%s",
	    err_get());
	cr_assert_not_null(sk);
	sp = keys_secret_public(sk);
	cr_assert_eq(memcmp(sp, &pub, sizeof(pub)), 0);
	keys_secret_free(sk);
	keys_secret_free(NULL);
}

Test(keys, format_parse_public)
{
	struct keys_public pub, pub2;
	char *t;

	randombytes_buf(pub.x25519, 32);
	randombytes_buf(pub.ed25519, 32);
	keys_fingerprint(pub.x25519, pub.ed25519, pub.fpr);
	t = keys_format_public(&pub, NULL);
	cr_assert_not_null(t);
	cr_assert_eq(t[strlen(t) - 1], '\n');
	cr_assert_null(strstr(t, "comment"));
	cr_assert_eq(keys_parse_public(t, strlen(t), &pub2), ERR_OK);
	cr_assert_eq(memcmp(&pub, &pub2, sizeof(pub)), 0);
	free(t);
	/* Not UTF-8: refused rather than written. */
	cr_assert_null(keys_format_public(&pub, "bad \xff"));
}

Test(keys, wrong_passphrase)
{
	struct keys_secret *sk = (struct keys_secret *)1;
	char want[600];

	cr_assert_eq(keys_generate(support_path("k"), PW, KEYS_KDF_DEFAULT,
	    NULL, NULL), ERR_OK, "%s", err_get());
	cr_assert_eq(keys_load_secret(support_path("k"), PW "x", &sk), ERR_KEY);
	cr_assert_null(sk);
	snprintf(want, sizeof(want), "wrong passphrase for key '%s'",
	    support_path("k"));
	cr_assert_str_eq(err_get(), want);
	/* The passphrase never appears in messages. */
	cr_assert_null(strstr(err_get(), "horse"));
}

Test(keys, missing_files)
{
	struct keys_public pub;
	struct keys_secret *sk;

	cr_assert_eq(keys_load_secret(support_path("none"), PW, &sk),
	    ERR_NOTFOUND);
	cr_assert_null(sk);
	cr_assert_not_null(strstr(err_get(), support_path("none")));
	cr_assert_eq(keys_load_public(support_path("none.pub"), &pub),
	    ERR_NOTFOUND);
}

Test(keys, empty_passphrase_refused)
{
	cr_assert_eq(keys_generate(support_path("k"), "", KEYS_KDF_DEFAULT,
	    NULL, NULL), ERR_USAGE);
	cr_assert_eq(support_count_entries(tmpdir), 0);
}

/*
 * Secret-file mutations.  Each takes the parsed file and breaks it; the
 * loader must return the status given (a flipped box byte or salt is
 * indistinguishable from a wrong passphrase: AEAD failure is ERR_KEY).
 */
enum { M_BOX_FLIP, M_BOX_SHORT, M_BOX_LONG, M_PUB_X, M_PUB_ED, M_FPR,
	M_FPR_UPPER, M_BAD_B64, M_B64_NOPAD, M_MEM_HUGE, M_MEM_SMALL, M_OPS_0,
	M_OPS_11, M_MEM_STRING, M_ALG, M_CIPHER, M_VERSION, M_NONCE_SHORT,
	M_SALT_FLIP, M_OTHER_PUB, M_NO_KDF, M_NOT_OBJECT, M_PUB_VERSION,
	M_COUNT };

static const struct {
	int m;
	const char *name;
	int want;
} mutations[] = {
	{ M_BOX_FLIP, "box byte flipped", ERR_KEY },
	{ M_BOX_SHORT, "box truncated", ERR_CORRUPT },
	{ M_BOX_LONG, "box extended", ERR_CORRUPT },
	{ M_PUB_X, "public x25519 replaced", ERR_CORRUPT },
	{ M_PUB_ED, "public ed25519 replaced", ERR_CORRUPT },
	{ M_FPR, "fingerprint changed", ERR_CORRUPT },
	{ M_FPR_UPPER, "fingerprint in upper case", ERR_CORRUPT },
	{ M_BAD_B64, "x25519 not base64", ERR_CORRUPT },
	{ M_B64_NOPAD, "salt without padding", ERR_CORRUPT },
	{ M_MEM_HUGE, "memlimit 8 GiB", ERR_CORRUPT },
	{ M_MEM_SMALL, "memlimit 1 MiB", ERR_CORRUPT },
	{ M_OPS_0, "opslimit 0", ERR_CORRUPT },
	{ M_OPS_11, "opslimit 11", ERR_CORRUPT },
	{ M_MEM_STRING, "memlimit a string", ERR_CORRUPT },
	{ M_ALG, "kdf alg argon2i13", ERR_CORRUPT },
	{ M_CIPHER, "cipher aes256gcm", ERR_CORRUPT },
	{ M_VERSION, "bkp_secret_key 2", ERR_CORRUPT },
	{ M_NONCE_SHORT, "nonce of 12 bytes", ERR_CORRUPT },
	{ M_SALT_FLIP, "salt changed", ERR_KEY },
	{ M_OTHER_PUB, "consistent public half of another key", ERR_KEY },
	{ M_NO_KDF, "kdf missing", ERR_CORRUPT },
	{ M_NOT_OBJECT, "top level an array", ERR_CORRUPT },
	{ M_PUB_VERSION, "public version 2", ERR_CORRUPT },
};

static void
flip_b64(json_t *obj, const char *name)
{
	const char *s = json_string_value(json_object_get(obj, name));
	uint8_t bin[256];
	size_t n;
	char *t;

	cr_assert_not_null(s);
	cr_assert_eq(sodium_base642bin(bin, sizeof(bin), s, strlen(s), NULL,
	    &n, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	bin[n / 2] ^= 0x01;
	t = b64(bin, n);
	json_object_set_new(obj, name, json_string(t));
	free(t);
}

static void
resize_b64(json_t *obj, const char *name, long delta)
{
	const char *s = json_string_value(json_object_get(obj, name));
	uint8_t bin[256];
	size_t n;
	char *t;

	cr_assert_eq(sodium_base642bin(bin, sizeof(bin) - 8, s, strlen(s),
	    NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	memset(bin + n, 0xaa, 8);
	t = b64(bin, (size_t)((long)n + delta));
	json_object_set_new(obj, name, json_string(t));
	free(t);
}

static void
mutate(json_t *o, int m, json_t *other)
{
	json_t *pub = json_object_get(o, "public");
	json_t *kdf = json_object_get(o, "kdf");
	char buf[128];
	const char *s;
	size_t i;

	switch (m) {
	case M_BOX_FLIP:
		flip_b64(o, "box");
		break;
	case M_BOX_SHORT:
		resize_b64(o, "box", -1);
		break;
	case M_BOX_LONG:
		resize_b64(o, "box", 1);
		break;
	case M_PUB_X:
		flip_b64(pub, "x25519");
		break;
	case M_PUB_ED:
		flip_b64(pub, "ed25519");
		break;
	case M_FPR:
		s = json_string_value(json_object_get(pub, "fpr"));
		snprintf(buf, sizeof(buf), "%s", s);
		buf[0] = buf[0] == '0' ? '1' : '0';
		json_object_set_new(pub, "fpr", json_string(buf));
		break;
	case M_FPR_UPPER:
		s = json_string_value(json_object_get(pub, "fpr"));
		snprintf(buf, sizeof(buf), "%s", s);
		for (i = 0; buf[i] != '\0'; i++)
			if (buf[i] >= 'a' && buf[i] <= 'f')
				buf[i] = (char)(buf[i] - 'a' + 'A');
		json_object_set_new(pub, "fpr", json_string(buf));
		break;
	case M_BAD_B64:
		json_object_set_new(pub, "x25519",
		    json_string("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!="));
		break;
	case M_B64_NOPAD:
		s = json_string_value(json_object_get(kdf, "salt"));
		snprintf(buf, sizeof(buf), "%s", s);
		cr_assert_eq(buf[strlen(buf) - 1], '=');
		while (buf[strlen(buf) - 1] == '=')
			buf[strlen(buf) - 1] = '\0';
		json_object_set_new(kdf, "salt", json_string(buf));
		break;
	case M_MEM_HUGE:
		json_object_set_new(kdf, "memlimit",
		    json_integer(8LL * 1024 * 1024 * 1024));
		break;
	case M_MEM_SMALL:
		json_object_set_new(kdf, "memlimit", json_integer(1024 * 1024));
		break;
	case M_OPS_0:
		json_object_set_new(kdf, "opslimit", json_integer(0));
		break;
	case M_OPS_11:
		json_object_set_new(kdf, "opslimit", json_integer(11));
		break;
	case M_MEM_STRING:
		json_object_set_new(kdf, "memlimit", json_string("67108864"));
		break;
	case M_ALG:
		json_object_set_new(kdf, "alg", json_string("argon2i13"));
		break;
	case M_CIPHER:
		json_object_set_new(o, "cipher", json_string("aes256gcm"));
		break;
	case M_VERSION:
		json_object_set_new(o, "bkp_secret_key", json_integer(2));
		break;
	case M_NONCE_SHORT:
		resize_b64(o, "nonce", -12);
		break;
	case M_SALT_FLIP:
		flip_b64(kdf, "salt");
		break;
	case M_OTHER_PUB:
		json_object_set(o, "public", other);
		break;
	case M_NO_KDF:
		json_object_del(o, "kdf");
		break;
	case M_NOT_OBJECT:
		json_object_clear(o);
		break;
	case M_PUB_VERSION:
		json_object_set_new(pub, "bkp_public_key", json_integer(2));
		break;
	}
}

Test(keys, tampered_secret_files, .timeout = 120)
{
	struct keys_public pub;
	struct keys_secret *sk;
	json_t *orig, *other, *o;
	size_t i;
	char name[32];

	cr_assert_eq(sizeof(mutations) / sizeof(mutations[0]), M_COUNT);
	cr_assert_eq(keys_generate(support_path("k"), PW, KEYS_KDF_DEFAULT,
	    NULL, NULL), ERR_OK, "%s", err_get());
	cr_assert_eq(keys_generate(support_path("other"), PW, KEYS_KDF_DEFAULT,
	    NULL, NULL), ERR_OK, "%s", err_get());
	orig = load_json(support_path("k"));
	other = load_json(support_path("other.pub"));
	/* The unmodified file loads (the mutations alone make it fail). */
	save_json(support_path("copy"), orig);
	cr_assert_eq(keys_load_secret(support_path("copy"), PW, &sk), ERR_OK);
	keys_secret_free(sk);

	for (i = 0; i < M_COUNT; i++) {
		o = json_deep_copy(orig);
		mutate(o, mutations[i].m, other);
		snprintf(name, sizeof(name), "m%zu", i);
		if (mutations[i].m == M_NOT_OBJECT)
			support_write_file(support_path(name), "[1, 2]\n", 7);
		else
			save_json(support_path(name), o);
		json_decref(o);
		sk = (struct keys_secret *)1;
		cr_expect_eq(keys_load_secret(support_path(name), PW, &sk),
		    mutations[i].want, "%s: %s", mutations[i].name, err_get());
		cr_expect_null(sk, "%s", mutations[i].name);
		/* Messages name the file. */
		cr_expect_not_null(strstr(err_get(), support_path(name)),
		    "%s: %s", mutations[i].name, err_get());
		if (sk != NULL && sk != (struct keys_secret *)1)
			keys_secret_free(sk);
		/* The public half read from a broken secret file. */
		if (mutations[i].m == M_VERSION || mutations[i].m == M_PUB_X ||
		    mutations[i].m == M_FPR || mutations[i].m == M_BAD_B64)
			cr_expect_eq(keys_load_public(support_path(name), &pub),
			    ERR_CORRUPT, "%s", mutations[i].name);
		else if (mutations[i].m == M_BOX_FLIP)
			cr_expect_eq(keys_load_public(support_path(name), &pub),
			    ERR_OK, "%s", mutations[i].name);
	}
	json_decref(other);
	json_decref(orig);
}

Test(keys, tampered_public_files)
{
	struct keys_public pub, got;
	json_t *orig, *o;
	char *t, *big;
	size_t i;
	static const char *bad[] = {
		"",
		"not json",
		"[]",
		"{\"bkp_public_key\": 1}",
	};

	randombytes_buf(pub.x25519, 32);
	randombytes_buf(pub.ed25519, 32);
	keys_fingerprint(pub.x25519, pub.ed25519, pub.fpr);
	t = keys_format_public(&pub, "c");
	cr_assert_not_null(t);
	support_write_file(support_path("p.pub"), t, strlen(t));
	cr_assert_eq(keys_load_public(support_path("p.pub"), &got), ERR_OK);
	orig = load_json(support_path("p.pub"));
	free(t);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		support_write_file(support_path("b.pub"), bad[i],
		    strlen(bad[i]));
		cr_expect_eq(keys_load_public(support_path("b.pub"), &got),
		    ERR_CORRUPT, "'%s'", bad[i]);
		cr_expect_not_null(strstr(err_get(), support_path("b.pub")));
	}
	/* x25519 key changed: fingerprint no longer matches. */
	o = json_deep_copy(orig);
	flip_b64(o, "x25519");
	save_json(support_path("b.pub"), o);
	json_decref(o);
	cr_expect_eq(keys_load_public(support_path("b.pub"), &got),
	    ERR_CORRUPT);
	cr_expect_not_null(strstr(err_get(), support_path("b.pub")), "%s",
	    err_get());
	/* 31- and 33-byte keys. */
	o = json_deep_copy(orig);
	resize_b64(o, "ed25519", -1);
	save_json(support_path("b.pub"), o);
	json_decref(o);
	cr_expect_eq(keys_load_public(support_path("b.pub"), &got),
	    ERR_CORRUPT);
	o = json_deep_copy(orig);
	resize_b64(o, "x25519", 1);
	save_json(support_path("b.pub"), o);
	json_decref(o);
	cr_expect_eq(keys_load_public(support_path("b.pub"), &got),
	    ERR_CORRUPT);
	/* Base64 with a character outside the alphabet. */
	o = json_deep_copy(orig);
	json_object_set_new(o, "ed25519",
	    json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-A="));
	save_json(support_path("b.pub"), o);
	json_decref(o);
	cr_expect_eq(keys_load_public(support_path("b.pub"), &got),
	    ERR_CORRUPT);
	/* Version 2, version "1", fingerprint missing, duplicate keys. */
	o = json_deep_copy(orig);
	json_object_set_new(o, "bkp_public_key", json_integer(2));
	save_json(support_path("b.pub"), o);
	json_decref(o);
	cr_expect_eq(keys_load_public(support_path("b.pub"), &got),
	    ERR_CORRUPT);
	o = json_deep_copy(orig);
	json_object_set_new(o, "bkp_public_key", json_string("1"));
	save_json(support_path("b.pub"), o);
	json_decref(o);
	cr_expect_eq(keys_load_public(support_path("b.pub"), &got),
	    ERR_CORRUPT);
	o = json_deep_copy(orig);
	json_object_del(o, "fpr");
	save_json(support_path("b.pub"), o);
	json_decref(o);
	cr_expect_eq(keys_load_public(support_path("b.pub"), &got),
	    ERR_CORRUPT);
	o = json_deep_copy(orig);
	json_object_set_new(o, "comment", json_integer(5));
	save_json(support_path("b.pub"), o);
	json_decref(o);
	cr_expect_eq(keys_load_public(support_path("b.pub"), &got),
	    ERR_CORRUPT);
	/* Over the 64 KiB cap (a valid key padded with a long comment). */
	big = malloc(70000);
	cr_assert_not_null(big);
	memset(big, 'a', 69999);
	big[69999] = '\0';
	o = json_deep_copy(orig);
	json_object_set_new(o, "comment", json_string(big));
	save_json(support_path("b.pub"), o);
	json_decref(o);
	free(big);
	cr_expect_eq(keys_load_public(support_path("b.pub"), &got),
	    ERR_CORRUPT);
	cr_expect_not_null(strstr(err_get(), support_path("b.pub")), "%s",
	    err_get());
	cr_expect_not_null(strstr(err_get(), "larger than"), "%s", err_get());
	json_decref(orig);
}

Test(keys, refuses_to_overwrite)
{
	struct keys_public pub;
	char *t;

	/* An existing secret file is left alone, and no .pub appears. */
	support_write_file(support_path("k"), "precious\n", 9);
	cr_assert_eq(keys_generate(support_path("k"), PW, KEYS_KDF_DEFAULT,
	    NULL, &pub), ERR_EXISTS);
	cr_assert_not_null(strstr(err_get(), support_path("k")));
	t = slurp(support_path("k"), NULL);
	cr_assert_str_eq(t, "precious\n");
	free(t);
	cr_assert_eq(access(support_path("k.pub"), F_OK), -1);
	cr_assert_eq(support_count_entries(tmpdir), 1);

	/* An existing public file likewise, and no secret file appears. */
	support_write_file(support_path("j.pub"), "public\n", 7);
	cr_assert_eq(keys_generate(support_path("j"), PW, KEYS_KDF_DEFAULT,
	    NULL, &pub), ERR_EXISTS);
	cr_assert_not_null(strstr(err_get(), support_path("j.pub")));
	t = slurp(support_path("j.pub"), NULL);
	cr_assert_str_eq(t, "public\n");
	free(t);
	cr_assert_eq(access(support_path("j"), F_OK), -1);

	/* A dangling symlink counts as existing (never written through). */
	cr_assert_eq(symlink(support_path("target"), support_path("s")), 0);
	cr_assert_eq(keys_generate(support_path("s"), PW, KEYS_KDF_DEFAULT,
	    NULL, &pub), ERR_EXISTS);
	cr_assert_eq(access(support_path("target"), F_OK), -1);
	cr_assert_eq(support_count_entries(tmpdir), 3);
}

Test(keys, no_half_key_pair)
{
	char name[300];
	struct keys_public pub;

	/*
	 * A basename of 232 bytes: the secret file's temporary
	 * (name.tmp-<16 hex>) fits in NAME_MAX (255) but the public file's
	 * (name.pub.tmp-<16 hex>) does not, so the second write fails and the
	 * first file must be removed again.
	 */
	memset(name, 'n', 232);
	name[232] = '\0';
	cr_assert_eq(keys_generate(support_path(name), PW, KEYS_KDF_DEFAULT,
	    NULL, &pub), ERR_FAIL);
	cr_assert_not_null(strstr(err_get(), ".pub.tmp-"), "%s", err_get());
	cr_assert_eq(support_count_entries(tmpdir), 0);
}

Test(keys, seal_unseal)
{
	struct keys_public pa, pb;
	struct keys_secret *a, *b;
	uint8_t dk[KEYS_DATAKEY], sealed[KEYS_SEALED], *out;

	cr_assert_eq(keys_generate(support_path("a"), PW, KEYS_KDF_DEFAULT,
	    NULL, &pa), ERR_OK, "%s", err_get());
	cr_assert_eq(keys_generate(support_path("b"), PW, KEYS_KDF_DEFAULT,
	    NULL, &pb), ERR_OK, "%s", err_get());
	cr_assert_eq(keys_load_secret(support_path("a"), PW, &a), ERR_OK);
	cr_assert_eq(keys_load_secret(support_path("b"), PW, &b), ERR_OK);
	out = sodium_malloc(KEYS_DATAKEY);
	cr_assert_not_null(out);

	randombytes_buf(dk, sizeof(dk));
	cr_assert_eq(keys_seal(&pa, dk, sealed), ERR_OK);
	cr_assert_eq(keys_unseal(a, sealed, out), ERR_OK, "%s", err_get());
	cr_assert_eq(memcmp(out, dk, sizeof(dk)), 0);
	/* Not sealed to b. */
	cr_assert_eq(keys_unseal(b, sealed, out), ERR_KEY);
	cr_assert_not_null(strstr(err_get(), pb.fpr));
	/* Tampered. */
	sealed[KEYS_SEALED - 1] ^= 0x80;
	cr_assert_eq(keys_unseal(a, sealed, out), ERR_KEY);
	sealed[KEYS_SEALED - 1] ^= 0x80;
	sealed[0] ^= 0x01;
	cr_assert_eq(keys_unseal(a, sealed, out), ERR_KEY);

	sodium_free(out);
	keys_secret_free(b);
	keys_secret_free(a);
}

/*
 * Write a secret key file by hand from the documented format (cheap KDF
 * parameters, which the loader must honour), holding secret bytes sec for
 * the public keys in pub.
 */
static void
write_by_hand(const char *path, const struct keys_public *pub,
    const uint8_t sec[96], const char *ad)
{
	uint8_t salt[16], nonce[24], key[32], box[96 + 16];
	char *bx, *be, *bs, *bn, *bb;
	json_t *o;

	randombytes_buf(salt, sizeof(salt));
	randombytes_buf(nonce, sizeof(nonce));
	cr_assert_eq(crypto_pwhash(key, 32, PW, strlen(PW), salt, 1,
	    8 * 1024 * 1024, crypto_pwhash_ALG_ARGON2ID13), 0);
	crypto_aead_xchacha20poly1305_ietf_encrypt(box, NULL, sec, 96,
	    (const uint8_t *)ad, strlen(ad), NULL, nonce, key);
	bx = b64(pub->x25519, 32);
	be = b64(pub->ed25519, 32);
	bs = b64(salt, sizeof(salt));
	bn = b64(nonce, sizeof(nonce));
	bb = b64(box, sizeof(box));
	o = json_pack("{s:i, s:{s:i, s:s, s:s, s:s}, s:{s:s, s:i, s:i, s:s},"
	    " s:s, s:s, s:s}", "bkp_secret_key", 1,
	    "public", "bkp_public_key", 1, "fpr", pub->fpr, "x25519", bx,
	    "ed25519", be,
	    "kdf", "alg", "argon2id13", "opslimit", 1, "memlimit",
	    8 * 1024 * 1024, "salt", bs,
	    "cipher", "xchacha20poly1305-ietf", "nonce", bn, "box", bb);
	cr_assert_not_null(o);
	save_json(path, o);
	json_decref(o);
	free(bx);
	free(be);
	free(bs);
	free(bn);
	free(bb);
}

Test(keys, hand_written_secret_files)
{
	struct keys_public pub;
	struct keys_secret *sk;
	uint8_t sec[96], dk[KEYS_DATAKEY], sealed[KEYS_SEALED], out[32];
	uint8_t epk2[32], esk2[64];

	crypto_box_keypair(pub.x25519, sec);
	crypto_sign_keypair(pub.ed25519, sec + 32);
	keys_fingerprint(pub.x25519, pub.ed25519, pub.fpr);

	/* Conforming file from an independent writer: accepted, usable. */
	write_by_hand(support_path("good"), &pub, sec, pub.fpr);
	cr_assert_eq(keys_load_secret(support_path("good"), PW, &sk), ERR_OK,
	    "%s", err_get());
	randombytes_buf(dk, sizeof(dk));
	cr_assert_eq(crypto_box_seal(sealed, dk, sizeof(dk), pub.x25519), 0);
	cr_assert_eq(keys_unseal(sk, sealed, out), ERR_OK);
	cr_assert_eq(memcmp(out, dk, sizeof(dk)), 0);
	keys_secret_free(sk);

	/* Wrong additional data (not the fingerprint): ERR_KEY. */
	write_by_hand(support_path("ad"), &pub, sec,
	    "0123456789abcdef0123456789abcdef");
	cr_assert_eq(keys_load_secret(support_path("ad"), PW, &sk), ERR_KEY);

	/* Decrypts, but the X25519 secret is not the public key's. */
	sec[0] ^= 0x40;
	write_by_hand(support_path("x"), &pub, sec, pub.fpr);
	cr_assert_eq(keys_load_secret(support_path("x"), PW, &sk), ERR_CORRUPT);
	cr_assert_null(sk);
	cr_assert_not_null(strstr(err_get(), support_path("x")));
	sec[0] ^= 0x40;

	/* Decrypts, but the Ed25519 secret is another key's. */
	crypto_sign_keypair(epk2, esk2);
	memcpy(sec + 32, esk2, 64);
	write_by_hand(support_path("e"), &pub, sec, pub.fpr);
	cr_assert_eq(keys_load_secret(support_path("e"), PW, &sk), ERR_CORRUPT);

	/* Ed25519 seed right but embedded public half altered. */
	crypto_sign_keypair(pub.ed25519, sec + 32);
	keys_fingerprint(pub.x25519, pub.ed25519, pub.fpr);
	sec[95] ^= 0x01;
	write_by_hand(support_path("e2"), &pub, sec, pub.fpr);
	cr_assert_eq(keys_load_secret(support_path("e2"), PW, &sk),
	    ERR_CORRUPT);
	sec[95] ^= 0x01;
	write_by_hand(support_path("e3"), &pub, sec, pub.fpr);
	cr_assert_eq(keys_load_secret(support_path("e3"), PW, &sk), ERR_OK,
	    "%s", err_get());
	keys_secret_free(sk);
}
