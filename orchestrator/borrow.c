#include "orchestrator/borrow.h"

#include <math.h>

static double units_up(double v, double unit)
{
	return ceil(v / unit - 1e-9);
}

double orch_units_up(double v, double unit)
{
	return units_up(v, unit) * unit;
}

double orch_lender_floor(double guarantee, double p95_now, double p95_next, double usage, double unit)
{
	double f = fmax(units_up(guarantee, unit), units_up(fmax(p95_now, p95_next), unit));

	return fmax(f, units_up(usage, unit) + 1) * unit;
}

double orch_borrow_unit_cost(const struct orch_lender *l, int borrower_tier)
{
	double spread = fmin(1, fmax(0, l->spread));
	int above = borrower_tier - l->tier;

	return (1 + spread) * (1 + (above > 0 ? above : 0));
}

/* Whether a goes before b: cheaper, or as cheap and earlier in the
 * caller's order, so that the choice depends on nothing else. */
static int before(const struct orch_lender *a, const struct orch_lender *b, int tier)
{
	double ca = orch_borrow_unit_cost(a, tier), cb = orch_borrow_unit_cost(b, tier);

	return ca < cb || (ca == cb && a->idx < b->idx);
}

size_t orch_borrow_choose(double need, double unit, int borrower_tier, struct orch_lender *l, size_t n,
			  struct orch_take *out, double *got)
{
	double want = units_up(need, unit);
	size_t i, k = 0;

	*got = 0;
	if (!(unit > 0) || !(want > 0))
		return 0;
	/* A partition's replicas: few, an insertion sort. */
	for (i = 1; i < n; i++) {
		struct orch_lender v = l[i];
		size_t j = i;

		for (; j > 0 && before(&v, &l[j - 1], borrower_tier); j--)
			l[j] = l[j - 1];
		l[j] = v;
	}
	for (i = 0; i < n && want > 0; i++) {
		double spare = floor((l[i].limit - l[i].floor) / unit + 1e-9), take;

		if (spare < 1)
			continue;
		take = fmin(spare, want);
		out[k].idx = l[i].idx;
		out[k].amount = take * unit;
		*got += out[k++].amount;
		want -= take;
	}
	return k;
}
