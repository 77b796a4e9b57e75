/*
 * Unit tests for the local-directory storage backend (core/storage.h):
 * put/get/get_range/stat/list/delete, write-once commits, aborted puts,
 * bounds (maxlen, ranges past the end), missing objects, hostile keys,
 * relative roots and file:// URLs.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "crypto.h"
#include "err.h"
#include "storage.h"
#include "support.h"

static const char *tmpdir;
static char root[128];
static struct storage *st;

static void
setup(void)
{
	cr_assert_eq(crypto_init(), 0);
	tmpdir = support_tmpdir("storage");
	snprintf(root, sizeof(root), "%s/repo", tmpdir);
	cr_assert_eq(storage_open(root, NULL, &st), ERR_OK);
}

static void
teardown(void)
{
	storage_free(st);
	st = NULL;
	support_cleanup();
}

TestSuite(storage_local, .init = setup, .fini = teardown);

static void
expect_content(const char *key, const void *want, size_t n)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	cr_assert_eq(storage_get(st, key, 1 << 20, &buf, &len), ERR_OK,
	    "get %s: %s", key, err_get());
	cr_expect_eq(len, n, "%s: %zu bytes, want %zu", key, len, n);
	if (len == n)
		cr_expect_arr_eq(buf, want, n);
	cr_expect_eq(buf[len], 0, "NUL terminator");
	free(buf);
}

Test(storage_local, put_get_stat)
{
	static const char *keys[] = { "config", "data/0123", "a/b/c/d" };
	uint64_t size;
	uint8_t big[10000];
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(storage_put_bytes(st, keys[i], big, 100 * i + 1),
		    ERR_OK, "%s", err_get());
		expect_content(keys[i], big, 100 * i + 1);
		cr_assert_eq(storage_stat(st, keys[i], &size), ERR_OK);
		cr_expect_eq(size, 100 * i + 1);
	}
	/* empty object */
	cr_assert_eq(storage_put_bytes(st, "empty", "", 0), ERR_OK);
	expect_content("empty", "", 0);
	cr_assert_eq(storage_stat(st, "empty", &size), ERR_OK);
	cr_expect_eq(size, 0);
	/* streamed put in pieces */
	{
		struct storage_put *p;

		cr_assert_eq(storage_put_start(st, "streamed", &p), ERR_OK);
		for (i = 0; i < 10; i++)
			cr_assert_eq(storage_put_write(p, big + 1000 * i,
			    1000), ERR_OK);
		/* not visible until committed */
		cr_expect_eq(storage_stat(st, "streamed", &size),
		    ERR_NOTFOUND);
		cr_assert_eq(storage_put_end(p), ERR_OK);
		expect_content("streamed", big, sizeof(big));
	}
	/* committed objects are read-only (0444), tmp/ is empty again */
	{
		struct stat sb;

		cr_assert_eq(stat(support_path("repo/streamed"), &sb), 0);
		cr_expect_eq(sb.st_mode & 0777, 0444);
		cr_expect_eq(support_count_dir(support_path("repo/tmp")), 0);
	}
	cr_expect(storage_is_local(st));
	cr_expect_str_eq(storage_url(st), root);
}

Test(storage_local, write_once)
{
	uint64_t size;

	cr_assert_eq(storage_put_bytes(st, "k", "first", 5), ERR_OK);
	cr_expect_eq(storage_put_bytes(st, "k", "second!", 7), ERR_EXISTS);
	expect_content("k", "first", 5);
	cr_assert_eq(storage_stat(st, "k", &size), ERR_OK);
	cr_expect_eq(size, 5);
	/* the failed put leaves no temporary behind */
	cr_expect_eq(support_count_dir(support_path("repo/tmp")), 0);
	/* also through the streaming interface */
	{
		struct storage_put *p;

		cr_assert_eq(storage_put_start(st, "k", &p), ERR_OK);
		cr_assert_eq(storage_put_write(p, "xx", 2), ERR_OK);
		cr_expect_eq(storage_put_end(p), ERR_EXISTS);
	}
	expect_content("k", "first", 5);
	cr_expect_eq(support_count_dir(support_path("repo/tmp")), 0);
}

Test(storage_local, put_abort_leaves_nothing)
{
	struct storage_put *p;
	uint64_t size;

	cr_assert_eq(storage_put_start(st, "data/aborted", &p), ERR_OK);
	cr_assert_eq(storage_put_write(p, "partial", 7), ERR_OK);
	cr_expect_eq(support_count_dir(support_path("repo/tmp")), 1);
	storage_put_abort(p);
	cr_expect_eq(storage_stat(st, "data/aborted", &size), ERR_NOTFOUND);
	cr_expect_eq(support_count_dir(support_path("repo/tmp")), 0);
	storage_put_abort(NULL);
	/* the key is still free */
	cr_expect_eq(storage_put_bytes(st, "data/aborted", "x", 1), ERR_OK);
}

Test(storage_local, get_bounds_and_missing)
{
	uint8_t *buf = NULL, r[8];
	size_t len;
	uint64_t size;

	cr_assert_eq(storage_put_bytes(st, "obj", "0123456789", 10), ERR_OK);
	cr_expect_eq(storage_get(st, "obj", 9, &buf, &len), ERR_CORRUPT);
	cr_expect_null(buf);
	cr_assert_eq(storage_get(st, "obj", 10, &buf, &len), ERR_OK);
	cr_expect_eq(len, 10);
	free(buf);
	buf = NULL;
	cr_expect_eq(storage_get(st, "nope", 100, &buf, &len), ERR_NOTFOUND);
	cr_expect_eq(storage_get(st, "dir/nope", 100, &buf, &len),
	    ERR_NOTFOUND);
	cr_expect_eq(storage_stat(st, "nope", &size), ERR_NOTFOUND);
	cr_expect_eq(storage_get_range(st, "nope", 0, 1, r), ERR_NOTFOUND);
	cr_expect_null(buf);
}

Test(storage_local, get_range_table)
{
	static const struct {
		uint64_t off;
		size_t len;
		int rc;
	} v[] = {
		{ 0, 10, ERR_OK }, { 0, 1, ERR_OK }, { 3, 4, ERR_OK },
		{ 9, 1, ERR_OK }, { 10, 0, ERR_OK }, { 0, 0, ERR_OK },
		{ 9, 2, ERR_CORRUPT }, { 0, 11, ERR_CORRUPT },
		{ 10, 1, ERR_CORRUPT }, { 100, 1, ERR_CORRUPT },
		{ 1ull << 40, 4, ERR_CORRUPT },
	};
	uint8_t buf[16];
	size_t i;

	cr_assert_eq(storage_put_bytes(st, "obj", "0123456789", 10), ERR_OK);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(buf, 'z', sizeof(buf));
		cr_expect_eq(storage_get_range(st, "obj", v[i].off, v[i].len,
		    buf), v[i].rc, "range %llu+%zu",
		    (unsigned long long)v[i].off, v[i].len);
		if (v[i].rc == ERR_OK)
			cr_expect_arr_eq(buf, "0123456789" + v[i].off,
			    v[i].len);
	}
}

struct seen {
	char keys[32][64];
	uint64_t sizes[32];
	int n;
	int stop_at;
};

static int
list_cb(void *arg, const char *key, uint64_t size)
{
	struct seen *s = arg;

	if (s->n >= 32)
		return -99;
	snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
	s->sizes[s->n++] = size;
	if (s->stop_at > 0 && s->n == s->stop_at)
		return 42;
	return 0;
}

Test(storage_local, list_order_prefix_tmp)
{
	static const char *put[] = {
		"b", "a/z", "a-b", "a.b", "a/b", "archives/x.json",
		"archives/y.json", "data/1", "data/0", "config", "ab",
	};
	static const struct {
		const char *prefix;
		const char *want[12];
	} v[] = {
		{ "", { "a-b", "a.b", "a/b", "a/z", "ab", "archives/x.json",
		    "archives/y.json", "b", "config", "data/0", "data/1" } },
		{ "a/", { "a/b", "a/z" } },
		{ "a", { "a-b", "a.b", "a/b", "a/z", "ab", "archives/x.json",
		    "archives/y.json" } },
		{ "archives/", { "archives/x.json", "archives/y.json" } },
		{ "archives/y", { "archives/y.json" } },
		{ "data", { "data/0", "data/1" } },
		{ "nothing", { NULL } },
		{ "tmp", { NULL } },
		{ "tmp/", { NULL } },
	};
	struct storage_put *p;
	struct seen s;
	size_t i, k;

	for (i = 0; i < sizeof(put) / sizeof(put[0]); i++)
		cr_assert_eq(storage_put_bytes(st, put[i], put[i],
		    strlen(put[i])), ERR_OK, "%s", put[i]);
	/* an in-flight put and a stray file under tmp/ are not listed */
	cr_assert_eq(storage_put_start(st, "inflight", &p), ERR_OK);
	support_write_file(support_path("repo/tmp/stray.part"), "", 0);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(&s, 0, sizeof(s));
		cr_assert_eq(storage_list(st, v[i].prefix, list_cb, &s),
		    ERR_OK);
		for (k = 0; v[i].want[k] != NULL; k++) {
			cr_assert_lt((int)k, s.n, "prefix '%s': missing %s",
			    v[i].prefix, v[i].want[k]);
			cr_expect_str_eq(s.keys[k], v[i].want[k],
			    "prefix '%s' item %zu", v[i].prefix, k);
			cr_expect_eq(s.sizes[k], strlen(v[i].want[k]));
		}
		cr_expect_eq(s.n, (int)k, "prefix '%s': %d keys, want %zu",
		    v[i].prefix, s.n, k);
	}
	/* a non-zero callback return stops the walk and is returned */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	cr_expect_eq(storage_list(st, "", list_cb, &s), 42);
	cr_expect_eq(s.n, 2);
	storage_put_abort(p);
}

Test(storage_local, list_empty_or_missing_root)
{
	struct storage *st2;
	struct seen s;
	char missing[256];

	memset(&s, 0, sizeof(s));
	cr_expect_eq(storage_list(st, "", list_cb, &s), ERR_OK);
	cr_expect_eq(s.n, 0);
	snprintf(missing, sizeof(missing), "%s/does/not/exist", tmpdir);
	cr_assert_eq(storage_open(missing, NULL, &st2), ERR_OK);
	cr_expect_eq(storage_list(st2, "", list_cb, &s), ERR_OK);
	cr_expect_eq(s.n, 0);
	storage_free(st2);
}

Test(storage_local, delete)
{
	uint64_t size;

	cr_assert_eq(storage_put_bytes(st, "locks/x", "1", 1), ERR_OK);
	cr_expect_eq(storage_delete(st, "locks/x"), ERR_OK);
	cr_expect_eq(storage_stat(st, "locks/x", &size), ERR_NOTFOUND);
	/* deleting a missing object is not an error */
	cr_expect_eq(storage_delete(st, "locks/x"), ERR_OK);
	/* and the key can be written again */
	cr_expect_eq(storage_put_bytes(st, "locks/x", "2", 1), ERR_OK);
	expect_content("locks/x", "2", 1);
	cr_expect_neq(storage_delete(st, "../outside"), ERR_OK);
}

Test(storage_local, hostile_keys_rejected)
{
	static const char *bad[] = {
		"", "/etc/passwd", "/x", "..", "../x", "a/../b", "a/..",
		"./x", "a/./b", ".", "a//b", "//x",
	};
	char outside[256];
	struct storage_put *p;
	uint8_t *buf = NULL, r[4];
	size_t i, len;
	uint64_t size;
	FILE *f;

	/* a file next to the root that "../" keys would reach */
	snprintf(outside, sizeof(outside), "%s/x", tmpdir);
	support_write_file(outside, "secret", 6);
	cr_assert_eq(storage_put_bytes(st, "b", "b", 1), ERR_OK);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = NULL;
		cr_expect_lt(storage_put_start(st, bad[i], &p), 0, "put '%s'",
		    bad[i]);
		if (p != NULL)
			storage_put_abort(p);
		cr_expect_lt(storage_put_bytes(st, bad[i], "x", 1), 0,
		    "put_bytes '%s'", bad[i]);
		cr_expect_lt(storage_get(st, bad[i], 100, &buf, &len), 0,
		    "get '%s'", bad[i]);
		cr_expect_lt(storage_get_range(st, bad[i], 0, 1, r), 0,
		    "get_range '%s'", bad[i]);
		cr_expect_lt(storage_stat(st, bad[i], &size), 0, "stat '%s'",
		    bad[i]);
		cr_expect_lt(storage_delete(st, bad[i]), 0, "delete '%s'",
		    bad[i]);
	}
	/* nothing outside was touched */
	f = fopen(outside, "r");
	cr_assert_not_null(f, "the file outside the root was removed");
	fclose(f);
}

Test(storage_local, relative_root_and_file_url)
{
	char cwd[512], url[512];
	struct storage *rel, *fu;

	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir(tmpdir), 0);
	cr_assert_eq(storage_open("repo", NULL, &rel), ERR_OK);
	cr_assert_eq(storage_put_bytes(rel, "rel/obj", "hello", 5), ERR_OK);
	/* the root was resolved at open: still right after a chdir */
	cr_assert_eq(chdir("/"), 0);
	cr_assert_eq(storage_put_bytes(rel, "rel/obj2", "world", 5), ERR_OK);
	cr_assert_eq(chdir(cwd), 0);
	expect_content("rel/obj", "hello", 5);
	expect_content("rel/obj2", "world", 5);
	storage_free(rel);
	/* file:// URLs name the same directory; trailing slashes ignored */
	snprintf(url, sizeof(url), "file://%s///", root);
	cr_assert_eq(storage_open(url, NULL, &fu), ERR_OK);
	{
		uint8_t *buf;
		size_t len;

		cr_assert_eq(storage_get(fu, "rel/obj", 100, &buf, &len),
		    ERR_OK);
		cr_expect_eq(len, 5);
		free(buf);
	}
	storage_free(fu);
}

Test(storage_local, open_rejects_bad_urls)
{
	struct storage *x = NULL;

	cr_expect_eq(storage_open("", NULL, &x), ERR_USAGE);
	cr_expect_eq(storage_open(NULL, NULL, &x), ERR_USAGE);
	cr_expect_eq(storage_open("ftp://host/x", NULL, &x), ERR_USAGE);
	cr_expect_null(x);
	storage_free(NULL);
}

Test(storage_local, symlinked_object_not_followed)
{
	char outside[256];
	uint8_t *buf = NULL;
	size_t len;

	snprintf(outside, sizeof(outside), "%s/secret", tmpdir);
	support_write_file(outside, "secret", 6);
	cr_assert_eq(storage_put_bytes(st, "x", "x", 1), ERR_OK);
	cr_assert_eq(symlink(outside, support_path("repo/link")), 0);
	cr_expect_lt(storage_get(st, "link", 100, &buf, &len), 0);
	cr_expect_null(buf);
}

Test(storage_local, trailing_slash_key_rejected)
{
	uint64_t size;
	uint8_t *buf = NULL;
	size_t len;

	cr_expect_lt(storage_put_bytes(st, "a/", "x", 1), 0);
	cr_expect_lt(storage_stat(st, "a/", &size), 0);
	cr_expect_neq(storage_stat(st, "a/", &size), ERR_NOTFOUND);
	cr_expect_neq(storage_get(st, "a/", 10, &buf, &len), ERR_NOTFOUND);
}
