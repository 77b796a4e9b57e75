#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_drill.h"
#include "cmd_report.h"
#include "drill_config.h"
#include "drill_metrics.h"
#include "drill_record.h"
#include "drill_store.h"
#include "err.h"
#include "repo.h"
#include "report.h"
#include "util.h"

#ifndef BKP_VERSION
#define BKP_VERSION "unknown"
#endif

static const char usage[] =
"usage: bkp report -r REPO [-k KEY] [--config FILE] [--since DATE]\n"
"                  [--format html|json|md] [--out FILE] [--rto DUR] [--rpo DUR]\n"
"Write the disaster-recovery evidence report: gaps and failures, inventory,\n"
"integrity, drill history with an RTO/RPO chart, the drill-record chain and\n"
"the HIPAA mapping.  No key is needed: the report reads records only.\n";

enum {
	OPT_CONFIG = CLI_OPT_FIRST_CMD, OPT_SINCE, OPT_FORMAT, OPT_OUT,
	OPT_RTO, OPT_RPO
};

static const struct option own_opts[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "rto", required_argument, NULL, OPT_RTO },
	{ "rpo", required_argument, NULL, OPT_RPO },
	{ NULL, 0, NULL, 0 }
};

int
cmd_report(int argc, char **argv)
{
	struct cli c;
	struct drill_config cfg;
	struct report_input in;
	struct repo *r = NULL;
	struct repo_archive *arr = NULL;
	struct drill_record *dr = NULL;
	struct drill_verification *ver = NULL;
	struct cmd_drill_setting set[2];
	const char *config = NULL, *out = NULL, *rto = NULL, *rpo = NULL;
	char *tmp = NULL;
	size_t n = 0, nd = 0, nset = 0;
	int ch, x, ex = EXIT_FAIL, rc, format = REPORT_HTML, fd = -1;
	FILE *f = NULL;

	cli_init(&c, argv[0]);
	memset(&in, 0, sizeof(in));
	if (drill_config_init(&cfg) != ERR_OK)
		return cli_error(&c, ERR_FAIL);
	while ((x = cli_getopt(&c, argc, argv, CLI_SHORTOPTS, own_opts, usage,
	    &ch)) == 1) {
		switch (ch) {
		case OPT_CONFIG:
			config = optarg;
			break;
		case OPT_SINCE:
			if (drill_metrics_parse_time(optarg, &in.since_us) !=
			    0) {
				ex = cli_usage_error(&c, "bad date '%s' (use "
				    "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)",
				    optarg);
				goto done;
			}
			break;
		case OPT_FORMAT:
			if ((format = report_format_parse(optarg)) < 0) {
				ex = cli_usage_error(&c, "bad format '%s' "
				    "(html, json or md)", optarg);
				goto done;
			}
			break;
		case OPT_OUT:
			out = optarg;
			break;
		case OPT_RTO:
			rto = optarg;
			break;
		case OPT_RPO:
			rpo = optarg;
			break;
		default:
			ex = cli_bad_option(&c, argv);
			goto done;
		}
	}
	if (x < 0) {
		ex = c.exit;
		goto done;
	}
	if (rto != NULL) {
		set[nset].key = "rto";
		set[nset++].value = rto;
	}
	if (rpo != NULL) {
		set[nset].key = "rpo";
		set[nset++].value = rpo;
	}
	if ((ex = cmd_drill_settings(&c, argc, argv, &cfg, config, set,
	    nset)) != 0)
		goto done;
	if ((ex = cli_open_repo(&c, &r)) != 0)
		goto done;
	ex = EXIT_FAIL;
	in.repo_id = repo_config(r)->id;
	in.version = BKP_VERSION;
	in.now_us = util_now_us();
	in.cfg = &cfg;
	if ((rc = repo_list(r, NULL, &arr, &n, &in.ar_bad)) != ERR_OK ||
	    (rc = drill_store_load(repo_storage(r), &dr, &nd, &in.dr_bad,
	    &in.chain_breaks)) != ERR_OK ||
	    (rc = drill_store_verifications(repo_storage(r), &ver, &in.nver,
	    &in.ver_bad)) != ERR_OK) {
		ex = cli_error(&c, rc);
		goto done;
	}
	in.ar = arr;
	in.nar = n;
	in.dr = dr;
	in.ndr = nd;
	in.ver = ver;

	/* Write to a temporary file renamed into place: never half a
	 * report under the name an auditor receives. */
	if (out != NULL && strcmp(out, "-") != 0) {
		if (asprintf(&tmp, "%s.tmpXXXXXX", out) < 0) {
			tmp = NULL;
			err_set("out of memory");
			ex = cli_error(&c, ERR_FAIL);
			goto done;
		}
		if ((fd = mkstemp(tmp)) < 0 || (f = fdopen(fd, "w")) == NULL) {
			err_set("cannot create '%s': %s", tmp, strerror(errno));
			ex = cli_error(&c, ERR_FAIL);
			goto done;
		}
		fd = -1;
		(void)fchmod(fileno(f), 0644);
	}
	rc = report_render(&in, (enum report_format)format, f != NULL ? f :
	    stdout);
	if (f != NULL) {
		if (fclose(f) != 0 && rc == ERR_OK) {
			err_set("cannot write '%s': %s", out, strerror(errno));
			rc = ERR_FAIL;
		}
		f = NULL;
		if (rc == ERR_OK && rename(tmp, out) != 0) {
			err_set("cannot rename to '%s': %s", out,
			    strerror(errno));
			rc = ERR_FAIL;
		}
	}
	if (rc != ERR_OK) {
		ex = cli_error(&c, rc);
		goto done;
	}
	if (!c.quiet && out != NULL && strcmp(out, "-") != 0) {
		long gaps = report_gap_count(&in);

		err_print("bkp: report written to %s (%zu archives, %zu "
		    "drills, %ld gaps and failures)\n", out, n, nd, gaps);
	}
	ex = EXIT_OK;
done:
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (tmp != NULL) {
		(void)unlink(tmp);
		free(tmp);
	}
	free(ver);
	drill_store_free(dr, nd);
	repo_archives_free(arr, n);
	repo_free(r);
	drill_config_release(&cfg);
	cli_release(&c);
	return ex;
}
