#ifndef BKP_PIN_H
#define BKP_PIN_H

#include <stdint.h>

/*
 * Recipient pinning.  A backup host encrypts to the recipients listed in
 * the repository's config, which anyone with write access to the storage
 * could replace.  So the first time a host uses a repository (or when it
 * creates it) it records the repository id and the config's BLAKE2b-256 in
 * its state directory, under a name derived from the repository's location
 * (STATE/pins/<BLAKE2b-128 of the URL>), and every later backup to that
 * location refuses a config that differs, including a whole other
 * repository put in its place.  docs/FORMAT.md, "Recipient pinning".
 */

/*
 * pin_check(url, repo_id, hash, replace, &created): compare (repo_id, hash)
 * with the pin for url, creating it if there is none (*created = 1), or
 * replacing it if replace is set (init: this host made the repository).
 * ERR_CORRUPT if it differs.
 */
int pin_check(const char *url, const char *repo_id, const uint8_t hash[32],
    int replace, int *created);

#endif
