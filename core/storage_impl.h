#ifndef BKP_STORAGE_IMPL_H
#define BKP_STORAGE_IMPL_H

/* Private to storage backends: the operations table behind storage.h. */

#include "storage.h"

struct storage_ops {
	int (*put_start)(struct storage *, const char *, struct storage_put **);
	int (*put_write)(struct storage_put *, const void *, size_t);
	int (*put_end)(struct storage_put *);
	void (*put_abort)(struct storage_put *);
	int (*get)(struct storage *, const char *, size_t, uint8_t **, size_t *);
	int (*get_range)(struct storage *, const char *, uint64_t, size_t,
	    uint8_t *);
	int (*stat)(struct storage *, const char *, uint64_t *);
	int (*list)(struct storage *, const char *,
	    int (*)(void *, const char *, uint64_t), void *);
	int (*del)(struct storage *, const char *);
	void (*free)(struct storage *);
};

/* Every backend's handle starts with this. */
struct storage {
	const struct storage_ops *ops;
	char *url;
	int local;
};

/* Every backend's writer starts with this. */
struct storage_put {
	struct storage *st;
};

/* storage_local_open(path, &st): local-directory backend. */
int storage_local_open(const char *path, struct storage **out);

/* storage_s3_open(url, opts, &st): S3 backend for "s3://bucket[/prefix]". */
int storage_s3_open(const char *url, const struct storage_opts *opts,
    struct storage **out);

#endif
