/* Discovery: the inventory of a Kubernetes cluster, in the same JSON
 * document that inventory_load reads, so that `plan --driver kubernetes`
 * runs the same planner on it.
 *
 * - Nodes that are Ready and schedulable are partitions; their capacity
 *   is the allocatable CPU and memory minus the requests of the pods
 *   that never move (DaemonSet pods, mirror pods, bare pods, Job pods).
 *   The zone is topology.kubernetes.io/zone; the pool label is recorded.
 * - Deployments and StatefulSets with pods on those nodes are
 *   components: one replica per node that runs their pods, the
 *   guarantee (min) being the requests of the pods on that node.
 * - PodDisruptionBudgets, DaemonSets and what was left out are recorded
 *   in the document's "kubernetes" section, for apply and for people. */
#ifndef ADP_KUBE_DISCOVER_H
#define ADP_KUBE_DISCOVER_H

#include <jansson.h>

#include "orchestrator/kube/client.h"
#include "orchestrator/kube/select.h"

/* Default PromQL for history from a Prometheus that scrapes cAdvisor and
 * runs kube-prometheus's recording rule namespace_workload_pod:
 * kube_pod_owner:relabel (pod -> owning workload). The label "component"
 * is namespace.workload, the components' names. */
#define KUBE_PROM_CPU                                                                                        \
	"sum by (component) (label_join(rate(container_cpu_usage_seconds_total{container!=\"\",pod!=\"\"}[5m])" \
	" * on (namespace, pod) group_left (workload) namespace_workload_pod:kube_pod_owner:relabel,"          \
	" \"component\", \".\", \"namespace\", \"workload\"))"
#define KUBE_PROM_MEMORY                                                                                     \
	"sum by (component) (label_join(container_memory_working_set_bytes{container!=\"\",pod!=\"\"}"          \
	" * on (namespace, pod) group_left (workload) namespace_workload_pod:kube_pod_owner:relabel,"          \
	" \"component\", \".\", \"namespace\", \"workload\"))"

#define KUBE_TIER_ANNOTATION "adpart-update.io/tier"
#define KUBE_SHADOW_LABEL "adpart-update.io/shadow-of"

struct kube_discover_opts {
	const char *ns;          /* components from this namespace only; NULL: all */
	const char *zone_label;  /* NULL: topology.kubernetes.io/zone */
	const char *pool_label;  /* NULL: the first of the usual cloud pool labels */
	const struct kube_selector *nodes; /* only nodes it matches are partitions; NULL: all */
};

/* Lists nodes, pods, Deployments, StatefulSets, DaemonSets and
 * PodDisruptionBudgets and builds the inventory document (*doc, a new
 * reference). Warnings (nodes left out, ...) are in
 * doc.kubernetes.warnings. */
int kube_discover(struct kube_client *k, const struct kube_discover_opts *o, json_t **doc);

/* Sum of the container requests (cpu cores, memory bytes) of a pod spec. */
void kube_pod_requests(json_t *spec, double *cpu, double *memory);

/* The component name of a workload: "namespace.name". 0, or -1 when it
 * is not a valid component name. */
int kube_component_name(char *out, size_t len, const char *ns, const char *name);

#endif
