/* The human view of a plan, shared by plan and show. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "plans/plan.h"
#include "util/resource.h"
#include "util/timeutil.h"

static void hm(char buf[8], int64_t t, const char *tz)
{
	char full[40];

	adp_time_format_tz(full, t, tz);
	snprintf(buf, 8, "%.5s", full + 11);
}

static void print_shortfalls(FILE *f, const struct plan *p)
{
	size_t i;

	fprintf(f, "%s%sNo plan fits:%s\n", cmd_bold(f), cmd_red(f), cmd_reset(f));
	for (i = 0; i < p->nshortfalls; i++) {
		const struct plan_shortfall *s = &p->shortfalls[i];
		char at[8], dem[48], cap[48], miss[48];

		hm(at, s->at, p->timezone);
		if (s->resource < 0 && !s->wave) {
			fprintf(f, "  timing: %s\n", s->advice);
			continue;
		}
		if (s->resource < 0) {
			fprintf(f, "  wave %zu: '%s' replica from '%s' has nowhere to go: %s\n", s->wave,
				s->component, s->partition, s->advice);
			continue;
		}
		cmd_format_amount(dem, s->resource, s->demand);
		cmd_format_amount(cap, s->resource, s->capacity);
		cmd_format_amount(miss, s->resource, s->missing);
		fprintf(f, "  wave %zu: partition '%s' %s short by %s at %s (needs %s, capacity %s)%s%s%s\n",
			s->wave, s->partition, adp_resource_name(s->resource), miss, at, dem,
			cap, s->component ? " placing '" : "",
			s->component ? s->component : "", s->component ? "'" : "");
		fprintf(f, "    fix: %s\n", s->advice);
	}
}

/* What would make the plan fit, each remedy planned again in full. */
static void print_remedies(FILE *f, const struct plan *p)
{
	size_t i;

	if (p->nremedies)
		fprintf(f, "Remedies:\n");
	for (i = 0; i < p->nremedies; i++)
		fprintf(f, "  %s\n", p->remedies[i]);
}

/* Which partitions could go empty for the window, what runs there fits
 * on the others within the proof; nothing when none could and every
 * partition was tried (or there was only one). */
static void print_consolidation(FILE *f, const struct plan *p)
{
	const struct plan_consolidation *c = &p->consolidation;
	char amount[48];
	size_t i;
	int r, first = 1;

	if (c->state == PLAN_CONSOL_UNCHECKED) {
		fprintf(f, "Consolidation: %s.\n", c->reason);
		return;
	}
	if (c->state != PLAN_CONSOL_CHECKED || (!c->npartitions && (!c->tried || c->tried == c->candidates)))
		return;
	if (!c->npartitions) {
		fprintf(f, "Consolidation: no partition can go empty for the window (the %zu least loaded of %zu tried).\n",
			c->tried, c->candidates);
		return;
	}
	fprintf(f, "Consolidation: partition%s", c->npartitions == 1 ? "" : "s");
	for (i = 0; i < c->npartitions; i++)
		fprintf(f, "%s'%s'", !i ? " " : i + 1 == c->npartitions ? " and " : ", ", c->partitions[i]);
	fprintf(f, " could go empty for the window: ");
	if (c->replicas)
		fprintf(f, "%s %zu component%s (%zu replica%s) fit%s on the others", c->npartitions == 1 ? "its" : "their",
			c->components, c->components == 1 ? "" : "s", c->replicas, c->replicas == 1 ? "" : "s",
			c->components == 1 ? "s" : "");
	else
		fprintf(f, "nothing is homed there, and the moves planned onto %s fit on the others",
			c->npartitions == 1 ? "it" : "them");
	/* cpu and memory, as the waves' tables (the document has all four). */
	for (r = 0; r <= ADP_RES_MEMORY; r++)
		if (c->freed[r] > 0) {
			fprintf(f, "%s%s %.1f%% <= %.1f%%", first ? " with worst P(overload) " : ", ", adp_resource_name(r),
				100 * c->worst[r], 100 * (1 - p->confidence[r]));
			first = 0;
		}
	for (r = 0, first = 1; r <= ADP_RES_MEMORY; r++)
		if (c->freed[r] > 0) {
			cmd_format_amount(amount, r, c->freed[r]);
			fprintf(f, "%s%s", first ? " (" : ", ", amount);
			first = 0;
		}
	fprintf(f, "%s; advice only", first ? " (" : " freed");
	if (c->tried < c->candidates)
		fprintf(f, "; the %zu least loaded of %zu partitions tried", c->tried, c->candidates);
	fputs(").\n", f);
}

/* One line per wave in exact mode: what the MILP proved and what was kept. */
static void print_exact(FILE *f, const struct plan_wave *w)
{
	char obj[32] = "none", heur[32] = "none", gap[32] = "unknown";

	if (isfinite(w->exact_objective))
		snprintf(obj, sizeof(obj), "%.4g", w->exact_objective);
	if (isfinite(w->exact_heuristic))
		snprintf(heur, sizeof(heur), "%.4g", w->exact_heuristic);
	if (isfinite(w->exact_gap))
		snprintf(gap, sizeof(gap), "%.2f%%", 100 * w->exact_gap);
	fprintf(f, "  exact: %s in %.1fs, cost %s (heuristic %s), optimality gap %s, %s\n", w->exact_status,
		w->exact_seconds, obj, heur, gap,
		w->exact_replaced ? "the MILP's placement kept" : "the heuristic's placement kept");
}

/* The start chosen, who gets less than forecast, whether rolling back
 * fits, and the cost. */
static void print_decisions(FILE *f, const struct plan *p)
{
	char a[40], b[40];
	size_t i;

	if (p->nfeedback) {
		size_t shown = 0, windows = 0;

		for (i = 0; i < p->nfeedback; i++)
			windows = p->feedback[i].windows > windows ? p->feedback[i].windows : windows;
		fprintf(f, "Feedback from %zu past window%s (apply's samples against their p95):", windows,
			windows == 1 ? "" : "s");
		for (i = 0; i < p->nfeedback; i++) {
			const struct plan_feedback *x = &p->feedback[i];

			if (fabs(x->scale - 1) < 0.005)
				continue;
			if (shown++ == 8) {
				fprintf(f, " ...");
				break;
			}
			fprintf(f, "%s %s %s x%.2f (%.0f%% of %zu above)", shown > 1 ? ";" : "", x->component,
				adp_resource_name(x->resource), x->scale, 100 * x->above_p95, x->samples);
		}
		fprintf(f, "%s\n", shown ? "" : " every band as forecast");
	}
	if (p->start_candidates && p->nwaves) {
		hm(a, p->waves[0].start, p->timezone);
		hm(b, p->start_chosen_from, p->timezone);
		fprintf(f, "Start %s: the least loaded of %zu candidate starts from %s.\n", a, p->start_candidates, b);
	}
	if (p->nreductions) {
		fprintf(f, "%sShortage: %zu allocation%s below the forecast%s (lower tiers first, never below the guarantee):\n",
			cmd_bold(f), p->nreductions, p->nreductions == 1 ? "" : "s", cmd_reset(f));
		for (i = 0; i < p->nreductions; i++) {
			const struct plan_reduction *x = &p->reductions[i];
			char g[48], w[48], m[48];

			cmd_format_amount(g, x->resource, x->granted);
			cmd_format_amount(w, x->resource, x->wanted);
			cmd_format_amount(m, x->resource, x->wanted - x->granted);
			fprintf(f, "  wave %zu: %s replica %zu on '%s' gets %s %s of %s forecast (%s less)\n", x->wave,
				x->component, x->replica, x->partition, g, adp_resource_name(x->resource), w, m);
		}
	}
	if (p->rollback_check.checked) {
		const struct plan_rollback_check *r = &p->rollback_check;
		char bd[48], cp[48];

		cmd_format_amount(bd, r->resource, r->bound);
		cmd_format_amount(cp, r->resource, r->capacity);
		if (r->partition) {
			hm(a, r->at, p->timezone);
			fprintf(f, "Rollback: moving every replica back home %s (tightest: '%s' %s %s of %s at %s).\n",
				r->fits ? "fits" : "does NOT fit", r->partition, adp_resource_name(r->resource), bd, cp, a);
		}
	}
	if (p->cost.present)
		fprintf(f, "Cost %.4g: risk %.4g, waste %.4g, moves %.4g, confidence %.4g.\n", p->cost.total, p->cost.risk,
			p->cost.waste, p->cost.moves, p->cost.confidence);
}

/* The proof's line: the worst predicted P(overload) per resource
 * against its epsilon, and whether the plan holds. */
static void print_proof(FILE *f, const struct plan *p)
{
	struct plan_proof pf;
	int r, first = 1;

	plan_proof(p, &pf);
	fprintf(f, "Proof: %s%s", pf.holds ? "holds" : "FAILS",
		!pf.holds && p->risk_accepted ? " (risk accepted)" : "");
	for (r = 0; r < ADP_RES_COUNT; r++)
		if (pf.wave[r]) {
			fprintf(f, "%s%s worst P(overload) %.1f%% %s epsilon %.1f%% ('%s', wave %zu)", first ? ": " : "; ",
				adp_resource_name(r), 100 * pf.worst[r], pf.worst[r] > pf.eps[r] + 1e-9 ? ">" : "<=",
				100 * pf.eps[r], pf.partition[r], pf.wave[r]);
			first = 0;
		}
	fputs(".\n\n", f);
}

/* At most this many moves, and partition rows, a wave shows without
 * --detail: the first moves, and the riskiest rows. */
#define RENDER_ROWS 12

static void print_usage_row(FILE *f, const struct plan_usage *u)
{
	char cap[48], p50[48], p95[48], head[48];
	double m50 = 0, m95 = 0;
	size_t h;

	for (h = 0; h < u->nsteps; h++) {
		m50 = fmax(m50, u->p50[h]);
		m95 = fmax(m95, u->p95[h]);
	}
	cmd_format_amount(cap, u->resource, u->capacity);
	cmd_format_amount(p50, u->resource, m50);
	cmd_format_amount(p95, u->resource, m95);
	cmd_format_amount(head, u->resource, u->headroom);
	fprintf(f, "  %-12s %-7s %14s %14s %14s %14s %10.1f%%\n", u->partition, adp_resource_name(u->resource), cap,
		p50, p95, u->headroom < 0 ? "none" : head, 100 * u->overload_prob);
}

/* Usage rows by risk: P(overload) highest first, then the least headroom
 * as a share of capacity. */
static int riskier(const void *pa, const void *pb)
{
	const struct plan_usage *a = *(const struct plan_usage *const *)pa, *b = *(const struct plan_usage *const *)pb;
	double ha = a->headroom / a->capacity, hb = b->headroom / b->capacity;

	if (a->overload_prob != b->overload_prob)
		return a->overload_prob > b->overload_prob ? -1 : 1;
	return ha < hb ? -1 : ha > hb;
}

/* driver: the --driver given (NULL: none), repeated in the next command. */
void cmd_plan_render(FILE *f, const struct plan *p, const char *plan_file, const char *driver, int detail)
{
	char a[40], b[40], c[40], margin[32];
	size_t w, i, moves, shown, nrows;

	char utc[48] = "";

	adp_time_format_tz(a, p->window_start, p->timezone);
	hm(b, p->window_end, p->timezone);
	hm(c, p->cutoff_at, p->timezone);
	{
		/* UTC beside the window's zone where the two differ. */
		char u0[8], u1[8], t[40];

		adp_time_format(t, p->window_start);
		hm(u0, p->window_start, NULL);
		hm(u1, p->window_end, NULL);
		if (strncmp(t, a, 19))
			snprintf(utc, sizeof(utc), "; %s to %s UTC", u0, u1);
	}
	fprintf(f, "%sPlan '%s'%s: window %s to %s (%s%s), cutoff %s\n", cmd_bold(f), p->schedule_name,
		cmd_reset(f), a, b, p->timezone, utc, c);
	fprintf(f, "Forecast: %s model, %zu series, %zu joint scenarios; confidence cpu %.3g, memory %.3g\n",
		p->model, p->nforecast, p->scenarios, p->confidence[ADP_RES_CPU], p->confidence[ADP_RES_MEMORY]);
	print_proof(f, p);
	for (w = 0; w < p->nwaves; w++) {
		const struct plan_wave *wave = &p->waves[w];

		hm(a, wave->start, p->timezone);
		hm(b, wave->end, p->timezone);
		fprintf(f, "%sWave %zu%s  %s-%s  offline:", cmd_bold(f), w + 1, cmd_reset(f), a, b);
		for (i = 0; i < wave->noffline; i++)
			fprintf(f, " %s", wave->offline[i]);
		for (i = 0, moves = 0; i < wave->nplacements; i++)
			moves += wave->placements[i].from != NULL;
		fprintf(f, "\n  moves (%zu):\n", moves);
		for (i = 0, shown = 0; i < wave->nplacements; i++) {
			const struct plan_placement *x = &wave->placements[i];
			char cpu[48], mem[48], rcpu[48], rmem[48];

			if (!x->from || (!detail && moves > RENDER_ROWS && shown >= RENDER_ROWS / 2))
				continue;
			shown++;
			cmd_format_amount(cpu, ADP_RES_CPU, x->alloc[ADP_RES_CPU]);
			cmd_format_amount(mem, ADP_RES_MEMORY, x->alloc[ADP_RES_MEMORY]);
			cmd_format_amount(rcpu, ADP_RES_CPU, x->reserve[ADP_RES_CPU]);
			cmd_format_amount(rmem, ADP_RES_MEMORY, x->reserve[ADP_RES_MEMORY]);
			fprintf(f, "    %-24s %-10s -> %-10s tier %d  reserved %s, %s; limit %s, %s\n", x->component,
				x->from, x->partition, x->tier, rcpu, rmem, cpu, mem);
		}
		if (shown < moves)
			fprintf(f, "    ... and %zu more moves (--detail shows every one)\n", moves - shown);
		if (wave->exact_status)
			print_exact(f, wave);
		for (i = 0; i < wave->nabsorbed; i++)
			fprintf(f, "    %-24s %-10s stays down with it: its other replicas carry its share\n",
				wave->absorbed[i].component, wave->absorbed[i].partition);
		fprintf(f, "  %-12s %-7s %14s %14s %14s %14s %11s\n", "partition", "res", "capacity",
			"p50 peak", "p95 peak", "headroom", "P(overload)");
		{
			const struct plan_usage **rows = malloc((wave->nusage + 1) * sizeof(*rows));

			for (i = 0, nrows = 0; rows && i < wave->nusage; i++)
				if (wave->usage[i].capacity > 0 && wave->usage[i].resource <= ADP_RES_MEMORY)
					rows[nrows++] = &wave->usage[i];
			/* Many rows: the riskiest first, the rest counted. */
			shown = nrows;
			if (rows && !detail && nrows > RENDER_ROWS) {
				qsort(rows, nrows, sizeof(*rows), riskier);
				shown = RENDER_ROWS / 2;
			}
			for (i = 0; rows && i < shown; i++)
				print_usage_row(f, rows[i]);
			if (shown < nrows)
				fprintf(f, "  ... and %zu more partition rows, less at risk (--detail shows every one)\n",
					nrows - shown);
			free(rows);
		}
		fputc('\n', f);
	}
	adp_duration_format(margin, p->margin);
	print_decisions(f, p);
	if (p->nshortfalls) {
		print_shortfalls(f, p);
		print_remedies(f, p);
		return;
	}
	fprintf(f, "All %zu waves end %s before the cutoff. %zu steps to apply, %zu to roll back.\n",
		p->nwaves, margin, p->nsteps, p->nrollback);
	for (i = 0; i < p->nrisks; i++)
		fprintf(f, "risk: %s\n", p->risks[i]);
	print_consolidation(f, p);
	print_remedies(f, p);
	if (plan_file) {
		char drv[80] = "";

		fprintf(f, "%sPlan written to %s%s (digest %.12s, expires %s).\n", cmd_green(f), plan_file,
			cmd_reset(f), p->digest, (adp_time_format(a, p->expires_at), a));
		if (driver)
			snprintf(drv, sizeof(drv), "--driver %s ", driver);
		if (cmd_verbosity > CMD_QUIET) /* a hint: -q leaves it out */
			fprintf(f, "next: adpart-update apply %s--dry-run %s (checks every step), then adpart-update apply %s%s\n",
				drv, plan_file, drv, plan_file);
	}
}

