#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "lock.h"
#include "util.h"

int
lock_acquire(const char *repo_url, const char *name, int *out)
{
	crypto_generichash_state h;
	char dir[PATH_MAX], path[PATH_MAX], hex[33], pid[32];
	uint8_t hash[16];
	ssize_t n;
	int fd;

	*out = -1;
	if (util_state_dir(dir, sizeof(dir)) != 0)
		return ERR_FAIL;
	crypto_generichash_init(&h, NULL, 0, sizeof(hash));
	crypto_generichash_update(&h, (const uint8_t *)repo_url,
	    strlen(repo_url) + 1);
	crypto_generichash_update(&h, (const uint8_t *)name, strlen(name));
	crypto_generichash_final(&h, hash, sizeof(hash));
	util_hex(hash, sizeof(hash), hex);
	if ((size_t)snprintf(path, sizeof(path), "%s/locks", dir) >=
	    sizeof(path) || util_mkdirs(path, 0700) != 0 ||
	    (size_t)snprintf(path, sizeof(path), "%s/locks/%s.lock", dir, hex)
	    >= sizeof(path)) {
		err_set("cannot create '%s/locks'", dir);
		return ERR_FAIL;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) < 0) {
		err_set("cannot open lock '%s': %s", path, strerror(errno));
		return ERR_FAIL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		err_set("repository '%s' is locked: another bkp is backing up "
		    "'%s' (pid %s)", repo_url, name, pid[0] ? pid : "?");
		close(fd);
		return ERR_LOCKED;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		/* The pid is only informational. */
	}
	*out = fd;
	return ERR_OK;
}

void
lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
