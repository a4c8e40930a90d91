/* The inventory: partitions (units of capacity updated as a whole) and
 * components (units of work that move between them). */
#ifndef ADP_INVENTORY_H
#define ADP_INVENTORY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "history/history.h"
#include "history/source.h"
#include "util/resource.h"

#define INV_MAX_PARTITIONS 4096
#define INV_MAX_COMPONENTS 65536
#define INV_MAX_REPLICAS 1024
#define INV_MAX_TIER 9

struct inv_partition {
	char *name;                     /* owned */
	char *zone;                     /* owned; "" when not given */
	double capacity[ADP_RES_COUNT]; /* cores, bytes, bytes/s, bytes/s */
	/* Optional, for apply's local driver (a reference owned, or NULL):
	 * {"path": dir} or {"parent": dir}, "cpus": "0-1". Checked by the
	 * driver, not here. */
	json_t *cgroup;
	/* Optional, for apply: {"command": [argv], "timeout": seconds}, run
	 * by verify_partition after the update (a reference owned, or NULL). */
	json_t *verify;
	/* Optional, for apply's kubernetes driver (owned reference or NULL):
	 * {"node": name, ...} as written by discovery. */
	json_t *kube;
};

struct inv_component {
	char *name;                /* owned */
	int tier;                  /* 0 most critical .. INV_MAX_TIER */
	size_t replicas;
	size_t *placement;         /* owned: replicas partition indices */
	double min[ADP_RES_COUNT]; /* guarantees per replica */
	struct history_source history;
	/* Optional, for apply's local driver (references owned, or NULL):
	 * run {argv, env, cwd, stop_grace, ports, start_idle}, health {http, expect_status,
	 * timeout, retries} or {command}, traffic {haproxy_socket, backend,
	 * server_prefix}. Checked by the driver, not here. */
	json_t *run, *health, *traffic;
	/* Optional, for the kubernetes driver (owned reference or NULL):
	 * {"namespace", "kind", "name", "selector", "pods", "containers"} as
	 * written by discovery. */
	json_t *kube;
};

struct inventory {
	char *path;                /* owned */
	json_t *kube;              /* top-level "kubernetes" (discovery's record), owned or NULL */
	struct inv_partition *parts; /* owned */
	size_t nparts;
	struct inv_component *comps; /* owned */
	size_t ncomps;
};

/* Loads and checks an inventory file; errors name file, line and JSON
 * path. */
int inventory_load(struct inventory *inv, const char *path);

/* What a command needs of an inventory. INVENTORY_FULL (plan, validate,
 * apply): partitions with capacities, and every component placed.
 * INVENTORY_FORECAST (forecast): components and their history are
 * enough; partitions, a partition's capacity and a component's
 * placement may be absent (a component without placement has replicas
 * 0 and placement NULL), and what is given is checked as for
 * INVENTORY_FULL. */
enum inventory_mode { INVENTORY_FULL, INVENTORY_FORECAST };
int inventory_load_mode(struct inventory *inv, const char *path, enum inventory_mode mode);
/* Frees what inv owns; NULL-safe. */
void inventory_release(struct inventory *inv);

/* Index of a partition or component by name, or -1 when not found: a
 * lookup, not an error code (no message is set). */
int inventory_partition_index(const struct inventory *inv, const char *name);
int inventory_component_index(const struct inventory *inv, const char *name);

/* Reads the history each component names. Files given in extra (the
 * long format, e.g. from the command line) are read first; a component
 * whose history they hold does not need its own. Each file read is
 * appended to *files (owned strings) for the plan's digest. */
int inventory_load_history(struct history *h, const struct inventory *inv,
			   const char *const *extra, size_t nextra,
			   const struct history_opts *o, char ***files, size_t *nfiles);

#endif
