/* What a restore withholds by default: see policy.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#include "err.h"
#include "policy.h"
#include "restore.h"

#define MAX_XATTRS 1024

static int
xattr_allowed(const struct restore_opts *o, const char *name)
{
	switch (o->xattrs) {
	case RESTORE_XATTRS_ALL:
		return 1;
	case RESTORE_XATTRS_NONE:
		return 0;
	default:
		return strncmp(name, "user.", 5) == 0;
	}
}

/* Keep only the extended attributes the policy allows; the first one
 * withheld is named in why (unless none were asked for at all). */
static int
filter_xattrs(const struct restore_opts *o, struct archive_entry *e,
    char *why, size_t cap)
{
	struct { char *name; void *value; size_t size; } *keep = NULL;
	const char *name;
	char names[256] = "";
	const void *value;
	size_t size, n = 0, k, dropped = 0;
	int count, rc = ERR_OK;

	if ((count = archive_entry_xattr_reset(e)) <= 0)
		return ERR_OK;
	if (count > MAX_XATTRS)
		count = MAX_XATTRS;
	if ((keep = calloc((size_t)count, sizeof(*keep))) == NULL)
		goto nomem;
	while (archive_entry_xattr_next(e, &name, &value, &size) ==
	    ARCHIVE_OK) {
		if (!xattr_allowed(o, name)) {
			k = strlen(names);
			if (k + strlen(name) + 5 < sizeof(names))
				snprintf(names + k, sizeof(names) - k, "%s'%s'",
				    dropped > 0 ? ", " : "", name);
			dropped++;
			continue;
		}
		if (n == (size_t)count)
			continue;       /* more than any file system keeps */
		if ((keep[n].name = strdup(name)) == NULL ||
		    (keep[n].value = malloc(size ? size : 1)) == NULL)
			goto nomem_k;
		memcpy(keep[n].value, value, size);
		keep[n++].size = size;
	}
	if (dropped > 0 && o->xattrs != RESTORE_XATTRS_NONE)
		snprintf(why, cap, "extended attribute%s %s not restored "
		    "(use --xattrs=all)", dropped > 1 ? "s" : "", names);
	if (dropped > 0) {
		archive_entry_xattr_clear(e);
		for (k = 0; k < n; k++)
			archive_entry_xattr_add_entry(e, keep[k].name,
			    keep[k].value, keep[k].size);
	}
	goto done;
nomem_k:
	n++;
nomem:
	err_set("out of memory");
	rc = ERR_FAIL;
done:
	for (k = 0; keep != NULL && k < n; k++) {
		free(keep[k].name);
		free(keep[k].value);
	}
	free(keep);
	return rc;
}

int
policy_apply(const struct restore_opts *o, struct archive_entry *e,
    char *why, size_t cap)
{
	mode_t type = archive_entry_filetype(e);
	mode_t perm = archive_entry_perm(e), bits = perm & (S_ISUID | S_ISGID);
	char xw[512];
	size_t n;

	why[0] = xw[0] = '\0';
	if ((type == AE_IFCHR || type == AE_IFBLK) && !o->devices) {
		snprintf(why, cap, "a %s device, not created (use --devices)",
		    type == AE_IFCHR ? "character" : "block");
		return POLICY_SKIP;
	}
	if (type != AE_IFDIR && bits != 0 && !o->setuid) {
		archive_entry_set_perm(e, perm & ~bits);
		snprintf(why, cap, "its %s not restored (use --setuid)",
		    bits == (S_ISUID | S_ISGID) ? "setuid and setgid bits" :
		    bits == S_ISUID ? "setuid bit" : "setgid bit");
	}
	if (filter_xattrs(o, e, xw, sizeof(xw)) != ERR_OK)
		return ERR_FAIL;
	if (xw[0] != '\0' && (n = strlen(why)) + 2 < cap)
		snprintf(why + n, cap - n, "%s%s", n > 0 ? "; " : "", xw);
	return POLICY_WRITE;
}
