#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "err.h"
#include "keys.h"
#include "passphrase.h"
#include "repo.h"

const struct option cli_longopts[] = {
	{ "repo", required_argument, NULL, 'r' },
	{ "key", required_argument, NULL, 'k' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "json", no_argument, NULL, CLI_OPT_JSON },
	{ "endpoint", required_argument, NULL, CLI_OPT_ENDPOINT },
	{ "region", required_argument, NULL, CLI_OPT_REGION },
	{ "ca-bundle", required_argument, NULL, CLI_OPT_CA },
	{ "profile", required_argument, NULL, CLI_OPT_PROFILE },
	{ "object-lock-days", required_argument, NULL, CLI_OPT_LOCK_DAYS },
	{ "object-lock-mode", required_argument, NULL, CLI_OPT_LOCK_MODE },
	{ "storage-class", required_argument, NULL, CLI_OPT_CLASS },
	{ "parallel", required_argument, NULL, CLI_OPT_PARALLEL },
	{ "path-style", no_argument, NULL, CLI_OPT_PATH_STYLE },
	{ "progress", no_argument, NULL, CLI_OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, CLI_OPT_NOPROGRESS },
	{ "threads", required_argument, NULL, CLI_OPT_THREADS },
	{ NULL, 0, NULL, 0 }
};

void
cli_init(struct cli *c, const char *cmd)
{
	const char *s;

	memset(c, 0, sizeof(*c));
	c->cmd = cmd;
	opterr = 0;    /* cli_bad_option() reports, once */
	c->progress = -1;
	c->sopts.path_style = -1;
	if ((s = getenv("BKP_REPOSITORY")) != NULL && *s != '\0')
		c->repo = s;
	if ((s = getenv("BKP_KEY_FILE")) != NULL && *s != '\0')
		c->key = s;
}

static int
parse_int(const char *s, long lo, long hi, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && *v >= lo && *v <= hi ?
	    0 : -1;
}

int
cli_opt(struct cli *c, int ch, const char *arg)
{
	long v;

	switch (ch) {
	case 'r':
		c->repo = arg;
		return 1;
	case 'k':
		c->key = arg;
		return 1;
	case 'q':
		c->quiet = 1;
		return 1;
	case CLI_OPT_JSON:
		c->json = 1;
		return 1;
	case CLI_OPT_ENDPOINT:
		c->sopts.endpoint = arg;
		return 1;
	case CLI_OPT_REGION:
		c->sopts.region = arg;
		return 1;
	case CLI_OPT_CA:
		c->sopts.ca_bundle = arg;
		return 1;
	case CLI_OPT_PROFILE:
		c->sopts.profile = arg;
		return 1;
	case CLI_OPT_CLASS:
		c->sopts.storage_class = arg;
		return 1;
	case CLI_OPT_PATH_STYLE:
		c->sopts.path_style = 1;
		return 1;
	case CLI_OPT_LOCK_MODE:
		if (strcmp(arg, "COMPLIANCE") != 0 &&
		    strcmp(arg, "GOVERNANCE") != 0) {
			cli_usage_error(c, "--object-lock-mode must be "
			    "COMPLIANCE or GOVERNANCE");
			return -1;
		}
		c->sopts.lock_mode = arg;
		return 1;
	case CLI_OPT_LOCK_DAYS:
		if (parse_int(arg, 1, 36500, &v) != 0) {
			cli_usage_error(c, "--object-lock-days must be 1 to "
			    "36500, not '%s'", arg);
			return -1;
		}
		c->sopts.lock_days = (int)v;
		return 1;
	case CLI_OPT_PARALLEL:
		if (parse_int(arg, 1, 64, &v) != 0) {
			cli_usage_error(c, "--parallel must be 1 to 64");
			return -1;
		}
		c->sopts.parallel = (int)v;
		return 1;
	case CLI_OPT_THREADS:
		if (parse_int(arg, 1, 256, &v) != 0) {
			cli_usage_error(c, "--threads must be 1 to 256");
			return -1;
		}
		c->threads = (int)v;
		return 1;
	case CLI_OPT_PROGRESS:
		c->progress = 1;
		return 1;
	case CLI_OPT_NOPROGRESS:
		c->progress = 0;
		return 1;
	default:
		return 0;
	}
}

struct option *
cli_merge_opts(const struct option *own)
{
	size_t a = 0, b = 0;
	struct option *o;

	while (cli_longopts[a].name != NULL)
		a++;
	while (own != NULL && own[b].name != NULL)
		b++;
	if ((o = calloc(a + b + 1, sizeof(*o))) == NULL) {
		err_print("bkp: out of memory\n");
		exit(EXIT_FAIL);
	}
	memcpy(o, cli_longopts, a * sizeof(*o));
	if (b > 0)
		memcpy(o + a, own, b * sizeof(*o));
	return o;
}

int
cli_error(const struct cli *c, int status)
{
	(void)c;
	err_print("bkp: %s\n", err_get());
	return err_exit_code(status);
}

int
cli_usage_error(const struct cli *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err_print("bkp: %s (see 'bkp %s --help')\n", msg, c->cmd);
	return EXIT_USAGE;
}

int
cli_open_repo(struct cli *c, struct repo **r)
{
	static char ca[PATH_MAX];
	int rc;

	if (c->repo == NULL)
		return cli_usage_error(c, "no repository given (use -r or "
		    "BKP_REPOSITORY)");
	/* Commands may change directory later: make the CA path absolute. */
	if (c->sopts.ca_bundle != NULL && c->sopts.ca_bundle[0] != '/' &&
	    realpath(c->sopts.ca_bundle, ca) != NULL)
		c->sopts.ca_bundle = ca;
	if ((rc = repo_open(c->repo, &c->sopts, r)) != ERR_OK)
		return cli_error(c, rc);
	return 0;
}

int
cli_load_key(struct cli *c, struct keys_secret **sk)
{
	char *pw = NULL;
	int rc;

	if (c->key == NULL)
		return cli_usage_error(c, "no key given (use -k or "
		    "BKP_KEY_FILE)");
	if (access(c->key, R_OK) != 0) {
		err_print("bkp: cannot read key '%s': %s\n", c->key,
		    strerror(errno));
		return EXIT_USAGE;
	}
	if ((rc = passphrase_get("Passphrase for key: ", 0, &pw)) != ERR_OK)
		return cli_error(c, rc);
	rc = keys_load_secret(c->key, pw, sk);
	passphrase_free(pw);
	if (rc != ERR_OK)
		return cli_error(c, rc);
	return 0;
}

int
cli_show_progress(const struct cli *c)
{
	if (c->quiet || c->json)
		return 0;
	if (c->progress >= 0)
		return c->progress;
	return isatty(STDERR_FILENO);
}

int
cli_parse_duration(const char *s, double *secs)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || v < 0)
		return -1;
	if (*end == '\0' || strcmp(end, "s") == 0)
		;
	else if (strcmp(end, "m") == 0)
		v *= 60;
	else if (strcmp(end, "h") == 0)
		v *= 3600;
	else if (strcmp(end, "d") == 0)
		v *= 86400;
	else if (strcmp(end, "w") == 0)
		v *= 7 * 86400;
	else
		return -1;
	*secs = v;
	return 0;
}

int
cli_parse_size(const char *s, unsigned long long *bytes)
{
	unsigned long long v, mul = 1;
	char *end;

	errno = 0;
	if (*s == '-')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	if (*end == 'K' || *end == 'k')
		mul = 1ull << 10;
	else if (*end == 'M')
		mul = 1ull << 20;
	else if (*end == 'G')
		mul = 1ull << 30;
	else if (*end != '\0')
		return -1;
	if (*end != '\0' && end[1] != '\0' && strcmp(end + 1, "iB") != 0 &&
	    strcmp(end + 1, "B") != 0)
		return -1;
	if (v > ~0ull / mul)
		return -1;
	*bytes = v * mul;
	return 0;
}

static int progress_drawn;

void
cli_progress(const char *fmt, ...)
{
	va_list ap;

	fputs("\r", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\033[K", stderr);
	fflush(stderr);
	progress_drawn = 1;
}

void
cli_progress_done(void)
{
	if (progress_drawn)
		fputs("\r\033[K", stderr);
	progress_drawn = 0;
}

void
cli_warn(void *arg, const char *msg)
{
	(void)arg;
	cli_progress_done();
	err_print("bkp: warning: %s\n", msg);
}

static volatile sig_atomic_t *sigflag;

static void
on_signal(int sig)
{
	(void)sig;
	if (sigflag != NULL)
		*sigflag = 1;
}

void
cli_catch_signals(volatile sig_atomic_t *flag)
{
	struct sigaction sa;

	sigflag = flag;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	/* The first signal asks for a clean stop; a second one, default
	 * action, stops at once whatever bkp is waiting for. */
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

void
cli_print_json(json_t *j)
{
	if (j == NULL) {
		err_print("bkp: out of memory\n");
		return;
	}
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	fputc('\n', stdout);
	json_decref(j);
}

int
cli_bad_option(const struct cli *c, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";

	if (optopt != 0 && strchr(CLI_SHORTOPTS, optopt) != NULL)
		return cli_usage_error(c, "option '-%c' needs a value", optopt);
	if (strncmp(arg, "--", 2) == 0 || optopt == 0)
		return cli_usage_error(c, "unknown option or missing value: "
		    "'%s'", arg);
	return cli_usage_error(c, "unknown option '-%c'", optopt);
}

int
cli_getopt(struct cli *c, int argc, char **argv, const char *shortopts,
    const struct option *own, const char *usage, int *ch)
{
	int x;

	if (c->lo == NULL)
		c->lo = cli_merge_opts(own);
	for (;;) {
		if ((*ch = getopt_long(argc, argv, shortopts, c->lo, NULL)) == -1)
			return 0;
		if ((x = cli_opt(c, *ch, optarg)) == 1)
			continue;
		if (x < 0) {
			c->exit = EXIT_USAGE;
			return -1;
		}
		if (*ch == 'h') {
			fputs(usage, stdout);
			c->exit = EXIT_OK;
			return -1;
		}
		if (*ch == '?' || *ch == ':') {
			c->exit = cli_bad_option(c, argv);
			return -1;
		}
		return 1;
	}
}

void
cli_release(struct cli *c)
{
	free(c->lo);
	c->lo = NULL;
}
