#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "util.h"

int64_t
util_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double
util_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
util_iso8601(int64_t us, char *buf, size_t len)
{
	int64_t secs = us / 1000000, rem = us % 1000000;
	struct tm tm;
	char base[32];
	time_t t;

	if (rem < 0) {    /* floor, for times before 1970 */
		rem += 1000000;
		secs--;
	}
	t = (time_t)secs;
	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06dZ", base, (int)rem);
}

/* Exactly n decimal digits at s. */
static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int
util_parse_time(const char *s, int64_t *us)
{
	struct tm tm, back;
	const char *p = s;
	long frac = 0;
	int y, mo, d, h = 0, mi = 0, sec = 0, nd = 0;
	time_t t;

	if (digits(p, 4, &y) || p[4] != '-' || digits(p + 5, 2, &mo) ||
	    p[7] != '-' || digits(p + 8, 2, &d))
		return -1;
	p += 10;
	if (*p == 'T' || *p == ' ') {
		if (digits(p + 1, 2, &h) || p[3] != ':' ||
		    digits(p + 4, 2, &mi) || p[6] != ':' ||
		    digits(p + 7, 2, &sec))
			return -1;
		p += 9;
		if (*p == '.') {
			for (p++; *p >= '0' && *p <= '9'; p++, nd++)
				if (nd < 6)
					frac = frac * 10 + (*p - '0');
			if (nd == 0)
				return -1;
			for (; nd < 6; nd++)
				frac *= 10;
		}
		if (*p == 'Z')
			p++;
	}
	if (*p != '\0')
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm normalises (Feb 30 -> Mar 2): refuse what it changed. */
	if (gmtime_r(&t, &back) == NULL || back.tm_year != y - 1900 ||
	    back.tm_mon != mo - 1 || back.tm_mday != d || back.tm_hour != h ||
	    back.tm_min != mi || back.tm_sec != sec)
		return -1;
	*us = (int64_t)t * 1000000 + frac;
	return 0;
}

void
util_hex(const uint8_t *bin, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, bin, n);
}

int
util_unhex(const char *hex, uint8_t *bin, size_t n)
{
	size_t got;
	const char *end;

	if (strlen(hex) != 2 * n)
		return -1;
	if (sodium_hex2bin(bin, n, hex, 2 * n, NULL, &got, &end) != 0 ||
	    got != n || *end != '\0')
		return -1;
	return 0;
}

char *
util_b64(const uint8_t *bin, size_t n)
{
	size_t len = sodium_base64_encoded_len(n,
	    sodium_base64_VARIANT_ORIGINAL);
	char *s;

	if ((s = malloc(len)) == NULL)
		return NULL;
	sodium_bin2base64(s, len, bin, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

int
util_unb64(const char *s, uint8_t *bin, size_t n)
{
	size_t got;
	const char *end;

	if (sodium_base642bin(bin, n, s, strlen(s), NULL, &got, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || got != n || *end != '\0')
		return -1;
	return 0;
}

int
util_unb64_alloc(const char *s, size_t maxlen, uint8_t **bin, size_t *n)
{
	size_t slen = strlen(s), cap = slen / 4 * 3 + 3;
	const char *end;
	uint8_t *b;

	if (cap > maxlen + 3)
		return -1;
	if ((b = malloc(cap + 1)) == NULL)
		return -1;
	if (sodium_base642bin(b, cap, s, slen, NULL, n, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || *end != '\0' ||
	    *n > maxlen) {
		free(b);
		return -1;
	}
	b[*n] = '\0';
	*bin = b;
	return 0;
}

int
util_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, k, need;
	uint32_t cp;

	while (i < n) {
		if (s[i] == 0)
			return 0;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			need = 1;
			cp = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			need = 2;
			cp = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			need = 3;
			cp = s[i] & 0x07;
		} else
			return 0;
		if (i + need >= n)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) ||
		    (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

void
util_human(uint64_t bytes, char *buf, size_t len)
{
	const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
}

void
util_duration(double secs, char *buf, size_t len)
{
	long s;

	if (secs < 60) {
		snprintf(buf, len, "%.1fs", secs);
		return;
	}
	s = (long)(secs + 0.5);
	if (s < 3600)
		snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(buf, len, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
}

int
util_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (int)n;
}

int
util_mkdirs(const char *path, unsigned mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	char *p;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) != 0) {
		struct stat sb;

		if (errno != EEXIST || stat(buf, &sb) != 0 ||
		    !S_ISDIR(sb.st_mode))
			return -1;
	}
	return 0;
}

int
util_state_dir(char *buf, size_t len)
{
	const char *s, *home;
	int n;

	if ((s = getenv("BKP_STATE_DIR")) != NULL && *s != '\0')
		n = snprintf(buf, len, "%s", s);
	else if ((s = getenv("XDG_STATE_HOME")) != NULL && *s == '/')
		n = snprintf(buf, len, "%s/bkp", s);
	else if ((home = getenv("HOME")) != NULL && *home == '/')
		n = snprintf(buf, len, "%s/.local/state/bkp", home);
	else
		n = snprintf(buf, len, "/var/lib/bkp");
	if (n < 0 || (size_t)n >= len) {
		err_set("state directory path too long");
		return -1;
	}
	if (util_mkdirs(buf, 0700) != 0) {
		err_set("cannot create state directory '%s': %s", buf,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
util_write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	ssize_t w;

	while (len > 0) {
		w = write(fd, b, len < UTIL_WRITE_PIECE ? len : UTIL_WRITE_PIECE);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += w;
		len -= (size_t)w;
	}
	return 0;
}

int
util_write_atomic(const char *path, const void *buf, size_t len,
    unsigned mode)
{
	char tmp[PATH_MAX];
	uint32_t r = randombytes_random();
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%08x.tmp", path, r) >=
	    sizeof(tmp)) {
		err_set("path too long: '%s'", path);
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode)) < 0) {
		err_set("cannot create '%s': %s", tmp, strerror(errno));
		return -1;
	}
	if (util_write_full(fd, buf, len) != 0)
		goto fail;
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) != 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	err_set("cannot write '%s': %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

/* The length of the UTF-8 sequence at s[0..n) (shortest form, no
 * surrogates, at most U+10FFFF), or 0 if there is none; *cp its code
 * point. */
static size_t
utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	*cp = c;
	return len;
}

/* Code points a terminal acts on or that reorder what it shows: C1
 * controls and the bidirectional formatting characters. */
static int
cp_unsafe(uint32_t c)
{
	return (c >= 0x80 && c <= 0x9f) || c == 0x200e || c == 0x200f ||
	    (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

size_t
util_escape(const char *str, size_t n, char *out)
{
	static const char named[] = "\a\b\t\n\v\f\r", letter[] = "abtnvfr";
	const unsigned char *s = (const unsigned char *)str;
	const char *p;
	char *o = out;
	size_t i = 0, len, k;
	uint32_t cp;

	while (i < n) {
		len = utf8_seq(s + i, n - i, &cp);
		if (s[i] == '\\') {
			*o++ = '\\';
			*o++ = '\\';
		} else if (len == 1 && s[i] >= 0x20 && s[i] < 0x7f) {
			*o++ = (char)s[i];
		} else if (len > 1 && !cp_unsafe(cp)) {
			memcpy(o, s + i, len);
			o += len;
		} else {
			if (len == 0)
				len = 1;        /* not UTF-8: this byte alone */
			for (k = 0; k < len; k++) {
				*o++ = '\\';
				if (s[i + k] != 0 && (p = strchr(named,
				    s[i + k])) != NULL)
					*o++ = letter[p - named];
				else {
					*o++ = (char)('0' + (s[i + k] >> 6));
					*o++ = (char)('0' + ((s[i + k] >> 3) &
					    7));
					*o++ = (char)('0' + (s[i + k] & 7));
				}
			}
		}
		i += len > 0 ? len : 1;
	}
	*o = '\0';
	return (size_t)(o - out);
}
