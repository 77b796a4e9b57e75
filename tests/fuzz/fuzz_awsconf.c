/* Fuzz the AWS INI file reader (awsconf_parse, through inih). */
#include <stdint.h>
#include <unistd.h>

#include "awsconf.h"
#include "err.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sections[] = { "default", "profile fuzz" };
	struct awsconf c;
	char path[64];
	size_t i;
	int fd, found;

	fd = fuzz_memfd(data, size, path, sizeof(path));
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		c = (struct awsconf){ 0 };
		if (awsconf_parse(path, sections[i], &c, &found) != ERR_OK)
			fuzz_check(!found, "failed parse found a section");
		awsconf_release(&c);
	}
	close(fd);
	return 0;
}
