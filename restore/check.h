#ifndef BKP_CHECK_H
#define BKP_CHECK_H

struct archive_entry;
struct mfile;

/*
 * check_entry(id, e, f): compare what tar entry e does with what its
 * authenticated manifest record f says, before anything of it is
 * written: its kind (a regular file, a directory, a symlink, a hard link
 * or another kind, decided by the tar entry's own type and link fields),
 * its symlink target or hard link name, its permission bits, uid and
 * gid.  (Path and size are compared by the caller.)  ERR_OK, or
 * ERR_CORRUPT with the error set ("archive ID: 'PATH': its tar entry and
 * its manifest record disagree (WHAT)").
 */
int check_entry(const char *id, struct archive_entry *e,
    const struct mfile *f);

#endif
