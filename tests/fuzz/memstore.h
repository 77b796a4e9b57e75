#ifndef BKP_FUZZ_MEMSTORE_H
#define BKP_FUZZ_MEMSTORE_H

#include <stddef.h>

/*
 * An in-memory storage backend for the fuzz harnesses, so that the
 * readers that take a struct storage (manifest and object streams, drill
 * and verification records) run on fuzzed bytes without touching the disk.
 * Only for tests: no locking, linear lookups, every key a flat name.
 */

struct storage;

/* memstore_new(): an empty store, or NULL if out of memory.  Free with
 * storage_free(). */
struct storage *memstore_new(void);

/* memstore_put(st, key, buf, len): add or replace an object.  Returns 0, or
 * -1 if out of memory. */
int memstore_put(struct storage *st, const char *key, const void *buf,
    size_t len);

#endif
