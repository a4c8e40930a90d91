/* partition/planner through part_run: a fitting plan keeps every
 * promise, shrunk capacity, a short window and impossible anti-affinity
 * are reported where they happen, and fitting uses the sum of
 * time-aligned demand, not the sum of peaks. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "partition/inventory.h"
#include "tests/unit/planfix.h"
#include "tests/unit/wavefix.h"

TestSuite(planner, .init = t_setup, .fini = t_teardown);

static int offline_in(const struct plan_wave *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->noffline; i++)
		if (!strcmp(w->offline[i], name))
			return 1;
	return 0;
}

static const struct plan_partition *plan_part(const struct plan *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->npartitions; i++)
		if (!strcmp(p->partitions[i].name, name))
			return &p->partitions[i];
	cr_assert_fail("partition '%s' is not in the plan", name);
	return NULL;
}

static int has_risk(const struct plan *p, const char *needle)
{
	size_t i;

	for (i = 0; i < p->nrisks; i++)
		if (strstr(p->risks[i], needle))
			return 1;
	return 0;
}

/* Every promise a feasible plan makes, checked against the inventory. */
static void check_fits(const struct plan *p, const char *inv_path)
{
	struct inventory inv;
	size_t w, i, j, c;
	int r;

	cr_assert_eq(inventory_load(&inv, inv_path), 0);
	cr_assert_eq(p->nshortfalls, 0);
	cr_assert_gt(p->nwaves, 0);
	cr_assert_eq(p->npartitions, inv.nparts);
	for (w = 0; w < p->nwaves; w++) {
		const struct plan_wave *wave = &p->waves[w];
		size_t total = 0;

		cr_assert_geq(wave->start, p->window_start);
		cr_assert_lt(wave->start, wave->end);
		cr_assert_leq(wave->end, p->cutoff_at, "wave %zu ends after the cutoff", w + 1);
		if (w)
			cr_assert_geq(wave->start, p->waves[w - 1].end);
		for (c = 0; c < inv.ncomps; c++)
			total += inv.comps[c].replicas;
		/* Each replica exactly once per wave. */
		cr_assert_eq(wave->nplacements, total);
		for (i = 0; i < wave->nplacements; i++) {
			const struct plan_placement *x = &wave->placements[i];
			int ci = inventory_component_index(&inv, x->component);

			cr_assert_geq(ci, 0);
			cr_assert_lt(x->replica, inv.comps[ci].replicas);
			cr_assert_not(offline_in(wave, x->partition), "wave %zu places %s on offline %s", w + 1,
				      x->component, x->partition);
			if (x->from) {
				/* Moved because its home is offline, and away from it. */
				cr_assert_str_eq(x->from, inv.parts[inv.comps[ci].placement[x->replica]].name);
				cr_assert(offline_in(wave, x->from));
				cr_assert_str_neq(x->partition, x->from);
			} else {
				cr_assert_str_eq(x->partition, inv.parts[inv.comps[ci].placement[x->replica]].name);
			}
			for (j = 0; j < wave->nplacements; j++)
				if (j != i && !strcmp(wave->placements[j].component, x->component)) {
					cr_assert_str_neq(wave->placements[j].partition, x->partition,
							  "wave %zu: two replicas of %s on %s", w + 1, x->component,
							  x->partition);
					cr_assert_neq(wave->placements[j].replica, x->replica);
				}
			for (r = 0; r < ADP_RES_COUNT; r++) {
				double units = x->alloc[r] / part_granularity[r];

				cr_assert_geq(x->alloc[r], inv.comps[ci].min[r], "%s %s below its guarantee",
					      x->component, adp_resource_name(r));
				cr_assert_float_eq(units, round(units), 1e-6, "%s %s allocation %g is not granular",
						   x->component, adp_resource_name(r), x->alloc[r]);
				/* Reserved at the confidence level, so never below the median peak. */
				cr_assert_geq(x->alloc[r] + 1e-9, x->p50_peak[r]);
			}
		}
		/* Utilisation of every online partition, and only those. */
		cr_assert_gt(wave->nusage, 0);
		for (i = 0; i < wave->nusage; i++) {
			const struct plan_usage *u = &wave->usage[i];
			size_t h;

			cr_assert_not(offline_in(wave, u->partition));
			cr_assert_float_eq(u->capacity, plan_part(p, u->partition)->capacity[u->resource], 1e-9);
			cr_assert_gt(u->nsteps, 0);
			for (h = 0; h < u->nsteps; h++) {
				cr_assert_leq(u->p50[h], u->p95[h] + 1e-9);
				if (u->capacity > 0)
					cr_assert_leq(u->p95[h], u->capacity, "wave %zu %s %s step %zu: p95 %g > %g",
						      w + 1, u->partition, adp_resource_name(u->resource), h,
						      u->p95[h], u->capacity);
			}
			if (u->capacity > 0)
				cr_assert_geq(u->headroom, 0);
		}
	}
	cr_assert_eq(p->margin, p->cutoff_at - p->waves[p->nwaves - 1].end);
	inventory_release(&inv);
}

Test(planner, synthetic_fits)
{
	struct plan p = { 0 };
	size_t i;
	int rc = pf_default(&p);

	cr_assert_eq(rc, 0, "rc %d: %s", rc, adp_error_last());
	check_fits(&p, t_path("inventory.json"));
	/* One partition at a time: three waves, each 5m + update + 5m. */
	cr_assert_eq(p.nwaves, 3);
	cr_assert_eq(p.waves[0].start, p.window_start);
	cr_assert_eq(p.waves[0].end - p.waves[0].start, 50 * 60);
	cr_assert_eq(p.waves[2].end - p.waves[2].start, 40 * 60);
	cr_assert_str_eq(p.waves[0].offline[0], "p1");
	cr_assert_eq(p.window_start, PF_NOW + 3600);
	cr_assert_eq(p.cutoff_at, PF_NOW + 5 * 3600 - 1800);
	cr_assert_eq(p.created_at, PF_NOW);
	cr_assert_leq(p.expires_at, p.cutoff_at);
	/* Eight days of history before the window: up to eight joint scenarios. */
	cr_assert_geq(p.scenarios, 7);
	/* The default model, auto, picks one of the backtested models per series. */
	cr_assert(!strcmp(p.model, "seasonal-naive") || !strncmp(p.model, "holt-winters", 12) || !strcmp(p.model, "stl-ar"),
		  "model %s", p.model);
	/* Both series of every component are summarised. */
	cr_assert_eq(p.nforecast, 8);
	/* The inputs: inventory, schedule and the history file, and a digest over them. */
	cr_assert_eq(p.ninputs, 3);
	cr_assert_str_eq(p.inputs[0].kind, "inventory");
	cr_assert_str_eq(p.inputs[2].kind, "history");
	{
		char d[65];
		plan_digest(&p, d);
		cr_assert_str_eq(d, p.digest);
	}
	/* Wave 1 moves web replica 0 and db off p1. */
	for (i = 0; i < p.waves[0].nplacements; i++) {
		const struct plan_placement *x = &p.waves[0].placements[i];
		if (!strcmp(x->component, "db"))
			cr_assert_str_eq(x->from, "p1");
		if (!strcmp(x->component, "web") && x->replica == 0)
			cr_assert_str_eq(x->partition, "p3", "p2 already runs web replica 1");
	}
	plan_release(&p);
}

Test(planner, concurrency_two_leaves_web_nowhere)
{
	struct plan p = { 0 };
	size_t i, web = 0;
	int rc = pf_run_estate(&p, 4, pf_write_schedule("40m", 2));

	/* Two of three partitions offline leave one online, and web has a
	 * replica on p1 and p2: wave 1 cannot keep them apart. */
	cr_assert_eq(rc, ADP_EINFEASIBLE, "rc %d: %s", rc, adp_error_last());
	cr_assert_eq(p.nwaves, 2);
	cr_assert_eq(p.waves[0].noffline, 2);
	cr_assert_eq(p.waves[1].noffline, 1);
	for (i = 0; i < p.nshortfalls; i++)
		if (p.shortfalls[i].component && !strcmp(p.shortfalls[i].component, "web")) {
			web++;
			cr_assert_eq(p.shortfalls[i].wave, 1);
			cr_assert_eq(p.shortfalls[i].resource, -1);
		}
	cr_assert_eq(web, 1);
	plan_release(&p);
}

/* The default schedule with extra fields (JSON members text). */
static const char *sched_with(const char *update, int conc, const char *extra)
{
	static char text[4096];
	char *at;
	FILE *f;
	size_t n;

	cr_assert_not_null(f = fopen(pf_write_schedule(update, conc), "r"));
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	cr_assert_not_null(at = strrchr(text, '}'));
	snprintf(at, sizeof(text) - (size_t)(at - text), ",\n  %s\n}\n", extra);
	return t_write("schedule-extra.json", text);
}

Test(planner, shrunk_capacity_infeasible)
{
	struct plan p = { 0 };
	size_t i, named = 0;
	int rc = pf_run_estate(&p, 1.5, sched_with("40m", 1, "\"shortage\": \"refuse\""));

	cr_assert_eq(rc, ADP_EINFEASIBLE, "rc %d: %s", rc, adp_error_last());
	t_assert_msg("no plan fits");
	cr_assert_gt(p.nshortfalls, 0);
	for (i = 0; i < p.nshortfalls; i++) {
		const struct plan_shortfall *s = &p.shortfalls[i];

		cr_assert_geq(s->wave, 1);
		cr_assert_leq(s->wave, p.nwaves);
		cr_assert_not_null(s->partition);
		cr_assert_not(offline_in(&p.waves[s->wave - 1], s->partition));
		/* Only p2 and p3 were shrunk, and only in cpu. */
		cr_assert(!strcmp(s->partition, "p2") || !strcmp(s->partition, "p3"), "%s", s->partition);
		cr_assert_eq(s->resource, ADP_RES_CPU);
		cr_assert_float_eq(s->capacity, 1.5, 1e-9);
		cr_assert_gt(s->missing, 0);
		cr_assert_float_eq(s->missing, s->demand - s->capacity, 1e-9);
		cr_assert_not_null(s->advice);
		cr_assert_not_null(strstr(s->advice, s->partition));
		/* Every remedy was planned again and the advice says how it went. */
		cr_assert_not_null(strstr(s->advice, "; checked: "), "%s", s->advice);
		cr_assert_not_null(strstr(s->advice, "confidence"), "%s", s->advice);
		named += s->wave == 1;
	}
	/* Wave 1 takes p1 away: its web and db replicas cannot fit in 1.5 cores. */
	cr_assert_gt(named, 0);
	cr_assert_eq(p.nreductions, 0);
	plan_release(&p);
}

/* The same shortage, shared: the plan fits, nobody gets less than the
 * guarantee, the allocations on a short partition sum to its capacity at
 * most, and tier 0 (web) is cut only where tier 1 and 2 are already
 * down to their guarantees. */
Test(planner, shrunk_capacity_shared_above_guarantees)
{
	struct plan p = { 0 };
	struct inventory inv;
	size_t i, j, w;
	int rc = pf_run_estate(&p, 1.5, pf_write_schedule("40m", 1));

	cr_assert_eq(rc, 0, "rc %d: %s", rc, adp_error_last());
	cr_assert_gt(p.nreductions, 0);
	cr_assert_eq(inventory_load(&inv, t_path("inventory.json")), 0);
	for (i = 0; i < p.nreductions; i++) {
		const struct plan_reduction *x = &p.reductions[i];
		const struct plan_wave *wv = &p.waves[x->wave - 1];
		int c = inventory_component_index(&inv, x->component);
		double sum = 0;

		cr_assert_geq(c, 0);
		cr_assert_lt(x->granted, x->wanted);
		cr_assert_geq(x->granted, inv.comps[c].min[x->resource] - 1e-9, "%s below its guarantee", x->component);
		for (j = 0; j < wv->nplacements; j++) {
			const struct plan_placement *pl = &wv->placements[j];

			if (strcmp(pl->partition, x->partition))
				continue;
			sum += pl->alloc[x->resource];
			/* A more critical replica is cut only if every less
			 * critical one there is at its guarantee. */
			if (pl->tier > inv.comps[c].tier) {
				int o = inventory_component_index(&inv, pl->component);
				cr_assert_float_eq(pl->alloc[x->resource], inv.comps[o].min[x->resource], 1e-9,
						   "%s (tier %d) kept more than its guarantee while %s (tier %d) was cut",
						   pl->component, pl->tier, x->component, inv.comps[c].tier);
			}
		}
		cr_assert_leq(sum, 1.5 + 1e-9, "wave %zu '%s' allocations %g over 1.5", x->wave, x->partition, sum);
	}
	for (w = 0; w < p.nwaves; w++)
		for (j = 0; j < p.waves[w].nplacements; j++)
			cr_assert_gt(p.waves[w].placements[j].alloc[ADP_RES_CPU], 0, "nobody is starved");
	cr_assert(has_risk(&p, "shortage:"));
	inventory_release(&inv);
	plan_release(&p);
}

Test(planner, timing_infeasible_reports_wave_zero)
{
	struct plan p = { 0 };
	size_t i, timing = 0;
	int rc = pf_run_estate(&p, 4, pf_write_schedule("2h", 1));

	cr_assert_eq(rc, ADP_EINFEASIBLE, "rc %d: %s", rc, adp_error_last());
	for (i = 0; i < p.nshortfalls; i++) {
		const struct plan_shortfall *s = &p.shortfalls[i];
		if (s->wave != 0)
			continue;
		timing++;
		cr_assert_eq(s->resource, -1);
		cr_assert_null(s->partition);
		cr_assert_gt(s->missing, 0);
		/* 2h10m + 2h10m + 40m needed, 3h30m available. */
		cr_assert_float_eq(s->demand, 5 * 3600, 1e-9);
		cr_assert_float_eq(s->capacity, 3.5 * 3600, 1e-9);
		cr_assert_not_null(strstr(s->advice, "max_concurrency"));
	}
	cr_assert_eq(timing, 1);
	cr_assert_lt(p.margin, 0);
	/* The waves keep their real times: back to back, never overlapping,
	 * each as long as it takes, the last past the cutoff by the margin. */
	for (i = 0; i < p.nwaves; i++) {
		if (i)
			cr_assert_geq(p.waves[i].start, p.waves[i - 1].end);
		cr_assert_eq(p.waves[i].end - p.waves[i].start, i < 2 ? 130 * 60 : 40 * 60);
	}
	cr_assert_eq(p.waves[p.nwaves - 1].end, p.cutoff_at - p.margin);
	/* The advice was checked: two partitions at a time need 2h10m + 40m. */
	for (i = 0; i < p.nshortfalls; i++)
		if (p.shortfalls[i].wave == 0)
			cr_assert_not_null(strstr(p.shortfalls[i].advice, "checked: max_concurrency 2 fits"), "%s",
					   p.shortfalls[i].advice);
	plan_release(&p);
}

Test(planner, anti_affinity_impossible)
{
	static const char *const comps[] = { "web", "db", "cache", "batch", "quorum" };
	struct plan p = { 0 };
	size_t i, found = 0;
	int rc = pf_run(&p,
			pf_write_inventory(4, "{\"name\": \"quorum\", \"placement\": [\"p1\", \"p2\", \"p3\"]}"),
			pf_write_schedule("40m", 1), pf_write_history(comps, 5, pf_default_load));

	cr_assert_eq(rc, ADP_EINFEASIBLE, "rc %d: %s", rc, adp_error_last());
	for (i = 0; i < p.nshortfalls; i++) {
		const struct plan_shortfall *s = &p.shortfalls[i];
		if (!s->component || strcmp(s->component, "quorum"))
			continue;
		found++;
		cr_assert_geq(s->wave, 1);
		/* Names the replica's home, which this wave takes offline. */
		cr_assert(offline_in(&p.waves[s->wave - 1], s->partition));
		cr_assert_gt(s->missing, 0);
		cr_assert_not_null(strstr(s->advice, "already runs a replica of 'quorum'"));
	}
	/* Every wave takes one of its three homes offline. */
	cr_assert_eq(found, 3);
	plan_release(&p);
}

/* ---- sums of time-aligned demand, not sums of peaks ---- */

static int peak_hour_y = 3;

/* x peaks 01:00-02:00 each day, y at peak_hour_y; 0.2 cores otherwise. */
static double two_peaks(const char *c, int r, int64_t t)
{
	int hr = (int)pf_hour(t);

	if (r != ADP_RES_CPU)
		return 0;
	if (!strcmp(c, "x"))
		return hr == 1 ? 1.0 : 0.2;
	return hr == peak_hour_y ? 1.0 : 0.2;
}

/* x and y at home on p1, p1 updated in one wave from 00:30 to 03:40
 * (covering both peaks), p2 with 1.5 cores: the schedule's extra fields
 * and x's and y's extra inventory fields are given as JSON text. */
static double p2_cpu = 1.5;

static int run_peaks(struct plan *p, const char *sched_extra, const char *x_extra, const char *y_extra)
{
	static const char *const comps[] = { "x", "y" };
	char inv[1024], sched[1024];

	snprintf(inv, sizeof(inv),
		 "{\"partitions\": [\n"
		 "  {\"name\": \"p1\", \"capacity\": {\"cpu\": 4, \"memory\": \"4GiB\"}},\n"
		 "  {\"name\": \"p2\", \"capacity\": {\"cpu\": %g, \"memory\": \"4GiB\"}}],\n"
		 " \"components\": [\n"
		 "  {\"name\": \"x\", \"placement\": [\"p1\"]%s},\n"
		 "  {\"name\": \"y\", \"placement\": [\"p1\"]%s}]}\n",
		 p2_cpu, x_extra, y_extra);
	snprintf(sched, sizeof(sched),
		 "{\"name\": \"peaks\",\n"
		 " \"window\": {\"start\": \"2018-05-06T00:30:00Z\", \"end\": \"2018-05-06T05:00:00Z\"},\n"
		 " \"cutoff\": \"30m\", \"partitions\": [\"p1\"], \"update_duration\": \"3h\"%s%s}\n",
		 *sched_extra ? ", " : "", sched_extra);
	return pf_run(p, t_write("inventory.json", inv), t_write("schedule.json", sched),
		      pf_write_history(comps, 2, two_peaks));
}

static int run_two_peaks(struct plan *p)
{
	return run_peaks(p, "", "", "");
}

static double reduced_to(const struct plan *p, const char *comp)
{
	size_t i;

	for (i = 0; i < p->nreductions; i++)
		if (!strcmp(p->reductions[i].component, comp) && p->reductions[i].resource == ADP_RES_CPU)
			return p->reductions[i].granted;
	return -1;
}

/* Both peaks at 01:00 on 1.5 cores: 1 core each is wanted. Equal tiers
 * share max-min fairly, 0.75 each; with y at tier 1, x keeps its 1 core
 * and y gets the other 0.5; with y's guarantee of 0.625 cores, y keeps
 * that much and x gets 0.875. */
Test(planner, shortage_by_tier_and_guarantee)
{
	struct plan p = { 0 };
	int rc;

	peak_hour_y = 1;
	rc = run_peaks(&p, "", "", "");
	cr_assert_eq(rc, 0, "rc %d: %s", rc, adp_error_last());
	cr_assert_eq(p.nreductions, 2);
	cr_assert_float_eq(p.reductions[0].wanted, 1.0, 1e-9);
	cr_assert_float_eq(reduced_to(&p, "x"), 0.75, 1e-9);
	cr_assert_float_eq(reduced_to(&p, "y"), 0.75, 1e-9);
	plan_release(&p);

	rc = run_peaks(&p, "", ", \"tier\": 0", ", \"tier\": 1");
	cr_assert_eq(rc, 0, "rc %d: %s", rc, adp_error_last());
	cr_assert_eq(p.nreductions, 1);
	cr_assert_float_eq(reduced_to(&p, "x"), -1, 1e-9, "tier 0 keeps its forecast");
	cr_assert_float_eq(reduced_to(&p, "y"), 0.5, 1e-9);
	plan_release(&p);

	rc = run_peaks(&p, "", ", \"tier\": 0", ", \"tier\": 1, \"min\": {\"cpu\": 0.625}");
	cr_assert_eq(rc, 0, "rc %d: %s", rc, adp_error_last());
	cr_assert_float_eq(reduced_to(&p, "y"), 0.625, 1e-9, "never below the guarantee");
	cr_assert_float_eq(reduced_to(&p, "x"), 0.875, 1e-9);
	plan_release(&p);

	/* Guarantees of 1 core each cannot both fit in 1.5: infeasible, 0.5
	 * missing on p2, and the extra capacity was checked. */
	rc = run_peaks(&p, "", ", \"min\": {\"cpu\": 1}", ", \"min\": {\"cpu\": 1}");
	cr_assert_eq(rc, ADP_EINFEASIBLE, "rc %d: %s", rc, adp_error_last());
	cr_assert_eq(p.nshortfalls, 1);
	cr_assert_str_eq(p.shortfalls[0].partition, "p2");
	cr_assert_float_eq(p.shortfalls[0].missing, 0.5, 1e-9);
	cr_assert_not_null(strstr(p.shortfalls[0].advice, "checked: 0.5 cores more on 'p2' fits"), "%s",
			   p.shortfalls[0].advice);
	cr_assert_not_null(strstr(p.shortfalls[0].advice, "no confidence down to 0.5 fits"), "%s",
			   p.shortfalls[0].advice);
	plan_release(&p);
	peak_hour_y = 3;
}

/* The remedies hold: each is planned again in full, and doing what it
 * says gives a plan that fits (and what it says does not fit, does not). */
Test(planner, remedies_hold)
{
	struct plan p = { 0 }, again = { 0 };
	struct plan_proof pf;
	int rc;

	peak_hour_y = 1;
	/* Guarantees of 1 core each on p2's 1.5: 0.5 more fits; no confidence does. */
	rc = run_peaks(&p, "", ", \"min\": {\"cpu\": 1}", ", \"min\": {\"cpu\": 1}");
	cr_assert_eq(rc, ADP_EINFEASIBLE, "rc %d: %s", rc, adp_error_last());
	cr_assert_eq(p.nremedies, 2);
	cr_assert_str_eq(p.remedies[0], "more capacity: 0.5 cores on 'p2': the plan fits (planned again in full)");
	cr_assert_str_eq(p.remedies[1], "no cpu confidence down to 0.5 fits (each planned again in full)");
	p2_cpu = 2;
	rc = run_peaks(&again, "", ", \"min\": {\"cpu\": 1}", ", \"min\": {\"cpu\": 1}");
	cr_assert_eq(rc, 0, "the capacity remedy: rc %d: %s", rc, adp_error_last());
	plan_proof(&again, &pf);
	cr_assert(pf.holds);
	cr_assert_eq(again.nremedies, 0, "a plan that fits has no remedies");
	plan_release(&again);
	p2_cpu = 1.5;
	rc = run_peaks(&again, "\"confidence\": {\"cpu\": 0.5}", ", \"min\": {\"cpu\": 1}", ", \"min\": {\"cpu\": 1}");
	cr_assert_eq(rc, ADP_EINFEASIBLE, "at 0.5, as the remedy says, no plan fits");
	plan_release(&again);
	plan_release(&p);

	/* A shared shortage (1 core wanted by each): the proof fails, and
	 * the capacity found makes it hold. */
	rc = run_peaks(&p, "", "", "");
	cr_assert_eq(rc, 0, "rc %d: %s", rc, adp_error_last());
	plan_proof(&p, &pf);
	cr_assert(!pf.holds);
	cr_assert_geq(p.nremedies, 1);
	{
		double more = -1;

		cr_assert_eq(sscanf(p.remedies[0], "more capacity: %lf cores on 'p2': the plan fits", &more), 1, "%s",
			     p.remedies[0]);
		cr_assert(more > 0);
		p2_cpu = 1.5 + more;
	}
	rc = run_peaks(&again, "", "", "");
	cr_assert_eq(rc, 0, "rc %d: %s", rc, adp_error_last());
	plan_proof(&again, &pf);
	cr_assert(pf.holds, "with the capacity the remedy names, the proof holds");
	plan_release(&again);
	plan_release(&p);
	p2_cpu = 1.5;
	peak_hour_y = 3;
}

Test(planner, sum_not_peaks)
{
	struct plan p = { 0 };
	double sum_peaks = 0, peak_sum = 0;
	size_t i, h;
	int rc = run_two_peaks(&p);

	cr_assert_eq(rc, 0, "rc %d: %s", rc, adp_error_last());
	check_fits(&p, t_path("inventory.json"));
	cr_assert_eq(p.nwaves, 1);
	cr_assert_leq(p.waves[0].start, PF_NOW + 3600);
	cr_assert_geq(p.waves[0].end, PF_NOW + 4 * 3600 - 1800);
	for (i = 0; i < p.waves[0].nplacements; i++) {
		cr_assert_str_eq(p.waves[0].placements[i].partition, "p2");
		sum_peaks += p.waves[0].placements[i].p95_peak[ADP_RES_CPU];
	}
	for (i = 0; i < p.waves[0].nusage; i++) {
		const struct plan_usage *u = &p.waves[0].usage[i];
		if (u->resource != ADP_RES_CPU)
			continue;
		for (h = 0; h < u->nsteps; h++)
			peak_sum = fmax(peak_sum, u->p95[h]);
	}
	/* Capacity 1.5 lies strictly between the peak of the sum (1.2) and
	 * the sum of the peaks (2.0). */
	cr_assert_gt(sum_peaks, 1.5, "sum of peaks %g", sum_peaks);
	cr_assert_lt(peak_sum, 1.5, "peak of sum %g", peak_sum);
	cr_assert_float_eq(sum_peaks, 2.0, 1e-6);
	cr_assert_float_eq(peak_sum, 1.2, 1e-6);
	plan_release(&p);
}

Test(planner, coinciding_peaks_do_not_fit)
{
	struct plan p = { 0 };
	int rc;

	/* The control: with both peaks at 01:00 the same capacity is short. */
	peak_hour_y = 1;
	rc = run_peaks(&p, "\"shortage\": \"refuse\"", "", "");
	cr_assert_eq(rc, ADP_EINFEASIBLE, "rc %d: %s", rc, adp_error_last());
	cr_assert_gt(p.nshortfalls, 0);
	cr_assert_str_eq(p.shortfalls[0].partition, "p2");
	cr_assert_eq(p.shortfalls[0].resource, ADP_RES_CPU);
	cr_assert_float_eq(p.shortfalls[0].missing, 0.5, 1e-6);
	plan_release(&p);
	peak_hour_y = 3;
}

Test(planner, run_input_errors)
{
	struct plan p = { 0 };
	const char *inv = pf_write_inventory(4, ""), *hist = pf_write_history(pf_comps, 4, pf_default_load);
	const char *extra[1] = { hist };
	struct part_run_opts o = { .inventory = inv, .schedule = pf_write_schedule("40m", 1), .history = extra,
				   .nhistory = 1, .now = PF_NOW, .tool_version = "t" };

	o.now = PF_NOW + 2 * 3600;
	cr_assert_eq(part_run(&p, &o), ADP_EINPUT);
	t_assert_msg("the window has already started");
	o.now = PF_NOW + 5 * 3600;
	cr_assert_eq(part_run(&p, &o), ADP_EINPUT);
	t_assert_msg("the window's cutoff has passed");
	o.now = PF_NOW;
	o.model = "crystal-ball";
	cr_assert_neq(part_run(&p, &o), 0);
	t_assert_msg("crystal-ball");
	/* One day of history is not enough for the seasonal model. */
	o.model = NULL;
	o.now = PF_NOW - 7 * 86400;
	cr_assert_eq(part_run(&p, &o), ADP_EINPUT);
	cr_assert_eq(p.nwaves, 0);
}

Test(planner, waves_step_around_blackouts)
{
	struct plan p = { 0 };
	char text[2048], *at;
	FILE *f;
	size_t n, w;
	int rc;

	/* The default schedule plus one blackout from 01:55 to 02:15. */
	cr_assert_not_null(f = fopen(pf_write_schedule("40m", 1), "r"));
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	cr_assert_not_null(at = strstr(text, "\"step\": \"5m\""));
	snprintf(at, sizeof(text) - (size_t)(at - text), "%s",
		 "\"step\": \"5m\", \"start\": \"earliest\",\n  \"blackouts\": [{\"start\": \"2018-05-06T01:55:00Z\", \"end\": \"2018-05-06T02:15:00Z\"}]\n}\n");
	rc = pf_run_estate(&p, 4, t_write("blackout.json", text));
	cr_assert_eq(rc, 0, "%s", adp_error_last());
	cr_assert_eq(p.nwaves, 3);
	cr_assert_eq(p.waves[0].start, PF_NOW + 3600);
	cr_assert_eq(p.waves[0].end, PF_NOW + 3600 + 50 * 60, "wave 1 ends before the blackout");
	cr_assert_eq(p.waves[1].start, PF_NOW + 2 * 3600 + 15 * 60, "wave 2 waits for the blackout's end");
	for (w = 0; w < p.nwaves; w++)
		cr_assert(p.waves[w].end <= PF_NOW + 6900 || p.waves[w].start >= PF_NOW + 8100,
			  "wave %zu overlaps the blackout", w + 1);
	plan_release(&p);
}

/* The finite-sample widening: 1 without a history; for 31 days of 5-min
 * history the 28 backtest periods (half-life 7) weigh as n_eff = 17.9
 * independent draws, and t(0.95, 16.9) * sqrt(1 + 1/17.9) / z(0.95) =
 * 1.741 * 1.0276 / 1.645 = 1.088; shorter histories widen more, and a
 * 99 % level more than a 95 % one. */
Test(planner, widening_for_short_history)
{
	double w31 = part_widening(31 * 288, 300, 86400, 0.05);
	double w8 = part_widening(8 * 288, 300, 86400, 0.05);

	cr_assert_float_eq(part_widening(0, 300, 86400, 0.05), 1.0, 1e-12);
	cr_assert_float_eq(w31, 1.088, 0.005, "w31 %g", w31);
	cr_assert_gt(w8, w31);
	cr_assert_gt(part_widening(8 * 288, 300, 86400, 0.01), w8);
	cr_assert_float_eq(part_widening(60 * 288, 300, 86400, 0.05), w31, 1e-12, "capped at 28 periods");
	/* Five days at 99 %: n_eff 2, far beyond the cap of 2. */
	cr_assert_float_eq(part_widening(5 * 288, 300, 86400, 0.01), 2.0, 1e-12);
}

/* ---- waves: zone limits and the start ---- */

/* Two at a time but one per zone: p1 and p2 share zone z1, so wave 1 is
 * p1 with p3 (z2) and p2 waits for wave 2. (Wave 1 leaves web's p1
 * replica nowhere to go, which the plan reports; the waves are the
 * point here.) */
Test(planner, zone_limit_on_waves)
{
	struct plan p = { 0 };
	int rc = pf_run_estate(&p, 4, sched_with("40m", 2, "\"max_per_zone\": 1"));

	cr_assert(rc == 0 || rc == ADP_EINFEASIBLE, "rc %d: %s", rc, adp_error_last());
	cr_assert_eq(p.nwaves, 2);
	cr_assert_eq(p.waves[0].noffline, 2);
	cr_assert(offline_in(&p.waves[0], "p1") && offline_in(&p.waves[0], "p3"));
	cr_assert_eq(p.waves[1].noffline, 1);
	cr_assert(offline_in(&p.waves[1], "p2"));
	plan_release(&p);
}

/* x (on p1, moved to p2 while p1 is updated for an hour) peaks 01:00-02:00;
 * the window runs 01:00-04:00. Every start before 02:00 puts a peak step
 * inside the wave; 02:00 is the earliest that does not, and wins. */
Test(planner, start_with_lowest_load)
{
	static const char *const comps[] = { "x" };
	struct plan p = { 0 };
	const char *inv = t_write("inventory.json",
				  "{\"partitions\": [\n"
				  "  {\"name\": \"p1\", \"capacity\": {\"cpu\": 4, \"memory\": \"4GiB\"}},\n"
				  "  {\"name\": \"p2\", \"capacity\": {\"cpu\": 2, \"memory\": \"4GiB\"}}],\n"
				  " \"components\": [{\"name\": \"x\", \"placement\": [\"p1\"]}]}\n");
	const char *sched = t_write("schedule.json",
				    "{\"name\": \"start\",\n"
				    " \"window\": {\"start\": \"2018-05-06T01:00:00Z\", \"end\": \"2018-05-06T04:00:00Z\"},\n"
				    " \"partitions\": [\"p1\"], \"update_duration\": \"50m\"}\n");
	int rc;

	peak_hour_y = 3;
	rc = pf_run(&p, inv, sched, pf_write_history(comps, 1, two_peaks));
	cr_assert_eq(rc, 0, "rc %d: %s", rc, adp_error_last());
	cr_assert_eq(p.nwaves, 1);
	cr_assert_eq(p.waves[0].start, PF_NOW + 2 * 3600, "start %lld", (long long)(p.waves[0].start - PF_NOW));
	/* 01:00 to 02:00 every five minutes: 25 candidates (the last ends at 04:00). */
	cr_assert_eq(p.start_candidates, 25);
	cr_assert_eq(p.start_chosen_from, PF_NOW + 3600);
	plan_release(&p);
}

/* ---- moves that are not needed ---- */

/* web has replicas on p1 and p2. With moves free (the default) wave 1
 * moves web's p1 replica; when a move costs more than the risk p2 takes
 * on by carrying all of web, web's p1 replica stops with p1 instead, and
 * p2's replica is allocated the whole of web. */
Test(planner, absorbed_when_moves_cost)
{
	struct plan p = { 0 };
	size_t i, web_moves = 0, web_on_p2 = 0;
	double alloc_p2 = 0;
	int rc = pf_run_estate(&p, 4, sched_with("40m", 1, "\"weights\": {\"moves\": 1}"));

	cr_assert_eq(rc, 0, "rc %d: %s", rc, adp_error_last());
	cr_assert_eq(p.waves[0].nabsorbed, 1);
	cr_assert_str_eq(p.waves[0].absorbed[0].component, "web");
	cr_assert_str_eq(p.waves[0].absorbed[0].partition, "p1");
	for (i = 0; i < p.waves[0].nplacements; i++) {
		const struct plan_placement *x = &p.waves[0].placements[i];
		if (strcmp(x->component, "web"))
			continue;
		web_moves += x->from != NULL;
		if (!strcmp(x->partition, "p2")) {
			web_on_p2++;
			alloc_p2 = x->alloc[ADP_RES_CPU];
		}
	}
	cr_assert_eq(web_moves, 0);
	cr_assert_eq(web_on_p2, 1);
	/* web peaks near 1.8 cores in all: one replica now carries it. */
	cr_assert_gt(alloc_p2, 1.5, "alloc %g", alloc_p2);
	/* db, alone, still moves. */
	for (i = 0; i < p.nsteps; i++)
		cr_assert(strcmp(p.steps[i].action, "start_shadow") || !p.steps[i].component ||
			  strcmp(p.steps[i].component, "web") || p.steps[i].wave != 1);
	plan_release(&p);

	rc = pf_default(&p);
	cr_assert_eq(rc, 0);
	cr_assert_eq(p.waves[0].nabsorbed, 0);
	plan_release(&p);
}

/* ---- the rollback's own capacity check ---- */

/* x and y peak together at 01:00 on p1, which has 1.5 cores: moved to p2
 * (4 cores) the wave fits, but moving back home does not. */
Test(planner, rollback_that_does_not_fit)
{
	static const char *const comps[] = { "x", "y" };
	struct plan p = { 0 };
	const char *inv = t_write("inventory.json",
				  "{\"partitions\": [\n"
				  "  {\"name\": \"p1\", \"capacity\": {\"cpu\": 1.5, \"memory\": \"4GiB\"}},\n"
				  "  {\"name\": \"p2\", \"capacity\": {\"cpu\": 4, \"memory\": \"4GiB\"}}],\n"
				  " \"components\": [\n"
				  "  {\"name\": \"x\", \"placement\": [\"p1\"]},\n"
				  "  {\"name\": \"y\", \"placement\": [\"p1\"]}]}\n");
	const char *sched = t_write("schedule.json",
				    "{\"name\": \"rb\",\n"
				    " \"window\": {\"start\": \"2018-05-06T00:30:00Z\", \"end\": \"2018-05-06T05:00:00Z\"},\n"
				    " \"cutoff\": \"30m\", \"partitions\": [\"p1\"], \"update_duration\": \"3h\"}\n");
	int rc;

	peak_hour_y = 1;
	rc = pf_run(&p, inv, sched, pf_write_history(comps, 2, two_peaks));
	cr_assert_eq(rc, 0, "rc %d: %s", rc, adp_error_last());
	cr_assert(p.rollback_check.checked);
	cr_assert_not(p.rollback_check.fits);
	cr_assert_str_eq(p.rollback_check.partition, "p1");
	cr_assert_eq(p.rollback_check.resource, ADP_RES_CPU);
	cr_assert_float_eq(p.rollback_check.bound, 2.0, 1e-6);
	cr_assert_float_eq(p.rollback_check.overload_prob, 1.0, 1e-9);
	cr_assert(has_risk(&p, "rollback: the original placement does not fit"));
	plan_release(&p);
	peak_hour_y = 3;

	rc = pf_default(&p);
	cr_assert_eq(rc, 0);
	cr_assert(p.rollback_check.checked && p.rollback_check.fits);
	plan_release(&p);
}

/* ---- the one-wave problem, by hand ---- */

/* Four movers of 3, 3, 2 and 2 cores from offline p0 onto a and b, 5 free
 * cores each (one scenario, one step): only 3 + 2 on each fits, and the
 * heuristic finds it; an assignment putting both 3s on a is scored with
 * its violation. */
Test(planner, known_feasible_packing)
{
	static const double dem[4] = { 3, 3, 2, 2 };
	struct inst t;
	struct part_wave_problem *pb = &t.pb;
	struct part_wave_mover *m;
	size_t assign[4], bad_assign[4] = { 1, 1, 2, 2 }, i, viol;
	double load[3] = { 0 }, cost;

	mk(&t, 4, 2, 1, 1, 5);
	m = t.m;
	t.cap[ADP_RES_CPU] = 0; /* the offline home's */
	for (i = 0; i < 4; i++)
		flat(&t, i, dem[i]);
	pb->eps[ADP_RES_CPU] = 0.05;
	memcpy(pb->weights, schedule_weight_defaults, sizeof(pb->weights));
	cr_assert_eq(part_place_movers(pb, assign), 0);
	for (i = 0; i < 4; i++) {
		cr_assert(assign[i] == 1 || assign[i] == 2, "mover %zu on %zu", i, assign[i]);
		load[assign[i]] += dem[i];
	}
	cr_assert_float_eq(load[1], 5, 1e-12);
	cr_assert_float_eq(load[2], 5, 1e-12);
	cr_assert_eq(part_wave_evaluate(pb, assign, &cost, &viol), 0);
	cr_assert_eq(viol, 0);
	cr_assert_eq(part_wave_evaluate(pb, bad_assign, &cost, &viol), 0);
	cr_assert_eq(viol, 1, "a holds 6 cores of 5");
	/* Two replicas of one component may not share a partition. */
	m[1].comp = 0;
	bad_assign[0] = 1;
	bad_assign[1] = 1;
	bad_assign[2] = 2;
	bad_assign[3] = 2;
	cr_assert_eq(part_wave_evaluate(pb, bad_assign, &cost, &viol), 0);
	cr_assert_geq(viol, 2, "anti-affinity and the overload");
	cr_assert_eq(part_place_movers(pb, assign), 0);
	cr_assert_neq(assign[0], assign[1], "replicas of one component apart");
	rel(&t);
}

/* The co-movement floor: two movers whose scenarios offset each other (1
 * and 3 cores, then 3 and 1) always sum to 4 cores on a 5-core
 * partition. Each has a spread of 1 core, so the floor is the median of
 * the total (4) plus dependence x 2: 5 at 0.5 (fits), 6 at 1 (does not). */
Test(planner, dependence_floor)
{
	struct inst t;
	struct part_wave_problem *pb = &t.pb;
	size_t assign[2] = { 1, 1 }, viol, i;
	double cost;

	mk(&t, 2, 1, 1, 2, 5);
	t.cap[ADP_RES_CPU] = 0; /* the offline home's */
	memset(pb->weights, 0, sizeof(pb->weights));
	for (i = 0; i < 2; i++) {
		*dem(&t, i, 0, 0) = i ? 3 : 1;
		*dem(&t, i, 1, 0) = i ? 1 : 3;
		t.sp[i * R * pb->H + ADP_RES_CPU * pb->H] = 1;
	}
	pb->eps[ADP_RES_CPU] = 0.05;
	pb->dependence = 0;
	cr_assert_eq(part_wave_evaluate(pb, assign, &cost, &viol), 0);
	cr_assert_eq(viol, 0);
	pb->dependence = 0.5;
	cr_assert_eq(part_wave_evaluate(pb, assign, &cost, &viol), 0);
	cr_assert_eq(viol, 0, "4 + 0.5 x 2 = 5 fits in 5");
	pb->dependence = 1;
	cr_assert_eq(part_wave_evaluate(pb, assign, &cost, &viol), 0);
	cr_assert_eq(viol, 1, "4 + 2 = 6 does not");
	rel(&t);
}

/* Another solver hooks in per wave: this one puts every mover on the
 * first online partition it may use, and the plan follows it. */
static int first_fit(const struct part_wave_problem *pb, size_t *assign, void *arg)
{
	size_t i, p;

	(*(int *)arg)++;
	for (i = 0; i < pb->nmovers; i++) {
		assign[i] = PART_UNPLACED;
		for (p = 0; p < pb->nparts && assign[i] == PART_UNPLACED; p++)
			if (pb->online[p] && !pb->hosts[pb->movers[i].comp * pb->nparts + p])
				assign[i] = p;
	}
	return 0;
}

Test(planner, solver_hook)
{
	struct plan p = { 0 };
	const char *extra[1] = { pf_write_history(pf_comps, 4, pf_default_load) };
	int calls = 0;
	struct part_run_opts o = { .inventory = pf_write_inventory(4, ""), .schedule = pf_write_schedule("40m", 1),
				   .history = extra, .nhistory = 1, .now = PF_NOW, .tool_version = "t",
				   .place_movers = first_fit, .place_arg = &calls };
	size_t i;

	cr_assert_eq(part_run(&p, &o), 0, "%s", adp_error_last());
	cr_assert_eq(calls, 3, "once per wave");
	/* Wave 3 takes p3 offline: cache goes to p1, the first online. */
	for (i = 0; i < p.waves[2].nplacements; i++)
		if (!strcmp(p.waves[2].placements[i].component, "cache"))
			cr_assert_str_eq(p.waves[2].placements[i].partition, "p1");
	plan_release(&p);
}

/* Lightest first: p3 carries cache (0.7 of 4 cores), p2 one web replica
 * and batch (about 1.4), p1 the other web replica and db (about 2.3). */
Test(planner, order_lightest_first)
{
	struct plan p = { 0 };
	int rc = pf_run_estate(&p, 4, sched_with("40m", 1, "\"order\": \"lightest-first\""));

	cr_assert_eq(rc, 0, "rc %d: %s", rc, adp_error_last());
	cr_assert_eq(p.nwaves, 3);
	cr_assert_str_eq(p.waves[0].offline[0], "p3");
	cr_assert_str_eq(p.waves[1].offline[0], "p2");
	cr_assert_str_eq(p.waves[2].offline[0], "p1");
	plan_release(&p);
}

/* Two partitions at a time on 1.5-core p2 and p3, shortage refused: the
 * capacity shortfalls of wave 1 say whether one partition at a time
 * would fit, each checked by planning it. */
Test(planner, remedy_fewer_partitions_checked)
{
	struct plan p = { 0 };
	size_t i, checked = 0;
	int rc = pf_run_estate(&p, 1.5, sched_with("40m", 2, "\"shortage\": \"refuse\""));

	cr_assert_eq(rc, ADP_EINFEASIBLE, "rc %d: %s", rc, adp_error_last());
	for (i = 0; i < p.nshortfalls; i++)
		if (p.shortfalls[i].wave == 1 && p.shortfalls[i].resource == ADP_RES_CPU)
			checked += strstr(p.shortfalls[i].advice, "one partition at a time") != NULL &&
				   strstr(p.shortfalls[i].advice, "start") != NULL;
	cr_assert_gt(checked, 0);
	plan_release(&p);
}

/* ---- the ceiling at the historical maximum ---- */

/* x bursts to 1 core for a random hour on some days (never above), 0.05
 * otherwise; y is steady at 0.2. */
static double bursty(const char *c, int r, int64_t t)
{
	int64_t day = t / 86400;
	int hr = (int)pf_hour(t), at = (int)((pf_noise("b", day * 86400) + 1) * 2.4);

	if (r != ADP_RES_CPU)
		return 0;
	if (strcmp(c, "x"))
		return 0.2;
	return pf_noise("d", day * 86400) > 0 && hr == at ? 1.0 : 0.05;
}

/* Holt-Winters' upper quantile of x's bursts lies above anything x ever
 * used (its errors at the bursts applied at other steps; auto caps its
 * own band there, so the model is named); the plan
 * reserves at most x's historical maximum, and its bound stays at most
 * the sum of the maxima. */
Test(planner, capped_at_historical_max)
{
	static const char *const comps[] = { "x", "y" };
	struct plan p = { 0 };
	double fc95 = 0, bound = 0;
	size_t i, h;
	const char *hist[1];
	struct part_run_opts o = { .now = PF_NOW, .model = "holt-winters", .tool_version = "test-1",
				   .history = hist, .nhistory = 1 };
	int rc;

	o.inventory = t_write("inventory.json",
				"{\"partitions\": [\n"
				"  {\"name\": \"p1\", \"capacity\": {\"cpu\": 4, \"memory\": \"4GiB\"}},\n"
				"  {\"name\": \"p2\", \"capacity\": {\"cpu\": 4, \"memory\": \"4GiB\"}}],\n"
				" \"components\": [\n"
				"  {\"name\": \"x\", \"placement\": [\"p1\"]},\n"
				"  {\"name\": \"y\", \"placement\": [\"p1\"]}]}\n");
	o.schedule = t_write("schedule.json",
				"{\"name\": \"bursts\",\n"
				" \"window\": {\"start\": \"2018-05-06T00:30:00Z\", \"end\": \"2018-05-06T05:00:00Z\"},\n"
				" \"cutoff\": \"30m\", \"partitions\": [\"p1\"], \"update_duration\": \"3h\"}\n");
	hist[0] = pf_write_history(comps, 2, bursty);
	rc = part_run(&p, &o);

	cr_assert_eq(rc, 0, "rc %d: %s", rc, adp_error_last());
	for (i = 0; i < p.nforecast; i++)
		if (!strcmp(p.forecast[i].component, "x") && p.forecast[i].resource == ADP_RES_CPU)
			fc95 = p.forecast[i].p95_peak;
	cr_assert_gt(fc95, 1.0, "the forecast's p95 of x, %g, is above its maximum (the cap has work to do)", fc95);
	cr_assert_eq(p.nwaves, 1);
	for (i = 0; i < p.waves[0].nplacements; i++) {
		const struct plan_placement *pl = &p.waves[0].placements[i];
		cr_assert_leq(pl->alloc[ADP_RES_CPU], !strcmp(pl->component, "x") ? 1.0 : 0.25, "%s gets %g",
			      pl->component, pl->alloc[ADP_RES_CPU]);
	}
	for (i = 0; i < p.waves[0].nusage; i++)
		if (p.waves[0].usage[i].resource == ADP_RES_CPU)
			for (h = 0; h < p.waves[0].usage[i].nsteps; h++)
				bound = fmax(bound, p.waves[0].usage[i].bound[h]);
	cr_assert_gt(bound, 0.2);
	/* The scenarios are floats: the cap holds to their precision. */
	cr_assert_leq(bound, 1.2 * (1 + 1e-6), "bound %.9g", bound);
	plan_release(&p);
}

/* The ceiling: the history's maximum; past it, the median plus its rise
 * above the maximum (no cap at all once let a VM pegged at its ceiling
 * have 2.5 times its maximum); none when the maximum is unknown. */
/* An on/off step: 180 of 200 scenarios idle (0.004 and a hair either
 * side), 20 busy near 4 cores, and a band whose p90 is idle and whose p95
 * and p99 are busy. Mapped by rank, the scenarios' upper levels are the
 * band's: above 1 core about the share the band puts there (ranks from
 * 0.9 up, at most 10 % of them, the top 10 at least its p95), their order
 * kept, the idle ones left near idle. (The stretch this replaced
 * multiplied the idle hair above the median by 1,000 and put half the
 * scenarios at the busy level: the partition's median total with them.) */
Test(planner, scenarios_mapped_onto_the_band_by_rank)
{
	enum { K = 200 };
	static const double levels[] = { 0.5, 0.9, 0.95, 0.99 };
	double q[4] = { 0.004, 0.004, 3.9, 4.0 }, out[K];
	float scen[K];
	uint64_t keys[2 * K];
	struct forecast_series fs = { .q = q, .nlevels = 4, .horizon = 1 };
	size_t k, busy = 0, top = 0;

	for (k = 0; k < K; k++)
		scen[k] = k % 10 == 3 ? 3.5f + (float)(k % 7) * 0.1f : 0.004f + (float)((int)(k % 5) - 2) * 1e-5f;
	part_map_ranks(out, keys, scen, K, 1, 0, &fs, levels, 0.004);
	for (k = 0; k < K; k++) {
		busy += out[k] > 1;
		top += out[k] >= 3.9 - 1e-9;
		if (scen[k] < 1)
			cr_assert_lt(out[k], 0.01, "idle scenario %zu mapped to %g", k, out[k]);
	}
	cr_assert_leq(busy, 20, "%zu above a core", busy);
	/* between the band's p90 and p95 the levels are interpolated: the
	 * ranks just above 0.9 sit between idle and busy */
	cr_assert_geq(busy, 15, "%zu above a core", busy);
	cr_assert_eq(top, 10, "%zu at the band's p95 or above", top);
	for (k = 0; k < K; k++) {
		size_t j;

		for (j = 0; j < K; j++)
			if (scen[j] < scen[k])
				cr_assert_leq(out[j], out[k] + 1e-12, "order of %zu and %zu", j, k);
	}
}

/* Every scenario's mapped value is the one its rank in a full sort
 * gives (ties in scenario order), whatever K's parity, with ties,
 * zeros and negative values, at a step other than the first: ranks
 * below the median are only selected, not sorted. */
Test(planner, scenarios_mapped_as_by_a_full_sort)
{
	enum { KMAX = 64, H = 3 };
	static const double levels[] = { 0.5, 0.9, 0.95, 0.99 };
	double q[H * 4], out[KMAX];
	float scen[KMAX * H];
	uint64_t keys[2 * KMAX];
	size_t K, k, j, n, h = 1, order[KMAX];
	unsigned x = 12345;

	for (j = 0; j < H * 4; j++)
		q[j] = 1.0 + 0.5 * (double)(j % 4);
	for (K = 1; K <= KMAX; K++) {
		struct forecast_series fs = { .q = q, .nlevels = 4, .horizon = H };

		for (k = 0; k < K * H; k++) {
			x = x * 1103515245u + 12345u;
			scen[k] = (x >> 16) % 5 == 0 ? 0.0f : (float)((int)((x >> 16) % 11) - 2) * 0.25f;
		}
		part_map_ranks(out, keys, scen, K, H, h, &fs, levels, 1.0);
		/* The reference: insertion by value, 0 for anything not above it. */
		for (n = 0; n < K; n++) {
			float v = fmaxf(scen[n * H + h], 0);

			for (j = n; j > 0 && fmaxf(scen[order[j - 1] * H + h], 0) > v; j--)
				order[j] = order[j - 1];
			order[j] = n;
		}
		for (j = 0; j < K; j++) {
			double u = ((double)j + 0.5) / (double)K, smed = fmaxf(scen[order[(K - 1) / 2] * H + h], 0);
			double want = u >= 0.5 ? forecast_quantile(&fs, levels, h, u)
					       : 1.0 + ((double)fmaxf(scen[order[j] * H + h], 0) - smed);

			cr_assert_eq(out[order[j]], want, "K %zu rank %zu: %g, not %g", K, j, out[order[j]], want);
		}
	}
}

/* The order statistics against a sort: every rank of every size up to
 * 80, on values drawn from few (ties, runs of one value: an idle
 * resource's zeros) and from many; the total at the confidence is the
 * larger of its order statistic and the median plus the floor, on the
 * same scrambled values. */
Test(planner, order_statistics_as_by_a_sort)
{
	enum { NMAX = 80 };
	double v[NMAX], w[NMAX], sorted[NMAX];
	size_t n, a, i, j, spread;
	unsigned x = 777;

	for (spread = 1; spread <= 1000; spread *= 10)
		for (n = 1; n <= NMAX; n++)
			for (a = 0; a <= n; a++) {
				for (i = 0; i < n; i++) {
					x = x * 1103515245u + 12345u;
					v[i] = (double)((x >> 16) % (spread + 1));
					sorted[i] = v[i];
				}
				for (i = 1; i < n; i++)
					for (j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
						double t = sorted[j];
						sorted[j] = sorted[j - 1];
						sorted[j - 1] = t;
					}
				memcpy(w, v, sizeof(w));
				cr_assert_eq(part_select_desc(w, n, a), sorted[a < n ? n - 1 - a : 0], "n %zu above %zu", n, a);
				memcpy(w, v, sizeof(w));
				cr_assert_eq(part_total_at_confidence(w, n, a, 3.0, 0.5),
					     fmax(sorted[a < n ? n - 1 - a : 0], sorted[n - 1 - (n - 1) / 2] + 1.5),
					     "n %zu allowed %zu", n, a);
				memcpy(w, v, sizeof(w));
				cr_assert_eq(part_total_at_confidence(w, n, a, 3.0, 0), sorted[a < n ? n - 1 - a : 0]);
			}
}

Test(planner, cap_follows_a_median_above_the_maximum)
{
	struct forecast_series fs = { .hist_max = 4 };

	cr_assert_float_eq(part_cap(&fs, 3), 4, 1e-12);
	cr_assert_float_eq(part_cap(&fs, 4), 4, 1e-12, "continuous at the maximum");
	cr_assert_float_eq(part_cap(&fs, 4.25), 4.5, 1e-12);
	cr_assert_float_eq(part_cap(&fs, 8), 12, 1e-12);
	fs.hist_max = NAN;
	cr_assert(isinf(part_cap(&fs, 3)));
	fs.hist_max = 0;
	cr_assert(isinf(part_cap(&fs, 3)));
	cr_assert(isinf(part_cap(NULL, 3)));
}

