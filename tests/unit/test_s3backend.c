/*
 * The S3 backend (core/storage_s3.c).  The s3url suite checks its helpers
 * offline; the s3live suite runs it against s3rver behind the checking
 * proxy (tests/s3/serve.sh; each test starts its own on free 127.0.0.1
 * ports), which verifies every signature with botocore and every payload
 * digest, emulates what s3rver lacks, logs what it sees, and injects faults.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "storage.h"
#include "storage_s3.h"

/* ---- offline helpers ---- */

Test(s3url, loopback)
{
	cr_expect(storage_s3_is_loopback("127.0.0.1"));
	cr_expect(storage_s3_is_loopback("127.3.2.1"));
	cr_expect(storage_s3_is_loopback("::1"));
	cr_expect(storage_s3_is_loopback("localhost"));
	cr_expect(storage_s3_is_loopback("LocalHost"));
	cr_expect(storage_s3_is_loopback("minio.localhost"));
	cr_expect(!storage_s3_is_loopback("128.0.0.1"));
	cr_expect(!storage_s3_is_loopback("10.0.0.1"));
	cr_expect(!storage_s3_is_loopback("localhost.example.com"));
	cr_expect(!storage_s3_is_loopback("::2"));
	cr_expect(!storage_s3_is_loopback("example.com"));
}

Test(s3url, base_urls)
{
	static const struct {
		const char *ep, *bucket;
		int ps;
		const char *base, *host;
	} t[] = {
		{ "https://s3.eu-west-1.amazonaws.com", "bkt", 0,
		    "https://bkt.s3.eu-west-1.amazonaws.com",
		    "s3.eu-west-1.amazonaws.com" },
		{ "https://s3.eu-west-1.amazonaws.com/", "bkt", 1,
		    "https://s3.eu-west-1.amazonaws.com/bkt",
		    "s3.eu-west-1.amazonaws.com" },
		{ "https://s3.amazonaws.com", "my.bucket", 0,
		    "https://s3.amazonaws.com/my.bucket", "s3.amazonaws.com" },
		{ "http://127.0.0.1:9000", "bkt", 0,
		    "http://127.0.0.1:9000/bkt", "127.0.0.1" },
		{ "http://[::1]:9000/base/", "bkt", 1,
		    "http://[::1]:9000/base/bkt", "::1" },
		{ "http://localhost:9000", "bkt", 0,
		    "http://localhost:9000/bkt", "localhost" },
		{ "https://minio.example:9000", "bkt", 0,
		    "https://bkt.minio.example:9000", "minio.example" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *base, *host;
		cr_assert_eq(storage_s3_base_url(t[i].ep, t[i].bucket, t[i].ps,
		    &base, &host), ERR_OK, "%s: %s", t[i].ep, err_get());
		cr_expect_str_eq(base, t[i].base);
		cr_expect_str_eq(host, t[i].host);
		free(base);
		free(host);
	}
}

Test(s3url, refuses_plain_http_and_bad_endpoints)
{
	static const char *bad[] = {
		"http://s3.amazonaws.com", "http://10.1.2.3:9000",
		"http://128.0.0.1", "http://localhost.evil.com",
		"ftp://127.0.0.1", "s3.amazonaws.com",
		"https://user:pw@s3.amazonaws.com", "https://",
		"https://a b.com",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *base = NULL, *host = NULL;
		cr_expect_eq(storage_s3_base_url(bad[i], "bkt", 1, &base,
		    &host), ERR_USAGE, "accepted %s", bad[i]);
		cr_expect_null(base);
	}
	/* The message is clear and never echoes user information. */
	{
		char *b, *h;
		storage_s3_base_url("http://example.com", "bkt", 1, &b, &h);
		cr_expect(strstr(err_get(), "refusing plain http") != NULL,
		    "%s", err_get());
		storage_s3_base_url("https://user:hunter2@x.com", "bkt", 1, &b,
		    &h);
		cr_expect(strstr(err_get(), "hunter2") == NULL);
	}
}

Test(s3url, open_refuses_plain_http)
{
	struct storage_opts o = { .endpoint = "http://192.0.2.1:9000",
		.path_style = -1 };
	struct storage *st = NULL;

	setenv("AWS_ACCESS_KEY_ID", "AK", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secretvalue", 1);
	cr_expect_eq(storage_open("s3://bkt/p", &o, &st), ERR_USAGE);
	cr_expect_null(st);
	cr_expect(strstr(err_get(), "192.0.2.1") != NULL, "%s", err_get());
	cr_expect(strstr(err_get(), "secretvalue") == NULL);
	o.endpoint = "https://192.0.2.1:9000";
	o.lock_mode = "SOMETIMES";
	o.lock_days = 1;
	cr_expect_eq(storage_open("s3://bkt/p", &o, &st), ERR_USAGE);
	o.lock_mode = NULL;
	o.storage_class = "STANDARD\r\nX-Evil: 1";
	cr_expect_eq(storage_open("s3://bkt/p", &o, &st), ERR_USAGE);
	cr_expect_eq(storage_open("s3://b/p", NULL, &st), ERR_USAGE);
	unsetenv("AWS_ACCESS_KEY_ID");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent", 1);
	o.storage_class = NULL;
	cr_expect_eq(storage_open("s3://bkt/p", &o, &st), ERR_USAGE);
	cr_expect(strstr(err_get(), "no AWS credentials") != NULL, "%s",
	    err_get());
}

Test(s3url, keys_that_urls_would_rewrite_are_refused)
{
	struct storage_opts o = { .endpoint = "https://192.0.2.1:9000",
		.path_style = -1 };
	static const char *bad[] = { "a/../b", "..", "./x", "a//b", "a/",
		"/a", "a/.", "x\ny", "" };
	struct storage *st = NULL;
	struct storage_put *p;
	uint64_t size;
	size_t i;

	setenv("AWS_ACCESS_KEY_ID", "AK", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
	/* Nothing listens at 192.0.2.1: validation must come first. */
	cr_assert_eq(storage_open("s3://bkt/p", &o, &st), ERR_OK, "%s",
	    err_get());
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(storage_put_start(st, bad[i], &p), ERR_USAGE,
		    "accepted '%s'", bad[i]);
		cr_expect_eq(storage_stat(st, bad[i], &size), ERR_USAGE);
	}
	storage_free(st);
}

Test(s3url, part_sizes_fit_5tb)
{
	const size_t first = 8u << 20;
	unsigned long long total = 0;
	int n;

	cr_expect_eq(storage_s3_part_size(first, 1), first);
	cr_expect_eq(storage_s3_part_size(first, 1000), first);
	cr_expect_eq(storage_s3_part_size(first, 1001), 2 * first);
	cr_expect_eq(storage_s3_part_size(first, 10000), (size_t)4096 << 20);
	for (n = 1; n <= 10000; n++) {
		size_t s = storage_s3_part_size(first, n);
		cr_assert_leq(s, (size_t)5 << 30);
		total += s;
	}
	cr_expect_geq(total, 5ULL * 1000 * 1000 * 1000 * 1000);
}

Test(s3url, multipart_etag)
{
	/* Parts' MD5s of "part one", "part two!", "3"; the expected value
	 * computed independently with Python's hashlib. */
	char *parts[] = { "\"3303e12af474ca11d85ed2966a932992\"",
		"8c9c761cc1407dcce5c942a547bad482",
		"\"ECCBC87E4B5CE2FE28308FD9F2A7BAF3\"" };
	char *kms[] = { "\"3303e12af474ca11d85ed2966a932992\"",
		"\"not-an-md5\"" };
	char out[64];

	cr_assert_eq(storage_s3_multipart_etag(parts, 3, out, sizeof(out)),
	    0);
	cr_expect_str_eq(out, "c4107d1054acaf8e2609ba8636086cf3-3");
	cr_assert_eq(storage_s3_multipart_etag(parts, 2, out, sizeof(out)),
	    0);
	cr_expect_str_neq(out, "c4107d1054acaf8e2609ba8636086cf3-3");
	cr_expect_eq(storage_s3_multipart_etag(kms, 2, out, sizeof(out)), -1);
	cr_expect_eq(storage_s3_multipart_etag(parts, 3, out, 20), -1);
}

/* ---- live, against s3rver behind the checking proxy ---- */

static pid_t srv_pid = -1;
static char srv_dir[] = "/tmp/bkp-s3test.XXXXXX";
static char proxy_log[300];
static int proxy_port;

static void
srv_start(void)
{
	char envf[300], line[512];
	FILE *f = NULL;
	int i;

	cr_assert_not_null(mkdtemp(srv_dir));
	cr_assert_eq(access("tests/s3/serve.sh", X_OK), 0,
	    "run from the top of the tree");
	srv_pid = fork();
	cr_assert_geq(srv_pid, 0);
	if (srv_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execl("/bin/bash", "bash", "tests/s3/serve.sh", srv_dir,
		    (char *)NULL);
		_exit(127);
	}
	snprintf(envf, sizeof(envf), "%s/env", srv_dir);
	for (i = 0; i < 600 && (f = fopen(envf, "r")) == NULL; i++) {
		int st;
		cr_assert_eq(waitpid(srv_pid, &st, WNOHANG), 0,
		    "serve.sh died (is tests/s3/node_modules installed?)");
		usleep(50000);
	}
	cr_assert_not_null(f, "test S3 server did not start");
	while (fgets(line, sizeof(line), f) != NULL) {
		char *eq = strchr(line, '=');
		line[strcspn(line, "\n")] = '\0';
		if (eq == NULL)
			continue;
		*eq = '\0';
		if (strcmp(line, "BKP_TEST_S3_ENDPOINT") == 0)
			setenv("AWS_ENDPOINT_URL", eq + 1, 1);
		else if (strcmp(line, "S3_PROXY_PORT") == 0)
			proxy_port = (int)strtol(eq + 1, NULL, 10);
		else if (strcmp(line, "S3_PROXY_LOG") == 0)
			snprintf(proxy_log, sizeof(proxy_log), "%s", eq + 1);
	}
	fclose(f);
	setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent", 1);
	setenv("BKP_S3_RETRY_BASE_MS", "20", 1);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
}

static void
srv_stop(void)
{
	char cmd[128];

	if (srv_pid > 0) {
		kill(srv_pid, SIGTERM);
		waitpid(srv_pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", srv_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", srv_dir);
}

TestSuite(s3live, .init = srv_start, .fini = srv_stop, .timeout = 180);

static size_t
discard(char *p, size_t s, size_t n, void *a)
{
	(void)p;
	(void)a;
	return s * n;
}

/* Ask the proxy to inject a fault (JSON rule, see tests/s3/proxy.py). */
static void
fault(const char *json)
{
	char url[128];
	CURL *h = curl_easy_init();
	long code = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/__fault", proxy_port);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	cr_assert_eq(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	cr_assert_eq(code, 200);
	curl_easy_cleanup(h);
}

static void
faults_clear(void)
{
	char url[128];
	CURL *h = curl_easy_init();

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/__fault", proxy_port);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	cr_assert_eq(curl_easy_perform(h), CURLE_OK);
	curl_easy_cleanup(h);
}

/* Lines of the proxy log containing every one of the (up to 3) strings. */
static int
log_count(const char *a, const char *b, const char *c)
{
	char line[4096];
	FILE *f = fopen(proxy_log, "r");
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, a) && (!b || strstr(line, b)) &&
		    (!c || strstr(line, c)))
			n++;
	fclose(f);
	return n;
}

/* Deterministic test bytes: byte at offset off. */
static void
gen(uint64_t off, uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t x = (off + i) * 0x9E3779B97F4A7C15ULL;
		b[i] = (uint8_t)(x >> 56);
	}
}

static struct storage *
open_s3(const char *url, const struct storage_opts *o)
{
	struct storage_opts none = { .path_style = -1 };
	struct storage *st = NULL;

	cr_assert_eq(storage_open(url, o ? o : &none, &st), ERR_OK, "%s",
	    err_get());
	return st;
}

static void
put_stream(struct storage *st, const char *key, uint64_t size, size_t chunk,
    int expect)
{
	struct storage_put *p;
	uint8_t *b = malloc(chunk);
	uint64_t off;
	int rc = ERR_OK;

	cr_assert_eq(storage_put_start(st, key, &p), ERR_OK, "%s", err_get());
	for (off = 0; off < size && rc == ERR_OK; off += chunk) {
		size_t n = size - off < chunk ? (size_t)(size - off) : chunk;
		gen(off, b, n);
		rc = storage_put_write(p, b, n);
	}
	if (rc == ERR_OK)
		rc = storage_put_end(p);
	else
		storage_put_abort(p);
	free(b);
	cr_assert_eq(rc, expect, "put '%s': %d %s", key, rc, err_get());
}

static void
check_stream(struct storage *st, const char *key, uint64_t size,
    size_t chunk)
{
	uint8_t *b = malloc(chunk), *w = malloc(chunk);
	uint64_t off, got;

	cr_assert_eq(storage_stat(st, key, &got), ERR_OK, "%s", err_get());
	cr_assert_eq(got, size);
	for (off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? (size_t)(size - off) : chunk;
		cr_assert_eq(storage_get_range(st, key, off, n, b), ERR_OK,
		    "%s", err_get());
		gen(off, w, n);
		cr_assert_eq(memcmp(b, w, n), 0, "bytes differ at %llu",
		    (unsigned long long)off);
	}
	free(b);
	free(w);
}

struct keys {
	char k[16][64];
	uint64_t s[16];
	int n;
};

static int
collect(void *arg, const char *key, uint64_t size)
{
	struct keys *k = arg;

	cr_assert_lt(k->n, 16);
	snprintf(k->k[k->n], sizeof(k->k[0]), "%s", key);
	k->s[k->n++] = size;
	return 0;
}

Test(s3live, roundtrip_write_once_list)
{
	struct storage *st;
	struct keys k = { 0 };
	uint8_t *buf, r[64];
	size_t len;
	uint64_t size;
	int i;

	setenv("BKP_S3_PART_SIZE", "262144", 1);
	st = open_s3("s3://bkp-test/repo/one", NULL);
	cr_assert_eq(storage_put_bytes(st, "config", "hello", 5), ERR_OK, "%s",
	    err_get());
	cr_expect_eq(storage_put_bytes(st, "config", "again", 5), ERR_EXISTS);
	cr_expect(strstr(err_get(), "s3://bkp-test/repo/one/config") != NULL,
	    "%s", err_get());
	cr_assert_eq(storage_get(st, "config", 100, &buf, &len), ERR_OK);
	cr_expect_eq(len, 5);
	cr_expect_str_eq((char *)buf, "hello");
	free(buf);
	cr_expect_eq(storage_get(st, "config", 4, &buf, &len), ERR_CORRUPT);
	cr_expect_eq(storage_get(st, "nothere", 4, &buf, &len), ERR_NOTFOUND);
	cr_expect_eq(storage_stat(st, "nothere", &size), ERR_NOTFOUND);
	cr_expect_eq(storage_get_range(st, "nothere", 0, 4, r), ERR_NOTFOUND);

	/* Multipart: 5 parts of 256 KiB, the last one short. */
	put_stream(st, "data/a b+c", 4 * 262144 + 123, 10000, ERR_OK);
	check_stream(st, "data/a b+c", 4 * 262144 + 123, 100000);
	cr_expect_eq(storage_get_range(st, "data/a b+c", 4 * 262144 + 100, 64,
	    r), ERR_CORRUPT);
	cr_expect_eq(log_count("\"PUT\"", "partNumber=5&", NULL), 1);
	cr_expect_eq(log_count("\"PUT\"", "partNumber=6&", NULL), 0);
	/* Write-once also for multipart objects, and nothing changed. */
	put_stream(st, "data/a b+c", 300000, 10000, ERR_EXISTS);
	check_stream(st, "data/a b+c", 4 * 262144 + 123, 1 << 20);
	/* Empty object. */
	put_stream(st, "empty", 0, 10, ERR_OK);
	cr_expect_eq(storage_stat(st, "empty", &size), ERR_OK);
	cr_expect_eq(size, 0);

	cr_assert_eq(storage_list(st, "", collect, &k), ERR_OK, "%s",
	    err_get());
	cr_assert_eq(k.n, 3);
	cr_expect_str_eq(k.k[0], "config");
	cr_expect_str_eq(k.k[1], "data/a b+c");
	cr_expect_eq(k.s[1], 4 * 262144 + 123);
	cr_expect_str_eq(k.k[2], "empty");
	storage_free(st);

	/* Paged listing, in order, relative to the prefix. */
	setenv("BKP_S3_LIST_MAX_KEYS", "2", 1);
	st = open_s3("s3://bkp-test/repo/two/", NULL);
	for (i = 6; i >= 0; i--) {
		char key[32];
		snprintf(key, sizeof(key), "archives/%02d.json", i);
		cr_assert_eq(storage_put_bytes(st, key, key, strlen(key)),
		    ERR_OK, "%s", err_get());
	}
	memset(&k, 0, sizeof(k));
	cr_assert_eq(storage_list(st, "archives/", collect, &k), ERR_OK, "%s",
	    err_get());
	cr_assert_eq(k.n, 7);
	for (i = 0; i < 7; i++) {
		char key[32];
		snprintf(key, sizeof(key), "archives/%02d.json", i);
		cr_expect_str_eq(k.k[i], key);
	}
	cr_expect_geq(log_count("continuation-token=", "max-keys=2", NULL), 3);
	memset(&k, 0, sizeof(k));
	cr_assert_eq(storage_list(st, "nothing/", collect, &k), ERR_OK);
	cr_expect_eq(k.n, 0);
	unsetenv("BKP_S3_LIST_MAX_KEYS");

	cr_assert_eq(storage_delete(st, "archives/03.json"), ERR_OK);
	cr_expect_eq(storage_stat(st, "archives/03.json", &size),
	    ERR_NOTFOUND);
	storage_free(st);
	/* Every request passed the proxy's independent checks. */
	cr_expect_eq(log_count("rejected", NULL, NULL), 0);
	cr_expect_gt(log_count("\"status\": 200", NULL, NULL), 20);
}

Test(s3live, memory_bounded_by_part_size_times_parallel)
{
	struct storage_opts o = { .parallel = 3, .path_style = -1 };
	struct storage *st;
	struct rusage ru0, ru1;
	const uint64_t size = 40u << 20;

	setenv("BKP_S3_PART_SIZE", "1048576", 1);
	st = open_s3("s3://bkp-test/mem", &o);
	getrusage(RUSAGE_SELF, &ru0);
	put_stream(st, "data/big", size, 65536, ERR_OK);
	getrusage(RUSAGE_SELF, &ru1);
	/* 40 MiB streamed through 3 buffers of 1 MiB: the peak grows by a
	 * few MiB (buffers, libcurl), nowhere near the object's size. */
	cr_expect_lt(ru1.ru_maxrss - ru0.ru_maxrss, 12 * 1024,
	    "peak RSS grew by %ld KiB", ru1.ru_maxrss - ru0.ru_maxrss);
	cr_expect_eq(log_count("\"PUT\"", "partNumber=", NULL), 40);
	check_stream(st, "data/big", size, 4u << 20);
	storage_free(st);
}

Test(s3live, retries_through_faults)
{
	struct storage *st;
	struct keys k = { 0 };

	setenv("BKP_S3_PART_SIZE", "262144", 1);
	st = open_s3("s3://bkp-test/faulty", NULL);
	fault("{\"method\":\"PUT\",\"query\":\"partNumber=2&\",\"action\":\"503\",\"count\":2}");
	fault("{\"method\":\"PUT\",\"query\":\"partNumber=3&\",\"action\":\"drop\",\"count\":1}");
	fault("{\"method\":\"PUT\",\"query\":\"partNumber=1&\",\"action\":\"500\",\"count\":1}");
	fault("{\"method\":\"POST\",\"query\":\"^uploadId=\",\"action\":\"500\",\"count\":1}");
	fault("{\"method\":\"PUT\",\"path\":\"/small$\",\"action\":\"503\",\"count\":2}");
	fault("{\"method\":\"POST\",\"query\":\"^uploadId=\",\"action\":\"200error\",\"count\":1}");
	put_stream(st, "data/obj", 3 * 262144 + 7, 50000, ERR_OK);
	put_stream(st, "small", 1000, 1000, ERR_OK);
	cr_expect_eq(log_count("\"fault\": \"503\"", NULL, NULL), 4);
	cr_expect_eq(log_count("\"fault\": \"500\"", NULL, NULL), 2);
	cr_expect_eq(log_count("\"fault\": \"drop\"", NULL, NULL), 1);
	cr_expect_eq(log_count("\"fault\": \"200error\"", NULL, NULL), 1);

	/* Downloads: a connection dropped mid-body resumes from where it
	 * stopped; 503 SlowDown and 500 are retried. */
	fault("{\"method\":\"GET\",\"path\":\"/data/obj$\",\"action\":\"drop\",\"count\":2}");
	fault("{\"method\":\"GET\",\"path\":\"/data/obj$\",\"action\":\"503\",\"count\":1}");
	fault("{\"method\":\"HEAD\",\"action\":\"500\",\"count\":1}");
	fault("{\"method\":\"GET\",\"query\":\"list-type\",\"action\":\"500\",\"count\":1}");
	check_stream(st, "data/obj", 3 * 262144 + 7, 3 * 262144 + 7);
	cr_expect_eq(log_count("\"fault\": \"drop\"", "\"GET\"", NULL), 2);
	/* The resumed request asked for the remainder only. */
	cr_assert_eq(storage_list(st, "", collect, &k), ERR_OK, "%s",
	    err_get());
	cr_expect_eq(k.n, 2);
	storage_free(st);
}

Test(s3live, failed_upload_leaves_nothing_and_next_run_succeeds)
{
	struct storage *st;
	struct keys k = { 0 };
	uint64_t size;

	setenv("BKP_S3_PART_SIZE", "262144", 1);
	setenv("BKP_S3_MAX_TRIES", "3", 1);
	st = open_s3("s3://bkp-test/fail", NULL);
	fault("{\"method\":\"PUT\",\"query\":\"partNumber=3&\",\"action\":\"500\",\"count\":100}");
	put_stream(st, "data/obj", 5 * 262144, 65536, ERR_FAIL);
	cr_expect(strstr(err_get(), "s3://bkp-test/fail/data/obj") != NULL,
	    "%s", err_get());
	cr_expect(strstr(err_get(), "HTTP 500") != NULL, "%s", err_get());
	cr_expect_eq(storage_stat(st, "data/obj", &size), ERR_NOTFOUND);
	/* The multipart upload was aborted. */
	cr_expect_eq(log_count("\"DELETE\"", "uploadId=", NULL), 1);
	/* A dropped single PUT, every time. */
	fault("{\"method\":\"PUT\",\"path\":\"/tiny$\",\"action\":\"drop\",\"count\":100}");
	put_stream(st, "tiny", 100, 100, ERR_FAIL);
	cr_expect(strstr(err_get(), "dropped") != NULL, "%s", err_get());
	cr_expect_eq(storage_stat(st, "tiny", &size), ERR_NOTFOUND);
	cr_assert_eq(storage_list(st, "", collect, &k), ERR_OK);
	cr_expect_eq(k.n, 0);

	faults_clear();
	put_stream(st, "data/obj", 5 * 262144, 65536, ERR_OK);
	put_stream(st, "tiny", 100, 100, ERR_OK);
	check_stream(st, "data/obj", 5 * 262144, 1 << 20);
	storage_free(st);
	unsetenv("BKP_S3_MAX_TRIES");
}

Test(s3live, object_lock_and_storage_class_headers)
{
	struct storage_opts o = { .lock_days = 2, .lock_mode = "compliance",
		.storage_class = "STANDARD_IA", .path_style = -1 };
	struct storage *st;
	char until[32];
	time_t t = time(NULL) + 2 * 86400;
	struct tm tm;

	setenv("BKP_S3_PART_SIZE", "262144", 1);
	st = open_s3("s3://bkp-test/locked", &o);
	put_stream(st, "config", 100, 100, ERR_OK);
	put_stream(st, "data/x", 2 * 262144 + 1, 65536, ERR_OK);
	gmtime_r(&t, &tm);
	strftime(until, sizeof(until), "%Y-%m-%dT", &tm);
	/* Single PUT and CreateMultipartUpload carry the lock and class. */
	cr_expect_eq(log_count("\"lock_mode\": \"COMPLIANCE\"",
	    "\"storage_class\": \"STANDARD_IA\"", until), 2);
	cr_expect_eq(log_count("\"lock_mode\"", "\"query\": \"uploads=\"",
	    NULL), 1);
	/* Every body-carrying write has a Content-MD5 (checked by the
	 * proxy), as S3 requires with Object Lock. */
	cr_expect_eq(log_count("\"content_md5\"", "\"PUT\"", NULL), 4);
	cr_expect_eq(log_count("rejected", NULL, NULL), 0);
	check_stream(st, "data/x", 2 * 262144 + 1, 1 << 20);
	storage_free(st);
}

Test(s3live, clear_errors_never_name_the_secret)
{
	struct storage *st;
	uint8_t *buf;
	size_t len;
	uint64_t size;

	setenv("AWS_SECRET_ACCESS_KEY", "not-the-right-secret", 1);
	st = open_s3("s3://bkp-test/creds", NULL);
	cr_expect_eq(storage_put_bytes(st, "config", "x", 1), ERR_FAIL);
	cr_expect(strstr(err_get(), "SignatureDoesNotMatch") != NULL, "%s",
	    err_get());
	cr_expect(strstr(err_get(), "s3://bkp-test/creds/config") != NULL);
	cr_expect(strstr(err_get(), "not-the-right-secret") == NULL);
	cr_expect_eq(storage_get(st, "config", 10, &buf, &len), ERR_FAIL);
	cr_expect(strstr(err_get(), "SignatureDoesNotMatch") != NULL, "%s",
	    err_get());
	storage_free(st);
	cr_expect_geq(log_count("\"rejected\": \"SignatureDoesNotMatch\"",
	    NULL, NULL), 2);

	setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDUNKNOWN", 1);
	st = open_s3("s3://bkp-test/creds", NULL);
	cr_expect_eq(storage_stat(st, "config", &size), ERR_FAIL);
	cr_expect(strstr(err_get(), "InvalidAccessKeyId") != NULL, "%s",
	    err_get());
	storage_free(st);

	setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
	st = open_s3("s3://no-such-bucket/x", NULL);
	cr_expect_eq(storage_stat(st, "config", &size), ERR_NOREPO);
	cr_expect(strstr(err_get(), "NoSuchBucket") != NULL, "%s", err_get());
	cr_expect(strstr(err_get(), "no-such-bucket") != NULL);
	storage_free(st);

	/* Nothing listening: a clear message after bounded retries. */
	setenv("BKP_S3_MAX_TRIES", "2", 1);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1", 1);
	st = open_s3("s3://bkp-test/creds", NULL);
	cr_expect_eq(storage_stat(st, "config", &size), ERR_FAIL);
	cr_expect(strstr(err_get(), "cannot connect to '127.0.0.1'") != NULL,
	    "%s", err_get());
	storage_free(st);
}

Test(s3live, lost_answers_on_final_writes)
{
	struct storage *st;
	uint8_t *buf;
	size_t len;

	setenv("BKP_S3_PART_SIZE", "262144", 1);
	st = open_s3("s3://bkp-test/lost", NULL);
	/* The object is stored but the answer never arrives; the retry
	 * meets If-None-Match and must recognise the object as ours. */
	fault("{\"method\":\"PUT\",\"path\":\"/small$\",\"action\":\"drop_response\",\"count\":1}");
	fault("{\"method\":\"POST\",\"path\":\"/big$\",\"query\":\"^uploadId=\",\"action\":\"drop_response\",\"count\":1}");
	cr_assert_eq(storage_put_bytes(st, "small", "contents", 8), ERR_OK,
	    "%s", err_get());
	put_stream(st, "big", 3 * 262144 + 5, 65536, ERR_OK);
	cr_expect_eq(log_count("\"fault\": \"drop_response\"", NULL, NULL), 2);
	cr_expect_eq(log_count("\"status\": 412", NULL, NULL), 2);
	cr_assert_eq(storage_get(st, "small", 100, &buf, &len), ERR_OK);
	cr_expect_eq(len, 8);
	cr_expect_eq(memcmp(buf, "contents", 8), 0);
	free(buf);
	check_stream(st, "big", 3 * 262144 + 5, 1 << 20);
	/* A genuine conflict on the first try is still refused. */
	cr_expect_eq(storage_put_bytes(st, "small", "contents", 8),
	    ERR_EXISTS);
	storage_free(st);
}

Test(s3live, server_without_conditional_writes)
{
	struct storage *st;

	setenv("BKP_S3_PART_SIZE", "262144", 1);
	st = open_s3("s3://bkp-test/noinm", NULL);
	fault("{\"header\":\"If-None-Match\",\"action\":\"501\",\"count\":100}");
	cr_assert_eq(storage_put_bytes(st, "small", "x", 1), ERR_OK, "%s",
	    err_get());
	put_stream(st, "big", 2 * 262144 + 1, 65536, ERR_OK);
	/* One 501, then no more conditional headers from this handle... */
	cr_expect_eq(log_count("\"fault\": \"501\"", NULL, NULL), 1);
	cr_expect_eq(log_count("if_none_match", NULL, NULL), 1);
	/* ...and write-once still holds through the HEAD check. */
	cr_expect_eq(storage_put_bytes(st, "small", "y", 1), ERR_EXISTS);
	put_stream(st, "big", 10, 10, ERR_EXISTS);
	check_stream(st, "big", 2 * 262144 + 1, 1 << 20);
	storage_free(st);
}

Test(s3live, virtual_hosted_addressing)
{
	struct storage_opts o = { .path_style = 0 };
	struct storage *st;
	char ep[64];
	uint8_t *buf;
	size_t len;
	struct keys k = { 0 };

	/* BUCKET.s3.localhost: libcurl resolves *.localhost to loopback. */
	snprintf(ep, sizeof(ep), "http://s3.localhost:%d", proxy_port);
	o.endpoint = ep;
	setenv("BKP_S3_PART_SIZE", "262144", 1);
	st = open_s3("s3://bkp-test/vhost", &o);
	cr_assert_eq(storage_put_bytes(st, "config", "vh", 2), ERR_OK, "%s",
	    err_get());
	put_stream(st, "data/x y", 2 * 262144 + 3, 65536, ERR_OK);
	cr_assert_eq(storage_get(st, "config", 10, &buf, &len), ERR_OK);
	free(buf);
	check_stream(st, "data/x y", 2 * 262144 + 3, 1 << 20);
	cr_assert_eq(storage_list(st, "", collect, &k), ERR_OK, "%s",
	    err_get());
	cr_expect_eq(k.n, 2);
	cr_expect_eq(storage_put_bytes(st, "config", "vh", 2), ERR_EXISTS);
	storage_free(st);
	/* Every object request went virtual-hosted, and passed the checks. */
	cr_expect_geq(log_count("\"vhost\": true", "/bkp-test/vhost/", NULL),
	    10);
	cr_expect_eq(log_count("\"path\": \"/bkp-test/vhost/", NULL, NULL),
	    log_count("\"path\": \"/bkp-test/vhost/", "\"vhost\": true",
	    NULL));
	cr_expect_eq(log_count("rejected", NULL, NULL), 0);
}

Test(s3live, stalled_requests_time_out_and_are_retried)
{
	struct storage *st;
	uint8_t *buf;
	size_t len;
	struct timespec t0, t1;

	setenv("BKP_S3_TIMEOUT", "1", 1);
	st = open_s3("s3://bkp-test/slow", NULL);
	cr_assert_eq(storage_put_bytes(st, "obj", "payload", 7), ERR_OK, "%s",
	    err_get());
	/* The server sits on the request for 4 s: after 1 s without
	 * progress the client gives up on it and asks again. */
	fault("{\"method\":\"GET\",\"path\":\"/obj$\",\"action\":\"delay\",\"delay\":4,\"count\":1}");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(storage_get(st, "obj", 100, &buf, &len), ERR_OK, "%s",
	    err_get());
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_expect_eq(len, 7);
	free(buf);
	/* (The proxy logs the stalled request only when it ends.) */
	cr_expect_lt(t1.tv_sec - t0.tv_sec, 4, "waited for the stalled answer");
	/* Always stalled: a clear timeout error after bounded tries. */
	setenv("BKP_S3_MAX_TRIES", "2", 1);
	storage_free(st);
	st = open_s3("s3://bkp-test/slow", NULL);
	fault("{\"method\":\"GET\",\"path\":\"/obj$\",\"action\":\"delay\",\"delay\":3,\"count\":5}");
	cr_expect_eq(storage_get(st, "obj", 100, &buf, &len), ERR_FAIL);
	cr_expect(strstr(err_get(), "timed out") != NULL, "%s", err_get());
	storage_free(st);
	unsetenv("BKP_S3_TIMEOUT");
	unsetenv("BKP_S3_MAX_TRIES");
}

struct reader {
	struct storage *st;
	int id;
	int bad;
};

static void *
read_slices(void *arg)
{
	struct reader *r = arg;
	uint8_t b[70000], w[70000];
	int i;

	for (i = 0; i < 25; i++) {
		uint64_t off = (uint64_t)((r->id * 25 + i) * 9973) % 900000;
		if (storage_get_range(r->st, "data/shared", off, sizeof(b),
		    b) != ERR_OK) {
			r->bad++;
			continue;
		}
		gen(off, w, sizeof(w));
		r->bad += memcmp(b, w, sizeof(b)) != 0;
	}
	return NULL;
}

Test(s3live, ranged_reads_from_several_threads)
{
	struct storage *st;
	struct reader r[4];
	pthread_t th[4];
	int i;

	setenv("BKP_S3_PART_SIZE", "262144", 1);
	st = open_s3("s3://bkp-test/threads", NULL);
	put_stream(st, "data/shared", 1000000, 65536, ERR_OK);
	fault("{\"method\":\"GET\",\"path\":\"/data/shared$\",\"action\":\"drop\",\"count\":3}");
	fault("{\"method\":\"GET\",\"path\":\"/data/shared$\",\"action\":\"503\",\"count\":3}");
	for (i = 0; i < 4; i++) {
		r[i] = (struct reader){ st, i, 0 };
		pthread_create(&th[i], NULL, read_slices, &r[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_expect_eq(r[i].bad, 0, "thread %d: %d bad reads", i,
		    r[i].bad);
	}
	cr_expect_eq(log_count("\"fault\"", "/data/shared", NULL), 6);
	storage_free(st);
}

Test(s3live, session_token_signed_and_clock_skew_reported)
{
	struct storage *st;
	uint8_t *buf;
	size_t len;

	setenv("AWS_SESSION_TOKEN", "FQoGZXIvYXdzEXAMPLETOKEN/+=", 1);
	st = open_s3("s3://bkp-test/token", NULL);
	cr_assert_eq(storage_put_bytes(st, "config", "x", 1), ERR_OK, "%s",
	    err_get());
	storage_free(st);
	unsetenv("AWS_SESSION_TOKEN");
	/* The proxy refuses unsigned x-amz-* headers: none was refused. */
	cr_expect_eq(log_count("rejected", NULL, NULL), 0);

	st = open_s3("s3://bkp-test/token", NULL);
	fault("{\"method\":\"GET\",\"action\":\"skew\",\"count\":1}");
	cr_expect_eq(storage_get(st, "config", 10, &buf, &len), ERR_FAIL);
	cr_expect(strstr(err_get(), "RequestTimeTooSkewed") != NULL &&
	    strstr(err_get(), "clock") != NULL, "%s", err_get());
	storage_free(st);
}
