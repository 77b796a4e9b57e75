#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "storage_impl.h"

int
storage_open(const char *url, const struct storage_opts *opts,
    struct storage **out)
{
	struct storage_opts none = { 0 };
	int rc;

	if (opts == NULL)
		opts = &none;
	if (url == NULL || *url == '\0') {
		err_set("no repository given (use -r or BKP_REPOSITORY)");
		return ERR_USAGE;
	}
	if (strncmp(url, "s3://", 5) == 0)
		rc = storage_s3_open(url, opts, out);
	else if (strncmp(url, "file://", 7) == 0)
		rc = storage_local_open(url + 7, out);
	else if (strstr(url, "://") != NULL) {
		err_set("unsupported repository URL '%s' (use a path or s3://)",
		    url);
		return ERR_USAGE;
	} else
		rc = storage_local_open(url, out);
	if (rc != ERR_OK)
		return rc;
	if (((*out)->url = strdup(url)) == NULL) {
		storage_free(*out);
		*out = NULL;
		err_set("out of memory");
		return ERR_FAIL;
	}
	return ERR_OK;
}

void
storage_free(struct storage *st)
{
	char *url;

	if (st == NULL)
		return;
	url = st->url;
	st->ops->free(st);
	free(url);
}

const char *
storage_url(const struct storage *st)
{
	return st->url;
}

int
storage_is_local(const struct storage *st)
{
	return st->local;
}

int
storage_put_start(struct storage *st, const char *key,
    struct storage_put **out)
{
	return st->ops->put_start(st, key, out);
}

int
storage_put_write(struct storage_put *p, const void *buf, size_t len)
{
	return p->st->ops->put_write(p, buf, len);
}

int
storage_put_end(struct storage_put *p)
{
	return p->st->ops->put_end(p);
}

void
storage_put_abort(struct storage_put *p)
{
	if (p != NULL)
		p->st->ops->put_abort(p);
}

int
storage_put_bytes(struct storage *st, const char *key, const void *buf,
    size_t len)
{
	struct storage_put *p;
	int rc;

	if ((rc = storage_put_start(st, key, &p)) != ERR_OK)
		return rc;
	if ((rc = storage_put_write(p, buf, len)) != ERR_OK) {
		storage_put_abort(p);
		return rc;
	}
	return storage_put_end(p);
}

int
storage_get(struct storage *st, const char *key, size_t maxlen,
    uint8_t **buf, size_t *len)
{
	return st->ops->get(st, key, maxlen, buf, len);
}

int
storage_get_range(struct storage *st, const char *key, uint64_t off,
    size_t len, uint8_t *buf)
{
	return st->ops->get_range(st, key, off, len, buf);
}

int
storage_stat(struct storage *st, const char *key, uint64_t *size)
{
	return st->ops->stat(st, key, size);
}

int
storage_list(struct storage *st, const char *prefix,
    int (*cb)(void *, const char *, uint64_t), void *arg)
{
	return st->ops->list(st, prefix, cb, arg);
}

int
storage_delete(struct storage *st, const char *key)
{
	return st->ops->del(st, key);
}
