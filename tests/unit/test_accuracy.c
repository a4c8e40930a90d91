/* Post-window accuracy from a run record: each figure on hand-counted
 * samples, during-step observations left out, and records refused. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>

#include "plans/accuracy.h"
#include "plans/plan.h"
#include "util/error.h"
#include "util/resource.h"

static json_t *sample(const char *when, int step, double actual)
{
	return json_pack("{s:i, s:s, s:i, s:s, s:f, s:f, s:f, s:f, s:s}", when, step, "component", "web", "replica", 0,
			 "resource", "cpu", "actual", actual, "predicted_p50", 2.0, "predicted_p95", 3.5, "alloc", 3.5,
			 "decision", "ok");
}

Test(accuracy, figures_of_a_window_by_hand)
{
	struct accuracy a = { 0 };
	json_t *run = json_pack("{s:[], s:s, s:[]}", "steps", "outcome", "done", "observations");
	json_t *obs = json_object_get(run, "observations");
	const struct acc_row *r;
	int k;

	for (k = 1; k <= 4; k++)
		json_array_append_new(obs, sample("after_step", k, k)); /* actual 1, 2, 3, 4 */
	json_array_append_new(obs, sample("during_step", 5, 100)); /* a deviation: not a sample */
	cr_assert_eq(accuracy_add_run(&a, "w1", run), 0, "%s", adp_error_last());
	cr_assert_eq(a.nwindows, 1);
	cr_assert_eq(a.windows[0].nrows, 1);
	r = &a.windows[0].rows[0];
	cr_assert_eq(r->n, 4);
	cr_assert_float_eq(acc_coverage95(r), 0.75, 1e-12);  /* 1, 2, 3 <= 3.5 */
	cr_assert_float_eq(acc_coverage50(r), 0.5, 1e-12);   /* 1, 2 <= 2 */
	cr_assert_float_eq(acc_bias(r), 0.25, 1e-12);        /* (10 - 8) / 8 */
	cr_assert_float_eq(acc_mase(r), 1.0, 1e-12);         /* mean |a - 2| = 1, mean one-step change 1 */
	cr_assert_float_eq(acc_above_alloc(r), 0.25, 1e-12); /* 4 > 3.5 */
	/* A second window: pooled, and no one-step change across windows. */
	cr_assert_eq(accuracy_add_run(&a, "w2", run), 0, "%s", adp_error_last());
	r = &a.pooled.rows[0];
	cr_assert_eq(r->n, 8);
	cr_assert_eq(r->naive_n, 6);
	cr_assert_float_eq(acc_coverage95(r), 0.75, 1e-12);
	json_decref(run);
	accuracy_release(&a);
}

/* ACI by hand: 4 samples, 1 above the p95: alpha = 0.05 + 0.005 *
 * (4 * 0.05 - 1) = 0.046, scale z(0.954) / z(0.95) = 1.02437; the
 * widest bound gives 2.0005 (Python's NormalDist agrees). */
Test(accuracy, feedback_is_adaptive_conformal_on_the_p95)
{
	struct accuracy a = { 0 };
	json_t *run = json_pack("{s:[], s:s, s:[]}", "steps", "outcome", "done", "observations");
	struct plan_feedback *fb = NULL;
	size_t n = 0;
	int k;

	for (k = 1; k <= 4; k++)
		json_array_append_new(json_object_get(run, "observations"), sample("after_step", k, k));
	cr_assert_eq(accuracy_add_run(&a, "w1", run), 0);
	cr_assert_eq(accuracy_feedback(&a, &fb, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(fb[0].component, "web");
	cr_assert_float_eq(fb[0].scale, 1.0243712512, 1e-6);
	cr_assert_eq(fb[0].windows, 1);
	cr_assert_float_eq(fb[0].above_p95, 0.25, 1e-12);
	free(fb[0].component);
	free(fb);
	/* Window after window a quarter above (against 5 %): the widest bound. */
	for (k = 0; k < 60; k++)
		cr_assert_eq(accuracy_add_run(&a, "w", run), 0);
	json_decref(run);
	cr_assert_eq(accuracy_feedback(&a, &fb, &n), 0);
	cr_assert_float_eq(fb[0].scale, 2.0004982070, 1e-6);
	free(fb[0].component);
	free(fb);
	accuracy_release(&a);
}

Test(accuracy, a_plan_is_no_run_record)
{
	struct accuracy a = { 0 };
	json_t *plan = json_pack("{s:[], s:[]}", "steps", "waves");

	cr_assert_eq(accuracy_add_run(&a, "plan.json", plan), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "plan.json: not a run record"), "%s", adp_error_last());
	cr_assert(isnan(acc_mase(&(struct acc_row){ 0 })));
	json_decref(plan);
	accuracy_release(&a);
}
