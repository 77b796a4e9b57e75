#ifndef BKP_DRILL_HOOK_H
#define BKP_DRILL_HOOK_H

#include <stddef.h>

struct drill_hook_result;

/*
 * drill_hook_run(cmd, cwd, env, timeout, notify_fd, res): run cmd with /bin/sh -c in
 * directory cwd, stdin from /dev/null, stdout and stderr captured together
 * (the first DRILL_HOOK_OUTPUT_MAX - 1 bytes kept, sanitised; the rest read
 * and dropped).  env is a NULL-terminated list of "NAME=value" strings
 * added to the environment (BKP_PASSPHRASE is removed).  The hook runs in
 * a process group of its own;
 * after timeout seconds the group gets SIGTERM, and SIGKILL two seconds
 * later.  When the hook exits, whatever it left running in its group is
 * killed too (nothing may keep using the scratch directory).  Fills res
 * (command, exit code or signal, timed_out, seconds, output, passed =
 * exit code 0 in time).  If notify_fd >= 0, "pgid N\n" is written to it
 * when the hook starts and "pgid 0\n" when it has ended (for the scratch
 * guardian, drill_scratch_notify_fd()).  Returns ERR_OK if the hook ran
 * (whatever its result), ERR_FAIL if it could not be started.
 */
int drill_hook_run(const char *cmd, const char *cwd, const char *const *env,
    double timeout, int notify_fd, struct drill_hook_result *res);

#endif
