/* The fleet semaphore on etcd: N slots in a named group, shared by every
 * host that applies plans from a timer, so that at most N of them take
 * capacity down at once. A slot is the key
 * FLEET_PREFIX<group>/<i> (0 <= i < N), put with a compare-and-swap
 * (created only if absent) and attached to a lease that a thread keeps
 * alive every TTL/3; its value names the holder (a JSON object: host,
 * state directory, pid, plan, since). A crashed holder's slot frees
 * itself when its lease expires.
 *
 * It is used through the engine's struct orch_slot (engine.h): acquire,
 * healthy at every step boundary, release (revoke) at the end. Every
 * host of a group must use the same number of slots. */
#ifndef ADP_FLEET_H
#define ADP_FLEET_H

#include <stdint.h>

#include "orchestrator/engine.h"
#include "orchestrator/slots.h"

#define FLEET_PREFIX "/adpart-update/semaphore/"
#define FLEET_MAX_SLOTS ORCH_SLOTS_MAX
#define FLEET_TTL_DEFAULT ORCH_SLOT_TTL_DEFAULT
#define FLEET_TTL_MIN ORCH_SLOT_TTL_MIN
#define FLEET_TTL_MAX ORCH_SLOT_TTL_MAX
#define FLEET_GROUP_MAX ORCH_SLOT_GROUP_MAX
#define FLEET_WAIT_PLAN ORCH_SLOT_WAIT_PLAN

/* Every pointer is borrowed for fleet_semaphore_new, which copies. */
struct fleet_opts {
	const char *endpoints;  /* etcd client URLs, comma-separated, tried in order */
	const char *group;      /* the slots' group (fleet_group_check) */
	long slots;             /* 1..FLEET_MAX_SLOTS; 0: 1 */
	long ttl;               /* the lease's seconds, FLEET_TTL_MIN..FLEET_TTL_MAX; 0: FLEET_TTL_DEFAULT */
	/* the longest wait for a slot, in seconds (0: one look), or
	 * FLEET_WAIT_PLAN: as long as the plan's timing allows */
	int64_t wait_max;
	const char *ca_file, *cert_file, *key_file; /* TLS to etcd, optional */
	/* the holder, as the slot's value names it */
	const char *host;       /* NULL: this host's name */
	const char *state_dir, *plan;
};

/* Whether name can be a group: 1 to FLEET_GROUP_MAX printable
 * characters, no '/' and no space. 0 or ADP_EINPUT saying why. */
int fleet_group_check(const char *name);

/* Whether list is a comma-separated list of etcd client URLs, each
 * http://HOST:PORT or https://HOST:PORT. 0 or ADP_EINPUT naming the bad
 * one (redacted). */
int fleet_endpoints_check(const char *list);

struct fleet_semaphore;

/* Checks and copies the options (the endpoints, the TLS files); asks
 * etcd nothing yet. *out is owned: fleet_semaphore_free. */
int fleet_semaphore_new(struct fleet_semaphore **out, const struct fleet_opts *o);

/* The engine's view of s (borrowed from s, valid until it is freed). */
const struct orch_slot *fleet_semaphore_slot(struct fleet_semaphore *s);

/* Releases a slot still held (revokes its lease), stops the keepalive
 * thread and frees s. NULL-safe. */
void fleet_semaphore_free(struct fleet_semaphore *s);

#endif
