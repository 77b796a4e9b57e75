#ifndef BKP_DRILL_CONFIG_H
#define BKP_DRILL_CONFIG_H

#include <stddef.h>

/*
 * Drill configuration: an INI file with one [drill] section (defaults for
 * every dataset) and any number of [dataset NAME] sections that override
 * them and add validation hooks.  Keys and defaults: docs/DRILLS.md.
 * Command-line options are applied on top with drill_config_set().
 */

#define DRILL_DEFAULT_RTO (4.0 * 3600)      /* seconds */
#define DRILL_DEFAULT_RPO (24.0 * 3600)     /* seconds */
#define DRILL_DEFAULT_HOOK_TIMEOUT 300.0    /* seconds */
#define DRILL_DEFAULT_WINDOW_DAYS 30
#define DRILL_MAX_HOOKS 32
#define DRILL_MAX_DATASETS 1024

enum drill_sampling { DRILL_SAMPLE_NEWEST = 0, DRILL_SAMPLE_RANDOM = 1 };

/* Settings that a [dataset NAME] section may override; negative (or
 * -1 for the enum and keep) means "inherit from [drill]". */
struct drill_settings {
	double rto;            /* recovery time objective, seconds */
	double rpo;            /* recovery point objective, seconds */
	double hook_timeout;   /* per hook, seconds */
	int sampling;          /* enum drill_sampling, or -1 */
	int window_days;       /* random sampling and RPO gap window */
	int samples;           /* archives drilled per dataset */
	int keep;              /* keep the scratch directory, or -1 */
	char **hooks;          /* commands run with sh -c, in order */
	size_t nhooks;
};

struct drill_dataset {
	char *name;
	struct drill_settings s;
};

struct drill_config {
	char *scratch;         /* scratch volume (parent of drill dirs) */
	int all_datasets;      /* 1: drill every dataset in the repository */
	struct drill_settings s;  /* the [drill] section (never "inherit") */
	struct drill_dataset *ds;
	size_t nds;
};

/* The settings in force for one dataset, all resolved. */
struct drill_target {
	double rto, rpo, hook_timeout;
	enum drill_sampling sampling;
	int window_days, samples, keep;
	const char *const *hooks;  /* [drill] hooks then the dataset's */
	size_t nhooks;
	char **hooks_buf;          /* owned; released by drill_config_target_release */
};

/*
 * drill_config_init(c): the built-in defaults: scratch $TMPDIR or /var/tmp,
 * RTO 4h, RPO 24h, hook timeout 300s, newest archive, window 30 days, one
 * sample, scratch wiped, every dataset.  Returns ERR_OK or ERR_FAIL (out of
 * memory).  Release with drill_config_release().
 */
int drill_config_init(struct drill_config *c);

/* drill_config_release(c): free what c holds; c may be zeroed. */
void drill_config_release(struct drill_config *c);

/*
 * drill_config_load(c, path): read the INI file at path into c (on top of
 * what c holds).  ERR_NOTFOUND if it does not exist, ERR_USAGE with a
 * message naming the file and line on a syntax error, an unknown section
 * or key, or a bad value.
 */
int drill_config_load(struct drill_config *c, const char *path);

/* drill_config_parse(c, text, what): the same from a NUL-terminated string;
 * what names it in messages. */
int drill_config_parse(struct drill_config *c, const char *text,
    const char *what);

/*
 * drill_config_set(c, section, key, value): apply one setting as if read
 * from the file ("drill" or a dataset name for section; a dataset section is
 * created if needed).  Command-line overrides use section NULL, which sets
 * the key in [drill] and removes any per-dataset override of it, so the
 * command line wins.  ERR_USAGE with a message on a bad key or value.
 */
int drill_config_set(struct drill_config *c, const char *section,
    const char *key, const char *value);

/* drill_config_find(c, name): the [dataset name] section, or NULL. */
const struct drill_dataset *drill_config_find(const struct drill_config *c,
    const char *name);

/*
 * drill_config_target(c, name, &t): resolve the settings for dataset name.
 * Returns ERR_OK or ERR_FAIL (out of memory).  Release with
 * drill_config_target_release().
 */
int drill_config_target(const struct drill_config *c, const char *name,
    struct drill_target *t);

/* drill_config_target_release(t): free what t owns. */
void drill_config_target_release(struct drill_target *t);

#endif
