/* util/parallel and the loops that run on it: the same results and the
 * same first error as a serial loop, whatever the thread count (reading a
 * file per component, hashing the plan's inputs). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history/history.h"
#include "history/source.h"
#include "plans/plan.h"
#include "tests/unit/helpers.h"
#include "util/error.h"
#include "util/parallel.h"
#include "util/sha256.h"

TestSuite(parallel, .init = t_setup, .fini = t_teardown);

#define NITEMS 200

struct squares {
	long out[NITEMS];
	size_t fail1, fail2, last_done, calls;
};

static int square(void *ctx, size_t i)
{
	struct squares *s = ctx;

	if (i == s->fail1 || i == s->fail2)
		return adp_error_set(i == s->fail1 ? ADP_EINPUT : ADP_ESYS, "item %zu failed", i);
	s->out[i] = (long)(i * i);
	return 0;
}

static void counted(void *ctx, size_t ndone)
{
	struct squares *s = ctx;

	s->calls++;
	s->last_done = ndone;
}

Test(parallel, every_item_once_and_progress_counted)
{
	size_t threads[] = { 1, 2, 3, 8 }, t, i;

	for (t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		struct squares s = { .fail1 = SIZE_MAX, .fail2 = SIZE_MAX };

		cr_assert_eq(adp_parallel(NITEMS, threads[t], square, counted, &s), 0);
		for (i = 0; i < NITEMS; i++)
			cr_assert_eq(s.out[i], (long)(i * i), "%zu threads: item %zu", threads[t], i);
		cr_assert_eq(s.calls, NITEMS);
		cr_assert_eq(s.last_done, NITEMS);
	}
}

/* Two items fail: the lower one's code and message are reported, on the
 * calling thread, and every item below it ran, as in a serial loop. */
Test(parallel, the_lowest_failure_is_reported)
{
	size_t threads[] = { 1, 2, 4 }, t, i;

	for (t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		struct squares s = { .fail1 = 37, .fail2 = 80 };

		adp_error_clear();
		cr_assert_eq(adp_parallel(NITEMS, threads[t], square, NULL, &s), ADP_EINPUT);
		cr_assert_str_eq(adp_error_last(), "item 37 failed");
		for (i = 0; i < 37; i++)
			cr_assert_eq(s.out[i], (long)(i * i), "%zu threads: item %zu did not run", threads[t], i);
	}
}

Test(parallel, thread_counts)
{
	cr_assert_eq(adp_threads(3, 100, 4), 3);
	cr_assert_eq(adp_threads(64, 10000, 1), ADP_MAX_THREADS);
	cr_assert_eq(adp_threads(8, 10, 4), 2); /* at least 4 items each */
	cr_assert_eq(adp_threads(8, 3, 4), 1);
	cr_assert(adp_threads(0, 1000, 1) >= 1);
}

/* A column file per component, c00 .. c(n-1), each with its own values;
 * bad, when below n, gets a value that is not a number on line 4. */
static void write_fleet(struct history_source *src, const char **names, size_t n, size_t bad, size_t bad2)
{
	static char namebuf[16][24];
	size_t i, k;

	for (i = 0; i < n; i++) {
		char file[32], text[4096];
		size_t len = 0;

		snprintf(namebuf[i], sizeof(namebuf[i]), "c%02zu", i);
		names[i] = namebuf[i];
		len += (size_t)snprintf(text + len, sizeof(text) - len, "t,cpu,mem\n");
		for (k = 0; k < 40; k++)
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%lld,%s,%.3f\n",
						1525564800LL + (long long)k * 300,
						(i == bad || i == bad2) && k == 2 ? "x" : k % 7 ? "0.5" : "1.25",
						(double)(i + 1) * 100 + (double)k);
		snprintf(file, sizeof(file), "c%02zu.csv", i);
		memset(&src[i], 0, sizeof(src[i]));
		src[i].format = HISTORY_SOURCE_COLUMNS;
		src[i].path = strdup(t_write(file, text));
		src[i].map.time_column = "t";
		src[i].map.time_format = "epoch";
		src[i].map.res[ADP_RES_CPU].column = "cpu";
		src[i].map.res[ADP_RES_CPU].scale = 1;
		src[i].map.res[ADP_RES_MEMORY].column = "mem";
		src[i].map.res[ADP_RES_MEMORY].scale = 1;
	}
}

static int read_fleet(struct history *h, struct history_source *src, const char **names, size_t n,
		      size_t threads, char ***files, size_t *nfiles)
{
	const struct history_source *sp[16];
	static const struct history_opts o = { 300, 3600, 0 };
	size_t i;

	for (i = 0; i < n; i++)
		sp[i] = &src[i];
	history_init(h);
	*files = NULL;
	*nfiles = 0;
	return history_sources_read(h, sp, names, n, &o, threads, files, nfiles);
}

static void free_fleet(struct history_source *src, size_t n, char **files, size_t nfiles)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(src[i].path);
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
}

Test(parallel, files_read_on_every_core_as_in_order)
{
	struct history_source src[12];
	const char *names[12];
	struct history a, b;
	char **fa, **fb;
	size_t na, nb, i;

	write_fleet(src, names, 12, SIZE_MAX, SIZE_MAX);
	cr_assert_eq(read_fleet(&a, src, names, 12, 1, &fa, &na), 0, "%s", adp_error_last());
	cr_assert_eq(read_fleet(&b, src, names, 12, 3, &fb, &nb), 0, "%s", adp_error_last());
	cr_assert_eq(a.n, 24);
	cr_assert_eq(b.n, a.n);
	cr_assert_eq(b.total_points, a.total_points);
	cr_assert_eq(b.grid_points, a.grid_points);
	for (i = 0; i < a.n; i++) {
		cr_assert_str_eq(b.items[i].component, a.items[i].component);
		cr_assert_eq(b.items[i].resource, a.items[i].resource);
		cr_assert_str_eq(b.items[i].source, a.items[i].source);
		cr_assert_eq(b.items[i].n, a.items[i].n);
		cr_assert(memcmp(b.items[i].v, a.items[i].v, a.items[i].n * sizeof(double)) == 0);
		/* and the index finds each series */
		cr_assert_eq(history_find(&b, a.items[i].component, a.items[i].resource), &b.items[i]);
	}
	cr_assert_eq(nb, na);
	for (i = 0; i < na; i++)
		cr_assert_str_eq(fb[i], fa[i]);
	history_release(&a);
	history_release(&b);
	free_fleet(src, 12, fa, na);
	for (i = 0; i < nb; i++)
		free(fb[i]);
	free(fb);
}

/* Files 5 and 9 are bad: both ways report file 5, line 4, with its
 * component, and nothing is kept twice. */
Test(parallel, the_first_bad_file_is_reported_as_in_order)
{
	struct history_source src[12];
	const char *names[12];
	char msg[ADP_ERROR_MAX];
	size_t i, threads[] = { 1, 2, 3 };
	struct history h;

	write_fleet(src, names, 12, 5, 9);
	for (i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
		char **f;
		size_t nf;

		cr_assert_eq(read_fleet(&h, src, names, 12, threads[i], &f, &nf), ADP_EINPUT);
		if (i == 0)
			snprintf(msg, sizeof(msg), "%s", adp_error_last());
		else
			cr_assert_str_eq(adp_error_last(), msg);
		cr_assert(strstr(msg, "component 'c05'") && strstr(msg, "c05.csv:4"), "%s", msg);
		cr_assert_eq(nf, 5, "%zu threads: %zu files before the bad one", threads[i], nf);
		history_release(&h);
		free_fleet(src, 0, f, nf);
	}
	free_fleet(src, 12, NULL, 0);
}

/* A component already held (from another source) is not read again. */
Test(parallel, components_held_are_skipped)
{
	struct history_source src[4];
	const char *names[4];
	const struct history_source *sp[4];
	static const struct history_opts o = { 300, 3600, 0 };
	struct history h;
	char **f = NULL;
	size_t nf = 0, i;

	write_fleet(src, names, 4, SIZE_MAX, SIZE_MAX);
	history_init(&h);
	cr_assert_eq(history_add_long_csv(&h, t_write("long.csv", "timestamp,component,resource,value\n"
								   "1525564800,c02,cpu,7\n1525565100,c02,cpu,8\n"),
					  &o),
		     0, "%s", adp_error_last());
	for (i = 0; i < 4; i++)
		sp[i] = &src[i];
	cr_assert_eq(history_sources_read(&h, sp, names, 4, &o, 2, &f, &nf), 0,
		     "%s", adp_error_last());
	cr_assert_eq(h.n, 1 + 3 * 2);
	cr_assert_eq(history_find(&h, "c02", ADP_RES_MEMORY), NULL);
	cr_assert_eq(nf, 3);
	history_release(&h);
	free_fleet(src, 4, f, nf);
}

/* The plan's inputs hashed on every core: the digests a file at a time
 * gives, in order; a missing file stops there, the inputs before it
 * added. */
Test(parallel, inputs_hashed_as_one_at_a_time)
{
	const char *kind[6], *path[6];
	struct plan p, q;
	size_t i;

	memset(&p, 0, sizeof(p));
	memset(&q, 0, sizeof(q));
	for (i = 0; i < 6; i++) {
		char name[16], text[64];

		snprintf(name, sizeof(name), "in%zu", i);
		snprintf(text, sizeof(text), "input %zu\n", i);
		path[i] = strdup(t_write(name, text));
		kind[i] = i ? "history" : "inventory";
	}
	cr_assert_eq(plan_add_inputs(&p, kind, path, 6), 0, "%s", adp_error_last());
	for (i = 0; i < 6; i++)
		cr_assert_eq(plan_add_input(&q, kind[i], path[i]), 0);
	cr_assert_eq(p.ninputs, 6);
	for (i = 0; i < 6; i++) {
		cr_assert_str_eq(p.inputs[i].sha256, q.inputs[i].sha256);
		cr_assert_str_eq(p.inputs[i].path, path[i]);
		cr_assert_str_eq(p.inputs[i].kind, kind[i]);
	}
	plan_release(&p);
	memset(&p, 0, sizeof(p));
	free((char *)path[3]);
	path[3] = strdup(t_path("absent"));
	cr_assert_eq(plan_add_inputs(&p, kind, path, 6), ADP_ESYS);
	cr_assert(strstr(adp_error_last(), "absent"), "%s", adp_error_last());
	cr_assert_eq(p.ninputs, 3);
	plan_release(&p);
	plan_release(&q);
	for (i = 0; i < 6; i++)
		free((char *)path[i]);
}

/* The file digest (libcrypto) and the in-memory one (our own code)
 * agree, on an empty file and one longer than a read's chunk. */
Test(parallel, file_and_memory_digests_agree)
{
	size_t sizes[] = { 0, 3, 64, 65536 * 2 + 17 }, i, k;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *text = malloc(sizes[i] + 1), name[16], a[65], b[65];

		for (k = 0; k < sizes[i]; k++)
			text[k] = (char)('a' + (k * 7 + k / 13) % 26);
		text[sizes[i]] = '\0';
		snprintf(name, sizeof(name), "d%zu", i);
		cr_assert_eq(adp_sha256_file(a, t_write(name, text)), 0);
		adp_sha256_hex(text, sizes[i], b);
		cr_assert_str_eq(a, b, "size %zu", sizes[i]);
		free(text);
	}
}
