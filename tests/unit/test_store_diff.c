/* plan_diff on hand-made plan documents: each kind of change is found once. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "plans/diff.h"

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	cr_assert_not_null(j, "%s", e.text);
	return j;
}

static const json_t *find(const json_t *d, const char *op, const char *what, const char *key)
{
	size_t i;
	json_t *c;

	json_array_foreach(d, i, c)
		if (!strcmp(json_string_value(json_object_get(c, "op")), op) &&
		    !strcmp(json_string_value(json_object_get(c, "what")), what) &&
		    !strcmp(json_string_value(json_object_get(c, "key")), key))
			return c;
	return NULL;
}

#define PL(c, r, p, cpu) "{\"component\":\"" c "\",\"replica\":" #r ",\"partition\":\"" p "\",\"allocation\":{\"cpu\":" #cpu "}}"

Test(plan_diff, identical_plans_have_no_changes)
{
	json_t *a = load("{\"waves\":[{\"offline\":[\"n1\"],\"placements\":[" PL("db", 0, "n2", 1) "]}],\"risks\":[\"r\"]}");
	json_t *d = NULL;

	cr_assert_eq(plan_diff(&d, a, a), 0);
	cr_assert_eq(json_array_size(d), 0);
	json_decref(d);
	json_decref(a);
}

Test(plan_diff, waves_placements_allocations_risks)
{
	json_t *a = load("{\"waves\":[{\"offline\":[\"n1\"],\"placements\":[" PL("db", 0, "n2", 1) "," PL("web", 0, "n2", 1) ","
			 PL("gone", 0, "n2", 1) "]}],\"risks\":[\"old risk\",\"kept\"]}");
	json_t *b = load("{\"waves\":[{\"offline\":[\"n1\",\"n3\"],\"placements\":[" PL("db", 0, "n4", 1) "," PL("web", 0, "n2", 2) ","
			 PL("new", 1, "n2", 1) "]},{\"offline\":[\"n2\"],\"placements\":[]}],\"risks\":[\"kept\",\"new risk\"]}");
	json_t *d = NULL;
	const json_t *c;

	cr_assert_eq(plan_diff(&d, a, b), 0);
	cr_assert_not_null(find(d, "~", "wave", "wave 1"));
	cr_assert_not_null(c = find(d, "+", "wave", "wave 2"));
	cr_assert(json_is_null(json_object_get(c, "from")));
	cr_assert_not_null(c = find(d, "~", "placement", "wave 1 db#0"));
	cr_assert_str_eq(json_string_value(json_object_get(c, "from")), "n2");
	cr_assert_str_eq(json_string_value(json_object_get(c, "to")), "n4");
	cr_assert_not_null(c = find(d, "~", "allocation", "wave 1 web#0"));
	cr_assert_eq(json_number_value(json_object_get(json_object_get(c, "to"), "cpu")), 2);
	cr_assert_not_null(find(d, "-", "placement", "wave 1 gone#0"));
	cr_assert_not_null(find(d, "+", "placement", "wave 1 new#1"));
	cr_assert_not_null(find(d, "-", "risk", "risk"));
	cr_assert_not_null(find(d, "+", "risk", "risk"));
	cr_assert_eq(json_array_size(d), 8, "kept risk and nothing else: %zu changes", json_array_size(d));
	json_decref(d);

	/* A reservation and an input that changed, the input first. */
	json_object_set_new(json_array_get(json_object_get(json_array_get(json_object_get(b, "waves"), 0), "placements"), 1),
			    "reservation", json_pack("{s:f}", "cpu", 0.5));
	json_object_set_new(a, "inputs", json_pack("[{s:s,s:s,s:s}]", "kind", "history", "path", "h.csv", "sha256", "aa"));
	json_object_set_new(b, "inputs", json_pack("[{s:s,s:s,s:s}]", "kind", "history", "path", "h.csv", "sha256", "bb"));
	cr_assert_eq(plan_diff(&d, a, b), 0);
	cr_assert_not_null(find(d, "~", "input", "h.csv"));
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(d, 0), "what")), "input");
	cr_assert_not_null(find(d, "~", "reservation", "wave 1 web#0"));
	cr_assert_eq(json_array_size(d), 10, "%zu changes", json_array_size(d));
	json_decref(d);
	json_object_del(a, "inputs");
	json_object_del(b, "inputs");
	json_object_del(json_array_get(json_object_get(json_array_get(json_object_get(b, "waves"), 0), "placements"), 1),
			"reservation");

	/* The reverse diff mirrors it. */
	cr_assert_eq(plan_diff(&d, b, a), 0);
	cr_assert_not_null(find(d, "-", "wave", "wave 2"));
	cr_assert_eq(json_array_size(d), 8);
	json_decref(d);
	json_decref(a);
	json_decref(b);
}

/* The consolidation advice: a partition that could go empty in one plan
 * and not the other, either way; a plan without the block (older, or
 * one that does not fit) has none. */
Test(plan_diff, consolidation_advice)
{
	json_t *a = load("{\"waves\":[],\"consolidation\":{\"checked\":true,\"partitions\":[\"n1\",\"n2\"]}}");
	json_t *b = load("{\"waves\":[],\"consolidation\":{\"checked\":true,\"partitions\":[\"n2\",\"n3\"]}}");
	json_t *none = load("{\"waves\":[]}"), *d = NULL;
	const json_t *c;

	cr_assert_eq(plan_diff(&d, a, b), 0);
	cr_assert_not_null(c = find(d, "-", "consolidation", "n1"));
	cr_assert_str_eq(json_string_value(json_object_get(c, "from")), "could go empty");
	cr_assert_not_null(c = find(d, "+", "consolidation", "n3"));
	cr_assert_str_eq(json_string_value(json_object_get(c, "to")), "could go empty");
	cr_assert_eq(json_array_size(d), 2, "n2 is in both: %zu changes", json_array_size(d));
	json_decref(d);
	cr_assert_eq(plan_diff(&d, none, b), 0);
	cr_assert_eq(json_array_size(d), 2);
	cr_assert_not_null(find(d, "+", "consolidation", "n2"));
	json_decref(d);
	cr_assert_eq(plan_diff(&d, b, b), 0);
	cr_assert_eq(json_array_size(d), 0);
	json_decref(d);
	json_decref(a);
	json_decref(b);
	json_decref(none);
}
