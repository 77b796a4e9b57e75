#ifndef BKP_UTIL_H
#define BKP_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Small helpers with no better home.  All return 0 on success, -1 on error
 * unless stated. */

/* util_now_us(): wall-clock UTC microseconds since the epoch. */
int64_t util_now_us(void);

/* util_mono(): monotonic seconds, for durations. */
double util_mono(void);

/* util_iso8601(us, buf, len): "2026-11-25T18:00:00.123456Z". */
void util_iso8601(int64_t us, char *buf, size_t len);

/* util_parse_time(s, &us): parse ISO 8601 UTC ("2026-11-25",
 * "2026-11-25T18:00:00Z", with optional fraction). */
int util_parse_time(const char *s, int64_t *us);

/* util_hex(bin, n, out): lowercase hex; out holds 2n+1. */
void util_hex(const uint8_t *bin, size_t n, char *out);

/* util_unhex(hex, bin, n): exactly 2n lowercase/uppercase hex chars. */
int util_unhex(const char *hex, uint8_t *bin, size_t n);

/* util_b64(bin, n): new malloc'ed base64 (standard, padded). */
char *util_b64(const uint8_t *bin, size_t n);

/* util_unb64(s, bin, n): decode exactly n bytes. */
int util_unb64(const char *s, uint8_t *bin, size_t n);

/* util_unb64_alloc(s, maxlen, &bin, &n): decode up to maxlen bytes into a
 * new malloc'ed buffer. */
int util_unb64_alloc(const char *s, size_t maxlen, uint8_t **bin, size_t *n);

/* util_utf8_valid(s, n): 1 if s[0..n) is valid UTF-8 without NUL. */
int util_utf8_valid(const char *s, size_t n);

/* util_human(bytes, buf, len): "1.5 GiB". */
void util_human(uint64_t bytes, char *buf, size_t len);

/* util_duration(secs, buf, len): "1h02m", "3.2s". */
void util_duration(double secs, char *buf, size_t len);

/* util_ncpu(): online CPUs (at least 1). */
int util_ncpu(void);

/* util_state_dir(buf, len): BKP_STATE_DIR, $XDG_STATE_HOME/bkp or
 * ~/.local/state/bkp, created (0700) if missing. */
int util_state_dir(char *buf, size_t len);

/* util_mkdirs(path, mode): mkdir -p. */
int util_mkdirs(const char *path, unsigned mode);

/*
 * util_write_full(fd, buf, len): write all len bytes (retrying EINTR and
 * short writes), in write(2) calls of at most UTIL_WRITE_PIECE bytes;
 * -1 with errno set on error.  Linux file systems with large folios
 * (ext4, xfs) size the page cache folios of a buffered write by its
 * length, and copying into the 2 MiB folios of writes of 2 MiB and more
 * measured 2 to 3 times slower here than into those of 256 KiB writes
 * (a VM that hands free memory back to its host; docs/BENCH.md).
 */
#define UTIL_WRITE_PIECE ((size_t)256 << 10)
int util_write_full(int fd, const void *buf, size_t len);

/* util_write_atomic(path, buf, len, mode): write through a temporary in the
 * same directory and rename into place. */
int util_write_atomic(const char *path, const void *buf, size_t len,
    unsigned mode);

/*
 * util_escape(s, n, out): s[0..n) made safe to show on a terminal, into
 * out (at least 4n + 1 bytes), NUL-terminated; returns its length.  Bytes
 * 0x00-0x1f and 0x7f become \a \b \t \n \v \f \r or octal \ooo (as
 * ls -b and git quote names), a backslash \\, and so do, byte by byte,
 * bytes that are not UTF-8, the C1 controls (U+0080-U+009F, which some
 * terminals obey) and the bidirectional formatting characters.  Other
 * UTF-8 passes unchanged.
 */
size_t util_escape(const char *s, size_t n, char *out);

#endif
