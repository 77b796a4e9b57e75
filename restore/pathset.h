#ifndef BKP_PATHSET_H
#define BKP_PATHSET_H

#include <stddef.h>

/*
 * A set of paths (byte strings), each with a mark, bounded in bytes: a
 * restore keeps a few per-path facts (the symlinks it has not made yet,
 * the hard link targets it must have restored first) and must not grow
 * with the archive beyond a fixed budget.  Open addressing, FNV-1a.
 */
struct pathset {
	char **slots;       /* each: mark byte, then the path, NUL */
	size_t n, cap;      /* cap: 0 or a power of two */
	size_t bytes, max;  /* what it holds, and its budget */
};

#define PATHSET_FULL 1

/* pathset_init(s, max): an empty set that may hold max bytes. */
void pathset_init(struct pathset *s, size_t max);

/*
 * pathset_add(s, p, n): add p[0..n) (unmarked) if absent.  ERR_OK,
 * PATHSET_FULL if it would pass the budget (nothing added), or ERR_FAIL
 * (out of memory, error set).
 */
int pathset_add(struct pathset *s, const char *p, size_t n);

/* pathset_has(s, p, n): 1 if p[0..n) is in the set. */
int pathset_has(const struct pathset *s, const char *p, size_t n);

/* pathset_mark(s, p, n): mark p[0..n) if present; 1 if it is present. */
int pathset_mark(struct pathset *s, const char *p, size_t n);

/* pathset_marked(s, p, n): 1 if p[0..n) is present and marked. */
int pathset_marked(const struct pathset *s, const char *p, size_t n);

/* pathset_release(s): free everything; the set is empty again. */
void pathset_release(struct pathset *s);

#endif
