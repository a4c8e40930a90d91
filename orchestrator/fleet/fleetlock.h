/* The fleet slot from a FleetLock server (the protocol of Fedora CoreOS's
 * Zincati: a counting semaphore over HTTP). A slot is taken by POST
 * BASE/v1/pre-reboot and given back by POST BASE/v1/steady-state, each
 * with {"client_params": {"id": ID, "group": GROUP}} and the header
 * "fleet-lock-protocol: true"; 200 is success, any other status a
 * failure whose body may say why ({"kind": ..., "value": ...}).
 *
 * The server counts the slots, so there is no slot count or TTL here.
 * Its locks are owned by ID and recursive: the ID is this host and the
 * state directory, so a --resume takes the same slot again and two
 * applies from two state directories are two holders. A lock does not
 * expire: a crashed holder keeps its slot until its own --resume or
 * --rollback ends (or an operator frees it on the server), and a server
 * that cannot be reached cannot give it to anyone else, so apply goes on
 * holding it. It stops at a step boundary only when the server, asked
 * again, answers that the slot is no longer its to hold. */
#ifndef ADP_FLEETLOCK_H
#define ADP_FLEETLOCK_H

#include <stdint.h>

#include "orchestrator/engine.h"

#define FLEETLOCK_SCHEME "fleetlock+"
#define FLEETLOCK_GROUP_MAX 128
/* Seconds between two checks that the slot is still held (at step
 * boundaries, no more often). */
#define FLEETLOCK_RECHECK 1

/* Every pointer is borrowed for fleetlock_new, which copies. */
struct fleetlock_opts {
	const char *url;        /* fleetlock+http(s)://HOST[:PORT][/BASE] */
	const char *group;      /* fleetlock_group_check */
	int64_t wait_max;       /* as fleet_opts' */
	const char *ca_file, *cert_file, *key_file; /* TLS, optional */
	const char *host;       /* NULL: this host's name */
	const char *state_dir;  /* with host, the lock's ID */
};

/* Whether url names a FleetLock server (its scheme). */
int fleetlock_url_is(const char *url);

/* Whether url is fleetlock+http:// or fleetlock+https:// with a host and
 * no query or fragment. 0 or ADP_EINPUT naming it (redacted). */
int fleetlock_url_check(const char *url);

/* The protocol's groups: 1 to FLEETLOCK_GROUP_MAX of [a-zA-Z0-9.-]. */
int fleetlock_group_check(const char *group);

struct fleetlock;

/* Checks and copies the options; asks the server nothing yet. *out is
 * owned: fleetlock_free. */
int fleetlock_new(struct fleetlock **out, const struct fleetlock_opts *o);

/* The engine's view (borrowed from f). */
const struct orch_slot *fleetlock_slot(struct fleetlock *f);

/* Gives back a slot still held and frees f. NULL-safe. */
void fleetlock_free(struct fleetlock *f);

#endif
