/* The engine against a recording driver: order, journal, rollback,
 * stop and resume, no-data monitoring, the lock. No cgroups needed. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "orchestrator/engine.h"
#include "plans/steps.h"
#include "tests/unit/engine_fixture.h"
#include "util/fault.h"

#define MAXCALLS 4096

struct fake {
	char *calls[MAXCALLS];
	size_t ncalls;
	const char *fail_action;  /* first call of this action fails */
	const char *fail_undo;    /* and the first call of this one (an undo step) */
	int no_data;              /* sample reports no data */
	volatile sig_atomic_t *stop;
	size_t stop_after;        /* set *stop after this many calls */
	const char *slow_action;  /* this action takes slow_ms unless cancelled */
	long slow_ms;
	int cancelled, in_slow, high_in_slow; /* high_in_slow: usage above p95 during it */
	int dead_in_slow;         /* probe: every shadow down during slow_action */
	size_t probes;
};

static int fake_probe(void *ctx, const struct plan *p, const char *component, size_t replica, const char *partition,
		      char *msg, size_t len)
{
	struct fake *f = ctx;

	(void)p;
	(void)component;
	(void)replica;
	(void)partition;
	__atomic_add_fetch(&f->probes, 1, __ATOMIC_SEQ_CST);
	if (f->dead_in_slow && __atomic_load_n(&f->in_slow, __ATOMIC_SEQ_CST)) {
		snprintf(msg, len, "its process is gone");
		return 1;
	}
	return 0;
}

static void fake_cancel(void *ctx)
{
	struct fake *f = ctx;

	__atomic_store_n(&f->cancelled, 1, __ATOMIC_SEQ_CST);
}

static int fake_check(void *ctx, const struct plan *p)
{
	(void)ctx;
	(void)p;
	return 0;
}

static int fake_act(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct fake *f = ctx;

	(void)p;
	cr_assert_lt(f->ncalls, MAXCALLS);
	f->calls[f->ncalls++] = strdup(s->action);
	if (f->stop && f->ncalls == f->stop_after)
		*f->stop = 1;
	if (f->slow_action && !strcmp(s->action, f->slow_action)) {
		long ms;
		__atomic_store_n(&f->cancelled, 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&f->in_slow, 1, __ATOMIC_SEQ_CST);
		for (ms = 0; ms < f->slow_ms && !__atomic_load_n(&f->cancelled, __ATOMIC_SEQ_CST); ms += 10)
			usleep(10000);
		__atomic_store_n(&f->in_slow, 0, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&f->cancelled, __ATOMIC_SEQ_CST)) {
			snprintf(msg, len, "cancelled after %ld ms", ms);
			return adp_error_set(ADP_ESYS, "cancelled");
		}
	}
	if (f->fail_undo && !strcmp(s->action, f->fail_undo)) {
		f->fail_undo = NULL;
		snprintf(msg, len, "injected undo failure");
		return adp_error_set(ADP_ESYS, "injected undo failure");
	}
	if (f->fail_action && !strcmp(s->action, f->fail_action)) {
		f->fail_action = NULL;
		snprintf(msg, len, "injected failure");
		return adp_error_set(ADP_ESYS, "injected failure");
	}
	return 0;
}

static int fake_sample(void *ctx, const struct plan *p, const struct plan_placement *x, double use[ADP_RES_COUNT],
		       int have[ADP_RES_COUNT])
{
	struct fake *f = ctx;

	(void)p;
	if (f->no_data)
		return 1;
	use[ADP_RES_MEMORY] = x->p50_peak[ADP_RES_MEMORY];
	if (f->high_in_slow && __atomic_load_n(&f->in_slow, __ATOMIC_SEQ_CST))
		use[ADP_RES_MEMORY] = 2 * x->p95_peak[ADP_RES_MEMORY] + 1;
	have[ADP_RES_MEMORY] = 1;
	return 0;
}

static void fake_free(struct fake *f)
{
	size_t i;

	for (i = 0; i < f->ncalls; i++)
		free(f->calls[i]);
	f->ncalls = 0;
}

static struct engine_fixture fx;

static void setup(void)
{
	engine_fixture_init(&fx);
}

static void teardown(void)
{
	engine_fixture_release(&fx);
}

static const orch_act_fn fake_ops[PLAN_ACTION_COUNT] = { [0 ... PLAN_ACTION_COUNT - 1] = fake_act };

static void opts(struct orch_opts *o, struct orch_driver *d, struct fake *f)
{
	*o = (struct orch_opts){ .plan_path = fx.plan_path, .state_dir = t_dir, .now = fx.start };
	*d = (struct orch_driver){ .ctx = f, .check = fake_check, .ops = fake_ops, .sample = fake_sample };
}

static json_t *journal(void)
{
	return engine_fixture_json(t_path("journal.json"));
}

/* The id of the first step of action. */
static size_t first_step(const char *action)
{
	size_t i;

	for (i = 0; i < fx.plan.nsteps; i++)
		if (!strcmp(fx.plan.steps[i].action, action))
			return fx.plan.steps[i].id;
	cr_assert_fail("no step %s", action);
	return 0;
}

/* Applies and asserts it was refused, saying needle, before any act. */
static void refused(const struct orch_opts *o, const struct orch_driver *d, const struct fake *f,
		    const char *needle)
{
	int out = -1;

	cr_assert_eq(orch_apply(o, d, &out), ADP_EINPUT, "%s", adp_error_last());
	cr_assert_eq(out, ORCH_REFUSED);
	t_assert_msg(needle);
	cr_assert_eq(f->ncalls, 0);
}

/* Applies and asserts it ran to the outcome want. */
static void apply_to(const struct orch_opts *o, const struct orch_driver *d, int want)
{
	int out = -1;

	cr_assert_eq(orch_apply(o, d, &out), 0, "%s", adp_error_last());
	cr_assert_eq(out, want, "outcome %d, expected %d", out, want);
}

/* The driver's calls are n steps of the plan from index first on. */
static void assert_calls(const struct fake *f, size_t first, size_t n)
{
	size_t i;

	cr_assert_eq(f->ncalls, n, "%zu calls, expected %zu", f->ncalls, n);
	for (i = 0; i < n; i++)
		cr_assert_str_eq(f->calls[i], fx.plan.steps[first + i].action, "call %zu", i);
}

/* The driver's first n calls are the plan's first n steps. */
static void assert_calls_prefix(const struct fake *f, size_t n)
{
	size_t i;

	cr_assert_geq(f->ncalls, n);
	for (i = 0; i < n; i++)
		cr_assert_str_eq(f->calls[i], fx.plan.steps[i].action, "call %zu", i);
}

/* The driver's calls from index from on are the inverses of the steps
 * upto .. 0 (0-based), last first, and nothing after them. */
static void assert_undone(const struct fake *f, size_t from, size_t upto)
{
	size_t i, k = from;

	for (i = upto + 1; i-- > 0;) {
		const struct plan_action_def *a = plan_action_find(fx.plan.steps[i].action);
		if (!a->inverse)
			continue;
		cr_assert_lt(k, f->ncalls);
		cr_assert_str_eq(f->calls[k], a->inverse, "undo of step %zu", i + 1);
		k++;
	}
	cr_assert_eq(f->ncalls, k, "%zu calls, expected %zu", f->ncalls, k);
}

/* The state of the journal on disk is state. */
static void assert_state(const char *state)
{
	json_t *j = journal();

	cr_assert_str_eq(json_string_value(json_object_get(j, "state")), state);
	json_decref(j);
}

/* --resume runs every step from index first on, in order, once. */
static void resumes_from(struct orch_opts *o, const struct orch_driver *d, struct fake *f, size_t first)
{
	o->resume = 1;
	apply_to(o, d, ORCH_DONE);
	assert_calls(f, first, fx.plan.nsteps - first);
	fake_free(f);
}

/* Runs until the driver's stop_after-th call, then stops: a journal with
 * steps done, the rest pending. */
static void stopped_journal(struct orch_opts *o, struct orch_driver *d, struct fake *f, size_t after)
{
	static volatile sig_atomic_t stop;

	opts(o, d, f);
	stop = 0;
	o->stop = &stop;
	f->stop = &stop;
	f->stop_after = after;
	apply_to(o, d, ORCH_STOPPED);
	assert_calls(f, 0, after);
	stop = 0;
	o->stop = NULL;
	f->stop = NULL;
	fake_free(f);
}

TestSuite(orch_engine, .init = setup, .fini = teardown);

Test(orch_engine, runs_every_step_in_plan_order)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;

	opts(&o, &d, &f);
	apply_to(&o, &d, ORCH_DONE);
	assert_calls(&f, 0, fx.plan.nsteps);
	assert_state("done");
	fake_free(&f);
	/* Applying the same plan again is refused. */
	refused(&o, &d, &f, "already applied");
}

Test(orch_engine, failure_reverses_completed_steps_last_first)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	size_t failed_at = first_step("verify_shadow") - 1;

	opts(&o, &d, &f);
	f.fail_action = "verify_shadow";
	apply_to(&o, &d, ORCH_ROLLED_BACK);
	/* Forward calls up to the failure, then the inverses in reverse. */
	assert_undone(&f, failed_at + 1, failed_at);
	fake_free(&f);
}

/* What the step hook was told, in order. */
struct step_event {
	size_t id;
	int undo;
	char status[16], action[40], msg[64];
	double seconds;
};
struct step_events {
	struct step_event ev[MAXCALLS];
	size_t n;
};

static void on_step(void *ctx, const struct plan_step *s, int undo, const char *status, double seconds, const char *msg)
{
	struct step_events *e = ctx;
	struct step_event *v;

	cr_assert_lt(e->n, MAXCALLS);
	v = &e->ev[e->n++];
	v->id = s->id;
	v->undo = undo;
	v->seconds = seconds;
	snprintf(v->status, sizeof(v->status), "%s", status);
	snprintf(v->action, sizeof(v->action), "%s", s->action);
	snprintf(v->msg, sizeof(v->msg), "%s", msg);
}

Test(orch_engine, step_hook_sees_each_step_start_and_end)
{
	static struct step_events e;
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	size_t i, failed = 0, nfailed = 0;

	opts(&o, &d, &f);
	o.step = on_step;
	o.step_ctx = &e;
	f.fail_action = "verify_shadow";
	apply_to(&o, &d, ORCH_ROLLED_BACK);
	/* A pair per act, forward then undoing: started, then how it ended. */
	cr_assert_eq(e.n, 2 * f.ncalls, "%zu events for %zu acts", e.n, f.ncalls);
	for (i = 0; i < e.n; i += 2) {
		cr_assert_str_eq(e.ev[i].status, "started");
		cr_assert_eq(e.ev[i].seconds, 0);
		cr_assert_str_eq(e.ev[i].action, f.calls[i / 2]);
		cr_assert_eq(e.ev[i + 1].id, e.ev[i].id);
		cr_assert_eq(e.ev[i + 1].undo, e.ev[i].undo);
		cr_assert(e.ev[i + 1].seconds >= 0);
		if (!strcmp(e.ev[i + 1].status, "failed")) {
			failed = i + 1;
			nfailed++;
		} else {
			cr_assert_str_eq(e.ev[i + 1].status, "done");
		}
	}
	cr_assert_eq(nfailed, 1);
	cr_assert_str_eq(e.ev[failed].action, "verify_shadow");
	cr_assert(strstr(e.ev[failed].msg, "injected failure"), "%s", e.ev[failed].msg);
	cr_assert_eq(e.ev[failed].id, first_step("verify_shadow"));
	/* Forward up to the failure, undoing after it. */
	for (i = 0; i < e.n; i++)
		cr_assert_eq(e.ev[i].undo, i > failed, "event %zu", i);
	cr_assert_gt(e.n, failed + 1, "nothing was undone");
	fake_free(&f);
}

Test(orch_engine, stop_then_resume_runs_each_step_once)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;

	stopped_journal(&o, &d, &f, 7);
	assert_state("stopped");
	/* Without --resume an unfinished journal is refused. */
	refused(&o, &d, &f, "use --resume or --rollback");
	resumes_from(&o, &d, &f, 7);
}

Test(orch_engine, no_data_fails_closed)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	json_t *j, *obs;

	opts(&o, &d, &f);
	f.no_data = 1;
	apply_to(&o, &d, ORCH_ROLLED_BACK);
	j = journal();
	obs = json_object_get(j, "observations");
	cr_assert_gt(json_array_size(obs), 0);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(obs, 0), "state")), "no_data");
	json_decref(j);
	fake_free(&f);
}

Test(orch_engine, lock_keeps_a_second_apply_out)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	int fd;

	opts(&o, &d, &f);
	fd = open(t_path("lock"), O_RDWR | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
	refused(&o, &d, &f, "another apply holds the lock");
	close(fd);
}

Test(orch_engine, refuses_expired_and_stale_plans)
{
	struct plan p = { 0 };

	cr_assert_eq(plan_read(&p, fx.plan_path), 0, "%s", adp_error_last());
	cr_assert_eq(orch_preflight(&p, fx.now), 0, "%s", adp_error_last());
	cr_assert_eq(orch_preflight(&p, p.expires_at), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "expired"));
	p.format_version = 99;
	cr_assert_eq(orch_preflight(&p, fx.now), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "format version 99"));
	p.format_version = PLAN_FORMAT_VERSION;
	p.inputs[0].sha256[0] = p.inputs[0].sha256[0] == '0' ? '1' : '0';
	cr_assert_eq(orch_preflight(&p, fx.now), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "stale plan"));
	plan_release(&p);
}

/* The forecast is for the plan's waves: not before the first one's
 * start, nor so late that the waves overrun the cutoff (the margin, at
 * least a step). */
Test(orch_engine, starts_neither_early_nor_too_late)
{
	struct plan p = { 0 };
	int64_t wait, late;

	cr_assert_eq(plan_read(&p, fx.plan_path), 0, "%s", adp_error_last());
	cr_assert_eq(orch_plan_start(&p), p.waves[0].start);
	cr_assert_eq(orch_start_check(&p, fx.start - 90, &wait), ADP_EINPUT);
	cr_assert_eq(wait, 90);
	cr_assert(strstr(adp_error_last(), "in 1m30s"), "%s", adp_error_last());
	cr_assert_eq(orch_start_check(&p, fx.start, &wait), 0, "%s", adp_error_last());
	cr_assert_eq(wait, 0);
	late = p.margin > p.step ? p.margin : p.step;
	cr_assert_eq(orch_start_check(&p, fx.start + late - 1, &wait), 0, "%s", adp_error_last());
	cr_assert_eq(orch_start_check(&p, fx.start + late, &wait), ADP_EINPUT);
	cr_assert_eq(wait, 0);
	cr_assert(strstr(adp_error_last(), "overrun the cutoff"), "%s", adp_error_last());
	/* A wider margin allows a later start. */
	p.margin = 3 * p.step;
	cr_assert_eq(orch_start_check(&p, fx.start + 2 * p.step, &wait), 0, "%s", adp_error_last());
	plan_release(&p);
}

/* A fresh apply before the start is refused with nothing journaled;
 * with wait_max, it waits (journaled "waiting") and then applies. */
Test(orch_engine, refuses_before_the_start_and_waits_with_wait_max)
{
	struct orch_driver d;
	struct fake f = { 0 };
	struct orch_opts o;
	int outcome = -1;
	json_t *j;

	opts(&o, &d, &f);
	o.now = fx.start - 1;
	refused(&o, &d, &f, "the plan starts at");
	cr_assert_neq(access(t_path("journal.json"), F_OK), 0, "a refused apply journaled");
	o.wait_max = 1;
	cr_assert_eq(orch_apply(&o, &d, &outcome), 0, "%s", adp_error_last());
	cr_assert_eq(outcome, ORCH_DONE);
	j = journal();
	cr_assert_str_eq(json_string_value(json_object_get(j, "state")), "done");
	cr_assert_not_null(json_object_get(j, "waiting_until"));
	json_decref(j);
	fake_free(&f);
}

/* Gates: a firing alert or one without an answer blocks before the
 * first step with nothing journaled; a wave no partition of needs the
 * update (no sentinel file) is journaled skipped and never acted. */
Test(orch_engine, gates_block_before_anything_and_skip_unneeded_waves)
{
	struct schedule_gates g = { 0 };
	struct orch_driver d;
	struct fake f = { 0 };
	struct orch_opts o;
	size_t skipped = 0, i;
	int outcome = -1;
	char why[512];
	json_t *j;

	opts(&o, &d, &f);
	o.gates = &g;
	o.why = why;
	o.why_len = sizeof(why);
	g.alerts.url = "http://127.0.0.1:1"; /* nothing listens: no answer */
	g.alerts.timeout = 2;
	cr_assert_eq(orch_apply(&o, &d, &outcome), 0, "%s", adp_error_last());
	cr_assert_eq(outcome, ORCH_BLOCKED);
	cr_assert(strstr(why, "no answer from the alert gate (fails closed)"), "%s", why);
	cr_assert_eq(f.ncalls, 0);
	cr_assert_neq(access(t_path("journal.json"), F_OK), 0, "a blocked apply journaled");

	g.alerts.url = NULL;
	g.sentinel.file = (char *)t_path("needs-{partition}"); /* none exists */
	o.skipped = &skipped;
	apply_to(&o, &d, ORCH_DONE);
	cr_assert_eq(f.ncalls, 0, "a skipped wave acted");
	cr_assert_eq(skipped, fx.plan.nsteps);
	j = journal();
	for (i = 0; i < fx.plan.nsteps; i++)
		cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "steps"), i),
								   "status")), "skipped");
	json_decref(j);
	g.sentinel.file = NULL;
	fake_free(&f);
}

/* Rewrites the plan with the timeout of every step of action set to t. */
static size_t set_timeout(const char *action, int64_t t)
{
	struct plan p = { 0 };
	size_t i;

	cr_assert_eq(plan_read(&p, fx.plan_path), 0, "%s", adp_error_last());
	for (i = 0; i < p.nsteps; i++)
		if (!strcmp(p.steps[i].action, action))
			p.steps[i].timeout = t;
	cr_assert_eq(plan_write(&p, fx.plan_path), 0, "%s", adp_error_last());
	plan_release(&p);
	return first_step(action);
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(orch_engine, step_timeout_cancels_and_rolls_back)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	int out = -1;
	size_t id = set_timeout("run_update", 1);
	double t0;
	json_t *j, *rec;

	opts(&o, &d, &f);
	d.cancel = fake_cancel;
	f.slow_action = "run_update";
	f.slow_ms = 20000;
	t0 = mono();
	cr_assert_eq(orch_apply(&o, &d, &out), 0, "%s", adp_error_last());
	/* Cancelled at its 1 s deadline, not after the act's 20 s. */
	cr_assert_lt(mono() - t0, 5.0);
	cr_assert_eq(out, ORCH_ROLLED_BACK);
	j = journal();
	rec = json_array_get(json_object_get(j, "steps"), id - 1);
	cr_assert_str_eq(json_string_value(json_object_get(rec, "status")), "failed");
	cr_assert(json_is_true(json_object_get(rec, "timed_out")));
	cr_assert(strstr(json_string_value(json_object_get(rec, "message")), "timed out after 1 s: cancelled (after: cancelled after"),
		  "%s", json_string_value(json_object_get(rec, "message")));
	cr_assert_str_eq(json_string_value(json_object_get(j, "state")), "rolled_back");
	json_decref(j);
	fake_free(&f);
}

Test(orch_engine, step_timeout_without_cancel_still_fails)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	size_t id = set_timeout("verify_partition", 1);
	json_t *j, *rec;

	opts(&o, &d, &f);
	f.slow_action = "verify_partition";
	f.slow_ms = 1600;
	apply_to(&o, &d, ORCH_ROLLED_BACK);
	j = journal();
	rec = json_array_get(json_object_get(j, "steps"), id - 1);
	cr_assert(json_is_true(json_object_get(rec, "timed_out")));
	/* The act ran to its end (no cancel): the engine waited for it. */
	cr_assert_geq(json_real_value(json_object_get(rec, "act_seconds")), 1.5);
	json_decref(j);
	fake_free(&f);
}

/* The first observation made during a step, or NULL. */
static json_t *during(json_t *j)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(j, "observations"), i, e)
		if (json_object_get(e, "during_step"))
			return e;
	return NULL;
}

/* Monitoring on a timer under policy during a run_update that takes
 * slow_ms (cancellable with cancel set); returns run_update's step id. */
static size_t monitored(struct orch_opts *o, struct orch_driver *d, struct fake *f, int policy, long slow_ms,
			int cancel)
{
	opts(o, d, f);
	d->sample_during_act = 1;
	d->cancel = cancel ? fake_cancel : NULL;
	o->policy = policy;
	o->monitor_interval = 0.2;
	f->slow_action = "run_update";
	f->slow_ms = slow_ms;
	return first_step("run_update");
}

Test(orch_engine, monitoring_during_a_step_stops_the_wave)
{
	struct fake f = { .high_in_slow = 1 };
	struct orch_opts o;
	struct orch_driver d;
	size_t id = monitored(&o, &d, &f, ORCH_POLICY_ROLLBACK, 20000, 1);
	json_t *j, *e, *rec;

	apply_to(&o, &d, ORCH_ROLLED_BACK);
	j = journal();
	e = during(j);
	cr_assert_not_null(e, "no observation during a step");
	cr_assert_eq(json_integer_value(json_object_get(e, "during_step")), (json_int_t)id);
	cr_assert_str_eq(json_string_value(json_object_get(e, "decision")), "rollback");
	cr_assert_gt(json_real_value(json_object_get(e, "actual")), json_real_value(json_object_get(e, "predicted_p95")));
	rec = json_array_get(json_object_get(j, "steps"), id - 1);
	cr_assert(strstr(json_string_value(json_object_get(rec, "message")), "stopped by monitoring"));
	json_decref(j);
	fake_free(&f);
}

/* A shadow that dies during the update is found by the probe and the
 * wave rolls back even under the warn policy: never a success. */
Test(orch_engine, dead_shadow_during_a_step_rolls_back)
{
	struct fake f = { .dead_in_slow = 1 };
	struct orch_opts o;
	struct orch_driver d;
	size_t k, down = 0, id = monitored(&o, &d, &f, ORCH_POLICY_WARN, 20000, 1);
	json_t *j, *obs;

	d.probe = fake_probe;
	apply_to(&o, &d, ORCH_ROLLED_BACK);
	cr_assert_gt(f.probes, 0);
	j = journal();
	obs = json_object_get(j, "observations");
	for (k = 0; k < json_array_size(obs); k++) {
		json_t *e = json_array_get(obs, k);
		if (!strcmp(json_string_value(json_object_get(e, "state")) ?: "", "down")) {
			down++;
			cr_assert_eq(json_integer_value(json_object_get(e, "during_step")), (json_int_t)id);
			cr_assert_str_eq(json_string_value(json_object_get(e, "role")), "shadow");
			cr_assert_str_eq(json_string_value(json_object_get(e, "decision")), "rollback");
		}
	}
	cr_assert_eq(down, 1, "one down observation stops the wave");
	json_decref(j);
	fake_free(&f);
}

Test(orch_engine, monitoring_during_a_step_warns_and_goes_on)
{
	struct fake f = { .high_in_slow = 1 };
	struct orch_opts o;
	struct orch_driver d;
	json_t *j, *e;
	const struct plan_placement *x = NULL;
	size_t w, k;
	long row;

	monitored(&o, &d, &f, ORCH_POLICY_WARN, 700, 0);
	apply_to(&o, &d, ORCH_DONE);
	j = journal();
	e = during(j);
	cr_assert_not_null(e);
	cr_assert_str_eq(json_string_value(json_object_get(e, "decision")), "warn");
	/* The band of the current time step (the plan's per-step p95), not the peak. */
	row = (long)json_integer_value(json_object_get(e, "band_step"));
	for (w = 0; w < fx.plan.nwaves && !x; w++)
		for (k = 0; k < fx.plan.waves[w].nplacements; k++)
			if (!strcmp(fx.plan.waves[w].placements[k].component,
				    json_string_value(json_object_get(e, "component"))) &&
			    fx.plan.waves[w].placements[k].from &&
			    fx.plan.waves[w].placements[k].replica ==
				    (size_t)json_integer_value(json_object_get(e, "replica")))
				x = &fx.plan.waves[w].placements[k];
	cr_assert_not_null(x);
	cr_assert_gt(x->nband, 0);
	cr_assert_geq(row, 0);
	cr_assert_lt(row, (long)x->nband);
	cr_assert_float_eq(json_real_value(json_object_get(e, "predicted_p95")),
			   x->band_p95[(size_t)row * ADP_RES_COUNT + ADP_RES_MEMORY], 1e-6 * (1 + x->p95_peak[ADP_RES_MEMORY]));
	json_decref(j);
	fake_free(&f);
}

/* The placements' per-step forecast band survives the plan file, and a
 * malformed one is refused with its path. */
Test(orch_engine, plan_band_round_trip)
{
	struct plan p = { 0 };
	size_t w, k, n = 0;
	char *text, *at;
	long len;

	cr_assert_eq(plan_read(&p, fx.plan_path), 0, "%s", adp_error_last());
	cr_assert_eq(p.nwaves, fx.plan.nwaves);
	for (w = 0; w < p.nwaves; w++)
		for (k = 0; k < p.waves[w].nplacements; k++) {
			const struct plan_placement *a = &fx.plan.waves[w].placements[k], *b = &p.waves[w].placements[k];

			cr_assert_eq(b->nband, a->nband);
			cr_assert_eq(b->band_start, a->band_start);
			if (!a->nband)
				continue;
			n++;
			cr_assert_float_eq(b->band_p95[(a->nband - 1) * ADP_RES_COUNT + ADP_RES_CPU],
					   a->band_p95[(a->nband - 1) * ADP_RES_COUNT + ADP_RES_CPU],
					   1e-5 * (1 + a->band_p95[(a->nband - 1) * ADP_RES_COUNT + ADP_RES_CPU]));
			/* The peak is the band's maximum. */
			cr_assert_leq(b->band_p95[ADP_RES_MEMORY], b->p95_peak[ADP_RES_MEMORY] * (1 + 1e-5));
		}
	cr_assert_gt(n, 0);
	plan_release(&p);
	/* A band whose cpu row is shorter than memory's. */
	text = engine_fixture_read(fx.plan_path, &len);
	at = strstr(text, "\"band\"");
	cr_assert_not_null(at);
	at = strstr(at, "\"cpu\": [");
	cr_assert_not_null(at);
	at += strlen("\"cpu\": [");
	/* Drop the first element: "x, " */
	{
		char *comma = strchr(at, ',');
		cr_assert_not_null(comma);
		memmove(at, comma + 1, strlen(comma + 1) + 1);
	}
	engine_fixture_write(t_path("bad.json"), text, (long)strlen(text));
	free(text);
	cr_assert_eq(plan_read(&p, t_path("bad.json")), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), ".band.p50.memory: expected an array of the band's 1..100000 numbers"),
		  "%s", adp_error_last());
}

static void save_journal(json_t *j)
{
	cr_assert_eq(json_dump_file(j, t_path("journal.json"), JSON_INDENT(1)), 0);
	json_decref(j);
}

/* A step status the engine never writes is refused, not taken for
 * "not done" (and the step repeated or skipped). */
Test(orch_engine, unknown_step_status_is_refused)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	json_t *j;

	stopped_journal(&o, &d, &f, 5);
	fake_free(&f);
	j = journal();
	json_object_set_new(json_array_get(json_object_get(j, "steps"), 2), "status", json_string("finished"));
	save_journal(j);
	o.resume = 1;
	refused(&o, &d, &f, "steps[2]: status 'finished' is not one of pending, started, done, failed");
}

Test(orch_engine, torn_journal_is_refused_untouched)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	char path[512], *text, *back;
	long len, torn;

	stopped_journal(&o, &d, &f, 5);
	snprintf(path, sizeof(path), "%s", t_path("journal.json"));
	text = engine_fixture_read(path, &len);
	/* Half a journal, as a write torn by a crash would leave it without
	 * the atomic rename: refused, and left as it is for an operator. */
	engine_fixture_write(path, text, len / 2);
	o.resume = 1;
	refused(&o, &d, &f, "journal '");
	t_assert_msg("line ");
	back = engine_fixture_read(path, &torn);
	cr_assert_eq(torn, len / 2);
	free(back);
	/* The whole journal back, beside the remains of an interrupted atomic
	 * write (its temporary file): the resume reads the journal only. */
	engine_fixture_write(path, text, len);
	engine_fixture_write(t_path("journal.json.tmp.AbC123"), text, len / 3);
	free(text);
	resumes_from(&o, &d, &f, 5);
}

Test(orch_engine, replay_repeats_the_started_step_only)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	json_t *j, *rec;

	stopped_journal(&o, &d, &f, 9);
	/* A crash during step 9's action: journaled started, not done. */
	j = journal();
	rec = json_array_get(json_object_get(j, "steps"), 8);
	cr_assert_str_eq(json_string_value(json_object_get(rec, "status")), "done");
	json_object_set_new(rec, "status", json_string("started"));
	json_object_set_new(j, "state", json_string("forward"));
	save_journal(j);
	resumes_from(&o, &d, &f, 8);
}

Test(orch_engine, replay_of_a_rollback_skips_undone_entries)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	json_t *j, *undo;
	size_t n;

	stopped_journal(&o, &d, &f, 8);
	o.rollback = 1;
	apply_to(&o, &d, ORCH_ROLLED_BACK);
	n = f.ncalls;
	cr_assert_gt(n, 2);
	fake_free(&f);
	/* As if killed after the first two undo entries: the rest run once. */
	j = journal();
	undo = json_object_get(j, "undo");
	cr_assert_eq(json_array_size(undo), n);
	for (size_t i = 2; i < n; i++)
		json_object_set_new(json_array_get(undo, i), "status", json_string("pending"));
	json_object_set_new(j, "state", json_string("rollback"));
	save_journal(j);
	o.rollback = 0;
	o.resume = 1;
	apply_to(&o, &d, ORCH_ROLLED_BACK);
	cr_assert_eq(f.ncalls, n - 2);
	j = journal();
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "undo"), 2), "action")),
			 f.calls[0]);
	json_decref(j);
	fake_free(&f);
}

Test(orch_engine, journal_of_another_plan_is_refused)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	json_t *j;

	stopped_journal(&o, &d, &f, 3);
	j = journal();
	json_object_set_new(j, "digest", json_string("00000000000000000000000000000000000000000000000000000000000000ff"));
	save_journal(j);
	o.resume = 1;
	refused(&o, &d, &f, "belongs to another plan");
}

static size_t count_calls(const struct fake *f, const char *action)
{
	size_t i, n = 0;

	for (i = 0; i < f->ncalls; i++)
		n += !strcmp(f->calls[i], action);
	return n;
}

/* A rollback that failed (exit 5) is not a dead end: --rollback, and
 * --resume, retry the undo steps that did not finish, and only those. */
static void retry_failed_rollback(int resume)
{
	struct orch_opts o;
	struct orch_driver d;
	struct fake f = { .fail_action = "run_update", .fail_undo = "start_original" };
	int outcome = -1;
	size_t undone;

	opts(&o, &d, &f);
	apply_to(&o, &d, ORCH_FAILED);
	undone = f.ncalls;
	cr_assert_geq(count_calls(&f, "start_original"), 1);
	fake_free(&f);
	/* The fault is gone now (fail_undo was consumed). */
	if (resume)
		o.resume = 1;
	else
		o.rollback = 1;
	cr_assert_eq(orch_apply(&o, &d, &outcome), 0, "%s", adp_error_last());
	cr_assert_eq(outcome, ORCH_ROLLED_BACK, "outcome %d", outcome);
	cr_assert_eq(f.ncalls, 1, "only the failed undo step runs again, not %zu calls (first run %zu)", f.ncalls,
		     undone);
	cr_assert_str_eq(f.calls[0], "start_original");
	fake_free(&f);
	/* Finished: a further --rollback has nothing left to do. */
	apply_to(&o, &d, ORCH_ROLLED_BACK);
	cr_assert_eq(f.ncalls, 0);
}

Test(orch_engine, failed_rollback_is_retried_by_rollback)
{
	retry_failed_rollback(0);
}

Test(orch_engine, failed_rollback_is_retried_by_resume)
{
	retry_failed_rollback(1);
}

/* A full disk under the state directory from the 6th step on: apply
 * never acts on a step it could not journal, reverses the five steps it
 * did from the journal in memory, says so, and --rollback records the
 * rollback once the disk has room again. */
Test(orch_engine, journal_write_failure_stops_and_reverses)
{
	struct orch_opts o;
	struct orch_driver d;
	struct fake f = { 0 };
	size_t forward = 5;

	opts(&o, &d, &f);
	/* Writes: the new journal, then started and done per step. */
	adp_fault_arm(ADP_FAULT_WRITE, 1 + 2 * (long)forward + 1, -1);
	apply_to(&o, &d, ORCH_JOURNAL_LOST);
	cr_assert(strstr(adp_error_last(), "No space left on device"), "%s", adp_error_last());
	cr_assert(strstr(adp_error_last(), "rolled back what it had done"), "%s", adp_error_last());
	cr_assert(strstr(adp_error_last(), "--rollback"), "%s", adp_error_last());
	/* The first five steps ran forward; the sixth never did. */
	assert_calls_prefix(&f, forward);
	/* Then the inverses of the started steps, the sixth (not acted,
	 * but marked started in memory) first, each once, last first. */
	assert_undone(&f, forward, forward);
	/* The journal on disk is behind: five steps done, still forward. */
	assert_state("forward");
	fake_free(&f);
	/* Room again: --rollback repeats the (idempotent) undo and records it. */
	adp_fault_arm(ADP_FAULT_WRITE, 0, 0);
	o.rollback = 1;
	apply_to(&o, &d, ORCH_ROLLED_BACK);
	assert_state("rolled_back");
	fake_free(&f);
}

/* The disk fills up under the 6th step's "started" write, once: the
 * write releases the reserve and lands in its room; apply acts on that
 * step (journaled), then stops, rolls back, records the rollback and
 * says why. Nothing runs forward after it. */
Test(orch_engine, full_disk_uses_the_reserve_and_rolls_back)
{
	struct orch_opts o;
	struct orch_driver d;
	struct fake f = { 0 };
	char why[1024] = "stale";
	struct stat st;
	json_t *j;
	size_t forward = 5;

	opts(&o, &d, &f);
	o.why = why;
	o.why_len = sizeof(why);
	adp_fault_arm(ADP_FAULT_WRITE, 1 + 2 * (long)forward + 1, 1);
	apply_to(&o, &d, ORCH_ROLLED_BACK);
	adp_fault_arm(ADP_FAULT_WRITE, 0, 0);
	cr_assert(strstr(why, "filled up (cannot write") && strstr(why, "No space left on device") &&
		  strstr(why, "rolled back"), "%s", why);
	assert_calls_prefix(&f, forward + 1);
	assert_undone(&f, forward + 1, forward);
	assert_state("rolled_back");
	j = journal();
	cr_assert_str_eq(json_string_value(json_object_get(j, "stopped_by")), why);
	json_decref(j);
	cr_assert_neq(stat(t_path("reserve"), &st), 0, "the reserve was used");
	fake_free(&f);
}

/* The disk fills up at the last write (state done), once: every step is
 * done and recorded in the reserve's room, with a warning that says so. */
Test(orch_engine, full_disk_after_the_last_step_warns)
{
	struct orch_opts o;
	struct orch_driver d;
	struct fake f = { 0 };
	char why[1024] = "";

	opts(&o, &d, &f);
	o.why = why;
	o.why_len = sizeof(why);
	adp_fault_arm(ADP_FAULT_WRITE, 1 + 2 * (long)fx.plan.nsteps + 1, 1);
	apply_to(&o, &d, ORCH_DONE);
	adp_fault_arm(ADP_FAULT_WRITE, 0, 0);
	cr_assert(strstr(why, "filled up (cannot write") && strstr(why, "after the last step"), "%s", why);
	assert_state("done");
	cr_assert_eq(f.ncalls, fx.plan.nsteps);
	fake_free(&f);
}

/* No room for the reserve: a fresh apply is refused before anything;
 * --rollback goes on without it. */
Test(orch_engine, no_room_for_the_reserve_refuses)
{
	struct orch_opts o;
	struct orch_driver d;
	struct fake f = { 0 };
	struct stat st;

	opts(&o, &d, &f);
	/* The reserve's fsync is the apply's first. */
	adp_fault_arm(ADP_FAULT_FSYNC, 1, 1);
	refused(&o, &d, &f, "no room in the state directory for apply's reserve");
	t_assert_msg("No space left on device");
	cr_assert_neq(stat(t_path("journal.json"), &st), 0);
	cr_assert_neq(stat(t_path("reserve"), &st), 0, "no reserve left half-made");
	adp_fault_arm(ADP_FAULT_FSYNC, 0, 0);
	apply_to(&o, &d, ORCH_DONE);
	cr_assert_eq(stat(t_path("reserve"), &st), 0);
	cr_assert_geq(st.st_blocks * 512, ORCH_RESERVE_BASE);
	fake_free(&f);
}

/* A journal that fails for good in the middle of a rollback does not
 * stop the rollback: every undo step still runs. */
Test(orch_engine, journal_write_failure_during_rollback_goes_on)
{
	struct orch_opts o;
	struct orch_driver d;
	struct fake f = { .fail_action = "run_update" };
	struct fake ref = { .fail_action = "run_update" };
	size_t i;

	opts(&o, &d, &ref);
	apply_to(&o, &d, ORCH_ROLLED_BACK);
	teardown();
	setup();
	opts(&o, &d, &f);
	/* Fails every write from the one after run_update's failure on. */
	for (i = 0; i < fx.plan.nsteps && strcmp(fx.plan.steps[i].action, "run_update"); i++)
		;
	adp_fault_arm(ADP_FAULT_WRITE, 1 + 2 * (long)(i + 1) + 1, -1);
	apply_to(&o, &d, ORCH_JOURNAL_LOST);
	cr_assert(strstr(adp_error_last(), "rolled back"), "%s", adp_error_last());
	cr_assert_eq(f.ncalls, ref.ncalls, "%zu calls with a lost journal, %zu without", f.ncalls, ref.ncalls);
	for (i = 0; i < ref.ncalls; i++)
		cr_assert_str_eq(f.calls[i], ref.calls[i], "call %zu", i);
	fake_free(&f);
	fake_free(&ref);
}

/* The last write (state done) fails: every step is done; --resume
 * records it. */
Test(orch_engine, journal_write_failure_after_the_last_step)
{
	struct orch_opts o;
	struct orch_driver d;
	struct fake f = { 0 };

	opts(&o, &d, &f);
	adp_fault_arm(ADP_FAULT_WRITE, 1 + 2 * (long)fx.plan.nsteps + 1, -1);
	apply_to(&o, &d, ORCH_JOURNAL_LOST);
	cr_assert(strstr(adp_error_last(), "every step is done"), "%s", adp_error_last());
	cr_assert_eq(f.ncalls, fx.plan.nsteps);
	fake_free(&f);
	adp_fault_arm(ADP_FAULT_WRITE, 0, 0);
	o.resume = 1;
	apply_to(&o, &d, ORCH_DONE);
	cr_assert_eq(f.ncalls, 0);
}

/* A symlink planted as the lock is refused, and its target untouched. */
Test(orch_engine, lock_is_never_a_symlink)
{
	struct orch_opts o;
	struct orch_driver d;
	struct fake f = { 0 };
	char victim[512], lock[512], *text;
	long len;

	opts(&o, &d, &f);
	snprintf(victim, sizeof(victim), "%s", t_path("victim"));
	snprintf(lock, sizeof(lock), "%s", t_path("st/lock"));
	engine_fixture_write(victim, "precious\n", 9);
	o.state_dir = strdup(lock);
	*strrchr((char *)o.state_dir, '/') = '\0';
	cr_assert_eq(mkdir(o.state_dir, 0700), 0);
	cr_assert_eq(symlink(victim, lock), 0);
	refused(&o, &d, &f, "symbolic link");
	text = engine_fixture_read(victim, &len);
	cr_assert_str_eq(text, "precious\n");
	free(text);
	free((char *)o.state_dir);
}

/* Whether a journal (or run record) on disk holds only whole records:
 * every field the engine writes with each step status. */
static void assert_whole(json_t *j)
{
	static const char *const top[] = { "format", "plan", "digest", "started_at", "state" };
	static const char *const started[] = { "id", "action", "status", "start", "start_ms" };
	static const char *const ended[] = { "end", "end_ms", "seconds", "act_seconds", "engine_us", "journal_us" };
	static const char *const lists[] = { "steps", "undo" };
	size_t l, i, k;
	json_t *rec;

	for (k = 0; k < sizeof(top) / sizeof(*top); k++)
		cr_assert_not_null(json_object_get(j, top[k]), "no %s", top[k]);
	cr_assert_eq(json_array_size(json_object_get(j, "steps")), fx.plan.nsteps);
	for (l = 0; l < 2; l++)
		json_array_foreach(json_object_get(j, lists[l]), i, rec) {
			const char *st = json_string_value(json_object_get(rec, "status"));

			cr_assert_not_null(st, "%s[%zu] has no status", lists[l], i);
			for (k = 0; k < (strcmp(st, "pending") ? 5u : 3u); k++)
				cr_assert_not_null(json_object_get(rec, started[k]), "%s[%zu] (%s) lacks %s", lists[l], i,
						   st, started[k]);
			for (k = 0; !strcmp(st, "done") && k < sizeof(ended) / sizeof(*ended); k++)
				cr_assert_not_null(json_object_get(rec, ended[k]), "%s[%zu] (%s) lacks %s", lists[l], i,
						   st, ended[k]);
		}
}

/* The Nth JSON-building call of an apply fails, for N across the whole
 * run (the new journal, step records, the undo list, the state, the run
 * record): the apply ends with ADP_ENOMEM and its message, the journal
 * on disk is absent or whole, no run record is written, and --resume
 * goes on from the journal as after a crash. */
static void build_failures(const char *fail_action, int want)
{
	struct orch_opts o;
	struct orch_driver d;
	struct fake f = { .fail_action = fail_action };
	char jpath[512], rpath[512], msg[ADP_ERROR_MAX];
	long left = LONG_MAX, total, at, k;
	int out = -1;
	json_t *j;

	snprintf(jpath, sizeof(jpath), "%s/journal.json", t_dir);
	snprintf(rpath, sizeof(rpath), "%s/run.json", t_dir);
	opts(&o, &d, &f);
	o.json_fault = &left;
	cr_assert_eq(orch_apply(&o, &d, &out), 0, "%s", adp_error_last());
	cr_assert_eq(out, want);
	total = LONG_MAX - left;
	cr_assert_gt(total, (long)fx.plan.nsteps * 8, "%ld calls", total);
	fake_free(&f);
	/* The first call, three across the run, and the run record's two
	 * (each point is a whole apply and its resume: a few seconds). */
	for (k = 0; k <= 5; k++) {
		at = k == 0 ? 1 : k <= 3 ? total * k / 4 : total - 5 + k;
		unlink(jpath);
		unlink(rpath);
		f.fail_action = fail_action;
		left = at;
		cr_assert_eq(orch_apply(&o, &d, &out), ADP_ENOMEM, "call %ld of %ld: outcome %d", at, total, out);
		t_assert_msg("out of memory building the ");
		snprintf(msg, sizeof(msg), "%s", adp_error_last());
		cr_assert_eq(access(rpath, F_OK), -1, "call %ld: a run record was written", at);
		fake_free(&f);
		if (access(jpath, F_OK)) {
			cr_assert_lt(at, 5 + 8 * (long)fx.plan.nsteps, "call %ld: no journal", at);
			continue;
		}
		/* With a journal on disk, the message says where that left things. */
		cr_assert(strstr(msg, "--resume") || strstr(msg, "--rollback") ||
			  strstr(msg, "but the run record could not be written"), "call %ld: %s", at, msg);
		j = journal();
		assert_whole(j);
		json_decref(j);
		o.json_fault = NULL;
		o.resume = 1;
		cr_assert_eq(orch_apply(&o, &d, &out), 0, "call %ld: %s", at, adp_error_last());
		cr_assert(out == ORCH_DONE || out == ORCH_ROLLED_BACK, "call %ld: outcome %d", at, out);
		cr_assert_eq(access(rpath, F_OK), 0);
		fake_free(&f);
		o.json_fault = &left;
		o.resume = 0;
	}
}

Test(orch_engine, journal_build_failure_writes_nothing_half_built)
{
	build_failures(NULL, ORCH_DONE);
}

Test(orch_engine, rollback_build_failure_writes_nothing_half_built)
{
	build_failures("run_update", ORCH_ROLLED_BACK);
}
