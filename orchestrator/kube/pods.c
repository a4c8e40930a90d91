/* Pods: the shadow of a moved replica (created from the workload's pod
 * template, pinned to the target node, awaited until Ready, deleted at
 * the end), the eviction of the originals from their home node, and the
 * in-place resize of a staying replica's pod and its undoing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/kube/discover.h"
#include "orchestrator/kube/driver_int.h"
#include "util/error.h"
#include "util/jsonutil.h"

/* --- workloads ----------------------------------------------------------- */

static const struct inv_component *find_comp(const struct orch_kube *d, const char *name)
{
	int i = name ? inventory_component_index(d->inv, name) : -1;

	return i < 0 ? NULL : &d->inv->comps[i];
}

int kube_comp_ref(const struct orch_kube *d, const char *comp, const char **ns, const char **kind,
		  const char **name)
{
	const struct inv_component *c = find_comp(d, comp);

	if (!c || !c->kube || !kube_str(c->kube, "namespace") || !kube_str(c->kube, "kind") || !kube_str(c->kube, "name"))
		return adp_error_set(ADP_EINPUT,
				     "component '%s' has no kubernetes section in the inventory: plan with --driver kubernetes",
				     comp ? comp : "");
	*ns = kube_str(c->kube, "namespace");
	*kind = kube_str(c->kube, "kind");
	*name = kube_str(c->kube, "name");
	return 0;
}

int kube_get_workload(struct orch_kube *d, const char *ns, const char *kind, const char *name, json_t **out)
{
	char path[512];

	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/%s/%s", ns,
		 !strcmp(kind, "StatefulSet") ? "statefulsets" : "deployments", name);
	return kube_get(d->k, path, out);
}

int kube_get_pod(struct orch_kube *d, const char *ns, const char *name, long *st, json_t **out)
{
	char path[512];

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	return kube_request(d->k, "GET", path, NULL, NULL, st, out);
}

/* The workload is whole again: status.readyReplicas (its controller's
 * count, which leaves the shadow out) reaches spec.replicas. */
int kube_wait_replicas(struct orch_kube *d, const struct plan_step *s, int64_t timeout, char *msg, size_t len)
{
	int64_t deadline = kube_now_ms() + timeout * 1000;
	const char *ns, *kind, *wname;
	json_int_t want, ready;
	json_t *wl = NULL;
	int rc;

	if ((rc = kube_comp_ref(d, s->component, &ns, &kind, &wname)))
		return rc;
	for (;;) {
		if ((rc = kube_get_workload(d, ns, kind, wname, &wl)))
			break;
		want = json_integer_value(json_object_get(json_object_get(wl, "spec"), "replicas"));
		ready = json_integer_value(json_object_get(json_object_get(wl, "status"), "readyReplicas"));
		json_decref(wl);
		wl = NULL;
		if (ready >= want) {
			kube_append(msg, len, "%s '%s/%s' has %lld of %lld replicas Ready", kind, ns, wname, (long long)ready,
				    (long long)want);
			break;
		}
		if (kube_now_ms() >= deadline) {
			rc = adp_error_set(ADP_ESYS, "%s '%s/%s' has %lld of %lld replicas Ready after %llds", kind, ns, wname,
					   (long long)ready, (long long)want, (long long)timeout);
			break;
		}
		if ((rc = kube_pause(d, d->o.poll_ms)))
			break;
	}
	return kube_wait_error(d, rc, "%s '%s/%s' to be whole", kind, ns, wname);
}

/* health_check_absorbed: the absorbed pod was recreated elsewhere. */
int kube_op_whole(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct orch_kube *d = kube_begin(ctx);

	(void)p;
	return kube_wait_replicas(d, s, kube_ready_timeout(d, s), msg, len);
}

/* --- the shadow pod ------------------------------------------------------ */

void kube_shadow_name(char *out, size_t len, const char *workload, size_t replica)
{
	snprintf(out, len, "%.40s-adp-shadow-%zu", workload, replica);
}

static const char *const controller_labels[] = { "pod-template-hash", "controller-revision-hash",
						 "statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index",
						 NULL };

void kube_quantity_text(char *out, size_t len, int r, double v)
{
	if (r == ADP_RES_CPU)
		snprintf(out, len, "%lldm", (long long)llround(v * 1000));
	else
		snprintf(out, len, "%lld", (long long)llround(v));
}

/* Spreads the reservation reserve over the containers as requests in
 * proportion to their requests (evenly when none has one; a container
 * without a request keeps none when others have one), and the limit
 * alloc (NULL: limits untouched but raised to the request) in the same
 * proportion over the limits the containers declare: a ceiling the
 * workload does not have is not added. */
static int size_containers(json_t *containers, const double reserve[ADP_RES_COUNT], const double *alloc)
{
	static const char *const keys[2] = { "cpu", "memory" };
	size_t n = json_array_size(containers), i;
	struct adp_jb jb = { 0 };
	int r;

	for (r = 0; r < 2; r++) {
		double total = 0, v;
		json_t *c;

		if (reserve[r] <= 0)
			continue;
		json_array_foreach(containers, i, c)
			if (!kube_quantity(kube_str(json_object_get(json_object_get(c, "resources"), "requests"), keys[r]), &v))
				total += v;
		json_array_foreach(containers, i, c) {
			json_t *res = json_object_get(c, "resources"), *req, *lim;
			double share, lv;
			char q[64];

			if (!res && !(res = adp_jset(&jb, c, "resources", json_object())))
				break;
			if (!(req = json_object_get(res, "requests")) && !(req = adp_jset(&jb, res, "requests", json_object())))
				break;
			lim = json_object_get(res, "limits");
			if (total > 0 && kube_quantity(kube_str(req, keys[r]), &v))
				continue; /* others carry the requests: this one keeps none */
			share = total > 0 ? v / total : 1.0 / (double)n;
			kube_quantity_text(q, sizeof(q), r == 0 ? ADP_RES_CPU : ADP_RES_MEMORY, reserve[r] * share);
			adp_jset(&jb, req, keys[r], json_string(q));
			if (!lim || kube_quantity(kube_str(lim, keys[r]), &lv))
				continue; /* no limit declared */
			if (alloc && alloc[r] > 0)
				lv = fmax(alloc[r], reserve[r]) * share;
			else if (lv >= reserve[r] * share)
				continue;
			else
				lv = reserve[r] * share;
			kube_quantity_text(q, sizeof(q), r == 0 ? ADP_RES_CPU : ADP_RES_MEMORY, lv);
			adp_jset(&jb, lim, keys[r], json_string(q));
		}
	}
	return adp_jb_check(&jb);
}

int kube_pin(json_t *spec, const char *node)
{
	json_t *aff = json_object_get(spec, "affinity");
	int err = 0;

	if (!aff)
		err |= json_object_set_new(spec, "affinity", aff = json_object());
	err |= json_object_set_new(aff, "nodeAffinity",
				   json_pack("{s:{s:[{s:[{s:s, s:s, s:[s]}]}]}}", "requiredDuringSchedulingIgnoredDuringExecution",
					     "nodeSelectorTerms", "matchFields", "key", "metadata.name", "operator", "In",
					     "values", node));
	json_object_del(spec, "nodeName");
	return err ? adp_error_set(ADP_ENOMEM, "out of memory") : 0;
}

json_t *orch_kube_shadow_pod(json_t *workload, const char *name, const char *component, const char *node,
			     const double reserve[ADP_RES_COUNT], const double alloc[ADP_RES_COUNT], const char *digest)
{
	json_t *tmpl = json_object_get(json_object_get(workload, "spec"), "template");
	json_t *labels = json_deep_copy(json_object_get(kube_md(tmpl), "labels"));
	json_t *ann = json_deep_copy(json_object_get(kube_md(tmpl), "annotations"));
	json_t *spec = json_deep_copy(json_object_get(tmpl, "spec"));
	char d12[13];
	size_t i;
	int err = !spec;

	if (!labels)
		labels = json_object();
	if (!ann)
		ann = json_object();
	for (i = 0; controller_labels[i]; i++)
		json_object_del(labels, controller_labels[i]);
	snprintf(d12, sizeof(d12), "%.12s", digest ? digest : "");
	err |= json_object_set_new(labels, KUBE_SHADOW_LABEL, json_string(kube_str(kube_md(workload), "name")));
	err |= json_object_set_new(labels, "adpart-update.io/plan", json_string(d12));
	err |= json_object_set_new(ann, "adpart-update.io/component", json_string(component));
	if (!err && !(err = kube_pin(spec, node)))
		err = size_containers(json_object_get(spec, "containers"), reserve, alloc);
	if (err) {
		json_decref(labels);
		json_decref(ann);
		json_decref(spec);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:{s:s, s:s?, s:o, s:o}, s:o}", "apiVersion", "v1", "kind", "Pod", "metadata",
			 "name", name, "namespace", kube_str(kube_md(workload), "namespace"), "labels", labels,
			 "annotations", ann, "spec", spec);
}

static int has_claims(json_t *wl)
{
	return json_array_size(json_object_get(json_object_get(wl, "spec"), "volumeClaimTemplates")) > 0;
}

/* start_shadow: the shadow pod, unless a StatefulSet's volumes tie its
 * pod to the home node's claims (it moves when evicted). */
int kube_op_start_shadow(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct orch_kube *d = kube_begin(ctx);
	const struct plan_placement *x = plan_step_moved(p, s);
	const double none[ADP_RES_COUNT] = { 0 };
	const char *ns, *kind, *wname;
	json_t *wl = NULL, *pod = NULL, *ans = NULL;
	char name[96], path[512];
	long st = 0;
	int rc;

	if ((rc = kube_comp_ref(d, s->component, &ns, &kind, &wname)) || (rc = kube_get_workload(d, ns, kind, wname, &wl)))
		goto done;
	if (!strcmp(kind, "StatefulSet") && has_claims(wl)) {
		snprintf(msg, len, "StatefulSet '%s/%s' has volume claims: no shadow, its pod moves when evicted", ns, wname);
		goto done;
	}
	kube_shadow_name(name, sizeof(name), wname, s->replica);
	if (!(pod = orch_kube_shadow_pod(wl, name, s->component, s->partition, x ? x->reserve : none, x ? x->alloc : none,
					 p->digest))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
	if ((rc = kube_request(d->k, "POST", path, NULL, pod, &st, &ans)))
		goto done;
	if (st == 409)
		snprintf(msg, len, "shadow '%s/%s' already exists", ns, name);
	else if (st == 201)
		snprintf(msg, len, "created shadow '%s/%s' on node '%s'", ns, name, s->partition);
	else
		rc = adp_error_set(ADP_ESYS, "kubernetes: cannot create shadow pod '%s/%s': HTTP %ld: %s", ns, name, st,
				   d->k->last_error);
done:
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
	return kube_ready(obj) ? 1 : 0;
}

/* Watches the pod from resourceVersion rv for up to secs: 1 Ready, 3
 * deleted, 0 nothing decisive (without a watch, after a pause), or a
 * negative ADP_E*. */
static int watch_pod(struct orch_kube *d, const char *ns, const char *name, const char *rv, int64_t secs)
{
	char path[1024];
	long st = 0;
	int stopped = 0, rc = 0;

	if (!d->no_watch && rv && secs >= 1) {
		snprintf(path, sizeof(path),
			 "/api/v1/namespaces/%s/pods?watch=1&fieldSelector=metadata.name%%3D%s&resourceVersion=%s&timeoutSeconds=%lld",
			 ns, name, rv, (long long)(secs > 30 ? 30 : secs));
		rc = kube_watch(d->k, path, on_shadow_event, NULL, &st, &stopped);
		if (!rc && st != 200)
			d->no_watch = 1; /* not allowed or not served: poll from now on */
	}
	if (!rc && st != 200)
		rc = kube_pause(d, d->o.poll_ms);
	return rc ? rc : stopped == 1 || stopped == 3 ? stopped : 0;
}

/* The last reason a pod's conditions give (": Unschedulable 0/3 nodes
 * ..."), or "". */
static void pod_why(json_t *pod, char *why, size_t len)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c)
		if (kube_str(c, "reason"))
			snprintf(why, len, ": %s %s", kube_str(c, "reason"), kube_str(c, "message") ?: "");
}

/* health_check, verify_shadow: the shadow is Ready (a read, then a watch
 * from the resourceVersion read); a StatefulSet without a shadow has
 * nothing to wait for. */
int kube_op_wait_shadow(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct orch_kube *d = kube_begin(ctx);
	int64_t timeout = kube_step_timeout(s), deadline = kube_now_ms() + timeout * 1000;
	const char *ns, *kind, *wname;
	char name[96], why[256] = "";
	json_t *pod = NULL;
	long st;
	int rc, seen;

	(void)p;
	if ((rc = kube_comp_ref(d, s->component, &ns, &kind, &wname)))
		return rc;
	kube_shadow_name(name, sizeof(name), wname, s->replica);
	while (!(rc = kube_get_pod(d, ns, name, &st, &pod))) {
		if (st == 404 && !strcmp(kind, "StatefulSet")) {
			snprintf(msg, len, "no shadow for StatefulSet '%s/%s'", ns, wname);
			break;
		}
		if (st != 200) {
			rc = adp_error_set(ADP_ESYS, "shadow pod '%s/%s': HTTP %ld: %s", ns, name, st, d->k->last_error);
			break;
		}
		if (kube_ready(pod)) {
			snprintf(msg, len, "shadow '%s/%s' Ready%s%s%s", ns, name, s->partition ? " on node '" : "",
				 s->partition ? s->partition : "", s->partition ? "'" : "");
			break;
		}
		pod_why(pod, why, sizeof(why));
		if (kube_now_ms() >= deadline) {
			rc = adp_error_set(ADP_ESYS, "shadow pod '%s/%s' is not Ready after %llds%s", ns, name,
					   (long long)timeout, why);
			break;
		}
		seen = watch_pod(d, ns, name, kube_str(kube_md(pod), "resourceVersion"), (deadline - kube_now_ms()) / 1000);
		json_decref(pod);
		pod = NULL;
		if (seen < 0)
			rc = seen;
		else if (seen == 3)
			rc = adp_error_set(ADP_ESYS, "shadow pod '%s/%s' was deleted while waiting for it", ns, name);
		if (rc)
			break;
	}
	json_decref(pod);
	return kube_wait_error(d, rc, "shadow pod '%s/%s' to be Ready", ns, name);
}

/* stop_shadow: the shadow is deleted and gone. */
int kube_op_stop_shadow(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct orch_kube *d = kube_begin(ctx);
	int64_t timeout = kube_step_timeout(s), deadline = kube_now_ms() + timeout * 1000;
	const char *ns, *kind, *wname;
	char name[96], path[512];
	json_t *ans = NULL;
	long st = 0;
	int rc;

	(void)p;
	if ((rc = kube_comp_ref(d, s->component, &ns, &kind, &wname)))
		return rc;
	kube_shadow_name(name, sizeof(name), wname, s->replica);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	if (!(rc = kube_request(d->k, "DELETE", path, NULL, NULL, &st, &ans)) && st != 200 && st != 202 && st != 404)
		rc = adp_error_set(ADP_ESYS, "kubernetes: cannot delete shadow '%s/%s': HTTP %ld: %s", ns, name, st,
				   d->k->last_error);
	json_decref(ans);
	while (!rc && st != 404) {
		ans = NULL;
		if (kube_now_ms() >= deadline)
			rc = adp_error_set(ADP_ESYS, "shadow '%s/%s' still there after %llds", ns, name, (long long)timeout);
		else if (!(rc = kube_pause(d, d->o.poll_ms)))
			rc = kube_get_pod(d, ns, name, &st, &ans);
		json_decref(ans);
	}
	if (!rc)
		snprintf(msg, len, "shadow '%s/%s' gone", ns, name);
	return kube_wait_error(d, rc, "shadow '%s/%s' to go", ns, name);
}

/* --- eviction ------------------------------------------------------------ */

/* Whether pod is the workload's own: its controller is the StatefulSet,
 * or for a Deployment a ReplicaSet "<deployment>-<pod-template-hash>"
 * (web's, not web-api's). */
static int owned_by(json_t *pod, const char *kind, const char *wname)
{
	size_t n = strlen(wname), i;
	json_t *r;
	int mine = 0;

	json_array_foreach(json_object_get(kube_md(pod), "ownerReferences"), i, r) {
		const char *rk = kube_str(r, "kind"), *rn = kube_str(r, "name");

		if (!json_is_true(json_object_get(r, "controller")) || !rk || !rn)
			continue;
		if (!strcmp(kind, "StatefulSet"))
			mine |= !strcmp(rk, "StatefulSet") && !strcmp(rn, wname);
		else
			mine |= !strcmp(rk, "ReplicaSet") && !strncmp(rn, wname, n) && rn[n] == '-' && !strchr(rn + n + 1, '-');
	}
	return mine;
}

int kube_originals_on(struct orch_kube *d, const char *comp, const char *node, json_t **out)
{
	const struct inv_component *c = find_comp(d, comp);
	json_t *sel = json_object_get(json_object_get(c ? c->kube : NULL, "selector"), "matchLabels");
	const char *ns, *kind, *wname, *k;
	char q[2048] = "", esc[3 * sizeof(q)], path[8192];
	json_t *items = NULL, *v, *keep = NULL;
	size_t i, o = 0;
	int rc;

	if ((rc = kube_comp_ref(d, comp, &ns, &kind, &wname)))
		return rc;
	json_object_foreach(sel, k, v)
		o += (size_t)snprintf(q + o, o < sizeof(q) ? sizeof(q) - o : 0, "%s%s=%s", o ? "," : "", k,
				      json_string_value(v) ?: "");
	snprintf(q + (o < sizeof(q) ? o : sizeof(q) - 1), o < sizeof(q) ? sizeof(q) - o : 1, "%s!%s", o ? "," : "",
		 KUBE_SHADOW_LABEL);
	adp_url_escape(esc, sizeof(esc), q);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods?labelSelector=%s&fieldSelector=spec.nodeName%%3D%s", ns,
		 esc, node);
	if (!(rc = kube_list(d->k, path, &items)) && !(keep = json_array()))
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
	json_array_foreach(items, i, v)
		if (!rc && owned_by(v, kind, wname) &&
		    !json_object_get(json_object_get(kube_md(v), "annotations"), "kubernetes.io/config.mirror") &&
		    json_array_append(keep, v))
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
	json_decref(items);
	if (rc)
		json_decref(keep);
	else
		*out = keep;
	return rc;
}

/* drain, drain_absorbed: the home node is cordoned and every original of
 * the component there is evicted (or deleted, --disable-eviction), then
 * polled until it is gone or replaced, all within --drain-timeout. A pod
 * with emptyDir volumes is refused without --delete-emptydir-data, as
 * kubectl drain does, before any is touched. */
int kube_op_drain(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct orch_kube *d = kube_begin(ctx);
	int64_t deadline = kube_now_ms() + d->o.drain_timeout * 1000;
	struct kube_drain_rules r = d->o.rules;
	const char *ns, *kind, *wname;
	json_t *pods = NULL, *keep = json_array(), *v;
	size_t i, evicted = 0, refused = 0;
	char cmsg[256] = "", what[320];
	int rc, now;

	(void)p;
	d->drain_late = 0;
	r.pod_selector = NULL; /* the plan's own pods: --pod-selector was checked before the run */
	snprintf(what, sizeof(what), "drain of '%s' on node '%s'", s->component, s->partition);
	if (!keep)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (!(rc = kube_comp_ref(d, s->component, &ns, &kind, &wname)) &&
	    !(rc = kube_cordon(d, s->partition, cmsg, sizeof(cmsg))) &&
	    !(rc = kube_originals_on(d, s->component, s->partition, &pods)))
		rc = kube_drain_refusals(pods, &r, s->partition, keep);
	json_array_foreach(keep, i, v) {
		if (rc || (rc = kube_remove_pod(d, what, ns, kube_str(kube_md(v), "name"), kube_drain_fate(v, &r), deadline,
						&refused, &now)))
			break;
		evicted += (size_t)now;
	}
	json_array_foreach(keep, i, v)
		if (rc || (rc = kube_wait_gone(d, what, s->partition, ns, v, deadline)))
			break;
	if (!rc)
		snprintf(msg, len, "%s%s%zu pods %s from node '%s' (%zu refusals by a disruption budget, retried)", cmsg,
			 *cmsg ? "; " : "", evicted, r.disable_eviction ? "deleted" : "evicted", s->partition, refused);
	json_decref(pods);
	json_decref(keep);
	return kube_drain_end(d, s->partition, kube_wait_error(d, rc, "the drain of '%s' on node '%s'", s->component,
							     s->partition));
}

/* stop_original, stop_absorbed: no pod of the workload is left on the
 * home node. */
int kube_op_gone(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct orch_kube *d = kube_begin(ctx);
	json_t *pods = NULL;
	int rc;

	(void)p;
	if (!(rc = kube_originals_on(d, s->component, s->partition, &pods)) && json_array_size(pods))
		rc = adp_error_set(ADP_ESYS, "%zu pods of '%s' still on node '%s'", json_array_size(pods), s->component,
				   s->partition);
	else if (!rc)
		snprintf(msg, len, "no pod of '%s' left on node '%s'", s->component, s->partition);
	json_decref(pods);
	return rc;
}

/* --- resizing a staying replica in place --------------------------------- */

static int by_name(const void *a, const void *b)
{
	return strcmp(kube_str(kube_md(*(json_t *const *)a), "name") ?: "",
		      kube_str(kube_md(*(json_t *const *)b), "name") ?: "");
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

	if (!c || part < 0)
		return adp_error_set(ADP_EINPUT, "kubernetes: no component '%s' on node '%s' in the inventory",
				     s->component ? s->component : "", s->partition ? s->partition : "");
	for (i = 0; i < s->replica && i < c->replicas; i++)
		k += c->placement && c->placement[i] == (size_t)part;
	if ((rc = kube_originals_on(d, s->component, s->partition, &pods)))
		return rc;
	n = json_array_size(pods);
	if (k >= n) {
		rc = adp_error_set(ADP_ESYS, "kubernetes: replica %zu of '%s': %zu pods of it on node '%s', none for this replica",
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
		if (kube_str(c, "type") && !strcmp(kube_str(c, "type"), type) && kube_str(c, "status") &&
		    !strcmp(kube_str(c, "status"), "True")) {
			if (reason)
				*reason = kube_str(c, "reason") ?: "";
			if (message)
				*message = kube_str(c, "message") ?: "";
			return 1;
		}
	return 0;
}

/* Whether two resources objects have the same cpu and memory requests
 * and limits, as quantities (absent from both is the same). */
static int same_quantities(json_t *a, json_t *b)
{
	static const char *const keys[] = { "requests", "limits" }, *const rs[] = { "cpu", "memory" };
	int i, j;

	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++) {
			const char *x = kube_str(json_object_get(a, keys[i]), rs[j]);
			const char *y = kube_str(json_object_get(b, keys[i]), rs[j]);
			double xv, yv;

			if ((x || y) && (!x || !y || kube_quantity(x, &xv) || kube_quantity(y, &yv) ||
					 fabs(xv - yv) > 1e-9 * fmax(1, fabs(xv))))
				return 0;
		}
	return 1;
}

/* Whether each container in as has the resources of its namesake in bs;
 * lenient: one in bs without "resources" is passed over (the kubelet
 * does not report them everywhere). */
static int same_resources(json_t *as, json_t *bs, int lenient)
{
	json_t *a, *b;
	size_t i, j;

	json_array_foreach(as, i, a)
		json_array_foreach(bs, j, b) {
			const char *an = kube_str(a, "name"), *bn = kube_str(b, "name");

			if (!an || !bn || strcmp(an, bn) || (lenient && !json_object_get(b, "resources")))
				continue;
			if (!same_quantities(json_object_get(a, "resources"), json_object_get(b, "resources")))
				return 0;
		}
	return 1;
}

int kube_resize_send(struct orch_kube *d, const char *ns, const char *name, json_t *containers)
{
	json_t *patch = json_pack("{s:{s:O}}", "spec", "containers", containers), *ans = NULL;
	char path[512];
	long st = 0;
	int rc;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/resize", ns, name);
	if (!patch)
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
	else
		rc = kube_request(d->k, "PATCH", path, "application/strategic-merge-patch+json", patch, &st, &ans);
	if (!rc && (st == 404 || st == 405))
		rc = adp_error_set(ADP_ESYS,
				   "kubernetes: in-place resize of pod '%s/%s' is not available (HTTP %ld from pods/resize: it needs Kubernetes 1.33 or later, or 1.27 to 1.32 with the InPlacePodVerticalScaling feature gate); the pod was not changed",
				   ns, name, st);
	else if (!rc && st != 200)
		rc = adp_error_set(ADP_ESYS, "kubernetes: resize of pod '%s/%s' refused: HTTP %ld: %s", ns, name, st,
				   d->k->last_error);
	json_decref(patch);
	json_decref(ans);
	return rc;
}

/* Polls until the kubelet has actuated the pod's resize: no
 * PodResizePending or PodResizeInProgress condition (nor the older
 * status.resize), status.observedGeneration caught up, and the actual
 * resources (status.containerStatuses[*].resources) equal to the spec's.
 * Infeasible (the node cannot fit it at all) fails at once; Deferred (it
 * does not fit now) is waited on until the timeout. */
static int wait_resized(struct orch_kube *d, const char *ns, const char *name, int64_t timeout, char *msg, size_t len)
{
	int64_t deadline = kube_now_ms() + timeout * 1000;
	json_t *pod = NULL, *status;
	long st = 0;
	int rc;

	for (;;) {
		const char *reason = NULL, *why = NULL, *legacy;
		json_int_t gen, seen;

		if ((rc = kube_get_pod(d, ns, name, &st, &pod)))
			break;
		if (st != 200) {
			rc = adp_error_set(ADP_ESYS, "kubernetes: pod '%s/%s' gone during its resize (HTTP %ld)", ns, name, st);
			break;
		}
		status = json_object_get(pod, "status");
		legacy = kube_str(status, "resize");
		gen = json_integer_value(json_object_get(kube_md(pod), "generation"));
		seen = json_integer_value(json_object_get(status, "observedGeneration"));
		if ((has_cond(pod, "PodResizePending", &reason, &why) && !strcmp(reason, "Infeasible")) ||
		    (legacy && !strcmp(legacy, "Infeasible"))) {
			rc = adp_error_set(ADP_ESYS, "kubernetes: resize of pod '%s/%s' is infeasible on its node: %s", ns, name,
					   why && *why ? why : "the node cannot fit it");
			break;
		}
		if (!reason && !has_cond(pod, "PodResizeInProgress", NULL, NULL) && (!legacy || !*legacy) &&
		    (!seen || seen >= gen) &&
		    same_resources(json_object_get(json_object_get(pod, "spec"), "containers"),
				   json_object_get(status, "containerStatuses"), 1)) {
			snprintf(msg, len, "pod '%s/%s' resized in place", ns, name);
			break;
		}
		if (kube_now_ms() >= deadline) {
			rc = adp_error_set(ADP_ESYS, "kubernetes: resize of pod '%s/%s' not done after %llds%s%s", ns, name,
					   (long long)timeout, reason ? ": " : "", reason ? (why && *why ? why : reason) : "");
			break;
		}
		json_decref(pod);
		pod = NULL;
		if ((rc = kube_pause(d, d->o.poll_ms)))
			break;
	}
	json_decref(pod);
	return kube_wait_error(d, rc, "the resize of pod '%s/%s'", ns, name);
}

/* The {name, resources} of each container of pod (copies), or NULL. */
static json_t *container_resources(json_t *pod)
{
	json_t *cs = json_array(), *c;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
		json_t *r = json_object_get(c, "resources");

		if (json_array_append_new(cs, json_pack("{s:s?, s:o}", "name", kube_str(c, "name"), "resources",
							r ? json_deep_copy(r) : json_object()))) {
			json_decref(cs);
			return NULL;
		}
	}
	return cs;
}

/* The state's "resized" entries (borrowed), made when missing. */
static json_t *resized_entries(struct orch_kube *d)
{
	json_t *r = json_object_get(d->state, "resized");

	if (!r && json_object_set_new(d->state, "resized", r = json_object()))
		r = NULL;
	return r;
}

/* resize: the replica's pod gets the plan's allocation in place, its
 * prior resources kept first in the driver state (by component, replica
 * and node); repeated after a crash, the pod chosen the first time. */
int kube_op_resize(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct orch_kube *d = kube_begin(ctx);
	const struct plan_placement *x = plan_step_stayer(p, s);
	double a[ADP_RES_COUNT] = { 0 };
	const char *ns, *kind, *wname, *name;
	json_t *saved = resized_entries(d), *e, *pod = NULL, *want = NULL;
	char key[512];
	long st = 0;
	int rc;

	if (!x)
		return adp_error_set(ADP_EINPUT, "step %zu (resize): '%s' replica %zu does not stay on '%s' in wave %zu",
				     s->id, s->component, s->replica, s->partition, s->wave);
	if (!saved)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if ((rc = kube_comp_ref(d, s->component, &ns, &kind, &wname)))
		return rc;
	snprintf(key, sizeof(key), "%s#%zu@%s", s->component, s->replica, s->partition);
	if ((e = json_object_get(saved, key))) {
		if (!(rc = kube_get_pod(d, ns, kube_str(e, "pod"), &st, &pod)) && st != 200)
			rc = adp_error_set(ADP_ESYS, "kubernetes: pod '%s/%s' of '%s' replica %zu is gone (HTTP %ld)", ns,
					   kube_str(e, "pod"), s->component, s->replica, st);
	} else if (!(rc = replica_pod(d, s, &pod))) {
		e = json_pack("{s:s?, s:s?, s:o}", "pod", kube_str(kube_md(pod), "name"), "uid",
			      kube_str(kube_md(pod), "uid"), "containers", container_resources(pod));
		rc = json_object_set_new(saved, key, e) ? adp_error_set(ADP_ENOMEM, "out of memory") : kube_state_save(d);
	}
	if (!rc && !(want = container_resources(pod)))
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
	if (!rc) {
		name = kube_str(kube_md(pod), "name");
		a[ADP_RES_CPU] = x->reserve[ADP_RES_CPU];
		a[ADP_RES_MEMORY] = x->reserve[ADP_RES_MEMORY];
		if (!(rc = size_containers(want, a, x->alloc)) && !(rc = kube_resize_send(d, ns, name, want)))
			rc = wait_resized(d, ns, name, kube_step_timeout(s), msg, len);
	}
	json_decref(want);
	json_decref(pod);
	return rc;
}

/* The resize patch that gives pod's containers their resources saved in
 * e: a map or a cpu or memory entry that was absent before is null (an
 * empty map is not the same document). NULL when out of memory. */
static json_t *prior_patch(json_t *pod, json_t *e)
{
	static const char *const keys[] = { "requests", "limits" }, *const rs[] = { "cpu", "memory" };
	json_t *cs = json_array(), *c, *sc;
	size_t i, j;
	int a, b, err = !cs;

	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
		json_t *res = json_object(), *prior = NULL;

		json_array_foreach(json_object_get(e, "containers"), j, sc)
			if (kube_str(sc, "name") && kube_str(c, "name") && !strcmp(kube_str(sc, "name"), kube_str(c, "name")))
				prior = json_object_get(sc, "resources");
		for (a = 0; a < 2; a++) {
			json_t *pm = json_object_get(prior, keys[a]), *m = pm ? json_object() : json_null();

			for (b = 0; pm && b < 2; b++)
				err |= json_object_set_new(m, rs[b], kube_str(pm, rs[b]) ? json_string(kube_str(pm, rs[b]))
											 : json_null());
			err |= json_object_set_new(res, keys[a], m);
		}
		err |= json_array_append_new(cs, json_pack("{s:s?, s:o}", "name", kube_str(c, "name"), "resources", res));
	}
	if (err) {
		json_decref(cs);
		cs = NULL;
	}
	return cs;
}

/* restore_size: the resources saved by resize, exactly; a pod replaced
 * meanwhile was made from the unchanged template, with its prior ones. */
int kube_op_restore_size(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct orch_kube *d = kube_begin(ctx);
	json_t *saved = json_object_get(d->state, "resized"), *e, *pod = NULL, *cs = NULL;
	const char *ns, *kind, *wname, *name, *uid;
	char key[512];
	long st = 0;
	int rc;

	(void)p;
	if ((rc = kube_comp_ref(d, s->component, &ns, &kind, &wname)))
		return rc;
	snprintf(key, sizeof(key), "%s#%zu@%s", s->component, s->replica, s->partition);
	if (!(e = json_object_get(saved, key))) {
		snprintf(msg, len, "'%s' replica %zu on node '%s' was not resized: nothing to restore", s->component,
			 s->replica, s->partition);
		return 0;
	}
	name = kube_str(e, "pod");
	if ((rc = kube_get_pod(d, ns, name, &st, &pod)))
		goto done;
	uid = kube_str(kube_md(pod), "uid");
	if (st == 404 || (st == 200 && kube_str(e, "uid") && uid && strcmp(kube_str(e, "uid"), uid))) {
		snprintf(msg, len, "pod '%s/%s' was replaced: its successor has the template's resources", ns, name);
		json_object_del(saved, key);
		rc = kube_state_save(d);
		goto done;
	}
	if (st != 200)
		rc = adp_error_set(ADP_ESYS, "kubernetes: pod '%s/%s': HTTP %ld", ns, name, st);
	/* Already as saved (the resize never took effect): no patch. */
	else if (same_resources(json_object_get(json_object_get(pod, "spec"), "containers"),
				json_object_get(e, "containers"), 0))
		snprintf(msg, len, "pod '%s/%s' has its prior resources", ns, name);
	else if (!(cs = prior_patch(pod, e)))
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
	else if (!(rc = kube_resize_send(d, ns, name, cs)))
		rc = wait_resized(d, ns, name, kube_step_timeout(s), msg, len);
	if (!rc) {
		json_object_del(saved, key); /* name is gone with it */
		if (!(rc = kube_state_save(d)))
			kube_append(msg, len, "prior resources back");
	}
done:
	json_decref(cs);
	json_decref(pod);
	return rc;
}
