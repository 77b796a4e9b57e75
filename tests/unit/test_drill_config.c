/* Drill configuration: INI parsing, defaults, overrides, errors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drill_config.h"
#include "err.h"

static struct drill_config cfg;

static void
setup(void)
{
	cr_assert_eq(drill_config_init(&cfg), ERR_OK);
}

static void
teardown(void)
{
	drill_config_release(&cfg);
}

TestSuite(drill_config, .init = setup, .fini = teardown);

Test(drill_config, defaults)
{
	struct drill_target t;

	cr_assert_eq(drill_config_target(&cfg, "ehr", &t), ERR_OK);
	cr_expect_float_eq(t.rto, 4 * 3600.0, 1e-9);
	cr_expect_float_eq(t.rpo, 24 * 3600.0, 1e-9);
	cr_expect_float_eq(t.hook_timeout, 300.0, 1e-9);
	cr_expect_eq(t.sampling, DRILL_SAMPLE_NEWEST);
	cr_expect_eq(t.window_days, 30);
	cr_expect_eq(t.samples, 1);
	cr_expect_eq(t.keep, 0);
	cr_expect_eq(t.nhooks, 0);
	cr_expect_eq(cfg.all_datasets, 1);
	cr_expect(cfg.scratch != NULL && cfg.scratch[0] == '/');
	drill_config_target_release(&t);
}

Test(drill_config, sections_override_and_hooks_accumulate)
{
	static const char text[] =
	    "; quarterly drill\n"
	    "[drill]\n"
	    "scratch = /srv/scratch\n"
	    "rto = 2h\n"
	    "rpo = 90m\n"
	    "hook_timeout = 45s\n"
	    "sampling = random\n"
	    "window = 14\n"
	    "samples = 3\n"
	    "hook = test -d \"$BKP_DRILL_DIR\"\n"
	    "[dataset ehr]\n"
	    "rto = 30m\n"
	    "hook = ./check-db.sh\n"
	    "hook = ls > /dev/null\n"
	    "[dataset pacs]\n"
	    "rpo = 2d\n"
	    "sampling = newest\n"
	    "keep = yes\n";
	struct drill_target t;

	cr_assert_eq(drill_config_parse(&cfg, text, "test.ini"), ERR_OK,
	    "%s", err_get());
	cr_expect_str_eq(cfg.scratch, "/srv/scratch");
	cr_expect_eq(cfg.all_datasets, 0, "sections name the datasets");
	cr_expect_eq(cfg.nds, 2);

	cr_assert_eq(drill_config_target(&cfg, "ehr", &t), ERR_OK);
	cr_expect_float_eq(t.rto, 1800.0, 1e-9);
	cr_expect_float_eq(t.rpo, 5400.0, 1e-9, "inherited from [drill]");
	cr_expect_float_eq(t.hook_timeout, 45.0, 1e-9);
	cr_expect_eq(t.sampling, DRILL_SAMPLE_RANDOM);
	cr_expect_eq(t.window_days, 14);
	cr_expect_eq(t.samples, 3);
	cr_assert_eq(t.nhooks, 3);
	cr_expect_str_eq(t.hooks[0], "test -d \"$BKP_DRILL_DIR\"");
	cr_expect_str_eq(t.hooks[1], "./check-db.sh");
	cr_expect_str_eq(t.hooks[2], "ls > /dev/null");
	drill_config_target_release(&t);

	cr_assert_eq(drill_config_target(&cfg, "pacs", &t), ERR_OK);
	cr_expect_float_eq(t.rto, 7200.0, 1e-9);
	cr_expect_float_eq(t.rpo, 2 * 86400.0, 1e-9);
	cr_expect_eq(t.sampling, DRILL_SAMPLE_NEWEST);
	cr_expect_eq(t.keep, 1);
	cr_expect_eq(t.nhooks, 1);
	drill_config_target_release(&t);
}

Test(drill_config, command_line_wins_over_sections)
{
	struct drill_target t;

	cr_assert_eq(drill_config_parse(&cfg, "[dataset ehr]\nrto = 30m\n"
	    "rpo = 1h\n", "x"), ERR_OK);
	cr_assert_eq(drill_config_set(&cfg, NULL, "rto", "0.001s"), ERR_OK);
	cr_assert_eq(drill_config_set(&cfg, NULL, "hook", "exit 1"), ERR_OK);
	cr_assert_eq(drill_config_target(&cfg, "ehr", &t), ERR_OK);
	cr_expect_float_eq(t.rto, 0.001, 1e-12);
	cr_expect_float_eq(t.rpo, 3600.0, 1e-9, "untouched key stays");
	cr_expect_eq(t.nhooks, 1);
	drill_config_target_release(&t);
}

Test(drill_config, datasets_key)
{
	cr_assert_eq(drill_config_parse(&cfg, "[drill]\ndatasets = ehr, "
	    "pacs billing\n", "x"), ERR_OK);
	cr_expect_eq(cfg.all_datasets, 0);
	cr_expect_eq(cfg.nds, 3);
	cr_expect(drill_config_find(&cfg, "billing") != NULL);
	cr_assert_eq(drill_config_parse(&cfg, "[drill]\ndatasets = all\n",
	    "x"), ERR_OK);
	cr_expect_eq(cfg.all_datasets, 1);
}

Test(drill_config, explicit_all_with_sections)
{
	cr_assert_eq(drill_config_parse(&cfg, "[drill]\ndatasets = all\n"
	    "[dataset ehr]\nrto = 1h\n", "x"), ERR_OK);
	cr_expect_eq(cfg.all_datasets, 1);
}

/* Every bad input is refused with ERR_USAGE and a message naming the line. */
Test(drill_config, errors)
{
	static const struct {
		const char *text;
		const char *msg;
	} bad[] = {
		{ "[drill]\nrto = soon\n", "x.ini:2:" },
		{ "[drill]\nrto = -5m\n", "rto" },
		{ "[drill]\nrpo = 4x\n", "rpo" },
		{ "[drill]\nrto = inf\n", "rto" },
		{ "[drill]\nsampling = often\n", "sampling" },
		{ "[drill]\nwindow = 0\n", "window" },
		{ "[drill]\nsamples = 3.5\n", "samples" },
		{ "[drill]\nkeep = maybe\n", "keep" },
		{ "[drill]\ncolour = red\n", "unknown key" },
		{ "[drills]\nrto = 1h\n", "unknown section" },
		{ "[dataset ]\nrto = 1h\n", "dataset name" },
		{ "[dataset a/b]\nrto = 1h\n", "dataset name" },
		{ "rto = 1h\n", "outside any section" },
		{ "[drill]\nscratch = relative/dir\n", "absolute" },
		{ "[drill]\nhook =\n", "empty hook" },
		{ "[drill\nrto = 1h\n", "x.ini:1:" },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct drill_config c;

		cr_assert_eq(drill_config_init(&c), ERR_OK);
		cr_expect_eq(drill_config_parse(&c, bad[i].text, "x.ini"),
		    ERR_USAGE, "accepted: %s", bad[i].text);
		cr_expect(strstr(err_get(), bad[i].msg) != NULL,
		    "message '%s' lacks '%s'", err_get(), bad[i].msg);
		drill_config_release(&c);
	}
}

Test(drill_config, too_many_hooks)
{
	char line[64];
	int i, rc = ERR_OK;

	for (i = 0; i <= DRILL_MAX_HOOKS && rc == ERR_OK; i++) {
		snprintf(line, sizeof(line), "true %d", i);
		rc = drill_config_set(&cfg, "drill", "hook", line);
	}
	cr_expect_eq(rc, ERR_USAGE);
	cr_expect_eq(i, DRILL_MAX_HOOKS + 1);
}

Test(drill_config, load_file_and_missing_file)
{
	char path[] = "/tmp/test_drill_configXXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	cr_assert(fd >= 0);
	cr_assert((f = fdopen(fd, "w")) != NULL);
	fputs("[drill]\nrpo = 12h\n", f);
	fclose(f);
	cr_expect_eq(drill_config_load(&cfg, path), ERR_OK);
	cr_expect_float_eq(cfg.s.rpo, 12 * 3600.0, 1e-9);
	unlink(path);
	cr_expect_eq(drill_config_load(&cfg, path), ERR_NOTFOUND);
}

/* The shipped examples must parse. */
Test(drill_config, shipped_examples_parse)
{
	static const char *const ex[] = { "drills/examples/quarterly.ini",
		"drills/examples/postgres.ini" };
	size_t i;

	for (i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		struct drill_config c;

		if (access(ex[i], R_OK) != 0)
			cr_skip_test("run from the repository root");
		cr_assert_eq(drill_config_init(&c), ERR_OK);
		cr_expect_eq(drill_config_load(&c, ex[i]), ERR_OK, "%s: %s",
		    ex[i], err_get());
		drill_config_release(&c);
	}
}
