#ifndef BKP_BACKUP_H
#define BKP_BACKUP_H

#include <signal.h>
#include <stdint.h>

#include "repo.h"

struct repo;

struct backup_progress {
	uint64_t files;      /* entries archived so far */
	uint64_t bytes;      /* content bytes read so far */
	uint64_t stored;     /* object bytes written so far */
	double elapsed;      /* seconds since start */
};

struct backup_opts {
	const char *name;             /* dataset name */
	char *const *paths;           /* sources; a single "-" is stdin */
	size_t npaths;
	const char *stdin_name;       /* file name for stdin content */
	int level;                    /* zstd level */
	int threads;                  /* compression/encryption threads */
	char *const *excludes;        /* fnmatch patterns */
	size_t nexcludes;
	int full;                     /* --full: not an incremental */
	int rehash;                   /* --rehash: read every file */
	uint32_t max_chain;           /* incrementals before a full */
	double full_every;            /* seconds between fulls (0: never) */
	volatile sig_atomic_t *cancel; /* set non-zero to abort */
	/* Called for each source problem (file skipped, changed while read);
	 * msg names the file, never its content. */
	void (*warn)(void *arg, const char *msg);
	/* Called once when the backup is a full one although the dataset
	 * has archives, for a reason the operator should know (the file
	 * index is missing or damaged...): why is a sentence. */
	void (*note)(void *arg, const char *why);
	/* Called about every 0.2 s. */
	void (*progress)(void *arg, const struct backup_progress *p);
	void *arg;
};

struct backup_result {
	char id[REPO_ID_HEX + 1];
	int cipher;
	uint32_t chain;      /* incrementals since the full (0: a full) */
	char base[REPO_ID_HEX + 1];  /* compared with ("" for a full) */
	uint64_t files;      /* entries archived */
	uint64_t reused;     /* files not read: unchanged since the base */
	uint64_t bytes;      /* content bytes of the files archived (holes
	                      * excluded), read or not */
	uint64_t read_bytes; /* content bytes read */
	uint64_t new_bytes;  /* content bytes stored (not referenced) */
	uint64_t tar_bytes;  /* data object plaintext bytes */
	uint64_t stored;     /* bytes of data + manifest objects */
	uint64_t chunks;
	uint64_t warnings;   /* source problems reported through warn */
	double seconds;
};

/*
 * backup_run(r, o, res): stream o->paths (or stdin) into a new archive of
 * repository r, encrypted to the repository's recipients (no secret key
 * needed), and commit it by writing its record last.  Source problems are
 * reported through o->warn and counted in res->warnings; the archive is
 * still committed.  On failure nothing is committed.  Returns ERR_OK or an
 * ERR_* status with a message.
 */
int backup_run(struct repo *r, const struct backup_opts *o,
    struct backup_result *res);

#endif
