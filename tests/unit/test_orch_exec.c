/* The exec driver against a real hook program: the documents it gets on
 * stdin, the order of calls, rollback when it fails, "no data", output
 * checks, and timeouts that end the hook's whole process group. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "orchestrator/engine.h"
#include "orchestrator/exec/driver.h"
#include "tests/unit/engine_fixture.h"

static struct engine_fixture fx;
static char hook[512], calls[512];

/* Appends one JSON line per call (phase and stdin) to $HOOK_CALLS and
 * acts as HOOK_MODE / HOOK_FAIL say. */
static const char hook_text[] =
	"#!/usr/bin/python3\n"
	"import json, os, sys, time\n"
	"phase = sys.argv[1]\n"
	"doc = json.load(sys.stdin)\n"
	"mode = os.environ.get('HOOK_MODE', '')\n"
	"with open(os.environ['HOOK_CALLS'], 'a') as f:\n"
	"    f.write(json.dumps({'argv': phase, 'doc': doc}) + '\\n')\n"
	"if phase == 'check' and mode == 'refuse':\n"
	"    print('no such cluster', file=sys.stderr); sys.exit(1)\n"
	"if (phase == 'check' and mode == 'slow') or (phase == 'act' and mode == 'slowact'):\n"
	"    child = os.fork()\n"
	"    if child == 0:\n"
	"        time.sleep(60); os._exit(0)\n"
	"    open(os.environ['HOOK_CALLS'] + '.pid', 'w').write(str(child))\n"
	"    time.sleep(60)\n"
	"if phase == 'sample':\n"
	"    if mode == 'nodata': sys.exit(3)\n"
	"    if mode == 'badsample': print('{\"gpu\": 1}'); sys.exit(0)\n"
	"    p = doc['placement']\n"
	"    print(json.dumps({'memory': p['p50_peak']['memory'], 'cpu': p['p50_peak']['cpu']}))\n"
	"if phase == 'act':\n"
	"    a = doc['step']['action']\n"
	"    if a == os.environ.get('HOOK_FAIL'):\n"
	"        print('cannot ' + a, file=sys.stderr); sys.exit(2)\n"
	"    print('did ' + a + '\\nsecond line')\n";

static void setup(void)
{
	engine_fixture_init(&fx);
	snprintf(hook, sizeof(hook), "%s", t_write("hook.py", hook_text));
	snprintf(calls, sizeof(calls), "%s", t_path("calls"));
	cr_assert_eq(chmod(hook, 0700), 0);
	setenv("HOOK_CALLS", calls, 1);
}

static void teardown(void)
{
	engine_fixture_release(&fx);
}

TestSuite(orch_exec, .init = setup, .fini = teardown);

/* The recorded calls, as an array of {argv, doc}. */
static json_t *recorded(void)
{
	json_t *arr = json_array();
	char line[1 << 16];
	FILE *f = fopen(calls, "r");

	cr_assert_not_null(f, "the hook never ran");
	while (fgets(line, sizeof(line), f)) {
		json_t *j = json_loads(line, 0, NULL);
		cr_assert_not_null(j, "bad record: %s", line);
		json_array_append_new(arr, j);
	}
	fclose(f);
	return arr;
}

static int run(struct orch_exec *e, int *out)
{
	struct orch_opts o = { .plan_path = fx.plan_path, .state_dir = t_dir, .now = fx.start };
	struct orch_driver d;

	orch_exec_driver(&d, e);
	return orch_apply(&o, &d, out);
}

Test(orch_exec, every_step_reaches_the_hook_in_order)
{
	struct orch_exec e;
	json_t *c, *first, *v;
	size_t i, k = 0;
	int out = -1;

	cr_assert_eq(orch_exec_init(&e, hook, t_dir), 0, "%s", adp_error_last());
	cr_assert_eq(run(&e, &out), 0, "%s", adp_error_last());
	cr_assert_eq(out, ORCH_DONE);
	c = recorded();
	first = json_array_get(c, 0);
	cr_assert_str_eq(json_string_value(json_object_get(first, "argv")), "check");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(first, "doc"), "plan"),
							   "digest")),
			 fx.plan.digest);
	cr_assert_eq(json_array_size(json_object_get(json_object_get(first, "doc"), "waves")), fx.plan.nwaves);
	json_array_foreach(c, i, v) {
		json_t *doc = json_object_get(v, "doc"), *s = json_object_get(doc, "step");
		if (strcmp(json_string_value(json_object_get(v, "argv")), "act"))
			continue;
		cr_assert_lt(k, fx.plan.nsteps);
		cr_assert_str_eq(json_string_value(json_object_get(s, "action")), fx.plan.steps[k].action);
		cr_assert_eq(json_integer_value(json_object_get(s, "id")), (json_int_t)fx.plan.steps[k].id);
		if (fx.plan.steps[k].component && !strcmp(fx.plan.steps[k].action, "create_partition")) {
			json_t *pl = json_object_get(doc, "placement");

			cr_assert(json_is_object(pl), "a move's step carries the placement and its allocation");
			cr_assert(json_is_number(json_object_get(json_object_get(pl, "alloc"), "cpu")));
			cr_assert(json_is_number(json_object_get(json_object_get(pl, "reservation"), "cpu")),
				  "and its reservation");
			cr_assert_leq(json_number_value(json_object_get(json_object_get(pl, "reservation"), "cpu")),
				      json_number_value(json_object_get(json_object_get(pl, "alloc"), "cpu")));
		}
		if (fx.plan.steps[k].act == PLAN_RUN_UPDATE)
			cr_assert(json_is_null(json_object_get(doc, "placement")), "a partition's step has no placement");
		k++;
	}
	cr_assert_eq(k, fx.plan.nsteps);
	json_decref(c);
	orch_exec_release(&e);
}

Test(orch_exec, a_failing_hook_rolls_back)
{
	struct orch_exec e;
	json_t *c, *v;
	size_t i, fwd = 0, after = 0;
	int out = -1, failed = 0;

	setenv("HOOK_FAIL", "run_update", 1);
	cr_assert_eq(orch_exec_init(&e, hook, t_dir), 0, "%s", adp_error_last());
	cr_assert_eq(run(&e, &out), 0, "%s", adp_error_last());
	cr_assert_eq(out, ORCH_ROLLED_BACK);
	c = recorded();
	json_array_foreach(c, i, v) {
		const char *a = json_string_value(json_object_get(json_object_get(json_object_get(v, "doc"), "step"),
								  "action"));
		if (!a)
			continue;
		if (failed)
			after++;
		else
			fwd++;
		failed |= !strcmp(a, "run_update");
	}
	cr_assert(failed);
	cr_assert_gt(after, 0, "completed steps were reversed through the hook");
	cr_assert_lt(fwd, fx.plan.nsteps);
	json_decref(c);
	orch_exec_release(&e);
}

Test(orch_exec, no_data_and_bad_samples_stop_the_wave)
{
	struct orch_exec e;
	int out = -1;

	setenv("HOOK_MODE", "nodata", 1);
	cr_assert_eq(orch_exec_init(&e, hook, t_dir), 0, "%s", adp_error_last());
	cr_assert_eq(run(&e, &out), 0, "%s", adp_error_last());
	cr_assert_eq(out, ORCH_ROLLED_BACK, "no data fails closed");
	orch_exec_release(&e);
}

Test(orch_exec, a_sample_that_is_not_usage_is_an_error)
{
	struct orch_exec e;
	struct orch_driver d;
	double use[ADP_RES_COUNT];
	int have[ADP_RES_COUNT] = { 0 };
	const struct plan_placement *x = NULL;
	size_t w, i;

	for (w = 0; w < fx.plan.nwaves && !x; w++)
		for (i = 0; i < fx.plan.waves[w].nplacements && !x; i++)
			if (fx.plan.waves[w].placements[i].from)
				x = &fx.plan.waves[w].placements[i];
	cr_assert_not_null(x);
	cr_assert_eq(orch_exec_init(&e, hook, t_dir), 0, "%s", adp_error_last());
	orch_exec_driver(&d, &e);
	cr_assert_eq(d.sample(d.ctx, &fx.plan, x, use, have), 0, "%s", adp_error_last());
	cr_assert(have[ADP_RES_MEMORY] && have[ADP_RES_CPU] && !have[ADP_RES_IO]);
	cr_assert_float_eq(use[ADP_RES_MEMORY], x->p50_peak[ADP_RES_MEMORY], 1e-6 * x->p50_peak[ADP_RES_MEMORY] + 1e-9);
	setenv("HOOK_MODE", "badsample", 1);
	cr_assert_eq(d.sample(d.ctx, &fx.plan, x, use, have), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "'gpu': expected cpu, memory, io or net"), "%s", adp_error_last());
	orch_exec_release(&e);
}

Test(orch_exec, a_refusing_check_changes_nothing)
{
	struct orch_exec e;
	json_t *c;
	int out = -1;

	setenv("HOOK_MODE", "refuse", 1);
	cr_assert_eq(orch_exec_init(&e, hook, t_dir), 0, "%s", adp_error_last());
	cr_assert_lt(run(&e, &out), 0);
	cr_assert_eq(out, ORCH_REFUSED);
	cr_assert(strstr(adp_error_last(), "hook check refused the plan: exit status 1"), "%s", adp_error_last());
	c = recorded();
	cr_assert_eq(json_array_size(c), 1, "only the check ran");
	json_decref(c);
	orch_exec_release(&e);
}

/* Gone, or a zombie nobody has reaped yet. */
static int alive(pid_t pid)
{
	char path[64], st[512] = { 0 }, *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	if (!fgets(st, sizeof(st), f))
		st[0] = 0;
	fclose(f);
	p = strrchr(st, ')');
	return !(p && p[1] == ' ' && p[2] == 'Z');
}

Test(orch_exec, a_hook_past_its_timeout_is_ended_with_its_children)
{
	struct orch_exec e;
	char pidfile[600], buf[32] = { 0 };
	FILE *f;
	int out = -1;
	pid_t child;

	setenv("HOOK_MODE", "slow", 1);
	cr_assert_eq(orch_exec_init(&e, hook, t_dir), 0, "%s", adp_error_last());
	e.timeout = 2;
	cr_assert_lt(run(&e, &out), 0);
	cr_assert(strstr(adp_error_last(), "timed out after 2s"), "%s", adp_error_last());
	snprintf(pidfile, sizeof(pidfile), "%s.pid", calls);
	cr_assert_not_null(f = fopen(pidfile, "r"));
	cr_assert_not_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	child = (pid_t)atol(buf);
	cr_assert_gt(child, 0);
	usleep(200000);
	cr_assert(!alive(child), "the hook's child %ld still runs", (long)child);
	orch_exec_release(&e);
}

Test(orch_exec, init_refuses_what_cannot_run)
{
	struct orch_exec e;

	cr_assert_eq(orch_exec_init(&e, "/nonexistent/hook", t_dir), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "hook '/nonexistent/hook': No such file"), "%s", adp_error_last());
	cr_assert_eq(chmod(hook, 0600), 0);
	cr_assert_eq(orch_exec_init(&e, hook, t_dir), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "is not an executable file"), "%s", adp_error_last());
}

struct cancel_job {
	struct orch_driver d;
	int rc;
	char err[512]; /* the worker's last error (errors are per thread) */
};

static void *act_slow(void *arg)
{
	struct cancel_job *j = arg;
	struct plan_step s = fx.plan.steps[0];
	char msg[64];

	s.timeout = 60;
	j->rc = j->d.ops[s.act](j->d.ctx, &fx.plan, &s, msg, sizeof(msg));
	snprintf(j->err, sizeof(j->err), "%s", adp_error_last());
	return NULL;
}

Test(orch_exec, a_cancelled_act_ends_the_hook_and_returns)
{
	struct cancel_job j = { 0 };
	struct orch_exec e;
	char pidfile[600], buf[32] = { 0 };
	pthread_t th;
	FILE *f = NULL;
	pid_t child;
	int i;

	setenv("HOOK_MODE", "slowact", 1);
	cr_assert_eq(orch_exec_init(&e, hook, t_dir), 0, "%s", adp_error_last());
	orch_exec_driver(&j.d, &e);
	cr_assert_not_null(j.d.cancel, "every driver can be cancelled");
	cr_assert_eq(pthread_create(&th, NULL, act_slow, &j), 0);
	snprintf(pidfile, sizeof(pidfile), "%s.pid", calls);
	/* The shell creates the file before it writes the pid: wait for both. */
	for (i = 0; i < 100; i++) {
		if ((f = fopen(pidfile, "r"))) {
			int got = fgets(buf, sizeof(buf), f) != NULL;

			fclose(f);
			if (got)
				break;
		}
		usleep(50000);
	}
	cr_assert(i < 100, "the hook never wrote its pid");
	child = (pid_t)atol(buf);
	j.d.cancel(j.d.ctx);
	pthread_join(th, NULL);
	cr_assert_eq(j.rc, ADP_ESYS);
	cr_assert(strstr(j.err, "act: cancelled"), "%s", j.err);
	usleep(200000);
	cr_assert(!alive(child), "the hook's child %ld still runs", (long)child);
	orch_exec_release(&e);
}
