/* adpart-update plan: forecast, partition, prove, write the plan. */
#include <argp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"
#include "cmd/kube.h"
#include "partition/exact_plan.h"
#include "orchestrator/kube/discover.h"
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
	int64_t now;
	int have_now;
	int write;
	int accept_risk;
	int kube;         /* --driver kubernetes: discover the inventory */
	const char *driver; /* --driver NAME (the registry's); only kubernetes changes what plan does */
	const char *store;
	struct history_prom_opts prom;
	double exact;
};

enum { OPT_NOW = 256, OPT_MODEL, OPT_NO_WRITE, OPT_STORE, OPT_PROM, OPT_PROM_QUERY, OPT_PROM_LABEL,
       OPT_PROM_RANGE, OPT_PROM_STEP, OPT_PROM_TOKEN, OPT_PROM_USER, OPT_PROM_PASSWORD,
       OPT_PROM_CA, OPT_DRIVER, OPT_EXACT, OPT_ACCEPT_RISK };

static const struct argp_option options[] = {
	{ "inventory", 'i', "FILE", 0, "Inventory of partitions and components (JSON)", 0 },
	{ "schedule", 's', "FILE", 0, "Update schedule (JSON)", 0 },
	{ "history", 'H', "FILE", 0, "Extra history, long-format CSV or JSON (repeatable)", 0 },
	{ "plan-file", 'f', "FILE", 0, "Where to write the plan (default: adpart-plan.json)", 0 },
	{ "no-write", OPT_NO_WRITE, NULL, 0, "Show the plan without writing it", 0 },
	{ "accept-risk", OPT_ACCEPT_RISK, NULL, 0,
	  "Write a plan whose predicted P(overload) exceeds epsilon somewhere (recorded in the plan)", 0 },
	{ "output", 'o', "FORMAT", 0, "human (default) or json", 0 },
	{ "now", OPT_NOW, "TIME", 0, "Plan as if it were TIME (RFC 3339): history from then on is ignored", 0 },
	{ "model", OPT_MODEL, "NAME", 0, "Forecast model (default: auto; see the forecast command)", 0 },
	{ "store", OPT_STORE, "DIR", 0, "Also record the plan in the git plan store DIR (created if absent; default: $ADPART_STORE)", 0 },
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
	  "local (default), exec, or kubernetes: discover the inventory from the cluster and write it to --inventory", 0 },
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
	case OPT_ACCEPT_RISK: a->accept_risk = 1; break;
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
		a->kube = !strcmp(a->driver, "kubernetes");
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	case ARGP_KEY_END:
		if (a->kube && !a->inventory)
			a->inventory = "adpart-inventory.json";
		if (!a->inventory || !a->schedule)
			argp_error(state, "--inventory and --schedule are required");
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

static void hm(char buf[8], int64_t t, const char *tz)
{
	char full[40];

	adp_time_format_tz(full, t, tz);
	snprintf(buf, 8, "%.5s", full + 11);
}

static void print_shortfalls(FILE *f, const struct plan *p)
{
	size_t i;

	fprintf(f, "%s%sNo plan fits:%s\n", cmd_bold(f), cmd_red(f), cmd_reset(f));
	for (i = 0; i < p->nshortfalls; i++) {
		const struct plan_shortfall *s = &p->shortfalls[i];
		char at[8], dem[48], cap[48], miss[48];

		hm(at, s->at, p->timezone);
		if (s->resource < 0 && !s->wave) {
			fprintf(f, "  timing: %s\n", s->advice);
			continue;
		}
		if (s->resource < 0) {
			fprintf(f, "  wave %zu: '%s' replica from '%s' has nowhere to go: %s\n", s->wave,
				s->component, s->partition, s->advice);
			continue;
		}
		cmd_format_amount(dem, s->resource, s->demand);
		cmd_format_amount(cap, s->resource, s->capacity);
		cmd_format_amount(miss, s->resource, s->missing);
		fprintf(f, "  wave %zu: partition '%s' %s short by %s at %s (needs %s, capacity %s)%s%s%s\n",
			s->wave, s->partition, adp_resource_name(s->resource), miss, at, dem,
			cap, s->component ? " placing '" : "",
			s->component ? s->component : "", s->component ? "'" : "");
		fprintf(f, "    fix: %s\n", s->advice);
	}
}

/* One line per wave in exact mode: what the MILP proved and what was kept. */
static void print_exact(FILE *f, const struct plan_wave *w)
{
	char obj[32] = "none", heur[32] = "none", gap[32] = "unknown";

	if (isfinite(w->exact_objective))
		snprintf(obj, sizeof(obj), "%.4g", w->exact_objective);
	if (isfinite(w->exact_heuristic))
		snprintf(heur, sizeof(heur), "%.4g", w->exact_heuristic);
	if (isfinite(w->exact_gap))
		snprintf(gap, sizeof(gap), "%.2f%%", 100 * w->exact_gap);
	fprintf(f, "  exact: %s in %.1fs, cost %s (heuristic %s), optimality gap %s, %s\n", w->exact_status,
		w->exact_seconds, obj, heur, gap,
		w->exact_replaced ? "the MILP's placement kept" : "the heuristic's placement kept");
}

/* The start chosen, who gets less than forecast, whether rolling back
 * fits, and the cost. */
static void print_decisions(FILE *f, const struct plan *p)
{
	char a[40], b[40];
	size_t i;

	if (p->start_candidates && p->nwaves) {
		hm(a, p->waves[0].start, p->timezone);
		hm(b, p->start_chosen_from, p->timezone);
		fprintf(f, "Start %s: the least loaded of %zu candidate starts from %s.\n", a, p->start_candidates, b);
	}
	if (p->nreductions) {
		fprintf(f, "%sShortage: %zu allocation%s below the forecast%s (lower tiers first, never below the guarantee):\n",
			cmd_bold(f), p->nreductions, p->nreductions == 1 ? "" : "s", cmd_reset(f));
		for (i = 0; i < p->nreductions; i++) {
			const struct plan_reduction *x = &p->reductions[i];
			char g[48], w[48], m[48];

			cmd_format_amount(g, x->resource, x->granted);
			cmd_format_amount(w, x->resource, x->wanted);
			cmd_format_amount(m, x->resource, x->wanted - x->granted);
			fprintf(f, "  wave %zu: %s replica %zu on '%s' gets %s %s of %s forecast (%s less)\n", x->wave,
				x->component, x->replica, x->partition, g, adp_resource_name(x->resource), w, m);
		}
	}
	if (p->rollback_check.checked) {
		const struct plan_rollback_check *r = &p->rollback_check;
		char bd[48], cp[48];

		cmd_format_amount(bd, r->resource, r->bound);
		cmd_format_amount(cp, r->resource, r->capacity);
		if (r->partition) {
			hm(a, r->at, p->timezone);
			fprintf(f, "Rollback: moving every replica back home %s (tightest: '%s' %s %s of %s at %s).\n",
				r->fits ? "fits" : "does NOT fit", r->partition, adp_resource_name(r->resource), bd, cp, a);
		}
	}
	if (p->cost.present)
		fprintf(f, "Cost %.4g: risk %.4g, waste %.4g, moves %.4g, confidence %.4g.\n", p->cost.total, p->cost.risk,
			p->cost.waste, p->cost.moves, p->cost.confidence);
}

/* The proof's line: the worst predicted P(overload) per resource
 * against its epsilon, and whether the plan holds. */
static void print_proof(FILE *f, const struct plan *p)
{
	struct plan_proof pf;
	int r, first = 1;

	plan_proof(p, &pf);
	fprintf(f, "Proof: %s%s", pf.holds ? "holds" : "FAILS",
		!pf.holds && p->risk_accepted ? " (risk accepted)" : "");
	for (r = 0; r < ADP_RES_COUNT; r++)
		if (pf.wave[r]) {
			fprintf(f, "%s%s worst P(overload) %.1f%% %s epsilon %.1f%% ('%s', wave %zu)", first ? ": " : "; ",
				adp_resource_name(r), 100 * pf.worst[r], pf.worst[r] > pf.eps[r] + 1e-9 ? ">" : "<=",
				100 * pf.eps[r], pf.partition[r], pf.wave[r]);
			first = 0;
		}
	fputs(".\n\n", f);
}

/* The plan as JSON on stdout; a document that cannot be built is said,
 * not printed in part. */
static void print_json_doc(const struct plan *p)
{
	json_t *root = NULL;

	if (plan_to_json(&root, p))
		root = NULL;
	cmd_print_json(stdout, root, JSON_INDENT(2) | JSON_PRESERVE_ORDER, NULL);
	json_decref(root);
}

/* driver: the --driver given (NULL: none), repeated in the next command. */
static void print_human(FILE *f, const struct plan *p, const char *plan_file, const char *driver)
{
	char a[40], b[40], c[40], margin[32];
	size_t w, i, moves;

	adp_time_format_tz(a, p->window_start, p->timezone);
	hm(b, p->window_end, p->timezone);
	hm(c, p->cutoff_at, p->timezone);
	fprintf(f, "%sPlan '%s'%s: window %s to %s (%s), cutoff %s\n", cmd_bold(f), p->schedule_name,
		cmd_reset(f), a, b, p->timezone, c);
	fprintf(f, "Forecast: %s model, %zu series, %zu joint scenarios; confidence cpu %.3g, memory %.3g\n",
		p->model, p->nforecast, p->scenarios, p->confidence[ADP_RES_CPU], p->confidence[ADP_RES_MEMORY]);
	print_proof(f, p);
	for (w = 0; w < p->nwaves; w++) {
		const struct plan_wave *wave = &p->waves[w];

		hm(a, wave->start, p->timezone);
		hm(b, wave->end, p->timezone);
		fprintf(f, "%sWave %zu%s  %s-%s  offline:", cmd_bold(f), w + 1, cmd_reset(f), a, b);
		for (i = 0; i < wave->noffline; i++)
			fprintf(f, " %s", wave->offline[i]);
		for (i = 0, moves = 0; i < wave->nplacements; i++)
			moves += wave->placements[i].from != NULL;
		fprintf(f, "\n  moves (%zu):\n", moves);
		for (i = 0; i < wave->nplacements; i++) {
			const struct plan_placement *x = &wave->placements[i];
			char cpu[48], mem[48], rcpu[48], rmem[48];

			if (!x->from)
				continue;
			cmd_format_amount(cpu, ADP_RES_CPU, x->alloc[ADP_RES_CPU]);
			cmd_format_amount(mem, ADP_RES_MEMORY, x->alloc[ADP_RES_MEMORY]);
			cmd_format_amount(rcpu, ADP_RES_CPU, x->reserve[ADP_RES_CPU]);
			cmd_format_amount(rmem, ADP_RES_MEMORY, x->reserve[ADP_RES_MEMORY]);
			fprintf(f, "    %-24s %-10s -> %-10s tier %d  reserved %s, %s; limit %s, %s\n", x->component,
				x->from, x->partition, x->tier, rcpu, rmem, cpu, mem);
		}
		if (wave->exact_status)
			print_exact(f, wave);
		for (i = 0; i < wave->nabsorbed; i++)
			fprintf(f, "    %-24s %-10s stays down with it: its other replicas carry its share\n",
				wave->absorbed[i].component, wave->absorbed[i].partition);
		fprintf(f, "  %-12s %-7s %14s %14s %14s %14s %11s\n", "partition", "res", "capacity",
			"p50 peak", "p95 peak", "headroom", "P(overload)");
		for (i = 0; i < wave->nusage; i++) {
			const struct plan_usage *u = &wave->usage[i];
			char cap[48], p50[48], p95[48], head[48];
			double m50 = 0, m95 = 0;
			size_t h;

			if (u->capacity <= 0 || u->resource > ADP_RES_MEMORY)
				continue;
			for (h = 0; h < u->nsteps; h++) {
				m50 = fmax(m50, u->p50[h]);
				m95 = fmax(m95, u->p95[h]);
			}
			cmd_format_amount(cap, u->resource, u->capacity);
			cmd_format_amount(p50, u->resource, m50);
			cmd_format_amount(p95, u->resource, m95);
			cmd_format_amount(head, u->resource, u->headroom);
			fprintf(f, "  %-12s %-7s %14s %14s %14s %14s %10.1f%%\n", u->partition,
				adp_resource_name(u->resource), cap, p50, p95,
				u->headroom < 0 ? "none" : head, 100 * u->overload_prob);
		}
		fputc('\n', f);
	}
	adp_duration_format(margin, p->margin);
	print_decisions(f, p);
	if (p->nshortfalls) {
		print_shortfalls(f, p);
		return;
	}
	fprintf(f, "All %zu waves end %s before the cutoff. %zu steps to apply, %zu to roll back.\n",
		p->nwaves, margin, p->nsteps, p->nrollback);
	for (i = 0; i < p->nrisks; i++)
		fprintf(f, "risk: %s\n", p->risks[i]);
	if (plan_file) {
		char drv[80] = "";

		fprintf(f, "%sPlan written to %s%s (digest %.12s, expires %s).\n", cmd_green(f), plan_file,
			cmd_reset(f), p->digest, (adp_time_format(a, p->expires_at), a));
		if (driver)
			snprintf(drv, sizeof(drv), "--driver %s ", driver);
		fprintf(f, "next: adpart-update apply %s--dry-run %s (checks every step), then adpart-update apply %s%s\n",
			drv, plan_file, drv, plan_file);
	}
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
		print_human(mem, p, NULL, NULL);
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
		fprintf(stderr, "adpart-update: plan recorded in store '%s' (lineage %s, serial %lld)\n", dir, lineage,
			(long long)serial);
	plan_store_free(st);
	return rc;
}

int cmd_plan(int argc, char **argv)
{
	struct plan_args a = { 0 };
	struct part_run_opts o = { 0 };
	struct part_exact_plan ex = { 0 };
	struct plan p = { 0 };
	int parsed, rc, status;

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
	o.inventory = a.inventory;
	o.schedule = a.schedule;
	o.history = a.history;
	o.nhistory = a.nhistory;
	o.now = a.have_now ? a.now : (int64_t)time(NULL);
	o.model = a.model;
	o.tool_version = "adpart-update 0.1.0";
	o.prom = a.prom.url ? &a.prom : NULL;
	if (a.exact > 0) {
		/* Exact mode: each wave's placement by the MILP as well. */
		part_exact_plan_init(&ex, a.exact);
		o.place_movers = part_exact_place_movers;
		o.place_arg = &ex;
	}
	rc = part_run(&p, &o);
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
			print_human(stdout, &p, NULL, NULL);
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
				print_human(stdout, &p, NULL, NULL);
			cmd_error("the plan does not hold at the schedule's confidence: no plan written (lower the "
				  "confidence, add capacity, take fewer partitions a wave, or pass --accept-risk)");
			plan_release(&p);
			return EXIT_INFEASIBLE;
		}
		p.risk_accepted = !pf.holds;
	}
	status = p.nwaves ? EXIT_CHANGES : EXIT_OK;
	if (a.write && (a.store || (a.store = getenv("ADPART_STORE"))) && *a.store && record(&p, a.store)) {
		plan_release(&p);
		return EXIT_ERROR;
	}
	if (a.write && (rc = plan_write(&p, a.plan_file))) {
		cmd_error_last(NULL);
		plan_release(&p);
		return EXIT_ERROR;
	}
	if (a.json) {
		print_json_doc(&p);
	} else {
		print_human(stdout, &p, a.write ? a.plan_file : NULL, a.driver);
	}
	plan_release(&p);
	return status;
}
