/* The engine against a recording driver: order, journal, rollback,
 * stop and resume, no-data monitoring, the lock. No cgroups needed. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "orchestrator/engine.h"
#include "orchestrator/steps.h"
#include "partition/planner.h"
#include "plans/plan.h"
#include "util/error.h"
#include "util/timeutil.h"

#define MAXCALLS 4096

struct fake {
	char *calls[MAXCALLS];
	size_t ncalls;
	const char *fail_action;  /* first call of this action fails */
	int no_data;              /* sample reports no data */
	volatile sig_atomic_t *stop;
	size_t stop_after;        /* set *stop after this many calls */
};

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

static char dir[64], plan_path[128];
static struct plan plan;
static int64_t now;

static void setup(void)
{
	struct part_run_opts o = { 0 };

	snprintf(dir, sizeof(dir), "/tmp/adp-orch-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(plan_path, sizeof(plan_path), "%s/plan.json", dir);
	cr_assert_eq(adp_time_parse(&now, "2018-05-06T00:00:00Z", NULL), 0);
	o.inventory = "testdata/demo/inventory.json";
	o.schedule = "testdata/demo/schedule.json";
	o.now = now;
	o.tool_version = "test";
	cr_assert_eq(part_run(&plan, &o), 0, "%s", adp_error_last());
	cr_assert_gt(plan.nsteps, 10);
	cr_assert_eq(plan_write(&plan, plan_path), 0, "%s", adp_error_last());
}

static void teardown(void)
{
	char cmd[256];

	plan_release(&plan);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static void opts(struct orch_opts *o, struct orch_driver *d, struct fake *f)
{
	memset(o, 0, sizeof(*o));
	o->plan_path = plan_path;
	o->state_dir = dir;
	o->now = now;
	d->ctx = f;
	d->check = fake_check;
	d->act = fake_act;
	d->sample = fake_sample;
	d->grow = NULL;
}

static json_t *journal(void)
{
	char path[128];
	json_t *j;

	snprintf(path, sizeof(path), "%s/journal.json", dir);
	j = json_load_file(path, 0, NULL);
	cr_assert_not_null(j);
	return j;
}

TestSuite(orch_engine, .init = setup, .fini = teardown);

Test(orch_engine, runs_every_step_in_plan_order)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	int out = -1;
	size_t i;
	json_t *j;

	opts(&o, &d, &f);
	cr_assert_eq(orch_apply(&o, &d, &out), 0, "%s", adp_error_last());
	cr_assert_eq(out, ORCH_DONE);
	cr_assert_eq(f.ncalls, plan.nsteps);
	for (i = 0; i < plan.nsteps; i++)
		cr_assert_str_eq(f.calls[i], plan.steps[i].action);
	j = journal();
	cr_assert_str_eq(json_string_value(json_object_get(j, "state")), "done");
	json_decref(j);
	fake_free(&f);
	/* Applying the same plan again is refused. */
	cr_assert_eq(orch_apply(&o, &d, &out), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "already applied"));
	cr_assert_eq(f.ncalls, 0);
}

Test(orch_engine, failure_reverses_completed_steps_last_first)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	int out = -1;
	size_t i, k, failed_at = 0;

	opts(&o, &d, &f);
	f.fail_action = "verify_shadow";
	for (i = 0; i < plan.nsteps; i++)
		if (!strcmp(plan.steps[i].action, "verify_shadow"))
			break;
	failed_at = i;
	cr_assert_lt(failed_at, plan.nsteps);
	cr_assert_eq(orch_apply(&o, &d, &out), 0, "%s", adp_error_last());
	cr_assert_eq(out, ORCH_ROLLED_BACK);
	/* Forward calls up to the failure, then the inverses in reverse. */
	k = failed_at + 1;
	for (i = failed_at + 1; i-- > 0;) {
		const struct orch_action *a = orch_action_find(plan.steps[i].action);
		if (!a->inverse)
			continue;
		cr_assert_lt(k, f.ncalls);
		cr_assert_str_eq(f.calls[k], a->inverse, "undo of step %zu", i + 1);
		k++;
	}
	cr_assert_eq(k, f.ncalls);
	fake_free(&f);
}

Test(orch_engine, stop_then_resume_runs_each_step_once)
{
	static volatile sig_atomic_t stop;
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	int out = -1;
	size_t i;
	json_t *j;

	opts(&o, &d, &f);
	stop = 0;
	o.stop = &stop;
	f.stop = &stop;
	f.stop_after = 7;
	cr_assert_eq(orch_apply(&o, &d, &out), 0, "%s", adp_error_last());
	cr_assert_eq(out, ORCH_STOPPED);
	cr_assert_eq(f.ncalls, 7);
	j = journal();
	cr_assert_str_eq(json_string_value(json_object_get(j, "state")), "stopped");
	json_decref(j);
	/* Without --resume an unfinished journal is refused. */
	stop = 0;
	cr_assert_eq(orch_apply(&o, &d, &out), ADP_EINPUT);
	o.resume = 1;
	cr_assert_eq(orch_apply(&o, &d, &out), 0, "%s", adp_error_last());
	cr_assert_eq(out, ORCH_DONE);
	cr_assert_eq(f.ncalls, plan.nsteps);
	for (i = 0; i < plan.nsteps; i++)
		cr_assert_str_eq(f.calls[i], plan.steps[i].action);
	fake_free(&f);
}

Test(orch_engine, no_data_fails_closed)
{
	struct fake f = { 0 };
	struct orch_opts o;
	struct orch_driver d;
	int out = -1;
	json_t *j, *obs;

	opts(&o, &d, &f);
	f.no_data = 1;
	cr_assert_eq(orch_apply(&o, &d, &out), 0, "%s", adp_error_last());
	cr_assert_eq(out, ORCH_ROLLED_BACK);
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
	char path[128];
	int out = -1, fd;

	opts(&o, &d, &f);
	snprintf(path, sizeof(path), "%s/lock", dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
	cr_assert_eq(orch_apply(&o, &d, &out), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "another apply holds the lock"));
	cr_assert_eq(out, ORCH_REFUSED);
	cr_assert_eq(f.ncalls, 0);
	close(fd);
}

Test(orch_engine, refuses_expired_and_stale_plans)
{
	struct plan p = { 0 };

	cr_assert_eq(plan_read(&p, plan_path), 0, "%s", adp_error_last());
	cr_assert_eq(orch_preflight(&p, now), 0, "%s", adp_error_last());
	cr_assert_eq(orch_preflight(&p, p.expires_at), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "expired"));
	p.format_version = 99;
	cr_assert_eq(orch_preflight(&p, now), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "format version 99"));
	p.format_version = PLAN_FORMAT_VERSION;
	p.inputs[0].sha256[0] = p.inputs[0].sha256[0] == '0' ? '1' : '0';
	cr_assert_eq(orch_preflight(&p, now), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "stale plan"));
	plan_release(&p);
}
