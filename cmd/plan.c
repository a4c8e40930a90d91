/* adpart-update plan: forecast, partition, prove, write the plan. */
#include <argp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cmd/cmd.h"
#include "cmd/kube.h"
#include "partition/exact_plan.h"
#include "orchestrator/kube/discover.h"
#include "orchestrator/notify.h"
#include "plans/accuracy.h"
#include "partition/planner.h"
#include "plans/store.h"
#include "util/error.h"
#include "util/timeutil.h"

#define MAX_HISTORY_ARGS 256

struct plan_args {
	const char *inventory, *schedule, *plan_file, *model;
	const char *history[MAX_HISTORY_ARGS];
	size_t nhistory;
	int json;
	int64_t now, occurrence;
	int have_now;
	int write;
	int accept_risk;
	int preallocate;  /* --preallocate: each wave's shadows made in the wave before */
	int no_feedback;  /* --no-feedback: past windows do not adjust the bands */
	int detail;       /* --detail: every move and partition row */
	int kube;         /* --driver kubernetes: discover the inventory */
	const char *driver; /* --driver NAME (the registry's); only kubernetes changes what plan does */
	const char *store;
	struct history_prom_opts prom;
	double exact;
	enum plan_compress compress; /* --compress */
};

enum { OPT_NOW = 256, OPT_MODEL, OPT_NO_WRITE, OPT_STORE, OPT_PROM, OPT_PROM_QUERY, OPT_PROM_LABEL,
       OPT_PROM_RANGE, OPT_PROM_STEP, OPT_PROM_TOKEN, OPT_PROM_USER, OPT_PROM_PASSWORD,
       OPT_PROM_CA, OPT_DRIVER, OPT_EXACT, OPT_ACCEPT_RISK, OPT_DETAIL, OPT_OCCURRENCE, OPT_NO_FEEDBACK,
       OPT_COMPRESS, OPT_PREALLOCATE };

static const struct argp_option options[] = {
	{ "inventory", 'i', "FILE", 0, "Inventory of partitions and components (JSON)", 0 },
	{ "schedule", 's', "FILE", 0, "Update schedule (JSON)", 0 },
	{ "history", 'H', "FILE", 0, "Extra history, long-format CSV or JSON (repeatable)", 0 },
	{ "plan-file", 'f', "FILE", 0, "Where to write the plan (default: adpart-plan.json)", 0 },
	{ "no-write", OPT_NO_WRITE, NULL, 0, "Show the plan without writing it", 0 },
	{ "compress", OPT_COMPRESS, "WHEN", 0,
	  "Write the plan gzip-compressed: auto (default: above 16 MiB of JSON), always or never; every command reads either", 0 },
	{ "detail", OPT_DETAIL, NULL, 0, "Show every move and partition row; a wave with more than 12 shows the first moves and the riskiest rows", 0 },
	{ "accept-risk", OPT_ACCEPT_RISK, NULL, 0,
	  "Write a plan whose predicted P(overload) exceeds epsilon somewhere (recorded in the plan)", 0 },
	{ "preallocate", OPT_PREALLOCATE, NULL, 0,
	  "Make each wave's shadows ahead, small, in the wave before; their wave only resizes them", 0 },
	{ "output", 'o', "FORMAT", 0, "human (default) or json", 0 },
	{ "now", OPT_NOW, "TIME", 0, "Plan as if it were TIME (RFC 3339): history from then on is ignored", 0 },
	{ "no-feedback", OPT_NO_FEEDBACK, NULL, 0,
	  "Plan without the feedback of past windows recorded in the store (bands as forecast)", 0 },
	{ "occurrence", OPT_OCCURRENCE, "TIME", 0,
	  "A recurring window: plan its first occurrence starting at or after TIME (default: the next after --now)", 0 },
	{ "model", OPT_MODEL, "NAME", 0, "Forecast model (default: auto; see the forecast command)", 0 },
	{ "store", OPT_STORE, "DIR", 0, "Also record the plan in the git plan store DIR (created if absent; default: $ADPART_STORE, else the config file's store)", 0 },
	{ "exact", OPT_EXACT, "SECONDS", OPTION_ARG_OPTIONAL,
	  "Also solve each wave as a MILP (GLPK) for at most SECONDS (default 10), keep the better placement and report the optimality gap", 0 },
	{ "prometheus", OPT_PROM, "URL", 0, "Read history from this Prometheus server", 0 },
	{ "prom-query", OPT_PROM_QUERY, "RES=PROMQL", 0, "PromQL for a resource (cpu, memory, io, net); repeatable", 0 },
	{ "prom-label", OPT_PROM_LABEL, "NAME", 0, "Label naming the component (default: component)", 0 },
	{ "prom-range", OPT_PROM_RANGE, "DURATION", 0, "History to read before --now (default 35d)", 0 },
	{ "prom-step", OPT_PROM_STEP, "DURATION", 0, "Query step (default: the schedule's step)", 0 },
	{ "prom-token-file", OPT_PROM_TOKEN, "FILE", 0, "Bearer token for Prometheus, read from FILE", 0 },
	{ "prom-user", OPT_PROM_USER, "NAME", 0, "Basic-auth user for Prometheus (with --prom-password-file)", 0 },
	{ "prom-password-file", OPT_PROM_PASSWORD, "FILE", 0, "Basic-auth password, read from FILE", 0 },
	{ "prom-ca-file", OPT_PROM_CA, "FILE", 0, "Extra CA bundle to verify Prometheus's TLS certificate", 0 },
	{ "driver", OPT_DRIVER, "NAME", 0,
	  "local, exec or kubernetes (default: $ADPART_DRIVER, else the config file's driver, else local); kubernetes discovers the inventory from the cluster and writes it to --inventory", 0 },
	{ 0 },
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	struct plan_args *a = state->input;

	switch (key) {
	case 'i': a->inventory = arg; break;
	case 's': a->schedule = arg; break;
	case 'f': a->plan_file = arg; break;
	case OPT_NO_WRITE: a->write = 0; break;
	case OPT_COMPRESS:
		if (!strcmp(arg, "auto"))
			a->compress = PLAN_COMPRESS_AUTO;
		else if (!strcmp(arg, "always"))
			a->compress = PLAN_COMPRESS_ALWAYS;
		else if (!strcmp(arg, "never"))
			a->compress = PLAN_COMPRESS_NEVER;
		else
			argp_error(state, "--compress expects auto, always or never, not '%s'", arg);
		break;
	case OPT_DETAIL: a->detail = 1; break;
	case OPT_ACCEPT_RISK: a->accept_risk = 1; break;
	case OPT_PREALLOCATE: a->preallocate = 1; break;
	case OPT_MODEL: a->model = arg; break;
	case OPT_STORE: a->store = arg; break;
	case 'H': cmd_argp_push(state, "--history files", a->history, &a->nhistory, MAX_HISTORY_ARGS, arg); break;
	case 'o':
		a->json = cmd_argp_output(state, arg);
		break;
	case OPT_NOW:
		cmd_argp_time(state, "--now", arg, &a->now);
		a->have_now = 1;
		break;
	case OPT_OCCURRENCE: cmd_argp_time(state, "--occurrence", arg, &a->occurrence); break;
	case OPT_NO_FEEDBACK: a->no_feedback = 1; break;
	case OPT_EXACT: {
		char *end = NULL;

		a->exact = arg ? strtod(arg, &end) : 10;
		if (arg && (end == arg || *end || !(a->exact > 0) || a->exact > 3600))
			argp_error(state, "--exact=SECONDS expects a time limit from 0.001 to 3600 seconds, not '%s'", arg);
		break;
	}
	case OPT_PROM: a->prom.url = arg; break;
	case OPT_PROM_QUERY: {
		char *eq = strchr(arg, '=');
		int r = 0;

		if (eq)
			*eq = '\0';
		if (!eq || (r = adp_resource_parse(arg)) < 0 || !eq[1])
			argp_error(state, "--prom-query expects RESOURCE=PROMQL with cpu, memory, io or net");
		a->prom.query[r] = eq + 1;
		break;
	}
	case OPT_PROM_LABEL: a->prom.label = arg; break;
	case OPT_PROM_RANGE: cmd_argp_duration(state, "--prom-range", arg, "a duration such as 30d", &a->prom.range); break;
	case OPT_PROM_STEP: cmd_argp_duration(state, "--prom-step", arg, "a duration such as 5m", &a->prom.step); break;
	case OPT_PROM_TOKEN: a->prom.bearer_token_file = arg; break;
	case OPT_PROM_USER: a->prom.username = arg; break;
	case OPT_PROM_PASSWORD: a->prom.password_file = arg; break;
	case OPT_PROM_CA: a->prom.ca_file = arg; break;
	case OPT_DRIVER:
		/* The plan is the same for every driver: only kubernetes has
		 * something to do first, discovering the inventory. */
		a->driver = cmd_argp_driver(state, arg)->name;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	case ARGP_KEY_END: {
		/* The hint names the flag's driver; apply finds a setting's itself. */
		const char *driver = a->driver ? a->driver : cmd_setting(CMD_KEY_DRIVER);

		a->kube = driver && !strcmp(driver, "kubernetes");
		if (a->kube && !a->inventory)
			a->inventory = "adpart-inventory.json";
		if (!a->inventory || !a->schedule)
			argp_error(state, "--inventory and --schedule are required");
		{
			/* A Prometheus of the settings where a plan has queries
			 * for it: the kubernetes driver's defaults, or its own. */
			int r, any = a->kube;

			for (r = 0; r < ADP_RES_COUNT; r++)
				any |= a->prom.query[r] != NULL;
			if (!a->prom.url && any)
				a->prom.url = cmd_setting(CMD_KEY_PROMETHEUS);
			cmd_prom_settings(&a->prom);
		}
		if (a->kube && a->prom.url && !a->prom.query[ADP_RES_CPU] && !a->prom.query[ADP_RES_MEMORY] &&
		    !a->prom.query[ADP_RES_IO] && !a->prom.query[ADP_RES_NET]) {
			/* The documented default container metrics, by workload. */
			a->prom.query[ADP_RES_CPU] = KUBE_PROM_CPU;
			a->prom.query[ADP_RES_MEMORY] = KUBE_PROM_MEMORY;
		}
		{
			int r, any = 0;
			for (r = 0; r < ADP_RES_COUNT; r++)
				any |= a->prom.query[r] != NULL;
			if (a->prom.url && !any)
				argp_error(state, "--prometheus needs at least one --prom-query");
			if (!a->prom.url && (any || a->prom.label || a->prom.bearer_token_file || a->prom.username))
				argp_error(state, "--prom-* options need --prometheus URL");
		}
		break;
	}
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp cmd_plan_argp = {
	options, parse, NULL,
	"Forecast each component's load over the schedule's window, build waves and "
	"placements that fit with the schedule's confidence, write the plan and show it.\v"
	"Exit status: 0 nothing to change, 2 plan written, 3 no plan fits, 1 error.",
	cmd_kube_plan_children, NULL, NULL,
};

/* The plan as JSON on stdout; a document that cannot be built is said,
 * not printed in part. */
static void print_json_doc(const struct plan *p)
{
	json_t *root = NULL;

	if (plan_to_json(&root, p))
		root = NULL;
	cmd_print_plan_json(stdout, root);
	json_decref(root);
}

/* Records the plan in the store (which sets its lineage and serial, so
 * it comes before the plan file is written); reports its own error. */
static int record(struct plan *p, const char *dir)
{
	struct plan_store *st = NULL;
	char lineage[37], *summary = NULL;
	size_t len = 0;
	int64_t serial;
	int rc;
	FILE *mem = open_memstream(&summary, &len);

	if (mem) {
		cmd_plan_render(mem, p, NULL, NULL, 1);
		if (fclose(mem)) {
			free(summary);
			summary = NULL;
		}
	}
	if (!(rc = plan_store_open(&st, dir, 1)))
		rc = plan_store_record_plan(st, p, NULL, summary, lineage, &serial);
	free(summary);
	if (rc)
		cmd_error_last(NULL);
	else
		cmd_note("plan recorded in store '%s' (lineage %s, serial %lld)", dir, lineage, (long long)serial);
	plan_store_free(st);
	return rc;
}

/* The feedback loop: past windows of the schedule named name in the
 * store (none when the store does not exist yet, or the schedule could
 * not be read: part_run says why) give each sampled series' spread a
 * factor (plans/accuracy.h). *fb owned. Reports its own error. */
static int past_windows(struct plan_feedback **fb, size_t *n, const char *store, const char *name)
{
	struct accuracy acc = { 0 };
	struct stat st;
	int rc;

	*fb = NULL;
	*n = 0;
	if (!store || !*store || !name || stat(store, &st))
		return 0;
	if ((rc = accuracy_add_store(&acc, store, name)) || (rc = accuracy_feedback(&acc, fb, n)))
		cmd_error_last("cannot read the past windows in the plan store (plan with --no-feedback to go without)");
	accuracy_release(&acc);
	return rc;
}

/* plan_written to the schedule's webhooks (cfg's), within a bounded
 * time; a failure is a warning. */
static void notify_written(const struct plan *p, const struct schedule_notify *cfg, const char *file)
{
	struct orch_notifier *n = NULL;
	char why[2048], start[32] = "", expires[32];
	json_t *d;

	if (!cfg->nwebhooks)
		return;
	if (orch_notifier_new(&n, cfg, p->schedule_name, p->digest)) {
		cmd_warn("no webhook sent: %s", adp_error_last());
		return;
	}
	if (p->nwaves)
		adp_time_format(start, p->waves[0].start);
	adp_time_format(expires, p->expires_at);
	d = json_pack("{s:s, s:I, s:I, s:s?, s:s, s:b}", "plan_file", file, "waves", (json_int_t)p->nwaves, "steps",
		      (json_int_t)p->nsteps, "start", *start ? start : NULL, "expires_at", expires, "risk_accepted",
		      p->risk_accepted);
	orch_notify(n, SCHEDULE_EV_PLAN_WRITTEN, d);
	json_decref(d);
	orch_notifier_free(n, ORCH_NOTIFY_FLUSH, why, sizeof(why));
	if (*why)
		cmd_warn("%s", why);
}

/* The plan, once the command line and the inventory are checked; cfg is
 * the schedule as cmd_plan read it (zeroed when it could not be: part_run
 * reads it again and says what is wrong). */
static int run_plan(struct plan_args a, const struct schedule *cfg)
{
	struct part_run_opts o = { 0 };
	struct cmd_progress pr;
	struct part_exact_plan ex = { 0 };
	struct plan p = { 0 };
	struct plan_feedback *feedback = NULL;
	size_t size = 0, text = 0;
	int rc, status;

	o.inventory = a.inventory;
	o.schedule = a.schedule;
	o.history = a.history;
	o.nhistory = a.nhistory;
	o.now = a.have_now ? a.now : (int64_t)time(NULL);
	o.occurrence = a.occurrence;
	o.model = a.model;
	o.tool_version = "adpart-update 0.1.0";
	o.preallocate = a.preallocate;
	o.prom = a.prom.url ? &a.prom : NULL;
	if (!a.no_feedback &&
	    past_windows(&feedback, &o.nfeedback, a.store ? a.store : cmd_setting(CMD_KEY_STORE), cfg->name))
		return EXIT_ERROR;
	o.feedback = feedback;
	if (a.exact > 0) {
		/* Exact mode: each wave's placement by the MILP as well. */
		part_exact_plan_init(&ex, a.exact);
		o.place_movers = part_exact_place_movers;
		o.place_arg = &ex;
	}
	cmd_progress_begin(&pr);
	o.progress = cmd_progress;
	o.progress_ctx = &pr;
	rc = part_run(&p, &o);
	cmd_progress_end(&pr);
	for (size_t i = 0; i < o.nfeedback; i++)
		free(feedback[i].component);
	free(feedback);
	if (rc == 0 || rc == ADP_EINFEASIBLE) {
		int arc = part_exact_plan_annotate(&p, &ex);

		rc = arc ? arc : rc;
	}
	part_exact_plan_release(&ex);
	if (rc && rc != ADP_EINFEASIBLE) {
		cmd_error_last(NULL);
		plan_release(&p);
		return EXIT_ERROR;
	}
	if (rc == ADP_EINFEASIBLE) {
		/* The report goes to stdout (it is the command's result); no plan is written. */
		if (a.json) {
			print_json_doc(&p);
		} else {
			cmd_plan_render(stdout, &p, NULL, NULL, a.detail);
		}
		cmd_error("%s: no plan written", adp_error_last());
		plan_release(&p);
		return EXIT_INFEASIBLE;
	}
	/* A plan that does not keep its own promise is no plan, unless the
	 * operator accepts the risk, which the plan then records. */
	{
		struct plan_proof pf;
		int r;

		plan_proof(&p, &pf);
		for (r = 0; !pf.holds && r < ADP_RES_COUNT; r++)
			if (pf.wave[r] && pf.worst[r] > pf.eps[r] + 1e-9)
				cmd_error("%s: predicted P(overload) %.1f%% on '%s' in wave %zu, above epsilon %.1f%%%s%s",
					  adp_resource_name(r), 100 * pf.worst[r], pf.partition[r], pf.wave[r],
					  100 * pf.eps[r], pf.shared[r] ? " (a shortage shared: lower tiers cut)" : "",
					  a.accept_risk ? " (accepted: --accept-risk)" : "");
		if (!pf.holds && !a.accept_risk) {
			if (a.json)
				print_json_doc(&p);
			else
				cmd_plan_render(stdout, &p, NULL, NULL, a.detail);
			cmd_error("the plan does not hold at the schedule's confidence: no plan written (%s, or "
				  "pass --accept-risk)", p.nremedies ? "see the remedies" : "lower the confidence, add "
				  "capacity, take fewer partitions a wave");
			plan_release(&p);
			return EXIT_INFEASIBLE;
		}
		p.risk_accepted = !pf.holds;
	}
	status = p.nwaves ? EXIT_CHANGES : EXIT_OK;
	if (a.write && (a.store || (a.store = cmd_setting(CMD_KEY_STORE))) && *a.store && record(&p, a.store)) {
		plan_release(&p);
		return EXIT_ERROR;
	}
	if (a.write && (rc = plan_write_as(&p, a.plan_file, a.compress, &size, &text))) {
		cmd_error_last(NULL);
		plan_release(&p);
		return EXIT_ERROR;
	}
	if (a.json) {
		print_json_doc(&p);
	} else {
		cmd_plan_render(stdout, &p, a.write ? a.plan_file : NULL, a.driver, a.detail);
		if (a.write && text && cmd_verbosity > CMD_QUIET) {
			char zs[32], js[32];

			adp_bytes_format(zs, (double)size);
			adp_bytes_format(js, (double)text);
			printf("The plan is gzip-compressed: %s for %s of JSON (zcat shows it; every command reads it "
			       "as it is).\n", zs, js);
		}
	}
	if (a.write)
		notify_written(&p, &cfg->notify, a.plan_file);
	plan_release(&p);
	return status;
}

int cmd_plan(int argc, char **argv)
{
	struct plan_args a = { 0 };
	struct schedule cfg = { 0 };
	int parsed, status;

	a.plan_file = "adpart-plan.json";
	a.write = 1;
	if ((parsed = cmd_parse(&cmd_plan_argp, argc, argv, 0, &a)))
		return parsed;
	if (a.kube && cmd_kube_discover(a.inventory))
		return EXIT_ERROR;
	/* part_run reads the inventory itself; the drivers' sections are
	 * checked here first, as every command that reads one does. */
	{
		struct inventory inv;

		if (cmd_inventory_load(&inv, a.inventory)) {
			cmd_error_last(NULL);
			return EXIT_ERROR;
		}
		inventory_release(&inv);
	}
	/* One instant for the occurrence read here and the one part_run reads. */
	if (!a.have_now) {
		a.now = (int64_t)time(NULL);
		a.have_now = 1;
	}
	/* The schedule's name (the feedback's past windows) and webhooks. */
	if (schedule_load_at(&cfg, a.schedule, NULL, SCHEDULE_ACT, a.occurrence ? a.occurrence : a.now))
		adp_error_clear(); /* part_run reads it again and says what is wrong */
	status = run_plan(a, &cfg);
	schedule_release(&cfg);
	return status;
}
