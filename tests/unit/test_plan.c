/* plans/plan: a plan from part_run survives plan_write and plan_read,
 * and every kind of tampering is caught with its location. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plans/plan.h"
#include "tests/unit/planfix.h"
#include "util/fsutil.h"
#include "util/sha256.h"

TestSuite(plan, .init = t_setup, .fini = t_teardown);

static void near(double a, double b, const char *what)
{
	/* The document keeps every number exactly, bit for bit... */
	cr_assert(!memcmp(&a, &b, sizeof(a)) || (a == 0 && b == 0), "%s: %.17g vs %.17g", what, a, b);
}

static void near7(double a, double b, const char *what)
{
	/* ...but forecast values (bands, peaks), at 7 significant digits. */
	char t[32];

	snprintf(t, sizeof(t), "%.7g", b);
	near(a, strtod(t, NULL), what);
}

static int str_eq_null(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void steps_equal(const struct plan_step *a, const struct plan_step *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		cr_assert_eq(a[i].id, b[i].id);
		cr_assert_eq(a[i].wave, b[i].wave);
		cr_assert_str_eq(a[i].action, b[i].action);
		cr_assert(str_eq_null(a[i].partition, b[i].partition));
		cr_assert(str_eq_null(a[i].component, b[i].component));
		cr_assert(str_eq_null(a[i].target, b[i].target));
		if (a[i].component)
			cr_assert_eq(a[i].replica, b[i].replica);
		cr_assert_eq(a[i].timeout, b[i].timeout);
	}
}

/* Writes the default plan to plan.json and returns its path. */
static const char *write_default(struct plan *p)
{
	const char *path = t_path("plan.json");

	cr_assert_eq(pf_default(p), 0, "%s", adp_error_last());
	cr_assert_eq(plan_write(p, path), 0, "%s", adp_error_last());
	return path;
}

Test(plan, round_trip)
{
	struct plan a = { 0 }, b = { 0 };
	const char *path = write_default(&a);
	size_t i, j, h;
	int r;

	cr_assert_eq(plan_read(&b, path), 0, "%s", adp_error_last());
	cr_assert_eq(b.format_version, PLAN_FORMAT_VERSION);
	cr_assert_str_eq(b.tool_version, "test-1");
	cr_assert_eq(b.created_at, a.created_at);
	cr_assert_eq(b.expires_at, a.expires_at);
	cr_assert_str_eq(b.digest, a.digest);
	cr_assert_eq(b.ninputs, a.ninputs);
	for (i = 0; i < a.ninputs; i++) {
		cr_assert_str_eq(b.inputs[i].kind, a.inputs[i].kind);
		cr_assert_str_eq(b.inputs[i].path, a.inputs[i].path);
		cr_assert_str_eq(b.inputs[i].sha256, a.inputs[i].sha256);
	}
	cr_assert_str_eq(b.schedule_name, "synthetic");
	cr_assert_str_eq(b.timezone, a.timezone);
	cr_assert_eq(b.window_start, a.window_start);
	cr_assert_eq(b.window_end, a.window_end);
	cr_assert_eq(b.cutoff_at, a.cutoff_at);
	cr_assert_eq(b.step, a.step);
	cr_assert_eq(b.max_concurrency, a.max_concurrency);
	for (r = 0; r < ADP_RES_COUNT; r++)
		near(b.confidence[r], a.confidence[r], "confidence");
	cr_assert_str_eq(b.model, a.model);
	cr_assert_eq(b.period, a.period);
	cr_assert_eq(b.scenarios, a.scenarios);
	cr_assert_eq(b.nforecast, a.nforecast);
	for (i = 0; i < a.nforecast; i++) {
		cr_assert_str_eq(b.forecast[i].component, a.forecast[i].component);
		cr_assert_eq(b.forecast[i].resource, a.forecast[i].resource);
		near7(b.forecast[i].p95_peak, a.forecast[i].p95_peak, "forecast p95");
	}
	cr_assert_eq(b.npartitions, a.npartitions);
	for (i = 0; i < a.npartitions; i++) {
		cr_assert_str_eq(b.partitions[i].name, a.partitions[i].name);
		cr_assert_str_eq(b.partitions[i].zone, a.partitions[i].zone);
		cr_assert_eq(b.partitions[i].updated, a.partitions[i].updated);
		for (r = 0; r < ADP_RES_COUNT; r++)
			near(b.partitions[i].capacity[r], a.partitions[i].capacity[r], "capacity");
	}
	cr_assert_eq(b.nwaves, a.nwaves);
	for (i = 0; i < a.nwaves; i++) {
		const struct plan_wave *x = &a.waves[i], *y = &b.waves[i];

		cr_assert_eq(y->start, x->start);
		cr_assert_eq(y->end, x->end);
		cr_assert_eq(y->noffline, x->noffline);
		for (j = 0; j < x->noffline; j++)
			cr_assert_str_eq(y->offline[j], x->offline[j]);
		cr_assert_eq(y->nplacements, x->nplacements);
		for (j = 0; j < x->nplacements; j++) {
			cr_assert_str_eq(y->placements[j].component, x->placements[j].component);
			cr_assert_eq(y->placements[j].replica, x->placements[j].replica);
			cr_assert_eq(y->placements[j].tier, x->placements[j].tier);
			cr_assert_str_eq(y->placements[j].partition, x->placements[j].partition);
			cr_assert(str_eq_null(y->placements[j].from, x->placements[j].from));
			for (r = 0; r < ADP_RES_COUNT; r++) {
				near(y->placements[j].alloc[r], x->placements[j].alloc[r], "allocation");
				near7(y->placements[j].p95_peak[r], x->placements[j].p95_peak[r], "p95 peak");
			}
		}
		cr_assert_eq(y->nusage, x->nusage);
		for (j = 0; j < x->nusage; j++) {
			cr_assert_str_eq(y->usage[j].partition, x->usage[j].partition);
			cr_assert_eq(y->usage[j].resource, x->usage[j].resource);
			cr_assert_eq(y->usage[j].nsteps, x->usage[j].nsteps);
			near(y->usage[j].overload_prob, x->usage[j].overload_prob, "overload");
			near(y->usage[j].headroom, x->usage[j].headroom, "headroom");
			for (h = 0; h < x->usage[j].nsteps; h++)
				near7(y->usage[j].p95[h], x->usage[j].p95[h], "usage p95");
		}
	}
	cr_assert_eq(b.margin, a.margin);
	cr_assert_eq(b.nsteps, a.nsteps);
	cr_assert_gt(a.nsteps, 0);
	steps_equal(a.steps, b.steps, a.nsteps);
	cr_assert_eq(b.nrollback, a.nrollback);
	steps_equal(a.rollback, b.rollback, a.nrollback);
	cr_assert_eq(b.nshortfalls, 0);
	cr_assert_eq(b.nrisks, a.nrisks);
	for (i = 0; i < a.nrisks; i++)
		cr_assert_str_eq(b.risks[i], a.risks[i]);
	plan_release(&a);
	plan_release(&b);
	plan_release(&b);
	plan_release(NULL);
}

/* A document with a value that cannot be built (a name lost) is not
 * returned incomplete: plan_to_json fails and plan_write writes nothing. */
Test(plan, incomplete_document_is_an_error)
{
	struct plan a = { 0 };
	json_t *doc = NULL;
	char *name;

	cr_assert_eq(pf_default(&a), 0, "%s", adp_error_last());
	cr_assert_gt(a.nwaves, 0);
	cr_assert_gt(a.waves[0].nplacements, 0);
	name = a.waves[0].placements[0].component;
	a.waves[0].placements[0].component = NULL;
	cr_assert_eq(plan_to_json(&doc, &a), ADP_ENOMEM);
	cr_assert_null(doc);
	cr_assert_eq(plan_write(&a, t_path("incomplete.json")), ADP_ENOMEM);
	cr_assert_neq(access(t_path("incomplete.json"), F_OK), 0);
	a.waves[0].placements[0].component = name;
	cr_assert_eq(plan_to_json(&doc, &a), 0, "%s", adp_error_last());
	json_decref(doc);
	plan_release(&a);
}

/* A 1 GiB allocation reads back as 1 GiB (six significant digits wrote
 * 1073740000, below its own guarantee), and a fraction bit for bit; a
 * forecast value at 7 significant digits, in the file too: the file is
 * written with each real at its shortest exact text and each array of
 * values on one line. */
Test(plan, exact_numbers)
{
	struct plan a = { 0 }, b = { 0 };
	const char *path = t_path("exact.json");
	struct plan_placement *x;

	cr_assert_eq(pf_default(&a), 0, "%s", adp_error_last());
	cr_assert_gt(a.nwaves, 0);
	cr_assert_gt(a.waves[0].nplacements, 0);
	x = &a.waves[0].placements[0];
	x->alloc[ADP_RES_MEMORY] = 1073741824.0;
	x->alloc[ADP_RES_CPU] = 0.1 + 0.2;
	x->reserve[ADP_RES_MEMORY] = 1073741824.0 / 3;
	x->reserve[ADP_RES_CPU] = 0.1 + 0.1;
	x->guarantee[ADP_RES_CPU] = 0.1;
	x->guarantee[ADP_RES_MEMORY] = 0;
	x->p95_peak[ADP_RES_CPU] = 1.0 / 3.0;
	cr_assert_eq(plan_write(&a, path), 0, "%s", adp_error_last());
	cr_assert_eq(plan_read(&b, path), 0, "%s", adp_error_last());
	cr_assert_eq(b.waves[0].placements[0].alloc[ADP_RES_MEMORY], 1073741824.0);
	cr_assert_eq(b.waves[0].placements[0].alloc[ADP_RES_CPU], 0.1 + 0.2);
	cr_assert_eq(b.waves[0].placements[0].reserve[ADP_RES_MEMORY], 1073741824.0 / 3);
	cr_assert_eq(b.waves[0].placements[0].reserve[ADP_RES_CPU], 0.1 + 0.1);
	cr_assert_eq(b.waves[0].placements[0].guarantee[ADP_RES_CPU], 0.1);
	cr_assert_eq(b.waves[0].placements[0].p95_peak[ADP_RES_CPU], 0.3333333);
	{
		char *text = NULL;
		size_t len = 0;

		cr_assert_eq(adp_read_file(&text, &len, path, 1 << 24), 0, "%s", adp_error_last());
		cr_assert_not_null(strstr(text, "\"cpu\": 0.3333333,"), "a 7-digit forecast value");
		cr_assert_not_null(strstr(text, "\"cpu\": 0.30000000000000004,"), "0.1 + 0.2 exactly");
		cr_assert_not_null(strstr(text, "\"cpu\": 0.2,"), "0.1 + 0.1 at its shortest");
		cr_assert_null(strstr(text, "[\n      0"), "an array of numbers over several lines");
		cr_assert_not_null(strstr(text, "\"cpu\": ["), "no band");
		free(text);
	}
	plan_release(&a);
	plan_release(&b);
}

/* plan_dumps' layout: leaves (arrays and objects of plain values) on one
 * line, reals at their shortest exact text, a list of sentences one a
 * line, the rest indented as jansson does. */
Test(plan, dump_layout)
{
	const char *risk = "wave 1: 'node-c' cpu has under 10% headroom at p95 (a risk sentence, longer than a digest)";
	json_t *doc = json_pack("{s:[f,i,f], s:{s:f,s:i}, s:[s,s], s:[{s:s}]}", "band", 0.1 + 0.2, 2, 1.0 / 4,
				"alloc", "cpu", 0.5, "memory", 1073741824, "risks", risk, risk, "steps", "a", "b");
	char *text, want[1024];

	cr_assert_not_null(doc);
	text = plan_dumps(doc);
	cr_assert_not_null(text);
	snprintf(want, sizeof(want),
		 "{\n  \"band\": [0.30000000000000004, 2, 0.25],\n  \"alloc\": {\"cpu\": 0.5, \"memory\": 1073741824},\n"
		 "  \"risks\": [\n    \"%s\",\n    \"%s\"\n  ],\n  \"steps\": [\n    {\"a\": \"b\"}\n  ]\n}\n",
		 risk, risk);
	cr_assert_str_eq(text, want);
	free(text);
	json_decref(doc);
}

/* Reals are written at their least number of digits that reads back
 * (found by stepping down from 7 or from 15): the same text as trying
 * every count from 1, on reals of every kind a plan holds (7-digit
 * forecast values, exact allocations, integers as reals, powers of two,
 * extremes and random bit patterns). */
Test(plan, reals_at_their_shortest_exact_text)
{
	json_t *doc = json_array();
	char *text, *p, *end;
	uint64_t x = 88172645463325252ull;
	double v;
	size_t i, k = 0;

	for (i = 0; i < 6000; i++) {
		char b[40];

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		switch (i % 6) {
		case 0: /* a forecast value, 7 digits */
			snprintf(b, sizeof(b), "%.7g", (double)(x % 100000000) / 1000.0);
			v = strtod(b, NULL);
			break;
		case 1: /* any finite double */
			memcpy(&v, &x, sizeof(v));
			if (!isfinite(v))
				v = 1.5;
			break;
		case 2: /* an allocation: cores in eighths, bytes */
			v = (double)(x % 4096) / 8 + (i % 12 == 2 ? 0 : (double)(x % 1000) * 1048576.0);
			break;
		case 3:
			v = ldexp(1, (int)(x % 2000) - 1000);
			break;
		case 4:
			v = (double)(x % 1000) / 3.0;
			break;
		default:
			v = i % 2 ? 5e-324 : 1.7976931348623157e308;
		}
		cr_assert_eq(json_array_append_new(doc, json_real(v)), 0);
	}
	text = plan_dumps(doc);
	cr_assert_not_null(text);
	for (p = text + 1; (p = strpbrk(p, "-0123456789")); p = end, k++) {
		double w = strtod(p, &end), got = json_real_value(json_array_get(doc, k));
		char want[40];
		int d;

		for (d = 1; d < 17; d++) {
			snprintf(want, sizeof(want), "%.*g", d, got);
			if (strtod(want, NULL) == got)
				break;
		}
		if (d == 17)
			snprintf(want, sizeof(want), "%.17g", got);
		if (!strpbrk(want, ".eE"))
			strcat(want, ".0");
		cr_assert(w == got, "real %zu: %.17g written as %.*s", k, got, (int)(end - p), p);
		cr_assert(strlen(want) == (size_t)(end - p) && !strncmp(p, want, strlen(want)),
			  "real %zu: %.*s, the shortest is %s", k, (int)(end - p), p, want);
	}
	cr_assert_eq(k, 6000);
	free(text);
	json_decref(doc);
}

/* Loads plan.json, lets edit change it, writes tampered.json, and
 * expects plan_read to fail naming jpath on the line of needle (plus
 * below lines further down). */
static void tamper_at(void (*edit)(json_t *root), const char *jpath, const char *needle, int below,
		      const char *what)
{
	struct plan a = { 0 }, b;
	const char *path = write_default(&a), *out = t_path("tampered.json");
	json_error_t err;
	json_t *root = json_load_file(path, 0, &err);
	char *text, want[256];

	cr_assert_not_null(root);
	edit(root);
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	t_write("tampered.json", text);
	memset(&b, 0x5a, sizeof(b));
	cr_assert_eq(plan_read(&b, out), ADP_EINPUT, "tampering with %s was not caught", jpath);
	cr_assert_eq(b.nwaves, (size_t)0x5a5a5a5a5a5a5a5aULL);
	snprintf(want, sizeof(want), "tampered.json:%d: %s: ", t_line_of(text, needle) + below, jpath);
	t_assert_msg(want);
	t_assert_msg(what);
	free(text);
	json_decref(root);
	plan_release(&a);
}

static void tamper(void (*edit)(json_t *root), const char *jpath, const char *needle, const char *what)
{
	tamper_at(edit, jpath, needle, 0, what);
}

static void edit_sha(json_t *root)
{
	json_t *in = json_array_get(json_object_get(root, "inputs"), 1);
	char h[65];

	snprintf(h, sizeof(h), "%s", json_string_value(json_object_get(in, "sha256")));
	h[0] = h[0] == '0' ? '1' : '0';
	json_object_set_new(in, "sha256", json_string(h));
}

Test(plan, tampered_input_hash)
{
	tamper(edit_sha, "digest", "\"digest\"", "does not match the inputs listed");
}

static void edit_version(json_t *root)
{
	json_object_set_new(root, "format_version", json_integer(99));
}

Test(plan, unknown_format_version)
{
	tamper(edit_version, "format_version", "\"format_version\"", "unsupported plan format 99");
}

static void edit_offline(json_t *root)
{
	json_t *w = json_array_get(json_object_get(root, "waves"), 0);
	const char *off = json_string_value(json_array_get(json_object_get(w, "offline"), 0));
	json_t *pl = json_array_get(json_object_get(w, "placements"), 2);

	/* Unique text to find the line: the third placement's partition. */
	json_object_set_new(pl, "partition", json_string(off));
	json_object_set_new(pl, "tier", json_integer(7));
}

Test(plan, placement_on_offline_partition)
{
	/* Keys keep their order: component, replica, tier, partition. */
	tamper_at(edit_offline, "waves[0].placements[2].partition", "\"tier\": 7", 1, "is offline in this wave");
}

static void edit_unknown_partition(json_t *root)
{
	json_t *w = json_array_get(json_object_get(root, "waves"), 1);

	json_array_set_new(json_object_get(w, "offline"), 0, json_string("p9"));
}

Test(plan, unknown_offline_partition)
{
	tamper(edit_unknown_partition, "waves[1].offline[0]", "\"p9\"", "expected the name of one of the plan's partitions");
}

static void edit_step_ids(json_t *root)
{
	json_t *s = json_array_get(json_object_get(root, "steps"), 0);

	json_object_set_new(s, "id", json_integer(5));
}

Test(plan, step_ids_out_of_order)
{
	tamper(edit_step_ids, "steps[0].id", "\"id\": 5", "expected id 1");
}

static void edit_wave_order(json_t *root)
{
	json_t *w0 = json_array_get(json_object_get(root, "waves"), 0);

	json_object_set_new(w0, "end", json_string("2018-05-06T01:00:00Z"));
}

Test(plan, wave_ends_at_start)
{
	tamper(edit_wave_order, "waves[0].end", "\"end\": \"2018-05-06T01:00:00Z\"", "must end after it starts");
}

Test(plan, truncated_file)
{
	struct plan a = { 0 }, b;
	const char *path = write_default(&a);
	char *text = NULL, *half, want[128];
	size_t len = 0, cut, i;
	int lines = 1;

	cr_assert_eq(adp_read_file(&text, &len, path, PLAN_MAX_BYTES), 0);
	/* Cut in the middle of a line. */
	cut = len / 2;
	while (text[cut] == '\n' || text[cut - 1] == '\n')
		cut++;
	text[cut] = '\0';
	half = text;
	for (i = 0; i < cut; i++)
		lines += half[i] == '\n';
	t_write("half.json", half);
	cr_assert_eq(plan_read(&b, t_path("half.json")), ADP_EINPUT);
	/* jansson reports the end of the input: the last, cut line, and a
	 * column on it. */
	snprintf(want, sizeof(want), "half.json:%d:", lines);
	t_assert_msg(want);
	{
		const char *at = strstr(adp_error_last(), want) + strlen(want);
		const char *nl = strrchr(half, '\n');
		int col = 0, used = 0;

		cr_assert_eq(sscanf(at, "%d: malformed JSON%n", &col, &used), 1);
		cr_assert_gt(used, 0, "%s", adp_error_last());
		cr_assert_gt(col, 0);
		cr_assert_leq(col, (int)strlen(nl + 1) + 1, "column %d past the cut line", col);
	}
	free(text);
	plan_release(&a);
}

Test(plan, infeasible_plan_is_refused)
{
	struct plan a = { 0 }, b;
	int rc = pf_run_estate(&a, 4, pf_write_schedule("2h", 1));

	cr_assert_eq(rc, ADP_EINFEASIBLE);
	/* Written for the report, but never accepted for apply. */
	cr_assert_eq(plan_write(&a, t_path("plan.json")), 0, "%s", adp_error_last());
	cr_assert_eq(plan_read(&b, t_path("plan.json")), ADP_EINPUT);
	t_assert_msg("shortfalls: the plan is infeasible: it records 1 shortfall");
	plan_release(&a);
}

Test(plan, digest_is_over_inputs)
{
	struct plan p = { 0 };
	char d1[65], d2[65];

	plan_digest(&p, d1);
	/* No inputs: the hash of nothing. */
	cr_assert_str_eq(d1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	cr_assert_eq(plan_add_input(&p, "inventory", t_write("a", "abc")), 0);
	plan_digest(&p, d2);
	/* SHA-256 of the one line "inventory <path> <sha256 of abc>\n". */
	{
		char line[700], want[65];
		snprintf(line, sizeof(line), "inventory %s ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n",
			 t_path("a"));
		adp_sha256_hex(line, strlen(line), want);
		cr_assert_str_eq(d2, want);
	}
	cr_assert_eq(plan_add_input(&p, "history", t_path("missing.csv")), ADP_ESYS);
	cr_assert_eq(p.ninputs, 1, "a file that cannot be read is not an input");
	plan_release(&p);
}

Test(plan, write_into_missing_directory)
{
	struct plan a = { 0 };

	cr_assert_eq(pf_default(&a), 0);
	cr_assert_eq(plan_write(&a, t_path("no/such/plan.json")), ADP_ESYS);
	plan_release(&a);
}

static void edit_action(json_t *root)
{
	json_t *s = json_array_get(json_object_get(root, "steps"), 3);

	json_object_set_new(s, "action", json_string("format_disk"));
}

Test(plan, unknown_step_action)
{
	tamper(edit_action, "steps[3].action", "format_disk", "unknown action 'format_disk'");
}

static void edit_rollback_wave(json_t *root)
{
	json_t *s = json_array_get(json_object_get(root, "rollback_steps"), 1);

	json_object_set_new(s, "wave", json_integer(0));
	json_object_set_new(s, "timeout", json_integer(4321));
}

Test(plan, step_wave_zero)
{
	tamper(edit_rollback_wave, "rollback_steps[1].wave", "\"wave\": 0", "expected a wave from 1 to 3");
}

Test(plan, proof_against_epsilon_and_reductions)
{
	struct plan p = { 0 };
	struct plan_wave w = { 0 };
	struct plan_usage u[2] = { { 0 } };
	struct plan_reduction red = { 0 };
	struct plan_proof pf;

	p.confidence[ADP_RES_CPU] = 0.95;
	p.confidence[ADP_RES_MEMORY] = 0.99;
	u[0].partition = "node-b";
	u[0].resource = ADP_RES_CPU;
	u[0].overload_prob = 0.04;
	u[1].partition = "node-c";
	u[1].resource = ADP_RES_MEMORY;
	u[1].overload_prob = 0.02;
	w.usage = u;
	w.nusage = 2;
	p.waves = &w;
	p.nwaves = 1;
	plan_proof(&p, &pf);
	/* cpu 4 % <= 5 %, memory 2 % > 1 %: it fails, on memory, where. */
	cr_assert_not(pf.holds);
	cr_assert_float_eq(pf.worst[ADP_RES_MEMORY], 0.02, 1e-12);
	cr_assert_float_eq(pf.eps[ADP_RES_MEMORY], 0.01, 1e-12);
	cr_assert_str_eq(pf.partition[ADP_RES_MEMORY], "node-c");
	cr_assert_eq(pf.wave[ADP_RES_MEMORY], 1);
	cr_assert_eq(pf.wave[ADP_RES_IO], 0, "no wave uses io");
	/* Where the shortage rule gave someone less memory, demand is still
	 * predicted above capacity: the promise is broken there too (it was
	 * left out, and plans at 80 % predicted overload held), and the
	 * proof says the worst place shares a shortage. */
	red.wave = 1;
	red.partition = "node-c";
	red.resource = ADP_RES_MEMORY;
	p.reductions = &red;
	p.nreductions = 1;
	plan_proof(&p, &pf);
	cr_assert_not(pf.holds);
	cr_assert(pf.shared[ADP_RES_MEMORY]);
	cr_assert_not(pf.shared[ADP_RES_CPU]);
	u[0].overload_prob = 0.06;
	plan_proof(&p, &pf);
	cr_assert_not(pf.holds, "cpu 6 %% > 5 %%");
}

/* The reservations summed per partition and resource in every wave: the
 * first wave, partition (inventory order) and resource whose sum is
 * above the capacity, partitions out of name order, a placement on a
 * partition the plan does not list ignored, an unmetered resource never
 * over; two partitions of one name (a hand-edited plan) share the sum. */
Test(plan, reservations_against_capacity)
{
	struct plan_partition parts[3] = { { 0 } };
	struct plan_placement pl[5] = { { 0 } };
	struct plan_wave w[2] = { { 0 } };
	struct plan p = { 0 };
	struct plan_proof pf;

	parts[0].name = "node-c";
	parts[1].name = "node-a";
	parts[2].name = "node-b";
	parts[0].capacity[ADP_RES_CPU] = parts[1].capacity[ADP_RES_CPU] = parts[2].capacity[ADP_RES_CPU] = 4;
	parts[0].capacity[ADP_RES_MEMORY] = parts[1].capacity[ADP_RES_MEMORY] = parts[2].capacity[ADP_RES_MEMORY] = 8;
	pl[0].partition = "node-a";
	pl[0].reserve[ADP_RES_CPU] = 2.5;
	pl[0].reserve[ADP_RES_IO] = 100; /* unmetered */
	pl[1].partition = "node-b";
	pl[1].reserve[ADP_RES_CPU] = 3;
	pl[2].partition = "node-a";
	pl[2].reserve[ADP_RES_CPU] = 1.5;
	pl[2].reserve[ADP_RES_MEMORY] = 6;
	pl[3].partition = "node-x"; /* not in the plan's partitions */
	pl[3].reserve[ADP_RES_CPU] = 50;
	pl[4].partition = "node-c";
	pl[4].reserve[ADP_RES_MEMORY] = 7;
	w[0].placements = pl;
	w[0].nplacements = 4;
	w[1].placements = pl;
	w[1].nplacements = 5;
	p.partitions = parts;
	p.npartitions = 3;
	p.waves = w;
	p.nwaves = 1;
	plan_proof(&p, &pf);
	cr_assert(pf.reserve_fits, "node-a cpu 4 of 4, node-b 3 of 4, memory 6 of 8");
	cr_assert(pf.holds);
	pl[2].reserve[ADP_RES_MEMORY] = 9;
	pl[4].reserve[ADP_RES_MEMORY] = 9;
	p.nwaves = 2;
	plan_proof(&p, &pf);
	cr_assert_not(pf.reserve_fits);
	cr_assert_not(pf.holds);
	cr_assert_eq(pf.reserve_wave, 1);
	cr_assert_str_eq(pf.reserve_partition, "node-a");
	cr_assert_eq(pf.reserve_resource, ADP_RES_MEMORY);
	cr_assert_float_eq(pf.reserve_sum, 9, 1e-12);
	cr_assert_float_eq(pf.reserve_capacity, 8, 1e-12);
	/* In the second wave node-c, first in the plan's order, is over. */
	pl[2].reserve[ADP_RES_MEMORY] = 6;
	plan_proof(&p, &pf);
	cr_assert_eq(pf.reserve_wave, 2);
	cr_assert_str_eq(pf.reserve_partition, "node-c");
	cr_assert_eq(pf.reserve_resource, ADP_RES_MEMORY);
	cr_assert_float_eq(pf.reserve_sum, 9, 1e-12);
	/* node-b and its placement renamed node-a: both partitions hold
	 * 2.5 + 3 + 1.5 cores. */
	pl[4].reserve[ADP_RES_MEMORY] = 7;
	parts[2].name = "node-a";
	pl[1].partition = "node-a";
	plan_proof(&p, &pf);
	cr_assert_not(pf.reserve_fits);
	cr_assert_eq(pf.reserve_wave, 1);
	cr_assert_str_eq(pf.reserve_partition, "node-a");
	cr_assert_eq(pf.reserve_resource, ADP_RES_CPU);
	cr_assert_float_eq(pf.reserve_sum, 7, 1e-12);
}

/* plan_text writes plan_dumps(plan_to_json) byte for byte, one wave at a
 * time: on a plan with waves, the same plan with remedies, risks and a
 * wave with exact-mode figures, and one without waves. */
static void same_text(const struct plan *p, const char *what)
{
	json_t *doc = NULL;
	char *want, *got = NULL;

	cr_assert_eq(plan_to_json(&doc, p), 0, "%s: %s", what, adp_error_last());
	want = plan_dumps(doc);
	cr_assert_not_null(want);
	cr_assert_eq(plan_text(p, &got), 0, "%s: %s", what, adp_error_last());
	cr_assert_str_eq(got, want, "%s: plan_text differs from plan_dumps", what);
	json_decref(doc);
	free(want);
	free(got);
}

Test(plan, text_one_wave_at_a_time)
{
	struct plan a = { 0 };
	struct plan_wave *w;
	size_t n;

	cr_assert_eq(pf_default(&a), 0, "%s", adp_error_last());
	cr_assert_gt(a.nwaves, 1);
	same_text(&a, "the default plan");
	cr_assert_eq(plan_add_risk(&a, "a risk with \"quotes\", a \\ and a\nnewline"), 0);
	cr_assert_eq(plan_add_remedy(&a, "a remedy naming \"waves\": [ ]"), 0);
	w = &a.waves[0];
	w->exact_status = strdup("optimal");
	w->exact_objective = 1.5;
	w->exact_heuristic = 2.25;
	w->exact_bound = 1.5;
	w->exact_seconds = 0.125;
	same_text(&a, "with risks, remedies and exact figures");
	/* No waves at all. */
	n = a.nwaves;
	a.nwaves = 0;
	same_text(&a, "without waves");
	a.nwaves = n;
	plan_release(&a);
}

/* ---- consolidation advice in the document ---- */

/* A consolidation object that holds together on the default plan: p3
 * (4 cores, 16 GiB) could go empty. */
static json_t *consolidation_p3(void)
{
	json_t *o = json_object(), *freed = json_object(), *worst = json_object();

	json_object_set_new(o, "checked", json_true());
	json_object_set_new(o, "partitions", json_pack("[s]", "p3"));
	json_object_set_new(o, "components", json_integer(1));
	json_object_set_new(o, "replicas", json_integer(1));
	json_object_set_new(freed, "cpu", json_integer(4));
	json_object_set_new(freed, "memory", json_integer(16 * 1073741824LL));
	json_object_set_new(freed, "io", json_integer(0));
	json_object_set_new(freed, "net", json_integer(0));
	json_object_set_new(o, "freed", freed);
	json_object_set_new(worst, "cpu", json_real(0.01));
	json_object_set_new(worst, "memory", json_integer(0));
	json_object_set_new(worst, "io", json_integer(0));
	json_object_set_new(worst, "net", json_integer(0));
	json_object_set_new(o, "worst_overload_probability", worst);
	json_object_set_new(o, "tried", json_integer(2));
	json_object_set_new(o, "candidates", json_integer(3));
	return o;
}

/* Both states of the advice read back as written. */
Test(plan, consolidation_round_trip)
{
	struct plan a = { 0 }, b = { 0 };
	const char *path = write_default(&a);
	int r;

	cr_assert_eq(a.consolidation.state, PLAN_CONSOL_CHECKED, "a plan that fits was looked at");
	plan_consolidation_release(&a.consolidation);
	a.consolidation.state = PLAN_CONSOL_CHECKED;
	cr_assert_eq(plan_consolidation_add(&a.consolidation, "p3"), 0);
	a.consolidation.components = a.consolidation.replicas = 1;
	a.consolidation.freed[ADP_RES_CPU] = 4;
	a.consolidation.freed[ADP_RES_MEMORY] = 16 * PF_GIB;
	a.consolidation.worst[ADP_RES_CPU] = 0.01;
	a.consolidation.tried = 2;
	a.consolidation.candidates = 3;
	cr_assert_eq(plan_write(&a, path), 0, "%s", adp_error_last());
	cr_assert_eq(plan_read(&b, path), 0, "%s", adp_error_last());
	cr_assert_eq(b.consolidation.state, PLAN_CONSOL_CHECKED);
	cr_assert_eq(b.consolidation.npartitions, 1);
	cr_assert_str_eq(b.consolidation.partitions[0], "p3");
	cr_assert_eq(b.consolidation.components, 1);
	cr_assert_eq(b.consolidation.replicas, 1);
	cr_assert_eq(b.consolidation.tried, 2);
	cr_assert_eq(b.consolidation.candidates, 3);
	for (r = 0; r < ADP_RES_COUNT; r++) {
		near(b.consolidation.freed[r], a.consolidation.freed[r], "freed");
		near(b.consolidation.worst[r], a.consolidation.worst[r], "worst");
	}
	plan_release(&b);
	plan_consolidation_release(&a.consolidation);
	a.consolidation.state = PLAN_CONSOL_UNCHECKED;
	cr_assert_not_null(a.consolidation.reason = strdup("not checked: at this size"));
	cr_assert_eq(plan_write(&a, path), 0, "%s", adp_error_last());
	cr_assert_eq(plan_read(&b, path), 0, "%s", adp_error_last());
	cr_assert_eq(b.consolidation.state, PLAN_CONSOL_UNCHECKED);
	cr_assert_str_eq(b.consolidation.reason, "not checked: at this size");
	plan_release(&b);
	plan_consolidation_release(&a.consolidation);
	cr_assert_eq(plan_write(&a, path), 0, "%s", adp_error_last());
	cr_assert_eq(plan_read(&b, path), 0, "%s", adp_error_last());
	cr_assert_eq(b.consolidation.state, PLAN_CONSOL_ABSENT, "an older plan has none");
	plan_release(&b);
	plan_release(&a);
}

static void edit_consol_unknown(json_t *root)
{
	json_t *o = consolidation_p3();

	json_array_set_new(json_object_get(o, "partitions"), 0, json_string("p9"));
	json_object_set_new(root, "consolidation", o);
}

Test(plan, consolidation_unknown_partition)
{
	tamper(edit_consol_unknown, "consolidation.partitions[0]", "\"p9\"", "partition 'p9' is not among the plan's partitions");
}

static void edit_consol_twice(json_t *root)
{
	json_t *o = consolidation_p3();

	json_array_append_new(json_object_get(o, "partitions"), json_string("p3"));
	json_object_set_new(root, "consolidation", o);
}

Test(plan, consolidation_partition_twice)
{
	/* "consolidation": {, "checked", "partitions": [, "p3", "p3" */
	tamper_at(edit_consol_twice, "consolidation.partitions[1]", "\"consolidation\"", 4, "partition 'p3' is listed twice");
}

static void edit_consol_all(json_t *root)
{
	json_t *o = consolidation_p3(), *f = json_object_get(o, "freed");

	json_array_append_new(json_object_get(o, "partitions"), json_string("p1"));
	json_array_append_new(json_object_get(o, "partitions"), json_string("p2"));
	json_object_set_new(f, "cpu", json_integer(12));
	json_object_set_new(f, "memory", json_integer(48 * 1073741824LL));
	json_object_set_new(root, "consolidation", o);
}

Test(plan, consolidation_of_every_partition)
{
	tamper_at(edit_consol_all, "consolidation.partitions", "\"consolidation\"", 2, "not every partition can go empty");
}

static void edit_consol_freed(json_t *root)
{
	json_t *o = consolidation_p3();

	json_object_set_new(json_object_get(o, "freed"), "cpu", json_integer(8));
	json_object_set_new(root, "consolidation", o);
}

Test(plan, consolidation_freed_is_their_capacity)
{
	tamper_at(edit_consol_freed, "consolidation.freed.cpu", "\"freed\"", 1,
		  "8 is not the capacity of the partitions listed (4)");
}

static void edit_consol_worst(json_t *root)
{
	json_t *o = consolidation_p3();

	json_object_set_new(json_object_get(o, "worst_overload_probability"), "cpu", json_real(0.2));
	json_object_set_new(root, "consolidation", o);
}

Test(plan, consolidation_above_epsilon)
{
	/* The proof names the same field first: counted from the object,
	 * past partitions (3 lines), the counts (2) and freed (6). */
	tamper_at(edit_consol_worst, "consolidation.worst_overload_probability.cpu", "\"consolidation\"", 14,
		  "0.2 is above epsilon 0.05: the proof would not hold");
}

static void edit_consol_unchecked(json_t *root)
{
	json_object_set_new(root, "consolidation", json_pack("{s:b}", "checked", 0));
}

Test(plan, consolidation_unchecked_says_why)
{
	tamper(edit_consol_unchecked, "consolidation", "\"consolidation\"", "missing required field 'reason'");
}

static void edit_consol_no_checked(json_t *root)
{
	json_t *o = consolidation_p3();

	json_object_del(o, "checked");
	json_object_set_new(root, "consolidation", o);
}

Test(plan, consolidation_needs_checked)
{
	tamper(edit_consol_no_checked, "consolidation", "\"consolidation\"", "missing boolean field 'checked'");
}
