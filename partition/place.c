/* One wave's placement problem: the heuristic that places the movers,
 * and the score any solver's answer is judged by. */
#include "partition/planner_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define PART_CANDIDATES 8        /* partitions fully checked per mover */

/* ---- the one-wave placement problem ---- */

static double wp_base(const struct wp_state *st, size_t p, int r, size_t k, size_t h)
{
	const struct part_wave_problem *pb = st->pb;

	return pb->base[((p * R + (size_t)r) * pb->stride + pb->offset + h) * pb->K + k] +
	       (st->delta[p] ? st->delta[p][((size_t)r * pb->H + h) * pb->K + k] : 0);
}

static double wp_mspread(const struct part_wave_problem *pb, const struct part_wave_mover *m, int r, size_t h)
{
	return m && m->spread_h ? m->factor * m->spread_h[(size_t)r * pb->stride + pb->offset + h] : 0;
}

/* The summed spreads on p at step h of resource r, with add added and
 * sub taken away (either NULL: none). */
static double wp_spread(const struct wp_state *st, const struct part_wave_mover *add,
			const struct part_wave_mover *sub, size_t p, int r, size_t h)
{
	const struct part_wave_problem *pb = st->pb;
	double v = 0;

	if (pb->dependence <= 0)
		return 0;
	if (pb->base_spread)
		v += pb->base_spread[(p * R + (size_t)r) * pb->stride + pb->offset + h];
	if (st->dspread[p])
		v += st->dspread[p][(size_t)r * pb->H + h];
	return v + wp_mspread(pb, add, r, h) - wp_mspread(pb, sub, r, h);
}

static double wp_demand(const struct part_wave_problem *pb, const struct part_wave_mover *m, int r, size_t k,
			size_t h)
{
	if (!m)
		return 0;
	return m->factor * (m->demand[r] ? m->demand[r][k * pb->stride + pb->offset + h] : m->min[r]);
}

/* The best placement of a mover found so far, which a candidate must
 * beat (see part_place_movers): one that fits, at cost and headroom. */
struct wp_bar {
	double cost, head;
	double share; /* the candidate's, for its cost */
};

/* Whether a candidate whose check has come this far can no longer beat
 * bar: over somewhere, or already less headroom with no lower cost (its
 * risk, and with it its cost, only grows as the check goes on). */
static int wp_beaten(const struct part_wave_problem *pb, const struct part_wave_mover *add,
		     const struct wp_bar *bar, const struct wp_score *sc)
{
	if (sc->bad)
		return 1;
	return sc->head < bar->head - 1e-12 && pb->weights[SCHEDULE_W_RISK] >= 0 &&
	       part_wp_cost(pb, add, sc->risk, bar->share) >= bar->cost - 1e-12;
}

/* part_wp_check, stopped as soon as add on p is beaten by bar (if not
 * NULL): returns 1 then, and *out is partial. */
static int wp_check(struct wp_state *st, const struct part_wave_mover *add, const struct part_wave_mover *sub,
		    size_t p, const struct wp_bar *bar, struct wp_score *out)
{
	const struct part_wave_problem *pb = st->pb;
	size_t K = pb->K, h, k;
	int r;

	memset(out, 0, sizeof(*out));
	out->head = INFINITY;
	for (r = 0; r < R; r++) {
		double cap = pb->capacity[p * R + (size_t)r], mins;
		size_t allowed = part_allowed_over(pb->eps[r], K);

		if (cap <= 0)
			continue; /* unmetered */
		mins = pb->base_min[p * R + (size_t)r] + st->dmin[p * R + (size_t)r] + (add ? add->min[r] : 0) -
		       (sub ? sub->min[r] : 0);
		if (mins > cap + 1e-9) {
			out->bad++;
			out->excess += (mins - cap) / cap;
		}
		out->head = fmin(out->head, (cap - mins) / cap);
		for (h = 0; h < pb->H; h++) {
			size_t over = 0;
			double b;

			for (k = 0; k < K; k++) {
				st->scratch[k] = wp_base(st, p, r, k, h) + wp_demand(pb, add, r, k, h) -
						 wp_demand(pb, sub, r, k, h);
				over += st->scratch[k] > cap;
			}
			b = part_total_at_confidence(st->scratch, K, allowed, wp_spread(st, add, sub, p, r, h),
						     pb->dependence);
			if (b > cap) {
				out->bad++;
				out->excess += (b - cap) / cap;
			}
			out->risk = fmax(out->risk, (double)over / (double)K);
			out->head = fmin(out->head, (cap - b) / cap);
			if (bar && wp_beaten(pb, add, bar, out))
				return 1;
		}
	}
	return 0;
}

void part_wp_check(struct wp_state *st, const struct part_wave_mover *add, const struct part_wave_mover *sub,
		   size_t p, struct wp_score *out)
{
	wp_check(st, add, sub, p, NULL, out);
}

/* Adds m to p (sign 1) or takes it away (-1). */
static int wp_shift(struct wp_state *st, const struct part_wave_mover *m, size_t p, double sign)
{
	const struct part_wave_problem *pb = st->pb;
	size_t K = pb->K, h, k;
	int r;

	if (!st->delta[p] && !(st->delta[p] = calloc(R * K * pb->H + 1, sizeof(double))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (!st->dspread[p] && !(st->dspread[p] = calloc(R * pb->H + 1, sizeof(double))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (r = 0; r < R; r++) {
		for (h = 0; h < pb->H; h++)
			for (k = 0; k < K; k++)
				st->delta[p][((size_t)r * pb->H + h) * K + k] += sign * wp_demand(pb, m, r, k, h);
		st->dmin[p * R + (size_t)r] += sign * m->min[r];
		for (h = 0; h < pb->H; h++)
			st->dspread[p][(size_t)r * pb->H + h] += sign * wp_mspread(pb, m, r, h);
	}
	st->taken[m->comp * pb->nparts + p] = sign > 0;
	st->fresh[p] = 0;
	return 0;
}

const struct wp_score *part_wp_score(struct wp_state *st, size_t p)
{
	if (!st->fresh[p]) {
		part_wp_check(st, NULL, NULL, p, &st->score[p]);
		st->fresh[p] = 1;
	}
	return &st->score[p];
}

int part_wp_add(struct wp_state *st, const struct part_wave_mover *m, size_t p)
{
	return wp_shift(st, m, p, 1);
}

int part_wp_remove(struct wp_state *st, const struct part_wave_mover *m, size_t p)
{
	return wp_shift(st, m, p, -1);
}

void part_wp_free(struct wp_state *st)
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
	free(st->score);
	free(st->fresh);
	free(st->taken);
	free(st->scratch);
}

int part_wp_init(struct wp_state *st, const struct part_wave_problem *pb)
{
	memset(st, 0, sizeof(*st));
	st->pb = pb;
	st->delta = calloc(pb->nparts + 1, sizeof(*st->delta));
	st->dspread = calloc(pb->nparts + 1, sizeof(*st->dspread));
	st->dmin = calloc(pb->nparts * R + 1, sizeof(double));
	st->score = calloc(pb->nparts + 1, sizeof(*st->score));
	st->fresh = calloc(pb->nparts + 1, 1);
	st->taken = calloc(pb->ncomps * pb->nparts + 1, 1);
	st->scratch = malloc((pb->K + 1) * sizeof(double));
	if (!st->delta || !st->dspread || !st->dmin || !st->score || !st->fresh || !st->taken || !st->scratch) {
		part_wp_free(st);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	return 0;
}

int part_wp_eligible(const struct wp_state *st, const struct part_wave_mover *m, size_t p)
{
	const struct part_wave_problem *pb = st->pb;

	return pb->online[p] && !pb->hosts[m->comp * pb->nparts + p] && !st->taken[m->comp * pb->nparts + p];
}

/* The worst share of a partition's capacity the mover takes at its peak. */
double part_wp_share(const struct part_wave_problem *pb, const struct part_wave_mover *m, size_t p)
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
	return part_wp_share(pb, &pb->movers[i], p);
}

double part_wp_cost(const struct part_wave_problem *pb, const struct part_wave_mover *m, double risk,
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

	if ((rc = part_wp_init(&st, pb)))
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
		order[i].size = part_wp_share(pb, &pb->movers[i], pb->movers[i].home);
		assign[i] = PART_UNPLACED;
	}
	qsort(order, pb->nmovers, sizeof(*order), cmp_order);
	for (j = 0; j < pb->nmovers; j++) {
		const struct part_wave_mover *m = &pb->movers[order[j].i];
		size_t ncand = 0, best = PART_UNPLACED, c, pass;
		double bcost = INFINITY, bhead = -INFINITY;
		struct wp_bar bar;
		int bfits = 0;

		/* The few partitions with the most slack are checked in full;
		 * all of them only when none of those fits. */
		for (p = 0; p < pb->nparts; p++)
			if (part_wp_eligible(&st, m, p))
				cand[ncand++] = p;
		for (pass = 0; pass < 2 && !bfits; pass++) {
			size_t lim = pass ? ncand : (ncand < PART_CANDIDATES ? ncand : PART_CANDIDATES);

			/* Partial selection of the largest slack first. */
			for (c = 0; c < lim; c++) {
				size_t top = c, x;
				struct wp_score sc;
				int fits;
				double head, cost;

				if (!pass) {
					for (x = c + 1; x < ncand; x++)
						if (part_wp_score(&st, cand[x])->head > part_wp_score(&st, cand[top])->head)
							top = x;
					p = cand[top];
					cand[top] = cand[c];
					cand[c] = p;
				} else if (c < PART_CANDIDATES) {
					continue; /* checked in the first pass */
				}
				p = cand[c];
				bar.cost = bcost;
				bar.head = bhead;
				bar.share = part_wp_share(pb, m, p);
				/* Beside one that fits, a candidate stops being
				 * checked once it cannot win. */
				if (wp_check(&st, m, NULL, p, bfits ? &bar : NULL, &sc))
					continue;
				fits = !sc.bad;
				head = sc.head;
				cost = part_wp_cost(pb, m, sc.risk, bar.share);
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
		if (best != PART_UNPLACED && (rc = part_wp_add(&st, m, best)))
			goto done;
	}
	rc = part_search(&st, assign);
done:
	free(order);
	free(cand);
	part_wp_free(&st);
	return rc;
}

int part_wave_evaluate(const struct part_wave_problem *pb, const size_t *assign, double *cost,
		       size_t *violations)
{
	struct wp_state st;
	size_t i, p, bad = 0;
	double total = 0, *risk = NULL;
	int rc;

	if ((rc = part_wp_init(&st, pb)))
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
		bad += !part_wp_eligible(&st, m, assign[i]);
		if ((rc = part_wp_add(&st, m, assign[i])))
			goto done;
	}
	for (p = 0; p < pb->nparts; p++)
		if (pb->online[p]) {
			const struct wp_score *sc = part_wp_score(&st, p);

			bad += sc->bad;
			risk[p] = sc->risk;
		}
	for (i = 0; i < pb->nmovers; i++)
		if (assign[i] != PART_UNPLACED && assign[i] < pb->nparts)
			total += part_wp_cost(pb, &pb->movers[i], risk[assign[i]], part_wp_share(pb, &pb->movers[i], assign[i]));
	*cost = total;
	*violations = bad;
done:
	free(risk);
	part_wp_free(&st);
	return rc;
}
