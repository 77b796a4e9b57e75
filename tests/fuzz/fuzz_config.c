/* Fuzz the repository "config" parser (repo_parse_config). */
#include <stdint.h>
#include <string.h>

#include "crypto.h"
#include "err.h"
#include "fuzz.h"
#include "objfmt.h"
#include "repo.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct repo_config c;
	size_t i;

	if (repo_parse_config(data, size, &c) != ERR_OK) {
		fuzz_check(c.recip == NULL, "failed parse left recipients");
		return 0;
	}
	fuzz_check(strlen(c.id) == REPO_ID_HEX, "config id length");
	fuzz_check(c.chunk_size >= OBJ_MIN_CHUNK &&
	    c.chunk_size <= OBJ_MAX_CHUNK && c.chunk_size % 512 == 0,
	    "config chunk size out of bounds");
	fuzz_check(c.nrecip >= 1, "config without recipients");
	for (i = 0; i < c.nrecip; i++)
		fuzz_check(strlen(c.recip[i].fpr) == KEYS_FPR_HEX,
		    "recipient fingerprint length");
	repo_config_release(&c);
	return 0;
}
