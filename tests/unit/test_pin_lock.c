/*
 * Unit tests for core/pin.c (recipient pinning) and core/lock.c (host-local
 * job locks), with BKP_STATE_DIR pointing into a scratch directory.
 */

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "crypto.h"
#include "err.h"
#include "lock.h"
#include "pin.h"
#include "support.h"
#include "util.h"

#define ID1 "00112233445566778899aabbccddeeff"
#define ID2 "00112233445566778899aabbccddeef0"

static const char *tmpdir;

static void
setup(void)
{
	cr_assert_eq(crypto_init(), 0);
	tmpdir = support_tmpdir("pinlock");
	cr_assert_eq(setenv("BKP_STATE_DIR", support_path("state"), 1), 0);
	cr_assert_eq(mkdir(support_path("repo"), 0700), 0);
}

static void
teardown(void)
{
	support_cleanup();
}

TestSuite(pin, .init = setup, .fini = teardown);
TestSuite(lock, .init = setup, .fini = teardown);

Test(pin, created_then_matched)
{
	uint8_t h[32];
	int created = -1;

	memset(h, 0x11, sizeof(h));
	cr_assert_eq(pin_check(support_path("repo"), ID1, h, 0, &created),
	    ERR_OK);
	cr_expect_eq(created, 1);
	cr_expect_eq(support_count_dir(support_path("state/pins")), 1);
	created = -1;
	cr_expect_eq(pin_check(support_path("repo"), ID1, h, 0, &created),
	    ERR_OK);
	cr_expect_eq(created, 0);
	cr_expect_eq(support_count_dir(support_path("state/pins")), 1);
}

Test(pin, file_content_follows_spec)
{
	uint8_t h[32], uh[16];
	char hex[65], uhex[33], path[600], want[128], got[128];
	char real[512];
	int created;
	FILE *f;
	size_t n;

	memset(h, 0xab, sizeof(h));
	cr_assert_eq(pin_check(support_path("repo"), ID1, h, 0, &created),
	    ERR_OK);
	/* STATE/pins/<hex BLAKE2b-128 of the absolute path> */
	cr_assert_not_null(realpath(support_path("repo"), real));
	crypto_generichash(uh, sizeof(uh), (const uint8_t *)real,
	    strlen(real), NULL, 0);
	util_hex(uh, sizeof(uh), uhex);
	snprintf(path, sizeof(path), "%s/pins/%s", support_path("state"), uhex);
	f = fopen(path, "r");
	cr_assert_not_null(f, "no pin at %s", path);
	n = fread(got, 1, sizeof(got) - 1, f);
	fclose(f);
	got[n] = '\0';
	util_hex(h, 32, hex);
	snprintf(want, sizeof(want), "%s %s\n", ID1, hex);
	cr_expect_str_eq(got, want);
}

Test(pin, mismatch_refused)
{
	uint8_t h[32], h2[32];
	int created = -1;

	memset(h, 0x11, sizeof(h));
	memcpy(h2, h, sizeof(h));
	h2[31] ^= 1;
	cr_assert_eq(pin_check(support_path("repo"), ID1, h, 0, &created),
	    ERR_OK);
	cr_expect_eq(pin_check(support_path("repo"), ID1, h2, 0, &created),
	    ERR_CORRUPT, "different config hash");
	cr_expect_eq(created, 0);
	cr_expect_eq(pin_check(support_path("repo"), ID2, h, 0, &created),
	    ERR_CORRUPT, "different repository id");
	cr_expect_eq(pin_check(support_path("repo"), ID2, h2, 0, &created),
	    ERR_CORRUPT, "both different");
	/* the refusals did not change the pin */
	cr_expect_eq(pin_check(support_path("repo"), ID1, h, 0, &created),
	    ERR_OK);
}

Test(pin, replace_overwrites)
{
	uint8_t h[32], h2[32];
	int created = -1;

	memset(h, 0x11, sizeof(h));
	memset(h2, 0x22, sizeof(h2));
	cr_assert_eq(pin_check(support_path("repo"), ID1, h, 0, &created),
	    ERR_OK);
	cr_assert_eq(pin_check(support_path("repo"), ID2, h2, 1, &created),
	    ERR_OK);
	cr_expect_eq(created, 1);
	cr_expect_eq(pin_check(support_path("repo"), ID2, h2, 0, &created),
	    ERR_OK);
	cr_expect_eq(created, 0);
	cr_expect_eq(pin_check(support_path("repo"), ID1, h, 0, &created),
	    ERR_CORRUPT);
	/* no temporaries left in pins/ */
	cr_expect_eq(support_count_dir(support_path("state/pins")), 1);
}

Test(pin, same_directory_two_names_one_pin)
{
	uint8_t h[32], h2[32];
	char cwd[512], alias[600];
	int created;

	memset(h, 0x11, sizeof(h));
	memset(h2, 0x22, sizeof(h2));
	cr_assert_eq(pin_check(support_path("repo"), ID1, h, 0, &created),
	    ERR_OK);
	/* "dir/./repo/" and a relative path name the same repository */
	snprintf(alias, sizeof(alias), "%s/./repo/", tmpdir);
	cr_expect_eq(pin_check(alias, ID1, h2, 0, &created), ERR_CORRUPT);
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir(tmpdir), 0);
	cr_expect_eq(pin_check("repo", ID1, h2, 0, &created), ERR_CORRUPT);
	cr_expect_eq(pin_check("repo", ID1, h, 0, &created), ERR_OK);
	cr_expect_eq(created, 0);
	cr_assert_eq(chdir(cwd), 0);
}

Test(pin, locations_are_independent)
{
	uint8_t h[32], h2[32];
	int created;

	memset(h, 0x11, sizeof(h));
	memset(h2, 0x22, sizeof(h2));
	cr_assert_eq(mkdir(support_path("repo2"), 0700), 0);
	cr_assert_eq(pin_check(support_path("repo"), ID1, h, 0, &created),
	    ERR_OK);
	cr_assert_eq(pin_check(support_path("repo2"), ID2, h2, 0, &created),
	    ERR_OK);
	cr_expect_eq(created, 1);
	cr_assert_eq(pin_check("s3://bucket/prefix", ID1, h2, 0, &created),
	    ERR_OK);
	cr_expect_eq(created, 1);
	cr_expect_eq(pin_check("s3://bucket/prefix", ID1, h, 0, &created),
	    ERR_CORRUPT);
	cr_expect_eq(support_count_dir(support_path("state/pins")), 3);
}

Test(pin, garbled_pin_file_refused)
{
	uint8_t h[32];
	char path[600];
	struct dirent *de;
	int created;
	DIR *d;
	FILE *f;

	memset(h, 0x11, sizeof(h));
	cr_assert_eq(pin_check(support_path("repo"), ID1, h, 0, &created),
	    ERR_OK);
	d = opendir(support_path("state/pins"));
	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL && de->d_name[0] == '.')
		;
	cr_assert_not_null(de);
	snprintf(path, sizeof(path), "%s/%s", support_path("state/pins"),
	    de->d_name);
	closedir(d);
	/* a pin with extra bytes after the line */
	f = fopen(path, "a");
	cr_assert_not_null(f);
	fputs("junk\n", f);
	fclose(f);
	cr_expect_eq(pin_check(support_path("repo"), ID1, h, 0, &created),
	    ERR_CORRUPT);
	/* an empty pin */
	support_write_file(path, "", 0);
	cr_expect_eq(pin_check(support_path("repo"), ID1, h, 0, &created),
	    ERR_CORRUPT);
}

/* Fork a child that tries the lock; its exit status is 0 if it got
 * ERR_OK, 1 if ERR_LOCKED, 2 otherwise. */
static int
child_try(const char *url, const char *name)
{
	pid_t pid;
	int status, fd, rc;

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		rc = lock_acquire(url, name, &fd);
		if (rc == ERR_OK)
			_exit(0);
		if (rc == ERR_LOCKED && fd == -1 &&
		    strstr(err_get(), "locked") != NULL)
			_exit(1);
		_exit(2);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

Test(lock, exclusive_within_process_and_across_fork)
{
	int fd = -1, fd2 = -1;

	cr_assert_eq(lock_acquire("/srv/repo", "db", &fd), ERR_OK);
	cr_expect_geq(fd, 0);
	/* a second acquire, even in this process, is refused */
	cr_expect_eq(lock_acquire("/srv/repo", "db", &fd2), ERR_LOCKED);
	cr_expect_eq(fd2, -1);
	cr_expect_eq(child_try("/srv/repo", "db"), 1);
	/* other datasets and repositories are independent */
	cr_expect_eq(child_try("/srv/repo", "web"), 0);
	cr_expect_eq(child_try("/srv/repo2", "db"), 0);
	/* (url, name) is not ambiguous by concatenation */
	cr_expect_eq(child_try("/srv/rep", "odb"), 0);
	lock_release(fd);
	/* released: a fresh child takes it */
	cr_expect_eq(child_try("/srv/repo", "db"), 0);
	cr_assert_eq(lock_acquire("/srv/repo", "db", &fd), ERR_OK);
	lock_release(fd);
	lock_release(-1);
}

Test(lock, message_names_holder_pid)
{
	char want[32];
	int fd, fd2;

	cr_assert_eq(lock_acquire("/srv/repo", "db", &fd), ERR_OK);
	cr_assert_eq(lock_acquire("/srv/repo", "db", &fd2), ERR_LOCKED);
	snprintf(want, sizeof(want), "pid %ld", (long)getpid());
	cr_expect_not_null(strstr(err_get(), want), "message: %s", err_get());
	lock_release(fd);
}

Test(lock, released_when_holder_exits)
{
	pid_t pid;
	int p[2], status, fd;
	char c;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(p[0]);
		if (lock_acquire("/srv/repo", "db", &fd) != ERR_OK)
			_exit(2);
		if (write(p[1], "k", 1) != 1)
			_exit(3);
		/* hold until the parent closes its end */
		pause();
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1);
	cr_expect_eq(lock_acquire("/srv/repo", "db", &fd), ERR_LOCKED);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	close(p[0]);
	/* a killed holder leaves no stale lock */
	cr_expect_eq(lock_acquire("/srv/repo", "db", &fd), ERR_OK);
	lock_release(fd);
}
