#ifndef BKP_DRILL_STORE_H
#define BKP_DRILL_STORE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Drill records in the repository: write-once objects under "drills/",
 * named "<UTC time with microseconds>Z-<random>.json" so that the lexical
 * order of keys is the order in which drills ran.  Each record names the
 * record before it and its BLAKE2b-256, so deleting, replacing or
 * reordering records breaks a chain that drill_store_load() checks.
 * Also reads verification records ("verifications/") for reports.
 */

struct storage;
struct drill_record;

#define DRILL_STORE_PREFIX "drills/"
#define DRILL_STORE_VERIFY_PREFIX "verifications/"
#define DRILL_STORE_MAX_RECORDS 100000

/*
 * drill_store_put(st, rec): chain rec to the newest record in st (setting
 * rec->prev_*), store it under a new key (set in rec->key) and return
 * ERR_OK, or the storage status.  Never overwrites.
 */
int drill_store_put(struct storage *st, struct drill_record *rec);

/*
 * drill_store_load(st, &recs, &n, &nbad, &chain_breaks): every record, in
 * order, each checked against the one before it (rec->chain_ok, rec->hash).
 * Unreadable or invalid records are skipped and counted in *nbad (they
 * still take part in the chain: their successor must name them).
 * *chain_breaks counts records whose link is wrong.  Free with
 * drill_store_free().
 */
int drill_store_load(struct storage *st, struct drill_record **recs,
    size_t *n, size_t *nbad, size_t *chain_breaks);

/* drill_store_free(recs, n): release a list; NULL does nothing. */
void drill_store_free(struct drill_record *recs, size_t n);

/* The latest verification of one archive, as a verification record says. */
struct drill_verification {
	char archive_id[33];
	int64_t time_us;
	int ok;
	char kind[16];         /* "keyless", "full" or "unknown" */
};

/*
 * drill_store_verifications(st, &v, &n, &nbad): every verification record
 * (a JSON object under "verifications/" with "archive" or "archive_id",
 * a time as "finished_us"/"time_us" or ISO "finished"/"time", and "result"
 * "ok"/"pass"/"fail"... or "ok" true/false).  Unrecognised records are
 * counted in *nbad.  Free *v with free().
 */
int drill_store_verifications(struct storage *st,
    struct drill_verification **v, size_t *n, size_t *nbad);

#endif
