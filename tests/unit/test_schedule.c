/* partition/schedule: the demo file, defaults, concurrency, durations,
 * and every input error naming line and JSON path. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "partition/inventory.h"
#include "partition/schedule.h"
#include "tests/unit/helpers.h"
#include "util/error.h"

#define MAY6 1525564800LL /* 2018-05-06T00:00:00Z */

TestSuite(schedule, .init = t_setup, .fini = t_teardown);

static struct inventory inv;

static void load_inv(void)
{
	const char *text =
		"{\"partitions\": [\n"
		" {\"name\": \"p1\", \"capacity\": {\"cpu\": 4, \"memory\": \"8GiB\"}},\n"
		" {\"name\": \"p2\", \"capacity\": {\"cpu\": 4, \"memory\": \"8GiB\"}},\n"
		" {\"name\": \"p3\", \"capacity\": {\"cpu\": 4, \"memory\": \"8GiB\"}},\n"
		" {\"name\": \"p4\", \"capacity\": {\"cpu\": 4, \"memory\": \"8GiB\"}}],\n"
		" \"components\": []}\n";

	cr_assert_eq(inventory_load(&inv, t_write("inv.json", text)), 0, "%s", adp_error_last());
}

/* A schedule with the window and extra fields given, one per line. */
static const char *sched_text(const char *window, const char *extra)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
		 "{\n"
		 "  \"name\": \"test\",\n"
		 "  \"window\": {\n%s\n  },\n"
		 "  \"partitions\": [\"p1\", \"p2\", \"p3\", \"p4\"],\n"
		 "  \"update_duration\": \"40m\"%s\n"
		 "}\n",
		 window, extra);
	return buf;
}

static const char *win_ok = "    \"start\": \"2018-05-06T01:00:00Z\",\n    \"end\": \"2018-05-06T05:00:00Z\"";

static void expect_error(const char *text, const char *needle)
{
	struct schedule s;

	load_inv();
	memset(&s, 0x5a, sizeof(s));
	cr_assert_eq(schedule_load(&s, t_write("sched.json", text), &inv), ADP_EINPUT, "accepted:\n%s", text);
	t_assert_msg(needle);
	cr_assert_eq(s.npartitions, (size_t)0x5a5a5a5a5a5a5a5aULL);
	inventory_release(&inv);
}

static const char *at_line(const char *text, const char *needle, const char *path)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "sched.json:%d: %s: ", t_line_of(text, needle), path);
	return buf;
}

Test(schedule, demo_loads)
{
	struct inventory dinv;
	struct schedule s;
	int c;

	cr_assert_eq(inventory_load(&dinv, "testdata/demo/inventory.json"), 0);
	cr_assert_eq(schedule_load(&s, "testdata/demo/schedule.json", &dinv), 0, "%s", adp_error_last());
	cr_assert_str_eq(s.name, "kernel-2018-05");
	cr_assert_eq(s.start, MAY6 + 3600);
	cr_assert_eq(s.end, MAY6 + 5 * 3600);
	cr_assert_eq(s.cutoff, 1800);
	cr_assert_eq(s.npartitions, 4);
	cr_assert_eq(s.max_concurrency, 1);
	c = inventory_partition_index(&dinv, "node-c");
	cr_assert_eq(s.partitions[2], (size_t)c);
	cr_assert_eq(s.update_duration[0], 2400);
	cr_assert_eq(s.update_duration[2], 2100);
	cr_assert_eq(s.drain_duration, 300);
	cr_assert_eq(s.step, 300);
	cr_assert_eq(s.period, 86400);
	cr_assert_float_eq(s.confidence[ADP_RES_MEMORY], 0.99, 1e-12);
	schedule_release(&s);
	schedule_release(&s);
	schedule_release(NULL);
	/* Without an inventory the names are only checked for form. */
	cr_assert_eq(schedule_load(&s, "testdata/demo/schedule.json", NULL), 0, "%s", adp_error_last());
	cr_assert_str_eq(s.partition_names[3], "node-d");
	schedule_release(&s);
	inventory_release(&dinv);
}

Test(schedule, defaults)
{
	struct schedule s;
	int r;

	load_inv();
	cr_assert_eq(schedule_load(&s, t_write("sched.json", sched_text(win_ok, "")), &inv), 0, "%s",
		     adp_error_last());
	cr_assert_str_eq(s.timezone, "UTC");
	cr_assert_eq(s.max_concurrency, 1);
	cr_assert_eq(s.cutoff, 0);
	cr_assert_eq(s.step, 300);
	cr_assert_eq(s.max_gap, 3600);
	cr_assert_eq(s.plan_ttl, 86400);
	/* Memory is held to a stricter level than the compressible resources. */
	for (r = 0; r < ADP_RES_COUNT; r++)
		cr_assert_float_eq(s.confidence[r], r == ADP_RES_MEMORY ? 0.99 : 0.95, 1e-12);
	cr_assert_eq(s.update_duration[3], 2400);
	schedule_release(&s);
	inventory_release(&inv);
}

Test(schedule, local_window_and_duration)
{
	struct schedule s;
	const char *w = "    \"start\": \"2018-07-01 02:00:00\",\n    \"duration\": \"3h\",\n    \"timezone\": \"Europe/Berlin\"";

	load_inv();
	cr_assert_eq(schedule_load(&s, t_write("sched.json", sched_text(w, ",\n  \"confidence\": 0.9")), &inv), 0,
		     "%s", adp_error_last());
	/* 02:00 CEST is 00:00 UTC. */
	{
		struct tm tm = { .tm_year = 118, .tm_mon = 6, .tm_mday = 1 };
		cr_assert_eq(s.start, (int64_t)timegm(&tm));
	}
	cr_assert_eq(s.end - s.start, 3 * 3600);
	cr_assert_str_eq(s.timezone, "Europe/Berlin");
	cr_assert_float_eq(s.confidence[ADP_RES_MEMORY], 0.9, 1e-12);
	schedule_release(&s);
	inventory_release(&inv);
}

Test(schedule, percentage_concurrency)
{
	struct schedule s;

	load_inv();
	cr_assert_eq(schedule_load(&s, t_write("sched.json", sched_text(win_ok, ",\n  \"max_concurrency\": \"50%\"")),
				   &inv), 0, "%s", adp_error_last());
	cr_assert_eq(s.max_concurrency, 2);
	cr_assert_float_eq(s.max_concurrency_pct, 50, 1e-12);
	schedule_release(&s);
	/* Rounded down, but never below one. */
	cr_assert_eq(schedule_load(&s, t_write("sched.json", sched_text(win_ok, ",\n  \"max_concurrency\": \"10%\"")),
				   &inv), 0);
	cr_assert_eq(s.max_concurrency, 1);
	schedule_release(&s);
	cr_assert_eq(schedule_load(&s, t_write("sched.json", sched_text(win_ok, ",\n  \"max_concurrency\": \"75%\"")),
				   &inv), 0);
	cr_assert_eq(s.max_concurrency, 3);
	schedule_release(&s);
	cr_assert_eq(schedule_load(&s, t_write("sched.json", sched_text(win_ok, ",\n  \"max_concurrency\": 3")),
				   &inv), 0);
	cr_assert_eq(s.max_concurrency, 3);
	cr_assert_float_eq(s.max_concurrency_pct, 0, 1e-12);
	schedule_release(&s);
	inventory_release(&inv);
}

Test(schedule, per_partition_durations)
{
	struct schedule s;
	char text[2048];

	snprintf(text, sizeof(text), "%s",
		 "{\"name\": \"t\", \"window\": {\"start\": \"2018-05-06T01:00:00Z\", \"end\": \"2018-05-06T05:00:00Z\"},\n"
		 " \"partitions\": [\"p3\", \"p1\", \"p2\"],\n"
		 " \"update_duration\": {\"default\": \"40m\", \"partitions\": {\"p1\": \"1h5m\", \"p2\": 600}}}\n");
	load_inv();
	cr_assert_eq(schedule_load(&s, t_write("sched.json", text), &inv), 0, "%s", adp_error_last());
	cr_assert_eq(s.npartitions, 3);
	cr_assert_eq(s.partitions[0], 2);
	cr_assert_eq(s.partitions[1], 0);
	cr_assert_eq(s.update_duration[0], 2400);
	cr_assert_eq(s.update_duration[1], 3900);
	cr_assert_eq(s.update_duration[2], 600);
	schedule_release(&s);
	inventory_release(&inv);
}

Test(schedule, window_end_before_start)
{
	const char *w = "    \"start\": \"2018-05-06T05:00:00Z\",\n    \"end\": \"2018-05-06T01:00:00Z\"";
	const char *text = sched_text(w, "");

	expect_error(text, at_line(text, "\"end\"", "window.end"));
	t_assert_msg("the window must end after it starts");
}

Test(schedule, window_errors)
{
	const char *w, *text;

	w = "    \"start\": \"2018-05-06T01:00:00Z\",\n    \"end\": \"2018-05-06T05:00:00Z\",\n    \"timezone\": \"Mars/Olympus\"";
	text = sched_text(w, "");
	expect_error(text, at_line(text, "Mars", "window.timezone"));
	t_assert_msg("unknown time zone 'Mars/Olympus'");
	w = "    \"start\": \"2018-02-30T01:00:00Z\",\n    \"end\": \"2018-05-06T05:00:00Z\"";
	text = sched_text(w, "");
	expect_error(text, at_line(text, "\"start\"", "window.start"));
	t_assert_msg("expected an RFC 3339 time");
	w = "    \"start\": \"2018-05-06T01:00:00Z\",\n    \"end\": \"2018-05-06T05:00:00Z\",\n    \"duration\": \"1h\"";
	expect_error(sched_text(w, ""), "window.duration: give either end or duration, not both");
	w = "    \"start\": \"2018-05-06T01:00:00Z\",\n    \"duration\": \"8d\"";
	expect_error(sched_text(w, ""), "window: a window longer than 7 days is not supported");
	w = "    \"start\": \"2018-05-06T01:00:00Z\"";
	expect_error(sched_text(w, ""), "window: missing required field 'end'");
	expect_error("{\"name\": \"t\", \"partitions\": [], \"update_duration\": 60}",
		     "sched.json: missing required field 'window'");
}

Test(schedule, cutoff_too_large)
{
	const char *text = sched_text(win_ok, ",\n  \"cutoff\": \"4h\"");

	expect_error(text, at_line(text, "\"cutoff\"", "cutoff"));
	t_assert_msg("the cutoff leaves no time in the window");
}

Test(schedule, partition_errors)
{
	const char *text;

	text = "{\"name\": \"t\", \"window\": {\"start\": \"2018-05-06T01:00:00Z\", \"end\": \"2018-05-06T05:00:00Z\"},\n"
	       " \"partitions\": [\"p1\",\n  \"p9\"], \"update_duration\": 60}";
	expect_error(text, "sched.json:3: partitions[1]: unknown partition 'p9': the inventory");
	text = "{\"name\": \"t\", \"window\": {\"start\": \"2018-05-06T01:00:00Z\", \"end\": \"2018-05-06T05:00:00Z\"},\n"
	       " \"partitions\": [\"p1\", \"p1\"], \"update_duration\": 60}";
	expect_error(text, "sched.json:2: partitions[1]: partition 'p1' is listed twice");
	text = "{\"name\": \"t\", \"window\": {\"start\": \"2018-05-06T01:00:00Z\", \"end\": \"2018-05-06T05:00:00Z\"},\n"
	       " \"partitions\": [\"p1\", 7], \"update_duration\": 60}";
	expect_error(text, "partitions[1]: expected a partition name");
	text = "{\"name\": \"t\", \"window\": {\"start\": \"2018-05-06T01:00:00Z\", \"end\": \"2018-05-06T05:00:00Z\"},\n"
	       " \"partitions\": [\"p1\"], \"update_duration\": {\"default\": 60, \"partitions\": {\"p2\": 60}}}";
	expect_error(text, "update_duration.partitions.p2: partition 'p2' is not in the schedule's partitions");
	text = "{\"name\": \"t\", \"window\": {\"start\": \"2018-05-06T01:00:00Z\", \"end\": \"2018-05-06T05:00:00Z\"},\n"
	       " \"partitions\": [\"p1\"], \"update_duration\": {\"partitions\": {\"p1\": 60}}}";
	expect_error(text, "update_duration: missing required field 'default'");
}

Test(schedule, field_errors)
{
	const char *text;

	text = sched_text(win_ok, ",\n  \"max_concurrency\": \"150%\"");
	expect_error(text, at_line(text, "150%", "max_concurrency"));
	expect_error(sched_text(win_ok, ",\n  \"max_concurrency\": 0"), "max_concurrency: expected at least 1");
	expect_error(sched_text(win_ok, ",\n  \"drain_duration\": \"5 minutes\""),
		     "drain_duration: expected a duration such as");
	expect_error(sched_text(win_ok, ",\n  \"step\": 5"), "step: expected a step from 10s to 1d");
	expect_error(sched_text(win_ok, ",\n  \"period\": \"7m\""), "period: expected a multiple of the step");
	expect_error(sched_text(win_ok, ",\n  \"plan_ttl\": 0"), "plan_ttl: expected a positive duration");
	expect_error(sched_text(win_ok, ",\n  \"confidence\": 0.3"), "confidence: 0.3 is out of range");
	expect_error(sched_text(win_ok, ",\n  \"confidence\": {\"disk\": 0.9}"), "confidence.disk: unknown field");
	expect_error(sched_text(win_ok, ",\n  \"confidence\": \"high\""), "confidence: expected a probability");
	expect_error(sched_text(win_ok, ",\n  \"colour\": 1"), "colour: unknown field");
	expect_error("{\"window\": {}}", "sched.json: missing required field 'name'");
	expect_error("{\"name\": \"t\",}", "sched.json:1:");
}

Test(schedule, blackouts_sorted_and_found)
{
	struct schedule s;
	const char *extra = ",\n  \"blackouts\": [\n"
			    "    {\"start\": \"2018-05-06T03:00:00Z\", \"end\": \"2018-05-06T03:30:00Z\"},\n"
			    "    {\"start\": \"2018-05-06T01:30:00Z\", \"end\": \"2018-05-06T02:00:00Z\", \"reason\": \"batch\"}]";

	load_inv();
	cr_assert_eq(schedule_load(&s, t_write("sched.json", sched_text(win_ok, extra)), &inv), 0, "%s",
		     adp_error_last());
	cr_assert_eq(s.nblackouts, 2);
	cr_assert_eq(s.blackouts[0].start, MAY6 + 5400, "sorted by start");
	cr_assert_eq(s.blackouts[1].end, MAY6 + 12600);
	cr_assert_eq(schedule_blackout_end(&s, MAY6 + 3600, MAY6 + 5400), 0, "touching is not overlapping");
	cr_assert_eq(schedule_blackout_end(&s, MAY6 + 3600, MAY6 + 5401), MAY6 + 7200);
	cr_assert_eq(schedule_blackout_end(&s, MAY6 + 11000, MAY6 + 20000), MAY6 + 12600);
	schedule_release(&s);
	inventory_release(&inv);
}

Test(schedule, blackout_errors)
{
	const char *t;

	t = sched_text(win_ok, ",\n  \"blackouts\": [\n    {\"start\": \"2018-05-06T03:00:00Z\", \"end\": \"2018-05-06T02:00:00Z\"}]");
	expect_error(t, at_line(t, "\"end\": \"2018-05-06T02", "blackouts[0]"));
	t_assert_msg("a blackout must end after it starts");
	t = sched_text(win_ok, ",\n  \"blackouts\": [\n    {\"start\": \"2018-05-07T03:00:00Z\", \"end\": \"2018-05-07T04:00:00Z\"}]");
	expect_error(t, "blackouts[0]: the blackout lies outside the window");
	t = sched_text(win_ok, ",\n  \"blackouts\": [\n    {\"start\": \"2018-05-06T03:00:00Z\", \"until\": \"4h\"}]");
	expect_error(t, "blackouts[0].until: unknown field");
	t = sched_text(win_ok, ",\n  \"blackouts\": {\"start\": \"2018-05-06T03:00:00Z\"}");
	expect_error(t, "blackouts: expected an array of at most 64");
}

/* A percentage is of the schedule's own list, not of the inventory:
 * 50% of the two listed partitions is one at a time. */
Test(schedule, percentage_of_listed_partitions)
{
	struct schedule s;
	const char *text = "{\"name\": \"t\", \"window\": {\"start\": \"2018-05-06T01:00:00Z\", \"end\": \"2018-05-06T05:00:00Z\"},\n"
			   " \"partitions\": [\"p1\", \"p2\"], \"update_duration\": 60, \"max_concurrency\": \"50%\"}";

	load_inv();
	cr_assert_eq(schedule_load(&s, t_write("sched.json", text), &inv), 0, "%s", adp_error_last());
	cr_assert_eq(s.max_concurrency, 1);
	schedule_release(&s);
	inventory_release(&inv);
}

Test(schedule, planner_fields)
{
	struct schedule s;

	load_inv();
	cr_assert_eq(schedule_load(&s, t_write("sched.json", sched_text(win_ok, "")), &inv), 0);
	/* Defaults: no zone limit, the lowest-risk start, shortage shared, moves free. */
	cr_assert_eq(s.max_per_zone, 0);
	cr_assert_eq(s.start_policy, SCHEDULE_START_LOWEST_RISK);
	cr_assert_eq(s.shortage_refuse, 0);
	cr_assert_float_eq(s.weights[SCHEDULE_W_RISK], 10, 1e-12);
	cr_assert_float_eq(s.weights[SCHEDULE_W_MOVES], 0, 1e-12);
	cr_assert_float_eq(s.dependence, 0.5, 1e-12);
	schedule_release(&s);
	cr_assert_eq(schedule_load(&s, t_write("sched.json", sched_text(win_ok, ",\n  \"max_per_zone\": 2,\n  \"start\": \"earliest\",\n"
										 "  \"shortage\": \"refuse\",\n  \"weights\": {\"moves\": 0.5, \"risk\": 3}")),
				   &inv), 0, "%s", adp_error_last());
	cr_assert_eq(s.max_per_zone, 2);
	cr_assert_eq(s.start_policy, SCHEDULE_START_EARLIEST);
	cr_assert_eq(s.shortage_refuse, 1);
	cr_assert_float_eq(s.weights[SCHEDULE_W_MOVES], 0.5, 1e-12);
	cr_assert_float_eq(s.weights[SCHEDULE_W_RISK], 3, 1e-12);
	cr_assert_float_eq(s.weights[SCHEDULE_W_WASTE], 1, 1e-12, "unset weights keep their defaults");
	schedule_release(&s);
	inventory_release(&inv);
}

Test(schedule, planner_field_errors)
{
	const char *text;

	text = sched_text(win_ok, ",\n  \"max_per_zone\": 0");
	expect_error(text, at_line(text, "max_per_zone", "max_per_zone"));
	expect_error(text, "max_per_zone: expected at least 1 partition of a zone at a time");
	text = sched_text(win_ok, ",\n  \"start\": \"noon\"");
	expect_error(text, at_line(text, "noon", "start"));
	expect_error(text, "start: expected \"lowest-risk\" or \"earliest\"");
	text = sched_text(win_ok, ",\n  \"shortage\": true");
	expect_error(text, at_line(text, "shortage", "shortage"));
	expect_error(text, "shortage: expected \"share\" or \"refuse\"");
	expect_error(sched_text(win_ok, ",\n  \"weights\": [1]"), "weights: expected an object");
	expect_error(sched_text(win_ok, ",\n  \"weights\": {\"speed\": 1}"), "weights.speed: unknown field");
	expect_error(sched_text(win_ok, ",\n  \"weights\": {\"risk\": -1}"), "weights.risk: -1 is out of range");
	text = sched_text(win_ok, ",\n  \"order\": \"random\"");
	expect_error(text, at_line(text, "random", "order"));
	expect_error(text, "order: expected \"listed\" or \"lightest-first\"");
	text = sched_text(win_ok, ",\n  \"dependence\": 1.5");
	expect_error(text, at_line(text, "dependence", "dependence"));
	expect_error(text, "dependence: 1.5 is out of range");
}

/* A forecast reads the window (and the step, period and confidence):
 * name, partitions and update_duration may be absent, and a window
 * starting between two steps is refused, not moved. */
Test(schedule, forecast_needs_only_the_window)
{
	const char *only = "{\n  \"window\": {\"start\": \"2018-05-06T01:00:00Z\", \"duration\": \"4h\"}\n}\n";
	const char *off = "{\n  \"step\": \"5m\",\n  \"window\": {\n    \"start\": \"2018-05-06T01:02:00Z\",\n"
			  "    \"end\": \"2018-05-06T05:00:00Z\"}\n}\n";
	struct schedule s;

	cr_assert_eq(schedule_load_mode(&s, t_write("sched.json", only), NULL, SCHEDULE_FORECAST), 0, "%s",
		     adp_error_last());
	cr_assert_str_eq(s.name, "");
	cr_assert_eq(s.npartitions, 0);
	cr_assert_eq(s.start, MAY6 + 3600);
	cr_assert_eq(s.end, MAY6 + 5 * 3600);
	cr_assert_eq(s.step, 300);
	cr_assert_float_eq(s.confidence[ADP_RES_MEMORY], 0.99, 1e-12);
	schedule_release(&s);
	/* The same file is not a schedule to plan with. */
	cr_assert_eq(schedule_load(&s, t_path("sched.json"), NULL), ADP_EINPUT);
	t_assert_msg("sched.json: missing required field 'name'");
	/* What is given is checked as for a plan. */
	load_inv();
	cr_assert_eq(schedule_load_mode(&s, t_write("sched.json", sched_text(win_ok, ",\n  \"max_concurrency\": 0")),
					&inv, SCHEDULE_FORECAST),
		     ADP_EINPUT);
	t_assert_msg("max_concurrency: expected at least 1 partition");
	cr_assert_eq(schedule_load_mode(&s, t_write("sched.json", sched_text(win_ok, "")), &inv, SCHEDULE_FORECAST), 0,
		     "%s", adp_error_last());
	cr_assert_eq(s.npartitions, 4);
	cr_assert_eq(s.update_duration[0], 2400);
	schedule_release(&s);
	inventory_release(&inv);
	/* Off the step grid: an error naming the field, the step and the
	 * starts on either side; a plan still takes it. */
	cr_assert_eq(schedule_load_mode(&s, t_write("sched.json", off), NULL, SCHEDULE_FORECAST), ADP_EINPUT);
	t_assert_msg("sched.json:4: window.start: 2018-05-06T01:02:00Z is not on the 5m step grid (forecast steps start "
		     "at multiples of the step since the epoch, UTC): start the window at 2018-05-06T01:00:00Z or "
		     "2018-05-06T01:05:00Z, or change the step");
}
