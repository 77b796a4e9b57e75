#ifndef BKP_CMD_DRILL_H
#define BKP_CMD_DRILL_H

#include <stddef.h>

/*
 * cmd_drill(argc, argv): "bkp drill": restore drills with RTO/RPO
 * measurement (argv[0] is "drill").  Returns the exit code: 0 if every
 * drill passed every check and objective, 1 if a drill failed, 2 on a
 * usage error, 10/12 for a missing repository or wrong key.
 */
int cmd_drill(int argc, char **argv);

struct cli;
struct drill_config;

/* A command-line setting, applied after the config file. */
struct cmd_drill_setting {
	const char *key;
	const char *value;
};

/*
 * cmd_drill_settings(c, argc, argv, cfg, config, set, n): after the option
 * loop of "bkp drill" or "bkp report": refuse operands, load the config
 * file (if config is not NULL) into cfg, then apply the n settings on top.
 * Returns 0 to go on, else the exit code (the error printed).
 */
int cmd_drill_settings(struct cli *c, int argc, char **argv,
    struct drill_config *cfg, const char *config,
    const struct cmd_drill_setting *set, size_t n);

#endif
