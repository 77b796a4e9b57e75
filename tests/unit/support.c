#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "support.h"

static char scratch[128];

const char *
support_tmpdir(const char *tag)
{
	snprintf(scratch, sizeof(scratch), "/tmp/bkp-test-%s-XXXXXX", tag);
	cr_assert_not_null(mkdtemp(scratch), "mkdtemp failed");
	return scratch;
}

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void
support_rmtree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void
support_cleanup(void)
{
	if (scratch[0] != '\0')
		support_rmtree(scratch);
	scratch[0] = '\0';
}

const char *
support_path(const char *name)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", scratch, name);
	return b;
}

/* Entries in dir other than . and ..; a dir that cannot be opened counts
 * 0, or fails the test if must_exist. */
static int
count_dir(const char *dir, int must_exist)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (must_exist)
		cr_assert_not_null(d, "cannot open %s", dir);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

int
support_count_dir(const char *dir)
{
	return count_dir(dir, 0);
}

int
support_count_entries(const char *dir)
{
	return count_dir(dir, 1);
}

void
support_write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f, "cannot create %s", path);
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

uint8_t *
support_read_file(const char *path, size_t *len)
{
	struct stat sb;
	uint8_t *b;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fstat(fileno(f), &sb) != 0 || (b = malloc((size_t)sb.st_size + 1))
	    == NULL) {
		fclose(f);
		return NULL;
	}
	*len = fread(b, 1, (size_t)sb.st_size, f);
	b[*len] = '\0';
	fclose(f);
	return b;
}
