#ifndef BKP_DRILL_SCRATCH_H
#define BKP_DRILL_SCRATCH_H

#include <stddef.h>
#include <stdint.h>

/*
 * Private scratch environments for drills: BASE/bkp-drill-<pid>-XXXXXX
 * (mode 0700) holding a marker file ".bkp-drill" that the live drill keeps
 * locked (flock), and "data/", the restore target.  A directory whose
 * marker is not locked belongs to a drill that died (kill -9, power loss):
 * the next drill wipes it before starting.
 *
 * A guardian process watches each environment: when the drill process
 * ends without saying "keep" (killed by a signal, even SIGKILL, or
 * finished), the guardian kills the hook running at the time (its process
 * group) and wipes the environment at once.  Only if the guardian dies too
 * (the whole process group killed with SIGKILL) is the wipe left to the
 * next drill's sweep.
 */

#define DRILL_SCRATCH_PREFIX "bkp-drill-"
#define DRILL_SCRATCH_MARKER ".bkp-drill"

struct drill_scratch {
	char *dir;     /* BASE/bkp-drill-<pid>-XXXXXX */
	char *data;    /* dir/data */
	int lockfd;    /* the locked marker, or -1 */
	int guardfd;   /* write end of the guardian's pipe, or -1 */
	long guardpid; /* the guardian, or 0 */
};

/*
 * drill_scratch_sweep(base, &nwiped): wipe every stale scratch directory
 * in base (name with the prefix, owned by us, holding a marker that no
 * live process has locked).  Directories without a marker are left alone.
 * *nwiped counts those wiped.  ERR_OK, or ERR_FAIL if base cannot be read
 * or a stale directory cannot be removed (message names it).
 */
int drill_scratch_sweep(const char *base, uint64_t *nwiped);

/*
 * drill_scratch_free(base, &avail): bytes available to us on base's
 * filesystem (statvfs f_bavail * f_frsize).  ERR_FAIL if base is not
 * there.
 */
int drill_scratch_free(const char *base, uint64_t *avail);

/*
 * drill_scratch_create(base, s): create a new scratch environment in base
 * (which must be an existing directory), lock its marker and start its
 * guardian.  ERR_OK or ERR_FAIL; on failure nothing is left behind.  Wipe with
 * drill_scratch_wipe() or keep with drill_scratch_release().
 */
int drill_scratch_create(const char *base, struct drill_scratch *s);

/*
 * drill_scratch_wipe(s): remove the whole environment (without following
 * symbolic links; read-only directories are made writable first), then
 * release s.  ERR_OK if nothing is left, ERR_FAIL otherwise (the marker
 * stays unlocked, so the next sweep retries).
 */
int drill_scratch_wipe(struct drill_scratch *s);

/* drill_scratch_release(s): unlock and forget s, leaving the directory
 * (--keep); a kept directory is not swept, because its marker is
 * removed, and its guardian is told to keep it. */
void drill_scratch_release(struct drill_scratch *s);

/*
 * drill_scratch_notify_fd(s): the descriptor on which a hook runner tells
 * the guardian "pgid N" (the running hook's process group, 0 when it has
 * ended), or -1 without a guardian.
 */
int drill_scratch_notify_fd(const struct drill_scratch *s);

/*
 * drill_scratch_rmtree(path): remove path and everything under it without
 * following symbolic links.  ERR_OK (also if path is absent) or ERR_FAIL.
 */
int drill_scratch_rmtree(const char *path);

#endif
