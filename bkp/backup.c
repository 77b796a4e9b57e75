/*
 * Backup engine (archive format 3): sources -> pieces of a pax stream
 * (tree.c), of which only what no earlier archive of the chain holds goes
 * into the data object (ostream: zstd + AEAD chunks, worker threads); a
 * manifest of every entry (its segments, size, content hash) and a frames
 * object (the data object's chunk table) go to two more objects; the
 * archive record is written last and is the commit; then this host's
 * file index for the next backup is replaced.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <sodium.h>

#include "bk.h"
#include "crypto.h"
#include "err.h"
#include "hash.h"
#include "manifest.h"
#include "objfmt.h"
#include "ostream.h"
#include "repo.h"
#include "storage.h"
#include "util.h"

void
bk_warn(struct bk *b, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	b->res->warnings++;
	if (b->o->warn != NULL)
		b->o->warn(b->o->arg, msg != NULL ? msg : "(out of memory)");
	free(msg);
}

void
bk_progress(struct bk *b, int force)
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
	p.bytes = b->res->read_bytes;
	p.stored = ostream_stored(b->data);
	p.elapsed = now - b->t0;
	b->o->progress(b->o->arg, &p);
}

int
bk_cancelled(struct bk *b)
{
	if (b->o->cancel != NULL && *b->o->cancel) {
		err_set("interrupted");
		return 1;
	}
	return 0;
}

/* Chunk callback: every chunk of the data object gets a frames record. */
static int
chunk_record(void *arg, const struct ostream_chunk *c)
{
	struct bk *b = arg;
	json_t *j;
	int rc;

	j = json_pack("{s:s, s:I, s:I, s:I, s:I}", "t", "chunk",
	    "i", (json_int_t)c->index, "off", (json_int_t)c->offset,
	    "len", (json_int_t)c->sealed_len, "plain", (json_int_t)c->plain_len);
	if (j == NULL)
		return -1;
	rc = manifest_put(b->fw, j);
	json_decref(j);
	return rc == ERR_OK ? 0 : -1;
}

int
bk_put_skipped(struct bk *b, const char *path, const char *why)
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

/* Add the record of the entry just built (its key and pieces are b's)
 * to the next file index; a key that does not sort after the last one
 * (overlapping sources) is archived but not indexed. */
int
bk_index(struct bk *b, struct findex_rec *rec)
{
	char *n;

	rec->path = (const char *)b->vec;
	rec->pathlen = b->veclen;
	rec->seg = b->pc.seg;
	rec->nseg = b->pc.nseg;
	rec->chunk = b->pc.chunk;
	rec->nchunk = b->pc.nchunk;

	if (b->iw == NULL || rec->nseg == 0)
		return ERR_OK;  /* (an empty raw input: nothing to refer to) */
	if (b->last != NULL && findex_pathcmp(b->last, b->lastlen, rec->path,
	    rec->pathlen) >= 0)
		return ERR_OK;
	if (rec->pathlen > b->lastcap) {
		if ((n = realloc(b->last, rec->pathlen)) == NULL) {
			err_set("out of memory");
			return ERR_FAIL;
		}
		b->last = n;
		b->lastcap = rec->pathlen;
	}
	memcpy(b->last, rec->path, rec->pathlen);
	b->lastlen = rec->pathlen;
	if (findex_put(b->iw, rec) != ERR_OK) {
		/* The backup goes on; the next one will be a full one. */
		bk_warn(b, "cannot keep a file index for the next backup: %s",
		    err_get());
		findex_writer_abort(b->iw);
		b->iw = NULL;
	}
	return ERR_OK;
}

/* Standard input is stored as one file, cut into chunks like any other
 * file's content. */
static int
backup_stdin(struct bk *b)
{
	const struct findex_rec *p;
	const char *name = b->o->stdin_name;
	struct findex_rec r;
	struct hash h;
	uint8_t hash[32];
	char hex[65];
	json_t *j, *s;
	ssize_t n;
	size_t i;
	int rc, err = 0;

	if ((b->vec = malloc(WALK_LEVEL)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	tree_name_key(b->prev.key);
	tree_name_hash(name, strlen(name), b->vec);
	b->veclen = WALK_LEVEL;
	p = prev_find(&b->prev, (const char *)b->vec, b->veclen, &err);
	if (err)
		return ERR_FAIL;
	pieces_begin(&b->pc);
	if ((rc = pieces_known(&b->pc, p)) != ERR_OK)
		return rc;
	hash_init(&h, b->hash_alg);
	for (;;) {
		if (bk_cancelled(b))
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
		if ((rc = pieces_data(&b->pc, b->buf, (size_t)n)) != ERR_OK)
			return rc;
		b->res->bytes += (uint64_t)n;
		b->res->read_bytes += (uint64_t)n;
		bk_progress(b, 0);
	}
	if ((rc = pieces_data_end(&b->pc)) != ERR_OK)
		return rc;
	hash_final(&h, hash);
	util_hex(hash, 32, hex);
	if ((s = json_array()) == NULL)
		goto nomem;
	for (i = 0; i < b->pc.nseg; i++)
		json_array_append_new(s, json_pack("[I, I, I]",
		    (json_int_t)b->pc.seg[i].src, (json_int_t)b->pc.seg[i].off,
		    (json_int_t)b->pc.seg[i].len));
	j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:s}",
	    "t", "file", "type", "file", "mode", (json_int_t)0600,
	    "uid", (json_int_t)getuid(), "gid", (json_int_t)getgid(),
	    "mtime", (json_int_t)(util_now_us() / 1000000), "mtime_ns",
	    (json_int_t)0, "size", (json_int_t)b->res->bytes, "s", s,
	    hash_name(b->hash_alg), hex);
	if (j == NULL || manifest_set_bytes(j, "path", name, strlen(name)) !=
	    ERR_OK) {
		json_decref(j);
		goto nomem;
	}
	rc = manifest_put(b->mw, j);
	json_decref(j);
	if (rc != ERR_OK)
		return rc;
	b->res->files = 1;
	memset(&r, 0, sizeof(r));
	r.type = MF_FILE;
	r.size = r.data = b->res->bytes;
	memcpy(r.hash, hash, 32);
	return bk_index(b, &r);
nomem:
	err_set("out of memory");
	return ERR_FAIL;
}

static json_t *
objref(int hash_alg, const char *key, uint64_t size, const uint8_t hash[32])
{
	char hex[65];

	util_hex(hash, 32, hex);
	return json_pack("{s:s, s:I, s:s}", "key", key, "size",
	    (json_int_t)size, hash_name(hash_alg), hex);
}

/* The deps ("ids only") and the chain members of record and manifest. */
static int
set_chain(struct bk *b, json_t *j)
{
	char hex[REPO_ID_HEX + 1];
	json_t *deps;
	size_t i;

	if ((deps = json_array()) == NULL)
		return ERR_FAIL;
	for (i = 1; i < b->prev.nsrc; i++) {
		util_hex(b->prev.src[i], 16, hex);
		json_array_append_new(deps, json_string(hex));
	}
	json_object_set_new(j, "deps", deps);
	json_object_set_new(j, "base", b->prev.incremental ?
	    json_string(b->prev.base) : json_null());
	json_object_set_new(j, "chain", json_integer(b->prev.chain));
	return ERR_OK;
}

struct objs {
	struct ostream_result data;
	uint64_t msize, fsize;
	uint8_t mhash[32], fhash[32];
};

/* Write the archive record: the commit. */
static int
put_record(struct bk *b, const uint8_t *datakey, const char *host,
    int64_t created_us, const struct objs *x)
{
	const struct repo_config *cfg = repo_config(b->repo);
	char dkey[64], mkey[64], fkey[64], rkey[64], when[40];
	uint8_t sealed[KEYS_SEALED];
	json_t *rec, *arr;
	char *b64, *text = NULL;
	size_t i;
	int rc = ERR_FAIL;

	repo_key_data(b->res->id, dkey, sizeof(dkey));
	repo_key_manifest(b->res->id, mkey, sizeof(mkey));
	repo_key_frames(b->res->id, fkey, sizeof(fkey));
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
	    "s:I, s:I, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:f}}",
	    "bkp_archive", REPO_ARCHIVE_VERSION, "hash", hash_name(b->hash_alg),
	    "id", b->res->id, "repository", cfg->id,
	    "name", b->o->name, "host", host, "created", when,
	    "created_us", (json_int_t)created_us,
	    "cipher", crypto_cipher_name(b->res->cipher),
	    "content", b->o->stdin_name != NULL ? "raw" : "tar",
	    "chunk_size", (json_int_t)cfg->chunk_size,
	    "chunks", (json_int_t)x->data.chunks,
	    "data", objref(b->hash_alg, dkey, x->data.size, x->data.hash),
	    "manifest", objref(b->hash_alg, mkey, x->msize, x->mhash),
	    "frames", objref(b->hash_alg, fkey, x->fsize, x->fhash),
	    "recipients", arr,
	    "stats", "files", (json_int_t)b->res->files,
	    "bytes", (json_int_t)b->res->bytes,
	    "read_bytes", (json_int_t)b->res->read_bytes,
	    "new_bytes", (json_int_t)b->res->new_bytes,
	    "reused", (json_int_t)b->res->reused,
	    "tar_bytes", (json_int_t)b->res->tar_bytes,
	    "warnings", (json_int_t)b->res->warnings,
	    "seconds", b->res->seconds);
	if (rec == NULL || set_chain(b, rec) != ERR_OK ||
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

/* The first records of the manifest and of the frames object. */
static int
put_heads(struct bk *b, const char *host, int64_t created_us, int content)
{
	char when[40];
	json_t *j;
	int rc;

	util_iso8601(created_us, when, sizeof(when));
	j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, "
	    "s:I}", "t", "archive", "v", REPO_ARCHIVE_VERSION,
	    "hash", hash_name(b->hash_alg), "id", b->res->id, "name",
	    b->o->name, "host", host, "created", when, "created_us",
	    (json_int_t)created_us, "cipher", crypto_cipher_name(
	    b->res->cipher), "content", content == OBJ_CONTENT_RAW ? "raw" :
	    "tar", "chunk_size", (json_int_t)repo_config(b->repo)->chunk_size);
	if (j == NULL || set_chain(b, j) != ERR_OK) {
		json_decref(j);
		err_set("out of memory");
		return ERR_FAIL;
	}
	rc = manifest_put(b->mw, j);
	json_decref(j);
	if (rc != ERR_OK)
		return rc;
	j = json_pack("{s:s, s:i, s:s}", "t", "frames", "v",
	    REPO_ARCHIVE_VERSION, "id", b->res->id);
	rc = j == NULL ? ERR_FAIL : manifest_put(b->fw, j);
	json_decref(j);
	return rc;
}

/* The last records: the frames object's, then (binding it) the
 * manifest's. */
static int
put_ends(struct bk *b, struct objs *x)
{
	char hex[65], member[HASH_MEMBER_MAX];
	json_t *j;
	int rc;

	util_hex(x->data.hash, 32, hex);
	j = json_pack("{s:s, s:I, s:I, s:s}", "t", "end",
	    "chunks", (json_int_t)x->data.chunks,
	    "data_size", (json_int_t)x->data.size,
	    hash_member(member, "data", b->hash_alg), hex);
	rc = j == NULL ? ERR_FAIL : manifest_put(b->fw, j);
	json_decref(j);
	if (rc != ERR_OK ||
	    (rc = manifest_writer_finish(b->fw, &x->fsize, x->fhash)) != ERR_OK)
		return rc;
	j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I}",
	    "t", "end", "files", (json_int_t)b->res->files,
	    "bytes", (json_int_t)b->res->bytes,
	    "tar_bytes", (json_int_t)b->res->tar_bytes,
	    "chunks", (json_int_t)x->data.chunks,
	    "data_size", (json_int_t)x->data.size,
	    hash_member(member, "data", b->hash_alg), hex,
	    "warnings", (json_int_t)b->res->warnings,
	    "frames_size", (json_int_t)x->fsize);
	if (j != NULL) {
		util_hex(x->fhash, 32, hex);
		json_object_set_new(j, hash_member(member, "frames",
		    b->hash_alg), json_string(hex));
	}
	rc = j == NULL ? ERR_FAIL : manifest_put(b->mw, j);
	json_decref(j);
	if (rc != ERR_OK)
		return rc;
	return manifest_writer_finish(b->mw, &x->msize, x->mhash);
}

/* Start the next file index (written beside the current one, put in
 * place after the commit).  A host that cannot keep one still backs up
 * (fully, next time too): said once. */
static void
start_index(struct bk *b, int64_t created_us)
{
	struct findex_head *h;
	uint8_t repo[16];
	size_t i;

	if ((h = sodium_malloc(sizeof(*h))) == NULL)
		return;
	memset(h, 0, sizeof(*h));
	util_unhex(repo_config(b->repo)->id, repo, 16);
	memcpy(h->repo, repo, 16);
	memcpy(h->archive, b->prev.src[0], 16);
	h->created_us = created_us;
	h->full_us = b->prev.full_us;
	h->chain = b->prev.chain;
	h->hash_alg = b->hash_alg;
	memcpy(h->key, b->prev.key, 32);
	h->narch = b->prev.nsrc;
	for (i = 0; i < b->prev.nsrc; i++)
		memcpy(h->arch[i], b->prev.src[i], 16);
	if (findex_writer_new(b->prev.path, repo, b->o->name, h, &b->iw) !=
	    ERR_OK) {
		bk_warn(b, "cannot keep a file index for the next backup: %s",
		    err_get());
		b->iw = NULL;
	}
	sodium_memzero(h, sizeof(*h));
	sodium_free(h);
}

int
backup_run(struct repo *r, const struct backup_opts *o,
    struct backup_result *res)
{
	const struct repo_config *cfg = repo_config(r);
	struct bk b;
	struct obj_header h;
	struct objs x;
	uint8_t *keys = NULL; /* datakey | data, manifest, frames subkeys */
	char dkey[64], mkey[64], fkey[64], host[256];
	const char *why;
	int64_t created_us = util_now_us();
	int rc = ERR_FAIL, data_done = 0, man_done = 0;

	memset(&b, 0, sizeof(b));
	memset(&x, 0, sizeof(x));
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
	if ((keys = sodium_malloc(4 * 32)) == NULL ||
	    (b.buf = malloc(READ_BUF)) == NULL) {
		err_set("out of memory");
		goto done;
	}
	randombytes_buf(keys, 32);
	crypto_subkey(keys, "data", keys + 32);
	crypto_subkey(keys, "manifest", keys + 64);
	crypto_subkey(keys, "frames", keys + 96);
	memset(&h, 0, sizeof(h));
	randombytes_buf(h.id, sizeof(h.id));
	util_hex(h.id, sizeof(h.id), res->id);
	h.type = OBJ_TYPE_DATA;
	h.cipher = res->cipher;
	h.content = o->stdin_name != NULL ? OBJ_CONTENT_RAW : OBJ_CONTENT_TAR;
	h.chunk_size = cfg->chunk_size;
	repo_key_data(res->id, dkey, sizeof(dkey));
	repo_key_manifest(res->id, mkey, sizeof(mkey));
	repo_key_frames(res->id, fkey, sizeof(fkey));

	if ((rc = prev_open(&b.prev, r, o, h.id, created_us, &why)) != ERR_OK)
		goto done;
	if (why != NULL && o->note != NULL)
		o->note(o->arg, why);
	res->chain = b.prev.chain;
	memcpy(res->base, b.prev.base, sizeof(res->base));
	start_index(&b, created_us);
	if ((rc = manifest_writer_new(b.st, mkey, res->cipher, keys + 64, h.id,
	    b.hash_alg, &b.mw)) != ERR_OK ||
	    (rc = manifest_writer_new(b.st, fkey, res->cipher, keys + 96,
	    h.id, b.hash_alg, &b.fw)) != ERR_OK ||
	    (rc = put_heads(&b, host, created_us, h.content)) != ERR_OK)
		goto done;
	if ((rc = ostream_new(b.st, dkey, &h, keys + 32, b.hash_alg, o->level,
	    o->threads, chunk_record, &b, &b.data)) != ERR_OK)
		goto done;
	if ((rc = pieces_init(&b.pc, b.data, &b.prev, b.prev.key)) != ERR_OK)
		goto done;

	rc = o->stdin_name != NULL ? backup_stdin(&b) : tree_backup(&b);
	if (rc != ERR_OK)
		goto done;
	res->tar_bytes = b.pc.off;
	res->new_bytes = b.pc.new_bytes;
	if ((rc = ostream_finish(b.data, &x.data)) != ERR_OK)
		goto done;
	data_done = 1;
	bk_progress(&b, 1);
	if ((rc = put_ends(&b, &x)) != ERR_OK)
		goto done;
	man_done = 1;
	res->chunks = x.data.chunks;
	res->stored = x.data.size + x.msize + x.fsize;
	res->seconds = util_mono() - b.t0;
	/* A stop asked for while the last chunks were stored (all input was
	 * read) still stops it: nothing is committed before the record. */
	if (bk_cancelled(&b)) {
		rc = ERR_FAIL;
		goto done;
	}
	if ((rc = put_record(&b, keys, host, created_us, &x)) != ERR_OK)
		goto done;
	/* Committed.  The next backup builds on this one, through its new
	 * file index; if that cannot be put in place, it is a full one. */
	if (b.iw != NULL) {
		if (findex_writer_commit(b.iw) != ERR_OK) {
			bk_warn(&b, "cannot keep a file index for the next "
			    "backup: %s", err_get());
			findex_remove(b.prev.path);
		}
		b.iw = NULL;
	} else
		findex_remove(b.prev.path);
done:
	if (rc != ERR_OK) {
		/* Nothing visible was committed; remove what was stored. */
		if (data_done)
			storage_delete(b.st, dkey);
		if (man_done) {
			storage_delete(b.st, mkey);
			storage_delete(b.st, fkey);
		}
	}
	findex_writer_abort(b.iw);
	if (b.aw != NULL)
		archive_write_free(b.aw);
	if (b.disk != NULL)
		archive_read_free(b.disk);
	if (b.lr != NULL)
		archive_entry_linkresolver_free(b.lr);
	pieces_free(&b.pc);
	prev_close(&b.prev);
	ostream_free(b.data);
	manifest_writer_free(b.mw);
	manifest_writer_free(b.fw);
	free(b.buf);
	free(b.hdr);
	free(b.last);
	free(b.vec);
	if (keys != NULL)
		sodium_free(keys);
	return rc;
}
