#include "orchestrator/kube/driver.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plans/steps.h"
#include "orchestrator/kube/discover.h"
#include "util/error.h"
#include "util/fsutil.h"

#define STATE_MAX ((size_t)4 << 20)

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static json_t *md(json_t *o)
{
	return json_object_get(o, "metadata");
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* --- driver state: what this driver cordoned ------------------------- */

static int state_save(struct orch_kube *d)
{
	char *text = json_dumps(d->state, JSON_INDENT(1) | JSON_SORT_KEYS);
	int rc;

	if (!text)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	rc = adp_write_atomic(d->state_path, text, strlen(text));
	free(text);
	return rc;
}

int orch_kube_init(struct orch_kube *d, struct kube_client *k, const struct inventory *inv,
		   const struct schedule *sched, const char *state_dir, const struct orch_kube_opts *o)
{
	char *text = NULL, dir[1024];
	json_error_t err;
	int rc = 0;

	memset(d, 0, sizeof(*d));
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
	if ((mkdir(state_dir, 0700) && errno != EEXIST) ||
	    (snprintf(dir, sizeof(dir), "%s/logs", state_dir), mkdir(dir, 0700) && errno != EEXIST))
		return adp_error_set(ADP_ESYS, "cannot create '%s': %s", dir, strerror(errno));
	if (asprintf(&d->state_path, "%s/kube-state.json", state_dir) < 0 ||
	    asprintf(&d->log_path, "%s/kube-update.log", dir) < 0) {
		d->state_path = d->log_path = NULL;
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	if (access(d->state_path, F_OK) == 0) {
		if ((rc = adp_read_file(&text, NULL, d->state_path, STATE_MAX)))
			goto done;
		if (!(d->state = json_loads(text, 0, &err)) || !json_is_object(json_object_get(d->state, "nodes"))) {
			rc = adp_error_set(ADP_EINPUT, "%s:%d: driver state is not {\"nodes\": {...}}: %s", d->state_path,
					   err.line, err.text);
			goto done;
		}
	} else if (!(d->state = json_pack("{s:{}}", "nodes"))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
	}
done:
	free(text);
	if (rc)
		orch_kube_release(d);
	return rc;
}

void orch_kube_release(struct orch_kube *d)
{
	if (!d)
		return;
	free(d->state_path);
	free(d->log_path);
	json_decref(d->state);
	memset(d, 0, sizeof(*d));
}

/* --- nodes ------------------------------------------------------------ */

static int get_node(struct orch_kube *d, const char *node, json_t **out)
{
	char path[512];

	snprintf(path, sizeof(path), "/api/v1/nodes/%s", node);
	return kube_get(d->k, path, out);
}

static int node_ready(json_t *node)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(node, "status"), "conditions"), i, c)
		if (str(c, "type") && !strcmp(str(c, "type"), "Ready"))
			return str(c, "status") && !strcmp(str(c, "status"), "True");
	return 0;
}

/* Sets spec.unschedulable with a merge patch carrying the resourceVersion
 * that was read, so a concurrent change gives 409 and a fresh read. */
static int set_unschedulable(struct orch_kube *d, const char *node, int on, json_t *cur)
{
	char path[512];
	json_t *n = json_incref(cur), *ans = NULL;
	long st = 0;
	int attempt, rc = 0;

	snprintf(path, sizeof(path), "/api/v1/nodes/%s", node);
	for (attempt = 0; attempt < 5; attempt++) {
		json_t *patch;

		if (!n && (rc = get_node(d, node, &n)))
			return rc;
		patch = json_pack("{s:{s:s?}, s:{s:b}}", "metadata", "resourceVersion",
				  str(md(n), "resourceVersion"), "spec", "unschedulable", on);
		rc = kube_request(d->k, "PATCH", path, "application/merge-patch+json", patch, &st, &ans);
		json_decref(patch);
		json_decref(ans);
		ans = NULL;
		json_decref(n);
		n = NULL;
		if (rc)
			return rc;
		if (st == 200)
			return 0;
		if (st != 409)
			break;
	}
	return adp_error_set(ADP_ESYS, "kubernetes: cannot %s node %s: HTTP %ld%s%s", on ? "cordon" : "uncordon", node,
			     st, d->k->last_error[0] ? ": " : "", d->k->last_error);
}

/* Cordons node unless it already is; the prior state is written before
 * the change, so a crash in between is repaired on resume. */
static int cordon(struct orch_kube *d, const char *node, char *msg, size_t len)
{
	json_t *nodes = json_object_get(d->state, "nodes"), *e = json_object_get(nodes, node), *n = NULL;
	int rc;

	if ((rc = get_node(d, node, &n)))
		return rc;
	if (!e || json_is_true(json_object_get(e, "restored"))) {
		int prior = json_is_true(json_object_get(json_object_get(n, "spec"), "unschedulable"));

		e = json_pack("{s:b, s:b}", "prior_unschedulable", prior, "cordoned", !prior);
		json_object_set_new(nodes, node, e);
		if ((rc = state_save(d))) {
			json_decref(n);
			return rc;
		}
	}
	if (json_is_true(json_object_get(e, "cordoned")) &&
	    !json_is_true(json_object_get(json_object_get(n, "spec"), "unschedulable"))) {
		rc = set_unschedulable(d, node, 1, n);
		if (!rc && len)
			snprintf(msg, len, "cordoned %s", node);
	} else if (len && !*msg) {
		snprintf(msg, len, "%s %s", node,
			 json_is_true(json_object_get(e, "cordoned")) ? "already cordoned by this run"
								      : "was cordoned before: left as it was");
	}
	json_decref(n);
	return rc;
}

/* Uncordons node only when this driver cordoned it. */
static int uncordon(struct orch_kube *d, const char *node, char *msg, size_t len)
{
	json_t *nodes = json_object_get(d->state, "nodes"), *e = json_object_get(nodes, node), *n = NULL;
	int rc = 0;

	if (!e || !json_is_true(json_object_get(e, "cordoned")) || json_is_true(json_object_get(e, "restored"))) {
		if (len && !*msg)
			snprintf(msg, len, "%s %s", node,
				 e && json_is_true(json_object_get(e, "restored")) ? "already uncordoned by this run"
										   : "not cordoned by this run: left as it was");
		return 0;
	}
	if ((rc = get_node(d, node, &n)))
		return rc;
	if (json_is_true(json_object_get(json_object_get(n, "spec"), "unschedulable")))
		rc = set_unschedulable(d, node, 0, n);
	json_decref(n);
	if (rc)
		return rc;
	json_object_set_new(e, "restored", json_true());
	if (len)
		snprintf(msg, len, "uncordoned %s", node);
	return state_save(d);
}

static int wait_node_ready(struct orch_kube *d, const char *node, int64_t timeout)
{
	int64_t deadline = now_ms() + timeout * 1000;
	json_t *n = NULL;
	int rc, ready;

	for (;;) {
		if ((rc = get_node(d, node, &n)))
			return rc;
		ready = node_ready(n);
		json_decref(n);
		if (ready)
			return 0;
		if (now_ms() >= deadline)
			return adp_error_set(ADP_ESYS, "node %s is not Ready after %llds", node, (long long)timeout);
		sleep_ms(d->o.poll_ms);
	}
}

/* --- workloads and pods ---------------------------------------------- */

static const struct inv_component *find_comp(const struct orch_kube *d, const char *name)
{
	int i = name ? inventory_component_index(d->inv, name) : -1;

	return i < 0 ? NULL : &d->inv->comps[i];
}

static int comp_ref(const struct orch_kube *d, const char *name, const char **ns, const char **kind,
		    const char **wname)
{
	const struct inv_component *c = find_comp(d, name);

	if (!c || !c->kube || !str(c->kube, "namespace") || !str(c->kube, "kind") || !str(c->kube, "name"))
		return adp_error_set(ADP_EINPUT,
				     "component '%s' has no kubernetes section in the inventory: plan with --driver kubernetes",
				     name ? name : "");
	*ns = str(c->kube, "namespace");
	*kind = str(c->kube, "kind");
	*wname = str(c->kube, "name");
	return 0;
}

static int get_workload(struct orch_kube *d, const char *ns, const char *kind, const char *name, json_t **out)
{
	char path[512];

	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/%s/%s", ns,
		 !strcmp(kind, "StatefulSet") ? "statefulsets" : "deployments", name);
	return kube_get(d->k, path, out);
}

static void shadow_name(char *out, size_t len, const char *wname, size_t replica)
{
	snprintf(out, len, "%.40s-adp-shadow-%zu", wname, replica);
}

static const char *const controller_labels[] = { "pod-template-hash", "controller-revision-hash",
						 "statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index",
						 NULL };

static void quantity_cpu(char *out, size_t len, double cores)
{
	snprintf(out, len, "%lldm", (long long)llround(cores * 1000));
}

static void quantity_mem(char *out, size_t len, double bytes)
{
	snprintf(out, len, "%lld", (long long)llround(bytes));
}

/* Spreads alloc over the containers in proportion to their requests
 * (evenly when none has one; a container without a request keeps none
 * when others have one), raising a limit that would fall below. */
static void size_containers(json_t *containers, const double alloc[ADP_RES_COUNT])
{
	static const char *const keys[2] = { "cpu", "memory" };
	size_t n = json_array_size(containers), i;
	int r;

	for (r = 0; r < 2; r++) {
		double total = 0, v;
		json_t *c;

		if (alloc[r] <= 0)
			continue;
		json_array_foreach(containers, i, c)
			if (!kube_quantity(str(json_object_get(json_object_get(c, "resources"), "requests"), keys[r]), &v))
				total += v;
		json_array_foreach(containers, i, c) {
			json_t *res = json_object_get(c, "resources"), *req, *lim;
			double share, lv;
			char q[64];

			if (!res)
				json_object_set_new(c, "resources", res = json_object());
			if (!(req = json_object_get(res, "requests")))
				json_object_set_new(res, "requests", req = json_object());
			lim = json_object_get(res, "limits");
			if (total > 0 && kube_quantity(str(req, keys[r]), &v))
				continue; /* others carry the requests: this one keeps none */
			share = total > 0 ? alloc[r] * v / total : alloc[r] / (double)n;
			if (r == 0)
				quantity_cpu(q, sizeof(q), share);
			else
				quantity_mem(q, sizeof(q), share);
			json_object_set_new(req, keys[r], json_string(q));
			if (lim && !kube_quantity(str(lim, keys[r]), &lv) && lv < share)
				json_object_set_new(lim, keys[r], json_string(q));
		}
	}
}

static json_t *pin_affinity(json_t *spec, const char *node)
{
	json_t *aff = json_object_get(spec, "affinity");

	if (!aff)
		json_object_set_new(spec, "affinity", aff = json_object());
	json_object_set_new(aff, "nodeAffinity",
			    json_pack("{s:{s:[{s:[{s:s, s:s, s:[s]}]}]}}", "requiredDuringSchedulingIgnoredDuringExecution",
				      "nodeSelectorTerms", "matchFields", "key", "metadata.name", "operator", "In",
				      "values", node));
	json_object_del(spec, "nodeName");
	return spec;
}

json_t *orch_kube_shadow_pod(json_t *workload, const char *name, const char *component, const char *node,
			     const double alloc[ADP_RES_COUNT], const char *digest)
{
	json_t *tmpl = json_object_get(json_object_get(workload, "spec"), "template");
	json_t *labels = json_deep_copy(json_object_get(md(tmpl), "labels")), *ann, *spec, *pod;
	char d12[13];
	size_t i;

	if (!labels)
		labels = json_object();
	for (i = 0; controller_labels[i]; i++)
		json_object_del(labels, controller_labels[i]);
	snprintf(d12, sizeof(d12), "%.12s", digest ? digest : "");
	json_object_set_new(labels, KUBE_SHADOW_LABEL, json_string(str(md(workload), "name")));
	json_object_set_new(labels, "adpart-update.io/plan", json_string(d12));
	ann = json_deep_copy(json_object_get(md(tmpl), "annotations"));
	if (!ann)
		ann = json_object();
	json_object_set_new(ann, "adpart-update.io/component", json_string(component));
	if (!(spec = json_deep_copy(json_object_get(tmpl, "spec")))) {
		json_decref(labels);
		json_decref(ann);
		return NULL;
	}
	pin_affinity(spec, node);
	size_containers(json_object_get(spec, "containers"), alloc);
	pod = json_pack("{s:s, s:s, s:{s:s, s:s?, s:o, s:o}, s:o}", "apiVersion", "v1", "kind", "Pod", "metadata",
			"name", name, "namespace", str(md(workload), "namespace"), "labels", labels, "annotations",
			ann, "spec", spec);
	return pod;
}

json_t *orch_kube_update_job(const char *name, const char *ns, const char *node, const char *image,
			     char *const argv[], int64_t deadline, int backoff_limit)
{
	json_t *cmd = json_array(), *spec, *job;
	size_t i;

	for (i = 0; argv && argv[i]; i++)
		json_array_append_new(cmd, json_string(argv[i]));
	spec = json_pack("{s:s, s:b, s:[{s:s}], s:[{s:s, s:s, s:o, s:[{s:s, s:s}], s:{s:b}, s:[{s:s, s:s}]}],"
			 " s:[{s:s, s:{s:s}}]}",
			 "restartPolicy", "Never", "hostPID", 1, "tolerations", "operator", "Exists", "containers",
			 "name", "update", "image", image, "command", cmd, "env", "name", "ADPART_PARTITION", "value",
			 node, "securityContext", "privileged", 1, "volumeMounts", "name", "host", "mountPath", "/host",
			 "volumes", "name", "host", "hostPath", "path", "/");
	if (!spec)
		return NULL;
	pin_affinity(spec, node);
	job = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:i, s:I, s:i, s:{s:{s:{s:s}}, s:o}}}", "apiVersion",
			"batch/v1", "kind", "Job", "metadata", "name", name, "namespace", ns, "labels",
			"adpart-update.io/node", node, "spec", "backoffLimit", backoff_limit, "activeDeadlineSeconds",
			(json_int_t)deadline, "ttlSecondsAfterFinished", 86400, "template", "metadata", "labels",
			"adpart-update.io/node", node, "spec", spec);
	return job;
}

static int has_claims(json_t *wl)
{
	return json_array_size(json_object_get(json_object_get(wl, "spec"), "volumeClaimTemplates")) > 0;
}

static int get_pod(struct orch_kube *d, const char *ns, const char *name, long *st, json_t **out)
{
	char path[512];

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	return kube_request(d->k, "GET", path, NULL, NULL, st, out);
}

static int pod_ready(json_t *pod)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c)
		if (str(c, "type") && !strcmp(str(c, "type"), "Ready"))
			return str(c, "status") && !strcmp(str(c, "status"), "True");
	return 0;
}

static int start_shadow(struct orch_kube *d, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	const struct plan_placement *x = plan_step_moved(p, s);
	const char *ns, *kind, *wname;
	json_t *wl = NULL, *pod = NULL, *ans = NULL;
	char name[96], path[512];
	long st;
	int rc;

	if ((rc = comp_ref(d, s->component, &ns, &kind, &wname)) || (rc = get_workload(d, ns, kind, wname, &wl)))
		return rc;
	if (!strcmp(kind, "StatefulSet") && has_claims(wl)) {
		snprintf(msg, len, "StatefulSet %s/%s has volume claims: no shadow, its pod moves when evicted", ns, wname);
		json_decref(wl);
		return 0;
	}
	shadow_name(name, sizeof(name), wname, s->replica);
	if (!(pod = orch_kube_shadow_pod(wl, name, s->component, s->partition, x ? x->alloc : (double[ADP_RES_COUNT]){ 0 },
					 p->digest))) {
		json_decref(wl);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
	rc = kube_request(d->k, "POST", path, NULL, pod, &st, &ans);
	if (!rc && st == 409)
		snprintf(msg, len, "shadow %s/%s already exists", ns, name);
	else if (!rc && st == 201)
		snprintf(msg, len, "created shadow %s/%s on %s", ns, name, s->partition);
	else if (!rc)
		rc = adp_error_set(ADP_ESYS, "kubernetes: cannot create shadow pod %s/%s: HTTP %ld: %s", ns, name, st,
				   d->k->last_error);
	json_decref(ans);
	json_decref(pod);
	json_decref(wl);
	return rc;
}

static int on_shadow_event(void *u, const char *type, json_t *obj)
{
	(void)u;
	if (!strcmp(type, "ERROR"))
		return 2; /* e.g. 410 Expired: read again */
	if (!strcmp(type, "DELETED"))
		return 3;
	return pod_ready(obj) ? 1 : 0;
}

/* Watches the pod from resourceVersion rv for up to secs: 1 Ready, 3
 * deleted, 0 nothing decisive (or no watch: polls instead). */
static int watch_pod(struct orch_kube *d, const char *ns, const char *name, const char *rv, int64_t secs)
{
	char path[1024];
	long st;
	int stopped = 0, rc;

	if (d->no_watch || !rv || secs < 1) {
		sleep_ms(d->o.poll_ms);
		return 0;
	}
	snprintf(path, sizeof(path),
		 "/api/v1/namespaces/%s/pods?watch=1&fieldSelector=metadata.name%%3D%s&resourceVersion=%s&timeoutSeconds=%lld",
		 ns, name, rv, (long long)(secs > 30 ? 30 : secs));
	if ((rc = kube_watch(d->k, path, on_shadow_event, NULL, &st, &stopped)))
		return rc;
	if (st != 200) {
		d->no_watch = 1; /* not allowed or not served: poll from now on */
		sleep_ms(d->o.poll_ms);
	}
	return stopped == 1 || stopped == 3 ? stopped : 0;
}

/* Waits for the shadow to be Ready (or, without a shadow, returns):
 * a read, then a watch from the resourceVersion read. */
static int wait_shadow(struct orch_kube *d, const struct plan_step *s, int64_t timeout, char *msg, size_t len)
{
	const char *ns, *kind, *wname;
	int64_t deadline = now_ms() + timeout * 1000;
	char name[96], why[256] = "";
	json_t *pod = NULL;
	long st;
	int rc;

	if ((rc = comp_ref(d, s->component, &ns, &kind, &wname)))
		return rc;
	shadow_name(name, sizeof(name), wname, s->replica);
	for (;;) {
		if ((rc = get_pod(d, ns, name, &st, &pod)))
			return rc;
		if (st == 404 && !strcmp(kind, "StatefulSet")) {
			json_decref(pod);
			snprintf(msg, len, "no shadow for StatefulSet %s/%s", ns, wname);
			return 0;
		}
		if (st == 200 && pod_ready(pod)) {
			json_decref(pod);
			snprintf(msg, len, "shadow %s/%s Ready on %s", ns, name,
				 s->partition ? s->partition : "its node");
			return 0;
		}
		if (st == 200) {
			json_t *c;
			size_t i;
			json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c)
				if (str(c, "reason"))
					snprintf(why, sizeof(why), ": %s %s", str(c, "reason"), str(c, "message") ?: "");
		}
		if (st != 200) {
			json_decref(pod);
			return adp_error_set(ADP_ESYS, "shadow pod %s/%s: HTTP %ld: %s", ns, name, st, d->k->last_error);
		}
		if (now_ms() >= deadline) {
			json_decref(pod);
			return adp_error_set(ADP_ESYS, "shadow pod %s/%s is not Ready after %llds%s", ns, name,
					     (long long)timeout, why);
		}
		rc = watch_pod(d, ns, name, str(md(pod), "resourceVersion"), (deadline - now_ms()) / 1000);
		json_decref(pod);
		pod = NULL;
		if (rc < 0)
			return rc;
		if (rc == 3)
			return adp_error_set(ADP_ESYS, "shadow pod %s/%s was deleted while waiting for it", ns, name);
	}
}

static int stop_shadow(struct orch_kube *d, const struct plan_step *s, int64_t timeout, char *msg, size_t len)
{
	const char *ns, *kind, *wname;
	int64_t deadline = now_ms() + timeout * 1000;
	char name[96], path[512];
	json_t *ans = NULL;
	long st;
	int rc;

	if ((rc = comp_ref(d, s->component, &ns, &kind, &wname)))
		return rc;
	shadow_name(name, sizeof(name), wname, s->replica);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	if ((rc = kube_request(d->k, "DELETE", path, NULL, NULL, &st, &ans)))
		return rc;
	json_decref(ans);
	ans = NULL;
	if (st != 200 && st != 202 && st != 404)
		return adp_error_set(ADP_ESYS, "kubernetes: cannot delete shadow %s/%s: HTTP %ld: %s", ns, name, st,
				     d->k->last_error);
	while (st != 404) {
		if (now_ms() >= deadline)
			return adp_error_set(ADP_ESYS, "shadow %s/%s still there after %llds", ns, name, (long long)timeout);
		sleep_ms(d->o.poll_ms);
		if ((rc = get_pod(d, ns, name, &st, &ans)))
			return rc;
		json_decref(ans);
		ans = NULL;
	}
	snprintf(msg, len, "shadow %s/%s gone", ns, name);
	return 0;
}

/* The workload's pods on node now (its originals; shadows excluded). */
static int originals_on(struct orch_kube *d, const char *comp, const char *node, json_t **out)
{
	const struct inv_component *c = find_comp(d, comp);
	json_t *sel = json_object_get(json_object_get(c ? c->kube : NULL, "selector"), "matchLabels");
	const char *ns, *kind, *wname, *k;
	char q[2048] = "", esc[3 * sizeof(q)], path[8192];
	json_t *items = NULL, *v, *keep = json_array();
	size_t i, o = 0;
	int rc;

	if ((rc = comp_ref(d, comp, &ns, &kind, &wname))) {
		json_decref(keep);
		return rc;
	}
	json_object_foreach(sel, k, v)
		o += (size_t)snprintf(q + o, o < sizeof(q) ? sizeof(q) - o : 0, "%s%s=%s", o ? "," : "", k,
				      json_string_value(v) ?: "");
	snprintf(q + (o < sizeof(q) ? o : sizeof(q) - 1), o < sizeof(q) ? sizeof(q) - o : 1, "%s!%s", o ? "," : "",
		 KUBE_SHADOW_LABEL);
	kube_query_escape(esc, sizeof(esc), q);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods?labelSelector=%s&fieldSelector=spec.nodeName%%3D%s", ns,
		 esc, node);
	if ((rc = kube_list(d->k, path, &items))) {
		json_decref(keep);
		return rc;
	}
	json_array_foreach(items, i, v) {
		json_t *ref, *r;
		size_t j;
		int mine = 0;

		ref = json_object_get(md(v), "ownerReferences");
		json_array_foreach(ref, j, r) {
			const char *rk = str(r, "kind"), *rn = str(r, "name");
			if (!json_is_true(json_object_get(r, "controller")) || !rk || !rn)
				continue;
			if (!strcmp(kind, "StatefulSet"))
				mine |= !strcmp(rk, "StatefulSet") && !strcmp(rn, wname);
			else
				/* "<deployment>-<pod-template-hash>": web's, not web-api's */
				mine |= !strcmp(rk, "ReplicaSet") && !strncmp(rn, wname, strlen(wname)) &&
					rn[strlen(wname)] == '-' && !strchr(rn + strlen(wname) + 1, '-');
		}
		if (mine && !json_object_get(json_object_get(md(v), "annotations"), "kubernetes.io/config.mirror"))
			json_array_append(keep, v);
	}
	json_decref(items);
	*out = keep;
	return 0;
}

/* Evicts every original of the component on node, honouring PDBs, then
 * polls until each is gone or replaced (same name, new uid). */
static int drain(struct orch_kube *d, const struct plan_step *s, char *msg, size_t len)
{
	int64_t deadline = now_ms() + d->o.drain_timeout * 1000;
	const char *ns, *kind, *wname;
	json_t *pods = NULL, *v;
	size_t i, evicted = 0, blocked = 0;
	char cmsg[256] = "";
	int rc;

	if ((rc = comp_ref(d, s->component, &ns, &kind, &wname)) || (rc = cordon(d, s->partition, cmsg, sizeof(cmsg))) ||
	    (rc = originals_on(d, s->component, s->partition, &pods)))
		return rc;
	json_array_foreach(pods, i, v) {
		const char *name = str(md(v), "name");
		char path[512];
		json_t *ev = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "policy/v1", "kind", "Eviction",
				       "metadata", "name", name, "namespace", ns), *ans = NULL;
		long st = 0;

		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/eviction", ns, name);
		for (;;) {
			rc = kube_request(d->k, "POST", path, NULL, ev, &st, &ans);
			json_decref(ans);
			ans = NULL;
			if (rc || st == 200 || st == 201 || st == 404)
				break;
			if (st != 429 && st != 409 && st != 503) {
				rc = adp_error_set(ADP_ESYS, "kubernetes: eviction of %s/%s: HTTP %ld: %s", ns, name, st,
						   d->k->last_error);
				break;
			}
			blocked++;
			if (now_ms() + d->o.evict_backoff_ms > deadline) {
				rc = adp_error_set(ADP_ESYS,
						   "drain of %s on %s timed out after %llds: eviction of %s/%s still refused: %s",
						   s->component, s->partition, (long long)d->o.drain_timeout, ns, name,
						   d->k->last_error);
				break;
			}
			sleep_ms(d->o.evict_backoff_ms);
		}
		json_decref(ev);
		if (rc)
			goto done;
		evicted += st != 404;
	}
	/* Polled until gone or replaced. */
	json_array_foreach(pods, i, v) {
		const char *name = str(md(v), "name"), *uid = str(md(v), "uid");
		json_t *cur = NULL;
		long st;

		for (;;) {
			if ((rc = get_pod(d, ns, name, &st, &cur)))
				goto done;
			if (st == 404 || (st == 200 && (!uid || !str(md(cur), "uid") || strcmp(uid, str(md(cur), "uid")))) ||
			    (st == 200 && strcmp(str(json_object_get(cur, "spec"), "nodeName") ?: "", s->partition)))
				break;
			json_decref(cur);
			cur = NULL;
			if (now_ms() >= deadline) {
				rc = adp_error_set(ADP_ESYS, "drain of %s on %s timed out after %llds: pod %s/%s is still there",
						   s->component, s->partition, (long long)d->o.drain_timeout, ns, name);
				goto done;
			}
			sleep_ms(d->o.poll_ms);
		}
		json_decref(cur);
	}
	snprintf(msg, len, "%s%s%zu pods evicted from %s (%zu refusals by a disruption budget, retried)", cmsg,
		 *cmsg ? "; " : "", evicted, s->partition, blocked);
done:
	json_decref(pods);
	return rc;
}

static int verify_gone(struct orch_kube *d, const struct plan_step *s, char *msg, size_t len)
{
	json_t *pods = NULL;
	int rc;

	if ((rc = originals_on(d, s->component, s->partition, &pods)))
		return rc;
	if (json_array_size(pods))
		rc = adp_error_set(ADP_ESYS, "%zu pods of %s still on %s", json_array_size(pods), s->component,
				   s->partition);
	else
		snprintf(msg, len, "no pod of %s left on %s", s->component, s->partition);
	json_decref(pods);
	return rc;
}

/* The workload is whole again: status.readyReplicas (its controller's
 * count, which leaves the shadow out) reaches spec.replicas. */
static int wait_replicas(struct orch_kube *d, const struct plan_step *s, int64_t timeout, char *msg, size_t len)
{
	int64_t deadline = now_ms() + timeout * 1000;
	const char *ns, *kind, *wname;
	json_t *wl = NULL;
	int rc;

	if ((rc = comp_ref(d, s->component, &ns, &kind, &wname)))
		return rc;
	for (;;) {
		json_int_t want, ready;

		if ((rc = get_workload(d, ns, kind, wname, &wl)))
			return rc;
		want = json_integer_value(json_object_get(json_object_get(wl, "spec"), "replicas"));
		ready = json_integer_value(json_object_get(json_object_get(wl, "status"), "readyReplicas"));
		json_decref(wl);
		wl = NULL;
		if (ready >= want) {
			size_t n = strlen(msg);
			snprintf(msg + n, len > n ? len - n : 0, "; %s %s/%s has %lld of %lld replicas Ready", kind, ns,
				 wname, (long long)ready, (long long)want);
			return 0;
		}
		if (now_ms() >= deadline)
			return adp_error_set(ADP_ESYS, "%s %s/%s has %lld of %lld replicas Ready after %llds", kind, ns,
					     wname, (long long)ready, (long long)want, (long long)timeout);
		sleep_ms(d->o.poll_ms);
	}
}

/* --- the update -------------------------------------------------------- */

static void job_name(char *out, size_t len, const char *node, const char *digest)
{
	char n[48];
	size_t i;

	snprintf(n, sizeof(n), "%.42s", node);
	for (i = 0; n[i]; i++)
		if (n[i] == '.')
			n[i] = '-';
	while (i && n[i - 1] == '-')
		n[--i] = '\0';
	snprintf(out, len, "adp-update-%s-%.8s", n, digest);
}

static int run_job(struct orch_kube *d, const struct plan *p, const struct plan_step *s, int64_t timeout, char *msg,
		   size_t len)
{
	char name[96], path[512];
	json_t *job, *ans = NULL;
	int64_t deadline = now_ms() + (timeout + 30) * 1000;
	long st;
	int rc;

	job_name(name, sizeof(name), s->partition, p->digest);
	if (!(job = orch_kube_update_job(name, d->o.job_namespace, s->partition, d->o.update_image,
					 d->sched ? d->sched->update_argv : NULL, timeout, d->o.job_backoff_limit)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "/apis/batch/v1/namespaces/%s/jobs", d->o.job_namespace);
	rc = kube_request(d->k, "POST", path, NULL, job, &st, &ans);
	json_decref(job);
	json_decref(ans);
	ans = NULL;
	if (rc)
		return rc;
	if (st != 201 && st != 409) /* 409: created before a crash; wait for it */
		return adp_error_set(ADP_ESYS, "kubernetes: cannot create the update Job %s/%s: HTTP %ld: %s",
				     d->o.job_namespace, name, st, d->k->last_error);
	snprintf(path, sizeof(path), "/apis/batch/v1/namespaces/%s/jobs/%s", d->o.job_namespace, name);
	for (;;) {
		json_t *c, *jst;
		size_t i;

		if ((rc = kube_get(d->k, path, &ans)))
			return rc;
		jst = json_object_get(ans, "status");
		if (json_integer_value(json_object_get(jst, "succeeded")) > 0) {
			json_decref(ans);
			snprintf(msg, len, "update Job %s/%s succeeded on %s", d->o.job_namespace, name, s->partition);
			return 0;
		}
		json_array_foreach(json_object_get(jst, "conditions"), i, c)
			if (str(c, "type") && !strcmp(str(c, "type"), "Failed") && str(c, "status") &&
			    !strcmp(str(c, "status"), "True")) {
				rc = adp_error_set(ADP_ESYS, "update Job %s/%s failed on %s: %s", d->o.job_namespace, name,
						   s->partition, str(c, "reason") ?: "Failed");
				json_decref(ans);
				return rc;
			}
		json_decref(ans);
		ans = NULL;
		if (now_ms() >= deadline)
			return adp_error_set(ADP_ESYS, "update Job %s/%s did not finish in %llds", d->o.job_namespace, name,
					     (long long)timeout);
		sleep_ms(d->o.poll_ms);
	}
}

/* The schedule's update command, run here with ADPART_PARTITION set to
 * the node: the external hook. */
static int run_hook(struct orch_kube *d, const struct plan_step *s, int64_t timeout, char *msg, size_t len)
{
	int64_t deadline = now_ms() + timeout * 1000;
	char *const *argv = d->sched->update_argv;
	int logfd, st = 0;
	pid_t pid;

	if ((logfd = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
		return adp_error_set(ADP_ESYS, "cannot open '%s': %s", d->log_path, strerror(errno));
	if ((pid = fork()) < 0) {
		close(logfd);
		return adp_error_set(ADP_ESYS, "cannot fork: %s", strerror(errno));
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		dup2(nul, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		setenv("ADPART_PARTITION", s->partition, 1);
		setenv("ADPART_DRIVER", "kubernetes", 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(logfd);
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_ms() >= deadline) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			return adp_error_set(ADP_ESYS, "update command '%s' for %s timed out after %llds", argv[0],
					     s->partition, (long long)timeout);
		}
		sleep_ms(100);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return adp_error_set(ADP_ESYS, "update command '%s' for %s: exit status %d (output in '%s')", argv[0],
				     s->partition, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), d->log_path);
	snprintf(msg, len, "update command ran for %s", s->partition);
	return 0;
}

/* --- the driver -------------------------------------------------------- */

/* --- resizing a staying replica in place ------------------------------ */

static int by_name(const void *a, const void *b)
{
	return strcmp(str(md(*(json_t *const *)a), "name") ?: "", str(md(*(json_t *const *)b), "name") ?: "");
}

/* The pod of replica s->replica on s->partition: the workload's pods on
 * that node in name order, the k-th where k replicas of the component
 * with a lower index are placed there too. *out is a new reference. */
static int replica_pod(struct orch_kube *d, const struct plan_step *s, json_t **out)
{
	const struct inv_component *c = find_comp(d, s->component);
	int part = inventory_partition_index(d->inv, s->partition);
	json_t *pods = NULL, **v = NULL;
	size_t i, k = 0, n;
	int rc;

	*out = NULL;
	if (!c || part < 0)
		return adp_error_set(ADP_EINPUT, "kubernetes: no component '%s' on node '%s' in the inventory",
				     s->component ? s->component : "", s->partition ? s->partition : "");
	for (i = 0; i < s->replica && i < c->replicas; i++)
		k += c->placement && c->placement[i] == (size_t)part;
	if ((rc = originals_on(d, s->component, s->partition, &pods)))
		return rc;
	n = json_array_size(pods);
	if (k >= n) {
		rc = adp_error_set(ADP_ESYS, "kubernetes: replica %zu of %s: %zu pods of it on %s, none for this replica",
				   s->replica, s->component, n, s->partition);
	} else if (!(v = calloc(n, sizeof(*v)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
	} else {
		for (i = 0; i < n; i++)
			v[i] = json_array_get(pods, i);
		qsort(v, n, sizeof(*v), by_name);
		*out = json_incref(v[k]);
	}
	free(v);
	json_decref(pods);
	return rc;
}

static int has_cond(json_t *pod, const char *type, const char **reason, const char **message)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c)
		if (str(c, "type") && !strcmp(str(c, "type"), type) && str(c, "status") &&
		    !strcmp(str(c, "status"), "True")) {
			if (reason)
				*reason = str(c, "reason") ?: "";
			if (message)
				*message = str(c, "message") ?: "";
			return 1;
		}
	return 0;
}

/* Whether every container's actual resources (status.containerStatuses
 * [*].resources, where the kubelet reports them) equal the spec's cpu and
 * memory requests and limits. */
static int resize_actuated(json_t *pod)
{
	static const char *const keys[] = { "requests", "limits" }, *const rs[] = { "cpu", "memory" };
	json_t *c, *cs;
	size_t i, j;
	int a, b;

	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c)
		json_array_foreach(json_object_get(json_object_get(pod, "status"), "containerStatuses"), j, cs) {
			json_t *want = json_object_get(c, "resources"), *got = json_object_get(cs, "resources");

			if (!str(c, "name") || !str(cs, "name") || strcmp(str(c, "name"), str(cs, "name")) || !got)
				continue;
			for (a = 0; a < 2; a++)
				for (b = 0; b < 2; b++) {
					const char *w = str(json_object_get(want, keys[a]), rs[b]);
					const char *g = str(json_object_get(got, keys[a]), rs[b]);
					double wv, gv;

					if (!w && !g)
						continue;
					if (!w || !g || kube_quantity(w, &wv) || kube_quantity(g, &gv) ||
					    fabs(wv - gv) > 1e-9 * fmax(1, fabs(wv)))
						return 0;
				}
		}
	return 1;
}

/* PATCHes the pod's resize subresource with containers (name and
 * resources each) and waits until the kubelet has actuated it: no
 * PodResizePending or PodResizeInProgress condition (nor the older
 * status.resize), status.observedGeneration caught up, and the actual
 * resources equal to the spec's. Infeasible (the node cannot fit it at
 * all) fails at once; Deferred (it does not fit now) is waited on until
 * the timeout. 404 and 405 mean the cluster has no in-place resize. */
static int patch_resize(struct orch_kube *d, const char *ns, const char *name, json_t *containers, int64_t timeout,
			char *msg, size_t len)
{
	int64_t deadline = now_ms() + timeout * 1000;
	json_t *patch = json_pack("{s:{s:O}}", "spec", "containers", containers), *ans = NULL, *pod = NULL;
	char path[512];
	long st = 0;
	int rc;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/resize", ns, name);
	rc = kube_request(d->k, "PATCH", path, "application/strategic-merge-patch+json", patch, &st, &ans);
	json_decref(patch);
	json_decref(ans);
	if (rc)
		return rc;
	if (st == 404 || st == 405)
		return adp_error_set(ADP_ESYS,
				     "kubernetes: in-place resize of %s/%s is not available (HTTP %ld from pods/resize: it needs Kubernetes 1.33 or later, or 1.27 to 1.32 with the InPlacePodVerticalScaling feature gate); the pod was not changed",
				     ns, name, st);
	if (st != 200)
		return adp_error_set(ADP_ESYS, "kubernetes: resize of %s/%s refused: HTTP %ld: %s", ns, name, st,
				     d->k->last_error);
	for (;;) {
		const char *reason = NULL, *why = NULL, *legacy;
		json_int_t gen, seen;

		if ((rc = get_pod(d, ns, name, &st, &pod)))
			return rc;
		if (st != 200) {
			json_decref(pod);
			return adp_error_set(ADP_ESYS, "kubernetes: pod %s/%s gone during its resize (HTTP %ld)", ns, name, st);
		}
		legacy = str(json_object_get(pod, "status"), "resize");
		gen = json_integer_value(json_object_get(md(pod), "generation"));
		seen = json_integer_value(json_object_get(json_object_get(pod, "status"), "observedGeneration"));
		if ((has_cond(pod, "PodResizePending", &reason, &why) && !strcmp(reason, "Infeasible")) ||
		    (legacy && !strcmp(legacy, "Infeasible"))) {
			rc = adp_error_set(ADP_ESYS, "kubernetes: resize of %s/%s is infeasible on its node: %s", ns, name,
					   why && *why ? why : "the node cannot fit it");
			break;
		}
		if (!reason && !has_cond(pod, "PodResizeInProgress", NULL, NULL) &&
		    (!legacy || !*legacy) && (!seen || seen >= gen) && resize_actuated(pod)) {
			snprintf(msg, len, "pod %s/%s resized in place", ns, name);
			break;
		}
		if (now_ms() >= deadline) {
			rc = adp_error_set(ADP_ESYS, "kubernetes: resize of %s/%s not done after %llds%s%s", ns, name,
					   (long long)timeout, reason ? ": " : "", reason ? (why && *why ? why : reason) : "");
			break;
		}
		json_decref(pod);
		pod = NULL;
		sleep_ms(d->o.poll_ms);
	}
	json_decref(pod);
	return rc;
}

/* resize: the replica's pod gets the plan's allocation in place, its
 * prior resources kept first in the driver state ("resized", by pod). */
static int resize(struct orch_kube *d, const struct plan *p, const struct plan_step *s, int64_t timeout, char *msg,
		  size_t len)
{
	const struct plan_placement *x = plan_step_stayer(p, s);
	double a[ADP_RES_COUNT] = { 0 };
	const char *ns, *kind, *wname, *name;
	json_t *pod = NULL, *saved, *cs, *c, *want;
	char key[512];
	size_t i;
	int rc;

	if (!x)
		return adp_error_set(ADP_EINPUT, "step %zu (resize): '%s' replica %zu does not stay on '%s' in wave %zu",
				     s->id, s->component, s->replica, s->partition, s->wave);
	if ((rc = comp_ref(d, s->component, &ns, &kind, &wname)))
		return rc;
	snprintf(key, sizeof(key), "%s#%zu@%s", s->component, s->replica, s->partition);
	if (!(saved = json_object_get(d->state, "resized")))
		json_object_set_new(d->state, "resized", saved = json_object());
	/* Repeated after a crash: the pod chosen the first time. */
	if (json_object_get(saved, key)) {
		long st = 0;
		if ((rc = get_pod(d, ns, str(json_object_get(saved, key), "pod"), &st, &pod)))
			return rc;
		if (st != 200) {
			json_decref(pod);
			return adp_error_set(ADP_ESYS, "kubernetes: pod %s/%s of %s replica %zu is gone (HTTP %ld)", ns,
					     str(json_object_get(saved, key), "pod"), s->component, s->replica, st);
		}
	} else if ((rc = replica_pod(d, s, &pod))) {
		return rc;
	}
	name = str(md(pod), "name");
	if (!json_object_get(saved, key)) {
		cs = json_array();
		json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c)
			json_array_append_new(cs, json_pack("{s:s?, s:O}", "name", str(c, "name"), "resources",
							    json_object_get(c, "resources") ?: json_object()));
		json_object_set_new(saved, key, json_pack("{s:s?, s:s?, s:o}", "pod", name, "uid", str(md(pod), "uid"),
							  "containers", cs));
		if ((rc = state_save(d))) {
			json_decref(pod);
			return rc;
		}
	}
	a[ADP_RES_CPU] = x->alloc[ADP_RES_CPU];
	a[ADP_RES_MEMORY] = x->alloc[ADP_RES_MEMORY];
	want = json_array();
	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c)
		json_array_append_new(want, json_pack("{s:s?, s:O}", "name", str(c, "name"), "resources",
						      json_object_get(c, "resources") ?: json_object()));
	/* copies: size_containers changes them */
	json_array_foreach(want, i, c)
		json_object_set_new(c, "resources", json_deep_copy(json_object_get(c, "resources")));
	size_containers(want, a);
	rc = patch_resize(d, ns, name, want, timeout, msg, len);
	json_decref(want);
	json_decref(pod);
	return rc;
}

/* Whether the containers' cpu and memory requests and limits equal the
 * saved ones (by container name, as quantities). */
static int same_resources(json_t *cur, json_t *saved)
{
	static const char *const keys[] = { "requests", "limits" }, *const rs[] = { "cpu", "memory" };
	json_t *c, *sc;
	size_t i, j;
	int a, b;

	json_array_foreach(cur, i, c)
		json_array_foreach(saved, j, sc) {
			if (!str(c, "name") || !str(sc, "name") || strcmp(str(c, "name"), str(sc, "name")))
				continue;
			for (a = 0; a < 2; a++)
				for (b = 0; b < 2; b++) {
					const char *x = str(json_object_get(json_object_get(c, "resources"), keys[a]), rs[b]);
					const char *y = str(json_object_get(json_object_get(sc, "resources"), keys[a]), rs[b]);
					double xv, yv;

					if (!x && !y)
						continue;
					if (!x || !y || kube_quantity(x, &xv) || kube_quantity(y, &yv) ||
					    fabs(xv - yv) > 1e-9 * fmax(1, fabs(xv)))
						return 0;
				}
		}
	return 1;
}

/* restore_size: the resources saved by resize, exactly: a request or
 * limit the pod did not have before is removed (null in the patch). */
static int restore_size(struct orch_kube *d, const struct plan_step *s, int64_t timeout, char *msg, size_t len)
{
	static const char *const keys[] = { "requests", "limits" }, *const rs[] = { "cpu", "memory" };
	const char *ns, *kind, *wname, *name;
	json_t *pod = NULL, *saved, *e, *cs, *c, *sc;
	char key[512];
	size_t i, j;
	int rc, a, b;

	if ((rc = comp_ref(d, s->component, &ns, &kind, &wname)))
		return rc;
	snprintf(key, sizeof(key), "%s#%zu@%s", s->component, s->replica, s->partition);
	saved = json_object_get(d->state, "resized");
	if (!(e = json_object_get(saved, key))) {
		snprintf(msg, len, "%s replica %zu on %s was not resized: nothing to restore", s->component, s->replica,
			 s->partition);
		return 0;
	}
	name = str(e, "pod");
	{
		long st = 0;

		if ((rc = get_pod(d, ns, name, &st, &pod)))
			return rc;
		if (st == 404 || (st == 200 && str(e, "uid") && str(md(pod), "uid") &&
				  strcmp(str(e, "uid"), str(md(pod), "uid")))) {
			/* Replaced meanwhile: the controller made it from the
			 * unchanged template, with the prior resources. */
			json_decref(pod);
			snprintf(msg, len, "pod %s/%s was replaced: its successor has the template's resources", ns, name);
			json_object_del(saved, key);
			return state_save(d);
		}
		if (st != 200) {
			json_decref(pod);
			return adp_error_set(ADP_ESYS, "kubernetes: pod %s/%s: HTTP %ld", ns, name, st);
		}
	}
	cs = json_array();
	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
		json_t *res = json_object(), *prior = NULL;

		json_array_foreach(json_object_get(e, "containers"), j, sc)
			if (str(sc, "name") && str(c, "name") && !strcmp(str(sc, "name"), str(c, "name")))
				prior = json_object_get(sc, "resources");
		for (a = 0; a < 2; a++) {
			json_t *m, *pm = json_object_get(prior, keys[a]);

			/* None before: none after (an empty map is not the same document). */
			if (!pm) {
				json_object_set_new(res, keys[a], json_null());
				continue;
			}
			m = json_object();
			for (b = 0; b < 2; b++) {
				const char *v = str(json_object_get(prior, keys[a]), rs[b]);
				json_object_set_new(m, rs[b], v ? json_string(v) : json_null());
			}
			json_object_set_new(res, keys[a], m);
		}
		json_array_append_new(cs, json_pack("{s:s?, s:o}", "name", str(c, "name"), "resources", res));
	}
	/* Already as saved (the resize never took effect): no patch. */
	if (same_resources(json_object_get(json_object_get(pod, "spec"), "containers"), json_object_get(e, "containers")))
		snprintf(msg, len, "pod %s/%s has its prior resources", ns, name);
	else
		rc = patch_resize(d, ns, name, cs, timeout, msg, len);
	json_decref(cs);
	json_decref(pod);
	if (!rc) {
		json_object_del(saved, key);
		rc = state_save(d);
		if (!rc)
			snprintf(msg + strlen(msg), len > strlen(msg) ? len - strlen(msg) : 0, "; prior resources back");
	}
	return rc;
}

static int kube_check(void *ctx, const struct plan *p)
{
	struct orch_kube *d = ctx;
	json_t *n = NULL, *wl = NULL;
	size_t w, i;
	int rc;

	for (w = 0; w < p->nwaves; w++) {
		for (i = 0; i < p->waves[w].noffline; i++) {
			if ((rc = get_node(d, p->waves[w].offline[i], &n)))
				return adp_error_wrap(rc, "node %s the plan takes offline", p->waves[w].offline[i]);
			json_decref(n);
		}
		for (i = 0; i < p->waves[w].nplacements; i++) {
			const struct plan_placement *x = &p->waves[w].placements[i];
			const char *ns, *kind, *wname;

			if (!x->from)
				continue;
			if ((rc = comp_ref(d, x->component, &ns, &kind, &wname)) ||
			    (rc = get_workload(d, ns, kind, wname, &wl)))
				return rc;
			json_decref(wl);
			if ((rc = get_node(d, x->partition, &n)))
				return adp_error_wrap(rc, "target node of %s", x->component);
			if (json_is_true(json_object_get(json_object_get(n, "spec"), "unschedulable")) || !node_ready(n))
				rc = adp_error_set(ADP_EINPUT, "target node %s of %s is cordoned or not Ready: plan again",
						   x->partition, x->component);
			json_decref(n);
			if (rc)
				return rc;
		}
	}
	for (i = 0; i < p->nsteps; i++)
		if (!strcmp(p->steps[i].action, "run_update") && !d->o.update_image &&
		    !(d->sched && d->sched->update_argv))
			return adp_error_set(ADP_EINPUT,
					     "no update action: give --kube-update-image IMAGE (a Job per node) or an update command in the schedule");
	return 0;
}

static int kube_act(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct orch_kube *d = ctx;
	const char *a = s->action;
	int64_t t = s->timeout > 0 ? s->timeout : 120;
	int rc = 0;

	if (!strcmp(a, "create_partition") || !strcmp(a, "remove_partition")) {
		json_t *n = NULL;
		if (!strcmp(a, "remove_partition"))
			return 0;
		if ((rc = get_node(d, s->partition, &n)))
			return rc;
		if (!node_ready(n) || json_is_true(json_object_get(json_object_get(n, "spec"), "unschedulable")))
			rc = adp_error_set(ADP_ESYS, "target node %s is cordoned or not Ready", s->partition);
		else
			snprintf(msg, len, "node %s Ready and schedulable", s->partition);
		json_decref(n);
		return rc;
	}
	if (!strcmp(a, "start_shadow"))
		return start_shadow(d, p, s, msg, len);
	if (!strcmp(a, "health_check") || !strcmp(a, "verify_shadow"))
		return wait_shadow(d, s, t, msg, len);
	if (!strcmp(a, "canary") || !strcmp(a, "restore_traffic") || !strcmp(a, "switch_traffic") ||
	    !strcmp(a, "switch_back") || !strcmp(a, "cleanup")) {
		snprintf(msg, len, "nothing to do: Services route to every Ready pod");
		return 0;
	}
	if (!strcmp(a, "resize"))
		return resize(d, p, s, t, msg, len);
	if (!strcmp(a, "restore_size"))
		return restore_size(d, s, t, msg, len);
	/* An absorbed replica: its pod is evicted (PDB honoured) from the
	 * cordoned node and its controller recreates it elsewhere; after
	 * the update the workload must be whole again. */
	if (!strcmp(a, "drain_absorbed"))
		return drain(d, s, msg, len);
	if (!strcmp(a, "stop_absorbed"))
		return verify_gone(d, s, msg, len);
	if (!strcmp(a, "start_absorbed") || !strcmp(a, "undrain_absorbed"))
		return uncordon(d, s->partition, msg, len);
	if (!strcmp(a, "health_check_absorbed"))
		return wait_replicas(d, s, d->o.ready_timeout ? d->o.ready_timeout : t, msg, len);
	if (!strcmp(a, "drain"))
		return drain(d, s, msg, len);
	if (!strcmp(a, "undrain") || !strcmp(a, "start_original"))
		return uncordon(d, s->partition, msg, len);
	if (!strcmp(a, "stop_original"))
		return verify_gone(d, s, msg, len);
	if (!strcmp(a, "health_check_original")) {
		json_t *n = NULL;
		if ((rc = wait_node_ready(d, s->partition, d->o.ready_timeout ? d->o.ready_timeout : t)) ||
		    (rc = get_node(d, s->partition, &n)))
			return rc;
		json_t *e = json_object_get(json_object_get(d->state, "nodes"), s->partition);
		if (json_is_true(json_object_get(json_object_get(n, "spec"), "unschedulable")) && e &&
		    json_is_true(json_object_get(e, "cordoned")) && !json_is_true(json_object_get(e, "restored")))
			rc = adp_error_set(ADP_ESYS, "node %s is still cordoned by this run", s->partition);
		else
			snprintf(msg, len, "node %s Ready%s", s->partition,
				 json_is_true(json_object_get(json_object_get(n, "spec"), "unschedulable"))
					 ? " (cordoned before this run)" : " and schedulable");
		json_decref(n);
		if (!rc)
			rc = wait_replicas(d, s, d->o.ready_timeout ? d->o.ready_timeout : t, msg, len);
		return rc;
	}
	if (!strcmp(a, "stop_shadow"))
		return stop_shadow(d, s, t, msg, len);
	if (!strcmp(a, "run_update")) {
		char c[256] = "";
		if ((rc = cordon(d, s->partition, c, sizeof(c))))
			return rc;
		rc = d->o.update_image ? run_job(d, p, s, t, msg, len)
		     : d->sched && d->sched->update_argv
			     ? run_hook(d, s, t, msg, len)
			     : adp_error_set(ADP_EINPUT, "no update action for %s", s->partition);
		if (rc) {
			/* The run rolls back: the node gets its prior state again. */
			struct adp_error_state keep;
			adp_error_save(&keep, rc);
			uncordon(d, s->partition, c, 0);
			adp_error_restore(&keep);
		}
		return rc;
	}
	if (!strcmp(a, "verify_partition")) {
		if ((rc = wait_node_ready(d, s->partition, d->o.ready_timeout ? d->o.ready_timeout : t))) {
			struct adp_error_state keep;
			adp_error_save(&keep, rc);
			uncordon(d, s->partition, msg, 0);
			return adp_error_restore(&keep);
		}
		rc = uncordon(d, s->partition, msg, len);
		if (!rc && len)
			snprintf(msg + strlen(msg), len - strlen(msg), "; node %s Ready", s->partition);
		return rc;
	}
	return adp_error_set(ADP_EINPUT, "kubernetes driver: unknown action '%s'", a);
}

/* Actual usage of the shadow from Prometheus: the last point of the
 * last ten minutes. */
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
	if ((rc = comp_ref(d, x->component, &ns, &kind, &wname)))
		return rc;
	shadow_name(name, sizeof(name), wname, x->replica);
	snprintf(qc, sizeof(qc),
		 "sum(rate(container_cpu_usage_seconds_total{namespace=\"%s\",pod=\"%s\",container!=\"\"}[5m]))", ns, name);
	snprintf(qm, sizeof(qm), "sum(container_memory_working_set_bytes{namespace=\"%s\",pod=\"%s\",container!=\"\"})",
		 ns, name);
	ho.until = (int64_t)time(NULL) + 1;
	/* One query per resource: a resource without series is "no data" for
	 * it alone. */
	for (r = 0; r < 2; r++) {
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
		if ((rc = history_prom_read(&h, &po, x->component, &ho))) {
			history_release(&h);
			if (strstr(adp_error_last(), "returned no series"))
				continue;
			return rc;
		}
		se = history_find(&h, x->component, res);
		for (i = se ? se->n : 0; i-- > 0;)
			if (!isnan(se->v[i])) {
				usage[res] = se->v[i];
				have[res] = any = 1;
				break;
			}
		history_release(&h);
	}
	return any ? 0 : 1;
}

/* In-place resize of the shadow's limit through the pods/resize
 * subresource (strategic merge patch of containers by name). */
static int kube_grow(void *ctx, const struct plan *p, const struct plan_placement *x, int r, double limit)
{
	struct orch_kube *d = ctx;
	const char *ns, *kind, *wname;
	char name[96], path[512], q[64];
	json_t *pod = NULL, *patch, *cs, *c, *ans = NULL;
	size_t i, n;
	long st;
	int rc;

	(void)p;
	if (r != ADP_RES_CPU && r != ADP_RES_MEMORY)
		return adp_error_set(ADP_EINPUT, "kubernetes: only cpu and memory limits can grow");
	if ((rc = comp_ref(d, x->component, &ns, &kind, &wname)))
		return rc;
	shadow_name(name, sizeof(name), wname, x->replica);
	if ((rc = get_pod(d, ns, name, &st, &pod)))
		return rc;
	if (st != 200) {
		json_decref(pod);
		return adp_error_set(ADP_ESYS, "shadow %s/%s: HTTP %ld", ns, name, st);
	}
	cs = json_array();
	n = json_array_size(json_object_get(json_object_get(pod, "spec"), "containers"));
	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
		if (r == ADP_RES_CPU)
			quantity_cpu(q, sizeof(q), limit / (double)n);
		else
			quantity_mem(q, sizeof(q), limit / (double)n);
		json_array_append_new(cs, json_pack("{s:s?, s:{s:{s:s}}}", "name", str(c, "name"), "resources", "limits",
						    r == ADP_RES_CPU ? "cpu" : "memory", q));
	}
	json_decref(pod);
	patch = json_pack("{s:{s:o}}", "spec", "containers", cs);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/resize", ns, name);
	rc = kube_request(d->k, "PATCH", path, "application/strategic-merge-patch+json", patch, &st, &ans);
	json_decref(patch);
	json_decref(ans);
	if (!rc && st == 404)
		rc = adp_error_set(ADP_ESYS,
				   "kubernetes: in-place resize of %s/%s is not available (pods/resize needs Kubernetes 1.33 or later)",
				   ns, name);
	else if (!rc && st != 200)
		rc = adp_error_set(ADP_ESYS, "kubernetes: resize of %s/%s: HTTP %ld: %s", ns, name, st, d->k->last_error);
	return rc;
}

/* Every action goes through kube_act for now. */
static const orch_act_fn kube_ops[PLAN_ACTION_COUNT] = { [0 ... PLAN_ACTION_COUNT - 1] = kube_act };

void orch_kube_driver(struct orch_driver *drv, struct orch_kube *d)
{
	memset(drv, 0, sizeof(*drv));
	drv->ctx = d;
	drv->check = kube_check;
	drv->ops = kube_ops;
	drv->sample = d->o.prom && d->o.prom->url ? kube_sample : NULL;
	drv->grow = kube_grow;
}
