/* partition/planner through part_run: a fitting plan keeps every
 * promise, shrunk capacity, a short window and impossible anti-affinity
 * are reported where they happen, and fitting uses the sum of
 * time-aligned demand, not the sum of peaks. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "partition/inventory.h"
#include "tests/unit/planfix.h"

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
	int rc = pf_run(&p, pf_write_inventory(4, ""), pf_write_schedule("40m", 2),
			pf_write_history(pf_comps, 4, pf_default_load));

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

Test(planner, shrunk_capacity_infeasible)
{
	struct plan p = { 0 };
	size_t i, named = 0;
	int rc = pf_run(&p, pf_write_inventory(1.5, ""), pf_write_schedule("40m", 1),
			pf_write_history(pf_comps, 4, pf_default_load));

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
		named += s->wave == 1;
	}
	/* Wave 1 takes p1 away: its web and db replicas cannot fit in 1.5 cores. */
	cr_assert_gt(named, 0);
	plan_release(&p);
}

Test(planner, timing_infeasible_reports_wave_zero)
{
	struct plan p = { 0 };
	size_t i, timing = 0;
	int rc = pf_run(&p, pf_write_inventory(4, ""), pf_write_schedule("2h", 1),
			pf_write_history(pf_comps, 4, pf_default_load));

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
	/* The waves stay inside the window so the document is consistent. */
	for (i = 0; i < p.nwaves; i++)
		cr_assert_leq(p.waves[i].end, p.window_end);
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

static int run_two_peaks(struct plan *p)
{
	static const char *const comps[] = { "x", "y" };
	const char *inv = t_write("inventory.json",
				  "{\"partitions\": [\n"
				  "  {\"name\": \"p1\", \"capacity\": {\"cpu\": 4, \"memory\": \"4GiB\"}},\n"
				  "  {\"name\": \"p2\", \"capacity\": {\"cpu\": 1.5, \"memory\": \"4GiB\"}}],\n"
				  " \"components\": [\n"
				  "  {\"name\": \"x\", \"placement\": [\"p1\"]},\n"
				  "  {\"name\": \"y\", \"placement\": [\"p1\"]}]}\n");
	/* One wave, 00:30 to 03:40, covering both peaks. */
	const char *sched = t_write("schedule.json",
				    "{\"name\": \"peaks\",\n"
				    " \"window\": {\"start\": \"2018-05-06T00:30:00Z\", \"end\": \"2018-05-06T05:00:00Z\"},\n"
				    " \"cutoff\": \"30m\", \"partitions\": [\"p1\"], \"update_duration\": \"3h\"}\n");

	return pf_run(p, inv, sched, pf_write_history(comps, 2, two_peaks));
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
	rc = run_two_peaks(&p);
	cr_assert_eq(rc, ADP_EINFEASIBLE, "rc %d: %s", rc, adp_error_last());
	cr_assert_gt(p.nshortfalls, 0);
	cr_assert_str_eq(p.shortfalls[0].partition, "p2");
	cr_assert_eq(p.shortfalls[0].resource, ADP_RES_CPU);
	cr_assert_float_eq(p.shortfalls[0].missing, 0.5, 1e-6);
	plan_release(&p);
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
		 "\"step\": \"5m\",\n  \"blackouts\": [{\"start\": \"2018-05-06T01:55:00Z\", \"end\": \"2018-05-06T02:15:00Z\"}]\n}\n");
	rc = pf_run(&p, pf_write_inventory(4, ""), t_write("blackout.json", text),
		    pf_write_history(pf_comps, 4, pf_default_load));
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
