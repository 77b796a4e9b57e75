#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto.h"
#include "drill.h"
#include "drill_config.h"
#include "drill_hook.h"
#include "drill_metrics.h"
#include "drill_record.h"
#include "drill_scratch.h"
#include "err.h"
#include "repo.h"
#include "restore.h"
#include "util.h"

#ifndef BKP_VERSION
#define BKP_VERSION "unknown"
#endif

const char *
drill_pick(const struct repo_archive *arr, size_t n,
    const struct drill_target *t, int64_t now_us, size_t *idx,
    size_t *count)
{
	int64_t wstart = now_us - (int64_t)t->window_days * 86400 * DRILL_US;
	size_t i, j, newest = 0, m = 0, want, *cand;

	*count = 0;
	if (n == 0)
		return "newest";
	for (i = 1; i < n; i++)
		if (arr[i].created_us >= arr[newest].created_us)
			newest = i;
	if (t->sampling == DRILL_SAMPLE_RANDOM &&
	    (cand = calloc(n, sizeof(*cand))) != NULL) {
		for (i = 0; i < n; i++)
			if (arr[i].created_us >= wstart &&
			    arr[i].created_us <= now_us)
				cand[m++] = i;
		want = (size_t)(t->samples > 0 ? t->samples : 1);
		/* Partial Fisher-Yates: the first want of a shuffle. */
		for (i = 0; i < m && i < want; i++) {
			j = i + randombytes_uniform((uint32_t)(m - i));
			idx[i] = cand[j];
			cand[j] = cand[i];
			(*count)++;
		}
		free(cand);
		if (*count > 0)
			return "random";
	}
	idx[0] = newest;
	*count = 1;
	return "newest";
}

uint64_t
drill_needed_space(const struct repo_archive *a)
{
	return a->bytes + a->files * 4096 + 1024 * 1024;
}

/* What every record says about where and by what it was made. */
static int
rec_common(struct drill_ctx *ctx, const char *dataset,
    const struct drill_target *t, struct drill_record *rec)
{
	char host[256];

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	if (drill_record_strset(&rec->dataset, dataset) != ERR_OK ||
	    drill_record_strset(&rec->host, host) != ERR_OK ||
	    drill_record_strset(&rec->bkp_version, BKP_VERSION) != ERR_OK ||
	    drill_record_strset(&rec->restore_status, "not-run") != ERR_OK ||
	    drill_record_strset(&rec->validate_status, "not-run") != ERR_OK)
		return ERR_FAIL;
	if (ctx->r != NULL)
		snprintf(rec->repo_id, sizeof(rec->repo_id), "%s",
		    repo_config(ctx->r)->id);
	rec->rto_target = t->rto;
	rec->rpo_target = t->rpo;
	rec->rpo_window_days = t->window_days;
	rec->rto_achieved = INFINITY;
	rec->stale_wiped = ctx->stale_wiped;
	return ERR_OK;
}

/* RPO of the dataset at the drill's start. */
static int
measure_rpo(const struct repo_archive *all, size_t nall,
    const struct drill_target *t, struct drill_record *rec)
{
	struct drill_rpo rpo;
	int64_t *c;
	char a[32], b[32];
	size_t i;
	int rc = ERR_OK;

	if (nall > 0 && (c = calloc(nall, sizeof(*c))) != NULL) {
		for (i = 0; i < nall; i++)
			c[i] = all[i].created_us;
		drill_metrics_rpo(c, nall, rec->started_us,
		    (double)t->window_days * 86400, &rpo);
		free(c);
	} else {
		if (nall > 0) {
			err_set("out of memory");
			return ERR_FAIL;
		}
		drill_metrics_rpo(NULL, 0, rec->started_us, 0, &rpo);
	}
	rec->rpo_newest_age = rpo.newest_age;
	rec->rpo_max_gap = rpo.max_gap;
	rec->rpo_achieved = isfinite(rpo.newest_age) ? rpo.achieved :
	    INFINITY;
	rec->rpo_passed = isfinite(rpo.newest_age) &&
	    rpo.achieved <= t->rpo;
	if (!isfinite(rpo.newest_age))
		rc = drill_record_fail(rec, "rpo: no archive of this dataset");
	else if (rpo.newest_age > t->rpo)
		rc = drill_record_fail(rec, "rpo exceeded: newest archive is "
		    "%s old, target %s",
		    drill_metrics_human(rpo.newest_age, a, sizeof(a)),
		    drill_metrics_human(t->rpo, b, sizeof(b)));
	if (rc == ERR_OK && isfinite(rpo.newest_age) && rpo.max_gap > t->rpo)
		rc = drill_record_fail(rec, "rpo exceeded: %s between "
		    "consecutive archives in the last %d days, target %s",
		    drill_metrics_human(rpo.max_gap, a, sizeof(a)),
		    t->window_days, drill_metrics_human(t->rpo, b, sizeof(b)));
	return rc;
}

static int
rec_archive(const struct repo_archive *a, struct drill_record *rec)
{
	size_t i;

	memcpy(rec->archive_id, a->id, sizeof(rec->archive_id));
	rec->archive_created_us = a->created_us;
	rec->data_size = a->data_size;
	rec->manifest_size = a->manifest_size;
	rec->hash_alg = a->hash_alg;
	memcpy(rec->data_hash, a->data_hash, 32);
	memcpy(rec->manifest_hash, a->manifest_hash, 32);
	rec->archive_files = a->files;
	rec->archive_bytes = a->bytes;
	if (drill_record_strset(&rec->cipher, crypto_cipher_name(a->cipher)) !=
	    ERR_OK)
		return ERR_FAIL;
	if (a->nrecip > 0 && (rec->recipients = calloc(a->nrecip,
	    sizeof(char *))) == NULL) {
		err_set("out of memory");
		return ERR_FAIL;
	}
	for (i = 0; i < a->nrecip; i++) {
		if ((rec->recipients[i] = strdup(a->recip[i].fpr)) == NULL) {
			err_set("out of memory");
			return ERR_FAIL;
		}
		rec->nrecipients++;
	}
	return ERR_OK;
}

static const char *
restore_word(int rc)
{
	switch (rc) {
	case ERR_OK:
		return "ok";
	case ERR_CORRUPT:
		return "corrupt";
	case ERR_KEY:
		return "key";
	default:
		return "failed";
	}
}

/* Run the hooks in the restored tree; failures go into rec. */
static int
run_hooks(struct drill_ctx *ctx, const struct repo_archive *a,
    const struct drill_target *t, const char *dir, int notify_fd,
    struct drill_record *rec)
{
	char *env[4] = { NULL, NULL, NULL, NULL };
	size_t i, n;
	double t0 = util_mono();
	char d[32];
	int rc = ERR_FAIL;

	if (t->nhooks == 0)
		return ERR_OK;
	if (asprintf(&env[0], "BKP_DRILL_DIR=%s", dir) < 0 ||
	    asprintf(&env[1], "BKP_DRILL_ARCHIVE=%s", a->id) < 0 ||
	    asprintf(&env[2], "BKP_DRILL_DATASET=%s", a->name) < 0) {
		err_set("out of memory");
		goto out;
	}
	if ((rec->hooks = calloc(t->nhooks, sizeof(*rec->hooks))) == NULL) {
		err_set("out of memory");
		goto out;
	}
	for (i = 0; i < t->nhooks; i++) {
		struct drill_hook_result *h = &rec->hooks[i];

		n = i + 1;
		rec->nhooks = n;
		if (drill_hook_run(t->hooks[i], dir, (const char *const *)env,
		    t->hook_timeout, notify_fd, h) != ERR_OK) {
			snprintf(ctx->detail, sizeof(ctx->detail), "%s",
			    err_get());
			if (drill_record_fail(rec, "hook %zu could not be "
			    "started", n) != ERR_OK)
				goto out;
			continue;
		}
		if (h->timed_out)
			rc = drill_record_fail(rec, "hook %zu timed out after "
			    "%s", n, drill_metrics_human(t->hook_timeout, d,
			    sizeof(d)));
		else if (h->signal != 0)
			rc = drill_record_fail(rec, "hook %zu killed by "
			    "signal %d", n, h->signal);
		else if (h->exit_code != 0)
			rc = drill_record_fail(rec, "hook %zu failed "
			    "(exit %d)", n, h->exit_code);
		else
			rc = ERR_OK;
		if (rc != ERR_OK)
			goto out;
	}
	rc = ERR_OK;
out:
	rec->t_hooks = util_mono() - t0;
	for (i = 0; i < 3; i++)
		free(env[i]);
	return rc;
}

int
drill_missing(struct drill_ctx *ctx, const char *dataset,
    const struct drill_target *t, struct drill_record *rec)
{
	rec->started_us = util_now_us();
	if (rec_common(ctx, dataset, t, rec) != ERR_OK ||
	    drill_record_strset(&rec->selection, "newest") != ERR_OK ||
	    measure_rpo(NULL, 0, t, rec) != ERR_OK ||
	    drill_record_fail(rec, "no archive to restore") != ERR_OK)
		return ERR_FAIL;
	rec->rto_passed = 0;
	rec->scratch_wiped = 1;   /* nothing was written */
	rec->finished_us = util_now_us();
	return ERR_OK;
}

int
drill_run(struct drill_ctx *ctx, const struct repo_archive *a,
    const struct repo_archive *all, size_t nall, const struct drill_target *t,
    const char *selection, struct drill_record *rec)
{
	struct restore_opts ro;
	struct restore_stats st, vst;
	struct drill_scratch sc = { NULL, NULL, -1, -1, 0 };
	double t0 = util_mono(), t1;
	char h1[32], h2[32];
	int rc, restored = 0, validated = 0;

	ctx->detail[0] = '\0';
	ctx->kept = NULL;
	rec->started_us = util_now_us();
	if (rec_common(ctx, a->name, t, rec) != ERR_OK ||
	    drill_record_strset(&rec->selection, selection) != ERR_OK ||
	    rec_archive(a, rec) != ERR_OK ||
	    measure_rpo(all, nall, t, rec) != ERR_OK)
		return ERR_FAIL;

	/* 1. A private scratch environment with room for the data. */
	rec->scratch_needed = drill_needed_space(a);
	if (drill_scratch_free(ctx->scratch, &rec->scratch_free) != ERR_OK) {
		snprintf(ctx->detail, sizeof(ctx->detail), "%s", err_get());
		if (drill_record_fail(rec, "scratch volume unusable") !=
		    ERR_OK)
			return ERR_FAIL;
		goto finish;
	}
	if (rec->scratch_free < rec->scratch_needed) {
		if (drill_record_fail(rec, "insufficient scratch space: need "
		    "%llu bytes, %llu free",
		    (unsigned long long)rec->scratch_needed,
		    (unsigned long long)rec->scratch_free) != ERR_OK)
			return ERR_FAIL;
		rec->scratch_wiped = 1;   /* nothing was written */
		goto finish;
	}
	if (drill_scratch_create(ctx->scratch, &sc) != ERR_OK) {
		snprintf(ctx->detail, sizeof(ctx->detail), "%s", err_get());
		if (drill_record_fail(rec, "cannot create scratch "
		    "environment") != ERR_OK)
			return ERR_FAIL;
		rec->scratch_wiped = 1;
		goto finish;
	}
	rec->t_prepare = util_mono() - t0;

	/* 2. Restore: fetch, decrypt+decompress, extract. */
	memset(&ro, 0, sizeof(ro));
	memset(&st, 0, sizeof(st));
	ro.target = sc.data;
	ro.threads = ctx->threads;
	ro.overwrite = 0;
	/* Never device nodes, setuid/setgid bits or security xattrs in the
	 * scratch environment, whatever the archive holds (policy.h). */
	ro.devices = 0;
	ro.setuid = 0;
	ro.xattrs = RESTORE_XATTRS_USER;
	rc = restore_run(ctx->r, a, ctx->sk, &ro, &st);
	rec->t_fetch = st.t_fetch;
	rec->t_decrypt = st.t_decrypt;
	rec->t_extract = st.t_extract;
	rec->t_restore_wall = st.t_wall;
	rec->r_files = st.files;
	rec->r_bytes = st.bytes;
	rec->r_fetched = st.fetched;
	rec->r_chunks = st.chunks;
	rec->r_skipped = st.skipped;
	rec->r_mismatches = st.mismatches;
	if (drill_record_strset(&rec->restore_status, restore_word(rc)) !=
	    ERR_OK)
		goto oom;
	if (rc != ERR_OK) {
		snprintf(ctx->detail, sizeof(ctx->detail), "%s", err_get());
		if (drill_record_fail(rec, rc == ERR_CORRUPT ?
		    "restore failed: archive is damaged (authentication or "
		    "hash check failed)" : rc == ERR_KEY ?
		    "restore failed: the key cannot open this archive" :
		    "restore failed") != ERR_OK)
			goto oom;
	} else
		restored = 1;

	/* 3. Validate what landed on disk against the manifest. */
	if (restored) {
		memset(&vst, 0, sizeof(vst));
		t1 = util_mono();
		rc = restore_validate_tree(ctx->r, a, ctx->sk, sc.data, NULL,
		    0, &vst);
		rec->t_validate = util_mono() - t1;
		rec->v_files = vst.files;
		rec->v_bytes = vst.bytes;
		rec->v_mismatches = vst.mismatches;
		/* The restore reads what the backup read (a sparse file's
		 * data, not its holes); the validation checks every file's
		 * whole logical size and hash against the manifest, so its
		 * byte count (holes included) is no count to compare. */
		rec->counts_match = st.files == a->files &&
		    st.bytes == a->bytes;
		if (drill_record_strset(&rec->validate_status, rc == ERR_OK ?
		    "ok" : vst.mismatches > 0 ? "mismatch" : "failed") !=
		    ERR_OK)
			goto oom;
		if (rc != ERR_OK) {
			snprintf(ctx->detail, sizeof(ctx->detail), "%s",
			    err_get());
			if (drill_record_fail(rec, "validation failed: %llu "
			    "files differ from the manifest",
			    (unsigned long long)vst.mismatches) != ERR_OK)
				goto oom;
		} else if (!rec->counts_match) {
			if (drill_record_fail(rec, "restored counts differ "
			    "from the archive record (%llu of %llu entries, "
			    "%llu of %llu bytes)",
			    (unsigned long long)st.files,
			    (unsigned long long)a->files,
			    (unsigned long long)st.bytes,
			    (unsigned long long)a->bytes) != ERR_OK)
				goto oom;
		} else
			validated = 1;
	}

	/* 4. The user's hooks, only on data that checked out. */
	if (validated && run_hooks(ctx, a, t, sc.data,
	    drill_scratch_notify_fd(&sc), rec) != ERR_OK)
		goto oom;
	if (!validated && t->nhooks > 0 &&
	    drill_record_fail(rec, "hooks not run: nothing valid to run "
	    "them on") != ERR_OK)
		goto oom;

	/* 5. RTO: from the start to restored, validated and hooked. */
	if (validated) {
		rec->rto_achieved = util_mono() - t0;
		rec->rto_passed = rec->rto_achieved <= t->rto;
		if (!rec->rto_passed && drill_record_fail(rec, "rto exceeded: "
		    "%s, target %s",
		    drill_metrics_human(rec->rto_achieved, h1, sizeof(h1)),
		    drill_metrics_human(t->rto, h2, sizeof(h2))) != ERR_OK)
			goto oom;
	}

	/* 6. No PHI may linger. */
	if (t->keep) {
		rec->scratch_kept = 1;
		ctx->kept = strdup(sc.data);
		drill_scratch_release(&sc);
	} else if (drill_scratch_wipe(&sc) == ERR_OK)
		rec->scratch_wiped = 1;
	else {
		snprintf(ctx->detail, sizeof(ctx->detail), "%s", err_get());
		if (drill_record_fail(rec, "scratch data could not be wiped") !=
		    ERR_OK)
			return ERR_FAIL;
	}
finish:
	rec->finished_us = util_now_us();
	return ERR_OK;

oom:
	if (sc.dir != NULL && drill_scratch_wipe(&sc) == ERR_OK)
		rec->scratch_wiped = 1;
	return ERR_FAIL;
}
