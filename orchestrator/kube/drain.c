/* The drain, as kubectl drain does it: a pod is evicted through the
 * Eviction API (PodDisruptionBudgets honoured, 429 retried after the
 * backoff) or deleted (--disable-eviction, or --force on a pod without a
 * controller), with --grace-period; the node's other pods are drained
 * before its update under kubectl's rules (select.h); and the checks
 * before a run: the node and pod selectors, and the budgets that could
 * never allow the plan's evictions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/kube/driver_int.h"
#include "plans/steps.h"
#include "util/error.h"

/* --- one pod ------------------------------------------------------------- */

/* "?gracePeriodSeconds=N&dryRun=All", as the options ask, or "". */
static void delete_query(const struct orch_kube *d, char *out, size_t len, int dry)
{
	char g[48] = "";

	if (d->o.has_grace)
		snprintf(g, sizeof(g), "gracePeriodSeconds=%lld", (long long)d->o.grace_period);
	snprintf(out, len, "%s%s%s%s", *g || dry ? "?" : "", g, *g && dry ? "&" : "", dry ? "dryRun=All" : "");
}

/* One eviction or deletion request: *st its status. */
static int remove_once(struct orch_kube *d, const char *ns, const char *name, int fate, int dry, long *st)
{
	char path[640], q[96];
	json_t *ev = NULL, *ans = NULL;
	int rc;

	delete_query(d, q, sizeof(q), dry);
	if (fate == KUBE_FATE_DELETE) {
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s%s", ns, name, q);
		rc = kube_request(d->k, "DELETE", path, NULL, NULL, st, &ans);
	} else {
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/eviction%s", ns, name, dry ? "?dryRun=All" : "");
		ev = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "policy/v1", "kind", "Eviction", "metadata", "name",
			       name, "namespace", ns);
		if (ev && d->o.has_grace &&
		    json_object_set_new(ev, "deleteOptions", json_pack("{s:I}", "gracePeriodSeconds", (json_int_t)d->o.grace_period)))
			json_decref(ev), ev = NULL;
		rc = ev ? kube_request(d->k, "POST", path, NULL, ev, st, &ans) : adp_error_set(ADP_ENOMEM, "out of memory");
	}
	json_decref(ev);
	json_decref(ans);
	return rc;
}

int kube_dry_remove(struct orch_kube *d, const char *ns, const char *name, int fate, long *st)
{
	return remove_once(d, ns, name, fate, 1, st);
}

int kube_remove_pod(struct orch_kube *d, const char *what, const char *ns, const char *name, int fate,
		    int64_t deadline, size_t *refused, int *removed)
{
	const char *verb = fate == KUBE_FATE_DELETE ? "deletion" : "eviction";
	long st = 0;
	int rc;

	for (;;) {
		if ((rc = remove_once(d, ns, name, fate, 0, &st)) || st == 200 || st == 201 || st == 202 || st == 404)
			break;
		/* 429: a disruption budget refuses it now; 409 and 503 as kubectl retries them. */
		if (fate == KUBE_FATE_DELETE || (st != 429 && st != 409 && st != 503)) {
			rc = adp_error_set(ADP_ESYS, "kubernetes: %s of pod '%s/%s': HTTP %ld: %s", verb, ns, name, st,
					   d->k->last_error);
			break;
		}
		(*refused)++;
		if (kube_now_ms() + d->o.evict_backoff_ms > deadline) {
			d->drain_late = 1;
			rc = adp_error_set(ADP_ESYS, "%s timed out after %llds: eviction of pod '%s/%s' still refused: %s", what,
					   (long long)d->o.drain_timeout, ns, name, d->k->last_error);
			break;
		}
		if ((rc = kube_pause(d, d->o.evict_backoff_ms)))
			break;
	}
	*removed = !rc && st != 404;
	return rc;
}

int kube_wait_gone(struct orch_kube *d, const char *what, const char *node, const char *ns, json_t *pod,
		   int64_t deadline)
{
	const char *name = kube_str(kube_md(pod), "name"), *uid = kube_str(kube_md(pod), "uid"), *now;
	json_t *cur = NULL;
	long st;
	int rc;

	for (;;) {
		if ((rc = kube_get_pod(d, ns, name, &st, &cur)))
			break;
		now = kube_str(kube_md(cur), "uid");
		if (st == 404 || (st == 200 && (!uid || !now || strcmp(uid, now))) ||
		    (st == 200 && strcmp(kube_str(json_object_get(cur, "spec"), "nodeName") ?: "", node)))
			break;
		json_decref(cur);
		cur = NULL;
		if (kube_now_ms() >= deadline) {
			d->drain_late = 1;
			rc = adp_error_set(ADP_ESYS, "%s timed out after %llds: pod '%s/%s' is still there", what,
					   (long long)d->o.drain_timeout, ns, name);
			break;
		}
		if ((rc = kube_pause(d, d->o.poll_ms)))
			break;
	}
	json_decref(cur);
	return rc;
}

int kube_drain_end(struct orch_kube *d, const char *node, int rc)
{
	struct adp_error_state st;

	if (!rc || kube_cancelled(d) || !d->drain_late || d->o.on_drain_timeout == ORCH_KUBE_DRAIN_ROLLBACK)
		return rc;
	/* --on-drain-timeout stop: the node as before the step, the step
	 * left to --resume (which cordons and drains again) or --rollback;
	 * skip: the same, and the engine gives the wave up. */
	kube_restore_node(d, node, rc);
	adp_error_save(&st, rc);
	adp_error_set(ADP_ESYS, "%s; node '%s' given its prior schedulability back (--on-drain-timeout %s)", st.msg, node,
		      d->o.on_drain_timeout == ORCH_KUBE_DRAIN_SKIP ? "skip" : "stop");
	return d->o.on_drain_timeout == ORCH_KUBE_DRAIN_SKIP ? ORCH_ACT_SKIP : ORCH_ACT_STOP;
}

/* --- the pods of a node -------------------------------------------------- */

int kube_pods_on(struct orch_kube *d, const char *node, json_t **out)
{
	char path[640], esc[320];

	adp_url_escape(esc, sizeof(esc), node);
	snprintf(path, sizeof(path), "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", esc);
	return kube_list(d->k, path, out);
}

/* Appends "ns/name" to a list in out. */
static void add_name(char *out, size_t len, json_t *pod)
{
	size_t n = strlen(out);

	snprintf(out + n, len > n ? len - n : 0, "%s'%s/%s'", n ? ", " : "", kube_str(kube_md(pod), "namespace") ?: "default",
		 kube_str(kube_md(pod), "name") ?: "");
}

int kube_drain_refusals(json_t *pods, const struct kube_drain_rules *r, const char *node, json_t *keep)
{
	char bare[1024] = "", local[1024] = "";
	json_t *v;
	size_t i;

	json_array_foreach(pods, i, v) {
		int fate = kube_drain_fate(v, r);

		if (fate == KUBE_FATE_REFUSE_BARE)
			add_name(bare, sizeof(bare), v);
		else if (fate == KUBE_FATE_REFUSE_EMPTYDIR)
			add_name(local, sizeof(local), v);
		else if (keep && (fate == KUBE_FATE_EVICT || fate == KUBE_FATE_DELETE) && json_array_append(keep, v))
			return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	if (!*bare && !*local)
		return 0;
	return adp_error_set(ADP_ESYS, "cannot drain node '%s': %s%s%s%s%s%s%s", node,
			     *bare ? "pods without a controller (" : "", bare, *bare ? "): --force deletes them" : "",
			     *bare && *local ? "; " : "", *local ? "pods with emptyDir volumes (" : "", local,
			     *local ? "): --delete-emptydir-data lets them go, their data lost" : "");
}

int kube_drain_node(struct orch_kube *d, const struct plan_step *s, char *msg, size_t len)
{
	int64_t deadline = kube_now_ms() + d->o.drain_timeout * 1000;
	json_t *pods = NULL, *keep = json_array(), *v;
	size_t i, evicted = 0, deleted = 0, refused = 0, left;
	char what[320];
	int rc, now;

	snprintf(what, sizeof(what), "drain of node '%s'", s->partition);
	if (!keep)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (!(rc = kube_pods_on(d, s->partition, &pods)))
		rc = kube_drain_refusals(pods, &d->o.rules, s->partition, keep);
	json_array_foreach(keep, i, v) {
		int fate = kube_drain_fate(v, &d->o.rules);

		if (rc || (rc = kube_remove_pod(d, what, kube_str(kube_md(v), "namespace") ?: "default",
						kube_str(kube_md(v), "name"), fate, deadline, &refused, &now)))
			break;
		*(fate == KUBE_FATE_DELETE ? &deleted : &evicted) += (size_t)now;
	}
	json_array_foreach(keep, i, v)
		if (rc || (rc = kube_wait_gone(d, what, s->partition, kube_str(kube_md(v), "namespace") ?: "default", v, deadline)))
			break;
	left = json_array_size(pods) - json_array_size(keep);
	if (!rc && (evicted || deleted || refused))
		kube_append(msg, len, "node '%s' drained: %zu pods evicted, %zu deleted (%zu refusals by a disruption budget, retried), %zu left (DaemonSet, mirror, finished or not selected)",
			    s->partition, evicted, deleted, refused, left);
	else if (!rc)
		kube_append(msg, len, "no other pod to drain from node '%s' (%zu left: DaemonSet, mirror, finished or not selected)",
			    s->partition, left);
	json_decref(pods);
	json_decref(keep);
	return kube_wait_error(d, rc, "the drain of node '%s'", s->partition);
}

/* --- the check before a run ---------------------------------------------- */

/* A node the plan acts on matches --node-selector. */
static int check_node_selector(struct orch_kube *d, const char *node, const char *role)
{
	json_t *n = NULL;
	int rc;

	if (!d->o.node_selector)
		return 0;
	if (!(rc = kube_get_node(d, node, &n)) &&
	    !kube_selector_match(d->o.node_selector, json_object_get(kube_md(n), "labels")))
		rc = adp_error_set(ADP_EINPUT, "%s '%s' does not match --node-selector '%s': plan again with the same selector",
				   role, node, d->o.node_selector->text);
	json_decref(n);
	return rc;
}

/* The labels of the pods of component's workload (its pod template's;
 * borrowed from *wl, a new reference), and whether it gets a shadow. */
static int template_labels(struct orch_kube *d, const char *component, json_t **wl, json_t **labels, int *shadow,
			   const char **ns)
{
	const char *kind, *wname;
	int rc;

	*wl = NULL;
	if ((rc = kube_comp_ref(d, component, ns, &kind, &wname)) || (rc = kube_get_workload(d, *ns, kind, wname, wl)))
		return rc;
	*labels = json_object_get(kube_md(json_object_get(json_object_get(*wl, "spec"), "template")), "labels");
	*shadow = strcmp(kind, "StatefulSet") ||
		  !json_array_size(json_object_get(json_object_get(*wl, "spec"), "volumeClaimTemplates"));
	return 0;
}

/* The plan drains a component's pods: --pod-selector must select them. */
static int check_pod_selector(struct orch_kube *d, const struct plan_step *s)
{
	json_t *wl = NULL, *labels;
	const char *ns;
	int rc, shadow;

	if (!d->o.rules.pod_selector)
		return 0;
	if ((rc = template_labels(d, s->component, &wl, &labels, &shadow, &ns)))
		return rc;
	if (!kube_selector_match(d->o.rules.pod_selector, labels))
		rc = adp_error_set(ADP_EINPUT,
				   "--pod-selector '%s' does not select the pods of '%s', which step %zu (%s) moves off node '%s': widen the selector or plan without that node",
				   d->o.rules.pod_selector->text, s->component, s->id, s->action, s->partition);
	json_decref(wl);
	return rc;
}

/* Pods in ns matching the budget's selector that may count as healthy:
 * not terminating, not finished. */
static size_t budget_pods(json_t *pdb, json_t *pods)
{
	json_t *sel = json_object_get(json_object_get(pdb, "spec"), "selector"), *v;
	const char *ns = kube_str(kube_md(pdb), "namespace") ?: "default";
	size_t i, n = 0;

	json_array_foreach(pods, i, v) {
		const char *phase = kube_str(json_object_get(v, "status"), "phase");

		n += !strcmp(kube_str(kube_md(v), "namespace") ?: "default", ns) &&
		     !json_object_get(kube_md(v), "deletionTimestamp") &&
		     (!phase || (strcmp(phase, "Succeeded") && strcmp(phase, "Failed"))) &&
		     kube_label_selector_match(sel, json_object_get(kube_md(v), "labels"));
	}
	return n;
}

/* The shadows wave w adds that the budget counts (its pods while the
 * wave drains). */
static int budget_shadows(struct orch_kube *d, const struct plan_wave *w, json_t *pdb, size_t *n)
{
	json_t *sel = json_object_get(json_object_get(pdb, "spec"), "selector"), *wl, *labels;
	const char *ns;
	size_t i;
	int rc = 0, shadow;

	*n = 0;
	for (i = 0; !rc && i < w->nplacements; i++) {
		if (!w->placements[i].from || (rc = template_labels(d, w->placements[i].component, &wl, &labels, &shadow, &ns)))
			continue;
		*n += shadow && !strcmp(ns, kube_str(kube_md(pdb), "namespace") ?: "default") &&
		      kube_label_selector_match(sel, labels);
		json_decref(wl);
	}
	return rc;
}

/* The budgets over pod in its namespace: the first in *first, the
 * second in *second (NULL when fewer). */
static void budgets_of(json_t *pod, json_t *pdbs, json_t **first, json_t **second)
{
	const char *ns = kube_str(kube_md(pod), "namespace") ?: "default";
	json_t *b;
	size_t i;

	*first = *second = NULL;
	json_array_foreach(pdbs, i, b)
		if (!strcmp(kube_str(kube_md(b), "namespace") ?: "default", ns) &&
		    kube_label_selector_match(json_object_get(json_object_get(b, "spec"), "selector"),
					      json_object_get(kube_md(pod), "labels"))) {
			if (!*first)
				*first = b;
			else if (!*second)
				*second = b;
		}
}

/* The pods the drains of wave w evict from node: none a budget can never
 * let go, nor one under two budgets (the Eviction API refuses those). */
static int check_budgets_on(struct orch_kube *d, const struct plan_wave *w, size_t wave, const char *node, json_t *pods,
			    json_t *pdbs)
{
	json_t *v, *b, *b2, *blocker = NULL;
	char names[1024] = "", why[160] = "";
	size_t i, most = 0, shadows = 0;
	int rc = 0;

	json_array_foreach(pods, i, v) {
		if (strcmp(kube_str(json_object_get(v, "spec"), "nodeName") ?: "", node) ||
		    kube_drain_fate(v, &d->o.rules) != KUBE_FATE_EVICT)
			continue;
		budgets_of(v, pdbs, &b, &b2);
		if (b2)
			return adp_error_set(ADP_EINPUT,
					     "pod '%s/%s' on node '%s' (wave %zu) is under two PodDisruptionBudgets, '%s' and '%s' in namespace '%s': the Eviction API refuses to evict it; leave one budget over it",
					     kube_str(kube_md(v), "namespace") ?: "default", kube_str(kube_md(v), "name"), node,
					     wave, kube_str(kube_md(b), "name"), kube_str(kube_md(b2), "name"),
					     kube_str(kube_md(b), "namespace") ?: "default");
		if (!b || (blocker && b != blocker))
			continue;
		if (!blocker) {
			if ((rc = budget_shadows(d, w, b, &shadows)))
				return rc;
			most = budget_pods(b, pods) + shadows;
			if (!kube_pdb_never_allows(b, most, why, sizeof(why)))
				continue;
			blocker = b;
		}
		add_name(names, sizeof(names), v);
	}
	if (!blocker)
		return 0;
	return adp_error_set(ADP_EINPUT,
			     "PodDisruptionBudget '%s' in namespace '%s' can never allow a disruption (%s; %zu of them the plan's shadows): it blocks the eviction of %s from node '%s' (wave %zu); change the budget, or plan without that node",
			     kube_str(kube_md(blocker), "name"), kube_str(kube_md(blocker), "namespace") ?: "default", why, shadows,
			     names, node, wave);
}

int kube_check_drain(struct orch_kube *d, const struct plan *p)
{
	json_t *pods = NULL, *pdbs = NULL;
	size_t w, i;
	int rc = 0;

	for (w = 0; !rc && w < p->nwaves; w++) {
		for (i = 0; !rc && i < p->waves[w].noffline; i++)
			rc = check_node_selector(d, p->waves[w].offline[i], "node");
		for (i = 0; !rc && i < p->waves[w].nplacements; i++)
			if (p->waves[w].placements[i].from)
				rc = check_node_selector(d, p->waves[w].placements[i].partition, "target node");
	}
	for (i = 0; !rc && i < p->nsteps; i++)
		if (p->steps[i].act == PLAN_DRAIN || p->steps[i].act == PLAN_DRAIN_ABSORBED)
			rc = check_pod_selector(d, &p->steps[i]);
	/* Deletions (--disable-eviction) bypass the budgets. */
	if (rc || d->o.rules.disable_eviction)
		return rc;
	if (!(rc = kube_list(d->k, "/api/v1/pods", &pods)) && !(rc = kube_list(d->k, "/apis/policy/v1/poddisruptionbudgets", &pdbs)))
		for (w = 0; !rc && w < p->nwaves; w++)
			for (i = 0; !rc && i < p->waves[w].noffline; i++)
				rc = check_budgets_on(d, &p->waves[w], w + 1, p->waves[w].offline[i], pods, pdbs);
	json_decref(pods);
	json_decref(pdbs);
	return rc;
}

/* --- the blocking pods gate -------------------------------------------- */

int kube_gate(void *ctx, const struct plan *p, size_t wave, char *why, size_t len)
{
	struct orch_kube *d = ctx;
	const struct plan_wave *w = wave >= 1 && wave <= p->nwaves ? &p->waves[wave - 1] : NULL;
	size_t i, k;
	int rc;

	if (!d->o.blocking_pods || !w)
		return 0;
	for (i = 0; i < w->noffline; i++) {
		json_t *pods = NULL, *pod;

		if ((rc = kube_pods_on(d, w->offline[i], &pods)))
			return rc;
		json_array_foreach(pods, k, pod) {
			const char *phase = kube_str(json_object_get(pod, "status"), "phase");

			if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
				continue;
			if (kube_selector_match(d->o.blocking_pods, json_object_get(kube_md(pod), "labels"))) {
				snprintf(why, len, "pod '%s/%s' (a blocking pod: it matches --blocking-pod-selector) runs on "
					 "node '%s'", kube_str(kube_md(pod), "namespace") ?: "default",
					 kube_str(kube_md(pod), "name") ?: "", w->offline[i]);
				json_decref(pods);
				return 1;
			}
		}
		json_decref(pods);
	}
	return 0;
}
