#ifndef BKP_TEST_SUPPORT_H
#define BKP_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Helpers shared by the unit tests (linked into every test binary):
 * a private scratch directory per test, paths inside it, and small file
 * helpers.  Failures abort the test through Criterion's asserts.
 */

/* support_tmpdir(tag): create /tmp/bkp-test-TAG-XXXXXX (mode 0700) and
 * return its path (static storage, valid until support_cleanup()). */
const char *support_tmpdir(const char *tag);

/* support_cleanup(): remove the scratch directory and everything in it. */
void support_cleanup(void);

/* support_path(name): "SCRATCH/name" in one of 8 rotating buffers. */
const char *support_path(const char *name);

/* support_rmtree(dir): remove dir recursively (no symlinks followed). */
void support_rmtree(const char *dir);

/* support_count_dir(dir): entries in dir other than . and .. (0 if it does
 * not exist). */
int support_count_dir(const char *dir);

/* support_count_entries(dir): as support_count_dir(), but the test fails if
 * dir cannot be opened. */
int support_count_entries(const char *dir);

/* support_write_file(path, buf, len): create or replace path with buf. */
void support_write_file(const char *path, const void *buf, size_t len);

/* support_read_file(path, &len): the whole file, malloc'ed (NUL-terminated
 * beyond len), or NULL if it cannot be read. */
uint8_t *support_read_file(const char *path, size_t *len);

#endif
