/* The driver registry: lookup by name, the names for messages, every
 * driver's inventory check run through it, and a driver made and freed
 * through it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "orchestrator/drivers.h"
#include "util/error.h"

static char dir[64], path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/adp-drivers-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/inv.json", dir);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(drivers, .init = setup, .fini = teardown);

Test(drivers, lookup_by_name)
{
	char names[128];
	size_t i;

	cr_assert_str_eq(orch_drivers[0].name, "local", "the default comes first");
	for (i = 0; orch_drivers[i].name; i++) {
		cr_assert_eq(orch_driver_find(orch_drivers[i].name), &orch_drivers[i]);
		cr_assert(orch_drivers[i].summary && orch_drivers[i].init && orch_drivers[i].release &&
			  orch_drivers[i].state_size);
	}
	cr_assert_eq(i, 3);
	cr_assert_null(orch_driver_find("nomad"));
	cr_assert_null(orch_driver_find(NULL));
	orch_driver_names(names, sizeof(names));
	cr_assert_str_eq(names, "local, kubernetes or exec");
	orch_driver_names(names, 9);
	cr_assert_str_eq(names, "local, k", "cut, still a string");
}

static void write_inv(const char *kind)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fprintf(f, "{\"partitions\": [{\"name\": \"n1\", \"capacity\": {\"cpu\": 2, \"memory\": \"4GiB\"}}],\n"
		   " \"components\": [{\"name\": \"web\", \"replicas\": 1, \"placement\": [\"n1\"],\n"
		   "  \"kubernetes\": {\"namespace\": \"shop\", \"kind\": \"%s\", \"name\": \"web\"}}]}\n",
		kind);
	cr_assert_eq(fclose(f), 0);
}

Test(drivers, every_drivers_inventory_check_runs)
{
	struct inventory inv;
	char want[600];

	write_inv("Deployment");
	cr_assert_eq(inventory_load(&inv, path), 0, "%s", adp_error_last());
	cr_assert_eq(orch_drivers_config_check(&inv), 0, "%s", adp_error_last());
	inventory_release(&inv);
	write_inv("Job");
	cr_assert_eq(inventory_load(&inv, path), 0, "%s", adp_error_last());
	cr_assert_eq(orch_drivers_config_check(&inv), ADP_EINPUT);
	snprintf(want, sizeof(want), "%s:3: components[0].kubernetes.kind: 'Job' is not Deployment or StatefulSet",
		 path);
	cr_assert(strstr(adp_error_last(), want), "%s", adp_error_last());
	inventory_release(&inv);
}

Test(drivers, new_and_free)
{
	const struct orch_driver_info *x = orch_driver_find("exec");
	struct orch_driver_opts o = { 0 };
	struct orch_driver d;
	struct inventory inv = { 0 };
	void *state = NULL;
	size_t i;

	cr_assert_eq(orch_driver_new(&state, &d, x, &inv, NULL, dir, &o), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "needs a hook program"), "%s", adp_error_last());
	cr_assert_null(state, "nothing made on failure");
	o.hook = "/bin/true";
	cr_assert_eq(orch_driver_new(&state, &d, x, &inv, NULL, dir, &o), 0, "%s", adp_error_last());
	cr_assert_not_null(state);
	cr_assert_eq(d.ctx, state);
	cr_assert(d.check && d.cancel && d.ops);
	for (i = 0; i < PLAN_ACTION_COUNT; i++)
		cr_assert_not_null(d.ops[i], "every action reaches the hook (slot %zu)", i);
	orch_driver_free(x, state);
	orch_driver_free(x, NULL);
}
