/*
 * File system access under a restore's target (the current directory),
 * never through a symlink: see rstate.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive_entry.h>
#include <sodium.h>

#include "err.h"

#include "rstate.h"
#include "util.h"

/* Is a stored path safe to create under the target? */
int
beneath_path_safe(const char *p)
{
	const char *s;

	if (*p == '\0' || *p == '/')
		return 0;
	for (s = p; *s != '\0';) {
		size_t n = strcspn(s, "/");

		if (n == 2 && s[0] == '.' && s[1] == '.')
			return 0;
		s += n;
		if (*s == '/')
			s++;
	}
	return 1;
}

/*
 * Open the directory holding path's last component, relative to the
 * current directory (the target), without following any symlink on the
 * way; *leaf points into path.  -1 if a component is missing or a symlink.
 */
int
beneath_open_parent(const char *path, const char **leaf)
{
	char comp[NAME_MAX + 1];
	const char *p = path, *slash;
	size_t n;
	int fd, next;

	if ((fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	for (;;) {
		while (*p == '/')
			p++;
		slash = strchr(p, '/');
		if (slash == NULL || slash[strspn(slash, "/")] == '\0') {
			*leaf = p;
			return fd;
		}
		n = (size_t)(slash - p);
		if (n == 0 || n > NAME_MAX) {
			close(fd);
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		close(fd);
		if (next < 0)
			return -1;
		fd = next;
		p = slash + 1;
	}
}

/* lstat of path under the target, never through a symlink: 0, or -1. */
int
beneath_lstat(const char *path, struct stat *sb)
{
	char leaf[NAME_MAX + 1];
	const char *l;
	size_t n;
	int dfd, rc;

	if ((dfd = beneath_open_parent(path, &l)) < 0)
		return -1;
	n = strcspn(l, "/");
	if (n == 0 || n > NAME_MAX) {
		close(dfd);
		return -1;
	}
	memcpy(leaf, l, n);
	leaf[n] = '\0';
	rc = fstatat(dfd, leaf, sb, AT_SYMLINK_NOFOLLOW);
	close(dfd);
	return rc;
}

/* Remove a file this restore wrote, never through a symlink. */
void
beneath_unlink(const char *path)
{
	const char *leaf;
	int dfd;

	if ((dfd = beneath_open_parent(path, &leaf)) < 0)
		return;
	if (strchr(leaf, '/') == NULL)
		unlinkat(dfd, leaf, 0);
	close(dfd);
}

/* Should an existing file block this entry? */
int
beneath_blocked(const char *path, struct archive_entry *e)
{
	struct stat sb;

	/* Through a symlink libarchive refuses the entry anyway; the
	 * careful walk only runs when something is there. */
	if (lstat(path, &sb) != 0 || beneath_lstat(path, &sb) != 0)
		return 0;
	return !(S_ISDIR(sb.st_mode) && archive_entry_filetype(e) == AE_IFDIR);
}

char *
beneath_tmpname(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dir = slash != NULL ? (size_t)(slash - path) + 1 : 0;
	uint8_t rnd[8];
	char hex[17], *t;

	randombytes_buf(rnd, sizeof(rnd));
	util_hex(rnd, sizeof(rnd), hex);
	if ((t = malloc(dir + sizeof(".bkp-restore-.tmp") + 16)) == NULL) {
		err_set("out of memory");
		return NULL;
	}
	memcpy(t, path, dir);
	snprintf(t + dir, sizeof(".bkp-restore-.tmp") + 16,
	    ".bkp-restore-%s.tmp", hex);
	return t;
}

int
beneath_rename(const char *from, const char *to, int noreplace)
{
	const char *lf, *lt;
	int dfd, rc, e;

	if ((dfd = beneath_open_parent(to, &lt)) < 0)
		return -1;
	lf = strrchr(from, '/');
	lf = lf != NULL ? lf + 1 : from;
	if (!noreplace)
		rc = renameat(dfd, lf, dfd, lt);
	else if ((rc = renameat2(dfd, lf, dfd, lt, RENAME_NOREPLACE)) != 0 &&
	    errno == EINVAL) {
		/* A file system without RENAME_NOREPLACE: link(2) fails
		 * rather than replace too. */
		if ((rc = linkat(dfd, lf, dfd, lt, 0)) == 0)
			unlinkat(dfd, lf, 0);
	}
	e = errno;
	close(dfd);
	errno = e;
	return rc;
}
