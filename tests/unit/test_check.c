/*
 * Unit tests for restore/check.c and restore/policy.c: a tar entry is
 * restored only when it agrees with its manifest record (kind, link,
 * mode, owner), and what a forged archive could abuse as root (devices,
 * setuid bits, security xattrs) is withheld unless asked for.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>

#include "check.h"
#include "err.h"
#include "manifest.h"
#include "policy.h"
#include "restore.h"

static struct archive_entry *
entry(const char *path, mode_t type, mode_t perm, const char *hl,
    const char *sym)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_copy_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_uid(e, 1000);
	archive_entry_set_gid(e, 100);
	if (hl != NULL)
		archive_entry_copy_hardlink(e, hl);
	if (sym != NULL)
		archive_entry_copy_symlink(e, sym);
	return e;
}

static struct mfile
record(const char *path, int type, uint64_t mode, const char *link)
{
	struct mfile f;

	memset(&f, 0, sizeof(f));
	f.path = strdup(path);
	f.pathlen = strlen(path);
	f.type = type;
	f.link = link != NULL ? strdup(link) : NULL;
	f.has_meta = 1;
	f.mode = mode;
	f.uid = 1000;
	f.gid = 100;
	return f;
}

static void
expect(struct archive_entry *e, struct mfile f, const char *what)
{
	int rc = check_entry("ID", e, &f);

	if (what == NULL)
		cr_assert_eq(rc, ERR_OK, "%s", err_get());
	else {
		cr_assert_eq(rc, ERR_CORRUPT, "agreed where %s differs", what);
		cr_assert(strstr(err_get(), what) != NULL, "%s", err_get());
		cr_assert(strstr(err_get(), "'v.txt'") != NULL ||
		    strstr(err_get(), "'l'") != NULL, "%s", err_get());
	}
	archive_entry_free(e);
	manifest_file_release(&f);
}

Test(check, agreement_and_lies)
{
	expect(entry("v.txt", AE_IFREG, 0644, NULL, NULL),
	    record("v.txt", MF_FILE, 0644, NULL), NULL);
	/* The escape: a hard-link entry (carrying data) whose
	 * record says "file". */
	expect(entry("v.txt", AE_IFREG, 0644, "victim.txt", NULL),
	    record("v.txt", MF_FILE, 0644, NULL), "type");
	expect(entry("v.txt", AE_IFDIR, 0755, NULL, NULL),
	    record("v.txt", MF_FILE, 0755, NULL), "type");
	expect(entry("v.txt", AE_IFCHR, 0644, NULL, NULL),
	    record("v.txt", MF_FILE, 0644, NULL), "type");
	expect(entry("l", AE_IFLNK, 0777, NULL, "/etc"),
	    record("l", MF_SYMLINK, 0777, "etc"), "symlink target");
	expect(entry("l", AE_IFLNK, 0777, NULL, "a"),
	    record("l", MF_SYMLINK, 0777, "a"), NULL);
	expect(entry("l", AE_IFREG, 0644, "b", NULL),
	    record("l", MF_HARDLINK, 0644, "a"), "hard link target");
	expect(entry("l", AE_IFREG, 0644, "a", NULL),
	    record("l", MF_HARDLINK, 0644, "a"), NULL);
	expect(entry("v.txt", AE_IFREG, 04755, NULL, NULL),
	    record("v.txt", MF_FILE, 0755, NULL), "mode");
	{
		struct mfile f = record("v.txt", MF_FILE, 0644, NULL);

		f.uid = 0;
		expect(entry("v.txt", AE_IFREG, 0644, NULL, NULL), f, "owner");
		f = record("v.txt", MF_FILE, 0644, NULL);
		f.has_meta = 0;
		expect(entry("v.txt", AE_IFREG, 0644, NULL, NULL), f,
		    "lacks mode");
	}
}

Test(policy, defaults_withhold)
{
	struct restore_opts o;
	struct archive_entry *e;
	char why[512];
	const char *name;
	const void *v;
	size_t sz;
	int n = 0;

	memset(&o, 0, sizeof(o));
	e = entry("dev/mem", AE_IFCHR, 0666, NULL, NULL);
	cr_assert_eq(policy_apply(&o, e, why, sizeof(why)), POLICY_SKIP);
	cr_assert(strstr(why, "--devices") != NULL, "%s", why);
	archive_entry_free(e);

	e = entry("bin/su", AE_IFREG, 04755, NULL, NULL);
	cr_assert_eq(policy_apply(&o, e, why, sizeof(why)), POLICY_WRITE);
	cr_assert_eq(archive_entry_perm(e), 0755);
	cr_assert(strstr(why, "setuid") != NULL, "%s", why);
	archive_entry_free(e);

	e = entry("shared", AE_IFDIR, 02775, NULL, NULL);
	cr_assert_eq(policy_apply(&o, e, why, sizeof(why)), POLICY_WRITE);
	cr_assert_eq(archive_entry_perm(e), 02775, "a directory keeps g+s");
	cr_assert_str_eq(why, "");
	archive_entry_free(e);

	e = entry("bin/ping", AE_IFREG, 0755, NULL, NULL);
	archive_entry_xattr_add_entry(e, "security.capability", "cap", 3);
	archive_entry_xattr_add_entry(e, "user.note", "n", 1);
	archive_entry_xattr_add_entry(e, "trusted.x", "t", 1);
	cr_assert_eq(policy_apply(&o, e, why, sizeof(why)), POLICY_WRITE);
	cr_assert(strstr(why, "security.capability") != NULL, "%s", why);
	cr_assert_eq(archive_entry_xattr_reset(e), 1);
	while (archive_entry_xattr_next(e, &name, &v, &sz) == ARCHIVE_OK) {
		cr_assert_str_eq(name, "user.note");
		n++;
	}
	cr_assert_eq(n, 1);
	archive_entry_free(e);
}

Test(policy, asked_for_faithfully)
{
	struct restore_opts o;
	struct archive_entry *e;
	char why[512];

	memset(&o, 0, sizeof(o));
	o.devices = o.setuid = 1;
	o.xattrs = RESTORE_XATTRS_ALL;
	e = entry("dev/null", AE_IFCHR, 0666, NULL, NULL);
	cr_assert_eq(policy_apply(&o, e, why, sizeof(why)), POLICY_WRITE);
	archive_entry_free(e);
	e = entry("bin/su", AE_IFREG, 06755, NULL, NULL);
	archive_entry_xattr_add_entry(e, "security.capability", "cap", 3);
	cr_assert_eq(policy_apply(&o, e, why, sizeof(why)), POLICY_WRITE);
	cr_assert_eq(archive_entry_perm(e), 06755);
	cr_assert_eq(archive_entry_xattr_reset(e), 1);
	cr_assert_str_eq(why, "");
	archive_entry_free(e);
	o.xattrs = RESTORE_XATTRS_NONE;
	e = entry("f", AE_IFREG, 0644, NULL, NULL);
	archive_entry_xattr_add_entry(e, "user.note", "n", 1);
	cr_assert_eq(policy_apply(&o, e, why, sizeof(why)), POLICY_WRITE);
	cr_assert_eq(archive_entry_xattr_reset(e), 0);
	cr_assert_str_eq(why, "", "none asked for: nothing to warn of");
	archive_entry_free(e);
}
