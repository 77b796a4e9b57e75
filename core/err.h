#ifndef BKP_ERR_H
#define BKP_ERR_H

/*
 * One error message per thread.  Engine code that fails calls err_set() with
 * the best description it has (naming the object at fault) and returns a
 * status; only a command front end prints it, once, as "bkp: MSG".
 */

/* Status codes shared by engines; command front ends map them to exit codes. */
enum {
	ERR_OK = 0,
	ERR_FAIL = -1,     /* generic failure; message set */
	ERR_NOTFOUND = -2, /* object or archive does not exist */
	ERR_CORRUPT = -3,  /* authentication or structure check failed */
	ERR_KEY = -4,      /* wrong key or passphrase */
	ERR_NOREPO = -5,   /* no repository at the given location */
	ERR_LOCKED = -6,   /* repository locked by another process */
	ERR_USAGE = -7,    /* bad argument discovered by an engine */
	ERR_EXISTS = -8    /* object exists and may not be overwritten */
};

/* Exit codes (documented in README.md; stable for cron). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_WARN = 3,
	EXIT_NOREPO = 10,
	EXIT_LOCKED = 11,
	EXIT_KEY = 12
};

/* err_set(fmt, ...): replace this thread's message.  Never pass secrets. */
void err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* err_prefix(fmt, ...): prepend context ("reading 'x': ") to the message. */
void err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * err_print(fmt, ...): print a message to stderr, every control character
 * in it escaped (util_escape) but a final newline, so that names from an
 * archive or a repository (ESC, BEL, CR, ...) never reach the terminal or
 * a log raw.  Every message a command prints goes through it.
 */
void err_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* err_get(): this thread's message, or "unknown error" if none was set. */
const char *err_get(void);

/* err_clear(): forget this thread's message. */
void err_clear(void);

/* err_exit_code(status): exit code for an engine status. */
int err_exit_code(int status);

#endif
