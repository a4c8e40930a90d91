/* The report's HTML page built from a small plan, with a run record
 * and actual history, and the records it refuses. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "history/history.h"
#include "plans/accuracy.h"
#include "plans/plan.h"
#include "plans/report.h"
#include "tests/unit/planfix.h"
#include "util/error.h"

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	const char *p = hay;

	while ((p = strstr(p, needle))) {
		n++;
		p += strlen(needle);
	}
	return n;
}

/* The small estate's plan, in t_dir. */
static void small_plan(struct plan *p)
{
	memset(p, 0, sizeof(*p));
	t_setup();
	cr_assert_eq(pf_default(p), 0, "%s", adp_error_last());
	cr_assert_gt(p->nwaves, 0);
}

/* A run record of p: n step-boundary samples of web's cpu (actual a,
 * the band of its first placement in wave 1), and one warning. */
static json_t *run_of(const struct plan *p, double a)
{
	json_t *obs = json_array();
	size_t k;

	for (k = 0; k < 4; k++)
		json_array_append_new(obs, json_pack("{s:i, s:I, s:s, s:i, s:s, s:s, s:f, s:f, s:f, s:f, s:s}", "after_step",
						     (int)k + 1, "at", (json_int_t)(p->waves[0].start + 300 * (int64_t)k),
						     "component", "web", "replica", 0, "partition", "p2", "resource", "cpu",
						     "actual", a + 0.1 * (double)k, "predicted_p50", 1.0, "predicted_p95",
						     1.5, "alloc", 1.6, "decision", "ok"));
	json_array_append_new(obs, json_pack("{s:i, s:I, s:s, s:i, s:s, s:s, s:f, s:f, s:f, s:f, s:s}", "during_step", 5,
					     "at", (json_int_t)p->waves[0].start + 1500, "component", "web", "replica", 0,
					     "partition", "p2", "resource", "cpu", "actual", 9.0, "predicted_p50", 1.0,
					     "predicted_p95", 1.5, "alloc", 1.6, "decision", "warn"));
	return json_pack("{s:s, s:s, s:[], s:o}", "digest", p->digest, "outcome", "done", "steps", "observations", obs);
}

Test(report, page_of_a_plan)
{
	struct plan p;
	struct plan_report_opts o = { 0 };
	char *html = NULL;
	const char *s;
	size_t len = 0, svgs, i;

	small_plan(&p);
	cr_assert_eq(plan_add_risk(&p, "<script>alert('x')</script> & more"), 0);
	o.plan = &p;
	o.plan_name = "plan<1>.json";
	cr_assert_eq(plan_report_html(&html, &len, &o), 0, "%s", adp_error_last());
	cr_assert_eq(strlen(html), len);
	cr_assert(strstr(html, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
			       "style-src 'unsafe-inline'; img-src data:\">"));
	cr_assert(strstr(html, "Proof: holds: cpu worst P(overload)"));
	cr_assert(strstr(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"));
	cr_assert(strstr(html, "plan&lt;1&gt;.json"));
	cr_assert_null(strstr(html, "<script"), "no script, and none from input");
	cr_assert_null(strstr(html, "src="));
	cr_assert_null(strstr(html, "href="));
	/* Every http in the page is the SVG namespace, never fetched. */
	cr_assert_eq(count(html, "http:"), count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
	cr_assert_null(strstr(html, "https:"));
	for (i = 0; i < 4; i++) {
		char h[64];

		snprintf(h, sizeof(h), "<h3 class=\"component\">%s</h3>", pf_comps[i]);
		cr_assert(strstr(html, h), "%s has its section", pf_comps[i]);
	}
	svgs = count(html, "<svg");
	/* the timeline, cpu and memory of each partition online in a wave,
	 * cpu and memory of each of the four components */
	cr_assert_geq(svgs, 1 + 4 + 8, "%zu charts", svgs);
	cr_assert_eq(count(html, "class=\"legend\""), svgs, "a legend per chart");
	cr_assert_eq(count(html, "time (UTC)"), svgs, "a time axis per chart");
	cr_assert_geq(count(html, "cpu (cores)"), 4);
	cr_assert_geq(count(html, "memory (GiB)"), 4);
	for (s = html; (s = strstr(s, "<svg")); s++)
		cr_assert(strstr(s, "chart-title"));
	cr_assert_null(strstr(html, "The run"), "no run section without a record");
	free(html);
	plan_release(&p);
	t_teardown();
}

Test(report, page_with_run_and_history)
{
	struct plan p;
	struct plan_report_opts o = { 0 };
	struct accuracy acc = { 0 };
	struct history h;
	struct history_opts ho = { 0 };
	int64_t t[48];
	double v[48];
	json_t *run;
	char *html = NULL, want[256];
	size_t len = 0, i;

	small_plan(&p);
	history_init(&h);
	for (i = 0; i < 48; i++) {
		t[i] = p.window_start - 7200 + 300 * (int64_t)i;
		v[i] = 1.25;
	}
	ho.step = p.step;
	ho.max_gap = 4 * p.step;
	cr_assert_eq(history_add_points(&h, "actual.csv", "web", ADP_RES_CPU, t, v, 48, &ho), 0, "%s",
		     adp_error_last());
	run = run_of(&p, 1.2);
	o.plan = &p;
	o.plan_name = "plan.json";
	o.run = run;
	o.run_name = "run.json";
	o.actual = &h;
	o.actual_name = "actual.csv";
	cr_assert_eq(plan_report_html(&html, &len, &o), 0, "%s", adp_error_last());
	cr_assert(strstr(html, "Accuracy after the window"));
	cr_assert(strstr(html, "web cpu: apply&#39;s samples against the band it monitored"));
	cr_assert(strstr(html, "actual (history)"));
	cr_assert(strstr(html, "actual total (history)"));
	cr_assert(strstr(html, "monitoring decision (apply)"), "the decision marked on the timeline");
	cr_assert(strstr(html, "1 observation with a decision other than ok"));
	/* The figures are accuracy's: 1.2, 1.3, 1.4, 1.5 <= 1.5; MASE 0.35 / 0.1. */
	cr_assert_eq(accuracy_add_run(&acc, "run.json", run), 0);
	snprintf(want, sizeof(want), "<td>cpu</td><td>4</td><td>%.3f</td><td>%.3f</td>",
		 acc_coverage95(&acc.windows[0].rows[0]), acc_coverage50(&acc.windows[0].rows[0]));
	cr_assert(strstr(html, want), "%s", want);
	snprintf(want, sizeof(want), "<td>%.3f</td>", acc_mase(&acc.windows[0].rows[0]));
	cr_assert(strstr(html, want), "%s", want);
	cr_assert(strstr(html, "<td>1.000</td><td>0.000</td>"));
	accuracy_release(&acc);
	free(html);
	json_decref(run);
	history_release(&h);
	plan_release(&p);
	t_teardown();
}

Test(report, refuses_a_run_of_another_plan)
{
	struct plan p;
	struct plan_report_opts o = { 0 };
	json_t *run;
	char *html = NULL;
	size_t len = 0;

	small_plan(&p);
	run = run_of(&p, 1);
	json_object_set_new(run, "digest", json_string("0123456789abcdef"));
	o.plan = &p;
	o.run = run;
	o.run_name = "other.json";
	cr_assert_eq(plan_report_html(&html, &len, &o), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "other.json is the run of another plan (digest 0123456789ab"),
		  "%s", adp_error_last());
	cr_assert_null(html);
	json_object_del(run, "outcome");
	cr_assert_eq(plan_report_html(&html, &len, &o), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "other.json: not a run record"), "%s", adp_error_last());
	json_decref(run);
	plan_release(&p);
	t_teardown();
}

Test(report, written_atomically_or_not_at_all)
{
	struct plan p;
	struct plan_report_opts o = { 0 };
	char bad[600];
	FILE *f;

	small_plan(&p);
	o.plan = &p;
	cr_assert_eq(plan_report_write(t_path("r.html"), &o), 0, "%s", adp_error_last());
	cr_assert_not_null(f = fopen(t_path("r.html"), "r"));
	fclose(f);
	snprintf(bad, sizeof(bad), "%s", t_path("missing/r.html"));
	cr_assert_eq(plan_report_write(bad, &o), ADP_ESYS);
	cr_assert(strstr(adp_error_last(), bad), "%s", adp_error_last());
	plan_release(&p);
	t_teardown();
}
