#include "partition/exact_plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "partition/exact.h"
#include "partition/planner.h"
#include "util/error.h"

#define R ADP_RES_COUNT

/* A replica of the wave: where it is, and whether it moves. */
struct replica {
	size_t comp, replica, home;
	size_t placement;  /* index in w->placements, or (size_t)-1 when left out */
	size_t mover;      /* index in the problem, or (size_t)-1 when it stays */
};

static int offline(const struct plan_wave *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->noffline; i++)
		if (!strcmp(w->offline[i], name))
			return 1;
	return 0;
}

static int zone_id(const struct inventory *inv, size_t part)
{
	size_t i;

	for (i = 0; i < inv->nparts; i++)
		if (!strcmp(inv->parts[i].zone, inv->parts[part].zone))
			return (int)i;
	return 0;
}

static const double *qrow(const double *q, const struct part_exact_wave_in *in, size_t c, int r)
{
	return q + (c * R + (size_t)r) * in->H;
}

/* Fills a placement's allocation and peaks as the planner does. */
static void fill_alloc(struct plan_placement *x, const struct part_exact_wave_in *in, size_t c)
{
	const struct inv_component *cc = &in->inv->comps[c];
	size_t h;
	int r;

	for (r = 0; r < R; r++) {
		double peak = 0, p50 = 0, p95 = 0;

		for (h = in->h0; h < in->h1; h++) {
			peak = fmax(peak, qrow(in->q, in, c, r)[h]);
			p50 = fmax(p50, qrow(in->q50, in, c, r)[h]);
			p95 = fmax(p95, qrow(in->q95, in, c, r)[h]);
		}
		x->alloc[r] = fmax(ceil(peak / part_granularity[r] - 1e-9) * part_granularity[r], cc->min[r]);
		x->p50_peak[r] = p50;
		x->p95_peak[r] = p95;
	}
}

/* The wave as a problem: movers are the replicas whose home is offline,
 * the online partitions keep the replicas that stay. */
static int build(struct part_wave_problem *pb, const struct part_exact_wave_in *in, const struct plan_wave *w,
		 struct replica *reps, size_t nreps, const size_t *pmap, size_t nonline, size_t nmovers)
{
	const struct inventory *inv = in->inv;
	struct part_exact_weights wt;
	size_t S = in->h1 - in->h0, K = in->K, n, s, k, j;
	int rc, r;

	part_exact_weights_default(&wt);
	if ((rc = part_wave_problem_init(pb, nmovers, nonline, S, K)))
		return rc;
	for (r = 0; r < R; r++)
		pb->eps[r] = 1 - in->sched->confidence[r];
	for (j = 0; j < inv->nparts; j++)
		if (pmap[j] != (size_t)-1) {
			memcpy(pb->cap + pmap[j] * R, inv->parts[j].capacity, sizeof(double) * R);
			pb->zone[pmap[j]] = zone_id(inv, j);
		}
	for (n = 0; n < nreps; n++) {
		const struct replica *x = &reps[n];
		const struct inv_component *cc = &inv->comps[x->comp];

		if (x->mover == (size_t)-1) {
			/* Stays: its partition's load, guarantees and impact. */
			size_t p = pmap[x->home];

			for (r = 0; r < R; r++) {
				const double *d = in->dem + (x->comp * R + (size_t)r) * K * in->H;
				double *b = pb->base + (p * R + (size_t)r) * S * K;

				for (s = 0; s < S; s++)
					for (k = 0; k < K; k++)
						b[s * K + k] += d[k * in->H + in->h0 + s];
				pb->base_min[p * R + (size_t)r] += cc->min[r];
			}
			pb->base_impact[p] += wt.tier[cc->tier];
			continue;
		}
		{
			size_t i = x->mover;
			struct plan_placement tmp = { 0 };
			double unc = 0;

			pb->comp[i] = x->comp;
			pb->tier[i] = cc->tier;
			pb->home_zone[i] = zone_id(inv, x->home);
			fill_alloc(&tmp, in, x->comp);
			for (r = 0; r < R; r++) {
				const double *d = in->dem + (x->comp * R + (size_t)r) * K * in->H;
				double *dd = pb->dem + (i * R + (size_t)r) * S * K, mean = 0;

				for (s = 0; s < S; s++)
					for (k = 0; k < K; k++) {
						dd[s * K + k] = d[k * in->H + in->h0 + s];
						mean += dd[s * K + k];
					}
				pb->mean[i * R + (size_t)r] = mean / (double)(S * K);
				pb->min[i * R + (size_t)r] = cc->min[r];
				pb->alloc[i * R + (size_t)r] = tmp.alloc[r];
				if (tmp.p50_peak[r] > 0)
					unc = fmax(unc, (tmp.p95_peak[r] - tmp.p50_peak[r]) / tmp.p50_peak[r]);
			}
			pb->unc[i] = unc;
		}
	}
	/* Anti-affinity with the replicas that stay. */
	for (n = 0; n < nreps; n++) {
		size_t m;

		if (reps[n].mover != (size_t)-1)
			continue;
		for (m = 0; m < nreps; m++)
			if (reps[m].mover != (size_t)-1 && reps[m].comp == reps[n].comp)
				pb->forbid[reps[m].mover * nonline + pmap[reps[n].home]] = 1;
	}
	(void)w;
	return 0;
}

static void drop_replica_shortfalls(struct plan *p, size_t wave)
{
	size_t i, n = 0;

	for (i = 0; i < p->nshortfalls; i++) {
		struct plan_shortfall *s = &p->shortfalls[i];

		if (s->wave == wave && s->component) {
			free(s->partition);
			free(s->component);
			free(s->advice);
			continue;
		}
		p->shortfalls[n++] = *s;
	}
	p->nshortfalls = n;
}

int part_exact_wave(struct plan *p, struct plan_wave *w, const struct part_exact_wave_in *in, int *changed)
{
	const struct inventory *inv = in->inv;
	struct part_wave_problem pb = { 0 };
	struct part_wave_solution sol = { 0 };
	struct part_exact_opts o = { 0 };
	struct replica *reps = NULL;
	size_t *pmap = malloc((inv->nparts + 1) * sizeof(size_t)), *heur = NULL;
	size_t nreps = 0, nmovers = 0, nonline = 0, c, j, i, n, left_out = 0;
	double heur_cost = INFINITY;
	int rc = 0, srv;

	*changed = 0;
	for (c = 0; c < inv->ncomps; c++)
		nreps += inv->comps[c].replicas;
	if (!pmap || !(reps = calloc(nreps + 1, sizeof(*reps)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (j = 0; j < inv->nparts; j++)
		pmap[j] = offline(w, inv->parts[j].name) ? (size_t)-1 : nonline++;
	for (c = 0, n = 0; c < inv->ncomps; c++)
		for (j = 0; j < inv->comps[c].replicas; j++, n++) {
			struct replica *x = &reps[n];

			x->comp = c;
			x->replica = j;
			x->home = inv->comps[c].placement[j];
			x->placement = (size_t)-1;
			x->mover = pmap[x->home] == (size_t)-1 ? nmovers++ : (size_t)-1;
			for (i = 0; i < w->nplacements; i++)
				if (w->placements[i].replica == j && !strcmp(w->placements[i].component, inv->comps[c].name))
					x->placement = i;
			left_out += x->placement == (size_t)-1;
		}
	if (!nmovers || !nonline)
		goto done;
	if ((rc = build(&pb, in, w, reps, nreps, pmap, nonline, nmovers)))
		goto done;
	/* The planner's own placement, in the problem's terms. */
	if (!(heur = malloc((nmovers + 1) * sizeof(size_t)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (n = 0; n < nreps; n++)
		if (reps[n].mover != (size_t)-1) {
			int idx = reps[n].placement == (size_t)-1 ? -1 :
				inventory_partition_index(inv, w->placements[reps[n].placement].partition);

			heur[reps[n].mover] = idx < 0 || pmap[idx] == (size_t)-1 ? PART_EXACT_UNPLACED : pmap[idx];
		}
	if (!left_out && part_exact_verify(&pb, heur) == 0)
		heur_cost = part_exact_cost(&pb, heur, NULL);
	adp_error_clear();
	o.time_limit = in->seconds;
	o.start = isfinite(heur_cost) ? heur : NULL;
	srv = part_exact_solve(&sol, &pb, &o);
	if (srv && srv != ADP_EINFEASIBLE) {
		rc = srv;
		goto done;
	}
	adp_error_clear();
	free(w->exact_status);
	if (!(w->exact_status = strdup(part_exact_status_name(sol.status)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	w->exact_heuristic = heur_cost;
	w->exact_bound = sol.bound;
	w->exact_seconds = sol.heur_seconds + sol.milp_seconds;
	w->exact_replaced = 0;
	w->exact_objective = heur_cost;
	if (!srv && sol.objective < heur_cost - 1e-9 * (1 + fabs(sol.objective))) {
		/* The MILP's (or the exact module's own heuristic's) placement is
		 * better: rewrite the movers. */
		struct plan_placement *g = realloc(w->placements, (w->nplacements + left_out + 1) * sizeof(*g));
		size_t *rev = malloc((nonline + 1) * sizeof(size_t));

		if (g)
			w->placements = g;
		if (!g || !rev) {
			free(rev);
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		for (j = 0; j < inv->nparts; j++)
			if (pmap[j] != (size_t)-1)
				rev[pmap[j]] = j;
		for (n = 0; n < nreps && !rc; n++) {
			struct replica *x = &reps[n];
			struct plan_placement *pl;
			char *name;

			if (x->mover == (size_t)-1)
				continue;
			if (!(name = strdup(inv->parts[rev[sol.assign[x->mover]]].name))) {
				rc = adp_error_set(ADP_ENOMEM, "out of memory");
				break;
			}
			if (x->placement == (size_t)-1) {
				pl = &w->placements[w->nplacements++];
				memset(pl, 0, sizeof(*pl));
				pl->component = strdup(inv->comps[x->comp].name);
				pl->from = strdup(inv->parts[x->home].name);
				pl->replica = x->replica;
				pl->tier = inv->comps[x->comp].tier;
				fill_alloc(pl, in, x->comp);
				if (!pl->component || !pl->from)
					rc = adp_error_set(ADP_ENOMEM, "out of memory");
			} else {
				pl = &w->placements[x->placement];
			}
			free(pl->partition);
			pl->partition = name;
		}
		free(rev);
		if (rc)
			goto done;
		drop_replica_shortfalls(p, in->wave);
		w->exact_objective = sol.objective;
		w->exact_replaced = 1;
		*changed = 1;
	}
	w->exact_gap = isinf(w->exact_objective) || isinf(sol.bound) ? INFINITY :
		fmax(0, w->exact_objective - sol.bound) / (fabs(w->exact_objective) + 2.220446049250313e-16);
	if (w->exact_gap <= 1e-9 && sol.status == PART_EXACT_OPTIMAL && !w->exact_replaced)
		w->exact_gap = 0;
done:
	part_wave_solution_release(&sol);
	part_wave_problem_release(&pb);
	free(heur);
	free(reps);
	free(pmap);
	return rc;
}
