/* partition/consolidate through part_run: the partitions the advice says
 * could go empty really can (a plan with them offline beside the wave's
 * own fits, its proof holding), none is named where two partitions fewer
 * cannot carry the load, and the work stays within its caps. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "partition/inventory.h"
#include "tests/unit/planfix.h"

TestSuite(consolidate, .init = t_setup, .fini = t_teardown);

/* n partitions of cpu cores each (p1 .. pn); web on p1 and p2, db on p1,
 * cache on p3, batch on p4 (the planfix loads). */
static const char *write_estate(size_t n, double cpu)
{
	static char buf[8192], path[512];
	size_t len = 0, i;

	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "{\"partitions\": [\n");
	for (i = 1; i <= n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"  {\"name\": \"p%zu\", \"zone\": \"z%zu\", \"capacity\": {\"cpu\": %g, \"memory\": \"16GiB\"}}%s\n",
					i, i % 2, cpu, i < n ? "," : "");
	snprintf(buf + len, sizeof(buf) - len,
		 "],\n \"components\": [\n"
		 "  {\"name\": \"web\", \"tier\": 0, \"placement\": [\"p1\", \"p2\"], \"min\": {\"cpu\": 0.25, \"memory\": \"512MiB\"}},\n"
		 "  {\"name\": \"db\", \"tier\": 1, \"placement\": [\"p1\"], \"min\": {\"cpu\": 0.5, \"memory\": \"1GiB\"}},\n"
		 "  {\"name\": \"cache\", \"tier\": 2, \"placement\": [\"p3\"]},\n"
		 "  {\"name\": \"batch\", \"placement\": [\"p4\"], \"min\": {\"cpu\": 0.125}}]}\n");
	/* Kept: t_path's buffers rotate. */
	snprintf(path, sizeof(path), "%s", t_write("inventory.json", buf));
	return path;
}

/* The partitions in list (a JSON array's inside) updated in one wave
 * from the window's start: every one of them offline together. */
static const char *write_one_wave(const char *name, const char *list, size_t n)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "{\"name\": \"consolidate\",\n"
		 " \"window\": {\"start\": \"2018-05-06T01:00:00Z\", \"end\": \"2018-05-06T05:00:00Z\"},\n"
		 " \"cutoff\": \"30m\", \"partitions\": [%s], \"max_concurrency\": %zu,\n"
		 " \"update_duration\": \"40m\", \"drain_duration\": \"5m\", \"verify_duration\": \"5m\",\n"
		 " \"step\": \"5m\", \"start\": \"earliest\"}\n",
		 list, n);
	return t_write(name, buf);
}

static int run(struct plan *p, const char *inv, const char *sched, double work)
{
	const char *extra[1] = { pf_write_history(pf_comps, 4, pf_default_load) };
	struct part_run_opts o = { .inventory = inv, .schedule = sched, .history = extra, .nhistory = 1,
				   .now = PF_NOW, .tool_version = "test-1", .consolidation_work = work };

	return part_run(p, &o);
}

/* Whether p fits with its proof holding and nobody cut. */
static int holds(const struct plan *p, int rc)
{
	struct plan_proof pf;

	if (rc == ADP_EINFEASIBLE)
		return 0;
	cr_assert_eq(rc, 0, "rc %d: %s", rc, adp_error_last());
	plan_proof(p, &pf);
	return pf.holds && !p->nreductions && !p->nshortfalls;
}

/* The advice's figures against the inventory: its partitions' capacity,
 * the replicas and components homed there, every P(overload) within
 * epsilon. */
static void check_figures(const struct plan *p, const char *inv_path)
{
	const struct plan_consolidation *c = &p->consolidation;
	struct inventory inv;
	double cap[ADP_RES_COUNT] = { 0 };
	size_t i, j, k, reps = 0, comps = 0;
	int r;

	cr_assert_eq(inventory_load(&inv, inv_path), 0, "%s", adp_error_last());
	for (i = 0; i < c->npartitions; i++) {
		int idx = inventory_partition_index(&inv, c->partitions[i]);

		cr_assert_geq(idx, 0, "'%s' is not in the inventory", c->partitions[i]);
		for (r = 0; r < ADP_RES_COUNT; r++)
			cap[r] += inv.parts[idx].capacity[r];
	}
	for (i = 0; i < inv.ncomps; i++) {
		size_t here = 0;

		for (j = 0; j < inv.comps[i].replicas; j++)
			for (k = 0; k < c->npartitions; k++)
				here += !strcmp(inv.parts[inv.comps[i].placement[j]].name, c->partitions[k]);
		reps += here;
		comps += here > 0;
	}
	cr_assert_eq(c->replicas, reps);
	cr_assert_eq(c->components, comps);
	for (r = 0; r < ADP_RES_COUNT; r++) {
		cr_assert_float_eq(c->freed[r], cap[r], 1e-9 * fmax(1, cap[r]), "%s freed", adp_resource_name(r));
		cr_assert_leq(c->worst[r], 1 - p->confidence[r] + 1e-9, "%s", adp_resource_name(r));
	}
	cr_assert_lt(c->npartitions, inv.nparts, "one partition stays");
	cr_assert_leq(c->npartitions, c->tried);
	cr_assert_leq(c->tried, c->candidates);
	cr_assert_eq(c->candidates, inv.nparts);
	inventory_release(&inv);
}

/* p1 down for one wave on roomy partitions: some partitions could go
 * empty for the window, and a plan that takes them down with p1 fits,
 * its proof holding (the wave the advice checked, planned again from
 * the files); the plan itself is what it was without the advice. */
Test(consolidate, roomy_partitions_go_empty)
{
	struct plan p = { 0 }, again = { 0 }, bare = { 0 };
	const char *inv = write_estate(4, 8);
	char list[256] = "\"p1\"";
	size_t i, n = 1, len = strlen(list);
	int rc = run(&p, inv, write_one_wave("schedule.json", "\"p1\"", 1), 0);

	cr_assert(holds(&p, rc), "the plan itself fits");
	cr_assert_eq(p.consolidation.state, PLAN_CONSOL_CHECKED);
	cr_assert_gt(p.consolidation.npartitions, 0, "8 cores each for about 4 cores of load: some can go");
	check_figures(&p, inv);
	for (i = 0; i < p.consolidation.npartitions; i++)
		if (strcmp(p.consolidation.partitions[i], "p1")) {
			len += (size_t)snprintf(list + len, sizeof(list) - len, ", \"%s\"", p.consolidation.partitions[i]);
			n++;
		}
	rc = run(&again, inv, write_one_wave("together.json", list, n), 0);
	cr_assert(holds(&again, rc), "with %s down together the plan does not fit", list);
	cr_assert_eq(again.nwaves, 1);
	cr_assert_eq(again.waves[0].start, p.waves[0].start);
	cr_assert_eq(again.waves[0].end, p.waves[0].end);
	/* Advice only: the waves and placements are the plan's as without it. */
	{
		const char *extra[1] = { pf_write_history(pf_comps, 4, pf_default_load) };
		struct part_run_opts o = { .inventory = inv, .schedule = t_path("schedule.json"), .history = extra,
					   .nhistory = 1, .now = PF_NOW, .tool_version = "test-1" };
		json_t *a, *b;
		char *ta, *tb;

		cr_assert_eq(part_run(&bare, &o), 0);
		plan_consolidation_release(&p.consolidation);
		cr_assert_eq(plan_to_json(&a, &p), 0);
		cr_assert_eq(plan_to_json(&b, &bare), 0);
		json_object_del(a, "seal");
		json_object_del(b, "seal");
		json_object_del(b, "consolidation");
		ta = json_dumps(a, JSON_SORT_KEYS);
		tb = json_dumps(b, JSON_SORT_KEYS);
		cr_assert_str_eq(ta, tb, "the advice changed the plan");
		free(ta);
		free(tb);
		json_decref(a);
		json_decref(b);
	}
	plan_release(&bare);
	plan_release(&again);
	plan_release(&p);
}

/* Partitions sized so that three carry the load of the wave and two do
 * not: the plan fits, no partition could go empty, and indeed each taken
 * down with p1 leaves a plan that does not fit or whose proof fails. */
Test(consolidate, tight_partitions_stay)
{
	struct plan p = { 0 };
	const char *inv = write_estate(4, 1.75);
	int rc = run(&p, inv, write_one_wave("schedule.json", "\"p1\"", 1), 0);
	size_t q;

	cr_assert(holds(&p, rc), "the plan itself fits");
	cr_assert_eq(p.consolidation.state, PLAN_CONSOL_CHECKED);
	cr_assert_eq(p.consolidation.npartitions, 0, "'%s' named", p.consolidation.partitions[0]);
	cr_assert_eq(p.consolidation.tried, 4);
	check_figures(&p, inv);
	for (q = 2; q <= 4; q++) {
		struct plan two = { 0 };
		char list[64];

		snprintf(list, sizeof(list), "\"p1\", \"p%zu\"", q);
		rc = run(&two, inv, write_one_wave("two.json", list, 2), 0);
		cr_assert_not(holds(&two, rc), "p1 and p%zu down together fit: the advice missed p%zu", q, q);
		plan_release(&two);
	}
	plan_release(&p);
}

/* The caps: a budget below one check leaves the advice unchecked and
 * says why; a budget of one and a half checks tries one partition; more
 * than PART_CONSOL_TRIED partitions are not all tried. */
Test(consolidate, capped)
{
	struct plan p = { 0 };
	const char *inv = write_estate(4, 8);
	char sched[512];
	double one = 0;
	const char *at;
	int rc;

	snprintf(sched, sizeof(sched), "%s", write_one_wave("schedule.json", "\"p1\"", 1));
	rc = run(&p, inv, sched, 1);

	cr_assert(holds(&p, rc));
	cr_assert_eq(p.consolidation.state, PLAN_CONSOL_UNCHECKED);
	cr_assert_eq(p.consolidation.npartitions, 0);
	cr_assert_not_null(p.consolidation.reason);
	cr_assert_not_null(at = strstr(p.consolidation.reason, "one check would read "), "%s", p.consolidation.reason);
	cr_assert_eq(sscanf(at, "one check would read %lf scenario values", &one), 1);
	cr_assert_gt(one, 1);
	cr_assert_not_null(strstr(p.consolidation.reason, "above the advice's budget of 1"), "%s",
			   p.consolidation.reason);
	plan_release(&p);

	rc = run(&p, inv, sched, 1.5 * one);
	cr_assert(holds(&p, rc));
	cr_assert_eq(p.consolidation.state, PLAN_CONSOL_CHECKED);
	cr_assert_eq(p.consolidation.tried, 1, "%zu tried", p.consolidation.tried);
	cr_assert_eq(p.consolidation.candidates, 4);
	plan_release(&p);

	inv = write_estate(20, 8);
	rc = run(&p, inv, sched, 0);
	cr_assert(holds(&p, rc));
	cr_assert_eq(p.consolidation.state, PLAN_CONSOL_CHECKED);
	cr_assert_eq(p.consolidation.candidates, 20);
	cr_assert_eq(p.consolidation.tried, 16, "%zu tried", p.consolidation.tried);
	cr_assert_gt(p.consolidation.npartitions, 0);
	check_figures(&p, inv);
	plan_release(&p);
}

/* A plan that does not fit gets remedies, not consolidation advice. */
Test(consolidate, absent_when_the_plan_does_not_fit)
{
	struct plan p = { 0 };
	int rc = run(&p, write_estate(4, 0.5), write_one_wave("schedule.json", "\"p1\"", 1), 0);

	cr_assert_not(holds(&p, rc));
	cr_assert_eq(p.consolidation.state, PLAN_CONSOL_ABSENT);
	plan_release(&p);
}
