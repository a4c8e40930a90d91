/* What the local driver's files share, internal to it (users of the
 * driver include orchestrator/local/driver.h): driver.c (init, check,
 * cancellation, the ops table), cgroup.c (layout, limits, block
 * devices), proc.c (processes, pid files, commands), health.c (HTTP and
 * command checks), haproxy.c (runtime socket, traffic), monitor.c
 * (sample, probe, grow, resize) and config.c (the inventory's sections).
 * The local_op_* functions are orch_act_fn slots of the ops table; they
 * rely on orch_local_config_check having passed (orch_local_init runs
 * it), so that the sections they read have the types and bounds it
 * checks. */
#ifndef ADP_ORCH_LOCAL_INT_H
#define ADP_ORCH_LOCAL_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "orchestrator/local/driver.h"
#include "plans/steps.h"

#define LOCAL_MAX_ARGS 256
#define LOCAL_MAX_ARG_LEN 4096 /* an argument after expansion, with its NUL */
#define LOCAL_LOG_MAX ((off_t)16 << 20) /* a component's or command's log, then LOG.1 */
/* A shadow made ahead (preallocate_shadow): 1/8 core, and 64 MiB of
 * memory for a component without a memory guarantee. */
#define LOCAL_PREALLOC_CPU 0.125
#define LOCAL_PREALLOC_MEMORY (64.0 * 1048576)

/* v1 controllers apply uses, each mounted at cg_root/NAME (cgroup.c). */
enum { V1_CPU, V1_CPUSET, V1_MEMORY, V1_CPUACCT, V1_BLKIO, NV1 };

/* --- the driver (driver.c) ---------------------------------------------- */

const struct inv_partition *local_find_part(const struct orch_local *l, const char *name);
const struct inv_component *local_find_comp(const struct orch_local *l, const char *name);
/* Non-zero once the engine has cancelled the act under way. */
int local_cancelled(const struct orch_local *l);
/* Sleeps ms in slices; 1 when cancelled meanwhile. */
int local_nap(const struct orch_local *l, long ms);

/* What a step acts on, found by local_step_begin: the component and,
 * for a moved replica's steps, its placement (shadow the target, home
 * where it comes from). */
struct local_step {
	struct orch_local *l;
	const struct inv_component *c;  /* borrowed, or NULL */
	const struct plan_placement *x; /* borrowed: the moved replica, or NULL */
	const char *shadow, *home;      /* x's partition and from, or NULL */
	char inst[300];                 /* "component.replica" */
};

enum { LOCAL_NEED_NONE, LOCAL_NEED_COMP, LOCAL_NEED_MOVED, LOCAL_NEED_ABSORBED };

/* Starts an act (a cancel of the act before it does not carry over) and
 * fills t; need says what the step must name: a component, its moved
 * replica in the wave, or its absorbed replica. 0 or ADP_EINPUT. */
int local_step_begin(struct local_step *t, void *ctx, const struct plan *p, const struct plan_step *s, int need);

/* --- cgroups (cgroup.c) ------------------------------------------------- */

extern const char *const local_v1_ctrl[NV1];
/* The partition's cgroup relative to each controller's root into out:
 * 1, or 0 when the partition has none (or the host no hierarchy). */
int local_part_cg(const struct orch_local *l, const char *part, char *out, size_t len);
int local_v1_has(const struct orch_local *l, size_t c);
/* Does the file at dir/name list word (space separated)? */
int local_lists_word(const char *dir, const char *name, const char *word);
int local_write_str(const char *dir, const char *file, const char *val);
/* The first line of dir/file without its newline ("" when unreadable). */
void local_read_str(const char *dir, const char *file, char *out, size_t len);
/* The number after key (or the first number) in dir/file; "max" is -1.
 * 1 when found. */
int local_read_num(const char *dir, const char *file, const char *key, long long *out);
/* The partition's cgroup in every hierarchy, made anew if it is gone. */
int local_cg_partition(const struct orch_local *l, const char *rel);
/* In a child before exec: joins the instance cgroup; -1 on failure. */
int local_cg_join(const struct orch_local *l, const char *part, const char *inst);
/* The limits the plan sets have their controllers. */
int local_controller_check(const struct orch_local *l, const struct plan *p);

/* --- processes (proc.c) ------------------------------------------------- */

void local_inst_name(char *out, size_t len, const char *comp, size_t replica);
void local_pid_path(const struct orch_local *l, char *out, size_t len, const char *comp, size_t replica,
		    const char *part);
/* The recorded instance's pid if it is still that process, else 0. */
pid_t local_inst_pid(const struct orch_local *l, const char *comp, size_t replica, const char *part);
/* Replaces {partition}, {replica} and {port} (run.ports[partition]). */
int local_expand(char *out, size_t len, const char *in, const struct inv_component *c, const char *part,
		 size_t replica);

struct local_argv {
	char *v[LOCAL_MAX_ARGS + 1]; /* owned, NULL-terminated */
	size_t n;
};

/* An argv from a checked JSON array; with c, each argument expanded for
 * c's replica on part. */
int local_argv_from(struct local_argv *a, json_t *arr, const struct inv_component *c, const char *part,
		    size_t replica);
void local_argv_release(struct local_argv *a);
/* DIR/proc and DIR/logs. */
int local_mkdirs(const struct orch_local *l);
/* Runs argv to completion within timeout seconds (killed after, or when
 * cancelled); *status its exit status. */
int local_run_cmd(const struct orch_local *l, char *const argv[], const char *log, const char *envpart,
		  int64_t timeout, int *status);
int local_start_inst(const struct orch_local *l, const struct inv_component *c, const char *part, size_t replica,
		     const double *alloc, const double *reserve, char *msg, size_t len);
int local_stop_inst(const struct orch_local *l, const struct inv_component *c, const char *part, size_t replica,
		    char *msg, size_t len);
/* Into foot, the limits of x's shadow made ahead (see proc.c). */
void local_prealloc_footprint(const struct inv_component *c, const struct plan_placement *x,
			      double foot[ADP_RES_COUNT]);

/* --- health (health.c) -------------------------------------------------- */

/* The component's health check against the instance on part; with
 * quick set (monitoring), at most two tries of at most 2 s each. */
int local_health_run(const struct orch_local *l, const struct inv_component *c, const char *part, size_t replica,
		     int quick, char *msg, size_t len);

/* --- HAProxy (haproxy.c) ------------------------------------------------ */

/* Column col of the server's "show stat" line (17 status, 18 weight). */
int local_server_field(const struct inv_component *c, const char *part, int col, char *out, size_t len);
int local_server_status(const struct inv_component *c, const char *part, char *out, size_t len);
/* Waits until HAProxy has no session and no queue on c's server on
 * part; best effort where HAProxy cannot be asked. */
int local_wait_idle(const struct orch_local *l, const struct inv_component *c, const char *part, char *msg,
		    size_t len);
/* After canary_seconds: the shadow's errors against the baseline. */
int local_canary_verdict(const struct orch_local *l, const struct inv_component *c, const char *part, char *msg,
			 size_t len);

/* --- monitoring (monitor.c) --------------------------------------------- */

int local_capacity_check(const struct orch_local *l, const struct plan *p);
int local_sample(void *ctx, const struct plan *p, const struct plan_placement *x, double usage[ADP_RES_COUNT],
		 int have[ADP_RES_COUNT]);
int local_probe(void *ctx, const struct plan *p, const char *component, size_t replica, const char *part, char *msg,
		size_t len);
int local_grow(void *ctx, const struct plan *p, const struct plan_placement *x, int r, double limit);
/* Whether pid is a process of the instance x (proc.c): in its cgroup,
 * or its recorded process or a descendant. 1 or 0. */
int local_owns(void *ctx, const struct plan *p, const struct plan_placement *x, pid_t pid);

/* --- the ops ------------------------------------------------------------ */

/* The type of the ops, to declare them (an orch_act_fn points to one). */
typedef int local_op(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len);

local_op local_op_create_partition, local_op_remove_partition;                           /* cgroup.c */
local_op local_op_start_shadow, local_op_stop_shadow, local_op_start_original, local_op_stop_original;
local_op local_op_start_absorbed, local_op_stop_absorbed, local_op_run_update;             /* proc.c */
local_op local_op_preallocate_shadow;
local_op local_op_verify_partition;
local_op local_op_health_check, local_op_health_check_original, local_op_health_check_absorbed;
local_op local_op_verify_shadow;                                                          /* health.c */
local_op local_op_canary, local_op_switch_traffic, local_op_drain, local_op_undrain;      /* haproxy.c */
local_op local_op_restore_traffic, local_op_drain_absorbed, local_op_undrain_absorbed;
local_op local_op_resize, local_op_restore_size;                                          /* monitor.c */

#endif
