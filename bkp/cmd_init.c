#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "cmds.h"
#include "crypto.h"
#include "err.h"
#include "keys.h"
#include "pin.h"
#include "repo.h"
#include "util.h"

#define MAX_RECIP 64

static const char usage[] =
"usage: bkp init -r REPO --recipient PUB [--recipient PUB ...]\n"
"                [--cipher auto|aes256gcm|xchacha20poly1305] [--chunk-size N]\n"
"\n"
"Create a repository at REPO (a directory, or s3://BUCKET/PREFIX).  Every\n"
"archive's data key is wrapped to each recipient's public key, so any one\n"
"of their secret keys can restore; backup hosts need only this repository.\n"
"The host that runs init pins the repository's recipients (see README).\n"
"\n"
"  --recipient PUB  a public key file from 'bkp keygen' (repeatable)\n"
"  --cipher C       auto (AES-256-GCM where the CPU has AES-NI, else\n"
"                   XChaCha20-Poly1305), aes256gcm or xchacha20poly1305\n"
"  --chunk-size N   plaintext bytes per chunk (default 4M; 4K to 64M,\n"
"                   a multiple of 512): the unit of partial restores\n";

int
cmd_init(int argc, char **argv)
{
	static const struct option own[] = {
		{ "recipient", required_argument, NULL, CLI_OPT_FIRST_CMD },
		{ "cipher", required_argument, NULL, CLI_OPT_FIRST_CMD + 1 },
		{ "chunk-size", required_argument, NULL, CLI_OPT_FIRST_CMD + 2 },
		{ NULL, 0, NULL, 0 }
	};
	struct keys_public recip[MAX_RECIP];
	struct repo_config cfg;
	struct cli c;
	unsigned long long cs = 4u << 20;
	size_t n = 0, i;
	int ch, x, rc = EXIT_USAGE, cipher = CRYPTO_AUTO, created;
	char hex[65];

	cli_init(&c, "init");
	while ((x = cli_getopt(&c, argc, argv, CLI_SHORTOPTS, own, usage,
	    &ch)) == 1) {
		switch (ch) {
		case CLI_OPT_FIRST_CMD:
			if (n == MAX_RECIP) {
				rc = cli_usage_error(&c, "too many recipients");
				goto done;
			}
			if ((x = keys_load_public(optarg, &recip[n])) !=
			    ERR_OK) {
				rc = cli_error(&c, x);
				if (x == ERR_NOTFOUND)
					rc = EXIT_USAGE;
				goto done;
			}
			for (i = 0; i < n; i++)
				if (strcmp(recip[i].fpr, recip[n].fpr) == 0)
					break;
			if (i == n)
				n++;
			break;
		case CLI_OPT_FIRST_CMD + 1:
			if ((cipher = crypto_cipher_parse(optarg)) < 0) {
				rc = cli_usage_error(&c, "unknown cipher '%s'",
				    optarg);
				goto done;
			}
			break;
		case CLI_OPT_FIRST_CMD + 2:
			if (cli_parse_size(optarg, &cs) != 0) {
				rc = cli_usage_error(&c, "bad --chunk-size '%s'",
				    optarg);
				goto done;
			}
			break;
		default:
			rc = cli_bad_option(&c, argv);
			goto done;
		}
	}
	if (x < 0) {
		rc = c.exit;
		goto done;
	}
	if (optind != argc) {
		rc = cli_usage_error(&c, "unexpected argument '%s'",
		    argv[optind]);
		goto done;
	}
	if (c.repo == NULL) {
		rc = cli_usage_error(&c, "no repository given (use -r or "
		    "BKP_REPOSITORY)");
		goto done;
	}
	if (n == 0) {
		rc = cli_usage_error(&c, "at least one --recipient is needed");
		goto done;
	}
	if (cipher != CRYPTO_AUTO && !crypto_cipher_available(cipher))
		err_print("bkp: warning: this CPU cannot run %s; backups "
		    "from it will fail\n", crypto_cipher_name(cipher));
	if (cs > 0xffffffffull)
		cs = 0;
	if ((x = repo_init(c.repo, &c.sopts, recip, n, cipher, (uint32_t)cs,
	    &cfg)) != ERR_OK) {
		rc = cli_error(&c, x);
		goto done;
	}
	if ((x = pin_check(c.repo, cfg.id, cfg.hash, 1, &created)) != ERR_OK) {
		rc = cli_error(&c, x);
		goto done;
	}
	util_hex(cfg.hash, 32, hex);
	if (c.json)
		cli_print_json(json_pack("{s:s, s:s, s:s, s:I}", "repository",
		    c.repo, "id", cfg.id, "config_blake2b", hex, "recipients",
		    (json_int_t)n));
	else if (!c.quiet)
		err_print("bkp: created repository %s at '%s' for %zu "
		    "recipient%s (config %.16s)\n", cfg.id, c.repo, n,
		    n == 1 ? "" : "s", hex);
	rc = EXIT_OK;
done:
	cli_release(&c);
	return rc;
}
