#include "partition/exact.h"

#include <float.h>
#include <glpk.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/error.h"

#define R ADP_RES_COUNT
/* A total is over capacity when above it by more than this share: GLPK's
 * feasibility tolerance, so that both solvers and the check agree. */
#define OVER_TOL 1e-7
/* A MILP larger than this is not built: GLPK aborts on out of memory. */
#define MAX_NONZEROS ((size_t)4 << 20)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int part_wave_problem_init(struct part_wave_problem *w, size_t N, size_t P, size_t S, size_t K)
{
	size_t i;

	memset(w, 0, sizeof(*w));
	if (!P || !S || !K || N > ((size_t)1 << 24) || P > ((size_t)1 << 16) || S * K > ((size_t)1 << 24))
		return adp_error_set(ADP_EINPUT, "wave problem of %zu movers, %zu partitions, %zu steps and %zu scenarios is out of range",
				     N, P, S, K);
	w->nmovers = N;
	w->nparts = P;
	w->nsteps = S;
	w->nscen = K;
	w->comp = calloc(N + 1, sizeof(*w->comp));
	w->tier = calloc(N + 1, sizeof(*w->tier));
	w->home_zone = calloc(N + 1, sizeof(*w->home_zone));
	w->min = calloc(N * R + 1, sizeof(double));
	w->alloc = calloc(N * R + 1, sizeof(double));
	w->mean = calloc(N * R + 1, sizeof(double));
	w->unc = calloc(N + 1, sizeof(double));
	w->dem = calloc(N * R * S * K + 1, sizeof(double));
	w->cap = calloc(P * R, sizeof(double));
	w->base = calloc(P * R * S * K, sizeof(double));
	w->base_min = calloc(P * R, sizeof(double));
	w->base_impact = calloc(P, sizeof(double));
	w->zone = calloc(P, sizeof(int));
	w->forbid = calloc(N * P + 1, 1);
	if (!w->comp || !w->tier || !w->home_zone || !w->min || !w->alloc || !w->mean || !w->unc ||
	    !w->dem || !w->cap || !w->base || !w->base_min || !w->base_impact || !w->zone || !w->forbid) {
		part_wave_problem_release(w);
		return adp_error_set(ADP_ENOMEM, "out of memory for a wave of %zu movers on %zu partitions", N, P);
	}
	for (i = 0; i < N; i++)
		w->home_zone[i] = -1;
	return 0;
}

void part_wave_problem_release(struct part_wave_problem *w)
{
	if (!w)
		return;
	free(w->comp);
	free(w->tier);
	free(w->home_zone);
	free(w->min);
	free(w->alloc);
	free(w->mean);
	free(w->unc);
	free(w->dem);
	free(w->cap);
	free(w->base);
	free(w->base_min);
	free(w->base_impact);
	free(w->zone);
	free(w->forbid);
	memset(w, 0, sizeof(*w));
}

void part_wave_solution_release(struct part_wave_solution *sol)
{
	if (!sol)
		return;
	free(sol->assign);
	memset(sol, 0, sizeof(*sol));
}

void part_exact_weights_default(struct part_exact_weights *wt)
{
	int t, r;

	memset(wt, 0, sizeof(*wt));
	wt->risk = 100;
	wt->waste = 1;
	wt->moves = 1;
	wt->confidence = 1;
	for (t = 0; t < PART_EXACT_TIERS; t++)
		wt->tier[t] = ldexp(1.0, -t);
	for (r = 0; r < R; r++)
		wt->res[r] = adp_resource_compressible(r) ? 1 : 4;
}

const char *part_exact_status_name(int status)
{
	switch (status) {
	case PART_EXACT_OPTIMAL: return "optimal";
	case PART_EXACT_FEASIBLE: return "feasible";
	case PART_EXACT_INFEASIBLE: return "infeasible";
	case PART_EXACT_NOSOLUTION: return "no solution";
	}
	return "unknown";
}

/* Scenarios allowed over capacity per partition, resource and step. */
static size_t allowed(const struct part_wave_problem *w, int r)
{
	double a = floor(w->eps[r] * (double)w->nscen + 1e-9);

	return a > 0 ? (size_t)a : 0;
}

static double over_at(double cap)
{
	return cap * (1 + OVER_TOL);
}

static const double *dem_of(const struct part_wave_problem *w, size_t i, int r, size_t s)
{
	return w->dem + (((i * R + (size_t)r) * w->nsteps + s) * w->nscen);
}

static const double *base_of(const struct part_wave_problem *w, size_t p, int r, size_t s)
{
	return w->base + (((p * R + (size_t)r) * w->nsteps + s) * w->nscen);
}

static int tier_of(const struct part_wave_problem *w, size_t i)
{
	int t = w->tier[i];

	return t < 0 ? 0 : t >= PART_EXACT_TIERS ? PART_EXACT_TIERS - 1 : t;
}

static int cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Utilisation of each partition by the replicas that stay, at each
 * resource's confidence (the (floor(eps K)+1)-th largest total), worst over
 * resources and steps: where an uncertain replica is least welcome. */
static int base_util(const struct part_wave_problem *w, double *u)
{
	size_t K = w->nscen, p, s;
	double *tmp = malloc(K * sizeof(double));
	int r;

	if (!tmp)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (p = 0; p < w->nparts; p++) {
		u[p] = 0;
		for (r = 0; r < R; r++) {
			double cap = w->cap[p * R + (size_t)r];
			size_t a = allowed(w, r);

			if (cap <= 0)
				continue;
			for (s = 0; s < w->nsteps; s++) {
				memcpy(tmp, base_of(w, p, r, s), K * sizeof(double));
				qsort(tmp, K, sizeof(double), cmp_desc);
				u[p] = fmax(u[p], tmp[a < K ? a : K - 1] / cap);
			}
		}
	}
	free(tmp);
	return 0;
}

/* The terms of the cost that depend only on the mover and its target. */
static double static_cost(const struct part_wave_problem *w, const struct part_exact_weights *wt,
			  const double *util, size_t i, size_t p)
{
	double c = 0, waste = 0;
	int r;

	for (r = 0; r < R; r++) {
		double cap = w->cap[p * R + (size_t)r];

		if (cap > 0)
			waste += fmax(0, w->alloc[i * R + (size_t)r] - w->mean[i * R + (size_t)r]) / cap;
	}
	c += wt->waste * waste;
	c += wt->confidence * w->unc[i] * util[p];
	if (w->home_zone[i] >= 0 && w->zone[p] != w->home_zone[i])
		c += wt->moves;
	return c;
}

struct cand {
	double lb;  /* lower bound on the cost of the move */
	size_t p;
};

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->lb != y->lb)
		return x->lb < y->lb ? -1 : 1;
	return x->p < y->p ? -1 : x->p > y->p;
}

/* Heuristic and checking state: the load of every partition per resource,
 * step and scenario with the movers placed so far. */
struct state {
	const struct part_wave_problem *w;
	const struct part_exact_weights *wt;
	size_t *assign;
	double *load;      /* like base */
	double *maxload;   /* [(p*R + r)*S + s] max over scenarios */
	double *dmax;      /* [(i*R + r)*S + s] */
	size_t *cnt;       /* [(p*R + r)*S + s] scenarios over capacity */
	double *gsum;      /* [p*R + r] guarantees placed */
	double *impact;    /* [p] base_impact plus the tiers of movers placed */
	double *pi;        /* [p] weighted overload probability */
	double base_risk;  /* the risk term with no mover placed: a constant */
	double *util;      /* [p] base utilisation at confidence */
	size_t *sib, *sib_start; /* movers grouped by component */
	size_t *scratch;   /* [R*S] counts under evaluation */
	struct cand *cand; /* [P] candidates of one mover, cheapest bound first */
	int prune;         /* weights and impacts non-negative: bounds hold */
};

static void state_release(struct state *st)
{
	free(st->load);
	free(st->maxload);
	free(st->dmax);
	free(st->cnt);
	free(st->gsum);
	free(st->impact);
	free(st->pi);
	free(st->util);
	free(st->sib);
	free(st->sib_start);
	free(st->scratch);
	free(st->cand);
	free(st->assign);
}

static const struct part_wave_problem *cmp_comp_w;

static int cmp_comp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	size_t cx = cmp_comp_w->comp[x], cy = cmp_comp_w->comp[y];

	return cx != cy ? (cx < cy ? -1 : 1) : (x < y ? -1 : x > y);
}

static int state_init(struct state *st, const struct part_wave_problem *w, const struct part_exact_weights *wt)
{
	size_t N = w->nmovers, P = w->nparts, S = w->nsteps, K = w->nscen, i, p, s, k, j;
	int r, rc;

	memset(st, 0, sizeof(*st));
	st->w = w;
	st->wt = wt;
	st->assign = malloc((N + 1) * sizeof(size_t));
	st->load = malloc(P * R * S * K * sizeof(double));
	st->maxload = malloc(P * R * S * sizeof(double));
	st->dmax = malloc((N * R * S + 1) * sizeof(double));
	st->cnt = calloc(P * R * S, sizeof(size_t));
	st->gsum = malloc(P * R * sizeof(double));
	st->impact = malloc(P * sizeof(double));
	st->pi = calloc(P, sizeof(double));
	st->util = malloc(P * sizeof(double));
	st->sib = malloc((N + 1) * sizeof(size_t));
	st->sib_start = malloc((N + 1) * sizeof(size_t));
	st->scratch = malloc(R * S * sizeof(size_t));
	st->cand = malloc(P * sizeof(*st->cand));
	if (!st->cand || !st->assign || !st->load || !st->maxload || !st->dmax || !st->cnt || !st->gsum || !st->impact ||
	    !st->pi || !st->util || !st->sib || !st->sib_start || !st->scratch)
		return adp_error_set(ADP_ENOMEM, "out of memory for a wave of %zu movers", N);
	memcpy(st->load, w->base, P * R * S * K * sizeof(double));
	memcpy(st->gsum, w->base_min, P * R * sizeof(double));
	memcpy(st->impact, w->base_impact, P * sizeof(double));
	for (i = 0; i < N; i++)
		st->assign[i] = PART_EXACT_UNPLACED;
	for (p = 0; p < P; p++) {
		double pi = 0;

		for (r = 0; r < R; r++) {
			double cap = w->cap[p * R + (size_t)r], thr = over_at(cap);
			size_t vmax = 0;

			for (s = 0; s < S; s++) {
				const double *b = base_of(w, p, r, s);
				size_t idx = (p * R + (size_t)r) * S + s, c = 0;
				double m = -INFINITY;

				for (k = 0; k < K; k++) {
					m = fmax(m, b[k]);
					c += cap > 0 && b[k] > thr;
				}
				st->maxload[idx] = m;
				st->cnt[idx] = c;
				vmax = c > vmax ? c : vmax;
			}
			pi += wt->res[r] * (double)vmax / (double)K;
		}
		st->pi[p] = pi;
		st->base_risk += wt->risk * pi * w->base_impact[p];
	}
	for (i = 0; i < N; i++)
		for (r = 0; r < R; r++)
			for (s = 0; s < S; s++) {
				const double *d = dem_of(w, i, r, s);
				double m = -INFINITY;

				for (k = 0; k < K; k++)
					m = fmax(m, d[k]);
				st->dmax[(i * R + (size_t)r) * S + s] = m;
			}
	/* Siblings: movers sorted by component; sib_start[i] is where i's
	 * group begins in sib. */
	for (i = 0; i < N; i++)
		st->sib[i] = i;
	cmp_comp_w = w;
	qsort(st->sib, N, sizeof(size_t), cmp_comp);
	for (j = 0; j < N; j++)
		st->sib_start[st->sib[j]] = j && w->comp[st->sib[j - 1]] == w->comp[st->sib[j]] ?
			st->sib_start[st->sib[j - 1]] : j;
	if ((rc = base_util(w, st->util)))
		return rc;
	st->prune = wt->risk >= 0;
	for (j = 0; j < PART_EXACT_TIERS; j++)
		st->prune &= wt->tier[j] >= 0;
	for (p = 0; p < P; p++)
		st->prune &= w->base_impact[p] >= 0;
	return 0;
}

/* A sibling of i (another replica of its component) is on p. */
static int sibling_on(const struct state *st, size_t i, size_t p)
{
	const struct part_wave_problem *w = st->w;
	size_t j;

	for (j = st->sib_start[i]; j < w->nmovers && w->comp[st->sib[j]] == w->comp[i]; j++)
		if (st->sib[j] != i && st->assign[st->sib[j]] == p)
			return 1;
	return 0;
}

/* Evaluates adding (sign 1) or removing (sign -1) mover i on p: returns 0
 * when the result breaks a constraint, else 1 with the new weighted
 * overload probability in *pi and the least headroom share in *head. */
static int eval(const struct state *st, size_t i, size_t p, int sign, double *pi_out, double *head)
{
	const struct part_wave_problem *w = st->w;
	size_t S = w->nsteps, K = w->nscen, s, k;
	double pi = 0, hd = INFINITY;
	int r;

	for (r = 0; r < R; r++) {
		double cap = w->cap[p * R + (size_t)r], thr = over_at(cap);
		size_t a = allowed(w, r), vmax = 0, base_idx = (p * R + (size_t)r) * S;

		if (cap <= 0)
			continue;
		if (sign > 0 && st->gsum[p * R + (size_t)r] + w->min[i * R + (size_t)r] > thr)
			return 0;
		for (s = 0; s < S; s++) {
			size_t idx = base_idx + s, c = 0;
			double hi = st->maxload[idx] + sign * st->dmax[(i * R + (size_t)r) * S + s];

			if (sign > 0 && hi <= thr) {
				/* Even the worst scenario fits. */
				hd = fmin(hd, (cap - hi) / cap);
				continue;
			}
			if (sign < 0 && st->cnt[idx] == 0)
				continue;
			{
				const double *l = st->load + idx * K, *d = dem_of(w, i, r, s);

				for (k = 0; k < K; k++)
					c += l[k] + sign * d[k] > thr;
			}
			if (c > a)
				return 0;
			vmax = c > vmax ? c : vmax;
			hd = fmin(hd, 0);
		}
		pi += st->wt->res[r] * (double)vmax / (double)K;
	}
	*pi_out = pi;
	if (head)
		*head = hd;
	return 1;
}

static void apply(struct state *st, size_t i, size_t p, int sign)
{
	const struct part_wave_problem *w = st->w;
	size_t S = w->nsteps, K = w->nscen, s, k;
	double pi = 0;
	int r;

	for (r = 0; r < R; r++) {
		double cap = w->cap[p * R + (size_t)r], thr = over_at(cap);
		size_t vmax = 0;

		st->gsum[p * R + (size_t)r] += sign * w->min[i * R + (size_t)r];
		if (cap <= 0)
			continue;  /* unmetered: its load is never looked at */
		for (s = 0; s < S; s++) {
			size_t idx = (p * R + (size_t)r) * S + s, c = 0;
			double *l = st->load + idx * K, m = -INFINITY;
			const double *d = dem_of(w, i, r, s);

			for (k = 0; k < K; k++) {
				l[k] += sign * d[k];
				m = fmax(m, l[k]);
				c += l[k] > thr;
			}
			st->maxload[idx] = m;
			st->cnt[idx] = c;
			vmax = c > vmax ? c : vmax;
		}
		pi += st->wt->res[r] * (double)vmax / (double)K;
	}
	st->pi[p] = pi;
	st->impact[p] += sign * st->wt->tier[tier_of(w, i)];
	st->assign[i] = sign > 0 ? p : PART_EXACT_UNPLACED;
}

static double dominant_share(const struct part_wave_problem *w, size_t i)
{
	double share = 0;
	int r;

	for (r = 0; r < R; r++) {
		double tot = 0;
		size_t p;

		for (p = 0; p < w->nparts; p++)
			tot += w->cap[p * R + (size_t)r];
		if (tot > 0)
			share = fmax(share, w->alloc[i * R + (size_t)r] * (double)w->nparts / tot);
	}
	return share;
}

struct order_key {
	size_t i;
	int tier;
	double share;
};

static int cmp_order(const void *a, const void *b, void *by_size)
{
	const struct order_key *x = a, *y = b;

	if (x->tier != y->tier && !*(int *)by_size)
		return x->tier - y->tier;
	if (x->share != y->share)
		return x->share < y->share ? 1 : -1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Cost change of adding i to p, or 0 when it does not fit there. */
static int add_delta(const struct state *st, size_t i, size_t p, double *delta, double *head)
{
	const struct part_wave_problem *w = st->w;
	double pi, t = st->wt->tier[tier_of(w, i)];

	if (w->forbid[i * w->nparts + p] || sibling_on(st, i, p) || !eval(st, i, p, 1, &pi, head))
		return 0;
	*delta = st->wt->risk * (pi * (st->impact[p] + t) - st->pi[p] * st->impact[p]) +
		 static_cost(w, st->wt, st->util, i, p);
	return 1;
}

/* Sorts the partitions for mover i by a lower bound on the cost of
 * adding it there: loads only add up, so a partition's overload share
 * cannot drop, and the risk grows by at least pi_p times i's tier
 * weight. Evaluating in this order, the search stops at the first bound
 * above the best found. */
static void sort_candidates(struct state *st, size_t i)
{
	const struct part_wave_problem *w = st->w;
	double t = st->wt->tier[tier_of(w, i)];
	size_t p;

	for (p = 0; p < w->nparts; p++) {
		st->cand[p].p = p;
		st->cand[p].lb = st->wt->risk * st->pi[p] * t + static_cost(w, st->wt, st->util, i, p);
	}
	qsort(st->cand, w->nparts, sizeof(*st->cand), cmp_cand);
}

static double total_cost(const struct state *st)
{
	const struct part_wave_problem *w = st->w;
	double c = -st->base_risk;
	size_t p, i;

	for (p = 0; p < w->nparts; p++)
		c += st->wt->risk * st->pi[p] * st->impact[p];
	for (i = 0; i < w->nmovers; i++)
		if (st->assign[i] != PART_EXACT_UNPLACED)
			c += static_cost(w, st->wt, st->util, i, st->assign[i]);
	return c;
}

/* Moves one mover at a time to where the cost drops most, until no move
 * helps or passes run out. */
static void local_search(struct state *st, const struct order_key *order, size_t passes)
{
	const struct part_wave_problem *w = st->w;
	size_t pass, n, q, j;

	for (pass = 0; pass < passes; pass++) {
		int improved = 0;

		for (n = 0; n < w->nmovers; n++) {
			size_t i = order[n].i, p = st->assign[i], best_q = PART_EXACT_UNPLACED;
			double t = st->wt->tier[tier_of(w, i)], pi_rm, d_rm, best = 0;
			double scale = 1e-9 * (1 + fabs(total_cost(st)));

			if (p == PART_EXACT_UNPLACED)
				continue;
			eval(st, i, p, -1, &pi_rm, NULL);
			d_rm = st->wt->risk * (pi_rm * (st->impact[p] - t) - st->pi[p] * st->impact[p]) -
			       static_cost(w, st->wt, st->util, i, p);
			sort_candidates(st, i);
			for (j = 0; j < w->nparts; j++) {
				double d;

				q = st->cand[j].p;
				if (st->prune && st->cand[j].lb + d_rm >= best - scale)
					break;
				if (q == p || !add_delta(st, i, q, &d, NULL))
					continue;
				if (d + d_rm < best - scale) {
					best = d + d_rm;
					best_q = q;
				}
			}
			if (best_q != PART_EXACT_UNPLACED) {
				apply(st, i, p, -1);
				apply(st, i, best_q, 1);
				improved = 1;
			}
		}
		if (!improved)
			break;
	}
}

/* The replicas that stay must fit before anything moves. */
static int base_check(const struct state *st)
{
	const struct part_wave_problem *w = st->w;
	size_t p, s;
	int r;

	for (p = 0; p < w->nparts; p++)
		for (r = 0; r < R; r++) {
			double cap = w->cap[p * R + (size_t)r];

			if (cap <= 0)
				continue;
			if (st->gsum[p * R + (size_t)r] > over_at(cap))
				return adp_error_set(ADP_EINFEASIBLE, "partition %zu: the %s guarantees of the replicas that stay exceed its capacity",
						     p, adp_resource_name(r));
			for (s = 0; s < w->nsteps; s++)
				if (st->cnt[(p * R + (size_t)r) * w->nsteps + s] > allowed(w, r))
					return adp_error_set(ADP_EINFEASIBLE,
							     "partition %zu: %s over capacity at step %zu in %zu of %zu scenarios before anything moves",
							     p, adp_resource_name(r), s, st->cnt[(p * R + (size_t)r) * w->nsteps + s], w->nscen);
		}
	return 0;
}

/* by_size 0: tier first (critical replicas choose first), then dominant
 * share; 1: dominant share alone, the retry when the first leaves some
 * replica out. */
static int run_heuristic(struct state *st, size_t *first_unplaced, int by_size)
{
	const struct part_wave_problem *w = st->w;
	struct order_key *order = malloc((w->nmovers + 1) * sizeof(*order));
	size_t n, p, j, unplaced = 0;

	if (!order)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (n = 0; n < w->nmovers; n++) {
		order[n].i = n;
		order[n].tier = tier_of(w, n);
		order[n].share = dominant_share(w, n);
	}
	qsort_r(order, w->nmovers, sizeof(*order), cmp_order, &by_size);
	*first_unplaced = PART_EXACT_UNPLACED;
	for (n = 0; n < w->nmovers; n++) {
		size_t i = order[n].i, best_p = PART_EXACT_UNPLACED;
		double best = INFINITY, best_head = -INFINITY;

		sort_candidates(st, i);
		for (j = 0; j < w->nparts; j++) {
			double d, head = 0;

			p = st->cand[j].p;
			if (st->prune && st->cand[j].lb > best + 1e-12)
				break;
			if (!add_delta(st, i, p, &d, &head))
				continue;
			/* Cheapest; among equals, the most headroom left. */
			if (d < best - 1e-12 || (d <= best + 1e-12 && head > best_head)) {
				best = d;
				best_head = head;
				best_p = p;
			}
		}
		if (best_p == PART_EXACT_UNPLACED) {
			if (!unplaced++)
				*first_unplaced = i;
			continue;
		}
		apply(st, i, best_p, 1);
	}
	if (!unplaced)
		local_search(st, order, 8);
	free(order);
	return unplaced ? ADP_EINFEASIBLE : 0;
}

int part_exact_heuristic(struct part_wave_solution *out, const struct part_wave_problem *w,
			 const struct part_exact_weights *wt)
{
	struct part_exact_weights def;
	struct part_wave_solution sol = { 0 };
	struct state st;
	double t0 = now_s();
	size_t first = 0;
	int rc, base_bad;

	if (!wt) {
		part_exact_weights_default(&def);
		wt = &def;
	}
	if ((rc = state_init(&st, w, wt)))
		goto done;
	if (!(base_bad = base_check(&st) != 0)) {
		rc = run_heuristic(&st, &first, 0);
		if (rc == ADP_EINFEASIBLE) {
			size_t first2;

			state_release(&st);
			if ((rc = state_init(&st, w, wt)) == 0)
				rc = run_heuristic(&st, &first2, 1);
		}
	} else
		rc = ADP_EINFEASIBLE;
	if (rc && rc != ADP_EINFEASIBLE)
		goto done;
	sol.assign = st.assign;
	st.assign = NULL;
	sol.bound = -INFINITY;
	sol.gap = INFINITY;
	sol.from_heuristic = 1;
	if (rc) {
		sol.status = PART_EXACT_NOSOLUTION;
		sol.objective = sol.heur_objective = INFINITY;
		if (!base_bad)
			adp_error_set(rc, "mover %zu (component %zu) fits on no online partition", first, w->comp[first]);
	} else {
		sol.status = PART_EXACT_FEASIBLE;
		sol.objective = sol.heur_objective = part_exact_cost(w, sol.assign, wt);
	}
	sol.heur_seconds = now_s() - t0;
	*out = sol;
done:
	state_release(&st);
	return rc;
}

/* Loads every mover of assign into a fresh state; 0 when some is unplaced
 * or out of range. */
static int state_load(struct state *st, const size_t *assign)
{
	size_t i;

	for (i = 0; i < st->w->nmovers; i++) {
		if (assign[i] >= st->w->nparts)
			return 0;
		apply(st, i, assign[i], 1);
	}
	return 1;
}

double part_exact_cost(const struct part_wave_problem *w, const size_t *assign,
		       const struct part_exact_weights *wt)
{
	struct part_exact_weights def;
	struct state st;
	double c = INFINITY;

	if (!wt) {
		part_exact_weights_default(&def);
		wt = &def;
	}
	if (state_init(&st, w, wt) == 0 && state_load(&st, assign))
		c = total_cost(&st);
	state_release(&st);
	return c;
}

int part_exact_verify(const struct part_wave_problem *w, const size_t *assign)
{
	struct part_exact_weights def;
	struct state st;
	size_t i, j, p, s;
	int rc = 0, r;

	part_exact_weights_default(&def);
	if ((rc = state_init(&st, w, &def)))
		goto done;
	for (i = 0; i < w->nmovers && !rc; i++) {
		if (assign[i] >= w->nparts)
			rc = adp_error_set(ADP_EINFEASIBLE, "mover %zu is not placed", i);
		else if (w->forbid[i * w->nparts + assign[i]])
			rc = adp_error_set(ADP_EINFEASIBLE, "mover %zu is on partition %zu, which already runs its component",
					   i, assign[i]);
		for (j = i + 1; j < w->nmovers && !rc; j++)
			if (w->comp[j] == w->comp[i] && assign[j] == assign[i])
				rc = adp_error_set(ADP_EINFEASIBLE, "movers %zu and %zu of component %zu share partition %zu",
						   i, j, w->comp[i], assign[i]);
	}
	if (rc || !state_load(&st, assign))
		goto done;
	for (p = 0; p < w->nparts && !rc; p++)
		for (r = 0; r < R && !rc; r++) {
			double cap = w->cap[p * R + (size_t)r];

			if (cap <= 0)
				continue;
			if (st.gsum[p * R + (size_t)r] > over_at(cap))
				rc = adp_error_set(ADP_EINFEASIBLE, "partition %zu: %s guarantees %g exceed capacity %g", p,
						   adp_resource_name(r), st.gsum[p * R + (size_t)r], cap);
			for (s = 0; s < w->nsteps && !rc; s++)
				if (st.cnt[(p * R + (size_t)r) * w->nsteps + s] > allowed(w, r))
					rc = adp_error_set(ADP_EINFEASIBLE,
							   "partition %zu: %s over capacity in %zu of %zu scenarios at step %zu (at most %zu allowed)",
							   p, adp_resource_name(r), st.cnt[(p * R + (size_t)r) * w->nsteps + s],
							   w->nscen, s, allowed(w, r));
		}
done:
	state_release(&st);
	return rc;
}

/* ---- The MILP ---- */

struct lp_build {
	int *ia, *ja;
	double *ar;
	size_t ne, cap_ne;
	int too_big;
};

static int lp_add(struct lp_build *b, int row, int col, double v)
{
	if (b->ne + 1 >= b->cap_ne) {
		size_t n = b->cap_ne ? 2 * b->cap_ne : 4096;
		int *ia, *ja;
		double *ar;

		if (n > MAX_NONZEROS + 2) {
			b->too_big = 1;
			return -1;
		}
		ia = realloc(b->ia, n * sizeof(int));
		if (ia)
			b->ia = ia;
		ja = realloc(b->ja, n * sizeof(int));
		if (ja)
			b->ja = ja;
		ar = realloc(b->ar, n * sizeof(double));
		if (ar)
			b->ar = ar;
		if (!ia || !ja || !ar)
			return -1;
		b->cap_ne = n;
	}
	b->ne++;
	b->ia[b->ne] = row;
	b->ja[b->ne] = col;
	b->ar[b->ne] = v;
	return 0;
}

struct milp_result {
	int status;        /* enum part_exact_status for the reduced problem */
	int time_limit_hit;
	int too_large;     /* not built: over MAX_NONZEROS */
	double objective;  /* reduced objective of the solution */
	double bound;
	size_t *assign;    /* owned when status is OPTIMAL or FEASIBLE */
	size_t *checked;   /* owned or NULL: the best incumbent that passed the
			    * full check during the search */
	double checked_cost;
	size_t rows, cols, nonzeros;
};

struct cb_info {
	const double *warm;  /* 1-based column values, or NULL */
	int given;
	double bound;
	/* Every new incumbent is checked on all steps and scenarios as it
	 * appears: a later one may beat it on the modelled steps only. */
	glp_prob *lp;
	const struct part_wave_problem *w;
	const struct part_exact_weights *wt;
	const int *xcol;
	size_t *scratch;     /* [N] */
	size_t *best;        /* [N] best checked incumbent, or NULL */
	double best_cost;
};

static void check_incumbent(struct cb_info *cb)
{
	const struct part_wave_problem *w = cb->w;
	size_t i, p;
	double c;

	for (i = 0; i < w->nmovers; i++) {
		cb->scratch[i] = PART_EXACT_UNPLACED;
		for (p = 0; p < w->nparts; p++)
			if (cb->xcol[i * w->nparts + p] && glp_mip_col_val(cb->lp, cb->xcol[i * w->nparts + p]) > 0.5)
				cb->scratch[i] = p;
	}
	if (part_exact_verify(w, cb->scratch) == 0 && (c = part_exact_cost(w, cb->scratch, cb->wt)) < cb->best_cost &&
	    (cb->best || (cb->best = malloc((w->nmovers + 1) * sizeof(size_t))))) {
		memcpy(cb->best, cb->scratch, w->nmovers * sizeof(size_t));
		cb->best_cost = c;
	}
	adp_error_clear();
}

/* Offers the warm start once, checks each new incumbent, and keeps the
 * best bound of the tree: the lowest local bound of an active node is a
 * lower bound on every solution still to be found (GLPK's own relative
 * gap uses it). */
static void milp_callback(glp_tree *T, void *arg)
{
	struct cb_info *cb = arg;
	int p, reason = glp_ios_reason(T);

	if (reason == GLP_IHEUR && cb->warm && !cb->given) {
		glp_ios_heur_sol(T, cb->warm);
		cb->given = 1;
	}
	if (reason == GLP_IBINGO && cb->scratch)
		check_incumbent(cb);
	if ((p = glp_ios_best_node(T)) != 0) {
		double b = glp_ios_node_bound(T, p);

		if (b > cb->bound)
			cb->bound = b;
	}
}

struct col_desc {
	unsigned char kind;   /* COL_X, COL_Y, COL_V, COL_Z */
	unsigned char r;
	size_t i, p, s, k;
};

enum { COL_X, COL_Y, COL_V, COL_Z };

struct cols {
	struct col_desc *d;   /* [1..n] */
	size_t n, cap;
};

/* Adds a column to lp and notes what it stands for; 0 when out of memory. */
static int add_col(glp_prob *lp, struct cols *c, int kind, size_t i, size_t p, int r, size_t s, size_t k)
{
	struct col_desc *d;

	if (c->n + 2 > c->cap) {
		size_t n = c->cap ? 2 * c->cap : 1024;

		if (!(d = realloc(c->d, n * sizeof(*d))))
			return 0;
		c->d = d;
		c->cap = n;
	}
	d = &c->d[++c->n];
	d->kind = (unsigned char)kind;
	d->r = (unsigned char)r;
	d->i = i;
	d->p = p;
	d->s = s;
	d->k = k;
	return glp_add_cols(lp, 1);
}

/* Every column's value for an assignment that passed the full check: x
 * from it, y where the scenario total exceeds capacity, v the largest
 * share of such scenarios over the selected steps, z = x * pi. */
static int warm_values(double **out, const struct part_wave_problem *w, const struct part_exact_weights *wt,
		       const struct cols *c, const size_t *assign)
{
	size_t S = w->nsteps, K = w->nscen, j;
	double *x = calloc(c->n + 1, sizeof(double)), *cnt = calloc(w->nparts * R * S + 1, sizeof(double));
	double *v = calloc(w->nparts * R + 1, sizeof(double));
	struct state st;
	int rc;

	if (!x || !cnt || !v) {
		free(x);
		free(cnt);
		free(v);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	if ((rc = state_init(&st, w, wt)) == 0 && state_load(&st, assign)) {
		for (j = 1; j <= c->n; j++) {
			const struct col_desc *d = &c->d[j];
			size_t idx = (d->p * R + d->r) * S + d->s;

			if (d->kind == COL_X)
				x[j] = assign[d->i] == d->p;
			else if (d->kind == COL_Y && st.load[idx * K + d->k] > w->cap[d->p * R + d->r]) {
				x[j] = 1;
				cnt[idx] += 1;
				v[d->p * R + d->r] = fmax(v[d->p * R + d->r], cnt[idx] / (double)K);
			}
		}
		for (j = 1; j <= c->n; j++) {
			const struct col_desc *d = &c->d[j];
			int r;

			if (d->kind == COL_V)
				x[j] = v[d->p * R + d->r];
			else if (d->kind == COL_Z && assign[d->i] == d->p)
				for (r = 0; r < R; r++)
					x[j] += wt->res[r] * v[d->p * R + (size_t)r];
		}
	}
	state_release(&st);
	free(cnt);
	free(v);
	if (rc)
		free(x);
	else
		*out = x;
	return rc;
}

/* Builds and solves the MILP on the steps listed in steps[0..nsteps). */
static int milp_solve(struct milp_result *res, const struct part_wave_problem *w,
		      const struct part_exact_weights *wt, const double *util, const size_t *steps,
		      size_t nsel, const size_t *warm_assign, double seconds, double mip_gap)
{
	size_t N = w->nmovers, P = w->nparts, K = w->nscen, i, p, s, k, n;
	int *xcol = calloc(N * P + 1, sizeof(int)), *vcol = calloc(P * R + 1, sizeof(int));
	struct lp_build b = { 0 };
	struct cols cols = { 0 };
	struct state st0 = { 0 };
	struct cb_info cb = { 0 };
	double *warm = NULL, *rowsum = NULL;
	glp_prob *lp = glp_create_prob();
	int ncols = 0, nrows = 0, rc = 0, term = glp_term_out(GLP_OFF), ret, r;
	double t0 = now_s();

	memset(res, 0, sizeof(*res));
	res->bound = -INFINITY;
	res->objective = INFINITY;
	if (!xcol || !vcol || !(rowsum = malloc(K * sizeof(double)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	glp_set_obj_dir(lp, GLP_MIN);
	if ((rc = state_init(&st0, w, wt)))
		goto done;
	/* x[i,p]: mover i on partition p, where allowed and where it fits on
	 * its own beside the replicas that stay (loads only add up). */
	for (i = 0; i < N; i++) {
		int any = 0;

		for (p = 0; p < P; p++) {
			double pi;

			if (w->forbid[i * P + p] || !eval(&st0, i, p, 1, &pi, NULL))
				continue;
			if (!(xcol[i * P + p] = ncols = add_col(lp, &cols, COL_X, i, p, 0, 0, 0)))
				goto nomem;
			glp_set_col_kind(lp, ncols, GLP_BV);
			glp_set_obj_coef(lp, ncols, static_cost(w, wt, util, i, p));
			any = 1;
		}
		if (!any) {
			res->status = PART_EXACT_INFEASIBLE;
			goto done;
		}
		nrows = glp_add_rows(lp, 1);
		glp_set_row_bnds(lp, nrows, GLP_FX, 1, 1);
		for (p = 0; p < P; p++)
			if (xcol[i * P + p] && lp_add(&b, nrows, xcol[i * P + p], 1))
				goto nomem;
	}
	/* Anti-affinity between movers of one component. */
	for (i = 0; i < N; i++) {
		size_t j, same = 0;

		for (j = 0; j < i && w->comp[j] != w->comp[i]; j++)
			;
		if (j < i)
			continue;  /* group handled at its first mover */
		for (j = i; j < N; j++)
			same += w->comp[j] == w->comp[i];
		if (same < 2)
			continue;
		for (p = 0; p < P; p++) {
			nrows = glp_add_rows(lp, 1);
			glp_set_row_bnds(lp, nrows, GLP_UP, 0, 1);
			for (j = i; j < N; j++)
				if (w->comp[j] == w->comp[i] && xcol[j * P + p] && lp_add(&b, nrows, xcol[j * P + p], 1))
					goto nomem;
		}
	}
	for (p = 0; p < P; p++) {
		double pibar = 0;
		int any_v = 0;

		for (r = 0; r < R; r++) {
			double cap = w->cap[p * R + (size_t)r];
			size_t a = allowed(w, r);
			double gtot = 0;

			if (cap <= 0)
				continue;
			/* Guarantees within capacity, in shares of it. */
			for (i = 0; i < N; i++)
				if (xcol[i * P + p])
					gtot += w->min[i * R + (size_t)r];
			if (w->base_min[p * R + (size_t)r] + gtot > cap) {
				nrows = glp_add_rows(lp, 1);
				glp_set_row_bnds(lp, nrows, GLP_UP, 0, 1 - w->base_min[p * R + (size_t)r] / cap);
				for (i = 0; i < N; i++)
					if (xcol[i * P + p] && w->min[i * R + (size_t)r] > 0 &&
					    lp_add(&b, nrows, xcol[i * P + p], w->min[i * R + (size_t)r] / cap))
						goto nomem;
			}
			/* The chance constraint on each selected step: row k holds
			 * unless y[p,r,s,k] = 1, and at most a of the y are 1. */
			for (n = 0; n < nsel; n++) {
				int cntrow = 0, vrow = 0;

				s = steps[n];
				for (k = 0; k < K; k++)
					rowsum[k] = base_of(w, p, r, s)[k];
				for (i = 0; i < N; i++)
					if (xcol[i * P + p])
						for (k = 0; k < K; k++)
							rowsum[k] += dem_of(w, i, r, s)[k];
				for (k = 0; k < K; k++) {
					double B = base_of(w, p, r, s)[k], M = rowsum[k] - cap;
					int row, y = 0;

					if (M <= 0)
						continue;  /* cannot be over capacity */
					row = nrows = glp_add_rows(lp, 1);
					glp_set_row_bnds(lp, row, GLP_UP, 0, 1 - B / cap);
					for (i = 0; i < N; i++)
						if (xcol[i * P + p] && dem_of(w, i, r, s)[k] != 0 &&
						    lp_add(&b, row, xcol[i * P + p], dem_of(w, i, r, s)[k] / cap))
							goto nomem;
					if (a == 0)
						continue;
					if (!(y = ncols = add_col(lp, &cols, COL_Y, 0, p, r, s, k)))
						goto nomem;
					glp_set_col_kind(lp, y, GLP_BV);
					if (lp_add(&b, row, y, -M / cap))
						goto nomem;
					if (!cntrow) {
						cntrow = nrows = glp_add_rows(lp, 1);
						glp_set_row_bnds(lp, cntrow, GLP_UP, 0, (double)a);
					}
					if (lp_add(&b, cntrow, y, 1))
						goto nomem;
					/* v[p,r] >= share of scenarios over capacity. */
					if (!vcol[p * R + (size_t)r]) {
						if (!(vcol[p * R + (size_t)r] = ncols = add_col(lp, &cols, COL_V, 0, p, r, 0, 0)))
							goto nomem;
						glp_set_col_bnds(lp, ncols, GLP_DB, 0, (double)a / (double)K);
						glp_set_obj_coef(lp, ncols, wt->risk * wt->res[r] * w->base_impact[p]);
						pibar += wt->res[r] * (double)a / (double)K;
						any_v = 1;
					}
					if (!vrow) {
						vrow = nrows = glp_add_rows(lp, 1);
						glp_set_row_bnds(lp, vrow, GLP_LO, 0, 0);
						if (lp_add(&b, vrow, vcol[p * R + (size_t)r], 1))
							goto nomem;
					}
					if (lp_add(&b, vrow, y, -1.0 / (double)K))
						goto nomem;
				}
			}
		}
		/* Risk by tier: z[i,p] >= pi_p - pibar (1 - x[i,p]), so z = pi_p
		 * when i is on p and 0 otherwise. */
		if (!any_v)
			continue;
		for (i = 0; i < N; i++) {
			int z, row;

			if (!xcol[i * P + p])
				continue;
			if (!(z = ncols = add_col(lp, &cols, COL_Z, i, p, 0, 0, 0)))
				goto nomem;
			glp_set_col_bnds(lp, z, GLP_DB, 0, pibar);
			glp_set_obj_coef(lp, z, wt->risk * wt->tier[tier_of(w, i)]);
			row = nrows = glp_add_rows(lp, 1);
			glp_set_row_bnds(lp, row, GLP_LO, -pibar, 0);
			if (lp_add(&b, row, z, 1) || lp_add(&b, row, xcol[i * P + p], -pibar))
				goto nomem;
			for (r = 0; r < R; r++)
				if (vcol[p * R + (size_t)r] && lp_add(&b, row, vcol[p * R + (size_t)r], -wt->res[r]))
					goto nomem;
		}
	}
	/* The risk of the replicas that stay, before anything moves, is not
	 * the assignment's doing: the objective starts from it. */
	{
		struct state st;

		if ((rc = state_init(&st, w, wt)) == 0)
			glp_set_obj_coef(lp, 0, -st.base_risk);
		state_release(&st);
		if (rc)
			goto done;
	}
	glp_load_matrix(lp, (int)b.ne, b.ia, b.ja, b.ar);
	res->rows = (size_t)nrows;
	res->cols = (size_t)ncols;
	res->nonzeros = b.ne;

	/* The warm start: the heuristic's assignment with every other column
	 * at the value it implies (GLPK does not check it). */
	if (warm_assign && (rc = warm_values(&warm, w, wt, &cols, warm_assign)))
		goto done;
	{
		glp_smcp sm;
		glp_iocp io;
		double left = seconds - (now_s() - t0);

		glp_scale_prob(lp, GLP_SF_AUTO);
		glp_init_smcp(&sm);
		sm.msg_lev = GLP_MSG_OFF;
		sm.presolve = GLP_OFF;
		sm.tm_lim = left <= 0.001 ? 1 : left * 1000 > 2e9 ? 2000000000 : (int)(left * 1000);
		ret = glp_simplex(lp, &sm);
		if (ret == GLP_ETMLIM) {
			res->status = PART_EXACT_NOSOLUTION;
			res->time_limit_hit = 1;
			goto done;
		}
		if (ret || glp_get_status(lp) == GLP_NOFEAS) {
			if (!ret && glp_get_status(lp) == GLP_NOFEAS) {
				res->status = PART_EXACT_INFEASIBLE;
				goto done;
			}
			rc = adp_error_set(ADP_ESYS, "GLPK could not solve the LP relaxation (code %d)", ret);
			goto done;
		}
		cb.bound = glp_get_obj_val(lp);
		cb.warm = warm;
		cb.lp = lp;
		cb.w = w;
		cb.wt = wt;
		cb.xcol = xcol;
		cb.best_cost = INFINITY;
		cb.scratch = malloc((N + 1) * sizeof(size_t));
		left = seconds - (now_s() - t0);
		glp_init_iocp(&io);
		io.msg_lev = GLP_MSG_OFF;
		io.presolve = GLP_OFF;
		io.bt_tech = GLP_BT_BLB;
		/* Cuts are left off: on these rows they cost more time than
		 * they gain in bound, and GLPK checks its time limit only
		 * between nodes. */
		io.mip_gap = mip_gap;
		io.tm_lim = left <= 0.001 ? 1 : left * 1000 > 2e9 ? 2000000000 : (int)(left * 1000);
		io.cb_func = milp_callback;
		io.cb_info = &cb;
		ret = glp_intopt(lp, &io);
		if (ret && ret != GLP_ETMLIM && ret != GLP_EMIPGAP) {
			rc = adp_error_set(ADP_ESYS, "GLPK's branch and bound failed (code %d)", ret);
			goto done;
		}
		res->time_limit_hit = ret == GLP_ETMLIM;
		res->checked = cb.best;
		res->checked_cost = cb.best_cost;
		cb.best = NULL;
		switch (glp_mip_status(lp)) {
		case GLP_OPT:
			res->status = PART_EXACT_OPTIMAL;
			break;
		case GLP_FEAS:
			res->status = PART_EXACT_FEASIBLE;
			break;
		case GLP_NOFEAS:
			res->status = PART_EXACT_INFEASIBLE;
			goto done;
		default:
			res->status = PART_EXACT_NOSOLUTION;
			res->bound = cb.bound;
			goto done;
		}
		res->objective = glp_mip_obj_val(lp);
		res->bound = res->status == PART_EXACT_OPTIMAL ? res->objective : fmin(cb.bound, res->objective);
		if (!(res->assign = malloc((N + 1) * sizeof(size_t)))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		for (i = 0; i < N; i++) {
			res->assign[i] = PART_EXACT_UNPLACED;
			for (p = 0; p < P; p++)
				if (xcol[i * P + p] && glp_mip_col_val(lp, xcol[i * P + p]) > 0.5)
					res->assign[i] = p;
		}
	}
	goto done;
nomem:
	if (b.too_big) {
		/* Not an error: the heuristic's placement stands unproven. */
		res->status = PART_EXACT_NOSOLUTION;
		res->too_large = 1;
	} else {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
	}
done:
	glp_delete_prob(lp);
	glp_term_out(term);
	free(b.ia);
	free(b.ja);
	free(b.ar);
	free(xcol);
	free(vcol);
	free(warm);
	free(rowsum);
	free(cols.d);
	free(cb.scratch);
	free(cb.best);
	state_release(&st0);
	return rc;
}

static int cmp_score(const void *a, const void *b, void *arg)
{
	const double *sc = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return sc[x] < sc[y] ? 1 : sc[x] > sc[y] ? -1 : (x < y ? -1 : x > y);
}

/* The first steps to model: those with the highest total load, as a share
 * of all capacity, over the resources. */
static size_t first_steps(const struct part_wave_problem *w, size_t *steps, size_t want)
{
	size_t S = w->nsteps, K = w->nscen, s, p, i, k;
	double *sc = calloc(S, sizeof(double));
	size_t *ord = malloc(S * sizeof(size_t)), n;
	int r;

	if (!sc || !ord) {
		free(sc);
		free(ord);
		return 0;
	}
	for (r = 0; r < R; r++) {
		double tot = 0;

		for (p = 0; p < w->nparts; p++)
			tot += w->cap[p * R + (size_t)r];
		if (tot <= 0)
			continue;
		for (s = 0; s < S; s++) {
			double sum = 0;

			for (p = 0; p < w->nparts; p++)
				if (w->cap[p * R + (size_t)r] > 0)
					for (k = 0; k < K; k++)
						sum += base_of(w, p, r, s)[k];
			for (i = 0; i < w->nmovers; i++)
				for (k = 0; k < K; k++)
					sum += dem_of(w, i, r, s)[k];
			sc[s] += sum / (double)K / tot;
		}
	}
	for (s = 0; s < S; s++)
		ord[s] = s;
	qsort_r(ord, S, sizeof(size_t), cmp_score, sc);
	n = want < S ? want : S;
	memcpy(steps, ord, n * sizeof(size_t));
	free(sc);
	free(ord);
	return n;
}

/* Steps where an assignment is worse on the full set than the MILP saw:
 * more scenarios over capacity than allowed, or a higher share than on
 * the selected steps. Appends them to steps; returns how many. */
static size_t missed_steps(const struct part_wave_problem *w, const struct state *st, size_t *steps,
			   size_t *nsel, size_t max_add)
{
	size_t S = w->nsteps, p, s, n, added = 0;
	int r;

	for (p = 0; p < w->nparts && added < max_add; p++)
		for (r = 0; r < R && added < max_add; r++) {
			const size_t *cnt = st->cnt + (p * R + (size_t)r) * S;
			size_t seen = 0, worst = 0, ws = 0;
			int in = 0;

			if (w->cap[p * R + (size_t)r] <= 0)
				continue;
			for (n = 0; n < *nsel; n++)
				seen = cnt[steps[n]] > seen ? cnt[steps[n]] : seen;
			for (s = 0; s < S; s++)
				if (cnt[s] > worst) {
					worst = cnt[s];
					ws = s;
				}
			if (worst <= seen)
				continue;
			for (n = 0; n < *nsel; n++)
				in |= steps[n] == ws;
			if (!in) {
				steps[(*nsel)++] = ws;
				added++;
			}
		}
	return added;
}

/* GLPK aborts on a coefficient that is not a number. */
static int check_finite(const struct part_wave_problem *w)
{
	size_t N = w->nmovers, P = w->nparts, SK = w->nsteps * w->nscen, i;

	for (i = 0; i < N * R * SK; i++)
		if (!isfinite(w->dem[i]) || w->dem[i] < 0)
			return adp_error_set(ADP_EINPUT, "mover %zu: demand %g is not a finite non-negative number",
					     i / (R * SK), w->dem[i]);
	for (i = 0; i < P * R * SK; i++)
		if (!isfinite(w->base[i]) || w->base[i] < 0)
			return adp_error_set(ADP_EINPUT, "partition %zu: load %g is not a finite non-negative number",
					     i / (R * SK), w->base[i]);
	for (i = 0; i < N * R; i++)
		if (!isfinite(w->min[i]) || !isfinite(w->alloc[i]) || !isfinite(w->mean[i]) || w->min[i] < 0)
			return adp_error_set(ADP_EINPUT, "mover %zu: guarantee, allocation or mean is not finite", i / R);
	for (i = 0; i < P * R; i++)
		if (!isfinite(w->cap[i]) || w->cap[i] < 0 || !isfinite(w->base_min[i]))
			return adp_error_set(ADP_EINPUT, "partition %zu: capacity or guarantees are not finite", i / R);
	for (i = 0; i < N; i++)
		if (!isfinite(w->unc[i]) || w->unc[i] < 0)
			return adp_error_set(ADP_EINPUT, "mover %zu: uncertainty is not a finite non-negative number", i);
	for (i = 0; i < P; i++)
		if (!isfinite(w->base_impact[i]))
			return adp_error_set(ADP_EINPUT, "partition %zu: impact is not finite", i);
	for (i = 0; i < R; i++)
		if (!(w->eps[i] >= 0 && w->eps[i] < 1))
			return adp_error_set(ADP_EINPUT, "eps of %s must be in [0, 1)", adp_resource_name((int)i));
	return 0;
}

int part_exact_solve(struct part_wave_solution *out, const struct part_wave_problem *w,
		     const struct part_exact_opts *o)
{
	struct part_exact_weights def;
	const struct part_exact_weights *wt = o->weights;
	struct part_wave_solution best = { 0 };
	double t0, lb = -INFINITY, *util = NULL;
	size_t *steps = NULL, nsel, round, max_rounds = o->max_rounds ? o->max_rounds : 8;
	int rc, proven = 0, infeasible = 0;

	if (!wt) {
		part_exact_weights_default(&def);
		wt = &def;
	}
	if (!(o->time_limit > 0))
		return adp_error_set(ADP_EINPUT, "the exact mode needs a time limit above zero");
	if (!(o->mip_gap >= 0 && o->mip_gap < 1))
		return adp_error_set(ADP_EINPUT, "the MIP gap tolerance must be in [0, 1)");
	if ((rc = check_finite(w)))
		return rc;
	{
		/* Overloaded by the replicas that stay: nothing to solve. */
		struct state st;

		if ((rc = state_init(&st, w, wt)) == 0 && (rc = base_check(&st)) != 0) {
			char msg[512];

			snprintf(msg, sizeof(msg), "%s", adp_error_last());
			state_release(&st);
			memset(&best, 0, sizeof(best));
			best.status = PART_EXACT_INFEASIBLE;
			best.objective = best.heur_objective = best.gap = best.bound = INFINITY;
			if (!(best.assign = malloc((w->nmovers + 1) * sizeof(size_t))))
				return adp_error_set(ADP_ENOMEM, "out of memory");
			memset(best.assign, 0xff, w->nmovers * sizeof(size_t));
			*out = best;
			return adp_error_set(ADP_EINFEASIBLE, "%s", msg);
		}
		state_release(&st);
		if (rc)
			return rc;
	}
	rc = part_exact_heuristic(&best, w, wt);
	if (rc && rc != ADP_EINFEASIBLE)
		return rc;
	rc = 0;
	if (best.status != PART_EXACT_FEASIBLE) {
		free(best.assign);
		best.assign = NULL;
		best.from_heuristic = 0;
	}
	if (o->start && part_exact_verify(w, o->start) == 0) {
		/* The caller's start, if it beats the heuristic's. */
		double c = part_exact_cost(w, o->start, wt);

		if (!best.assign || c < best.objective) {
			if (!best.assign && !(best.assign = malloc((w->nmovers + 1) * sizeof(size_t))))
				return adp_error_set(ADP_ENOMEM, "out of memory");
			memcpy(best.assign, o->start, w->nmovers * sizeof(size_t));
			best.objective = c;
			best.from_heuristic = 1;
		}
	}
	adp_error_clear();
	t0 = now_s();
	if (!(steps = malloc(w->nsteps * sizeof(size_t))) || !(util = malloc(w->nparts * sizeof(double)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = base_util(w, util)))
		goto done;
	nsel = first_steps(w, steps, o->init_steps ? o->init_steps : 2);
	for (round = 0; round < max_rounds; round++) {
		struct milp_result m;
		double left = o->time_limit - (now_s() - t0);
		struct state st;
		size_t added;
		int ok;

		if (left <= 0) {
			best.time_limit_hit = 1;
			break;
		}
		rc = milp_solve(&m, w, wt, util, steps, nsel, o->cold ? NULL : best.assign, left, o->mip_gap);
		best.rounds++;
		best.steps_used = nsel;
		best.rows = m.rows;
		best.cols = m.cols;
		best.nonzeros = m.nonzeros;
		best.time_limit_hit |= m.time_limit_hit;
		best.too_large |= m.too_large;
		if (rc) {
			free(m.assign);
			free(m.checked);
			goto done;
		}
		/* A bound on fewer steps is a bound on all of them. */
		lb = fmax(lb, m.bound);
		if (m.checked && m.checked_cost < (best.assign ? best.objective : INFINITY) - 1e-12 * (1 + fabs(m.checked_cost))) {
			free(best.assign);
			best.assign = m.checked;
			best.objective = m.checked_cost;
			best.from_heuristic = 0;
		} else {
			free(m.checked);
		}
		m.checked = NULL;
		if (m.status == PART_EXACT_INFEASIBLE) {
			infeasible = 1;
			break;
		}
		if (m.status == PART_EXACT_NOSOLUTION)
			break;
		if ((rc = state_init(&st, w, wt))) {
			state_release(&st);
			free(m.assign);
			goto done;
		}
		ok = state_load(&st, m.assign) && part_exact_verify(w, m.assign) == 0;
		if (ok) {
			double cost = total_cost(&st);

			if (!best.assign || cost < best.objective - 1e-12 * (1 + fabs(cost))) {
				free(best.assign);
				best.assign = m.assign;
				m.assign = NULL;
				best.objective = cost;
				best.from_heuristic = 0;
			}
			/* Optimal on the selected steps and no worse on the rest. */
			if (m.status == PART_EXACT_OPTIMAL && cost <= m.objective + 1e-9 * (1 + fabs(cost)))
				proven = 1;
		}
		adp_error_clear();
		/* Steps the MILP did not see but the placement breaks or is
		 * riskier on: model them and solve again. */
		added = proven || m.time_limit_hit ? 0 : missed_steps(w, &st, steps, &nsel, 8);
		state_release(&st);
		free(m.assign);
		if (proven || m.time_limit_hit || m.status == PART_EXACT_FEASIBLE || !added)
			break;
	}
	best.milp_seconds = now_s() - t0;
	if (proven) {
		best.bound = best.objective;
		best.gap = 0;
		best.status = PART_EXACT_OPTIMAL;
	} else if (best.assign) {
		best.bound = fmin(lb, best.objective);
		best.gap = isinf(best.bound) ? INFINITY : (best.objective - best.bound) / (fabs(best.objective) + DBL_EPSILON);
		best.status = best.gap <= 1e-9 ? PART_EXACT_OPTIMAL : PART_EXACT_FEASIBLE;
	} else {
		best.bound = infeasible ? INFINITY : lb;
		best.gap = INFINITY;
		best.objective = INFINITY;
		best.status = infeasible ? PART_EXACT_INFEASIBLE : PART_EXACT_NOSOLUTION;
		rc = adp_error_set(ADP_EINFEASIBLE, infeasible ? "no assignment of the wave's %zu movers fits"
				   : "no assignment of the wave's %zu movers was found within the time limit", w->nmovers);
	}
	if (best.assign || best.status == PART_EXACT_INFEASIBLE || best.status == PART_EXACT_NOSOLUTION) {
		if (!best.assign && !(best.assign = malloc((w->nmovers + 1) * sizeof(size_t)))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		if (best.status >= PART_EXACT_INFEASIBLE) {
			size_t i;
			for (i = 0; i < w->nmovers; i++)
				best.assign[i] = PART_EXACT_UNPLACED;
		}
		*out = best;
		memset(&best, 0, sizeof(best));
	}
done:
	free(best.assign);
	free(steps);
	free(util);
	return rc;
}
