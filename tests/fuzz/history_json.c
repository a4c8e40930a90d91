/* The JSON history ({"samples": [...]}), read from a file and from text. */
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_history_file(data, size, history_add_json, 1);
	return 0;
}
