/* A bounded set of paths with a mark each: see pathset.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pathset.h"

/* What one path costs: its bytes, the mark and NUL, a slot and the
 * allocator's overhead. */
#define COST(n) ((n) + 2 + 2 * sizeof(char *) + 16)

static uint64_t
fnv(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

void
pathset_init(struct pathset *s, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->max = max;
}

/* The slot of p[0..n), or of the empty slot where it would go. */
static size_t
slot(const struct pathset *s, const char *p, size_t n)
{
	size_t i, m = s->cap - 1;
	const char *q;

	for (i = fnv(p, n) & m; (q = s->slots[i]) != NULL; i = (i + 1) & m)
		if (strnlen(q + 1, n + 1) == n && memcmp(q + 1, p, n) == 0)
			return i;
	return i;
}

static int
grow(struct pathset *s)
{
	size_t cap = s->cap ? s->cap * 2 : 64, i, k;
	char **ns, **old = s->slots;

	if ((ns = calloc(cap, sizeof(*ns))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	s->slots = ns;
	for (i = 0; i < s->cap; i++) {
		if (old[i] == NULL)
			continue;
		for (k = fnv(old[i] + 1, strlen(old[i] + 1)) & (cap - 1);
		    ns[k] != NULL; k = (k + 1) & (cap - 1))
			;
		ns[k] = old[i];
	}
	s->cap = cap;
	free(old);
	return ERR_OK;
}

int
pathset_add(struct pathset *s, const char *p, size_t n)
{
	size_t i;
	char *q;

	if (pathset_has(s, p, n))
		return ERR_OK;
	if (s->bytes + COST(n) > s->max)
		return PATHSET_FULL;
	if ((s->n + 1) * 2 > s->cap && grow(s) != ERR_OK)
		return ERR_FAIL;
	if ((q = malloc(n + 2)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	q[0] = 0;
	memcpy(q + 1, p, n);
	q[n + 1] = '\0';
	i = slot(s, p, n);
	s->slots[i] = q;
	s->n++;
	s->bytes += COST(n);
	return ERR_OK;
}

int
pathset_has(const struct pathset *s, const char *p, size_t n)
{
	return s->cap > 0 && s->slots[slot(s, p, n)] != NULL;
}

int
pathset_mark(struct pathset *s, const char *p, size_t n)
{
	char *q;

	if (s->cap == 0 || (q = s->slots[slot(s, p, n)]) == NULL)
		return 0;
	q[0] = 1;
	return 1;
}

int
pathset_marked(const struct pathset *s, const char *p, size_t n)
{
	const char *q;

	return s->cap > 0 && (q = s->slots[slot(s, p, n)]) != NULL &&
	    q[0] == 1;
}

void
pathset_release(struct pathset *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		free(s->slots[i]);
	free(s->slots);
	pathset_init(s, s->max);
}
