/* The planner: from an inventory, a schedule and a forecast, the waves,
 * the placement and allocation of every component replica in each wave,
 * and the predicted utilisation of every online partition, with the
 * probability of overload computed on joint scenarios (sums of
 * time-aligned demand, not sums of peaks). */
#ifndef ADP_PLANNER_H
#define ADP_PLANNER_H

#include "forecast/forecast.h"
#include "forecast/prometheus.h"
#include "partition/inventory.h"
#include "partition/schedule.h"
#include "plans/plan.h"

/* Allocation units: 1/8 core, 64 MiB, 1 MiB/s of disk or network. */
extern const double part_granularity[ADP_RES_COUNT];

struct part_request {
	const struct inventory *inv;
	const struct schedule *sched;
	const struct forecast *fc;  /* covers the window at sched->step */
	int64_t now;
	const char *tool_version;
	int no_widening;            /* use the forecast's spread as it is */
};

/* The factor by which the planner widens a series' spread around its
 * median for the finite number of past periods behind it (1 when there
 * are enough); history_used is in steps of step seconds. */
double part_widening(size_t history_used, int64_t step, int64_t period, double eps);

/* Fills out (inputs are the caller's to add). Returns 0 when every wave
 * fits, ADP_EINFEASIBLE when some does not (out->shortfalls says where
 * and by how much; the rest of out is filled), or another error. */
int part_plan(struct plan *out, const struct part_request *req);

/* The whole `plan` pipeline on files: inventory, schedule, history (the
 * inventory's own and extra long-format files), forecast, planner, and
 * the digests of every input. */
struct part_run_opts {
	const char *inventory, *schedule;
	const char *const *history;   /* extra long-format files */
	size_t nhistory;
	int64_t now;
	const char *model;            /* NULL: default */
	const char *tool_version;
	/* Prometheus read before the inventory's own history (NULL: none);
	 * its series are named by the label and limited to the inventory's
	 * components. */
	const struct forecast_prom_opts *prom;
};

int part_run(struct plan *out, const struct part_run_opts *o);

#endif
