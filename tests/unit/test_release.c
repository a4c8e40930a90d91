/* Every public destructor of the core accepts NULL, as free(3) does, so
 * that a "goto done" cleanup needs no guard (cf. systemd's destructors). */
#include <criterion/criterion.h>

#include "forecast/forecast.h"
#include "history/history.h"
#include "history/profiler.h"
#include "history/source.h"
#include "orchestrator/exec/driver.h"
#include "orchestrator/kube/client.h"
#include "orchestrator/kube/driver.h"
#include "orchestrator/local/driver.h"
#include "partition/exact_plan.h"
#include "partition/inventory.h"
#include "partition/schedule.h"
#include "partition/simulate.h"
#include "plans/plan.h"
#include "plans/store.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/jsonutil.h"

Test(release, util_accepts_null)
{
	adp_buf_release(NULL);
	adp_json_release(NULL);
}

Test(release, stages_accept_null)
{
	history_release(NULL);
	history_source_release(NULL);
	profiler_free(NULL);
	prof_writer_close(NULL);
	forecast_release(NULL);
	forecast_deps_release(NULL);
	plan_release(NULL);
	plan_wave_release(NULL);
	plan_store_free(NULL);
	inventory_release(NULL);
	schedule_release(NULL);
	part_exact_plan_release(NULL);
	part_sim_release(NULL);
}

Test(release, drivers_accept_null)
{
	orch_exec_release(NULL);
	orch_local_release(NULL);
	orch_kube_release(NULL);
	kube_client_release(NULL);
	kube_config_release(NULL);
}

/* Released twice: the first release leaves an empty buffer, cap kept. */
Test(release, buf_twice_keeps_cap)
{
	struct adp_buf b;

	adp_buf_init(&b, 16);
	cr_assert_eq(adp_buf_adds(&b, "0123456789"), 0);
	adp_buf_release(&b);
	cr_assert_null(b.data);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(b.cap, 16);
	adp_buf_release(&b);
	cr_assert_eq(adp_buf_adds(&b, "0123456789abcdefg"), ADP_ENOMEM);
	cr_assert_str_eq(adp_buf_str(&b), "");
}
