#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

static _Thread_local char errbuf[1024];

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
	char old[sizeof(errbuf)];
	char pre[sizeof(errbuf)];
	va_list ap;

	memcpy(old, errbuf, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	if (snprintf(errbuf, sizeof(errbuf), "%s%s", pre, old) < 0)
		errbuf[0] = '\0';
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
