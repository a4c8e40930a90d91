/* The kubernetes driver's command-line parts, shared by plan and apply:
 * argp children for the connection, discovery and apply options. */
#ifndef ADP_CMD_KUBE_H
#define ADP_CMD_KUBE_H

#include <argp.h>
#include <stdint.h>

#include "history/prometheus.h"
#include "orchestrator/drivers.h"
#include "orchestrator/kube/client.h"
#include "orchestrator/kube/select.h"
#include "plans/plan.h"

struct cmd_kube_args {
	/* The connection (kubeconfig, kube_context, kube_sa_dir) and apply's
	 * options (kube), as the driver registry takes them. */
	struct orch_driver_opts drv;
	const char *ns, *zone_label, *pool_label;       /* discovery */
	struct history_prom_opts prom;                 /* apply's monitoring */
	struct kube_selector pod_selector, node_selector; /* parsed --pod-selector, --node-selector */
	struct kube_selector blocking_pods;               /* parsed --blocking-pod-selector */
};

/* apply --dry-run's modes: client (the checks that need no driver) and
 * server (the driver's requests with dryRun=All). */
enum { CMD_DRY_RUN_CLIENT = 1, CMD_DRY_RUN_SERVER = 2 };

/* Filled by the children below. */
extern struct cmd_kube_args cmd_kube;
extern const struct argp cmd_kube_conn_argp, cmd_kube_plan_argp, cmd_kube_apply_argp;
/* The children of plan (connection and discovery) and of apply
 * (connection and apply's options). */
extern const struct argp_child cmd_kube_plan_children[], cmd_kube_apply_children[];

/* The driver options from the children above (borrowed, filled in
 * place: the Prometheus options join apply's when a URL was given). */
struct orch_driver_opts *cmd_kube_driver_opts(void);

/* Configuration and client from the connection options; reports its
 * own error. */
int cmd_kube_client(struct kube_client *k);

/* --dry-run[=client|server]: the mode, or a usage error. */
int cmd_argp_dry_run(struct argp_state *state, const char *arg);

/* apply --dry-run=server with driver di (one with a dry_run): the
 * client dry run's checks, then the driver's check and its requests with
 * dryRun=All, one line each on stdout (none with json). inv and sched
 * are the paths apply would load. Reports its own error; returns the
 * exit status: 0 accepted, 6 refused (by the check or the server). */
int cmd_apply_dry_run_server(const struct orch_driver_info *di, const struct plan *p, int64_t now, const char *inv,
			     const char *sched, int json);

/* Discovers the cluster and writes the inventory to path atomically;
 * warnings go to stderr. Reports its own error. */
int cmd_kube_discover(const char *path);

#endif
