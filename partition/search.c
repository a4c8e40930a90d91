/* The placement search: after the greedy placement, movers are moved and
 * swapped between online partitions while that lowers, in this order,
 * the resource-steps over the chance constraint (and guarantees that do
 * not fit), how far over they are, and the placement's cost. The greedy
 * places the largest first and never looks back, so a partition it
 * filled early can be left over capacity when another arrangement fits;
 * a swap of a large mover for a few small ones is what it cannot see. */
#include "partition/planner_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* The search's budget, in scenario values read (one check of a partition
 * reads K x H of each metered resource): deterministic, unlike a clock,
 * and about a tenth of a second; a wave that needs more keeps the best
 * placement found. */
#define SEARCH_WORK 3e8

struct search {
	struct wp_state *st;
	const struct part_wave_problem *pb;
	size_t *assign;
	struct wp_score *sc;   /* [p]: each partition as placed */
	double *imp;           /* [p]: the risk weight of the movers there (weight x tier impact) */
	double *conf;          /* [p]: their confidence terms (weight x spread x share) */
	size_t *count;         /* [p]: movers there */
	size_t *order;         /* online partitions, the most slack first */
	size_t nonline;
	double work, check_work;
};

/* What a change leaves on the partitions it touches. */
struct delta {
	size_t bad;
	double excess, cost;
};

static double risk_weight(const struct part_wave_problem *pb, const struct part_wave_mover *m)
{
	return pb->weights[SCHEDULE_W_RISK] * part_tier_impact(m->tier);
}

static double conf_term(const struct part_wave_problem *pb, const struct part_wave_mover *m, size_t p)
{
	return pb->weights[SCHEDULE_W_CONFIDENCE] * m->spread * part_wp_share(pb, m, p);
}

static struct delta part_now(const struct search *s, size_t p)
{
	return (struct delta){ s->sc[p].bad, s->sc[p].excess, s->sc[p].risk * s->imp[p] + s->conf[p] };
}

/* Less over capacity in all first: counting the steps over instead would
 * pile a wave that cannot fit onto one partition, whose shortage then
 * falls on a few replicas. */
static int better(struct delta a, struct delta b)
{
	if (fabs(a.excess - b.excess) > 1e-9)
		return a.excess < b.excess;
	if (a.bad != b.bad)
		return a.bad < b.bad;
	return a.cost < b.cost - 1e-9;
}

/* Partition p with add coming and sub leaving: its score into *sc, and
 * its part of the objective. */
static struct delta part_with(struct search *s, size_t p, const struct part_wave_mover *add,
			      const struct part_wave_mover *sub, struct wp_score *sc)
{
	const struct part_wave_problem *pb = s->pb;
	double imp = s->imp[p], conf = s->conf[p];

	part_wp_check(s->st, add, sub, p, sc);
	s->work += s->check_work;
	if (add) {
		imp += risk_weight(pb, add);
		conf += conf_term(pb, add, p);
	}
	if (sub) {
		imp -= risk_weight(pb, sub);
		conf -= conf_term(pb, sub, p);
	}
	return (struct delta){ sc->bad, sc->excess, sc->risk * imp + conf };
}

static struct delta sum(struct delta a, struct delta b)
{
	return (struct delta){ a.bad + b.bad, a.excess + b.excess, a.cost + b.cost };
}

/* Puts mover i on q (from its partition), with q's score already known. */
static int relocate(struct search *s, size_t i, size_t q)
{
	const struct part_wave_problem *pb = s->pb;
	const struct part_wave_mover *m = &pb->movers[i];
	size_t p = s->assign[i];
	int rc;

	if ((rc = part_wp_remove(s->st, m, p)) || (rc = part_wp_add(s->st, m, q)))
		return rc;
	s->imp[p] -= risk_weight(pb, m);
	s->conf[p] -= conf_term(pb, m, p);
	s->imp[q] += risk_weight(pb, m);
	s->conf[q] += conf_term(pb, m, q);
	s->count[p]--;
	s->count[q]++;
	s->assign[i] = q;
	return 0;
}

/* Whether mover i may join q once mover j (or none) leaves it. */
static int may_join(const struct search *s, size_t i, size_t q, size_t j)
{
	const struct part_wave_mover *m = &s->pb->movers[i];

	if (j != PART_UNPLACED && s->pb->movers[j].comp == m->comp)
		return 0; /* a swap within a component changes nothing */
	return part_wp_eligible(s->st, m, q);
}

/* Tries to improve the placement by moving one mover off p, or swapping
 * it for one on another partition; applies the first change that helps.
 * Returns 1 when it changed something, 0 when not, or an error. */
static int improve_from(struct search *s, size_t p)
{
	const struct part_wave_problem *pb = s->pb;
	struct wp_score sp, sq;
	size_t i, j, o;
	int rc;

	for (i = 0; i < pb->nmovers; i++) {
		const struct part_wave_mover *mi = &pb->movers[i];

		if (s->assign[i] != p)
			continue;
		for (o = 0; o < s->nonline; o++) {
			size_t q = s->order[o];
			struct delta was;

			if (q == p)
				continue;
			was = sum(part_now(s, p), part_now(s, q));
			if (may_join(s, i, q, PART_UNPLACED)) {
				if (s->work > SEARCH_WORK)
					return 0;
				if (better(sum(part_with(s, p, NULL, mi, &sp), part_with(s, q, mi, NULL, &sq)), was)) {
					if ((rc = relocate(s, i, q)))
						return rc;
					s->sc[p] = sp;
					s->sc[q] = sq;
					return 1;
				}
			}
			for (j = 0; j < pb->nmovers; j++) {
				const struct part_wave_mover *mj = &pb->movers[j];

				if (s->assign[j] != q || !may_join(s, i, q, j) || mj->comp == mi->comp ||
				    !part_wp_eligible(s->st, mj, p))
					continue;
				if (s->work > SEARCH_WORK)
					return 0;
				if (better(sum(part_with(s, p, mj, mi, &sp), part_with(s, q, mi, mj, &sq)), was)) {
					/* Through q's and p's own states: each relocation
					 * checks eligibility against the other's old spot. */
					if ((rc = relocate(s, i, q)) || (rc = relocate(s, j, p)))
						return rc;
					s->sc[p] = sp;
					s->sc[q] = sq;
					return 1;
				}
			}
		}
	}
	return 0;
}

/* The online partitions, the most slack first: targets likely to take a
 * mover come early, where the first change that helps is taken. */
static void sort_by_slack(struct search *s)
{
	size_t a, b;

	for (a = 1; a < s->nonline; a++) {
		size_t p = s->order[a];
		double x = part_wp_score(s->st, p)->head;

		for (b = a; b > 0 && part_wp_score(s->st, s->order[b - 1])->head < x; b--)
			s->order[b] = s->order[b - 1];
		s->order[b] = p;
	}
}

/* The partition to work on: the most over, then the riskiest; none
 * (PART_UNPLACED) when every one fits with no scenario over capacity.
 * Partitions in done[] have nothing left to try this round. */
static size_t worst(const struct search *s, const unsigned char *done)
{
	size_t o, best = PART_UNPLACED;

	for (o = 0; o < s->nonline; o++) {
		size_t p = s->order[o];
		const struct wp_score *a = &s->sc[p];

		if (done[p] || (!a->bad && a->risk <= 0) || !s->count[p])
			continue;
		if (best == PART_UNPLACED || a->bad > s->sc[best].bad ||
		    (a->bad == s->sc[best].bad && (a->excess > s->sc[best].excess + 1e-12 ||
						   (a->excess >= s->sc[best].excess - 1e-12 && a->risk > s->sc[best].risk))))
			best = p;
	}
	return best;
}

int part_search(struct wp_state *st, size_t *assign)
{
	const struct part_wave_problem *pb = st->pb;
	struct search s = { .st = st, .pb = pb, .assign = assign };
	unsigned char *done = NULL;
	size_t i, p, metered = 0;
	int r, rc = 0;

	s.sc = calloc(pb->nparts + 1, sizeof(*s.sc));
	s.imp = calloc(pb->nparts + 1, sizeof(double));
	s.conf = calloc(pb->nparts + 1, sizeof(double));
	s.order = calloc(pb->nparts + 1, sizeof(size_t));
	s.count = calloc(pb->nparts + 1, sizeof(size_t));
	done = calloc(pb->nparts + 1, 1);
	if (!s.sc || !s.imp || !s.conf || !s.order || !s.count || !done) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto out;
	}
	for (r = 0; r < R; r++) {
		for (p = 0; p < pb->nparts && !(pb->online[p] && pb->capacity[p * R + (size_t)r] > 0); p++)
			;
		metered += p < pb->nparts;
	}
	for (p = 0; p < pb->nparts; p++)
		if (pb->online[p]) {
			s.sc[p] = *part_wp_score(st, p);
			s.order[s.nonline++] = p;
		}
	s.check_work = (double)pb->K * (double)pb->H * (double)(metered ? metered : R);
	for (i = 0; i < pb->nmovers; i++)
		if ((p = assign[i]) != PART_UNPLACED) {
			s.imp[p] += risk_weight(pb, &pb->movers[i]);
			s.conf[p] += conf_term(pb, &pb->movers[i], p);
			s.count[p]++;
		}
	for (;;) {
		size_t from;
		int got = 0;

		sort_by_slack(&s);
		memset(done, 0, pb->nparts);
		while ((from = worst(&s, done)) != PART_UNPLACED) {
			if ((got = improve_from(&s, from)) < 0) {
				rc = got;
				goto out;
			}
			if (got)
				break;
			done[from] = 1;
		}
		if (!got || s.work > SEARCH_WORK)
			break;
	}
out:
	free(s.sc);
	free(s.imp);
	free(s.conf);
	free(s.order);
	free(s.count);
	free(done);
	return rc;
}
