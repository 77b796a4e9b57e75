/* Fuzz the S3 XML answer parsers (s3xml.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "err.h"
#include "fuzz.h"
#include "s3xml.h"

static int
list_cb(void *arg, const char *key, uint64_t size)
{
	size_t *n = arg;

	(void)size;
	fuzz_check(*key != '\0' && strlen(key) <= S3XML_MAX_KEY,
	    "listed key length");
	/* A callback that stops the walk, as storage_list's may. */
	return ++*n == 1000 ? ERR_FAIL : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	char code[64], msg[256], etag[128];
	char *id = NULL, *token = NULL;
	size_t n = 0;
	int truncated;

	s3xml_error(body, size, code, sizeof(code), msg, sizeof(msg));
	fuzz_check(strlen(code) < sizeof(code) && strlen(msg) < sizeof(msg),
	    "error code or message not terminated");
	if (s3xml_upload_id(body, size, &id) == ERR_OK)
		fuzz_check(id != NULL && *id != '\0', "empty upload id");
	free(id);
	s3xml_complete(body, size, etag, sizeof(etag));
	fuzz_check(strlen(etag) < sizeof(etag), "etag not terminated");
	if (s3xml_list(body, size, list_cb, &n, &truncated, &token) ==
	    ERR_OK && truncated)
		fuzz_check(token != NULL, "truncated list without token");
	free(token);
	return 0;
}
