#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "pin.h"
#include "util.h"

int
pin_check(const char *repo_id, const uint8_t hash[32], int *created)
{
	char dir[PATH_MAX], path[PATH_MAX], hex[65], got[80];
	ssize_t n;
	int fd;

	*created = 0;
	if (util_state_dir(dir, sizeof(dir)) != 0)
		return ERR_FAIL;
	util_hex(hash, 32, hex);
	if ((size_t)snprintf(path, sizeof(path), "%s/pins", dir) >=
	    sizeof(path) || util_mkdirs(path, 0700) != 0 ||
	    (size_t)snprintf(path, sizeof(path), "%s/pins/%s", dir, repo_id) >=
	    sizeof(path)) {
		err_set("cannot create '%s/pins'", dir);
		return ERR_FAIL;
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno != ENOENT) {
			err_set("cannot read '%s': %s", path, strerror(errno));
			return ERR_FAIL;
		}
		hex[64] = '\n';
		if (util_write_atomic(path, hex, 65, 0600) != 0)
			return ERR_FAIL;
		*created = 1;
		return ERR_OK;
	}
	n = read(fd, got, sizeof(got));
	close(fd);
	if (n < 64 || memcmp(got, hex, 64) != 0) {
		err_set("repository %s: its recipients or settings changed since "
		    "this host pinned them in '%s'; refusing to encrypt to "
		    "them (if the change is yours, remove that file)", repo_id,
		    path);
		return ERR_CORRUPT;
	}
	return ERR_OK;
}
