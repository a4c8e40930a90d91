/* Exact mode inside the planner: on the synthetic estate, every wave gets
 * a verdict, the placement kept costs no more than the heuristic's and
 * still keeps every promise, and the verdict survives writing and reading
 * the plan. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "partition/exact_plan.h"
#include "partition/inventory.h"
#include "tests/unit/planfix.h"

TestSuite(exact_plan, .init = t_setup, .fini = t_teardown);

/* As plan --exact=SECONDS does it (0: without). */
static int run_exact(struct plan *p, double seconds)
{
	const char *extra[1] = { pf_write_history(pf_comps, 4, pf_default_load) };
	struct part_exact_plan ex;
	struct part_run_opts o = { .inventory = pf_write_inventory(4, ""), .schedule = pf_write_schedule("40m", 1),
				   .history = extra, .nhistory = 1, .now = PF_NOW, .tool_version = "test-1" };
	int rc;

	part_exact_plan_init(&ex, seconds);
	if (seconds > 0) {
		o.place_movers = part_exact_place_movers;
		o.place_arg = &ex;
	}
	rc = part_run(p, &o);
	if (!rc || rc == ADP_EINFEASIBLE) {
		int arc = part_exact_plan_annotate(p, &ex);

		rc = arc ? arc : rc;
	}
	part_exact_plan_release(&ex);
	return rc;
}

Test(exact_plan, every_wave_has_a_verdict_and_keeps_its_promises)
{
	struct plan p = { 0 }, q = { 0 };
	struct inventory inv;
	size_t w, i, j;

	cr_assert_eq(run_exact(&p, 5), 0, "%s", adp_error_last());
	cr_assert_eq(inventory_load(&inv, t_path("inventory.json")), 0);
	cr_assert_eq(p.nshortfalls, 0);
	cr_assert_eq(p.nwaves, 3);
	for (w = 0; w < p.nwaves; w++) {
		const struct plan_wave *x = &p.waves[w];

		cr_assert_not_null(x->exact_status, "wave %zu has no verdict", w + 1);
		cr_assert(!strcmp(x->exact_status, "optimal") || !strcmp(x->exact_status, "feasible"), "%s",
			  x->exact_status);
		cr_assert(isfinite(x->exact_objective));
		cr_assert_leq(x->exact_objective, x->exact_heuristic + 1e-9);
		cr_assert_leq(x->exact_bound, x->exact_objective + 1e-9);
		cr_assert_geq(x->exact_gap, 0);
		if (!strcmp(x->exact_status, "optimal"))
			cr_assert_float_eq(x->exact_gap, 0, 1e-9);
		if (x->exact_replaced)
			cr_assert_lt(x->exact_objective, x->exact_heuristic);
		/* One placement per replica, none offline, replicas apart. */
		cr_assert_eq(x->nplacements, 5);
		for (i = 0; i < x->nplacements; i++) {
			for (j = 0; j < x->noffline; j++)
				cr_assert_str_neq(x->placements[i].partition, x->offline[j]);
			for (j = i + 1; j < x->nplacements; j++)
				if (!strcmp(x->placements[i].component, x->placements[j].component)) {
					cr_assert_str_neq(x->placements[i].partition, x->placements[j].partition);
					cr_assert_neq(x->placements[i].replica, x->placements[j].replica);
				}
		}
	}
	/* Written and read back, the verdicts are the same. */
	cr_assert_eq(plan_write(&p, t_path("plan.json")), 0, "%s", adp_error_last());
	cr_assert_eq(plan_read(&q, t_path("plan.json")), 0, "%s", adp_error_last());
	for (w = 0; w < p.nwaves; w++) {
		cr_assert_str_eq(q.waves[w].exact_status, p.waves[w].exact_status);
		cr_assert_float_eq(q.waves[w].exact_objective, p.waves[w].exact_objective,
				   1e-5 * (1 + fabs(p.waves[w].exact_objective)));
		cr_assert_eq(q.waves[w].exact_replaced, p.waves[w].exact_replaced);
	}
	plan_release(&p);
	plan_release(&q);
	inventory_release(&inv);
}

Test(exact_plan, without_exact_no_verdict)
{
	struct plan p = { 0 };
	size_t w;

	cr_assert_eq(run_exact(&p, 0), 0, "%s", adp_error_last());
	for (w = 0; w < p.nwaves; w++)
		cr_assert_null(p.waves[w].exact_status);
	plan_release(&p);
}

Test(exact_plan, a_bad_exact_object_is_refused)
{
	struct plan p = { 0 }, q = { 0 };
	char *text;
	FILE *f;
	long n;

	cr_assert_eq(run_exact(&p, 5), 0);
	cr_assert_eq(plan_write(&p, t_path("plan.json")), 0);
	f = fopen(t_path("plan.json"), "r");
	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc((size_t)n + 64, 1);
	cr_assert_eq(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	{
		char *s = strstr(text, "\"status\": \"");
		cr_assert_not_null(s);
		memcpy(s + 11, "maybe", 5);  /* "optimal" -> "maybeal" */
	}
	t_write("bad.json", text);
	cr_assert_neq(plan_read(&q, t_path("bad.json")), 0);
	cr_assert(strstr(adp_error_last(), "exact: unknown status"), "%s", adp_error_last());
	free(text);
	plan_release(&p);
	plan_release(&q);
}
