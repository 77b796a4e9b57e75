/* AWS credentials and profiles: environment, credentials and config files. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsconf.h"
#include "err.h"
#include "support.h"

static char credf[128], conff[128];

static void
put(const char *path, const char *text)
{
	support_write_file(path, text, strlen(text));
}

static void
setup(void)
{
	support_tmpdir("awsconf");
	snprintf(credf, sizeof(credf), "%s", support_path("credentials"));
	snprintf(conff, sizeof(conff), "%s", support_path("config"));
	put(credf, "[default]\naws_access_key_id = AKDEFAULT\n"
	    "aws_secret_access_key = SKdefault\n\n"
	    "[backup]\naws_access_key_id=AKBACKUP\n"
	    "aws_secret_access_key=SK/backup+x\naws_session_token = TOK\n");
	put(conff, "[default]\nregion = eu-west-1\n\n"
	    "[profile backup]\nregion=eu-central-1\n"
	    "endpoint_url = https://minio.example:9000\n"
	    "ca_bundle=/etc/ssl/minio.pem\n\n"
	    "[profile onlyconf]\naws_access_key_id=AKCONF\n"
	    "aws_secret_access_key=SKconf\n");
	setenv("AWS_SHARED_CREDENTIALS_FILE", credf, 1);
	setenv("AWS_CONFIG_FILE", conff, 1);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
}

static void
teardown(void)
{
	support_cleanup();
}

TestSuite(awsconf, .init = setup, .fini = teardown);

Test(awsconf, default_profile_from_files)
{
	struct awsconf c = { 0 };

	cr_assert_eq(awsconf_load(NULL, &c), ERR_OK);
	cr_expect_str_eq(c.access_key, "AKDEFAULT");
	cr_expect_str_eq(c.secret_key, "SKdefault");
	cr_expect_null(c.session_token);
	cr_expect_str_eq(c.region, "eu-west-1");
	cr_expect_str_eq(c.profile, "default");
	cr_expect_str_eq(c.source, credf);
	awsconf_release(&c);
	cr_expect_null(c.secret_key);
}

Test(awsconf, environment_wins_over_default_profile)
{
	struct awsconf c = { 0 };

	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SKenv", 1);
	setenv("AWS_SESSION_TOKEN", "TOKENV", 1);
	cr_assert_eq(awsconf_load(NULL, &c), ERR_OK);
	cr_expect_str_eq(c.access_key, "AKENV");
	cr_expect_str_eq(c.secret_key, "SKenv");
	cr_expect_str_eq(c.session_token, "TOKENV");
	cr_expect_str_eq(c.source, "environment");
	cr_expect_str_eq(c.region, "eu-west-1"); /* still from config */
	awsconf_release(&c);
}

Test(awsconf, half_environment_pair_is_ignored)
{
	struct awsconf c = { 0 };

	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	cr_assert_eq(awsconf_load(NULL, &c), ERR_OK);
	cr_expect_str_eq(c.access_key, "AKDEFAULT");
	cr_expect_str_eq(c.secret_key, "SKdefault");
	awsconf_release(&c);
}

Test(awsconf, named_profile_wins_over_environment)
{
	struct awsconf c = { 0 };

	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SKenv", 1);
	cr_assert_eq(awsconf_load("backup", &c), ERR_OK);
	cr_expect_str_eq(c.access_key, "AKBACKUP");
	cr_expect_str_eq(c.secret_key, "SK/backup+x");
	cr_expect_str_eq(c.session_token, "TOK");
	cr_expect_str_eq(c.region, "eu-central-1");
	cr_expect_str_eq(c.endpoint, "https://minio.example:9000");
	cr_expect_str_eq(c.ca_bundle, "/etc/ssl/minio.pem");
	awsconf_release(&c);
}

Test(awsconf, aws_profile_variable_and_config_credentials)
{
	struct awsconf c = { 0 };

	setenv("AWS_PROFILE", "onlyconf", 1);
	cr_assert_eq(awsconf_load(NULL, &c), ERR_OK);
	cr_expect_str_eq(c.access_key, "AKCONF");
	cr_expect_str_eq(c.secret_key, "SKconf");
	cr_expect_str_eq(c.source, conff);
	cr_expect_null(c.region);
	awsconf_release(&c);
}

Test(awsconf, missing_named_profile_fails)
{
	struct awsconf c = { 0 };

	cr_expect_eq(awsconf_load("nosuch", &c), ERR_USAGE);
	cr_expect(strstr(err_get(), "nosuch") != NULL);
	awsconf_release(&c);
}

Test(awsconf, no_files_no_credentials)
{
	struct awsconf c = { 0 };

	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/c", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/f", 1);
	cr_assert_eq(awsconf_load(NULL, &c), ERR_OK);
	cr_expect_null(c.access_key);
	cr_expect_null(c.secret_key);
	awsconf_release(&c);
}

Test(awsconf, malformed_file_names_line_not_secret)
{
	struct awsconf c = { 0 };

	put(credf, "[default]\naws_secret_access_key = SECRETVALUE\n[broken\n");
	cr_expect_eq(awsconf_load(NULL, &c), ERR_USAGE);
	cr_expect(strstr(err_get(), "line 3") != NULL, "%s", err_get());
	cr_expect(strstr(err_get(), "SECRETVALUE") == NULL);
	awsconf_release(&c);
}
