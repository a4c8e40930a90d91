/* apply --dry-run=server: the writes of the plan's forward steps sent
 * with dryRun=All, so that the API server validates, authorises and
 * admits each as it would (RBAC, quotas, webhooks, disruption budgets)
 * without persisting anything; no effect is waited for. Each request is
 * one entry of the report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/kube/driver_int.h"
#include "plans/steps.h"
#include "util/error.h"

struct dry {
	struct orch_kube *d;
	const struct plan *p;
	json_t *report;  /* the entries */
	json_t *seen;    /* nodes cordoned and pods drained so far: {key: true} */
	int refused;
};

/* One entry: a request's verdict from its status (st 0: no request, the
 * driver's own refusal in message). */
static int entry(struct dry *y, const struct plan_step *s, const char *what, long st, int eviction, const char *message)
{
	const char *verdict = st / 100 == 2 ? "accepted" : eviction && st == 429 ? "blocked" : "refused";
	json_t *e = json_pack("{s:I, s:s, s:s?, s:s, s:s, s:I, s:s?}", "step", (json_int_t)s->id, "action", s->action,
			      "node", s->partition, "what", what, "verdict", verdict, "status", (json_int_t)st, "message",
			      message && *message ? message : NULL);

	y->refused += !strcmp(verdict, "refused");
	return !e || json_array_append_new(y->report, e) ? adp_error_set(ADP_ENOMEM, "out of memory") : 0;
}

/* Whether key was seen, marking it. */
static int seen(struct dry *y, const char *key)
{
	if (json_object_get(y->seen, key))
		return 1;
	json_object_set_new(y->seen, key, json_true());
	return 0;
}

static int dry_shadow(struct dry *y, const struct plan_step *s)
{
	const struct plan_placement *x = plan_step_moved(y->p, s);
	const double none[ADP_RES_COUNT] = { 0 };
	const char *ns, *kind, *wname;
	json_t *wl = NULL, *pod = NULL, *ans = NULL;
	char name[96], path[512], what[320];
	long st = 0;
	int rc;

	if ((rc = kube_comp_ref(y->d, s->component, &ns, &kind, &wname)) ||
	    (rc = kube_get_workload(y->d, ns, kind, wname, &wl)))
		goto done;
	if (!strcmp(kind, "StatefulSet") && json_array_size(json_object_get(json_object_get(wl, "spec"), "volumeClaimTemplates")))
		goto done; /* no shadow: its pod moves when evicted */
	kube_shadow_name(name, sizeof(name), wname, s->replica);
	if (!(pod = orch_kube_shadow_pod(wl, name, s->component, s->partition, x ? x->reserve : none, x ? x->alloc : none,
					 y->p->digest))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods?dryRun=All", ns);
	snprintf(what, sizeof(what), "create shadow pod '%s/%s' on node '%s'", ns, name, s->partition);
	if (!(rc = kube_request(y->d->k, "POST", path, NULL, pod, &st, &ans)))
		rc = entry(y, s, what, st, 0, y->d->k->last_error);
done:
	json_decref(ans);
	json_decref(pod);
	json_decref(wl);
	return rc;
}

static int dry_cordon(struct dry *y, const struct plan_step *s)
{
	json_t *n = NULL, *patch = NULL, *ans = NULL;
	char path[512], what[320];
	long st = 0;
	int rc;

	if (seen(y, s->partition))
		return 0;
	snprintf(what, sizeof(what), "cordon node '%s'", s->partition);
	if ((rc = kube_get_node(y->d, s->partition, &n)))
		return rc;
	if (json_is_true(json_object_get(json_object_get(n, "spec"), "unschedulable"))) {
		json_decref(n);
		return entry(y, s, what, 200, 0, "cordoned already: left as it is");
	}
	snprintf(path, sizeof(path), "/api/v1/nodes/%s?dryRun=All", s->partition);
	if (!(patch = json_pack("{s:{s:b}}", "spec", "unschedulable", 1)))
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
	else if (!(rc = kube_request(y->d->k, "PATCH", path, "application/merge-patch+json", patch, &st, &ans)))
		rc = entry(y, s, what, st, 0, y->d->k->last_error);
	json_decref(ans);
	json_decref(patch);
	json_decref(n);
	return rc;
}

/* The evictions or deletions of pods (each once), and the pods the
 * drain would refuse. */
static int dry_pods(struct dry *y, const struct plan_step *s, json_t *pods, const struct kube_drain_rules *r)
{
	json_t *v;
	size_t i;
	int rc = 0;

	json_array_foreach(pods, i, v) {
		const char *ns = kube_str(kube_md(v), "namespace") ?: "default", *name = kube_str(kube_md(v), "name") ?: "";
		int fate = kube_drain_fate(v, r);
		char key[400], what[400];
		long st = 0;

		snprintf(key, sizeof(key), "pod %s/%s", ns, name);
		if ((fate != KUBE_FATE_EVICT && fate != KUBE_FATE_DELETE && fate != KUBE_FATE_REFUSE_BARE &&
		     fate != KUBE_FATE_REFUSE_EMPTYDIR) || seen(y, key))
			continue;
		snprintf(what, sizeof(what), "%s pod '%s/%s' from node '%s'",
			 fate == KUBE_FATE_EVICT ? "evict" : fate == KUBE_FATE_DELETE ? "delete" : "drain", ns, name, s->partition);
		if (fate == KUBE_FATE_REFUSE_BARE)
			rc = entry(y, s, what, 0, 0, "no controller: --force deletes it");
		else if (fate == KUBE_FATE_REFUSE_EMPTYDIR)
			rc = entry(y, s, what, 0, 0, "emptyDir volumes: --delete-emptydir-data lets it go, its data lost");
		else if (!(rc = kube_dry_remove(y->d, ns, name, fate, &st)))
			rc = entry(y, s, what, st, fate == KUBE_FATE_EVICT, y->d->k->last_error);
		if (rc)
			break;
	}
	return rc;
}

static int dry_drain(struct dry *y, const struct plan_step *s)
{
	struct kube_drain_rules r = y->d->o.rules;
	json_t *pods = NULL;
	int rc;

	r.pod_selector = NULL; /* the plan's own pods */
	if (!(rc = dry_cordon(y, s)) && !(rc = kube_originals_on(y->d, s->component, s->partition, &pods)))
		rc = dry_pods(y, s, pods, &r);
	json_decref(pods);
	return rc;
}

static int dry_update(struct dry *y, const struct plan_step *s)
{
	const struct orch_kube *d = y->d;
	char name[96], path[512], what[320];
	json_t *pods = NULL, *job = NULL, *ans = NULL;
	long st = 0;
	int rc;

	if ((rc = dry_cordon(y, s)) || (rc = kube_pods_on(y->d, s->partition, &pods)) ||
	    (rc = dry_pods(y, s, pods, &d->o.rules)) || !d->o.update_image)
		goto done;
	kube_job_name(name, sizeof(name), s->partition, y->p->digest);
	if (!(job = orch_kube_update_job(name, d->o.job_namespace, s->partition, d->o.update_image,
					 d->sched ? d->sched->update_argv : NULL, kube_step_timeout(s), d->o.job_backoff_limit))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	snprintf(path, sizeof(path), "/apis/batch/v1/namespaces/%s/jobs?dryRun=All", d->o.job_namespace);
	snprintf(what, sizeof(what), "create update Job '%s/%s' for node '%s'", d->o.job_namespace, name, s->partition);
	if (!(rc = kube_request(y->d->k, "POST", path, NULL, job, &st, &ans)))
		rc = entry(y, s, what, st, 0, y->d->k->last_error);
done:
	json_decref(ans);
	json_decref(job);
	json_decref(pods);
	return rc;
}

int kube_dry_run_steps(struct orch_kube *d, const struct plan *p, json_t **report)
{
	struct dry y = { d, p, json_array(), json_object(), 0 };
	size_t i;
	int rc = y.report && y.seen ? 0 : adp_error_set(ADP_ENOMEM, "out of memory");

	for (i = 0; !rc && i < p->nsteps; i++) {
		const struct plan_step *s = &p->steps[i];

		if (s->act == PLAN_START_SHADOW)
			rc = dry_shadow(&y, s);
		else if (s->act == PLAN_DRAIN || s->act == PLAN_DRAIN_ABSORBED)
			rc = dry_drain(&y, s);
		else if (s->act == PLAN_RUN_UPDATE)
			rc = dry_update(&y, s);
	}
	json_decref(y.seen);
	if (rc) {
		json_decref(y.report);
		return rc;
	}
	*report = y.report;
	return y.refused ? 1 : 0;
}
