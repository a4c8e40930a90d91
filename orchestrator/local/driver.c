#include "orchestrator/local/driver.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plans/steps.h"
#include "util/error.h"
#include "util/fsutil.h"

#define MAX_ARGS 256
#define MAX_ARG_LEN 4096
#define MAX_REPLY ((size_t)1 << 20)
#define CANARY_WEIGHT 10

/* v1 controllers apply uses, each mounted at cg_root/NAME; one that is
 * not mounted is left out. cpuacct gives cpu usage; where it shares a
 * mount with cpu the second mkdir and rmdir are no-ops. */
static const char *const v1_ctrl[] = { "cpu", "cpuset", "memory", "cpuacct", "blkio" };
#define NV1 5
enum { V1_CPU, V1_CPUSET, V1_MEMORY, V1_CPUACCT, V1_BLKIO };

static int expand(char *out, size_t len, const char *in, const struct inv_component *c, const char *part,
		  size_t replica);

/* Does the file at dir/name list word (space separated)? */
static int lists_word(const char *dir, const char *name, const char *word)
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
	if (v2root[0] && lists_word(v2root, "cgroup.controllers", "memory"))
		mode = ORCH_CG_V2;
	else if (v1root[0])
		mode = ORCH_CG_V1;
	else if (v2root[0])
		mode = ORCH_CG_V2;
	snprintf(root, len, "%s", mode == ORCH_CG_V1 ? v1root : mode == ORCH_CG_V2 ? v2root : "");
	return mode;
}

int orch_local_init(struct orch_local *l, const struct inventory *inv, const struct schedule *sched,
		    const char *state_dir)
{
	memset(l, 0, sizeof(*l));
	l->inv = inv;
	l->sched = sched;
	if (!(l->state_dir = strdup(state_dir)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	l->cg_mode = orch_cg_detect("/proc/mounts", l->cg_root, sizeof(l->cg_root));
	snprintf(l->sys_root, sizeof(l->sys_root), "/sys");
	return 0;
}

void orch_local_release(struct orch_local *l)
{
	if (!l)
		return;
	free(l->state_dir);
	l->state_dir = NULL;
}

static const struct inv_partition *find_part(const struct orch_local *l, const char *name)
{
	int i = name ? inventory_partition_index(l->inv, name) : -1;

	return i < 0 ? NULL : &l->inv->parts[i];
}

static const struct inv_component *find_comp(const struct orch_local *l, const char *name)
{
	int i = name ? inventory_component_index(l->inv, name) : -1;

	return i < 0 ? NULL : &l->inv->comps[i];
}

/* The engine's cancel: the act under way returns at its next wait. */
static int cancelled(const struct orch_local *l)
{
	return __atomic_load_n(&l->cancelled, __ATOMIC_SEQ_CST);
}

static void local_cancel(void *ctx)
{
	struct orch_local *l = ctx;

	__atomic_store_n(&l->cancelled, 1, __ATOMIC_SEQ_CST);
}

/* Sleeps ms in slices; 1 when cancelled meanwhile. */
static int nap(const struct orch_local *l, long ms)
{
	for (; ms > 0 && !cancelled(l); ms -= 50)
		usleep((useconds_t)(ms < 50 ? ms : 50) * 1000);
	return cancelled(l);
}

/* ---- cgroups ---- */

/* The partition's cgroup, relative to each controller's root. */
static int part_cg(const struct orch_local *l, const char *part, char *out, size_t len)
{
	const struct inv_partition *ip = find_part(l, part);
	const char *path;

	if (!ip || !ip->cgroup || l->cg_mode == ORCH_CG_NONE)
		return 0;
	path = json_string_value(json_object_get(ip->cgroup, "path"));
	if (path && (strstr(path, "..") || path[0] == '/'))
		return adp_error_set(ADP_EINPUT, "partition '%s': cgroup path '%s' must be relative, without '..'",
				     part, path);
	snprintf(out, len, "%s", path ? path : part);
	return 1;
}

static int write_str(const char *dir, const char *file, const char *val)
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

static void read_str(const char *dir, const char *file, char *out, size_t len)
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
		read_str(parent, "cpuset.mems", buf, sizeof(buf));
		if ((rc = write_str(dir, "cpuset.mems", buf)))
			return rc;
		read_str(parent, "cpuset.cpus", buf, sizeof(buf));
		if ((rc = write_str(dir, "cpuset.cpus", buf)))
			return rc;
	}
	return 0;
}

/* Is v1 controller c mounted under the root? */
static int v1_has(const struct orch_local *l, size_t c)
{
	char dir[1024];

	snprintf(dir, sizeof(dir), "%s/%s", l->cg_root, v1_ctrl[c]);
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
		read_str(path, "dev", buf, sizeof(buf));
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
	const struct inv_partition *ip = find_part(l, part);
	const char *dev = ip && ip->cgroup ? json_string_value(json_object_get(ip->cgroup, "device")) : NULL;
	const char *cw = c && c->run ? json_string_value(json_object_get(c->run, "cwd")) : NULL;
	char where[4096];
	int rc;

	if (dev)
		snprintf(where, sizeof(where), "%s", dev);
	else if (cw && (rc = expand(where, sizeof(where), cw, c, part, replica)))
		return rc;
	else if (!cw)
		snprintf(where, sizeof(where), ".");
	if ((rc = orch_blockdev(l->sys_root, where, maj, min)) == 1)
		snprintf(note, len, "io limit not applied: '%s' is on no block device", where);
	return rc;
}

int orch_local_cg_ensure(const struct orch_local *l, const char *part, const char *inst, const double *alloc,
			 const struct inv_component *comp, size_t replica, char *note, size_t notelen)
{
	const struct inv_partition *ip = find_part(l, part);
	const char *cpus = ip && ip->cgroup ? json_string_value(json_object_get(ip->cgroup, "cpus")) : NULL;
	char rel[512], dir[1024], sub[1200], buf[256], io[128] = "";
	unsigned maj = 0, min = 0;
	long long bps = alloc && alloc[ADP_RES_IO] > 0 ? (long long)alloc[ADP_RES_IO] : 0;
	size_t c;
	int rc;

	if (note && notelen)
		note[0] = '\0';
	if ((rc = part_cg(l, part, rel, sizeof(rel))) <= 0)
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
			if (!v1_has(l, c))
				continue;
			snprintf(dir, sizeof(dir), "%s/%s", l->cg_root, v1_ctrl[c]);
			if ((rc = cg_mkpath(dir, rel, c == V1_CPUSET)))
				return rc;
			snprintf(dir, sizeof(dir), "%s/%s/%s", l->cg_root, v1_ctrl[c], rel);
			snprintf(sub, sizeof(sub), "%s/%s", dir, inst);
			if ((rc = mkdir_cg(sub)))
				return rc;
			if (c == V1_CPUSET) {
				char parent[1024];
				snprintf(parent, sizeof(parent), "%s/%s", l->cg_root, v1_ctrl[c]);
				read_str(parent, "cpuset.mems", buf, sizeof(buf));
				if ((rc = write_str(dir, "cpuset.mems", buf)) || (rc = write_str(sub, "cpuset.mems", buf)))
					return rc;
				if (!cpus)
					read_str(parent, "cpuset.cpus", buf, sizeof(buf));
				if ((rc = write_str(dir, "cpuset.cpus", cpus ? cpus : buf)) ||
				    (rc = write_str(sub, "cpuset.cpus", cpus ? cpus : buf)))
					return rc;
			}
			if (c == V1_CPU && alloc && alloc[ADP_RES_CPU] > 0) {
				snprintf(buf, sizeof(buf), "%lld", (long long)(alloc[ADP_RES_CPU] * 100000));
				if ((rc = write_str(sub, "cpu.cfs_period_us", "100000")) ||
				    (rc = write_str(sub, "cpu.cfs_quota_us", buf)))
					return rc;
			}
			if (c == V1_MEMORY && alloc && alloc[ADP_RES_MEMORY] > 0) {
				snprintf(buf, sizeof(buf), "%lld", (long long)alloc[ADP_RES_MEMORY]);
				if ((rc = write_str(sub, "memory.limit_in_bytes", buf)))
					return rc;
			}
			if (c == V1_BLKIO && bps > 0) {
				snprintf(io, sizeof(io), "%u:%u %lld", maj, min, bps);
				if ((rc = write_str(sub, "blkio.throttle.read_bps_device", io)) ||
				    (rc = write_str(sub, "blkio.throttle.write_bps_device", io)))
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
		write_str(at, "cgroup.subtree_control", "+cpu +memory +cpuset +io");
		for (i = 0; rel[i]; i++)
			if (rel[i] == '/') {
				snprintf(at, sizeof(at), "%s/%.*s", l->cg_root, (int)i, rel);
				write_str(at, "cgroup.subtree_control", "+cpu +memory +cpuset +io");
			}
		write_str(dir, "cgroup.subtree_control", "+cpu +memory +cpuset +io");
	}
	adp_error_clear();
	if ((rc = mkdir_cg(sub)))
		return rc;
	if (cpus && (rc = write_str(dir, "cpuset.cpus", cpus)))
		return rc;
	if (alloc && alloc[ADP_RES_CPU] > 0) {
		snprintf(buf, sizeof(buf), "%lld 100000", (long long)(alloc[ADP_RES_CPU] * 100000));
		if ((rc = write_str(sub, "cpu.max", buf)))
			return rc;
	}
	if (alloc && alloc[ADP_RES_MEMORY] > 0) {
		snprintf(buf, sizeof(buf), "%lld", (long long)alloc[ADP_RES_MEMORY]);
		if ((rc = write_str(sub, "memory.max", buf)))
			return rc;
	}
	if (bps > 0) {
		snprintf(io, sizeof(io), "%u:%u rbps=%lld wbps=%lld", maj, min, bps, bps);
		if ((rc = write_str(sub, "io.max", io)))
			return rc;
	}
	return 0;
}

/* Reads the number after key (or the first number without a key) from
 * dir/file; 1 when found. */
static int read_num(const char *dir, const char *file, const char *key, long long *out)
{
	char buf[512], *p;

	read_str(dir, file, buf, sizeof(buf));
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
			const struct inv_component *comp, size_t replica, char *msg, size_t len)
{
	char rel[512], cpu[1200], mem[1200], blk[1200], key[64], note[256];
	long long v = 0, want;
	unsigned maj = 0, min = 0;
	int rc, v1 = l->cg_mode == ORCH_CG_V1, n = 0;

	if ((rc = part_cg(l, part, rel, sizeof(rel))) <= 0) {
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
		if (!read_num(cpu, v1 ? "cpu.cfs_quota_us" : "cpu.max", NULL, &v) || v < want)
			return adp_error_set(ADP_ESYS, "cgroup '%s': cpu quota is %lld, the plan says %lld", cpu, v, want);
		n++;
	}
	if (alloc && alloc[ADP_RES_MEMORY] > 0) {
		/* The kernel rounds memory limits down to whole pages. */
		want = (long long)alloc[ADP_RES_MEMORY];
		if (!read_num(mem, v1 ? "memory.limit_in_bytes" : "memory.max", NULL, &v) || v < 0 ||
		    v < want - 65535)
			return adp_error_set(ADP_ESYS, "cgroup '%s': memory limit is %lld, the plan says %lld", mem, v,
					     want);
		n++;
	}
	if (alloc && alloc[ADP_RES_IO] > 0 && (!v1 || v1_has(l, V1_BLKIO))) {
		if ((rc = io_device(l, part, comp, replica, &maj, &min, note, sizeof(note))) < 0)
			return rc;
		if (!rc) {
			want = (long long)alloc[ADP_RES_IO];
			snprintf(key, sizeof(key), v1 ? "%u:%u " : "%u:%u rbps=", maj, min);
			if (!read_num(blk, v1 ? "blkio.throttle.read_bps_device" : "io.max", key, &v) || v < want)
				return adp_error_set(ADP_ESYS, "cgroup '%s': io limit on %u:%u is %lld, the plan says %lld",
						     blk, maj, min, v, want);
			n++;
		}
	}
	snprintf(msg, len, "cgroup of '%s' in '%s' has the planned limits (%d checked)", inst, part, n);
	return 0;
}

static int cg_ensure(const struct orch_local *l, const char *part, const char *inst, const double *alloc,
		     const struct inv_component *comp, size_t replica, char *note, size_t len)
{
	return orch_local_cg_ensure(l, part, inst, alloc, comp, replica, note, len);
}

/* Removes the instance cgroup, then the partition's if it is empty. */
static int cg_remove(const struct orch_local *l, const char *part, const char *inst)
{
	char rel[512], dir[1024], sub[1200];
	size_t c, n = l->cg_mode == ORCH_CG_V1 ? NV1 : 1;
	int rc;

	if ((rc = part_cg(l, part, rel, sizeof(rel))) <= 0)
		return rc;
	for (c = 0; c < n; c++) {
		if (l->cg_mode == ORCH_CG_V1) {
			if (!v1_has(l, c))
				continue;
			snprintf(dir, sizeof(dir), "%s/%s/%s", l->cg_root, v1_ctrl[c], rel);
		} else {
			snprintf(dir, sizeof(dir), "%s/%s", l->cg_root, rel);
		}
		snprintf(sub, sizeof(sub), "%s/%s", dir, inst);
		if (rmdir(sub) && errno != ENOENT)
			return adp_error_set(ADP_ESYS, "cannot remove cgroup '%s': %s", sub, strerror(errno));
		if (rmdir(dir) && errno != ENOENT && errno != ENOTEMPTY && errno != EBUSY)
			return adp_error_set(ADP_ESYS, "cannot remove cgroup '%s': %s", dir, strerror(errno));
	}
	return 0;
}

/* In the child, before exec: joins the instance cgroup. */
static int cg_join(const struct orch_local *l, const char *part, const char *inst)
{
	char rel[512], dir[1200], pid[32];
	size_t c, n = l->cg_mode == ORCH_CG_V1 ? NV1 : 1;

	if (part_cg(l, part, rel, sizeof(rel)) <= 0)
		return 0;
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	for (c = 0; c < n; c++) {
		if (l->cg_mode == ORCH_CG_V1) {
			if (!v1_has(l, c))
				continue;
			snprintf(dir, sizeof(dir), "%s/%s/%s/%s", l->cg_root, v1_ctrl[c], rel, inst);
		} else {
			snprintf(dir, sizeof(dir), "%s/%s/%s", l->cg_root, rel, inst);
		}
		if (write_str(dir, l->cg_mode == ORCH_CG_V1 ? "tasks" : "cgroup.procs", pid))
			return -1;
	}
	return 0;
}

/* ---- processes ---- */

static void inst_name(char *out, size_t len, const char *comp, size_t replica)
{
	snprintf(out, len, "%s.%zu", comp, replica);
}

static void pid_path(const struct orch_local *l, char *out, size_t len, const char *comp, size_t replica,
		     const char *part)
{
	snprintf(out, len, "%s/proc/%s.%zu@%s.pid", l->state_dir, comp, replica, part);
}

/* A process's start time (field 22 of /proc/pid/stat), 0 if gone: tells
 * a live instance from a reused pid. */
static unsigned long long proc_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (!(f = fopen(path, "re")))
		return 0;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')'))) {
		char state = 0;
		p += 2;
		state = *p;
		for (i = 3; i < 22 && p; i++)
			p = strchr(p + 1, ' ');
		if (p && state != 'Z' && state != 'X')
			st = strtoull(p + 1, NULL, 10);
	}
	fclose(f);
	return st;
}

/* The recorded instance's pid if it is still that process, else 0. */
static pid_t inst_pid(const struct orch_local *l, const char *comp, size_t replica, const char *part)
{
	char path[1024], *text = NULL;
	long pid = 0;
	unsigned long long st = 0;
	size_t len;

	pid_path(l, path, sizeof(path), comp, replica, part);
	if (adp_read_file(&text, &len, path, 256)) {
		adp_error_clear();
		return 0;
	}
	if (sscanf(text, "%ld %llu", &pid, &st) != 2 || pid <= 1)
		pid = 0;
	free(text);
	while (pid > 0 && waitpid((pid_t)pid, NULL, WNOHANG) > 0)
		;
	if (pid > 0 && proc_start((pid_t)pid) != st)
		pid = 0;
	return (pid_t)pid;
}

/* Replaces {partition}, {replica} and {port} (run.ports[partition]). */
static int expand(char *out, size_t len, const char *in, const struct inv_component *c, const char *part,
		  size_t replica)
{
	json_t *ports = c->run ? json_object_get(c->run, "ports") : NULL;
	size_t n = 0;

	while (*in) {
		char val[64];
		const char *v = NULL;
		size_t skip = 0;

		if (!strncmp(in, "{partition}", 11)) {
			v = part;
			skip = 11;
		} else if (!strncmp(in, "{replica}", 9)) {
			snprintf(val, sizeof(val), "%zu", replica);
			v = val;
			skip = 9;
		} else if (!strncmp(in, "{port}", 6)) {
			json_t *pv = json_object_get(ports, part);
			if (!json_is_integer(pv))
				return adp_error_set(ADP_EINPUT,
						     "component '%s': '{port}' used but run.ports has no port for '%s'",
						     c->name, part);
			snprintf(val, sizeof(val), "%lld", (long long)json_integer_value(pv));
			v = val;
			skip = 6;
		}
		if (v) {
			size_t k = strlen(v);
			if (n + k >= len)
				return adp_error_set(ADP_EINPUT, "component '%s': an argument is too long", c->name);
			memcpy(out + n, v, k);
			n += k;
			in += skip;
		} else {
			if (n + 1 >= len)
				return adp_error_set(ADP_EINPUT, "component '%s': an argument is too long", c->name);
			out[n++] = *in++;
		}
	}
	out[n] = '\0';
	return 0;
}

struct argv {
	char *v[MAX_ARGS + 1];
	size_t n;
};

static void argv_release(struct argv *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

static int argv_from(struct argv *a, json_t *arr, const struct inv_component *c, const char *part,
		     size_t replica, const char *what)
{
	char buf[MAX_ARG_LEN];
	json_t *v;
	size_t i;
	int rc;

	memset(a, 0, sizeof(*a));
	if (!json_is_array(arr) || !json_array_size(arr) || json_array_size(arr) > MAX_ARGS)
		return adp_error_set(ADP_EINPUT, "component '%s': %s must be a non-empty array of at most %d strings",
				     c->name, what, MAX_ARGS);
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v)) {
			argv_release(a);
			return adp_error_set(ADP_EINPUT, "component '%s': %s[%zu] must be a string", c->name, what, i);
		}
		if ((rc = expand(buf, sizeof(buf), json_string_value(v), c, part, replica)) ||
		    !(a->v[i] = strdup(buf))) {
			argv_release(a);
			return rc ? rc : adp_error_set(ADP_ENOMEM, "out of memory");
		}
		a->n = i + 1;
	}
	return 0;
}

static int mkdirs(const struct orch_local *l)
{
	char d[1024];

	snprintf(d, sizeof(d), "%s/proc", l->state_dir);
	if (mkdir(d, 0700) && errno != EEXIST)
		return adp_error_set(ADP_ESYS, "cannot create '%s': %s", d, strerror(errno));
	snprintf(d, sizeof(d), "%s/logs", l->state_dir);
	if (mkdir(d, 0700) && errno != EEXIST)
		return adp_error_set(ADP_ESYS, "cannot create '%s': %s", d, strerror(errno));
	return 0;
}

/* fork/exec with output to log, in the instance cgroup when part is set;
 * the child leads its own process group. */
static int spawn(const struct orch_local *l, char *const argv[], json_t *env, const char *cwd, const char *log,
		 const char *part, const char *inst, const char *envpart, pid_t *out)
{
	pid_t pid;
	int fd;

	if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
		return adp_error_set(ADP_ESYS, "cannot open log '%s': %s", log, strerror(errno));
	if ((pid = fork()) < 0) {
		close(fd);
		return adp_error_set(ADP_ESYS, "cannot fork: %s", strerror(errno));
	}
	if (pid == 0) {
		const char *k;
		json_t *v;
		int nul = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		if (nul >= 0)
			dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (part && cg_join(l, part, inst))
			_exit(126);
		json_object_foreach(env, k, v)
			if (json_is_string(v))
				setenv(k, json_string_value(v), 1);
		if (envpart)
			setenv("ADPART_PARTITION", envpart, 1);
		if (cwd && chdir(cwd))
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fd);
	*out = pid;
	return 0;
}

static int start_inst(const struct orch_local *l, const struct inv_component *c, const char *part, size_t replica,
		      const double *alloc, char *msg, size_t len)
{
	char inst[300], path[1024], log[1024], cwd[MAX_ARG_LEN], rec[64], note[256] = "";
	struct argv a;
	const char *cw;
	pid_t pid;
	int rc, st;

	if ((pid = inst_pid(l, c->name, replica, part))) {
		snprintf(msg, len, "already running as pid %ld", (long)pid);
		return 0;
	}
	if (!c->run)
		return adp_error_set(ADP_EINPUT, "component '%s' has no run section: cannot start it", c->name);
	inst_name(inst, sizeof(inst), c->name, replica);
	if ((rc = mkdirs(l)) || (rc = cg_ensure(l, part, inst, alloc, c, replica, note, sizeof(note))))
		return rc;
	if ((rc = argv_from(&a, json_object_get(c->run, "argv"), c, part, replica, "run.argv")))
		return rc;
	cw = json_string_value(json_object_get(c->run, "cwd"));
	if (cw && (rc = expand(cwd, sizeof(cwd), cw, c, part, replica)))
		goto done;
	snprintf(log, sizeof(log), "%s/logs/%s@%s.log", l->state_dir, inst, part);
	if ((rc = spawn(l, a.v, json_object_get(c->run, "env"), cw ? cwd : NULL, log, part, inst, part, &pid)))
		goto done;
	/* A process that dies at once (bad argv, cgroup refused) is a failure now. */
	usleep(200000);
	if (waitpid(pid, &st, WNOHANG) == pid) {
		rc = adp_error_set(ADP_ESYS, "'%s' exited at once with status %d (see '%s')", a.v[0],
				   WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), log);
		goto done;
	}
	pid_path(l, path, sizeof(path), c->name, replica, part);
	snprintf(rec, sizeof(rec), "%ld %llu\n", (long)pid, proc_start(pid));
	if ((rc = adp_write_atomic(path, rec, strlen(rec)))) {
		kill(-pid, SIGKILL);
		goto done;
	}
	snprintf(msg, len, "started pid %ld%s%s", (long)pid, *note ? "; " : "", note);
done:
	argv_release(&a);
	return rc;
}

static int stop_inst(const struct orch_local *l, const struct inv_component *c, const char *part, size_t replica,
		     char *msg, size_t len)
{
	json_t *g = c->run ? json_object_get(c->run, "stop_grace") : NULL;
	long grace_ms = json_is_number(g) ? (long)(json_number_value(g) * 1000) : 10000;
	char path[1024];
	pid_t pid = inst_pid(l, c->name, replica, part);
	long waited = 0;

	pid_path(l, path, sizeof(path), c->name, replica, part);
	if (!pid) {
		unlink(path);
		snprintf(msg, len, "not running");
		return 0;
	}
	kill(-pid, SIGTERM);
	kill(pid, SIGTERM);
	while (waited < grace_ms && inst_pid(l, c->name, replica, part) && !cancelled(l)) {
		usleep(50000);
		waited += 50;
	}
	if (inst_pid(l, c->name, replica, part)) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (inst_pid(l, c->name, replica, part) && waited < grace_ms + 5000) {
			usleep(50000);
			waited += 50;
		}
		snprintf(msg, len, "pid %ld killed after %ld ms grace", (long)pid, grace_ms);
	} else {
		snprintf(msg, len, "pid %ld stopped", (long)pid);
	}
	if (unlink(path) && errno != ENOENT)
		return adp_error_set(ADP_ESYS, "cannot remove '%s': %s", path, strerror(errno));
	return 0;
}

/* Runs argv to completion within timeout seconds; kills it after. */
static int run_cmd(const struct orch_local *l, char *const argv[], const char *log, const char *envpart,
		   int64_t timeout, int *status)
{
	pid_t pid;
	int64_t waited = 0;
	int st, rc;

	if ((rc = mkdirs(l)) || (rc = spawn(l, argv, NULL, NULL, log, NULL, NULL, envpart, &pid)))
		return rc;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			break;
		if (r < 0)
			return adp_error_set(ADP_ESYS, "cannot wait for '%s': %s", argv[0], strerror(errno));
		if (waited >= timeout * 10 || cancelled(l)) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			if (cancelled(l))
				return adp_error_set(ADP_ESYS, "'%s' killed: the step was cancelled", argv[0]);
			return adp_error_set(ADP_ESYS, "'%s' timed out after %llds", argv[0], (long long)timeout);
		}
		usleep(100000);
		waited++;
	}
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

/* ---- health ---- */

static size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

static int abort_if_cancelled(void *u, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return cancelled(u);
}

/* The component's health check against the instance on part; with
 * quick set (monitoring), at most two tries of at most 2 s each. */
static int health_run(const struct orch_local *l, const struct inv_component *c, const char *part, size_t replica,
		      int quick, char *msg, size_t len)
{
	json_t *h = c->health, *v;
	long expect = 200, retries = 10, timeout = 5, i, interval_ms = 500;
	const char *url;
	char buf[MAX_ARG_LEN];
	int rc;

	if (!h) {
		snprintf(msg, len, "no health check configured");
		return 0;
	}
	if (json_is_integer(v = json_object_get(h, "expect_status")))
		expect = (long)json_integer_value(v);
	if (json_is_integer(v = json_object_get(h, "retries")))
		retries = (long)json_integer_value(v);
	if (json_is_number(v = json_object_get(h, "timeout")))
		timeout = (long)json_number_value(v);
	if (json_is_number(v = json_object_get(h, "interval")))
		interval_ms = (long)(json_number_value(v) * 1000);
	if (retries < 1 || retries > 1000 || timeout < 1 || timeout > 3600)
		return adp_error_set(ADP_EINPUT, "component '%s': health retries must be 1..1000 and timeout 1..3600",
				     c->name);
	if (quick) {
		retries = retries < 2 ? retries : 2;
		timeout = timeout < 2 ? timeout : 2;
		interval_ms = interval_ms < 200 ? interval_ms : 200;
	}
	if ((url = json_string_value(json_object_get(h, "http")))) {
		long code = 0;
		CURLcode cr = CURLE_OK;

		if ((rc = expand(buf, sizeof(buf), url, c, part, replica)))
			return rc;
		for (i = 0; i < retries; i++) {
			CURL *cu = curl_easy_init();
			if (!cu)
				return adp_error_set(ADP_ENOMEM, "cannot initialise libcurl");
			curl_easy_setopt(cu, CURLOPT_URL, buf);
			curl_easy_setopt(cu, CURLOPT_TIMEOUT, timeout);
			curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, discard);
			curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
			curl_easy_setopt(cu, CURLOPT_NOPROGRESS, 0L);
			curl_easy_setopt(cu, CURLOPT_XFERINFOFUNCTION, abort_if_cancelled);
			curl_easy_setopt(cu, CURLOPT_XFERINFODATA, (void *)l);
			cr = curl_easy_perform(cu);
			code = 0;
			if (cr == CURLE_OK)
				curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
			curl_easy_cleanup(cu);
			if (code == expect) {
				snprintf(msg, len, "%s answered %ld", buf, code);
				return 0;
			}
			if (i + 1 < retries && nap(l, interval_ms))
				break;
		}
		return adp_error_set(ADP_ESYS, "health check of '%s' on '%s' failed: %s %s", c->name, part, buf,
				     cr != CURLE_OK ? curl_easy_strerror(cr) : "answered another status");
	}
	if (json_object_get(h, "command")) {
		struct argv a;
		char log[1024];
		int st = -1;

		if ((rc = argv_from(&a, json_object_get(h, "command"), c, part, replica, "health.command")))
			return rc;
		snprintf(log, sizeof(log), "%s/logs/health-%s.%zu@%s.log", l->state_dir, c->name, replica, part);
		for (i = 0; i < retries; i++) {
			if ((rc = run_cmd(l, a.v, log, part, timeout, &st)) || st == 0)
				break;
			if (i + 1 < retries && nap(l, interval_ms))
				break;
		}
		argv_release(&a);
		if (rc)
			return rc;
		if (st)
			return adp_error_set(ADP_ESYS, "health check of '%s' on '%s' failed: command exited %d", c->name,
					     part, st);
		snprintf(msg, len, "health command passed");
		return 0;
	}
	return adp_error_set(ADP_EINPUT, "component '%s': health needs http or command", c->name);
}

static int health(const struct orch_local *l, const struct inv_component *c, const char *part, size_t replica,
		  char *msg, size_t len)
{
	return health_run(l, c, part, replica, 0, msg, len);
}

/* ---- HAProxy ---- */

int orch_haproxy_cmd(const char *path, const char *cmd, char **reply)
{
	struct sockaddr_un sa = { 0 };
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int fd, rc = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return adp_error_set(ADP_EINPUT, "haproxy socket path '%s' is too long", path);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return adp_error_set(ADP_ESYS, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = adp_error_set(ADP_ESYS, "cannot reach haproxy at '%s': %s", path, strerror(errno));
		goto done;
	}
	if (write(fd, cmd, strlen(cmd)) < 0 || write(fd, "\n", 1) < 0) {
		rc = adp_error_set(ADP_ESYS, "cannot send to haproxy at '%s': %s", path, strerror(errno));
		goto done;
	}
	for (;;) {
		ssize_t r;
		if (n + 4096 + 1 > cap) {
			char *g;
			if (cap >= MAX_REPLY) {
				rc = adp_error_set(ADP_EINPUT, "haproxy reply exceeds %zu bytes", MAX_REPLY);
				goto done;
			}
			cap = cap ? cap * 2 : 8192;
			if (!(g = realloc(buf, cap))) {
				rc = adp_error_set(ADP_ENOMEM, "out of memory");
				goto done;
			}
			buf = g;
		}
		if ((r = read(fd, buf + n, 4096)) <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	/* Runtime API errors come back as text on a successful connection. */
	if (strstr(buf, "No such") || strstr(buf, "Unknown command") || strstr(buf, "Require ")) {
		buf[strcspn(buf, "\n")] = '\0';
		rc = adp_error_set(ADP_EINPUT, "haproxy refused '%s': %s", cmd, buf);
		goto done;
	}
	if (reply) {
		*reply = buf;
		buf = NULL;
	}
done:
	free(buf);
	close(fd);
	return rc;
}

static int hap(const struct inv_component *c, const char *part, const char *fmt, const char *arg)
{
	const char *sock = json_string_value(json_object_get(c->traffic, "haproxy_socket"));
	const char *be = json_string_value(json_object_get(c->traffic, "backend"));
	const char *pre = json_string_value(json_object_get(c->traffic, "server_prefix"));
	char cmd[1024];

	if (!sock || !be)
		return adp_error_set(ADP_EINPUT, "component '%s': traffic needs haproxy_socket and backend", c->name);
	snprintf(cmd, sizeof(cmd), fmt, be, pre ? pre : "", part, arg);
	return orch_haproxy_cmd(sock, cmd, NULL);
}

static int set_weight(const struct inv_component *c, const char *part, const char *w)
{
	return hap(c, part, "set server %s/%s%s weight %s", w);
}

static int set_state(const struct inv_component *c, const char *part, const char *st)
{
	return hap(c, part, "set server %s/%s%s state %s", st);
}

/* Reads column col of the server's "show stat" line (17 status, 18 weight). */
static int server_field(const struct inv_component *c, const char *part, int col, char *out, size_t len)
{
	const char *sock = json_string_value(json_object_get(c->traffic, "haproxy_socket"));
	const char *be = json_string_value(json_object_get(c->traffic, "backend"));
	const char *pre = json_string_value(json_object_get(c->traffic, "server_prefix"));
	char *reply = NULL, *line, *save = NULL, name[512];
	int rc;

	snprintf(name, sizeof(name), "%s,%s%s,", be ? be : "", pre ? pre : "", part);
	if ((rc = orch_haproxy_cmd(sock ? sock : "", "show stat", &reply)))
		return rc;
	rc = adp_error_set(ADP_EINPUT, "haproxy has no server '%s%s' in backend '%s'", pre ? pre : "", part,
			   be ? be : "");
	for (line = strtok_r(reply, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f = line;
		int k;
		if (strncmp(line, name, strlen(name)))
			continue;
		for (k = 0; k < col && f; k++)
			f = strchr(f + 1, ',');
		if (f) {
			snprintf(out, len, "%.*s", (int)strcspn(f + 1, ","), f + 1);
			rc = 0;
		}
		break;
	}
	if (!rc)
		adp_error_clear();
	free(reply);
	return rc;
}

static int server_status(const struct inv_component *c, const char *part, char *out, size_t len)
{
	return server_field(c, part, 17, out, len);
}

/* Records a server's state and weight the first time apply changes it,
 * so that restoring puts back exactly what was there. */
static int save_server(const struct orch_local *l, const struct inv_component *c, const char *part)
{
	const char *pre = json_string_value(json_object_get(c->traffic, "server_prefix"));
	char path[1024], st[64], w[64], rec[160];
	int rc;

	snprintf(path, sizeof(path), "%s/proc/haproxy-%s-%s%s.saved", l->state_dir, c->name, pre ? pre : "", part);
	if (access(path, F_OK) == 0)
		return 0;
	if ((rc = mkdirs(l)) || (rc = server_status(c, part, st, sizeof(st))) ||
	    (rc = server_field(c, part, 18, w, sizeof(w))))
		return rc;
	snprintf(rec, sizeof(rec), "%s %s\n",
		 !strncmp(st, "MAINT", 5) ? "maint" : !strncmp(st, "DRAIN", 5) ? "drain" : "ready", w);
	return adp_write_atomic(path, rec, strlen(rec));
}

/* Puts back what save_server recorded (nothing saved: nothing changed). */
static int restore_server(const struct orch_local *l, const struct inv_component *c, const char *part)
{
	const char *pre = json_string_value(json_object_get(c->traffic, "server_prefix"));
	char path[1024], *text = NULL, st[16], w[32];
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/proc/haproxy-%s-%s%s.saved", l->state_dir, c->name, pre ? pre : "", part);
	if (access(path, F_OK))
		return 0;
	if ((rc = adp_read_file(&text, &len, path, 256)))
		return rc;
	if (sscanf(text, "%15s %31s", st, w) != 2) {
		free(text);
		return adp_error_set(ADP_EINPUT, "'%s' is not a saved server state", path);
	}
	free(text);
	if ((rc = set_weight(c, part, w)) || (rc = set_state(c, part, st)))
		return rc;
	if (unlink(path) && errno != ENOENT)
		return adp_error_set(ADP_ESYS, "cannot remove '%s': %s", path, strerror(errno));
	return 0;
}

/* The shadow server's counters HAProxy keeps: sessions (stot), connection
 * and response errors (econ, eresp), retries and redispatches away from it
 * (wretr, wredis: a retried 500 is counted there, not as a 5xx), 5xx
 * responses; and rtime (ms, the average of the last 1024 requests). */
struct srv_counters {
	long long stot, econ, eresp, wretr, wredis, h5xx, rtime;
};

static int read_counters(const struct inv_component *c, const char *part, struct srv_counters *k)
{
	static const int col[] = { 7, 13, 14, 15, 16, 43, 60 };
	long long *dst[] = { &k->stot, &k->econ, &k->eresp, &k->wretr, &k->wredis, &k->h5xx, &k->rtime };
	char v[32];
	size_t i;
	int rc;

	for (i = 0; i < 7; i++) {
		if ((rc = server_field(c, part, col[i], v, sizeof(v))))
			return rc;
		*dst[i] = atoll(v);
	}
	return 0;
}

static void canary_path(const struct orch_local *l, const struct inv_component *c, const char *part, char *out,
			size_t len)
{
	const char *pre = json_string_value(json_object_get(c->traffic, "server_prefix"));

	snprintf(out, len, "%s/proc/haproxy-%s-%s%s.canary", l->state_dir, c->name, pre ? pre : "", part);
}

/* Before the shadow takes its canary share: its counters as a baseline
 * (kept across a resume, so the canary is judged from its start). */
static int canary_baseline(const struct orch_local *l, const struct inv_component *c, const char *part)
{
	struct srv_counters k;
	char path[1024], rec[160];
	int rc;

	canary_path(l, c, part, path, sizeof(path));
	if (access(path, F_OK) == 0)
		return 0;
	if ((rc = mkdirs(l)) || (rc = read_counters(c, part, &k)))
		return rc;
	snprintf(rec, sizeof(rec), "%lld %lld %lld %lld %lld %lld\n", k.stot, k.econ, k.eresp, k.wretr, k.wredis,
		 k.h5xx);
	return adp_write_atomic(path, rec, strlen(rec));
}

/* After canary_seconds of canary traffic: the shadow's errors and 5xx
 * since the baseline must not exceed max_errors (default 0), and its
 * average response time must stay under max_response_ms when set. */
static int canary_verdict(const struct orch_local *l, const struct inv_component *c, const char *part, char *msg,
			  size_t len)
{
	json_t *t = c->traffic, *v;
	double wait_s = json_is_number(v = json_object_get(t, "canary_seconds")) ? json_number_value(v) : 0;
	long long max_err = json_is_integer(v = json_object_get(t, "max_errors")) ? json_integer_value(v) : 0;
	double max_rt = json_is_number(v = json_object_get(t, "max_response_ms")) ? json_number_value(v) : 0;
	struct srv_counters b = { 0 }, k;
	char path[1024], *text = NULL;
	long long errs, reqs;
	int rc;

	if (wait_s > 0 && nap(l, (long)(wait_s * 1000)))
		return adp_error_set(ADP_ESYS, "cancelled while watching the canary of '%s' on '%s'", c->name, part);
	canary_path(l, c, part, path, sizeof(path));
	if (!adp_read_file(&text, NULL, path, 256)) {
		if (sscanf(text, "%lld %lld %lld %lld %lld %lld", &b.stot, &b.econ, &b.eresp, &b.wretr, &b.wredis,
			   &b.h5xx) != 6)
			memset(&b, 0, sizeof(b));
		free(text);
	}
	adp_error_clear();
	if ((rc = read_counters(c, part, &k)))
		return rc;
	reqs = k.stot - b.stot;
	errs = (k.econ - b.econ) + (k.eresp - b.eresp) + (k.wretr - b.wretr) + (k.wredis - b.wredis) +
	       (k.h5xx - b.h5xx);
	if (errs > max_err)
		return adp_error_set(ADP_ESYS,
				     "canary of '%s' on '%s' failed: haproxy counted %lld errors and 5xx in %lld requests (%lld connection, %lld response, %lld retried, %lld 5xx; at most %lld allowed)",
				     c->name, part, errs, reqs, k.econ - b.econ, k.eresp - b.eresp,
				     (k.wretr - b.wretr) + (k.wredis - b.wredis), k.h5xx - b.h5xx, max_err);
	if (max_rt > 0 && (double)k.rtime > max_rt)
		return adp_error_set(ADP_ESYS, "canary of '%s' on '%s' failed: average response time %lld ms, at most %.0f",
				     c->name, part, k.rtime, max_rt);
	snprintf(msg, len, "canary: %lld requests, %lld errors, average response %lld ms", reqs, errs, k.rtime);
	return 0;
}

/* ---- monitoring ---- */

static int read_u64(const char *path, const char *key, unsigned long long *out)
{
	char line[256];
	FILE *f = fopen(path, "re");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (!key)
			found = sscanf(line, "%llu", out) == 1;
		else if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ' ')
			found = sscanf(line + strlen(key) + 1, "%llu", out) == 1;
	}
	fclose(f);
	return found;
}

/* Bytes read and written so far by the cgroup: v2 io.stat (rbytes and
 * wbytes summed over devices), v1 blkio.throttle.io_service_bytes (Total). */
static int read_io(const char *path, int v1, unsigned long long *out)
{
	char line[512];
	FILE *f;
	int found = 0;

	if (v1)
		return read_u64(path, "Total", out);
	if (!(f = fopen(path, "re")))
		return 0;
	*out = 0;
	while (fgets(line, sizeof(line), f)) {
		char *r = strstr(line, "rbytes="), *w = strstr(line, "wbytes=");
		if (r)
			*out += strtoull(r + 7, NULL, 10);
		if (w)
			*out += strtoull(w + 7, NULL, 10);
		found = 1;
	}
	fclose(f);
	return found;
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Memory now, cpu and io as rates since the previous sample of the same
 * instance (over 100 ms for the first one) from the instance cgroup's
 * statistics; 1 ("no data") when the cgroup or its memory file is missing. */
static int local_sample(void *ctx, const struct plan *p, const struct plan_placement *x,
			double usage[ADP_RES_COUNT], int have[ADP_RES_COUNT])
{
	struct orch_local *l = ctx;
	char rel[512], inst[300], key[128], mem[1400], cpu[1400], io[1400];
	unsigned long long m = 0, c1 = 0, b1 = 0;
	struct orch_local_seen *seen = NULL;
	int rc, v1 = l->cg_mode == ORCH_CG_V1, have_io;
	double t1, dt;
	size_t i;

	(void)p;
	if ((rc = part_cg(l, x->partition, rel, sizeof(rel))) < 0)
		return rc;
	if (!rc)
		return 1;
	inst_name(inst, sizeof(inst), x->component, x->replica);
	if (v1) {
		snprintf(mem, sizeof(mem), "%s/memory/%s/%s/memory.usage_in_bytes", l->cg_root, rel, inst);
		snprintf(cpu, sizeof(cpu), "%s/cpuacct/%s/%s/cpuacct.usage", l->cg_root, rel, inst);
		snprintf(io, sizeof(io), "%s/blkio/%s/%s/blkio.throttle.io_service_bytes", l->cg_root, rel, inst);
	} else {
		snprintf(mem, sizeof(mem), "%s/%s/%s/memory.current", l->cg_root, rel, inst);
		snprintf(cpu, sizeof(cpu), "%s/%s/%s/cpu.stat", l->cg_root, rel, inst);
		snprintf(io, sizeof(io), "%s/%s/%s/io.stat", l->cg_root, rel, inst);
	}
	if (!read_u64(mem, NULL, &m))
		return 1;
	usage[ADP_RES_MEMORY] = (double)m;
	have[ADP_RES_MEMORY] = 1;
	snprintf(key, sizeof(key), "%s@%s", inst, x->partition);
	for (i = 0; i < l->nseen && !seen; i++)
		if (!strcmp(l->seen[i].inst, key))
			seen = &l->seen[i];
	if (!seen) {
		/* First sample: a baseline 100 ms back (the oldest slot is reused). */
		seen = &l->seen[l->nseen < 64 ? l->nseen++ : 0];
		snprintf(seen->inst, sizeof(seen->inst), "%s", key);
		if (!read_u64(cpu, v1 ? NULL : "usage_usec", &seen->cpu))
			return 0;
		seen->have_io = read_io(io, v1, &seen->io);
		seen->t = mono_now();
		usleep(100000);
	}
	t1 = mono_now();
	dt = t1 - seen->t;
	if (read_u64(cpu, v1 ? NULL : "usage_usec", &c1) && c1 >= seen->cpu && dt > 0.01) {
		usage[ADP_RES_CPU] = (double)(c1 - seen->cpu) / (v1 ? 1e9 : 1e6) / dt;
		have[ADP_RES_CPU] = 1;
	}
	have_io = read_io(io, v1, &b1);
	if (have_io && seen->have_io && b1 >= seen->io && dt > 0.01) {
		usage[ADP_RES_IO] = (double)(b1 - seen->io) / dt;
		have[ADP_RES_IO] = 1;
	}
	seen->cpu = c1;
	seen->io = b1;
	seen->have_io = have_io;
	seen->t = t1;
	return 0;
}

/* An instance we started is down when its process is gone (a pid file
 * of ours whose process exited); any instance is down when its health
 * check fails twice or HAProxy's own checks mark its server DOWN. An
 * instance apply did not start, with no health check and no HAProxy
 * checks, cannot be told (2). */
static int local_probe(void *ctx, const struct plan *p, const char *component, size_t replica, const char *part,
		       char *msg, size_t len)
{
	struct orch_local *l = ctx;
	const struct inv_component *c = find_comp(l, component);
	char path[1024], st[64] = "";
	int known = 0, rc;

	(void)p;
	if (!c)
		return 2;
	pid_path(l, path, sizeof(path), component, replica, part);
	if (!access(path, F_OK)) {
		known = 1;
		if (!inst_pid(l, component, replica, part)) {
			snprintf(msg, len, "its process is gone (pid file '%s')", path);
			return 1;
		}
	}
	if (c->health) {
		char note[256];

		known = 1;
		if ((rc = health_run(l, c, part, replica, 1, note, sizeof(note)))) {
			if (rc != ADP_ESYS)
				return rc;
			snprintf(msg, len, "%s", adp_error_last());
			adp_error_clear();
			return 1;
		}
	}
	if (c->traffic && !server_status(c, part, st, sizeof(st))) {
		if (!strncmp(st, "DOWN", 4)) {
			snprintf(msg, len, "haproxy reports its server as %s", st);
			return 1;
		}
		known |= strcmp(st, "no check") != 0;
	}
	adp_error_clear();
	if (known)
		snprintf(msg, len, "serving");
	return known ? 0 : 2;
}

static int local_grow(void *ctx, const struct plan *p, const struct plan_placement *x, int r, double limit)
{
	struct orch_local *l = ctx;
	double a[ADP_RES_COUNT] = { 0 };
	char inst[300];

	(void)p;
	char note[256];

	if (r != ADP_RES_CPU && r != ADP_RES_MEMORY && r != ADP_RES_IO)
		return adp_error_set(ADP_EINPUT, "cannot grow %s: only cpu, memory and io limits are applied",
				     adp_resource_name(r));
	a[r] = limit;
	inst_name(inst, sizeof(inst), x->component, x->replica);
	return cg_ensure(l, x->partition, inst, a, find_comp(l, x->component), x->replica, note, sizeof(note));
}

/* ---- capacity ---- */

/* Memory the host can give now (MemAvailable), in bytes; 0 if unknown. */
static double host_mem_available(void)
{
	unsigned long long kb = 0;

	return read_u64("/proc/meminfo", "MemAvailable:", &kb) ? (double)kb * 1024.0 : 0;
}

/* Checks that each wave's shadows fit what is free now: on the host
 * (MemAvailable) and under the partition cgroup's own memory limit when
 * one is already set (limit minus usage). */
static int capacity_check(const struct orch_local *l, const struct plan *p)
{
	double avail = host_mem_available();
	size_t w, k, m;

	for (w = 0; w < p->nwaves; w++) {
		const struct plan_wave *wv = &p->waves[w];
		double total = 0;

		for (k = 0; k < wv->nplacements; k++) {
			const struct plan_placement *x = &wv->placements[k];
			char rel[512], dir[1024];
			unsigned long long lim = 0, use = 0;
			double need = 0;
			int rc;

			if (!x->from)
				continue;
			total += x->alloc[ADP_RES_MEMORY];
			if ((rc = part_cg(l, x->partition, rel, sizeof(rel))) < 0)
				return rc;
			if (!rc)
				continue;
			for (m = 0; m < wv->nplacements; m++)
				if (wv->placements[m].from && !strcmp(wv->placements[m].partition, x->partition))
					need += wv->placements[m].alloc[ADP_RES_MEMORY];
			if (l->cg_mode == ORCH_CG_V1)
				snprintf(dir, sizeof(dir), "%s/memory/%s/memory.limit_in_bytes", l->cg_root, rel);
			else
				snprintf(dir, sizeof(dir), "%s/%s/memory.max", l->cg_root, rel);
			if (!read_u64(dir, NULL, &lim) || lim >= (1ULL << 60))
				continue;
			if (l->cg_mode == ORCH_CG_V1)
				snprintf(dir, sizeof(dir), "%s/memory/%s/memory.usage_in_bytes", l->cg_root, rel);
			else
				snprintf(dir, sizeof(dir), "%s/%s/memory.current", l->cg_root, rel);
			read_u64(dir, NULL, &use);
			if ((double)lim - (double)use < need)
				return adp_error_set(ADP_EINPUT,
						     "capacity not free: wave %zu needs %.0f bytes of memory in partition '%s', its cgroup has %.0f free",
						     w + 1, need, x->partition, (double)lim - (double)use);
		}
		if (avail > 0 && total > avail)
			return adp_error_set(ADP_EINPUT,
					     "capacity not free: wave %zu needs %.0f bytes of memory for its shadows, the host has %.0f available",
					     w + 1, total, avail);
	}
	return 0;
}

/* The limits the plan sets need their controllers: refuses (before
 * anything changes) a plan whose shadows' cgroups would lack one, rather
 * than run them without the isolation planned. */
static int controller_check(const struct orch_local *l, const struct plan *p)
{
	static const char *const v2name[] = { "cpu", "memory", "io", NULL };
	static const size_t v1idx[] = { V1_CPU, V1_MEMORY, V1_BLKIO };
	int need[4] = { 0 }, r;
	size_t w, k;

	for (w = 0; w < p->nwaves; w++)
		for (k = 0; k < p->waves[w].nplacements; k++) {
			const struct plan_placement *x = &p->waves[w].placements[k];
			const struct inv_partition *ip = find_part(l, x->partition);
			char rel[512];

			if (!x->from || part_cg(l, x->partition, rel, sizeof(rel)) <= 0)
				continue;
			adp_error_clear();
			for (r = 0; r < 3; r++)
				need[r] |= x->alloc[r == 2 ? ADP_RES_IO : r] > 0;
			need[3] |= ip && ip->cgroup && json_object_get(ip->cgroup, "cpus");
		}
	for (r = 0; r < 4; r++) {
		const char *name = r < 3 ? v2name[r] : "cpuset";

		if (!need[r])
			continue;
		if (l->cg_mode == ORCH_CG_V2 && !lists_word(l->cg_root, "cgroup.controllers", name))
			return adp_error_set(ADP_EINPUT,
					     "the plan sets %s limits but the %s controller is not available in '%s/cgroup.controllers'",
					     name, name, l->cg_root);
		if (l->cg_mode == ORCH_CG_V1 && !v1_has(l, r < 3 ? v1idx[r] : V1_CPUSET))
			return adp_error_set(ADP_EINPUT, "the plan sets %s limits but no %s controller is mounted at '%s/%s'",
					     name, r == 2 ? "blkio" : name, l->cg_root, r == 2 ? "blkio" : name);
	}
	return 0;
}

/* ---- the driver ---- */

static int local_check(void *ctx, const struct plan *p)
{
	struct orch_local *l = ctx;
	size_t i;
	int rc;

	for (i = 0; i < p->nsteps; i++) {
		const struct plan_step *s = &p->steps[i];
		const struct inv_component *c = find_comp(l, s->component);
		char rel[512];

		if (s->partition && !find_part(l, s->partition))
			return adp_error_set(ADP_EINPUT, "step %zu: partition '%s' is not in the inventory", s->id,
					     s->partition);
		if (s->component && !c)
			return adp_error_set(ADP_EINPUT, "step %zu: component '%s' is not in the inventory", s->id,
					     s->component);
		if (c && !c->run)
			return adp_error_set(ADP_EINPUT, "component '%s' has no run section: apply cannot start it",
					     c->name);
		if (s->partition && (rc = part_cg(l, s->partition, rel, sizeof(rel)))) {
			char dir[1024];
			if (rc < 0)
				return rc;
			if (l->cg_mode == ORCH_CG_V1)
				snprintf(dir, sizeof(dir), "%s/memory", l->cg_root);
			else
				snprintf(dir, sizeof(dir), "%s", l->cg_root);
			if (access(dir, W_OK))
				return adp_error_set(ADP_EINPUT, "cgroup hierarchy '%s' is not writable: %s", dir,
						     strerror(errno));
		}
		if (c && c->traffic && !strcmp(s->action, "canary")) {
			char st[64];
			if ((rc = server_status(c, s->partition, st, sizeof(st))))
				return adp_error_wrap(rc, "haproxy prerequisite");
		}
		if (!strcmp(s->action, "run_update") && !l->sched)
			return adp_error_set(ADP_EINPUT, "no schedule to take the update command from");
	}
	if ((rc = controller_check(l, p)))
		return rc;
	return capacity_check(l, p);
}

/* Waits until HAProxy has no session and no queue on the server of c on
 * part (a drain). Best effort where HAProxy cannot be asked: 0. */
static int wait_idle(const struct orch_local *l, const struct inv_component *c, const char *part, char *msg,
		     size_t len)
{
	char scur[32], qcur[32];
	long waited = 0;

	if (!c->traffic)
		return 0;
	for (;;) {
		if (server_field(c, part, 4, scur, sizeof(scur)) || server_field(c, part, 2, qcur, sizeof(qcur))) {
			adp_error_clear();
			return 0;
		}
		if (atol(scur) == 0 && atol(qcur) == 0)
			break;
		if (nap(l, 100))
			return adp_error_set(ADP_ESYS, "cancelled while '%s' on '%s' still had %s sessions", c->name,
					     part, scur);
		waited += 100;
	}
	if (msg && len)
		snprintf(msg, len, "no sessions left on '%s' after %ld ms", part, waited);
	return 0;
}

/* After the update: the partition's cgroup takes instances again (made
 * anew if the update removed it), and its verify command, if any, passes. */
static int verify_partition(const struct orch_local *l, const char *part, int64_t step_timeout, char *msg,
			    size_t len)
{
	const struct inv_partition *ip = find_part(l, part);
	json_t *cmd = ip && ip->verify ? json_object_get(ip->verify, "command") : NULL, *t, *v;
	char rel[512], dir[1024], log[1024], *argv[MAX_ARGS + 1] = { 0 };
	const char *what = "no cgroup";
	int64_t timeout = step_timeout;
	size_t i, c;
	int rc, st = 0;

	if ((rc = part_cg(l, part, rel, sizeof(rel))) < 0)
		return rc;
	if (rc > 0) {
		for (c = 0; c < (l->cg_mode == ORCH_CG_V1 ? NV1 : 1); c++) {
			if (l->cg_mode == ORCH_CG_V1 && !v1_has(l, c))
				continue;
			if (l->cg_mode == ORCH_CG_V1)
				snprintf(dir, sizeof(dir), "%s/%s", l->cg_root, v1_ctrl[c]);
			else
				snprintf(dir, sizeof(dir), "%s", l->cg_root);
			if ((rc = cg_mkpath(dir, rel, l->cg_mode == ORCH_CG_V1 && c == V1_CPUSET)))
				return adp_error_wrap(rc, "partition '%s' after its update", part);
		}
		what = "cgroup ready";
	}
	if (!cmd) {
		snprintf(msg, len, "partition '%s': %s, no verify command", part, what);
		return 0;
	}
	if (json_is_number(t = json_object_get(ip->verify, "timeout")))
		timeout = (int64_t)json_number_value(t);
	json_array_foreach(cmd, i, v) {
		if (i >= MAX_ARGS || !json_is_string(v) || !(argv[i] = strdup(json_string_value(v)))) {
			rc = adp_error_set(ADP_EINPUT, "partition '%s': verify.command[%zu] must be a string", part, i);
			goto done;
		}
	}
	if (!argv[0]) {
		rc = adp_error_set(ADP_EINPUT, "partition '%s': verify.command is empty", part);
		goto done;
	}
	snprintf(log, sizeof(log), "%s/logs/verify-%s.log", l->state_dir, part);
	if ((rc = run_cmd(l, argv, log, part, timeout > 0 ? timeout : 60, &st)))
		goto done;
	if (st) {
		rc = adp_error_set(ADP_ESYS, "verify of partition '%s' failed: '%s' exited %d (see '%s')", part,
				   argv[0], st, log);
		goto done;
	}
	snprintf(msg, len, "partition '%s': %s, verify command passed", part, what);
done:
	for (i = 0; argv[i]; i++)
		free(argv[i]);
	return rc;
}

/* ---- resizing a staying replica ---- */

static void size_path(const struct orch_local *l, char *out, size_t len, const char *inst, const char *part)
{
	snprintf(out, len, "%s/proc/size-%s@%s.saved", l->state_dir, inst, part);
}

/* The instance's cpu and memory limit files, as written by cg_ensure. */
static void limit_dirs(const struct orch_local *l, const char *rel, const char *inst, char *cpu, char *mem,
		       size_t len)
{
	int v1 = l->cg_mode == ORCH_CG_V1;

	snprintf(cpu, len, "%s/%s%s/%s", l->cg_root, v1 ? "cpu/" : "", rel, inst);
	snprintf(mem, len, "%s/%s%s/%s", l->cg_root, v1 ? "memory/" : "", rel, inst);
}

static void chomp(char *b)
{
	size_t n = strlen(b);

	while (n && (b[n - 1] == '\n' || b[n - 1] == ' '))
		b[--n] = '\0';
}

/* resize: saves the instance's current cpu and memory limits (once: a
 * repeated step keeps the first record) in DIR/proc/size-INST@PART.saved,
 * refuses a memory limit below the current usage, then writes the
 * plan's allocation. */
static int resize_inst(const struct orch_local *l, const struct plan *p, const struct plan_step *s,
		       const struct inv_component *c, const char *inst, char *msg, size_t len)
{
	const struct plan_placement *x = plan_step_stayer(p, s);
	char rel[512], cpu[1200], mem[1200], path[1400], quota[128] = "", period[64] = "", mlim[64] = "", rec[400];
	double a[ADP_RES_COUNT] = { 0 };
	long long used = 0;
	int rc, v1 = l->cg_mode == ORCH_CG_V1;

	if (!x)
		return adp_error_set(ADP_EINPUT, "step %zu (resize): '%s' replica %zu does not stay on '%s' in wave %zu",
				     s->id, s->component, s->replica, s->partition, s->wave);
	if ((rc = part_cg(l, s->partition, rel, sizeof(rel))) <= 0) {
		if (!rc)
			snprintf(msg, len, "partition '%s' has no cgroup: nothing to resize", s->partition);
		return rc;
	}
	limit_dirs(l, rel, inst, cpu, mem, sizeof(cpu));
	if (access(mem, F_OK) && access(cpu, F_OK))
		return adp_error_set(ADP_ESYS, "cannot resize '%s' on '%s': its cgroup '%s' does not exist", inst,
				     s->partition, mem);
	size_path(l, path, sizeof(path), inst, s->partition);
	if (access(path, F_OK)) {
		if ((rc = mkdirs(l)))
			return rc;
		read_str(cpu, v1 ? "cpu.cfs_quota_us" : "cpu.max", quota, sizeof(quota));
		if (v1)
			read_str(cpu, "cpu.cfs_period_us", period, sizeof(period));
		read_str(mem, v1 ? "memory.limit_in_bytes" : "memory.max", mlim, sizeof(mlim));
		chomp(quota);
		chomp(period);
		chomp(mlim);
		/* One line per file: "FILE<TAB>VALUE". */
		snprintf(rec, sizeof(rec), "%s\t%s\n%s\t%s\n%s\t%s\n", "cpu.cfs_period_us", period,
			 v1 ? "cpu.cfs_quota_us" : "cpu.max", quota, v1 ? "memory.limit_in_bytes" : "memory.max", mlim);
		if ((rc = adp_write_atomic(path, rec, strlen(rec))))
			return rc;
	}
	a[ADP_RES_CPU] = x->alloc[ADP_RES_CPU];
	a[ADP_RES_MEMORY] = x->alloc[ADP_RES_MEMORY];
	if (a[ADP_RES_MEMORY] > 0 && read_num(mem, v1 ? "memory.usage_in_bytes" : "memory.current", NULL, &used) &&
	    used > (long long)a[ADP_RES_MEMORY])
		return adp_error_set(ADP_ESYS,
				     "cannot resize '%s' on '%s': it uses %lld bytes of memory now, above the planned limit of %lld",
				     inst, s->partition, used, (long long)a[ADP_RES_MEMORY]);
	if ((rc = cg_ensure(l, s->partition, inst, a, c, s->replica, NULL, 0)))
		return rc;
	snprintf(msg, len, "'%s' on '%s' resized to cpu %.3g, memory %.0f bytes (prior limits in '%s')", inst,
		 s->partition, a[ADP_RES_CPU], a[ADP_RES_MEMORY], path);
	return 0;
}

/* restore_size: writes back exactly what resize saved, then forgets it.
 * Nothing saved: nothing was changed. */
static int restore_inst(const struct orch_local *l, const struct plan_step *s, const char *inst, char *msg,
			size_t len)
{
	char rel[512], cpu[1200], mem[1200], path[1400], *text = NULL, *line, *save = NULL;
	size_t n;
	int rc;

	if ((rc = part_cg(l, s->partition, rel, sizeof(rel))) <= 0) {
		if (!rc)
			snprintf(msg, len, "partition '%s' has no cgroup: nothing to restore", s->partition);
		return rc;
	}
	limit_dirs(l, rel, inst, cpu, mem, sizeof(cpu));
	size_path(l, path, sizeof(path), inst, s->partition);
	if (access(path, F_OK)) {
		snprintf(msg, len, "'%s' on '%s' was not resized: nothing to restore", inst, s->partition);
		return 0;
	}
	if ((rc = adp_read_file(&text, &n, path, 4096)))
		return rc;
	/* In the order saved: the period (v1) before the quota. */
	for (line = strtok_r(text, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');

		if (!tab || !tab[1])
			continue;
		*tab = '\0';
		if (!strcmp(line, "cpu.cfs_period_us") || !strcmp(line, "cpu.cfs_quota_us") || !strcmp(line, "cpu.max"))
			rc = write_str(cpu, line, tab + 1);
		else if (!strcmp(line, "memory.limit_in_bytes") || !strcmp(line, "memory.max"))
			rc = write_str(mem, line, tab + 1);
		else
			rc = adp_error_set(ADP_EINPUT, "'%s' is not a saved size: unknown file '%s'", path, line);
	}
	free(text);
	if (!rc && unlink(path) && errno != ENOENT)
		rc = adp_error_set(ADP_ESYS, "cannot remove '%s': %s", path, strerror(errno));
	if (!rc)
		snprintf(msg, len, "'%s' on '%s' has its prior limits again", inst, s->partition);
	return rc;
}

/* ---- absorbed replicas ---- */

static int absorbed_in(const struct plan *p, const struct plan_step *s)
{
	size_t i;

	if (!s->wave || s->wave > p->nwaves || !s->component || !s->partition)
		return 0;
	for (i = 0; i < p->waves[s->wave - 1].nabsorbed; i++) {
		const struct plan_absorbed *b = &p->waves[s->wave - 1].absorbed[i];
		if (!strcmp(b->component, s->component) && b->replica == s->replica && !strcmp(b->partition, s->partition))
			return 1;
	}
	return 0;
}

/* Drain (no new sessions, wait for the open ones), then disable (maint),
 * the absorbed replica's HAProxy server, its prior state saved first; the
 * inverse puts that state back. */
static int absorbed_act(const struct orch_local *l, const struct inv_component *c, const struct plan_step *s,
			char *msg, size_t len)
{
	const char *a = s->action, *home = s->partition;
	int rc;

	if (!strcmp(a, "stop_absorbed")) {
		rc = wait_idle(l, c, home, NULL, 0);
		return rc ? rc : stop_inst(l, c, home, s->replica, msg, len);
	}
	if (!strcmp(a, "start_absorbed"))
		return start_inst(l, c, home, s->replica, NULL, msg, len);
	if (!strcmp(a, "health_check_absorbed"))
		return health(l, c, home, s->replica, msg, len);
	if (!c->traffic) {
		snprintf(msg, len, "no traffic section: nothing to drain");
		return 0;
	}
	if (!strcmp(a, "drain_absorbed")) {
		if ((rc = save_server(l, c, home)) || (rc = set_state(c, home, "drain")) ||
		    (rc = wait_idle(l, c, home, msg, len)))
			return rc;
		return set_state(c, home, "maint");
	}
	/* undrain_absorbed */
	if ((rc = restore_server(l, c, home)))
		return rc;
	snprintf(msg, len, "haproxy server of '%s' on '%s' back to its prior state", c->name, home);
	return 0;
}

static int local_act(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct orch_local *l = ctx;
	const struct inv_component *c = find_comp(l, s->component);
	const struct plan_placement *x = plan_step_moved(p, s);
	const char *a = s->action, *shadow = x ? x->partition : NULL, *home = x ? x->from : NULL;
	char inst[300];

	__atomic_store_n(&l->cancelled, 0, __ATOMIC_SEQ_CST);
	if (c)
		inst_name(inst, sizeof(inst), c->name, s->replica);
	if (!strcmp(a, "run_update")) {
		char log[1024];
		int st = 0, rc;

		if (!l->sched || !l->sched->update_argv) {
			snprintf(msg, len, "no update command in the schedule");
			return 0;
		}
		snprintf(log, sizeof(log), "%s/logs/update-%s.log", l->state_dir, s->partition);
		if ((rc = run_cmd(l, l->sched->update_argv, log, s->partition,
				  l->sched->update_timeout ? l->sched->update_timeout : s->timeout, &st)))
			return rc;
		if (st)
			return adp_error_set(ADP_ESYS, "update of '%s' failed: '%s' exited %d (see '%s')", s->partition,
					     l->sched->update_argv[0], st, log);
		snprintf(msg, len, "update command exited 0");
		return 0;
	}
	if (!strcmp(a, "verify_partition"))
		return verify_partition(l, s->partition, s->timeout, msg, len);
	if (c && !strcmp(a, "resize"))
		return resize_inst(l, p, s, c, inst, msg, len);
	if (c && !strcmp(a, "restore_size"))
		return restore_inst(l, s, inst, msg, len);
	if (c && strstr(a, "_absorbed")) {
		if (!absorbed_in(p, s))
			return adp_error_set(ADP_EINPUT, "step %zu (%s): '%s' replica %zu on '%s' is not absorbed in wave %zu",
					     s->id, a, s->component, s->replica, s->partition, s->wave);
		return absorbed_act(l, c, s, msg, len);
	}
	if (!c || !x)
		return adp_error_set(ADP_EINPUT, "step %zu (%s): no moved replica of '%s' in wave %zu", s->id, a,
				     s->component ? s->component : "", s->wave);
	if (!strcmp(a, "create_partition"))
		return cg_ensure(l, shadow, inst, x->alloc, c, s->replica, msg, len);
	if (!strcmp(a, "remove_partition") || !strcmp(a, "cleanup")) {
		char m[128];
		int rc = stop_inst(l, c, shadow, s->replica, m, sizeof(m));
		return rc ? rc : cg_remove(l, shadow, inst);
	}
	if (!strcmp(a, "start_shadow"))
		return start_inst(l, c, shadow, s->replica, x->alloc, msg, len);
	if (!strcmp(a, "stop_shadow")) {
		int rc = wait_idle(l, c, shadow, NULL, 0);
		return rc ? rc : stop_inst(l, c, shadow, s->replica, msg, len);
	}
	if (!strcmp(a, "start_original"))
		return start_inst(l, c, home, s->replica, NULL, msg, len);
	if (!strcmp(a, "stop_original")) {
		int rc = wait_idle(l, c, home, NULL, 0);
		return rc ? rc : stop_inst(l, c, home, s->replica, msg, len);
	}
	if (!strcmp(a, "health_check"))
		return health(l, c, shadow, s->replica, msg, len);
	if (!strcmp(a, "health_check_original"))
		return health(l, c, home, s->replica, msg, len);
	if (!strcmp(a, "verify_shadow")) {
		char st[64] = "", lim[256];
		int rc = orch_local_cg_check(l, shadow, inst, x->alloc, c, s->replica, lim, sizeof(lim));

		if (!rc)
			rc = health(l, c, shadow, s->replica, msg, len);
		if (rc || !c->traffic)
			return rc;
		if ((rc = server_status(c, shadow, st, sizeof(st))))
			return rc;
		if (strncmp(st, "UP", 2) && strcmp(st, "no check"))
			return adp_error_set(ADP_ESYS, "haproxy reports the shadow of '%s' on '%s' as %s", c->name,
					     shadow, st);
		{
			char verdict[256];

			if ((rc = canary_verdict(l, c, shadow, verdict, sizeof(verdict))))
				return rc;
			snprintf(msg, len, "shadow healthy, haproxy status %s; %s", st, verdict);
		}
		return 0;
	}
	/* Traffic steps: nothing to do without a traffic section. */
	if (!c->traffic) {
		snprintf(msg, len, "no traffic section: nothing to switch");
		return 0;
	}
	if (!strcmp(a, "restore_traffic") || !strcmp(a, "switch_back")) {
		char path[1024];
		int rc = restore_server(l, c, home);

		if (!rc)
			rc = restore_server(l, c, shadow);
		canary_path(l, c, shadow, path, sizeof(path));
		if (!rc && unlink(path) && errno != ENOENT)
			rc = adp_error_set(ADP_ESYS, "cannot remove '%s': %s", path, strerror(errno));
		return rc;
	}
	{
		int rc = save_server(l, c, home);
		if (!rc)
			rc = save_server(l, c, shadow);
		if (rc)
			return rc;
	}
	if (!strcmp(a, "canary")) {
		char w[16];
		int rc = canary_baseline(l, c, shadow);

		snprintf(w, sizeof(w), "%d", CANARY_WEIGHT);
		if (!rc)
			rc = set_state(c, shadow, "ready");
		return rc ? rc : set_weight(c, shadow, w);
	}
	if (!strcmp(a, "switch_traffic")) {
		int rc = set_state(c, shadow, "ready");
		if (!rc)
			rc = set_weight(c, shadow, "100");
		return rc ? rc : set_weight(c, home, "0");
	}
	if (!strcmp(a, "drain")) {
		int rc = set_state(c, home, "drain");
		return rc ? rc : wait_idle(l, c, home, msg, len);
	}
	if (!strcmp(a, "undrain"))
		return set_state(c, home, "ready");
	return adp_error_set(ADP_EINPUT, "step %zu: unknown action '%s'", s->id, a);
}

/* Every action goes through local_act for now. */
static const orch_act_fn local_ops[PLAN_ACTION_COUNT] = { [0 ... PLAN_ACTION_COUNT - 1] = local_act };

void orch_local_driver(struct orch_driver *d, struct orch_local *l)
{
	memset(d, 0, sizeof(*d));
	d->ctx = l;
	d->check = local_check;
	d->ops = local_ops;
	d->sample = local_sample;
	d->grow = local_grow;
	d->probe = local_probe;
	d->cancel = local_cancel;
	d->sample_during_act = 1;
}
