/* Replays inputs through a harness without libFuzzer: built with the
 * normal compiler and flags, linked with one harness, it calls
 * LLVMFuzzerTestOneInput on every file given, or on every file of a
 * directory given, so that `make check` (and check-asan, under the
 * sanitizers) keeps each crash once found fixed.
 * Usage: replay-NAME FILE|DIR... */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

/* Optional in a harness, as in libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define REPLAY_MAX_INPUT ((size_t)1 << 20) /* libFuzzer's default -max_len is far lower */

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	if (!f) {
		fprintf(stderr, "replay: cannot open '%s': %s\n", path, strerror(errno));
		return 1;
	}
	if (!(buf = malloc(REPLAY_MAX_INPUT + 1))) {
		fclose(f);
		fprintf(stderr, "replay: out of memory\n");
		return 1;
	}
	n = fread(buf, 1, REPLAY_MAX_INPUT + 1, f);
	fclose(f);
	if (n > REPLAY_MAX_INPUT) {
		free(buf);
		fprintf(stderr, "replay: '%s' is larger than %zu bytes\n", path, REPLAY_MAX_INPUT);
		return 1;
	}
	/* A copy of exactly n bytes, so that ASan sees reads past the input. */
	{
		uint8_t *in = malloc(n ? n : 1);

		if (!in) {
			free(buf);
			fprintf(stderr, "replay: out of memory\n");
			return 1;
		}
		memcpy(in, buf, n);
		free(buf);
		LLVMFuzzerTestOneInput(in, n);
		free(in);
	}
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of dir, in name order (a stable replay). */
static int run_dir(const char *dir, size_t *count)
{
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, i;
	int bad = 0;
	DIR *d = opendir(dir);

	if (!d) {
		fprintf(stderr, "replay: cannot open '%s': %s\n", dir, strerror(errno));
		return 1;
	}
	while ((e = readdir(d))) {
		char **nn;

		if (e->d_name[0] == '.')
			continue;
		if (!(nn = realloc(names, (n + 1) * sizeof(*names))) || !(nn[n] = strdup(e->d_name))) {
			free(nn ? nn : names);
			closedir(d);
			fprintf(stderr, "replay: out of memory\n");
			return 1;
		}
		names = nn;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp);
	for (i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) < sizeof(path) &&
		    !stat(path, &st) && S_ISREG(st.st_mode)) {
			bad |= run_file(path);
			(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return bad;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	int i, bad = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		struct stat st;

		if (!stat(argv[i], &st) && S_ISDIR(st.st_mode)) {
			bad |= run_dir(argv[i], &count);
		} else {
			bad |= run_file(argv[i]);
			count++;
		}
	}
	printf("%s: %zu inputs replayed\n", argv[0], count);
	return bad;
}
