#ifndef BKP_FUZZ_H
#define BKP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/*
 * Helpers shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c; how to
 * run them: docs/FUZZING.md).  Nothing here touches the disk.
 */

/* LLVMFuzzerTestOneInput(data, size): the entry point each harness
 * defines; libFuzzer calls it once per input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * fuzz_memfd(data, size, path, pathlen): an anonymous in-memory file
 * (memfd) holding data, for parsers that take a path; its name for open()
 * ("/proc/self/fd/N") goes into path.  Returns the descriptor (close it
 * when done); aborts if it cannot be made, so a harness never runs on
 * nothing.
 */
int fuzz_memfd(const uint8_t *data, size_t size, char *path, size_t pathlen);

/* fuzz_cstr(data, size): a new malloc'ed NUL-terminated copy (aborts if
 * out of memory). */
char *fuzz_cstr(const uint8_t *data, size_t size);

/* fuzz_check(ok, what): abort with what on stderr if ok is 0 (an
 * invariant the harness checks beyond the sanitizers). */
void fuzz_check(int ok, const char *what);

#endif
