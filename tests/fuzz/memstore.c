/* In-memory storage backend for the fuzz harnesses (memstore.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "memstore.h"
#include "storage_impl.h"

struct mobj {
	char *key;
	uint8_t *buf;
	size_t len;
};

struct memstore {
	struct storage base;
	struct mobj *o;
	size_t n;
};

struct memput {
	struct storage_put base;
	char *key;
	uint8_t *buf;
	size_t len, cap;
};

static struct mobj *
find(struct memstore *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->o[i].key, key) == 0)
			return &m->o[i];
	return NULL;
}

/* Take ownership of buf (malloc'ed, len bytes) as object key. */
static int
take(struct memstore *m, const char *key, uint8_t *buf, size_t len)
{
	struct mobj *o, *no;

	if ((o = find(m, key)) == NULL) {
		if ((no = realloc(m->o, (m->n + 1) * sizeof(*no))) == NULL)
			return -1;
		m->o = no;
		o = &m->o[m->n];
		if ((o->key = strdup(key)) == NULL)
			return -1;
		m->n++;
	} else
		free(o->buf);
	o->buf = buf;
	o->len = len;
	return 0;
}

int
memstore_put(struct storage *st, const char *key, const void *buf,
    size_t len)
{
	uint8_t *copy;

	if ((copy = malloc(len ? len : 1)) == NULL)
		return -1;
	memcpy(copy, buf, len);
	if (take((struct memstore *)st, key, copy, len) != 0) {
		free(copy);
		return -1;
	}
	return 0;
}

static int
m_put_start(struct storage *st, const char *key, struct storage_put **out)
{
	struct memput *p;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->key = strdup(key)) == NULL) {
		free(p);
		err_set("out of memory");
		return ERR_FAIL;
	}
	p->base.st = st;
	*out = &p->base;
	return ERR_OK;
}

static int
m_put_write(struct storage_put *sp, const void *buf, size_t len)
{
	struct memput *p = (struct memput *)sp;
	uint8_t *nb;
	size_t cap;

	if (len > p->cap - p->len) {
		for (cap = p->cap ? p->cap : 4096; cap - p->len < len; cap *= 2)
			;
		if ((nb = realloc(p->buf, cap)) == NULL) {
			err_set("out of memory");
			return ERR_FAIL;
		}
		p->buf = nb;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, buf, len);
	p->len += len;
	return ERR_OK;
}

static void
m_put_abort(struct storage_put *sp)
{
	struct memput *p = (struct memput *)sp;

	free(p->buf);
	free(p->key);
	free(p);
}

static int
m_put_end(struct storage_put *sp)
{
	struct memput *p = (struct memput *)sp;

	if (p->buf == NULL && (p->buf = malloc(1)) == NULL) {
		m_put_abort(sp);
		err_set("out of memory");
		return ERR_FAIL;
	}
	if (take((struct memstore *)p->base.st, p->key, p->buf, p->len) != 0) {
		m_put_abort(sp);
		err_set("out of memory");
		return ERR_FAIL;
	}
	p->buf = NULL;
	m_put_abort(sp);
	return ERR_OK;
}

static int
m_get(struct storage *st, const char *key, size_t maxlen, uint8_t **out,
    size_t *len)
{
	struct mobj *o = find((struct memstore *)st, key);

	if (o == NULL) {
		err_set("'%s' not found", key);
		return ERR_NOTFOUND;
	}
	if (o->len > maxlen) {
		err_set("'%s' is too large", key);
		return ERR_CORRUPT;
	}
	if ((*out = malloc(o->len + 1)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	memcpy(*out, o->buf, o->len);
	(*out)[o->len] = '\0';
	*len = o->len;
	return ERR_OK;
}

static int
m_get_range(struct storage *st, const char *key, uint64_t off, size_t len,
    uint8_t *buf)
{
	struct mobj *o = find((struct memstore *)st, key);

	if (o == NULL) {
		err_set("'%s' not found", key);
		return ERR_NOTFOUND;
	}
	if (off > o->len || len > o->len - off) {
		err_set("'%s' is truncated", key);
		return ERR_CORRUPT;
	}
	memcpy(buf, o->buf + off, len);
	return ERR_OK;
}

static int
m_stat(struct storage *st, const char *key, uint64_t *size)
{
	struct mobj *o = find((struct memstore *)st, key);

	if (o == NULL) {
		err_set("'%s' not found", key);
		return ERR_NOTFOUND;
	}
	*size = o->len;
	return ERR_OK;
}

static int
m_list(struct storage *st, const char *prefix,
    int (*cb)(void *, const char *, uint64_t), void *arg)
{
	struct memstore *m = (struct memstore *)st;
	size_t i;
	int rc;

	for (i = 0; i < m->n; i++)
		if (strncmp(m->o[i].key, prefix, strlen(prefix)) == 0 &&
		    (rc = cb(arg, m->o[i].key, m->o[i].len)) != 0)
			return rc;
	return ERR_OK;
}

static int
m_del(struct storage *st, const char *key)
{
	struct memstore *m = (struct memstore *)st;
	struct mobj *o = find(m, key);

	if (o == NULL)
		return ERR_NOTFOUND;
	free(o->key);
	free(o->buf);
	*o = m->o[--m->n];
	return ERR_OK;
}

static void
m_free(struct storage *st)
{
	struct memstore *m = (struct memstore *)st;
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->o[i].key);
		free(m->o[i].buf);
	}
	free(m->o);
	free(m);
}

static const struct storage_ops memstore_ops = {
	m_put_start, m_put_write, m_put_end, m_put_abort, m_get, m_get_range,
	m_stat, m_list, m_del, m_free
};

struct storage *
memstore_new(void)
{
	struct memstore *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->base.ops = &memstore_ops;
	return &m->base;
}
