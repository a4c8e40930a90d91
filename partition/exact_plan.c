#include "partition/exact_plan.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

void part_exact_plan_init(struct part_exact_plan *x, double seconds)
{
	memset(x, 0, sizeof(*x));
	x->seconds = seconds;
}

void part_exact_plan_release(struct part_exact_plan *x)
{
	if (!x)
		return;
	free(x->waves);
	free(x->solved);
	memset(x, 0, sizeof(*x));
}

static int grow(struct part_exact_plan *x, size_t n)
{
	struct part_exact_result *w;
	unsigned char *s;

	if (n <= x->nwaves)
		return 0;
	if (!(w = realloc(x->waves, n * sizeof(*w))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	x->waves = w;
	if (!(s = realloc(x->solved, n)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	x->solved = s;
	memset(x->waves + x->nwaves, 0, (n - x->nwaves) * sizeof(*w));
	memset(x->solved + x->nwaves, 0, n - x->nwaves);
	x->nwaves = n;
	return 0;
}

int part_exact_place_movers(const struct part_wave_problem *pb, size_t *assign, void *arg)
{
	struct part_exact_plan *x = arg;
	struct part_exact_opts o = { 0 };
	struct part_exact_result res;
	int rc;

	if (pb->trial || !pb->wave)
		return part_place_movers(pb, assign);
	if ((rc = grow(x, pb->wave)))
		return rc;
	o.time_limit = x->seconds;
	rc = part_exact_solve(assign, &res, pb, NULL, &o);
	if (rc == ADP_EINFEASIBLE) {
		adp_error_clear();
		rc = 0;
	}
	if (!rc) {
		x->waves[pb->wave - 1] = res;
		x->solved[pb->wave - 1] = 1;
	}
	return rc;
}

int part_exact_plan_annotate(struct plan *p, const struct part_exact_plan *x)
{
	size_t w;

	for (w = 0; w < p->nwaves && w < x->nwaves; w++) {
		struct plan_wave *pw = &p->waves[w];
		const struct part_exact_result *r = &x->waves[w];

		if (!x->solved[w])
			continue;
		free(pw->exact_status);
		if (!(pw->exact_status = strdup(part_exact_status_name(r->status))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		pw->exact_objective = r->objective;
		pw->exact_heuristic = r->heuristic_objective;
		pw->exact_bound = r->bound;
		pw->exact_gap = r->gap;
		pw->exact_seconds = r->heur_seconds + r->milp_seconds;
		pw->exact_replaced = r->replaced;
	}
	return 0;
}
