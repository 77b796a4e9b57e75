#ifndef BKP_CMDS_H
#define BKP_CMDS_H

/* Command front ends: each parses its options (argv[0] is the command
 * name), runs its engine and returns the process exit code. */
int cmd_keygen(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_verify(int argc, char **argv);

#include <stdint.h>

struct restore_stats;

/* cmd_restore_progress(arg, st, total): progress line for restore and
 * verify; arg points to the start time (util_mono()). */
void cmd_restore_progress(void *arg, const struct restore_stats *st,
    uint64_t total);

#endif
