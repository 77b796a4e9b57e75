#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"

/* Room for two paths of 64 KiB, the longest a manifest holds, and the
 * reason: a message is never cut short before what it is about. */
static _Thread_local char errbuf[132 << 10];

void
err_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
}

void
err_prefix(const char *fmt, ...)
{
	char pre[256];
	size_t n, old = strlen(errbuf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	n = strlen(pre);
	if (n + old >= sizeof(errbuf))
		old = sizeof(errbuf) - 1 - n;
	memmove(errbuf + n, errbuf, old);
	memcpy(errbuf, pre, n);
	errbuf[n + old] = '\0';
}

const char *
err_get(void)
{
	return errbuf[0] != '\0' ? errbuf : "unknown error";
}

void
err_clear(void)
{
	errbuf[0] = '\0';
}

int
err_exit_code(int status)
{
	switch (status) {
	case ERR_OK:
		return EXIT_OK;
	case ERR_KEY:
		return EXIT_KEY;
	case ERR_NOREPO:
		return EXIT_NOREPO;
	case ERR_LOCKED:
		return EXIT_LOCKED;
	case ERR_USAGE:
		return EXIT_USAGE;
	default:
		return EXIT_FAIL;
	}
}

void
err_print(const char *fmt, ...)
{
	char *msg, *esc;
	size_t len;
	va_list ap;
	int n, nl;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		fputs("bkp: out of memory\n", stderr);
		return;
	}
	len = (size_t)n;
	nl = len > 0 && msg[len - 1] == '\n';
	if ((esc = malloc(4 * len + 2)) != NULL) {
		len = util_escape(msg, len - (size_t)nl, esc);
		if (nl)
			esc[len++] = '\n';
		fwrite(esc, 1, len, stderr);
		free(esc);
	} else
		fputs("bkp: out of memory\n", stderr);
	free(msg);
}
