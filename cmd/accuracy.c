/* adpart-update accuracy: what apply observed against what the plans
 * predicted, per window and across windows, from run records. */
#include <argp.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "plans/accuracy.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/resource.h"

#define ACC_MAX_FILES 1000
#define ACC_RUN_MAX_BYTES ((size_t)256 << 20)

struct acc_args {
	const char *store, *schedule;
	const char *files[ACC_MAX_FILES];
	size_t nfiles;
	int json;
};

enum { OPT_SCHEDULE = 1000 };

static const struct argp_option options[] = {
	{ "store", 'S', "DIR", 0, "Every run record in this plan store, oldest first (default: $ADPART_STORE or the config file's store, without files)", 0 },
	{ "schedule", OPT_SCHEDULE, "NAME", 0, "With --store: only this schedule's runs", 0 },
	{ "output", 'o', "FORMAT", 0, "human (default) or json", 0 },
	{ 0 },
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	struct acc_args *a = state->input;

	switch (key) {
	case 'S': a->store = arg; break;
	case OPT_SCHEDULE: a->schedule = arg; break;
	case 'o': a->json = cmd_argp_output(state, arg); break;
	case ARGP_KEY_ARG: cmd_argp_push(state, "run records", a->files, &a->nfiles, ACC_MAX_FILES, arg); break;
	case ARGP_KEY_END:
		if (!a->nfiles && !a->store && !(a->store = cmd_setting(CMD_KEY_STORE)))
			argp_error(state, "name run records (run.json), or a plan store with --store");
		if (a->nfiles && a->store)
			argp_error(state, "give run record files or --store, not both");
		if (a->schedule && !a->store)
			argp_error(state, "--schedule is for --store");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp cmd_accuracy_argp = {
	options, parse, "[RUN.json...]",
	"What apply observed against what the plans predicted: per window and across windows, per component "
	"and resource, the coverage of the p95 and the p50, the bias and the MASE of the p50, and the share of "
	"samples above the allocation. From run records, or every run in a plan store.\v"
	"Exit status: 0, or 1 when a record cannot be read or holds no samples.",
	NULL, NULL, NULL,
};

static int add_file(struct accuracy *acc, const char *path)
{
	char *text = NULL;
	json_error_t e;
	json_t *run;
	int rc;

	if ((rc = adp_read_file(&text, NULL, path, ACC_RUN_MAX_BYTES)))
		return rc;
	run = json_loads(text, 0, &e);
	free(text);
	if (!run)
		return adp_error_set(ADP_EINPUT, "%s:%d: %s", path, e.line, e.text);
	rc = accuracy_add_run(acc, path, run);
	json_decref(run);
	return rc;
}

static void print_row(const struct acc_row *r)
{
	double c95 = acc_coverage95(r), c50 = acc_coverage50(r), b = acc_bias(r), m = acc_mase(r);

	printf("  %-24s %-7s %6zu %8.3f %8.3f %+7.1f%% ", r->component, adp_resource_name(r->resource), r->n, c95, c50,
	       100 * b);
	if (isnan(m))
		printf("%7s", "-");
	else
		printf("%7.3f", m);
	printf(" %9.1f%%\n", 100 * acc_above_alloc(r));
}

static void print_window(const struct acc_window *w, const char *title)
{
	size_t i;

	printf("%s%s%s%s\n", title, w->outcome ? " (" : "", w->outcome ? w->outcome : "", w->outcome ? ")" : "");
	if (!w->nrows) {
		printf("  no step-boundary samples\n");
		return;
	}
	printf("  %-24s %-7s %6s %8s %8s %8s %7s %10s\n", "component", "res", "n", "cov p95", "cov p50", "bias", "MASE",
	       "> alloc");
	for (i = 0; i < w->nrows; i++)
		print_row(&w->rows[i]);
}

static json_t *num(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static json_t *window_json(struct adp_jb *b, const struct acc_window *w)
{
	json_t *o = json_object(), *rows = json_array();
	size_t i;

	if (w->label)
		adp_jset(b, o, "run", json_string(w->label));
	if (w->outcome)
		adp_jset(b, o, "outcome", json_string(w->outcome));
	for (i = 0; i < w->nrows; i++) {
		const struct acc_row *r = &w->rows[i];
		json_t *j = json_object();

		adp_jset(b, j, "component", json_string(r->component));
		adp_jset(b, j, "resource", json_string(adp_resource_name(r->resource)));
		adp_jset(b, j, "samples", json_integer((json_int_t)r->n));
		adp_jset(b, j, "coverage_p95", num(acc_coverage95(r)));
		adp_jset(b, j, "coverage_p50", num(acc_coverage50(r)));
		adp_jset(b, j, "bias_p50", num(acc_bias(r)));
		adp_jset(b, j, "mase_p50", num(acc_mase(r)));
		adp_jset(b, j, "above_alloc", num(acc_above_alloc(r)));
		adp_jpush(b, rows, j);
	}
	adp_jset(b, o, "rows", rows);
	return o;
}

int cmd_accuracy(int argc, char **argv)
{
	struct acc_args a = { 0 };
	struct accuracy acc = { 0 };
	size_t i, samples = 0;
	int parsed, rc = 0, status = EXIT_OK;

	if ((parsed = cmd_parse(&cmd_accuracy_argp, argc, argv, 0, &a)))
		return parsed;
	for (i = 0; i < a.nfiles && !rc; i++)
		rc = add_file(&acc, a.files[i]);
	if (!rc && a.store)
		rc = accuracy_add_store(&acc, a.store, a.schedule);
	for (i = 0; i < acc.pooled.nrows; i++)
		samples += acc.pooled.rows[i].n;
	if (rc) {
		cmd_error_last(NULL);
		status = EXIT_ERROR;
	} else if (!acc.nwindows) {
		cmd_error("no run records in the store '%s'%s%s", a.store, a.schedule ? " for schedule " : "",
			  a.schedule ? a.schedule : "");
		status = EXIT_ERROR;
	} else if (!samples) {
		cmd_error("no step-boundary samples in %zu run record%s: apply's monitoring recorded none (a driver "
			  "without sampling, or no shadow was live)", acc.nwindows, acc.nwindows == 1 ? "" : "s");
		status = EXIT_ERROR;
	} else if (a.json) {
		struct adp_jb b = { 0 };
		json_t *doc = json_object(), *ws = json_array();

		for (i = 0; i < acc.nwindows; i++)
			adp_jpush(&b, ws, window_json(&b, &acc.windows[i]));
		adp_jset(&b, doc, "windows", ws);
		adp_jset(&b, doc, "pooled", window_json(&b, &acc.pooled));
		if (cmd_print_json(stdout, doc, JSON_INDENT(2), &b))
			status = EXIT_ERROR;
		json_decref(doc);
	} else {
		char title[600];

		for (i = 0; i < acc.nwindows; i++) {
			snprintf(title, sizeof(title), "Window %zu: %s", i + 1, acc.windows[i].label);
			print_window(&acc.windows[i], title);
		}
		snprintf(title, sizeof(title), "All %zu windows", acc.nwindows);
		print_window(&acc.pooled, title);
		printf("Nominal: cov p95 0.950, cov p50 0.500, bias 0; MASE against the one-step change of the "
		       "observed samples.\n");
	}
	accuracy_release(&acc);
	return status;
}
