#ifndef BKP_CMD_DRILL_H
#define BKP_CMD_DRILL_H

/*
 * cmd_drill(argc, argv): "bkp drill": restore drills with RTO/RPO
 * measurement (argv[0] is "drill").  Returns the exit code: 0 if every
 * drill passed every check and objective, 1 if a drill failed, 2 on a
 * usage error, 10/12 for a missing repository or wrong key.
 */
int cmd_drill(int argc, char **argv);

#endif
