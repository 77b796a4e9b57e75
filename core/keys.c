/*
 * Key pairs and key files.  Formats: docs/FORMAT.md, "Key files".
 *
 * Fingerprint: BLAKE2b-128 over "bkp-key-v1" || X25519 pk || Ed25519 pk, in
 * lowercase hex.  The public key file is a JSON object; the secret key file
 * holds the public object in the clear plus the 96 secret bytes
 * (X25519 sk || Ed25519 sk) sealed with XChaCha20-Poly1305 under an
 * Argon2id-derived key, with the fingerprint as additional data.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "err.h"
#include "keys.h"

#define KEYS_MAGIC "bkp-key-v1"
#define KEYS_FPR_BYTES 16
#define KEYS_FILE_MAX (64 * 1024)      /* cap on key files read back */
#define KEYS_COMMENT_MAX 1024          /* cap on comments we write */
#define KEYS_SALT 16                   /* crypto_pwhash_SALTBYTES */
#define KEYS_NONCE 24                  /* XChaCha20-Poly1305 nonce */
#define KEYS_SECRET_LEN (32 + 64)      /* X25519 sk || Ed25519 sk */
#define KEYS_BOX_LEN (KEYS_SECRET_LEN + 16)
#define KEYS_KDF_ALG "argon2id13"
#define KEYS_CIPHER "xchacha20poly1305-ietf"
/* Bounds on KDF parameters accepted from a file (a hostile file must not
 * make us allocate absurd memory or spin for hours). */
#define KEYS_OPS_MIN 1
#define KEYS_OPS_MAX 10
#define KEYS_MEM_MIN (8ULL * 1024 * 1024)
#define KEYS_MEM_MAX (4ULL * 1024 * 1024 * 1024)

struct keys_secret {
	struct keys_public pub;
	uint8_t x25519[32];
	uint8_t ed25519[64];
};

static int
keys_init(void)
{
	if (sodium_init() < 0) {
		err_set("cannot initialise libsodium");
		return ERR_FAIL;
	}
	return ERR_OK;
}

void
keys_fingerprint(const uint8_t x25519[32], const uint8_t ed25519[32],
    char fpr[KEYS_FPR_HEX + 1])
{
	crypto_generichash_state st;
	uint8_t h[KEYS_FPR_BYTES];

	(void)keys_init();
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)KEYS_MAGIC,
	    strlen(KEYS_MAGIC));
	crypto_generichash_update(&st, x25519, 32);
	crypto_generichash_update(&st, ed25519, 32);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(fpr, KEYS_FPR_HEX + 1, h, sizeof(h));
}

/* New malloc'ed base64 (original alphabet, padded) of bin[0..len). */
static char *
b64_encode(const uint8_t *bin, size_t len)
{
	size_t n = sodium_base64_ENCODED_LEN(len,
	    sodium_base64_VARIANT_ORIGINAL);
	char *s;

	if ((s = malloc(n)) == NULL)
		return NULL;
	sodium_bin2base64(s, n, bin, len, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

/*
 * Decode the string member name of obj, which must be base64 of exactly len
 * bytes, into out.  Return 0, or ERR_CORRUPT with a message.
 */
static int
b64_member(const json_t *obj, const char *name, uint8_t *out, size_t len)
{
	const json_t *v = json_object_get(obj, name);
	const char *s;
	size_t slen, binlen;

	if (!json_is_string(v)) {
		err_set("missing or non-string \"%s\"", name);
		return ERR_CORRUPT;
	}
	s = json_string_value(v);
	slen = json_string_length(v);
	if (slen != sodium_base64_ENCODED_LEN(len,
	    sodium_base64_VARIANT_ORIGINAL) - 1 ||
	    sodium_base642bin(out, len, s, slen, NULL, &binlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || binlen != len) {
		err_set("\"%s\" is not base64 of %zu bytes", name, len);
		return ERR_CORRUPT;
	}
	return ERR_OK;
}

/* Integer member name of obj, or ERR_CORRUPT. */
static int
int_member(const json_t *obj, const char *name, json_int_t *out)
{
	const json_t *v = json_object_get(obj, name);

	if (!json_is_integer(v)) {
		err_set("missing or non-integer \"%s\"", name);
		return ERR_CORRUPT;
	}
	*out = json_integer_value(v);
	return ERR_OK;
}

/* 0 if string member name of obj equals want, else ERR_CORRUPT. */
static int
str_member_is(const json_t *obj, const char *name, const char *want)
{
	const json_t *v = json_object_get(obj, name);

	if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0) {
		err_set("\"%s\" is not \"%s\"", name, want);
		return ERR_CORRUPT;
	}
	return ERR_OK;
}

/* Public key object (format above) from pub and optional comment. */
static json_t *
pub_to_json(const struct keys_public *pub, const char *comment)
{
	json_t *o = NULL, *c = NULL;
	char *x = NULL, *e = NULL;

	if ((x = b64_encode(pub->x25519, 32)) == NULL ||
	    (e = b64_encode(pub->ed25519, 32)) == NULL) {
		err_set("out of memory");
		goto done;
	}
	if (comment != NULL && (c = json_string(comment)) == NULL) {
		err_set("key comment is not valid UTF-8");
		goto done;
	}
	o = json_pack("{s:i, s:s, s:s, s:s}", "bkp_public_key", 1,
	    "fpr", pub->fpr, "x25519", x, "ed25519", e);
	if (o == NULL) {
		err_set("out of memory");
		goto done;
	}
	if (c != NULL) {
		if (json_object_set_new(o, "comment", c) != 0) {
			c = NULL;
			json_decref(o);
			o = NULL;
			err_set("out of memory");
			goto done;
		}
		c = NULL;
	}
done:
	json_decref(c);
	free(e);
	free(x);
	return o;
}

/* Check and decode a public key object; ERR_CORRUPT with a message. */
static int
pub_from_json(const json_t *o, struct keys_public *pub)
{
	const json_t *fv, *cv;
	json_int_t ver;
	char fpr[KEYS_FPR_HEX + 1];
	int rc;

	if (!json_is_object(o)) {
		err_set("public key is not a JSON object");
		return ERR_CORRUPT;
	}
	if ((rc = int_member(o, "bkp_public_key", &ver)) != 0)
		return rc;
	if (ver != 1) {
		err_set("unsupported public key version %lld", (long long)ver);
		return ERR_CORRUPT;
	}
	if ((rc = b64_member(o, "x25519", pub->x25519, 32)) != 0 ||
	    (rc = b64_member(o, "ed25519", pub->ed25519, 32)) != 0)
		return rc;
	cv = json_object_get(o, "comment");
	if (cv != NULL && !json_is_string(cv)) {
		err_set("\"comment\" is not a string");
		return ERR_CORRUPT;
	}
	keys_fingerprint(pub->x25519, pub->ed25519, fpr);
	fv = json_object_get(o, "fpr");
	if (!json_is_string(fv) || json_string_length(fv) != KEYS_FPR_HEX ||
	    strcmp(json_string_value(fv), fpr) != 0) {
		err_set("fingerprint does not match the keys");
		return ERR_CORRUPT;
	}
	memcpy(pub->fpr, fpr, sizeof(pub->fpr));
	return ERR_OK;
}

/* Serialise o as text ending in a newline; new malloc'ed, or NULL. */
static char *
json_text(const json_t *o, size_t *lenp)
{
	char *s, *t = NULL;
	size_t n;

	if ((s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL)
		goto done;
	n = strlen(s);
	if ((t = malloc(n + 2)) == NULL)
		goto done;
	memcpy(t, s, n);
	t[n] = '\n';
	t[n + 1] = '\0';
	if (lenp != NULL)
		*lenp = n + 1;
done:
	free(s);
	if (t == NULL)
		err_set("out of memory");
	return t;
}

char *
keys_format_public(const struct keys_public *pub, const char *comment)
{
	json_t *o;
	char *t;

	if ((o = pub_to_json(pub, comment)) == NULL)
		return NULL;
	t = json_text(o, NULL);
	json_decref(o);
	return t;
}

/* Parse capped JSON text into an object; ERR_CORRUPT with a message. */
static int
parse_json(const char *text, size_t len, json_t **out)
{
	json_error_t je;

	*out = NULL;
	if (len > KEYS_FILE_MAX) {
		err_set("key file larger than %d bytes", KEYS_FILE_MAX);
		return ERR_CORRUPT;
	}
	*out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (*out == NULL) {
		err_set("malformed JSON at line %d: %s", je.line, je.text);
		return ERR_CORRUPT;
	}
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		err_set("key file is not a JSON object");
		return ERR_CORRUPT;
	}
	return ERR_OK;
}

int
keys_parse_public(const char *text, size_t len, struct keys_public *pub)
{
	json_t *o;
	int rc;

	if ((rc = keys_init()) != 0)
		return rc;
	if ((rc = parse_json(text, len, &o)) != 0)
		return rc;
	rc = pub_from_json(o, pub);
	json_decref(o);
	return rc;
}

/*
 * Read all of the (regular) file at path, at most KEYS_FILE_MAX bytes, into
 * a new malloc'ed NUL-terminated buffer.  ERR_NOTFOUND if absent,
 * ERR_CORRUPT if too large, ERR_FAIL otherwise.
 */
static int
read_capped(const char *path, char **bufp, size_t *lenp)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, rc = ERR_FAIL;

	*bufp = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		err_set("cannot open '%s': %s", path, strerror(errno));
		return errno == ENOENT ? ERR_NOTFOUND : ERR_FAIL;
	}
	if (fstat(fd, &st) != 0) {
		err_set("cannot stat '%s': %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set("'%s' is not a regular file", path);
		goto done;
	}
	if ((buf = malloc(KEYS_FILE_MAX + 2)) == NULL) {
		err_set("out of memory");
		goto done;
	}
	/* Read one byte more than the cap to see whether it is exceeded. */
	while (len < KEYS_FILE_MAX + 1) {
		n = read(fd, buf + len, KEYS_FILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_set("cannot read '%s': %s", path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > KEYS_FILE_MAX) {
		err_set("key file '%s' is larger than %d bytes", path,
		    KEYS_FILE_MAX);
		rc = ERR_CORRUPT;
		goto done;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	buf = NULL;
	rc = ERR_OK;
done:
	free(buf);
	close(fd);
	return rc;
}

int
keys_load_public(const char *path, struct keys_public *pub)
{
	json_t *o = NULL;
	const json_t *p, *v;
	char *text = NULL;
	size_t len;
	int rc;

	if ((rc = keys_init()) != 0)
		return rc;
	if ((rc = read_capped(path, &text, &len)) != 0)
		return rc;
	if ((rc = parse_json(text, len, &o)) != 0)
		goto fail;
	/* A secret key file carries its public half in the clear. */
	p = o;
	if ((v = json_object_get(o, "bkp_secret_key")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) != 1) {
			err_set("unsupported secret key version");
			rc = ERR_CORRUPT;
			goto fail;
		}
		p = json_object_get(o, "public");
	}
	if ((rc = pub_from_json(p, pub)) != 0)
		goto fail;
	json_decref(o);
	free(text);
	return ERR_OK;
fail:
	err_prefix("key file '%s': ", path);
	json_decref(o);
	free(text);
	return rc;
}

/* Derive the 32-byte key-file key from passphrase and the KDF parameters. */
static int
derive(uint8_t key[32], const char *passphrase, const uint8_t salt[KEYS_SALT],
    unsigned long long ops, size_t mem)
{
	if (crypto_pwhash(key, 32, passphrase, strlen(passphrase), salt, ops,
	    mem, crypto_pwhash_ALG_ARGON2ID13) != 0) {
		err_set("key derivation failed (out of memory for %zu MiB?)",
		    mem >> 20);
		return ERR_FAIL;
	}
	return ERR_OK;
}

/*
 * Directory part of path (new malloc'ed): "." if none.
 */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n;
	char *d;

	if (slash == NULL)
		return strdup(".");
	n = slash == path ? 1 : (size_t)(slash - path);
	if ((d = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(d, path, n);
	d[n] = '\0';
	return d;
}

/* fsync the directory holding path, so a new name in it is durable. */
static int
sync_dir(const char *path)
{
	char *d;
	int fd, rc = ERR_OK;

	if ((d = dir_of(path)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (fsync(fd) != 0 && errno != EINVAL)) {
		err_set("cannot sync directory '%s': %s", d, strerror(errno));
		rc = ERR_FAIL;
	}
	if (fd != -1)
		close(fd);
	free(d);
	return rc;
}

/*
 * Create path holding text[0..len) with the given mode, never overwriting:
 * write a temporary in the same directory (O_EXCL | O_NOFOLLOW, 0600),
 * fsync it, link it to path and remove the temporary.  ERR_EXISTS if path
 * appeared meanwhile.  On failure nothing is left behind.
 */
static int
write_new(const char *path, const char *text, size_t len, mode_t mode)
{
	uint8_t rnd[8];
	char hex[sizeof(rnd) * 2 + 1];
	char *tmp = NULL;
	size_t tlen, off = 0;
	ssize_t n;
	int fd = -1, tries, rc = ERR_FAIL, linked = 0;

	tlen = strlen(path) + sizeof(hex) + 8;
	if ((tmp = malloc(tlen)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	for (tries = 0; tries < 8 && fd == -1; tries++) {
		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
		snprintf(tmp, tlen, "%s.tmp-%s", path, hex);
		fd = open(tmp, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY |
		    O_CLOEXEC, 0600);
		if (fd == -1 && errno != EEXIST)
			break;
	}
	if (fd == -1) {
		err_set("cannot create '%s': %s", tmp, strerror(errno));
		free(tmp);
		return ERR_FAIL;
	}
	while (off < len) {
		n = write(fd, text + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_set("cannot write '%s': %s", tmp, strerror(errno));
			goto fail;
		}
		off += (size_t)n;
	}
	if (mode != 0600 && fchmod(fd, mode) != 0) {
		err_set("cannot chmod '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	if (fsync(fd) != 0) {
		err_set("cannot sync '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	n = close(fd);
	fd = -1;
	if (n != 0) {
		err_set("cannot close '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	if (link(tmp, path) != 0) {
		if (errno == EEXIST) {
			err_set("'%s' already exists", path);
			rc = ERR_EXISTS;
		} else {
			err_set("cannot create '%s': %s", path,
			    strerror(errno));
		}
		goto fail;
	}
	linked = 1;
	if (unlink(tmp) != 0) {
		err_set("cannot remove '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	if ((rc = sync_dir(path)) != 0)
		goto fail;
	free(tmp);
	return ERR_OK;
fail:
	if (fd != -1)
		close(fd);
	(void)unlink(tmp);
	if (linked)
		(void)unlink(path);
	free(tmp);
	return rc;
}

/* ERR_EXISTS if something (even a dangling symlink) is at path. */
static int
check_absent(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0) {
		err_set("'%s' already exists", path);
		return ERR_EXISTS;
	}
	if (errno != ENOENT) {
		err_set("cannot check '%s': %s", path, strerror(errno));
		return ERR_FAIL;
	}
	return ERR_OK;
}

/* Secret key file JSON for sk, encrypted under passphrase. */
static char *
secret_text(const struct keys_secret *sk, const char *passphrase,
    enum keys_kdf kdf, const char *comment, size_t *lenp)
{
	uint8_t salt[KEYS_SALT], nonce[KEYS_NONCE], box[KEYS_BOX_LEN];
	unsigned long long ops;
	size_t mem;
	uint8_t *key = NULL, *plain = NULL;
	char *bsalt = NULL, *bnonce = NULL, *bbox = NULL, *text = NULL;
	json_t *pub = NULL, *o = NULL;

	if (kdf == KEYS_KDF_STRONG) {
		ops = crypto_pwhash_OPSLIMIT_SENSITIVE;
		mem = crypto_pwhash_MEMLIMIT_SENSITIVE;
	} else {
		ops = 3;
		mem = 64 * 1024 * 1024;
	}
	key = sodium_malloc(32);
	plain = sodium_malloc(KEYS_SECRET_LEN);
	if (key == NULL || plain == NULL) {
		err_set("out of memory");
		goto done;
	}
	randombytes_buf(salt, sizeof(salt));
	randombytes_buf(nonce, sizeof(nonce));
	if (derive(key, passphrase, salt, ops, mem) != 0)
		goto done;
	memcpy(plain, sk->x25519, 32);
	memcpy(plain + 32, sk->ed25519, 64);
	crypto_aead_xchacha20poly1305_ietf_encrypt(box, NULL, plain,
	    KEYS_SECRET_LEN, (const uint8_t *)sk->pub.fpr, KEYS_FPR_HEX, NULL,
	    nonce, key);
	if ((bsalt = b64_encode(salt, sizeof(salt))) == NULL ||
	    (bnonce = b64_encode(nonce, sizeof(nonce))) == NULL ||
	    (bbox = b64_encode(box, sizeof(box))) == NULL) {
		err_set("out of memory");
		goto done;
	}
	if ((pub = pub_to_json(&sk->pub, comment)) == NULL)
		goto done;
	o = json_pack("{s:i, s:O, s:{s:s, s:I, s:I, s:s}, s:s, s:s, s:s}",
	    "bkp_secret_key", 1, "public", pub,
	    "kdf", "alg", KEYS_KDF_ALG, "opslimit", (json_int_t)ops,
	    "memlimit", (json_int_t)mem, "salt", bsalt,
	    "cipher", KEYS_CIPHER, "nonce", bnonce, "box", bbox);
	if (o == NULL) {
		err_set("out of memory");
		goto done;
	}
	text = json_text(o, lenp);
done:
	json_decref(o);
	json_decref(pub);
	free(bbox);
	free(bnonce);
	free(bsalt);
	sodium_free(plain);
	sodium_free(key);
	return text;
}

int
keys_generate(const char *path, const char *passphrase, enum keys_kdf kdf,
    const char *comment, struct keys_public *pub)
{
	struct keys_secret *sk = NULL;
	char *pubpath = NULL, *stext = NULL, *ptext = NULL;
	size_t n, slen;
	int rc;

	if ((rc = keys_init()) != 0)
		return rc;
	if (passphrase == NULL || passphrase[0] == '\0') {
		err_set("empty passphrase refused");
		return ERR_USAGE;
	}
	if (comment != NULL && strlen(comment) > KEYS_COMMENT_MAX) {
		err_set("key comment longer than %d bytes", KEYS_COMMENT_MAX);
		return ERR_USAGE;
	}
	n = strlen(path) + 5;
	if ((pubpath = malloc(n)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	snprintf(pubpath, n, "%s.pub", path);
	if ((rc = check_absent(path)) != 0 || (rc = check_absent(pubpath)) != 0)
		goto done;
	rc = ERR_FAIL;
	if ((sk = sodium_malloc(sizeof(*sk))) == NULL) {
		err_set("out of memory");
		goto done;
	}
	crypto_box_keypair(sk->pub.x25519, sk->x25519);
	crypto_sign_keypair(sk->pub.ed25519, sk->ed25519);
	keys_fingerprint(sk->pub.x25519, sk->pub.ed25519, sk->pub.fpr);
	if ((ptext = keys_format_public(&sk->pub, comment)) == NULL) {
		rc = comment != NULL ? ERR_USAGE : ERR_FAIL;
		goto done;
	}
	if ((stext = secret_text(sk, passphrase, kdf, comment, &slen)) == NULL)
		goto done;
	if ((rc = write_new(path, stext, slen, 0600)) != 0)
		goto done;
	if ((rc = write_new(pubpath, ptext, strlen(ptext), 0644)) != 0) {
		/* No half key pair: the secret file was ours, just made. */
		(void)unlink(path);
		goto done;
	}
	if (pub != NULL)
		*pub = sk->pub;
	rc = ERR_OK;
done:
	free(ptext);
	free(stext);
	sodium_free(sk);
	free(pubpath);
	return rc;
}

/*
 * Check the secret file object o and decrypt its secrets into sk->x25519
 * and sk->ed25519 (sk->pub already set).  ERR_CORRUPT, ERR_KEY, ERR_FAIL.
 */
static int
open_secret(const json_t *o, const char *passphrase, struct keys_secret *sk)
{
	uint8_t salt[KEYS_SALT], nonce[KEYS_NONCE], box[KEYS_BOX_LEN];
	uint8_t *key = NULL, *plain = NULL;
	const json_t *kdf;
	json_int_t ops, mem;
	int rc;

	kdf = json_object_get(o, "kdf");
	if (!json_is_object(kdf)) {
		err_set("missing \"kdf\" object");
		return ERR_CORRUPT;
	}
	if ((rc = str_member_is(kdf, "alg", KEYS_KDF_ALG)) != 0 ||
	    (rc = int_member(kdf, "opslimit", &ops)) != 0 ||
	    (rc = int_member(kdf, "memlimit", &mem)) != 0 ||
	    (rc = b64_member(kdf, "salt", salt, sizeof(salt))) != 0 ||
	    (rc = str_member_is(o, "cipher", KEYS_CIPHER)) != 0 ||
	    (rc = b64_member(o, "nonce", nonce, sizeof(nonce))) != 0 ||
	    (rc = b64_member(o, "box", box, sizeof(box))) != 0)
		return rc;
	if (ops < KEYS_OPS_MIN || ops > KEYS_OPS_MAX) {
		err_set("KDF opslimit %lld out of range %d..%d",
		    (long long)ops, KEYS_OPS_MIN, KEYS_OPS_MAX);
		return ERR_CORRUPT;
	}
	if (mem < 0 || (unsigned long long)mem < KEYS_MEM_MIN ||
	    (unsigned long long)mem > KEYS_MEM_MAX) {
		err_set("KDF memlimit %lld out of range %llu..%llu",
		    (long long)mem, KEYS_MEM_MIN, KEYS_MEM_MAX);
		return ERR_CORRUPT;
	}
	rc = ERR_FAIL;
	key = sodium_malloc(32);
	plain = sodium_malloc(KEYS_SECRET_LEN);
	if (key == NULL || plain == NULL) {
		err_set("out of memory");
		goto done;
	}
	if (derive(key, passphrase, salt, (unsigned long long)ops,
	    (size_t)mem) != 0)
		goto done;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, box,
	    sizeof(box), (const uint8_t *)sk->pub.fpr, KEYS_FPR_HEX, nonce,
	    key) != 0) {
		rc = ERR_KEY;
		goto done;
	}
	memcpy(sk->x25519, plain, 32);
	memcpy(sk->ed25519, plain + 32, 64);
	rc = ERR_OK;
done:
	sodium_free(plain);
	sodium_free(key);
	return rc;
}

/* 0 if sk's secret keys belong to sk->pub, else ERR_CORRUPT. */
static int
check_pair(const struct keys_secret *sk)
{
	uint8_t xpk[32], epk[32], *esk;
	int rc = ERR_CORRUPT;

	if ((esk = sodium_malloc(64)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	/* The Ed25519 pk is re-derived from the seed, not just read from
	 * the second half of the secret key. */
	if (crypto_scalarmult_base(xpk, sk->x25519) != 0 ||
	    crypto_sign_seed_keypair(epk, esk, sk->ed25519) != 0)
		goto done;
	if (sodium_memcmp(xpk, sk->pub.x25519, 32) != 0 ||
	    sodium_memcmp(epk, sk->pub.ed25519, 32) != 0 ||
	    sodium_memcmp(esk, sk->ed25519, 64) != 0)
		goto done;
	rc = ERR_OK;
done:
	sodium_free(esk);
	if (rc != ERR_OK)
		err_set("secret keys do not match the public keys");
	return rc;
}

int
keys_load_secret(const char *path, const char *passphrase,
    struct keys_secret **out)
{
	struct keys_secret *sk = NULL;
	json_t *o = NULL;
	json_int_t ver;
	char *text = NULL;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = keys_init()) != 0)
		return rc;
	if (passphrase == NULL) {
		err_set("no passphrase for key '%s'", path);
		return ERR_USAGE;
	}
	if ((rc = read_capped(path, &text, &len)) != 0)
		return rc;
	if ((rc = parse_json(text, len, &o)) != 0)
		goto fail;
	if ((rc = int_member(o, "bkp_secret_key", &ver)) != 0)
		goto fail;
	if (ver != 1) {
		err_set("unsupported secret key version %lld", (long long)ver);
		rc = ERR_CORRUPT;
		goto fail;
	}
	if ((sk = sodium_malloc(sizeof(*sk))) == NULL) {
		err_set("out of memory");
		rc = ERR_FAIL;
		goto fail;
	}
	if ((rc = pub_from_json(json_object_get(o, "public"), &sk->pub)) != 0)
		goto fail;
	if ((rc = open_secret(o, passphrase, sk)) != 0) {
		if (rc == ERR_KEY) {
			err_set("wrong passphrase for key '%s'", path);
			goto out;
		}
		goto fail;
	}
	if ((rc = check_pair(sk)) != 0)
		goto fail;
	sodium_mprotect_readonly(sk);
	*out = sk;
	sk = NULL;
	rc = ERR_OK;
	goto out;
fail:
	err_prefix("key file '%s': ", path);
out:
	sodium_free(sk);
	json_decref(o);
	free(text);
	return rc;
}

void
keys_secret_free(struct keys_secret *sk)
{
	/* sodium_free makes the region writable again and wipes it. */
	sodium_free(sk);
}

const struct keys_public *
keys_secret_public(const struct keys_secret *sk)
{
	return &sk->pub;
}

int
keys_seal(const struct keys_public *pub, const uint8_t datakey[KEYS_DATAKEY],
    uint8_t sealed[KEYS_SEALED])
{
	int rc;

	if ((rc = keys_init()) != 0)
		return rc;
	if (crypto_box_seal(sealed, datakey, KEYS_DATAKEY, pub->x25519) != 0) {
		err_set("cannot seal data key to key %s", pub->fpr);
		return ERR_FAIL;
	}
	return ERR_OK;
}

int
keys_unseal(const struct keys_secret *sk, const uint8_t sealed[KEYS_SEALED],
    uint8_t datakey[KEYS_DATAKEY])
{
	int rc;

	if ((rc = keys_init()) != 0)
		return rc;
	if (crypto_box_seal_open(datakey, sealed, KEYS_SEALED, sk->pub.x25519,
	    sk->x25519) != 0) {
		err_set("data key was not sealed to key %s (or was tampered "
		    "with)", sk->pub.fpr);
		return ERR_KEY;
	}
	return ERR_OK;
}
