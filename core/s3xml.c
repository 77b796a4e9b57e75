/* S3 XML answers, parsed with libxml2. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "err.h"
#include "s3xml.h"

static xmlDocPtr
parse(const char *body, size_t len)
{
	xmlDocPtr doc;

	if (body == NULL || len == 0 || len > S3XML_MAX_BODY)
		return NULL;
	doc = xmlReadMemory(body, (int)len, "s3.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL)
		return NULL;
	/* No DTD: nothing may define entities or fetch anything. */
	if (doc->intSubset != NULL || doc->extSubset != NULL ||
	    xmlDocGetRootElement(doc) == NULL) {
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

static int
is(xmlNodePtr n, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE &&
	    strcmp((const char *)n->name, name) == 0;
}

static xmlNodePtr
child(xmlNodePtr n, const char *name)
{
	xmlNodePtr c;

	for (c = n->children; c != NULL; c = c->next)
		if (is(c, name))
			return c;
	return NULL;
}

/* Text of element n (entity references are not expanded: no NOENT). */
static char *
text(xmlNodePtr n)
{
	return n ? (char *)xmlNodeGetContent(n) : NULL;
}

static void
copy_clean(char *dst, size_t dstlen, const char *src)
{
	size_t i;

	if (dstlen == 0)
		return;
	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < dstlen; i++)
		dst[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) ?
		    '?' : src[i];
	dst[i] = '\0';
}

int
s3xml_error(const char *body, size_t len, char *code, size_t codelen,
    char *msg, size_t msglen)
{
	xmlDocPtr doc;
	xmlNodePtr root;
	char *c, *m;

	copy_clean(code, codelen, "");
	copy_clean(msg, msglen, "");
	if ((doc = parse(body, len)) == NULL)
		return -1;
	root = xmlDocGetRootElement(doc);
	if (!is(root, "Error")) {
		xmlFreeDoc(doc);
		return -1;
	}
	c = text(child(root, "Code"));
	m = text(child(root, "Message"));
	copy_clean(code, codelen, c);
	copy_clean(msg, msglen, m);
	xmlFree(c);
	xmlFree(m);
	xmlFreeDoc(doc);
	return 0;
}

int
s3xml_upload_id(const char *body, size_t len, char **id)
{
	xmlDocPtr doc;
	xmlNodePtr root;
	char *t;
	int rc = ERR_CORRUPT;

	*id = NULL;
	if ((doc = parse(body, len)) == NULL)
		goto bad;
	root = xmlDocGetRootElement(doc);
	if (!is(root, "InitiateMultipartUploadResult"))
		goto bad;
	if ((t = text(child(root, "UploadId"))) == NULL)
		goto bad;
	if (*t != '\0' && strlen(t) <= 1024 && (*id = strdup(t)) != NULL)
		rc = ERR_OK;
	xmlFree(t);
	if (rc != ERR_OK)
		goto bad;
	xmlFreeDoc(doc);
	return ERR_OK;
bad:
	xmlFreeDoc(doc);
	err_set("malformed CreateMultipartUpload answer");
	return ERR_CORRUPT;
}

int
s3xml_complete(const char *body, size_t len, char *etag, size_t etaglen)
{
	xmlDocPtr doc;
	xmlNodePtr root;
	char *t;

	copy_clean(etag, etaglen, "");
	if ((doc = parse(body, len)) == NULL) {
		err_set("malformed CompleteMultipartUpload answer");
		return ERR_CORRUPT;
	}
	root = xmlDocGetRootElement(doc);
	if (is(root, "CompleteMultipartUploadResult")) {
		t = text(child(root, "ETag"));
		copy_clean(etag, etaglen, t);
		xmlFree(t);
		xmlFreeDoc(doc);
		return ERR_OK;
	}
	if (is(root, "Error")) {
		char c[64];
		t = text(child(root, "Code"));
		copy_clean(c, sizeof(c), t);
		xmlFree(t);
		xmlFreeDoc(doc);
		err_set("CompleteMultipartUpload failed (%s)", c);
		return ERR_FAIL;
	}
	xmlFreeDoc(doc);
	err_set("malformed CompleteMultipartUpload answer");
	return ERR_CORRUPT;
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*v = x;
	return 0;
}

int
s3xml_list(const char *body, size_t len,
    int (*cb)(void *arg, const char *key, uint64_t size), void *arg,
    int *truncated, char **token)
{
	xmlDocPtr doc;
	xmlNodePtr root, n;
	char *t;
	int rc = ERR_OK;

	*truncated = 0;
	*token = NULL;
	if ((doc = parse(body, len)) == NULL) {
		err_set("malformed ListObjectsV2 answer");
		return ERR_CORRUPT;
	}
	root = xmlDocGetRootElement(doc);
	if (!is(root, "ListBucketResult")) {
		err_set("malformed ListObjectsV2 answer");
		xmlFreeDoc(doc);
		return ERR_CORRUPT;
	}
	if ((t = text(child(root, "IsTruncated"))) != NULL) {
		*truncated = strcmp(t, "true") == 0;
		xmlFree(t);
	}
	for (n = root->children; n != NULL && rc == ERR_OK; n = n->next) {
		char *k, *s;
		uint64_t size;

		if (!is(n, "Contents"))
			continue;
		k = text(child(n, "Key"));
		s = text(child(n, "Size"));
		if (k == NULL || *k == '\0' || strlen(k) > S3XML_MAX_KEY ||
		    parse_u64(s, &size) != 0) {
			err_set("malformed entry in ListObjectsV2 answer");
			rc = ERR_CORRUPT;
		} else
			rc = cb(arg, k, size);
		xmlFree(k);
		xmlFree(s);
	}
	if (rc == ERR_OK && *truncated) {
		t = text(child(root, "NextContinuationToken"));
		if (t == NULL || *t == '\0' || strlen(t) > 4096 ||
		    (*token = strdup(t)) == NULL) {
			err_set("truncated ListObjectsV2 answer without a "
			    "usable continuation token");
			rc = ERR_CORRUPT;
		}
		xmlFree(t);
	}
	xmlFreeDoc(doc);
	return rc;
}
