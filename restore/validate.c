/*
 * Validation of a restored tree against the manifest: every selected
 * regular file is read back from disk and its size and hash compared;
 * directories and symlinks must exist with the right type (and target).
 * Used by drills after a restore.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "crypto.h"
#include "err.h"
#include "hash.h"
#include "manifest.h"
#include "repo.h"
#include "restore.h"
#include "util.h"

#define VBUF (1u << 20)

/* Compare one entry on disk; 0 if it matches. */
static int
check_one(int dirfd, int hash_alg, const struct mfile *f, uint8_t *buf,
    uint64_t *bytes)
{
	struct hash h;
	uint8_t hash[32];
	char link[PATH_MAX];
	struct stat sb;
	uint64_t total = 0;
	ssize_t n;
	int fd;

	if (fstatat(dirfd, f->path, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return -1;
	switch (f->type) {
	case MF_DIR:
		return S_ISDIR(sb.st_mode) ? 0 : -1;
	case MF_SYMLINK:
		if (!S_ISLNK(sb.st_mode))
			return -1;
		n = readlinkat(dirfd, f->path, link, sizeof(link) - 1);
		if (n < 0)
			return -1;
		link[n] = '\0';
		return f->link != NULL && strcmp(link, f->link) == 0 ? 0 : -1;
	case MF_FILE:
		break;
	default:
		return 0;
	}
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != f->size)
		return -1;
	if ((fd = openat(dirfd, f->path, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return -1;
	hash_init(&h, hash_alg);
	while ((n = read(fd, buf, VBUF)) > 0) {
		hash_update(&h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	close(fd);
	if (n < 0)
		return -1;
	hash_final(&h, hash);
	*bytes += total;
	return total == f->size && memcmp(hash, f->hash, 32) == 0 ? 0 : -1;
}

int
restore_validate_tree(struct repo *r, const struct repo_archive *a,
    const struct keys_secret *sk, const char *dir,
    const char *const *include, size_t ninclude, struct restore_stats *st)
{
	struct manifest_reader *mr = NULL;
	uint8_t *keys = NULL, *buf = NULL, id[16];
	char mkey[64];
	const char *t;
	struct mfile f;
	json_t *j;
	double t0 = util_mono();
	int rc, dirfd = -1;

	memset(st, 0, sizeof(*st));
	if ((keys = sodium_malloc(64)) == NULL || (buf = malloc(VBUF)) ==
	    NULL) {
		err_set("out of memory");
		rc = ERR_FAIL;
		goto done;
	}
	if ((rc = repo_unwrap(a, sk, keys)) != ERR_OK)
		goto done;
	crypto_subkey(keys, "manifest", keys + 32);
	util_unhex(a->id, id, 16);
	repo_key_manifest(a->id, mkey, sizeof(mkey));
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err_set("cannot open '%s': %s", dir, strerror(errno));
		rc = ERR_FAIL;
		goto done;
	}
	if ((rc = manifest_reader_open(repo_storage(r), mkey, a->cipher,
	    keys + 32, id, a->hash_alg, &mr)) != ERR_OK)
		goto done;
	while ((rc = manifest_next(mr, &j, &t)) == 1) {
		if (strcmp(t, "file") != 0) {
			json_decref(j);
			continue;
		}
		rc = manifest_file_decode(j, a->hash_alg, &f);
		json_decref(j);
		if (rc != ERR_OK)
			goto done;
		if (restore_path_selected(include, ninclude, f.path)) {
			if (check_one(dirfd, a->hash_alg, &f, buf,
			    &st->bytes) != 0)
				st->mismatches++;
			st->files++;
		}
		manifest_file_release(&f);
	}
	if (rc < 0)
		goto done;
	rc = ERR_OK;
	if (st->mismatches > 0) {
		err_set("%llu of %llu restored entries differ from the manifest",
		    (unsigned long long)st->mismatches,
		    (unsigned long long)st->files);
		rc = ERR_CORRUPT;
	}
done:
	st->t_wall = util_mono() - t0;
	if (dirfd >= 0)
		close(dirfd);
	manifest_reader_free(mr);
	free(buf);
	if (keys != NULL)
		sodium_free(keys);
	return rc;
}
