/* The fleet semaphore on Kubernetes Leases, its parts that need no
 * server: the Lease names, MicroTimes, the expiry rule, the options. On
 * the fake API server: tests/cli/t-kube-lease.sh. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "orchestrator/kube/lease.h"
#include "orchestrator/slots.h"
#include "tests/unit/helpers.h"
#include "util/error.h"

TestSuite(kube_lease, .init = t_setup, .fini = t_teardown);

Test(kube_lease, names_map_groups_to_dns_subdomains)
{
	char name[KUBE_LEASE_NAME_MAX + 1], group[300];

	cr_assert_eq(kube_lease_name(name, sizeof(name), "kernel-2018.05", 0), 0, "%s", adp_error_last());
	cr_assert_str_eq(name, "adpart-update-kernel-2018.05-0");
	cr_assert_eq(kube_lease_name(name, sizeof(name), "x", 999), 0);
	cr_assert_str_eq(name, "adpart-update-x-999");
	cr_assert_eq(kube_lease_name(name, sizeof(name), "Web", 0), ADP_EINPUT);
	t_assert_msg("fleet slot group 'Web' cannot name a Kubernetes Lease: 'adpart-update-Web-0' is not a DNS-1123 subdomain");
	cr_assert_eq(kube_lease_name(name, sizeof(name), "a_b", 0), ADP_EINPUT);
	cr_assert_eq(kube_lease_name(name, sizeof(name), "web.", 0), ADP_EINPUT, "a part ends with a dot");
	cr_assert_eq(kube_lease_name(name, sizeof(name), ".web", 0), ADP_EINPUT, "a part starts with a dot");
	cr_assert_eq(kube_lease_name(name, sizeof(name), "a..b", 0), ADP_EINPUT);
	cr_assert_eq(kube_lease_name(name, sizeof(name), "a.-b", 0), ADP_EINPUT);
	cr_assert_eq(kube_lease_name(name, sizeof(name), "a--b", 0), 0, "'-' may repeat inside a part");
	cr_assert_eq(kube_lease_name(name, sizeof(name), "", 0), ADP_EINPUT);
	cr_assert_eq(kube_lease_name(name, 10, "x", 0), ADP_ENOMEM, "the caller's buffer is too small");
	memset(group, 'a', 240);
	group[240] = '\0';
	cr_assert_eq(kube_lease_name(name, sizeof(name), group, 0), ADP_EINPUT, "longer than 253");
	group[237] = '\0';
	cr_assert_eq(kube_lease_name(name, sizeof(name), group, 9), 0, "%s", adp_error_last());
	cr_assert_eq(strlen(name), 253);
	cr_assert_eq(kube_lease_group_check(group, 10), 0, "slots 0 to 9 fit in 253");
	cr_assert_eq(kube_lease_group_check(group, 11), ADP_EINPUT, "slot 10 does not");
	cr_assert_eq(kube_lease_group_check("web", 1000), 0);
	cr_assert_eq(kube_lease_index("adpart-update-web-12", "web"), 12);
	cr_assert_eq(kube_lease_index("adpart-update-web-0", "web"), 0);
	cr_assert_eq(kube_lease_index("adpart-update-web-012", "web"), -1);
	cr_assert_eq(kube_lease_index("adpart-update-web-x", "web"), -1);
	cr_assert_eq(kube_lease_index("adpart-update-webs-1", "web"), -1);
	cr_assert_eq(kube_lease_index("adpart-update-web-1-2", "web"), -1);
	cr_assert_eq(kube_lease_index("/adpart-update/semaphore/web/0", "web"), -1);
}

Test(kube_lease, urls_name_a_namespace)
{
	const char *ns = NULL;

	cr_assert(kube_lease_url_is("kubernetes://fleet"));
	cr_assert(!kube_lease_url_is("http://etcd:2379"));
	cr_assert(!kube_lease_url_is(NULL));
	cr_assert_eq(kube_lease_url_ns("kubernetes://kube-system", &ns), 0);
	cr_assert_str_eq(ns, "kube-system");
	cr_assert_eq(kube_lease_url_ns("kubernetes://", &ns), ADP_EINPUT);
	t_assert_msg("names no namespace");
	cr_assert_eq(kube_lease_url_ns("kubernetes://Fleet", &ns), ADP_EINPUT);
	t_assert_msg("namespace 'Fleet' of 'kubernetes://Fleet' is not a namespace name");
	cr_assert_eq(kube_lease_url_ns("kubernetes://a.b", &ns), ADP_EINPUT, "a namespace is a label: no dots");
	cr_assert_eq(kube_lease_url_ns("kubernetes://-a", &ns), ADP_EINPUT);
	cr_assert_eq(kube_lease_url_ns("kubernetes://a-", &ns), ADP_EINPUT);
	cr_assert_eq(kube_lease_url_ns("kubernetes://a/b", &ns), ADP_EINPUT);
	cr_assert_eq(kube_lease_url_ns("kubernetes://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &ns), 0,
		     "63 is the most");
	cr_assert_eq(kube_lease_url_ns("kubernetes://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &ns),
		     ADP_EINPUT);
}

Test(kube_lease, microtimes_format_and_parse)
{
	char out[32];
	int64_t us = 0;

	kube_microtime_format(out, 1525568400000000LL + 123456);
	cr_assert_str_eq(out, "2018-05-06T01:00:00.123456Z");
	kube_microtime_format(out, 1525568400000000LL);
	cr_assert_str_eq(out, "2018-05-06T01:00:00.000000Z");
	cr_assert_eq(kube_microtime_parse("2018-05-06T01:00:00.123456Z", &us), 0);
	cr_assert_eq(us, 1525568400123456LL);
	cr_assert_eq(kube_microtime_parse("2018-05-06T01:00:00Z", &us), 0, "seconds alone");
	cr_assert_eq(us, 1525568400000000LL);
	cr_assert_eq(kube_microtime_parse("2018-05-06T01:00:00.5Z", &us), 0);
	cr_assert_eq(us, 1525568400500000LL);
	cr_assert_eq(kube_microtime_parse("2018-05-06T01:00:00.123456789Z", &us), 0, "nanoseconds cut");
	cr_assert_eq(us, 1525568400123456LL);
	cr_assert_eq(kube_microtime_parse("2018-05-06T03:30:00.000001+02:30", &us), 0);
	cr_assert_eq(us, 1525568400000001LL);
	cr_assert_eq(kube_microtime_parse("2018-05-05T23:00:00-02:00", &us), 0);
	cr_assert_eq(us, 1525568400000000LL);
	cr_assert_eq(kube_microtime_parse("2018-05-06 01:00:00Z", &us), -1);
	cr_assert_eq(kube_microtime_parse("2018-05-06T01:00:00", &us), -1, "a zone is required");
	cr_assert_eq(kube_microtime_parse("2018-05-06T01:00:00.Z", &us), -1);
	cr_assert_eq(kube_microtime_parse("2018-13-06T01:00:00Z", &us), -1);
	cr_assert_eq(kube_microtime_parse("2018-02-30T01:00:00Z", &us), -1);
	cr_assert_eq(kube_microtime_parse("2018-05-06T01:00:00Zjunk", &us), -1);
	cr_assert_eq(kube_microtime_parse("", &us), -1);
	cr_assert_eq(kube_microtime_parse(NULL, &us), -1);
	/* a round trip */
	kube_microtime_format(out, 1700000000654321LL);
	cr_assert_eq(kube_microtime_parse(out, &us), 0);
	cr_assert_eq(us, 1700000000654321LL);
}

Test(kube_lease, expiry_is_renew_time_plus_duration)
{
	const int64_t t = 1525568400000000LL; /* 2018-05-06T01:00:00Z */
	json_t *spec = json_pack("{s:s, s:i, s:s}", "holderIdentity", "h:/st", "leaseDurationSeconds", 30, "renewTime",
				 "2018-05-06T01:00:00.000000Z");

	cr_assert(!kube_lease_is_free(spec, t), "just renewed");
	cr_assert(!kube_lease_is_free(spec, t + 30000000), "at renewTime + duration: still held");
	cr_assert(kube_lease_is_free(spec, t + 30000001), "past it: free");
	json_object_del(spec, "renewTime");
	json_object_set_new(spec, "acquireTime", json_string("2018-05-06T01:00:00Z"));
	cr_assert(!kube_lease_is_free(spec, t + 1000000), "no renewTime: acquireTime counts");
	cr_assert(kube_lease_is_free(spec, t + 31000000));
	json_object_set_new(spec, "renewTime", json_string("soon"));
	cr_assert(kube_lease_is_free(spec, t), "a time that does not parse holds nothing");
	json_object_set_new(spec, "renewTime", json_string("2018-05-06T01:00:10Z"));
	json_object_set_new(spec, "holderIdentity", json_string(""));
	cr_assert(kube_lease_is_free(spec, t), "no holder: free");
	json_object_del(spec, "holderIdentity");
	cr_assert(kube_lease_is_free(spec, t));
	json_object_set_new(spec, "holderIdentity", json_string("h:/st"));
	json_object_del(spec, "leaseDurationSeconds");
	cr_assert(!kube_lease_is_free(spec, t + 10000000), "no duration: held until renewTime");
	cr_assert(kube_lease_is_free(spec, t + 10000001));
	cr_assert(kube_lease_is_free(NULL, t), "no spec: free");
	json_decref(spec);
}

Test(kube_lease, options_are_checked_before_the_server_is_asked)
{
	struct kube_lease_sem *s = NULL;
	struct kube_config cfg = { 0 };
	struct kube_lease_opts o = { .ns = "fleet", .group = "web" };
	int64_t lease = 0;
	const char *key = NULL;
	char why[128] = "";

	cfg.server = "https://127.0.0.1:1";
	cr_assert_eq(kube_lease_sem_new(&s, NULL, &o), ADP_EINPUT, "no driver connection");
	o.ns = "Fleet";
	cr_assert_eq(kube_lease_sem_new(&s, &cfg, &o), ADP_EINPUT);
	o.ns = "fleet";
	o.slots = ORCH_SLOTS_MAX + 1;
	cr_assert_eq(kube_lease_sem_new(&s, &cfg, &o), ADP_EINPUT);
	o.slots = 2;
	o.ttl = ORCH_SLOT_TTL_MIN - 1;
	cr_assert_eq(kube_lease_sem_new(&s, &cfg, &o), ADP_EINPUT);
	o.ttl = 5;
	o.group = "Web";
	cr_assert_eq(kube_lease_sem_new(&s, &cfg, &o), ADP_EINPUT);
	t_assert_msg("cannot name a Kubernetes Lease");
	o.group = "web";
	o.wait_max = 0;
	o.state_dir = "/st";
	cr_assert_eq(kube_lease_sem_new(&s, &cfg, &o), 0, "%s", adp_error_last());
	/* Nothing listens there: no data fails closed, and nothing is held. */
	cr_assert_lt(kube_lease_sem_slot(s)->acquire(s, 0, NULL, 0, NULL, &lease, &key), 0);
	t_assert_msg("cannot take a fleet slot of group 'web' (no data fails closed)");
	cr_assert(!kube_lease_sem_slot(s)->healthy(s, why, sizeof(why)));
	cr_assert_str_eq(why, "no slot is held");
	kube_lease_sem_slot(s)->release(s);
	kube_lease_sem_free(s);
	kube_lease_sem_free(NULL);
}

Test(kube_lease, holders_are_named_as_the_etcd_ones)
{
	struct orch_slot_holder h[7] = {
		{ 0, "{\"host\":\"db-7\",\"state_dir\":\"/st\",\"pid\":42,\"plan\":\"k 0123\",\"since\":\"2018-05-06T01:00:00Z\"}" },
		{ 1, "leader-elector-1" },
	};
	struct adp_buf b = ADP_BUF_INIT;
	size_t i;

	orch_slot_describe(&b, h, 2);
	cr_assert_str_eq(adp_buf_str(&b), "slot 0 held by host 'db-7' (pid 42, state dir '/st', plan 'k 0123', since "
					  "2018-05-06T01:00:00Z); slot 1 held by 'leader-elector-1'");
	adp_buf_reset(&b);
	for (i = 2; i < 7; i++)
		h[i] = (struct orch_slot_holder){ (long)i, "x" };
	orch_slot_describe(&b, h, 7);
	cr_assert(strstr(adp_buf_str(&b), "slot 4 held by 'x'; and 2 more"), "%s", adp_buf_str(&b));
	adp_buf_reset(&b);
	orch_slot_describe(&b, h, 0);
	cr_assert_str_eq(adp_buf_str(&b), "every slot taken just now, none left to name");
	adp_buf_release(&b);
}
