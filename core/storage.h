#ifndef BKP_STORAGE_H
#define BKP_STORAGE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Object storage: a flat namespace of write-once objects named by keys such
 * as "config" or "data/0123abcd".  Two backends: a local directory
 * ("/srv/backups", "file:///srv/backups") and S3 ("s3://bucket/prefix").
 * Every function returns ERR_OK (0) or a negative ERR_* status from err.h
 * with a message set by err_set(); credentials never appear in messages.
 * Everything read back is untrusted: callers bound and authenticate it.
 */

struct storage;
struct storage_put;

struct storage_opts {
	const char *endpoint;      /* S3 endpoint URL (or AWS_ENDPOINT_URL) */
	const char *region;        /* or AWS_REGION / AWS_DEFAULT_REGION */
	const char *ca_bundle;     /* or AWS_CA_BUNDLE */
	const char *profile;       /* or AWS_PROFILE */
	const char *storage_class; /* S3 storage class for new objects, or NULL */
	const char *lock_mode;     /* "COMPLIANCE" or "GOVERNANCE" */
	int lock_days;             /* S3 Object Lock retention; 0 for none */
	int parallel;              /* concurrent transfers; 0 for default */
	int path_style;            /* 1 path-style, 0 virtual-hosted, -1 auto */
};

/*
 * storage_open(url, opts, &st): open the storage named by url.  opts may be
 * NULL.  Opening does not check that a repository exists there.
 */
int storage_open(const char *url, const struct storage_opts *opts,
    struct storage **out);

/* storage_free(st): release st; NULL does nothing. */
void storage_free(struct storage *st);

/* storage_url(st): the url st was opened with. */
const char *storage_url(const struct storage *st);

/* storage_is_local(st): 1 for a local directory backend, 0 otherwise. */
int storage_is_local(const struct storage *st);

/*
 * storage_put_start(st, key, &p): begin writing object key.  Data is
 * streamed with storage_put_write(); nothing is visible under key until
 * storage_put_end() returns ERR_OK.  Memory use is bounded whatever the
 * object's size.  The object must not exist (write-once): put_end fails
 * with ERR_EXISTS if it does.
 */
int storage_put_start(struct storage *st, const char *key,
    struct storage_put **out);

/* storage_put_write(p, buf, len): append len bytes. */
int storage_put_write(struct storage_put *p, const void *buf, size_t len);

/*
 * storage_put_end(p): commit the object and free p (also on failure, in
 * which case nothing is visible under the key).
 */
int storage_put_end(struct storage_put *p);

/* storage_put_abort(p): discard everything written and free p; NULL ok. */
void storage_put_abort(struct storage_put *p);

/* storage_put_bytes(st, key, buf, len): write a whole small object. */
int storage_put_bytes(struct storage *st, const char *key, const void *buf,
    size_t len);

/*
 * storage_get(st, key, maxlen, &buf, &len): read a whole object of at most
 * maxlen bytes into a new malloc'ed buffer (NUL-terminated for
 * convenience; the NUL is not counted).  ERR_NOTFOUND if absent,
 * ERR_CORRUPT if larger than maxlen.
 */
int storage_get(struct storage *st, const char *key, size_t maxlen,
    uint8_t **buf, size_t *len);

/*
 * storage_get_range(st, key, off, len, buf): read exactly len bytes at off
 * into buf.  Safe to call from several threads at once.  ERR_NOTFOUND if
 * the object is absent, ERR_CORRUPT if it ends before off + len.
 */
int storage_get_range(struct storage *st, const char *key, uint64_t off,
    size_t len, uint8_t *buf);

/* storage_stat(st, key, &size): size of an object; ERR_NOTFOUND if absent. */
int storage_stat(struct storage *st, const char *key, uint64_t *size);

/*
 * storage_list(st, prefix, cb, arg): call cb(arg, key, size) for every
 * object whose key starts with prefix, in lexical order of key.  A non-zero
 * return from cb stops the walk and is returned.
 */
int storage_list(struct storage *st, const char *prefix,
    int (*cb)(void *arg, const char *key, uint64_t size), void *arg);

/* storage_delete(st, key): remove an object (stale temporaries, locks). */
int storage_delete(struct storage *st, const char *key);

#endif
