/* S3 XML answers: well-formed ones parse, hostile or malformed ones fail. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "s3xml.h"

#define NS "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""

struct seen {
	char keys[8][64];
	uint64_t sizes[8];
	int n;
	int stop_at;
};

static int
collect(void *arg, const char *key, uint64_t size)
{
	struct seen *s = arg;

	if (s->n >= 8)
		return -100;
	snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
	s->sizes[s->n++] = size;
	return s->n == s->stop_at ? 7 : 0;
}

#define LEN(s) (sizeof(s) - 1)

Test(s3xml, list_page)
{
	static const char doc[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	    "<ListBucketResult " NS "><Name>b</Name><Prefix>r/</Prefix>"
	    "<KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>"
	    "<NextContinuationToken>tok/+=</NextContinuationToken>"
	    "<Contents><Key>r/a&amp;b</Key><Size>12</Size></Contents>"
	    "<Contents><Key>r/data/x</Key><Size>18446744073709551615</Size>"
	    "</Contents></ListBucketResult>";
	struct seen s = { .stop_at = -1 };
	char *tok;
	int tr;

	cr_assert_eq(s3xml_list(doc, LEN(doc), collect, &s, &tr, &tok), ERR_OK);
	cr_expect_eq(s.n, 2);
	cr_expect_str_eq(s.keys[0], "r/a&b");
	cr_expect_eq(s.sizes[0], 12);
	cr_expect_str_eq(s.keys[1], "r/data/x");
	cr_expect_eq(s.sizes[1], UINT64_MAX);
	cr_expect_eq(tr, 1);
	cr_assert_not_null(tok);
	cr_expect_str_eq(tok, "tok/+=");
	free(tok);
}

Test(s3xml, list_callback_stops)
{
	static const char doc[] = "<ListBucketResult><IsTruncated>false"
	    "</IsTruncated><Contents><Key>a</Key><Size>1</Size></Contents>"
	    "<Contents><Key>b</Key><Size>1</Size></Contents>"
	    "</ListBucketResult>";
	struct seen s = { .stop_at = 1 };
	char *tok;
	int tr;

	cr_expect_eq(s3xml_list(doc, LEN(doc), collect, &s, &tr, &tok), 7);
	cr_expect_eq(s.n, 1);
	cr_expect_null(tok);
}

Test(s3xml, list_rejects_bad_input)
{
	static const char *bad[] = {
		/* negative / junk sizes */
		"<ListBucketResult><Contents><Key>a</Key><Size>-1</Size>"
		"</Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>a</Key><Size>12x</Size>"
		"</Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>a</Key><Size>99999999999999999999"
		"</Size></Contents></ListBucketResult>",
		/* missing key, empty key */
		"<ListBucketResult><Contents><Size>1</Size></Contents>"
		"</ListBucketResult>",
		"<ListBucketResult><Contents><Key></Key><Size>1</Size>"
		"</Contents></ListBucketResult>",
		/* truncated without a token */
		"<ListBucketResult><IsTruncated>true</IsTruncated>"
		"</ListBucketResult>",
		/* wrong root, not XML, unterminated */
		"<Error><Code>AccessDenied</Code></Error>",
		"HTTP/1.1 200 OK",
		"<ListBucketResult><Contents><Key>a</Key>",
		/* a DTD with an entity (billion laughs / XXE shape) */
		"<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY e \"xxxxxxxx\">]>"
		"<ListBucketResult><Contents><Key>&e;</Key><Size>1</Size>"
		"</Contents></ListBucketResult>",
		"<?xml version=\"1.0\"?><!DOCTYPE l SYSTEM \"file:///etc/passwd\">"
		"<ListBucketResult></ListBucketResult>",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct seen s = { .stop_at = -1 };
		char *tok = NULL;
		int tr;
		cr_expect_eq(s3xml_list(bad[i], strlen(bad[i]), collect, &s, &tr,
		    &tok), ERR_CORRUPT, "accepted #%zu", i);
		cr_expect_null(tok);
	}
}

Test(s3xml, list_rejects_long_key_and_huge_body)
{
	size_t klen = S3XML_MAX_KEY + 1, n;
	char *doc = malloc(klen + 200);
	struct seen s = { .stop_at = -1 };
	char *tok;
	int tr;

	n = (size_t)snprintf(doc, 100, "<ListBucketResult><Contents><Key>");
	memset(doc + n, 'k', klen);
	n += klen;
	n += (size_t)snprintf(doc + n, 100, "</Key><Size>1</Size></Contents>"
	    "</ListBucketResult>");
	cr_expect_eq(s3xml_list(doc, n, collect, &s, &tr, &tok), ERR_CORRUPT);
	cr_expect_eq(s3xml_list(doc, S3XML_MAX_BODY + 1, collect, &s, &tr,
	    &tok), ERR_CORRUPT);
	cr_expect_eq(s.n, 0);
	free(doc);
}

Test(s3xml, error_document)
{
	static const char doc[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	    "<Error><Code>NoSuchBucket</Code><Message>The specified bucket "
	    "does not exist\n</Message><BucketName>x</BucketName></Error>";
	char code[32], msg[64];

	cr_assert_eq(s3xml_error(doc, LEN(doc), code, sizeof(code), msg,
	    sizeof(msg)), 0);
	cr_expect_str_eq(code, "NoSuchBucket");
	cr_expect_str_eq(msg, "The specified bucket does not exist?");
	cr_expect_eq(s3xml_error("<ListBucketResult/>", 19, code,
	    sizeof(code), msg, sizeof(msg)), -1);
	cr_expect_str_eq(code, "");
	cr_expect_eq(s3xml_error("", 0, code, sizeof(code), msg, sizeof(msg)),
	    -1);
	/* Truncated to the buffer. */
	cr_assert_eq(s3xml_error(doc, LEN(doc), code, 5, msg, sizeof(msg)), 0);
	cr_expect_str_eq(code, "NoSu");
}

Test(s3xml, upload_id_and_complete)
{
	static const char init[] = "<InitiateMultipartUploadResult " NS ">"
	    "<Bucket>b</Bucket><Key>k</Key><UploadId>abc.DEF-1</UploadId>"
	    "</InitiateMultipartUploadResult>";
	static const char done[] = "<CompleteMultipartUploadResult>"
	    "<Location>x</Location><ETag>\"3858f62230ac3c915f300c664312c11f-9"
	    "\"</ETag></CompleteMultipartUploadResult>";
	static const char err200[] = "<Error><Code>InternalError</Code>"
	    "<Message>We encountered an internal error.</Message></Error>";
	char *id, etag[80];

	cr_assert_eq(s3xml_upload_id(init, LEN(init), &id), ERR_OK);
	cr_expect_str_eq(id, "abc.DEF-1");
	free(id);
	cr_expect_eq(s3xml_upload_id(done, LEN(done), &id), ERR_CORRUPT);
	cr_expect_null(id);
	cr_expect_eq(s3xml_upload_id("<InitiateMultipartUploadResult>"
	    "<UploadId></UploadId></InitiateMultipartUploadResult>", 71, &id),
	    ERR_CORRUPT);
	cr_assert_eq(s3xml_complete(done, LEN(done), etag, sizeof(etag)),
	    ERR_OK);
	cr_expect_str_eq(etag, "\"3858f62230ac3c915f300c664312c11f-9\"");
	cr_expect_eq(s3xml_complete(err200, LEN(err200), etag, sizeof(etag)),
	    ERR_FAIL);
	cr_expect(strstr(err_get(), "InternalError") != NULL);
	cr_expect_eq(s3xml_complete("junk", 4, etag, sizeof(etag)),
	    ERR_CORRUPT);
}
