/* Consolidation advice: after a plan that fits, whose proof holds and
 * that cuts no allocation (one that does has no capacity to spare),
 * the partitions that could go empty for the whole window, everything
 * that would run there (their home replicas, and the moves the waves put
 * there) placed on the others with the proof still holding.
 *
 * The window is cut into segments: each wave, with its own partitions
 * offline, and the stretches between and around the waves, where every
 * replica is at home. A set of partitions can go empty when every
 * segment, planned again by part_plan_wave with the set offline too,
 * places every replica, gives none less than its forecast, and passes
 * plan_proof: per partition and resource the same joint scenarios and
 * the same epsilon as the plan's own proof. Greedy: the least loaded
 * partitions are tried one at a time, each kept in the set when the
 * check holds with it. Advice only: the plan is not changed.
 *
 * The work is bounded: at most PART_CONSOL_TRIED partitions, and the
 * scenario values the checks read at most the request's budget
 * (PART_CONSOL_WORK, planner.h); when one check alone would read more,
 * nothing is checked and the plan says so. */
#include "partition/planner_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define PART_CONSOL_TRIED 16

/* One stretch of the window: a wave (wave its index) or a gap between
 * waves (wave SIZE_MAX), with the partitions offline in it. */
struct segment {
	int64_t start, end;
	size_t wave;
	char *const *offline; /* borrowed from the plan's wave; none in a gap */
	size_t noffline;
};

struct consol {
	struct ctx *c;
	struct segment *seg;
	size_t nseg, first;   /* first: the segment to check first, the one that failed last */
	const char **off;     /* scratch: a segment's offline names and the set's */
	size_t replicas;      /* in the inventory */
	double work;          /* scenario values read so far */
	double check_work;    /* what one check of every segment reads */
	double budget;        /* what all the checks may read */
};

/* The segments of the window: the waves, and the stretches before,
 * between and after them. */
static int segments(struct consol *x)
{
	const struct plan *p = x->c->p;
	int64_t t = p->window_start;
	size_t w;

	if (!(x->seg = calloc(2 * p->nwaves + 1, sizeof(*x->seg))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (w = 0; w < p->nwaves; w++) {
		const struct plan_wave *wv = &p->waves[w];

		if (wv->start > t)
			x->seg[x->nseg++] = (struct segment){ t, wv->start, SIZE_MAX, NULL, 0 };
		x->seg[x->nseg++] = (struct segment){ wv->start, wv->end, w, wv->offline, wv->noffline };
		t = wv->end > t ? wv->end : t;
	}
	if (p->window_end > t)
		x->seg[x->nseg++] = (struct segment){ t, p->window_end, SIZE_MAX, NULL, 0 };
	return 0;
}

/* What checking segment sg reads, by the budget's measure. */
static double segment_work(const struct consol *x, const struct segment *sg)
{
	size_t h0, h1;

	part_wave_steps(x->c, sg->start, sg->end, &h0, &h1);
	return (double)x->c->d.K * (double)(h1 - h0) * R * (double)(x->c->inv->nparts + x->replicas);
}

/* Segment sg planned again with the partitions marked in empty offline
 * too: *holds when every replica is placed, none gets less than its
 * forecast and the proof holds; worst[r] raised to its P(overload). */
static int check_segment(struct consol *x, const struct segment *sg, const unsigned char *empty, int *holds,
			 double worst[R])
{
	struct ctx *c = x->c;
	struct plan scratch = { 0 }, shell = { 0 };
	struct plan_wave w = { 0 };
	struct plan_proof pf;
	size_t i, n = 0;
	int rc, r;

	for (i = 0; i < sg->noffline; i++)
		x->off[n++] = sg->offline[i];
	for (i = 0; i < c->inv->nparts; i++)
		if (empty[i])
			x->off[n++] = c->inv->parts[i].name;
	x->work += segment_work(x, sg);
	w.offline = (char **)x->off; /* borrowed: detached before the release */
	w.noffline = n;
	w.start = sg->start;
	w.end = sg->end;
	rc = part_plan_wave(c, &scratch, &w, sg->wave == SIZE_MAX ? 0 : sg->wave);
	*holds = 0;
	if (!rc && !scratch.nshortfalls && !scratch.nreductions) {
		/* The plan's own proof on this one wave (the partitions and
		 * confidences borrowed from the plan). */
		shell.partitions = c->p->partitions;
		shell.npartitions = c->p->npartitions;
		shell.waves = &w;
		shell.nwaves = 1;
		memcpy(shell.confidence, c->p->confidence, sizeof(shell.confidence));
		plan_proof(&shell, &pf);
		*holds = pf.holds;
		for (r = 0; r < R; r++)
			if (pf.wave[r])
				worst[r] = fmax(worst[r], pf.worst[r]);
	}
	w.offline = NULL;
	w.noffline = 0;
	plan_wave_release(&w);
	plan_release(&scratch);
	return rc;
}

/* Whether every segment holds with the partitions in empty offline; the
 * one that failed last is checked first, as it is the likeliest to fail
 * again. worst: the largest P(overload) per resource when it holds. */
static int check_all(struct consol *x, const unsigned char *empty, int *holds, double worst[R])
{
	size_t i;
	int rc;

	memset(worst, 0, R * sizeof(double));
	*holds = 1;
	for (i = 0; i < x->nseg && *holds; i++) {
		size_t s = (x->first + i) % x->nseg;

		if ((rc = check_segment(x, &x->seg[s], empty, holds, worst)))
			return rc;
		if (!*holds)
			x->first = s;
	}
	return 0;
}

/* The partitions by load, the least first: the larger of the share of
 * capacity its home replicas take (part_carried) and of what the plan
 * puts there in any wave at p95; ties in inventory order. */
static int by_load(struct consol *x, size_t *order)
{
	const struct ctx *c = x->c;
	size_t n = c->inv->nparts, i, j, w, u, h;
	double *load = calloc(n + 1, sizeof(double));
	int rc;

	if (!load)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if ((rc = part_carried(c, load)))
		goto done;
	for (w = 0; w < c->p->nwaves; w++)
		for (u = 0; u < c->p->waves[w].nusage; u++) {
			const struct plan_usage *us = &c->p->waves[w].usage[u];
			int idx = inventory_partition_index(c->inv, us->partition);

			if (idx < 0 || !(us->capacity > 0))
				continue;
			for (h = 0; h < us->nsteps; h++)
				load[idx] = fmax(load[idx], us->p95[h] / us->capacity);
		}
	for (i = 0; i < n; i++) {
		order[i] = i;
		for (j = i; j > 0 && load[order[j - 1]] > load[order[j]]; j--) {
			size_t t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	}
done:
	free(load);
	return rc;
}

/* What the set empty holds: its partitions, their capacity, and the
 * replicas and components homed there. */
static int record(struct consol *x, const unsigned char *empty, size_t tried, size_t candidates,
		  const double worst[R])
{
	const struct inventory *inv = x->c->inv;
	struct plan_consolidation *pc = &x->c->p->consolidation;
	size_t i, j;
	int rc, r;

	pc->state = PLAN_CONSOL_CHECKED;
	pc->tried = tried;
	pc->candidates = candidates;
	for (i = 0; i < inv->nparts; i++) {
		if (!empty[i])
			continue;
		if ((rc = plan_consolidation_add(pc, inv->parts[i].name)))
			return rc;
		for (r = 0; r < R; r++)
			pc->freed[r] += inv->parts[i].capacity[r];
	}
	for (i = 0; i < inv->ncomps; i++) {
		size_t here = 0;

		for (j = 0; j < inv->comps[i].replicas; j++)
			here += empty[inv->comps[i].placement[j]];
		pc->replicas += here;
		pc->components += here > 0;
	}
	if (pc->npartitions)
		memcpy(pc->worst, worst, sizeof(pc->worst));
	return 0;
}

int part_consolidate(struct ctx *c)
{
	const struct part_request *req = c->req;
	struct part_request heuristic = *req;
	struct consol x = { .c = c };
	struct plan_proof pf;
	size_t n = c->inv->nparts, i, tried = 0, kept = 0, *order = NULL;
	unsigned char *empty = NULL;
	double worst[R] = { 0 }, w[R];
	int rc = 0, holds;

	x.budget = c->req->consolidation_work > 0 ? c->req->consolidation_work : PART_CONSOL_WORK;
	plan_proof(c->p, &pf);
	if (c->p->nshortfalls || c->p->nreductions || !pf.holds)
		return 0; /* nothing to keep: the remedies speak for such a plan */
	for (i = 0; i < c->inv->ncomps; i++)
		x.replicas += c->inv->comps[i].replicas;
	if ((rc = segments(&x)))
		goto done;
	for (i = 0; i < x.nseg; i++)
		x.check_work += segment_work(&x, &x.seg[i]);
	if (x.check_work > x.budget) {
		char reason[256];

		snprintf(reason, sizeof(reason),
			 "not checked: at this size (%zu partitions, %zu replicas, %zu scenarios of %zu steps) one check "
			 "would read %.3g scenario values, above the advice's budget of %.3g",
			 n, x.replicas, c->d.K, c->d.H, x.check_work, x.budget);
		c->p->consolidation.state = PLAN_CONSOL_UNCHECKED;
		if (!(c->p->consolidation.reason = strdup(reason)))
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	/* The heuristic's placement, as the remedies' plans: an exact solver
	 * gives a trial the heuristic's anyway, and another hook's calls are
	 * the plan's waves alone. */
	heuristic.place_movers = NULL;
	c->req = &heuristic;
	order = calloc(n, sizeof(size_t));
	empty = calloc(n, 1);
	x.off = calloc(2 * n + 1, sizeof(char *));
	if (!order || !empty || !x.off) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = by_load(&x, order)))
		goto done;
	for (i = 0; i < n && tried < PART_CONSOL_TRIED && x.work + x.check_work <= x.budget; i++) {
		if (kept + 1 >= n)
			break; /* one partition stays */
		tried++;
		empty[order[i]] = 1;
		if ((rc = check_all(&x, empty, &holds, w)))
			goto done;
		if (holds) {
			kept++;
			memcpy(worst, w, sizeof(worst));
		} else {
			empty[order[i]] = 0;
		}
	}
	rc = record(&x, empty, tried, n, worst);
done:
	c->req = req;
	free(x.seg);
	free(x.off);
	free(order);
	free(empty);
	return rc;
}
