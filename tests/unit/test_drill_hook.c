/* Validation hooks: exit status, timeout, process groups, output bounds. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drill_hook.h"
#include "drill_record.h"
#include "err.h"

/* 1 if pid is running (a zombie waiting for its reaper is not). */
static int
running(long pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	int live = 0;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    (p = strrchr(buf, ')')) != NULL)
		live = p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return live;
}

static void
release(struct drill_hook_result *h)
{
	free(h->command);
	free(h->output);
}

Test(drill_hook, success_sees_cwd_and_environment)
{
	const char *env[] = { "BKP_DRILL_DATASET=ehr",
		"BKP_DRILL_ARCHIVE=abcd", NULL };
	struct drill_hook_result h;

	setenv("BKP_PASSPHRASE", "secret-must-not-leak", 1);
	cr_assert_eq(drill_hook_run("pwd; echo \"$BKP_DRILL_DATASET "
	    "$BKP_DRILL_ARCHIVE\"; echo \"pw=${BKP_PASSPHRASE:-unset}\"",
	    "/tmp", env, 10, -1, &h), ERR_OK);
	cr_expect_eq(h.passed, 1);
	cr_expect_eq(h.exit_code, 0);
	cr_expect_eq(h.timed_out, 0);
	cr_expect_str_eq(h.output, "/tmp\nehr abcd\npw=unset\n");
	unsetenv("BKP_PASSPHRASE");
	release(&h);
}

Test(drill_hook, failure_exit_code)
{
	struct drill_hook_result h;

	cr_assert_eq(drill_hook_run("echo oops >&2; exit 3", "/", NULL, 10, -1,
	    &h), ERR_OK);
	cr_expect_eq(h.passed, 0);
	cr_expect_eq(h.exit_code, 3);
	cr_expect_str_eq(h.output, "oops\n");
	release(&h);
}

Test(drill_hook, killed_by_signal)
{
	struct drill_hook_result h;

	cr_assert_eq(drill_hook_run("kill -9 $$", "/", NULL, 10, -1, &h), ERR_OK);
	cr_expect_eq(h.passed, 0);
	cr_expect_eq(h.signal, 9);
	cr_expect_eq(h.exit_code, -1);
	release(&h);
}

Test(drill_hook, timeout_kills_the_whole_group)
{
	char pidfile[] = "/tmp/test_drill_hookXXXXXX", cmd[256];
	struct drill_hook_result h;
	FILE *f;
	int fd = mkstemp(pidfile);
	long pid = 0;

	cr_assert(fd >= 0);
	close(fd);
	/* a grandchild that would outlive a naive kill of the shell */
	snprintf(cmd, sizeof(cmd), "sleep 30 & echo $! > %s; wait", pidfile);
	cr_assert_eq(drill_hook_run(cmd, "/", NULL, 0.3, -1, &h), ERR_OK);
	cr_expect_eq(h.timed_out, 1);
	cr_expect_eq(h.passed, 0);
	cr_expect(h.seconds < 5, "took %f s", h.seconds);
	cr_assert((f = fopen(pidfile, "r")) != NULL);
	cr_assert_eq(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	usleep(100000);
	cr_expect(!running(pid), "grandchild %ld survived", pid);
	unlink(pidfile);
	release(&h);
}

Test(drill_hook, background_leftovers_do_not_block)
{
	struct drill_hook_result h;

	/* exits at once but leaves a child holding the output pipe */
	cr_assert_eq(drill_hook_run("sleep 30 & echo started", "/", NULL, 10, -1,
	    &h), ERR_OK);
	cr_expect_eq(h.passed, 1);
	cr_expect(h.seconds < 5, "took %f s", h.seconds);
	cr_expect_str_eq(h.output, "started\n");
	release(&h);
}

Test(drill_hook, output_is_bounded_and_sanitised)
{
	struct drill_hook_result h;

	cr_assert_eq(drill_hook_run("printf '\\001\\377ok\\n'; head -c 100000 "
	    "/dev/zero | tr '\\0' x", "/", NULL, 10, -1, &h), ERR_OK);
	cr_expect_eq(h.passed, 1);
	cr_expect_eq(h.truncated, 1);
	cr_expect_eq(strlen(h.output), DRILL_HOOK_OUTPUT_MAX - 1);
	cr_expect_eq(strncmp(h.output, "??ok\nxxx", 8), 0);
	release(&h);
}

Test(drill_hook, missing_directory)
{
	struct drill_hook_result h;

	cr_assert_eq(drill_hook_run("true", "/nonexistent/dir", NULL, 10, -1, &h),
	    ERR_OK);
	cr_expect_eq(h.passed, 0);
	cr_expect_eq(h.exit_code, 127);
	release(&h);
}
