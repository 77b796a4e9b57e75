/*
 * Unit tests for core/util.c: hex and base64 coding (exact lengths), UTF-8
 * validation, ISO 8601 formatting and parsing, human sizes and durations,
 * mkdirs, atomic writes and writes in pieces.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "crypto.h"
#include "support.h"
#include "util.h"

static const char *tmpdir;

static void
setup(void)
{
	cr_assert_eq(crypto_init(), 0);
	tmpdir = support_tmpdir("util");
}

static void
teardown(void)
{
	support_cleanup();
}

TestSuite(util, .init = setup, .fini = teardown);

Test(util, hex_roundtrip)
{
	const uint8_t bin[] = { 0x00, 0x01, 0xab, 0xcd, 0xef, 0xff, 0x7f };
	uint8_t back[sizeof(bin)];
	char hex[2 * sizeof(bin) + 1];

	util_hex(bin, sizeof(bin), hex);
	cr_assert_str_eq(hex, "0001abcdefff7f");
	cr_assert_eq(util_unhex(hex, back, sizeof(back)), 0);
	cr_assert_arr_eq(back, bin, sizeof(bin));
	cr_assert_eq(util_unhex("0001ABCDEFFF7F", back, sizeof(back)), 0);
	cr_assert_arr_eq(back, bin, sizeof(bin));
	util_hex(bin, 0, hex);
	cr_assert_str_eq(hex, "");
}

Test(util, unhex_rejects)
{
	static const struct {
		const char *in;
		size_t n;
	} bad[] = {
		{ "abc", 2 },       /* odd, too short */
		{ "abcd", 1 },      /* too long */
		{ "abcd", 3 },      /* too short */
		{ "abcg", 2 },      /* not hex */
		{ "ab d", 2 },      /* space */
		{ "ab:d", 2 },
		{ "", 1 },
		{ "0x12", 2 },
	};
	uint8_t out[8];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(util_unhex(bad[i].in, out, bad[i].n), -1,
		    "unhex('%s', %zu) accepted", bad[i].in, bad[i].n);
}

Test(util, b64_rfc4648_vectors)
{
	static const struct {
		const char *bin, *b64;
	} v[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	uint8_t back[16];
	uint8_t *ab;
	size_t i, n, an;
	char *s;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = strlen(v[i].bin);
		s = util_b64((const uint8_t *)v[i].bin, n);
		cr_assert_not_null(s);
		cr_expect_str_eq(s, v[i].b64);
		free(s);
		memset(back, 0xaa, sizeof(back));
		cr_expect_eq(util_unb64(v[i].b64, back, n), 0, "%s", v[i].b64);
		cr_expect_arr_eq(back, v[i].bin, n);
		cr_assert_eq(util_unb64_alloc(v[i].b64, 16, &ab, &an), 0);
		cr_expect_eq(an, n);
		cr_expect_arr_eq(ab, v[i].bin, n);
		cr_expect_eq(ab[an], 0);
		free(ab);
	}
}

Test(util, unb64_exact_length_and_hostile)
{
	static const struct {
		const char *in;
		size_t n;
	} bad[] = {
		{ "Zm9v", 2 },      /* encodes 3 bytes, asked for 2 */
		{ "Zm9v", 4 },      /* encodes 3 bytes, asked for 4 */
		{ "Zg", 1 },        /* padding missing */
		{ "Zg=", 1 },       /* padding short */
		{ "Zm9*", 3 },      /* bad alphabet */
		{ "Zm9-", 3 },      /* URL-safe alphabet */
		{ "Zm9v!", 3 },     /* trailing junk */
		{ "Zm9v Zm9v", 6 }, /* space */
		{ "Zm9vYmFy", 0 },
	};
	uint8_t out[16], *ab;
	size_t i, an;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(util_unb64(bad[i].in, out, bad[i].n), -1,
		    "unb64('%s', %zu) accepted", bad[i].in, bad[i].n);
	/* alloc variant: maxlen is a hard cap */
	cr_expect_eq(util_unb64_alloc("Zm9vYmFy", 6, &ab, &an), 0);
	free(ab);
	cr_expect_eq(util_unb64_alloc("Zm9vYmFy", 5, &ab, &an), -1);
	cr_expect_eq(util_unb64_alloc("Zm9v!", 16, &ab, &an), -1);
}

Test(util, utf8_table)
{
	static const struct {
		const char *s;
		size_t n;
		int ok;
		const char *what;
	} v[] = {
		{ "", 0, 1, "empty" },
		{ "plain ascii/path.txt", 20, 1, "ascii" },
		{ "\xc3\xa9t\xc3\xa9", 5, 1, "e-acute" },
		{ "\xe2\x82\xac", 3, 1, "euro" },
		{ "\xf0\x9f\x98\x80", 4, 1, "emoji" },
		{ "\xf4\x8f\xbf\xbf", 4, 1, "U+10FFFF" },
		{ "\xed\x9f\xbf", 3, 1, "U+D7FF" },
		{ "\xee\x80\x80", 3, 1, "U+E000" },
		{ "\xc2\x80", 2, 1, "U+0080" },
		{ "\xe0\xa0\x80", 3, 1, "U+0800" },
		{ "\xf0\x90\x80\x80", 4, 1, "U+10000" },
		{ "a\0b", 3, 0, "NUL" },
		{ "\xff", 1, 0, "0xff" },
		{ "\xfe", 1, 0, "0xfe" },
		{ "\x80", 1, 0, "lone continuation" },
		{ "\xc0\xaf", 2, 0, "overlong /" },
		{ "\xc1\xbf", 2, 0, "overlong 2-byte" },
		{ "\xe0\x80\xaf", 3, 0, "overlong 3-byte" },
		{ "\xe0\x9f\xbf", 3, 0, "overlong 3-byte max" },
		{ "\xf0\x80\x80\xaf", 4, 0, "overlong 4-byte" },
		{ "\xf0\x8f\xbf\xbf", 4, 0, "overlong 4-byte max" },
		{ "\xc0\x80", 2, 0, "overlong NUL" },
		{ "\xed\xa0\x80", 3, 0, "surrogate D800" },
		{ "\xed\xbf\xbf", 3, 0, "surrogate DFFF" },
		{ "\xf4\x90\x80\x80", 4, 0, "U+110000" },
		{ "\xf5\x80\x80\x80", 4, 0, "lead f5" },
		{ "\xf8\x88\x80\x80\x80", 5, 0, "5-byte form" },
		{ "\xc3", 1, 0, "truncated 2-byte" },
		{ "\xe2\x82", 2, 0, "truncated 3-byte" },
		{ "\xf0\x9f\x98", 3, 0, "truncated 4-byte" },
		{ "a\xc3", 2, 0, "truncated at end" },
		{ "\xc3(", 2, 0, "bad continuation" },
		{ "\xe2\x28\xa1", 3, 0, "bad continuation 3-byte" },
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		cr_expect_eq(util_utf8_valid(v[i].s, v[i].n), v[i].ok, "%s",
		    v[i].what);
	/* n bounds the scan: a valid prefix of an invalid buffer is valid */
	cr_expect_eq(util_utf8_valid("ab\xff", 2), 1);
}

Test(util, iso8601_known_values)
{
	char buf[40];

	util_iso8601(0, buf, sizeof(buf));
	cr_expect_str_eq(buf, "1970-01-01T00:00:00.000000Z");
	util_iso8601(1795629600123456LL, buf, sizeof(buf));
	cr_expect_str_eq(buf, "2026-11-25T18:00:00.123456Z");
	util_iso8601(951782400000001LL, buf, sizeof(buf));
	cr_expect_str_eq(buf, "2000-02-29T00:00:00.000001Z");
}

Test(util, parse_time_table)
{
	static const struct {
		const char *s;
		int ok;
		int64_t us;
	} v[] = {
		{ "2026-11-25", 0, 1795564800000000LL },
		{ "2026-11-25T18:00:00Z", 0, 1795629600000000LL },
		{ "2026-11-25T18:00:00", 0, 1795629600000000LL },
		{ "2026-11-25 18:00:00Z", 0, 1795629600000000LL },
		{ "2026-11-25T18:00:00.5Z", 0, 1795629600500000LL },
		{ "2026-11-25T18:00:00.123456Z", 0, 1795629600123456LL },
		{ "2026-11-25T18:00:00.1234567Z", 0, 1795629600123456LL },
		{ "1970-01-01T00:00:00Z", 0, 0 },
		{ "2000-02-29T23:59:59Z", 0, 951868799000000LL },
		{ "", -1, 0 },
		{ "yesterday", -1, 0 },
		{ "2026-13-01", -1, 0 },
		{ "2026-11-25T25:00:00Z", -1, 0 },
		{ "2026-11-25T18:60:00Z", -1, 0 },
		{ "2026-11-25X", -1, 0 },
		{ "2026-11-25T", -1, 0 },
		{ "2026-11-25T18:00", -1, 0 },
		{ "2026-11-25T18:00:00+01:00", -1, 0 },
		{ "2026-11-25T18:00:00Zjunk", -1, 0 },
		{ "2026-11-25T18:00:00.5Zjunk", -1, 0 },
	};
	int64_t us;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		us = -42;
		cr_expect_eq(util_parse_time(v[i].s, &us), v[i].ok, "'%s'",
		    v[i].s);
		if (v[i].ok == 0)
			cr_expect_eq(us, v[i].us, "'%s': %lld != %lld", v[i].s,
			    (long long)us, (long long)v[i].us);
	}
}

Test(util, iso8601_parse_roundtrip)
{
	static const int64_t v[] = {
		0, 1, 999999, 1000000, 1795629600123456LL, 4102444799999999LL,
		951782400000001LL, 1700000000000000LL,
	};
	char buf[40];
	int64_t us;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		util_iso8601(v[i], buf, sizeof(buf));
		cr_assert_eq(util_parse_time(buf, &us), 0, "%s", buf);
		cr_expect_eq(us, v[i], "%s", buf);
	}
	/* now is representable too */
	us = util_now_us();
	util_iso8601(us, buf, sizeof(buf));
	{
		int64_t back;

		cr_assert_eq(util_parse_time(buf, &back), 0);
		cr_expect_eq(back, us);
	}
}

Test(util, human_table)
{
	static const struct {
		uint64_t b;
		const char *s;
	} v[] = {
		{ 0, "0 B" }, { 1, "1 B" }, { 1023, "1023 B" },
		{ 1024, "1.0 KiB" }, { 1536, "1.5 KiB" },
		{ 1048576, "1.0 MiB" }, { 1610612736ULL, "1.5 GiB" },
		{ 1099511627776ULL, "1.0 TiB" },
		{ 1125899906842624ULL, "1.0 PiB" },
		{ UINT64_MAX, "16384.0 PiB" },
	};
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		util_human(v[i].b, buf, sizeof(buf));
		cr_expect_str_eq(buf, v[i].s, "%llu",
		    (unsigned long long)v[i].b);
	}
	/* truncation into a short buffer stays NUL-terminated */
	util_human(1536, buf, 4);
	cr_expect_str_eq(buf, "1.5");
}

Test(util, duration_table)
{
	static const struct {
		double s;
		const char *out;
	} v[] = {
		{ 0, "0.0s" }, { 3.2, "3.2s" }, { 59.4, "59.4s" },
		{ 60, "1m00s" }, { 62, "1m02s" }, { 3599, "59m59s" },
		{ 3600, "1h00m" }, { 3720, "1h02m" }, { 86400, "24h00m" },
	};
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		util_duration(v[i].s, buf, sizeof(buf));
		cr_expect_str_eq(buf, v[i].out, "%g", v[i].s);
	}
}

Test(util, ncpu_and_clocks)
{
	double a, b;

	cr_expect_geq(util_ncpu(), 1);
	a = util_mono();
	usleep(2000);
	b = util_mono();
	cr_expect_gt(b, a);
	cr_expect_gt(util_now_us(), 1700000000000000LL);
}

Test(util, mkdirs)
{
	struct stat sb;

	cr_assert_eq(util_mkdirs(support_path("a/b/c"), 0700), 0);
	cr_assert_eq(stat(support_path("a/b/c"), &sb), 0);
	cr_expect(S_ISDIR(sb.st_mode));
	cr_expect_eq(sb.st_mode & 0777, 0700);
	/* existing: fine */
	cr_expect_eq(util_mkdirs(support_path("a/b/c"), 0700), 0);
	cr_expect_eq(util_mkdirs(support_path("a/b/d/"), 0700), 0);
	cr_expect_eq(stat(support_path("a/b/d"), &sb), 0);
	/* a regular file in the way */
	support_write_file(support_path("file"), "", 0);
	cr_expect_eq(util_mkdirs(support_path("file/sub"), 0700), -1);
	cr_expect_eq(util_mkdirs("", 0700), -1);
}

Test(util, write_atomic)
{
	static const struct {
		unsigned mode;
	} v[] = { { 0600 }, { 0644 }, { 0400 }, { 0640 } };
	char name[32], buf[64];
	struct stat sb;
	FILE *f;
	size_t i, n;

	umask(022);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(name, sizeof(name), "f%zu", i);
		cr_assert_eq(util_write_atomic(support_path(name), "hello", 5,
		    v[i].mode), 0);
		cr_assert_eq(stat(support_path(name), &sb), 0);
		cr_expect_eq(sb.st_mode & 0777, v[i].mode, "mode %o != %o",
		    sb.st_mode & 0777, v[i].mode);
		cr_expect_eq(sb.st_size, 5);
	}
	/* replacing an existing file */
	cr_assert_eq(util_write_atomic(support_path("f0"), "replaced!", 9,
	    0600), 0);
	f = fopen(support_path("f0"), "r");
	cr_assert_not_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	cr_expect_eq(n, 9);
	cr_expect_arr_eq(buf, "replaced!", 9);
	/* empty content */
	cr_assert_eq(util_write_atomic(support_path("empty"), "", 0, 0600), 0);
	cr_assert_eq(stat(support_path("empty"), &sb), 0);
	cr_expect_eq(sb.st_size, 0);
	/* no temporaries left: exactly the files written */
	cr_expect_eq(support_count_entries(tmpdir), 5);
	/* a missing directory fails and leaves nothing */
	cr_expect_eq(util_write_atomic(support_path("nodir/x"), "x", 1, 0600),
	    -1);
	cr_expect_eq(support_count_entries(tmpdir), 5);
}

Test(util, state_dir_from_env)
{
	char buf[512];
	struct stat sb;

	setenv("BKP_STATE_DIR", support_path("state/deep"), 1);
	cr_assert_eq(util_state_dir(buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, support_path("state/deep"));
	cr_assert_eq(stat(buf, &sb), 0);
	cr_expect(S_ISDIR(sb.st_mode));
	cr_expect_eq(util_state_dir(buf, 8), -1);
	unsetenv("BKP_STATE_DIR");
}

Test(util, parse_time_rejects_impossible_dates)
{
	static const char *bad[] = { "2026-02-30", "2026-04-31", "2026-1-5",
	    " 2026-11-25", "2026-11-25T18:00:00.Z" };
	int64_t us;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(util_parse_time(bad[i], &us), -1, "'%s' accepted",
		    bad[i]);
}

Test(util, iso8601_before_epoch)
{
	char buf[40];

	util_iso8601(-1, buf, sizeof(buf));
	cr_expect_str_eq(buf, "1969-12-31T23:59:59.999999Z");
	util_iso8601(-1500000, buf, sizeof(buf));
	cr_expect_str_eq(buf, "1969-12-31T23:59:58.500000Z");
}

Test(util, mkdirs_refuses_a_file_in_place)
{
	support_write_file(support_path("file"), "", 0);
	cr_expect_eq(util_mkdirs(support_path("file"), 0700), -1);
}

Test(util, write_full_in_pieces)
{
	size_t len = 3 * UTIL_WRITE_PIECE + 12345, n;
	uint8_t *buf = malloc(len), *back = malloc(len + 1);
	FILE *f;
	int fd;

	cr_assert(buf != NULL && back != NULL);
	randombytes_buf(buf, len);
	fd = open(support_path("full"), O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(util_write_full(fd, buf, len), 0);
	cr_assert_eq(util_write_full(fd, buf, 0), 0);
	cr_assert_eq(close(fd), 0);
	f = fopen(support_path("full"), "rb");
	cr_assert_not_null(f);
	n = fread(back, 1, len + 1, f);
	fclose(f);
	cr_expect_eq(n, len, "%zu bytes read back, %zu written", n, len);
	cr_expect(memcmp(back, buf, len) == 0, "content differs");
	/* errors come back with errno */
	errno = 0;
	cr_expect_eq(util_write_full(-1, buf, len), -1);
	cr_expect_eq(errno, EBADF);
	free(buf);
	free(back);
}

/* util_escape: what it leaves alone and what it quotes (issue 13 item 5:
 * names from an archive must not drive the terminal). */
static void
check_escape(const char *in, size_t n, const char *want)
{
	char out[256];
	size_t len = util_escape(in, n, out);

	cr_assert_str_eq(out, want, "escape of %zu bytes", n);
	cr_assert_eq(len, strlen(want));
}

Test(util, escape_table)
{
	check_escape("plain/path.txt", 14, "plain/path.txt");
	check_escape("\x1b[31mred", 8, "\\033[31mred");
	check_escape("a\ab\rc\nd\te", 9, "a\\ab\\rc\\nd\\te");
	check_escape("back\\slash", 10, "back\\\\slash");
	check_escape("del\x7f", 4, "del\\177");
	check_escape("nul\0x", 5, "nul\\000x");
	/* UTF-8 text passes; C1 controls (U+009B, CSI) and bidi overrides
	 * (U+202E) do not; bytes that are not UTF-8 are quoted one by one. */
	check_escape("\xc3\xa9t\xc3\xa9", 5, "\xc3\xa9t\xc3\xa9");
	check_escape("x\xc2\x9b" "2J", 5, "x\\302\\2332J");
	check_escape("\xe2\x80\xae" "txt", 6, "\\342\\200\\256txt");
	check_escape("bad\xff\xc3", 5, "bad\\377\\303");
	check_escape("\xed\xa0\x80", 3, "\\355\\240\\200");  /* surrogate */
	check_escape("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80");
}

Test(util, escape_worst_case_fits)
{
	char in[64], out[4 * sizeof(in) + 1];
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)(0x80 + i);
	cr_assert_leq(util_escape(in, sizeof(in), out), 4 * sizeof(in));
	cr_assert_eq(strchr(out, 0x1b), NULL);
}
