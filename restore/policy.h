#ifndef BKP_POLICY_H
#define BKP_POLICY_H

#include <stddef.h>

struct archive_entry;
struct restore_opts;

/*
 * What a restore creates of what a forged archive could abuse, run as
 * root: device nodes, setuid and setgid programs, and extended attributes
 * outside the user namespace (security.capability gives a program
 * privileges; trusted.* and security.* steer the kernel and security
 * modules).  By default none of them is created; restore options ask
 * for each (restore.h: devices, setuid, xattrs).  Directories keep their
 * setgid bit (it makes new files inherit the group; it grants nothing).
 */
enum { POLICY_WRITE = 0, POLICY_SKIP = 1 };

/*
 * policy_apply(o, e, why, cap): apply the policy to entry e before it is
 * written.  POLICY_SKIP: e is not to be created at all; POLICY_WRITE: it
 * is, possibly without its setuid/setgid bits or some extended attributes.
 * why receives what was withheld ("" if nothing), for a warning; ERR_FAIL
 * if out of memory.
 */
int policy_apply(const struct restore_opts *o, struct archive_entry *e,
    char *why, size_t cap);

#endif
