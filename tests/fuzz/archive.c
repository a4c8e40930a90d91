/* History archives (tar, optionally gzip/xz/bzip2/zstd, or zip) read
 * through libarchive: every member, CSV in the long format or JSON. The
 * limits are the defaults scaled down, so that an input stays quick. */
#include "history/archive.h"
#include "tests/fuzz/fuzz.h"

static size_t nmatched;

static int read_archive(struct history *h, const char *path, const struct history_opts *o)
{
	const struct history_archive_limits lim = { .max_entries = 1000, .max_member = (uint64_t)1 << 20,
						    .max_total = (uint64_t)4 << 20,
						    .max_ratio = HISTORY_ARCHIVE_MAX_RATIO };

	nmatched = 0;
	return history_archive_read(h, path, "*", NULL, NULL, o, &lim, &nmatched);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Members read before a failing one stay: the caller undoes them. */
	if (!fuzz_history_file(data, size, read_archive, 0) && !nmatched)
		fuzz_die("success without a member read");
	return 0;
}
