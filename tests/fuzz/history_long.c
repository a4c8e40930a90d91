/* The long-format history CSV (timestamp,component,resource,value). */
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct history_opts o = { .step = 300, .max_gap = 3600, .until = 0 };
	char path[FUZZ_PATH_MAX];
	struct history h;
	int fd = fuzz_file(data, size, path), rc;

	history_init(&h);
	adp_error_clear();
	rc = history_add_long_csv(&h, path, &o);
	fuzz_check_history(&h, rc, o.step, 1);
	history_release(&h);
	close(fd);
	return 0;
}
