/* Options and glue for --driver kubernetes (plan and apply). */
#include "cmd/kube.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "orchestrator/engine.h"
#include "orchestrator/kube/discover.h"
#include "partition/inventory.h"
#include "partition/schedule.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

struct cmd_kube_args cmd_kube;

enum { OPT_KUBECONFIG = 3000, OPT_CONTEXT, OPT_SA_DIR, OPT_NS, OPT_ZONE_LABEL, OPT_POOL_LABEL, OPT_IMAGE,
       OPT_JOB_NS, OPT_JOB_BACKOFF, OPT_DRAIN_TIMEOUT, OPT_EVICT_BACKOFF, OPT_POLL, OPT_PROM, OPT_PROM_TOKEN,
       OPT_PROM_CA, OPT_READY_TIMEOUT, OPT_GRACE, OPT_POD_SEL, OPT_NODE_SEL, OPT_EMPTYDIR, OPT_FORCE, OPT_NO_EVICT,
       OPT_ON_DRAIN_TIMEOUT, OPT_BLOCKING };

struct orch_driver_opts *cmd_kube_driver_opts(void)
{
	if (!cmd_kube.prom.url)
		cmd_kube.prom.url = cmd_setting(CMD_KEY_PROMETHEUS);
	cmd_prom_settings(&cmd_kube.prom);
	cmd_kube.drv.kube.prom = cmd_kube.prom.url ? &cmd_kube.prom : NULL;
	return &cmd_kube.drv;
}

/* Milliseconds from "250ms", "5s", "1m" or a number of seconds. */
static int parse_ms(const char *s, int64_t *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		return -1;
	if (!strcmp(end, "ms"))
		*out = (int64_t)v;
	else if (!*end || !strcmp(end, "s"))
		*out = (int64_t)(v * 1000);
	else if (!strcmp(end, "m"))
		*out = (int64_t)(v * 60000);
	else
		return -1;
	return *out > 0 ? 0 : -1;
}

/* A selector option into sel (replacing one given before). */
static void parse_selector(struct argp_state *state, const char *opt, const char *arg, struct kube_selector *sel)
{
	kube_selector_release(sel);
	if (kube_selector_parse(sel, arg))
		argp_error(state, "%s: %s", opt, adp_error_last());
}

int cmd_argp_dry_run(struct argp_state *state, const char *arg)
{
	if (!arg || !strcmp(arg, "client"))
		return CMD_DRY_RUN_CLIENT;
	if (!strcmp(arg, "server"))
		return CMD_DRY_RUN_SERVER;
	argp_error(state, "--dry-run=%s: expected client (the default: checks, no driver) or server (the driver's requests with dryRun=All)",
		   arg);
	return 0;
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
	struct cmd_kube_args *a = &cmd_kube;
	char *end;

	switch (key) {
	case OPT_KUBECONFIG: a->drv.kubeconfig = arg; break;
	case OPT_CONTEXT: a->drv.kube_context = arg; break;
	case OPT_SA_DIR: a->drv.kube_sa_dir = arg; break;
	case OPT_NS: a->ns = arg; break;
	case OPT_ZONE_LABEL: a->zone_label = arg; break;
	case OPT_POOL_LABEL: a->pool_label = arg; break;
	case OPT_IMAGE: a->drv.kube.update_image = arg; break;
	case OPT_JOB_NS: a->drv.kube.job_namespace = arg; break;
	case OPT_JOB_BACKOFF:
		a->drv.kube.job_backoff_limit = (int)strtol(arg, &end, 10);
		if (end == arg || *end || a->drv.kube.job_backoff_limit < 0 || a->drv.kube.job_backoff_limit > 100)
			argp_error(state, "--job-backoff-limit '%s': expected a whole number from 0 to 100", arg);
		break;
	case OPT_DRAIN_TIMEOUT:
		cmd_argp_duration(state, "--drain-timeout", arg, "a duration such as 10m", &a->drv.kube.drain_timeout);
		break;
	case OPT_READY_TIMEOUT:
		cmd_argp_duration(state, "--ready-timeout", arg, "a duration such as 5m", &a->drv.kube.ready_timeout);
		break;
	case OPT_EVICT_BACKOFF:
		if (parse_ms(arg, &a->drv.kube.evict_backoff_ms))
			argp_error(state, "--evict-backoff '%s' is not a duration such as 5s or 200ms", arg);
		break;
	case OPT_POLL:
		if (parse_ms(arg, &a->drv.kube.poll_ms))
			argp_error(state, "--poll-interval '%s' is not a duration such as 1s or 200ms", arg);
		break;
	case OPT_GRACE: {
		long long g = strtoll(arg, &end, 10);

		if (end == arg || *end || g < -1 || g > 31536000)
			argp_error(state, "--grace-period '%s': expected whole seconds from 0 to 31536000, or -1 for each pod's own", arg);
		a->drv.kube.has_grace = g >= 0;
		a->drv.kube.grace_period = g;
		break;
	}
	case OPT_POD_SEL:
		parse_selector(state, "--pod-selector", arg, &a->pod_selector);
		a->drv.kube.rules.pod_selector = &a->pod_selector;
		break;
	case OPT_NODE_SEL:
		parse_selector(state, "--node-selector", arg, &a->node_selector);
		a->drv.kube.node_selector = &a->node_selector;
		break;
	case OPT_BLOCKING:
		parse_selector(state, "--blocking-pod-selector", arg, &a->blocking_pods);
		a->drv.kube.blocking_pods = &a->blocking_pods;
		break;
	case OPT_EMPTYDIR: a->drv.kube.rules.delete_emptydir_data = 1; break;
	case OPT_FORCE: a->drv.kube.rules.force = 1; break;
	case OPT_NO_EVICT: a->drv.kube.rules.disable_eviction = 1; break;
	case OPT_ON_DRAIN_TIMEOUT:
		if (!strcmp(arg, "rollback"))
			a->drv.kube.on_drain_timeout = ORCH_KUBE_DRAIN_ROLLBACK;
		else if (!strcmp(arg, "stop"))
			a->drv.kube.on_drain_timeout = ORCH_KUBE_DRAIN_STOP;
		else if (!strcmp(arg, "skip"))
			a->drv.kube.on_drain_timeout = ORCH_KUBE_DRAIN_SKIP;
		else
			argp_error(state, "--on-drain-timeout '%s': expected rollback, stop or skip", arg);
		break;
	case OPT_PROM: a->prom.url = arg; break;
	case OPT_PROM_TOKEN: a->prom.bearer_token_file = arg; break;
	case OPT_PROM_CA: a->prom.ca_file = arg; break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_option conn_options[] = {
	{ NULL, 0, NULL, 0, "With --driver kubernetes:", 40 },
	{ "kubeconfig", OPT_KUBECONFIG, "FILE", 0, "Kubeconfig file (default: $KUBECONFIG, else in-cluster, else ~/.kube/config)", 40 },
	{ "context", OPT_CONTEXT, "NAME", 0, "Kubeconfig context (default: current-context)", 40 },
	{ "service-account-dir", OPT_SA_DIR, "DIR", 0,
	  "In-cluster token, ca.crt and namespace (default /var/run/secrets/kubernetes.io/serviceaccount)", 40 },
	{ "node-selector", OPT_NODE_SEL, "SELECTOR", 0,
	  "Only nodes with these labels (k=v,k!=v,k,!k,k in (a,b)): plan makes partitions of no other, apply refuses "
	  "a plan that acts on another", 40 },
	{ 0 },
};

static const struct argp_option plan_options[] = {
	{ "namespace", OPT_NS, "NS", 0, "Components from this namespace only (default: all)", 41 },
	{ "zone-label", OPT_ZONE_LABEL, "LABEL", 0, "Node label giving the zone (default topology.kubernetes.io/zone)", 41 },
	{ "pool-label", OPT_POOL_LABEL, "LABEL", 0, "Node label giving the pool (default: the usual cloud labels)", 41 },
	{ 0 },
};

static const struct argp_option apply_options[] = {
	{ "update-image", OPT_IMAGE, "IMAGE", 0,
	  "Run the schedule's update command in a privileged Job with this image on each node (default: run it here)", 41 },
	{ "job-namespace", OPT_JOB_NS, "NS", 0, "Namespace of the update Jobs (default: default)", 41 },
	{ "job-backoff-limit", OPT_JOB_BACKOFF, "N", 0, "Retries of an update Job's pod (default 0)", 41 },
	{ "drain-timeout", OPT_DRAIN_TIMEOUT, "DURATION", 0, "Longest wait for a node's evictions (default 10m)", 41 },
	{ "ready-timeout", OPT_READY_TIMEOUT, "DURATION", 0,
	  "Longest wait for a node to be Ready after its update (default: the step's timeout, 5m)", 41 },
	{ "evict-backoff", OPT_EVICT_BACKOFF, "DURATION", 0, "Wait after an eviction refused by a disruption budget (default 5s)", 41 },
	{ "poll-interval", OPT_POLL, "DURATION", 0, "Interval between API polls (default 1s)", 41 },
	{ "on-drain-timeout", OPT_ON_DRAIN_TIMEOUT, "ACTION", 0,
	  "When a drain outlasts --drain-timeout: rollback (default: the run rolls back), stop (the node as it was, "
	  "apply stops there: --resume drains again) or skip (the node as it was, its wave undone, the next waves go on)",
	  41 },
	{ "grace-period", OPT_GRACE, "SECONDS", 0,
	  "Seconds each evicted or deleted pod has to terminate (default, or -1: the pod's own)", 41 },
	{ "pod-selector", OPT_POD_SEL, "SELECTOR", 0, "Drain only the pods with these labels; the others stay on the node", 41 },
	{ "blocking-pod-selector", OPT_BLOCKING, "SELECTOR", 0,
	  "A gate: no wave starts while a pod with these labels runs on a node it takes offline (exit 9)", 41 },
	{ "delete-emptydir-data", OPT_EMPTYDIR, NULL, 0,
	  "Drain pods with emptyDir volumes too, their data lost (without it, their drain fails)", 41 },
	{ "force", OPT_FORCE, NULL, 0, "Delete the pods no controller manages (without it, their drain fails)", 41 },
	{ "disable-eviction", OPT_NO_EVICT, NULL, 0,
	  "Delete pods instead of evicting them: bypasses PodDisruptionBudgets (dangerous)", 41 },
	{ "prometheus", OPT_PROM, "URL", 0, "Monitor the shadows' usage through this Prometheus", 41 },
	{ "prom-token-file", OPT_PROM_TOKEN, "FILE", 0, "Bearer token for Prometheus, read from FILE", 41 },
	{ "prom-ca-file", OPT_PROM_CA, "FILE", 0, "Extra CA bundle to verify Prometheus's TLS certificate", 41 },
	{ 0 },
};

const struct argp cmd_kube_conn_argp = { conn_options, parse, NULL, NULL, NULL, NULL, NULL };
const struct argp cmd_kube_plan_argp = { plan_options, parse, NULL, NULL, NULL, NULL, NULL };
const struct argp cmd_kube_apply_argp = { apply_options, parse, NULL, NULL, NULL, NULL, NULL };
const struct argp_child cmd_kube_plan_children[] = { { &cmd_kube_conn_argp, 0, NULL, 0 },
						     { &cmd_kube_plan_argp, 0, NULL, 0 }, { 0 } };
const struct argp_child cmd_kube_apply_children[] = { { &cmd_kube_conn_argp, 0, NULL, 0 },
						      { &cmd_kube_apply_argp, 0, NULL, 0 }, { 0 } };

int cmd_kube_client(struct kube_client *k)
{
	struct kube_config cfg;
	int rc;

	if ((rc = kube_config_auto(&cfg, cmd_kube.drv.kubeconfig, cmd_kube.drv.kube_context, cmd_kube.drv.kube_sa_dir)) ||
	    (rc = kube_client_init(k, &cfg))) {
		cmd_error_last(NULL);
		kube_config_release(&cfg);
		return rc;
	}
	return 0;
}

int cmd_kube_discover(const char *path)
{
	struct kube_client k;
	struct kube_discover_opts o = { cmd_kube.ns, cmd_kube.zone_label, cmd_kube.pool_label,
					cmd_kube.drv.kube.node_selector };
	json_t *doc = NULL, *v;
	char *text = NULL;
	size_t i;
	int rc;

	if ((rc = cmd_kube_client(&k)))
		return rc;
	if ((rc = kube_discover(&k, &o, &doc))) {
		cmd_error_last("kubernetes discovery");
		goto done;
	}
	json_array_foreach(json_object_get(json_object_get(doc, "kubernetes"), "warnings"), i, v)
		cmd_note("kubernetes: %s", json_string_value(v));
	if (!(text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
		rc = ADP_ENOMEM;
		cmd_error("out of memory");
		goto done;
	}
	if ((rc = adp_write_atomic(path, text, strlen(text))))
		cmd_error_last(NULL);
	else
		cmd_note("discovered %zu nodes and %zu workloads from '%s'; inventory written to '%s'",
			 json_array_size(json_object_get(doc, "partitions")),
			 json_array_size(json_object_get(doc, "components")), k.cfg.server, path);
done:
	free(text);
	json_decref(doc);
	kube_client_release(&k);
	return rc;
}

int cmd_apply_dry_run_server(const struct orch_driver_info *di, const struct plan *p, int64_t now, const char *inv,
			     const char *sched, int json)
{
	struct orch_driver_opts *o = cmd_kube_driver_opts();
	struct inventory in = { 0 };
	struct schedule sc = { 0 };
	struct orch_driver drv;
	json_t *report = NULL, *e;
	void *state = NULL;
	size_t i, n[3] = { 0, 0, 0 };
	int64_t wait;
	int rc, status = EXIT_REFUSED;

	if (orch_preflight(p, now) || (orch_start_check(p, now, &wait) && !wait)) {
		cmd_error_last("refused");
		return EXIT_REFUSED;
	}
	if (!inv) {
		cmd_error("the plan names no inventory: use --inventory");
		return EXIT_REFUSED;
	}
	if (cmd_inventory_load(&in, inv) || (sched && schedule_load_mode(&sc, sched, &in, SCHEDULE_ACT))) {
		cmd_error_last("refused");
		goto done;
	}
	o->kube.dry_run = 1;
	if (orch_driver_new(&state, &drv, di, &in, sched ? &sc : NULL, NULL, o)) {
		cmd_error_last(NULL);
		status = EXIT_ERROR;
		goto done;
	}
	if ((rc = di->dry_run(state, p, &report)) < 0) {
		cmd_error_last(rc == ADP_EINPUT ? "refused" : NULL);
		status = rc == ADP_EINPUT ? EXIT_REFUSED : EXIT_ERROR;
		goto done;
	}
	json_array_foreach(report, i, e) {
		const char *v = json_string_value(json_object_get(e, "verdict")), *m = json_string_value(json_object_get(e, "message"));

		n[!strcmp(v, "accepted") ? 0 : !strcmp(v, "blocked") ? 1 : 2]++;
		if (!json)
			printf("%4lld  %-14s %-8s %s%s%s\n", (long long)json_integer_value(json_object_get(e, "step")),
			       json_string_value(json_object_get(e, "action")), v, json_string_value(json_object_get(e, "what")),
			       m ? ": " : "", m ? m : "");
	}
	if (!json)
		printf("plan '%s': the API server would accept %zu requests, refuse %zu, and %zu evictions are blocked now by a "
		       "disruption budget (retried during apply); nothing was changed\n", p->schedule_name, n[0], n[2], n[1]);
	if (rc) {
		cmd_error("refused: the API server would refuse %zu of the plan's requests (see the lines marked refused)", n[2]);
		status = EXIT_REFUSED;
	} else {
		status = EXIT_OK;
	}
done:
	json_decref(report);
	orch_driver_free(di, state);
	schedule_release(&sc);
	inventory_release(&in);
	return status;
}
