/* adpart-update apply: carry out a plan on this host, journaled. */
#include <argp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/kube.h"
#include "orchestrator/drivers.h"
#include "orchestrator/engine.h"
#include "orchestrator/fleet/fleet.h"
#include "orchestrator/fleet/fleetlock.h"
#include "orchestrator/kube/lease.h"
#include "orchestrator/request.h"
#include "orchestrator/notify.h"
#include "partition/inventory.h"
#include "partition/schedule.h"
#include "plans/plan.h"
#include "plans/store.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/error.h"
#include "util/timeutil.h"

struct apply_args {
	const char *inventory, *schedule, *now, *store, *hook;
	int dry_run, json;
	struct orch_opts o;                    /* plan, state dir, record, resume, rollback, policy, monitoring */
	const struct orch_driver_info *driver; /* --driver, borrowed from the registry */
	struct fleet_opts fleet;               /* --semaphore*: a fleet slot held going forward */
	const char *fleet_opt;                 /* the first --semaphore-* option given, for messages */
	int fleet_env;                         /* the URL came from $ADPART_SEMAPHORE */
	int fleet_group_given;                 /* --semaphore-group was given */
	const char *lease_ns;                  /* kubernetes://NAMESPACE: the slots are Leases there */
	int fleetlock;                         /* fleetlock+URL: a FleetLock server counts the slots */
	const char *fleet_count_opt;           /* --semaphore-slots or -ttl, which FleetLock refuses */
	const char *fleet_tls_opt;             /* the first etcd TLS option given, for messages */
	const char *request_socket;            /* --request-socket */
	int no_requests;                       /* --no-requests */
};

enum { OPT_RESUME = 1000, OPT_ROLLBACK, OPT_DRY_RUN, OPT_NOW, OPT_RECORD, OPT_POLICY, OPT_STORE, OPT_MONITOR,
       OPT_DRIVER, OPT_HOOK, OPT_HOST_LOCK, OPT_WAIT, OPT_SEM, OPT_SEM_GROUP, OPT_SEM_SLOTS, OPT_SEM_TTL,
       OPT_SEM_WAIT, OPT_SEM_CACERT, OPT_SEM_CERT, OPT_SEM_KEY, OPT_REQ_SOCKET, OPT_NO_REQUESTS };

/* --wait without a limit: a window planned for tomorrow is the longest
 * wait a timer that runs apply daily can mean. */
#define CMD_WAIT_DEFAULT (24 * 3600)

static const struct argp_option options[] = {
	{ "state-dir", 'd', "DIR", 0, "Journal, lock, pid files and logs (default $ADPART_STATE_DIR, else the config file's state-dir, else " CMD_STATE_DIR ")", 0 },
	{ "record", OPT_RECORD, "FILE", 0, "Write the run record here (default DIR/run.json)", 0 },
	{ "host-lock", OPT_HOST_LOCK, "FILE", 0,
	  "One apply at a time on this host, whatever its state directory (default $ADPART_HOST_LOCK, else the config file's host-lock, else " CMD_HOST_LOCK ")", 0 },
	{ "inventory", 'i', "FILE", 0, "Inventory with run, health and traffic sections (default: the plan's)", 0 },
	{ "schedule", 's', "FILE", 0, "Schedule with the update command (default: the plan's)", 0 },
	{ "resume", OPT_RESUME, NULL, 0, "Continue an interrupted apply from its journal", 0 },
	{ "rollback", OPT_ROLLBACK, NULL, 0, "Reverse the journaled steps back to the pre-apply state", 0 },
	{ "dry-run", OPT_DRY_RUN, "MODE", OPTION_ARG_OPTIONAL,
	  "Check the plan and print the steps without acting; =server (kubernetes) also sends the steps' requests "
	  "with dryRun=All", 0 },
	{ "wait", OPT_WAIT, "LIMIT", OPTION_ARG_OPTIONAL,
	  "Before the plan's start, sleep until it (interruptible, journaled as waiting) instead of refusing, "
	  "if it is at most LIMIT away (default 24h)", 0 },
	{ "on-deviation", OPT_POLICY, "POLICY", 0,
	  "When usage leaves the forecast band: warn (default), grow, borrow or rollback", 0 },
	{ "monitor-interval", OPT_MONITOR, "SECONDS", 0,
	  "Sample the live shadows' cgroups this often during a step (default 5)", 0 },
	{ "request-socket", OPT_REQ_SOCKET, "PATH", 0,
	  "Listen for components' requests (adpart-update request) here while apply runs (default, with the local "
	  "driver: DIR/" ORCH_REQ_SOCKET_NAME ")", 0 },
	{ "no-requests", OPT_NO_REQUESTS, NULL, 0, "Do not listen for requests", 0 },
	{ "now", OPT_NOW, "TIME", 0, "Current time for the expiry check (default: the clock)", 0 },
	{ "store", OPT_STORE, "DIR", 0, "Check lineage and serial in the plan store DIR and record the run there (default: $ADPART_STORE, else the config file's store)", 0 },
	{ "driver", OPT_DRIVER, "NAME", 0,
	  "local (default, unless $ADPART_DRIVER or the config file names another); kubernetes: nodes as partitions "
	  "through the Kubernetes API; exec: every step run by --hook", 0 },
	{ "hook", OPT_HOOK, "PATH", 0, "With --driver exec: the executable run for every check, act, sample and grow (default $ADPART_HOOK, else the config file's hook)", 0 },
	{ "output", 'o', "FORMAT", 0, "human (default) or json: the outcome as one JSON object on stdout", 0 },
	{ 0, 0, NULL, 0, "Fleet slot (a semaphore on etcd, on Kubernetes Leases or from a FleetLock server, shared by "
	  "the hosts of a fleet; --rollback takes none):", 1 },
	{ "semaphore", OPT_SEM, "URL", 0,
	  "Hold one of the group's slots from the plan's start to the end, through etcd at URL (http:// or "
	  "https://; several comma-separated, tried in order), with --driver kubernetes as Leases in a namespace "
	  "(kubernetes://NAMESPACE, on the driver's connection), or from a FleetLock server "
	  "(fleetlock+https://HOST/PATH, Zincati's protocol); default $ADPART_SEMAPHORE, else the config file's "
	  "semaphore", 1 },
	{ "semaphore-group", OPT_SEM_GROUP, "NAME", 0, "The slots' group (default: the plan's schedule name)", 1 },
	{ "semaphore-slots", OPT_SEM_SLOTS, "N", 0,
	  "How many hosts of the group may apply at once, 1 to 1000 (default 1; the same on every host)", 1 },
	{ "semaphore-ttl", OPT_SEM_TTL, "DURATION", 0,
	  "The slot's lease: a crashed holder's slot frees after this, 5s to 10m (default 30s)", 1 },
	{ "semaphore-wait", OPT_SEM_WAIT, "DURATION", 0,
	  "Wait at most this long for a free slot (default: as long as a later start still fits the plan; 0: "
	  "do not wait)", 1 },
	{ "semaphore-cacert", OPT_SEM_CACERT, "FILE", 0, "A CA for etcd's certificate, beside the system's (not with kubernetes://)", 1 },
	{ "semaphore-cert", OPT_SEM_CERT, "FILE", 0, "A client certificate for etcd (with --semaphore-key)", 1 },
	{ "semaphore-key", OPT_SEM_KEY, "FILE", 0, "The client certificate's key", 1 },
	{ 0 },
};

/* A --semaphore-* option: remembered, so that one without a URL is named. */
static const char *fleet_opt(struct apply_args *a, const char *name, const char *arg)
{
	if (!a->fleet_opt)
		a->fleet_opt = name;
	return arg;
}

/* The fleet options after the command line: the URL from the
 * environment when not given, and what goes together. */
static void fleet_args_end(struct argp_state *state, struct apply_args *a)
{
	/* $ADPART_SEMAPHORE or the config file's, checked as they were read. */
	const char *url = cmd_setting(CMD_KEY_SEMAPHORE);

	if (!a->fleet.endpoints && url) {
		a->fleet.endpoints = url;
		a->fleet_env = 1;
		cmd_semaphore_check(url, &a->lease_ns); /* checked when read: for the namespace */
		a->fleetlock = fleetlock_url_is(url);
	}
	if (a->fleet_opt && !a->fleet.endpoints)
		argp_error(state, "%s is for a fleet slot: it needs --semaphore URL (or $ADPART_SEMAPHORE)", a->fleet_opt);
	if ((a->fleet.cert_file != NULL) != (a->fleet.key_file != NULL))
		argp_error(state, "--semaphore-cert and --semaphore-key go together");
	if (a->fleet.group && fleet_group_check(a->fleet.group))
		argp_error(state, "--semaphore-group: %s", adp_error_last());
	if (a->fleetlock) {
		/* The server counts the slots, and its locks do not expire. */
		if (a->fleet_count_opt)
			argp_error(state, "%s is not for a FleetLock server, which counts the slots itself and whose locks "
				   "have no TTL", a->fleet_count_opt);
		if (a->fleet.group && fleetlock_group_check(a->fleet.group))
			argp_error(state, "--semaphore-group: %s", adp_error_last());
		return;
	}
	if (!a->lease_ns)
		return;
	/* Leases are the kubernetes driver's: its connection, not etcd's TLS. */
	if (strcmp(a->driver->name, "kubernetes"))
		argp_error(state, "--semaphore %s holds the slots as Kubernetes Leases: it is for --driver kubernetes, "
			   "which has the API server's connection (the %s driver has none; give an etcd URL instead)",
			   a->fleet.endpoints, a->driver->name);
	if (a->fleet_tls_opt)
		argp_error(state, "%s is for etcd: a kubernetes:// semaphore uses the driver's connection (--kubeconfig)",
			   a->fleet_tls_opt);
	if (a->fleet.group && kube_lease_group_check(a->fleet.group, a->fleet.slots))
		argp_error(state, "--semaphore-group: %s", adp_error_last());
}

/* An etcd TLS option: remembered, as kubernetes:// refuses them. */
static const char *fleet_tls_opt(struct apply_args *a, const char *name, const char *arg)
{
	if (!a->fleet_tls_opt)
		a->fleet_tls_opt = name;
	return fleet_opt(a, name, arg);
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
	struct apply_args *a = state->input;

	switch (key) {
	case 'd': a->o.state_dir = arg; break;
	case OPT_RECORD: a->o.record_path = arg; break;
	case OPT_HOST_LOCK: a->o.host_lock = arg; break;
	case 'i': a->inventory = arg; break;
	case 's': a->schedule = arg; break;
	case OPT_RESUME: a->o.resume = 1; break;
	case OPT_ROLLBACK: a->o.rollback = 1; break;
	case OPT_DRY_RUN: a->dry_run = cmd_argp_dry_run(state, arg); break;
	case OPT_NOW: a->now = arg; break;
	case OPT_WAIT:
		a->o.wait_max = CMD_WAIT_DEFAULT;
		if (arg && (adp_duration_parse(&a->o.wait_max, arg) || a->o.wait_max <= 0))
			argp_error(state, "--wait=%s: expected a duration such as 30m or 24h", arg);
		break;
	case OPT_STORE: a->store = arg; break;
	case OPT_MONITOR: {
		char *end = NULL;
		a->o.monitor_interval = strtod(arg, &end);
		if (!end || *end || !(a->o.monitor_interval >= 0.1 && a->o.monitor_interval <= 3600))
			argp_error(state, "--monitor-interval '%s': expected seconds from 0.1 to 3600", arg);
		break;
	}
	case OPT_DRIVER: a->driver = cmd_argp_driver(state, arg); break;
	case OPT_REQ_SOCKET: a->request_socket = arg; break;
	case OPT_NO_REQUESTS: a->no_requests = 1; break;
	case OPT_HOOK: a->hook = arg; break;
	case OPT_SEM:
		if (cmd_semaphore_check(arg, &a->lease_ns))
			argp_error(state, "--semaphore: %s", adp_error_last());
		a->fleet.endpoints = arg;
		a->fleetlock = fleetlock_url_is(arg);
		break;
	case OPT_SEM_GROUP:
		a->fleet.group = fleet_opt(a, "--semaphore-group", arg);
		a->fleet_group_given = 1;
		break;
	case OPT_SEM_SLOTS: {
		char *end = NULL;

		fleet_opt(a, "--semaphore-slots", arg);
		a->fleet_count_opt = "--semaphore-slots";
		a->fleet.slots = strtol(arg, &end, 10);
		if (!*arg || !end || *end || a->fleet.slots < 1 || a->fleet.slots > FLEET_MAX_SLOTS)
			argp_error(state, "--semaphore-slots '%s': expected a whole number from 1 to %d", arg,
				   FLEET_MAX_SLOTS);
		break;
	}
	case OPT_SEM_TTL: {
		int64_t t = 0;

		fleet_opt(a, "--semaphore-ttl", arg);
		a->fleet_count_opt = "--semaphore-ttl";
		if (adp_duration_parse(&t, arg) || t < FLEET_TTL_MIN || t > FLEET_TTL_MAX)
			argp_error(state, "--semaphore-ttl '%s': expected a duration from 5s to 10m", arg);
		a->fleet.ttl = (long)t;
		break;
	}
	case OPT_SEM_WAIT:
		fleet_opt(a, "--semaphore-wait", arg);
		if (adp_duration_parse(&a->fleet.wait_max, arg) || a->fleet.wait_max < 0)
			argp_error(state, "--semaphore-wait '%s': expected a duration such as 0, 90s or 10m", arg);
		break;
	case OPT_SEM_CACERT: a->fleet.ca_file = fleet_tls_opt(a, "--semaphore-cacert", arg); break;
	case OPT_SEM_CERT: a->fleet.cert_file = fleet_tls_opt(a, "--semaphore-cert", arg); break;
	case OPT_SEM_KEY: a->fleet.key_file = fleet_tls_opt(a, "--semaphore-key", arg); break;
	case ARGP_KEY_INIT: a->fleet.wait_max = FLEET_WAIT_PLAN; break;
	case 'o': a->json = cmd_argp_output(state, arg); break;
	case OPT_POLICY:
		if (!strcmp(arg, "warn"))
			a->o.policy = ORCH_POLICY_WARN;
		else if (!strcmp(arg, "grow"))
			a->o.policy = ORCH_POLICY_GROW;
		else if (!strcmp(arg, "rollback"))
			a->o.policy = ORCH_POLICY_ROLLBACK;
		else if (!strcmp(arg, "borrow"))
			a->o.policy = ORCH_POLICY_BORROW;
		else
			argp_error(state, "unknown policy '%s': expected warn, grow, borrow or rollback", arg);
		break;
	case ARGP_KEY_ARG: cmd_argp_plan(state, &a->o.plan_path, arg); break;
	case ARGP_KEY_END:
		if (!a->o.plan_path)
			argp_error(state, "name the plan file to apply");
		if (a->o.resume + a->o.rollback + !!a->dry_run > 1)
			argp_error(state, "--resume, --rollback and --dry-run exclude each other");
		if (a->o.wait_max && (a->o.rollback || a->dry_run))
			argp_error(state, "--wait is for an apply going forward, not --rollback or --dry-run");
		if (!a->driver) /* the setting's name was checked as it was read */
			a->driver = cmd_setting(CMD_KEY_DRIVER) ? orch_driver_find(cmd_setting(CMD_KEY_DRIVER))
								 : &orch_drivers[0];
		if (!a->o.state_dir)
			a->o.state_dir = cmd_setting(CMD_KEY_STATE_DIR);
		if (a->request_socket && a->no_requests)
			argp_error(state, "--request-socket and --no-requests exclude each other");
		if (a->dry_run == CMD_DRY_RUN_SERVER && !a->driver->dry_run)
			argp_error(state, "--dry-run=server is for --driver kubernetes: the %s driver has no API server to ask",
				   a->driver->name);
		/* The one option of one driver, checked here rather than in a
		 * ladder: the hook is what the exec driver runs. */
		if (a->hook && strcmp(a->driver->name, "exec"))
			argp_error(state, "--hook is for --driver exec");
		if (!a->hook && !strcmp(a->driver->name, "exec"))
			a->hook = cmd_setting(CMD_KEY_HOOK);
		if (!a->hook && !strcmp(a->driver->name, "exec"))
			argp_error(state, "--driver exec needs --hook PATH: the program to run for each step");
		fleet_args_end(state, a);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp cmd_apply_argp = {
	options, parse, "PLAN",
	"Carry out a plan with a driver: by default on this host (partitions as cgroups, components "
	"as processes, traffic through HAProxy), else through Kubernetes or a hook program. Every "
	"step is journaled before and after it acts; a failed step rolls the completed ones back.\v"
	"Exit status: 0 applied, 1 error, 4 rolled back, 5 failed (rollback incomplete), "
	"6 refused (nothing changed; no fleet slot), 7 stopped by a signal or a lost fleet slot (resume with --resume), "
	"8 the state directory's disk failed (the message says what state that left), "
	"9 blocked by a gate (before the first step: nothing changed).",
	cmd_kube_apply_children, NULL, NULL,
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* Commits the run record on top of the plan in the store. */
static int record_run(struct plan_store *store, const struct plan *p, const struct orch_opts *o, int outcome)
{
	static const char *const names[] = { "success", "rolled_back", "failed", "refused", "stopped",
					     "journal_lost", "blocked" };
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

/* --dry-run: what would run, after the checks that need no driver. A
 * dry run ahead of the start is the point of one: it says when apply
 * may start rather than refusing. */
static int dry_run(const struct plan *p, int64_t now, int json)
{
	int64_t wait;
	size_t i;

	if (orch_preflight(p, now) || (orch_start_check(p, now, &wait) && !wait)) {
		cmd_error_last("refused");
		return EXIT_REFUSED;
	}
	if (json)
		return EXIT_OK;
	if (wait) {
		char at[64], in[32];

		adp_time_format_msg(at, orch_plan_start(p), p->timezone);
		adp_duration_format(in, wait);
		printf("plan '%s' starts at %s, in %s: apply refuses before then (--wait sleeps until it)\n",
		       p->schedule_name, at, in);
	}
	printf("plan '%s': %zu steps would run (%zu rollback steps prepared)\n", p->schedule_name, p->nsteps,
	       p->nrollback);
	for (i = 0; i < p->nsteps; i++) {
		const struct plan_step *s = &p->steps[i];
		printf("%4zu  wave %zu  %-22s %-12s %s%s%s\n", s->id, s->wave, s->action, s->partition ? s->partition : "-",
		       s->component ? s->component : "", s->target ? "  with " : "", s->target ? s->target : "");
	}
	return EXIT_OK;
}

/* Terraform's rule: refuse a plan from another lineage, or one no newer
 * than the last applied, before anything is touched. *store (owned) is
 * opened when the run is to be recorded. Reports its own error. */
static int check_store(struct plan_store **store, const struct apply_args *a, const struct plan *p)
{
	if (!a->store || a->dry_run)
		return 0;
	if (!p->lineage[0]) {
		cmd_error("refused: plan '%s' was not recorded in a plan store: plan again with --store '%s'",
			  a->o.plan_path, a->store);
		return ADP_EINPUT;
	}
	if (plan_store_open(store, a->store, 0) ||
	    (!a->o.rollback && !a->o.resume && plan_store_check_apply(*store, p->schedule_name, p->lineage, p->serial))) {
		cmd_error_last("refused");
		return ADP_EINPUT;
	}
	return 0;
}

/* The inventory (checked by every driver) and the schedule if any; sched
 * is set to NULL without one. Reports its own error. */
static int load_inputs(struct inventory *inv, struct schedule **sched, const char *ip, const char *sp)
{
	if (!ip) {
		cmd_error("the plan names no inventory: use --inventory");
		return ADP_EINPUT;
	}
	if (cmd_inventory_load(inv, ip) || (sp && schedule_load_mode(*sched, sp, inv, SCHEDULE_ACT))) {
		cmd_error_last("refused");
		return ADP_EINPUT;
	}
	if (!sp)
		*sched = NULL;
	return 0;
}

/* Whether the state directory holds a journal (a blocked apply left one
 * when it had begun, or was waiting for the start). */
static int journaled(const struct orch_opts *o)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/journal.json", o->state_dir);
	return access(path, F_OK) == 0;
}

/* The fleet semaphore of --semaphore, for an apply going forward (a
 * rollback takes no slot): its group by default the plan's schedule's
 * name, its holder this host, state directory and plan; on etcd, or as
 * Leases on the kubernetes driver's connection (its state). *sem or
 * *leases is owned. Reports its own error; returns the exit status,
 * EXIT_OK to go on. */
static int fleet_new(struct fleet_semaphore **sem, struct kube_lease_sem **leases, struct fleetlock **lock,
		     struct apply_args *a, const struct plan *p, void *state)
{
	char dir[4096], plan[160];
	int rc;

	*sem = NULL;
	*leases = NULL;
	*lock = NULL;
	if (!a->fleet.endpoints || a->o.rollback)
		return EXIT_OK;
	if (!a->fleet.group) {
		a->fleet.group = p->schedule_name;
		if (fleet_group_check(a->fleet.group) ||
		    (a->lease_ns && kube_lease_group_check(a->fleet.group, a->fleet.slots)) ||
		    (a->fleetlock && fleetlock_group_check(a->fleet.group))) {
			cmd_error("the plan's schedule name cannot name its fleet slot group (%s): use --semaphore-group NAME",
				  adp_error_last());
			return EXIT_USAGE;
		}
	}
	/* The holder's state directory as another host's operator can find it. */
	if (!realpath(a->o.state_dir, dir))
		snprintf(dir, sizeof(dir), "%s", a->o.state_dir);
	snprintf(plan, sizeof(plan), "%.100s %.12s", p->schedule_name, p->digest);
	if (a->lease_ns) {
		struct kube_lease_opts lo = { a->lease_ns, a->fleet.group, a->fleet.slots, a->fleet.ttl,
					      a->fleet.wait_max, NULL, dir, plan };

		rc = kube_lease_sem_new(leases, orch_driver_kube_config(a->driver, state), &lo);
		if (!rc)
			a->o.slot = kube_lease_sem_slot(*leases);
	} else if (a->fleetlock) {
		struct fleetlock_opts fo = { a->fleet.endpoints, a->fleet.group, a->fleet.wait_max, a->fleet.ca_file,
					     a->fleet.cert_file, a->fleet.key_file, NULL, dir };

		rc = fleetlock_new(lock, &fo);
		if (!rc)
			a->o.slot = fleetlock_slot(*lock);
	} else {
		a->fleet.state_dir = dir;
		a->fleet.plan = plan;
		rc = fleet_semaphore_new(sem, &a->fleet);
		a->fleet.state_dir = a->fleet.plan = NULL; /* copied, or no longer needed */
		if (!rc)
			a->o.slot = fleet_semaphore_slot(*sem);
	}
	if (rc) {
		cmd_error_last(NULL);
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

/* What the step hook shows: -v a line per step start and end; on a
 * terminal otherwise one status line, rewritten as each step starts. */
struct step_view {
	const struct plan *p;
	int lines;      /* -v */
	int64_t now;    /* apply's clock at mono0 (--now or the real one) */
	struct timespec mono0;
};

/* The status line: the wave and step, what it does, and how long until
 * the last wave's planned end (or how far past it). */
static void show_step(const struct step_view *v, const struct plan_step *s, int undo)
{
	const struct plan *p = v->p;
	struct timespec ts;
	int64_t now, end = p->nwaves ? p->waves[p->nwaves - 1].end : p->cutoff_at;
	char left[32];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = v->now + (int64_t)(ts.tv_sec - v->mono0.tv_sec);
	adp_duration_format(left, end > now ? end - now : now - end);
	cmd_status("%s %zu of %zu (wave %zu of %zu): %s%s%s%s%s; the waves end %s %s%s", undo ? "undo of step" : "step",
		   s->id, p->nsteps, s->wave, p->nwaves, s->action, s->partition ? " " : "",
		   s->partition ? s->partition : "", s->component ? " " : "", s->component ? s->component : "",
		   end > now ? "in" : "late by", left, end > now ? "" : " on the plan");
}

/* -v: each step as it starts (journaled) and as it ends (ctx the view). */
static void say_step(void *ctx, const struct plan_step *s, int undo, const char *status, double seconds,
		     const char *msg)
{
	const struct step_view *v = ctx;
	const struct plan *p = v->p;
	const char *what = undo ? "undo of step" : "step";

	if (!v->lines) {
		if (!strcmp(status, "started"))
			show_step(v, s, undo);
		return;
	}
	if (!strcmp(status, "started"))
		cmd_verbose("%s %zu of %zu (wave %zu): %s%s%s%s%s%s%s", what, s->id, p->nsteps, s->wave, s->action,
			    s->partition ? " " : "", s->partition ? s->partition : "", s->component ? " " : "",
			    s->component ? s->component : "", s->target ? " with " : "", s->target ? s->target : "");
	else
		cmd_verbose("%s %zu of %zu: %s in %.2f s%s%s", what, s->id, p->nsteps, status, seconds, *msg ? ": " : "",
			    msg);
}

/* Says how the run ended; the status from the outcome. */
static void report(const struct plan *p, const struct orch_opts *o, int outcome, int json)
{
	size_t skipped = o->skipped ? *o->skipped : 0;
	char skipped_note[96];

	snprintf(skipped_note, sizeof(skipped_note), ", %zu skipped (no partition of their wave needed the update)",
		 skipped);
	if (outcome == ORCH_DONE) {
		size_t given_up = o->given_up ? *o->given_up : 0, undone = o->given_up_steps ? *o->given_up_steps : 0;

		if (!json)
			printf("applied: %zu steps done%s\n", p->nsteps - skipped - undone, skipped ? skipped_note : "");
		if (given_up)
			cmd_warn("%zu wave%s given up and undone (see \"given_up\" in the run record): %s partitions were "
				 "not updated; plan again for them", given_up, given_up == 1 ? " was" : "s were",
				 given_up == 1 ? "its" : "their");
		if (o->why && *o->why)
			cmd_warn("%s", o->why);
	}
	else if (outcome == ORCH_ROLLED_BACK && o->why && *o->why)
		cmd_error("%s", o->why);
	else if (outcome == ORCH_ROLLED_BACK)
		cmd_error("a step failed; completed steps were rolled back (see the run record)");
	else if (outcome == ORCH_FAILED)
		cmd_error("%s%sa step failed and the rollback did not complete (see the journal in '%s'): once the fault is fixed, --rollback retries the failed undo steps",
			  o->why ? o->why : "", o->why && *o->why ? "; then " : "", o->state_dir);
	else if (outcome == ORCH_JOURNAL_LOST)
		cmd_error_last(NULL);
	else if (outcome == ORCH_BLOCKED && journaled(o))
		cmd_error("%s: stopped at the wave's boundary; --resume continues once it clears, --rollback undoes",
			  o->why);
	else if (outcome == ORCH_BLOCKED)
		cmd_error("%s: nothing was changed; apply again once it clears", o->why);
	else if (outcome == ORCH_STOPPED && o->why && *o->why)
		cmd_error("%s", o->why);
	else if (outcome == ORCH_STOPPED)
		cmd_error("stopped at a step boundary: continue with --resume or undo with --rollback");
}

/* The command that continues from this exit status, with the same
 * state directory and plan; "" when none does. */
static void next_command(char *buf, size_t len, const struct apply_args *a, int status)
{
	const char *opt = status == EXIT_OK && a->dry_run ? ""
			  : status == EXIT_APPLY_FAILED ? " --rollback"
			  : status == EXIT_STOPPED ? " --resume"
			  : status == EXIT_BLOCKED ? (journaled(&a->o) ? " --resume" : "")
			  : NULL;
	char drv[64] = "", dir[4100] = "", sem[4800] = "";

	buf[0] = '\0';
	if (!opt || !a->o.plan_path)
		return;
	if (strcmp(a->driver->name, "local"))
		snprintf(drv, sizeof(drv), " --driver %s", a->driver->name);
	if (!a->dry_run) /* a dry run never named a state directory */
		snprintf(dir, sizeof(dir), " -d %s", a->o.state_dir ? a->o.state_dir : CMD_STATE_DIR);
	/* A --resume goes on holding a slot of the same group, as this run did. */
	if (a->fleet.endpoints && !a->fleet_env && status == EXIT_STOPPED) {
		char slots[48] = "", ttl[48] = "", tls[3200] = "";

		if (a->fleet.slots > 1)
			snprintf(slots, sizeof(slots), " --semaphore-slots %ld", a->fleet.slots);
		if (a->fleet.ttl)
			snprintf(ttl, sizeof(ttl), " --semaphore-ttl %lds", a->fleet.ttl);
		/* the TLS files too: without them the resume could not reach etcd */
		snprintf(tls, sizeof(tls), "%s%.1000s%s%.1000s%s%.1000s", a->fleet.ca_file ? " --semaphore-cacert " : "",
			 a->fleet.ca_file ? a->fleet.ca_file : "", a->fleet.cert_file ? " --semaphore-cert " : "",
			 a->fleet.cert_file ? a->fleet.cert_file : "", a->fleet.key_file ? " --semaphore-key " : "",
			 a->fleet.key_file ? a->fleet.key_file : "");
		snprintf(sem, sizeof(sem), " --semaphore %.1000s%s%.200s%s%s%s", a->fleet.endpoints,
			 a->fleet_group_given ? " --semaphore-group " : "", a->fleet_group_given ? a->fleet.group : "",
			 slots, ttl, tls);
	}
	snprintf(buf, len, "adpart-update apply%s%s%s%s %s", opt, drv, dir, sem, a->o.plan_path);
}

/* Sends the outcome to the webhooks and gives them a bounded time to
 * take what is queued; a delivery that failed is a warning, never a
 * failed apply. */
static void notify_outcome(struct orch_notifier *n, const char *name, int status, const char *next)
{
	char why[2048];

	if (!n)
		return;
	{
		json_t *d = json_pack("{s:s, s:i, s:s?, s:s?}", "outcome", name, "exit_status", status, "message",
				      *cmd_last_message() ? cmd_last_message() : NULL, "next", *next ? next : NULL);

		orch_notify(n, SCHEDULE_EV_OUTCOME, d);
		json_decref(d);
	}
	orch_notifier_free(n, ORCH_NOTIFY_FLUSH, why, sizeof(why));
	if (*why)
		cmd_note("warning: %s", why); /* not the run's message */
}

/* The end of every run past the command line: the "next:" hint, or with
 * --output json the outcome as one object on stdout; the outcome to the
 * webhooks. Returns status. */
static int finish(const struct apply_args *a, const struct plan *p, int status, int outcome,
		  struct orch_notifier *n)
{
	const char *name = status == EXIT_ERROR ? "error" : status == EXIT_REFUSED ? "refused"
			   : a->dry_run && status == EXIT_OK ? "checked" : orch_outcome_name(outcome);
	char next[16384];
	struct adp_jb b = { 0 };
	json_t *doc;

	next_command(next, sizeof(next), a, status);
	notify_outcome(n, a->dry_run ? "checked" : name, status, next);
	if (!a->json) {
		if (*next && cmd_verbosity > CMD_QUIET)
			printf("next: %s\n", next);
		return status;
	}
	doc = json_object();
	adp_jset(&b, doc, "outcome", json_string(name));
	adp_jset(&b, doc, "exit_status", json_integer(status));
	adp_jset(&b, doc, "plan", a->o.plan_path ? json_string(a->o.plan_path) : json_null());
	adp_jset(&b, doc, "steps", json_integer((json_int_t)p->nsteps));
	adp_jset(&b, doc, "waves_given_up", json_integer((json_int_t)(a->o.given_up ? *a->o.given_up : 0)));
	if (!a->dry_run && a->o.state_dir) {
		char rec[4200];

		snprintf(rec, sizeof(rec), "%s/run.json", a->o.state_dir);
		adp_jset(&b, doc, "state_dir", json_string(a->o.state_dir));
		adp_jset(&b, doc, "run_record", json_string(a->o.record_path ? a->o.record_path : rec));
	}
	adp_jset(&b, doc, "message", *cmd_last_message() ? json_string(cmd_last_message()) : json_null());
	adp_jset(&b, doc, "next", *next ? json_string(next) : json_null());
	if (cmd_print_json(stdout, doc, JSON_INDENT(2), &b) && status == EXIT_OK)
		status = EXIT_ERROR;
	json_decref(doc);
	return status;
}

int cmd_apply(int argc, char **argv)
{
	struct apply_args a = { 0 };
	struct plan p = { 0 };
	struct inventory inv = { 0 };
	struct schedule sched_store = { 0 }, *sched = &sched_store;
	struct orch_driver drv = { 0 };
	struct orch_driver_opts *dopts;
	struct sigaction sa = { 0 };
	const char *crash;
	int parsed, rc, outcome = ORCH_REFUSED, status = EXIT_REFUSED;
	int64_t now = (int64_t)time(NULL);
	struct plan_store *store = NULL;
	struct fleet_semaphore *sem = NULL;
	struct kube_lease_sem *leases = NULL;
	struct fleetlock *lock = NULL;
	void *state = NULL;
	char why[1024] = "", req_path[4200];
	size_t skipped = 0, given_up = 0, given_up_steps = 0;
	struct orch_notifier *notifier = NULL;
	struct step_view view = { 0 };

	if ((parsed = cmd_parse(&cmd_apply_argp, argc, argv, 0, &a)))
		return parsed;
	if (a.now && adp_time_parse(&now, a.now, NULL)) {
		cmd_error("--now '%s' is not a time: expected RFC 3339 such as 2018-05-06T00:00:00Z", a.now);
		return EXIT_USAGE;
	}
	if (plan_read(&p, a.o.plan_path)) {
		cmd_error_last(NULL);
		return EXIT_REFUSED;
	}
	if (!a.store)
		a.store = cmd_setting(CMD_KEY_STORE);
	if (check_store(&store, &a, &p))
		goto done;
	if (a.dry_run == CMD_DRY_RUN_SERVER) {
		status = cmd_apply_dry_run_server(a.driver, &p, now, a.inventory ? a.inventory : cmd_plan_input(&p, "inventory"),
						  a.schedule ? a.schedule : cmd_plan_input(&p, "schedule"), a.json);
		goto done;
	}
	if (a.dry_run) {
		status = dry_run(&p, now, a.json);
		goto done;
	}
	if (load_inputs(&inv, &sched, a.inventory ? a.inventory : cmd_plan_input(&p, "inventory"),
			a.schedule ? a.schedule : cmd_plan_input(&p, "schedule")))
		goto done;
	if (!a.o.state_dir)
		a.o.state_dir = CMD_STATE_DIR;
	if (!a.o.host_lock && !(a.o.host_lock = cmd_setting(CMD_KEY_HOST_LOCK)))
		a.o.host_lock = cmd_default_host_lock();
	if (sched && orch_notifier_new(&notifier, &sched->notify, p.schedule_name, p.digest)) {
		cmd_error_last("refused");
		goto done;
	}
	dopts = cmd_kube_driver_opts();
	dopts->hook = a.hook;
	if (orch_driver_new(&state, &drv, a.driver, &inv, sched, a.o.state_dir, dopts)) {
		cmd_error_last(NULL);
		status = EXIT_ERROR;
		goto done;
	}
	if ((status = fleet_new(&sem, &leases, &lock, &a, &p, state)) != EXIT_OK)
		goto done;
	if (a.request_socket && !drv.owns) {
		cmd_error("--request-socket: the %s driver cannot tell a component's processes, so it takes no requests",
			  a.driver->name);
		status = EXIT_USAGE;
		goto done;
	}
	if (!a.no_requests && drv.owns && !a.request_socket) {
		if (adp_snprintf_path(req_path, sizeof(req_path), "%s/%s", a.o.state_dir, ORCH_REQ_SOCKET_NAME)) {
			cmd_error_last(NULL);
			status = EXIT_ERROR;
			goto done;
		}
		a.request_socket = req_path;
	}
	a.o.request_socket = a.no_requests ? NULL : a.request_socket;
	status = EXIT_REFUSED;
	a.o.now = now;
	a.o.gates = sched ? &sched->gates : NULL;
	a.o.skipped = &skipped;
	a.o.given_up = &given_up;
	a.o.given_up_steps = &given_up_steps;
	a.o.notify = notifier ? orch_notify_hook : NULL;
	a.o.notify_ctx = notifier;
	a.o.stop = &stop_flag;
	view.p = &p;
	view.lines = cmd_verbosity >= CMD_VERBOSE;
	view.now = now;
	clock_gettime(CLOCK_MONOTONIC, &view.mono0);
	if (view.lines || (cmd_verbosity > CMD_QUIET && isatty(STDERR_FILENO))) {
		a.o.step = say_step;
		a.o.step_ctx = &view;
	}
	a.o.why = why;
	a.o.why_len = sizeof(why);
	if ((crash = getenv("ADPART_TEST_CRASH_AFTER_STEP")))
		a.o.crash_after = strtol(crash, NULL, 10);
	if ((crash = getenv("ADPART_TEST_CRASH_BEFORE_DONE")))
		a.o.crash_before_done = strtol(crash, NULL, 10);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = orch_apply(&a.o, &drv, &outcome);
	cmd_status_clear();
	if (rc) {
		cmd_error_last(rc == ADP_EINPUT ? "refused" : NULL);
		status = rc == ADP_EINPUT ? EXIT_REFUSED : EXIT_ERROR;
		goto done;
	}
	status = cmd_outcome_status(outcome);
	/* A gate that blocked before anything was journaled left no run record. */
	if (store && outcome != ORCH_JOURNAL_LOST && (outcome != ORCH_BLOCKED || journaled(&a.o)) &&
	    (rc = record_run(store, &p, &a.o, outcome))) {
		cmd_error_last("cannot record the run in the plan store");
		if (status == EXIT_OK)
			status = EXIT_ERROR;
	}
	report(&p, &a.o, outcome, a.json);
done:
	status = finish(&a, &p, status, outcome, notifier);
	fleet_semaphore_free(sem);
	kube_lease_sem_free(leases);
	fleetlock_free(lock);
	plan_store_free(store);
	orch_driver_free(a.driver, state);
	schedule_release(&sched_store);
	inventory_release(&inv);
	plan_release(&p);
	return status;
}
