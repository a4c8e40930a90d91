/* Borrowing within a partition (apply --on-deviation borrow): which of
 * a partition's live replicas lend to one whose usage left its band,
 * how much, in the planner's granular units. The choice only: the
 * engine journals each loan, acts it through the driver and gives it
 * back. */
#ifndef ADP_ORCH_BORROW_H
#define ADP_ORCH_BORROW_H

#include <stddef.h>

/* A replica that could lend, as the engine sees it now. */
struct orch_lender {
	size_t idx;    /* the caller's */
	double limit;  /* its limit now, loans included */
	/* The least it keeps (orch_lender_floor): nothing is taken below. */
	double floor;
	double spread; /* (p95 - p50) / p95 of its forecast now, in [0, 1] */
	int tier;      /* 0 most critical */
};

struct orch_take {
	size_t idx;    /* the lender's idx */
	double amount; /* a whole number of units */
};

/* v rounded up to whole units (a hair of float noise is not a unit). */
double orch_units_up(double v, double unit);

/* What a lender keeps: its guarantee, its forecast's p95 for now and the
 * next step, and its usage now with one unit of room, each rounded up to
 * the unit. */
double orch_lender_floor(double guarantee, double p95_now, double p95_next, double usage, double unit);

/* The cost of one unit from l for a borrower of borrower_tier: the less
 * certain the lender's forecast and the more critical it is than the
 * borrower, the dearer,
 *   (1 + spread) * (1 + max(0, borrower_tier - l->tier)).
 * Each lender touched adds ORCH_BORROW_CHANGE_COST units' worth. */
double orch_borrow_unit_cost(const struct orch_lender *l, int borrower_tier);
#define ORCH_BORROW_CHANGE_COST 0.5

/* Chooses whole units for need (> 0) among n lenders: cheapest first,
 * each giving all it can spare (limit - floor, in whole units) before
 * the next is touched, which also keeps the changes few. out (n
 * entries) gets the takes, in order; returns how many, with their sum in
 * *got (below need when the lenders cannot cover it: a partial grant).
 * Sorts l. */
size_t orch_borrow_choose(double need, double unit, int borrower_tier, struct orch_lender *l, size_t n,
			  struct orch_take *out, double *got);

#endif
