/* Nodes: cordon and uncordon (only what this run cordoned), readiness,
 * and the driver's state file, DIR/kube-state.json, which keeps each
 * node's prior schedulability (and the resources of resized pods) across
 * a crash. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orchestrator/kube/driver_int.h"
#include "util/error.h"
#include "util/fsutil.h"

#define STATE_MAX ((size_t)4 << 20)

static int flag(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

static int unschedulable(json_t *node)
{
	return flag(json_object_get(node, "spec"), "unschedulable");
}

int kube_schedulable(json_t *node)
{
	return kube_ready(node) && !unschedulable(node);
}

/* --- the state file ------------------------------------------------------ */

int kube_state_load(struct orch_kube *d)
{
	json_error_t err;
	char *text = NULL;
	int rc = 0;

	if (access(d->state_path, F_OK)) {
		if (!(d->state = json_pack("{s:{}}", "nodes")))
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
	} else if (!(rc = adp_read_file(&text, NULL, d->state_path, STATE_MAX))) {
		if (!(d->state = json_loads(text, 0, &err)))
			rc = adp_error_set(ADP_EINPUT, "%s:%d: driver state is not JSON: %s", d->state_path, err.line,
					   err.text);
		else if (!json_is_object(json_object_get(d->state, "nodes")) ||
			 (json_object_get(d->state, "resized") && !json_is_object(json_object_get(d->state, "resized"))))
			rc = adp_error_set(ADP_EINPUT, "%s: driver state is not {\"nodes\": {...}, \"resized\": {...}}",
					   d->state_path);
	}
	free(text);
	return rc;
}

int kube_state_save(struct orch_kube *d)
{
	char *text = json_dumps(d->state, JSON_INDENT(1) | JSON_SORT_KEYS);
	int rc = text ? adp_write_atomic(d->state_path, text, strlen(text)) : adp_error_set(ADP_ENOMEM, "out of memory");

	free(text);
	return rc;
}

/* --- cordon and uncordon ------------------------------------------------- */

int kube_get_node(struct orch_kube *d, const char *node, json_t **out)
{
	char path[512];

	snprintf(path, sizeof(path), "/api/v1/nodes/%s", node);
	return kube_get(d->k, path, out);
}

/* Sets spec.unschedulable with a merge patch carrying the resourceVersion
 * that was read, so a concurrent change gives 409 and a fresh read. */
static int set_unschedulable(struct orch_kube *d, const char *node, int on, json_t *cur)
{
	json_t *n = json_incref(cur), *patch, *ans;
	char path[512];
	long st = 0;
	int attempt, rc = 0;

	snprintf(path, sizeof(path), "/api/v1/nodes/%s", node);
	for (attempt = 0; attempt < 5; attempt++) {
		if (!n && (rc = kube_get_node(d, node, &n)))
			break;
		ans = NULL;
		patch = json_pack("{s:{s:s?}, s:{s:b}}", "metadata", "resourceVersion",
				  kube_str(kube_md(n), "resourceVersion"), "spec", "unschedulable", on);
		rc = patch ? kube_request(d->k, "PATCH", path, "application/merge-patch+json", patch, &st, &ans)
			   : adp_error_set(ADP_ENOMEM, "out of memory");
		json_decref(patch);
		json_decref(ans);
		json_decref(n);
		n = NULL;
		if (rc || st != 409)
			break;
	}
	if (!rc && st != 200)
		rc = adp_error_set(ADP_ESYS, "kubernetes: cannot %s node '%s': HTTP %ld%s%s", on ? "cordon" : "uncordon",
				   node, st, d->k->last_error[0] ? ": " : "", d->k->last_error);
	return rc;
}

/* The prior state is written before the change, so a crash in between
 * is repaired on resume. */
int kube_cordon(struct orch_kube *d, const char *node, char *msg, size_t len)
{
	json_t *nodes = json_object_get(d->state, "nodes"), *e = json_object_get(nodes, node), *n = NULL;
	int rc, prior;

	if ((rc = kube_get_node(d, node, &n)))
		return rc;
	prior = unschedulable(n);
	if (!e || flag(e, "restored")) {
		e = json_pack("{s:b, s:b}", "prior_unschedulable", prior, "cordoned", !prior);
		rc = json_object_set_new(nodes, node, e) ? adp_error_set(ADP_ENOMEM, "out of memory") : kube_state_save(d);
	}
	if (!rc && flag(e, "cordoned") && !prior) {
		if (!(rc = set_unschedulable(d, node, 1, n)) && len)
			snprintf(msg, len, "cordoned node '%s'", node);
	} else if (!rc && len && !*msg) {
		snprintf(msg, len, "node '%s' %s", node,
			 flag(e, "cordoned") ? "already cordoned by this run" : "was cordoned before: left as it was");
	}
	json_decref(n);
	return rc;
}

/* Uncordons node only when this driver cordoned it. */
static int uncordon(struct orch_kube *d, const char *node, char *msg, size_t len)
{
	json_t *e = json_object_get(json_object_get(d->state, "nodes"), node), *n = NULL;
	int rc = 0;

	if (!flag(e, "cordoned") || flag(e, "restored")) {
		if (len && !*msg)
			snprintf(msg, len, "node '%s' %s", node,
				 flag(e, "restored") ? "already uncordoned by this run" : "not cordoned by this run: left as it was");
	} else if (!(rc = kube_get_node(d, node, &n)) && (!unschedulable(n) || !(rc = set_unschedulable(d, node, 0, n)))) {
		if (json_object_set_new(e, "restored", json_true()))
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
		else if (!(rc = kube_state_save(d)) && len)
			snprintf(msg, len, "uncordoned node '%s'", node);
	}
	json_decref(n);
	return rc;
}

/* The message of the act that failed is kept around the cleanup. */
int kube_restore_node(struct orch_kube *d, const char *node, int rc)
{
	char keep[1024];

	snprintf(keep, sizeof(keep), "%s", adp_error_last());
	d->holding++;
	uncordon(d, node, NULL, 0);
	d->holding--;
	return adp_error_set(rc, "%s", keep);
}

/* --- readiness ----------------------------------------------------------- */

static int wait_node_ready(struct orch_kube *d, const char *node, int64_t timeout)
{
	int64_t deadline = kube_now_ms() + timeout * 1000;
	json_t *n = NULL;
	int rc, ready = 0;

	for (;;) {
		if ((rc = kube_get_node(d, node, &n)))
			break;
		ready = kube_ready(n);
		json_decref(n);
		n = NULL;
		if (ready || kube_now_ms() >= deadline || (rc = kube_pause(d, d->o.poll_ms)))
			break;
	}
	if (!rc && !ready)
		rc = adp_error_set(ADP_ESYS, "node '%s' is not Ready after %llds", node, (long long)timeout);
	return kube_wait_error(d, rc, "node '%s' to be Ready", node);
}

/* --- the ops ------------------------------------------------------------- */

/* create_partition: the target node is there to take the shadow. */
int kube_op_target_ready(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct orch_kube *d = kube_begin(ctx);
	json_t *n = NULL;
	int rc;

	(void)p;
	if (!(rc = kube_get_node(d, s->partition, &n)) && !kube_schedulable(n))
		rc = adp_error_set(ADP_ESYS, "target node '%s' is cordoned or not Ready", s->partition);
	else if (!rc)
		snprintf(msg, len, "node '%s' Ready and schedulable", s->partition);
	json_decref(n);
	return rc;
}

/* start_original, undrain, start_absorbed, undrain_absorbed: the home
 * node takes pods again (the controllers put them where they like). */
int kube_op_uncordon(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	(void)p;
	return uncordon(kube_begin(ctx), s->partition, msg, len);
}

/* health_check_original: the home node is Ready and no longer cordoned
 * by this run, and the workload is whole again. */
int kube_op_node_back(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct orch_kube *d = kube_begin(ctx);
	json_t *e = json_object_get(json_object_get(d->state, "nodes"), s->partition), *n = NULL;
	int64_t t = kube_ready_timeout(d, s);
	int rc;

	(void)p;
	if (!(rc = wait_node_ready(d, s->partition, t)) && !(rc = kube_get_node(d, s->partition, &n))) {
		if (unschedulable(n) && flag(e, "cordoned") && !flag(e, "restored"))
			rc = adp_error_set(ADP_ESYS, "node '%s' is still cordoned by this run", s->partition);
		else
			snprintf(msg, len, "node '%s' Ready%s", s->partition,
				 unschedulable(n) ? " (cordoned before this run)" : " and schedulable");
	}
	json_decref(n);
	return rc ? rc : kube_wait_replicas(d, s, t, msg, len);
}

/* verify_partition: the node is Ready after its update, then uncordoned
 * if this run cordoned it; a node that stays not Ready gets its prior
 * schedulability back and fails the step. */
int kube_op_verify_partition(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct orch_kube *d = kube_begin(ctx);
	int rc;

	(void)p;
	if ((rc = wait_node_ready(d, s->partition, kube_ready_timeout(d, s))))
		rc = kube_restore_node(d, s->partition, rc);
	else if (!(rc = uncordon(d, s->partition, msg, len)))
		kube_append(msg, len, "node '%s' Ready", s->partition);
	return rc;
}
