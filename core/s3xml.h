#ifndef BKP_S3XML_H
#define BKP_S3XML_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parsing of S3's XML answers with libxml2: no network, no DTD (a document
 * carrying one is rejected), no entity substitution, bounded input.  All
 * input is untrusted; every function fails closed with ERR_CORRUPT.
 */

#define S3XML_MAX_BODY (16u << 20) /* largest XML answer accepted */
#define S3XML_MAX_KEY 1024         /* S3's key length limit */

/*
 * s3xml_error(body, len, code, codelen, msg, msglen): if body is an S3
 * <Error> document, copy its Code and Message (truncated, NUL-terminated,
 * control characters replaced) and return 0; otherwise return -1 with
 * code and msg set to "".
 */
int s3xml_error(const char *body, size_t len, char *code, size_t codelen,
    char *msg, size_t msglen);

/*
 * s3xml_upload_id(body, len, &id): the UploadId of an
 * InitiateMultipartUploadResult as a new string.  ERR_OK or ERR_CORRUPT
 * (message set).
 */
int s3xml_upload_id(const char *body, size_t len, char **id);

/*
 * s3xml_complete(body, len, etag, etaglen): check a CompleteMultipartUpload
 * answer.  ERR_OK if it is a CompleteMultipartUploadResult (its ETag copied
 * into etag), ERR_FAIL if it is an <Error> (S3 may send one with status
 * 200; message set with its code), ERR_CORRUPT otherwise.
 */
int s3xml_complete(const char *body, size_t len, char *etag, size_t etaglen);

/*
 * s3xml_list(body, len, cb, arg, &truncated, &token): parse one page of a
 * ListObjectsV2 answer, calling cb(arg, key, size) for each <Contents> in
 * document order.  *truncated is set from IsTruncated; *token gets a new
 * string with NextContinuationToken (NULL if none).  A key longer than
 * S3XML_MAX_KEY or a bad size is ERR_CORRUPT.  A non-zero return from cb
 * stops the walk and is returned.
 */
int s3xml_list(const char *body, size_t len,
    int (*cb)(void *arg, const char *key, uint64_t size), void *arg,
    int *truncated, char **token);

#endif
