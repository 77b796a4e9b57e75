#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "cmds.h"
#include "err.h"
#include "keys.h"
#include "repo.h"
#include "restore.h"
#include "util.h"

#define MAX_INCLUDES 256

static const char usage[] =
"usage: bkp restore -r REPO -k KEY ARCHIVE --target DIR [--include PATTERN ...]\n"
"                   [--overwrite] [-q] [--json]\n"
"\n"
"Restore ARCHIVE (an id, a unique id prefix, NAME:latest or latest) into\n"
"DIR (created, mode 0700, if missing).  With --include only matching paths\n"
"(and everything below matching directories) are restored, and only the\n"
"chunks holding them are read.  Every file is checked against the size and\n"
"hash (BLAKE3) recorded at backup time.  Entries with absolute paths or '..'\n"
"are refused, nothing is written through a symlink, and existing files are\n"
"never replaced unless --overwrite is given.\n"
"\n"
"  -k, --key FILE        secret key (or BKP_KEY_FILE); passphrase from\n"
"                        BKP_PASSPHRASE, BKP_PASSPHRASE_FILE or a prompt\n"
"  -t, --target DIR      where to restore (required)\n"
"  -i, --include PATTERN restore only matching paths (repeatable)\n"
"  --overwrite           replace existing files (a new file is renamed over\n"
"                        the old name: other hard links keep the old data)\n"
"  --devices             create device nodes (withheld by default)\n"
"  --setuid              keep setuid and setgid bits of files (withheld by\n"
"                        default; directories keep their setgid bit)\n"
"  --xattrs WHICH        extended attributes to restore: user (default: the\n"
"                        user.* namespace), all (also security.*, such as\n"
"                        capabilities, and trusted.*), or none\n"
"  --threads N           fetch/decrypt threads (default: cores, 4+ for S3)\n"
"\n"
"What a forged archive could abuse when restored as root (device nodes,\n"
"setuid programs, capabilities) is withheld unless asked for; each item\n"
"withheld is named on stderr and the exit status is 3.\n"
"\n"
"Exit status: 0 ok, 1 failure or entries not restored, 2 usage, 3 restored\n"
"with items withheld by policy, 10 no repository, 12 wrong key or\n"
"passphrase.\n";

void
cmd_restore_progress(void *arg, const struct restore_stats *st,
    uint64_t total)
{
	char done[32], all[32], rate[32], eta[32];
	double *t0 = arg, el = util_mono() - *t0, r;

	r = el > 0 ? (double)st->bytes / el : 0;
	util_human(st->bytes, done, sizeof(done));
	util_human(total, all, sizeof(all));
	util_human((uint64_t)r, rate, sizeof(rate));
	if (r > 0 && total > st->bytes)
		util_duration((double)(total - st->bytes) / r, eta, sizeof(eta));
	else
		snprintf(eta, sizeof(eta), "-");
	cli_progress("%llu files, %s of %s, %s/s, ETA %s",
	    (unsigned long long)st->files, done, all, rate, eta);
}

int
cmd_restore(int argc, char **argv)
{
	static const struct option own[] = {
		{ "target", required_argument, NULL, 't' },
		{ "include", required_argument, NULL, 'i' },
		{ "overwrite", no_argument, NULL, CLI_OPT_FIRST_CMD },
		{ "devices", no_argument, NULL, CLI_OPT_FIRST_CMD + 1 },
		{ "setuid", no_argument, NULL, CLI_OPT_FIRST_CMD + 2 },
		{ "xattrs", required_argument, NULL, CLI_OPT_FIRST_CMD + 3 },
		{ NULL, 0, NULL, 0 }
	};
	static volatile sig_atomic_t cancel;
	const char *includes[MAX_INCLUDES];
	struct restore_opts o;
	struct restore_stats st;
	struct repo_archive a;
	struct keys_secret *sk = NULL;
	struct repo *r = NULL;
	struct cli c;
	char sz[32], dur[32];
	double t0;
	int ch, x, rc = EXIT_USAGE, have_a = 0;

	memset(&o, 0, sizeof(o));
	cli_init(&c, "restore");
	while ((x = cli_getopt(&c, argc, argv, CLI_SHORTOPTS "t:i:", own, usage,
	    &ch)) == 1) {
		switch (ch) {
		case 't':
			o.target = optarg;
			break;
		case 'i':
			if (o.ninclude == MAX_INCLUDES) {
				rc = cli_usage_error(&c, "too many --include");
				goto done;
			}
			includes[o.ninclude++] = optarg;
			break;
		case CLI_OPT_FIRST_CMD:
			o.overwrite = 1;
			break;
		case CLI_OPT_FIRST_CMD + 1:
			o.devices = 1;
			break;
		case CLI_OPT_FIRST_CMD + 2:
			o.setuid = 1;
			break;
		case CLI_OPT_FIRST_CMD + 3:
			if (strcmp(optarg, "user") == 0)
				o.xattrs = RESTORE_XATTRS_USER;
			else if (strcmp(optarg, "all") == 0)
				o.xattrs = RESTORE_XATTRS_ALL;
			else if (strcmp(optarg, "none") == 0)
				o.xattrs = RESTORE_XATTRS_NONE;
			else {
				rc = cli_usage_error(&c, "--xattrs takes user, "
				    "all or none, not '%s'", optarg);
				goto done;
			}
			break;
		default:
			rc = cli_bad_option(&c, argv);
			goto done;
		}
	}
	if (x < 0) {
		rc = c.exit;
		goto done;
	}
	if (optind != argc - 1) {
		rc = cli_usage_error(&c, "give exactly one ARCHIVE");
		goto done;
	}
	if (o.target == NULL || *o.target == '\0') {
		rc = cli_usage_error(&c, "--target is required");
		goto done;
	}
	if ((rc = cli_open_repo(&c, &r)) != 0)
		goto done;
	if ((x = repo_find(r, argv[optind], &a)) != ERR_OK) {
		rc = cli_error(&c, x);
		goto done;
	}
	have_a = 1;
	if ((rc = cli_load_key(&c, &sk)) != 0)
		goto done;
	cli_catch_signals(&cancel);
	o.include = includes;
	o.threads = c.threads;
	o.cancel = &cancel;
	o.warn = cli_warn;
	t0 = util_mono();
	if (cli_show_progress(&c)) {
		o.progress_cb = cmd_restore_progress;
		o.arg = &t0;
	}
	x = restore_run(r, &a, sk, &o, &st);
	cli_progress_done();
	if (c.json)
		cli_print_json(json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, "
		    "s:I, s:I, s:f, s:s?}", "id", a.id, "target", o.target, "ok",
		    x == ERR_OK, "files", (json_int_t)st.files, "bytes",
		    (json_int_t)st.bytes, "fetched", (json_int_t)st.fetched,
		    "skipped", (json_int_t)st.skipped, "withheld",
		    (json_int_t)st.withheld, "mismatches",
		    (json_int_t)st.mismatches, "seconds", st.t_wall, "error",
		    x == ERR_OK ? NULL : err_get()));
	if (x != ERR_OK) {
		rc = cli_error(&c, x);
		goto done;
	}
	if (!c.quiet && !c.json) {
		util_human(st.bytes, sz, sizeof(sz));
		util_duration(st.t_wall, dur, sizeof(dur));
		err_print("bkp: restored %s of '%s' into '%s': %llu "
		    "file%s, %s, %s\n", a.id, a.name, o.target,
		    (unsigned long long)st.files, st.files == 1 ? "" : "s", sz,
		    dur);
	}
	rc = EXIT_OK;
	if (st.withheld > 0) {
		if (!c.json)
			err_print("bkp: %llu item%s withheld by policy "
			    "(see above; --devices, --setuid, --xattrs=all "
			    "restore them)\n", (unsigned long long)st.withheld,
			    st.withheld == 1 ? "" : "s");
		rc = EXIT_WARN;
	}
done:
	if (have_a)
		repo_archive_release(&a);
	keys_secret_free(sk);
	repo_free(r);
	cli_release(&c);
	return rc;
}
