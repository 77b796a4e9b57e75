/*
 * bkp: encrypted backup, restore, verification and DR drills.
 * This file only dispatches to the command front ends.
 */
#include <locale.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "cmd_drill.h"
#include "cmd_report.h"
#include "cmds.h"
#include "crypto.h"
#include "err.h"

struct cmd {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
};

static const struct cmd cmds[] = {
	{ "keygen", cmd_keygen, "create a key pair (secret key file + .pub)" },
	{ "init", cmd_init, "create a repository for some recipients" },
	{ "backup", cmd_backup, "back up files or stdin into a new archive" },
	{ "list", cmd_list, "list archives" },
	{ "restore", cmd_restore, "restore an archive, whole or in part" },
	{ "verify", cmd_verify, "check archives, with or without a key" },
	{ "drill", cmd_drill, "restore drill: restore, validate, time RTO/RPO" },
	{ "report", cmd_report, "integrity and drill report for auditors" },
	{ NULL, NULL, NULL }
};

static void
usage(FILE *f)
{
	const struct cmd *c;

	fprintf(f, "usage: bkp COMMAND [options]\n\n"
	    "Encrypted backups with restore verification.\n\nCommands:\n");
	for (c = cmds; c->name != NULL; c++)
		fprintf(f, "  %-9s %s\n", c->name, c->help);
	fprintf(f, "\n'bkp COMMAND --help' describes a command.  "
	    "Environment: BKP_REPOSITORY, BKP_KEY_FILE,\nBKP_PASSPHRASE, "
	    "BKP_PASSPHRASE_FILE, BKP_STATE_DIR; AWS_* for S3.\n"
	    "Exit status: 0 ok, 1 failure, 2 usage, 3 completed with "
	    "warnings, 10 no\nrepository, 11 repository locked, 12 wrong key "
	    "or passphrase.\n");
}

int
main(int argc, char **argv)
{
	const struct cmd *c;
	int rc;

	/*
	 * Data moves through buffers of up to a few MiB that threads free
	 * and allocate again all the time.  glibc's defaults hand such
	 * memory back to the kernel (munmap, heap trims) and fault it in
	 * anew, zeroed: 48,000 to 166,000 page faults per 2 GB restore,
	 * about 33,000 without.
	 * Keep it for reuse instead; what is live at once stays bounded by
	 * the pipelines' queues, so the peak RSS does not grow.
	 */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
	/* UTF-8 names are stored as such; other bytes are kept verbatim. */
	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL)
		setlocale(LC_CTYPE, "");
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("bkp %s\n", BKP_VERSION);
		return EXIT_OK;
	}
	for (c = cmds; c->name != NULL; c++)
		if (strcmp(argv[1], c->name) == 0)
			break;
	if (c->name == NULL) {
		err_print("bkp: unknown command '%s' (see 'bkp --help')\n",
		    argv[1]);
		return EXIT_USAGE;
	}
	if (crypto_init() != 0) {
		err_print("bkp: cannot initialise libsodium\n");
		return EXIT_FAIL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		err_print("bkp: cannot initialise libcurl\n");
		return EXIT_FAIL;
	}
	rc = c->fn(argc - 1, argv + 1);
	fflush(stdout);
	if (ferror(stdout)) {
		err_print("bkp: cannot write to standard output\n");
		rc = EXIT_FAIL;
	}
	curl_global_cleanup();
	return rc;
}
