/* The local driver's cgroup file logic against temporary directories laid
 * out like v1 and v2 hierarchies (the kernel's files pre-created, as
 * cgroupfs shows them), layout detection from a mounts file, and the
 * choice of the block device for I/O limits. No root needed. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "helpers.h"
#include "orchestrator/local/driver.h"
#include "util/error.h"

static void mk(const char *rel)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", t_path(rel));
	cr_assert_eq(system(cmd), 0);
}

static const char *slurp(const char *rel)
{
	static char buf[4][512];
	static int next;
	char *b = buf[next++ % 4];
	FILE *f = fopen(t_path(rel), "r");

	cr_assert_not_null(f, "no file %s", rel);
	b[fread(b, 1, 511, f)] = '\0';
	fclose(f);
	b[strcspn(b, "\n")] = '\0';
	return b;
}

/* An inventory of one partition "p1" with a cgroup section and one
 * component "web" whose run.cwd is cwd (or none). */
static struct inventory inv;
static struct inv_partition part;
static struct inv_component comp;
static struct orch_local loc;

static void fixture(const char *cgroup_json, const char *cwd)
{
	json_error_t e;

	memset(&inv, 0, sizeof(inv));
	memset(&part, 0, sizeof(part));
	memset(&comp, 0, sizeof(comp));
	part.name = "p1";
	part.zone = "";
	part.cgroup = json_loads(cgroup_json, 0, &e);
	cr_assert_not_null(part.cgroup, "%s", e.text);
	comp.name = "web";
	comp.run = cwd ? json_pack("{s:[s], s:s}", "argv", "true", "cwd", cwd) : json_pack("{s:[s]}", "argv", "true");
	inv.parts = &part;
	inv.nparts = 1;
	inv.comps = &comp;
	inv.ncomps = 1;
	cr_assert_eq(orch_local_init(&loc, &inv, NULL, t_dir), 0);
	snprintf(loc.sys_root, sizeof(loc.sys_root), "%s", t_path("sys"));
	/* A disk 8:0 with a partition 8:1, as sysfs links them. */
	mk("sys/devices/sda/sda1");
	mk("sys/dev/block");
	t_write("sys/devices/sda/dev", "8:0\n");
	t_write("sys/devices/sda/sda1/dev", "8:1\n");
	t_write("sys/devices/sda/sda1/partition", "1\n");
	cr_assert_eq(symlink("../../devices/sda", t_path("sys/dev/block/8:0")), 0);
	cr_assert_eq(symlink("../../devices/sda/sda1", t_path("sys/dev/block/8:1")), 0);
}

static void fixture_done(void)
{
	json_decref(part.cgroup);
	json_decref(comp.run);
	orch_local_release(&loc);
	t_teardown();
}

/* The cgroup logic on web.0 in p1: orch_local_cg_ensure writes alloc's
 * limits (note: where the io limit went), orch_local_cg_check reads them
 * back (msg, 256 bytes: what it checked) or fails naming want. */
static void set_alloc(double *alloc, double cpu, double memory, double io)
{
	alloc[ADP_RES_CPU] = cpu;
	alloc[ADP_RES_MEMORY] = memory;
	alloc[ADP_RES_IO] = io;
}

static void ensure_with(const double *alloc, const double *reserve, char *note)
{
	cr_assert_eq(orch_local_cg_ensure(&loc, "p1", "web.0", alloc, reserve, &comp, 0, note, 256), 0, "%s",
		     adp_error_last());
}

static void ensure_ok(const double *alloc, char *note)
{
	ensure_with(alloc, NULL, note);
}

static void check_ok(const double *alloc, char *msg)
{
	cr_assert_eq(orch_local_cg_check(&loc, "p1", "web.0", alloc, NULL, &comp, 0, msg, 256), 0, "%s", adp_error_last());
}

static void check_fails(const double *alloc, const char *want)
{
	char msg[256];

	cr_assert_eq(orch_local_cg_check(&loc, "p1", "web.0", alloc, NULL, &comp, 0, msg, sizeof(msg)), ADP_ESYS);
	t_assert_msg(want);
}

/* The same with the reservations: what the check says it checked, or
 * that it fails naming want. */
static void check_reserved(const double *alloc, const double *reserve, const char *want)
{
	char msg[256];

	cr_assert_eq(orch_local_cg_check(&loc, "p1", "web.0", alloc, reserve, &comp, 0, msg, sizeof(msg)), 0, "%s",
		     adp_error_last());
	cr_assert(strstr(msg, want), "%s", msg);
}

static void check_reserve_fails(const double *alloc, const double *reserve, const char *want)
{
	char msg[256];

	cr_assert_eq(orch_local_cg_check(&loc, "p1", "web.0", alloc, reserve, &comp, 0, msg, sizeof(msg)), ADP_ESYS);
	t_assert_msg(want);
}

TestSuite(orch_cgroup, .init = t_setup, .fini = fixture_done);

/* The driver works on the hierarchy laid out under the test's dir. */
static void use_root(int mode, const char *dir)
{
	loc.cg_mode = mode;
	snprintf(loc.cg_root, sizeof(loc.cg_root), "%s", t_path(dir));
}

static void v2_layout(void)
{
	static const char *const files[] = { "cgroup.subtree_control", "cpuset.cpus", "cpu.max", "memory.max",
					     "io.max", "cgroup.procs", "cpu.weight", "memory.low", NULL };
	const char *dirs[] = { "v2", "v2/adp", "v2/adp/p1", "v2/adp/p1/web.0" };
	size_t i, k;
	char rel[256];

	for (i = 0; i < 4; i++) {
		mk(dirs[i]);
		for (k = 0; files[k]; k++) {
			snprintf(rel, sizeof(rel), "%s/%s", dirs[i], files[k]);
			t_write(rel, "");
		}
	}
	t_write("v2/cgroup.controllers", "cpuset cpu io memory pids\n");
	use_root(ORCH_CG_V2, "v2");
}

Test(orch_cgroup, v2_limits_in_plan_units)
{
	double alloc[ADP_RES_COUNT] = { 0 };
	char note[256], msg[256];

	fixture("{\"path\": \"adp/p1\", \"cpus\": \"0-1\", \"device\": \"8:1\"}", NULL);
	v2_layout();
	set_alloc(alloc, 0.5, 64.0 * 1048576, 1048576);
	ensure_ok(alloc, note);
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/cpu.max"), "50000 100000");
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/memory.max"), "67108864");
	/* The partition 8:1 is throttled on its disk, 8:0. */
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/io.max"), "8:0 rbps=1048576 wbps=1048576");
	cr_assert_str_eq(slurp("v2/adp/p1/cpuset.cpus"), "0-1");
	cr_assert_str_eq(slurp("v2/adp/p1/cgroup.subtree_control"), "+cpu +memory +cpuset +io");
	cr_assert_str_eq(slurp("v2/adp/cgroup.subtree_control"), "+cpu +memory +cpuset +io");
	cr_assert(strstr(note, "io limit 1048576 bytes/s on 8:0"), "%s", note);
	check_ok(alloc, msg);
	cr_assert(strstr(msg, "3 checked"), "%s", msg);
	/* A limit that is not the plan's fails the check, naming both values. */
	t_write("v2/adp/p1/web.0/memory.max", "max\n");
	check_fails(alloc, "memory limit is -1, the plan says 67108864");
	t_write("v2/adp/p1/web.0/memory.max", "67104768\n"); /* rounded down to a page */
	check_ok(alloc, msg);
	t_write("v2/adp/p1/web.0/io.max", "8:0 rbps=5 wbps=5 riops=max wiops=max\n");
	check_fails(alloc, "io limit on 8:0 is 5");
}

/* Reservations: the share of contended cpu (v2 weight 100 a core, v1
 * shares 1024 a core) and the memory reclaimed last; limits as before;
 * nothing written without them. */
Test(orch_cgroup, v2_reservations_as_weight_and_low)
{
	double alloc[ADP_RES_COUNT] = { 0 }, reserve[ADP_RES_COUNT] = { 0 };
	char note[256];

	fixture("{\"path\": \"adp/p1\"}", NULL);
	v2_layout();
	set_alloc(alloc, 2, 256.0 * 1048576, 0);
	ensure_ok(alloc, note);
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/cpu.weight"), "");
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/memory.low"), "");
	set_alloc(reserve, 0.375, 64.0 * 1048576, 0);
	ensure_with(alloc, reserve, note);
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/cpu.max"), "200000 100000");
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/memory.max"), "268435456");
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/cpu.weight"), "38");
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/memory.low"), "67108864");
	check_reserved(alloc, reserve, "4 checked");
	t_write("v2/adp/p1/web.0/memory.low", "0\n");
	check_reserve_fails(alloc, reserve, "memory protection (memory.low) is 0, the plan reserves 67108864");
	t_write("v2/adp/p1/web.0/memory.low", "67108864\n");
	t_write("v2/adp/p1/web.0/cpu.weight", "1\n");
	check_reserve_fails(alloc, reserve, "cpu weight is 1, the plan's reservation makes it 38");
	set_alloc(reserve, 0.001, 0, 0);
	ensure_with(alloc, reserve, note);
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/cpu.weight"), "1", "at least the smallest weight");
}

Test(orch_cgroup, v2_missing_instance_cgroup_fails_check)
{
	double alloc[ADP_RES_COUNT] = { 0 };
	char msg[256];

	fixture("{\"path\": \"adp/p1\"}", NULL);
	v2_layout();
	alloc[ADP_RES_CPU] = 1;
	cr_assert_eq(orch_local_cg_check(&loc, "p1", "web.1", alloc, NULL, &comp, 1, msg, sizeof(msg)), ADP_ESYS);
	t_assert_msg("does not exist");
}

static void v1_layout(int blkio)
{
	static const char *const ctrl[] = { "cpu", "cpuset", "memory", "cpuacct", "blkio" };
	static const char *const files[] = { "tasks", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpuset.cpus",
					     "cpuset.mems", "memory.limit_in_bytes", "blkio.throttle.read_bps_device",
					     "blkio.throttle.write_bps_device", "cpu.shares", "memory.soft_limit_in_bytes",
					     NULL };
	const char *levels[] = { "", "/adp", "/adp/p1", "/adp/p1/web.0" };
	char rel[256];
	size_t c, i, k;

	for (c = 0; c < (blkio ? 5u : 4u); c++)
		for (i = 0; i < 4; i++) {
			snprintf(rel, sizeof(rel), "v1/%s%s", ctrl[c], levels[i]);
			mk(rel);
			for (k = 0; files[k]; k++) {
				snprintf(rel, sizeof(rel), "v1/%s%s/%s", ctrl[c], levels[i], files[k]);
				t_write(rel, "");
			}
		}
	t_write("v1/cpuset/cpuset.cpus", "0-3\n");
	t_write("v1/cpuset/cpuset.mems", "0\n");
	use_root(ORCH_CG_V1, "v1");
}

Test(orch_cgroup, v1_limits_in_plan_units)
{
	double alloc[ADP_RES_COUNT] = { 0 };
	char note[256], msg[256];
	struct stat st;
	char cwd[600];

	cr_assert_eq(stat(t_dir, &st), 0);
	snprintf(cwd, sizeof(cwd), "%s", t_dir);
	/* No cgroup.device: the device of the component's working directory. */
	fixture("{\"path\": \"adp/p1\"}", cwd);
	{
		char rel[64];
		snprintf(rel, sizeof(rel), "sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
		mk(rel);
	}
	v1_layout(1);
	set_alloc(alloc, 1.25, 128.0 * 1048576, 2097152);
	ensure_ok(alloc, note);
	cr_assert_str_eq(slurp("v1/cpu/adp/p1/web.0/cpu.cfs_quota_us"), "125000");
	cr_assert_str_eq(slurp("v1/cpu/adp/p1/web.0/cpu.cfs_period_us"), "100000");
	cr_assert_str_eq(slurp("v1/memory/adp/p1/web.0/memory.limit_in_bytes"), "134217728");
	{
		char want[64];
		snprintf(want, sizeof(want), "%u:%u 2097152", major(st.st_dev), minor(st.st_dev));
		cr_assert_str_eq(slurp("v1/blkio/adp/p1/web.0/blkio.throttle.read_bps_device"), want);
		cr_assert_str_eq(slurp("v1/blkio/adp/p1/web.0/blkio.throttle.write_bps_device"), want);
	}
	/* Without partition cpus, cpuset levels inherit the root's. */
	cr_assert_str_eq(slurp("v1/cpuset/adp/p1/cpuset.cpus"), "0-3");
	cr_assert_str_eq(slurp("v1/cpuset/adp/p1/web.0/cpuset.mems"), "0");
	/* Nothing written where the plan has no allocation. */
	cr_assert_str_eq(slurp("v1/memory/adp/p1/memory.limit_in_bytes"), "");
	check_ok(alloc, msg);
	t_write("v1/cpu/adp/p1/web.0/cpu.cfs_quota_us", "-1\n");
	check_fails(alloc, "cpu quota is -1, the plan says 125000");
}

Test(orch_cgroup, v1_partition_cpus_and_no_blkio)
{
	double alloc[ADP_RES_COUNT] = { 0 };
	char note[256];

	fixture("{\"path\": \"adp/p1\", \"cpus\": \"1\", \"device\": \"8:0\"}", NULL);
	v1_layout(0);
	alloc[ADP_RES_IO] = 1000;
	ensure_ok(alloc, note);
	cr_assert_str_eq(slurp("v1/cpuset/adp/p1/cpuset.cpus"), "1");
	cr_assert_str_eq(slurp("v1/cpuset/adp/p1/web.0/cpuset.cpus"), "1");
	cr_assert_str_eq(note, "io limit not applied: the blkio controller is not mounted");
}

Test(orch_cgroup, io_device_choice)
{
	unsigned maj = 99, min = 99;

	fixture("{\"path\": \"adp/p1\"}", NULL);
	cr_assert_eq(orch_blockdev(loc.sys_root, "8:1", &maj, &min), 0, "%s", adp_error_last());
	cr_assert_eq(maj, 8);
	cr_assert_eq(min, 0);
	cr_assert_eq(orch_blockdev(loc.sys_root, "8:0", &maj, &min), 0);
	cr_assert_eq(min, 0);
	/* Not in sysfs, or major 0 (tmpfs, overlay): no device. */
	cr_assert_eq(orch_blockdev(loc.sys_root, "9:3", &maj, &min), 1);
	cr_assert_eq(orch_blockdev(loc.sys_root, "0:45", &maj, &min), 1);
	cr_assert_eq(orch_blockdev(loc.sys_root, t_path("no-such-dir"), &maj, &min), ADP_EINPUT);
	t_assert_msg("cannot find the device of");
}

Test(orch_cgroup, io_not_applied_without_a_block_device)
{
	double alloc[ADP_RES_COUNT] = { 0 };
	char note[256];

	/* The working directory's device is not in this (fake) sysfs. */
	fixture("{\"path\": \"adp/p1\"}", "/");
	v2_layout();
	alloc[ADP_RES_IO] = 4096;
	ensure_ok(alloc, note);
	cr_assert_str_eq(note, "io limit not applied: '/' is on no block device");
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/io.max"), "");
}

static int detect(const char *mounts)
{
	char root[512];
	int mode;

	t_write("mounts", mounts);
	mode = orch_cg_detect(t_path("mounts"), root, sizeof(root));
	if (mode == ORCH_CG_V1)
		cr_assert_str_eq(root, t_path("v1"));
	else if (mode == ORCH_CG_V2)
		cr_assert_str_eq(root, t_path("v2"));
	else
		cr_assert_str_eq(root, "");
	return mode;
}

Test(orch_cgroup, detects_v1_v2_and_hybrid)
{
	char m[2048];

	mk("v2");
	mk("v1");
	/* Hybrid, controllers bound to v1 (this host's layout): v1. */
	t_write("v2/cgroup.controllers", "\n");
	snprintf(m, sizeof(m),
		 "tmpfs %s tmpfs rw 0 0\ncgroup %s/cpu cgroup rw,relatime,cpu 0 0\n"
		 "cgroup %s/memory cgroup rw,relatime,memory 0 0\ncgroup2 %s cgroup2 rw 0 0\n",
		 t_path("v1"), t_path("v1"), t_path("v1"), t_path("v2"));
	cr_assert_eq(detect(m), ORCH_CG_V1);
	/* Joint mounts such as cpu,cpuacct,memory name memory among options. */
	snprintf(m, sizeof(m), "cgroup %s/memory cgroup rw,nosuid,cpu,cpuacct,memory 0 0\n", t_path("v1"));
	cr_assert_eq(detect(m), ORCH_CG_V1);
	/* "memory" only as part of another word is not the memory controller. */
	snprintf(m, sizeof(m), "cgroup %s/x cgroup rw,name=nomemory 0 0\n", t_path("v1"));
	cr_assert_eq(detect(m), ORCH_CG_NONE);
	/* Unified (v2 only, memory delegated): v2, even beside a v1 mount. */
	t_write("v2/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
	snprintf(m, sizeof(m), "cgroup2 %s cgroup2 rw,nsdelegate 0 0\n", t_path("v2"));
	cr_assert_eq(detect(m), ORCH_CG_V2);
	snprintf(m, sizeof(m), "cgroup %s/memory cgroup rw,memory 0 0\ncgroup2 %s cgroup2 rw 0 0\n", t_path("v1"),
		 t_path("v2"));
	cr_assert_eq(detect(m), ORCH_CG_V2);
	/* A v2 hierarchy without memory and no v1: v2 (processes, no limits). */
	t_write("v2/cgroup.controllers", "pids\n");
	snprintf(m, sizeof(m), "cgroup2 %s cgroup2 rw 0 0\n", t_path("v2"));
	cr_assert_eq(detect(m), ORCH_CG_V2);
	cr_assert_eq(detect("proc /proc proc rw 0 0\n"), ORCH_CG_NONE);
	cr_assert_eq(orch_cg_detect(t_path("no-such-mounts"), m, sizeof(m)), ORCH_CG_NONE);
}

/* Preflight refuses a plan whose limits need a controller the hierarchy
 * does not offer, naming it; with the controller, it passes. */
Test(orch_cgroup, preflight_needs_the_controllers)
{
	struct plan p = { 0 };
	struct plan_wave w = { 0 };
	struct plan_placement x = { 0 };
	struct orch_driver d;

	fixture("{\"path\": \"adp/p1\"}", NULL);
	v2_layout();
	x.component = "web";
	x.partition = "p1";
	x.from = "p0";
	x.alloc[ADP_RES_CPU] = 0.5;
	x.alloc[ADP_RES_MEMORY] = 1048576;
	w.placements = &x;
	w.nplacements = 1;
	p.waves = &w;
	p.nwaves = 1;
	orch_local_driver(&d, &loc);
	cr_assert_eq(d.check(d.ctx, &p), 0, "%s", adp_error_last());
	/* A bare v2 hierarchy (this is how a hybrid host's unified mount looks). */
	t_write("v2/cgroup.controllers", "pids\n");
	cr_assert_eq(d.check(d.ctx, &p), ADP_EINPUT);
	t_assert_msg("the plan sets cpu limits but the cpu controller is not available in");
	t_write("v2/cgroup.controllers", "cpu pids\n");
	cr_assert_eq(d.check(d.ctx, &p), ADP_EINPUT);
	t_assert_msg("the plan sets memory limits but the memory controller");
	/* v1 without blkio, and a plan with io limits. */
	x.alloc[ADP_RES_IO] = 1000;
	v1_layout(0);
	cr_assert_eq(d.check(d.ctx, &p), ADP_EINPUT);
	t_assert_msg("the plan sets io limits but no blkio controller is mounted");
	x.alloc[ADP_RES_IO] = 0;
	cr_assert_eq(d.check(d.ctx, &p), 0, "%s", adp_error_last());
}

/* A one-wave plan where web#0 stays on p1 with alloc (a resized stayer). */
static void stayer_plan(struct plan *p, struct plan_wave *w, struct plan_placement *x, double cpu, double mem)
{
	memset(p, 0, sizeof(*p));
	memset(w, 0, sizeof(*w));
	memset(x, 0, sizeof(*x));
	x->component = "web";
	x->partition = "p1";
	x->alloc[ADP_RES_CPU] = cpu;
	x->alloc[ADP_RES_MEMORY] = mem;
	x->alloc[ADP_RES_IO] = 1048576; /* not resized: only cpu and memory are */
	w->placements = x;
	w->nplacements = 1;
	p->waves = w;
	p->nwaves = 1;
}

static int act(const struct plan *p, const char *action, char *msg, size_t len)
{
	struct orch_driver d;
	struct plan_step s = { .id = 1, .wave = 1, .action = (char *)action, .act = plan_action_id(action),
			       .partition = "p1", .component = "web" };

	orch_local_driver(&d, &loc);
	msg[0] = '\0';
	cr_assert_geq(s.act, 0, "unknown action '%s'", action);
	return d.ops[s.act] ? d.ops[s.act](d.ctx, p, &s, msg, len) : 0;
}

Test(orch_cgroup, v2_resize_and_restore_exactly)
{
	struct plan p;
	struct plan_wave w;
	struct plan_placement x;
	char msg[512];

	fixture("{\"path\": \"adp/p1\"}", NULL);
	v2_layout();
	t_write("v2/adp/p1/web.0/cpu.max", "max 100000\n");
	t_write("v2/adp/p1/web.0/memory.max", "268435456\n");
	t_write("v2/adp/p1/web.0/memory.current", "10485760\n");
	stayer_plan(&p, &w, &x, 0.375, 128.0 * 1048576);
	cr_assert_eq(act(&p, "resize", msg, sizeof(msg)), 0, "%s", adp_error_last());
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/cpu.max"), "37500 100000");
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/memory.max"), "134217728");
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/io.max"), "", "io is not resized");
	cr_assert(strstr(msg, "resized to cpu 0.375"), "%s", msg);
	/* Repeated (a resume): the first record of the prior limits stays. */
	cr_assert_eq(act(&p, "resize", msg, sizeof(msg)), 0, "%s", adp_error_last());
	cr_assert_eq(act(&p, "restore_size", msg, sizeof(msg)), 0, "%s", adp_error_last());
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/cpu.max"), "max 100000");
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/memory.max"), "268435456");
	cr_assert_neq(access(t_path("proc/size-web.0@p1.saved"), F_OK), 0, "the record is gone after the restore");
	/* Restoring again (a rollback after the restore) changes nothing. */
	t_write("v2/adp/p1/web.0/memory.max", "999\n");
	cr_assert_eq(act(&p, "restore_size", msg, sizeof(msg)), 0, "%s", adp_error_last());
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/memory.max"), "999");
	cr_assert(strstr(msg, "nothing to restore"), "%s", msg);
}

Test(orch_cgroup, resize_below_memory_in_use_is_refused)
{
	struct plan p;
	struct plan_wave w;
	struct plan_placement x;
	char msg[512];

	fixture("{\"path\": \"adp/p1\"}", NULL);
	v2_layout();
	t_write("v2/adp/p1/web.0/memory.max", "max\n");
	t_write("v2/adp/p1/web.0/memory.current", "209715200\n");
	stayer_plan(&p, &w, &x, 0.5, 64.0 * 1048576);
	cr_assert_eq(act(&p, "resize", msg, sizeof(msg)), ADP_ESYS);
	t_assert_msg("it uses 209715200 bytes of memory now, above the planned limit of 67108864");
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/memory.max"), "max", "left as it was");
	/* The rollback's restore_size puts back the record made before the refusal. */
	cr_assert_eq(act(&p, "restore_size", msg, sizeof(msg)), 0, "%s", adp_error_last());
	cr_assert_str_eq(slurp("v2/adp/p1/web.0/memory.max"), "max");
}

Test(orch_cgroup, v1_resize_and_restore_period_and_quota)
{
	struct plan p;
	struct plan_wave w;
	struct plan_placement x;
	char msg[512];

	fixture("{\"path\": \"adp/p1\"}", NULL);
	v1_layout(0);
	t_write("v1/cpu/adp/p1/web.0/cpu.cfs_period_us", "50000\n");
	t_write("v1/cpu/adp/p1/web.0/cpu.cfs_quota_us", "-1\n");
	t_write("v1/memory/adp/p1/web.0/memory.limit_in_bytes", "9223372036854771712\n");
	t_write("v1/memory/adp/p1/web.0/memory.usage_in_bytes", "1048576\n");
	stayer_plan(&p, &w, &x, 1.5, 256.0 * 1048576);
	cr_assert_eq(act(&p, "resize", msg, sizeof(msg)), 0, "%s", adp_error_last());
	cr_assert_str_eq(slurp("v1/cpu/adp/p1/web.0/cpu.cfs_period_us"), "100000");
	cr_assert_str_eq(slurp("v1/cpu/adp/p1/web.0/cpu.cfs_quota_us"), "150000");
	cr_assert_str_eq(slurp("v1/memory/adp/p1/web.0/memory.limit_in_bytes"), "268435456");
	cr_assert_eq(act(&p, "restore_size", msg, sizeof(msg)), 0, "%s", adp_error_last());
	cr_assert_str_eq(slurp("v1/cpu/adp/p1/web.0/cpu.cfs_period_us"), "50000");
	cr_assert_str_eq(slurp("v1/cpu/adp/p1/web.0/cpu.cfs_quota_us"), "-1");
	cr_assert_str_eq(slurp("v1/memory/adp/p1/web.0/memory.limit_in_bytes"), "9223372036854771712");
}

Test(orch_cgroup, resize_names_a_replica_that_does_not_stay)
{
	struct plan p;
	struct plan_wave w;
	struct plan_placement x;
	char msg[512];

	fixture("{\"path\": \"adp/p1\"}", NULL);
	v2_layout();
	stayer_plan(&p, &w, &x, 0.5, 64.0 * 1048576);
	x.from = "p0"; /* moved here: not a stayer */
	cr_assert_eq(act(&p, "resize", msg, sizeof(msg)), ADP_EINPUT);
	t_assert_msg("'web' replica 0 does not stay on 'p1' in wave 1");
}

Test(orch_cgroup, v1_reservations_as_shares_and_soft_limit)
{
	double alloc[ADP_RES_COUNT] = { 0 }, reserve[ADP_RES_COUNT] = { 0 };
	char note[256];

	fixture("{\"path\": \"adp/p1\"}", NULL);
	v1_layout(0);
	set_alloc(alloc, 2, 256.0 * 1048576, 0);
	set_alloc(reserve, 0.5, 128.0 * 1048576, 0);
	ensure_with(alloc, reserve, note);
	cr_assert_str_eq(slurp("v1/cpu/adp/p1/web.0/cpu.cfs_quota_us"), "200000");
	cr_assert_str_eq(slurp("v1/cpu/adp/p1/web.0/cpu.shares"), "512");
	cr_assert_str_eq(slurp("v1/memory/adp/p1/web.0/memory.soft_limit_in_bytes"), "134217728");
	check_reserved(alloc, reserve, "4 checked");
	t_write("v1/cpu/adp/p1/web.0/cpu.shares", "2\n");
	check_reserve_fails(alloc, reserve, "cpu weight is 2, the plan's reservation makes it 512");
	t_write("v1/cpu/adp/p1/web.0/cpu.shares", "512\n");
	t_write("v1/memory/adp/p1/web.0/memory.soft_limit_in_bytes", "9223372036854771712\n");
	check_reserved(alloc, reserve, "4 checked"); /* more protection than planned is no harm */
	t_write("v1/memory/adp/p1/web.0/memory.soft_limit_in_bytes", "4096\n");
	check_reserve_fails(alloc, reserve, "memory soft limit is 4096, the plan reserves 134217728");
}
