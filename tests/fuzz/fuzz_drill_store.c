/*
 * Fuzz the readers of drill and verification records as a report meets
 * them in storage (drill_store_load with its chain check,
 * drill_store_verifications).  The input is a list of objects separated by
 * lines "----"; an object starting "d" is stored as a drill record, one
 * starting "v" as a verification record (the tag byte is dropped), any
 * other is ignored.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill_record.h"
#include "drill_store.h"
#include "err.h"
#include "fuzz.h"
#include "memstore.h"
#include "storage.h"

#define SEP "\n----\n"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct storage *st;
	struct drill_record *recs = NULL;
	struct drill_verification *v = NULL;
	const uint8_t *p = data, *end = data + size, *q;
	char key[64];
	size_t n, nbad, breaks, i = 0;

	fuzz_check((st = memstore_new()) != NULL, "memstore_new");
	while (p < end) {
		q = memmem(p, (size_t)(end - p), SEP, strlen(SEP));
		if (q == NULL)
			q = end;
		if (q > p && (*p == 'd' || *p == 'v')) {
			snprintf(key, sizeof(key), "%s20260101T0000%02zu.000000Z-"
			    "00000000.json", *p == 'd' ? DRILL_STORE_PREFIX :
			    DRILL_STORE_VERIFY_PREFIX, i++ % 60);
			fuzz_check(memstore_put(st, key, p + 1,
			    (size_t)(q - p - 1)) == 0, "memstore_put");
		}
		p = q == end ? end : q + strlen(SEP);
	}
	if (drill_store_load(st, &recs, &n, &nbad, &breaks) == ERR_OK) {
		fuzz_check(breaks <= n, "more chain breaks than records");
		drill_store_free(recs, n);
	}
	if (drill_store_verifications(st, &v, &n, &nbad) == ERR_OK)
		free(v);
	storage_free(st);
	return 0;
}
