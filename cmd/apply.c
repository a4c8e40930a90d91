/* adpart-update apply: carry out a plan on this host, journaled. */
#include <argp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"
#include "cmd/kube.h"
#include "orchestrator/engine.h"
#include "orchestrator/kube/driver.h"
#include "orchestrator/local/driver.h"
#include "partition/inventory.h"
#include "partition/schedule.h"
#include "plans/plan.h"
#include "plans/store.h"
#include "util/fsutil.h"
#include "util/error.h"
#include "util/timeutil.h"

struct apply_args {
	const char *plan, *state_dir, *record, *inventory, *schedule, *now, *store;
	int resume, rollback, dry_run, policy;
	double monitor_interval;
	int kube; /* --driver kubernetes */
};

enum { OPT_RESUME = 1000, OPT_ROLLBACK, OPT_DRY_RUN, OPT_NOW, OPT_RECORD, OPT_POLICY, OPT_STORE, OPT_MONITOR,
       OPT_DRIVER };

static const struct argp_option options[] = {
	{ "state-dir", 'd', "DIR", 0, "Journal, lock, pid files and logs (default /var/lib/adpart-update)", 0 },
	{ "record", OPT_RECORD, "FILE", 0, "Write the run record here (default DIR/run.json)", 0 },
	{ "inventory", 'i', "FILE", 0, "Inventory with run, health and traffic sections (default: the plan's)", 0 },
	{ "schedule", 's', "FILE", 0, "Schedule with the update command (default: the plan's)", 0 },
	{ "resume", OPT_RESUME, NULL, 0, "Continue an interrupted apply from its journal", 0 },
	{ "rollback", OPT_ROLLBACK, NULL, 0, "Reverse the journaled steps back to the pre-apply state", 0 },
	{ "dry-run", OPT_DRY_RUN, NULL, 0, "Check the plan and print the steps without acting", 0 },
	{ "on-deviation", OPT_POLICY, "POLICY", 0,
	  "When usage leaves the forecast band: warn (default), grow or rollback", 0 },
	{ "monitor-interval", OPT_MONITOR, "SECONDS", 0,
	  "Sample the live shadows' cgroups this often during a step (default 5)", 0 },
	{ "now", OPT_NOW, "TIME", 0, "Current time for the expiry check (default: the clock)", 0 },
	{ "store", OPT_STORE, "DIR", 0, "Check lineage and serial in the plan store DIR and record the run there (default: $ADPART_STORE)", 0 },
	{ "driver", OPT_DRIVER, "NAME", 0, "local (default), or kubernetes: nodes as partitions through the Kubernetes API", 0 },
	{ 0 },
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	struct apply_args *a = state->input;

	switch (key) {
	case 'd': a->state_dir = arg; break;
	case OPT_RECORD: a->record = arg; break;
	case 'i': a->inventory = arg; break;
	case 's': a->schedule = arg; break;
	case OPT_RESUME: a->resume = 1; break;
	case OPT_ROLLBACK: a->rollback = 1; break;
	case OPT_DRY_RUN: a->dry_run = 1; break;
	case OPT_NOW: a->now = arg; break;
	case OPT_STORE: a->store = arg; break;
	case OPT_MONITOR: {
		char *end = NULL;
		a->monitor_interval = strtod(arg, &end);
		if (!end || *end || !(a->monitor_interval >= 0.1 && a->monitor_interval <= 3600))
			argp_error(state, "--monitor-interval '%s': expected seconds from 0.1 to 3600", arg);
		break;
	}
	case OPT_DRIVER: a->kube = cmd_kube_driver_arg(state, arg); break;
	case OPT_POLICY:
		if (!strcmp(arg, "warn"))
			a->policy = ORCH_POLICY_WARN;
		else if (!strcmp(arg, "grow"))
			a->policy = ORCH_POLICY_GROW;
		else if (!strcmp(arg, "rollback"))
			a->policy = ORCH_POLICY_ROLLBACK;
		else
			argp_error(state, "unknown policy '%s': expected warn, grow or rollback", arg);
		break;
	case ARGP_KEY_ARG:
		if (a->plan)
			argp_error(state, "one plan at a time");
		a->plan = arg;
		break;
	case ARGP_KEY_END:
		if (!a->plan)
			argp_error(state, "name the plan file to apply");
		if (a->resume + a->rollback + a->dry_run > 1)
			argp_error(state, "--resume, --rollback and --dry-run exclude each other");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child children[] = {
	{ &cmd_kube_conn_argp, 0, NULL, 0 },
	{ &cmd_kube_apply_argp, 0, NULL, 0 },
	{ 0 },
};

const struct argp cmd_apply_argp = {
	options, parse, "PLAN",
	"Carry out a plan on this host: partitions as cgroups, components as processes, traffic "
	"through HAProxy. Every step is journaled before and after it acts; a failed step rolls "
	"the completed ones back.\v"
	"Exit status: 0 applied, 1 error, 4 rolled back, 5 failed (rollback incomplete), "
	"6 refused (nothing changed), 7 stopped by a signal (resume with --resume).",
	children, NULL, NULL,
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static const char *input_of(const struct plan *p, const char *kind)
{
	size_t i;

	for (i = 0; i < p->ninputs; i++)
		if (!strcmp(p->inputs[i].kind, kind))
			return p->inputs[i].path;
	return NULL;
}

/* Commits the run record on top of the plan in the store. */
static int record_run(struct plan_store *store, const struct plan *p, const struct orch_opts *o, int outcome)
{
	static const char *const names[] = { "success", "rolled_back", "failed", "refused", "stopped",
					     "journal_lost" };
	char *path = NULL, *json = NULL;
	int rc;

	if (o->record_path)
		path = strdup(o->record_path);
	else if (asprintf(&path, "%s/run.json", o->state_dir) < 0)
		path = NULL;
	if (!path)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (!(rc = adp_read_file(&json, NULL, path, (size_t)64 << 20)))
		rc = plan_store_record_run(store, p->schedule_name, p->serial, p->digest, json, names[outcome]);
	free(json);
	free(path);
	return rc;
}

int cmd_apply(int argc, char **argv)
{
	static const int codes[] = { EXIT_OK, EXIT_ROLLED_BACK, EXIT_APPLY_FAILED, EXIT_REFUSED, EXIT_STOPPED,
				     EXIT_JOURNAL_LOST };
	struct apply_args a = { 0 };
	struct plan p = { 0 };
	struct inventory inv = { 0 };
	struct schedule sched = { 0 };
	struct orch_local local = { 0 };
	struct orch_kube kube = { 0 };
	struct kube_client kc = { 0 };
	struct orch_driver drv = { 0 };
	struct orch_opts o = { 0 };
	struct sigaction sa = { 0 };
	const char *ip, *sp, *crash;
	int rc, outcome = ORCH_REFUSED, status = EXIT_REFUSED, have_sched = 0;
	int64_t now = (int64_t)time(NULL);
	struct plan_store *store = NULL;

	if (argp_parse(&cmd_apply_argp, argc, argv, 0, NULL, &a))
		return EXIT_USAGE;
	if (a.now && adp_time_parse(&now, a.now, NULL)) {
		cmd_error("--now '%s' is not a time: expected RFC 3339 such as 2018-05-06T00:00:00Z", a.now);
		return EXIT_USAGE;
	}
	if ((rc = plan_read(&p, a.plan))) {
		cmd_error_last(NULL);
		return EXIT_REFUSED;
	}
	if (!a.store && getenv("ADPART_STORE") && *getenv("ADPART_STORE"))
		a.store = getenv("ADPART_STORE");
	if (a.store && !a.dry_run) {
		/* Terraform's rule: refuse a plan from another lineage, or one no
		 * newer than the last applied, before anything is touched. */
		if (!p.lineage[0]) {
			cmd_error("refused: plan '%s' was not recorded in a plan store: plan again with --store '%s'",
				  a.plan, a.store);
			goto done;
		}
		if ((rc = plan_store_open(&store, a.store, 0)) ||
		    (!a.rollback && !a.resume &&
		     (rc = plan_store_check_apply(store, p.schedule_name, p.lineage, p.serial)))) {
			cmd_error_last("refused");
			goto done;
		}
	}
	ip = a.inventory ? a.inventory : input_of(&p, "inventory");
	sp = a.schedule ? a.schedule : input_of(&p, "schedule");
	if (a.dry_run) {
		size_t i;

		if ((rc = orch_preflight(&p, now))) {
			cmd_error_last("refused");
			goto done;
		}
		printf("plan '%s': %zu steps would run (%zu rollback steps prepared)\n", p.schedule_name, p.nsteps,
		       p.nrollback);
		for (i = 0; i < p.nsteps; i++) {
			const struct plan_step *s = &p.steps[i];
			printf("%4zu  wave %zu  %-22s %-12s %s%s%s\n", s->id, s->wave, s->action,
			       s->partition ? s->partition : "-", s->component ? s->component : "",
			       s->target ? "  with " : "", s->target ? s->target : "");
		}
		status = EXIT_OK;
		goto done;
	}
	if (!ip) {
		cmd_error("the plan names no inventory: use --inventory");
		goto done;
	}
	if ((rc = cmd_inventory_load(&inv, ip))) {
		cmd_error_last("refused");
		goto done;
	}
	if (sp) {
		if ((rc = schedule_load(&sched, sp, &inv))) {
			cmd_error_last("refused");
			goto done;
		}
		have_sched = 1;
	}
	o.state_dir = a.state_dir ? a.state_dir : "/var/lib/adpart-update";
	if (a.kube) {
		struct orch_kube_opts ko = { 0 };

		ko.drain_timeout = cmd_kube.drain_timeout;
		ko.evict_backoff_ms = cmd_kube.evict_backoff_ms;
		ko.poll_ms = cmd_kube.poll_ms;
		ko.ready_timeout = cmd_kube.ready_timeout;
		ko.update_image = cmd_kube.update_image;
		ko.job_namespace = cmd_kube.job_namespace;
		ko.job_backoff_limit = cmd_kube.job_backoff_limit;
		ko.prom = cmd_kube.prom.url ? &cmd_kube.prom : NULL;
		if (cmd_kube_client(&kc)) {
			status = EXIT_ERROR;
			goto done;
		}
		if ((rc = orch_kube_init(&kube, &kc, &inv, have_sched ? &sched : NULL, o.state_dir, &ko))) {
			cmd_error_last(NULL);
			status = EXIT_ERROR;
			goto done;
		}
		orch_kube_driver(&drv, &kube);
	} else if ((rc = orch_local_init(&local, &inv, have_sched ? &sched : NULL, o.state_dir))) {
		cmd_error_last(NULL);
		status = EXIT_ERROR;
		goto done;
	} else {
		orch_local_driver(&drv, &local);
	}
	o.plan_path = a.plan;
	o.record_path = a.record;
	o.resume = a.resume;
	o.rollback = a.rollback;
	o.policy = a.policy;
	o.monitor_interval = a.monitor_interval;
	o.now = now;
	o.stop = &stop_flag;
	if ((crash = getenv("ADPART_TEST_CRASH_AFTER_STEP")))
		o.crash_after = strtol(crash, NULL, 10);
	if ((crash = getenv("ADPART_TEST_CRASH_BEFORE_DONE")))
		o.crash_before_done = strtol(crash, NULL, 10);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if ((rc = orch_apply(&o, &drv, &outcome))) {
		cmd_error_last(rc == ADP_EINPUT ? "refused" : NULL);
		status = rc == ADP_EINPUT ? EXIT_REFUSED : EXIT_ERROR;
		goto done;
	}
	status = codes[outcome];
	if (store && outcome != ORCH_JOURNAL_LOST && (rc = record_run(store, &p, &o, outcome))) {
		cmd_error_last("cannot record the run in the plan store");
		if (status == EXIT_OK)
			status = EXIT_ERROR;
	}
	if (outcome == ORCH_DONE)
		printf("applied: %zu steps done\n", p.nsteps);
	else if (outcome == ORCH_ROLLED_BACK)
		cmd_error("a step failed; completed steps were rolled back (see the run record)");
	else if (outcome == ORCH_FAILED)
		cmd_error("a step failed and the rollback did not complete (see the journal in '%s'): once the fault is fixed, --rollback retries the failed undo steps", o.state_dir);
	else if (outcome == ORCH_JOURNAL_LOST)
		cmd_error_last(NULL);
	else if (outcome == ORCH_STOPPED)
		cmd_error("stopped at a step boundary: continue with --resume or undo with --rollback");
done:
	plan_store_free(store);
	orch_local_release(&local);
	orch_kube_release(&kube);
	kube_client_release(&kc);
	schedule_release(&sched);
	inventory_release(&inv);
	plan_release(&p);
	return status;
}
