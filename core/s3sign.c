/* SigV4 helpers: percent-encoding, canonical forms, reference signer. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "s3sign.h"

/* A growable string; every append checks for overflow. */
struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 128;
		while (ncap < b->len + n + 1) {
			if (ncap > SIZE_MAX / 2) {
				b->oom = 1;
				return;
			}
			ncap *= 2;
		}
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static char *
sb_finish(struct sbuf *b)
{
	if (b->oom || b->p == NULL) {
		free(b->p);
		if (!b->oom && (b->p = calloc(1, 1)) != NULL)
			return b->p;
		return NULL;
	}
	return b->p;
}

static void
hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static void
sb_encode(struct sbuf *b, const char *s, size_t n, int keep_slash)
{
	static const char digits[] = "0123456789ABCDEF";
	char esc[3];
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x80 && unreserved(c)) || (keep_slash && c == '/'))
			sb_add(b, (const char *)&s[i], 1);
		else {
			esc[0] = '%';
			esc[1] = digits[c >> 4];
			esc[2] = digits[c & 15];
			sb_add(b, esc, 3);
		}
	}
}

char *
s3sign_uri_encode(const char *s, int keep_slash)
{
	struct sbuf b = { 0 };

	sb_encode(&b, s, strlen(s), keep_slash);
	return sb_finish(&b);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode %XY escapes of s[0..n) into a new string; '+' stays as is. */
static char *
decode(const char *s, size_t n)
{
	char *out;
	size_t i, o = 0;
	int h, l;

	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (i + 2 >= n) {
				free(out);
				return NULL;
			}
			if ((h = hexval(s[i + 1])) < 0 ||
			    (l = hexval(s[i + 2])) < 0) {
				free(out);
				return NULL;
			}
			out[o++] = (char)(h << 4 | l);
			i += 2;
		} else
			out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

struct qpair {
	char *name, *value; /* encoded */
};

static int
qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	return strcmp(x->value, y->value);
}

char *
s3sign_canonical_query(const char *raw)
{
	struct qpair *pairs = NULL;
	struct sbuf b = { 0 };
	const char *p, *amp, *eq;
	size_t n = 0, i, cap = 0;
	char *d;
	int bad = 0;

	if (raw == NULL || *raw == '\0')
		return calloc(1, 1);
	for (p = raw; !bad; p = amp + 1) {
		struct sbuf nb = { 0 }, vb = { 0 };
		if ((amp = strchr(p, '&')) == NULL)
			amp = p + strlen(p);
		if (amp == p)
			goto next;
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
			eq = amp;
		if (n == cap) {
			struct qpair *np;
			cap = cap ? cap * 2 : 8;
			if ((np = realloc(pairs, cap * sizeof(*np))) == NULL) {
				bad = 1;
				break;
			}
			pairs = np;
		}
		if ((d = decode(p, (size_t)(eq - p))) == NULL) {
			bad = 1;
			break;
		}
		sb_encode(&nb, d, strlen(d), 0);
		free(d);
		d = (eq < amp) ? decode(eq + 1, (size_t)(amp - eq - 1)) :
		    calloc(1, 1);
		if (d == NULL) {
			free(sb_finish(&nb));
			bad = 1;
			break;
		}
		sb_encode(&vb, d, strlen(d), 0);
		free(d);
		pairs[n].name = sb_finish(&nb);
		pairs[n].value = sb_finish(&vb);
		if (pairs[n].name == NULL || pairs[n].value == NULL) {
			free(pairs[n].name);
			free(pairs[n].value);
			bad = 1;
			break;
		}
		n++;
next:
		if (*amp == '\0')
			break;
	}
	if (!bad) {
		qsort(pairs, n, sizeof(*pairs), qpair_cmp);
		for (i = 0; i < n; i++) {
			if (i > 0)
				sb_str(&b, "&");
			sb_str(&b, pairs[i].name);
			sb_str(&b, "=");
			sb_str(&b, pairs[i].value);
		}
	}
	for (i = 0; i < n; i++) {
		free(pairs[i].name);
		free(pairs[i].value);
	}
	free(pairs);
	if (bad) {
		free(b.p);
		return NULL;
	}
	return sb_finish(&b);
}

void
s3sign_sha256_hex(const void *buf, size_t len,
    char out[S3SIGN_SHA256_HEX + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(buf, len, md);
	hex(md, sizeof(md), out);
}

struct hdr {
	char *name;       /* lowercase */
	const char *value;
	size_t order;
};

static int
hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	return (x->order > y->order) - (x->order < y->order);
}

/* Append value trimmed, with inner runs of whitespace collapsed to one. */
static void
sb_trimmed(struct sbuf *b, const char *v)
{
	int space = 0, started = 0;

	for (; *v != '\0'; v++) {
		if (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r') {
			space = started;
			continue;
		}
		if (space)
			sb_add(b, " ", 1);
		space = 0;
		started = 1;
		sb_add(b, v, 1);
	}
}

char *
s3sign_canonical_request(const struct s3sign_req *r, char **signed_headers)
{
	struct sbuf b = { 0 }, sh = { 0 };
	struct hdr *h;
	char *q = NULL;
	size_t i, j;

	if (signed_headers != NULL)
		*signed_headers = NULL;
	if ((h = calloc(r->nheaders ? r->nheaders : 1, sizeof(*h))) == NULL)
		return NULL;
	for (i = 0; i < r->nheaders; i++) {
		if ((h[i].name = strdup(r->headers[i].name)) == NULL)
			goto fail;
		for (j = 0; h[i].name[j] != '\0'; j++)
			h[i].name[j] = (char)tolower((unsigned char)h[i].name[j]);
		h[i].value = r->headers[i].value;
		h[i].order = i;
	}
	qsort(h, r->nheaders, sizeof(*h), hdr_cmp);
	if ((q = s3sign_canonical_query(r->query)) == NULL)
		goto fail;
	sb_str(&b, r->method);
	sb_str(&b, "\n");
	sb_str(&b, r->path);
	sb_str(&b, "\n");
	sb_str(&b, q);
	sb_str(&b, "\n");
	for (i = 0; i < r->nheaders; i++) {
		if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
			sb_str(&b, ",");
			sb_trimmed(&b, h[i].value);
			continue;
		}
		if (i > 0) {
			sb_str(&b, "\n");
			sb_str(&sh, ";");
		}
		sb_str(&b, h[i].name);
		sb_str(&b, ":");
		sb_trimmed(&b, h[i].value);
		sb_str(&sh, h[i].name);
	}
	sb_str(&b, "\n\n");
	sb_str(&b, sh.p ? sh.p : "");
	sb_str(&b, "\n");
	sb_str(&b, r->payload_hash);
	if (b.oom || sh.oom)
		goto fail;
	for (i = 0; i < r->nheaders; i++)
		free(h[i].name);
	free(h);
	free(q);
	if (signed_headers != NULL)
		*signed_headers = sb_finish(&sh);
	else
		free(sh.p);
	return sb_finish(&b);
fail:
	for (i = 0; i < r->nheaders; i++)
		free(h[i].name);
	free(h);
	free(q);
	free(b.p);
	free(sh.p);
	return NULL;
}

char *
s3sign_string_to_sign(const struct s3sign_req *r, const char *creq)
{
	struct sbuf b = { 0 };
	char hash[S3SIGN_SHA256_HEX + 1];

	s3sign_sha256_hex(creq, strlen(creq), hash);
	sb_str(&b, "AWS4-HMAC-SHA256\n");
	sb_str(&b, r->amzdate);
	sb_str(&b, "\n");
	sb_add(&b, r->amzdate, strlen(r->amzdate) < 8 ? strlen(r->amzdate) : 8);
	sb_str(&b, "/");
	sb_str(&b, r->region);
	sb_str(&b, "/");
	sb_str(&b, r->service);
	sb_str(&b, "/aws4_request\n");
	sb_str(&b, hash);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return sb_finish(&b);
}

static void
hmac(const unsigned char *key, size_t keylen, const char *msg, size_t msglen,
    unsigned char out[32])
{
	unsigned char tmp[32];
	unsigned int outlen = 32;

	HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
	    msglen, tmp, &outlen);
	memcpy(out, tmp, 32);
	OPENSSL_cleanse(tmp, sizeof(tmp));
}

int
s3sign_signature(const struct s3sign_req *r, const char *secret,
    char out[S3SIGN_SHA256_HEX + 1])
{
	unsigned char k[32], sig[32];
	char *creq, *sts, *kinit;
	size_t slen = strlen(secret);
	char date[9];

	if ((creq = s3sign_canonical_request(r, NULL)) == NULL)
		return -1;
	sts = s3sign_string_to_sign(r, creq);
	free(creq);
	if (sts == NULL)
		return -1;
	if ((kinit = malloc(slen + 5)) == NULL) {
		free(sts);
		return -1;
	}
	memcpy(kinit, "AWS4", 4);
	memcpy(kinit + 4, secret, slen + 1);
	snprintf(date, sizeof(date), "%.8s", r->amzdate);
	hmac((unsigned char *)kinit, slen + 4, date, strlen(date), k);
	OPENSSL_cleanse(kinit, slen + 4);
	free(kinit);
	hmac(k, 32, r->region, strlen(r->region), k);
	hmac(k, 32, r->service, strlen(r->service), k);
	hmac(k, 32, "aws4_request", 12, k);
	hmac(k, 32, sts, strlen(sts), sig);
	OPENSSL_cleanse(k, sizeof(k));
	free(sts);
	hex(sig, sizeof(sig), out);
	return 0;
}
