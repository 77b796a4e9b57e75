#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drill_scratch.h"
#include "err.h"

#define MAX_DEPTH 4096

/* Remove name (relative to dirfd) and, if it is a directory, its tree. */
static int
rm_at(int pfd, const char *name, int depth)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, rc = 0;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(pfd, name, 0) == 0 || errno == ENOENT ? 0 :
		    -1;
	if (depth > MAX_DEPTH)
		return -1;
	if ((fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		/* A directory we may not read: make it ours, then retry. */
		if (fchmodat(pfd, name, 0700, 0) != 0 ||
		    (fd = openat(pfd, name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) < 0)
			return -1;
	}
	(void)fchmod(fd, 0700);
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (rm_at(dirfd(d), de->d_name, depth + 1) != 0)
			rc = -1;
	}
	closedir(d);
	if (rc == 0 && unlinkat(pfd, name, AT_REMOVEDIR) != 0 &&
	    errno != ENOENT)
		rc = -1;
	return rc;
}

int
drill_scratch_rmtree(const char *path)
{
	if (rm_at(AT_FDCWD, path, 0) != 0) {
		err_set("cannot remove scratch directory '%s': %s", path,
		    strerror(errno));
		return ERR_FAIL;
	}
	return ERR_OK;
}

int
drill_scratch_free(const char *base, uint64_t *avail)
{
	struct statvfs sv;

	if (statvfs(base, &sv) != 0) {
		err_set("cannot check free space on '%s': %s", base,
		    strerror(errno));
		return ERR_FAIL;
	}
	*avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
	return ERR_OK;
}

/* 1 if dir (in base) is a scratch directory of a dead drill. */
static int
is_stale(int basefd, const char *name)
{
	struct stat st;
	int dfd, mfd, stale = 0;

	if (fstatat(basefd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return 0;
	if ((dfd = openat(basefd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return 0;
	mfd = openat(dfd, DRILL_SCRATCH_MARKER, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (mfd >= 0) {
		if (flock(mfd, LOCK_EX | LOCK_NB) == 0) {
			stale = 1;
			flock(mfd, LOCK_UN);
		}
		close(mfd);
	}
	close(dfd);
	return stale;
}

int
drill_scratch_sweep(const char *base, uint64_t *nwiped)
{
	struct dirent *de;
	int basefd, rc = ERR_OK;
	DIR *d;

	*nwiped = 0;
	if ((basefd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err_set("cannot open scratch volume '%s': %s", base,
		    strerror(errno));
		return ERR_FAIL;
	}
	if ((d = fdopendir(basefd)) == NULL) {
		err_set("cannot read scratch volume '%s': %s", base,
		    strerror(errno));
		close(basefd);
		return ERR_FAIL;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, DRILL_SCRATCH_PREFIX,
		    strlen(DRILL_SCRATCH_PREFIX)) != 0 ||
		    !is_stale(dirfd(d), de->d_name))
			continue;
		if (rm_at(dirfd(d), de->d_name, 0) != 0) {
			err_set("cannot wipe stale scratch directory "
			    "'%s/%s': %s", base, de->d_name, strerror(errno));
			rc = ERR_FAIL;
			continue;
		}
		(*nwiped)++;
	}
	closedir(d);
	return rc;
}

/*
 * The guardian: reads "pgid N" and "keep" lines from the drill; at end of
 * file (the drill ended, however), kills the hook group still running and
 * wipes dir unless told to keep it.  Never returns.
 */
static void
guardian(const char *dir, int rfd, int lockfd)
{
	char buf[256], line[64];
	size_t n = 0;
	long pgid = 0;
	int keep = 0, fd;
	ssize_t r, i;

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	/* Hold nothing of the drill's but the pipe and the lock. */
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	for (fd = 3; fd < 1024; fd++)
		if (fd != rfd && fd != lockfd)
			close(fd);
	for (;;) {
		r = read(rfd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (i = 0; i < r; i++) {
			if (buf[i] != '\n') {
				if (n < sizeof(line) - 1)
					line[n++] = buf[i];
				continue;
			}
			line[n] = '\0';
			n = 0;
			if (strcmp(line, "keep") == 0)
				keep = 1;
			else if (strncmp(line, "pgid ", 5) == 0)
				pgid = strtol(line + 5, NULL, 10);
		}
	}
	if (!keep) {
		if (pgid > 1)
			kill((pid_t)-pgid, SIGKILL);
		(void)rm_at(AT_FDCWD, dir, 0);
	}
	_exit(0);
}

/* Start s's guardian; ERR_OK or ERR_FAIL. */
static int
guard_start(struct drill_scratch *s)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0) {
		err_set("cannot create pipe: %s", strerror(errno));
		return ERR_FAIL;
	}
	if ((pid = fork()) < 0) {
		err_set("cannot start scratch guardian: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return ERR_FAIL;
	}
	if (pid == 0) {
		close(p[1]);
		guardian(s->dir, p[0], s->lockfd);
	}
	close(p[0]);
	s->guardfd = p[1];
	s->guardpid = (long)pid;
	return ERR_OK;
}

/* Tell the guardian to keep (or not), let it go and reap it. */
static void
guard_stop(struct drill_scratch *s, int keep)
{
	if (s->guardfd >= 0) {
		if (keep)
			(void)!write(s->guardfd, "keep\n", 5);
		close(s->guardfd);
	}
	if (s->guardpid > 0)
		while (waitpid((pid_t)s->guardpid, NULL, 0) < 0 &&
		    errno == EINTR)
			;
	s->guardfd = -1;
	s->guardpid = 0;
}

int
drill_scratch_notify_fd(const struct drill_scratch *s)
{
	return s->guardfd;
}

int
drill_scratch_create(const char *base, struct drill_scratch *s)
{
	struct stat st;
	char *tmpl = NULL, *marker = NULL;
	size_t n;
	int fd = -1;

	s->dir = s->data = NULL;
	s->lockfd = -1;
	s->guardfd = -1;
	s->guardpid = 0;
	if (stat(base, &st) != 0 || !S_ISDIR(st.st_mode)) {
		err_set("scratch volume '%s' is not a directory", base);
		return ERR_FAIL;
	}
	n = strlen(base) + sizeof(DRILL_SCRATCH_PREFIX) + 32;
	if ((tmpl = malloc(n)) == NULL || (marker = malloc(n + 16)) == NULL ||
	    (s->data = malloc(n + 8)) == NULL)
		goto oom;
	snprintf(tmpl, n, "%s/%s%ld-XXXXXX", base, DRILL_SCRATCH_PREFIX,
	    (long)getpid());
	if (mkdtemp(tmpl) == NULL) {
		err_set("cannot create scratch directory in '%s': %s", base,
		    strerror(errno));
		goto fail;
	}
	s->dir = tmpl;
	tmpl = NULL;
	snprintf(marker, n + 16, "%s/%s", s->dir, DRILL_SCRATCH_MARKER);
	/* Lock at once: an unlocked marker means "stale". */
	if ((fd = open(marker, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
		err_set("cannot create scratch marker in '%s': %s", s->dir,
		    strerror(errno));
		goto fail;
	}
	dprintf(fd, "bkp drill scratch directory, pid %ld\n", (long)getpid());
	snprintf(s->data, n + 8, "%s/data", s->dir);
	if (mkdir(s->data, 0700) != 0) {
		err_set("cannot create '%s': %s", s->data, strerror(errno));
		goto fail;
	}
	s->lockfd = fd;
	fd = -1;
	if (guard_start(s) != ERR_OK)
		goto fail;
	free(marker);
	return ERR_OK;

oom:
	err_set("out of memory");
fail:
	if (fd >= 0)
		close(fd);
	if (s->lockfd >= 0)
		close(s->lockfd);
	s->lockfd = -1;
	if (s->dir != NULL)
		(void)rm_at(AT_FDCWD, s->dir, 0);
	free(s->dir);
	free(s->data);
	free(marker);
	free(tmpl);
	s->dir = s->data = NULL;
	return ERR_FAIL;
}

int
drill_scratch_wipe(struct drill_scratch *s)
{
	int rc = ERR_OK;

	if (s->dir == NULL)
		return ERR_OK;
	/* Data first, the marker last: a crash in between leaves a
	 * directory that the next sweep recognises. */
	if (drill_scratch_rmtree(s->data) != ERR_OK ||
	    drill_scratch_rmtree(s->dir) != ERR_OK)
		rc = ERR_FAIL;
	guard_stop(s, 0);
	if (s->lockfd >= 0)
		close(s->lockfd);
	free(s->dir);
	free(s->data);
	s->dir = s->data = NULL;
	s->lockfd = -1;
	return rc;
}

void
drill_scratch_release(struct drill_scratch *s)
{
	char *marker;
	size_t n;

	if (s->dir == NULL)
		return;
	n = strlen(s->dir) + sizeof(DRILL_SCRATCH_MARKER) + 2;
	if ((marker = malloc(n)) != NULL) {
		snprintf(marker, n, "%s/%s", s->dir, DRILL_SCRATCH_MARKER);
		(void)unlink(marker);
		free(marker);
	}
	guard_stop(s, 1);
	if (s->lockfd >= 0)
		close(s->lockfd);
	free(s->dir);
	free(s->data);
	s->dir = s->data = NULL;
	s->lockfd = -1;
}
