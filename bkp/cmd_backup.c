#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "backup.h"
#include "cli.h"
#include "cmds.h"
#include "crypto.h"
#include "err.h"
#include "lock.h"
#include "pin.h"
#include "repo.h"
#include "util.h"

#define MAX_EXCLUDES 256
#define DEFAULT_MAX_CHAIN 30
#define DEFAULT_FULL_EVERY (30 * 86400.0)

static const char usage[] =
"usage: bkp backup -r REPO --name NAME [options] PATH...\n"
"       bkp backup -r REPO --name NAME [--stdin-name FILE] [options] -\n"
"\n"
"Back up files and directories (or standard input, with '-') into a new\n"
"archive of dataset NAME.  Needs no secret key: data is encrypted to the\n"
"repository's recipients.  Prints the new archive's id on stdout.  Paths are\n"
"stored relative ('/data/ehr' is stored as 'data/ehr').\n"
"\n"
"Incremental: when this host made the dataset's newest archive, only new\n"
"and changed files are read and only content no archive of the chain holds\n"
"is stored (unchanged files cost a stat; a changed file costs about the\n"
"change).  Every archive restores whole on its own.  This host keeps a file\n"
"index per dataset (0600, under BKP_STATE_DIR); without a usable one the\n"
"backup is a full one and says why.\n"
"\n"
"  -n, --name NAME       dataset name (required)\n"
"  --stdin-name FILE     name of the file that holds standard input\n"
"                        (default 'stdin')\n"
"  -x, --exclude PATTERN skip paths or names matching PATTERN (repeatable)\n"
"  -l, --level N         zstd level, 1 to 19 (default 3)\n"
"  --full                a full backup, even if an incremental could be made\n"
"  --rehash              read every file, even those whose size, times,\n"
"                        inode and owner say they are unchanged\n"
"  --max-chain N         at most N incrementals after a full (default 30)\n"
"  --full-every DURATION a full when the last is this old (default 30d)\n"
"  --threads N           compression/encryption threads (default: cores,\n"
"                        at most 4; each adds about 12 MiB)\n"
"  -q, --quiet           no summary line\n"
"  --json                print a JSON object with the id and statistics\n"
"  --progress, --no-progress  force the progress line on or off (default:\n"
"                        on when stderr is a terminal)\n"
"\n"
"Exit status: 0 ok, 1 failure (nothing committed), 2 usage, 3 completed\n"
"with warnings (unreadable files skipped), 10 no repository, 11 another\n"
"backup of NAME into REPO is running.\n";

struct bctx {
	int show;
};

/* A background scan sums the sources' sizes so the progress line can show
 * an ETA; it only runs when progress is shown. */
static _Atomic uint64_t scan_total;
static _Atomic int scan_done;

static int
scan_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F && S_ISREG(sb->st_mode))
		scan_total += (uint64_t)sb->st_size;
	return 0;
}

static void *
scan_main(void *arg)
{
	struct backup_opts *o = arg;
	size_t i;

	for (i = 0; i < o->npaths; i++)
		nftw(o->paths[i], scan_one, 32, FTW_PHYS);
	scan_done = 1;
	return NULL;
}

static void
show_progress(void *arg, const struct backup_progress *p)
{
	struct bctx *b = arg;
	char rd[32], st[32], rate[32];

	if (!b->show)
		return;
	util_human(p->bytes, rd, sizeof(rd));
	util_human(p->stored, st, sizeof(st));
	util_human(p->elapsed > 0 ? (uint64_t)(p->bytes / p->elapsed) : 0,
	    rate, sizeof(rate));
	if (scan_done && p->bytes > 0 && scan_total > p->bytes) {
		char all[32], eta[32];

		util_human(scan_total, all, sizeof(all));
		util_duration((double)(scan_total - p->bytes) * p->elapsed /
		    (double)p->bytes, eta, sizeof(eta));
		cli_progress("%llu files, %s of %s read, %s/s, %s stored, "
		    "ETA %s", (unsigned long long)p->files, rd, all, rate, st,
		    eta);
		return;
	}
	cli_progress("%llu files, %s read, %s/s, %s stored",
	    (unsigned long long)p->files, rd, rate, st);
}

/* Why a dataset that has archives gets a full backup: said once. */
static void
full_note(void *arg, const char *why)
{
	(void)arg;
	cli_progress_done();
	err_print("bkp: note: full backup, not an incremental: %s\n", why);
}

int
cmd_backup(int argc, char **argv)
{
	static const struct option own[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "stdin-name", required_argument, NULL, CLI_OPT_FIRST_CMD },
		{ "exclude", required_argument, NULL, 'x' },
		{ "level", required_argument, NULL, 'l' },
		{ "full", no_argument, NULL, CLI_OPT_FIRST_CMD + 1 },
		{ "rehash", no_argument, NULL, CLI_OPT_FIRST_CMD + 2 },
		{ "max-chain", required_argument, NULL, CLI_OPT_FIRST_CMD + 3 },
		{ "full-every", required_argument, NULL, CLI_OPT_FIRST_CMD + 4 },
		{ NULL, 0, NULL, 0 }
	};
	static volatile sig_atomic_t cancel;
	char *excludes[MAX_EXCLUDES];
	struct backup_opts o;
	struct backup_result res;
	struct repo *r = NULL;
	struct bctx bc;
	struct cli c;
	char rd[32], st[32], dur[32];
	const char *stdin_name = NULL;
	char *end;
	long level = 3, chain;
	int ch, x, rc = EXIT_USAGE, lockfd = -1, created, scanning = 0;
	pthread_t scanner;

	memset(&o, 0, sizeof(o));
	o.max_chain = DEFAULT_MAX_CHAIN;
	o.full_every = DEFAULT_FULL_EVERY;
	cli_init(&c, "backup");
	while ((x = cli_getopt(&c, argc, argv, CLI_SHORTOPTS "n:x:l:", own, usage,
	    &ch)) == 1) {
		switch (ch) {
		case 'n':
			o.name = optarg;
			break;
		case CLI_OPT_FIRST_CMD:
			stdin_name = optarg;
			break;
		case 'x':
			if (o.nexcludes == MAX_EXCLUDES) {
				rc = cli_usage_error(&c, "too many --exclude");
				goto done;
			}
			excludes[o.nexcludes++] = optarg;
			break;
		case CLI_OPT_FIRST_CMD + 1:
			o.full = 1;
			break;
		case CLI_OPT_FIRST_CMD + 2:
			o.rehash = 1;
			break;
		case CLI_OPT_FIRST_CMD + 3:
			chain = strtol(optarg, &end, 10);
			if (*end != '\0' || end == optarg || chain < 0 ||
			    chain > REPO_MAX_DEPS - 1) {
				rc = cli_usage_error(&c, "--max-chain must be 0 "
				    "to %d", REPO_MAX_DEPS - 1);
				goto done;
			}
			o.max_chain = (uint32_t)chain;
			break;
		case CLI_OPT_FIRST_CMD + 4:
			if (cli_parse_duration(optarg, &o.full_every) != 0 ||
			    !(o.full_every > 0)) {
				rc = cli_usage_error(&c, "bad --full-every '%s' "
				    "(e.g. 7d, 30d, 12h)", optarg);
				goto done;
			}
			break;
		case 'l':
			level = strtol(optarg, &end, 10);
			if (*end != '\0' || end == optarg || level < 1 ||
			    level > 19) {
				rc = cli_usage_error(&c, "--level must be 1 to "
				    "19");
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
	if (o.name == NULL) {
		rc = cli_usage_error(&c, "--name is required");
		goto done;
	}
	if (!repo_name_ok(o.name)) {
		rc = cli_usage_error(&c, "invalid dataset name '%s' (1-200 "
		    "printable ASCII characters, no spaces, '/' or ':')", o.name);
		goto done;
	}
	if (optind == argc) {
		rc = cli_usage_error(&c, "nothing to back up (give paths, or "
		    "'-' for standard input)");
		goto done;
	}
	o.paths = argv + optind;
	o.npaths = (size_t)(argc - optind);
	if (o.npaths == 1 && strcmp(o.paths[0], "-") == 0) {
		o.stdin_name = stdin_name != NULL ? stdin_name : "stdin";
		if (strchr(o.stdin_name, '/') != NULL ||
		    strcmp(o.stdin_name, "..") == 0 ||
		    strcmp(o.stdin_name, ".") == 0 || *o.stdin_name == '\0') {
			rc = cli_usage_error(&c, "--stdin-name must be a plain "
			    "file name, not '%s'", o.stdin_name);
			goto done;
		}
	} else {
		for (x = 0; x < (int)o.npaths; x++)
			if (strcmp(o.paths[x], "-") == 0) {
				rc = cli_usage_error(&c, "'-' (standard input) "
				    "cannot be mixed with paths");
				goto done;
			}
		if (stdin_name != NULL) {
			rc = cli_usage_error(&c, "--stdin-name needs '-' as the "
			    "only source");
			goto done;
		}
	}
	if ((rc = cli_open_repo(&c, &r)) != 0)
		goto done;
	if ((x = pin_check(c.repo, repo_config(r)->id, repo_config(r)->hash, 0,
	    &created)) != ERR_OK) {
		rc = cli_error(&c, x);
		goto done;
	}
	if ((x = lock_acquire(c.repo, o.name, &lockfd)) != ERR_OK) {
		rc = cli_error(&c, x);
		goto done;
	}
	cli_catch_signals(&cancel);
	bc.show = cli_show_progress(&c);
	o.excludes = excludes;
	o.level = (int)level;
	/* Memory is about (threads + 3) x 2 chunks: cap the default. */
	o.threads = c.threads > 0 ? c.threads : util_ncpu() > 4 ? 4 :
	    util_ncpu();
	o.cancel = &cancel;
	o.warn = cli_warn;
	o.note = full_note;
	o.progress = show_progress;
	o.arg = &bc;
	if (bc.show && o.stdin_name == NULL &&
	    pthread_create(&scanner, NULL, scan_main, &o) == 0)
		scanning = 1;
	x = backup_run(r, &o, &res);
	cli_progress_done();
	if (x != ERR_OK) {
		rc = cli_error(&c, x);
		goto done;
	}
	if (c.json)
		cli_print_json(json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, "
		    "s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:f}", "id", res.id,
		    "name", o.name, "cipher", crypto_cipher_name(res.cipher),
		    "files", (json_int_t)res.files, "bytes",
		    (json_int_t)res.bytes, "read_bytes",
		    (json_int_t)res.read_bytes, "new_bytes",
		    (json_int_t)res.new_bytes, "reused", (json_int_t)res.reused,
		    "stored", (json_int_t)res.stored, "chunks",
		    (json_int_t)res.chunks, "tar_bytes",
		    (json_int_t)res.tar_bytes, "warnings",
		    (json_int_t)res.warnings, "chain", (json_int_t)res.chain,
		    "base", res.base[0] ? json_string(res.base) : json_null(),
		    "seconds", res.seconds));
	else
		printf("%s\n", res.id);
	if (!c.quiet && !c.json) {
		util_human(res.read_bytes, rd, sizeof(rd));
		util_human(res.stored, st, sizeof(st));
		util_duration(res.seconds, dur, sizeof(dur));
		err_print("bkp: backup %s of '%s' (%s): %llu file%s, %s read, "
		    "%s stored, %s%s\n", res.id, o.name, res.chain == 0 ?
		    "full" : "incremental", (unsigned long long)res.files,
		    res.files == 1 ? "" : "s", rd, st, dur, res.warnings ?
		    ", with warnings" : "");
	}
	rc = res.warnings > 0 ? EXIT_WARN : EXIT_OK;
done:
	if (scanning)
		pthread_join(scanner, NULL);
	lock_release(lockfd);
	repo_free(r);
	cli_release(&c);
	return rc;
}
