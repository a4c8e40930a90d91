/* Shared by the fuzz harnesses (one per parser, each a
 * LLVMFuzzerTestOneInput over the library's public functions): the
 * input as a file the library opens by path, a NUL-terminated copy, and
 * the checks of the error convention and of what a reader leaves.
 * Every harness frees all it allocates, so that LeakSanitizer reports
 * only the library's leaks. A broken invariant aborts with a message:
 * libFuzzer and the replay driver both report it as a crash. */
#ifndef ADP_FUZZ_H
#define ADP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "history/history.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PATH_MAX 64

static inline void fuzz_die(const char *what)
{
	fprintf(stderr, "fuzz: %s (last error: '%s')\n", what, adp_error_last());
	abort();
}

/* A memory file holding data, or an unlinked temporary file where memfd
 * is missing; *path names it as /proc/self/fd/N. Returns the fd, which
 * the caller closes. */
static inline int fuzz_file(const uint8_t *data, size_t size, char path[FUZZ_PATH_MAX])
{
	size_t off = 0;
	int fd = memfd_create("fuzz", 0);

	if (fd < 0) {
		char tmpl[] = "/tmp/adpart-fuzz.XXXXXX";

		if ((fd = mkstemp(tmpl)) < 0)
			fuzz_die("cannot make a temporary file");
		unlink(tmpl);
	}
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);

		if (n <= 0)
			fuzz_die("cannot write the input");
		off += (size_t)n;
	}
	snprintf(path, FUZZ_PATH_MAX, "/proc/self/fd/%d", fd);
	return fd;
}

/* data as a NUL-terminated string (cut at its first NUL); free it. */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		fuzz_die("out of memory");
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A core function returns 0 or a negative ADP_E* and, on failure,
 * records a message. Call adp_error_clear() before the call. */
static inline void fuzz_check_rc(int rc)
{
	if (rc > 0 || rc < ADP_EINFEASIBLE)
		fuzz_die("return code is neither 0 nor an ADP_E* code");
	if (rc && !*adp_error_last())
		fuzz_die("failure without a message");
}

/* What a history reader leaves in h (empty before the call): series on
 * the step's grid, each found by its name, and the grid count in step
 * with the series; with undo set, nothing at all after a failure. */
static inline void fuzz_check_history(const struct history *h, int rc, int64_t step, int undo)
{
	size_t i, grid = 0;

	fuzz_check_rc(rc);
	if (rc && undo && (h->n || h->total_points || h->grid_points))
		fuzz_die("a failed read left series or points behind");
	for (i = 0; i < h->n; i++) {
		const struct series *s = &h->items[i];

		if (!history_name_valid(s->component) || s->resource < 0 || s->resource >= ADP_RES_COUNT)
			fuzz_die("a series with an invalid component or resource");
		if (s->step != step || s->start % step)
			fuzz_die("a series off the step's grid");
		if (history_find(h, s->component, s->resource) != s)
			fuzz_die("a series its index does not find");
		grid += s->n;
	}
	if (grid != h->grid_points)
		fuzz_die("grid_points differs from the series' lengths");
}

/* On failure, a loader leaves its out-parameter (size bytes at out,
 * zeroed before the call) as it found it. Checks rc as well. */
static inline void fuzz_check_load(int rc, const void *out, size_t size)
{
	const unsigned char *b = out;
	size_t i;

	fuzz_check_rc(rc);
	for (i = 0; rc && i < size; i++)
		if (b[i])
			fuzz_die("a failed load wrote its out-parameter");
}

/* A history reader over a file: history_add_json's signature. */
typedef int (*fuzz_history_reader)(struct history *h, const char *path, const struct history_opts *o);

/* Reads data as a file with read on a five-minute grid and checks what
 * it leaves (fuzz_check_history, with undo). Returns read's rc. */
static inline int fuzz_history_file(const uint8_t *data, size_t size, fuzz_history_reader read, int undo)
{
	static const struct history_opts fuzz_history_opts = { .step = 300, .max_gap = 3600, .until = 0 };
	char path[FUZZ_PATH_MAX];
	struct history h;
	int fd = fuzz_file(data, size, path), rc;

	history_init(&h);
	adp_error_clear();
	rc = read(&h, path, &fuzz_history_opts);
	fuzz_check_history(&h, rc, fuzz_history_opts.step, undo);
	history_release(&h);
	close(fd);
	return rc;
}

#endif
