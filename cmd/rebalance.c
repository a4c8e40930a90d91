/* adpart-update rebalance: between windows, re-forecasts the components
 * on this host and re-divides their cgroup limits by the planner's rules.
 * The work is a plan of one wave over the next --for, nothing offline and
 * nothing moved, whose steps resize every replica (partition/run.c's
 * rebalance), carried out by apply's engine with the local driver: each
 * step journaled before it acts, a kill resumable with apply --resume, and
 * --undo the engine's rollback, back to the limits before the first
 * rebalance. */
#include <argp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "orchestrator/drivers.h"
#include "orchestrator/engine.h"
#include "partition/planner.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/resource.h"
#include "util/timeutil.h"

#define MAX_HISTORY_ARGS 256
#define REBALANCE_FOR_DEFAULT 3600
#define REBALANCE_FOR_MAX (7 * 86400)

struct rebalance_args {
	const char *inventory, *schedule, *state_dir, *host_lock;
	const char *history[MAX_HISTORY_ARGS];
	size_t nhistory;
	int64_t horizon, now;
	int have_now, dry_run, undo, json;
};

enum { OPT_FOR = 256, OPT_NOW, OPT_DRY_RUN, OPT_UNDO, OPT_HOST_LOCK };

static const struct argp_option options[] = {
	{ "inventory", 'i', "FILE", 0, "Inventory of partitions and components (JSON)", 0 },
	{ "schedule", 's', "FILE", 0, "The host's schedule: its step, period, confidence and events (its window is not used)", 0 },
	{ "history", 'H', "FILE", 0, "Extra history file in long format (repeatable)", 0 },
	{ "for", OPT_FOR, "DURATION", 0, "Size the limits for this long from now (default 1h, at most 7d)", 0 },
	{ "state-dir", 'd', "DIR", 0, "The rebalance's journal and plan (default " CMD_STATE_DIR "/rebalance)", 0 },
	{ "host-lock", OPT_HOST_LOCK, "FILE", 0, "This host's lock, shared with apply (default " CMD_HOST_LOCK ")", 0 },
	{ "dry-run", OPT_DRY_RUN, NULL, 0, "Show the new limits; change nothing", 0 },
	{ "undo", OPT_UNDO, NULL, 0, "Give every replica the limits it had before the first rebalance", 0 },
	{ "now", OPT_NOW, "TIME", 0, "Forecast as if it were TIME (RFC 3339)", 0 },
	{ "output", 'o', "FORMAT", 0, "human (default) or json", 0 },
	CMD_OPTION_QUIET,
	CMD_OPTION_VERBOSE,
	{ 0 }
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	struct rebalance_args *a = state->input;

	switch (key) {
	case 'i': a->inventory = arg; break;
	case 's': a->schedule = arg; break;
	case 'H': cmd_argp_push(state, "--history files", a->history, &a->nhistory, MAX_HISTORY_ARGS, arg); break;
	case 'd': a->state_dir = arg; break;
	case OPT_HOST_LOCK: a->host_lock = arg; break;
	case OPT_DRY_RUN: a->dry_run = 1; break;
	case OPT_UNDO: a->undo = 1; break;
	case 'o': a->json = cmd_argp_output(state, arg); break;
	case OPT_FOR:
		cmd_argp_duration(state, "--for", arg, "a duration such as 30m or 2h", &a->horizon);
		if (a->horizon < 60 || a->horizon > REBALANCE_FOR_MAX)
			argp_error(state, "--for '%s': expected from 1m to 7d", arg);
		break;
	case OPT_NOW:
		cmd_argp_time(state, "--now", arg, &a->now);
		a->have_now = 1;
		break;
	case ARGP_KEY_INIT: a->horizon = REBALANCE_FOR_DEFAULT; break;
	case ARGP_KEY_ARG: argp_error(state, "unexpected argument '%s'", arg); break;
	case ARGP_KEY_END:
		if (a->dry_run && a->undo)
			argp_error(state, "--dry-run and --undo exclude each other");
		if (!a->undo && (!a->inventory || !a->schedule))
			argp_error(state, "give --inventory and --schedule (or --undo)");
		break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp cmd_rebalance_argp = {
	options, parse, NULL,
	"Between windows: forecast the components on this host for the next --for and give each replica the "
	"limits and reservations the planner would (its forecast at the schedule's confidence, in units of 1/8 "
	"core and 64 MiB, never below its guarantee, shared by the chance constraint where a partition is short), "
	"through the local driver: journaled, resumable (apply -d DIR --resume DIR/plan.json) and reversible "
	"(--undo). For a timer, like plan and apply.",
	cmd_output_children, NULL, NULL
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* The new limits, one replica a line (or JSON). */
static void report(const struct plan *p, int json, const char *verb)
{
	const struct plan_wave *w = p->nwaves ? &p->waves[0] : NULL;
	size_t k;

	if (json) {
		json_t *o = json_object(), *a = json_array();

		json_object_set_new(o, "outcome", json_string(verb));
		for (k = 0; w && k < w->nplacements; k++) {
			const struct plan_placement *x = &w->placements[k];

			json_array_append_new(a, json_pack("{s:s, s:I, s:s, s:f, s:f, s:f, s:f}", "component", x->component,
							   "replica", (json_int_t)x->replica, "partition", x->partition,
							   "cpu", x->alloc[ADP_RES_CPU], "memory", x->alloc[ADP_RES_MEMORY],
							   "cpu_reserved", x->reserve[ADP_RES_CPU],
							   "memory_reserved", x->reserve[ADP_RES_MEMORY]));
		}
		json_object_set_new(o, "replicas", a);
		cmd_print_json(stdout, o, 0, NULL);
		json_decref(o);
		return;
	}
	for (k = 0; w && k < w->nplacements; k++) {
		const struct plan_placement *x = &w->placements[k];
		char mem[32], res[32];

		adp_bytes_format(mem, x->alloc[ADP_RES_MEMORY]);
		adp_bytes_format(res, x->reserve[ADP_RES_MEMORY]);
		printf("  %-24s %-10s limit %.3g cores, %s; reserved %.3g cores, %s\n", x->component, x->partition,
		       x->alloc[ADP_RES_CPU], mem, x->reserve[ADP_RES_CPU], res);
	}
	printf("%s: %zu replicas\n", verb, w ? w->nplacements : 0);
}

/* The last rebalance's journal state in dir ("" when none). */
static void journal_state(const char *dir, char *out, size_t len)
{
	char path[4200];
	json_t *j;

	*out = '\0';
	snprintf(path, sizeof(path), "%s/journal.json", dir);
	if (!(j = json_load_file(path, 0, NULL)))
		return;
	snprintf(out, len, "%s", json_string_value(json_object_get(j, "state")) ? json_string_value(json_object_get(j, "state")) : "?");
	json_decref(j);
}

int cmd_rebalance(int argc, char **argv)
{
	struct rebalance_args a = { 0 };
	struct part_run_opts ro = { 0 };
	struct orch_opts o = { 0 };
	struct plan p = { 0 };
	struct inventory inv = { 0 };
	struct schedule sched = { 0 };
	struct orch_driver drv = { 0 };
	const struct orch_driver_info *local = orch_driver_find("local");
	struct sigaction sa = { 0 };
	void *state = NULL;
	char dir[4096], plan_path[4200], st[32], why[1024] = "";
	const char *crash;
	int parsed, rc, status = EXIT_ERROR, outcome = ORCH_REFUSED;

	if ((parsed = cmd_parse(&cmd_rebalance_argp, argc, argv, 0, &a)))
		return parsed;
	if (a.state_dir)
		snprintf(dir, sizeof(dir), "%s", a.state_dir);
	else
		snprintf(dir, sizeof(dir), "%s/rebalance",
			 cmd_setting(CMD_KEY_STATE_DIR) ? cmd_setting(CMD_KEY_STATE_DIR) : CMD_STATE_DIR);
	snprintf(plan_path, sizeof(plan_path), "%s/plan.json", dir);
	journal_state(dir, st, sizeof(st));
	if (a.undo) {
		if (!*st || !strcmp(st, "rolled_back")) {
			cmd_error("nothing to undo: no rebalance is journaled in '%s'%s", dir,
				  *st ? " that was not undone already" : "");
			return EXIT_REFUSED;
		}
		if (plan_read(&p, plan_path)) {
			cmd_error_last("refused");
			return EXIT_REFUSED;
		}
		o.rollback = 1;
	} else {
		if (*st && strcmp(st, "done") && strcmp(st, "rolled_back")) {
			cmd_error("an unfinished rebalance is journaled in '%s' (state %s): adpart-update rebalance --undo -d "
				  "%s rolls it back, adpart-update apply -d %s --resume %s finishes it",
				  dir, st, dir, dir, plan_path);
			return EXIT_REFUSED;
		}
		ro.inventory = a.inventory;
		ro.schedule = a.schedule;
		ro.history = a.history;
		ro.nhistory = a.nhistory;
		ro.now = a.have_now ? a.now : (int64_t)time(NULL);
		ro.rebalance = a.horizon;
		ro.tool_version = "adpart-update " "0.1.0";
		rc = part_run(&p, &ro);
		if (rc && rc != ADP_EINFEASIBLE) {
			cmd_error_last(NULL);
			goto done;
		}
		/* Short somewhere: the shares the planner cut to are still the
		 * best division of what there is; say so and go on. */
		if (rc == ADP_EINFEASIBLE || p.nshortfalls)
			cmd_warn("the forecast does not fit every partition: the limits are shared as the planner cuts them "
				 "(see the plan's shortfalls in '%s')", plan_path);
		if (a.dry_run) {
			report(&p, a.json, "would resize");
			status = EXIT_OK;
			goto done;
		}
		if (mkdir(dir, 0700) && errno != EEXIST) {
			cmd_error("cannot create the state directory '%s': %s", dir, strerror(errno));
			goto done;
		}
		/* A finished rebalance makes room for the next: its resized
		 * replicas keep the limits saved before the first, which --undo
		 * gives back. */
		if (*st) {
			char path[4200];

			snprintf(path, sizeof(path), "%s/journal.json", dir);
			if (unlink(path) && errno != ENOENT) {
				cmd_error("cannot remove the finished journal '%s': %s", path, strerror(errno));
				goto done;
			}
		}
		if (plan_write(&p, plan_path)) {
			cmd_error_last(NULL);
			goto done;
		}
	}
	if (cmd_inventory_load(&inv, a.inventory ? a.inventory : cmd_plan_input(&p, "inventory")) ||
	    schedule_load_mode(&sched, a.schedule ? a.schedule : cmd_plan_input(&p, "schedule"), &inv, SCHEDULE_ACT)) {
		cmd_error_last("refused");
		status = EXIT_REFUSED;
		goto done;
	}
	if (orch_driver_new(&state, &drv, local, &inv, &sched, dir, NULL)) {
		cmd_error_last(NULL);
		goto done;
	}
	o.plan_path = plan_path;
	o.state_dir = dir;
	o.host_lock = a.host_lock ? a.host_lock
		      : cmd_setting(CMD_KEY_HOST_LOCK) ? cmd_setting(CMD_KEY_HOST_LOCK)
						       : cmd_default_host_lock();
	/* The engine's clock at the plan's start, which is on the step grid
	 * just after now: the limits are for from then on. */
	o.now = p.nwaves ? p.waves[0].start : 0;
	o.stop = &stop_flag;
	o.why = why;
	o.why_len = sizeof(why);
	if ((crash = getenv("ADPART_TEST_CRASH_AFTER_STEP")))
		o.crash_after = strtol(crash, NULL, 10);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = orch_apply(&o, &drv, &outcome);
	if (rc) {
		cmd_error_last(rc == ADP_EINPUT ? "refused" : NULL);
		status = rc == ADP_EINPUT ? EXIT_REFUSED : EXIT_ERROR;
		goto done;
	}
	status = cmd_outcome_status(outcome);
	if (outcome == ORCH_DONE)
		report(&p, a.json, "rebalanced");
	else if (outcome == ORCH_ROLLED_BACK && a.undo)
		status = EXIT_OK, printf("undone: every replica has the limits it had before the first rebalance\n");
	else
		cmd_error("rebalance %s%s%s (journal '%s/journal.json')", orch_outcome_name(outcome), *why ? ": " : "",
			  why, dir);
done:
	orch_driver_free(local, state);
	schedule_release(&sched);
	inventory_release(&inv);
	plan_release(&p);
	return status;
}
