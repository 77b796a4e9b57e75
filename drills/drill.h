#ifndef BKP_DRILL_H
#define BKP_DRILL_H

#include <stddef.h>
#include <stdint.h>

/*
 * The drill engine: restore one archive into a private scratch
 * environment, validate it, run the validation hooks, measure RTO and RPO
 * against the targets, wipe the scratch data and fill a drill record.
 * Prints nothing; the command front end (cmd_drill.c) reports.
 */

struct repo;
struct repo_archive;
struct keys_secret;
struct drill_target;
struct drill_record;

struct drill_ctx {
	struct repo *r;
	const struct keys_secret *sk;
	const char *scratch;     /* scratch volume */
	int threads;             /* restore threads; 0 = one per core */
	uint64_t stale_wiped;    /* recorded in the record */
	char *kept;              /* out: scratch data dir kept (--keep), or
	                            NULL; caller frees */
	char detail[512];        /* out: the last engine message (may name
	                            paths: for the local terminal only, never
	                            stored) */
};

/*
 * drill_pick(arr, n, t, now_us, idx, &count): choose the archives of one
 * dataset to drill, given its archives arr[0..n) (oldest first, as
 * repo_list returns them): the newest, or with random sampling up to
 * t->samples distinct archives created within the last t->window_days
 * (the newest if none is).  idx must hold t->samples entries; *count
 * receives how many were chosen (0 only if n is 0).  Returns the selection
 * actually used ("newest" or "random").
 */
const char *drill_pick(const struct repo_archive *arr, size_t n,
    const struct drill_target *t, int64_t now_us, size_t *idx,
    size_t *count);

/*
 * drill_run(ctx, a, all, nall, t, selection, rec): drill archive a of a
 * dataset whose archives are all[0..nall) and fill rec (initialised by the
 * caller).  Every outcome of the drill itself (insufficient space, restore
 * or validation failure, hook failure, missed objective) is a failure in
 * rec, not an error: drill_run returns ERR_OK when rec is complete and
 * should be stored, ERR_FAIL only when out of memory.
 */
int drill_run(struct drill_ctx *ctx, const struct repo_archive *a,
    const struct repo_archive *all, size_t nall, const struct drill_target *t,
    const char *selection, struct drill_record *rec);

/*
 * drill_missing(ctx, dataset, t, rec): fill rec for a dataset that has no
 * archive at all (a failed drill: nothing can be restored).
 */
int drill_missing(struct drill_ctx *ctx, const char *dataset,
    const struct drill_target *t, struct drill_record *rec);

/* drill_needed_space(a): scratch bytes a restore of a needs: its file
 * bytes, 4 KiB per entry, and 1 MiB. */
uint64_t drill_needed_space(const struct repo_archive *a);

#endif
