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
	size_t part, h, h0, h1, k, K = c->d.K, H = c->d.H, i;
	double worst = -INFINITY;
	int r;

	if (!c->p->nwaves)
		return;
	part_wave_steps(c, c->p->waves[0].start, c->p->waves[c->p->nwaves - 1].end, &h0, &h1);
	rb->checked = 1;
	rb->fits = 1;
	for (part = 0; part < inv->nparts; part++)
		for (r = 0; r < R; r++) {
			double cap = c->cap[part * R + (size_t)r], *l = base_at(c, part, r), mins = 0;
			size_t allowed = part_allowed_over(c->eps[r], K);

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
	c->cap[pr] = saved + part_round_up(sf->missing, unit);
	rc = trial(c, wi, w->offline, w->noffline, w->start, w->end, sf->partition, r, &left);
	c->cap[pr] = saved;
	if (rc)
		return rc;
	snprintf(amount, sizeof(amount), "%g %s", part_round_up(sf->missing, unit) / (r == ADP_RES_CPU ? 1 : 1048576.0),
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
	for (i = 0; i < p.nshortfalls && tried < PART_MAX_TRIED; i++)
		if (p.shortfalls[i].wave && p.shortfalls[i].partition && p.shortfalls[i].resource >= 0 &&
		    p.shortfalls[i].missing > 0) {
			tried++;
			if ((rc = test_fixes(&c, &p.shortfalls[i])))
				goto done;
		}
	check_rollback(&c);
	if ((rc = plan_risks(&c)))
		goto done;
	rc = p.nshortfalls ? ADP_EINFEASIBLE : 0;
	if (rc)
		adp_error_set(rc, "no plan fits: %zu shortfall%s", p.nshortfalls, p.nshortfalls == 1 ? "" : "s");
	*out = p;
	memset(&p, 0, sizeof(p));
done:
	plan_release(&p);
	ctx_release(&c);
	return rc;
}
