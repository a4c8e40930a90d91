/* The schedule, read on its own (names checked for form), against a
 * small inventory (names resolved, percentages applied), and as
 * forecast reads it (the window on the step grid); an events URL is
 * checked, never fetched. */
#include "partition/schedule.h"
#include "tests/fuzz/fuzz.h"

static const char inventory_text[] =
	"{\"partitions\": [\n"
	" {\"name\": \"node-a\", \"zone\": \"zone-1\", \"capacity\": {\"cpu\": 8, \"memory\": \"32GiB\"}},\n"
	" {\"name\": \"node-b\", \"zone\": \"zone-1\", \"capacity\": {\"cpu\": 8, \"memory\": \"32GiB\"}},\n"
	" {\"name\": \"node-c\", \"zone\": \"zone-2\", \"capacity\": {\"cpu\": 4, \"memory\": \"16GiB\"}},\n"
	" {\"name\": \"node-d\", \"zone\": \"zone-2\", \"capacity\": {\"cpu\": 4, \"memory\": \"16GiB\"}}],\n"
	" \"components\": [{\"name\": \"web\", \"placement\": [\"node-a\", \"node-c\"]}]}\n";

static void load(const char *path, const struct inventory *inv, enum schedule_mode mode)
{
	struct schedule s = { 0 };
	size_t i;
	int rc;

	adp_error_clear();
	rc = schedule_load_mode(&s, path, inv, mode);
	fuzz_check_load(rc, &s, sizeof(s));
	if (!rc && s.start >= s.end)
		fuzz_die("a window that does not end after it starts");
	if (!rc && mode == SCHEDULE_FORECAST && s.start % s.step)
		fuzz_die("a forecast window off the step grid");
	for (i = 0; !rc && inv && i < s.npartitions; i++)
		if (s.partitions[i] >= inv->nparts)
			fuzz_die("a partition index outside the inventory");
	for (i = 1; !rc && i < s.nblackouts; i++)
		if (s.blackouts[i].start < s.blackouts[i - 1].start)
			fuzz_die("blackouts not sorted by start");
	schedule_release(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[FUZZ_PATH_MAX], ipath[FUZZ_PATH_MAX];
	struct inventory inv = { 0 };
	int fd = fuzz_file(data, size, path);
	int ifd = fuzz_file((const uint8_t *)inventory_text, sizeof(inventory_text) - 1, ipath);

	if (inventory_load(&inv, ipath))
		fuzz_die("the harness's inventory does not load");
	/* SCHEDULE_ACT checks what FULL checks but fetches no events URL: a
	 * fuzzer must not reach the network. */
	load(path, NULL, SCHEDULE_ACT);
	load(path, &inv, SCHEDULE_ACT);
	load(path, &inv, SCHEDULE_FORECAST);
	inventory_release(&inv);
	close(ifd);
	close(fd);
	return 0;
}
