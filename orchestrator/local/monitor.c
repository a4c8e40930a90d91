/* The local driver's monitoring and sizing: usage sampled from the
 * instance cgroups' statistics, liveness probed (process, health check,
 * HAProxy's view), limits grown, the capacity free before a run, and a
 * staying replica resized and restored exactly. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "orchestrator/local/local_int.h"
#include "util/error.h"
#include "util/fsutil.h"

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
int local_sample(void *ctx, const struct plan *p, const struct plan_placement *x,
			double usage[ADP_RES_COUNT], int have[ADP_RES_COUNT])
{
	struct orch_local *l = ctx;
	char rel[512], inst[300], key[128], mem[1400], cpu[1400], io[1400];
	unsigned long long m = 0, c1 = 0, b1 = 0;
	struct orch_local_seen *seen = NULL;
	int v1 = l->cg_mode == ORCH_CG_V1, have_io;
	double t1, dt;
	size_t i;

	(void)p;
	if (!local_part_cg(l, x->partition, rel, sizeof(rel)))
		return 1;
	local_inst_name(inst, sizeof(inst), x->component, x->replica);
	if (v1 ? adp_snprintf_path(mem, sizeof(mem), "%s/memory/%s/%s/memory.usage_in_bytes", l->cg_root, rel, inst) ||
		     adp_snprintf_path(cpu, sizeof(cpu), "%s/cpuacct/%s/%s/cpuacct.usage", l->cg_root, rel, inst) ||
		     adp_snprintf_path(io, sizeof(io), "%s/blkio/%s/%s/blkio.throttle.io_service_bytes", l->cg_root,
				       rel, inst)
	       : adp_snprintf_path(mem, sizeof(mem), "%s/%s/%s/memory.current", l->cg_root, rel, inst) ||
		     adp_snprintf_path(cpu, sizeof(cpu), "%s/%s/%s/cpu.stat", l->cg_root, rel, inst) ||
		     adp_snprintf_path(io, sizeof(io), "%s/%s/%s/io.stat", l->cg_root, rel, inst))
		return ADP_EINPUT;
	if (!read_u64(mem, NULL, &m))
		return 1;
	usage[ADP_RES_MEMORY] = (double)m;
	have[ADP_RES_MEMORY] = 1;
	/* A cut key could mix two instances' counters. */
	if (adp_snprintf_path(key, sizeof(key), "%s@%s", inst, x->partition))
		return ADP_EINPUT;
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
int local_probe(void *ctx, const struct plan *p, const char *component, size_t replica, const char *part,
		       char *msg, size_t len)
{
	struct orch_local *l = ctx;
	const struct inv_component *c = local_find_comp(l, component);
	char path[1024], st[64] = "";
	int known = 0, rc;

	(void)p;
	if (!c)
		return 2;
	local_pid_path(l, path, sizeof(path), component, replica, part);
	if (!access(path, F_OK)) {
		known = 1;
		if (!local_inst_pid(l, component, replica, part)) {
			snprintf(msg, len, "its process is gone (pid file '%s')", path);
			return 1;
		}
	}
	if (c->health) {
		char note[256];

		known = 1;
		if ((rc = local_health_run(l, c, part, replica, 1, note, sizeof(note)))) {
			if (rc != ADP_ESYS)
				return rc;
			snprintf(msg, len, "%s", adp_error_last());
			adp_error_clear();
			return 1;
		}
	}
	if (c->traffic && !local_server_status(c, part, st, sizeof(st))) {
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

int local_grow(void *ctx, const struct plan *p, const struct plan_placement *x, int r, double limit)
{
	struct orch_local *l = ctx;
	double a[ADP_RES_COUNT] = { 0 };
	char inst[300], note[256];

	(void)p;
	if (r != ADP_RES_CPU && r != ADP_RES_MEMORY && r != ADP_RES_IO)
		return adp_error_set(ADP_EINPUT, "cannot grow %s: only cpu, memory and io limits are applied",
				     adp_resource_name(r));
	a[r] = limit;
	local_inst_name(inst, sizeof(inst), x->component, x->replica);
	return orch_local_cg_ensure(l, x->partition, inst, a, NULL, local_find_comp(l, x->component), x->replica,
				    note, sizeof(note));
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
int local_capacity_check(const struct orch_local *l, const struct plan *p)
{
	double avail = host_mem_available();
	size_t w, k, m;
	int rc;

	for (w = 0; w < p->nwaves; w++) {
		const struct plan_wave *wv = &p->waves[w];
		double total = 0;

		for (k = 0; k < wv->nplacements; k++) {
			const struct plan_placement *x = &wv->placements[k];
			char rel[512], dir[1024];
			unsigned long long lim = 0, use = 0;
			double need = 0;

			if (!x->from)
				continue;
			total += x->alloc[ADP_RES_MEMORY];
			if (!local_part_cg(l, x->partition, rel, sizeof(rel)))
				continue;
			for (m = 0; m < wv->nplacements; m++)
				if (wv->placements[m].from && !strcmp(wv->placements[m].partition, x->partition))
					need += wv->placements[m].alloc[ADP_RES_MEMORY];
			if ((rc = adp_snprintf_path(dir, sizeof(dir), l->cg_mode == ORCH_CG_V1 ?
						    "%s/memory/%s/memory.limit_in_bytes" : "%s/%s/memory.max",
						    l->cg_root, rel)))
				return rc;
			if (!read_u64(dir, NULL, &lim) || lim >= (1ULL << 60))
				continue;
			if ((rc = adp_snprintf_path(dir, sizeof(dir), l->cg_mode == ORCH_CG_V1 ?
						    "%s/memory/%s/memory.usage_in_bytes" : "%s/%s/memory.current",
						    l->cg_root, rel)))
				return rc;
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

/* ---- resizing a staying replica ---- */

static void size_path(const struct orch_local *l, char *out, size_t len, const char *inst, const char *part)
{
	snprintf(out, len, "%s/proc/size-%s@%s.saved", l->state_dir, inst, part);
}

/* The instance's cpu and memory limit files, as written by cg_ensure. */
static int limit_dirs(const struct orch_local *l, const char *rel, const char *inst, char *cpu, char *mem,
		      size_t len)
{
	int v1 = l->cg_mode == ORCH_CG_V1, rc;

	if ((rc = adp_snprintf_path(cpu, len, "%s/%s%s/%s", l->cg_root, v1 ? "cpu/" : "", rel, inst)))
		return rc;
	return adp_snprintf_path(mem, len, "%s/%s%s/%s", l->cg_root, v1 ? "memory/" : "", rel, inst);
}

static void chomp(char *b)
{
	size_t n = strlen(b);

	while (n && (b[n - 1] == '\n' || b[n - 1] == ' '))
		b[--n] = '\0';
}

/* The instance's cpu and memory limits as they are, once: a repeated
 * resize keeps the first record. One line per file: "FILE<TAB>VALUE". */
static int save_limits(const struct orch_local *l, const char *cpu, const char *mem, const char *path)
{
	char quota[128] = "", period[64] = "", mlim[64] = "", rec[400];
	int rc, v1 = l->cg_mode == ORCH_CG_V1;

	if (!access(path, F_OK))
		return 0;
	if ((rc = local_mkdirs(l)))
		return rc;
	local_read_str(cpu, v1 ? "cpu.cfs_quota_us" : "cpu.max", quota, sizeof(quota));
	if (v1)
		local_read_str(cpu, "cpu.cfs_period_us", period, sizeof(period));
	local_read_str(mem, v1 ? "memory.limit_in_bytes" : "memory.max", mlim, sizeof(mlim));
	chomp(quota);
	chomp(period);
	chomp(mlim);
	snprintf(rec, sizeof(rec), "%s\t%s\n%s\t%s\n%s\t%s\n", "cpu.cfs_period_us", period,
		 v1 ? "cpu.cfs_quota_us" : "cpu.max", quota, v1 ? "memory.limit_in_bytes" : "memory.max", mlim);
	return adp_write_atomic(path, rec, strlen(rec));
}

/* resize: saves the instance's current cpu and memory limits (once: a
 * repeated step keeps the first record) in DIR/proc/size-INST@PART.saved,
 * refuses a memory limit below the current usage, then writes the
 * plan's allocation. */
int local_op_resize(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	const struct plan_placement *x = plan_step_stayer(p, s);
	char rel[512], cpu[1200], mem[1200], path[1400];
	double a[ADP_RES_COUNT] = { 0 };
	long long used = 0;
	struct local_step t;
	const struct orch_local *l;
	const char *inst = t.inst;
	int rc = local_step_begin(&t, ctx, p, s, LOCAL_NEED_COMP), v1;

	if (rc)
		return rc;
	l = t.l;
	v1 = l->cg_mode == ORCH_CG_V1;
	if (!x)
		return adp_error_set(ADP_EINPUT, "step %zu (resize): '%s' replica %zu does not stay on '%s' in wave %zu",
				     s->id, s->component, s->replica, s->partition, s->wave);
	if (!local_part_cg(l, s->partition, rel, sizeof(rel))) {
		snprintf(msg, len, "partition '%s' has no cgroup: nothing to resize", s->partition);
		return 0;
	}
	if ((rc = limit_dirs(l, rel, inst, cpu, mem, sizeof(cpu))))
		return rc;
	if (access(mem, F_OK) && access(cpu, F_OK))
		return adp_error_set(ADP_ESYS, "cannot resize '%s' on '%s': its cgroup '%s' does not exist", inst,
				     s->partition, mem);
	size_path(l, path, sizeof(path), inst, s->partition);
	if ((rc = save_limits(l, cpu, mem, path)))
		return rc;
	a[ADP_RES_CPU] = x->alloc[ADP_RES_CPU];
	a[ADP_RES_MEMORY] = x->alloc[ADP_RES_MEMORY];
	if (a[ADP_RES_MEMORY] > 0 && local_read_num(mem, v1 ? "memory.usage_in_bytes" : "memory.current", NULL, &used) &&
	    used > (long long)a[ADP_RES_MEMORY])
		return adp_error_set(ADP_ESYS,
				     "cannot resize '%s' on '%s': it uses %lld bytes of memory now, above the planned limit of %lld",
				     inst, s->partition, used, (long long)a[ADP_RES_MEMORY]);
	if ((rc = orch_local_cg_ensure(l, s->partition, inst, a, x->reserve, t.c, s->replica, NULL, 0)))
		return rc;
	snprintf(msg, len, "'%s' on '%s' resized to cpu %.3g, memory %.0f bytes (prior limits in '%s')", inst,
		 s->partition, a[ADP_RES_CPU], a[ADP_RES_MEMORY], path);
	return 0;
}

/* restore_size: writes back exactly what resize saved, then forgets it.
 * Nothing saved: nothing was changed. */
int local_op_restore_size(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	char rel[512], cpu[1200], mem[1200], path[1400], *text = NULL, *line, *save = NULL;
	struct local_step t;
	const struct orch_local *l;
	const char *inst = t.inst;
	size_t n;
	int rc = local_step_begin(&t, ctx, p, s, LOCAL_NEED_COMP);

	if (rc)
		return rc;
	l = t.l;

	if (!local_part_cg(l, s->partition, rel, sizeof(rel))) {
		snprintf(msg, len, "partition '%s' has no cgroup: nothing to restore", s->partition);
		return 0;
	}
	if ((rc = limit_dirs(l, rel, inst, cpu, mem, sizeof(cpu))))
		return rc;
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
			rc = local_write_str(cpu, line, tab + 1);
		else if (!strcmp(line, "memory.limit_in_bytes") || !strcmp(line, "memory.max"))
			rc = local_write_str(mem, line, tab + 1);
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
