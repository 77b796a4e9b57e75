/* Placeholder until the S3 backend lands (issue 4); owned by the S3 work. */
#include "err.h"
#include "storage_impl.h"

int
storage_s3_open(const char *url, const struct storage_opts *opts,
    struct storage **out)
{
	(void)opts;
	*out = NULL;
	err_set("repository '%s': S3 storage is not built in yet", url);
	return ERR_USAGE;
}
