#ifndef BKP_S3SIGN_H
#define BKP_S3SIGN_H

#include <stddef.h>

/*
 * AWS Signature Version 4 helpers.  Live requests are signed by libcurl
 * (CURLOPT_AWS_SIGV4); this module supplies what libcurl leaves to the
 * caller (percent-encoding, canonical query strings, payload hashes) and an
 * independent implementation of the signature itself, used by the unit
 * tests to check both against AWS's published vectors.
 */

#define S3SIGN_SHA256_HEX 64

struct s3sign_header {
	const char *name;
	const char *value;
};

struct s3sign_req {
	const char *method;      /* "GET", "PUT", ... */
	const char *path;        /* canonical (already encoded) URI path */
	const char *query;       /* raw query string without '?', or NULL */
	const struct s3sign_header *headers; /* headers to sign */
	size_t nheaders;
	const char *payload_hash; /* hex SHA-256 or "UNSIGNED-PAYLOAD" */
	const char *amzdate;     /* "YYYYMMDDTHHMMSSZ" */
	const char *region;
	const char *service;
};

/*
 * s3sign_uri_encode(s, keep_slash): a new string holding s percent-encoded
 * the way SigV4 wants it: everything but A-Z a-z 0-9 - . _ ~ (and '/' if
 * keep_slash) as %XY with uppercase hex.  NULL if out of memory.
 */
char *s3sign_uri_encode(const char *s, int keep_slash);

/*
 * s3sign_canonical_query(raw): a new string holding the canonical form of
 * the query string raw ("b=2&a&c=x y" -> "a=&b=2&c=x%20y"): each name and
 * value decoded then re-encoded, pairs sorted by name then value, a lone
 * name given an empty value.  NULL if out of memory or raw is malformed.
 */
char *s3sign_canonical_query(const char *raw);

/* s3sign_sha256_hex(buf, len, out): hex SHA-256 of buf, NUL-terminated. */
void s3sign_sha256_hex(const void *buf, size_t len,
    char out[S3SIGN_SHA256_HEX + 1]);

/*
 * s3sign_canonical_request(r, &signed_headers): a new string holding the
 * SigV4 canonical request for r; *signed_headers (if not NULL) gets a new
 * string with the ';'-separated lowercase header names.  Header names are
 * lowercased, values trimmed with inner runs of spaces collapsed, repeated
 * headers joined with ',' in order.  NULL if out of memory.
 */
char *s3sign_canonical_request(const struct s3sign_req *r,
    char **signed_headers);

/*
 * s3sign_string_to_sign(r, creq): a new string holding the SigV4 string to
 * sign for canonical request creq.  NULL if out of memory.
 */
char *s3sign_string_to_sign(const struct s3sign_req *r, const char *creq);

/*
 * s3sign_signature(r, secret, out): compute the hex signature of r under
 * the secret access key.  Return 0, or -1 if out of memory.
 */
int s3sign_signature(const struct s3sign_req *r, const char *secret,
    char out[S3SIGN_SHA256_HEX + 1]);

#endif
