/* Fuzz the drill configuration reader (drill_config_parse, through inih). */
#include <stdint.h>
#include <stdlib.h>

#include "drill_config.h"
#include "err.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct drill_config c;
	struct drill_target t;
	char *text = fuzz_cstr(data, size);
	size_t i;

	fuzz_check(drill_config_init(&c) == ERR_OK, "drill_config_init");
	if (drill_config_parse(&c, text, "fuzz.ini") == ERR_OK) {
		fuzz_check(c.nds <= DRILL_MAX_DATASETS, "too many datasets");
		fuzz_check(c.s.nhooks <= DRILL_MAX_HOOKS, "too many hooks");
		for (i = 0; i < c.nds; i++) {
			fuzz_check(drill_config_target(&c, c.ds[i].name, &t) ==
			    ERR_OK, "drill_config_target");
			fuzz_check(t.nhooks <= 2 * DRILL_MAX_HOOKS &&
			    t.samples >= 1 && t.window_days >= 1 &&
			    t.rto >= 0 && t.rpo >= 0 && t.hook_timeout >= 0,
			    "resolved settings out of bounds");
			drill_config_target_release(&t);
		}
	}
	drill_config_release(&c);
	free(text);
	return 0;
}
