/* Learned planning weights: successive halving over a Latin hypercube
 * of weight vectors, scored by replaying past windows (partition/tune.h). */
#include "partition/tune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "partition/planner.h"
#include "partition/simulate.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/timeutil.h"

static const double tune_levels[] = { 0.5, 0.9, 0.95, 0.99 };

/* splitmix64: small, well mixed, and the same on every platform. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

static double round3(double v)
{
	double m;

	if (!(v > 0) || !isfinite(v))
		return v;
	m = pow(10, floor(log10(v)) - 2);
	return round(v / m) * m;
}

void part_tune_sample(double *w, size_t n, size_t dim, const double *center, double spread, uint64_t seed)
{
	uint64_t st = seed;
	size_t i, j;

	if (spread < 1)
		spread = 1;
	for (j = 0; j < dim; j++) {
		double lo = center[j] / spread, hi = center[j] * spread;

		/* One stratum of [0, 1) per row, in a seeded order
		 * (Fisher-Yates on the row indices, kept in w's column). */
		for (i = 0; i < n; i++)
			w[i * dim + j] = (double)i;
		for (i = n; i > 1; i--) {
			size_t k = (size_t)(rng_next(&st) % i);
			double t = w[(i - 1) * dim + j];

			w[(i - 1) * dim + j] = w[k * dim + j];
			w[k * dim + j] = t;
		}
		for (i = 0; i < n; i++) {
			double u = (w[i * dim + j] + rng_unit(&st)) / (double)n;
			double v = round3(center[j] * pow(spread, 2 * u - 1));

			w[i * dim + j] = v < lo ? lo : v > hi ? hi : v;
		}
	}
}

struct ranked {
	size_t cand;
	double score;
};

static int cmp_ranked(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->score != y->score)
		return x->score < y->score ? -1 : 1;
	return x->cand < y->cand ? -1 : x->cand > y->cand;
}

int part_tune_halving(size_t *best, double *score, const double *w, size_t n, size_t dim, size_t nunits,
		      part_tune_eval_fn eval, void *ctx)
{
	struct ranked *alive;
	size_t nalive = n, rungs = 0, r, i, k;
	int rc = 0;

	if (!n || !nunits)
		return adp_error_set(ADP_EINPUT, "nothing to search: %zu candidates, %zu units", n, nunits);
	if (!(alive = calloc(n, sizeof(*alive))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		alive[i].cand = i;
	for (k = 1; k < n; k *= 2)
		rungs++;
	if (!rungs)
		rungs = 1; /* one candidate: scored once, on every unit */
	for (r = 0; r < rungs && (nalive > 1 || r == 0); r++) {
		size_t units = r + 1 == rungs ? nunits : nunits >> (rungs - 1 - r);

		if (!units)
			units = 1;
		for (i = 0; i < nalive; i++)
			if ((rc = eval(ctx, alive[i].cand, w + alive[i].cand * dim, units, &alive[i].score)))
				goto done;
		qsort(alive, nalive, sizeof(*alive), cmp_ranked);
		nalive = r + 1 == rungs ? 1 : (nalive + 1) / 2;
	}
	*best = alive[0].cand;
	*score = alive[0].score;
done:
	free(alive);
	return rc;
}

void part_tune_score(struct part_tune_summary *s)
{
	double res = 0, alloc = 0;
	int r, nr = 0;

	for (r = 0; r < ADP_RES_COUNT; r++)
		if (s->actual[r] > 0) {
			res += s->reserved[r] / s->actual[r];
			alloc += s->allocated[r] / s->actual[r];
			nr++;
		}
	s->reserved_ratio = nr ? res / nr : 0;
	s->allocated_ratio = nr ? alloc / nr : 0;
	s->score = s->allocated_ratio;
	if (s->comp_steps)
		s->score += PART_TUNE_K_VIOLATIONS * (double)s->violations / (double)s->comp_steps;
	if (s->host_steps)
		s->score += PART_TUNE_K_OVERLOADS * (double)s->overloads / (double)s->host_steps;
	if (s->windows) {
		s->score += PART_TUNE_K_MOVES * (double)s->moves / (double)s->windows;
		s->score += PART_TUNE_K_INFEASIBLE * (double)s->infeasible / (double)s->windows;
	}
}

static void summary_add(struct part_tune_summary *to, const struct part_tune_summary *x)
{
	int r;

	to->windows += x->windows;
	to->comp_steps += x->comp_steps;
	to->violations += x->violations;
	to->host_steps += x->host_steps;
	to->overloads += x->overloads;
	to->moves += x->moves;
	to->infeasible += x->infeasible;
	for (r = 0; r < ADP_RES_COUNT; r++) {
		to->reserved[r] += x->reserved[r];
		to->allocated[r] += x->allocated[r];
		to->actual[r] += x->actual[r];
	}
}

/* ---- Past windows ---- */

struct window {
	int64_t shift;                /* seconds before the schedule's window */
	int have_fc;
	struct forecast fc;           /* made once, copied for each plan */
};

struct tuner {
	const struct part_tune_opts *o;
	struct inventory inv;
	struct schedule sched;
	struct history hist;
	struct part_sim_guarantee *guar;
	struct window *win;           /* oldest first */
	size_t nwin, ntrain;
	/* [cand * nwin + window]: evaluated or not, and the outcome */
	unsigned char *done;
	struct part_tune_summary *res;
	size_t evaluations;
};

/* A deep copy, since the planner releases the scenarios it reads. */
static int forecast_copy(struct forecast *out, const struct forecast *in)
{
	struct forecast c = { 0 };
	size_t i;

	c.opts = in->opts;
	if (in->n && !(c.items = calloc(in->n, sizeof(*c.items))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (i = 0; i < in->n; i++) {
		const struct forecast_series *s = &in->items[i];
		struct forecast_series *d = &c.items[i];

		*d = *s;
		d->component = NULL, d->q = NULL, d->scen = NULL;
		c.n = i + 1;
		if (!(d->component = strdup(s->component)) ||
		    (s->q && !(d->q = malloc(s->horizon * s->nlevels * sizeof(*d->q)))) ||
		    (s->scen && !(d->scen = malloc(s->nscen * s->horizon * sizeof(*d->scen))))) {
			forecast_release(&c);
			return adp_error_set(ADP_ENOMEM, "out of memory");
		}
		if (s->q)
			memcpy(d->q, s->q, s->horizon * s->nlevels * sizeof(*d->q));
		if (s->scen)
			memcpy(d->scen, s->scen, s->nscen * s->horizon * sizeof(*d->scen));
	}
	*out = c;
	return 0;
}

/* The schedule as it was shift seconds earlier (blackouts moved too;
 * owned by *blk, which the caller frees). */
static int sched_shifted(struct schedule *s, struct schedule_blackout **blk, const struct schedule *in,
			 int64_t shift)
{
	size_t i;

	*s = *in;
	*blk = NULL;
	s->start -= shift;
	s->end -= shift;
	if (in->nblackouts) {
		if (!(*blk = malloc(in->nblackouts * sizeof(**blk))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		for (i = 0; i < in->nblackouts; i++) {
			(*blk)[i].start = in->blackouts[i].start - shift;
			(*blk)[i].end = in->blackouts[i].end - shift;
		}
		s->blackouts = *blk;
	}
	return 0;
}

static int window_forecast(struct tuner *t, struct window *w)
{
	struct forecast_opts fo = { 0 };
	const struct schedule *sc = &t->sched;
	int64_t start = sc->start - w->shift, end = sc->end - w->shift;
	int rc;

	if (w->have_fc)
		return 0;
	fo.origin = start - t->o->lead;
	fo.step = sc->step;
	fo.start = start - (start % sc->step + sc->step) % sc->step;
	fo.horizon = (size_t)((end - fo.start + sc->step - 1) / sc->step);
	memcpy(fo.levels, tune_levels, sizeof(tune_levels));
	fo.nlevels = sizeof(tune_levels) / sizeof(tune_levels[0]);
	fo.period = sc->period;
	fo.skip_periods = 1;
	if ((rc = forecast_run(&w->fc, &t->hist, &fo, t->o->model))) {
		char at[32];

		adp_time_format(at, start);
		return adp_error_wrap(rc, "the past window at %s", at);
	}
	w->have_fc = 1;
	return 0;
}

static size_t plan_moves(const struct plan *p)
{
	size_t n = 0, i, j;

	for (i = 0; i < p->nwaves; i++)
		for (j = 0; j < p->waves[i].nplacements; j++)
			n += p->waves[i].placements[j].from != NULL;
	return n;
}

/* Plans window wi with weights w and replays its actual load into *out. */
static int evaluate(struct tuner *t, size_t wi, const double *w, struct part_tune_summary *out)
{
	struct window *win = &t->win[wi];
	struct schedule sc;
	struct schedule_blackout *blk = NULL;
	struct forecast fc = { 0 };
	struct plan p = { 0 };
	struct part_sim sim = { 0 };
	struct part_tune_summary s = { 0 };
	size_t i;
	int rc, prc;

	if ((rc = window_forecast(t, win)) || (rc = sched_shifted(&sc, &blk, &t->sched, win->shift)) ||
	    (rc = forecast_copy(&fc, &win->fc)))
		goto done;
	memcpy(sc.weights, w, sizeof(sc.weights));
	{
		struct part_request req = { .inv = &t->inv, .sched = &sc, .fc = &fc, .now = sc.start - t->o->lead,
					    .tool_version = "tune", .no_remedies = 1,
					    .no_consolidation = 1 };

		prc = part_plan(&p, &req);
	}
	if (prc && prc != ADP_EINFEASIBLE) {
		rc = prc;
		goto done;
	}
	if ((rc = part_simulate(&sim, &p, &t->hist, t->guar, t->inv.ncomps)))
		goto done;
	s.windows = 1;
	s.infeasible = prc == ADP_EINFEASIBLE;
	s.moves = plan_moves(&p);
	for (i = 0; i < sim.n; i++) {
		const struct part_sim_stats *st = &sim.rows[i].m[PART_SIM_PLAN];

		s.comp_steps += st->steps;
		s.violations += st->violations;
		s.reserved[sim.rows[i].resource] += st->reserved_sum;
		s.allocated[sim.rows[i].resource] += st->demand_sum + st->slack_sum - st->excess_sum;
		s.actual[sim.rows[i].resource] += st->demand_sum;
	}
	for (i = 0; i < sim.nparts; i++) {
		s.host_steps += sim.parts[i].steps;
		s.overloads += sim.parts[i].overloads;
	}
	t->evaluations++;
	*out = s;
done:
	part_sim_release(&sim);
	plan_release(&p);
	forecast_release(&fc);
	free(blk);
	return rc;
}

/* The summary of candidate cand over windows [from, to), each evaluated
 * once and kept. */
static int summarise(struct tuner *t, size_t cand, const double *w, size_t from, size_t to,
		     struct part_tune_summary *out)
{
	struct part_tune_summary s = { 0 };
	size_t i;
	int rc;

	for (i = from; i < to; i++) {
		size_t k = cand * t->nwin + i;

		if (!t->done[k]) {
			if ((rc = evaluate(t, i, w, &t->res[k])))
				return rc;
			t->done[k] = 1;
		}
		summary_add(&s, &t->res[k]);
	}
	part_tune_score(&s);
	*out = s;
	return 0;
}

/* The search's objective: the latest units training windows (those
 * nearest the test windows first). */
static int train_eval(void *ctx, size_t cand, const double *w, size_t units, double *score)
{
	struct tuner *t = ctx;
	struct part_tune_summary s;
	int rc;

	if (units > t->ntrain)
		units = t->ntrain;
	if ((rc = summarise(t, cand, w, t->ntrain - units, t->ntrain, &s)))
		return rc;
	*score = s.score;
	return 0;
}

void part_tune_release(struct part_tune_result *r)
{
	if (!r)
		return;
	free(r->window_start);
	memset(r, 0, sizeof(*r));
}

static int check_opts(const struct part_tune_opts *o)
{
	if (o->windows < 2 || o->windows > PART_TUNE_MAX_WINDOWS)
		return adp_error_set(ADP_EINPUT, "windows: %zu is not from 2 to %d", o->windows, PART_TUNE_MAX_WINDOWS);
	if (o->candidates < 1 || o->candidates > PART_TUNE_MAX_CANDIDATES)
		return adp_error_set(ADP_EINPUT, "candidates: %zu is not from 1 to %d", o->candidates,
				     PART_TUNE_MAX_CANDIDATES);
	if (!(o->train > 0 && o->train < 1))
		return adp_error_set(ADP_EINPUT, "train: %g is not a share between 0 and 1", o->train);
	if (o->lead < 0)
		return adp_error_set(ADP_EINPUT, "lead: a past window is planned before it starts");
	return 0;
}

/* Which past windows: the schedule's window shifted by whole periods
 * (back, or forward from a window already past), the latest o->windows
 * that end by now, oldest first. */
static int pick_windows(struct tuner *t)
{
	const struct schedule *sc = &t->sched;
	int64_t period = sc->period > 0 ? sc->period : 86400, late = sc->end - t->o->now, k0;
	size_t n, want = t->o->windows;

	/* The fewest periods back (negative: forward, for a window already
	 * past) at which the window ends by now. */
	k0 = late >= 0 ? late / period + (late % period != 0) : -(-late / period);
	if (k0 > INT64_MAX / period - (int64_t)want)
		return adp_error_set(ADP_EINPUT, "%s: the window is too far after --now to shift it back", sc->path);
	if (!(t->win = calloc(want, sizeof(*t->win))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (n = 0; n < want; n++)
		t->win[want - 1 - n].shift = (k0 + (int64_t)n) * period;
	t->nwin = want;
	return 0;
}

int part_tune(struct part_tune_result *out, const struct part_tune_opts *o)
{
	struct tuner t = { 0 };
	struct part_tune_result res = { 0 };
	struct history_opts ho = { 0 };
	double *cands = NULL, center[SCHEDULE_NWEIGHTS], best_score = 0;
	char **files = NULL;
	size_t nfiles = 0, i, best = 0;
	int rc;

	t.o = o;
	history_init(&t.hist);
	if ((rc = check_opts(o)) || (rc = inventory_load(&t.inv, o->inventory)) ||
	    (rc = schedule_load_at(&t.sched, o->schedule, &t.inv, SCHEDULE_FULL, o->now)))
		goto done;
	t.ntrain = (size_t)floor((double)o->windows * o->train);
	if (t.ntrain < 1 || t.ntrain >= o->windows) {
		rc = adp_error_set(ADP_EINPUT,
				   "too few windows for a split: %zu windows with train %g leave %zu to learn on and %zu to judge on (each needs one)",
				   o->windows, o->train, t.ntrain, o->windows - t.ntrain);
		goto done;
	}
	if ((rc = pick_windows(&t)))
		goto done;
	ho.step = t.sched.step;
	ho.max_gap = t.sched.max_gap;
	ho.until = o->now;
	if ((rc = inventory_load_history(&t.hist, &t.inv, o->history, o->nhistory, &ho, &files, &nfiles)))
		goto done;
	if (t.inv.ncomps && !(t.guar = calloc(t.inv.ncomps, sizeof(*t.guar)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < t.inv.ncomps; i++) {
		t.guar[i].component = t.inv.comps[i].name;
		memcpy(t.guar[i].min, t.inv.comps[i].min, sizeof(t.guar[i].min));
	}
	if (!(cands = calloc(o->candidates * SCHEDULE_NWEIGHTS, sizeof(*cands))) ||
	    !(t.done = calloc(o->candidates * t.nwin, 1)) ||
	    !(t.res = calloc(o->candidates * t.nwin, sizeof(*t.res))) ||
	    !(res.window_start = calloc(t.nwin, sizeof(*res.window_start)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	/* Around today's weights. One at 0 stays 0: a factor of 0 is 0,
	 * and moves at 0 (every replica on an offline partition moves) is
	 * the operator's decision on redundancy, not the search's. */
	for (i = 0; i < SCHEDULE_NWEIGHTS; i++) {
		res.today[i] = center[i] = t.sched.weights[i];
		res.lo[i] = center[i] / PART_TUNE_SPREAD;
		res.hi[i] = center[i] * PART_TUNE_SPREAD;
	}
	part_tune_sample(cands, o->candidates, SCHEDULE_NWEIGHTS, center, PART_TUNE_SPREAD, o->seed);
	memcpy(cands, res.today, sizeof(res.today)); /* candidate 0: today's */
	if ((rc = part_tune_halving(&best, &best_score, cands, o->candidates, SCHEDULE_NWEIGHTS, t.ntrain, train_eval,
				    &t)) ||
	    (rc = summarise(&t, 0, cands, 0, t.ntrain, &res.today_train)) ||
	    (rc = summarise(&t, 0, cands, t.ntrain, t.nwin, &res.today_test)) ||
	    (rc = summarise(&t, best, cands + best * SCHEDULE_NWEIGHTS, 0, t.ntrain, &res.best_train)) ||
	    (rc = summarise(&t, best, cands + best * SCHEDULE_NWEIGHTS, t.ntrain, t.nwin, &res.best_test)))
		goto done;
	memcpy(res.proposed, cands + best * SCHEDULE_NWEIGHTS, sizeof(res.proposed));
	res.improved = best != 0 && res.best_test.score < res.today_test.score;
	res.nwindows = t.nwin;
	res.ntrain = t.ntrain;
	res.window_length = t.sched.end - t.sched.start;
	for (i = 0; i < t.nwin; i++)
		res.window_start[i] = t.sched.start - t.win[i].shift;
	res.candidates = o->candidates;
	res.evaluations = t.evaluations;
	*out = res;
	memset(&res, 0, sizeof(res));
done:
	part_tune_release(&res);
	free(cands);
	free(t.done);
	free(t.res);
	if (t.win)
		for (i = 0; i < t.nwin; i++)
			forecast_release(&t.win[i].fc);
	free(t.win);
	free(t.guar);
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	history_release(&t.hist);
	schedule_release(&t.sched);
	inventory_release(&t.inv);
	return rc;
}

int part_tune_write_schedule(const char *path, const char *out, const double *w)
{
	struct adp_json_doc d = { 0 };
	json_t *weights = NULL;
	char *text = NULL;
	size_t i;
	int rc;

	if ((rc = adp_json_load(&d, path)))
		return rc;
	if (!json_is_object(d.root)) {
		rc = adp_json_fail(&d, "", "expected an object");
		goto done;
	}
	if (!(weights = json_object())) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < SCHEDULE_NWEIGHTS; i++)
		if (json_object_set_new(weights, schedule_weight_names[i], json_real(w[i]))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
	if (json_object_set(d.root, "weights", weights) ||
	    !(text = json_dumps(d.root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	{
		size_t len = strlen(text);
		char *t2 = realloc(text, len + 2);

		if (!t2) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		text = t2;
		text[len] = '\n';
		text[len + 1] = '\0';
		if ((rc = adp_write_atomic(out, text, len + 1)))
			rc = adp_error_wrap(rc, "cannot write schedule '%s'", out);
	}
done:
	free(text);
	json_decref(weights);
	adp_json_release(&d);
	return rc;
}
