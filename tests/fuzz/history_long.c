/* The long-format history CSV (timestamp,component,resource,value). */
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_history_file(data, size, history_add_long_csv, 1);
	return 0;
}
