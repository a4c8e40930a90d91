/* history: limits on what a file can make the reader do. A line is
 * bounded while it is read, a small file with samples decades apart is
 * refused before its grid is allocated, and series are found through an
 * index however many a file holds. */
#include <criterion/criterion.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history/history.h"
#include "tests/unit/helpers.h"
#include "util/error.h"

static const struct history_opts opts5m = { 300, 3600, 0 };

TestSuite(history_limits, .init = t_setup, .fini = t_teardown);

/* /dev/zero has no line end: refused after one line's worth, not read
 * without bound. */
Test(history_limits, endless_line_is_refused_as_it_is_read, .timeout = 20)
{
	struct history h;

	history_init(&h);
	cr_assert_eq(history_add_long_csv(&h, "/dev/zero", &opts5m), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "/dev/zero:1: line longer than 65536 bytes"), "%s", adp_error_last());
	cr_assert_eq(h.n, 0);
	history_release(&h);
}

/* A line of exactly the limit (newline not counted) is read; one byte
 * more is not. */
Test(history_limits, line_limit_is_exact)
{
	struct history h;
	size_t pad = ADP_HISTORY_MAX_LINE - strlen("1525564800,web,cpu,1,") ;
	char *text = malloc(64 + 2 * (size_t)ADP_HISTORY_MAX_LINE);
	int n;

	cr_assert_not_null(text);
	/* A fifth, ignored column pads the row. */
	n = sprintf(text, "timestamp,component,resource,value,note\n1525564800,web,cpu,1,");
	memset(text + n, 'x', pad);
	strcpy(text + n + pad, "\n1525565100,web,cpu,2,y\n");
	history_init(&h);
	cr_assert_eq(history_add_long_csv(&h, t_write("ok.csv", text), &opts5m), 0, "%s", adp_error_last());
	cr_assert_eq(h.n, 1);
	history_release(&h);
	memset(text + n, 'x', pad + 1);
	strcpy(text + n + pad + 1, "\n");
	history_init(&h);
	cr_assert_eq(history_add_long_csv(&h, t_write("long.csv", text), &opts5m), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "long.csv:2: line longer than"), "%s", adp_error_last());
	history_release(&h);
	free(text);
}

/* 20 series, each with a sample in 1971 and one in 2100: a 1.2 KB file
 * that would resample to 271 million points. Refused, naming the series. */
Test(history_limits, samples_decades_apart_are_refused)
{
	struct history h;
	char text[4096];
	int n = 0, i;

	n += sprintf(text + n, "timestamp,component,resource,value\n");
	for (i = 0; i < 20; i++)
		n += sprintf(text + n, "31536000,c%02d,cpu,1\n4102444800,c%02d,cpu,2\n", i, i);
	history_init(&h);
	cr_assert_eq(history_add_long_csv(&h, t_write("span.csv", text), &opts5m), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "span.csv: history of 'c00' cpu has 2 samples spread over"),
		  "%s", adp_error_last());
	cr_assert(strstr(adp_error_last(), "too sparse"), "%s", adp_error_last());
	cr_assert_eq(h.n, 0);
	history_release(&h);
}

/* Dense series that together exceed the grid limit are refused before
 * anything is resampled (the per-file check), with the figures. */
Test(history_limits, grid_limit_counts_every_series)
{
	struct history h;
	int64_t t[2] = { 0, 0 };
	double v[2] = { 1, 2 };
	struct history_opts o = { 1, 3600, 0 };
	char text[256];

	history_init(&h);
	/* Pretend the grid is almost full already. */
	h.grid_points = ADP_HISTORY_MAX_GRID - 5;
	t[1] = 10;
	cr_assert_eq(history_add_points(&h, "mem", "web", 0, t, v, 2, &o), ADP_ENOMEM);
	cr_assert(strstr(adp_error_last(), "over the limit of"), "%s", adp_error_last());
	snprintf(text, sizeof(text), "timestamp,component,resource,value\n1525564800,web,cpu,1\n1525564810,web,cpu,2\n");
	cr_assert_eq(history_add_long_csv(&h, t_write("g.csv", text), &o), ADP_ENOMEM);
	cr_assert(strstr(adp_error_last(), "g.csv: resampling would take 11 points"), "%s", adp_error_last());
	cr_assert_eq(h.n, 0);
	history_release(&h);
}

/* Thousands of series in one long file, interleaved: every one is found
 * with its own values, and a failed second file leaves the index right. */
Test(history_limits, many_series_are_found_by_index)
{
	enum { NC = 3000 };
	struct history h;
	FILE *f;
	int c, k;
	char bad[256];

	f = fopen(t_path("many.csv"), "w");
	cr_assert_not_null(f);
	fputs("timestamp,component,resource,value\n", f);
	for (k = 0; k < 3; k++)
		for (c = 0; c < NC; c++)
			fprintf(f, "%d,comp-%d,%s,%d\n", 1525564800 + 300 * k, c, c % 2 ? "memory" : "cpu", c * 10 + k);
	fclose(f);
	history_init(&h);
	cr_assert_eq(history_add_long_csv(&h, t_path("many.csv"), &opts5m), 0, "%s", adp_error_last());
	cr_assert_eq(h.n, NC);
	for (c = 0; c < NC; c++) {
		char name[32];
		const struct series *s;

		snprintf(name, sizeof(name), "comp-%d", c);
		s = history_find(&h, name, c % 2 ? ADP_RES_MEMORY : ADP_RES_CPU);
		cr_assert_not_null(s, "%s", name);
		cr_assert_eq(s->n, 3);
		cr_assert_float_eq(s->v[2], c * 10 + 2, 1e-9, "%s", name);
		cr_assert_null(history_find(&h, name, c % 2 ? ADP_RES_CPU : ADP_RES_MEMORY), "%s", name);
	}
	/* A file that fails half-way is undone, and the index with it. */
	snprintf(bad, sizeof(bad), "timestamp,component,resource,value\n1525564800,extra,cpu,1\n1525564800,x,cpu,oops\n");
	cr_assert_eq(history_add_long_csv(&h, t_write("bad.csv", bad), &opts5m), ADP_EINPUT);
	cr_assert_eq(h.n, NC);
	cr_assert_null(history_find(&h, "extra", ADP_RES_CPU));
	cr_assert_not_null(history_find(&h, "comp-2999", ADP_RES_MEMORY));
	history_release(&h);
}

/* The history caps follow memory: 64 bytes a sample, 48 a grid point,
 * never below the floor; this process's memory is found and bounded. */
Test(history_limits, caps_follow_memory)
{
	uint64_t gib = (uint64_t)1 << 30;

	cr_assert_eq(history_points_for(24 * gib), (size_t)(24 * gib / 64));
	cr_assert_eq(history_grid_for(24 * gib), (size_t)(24 * gib / 48));
	cr_assert_gt(history_points_for(24 * gib), (size_t)173 * 1000 * 1000, "10,000 x 30 days x 2 fit in 24 GiB");
	cr_assert_eq(history_points_for(1024), ADP_HISTORY_MIN_POINTS);
	cr_assert_gt(history_memory(), 0);
	cr_assert_leq(history_memory(), (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE));
	cr_assert_eq(ADP_HISTORY_MAX_POINTS, history_points_for(history_memory()));
}
