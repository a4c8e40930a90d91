#include "partition/planner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/steps.h"
#include "util/error.h"
#include "util/timeutil.h"

const double part_granularity[ADP_RES_COUNT] = { 0.125, 64.0 * 1048576, 1048576, 1048576 };

/* Per-replica demand of every component: dem[(c * R + r) * K * H + k * H + h]
 * over the window's H steps and K joint scenarios. */
struct demand {
	size_t K, H;
	double *v;
	double *q;     /* per-replica quantile at the resource's confidence: [(c*R+r)*H + h] */
	double *q50, *q95;
};

struct ctx {
	const struct part_request *req;
	const struct inventory *inv;
	const struct schedule *s;
	int64_t grid0;         /* time of step 0 */
	struct demand d;
	struct plan *p;
	/* per wave, scratch */
	double *load;          /* [(part * R + r) * K * H + k * H + h] */
	double *minsum;        /* [part * R + r] */
	int *hosts;            /* [comp * nparts]: replicas of comp on part this wave */
	double *sorted;        /* K scratch */
};

static double *dem_at(struct ctx *c, size_t comp, int r)
{
	return c->d.v + ((comp * ADP_RES_COUNT + (size_t)r) * c->d.K) * c->d.H;
}

static double *load_at(struct ctx *c, size_t part, int r)
{
	return c->load + ((part * ADP_RES_COUNT + (size_t)r) * c->d.K) * c->d.H;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The sum that may be exceeded in at most floor(eps * K) scenarios: the
 * plan fits a partition and resource at a step when this is within the
 * capacity, so P(total > capacity) <= eps on the scenarios. */
static double risk_total(struct ctx *c, const double *base, const double *extra, size_t h, double eps)
{
	size_t K = c->d.K, k, allowed = (size_t)floor(eps * (double)K + 1e-9);

	for (k = 0; k < K; k++)
		c->sorted[k] = base[k * c->d.H + h] + (extra ? extra[k * c->d.H + h] : 0);
	qsort(c->sorted, K, sizeof(double), cmp_double);
	return c->sorted[K - 1 - (allowed < K ? allowed : K - 1)];
}

static int build_demand(struct ctx *c)
{
	const struct inventory *inv = c->inv;
	const struct forecast *fc = c->req->fc;
	size_t K = 0, H = fc->opts.horizon, i, k, h;
	int r;

	/* Scenario k must mean the same past period for every series, so
	 * only as many as the shortest history offers are joint. */
	for (i = 0; i < fc->n; i++)
		if (K == 0 || fc->items[i].nscen < K)
			K = fc->items[i].nscen;
	if (K == 0)
		K = 1;
	c->d.K = K;
	c->d.H = H;
	c->d.v = calloc(inv->ncomps * ADP_RES_COUNT * K * H, sizeof(double));
	c->d.q = calloc(inv->ncomps * ADP_RES_COUNT * H, sizeof(double));
	c->d.q50 = calloc(inv->ncomps * ADP_RES_COUNT * H, sizeof(double));
	c->d.q95 = calloc(inv->ncomps * ADP_RES_COUNT * H, sizeof(double));
	if (!c->d.v || !c->d.q || !c->d.q50 || !c->d.q95)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (i = 0; i < inv->ncomps; i++) {
		const struct inv_component *comp = &inv->comps[i];
		double rep = (double)comp->replicas;

		for (r = 0; r < ADP_RES_COUNT; r++) {
			const struct forecast_series *fs = forecast_find(fc, comp->name, r);
			double *dv = dem_at(c, i, r);
			size_t qi = (i * ADP_RES_COUNT + (size_t)r) * H;

			for (h = 0; h < H; h++) {
				if (!fs) {
					/* No history for this resource: plan at the guarantee. */
					for (k = 0; k < K; k++)
						dv[k * H + h] = comp->min[r];
					c->d.q[qi + h] = c->d.q50[qi + h] = c->d.q95[qi + h] = comp->min[r];
					continue;
				}
				for (k = 0; k < K; k++)
					dv[k * H + h] = fs->scen[k * H + h] / rep;
				c->d.q[qi + h] = forecast_quantile(fs, fc->opts.levels, h, c->s->confidence[r]) / rep;
				c->d.q50[qi + h] = forecast_quantile(fs, fc->opts.levels, h, 0.5) / rep;
				c->d.q95[qi + h] = forecast_quantile(fs, fc->opts.levels, h, 0.95) / rep;
			}
		}
	}
	return 0;
}

static int add_shortfall(struct plan *p, size_t wave, const char *partition, const char *component,
			 int resource, double demand, double capacity, int64_t at, const char *advice)
{
	struct plan_shortfall *g = realloc(p->shortfalls, (p->nshortfalls + 1) * sizeof(*g)), *s;

	if (!g)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	p->shortfalls = g;
	s = &g[p->nshortfalls++];
	memset(s, 0, sizeof(*s));
	s->wave = wave;
	s->resource = resource;
	s->demand = demand;
	s->capacity = capacity;
	s->missing = demand - capacity;
	s->at = at;
	s->partition = partition ? strdup(partition) : NULL;
	s->component = component ? strdup(component) : NULL;
	s->advice = advice ? strdup(advice) : NULL;
	if ((partition && !s->partition) || (component && !s->component) || (advice && !s->advice))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}

static int64_t update_time(const struct schedule *s, size_t part)
{
	size_t i;

	for (i = 0; i < s->npartitions; i++)
		if (s->partitions[i] == part)
			return s->update_duration[i];
	return 0;
}

/* Waves: the schedule's partitions in order, max_concurrency at a time,
 * back to back from the window's start; a wave that would overlap a
 * blackout starts when the blackout ends. */
static int build_waves(struct ctx *c)
{
	const struct schedule *s = c->s;
	struct plan *p = c->p;
	size_t conc = s->max_concurrency, nw, w, i;
	int64_t t = s->start;

	nw = (s->npartitions + conc - 1) / conc;
	if (nw && !(p->waves = calloc(nw, sizeof(*p->waves))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (w = 0; w < nw; w++) {
		struct plan_wave *wave = &p->waves[w];
		size_t first = w * conc, n = s->npartitions - first < conc ? s->npartitions - first : conc;
		int64_t longest = 0, dur, after;

		p->nwaves++;
		if (!(wave->offline = calloc(n, sizeof(char *))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		for (i = 0; i < n; i++) {
			size_t part = s->partitions[first + i];
			if (!(wave->offline[i] = strdup(c->inv->parts[part].name)))
				return adp_error_set(ADP_ENOMEM, "out of memory");
			wave->noffline++;
			if (update_time(s, part) > longest)
				longest = update_time(s, part);
		}
		dur = s->drain_duration + longest + s->verify_duration;
		while ((after = schedule_blackout_end(s, t, t + dur)))
			t = after;
		wave->start = t;
		wave->end = t + dur;
		t = wave->end;
	}
	p->margin = p->cutoff_at - (nw ? p->waves[nw - 1].end : s->start);
	if (p->margin < 0) {
		char need[32], have[32], advice[256];
		size_t total = c->inv->nparts;

		adp_duration_format(need, t - s->start);
		adp_duration_format(have, p->cutoff_at - s->start);
		snprintf(advice, sizeof(advice),
			 "the waves need %s but the window allows %s before the cutoff: raise max_concurrency (now %zu of %zu partitions), shorten the updates, or widen the window",
			 need, have, conc, total);
		/* Clip the waves to the window so the document stays consistent. */
		for (w = 0; w < nw; w++) {
			if (p->waves[w].end > s->end)
				p->waves[w].end = s->end;
			if (p->waves[w].start >= p->waves[w].end)
				p->waves[w].start = p->waves[w].end - 1;
		}
		return add_shortfall(p, 0, NULL, NULL, -1, (double)(t - s->start),
				     (double)(p->cutoff_at - s->start), p->cutoff_at, advice);
	}
	return 0;
}

static int is_offline(const struct plan_wave *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->noffline; i++)
		if (!strcmp(w->offline[i], name))
			return 1;
	return 0;
}

struct mover {
	size_t comp, replica, home;
	double share;  /* dominant share of a partition's capacity, for ordering */
};

/* Critical tiers first, then the largest: they are hardest to fit. */
static int cmp_mover(const void *a, const void *b, void *arg)
{
	const struct mover *x = a, *y = b;
	const struct inventory *inv = arg;
	int tx = inv->comps[x->comp].tier, ty = inv->comps[y->comp].tier;

	if (tx != ty)
		return tx - ty;
	if (x->share != y->share)
		return x->share < y->share ? 1 : -1;
	if (x->comp != y->comp)
		return x->comp < y->comp ? -1 : 1;
	return x->replica < y->replica ? -1 : x->replica > y->replica;
}

static void add_demand(struct ctx *c, size_t part, size_t comp, size_t h0, size_t h1, int sign)
{
	size_t K = c->d.K, H = c->d.H, k, h;
	int r;

	for (r = 0; r < ADP_RES_COUNT; r++) {
		double *l = load_at(c, part, r), *d = dem_at(c, comp, r);

		for (k = 0; k < K; k++)
			for (h = h0; h < h1; h++)
				l[k * H + h] += sign * d[k * H + h];
		c->minsum[part * ADP_RES_COUNT + (size_t)r] += sign * c->inv->comps[comp].min[r];
	}
}

/* Headroom left on part after adding comp, at the confidence level, as
 * the smallest fraction of capacity over resources and steps; *worst_r
 * and *worst_h say where, *need what the total would be there. */
static double fit_score(struct ctx *c, size_t part, size_t comp, size_t h0, size_t h1,
			int *worst_r, size_t *worst_h, double *need)
{
	const struct inv_partition *P = &c->inv->parts[part];
	double best = INFINITY;
	size_t h;
	int r;

	for (r = 0; r < ADP_RES_COUNT; r++) {
		double cap = P->capacity[r], *l = load_at(c, part, r), *d = dem_at(c, comp, r);
		double eps = 1 - c->s->confidence[r];
		double mins = c->minsum[part * ADP_RES_COUNT + (size_t)r] + c->inv->comps[comp].min[r];

		if (cap <= 0) {
			/* Unmetered resource (no capacity given): never a constraint. */
			continue;
		}
		if ((cap - mins) / cap < best) {
			best = (cap - mins) / cap;
			*worst_r = r;
			*worst_h = h0;
			*need = mins;
		}
		for (h = h0; h < h1; h++) {
			double tot = risk_total(c, l, d, h, eps);
			if ((cap - tot) / cap < best) {
				best = (cap - tot) / cap;
				*worst_r = r;
				*worst_h = h;
				*need = tot;
			}
		}
	}
	return best;
}

static double round_up(double v, double unit)
{
	return ceil(v / unit - 1e-9) * unit;
}

static int add_placement(struct ctx *c, struct plan_wave *w, size_t comp, size_t replica,
			 size_t part, const char *from, size_t h0, size_t h1)
{
	const struct inv_component *cc = &c->inv->comps[comp];
	struct plan_placement *x = &w->placements[w->nplacements++];
	size_t h, H = c->d.H;
	int r;

	x->component = strdup(cc->name);
	x->partition = strdup(c->inv->parts[part].name);
	x->from = from ? strdup(from) : NULL;
	x->replica = replica;
	x->tier = cc->tier;
	if (!x->component || !x->partition || (from && !x->from))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (r = 0; r < ADP_RES_COUNT; r++) {
		size_t qi = (comp * ADP_RES_COUNT + (size_t)r) * H;
		double peak = 0, p50 = 0, p95 = 0;

		for (h = h0; h < h1; h++) {
			peak = fmax(peak, c->d.q[qi + h]);
			p50 = fmax(p50, c->d.q50[qi + h]);
			p95 = fmax(p95, c->d.q95[qi + h]);
		}
		x->alloc[r] = fmax(round_up(peak, part_granularity[r]), cc->min[r]);
		x->p50_peak[r] = p50;
		x->p95_peak[r] = p95;
	}
	/* The same forecast per step, for apply's monitoring. */
	if (h1 > h0) {
		x->band_p50 = calloc((h1 - h0) * ADP_RES_COUNT, sizeof(double));
		x->band_p95 = calloc((h1 - h0) * ADP_RES_COUNT, sizeof(double));
		if (!x->band_p50 || !x->band_p95)
			return adp_error_set(ADP_ENOMEM, "out of memory");
		x->nband = h1 - h0;
		x->band_start = c->grid0 + (int64_t)h0 * c->s->step;
		for (r = 0; r < ADP_RES_COUNT; r++)
			for (h = h0; h < h1; h++) {
				size_t qi = (comp * ADP_RES_COUNT + (size_t)r) * H + h;
				x->band_p50[(h - h0) * ADP_RES_COUNT + (size_t)r] = c->d.q50[qi];
				x->band_p95[(h - h0) * ADP_RES_COUNT + (size_t)r] = c->d.q95[qi];
			}
	}
	c->hosts[comp * c->inv->nparts + part]++;
	return 0;
}

static int plan_wave(struct ctx *c, size_t wi)
{
	const struct inventory *inv = c->inv;
	struct plan *p = c->p;
	struct plan_wave *w = &p->waves[wi];
	size_t H = c->d.H, K = c->d.K, total = 0, nmovers = 0, i, j, part, h;
	size_t h0 = (size_t)((w->start - c->grid0) / c->s->step);
	size_t h1 = (size_t)((w->end - c->grid0 + c->s->step - 1) / c->s->step);
	struct mover *movers = NULL;
	int rc = 0, r;

	if (h1 > H)
		h1 = H;
	if (h0 >= h1)
		h0 = h1 ? h1 - 1 : 0;
	memset(c->load, 0, inv->nparts * ADP_RES_COUNT * K * H * sizeof(double));
	memset(c->minsum, 0, inv->nparts * ADP_RES_COUNT * sizeof(double));
	memset(c->hosts, 0, inv->ncomps * inv->nparts * sizeof(int));
	for (i = 0; i < inv->ncomps; i++)
		total += inv->comps[i].replicas;
	w->placements = calloc(total + 1, sizeof(*w->placements));
	movers = calloc(total + 1, sizeof(*movers));
	if (!w->placements || !movers) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	/* Replicas at home on an online partition stay; the rest move. */
	for (i = 0; i < inv->ncomps; i++) {
		for (j = 0; j < inv->comps[i].replicas; j++) {
			size_t home = inv->comps[i].placement[j];

			if (!is_offline(w, inv->parts[home].name)) {
				add_demand(c, home, i, h0, h1, 1);
				if ((rc = add_placement(c, w, i, j, home, NULL, h0, h1)))
					goto done;
				continue;
			}
			movers[nmovers].comp = i;
			movers[nmovers].replica = j;
			movers[nmovers].home = home;
			for (r = 0; r < ADP_RES_COUNT; r++) {
				double cap = inv->parts[home].capacity[r], peak = 0;
				size_t qi = (i * ADP_RES_COUNT + (size_t)r) * H;

				for (h = h0; h < h1; h++)
					peak = fmax(peak, c->d.q[qi + h]);
				if (cap > 0 && peak / cap > movers[nmovers].share)
					movers[nmovers].share = peak / cap;
			}
			nmovers++;
		}
	}
	qsort_r(movers, nmovers, sizeof(*movers), cmp_mover, (void *)inv);
	for (i = 0; i < nmovers && !rc; i++) {
		const struct mover *m = &movers[i];
		double best = -INFINITY, bneed = 0;
		size_t bpart = inv->nparts, bh = h0;
		int br = 0;

		for (part = 0; part < inv->nparts; part++) {
			double score, need = 0;
			size_t wh = h0;
			int wr = 0;

			if (is_offline(w, inv->parts[part].name) || c->hosts[m->comp * inv->nparts + part])
				continue;
			score = fit_score(c, part, m->comp, h0, h1, &wr, &wh, &need);
			/* Prefer the most headroom; ties go to the same zone as home. */
			if (score > best || (score == best && bpart < inv->nparts &&
					     !strcmp(inv->parts[part].zone, inv->parts[m->home].zone) &&
					     strcmp(inv->parts[bpart].zone, inv->parts[m->home].zone))) {
				best = score;
				bpart = part;
				br = wr;
				bh = wh;
				bneed = need;
			}
		}
		if (bpart == inv->nparts) {
			char advice[256];

			snprintf(advice, sizeof(advice),
				 "every online partition already runs a replica of '%s': add a partition, take fewer partitions offline per wave, or run fewer replicas",
				 inv->comps[m->comp].name);
			rc = add_shortfall(p, wi + 1, inv->parts[m->home].name, inv->comps[m->comp].name,
					   -1, 1, 0, w->start, advice);
			continue;
		}
		if (best < 0) {
			char advice[300];
			double cap = inv->parts[bpart].capacity[br];

			snprintf(advice, sizeof(advice),
				 "add %s%.3g %s to '%s', lower the %s confidence (now %.3g), or take fewer partitions offline per wave",
				 "", bneed - cap, br == ADP_RES_CPU ? "cores" : br == ADP_RES_MEMORY ? "bytes" : "bytes/s",
				 inv->parts[bpart].name, adp_resource_name(br), c->s->confidence[br]);
			rc = add_shortfall(p, wi + 1, inv->parts[bpart].name, inv->comps[m->comp].name, br,
					   bneed, cap, c->grid0 + (int64_t)bh * c->s->step, advice);
			if (rc)
				break;
		}
		add_demand(c, bpart, m->comp, h0, h1, 1);
		rc = add_placement(c, w, m->comp, m->replica, bpart, inv->parts[m->home].name, h0, h1);
	}
	if (rc)
		goto done;
	/* Predicted utilisation of every online partition, step by step. */
	w->usage = calloc(inv->nparts * ADP_RES_COUNT + 1, sizeof(*w->usage));
	if (!w->usage) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (part = 0; part < inv->nparts; part++) {
		if (is_offline(w, inv->parts[part].name))
			continue;
		for (r = 0; r < ADP_RES_COUNT; r++) {
			struct plan_usage *u = &w->usage[w->nusage++];
			double cap = inv->parts[part].capacity[r], *l = load_at(c, part, r);
			double eps = 1 - c->s->confidence[r], worst = -INFINITY;
			size_t k, worst_h = h0;

			u->partition = strdup(inv->parts[part].name);
			u->resource = r;
			u->capacity = cap;
			u->nsteps = h1 - h0;
			u->p50 = calloc(u->nsteps + 1, sizeof(double));
			u->p95 = calloc(u->nsteps + 1, sizeof(double));
			if (!u->partition || !u->p50 || !u->p95) {
				rc = adp_error_set(ADP_ENOMEM, "out of memory");
				goto done;
			}
			u->headroom = cap;
			for (h = h0; h < h1; h++) {
				size_t over = 0;
				double pos;

				for (k = 0; k < K; k++) {
					c->sorted[k] = l[k * H + h];
					over += cap > 0 && l[k * H + h] > cap;
				}
				qsort(c->sorted, K, sizeof(double), cmp_double);
				pos = 0.5 * (double)(K - 1);
				u->p50[h - h0] = c->sorted[(size_t)pos] + (pos - floor(pos)) *
					(c->sorted[(size_t)pos + ((size_t)pos + 1 < K)] - c->sorted[(size_t)pos]);
				pos = 0.95 * (double)(K - 1);
				u->p95[h - h0] = c->sorted[(size_t)pos] + (pos - floor(pos)) *
					(c->sorted[(size_t)pos + ((size_t)pos + 1 < K)] - c->sorted[(size_t)pos]);
				u->overload_prob = fmax(u->overload_prob, (double)over / (double)K);
				u->headroom = fmin(u->headroom, cap - u->p95[h - h0]);
				if (cap > 0) {
					double t = risk_total(c, l, NULL, h, eps);
					if (t - cap > worst) {
						worst = t - cap;
						worst_h = h;
					}
				}
			}
			/* Overloaded by the replicas that stay, whatever moves. */
			if (cap > 0 && worst > 0) {
				size_t s;
				int known = 0;

				for (s = 0; s < p->nshortfalls; s++)
					known |= p->shortfalls[s].wave == wi + 1 && p->shortfalls[s].resource == r &&
						 p->shortfalls[s].partition && !strcmp(p->shortfalls[s].partition, inv->parts[part].name);
				if (!known) {
					char advice[256];
					snprintf(advice, sizeof(advice),
						 "'%s' is short of %s even before anything moves: add capacity or move load off it",
						 inv->parts[part].name, adp_resource_name(r));
					if ((rc = add_shortfall(p, wi + 1, inv->parts[part].name, NULL, r, worst + cap, cap,
								c->grid0 + (int64_t)worst_h * c->s->step, advice)))
						goto done;
				}
			}
		}
	}
done:
	free(movers);
	return rc;
}

static int64_t step_update_timeout(const char *partition, void *arg)
{
	const struct ctx *c = arg;
	int idx = inventory_partition_index(c->inv, partition);

	/* Twice the expected duration: a timeout, not an estimate. */
	return idx < 0 ? 0 : 2 * update_time(c->s, (size_t)idx);
}

static int summarise_forecast(struct ctx *c)
{
	const struct forecast *fc = c->req->fc;
	struct plan *p = c->p;
	size_t i, h;

	if (fc->n && !(p->forecast = calloc(fc->n, sizeof(*p->forecast))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (i = 0; i < fc->n; i++) {
		const struct forecast_series *fs = &fc->items[i];
		struct plan_forecast_summary *f = &p->forecast[p->nforecast++];

		f->component = strdup(fs->component);
		f->model = strdup(fs->model);
		f->resource = fs->resource;
		if (!f->component || !f->model)
			return adp_error_set(ADP_ENOMEM, "out of memory");
		for (h = 0; h < fs->horizon; h++) {
			f->p50_peak = fmax(f->p50_peak, forecast_quantile(fs, fc->opts.levels, h, 0.5));
			f->p95_peak = fmax(f->p95_peak, forecast_quantile(fs, fc->opts.levels, h, 0.95));
		}
	}
	return 0;
}

int part_plan(struct plan *out, const struct part_request *req)
{
	const struct inventory *inv = req->inv;
	const struct schedule *s = req->sched;
	struct plan p = { 0 };
	struct ctx c = { 0 };
	size_t i, w;
	int rc, r;

	c.req = req;
	c.inv = inv;
	c.s = s;
	c.p = &p;
	c.grid0 = req->fc->opts.start;
	if (req->fc->opts.step != s->step || c.grid0 > s->start ||
	    c.grid0 + (int64_t)req->fc->opts.horizon * s->step < s->end)
		return adp_error_set(ADP_EINPUT, "the forecast does not cover the window at the schedule's step");
	p.format_version = PLAN_FORMAT_VERSION;
	p.created_at = req->now;
	p.expires_at = req->now + s->plan_ttl < s->end - s->cutoff ? req->now + s->plan_ttl : s->end - s->cutoff;
	p.window_start = s->start;
	p.window_end = s->end;
	p.cutoff_at = s->end - s->cutoff;
	p.step = s->step;
	p.max_concurrency = s->max_concurrency;
	p.period = req->fc->opts.period ? req->fc->opts.period : 86400;
	for (r = 0; r < ADP_RES_COUNT; r++)
		p.confidence[r] = s->confidence[r];
	if (!(p.tool_version = strdup(req->tool_version)) || !(p.schedule_name = strdup(s->name)) ||
	    !(p.timezone = strdup(s->timezone)) ||
	    !(p.model = strdup(req->fc->n ? req->fc->items[0].model : "none"))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	if (!(p.partitions = calloc(inv->nparts, sizeof(*p.partitions)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < inv->nparts; i++) {
		struct plan_partition *pp = &p.partitions[p.npartitions++];
		size_t j;

		pp->name = strdup(inv->parts[i].name);
		pp->zone = strdup(inv->parts[i].zone);
		if (!pp->name || !pp->zone) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		memcpy(pp->capacity, inv->parts[i].capacity, sizeof(pp->capacity));
		for (j = 0; j < s->npartitions; j++)
			pp->updated |= s->partitions[j] == i;
	}
	if ((rc = summarise_forecast(&c)) || (rc = build_demand(&c)))
		goto done;
	p.scenarios = c.d.K;
	c.load = malloc(inv->nparts * ADP_RES_COUNT * c.d.K * c.d.H * sizeof(double) + 1);
	c.minsum = malloc(inv->nparts * ADP_RES_COUNT * sizeof(double) + 1);
	c.hosts = malloc(inv->ncomps * inv->nparts * sizeof(int) + 1);
	c.sorted = malloc(c.d.K * sizeof(double));
	if (!c.load || !c.minsum || !c.hosts || !c.sorted) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory: the window has %zu steps and %zu scenarios",
				   c.d.H, c.d.K);
		goto done;
	}
	if ((rc = build_waves(&c)))
		goto done;
	for (w = 0; w < p.nwaves; w++)
		if ((rc = plan_wave(&c, w)))
			goto done;
	if ((rc = orch_steps_build(&p, step_update_timeout, &c)))
		goto done;
	if (c.d.K < 7 && (rc = plan_add_risk(&p, "only %zu joint scenarios: overload probabilities are coarse (a week of history gives 7)", c.d.K)))
		goto done;
	for (w = 0; w < p.nwaves && !rc; w++)
		for (i = 0; i < p.waves[w].nusage && !rc; i++) {
			const struct plan_usage *u = &p.waves[w].usage[i];
			if (u->capacity > 0 && u->headroom >= 0 && u->headroom < 0.1 * u->capacity)
				rc = plan_add_risk(&p, "wave %zu: '%s' %s has under 10%% headroom at p95", w + 1,
						   u->partition, adp_resource_name(u->resource));
		}
	if (rc)
		goto done;
	rc = p.nshortfalls ? ADP_EINFEASIBLE : 0;
	if (rc)
		adp_error_set(rc, "no plan fits: %zu shortfall%s", p.nshortfalls, p.nshortfalls == 1 ? "" : "s");
	*out = p;
	memset(&p, 0, sizeof(p));
done:
	plan_release(&p);
	free(c.d.v);
	free(c.d.q);
	free(c.d.q50);
	free(c.d.q95);
	free(c.load);
	free(c.minsum);
	free(c.hosts);
	free(c.sorted);
	return rc;
}
