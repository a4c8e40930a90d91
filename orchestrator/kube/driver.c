/* The kubernetes driver as the engine sees it: init and release, the
 * check before a run, the ops table (one function per action, in
 * nodes.c, pods.c and job.c), cancellation, and monitoring (sample and
 * grow). Also the check of the inventory's kubernetes sections. */
#include "orchestrator/kube/driver.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "orchestrator/kube/driver_int.h"
#include "plans/steps.h"
#include "util/error.h"
#include "util/jsonutil.h"

/* --- acts and cancellation ----------------------------------------------- */

int64_t kube_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct orch_kube *kube_begin(void *ctx)
{
	struct orch_kube *d = ctx;

	atomic_store(&d->cancel, 0);
	return d;
}

int kube_cancelled(const struct orch_kube *d)
{
	return !d->holding && atomic_load(&d->cancel);
}

/* The client's hook: requests of a cancelled act are cut. */
static int client_cancelled(void *arg)
{
	return kube_cancelled(arg);
}

/* The engine's thread asks the act under way to stop. */
static void kube_cancel(void *ctx)
{
	struct orch_kube *d = ctx;

	atomic_store(&d->cancel, 1);
}

int kube_pause(struct orch_kube *d, int64_t ms)
{
	int64_t left, until = kube_now_ms() + ms;

	while (!kube_cancelled(d) && (left = until - kube_now_ms()) > 0) {
		struct timespec ts = { 0, (long)(left < 50 ? left : 50) * 1000000L };

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	return kube_cancelled(d) ? adp_error_set(ADP_ESYS, "cancelled") : 0;
}

int kube_wait_error(const struct orch_kube *d, int rc, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	if (!rc || !kube_cancelled(d))
		return rc;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return adp_error_set(rc, "cancelled while waiting for %s", what);
}

void kube_append(char *msg, size_t len, const char *fmt, ...)
{
	size_t n = strnlen(msg, len);
	va_list ap;

	if (n + 2 >= len)
		return;
	if (n) {
		memcpy(msg + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(msg + n, len - n, fmt, ap);
	va_end(ap);
}

int64_t kube_step_timeout(const struct plan_step *s)
{
	return s->timeout > 0 ? s->timeout : KUBE_STEP_TIMEOUT;
}

int64_t kube_ready_timeout(const struct orch_kube *d, const struct plan_step *s)
{
	return d->o.ready_timeout ? d->o.ready_timeout : kube_step_timeout(s);
}

/* --- init and release ---------------------------------------------------- */

static char *join(const char *dir, const char *name)
{
	char *out;

	return asprintf(&out, "%s/%s", dir, name) < 0 ? NULL : out;
}

int orch_kube_init(struct orch_kube *d, struct kube_client *k, const struct inventory *inv,
		   const struct schedule *sched, const char *state_dir, const struct orch_kube_opts *o)
{
	char logs[1024];
	int rc = 0;

	memset(d, 0, sizeof(*d));
	atomic_init(&d->cancel, 0);
	d->k = k;
	d->inv = inv;
	d->sched = sched;
	if (o)
		d->o = *o;
	if (!d->o.drain_timeout)
		d->o.drain_timeout = ORCH_KUBE_DRAIN_TIMEOUT;
	if (!d->o.evict_backoff_ms)
		d->o.evict_backoff_ms = ORCH_KUBE_EVICT_BACKOFF;
	if (!d->o.poll_ms)
		d->o.poll_ms = ORCH_KUBE_POLL;
	if (!d->o.job_namespace)
		d->o.job_namespace = "default";
	snprintf(logs, sizeof(logs), "%s/logs", state_dir ? state_dir : ".");
	if (d->o.dry_run) /* nothing on disk: a state of its own, in memory */
		rc = (d->state = json_pack("{s:{}}", "nodes")) ? 0 : adp_error_set(ADP_ENOMEM, "out of memory");
	else if (mkdir(state_dir, 0700) && errno != EEXIST)
		rc = adp_error_set(ADP_ESYS, "cannot create '%s': %s", state_dir, strerror(errno));
	else if (mkdir(logs, 0700) && errno != EEXIST)
		rc = adp_error_set(ADP_ESYS, "cannot create '%s': %s", logs, strerror(errno));
	else if (!(d->state_path = join(state_dir, "kube-state.json")) || !(d->log_path = join(logs, "kube-update.log")))
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
	else
		rc = kube_state_load(d);
	if (rc) {
		orch_kube_release(d);
	} else {
		k->cancelled = client_cancelled;
		k->cancel_arg = d;
	}
	return rc;
}

void orch_kube_release(struct orch_kube *d)
{
	if (!d)
		return;
	if (d->k && d->k->cancel_arg == d) {
		d->k->cancelled = NULL;
		d->k->cancel_arg = NULL;
	}
	free(d->state_path);
	free(d->log_path);
	json_decref(d->state);
	memset(d, 0, sizeof(*d));
}

/* --- the check before a run ---------------------------------------------- */

/* A node the plan takes offline exists. */
static int check_offline(struct orch_kube *d, const char *node)
{
	json_t *n = NULL;
	int rc = kube_get_node(d, node, &n);

	json_decref(n);
	return rc ? adp_error_wrap(rc, "node '%s' the plan takes offline", node) : 0;
}

/* A moved replica's workload exists, and its target node is Ready and
 * schedulable. */
static int check_target(struct orch_kube *d, const struct plan_placement *x)
{
	const char *ns, *kind, *wname;
	json_t *wl = NULL, *n = NULL;
	int rc;

	if (!(rc = kube_comp_ref(d, x->component, &ns, &kind, &wname)))
		rc = kube_get_workload(d, ns, kind, wname, &wl);
	if (!rc && (rc = kube_get_node(d, x->partition, &n)))
		rc = adp_error_wrap(rc, "target node of '%s'", x->component);
	else if (!rc && !kube_schedulable(n))
		rc = adp_error_set(ADP_EINPUT, "target node '%s' of '%s' is cordoned or not Ready: plan again", x->partition,
				   x->component);
	json_decref(wl);
	json_decref(n);
	return rc;
}

static int kube_check(void *ctx, const struct plan *p)
{
	struct orch_kube *d = kube_begin(ctx);
	size_t w, i;
	int rc = 0;

	for (w = 0; !rc && w < p->nwaves; w++) {
		for (i = 0; !rc && i < p->waves[w].noffline; i++)
			rc = check_offline(d, p->waves[w].offline[i]);
		for (i = 0; !rc && i < p->waves[w].nplacements; i++)
			if (p->waves[w].placements[i].from)
				rc = check_target(d, &p->waves[w].placements[i]);
	}
	for (i = 0; !rc && i < p->nsteps; i++)
		if (p->steps[i].act == PLAN_RUN_UPDATE && !d->o.update_image && !(d->sched && d->sched->update_argv))
			rc = adp_error_set(ADP_EINPUT,
					   "no update action: give --update-image IMAGE (a Job per node) or an update command in the schedule");
	return rc ? rc : kube_check_drain(d, p);
}

int orch_kube_dry_run(struct orch_kube *d, const struct plan *p, json_t **report)
{
	int rc = kube_check(d, p);

	/* Any failure of the check is a refusal, its message kept. */
	return rc ? ADP_EINPUT : kube_dry_run_steps(d, p, report);
}

/* --- monitoring ---------------------------------------------------------- */

/* Actual usage of the shadow from Prometheus: the last point of the
 * last ten minutes, one query per resource (a resource without series
 * is "no data" for it alone). */
static int kube_sample(void *ctx, const struct plan *p, const struct plan_placement *x, double usage[ADP_RES_COUNT],
		       int have[ADP_RES_COUNT])
{
	struct orch_kube *d = ctx;
	const char *ns, *kind, *wname;
	char name[96], qc[1024], qm[1024];
	struct history_prom_opts po;
	struct history_opts ho = { 60, 300, 0 };
	struct history h;
	int rc, r, any = 0;

	(void)p;
	if ((rc = kube_comp_ref(d, x->component, &ns, &kind, &wname)))
		return rc;
	kube_shadow_name(name, sizeof(name), wname, x->replica);
	snprintf(qc, sizeof(qc),
		 "sum(rate(container_cpu_usage_seconds_total{namespace=\"%s\",pod=\"%s\",container!=\"\"}[5m]))", ns, name);
	snprintf(qm, sizeof(qm), "sum(container_memory_working_set_bytes{namespace=\"%s\",pod=\"%s\",container!=\"\"})",
		 ns, name);
	ho.until = (int64_t)time(NULL) + 1;
	for (r = 0; !rc && r < 2; r++) {
		int res = r ? ADP_RES_MEMORY : ADP_RES_CPU;
		const struct series *se;
		size_t i;

		po = *d->o.prom;
		memset(po.query, 0, sizeof(po.query));
		po.query[res] = r ? qm : qc;
		po.range = 600;
		po.step = 60;
		po.only = NULL;
		po.nonly = 0;
		history_init(&h);
		if ((rc = history_prom_read(&h, &po, x->component, &ho)) && strstr(adp_error_last(), "returned no series"))
			rc = 0;
		else if (!rc && (se = history_find(&h, x->component, res)))
			for (i = se->n; i-- > 0;)
				if (!isnan(se->v[i])) {
					usage[res] = se->v[i];
					have[res] = any = 1;
					break;
				}
		history_release(&h);
	}
	return rc ? rc : any ? 0 : 1;
}

/* In-place resize of the shadow's limit through the pods/resize
 * subresource (strategic merge patch of containers by name). */
static int kube_grow(void *ctx, const struct plan *p, const struct plan_placement *x, int r, double limit)
{
	struct orch_kube *d = kube_begin(ctx);
	const char *ns, *kind, *wname;
	char name[96], q[64];
	json_t *pod = NULL, *cs = NULL, *spec_cs, *c;
	size_t i, n;
	long st = 0;
	int rc;

	(void)p;
	if (r != ADP_RES_CPU && r != ADP_RES_MEMORY)
		return adp_error_set(ADP_EINPUT, "kubernetes: only cpu and memory limits can grow");
	if ((rc = kube_comp_ref(d, x->component, &ns, &kind, &wname)))
		return rc;
	kube_shadow_name(name, sizeof(name), wname, x->replica);
	if (!(rc = kube_get_pod(d, ns, name, &st, &pod)) && st != 200)
		rc = adp_error_set(ADP_ESYS, "shadow '%s/%s': HTTP %ld", ns, name, st);
	if (!rc && !(cs = json_array()))
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
	spec_cs = json_object_get(json_object_get(pod, "spec"), "containers");
	n = json_array_size(spec_cs);
	json_array_foreach(spec_cs, i, c) {
		if (rc)
			break;
		kube_quantity_text(q, sizeof(q), r, limit / (double)n);
		if (json_array_append_new(cs, json_pack("{s:s?, s:{s:{s:s}}}", "name", kube_str(c, "name"), "resources",
							"limits", r == ADP_RES_CPU ? "cpu" : "memory", q)))
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
	}
	if (!rc)
		rc = kube_resize_send(d, ns, name, cs);
	json_decref(cs);
	json_decref(pod);
	return rc;
}

/* --- the inventory's kubernetes sections --------------------------------- */

/* RFC 1123 names, as request paths take them unescaped: a namespace is a
 * label (no dots, at most 63), a workload's name a subdomain (253). */
static int dns_name(const char *s, size_t max, int dots)
{
	size_t n = strlen(s), i;
	int ok = n > 0 && n <= max && s[0] != '-' && s[0] != '.' && s[n - 1] != '-' && s[n - 1] != '.';

	for (i = 0; ok && i < n; i++)
		ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || (dots && s[i] == '.');
	return ok;
}

/* A JSON path for a message: jpath is the driver's own (short), a cut
 * key still names the field. */
static const char *field(char *buf, size_t len, const char *jpath, const char *key)
{
	snprintf(buf, len, "%.200s.%.100s", jpath, key);
	return buf;
}

/* Optional: when present (not null), of the JSON type wanted. */
static int check_type(const struct adp_json_doc *doc, json_t *o, const char *jpath, const char *key, json_type t,
		      const char *what)
{
	json_t *v = json_object_get(o, key);
	char sub[320];

	if (v && !json_is_null(v) && json_typeof(v) != t)
		return adp_json_fail(doc, field(sub, sizeof(sub), jpath, key), "expected %s", what);
	return 0;
}

/* selector.matchLabels: labels and values are strings (they make the
 * label selector that lists the workload's pods). */
static int check_selector(const struct adp_json_doc *doc, json_t *k, const char *jpath)
{
	json_t *ml = json_object_get(json_object_get(k, "selector"), "matchLabels"), *v;
	char sub[320], lp[400];
	const char *key;
	int rc;

	if ((rc = check_type(doc, k, jpath, "selector", JSON_OBJECT, "an object (a label selector)")) ||
	    (rc = check_type(doc, json_object_get(k, "selector"), field(sub, sizeof(sub), jpath, "selector"), "matchLabels",
			     JSON_OBJECT, "an object of labels")))
		return rc;
	json_object_foreach(ml, key, v)
		if (!json_is_string(v)) {
			snprintf(lp, sizeof(lp), "%s.selector.matchLabels.%s", jpath, key);
			return adp_json_fail(doc, lp, "expected a string");
		}
	return 0;
}

static int check_component(const struct adp_json_doc *doc, json_t *k, const char *jpath)
{
	static const char *const keys[] = { "namespace", "kind", "name", "selector", "pods", "containers",
					    "desired_replicas", NULL };
	const char *ns = NULL, *kind = NULL, *name = NULL;
	double replicas = 0;
	char sub[320];
	int rc;

	if ((rc = adp_json_check_keys(doc, k, jpath, keys)) || (rc = adp_json_string(doc, k, jpath, "namespace", 1, &ns)) ||
	    (rc = adp_json_string(doc, k, jpath, "kind", 1, &kind)) || (rc = adp_json_string(doc, k, jpath, "name", 1, &name)))
		return rc;
	if (!dns_name(ns, 63, 0))
		return adp_json_fail(doc, field(sub, sizeof(sub), jpath, "namespace"),
				     "'%s' is not a namespace: a-z, 0-9 and '-', at most 63", ns);
	if (strcmp(kind, "Deployment") && strcmp(kind, "StatefulSet"))
		return adp_json_fail(doc, field(sub, sizeof(sub), jpath, "kind"), "'%s' is not Deployment or StatefulSet",
				     kind);
	if (!dns_name(name, 253, 1))
		return adp_json_fail(doc, field(sub, sizeof(sub), jpath, "name"),
				     "'%s' is not a workload name: a-z, 0-9, '-' and '.', at most 253", name);
	if ((rc = check_selector(doc, k, jpath)) ||
	    (rc = check_type(doc, k, jpath, "pods", JSON_ARRAY, "an array of pods")) ||
	    (rc = check_type(doc, k, jpath, "containers", JSON_ARRAY, "an array of containers")) ||
	    (rc = adp_json_number(doc, k, jpath, "desired_replicas", 0, 0, INV_MAX_REPLICAS, &replicas)))
		return rc;
	if (replicas != floor(replicas))
		return adp_json_fail(doc, field(sub, sizeof(sub), jpath, "desired_replicas"), "expected a whole number");
	return 0;
}

/* The driver acts on the node named as the partition. */
static int check_partition(const struct adp_json_doc *doc, json_t *k, const char *jpath, const char *partition)
{
	static const char *const keys[] = { "node", "pool", "allocatable_cpu", "allocatable_memory", "reserved_cpu",
					    "reserved_memory", NULL };
	const char *node = NULL, *pool;
	char sub[320];
	double v;
	int rc, i;

	if ((rc = adp_json_check_keys(doc, k, jpath, keys)) || (rc = adp_json_string(doc, k, jpath, "node", 0, &node)) ||
	    (rc = adp_json_string(doc, k, jpath, "pool", 0, &pool)))
		return rc;
	if (node && strcmp(node, partition))
		return adp_json_fail(doc, field(sub, sizeof(sub), jpath, "node"),
				     "node '%s' is not the partition '%s': the driver acts on the node of the partition's name",
				     node, partition);
	for (i = 2; !rc && keys[i]; i++)
		rc = adp_json_number(doc, k, jpath, keys[i], 0, 0, HUGE_VAL, &v);
	return rc;
}

/* The top-level record of discovery. */
static int check_record(const struct adp_json_doc *doc, json_t *k)
{
	static const char *const keys[] = { "server", "context", "namespace", "pod_disruption_budgets", "daemonsets",
					    "warnings", NULL };
	const char *s = NULL;
	json_t *v;
	size_t i;
	int rc;

	if ((rc = adp_json_check_keys(doc, k, "kubernetes", keys)) ||
	    (rc = adp_json_string(doc, k, "kubernetes", "server", 0, &s)) ||
	    (rc = adp_json_string(doc, k, "kubernetes", "context", 0, &s)) ||
	    (rc = adp_json_string(doc, k, "kubernetes", "namespace", 0, &s)))
		return rc;
	for (i = 3; !rc && keys[i]; i++)
		rc = check_type(doc, k, "kubernetes", keys[i], JSON_ARRAY, "an array");
	json_array_foreach(json_object_get(k, "warnings"), i, v)
		if (!rc && !json_is_string(v)) {
			char sub[64];

			snprintf(sub, sizeof(sub), "kubernetes.warnings[%zu]", i);
			rc = adp_json_fail(doc, sub, "expected a string");
		}
	return rc;
}

int orch_kube_config_check(const struct inventory *inv)
{
	struct adp_json_doc doc = { 0 };
	char jpath[64];
	size_t i;
	int rc = 0;

	/* The sections are checked as inventory_load kept them; the file is
	 * read again only to name the lines. */
	if (adp_json_load(&doc, inv->path) && !(doc.path = strdup(inv->path ? inv->path : "inventory")))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (i = 0; !rc && i < inv->nparts; i++) {
		snprintf(jpath, sizeof(jpath), "partitions[%zu].kubernetes", i);
		if (inv->parts[i].kube)
			rc = check_partition(&doc, inv->parts[i].kube, jpath, inv->parts[i].name);
	}
	for (i = 0; !rc && i < inv->ncomps; i++) {
		snprintf(jpath, sizeof(jpath), "components[%zu].kubernetes", i);
		if (inv->comps[i].kube)
			rc = check_component(&doc, inv->comps[i].kube, jpath);
	}
	if (!rc && inv->kube)
		rc = check_record(&doc, inv->kube);
	adp_json_release(&doc);
	return rc;
}

/* --- the driver ---------------------------------------------------------- */

/* NULL slots: canary, switch_traffic, switch_back, restore_traffic and
 * cleanup (Services route to every Ready pod), remove_partition (a node
 * stays a node), preallocate_shadow and release_shadow (a shadow pod is
 * made in its own wave: the scheduler, not a cgroup, sizes it). */
static const orch_act_fn kube_ops[PLAN_ACTION_COUNT] = {
	[PLAN_CREATE_PARTITION] = kube_op_target_ready,
	[PLAN_START_SHADOW] = kube_op_start_shadow,
	[PLAN_HEALTH_CHECK] = kube_op_wait_shadow,
	[PLAN_VERIFY_SHADOW] = kube_op_wait_shadow,
	[PLAN_DRAIN] = kube_op_drain,
	[PLAN_STOP_ORIGINAL] = kube_op_gone,
	[PLAN_RUN_UPDATE] = kube_op_run_update,
	[PLAN_VERIFY_PARTITION] = kube_op_verify_partition,
	[PLAN_START_ORIGINAL] = kube_op_uncordon,
	[PLAN_HEALTH_CHECK_ORIGINAL] = kube_op_node_back,
	[PLAN_STOP_SHADOW] = kube_op_stop_shadow,
	/* An absorbed replica: its pod is evicted (PDB honoured) from the
	 * cordoned node and its controller recreates it elsewhere; after the
	 * update the workload must be whole again. */
	[PLAN_DRAIN_ABSORBED] = kube_op_drain,
	[PLAN_STOP_ABSORBED] = kube_op_gone,
	[PLAN_START_ABSORBED] = kube_op_uncordon,
	[PLAN_HEALTH_CHECK_ABSORBED] = kube_op_whole,
	[PLAN_UNDRAIN_ABSORBED] = kube_op_uncordon,
	[PLAN_RESIZE] = kube_op_resize,
	[PLAN_RESTORE_SIZE] = kube_op_restore_size,
	[PLAN_UNDRAIN] = kube_op_uncordon,
};

void orch_kube_driver(struct orch_driver *drv, struct orch_kube *d)
{
	memset(drv, 0, sizeof(*drv));
	drv->ctx = d;
	drv->check = kube_check;
	drv->ops = kube_ops;
	drv->sample = d->o.prom && d->o.prom->url ? kube_sample : NULL;
	drv->grow = kube_grow;
	drv->cancel = kube_cancel;
	drv->gate = kube_gate;
}
