/*
 * Passphrase sources: BKP_PASSPHRASE, BKP_PASSPHRASE_FILE, /dev/tty.
 * The passphrase only ever lives in sodium_malloc'ed memory.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "passphrase.h"

#define PASSPHRASE_MAX 4096 /* bytes, also the cap on a passphrase file */

/* New sodium_malloc'ed NUL-terminated copy of s[0..len). */
static char *
secure_dup(const char *s, size_t len)
{
	char *p;

	if ((p = sodium_malloc(len + 1)) == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

static int
from_env(const char *val, char **pw)
{
	size_t len = strlen(val);

	if (len == 0) {
		err_set("empty passphrase refused (BKP_PASSPHRASE is empty)");
		return ERR_USAGE;
	}
	if (len > PASSPHRASE_MAX) {
		err_set("passphrase in BKP_PASSPHRASE is longer than %d bytes",
		    PASSPHRASE_MAX);
		return ERR_USAGE;
	}
	if ((*pw = secure_dup(val, len)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	return ERR_OK;
}

/* First line of the file at path (at most PASSPHRASE_MAX bytes in all). */
static int
from_file(const char *path, char **pw)
{
	char *buf = NULL, *nl;
	size_t len = 0;
	ssize_t n;
	int fd, rc = ERR_USAGE;

	if (path[0] == '\0') {
		err_set("BKP_PASSPHRASE_FILE is set but empty");
		return ERR_USAGE;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		err_set("cannot open passphrase file '%s': %s", path,
		    strerror(errno));
		return ERR_USAGE;
	}
	if ((buf = sodium_malloc(PASSPHRASE_MAX + 1)) == NULL) {
		err_set("out of memory");
		rc = ERR_FAIL;
		goto done;
	}
	/* Read one byte more than the cap to see whether it is exceeded. */
	while (len < PASSPHRASE_MAX + 1) {
		n = read(fd, buf + len, PASSPHRASE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_set("cannot read passphrase file '%s': %s", path,
			    strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > PASSPHRASE_MAX) {
		err_set("passphrase file '%s' is larger than %d bytes", path,
		    PASSPHRASE_MAX);
		goto done;
	}
	if ((nl = memchr(buf, '\n', len)) != NULL)
		len = (size_t)(nl - buf);
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (memchr(buf, '\0', len) != NULL) {
		err_set("passphrase file '%s' contains a NUL byte", path);
		goto done;
	}
	if (len == 0) {
		err_set("empty passphrase refused (first line of '%s')", path);
		goto done;
	}
	buf[len] = '\0';
	*pw = buf;
	buf = NULL;
	rc = ERR_OK;
done:
	sodium_free(buf);
	close(fd);
	return rc;
}

/* Signals that interrupt a prompt; the terminal is restored before they are
 * delivered (as OpenBSD readpassphrase(3) does). */
static const int tty_sigs[] = { SIGALRM, SIGHUP, SIGINT, SIGPIPE, SIGQUIT,
	SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU };
#define NSIGS (sizeof(tty_sigs) / sizeof(tty_sigs[0]))
static volatile sig_atomic_t tty_caught[NSIGS];

static void
tty_handler(int sig)
{
	size_t i;

	for (i = 0; i < NSIGS; i++)
		if (tty_sigs[i] == sig)
			tty_caught[i] = 1;
}

/* Write all of s to fd; errors are ignored (the prompt is a courtesy). */
static void
tty_puts(int fd, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;

	while (len > 0) {
		n = write(fd, s, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

/*
 * Prompt on the terminal fd with echo off and read one line into buf
 * (PASSPHRASE_MAX + 1 bytes).  ERR_USAGE if the line is too long, ERR_FAIL
 * on end of input, error or interruption.
 */
static int
tty_read(int fd, const char *prompt, char *buf)
{
	struct sigaction sa, old[NSIGS];
	struct termios saved, quiet;
	size_t i, len;
	ssize_t n;
	char c;
	int rc, restart, have_term, too_long, eof;

again:
	rc = ERR_FAIL;
	len = 0;
	too_long = eof = 0;
	for (i = 0; i < NSIGS; i++)
		tty_caught[i] = 0;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a signal must end read() */
	sa.sa_handler = tty_handler;
	for (i = 0; i < NSIGS; i++)
		(void)sigaction(tty_sigs[i], &sa, &old[i]);

	/* Refuse rather than read a passphrase that would be echoed. */
	have_term = 0;
	if (tcgetattr(fd, &saved) != 0) {
		err_set("cannot get terminal settings: %s", strerror(errno));
		goto restore;
	}
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	quiet.c_lflag |= ECHONL | ICANON;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
		err_set("cannot turn off echo on terminal: %s",
		    strerror(errno));
		goto restore;
	}
	have_term = 1;
	tty_puts(fd, prompt);
	for (;;) {
		for (i = 0; i < NSIGS && !tty_caught[i]; i++)
			;
		if (i < NSIGS) {
			err_set("passphrase entry interrupted");
			break;
		}
		n = read(fd, &c, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_set("cannot read from terminal: %s",
			    strerror(errno));
			break;
		}
		if (n == 0) {
			eof = 1;
			break;
		}
		if (c == '\n') {
			rc = ERR_OK;
			break;
		}
		if (len < PASSPHRASE_MAX)
			buf[len++] = c;
		else
			too_long = 1;
	}
	sodium_memzero(&c, sizeof(c));
restore:
	if (have_term) {
		(void)tcsetattr(fd, TCSAFLUSH, &saved);
		/* An unfinished line: move off the prompt. */
		if ((saved.c_lflag & ECHO) && rc != ERR_OK)
			tty_puts(fd, "\n");
	}
	for (i = 0; i < NSIGS; i++)
		(void)sigaction(tty_sigs[i], &old[i], NULL);
	/* Deliver what we caught, now that the terminal is sane again. */
	restart = 0;
	for (i = 0; i < NSIGS; i++) {
		if (!tty_caught[i])
			continue;
		(void)kill(getpid(), tty_sigs[i]);
		if (tty_sigs[i] == SIGTSTP || tty_sigs[i] == SIGTTIN ||
		    tty_sigs[i] == SIGTTOU)
			restart = 1;
	}
	if (restart && rc != ERR_OK) {
		sodium_memzero(buf, PASSPHRASE_MAX + 1);
		goto again;
	}
	if (rc == ERR_OK && too_long) {
		err_set("passphrase longer than %d bytes", PASSPHRASE_MAX);
		rc = ERR_USAGE;
	} else if (rc != ERR_OK && eof) {
		err_set("no passphrase entered (end of input)");
	}
	if (rc == ERR_OK) {
		if (len > 0 && buf[len - 1] == '\r')
			len--;
		buf[len] = '\0';
	} else {
		sodium_memzero(buf, PASSPHRASE_MAX + 1);
	}
	return rc;
}

static int
from_tty(int fd, const char *prompt, int confirm, char **pw)
{
	char *a = NULL, *b = NULL;
	int rc = ERR_FAIL;

	a = sodium_malloc(PASSPHRASE_MAX + 1);
	if (confirm)
		b = sodium_malloc(PASSPHRASE_MAX + 1);
	if (a == NULL || (confirm && b == NULL)) {
		err_set("out of memory");
		goto done;
	}
	if ((rc = tty_read(fd, prompt != NULL ? prompt : "Passphrase: ",
	    a)) != 0)
		goto done;
	if (a[0] == '\0') {
		err_set("empty passphrase refused");
		rc = ERR_USAGE;
		goto done;
	}
	if (confirm) {
		if ((rc = tty_read(fd, "Repeat passphrase: ", b)) != 0)
			goto done;
		if (strlen(a) != strlen(b) ||
		    sodium_memcmp(a, b, strlen(a)) != 0) {
			err_set("passphrases do not match");
			rc = ERR_USAGE;
			goto done;
		}
	}
	*pw = a;
	a = NULL;
	rc = ERR_OK;
done:
	sodium_free(b);
	sodium_free(a);
	return rc;
}

int
passphrase_get(const char *prompt, int confirm, char **pw)
{
	const char *v;
	int fd, rc;

	*pw = NULL;
	if (sodium_init() < 0) {
		err_set("cannot initialise libsodium");
		return ERR_FAIL;
	}
	if ((v = getenv("BKP_PASSPHRASE")) != NULL)
		return from_env(v, pw);
	if ((v = getenv("BKP_PASSPHRASE_FILE")) != NULL)
		return from_file(v, pw);
	/* ENXIO without a controlling terminal (cron, setsid): never hang. */
	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		err_set("no passphrase: set BKP_PASSPHRASE or "
		    "BKP_PASSPHRASE_FILE (no terminal to ask on)");
		return ERR_USAGE;
	}
	rc = from_tty(fd, prompt, confirm, pw);
	close(fd);
	return rc;
}

void
passphrase_free(char *pw)
{
	/* sodium_free wipes the whole allocation before freeing it. */
	sodium_free(pw);
}
