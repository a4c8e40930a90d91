/* The local driver's processes: an instance is a process started from
 * the component's run.argv in its cgroup, its own process group leader,
 * recorded in DIR/proc/COMP.REPLICA@PART.pid with its start time (so that
 * a reused pid is not taken for it); commands (the update, a partition's
 * verify) run to completion with a timeout. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orchestrator/local/local_int.h"
#include "util/error.h"
#include "util/fsutil.h"

void local_inst_name(char *out, size_t len, const char *comp, size_t replica)
{
	snprintf(out, len, "%s.%zu", comp, replica);
}

void local_pid_path(const struct orch_local *l, char *out, size_t len, const char *comp, size_t replica,
		     const char *part)
{
	snprintf(out, len, "%s/proc/%s.%zu@%s.pid", l->state_dir, comp, replica, part);
}

/* The start of a small file into buf (NUL-terminated), with plain
 * system calls and no allocation: the readers below must not read a
 * failed allocation as "gone" and so orphan a live instance. Returns the
 * bytes read, or 0 when the file cannot be read or is empty. */
static size_t read_small(const char *path, int flags, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | flags)) < 0)
		return 0;
	do
		n = read(fd, buf, len - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return (size_t)n;
}

/* A process's start time (field 22 of /proc/pid/stat), 0 if gone: tells
 * a live instance from a reused pid. */
static unsigned long long proc_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	int i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (!read_small(path, 0, buf, sizeof(buf)))
		return 0;
	if ((p = strrchr(buf, ')')) && p[1] == ' ') {
		char state = p[2];

		p += 2;
		for (i = 3; i < 22 && p; i++)
			p = strchr(p + 1, ' ');
		if (p && state != 'Z' && state != 'X')
			st = strtoull(p + 1, NULL, 10);
	}
	return st;
}

pid_t local_inst_pid(const struct orch_local *l, const char *comp, size_t replica, const char *part)
{
	char path[1024], text[256];
	long pid = 0;
	unsigned long long st = 0;

	local_pid_path(l, path, sizeof(path), comp, replica, part);
	if (!read_small(path, O_NOFOLLOW, text, sizeof(text)))
		return 0;
	if (sscanf(text, "%ld %llu", &pid, &st) != 2 || pid <= 1)
		pid = 0;
	while (pid > 0 && waitpid((pid_t)pid, NULL, WNOHANG) > 0)
		;
	if (pid > 0 && proc_start((pid_t)pid) != st)
		pid = 0;
	return (pid_t)pid;
}

int local_expand(char *out, size_t len, const char *in, const struct inv_component *c, const char *part,
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

void local_argv_release(struct local_argv *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

int local_argv_from(struct local_argv *a, json_t *arr, const struct inv_component *c, const char *part,
		    size_t replica)
{
	char buf[LOCAL_MAX_ARG_LEN];
	const char *arg;
	json_t *v;
	size_t i;
	int rc = 0;

	memset(a, 0, sizeof(*a));
	json_array_foreach(arr, i, v) {
		arg = json_string_value(v);
		if (i >= LOCAL_MAX_ARGS || !arg)
			break; /* not an argv orch_local_config_check passes */
		if (c && (rc = local_expand(buf, sizeof(buf), arg, c, part, replica)))
			break;
		if (!(a->v[i] = strdup(c ? buf : arg))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			break;
		}
		a->n = i + 1;
	}
	if (rc)
		local_argv_release(a);
	return rc;
}

int local_mkdirs(const struct orch_local *l)
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

/* The log shepherd: components and commands write to a pipe, and this
 * process, forked from apply and detached from it, copies the pipe into
 * the log. The log is capped (LOCAL_LOG_MAX bytes, then moved to
 * LOG.1 and begun again), and a write that fails (a full disk) drops
 * that output, noting that it did, while the pipe is still read: a program
 * never blocks on its output or dies of it, whatever becomes of the state
 * directory. Only system calls after the fork: apply has threads. */
static __attribute__((noreturn)) void shepherd(int in, int out, const char *log, const char *reserve)
{
	static const char note[] = "[adpart-update: output dropped here: the log could not be written]\n";
	char buf[65536], old[1100];
	off_t size = lseek(out, 0, SEEK_END);
	int dropped = 0, guard = !access(reserve, F_OK);
	ssize_t n;

	for (;;) {
		n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);
		/* The engine's reserve is gone: the disk filled up, and the room
		 * it left is the journal's and the rollback's, not the logs'. */
		if (guard && access(reserve, F_OK)) {
			dropped = 1;
			continue;
		}
		if (size + n > LOCAL_LOG_MAX && strlen(log) + 3 < sizeof(old)) {
			memcpy(old, log, strlen(log));
			memcpy(old + strlen(log), ".1", 3);
			if (!rename(log, old)) {
				int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);

				if (fd >= 0) {
					dup2(fd, out);
					close(fd);
					size = 0;
				}
			}
		}
		if (dropped && write(out, note, sizeof(note) - 1) == (ssize_t)(sizeof(note) - 1)) {
			dropped = 0;
			size += (off_t)sizeof(note) - 1;
		}
		if (write(out, buf, (size_t)n) == n)
			size += n;
		else
			dropped = 1;
	}
}

/* A pipe whose read end a detached shepherd copies into log: the write
 * end in *wfd (close-on-exec: the caller dup2s it). */
static int log_pipe(const struct orch_local *l, const char *log, int *wfd)
{
	char reserve[1100];
	int p[2], fd;
	pid_t pid;

	snprintf(reserve, sizeof(reserve), "%s/" ORCH_RESERVE_NAME, l->state_dir);
	/* Never through a symbolic link: a link planted in a shared state
	 * directory would have root append to its target. */
	if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return adp_error_set(errno == ELOOP ? ADP_EINPUT : ADP_ESYS, "cannot open log '%s': %s", log,
				     errno == ELOOP ? "it is a symbolic link" : strerror(errno));
	if (pipe2(p, O_CLOEXEC)) {
		close(fd);
		return adp_error_set(ADP_ESYS, "cannot make a pipe: %s", strerror(errno));
	}
	if ((pid = fork()) < 0) {
		close(fd);
		close(p[0]);
		close(p[1]);
		return adp_error_set(ADP_ESYS, "cannot fork: %s", strerror(errno));
	}
	if (pid == 0) {
		/* Detached (a grandchild, reparented at once), in a session of
		 * its own, holding nothing of apply's: the locks stay apply's. */
		if (fork() != 0)
			_exit(0);
		setsid();
		if (dup2(p[0], 0) < 0 || dup2(fd, 1) < 0)
			_exit(1);
		close_range(2, ~0U, 0);
		shepherd(0, 1, log, reserve);
	}
	close(fd);
	close(p[0]);
	waitpid(pid, NULL, 0);
	*wfd = p[1];
	return 0;
}

/* fork/exec with output to log (through the shepherd), in the instance
 * cgroup when part is set; the child leads its own process group. */
static int spawn(const struct orch_local *l, char *const argv[], json_t *env, const char *cwd, const char *log,
		 const char *part, const char *inst, const char *envpart, pid_t *out)
{
	pid_t pid;
	int fd = -1, rc;

	if ((rc = log_pipe(l, log, &fd)))
		return rc;
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
		if (part && local_cg_join(l, part, inst))
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

int local_start_inst(const struct orch_local *l, const struct inv_component *c, const char *part, size_t replica,
		      const double *alloc, const double *reserve, char *msg, size_t len)
{
	char inst[300], path[1024], log[1024], cwd[LOCAL_MAX_ARG_LEN], rec[64], note[256] = "";
	struct local_argv a;
	unsigned long long start;
	const char *cw;
	pid_t pid;
	int rc, st;

	if ((pid = local_inst_pid(l, c->name, replica, part))) {
		snprintf(msg, len, "already running as pid %ld", (long)pid);
		return 0;
	}
	if (!c->run)
		return adp_error_set(ADP_EINPUT, "component '%s' has no run section: cannot start it", c->name);
	local_inst_name(inst, sizeof(inst), c->name, replica);
	if ((rc = local_mkdirs(l)) ||
	    (rc = orch_local_cg_ensure(l, part, inst, alloc, reserve, c, replica, note, sizeof(note))))
		return rc;
	if ((rc = local_argv_from(&a, json_object_get(c->run, "argv"), c, part, replica)))
		return rc;
	cw = json_string_value(json_object_get(c->run, "cwd"));
	if (cw && (rc = local_expand(cwd, sizeof(cwd), cw, c, part, replica)))
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
	local_pid_path(l, path, sizeof(path), c->name, replica, part);
	/* Without its start time the record would name no live process and
	 * the instance would run on untracked: stop it and fail instead. */
	if (!(start = proc_start(pid))) {
		kill(-pid, SIGKILL);
		rc = adp_error_set(ADP_ESYS, "cannot read the start time of pid %ld: not started", (long)pid);
		goto done;
	}
	snprintf(rec, sizeof(rec), "%ld %llu\n", (long)pid, start);
	if ((rc = adp_write_atomic(path, rec, strlen(rec)))) {
		kill(-pid, SIGKILL);
		goto done;
	}
	snprintf(msg, len, "started pid %ld%s%s", (long)pid, *note ? "; " : "", note);
done:
	local_argv_release(&a);
	return rc;
}

int local_stop_inst(const struct orch_local *l, const struct inv_component *c, const char *part, size_t replica,
		     char *msg, size_t len)
{
	json_t *g = c->run ? json_object_get(c->run, "stop_grace") : NULL;
	long grace_ms = json_is_number(g) ? (long)(json_number_value(g) * 1000) : 10000;
	char path[1024];
	pid_t pid = local_inst_pid(l, c->name, replica, part);
	long waited = 0;

	local_pid_path(l, path, sizeof(path), c->name, replica, part);
	if (!pid) {
		unlink(path);
		snprintf(msg, len, "not running");
		return 0;
	}
	kill(-pid, SIGTERM);
	kill(pid, SIGTERM);
	while (waited < grace_ms && local_inst_pid(l, c->name, replica, part) && !local_cancelled(l)) {
		usleep(50000);
		waited += 50;
	}
	if (local_inst_pid(l, c->name, replica, part)) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		/* A cancel cuts the grace, not this: the pid file must not go
		 * while its process lives (5 s at most). */
		while (local_inst_pid(l, c->name, replica, part) && waited < grace_ms + 5000) {
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

int local_run_cmd(const struct orch_local *l, char *const argv[], const char *log, const char *envpart,
		   int64_t timeout, int *status)
{
	pid_t pid;
	int64_t waited = 0;
	int st, rc;

	if ((rc = local_mkdirs(l)) || (rc = spawn(l, argv, NULL, NULL, log, NULL, NULL, envpart, &pid)))
		return rc;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			break;
		if (r < 0)
			return adp_error_set(ADP_ESYS, "cannot wait for '%s': %s", argv[0], strerror(errno));
		if (waited >= timeout * 10 || local_cancelled(l)) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			if (local_cancelled(l))
				return adp_error_set(ADP_ESYS, "'%s' killed: the step was cancelled", argv[0]);
			return adp_error_set(ADP_ESYS, "'%s' timed out after %llds", argv[0], (long long)timeout);
		}
		usleep(100000);
		waited++;
	}
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

/* ---- the ops ---- */

/* start_shadow: the moved replica on its target, in a cgroup sized to
 * its allocation. A shadow made ahead (preallocate_shadow) is taken
 * over: its cgroup resized to the allocation, its process kept. */
int local_op_start_shadow(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct local_step t;
	char note[256];
	pid_t pid;
	int rc = local_step_begin(&t, ctx, p, s, LOCAL_NEED_MOVED);

	if (rc)
		return rc;
	if (!(pid = local_inst_pid(t.l, t.c->name, s->replica, t.shadow)))
		return local_start_inst(t.l, t.c, t.shadow, s->replica, t.x->alloc, t.x->reserve, msg, len);
	if ((rc = orch_local_cg_ensure(t.l, t.shadow, t.inst, t.x->alloc, t.x->reserve, t.c, s->replica, note,
				       sizeof(note))))
		return rc;
	snprintf(msg, len, "running as pid %ld (made ahead), resized to its allocation%s%s", (long)pid,
		 *note ? "; " : "", note);
	return 0;
}

/* The footprint of a shadow made ahead: LOCAL_PREALLOC_CPU cores and the
 * component's memory guarantee (LOCAL_PREALLOC_MEMORY without one), each
 * only where the plan limits that resource and never above its limit, so
 * that start_shadow's resize only ever grows it. */
void local_prealloc_footprint(const struct inv_component *c, const struct plan_placement *x,
			      double foot[ADP_RES_COUNT])
{
	double mem = c->min[ADP_RES_MEMORY] > 0 ? c->min[ADP_RES_MEMORY] : LOCAL_PREALLOC_MEMORY;
	int r;

	for (r = 0; r < ADP_RES_COUNT; r++)
		foot[r] = 0;
	if (x->alloc[ADP_RES_CPU] > 0)
		foot[ADP_RES_CPU] = x->alloc[ADP_RES_CPU] < LOCAL_PREALLOC_CPU ? x->alloc[ADP_RES_CPU] : LOCAL_PREALLOC_CPU;
	if (x->alloc[ADP_RES_MEMORY] > 0)
		foot[ADP_RES_MEMORY] = x->alloc[ADP_RES_MEMORY] < mem ? x->alloc[ADP_RES_MEMORY] : mem;
}

/* preallocate_shadow: the next wave's shadow made ahead in its cgroup,
 * with the minimal footprint and no reservation, and its process started
 * there when the component's run.start_idle allows: out of traffic, as
 * HAProxy keeps a shadow's server disabled until the canary. */
int local_op_preallocate_shadow(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct local_step t;
	double foot[ADP_RES_COUNT];
	char note[256], m[300];
	int rc = local_step_begin(&t, ctx, p, s, LOCAL_NEED_MOVED);

	if (rc)
		return rc;
	local_prealloc_footprint(t.c, t.x, foot);
	if (json_is_true(json_object_get(t.c->run, "start_idle"))) {
		if ((rc = local_start_inst(t.l, t.c, t.shadow, s->replica, foot, NULL, m, sizeof(m))))
			return rc;
		snprintf(msg, len, "made ahead (cpu %g cores, memory %.0f MiB): %s", foot[ADP_RES_CPU],
			 foot[ADP_RES_MEMORY] / 1048576, m);
		return 0;
	}
	if ((rc = orch_local_cg_ensure(t.l, t.shadow, t.inst, foot, NULL, t.c, s->replica, note, sizeof(note))))
		return rc;
	snprintf(msg, len, "cgroup made ahead (cpu %g cores, memory %.0f MiB); process not started (run.start_idle "
		 "is not set)", foot[ADP_RES_CPU], foot[ADP_RES_MEMORY] / 1048576);
	return 0;
}

/* Stops the instance on part once HAProxy has no session left on it. */
static int stop_idle(const struct local_step *t, const char *part, size_t replica, char *msg, size_t len)
{
	int rc = local_wait_idle(t->l, t->c, part, NULL, 0);

	return rc ? rc : local_stop_inst(t->l, t->c, part, replica, msg, len);
}

int local_op_stop_shadow(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct local_step t;
	int rc = local_step_begin(&t, ctx, p, s, LOCAL_NEED_MOVED);

	return rc ? rc : stop_idle(&t, t.shadow, s->replica, msg, len);
}

/* The replica on its home (a moved one's original, or an absorbed one),
 * started or stopped; need says which. */
static int start_home(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len, int need)
{
	struct local_step t;
	int rc = local_step_begin(&t, ctx, p, s, need);

	return rc ? rc : local_start_inst(t.l, t.c, t.home, s->replica, NULL, NULL, msg, len);
}

static int stop_home(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len, int need)
{
	struct local_step t;
	int rc = local_step_begin(&t, ctx, p, s, need);

	return rc ? rc : stop_idle(&t, t.home, s->replica, msg, len);
}

int local_op_start_original(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	return start_home(ctx, p, s, msg, len, LOCAL_NEED_MOVED);
}

int local_op_stop_original(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	return stop_home(ctx, p, s, msg, len, LOCAL_NEED_MOVED);
}

int local_op_start_absorbed(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	return start_home(ctx, p, s, msg, len, LOCAL_NEED_ABSORBED);
}

int local_op_stop_absorbed(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	return stop_home(ctx, p, s, msg, len, LOCAL_NEED_ABSORBED);
}

/* run_update: the schedule's update command, with ADPART_PARTITION. */
int local_op_run_update(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct local_step t;
	const struct schedule *sc;
	char log[1024];
	int st = 0, rc = local_step_begin(&t, ctx, p, s, LOCAL_NEED_NONE);

	if (rc)
		return rc;
	if (!(sc = t.l->sched) || !sc->update_argv) {
		snprintf(msg, len, "no update command in the schedule");
		return 0;
	}
	snprintf(log, sizeof(log), "%s/logs/update-%s.log", t.l->state_dir, s->partition);
	if ((rc = local_run_cmd(t.l, sc->update_argv, log, s->partition,
				sc->update_timeout ? sc->update_timeout : s->timeout, &st)))
		return rc;
	if (st)
		return adp_error_set(ADP_ESYS, "update of '%s' failed: '%s' exited %d (see '%s')", s->partition,
				     sc->update_argv[0], st, log);
	snprintf(msg, len, "update command exited 0");
	return 0;
}

/* verify_partition: after the update, the partition's cgroup takes
 * instances again (made anew if the update removed it), and its verify
 * command, if any, passes. */
int local_op_verify_partition(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct local_step t;
	const struct inv_partition *ip;
	const char *part = s->partition, *what = "no cgroup";
	json_t *cmd, *to;
	struct local_argv a = { 0 };
	char rel[512], log[1024];
	int64_t timeout = s->timeout;
	int st = 0, rc = local_step_begin(&t, ctx, p, s, LOCAL_NEED_NONE);

	if (rc)
		return rc;
	ip = local_find_part(t.l, part);
	cmd = ip && ip->verify ? json_object_get(ip->verify, "command") : NULL;
	if (local_part_cg(t.l, part, rel, sizeof(rel))) {
		if ((rc = local_cg_partition(t.l, rel)))
			return adp_error_wrap(rc, "partition '%s' after its update", part);
		what = "cgroup ready";
	}
	if (!cmd) {
		snprintf(msg, len, "partition '%s': %s, no verify command", part, what);
		return 0;
	}
	if (json_is_number(to = json_object_get(ip->verify, "timeout")))
		timeout = (int64_t)json_number_value(to);
	if ((rc = local_argv_from(&a, cmd, NULL, part, 0)))
		return rc;
	snprintf(log, sizeof(log), "%s/logs/verify-%s.log", t.l->state_dir, part);
	if (!(rc = local_run_cmd(t.l, a.v, log, part, timeout > 0 ? timeout : 60, &st)) && st)
		rc = adp_error_set(ADP_ESYS, "verify of partition '%s' failed: '%s' exited %d (see '%s')", part, a.v[0],
				   st, log);
	if (!rc)
		snprintf(msg, len, "partition '%s': %s, verify command passed", part, what);
	local_argv_release(&a);
	return rc;
}

/* A process's parent (field 4 of /proc/pid/stat), 0 if unknown. */
static pid_t proc_parent(pid_t pid)
{
	char path[64], buf[1024], *p;
	long pp = 0;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (!read_small(path, 0, buf, sizeof(buf)) || !(p = strrchr(buf, ')')) || sscanf(p + 1, " %*c %ld", &pp) != 1)
		return 0;
	return (pid_t)pp;
}

/* Whether a line of /proc/pid/cgroup ("ID:CONTROLLERS:/PATH") puts the
 * process in the cgroup /want or below it. */
static int cg_line_in(const char *line, size_t n, const char *want)
{
	const char *c = memchr(line, ':', n), *path;
	size_t wl = strlen(want);

	if (!c || !(c = memchr(c + 1, ':', n - (size_t)(c + 1 - line))))
		return 0;
	path = c + 1;
	n -= (size_t)(path - line);
	return n >= wl && !memcmp(path, want, wl) && (n == wl || path[wl] == '/');
}

/* The request API's authentication: pid is in the instance's cgroup (or
 * below it, in any hierarchy apply joins), or is the instance's
 * recorded process or a descendant of it (for a partition without a
 * cgroup). */
int local_owns(void *ctx, const struct plan *p, const struct plan_placement *x, pid_t pid)
{
	struct orch_local *l = ctx;
	char rel[512], inst[300], want[900], path[64], buf[4096], *s, *e;
	pid_t top, q = pid;
	int depth;

	(void)p;
	local_inst_name(inst, sizeof(inst), x->component, x->replica);
	if (local_part_cg(l, x->partition, rel, sizeof(rel))) {
		if (adp_snprintf_path(want, sizeof(want), "/%s/%s", rel, inst))
			return ADP_EINPUT;
		snprintf(path, sizeof(path), "/proc/%ld/cgroup", (long)pid);
		if (read_small(path, 0, buf, sizeof(buf)))
			for (s = buf; *s; s = *e ? e + 1 : e) {
				e = s + strcspn(s, "\n");
				if (cg_line_in(s, (size_t)(e - s), want))
					return 1;
			}
	}
	if ((top = local_inst_pid(l, x->component, x->replica, x->partition)) <= 0)
		return 0;
	/* A process tree is shallow: 64 levels are plenty, and bound a loop. */
	for (depth = 0; depth < 64 && q > 1; depth++, q = proc_parent(q))
		if (q == top)
			return 1;
	return 0;
}
