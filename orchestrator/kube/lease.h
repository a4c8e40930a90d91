/* The fleet semaphore on Kubernetes Leases (coordination.k8s.io/v1), for
 * apply --driver kubernetes --semaphore kubernetes://NAMESPACE: the same
 * N slots of a group as the etcd one (orchestrator/fleet/fleet.h), on
 * the driver's own connection. Slot i of group G is the Lease
 * KUBE_LEASE_PREFIX<G>-<i> in NAMESPACE; it is held while its
 * spec.holderIdentity is this holder's identity (the host and the apply
 * state directory, so that a --resume on the same host recognises its
 * own Lease) and spec.renewTime plus spec.leaseDurationSeconds (the TTL)
 * is not past. A free slot is taken with a create (409 AlreadyExists:
 * another won) or, expired or ours, an update carrying the
 * resourceVersion read (409 Conflict: another won); a thread renews
 * renewTime every TTL/3 under the same precondition, and the holder
 * deletes it at the end with a resourceVersion precondition. Who holds
 * a slot is also in the annotation KUBE_LEASE_HOLDER_ANNOTATION (host,
 * state directory, pid, plan, since), for the refusals.
 *
 * It is used through the engine's struct orch_slot (engine.h), as the
 * etcd one, with the Lease's name as the key and its acquireTime in
 * microseconds as the lease: a --resume that keeps its own Lease gets
 * the same pair back. The service account needs get, create, update and
 * delete on leases in the namespace (deploy/kubernetes/clusterrole.yaml). */
#ifndef ADP_ORCH_KUBE_LEASE_H
#define ADP_ORCH_KUBE_LEASE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "orchestrator/engine.h"
#include "orchestrator/kube/client.h"

#define KUBE_LEASE_SCHEME "kubernetes://"
#define KUBE_LEASE_PREFIX "adpart-update-"
#define KUBE_LEASE_HOLDER_ANNOTATION "adpart-update.io/holder"
#define KUBE_LEASE_NAME_MAX 253
#define KUBE_LEASE_MAX_RESPONSE ((size_t)1 << 20) /* bytes: a Lease or a Status */

/* Whether url starts with KUBE_LEASE_SCHEME. */
int kube_lease_url_is(const char *url);

/* The namespace of a kubernetes://NAMESPACE URL (*ns borrowed from url):
 * a DNS-1123 label (lower-case letters, digits and '-', at most 63,
 * starting and ending with a letter or digit). 0 or ADP_EINPUT. */
int kube_lease_url_ns(const char *url, const char **ns);

/* The Lease of slot i of group into out[len]: KUBE_LEASE_PREFIX<group>-<i>,
 * which must be a DNS-1123 subdomain (lower-case letters, digits, '-'
 * and '.', at most 253, each dot-separated part starting and ending with
 * a letter or digit). 0 or ADP_EINPUT saying why. */
int kube_lease_name(char *out, size_t len, const char *group, long slot);

/* Whether every slot of group (slots of them, 0: 1) maps to a Lease
 * name: 0 or ADP_EINPUT, as kube_lease_name. */
int kube_lease_group_check(const char *group, long slots);

/* The slot index of a Lease name of group, or -1 (another name). */
long kube_lease_index(const char *name, const char *group);

/* A MicroTime: RFC 3339 in UTC with microseconds, "2018-05-06T01:00:00.000000Z". */
void kube_microtime_format(char out[32], int64_t us);

/* Parses RFC 3339 (fractional seconds optional, any number of digits,
 * cut to microseconds; Z or an offset) into microseconds since the
 * epoch. 0 or -1 (no message: a lookup). */
int kube_microtime_parse(const char *s, int64_t *us);

/* The expiry rule: whether the Lease spec (borrowed, may be NULL) holds
 * nothing at now_us: no holderIdentity, or renewTime (else acquireTime)
 * plus leaseDurationSeconds before now_us; a held Lease without a time
 * that parses counts as expired. */
int kube_lease_is_free(json_t *spec, int64_t now_us);

/* Every pointer is borrowed for kube_lease_sem_new, which copies. */
struct kube_lease_opts {
	const char *ns;        /* the Leases' namespace */
	const char *group;     /* the slots' group (kube_lease_name must map it) */
	long slots;            /* 1..ORCH_SLOTS_MAX; 0: 1 */
	long ttl;              /* leaseDurationSeconds, ORCH_SLOT_TTL_MIN..ORCH_SLOT_TTL_MAX; 0: the default */
	int64_t wait_max;      /* as fleet_opts.wait_max */
	const char *host;      /* NULL: this host's name */
	const char *state_dir, *plan;
};

struct kube_lease_sem;

/* Checks the options and makes two clients on a copy of cfg (the
 * driver's connection: one for the engine's thread, one for the
 * keepalive's); asks the server nothing yet. *out is owned:
 * kube_lease_sem_free. */
int kube_lease_sem_new(struct kube_lease_sem **out, const struct kube_config *cfg, const struct kube_lease_opts *o);

/* The engine's view of s (borrowed from s, valid until it is freed). */
const struct orch_slot *kube_lease_sem_slot(struct kube_lease_sem *s);

/* Releases a Lease still held, stops the keepalive thread and frees s.
 * NULL-safe. */
void kube_lease_sem_free(struct kube_lease_sem *s);

#endif
