#ifndef BKP_RESTORE_H
#define BKP_RESTORE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct repo;
struct repo_archive;
struct keys_secret;

struct restore_stats;

enum { RESTORE_XATTRS_USER = 0, RESTORE_XATTRS_ALL, RESTORE_XATTRS_NONE };

struct restore_opts {
	const char *target;    /* directory to restore into; NULL: verify only,
	                          nothing is written anywhere */
	const char *const *include; /* fnmatch patterns on archive paths */
	size_t ninclude;
	int overwrite;         /* replace existing files */
	/* What a forged archive could abuse (policy.h), withheld unless
	 * asked for: device nodes, setuid/setgid bits, extended attributes
	 * outside user.* (RESTORE_XATTRS_USER, the default). */
	int devices;
	int setuid;
	int xattrs;
	int threads;           /* 0: one per core */
	volatile sig_atomic_t *cancel; /* set non-zero to abort */
	/* Called for each refused or failed entry (names the entry). */
	void (*warn)(void *arg, const char *msg);
	/* Called about every 0.2 s with the counters so far and the total
	 * content bytes selected. */
	void (*progress_cb)(void *arg, const struct restore_stats *st,
	    uint64_t total);
	void *arg;
};

struct restore_stats {
	uint64_t files;        /* entries extracted (or checked) */
	uint64_t bytes;        /* file content bytes extracted (or checked) */
	uint64_t fetched;      /* ciphertext bytes read from storage */
	uint64_t chunks;       /* chunks fetched and authenticated */
	uint64_t skipped;      /* entries refused or not overwritten */
	uint64_t withheld;     /* entries, or their setuid bits or extended
	                          attributes, withheld by policy (policy.h) */
	uint64_t mismatches;   /* entries whose size or hash differ from the
	                          manifest */
	double t_fetch;        /* seconds in storage reads (summed over threads) */
	double t_decrypt;      /* seconds authenticating, decrypting, decompressing */
	double t_extract;      /* seconds parsing tar and writing files */
	double t_wall;         /* wall-clock seconds */
};

/*
 * restore_run(r, a, sk, opts, st): restore archive a (or, with
 * opts->target == NULL, decrypt, decompress and hash everything without
 * writing).  Every file is checked against the manifest's size and
 * hash.  Returns ERR_OK if everything matched and was written,
 * ERR_CORRUPT on any authentication or hash failure (the archive is
 * damaged), ERR_KEY if sk cannot open a, ERR_FAIL otherwise (e.g. refused
 * entries, existing files); st is filled in all cases.
 */
int restore_run(struct repo *r, const struct repo_archive *a,
    const struct keys_secret *sk, const struct restore_opts *opts,
    struct restore_stats *st);

/*
 * restore_path_selected(include, ninclude, path): 1 if no patterns are
 * given, or a pattern matches path or one of its parent directories
 * (fnmatch(3), no flags).
 */
int restore_path_selected(const char *const *include, size_t ninclude,
    const char *path);

/*
 * restore_validate_tree(r, a, sk, dir, include, ninclude, st): re-read the
 * files restored under dir and compare each one's size and hash
 * with the manifest (regular files only).  st->files/bytes count what was
 * checked; st->mismatches what differed or was missing.  ERR_OK only if
 * nothing differed.
 */
int restore_validate_tree(struct repo *r, const struct repo_archive *a,
    const struct keys_secret *sk, const char *dir,
    const char *const *include, size_t ninclude, struct restore_stats *st);

#endif
