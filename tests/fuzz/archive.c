/* History archives (tar, optionally gzip/xz/bzip2/zstd, or zip) read
 * through libarchive: every member, CSV in the long format or JSON. The
 * limits are the defaults scaled down, so that an input stays quick. */
#include "history/archive.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct history_opts o = { .step = 300, .max_gap = 3600, .until = 0 };
	const struct history_archive_limits lim = { .max_entries = 1000, .max_member = (uint64_t)1 << 20,
						    .max_total = (uint64_t)4 << 20,
						    .max_ratio = HISTORY_ARCHIVE_MAX_RATIO };
	char path[FUZZ_PATH_MAX];
	struct history h;
	size_t nmatched = 0;
	int fd = fuzz_file(data, size, path), rc;

	history_init(&h);
	adp_error_clear();
	rc = history_archive_read(&h, path, "*", NULL, NULL, &o, &lim, &nmatched);
	/* Members read before a failing one stay: the caller undoes them. */
	fuzz_check_history(&h, rc, o.step, 0);
	if (!rc && !nmatched)
		fuzz_die("success without a member read");
	history_release(&h);
	close(fd);
	return 0;
}
