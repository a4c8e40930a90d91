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
	char sys_root[256];           /* sysfs, "/sys" (tests point it elsewhere) */
	int cancelled;                /* set by the driver's cancel (atomic access) */
	/* The last cumulative cpu and io counters read per instance, so that
	 * a sample is a rate since the previous one (monitoring thread only). */
	struct orch_local_seen {
		char inst[128];
		unsigned long long cpu, io;
		int have_io;
		double t;
	} seen[64];
	size_t nseen;
};

/* The cgroup layout from a mounts file (/proc/mounts): v2 where its
 * cgroup.controllers lists memory, else v1 where a memory controller is
 * mounted (root is then the parent of the controller mounts), else a v2
 * hierarchy without controllers; ORCH_CG_NONE without any. */
int orch_cg_detect(const char *mounts, char *root, size_t len);

/* The whole-disk block device an I/O limit on spec applies to: spec is
 * "MAJ:MIN", a block device node, or any path (its filesystem's device).
 * A partition maps to its disk through sys_root/dev/block. 0 with
 * maj:min, 1 when there is no block device (tmpfs, overlay), or a
 * negative ADP_E*. */
int orch_blockdev(const char *sys_root, const char *spec, unsigned *maj, unsigned *min);

/* The cgroup file logic, exposed for tests: creates the partition's and
 * the instance's cgroups (idempotent) and writes alloc's limits in the
 * plan's units (v2 cpu.max, memory.max, io.max; v1 cpu.cfs_quota_us,
 * memory.limit_in_bytes, blkio.throttle.{read,write}_bps_device),
 * reserve's reservations (NULL: none) as v2 cpu.weight and memory.low,
 * v1 cpu.shares and memory.soft_limit_in_bytes, the partition's cpus to
 * cpuset.cpus. The I/O device is the partition's
 * cgroup.device, else that of comp's run.cwd (apply's own directory
 * without one); note says where the io limit went or why it was not
 * applied. 0 when the partition has no cgroup. */
int orch_local_cg_ensure(const struct orch_local *l, const char *part, const char *inst, const double *alloc,
			 const double *reserve, const struct inv_component *comp, size_t replica, char *note,
			 size_t notelen);
/* Reads the limits and reservations back: 0 when the instance cgroup
 * exists with at least alloc's limits (the kernel rounds memory down to
 * pages; the grow policy may have raised them) and reserve's cpu weight
 * and memory protection (either may be NULL), else ADP_ESYS naming the
 * file and both values. */
int orch_local_cg_check(const struct orch_local *l, const char *part, const char *inst, const double *alloc,
			const double *reserve, const struct inv_component *comp, size_t replica, char *msg, size_t len);

/* Checks the inventory's sections for this driver: each partition's
 * "cgroup" and "verify", each component's "run", "health" and "traffic",
 * when present. Errors name the file, the line and the field. 0 or
 * ADP_EINPUT. */
int orch_local_config_check(const struct inventory *inv);

/* Checks inv's sections (orch_local_config_check), then detects the
 * cgroup layout from /proc/mounts (v1 when the memory controller is
 * mounted as v1, else the cgroup2 mount). Borrows inv and sched (sched
 * may be NULL: no update command). */
int orch_local_init(struct orch_local *l, const struct inventory *inv, const struct schedule *sched,
		    const char *state_dir);
void orch_local_release(struct orch_local *l);

/* Fills d with the local driver acting on l. */
void orch_local_driver(struct orch_driver *d, struct orch_local *l);

/* Sends one command to HAProxy's runtime socket; *reply (owned, may be
 * NULL) gets the answer, capped at 1 MiB. The whole exchange ends
 * within 10 s (ADP_ESYS "did not answer" past it): a hung HAProxy fails
 * the step instead of holding apply. */
int orch_haproxy_cmd(const char *socket, const char *cmd, char **reply);
/* The same within timeout_ms. */
int orch_haproxy_cmd_within(const char *socket, const char *cmd, char **reply, long timeout_ms);

#endif
