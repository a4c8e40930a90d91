/* adpart-update simulate: replay actual load through a plan and baselines. */
#include <argp.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "history/history.h"
#include "partition/inventory.h"
#include "partition/simulate.h"
#include "util/error.h"
#include "util/jsonutil.h"

#define SIM_MAX_HISTORY 64

struct sim_args {
	const char *plan, *inventory;
	const char *history[SIM_MAX_HISTORY];
	size_t nhistory;
	int json;
};

static const struct argp_option options[] = {
	{ "history", 'H', "FILE", 0, "Actual load, long-format CSV or JSON (repeatable)", 0 },
	{ "inventory", 'i', "FILE", 0, "Read actual load from this inventory's own history sources", 0 },
	{ 0 },
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	struct sim_args *a = state->input;

	switch (key) {
	case 'H': cmd_argp_push(state, "history files", a->history, &a->nhistory, SIM_MAX_HISTORY, arg); break;
	case 'i': a->inventory = arg; break;
	case ARGP_KEY_INIT: state->child_inputs[0] = &a->json; break;
	case ARGP_KEY_ARG: cmd_argp_plan(state, &a->plan, arg); break;
	case ARGP_KEY_END:
		if (!a->plan)
			argp_error(state, "name the plan to simulate");
		if (!a->nhistory && !a->inventory)
			argp_error(state, "give the actual load with --history or --inventory");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp cmd_simulate_argp = {
	options, parse, "PLAN",
	"Replay actual load through a plan: per component and resource, steps where demand "
	"exceeded the allocation, by how much, and the slack; per online partition, steps where "
	"the actual total exceeded the capacity or the plan's bound, and those steps binned by the "
	"plan's predicted P(overload) beside how many overloaded (calibration); the same for three baselines "
	"(static peak, VPA-like P90 x 1.15 with a 24 h half-life, reactive last value x 1.15) and "
	"VPA-like scaled to the plan's reserved capacity.\v"
	"Exit status: 0 on success, 1 on an error.",
	cmd_output_children, NULL, NULL,
};

static size_t calib_steps(const struct part_sim *s, int r, size_t *overloads)
{
	size_t n = 0, o = 0;
	int b;

	for (b = 0; b < PART_SIM_NBINS; b++) {
		n += s->calib[r][b].steps;
		o += s->calib[r][b].overloads;
	}
	if (overloads)
		*overloads = o;
	return n;
}

/* Per resource with host-steps, every bin (an empty one with null means
 * and frequency), so that runs can be pooled bin by bin. */
static json_t *jnum_or_null(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static json_t *calib_json(struct adp_jb *jb, const struct part_sim *s)
{
	json_t *arr = json_array();
	int r, b;

	for (r = 0; r < ADP_RES_COUNT; r++) {
		json_t *bins = json_array();
		size_t n, o;

		if (!(n = calib_steps(s, r, &o))) {
			json_decref(bins);
			continue;
		}
		for (b = 0; b < PART_SIM_NBINS; b++) {
			const struct part_sim_bin *x = &s->calib[r][b];
			double k = (double)x->steps;

			adp_jpush(jb, bins, json_pack("{s:f,s:f,s:I,s:o,s:I,s:o}", "from", part_sim_bin_edges[b], "to",
						      part_sim_bin_edges[b + 1], "steps", (json_int_t)x->steps,
						      "mean_predicted", x->steps ? json_real(x->prob_sum / k) : json_null(),
						      "overloads", (json_int_t)x->overloads, "observed",
						      x->steps ? json_real((double)x->overloads / k) : json_null()));
		}
		adp_jpush(jb, arr, json_pack("{s:s,s:I,s:I,s:o}", "resource", adp_resource_name(r), "steps",
					     (json_int_t)n, "overloads", (json_int_t)o, "bins", bins));
	}
	return arr;
}

static int print_json(const struct part_sim *s)
{
	json_t *root = json_object(), *arr = json_array(), *parts = json_array();
	struct adp_jb jb = { 0 };
	size_t i;
	int m, rc;

	for (i = 0; i < s->nparts; i++) {
		const struct part_sim_part *x = &s->parts[i];

		if (!x->steps)
			continue;
		adp_jpush(&jb, parts, json_pack("{s:s,s:s,s:f,s:I,s:I,s:I,s:I,s:f,s:f,s:f}", "partition", x->partition,
						       "resource", adp_resource_name(x->resource), "capacity",
						       x->capacity, "steps", (json_int_t)x->steps, "overloads",
						       (json_int_t)x->overloads, "bound_steps",
						       (json_int_t)x->bound_steps, "above_bound",
						       (json_int_t)x->above_bound, "peak_utilisation", x->peak_util,
						       "excess_max", x->excess_max, "mean_slack",
						       x->steps ? x->slack_sum / (double)x->steps : 0.0));
	}

	for (i = 0; i < s->n; i++) {
		json_t *o = json_object(), *ms = json_object();
		adp_jset(&jb, o, "component", json_string(s->rows[i].component));
		adp_jset(&jb, o, "resource", json_string(adp_resource_name(s->rows[i].resource)));
		for (m = 0; m < PART_SIM_COUNT; m++) {
			const struct part_sim_stats *st = &s->rows[i].m[m];
			adp_jset(&jb, ms, part_sim_method_names[m],
					    json_pack("{s:I,s:I,s:I,s:f,s:f,s:f}", "steps", (json_int_t)st->steps,
						      "violations", (json_int_t)st->violations,
						      "guarantee_breaches", (json_int_t)st->breaches, "excess_sum",
						      st->excess_sum, "excess_max", st->excess_max,
						      "mean_slack", st->steps ? st->slack_sum / (double)st->steps : 0.0));
			adp_jset(&jb, json_object_get(ms, part_sim_method_names[m]), "mean_reserved",
					    json_real(st->steps ? st->reserved_sum / (double)st->steps : 0.0));
		}
		adp_jset(&jb, o, "methods", ms);
		if (s->rows[i].fc.n) {
			const struct acc_row *r = &s->rows[i].fc;

			adp_jset(&jb, o, "forecast",
				 json_pack("{s:I, s:o, s:o, s:o, s:o}", "samples", (json_int_t)r->n, "coverage_p95",
					   jnum_or_null(acc_coverage95(r)), "coverage_p50", jnum_or_null(acc_coverage50(r)),
					   "bias_p50", jnum_or_null(acc_bias(r)), "mase_p50", jnum_or_null(acc_mase(r))));
		}
		adp_jpush(&jb, arr, o);
	}
	adp_jset(&jb, root, "components", arr);
	adp_jset(&jb, root, "partitions", parts);
	adp_jset(&jb, root, "calibration", calib_json(&jb, s));
	rc = cmd_print_json(stdout, root, JSON_INDENT(2) | JSON_PRESERVE_ORDER, &jb);
	json_decref(root);
	return rc;
}

/* The plan's forecast against what happened: the figures of accuracy. */
static void print_forecast(const struct part_sim *s)
{
	size_t i;
	int any = 0;

	for (i = 0; i < s->n; i++) {
		const struct acc_row *r = &s->rows[i].fc;
		double m = acc_mase(r);

		if (!r->n)
			continue;
		if (!any++)
			printf("\n%-20s %-8s %6s %8s %8s %8s %7s  (the plan's bands against the actuals; nominal 0.95, 0.5, 0)\n",
			       "FORECAST", "RESOURCE", "STEPS", "COV P95", "COV P50", "BIAS", "MASE");
		printf("%-20s %-8s %6zu %8.3f %8.3f %+7.1f%% ", s->rows[i].component, adp_resource_name(s->rows[i].resource),
		       r->n, acc_coverage95(r), acc_coverage50(r), 100 * acc_bias(r));
		if (isnan(m))
			printf("%7s\n", "-");
		else
			printf("%7.3f\n", m);
	}
}

/* Non-empty bins only; a plan without per-step probabilities says so. */
static void print_calibration(const struct part_sim *s)
{
	int r, b, any = 0;

	for (r = 0; r < ADP_RES_COUNT; r++) {
		size_t n, o;

		if (!(n = calib_steps(s, r, &o)))
			continue;
		if (!any++)
			printf("\n%-8s %-13s %6s %9s %9s %9s\n", "RESOURCE", "P(OVERLOAD)", "STEPS", "MEAN PRED",
			       "OVERLOADS", "OBSERVED");
		for (b = 0; b < PART_SIM_NBINS; b++) {
			const struct part_sim_bin *x = &s->calib[r][b];
			char range[32];

			if (!x->steps)
				continue;
			snprintf(range, sizeof(range), "[%g%%, %g%%%c", 100 * part_sim_bin_edges[b],
				 100 * part_sim_bin_edges[b + 1], b == PART_SIM_NBINS - 1 ? ']' : ')');
			printf("%-8s %-13s %6zu %8.2f%% %9zu %8.2f%%\n", adp_resource_name(r), range, x->steps,
			       100 * x->prob_sum / (double)x->steps, x->overloads,
			       100 * (double)x->overloads / (double)x->steps);
		}
		printf("%-8s %-13s %6zu %8s %9zu %8.2f%%\n", adp_resource_name(r), "all", n, "", o,
		       100 * (double)o / (double)n);
	}
	if (!any)
		printf("\nNo calibration: the plan has no per-step P(overload) (overload_by_step).\n");
}

static void print_table(const struct part_sim *s)
{
	size_t i;
	int m;

	printf("%-20s %-8s %-12s %6s %6s %6s %14s %14s\n", "COMPONENT", "RESOURCE", "METHOD", "STEPS", "VIOL", "BREACH",
	       "MAX EXCESS", "MEAN SLACK");
	for (i = 0; i < s->n; i++)
		for (m = 0; m < PART_SIM_COUNT; m++) {
			const struct part_sim_stats *st = &s->rows[i].m[m];
			char ex[48], sl[48];

			cmd_format_amount(ex, s->rows[i].resource, st->excess_max);
			cmd_format_amount(sl, s->rows[i].resource,
					  st->steps ? st->slack_sum / (double)st->steps : 0.0);
			printf("%-20s %-8s %-12s %6zu %6zu %6zu %14s %14s\n", s->rows[i].component,
			       adp_resource_name(s->rows[i].resource), part_sim_method_names[m], st->steps,
			       st->violations, st->breaches, ex, sl);
		}
	printf("\n%-20s %-8s %6s %9s %12s %9s %14s %14s\n", "PARTITION", "RESOURCE", "STEPS", "OVERLOADS", "ABOVE-BOUND",
	       "PEAK UTIL", "MAX EXCESS", "MEAN SLACK");
	for (i = 0; i < s->nparts; i++) {
		const struct part_sim_part *x = &s->parts[i];

		if (!x->steps)
			continue;
		char ex[48], sl[48];

		cmd_format_amount(ex, x->resource, x->excess_max);
		cmd_format_amount(sl, x->resource, x->steps ? x->slack_sum / (double)x->steps : 0.0);
		printf("%-20s %-8s %6zu %9zu %12zu %8.1f%% %14s %14s\n", x->partition, adp_resource_name(x->resource),
		       x->steps, x->overloads, x->above_bound, 100.0 * x->peak_util, ex, sl);
	}
	print_forecast(s);
	print_calibration(s);
}

int cmd_simulate(int argc, char **argv)
{
	struct sim_args a = { 0 };
	struct plan p = { 0 };
	struct inventory inv = { 0 };
	struct history h;
	struct history_opts ho = { 0 };
	struct part_sim s = { 0 };
	struct part_sim_guarantee *g = NULL;
	char **files = NULL;
	size_t nfiles = 0, i;
	int rc = 1;

	if ((rc = cmd_parse(&cmd_simulate_argp, argc, argv, 0, &a)))
		return rc;
	rc = 1;
	history_init(&h);
	if (plan_read(&p, a.plan)) {
		cmd_error_last(NULL);
		goto done;
	}
	ho.step = p.step;
	ho.max_gap = p.step * 4;
	if (a.inventory) {
		if (cmd_inventory_load(&inv, a.inventory) ||
		    inventory_load_history(&h, &inv, a.history, a.nhistory, &ho, &files, &nfiles)) {
			cmd_error_last(NULL);
			goto done;
		}
	} else {
		for (i = 0; i < a.nhistory; i++)
			if (history_add_file(&h, a.history[i], &ho)) {
				cmd_error_last(NULL);
				goto done;
			}
	}
	if (inv.ncomps && !(g = calloc(inv.ncomps, sizeof(*g)))) {
		cmd_error("out of memory");
		goto done;
	}
	for (i = 0; i < inv.ncomps; i++) {
		g[i].component = inv.comps[i].name;
		memcpy(g[i].min, inv.comps[i].min, sizeof(g[i].min));
	}
	if (part_simulate(&s, &p, &h, g, inv.ncomps)) {
		cmd_error_last(NULL);
		goto done;
	}
	if (a.json && print_json(&s))
		goto done;
	if (!a.json)
		print_table(&s);
	rc = 0;
done:
	free(g);
	part_sim_release(&s);
	history_release(&h);
	inventory_release(&inv);
	plan_release(&p);
	cmd_strv_free(files, nfiles);
	return rc;
}
