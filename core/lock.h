#ifndef BKP_LOCK_H
#define BKP_LOCK_H

/*
 * Host-local locks for cron: two runs of the same job (same repository and
 * dataset) must not overlap.  A lock is an flock(2) on a file in the state
 * directory, released when the process exits, so a killed run never leaves
 * a stale lock.
 */

/*
 * lock_acquire(repo_url, name, &fd): take the lock for (repo_url, name)
 * without waiting.  ERR_LOCKED if another process holds it (the message
 * names its pid).
 */
int lock_acquire(const char *repo_url, const char *name, int *fd);

/* lock_release(fd): release; -1 does nothing. */
void lock_release(int fd);

#endif
