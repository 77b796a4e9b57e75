/*
 * Fuzz the drill record parser (drill_record_parse) and check that what it
 * accepts survives drill_record_json and a second parse unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drill_record.h"
#include "err.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct drill_record rec, again;
	char *text = NULL, *text2 = NULL;

	if (drill_record_parse(data, size, &rec) != ERR_OK) {
		drill_record_release(&rec);
		return 0;
	}
	fuzz_check(rec.nfailures <= DRILL_MAX_FAILURES, "too many failures");
	fuzz_check(drill_record_json(&rec, &text) == ERR_OK,
	    "an accepted record cannot be written back");
	fuzz_check(drill_record_parse(text, strlen(text), &again) == ERR_OK,
	    "a written record does not parse");
	fuzz_check(drill_record_json(&again, &text2) == ERR_OK &&
	    strcmp(text, text2) == 0, "a record changes on a round trip");
	free(text2);
	free(text);
	drill_record_release(&again);
	drill_record_release(&rec);
	return 0;
}
