/* The planner. Per wave:
 *  1. the replicas whose home stays online stay (they are never moved);
 *  2. with a positive moves weight, a replica on an offline partition may
 *     stop with it while the component's other replicas carry its share,
 *     when that costs less than moving it (absorb);
 *  3. the remaining movers are placed by part_place_movers (the one-wave
 *     problem an exact solver can be handed instead);
 *  4. allocations: each replica's quantile at the confidence, at its
 *     share in the wave, rounded up to units; where a partition cannot
 *     carry the forecast, the capacity is shared by tier and max-min
 *     fairly above the guarantees (reductions).
 * Waves group the schedule's partitions in order within max_concurrency
 * and max_per_zone, and start where the tightest wave carries the least
 * load. */
#include "partition/planner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plans/steps.h"
#include "util/error.h"
#include "util/timeutil.h"

#define R ADP_RES_COUNT
#define PART_CANDIDATES 8        /* partitions fully checked per mover */
#define PART_MAX_STARTS 288      /* start times compared at most */

const double part_granularity[ADP_RES_COUNT] = { 0.125, 64.0 * 1048576, 1048576, 1048576 };

/* Per-replica demand of every component over the window's H steps and
 * K joint scenarios: row[c * R + r][k * H + h], or NULL for a resource
 * without history, planned at the guarantee (no scenario memory spent). */
struct demand {
	size_t K, H;
	double **row;
	double *q;     /* per-replica quantile at the resource's confidence: [(c*R+r)*H + h] */
	double *q50, *q95;
	double *sp;    /* per replica, q - q50: [(c*R+r)*H + h] */
};

/* One replica's place in a wave being planned. */
struct slot {
	size_t comp, replica, part, home;
	int moved;
	double alloc[R];
};

struct ctx {
	const struct part_request *req;
	const struct inventory *inv;
	const struct schedule *s;
	int64_t grid0;         /* time of step 0 */
	struct demand d;
	struct plan *p;
	double *base;          /* home placement load [((part * R + r) * K + k) * H + h] */
	double *sbase;         /* its spreads, q_conf - q50 summed: [(part * R + r) * H + h] */
	double *cap;           /* [part * R + r], the capacities in use (trials change them) */
	double eps[R];         /* in use (trials change them) */
	double *minsum;        /* [part * R + r] guarantees of the stayers */
	int *hosts;            /* [comp * nparts + part] replicas of comp on part this wave */
	size_t *active;        /* [comp] replicas that carry the component this wave */
	unsigned char *online; /* [part] this wave */
	double *scratch;       /* K */
	/* The waves' partitions: group g holds gpart[gfirst[g] .. gfirst[g + 1]). */
	size_t *gpart, *gfirst, ngroups;
	int64_t *gdur;
	size_t capped;         /* series whose widening hit PART_MAX_WIDENING */
};

/* Borrowed, or NULL: the demand is the guarantee at every step. */
static double *dem_at(struct ctx *c, size_t comp, int r)
{
	return c->d.row[comp * R + (size_t)r];
}

static double *base_at(struct ctx *c, size_t part, int r)
{
	return c->base + ((part * R + (size_t)r) * c->d.K) * c->d.H;
}

/* The value with exactly `above` of the n values above it (quickselect:
 * linear on average, and v is scrambled). */
static double select_desc(double *v, size_t n, size_t above)
{
	size_t lo = 0, hi = n - 1, want = n - 1 - (above < n ? above : n - 1);

	while (lo < hi) {
		double pivot = v[lo + (hi - lo) / 2];
		size_t i = lo, j = hi;

		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				double t = v[i];
				v[i] = v[j];
				v[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (want <= j)
			hi = j;
		else if (want >= i)
			lo = i;
		else
			break;
	}
	return v[want];
}

/* The total at the confidence on a partition at one step: the scenarios'
 * (1 - eps) order statistic, or the co-movement floor, median plus
 * dependence x the summed spreads, whichever is higher. v is scrambled. */
static double total_at_confidence(double *v, size_t K, size_t allowed, double spread, double dependence)
{
	double b = select_desc(v, K, allowed);

	if (dependence > 0)
		b = fmax(b, select_desc(v, K, (K - 1) / 2) + dependence * spread);
	return b;
}

static size_t allowed_over(double eps, size_t K)
{
	return (size_t)floor(eps * (double)K + 1e-9);
}

double part_tier_impact(int tier)
{
	if (tier < 0)
		tier = 0;
	if (tier > INV_MAX_TIER)
		tier = INV_MAX_TIER;
	return (double)(INV_MAX_TIER + 1 - tier) / (INV_MAX_TIER + 1);
}

/* Inverse of the standard normal distribution (Acklam's rational
 * approximation, relative error under 1.2e-9). */
static double norm_inv(double p)
{
	static const double a[] = { -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
				    1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00 };
	static const double b[] = { -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
				    6.680131188771972e+01, -1.328068155288572e+01 };
	static const double cc[] = { -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
				     -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00 };
	static const double d[] = { 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
				    3.754408661907416e+00 };
	double q, r;

	if (p < 0.02425) {
		q = sqrt(-2 * log(p));
		return (((((cc[0] * q + cc[1]) * q + cc[2]) * q + cc[3]) * q + cc[4]) * q + cc[5]) /
		       ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	if (p > 1 - 0.02425)
		return -norm_inv(1 - p);
	q = p - 0.5;
	r = q * q;
	return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
	       (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/* Quantile of Student's t with nu degrees of freedom (Cornish-Fisher
 * expansion around the normal; within 1% for nu >= 3). */
static double t_inv(double p, double nu)
{
	double z = norm_inv(p), z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z;

	return z + (z3 + z) / (4 * nu) + (5 * z5 + 16 * z3 + 3 * z) / (96 * nu * nu) +
	       (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * nu * nu * nu);
}

/* The forecast's quantiles and scenarios come from the errors of past
 * periods, weighted by a half-life of PART_ERR_HALFLIFE periods: from a
 * few weeks of history only a handful of independent days stand behind
 * a 95 % or 99 % tail, and its empirical quantile falls short (the
 * tail of n draws is on average below the true one). The planner widens
 * every series' spread around its median by the ratio of a prediction
 * interval from n_eff draws to the normal one,
 *   t(1 - eps, n_eff - 1) * sqrt(1 + 1/n_eff) / z(1 - eps),
 * so that the chance constraint and the allocations keep their level
 * when the history is short. n_eff is the weighted sample size of the
 * whole past periods the forecaster could backtest on. Returns 1 when
 * the series says nothing about its history, and at most
 * PART_MAX_WIDENING (about a week of history at 99 %, five days at 95 %). */
#define PART_ERR_HALFLIFE 7.0
#define PART_MAX_PERIODS 28
#define PART_MAX_WIDENING 2.0    /* beyond this the tail is a guess: the plan says so */
double part_widening(size_t history_used, int64_t step, int64_t period, double eps)
{
	double n, sw = 0, sw2 = 0, ratio = pow(0.5, 1.0 / PART_ERR_HALFLIFE), w = 1, neff;
	size_t i;

	if (!history_used || step <= 0 || period <= 0 || eps <= 0 || eps >= 0.5)
		return 1;
	/* Two periods start the fit and one is the forecast's own lead. */
	n = floor((double)history_used * (double)step / (double)period) - 3;
	if (n > PART_MAX_PERIODS)
		n = PART_MAX_PERIODS;
	if (n < 2)
		n = 2;
	for (i = 0; i < (size_t)n; i++, w *= ratio) {
		sw += w;
		sw2 += w * w;
	}
	neff = sw * sw / sw2;
	if (neff < 2)
		neff = 2;
	return fmin(PART_MAX_WIDENING, fmax(1, t_inv(1 - eps, neff - 1) * sqrt(1 + 1 / neff) / norm_inv(1 - eps)));
}

/* The ceiling of a series' upper quantiles and scenarios: its
 * historical maximum. The forecast's tails are its point plus scaled
 * past errors, and where errors of one level or phase are applied at
 * another (on/off series whose bursts hit a ceiling, bursty series
 * forecast near zero) they reach values the series never took, on the
 * real traces of bench/quality.sh up to five times its maximum: an
 * allocation there reserves more than sizing the component for its own
 * peak, which the plan is meant to beat. A value above the maximum of
 * the history is a new regime, not a tail of the forecast: a window
 * exceeds the maximum of n exchangeable past periods with probability
 * at most 1 / (n + 1), within eps from 1 / eps - 1 periods (19 at 95 %)
 * and much less at a single step; with fewer periods the cap is kept
 * too (the static-peak baseline, which reserves exactly that maximum,
 * was exceeded at 0.04 % to 0.44 % of the steps on those traces), and
 * level shifts beyond any past value remain what no forecast of this
 * history can see. No cap (infinity) when the maximum is unknown (0 or
 * NAN: a forecast not made by forecast_run, or a history of zeros) or the
 * median forecast itself is above it (growth: the tail then follows the
 * point). */
static double part_cap(const struct forecast_series *fs, double med)
{
	return !fs || !(fs->hist_max > 0) || med > fs->hist_max ? INFINITY : fs->hist_max;
}

/* The scenarios are raw past error paths, the quantiles conformal and
 * widened by the forecaster's drift check, so the scenarios' tail can
 * fall short of the quantile (on the traces of bench/quality.sh the
 * partition totals went over the scenarios' bound twice as often as
 * eps). Where the (1 - eps) order statistic of the K values v (scrambled)
 * is below the quantile qc at the confidence, the factor that stretches
 * the deviations above the median med to meet it; 1 otherwise (never
 * narrowed). The joint check then keeps the scenarios' co-movement (their
 * ranks across components) with the calibrated marginal tail. */
double part_tail_stretch(double *v, size_t K, double med, double qc, double eps)
{
	double up = K ? select_desc(v, K, allowed_over(eps, K)) - med : 0;

	return up > 0 && qc - med > up ? (qc - med) / up : 1;
}

static int build_demand(struct ctx *c)
{
	const struct inventory *inv = c->inv;
	const struct forecast *fc = c->req->fc;
	size_t K = 0, H = fc->opts.horizon, i, k, h;
	double *tmp = NULL;
	int r, rc = 0;

	/* Scenario k must mean the same past period for every series, so
	 * only as many as the shortest history offers are joint. */
	for (i = 0; i < fc->n; i++)
		if (K == 0 || fc->items[i].nscen < K)
			K = fc->items[i].nscen;
	if (K == 0)
		K = 1;
	c->d.K = K;
	c->d.H = H;
	c->d.row = calloc(inv->ncomps * ADP_RES_COUNT + 1, sizeof(double *));
	c->d.q = calloc(inv->ncomps * ADP_RES_COUNT * H, sizeof(double));
	c->d.q50 = calloc(inv->ncomps * ADP_RES_COUNT * H, sizeof(double));
	c->d.q95 = calloc(inv->ncomps * ADP_RES_COUNT * H, sizeof(double));
	c->d.sp = calloc(inv->ncomps * ADP_RES_COUNT * H + 1, sizeof(double));
	tmp = malloc(K * sizeof(double));
	if (!c->d.row || !c->d.q || !c->d.q50 || !c->d.q95 || !c->d.sp || !tmp) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < inv->ncomps; i++) {
		const struct inv_component *comp = &inv->comps[i];
		double rep = (double)comp->replicas;

		for (r = 0; r < ADP_RES_COUNT; r++) {
			const struct forecast_series *fs = forecast_find(fc, comp->name, r);
			double *dv = NULL, med, wide = 1, top, qc, up;
			size_t qi = (i * ADP_RES_COUNT + (size_t)r) * H;

			if (fs && !(dv = c->d.row[i * R + (size_t)r] = malloc(K * H * sizeof(double) + 1))) {
				rc = adp_error_set(ADP_ENOMEM, "out of memory: %zu series of %zu steps and %zu scenarios",
						   fc->n, H, K);
				goto done;
			}

			if (fs && !c->req->no_widening) {
				wide = part_widening(fs->history_used, fc->opts.step, fs->period ? fs->period : fc->opts.period,
						     1 - c->s->confidence[r]);
				c->capped += wide >= PART_MAX_WIDENING;
			}

			for (h = 0; h < H; h++) {
				if (!fs) {
					/* No history for this resource: plan at the guarantee. */
					c->d.q[qi + h] = c->d.q50[qi + h] = c->d.q95[qi + h] = comp->min[r];
					continue;
				}
				med = forecast_quantile(fs, fc->opts.levels, h, 0.5);
				top = part_cap(fs, med);
				qc = forecast_quantile(fs, fc->opts.levels, h, c->s->confidence[r]);
				for (k = 0; k < K; k++)
					tmp[k] = fs->scen[k * H + h];
				up = part_tail_stretch(tmp, K, med, qc, 1 - c->s->confidence[r]);
				for (k = 0; k < K; k++) {
					double dev = fs->scen[k * H + h] - med;

					dv[k * H + h] = fmin(top, fmax(0, med + wide * (dev > 0 ? up * dev : dev))) / rep;
				}
				c->d.q[qi + h] = fmin(top, fmax(0, med + wide * (qc - med))) / rep;
				c->d.q50[qi + h] = med / rep;
				c->d.q95[qi + h] = fmin(top, fmax(0, med + wide * (forecast_quantile(fs, fc->opts.levels, h, 0.95) - med))) / rep;
				c->d.sp[qi + h] = fmax(0, c->d.q[qi + h] - c->d.q50[qi + h]);
			}
		}
	}
done:
	free(tmp);
	return rc;
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

/* ---- the one-wave placement problem ---- */

struct wp_state {
	const struct part_wave_problem *pb;
	double **delta;        /* [p]: movers' load, (r, k, h) at [(r * K + k) * H + h], or NULL */
	double **dspread;      /* [p]: movers' spreads, (r, h) at [r * H + h], or NULL */
	double *dmin;          /* [p * R + r]: movers' guarantees */
	double *slack;         /* [p]: smallest (cap - total at confidence) / cap over r and h */
	unsigned char *taken;  /* [comp * nparts + p]: a mover of comp is on p */
	double *scratch;       /* K */
};

static double wp_base(const struct wp_state *st, size_t p, int r, size_t k, size_t h)
{
	const struct part_wave_problem *pb = st->pb;

	return pb->base[((p * R + (size_t)r) * pb->K + k) * pb->stride + pb->offset + h] +
	       (st->delta[p] ? st->delta[p][((size_t)r * pb->K + k) * pb->H + h] : 0);
}

/* The summed spreads on p at step h of resource r, with m added (or not). */
static double wp_spread(const struct wp_state *st, const struct part_wave_mover *m, size_t p, int r, size_t h)
{
	const struct part_wave_problem *pb = st->pb;
	double v = 0;

	if (pb->dependence <= 0)
		return 0;
	if (pb->base_spread)
		v += pb->base_spread[(p * R + (size_t)r) * pb->stride + pb->offset + h];
	if (st->dspread[p])
		v += st->dspread[p][(size_t)r * pb->H + h];
	if (m && m->spread_h)
		v += m->factor * m->spread_h[(size_t)r * pb->stride + pb->offset + h];
	return v;
}

static double wp_demand(const struct part_wave_problem *pb, const struct part_wave_mover *m, int r, size_t k,
			size_t h)
{
	if (!m)
		return 0;
	return m->factor * (m->demand[r] ? m->demand[r][k * pb->stride + pb->offset + h] : m->min[r]);
}

/* Partition p with mover m added (m NULL: as it is): whether the chance
 * constraint and the guarantees hold, the largest overload share, and
 * the smallest headroom at the confidence, as a fraction of capacity. */
static void wp_check(struct wp_state *st, const struct part_wave_mover *m, size_t p, int *fits, double *risk,
		     double *head)
{
	const struct part_wave_problem *pb = st->pb;
	size_t K = pb->K, h, k;
	int r;

	*fits = 1;
	*risk = 0;
	*head = INFINITY;
	for (r = 0; r < R; r++) {
		double cap = pb->capacity[p * R + (size_t)r], mins;
		size_t allowed = allowed_over(pb->eps[r], K);

		if (cap <= 0)
			continue; /* unmetered */
		mins = pb->base_min[p * R + (size_t)r] + st->dmin[p * R + (size_t)r] + (m ? m->min[r] : 0);
		if (mins > cap + 1e-9)
			*fits = 0;
		*head = fmin(*head, (cap - mins) / cap);
		for (h = 0; h < pb->H; h++) {
			size_t over = 0;
			double b;

			for (k = 0; k < K; k++) {
				st->scratch[k] = wp_base(st, p, r, k, h) + wp_demand(pb, m, r, k, h);
				over += st->scratch[k] > cap;
			}
			b = total_at_confidence(st->scratch, K, allowed, wp_spread(st, m, p, r, h), pb->dependence);
			if (b > cap)
				*fits = 0;
			*risk = fmax(*risk, (double)over / (double)K);
			*head = fmin(*head, (cap - b) / cap);
		}
	}
}

static int wp_add(struct wp_state *st, const struct part_wave_mover *m, size_t p)
{
	const struct part_wave_problem *pb = st->pb;
	size_t K = pb->K, h, k;
	double risk;
	int r, fits;

	if (!st->delta[p] && !(st->delta[p] = calloc(R * K * pb->H + 1, sizeof(double))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (!st->dspread[p] && !(st->dspread[p] = calloc(R * pb->H + 1, sizeof(double))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (r = 0; r < R; r++) {
		for (k = 0; k < K; k++)
			for (h = 0; h < pb->H; h++)
				st->delta[p][((size_t)r * K + k) * pb->H + h] += wp_demand(pb, m, r, k, h);
		st->dmin[p * R + (size_t)r] += m->min[r];
		if (m->spread_h)
			for (h = 0; h < pb->H; h++)
				st->dspread[p][(size_t)r * pb->H + h] += m->factor * m->spread_h[(size_t)r * pb->stride + pb->offset + h];
	}
	st->taken[m->comp * pb->nparts + p] = 1;
	wp_check(st, NULL, p, &fits, &risk, &st->slack[p]);
	return 0;
}

static void wp_free(struct wp_state *st)
{
	size_t p;

	if (st->delta)
		for (p = 0; p < st->pb->nparts; p++)
			free(st->delta[p]);
	if (st->dspread)
		for (p = 0; p < st->pb->nparts; p++)
			free(st->dspread[p]);
	free(st->delta);
	free(st->dspread);
	free(st->dmin);
	free(st->slack);
	free(st->taken);
	free(st->scratch);
}

static int wp_init(struct wp_state *st, const struct part_wave_problem *pb)
{
	size_t p;
	double risk;
	int fits;

	memset(st, 0, sizeof(*st));
	st->pb = pb;
	st->delta = calloc(pb->nparts + 1, sizeof(*st->delta));
	st->dspread = calloc(pb->nparts + 1, sizeof(*st->dspread));
	st->dmin = calloc(pb->nparts * R + 1, sizeof(double));
	st->slack = calloc(pb->nparts + 1, sizeof(double));
	st->taken = calloc(pb->ncomps * pb->nparts + 1, 1);
	st->scratch = malloc((pb->K + 1) * sizeof(double));
	if (!st->delta || !st->dspread || !st->dmin || !st->slack || !st->taken || !st->scratch) {
		wp_free(st);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	for (p = 0; p < pb->nparts; p++)
		if (pb->online[p])
			wp_check(st, NULL, p, &fits, &risk, &st->slack[p]);
	return 0;
}

static int wp_eligible(const struct wp_state *st, const struct part_wave_mover *m, size_t p)
{
	const struct part_wave_problem *pb = st->pb;

	return pb->online[p] && !pb->hosts[m->comp * pb->nparts + p] && !st->taken[m->comp * pb->nparts + p];
}

/* The worst share of a partition's capacity the mover takes at its peak. */
static double wp_share(const struct part_wave_problem *pb, const struct part_wave_mover *m, size_t p)
{
	double share = 0, peak;
	size_t h, k;
	int r;

	for (r = 0; r < R; r++) {
		double cap = pb->capacity[p * R + (size_t)r];

		if (cap <= 0)
			continue;
		peak = 0;
		for (h = 0; h < pb->H; h++)
			for (k = 0; k < pb->K; k += 1 + pb->K / 16)
				peak = fmax(peak, wp_demand(pb, m, r, k, h));
		share = fmax(share, peak / cap);
	}
	return share;
}

double part_wave_share(const struct part_wave_problem *pb, size_t i, size_t p)
{
	return wp_share(pb, &pb->movers[i], p);
}

static double wp_cost(const struct part_wave_problem *pb, const struct part_wave_mover *m, double risk,
		      double share)
{
	return pb->weights[SCHEDULE_W_RISK] * part_tier_impact(m->tier) * risk +
	       pb->weights[SCHEDULE_W_CONFIDENCE] * m->spread * share + pb->weights[SCHEDULE_W_MOVES];
}

struct wp_order {
	size_t i;
	int tier;
	double size;
};

static int cmp_order(const void *a, const void *b)
{
	const struct wp_order *x = a, *y = b;

	if (x->tier != y->tier)
		return x->tier - y->tier;
	if (x->size != y->size)
		return x->size < y->size ? 1 : -1;
	return x->i < y->i ? -1 : x->i > y->i;
}

int part_place_movers(const struct part_wave_problem *pb, size_t *assign)
{
	struct wp_state st;
	struct wp_order *order = NULL;
	size_t *cand = NULL, i, p, j;
	int rc;

	if ((rc = wp_init(&st, pb)))
		return rc;
	order = calloc(pb->nmovers + 1, sizeof(*order));
	cand = calloc(pb->nparts + 1, sizeof(*cand));
	if (!order || !cand) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < pb->nmovers; i++) {
		order[i].i = i;
		order[i].tier = pb->movers[i].tier;
		order[i].size = wp_share(pb, &pb->movers[i], pb->movers[i].home);
		assign[i] = PART_UNPLACED;
	}
	qsort(order, pb->nmovers, sizeof(*order), cmp_order);
	for (j = 0; j < pb->nmovers; j++) {
		const struct part_wave_mover *m = &pb->movers[order[j].i];
		size_t ncand = 0, best = PART_UNPLACED, c, pass;
		double bcost = INFINITY, bhead = -INFINITY;
		int bfits = 0;

		/* The few partitions with the most slack are checked in full;
		 * all of them only when none of those fits. */
		for (p = 0; p < pb->nparts; p++)
			if (wp_eligible(&st, m, p))
				cand[ncand++] = p;
		for (pass = 0; pass < 2 && !bfits; pass++) {
			size_t lim = pass ? ncand : (ncand < PART_CANDIDATES ? ncand : PART_CANDIDATES);

			/* Partial selection of the largest slack first. */
			for (c = 0; c < lim; c++) {
				size_t top = c, x;
				int fits;
				double risk, head, cost;

				if (!pass) {
					for (x = c + 1; x < ncand; x++)
						if (st.slack[cand[x]] > st.slack[cand[top]])
							top = x;
					p = cand[top];
					cand[top] = cand[c];
					cand[c] = p;
				} else if (c < PART_CANDIDATES) {
					continue; /* checked in the first pass */
				}
				p = cand[c];
				wp_check(&st, m, p, &fits, &risk, &head);
				cost = wp_cost(pb, m, risk, wp_share(pb, m, p));
				if (fits > bfits || (fits == bfits && (fits ? cost < bcost - 1e-12 ||
									       (cost <= bcost + 1e-12 && head > bhead + 1e-12) ||
									       (cost <= bcost + 1e-12 && head >= bhead - 1e-12 && pb->zone &&
										best != PART_UNPLACED &&
										!strcmp(pb->zone[p], pb->zone[m->home]) &&
										strcmp(pb->zone[best], pb->zone[m->home]))
									    : head > bhead))) {
					bfits = fits;
					bcost = cost;
					bhead = head;
					best = p;
				}
			}
		}
		assign[order[j].i] = best;
		if (best != PART_UNPLACED && (rc = wp_add(&st, m, best)))
			goto done;
	}
done:
	free(order);
	free(cand);
	wp_free(&st);
	return rc;
}

int part_wave_evaluate(const struct part_wave_problem *pb, const size_t *assign, double *cost,
		       size_t *violations)
{
	struct wp_state st;
	size_t i, p, h, k, bad = 0;
	double total = 0, *risk = NULL;
	int rc, r;

	if ((rc = wp_init(&st, pb)))
		return rc;
	if (!(risk = calloc(pb->nparts + 1, sizeof(double)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < pb->nmovers; i++) {
		const struct part_wave_mover *m = &pb->movers[i];

		if (assign[i] == PART_UNPLACED || assign[i] >= pb->nparts || !pb->online[assign[i]]) {
			bad++;
			continue;
		}
		/* Anti-affinity broken: counted, and the load still lands there. */
		bad += !wp_eligible(&st, m, assign[i]);
		if ((rc = wp_add(&st, m, assign[i])))
			goto done;
	}
	for (p = 0; p < pb->nparts; p++) {
		if (!pb->online[p])
			continue;
		for (r = 0; r < R; r++) {
			double cap = pb->capacity[p * R + (size_t)r];
			size_t allowed = allowed_over(pb->eps[r], pb->K);

			if (cap <= 0)
				continue;
			bad += pb->base_min[p * R + (size_t)r] + st.dmin[p * R + (size_t)r] > cap + 1e-9;
			for (h = 0; h < pb->H; h++) {
				size_t over = 0;

				for (k = 0; k < pb->K; k++) {
					st.scratch[k] = wp_base(&st, p, r, k, h);
					over += st.scratch[k] > cap;
				}
				bad += total_at_confidence(st.scratch, pb->K, allowed, wp_spread(&st, NULL, p, r, h),
							   pb->dependence) > cap;
				risk[p] = fmax(risk[p], (double)over / (double)pb->K);
			}
		}
	}
	for (i = 0; i < pb->nmovers; i++)
		if (assign[i] != PART_UNPLACED && assign[i] < pb->nparts)
			total += wp_cost(pb, &pb->movers[i], risk[assign[i]], wp_share(pb, &pb->movers[i], assign[i]));
	*cost = total;
	*violations = bad;
done:
	free(risk);
	wp_free(&st);
	return rc;
}

/* ---- waves: which partitions together, and when ---- */

static int64_t update_time(const struct schedule *s, size_t part)
{
	size_t i;

	for (i = 0; i < s->npartitions; i++)
		if (s->partitions[i] == part)
			return s->update_duration[i];
	return 0;
}

/* Groups the schedule's partitions, in order, into waves of at most conc
 * partitions and at most max_per_zone of one zone: a partition that would
 * break the zone limit waits for a later wave, the others keep order. */
/* The load each partition pushes out when it goes offline: its home
 * replicas' peak quantiles at the confidence, as a share of its capacity,
 * the largest over resources; out[part]. */
static int carried(const struct ctx *c, double *out)
{
	const struct inventory *inv = c->inv;
	double *tot = calloc(inv->nparts * R + 1, sizeof(double));
	size_t i, j, h, H = c->d.H;
	int r;

	if (!tot)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (i = 0; i < inv->ncomps; i++)
		for (r = 0; r < R; r++) {
			double peak = 0;

			for (h = 0; h < H; h++)
				peak = fmax(peak, c->d.q[(i * R + (size_t)r) * H + h]);
			for (j = 0; j < inv->comps[i].replicas; j++)
				tot[inv->comps[i].placement[j] * R + (size_t)r] += peak;
		}
	for (i = 0; i < inv->nparts; i++) {
		out[i] = 0;
		for (r = 0; r < R; r++)
			if (c->cap[i * R + (size_t)r] > 0)
				out[i] = fmax(out[i], tot[i * R + (size_t)r] / c->cap[i * R + (size_t)r]);
	}
	free(tot);
	return 0;
}

static int build_groups(struct ctx *c, size_t conc)
{
	const struct schedule *s = c->s;
	size_t n = s->npartitions, done = 0, i, j;
	unsigned char *used = calloc(n + 1, 1);
	size_t *order = calloc(n + 1, sizeof(size_t));
	double *load = calloc(n + 1, sizeof(double)), *byp = NULL;
	int rc = 0;

	if (!order || !load || !(byp = calloc(c->inv->nparts + 1, sizeof(double)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto out;
	}
	if (s->order_lightest && (rc = carried(c, byp)))
		goto out;
	/* The order: as listed, or the lightest first (a stable insertion
	 * sort: ties keep the listed order). */
	for (i = 0; i < n; i++) {
		order[i] = s->partitions[i];
		load[i] = byp[order[i]];
		for (j = i; j > 0 && load[j - 1] > load[j]; j--) {
			size_t t = order[j];
			double l = load[j];

			order[j] = order[j - 1];
			load[j] = load[j - 1];
			order[j - 1] = t;
			load[j - 1] = l;
		}
	}

	free(c->gpart);
	free(c->gfirst);
	free(c->gdur);
	c->ngroups = 0;
	c->gpart = calloc(n + 1, sizeof(size_t));
	c->gfirst = calloc(n + 2, sizeof(size_t));
	c->gdur = calloc(n + 1, sizeof(int64_t));
	if (!used || !c->gpart || !c->gfirst || !c->gdur) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto out;
	}
	while (done < n) {
		size_t first = done, taken = 0;
		int64_t longest = 0;

		c->gfirst[c->ngroups] = first;
		for (i = 0; i < n && taken < conc; i++) {
			const char *zone = c->inv->parts[order[i]].zone;
			size_t same = 0;

			if (used[i])
				continue;
			for (j = first; j < done; j++)
				same += !strcmp(c->inv->parts[c->gpart[j]].zone, zone);
			if (s->max_per_zone && same >= s->max_per_zone)
				continue;
			used[i] = 1;
			c->gpart[done++] = order[i];
			taken++;
			if (update_time(s, order[i]) > longest)
				longest = update_time(s, order[i]);
		}
		c->gdur[c->ngroups++] = s->drain_duration + longest + s->verify_duration;
	}
	c->gfirst[c->ngroups] = done;
out:
	free(used);
	free(order);
	free(load);
	free(byp);
	return rc;
}

/* Wave times from t, back to back, each after any blackout it would
 * overlap; returns the last end. */
static int64_t lay_out(const struct ctx *c, int64_t t, int64_t *start, int64_t *end)
{
	size_t g;
	int64_t after;

	for (g = 0; g < c->ngroups; g++) {
		while ((after = schedule_blackout_end(c->s, t, t + c->gdur[g])))
			t = after;
		if (start)
			start[g] = t;
		if (end)
			end[g] = t + c->gdur[g];
		t += c->gdur[g];
	}
	return t;
}

static void wave_steps(const struct ctx *c, int64_t start, int64_t end, size_t *h0, size_t *h1)
{
	int64_t a = (start - c->grid0) / c->s->step, b = (end - c->grid0 + c->s->step - 1) / c->s->step;

	if (b > (int64_t)c->d.H)
		b = (int64_t)c->d.H;
	if (a < 0)
		a = 0;
	if (a >= b)
		a = b ? b - 1 : 0;
	*h0 = (size_t)a;
	*h1 = (size_t)b;
}

/* The start of the first wave. Under lowest-risk, every step from the
 * window's start to the latest start that still ends by the cutoff is a
 * candidate; each is scored by its tightest wave: the largest ratio, over
 * resources and the wave's steps, of the components' total demand at the
 * confidence to the capacity online in that wave. The least wins, the
 * earliest on a tie. */
static int choose_start(struct ctx *c, int64_t *out)
{
	const struct schedule *s = c->s;
	const struct inventory *inv = c->inv;
	size_t H = c->d.H, i, g, h, h0, h1, n = 0;
	double *tot = NULL, *oncap = NULL, best = INFINITY;
	int64_t *st = NULL, *en = NULL, t;
	int rc = 0, r;

	*out = s->start;
	c->p->start_candidates = 0;
	if (s->start_policy == SCHEDULE_START_EARLIEST || !c->ngroups || lay_out(c, s->start, NULL, NULL) > s->end - s->cutoff)
		return 0;
	tot = calloc(R * H + 1, sizeof(double));
	oncap = calloc(R * c->ngroups + 1, sizeof(double));
	st = calloc(c->ngroups, sizeof(int64_t));
	en = calloc(c->ngroups, sizeof(int64_t));
	if (!tot || !oncap || !st || !en) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < inv->ncomps; i++)
		for (r = 0; r < R; r++)
			for (h = 0; h < H; h++)
				tot[(size_t)r * H + h] += c->d.q[(i * R + (size_t)r) * H + h] * (double)inv->comps[i].replicas;
	for (g = 0; g < c->ngroups; g++)
		for (i = 0; i < inv->nparts; i++) {
			size_t j;
			int off = 0;

			for (j = c->gfirst[g]; j < c->gfirst[g + 1]; j++)
				off |= c->gpart[j] == i;
			for (r = 0; r < R && !off; r++)
				oncap[g * R + (size_t)r] += c->cap[i * R + (size_t)r];
		}
	for (t = s->start; n < PART_MAX_STARTS && lay_out(c, t, st, en) <= s->end - s->cutoff; t += s->step, n++) {
		double score = 0;

		for (g = 0; g < c->ngroups; g++) {
			wave_steps(c, st[g], en[g], &h0, &h1);
			for (r = 0; r < R; r++) {
				double cap = oncap[g * R + (size_t)r];

				if (cap <= 0)
					continue;
				for (h = h0; h < h1; h++)
					score = fmax(score, tot[(size_t)r * H + h] / cap);
			}
		}
		if (score < best - 1e-9) {
			best = score;
			*out = t;
		}
	}
	c->p->start_candidates = n;
	c->p->start_chosen_from = s->start;
done:
	free(tot);
	free(oncap);
	free(st);
	free(en);
	return rc;
}

static int build_waves(struct ctx *c)
{
	const struct schedule *s = c->s;
	struct plan *p = c->p;
	int64_t t0, last, *st = NULL, *en = NULL;
	size_t g, i;
	int rc;

	if ((rc = build_groups(c, s->max_concurrency)) || (rc = choose_start(c, &t0)))
		return rc;
	if (c->ngroups && !(p->waves = calloc(c->ngroups, sizeof(*p->waves))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	st = calloc(c->ngroups + 1, sizeof(int64_t));
	en = calloc(c->ngroups + 1, sizeof(int64_t));
	if (!st || !en) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	last = lay_out(c, t0, st, en);
	for (g = 0; g < c->ngroups; g++) {
		struct plan_wave *wave = &p->waves[p->nwaves++];
		size_t n = c->gfirst[g + 1] - c->gfirst[g];

		wave->start = st[g];
		wave->end = en[g];
		if (!(wave->offline = calloc(n, sizeof(char *)))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		for (i = 0; i < n; i++) {
			if (!(wave->offline[i] = strdup(c->inv->parts[c->gpart[c->gfirst[g] + i]].name))) {
				rc = adp_error_set(ADP_ENOMEM, "out of memory");
				goto done;
			}
			wave->noffline++;
		}
	}
	p->margin = p->cutoff_at - (c->ngroups ? last : s->start);
	if (p->margin < 0) {
		/* The waves keep their real times (they do not overlap); the
		 * advice says what would make them fit, each checked. */
		char need[32], have[32], advice[512], fix[160] = "";
		size_t conc, total = s->npartitions;

		adp_duration_format(need, last - s->start);
		adp_duration_format(have, p->cutoff_at - s->start);
		for (conc = s->max_concurrency + 1; conc <= total && !*fix; conc++) {
			if ((rc = build_groups(c, conc)))
				goto done;
			if (lay_out(c, s->start, NULL, NULL) <= p->cutoff_at)
				snprintf(fix, sizeof(fix), "; checked: max_concurrency %zu fits", conc);
		}
		if (!*fix)
			snprintf(fix, sizeof(fix), "; checked: no max_concurrency fits%s",
				 s->max_per_zone ? " within max_per_zone" : "");
		if ((rc = build_groups(c, s->max_concurrency)))
			goto done;
		snprintf(advice, sizeof(advice),
			 "the waves need %s but the window allows %s before the cutoff: raise max_concurrency (now %zu of the %zu partitions to update), shorten the updates, or widen the window%s",
			 need, have, s->max_concurrency, total, fix);
		rc = add_shortfall(p, 0, NULL, NULL, -1, (double)(last - s->start), (double)(p->cutoff_at - s->start),
				   p->cutoff_at, advice);
	}
done:
	free(st);
	free(en);
	return rc;
}

/* ---- one wave ---- */

static int add_reduction(struct plan *p, size_t wave, const char *comp, size_t replica, const char *part,
			 int r, double wanted, double granted)
{
	struct plan_reduction *g = realloc(p->reductions, (p->nreductions + 1) * sizeof(*g)), *x;

	if (!g)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	p->reductions = g;
	x = &g[p->nreductions++];
	memset(x, 0, sizeof(*x));
	x->wave = wave;
	x->replica = replica;
	x->resource = r;
	x->wanted = wanted;
	x->granted = granted;
	x->component = strdup(comp);
	x->partition = strdup(part);
	if (!x->component || !x->partition)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}

static double round_up(double v, double unit)
{
	return ceil(v / unit - 1e-9) * unit;
}

static double round_down(double v, double unit)
{
	return floor(v / unit + 1e-9) * unit;
}

/* Adds sign x factor x comp's per-replica demand to part over [h0, h1). */
static void shift_load(struct ctx *c, size_t part, size_t comp, double factor, size_t h0, size_t h1)
{
	size_t K = c->d.K, H = c->d.H, k, h;
	int r;

	for (r = 0; r < R; r++) {
		double *l = base_at(c, part, r), *d = dem_at(c, comp, r);
		double *sb = c->sbase + (part * R + (size_t)r) * H, *sp = c->d.sp + (comp * R + (size_t)r) * H;

		double flat = factor * c->inv->comps[comp].min[r];

		for (k = 0; k < K; k++)
			for (h = h0; h < h1; h++)
				l[k * H + h] += d ? factor * d[k * H + h] : flat;
		for (h = h0; h < h1; h++)
			sb[h] += factor * sp[h];
	}
}


/* The largest overload share and whether the chance constraint holds on
 * part over [h0, h1), with extra x comp's demand added (comp may be
 * (size_t)-1 for none). */
static void part_risk(struct ctx *c, size_t part, size_t comp, double extra, size_t h0, size_t h1, int *fits,
		      double *risk)
{
	size_t K = c->d.K, H = c->d.H, k, h;
	int r;

	*fits = 1;
	*risk = 0;
	for (r = 0; r < R; r++) {
		double cap = c->cap[part * R + (size_t)r], *l = base_at(c, part, r);
		int with = comp != (size_t)-1;
		double *d = with ? dem_at(c, comp, r) : NULL, flat = with ? extra * c->inv->comps[comp].min[r] : 0;
		size_t allowed = allowed_over(c->eps[r], K);

		if (cap <= 0)
			continue;
		for (h = h0; h < h1; h++) {
			size_t over = 0;
			double spread = c->sbase[(part * R + (size_t)r) * H + h] +
					(with ? extra * c->d.sp[(comp * R + (size_t)r) * H + h] : 0);

			for (k = 0; k < K; k++) {
				c->scratch[k] = l[k * H + h] + (d ? extra * d[k * H + h] : flat);
				over += c->scratch[k] > cap;
			}
			*fits &= total_at_confidence(c->scratch, K, allowed, spread, c->s->dependence) <= cap;
			*risk = fmax(*risk, (double)over / (double)K);
		}
	}
}

/* The relative spread of a component's forecast over the wave. */
static double spread_of(struct ctx *c, size_t comp, size_t h0, size_t h1)
{
	double worst = 0;
	size_t h, H = c->d.H;
	int r;

	for (r = 0; r < R; r++)
		for (h = h0; h < h1; h++) {
			double q = c->d.q[(comp * R + (size_t)r) * H + h], m = c->d.q50[(comp * R + (size_t)r) * H + h];
			if (q > 0)
				worst = fmax(worst, (q - m) / q);
		}
	return worst;
}

struct undo {
	size_t part, comp;
	double factor;
};

/* Max-min fair water level: the largest L with sum(min(room_i, L)) <= avail. */
static double water_level(const double *room, size_t n, double avail)
{
	double lo = 0, hi = 0;
	size_t i, it;

	for (i = 0; i < n; i++)
		hi = fmax(hi, room[i]);
	for (it = 0; it < 100; it++) {
		double mid = (lo + hi) / 2, sum = 0;

		for (i = 0; i < n; i++)
			sum += fmin(room[i], mid);
		if (sum <= avail)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Shares part's capacity of r among its slots when the forecast does not
 * fit: guarantees first, then tier by tier, the tier where capacity runs
 * out max-min fairly above the guarantees (in whole units). Returns 1 when
 * even the guarantees do not fit. */
static int share_capacity(struct ctx *c, struct slot *slots, size_t nslots, size_t part, int r, double *granted)
{
	double cap = c->cap[part * R + (size_t)r], unit = part_granularity[r], avail = cap, *room;
	size_t i, n, *idx;
	int tier, rc = 0;

	for (i = 0; i < nslots; i++)
		if (slots[i].part == part) {
			granted[i] = c->inv->comps[slots[i].comp].min[r];
			avail -= granted[i];
		}
	if (avail < -1e-9)
		return 1;
	room = calloc(nslots + 1, sizeof(double));
	idx = calloc(nslots + 1, sizeof(size_t));
	if (!room || !idx) {
		free(room);
		free(idx);
		return -1;
	}
	for (tier = 0; tier <= INV_MAX_TIER && avail > 1e-12; tier++) {
		double need = 0, level;

		for (i = 0, n = 0; i < nslots; i++)
			if (slots[i].part == part && c->inv->comps[slots[i].comp].tier == tier &&
			    slots[i].alloc[r] > granted[i]) {
				idx[n] = i;
				room[n] = slots[i].alloc[r] - granted[i];
				need += room[n++];
			}
		if (!n)
			continue;
		if (need <= avail + 1e-9) {
			for (i = 0; i < n; i++)
				granted[idx[i]] = slots[idx[i]].alloc[r];
			avail -= need;
			continue;
		}
		level = water_level(room, n, avail);
		for (i = 0; i < n; i++) {
			double g = granted[idx[i]] + fmin(room[i], level);
			double down = round_down(g, unit);

			granted[idx[i]] = fmax(down, c->inv->comps[slots[idx[i]].comp].min[r]);
			avail -= granted[idx[i]] - (slots[idx[i]].alloc[r] - room[i]);
		}
		avail = 0;
	}
	free(room);
	free(idx);
	return rc;
}

/* One wave being planned: its replicas' slots, the movers' problem and
 * what the base must lose again when the wave is done. */
struct wave_state {
	struct ctx *c;                  /* borrowed */
	struct plan *sink;              /* borrowed: c->p, or a trial's scratch plan */
	struct plan_wave *w;            /* borrowed: the wave being filled */
	size_t wi, h0, h1;
	struct slot *slots;             /* owned: one per replica */
	size_t nslots;
	struct part_wave_mover *movers; /* owned: the replicas to place */
	size_t *mslot, *assign;         /* owned: per mover, its slot and partition */
	size_t nmov;
	struct undo *undo;              /* owned: load shifts to take back */
	size_t nundo;
	double *granted;                /* owned: per slot, scratch of share_capacity */
};

static int wave_alloc(struct wave_state *ws)
{
	const struct inventory *inv = ws->c->inv;
	struct plan_wave *w = ws->w;
	size_t total = 0, i;

	for (i = 0; i < inv->ncomps; i++)
		total += inv->comps[i].replicas;
	ws->slots = calloc(total + 1, sizeof(*ws->slots));
	ws->movers = calloc(total + 1, sizeof(*ws->movers));
	ws->mslot = calloc(total + 1, sizeof(size_t));
	ws->assign = calloc(total + 1, sizeof(size_t));
	ws->undo = calloc(2 * total + 1, sizeof(*ws->undo));
	ws->granted = calloc(total + 1, sizeof(double));
	w->placements = calloc(total + 1, sizeof(*w->placements));
	w->absorbed = calloc(total + 1, sizeof(*w->absorbed));
	w->usage = calloc(inv->nparts * R + 1, sizeof(*w->usage));
	if (!ws->slots || !ws->movers || !ws->mslot || !ws->assign || !ws->undo || !ws->granted || !w->placements ||
	    !w->absorbed || !w->usage)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}

/* Marks the wave's partitions online or not; replicas at home on an
 * online partition stay, the rest move. */
static void wave_sort_replicas(struct wave_state *ws)
{
	struct ctx *c = ws->c;
	const struct inventory *inv = c->inv;
	size_t i, j, part;
	int r;

	/* c->hosts is all zero here: each wave clears what it set (a memset
	 * of components x partitions per wave would dominate large estates). */
	memset(c->minsum, 0, inv->nparts * R * sizeof(double));
	for (part = 0; part < inv->nparts; part++) {
		c->online[part] = 1;
		for (j = 0; j < ws->w->noffline; j++)
			if (!strcmp(ws->w->offline[j], inv->parts[part].name))
				c->online[part] = 0;
	}
	for (i = 0; i < inv->ncomps; i++) {
		c->active[i] = inv->comps[i].replicas;
		for (j = 0; j < inv->comps[i].replicas; j++) {
			size_t home = inv->comps[i].placement[j];
			struct slot *x = &ws->slots[ws->nslots++];

			x->comp = i;
			x->replica = j;
			x->home = home;
			x->part = home;
			if (c->online[home]) {
				c->hosts[i * inv->nparts + home]++;
				for (r = 0; r < R; r++)
					c->minsum[home * R + (size_t)r] += inv->comps[i].min[r];
			} else {
				x->moved = 1;
				x->part = PART_UNPLACED;
			}
		}
	}
}

/* Adds factor x comp's demand to part and remembers to take it back. */
static void wave_shift(struct wave_state *ws, size_t part, size_t comp, double factor)
{
	shift_load(ws->c, part, comp, factor, ws->h0, ws->h1);
	ws->undo[ws->nundo].part = part;
	ws->undo[ws->nundo].comp = comp;
	ws->undo[ws->nundo++].factor = factor;
}

/* Whether the stayers of slot x's component carry its share extra each
 * within the chance constraint; *added is the risk that adds. */
static int absorb_fits(struct wave_state *ws, size_t comp, double extra, double *added)
{
	size_t q;
	int ok = 1;

	*added = 0;
	for (q = 0; q < ws->nslots && ok; q++) {
		double before, after;
		int f0, f1;

		if (ws->slots[q].comp != comp || ws->slots[q].moved)
			continue;
		part_risk(ws->c, ws->slots[q].part, (size_t)-1, 0, ws->h0, ws->h1, &f0, &before);
		part_risk(ws->c, ws->slots[q].part, comp, extra, ws->h0, ws->h1, &f1, &after);
		ok = f1;
		*added += after - before;
	}
	return ok;
}

/* Absorb: with a cost on moves, a replica whose share the component's
 * stayers can carry within the chance constraint stops with its home
 * when the added risk costs less than the move. The least critical
 * are considered first. */
static void wave_absorb(struct wave_state *ws)
{
	struct ctx *c = ws->c;
	const struct inventory *inv = c->inv;
	const struct schedule *s = c->s;
	size_t j, q;
	int tier;

	for (tier = INV_MAX_TIER; s->weights[SCHEDULE_W_MOVES] > 0 && tier >= 0; tier--)
		for (j = 0; j < ws->nslots; j++) {
			struct slot *x = &ws->slots[j];
			size_t comp = x->comp, na = c->active[comp], stay = 0;
			double rep = (double)inv->comps[comp].replicas, extra, added;

			if (x->moved != 1 || na < 2 || inv->comps[comp].tier != tier)
				continue;
			for (q = 0; q < ws->nslots; q++)
				stay += ws->slots[q].comp == comp && !ws->slots[q].moved;
			if (!stay)
				continue;
			extra = rep * (1.0 / (double)(na - 1) - 1.0 / (double)na);
			if (!absorb_fits(ws, comp, extra, &added) ||
			    s->weights[SCHEDULE_W_RISK] * part_tier_impact(inv->comps[comp].tier) * added +
					    s->weights[SCHEDULE_W_CONFIDENCE] * spread_of(c, comp, ws->h0, ws->h1) * extra / rep >=
				    s->weights[SCHEDULE_W_MOVES])
				continue;
			for (q = 0; q < ws->nslots; q++)
				if (ws->slots[q].comp == comp && !ws->slots[q].moved)
					wave_shift(ws, ws->slots[q].part, comp, extra);
			c->active[comp]--;
			x->moved = 2; /* absorbed */
		}
}

/* The movers' problem: see part_place_movers. */
static void wave_movers(struct wave_state *ws)
{
	struct ctx *c = ws->c;
	const struct inventory *inv = c->inv;
	size_t j;
	int r;

	for (j = 0; j < ws->nslots; j++) {
		struct slot *x = &ws->slots[j];
		struct part_wave_mover *m = &ws->movers[ws->nmov];

		if (x->moved != 1)
			continue;
		m->comp = x->comp;
		m->replica = x->replica;
		m->home = x->home;
		m->tier = inv->comps[x->comp].tier;
		for (r = 0; r < R; r++)
			m->demand[r] = dem_at(c, x->comp, r);
		m->factor = (double)inv->comps[x->comp].replicas / (double)c->active[x->comp];
		memcpy(m->min, inv->comps[x->comp].min, sizeof(m->min));
		m->spread = spread_of(c, x->comp, ws->h0, ws->h1);
		m->spread_h = c->d.sp + x->comp * R * c->d.H;
		ws->mslot[ws->nmov++] = j;
	}
}

/* Adds the placement's cost to the plan's, split into its terms. */
static int wave_cost(struct wave_state *ws, const struct part_wave_problem *pb)
{
	struct ctx *c = ws->c;
	const struct schedule *s = c->s;
	size_t bad, placed = 0, q;
	double cost, conf = 0;
	int rc;

	for (q = 0; q < ws->nmov; q++)
		if (ws->assign[q] != PART_UNPLACED) {
			placed++;
			conf += s->weights[SCHEDULE_W_CONFIDENCE] * ws->movers[q].spread *
				wp_share(pb, &ws->movers[q], ws->assign[q]);
		}
	if (!(rc = part_wave_evaluate(pb, ws->assign, &cost, &bad)))
		c->p->cost.risk += cost - conf - (double)placed * s->weights[SCHEDULE_W_MOVES];
	c->p->cost.confidence += conf;
	c->p->cost.moves += (double)placed * s->weights[SCHEDULE_W_MOVES];
	return rc;
}

/* Hands the movers' problem to the solver (and, for the plan itself,
 * not a trial, counts its cost). */
static int wave_solve(struct wave_state *ws)
{
	struct ctx *c = ws->c;
	const struct inventory *inv = c->inv;
	const struct schedule *s = c->s;
	struct part_wave_problem pb = { 0 };
	const char **zones = calloc(inv->nparts + 1, sizeof(char *));
	size_t part;
	int rc;

	if (!zones)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (part = 0; part < inv->nparts; part++)
		zones[part] = inv->parts[part].zone;
	pb.nparts = inv->nparts;
	pb.ncomps = inv->ncomps;
	pb.nmovers = ws->nmov;
	pb.K = c->d.K;
	pb.H = ws->h1 - ws->h0;
	pb.stride = c->d.H;
	pb.offset = ws->h0;
	pb.capacity = c->cap;
	pb.online = c->online;
	pb.base = c->base;
	pb.base_min = c->minsum;
	pb.hosts = c->hosts;
	pb.zone = zones;
	pb.movers = ws->movers;
	memcpy(pb.eps, c->eps, sizeof(pb.eps));
	memcpy(pb.weights, s->weights, sizeof(pb.weights));
	pb.dependence = s->dependence;
	pb.base_spread = c->sbase;
	pb.wave = ws->wi + 1;
	pb.trial = ws->sink != c->p;
	rc = c->req->place_movers ? c->req->place_movers(&pb, ws->assign, c->req->place_arg)
				  : part_place_movers(&pb, ws->assign);
	if (!rc && ws->sink == c->p)
		rc = wave_cost(ws, &pb);
	free(zones);
	return rc;
}

/* Moves each mover where the solver put it; one left nowhere is a
 * shortfall. */
static int wave_apply_assign(struct wave_state *ws)
{
	struct ctx *c = ws->c;
	const struct inventory *inv = c->inv;
	size_t i;
	int rc, r;

	for (i = 0; i < ws->nmov; i++) {
		struct slot *x = &ws->slots[ws->mslot[i]];

		if (ws->assign[i] == PART_UNPLACED) {
			char advice[256];

			snprintf(advice, sizeof(advice),
				 "every online partition already runs a replica of '%s': add a partition, take fewer partitions offline per wave, or run fewer replicas",
				 inv->comps[x->comp].name);
			if ((rc = add_shortfall(ws->sink, ws->wi + 1, inv->parts[x->home].name, inv->comps[x->comp].name, -1,
						1, 0, ws->w->start, advice)))
				return rc;
			x->moved = 3; /* nowhere */
			continue;
		}
		x->part = ws->assign[i];
		wave_shift(ws, x->part, x->comp, ws->movers[i].factor);
		c->hosts[x->comp * inv->nparts + x->part]++;
		for (r = 0; r < R; r++)
			c->minsum[x->part * R + (size_t)r] += inv->comps[x->comp].min[r];
	}
	return 0;
}

/* Allocations: the highest quantile at the confidence over the wave's
 * steps, at the replica's share, so that every step is covered. (A
 * quantile of the wave's steps pooled reserves less but was exceeded
 * more often than the baselines on the real traces of bench/quality.sh.) */
static void wave_allocations(struct wave_state *ws)
{
	struct ctx *c = ws->c;
	const struct inventory *inv = c->inv;
	size_t j, h;
	int r;

	for (j = 0; j < ws->nslots; j++) {
		struct slot *x = &ws->slots[j];
		double share = (double)inv->comps[x->comp].replicas / (double)c->active[x->comp];

		if (x->part == PART_UNPLACED)
			continue;
		for (r = 0; r < R; r++) {
			size_t qi = (x->comp * R + (size_t)r) * c->d.H;
			double peak = 0;

			for (h = ws->h0; h < ws->h1; h++)
				peak = fmax(peak, c->d.q[qi + h] * share);
			x->alloc[r] = fmax(round_up(peak, part_granularity[r]), inv->comps[x->comp].min[r]);
		}
	}
}

/* Fills u, the predicted utilisation of r on part; *worst is the largest
 * excess of the bound over the capacity (-inf: none), at step *worst_h. */
static int wave_usage_of(struct wave_state *ws, struct plan_usage *u, size_t part, int r, double *worst,
			 size_t *worst_h)
{
	struct ctx *c = ws->c;
	size_t K = c->d.K, H = c->d.H, h, k, h0 = ws->h0, allowed = allowed_over(c->eps[r], K);
	double cap = c->cap[part * R + (size_t)r], *l = base_at(c, part, r);

	*worst = -INFINITY;
	*worst_h = h0;
	u->partition = strdup(c->inv->parts[part].name);
	u->resource = r;
	u->capacity = cap;
	u->nsteps = ws->h1 - h0;
	u->p50 = calloc(u->nsteps + 1, sizeof(double));
	u->p95 = calloc(u->nsteps + 1, sizeof(double));
	u->bound = calloc(u->nsteps + 1, sizeof(double));
	u->prob = calloc(u->nsteps + 1, sizeof(double));
	if (!u->partition || !u->p50 || !u->p95 || !u->bound || !u->prob)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	u->headroom = cap;
	for (h = h0; h < ws->h1; h++) {
		size_t over = 0;

		for (k = 0; k < K; k++) {
			c->scratch[k] = l[k * H + h];
			over += cap > 0 && l[k * H + h] > cap;
		}
		u->bound[h - h0] = total_at_confidence(c->scratch, K, allowed, c->sbase[(part * R + (size_t)r) * H + h],
						       c->s->dependence);
		u->p95[h - h0] = select_desc(c->scratch, K, (size_t)floor(0.05 * (double)(K - 1)));
		u->p50[h - h0] = select_desc(c->scratch, K, (K - 1) / 2);
		u->prob[h - h0] = (double)over / (double)K;
		u->overload_prob = fmax(u->overload_prob, u->prob[h - h0]);
		u->headroom = fmin(u->headroom, cap - u->p95[h - h0]);
		if (cap > 0 && u->bound[h - h0] - cap > *worst) {
			*worst = u->bound[h - h0] - cap;
			*worst_h = h;
		}
	}
	return 0;
}

/* Where the forecast of r does not fit part: a shortfall when the
 * schedule refuses shortage or even the guarantees do not fit, else the
 * capacity shared and the cuts listed as reductions. */
static int wave_shortage(struct wave_state *ws, size_t part, int r, double worst, size_t worst_h)
{
	struct ctx *c = ws->c;
	const struct inventory *inv = c->inv;
	double cap = c->cap[part * R + (size_t)r];
	char advice[300];
	size_t j;
	int rc;

	if (c->s->shortage_refuse) {
		snprintf(advice, sizeof(advice),
			 "the forecast at %.3g confidence does not fit '%s' and the schedule refuses shortage: add capacity, lower the confidence, take fewer partitions offline per wave, or allow \"shortage\": \"share\"",
			 1 - c->eps[r], inv->parts[part].name);
		return add_shortfall(ws->sink, ws->wi + 1, inv->parts[part].name, NULL, r, worst + cap, cap,
				     c->grid0 + (int64_t)worst_h * c->s->step, advice);
	}
	rc = share_capacity(c, ws->slots, ws->nslots, part, r, ws->granted);
	if (rc < 0)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (rc == 1) {
		double mins = 0;

		for (j = 0; j < ws->nslots; j++)
			if (ws->slots[j].part == part)
				mins += inv->comps[ws->slots[j].comp].min[r];
		snprintf(advice, sizeof(advice),
			 "even the minimum guarantees of what runs on '%s' in this wave exceed its %s capacity: add capacity, take fewer partitions offline per wave, or lower guarantees",
			 inv->parts[part].name, adp_resource_name(r));
		return add_shortfall(ws->sink, ws->wi + 1, inv->parts[part].name, NULL, r, mins, cap, ws->w->start,
				     advice);
	}
	for (j = 0; j < ws->nslots; j++) {
		struct slot *x = &ws->slots[j];

		if (x->part != part || ws->granted[j] >= x->alloc[r] - 1e-12)
			continue;
		if ((rc = add_reduction(ws->sink, ws->wi + 1, inv->comps[x->comp].name, x->replica, inv->parts[part].name,
					r, x->alloc[r], ws->granted[j])))
			return rc;
		x->alloc[r] = ws->granted[j];
	}
	return 0;
}

/* Predicted utilisation, and shortage where the forecast does not fit. */
static int wave_usage(struct wave_state *ws)
{
	struct ctx *c = ws->c;
	size_t part, j, worst_h;
	double worst;
	int rc, r;

	for (part = 0; part < c->inv->nparts; part++) {
		if (!c->online[part])
			continue;
		for (r = 0; r < R; r++) {
			double cap = c->cap[part * R + (size_t)r], asum = 0;

			if ((rc = wave_usage_of(ws, &ws->w->usage[ws->w->nusage++], part, r, &worst, &worst_h)))
				return rc;
			if (cap <= 0)
				continue;
			for (j = 0; j < ws->nslots; j++)
				if (ws->slots[j].part == part)
					asum += ws->slots[j].alloc[r];
			if (worst <= 1e-9 || asum <= cap + 1e-9)
				continue; /* fits, or the allocations cap the total within capacity */
			if ((rc = wave_shortage(ws, part, r, worst, worst_h)))
				return rc;
		}
	}
	return 0;
}

/* The placement of slot x in the wave's document: its allocation, its
 * forecast peaks and, for apply's monitoring, the same forecast per step. */
static int wave_placement(struct wave_state *ws, const struct slot *x, struct plan_placement *pl)
{
	struct ctx *c = ws->c;
	const struct inventory *inv = c->inv;
	const struct inv_component *cc = &inv->comps[x->comp];
	double share = (double)cc->replicas / (double)c->active[x->comp];
	size_t H = c->d.H, h0 = ws->h0, h1 = ws->h1, h;
	int r;

	pl->component = strdup(cc->name);
	pl->partition = strdup(inv->parts[x->part].name);
	pl->from = x->moved ? strdup(inv->parts[x->home].name) : NULL;
	pl->replica = x->replica;
	pl->tier = cc->tier;
	if (!pl->component || !pl->partition || (x->moved && !pl->from))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	memcpy(pl->alloc, x->alloc, sizeof(pl->alloc));
	for (r = 0; r < R; r++) {
		size_t qi = (x->comp * R + (size_t)r) * H;

		for (h = h0; h < h1; h++) {
			pl->p50_peak[r] = fmax(pl->p50_peak[r], c->d.q50[qi + h] * share);
			pl->p95_peak[r] = fmax(pl->p95_peak[r], c->d.q95[qi + h] * share);
		}
		if (ws->sink == c->p && c->cap[x->part * R + (size_t)r] > 0)
			c->p->cost.waste += c->s->weights[SCHEDULE_W_WASTE] * (pl->alloc[r] - pl->p50_peak[r]) /
					    c->cap[x->part * R + (size_t)r];
	}
	if (h1 <= h0)
		return 0;
	pl->band_p50 = calloc((h1 - h0) * R, sizeof(double));
	pl->band_p95 = calloc((h1 - h0) * R, sizeof(double));
	if (!pl->band_p50 || !pl->band_p95)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	pl->nband = h1 - h0;
	pl->band_start = c->grid0 + (int64_t)h0 * c->s->step;
	for (r = 0; r < R; r++)
		for (h = h0; h < h1; h++) {
			size_t qi = (x->comp * R + (size_t)r) * H + h;
			pl->band_p50[(h - h0) * R + (size_t)r] = c->d.q50[qi] * share;
			pl->band_p95[(h - h0) * R + (size_t)r] = c->d.q95[qi] * share;
		}
	return 0;
}

/* The wave's document: placements (stayers and moved), absorbed. */
static int wave_document(struct wave_state *ws)
{
	const struct inventory *inv = ws->c->inv;
	struct plan_wave *w = ws->w;
	size_t j;
	int rc;

	for (j = 0; j < ws->nslots; j++) {
		const struct slot *x = &ws->slots[j];

		if (x->moved == 2) {
			struct plan_absorbed *ab = &w->absorbed[w->nabsorbed++];

			ab->component = strdup(inv->comps[x->comp].name);
			ab->replica = x->replica;
			ab->partition = strdup(inv->parts[x->home].name);
			if (!ab->component || !ab->partition)
				return adp_error_set(ADP_ENOMEM, "out of memory");
			continue;
		}
		if (x->part == PART_UNPLACED)
			continue;
		if ((rc = wave_placement(ws, x, &w->placements[w->nplacements++])))
			return rc;
	}
	if (!w->nabsorbed) {
		free(w->absorbed);
		w->absorbed = NULL;
	}
	return 0;
}

/* The base goes back to the home placement for the next wave, and the
 * hosts map to zero. */
static void wave_release(struct wave_state *ws)
{
	struct ctx *c = ws->c;
	size_t nparts = c->inv->nparts, i, j;

	for (i = ws->nundo; i-- > 0;)
		shift_load(c, ws->undo[i].part, ws->undo[i].comp, -ws->undo[i].factor, ws->h0, ws->h1);
	for (j = 0; ws->slots && j < ws->nslots; j++) {
		if (ws->slots[j].part != PART_UNPLACED && ws->slots[j].part < nparts)
			c->hosts[ws->slots[j].comp * nparts + ws->slots[j].part] = 0;
		c->hosts[ws->slots[j].comp * nparts + ws->slots[j].home] = 0;
	}
	free(ws->slots);
	free(ws->movers);
	free(ws->mslot);
	free(ws->assign);
	free(ws->undo);
	free(ws->granted);
}

static int plan_wave(struct ctx *c, struct plan *sink, struct plan_wave *w, size_t wi)
{
	struct wave_state ws = { .c = c, .sink = sink, .w = w, .wi = wi };
	int rc;

	wave_steps(c, w->start, w->end, &ws.h0, &ws.h1);
	if ((rc = wave_alloc(&ws)))
		goto done;
	wave_sort_replicas(&ws);
	wave_absorb(&ws);
	wave_movers(&ws);
	if ((rc = wave_solve(&ws)) || (rc = wave_apply_assign(&ws)))
		goto done;
	wave_allocations(&ws);
	if ((rc = wave_usage(&ws)))
		goto done;
	rc = wave_document(&ws);
done:
	wave_release(&ws);
	return rc;
}

/* Whether the original placement, every partition online (where a
 * rollback ends), fits from the first wave's start to the last's end. */
static void check_rollback(struct ctx *c)
{
	struct plan_rollback_check *rb = &c->p->rollback_check;
	const struct inventory *inv = c->inv;
	size_t part, h, h0, h1, k, K = c->d.K, H = c->d.H, i;
	double worst = -INFINITY;
	int r;

	if (!c->p->nwaves)
		return;
	wave_steps(c, c->p->waves[0].start, c->p->waves[c->p->nwaves - 1].end, &h0, &h1);
	rb->checked = 1;
	rb->fits = 1;
	for (part = 0; part < inv->nparts; part++)
		for (r = 0; r < R; r++) {
			double cap = c->cap[part * R + (size_t)r], *l = base_at(c, part, r), mins = 0;
			size_t allowed = allowed_over(c->eps[r], K);

			if (cap <= 0)
				continue;
			for (i = 0; i < inv->ncomps; i++) {
				size_t j;
				for (j = 0; j < inv->comps[i].replicas; j++)
					mins += inv->comps[i].placement[j] == part ? inv->comps[i].min[r] : 0;
			}
			if (mins > cap + 1e-9)
				rb->fits = 0;
			for (h = h0; h < h1; h++) {
				size_t over = 0;
				double b;

				for (k = 0; k < K; k++) {
					c->scratch[k] = l[k * H + h];
					over += l[k * H + h] > cap;
				}
				b = total_at_confidence(c->scratch, K, allowed, c->sbase[(part * R + (size_t)r) * H + h],
							c->s->dependence);
				rb->overload_prob = fmax(rb->overload_prob, (double)over / (double)K);
				if (b > cap)
					rb->fits = 0;
				if (b / cap > worst) {
					worst = b / cap;
					free(rb->partition);
					rb->partition = strdup(inv->parts[part].name);
					rb->resource = r;
					rb->at = c->grid0 + (int64_t)h * c->s->step;
					rb->bound = b;
					rb->capacity = cap;
				}
			}
		}
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

/* ---- what would fix a shortfall, each remedy tried ---- */

#define PART_MAX_TRIED 32

/* Plans wave wi with the given offline set and times into a scratch
 * document; *left is how many shortfalls remain on (part, r), or in all
 * when part is NULL. */
static int trial(struct ctx *c, size_t wi, char **offline, size_t noff, int64_t start, int64_t end,
		 const char *part, int r, size_t *left)
{
	struct plan scratch = { 0 };
	struct plan_wave w = { 0 };
	size_t i;
	int rc;

	w.offline = offline;
	w.noffline = noff;
	w.start = start;
	w.end = end;
	rc = plan_wave(c, &scratch, &w, wi);
	*left = 0;
	for (i = 0; i < scratch.nshortfalls; i++)
		*left += !part || (scratch.shortfalls[i].partition && !strcmp(scratch.shortfalls[i].partition, part) &&
				   scratch.shortfalls[i].resource == r);
	/* The offline list is the caller's. */
	w.offline = NULL;
	w.noffline = 0;
	plan_wave_release(&w);
	plan_release(&scratch);
	return rc;
}

static int append_advice(struct plan_shortfall *s, const char *text)
{
	size_t n = (s->advice ? strlen(s->advice) : 0) + strlen(text) + 1;
	char *a = malloc(n);

	if (!a)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	snprintf(a, n, "%s%s", s->advice ? s->advice : "", text);
	free(s->advice);
	s->advice = a;
	return 0;
}

/* For a capacity shortfall of a wave: the capacity it lacks added, lower
 * confidences, one offline partition at a time, and other start times
 * within the window, each planned again; the advice says which fit. */
static int test_fixes(struct ctx *c, struct plan_shortfall *sf)
{
	const struct plan_wave *w = &c->p->waves[sf->wave - 1];
	int idx = inventory_partition_index(c->inv, sf->partition), r = sf->resource;
	size_t wi = sf->wave - 1, left, i, pr;
	double saved, unit = part_granularity[r];
	char buf[200], amount[64];
	int rc = 0, fits_alone = 1;
	static const double levels[] = { 0.9, 0.8, 0.5 };

	if (idx < 0)
		return 0;
	pr = (size_t)idx * R + (size_t)r;
	saved = c->cap[pr];
	c->cap[pr] = saved + round_up(sf->missing, unit);
	rc = trial(c, wi, w->offline, w->noffline, w->start, w->end, sf->partition, r, &left);
	c->cap[pr] = saved;
	if (rc)
		return rc;
	snprintf(amount, sizeof(amount), "%g %s", round_up(sf->missing, unit) / (r == ADP_RES_CPU ? 1 : 1048576.0),
		 r == ADP_RES_CPU ? "cores" : r == ADP_RES_MEMORY ? "MiB" : "MiB/s");
	snprintf(buf, sizeof(buf), "; checked: %s more on '%s' %s", amount, sf->partition, left ? "is not enough" : "fits");
	if ((rc = append_advice(sf, buf)))
		return rc;
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		double e = c->eps[r];

		if (1 - levels[i] <= e)
			continue;
		c->eps[r] = 1 - levels[i];
		rc = trial(c, wi, w->offline, w->noffline, w->start, w->end, sf->partition, r, &left);
		c->eps[r] = e;
		if (rc)
			return rc;
		if (!left) {
			snprintf(buf, sizeof(buf), "; %s confidence %.2g fits", adp_resource_name(r), levels[i]);
			if ((rc = append_advice(sf, buf)))
				return rc;
			break;
		}
	}
	if (i == sizeof(levels) / sizeof(levels[0]) && (rc = append_advice(sf, "; no confidence down to 0.5 fits")))
		return rc;
	if (w->noffline > 1) {
		for (i = 0; i < w->noffline && fits_alone; i++) {
			if ((rc = trial(c, wi, &w->offline[i], 1, w->start, w->end, NULL, r, &left)))
				return rc;
			fits_alone = !left;
		}
		if ((rc = append_advice(sf, fits_alone ? "; one partition at a time fits" : "; one partition at a time does not fit")))
			return rc;
	}
	{
		int64_t len = w->end - w->start, t, found = 0;

		for (t = c->s->start; t + len <= c->p->cutoff_at && !found; t += c->s->step) {
			if (t == w->start)
				continue;
			if ((rc = trial(c, wi, w->offline, w->noffline, t, t + len, sf->partition, r, &left)))
				return rc;
			if (!left)
				found = t;
		}
		if (found) {
			char when[40];
			adp_time_format(when, found);
			snprintf(buf, sizeof(buf), "; this wave alone fits starting at %s", when);
		} else {
			snprintf(buf, sizeof(buf), "; no other start in the window fits");
		}
		rc = append_advice(sf, buf);
	}
	return rc;
}

int part_plan(struct plan *out, const struct part_request *req)
{
	const struct inventory *inv = req->inv;
	const struct schedule *s = req->sched;
	struct plan p = { 0 };
	struct ctx c = { 0 };
	size_t i, w, tried = 0;
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
	for (r = 0; r < R; r++) {
		p.confidence[r] = s->confidence[r];
		c.eps[r] = 1 - s->confidence[r];
	}
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
	c.base = calloc(inv->nparts * R * c.d.K * c.d.H + 1, sizeof(double));
	c.sbase = calloc(inv->nparts * R * c.d.H + 1, sizeof(double));
	c.cap = calloc(inv->nparts * R + 1, sizeof(double));
	c.minsum = calloc(inv->nparts * R + 1, sizeof(double));
	c.hosts = calloc(inv->ncomps * inv->nparts + 1, sizeof(int));
	c.active = calloc(inv->ncomps + 1, sizeof(size_t));
	c.online = calloc(inv->nparts + 1, 1);
	c.scratch = calloc(c.d.K + 1, sizeof(double));
	if (!c.base || !c.sbase || !c.cap || !c.minsum || !c.hosts || !c.active || !c.online || !c.scratch) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory: the window has %zu steps and %zu scenarios",
				   c.d.H, c.d.K);
		goto done;
	}
	for (i = 0; i < inv->nparts; i++)
		for (r = 0; r < R; r++)
			c.cap[i * R + (size_t)r] = inv->parts[i].capacity[r];
	/* The home placement's load, once; each wave adds and takes back its moves. */
	for (i = 0; i < inv->ncomps; i++) {
		size_t j;
		for (j = 0; j < inv->comps[i].replicas; j++)
			shift_load(&c, inv->comps[i].placement[j], i, 1.0, 0, c.d.H);
	}
	if ((rc = build_waves(&c)))
		goto done;
	p.cost.present = 1;
	for (w = 0; w < p.nwaves; w++)
		if ((rc = plan_wave(&c, &p, &p.waves[w], w)))
			goto done;
	p.cost.total = p.cost.risk + p.cost.waste + p.cost.moves + p.cost.confidence;
	for (i = 0; i < p.nshortfalls && tried < PART_MAX_TRIED; i++)
		if (p.shortfalls[i].wave && p.shortfalls[i].partition && p.shortfalls[i].resource >= 0 &&
		    p.shortfalls[i].missing > 0) {
			tried++;
			if ((rc = test_fixes(&c, &p.shortfalls[i])))
				goto done;
		}
	check_rollback(&c);
	if (p.rollback_check.checked && !p.rollback_check.fits &&
	    (rc = plan_add_risk(&p, "rollback: the original placement does not fit at the confidence ('%s' %s at %.3g of %.3g)",
				p.rollback_check.partition ? p.rollback_check.partition : "?",
				adp_resource_name(p.rollback_check.resource), p.rollback_check.bound,
				p.rollback_check.capacity)))
		goto done;
	if ((rc = plan_steps_build(&p, step_update_timeout, &c)))
		goto done;
	if (c.d.K < 7 && (rc = plan_add_risk(&p, "only %zu joint scenarios: overload probabilities are coarse (a week of history gives 7)", c.d.K)))
		goto done;
	if (c.capped &&
	    (rc = plan_add_risk(&p, "%zu series have too little history for their tail at the confidence: their spread is widened %gx, the most the planner does (see adpart-update(1), plan)",
				c.capped, PART_MAX_WIDENING)))
		goto done;
	if (p.nreductions &&
	    (rc = plan_add_risk(&p, "shortage: %zu allocation%s below the forecast (see reductions)", p.nreductions,
				p.nreductions == 1 ? " is" : "s are")))
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
	if (c.d.row)
		for (i = 0; i < inv->ncomps * R; i++)
			free(c.d.row[i]);
	free(c.d.row);
	free(c.d.q);
	free(c.d.q50);
	free(c.d.q95);
	free(c.base);
	free(c.sbase);
	free(c.d.sp);
	free(c.cap);
	free(c.minsum);
	free(c.hosts);
	free(c.active);
	free(c.online);
	free(c.scratch);
	free(c.gpart);
	free(c.gfirst);
	free(c.gdur);
	return rc;
}
