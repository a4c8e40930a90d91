/* What a drain may touch, decided without a server: label selectors
 * (--pod-selector, --node-selector, a PodDisruptionBudget's selector),
 * the fate of each pod on a node being drained (kubectl drain's rules),
 * and whether a PodDisruptionBudget can ever allow the eviction the plan
 * needs. Pure functions over JSON objects as the API returns them. */
#ifndef ADP_KUBE_SELECT_H
#define ADP_KUBE_SELECT_H

#include <jansson.h>
#include <stddef.h>

#define KUBE_SEL_MAX_TEXT 4096 /* bytes of a selector given on the command line */

/* One requirement of a label selector, as kubectl and the API's
 * labelSelector parameter write them: k=v (or k==v), k!=v, k, !k,
 * k in (a,b), k notin (a,b). */
enum kube_sel_op { KUBE_SEL_EQ, KUBE_SEL_NE, KUBE_SEL_EXISTS, KUBE_SEL_ABSENT, KUBE_SEL_IN, KUBE_SEL_NOTIN };

struct kube_sel_req {
	enum kube_sel_op op;
	char *key;      /* owned */
	char **values;  /* owned, nvalues of them (one for EQ and NE) */
	size_t nvalues;
};

struct kube_selector {
	char *text;                /* owned: the selector as given, for messages */
	struct kube_sel_req *reqs; /* owned; all must hold (an empty selector matches everything) */
	size_t n;
};

/* Parses text into s (zeroed first). Keys are label keys (an optional
 * DNS-subdomain prefix and '/', then a name of at most 63 characters:
 * alphanumerics, '-', '_', '.'), values label values (the same, or
 * empty). 0, or ADP_EINPUT with a message naming the selector and what
 * is wrong with it, or ADP_ENOMEM; s holds nothing on failure. */
int kube_selector_parse(struct kube_selector *s, const char *text);
void kube_selector_release(struct kube_selector *s);

/* Whether labels (an object of strings; NULL: none) satisfy s. A NULL
 * selector matches everything. */
int kube_selector_match(const struct kube_selector *s, json_t *labels);

/* Whether labels satisfy a LabelSelector object (matchLabels and
 * matchExpressions, as in a PodDisruptionBudget's spec.selector): an
 * empty one selects everything, a null one nothing (policy/v1). An
 * unknown operator selects nothing. */
int kube_label_selector_match(json_t *selector, json_t *labels);

/* --- the pods of a node being drained --------------------------------- */

struct kube_drain_rules {
	const struct kube_selector *pod_selector; /* NULL: every pod */
	int delete_emptydir_data; /* pods with emptyDir volumes may go (their data is lost) */
	int force;                /* pods without a controller may go: deleted */
	int disable_eviction;     /* delete instead of evict: PodDisruptionBudgets are bypassed */
};

enum kube_pod_fate {
	KUBE_FATE_EVICT,          /* through the Eviction API */
	KUBE_FATE_DELETE,         /* a DELETE (--force on a bare pod, or --disable-eviction) */
	KUBE_FATE_SKIP_DAEMON,    /* managed by a DaemonSet: stays (kubectl's --ignore-daemonsets) */
	KUBE_FATE_SKIP_MIRROR,    /* a static pod's mirror: the API cannot remove it */
	KUBE_FATE_SKIP_SHADOW,    /* a shadow of this tool's */
	KUBE_FATE_SKIP_FINISHED,  /* Succeeded or Failed: nothing runs */
	KUBE_FATE_SKIP_SELECTOR,  /* not matched by --pod-selector */
	KUBE_FATE_REFUSE_BARE,    /* no controller, and no --force */
	KUBE_FATE_REFUSE_EMPTYDIR /* emptyDir volumes, and no --delete-emptydir-data */
};

/* What a drain does with pod, in kubectl drain's order: DaemonSet and
 * mirror pods first, then the selector, local storage, then pods
 * without a controller. */
enum kube_pod_fate kube_drain_fate(json_t *pod, const struct kube_drain_rules *r);

/* Whether pod's controller (the ownerReference with controller true) is
 * a DaemonSet; whether it has any controller at all. */
int kube_pod_daemon(json_t *pod);
int kube_pod_has_controller(json_t *pod);
/* Whether pod declares an emptyDir volume. */
int kube_pod_emptydir(json_t *pod);

/* Whether the PodDisruptionBudget pdb can never allow one eviction while
 * at most `most` pods match its selector (every matching pod Ready,
 * shadows of the plan included): maxUnavailable 0 (or 0%), or a
 * minAvailable (a number, or a percentage of `most` rounded up, as the
 * disruption controller rounds it) of `most` or more. A budget that only
 * blocks for now (a matching pod not Ready) is not one of them; neither
 * is one with a malformed or missing spec (the server decides). 1 with
 * the reason in why ("maxUnavailable 0", "minAvailable 3 of at most 3
 * matching pods"), else 0. */
int kube_pdb_never_allows(json_t *pdb, size_t most, char *why, size_t len);

#endif
