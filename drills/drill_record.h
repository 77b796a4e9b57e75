#ifndef BKP_DRILL_RECORD_H
#define BKP_DRILL_RECORD_H

#include <stddef.h>
#include <stdint.h>

/*
 * A drill record: what one drill of one archive did and found, stored in
 * the repository as the write-once object "drills/<UTC time>-<random>.json"
 * (schema "bkp_drill": 2, docs/DRILLS.md; version 1 records are read too).  Records hold no file names or
 * contents: dataset names, ids, sizes, hashes, timings, hook commands and
 * their bounded, sanitised output only.  Records read back are untrusted:
 * drill_record_parse() validates every field before it is used.
 */

#define DRILL_RECORD_VERSION 2
#define DRILL_RECORD_MAX (1024 * 1024)   /* largest record object read */
#define DRILL_HOOK_OUTPUT_MAX 8192       /* hook output kept per hook */
#define DRILL_MAX_FAILURES 64
#define DRILL_ID_HEX 32

struct drill_hook_result {
	char *command;
	int exit_code;          /* -1 if killed by a signal or not run */
	int signal;             /* signal that ended it, or 0 */
	int timed_out;
	double seconds;
	char *output;           /* stdout+stderr, sanitised, bounded */
	int truncated;          /* output was longer than kept */
	int passed;
};

struct drill_record {
	int version;
	char key[128];          /* object key (set when read or stored) */
	char *dataset;
	char *host;
	char *bkp_version;
	char repo_id[DRILL_ID_HEX + 1];
	char *selection;        /* "newest", "random" or "id" */
	int64_t started_us, finished_us;

	/* the archive drilled, as its record says */
	char archive_id[DRILL_ID_HEX + 1];
	int64_t archive_created_us;
	uint64_t data_size, manifest_size;
	int hash_alg;           /* HASH_* of the two hashes below */
	uint8_t data_hash[32], manifest_hash[32];
	uint64_t archive_files, archive_bytes;
	char *cipher;
	char **recipients;      /* key fingerprints */
	size_t nrecipients;

	/* objectives */
	double rto_target, rpo_target;
	double rto_achieved;    /* start until restored, validated, hooks run */
	int rto_passed;
	double rpo_newest_age, rpo_max_gap, rpo_achieved;
	int rpo_window_days;
	int rpo_passed;

	/* phases, seconds */
	double t_prepare, t_fetch, t_decrypt, t_extract, t_restore_wall;
	double t_validate, t_hooks;

	/* restore and validation */
	char *restore_status;   /* "ok", "corrupt", "key", "failed",
	                           "not-run" */
	uint64_t r_files, r_bytes, r_fetched, r_chunks, r_skipped,
	    r_mismatches;
	char *validate_status;  /* "ok", "mismatch", "failed", "not-run" */
	uint64_t v_files, v_bytes, v_mismatches;
	int counts_match;       /* restored files and bytes equal the record's */

	struct drill_hook_result *hooks;
	size_t nhooks;

	/* scratch environment */
	uint64_t scratch_needed, scratch_free;
	int scratch_wiped, scratch_kept;
	uint64_t stale_wiped;   /* stale scratch dirs wiped at start */

	int passed;
	char **failures;        /* short fixed reasons, no PHI */
	size_t nfailures;

	/* tamper evidence */
	char prev_key[128];     /* previous record's key, or "" */
	uint8_t prev_hash[32];  /* its BLAKE2b-256 */
	int has_prev;

	/* filled in by drill_store_load(), not part of the JSON */
	uint8_t hash[32];       /* BLAKE2b-256 of this record's bytes */
	int chain_ok;           /* prev matches the record before it */
};

/* drill_record_init(rec): zero rec (current version). */
void drill_record_init(struct drill_record *rec);

/* drill_record_release(rec): free what rec holds; NULL does nothing. */
void drill_record_release(struct drill_record *rec);

/*
 * drill_record_fail(rec, fmt, ...): add a failure reason and clear
 * rec->passed.  Reasons must not name files.  Returns ERR_OK or ERR_FAIL.
 */
int drill_record_fail(struct drill_record *rec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* drill_record_strset(&field, s): replace a string field with a copy of s
 * (NULL allowed).  Returns ERR_OK or ERR_FAIL (out of memory). */
int drill_record_strset(char **field, const char *s);

/*
 * drill_record_json(rec, &text): new malloc'ed JSON text of rec (indented,
 * fields in schema order).  Returns ERR_OK or ERR_FAIL.
 */
int drill_record_json(const struct drill_record *rec, char **text);

/*
 * drill_record_parse(buf, len, rec): parse and validate a record.
 * rec is initialised first and must be released by the caller even on
 * failure.  ERR_CORRUPT (message set) if buf is not a version-1 drill
 * record with every required field well-formed; ERR_FAIL if out of memory.
 */
int drill_record_parse(const void *buf, size_t len, struct drill_record *rec);

/*
 * drill_record_sanitize(in, len, out, outlen, &truncated): copy at most
 * outlen-1 bytes of hook output into out, NUL-terminated, replacing bytes
 * that are neither printable ASCII nor newline or tab with '?'.  Sets
 * *truncated if in did not fit.
 */
void drill_record_sanitize(const void *in, size_t len, char *out,
    size_t outlen, int *truncated);

#endif
