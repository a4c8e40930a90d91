/* partition/inventory: the demo file, and every class of input error
 * naming the file, the line and the JSON path. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "partition/inventory.h"
#include "tests/unit/helpers.h"
#include "tests/unit/invfix.h"
#include "util/error.h"

TestSuite(inventory, .init = t_setup, .fini = t_teardown);

/* Loads text as inv.json and expects failure with needle in the message. */
static void expect_error(const char *text, const char *needle)
{
	struct inventory inv;

	memset(&inv, 0x5a, sizeof(inv));
	cr_assert_eq(inventory_load(&inv, t_write("inv.json", text)), ADP_EINPUT, "accepted:\n%s", text);
	t_assert_msg(needle);
	/* Out-params are written only on success. */
	cr_assert_eq(inv.nparts, (size_t)0x5a5a5a5a5a5a5a5aULL);
}

Test(inventory, demo_loads)
{
	struct inventory inv;
	int a, m;

	cr_assert_eq(inventory_load(&inv, "testdata/demo/inventory.json"), 0, "%s", adp_error_last());
	cr_assert_eq(inv.nparts, 4);
	cr_assert_gt(inv.ncomps, 0);
	a = inventory_partition_index(&inv, "node-a");
	cr_assert_eq(a, 0);
	cr_assert_eq(inventory_partition_index(&inv, "node-z"), -1);
	cr_assert_float_eq(inv.parts[a].capacity[ADP_RES_CPU], 8, 1e-12);
	cr_assert_float_eq(inv.parts[a].capacity[ADP_RES_MEMORY], 32.0 * 1073741824, 1);
	cr_assert_float_eq(inv.parts[a].capacity[ADP_RES_IO], 400e6, 1e-3);
	cr_assert_float_eq(inv.parts[a].capacity[ADP_RES_NET], 125e6, 1e-3);
	cr_assert_str_eq(inv.parts[a].zone, "zone-1");
	m = inventory_component_index(&inv, "mongo-01");
	cr_assert_geq(m, 0);
	cr_assert_eq(inv.comps[m].replicas, 2);
	cr_assert_eq(inv.comps[m].placement[0], (size_t)a);
	cr_assert_eq(inv.comps[m].placement[1], (size_t)inventory_partition_index(&inv, "node-c"));
	cr_assert_float_eq(inv.comps[m].min[ADP_RES_MEMORY], 512.0 * 1048576, 1e-6);
	cr_assert_eq(inv.comps[m].history.format, HISTORY_SOURCE_COLUMNS);
	cr_assert_str_eq(inv.comps[m].history.path, "testdata/demo/history/mongo-01.csv");
	cr_assert_str_eq(inv.comps[m].history.map.res[ADP_RES_CPU].column, "Value");
	cr_assert_float_eq(inv.comps[m].history.map.res[ADP_RES_MEMORY].offset, 4.0 * 1073741824, 1);
	inventory_release(&inv);
	inventory_release(&inv); /* releasing twice is safe */
	inventory_release(NULL);
}

/* inventory_load_history of inv, with the long-format file extra (or
 * none), until now, expecting rc; h stays loaded for the caller to
 * release. The number of files read. */
static size_t load_history(struct history *h, const struct inventory *inv, const char *extra, int64_t now, int rc)
{
	struct history_opts o = { 300, 3600, now };
	const char *ex[1] = { extra };
	char **files = NULL;
	size_t nfiles = 0, i;

	history_init(h);
	cr_assert_eq(inventory_load_history(h, inv, ex, extra ? 1 : 0, &o, &files, &nfiles), rc, "%s",
		     adp_error_last());
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	return nfiles;
}

Test(inventory, demo_history_loads)
{
	struct inventory inv;
	struct history h;
	size_t i;

	cr_assert_eq(inventory_load(&inv, "testdata/demo/inventory.json"), 0);
	cr_assert_gt(load_history(&h, &inv, NULL, 1525564800, 0), 0);
	for (i = 0; i < inv.ncomps; i++)
		cr_assert_not_null(history_find(&h, inv.comps[i].name, ADP_RES_CPU), "%s", inv.comps[i].name);
	history_release(&h);
	inventory_release(&inv);
}

Test(inventory, fixture_defaults)
{
	struct inventory inv;
	const char *text = inv_text("", "0.25", good_rest);

	cr_assert_eq(inventory_load(&inv, t_write("inv.json", text)), 0, "%s", adp_error_last());
	cr_assert_eq(inv.ncomps, 4);
	cr_assert_eq(inv.comps[0].tier, INV_MAX_TIER);
	cr_assert_eq(inv.comps[0].replicas, 1);
	cr_assert_eq(inv.comps[1].tier, 1);
	cr_assert_eq(inv.comps[1].placement[1], 1);
	cr_assert_float_eq(inv.comps[3].min[ADP_RES_CPU], 0.25, 1e-12);
	cr_assert_float_eq(inv.comps[3].min[ADP_RES_IO], 0, 1e-12);
	cr_assert_str_eq(inv.parts[1].zone, "");
	cr_assert_float_eq(inv.parts[1].capacity[ADP_RES_NET], 0, 1e-12);
	cr_assert_eq(inv.comps[0].history.format, HISTORY_SOURCE_NONE);
	inventory_release(&inv);
}

Test(inventory, malformed_json_line_column)
{
	const char *text = "{\n  \"partitions\": [\n    {\"name\": \"p1\",,}\n  ]\n}\n";

	/* The second comma is the nineteenth character of line 3. */
	expect_error(text, "inv.json:3:19: malformed JSON");
}

Test(inventory, unknown_field)
{
	const char *text = inv_text("\n      \"colour\": \"red\",", "0.25", good_rest);

	expect_error(text, at_line(text, "colour", "partitions[0].colour"));
	t_assert_msg("unknown field; expected one of: name, zone, capacity");
}

Test(inventory, wrong_type_names_path_and_line)
{
	const char *text = inv_text("", "\"lots\"", good_rest);

	expect_error(text, at_line(text, "\"lots\"", "components[3].min.cpu"));
	t_assert_msg("expected a non-negative number or a quantity");
	text = inv_text("", "true", good_rest);
	expect_error(text, at_line(text, "true", "components[3].min.cpu"));
	text = inv_text("", "-1", good_rest);
	expect_error(text, at_line(text, "-1", "components[3].min.cpu"));
	t_assert_msg("out of range");
}

/* components[3] given rest: the error names needle's line and path, and
 * says msg. */
static void expect_comp3(const char *rest, const char *needle, const char *path, const char *msg)
{
	const char *text = inv_text("", "0.25", rest);

	expect_error(text, at_line(text, needle, path));
	t_assert_msg(msg);
}

Test(inventory, unknown_partition_in_placement)
{
	expect_comp3("\"placement\": [\"p4\", \"p9\"], \"replicas\": 2", "\"p9\"", "components[3].placement[1]",
		     "unknown partition 'p9'");
}

Test(inventory, duplicate_replica_placement)
{
	expect_comp3("\"placement\": [\"p4\", \"p4\"]", "\"p4\", \"p4\"", "components[3].placement[1]",
		     "partition 'p4' already holds a replica of 'c3'");
}

Test(inventory, replicas_placement_mismatch)
{
	expect_comp3("\"replicas\": 3, \"placement\": [\"p1\", \"p4\"]", "\"replicas\": 3", "components[3].placement",
		     "places 2 replicas, but replicas is 3");
}

Test(inventory, missing_placement_and_name)
{
	const char *text = inv_text("", "0.25", "\"tier\": 2");

	expect_error(text, "components[3]: missing required field 'placement'");
	text = "{\"partitions\": [{\"capacity\": {\"cpu\": 1, \"memory\": 1}}], \"components\": []}";
	expect_error(text, "inv.json:1: partitions[0]: missing required field 'name'");
}

Test(inventory, bad_tier_and_names)
{
	const char *text = inv_text("", "0.25", "\"tier\": 1.5, \"placement\": [\"p4\"]");

	expect_error(text, "components[3].tier: expected a whole number");
	text = inv_text("", "0.25", "\"tier\": 10, \"placement\": [\"p4\"]");
	expect_error(text, "components[3].tier: 10 is out of range");
	expect_error("{\"partitions\": [{\"name\": \"a b\", \"capacity\": {\"cpu\": 1, \"memory\": 1}}], \"components\": []}",
		     "partitions[0].name: 'a b' is not a valid name");
	/* Names become cgroup and file names: "." and ".." would escape. */
	expect_error("{\"partitions\": [{\"name\": \"..\", \"capacity\": {\"cpu\": 1, \"memory\": 1}}], \"components\": []}",
		     "partitions[0].name: '..' is not a valid name");
	expect_error("{\"partitions\": [{\"name\": \"p\", \"capacity\": {\"cpu\": 1, \"memory\": 1}}], \"components\": "
		     "[{\"name\": \".\", \"placement\": [\"p\"]}]}",
		     "components[0].name: '.' is not a valid name");
	expect_error("{\"partitions\": [{\"name\": \"a\", \"capacity\": {\"cpu\": 1, \"memory\": 1}},\n"
		     " {\"name\": \"a\", \"capacity\": {\"cpu\": 1, \"memory\": 1}}], \"components\": []}",
		     "inv.json:2: partitions[1].name: partition 'a' is defined twice");
}

Test(inventory, capacity_errors)
{
	expect_error("{\"partitions\": [{\"name\": \"a\"}], \"components\": []}",
		     "partitions[0]: missing required field 'capacity'");
	expect_error("{\"partitions\": [{\"name\": \"a\", \"capacity\": {\"cpu\": 1}}], \"components\": []}",
		     "partitions[0].capacity: missing required field 'memory'");
	expect_error("{\"partitions\": [{\"name\": \"a\", \"capacity\": {\"cpu\": 0, \"memory\": 1}}], \"components\": []}",
		     "partitions[0].capacity: cpu and memory capacity must be positive");
	expect_error("{\"partitions\": [{\"name\": \"a\", \"capacity\": {\"cpu\": 1, \"memory\": \"8XB\"}}], \"components\": []}",
		     "partitions[0].capacity.memory: expected a non-negative number or a quantity");
	expect_error("{\"partitions\": [{\"name\": \"a\", \"capacity\": {\"cpu\": 1, \"memory\": 1, \"gpu\": 1}}], \"components\": []}",
		     "partitions[0].capacity.gpu: unknown field");
}

Test(inventory, top_level_errors)
{
	expect_error("{\"components\": []}", "inv.json: missing required field 'partitions'");
	expect_error("{\"partitions\": [], \"components\": []}", "inv.json:1: partitions: expected a non-empty array");
	expect_error("{\"partitions\": [{\"name\": \"a\", \"capacity\": {\"cpu\": 1, \"memory\": 1}}]}",
		     "inv.json: missing required field 'components'");
	expect_error("{\"partitions\": [{\"name\": \"a\", \"capacity\": {\"cpu\": 1, \"memory\": 1}}], \"components\": {}}",
		     "components: expected an array");
	expect_error("{\"partitions\": [], \"components\": [], \"extra\": 1}", "inv.json:1: extra: unknown field");
	expect_error("[]", "inv.json:1: expected a JSON object at the top level");
}

Test(inventory, missing_file)
{
	struct inventory inv;

	cr_assert_eq(inventory_load(&inv, t_path("none.json")), ADP_EINPUT);
	t_assert_msg("cannot open '");
}

Test(inventory, history_spec_errors)
{
	/* components[3]'s history section, and the error it gets. */
	static const char *const cases[][2] = {
		{ "{\"file\": \"h.csv\", \"format\": \"wide\"}",
		  "components[3].history.format: unknown format 'wide'" },
		{ "{\"file\": \"h.csv\"}",
		  "components[3].history: expected \"columns\"" },
		{ "{\"file\": \"h.csv\", \"columns\": {}}",
		  "components[3].history.columns: names no resource" },
		{ "{\"file\": \"h.csv\", \"columns\": {\"cpu\": {\"scale\": 2}}}",
		  "components[3].history.columns.cpu: missing required field 'column'" },
		{ "{\"file\": \"h.csv\", \"timezone\": \"Mars/Base\", \"columns\": {\"cpu\": \"v\"}}",
		  "components[3].history.timezone: unknown time zone 'Mars/Base'" },
		{ "{\"file\": \"h.csv\", \"format\": \"long\", \"columns\": {\"cpu\": \"v\"}}",
		  "components[3].history.columns: a long-format file names its columns itself" },
	};
	char rest[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(rest, sizeof(rest), "\"placement\": [\"p4\"], \"history\": %s", cases[i][0]);
		expect_error(inv_text("", "0.25", rest), cases[i][1]);
	}
}

Test(inventory, history_relative_to_inventory)
{
	struct inventory inv;
	const char *text = inv_text("", "0.25",
				    "\"placement\": [\"p4\"], \"history\": {\"file\": \"h/c3.csv\", \"time_column\": \"t\", \"columns\": {\"cpu\": {\"column\": \"v\", \"scale\": 0.5, \"offset\": \"1k\"}, \"net\": \"n\"}}");
	char want[600];

	cr_assert_eq(inventory_load(&inv, t_write("inv.json", text)), 0, "%s", adp_error_last());
	snprintf(want, sizeof(want), "%s/h/c3.csv", t_dir);
	cr_assert_str_eq(inv.comps[3].history.path, want);
	cr_assert_str_eq(inv.comps[3].history.map.time_column, "t");
	cr_assert_float_eq(inv.comps[3].history.map.res[ADP_RES_CPU].scale, 0.5, 1e-12);
	cr_assert_float_eq(inv.comps[3].history.map.res[ADP_RES_CPU].offset, 1000, 1e-12);
	cr_assert_str_eq(inv.comps[3].history.map.res[ADP_RES_NET].column, "n");
	cr_assert_float_eq(inv.comps[3].history.map.res[ADP_RES_NET].scale, 1, 1e-12);
	inventory_release(&inv);
}

Test(inventory, load_history_errors)
{
	struct inventory inv;
	struct history h;

	cr_assert_eq(inventory_load(&inv, t_write("inv.json", inv_text("", "0.25", good_rest))), 0);
	/* A long file naming a component the inventory lacks. */
	load_history(&h, &inv, t_write("h.csv", "timestamp,component,resource,value\n1525564800,ghost,cpu,1\n"), 0,
		     ADP_EINPUT);
	t_assert_msg("history names component 'ghost', which the inventory");
	history_release(&h);
	/* A component with no history at all. */
	load_history(&h, &inv,
		     t_write("h2.csv", "timestamp,component,resource,value\n1525564800,c0,cpu,1\n1525564800,c1,cpu,1\n"
				       "1525564800,c2,cpu,1\n"),
		     0, ADP_EINPUT);
	t_assert_msg("component 'c3' has no history");
	history_release(&h);
	inventory_release(&inv);
}

/* A forecast reads components and their history: partitions,
 * capacities and placement may be absent; what is given is checked as
 * for a plan, which still needs them all. */
Test(inventory, forecast_needs_only_components)
{
	const char *only = "{\"components\": [\n"
			   " {\"name\": \"web\", \"history\": {\"file\": \"h.csv\", \"format\": \"long\"}},\n"
			   " {\"name\": \"db\", \"tier\": 0}]}\n";
	const char *nocap = "{\"partitions\": [{\"name\": \"p1\"}],\n"
			    " \"components\": [{\"name\": \"web\", \"placement\": [\"p1\"]},\n"
			    "  {\"name\": \"db\", \"placement\": [\"p2\"]}]}\n";
	struct inventory inv;

	cr_assert_eq(inventory_load_mode(&inv, t_write("inv.json", only), INVENTORY_FORECAST), 0, "%s",
		     adp_error_last());
	cr_assert_eq(inv.nparts, 0);
	cr_assert_eq(inv.ncomps, 2);
	cr_assert_eq(inv.comps[0].replicas, 0);
	cr_assert_null(inv.comps[0].placement);
	cr_assert_eq(inv.comps[0].history.format, HISTORY_SOURCE_LONG);
	cr_assert_eq(inv.comps[1].tier, 0);
	inventory_release(&inv);
	expect_error(only, "inv.json: missing required field 'partitions'");
	/* A partition without capacity is fine; a placement on a partition
	 * that is not there is not. */
	cr_assert_eq(inventory_load_mode(&inv, t_write("inv.json", nocap), INVENTORY_FORECAST), ADP_EINPUT);
	t_assert_msg("inv.json:3: components[1].placement[0]: unknown partition 'p2'");
	expect_error(nocap, "inv.json:1: partitions[0]: missing required field 'capacity'");
	cr_assert_eq(inventory_load_mode(&inv, t_write("inv.json", "{\"partitions\": [], \"components\": []}"),
					 INVENTORY_FORECAST),
		     0, "%s", adp_error_last());
	inventory_release(&inv);
	expect_error("{\"partitions\": [], \"components\": []}", "partitions: expected a non-empty array");
}
