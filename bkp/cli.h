#ifndef BKP_CLI_H
#define BKP_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stdio.h>

#include "storage.h"

/*
 * What every command front end shares: the repository and key options,
 * S3 options, output mode, and helpers that report errors once (as
 * "bkp: MSG" on stderr) and return the exit code to use.
 */

struct repo;
struct keys_secret;

struct cli {
	const char *cmd;       /* command name, for messages */
	const char *repo;      /* -r / BKP_REPOSITORY */
	const char *key;       /* -k / BKP_KEY_FILE */
	struct storage_opts sopts;
	int quiet;             /* -q */
	int json;              /* --json */
	int progress;          /* 1 on, 0 off, -1 auto (stderr is a TTY) */
	int threads;           /* --threads; 0 = one per core */
	int exit;              /* exit code when cli_getopt() returns -1 */
	struct option *lo;     /* merged long options (cli_getopt) */
};

/* Long-option values for the shared options (>= 0x100). */
enum {
	CLI_OPT_JSON = 0x100, CLI_OPT_ENDPOINT, CLI_OPT_REGION, CLI_OPT_CA,
	CLI_OPT_PROFILE, CLI_OPT_LOCK_DAYS, CLI_OPT_LOCK_MODE, CLI_OPT_CLASS,
	CLI_OPT_PROGRESS, CLI_OPT_NOPROGRESS, CLI_OPT_THREADS, CLI_OPT_PARALLEL,
	CLI_OPT_PATH_STYLE,
	CLI_OPT_FIRST_CMD = 0x200 /* commands number their own options from here */
};

/* The shared short options ("r:k:qh") and long options (terminated by a
 * zero entry), for a command to prepend to its own. */
#define CLI_SHORTOPTS "r:k:qh"
extern const struct option cli_longopts[];

/* cli_init(c, cmd): defaults, then BKP_REPOSITORY / BKP_KEY_FILE. */
void cli_init(struct cli *c, const char *cmd);

/*
 * cli_opt(c, ch, arg): handle a shared option.  Returns 1 if handled, 0 if
 * ch is not a shared option, -1 on a bad value (message printed).
 */
int cli_opt(struct cli *c, int ch, const char *arg);

/*
 * cli_getopt(c, argc, argv, shortopts, own, usage, &ch): the next option
 * the command itself handles (shared ones are applied to c).  Returns 1 with
 * *ch set, 0 after the last option, or -1 when the command must return
 * c->exit now (--help printed usage: 0; a bad option or value was reported:
 * 2).  own lists the command's long options (zero-terminated, may be NULL).
 */
int cli_getopt(struct cli *c, int argc, char **argv, const char *shortopts,
    const struct option *own, const char *usage, int *ch);

/* cli_release(c): free what cli_getopt allocated. */
void cli_release(struct cli *c);

/* cli_merge_opts(own, &merged): cli_longopts followed by own (terminated by
 * a zero entry); free the result with free(). */
struct option *cli_merge_opts(const struct option *own);

/* cli_error(c, status): print "bkp: <err_get()>" and return the exit code
 * for status (err_exit_code). */
int cli_error(const struct cli *c, int status);

/* cli_usage_error(c, fmt, ...): print "bkp CMD: MSG" and a hint, return 2. */
int cli_usage_error(const struct cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* cli_bad_option(c, argv): after getopt_long returned '?' (or anything the
 * command does not know): report the offending option, return 2. */
int cli_bad_option(const struct cli *c, char **argv);

/* cli_open_repo(c, &r): open c->repo; on failure print and return the exit
 * code (10 if there is no repository), else 0. */
int cli_open_repo(struct cli *c, struct repo **r);

/* cli_load_key(c, &sk): ask for the passphrase and load c->key; on failure
 * print and return the exit code (12 for a wrong passphrase), else 0. */
int cli_load_key(struct cli *c, struct keys_secret **sk);

/* cli_show_progress(c): 1 if progress lines should be drawn on stderr. */
int cli_show_progress(const struct cli *c);

/* cli_parse_duration(s, &secs): "90", "90s", "15m", "4h", "2d", "1w". */
int cli_parse_duration(const char *s, double *secs);

/* cli_parse_size(s, &bytes): "65536", "64K", "4M", "1G" (powers of 1024). */
int cli_parse_size(const char *s, unsigned long long *bytes);

/* cli_print_json(j): print j on stdout (indented) and release it. */
struct json_t;
void cli_print_json(struct json_t *j);

/* cli_progress(fmt, ...): redraw the progress line on stderr. */
void cli_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli_progress_done(): erase the progress line if one was drawn. */
void cli_progress_done(void);

/* cli_warn(arg, msg): print "bkp: warning: MSG" (erasing any progress
 * line); fits the engines' warn callbacks. */
void cli_warn(void *arg, const char *msg);

/* cli_catch_signals(flag): the first SIGINT, SIGTERM or SIGHUP sets *flag;
 * a second one has its default effect. */
void cli_catch_signals(volatile sig_atomic_t *flag);

#endif
