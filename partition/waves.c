/* The waves: which partitions go offline together, and when the waves
 * start (the earliest start, or the one where the tightest wave carries
 * the least load). */
#include "partition/planner_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/timeutil.h"

#define PART_MAX_STARTS 288      /* start times compared at most */

/* ---- waves: which partitions together, and when ---- */

int64_t part_update_time(const struct schedule *s, size_t part)
{
	size_t i;

	for (i = 0; i < s->npartitions; i++)
		if (s->partitions[i] == part)
			return s->update_duration[i];
	return 0;
}

int part_carried(const struct ctx *c, double *out)
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

/* Groups the schedule's partitions, in order, into waves of at most conc
 * partitions and at most max_per_zone of one zone: a partition that would
 * break the zone limit waits for a later wave, the others keep order. */
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
	if (s->order_lightest && (rc = part_carried(c, byp)))
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
			if (part_update_time(s, order[i]) > longest)
				longest = part_update_time(s, order[i]);
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

void part_wave_steps(const struct ctx *c, int64_t start, int64_t end, size_t *h0, size_t *h1)
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
			part_wave_steps(c, st[g], en[g], &h0, &h1);
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

int part_build_waves(struct ctx *c)
{
	const struct schedule *s = c->s;
	struct plan *p = c->p;
	int64_t t0, last, *st = NULL, *en = NULL;
	size_t g, i;
	int rc;

	if (c->req->rebalance) {
		/* One wave over the whole window, nothing offline. */
		if (!(p->waves = calloc(1, sizeof(*p->waves))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		p->nwaves = 1;
		p->waves[0].start = s->start;
		p->waves[0].end = s->end;
		if (!(p->waves[0].offline = calloc(1, sizeof(char *))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		p->margin = p->cutoff_at - s->end;
		return 0;
	}
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
				snprintf(fix, sizeof(fix), "; checked: max_concurrency %zu fits the window", conc);
		}
		if (!*fix)
			snprintf(fix, sizeof(fix), "; checked: no max_concurrency fits%s",
				 s->max_per_zone ? " within max_per_zone" : "");
		if ((rc = build_groups(c, s->max_concurrency)))
			goto done;
		snprintf(advice, sizeof(advice),
			 "the waves need %s but the window allows %s before the cutoff: raise max_concurrency (now %zu of the %zu partitions to update), shorten the updates, or widen the window%s",
			 need, have, s->max_concurrency, total, fix);
		rc = part_add_shortfall(p, 0, NULL, NULL, -1, (double)(last - s->start), (double)(p->cutoff_at - s->start),
				   p->cutoff_at, advice);
	}
done:
	free(st);
	free(en);
	return rc;
}
