#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"
#include "cmds.h"
#include "err.h"
#include "keys.h"
#include "repo.h"
#include "restore.h"
#include "storage.h"
#include "util.h"
#include "verify.h"

static const char usage[] =
"usage: bkp verify -r REPO [-k KEY] (ARCHIVE ... | --all) [-q] [--json]\n"
"\n"
"With a key (full): decrypt and authenticate every chunk, decompress, parse\n"
"every entry and check each file's size and hash (BLAKE3) against the\n"
"manifest.  Nothing is written to disk.\n"
"Without a key: check that each archive's objects exist with the sizes and\n"
"hashes its record states and that the chunk framing is whole;\n"
"lets a third party check stored ciphertext without being able to read it.\n"
"\n"
"  --all       every archive in the repository\n"
"  --record    store the result of each check in the repository as\n"
"              verifications/<time>-<random>.json (write-once), for\n"
"              'bkp report'\n"
"\n"
"Exit status: 0 all intact, 1 some archive failed, 2 usage, 10 no\n"
"repository, 12 wrong key or passphrase.\n";

/* Store a verification record (write-once) for bkp report. */
static int
put_record(struct repo *r, const struct repo_archive *a, int full, int ok,
    int64_t started, uint64_t bytes, const char *error)
{
	char key[96], when[40], fin[40], host[256], stamp[32], hex[9];
	int64_t now = util_now_us();
	uint8_t rnd[4];
	json_t *j;
	char *text;
	int rc;

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	util_iso8601(started, when, sizeof(when));
	util_iso8601(now, fin, sizeof(fin));
	randombytes_buf(rnd, sizeof(rnd));
	util_hex(rnd, sizeof(rnd), hex);
	snprintf(stamp, sizeof(stamp), "%.4s%.2s%.2sT%.2s%.2s%.2sZ", fin,
	    fin + 5, fin + 8, fin + 11, fin + 14, fin + 17);
	snprintf(key, sizeof(key), "verifications/%s-%s.json", stamp, hex);
	j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, "
	    "s:b, s:s?}", "bkp_verification", 1, "archive", a->id, "name",
	    a->name, "mode", full ? "full" : "keyless", "started", when,
	    "finished", fin, "host", host, "finished_us", (json_int_t)now,
	    "bytes_read", (json_int_t)bytes, "result", ok ? "ok" : "fail",
	    "ok", ok, "error", error);
	if (j == NULL || (text = json_dumps(j, JSON_INDENT(2) |
	    JSON_SORT_KEYS)) == NULL) {
		json_decref(j);
		err_set("out of memory");
		return ERR_FAIL;
	}
	json_decref(j);
	rc = storage_put_bytes(repo_storage(r), key, text, strlen(text));
	free(text);
	return rc;
}

static int
verify_one(struct repo *r, const struct repo_archive *a,
    const struct keys_secret *sk, const struct cli *c, json_t *out,
    volatile sig_atomic_t *cancel, int record)
{
	char errbuf[1024];
	int64_t started = util_now_us();
	struct restore_opts o;
	struct restore_stats st;
	uint64_t bytes = 0;
	double t0 = util_mono();
	char sz[32];
	int x;

	memset(&st, 0, sizeof(st));
	if (sk != NULL) {
		memset(&o, 0, sizeof(o));
		o.threads = c->threads;
		o.cancel = cancel;
		o.warn = cli_warn;
		if (cli_show_progress(c)) {
			o.progress_cb = cmd_restore_progress;
			o.arg = &t0;
		}
		x = restore_run(r, a, sk, &o, &st);
		cli_progress_done();
		bytes = st.fetched;
	} else
		x = verify_keyless(r, a, &bytes);
	snprintf(errbuf, sizeof(errbuf), "%s", x == ERR_OK ? "" : err_get());
	if (record && x != ERR_KEY && put_record(r, a, sk != NULL, x == ERR_OK,
	    started, bytes, x == ERR_OK ? NULL : errbuf) != ERR_OK) {
		err_print("bkp: cannot store the verification record: %s\n",
		    err_get());
		if (x == ERR_OK)
			x = ERR_FAIL;
	}
	err_set("%s", errbuf);
	if (x != ERR_OK && x != ERR_KEY && !c->json)
		err_print("bkp: FAILED: %s\n", err_get());
	if (out != NULL)
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:b, "
		    "s:I, s:I, s:f, s:s?}", "id", a->id, "name", a->name,
		    "mode", sk != NULL ? "full" : "keyless", "ok", x == ERR_OK,
		    "files", (json_int_t)st.files, "bytes_read",
		    (json_int_t)bytes, "seconds", util_mono() - t0, "error",
		    x == ERR_OK ? NULL : err_get()));
	else if (x == ERR_OK && !c->quiet && isatty(STDERR_FILENO)) {
		/* Per-archive lines on a terminal; cron gets the summary. */
		util_human(bytes, sz, sizeof(sz));
		err_print("bkp: %s '%s' ok (%s, %s read%s)\n", a->id,
		    a->name, sk != NULL ? "full" : "key-less", sz,
		    sk != NULL ? "" : "; ciphertext only");
	}
	return x;
}

int
cmd_verify(int argc, char **argv)
{
	static const struct option own[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "record", no_argument, NULL, CLI_OPT_FIRST_CMD },
		{ NULL, 0, NULL, 0 }
	};
	static volatile sig_atomic_t cancel;
	struct repo_archive *arr = NULL, one;
	struct keys_secret *sk = NULL;
	struct repo *r = NULL;
	struct cli c;
	json_t *out = NULL;
	size_t n = 0, i, bad = 0, failed = 0;
	int ch, x, rc = EXIT_USAGE, all = 0, record = 0;

	cli_init(&c, "verify");
	while ((x = cli_getopt(&c, argc, argv, CLI_SHORTOPTS "a", own, usage,
	    &ch)) == 1) {
		if (ch == 'a')
			all = 1;
		else if (ch == CLI_OPT_FIRST_CMD)
			record = 1;
		else {
			rc = cli_bad_option(&c, argv);
			goto done;
		}
	}
	if (x < 0) {
		rc = c.exit;
		goto done;
	}
	if (all == (optind < argc)) {
		rc = cli_usage_error(&c, "give ARCHIVE arguments or --all");
		goto done;
	}
	if ((rc = cli_open_repo(&c, &r)) != 0)
		goto done;
	if (all) {
		if ((x = repo_list(r, NULL, &arr, &n, &bad)) != ERR_OK) {
			rc = cli_error(&c, x);
			goto done;
		}
	} else {
		if ((arr = calloc((size_t)(argc - optind), sizeof(*arr))) ==
		    NULL) {
			rc = EXIT_FAIL;
			goto done;
		}
		for (; optind < argc; optind++) {
			if ((x = repo_find(r, argv[optind], &one)) != ERR_OK) {
				rc = cli_error(&c, x);
				goto done;
			}
			arr[n++] = one;
		}
	}
	if (c.key != NULL && (rc = cli_load_key(&c, &sk)) != 0)
		goto done;
	cli_catch_signals(&cancel);
	if (c.json && (out = json_array()) == NULL) {
		rc = EXIT_FAIL;
		goto done;
	}
	for (i = 0; i < n; i++) {
		x = verify_one(r, &arr[i], sk, &c, out, &cancel, record);
		if (x == ERR_KEY) {
			json_decref(out);
			out = NULL;
			rc = cli_error(&c, x);
			goto done;
		}
		if (x != ERR_OK)
			failed++;
		if (cancel)
			break;
	}
	if (bad > 0)
		err_print("bkp: FAILED: %zu archive record%s could not be "
		    "read or parsed\n", bad, bad == 1 ? "" : "s");
	if (out != NULL) {
		cli_print_json(out);
		out = NULL;
	} else if (!c.quiet || failed + bad > 0)
		err_print("bkp: verified %zu archive%s (%s): %zu "
		    "failed\n", n, n == 1 ? "" : "s", sk != NULL ? "full" :
		    "key-less", failed + bad);
	rc = failed + bad > 0 || cancel ? EXIT_FAIL : EXIT_OK;
done:
	json_decref(out);
	repo_archives_free(arr, n);
	keys_secret_free(sk);
	repo_free(r);
	cli_release(&c);
	return rc;
}
