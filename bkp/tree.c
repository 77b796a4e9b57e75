/*
 * The walk of a backup's directory sources and each entry's pieces.
 *
 * Sources are walked in the order given, each depth first with every
 * directory's entries sorted by a keyed hash of their names (fts(3)): the
 * order the previous file index was written in, so both are read side by
 * side.  The index names an entry by its "key": the source's number and
 * the hashes of its path's components, 8 bytes each, compared byte-wise
 * (docs/STATE.md), never by the path itself: no file name is kept in the
 * clear on the host either.  A
 * regular file whose stat (type, mode, owner, size, mtime and ctime to
 * the nanosecond, inode, device) equals its previous record costs that
 * stat alone: its entry refers to the bytes an earlier archive holds.
 * Anything else goes through the pax writer, whose output tar_write
 * routes: headers are compared with the previous ones, content is cut
 * into chunks (pieces.c) that are referenced when the previous version
 * had them, padding is stored.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <fts.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <sodium.h>

#include "bk.h"
#include "err.h"
#include "hash.h"
#include "manifest.h"
#include "util.h"

#define ATTEMPTS 3   /* reads of a file that changes while it is read */

/* Strip leading "/" and "../" like tar; NULL if nothing is left or ".."
 * remains inside. */
static const char *
clean_path(const char *p)
{
	const char *s;

	for (;;) {
		if (*p == '/')
			p++;
		else if (strncmp(p, "./", 2) == 0)
			p += 2;
		else if (strncmp(p, "../", 3) == 0)
			p += 3;
		else
			break;
	}
	if (*p == '\0' || strcmp(p, ".") == 0 || strcmp(p, "..") == 0)
		return NULL;
	for (s = p; (s = strstr(s, "..")) != NULL; s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
			return NULL;
	return p;
}

static int
excluded(struct bk *b, const char *path)
{
	const char *base = strrchr(path, '/');
	size_t i;

	base = base ? base + 1 : path;
	for (i = 0; i < b->o->nexcludes; i++)
		if (fnmatch(b->o->excludes[i], path, 0) == 0 ||
		    fnmatch(b->o->excludes[i], base, 0) == 0)
			return 1;
	return 0;
}

/* libarchive write callback: where the bytes go depends on the phase. */
static la_ssize_t
tar_write(struct archive *a, void *arg, const void *buf, size_t len)
{
	struct bk *b = arg;
	uint8_t *n;
	int rc = ERR_OK;

	switch (b->phase) {
	case PH_HDR:
		if (b->hdrlen + len > b->hdrcap) {
			b->hdrcap = (b->hdrlen + len) * 2;
			if ((n = realloc(b->hdr, b->hdrcap)) == NULL) {
				err_set("out of memory");
				rc = ERR_FAIL;
				break;
			}
			b->hdr = n;
		}
		memcpy(b->hdr + b->hdrlen, buf, len);
		b->hdrlen += len;
		break;
	case PH_SELF:
		rc = pieces_self(&b->pc, buf, len);
		break;
	case PH_DATA:
		rc = pieces_data(&b->pc, buf, len);
		break;
	default:
		break;
	}
	if (rc != ERR_OK) {
		archive_set_error(a, EIO, "%s", err_get());
		b->failed = 1;
		return -1;
	}
	return (la_ssize_t)len;
}

static int
write_failed(struct bk *b)
{
	if (!b->failed)
		err_set("archive write failed: %s", archive_error_string(b->aw));
	return ERR_FAIL;
}

static int
write_data(struct bk *b, const void *buf, size_t len)
{
	const char *p = buf;
	la_ssize_t n;

	while (len > 0) {
		n = archive_write_data(b->aw, p, len);
		if (n <= 0)
			return write_failed(b);
		p += n;
		len -= (size_t)n;
	}
	return ERR_OK;
}

/* Feed len zero bytes (a hole, or what a shrunk file lacks) to the hash
 * and the writer. */
static int
write_zeros(struct bk *b, struct hash *h, uint64_t len)
{
	size_t n;

	memset(b->buf, 0, READ_BUF);
	while (len > 0) {
		n = len > READ_BUF ? READ_BUF : (size_t)len;
		hash_update(h, b->buf, n);
		if (write_data(b, b->buf, n) != ERR_OK)
			return ERR_FAIL;
		len -= n;
	}
	return ERR_OK;
}

/* Copy [off, off+len) of fd; a short file is padded with zeros (and the
 * attempt counts as changed). */
static int
copy_range(struct bk *b, int fd, const char *path, struct hash *h,
    uint64_t off, uint64_t len, int *changed)
{
	ssize_t n;
	size_t want;

	while (len > 0) {
		if (bk_cancelled(b))
			return ERR_FAIL;
		want = len > READ_BUF ? READ_BUF : (size_t)len;
		n = pread(fd, b->buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			bk_warn(b, "error reading '%s': %s (rest stored as "
			    "zeros)", path, strerror(errno));
			return write_zeros(b, h, len);
		}
		if (n == 0) {
			*changed = 1;
			return write_zeros(b, h, len);
		}
		hash_update(h, b->buf, (size_t)n);
		if (write_data(b, b->buf, (size_t)n) != ERR_OK)
			return ERR_FAIL;
		b->res->read_bytes += (uint64_t)n;
		b->edata += (uint64_t)n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
		bk_progress(b, 0);
	}
	return ERR_OK;
}

/* Write a regular file's content (sparse-aware) and hash it. */
static int
copy_file(struct bk *b, struct archive_entry *e, int fd, const char *path,
    uint8_t hash[32], int *changed)
{
	struct hash h;
	uint64_t size = (uint64_t)archive_entry_size(e), pos = 0;
	la_int64_t off, len;
	int rc;

	hash_init(&h, b->hash_alg);
	if (archive_entry_sparse_reset(e) > 0) {
		while (archive_entry_sparse_next(e, &off, &len) == ARCHIVE_OK) {
			if ((uint64_t)off < pos || (uint64_t)off > size)
				break;
			if ((rc = write_zeros(b, &h, (uint64_t)off - pos)) !=
			    ERR_OK)
				return rc;
			if ((uint64_t)(off + len) > size)
				len = (la_int64_t)size - off;
			if ((rc = copy_range(b, fd, path, &h, (uint64_t)off,
			    (uint64_t)len, changed)) != ERR_OK)
				return rc;
			pos = (uint64_t)(off + len);
		}
		if ((rc = write_zeros(b, &h, size - pos)) != ERR_OK)
			return rc;
	} else if ((rc = copy_range(b, fd, path, &h, 0, size, changed)) !=
	    ERR_OK)
		return rc;
	hash_final(&h, hash);
	return ERR_OK;
}

/* The manifest record of one entry (format 3: segments). */
static int
put_file_record(struct bk *b, struct archive_entry *e, const uint8_t *hash)
{
	const char *path = archive_entry_pathname(e), *link;
	int type = manifest_entry_type(e);
	json_t *j, *s;
	char hex[65];
	size_t i;
	int rc;

	if ((s = json_array()) == NULL)
		goto nomem;
	for (i = 0; i < b->pc.nseg; i++)
		if (json_array_append_new(s, json_pack("[I, I, I]",
		    (json_int_t)b->pc.seg[i].src, (json_int_t)b->pc.seg[i].off,
		    (json_int_t)b->pc.seg[i].len)) != 0) {
			json_decref(s);
			goto nomem;
		}
	j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
	    "t", "file", "type", manifest_type_name(type),
	    "mode", (json_int_t)(archive_entry_mode(e) & 07777),
	    "uid", (json_int_t)archive_entry_uid(e),
	    "gid", (json_int_t)archive_entry_gid(e),
	    "mtime", (json_int_t)archive_entry_mtime(e),
	    "mtime_ns", (json_int_t)archive_entry_mtime_nsec(e),
	    "size", (json_int_t)(type == MF_FILE ? archive_entry_size(e) : 0),
	    "s", s);
	if (j == NULL)
		goto nomem;
	if (manifest_set_bytes(j, "path", path, strlen(path)) != ERR_OK)
		goto nomem_j;
	if (type == MF_FILE) {
		util_hex(hash, 32, hex);
		json_object_set_new(j, hash_name(b->hash_alg), json_string(hex));
	}
	link = type == MF_HARDLINK ? archive_entry_hardlink(e) :
	    type == MF_SYMLINK ? archive_entry_symlink(e) : NULL;
	if (link != NULL &&
	    manifest_set_bytes(j, "link", link, strlen(link)) != ERR_OK)
		goto nomem_j;
	rc = manifest_put(b->mw, j);
	json_decref(j);
	return rc;
nomem_j:
	json_decref(j);
nomem:
	err_set("out of memory");
	return ERR_FAIL;
}

/* The file index record of the entry just built. */
static int
index_entry(struct bk *b, struct archive_entry *e, const struct stat *sb,
    const uint8_t hdrhash[16], const uint8_t hash[32])
{
	struct findex_rec r;

	memset(&r, 0, sizeof(r));
	r.type = manifest_entry_type(e);
	r.mode = (uint32_t)sb->st_mode;
	r.uid = sb->st_uid;
	r.gid = sb->st_gid;
	r.dev = sb->st_dev;
	r.ino = sb->st_ino;
	r.size = r.type == MF_FILE ? (uint64_t)archive_entry_size(e) : 0;
	r.data = r.type == MF_FILE ? b->edata : 0;
	r.mtime_s = sb->st_mtim.tv_sec;
	r.mtime_ns = (uint32_t)sb->st_mtim.tv_nsec;
	r.ctime_s = sb->st_ctim.tv_sec;
	r.ctime_ns = (uint32_t)sb->st_ctim.tv_nsec;
	memcpy(r.hdrhash, hdrhash, 16);
	if (hash != NULL)
		memcpy(r.hash, hash, 32);
	return bk_index(b, &r);
}

/* Is the file as its previous record saw it?  Then its bytes are. */
static int
same_stat(const struct findex_rec *p, const struct stat *sb)
{
	return p->type == MF_FILE && p->mode == (uint32_t)sb->st_mode &&
	    p->uid == sb->st_uid && p->gid == sb->st_gid &&
	    p->dev == sb->st_dev && p->ino == sb->st_ino &&
	    p->size == (uint64_t)sb->st_size &&
	    p->mtime_s == sb->st_mtim.tv_sec &&
	    p->mtime_ns == (uint32_t)sb->st_mtim.tv_nsec &&
	    p->ctime_s == sb->st_ctim.tv_sec &&
	    p->ctime_ns == (uint32_t)sb->st_ctim.tv_nsec;
}

static int
changed_since(int fd, const struct stat *sb)
{
	struct stat now;

	return fstat(fd, &now) != 0 || now.st_size != sb->st_size ||
	    now.st_mtim.tv_sec != sb->st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != sb->st_mtim.tv_nsec ||
	    now.st_ctim.tv_sec != sb->st_ctim.tv_sec ||
	    now.st_ctim.tv_nsec != sb->st_ctim.tv_nsec;
}

/* An unchanged file: its record, from the previous one. */
static int
reuse_file(struct bk *b, struct archive_entry *e, const struct stat *sb,
    const struct findex_rec *p)
{
	int rc;

	pieces_begin(&b->pc);
	if (pieces_reuse(&b->pc, p) != 0)
		return 1;   /* cannot: store it */
	b->edata = p->data;
	if ((rc = put_file_record(b, e, p->hash)) != ERR_OK ||
	    (rc = index_entry(b, e, sb, p->hdrhash, p->hash)) != ERR_OK)
		return rc;
	b->res->files++;
	b->res->reused++;
	b->res->bytes += p->data;
	return ERR_OK;
}

/*
 * Write one attempt of entry e: header (referred to when it equals the
 * previous one and is all the entry holds), content, padding.  *changed
 * is set when the file changed while it was read.
 */
static int
write_entry(struct bk *b, struct archive_entry *e, int fd, const char *src,
    const struct findex_rec *p, uint8_t hdrhash[16], uint8_t hash[32],
    int *changed)
{
	int r, rc;

	pieces_begin(&b->pc);
	b->phase = PH_HDR;
	b->hdrlen = 0;
	r = archive_write_header(b->aw, e);
	b->phase = PH_DROP;
	if (r == ARCHIVE_FATAL || b->failed)
		return write_failed(b);
	if (r < ARCHIVE_WARN) {
		bk_warn(b, "'%s': %s (skipped)", src,
		    archive_error_string(b->aw));
		return 1;
	}
	crypto_generichash(hdrhash, 16, b->hdr, b->hdrlen, b->prev.key, 32);
	if (p != NULL && archive_entry_size(e) == 0 &&
	    p->type == manifest_entry_type(e) &&
	    memcmp(p->hdrhash, hdrhash, 16) == 0 &&
	    pieces_reuse(&b->pc, p) == 0) {
		b->phase = PH_DROP;     /* the same header: refer to it */
	} else if ((rc = pieces_self(&b->pc, b->hdr, b->hdrlen)) != ERR_OK)
		return rc;
	if (fd >= 0 && archive_entry_size(e) > 0) {
		if ((rc = pieces_known(&b->pc, p != NULL && p->type == MF_FILE ?
		    p : NULL)) != ERR_OK)
			return rc;
		b->phase = PH_DATA;
		rc = copy_file(b, e, fd, src, hash, changed);
		b->phase = PH_DROP;
		if (rc != ERR_OK)
			return rc;
		if ((rc = pieces_data_end(&b->pc)) != ERR_OK)
			return rc;
	} else if (fd >= 0)
		hash_buf(b->hash_alg, NULL, 0, hash);
	b->phase = PH_SELF;
	r = archive_write_finish_entry(b->aw);
	b->phase = PH_DROP;
	if (r != ARCHIVE_OK || b->failed)
		return write_failed(b);
	return ERR_OK;
}

/* The hard link the resolver made of e, if any, applied to the full
 * entry f (a later link to an inode: no data). */
static int
apply_link(struct archive_entry *e, struct archive_entry *f)
{
	const char *hl = archive_entry_hardlink(e), *c;

	if (hl == NULL)
		return ERR_OK;
	if ((c = clean_path(hl)) == NULL)
		return 1;
	archive_entry_copy_hardlink(f, c);
	archive_entry_set_size(f, 0);
	archive_entry_sparse_clear(f);
	return ERR_OK;
}

static int
open_file(const char *src)
{
	int fd = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);

	if (fd < 0 && errno == EPERM)
		fd = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

/*
 * Store entry e (already through the link resolver) read from src: its
 * full metadata (xattrs, ACLs, sparse map), then its pieces; a file that
 * changes while it is read is read again, and skipped (never stored
 * torn) if it keeps changing.
 */
static int
store_entry(struct bk *b, struct archive_entry *e, const char *src,
    struct stat *sb, const struct findex_rec *p)
{
	struct archive_entry *f = NULL;
	uint8_t hdrhash[16], hash[32];
	int fd = -1, rc = ERR_FAIL, attempt, changed;
	int isfile = S_ISREG(sb->st_mode) && archive_entry_hardlink(e) == NULL;

	for (attempt = 0; attempt < ATTEMPTS; attempt++) {
		if (isfile && fd < 0 && (fd = open_file(src)) < 0) {
			bk_warn(b, "cannot read '%s': %s (skipped)", src,
			    strerror(errno));
			rc = bk_put_skipped(b, archive_entry_pathname(e),
			    strerror(errno));
			goto done;
		}
		if (fd >= 0 && fstat(fd, sb) != 0) {
			err_set("cannot stat '%s': %s", src, strerror(errno));
			goto done;
		}
		archive_entry_free(f);
		if ((f = archive_entry_new()) == NULL) {
			err_set("out of memory");
			goto done;
		}
		archive_entry_copy_pathname(f, archive_entry_pathname(e));
		archive_entry_copy_sourcepath(f, src);
		if (archive_read_disk_entry_from_file(b->disk, f, fd, sb) <
		    ARCHIVE_WARN) {
			bk_warn(b, "'%s': %s (skipped)", src,
			    archive_error_string(b->disk));
			rc = bk_put_skipped(b, archive_entry_pathname(e),
			    archive_error_string(b->disk));
			goto done;
		}
		if (apply_link(e, f) != ERR_OK) {
			bk_warn(b, "'%s': unusable hard link target (skipped)",
			    src);
			rc = ERR_OK;
			goto done;
		}
		archive_entry_unset_atime(f);
		archive_entry_unset_ctime(f);
		archive_entry_unset_birthtime(f);
		changed = 0;
		b->edata = 0;
		rc = write_entry(b, f, fd, src, p, hdrhash, hash, &changed);
		if (rc != ERR_OK)
			goto done;
		if (fd < 0 || (!changed && !changed_since(fd, sb)))
			break;
	}
	if (attempt == ATTEMPTS) {
		bk_warn(b, "'%s' changed while it was read (skipped)", src);
		rc = bk_put_skipped(b, archive_entry_pathname(e),
		    "changed while it was read");
		goto done;
	}
	if ((rc = put_file_record(b, f, hash)) != ERR_OK ||
	    (rc = index_entry(b, f, sb, hdrhash, fd >= 0 ? hash : NULL)) !=
	    ERR_OK)
		goto done;
	b->res->files++;
	b->res->bytes += b->edata;
done:
	if (rc == 1)
		rc = ERR_OK;   /* skipped, said so */
	if (fd >= 0)
		close(fd);
	archive_entry_free(f);
	return rc;
}

/* One path of the walk. */
static int
one_path(struct bk *b, const char *src, struct stat *sb)
{
	struct archive_entry *e, *spare = NULL;
	const struct findex_rec *p;
	const char *path;
	int err = 0, rc;

	if ((path = clean_path(src)) == NULL)
		return ERR_OK;    /* "/" or "." itself */
	p = prev_find(&b->prev, (const char *)b->vec, b->veclen, &err);
	if (err)
		return ERR_FAIL;
	if ((e = archive_entry_new()) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	archive_entry_copy_pathname(e, path);
	archive_entry_copy_stat(e, sb);
	archive_entry_linkify(b->lr, &e, &spare);
	if (e == NULL) {
		archive_entry_free(spare);
		return ERR_OK;
	}
	rc = 1;
	if (p != NULL && !b->o->rehash && archive_entry_hardlink(e) == NULL &&
	    S_ISREG(sb->st_mode) && same_stat(p, sb))
		rc = reuse_file(b, e, sb, p);
	if (rc == 1)
		rc = store_entry(b, e, src, sb, p);
	archive_entry_free(e);
	archive_entry_free(spare);
	bk_progress(b, 0);
	return rc;
}

/* The walk's order: by keyed hash of the name within a directory (fts(3)
 * gives its comparator no argument, hence the static key: one walk at a
 * time). */
static uint8_t name_key[crypto_shorthash_KEYBYTES];

void
tree_name_hash(const char *name, size_t len, uint8_t out[WALK_LEVEL])
{
	crypto_shorthash(out, (const unsigned char *)name, len, name_key);
}

static int
by_hash(const FTSENT **x, const FTSENT **y)
{
	uint8_t a[WALK_LEVEL], c[WALK_LEVEL];
	int d;

	tree_name_hash((*x)->fts_name, (*x)->fts_namelen, a);
	tree_name_hash((*y)->fts_name, (*y)->fts_namelen, c);
	if ((d = memcmp(a, c, WALK_LEVEL)) != 0)
		return d;
	return strcmp((*x)->fts_name, (*y)->fts_name);
}

/* The index key of the entry at fts level `level` named `name`, under
 * source operand number `root` (a source is level 0, named by its
 * cleaned path; its key is its number, big-endian, then that name's
 * hash, so that sources keep the order they were given in and the keys
 * still increase). */
static int
set_key(struct bk *b, uint64_t root, int level, const char *name,
    size_t len)
{
	size_t need = ((size_t)level + 2) * WALK_LEVEL, i;
	uint8_t *n;

	if (need > FINDEX_MAX_PATH) {
		err_set("a path is more than %d levels deep",
		    FINDEX_MAX_PATH / WALK_LEVEL - 2);
		return ERR_FAIL;
	}
	if (need > b->veccap) {
		if ((n = realloc(b->vec, need * 2)) == NULL) {
			err_set("out of memory");
			return ERR_FAIL;
		}
		b->vec = n;
		b->veccap = need * 2;
	}
	if (level == 0)
		for (i = 0; i < WALK_LEVEL; i++)
			b->vec[i] = (uint8_t)(root >> (8 * (WALK_LEVEL - 1 - i)));
	tree_name_hash(name, len, b->vec + need - WALK_LEVEL);
	b->veclen = need;
	return ERR_OK;
}

/* Walk source number `no`, every directory's entries in the order of
 * their names' hashes. */
static int
walk_path(struct bk *b, uint64_t no, char *root)
{
	char *roots[2] = { root, NULL };
	FTS *fts;
	FTSENT *ent;
	int rc = ERR_OK;

	if ((fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR, by_hash)) ==
	    NULL) {
		bk_warn(b, "cannot read '%s': %s (skipped)", root,
		    strerror(errno));
		return bk_put_skipped(b, root, strerror(errno));
	}
	while (rc == ERR_OK) {
		errno = 0;
		if ((ent = fts_read(fts)) == NULL) {
			if (errno != 0)
				bk_warn(b, "cannot read '%s': %s", root,
				    strerror(errno));
			break;
		}
		if (bk_cancelled(b)) {
			rc = ERR_FAIL;
			break;
		}
		switch (ent->fts_info) {
		case FTS_DP:
			continue;
		case FTS_NS:
		case FTS_ERR:
			bk_warn(b, "cannot read '%s': %s (skipped)",
			    ent->fts_path, strerror(ent->fts_errno));
			rc = bk_put_skipped(b, ent->fts_path,
			    strerror(ent->fts_errno));
			continue;
		case FTS_DC:
			bk_warn(b, "'%s': directory cycle (skipped)",
			    ent->fts_path);
			continue;
		default:
			break;
		}
		if (excluded(b, ent->fts_path)) {
			if (ent->fts_info == FTS_D)
				fts_set(fts, ent, FTS_SKIP);
			continue;
		}
		if (ent->fts_info == FTS_DNR)
			bk_warn(b, "cannot read '%s': %s", ent->fts_path,
			    strerror(ent->fts_errno));
		if (ent->fts_level == 0) {
			const char *c = clean_path(ent->fts_path);

			rc = c == NULL ? set_key(b, no, 0, "", 0) :
			    set_key(b, no, 0, c, strlen(c));
		} else
			rc = set_key(b, no, (int)ent->fts_level,
			    ent->fts_name, ent->fts_namelen);
		if (rc == ERR_OK)
			rc = one_path(b, ent->fts_path, ent->fts_statp);
	}
	fts_close(fts);
	return rc;
}

void
tree_name_key(const uint8_t key[32])
{
	crypto_generichash(name_key, sizeof(name_key),
	    (const unsigned char *)"bkp-names-v1", 12, key, 32);
}

int
tree_backup(struct bk *b)
{
	size_t i;
	int rc = ERR_OK;

	if ((b->aw = archive_write_new()) == NULL ||
	    (b->disk = archive_read_disk_new()) == NULL ||
	    (b->lr = archive_entry_linkresolver_new()) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	archive_entry_linkresolver_set_strategy(b->lr,
	    ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE);
	b->phase = PH_DROP;
	if (archive_write_set_format_pax(b->aw) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(b->aw, 0) != ARCHIVE_OK ||
	    archive_write_open2(b->aw, b, NULL, tar_write, NULL, NULL) !=
	    ARCHIVE_OK) {
		err_set("cannot start archive: %s",
		    archive_error_string(b->aw));
		return ERR_FAIL;
	}
	archive_read_disk_set_standard_lookup(b->disk);
	archive_read_disk_set_symlink_physical(b->disk);
	tree_name_key(b->prev.key);
	for (i = 0; i < b->o->npaths && rc == ERR_OK; i++)
		rc = walk_path(b, i, b->o->paths[i]);
	if (rc != ERR_OK)
		return rc;
	b->phase = PH_DROP;     /* the end marker: a reader adds its own */
	if (archive_write_close(b->aw) != ARCHIVE_OK || b->failed)
		return write_failed(b);
	return ERR_OK;
}
