/* adpart-update tune: the planner's cost weights learned on past windows. */
#include <argp.h>
#include <errno.h>
#include <stdint.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"
#include "partition/tune.h"
#include "util/error.h"
#include "util/jsonutil.h"
#include "util/timeutil.h"

#define TUNE_MAX_HISTORY 256

struct tune_args {
	const char *inventory, *schedule, *write, *model;
	const char *history[TUNE_MAX_HISTORY];
	size_t nhistory;
	int json, have_now;
	int64_t now, lead;
	unsigned long windows, candidates;
	unsigned long long seed;
	double train;
};

enum { OPT_NOW = 256, OPT_LEAD, OPT_TRAIN, OPT_SEED, OPT_MODEL };

static const struct argp_option options[] = {
	{ "inventory", 'i', "FILE", 0, "Inventory of partitions and components (JSON)", 0 },
	{ "schedule", 's', "FILE", 0, "Update schedule (JSON): its window, shifted by whole periods, gives the past windows", 0 },
	{ "history", 'H', "FILE", 0, "Extra history, long-format CSV or JSON (repeatable)", 0 },
	{ "now", OPT_NOW, "TIME", 0, "Tune as if it were TIME (RFC 3339): the past windows end by then, later history is ignored", 0 },
	{ "windows", 'n', "N", 0, "Past windows to replay, 2 to 60 (default 6)", 0 },
	{ "train", OPT_TRAIN, "SHARE", 0, "The earlier share of the windows learned on, the rest judged on (default 0.667)", 0 },
	{ "candidates", 'c', "N", 0, "Weight vectors tried, today's among them, 1 to 64 (default 8)", 0 },
	{ "seed", OPT_SEED, "N", 0, "Seed of the sample of weight vectors (default 1)", 0 },
	{ "lead", OPT_LEAD, "DURATION", 0, "Each past window is planned this long before it starts (default 1h)", 0 },
	{ "model", OPT_MODEL, "NAME", 0, "Forecast model (default: auto; see the forecast command)", 0 },
	{ "write", 'O', "FILE", 0,
	  "Write the schedule with the proposed weights to FILE (the schedule itself to update it), only when they beat today's on the later windows", 0 },
	{ 0 },
};

static unsigned long ulong_arg(struct argp_state *state, const char *opt, const char *arg, unsigned long lo,
			       unsigned long hi)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < lo || v > hi)
		argp_error(state, "%s expects a whole number from %lu to %lu, not '%s'", opt, lo, hi, arg);
	return v;
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
	struct tune_args *a = state->input;

	switch (key) {
	case 'i': a->inventory = arg; break;
	case 's': a->schedule = arg; break;
	case 'H': cmd_argp_push(state, "--history files", a->history, &a->nhistory, TUNE_MAX_HISTORY, arg); break;
	case 'O': a->write = arg; break;
	case OPT_MODEL: a->model = arg; break;
	case OPT_NOW:
		cmd_argp_time(state, "--now", arg, &a->now);
		a->have_now = 1;
		break;
	case 'n': a->windows = ulong_arg(state, "--windows", arg, 2, PART_TUNE_MAX_WINDOWS); break;
	case 'c': a->candidates = ulong_arg(state, "--candidates", arg, 1, PART_TUNE_MAX_CANDIDATES); break;
	case OPT_SEED: {
		char *end = NULL;

		errno = 0;
		a->seed = strtoull(arg, &end, 10);
		if (errno || end == arg || *end || arg[0] == '-' || a->seed > INT64_MAX)
			argp_error(state, "--seed expects a whole number from 0 to %lld, not '%s'", (long long)INT64_MAX, arg);
		break;
	}
	case OPT_TRAIN: {
		char *end = NULL;

		a->train = strtod(arg, &end);
		if (end == arg || *end || !(a->train > 0 && a->train < 1))
			argp_error(state, "--train expects a share between 0 and 1 (exclusive), not '%s'", arg);
		break;
	}
	case OPT_LEAD: cmd_argp_duration(state, "--lead", arg, "a duration such as 1h", &a->lead); break;
	case ARGP_KEY_INIT: state->child_inputs[0] = &a->json; break;
	case ARGP_KEY_ARG: argp_error(state, "unexpected argument '%s'", arg); break;
	case ARGP_KEY_END:
		if (!a->inventory || !a->schedule)
			argp_error(state, "give the inventory and the schedule (--inventory, --schedule)");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp cmd_tune_argp = {
	options, parse, NULL,
	"Learn the planner's cost weights (risk, waste, moves, confidence) on past windows: each past "
	"window is planned with candidate weights on the history before it and the actual load replayed "
	"through the plan; successive halving over a seeded Latin-hypercube sample (each weight within "
	"10x either side of today's) picks the best on the earlier windows, which is then judged against "
	"today's weights on the later ones.\v"
	"Score (lower is better): 50 x violating component-steps share + 50 x overloaded host-steps share "
	"+ allocated / actual + 0.01 x moves per window + 10 x infeasible windows share.\n"
	"Exit status: 0 on success (whether or not the weights change), 1 on an error, 64 on a bad "
	"command line.",
	cmd_output_children, NULL, NULL,
};

static void row(const char *who, const char *split, const struct part_tune_summary *s)
{
	printf("%-9s %-6s %7zu %10zu %9zu %9.3f %9.3f %6zu %10zu %9.3f\n", who, split, s->windows, s->violations,
	       s->overloads, s->allocated_ratio, s->reserved_ratio, s->moves, s->infeasible, s->score);
}

static void weights_line(const char *who, const double *w)
{
	int i;

	printf("%-9s", who);
	for (i = 0; i < SCHEDULE_NWEIGHTS; i++)
		printf(" %s %-8.4g", schedule_weight_names[i], w[i]);
	printf("\n");
}

static void print_human(const struct part_tune_result *r, const struct tune_args *a)
{
	char t0[32], t1[32], t2[32], t3[32], len[32];
	size_t last = r->nwindows - 1;
	int i;

	adp_time_format(t0, r->window_start[0]);
	adp_time_format(t1, r->window_start[r->ntrain - 1]);
	adp_time_format(t2, r->window_start[r->ntrain]);
	adp_time_format(t3, r->window_start[last]);
	adp_duration_format(len, r->window_length);
	printf("Past windows of %s: %zu, time split at %.3g\n", len, r->nwindows, a->train);
	printf("  train: %zu windows, %s .. %s\n", r->ntrain, t0, t1);
	printf("  test:  %zu windows, %s .. %s\n", r->nwindows - r->ntrain, t2, t3);
	printf("Search: successive halving over %zu candidates (seed %llu), %zu plans replayed\n", r->candidates,
	       a->seed, r->evaluations);
	printf("Bounds:  ");
	for (i = 0; i < SCHEDULE_NWEIGHTS; i++)
		printf(" %s [%.4g, %.4g]", schedule_weight_names[i], r->lo[i], r->hi[i]);
	printf("\n\n");
	/* The search's winner is a proposal only when it won on the test
	 * windows; otherwise it is only what the training windows favoured. */
	weights_line("today", r->today);
	weights_line(r->improved ? "proposed" : "learned", r->proposed);
	printf("\n%-9s %-6s %7s %10s %9s %9s %9s %6s %10s %9s\n", "WEIGHTS", "SPLIT", "WINDOWS", "VIOLATIONS", "OVERLOADS",
	       "ALLOCATED", "RESERVED", "MOVES", "INFEASIBLE", "SCORE");
	row("today", "train", &r->today_train);
	row(r->improved ? "proposed" : "learned", "train", &r->best_train);
	row("today", "test", &r->today_test);
	row(r->improved ? "proposed" : "learned", "test", &r->best_test);
	printf("\n");
	if (r->improved)
		printf("Proposed: the weights above score %.3f against today's %.3f on the test windows.\n",
		       r->best_test.score, r->today_test.score);
	else
		printf("Today's weights stand: no candidate beat them on the test windows.\n");
	if (!r->improved)
		printf("(learned: the best on the training windows, not proposed.)\n");
}

static json_t *summary_json(const struct part_tune_summary *s)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:I,s:I,s:f}", "windows", (json_int_t)s->windows,
			 "component_steps", (json_int_t)s->comp_steps, "violations", (json_int_t)s->violations,
			 "host_steps", (json_int_t)s->host_steps, "overloads", (json_int_t)s->overloads, "allocated",
			 s->allocated_ratio, "reserved", s->reserved_ratio, "moves", (json_int_t)s->moves, "infeasible", (json_int_t)s->infeasible,
			 "score", s->score);
}

static json_t *weights_json(struct adp_jb *jb, const double *w)
{
	json_t *o = json_object();
	int i;

	for (i = 0; i < SCHEDULE_NWEIGHTS; i++)
		adp_jset(jb, o, schedule_weight_names[i], json_real(w[i]));
	return o;
}

static int print_json(const struct part_tune_result *r, const struct tune_args *a, const char *written)
{
	json_t *root = json_object(), *wins = json_array(), *bounds = json_object(), *train = json_object(),
	       *test = json_object();
	struct adp_jb jb = { 0 };
	size_t i;
	int rc;

	for (i = 0; i < r->nwindows; i++) {
		char t[32];

		adp_time_format(t, r->window_start[i]);
		adp_jpush(&jb, wins, json_pack("{s:s,s:s}", "start", t, "split", i < r->ntrain ? "train" : "test"));
	}
	for (i = 0; i < SCHEDULE_NWEIGHTS; i++)
		adp_jset(&jb, bounds, schedule_weight_names[i], json_pack("[f,f]", r->lo[i], r->hi[i]));
	adp_jset(&jb, train, "today", summary_json(&r->today_train));
	adp_jset(&jb, train, "proposed", summary_json(&r->best_train));
	adp_jset(&jb, test, "today", summary_json(&r->today_test));
	adp_jset(&jb, test, "proposed", summary_json(&r->best_test));
	adp_jset(&jb, root, "windows", wins);
	adp_jset(&jb, root, "train_share", json_real(a->train));
	adp_jset(&jb, root, "seed", json_integer((json_int_t)a->seed));
	adp_jset(&jb, root, "candidates", json_integer((json_int_t)r->candidates));
	adp_jset(&jb, root, "evaluations", json_integer((json_int_t)r->evaluations));
	adp_jset(&jb, root, "bounds", bounds);
	adp_jset(&jb, root, "today", weights_json(&jb, r->today));
	adp_jset(&jb, root, "proposed", weights_json(&jb, r->proposed));
	adp_jset(&jb, root, "train", train);
	adp_jset(&jb, root, "test", test);
	adp_jset(&jb, root, "improved", json_boolean(r->improved));
	adp_jset(&jb, root, "written", written ? json_string(written) : json_null());
	rc = cmd_print_json(stdout, root, JSON_INDENT(2) | JSON_PRESERVE_ORDER, &jb);
	json_decref(root);
	return rc;
}

int cmd_tune(int argc, char **argv)
{
	struct tune_args a = { .windows = PART_TUNE_DEFAULT_WINDOWS, .candidates = PART_TUNE_DEFAULT_CANDIDATES,
			       .seed = 1, .train = PART_TUNE_DEFAULT_TRAIN, .lead = PART_TUNE_DEFAULT_LEAD };
	struct part_tune_opts o = { 0 };
	struct part_tune_result r = { 0 };
	const char *written = NULL;
	int rc;

	if ((rc = cmd_parse(&cmd_tune_argp, argc, argv, 0, &a)))
		return rc;
	rc = EXIT_ERROR;
	o.inventory = a.inventory;
	o.schedule = a.schedule;
	o.history = a.history;
	o.nhistory = a.nhistory;
	o.now = a.have_now ? a.now : (int64_t)time(NULL);
	o.lead = a.lead;
	o.windows = a.windows;
	o.train = a.train;
	o.candidates = a.candidates;
	o.seed = a.seed;
	o.model = a.model;
	if (part_tune(&r, &o)) {
		cmd_error_last(NULL);
		goto done;
	}
	if (a.write && r.improved) {
		if (part_tune_write_schedule(a.schedule, a.write, r.proposed)) {
			cmd_error_last(NULL);
			goto done;
		}
		written = a.write;
	}
	if (a.json) {
		if (print_json(&r, &a, written))
			goto done;
	} else {
		print_human(&r, &a);
		if (written)
			printf("Wrote the schedule with the proposed weights to '%s'.\n", written);
		else if (a.write)
			printf("Nothing written to '%s': today's weights stand.\n", a.write);
		else if (r.improved)
			printf("Not written: pass --write FILE to write the schedule with them.\n");
	}
	rc = EXIT_OK;
done:
	part_tune_release(&r);
	return rc;
}
