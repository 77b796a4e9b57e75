#ifndef BKP_AWSCONF_H
#define BKP_AWSCONF_H

/*
 * AWS client configuration the way the AWS CLI finds it: credentials from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else from
 * the profile's section of ~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE)
 * and ~/.aws/config (AWS_CONFIG_FILE); region, endpoint_url and ca_bundle
 * from the profile's section of the config file.  The profile is the one
 * named explicitly (its credentials then win over the environment's), else
 * AWS_PROFILE, else "default".
 */

struct awsconf {
	char *access_key;    /* NULL if none found */
	char *secret_key;    /* secret: never printed; wiped on release */
	char *session_token; /* secret, or NULL */
	char *region;        /* from the config file, or NULL */
	char *endpoint;      /* endpoint_url from the config file, or NULL */
	char *ca_bundle;     /* ca_bundle from the config file, or NULL */
	char *profile;       /* the profile used */
	char *source;        /* where the credentials came from (no secrets) */
};

/*
 * awsconf_load(profile, c): fill c (which the caller zeroes first) from
 * the environment and the AWS files.  profile may be NULL.  Missing files
 * are not an error; a malformed file, or an explicitly named profile found
 * in neither file, is (ERR_USAGE).  Return ERR_OK or a negative ERR_*
 * status with a message set.  Call awsconf_release() in every case.
 */
int awsconf_load(const char *profile, struct awsconf *c);

/*
 * awsconf_parse(path, section, c, found): read the INI file at path and
 * take the keys of section (exact name) into the still-NULL fields of c;
 * *found is set to 1 if the section exists.  Return ERR_OK (also if path
 * does not exist) or ERR_USAGE if it cannot be parsed.
 */
int awsconf_parse(const char *path, const char *section, struct awsconf *c,
    int *found);

/* awsconf_release(c): wipe secrets and free every field of c. */
void awsconf_release(struct awsconf *c);

#endif
