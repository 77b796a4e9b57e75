/*
 * S3 storage backend: "s3://BUCKET[/PREFIX]", object "K" stored under key
 * "PREFIX/K".  Requests are signed by libcurl (CURLOPT_AWS_SIGV4); we send
 * x-amz-content-sha256 ourselves with the real SHA-256 of every body, so
 * the server checks each part's integrity.  Writes are streamed multipart
 * uploads with at most `parallel` part buffers, sent in parallel by an I/O
 * thread through the curl multi interface; answers are parsed by s3xml.c.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "awsconf.h"
#include "err.h"
#include "s3sign.h"
#include "s3xml.h"
#include "storage_impl.h"
#include "storage_s3.h"

#define S3_PART_MIN (5u << 20)          /* S3's smallest non-final part */
#define S3_PART_DEFAULT (8u << 20)
#define S3_PART_MAX ((size_t)5 << 30)   /* S3's largest part */
#define S3_PARTS_PER_STEP 1000          /* part size doubles after these */
#define S3_MAX_PARTS 10000
#define S3_ERRBODY_MAX (64u << 10)      /* error bodies we keep */
#define S3_POOL 8                       /* idle easy handles kept */

struct s3 {
	struct storage base;
	char *bucket;
	char *prefix;       /* "" or "a/b" (no slash at either end) */
	char *base_url;     /* up to the bucket: ".../bucket" or "bucket.host" */
	char *host;         /* endpoint host, for messages */
	char *region;
	char *sigv4;        /* "aws:amz:REGION:s3" */
	char *access_key;
	char *secret_key;   /* wiped on free */
	char *token_hdr;    /* "x-amz-security-token: ..." or NULL; wiped */
	char *ca_bundle;
	char *storage_class;
	char *lock_mode;
	int lock_days;
	int parallel;
	size_t part_size;   /* size of the first 1000 parts */
	int max_tries;
	long retry_base_ms;
	long low_speed_time;
	char list_max[16];  /* max-keys for listings, "" for the default */
	int no_inm;         /* server refused If-None-Match (501): skip it */
	pthread_mutex_t lock; /* guards pool */
	CURL *pool[S3_POOL];
	int npool;
};

/* One HTTP exchange, possibly tried several times. */
struct xfer {
	const char *method;
	char *url;
	struct curl_slist *hdrs;
	const uint8_t *body;
	size_t bodylen, bodyoff;
	/* answer */
	long status;
	uint8_t *rbuf;          /* body (bounded by rmax) */
	size_t rlen, rcap, rmax;
	int too_big;
	uint8_t *dst;           /* ranged GET: bytes land here on 206 */
	size_t dstlen, dstgot;
	uint64_t range_start;   /* start the server announced */
	int range_ok;
	char etag[136];
	char bucket_region[64];
	char errbuf[CURL_ERROR_SIZE];
	int tries;              /* tries made by xfer_run */
	int fresh;              /* own connection: no silent resend by curl */
	curl_off_t clen;        /* Content-Length of a 2xx answer, or -1 */
};

/* One buffer of a multipart upload. */
struct slot {
	uint8_t *buf;
	size_t cap, len;
	int partno;             /* 0 if idle */
	int queued;             /* handed to the I/O thread, not started */
	int inflight;           /* in the multi handle */
	int tries;
	long long retry_at;     /* ms; 0 if not waiting */
	CURL *h;
	struct xfer x;
};

struct s3_put {
	struct storage_put base;
	struct s3 *s3;
	char *key;              /* relative to the prefix */
	char *what;             /* "s3://bucket/prefix/key" for messages */
	char *upload_id;
	CURLM *multi;
	struct slot *slots;
	int nslots;
	int fill;               /* slot being filled, or -1 */
	int nparts;
	char **etags;           /* etags[n - 1] for part n */
	uint64_t total;
	/* The I/O thread drives the multi handle; mu guards the slots'
	 * states, etags and failed/failmsg; cv signals a slot freed or a
	 * failure. */
	pthread_t io;
	int io_running;
	int stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int failed;             /* sticky status */
	char failmsg[1024];     /* its message (set in the I/O thread) */
};

static pthread_once_t s3_once = PTHREAD_ONCE_INIT;
static int s3_global_ok;

static void
s3_global_init(void)
{
	s3_global_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK &&
	    sodium_init() >= 0;
	xmlInitParser();
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Backoff before try number `tries` (1-based): equal jitter, capped. */
static long
backoff_ms(const struct s3 *s3, int tries)
{
	long d = s3->retry_base_ms;
	int i;

	for (i = 1; i < tries && d < 5000; i++)
		d *= 2;
	if (d > 5000)
		d = 5000;
	return d / 2 + (long)randombytes_uniform((uint32_t)(d / 2 + 1));
}

static char *
xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : p;
}

static void
wipe_free(char *p)
{
	if (p != NULL) {
		sodium_memzero(p, strlen(p));
		free(p);
	}
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10; /* callers checked isxdigit */
}

/* "s3://bucket/prefix/key" for messages (never holds credentials). */
static char *
s3_what(const struct s3 *s3, const char *key)
{
	return xasprintf("s3://%s%s%s%s%s", s3->bucket, *s3->prefix ? "/" : "",
	    s3->prefix, key && *key ? "/" : "", key ? key : "");
}

/* Host part of a URL authority ("[::1]:9000" -> "::1"). */
static int
split_host(const char *auth, size_t authlen, char *host, size_t hostlen)
{
	const char *end;
	size_t n;

	if (authlen > 0 && auth[0] == '[') {
		if ((end = memchr(auth, ']', authlen)) == NULL)
			return -1;
		auth++;
		n = (size_t)(end - auth);
	} else {
		end = memchr(auth, ':', authlen);
		n = end ? (size_t)(end - auth) : authlen;
	}
	if (n == 0 || n >= hostlen)
		return -1;
	memcpy(host, auth, n);
	host[n] = '\0';
	return 0;
}

int
storage_s3_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (n > 10 && strcasecmp(host + n - 10, ".localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

static int
is_ip_literal(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	return inet_pton(AF_INET, host, &a4) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1;
}

static int
clean_token(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isupper((unsigned char)*s) && *s != '_' &&
		    !isdigit((unsigned char)*s))
			return 0;
	return 1;
}

static int
clean_text(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int
storage_s3_base_url(const char *endpoint, const char *bucket, int path_style,
    char **base, char **host)
{
	const char *auth, *path;
	char h[256];
	size_t authlen, pathlen;
	int https, ps;

	*base = *host = NULL;
	if (strchr(endpoint, '@') != NULL) {
		/* Do not echo it: it may hold a password. */
		err_set("endpoint must not contain user information");
		return ERR_USAGE;
	}
	if (strncasecmp(endpoint, "https://", 8) == 0) {
		https = 1;
		auth = endpoint + 8;
	} else if (strncasecmp(endpoint, "http://", 7) == 0) {
		https = 0;
		auth = endpoint + 7;
	} else {
		err_set("endpoint '%s' must start with https:// (or http:// "
		    "for a loopback test server)", endpoint);
		return ERR_USAGE;
	}
	authlen = strcspn(auth, "/?#");
	path = auth + authlen;
	pathlen = strcspn(path, "?#");
	while (pathlen > 0 && path[pathlen - 1] == '/')
		pathlen--;
	if (memchr(auth, '@', authlen) != NULL) {
		/* Do not echo it: it may hold a password. */
		err_set("endpoint must not contain user information");
		return ERR_USAGE;
	}
	if (!clean_text(endpoint) || path[strcspn(path, "?#")] != '\0' ||
	    split_host(auth, authlen, h, sizeof(h)) != 0) {
		err_set("malformed endpoint '%s'", endpoint);
		return ERR_USAGE;
	}
	if (!https && !storage_s3_is_loopback(h)) {
		err_set("refusing plain http:// to '%s': use https:// (plain "
		    "HTTP is allowed only to a loopback address)", h);
		return ERR_USAGE;
	}
	ps = path_style;
	/* Virtual-hosted addressing needs a DNS name and a DNS-safe bucket. */
	if (ps != 1 && (is_ip_literal(h) || strcasecmp(h, "localhost") == 0 ||
	    strchr(bucket, '.') != NULL))
		ps = 1;
	if (ps == -1)
		ps = 0;
	if (ps)
		*base = xasprintf("%s://%.*s%.*s/%s", https ? "https" : "http",
		    (int)authlen, auth, (int)pathlen, path, bucket);
	else
		*base = xasprintf("%s://%s.%.*s%.*s", https ? "https" : "http",
		    bucket, (int)authlen, auth, (int)pathlen, path);
	*host = strdup(h);
	if (*base == NULL || *host == NULL) {
		free(*base);
		free(*host);
		*base = *host = NULL;
		err_set("out of memory");
		return ERR_FAIL;
	}
	return ERR_OK;
}

/* Bucket names: 3-63 of [a-z0-9.-] (we also accept _ and caps, as MinIO). */
static int
valid_bucket(const char *b, size_t n)
{
	size_t i;

	if (n < 3 || n > 63)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)b[i]) && b[i] != '.' &&
		    b[i] != '-' && b[i] != '_')
			return 0;
	return 1;
}

static int
valid_key(const char *key)
{
	size_t n = strlen(key);

	const char *seg;

	if (n == 0 || n > 900)
		return 0;
	/* No empty, "." or ".." segments: URL normalisation would change
	 * the path that was signed. */
	for (seg = key; seg != NULL; seg = strchr(seg, '/') ?
	    strchr(seg, '/') + 1 : NULL) {
		size_t sl = strcspn(seg, "/");
		if (sl == 0 || (sl == 1 && seg[0] == '.') ||
		    (sl == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
	}
	for (; *key != '\0'; key++)
		if ((unsigned char)*key < 0x20 || *key == 0x7f)
			return 0;
	return 1;
}

/* URL for key (NULL: the bucket) with an already-canonical query. */
static char *
s3_url(const struct s3 *s3, const char *key, const char *query)
{
	char *full = NULL, *enc = NULL, *url;

	if (key != NULL) {
		full = *s3->prefix ? xasprintf("%s/%s", s3->prefix, key) :
		    strdup(key);
		if (full == NULL || (enc = s3sign_uri_encode(full, 1)) == NULL) {
			free(full);
			return NULL;
		}
	}
	url = xasprintf("%s/%s%s%s", s3->base_url, enc ? enc : "",
	    query ? "?" : "", query ? query : "");
	free(full);
	free(enc);
	return url;
}

/* ---- one HTTP exchange ---- */

static size_t
cb_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;

	if (x->dst != NULL && x->range_ok) {
		if (n > x->dstlen - x->dstgot) {
			x->too_big = 1;
			return 0;
		}
		memcpy(x->dst + x->dstgot, ptr, n);
		x->dstgot += n;
		return n;
	}
	if (n > x->rmax - x->rlen) {
		x->too_big = 1;
		return 0;
	}
	if (x->rlen + n + 1 > x->rcap) {
		size_t ncap = x->rcap ? x->rcap : 4096;
		uint8_t *np;
		while (ncap < x->rlen + n + 1)
			ncap *= 2;
		if ((np = realloc(x->rbuf, ncap)) == NULL)
			return 0;
		x->rbuf = np;
		x->rcap = ncap;
	}
	memcpy(x->rbuf + x->rlen, ptr, n);
	x->rlen += n;
	x->rbuf[x->rlen] = '\0';
	return n;
}

static void
hdr_value(const char *line, size_t n, const char *name, char *out,
    size_t outlen)
{
	size_t nl = strlen(name), i, j;

	if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	for (i = nl + 1; i < n && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	for (j = 0; i < n && line[i] != '\r' && line[i] != '\n' &&
	    j + 1 < outlen; i++)
		out[j++] = ((unsigned char)line[i] < 0x20) ? '?' : line[i];
	out[j] = '\0';
}

static size_t
cb_header(char *line, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	char cr[128] = "";
	unsigned long long a, b;

	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue too): forget the last. */
		x->etag[0] = x->bucket_region[0] = '\0';
		x->range_ok = 0;
		return n;
	}
	hdr_value(line, n, "ETag", x->etag, sizeof(x->etag));
	hdr_value(line, n, "x-amz-bucket-region", x->bucket_region,
	    sizeof(x->bucket_region));
	hdr_value(line, n, "Content-Range", cr, sizeof(cr));
	if (cr[0] != '\0' && sscanf(cr, "bytes %llu-%llu/", &a, &b) == 2 &&
	    a <= b) {
		x->range_start = a;
		x->range_ok = 1;
	}
	return n;
}

static size_t
cb_read(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;

	if (n > x->bodylen - x->bodyoff)
		n = x->bodylen - x->bodyoff;
	memcpy(buf, x->body + x->bodyoff, n);
	x->bodyoff += n;
	return n;
}

static int
cb_seek(void *arg, curl_off_t off, int origin)
{
	struct xfer *x = arg;

	if (origin != SEEK_SET || off < 0 || (uint64_t)off > x->bodylen)
		return CURL_SEEKFUNC_FAIL;
	x->bodyoff = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

/* Prepare h for one try of x. */
static int
xfer_setup(const struct s3 *s3, struct xfer *x, CURL *h)
{
	CURLcode e = CURLE_OK;

	curl_easy_reset(h);
	x->status = 0;
	x->rlen = 0;
	x->too_big = 0;
	x->bodyoff = 0;
	x->etag[0] = x->bucket_region[0] = x->errbuf[0] = '\0';
	x->range_ok = 0;
#define SET(o, v) if (e == CURLE_OK) e = curl_easy_setopt(h, o, v)
	SET(CURLOPT_URL, x->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_PATH_AS_IS, 1L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (s3->ca_bundle != NULL)
		SET(CURLOPT_CAINFO, s3->ca_bundle);
	SET(CURLOPT_CONNECTTIMEOUT, 15L);
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, s3->low_speed_time);
	SET(CURLOPT_AWS_SIGV4, s3->sigv4);
	SET(CURLOPT_USERNAME, s3->access_key);
	SET(CURLOPT_PASSWORD, s3->secret_key);
	SET(CURLOPT_HTTPHEADER, x->hdrs);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_WRITEFUNCTION, cb_write);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_HEADERFUNCTION, cb_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_USERAGENT, "bkp");
	if (x->fresh) {
		/* libcurl silently resends a request whose reused connection
		 * died; for a conditional final write we must count every
		 * try ourselves. */
		SET(CURLOPT_FRESH_CONNECT, 1L);
		SET(CURLOPT_FORBID_REUSE, 1L);
	}
	if (strcmp(x->method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (strcmp(x->method, "PUT") == 0) {
		SET(CURLOPT_UPLOAD, 1L);
		SET(CURLOPT_READFUNCTION, cb_read);
		SET(CURLOPT_READDATA, x);
		SET(CURLOPT_SEEKFUNCTION, cb_seek);
		SET(CURLOPT_SEEKDATA, x);
		SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->bodylen);
	} else if (strcmp(x->method, "POST") == 0) {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDS, x->body ? (const char *)x->body : "");
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->bodylen);
	} else if (strcmp(x->method, "DELETE") == 0) {
		SET(CURLOPT_CUSTOMREQUEST, "DELETE");
	}
#undef SET
	if (e != CURLE_OK) {
		err_set("cannot set up an HTTP request: %s",
		    curl_easy_strerror(e));
		return ERR_FAIL;
	}
	return ERR_OK;
}

enum { X_DONE = 0, X_RETRY = 1 };

/*
 * After a try: X_DONE with x->status set (the caller judges the status),
 * X_RETRY if worth another try, or a negative status with a message.
 */
static int
xfer_classify(const struct s3 *s3, struct xfer *x, CURL *h, CURLcode cc,
    const char *what)
{
	long code = 0;

	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	x->status = code;
	switch (cc) {
	case CURLE_OK:
		break;
	case CURLE_WRITE_ERROR:
		if (x->too_big)
			return X_DONE; /* the caller reports it */
		err_set("'%s': out of memory", what);
		return ERR_FAIL;
	case CURLE_COULDNT_CONNECT:
		err_set("cannot connect to '%s' for '%s' (connection refused "
		    "or no network)", s3->host, what);
		return X_RETRY;
	case CURLE_COULDNT_RESOLVE_HOST:
		err_set("cannot resolve host '%s' for '%s' (DNS failure or no "
		    "network)", s3->host, what);
		return ERR_FAIL;
	case CURLE_OPERATION_TIMEDOUT:
		err_set("'%s': timed out talking to '%s'", what, s3->host);
		return X_RETRY;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		err_set("'%s': connection to '%s' dropped (%s)", what,
		    s3->host, curl_easy_strerror(cc));
		return X_RETRY;
	case CURLE_SSL_CONNECT_ERROR:
		err_set("TLS handshake with '%s' failed for '%s' (TLS 1.2 or "
		    "newer is required)", s3->host, what);
		return ERR_FAIL;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		err_set("TLS certificate of '%s' not trusted for '%s' (%s; "
		    "name a CA bundle with --ca-bundle or AWS_CA_BUNDLE)",
		    s3->host, what, curl_easy_strerror(cc));
		return ERR_FAIL;
	default:
		err_set("'%s': %s", what, curl_easy_strerror(cc));
		return ERR_FAIL;
	}
	if ((code >= 500 && code != 501) || code == 429) {
		char c[64], m[160];
		s3xml_error((char *)x->rbuf, x->rlen, c, sizeof(c), m,
		    sizeof(m));
		err_set("'%s': server error (HTTP %ld%s%s)", what, code,
		    *c ? ", " : "", c);
		return X_RETRY;
	}
	if (code == 400 || code == 403) {
		char c[64], m[160];
		s3xml_error((char *)x->rbuf, x->rlen, c, sizeof(c), m,
		    sizeof(m));
		if (strcmp(c, "RequestTimeout") == 0 ||
		    strcmp(c, "SlowDown") == 0) {
			err_set("'%s': %s", what, c);
			return X_RETRY;
		}
	}
	return X_DONE;
}

/*
 * Message and status for a final answer that the caller did not expect.
 * Never names credentials; S3's own Message for these codes names none.
 */
static int
xfer_fail(const struct s3 *s3, const struct xfer *x, const char *what)
{
	char c[64], m[200];

	s3xml_error((char *)x->rbuf, x->rlen, c, sizeof(c), m, sizeof(m));
	if (x->status == 404) {
		if (strcmp(c, "NoSuchBucket") == 0) {
			err_set("bucket '%s' does not exist at '%s' "
			    "(NoSuchBucket)", s3->bucket, s3->host);
			return ERR_NOREPO;
		}
		err_set("'%s' not found", what);
		return ERR_NOTFOUND;
	}
	if (x->status == 412) {
		err_set("'%s' already exists (write-once)", what);
		return ERR_EXISTS;
	}
	if (strcmp(c, "InvalidAccessKeyId") == 0)
		err_set("'%s': the access key ID is not known to the server "
		    "(InvalidAccessKeyId); check AWS_ACCESS_KEY_ID or the "
		    "profile", what);
	else if (strcmp(c, "SignatureDoesNotMatch") == 0)
		err_set("'%s': request signature rejected "
		    "(SignatureDoesNotMatch); check the secret access key",
		    what);
	else if (strcmp(c, "RequestTimeTooSkewed") == 0)
		err_set("'%s': the system clock differs too much from the "
		    "server's (RequestTimeTooSkewed); fix the clock", what);
	else if (strcmp(c, "ExpiredToken") == 0 ||
	    strcmp(c, "InvalidToken") == 0)
		err_set("'%s': the session token is expired or invalid (%s)",
		    what, c);
	else if (strcmp(c, "AccessDenied") == 0)
		err_set("access denied to '%s' (AccessDenied)", what);
	else if (x->status == 403)
		err_set("access denied to '%s' (HTTP 403%s%s; wrong "
		    "credentials or missing permission)", what, *c ? ", " : "",
		    c);
	else if (x->status == 301 || strcmp(c, "PermanentRedirect") == 0 ||
	    strcmp(c, "AuthorizationHeaderMalformed") == 0)
		err_set("bucket '%s' is in another region%s%s (use --region "
		    "or AWS_REGION)", s3->bucket,
		    x->bucket_region[0] ? ": " : "", x->bucket_region);
	else if (*c)
		err_set("'%s': HTTP %ld (%s: %s)", what, x->status, c, m);
	else
		err_set("'%s': unexpected HTTP %ld", what, x->status);
	return ERR_FAIL;
}

static CURL *
pool_get(struct s3 *s3)
{
	CURL *h = NULL;

	pthread_mutex_lock(&s3->lock);
	if (s3->npool > 0)
		h = s3->pool[--s3->npool];
	pthread_mutex_unlock(&s3->lock);
	return h ? h : curl_easy_init();
}

static void
pool_put(struct s3 *s3, CURL *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&s3->lock);
	if (s3->npool < S3_POOL) {
		s3->pool[s3->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&s3->lock);
	if (h != NULL)
		curl_easy_cleanup(h);
}

/*
 * Run x to a final answer, retrying what is worth it.  X_DONE (x->status
 * set) or a negative status with a message.
 */
static int
xfer_run(struct s3 *s3, struct xfer *x, const char *what)
{
	CURL *h;
	int tries, rc = ERR_FAIL;

	if ((h = pool_get(s3)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	for (tries = 1;; tries++) {
		x->tries = tries;
		if ((rc = xfer_setup(s3, x, h)) != ERR_OK)
			break;
		rc = xfer_classify(s3, x, h, curl_easy_perform(h), what);
		x->clen = -1;
		if (rc == X_DONE && x->status / 100 == 2)
			curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
			    &x->clen);
		if (rc != X_RETRY)
			break;
		if (tries >= s3->max_tries) {
			err_prefix("giving up after %d tries: ", tries);
			rc = ERR_FAIL;
			break;
		}
		sleep_ms(backoff_ms(s3, tries));
	}
	pool_put(s3, h);
	return rc;
}

static void
xfer_release(struct xfer *x)
{
	free(x->url);
	curl_slist_free_all(x->hdrs);
	free(x->rbuf);
	memset(x, 0, sizeof(*x));
}

/* Append a header line; on failure the list is freed and NULL returned. */
static int
hdr_add(struct curl_slist **l, const char *line)
{
	struct curl_slist *n;

	if (line == NULL || (n = curl_slist_append(*l, line)) == NULL) {
		curl_slist_free_all(*l);
		*l = NULL;
		return -1;
	}
	*l = n;
	return 0;
}

static int
hdr_addf(struct curl_slist **l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
hdr_addf(struct curl_slist **l, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n, rc;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	rc = hdr_add(l, n < 0 ? NULL : p);
	if (n >= 0)
		free(p);
	return rc;
}

/*
 * Prepare x for method on key (NULL: the bucket) with a canonical query;
 * body (may be NULL) is hashed into x-amz-content-sha256.
 */
static int
xfer_init(struct s3 *s3, struct xfer *x, const char *method, const char *key,
    const char *query, const uint8_t *body, size_t bodylen,
    const char *ctype)
{
	char sha[S3SIGN_SHA256_HEX + 1];

	memset(x, 0, sizeof(*x));
	x->method = method;
	x->body = body;
	x->bodylen = bodylen;
	x->rmax = S3_ERRBODY_MAX;
	s3sign_sha256_hex(body ? body : (const uint8_t *)"", bodylen, sha);
	if ((x->url = s3_url(s3, key, query)) == NULL ||
	    hdr_addf(&x->hdrs, "x-amz-content-sha256: %s", sha) ||
	    hdr_addf(&x->hdrs, "Content-Type: %s",
	    ctype ? ctype : "application/octet-stream") ||
	    (s3->token_hdr && hdr_add(&x->hdrs, s3->token_hdr))) {
		xfer_release(x);
		err_set("out of memory");
		return ERR_FAIL;
	}
	return ERR_OK;
}

static void
b64(const unsigned char *in, size_t n, char *out, size_t outlen)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	out[outlen - 1] = '\0';
}

/* Object Lock and storage-class headers for a new object. */
static int
add_object_headers(const struct s3 *s3, struct xfer *x)
{
	char until[32];
	time_t t;
	struct tm tm;

	if (s3->storage_class != NULL &&
	    hdr_addf(&x->hdrs, "x-amz-storage-class: %s", s3->storage_class))
		goto oom;
	if (s3->lock_days > 0) {
		t = time(NULL) + (time_t)s3->lock_days * 86400;
		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ",
		    &tm) == 0) {
			err_set("cannot compute the retention date");
			return ERR_FAIL;
		}
		if (hdr_addf(&x->hdrs, "x-amz-object-lock-mode: %s",
		    s3->lock_mode) ||
		    hdr_addf(&x->hdrs, "x-amz-object-lock-retain-until-date: "
		    "%s", until))
			goto oom;
	}
	return ERR_OK;
oom:
	err_set("out of memory");
	return ERR_FAIL;
}

/* Content-MD5, which S3 demands on writes that carry Object Lock. */
static int
add_md5(struct xfer *x, const uint8_t *body, size_t len)
{
	unsigned char md[MD5_DIGEST_LENGTH];
	char b[32];
	unsigned int mdlen = sizeof(md);

	if (EVP_Digest(body ? body : (const uint8_t *)"", len, md, &mdlen,
	    EVP_md5(), NULL) != 1) {
		err_set("cannot compute MD5");
		return ERR_FAIL;
	}
	b64(md, sizeof(md), b, 25);
	if (hdr_addf(&x->hdrs, "Content-MD5: %s", b)) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	return ERR_OK;
}

/* ---- single requests ---- */

/*
 * req_begin(s3, method, key, x, &what): check key, name it for messages
 * and prepare x for method on it.  ERR_OK with x and *what to be released
 * by req_end(), else ERR_USAGE or ERR_FAIL with a message and nothing held
 * (x zeroed, *what NULL).
 */
static int
req_begin(struct s3 *s3, const char *method, const char *key,
    struct xfer *x, char **what)
{
	int rc;

	memset(x, 0, sizeof(*x));
	*what = NULL;
	if (!valid_key(key)) {
		err_set("invalid object key");
		return ERR_USAGE;
	}
	if ((*what = s3_what(s3, key)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	if ((rc = xfer_init(s3, x, method, key, NULL, NULL, 0, NULL)) !=
	    ERR_OK) {
		free(*what);
		*what = NULL;
	}
	return rc;
}

/* req_end(x, what): release what req_begin() acquired; safe after its
 * failure. */
static void
req_end(struct xfer *x, char *what)
{
	xfer_release(x);
	free(what);
}

static int
s3_head(struct s3 *s3, const char *key, uint64_t *size)
{
	struct xfer x;
	char *what;
	curl_off_t cl = -1;
	int rc;

	if ((rc = req_begin(s3, "HEAD", key, &x, &what)) != ERR_OK)
		return rc;
	if ((rc = xfer_run(s3, &x, what)) == X_DONE && x.status == 200)
		cl = x.clen;
	if (rc != X_DONE)
		goto out;
	if (x.status == 200) {
		if (cl < 0) {
			err_set("'%s': answer without a size", what);
			rc = ERR_CORRUPT;
		} else {
			*size = (uint64_t)cl;
			rc = ERR_OK;
		}
	} else if (x.status == 404 || x.status == 403 || x.status == 400 ||
	    x.status == 301) {
		/* A HEAD answer has no body: ask again with a GET of one
		 * byte to learn S3's error code (NoSuchBucket etc.). */
		struct xfer g;
		if ((rc = xfer_init(s3, &g, "GET", key, NULL, NULL, 0, NULL)) ==
		    ERR_OK) {
			if (hdr_add(&g.hdrs, "Range: bytes=0-0")) {
				err_set("out of memory");
				rc = ERR_FAIL;
			} else if ((rc = xfer_run(s3, &g, what)) == X_DONE) {
				if (g.status == 200 || g.status == 206 ||
				    g.status == 416) {
					/* Appeared in between: report absent
					 * as the HEAD did, but be honest. */
					err_set("'%s': inconsistent answers",
					    what);
					rc = ERR_FAIL;
				} else
					rc = xfer_fail(s3, &g, what);
			}
			xfer_release(&g);
		}
	} else
		rc = xfer_fail(s3, &x, what);
out:
	req_end(&x, what);
	return rc;
}

static int
s3_stat(struct storage *st, const char *key, uint64_t *size)
{
	return s3_head((struct s3 *)st, key, size);
}

static int
s3_get(struct storage *st, const char *key, size_t maxlen, uint8_t **buf,
    size_t *len)
{
	struct s3 *s3 = (struct s3 *)st;
	struct xfer x;
	char *what;
	int rc;

	*buf = NULL;
	*len = 0;
	if ((rc = req_begin(s3, "GET", key, &x, &what)) != ERR_OK)
		return rc;
	x.rmax = maxlen > S3_ERRBODY_MAX ? maxlen : S3_ERRBODY_MAX;
	if ((rc = xfer_run(s3, &x, what)) != X_DONE)
		goto out;
	if (x.status != 200) {
		rc = xfer_fail(s3, &x, what);
		goto out;
	}
	if (x.too_big || x.rlen > maxlen) {
		err_set("'%s' is larger than %zu bytes", what, maxlen);
		rc = ERR_CORRUPT;
		goto out;
	}
	if (x.rbuf == NULL && (x.rbuf = calloc(1, 1)) == NULL) {
		err_set("out of memory");
		rc = ERR_FAIL;
		goto out;
	}
	*buf = x.rbuf;
	*len = x.rlen;
	x.rbuf = NULL;
	rc = ERR_OK;
out:
	req_end(&x, what);
	return rc;
}

static int
s3_get_range(struct storage *st, const char *key, uint64_t off, size_t len,
    uint8_t *buf)
{
	struct s3 *s3 = (struct s3 *)st;
	struct xfer x;
	CURL *h = NULL;
	char *what, range[64];
	struct curl_slist *base;
	size_t got = 0;
	int rc, stalls = 0, total = 0;
	uint64_t size;

	if (len == 0) {
		if ((rc = s3_head(s3, key, &size)) != ERR_OK)
			return rc;
		if (off > size) {
			err_set("object ends before the requested range");
			return ERR_CORRUPT;
		}
		return ERR_OK;
	}
	if ((rc = req_begin(s3, "GET", key, &x, &what)) != ERR_OK)
		return rc;
	if (off > UINT64_MAX - len) {
		err_set("invalid range");
		rc = ERR_USAGE;
		goto out;
	}
	base = x.hdrs;
	if ((h = pool_get(s3)) == NULL) {
		err_set("out of memory");
		rc = ERR_FAIL;
		goto out;
	}
	/* Each try asks for what is still missing. */
	while (got < len) {
		struct curl_slist *r;
		size_t before = got;

		snprintf(range, sizeof(range), "Range: bytes=%llu-%llu",
		    (unsigned long long)(off + got),
		    (unsigned long long)(off + len - 1));
		if ((r = curl_slist_append(NULL, range)) == NULL) {
			err_set("out of memory");
			rc = ERR_FAIL;
			goto out;
		}
		r->next = base;
		x.hdrs = r;
		x.dst = buf + got;
		x.dstlen = len - got;
		x.dstgot = 0;
		if ((rc = xfer_setup(s3, &x, h)) == ERR_OK)
			rc = xfer_classify(s3, &x, h, curl_easy_perform(h),
			    what);
		x.hdrs = base;
		r->next = NULL;
		curl_slist_free_all(r);
		/* Keep what arrived before a drop, if it was the right bytes. */
		if (x.range_ok && x.status == 206 &&
		    x.range_start == off + got)
			got += x.dstgot;
		else if (x.range_ok && x.dstgot > 0) {
			err_set("'%s': server sent the wrong range", what);
			rc = ERR_CORRUPT;
			goto out;
		}
		if (rc < 0)
			goto out;
		if (rc == X_DONE) {
			if (x.status == 416) {
				err_set("'%s' ends before byte %llu", what,
				    (unsigned long long)(off + len));
				rc = ERR_CORRUPT;
				goto out;
			}
			if (x.status == 200) {
				err_set("'%s': server ignored the range", what);
				rc = ERR_CORRUPT;
				goto out;
			}
			if (x.status != 206) {
				rc = xfer_fail(s3, &x, what);
				goto out;
			}
			if (x.too_big) {
				err_set("'%s': server sent more than asked",
				    what);
				rc = ERR_CORRUPT;
				goto out;
			}
			if (got < len && x.dstgot == 0) {
				err_set("'%s' ends before byte %llu", what,
				    (unsigned long long)(off + len));
				rc = ERR_CORRUPT;
				goto out;
			}
			if (got < len) {
				/* A complete 206 shorter than asked: the
				 * object ends early. */
				err_set("'%s' ends before byte %llu", what,
				    (unsigned long long)(off + len));
				rc = ERR_CORRUPT;
				goto out;
			}
			continue;
		}
		/* X_RETRY: progress resets the count of fruitless tries. */
		stalls = got > before ? 0 : stalls + 1;
		if (stalls >= s3->max_tries || ++total > 10 * s3->max_tries) {
			err_prefix("giving up after %d tries: ", total + 1);
			rc = ERR_FAIL;
			goto out;
		}
		if (got == before)
			sleep_ms(backoff_ms(s3, stalls));
	}
	rc = ERR_OK;
out:
	pool_put(s3, h);
	req_end(&x, what);
	return rc;
}

static int
s3_del(struct storage *st, const char *key)
{
	struct s3 *s3 = (struct s3 *)st;
	struct xfer x;
	char *what;
	int rc;

	if ((rc = req_begin(s3, "DELETE", key, &x, &what)) != ERR_OK)
		return rc;
	if ((rc = xfer_run(s3, &x, what)) != X_DONE)
		goto out;
	if (x.status == 204 || x.status == 200)
		rc = ERR_OK;
	else
		rc = xfer_fail(s3, &x, what);
out:
	req_end(&x, what);
	return rc;
}

/* ---- list ---- */

struct list_ctx {
	const struct s3 *s3;
	const char *want;     /* full prefix asked for */
	size_t strip;         /* bytes of "PREFIX/" to drop */
	char last[S3XML_MAX_KEY + 1];
	int (*cb)(void *, const char *, uint64_t);
	void *arg;
};

static int
list_one(void *arg, const char *key, uint64_t size)
{
	struct list_ctx *c = arg;

	if (strncmp(key, c->want, strlen(c->want)) != 0 ||
	    strlen(key) <= c->strip) {
		err_set("listing of '%s' returned a key outside the prefix",
		    c->s3->bucket);
		return ERR_CORRUPT;
	}
	if (c->last[0] != '\0' && strcmp(c->last, key) >= 0) {
		err_set("listing of '%s' is not in order", c->s3->bucket);
		return ERR_CORRUPT;
	}
	snprintf(c->last, sizeof(c->last), "%s", key);
	return c->cb(c->arg, key + c->strip, size);
}

static int
s3_list(struct storage *st, const char *prefix,
    int (*cb)(void *, const char *, uint64_t), void *arg)
{
	struct s3 *s3 = (struct s3 *)st;
	struct list_ctx c;
	struct xfer x;
	char *want = NULL, *encp = NULL, *token = NULL, *enct = NULL;
	char *query = NULL, *what = NULL;
	int rc = ERR_FAIL, truncated, pages = 0;

	memset(&x, 0, sizeof(x));
	memset(&c, 0, sizeof(c));
	if (prefix == NULL)
		prefix = "";
	want = *s3->prefix ? xasprintf("%s/%s", s3->prefix, prefix) :
	    strdup(prefix);
	what = s3_what(s3, prefix);
	if (want == NULL || what == NULL ||
	    (encp = s3sign_uri_encode(want, 0)) == NULL) {
		err_set("out of memory");
		goto out;
	}
	c.s3 = s3;
	c.want = want;
	c.strip = *s3->prefix ? strlen(s3->prefix) + 1 : 0;
	c.cb = cb;
	c.arg = arg;
	do {
		free(query);
		/* Canonical order: continuation-token, list-type, max-keys,
		 * prefix. */
		query = xasprintf("%s%s%slist-type=2%s%s&prefix=%s",
		    token ? "continuation-token=" : "", token ? enct : "",
		    token ? "&" : "", *s3->list_max ? "&max-keys=" : "",
		    s3->list_max, encp);
		if (query == NULL) {
			err_set("out of memory");
			rc = ERR_FAIL;
			goto out;
		}
		if ((rc = xfer_init(s3, &x, "GET", NULL, query, NULL, 0,
		    NULL)) != ERR_OK)
			goto out;
		x.rmax = S3XML_MAX_BODY;
		if ((rc = xfer_run(s3, &x, what)) != X_DONE)
			goto out;
		if (x.status != 200) {
			rc = xfer_fail(s3, &x, what);
			goto out;
		}
		if (x.too_big) {
			err_set("listing of '%s' too large", what);
			rc = ERR_CORRUPT;
			goto out;
		}
		free(token);
		free(enct);
		token = enct = NULL;
		rc = s3xml_list((char *)x.rbuf, x.rlen, list_one, &c,
		    &truncated, &token);
		xfer_release(&x);
		if (rc != ERR_OK)
			goto out;
		if (token != NULL && (enct = s3sign_uri_encode(token, 0)) ==
		    NULL) {
			err_set("out of memory");
			rc = ERR_FAIL;
			goto out;
		}
		if (++pages > 1000000) {
			err_set("listing of '%s' does not end", what);
			rc = ERR_CORRUPT;
			goto out;
		}
	} while (truncated);
	rc = ERR_OK;
out:
	xfer_release(&x);
	free(query);
	free(token);
	free(enct);
	free(encp);
	free(want);
	free(what);
	return rc;
}

/* ---- streamed multipart upload ---- */

size_t
storage_s3_part_size(size_t first, int partno)
{
	size_t s = first;
	int step = (partno - 1) / S3_PARTS_PER_STEP;

	while (step-- > 0 && s < S3_PART_MAX / 2)
		s *= 2;
	return s > S3_PART_MAX ? S3_PART_MAX : s;
}

static int
s3_put_start(struct storage *st, const char *key, struct storage_put **out)
{
	struct s3 *s3 = (struct s3 *)st;
	struct s3_put *p;

	*out = NULL;
	if (!valid_key(key)) {
		err_set("invalid object key");
		return ERR_USAGE;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto oom;
	p->base.st = st;
	p->s3 = s3;
	p->fill = -1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->nslots = s3->parallel;
	if ((p->key = strdup(key)) == NULL ||
	    (p->what = s3_what(s3, key)) == NULL ||
	    (p->slots = calloc((size_t)p->nslots, sizeof(*p->slots))) ==
	    NULL || (p->etags = calloc(S3_MAX_PARTS, sizeof(char *))) == NULL)
		goto oom;
	*out = &p->base;
	return ERR_OK;
oom:
	if (p != NULL) {
		free(p->key);
		free(p->what);
		free(p->slots);
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		free(p);
	}
	err_set("out of memory");
	return ERR_FAIL;
}

/* ERR_OK if key is absent, ERR_EXISTS if present, or an error. */
static int
check_absent(struct s3 *s3, const char *key)
{
	uint64_t size;
	int rc;

	rc = s3_head(s3, key, &size);
	if (rc == ERR_NOTFOUND) {
		err_clear();
		return ERR_OK;
	}
	if (rc == ERR_OK) {
		char *what = s3_what(s3, key);
		err_set("'%s' already exists (write-once)",
		    what ? what : key);
		free(what);
		return ERR_EXISTS;
	}
	return rc;
}

static int
mpu_create(struct s3_put *p)
{
	struct xfer x;
	int rc;

	if ((rc = check_absent(p->s3, p->key)) != ERR_OK)
		return rc;
	if ((rc = xfer_init(p->s3, &x, "POST", p->key, "uploads=", NULL, 0,
	    NULL)) != ERR_OK)
		return rc;
	if ((rc = add_object_headers(p->s3, &x)) != ERR_OK)
		goto out;
	if ((rc = xfer_run(p->s3, &x, p->what)) != X_DONE)
		goto out;
	if (x.status != 200) {
		rc = xfer_fail(p->s3, &x, p->what);
		goto out;
	}
	if ((rc = s3xml_upload_id((char *)x.rbuf, x.rlen, &p->upload_id)) !=
	    ERR_OK)
		err_prefix("'%s': ", p->what);
out:
	xfer_release(&x);
	return rc;
}

/* Producer side: hand the full slot s to the I/O thread as the next part. */
static int
part_launch(struct s3_put *p, struct slot *s)
{
	struct s3 *s3 = p->s3;
	char *q, *enc;
	int rc;

	if (p->nparts >= S3_MAX_PARTS) {
		err_set("'%s': object too large (more than %d parts)",
		    p->what, S3_MAX_PARTS);
		return ERR_FAIL;
	}
	if ((enc = s3sign_uri_encode(p->upload_id, 0)) == NULL)
		goto oom;
	q = xasprintf("partNumber=%d&uploadId=%s", p->nparts + 1, enc);
	free(enc);
	if (q == NULL)
		goto oom;
	/* Hashing happens here, on the producer's thread. */
	rc = xfer_init(s3, &s->x, "PUT", p->key, q, s->buf, s->len, NULL);
	free(q);
	if (rc != ERR_OK)
		return rc;
	if (s3->lock_days > 0 && (rc = add_md5(&s->x, s->buf, s->len)) !=
	    ERR_OK)
		return rc;
	if (s->h == NULL && (s->h = curl_easy_init()) == NULL)
		goto oom;
	pthread_mutex_lock(&p->mu);
	s->partno = ++p->nparts;
	s->tries = 1;
	s->retry_at = 0;
	s->queued = 1;
	pthread_mutex_unlock(&p->mu);
	curl_multi_wakeup(p->multi);
	return ERR_OK;
oom:
	err_set("out of memory");
	return ERR_FAIL;
}

/* I/O thread, mu held: record the first failure and wake the producer. */
static void
io_fail(struct s3_put *p, int rc)
{
	if (p->failed == ERR_OK) {
		p->failed = rc;
		snprintf(p->failmsg, sizeof(p->failmsg), "%s", err_get());
	}
	pthread_cond_broadcast(&p->cv);
}

/* I/O thread, mu held: judge a finished part upload. */
static void
io_done(struct s3_put *p, struct slot *s, CURLcode cc)
{
	struct s3 *s3 = p->s3;
	int rc;

	curl_multi_remove_handle(p->multi, s->h);
	s->inflight = 0;
	rc = xfer_classify(s3, &s->x, s->h, cc, p->what);
	if (rc == X_DONE && s->x.status == 200 && s->x.etag[0] != '\0') {
		if ((p->etags[s->partno - 1] = strdup(s->x.etag)) == NULL) {
			err_set("out of memory");
			io_fail(p, ERR_FAIL);
			return;
		}
		xfer_release(&s->x);
		s->partno = 0;
		s->len = 0;
		pthread_cond_broadcast(&p->cv);
		return;
	}
	if (rc == X_DONE && s->x.status == 200) {
		err_set("'%s': part %d stored without an ETag", p->what,
		    s->partno);
		io_fail(p, ERR_CORRUPT);
		return;
	}
	if (rc == X_DONE) {
		rc = xfer_fail(s3, &s->x, p->what);
		err_prefix("part %d: ", s->partno);
		io_fail(p, rc);
		return;
	}
	if (rc == X_RETRY && s->tries < s3->max_tries) {
		s->retry_at = now_ms() + backoff_ms(s3, s->tries);
		s->tries++;
		return;
	}
	if (rc == X_RETRY) {
		err_prefix("part %d: giving up after %d tries: ", s->partno,
		    s->tries);
		rc = ERR_FAIL;
	}
	io_fail(p, rc);
}

/*
 * The I/O thread: starts queued parts and due retries, moves every
 * transfer along, and judges finished ones, so that uploads progress
 * while the producer compresses and encrypts.
 */
static void *
io_main(void *arg)
{
	struct s3_put *p = arg;
	CURLMsg *m;
	long long now, next;
	int running, left, i, ms;

	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		now = now_ms();
		next = 0;
		for (i = 0; i < p->nslots; i++) {
			struct slot *s = &p->slots[i];
			int start = 0;

			if (s->queued) {
				s->queued = 0;
				start = 1;
			} else if (s->retry_at != 0 && s->retry_at <= now) {
				s->retry_at = 0;
				start = 1;
			} else if (s->retry_at != 0 &&
			    (next == 0 || s->retry_at < next))
				next = s->retry_at;
			if (!start || p->failed)
				continue;
			if (xfer_setup(p->s3, &s->x, s->h) != ERR_OK) {
				io_fail(p, ERR_FAIL);
				continue;
			}
			if (curl_multi_add_handle(p->multi, s->h) !=
			    CURLM_OK) {
				err_set("'%s': cannot start an upload",
				    p->what);
				io_fail(p, ERR_FAIL);
				continue;
			}
			s->inflight = 1;
		}
		pthread_mutex_unlock(&p->mu);
		if (curl_multi_perform(p->multi, &running) != CURLM_OK) {
			pthread_mutex_lock(&p->mu);
			err_set("'%s': upload failed", p->what);
			io_fail(p, ERR_FAIL);
			break;
		}
		pthread_mutex_lock(&p->mu);
		while ((m = curl_multi_info_read(p->multi, &left)) != NULL) {
			if (m->msg != CURLMSG_DONE)
				continue;
			for (i = 0; i < p->nslots; i++)
				if (p->slots[i].inflight &&
				    p->slots[i].h == m->easy_handle) {
					io_done(p, &p->slots[i],
					    m->data.result);
					break;
				}
		}
		if (p->stop)
			break;
		ms = 1000;
		if (next != 0) {
			now = now_ms();
			ms = next <= now ? 0 : next - now < 1000 ?
			    (int)(next - now) : 1000;
		}
		pthread_mutex_unlock(&p->mu);
		curl_multi_poll(p->multi, NULL, 0, ms, NULL);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Stop and join the I/O thread, if running. */
static void
io_stop(struct s3_put *p)
{
	if (!p->io_running)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_mutex_unlock(&p->mu);
	curl_multi_wakeup(p->multi);
	pthread_join(p->io, NULL);
	p->io_running = 0;
}

static int
busy(const struct slot *s)
{
	return s->queued || s->inflight || s->retry_at != 0;
}

/* The sticky failure, with its message made this thread's; ERR_OK if none. */
static int
put_status(struct s3_put *p)
{
	int rc;

	pthread_mutex_lock(&p->mu);
	rc = p->failed;
	if (rc != ERR_OK)
		err_set("%s", p->failmsg);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* Record a failure seen by the producer (its message is in err_get()). */
static int
put_fail(struct s3_put *p, int rc)
{
	pthread_mutex_lock(&p->mu);
	if (p->failed == ERR_OK) {
		p->failed = rc;
		snprintf(p->failmsg, sizeof(p->failmsg), "%s", err_get());
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/*
 * Wait until a slot is free (all: until none is busy); its index in *idx.
 * Returns the sticky failure, if any.
 */
static int
put_wait(struct s3_put *p, int all, int *idx)
{
	int i, nbusy, rc;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		if ((rc = p->failed) != ERR_OK)
			break;
		nbusy = 0;
		for (i = 0; i < p->nslots; i++) {
			if (busy(&p->slots[i]))
				nbusy++;
			else if (!all && p->slots[i].partno == 0 &&
			    i != p->fill) {
				*idx = i;
				break;
			}
		}
		if ((!all && i < p->nslots) || (all && nbusy == 0))
			break;
		pthread_cond_wait(&p->cv, &p->mu);
	}
	if (rc != ERR_OK)
		err_set("%s", p->failmsg);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

static int
s3_put_write(struct storage_put *sp, const void *buf, size_t len)
{
	struct s3_put *p = (struct s3_put *)sp;
	const uint8_t *in = buf;
	struct slot *s;
	size_t want, n;
	int rc;

	if ((rc = put_status(p)) != ERR_OK)
		return rc;
	while (len > 0) {
		if (p->fill < 0) {
			int idx = -1;
			if ((rc = put_wait(p, 0, &idx)) != ERR_OK)
				return rc;
			p->fill = idx;
			s = &p->slots[p->fill];
			want = storage_s3_part_size(p->s3->part_size,
			    p->nparts + 1);
			if (s->cap < want) {
				free(s->buf);
				s->cap = 0;
				if ((s->buf = malloc(want)) == NULL) {
					err_set("out of memory for a %zu-byte "
					    "upload part", want);
					return put_fail(p, ERR_FAIL);
				}
				s->cap = want;
			}
			s->len = 0;
		}
		s = &p->slots[p->fill];
		want = storage_s3_part_size(p->s3->part_size, p->nparts + 1);
		n = want - s->len < len ? want - s->len : len;
		memcpy(s->buf + s->len, in, n);
		s->len += n;
		in += n;
		len -= n;
		p->total += n;
		if (s->len < want)
			break;
		/* A full part, and more may follow: go multipart. */
		if (p->upload_id == NULL) {
			if ((p->multi = curl_multi_init()) == NULL) {
				err_set("out of memory");
				return put_fail(p, ERR_FAIL);
			}
			if ((rc = mpu_create(p)) != ERR_OK)
				return put_fail(p, rc);
			if (pthread_create(&p->io, NULL, io_main, p) != 0) {
				err_set("cannot start an upload thread");
				return put_fail(p, ERR_FAIL);
			}
			p->io_running = 1;
		}
		if ((rc = part_launch(p, s)) != ERR_OK)
			return put_fail(p, rc);
		p->fill = -1;
	}
	return ERR_OK;
}

static void
mpu_abort(struct s3_put *p)
{
	struct xfer x;
	char *q, *enc, *msg;
	int i;

	io_stop(p);
	if (p->multi != NULL)
		for (i = 0; i < p->nslots; i++)
			if (p->slots[i].inflight) {
				curl_multi_remove_handle(p->multi,
				    p->slots[i].h);
				p->slots[i].inflight = 0;
			}
	if (p->upload_id == NULL)
		return;
	/* Keep the first error message: the abort is cleanup. */
	msg = strdup(err_get());
	if ((enc = s3sign_uri_encode(p->upload_id, 0)) != NULL &&
	    (q = xasprintf("uploadId=%s", enc)) != NULL) {
		if (xfer_init(p->s3, &x, "DELETE", p->key, q, NULL, 0, NULL) ==
		    ERR_OK) {
			/* 404/405/501: a server without AbortMultipartUpload
			 * (s3rver) or an upload already gone; nothing to do. */
			(void)xfer_run(p->s3, &x, p->what);
			xfer_release(&x);
		}
		free(q);
	}
	free(enc);
	if (msg != NULL) {
		err_set("%s", msg);
		free(msg);
	}
}

static void
put_free(struct s3_put *p)
{
	int i;

	io_stop(p);
	for (i = 0; i < p->nslots; i++) {
		if (p->slots[i].inflight)
			curl_multi_remove_handle(p->multi, p->slots[i].h);
		if (p->slots[i].h != NULL)
			curl_easy_cleanup(p->slots[i].h);
		xfer_release(&p->slots[i].x);
		free(p->slots[i].buf);
	}
	for (i = 0; i < p->nparts && i < S3_MAX_PARTS; i++)
		free(p->etags[i]);
	free(p->etags);
	free(p->slots);
	if (p->multi != NULL)
		curl_multi_cleanup(p->multi);
	free(p->upload_id);
	free(p->key);
	free(p->what);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static void
s3_put_abort(struct storage_put *sp)
{
	struct s3_put *p = (struct s3_put *)sp;

	mpu_abort(p);
	put_free(p);
}

/*
 * 1 if key holds exactly body: same size and an ETag equal to its MD5
 * (true of single-PUT objects without SSE-KMS), 0 otherwise.
 */
static int
already_ours(struct s3 *s3, const char *key, const uint8_t *body, size_t len)
{
	unsigned char md[MD5_DIGEST_LENGTH];
	unsigned int mdlen = sizeof(md);
	char hexmd[2 * MD5_DIGEST_LENGTH + 3];
	struct xfer x;
	char *what;
	int i, ok = 0;

	if (EVP_Digest(body ? body : (const uint8_t *)"", len, md, &mdlen,
	    EVP_md5(), NULL) != 1)
		return 0;
	hexmd[0] = '"';
	for (i = 0; i < MD5_DIGEST_LENGTH; i++)
		snprintf(hexmd + 1 + 2 * i, 3, "%02x", md[i]);
	hexmd[2 * MD5_DIGEST_LENGTH + 1] = '"';
	hexmd[2 * MD5_DIGEST_LENGTH + 2] = '\0';
	if ((what = s3_what(s3, key)) == NULL)
		return 0;
	if (xfer_init(s3, &x, "GET", key, NULL, NULL, 0, NULL) == ERR_OK) {
		x.rmax = len + 1;
		if (xfer_run(s3, &x, what) == X_DONE && x.status == 200 &&
		    !x.too_big && x.rlen == len &&
		    (len == 0 || memcmp(x.rbuf, body, len) == 0) &&
		    (strcasecmp(x.etag, hexmd) == 0 ||
		    strncasecmp(x.etag, hexmd + 1, 32) == 0))
			ok = 1;
		xfer_release(&x);
	}
	free(what);
	if (ok)
		err_clear();
	return ok;
}

/* Single PUT of a small object (fewer bytes than one part). */
static int
put_single(struct s3_put *p)
{
	struct s3 *s3 = p->s3;
	struct slot *s = p->fill >= 0 ? &p->slots[p->fill] : NULL;
	const uint8_t *body = s ? s->buf : NULL;
	size_t len = s ? s->len : 0;
	struct xfer x;
	int rc;

	int inm = !__atomic_load_n(&s3->no_inm, __ATOMIC_RELAXED);

	if ((rc = check_absent(s3, p->key)) != ERR_OK)
		return rc;
again:
	if ((rc = xfer_init(s3, &x, "PUT", p->key, NULL, body, len, NULL)) !=
	    ERR_OK)
		return rc;
	if (inm && hdr_add(&x.hdrs, "If-None-Match: *")) {
		err_set("out of memory");
		rc = ERR_FAIL;
		goto out;
	}
	x.fresh = 1;
	if ((rc = add_object_headers(s3, &x)) != ERR_OK)
		goto out;
	if (s3->lock_days > 0 && (rc = add_md5(&x, body, len)) != ERR_OK)
		goto out;
	if ((rc = xfer_run(s3, &x, p->what)) != X_DONE)
		goto out;
	if (x.status == 501 && inm) {
		/* A server without conditional writes: the HEAD above
		 * remains the write-once check. */
		__atomic_store_n(&s3->no_inm, 1, __ATOMIC_RELAXED);
		xfer_release(&x);
		inm = 0;
		goto again;
	}
	if (x.status == 412 && x.tries > 1) {
		/* An earlier try may have stored the object and lost the
		 * answer: accept only if what is there is exactly ours. */
		rc = already_ours(s3, p->key, body, len) ? ERR_OK :
		    xfer_fail(s3, &x, p->what);
		goto out;
	}
	if (x.status != 200) {
		rc = xfer_fail(s3, &x, p->what);
		goto out;
	}
	if (x.etag[0] == '\0') {
		err_set("'%s': stored without an ETag", p->what);
		rc = ERR_CORRUPT;
		goto out;
	}
	rc = ERR_OK;
out:
	xfer_release(&x);
	return rc;
}

int
storage_s3_multipart_etag(char *const *part_etags, int n, char *out,
    size_t outlen)
{
	EVP_MD_CTX *ctx;
	unsigned char md[MD5_DIGEST_LENGTH], one[MD5_DIGEST_LENGTH];
	unsigned int mdlen = sizeof(md);
	const char *e;
	int i, j, ok;

	if (n < 1 || outlen < 2 * MD5_DIGEST_LENGTH + 8)
		return -1;
	for (i = 0; i < n; i++) {
		e = part_etags[i] + (part_etags[i][0] == '"');
		for (j = 0; j < 32; j++)
			if (!isxdigit((unsigned char)e[j]))
				return -1;
		if (e[32] != '\0' && strcmp(e + 32, "\"") != 0)
			return -1;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1;
	for (i = 0; ok && i < n; i++) {
		e = part_etags[i] + (part_etags[i][0] == '"');
		for (j = 0; j < MD5_DIGEST_LENGTH; j++)
			one[j] = (unsigned char)(hexval(e[2 * j]) << 4 |
			    hexval(e[2 * j + 1]));
		ok = EVP_DigestUpdate(ctx, one, sizeof(one)) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	for (j = 0; j < MD5_DIGEST_LENGTH; j++)
		snprintf(out + 2 * j, 3, "%02x", md[j]);
	snprintf(out + 32, outlen - 32, "-%d", n);
	return 0;
}

/*
 * 1 if etag is the multipart ETag S3 would form from our parts; also 1
 * where that cannot be checked (parts' ETags not plain MD5s, as with
 * SSE-KMS, or a server such as s3rver answering without "-N"), leaving
 * size and part count as the check; 0 on a mismatch.
 */
static int
mpu_etag_matches(const struct s3_put *p, const char *etag)
{
	char want[64];
	size_t n;

	if (strchr(etag, '-') == NULL ||
	    storage_s3_multipart_etag(p->etags, p->nparts, want,
	    sizeof(want)) != 0)
		return 1;
	if (etag[0] == '"')
		etag++;
	n = strlen(want);
	return strncasecmp(etag, want, n) == 0 &&
	    (etag[n] == '\0' || strcmp(etag + n, "\"") == 0);
}

/*
 * Check the completed object: a multipart ETag ("...-N", from the
 * CompleteMultipartUpload answer, or from a HEAD if etag is NULL) must
 * name our part count, and the object must have the size we sent.
 */
static int
mpu_check_result(struct s3_put *p, const char *etag)
{
	struct xfer x;
	char want[16], e[136];
	const char *dash;
	uint64_t size = 0;
	int rc;

	if ((rc = xfer_init(p->s3, &x, "HEAD", p->key, NULL, NULL, 0,
	    NULL)) != ERR_OK)
		return rc;
	rc = xfer_run(p->s3, &x, p->what);
	if (rc != X_DONE || x.status != 200 || x.clen < 0) {
		if (rc == X_DONE)
			err_set("'%s': completed object cannot be read back "
			    "(HTTP %ld)", p->what, x.status);
		xfer_release(&x);
		return rc == X_DONE ? ERR_FAIL : rc;
	}
	size = (uint64_t)x.clen;
	snprintf(e, sizeof(e), "%s", etag ? etag : x.etag);
	xfer_release(&x);
	snprintf(want, sizeof(want), "-%d", p->nparts);
	if ((dash = strrchr(e, '-')) != NULL &&
	    (strncmp(dash, want, strlen(want)) != 0 ||
	    (dash[strlen(want)] != '\0' &&
	    strcmp(dash + strlen(want), "\"") != 0))) {
		err_set("'%s': completed object has the wrong part count "
		    "(ETag %s)", p->what, e);
		return ERR_CORRUPT;
	}
	if (size != p->total) {
		err_set("'%s': completed object has %llu bytes, %llu were "
		    "sent", p->what, (unsigned long long)size,
		    (unsigned long long)p->total);
		return ERR_CORRUPT;
	}
	if (etag == NULL && !mpu_etag_matches(p, e)) {
		err_set("'%s': the object there is not the one uploaded "
		    "(ETag %s)", p->what, e);
		return ERR_EXISTS;
	}
	return ERR_OK;
}

static int
mpu_complete(struct s3_put *p)
{
	struct s3 *s3 = p->s3;
	struct xfer x;
	char *body = NULL, *q = NULL, *enc = NULL, etag[136];
	size_t cap, len = 0;
	int i, rc, n, errtries = 0;
	int inm = !__atomic_load_n(&s3->no_inm, __ATOMIC_RELAXED);

	memset(&x, 0, sizeof(x));
	cap = 64 + (size_t)p->nparts * 200;
	if ((body = malloc(cap)) == NULL)
		goto oom;
	len += (size_t)snprintf(body, cap, "<CompleteMultipartUpload>");
	for (i = 0; i < p->nparts; i++) {
		if (p->etags[i] == NULL || strlen(p->etags[i]) > 130 ||
		    strpbrk(p->etags[i], "<>&") != NULL) {
			err_set("'%s': part %d has a bad ETag", p->what, i + 1);
			rc = ERR_CORRUPT;
			goto out;
		}
		n = snprintf(body + len, cap - len, "<Part><PartNumber>%d"
		    "</PartNumber><ETag>%s</ETag></Part>", i + 1, p->etags[i]);
		len += (size_t)n;
	}
	len += (size_t)snprintf(body + len, cap - len,
	    "</CompleteMultipartUpload>");
	if ((enc = s3sign_uri_encode(p->upload_id, 0)) == NULL ||
	    (q = xasprintf("uploadId=%s", enc)) == NULL)
		goto oom;
again:
	if ((rc = xfer_init(s3, &x, "POST", p->key, q, (uint8_t *)body, len,
	    "application/xml")) != ERR_OK)
		goto out;
	if (inm && hdr_add(&x.hdrs, "If-None-Match: *"))
		goto oom;
	x.fresh = 1;
	if ((rc = xfer_run(s3, &x, p->what)) != X_DONE)
		goto out;
	if (x.status == 501 && inm) {
		__atomic_store_n(&s3->no_inm, 1, __ATOMIC_RELAXED);
		xfer_release(&x);
		inm = 0;
		goto again;
	}
	if (x.tries > 1 && (x.status == 412 || x.status == 404)) {
		/* An earlier try may have completed the upload and lost the
		 * answer (the retry then finds the object, or no upload):
		 * accept what is there only if it has our size and our
		 * part count. */
		char c[64], m[8];
		s3xml_error((char *)x.rbuf, x.rlen, c, sizeof(c), m, sizeof(m));
		if (x.status == 412 || strcmp(c, "NoSuchUpload") == 0) {
			rc = mpu_check_result(p, NULL);
			goto out;
		}
	}
	if (x.status != 200) {
		rc = xfer_fail(s3, &x, p->what);
		goto out;
	}
	if ((rc = s3xml_complete((char *)x.rbuf, x.rlen, etag,
	    sizeof(etag))) != ERR_OK) {
		/* S3 may answer 200 with an <Error> (InternalError) after
		 * the headers went out: the upload is still there, so the
		 * request can be made again. */
		char c[64], m[8];
		s3xml_error((char *)x.rbuf, x.rlen, c, sizeof(c), m, sizeof(m));
		if (rc == ERR_FAIL && ++errtries < s3->max_tries &&
		    (strcmp(c, "InternalError") == 0 ||
		    strcmp(c, "SlowDown") == 0 ||
		    strcmp(c, "ServiceUnavailable") == 0)) {
			xfer_release(&x);
			sleep_ms(backoff_ms(s3, errtries));
			goto again;
		}
		err_prefix("'%s': ", p->what);
		goto out;
	}
	rc = mpu_check_result(p, etag);
	goto out;
oom:
	err_set("out of memory");
	rc = ERR_FAIL;
out:
	xfer_release(&x);
	free(body);
	free(q);
	free(enc);
	return rc;
}

static int
s3_put_end(struct storage_put *sp)
{
	struct s3_put *p = (struct s3_put *)sp;
	struct slot *s;
	int rc;

	if ((rc = put_status(p)) != ERR_OK)
		goto fail;
	if (p->upload_id == NULL) {
		rc = put_single(p);
		if (rc != ERR_OK)
			goto fail;
		put_free(p);
		return ERR_OK;
	}
	if (p->fill >= 0 && p->slots[p->fill].len > 0) {
		s = &p->slots[p->fill];
		if ((rc = part_launch(p, s)) != ERR_OK)
			goto fail;
		p->fill = -1;
	}
	if ((rc = put_wait(p, 1, NULL)) != ERR_OK)
		goto fail;
	io_stop(p);
	if ((rc = mpu_complete(p)) != ERR_OK)
		goto fail;
	put_free(p);
	return ERR_OK;
fail:
	mpu_abort(p);
	put_free(p);
	return rc;
}

/* ---- open and free ---- */

static void
s3_free(struct storage *st)
{
	struct s3 *s3 = (struct s3 *)st;
	int i;

	for (i = 0; i < s3->npool; i++)
		curl_easy_cleanup(s3->pool[i]);
	pthread_mutex_destroy(&s3->lock);
	free(s3->bucket);
	free(s3->prefix);
	free(s3->base_url);
	free(s3->host);
	free(s3->region);
	free(s3->sigv4);
	free(s3->access_key);
	wipe_free(s3->secret_key);
	wipe_free(s3->token_hdr);
	free(s3->ca_bundle);
	free(s3->storage_class);
	free(s3->lock_mode);
	free(s3);
}

static const struct storage_ops s3_ops = {
	s3_put_start, s3_put_write, s3_put_end, s3_put_abort, s3_get,
	s3_get_range, s3_stat, s3_list, s3_del, s3_free
};

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

static long
env_long(const char *name, long def, long min, long max)
{
	const char *v = env(name);
	char *end;
	long x;

	if (v == NULL)
		return def;
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || x < min || x > max)
		return def;
	return x;
}

int
storage_s3_open(const char *url, const struct storage_opts *opts,
    struct storage **out)
{
	struct awsconf conf = { 0 };
	struct s3 *s3 = NULL;
	const char *b, *slash, *endpoint, *region, *ca;
	size_t blen;
	char *pfx = NULL;
	int rc = ERR_FAIL, ps;

	*out = NULL;
	pthread_once(&s3_once, s3_global_init);
	if (!s3_global_ok) {
		err_set("cannot initialise libcurl");
		return ERR_FAIL;
	}
	b = url + 5;
	slash = strchr(b, '/');
	blen = slash ? (size_t)(slash - b) : strlen(b);
	if (!valid_bucket(b, blen)) {
		err_set("invalid bucket name in '%s' (want s3://BUCKET/PREFIX)",
		    url);
		return ERR_USAGE;
	}
	if ((s3 = calloc(1, sizeof(*s3))) == NULL)
		goto oom;
	pthread_mutex_init(&s3->lock, NULL);
	s3->base.ops = &s3_ops;
	s3->base.local = 0;
	if ((s3->bucket = strndup(b, blen)) == NULL)
		goto oom;
	/* Prefix without slashes at either end. */
	if (slash != NULL) {
		const char *ps0 = slash;
		size_t n;
		while (*ps0 == '/')
			ps0++;
		n = strlen(ps0);
		while (n > 0 && ps0[n - 1] == '/')
			n--;
		if ((pfx = strndup(ps0, n)) == NULL)
			goto oom;
	} else if ((pfx = strdup("")) == NULL)
		goto oom;
	if (*pfx && !valid_key(pfx)) {
		err_set("invalid prefix in '%s'", url);
		rc = ERR_USAGE;
		goto fail;
	}
	s3->prefix = pfx;
	pfx = NULL;

	if ((rc = awsconf_load(opts->profile, &conf)) != ERR_OK)
		goto fail;
	if (conf.access_key == NULL || conf.secret_key == NULL) {
		err_set("no AWS credentials for '%s': set AWS_ACCESS_KEY_ID "
		    "and AWS_SECRET_ACCESS_KEY, or a profile in "
		    "~/.aws/credentials", url);
		rc = ERR_USAGE;
		goto fail;
	}
	if (!clean_text(conf.access_key) || !clean_text(conf.secret_key) ||
	    (conf.session_token && !clean_text(conf.session_token))) {
		err_set("malformed AWS credentials (from %s)",
		    conf.source ? conf.source : "the environment");
		rc = ERR_USAGE;
		goto fail;
	}
	region = opts->region ? opts->region : env("AWS_REGION") ?
	    env("AWS_REGION") : env("AWS_DEFAULT_REGION") ?
	    env("AWS_DEFAULT_REGION") : conf.region ? conf.region : "us-east-1";
	if (*region == '\0' || strlen(region) > 40 || !clean_text(region) ||
	    strchr(region, ':') != NULL) {
		err_set("invalid region '%s'", region);
		rc = ERR_USAGE;
		goto fail;
	}
	if ((s3->region = strdup(region)) == NULL ||
	    (s3->sigv4 = xasprintf("aws:amz:%s:s3", region)) == NULL ||
	    (s3->access_key = strdup(conf.access_key)) == NULL ||
	    (s3->secret_key = strdup(conf.secret_key)) == NULL)
		goto oom;
	if (conf.session_token != NULL && (s3->token_hdr =
	    xasprintf("x-amz-security-token: %s", conf.session_token)) == NULL)
		goto oom;
	endpoint = opts->endpoint ? opts->endpoint :
	    env("AWS_ENDPOINT_URL_S3") ? env("AWS_ENDPOINT_URL_S3") :
	    env("AWS_ENDPOINT_URL") ? env("AWS_ENDPOINT_URL") : conf.endpoint;
	/* -1 (auto): path-style for a named endpoint (MinIO, Ceph, test
	 * servers), virtual-hosted for AWS itself. */
	ps = opts->path_style;
	if (ps == -1)
		ps = endpoint != NULL;
	if (endpoint == NULL) {
		char *def = xasprintf("https://s3.%s.amazonaws.com", region);
		if (def == NULL)
			goto oom;
		rc = storage_s3_base_url(def, s3->bucket, ps, &s3->base_url,
		    &s3->host);
		free(def);
	} else
		rc = storage_s3_base_url(endpoint, s3->bucket, ps,
		    &s3->base_url, &s3->host);
	if (rc != ERR_OK)
		goto fail;
	ca = opts->ca_bundle ? opts->ca_bundle : env("AWS_CA_BUNDLE") ?
	    env("AWS_CA_BUNDLE") : conf.ca_bundle;
	if (ca != NULL && (s3->ca_bundle = strdup(ca)) == NULL)
		goto oom;
	if (opts->storage_class != NULL) {
		if (!clean_token(opts->storage_class) ||
		    strlen(opts->storage_class) > 40) {
			err_set("invalid storage class '%s'",
			    opts->storage_class);
			rc = ERR_USAGE;
			goto fail;
		}
		if ((s3->storage_class = strdup(opts->storage_class)) == NULL)
			goto oom;
	}
	if (opts->lock_days < 0 || opts->lock_days > 36500) {
		err_set("object lock days must be between 0 and 36500");
		rc = ERR_USAGE;
		goto fail;
	}
	s3->lock_days = opts->lock_days;
	if (opts->lock_mode != NULL && strcasecmp(opts->lock_mode,
	    "COMPLIANCE") != 0 && strcasecmp(opts->lock_mode,
	    "GOVERNANCE") != 0) {
		err_set("object lock mode must be COMPLIANCE or GOVERNANCE, "
		    "not '%s'", opts->lock_mode);
		rc = ERR_USAGE;
		goto fail;
	}
	if ((s3->lock_mode = strdup(opts->lock_mode && strcasecmp(
	    opts->lock_mode, "COMPLIANCE") == 0 ? "COMPLIANCE" :
	    "GOVERNANCE")) == NULL)
		goto oom;
	s3->parallel = opts->parallel > 0 ? opts->parallel : 4;
	if (s3->parallel > 64)
		s3->parallel = 64;
	/* Test knobs (documented in docs/S3.md). */
	s3->part_size = (size_t)env_long("BKP_S3_PART_SIZE", S3_PART_DEFAULT,
	    storage_s3_is_loopback(s3->host) ? 4096 : S3_PART_MIN,
	    1L << 30);
	s3->max_tries = (int)env_long("BKP_S3_MAX_TRIES", 8, 1, 100);
	s3->retry_base_ms = env_long("BKP_S3_RETRY_BASE_MS", 200, 1, 10000);
	s3->low_speed_time = env_long("BKP_S3_TIMEOUT", 60, 1, 3600);
	if (env_long("BKP_S3_LIST_MAX_KEYS", 0, 1, 1000) > 0)
		snprintf(s3->list_max, sizeof(s3->list_max), "%ld",
		    env_long("BKP_S3_LIST_MAX_KEYS", 0, 1, 1000));
	awsconf_release(&conf);
	*out = &s3->base;
	return ERR_OK;
oom:
	err_set("out of memory");
	rc = ERR_FAIL;
fail:
	awsconf_release(&conf);
	free(pfx);
	if (s3 != NULL)
		s3_free(&s3->base);
	return rc;
}
