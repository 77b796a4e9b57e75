/*
 * Fuzz the manifest record decoders: the input is a manifest's plaintext,
 * cut into lines as manifest_next() cuts it; each line goes through
 * manifest_parse_line, each "file" record through manifest_file_decode
 * (under both hashes), and the other records' common fields are read the
 * way restore and verify read them.  The stream reader around them is
 * fuzz_manifest_stream.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "err.h"
#include "fuzz.h"
#include "hash.h"
#include "manifest.h"

static void
one_record(const json_t *rec, const char *type)
{
	struct mfile f;
	uint64_t u;
	size_t n;
	char *s;

	if (strcmp(type, "file") == 0) {
		if (manifest_file_decode(rec, HASH_BLAKE3, &f) == ERR_OK) {
			fuzz_check(f.path != NULL && strlen(f.path) ==
			    f.pathlen && f.o <= f.e, "decoded file record");
			fuzz_check(f.type >= MF_FILE && f.type <= MF_OTHER,
			    "decoded file type");
			fuzz_check((f.link != NULL) == (f.type == MF_SYMLINK ||
			    f.type == MF_HARDLINK), "decoded link");
		} else
			fuzz_check(f.path == NULL && f.link == NULL,
			    "failed decode left allocations");
		manifest_file_release(&f);
		/* Version 1 archives name the hash "blake2b". */
		if (manifest_file_decode(rec, HASH_BLAKE2B, &f) == ERR_OK)
			manifest_file_release(&f);
		return;
	}
	if (manifest_get_bytes(rec, "path", &s, &n) == ERR_OK) {
		fuzz_check(strlen(s) == n, "path with a NUL");
		free(s);
	}
	(void)manifest_get_u64(rec, "i", &u);
	(void)manifest_get_u64(rec, "off", &u);
	(void)manifest_get_u64(rec, "len", &u);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	const char *type;
	json_t *rec;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		if (manifest_parse_line(p, (size_t)(nl - p), &rec, &type) !=
		    ERR_OK)
			continue;
		fuzz_check(type != NULL, "record type");
		one_record(rec, type);
		json_decref(rec);
	}
	return 0;
}
