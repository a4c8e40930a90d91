/* The engine's use of a fleet slot (struct orch_slot) with a fake
 * semaphore and a recording driver: taken once before the first act and
 * journaled before it, checked at every step boundary (a lost one stops
 * the apply there, resumable), released at the end, the journaled lease
 * handed back on --resume, none taken by --rollback. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orchestrator/engine.h"
#include "plans/steps.h"
#include "tests/unit/engine_fixture.h"

#define MAXLOG 1024

/* The driver and the slot write one log, so that their order shows. */
struct fake {
	char *log[MAXLOG];
	size_t n, acts, acquires, releases, checks;
	int64_t lease;            /* what acquire hands out */
	int64_t lease_seen;       /* the journaled lease acquire was given */
	char key_seen[128];
	double wait_seen;
	int result;               /* acquire's return: 0, 1 (stopped) or an ADP_E* */
	size_t lost_after;        /* unhealthy once this many acts ran (0: never) */
	int first_act_saw_slot;   /* the journal on disk named the slot when the first act ran */
	int acted_unprotected;    /* an act ran while the slot was lost */
};

static struct engine_fixture fx;

static void setup(void)
{
	engine_fixture_init(&fx);
}

static void teardown(void)
{
	engine_fixture_release(&fx);
}

static void logf_(struct fake *f, const char *what, const char *arg)
{
	char buf[128];

	cr_assert_lt(f->n, MAXLOG);
	snprintf(buf, sizeof(buf), "%s%s%s", what, arg ? ":" : "", arg ? arg : "");
	f->log[f->n++] = strdup(buf);
}

static json_t *journal(void)
{
	return engine_fixture_json(t_path("journal.json"));
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
	(void)msg;
	(void)len;
	if (!f->acts++) {
		json_t *j = journal();
		char want[32];

		snprintf(want, sizeof(want), "%lld", (long long)f->lease);
		f->first_act_saw_slot = json_is_string(json_object_get(json_object_get(j, "slot"), "lease")) &&
					!strcmp(json_string_value(json_object_get(json_object_get(j, "slot"), "lease")), want);
		json_decref(j);
	}
	if (f->lost_after && f->acts > f->lost_after)
		f->acted_unprotected = 1;
	logf_(f, "act", s->action);
	return 0;
}

static int slot_acquire(void *ctx, int64_t lease, const char *key, double wait_s, volatile sig_atomic_t *stop,
			int64_t *lease_out, const char **key_out)
{
	struct fake *f = ctx;

	(void)stop;
	f->acquires++;
	f->lease_seen = lease;
	snprintf(f->key_seen, sizeof(f->key_seen), "%s", key ? key : "");
	f->wait_seen = wait_s;
	logf_(f, "acquire", NULL);
	if (f->result < 0)
		return adp_error_set(f->result, "no fleet slot free in group 'g': slot 0 held by host 'other'");
	if (f->result)
		return f->result;
	*lease_out = f->lease;
	*key_out = "/adpart-update/semaphore/g/0";
	return 0;
}

static int slot_healthy(void *ctx, char *why, size_t len)
{
	struct fake *f = ctx;

	f->checks++;
	if (f->lost_after && f->acts >= f->lost_after) {
		snprintf(why, len, "its lease expired");
		return 0;
	}
	return 1;
}

static void slot_release(void *ctx)
{
	struct fake *f = ctx;

	f->releases++;
	logf_(f, "release", NULL);
}

static const orch_act_fn fake_ops[PLAN_ACTION_COUNT] = { [0 ... PLAN_ACTION_COUNT - 1] = fake_act };

static char why[1024];

static void opts(struct orch_opts *o, struct orch_driver *d, struct orch_slot *sl, struct fake *f)
{
	*o = (struct orch_opts){ .plan_path = fx.plan_path, .state_dir = t_dir, .now = fx.start, .slot = sl,
				 .why = why, .why_len = sizeof(why) };
	*d = (struct orch_driver){ .ctx = f, .check = fake_check, .ops = fake_ops };
	*sl = (struct orch_slot){ .ctx = f, .group = "g", .acquire = slot_acquire, .healthy = slot_healthy,
				  .release = slot_release };
	if (!f->lease)
		f->lease = 4111120494425775378LL; /* beyond a double's 53 bits: journaled exactly */
}

static void fake_reset(struct fake *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->log[i]);
	f->n = f->acts = f->acquires = f->releases = f->checks = 0;
}

static void apply_to(const struct orch_opts *o, const struct orch_driver *d, int want)
{
	int out = -1;

	cr_assert_eq(orch_apply(o, d, &out), 0, "%s", adp_error_last());
	cr_assert_eq(out, want, "outcome %d, expected %d", out, want);
}

static const char *state(void)
{
	static char st[32];
	json_t *j = journal();

	snprintf(st, sizeof(st), "%s", json_string_value(json_object_get(j, "state")));
	json_decref(j);
	return st;
}

TestSuite(orch_fleet, .init = setup, .fini = teardown);

Test(orch_fleet, taken_once_before_the_first_act_journaled_and_released_at_the_end)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	struct orch_slot sl;
	json_t *j;

	opts(&o, &d, &sl, &f);
	apply_to(&o, &d, ORCH_DONE);
	cr_assert_eq(f.acquires, 1);
	cr_assert_eq(f.lease_seen, 0, "a fresh apply has no lease to keep");
	cr_assert_str_eq(f.log[0], "acquire");
	cr_assert_eq(strncmp(f.log[1], "act:", 4), 0);
	cr_assert_str_eq(f.log[f.n - 1], "release");
	cr_assert_eq(f.releases, 1);
	cr_assert_eq(f.acts, fx.plan.nsteps);
	cr_assert(f.first_act_saw_slot, "the lease was not on disk when the first step acted");
	/* one look at the slot per step boundary going forward */
	cr_assert_eq(f.checks, fx.plan.nsteps);
	j = journal();
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "slot"), "key")),
			 "/adpart-update/semaphore/g/0");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "slot"), "group")), "g");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "slot"), "lease")),
			 "4111120494425775378");
	json_decref(j);
	j = engine_fixture_json(t_path("run.json"));
	cr_assert_not_null(json_object_get(j, "slot"), "the run record names the slot");
	json_decref(j);
	fake_reset(&f);
}

Test(orch_fleet, the_wait_for_a_slot_ends_at_the_latest_start_the_plan_allows)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	struct orch_slot sl;
	int64_t late = fx.plan.margin > fx.plan.step ? fx.plan.margin : fx.plan.step;

	opts(&o, &d, &sl, &f);
	o.now = fx.start + late - 10;
	apply_to(&o, &d, ORCH_DONE);
	cr_assert_leq(f.wait_seen, 9, "waited up to %.0f s with 9 s of lateness left", f.wait_seen);
	cr_assert_geq(f.wait_seen, 0);
	fake_reset(&f);
}

Test(orch_fleet, a_lost_slot_stops_at_the_next_step_boundary_and_resume_keeps_the_lease)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	struct orch_slot sl;
	json_t *j;

	opts(&o, &d, &sl, &f);
	f.lost_after = 3;
	apply_to(&o, &d, ORCH_STOPPED);
	cr_assert_eq(f.acts, 3, "%zu steps acted, expected 3 before the boundary that saw the loss", f.acts);
	cr_assert_not(f.acted_unprotected);
	cr_assert_str_eq(state(), "stopped");
	cr_assert_str_eq(f.log[f.n - 1], "release");
	cr_assert_not_null(strstr(why, "the fleet slot '/adpart-update/semaphore/g/0' of group 'g' was lost (its "
				       "lease expired)"), "%s", why);
	cr_assert_not_null(strstr(why, "--resume takes a slot again"), "%s", why);
	j = journal();
	cr_assert_not_null(strstr(json_string_value(json_object_get(j, "stopped_by")), "was lost"));
	json_decref(j);
	/* --resume hands the journaled lease and key back, and goes on. */
	fake_reset(&f);
	f.lost_after = 0;
	o.resume = 1;
	apply_to(&o, &d, ORCH_DONE);
	cr_assert_eq(f.acquires, 1);
	cr_assert_eq(f.lease_seen, 4111120494425775378LL);
	cr_assert_str_eq(f.key_seen, "/adpart-update/semaphore/g/0");
	cr_assert_eq(f.acts, fx.plan.nsteps - 3);
	cr_assert_str_eq(f.log[0], "acquire");
	cr_assert_str_eq(f.log[f.n - 1], "release");
	fake_reset(&f);
}

Test(orch_fleet, no_slot_refuses_with_nothing_changed_and_no_journal)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	struct orch_slot sl;
	int out = -1;

	opts(&o, &d, &sl, &f);
	f.result = ADP_EINPUT;
	cr_assert_eq(orch_apply(&o, &d, &out), ADP_EINPUT);
	cr_assert_eq(out, ORCH_REFUSED);
	t_assert_msg("slot 0 held by host 'other'");
	cr_assert_eq(f.acts, 0);
	cr_assert_eq(f.releases, 0, "nothing was held");
	cr_assert_neq(access(t_path("journal.json"), F_OK), 0, "a refused apply leaves no journal");
	/* so the next apply starts afresh */
	fake_reset(&f);
	f.result = 0;
	apply_to(&o, &d, ORCH_DONE);
	cr_assert_eq(f.acts, fx.plan.nsteps);
	fake_reset(&f);
}

Test(orch_fleet, a_signal_while_waiting_for_a_slot_stops_with_nothing_changed)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	struct orch_slot sl;

	opts(&o, &d, &sl, &f);
	f.result = 1;
	apply_to(&o, &d, ORCH_STOPPED);
	cr_assert_eq(f.acts, 0);
	cr_assert_str_eq(state(), "stopped");
	cr_assert_not_null(strstr(why, "stopped while waiting for a fleet slot of group 'g': nothing was changed"),
			   "%s", why);
	fake_reset(&f);
}

Test(orch_fleet, rollback_takes_no_slot)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	struct orch_slot sl;

	opts(&o, &d, &sl, &f);
	f.lost_after = 4;
	apply_to(&o, &d, ORCH_STOPPED);
	fake_reset(&f);
	f.lost_after = 0;
	o.rollback = 1;
	apply_to(&o, &d, ORCH_ROLLED_BACK);
	cr_assert_eq(f.acquires, 0);
	cr_assert_eq(f.releases, 0);
	cr_assert_gt(f.acts, 0);
	fake_reset(&f);
}
