/* The plan report: one self-contained HTML page (inline CSS and SVG, no
 * script, nothing fetched when it is viewed; a Content-Security-Policy
 * that forbids it) of what a plan predicts and proves:
 *   - the window and its waves, a Gantt row per partition (offline when);
 *   - per partition and resource, the predicted total per step (p50, the
 *     p95 band, the bound at the confidence) against the capacity, with
 *     P(overload) per step;
 *   - per component and resource, its forecast over the waves (its
 *     placements' per-step bands summed, as simulate reads them) and
 *     allocation;
 *   - the proof's result per resource and the risks;
 *   - with a run record of this plan (as apply writes it): apply's
 *     samples against the bands it monitored, the monitoring decisions
 *     other than ok marked, and the window's accuracy (plans/accuracy.h);
 *   - with actual history: the actual load over the charts, and the
 *     history before the window on the components' charts.
 * Every text from the plan, the record or the history is escaped. */
#ifndef ADP_REPORT_H
#define ADP_REPORT_H

#include <jansson.h>
#include <stddef.h>

#include "history/history.h"
#include "plans/plan.h"

#define REPORT_MAX_STEPS 20000       /* steps of the window a chart draws */
#define REPORT_MAX_DEVIATIONS 500    /* rows of the decisions' table, marks on the timeline */
#define REPORT_MAX_SAMPLES 20000     /* a run record's observations drawn (apply records as many) */

struct plan_report_opts {
	const struct plan *plan;      /* borrowed */
	const char *plan_name;        /* borrowed: the file or store ref, shown */
	json_t *run;                  /* borrowed, optional: a run record of this plan */
	const char *run_name;         /* borrowed: shown and in messages */
	const struct history *actual; /* borrowed, optional: actual load */
	const char *actual_name;      /* borrowed: shown */
	const char *tool_version;     /* borrowed, optional: in the footer */
};

/* The page in *out (owned: free), its length in *len. 0, ADP_EINPUT when
 * run is not a run record or is one of another plan (its digest
 * differs: overlaying another plan's samples would mislead), or
 * ADP_ENOMEM (memory, or a window of more than REPORT_MAX_STEPS steps). */
int plan_report_html(char **out, size_t *len, const struct plan_report_opts *o);

/* Builds the page and writes it to path atomically (adp_write_atomic:
 * a temporary file beside it, renamed over path, which replaces a
 * symbolic link rather than following it). On failure path is
 * untouched. */
int plan_report_write(const char *path, const struct plan_report_opts *o);

#endif
