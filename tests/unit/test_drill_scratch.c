/* Scratch environments: private, locked, wiped, stale ones swept. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drill_scratch.h"
#include "err.h"
#include "support.h"

static const char *base;

static void
setup(void)
{
	base = support_tmpdir("drill_scratch");
}

/* The module's own rmtree: the filled trees have read-only directories,
 * which support_cleanup() would not get through. */
static void
teardown(void)
{
	drill_scratch_rmtree(base);
}

TestSuite(drill_scratch, .init = setup, .fini = teardown);

/* Fill a tree that is awkward to remove: read-only dirs, a symlink out. */
static void
fill(const char *data)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cd %s && mkdir -p a/b/c && echo x > "
	    "a/b/c/f && ln -s /etc/hostname a/link && ln -s / a/root && "
	    "chmod 0500 a/b/c a/b && chmod 0400 a/b/c/f", data);
	cr_assert_eq(system(cmd), 0);
}

Test(drill_scratch, create_is_private_and_wipe_removes_all)
{
	struct drill_scratch s;
	struct stat st;

	cr_assert_eq(drill_scratch_create(base, &s), ERR_OK, "%s", err_get());
	cr_assert_eq(stat(s.dir, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0700);
	cr_assert_eq(stat(s.data, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0700);
	cr_expect(strstr(s.dir, DRILL_SCRATCH_PREFIX) != NULL);
	fill(s.data);
	cr_assert_eq(drill_scratch_wipe(&s), ERR_OK, "%s", err_get());
	cr_expect_eq(support_count_dir(base), 0);
	cr_expect(access("/etc/hostname", F_OK) == 0, "followed a symlink");
}

Test(drill_scratch, live_drill_is_not_swept)
{
	struct drill_scratch s;
	uint64_t n = 9;

	cr_assert_eq(drill_scratch_create(base, &s), ERR_OK);
	cr_assert_eq(drill_scratch_sweep(base, &n), ERR_OK);
	cr_expect_eq(n, 0);
	cr_expect(access(s.data, F_OK) == 0);
	cr_assert_eq(drill_scratch_wipe(&s), ERR_OK);
}

/* Fork a "drill" that creates an environment, fills it and waits to be
 * killed; with own_group, in a process group of its own (with its
 * guardian).  Returns its pid once the environment is ready. */
static pid_t
start_drill(int own_group)
{
	struct drill_scratch s;
	int pfd[2];
	char c;
	pid_t pid;

	cr_assert_eq(pipe(pfd), 0);
	if ((pid = fork()) == 0) {
		if (own_group)
			setpgid(0, 0);
		if (drill_scratch_create(base, &s) != ERR_OK)
			_exit(1);
		fill(s.data);
		(void)!write(pfd[1], "r", 1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	cr_assert_eq(read(pfd[0], &c, 1), 1);
	close(pfd[0]);
	cr_assert_eq(support_count_dir(base), 1);
	return pid;
}

Test(drill_scratch, killed_drill_is_wiped_by_its_guardian)
{
	int status, i;
	pid_t pid = start_drill(0);

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	for (i = 0; i < 100 && support_count_dir(base) != 0; i++)
		usleep(50000);
	cr_expect_eq(support_count_dir(base), 0, "the guardian did not wipe");
}

Test(drill_scratch, killed_drill_and_guardian_are_swept)
{
	char other[128];
	uint64_t n = 0;
	int status, i;
	pid_t pid = start_drill(1);

	/* the whole group, as a cron timeout would */
	kill(-pid, SIGKILL);
	waitpid(pid, &status, 0);
	snprintf(other, sizeof(other), "%s/bkp-drill-unmarked", base);
	cr_assert_eq(mkdir(other, 0700), 0);
	/* the guardian's copy of the lock goes when it is gone */
	for (i = 0; i < 100; i++) {
		cr_assert_eq(drill_scratch_sweep(base, &n), ERR_OK, "%s",
		    err_get());
		if (n > 0)
			break;
		usleep(50000);
	}
	cr_expect_eq(n, 1);
	cr_expect_eq(support_count_dir(base), 1, "only the unmarked dir stays");
}

Test(drill_scratch, kept_environment_is_not_swept)
{
	struct drill_scratch s;
	char data[256];
	uint64_t n = 0;

	cr_assert_eq(drill_scratch_create(base, &s), ERR_OK);
	snprintf(data, sizeof(data), "%s", s.data);
	drill_scratch_release(&s);
	cr_assert_eq(drill_scratch_sweep(base, &n), ERR_OK);
	cr_expect_eq(n, 0);
	cr_expect(access(data, F_OK) == 0);
}

Test(drill_scratch, free_space_and_bad_base)
{
	struct drill_scratch s;
	uint64_t avail = 0;

	cr_expect_eq(drill_scratch_free(base, &avail), ERR_OK);
	cr_expect(avail > 0);
	cr_expect_eq(drill_scratch_free("/nonexistent/x", &avail), ERR_FAIL);
	cr_expect_eq(drill_scratch_create("/nonexistent/x", &s), ERR_FAIL);
}
