/* AWS credentials, profiles and config files (INI, parsed with inih). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include <sodium.h>

#include "awsconf.h"
#include "err.h"

struct parse_ctx {
	const char *section;
	struct awsconf *c;
	int found;
	int oom;
};

static int
take(char **field, const char *value, struct parse_ctx *x)
{
	if (*field != NULL)
		return 1;
	if ((*field = strdup(value)) == NULL)
		x->oom = 1;
	return x->oom ? 0 : 1;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *x = user;

	if (strcmp(section, x->section) != 0)
		return 1;
	x->found = 1;
	if (strcmp(name, "aws_access_key_id") == 0)
		return take(&x->c->access_key, value, x);
	if (strcmp(name, "aws_secret_access_key") == 0)
		return take(&x->c->secret_key, value, x);
	if (strcmp(name, "aws_session_token") == 0)
		return take(&x->c->session_token, value, x);
	if (strcmp(name, "region") == 0)
		return take(&x->c->region, value, x);
	if (strcmp(name, "endpoint_url") == 0)
		return take(&x->c->endpoint, value, x);
	if (strcmp(name, "ca_bundle") == 0)
		return take(&x->c->ca_bundle, value, x);
	return 1;
}

int
awsconf_parse(const char *path, const char *section, struct awsconf *c,
    int *found)
{
	struct parse_ctx x = { section, c, 0, 0 };
	FILE *f;
	int rc;

	*found = 0;
	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return ERR_OK;
		err_set("cannot open '%s': %s", path, strerror(errno));
		return ERR_USAGE;
	}
	rc = ini_parse_file(f, handler, &x);
	fclose(f);
	if (x.oom) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	if (rc != 0) {
		/* Line numbers only: a line may hold a secret. */
		err_set("cannot parse '%s' (line %d)", path, rc);
		return ERR_USAGE;
	}
	*found = x.found;
	return ERR_OK;
}

/* path of an AWS file: $envvar, else ~/.aws/name. */
static char *
aws_file(const char *envvar, const char *name)
{
	const char *v = getenv(envvar), *home;
	char *p;
	size_t n;

	if (v != NULL && *v != '\0')
		return strdup(v);
	if ((home = getenv("HOME")) == NULL || *home == '\0')
		return NULL;
	n = strlen(home) + strlen(name) + 7;
	if ((p = malloc(n)) == NULL)
		return NULL;
	snprintf(p, n, "%s/.aws/%s", home, name);
	return p;
}

static int
env_dup(char **field, const char *var)
{
	const char *v = getenv(var);

	if (*field != NULL || v == NULL || *v == '\0')
		return 0;
	if ((*field = strdup(v)) == NULL)
		return -1;
	return 0;
}

/* Drop partial credentials so that a pair is taken from one place. */
static void
drop_partial(struct awsconf *c)
{
	if (c->access_key != NULL && c->secret_key != NULL)
		return;
	free(c->access_key);
	c->access_key = NULL;
	if (c->secret_key != NULL) {
		sodium_memzero(c->secret_key, strlen(c->secret_key));
		free(c->secret_key);
		c->secret_key = NULL;
	}
	if (c->session_token != NULL) {
		sodium_memzero(c->session_token, strlen(c->session_token));
		free(c->session_token);
		c->session_token = NULL;
	}
}

int
awsconf_load(const char *profile, struct awsconf *c)
{
	char *credfile = NULL, *conffile = NULL, *section = NULL;
	const char *prof;
	int explicit = profile != NULL && *profile != '\0';
	int found_cred = 0, found_conf = 0, rc = ERR_FAIL;
	size_t n;

	if (explicit)
		prof = profile;
	else if ((prof = getenv("AWS_PROFILE")) == NULL || *prof == '\0')
		prof = "default";
	if ((c->profile = strdup(prof)) == NULL)
		goto oom;

	/* Environment credentials first, unless a profile was named. */
	if (!explicit) {
		if (env_dup(&c->access_key, "AWS_ACCESS_KEY_ID") ||
		    env_dup(&c->secret_key, "AWS_SECRET_ACCESS_KEY") ||
		    env_dup(&c->session_token, "AWS_SESSION_TOKEN"))
			goto oom;
		drop_partial(c);
		if (c->access_key != NULL &&
		    (c->source = strdup("environment")) == NULL)
			goto oom;
	}

	if ((credfile = aws_file("AWS_SHARED_CREDENTIALS_FILE",
	    "credentials")) == NULL ||
	    (conffile = aws_file("AWS_CONFIG_FILE", "config")) == NULL) {
		rc = ERR_OK; /* no home: environment only */
		goto done;
	}
	if (c->access_key == NULL) {
		if ((rc = awsconf_parse(credfile, prof, c, &found_cred)) !=
		    ERR_OK)
			goto out;
		drop_partial(c);
		if (c->access_key != NULL && c->source == NULL &&
		    (c->source = strdup(credfile)) == NULL)
			goto oom;
	}
	/* config: [default] or [profile NAME]. */
	n = strlen(prof) + 9;
	if ((section = malloc(n)) == NULL)
		goto oom;
	if (strcmp(prof, "default") == 0)
		snprintf(section, n, "default");
	else
		snprintf(section, n, "profile %s", prof);
	{
		int had_key = c->access_key != NULL;
		if ((rc = awsconf_parse(conffile, section, c, &found_conf)) !=
		    ERR_OK)
			goto out;
		drop_partial(c);
		if (!had_key && c->access_key != NULL && c->source == NULL &&
		    (c->source = strdup(conffile)) == NULL)
			goto oom;
	}
	if (explicit && !found_cred && !found_conf) {
		err_set("AWS profile '%s' not found in '%s' or '%s'", prof,
		    credfile, conffile);
		rc = ERR_USAGE;
		goto out;
	}
	rc = ERR_OK;
	goto done;
oom:
	err_set("out of memory");
	rc = ERR_FAIL;
	goto out;
done:
out:
	free(section);
	free(conffile);
	free(credfile);
	return rc;
}

static void
wipe_free(char **p)
{
	if (*p != NULL) {
		sodium_memzero(*p, strlen(*p));
		free(*p);
	}
	*p = NULL;
}

void
awsconf_release(struct awsconf *c)
{
	if (c == NULL)
		return;
	wipe_free(&c->secret_key);
	wipe_free(&c->session_token);
	free(c->access_key);
	free(c->region);
	free(c->endpoint);
	free(c->ca_bundle);
	free(c->profile);
	free(c->source);
	c->access_key = c->region = c->endpoint = c->ca_bundle = NULL;
	c->profile = c->source = NULL;
}
