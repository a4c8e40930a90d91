/* The etcd fleet semaphore's parts that need no server: its options
 * (endpoints, group, slots, TTL, TLS files) and an etcd that cannot be
 * reached, which fails closed. Against a real etcd: tests/cli/t-fleet.sh. */
#include <criterion/criterion.h>
#include <string.h>

#include "orchestrator/fleet/fleet.h"
#include "tests/unit/helpers.h"
#include "util/error.h"

TestSuite(fleet, .init = t_setup, .fini = t_teardown);

Test(fleet, semaphore_options_are_checked_before_etcd_is_asked)
{
	struct fleet_semaphore *s = NULL;
	struct fleet_opts o = { .endpoints = "http://127.0.0.1:1", .group = "g" };

	cr_assert_eq(fleet_endpoints_check("http://127.0.0.1:2379,https://etcd-1.example:2379/"), 0, "%s",
		     adp_error_last());
	cr_assert_eq(fleet_endpoints_check("etcd:2379"), ADP_EINPUT);
	t_assert_msg("'etcd:2379' is not http://HOST:PORT or https://HOST:PORT");
	cr_assert_eq(fleet_endpoints_check("http://u:secret@etcd:2379"), ADP_EINPUT);
	cr_assert_null(strstr(adp_error_last(), "secret"), "%s", adp_error_last());
	cr_assert_eq(fleet_endpoints_check("http://a:1, http://b:2"), ADP_EINPUT);
	cr_assert_eq(fleet_endpoints_check("http://a:1/v3"), ADP_EINPUT);
	cr_assert_eq(fleet_endpoints_check(""), ADP_EINPUT);
	cr_assert_eq(fleet_group_check("kernel-2018.05_a"), 0);
	cr_assert_eq(fleet_group_check("a/b"), ADP_EINPUT);
	cr_assert_eq(fleet_group_check("a b"), ADP_EINPUT);
	cr_assert_eq(fleet_group_check(""), ADP_EINPUT);
	o.slots = 1001;
	cr_assert_eq(fleet_semaphore_new(&s, &o), ADP_EINPUT);
	o.slots = 2;
	o.ttl = 4;
	cr_assert_eq(fleet_semaphore_new(&s, &o), ADP_EINPUT);
	o.ttl = 0;
	o.ca_file = t_path("no-ca.pem");
	cr_assert_eq(fleet_semaphore_new(&s, &o), ADP_EINPUT);
	t_assert_msg("no-ca.pem': No such file or directory");
	o.ca_file = NULL;
	cr_assert_eq(fleet_semaphore_new(&s, &o), 0, "%s", adp_error_last());
	cr_assert_not_null(fleet_semaphore_slot(s));
	cr_assert_str_eq(fleet_semaphore_slot(s)->group, "g");
	fleet_semaphore_free(s);
	fleet_semaphore_free(NULL);
}

Test(fleet, unreachable_etcd_refuses_naming_the_redacted_url)
{
	struct fleet_semaphore *s = NULL;
	struct fleet_opts o = { .endpoints = "http://127.0.0.1:1,http://127.0.0.1:2", .group = "g", .wait_max = 0 };
	const struct orch_slot *sl;
	int64_t lease = 0;
	const char *key = NULL;

	cr_assert_eq(fleet_semaphore_new(&s, &o), 0, "%s", adp_error_last());
	sl = fleet_semaphore_slot(s);
	cr_assert_eq(sl->acquire(sl->ctx, 0, NULL, 10, NULL, &lease, &key), ADP_EINPUT);
	t_assert_msg("cannot take a fleet slot of group 'g' (no data fails closed)");
	t_assert_msg("http://127.0.0.1:2");
	cr_assert_eq(lease, 0, "nothing written on failure");
	cr_assert_null(key);
	sl->release(sl->ctx); /* nothing held: no error */
	fleet_semaphore_free(s);
}
