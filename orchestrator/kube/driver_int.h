/* What the kubernetes driver's files share, internal to it (users of
 * the driver include orchestrator/kube/driver.h): driver.c (the ops
 * table, check, cancellation, monitoring), nodes.c (cordon, readiness,
 * the state file), pods.c (shadows, eviction, resize) and job.c (the
 * update). The kube_op_* functions are orch_act_fn slots of the ops
 * table. */
#ifndef ADP_ORCH_KUBE_INT_H
#define ADP_ORCH_KUBE_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "orchestrator/kube/driver.h"

#define KUBE_STEP_TIMEOUT 120 /* seconds, for a step without its own */

static inline const char *kube_str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static inline json_t *kube_md(json_t *o)
{
	return json_object_get(o, "metadata");
}

/* --- acts and cancellation (driver.c) ----------------------------------- */

/* The driver of an act that starts now: a cancel of the act before it
 * does not carry over. */
struct orch_kube *kube_begin(void *ctx);
/* Non-zero when the act under way is cancelled and not holding. */
int kube_cancelled(const struct orch_kube *d);
/* Sleeps ms, less when the act is cancelled: 0, or ADP_ESYS. */
int kube_pause(struct orch_kube *d, int64_t ms);
/* rc from a wait; when the act was cancelled, the message says what was
 * awaited (fmt) instead of which request was cut. */
int kube_wait_error(const struct orch_kube *d, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int64_t kube_now_ms(void);
/* Appends to msg, after "; " when it is not empty. */
void kube_append(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Seconds: the step's timeout, else KUBE_STEP_TIMEOUT. */
int64_t kube_step_timeout(const struct plan_step *s);
/* Seconds a node or workload may take to be Ready: --ready-timeout,
 * else the step's timeout. */
int64_t kube_ready_timeout(const struct orch_kube *d, const struct plan_step *s);

/* --- workloads and pods (pods.c) ---------------------------------------- */

/* The workload of component comp from the inventory (borrowed strings),
 * or ADP_EINPUT when it has no kubernetes section. */
int kube_comp_ref(const struct orch_kube *d, const char *comp, const char **ns, const char **kind,
		  const char **name);
int kube_get_workload(struct orch_kube *d, const char *ns, const char *kind, const char *name, json_t **out);
/* GET of a pod: *st the HTTP status, *out its answer (new reference). */
int kube_get_pod(struct orch_kube *d, const char *ns, const char *name, long *st, json_t **out);
void kube_shadow_name(char *out, size_t len, const char *workload, size_t replica);
/* A quantity for resource r (ADP_RES_CPU: millicores, else bytes). */
void kube_quantity_text(char *out, size_t len, int r, double v);
/* Pins a pod spec to node by a required node affinity on metadata.name:
 * 0 or ADP_ENOMEM. */
int kube_pin(json_t *spec, const char *node);
/* PATCHes the pod's resize subresource with containers (name and
 * resources each); 404 and 405 mean the cluster has no in-place resize. */
int kube_resize_send(struct orch_kube *d, const char *ns, const char *name, json_t *containers);
/* Waits until s's workload has all its replicas Ready; appends to msg. */
int kube_wait_replicas(struct orch_kube *d, const struct plan_step *s, int64_t timeout, char *msg, size_t len);

/* The workload's pods on node now (its originals: shadows and mirror
 * pods excluded). *out is a new array. */
int kube_originals_on(struct orch_kube *d, const char *comp, const char *node, json_t **out);

/* --- the drain (drain.c) ------------------------------------------------- */

/* Every pod on node, in every namespace (*out a new array). */
int kube_pods_on(struct orch_kube *d, const char *node, json_t **out);
/* The driver's gate (orch_driver.gate): a pod matching the blocking
 * selector on a node the wave takes offline. */
int kube_gate(void *ctx, const struct plan *p, size_t wave, char *why, size_t len);
/* Evicts (KUBE_FATE_EVICT: a refusal, 429, or 409 and 503, is retried
 * after the backoff until deadline, counted in *refused) or deletes
 * (KUBE_FATE_DELETE) pod ns/name with --grace-period. *removed is 0 when
 * the pod was gone already (404). what ("drain of ...") starts the
 * timeout's message, which sets d->drain_late. */
int kube_remove_pod(struct orch_kube *d, const char *what, const char *ns, const char *name, int fate,
		    int64_t deadline, size_t *refused, int *removed);
/* The same request once, with dryRun=All: *st its status. */
int kube_dry_remove(struct orch_kube *d, const char *ns, const char *name, int fate, long *st);
/* Polls until pod (as listed before its removal) is gone or replaced:
 * 404, or the same name with a new uid or on another node. */
int kube_wait_gone(struct orch_kube *d, const char *what, const char *node, const char *ns, json_t *pod,
		   int64_t deadline);
/* The pods of pods a drain must refuse under r (bare, emptyDir): 0, or
 * ADP_ESYS naming them and the option that lets them go. The pods to
 * evict or delete are appended to keep (may be NULL). */
int kube_drain_refusals(json_t *pods, const struct kube_drain_rules *r, const char *node, json_t *keep);
/* The node's pods that no step of the plan moved, drained under
 * kubectl's rules (run_update, after the cordon); appends to msg. */
int kube_drain_node(struct orch_kube *d, const struct plan_step *s, char *msg, size_t len);
/* After a drain on node ended with rc: with --on-drain-timeout stop (or
 * skip) and a drain out of time (not cancelled), the node's prior
 * schedulability back and ORCH_ACT_STOP (or ORCH_ACT_SKIP); else rc. */
int kube_drain_end(struct orch_kube *d, const char *node, int rc);
/* The check before a run: --node-selector, --pod-selector, and the
 * budgets that can never allow the plan's evictions. */
int kube_check_drain(struct orch_kube *d, const struct plan *p);

/* The steps' requests with dryRun=All (dryrun.c): orch_kube_dry_run
 * after the check. */
int kube_dry_run_steps(struct orch_kube *d, const struct plan *p, json_t **report);
/* The update Job's name for node (job.c). */
void kube_job_name(char *out, size_t len, const char *node, const char *digest);

/* --- nodes and the state file (nodes.c) --------------------------------- */

int kube_state_load(struct orch_kube *d);
int kube_state_save(struct orch_kube *d);
int kube_get_node(struct orch_kube *d, const char *node, json_t **out);
/* Ready, and not cordoned. */
int kube_schedulable(json_t *node);
/* Cordons node unless it already is, its prior state saved first. */
int kube_cordon(struct orch_kube *d, const char *node, char *msg, size_t len);
/* After act failed with rc: node's prior schedulability back, not cut
 * by a cancel; returns rc with the act's message. */
int kube_restore_node(struct orch_kube *d, const char *node, int rc);

/* --- the ops ------------------------------------------------------------ */

/* The type of the ops, to declare them (an orch_act_fn points to one). */
typedef int kube_op(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len);

kube_op kube_op_target_ready, kube_op_uncordon, kube_op_node_back, kube_op_verify_partition; /* nodes.c */
kube_op kube_op_start_shadow, kube_op_wait_shadow, kube_op_stop_shadow;                     /* pods.c */
kube_op kube_op_drain, kube_op_gone, kube_op_whole, kube_op_resize, kube_op_restore_size;
kube_op kube_op_run_update;                                                                   /* job.c */

#endif
