/* A fixture shared by the engine's and the drivers' unit tests: the
 * demo plan, planned at a fixed time and written as plan.json into the
 * test's own directory (t_dir, tests/unit/helpers.h). */
#ifndef ADP_TEST_ENGINE_FIXTURE_H
#define ADP_TEST_ENGINE_FIXTURE_H

#include <jansson.h>
#include <stdint.h>

#include "partition/planner.h"
#include "plans/plan.h"
#include "tests/unit/helpers.h"
#include "util/error.h"
#include "util/timeutil.h"

struct engine_fixture {
	char plan_path[512]; /* t_dir/plan.json */
	struct plan plan;    /* owned: released by engine_fixture_release */
	int64_t now;         /* 2018-05-06T00:00:00Z, when the plan was made */
	int64_t start;       /* the plan's start: the earliest apply may begin */
};

/* A new t_dir with the demo plan in it; asserts on every failure. */
static inline void engine_fixture_init(struct engine_fixture *fx)
{
	struct part_run_opts o = { 0 };

	memset(fx, 0, sizeof(*fx));
	t_setup();
	snprintf(fx->plan_path, sizeof(fx->plan_path), "%s", t_path("plan.json"));
	cr_assert_eq(adp_time_parse(&fx->now, "2018-05-06T00:00:00Z", NULL), 0);
	o.inventory = "testdata/demo/inventory.json";
	o.schedule = "testdata/demo/schedule.json";
	o.now = fx->now;
	o.tool_version = "test";
	cr_assert_eq(part_run(&fx->plan, &o), 0, "%s", adp_error_last());
	cr_assert_gt(fx->plan.nsteps, 10);
	cr_assert_eq(plan_write(&fx->plan, fx->plan_path), 0, "%s", adp_error_last());
	fx->start = fx->plan.waves[0].start;
}

/* Releases the plan and removes t_dir. */
static inline void engine_fixture_release(struct engine_fixture *fx)
{
	plan_release(&fx->plan);
	t_teardown();
}

/* A whole file, NUL-terminated (owned: free), its size in *len. */
static inline char *engine_fixture_read(const char *path, long *len)
{
	FILE *f = fopen(path, "r");
	char *text;

	cr_assert_not_null(f, "cannot open '%s'", path);
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	rewind(f);
	text = calloc((size_t)*len + 1, 1);
	cr_assert_not_null(text);
	cr_assert_eq(fread(text, 1, (size_t)*len, f), (size_t)*len);
	fclose(f);
	return text;
}

/* Writes len bytes of text to path. */
static inline void engine_fixture_write(const char *path, const char *text, long len)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "cannot create '%s'", path);
	cr_assert_eq(fwrite(text, 1, (size_t)len, f), (size_t)len);
	cr_assert_eq(fclose(f), 0);
}

/* The JSON document at path (owned: json_decref); asserts it parses. */
static inline json_t *engine_fixture_json(const char *path)
{
	json_error_t e;
	json_t *j = json_load_file(path, 0, &e);

	cr_assert_not_null(j, "'%s': %s", path, e.text);
	return j;
}

#endif
