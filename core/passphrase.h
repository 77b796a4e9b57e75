#ifndef BKP_PASSPHRASE_H
#define BKP_PASSPHRASE_H

/*
 * passphrase_get(prompt, confirm, &pw): obtain a passphrase from, in order,
 * BKP_PASSPHRASE, the file named by BKP_PASSPHRASE_FILE (first line, newline
 * stripped), or a prompt on /dev/tty with echo off (asked twice when confirm
 * is set).  Without any of them (cron), fails with ERR_USAGE and a message
 * naming the variables.  *pw is sodium_malloc'ed; release it with
 * passphrase_free().  An empty passphrase is refused.
 */
int passphrase_get(const char *prompt, int confirm, char **pw);

/* passphrase_free(pw): wipe and free; NULL does nothing. */
void passphrase_free(char *pw);

#endif
