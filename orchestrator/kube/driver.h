/* The kubernetes driver: partitions are nodes, components are
 * Deployments and StatefulSets, as discovery wrote them into the
 * inventory (orchestrator/kube/discover.h).
 *
 * Per moved replica: a shadow pod from the workload's pod template,
 * pinned to the target node by node affinity and sized to the plan's
 * allocation, is created and waited for until Ready; then the home node
 * is cordoned (its prior state kept in DIR/kube-state.json) and the
 * workload's pods there are evicted through the Eviction API, which
 * honours PodDisruptionBudgets (429 retried after a backoff, 404 counted
 * as gone, a finite drain timeout). DaemonSet and mirror pods are never
 * touched. The update per node is a privileged Job pinned to it, or the
 * schedule's update command run here as an external hook; the node must
 * be Ready again before the wave goes on. Nodes are uncordoned only when
 * this driver cordoned them.
 *
 * The engine may cancel an act at its step's deadline: every wait (a
 * pod or node to be Ready, an eviction's backoff, a Job, the hook) and
 * every request in flight returns at once, failing the step; undoing
 * what the failed act changed (a node's prior schedulability) is not
 * cut short. */
#ifndef ADP_ORCH_KUBE_H
#define ADP_ORCH_KUBE_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#include "history/prometheus.h"
#include "orchestrator/engine.h"
#include "orchestrator/kube/client.h"
#include "orchestrator/kube/select.h"
#include "partition/inventory.h"
#include "partition/schedule.h"

#define ORCH_KUBE_DRAIN_TIMEOUT 600 /* seconds */
#define ORCH_KUBE_EVICT_BACKOFF 5000 /* ms between evictions refused with 429 */
#define ORCH_KUBE_POLL 1000          /* ms between polls */

/* What a drain that runs out of --drain-timeout does. */
enum orch_kube_on_drain_timeout {
	ORCH_KUBE_DRAIN_ROLLBACK = 0, /* the step fails: the run rolls back */
	ORCH_KUBE_DRAIN_STOP,         /* the node gets its prior state back and apply stops there, resumable */
	ORCH_KUBE_DRAIN_SKIP,         /* the node gets its prior state back, its wave is undone, the next goes on */
};

struct orch_kube_opts {
	int64_t drain_timeout;      /* seconds; 0: ORCH_KUBE_DRAIN_TIMEOUT */
	int64_t evict_backoff_ms;   /* 0: ORCH_KUBE_EVICT_BACKOFF */
	int64_t poll_ms;            /* 0: ORCH_KUBE_POLL */
	int64_t ready_timeout;      /* seconds a node may take to be Ready again; 0: the step's timeout */
	const char *update_image;   /* the update Job's image; NULL: the schedule's command runs here */
	const char *job_namespace;  /* NULL: "default" */
	int job_backoff_limit;      /* retries of the update Job's pod */
	/* Monitoring (NULL url: the driver has no sample, the engine does
	 * not monitor). */
	const struct history_prom_opts *prom;
	/* The drain, as kubectl drain's options (select.h). */
	int has_grace;               /* grace_period given: DeleteOptions.gracePeriodSeconds */
	int64_t grace_period;        /* seconds; without has_grace, the pod's own */
	struct kube_drain_rules rules; /* its pod_selector borrowed */
	const struct kube_selector *node_selector; /* borrowed; NULL: every node */
	/* kured's --blocking-pod-selector: a wave waits for no pod matching
	 * it to run on a node it takes offline (borrowed; NULL: none). */
	const struct kube_selector *blocking_pods;
	int on_drain_timeout;        /* enum orch_kube_on_drain_timeout */
	/* Server-side dry run (orch_kube_dry_run only): nothing on disk,
	 * DIR is neither made nor read. */
	int dry_run;
};

struct orch_kube {
	struct kube_client *k;        /* borrowed */
	const struct inventory *inv;  /* borrowed */
	const struct schedule *sched; /* borrowed, may be NULL */
	struct orch_kube_opts o;
	char *state_path;             /* owned: DIR/kube-state.json */
	char *log_path;               /* owned: DIR/logs/kube-update.log */
	/* {"nodes": {name: {"prior_unschedulable", "cordoned", "restored"}},
	 *  "resized": {"component#replica@node": {"pod", "uid", "containers"}}} */
	json_t *state;
	int no_watch;                 /* the server refused a watch: poll */
	atomic_int cancel;            /* set by the engine's thread: the act under way is to stop */
	int holding;                  /* > 0: the act undoes its changes, which a cancel does not cut */
	int drain_late;               /* the act's drain ran out of --drain-timeout */
};

/* Reads (or starts) DIR/kube-state.json. k's cancellation hook is set to
 * this driver's until orch_kube_release, which clears it; d must stay
 * where it is meanwhile. */
int orch_kube_init(struct orch_kube *d, struct kube_client *k, const struct inventory *inv,
		   const struct schedule *sched, const char *state_dir, const struct orch_kube_opts *o);
void orch_kube_release(struct orch_kube *d);

/* A server-side dry run of p's forward steps (after the driver's check,
 * which it runs first): each write the steps would make (the shadow's
 * creation, a cordon, the evictions and deletions of a drain, the update
 * Job) is sent with dryRun=All, so the server validates, authorises and
 * admits it without persisting anything; nothing is waited for. *report
 * (a new array) gets one object per request: "step", "action", "node",
 * "what", "verdict" ("accepted", "refused", or "blocked" for an eviction
 * a disruption budget refuses now), "status" and "message"; and one per
 * pod a drain would refuse (bare, emptyDir). 0, 1 when something was
 * refused, or a negative ADP_E* (the check refused: ADP_EINPUT). */
int orch_kube_dry_run(struct orch_kube *d, const struct plan *p, json_t **report);

/* Checks the inventory's sections for this driver, as discovery writes
 * them: each component's and partition's "kubernetes" object and the
 * top-level "kubernetes" record, when present. Errors name the file,
 * the line and the field. 0 or ADP_EINPUT. */
int orch_kube_config_check(const struct inventory *inv);

/* Fills drv with the kubernetes driver acting through d (borrowed):
 * check, an ops table, cancel, grow, and sample when d has a Prometheus. */
void orch_kube_driver(struct orch_driver *drv, struct orch_kube *d);

/* The shadow pod for a moved replica (exposed for tests): a new Pod
 * object from the workload's pod template, pinned to node, with the
 * replica's reservation spread over the containers' requests and its
 * limit over the limits they declare, in proportion to their requests. */
json_t *orch_kube_shadow_pod(json_t *workload, const char *name, const char *component, const char *node,
			     const double reserve[ADP_RES_COUNT], const double alloc[ADP_RES_COUNT],
			     const char *digest);

/* The update Job for node (exposed for tests). */
json_t *orch_kube_update_job(const char *name, const char *ns, const char *node, const char *image,
			     char *const argv[], int64_t deadline, int backoff_limit);

#endif
