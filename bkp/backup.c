/*
 * Backup engine: source files -> libarchive pax writer -> ostream (zstd +
 * AEAD chunks, worker threads) -> storage; a manifest of every entry (tar
 * offsets, size, content hash) and chunk goes to a second object; the archive
 * record is written last and is the commit.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <sodium.h>

#include "backup.h"
#include "crypto.h"
#include "err.h"
#include "hash.h"
#include "manifest.h"
#include "objfmt.h"
#include "ostream.h"
#include "repo.h"
#include "storage.h"
#include "util.h"

#define READ_BUF (1u << 20)

struct bk {
	struct repo *repo;
	const struct backup_opts *o;
	struct backup_result *res;
	struct storage *st;
	struct ostream *data;
	struct manifest_writer *mw;
	struct archive *aw;          /* pax writer */
	struct archive *disk;        /* disk reader */
	struct archive_entry_linkresolver *lr;
	uint64_t tar_off;            /* bytes the pax writer produced */
	uint8_t *buf;                /* READ_BUF */
	int hash_alg;                /* HASH_*: files and objects */
	double t0, last_progress;
	int failed;                  /* a write callback failed */
};

static void
warnf(struct bk *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
warnf(struct bk *b, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	b->res->warnings++;
	if (b->o->warn != NULL)
		b->o->warn(b->o->arg, msg);
}

static void
progress(struct bk *b, int force)
{
	struct backup_progress p;
	double now;

	if (b->o->progress == NULL)
		return;
	now = util_mono();
	if (!force && now - b->last_progress < 0.2)
		return;
	b->last_progress = now;
	p.files = b->res->files;
	p.bytes = b->res->bytes;
	p.stored = ostream_stored(b->data);
	p.elapsed = now - b->t0;
	b->o->progress(b->o->arg, &p);
}

static int
cancelled(struct bk *b)
{
	if (b->o->cancel != NULL && *b->o->cancel) {
		err_set("interrupted");
		return 1;
	}
	return 0;
}

/* libarchive write callback: the tar stream goes into the data object. */
static la_ssize_t
tar_write(struct archive *a, void *arg, const void *buf, size_t len)
{
	struct bk *b = arg;

	if (ostream_write(b->data, buf, len) != ERR_OK) {
		archive_set_error(a, EIO, "%s", err_get());
		b->failed = 1;
		return -1;
	}
	b->tar_off += len;
	return (la_ssize_t)len;
}

/* Chunk callback: every chunk of the data object gets a manifest record. */
static int
chunk_record(void *arg, const struct ostream_chunk *c)
{
	struct bk *b = arg;
	json_t *j;
	int rc;

	j = json_pack("{s:s, s:I, s:I, s:I, s:I}", "t", "chunk",
	    "i", (json_int_t)c->index, "off", (json_int_t)c->offset,
	    "len", (json_int_t)c->sealed_len, "plain",
	    (json_int_t)c->plain_len);
	if (j == NULL) {
		err_set("out of memory");
		return -1;
	}
	rc = manifest_put(b->mw, j);
	json_decref(j);
	return rc == ERR_OK ? 0 : -1;
}

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

static int
write_data(struct bk *b, const void *buf, size_t len)
{
	const char *p = buf;
	la_ssize_t n;

	while (len > 0) {
		n = archive_write_data(b->aw, p, len);
		if (n <= 0) {
			if (!b->failed)
				err_set("archive write failed: %s",
				    archive_error_string(b->aw));
			return ERR_FAIL;
		}
		p += n;
		len -= (size_t)n;
	}
	return ERR_OK;
}

/* Feed len zero bytes (a hole) to the hash and the writer. */
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

/* Copy [off, off+len) of fd; a short file is padded with zeros. */
static int
copy_range(struct bk *b, int fd, const char *path,
    struct hash *h, uint64_t off, uint64_t len, int *changed)
{
	ssize_t n;
	size_t want;

	while (len > 0) {
		if (cancelled(b))
			return ERR_FAIL;
		want = len > READ_BUF ? READ_BUF : (size_t)len;
		n = pread(fd, b->buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			warnf(b, "error reading '%s': %s (rest stored as "
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
		b->res->bytes += (uint64_t)n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
		progress(b, 0);
	}
	return ERR_OK;
}

/* Write a regular file's content (sparse-aware) and hash it. */
static int
copy_file(struct bk *b, struct archive_entry *e, int fd, const char *path,
    uint8_t hash[32])
{
	struct hash h;
	uint64_t size = (uint64_t)archive_entry_size(e), pos = 0;
	la_int64_t off, len;
	int changed = 0, rc;
	struct stat sb;

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
			    (uint64_t)len, &changed)) != ERR_OK)
				return rc;
			pos = (uint64_t)(off + len);
		}
		if ((rc = write_zeros(b, &h, size - pos)) != ERR_OK)
			return rc;
	} else if ((rc = copy_range(b, fd, path, &h, 0, size, &changed)) !=
	    ERR_OK)
		return rc;
	if (!changed && fstat(fd, &sb) == 0 && (uint64_t)sb.st_size != size)
		changed = 1;
	if (changed)
		warnf(b, "'%s' changed while it was read", path);
	hash_final(&h, hash);
	return ERR_OK;
}

/* The manifest record of one archived entry. */
static int
put_file_record(struct bk *b, struct archive_entry *e, uint64_t o,
    uint64_t end, const uint8_t *hash)
{
	const char *path = archive_entry_pathname(e), *link;
	int type = manifest_entry_type(e);
	char hex[65];
	json_t *j;
	int rc = ERR_FAIL;

	j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "t", "file", "type", manifest_type_name(type),
	    "mode", (json_int_t)(archive_entry_mode(e) & 07777),
	    "uid", (json_int_t)archive_entry_uid(e),
	    "gid", (json_int_t)archive_entry_gid(e),
	    "mtime", (json_int_t)archive_entry_mtime(e),
	    "size", (json_int_t)(type == MF_FILE ? archive_entry_size(e) : 0),
	    "o", (json_int_t)o, "e", (json_int_t)end);
	if (j == NULL)
		goto nomem;
	if (manifest_set_bytes(j, "path", path, strlen(path)) != ERR_OK)
		goto nomem;
	if (type == MF_FILE) {
		util_hex(hash, 32, hex);
		json_object_set_new(j, hash_name(b->hash_alg),
		    json_string(hex));
	}
	link = type == MF_HARDLINK ? archive_entry_hardlink(e) :
	    type == MF_SYMLINK ? archive_entry_symlink(e) : NULL;
	if (link != NULL &&
	    manifest_set_bytes(j, "link", link, strlen(link)) != ERR_OK)
		goto nomem;
	rc = manifest_put(b->mw, j);
	json_decref(j);
	return rc;
nomem:
	json_decref(j);
	err_set("out of memory");
	return ERR_FAIL;
}

static int
put_skipped(struct bk *b, const char *path, const char *why)
{
	json_t *j = json_pack("{s:s, s:s}", "t", "skipped", "reason", why);
	int rc;

	if (j == NULL || manifest_set_bytes(j, "path", path, strlen(path)))
		rc = ERR_FAIL;
	else
		rc = manifest_put(b->mw, j);
	json_decref(j);
	return rc;
}

/* Archive one entry the disk reader produced. */
static int
archive_one(struct bk *b, struct archive_entry *e)
{
	struct archive_entry *spare = NULL;
	const char *src = archive_entry_sourcepath(e);
	const char *path, *hl;
	uint8_t hash[32];
	uint64_t o;
	int fd = -1, rc = ERR_OK, r;
	char *cpath = NULL;

	if (src == NULL)
		src = archive_entry_pathname(e);
	if ((path = clean_path(archive_entry_pathname(e))) == NULL)
		return ERR_OK;    /* "/" or "." itself */
	if ((cpath = strdup(path)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	archive_entry_copy_pathname(e, cpath);
	if (archive_entry_filetype(e) == AE_IFREG) {
		fd = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
		if (fd < 0 && errno == EPERM)
			fd = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			warnf(b, "cannot read '%s': %s (skipped)", src,
			    strerror(errno));
			rc = put_skipped(b, cpath, strerror(errno));
			goto done;
		}
	}
	archive_entry_linkify(b->lr, &e, &spare);
	if (e == NULL)
		goto done;
	if ((hl = archive_entry_hardlink(e)) != NULL) {
		const char *c = clean_path(hl);
		char *tmp;

		if (c == NULL || (tmp = strdup(c)) == NULL) {
			warnf(b, "'%s': unusable hard link target (skipped)",
			    src);
			goto done;
		}
		archive_entry_copy_hardlink(e, tmp);
		free(tmp);
		if (fd >= 0) {
			close(fd);
			fd = -1;
		}
	}
	o = b->tar_off;
	r = archive_write_header(b->aw, e);
	if (r == ARCHIVE_FATAL || b->failed) {
		if (!b->failed)
			err_set("archive write failed: %s",
			    archive_error_string(b->aw));
		rc = ERR_FAIL;
		goto done;
	}
	if (r < ARCHIVE_WARN) {
		warnf(b, "'%s': %s (skipped)", src,
		    archive_error_string(b->aw));
		goto done;
	}
	if (fd >= 0 && archive_entry_size(e) > 0 &&
	    (rc = copy_file(b, e, fd, src, hash)) != ERR_OK)
		goto done;
	if (fd >= 0 && archive_entry_size(e) == 0)
		hash_buf(b->hash_alg, NULL, 0, hash);
	if (archive_write_finish_entry(b->aw) != ARCHIVE_OK || b->failed) {
		if (!b->failed)
			err_set("archive write failed: %s",
			    archive_error_string(b->aw));
		rc = ERR_FAIL;
		goto done;
	}
	rc = put_file_record(b, e, o, b->tar_off, hash);
	b->res->files++;
	progress(b, 0);
done:
	if (fd >= 0)
		close(fd);
	free(cpath);
	return rc;
}

/* Walk one source path. */
static int
walk_path(struct bk *b, const char *root)
{
	struct archive_entry *e;
	int r, rc = ERR_OK;

	if (archive_read_disk_open(b->disk, root) != ARCHIVE_OK) {
		warnf(b, "cannot read '%s': %s (skipped)", root,
		    archive_error_string(b->disk));
		return put_skipped(b, root, archive_error_string(b->disk));
	}
	if ((e = archive_entry_new()) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	for (;;) {
		if (cancelled(b)) {
			rc = ERR_FAIL;
			break;
		}
		archive_entry_clear(e);
		r = archive_read_next_header2(b->disk, e);
		if (r == ARCHIVE_EOF)
			break;
		if (r == ARCHIVE_FATAL) {
			warnf(b, "cannot read '%s': %s", root,
			    archive_error_string(b->disk));
			break;
		}
		if (r == ARCHIVE_FAILED || r == ARCHIVE_RETRY) {
			warnf(b, "%s (skipped)", archive_error_string(b->disk));
			continue;
		}
		if (r == ARCHIVE_WARN)
			warnf(b, "'%s': %s", archive_entry_pathname(e),
			    archive_error_string(b->disk));
		if (excluded(b, archive_entry_pathname(e)))
			continue;
		if (archive_entry_filetype(e) == AE_IFDIR)
			archive_read_disk_descend(b->disk);
		if ((rc = archive_one(b, e)) != ERR_OK)
			break;
	}
	archive_entry_free(e);
	archive_read_close(b->disk);
	return rc;
}

static int
backup_tree(struct bk *b)
{
	size_t i;
	int rc = ERR_FAIL;

	if ((b->aw = archive_write_new()) == NULL ||
	    (b->disk = archive_read_disk_new()) == NULL ||
	    (b->lr = archive_entry_linkresolver_new()) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	archive_entry_linkresolver_set_strategy(b->lr,
	    ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
	if (archive_write_set_format_pax_restricted(b->aw) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(b->aw, 0) != ARCHIVE_OK ||
	    archive_write_open2(b->aw, b, NULL, tar_write, NULL, NULL) !=
	    ARCHIVE_OK) {
		err_set("cannot start archive: %s",
		    archive_error_string(b->aw));
		return ERR_FAIL;
	}
	archive_read_disk_set_standard_lookup(b->disk);
	archive_read_disk_set_symlink_physical(b->disk);
	for (i = 0; i < b->o->npaths; i++)
		if ((rc = walk_path(b, b->o->paths[i])) != ERR_OK)
			return rc;
	if (b->o->npaths == 0)
		rc = ERR_OK;
	if (archive_write_close(b->aw) != ARCHIVE_OK || b->failed) {
		if (!b->failed)
			err_set("archive write failed: %s",
			    archive_error_string(b->aw));
		return ERR_FAIL;
	}
	return rc;
}

/* The stdin stream is stored raw, as one file. */
static int
backup_stdin(struct bk *b)
{
	struct hash h;
	uint8_t hash[32];
	char hex[65];
	json_t *j;
	ssize_t n;
	int rc;

	hash_init(&h, b->hash_alg);
	for (;;) {
		if (cancelled(b))
			return ERR_FAIL;
		n = read(STDIN_FILENO, b->buf, READ_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set("cannot read standard input: %s",
			    strerror(errno));
			return ERR_FAIL;
		}
		if (n == 0)
			break;
		hash_update(&h, b->buf, (size_t)n);
		if ((rc = ostream_write(b->data, b->buf, (size_t)n)) != ERR_OK)
			return rc;
		b->res->bytes += (uint64_t)n;
		progress(b, 0);
	}
	hash_final(&h, hash);
	util_hex(hash, 32, hex);
	b->tar_off = b->res->bytes;
	j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
	    "t", "file", "type", "file", "mode", (json_int_t)0600,
	    "uid", (json_int_t)getuid(), "gid", (json_int_t)getgid(),
	    "mtime", (json_int_t)(util_now_us() / 1000000),
	    "size", (json_int_t)b->res->bytes, "o", (json_int_t)0,
	    "e", (json_int_t)b->res->bytes, hash_name(b->hash_alg), hex);
	if (j == NULL || manifest_set_bytes(j, "path", b->o->stdin_name,
	    strlen(b->o->stdin_name)) != ERR_OK) {
		json_decref(j);
		err_set("out of memory");
		return ERR_FAIL;
	}
	rc = manifest_put(b->mw, j);
	json_decref(j);
	b->res->files = 1;
	return rc;
}

static json_t *
objref(int hash_alg, const char *key, uint64_t size, const uint8_t hash[32])
{
	char hex[65];

	util_hex(hash, 32, hex);
	return json_pack("{s:s, s:I, s:s}", "key", key, "size",
	    (json_int_t)size, hash_name(hash_alg), hex);
}

/* Write the archive record: the commit. */
static int
put_record(struct bk *b, const uint8_t *datakey, const char *host,
    int64_t created_us, const struct ostream_result *dres,
    uint64_t msize, const uint8_t mhash[32], double seconds)
{
	const struct repo_config *cfg = repo_config(b->repo);
	char dkey[64], mkey[64], rkey[64], when[40];
	uint8_t sealed[KEYS_SEALED];
	json_t *rec, *arr;
	char *b64, *text = NULL;
	size_t i;
	int rc = ERR_FAIL;

	repo_key_data(b->res->id, dkey, sizeof(dkey));
	repo_key_manifest(b->res->id, mkey, sizeof(mkey));
	repo_key_record(b->res->id, rkey, sizeof(rkey));
	util_iso8601(created_us, when, sizeof(when));
	if ((arr = json_array()) == NULL)
		goto nomem;
	for (i = 0; i < cfg->nrecip; i++) {
		if (keys_seal(&cfg->recip[i], datakey, sealed) != ERR_OK) {
			json_decref(arr);
			return ERR_FAIL;
		}
		if ((b64 = util_b64(sealed, sizeof(sealed))) == NULL) {
			json_decref(arr);
			goto nomem;
		}
		json_array_append_new(arr, json_pack("{s:s, s:s}", "fpr",
		    cfg->recip[i].fpr, "sealed", b64));
		free(b64);
	}
	rec = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, "
	    "s:I, s:I, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:f}}",
	    "bkp_archive", REPO_ARCHIVE_VERSION, "hash", hash_name(b->hash_alg),
	    "id", b->res->id, "repository", cfg->id,
	    "name", b->o->name, "host", host, "created", when,
	    "created_us", (json_int_t)created_us,
	    "cipher", crypto_cipher_name(b->res->cipher),
	    "content", b->o->stdin_name != NULL ? "raw" : "tar",
	    "chunk_size", (json_int_t)cfg->chunk_size,
	    "chunks", (json_int_t)dres->chunks,
	    "data", objref(b->hash_alg, dkey, dres->size, dres->hash),
	    "manifest", objref(b->hash_alg, mkey, msize, mhash),
	    "recipients", arr,
	    "stats", "files", (json_int_t)b->res->files,
	    "bytes", (json_int_t)b->res->bytes,
	    "tar_bytes", (json_int_t)b->res->tar_bytes,
	    "warnings", (json_int_t)b->res->warnings, "seconds", seconds);
	if (rec == NULL ||
	    (text = json_dumps(rec, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		json_decref(rec);
		goto nomem;
	}
	json_decref(rec);
	rc = storage_put_bytes(b->st, rkey, text, strlen(text));
	free(text);
	return rc;
nomem:
	err_set("out of memory");
	return ERR_FAIL;
}

int
backup_run(struct repo *r, const struct backup_opts *o,
    struct backup_result *res)
{
	const struct repo_config *cfg = repo_config(r);
	struct bk b;
	struct obj_header h;
	struct ostream_result dres;
	uint8_t *keys = NULL;       /* datakey | data subkey | manifest subkey */
	uint8_t mhash[32];
	char dkey[64], mkey[64], host[256], when[40];
	uint64_t msize;
	int64_t created_us = util_now_us();
	int rc = ERR_FAIL, data_done = 0, man_done = 0;
	json_t *j;

	memset(&b, 0, sizeof(b));
	memset(res, 0, sizeof(*res));
	b.repo = r;
	b.o = o;
	b.res = res;
	b.st = repo_storage(r);
	b.t0 = util_mono();
	b.hash_alg = HASH_DEFAULT;
	res->cipher = crypto_cipher_pick(cfg->cipher);
	if (!crypto_cipher_available(res->cipher)) {
		err_set("this CPU cannot run %s, the repository's cipher",
		    crypto_cipher_name(res->cipher));
		return ERR_FAIL;
	}
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	if ((keys = sodium_malloc(3 * 32)) == NULL ||
	    (b.buf = malloc(READ_BUF)) == NULL) {
		err_set("out of memory");
		goto done;
	}
	randombytes_buf(keys, 32);
	crypto_subkey(keys, "data", keys + 32);
	crypto_subkey(keys, "manifest", keys + 64);
	memset(&h, 0, sizeof(h));
	randombytes_buf(h.id, sizeof(h.id));
	util_hex(h.id, sizeof(h.id), res->id);
	h.type = OBJ_TYPE_DATA;
	h.cipher = res->cipher;
	h.content = o->stdin_name != NULL ? OBJ_CONTENT_RAW : OBJ_CONTENT_TAR;
	h.chunk_size = cfg->chunk_size;
	repo_key_data(res->id, dkey, sizeof(dkey));
	repo_key_manifest(res->id, mkey, sizeof(mkey));

	if ((rc = manifest_writer_new(b.st, mkey, res->cipher, keys + 64, h.id,
	    b.hash_alg, &b.mw)) != ERR_OK)
		goto done;
	util_iso8601(created_us, when, sizeof(when));
	j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, "
	    "s:I}", "t", "archive", "v", REPO_ARCHIVE_VERSION,
	    "hash", hash_name(b.hash_alg), "id", res->id, "name", o->name,
	    "host", host, "created", when, "created_us",
	    (json_int_t)created_us, "cipher", crypto_cipher_name(res->cipher),
	    "content", h.content == OBJ_CONTENT_RAW ? "raw" : "tar",
	    "chunk_size", (json_int_t)h.chunk_size);
	rc = j == NULL ? ERR_FAIL : manifest_put(b.mw, j);
	json_decref(j);
	if (rc != ERR_OK)
		goto done;
	if ((rc = ostream_new(b.st, dkey, &h, keys + 32, b.hash_alg, o->level,
	    o->threads, chunk_record, &b, &b.data)) != ERR_OK)
		goto done;

	rc = o->stdin_name != NULL ? backup_stdin(&b) : backup_tree(&b);
	if (rc != ERR_OK)
		goto done;
	res->tar_bytes = b.tar_off;
	if ((rc = ostream_finish(b.data, &dres)) != ERR_OK)
		goto done;
	data_done = 1;
	progress(&b, 1);
	{
		char hex[65], member[HASH_MEMBER_MAX];

		util_hex(dres.hash, 32, hex);
		j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:I}",
		    "t", "end", "files", (json_int_t)res->files,
		    "bytes", (json_int_t)res->bytes,
		    "tar_bytes", (json_int_t)res->tar_bytes,
		    "chunks", (json_int_t)dres.chunks,
		    "data_size", (json_int_t)dres.size,
		    hash_member(member, "data", b.hash_alg), hex,
		    "warnings", (json_int_t)res->warnings);
	}
	rc = j == NULL ? ERR_FAIL : manifest_put(b.mw, j);
	json_decref(j);
	if (rc != ERR_OK)
		goto done;
	if ((rc = manifest_writer_finish(b.mw, &msize, mhash)) != ERR_OK)
		goto done;
	man_done = 1;
	res->chunks = dres.chunks;
	res->stored = dres.size + msize;
	res->seconds = util_mono() - b.t0;
	/* A stop asked for while the last chunks were stored (all input was
	 * read) still stops it: nothing is committed before the record. */
	if (cancelled(&b)) {
		rc = ERR_FAIL;
		goto done;
	}
	rc = put_record(&b, keys, host, created_us, &dres, msize, mhash,
	    res->seconds);
done:
	if (rc != ERR_OK) {
		/* Nothing visible was committed; remove what was stored. */
		if (data_done)
			storage_delete(b.st, dkey);
		if (man_done)
			storage_delete(b.st, mkey);
	}
	if (b.aw != NULL)
		archive_write_free(b.aw);
	if (b.disk != NULL)
		archive_read_free(b.disk);
	if (b.lr != NULL)
		archive_entry_linkresolver_free(b.lr);
	ostream_free(b.data);
	manifest_writer_free(b.mw);
	free(b.buf);
	if (keys != NULL)
		sodium_free(keys);
	return rc;
}
