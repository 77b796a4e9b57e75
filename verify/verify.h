#ifndef BKP_VERIFY_H
#define BKP_VERIFY_H

#include <stdint.h>

struct repo;
struct repo_archive;

/*
 * verify_keyless(r, a, &detail): check that a's data and manifest objects
 * exist with the sizes and hashes its record states, and that
 * the data object's framing is well formed.  Needs no key.  ERR_OK, or
 * ERR_CORRUPT / ERR_NOTFOUND with a message naming the object at fault.
 */
int verify_keyless(struct repo *r, const struct repo_archive *a,
    uint64_t *bytes_read);

#endif
