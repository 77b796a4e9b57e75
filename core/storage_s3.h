#ifndef BKP_STORAGE_S3_H
#define BKP_STORAGE_S3_H

#include <stddef.h>

/*
 * Helpers of the S3 backend (core/storage_s3.c), exported for its unit
 * tests.  The backend itself is reached through storage_open() with an
 * "s3://BUCKET[/PREFIX]" URL; see docs/S3.md.
 */

/*
 * storage_s3_is_loopback(host): 1 if host is "localhost", a name under
 * ".localhost", an address in 127.0.0.0/8, or ::1; else 0.  host carries
 * no brackets or port.
 */
int storage_s3_is_loopback(const char *host);

/*
 * storage_s3_base_url(endpoint, bucket, path_style, &base, &host): the URL
 * prefix that object paths are appended to ("http://127.0.0.1:9000/bkt" for
 * path-style, "https://bkt.s3.eu-west-1.amazonaws.com" for virtual-hosted)
 * and the endpoint's host name, both new strings.  path_style 1 forces
 * path-style; otherwise virtual-hosted is used unless the host is an IP
 * address or "localhost", or the bucket name holds a dot.  Refuses
 * (ERR_USAGE, message set) anything but https://, except http:// to a
 * loopback host, and endpoints with user information.
 */
int storage_s3_base_url(const char *endpoint, const char *bucket,
    int path_style, char **base, char **host);

/*
 * storage_s3_part_size(first, partno): size of multipart part partno
 * (1-based) when the first parts are `first` bytes: doubled after every
 * 1000 parts, capped at S3's 5 GiB.  With first = 8 MiB, 10,000 parts hold
 * more than 5 TB.
 */
size_t storage_s3_part_size(size_t first, int partno);

/*
 * storage_s3_multipart_etag(part_etags, n, out, outlen): the ETag S3 gives
 * a multipart object made of n parts with these ETags (quoted or not):
 * hex MD5 of their concatenated binary MD5s, then "-n".  Return 0, or -1
 * if a part's ETag is not a hex MD5 (SSE-KMS) or outlen is under 48.
 */
int storage_s3_multipart_etag(char *const *part_etags, int n, char *out,
    size_t outlen);

#endif
