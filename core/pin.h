#ifndef BKP_PIN_H
#define BKP_PIN_H

#include <stdint.h>

/*
 * Recipient pinning.  A backup host encrypts to the recipients listed in
 * the repository's config, which anyone with write access to the storage
 * could replace.  So the first time a host uses a repository (or when it
 * creates it) it records the config's BLAKE2b-256 in its state directory
 * (STATE/pins/<repository id>), and every later backup refuses a config
 * that differs.  docs/FORMAT.md, "Recipient pinning".
 */

/*
 * pin_check(repo_id, hash, &created): compare hash with the pin for
 * repo_id, creating the pin if there is none (*created = 1).  ERR_CORRUPT
 * if it differs.
 */
int pin_check(const char *repo_id, const uint8_t hash[32], int *created);

#endif
