#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "cmds.h"
#include "crypto.h"
#include "err.h"
#include "hash.h"
#include "repo.h"
#include "util.h"

static const char usage[] =
"usage: bkp list -r REPO [--name NAME] [--json]\n"
"\n"
"List committed archives, oldest first: id, creation time (UTC), dataset,\n"
"files, stored size and kind ('full' or 'incremental'; '-' for archives\n"
"written before format 3).  With --json also each archive's chain: 'deps'\n"
"(the archives its data references), 'base' and 'chain'.  Needs no key.\n";

static json_t *
archive_json(const struct repo_archive *a)
{
	char when[40], hex[65], member[HASH_MEMBER_MAX];
	json_t *j, *fprs = json_array();
	size_t i;

	util_iso8601(a->created_us, when, sizeof(when));
	for (i = 0; fprs != NULL && i < a->nrecip; i++)
		json_array_append_new(fprs, json_string(a->recip[i].fpr));
	util_hex(a->data_hash, 32, hex);
	j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, "
	    "s:I, s:s, s:s, s:o}", "id", a->id, "name", a->name,
	    "host", a->host,
	    "created", when, "created_us", (json_int_t)a->created_us,
	    "cipher", crypto_cipher_name(a->cipher),
	    "files", (json_int_t)a->files, "bytes", (json_int_t)a->bytes,
	    "stored", (json_int_t)(a->data_size + a->manifest_size +
	    a->frames_size),
	    "chunks", (json_int_t)a->chunks,
	    "warnings", (json_int_t)a->warnings,
	    "hash", hash_name(a->hash_alg),
	    hash_member(member, "data", a->hash_alg), hex,
	    "recipients", fprs);
	if (j != NULL) {
		json_t *deps = json_array();

		for (i = 0; deps != NULL && i < a->ndeps; i++)
			json_array_append_new(deps, json_string(a->deps[i]));
		json_object_set_new(j, "version", json_integer(a->version));
		json_object_set_new(j, "chain", json_integer(a->chain));
		json_object_set_new(j, "base", a->base[0] ?
		    json_string(a->base) : json_null());
		json_object_set_new(j, "deps", deps != NULL ? deps :
		    json_array());
	}
	return j;
}

int
cmd_list(int argc, char **argv)
{
	static const struct option own[] = {
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct repo_archive *arr = NULL;
	struct repo *r = NULL;
	struct cli c;
	const char *name = NULL;
	char when[40], sz[32];
	size_t n = 0, bad = 0, i;
	json_t *ja;
	int ch, x, rc = EXIT_USAGE;

	cli_init(&c, "list");
	while ((x = cli_getopt(&c, argc, argv, CLI_SHORTOPTS "n:", own, usage,
	    &ch)) == 1) {
		if (ch == 'n')
			name = optarg;
		else {
			rc = cli_bad_option(&c, argv);
			goto done;
		}
	}
	if (x < 0) {
		rc = c.exit;
		goto done;
	}
	if (optind != argc) {
		rc = cli_usage_error(&c, "unexpected argument '%s'",
		    argv[optind]);
		goto done;
	}
	if ((rc = cli_open_repo(&c, &r)) != 0)
		goto done;
	if ((x = repo_list(r, name, &arr, &n, &bad)) != ERR_OK) {
		rc = cli_error(&c, x);
		goto done;
	}
	if (c.json) {
		ja = json_array();
		for (i = 0; ja != NULL && i < n; i++)
			json_array_append_new(ja, archive_json(&arr[i]));
		cli_print_json(ja);
	} else {
		for (i = 0; i < n; i++) {
			util_iso8601(arr[i].created_us, when, sizeof(when));
			when[19] = 'Z';
			when[20] = '\0';
			util_human(arr[i].data_size + arr[i].manifest_size +
			    arr[i].frames_size, sz, sizeof(sz));
			printf("%s  %s  %-16s %8llu files  %10s  %s\n",
			    arr[i].id, when, arr[i].name,
			    (unsigned long long)arr[i].files, sz,
			    arr[i].version < 3 ? "-" : arr[i].chain == 0 ?
			    "full" : "incremental");
		}
	}
	rc = EXIT_OK;
	if (bad > 0) {
		err_print("bkp: %zu archive record%s in '%s' could not "
		    "be read (run 'bkp verify --all')\n", bad,
		    bad == 1 ? "" : "s", c.repo);
		rc = EXIT_FAIL;
	}
done:
	repo_archives_free(arr, n);
	repo_free(r);
	cli_release(&c);
	return rc;
}
