#include "partition/simulate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

const char *const part_sim_method_names[PART_SIM_COUNT] = { "plan", "static-peak", "vpa", "reactive",
								"vpa-equal-reserve" };

/* Finer where epsilon lives (1% memory, 5% cpu), coarser above, where
 * the bench's tight levels put a few host-steps. */
const double part_sim_bin_edges[PART_SIM_NBINS + 1] = { 0, 0.01, 0.02, 0.05, 0.10, 0.20, 0.50, 1 };

int part_sim_bin_of(double p)
{
	int b = PART_SIM_NBINS - 1;

	while (b > 0 && p < part_sim_bin_edges[b])
		b--;
	return b;
}

void part_sim_release(struct part_sim *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++) {
		free(s->rows[i].component);
		acc_row_release(&s->rows[i].fc);
	}
	free(s->rows);
	for (i = 0; i < s->nparts; i++)
		free(s->parts[i].partition);
	free(s->parts);
	memset(s, 0, sizeof(*s));
}

struct wpair {
	double v, w;
};

static int cmp_wpair(const void *a, const void *b)
{
	double x = ((const struct wpair *)a)->v, y = ((const struct wpair *)b)->v;
	return x < y ? -1 : x > y;
}

/* VPA-like recommendation: P90 of a histogram whose weights halve every
 * 24 hours back from t0, times 1.15. */
static int vpa_size(const struct series *s, int64_t t0, double *out)
{
	struct wpair *v = NULL;
	size_t n = 0, i;
	double total = 0, acc = 0;
	int rc = 0;

	if (s->n && !(v = malloc(s->n * sizeof(*v))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (i = 0; i < s->n; i++) {
		int64_t t = s->start + (int64_t)i * s->step;
		if (t >= t0 || isnan(s->v[i]))
			continue;
		v[n].v = s->v[i];
		v[n].w = exp2(-(double)(t0 - t) / 86400.0);
		total += v[n].w;
		n++;
	}
	*out = NAN;
	if (n) {
		qsort(v, n, sizeof(*v), cmp_wpair);
		for (i = 0; i < n; i++) {
			acc += v[i].w;
			if (acc >= 0.9 * total)
				break;
		}
		*out = v[i < n ? i : n - 1].v * 1.15;
	}
	free(v);
	return rc;
}

/* One step: demand against the limit alloc, with reserved set aside. */
static void account(struct part_sim_stats *st, double alloc, double reserved, double demand, double min)
{
	st->steps++;
	st->reserved_sum += reserved;
	st->demand_sum += demand;
	if (demand > alloc) {
		st->violations++;
		st->breaches += alloc < min;
		st->excess_sum += demand - alloc;
		if (demand - alloc > st->excess_max)
			st->excess_max = demand - alloc;
	} else {
		st->slack_sum += alloc - demand;
	}
}

/* The plan's allocation (limit) of comp for resource r in wave w, or NAN
 * when it has no placement there; *reserve (unless NULL) its reservations. */
static double plan_alloc(const struct plan_wave *w, const char *comp, int r, double *reserve)
{
	double a = 0, res = 0;
	size_t i, n = 0;

	for (i = 0; i < w->nplacements; i++)
		if (!strcmp(w->placements[i].component, comp)) {
			a += w->placements[i].alloc[r];
			res += w->placements[i].reserve[r];
			n++;
		}
	if (reserve)
		*reserve = res;
	return n ? a : NAN;
}

/* The component's forecast band at t: its placements' per-step rows
 * summed (the peaks where a placement has none). 0, or -1 when the wave
 * places none of it. */
static int plan_band(const struct plan_wave *w, const char *comp, int r, int64_t t, int64_t step, double *p50,
		     double *p95)
{
	size_t i;
	int found = -1;

	*p50 = *p95 = 0;
	for (i = 0; i < w->nplacements; i++) {
		const struct plan_placement *x = &w->placements[i];

		if (strcmp(x->component, comp))
			continue;
		found = 0;
		if (x->nband && x->band_p50 && x->band_p95 && step > 0) {
			int64_t k = t < x->band_start ? 0 : (t - x->band_start) / step;

			if (k >= (int64_t)x->nband)
				k = (int64_t)x->nband - 1;
			*p50 += x->band_p50[(size_t)k * ADP_RES_COUNT + (size_t)r];
			*p95 += x->band_p95[(size_t)k * ADP_RES_COUNT + (size_t)r];
		} else {
			*p50 += x->p50_peak[r];
			*p95 += x->p95_peak[r];
		}
	}
	return found;
}

static const struct plan_usage *usage_of(const struct plan_wave *w, const char *part, int r)
{
	size_t i;

	for (i = 0; i < w->nusage; i++)
		if (w->usage[i].resource == r && !strcmp(w->usage[i].partition, part))
			return &w->usage[i];
	return NULL;
}

/* The joint check after the fact: per online partition and resource, the
 * actual total of what the plan put there, step by step. */
static int simulate_partitions(struct part_sim *res, const struct plan *p, const struct history *h)
{
	size_t i, wi, j;
	int r;

	if (p->npartitions && !(res->parts = calloc(p->npartitions * ADP_RES_COUNT, sizeof(*res->parts))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (i = 0; i < p->npartitions; i++)
		for (r = 0; r < ADP_RES_COUNT; r++) {
			struct part_sim_part *x = &res->parts[res->nparts++];

			if (!(x->partition = strdup(p->partitions[i].name)))
				return adp_error_set(ADP_ENOMEM, "out of memory");
			x->resource = r;
			x->capacity = p->partitions[i].capacity[r];
		}
	for (wi = 0; wi < p->nwaves; wi++) {
		const struct plan_wave *w = &p->waves[wi];
		int64_t t0 = w->start - ((w->start % p->step) + p->step) % p->step, t;

		for (i = 0; i < p->npartitions; i++)
			for (r = 0; r < ADP_RES_COUNT; r++) {
				struct part_sim_part *x = &res->parts[i * ADP_RES_COUNT + (size_t)r];
				const struct plan_usage *u = usage_of(w, x->partition, r);
				size_t placed = 0;

				if (!u)
					continue; /* offline in this wave */
				for (t = t0; t < w->end; t += p->step) {
					double tot = 0;
					int complete = 1;
					size_t hi = (size_t)((t - t0) / p->step);

					placed = 0;
					for (j = 0; j < w->nplacements && complete; j++) {
						const struct plan_placement *pl = &w->placements[j];
						const struct series *s;
						double v;

						if (strcmp(pl->partition, x->partition))
							continue;
						placed++;
						s = history_find(h, pl->component, r);
						v = s ? series_at(s, t) : NAN;
						if (isnan(v))
							complete = 0;
						else
							tot += v / (double)plan_wave_replicas(w, pl->component);
					}
					if (!complete || !placed)
						continue;
					x->steps++;
					x->overloads += x->capacity > 0 && tot > x->capacity;
					if (u->prob && hi < u->nsteps && x->capacity > 0) {
						struct part_sim_bin *b = &res->calib[r][part_sim_bin_of(u->prob[hi])];

						b->steps++;
						b->prob_sum += u->prob[hi];
						b->overloads += tot > x->capacity;
					}
					if (x->capacity > 0 && tot > x->capacity)
						x->excess_max = fmax(x->excess_max, tot - x->capacity);
					else if (x->capacity > 0)
						x->slack_sum += x->capacity - tot;
					if (x->capacity > 0 && tot / x->capacity > x->peak_util)
						x->peak_util = tot / x->capacity;
					if (u->bound && hi < u->nsteps) {
						x->bound_steps++;
						x->above_bound += tot > u->bound[hi];
					}
				}
			}
	}
	return 0;
}

/* The VPA-like recommendations scaled, per resource, so that their total
 * reserve over the plan's steps equals the plan's, replayed over the same
 * steps: violations at equal reserved capacity. */
static int simulate_equal_reserve(struct part_sim *res, const struct plan *p, const struct history *h,
				  const double *vpas, const struct part_sim_guarantee *g, size_t ng)
{
	double plan_sum[ADP_RES_COUNT] = { 0 }, vpa_sum[ADP_RES_COUNT] = { 0 };
	size_t i, j, wi;

	for (i = 0; i < res->n; i++)
		if (!isnan(vpas[i])) {
			plan_sum[res->rows[i].resource] += res->rows[i].m[PART_SIM_PLAN].reserved_sum;
			vpa_sum[res->rows[i].resource] += res->rows[i].m[PART_SIM_VPA].reserved_sum;
		}
	for (i = 0; i < res->n; i++) {
		struct part_sim_row *row = &res->rows[i];
		const struct series *s = history_find(h, row->component, row->resource);
		double f, min = 0;

		if (!s || isnan(vpas[i]) || vpa_sum[row->resource] <= 0)
			continue;
		f = plan_sum[row->resource] / vpa_sum[row->resource];
		for (j = 0; j < ng; j++)
			if (!strcmp(g[j].component, row->component))
				min = g[j].min[row->resource];
		for (wi = 0; wi < p->nwaves; wi++) {
			const struct plan_wave *w = &p->waves[wi];
			int64_t t = w->start - ((w->start % s->step) + s->step) % s->step;

			if (isnan(plan_alloc(w, s->component, s->resource, NULL)))
				continue;
			for (; t < w->end; t += s->step) {
				double d = series_at(s, t);

				if (!isnan(d))
					account(&row->m[PART_SIM_EQUAL], vpas[i] * f, vpas[i] * f, d, min);
			}
		}
	}
	return 0;
}

int part_simulate(struct part_sim *out, const struct plan *p, const struct history *h,
		  const struct part_sim_guarantee *guarantees, size_t nguarantees)
{
	struct part_sim res = { 0 };
	size_t i, j, wi;
	double *vpas = NULL;
	int64_t cut;
	int rc = 0;

	if (h->n && (!(res.rows = calloc(h->n, sizeof(*res.rows))) || !(vpas = calloc(h->n, sizeof(double))))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	/* The baselines see the history the plan saw: up to the time it was
	 * made (its --now), not up to the window. */
	cut = p->created_at > 0 && p->created_at < p->window_start ? p->created_at : p->window_start;

	for (i = 0; i < h->n; i++) {
		const struct series *s = &h->items[i];
		struct part_sim_row *row;
		double peak = NAN, vpa = NAN, min = 0;

		for (j = 0; j < s->n; j++)
			if (s->start + (int64_t)j * s->step < cut && !isnan(s->v[j]) &&
			    (isnan(peak) || s->v[j] > peak))
				peak = s->v[j];
		for (j = 0; j < nguarantees; j++)
			if (!strcmp(guarantees[j].component, s->component))
				min = guarantees[j].min[s->resource];
		if ((rc = vpa_size(s, cut, &vpa)))
			goto done;
		vpas[res.n] = vpa;
		row = &res.rows[res.n];
		if (!(row->component = strdup(s->component))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		row->resource = s->resource;
		row->fc.resource = s->resource;
		res.n++;
		for (wi = 0; wi < p->nwaves; wi++) {
			const struct plan_wave *w = &p->waves[wi];
			double reserve, alloc = plan_alloc(w, s->component, s->resource, &reserve);
			int64_t t = w->start - ((w->start % s->step) + s->step) % s->step;

			if (isnan(alloc))
				continue;
			if (row->fc.nlast) /* the naive scale runs within a wave */
				row->fc.last[0] = NAN;
			for (; t < w->end; t += s->step) {
				double d = series_at(s, t), prev = series_at(s, t - s->step);

				double b50, b95;

				if (isnan(d))
					continue;
				account(&row->m[PART_SIM_PLAN], alloc, reserve, d, min);
				if (!plan_band(w, s->component, s->resource, t, p->step, &b50, &b95) &&
				    acc_row_add(&row->fc, 0, d, b50, b95, alloc)) {
					rc = adp_error_set(ADP_ENOMEM, "out of memory");
					goto done;
				}
				if (!isnan(peak))
					account(&row->m[PART_SIM_PEAK], peak, peak, d, min);
				if (!isnan(vpa))
					account(&row->m[PART_SIM_VPA], vpa, vpa, d, min);
				if (!isnan(prev))
					account(&row->m[PART_SIM_REACTIVE], prev * 1.15, prev * 1.15, d, min);
			}
		}
	}
	if ((rc = simulate_equal_reserve(&res, p, h, vpas, guarantees, nguarantees)))
		goto done;
	if ((rc = simulate_partitions(&res, p, h)))
		goto done;
	*out = res;
	memset(&res, 0, sizeof(res));
done:
	part_sim_release(&res);
	free(vpas);
	return rc;
}
