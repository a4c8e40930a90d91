/* The planner's demand: per replica, its scenarios and quantiles over
 * the window, the forecast widened for short history, and the statistics
 * of the chance constraint. */
#include "partition/planner_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/mathutil.h"
#include "util/parallel.h"

/* The quickselect step both selections below share, for values of type
 * T: a median of three as the pivot, v[lo..hi] partitioned around it
 * without a branch on the values (a mispredicted branch per value was a
 * large part of the planner's time), the pivot left at v[s]. */
#define QS_PARTITION(T, v, lo, hi, s, pivot)                                                    \
	do {                                                                                    \
		size_t mid_ = (lo) + ((hi) - (lo)) / 2, at_, i_;                                \
		T a_ = (v)[lo], b_ = (v)[mid_], c_ = (v)[hi];                                   \
                                                                                                \
		at_ = a_ < b_ ? (b_ < c_ ? mid_ : a_ < c_ ? (hi) : (lo)) : (a_ < c_ ? (lo) : b_ < c_ ? (hi) : mid_); \
		(pivot) = (v)[at_];                                                             \
		(v)[at_] = (v)[hi];                                                             \
		(v)[hi] = (pivot);                                                              \
		for ((s) = (lo), i_ = (lo); i_ < (hi); i_++) {                                  \
			T x_ = (v)[i_];                                                         \
                                                                                                \
			(v)[i_] = (v)[s];                                                       \
			(v)[s] = x_;                                                            \
			(s) += x_ < (pivot);                                                    \
		}                                                                               \
		(v)[hi] = (v)[s];                                                               \
		(v)[s] = (pivot);                                                               \
	} while (0)

/* v[lo..hi] sorted by insertion, once few are left. */
#define QS_INSERTION(T, v, lo, hi)                                                              \
	do {                                                                                    \
		size_t i_, j_;                                                                  \
                                                                                                \
		for (i_ = (lo) + 1; i_ <= (hi); i_++) {                                         \
			T x_ = (v)[i_];                                                         \
                                                                                                \
			for (j_ = i_; j_ > (lo) && (v)[j_ - 1] > x_; j_--)                      \
				(v)[j_] = (v)[j_ - 1];                                          \
			(v)[j_] = x_;                                                           \
		}                                                                               \
	} while (0)

/* The value of ascending rank want among v[lo..hi], with the smaller
 * before it and the larger after (v is scrambled): quickselect
 * (QS_PARTITION), and insertion sort once few are left. */
static double select_rank(double *v, size_t lo, size_t hi, size_t want)
{
	size_t i, j;

	while (hi - lo > 8) {
		size_t s;
		double pivot;

		QS_PARTITION(double, v, lo, hi, s, pivot);
		if (want == s)
			return pivot;
		if (want < s) {
			hi = s - 1;
			continue;
		}
		if (hi - s <= (hi - lo) / 4 * 3) {
			lo = s + 1;
			continue;
		}
		/* Most of them not below the pivot: the values equal to it
		 * set apart, or many equal values (an idle resource's zeros)
		 * would take one pass each. */
		for (i = j = s + 1; i <= hi; i++) {
			double x = v[i];

			v[i] = v[j];
			v[j] = x;
			j += !(pivot < x);
		}
		if (want < j)
			return pivot;
		lo = j;
	}
	QS_INSERTION(double, v, lo, hi);
	return v[want];
}

double part_select_desc(double *v, size_t n, size_t above)
{
	return select_rank(v, 0, n - 1, n - 1 - (above < n ? above : n - 1));
}

/* The total at the confidence on a partition at one step: the scenarios'
 * (1 - eps) order statistic, or the co-movement floor, median plus
 * dependence x the summed spreads, whichever is higher. v is scrambled. */
double part_total_at_confidence(double *v, size_t K, size_t allowed, double spread, double dependence)
{
	size_t top = K - 1 - (allowed < K ? allowed : K - 1), med = K - 1 - (K - 1) / 2;
	double b = select_rank(v, 0, K - 1, top);

	/* The median, when below the first, among the values the first
	 * left before it. */
	if (dependence > 0)
		b = fmax(b, (med <= top ? select_rank(v, 0, top, med) : select_rank(v, 0, K - 1, med)) +
				    dependence * spread);
	return b;
}

size_t part_allowed_over(double eps, size_t K)
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

/* Quantile of Student's t with nu degrees of freedom (Cornish-Fisher
 * expansion around the normal; within 1% for nu >= 3). */
static double t_inv(double p, double nu)
{
	double z = adp_norm_inv(p), z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z;

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
	return fmin(PART_MAX_WIDENING, fmax(1, t_inv(1 - eps, neff - 1) * sqrt(1 + 1 / neff) / adp_norm_inv(1 - eps)));
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
 * NAN: a forecast not made by forecast_run, or a history of zeros). Where
 * the median forecast itself is above it (growth, or a series pegged at
 * its ceiling that the model puts a little above it), the tail follows
 * the point by as much as the point rose: the cap is the median plus its
 * rise above the maximum (with no cap there, a VM at its ceiling was
 * given 2.5 times its maximum). */
double part_cap(const struct forecast_series *fs, double med)
{
	if (!fs || !(fs->hist_max > 0))
		return INFINITY;
	return forecast_ceiling(fs->hist_max, med);
}

/* The schedule's known events at time t for component's resource r: the
 * product of their multipliers and the sum of their additions. */
static void event_at(const struct schedule *s, const char *component, int r, int64_t t, double *mult, double *add)
{
	size_t i, j;

	*mult = 1;
	*add = 0;
	for (i = 0; i < s->nevents; i++) {
		const struct schedule_load_event *e = &s->events[i];
		int hit = !e->ncomponents;

		if (t < e->start || t >= e->end)
			continue;
		for (j = 0; j < e->ncomponents && !hit; j++)
			hit = !strcmp(e->components[j], component);
		if (hit) {
			*mult *= e->mult[r];
			*add += e->add[r];
		}
	}
}

/* The feedback loop's factor on a series' spread (1 without one). */
static double feedback_scale(const struct part_request *req, const char *component, int r)
{
	size_t i;

	for (i = 0; i < req->nfeedback; i++)
		if (req->feedback[i].resource == r && !strcmp(req->feedback[i].component, component))
			return req->feedback[i].scale;
	return 1;
}

/* Ascending keys by a bottom-up merge sort through tmp (n each). */
static void sort_keys(uint64_t *v, uint64_t *tmp, size_t n)
{
	size_t w, i;
	uint64_t *a = v, *b = tmp, *t;

	for (w = 1; w < n; w *= 2) {
		for (i = 0; i < n; i += 2 * w) {
			size_t lo = i, mid = i + w < n ? i + w : n, hi = i + 2 * w < n ? i + 2 * w : n, x = lo, y = mid, o = lo;

			/* No branch on the keys: which comes next is not predictable. */
			while (x < mid && y < hi) {
				uint64_t ax = a[x], ay = a[y];
				int first = ax <= ay;

				b[o++] = first ? ax : ay;
				x += (size_t)first;
				y += (size_t)!first;
			}
			while (x < mid)
				b[o++] = a[x++];
			while (y < hi)
				b[o++] = a[y++];
		}
		t = a, a = b, b = t;
	}
	if (a != v)
		memcpy(v, a, n * sizeof(*v));
}

/* Distinct keys put so that the one of rank m (m < n) is at v[m], the
 * smaller before it and the larger after, in no order: quickselect as
 * select_rank's, with no equal values to set apart. */
static void select_key(uint64_t *v, size_t n, size_t m)
{
	size_t lo = 0, hi = n - 1;

	while (hi - lo > 8) {
		size_t s;
		uint64_t pivot;

		QS_PARTITION(uint64_t, v, lo, hi, s, pivot);
		if (m == s)
			return;
		if (m < s)
			hi = s - 1;
		else
			lo = s + 1;
	}
	QS_INSERTION(uint64_t, v, lo, hi);
}

/* The scenarios are raw past error paths, while the quantiles are
 * conformal, widened by the forecaster's drift check and, for auto,
 * taken from other bands (the climatology, an on/off regime); so a
 * scenario's value says little by itself, but its rank among the K
 * scenarios of its step does, and the same rank across components is the
 * same past period (their co-movement). Each step's scenarios are mapped
 * onto the band by rank: the j-th smallest takes the band's quantile at
 * (j + 1/2) / K above the median; below it, its own deviation from the
 * scenarios' median added to the band's. So every upper level of a
 * series' scenarios is its band's (before, deviations above the median
 * were stretched by one factor until the (1 - eps) order statistic met
 * the band: on an on/off series a few idle scenarios a hair above the
 * median were stretched to the busy level, the partition's median total
 * with them, and P(overload) was 60-80 % where none came; the partition
 * totals went over the plan's bound at 7.4 % of host-steps against
 * eps 5 %, now 4.4-4.6 %). out[k] for scenario k; keys holds 2 K. */
void part_map_ranks(double *out, uint64_t *keys, const float *scen, size_t K, size_t H, size_t h,
		    const struct forecast_series *fs, const double *levels, double med)
{
	size_t j, k;
	double smed;

	/* A scenario's float bits order like its value when it is not
	 * negative (scenarios never are; -0, NAN or less count as 0); the
	 * index below them keeps ties in scenario order. */
	for (k = 0; k < K; k++) {
		float v = scen[k * H + h];
		uint32_t bits = 0;

		if (v > 0)
			memcpy(&bits, &v, sizeof(bits));
		keys[k] = (uint64_t)bits << 32 | (uint32_t)k;
	}
	/* Below the median a scenario's rank does not matter, only which
	 * side it is on: the keys up to the median are selected, the rest
	 * sorted. */
	select_key(keys, K, (K - 1) / 2);
	sort_keys(keys + (K - 1) / 2 + 1, keys + K, K - (K - 1) / 2 - 1);
	smed = scen[(keys[(K - 1) / 2] & 0xffffffffu) * H + h];
	for (j = 0; j < K; j++) {
		double u = ((double)j + 0.5) / (double)K;

		k = (size_t)(keys[j] & 0xffffffffu);
		out[k] = u >= 0.5 ? forecast_quantile(fs, levels, h, u) : med + ((double)fmaxf(scen[k * H + h], 0) - fmax(smed, 0));
	}
}

/* Component i's demand rows (ctx the planner's context): its own slots of
 * c->d only, so that components are built on every core. */
static int demand_of(void *ctx, size_t i)
{
	struct ctx *c = ctx;
	const struct inv_component *comp = &c->inv->comps[i];
	struct forecast *fc = c->req->fc;
	size_t K = c->d.K, H = c->d.H, h, k;
	double rep = (double)comp->replicas, *mapped = malloc(K * sizeof(double));
	uint64_t *keys = malloc(2 * K * sizeof(uint64_t));
	int r, rc = 0;

	if (!mapped || !keys) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (r = 0; r < ADP_RES_COUNT; r++) {
		const struct forecast_series *fs = c->d.fs[i * R + (size_t)r];
		float *dv = NULL;
		double med, wide = 1, top, qc;
		size_t qi = (i * ADP_RES_COUNT + (size_t)r) * H;

		if (fs && !(dv = c->d.row[i * R + (size_t)r] = malloc(K * H * sizeof(float) + 1))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory: %zu series of %zu steps and %zu scenarios", fc->n, H,
					   K);
			goto done;
		}
		if (fs && !c->req->no_widening) {
			wide = part_widening(fs->history_used, fc->opts.step, fs->period ? fs->period : fc->opts.period,
					     1 - c->s->confidence[r]);
			if (wide >= PART_MAX_WIDENING)
				__atomic_add_fetch(&c->capped, 1, __ATOMIC_RELAXED);
		}
		if (fs)
			wide *= feedback_scale(c->req, comp->name, r);
		for (h = 0; h < H; h++) {
			double em, ea;

			/* A known event scales and raises the whole distribution
			 * at its steps, past the cap at the recent maximum: the
			 * surge is what history has not seen. */
			event_at(c->s, comp->name, r, c->grid0 + (int64_t)h * c->s->step, &em, &ea);
			if (!fs) {
				/* No history for this resource: plan at the guarantee. */
				c->d.q[qi + h] = c->d.q50[qi + h] = c->d.q95[qi + h] = comp->min[r] * em + ea / rep;
				continue;
			}
			med = forecast_quantile(fs, fc->opts.levels, h, 0.5);
			top = part_cap(fs, med);
			qc = forecast_quantile(fs, fc->opts.levels, h, c->s->confidence[r]);
			part_map_ranks(mapped, keys, fs->scen, K, H, h, fs, fc->opts.levels, med);
			for (k = 0; k < K; k++)
				dv[k * H + h] = (float)((fmin(top, fmax(0, med + wide * (mapped[k] - med))) * em + ea) / rep);
			c->d.q[qi + h] = (fmin(top, fmax(0, med + wide * (qc - med))) * em + ea) / rep;
			c->d.q50[qi + h] = (med * em + ea) / rep;
			c->d.q95[qi + h] = (fmin(top, fmax(0, med + wide * (forecast_quantile(fs, fc->opts.levels, h, 0.95) - med))) *
						    em + ea) / rep;
			c->d.sp[qi + h] = fmax(0, c->d.q[qi + h] - c->d.q50[qi + h]);
		}
		if (fs && !c->keep_scen) { /* copied into dv: see part_request.fc */
			struct forecast_series *own = &fc->items[fs - fc->items];

			free(own->scen);
			own->scen = NULL;
		}
	}
done:
	free(mapped);
	free(keys);
	return rc;
}

int part_build_demand(struct ctx *c)
{
	const struct inventory *inv = c->inv;
	struct forecast *fc = c->req->fc;
	size_t K = 0, H = fc->opts.horizon, i;
	const char **names;
	int rc;

	/* Scenario k must mean the same past period for every series, so
	 * only as many as the shortest history offers are joint. */
	for (i = 0; i < fc->n; i++)
		if (K == 0 || fc->items[i].nscen < K)
			K = fc->items[i].nscen;
	if (K == 0)
		K = 1;
	c->d.K = K;
	c->d.H = H;
	c->d.row = calloc(inv->ncomps * ADP_RES_COUNT + 1, sizeof(float *));
	c->d.q = calloc(inv->ncomps * ADP_RES_COUNT * H, sizeof(double));
	c->d.q50 = calloc(inv->ncomps * ADP_RES_COUNT * H, sizeof(double));
	c->d.q95 = calloc(inv->ncomps * ADP_RES_COUNT * H, sizeof(double));
	c->d.sp = calloc(inv->ncomps * ADP_RES_COUNT * H + 1, sizeof(double));
	c->d.fs = calloc(inv->ncomps * ADP_RES_COUNT + 1, sizeof(*c->d.fs));
	names = malloc((inv->ncomps + 1) * sizeof(*names));
	if (!c->d.row || !c->d.q || !c->d.q50 || !c->d.q95 || !c->d.sp || !c->d.fs || !names) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < inv->ncomps; i++)
		names[i] = inv->comps[i].name;
	if (!(rc = forecast_find_all(fc, names, inv->ncomps, c->d.fs)))
		rc = adp_parallel(inv->ncomps, adp_threads(0, inv->ncomps, 16), demand_of, NULL, c);
done:
	free(names);
	free(c->d.fs);
	c->d.fs = NULL;
	return rc;
}
