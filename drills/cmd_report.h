#ifndef BKP_CMD_REPORT_H
#define BKP_CMD_REPORT_H

/*
 * cmd_report(argc, argv): "bkp report": the auditor's disaster-recovery
 * report from the repository's archive, drill and verification records
 * (argv[0] is "report").  Returns the exit code: 0 when the report was
 * written (whatever it says), 2 on a usage error, 10 without a repository,
 * 1 on other errors.
 */
int cmd_report(int argc, char **argv);

#endif
