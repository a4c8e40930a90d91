/* The kubernetes driver's command-line parts, shared by plan and apply:
 * argp children for the connection, discovery and apply options. */
#ifndef ADP_CMD_KUBE_H
#define ADP_CMD_KUBE_H

#include <argp.h>
#include <stdint.h>

#include "history/prometheus.h"
#include "orchestrator/kube/client.h"

struct cmd_kube_args {
	const char *kubeconfig, *context, *sa_dir;      /* connection */
	const char *ns, *zone_label, *pool_label;       /* discovery */
	const char *update_image, *job_namespace;       /* apply */
	int job_backoff_limit;
	int64_t drain_timeout, evict_backoff_ms, poll_ms, ready_timeout;
	struct history_prom_opts prom;                 /* apply's monitoring */
};

/* Filled by the children below. */
extern struct cmd_kube_args cmd_kube;
extern const struct argp cmd_kube_conn_argp, cmd_kube_plan_argp, cmd_kube_apply_argp;

/* "local" or "kubernetes" from --driver; exits with a usage error on
 * anything else. Returns 1 for kubernetes. */
int cmd_kube_driver_arg(struct argp_state *state, const char *arg);

/* Configuration and client from the connection options; reports its
 * own error. */
int cmd_kube_client(struct kube_client *k);

/* Discovers the cluster and writes the inventory to path atomically;
 * warnings go to stderr. Reports its own error. */
int cmd_kube_discover(const char *path);

#endif
