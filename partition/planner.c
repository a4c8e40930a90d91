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
#include "partition/planner_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plans/steps.h"
#include "util/error.h"
#include "util/timeutil.h"

const double part_granularity[ADP_RES_COUNT] = { 0.125, 64.0 * 1048576, 1048576, 1048576 };

/* Whether the original placement, every partition online (where a
 * rollback ends), fits from the first wave's start to the last's end. */
static void check_rollback(struct ctx *c)
{
	struct plan_rollback_check *rb = &c->p->rollback_check;
	const struct inventory *inv = c->inv;
	size_t part, h, h0, h1, k, K = c->d.K, H = c->d.H, i, j;
	double worst = -INFINITY;
	int r;

	if (!c->p->nwaves)
		return;
	part_wave_steps(c, c->p->waves[0].start, c->p->waves[c->p->nwaves - 1].end, &h0, &h1);
	rb->checked = 1;
	rb->fits = 1;
	/* The guarantees of each partition's home replicas, in c->minsum (a
	 * wave's scratch), summed in one pass over the replicas. */
	memset(c->minsum, 0, inv->nparts * R * sizeof(double));
	for (i = 0; i < inv->ncomps; i++)
		for (j = 0; j < inv->comps[i].replicas; j++)
			for (r = 0; r < R; r++)
				c->minsum[inv->comps[i].placement[j] * R + (size_t)r] += inv->comps[i].min[r];
	for (part = 0; part < inv->nparts; part++)
		for (r = 0; r < R; r++) {
			double cap = c->cap[part * R + (size_t)r], *l = base_at(c, part, r), mins = c->minsum[part * R + (size_t)r];
			size_t allowed = part_allowed_over(c->eps[r], K);

			if (cap <= 0)
				continue;
			if (mins > cap + 1e-9)
				rb->fits = 0;
			for (h = h0; h < h1; h++) {
				size_t over = 0;
				double b;

				for (k = 0; k < K; k++) {
					c->scratch[k] = l[h * K + k];
					over += l[h * K + k] > cap;
				}
				b = part_total_at_confidence(c->scratch, K, allowed, c->sbase[(part * R + (size_t)r) * H + h],
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
	return idx < 0 ? 0 : 2 * part_update_time(c->s, (size_t)idx);
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
	rc = part_plan_wave(c, &scratch, &w, wi);
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

/* The lower confidences advice tries, highest first. */
static const double advice_levels[] = { 0.9, 0.8, 0.5 };
#define ADVICE_LEVELS (sizeof(advice_levels) / sizeof(advice_levels[0]))

/* An amount of resource r as the advice states it: cores, MiB or MiB/s. */
static void amount_text(char buf[64], int r, double v)
{
	snprintf(buf, 64, "%g %s", v / (r == ADP_RES_CPU ? 1 : 1048576.0),
		 r == ADP_RES_CPU ? "cores" : r == ADP_RES_MEMORY ? "MiB" : "MiB/s");
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

	if (idx < 0)
		return 0;
	pr = (size_t)idx * R + (size_t)r;
	saved = c->cap[pr];
	c->cap[pr] = saved + part_round_up(sf->missing, unit);
	rc = trial(c, wi, w->offline, w->noffline, w->start, w->end, sf->partition, r, &left);
	c->cap[pr] = saved;
	if (rc)
		return rc;
	amount_text(amount, r, part_round_up(sf->missing, unit));
	snprintf(buf, sizeof(buf), "; checked: %s more on '%s' %s", amount, sf->partition,
		 left ? "is not enough for this wave" : "fits this wave");
	if ((rc = append_advice(sf, buf)))
		return rc;
	for (i = 0; i < ADVICE_LEVELS; i++) {
		double e = c->eps[r];

		if (1 - advice_levels[i] <= e)
			continue;
		c->eps[r] = 1 - advice_levels[i];
		rc = trial(c, wi, w->offline, w->noffline, w->start, w->end, sf->partition, r, &left);
		c->eps[r] = e;
		if (rc)
			return rc;
		if (!left) {
			snprintf(buf, sizeof(buf), "; %s confidence %.2g fits this wave", adp_resource_name(r), advice_levels[i]);
			if ((rc = append_advice(sf, buf)))
				return rc;
			break;
		}
	}
	if (i == ADVICE_LEVELS && (rc = append_advice(sf, "; no confidence down to 0.5 fits this wave")))
		return rc;
	if (w->noffline > 1) {
		for (i = 0; i < w->noffline && fits_alone; i++) {
			if ((rc = trial(c, wi, &w->offline[i], 1, w->start, w->end, NULL, r, &left)))
				return rc;
			fits_alone = !left;
		}
		if ((rc = append_advice(sf, fits_alone ? "; one partition at a time fits this wave"
						       : "; one partition at a time does not fit this wave")))
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
			char when[64];
			adp_time_format_msg(when, found, c->s->timezone);
			snprintf(buf, sizeof(buf), "; this wave alone fits starting at %s", when);
		} else {
			snprintf(buf, sizeof(buf), "; no other start in the window fits");
		}
		rc = append_advice(sf, buf);
	}
	return rc;
}

/* ---- remedies for the whole plan, each planned again in full ---- */

#define PART_REMEDY_ROUNDS 4 /* capacity raised at most this many times */
#define PART_REMEDY_LISTED 8 /* partitions named in a capacity remedy */
/* Scenarios kept for the remedies up to this size (beyond it they are
 * freed as soon as the demand is built, and the remedies unchecked). */
#define PART_REMEDY_KEEP ((size_t)32 << 20)


static int plan_with(struct plan *out, const struct part_request *req, int nested);

/* Plans again in full with inv and s, as the operator would after the
 * remedy (the forecast does not depend on capacity, confidence or
 * concurrency, so it is the same), into out (the caller releases it);
 * *fits: no shortfall and the proof holds. */
static int replan(struct ctx *c, const struct inventory *inv, const struct schedule *s, struct plan *out, int *fits)
{
	struct part_request r = *c->req;
	struct plan_proof pf;
	int rc;

	r.inv = inv;
	r.sched = s;
	/* The heuristic's placement: exact mode keeps it when the solver
	 * finds none better, so what fits here fits there too. */
	r.place_movers = NULL;
	memset(out, 0, sizeof(*out));
	*fits = 0;
	rc = plan_with(out, &r, 1);
	if (rc && rc != ADP_EINFEASIBLE)
		return rc;
	plan_proof(out, &pf);
	*fits = !out->nshortfalls && pf.holds;
	return 0;
}

/* What plan p lacks per partition and resource (need, nparts x R): its
 * shortfalls' missing amounts and, where the chance constraint fails,
 * its bound above the capacity; returns whether anything is lacking. */
static int lacking(const struct ctx *c, const struct plan *p, double *need)
{
	size_t i, w, u, h;
	int any = 0;

	memset(need, 0, c->inv->nparts * R * sizeof(double));
	for (i = 0; i < p->nshortfalls; i++) {
		const struct plan_shortfall *sf = &p->shortfalls[i];
		int idx = sf->partition ? inventory_partition_index(c->inv, sf->partition) : -1;

		if (sf->wave && idx >= 0 && sf->resource >= 0 && sf->missing > 0) {
			double *x = &need[(size_t)idx * R + (size_t)sf->resource];
			*x = fmax(*x, sf->missing);
		}
	}
	for (w = 0; w < p->nwaves; w++)
		for (u = 0; u < p->waves[w].nusage; u++) {
			const struct plan_usage *x = &p->waves[w].usage[u];
			int idx = inventory_partition_index(c->inv, x->partition);

			if (idx < 0 || x->resource < 0 || !x->bound || x->capacity <= 0 ||
			    !(x->overload_prob > 1 - p->confidence[x->resource] + 1e-9))
				continue;
			for (h = 0; h < x->nsteps; h++) {
				double *y = &need[(size_t)idx * R + (size_t)x->resource];
				*y = fmax(*y, x->bound[h] - x->capacity);
			}
		}
	for (i = 0; i < c->inv->nparts * R; i++)
		any |= need[i] > 0;
	return any;
}

/* More capacity where the plan lacks it, raised by what each plan
 * planned again still lacks, until it fits (PART_REMEDY_ROUNDS times at
 * most). */
static int remedy_capacity(struct ctx *c)
{
	size_t N = c->inv->nparts * R, i, round, listed = 0, more = 0, len = 0;
	double *need = calloc(N + 1, sizeof(double)), *extra = calloc(N + 1, sizeof(double));
	struct inv_partition *parts = calloc(c->inv->nparts + 1, sizeof(*parts));
	struct inventory inv = *c->inv;
	struct plan again = { 0 };
	int rc = 0, fits = 0, have = 0;
	char text[1024] = "", amount[64];

	if (!need || !extra || !parts) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	memcpy(parts, c->inv->parts, c->inv->nparts * sizeof(*parts)); /* their strings borrowed */
	inv.parts = parts;
	if (!lacking(c, c->p, need))
		goto done;
	for (round = 0; round < PART_REMEDY_ROUNDS && !fits; round++) {
		for (i = 0; i < N; i++) {
			extra[i] += part_round_up(need[i], part_granularity[i % R]);
			parts[i / R].capacity[i % R] = c->inv->parts[i / R].capacity[i % R] + extra[i];
		}
		plan_release(&again);
		if ((rc = replan(c, &inv, c->s, &again, &fits)))
			goto done;
		if (!fits && !lacking(c, &again, need))
			break; /* short of what capacity does not give */
	}
	for (i = 0; i < N; i++) {
		if (!(extra[i] > 0))
			continue;
		have = 1;
		if (listed == PART_REMEDY_LISTED) {
			more++;
			continue;
		}
		amount_text(amount, (int)(i % R), extra[i]);
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s%s%s on '%s'", listed ? ", " : "", amount,
					i % R == ADP_RES_CPU ? "" : " ", i % R == ADP_RES_CPU ? "" : adp_resource_name((int)(i % R)),
					c->inv->parts[i / R].name);
		len = len < sizeof(text) ? len : sizeof(text) - 1;
		listed++;
	}
	if (!have)
		goto done;
	if (more)
		snprintf(text + len, sizeof(text) - len, " and on %zu more partitions", more);
	if (fits)
		rc = plan_add_remedy(c->p, "more capacity: %s: the plan fits (planned again in full)", text);
	else
		rc = plan_add_remedy(c->p, "more capacity: %s is not enough: %zu shortfall%s%s remain (planned again in full)",
				     text, again.nshortfalls, again.nshortfalls == 1 ? "" : "s",
				     again.nshortfalls ? "" : " and a failing proof");
done:
	plan_release(&again);
	free(need);
	free(extra);
	free(parts);
	return rc;
}

/* A lower confidence for each resource the plan falls short of: the
 * highest of advice_levels at which the whole plan fits. */
static int remedy_confidence(struct ctx *c, const struct plan_proof *pf)
{
	struct schedule s = *c->s;
	struct plan again = { 0 };
	size_t i, j;
	int r, rc = 0;

	for (r = 0; r < R && !rc; r++) {
		int short_of = pf->wave[r] && pf->worst[r] > pf->eps[r] + 1e-9, fits = 0;

		for (i = 0; i < c->p->nshortfalls; i++)
			short_of |= c->p->shortfalls[i].wave && c->p->shortfalls[i].resource == r;
		if (!short_of)
			continue;
		for (j = 0; j < ADVICE_LEVELS && !fits && !rc; j++) {
			if (advice_levels[j] >= c->s->confidence[r])
				continue;
			s.confidence[r] = advice_levels[j];
			rc = replan(c, c->inv, &s, &again, &fits);
			plan_release(&again);
			if (!rc && fits)
				rc = plan_add_remedy(c->p, "%s confidence %.2g: the plan fits (planned again in full)",
						     adp_resource_name(r), advice_levels[j]);
		}
		s.confidence[r] = c->s->confidence[r];
		if (!fits && !rc)
			rc = plan_add_remedy(c->p, "no %s confidence down to 0.5 fits (each planned again in full)",
					     adp_resource_name(r));
	}
	return rc;
}

/* When the waves overrun the window: the lowest higher max_concurrency
 * whose waves fit it, planned again in full. */
static int remedy_concurrency(struct ctx *c)
{
	struct schedule s = *c->s;
	struct plan again = { 0 };
	size_t i;
	int rc = 0, fits;

	for (s.max_concurrency = c->s->max_concurrency + 1; s.max_concurrency <= s.npartitions; s.max_concurrency++) {
		int late = 0;

		if ((rc = replan(c, c->inv, &s, &again, &fits)))
			return rc;
		for (i = 0; i < again.nshortfalls; i++)
			late |= !again.shortfalls[i].wave;
		if (!late)
			rc = plan_add_remedy(c->p, "max_concurrency %zu: the waves fit the window%s (planned again in full)",
					     s.max_concurrency, fits ? " and the plan fits"
							 : again.nshortfalls ? ", but the capacity then falls short"
									     : ", but the plan's proof then fails");
		plan_release(&again);
		if (rc || !late)
			return rc;
	}
	return plan_add_remedy(c->p, "no max_concurrency fits the waves in the window%s (each planned again in full)",
			       c->s->max_per_zone ? " within max_per_zone" : "");
}

/* Remedies for a plan that does not fit or whose proof fails. */
static int plan_remedies(struct ctx *c)
{
	struct plan_proof pf;
	size_t i;
	int rc, timing = 0;

	plan_proof(c->p, &pf);
	if (!c->p->nshortfalls && pf.holds)
		return 0;
	if (!c->keep_scen)
		return plan_add_remedy(c->p, "none checked: at this size the scenarios are not kept to plan again "
					     "(add capacity, lower the confidence or raise max_concurrency, and plan again)");
	for (i = 0; i < c->p->nshortfalls; i++)
		timing |= !c->p->shortfalls[i].wave;
	if (timing)
		return remedy_concurrency(c);
	if ((rc = remedy_capacity(c)))
		return rc;
	return remedy_confidence(c, &pf);
}

/* The bytes of the forecast's scenarios. */
static size_t scen_bytes(const struct forecast *fc)
{
	size_t i, n = 0;

	for (i = 0; i < fc->n; i++)
		n += fc->items[i].nscen * fc->items[i].horizon * sizeof(*fc->items[i].scen);
	return n;
}

/* The plan's header from the schedule and forecast, and its partitions. */
static int plan_head(struct ctx *c)
{
	const struct part_request *req = c->req;
	const struct inventory *inv = c->inv;
	const struct schedule *s = c->s;
	struct plan *p = c->p;
	size_t i, j;
	int r;

	p->format_version = PLAN_FORMAT_VERSION;
	p->created_at = req->now;
	p->expires_at = req->now + s->plan_ttl < s->end - s->cutoff ? req->now + s->plan_ttl : s->end - s->cutoff;
	p->window_start = s->start;
	p->window_end = s->end;
	p->cutoff_at = s->end - s->cutoff;
	p->step = s->step;
	p->max_concurrency = s->max_concurrency;
	p->preallocate = (req->preallocate || s->preallocate) && !req->rebalance;
	p->rebalance = req->rebalance;
	p->period = req->fc->opts.period ? req->fc->opts.period : 86400;
	for (r = 0; r < R; r++) {
		p->confidence[r] = s->confidence[r];
		c->eps[r] = 1 - s->confidence[r];
	}
	if (!(p->tool_version = strdup(req->tool_version)) || !(p->schedule_name = strdup(s->name)) ||
	    !(p->timezone = strdup(s->timezone)) ||
	    !(p->model = strdup(req->fc->n ? req->fc->items[0].model : "none")))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (!(p->partitions = calloc(inv->nparts, sizeof(*p->partitions))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (i = 0; i < inv->nparts; i++) {
		struct plan_partition *pp = &p->partitions[p->npartitions++];

		pp->name = strdup(inv->parts[i].name);
		pp->zone = strdup(inv->parts[i].zone);
		if (!pp->name || !pp->zone)
			return adp_error_set(ADP_ENOMEM, "out of memory");
		memcpy(pp->capacity, inv->parts[i].capacity, sizeof(pp->capacity));
		for (j = 0; j < s->npartitions; j++)
			pp->updated |= s->partitions[j] == i;
	}
	return 0;
}

/* The planner's arrays once the demand is known: capacities, and the
 * home placement's load (each wave adds and takes back its moves). */
static int ctx_arrays(struct ctx *c)
{
	const struct inventory *inv = c->inv;
	size_t i, j;
	int r;

	c->base = calloc(inv->nparts * R * c->d.K * c->d.H + 1, sizeof(double));
	c->sbase = calloc(inv->nparts * R * c->d.H + 1, sizeof(double));
	c->cap = calloc(inv->nparts * R + 1, sizeof(double));
	c->minsum = calloc(inv->nparts * R + 1, sizeof(double));
	c->hosts = calloc(inv->ncomps * inv->nparts + 1, sizeof(int));
	c->active = calloc(inv->ncomps + 1, sizeof(size_t));
	c->online = calloc(inv->nparts + 1, 1);
	c->scratch = calloc(c->d.K + 1, sizeof(double));
	if (!c->base || !c->sbase || !c->cap || !c->minsum || !c->hosts || !c->active || !c->online || !c->scratch)
		return adp_error_set(ADP_ENOMEM, "out of memory: the window has %zu steps and %zu scenarios", c->d.H,
				     c->d.K);
	for (i = 0; i < inv->nparts; i++)
		for (r = 0; r < R; r++)
			c->cap[i * R + (size_t)r] = inv->parts[i].capacity[r];
	for (i = 0; i < inv->ncomps; i++)
		for (j = 0; j < inv->comps[i].replicas; j++)
			part_shift_load(c, inv->comps[i].placement[j], i, 1.0, 0, c->d.H);
	return 0;
}

/* The plan's risks: rollback, coarse scenarios, capped widening,
 * shortage, and thin headroom. */
static int plan_risks(struct ctx *c)
{
	struct plan *p = c->p;
	size_t w, i;
	int rc = 0;

	if (p->rollback_check.checked && !p->rollback_check.fits &&
	    (rc = plan_add_risk(p, "rollback: the original placement does not fit at the confidence ('%s' %s at %.3g of %.3g)",
				p->rollback_check.partition ? p->rollback_check.partition : "?",
				adp_resource_name(p->rollback_check.resource), p->rollback_check.bound,
				p->rollback_check.capacity)))
		return rc;
	if ((rc = plan_steps_build(p, step_update_timeout, c)))
		return rc;
	if (c->d.K < 7 && (rc = plan_add_risk(p, "only %zu joint scenarios: overload probabilities are coarse (a week of history gives 7)", c->d.K)))
		return rc;
	if (c->capped &&
	    (rc = plan_add_risk(p, "%zu series have too little history for their tail at the confidence: their spread is widened %gx, the most the planner does (see adpart-update(1), plan)",
				c->capped, PART_MAX_WIDENING)))
		return rc;
	for (i = 0; i < c->s->nevents && !rc; i++) {
		const struct schedule_load_event *e = &c->s->events[i];
		char a[32], b[32], what[256] = "";
		size_t n = 0;
		int r;

		if (e->end <= c->s->start || e->start >= c->s->end)
			continue; /* another occurrence's */
		adp_time_format(a, e->start);
		adp_time_format(b, e->end);
		for (r = 0; r < ADP_RES_COUNT && n < sizeof(what); r++) {
			if (e->mult[r] != 1)
				n += (size_t)snprintf(what + n, sizeof(what) - n, "%s%s x%g", n ? ", " : "",
						      adp_resource_name(r), e->mult[r]);
			if (e->add[r] > 0 && n < sizeof(what))
				n += (size_t)snprintf(what + n, sizeof(what) - n, "%s%s +%g", n ? ", " : "",
						      adp_resource_name(r), e->add[r]);
		}
		rc = plan_add_risk(p, "known event%s%s%s from %s to %s is in the forecast (%s) for %s%s", e->reason ? " '" : "",
				   e->reason ? e->reason : "", e->reason ? "'" : "", a, b, what,
				   e->ncomponents ? e->components[0] : "every component",
				   e->ncomponents > 1 ? " and others" : "");
	}
	if (rc)
		return rc;
	if (p->nreductions &&
	    (rc = plan_add_risk(p, "shortage: %zu allocation%s below the forecast (see reductions)", p->nreductions,
				p->nreductions == 1 ? " is" : "s are")))
		return rc;
	for (w = 0; w < p->nwaves && !rc; w++)
		for (i = 0; i < p->waves[w].nusage && !rc; i++) {
			const struct plan_usage *u = &p->waves[w].usage[i];
			if (u->capacity > 0 && u->headroom >= 0 && u->headroom < 0.1 * u->capacity)
				rc = plan_add_risk(p, "wave %zu: '%s' %s has under 10%% headroom at p95", w + 1,
						   u->partition, adp_resource_name(u->resource));
		}
	return rc;
}

static void ctx_release(struct ctx *c)
{
	size_t i;

	if (c->d.row)
		for (i = 0; i < c->inv->ncomps * R; i++)
			free(c->d.row[i]);
	free(c->d.row);
	free(c->d.q);
	free(c->d.q50);
	free(c->d.q95);
	free(c->base);
	free(c->sbase);
	free(c->d.sp);
	free(c->cap);
	free(c->minsum);
	free(c->hosts);
	free(c->active);
	free(c->online);
	free(c->scratch);
	free(c->gpart);
	free(c->gfirst);
	free(c->gdur);
}

int part_plan(struct plan *out, const struct part_request *req)
{
	return plan_with(out, req, 0);
}

static int plan_with(struct plan *out, const struct part_request *req, int nested)
{
	const struct schedule *s = req->sched;
	struct plan p = { 0 };
	struct ctx c = { 0 };
	size_t i, w, tried = 0;
	int rc;

	c.req = req;
	c.inv = req->inv;
	c.s = s;
	c.p = &p;
	c.grid0 = req->fc->opts.start;
	c.keep_scen = nested || (!req->no_remedies && scen_bytes(req->fc) <= PART_REMEDY_KEEP);
	if (req->fc->opts.step != s->step || c.grid0 > s->start ||
	    c.grid0 + (int64_t)req->fc->opts.horizon * s->step < s->end)
		return adp_error_set(ADP_EINPUT, "the forecast does not cover the window at the schedule's step");
	if ((rc = plan_head(&c)) || (rc = summarise_forecast(&c)) || (rc = part_build_demand(&c)))
		goto done;
	p.scenarios = c.d.K;
	if ((rc = ctx_arrays(&c)) || (rc = part_build_waves(&c)))
		goto done;
	p.cost.present = 1;
	for (w = 0; w < p.nwaves; w++)
		if ((rc = part_plan_wave(&c, &p, &p.waves[w], w)))
			goto done;
	p.cost.total = p.cost.risk + p.cost.waste + p.cost.moves + p.cost.confidence;
	for (i = 0; i < p.nshortfalls && tried < PART_MAX_TRIED && !nested; i++)
		if (p.shortfalls[i].wave && p.shortfalls[i].partition && p.shortfalls[i].resource >= 0 &&
		    p.shortfalls[i].missing > 0) {
			tried++;
			if ((rc = test_fixes(&c, &p.shortfalls[i])))
				goto done;
		}
	if (!nested && !req->no_remedies && (rc = plan_remedies(&c)))
		goto done;
	check_rollback(&c);
	if ((rc = plan_risks(&c)))
		goto done;
	/* Last: its trials leave the base as they found it only up to
	 * rounding, and the rollback check reads it. */
	if (!nested && !req->no_consolidation && (rc = part_consolidate(&c)))
		goto done;
	rc = p.nshortfalls ? ADP_EINFEASIBLE : 0;
	if (rc)
		adp_error_set(rc, "no plan fits: %zu shortfall%s", p.nshortfalls, p.nshortfalls == 1 ? "" : "s");
	*out = p;
	memset(&p, 0, sizeof(p));
done:
	if (!nested && c.keep_scen) /* see part_request.fc */
		for (i = 0; i < req->fc->n; i++) {
			free(req->fc->items[i].scen);
			req->fc->items[i].scen = NULL;
		}
	plan_release(&p);
	ctx_release(&c);
	return rc;
}
