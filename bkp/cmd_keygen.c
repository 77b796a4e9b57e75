#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "cmds.h"
#include "crypto.h"
#include "err.h"
#include "keys.h"
#include "passphrase.h"

static const char usage[] =
"usage: bkp keygen [--comment TEXT] [--kdf default|strong] FILE\n"
"\n"
"Create a key pair: FILE holds the secret key, encrypted with a passphrase\n"
"(Argon2id; written atomically, mode 0600), FILE.pub the public key that\n"
"'bkp init --recipient' takes.  The passphrase comes from BKP_PASSPHRASE,\n"
"BKP_PASSPHRASE_FILE or, on a terminal, a prompt (asked twice).  Refuses to\n"
"overwrite either file.  Prints the key's fingerprint.\n"
"\n"
"  --comment TEXT   a label stored with the public key\n"
"  --kdf STRENGTH   default (Argon2id, 64 MiB, 3 passes) or strong (1 GiB)\n";

int
cmd_keygen(int argc, char **argv)
{
	static const struct option own[] = {
		{ "comment", required_argument, NULL, CLI_OPT_FIRST_CMD },
		{ "kdf", required_argument, NULL, CLI_OPT_FIRST_CMD + 1 },
		{ NULL, 0, NULL, 0 }
	};
	struct keys_public pub;
	struct cli c;
	const char *comment = NULL;
	enum keys_kdf kdf = KEYS_KDF_DEFAULT;
	char *pw = NULL;
	int ch, x, rc = EXIT_USAGE;

	cli_init(&c, "keygen");
	while ((x = cli_getopt(&c, argc, argv, CLI_SHORTOPTS, own, usage,
	    &ch)) == 1) {
		if (ch == CLI_OPT_FIRST_CMD)
			comment = optarg;
		else if (ch == CLI_OPT_FIRST_CMD + 1) {
			if (strcmp(optarg, "default") == 0)
				kdf = KEYS_KDF_DEFAULT;
			else if (strcmp(optarg, "strong") == 0)
				kdf = KEYS_KDF_STRONG;
			else {
				rc = cli_usage_error(&c, "--kdf must be default "
				    "or strong");
				goto done;
			}
		} else {
			rc = cli_bad_option(&c, argv);
			goto done;
		}
	}
	if (x < 0) {
		rc = c.exit;
		goto done;
	}
	if (optind != argc - 1) {
		rc = cli_usage_error(&c, "give exactly one key file name");
		goto done;
	}
	if ((x = passphrase_get("New passphrase: ", 1, &pw)) != ERR_OK) {
		rc = cli_error(&c, x);
		goto done;
	}
	if ((x = keys_generate(argv[optind], pw, kdf, comment, &pub)) !=
	    ERR_OK) {
		rc = cli_error(&c, x);
		goto done;
	}
	if (c.json)
		cli_print_json(json_pack("{s:s, s:s++, s:s}", "secret",
		    argv[optind], "public", argv[optind], ".pub",
		    "fingerprint", pub.fpr));
	else if (!c.quiet)
		printf("%s\n", pub.fpr);
	rc = EXIT_OK;
done:
	passphrase_free(pw);
	cli_release(&c);
	return rc;
}
