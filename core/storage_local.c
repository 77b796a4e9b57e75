/*
 * Local-directory storage.  An object "a/b" is the file ROOT/a/b.  Writes
 * go to ROOT/tmp/<random>.part and are committed with link(2), which never
 * replaces an existing file, then fsync of the directory: an object is
 * either absent or complete.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "storage_impl.h"
#include "util.h"

struct local {
	struct storage base;
	char *root;
	int swept;           /* stale temporaries removed once per process */
};

#define STALE_SECS (24 * 3600)

struct local_put {
	struct storage_put base;
	int fd;
	char tmp[PATH_MAX];
	char final[PATH_MAX];
	char key[PATH_MAX];
};

/* Keys are relative, '/'-separated, without empty, "." or ".." parts. */
static int
key_ok(const char *key)
{
	const char *p = key;
	size_t n;

	if (*key == '\0' || *key == '/' || key[strlen(key) - 1] == '/')
		return 0;
	while (*p != '\0') {
		n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += n;
		if (*p == '/')
			p++;
	}
	return 1;
}

static int
key_path(struct local *l, const char *key, char *out, size_t outlen)
{
	if (!key_ok(key)) {
		err_set("invalid object key '%s'", key);
		return ERR_FAIL;
	}
	if ((size_t)snprintf(out, outlen, "%s/%s", l->root, key) >= outlen) {
		err_set("object path too long for '%s'", key);
		return ERR_FAIL;
	}
	return ERR_OK;
}

/* Create the directories leading to path (not path itself). */
static int
mkparents(const char *path)
{
	char buf[PATH_MAX];
	char *p;

	if (strlen(path) >= sizeof(buf))
		return -1;
	memcpy(buf, path, strlen(path) + 1);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

static int
fsync_dir_of(const char *path)
{
	char buf[PATH_MAX];
	char *slash;
	int fd, rc;

	if (strlen(path) >= sizeof(buf))
		return -1;
	memcpy(buf, path, strlen(path) + 1);
	if ((slash = strrchr(buf, '/')) == NULL)
		return 0;
	*slash = '\0';
	if ((fd = open(buf[0] ? buf : "/", O_RDONLY | O_DIRECTORY)) < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/*
 * Remove temporaries a killed writer left behind: .part files in tmp/ not
 * modified for STALE_SECS (a live writer keeps its file's mtime current).
 */
static void
sweep_tmp(struct local *l)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	time_t now = time(NULL);
	size_t n;
	DIR *d;

	l->swept = 1;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/tmp", l->root) >=
	    sizeof(dir) || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".part") != 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    de->d_name) >= sizeof(path))
			continue;
		if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    now - sb.st_mtime > STALE_SECS)
			unlink(path);
	}
	closedir(d);
}

static int
local_put_start(struct storage *st, const char *key, struct storage_put **out)
{
	struct local *l = (struct local *)st;
	struct local_put *p;
	uint8_t rnd[12];
	char hex[sizeof(rnd) * 2 + 1];
	int rc;

	if (!l->swept)
		sweep_tmp(l);
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	p->base.st = st;
	p->fd = -1;
	if ((rc = key_path(l, key, p->final, sizeof(p->final))) != ERR_OK)
		goto fail;
	snprintf(p->key, sizeof(p->key), "%s", key);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(p->tmp, sizeof(p->tmp), "%s/tmp/%s.part", l->root, hex);
	if (mkparents(p->tmp) != 0 ||
	    (p->fd = open(p->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) < 0) {
		err_set("cannot create '%s': %s", p->tmp, strerror(errno));
		rc = ERR_FAIL;
		goto fail;
	}
	*out = &p->base;
	return ERR_OK;
fail:
	free(p);
	return rc;
}

static int
local_put_write(struct storage_put *bp, const void *buf, size_t len)
{
	struct local_put *p = (struct local_put *)bp;

	if (util_write_full(p->fd, buf, len) != 0) {
		err_set("cannot write '%s': %s", p->tmp, strerror(errno));
		return ERR_FAIL;
	}
	return ERR_OK;
}

static void
local_put_abort(struct storage_put *bp)
{
	struct local_put *p = (struct local_put *)bp;

	if (p->fd >= 0)
		close(p->fd);
	unlink(p->tmp);
	free(p);
}

static int
local_put_end(struct storage_put *bp)
{
	struct local_put *p = (struct local_put *)bp;
	int rc = ERR_FAIL;

	if (fchmod(p->fd, 0444) != 0 || fsync(p->fd) != 0) {
		err_set("cannot write '%s': %s", p->tmp, strerror(errno));
		goto done;
	}
	if (close(p->fd) != 0) {
		p->fd = -1;
		err_set("cannot write '%s': %s", p->tmp, strerror(errno));
		goto done;
	}
	p->fd = -1;
	if (mkparents(p->final) != 0) {
		err_set("cannot create directories for '%s': %s", p->final,
		    strerror(errno));
		goto done;
	}
	if (link(p->tmp, p->final) != 0) {
		if (errno == EEXIST) {
			err_set("object '%s' already exists", p->key);
			rc = ERR_EXISTS;
		} else
			err_set("cannot commit '%s': %s", p->final,
			    strerror(errno));
		goto done;
	}
	if (fsync_dir_of(p->final) != 0) {
		err_set("cannot sync directory of '%s': %s", p->final,
		    strerror(errno));
		goto done;
	}
	rc = ERR_OK;
done:
	local_put_abort(bp);
	return rc;
}

static int
open_obj(struct local *l, const char *key, int *fd)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = key_path(l, key, path, sizeof(path))) != ERR_OK)
		return rc;
	if ((*fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT) {
			err_set("object '%s' not found", key);
			return ERR_NOTFOUND;
		}
		err_set("cannot open '%s': %s", path, strerror(errno));
		return ERR_FAIL;
	}
	return ERR_OK;
}

static int
read_full(int fd, uint8_t *buf, size_t len, uint64_t off, const char *key)
{
	ssize_t n;

	while (len > 0) {
		n = pread(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set("cannot read object '%s': %s", key,
			    strerror(errno));
			return ERR_FAIL;
		}
		if (n == 0) {
			err_set("object '%s' is truncated", key);
			return ERR_CORRUPT;
		}
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return ERR_OK;
}

static int
local_get(struct storage *st, const char *key, size_t maxlen, uint8_t **buf,
    size_t *len)
{
	struct stat sb;
	uint8_t *b = NULL;
	int fd, rc;

	if ((rc = open_obj((struct local *)st, key, &fd)) != ERR_OK)
		return rc;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		err_set("object '%s' is not a regular file", key);
		rc = ERR_CORRUPT;
		goto done;
	}
	if ((uint64_t)sb.st_size > maxlen) {
		err_set("object '%s' is too large (%lld bytes, limit %zu)",
		    key, (long long)sb.st_size, maxlen);
		rc = ERR_CORRUPT;
		goto done;
	}
	if ((b = malloc((size_t)sb.st_size + 1)) == NULL) {
		err_set("out of memory");
		rc = ERR_FAIL;
		goto done;
	}
	if ((rc = read_full(fd, b, (size_t)sb.st_size, 0, key)) != ERR_OK)
		goto done;
	b[sb.st_size] = '\0';
	*buf = b;
	*len = (size_t)sb.st_size;
	b = NULL;
done:
	free(b);
	close(fd);
	return rc;
}

static int
local_get_range(struct storage *st, const char *key, uint64_t off,
    size_t len, uint8_t *buf)
{
	int fd, rc;

	if ((rc = open_obj((struct local *)st, key, &fd)) != ERR_OK)
		return rc;
	rc = read_full(fd, buf, len, off, key);
	close(fd);
	return rc;
}

static int
local_stat(struct storage *st, const char *key, uint64_t *size)
{
	char path[PATH_MAX];
	struct stat sb;
	int rc;

	if ((rc = key_path((struct local *)st, key, path, sizeof(path))) != 0)
		return rc;
	if (lstat(path, &sb) != 0) {
		if (errno == ENOENT) {
			err_set("object '%s' not found", key);
			return ERR_NOTFOUND;
		}
		err_set("cannot stat '%s': %s", path, strerror(errno));
		return ERR_FAIL;
	}
	if (!S_ISREG(sb.st_mode)) {
		err_set("object '%s' is not a regular file", key);
		return ERR_CORRUPT;
	}
	*size = (uint64_t)sb.st_size;
	return ERR_OK;
}

struct listing {
	char **keys;
	uint64_t *sizes;
	size_t n, cap;
};

static int
listing_add(struct listing *ls, const char *key, uint64_t size)
{
	char **k;
	uint64_t *s;
	size_t cap;

	if (ls->n == ls->cap) {
		cap = ls->cap ? ls->cap * 2 : 64;
		if ((k = realloc(ls->keys, cap * sizeof(*k))) == NULL)
			return -1;
		ls->keys = k;
		if ((s = realloc(ls->sizes, cap * sizeof(*s))) == NULL)
			return -1;
		ls->sizes = s;
		ls->cap = cap;
	}
	if ((ls->keys[ls->n] = strdup(key)) == NULL)
		return -1;
	ls->sizes[ls->n++] = size;
	return 0;
}

/* Walk ROOT/dir (relative key prefix dir, "" for the root), adding files
 * whose key starts with prefix.  tmp/ is not part of the namespace. */
static int
walk(struct local *l, const char *dir, const char *prefix,
    struct listing *ls)
{
	char path[PATH_MAX], key[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int rc = ERR_OK;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", l->root, dir) >=
	    sizeof(path))
		return ERR_OK;
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? ERR_OK : (err_set("cannot list '%s': "
		    "%s", path, strerror(errno)), ERR_FAIL);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(key, sizeof(key), "%s%s", dir,
		    de->d_name) >= sizeof(key))
			continue;
		if (strcmp(key, "tmp") == 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", l->root,
		    key) >= sizeof(path) || lstat(path, &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			size_t kl = strlen(key), pl = strlen(prefix);

			/* Descend only where the prefix can still match. */
			if (strncmp(key, prefix, kl < pl ? kl : pl) != 0)
				continue;
			if (kl + 2 > sizeof(key))
				continue;
			key[kl] = '/';
			key[kl + 1] = '\0';
			if ((rc = walk(l, key, prefix, ls)) != ERR_OK)
				break;
		} else if (S_ISREG(sb.st_mode) &&
		    strncmp(key, prefix, strlen(prefix)) == 0) {
			if (listing_add(ls, key, (uint64_t)sb.st_size) != 0) {
				err_set("out of memory");
				rc = ERR_FAIL;
				break;
			}
		}
	}
	closedir(d);
	return rc;
}

static int
cmp_idx(const void *a, const void *b, void *arg)
{
	char **keys = arg;

	return strcmp(keys[*(const size_t *)a], keys[*(const size_t *)b]);
}

static int
local_list(struct storage *st, const char *prefix,
    int (*cb)(void *, const char *, uint64_t), void *arg)
{
	struct listing ls = { 0 };
	size_t *idx = NULL, i;
	int rc;

	if ((rc = walk((struct local *)st, "", prefix, &ls)) != ERR_OK)
		goto done;
	if (ls.n > 0 && (idx = malloc(ls.n * sizeof(*idx))) == NULL) {
		err_set("out of memory");
		rc = ERR_FAIL;
		goto done;
	}
	for (i = 0; i < ls.n; i++)
		idx[i] = i;
	if (ls.n > 1)
		qsort_r(idx, ls.n, sizeof(*idx), cmp_idx, ls.keys);
	for (i = 0; i < ls.n && rc == 0; i++)
		rc = cb(arg, ls.keys[idx[i]], ls.sizes[idx[i]]);
done:
	for (i = 0; i < ls.n; i++)
		free(ls.keys[i]);
	free(ls.keys);
	free(ls.sizes);
	free(idx);
	return rc;
}

static int
local_del(struct storage *st, const char *key)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = key_path((struct local *)st, key, path, sizeof(path))) != 0)
		return rc;
	if (unlink(path) != 0 && errno != ENOENT) {
		err_set("cannot remove '%s': %s", path, strerror(errno));
		return ERR_FAIL;
	}
	return ERR_OK;
}

static void
local_free(struct storage *st)
{
	struct local *l = (struct local *)st;

	free(l->root);
	free(l);
}

static const struct storage_ops local_ops = {
	local_put_start, local_put_write, local_put_end, local_put_abort,
	local_get, local_get_range, local_stat, local_list, local_del,
	local_free
};

int
storage_local_open(const char *path, struct storage **out)
{
	char cwd[PATH_MAX], abs[PATH_MAX];
	struct local *l;
	size_t n;

	/* Absolute, so that a restore may chdir into its target. */
	if (path[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL ||
		    (size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, path) >=
		    sizeof(abs)) {
			err_set("cannot resolve repository path '%s'", path);
			return ERR_FAIL;
		}
		path = abs;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->root = strdup(path)) == NULL) {
		free(l);
		err_set("out of memory");
		return ERR_FAIL;
	}
	n = strlen(l->root);
	while (n > 1 && l->root[n - 1] == '/')
		l->root[--n] = '\0';
	l->base.ops = &local_ops;
	l->base.local = 1;
	*out = &l->base;
	return ERR_OK;
}
