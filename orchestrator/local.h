/* The local driver: one Linux host. Partitions are cgroups (v2, or v1
 * where the host mounts cpu, cpuset and memory), components are
 * processes started from argv inside them, health is HTTP (libcurl) or
 * a command, traffic goes through HAProxy's runtime API on its UNIX
 * socket, and the update is the schedule's command. */
#ifndef ADP_ORCH_LOCAL_H
#define ADP_ORCH_LOCAL_H

#include "orchestrator/engine.h"
#include "partition/inventory.h"
#include "partition/schedule.h"

enum { ORCH_CG_NONE, ORCH_CG_V1, ORCH_CG_V2 };

struct orch_local {
	const struct inventory *inv;  /* borrowed */
	const struct schedule *sched; /* borrowed */
	char *state_dir;              /* owned */
	int cg_mode;
	char cg_root[512];            /* v2 mount, or the v1 mount parent */
};

/* Detects the cgroup layout from /proc/mounts (v1 when the memory
 * controller is mounted as v1, else the cgroup2 mount). Borrows inv and
 * sched (sched may be NULL: no update command). */
int orch_local_init(struct orch_local *l, const struct inventory *inv, const struct schedule *sched,
		    const char *state_dir);
void orch_local_release(struct orch_local *l);

/* Fills d with the local driver acting on l. */
void orch_local_driver(struct orch_driver *d, struct orch_local *l);

/* Sends one command to HAProxy's runtime socket; *reply (owned, may be
 * NULL) gets the answer, capped at 1 MiB. */
int orch_haproxy_cmd(const char *socket, const char *cmd, char **reply);

#endif
