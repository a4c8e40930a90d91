/* The inventory (partitions, components, their history sections and
 * the drivers' parts), as plan and as forecast read it. */
#include "orchestrator/local/driver.h"
#include "partition/inventory.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[FUZZ_PATH_MAX];
	struct inventory inv = { 0 };
	int fd = fuzz_file(data, size, path), rc;
	size_t i;

	adp_error_clear();
	rc = inventory_load(&inv, path);
	fuzz_check_load(rc, &inv, sizeof(inv));
	for (i = 0; !rc && i < inv.ncomps; i++)
		if (inventory_component_index(&inv, inv.comps[i].name) != (int)i)
			fuzz_die("a component its own name does not find");
	for (i = 0; !rc && i < inv.nparts; i++)
		if (inventory_partition_index(&inv, inv.parts[i].name) != (int)i)
			fuzz_die("a partition its own name does not find");
	/* The local driver's sections, kept raw by the load, checked by it. */
	if (!rc) {
		adp_error_clear();
		fuzz_check_rc(orch_local_config_check(&inv));
	}
	inventory_release(&inv);
	/* forecast's reading: partitions, capacities and placement optional. */
	adp_error_clear();
	rc = inventory_load_mode(&inv, path, INVENTORY_FORECAST);
	fuzz_check_load(rc, &inv, sizeof(inv));
	for (i = 0; !rc && i < inv.ncomps; i++)
		if (inv.comps[i].replicas && !inv.comps[i].placement)
			fuzz_die("replicas without a placement");
	inventory_release(&inv);
	close(fd);
	return 0;
}
