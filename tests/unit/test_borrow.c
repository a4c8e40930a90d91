/* orchestrator/borrow: what a lender keeps, the cost of its units, and
 * which lenders cover a need in whole units. */
#include <criterion/criterion.h>

#include "orchestrator/borrow.h"

#define MiB 1048576.0
#define UNIT (64 * MiB)

Test(borrow, floor_keeps_guarantee_forecast_and_usage_with_room)
{
	/* Usage 10 MiB: one unit for it and one of room. */
	cr_assert_float_eq(orch_lender_floor(0, 20 * MiB, 20 * MiB, 10 * MiB, UNIT), 2 * UNIT, 1);
	/* The guarantee is kept even when the lender uses nothing. */
	cr_assert_float_eq(orch_lender_floor(200 * MiB, 0, 0, 0, UNIT), 4 * UNIT, 1);
	/* The forecast one step on counts as much as now's. */
	cr_assert_float_eq(orch_lender_floor(0, 10 * MiB, 300 * MiB, 0, UNIT), 5 * UNIT, 1);
	/* Exactly a whole number of units is not rounded up again. */
	cr_assert_float_eq(orch_lender_floor(128 * MiB, 0, 0, 0, UNIT), 2 * UNIT, 1);
	cr_assert_float_eq(orch_units_up(64 * MiB, UNIT), UNIT, 1);
	cr_assert_float_eq(orch_units_up(64 * MiB + 1, UNIT), 2 * UNIT, 1);
	cr_assert_float_eq(orch_units_up(0.375, 0.125), 0.375, 1e-12);
}

Test(borrow, cost_rises_with_spread_and_criticality)
{
	struct orch_lender sure = { .spread = 0, .tier = 2 }, unsure = { .spread = 0.5, .tier = 2 };
	struct orch_lender critical = { .spread = 0, .tier = 0 };

	cr_assert_float_eq(orch_borrow_unit_cost(&sure, 2), 1, 1e-12);
	cr_assert_float_eq(orch_borrow_unit_cost(&unsure, 2), 1.5, 1e-12);
	/* A tier-0 lender costs three times as much to a tier-2 borrower... */
	cr_assert_float_eq(orch_borrow_unit_cost(&critical, 2), 3, 1e-12);
	/* ...and no more than any other to a borrower as critical. */
	cr_assert_float_eq(orch_borrow_unit_cost(&critical, 0), 1, 1e-12);
	/* A spread out of range counts as its bound. */
	unsure.spread = 7;
	cr_assert_float_eq(orch_borrow_unit_cost(&unsure, 2), 2, 1e-12);
}

Test(borrow, cheapest_lender_first_in_whole_units)
{
	struct orch_lender l[3] = {
		{ .idx = 0, .limit = 320 * MiB, .floor = 128 * MiB, .spread = 0.4, .tier = 1 },
		{ .idx = 1, .limit = 256 * MiB, .floor = 128 * MiB, .spread = 0.1, .tier = 1 },
		{ .idx = 2, .limit = 180 * MiB, .floor = 128 * MiB, .spread = 0, .tier = 1 },
	};
	struct orch_take t[3];
	double got;
	size_t n;

	/* 100 MiB is two units; lender 2, the cheapest, spares 52 MiB: less
	 * than a unit. */
	n = orch_borrow_choose(100 * MiB, UNIT, 1, l, 3, t, &got);
	cr_assert_eq(n, 1);
	cr_assert_eq(t[0].idx, 1);
	cr_assert_float_eq(t[0].amount, 2 * UNIT, 1);
	cr_assert_float_eq(got, 2 * UNIT, 1);
}

Test(borrow, spread_over_lenders_and_partial_when_short)
{
	struct orch_lender l[2] = {
		{ .idx = 0, .limit = 3 * UNIT, .floor = 2 * UNIT, .spread = 0, .tier = 1 },
		{ .idx = 1, .limit = 4 * UNIT, .floor = 2 * UNIT, .spread = 0.2, .tier = 1 },
	};
	struct orch_take t[2];
	double got;
	size_t n;

	n = orch_borrow_choose(5 * UNIT, UNIT, 1, l, 2, t, &got);
	cr_assert_eq(n, 2);
	cr_assert_eq(t[0].idx, 0);
	cr_assert_float_eq(t[0].amount, UNIT, 1);
	cr_assert_eq(t[1].idx, 1);
	cr_assert_float_eq(t[1].amount, 2 * UNIT, 1);
	cr_assert_float_eq(got, 3 * UNIT, 1);
}

Test(borrow, never_below_the_floor_nor_for_nothing)
{
	struct orch_lender l[1] = { { .idx = 0, .limit = 2 * UNIT, .floor = 2 * UNIT, .tier = 0 } };
	struct orch_take t[1];
	double got = -1;

	cr_assert_eq(orch_borrow_choose(UNIT, UNIT, 0, l, 1, t, &got), 0);
	cr_assert_float_eq(got, 0, 1e-12);
	l[0].limit = 3 * UNIT;
	cr_assert_eq(orch_borrow_choose(0, UNIT, 0, l, 1, t, &got), 0);
	cr_assert_eq(orch_borrow_choose(UNIT, 0, 0, l, 1, t, &got), 0);
	/* cpu in eighths of a core: 0.3 cores asked is three eighths. */
	l[0].limit = 1;
	l[0].floor = 0.25;
	cr_assert_eq(orch_borrow_choose(0.3, 0.125, 0, l, 1, t, &got), 1);
	cr_assert_float_eq(t[0].amount, 0.375, 1e-12);
}

Test(borrow, ties_keep_the_callers_order)
{
	struct orch_lender l[3] = {
		{ .idx = 7, .limit = 2 * UNIT, .floor = UNIT },
		{ .idx = 3, .limit = 2 * UNIT, .floor = UNIT },
		{ .idx = 5, .limit = 2 * UNIT, .floor = UNIT },
	};
	struct orch_take t[3];
	double got;

	cr_assert_eq(orch_borrow_choose(2 * UNIT, UNIT, 0, l, 3, t, &got), 2);
	cr_assert_eq(t[0].idx, 3);
	cr_assert_eq(t[1].idx, 5);
}
