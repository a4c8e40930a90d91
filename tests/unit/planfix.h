/* A small synthetic estate for planner, plan and step tests: three
 * partitions, four components, and eight days of five-minute history
 * with a daily pattern, written by the test into its own directory. */
#ifndef ADP_TEST_PLANFIX_H
#define ADP_TEST_PLANFIX_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "partition/planner.h"
#include "tests/unit/helpers.h"
#include "util/error.h"

#define PF_NOW 1525564800LL /* 2018-05-06T00:00:00Z */
#define PF_DAYS 8
#define PF_GIB 1073741824.0

/* Load of one component at time t (whole component, all replicas). */
typedef double (*pf_load_fn)(const char *component, int resource, int64_t t);

/* A deterministic wobble in [-1, 1] per component, day and step, so the
 * days (the forecast's scenarios) differ. */
static inline double pf_noise(const char *c, int64_t t)
{
	uint64_t x = (uint64_t)t * 6364136223846793005ULL + (uint64_t)(unsigned char)c[0] * 1442695040888963407ULL;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return (double)(x % 2001) / 1000.0 - 1.0;
}

static inline double pf_hour(int64_t t)
{
	return (double)(((t % 86400) + 86400) % 86400) / 3600.0;
}

/* The default estate's loads: a daily bump around 02:00 for web. */
static inline double pf_default_load(const char *c, int r, int64_t t)
{
	double hr = pf_hour(t);
	double bump = exp(-(hr - 2) * (hr - 2) / 2.0);

	if (r == ADP_RES_MEMORY)
		return (strcmp(c, "db") ? 1.0 : 2.0) * PF_GIB * (1 + 0.02 * pf_noise(c, t));
	if (!strcmp(c, "web"))
		return 1.0 + 0.8 * bump + 0.05 * pf_noise(c, t);
	if (!strcmp(c, "db"))
		return 1.0 + 0.3 * sin(hr / 24 * 2 * M_PI) + 0.05 * pf_noise(c, t);
	if (!strcmp(c, "cache"))
		return 0.7 + 0.05 * pf_noise(c, t);
	return 0.4 + 0.05 * pf_noise(c, t);
}

/* Writes PF_DAYS days of cpu and memory history before PF_NOW. */
static inline const char *pf_write_history(const char *const *comps, size_t n, pf_load_fn f)
{
	const char *path = t_path("history.csv");
	FILE *out = fopen(path, "w");
	int64_t t;
	size_t i;

	cr_assert_not_null(out);
	fprintf(out, "timestamp,component,resource,value\n");
	for (t = PF_NOW - PF_DAYS * 86400; t < PF_NOW; t += 300)
		for (i = 0; i < n; i++) {
			fprintf(out, "%lld,%s,cpu,%.6f\n", (long long)t, comps[i], f(comps[i], ADP_RES_CPU, t));
			if (f(comps[i], ADP_RES_MEMORY, t) > 0)
				fprintf(out, "%lld,%s,memory,%.0f\n", (long long)t, comps[i],
					f(comps[i], ADP_RES_MEMORY, t));
		}
	cr_assert_eq(fclose(out), 0);
	return path;
}

/* The default inventory with the cpu capacity of p2 and p3 given, and an
 * optional extra component (JSON object text or ""). */
static inline const char *pf_write_inventory(double cap23, const char *extra)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
		 "{\n"
		 "  \"partitions\": [\n"
		 "    {\"name\": \"p1\", \"zone\": \"z1\", \"capacity\": {\"cpu\": 4, \"memory\": \"16GiB\"}},\n"
		 "    {\"name\": \"p2\", \"zone\": \"z1\", \"capacity\": {\"cpu\": %g, \"memory\": \"16GiB\"}},\n"
		 "    {\"name\": \"p3\", \"zone\": \"z2\", \"capacity\": {\"cpu\": %g, \"memory\": \"16GiB\"}}\n"
		 "  ],\n"
		 "  \"components\": [\n"
		 "    {\"name\": \"web\", \"tier\": 0, \"placement\": [\"p1\", \"p2\"], \"min\": {\"cpu\": 0.25, \"memory\": \"512MiB\"}},\n"
		 "    {\"name\": \"db\", \"tier\": 1, \"placement\": [\"p1\"], \"min\": {\"cpu\": 0.5, \"memory\": \"1GiB\"}},\n"
		 "    {\"name\": \"cache\", \"tier\": 2, \"placement\": [\"p3\"]},\n"
		 "    {\"name\": \"batch\", \"placement\": [\"p2\"], \"min\": {\"cpu\": 0.125}}%s%s\n"
		 "  ]\n"
		 "}\n",
		 cap23, cap23, *extra ? ",\n    " : "", extra);
	return t_write("inventory.json", buf);
}

static inline const char *pf_write_schedule(const char *update, int concurrency)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "{\n"
		 "  \"name\": \"synthetic\",\n"
		 "  \"window\": {\"start\": \"2018-05-06T01:00:00Z\", \"end\": \"2018-05-06T05:00:00Z\"},\n"
		 "  \"cutoff\": \"30m\",\n"
		 "  \"partitions\": [\"p1\", \"p2\", \"p3\"],\n"
		 "  \"max_concurrency\": %d,\n"
		 "  \"update_duration\": {\"default\": \"%s\", \"partitions\": {\"p3\": \"30m\"}},\n"
		 "  \"drain_duration\": \"5m\",\n"
		 "  \"verify_duration\": \"5m\",\n"
		 "  \"step\": \"5m\",\n"
		 "  \"start\": \"earliest\"\n"
		 "}\n",
		 concurrency, update);
	return t_write("schedule.json", buf);
}

/* Runs the whole pipeline on the files written above. */
static inline int pf_run(struct plan *p, const char *inv, const char *sched, const char *hist)
{
	const char *extra[1] = { hist };
	struct part_run_opts o = { .inventory = inv, .schedule = sched, .history = extra, .nhistory = 1,
				   .now = PF_NOW, .model = NULL, .tool_version = "test-1" };

	return part_run(p, &o);
}

static const char *const pf_comps[] = { "web", "db", "cache", "batch" };

/* The default estate and history with p2 and p3 of cap23 cores, on the
 * schedule file sched. */
static inline int pf_run_estate(struct plan *p, double cap23, const char *sched)
{
	return pf_run(p, pf_write_inventory(cap23, ""), sched, pf_write_history(pf_comps, 4, pf_default_load));
}

/* The default estate, which fits. */
static inline int pf_default(struct plan *p)
{
	return pf_run_estate(p, 4, pf_write_schedule("40m", 1));
}

#endif
