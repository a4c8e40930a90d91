/* The registry of apply's drivers, by name (like curl's protocols[]):
 * the one place that knows every driver folder, so that cmd/ picks a
 * driver by --driver NAME without a ladder of names, and every driver's
 * own inventory sections are checked wherever an inventory is loaded. */
#ifndef ADP_ORCH_DRIVERS_H
#define ADP_ORCH_DRIVERS_H

#include <jansson.h>
#include <stddef.h>

#include "orchestrator/driver.h"
#include "orchestrator/kube/driver.h"
#include "partition/inventory.h"
#include "partition/schedule.h"

/* What a driver may need beyond the inventory, schedule and state
 * directory; each driver reads its own fields (all borrowed). */
struct orch_driver_opts {
	const char *hook;            /* exec: the hook program */
	/* kubernetes: the connection (see kube_config_auto) and apply's options */
	const char *kubeconfig, *kube_context, *kube_sa_dir;
	struct orch_kube_opts kube;
};

struct orch_driver_info {
	const char *name;    /* --driver NAME */
	const char *summary; /* one line, for --help and usage errors */
	size_t state_size;   /* bytes of the driver's state, which orch_driver_new allocates */
	/* Initialises the zeroed state and fills d to act through it. inv
	 * and sched (may be NULL) are borrowed and must outlive the state.
	 * 0 or a negative ADP_E*; on failure the state holds nothing. */
	int (*init)(void *state, struct orch_driver *d, const struct inventory *inv, const struct schedule *sched,
		    const char *state_dir, const struct orch_driver_opts *o);
	/* Releases what init made (not the state's memory). */
	void (*release)(void *state);
	/* Checks the driver's own sections of an inventory, naming file,
	 * line and field: 0 or ADP_EINPUT. NULL: the driver has none. */
	int (*config_check)(const struct inventory *inv);
	/* A server-side dry run of the plan's forward steps (apply
	 * --dry-run=server): *report (owned by the caller) one object per
	 * request, with its "verdict". 0, 1 when the server would refuse
	 * something, or a negative ADP_E* (ADP_EINPUT: the driver's check
	 * refused). NULL: the driver has no server to ask. */
	int (*dry_run)(void *state, const struct plan *p, json_t **report);
};

/* Every driver, the default (local) first; ends with a NULL name. */
extern const struct orch_driver_info orch_drivers[];

/* Borrowed; NULL for an unknown name (a lookup: no message is set). */
const struct orch_driver_info *orch_driver_find(const char *name);

/* Makes driver i's state (*state, owned: free it with orch_driver_free)
 * with its init; d then acts through it. *state is set only on success. */
int orch_driver_new(void **state, struct orch_driver *d, const struct orch_driver_info *i,
		    const struct inventory *inv, const struct schedule *sched, const char *state_dir,
		    const struct orch_driver_opts *o);
/* Releases and frees a state from orch_driver_new; accepts NULL. */
void orch_driver_free(const struct orch_driver_info *i, void *state);

/* The names, "local, kubernetes or exec", into buf (for messages). */
void orch_driver_names(char *buf, size_t len);

/* The kubernetes driver's connection in state (from orch_driver_new;
 * borrowed, valid while state is), for what else talks to its API
 * server (apply's fleet slot on Leases); NULL for another driver. */
const struct kube_config *orch_driver_kube_config(const struct orch_driver_info *i, void *state);

/* Runs every driver's config_check on inv: the first failure's code. */
int orch_drivers_config_check(const struct inventory *inv);

#endif
