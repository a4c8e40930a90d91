/* The local driver's cgroups: the layout of the host (v2, or v1 where
 * the memory controller is mounted there), a partition's and an
 * instance's cgroups and their limits in the plan's units, the block
 * device an I/O limit applies to, and the steps that make and remove a
 * shadow's cgroup. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "orchestrator/local/local_int.h"
#include "util/error.h"
#include "util/fsutil.h"

/* v1 controllers apply uses, each mounted at cg_root/NAME; one that is
 * not mounted is left out. cpuacct gives cpu usage; where it shares a
 * mount with cpu the second mkdir and rmdir are no-ops. */
const char *const local_v1_ctrl[NV1] = { "cpu", "cpuset", "memory", "cpuacct", "blkio" };

int local_lists_word(const char *dir, const char *name, const char *word)
{
	char path[1024], buf[1024], *tok, *save = NULL;
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "re")))
		return 0;
	if (fgets(buf, sizeof(buf), f))
		for (tok = strtok_r(buf, " \n", &save); tok && !found; tok = strtok_r(NULL, " \n", &save))
			found = !strcmp(tok, word);
	fclose(f);
	return found;
}

int orch_cg_detect(const char *mounts, char *root, size_t len)
{
	char line[1024], v1root[512] = "", v2root[512] = "";
	FILE *f;
	int mode = ORCH_CG_NONE;

	if (!(f = fopen(mounts, "re")))
		return ORCH_CG_NONE;
	while (fgets(line, sizeof(line), f)) {
		char dev[256], dir[512], type[64], opts[512], *slash, *tok, *save = NULL;

		if (sscanf(line, "%255s %511s %63s %511s", dev, dir, type, opts) != 4)
			continue;
		if (!strcmp(type, "cgroup2") && !v2root[0]) {
			snprintf(v2root, sizeof(v2root), "%s", dir);
			continue;
		}
		if (strcmp(type, "cgroup") || v1root[0])
			continue;
		for (tok = strtok_r(opts, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			if (!strcmp(tok, "memory") && (slash = strrchr(dir, '/'))) {
				*slash = '\0';
				snprintf(v1root, sizeof(v1root), "%s", dir);
			}
	}
	fclose(f);
	/* v2 where it holds the memory controller; else v1 where memory is
	 * mounted there; else a bare v2 hierarchy (processes, no limits). */
	if (v2root[0] && local_lists_word(v2root, "cgroup.controllers", "memory"))
		mode = ORCH_CG_V2;
	else if (v1root[0])
		mode = ORCH_CG_V1;
	else if (v2root[0])
		mode = ORCH_CG_V2;
	snprintf(root, len, "%s", mode == ORCH_CG_V1 ? v1root : mode == ORCH_CG_V2 ? v2root : "");
	return mode;
}

int local_part_cg(const struct orch_local *l, const char *part, char *out, size_t len)
{
	const struct inv_partition *ip = local_find_part(l, part);
	const char *path, *parent;

	if (!ip || !ip->cgroup || l->cg_mode == ORCH_CG_NONE)
		return 0;
	/* Relative, without '..': orch_local_config_check saw to it. */
	path = json_string_value(json_object_get(ip->cgroup, "path"));
	parent = json_string_value(json_object_get(ip->cgroup, "parent"));
	if (parent)
		snprintf(out, len, "%.270s/%.128s", parent, part);
	else
		snprintf(out, len, "%.400s", path ? path : part);
	return 1;
}

int local_write_str(const char *dir, const char *file, const char *val)
{
	char path[1024];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	/* O_TRUNC as a shell's '>' does: cgroupfs ignores it, a plain file
	 * (the tests' hierarchies) holds only the new value. */
	if ((fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0)
		return adp_error_set(ADP_ESYS, "cannot open '%s': %s", path, strerror(errno));
	if (write(fd, val, strlen(val)) < 0)
		rc = adp_error_set(ADP_ESYS, "cannot write '%s' to '%s': %s", val, path, strerror(errno));
	close(fd);
	return rc;
}

void local_read_str(const char *dir, const char *file, char *out, size_t len)
{
	char path[1024];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((f = fopen(path, "re"))) {
		if (!fgets(out, (int)len, f))
			out[0] = '\0';
		fclose(f);
	}
	out[strcspn(out, "\n")] = '\0';
}

static int mkdir_cg(const char *dir)
{
	if (mkdir(dir, 0755) && errno != EEXIST)
		return adp_error_set(ADP_ESYS, "cannot create cgroup '%s': %s", dir, strerror(errno));
	return 0;
}

/* mkdir -p of rel under root; in a v1 cpuset hierarchy each new level
 * inherits its parent's cpus and mems, without which it takes no tasks. */
static int cg_mkpath(const char *root, const char *rel, int cpuset)
{
	char dir[1024], parent[1024], buf[256];
	size_t i, n = strlen(rel);
	int rc;

	for (i = 1; i <= n; i++) {
		char *slash;

		if ((rel[i] != '/' && rel[i] != '\0') || rel[i - 1] == '/')
			continue;
		snprintf(dir, sizeof(dir), "%s/%.*s", root, (int)i, rel);
		if (access(dir, F_OK) == 0)
			continue;
		if ((rc = mkdir_cg(dir)))
			return rc;
		if (!cpuset || !(slash = strrchr(dir, '/')))
			continue;
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - dir), dir);
		local_read_str(parent, "cpuset.mems", buf, sizeof(buf));
		if ((rc = local_write_str(dir, "cpuset.mems", buf)))
			return rc;
		local_read_str(parent, "cpuset.cpus", buf, sizeof(buf));
		if ((rc = local_write_str(dir, "cpuset.cpus", buf)))
			return rc;
	}
	return 0;
}

/* Is v1 controller c mounted under the root? */
int local_v1_has(const struct orch_local *l, size_t c)
{
	char dir[1024];

	snprintf(dir, sizeof(dir), "%s/%s", l->cg_root, local_v1_ctrl[c]);
	return access(dir, F_OK) == 0;
}

int orch_blockdev(const char *sys_root, const char *spec, unsigned *maj, unsigned *min)
{
	char path[1024], buf[64];
	struct stat st;
	unsigned a, b;
	char tail;

	if (sscanf(spec, "%u:%u%c", &a, &b, &tail) == 2) {
		/* given as MAJ:MIN */
	} else if (stat(spec, &st)) {
		return adp_error_set(ADP_EINPUT, "cannot find the device of '%s': %s", spec, strerror(errno));
	} else if (S_ISBLK(st.st_mode)) {
		a = major(st.st_rdev);
		b = minor(st.st_rdev);
	} else {
		a = major(st.st_dev);
		b = minor(st.st_dev);
	}
	/* Major 0: tmpfs, overlay, btrfs subvolumes: no block device to throttle. */
	if (a == 0)
		return 1;
	snprintf(path, sizeof(path), "%s/dev/block/%u:%u", sys_root, a, b);
	if (access(path, F_OK))
		return 1;
	/* A partition: the throttle applies to its whole disk. */
	snprintf(path, sizeof(path), "%s/dev/block/%u:%u/partition", sys_root, a, b);
	if (access(path, F_OK) == 0) {
		snprintf(path, sizeof(path), "%s/dev/block/%u:%u/..", sys_root, a, b);
		local_read_str(path, "dev", buf, sizeof(buf));
		if (sscanf(buf, "%u:%u", &a, &b) != 2)
			return adp_error_set(ADP_EINPUT, "cannot read the disk of partition %u:%u from '%s/dev'", a,
					     b, path);
	}
	*maj = a;
	*min = b;
	return 0;
}

/* The device an I/O limit applies to: the partition's cgroup.device, else
 * the device holding the component's working directory (run.cwd, or
 * apply's own when it has none). 0 found, 1 none (with why in note). */
static int io_device(const struct orch_local *l, const char *part, const struct inv_component *c,
		     size_t replica, unsigned *maj, unsigned *min, char *note, size_t len)
{
	const struct inv_partition *ip = local_find_part(l, part);
	const char *dev = ip && ip->cgroup ? json_string_value(json_object_get(ip->cgroup, "device")) : NULL;
	const char *cw = c && c->run ? json_string_value(json_object_get(c->run, "cwd")) : NULL;
	char where[4096];
	int rc;

	if (dev)
		snprintf(where, sizeof(where), "%s", dev);
	else if (cw && (rc = local_expand(where, sizeof(where), cw, c, part, replica)))
		return rc;
	else if (!cw)
		snprintf(where, sizeof(where), ".");
	if ((rc = orch_blockdev(l->sys_root, where, maj, min)) == 1)
		snprintf(note, len, "io limit not applied: '%s' is on no block device", where);
	return rc;
}

/* Writes v in decimal to dir/file. */
static int write_ll(const char *dir, const char *file, long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	return local_write_str(dir, file, buf);
}

/* The cpu weight of a reservation: cgroup v2's cpu.weight is 100 for one
 * core's worth (1..10000), v1's cpu.shares 1024 (2..262144), so that
 * replicas contending for a partition's cpus share them in proportion
 * to their reservations. */
static long long cpu_weight(double cores, int v1)
{
	double w = v1 ? cores * 1024 : cores * 100;

	return v1 ? (long long)fmin(262144, fmax(2, llround(w))) : (long long)fmin(10000, fmax(1, llround(w)));
}

int orch_local_cg_ensure(const struct orch_local *l, const char *part, const char *inst, const double *alloc,
			 const double *reserve, const struct inv_component *comp, size_t replica, char *note,
			 size_t notelen)
{
	const struct inv_partition *ip = local_find_part(l, part);
	const char *cpus = ip && ip->cgroup ? json_string_value(json_object_get(ip->cgroup, "cpus")) : NULL;
	char rel[512], dir[1024], sub[1200], buf[256], io[128] = "";
	unsigned maj = 0, min = 0;
	long long bps = alloc && alloc[ADP_RES_IO] > 0 ? (long long)alloc[ADP_RES_IO] : 0;
	size_t c;
	int rc;

	if (note && notelen)
		note[0] = '\0';
	if ((rc = local_part_cg(l, part, rel, sizeof(rel))) <= 0)
		return rc;
	if (bps > 0) {
		if ((rc = io_device(l, part, comp, replica, &maj, &min, note, notelen)) < 0)
			return rc;
		if (rc == 1)
			bps = 0;
		else if (note && notelen)
			snprintf(note, notelen, "io limit %lld bytes/s on %u:%u", bps, maj, min);
	}
	if (l->cg_mode == ORCH_CG_V1) {
		for (c = 0; c < NV1; c++) {
			if (!local_v1_has(l, c))
				continue;
			if ((rc = adp_snprintf_path(dir, sizeof(dir), "%s/%s", l->cg_root, local_v1_ctrl[c])) ||
			    (rc = cg_mkpath(dir, rel, c == V1_CPUSET)))
				return rc;
			if ((rc = adp_snprintf_path(dir, sizeof(dir), "%s/%s/%s", l->cg_root, local_v1_ctrl[c], rel)) ||
			    (rc = adp_snprintf_path(sub, sizeof(sub), "%s/%s", dir, inst)) || (rc = mkdir_cg(sub)))
				return rc;
			if (c == V1_CPUSET) {
				char parent[1024];
				if ((rc = adp_snprintf_path(parent, sizeof(parent), "%s/%s", l->cg_root, local_v1_ctrl[c])))
					return rc;
				local_read_str(parent, "cpuset.mems", buf, sizeof(buf));
				if ((rc = local_write_str(dir, "cpuset.mems", buf)) || (rc = local_write_str(sub, "cpuset.mems", buf)))
					return rc;
				if (!cpus)
					local_read_str(parent, "cpuset.cpus", buf, sizeof(buf));
				if ((rc = local_write_str(dir, "cpuset.cpus", cpus ? cpus : buf)) ||
				    (rc = local_write_str(sub, "cpuset.cpus", cpus ? cpus : buf)))
					return rc;
			}
			if (c == V1_CPU && alloc && alloc[ADP_RES_CPU] > 0 &&
			    ((rc = local_write_str(sub, "cpu.cfs_period_us", "100000")) ||
			     (rc = write_ll(sub, "cpu.cfs_quota_us", (long long)(alloc[ADP_RES_CPU] * 100000)))))
				return rc;
			if (c == V1_CPU && reserve && reserve[ADP_RES_CPU] > 0 &&
			    (rc = write_ll(sub, "cpu.shares", cpu_weight(reserve[ADP_RES_CPU], 1))))
				return rc;
			if (c == V1_MEMORY && alloc && alloc[ADP_RES_MEMORY] > 0 &&
			    (rc = write_ll(sub, "memory.limit_in_bytes", (long long)alloc[ADP_RES_MEMORY])))
				return rc;
			/* v1 has no protection: the soft limit is where reclaim
			 * under pressure starts. */
			if (c == V1_MEMORY && reserve && reserve[ADP_RES_MEMORY] > 0 &&
			    (rc = write_ll(sub, "memory.soft_limit_in_bytes", (long long)reserve[ADP_RES_MEMORY])))
				return rc;
			if (c == V1_BLKIO && bps > 0) {
				snprintf(io, sizeof(io), "%u:%u %lld", maj, min, bps);
				if ((rc = local_write_str(sub, "blkio.throttle.read_bps_device", io)) ||
				    (rc = local_write_str(sub, "blkio.throttle.write_bps_device", io)))
					return rc;
			}
		}
		if (bps > 0 && !io[0] && note && notelen)
			snprintf(note, notelen, "io limit not applied: the blkio controller is not mounted");
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s/%s", l->cg_root, rel);
	snprintf(sub, sizeof(sub), "%s/%s", dir, inst);
	if ((rc = cg_mkpath(l->cg_root, rel, 0)))
		return rc;
	/* Controllers the parents can delegate; missing ones are left off. */
	{
		char at[1024];
		size_t i;

		snprintf(at, sizeof(at), "%s", l->cg_root);
		local_write_str(at, "cgroup.subtree_control", "+cpu +memory +cpuset +io");
		for (i = 0; rel[i]; i++)
			if (rel[i] == '/') {
				snprintf(at, sizeof(at), "%s/%.*s", l->cg_root, (int)i, rel);
				local_write_str(at, "cgroup.subtree_control", "+cpu +memory +cpuset +io");
			}
		local_write_str(dir, "cgroup.subtree_control", "+cpu +memory +cpuset +io");
	}
	adp_error_clear();
	if ((rc = mkdir_cg(sub)))
		return rc;
	if (cpus && (rc = local_write_str(dir, "cpuset.cpus", cpus)))
		return rc;
	if (alloc && alloc[ADP_RES_CPU] > 0) {
		snprintf(buf, sizeof(buf), "%lld 100000", (long long)(alloc[ADP_RES_CPU] * 100000));
		if ((rc = local_write_str(sub, "cpu.max", buf)))
			return rc;
	}
	if (alloc && alloc[ADP_RES_MEMORY] > 0 && (rc = write_ll(sub, "memory.max", (long long)alloc[ADP_RES_MEMORY])))
		return rc;
	/* Reservations: a share of contended cpu, and memory the kernel
	 * reclaims from last (best effort, as ancestors above the partition's
	 * cgroup may protect less: their memory.low is the host's). */
	if (reserve && reserve[ADP_RES_CPU] > 0 && (rc = write_ll(sub, "cpu.weight", cpu_weight(reserve[ADP_RES_CPU], 0))))
		return rc;
	if (reserve && reserve[ADP_RES_MEMORY] > 0 &&
	    (rc = write_ll(sub, "memory.low", (long long)reserve[ADP_RES_MEMORY])))
		return rc;
	if (bps > 0) {
		snprintf(io, sizeof(io), "%u:%u rbps=%lld wbps=%lld", maj, min, bps, bps);
		if ((rc = local_write_str(sub, "io.max", io)))
			return rc;
	}
	return 0;
}

/* Reads the number after key (or the first number without a key) from
 * dir/file; 1 when found. */
int local_read_num(const char *dir, const char *file, const char *key, long long *out)
{
	char buf[512], *p;

	local_read_str(dir, file, buf, sizeof(buf));
	p = key ? strstr(buf, key) : buf;
	if (!p)
		return 0;
	p += key ? strlen(key) : 0;
	if (!strncmp(p, "max", 3)) {
		*out = -1;
		return 1;
	}
	return sscanf(p, "%lld", out) == 1;
}

int orch_local_cg_check(const struct orch_local *l, const char *part, const char *inst, const double *alloc,
			const double *reserve, const struct inv_component *comp, size_t replica, char *msg, size_t len)
{
	char rel[512], cpu[1200], mem[1200], blk[1200], key[64], note[256];
	long long v = 0, want;
	unsigned maj = 0, min = 0;
	int rc, v1 = l->cg_mode == ORCH_CG_V1, n = 0;

	if ((rc = local_part_cg(l, part, rel, sizeof(rel))) <= 0) {
		snprintf(msg, len, "no cgroup configured");
		return rc;
	}
	snprintf(cpu, sizeof(cpu), "%s/%s%s/%s", l->cg_root, v1 ? "cpu/" : "", rel, inst);
	snprintf(mem, sizeof(mem), "%s/%s%s/%s", l->cg_root, v1 ? "memory/" : "", rel, inst);
	snprintf(blk, sizeof(blk), "%s/%s%s/%s", l->cg_root, v1 ? "blkio/" : "", rel, inst);
	if (access(mem, F_OK) && access(cpu, F_OK))
		return adp_error_set(ADP_ESYS, "cgroup '%s' of partition '%s' does not exist", mem, part);
	if (alloc && alloc[ADP_RES_CPU] > 0) {
		want = (long long)(alloc[ADP_RES_CPU] * 100000);
		if (!local_read_num(cpu, v1 ? "cpu.cfs_quota_us" : "cpu.max", NULL, &v) || v < want)
			return adp_error_set(ADP_ESYS, "cgroup '%s': cpu quota is %lld, the plan says %lld", cpu, v, want);
		n++;
	}
	if (alloc && alloc[ADP_RES_MEMORY] > 0) {
		/* The kernel rounds memory limits down to whole pages. */
		want = (long long)alloc[ADP_RES_MEMORY];
		if (!local_read_num(mem, v1 ? "memory.limit_in_bytes" : "memory.max", NULL, &v) || v < 0 ||
		    v < want - 65535)
			return adp_error_set(ADP_ESYS, "cgroup '%s': memory limit is %lld, the plan says %lld", mem, v,
					     want);
		n++;
	}
	/* The reservations: the cpu weight and the memory protection (v1's
	 * soft limit) cg_ensure set, so that a partition under contention
	 * shares as the plan's proof assumed. */
	if (reserve && reserve[ADP_RES_CPU] > 0) {
		want = cpu_weight(reserve[ADP_RES_CPU], v1);
		if (!local_read_num(cpu, v1 ? "cpu.shares" : "cpu.weight", NULL, &v) || v < want)
			return adp_error_set(ADP_ESYS, "cgroup '%s': cpu weight is %lld, the plan's reservation makes it %lld",
					     cpu, v, want);
		n++;
	}
	if (reserve && reserve[ADP_RES_MEMORY] > 0) {
		want = (long long)reserve[ADP_RES_MEMORY];
		if (!local_read_num(mem, v1 ? "memory.soft_limit_in_bytes" : "memory.low", NULL, &v) || v < want - 65535)
			return adp_error_set(ADP_ESYS, "cgroup '%s': memory %s is %lld, the plan reserves %lld", mem,
					     v1 ? "soft limit" : "protection (memory.low)", v, want);
		n++;
	}
	if (alloc && alloc[ADP_RES_IO] > 0 && (!v1 || local_v1_has(l, V1_BLKIO))) {
		if ((rc = io_device(l, part, comp, replica, &maj, &min, note, sizeof(note))) < 0)
			return rc;
		if (!rc) {
			want = (long long)alloc[ADP_RES_IO];
			snprintf(key, sizeof(key), v1 ? "%u:%u " : "%u:%u rbps=", maj, min);
			if (!local_read_num(blk, v1 ? "blkio.throttle.read_bps_device" : "io.max", key, &v) || v < want)
				return adp_error_set(ADP_ESYS, "cgroup '%s': io limit on %u:%u is %lld, the plan says %lld",
						     blk, maj, min, v, want);
			n++;
		}
	}
	snprintf(msg, len, "cgroup of '%s' in '%s' has the planned limits and reservations (%d checked)", inst, part, n);
	return 0;
}

/* Hierarchy c's directory for rel ("" for the root): 1, 0 when c is a
 * v1 controller that is not mounted, or ADP_EINPUT when the path does not
 * fit (a cut path would name another cgroup). Without v1 there is one
 * hierarchy. */
static int cg_dir(const struct orch_local *l, size_t c, const char *rel, char *out, size_t len)
{
	int rc;

	if (l->cg_mode != ORCH_CG_V1)
		rc = adp_snprintf_path(out, len, "%s%s%s", l->cg_root, *rel ? "/" : "", rel);
	else if (!local_v1_has(l, c))
		return 0;
	else
		rc = adp_snprintf_path(out, len, "%s/%s%s%s", l->cg_root, local_v1_ctrl[c], *rel ? "/" : "", rel);
	return rc ? rc : 1;
}

static size_t cg_nhier(const struct orch_local *l)
{
	return l->cg_mode == ORCH_CG_V1 ? NV1 : 1;
}

/* Removes the instance cgroup, then the partition's if it is empty. */
static int cg_remove(const struct orch_local *l, const char *part, const char *inst)
{
	char rel[512], dir[1024], sub[1200];
	size_t c;
	int rc;

	if (!local_part_cg(l, part, rel, sizeof(rel)))
		return 0;
	for (c = 0; c < cg_nhier(l); c++) {
		if ((rc = cg_dir(l, c, rel, dir, sizeof(dir))) <= 0) {
			if (rc < 0)
				return rc;
			continue;
		}
		if ((rc = adp_snprintf_path(sub, sizeof(sub), "%s/%s", dir, inst)))
			return rc;
		if (rmdir(sub) && errno != ENOENT)
			return adp_error_set(ADP_ESYS, "cannot remove cgroup '%s': %s", sub, strerror(errno));
		if (rmdir(dir) && errno != ENOENT && errno != ENOTEMPTY && errno != EBUSY)
			return adp_error_set(ADP_ESYS, "cannot remove cgroup '%s': %s", dir, strerror(errno));
	}
	return 0;
}

int local_cg_join(const struct orch_local *l, const char *part, const char *inst)
{
	char rel[512], dir[1024], sub[1200], pid[32];
	size_t c;
	int rc;

	if (!local_part_cg(l, part, rel, sizeof(rel)))
		return 0;
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	for (c = 0; c < cg_nhier(l); c++) {
		if ((rc = cg_dir(l, c, rel, dir, sizeof(dir))) <= 0) {
			if (rc < 0)
				return -1;
			continue;
		}
		if (adp_snprintf_path(sub, sizeof(sub), "%s/%s", dir, inst))
			return -1;
		if (local_write_str(sub, l->cg_mode == ORCH_CG_V1 ? "tasks" : "cgroup.procs", pid))
			return -1;
	}
	return 0;
}

int local_cg_partition(const struct orch_local *l, const char *rel)
{
	char dir[1024];
	size_t c;
	int rc;

	for (c = 0; c < cg_nhier(l); c++)
		if ((rc = cg_dir(l, c, "", dir, sizeof(dir))) < 0 ||
		    (rc && (rc = cg_mkpath(dir, rel, l->cg_mode == ORCH_CG_V1 && c == V1_CPUSET))))
			return rc;
	return 0;
}

/* create_partition: the shadow's cgroup, sized to its allocation. */
int local_op_create_partition(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct local_step t;
	int rc = local_step_begin(&t, ctx, p, s, LOCAL_NEED_MOVED);

	return rc ? rc : orch_local_cg_ensure(t.l, t.shadow, t.inst, t.x->alloc, t.x->reserve, t.c, s->replica, msg, len);
}

/* remove_partition and cleanup: the shadow stopped if it still runs, and
 * its cgroup removed. */
int local_op_remove_partition(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct local_step t;
	char m[128];
	int rc = local_step_begin(&t, ctx, p, s, LOCAL_NEED_MOVED);

	(void)msg;
	(void)len;
	if (!rc)
		rc = local_stop_inst(t.l, t.c, t.shadow, s->replica, m, sizeof(m));
	return rc ? rc : cg_remove(t.l, t.shadow, t.inst);
}

/* The limits the plan sets need their controllers: refuses (before
 * anything changes) a plan whose shadows' cgroups would lack one, rather
 * than run them without the isolation planned. */
int local_controller_check(const struct orch_local *l, const struct plan *p)
{
	static const char *const v2name[] = { "cpu", "memory", "io", NULL };
	static const size_t v1idx[] = { V1_CPU, V1_MEMORY, V1_BLKIO };
	int need[4] = { 0 }, r;
	size_t w, k;

	for (w = 0; w < p->nwaves; w++)
		for (k = 0; k < p->waves[w].nplacements; k++) {
			const struct plan_placement *x = &p->waves[w].placements[k];
			const struct inv_partition *ip = local_find_part(l, x->partition);
			char rel[512];

			if (!x->from || !local_part_cg(l, x->partition, rel, sizeof(rel)))
				continue;
			for (r = 0; r < 3; r++)
				need[r] |= x->alloc[r == 2 ? ADP_RES_IO : r] > 0;
			need[3] |= ip && ip->cgroup && json_object_get(ip->cgroup, "cpus");
		}
	for (r = 0; r < 4; r++) {
		const char *name = r < 3 ? v2name[r] : "cpuset";

		if (!need[r])
			continue;
		if (l->cg_mode == ORCH_CG_V2 && !local_lists_word(l->cg_root, "cgroup.controllers", name))
			return adp_error_set(ADP_EINPUT,
					     "the plan sets %s limits but the %s controller is not available in '%s/cgroup.controllers'",
					     name, name, l->cg_root);
		if (l->cg_mode == ORCH_CG_V1 && !local_v1_has(l, r < 3 ? v1idx[r] : V1_CPUSET))
			return adp_error_set(ADP_EINPUT, "the plan sets %s limits but no %s controller is mounted at '%s/%s'",
					     name, r == 2 ? "blkio" : name, l->cg_root, r == 2 ? "blkio" : name);
	}
	return 0;
}
