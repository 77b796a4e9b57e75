/*
 * Unit tests for restore/pathset.c: membership, marks, growth and the
 * byte budget that bounds a restore's per-path bookkeeping.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "err.h"
#include "pathset.h"

Test(pathset, add_find_mark)
{
	struct pathset s;
	char p[32];
	int i;

	pathset_init(&s, 1 << 20);
	cr_assert_eq(pathset_has(&s, "a", 1), 0);
	cr_assert_eq(pathset_mark(&s, "a", 1), 0);
	for (i = 0; i < 1000; i++) {
		snprintf(p, sizeof(p), "dir/f%d", i);
		cr_assert_eq(pathset_add(&s, p, strlen(p)), ERR_OK);
	}
	cr_assert_eq(pathset_add(&s, "dir/f7", 6), ERR_OK);  /* twice */
	cr_assert_eq(s.n, 1000);
	cr_assert(pathset_has(&s, "dir/f999", 8));
	/* A prefix is not the path. */
	cr_assert_eq(pathset_has(&s, "dir/f", 5), 0);
	cr_assert_eq(pathset_has(&s, "dir/f1000", 9), 0);
	cr_assert_eq(pathset_marked(&s, "dir/f5", 6), 0);
	cr_assert_eq(pathset_mark(&s, "dir/f5", 6), 1);
	cr_assert_eq(pathset_marked(&s, "dir/f5", 6), 1);
	cr_assert_eq(pathset_marked(&s, "dir/f6", 6), 0);
	pathset_release(&s);
	cr_assert_eq(pathset_has(&s, "dir/f5", 6), 0);
}

Test(pathset, budget_is_bytes)
{
	struct pathset s;
	char p[200];
	int i, rc = ERR_OK;

	pathset_init(&s, 64 << 10);
	memset(p, 'x', sizeof(p));
	for (i = 0; i < 100000 && rc == ERR_OK; i++) {
		snprintf(p, 16, "%08d", i);
		p[8] = 'x';
		rc = pathset_add(&s, p, sizeof(p));
	}
	cr_assert_eq(rc, PATHSET_FULL);
	cr_assert_leq(s.bytes, s.max);
	cr_assert_lt(s.n, 400, "64 KiB held %zu paths of 200 bytes", s.n);
	/* A path already present is still found and marked when full. */
	snprintf(p, 16, "%08d", 0);
	p[8] = 'x';
	cr_assert_eq(pathset_add(&s, p, sizeof(p)), ERR_OK);
	cr_assert_eq(pathset_mark(&s, p, sizeof(p)), 1);
	pathset_release(&s);
}
