#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"
#include "cmd_drill.h"
#include "drill.h"
#include "drill_config.h"
#include "drill_metrics.h"
#include "drill_record.h"
#include "drill_scratch.h"
#include "drill_store.h"
#include "err.h"
#include "keys.h"
#include "repo.h"
#include "util.h"

#define MAX_DATASET_ARGS 256

static const char usage[] =
"usage: bkp drill -r REPO -k KEY [--config FILE] [--dataset NAME]...\n"
"                 [--rto DUR] [--rpo DUR] [--hook CMD]... [--hook-timeout DUR]\n"
"                 [--sample newest|random] [--window DAYS] [--samples N]\n"
"                 [--scratch DIR] [--keep] [--json] [-q]\n"
"Restore each dataset's newest archive (or a random sample) into a private\n"
"scratch directory, validate it, run the hooks, measure RTO and RPO against\n"
"the targets (defaults: RTO 4h, RPO 24h), wipe the scratch data and store a\n"
"drill record in the repository.  Exit 0 only if every drill passed.\n";

enum {
	OPT_CONFIG = CLI_OPT_FIRST_CMD, OPT_DATASET, OPT_RTO, OPT_RPO,
	OPT_HOOK, OPT_HOOK_TIMEOUT, OPT_SAMPLE, OPT_WINDOW, OPT_SAMPLES,
	OPT_SCRATCH, OPT_KEEP
};

static const struct option own_opts[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "dataset", required_argument, NULL, OPT_DATASET },
	{ "rto", required_argument, NULL, OPT_RTO },
	{ "rpo", required_argument, NULL, OPT_RPO },
	{ "hook", required_argument, NULL, OPT_HOOK },
	{ "hook-timeout", required_argument, NULL, OPT_HOOK_TIMEOUT },
	{ "sample", required_argument, NULL, OPT_SAMPLE },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "samples", required_argument, NULL, OPT_SAMPLES },
	{ "scratch", required_argument, NULL, OPT_SCRATCH },
	{ "keep", no_argument, NULL, OPT_KEEP },
	{ NULL, 0, NULL, 0 }
};

static void
print_summary(const struct drill_record *rec, const char *kept,
    const char *detail)
{
	char a[32], b[32], c[32], d[32], name[257];
	size_t i, hp = 0;
	int trunc;

	/* Dataset names come from the repository: no terminal controls. */
	drill_record_sanitize(rec->dataset, strlen(rec->dataset), name,
	    sizeof(name), &trunc);
	for (i = 0; name[i] != '\0'; i++)
		if (name[i] == '\n' || name[i] == '\t')
			name[i] = '?';
	for (i = 0; i < rec->nhooks; i++)
		hp += rec->hooks[i].passed != 0;
	printf("drill %s %.12s: %s\n", name,
	    rec->archive_id[0] ? rec->archive_id : "-",
	    rec->passed ? "PASS" : "FAIL");
	printf("  RTO %s (target %s)  RPO %s (target %s)\n",
	    isfinite(rec->rto_achieved) ? drill_metrics_human(rec->rto_achieved,
	    a, sizeof(a)) : "not reached",
	    drill_metrics_human(rec->rto_target, b, sizeof(b)),
	    drill_metrics_human(rec->rpo_achieved, c, sizeof(c)),
	    drill_metrics_human(rec->rpo_target, d, sizeof(d)));
	printf("  restore %s, validation %s (%llu files, %llu bytes, %llu "
	    "mismatches), hooks %zu/%zu passed\n", rec->restore_status,
	    rec->validate_status, (unsigned long long)rec->v_files,
	    (unsigned long long)rec->v_bytes,
	    (unsigned long long)rec->v_mismatches, hp, rec->nhooks);
	printf("  scratch %s, record %s\n", rec->scratch_kept ? "kept" :
	    rec->scratch_wiped ? "wiped" : "NOT WIPED",
	    rec->key[0] ? rec->key : "(not stored)");
	for (i = 0; i < rec->nfailures; i++)
		printf("  - %s\n", rec->failures[i]);
	if (kept != NULL)
		printf("  kept restored data in %s\n", kept);
	if (!rec->passed && detail != NULL && detail[0] != '\0')
		err_print("bkp: drill %s: %s\n", name, detail);
	fflush(stdout);
}

/* Add rec to the --json output. */
static int
json_add(json_t *arr, const struct drill_record *rec)
{
	char *text;
	json_t *o;

	if (drill_record_json(rec, &text) != ERR_OK)
		return ERR_FAIL;
	o = json_loads(text, 0, NULL);
	free(text);
	if (o == NULL)
		return ERR_FAIL;
	if (rec->key[0] != '\0')
		json_object_set_new(o, "key", json_string(rec->key));
	return json_array_append_new(arr, o) == 0 ? ERR_OK : ERR_FAIL;
}

/* Index of the name in names, or -1. */
static int
find_name(char **names, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

/* The datasets to drill, each once, in a stable order. */
static int
choose_datasets(const struct drill_config *cfg, char *const *args,
    size_t nargs, const struct repo_archive *arr, size_t n, char ***out,
    size_t *nout)
{
	char **names;
	size_t i, k = 0, cap = nargs + cfg->nds + n;

	*out = NULL;
	*nout = 0;
	if (cap == 0)
		return ERR_OK;
	if ((names = calloc(cap, sizeof(*names))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	if (nargs > 0) {
		for (i = 0; i < nargs; i++)
			if (find_name(names, k, args[i]) < 0)
				names[k++] = args[i];
	} else {
		if (!cfg->all_datasets)
			for (i = 0; i < cfg->nds; i++)
				if (find_name(names, k, cfg->ds[i].name) < 0)
					names[k++] = cfg->ds[i].name;
		if (cfg->all_datasets)
			for (i = 0; i < n; i++)
				if (find_name(names, k, arr[i].name) < 0)
					names[k++] = arr[i].name;
	}
	*out = names;
	*nout = k;
	return ERR_OK;
}

int
cmd_drill_settings(struct cli *c, int argc, char **argv,
    struct drill_config *cfg, const char *config,
    const struct cmd_drill_setting *set, size_t n)
{
	size_t i;
	int rc;

	if (optind < argc)
		return cli_usage_error(c, "unexpected argument '%s'",
		    argv[optind]);
	/* The config file first, then the command line on top. */
	if (config != NULL && (rc = drill_config_load(cfg, config)) != ERR_OK)
		return cli_error(c, rc == ERR_NOTFOUND ? ERR_USAGE : rc);
	for (i = 0; i < n; i++)
		if (drill_config_set(cfg, NULL, set[i].key, set[i].value) !=
		    ERR_OK)
			return cli_usage_error(c, "%s", err_get());
	return 0;
}

int
cmd_drill(int argc, char **argv)
{
	struct cli c;
	struct drill_config cfg;
	struct drill_ctx ctx;
	struct drill_target t;
	struct repo *r = NULL;
	struct keys_secret *sk = NULL;
	struct repo_archive *arr = NULL, *sub = NULL;
	struct cmd_drill_setting ov[64];
	char *dsargs[MAX_DATASET_ARGS], **names = NULL;
	const char *config = NULL;
	json_t *jout = NULL;
	size_t nov = 0, nds = 0, n = 0, nbad = 0, nnames = 0, i, j, k, m;
	size_t *idx = NULL, count, ndrills = 0, nfailed = 0;
	int ch, x, ex = EXIT_FAIL, rc;

	cli_init(&c, argv[0]);
	memset(&ctx, 0, sizeof(ctx));
	memset(&t, 0, sizeof(t));
	if (drill_config_init(&cfg) != ERR_OK)
		return cli_error(&c, ERR_FAIL);
	while ((x = cli_getopt(&c, argc, argv, CLI_SHORTOPTS, own_opts, usage,
	    &ch)) == 1) {
		const char *key = NULL, *val = optarg;

		switch (ch) {
		case OPT_CONFIG:
			config = optarg;
			continue;
		case OPT_DATASET:
			if (nds >= MAX_DATASET_ARGS) {
				ex = cli_usage_error(&c, "too many --dataset");
				goto done;
			}
			dsargs[nds++] = optarg;
			continue;
		case OPT_RTO: key = "rto"; break;
		case OPT_RPO: key = "rpo"; break;
		case OPT_HOOK: key = "hook"; break;
		case OPT_HOOK_TIMEOUT: key = "hook_timeout"; break;
		case OPT_SAMPLE: key = "sampling"; break;
		case OPT_WINDOW: key = "window"; break;
		case OPT_SAMPLES: key = "samples"; break;
		case OPT_SCRATCH: key = "scratch"; break;
		case OPT_KEEP: key = "keep"; val = "yes"; break;
		default:
			ex = cli_bad_option(&c, argv);
			goto done;
		}
		if (nov >= sizeof(ov) / sizeof(ov[0])) {
			ex = cli_usage_error(&c, "too many options");
			goto done;
		}
		ov[nov].key = key;
		ov[nov++].value = val;
	}
	if (x < 0) {
		ex = c.exit;
		goto done;
	}
	if ((ex = cmd_drill_settings(&c, argc, argv, &cfg, config, ov,
	    nov)) != 0)
		goto done;
	if ((ex = cli_open_repo(&c, &r)) != 0)
		goto done;
	if ((ex = cli_load_key(&c, &sk)) != 0)
		goto done;
	ex = EXIT_FAIL;
	if (sodium_init() < 0) {
		err_set("cannot initialise libsodium");
		ex = cli_error(&c, ERR_FAIL);
		goto done;
	}
	if ((rc = repo_list(r, NULL, &arr, &n, &nbad)) != ERR_OK) {
		ex = cli_error(&c, rc);
		goto done;
	}
	if (nbad > 0)
		err_print("bkp: warning: %zu unreadable archive "
		    "records skipped\n", nbad);
	if ((rc = choose_datasets(&cfg, dsargs, nds, arr, n, &names,
	    &nnames)) != ERR_OK) {
		ex = cli_error(&c, rc);
		goto done;
	}
	if (nnames == 0) {
		err_set("nothing to drill: the repository has no archives");
		ex = cli_error(&c, ERR_NOTFOUND);
		goto done;
	}

	/* Wipe what killed drills left behind before anything else. */
	if ((rc = drill_scratch_sweep(cfg.scratch, &ctx.stale_wiped)) !=
	    ERR_OK) {
		ex = cli_error(&c, rc);
		goto done;
	}
	if (ctx.stale_wiped > 0 && !c.quiet)
		err_print("bkp: wiped %llu stale drill scratch "
		    "director%s\n", (unsigned long long)ctx.stale_wiped,
		    ctx.stale_wiped == 1 ? "y" : "ies");
	ctx.r = r;
	ctx.sk = sk;
	ctx.scratch = cfg.scratch;
	ctx.threads = c.threads;
	if (c.json && (jout = json_array()) == NULL) {
		err_set("out of memory");
		ex = cli_error(&c, ERR_FAIL);
		goto done;
	}

	if ((sub = calloc(n > 0 ? n : 1, sizeof(*sub))) == NULL) {
		err_set("out of memory");
		ex = cli_error(&c, ERR_FAIL);
		goto done;
	}
	for (i = 0; i < nnames; i++) {
		const char *sel;

		/* This dataset's archives, oldest first (shallow copies). */
		for (m = 0, j = 0; j < n; j++)
			if (strcmp(arr[j].name, names[i]) == 0)
				sub[m++] = arr[j];
		if ((rc = drill_config_target(&cfg, names[i], &t)) != ERR_OK)
			goto fail;
		free(idx);
		if ((idx = calloc((size_t)t.samples, sizeof(*idx))) == NULL) {
			err_set("out of memory");
			goto fail;
		}
		sel = drill_pick(sub, m, &t, util_now_us(), idx,
		    &count);
		for (k = 0; k < (count > 0 ? count : 1); k++) {
			struct drill_record rec;

			drill_record_init(&rec);
			rc = count > 0 ? drill_run(&ctx, &sub[idx[k]], sub, m,
			    &t, sel, &rec) : drill_missing(&ctx, names[i], &t,
			    &rec);
			ctx.stale_wiped = 0;
			if (rc != ERR_OK) {
				drill_record_release(&rec);
				goto fail;
			}
			if ((rc = drill_store_put(repo_storage(r), &rec)) !=
			    ERR_OK) {
				/* An unrecorded drill is no evidence. */
				rec.passed = 0;
				err_print("bkp: %s\n", err_get());
			}
			ndrills++;
			nfailed += !rec.passed;
			if (jout != NULL)
				rc = json_add(jout, &rec);
			else if (!c.quiet || !rec.passed)
				print_summary(&rec, ctx.kept, ctx.detail);
			free(ctx.kept);
			ctx.kept = NULL;
			drill_record_release(&rec);
			if (rc != ERR_OK)
				goto fail;
		}
		drill_config_target_release(&t);
	}
	if (jout != NULL) {
		json_t *o = json_pack("{s:b,s:I,s:I,s:o}", "passed",
		    nfailed == 0, "drills", (json_int_t)ndrills, "failed",
		    (json_int_t)nfailed, "records", jout);

		jout = NULL;
		if (o == NULL || json_dumpf(o, stdout, JSON_INDENT(2) |
		    JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) != 0) {
			json_decref(o);
			err_set("cannot write JSON output");
			goto fail;
		}
		putchar('\n');
		json_decref(o);
	} else if (!c.quiet)
		printf("%zu drill%s, %zu failed\n", ndrills,
		    ndrills == 1 ? "" : "s", nfailed);
	ex = nfailed == 0 ? EXIT_OK : EXIT_FAIL;
	goto done;

fail:
	ex = cli_error(&c, rc != ERR_OK ? rc : ERR_FAIL);
done:
	drill_config_target_release(&t);
	json_decref(jout);
	free(idx);
	free(sub);
	free(names);
	repo_archives_free(arr, n);
	keys_secret_free(sk);
	repo_free(r);
	drill_config_release(&cfg);
	cli_release(&c);
	return ex;
}
