#include "orchestrator/exec/driver.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plans/steps.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/jsonutil.h"
#include "util/resource.h"

int orch_exec_init(struct orch_exec *e, const char *hook, const char *state_dir)
{
	struct stat st;
	char dir[1024];

	memset(e, 0, sizeof(*e));
	atomic_init(&e->cancel, 0);
	if (stat(hook, &st))
		return adp_error_set(ADP_EINPUT, "hook '%s': %s", hook, strerror(errno));
	if (!S_ISREG(st.st_mode) || access(hook, X_OK))
		return adp_error_set(ADP_EINPUT, "hook '%s' is not an executable file", hook);
	snprintf(dir, sizeof(dir), "%s/logs", state_dir);
	if ((mkdir(state_dir, 0700) && errno != EEXIST) || (mkdir(dir, 0700) && errno != EEXIST))
		return adp_error_set(ADP_ESYS, "cannot create '%s': %s", dir, strerror(errno));
	e->hook = realpath(hook, NULL);
	if (!e->hook || asprintf(&e->log, "%s/hook.log", dir) < 0) {
		e->log = NULL;
		orch_exec_release(e);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	e->timeout = ORCH_EXEC_DEFAULT_TIMEOUT;
	return 0;
}

void orch_exec_release(struct orch_exec *e)
{
	if (!e)
		return;
	free(e->hook);
	free(e->log);
	e->hook = e->log = NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Ends the hook's process group: SIGTERM, two seconds, then SIGKILL. */
static void stop_group(pid_t pid, int *st)
{
	int i;

	kill(-pid, SIGTERM);
	for (i = 0; i < 20; i++) {
		if (waitpid(pid, st, WNOHANG) == pid)
			goto reap;
		usleep(100000);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, st, 0);
reap:
	kill(-pid, SIGKILL); /* children it left behind */
}

/* Non-zero, with the reason set, once the call is past its deadline or
 * the engine cancelled it. */
static int hook_ended(struct orch_exec *e, const char *phase, int64_t deadline, int64_t timeout)
{
	if (atomic_load(&e->cancel))
		return adp_error_set(ADP_ESYS, "hook '%s' %s: cancelled", e->hook, phase);
	if (now_ms() >= deadline)
		return adp_error_set(ADP_ESYS, "hook '%s' %s timed out after %llds", e->hook, phase,
				     (long long)timeout);
	return 0;
}

/* Runs `hook phase` with input on stdin and its stdout into out (capped).
 * stdin is a socket so that a hook which never reads it cannot raise
 * SIGPIPE in the engine. *status is the exit status, 128+signal when
 * killed. Fails on a timeout, a cancel, or when the output passes the
 * cap; the hook's process group is ended then. */
static int run_hook(struct orch_exec *e, const char *phase, const char *input, int64_t timeout,
		    struct adp_buf *out, int *status)
{
	int in[2] = { -1, -1 }, outp[2] = { -1, -1 }, logfd = -1, st = 0, rc = 0;
	size_t len = strlen(input), sent = 0;
	int64_t deadline = now_ms() + timeout * 1000;
	pid_t pid = -1;

	if ((logfd = open(e->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
		return adp_error_set(ADP_ESYS, "cannot open log '%s': %s", e->log, strerror(errno));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) || pipe2(outp, O_CLOEXEC)) {
		rc = adp_error_set(ADP_ESYS, "cannot create pipes for the hook: %s", strerror(errno));
		goto done;
	}
	if ((pid = fork()) < 0) {
		rc = adp_error_set(ADP_ESYS, "cannot fork: %s", strerror(errno));
		goto done;
	}
	if (pid == 0) {
		char *argv[] = { e->hook, (char *)phase, NULL };

		setpgid(0, 0);
		dup2(in[1], 0);
		dup2(outp[1], 1);
		dup2(logfd, 2);
		setenv("ADPART_PHASE", phase, 1);
		execv(e->hook, argv);
		_exit(127);
	}
	close(in[1]);
	close(outp[1]);
	in[1] = outp[1] = -1;
	fcntl(in[0], F_SETFL, O_NONBLOCK);
	if (!len)
		shutdown(in[0], SHUT_WR);
	for (;;) {
		struct pollfd pf[2] = { { outp[0], POLLIN, 0 }, { sent < len ? in[0] : -1, POLLOUT, 0 } };
		int64_t left = deadline - now_ms();
		char chunk[8192];
		ssize_t n;

		/* Short polls, so that a cancel is seen within 100 ms. */
		if ((rc = hook_ended(e, phase, deadline, timeout)))
			goto done;
		if (poll(pf, 2, (int)(left > 100 ? 100 : left)) < 0 && errno != EINTR) {
			rc = adp_error_set(ADP_ESYS, "poll: %s", strerror(errno));
			goto done;
		}
		if (pf[1].revents) {
			n = send(in[0], input + sent, len - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				sent = len; /* the hook stopped reading: its exit status will tell */
			if (sent == len)
				shutdown(in[0], SHUT_WR);
		}
		if (pf[0].revents) {
			n = read(outp[0], chunk, sizeof(chunk));
			if (n == 0)
				break;
			if (n > 0 && adp_buf_add(out, chunk, (size_t)n)) {
				rc = adp_error_set(ADP_EINPUT, "hook '%s' %s: output exceeds %zu bytes", e->hook,
						   phase, ORCH_EXEC_MAX_OUTPUT);
				goto done;
			}
		}
	}
	/* stdout closed: wait for the exit within what is left of the time. */
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if ((rc = hook_ended(e, phase, deadline, timeout)))
			goto done;
		usleep(20000);
	}
	kill(-pid, SIGKILL); /* anything it left running in its group */
	pid = -1;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
done:
	if (pid > 0)
		stop_group(pid, &st);
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (outp[i] >= 0)
			close(outp[i]);
	}
	close(logfd);
	return rc;
}

static json_t *plan_ref(const struct plan *p)
{
	return json_pack("{s:s, s:s?, s:s, s:I}", "digest", p->digest, "schedule", p->schedule_name,
			 "lineage", p->lineage, "serial", (json_int_t)p->serial);
}

/* NULL when anything failed: json_pack then fails on it too. */
static json_t *alloc_obj(const double *v)
{
	struct adp_jb jb = { 0 };
	json_t *o = json_object();
	int r;

	for (r = 0; o && r < ADP_RES_COUNT; r++)
		adp_jset(&jb, o, adp_resource_name(r), json_real(v[r]));
	if (jb.failed) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *placement_obj(const struct plan_placement *x)
{
	if (!x)
		return json_null();
	return json_pack("{s:s, s:I, s:i, s:s, s:s?, s:o, s:o, s:o, s:o}", "component", x->component, "replica",
			 (json_int_t)x->replica, "tier", x->tier, "partition", x->partition, "from", x->from,
			 "alloc", alloc_obj(x->alloc), "reservation", alloc_obj(x->reserve), "p50_peak",
			 alloc_obj(x->p50_peak), "p95_peak", alloc_obj(x->p95_peak));
}

/* Serialises doc (stealing it), runs the hook, and judges the exit. */
static int call(struct orch_exec *e, const char *phase, json_t *doc, int64_t timeout,
		struct adp_buf *out, int *status, const char *what)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	int rc;

	json_decref(doc);
	if (!text)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	adp_buf_init(out, ORCH_EXEC_MAX_OUTPUT);
	rc = run_hook(e, phase, text, timeout, out, status);
	free(text);
	if (rc)
		return rc;
	if (*status == 0 || (!strcmp(phase, "sample") && *status == ORCH_EXEC_NO_DATA))
		return 0;
	return adp_error_set(ADP_ESYS, "hook %s %s: exit status %d (its stderr is in '%s')", phase, what,
			     *status, e->log);
}

static int exec_check(void *ctx, const struct plan *p)
{
	struct orch_exec *e = ctx;
	json_t *doc = json_pack("{s:s, s:o, s:[], s:[]}", "phase", "check", "plan", plan_ref(p), "waves",
				"actions");
	json_t *waves = json_object_get(doc, "waves"), *acts = json_object_get(doc, "actions");
	struct adp_buf out = ADP_BUF_INIT;
	struct adp_jb jb = { 0 };
	size_t i, j;
	int status, rc;

	for (i = 0; doc && i < p->nwaves; i++) {
		json_t *off = json_array();
		for (j = 0; off && j < p->waves[i].noffline; j++)
			adp_jpush(&jb, off, json_string(p->waves[i].offline[j]));
		adp_jpush(&jb, waves, json_pack("{s:I, s:I, s:I, s:o}", "wave", (json_int_t)(i + 1), "start",
						(json_int_t)p->waves[i].start, "end", (json_int_t)p->waves[i].end,
						"offline", off));
	}
	/* Each action name once, so the hook can refuse what it cannot do. */
	for (i = 0; doc && i < p->nsteps + p->nrollback; i++) {
		const char *a = i < p->nsteps ? p->steps[i].action : p->rollback[i - p->nsteps].action;
		int seen = 0;
		json_t *v;
		json_array_foreach(acts, j, v)
			seen |= !strcmp(json_string_value(v), a);
		if (!seen)
			adp_jpush(&jb, acts, json_string(a));
	}
	/* A document the hook would read as complete must be. */
	if ((rc = adp_jb_check(&jb))) {
		json_decref(doc);
		return rc;
	}
	rc = call(e, "check", doc, e->timeout, &out, &status, "refused the plan");
	adp_buf_release(&out);
	return rc;
}

/* Runs the hook's act for step s about placement x (NULL: the step is
 * about a partition or an absorbed replica); msg gets the first line of
 * its stdout. */
static int exec_act(struct orch_exec *e, const struct plan *p, const struct plan_step *s,
		    const struct plan_placement *x, char *msg, size_t len)
{
	struct adp_buf out = ADP_BUF_INIT;
	char what[128];
	json_t *step = json_pack("{s:I, s:I, s:s, s:s?, s:s?, s:I, s:s?, s:I}", "id", (json_int_t)s->id,
				 "wave", (json_int_t)s->wave, "action", s->action, "partition", s->partition,
				 "component", s->component, "replica", (json_int_t)s->replica, "target",
				 s->target, "timeout", (json_int_t)s->timeout);
	json_t *doc = step ? json_pack("{s:s, s:o, s:o, s:o}", "phase", "act", "plan", plan_ref(p), "step",
				       step, "placement", placement_obj(x))
			   : NULL;
	int status, rc;

	atomic_store(&e->cancel, 0);
	snprintf(what, sizeof(what), "step %zu (%s)", s->id, s->action);
	rc = call(e, "act", doc, s->timeout > 0 ? s->timeout : e->timeout, &out, &status, what);
	if (!rc && len) {
		const char *o = adp_buf_str(&out);
		size_t n = strcspn(o, "\n");
		snprintf(msg, len, "%.*s", (int)(n < len ? n : len - 1), o);
	}
	adp_buf_release(&out);
	return rc;
}

/* A step about a moved replica: the placement is its target and allocation. */
static int exec_op_moved(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	return exec_act(ctx, p, s, plan_step_moved(p, s), msg, len);
}

/* resize and restore_size: the placement is the staying replica's. */
static int exec_op_stayer(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	return exec_act(ctx, p, s, plan_step_stayer(p, s), msg, len);
}

/* A partition's update and check, and an absorbed replica's steps: no
 * placement. */
static int exec_op_plain(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	return exec_act(ctx, p, s, NULL, msg, len);
}

/* The engine's thread asks the hook under way to stop. */
static void exec_cancel(void *ctx)
{
	struct orch_exec *e = ctx;

	atomic_store(&e->cancel, 1);
}

/* stdout is {"cpu": 0.8, "memory": 1.2e9, ...}; {} or exit 3 is no data. */
static int exec_sample(void *ctx, const struct plan *p, const struct plan_placement *x,
		       double usage[ADP_RES_COUNT], int have[ADP_RES_COUNT])
{
	struct orch_exec *e = ctx;
	struct adp_buf out = ADP_BUF_INIT;
	json_t *doc = json_pack("{s:s, s:o, s:o}", "phase", "sample", "plan", plan_ref(p), "placement",
				placement_obj(x));
	json_t *res = NULL, *v;
	json_error_t err;
	const char *k;
	int status, rc, r, any = 0;
	double got[ADP_RES_COUNT] = { 0 };
	int seen[ADP_RES_COUNT] = { 0 };

	if ((rc = call(e, "sample", doc, e->timeout, &out, &status, x->component)))
		goto done;
	if (status == ORCH_EXEC_NO_DATA) {
		rc = 1;
		goto done;
	}
	if (!(res = json_loads(adp_buf_str(&out), JSON_REJECT_DUPLICATES, &err)) || !json_is_object(res)) {
		rc = adp_error_set(ADP_EINPUT, "hook sample %s: stdout is not a JSON object of usage per resource",
				   x->component);
		goto done;
	}
	json_object_foreach(res, k, v) {
		if ((r = adp_resource_parse(k)) < 0 || !json_is_number(v) || !isfinite(json_number_value(v)) ||
		    json_number_value(v) < 0) {
			rc = adp_error_set(ADP_EINPUT,
					   "hook sample %s: '%s': expected cpu, memory, io or net with a number of at least 0",
					   x->component, k);
			goto done;
		}
		got[r] = json_number_value(v);
		seen[r] = any = 1;
	}
	if (!any) {
		rc = 1;
		goto done;
	}
	for (r = 0; r < ADP_RES_COUNT; r++) {
		have[r] = seen[r];
		if (seen[r])
			usage[r] = got[r];
	}
done:
	json_decref(res);
	adp_buf_release(&out);
	return rc;
}

static int exec_grow(void *ctx, const struct plan *p, const struct plan_placement *x, int r, double limit)
{
	struct orch_exec *e = ctx;
	struct adp_buf out = ADP_BUF_INIT;
	json_t *doc = json_pack("{s:s, s:o, s:o, s:s, s:f}", "phase", "grow", "plan", plan_ref(p), "placement",
				placement_obj(x), "resource", adp_resource_name(r), "limit", limit);
	int status, rc;

	rc = call(e, "grow", doc, e->timeout, &out, &status, x->component);
	adp_buf_release(&out);
	return rc;
}

/* Every action reaches the hook (the hook decides what it means); the
 * slot says which placement the document carries. */
static const orch_act_fn exec_ops[PLAN_ACTION_COUNT] = {
	[PLAN_CREATE_PARTITION] = exec_op_moved,
	[PLAN_START_SHADOW] = exec_op_moved,
	[PLAN_HEALTH_CHECK] = exec_op_moved,
	[PLAN_CANARY] = exec_op_moved,
	[PLAN_VERIFY_SHADOW] = exec_op_moved,
	[PLAN_SWITCH_TRAFFIC] = exec_op_moved,
	[PLAN_DRAIN] = exec_op_moved,
	[PLAN_STOP_ORIGINAL] = exec_op_moved,
	[PLAN_RUN_UPDATE] = exec_op_plain,
	[PLAN_VERIFY_PARTITION] = exec_op_plain,
	[PLAN_START_ORIGINAL] = exec_op_moved,
	[PLAN_HEALTH_CHECK_ORIGINAL] = exec_op_moved,
	[PLAN_SWITCH_BACK] = exec_op_moved,
	[PLAN_STOP_SHADOW] = exec_op_moved,
	[PLAN_CLEANUP] = exec_op_moved,
	[PLAN_DRAIN_ABSORBED] = exec_op_plain,
	[PLAN_STOP_ABSORBED] = exec_op_plain,
	[PLAN_START_ABSORBED] = exec_op_plain,
	[PLAN_HEALTH_CHECK_ABSORBED] = exec_op_plain,
	[PLAN_UNDRAIN_ABSORBED] = exec_op_plain,
	[PLAN_RESIZE] = exec_op_stayer,
	[PLAN_RESTORE_SIZE] = exec_op_stayer,
	[PLAN_REMOVE_PARTITION] = exec_op_moved,
	[PLAN_RESTORE_TRAFFIC] = exec_op_moved,
	[PLAN_UNDRAIN] = exec_op_moved,
	/* With the next wave's moved replica, which they prepare. */
	[PLAN_PREALLOCATE_SHADOW] = exec_op_moved,
	[PLAN_RELEASE_SHADOW] = exec_op_moved,
};

void orch_exec_driver(struct orch_driver *d, struct orch_exec *e)
{
	*d = (struct orch_driver){ .ctx = e, .check = exec_check, .ops = exec_ops, .sample = exec_sample,
				   .grow = exec_grow, .cancel = exec_cancel };
}
