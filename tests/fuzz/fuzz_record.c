/* Fuzz the archive record parser (repo_parse_record, archives/<id>.json). */
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "fuzz.h"
#include "hash.h"
#include "objfmt.h"
#include "repo.h"

/* The id the record's key names, and the repository's; the seeds use
 * them. */
#define FUZZ_ID "0123456789abcdef0123456789abcdef"
#define FUZZ_REPO "72ff5fa76b52b81d1f1f508275563fa3"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct repo_archive a;

	if (repo_parse_record(data, size, FUZZ_ID, FUZZ_REPO, &a) != ERR_OK) {
		fuzz_check(a.name == NULL && a.host == NULL && a.recip == NULL,
		    "failed parse left allocations");
		return 0;
	}
	fuzz_check(strcmp(a.id, FUZZ_ID) == 0, "record id");
	fuzz_check(repo_name_ok(a.name), "record name");
	fuzz_check(a.hash_alg == HASH_BLAKE2B || a.hash_alg == HASH_BLAKE3,
	    "record hash");
	fuzz_check(a.chunk_size >= OBJ_MIN_CHUNK &&
	    a.chunk_size <= OBJ_MAX_CHUNK, "record chunk size");
	fuzz_check(a.chunks > 0 && a.data_size >= OBJ_HEADER &&
	    a.chunks <= (a.data_size - OBJ_HEADER) / 20, "record chunk count");
	fuzz_check(a.nrecip >= 1, "record without recipients");
	repo_archive_release(&a);
	return 0;
}
