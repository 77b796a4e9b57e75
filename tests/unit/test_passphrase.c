/*
 * Unit tests for core/passphrase.c: environment, file, no terminal (a child
 * in its own session), and a real prompt on a pseudo-terminal.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "err.h"
#include "passphrase.h"
#include "support.h"

static void
setup(void)
{
	support_tmpdir("pw");
	unsetenv("BKP_PASSPHRASE");
	unsetenv("BKP_PASSPHRASE_FILE");
}

static void
teardown(void)
{
	support_cleanup();
}

TestSuite(passphrase, .init = setup, .fini = teardown);

Test(passphrase, from_env)
{
	char *pw = NULL;

	setenv("BKP_PASSPHRASE", "  spaces and\ttabs kept ", 1);
	/* The environment variable wins over the file. */
	setenv("BKP_PASSPHRASE_FILE", "/nonexistent/pw", 1);
	cr_assert_eq(passphrase_get("P: ", 1, &pw), ERR_OK, "%s", err_get());
	cr_assert_str_eq(pw, "  spaces and\ttabs kept ");
	passphrase_free(pw);
	passphrase_free(NULL);
}

Test(passphrase, empty_env_refused)
{
	char *pw = (char *)"x";

	setenv("BKP_PASSPHRASE", "", 1);
	cr_assert_eq(passphrase_get("P: ", 0, &pw), ERR_USAGE);
	cr_assert_null(pw);
	cr_assert_not_null(strstr(err_get(), "empty"));
}

static const struct {
	const char *name;
	const char *content;
	size_t len;
	int want;
	const char *pw;
} files[] = {
	{ "newline", "hunter2\n", 8, ERR_OK, "hunter2" },
	{ "crlf", "hunter2\r\n", 9, ERR_OK, "hunter2" },
	{ "no newline", "hunter2", 7, ERR_OK, "hunter2" },
	{ "first line only", "hunter2\nsecond\n", 15, ERR_OK, "hunter2" },
	{ "inner spaces kept", " a b \n", 6, ERR_OK, " a b " },
	{ "empty file", "", 0, ERR_USAGE, NULL },
	{ "empty first line", "\nhunter2\n", 9, ERR_USAGE, NULL },
	{ "only crlf", "\r\n", 2, ERR_USAGE, NULL },
	{ "nul byte", "hun\0ter2\n", 9, ERR_USAGE, NULL },
};

Test(passphrase, from_file)
{
	char *pw;
	size_t i;

	setenv("BKP_PASSPHRASE_FILE", support_path("pw"), 1);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		support_write_file(support_path("pw"), files[i].content,
		    files[i].len);
		pw = (char *)"x";
		cr_expect_eq(passphrase_get("P: ", 1, &pw), files[i].want,
		    "%s: %s", files[i].name, err_get());
		if (files[i].pw != NULL) {
			cr_expect_str_eq(pw, files[i].pw, "%s", files[i].name);
		} else {
			cr_expect_null(pw, "%s", files[i].name);
			cr_expect_not_null(strstr(err_get(),
			    support_path("pw")),
			    "%s: %s", files[i].name, err_get());
		}
		passphrase_free(pw);
	}
}

Test(passphrase, file_size_cap)
{
	char *buf, *pw = NULL;

	buf = malloc(5000);
	cr_assert_not_null(buf);
	memset(buf, 'p', 5000);
	setenv("BKP_PASSPHRASE_FILE", support_path("pw"), 1);
	/* 4096 bytes in all: accepted. */
	buf[4095] = '\n';
	support_write_file(support_path("pw"), buf, 4096);
	cr_assert_eq(passphrase_get(NULL, 0, &pw), ERR_OK, "%s", err_get());
	cr_assert_eq(strlen(pw), 4095);
	passphrase_free(pw);
	/* 4097 bytes: refused, even though the first line is short. */
	buf[5] = '\n';
	support_write_file(support_path("pw"), buf, 4097);
	cr_assert_eq(passphrase_get(NULL, 0, &pw), ERR_USAGE);
	cr_assert_null(pw);
	cr_assert_not_null(strstr(err_get(), support_path("pw")));
	free(buf);
}

Test(passphrase, missing_file)
{
	char *pw = NULL;

	setenv("BKP_PASSPHRASE_FILE", support_path("absent"), 1);
	cr_assert_eq(passphrase_get(NULL, 0, &pw), ERR_USAGE);
	cr_assert_null(pw);
	cr_assert_not_null(strstr(err_get(), support_path("absent")), "%s",
	    err_get());
}

/* What a child reports back through a pipe. */
struct report {
	int rc;
	int echo_on;
	char msg[256];
	char pw[128];
};

static void
child_report(int fd, int rc, char *pw, int ttyfd)
{
	struct report r;
	struct termios t;

	memset(&r, 0, sizeof(r));
	r.rc = rc;
	r.echo_on = -1;
	if (ttyfd >= 0 && tcgetattr(ttyfd, &t) == 0)
		r.echo_on = (t.c_lflag & ECHO) != 0;
	snprintf(r.msg, sizeof(r.msg), "%s", err_get());
	if (pw != NULL)
		snprintf(r.pw, sizeof(r.pw), "%s", pw);
	passphrase_free(pw);
	if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(3);
	_exit(0);
}

static void
read_report(int fd, struct report *r)
{
	size_t got = 0;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	while (got < sizeof(*r)) {
		n = read(fd, (char *)r + got, sizeof(*r) - got);
		if (n == -1 && errno == EINTR)
			continue;
		cr_assert_gt(n, 0, "child sent no report");
		got += (size_t)n;
	}
}

Test(passphrase, no_tty_fails_fast, .timeout = 30)
{
	struct report r;
	int p[2], status, rc;
	pid_t pid;
	char *pw = NULL;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		close(p[0]);
		alarm(10); /* a hang kills the child: no report, test fails */
		if (setsid() == -1)
			_exit(2);
		rc = passphrase_get("P: ", 1, &pw);
		child_report(p[1], rc, pw, -1);
	}
	close(p[1]);
	read_report(p[0], &r);
	close(p[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(r.rc, ERR_USAGE);
	cr_assert_str_eq(r.msg, "no passphrase: set BKP_PASSPHRASE or "
	    "BKP_PASSPHRASE_FILE (no terminal to ask on)");
	cr_assert_str_eq(r.pw, "");
}

/* Append what the terminal shows to out until it ends in want. */
static void
expect(int master, char *out, size_t cap, const char *want)
{
	struct pollfd pfd = { .fd = master, .events = POLLIN };
	size_t len = strlen(out), wl = strlen(want);
	ssize_t n;

	for (;;) {
		if (len >= wl && strcmp(out + len - wl, want) == 0)
			return;
		cr_assert_gt(poll(&pfd, 1, 10000), 0, "timed out waiting for "
		    "'%s', saw '%s'", want, out);
		n = read(master, out + len, cap - 1 - len);
		cr_assert_gt(n, 0, "terminal closed waiting for '%s', saw '%s'",
		    want, out);
		len += (size_t)n;
		out[len] = '\0';
	}
}

static void
drain(int master, char *out, size_t cap)
{
	struct pollfd pfd = { .fd = master, .events = POLLIN };
	size_t len = strlen(out);
	ssize_t n;

	while (len < cap - 1 && poll(&pfd, 1, 200) > 0) {
		n = read(master, out + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		out[len] = '\0';
	}
}

/*
 * Run passphrase_get(prompt, confirm) in a child whose controlling
 * terminal is a new pseudo-terminal; type the given lines after each
 * prompt.  Returns what the terminal showed in shown.
 */
static void
tty_session(int confirm, const char *line1, const char *line2,
    struct report *r, char *shown, size_t cap)
{
	int p[2], master, status, rc;
	pid_t pid;
	char *pw = NULL;

	cr_assert_eq(pipe(p), 0);
	pid = forkpty(&master, NULL, NULL, NULL);
	cr_assert_neq(pid, -1, "forkpty: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		alarm(20);
		rc = passphrase_get("Key passphrase: ", confirm, &pw);
		child_report(p[1], rc, pw, 0);
	}
	close(p[1]);
	shown[0] = '\0';
	expect(master, shown, cap, "Key passphrase: ");
	cr_assert_eq(write(master, line1, strlen(line1)),
	    (ssize_t)strlen(line1));
	if (line2 != NULL) {
		expect(master, shown, cap, "Repeat passphrase: ");
		cr_assert_eq(write(master, line2, strlen(line2)),
		    (ssize_t)strlen(line2));
	}
	read_report(p[0], r);
	close(p[0]);
	drain(master, shown, cap);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(master);
}

Test(passphrase, tty_prompt_confirm, .timeout = 60)
{
	struct report r;
	char shown[4096];

	tty_session(1, "correct horse\n", "correct horse\n", &r, shown,
	    sizeof(shown));
	cr_assert_eq(r.rc, ERR_OK, "%s", r.msg);
	cr_assert_str_eq(r.pw, "correct horse");
	/* Echo was off while typing, and is on again afterwards. */
	cr_assert_null(strstr(shown, "horse"), "echoed: '%s'", shown);
	cr_assert_eq(r.echo_on, 1);
}

Test(passphrase, tty_prompt_once, .timeout = 60)
{
	struct report r;
	char shown[4096];

	tty_session(0, "one line\n", NULL, &r, shown, sizeof(shown));
	cr_assert_eq(r.rc, ERR_OK, "%s", r.msg);
	cr_assert_str_eq(r.pw, "one line");
	cr_assert_null(strstr(shown, "Repeat"));
	cr_assert_null(strstr(shown, "one line"));
}

Test(passphrase, tty_mismatch, .timeout = 60)
{
	struct report r;
	char shown[4096];

	tty_session(1, "correct horse\n", "correct horsf\n", &r, shown,
	    sizeof(shown));
	cr_assert_eq(r.rc, ERR_USAGE);
	cr_assert_str_eq(r.msg, "passphrases do not match");
	cr_assert_str_eq(r.pw, "");
	cr_assert_eq(r.echo_on, 1);
}

Test(passphrase, tty_empty_refused, .timeout = 60)
{
	struct report r;
	char shown[4096];

	tty_session(1, "\n", NULL, &r, shown, sizeof(shown));
	cr_assert_eq(r.rc, ERR_USAGE);
	cr_assert_not_null(strstr(r.msg, "empty"));
	cr_assert_str_eq(r.pw, "");
}

Test(passphrase, tty_restored_on_sigint, .timeout = 60)
{
	struct termios t;
	char shown[4096], *pw = NULL;
	int master, slave, status;
	pid_t pid;

	pid = forkpty(&master, NULL, NULL, NULL);
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		alarm(20);
		(void)passphrase_get("Key passphrase: ", 0, &pw);
		_exit(0); /* not reached: SIGINT is re-raised */
	}
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	cr_assert_geq(slave, 0);
	shown[0] = '\0';
	expect(master, shown, sizeof(shown), "Key passphrase: ");
	cr_assert_eq(tcgetattr(slave, &t), 0);
	cr_assert_eq(t.c_lflag & ECHO, 0, "echo on while prompting");
	usleep(100000); /* let the child reach read() */
	cr_assert_eq(kill(pid, SIGINT), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT,
	    "status %#x", (unsigned)status);
	cr_assert_eq(tcgetattr(slave, &t), 0);
	cr_assert_neq(t.c_lflag & ECHO, 0, "echo left off");
	close(slave);
	close(master);
}
