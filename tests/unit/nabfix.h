/* NAB excerpts for the forecast tests (testdata/nab, MIT). */
#ifndef ADP_TEST_NABFIX_H
#define ADP_TEST_NABFIX_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value column of a NAB file (5-minute steps, no gaps), at most 8,192
 * values; the caller frees it. */
static inline double *t_nab(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	char line[256];
	double *v = malloc(8192 * sizeof(double));

	cr_assert(f && v, "%s", path);
	*n = 0;
	while (*n < 8192 && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ',');
		if (c && line[0] != 't')
			v[(*n)++] = strtod(c + 1, NULL);
	}
	fclose(f);
	return v;
}

#endif
