/* The `plan` pipeline on files: inputs -> history -> forecast -> planner. */
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "partition/planner.h"
#include "util/error.h"
#include "util/timeutil.h"

static const double default_levels[] = { 0.5, 0.9, 0.95, 0.99 };

/* History that ends over a period before the plan is made leaves the
 * forecast blind to the latest days (a level shift since, a component
 * redeployed): one risk line, naming how many series and the stalest. */
/* Series whose history ends more than a period before now: how many,
 * and the stalest (borrowed). Read before the values are released. */
struct stale {
	size_t n;
	const struct series *worst;
	int64_t worst_end;
};

static void stale_scan(struct stale *st, const struct history *hist, int64_t now, int64_t period)
{
	const struct series *worst = NULL;
	int64_t worst_end = 0;
	size_t i, stale = 0;

	for (i = 0; i < hist->n; i++) {
		const struct series *s = &hist->items[i];
		size_t j = s->n;
		int64_t end;

		while (j > 0 && isnan(s->v[j - 1]))
			j--;
		if (!j)
			continue;
		end = s->start + (int64_t)(j - 1) * s->step;
		if (now - end <= period)
			continue;
		stale++;
		if (!worst || end < worst_end) {
			worst = s;
			worst_end = end;
		}
	}
	st->n = stale;
	st->worst = worst;
	st->worst_end = worst_end;
}

static int stale_risk(struct plan *p, const struct stale *st, int64_t now, int64_t period)
{
	char ago[32], at[64], per[32];

	if (!st->n)
		return 0;
	adp_duration_format(ago, now - st->worst_end);
	adp_time_format_msg(at, st->worst_end, p->timezone);
	adp_duration_format(per, period);
	return plan_add_risk(p, "stale history: %zu series end more than a period (%s) before the plan; the stalest, '%s' %s, ends %s before it (at %s): its forecast misses the latest days; refresh the history",
			     st->n, per, st->worst->component, adp_resource_name(st->worst->resource), ago, at);
}

static void say(const struct part_run_opts *o, const char *phase)
{
	if (o->progress)
		o->progress(o->progress_ctx, phase, 0, 0);
}

/* forecast_run's series_done: series i's values are no longer read
 * (only this worker touches series i). Their memory sits between live
 * blocks, where free keeps it: every 64 series the freed pages go back
 * to the system (malloc_trim returns whole free pages anywhere in the
 * heaps), or the history would not shrink at all. */
static void drop_values(void *ctx, size_t i)
{
	static _Atomic unsigned long dropped;
	struct history *h = ctx;

	free(h->items[i].v);
	h->items[i].v = NULL;
	if (++dropped % 64 == 0)
		malloc_trim(0);
}

static void fc_progress(void *ctx, size_t done, size_t total)
{
	const struct part_run_opts *o = ctx;

	o->progress(o->progress_ctx, "forecasting", done, total);
}

int part_run(struct plan *out, const struct part_run_opts *o)
{
	struct inventory inv = { 0 };
	struct schedule sched = { 0 };
	struct history hist;
	struct stale stale = { 0 };
	struct forecast fc = { 0 };
	struct forecast_opts fo = { 0 };
	struct plan p = { 0 };
	struct history_opts ho;
	char **files = NULL;
	size_t nfiles = 0, i;
	int rc;

	history_init(&hist);
	if ((rc = inventory_load(&inv, o->inventory)) ||
	    (rc = schedule_load_at(&sched, o->schedule, &inv, SCHEDULE_FULL, o->occurrence ? o->occurrence : o->now)))
		goto done;
	if (o->rebalance) {
		/* The next stretch of time from now, nothing taken offline. */
		sched.start = o->now + ((sched.step - o->now % sched.step) % sched.step);
		sched.end = sched.start + o->rebalance;
		sched.cutoff = 0;
		for (i = 0; i < sched.npartitions; i++)
			free(sched.partition_names[i]);
		sched.npartitions = 0;
	}
	if (o->occurrence && !sched.recurrence) {
		rc = adp_error_set(ADP_EINPUT, "%s: --occurrence is for a recurring window (window.recurrence)",
				   o->schedule);
		goto done;
	}
	if (o->now >= sched.end - sched.cutoff) {
		rc = adp_error_set(ADP_EINPUT,
				   "%s: the window's cutoff has passed: plan a future window (or pass --now to replay a past one)",
				   o->schedule);
		goto done;
	}
	if (o->now > sched.start) {
		rc = adp_error_set(ADP_EINPUT, "%s: the window has already started: plan before it begins",
				   o->schedule);
		goto done;
	}
	say(o, "reading history");
	ho.step = sched.step;
	ho.max_gap = sched.max_gap;
	ho.until = o->now;
	if (o->prom) {
		struct history_prom_opts po = *o->prom;
		const char **names = calloc(inv.ncomps ? inv.ncomps : 1, sizeof(*names));

		if (!names) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		for (i = 0; i < inv.ncomps; i++)
			names[i] = inv.comps[i].name;
		po.only = names;
		po.nonly = inv.ncomps;
		rc = history_prom_read(&hist, &po, NULL, &ho);
		free(names);
		if (rc)
			goto done;
	}
	if ((rc = inventory_load_history(&hist, &inv, o->history, o->nhistory, &ho, &files, &nfiles)))
		goto done;
	fo.origin = o->now;
	fo.step = sched.step;
	fo.start = sched.start - (sched.start % sched.step + sched.step) % sched.step;
	fo.horizon = (size_t)((sched.end - fo.start + sched.step - 1) / sched.step);
	memcpy(fo.levels, default_levels, sizeof(default_levels));
	fo.nlevels = sizeof(default_levels) / sizeof(default_levels[0]);
	fo.period = sched.period;
	fo.skip_periods = 1;
	if (o->progress) {
		fo.progress = fc_progress;
		fo.progress_ctx = (void *)o;
	}
	/* Only what the risks read of the values is kept: each series'
	 * values are freed as soon as it is forecast, so that the history
	 * shrinks while the scenarios grow (both at once were the peak). */
	stale_scan(&stale, &hist, o->now, sched.period > 0 ? sched.period : 86400);
	fo.series_done = drop_values;
	fo.series_done_ctx = &hist;
	if ((rc = forecast_run(&fc, &hist, &fo, o->model)))
		goto done;
	for (i = 0; i < hist.n; i++) {
		free(hist.items[i].v);
		hist.items[i].v = NULL;
	}
	/* The values were read on several threads, into their own malloc
	 * arenas, where this thread's planning cannot reuse them: give the
	 * freed pages back (their arenas kept a third more at the peak). */
	malloc_trim(0);
	say(o, "planning");
	{
		struct part_request req = { .inv = &inv, .sched = &sched, .fc = &fc, .now = o->now,
					    .tool_version = o->tool_version, .place_movers = o->place_movers,
					    .place_arg = o->place_arg, .feedback = o->feedback,
					    .nfeedback = o->nfeedback, .consolidation_work = o->consolidation_work,
					    .preallocate = o->preallocate, .rebalance = o->rebalance > 0 };
		rc = part_plan(&p, &req);
	}
	if ((!rc || rc == ADP_EINFEASIBLE) && o->nfeedback) {
		if (!(p.feedback = calloc(o->nfeedback, sizeof(*p.feedback)))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		for (i = 0; i < o->nfeedback; i++) {
			p.feedback[i] = o->feedback[i];
			if (!(p.feedback[i].component = strdup(o->feedback[i].component))) {
				rc = adp_error_set(ADP_ENOMEM, "out of memory");
				goto done;
			}
			p.nfeedback = i + 1;
		}
	}
	if (rc && rc != ADP_EINFEASIBLE)
		goto done;
	{
		int prc = 0;
		struct adp_error_state saved;

		/* Keep the planner's verdict while the inputs are hashed. */
		say(o, "hashing the inputs");
		adp_error_save(&saved, rc);
		const char **kind = malloc((nfiles + 2) * sizeof(*kind)), **path = malloc((nfiles + 2) * sizeof(*path));

		if (!kind || !path) {
			free(kind);
			free(path);
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		kind[0] = "inventory", path[0] = o->inventory;
		kind[1] = "schedule", path[1] = o->schedule;
		for (i = 0; i < nfiles; i++)
			kind[i + 2] = "history", path[i + 2] = files[i];
		prc = plan_add_inputs(&p, kind, path, nfiles + 2);
		free(kind);
		free(path);
		if (prc) {
			rc = prc;
			goto done;
		}
		plan_digest(&p, p.digest);
		if (rc)
			rc = adp_error_restore(&saved);
	}
	for (i = 0; i < hist.n; i++) {
		const struct series *s = &hist.items[i];
		int prc = 0;

		if (s->missing * 10 > s->n)
			prc = plan_add_risk(&p, "history of '%s' %s is %.0f%% missing (gaps over the max_gap)",
					    s->component, adp_resource_name(s->resource),
					    100.0 * (double)s->missing / (double)s->n);
		if (prc) {
			rc = prc;
			goto done;
		}
	}
	{
		/* rc may hold the planner's verdict (infeasible): kept. */
		int prc = stale_risk(&p, &stale, o->now, sched.period > 0 ? sched.period : 86400);

		if (prc) {
			rc = prc;
			goto done;
		}
	}
	*out = p;
	memset(&p, 0, sizeof(p));
done:
	plan_release(&p);
	forecast_release(&fc);
	history_release(&hist);
	schedule_release(&sched);
	inventory_release(&inv);
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	/* The planner's rows and the forecast were freed on several threads'
	 * arenas: give their pages back before the plan's document, the
	 * next peak, is built (it was the run's highest RSS, on top of them). */
	malloc_trim(0);
	return rc;
}
