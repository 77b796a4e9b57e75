/*
 * A tar entry against its manifest record: see check.h.  The manifest is
 * authenticated but may have been written by anyone holding the
 * repository's public keys, and so may the tar stream: a restore acts
 * only on what both say.
 */
#include <string.h>

#include <archive_entry.h>

#include "check.h"
#include "err.h"
#include "manifest.h"

/* Do the byte strings a (the tar entry's, may be NULL) and b agree? */
static int
same(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

int
check_entry(const char *id, struct archive_entry *e, const struct mfile *f)
{
	const char *what = NULL;
	int kind = manifest_entry_type(e);

	if (kind != f->type)
		what = "type";
	else if (kind == MF_SYMLINK && !same(archive_entry_symlink(e),
	    f->link))
		what = "symlink target";
	else if (kind == MF_HARDLINK && !same(archive_entry_hardlink(e),
	    f->link))
		what = "hard link target";
	else if (kind != MF_SYMLINK && kind != MF_HARDLINK &&
	    archive_entry_symlink(e) != NULL)
		what = "link";  /* a link name on an entry of another kind */
	else if (!f->has_meta)
		what = "its record lacks mode, uid or gid";
	else if ((uint64_t)(archive_entry_mode(e) & 07777) != f->mode)
		what = "mode";
	else if ((uint64_t)archive_entry_uid(e) != f->uid ||
	    (uint64_t)archive_entry_gid(e) != f->gid)
		what = "owner";
	if (what == NULL)
		return ERR_OK;
	err_set("archive %s: '%s': its tar entry and its manifest record "
	    "disagree (%s)", id, f->path, what);
	return ERR_CORRUPT;
}
