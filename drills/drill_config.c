#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "cli.h"
#include "drill_config.h"
#include "err.h"

#define DATASET_PREFIX "dataset "
#define MAX_NAME 256

/* What the inih callback carries. */
struct parse_ctx {
	struct drill_config *c;
	const char *what;
	int failed;           /* status of the first failure */
	int datasets_seen;    /* the file said "datasets = ..." */
};

static void
settings_inherit(struct drill_settings *s)
{
	s->rto = -1;
	s->rpo = -1;
	s->hook_timeout = -1;
	s->sampling = -1;
	s->window_days = -1;
	s->samples = -1;
	s->keep = -1;
	s->hooks = NULL;
	s->nhooks = 0;
}

static void
settings_release(struct drill_settings *s)
{
	size_t i;

	for (i = 0; i < s->nhooks; i++)
		free(s->hooks[i]);
	free(s->hooks);
	s->hooks = NULL;
	s->nhooks = 0;
}

int
drill_config_init(struct drill_config *c)
{
	const char *tmp = getenv("TMPDIR");

	memset(c, 0, sizeof(*c));
	settings_inherit(&c->s);
	c->s.rto = DRILL_DEFAULT_RTO;
	c->s.rpo = DRILL_DEFAULT_RPO;
	c->s.hook_timeout = DRILL_DEFAULT_HOOK_TIMEOUT;
	c->s.sampling = DRILL_SAMPLE_NEWEST;
	c->s.window_days = DRILL_DEFAULT_WINDOW_DAYS;
	c->s.samples = 1;
	c->s.keep = 0;
	c->all_datasets = 1;
	if ((c->scratch = strdup(tmp != NULL && tmp[0] == '/' ? tmp :
	    "/var/tmp")) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	return ERR_OK;
}

void
drill_config_release(struct drill_config *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->scratch);
	settings_release(&c->s);
	for (i = 0; i < c->nds; i++) {
		free(c->ds[i].name);
		settings_release(&c->ds[i].s);
	}
	free(c->ds);
	memset(c, 0, sizeof(*c));
}

const struct drill_dataset *
drill_config_find(const struct drill_config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nds; i++)
		if (strcmp(c->ds[i].name, name) == 0)
			return &c->ds[i];
	return NULL;
}

/* A dataset name as bkp backup --name accepts it: printable, no '/'. */
static int
name_ok(const char *name)
{
	size_t n = strlen(name);
	const unsigned char *p;

	if (n == 0 || n > MAX_NAME)
		return 0;
	for (p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '"' ||
		    *p == '\\')
			return 0;
	return 1;
}

static struct drill_dataset *
dataset_get(struct drill_config *c, const char *name)
{
	struct drill_dataset *d;
	size_t i;

	for (i = 0; i < c->nds; i++)
		if (strcmp(c->ds[i].name, name) == 0)
			return &c->ds[i];
	if (!name_ok(name)) {
		err_set("bad dataset name '%.64s'", name);
		return NULL;
	}
	if (c->nds >= DRILL_MAX_DATASETS) {
		err_set("too many dataset sections (at most %d)",
		    DRILL_MAX_DATASETS);
		return NULL;
	}
	if ((d = realloc(c->ds, (c->nds + 1) * sizeof(*d))) == NULL) {
		err_set("out of memory");
		return NULL;
	}
	c->ds = d;
	d = &c->ds[c->nds];
	settings_inherit(&d->s);
	if ((d->name = strdup(name)) == NULL) {
		err_set("out of memory");
		return NULL;
	}
	c->nds++;
	return d;
}

static int
parse_int(const char *key, const char *v, int lo, int hi, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi) {
		err_set("bad value for '%s': '%.64s' (an integer from %d to %d)",
		    key, v, lo, hi);
		return ERR_USAGE;
	}
	*out = (int)n;
	return ERR_OK;
}

static int
parse_bool(const char *key, const char *v, int *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0 || strcmp(v, "on") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
	    strcmp(v, "0") == 0 || strcmp(v, "off") == 0)
		*out = 0;
	else {
		err_set("bad value for '%s': '%.64s' (yes or no)", key, v);
		return ERR_USAGE;
	}
	return ERR_OK;
}

static int
parse_dur(const char *key, const char *v, double *out)
{
	double d;

	if (cli_parse_duration(v, &d) != 0 || !(d >= 0) || d > 1e9) {
		err_set("bad duration for '%s': '%.64s' (e.g. 90s, 15m, 4h, 2d)",
		    key, v);
		return ERR_USAGE;
	}
	*out = d;
	return ERR_OK;
}

static int
add_hook(struct drill_settings *s, const char *v)
{
	char **h;

	if (*v == '\0') {
		err_set("empty hook command");
		return ERR_USAGE;
	}
	if (s->nhooks >= DRILL_MAX_HOOKS) {
		err_set("too many hooks (at most %d)", DRILL_MAX_HOOKS);
		return ERR_USAGE;
	}
	if ((h = realloc(s->hooks, (s->nhooks + 1) * sizeof(*h))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	s->hooks = h;
	if ((h[s->nhooks] = strdup(v)) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	s->nhooks++;
	return ERR_OK;
}

/* Set key in s; ERR_NOTFOUND if key is not a per-dataset setting. */
static int
settings_set(struct drill_settings *s, const char *key, const char *v)
{
	if (strcmp(key, "rto") == 0)
		return parse_dur(key, v, &s->rto);
	if (strcmp(key, "rpo") == 0)
		return parse_dur(key, v, &s->rpo);
	if (strcmp(key, "hook_timeout") == 0)
		return parse_dur(key, v, &s->hook_timeout);
	if (strcmp(key, "window") == 0 || strcmp(key, "window_days") == 0)
		return parse_int(key, v, 1, 36500, &s->window_days);
	if (strcmp(key, "samples") == 0)
		return parse_int(key, v, 1, 1000, &s->samples);
	if (strcmp(key, "keep") == 0)
		return parse_bool(key, v, &s->keep);
	if (strcmp(key, "hook") == 0)
		return add_hook(s, v);
	if (strcmp(key, "sampling") == 0) {
		if (strcmp(v, "newest") == 0)
			s->sampling = DRILL_SAMPLE_NEWEST;
		else if (strcmp(v, "random") == 0)
			s->sampling = DRILL_SAMPLE_RANDOM;
		else {
			err_set("bad value for 'sampling': '%.64s' "
			    "(newest or random)", v);
			return ERR_USAGE;
		}
		return ERR_OK;
	}
	return ERR_NOTFOUND;
}

/* Forget a dataset-level override of key (the command line wins). */
static void
settings_clear(struct drill_settings *s, const char *key)
{
	struct drill_settings none;

	settings_inherit(&none);
	if (strcmp(key, "rto") == 0)
		s->rto = none.rto;
	else if (strcmp(key, "rpo") == 0)
		s->rpo = none.rpo;
	else if (strcmp(key, "hook_timeout") == 0)
		s->hook_timeout = none.hook_timeout;
	else if (strcmp(key, "window") == 0 || strcmp(key, "window_days") == 0)
		s->window_days = none.window_days;
	else if (strcmp(key, "samples") == 0)
		s->samples = none.samples;
	else if (strcmp(key, "keep") == 0)
		s->keep = none.keep;
	else if (strcmp(key, "sampling") == 0)
		s->sampling = none.sampling;
}

/* "datasets = all" or a list of names separated by commas or blanks. */
static int
set_datasets(struct drill_config *c, const char *value)
{
	char name[MAX_NAME + 1];
	const char *p = value;
	size_t n;

	if (strcmp(value, "all") == 0) {
		c->all_datasets = 1;
		return ERR_OK;
	}
	for (;;) {
		p += strspn(p, ", \t");
		if (*p == '\0')
			break;
		n = strcspn(p, ", \t");
		if (n > MAX_NAME) {
			err_set("dataset name too long in 'datasets'");
			return ERR_USAGE;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		if (dataset_get(c, name) == NULL)
			return ERR_USAGE;
		p += n;
	}
	c->all_datasets = 0;
	return ERR_OK;
}

int
drill_config_set(struct drill_config *c, const char *section,
    const char *key, const char *value)
{
	struct drill_dataset *d;
	char *p;
	size_t i;
	int rc;

	if (section == NULL || strcmp(section, "drill") == 0) {
		if (strcmp(key, "scratch") == 0) {
			if (value[0] != '/') {
				err_set("scratch must be an absolute path");
				return ERR_USAGE;
			}
			if ((p = strdup(value)) == NULL) {
				err_set("out of memory");
				return ERR_FAIL;
			}
			free(c->scratch);
			c->scratch = p;
			return ERR_OK;
		}
		if (strcmp(key, "datasets") == 0) {
			return set_datasets(c, value);
		}
		rc = settings_set(&c->s, key, value);
		if (rc == ERR_NOTFOUND) {
			err_set("unknown key '%.64s' in [drill]", key);
			return ERR_USAGE;
		}
		if (rc == ERR_OK && section == NULL)
			for (i = 0; i < c->nds; i++)
				settings_clear(&c->ds[i].s, key);
		return rc;
	}
	if (strncmp(section, DATASET_PREFIX, strlen(DATASET_PREFIX)) != 0) {
		err_set("unknown section [%.64s] (use [drill] or "
		    "[dataset NAME])", section);
		return ERR_USAGE;
	}
	if ((d = dataset_get(c, section + strlen(DATASET_PREFIX))) == NULL)
		return ERR_USAGE;
	rc = settings_set(&d->s, key, value);
	if (rc == ERR_NOTFOUND) {
		err_set("unknown key '%.64s' in [%.64s]", key, section);
		return ERR_USAGE;
	}
	return rc;
}

static int
ini_cb(void *arg, const char *section, const char *name, const char *value)
{
	struct parse_ctx *x = arg;
	int rc;

	if (x->failed != ERR_OK)
		return 1;
	if (section[0] == '\0') {
		err_set("key '%.64s' outside any section", name);
		x->failed = ERR_USAGE;
		return 0;
	}
	if (strcmp(name, "datasets") == 0)
		x->datasets_seen = 1;
	if ((rc = drill_config_set(x->c, section, name, value)) != ERR_OK) {
		x->failed = rc;
		return 0;
	}
	return 1;
}

/* Map inih's result to a status, naming file and line. */
static int
finish(struct parse_ctx *x, int line)
{
	if (line == 0 && x->failed == ERR_OK)
		return ERR_OK;
	if (line == -2) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	if (x->failed != ERR_OK) {
		err_prefix("%s:%d: ", x->what, line);
		return x->failed;
	}
	err_set("%s:%d: syntax error (or line too long)", x->what, line);
	return ERR_USAGE;
}

int
drill_config_parse(struct drill_config *c, const char *text,
    const char *what)
{
	struct parse_ctx x = { c, what, ERR_OK, 0 };
	size_t before = c->nds;
	int rc;

	rc = finish(&x, ini_parse_string(text, ini_cb, &x));
	/* Dataset sections name the datasets to drill unless told otherwise. */
	if (rc == ERR_OK && c->nds > before && !x.datasets_seen)
		c->all_datasets = 0;
	return rc;
}

int
drill_config_load(struct drill_config *c, const char *path)
{
	struct parse_ctx x = { c, path, ERR_OK, 0 };
	size_t before = c->nds;
	FILE *f;
	int rc;

	if ((f = fopen(path, "re")) == NULL) {
		rc = errno == ENOENT ? ERR_NOTFOUND : ERR_FAIL;
		err_set("cannot open '%s': %s", path, strerror(errno));
		return rc;
	}
	rc = finish(&x, ini_parse_file(f, ini_cb, &x));
	fclose(f);
	/* Dataset sections name the datasets to drill unless told otherwise. */
	if (rc == ERR_OK && c->nds > before && !x.datasets_seen)
		c->all_datasets = 0;
	return rc;
}

int
drill_config_target(const struct drill_config *c, const char *name,
    struct drill_target *t)
{
	const struct drill_dataset *d = drill_config_find(c, name);
	const struct drill_settings *g = &c->s;
	size_t n = g->nhooks + (d != NULL ? d->s.nhooks : 0), i, k = 0;

	memset(t, 0, sizeof(*t));
	t->rto = d != NULL && d->s.rto >= 0 ? d->s.rto : g->rto;
	t->rpo = d != NULL && d->s.rpo >= 0 ? d->s.rpo : g->rpo;
	t->hook_timeout = d != NULL && d->s.hook_timeout >= 0 ?
	    d->s.hook_timeout : g->hook_timeout;
	t->sampling = (enum drill_sampling)(d != NULL && d->s.sampling >= 0 ?
	    d->s.sampling : g->sampling);
	t->window_days = d != NULL && d->s.window_days > 0 ?
	    d->s.window_days : g->window_days;
	t->samples = d != NULL && d->s.samples > 0 ? d->s.samples : g->samples;
	t->keep = d != NULL && d->s.keep >= 0 ? d->s.keep : g->keep;
	if (n == 0)
		return ERR_OK;
	if ((t->hooks_buf = calloc(n, sizeof(char *))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	for (i = 0; i < g->nhooks; i++)
		t->hooks_buf[k++] = g->hooks[i];
	for (i = 0; d != NULL && i < d->s.nhooks; i++)
		t->hooks_buf[k++] = d->s.hooks[i];
	t->hooks = (const char *const *)t->hooks_buf;
	t->nhooks = n;
	return ERR_OK;
}

void
drill_config_target_release(struct drill_target *t)
{
	free(t->hooks_buf);
	memset(t, 0, sizeof(*t));
}
