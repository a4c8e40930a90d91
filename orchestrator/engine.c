#include "orchestrator/engine_int.h"
#include "orchestrator/gates.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "plans/steps.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/sha256.h"
#include "util/timeutil.h"

#define JOURNAL_MAX_BYTES ((size_t)64 << 20)

int orch_preflight(const struct plan *p, int64_t now)
{
	if (p->format_version != PLAN_FORMAT_VERSION)
		return adp_error_set(ADP_EINPUT, "plan format version %d is not known: expected %d",
				     p->format_version, PLAN_FORMAT_VERSION);
	if (p->nshortfalls)
		return adp_error_set(ADP_EINPUT, "the plan is infeasible (%zu shortfalls): nothing to apply",
				     p->nshortfalls);
	{
		struct plan_proof pf;

		plan_proof(p, &pf);
		if (!pf.holds && !p->risk_accepted)
			return adp_error_set(ADP_EINPUT, "the plan's proof fails (predicted P(overload) above epsilon) and "
					     "its risk was not accepted: plan again, or with --accept-risk");
	}
	if (p->expires_at && now >= p->expires_at) {
		char ago[32], at[64];

		adp_duration_format(ago, now - p->expires_at);
		adp_time_format_msg(at, p->expires_at, p->timezone);
		return adp_error_set(ADP_EINPUT, "the plan expired %s ago (at %s): plan again", ago, at);
	}
	return plan_check_inputs(p);
}

int64_t orch_plan_start(const struct plan *p)
{
	return p->nwaves ? p->waves[0].start : p->window_start;
}

/* The waves were planned from the first one's start; starting later
 * pushes every one later, so the lateness allowed is the margin to the
 * cutoff, and at least one step: a start is only resolved to the step. */
static int64_t start_late(const struct plan *p)
{
	return p->margin > p->step ? p->margin : p->step;
}

int orch_start_check(const struct plan *p, int64_t now, int64_t *wait_s)
{
	int64_t start = orch_plan_start(p), late = start_late(p);
	char at[64], d[32], e[32];

	*wait_s = 0;
	adp_time_format_msg(at, start, p->timezone);
	if (now < start) {
		*wait_s = start - now;
		adp_duration_format(d, start - now);
		return adp_error_set(ADP_EINPUT, "the plan starts at %s, in %s: the forecast and the proof are "
				     "for then; apply then, or now with --wait", at, d);
	}
	if (now - start >= late) {
		adp_duration_format(d, now - start);
		adp_duration_format(e, late);
		return adp_error_set(ADP_EINPUT, "the plan started at %s, %s ago: its waves would overrun the "
				     "cutoff (a start at most %s late is allowed): plan again", at, d, e);
	}
	return 0;
}

/* One act on the worker thread. */
struct act_job {
	const struct orch_driver *d;
	const struct plan *p;
	const struct plan_step *s;
	char msg[512];
	int rc, done;
	double seconds;     /* spent in act */
	double sampling;    /* spent by the engine's thread sampling meanwhile */
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void *act_worker(void *arg)
{
	struct act_job *a = arg;
	double t = mono_s();
	orch_act_fn act = a->s->act >= 0 && a->s->act < PLAN_ACTION_COUNT ? a->d->ops[a->s->act] : NULL;
	int rc = act ? act(a->d->ctx, a->p, a->s, a->msg, sizeof(a->msg)) : 0;

	t = mono_s() - t;
	/* The error text is thread-local: carry it over in msg, ahead of any
	 * observation the driver made before it failed. */
	if (rc) {
		char note[sizeof(a->msg)];

		snprintf(note, sizeof(note), "%s", a->msg);
		/* A message: cut if need be, the error first. */
		if (snprintf(a->msg, sizeof(a->msg), "%s%s%s", adp_error_last(), *note ? " (after: " : "", note) >=
		    (int)sizeof(a->msg))
			*note = '\0';
		if (*note && strlen(a->msg) + 1 < sizeof(a->msg))
			strcat(a->msg, ")");
	}
	pthread_mutex_lock(&a->mu);
	a->rc = rc;
	a->seconds = t;
	a->done = 1;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* Runs one action with the driver, journaling before and after; the act
 * runs on a worker while this thread enforces the timeout and, with
 * monitor_at set (the step's index), samples on a timer. */
static int run_one(struct journal *j, json_t *rec, const struct orch_driver *d, const struct plan *p,
		   const struct plan_step *s, const struct orch_opts *o, long monitor_at)
{
	struct act_job a = { .d = d, .p = p, .s = s };
	double timeout = (double)(s->timeout > 0 ? s->timeout : plan_actions[s->act].default_timeout);
	double interval = o->monitor_interval > 0 ? o->monitor_interval : 5;
	double start, deadline, next_sample, saved, journal_s;
	int rc, arc, mrc = 0, timed_out = 0, stopped = 0, cancelling = 0;
	struct adp_jb b = { 0 };
	pthread_t th;
	char msg[700];

	start = mono_s();
	set_status(&b, rec, "started", NULL);
	if ((rc = journal_built(j, &b)))
		return rc;
	/* Forward, nothing acts before it is journaled. Undoing, a journal
	 * that cannot be written does not stop the undo: its steps are
	 * idempotent, and leaving the system half-moved is worse. */
	if ((rc = journal_save(j)) && monitor_at >= 0)
		return rc;
	saved = mono_s();
	journal_s = saved - start;
	if (o->step)
		o->step(o->step_ctx, s, monitor_at < 0, "started", 0, "");
	deadline = start + timeout;
	next_sample = start + interval;
	pthread_mutex_init(&a.mu, NULL);
	pthread_cond_init(&a.cv, NULL);
	if (pthread_create(&th, NULL, act_worker, &a)) {
		pthread_mutex_destroy(&a.mu);
		pthread_cond_destroy(&a.cv);
		return adp_error_set(ADP_ESYS, "cannot start a thread for step %zu", s->id);
	}
	pthread_mutex_lock(&a.mu);
	while (!a.done) {
		double now = mono_s(), until = cancelling ? now + 0.1 : deadline;
		struct timespec ts;

		if (!cancelling && monitor_at >= 0 && d->sample_during_act && next_sample < until)
			until = next_sample;
		/* Requests are answered within a tenth of a second. */
		if (!cancelling && j->rq && (monitor_at < 0 || d->sample_during_act) && now + 0.1 < until)
			until = now + 0.1;
		if (until > now) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)(until - now);
			ts.tv_nsec += (long)((until - now - (double)(time_t)(until - now)) * 1e9);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&a.cv, &a.mu, &ts);
		}
		if (a.done)
			break;
		now = mono_s();
		if (cancelling) {
			if (d->cancel)
				d->cancel(d->ctx);
			continue;
		}
		if (now >= deadline) {
			timed_out = cancelling = 1;
			continue;
		}
		if (j->rq && (monitor_at < 0 || d->sample_during_act)) {
			pthread_mutex_unlock(&a.mu);
			/* A failed build stops the act, as monitoring's does. */
			int qrc = requests_serve(j, monitor_at);

			if (qrc < 0 && !mrc) {
				mrc = qrc;
				stopped = cancelling = 1;
			}
			pthread_mutex_lock(&a.mu);
			if (a.done)
				break;
		}
		if (monitor_at >= 0 && d->sample_during_act && now >= next_sample) {
			double t = mono_s();

			pthread_mutex_unlock(&a.mu);
			/* A failed build (mrc < 0) stops the act too: the apply ends. */
			if ((mrc = monitor(j, o, d, p, (size_t)monitor_at, 1, plan_time(o, j->t0))))
				stopped = cancelling = 1;
			pthread_mutex_lock(&a.mu);
			a.sampling += mono_s() - t;
			next_sample = mono_s() + interval;
		}
	}
	pthread_mutex_unlock(&a.mu);
	pthread_join(th, NULL);
	pthread_mutex_destroy(&a.mu);
	pthread_cond_destroy(&a.cv);
	if (monitor_at >= 0 && o->crash_before_done > 0 && (size_t)o->crash_before_done == s->id)
		_exit(137);
	if (mrc < 0)
		return adp_error_set(ADP_ENOMEM, "out of memory building the journal '%s'", j->path);
	arc = a.rc;
	if ((arc == ORCH_ACT_STOP || arc == ORCH_ACT_SKIP) && (timed_out || stopped || monitor_at < 0))
		arc = ADP_ESYS; /* cut, or undoing: a failure like any other */
	if (timed_out) {
		snprintf(msg, sizeof(msg), "timed out after %.0f s%s%s", timeout, a.msg[0] ? ": " : "", a.msg);
		jset(&b, rec, "timed_out", json_true());
		arc = arc ? arc : ADP_ESYS;
	} else if (stopped) {
		snprintf(msg, sizeof(msg), "stopped by monitoring (see observations)%s%s", a.msg[0] ? ": " : "",
			 a.msg);
		arc = arc ? arc : ADP_ESYS;
	} else {
		snprintf(msg, sizeof(msg), "%s", a.msg);
	}
	if (arc == ORCH_ACT_STOP) /* still "started", with why it stopped */
		jset(&b, rec, "message", json_string(msg));
	else
		set_status(&b, rec, arc ? "failed" : "done", msg); /* ORCH_ACT_SKIP too: failed, then its wave undone */
	/* The engine's own time in the step: journal, thread, bookkeeping;
	 * sampling during the act is monitoring and not counted. The final
	 * journal write is not in it: it costs about journal_us again. */
	jset(&b, rec, "seconds", json_real(mono_s() - start));
	jset(&b, rec, "act_seconds", json_real(a.seconds));
	jset(&b, rec, "engine_us", json_integer((json_int_t)((mono_s() - start - a.seconds - a.sampling) * 1e6)));
	jset(&b, rec, "journal_us", json_integer((json_int_t)(journal_s * 1e6)));
	if ((rc = journal_built(j, &b)))
		return rc;
	rc = journal_save(j);
	if (o->step)
		o->step(o->step_ctx, s, monitor_at < 0, arc == ORCH_ACT_STOP ? "stopped" : arc ? "failed" : "done",
			mono_s() - start, msg);
	if (rc && monitor_at >= 0)
		return rc;
	return arc == ORCH_ACT_STOP ? 2 : arc == ORCH_ACT_SKIP ? 3 : arc ? 1 : 0;
}

static void crash_hook(const struct orch_opts *o, size_t id)
{
	if (o->crash_after > 0 && (size_t)o->crash_after == id)
		_exit(137);
}

/* The inverses of every step of wave (of every wave: 0) that started,
 * last first, as pending step records; NULL with j broken when it could
 * not be built. */
static json_t *undo_list(struct journal *j, const struct plan *p, size_t wave)
{
	json_t *steps = json_object_get(j->root, "steps"), *undo = json_array();
	struct adp_jb b = { 0 };
	size_t i;

	for (i = json_array_size(steps); i-- > 0;) {
		const char *st = status_of(json_array_get(steps, i));
		const struct plan_action_def *a;
		struct plan_step inv;

		if (!strcmp(st, "pending") || !strcmp(st, "skipped") || (wave && p->steps[i].wave != wave))
			continue;
		a = plan_action_find(p->steps[i].action);
		if (!a || !a->inverse)
			continue;
		inv = p->steps[i];
		inv.action = (char *)a->inverse;
		inv.act = plan_action_id(a->inverse);
		jpush(&b, undo, step_json(&b, &inv));
	}
	if (b.failed) {
		json_decref(undo);
		journal_built(j, &b);
		return NULL;
	}
	return undo;
}

/* Builds the undo list: inverses of every step that started, last first. */
static int build_undo(struct journal *j, const struct plan *p)
{
	json_t *undo = undo_list(j, p, 0);
	struct adp_jb b = { 0 };

	if (!undo)
		return ADP_ENOMEM;
	jset(&b, j->root, "undo", undo);
	jset(&b, j->root, "state", json_string("rollback"));
	if (journal_built(j, &b))
		return ADP_ENOMEM;
	/* A failed save marks the journal lost (reported at the end): the
	 * rollback goes on from the journal in memory. */
	journal_save(j);
	return 0;
}

/* Runs the undo records not yet done, in order; *failed set when one
 * failed (the others still run: undo steps are idempotent). 0 or a
 * negative ADP_E*. */
static int run_undo(struct journal *j, const struct orch_opts *o, const struct orch_driver *d, const struct plan *p,
		    json_t *undo, int *failed)
{
	json_t *rec;
	size_t i;
	int rc;

	json_array_foreach(undo, i, rec) {
		struct plan_step s = { 0 };

		if (!strcmp(status_of(rec), "done"))
			continue;
		s.id = (size_t)json_integer_value(json_object_get(rec, "id"));
		s.action = (char *)json_string_value(json_object_get(rec, "action"));
		s.partition = (char *)json_string_value(json_object_get(rec, "partition"));
		s.component = (char *)json_string_value(json_object_get(rec, "component"));
		s.replica = (size_t)json_integer_value(json_object_get(rec, "replica"));
		s.target = (char *)json_string_value(json_object_get(rec, "target"));
		if (s.id < 1 || s.id > p->nsteps || (s.act = plan_action_id(s.action)) < 0)
			return adp_error_set(ADP_EINPUT, "journal '%s': undo entry %zu is malformed", j->path, i);
		s.wave = p->steps[s.id - 1].wave;
		s.timeout = plan_actions[s.act].default_timeout;
		if ((rc = run_one(j, rec, d, p, &s, o, -1)) < 0)
			return rc;
		*failed |= rc;
	}
	return 0;
}

/* Gives up the wave of step i, whose act asked for it (ORCH_ACT_SKIP),
 * or finishes giving it up after a kill: the inverses of the wave's
 * started steps, last first, journaled in "given_up" (one entry a wave:
 * {"wave", "why", "undo", "state"}) before each acts; then every step of
 * the wave is journaled "skipped" (undone or never acted), so that a
 * rollback does not undo it again, and the run goes on with the next
 * wave. at is the step that asked (0: finishing after a kill), where
 * the tests' kill after a step falls once the wave's undo list is
 * journaled. 0, 1 when an undo step failed (the caller rolls the run
 * back), or a negative ADP_E*. */
static int give_up_wave(struct journal *j, const struct orch_opts *o, const struct orch_driver *d,
			const struct plan *p, size_t wave, const char *why, size_t at)
{
	json_t *all = json_object_get(j->root, "given_up"), *e = NULL, *x, *undo, *steps = json_object_get(j->root, "steps");
	struct adp_jb b = { 0 };
	char note[600];
	size_t i;
	int failed = 0, rc;

	json_array_foreach(all, i, x)
		if ((size_t)json_integer_value(json_object_get(x, "wave")) == wave)
			e = x;
	if (!e) {
		if (!all) {
			jset(&b, j->root, "given_up", json_array());
			all = json_object_get(j->root, "given_up");
		}
		if (!(undo = undo_list(j, p, wave)))
			return ADP_ENOMEM;
		e = json_object();
		jset(&b, e, "wave", json_integer((json_int_t)wave));
		jset(&b, e, "why", json_string(why));
		jset(&b, e, "state", json_string("undoing"));
		jset(&b, e, "undo", undo);
		jpush(&b, all, e);
		if ((rc = journal_built(j, &b)))
			return rc;
		/* Undoing: a journal that cannot be written does not stop it. */
		journal_save(j);
		crash_hook(o, at);
	}
	why = json_string_value(json_object_get(e, "why"));
	if ((rc = run_undo(j, o, d, p, json_object_get(e, "undo"), &failed)))
		return rc;
	if (failed)
		return 1;
	snprintf(note, sizeof(note), "wave %zu given up: %s", wave, why ? why : "");
	for (i = 0; i < p->nsteps; i++)
		if (p->steps[i].wave == wave)
			set_status(&b, json_array_get(steps, i), "skipped", note);
	jset(&b, e, "state", json_string("done"));
	if ((rc = journal_built(j, &b)))
		return rc;
	journal_save(j);
	emit(o, SCHEDULE_EV_WAVE, json_pack("{s:I, s:s, s:s}", "wave", (json_int_t)wave, "phase", "given_up", "why",
					     why ? why : ""));
	return 0;
}

static int wave_given_up(struct journal *j, size_t wave)
{
	json_t *x;
	size_t i;

	json_array_foreach(json_object_get(j->root, "given_up"), i, x)
		if ((size_t)json_integer_value(json_object_get(x, "wave")) == wave)
			return 1;
	return 0;
}

static int do_rollback(struct journal *j, const struct orch_opts *o, const struct orch_driver *d,
		       const struct plan *p, int *outcome)
{
	json_t *undo = json_object_get(j->root, "undo");
	int failed = 0, rc;

	emit(o, SCHEDULE_EV_ROLLBACK, json_pack("{s:I, s:s?}", "undo_steps", (json_int_t)json_array_size(undo), "why",
						o->why && *o->why ? o->why : NULL));
	/* Loans first: every limit back at its allocation before the steps
	 * that made them are undone. */
	if ((rc = loans_settle(j, d, p, 0, "rollback")))
		return rc;
	if ((rc = run_undo(j, o, d, p, undo, &failed)))
		return rc;
	if ((rc = set_state(j, failed ? "failed" : "rolled_back")))
		return rc;
	*outcome = failed ? ORCH_FAILED : ORCH_ROLLED_BACK;
	journal_save(j);
	return 0;
}

const char *orch_outcome_name(int outcome)
{
	static const char *const names[] = { "done",	     "rolled_back", "failed", "refused",
					     "stopped", "journal_lost", "blocked" };

	return outcome >= 0 && outcome <= ORCH_BLOCKED ? names[outcome] : "unknown";
}

static int write_record(const struct orch_opts *o, struct journal *j, int outcome)
{
	char path[4096];
	struct adp_jb b = { 0 };
	json_t *rec;
	char *text;
	int rc;

	if (j->broken)
		return adp_error_set(ADP_ENOMEM, "journal '%s' is incomplete in memory: no run record", j->path);
	rec = json_deep_copy(j->root);
	jset(&b, rec, "outcome", json_string(orch_outcome_name(outcome)));
	jset(&b, rec, "written_at", json_integer(now_s()));
	if (b.failed) {
		json_decref(rec);
		return adp_error_set(ADP_ENOMEM, "out of memory building the run record");
	}
	snprintf(path, sizeof(path), "%s", o->record_path ? o->record_path : "");
	if (!o->record_path)
		snprintf(path, sizeof(path), "%s/run.json", o->state_dir);
	text = json_dumps(rec, JSON_INDENT(2));
	json_decref(rec);
	if (!text)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	rc = adp_write_atomic(path, text, strlen(text));
	free(text);
	return rc;
}

/* The journal on disk is behind what was done (a full or failing disk):
 * the run record is written if it can be, and the last error says what
 * state the system is in and how to continue, for cmd/ to report. */
static void journal_lost(const struct orch_opts *o, struct journal *j, int out)
{
	const char *state =
		out == ORCH_DONE ? "every step is done; once the journal can be written, --resume records it"
		: out == ORCH_ROLLED_BACK
			? "apply stopped acting and rolled back what it had done, so the system is as before the apply; once the journal can be written, --rollback records it"
		: out == ORCH_STOPPED
			? "apply stopped at a step boundary; once the journal can be written, continue with --resume or undo with --rollback"
			: "apply stopped acting and the rollback did not complete (see the failed undo steps in the run record); once the journal can be written, --rollback retries them";
	write_record(o, j, ORCH_JOURNAL_LOST);
	adp_error_set(ADP_ESYS, "the journal could not be written (%s): %s", j->lost_msg, state);
}

/* The journal of a new apply: every step pending. */
static int journal_new(struct journal *j, const struct orch_opts *o, const struct plan *p)
{
	struct adp_jb b = { 0 };
	json_t *steps = json_array();
	size_t i;

	j->root = json_object();
	jset(&b, j->root, "format", json_integer(ORCH_JOURNAL_FORMAT));
	jset(&b, j->root, "plan", json_string(o->plan_path));
	jset(&b, j->root, "digest", json_string(p->digest));
	jset(&b, j->root, "started_at", json_integer(now_s()));
	jset(&b, j->root, "state", json_string("forward"));
	for (i = 0; i < p->nsteps; i++)
		jpush(&b, steps, step_json(&b, &p->steps[i]));
	jset(&b, j->root, "steps", steps);
	return journal_built(j, &b);
}

/* One apply at a time per state directory: an flock held for the run. */
/* Takes the lock file path (what: whose lock, for the message). */
static int take_lock(const char *path, const char *what, int *fd_out)
{
	char pid[32];
	int fd;

	/* Never through a symlink: in a shared state directory, a link
	 * planted as the lock would have root write a pid into its target. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return adp_error_set(errno == ELOOP ? ADP_EINPUT : ADP_ESYS, "cannot open lock '%s': %s", path,
				     errno == ELOOP ? "it is a symbolic link" : strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;
		char held[32] = "";
		ssize_t n = pread(fd, held, sizeof(held) - 1, 0);

		close(fd);
		if (n > 0)
			held[n] = '\0';
		held[strcspn(held, "\n")] = '\0';
		if (e == EWOULDBLOCK)
			return adp_error_set(ADP_EINPUT, "another apply holds %s '%s' (pid %s)", what, path,
					     *held ? held : "unknown");
		return adp_error_set(ADP_ESYS, "cannot lock '%s': %s", path, strerror(e));
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, strlen(pid), 0) < 0) {
		close(fd);
		return adp_error_set(ADP_ESYS, "cannot write lock '%s': %s", path, strerror(errno));
	}
	*fd_out = fd;
	return 0;
}

/* Makes the reserve in the state directory (see ORCH_RESERVE_BASE). */
static int make_reserve(const struct orch_opts *o, const struct plan *p)
{
	char path[4096];
	int rc;

	if ((rc = adp_snprintf_path(path, sizeof(path), "%s/" ORCH_RESERVE_NAME, o->state_dir)))
		return rc;
	return adp_reserve_make(path, (off_t)ORCH_RESERVE_BASE + (off_t)ORCH_RESERVE_PER_STEP * (off_t)p->nsteps);
}

/* After a step: the disk under the state directory filled up (the
 * reserve was released), so apply stops acting. Says why in o->why and
 * in the journal (so in the run record). 1 then, else 0. */
static int disk_filled(struct journal *j, const struct orch_opts *o)
{
	char first[512], why[900];
	struct adp_jb b = { 0 };

	if (!adp_reserve_released(first, sizeof(first)))
		return 0;
	snprintf(why, sizeof(why),
		 "the disk under the state directory '%s' filled up (%s): apply stopped acting and rolled back, "
		 "journaling into the room its reserve left; free space there before the next apply",
		 o->state_dir, first);
	if (o->why && o->why_len)
		snprintf(o->why, o->why_len, "%s", why);
	jset(&b, j->root, "stopped_by", json_string(why));
	journal_built(j, &b);
	return 1;
}

/* An error after the journal was on disk (out of memory, a thread that
 * would not start) left the system where the journal says: the message
 * says so and names the option that continues, as for a crash. */
static int stopped_midway(const struct journal *j, int rc)
{
	struct adp_error_state st;
	const char *state = json_string_value(json_object_get(j->root, "state"));

	adp_error_save(&st, rc);
	return adp_error_set(rc, "%s; apply stopped where its journal '%s' says (state %s): %s", st.msg, j->path,
			     state ? state : "unknown",
			     state && !strcmp(state, "rollback") ? "--rollback continues the rollback"
								  : "continue with --resume or undo with --rollback");
}

/* Whether the plan may start at t: 0 when it may now or, early, by
 * waiting (*wait > 0, within o->wait_max); ADP_EINPUT with why not. */
static int start_refusal(const struct orch_opts *o, const struct plan *p, int64_t t, int64_t *wait)
{
	int rc = orch_start_check(p, t, wait);
	char at[64], in[32], lim[32];

	if (!rc || (*wait && *wait <= o->wait_max)) {
		adp_error_clear();
		return 0;
	}
	if (!*wait || !o->wait_max)
		return rc;
	adp_time_format_msg(at, orch_plan_start(p), p->timezone);
	adp_duration_format(in, *wait);
	adp_duration_format(lim, o->wait_max);
	return adp_error_set(rc, "the plan starts at %s, in %s: beyond --wait's limit of %s", at, in, lim);
}

/* Before the first step: sleeps until the plan's start when it is not
 * yet, journaled "waiting". 0 to go on; 1 with *out ORCH_STOPPED when a
 * signal came first (nothing was changed); ADP_EINPUT as a refusal. */
static int wait_for_start(struct journal *j, const struct orch_opts *o, const struct plan *p, int *out)
{
	int64_t wait;
	int rc = start_refusal(o, p, plan_time(o, j->t0), &wait);
	char at[32];
	struct adp_jb b = { 0 };

	if (rc || !wait)
		return rc;
	adp_time_format(at, orch_plan_start(p));
	jset(&b, j->root, "waiting_until", json_string(at));
	if ((rc = journal_built(j, &b)) || (rc = set_state(j, "waiting")))
		return rc;
	journal_save(j); /* a failure marks it lost, reported at the end */
	while (plan_time(o, j->t0) < orch_plan_start(p)) {
		if (o->stop && *o->stop) {
			if ((rc = set_state(j, "stopped")))
				return rc;
			journal_save(j);
			if (o->why && o->why_len)
				snprintf(o->why, o->why_len, "stopped while waiting for the plan's start (%s): "
					 "nothing was changed: --resume --wait waits again, --rollback closes the journal", at);
			*out = ORCH_STOPPED;
			return 1;
		}
		/* Short sleeps: a signal is seen within a fifth of a second. */
		nanosleep(&(struct timespec){ 0, 200000000L }, NULL);
	}
	return 0;
}

/* The schedule's gates, then the driver's (its own, e.g. blocking pods):
 * the first that blocks says why; no answer from one blocks. */
static enum orch_gate all_gates(const struct orch_opts *o, const struct orch_driver *d, const struct plan *p,
				size_t wave, char *why, size_t len)
{
	enum orch_gate g = orch_gates_check(o->gates, p, wave, why, len);
	int rc;

	if (g == ORCH_GATE_BLOCKED || !d->gate)
		return g;
	if ((rc = d->gate(d->ctx, p, wave, why, len)) < 0) {
		snprintf(why, len, "no answer from the driver's gate (fails closed): %s", adp_error_last());
		adp_error_clear();
	}
	return rc ? ORCH_GATE_BLOCKED : g;
}

/* A wave skipped after the wave before made its shadows ahead
 * (preallocate_shadow): each is released as a rollback would, journaled
 * in "released" before it acts. They run before the wave's steps are
 * journaled skipped, so that a kill here gates the wave, and releases
 * (idempotent), again. 0, 1 when a release failed, or ADP_ENOMEM. */
static int release_ahead(struct journal *j, const struct orch_opts *o, const struct orch_driver *d,
			 const struct plan *p, size_t i)
{
	json_t *steps = json_object_get(j->root, "steps"), *released, *rec;
	size_t k, w = p->steps[i].wave;
	int rc, failed = 0;

	for (k = 0; k < i; k++) {
		struct adp_jb b = { 0 };
		struct plan_step s = p->steps[k];

		if (s.act != PLAN_PREALLOCATE_SHADOW || s.wave + 1 != w ||
		    strcmp(status_of(json_array_get(steps, k)), "done"))
			continue;
		s.act = PLAN_RELEASE_SHADOW;
		s.action = (char *)plan_actions[s.act].name;
		s.timeout = plan_actions[s.act].default_timeout;
		if (!(released = json_object_get(j->root, "released"))) {
			released = json_array();
			jset(&b, j->root, "released", released);
		}
		rec = step_json(&b, &s);
		jpush(&b, released, rec);
		if ((rc = journal_built(j, &b)))
			return rc;
		if ((rc = run_one(j, rec, d, p, &s, o, -1)) < 0)
			return rc;
		failed |= rc;
	}
	return failed;
}

/* Before the first step of the wave at steps[i]: the gates. Blocked: the
 * journal says by what and the apply stops there (1, *out
 * ORCH_BLOCKED). A wave none of whose partitions needs the update: its
 * steps are journaled "skipped", never acted nor undone (the shadows
 * the wave before made for it released first: 2 when one could not be,
 * for the caller to roll back). 0 goes on. */
static int gate_wave(struct journal *j, const struct orch_opts *o, const struct orch_driver *d, const struct plan *p,
		     size_t i, int *out)
{
	json_t *steps = json_object_get(j->root, "steps");
	size_t w = p->steps[i].wave, k;
	struct adp_jb b = { 0 };
	char why[1024];
	enum orch_gate g = all_gates(o, d, p, w, why, sizeof(why));
	int rc;

	if (g == ORCH_GATE_OPEN)
		return 0;
	if (g == ORCH_GATE_BLOCKED) {
		emit(o, SCHEDULE_EV_BLOCKED, json_pack("{s:I, s:s}", "wave", (json_int_t)w, "why", why));
		jset(&b, j->root, "blocked_by", json_string(why));
		if (journal_built(j, &b) || set_state(j, "stopped"))
			return ADP_ENOMEM;
		journal_save(j); /* a failure marks it lost, reported at the end */
		if (o->why && o->why_len)
			snprintf(o->why, o->why_len, "blocked before wave %zu: %s", w, why);
		*out = ORCH_BLOCKED;
		return 1;
	}
	emit(o, SCHEDULE_EV_WAVE, json_pack("{s:I, s:s, s:s}", "wave", (json_int_t)w, "phase", "skipped", "why", why));
	if ((rc = release_ahead(j, o, d, p, i))) {
		if (rc > 0 && o->why && o->why_len)
			snprintf(o->why, o->why_len, "wave %zu was skipped (%s) but a shadow made ahead for it could not be "
				 "released", w, why);
		return rc < 0 ? rc : 2;
	}
	for (k = i; k < p->nsteps && p->steps[k].wave == w; k++)
		set_status(&b, json_array_get(steps, k), "skipped", why);
	if (journal_built(j, &b))
		return ADP_ENOMEM;
	journal_save(j);
	return 0;
}

/* A wave event's detail: its number, phase and offline partitions. */
static json_t *wave_json(const struct plan *p, size_t wave, const char *phase)
{
	json_t *d = json_pack("{s:I, s:s}", "wave", (json_int_t)wave, "phase", phase), *off = json_array();
	size_t k;

	if (wave >= 1 && wave <= p->nwaves)
		for (k = 0; k < p->waves[wave - 1].noffline; k++)
			json_array_append_new(off, json_string(p->waves[wave - 1].offline[k]));
	if (json_object_set_new(d, "offline", off))
		json_decref(d), d = NULL;
	return d;
}

/* Going forward, before the first step acts: takes the fleet slot, or
 * keeps the journaled one (a --resume after a crash, within its lease),
 * and journals it. While none is free it waits no later than a start
 * the plan allows (its margin, at least a step) when no step has begun,
 * else until the cutoff. 0 to go on; 1 with *out ORCH_STOPPED when a
 * signal came first (nothing was changed); a negative ADP_E* when no
 * slot could be had (nothing was changed either). */
static int take_slot(struct journal *j, const struct orch_opts *o, const struct plan *p, int fresh, int *out)
{
	json_t *old = json_object_get(j->root, "slot"), *slot;
	const char *key = json_string_value(json_object_get(old, "key"));
	const char *lease_s = json_string_value(json_object_get(old, "lease"));
	int64_t lease = lease_s ? strtoll(lease_s, NULL, 10) : 0, got = 0, t = plan_time(o, j->t0);
	int64_t until = fresh ? orch_plan_start(p) + start_late(p) - 1 : p->cutoff_at;
	const char *got_key = NULL;
	struct adp_jb b = { 0 };
	char id[32];
	int rc;

	rc = o->slot->acquire(o->slot->ctx, lease, key, (double)(until > t ? until - t : 0), o->stop, &got, &got_key);
	if (rc == 1) {
		if ((rc = set_state(j, "stopped")))
			return rc;
		journal_save(j);
		if (o->why && o->why_len)
			snprintf(o->why, o->why_len, "stopped while waiting for a fleet slot of group '%.200s': nothing "
				 "was changed: --resume waits again, --rollback closes the journal", o->slot->group);
		*out = ORCH_STOPPED;
		return 1;
	}
	if (rc)
		return rc;
	snprintf(id, sizeof(id), "%lld", (long long)got);
	slot = json_object();
	jset(&b, slot, "group", json_string(o->slot->group));
	jset(&b, slot, "key", json_string(got_key));
	jset(&b, slot, "lease", json_string(id));
	jset(&b, slot, "taken_at", got == lease && json_object_get(old, "taken_at")
					   ? json_deep_copy(json_object_get(old, "taken_at"))
					   : json_integer(now_s()));
	if (b.failed)
		json_decref(slot);
	else
		jset(&b, j->root, "slot", slot);
	if ((rc = journal_built(j, &b))) {
		o->slot->release(o->slot->ctx); /* not journaled: not held either */
		return rc;
	}
	journal_save(j); /* a failure marks it lost: the first step then stops the apply */
	return 0;
}

/* At a step boundary going forward: whether the fleet slot was lost
 * (its lease expired, or etcd could not be reached to keep it alive).
 * Going on would take capacity down beyond what the fleet allows, so
 * apply stops there, journaled "stopped" (--resume takes a slot again).
 * 1 then, 0 while it is held, or ADP_ENOMEM. */
static int slot_lost(struct journal *j, const struct orch_opts *o)
{
	const char *key = json_string_value(json_object_get(json_object_get(j->root, "slot"), "key"));
	char why[512] = "", msg[1024];
	struct adp_jb b = { 0 };
	int rc;

	if (o->slot->healthy(o->slot->ctx, why, sizeof(why)))
		return 0;
	snprintf(msg, sizeof(msg), "the fleet slot '%.200s' of group '%.100s' was lost (%.400s): apply stopped at a "
		 "step boundary rather than go on without it: --resume takes a slot again, --rollback undoes",
		 key ? key : "", o->slot->group, why);
	if (o->why && o->why_len)
		snprintf(o->why, o->why_len, "%s", msg);
	jset(&b, j->root, "stopped_by", json_string(msg));
	if ((rc = journal_built(j, &b)) || (rc = set_state(j, "stopped")))
		return rc;
	journal_save(j); /* a failure marks it lost, reported at the end */
	return 1;
}

/* No slot could be had: a refusal, with nothing changed. A fresh apply
 * leaves no journal behind (as when refused before writing one), so the
 * next one starts afresh; a --resume keeps its journal, "stopped". */
static int slot_refused(struct journal *j, int have_journal, int *journaled)
{
	struct adp_error_state st;

	adp_error_save(&st, ADP_EINPUT);
	if (!have_journal) {
		unlink(j->path);
		*journaled = 0;
	} else if (!set_state(j, "stopped")) {
		journal_save(j);
	}
	return adp_error_restore(&st);
}

/* Whether no step of the journal has begun. */
static int nothing_started(json_t *steps)
{
	size_t i;

	for (i = 0; i < json_array_size(steps); i++)
		if (strcmp(status_of(json_array_get(steps, i)), "pending"))
			return 0;
	return 1;
}

int orch_apply(const struct orch_opts *o, const struct orch_driver *d, int *outcome)
{
	struct plan p = { 0 };
	struct journal j = { 0 };
	char jpath[4096];
	int lockfd = -1, hostfd = -1, rc, out = ORCH_REFUSED, have_journal, journaled = 0, slot_held = 0;
	int resumed = 0;
	int64_t wait;
	size_t gated = 0; /* the wave whose gates preflight checked */
	json_t *steps, *rec;
	size_t i;

	*outcome = ORCH_REFUSED;
	if (o->why && o->why_len)
		o->why[0] = '\0';
	orch_json_fault = o->json_fault;
	j.t0 = mono_s();
	j.o = o;
	if (mkdir(o->state_dir, 0700) && errno != EEXIST)
		return adp_error_set(ADP_ESYS, "cannot create state directory '%s': %s", o->state_dir,
				     strerror(errno));
	/* The host's lock first: two applies with other state directories
	 * would still drive this host's HAProxy, cgroups and processes. */
	if (o->host_lock && (rc = take_lock(o->host_lock, "this host's lock", &hostfd)))
		return rc;
	if ((rc = adp_snprintf_path(jpath, sizeof(jpath), "%s/lock", o->state_dir)) ||
	    (rc = take_lock(jpath, "the lock", &lockfd))) {
		if (hostfd >= 0)
			close(hostfd);
		return rc;
	}
	if ((rc = plan_read(&p, o->plan_path)))
		goto done;
	/* The request API, under the lock (no other apply of this state
	 * directory listens), for a run that may go forward. */
	if (o->request_socket && !o->rollback && (rc = requests_open(&j, d, &p, o)))
		goto done;
	snprintf(jpath, sizeof(jpath), "%s/journal.json", o->state_dir);
	j.path = jpath;
	have_journal = access(jpath, F_OK) == 0;
	if (have_journal) {
		json_error_t e;
		const char *st, *dg;

		if (!(j.root = json_load_file(jpath, 0, &e)) || !json_is_object(j.root)) {
			rc = adp_error_set(ADP_EINPUT, "journal '%s' line %d: %s", jpath, e.line, e.text);
			goto done;
		}
		st = json_string_value(json_object_get(j.root, "state"));
		dg = json_string_value(json_object_get(j.root, "digest"));
		if (json_integer_value(json_object_get(j.root, "format")) != ORCH_JOURNAL_FORMAT || !st ||
		    !dg || json_array_size(json_object_get(j.root, "steps")) != p.nsteps) {
			rc = adp_error_set(ADP_EINPUT, "journal '%s' is not a format %d journal of this plan",
					   jpath, ORCH_JOURNAL_FORMAT);
			goto done;
		}
		if (strcmp(dg, p.digest)) {
			rc = adp_error_set(ADP_EINPUT, "journal '%s' belongs to another plan (digest %.12s)",
					   jpath, dg);
			goto done;
		}
		if ((rc = journal_statuses(j.root, jpath)))
			goto done;
		if (!o->resume && !o->rollback && strcmp(st, "done") && strcmp(st, "rolled_back")) {
			rc = adp_error_set(ADP_EINPUT,
					   "an unfinished apply of this plan is journaled in '%s' (state %s): use --resume or --rollback",
					   jpath, st);
			goto done;
		}
		if (!o->resume && !o->rollback) {
			rc = adp_error_set(ADP_EINPUT, "this plan was already applied (state %s, journal '%s')",
					   st, jpath);
			goto done;
		}
		if (o->resume && (!strcmp(st, "forward") || !strcmp(st, "stopped"))) {
			/* Going forward again needs the reserve, as a fresh apply does. */
			if ((rc = make_reserve(o, &p))) {
				rc = adp_error_wrap(ADP_EINPUT, "no room in the state directory for apply's "
						    "reserve (free space there; --rollback goes on without it)");
				goto done;
			}
		} else if (make_reserve(o, &p)) {
			adp_error_clear(); /* a rollback goes on without it */
		}
	} else {
		if (o->resume || o->rollback) {
			rc = adp_error_set(ADP_EINPUT, "nothing to %s: no journal '%s'",
					   o->resume ? "resume" : "roll back", jpath);
			goto done;
		}
		/* A prerequisite that fails (even a system error) is a refusal: nothing changed yet. */
		if ((rc = orch_preflight(&p, o->now)) || (rc = start_refusal(o, &p, plan_time(o, j.t0), &wait)) ||
		    (rc = d->check(d->ctx, &p))) {
			rc = ADP_EINPUT;
			goto done;
		}
		/* Gates now, before anything is written, unless apply is to
		 * wait for the start: then at the first wave, after the wait. */
		if (!wait && p.nsteps && p.nwaves) {
			char why[1024];

			enum orch_gate g = all_gates(o, d, &p, p.steps[0].wave, why, sizeof(why));

			if (g == ORCH_GATE_BLOCKED) {
				emit(o, SCHEDULE_EV_BLOCKED, json_pack("{s:I, s:s}", "wave", (json_int_t)p.steps[0].wave,
								       "why", why));
				if (o->why && o->why_len)
					snprintf(o->why, o->why_len, "blocked before the first step: %s", why);
				*outcome = ORCH_BLOCKED;
				goto done;
			}
			if (g == ORCH_GATE_OPEN) /* a skip is journaled at the wave */
				gated = p.steps[0].wave;
		}
		if ((rc = make_reserve(o, &p))) {
			rc = adp_error_wrap(ADP_EINPUT, "no room in the state directory for apply's reserve (free "
					    "space there, or use another --state-dir)");
			goto done;
		}
		if ((rc = journal_new(&j, o, &p)) || (rc = journal_save(&j)))
			goto done;
	}
	journaled = 1;
	{
		const char *st = json_string_value(json_object_get(j.root, "state"));

		/* An incomplete rollback is retried from its first unfinished undo
		 * step: undo steps are idempotent, and the fault that stopped
		 * them (a full disk, an unreachable API) may be gone. */
		if (!strcmp(st, "failed") && (o->rollback || o->resume)) {
			if ((rc = set_state(&j, "rollback")))
				goto done;
			journal_save(&j); /* a failure marks it lost; the retry goes on */
			if ((rc = do_rollback(&j, o, d, &p, &out)))
				goto done;
			goto record;
		}
		if (!strcmp(st, "done") || !strcmp(st, "rolled_back") || !strcmp(st, "failed")) {
			if (o->rollback && !strcmp(st, "done")) {
				if ((rc = build_undo(&j, &p)) || (rc = do_rollback(&j, o, d, &p, &out)))
					goto done;
			} else {
				out = !strcmp(st, "done") ? ORCH_DONE : !strcmp(st, "failed") ? ORCH_FAILED
											  : ORCH_ROLLED_BACK;
			}
			goto record;
		}
		if (o->rollback && strcmp(st, "rollback"))
			if ((rc = build_undo(&j, &p)))
				goto done;
		if (o->rollback || !strcmp(st, "rollback")) {
			if ((rc = do_rollback(&j, o, d, &p, &out)))
				goto done;
			goto record;
		}
	}
	steps = json_object_get(j.root, "steps");
	if (nothing_started(steps) && (rc = wait_for_start(&j, o, &p, &out))) {
		if (rc < 0)
			goto done;
		goto record;
	}
	/* A journal whose run held a fleet slot goes on only holding one:
	 * without --semaphore this host would act unprotected beside the
	 * fleet's other holders. */
	if (!o->slot && json_is_object(json_object_get(j.root, "slot"))) {
		const char *g = json_string_value(json_object_get(json_object_get(j.root, "slot"), "group"));

		adp_error_set(ADP_EINPUT, "the journal's run held a fleet slot of group '%.200s': --resume goes on only "
			      "holding one (give --semaphore URL, as that run did), or --rollback undoes without one",
			      g ? g : "");
		rc = slot_refused(&j, have_journal, &journaled);
		goto done;
	}
	/* The fleet slot, held from here to the end. */
	if (o->slot && (rc = take_slot(&j, o, &p, nothing_started(steps), &out))) {
		if (rc == 1)
			goto record;
		if (rc != ADP_ENOMEM)
			rc = slot_refused(&j, have_journal, &journaled);
		goto done;
	}
	slot_held = o->slot != NULL;
	emit(o, SCHEDULE_EV_APPLY_STARTED,
	     json_pack("{s:s, s:b, s:I, s:I}", "plan", o->plan_path, "resume", o->resume, "steps", (json_int_t)p.nsteps,
		       "waves", (json_int_t)p.nwaves));
	if ((rc = set_state(&j, "forward")))
		goto done;
	/* A wave that was being given up when the run was killed: finished
	 * first, as its steps are not yet journaled skipped. */
	json_array_foreach(json_object_get(j.root, "given_up"), i, rec) {
		if (!strcmp(json_string_value(json_object_get(rec, "state")) ?: "", "done"))
			continue;
		if ((rc = give_up_wave(&j, o, d, &p, (size_t)json_integer_value(json_object_get(rec, "wave")), NULL, 0)) < 0)
			goto done;
		if (rc > 0) {
			if ((rc = build_undo(&j, &p)) || (rc = do_rollback(&j, o, d, &p, &out)))
				goto done;
			goto record;
		}
	}
	for (i = 0; i < p.nsteps; i++) {
		rec = json_array_get(steps, i);
		if (!strcmp(status_of(rec), "done") || !strcmp(status_of(rec), "skipped"))
			continue;
		if (o->stop && *o->stop) {
			if ((rc = set_state(&j, "stopped")))
				goto done;
			journal_save(&j); /* a failure marks it lost, reported at the end */
			out = ORCH_STOPPED;
			goto record;
		}
		/* A fleet slot lost: stop here rather than go on unprotected. */
		if (slot_held && (rc = slot_lost(&j, o))) {
			if (rc < 0)
				goto done;
			out = ORCH_STOPPED;
			goto record;
		}
		if ((i == 0 || p.steps[i - 1].wave != p.steps[i].wave) && p.steps[i].wave != gated &&
		    (rc = gate_wave(&j, o, d, &p, i, &out))) {
			if (rc < 0)
				goto done;
			if (rc == 2 && ((rc = build_undo(&j, &p)) || (rc = do_rollback(&j, o, d, &p, &out))))
				goto done;
			goto record;
		}
		gated = 0;
		if (!strcmp(status_of(rec), "skipped"))
			continue;
		if ((i == 0 || p.steps[i - 1].wave != p.steps[i].wave) && !strcmp(status_of(rec), "pending"))
			emit(o, SCHEDULE_EV_WAVE, wave_json(&p, p.steps[i].wave, "started"));
		/* Loans end with their wave, and before an instance in them
		 * stops or has its own limits restored; a resumed run gives back
		 * what the run before it lent (it borrows again if need be). */
		if ((i == 0 || p.steps[i - 1].wave != p.steps[i].wave || p.steps[i].act == PLAN_STOP_SHADOW ||
		     p.steps[i].act == PLAN_RESTORE_SIZE || (o->resume && !resumed)) &&
		    (rc = loans_settle(&j, d, &p, 0, o->resume && !resumed ? "resumed" : "its wave ends")))
			goto done;
		resumed = 1;
		/* A journal that cannot be written stops the forward run; what
		 * was done is reversed from the journal in memory. */
		if ((rc = run_one(&j, rec, d, &p, &p.steps[i], o, (long)i)) < 0 && (!j.lost || j.broken))
			goto done;
		if (rc == 0 && (rc = monitor(&j, o, d, &p, i, 0, plan_time(o, j.t0))) < 0)
			goto done;
		if (rc == 0 && (rc = requests_serve(&j, (long)i)) < 0)
			goto done;
		if (disk_filled(&j, o) && rc == 0)
			rc = 1;
		/* The act gave its wave up (ORCH_ACT_SKIP): the wave undone, then
		 * the next; a failed undo step rolls the whole run back. */
		if (rc == 3) {
			size_t w = p.steps[i].wave;

			if ((rc = loans_settle(&j, d, &p, 0, "its wave is given up")) ||
			    (rc = give_up_wave(&j, o, d, &p, w, json_string_value(json_object_get(rec, "message")),
					       p.steps[i].id)) < 0)
				goto done;
			if (rc == 0) {
				while (i + 1 < p.nsteps && p.steps[i + 1].wave == w)
					i++;
				continue;
			}
		}
		/* The driver stopped at this step (ORCH_ACT_STOP): resumable. */
		if (rc == 2) {
			if ((rc = set_state(&j, "stopped")))
				goto done;
			journal_save(&j); /* a failure marks it lost, reported at the end */
			if (o->why && o->why_len)
				snprintf(o->why, o->why_len, "stopped at step %zu (%s): %s: --resume repeats it, --rollback undoes",
					 p.steps[i].id, p.steps[i].action, json_string_value(json_object_get(rec, "message")));
			out = ORCH_STOPPED;
			goto record;
		}
		if (rc != 0) {
			if ((rc = build_undo(&j, &p)) || (rc = do_rollback(&j, o, d, &p, &out)))
				goto done;
			goto record;
		}
		if (i + 1 == p.nsteps || p.steps[i + 1].wave != p.steps[i].wave)
			emit(o, SCHEDULE_EV_WAVE, wave_json(&p, p.steps[i].wave, "done"));
		crash_hook(o, p.steps[i].id);
	}
	if (o->given_up)
		*o->given_up = json_array_size(json_object_get(j.root, "given_up"));
	if (o->skipped)
		for (i = 0, *o->skipped = 0; i < p.nsteps; i++)
			*o->skipped += !strcmp(status_of(json_array_get(steps, i)), "skipped") &&
				       !wave_given_up(&j, p.steps[i].wave);
	if (o->given_up_steps)
		for (i = 0, *o->given_up_steps = 0; i < p.nsteps; i++)
			*o->given_up_steps += wave_given_up(&j, p.steps[i].wave);
	if ((rc = set_state(&j, "done")))
		goto done;
	journal_save(&j); /* a failure marks it lost, reported at the end */
	out = ORCH_DONE;
	{
		char first[512];

		/* Done, but into the reserve's room: the next apply needs space. */
		if (adp_reserve_released(first, sizeof(first)) && o->why && o->why_len)
			snprintf(o->why, o->why_len,
				 "the disk under the state directory '%s' filled up (%s) after the last step acted: "
				 "free space there before the next apply", o->state_dir, first);
	}
record:
	if (j.lost) {
		journal_lost(o, &j, out);
		*outcome = ORCH_JOURNAL_LOST;
		rc = 0;
		goto done;
	}
	if ((rc = write_record(o, &j, out))) {
		/* The journal holds the outcome; say what it is, so that the
		 * failed record is not read as a failed apply. */
		static const char *const state[] = {
			"every step is done", "a step failed and the completed steps were rolled back",
			"a step failed and the rollback did not complete: --rollback retries it", "nothing was done",
			"apply stopped at a step boundary: --resume continues, --rollback undoes",
		};
		adp_error_wrap(rc, "%s (journal '%s'), but the run record could not be written", state[out],
			       j.path);
		journaled = 0; /* the journal holds the outcome: nothing to continue */
	} else {
		*outcome = out;
	}
done:
	if (slot_held) {
		struct adp_error_state st;

		adp_error_save(&st, rc);
		o->slot->release(o->slot->ctx);
		adp_error_restore(&st);
	}
	if (rc < 0 && journaled && !j.lost)
		rc = stopped_midway(&j, rc);
	requests_close(&j);
	orch_json_fault = NULL;
	json_decref(j.root);
	plan_release(&p);
	if (lockfd >= 0)
		close(lockfd);
	if (hostfd >= 0)
		close(hostfd);
	return rc;
}
