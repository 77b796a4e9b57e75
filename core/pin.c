#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "pin.h"
#include "util.h"

int
pin_check(const char *url, const char *repo_id, const uint8_t hash[32],
    int replace, int *created)
{
	char dir[PATH_MAX], path[PATH_MAX], hex[65], line[128], got[128];
	char abs[PATH_MAX], uhex[33];
	uint8_t uh[16];
	ssize_t n;
	int fd, len;

	*created = 0;
	if (util_state_dir(dir, sizeof(dir)) != 0)
		return ERR_FAIL;
	/* The same directory named two ways is one repository. */
	if (strstr(url, "://") == NULL && realpath(url, abs) != NULL)
		url = abs;
	crypto_generichash(uh, sizeof(uh), (const uint8_t *)url, strlen(url),
	    NULL, 0);
	util_hex(uh, sizeof(uh), uhex);
	util_hex(hash, 32, hex);
	len = snprintf(line, sizeof(line), "%s %s\n", repo_id, hex);
	if ((size_t)snprintf(path, sizeof(path), "%s/pins", dir) >=
	    sizeof(path) || util_mkdirs(path, 0700) != 0 ||
	    (size_t)snprintf(path, sizeof(path), "%s/pins/%s", dir, uhex) >=
	    sizeof(path)) {
		err_set("cannot create '%s/pins'", dir);
		return ERR_FAIL;
	}
	if (replace || (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) <
	    0) {
		if (!replace && errno != ENOENT) {
			err_set("cannot read '%s': %s", path, strerror(errno));
			return ERR_FAIL;
		}
		if (util_write_atomic(path, line, (size_t)len, 0600) != 0)
			return ERR_FAIL;
		*created = 1;
		return ERR_OK;
	}
	n = read(fd, got, sizeof(got));
	close(fd);
	if (n != len || memcmp(got, line, (size_t)len) != 0) {
		err_set("repository '%s': its config (recipients, settings or "
		    "identity) changed since this host pinned it in '%s'; "
		    "refusing to encrypt to it (if the change is yours, remove "
		    "that file)", url, path);
		return ERR_CORRUPT;
	}
	return ERR_OK;
}
