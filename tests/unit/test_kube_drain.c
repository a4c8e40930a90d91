/* What a drain may touch, without a server: label selectors (parsing,
 * matching, their errors), a PodDisruptionBudget's selector, the fate of
 * each pod of a drained node under kubectl drain's rules, and the
 * decision that a budget can never allow the plan's eviction. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "orchestrator/kube/select.h"
#include "util/error.h"

TestSuite(kube_drain);

static json_t *obj(const char *text)
{
	json_error_t e;
	json_t *o = json_loads(text, 0, &e);

	cr_assert_not_null(o, "bad fixture: %s: %s", text, e.text);
	return o;
}

/* Whether selector sel matches labels (JSON text). */
static int matches(const char *sel, const char *labels)
{
	struct kube_selector s;
	json_t *l = obj(labels);
	int m;

	cr_assert_eq(kube_selector_parse(&s, sel), 0, "'%s': %s", sel, adp_error_last());
	m = kube_selector_match(&s, l);
	kube_selector_release(&s);
	json_decref(l);
	return m;
}

Test(kube_drain, selector_equality_and_existence)
{
	const char *web = "{\"app\": \"web\", \"tier\": \"front\", \"example.com/team\": \"a\"}";

	cr_assert(matches("app=web", web));
	cr_assert(matches("app==web", web));
	cr_assert(matches(" app = web , tier!=back ", web));
	cr_assert_not(matches("app=db", web));
	cr_assert_not(matches("app!=web", web));
	cr_assert(matches("app!=web", "{}"), "k!=v holds where k is absent, as in Kubernetes");
	cr_assert(matches("tier", web));
	cr_assert_not(matches("!tier", web));
	cr_assert(matches("!gpu", web));
	cr_assert(matches("example.com/team=a", web));
	cr_assert(matches("app=", "{\"app\": \"\"}"));
	cr_assert(matches("", web), "an empty selector selects everything");
	cr_assert(kube_selector_match(NULL, NULL));
}

Test(kube_drain, selector_sets)
{
	const char *web = "{\"app\": \"web\", \"env\": \"prod\"}";

	cr_assert(matches("env in (prod, staging)", web));
	cr_assert(matches("env in (prod,staging),app=web", web));
	cr_assert_not(matches("env notin (prod)", web));
	cr_assert(matches("zone notin (z1)", web), "notin holds where the key is absent");
	cr_assert_not(matches("zone in (z1)", web));
}

/* text is refused, with a message naming it and containing what. */
static void bad(const char *text, const char *what)
{
	struct kube_selector s;

	cr_assert_eq(kube_selector_parse(&s, text), ADP_EINPUT, "accepted: '%s'", text);
	cr_assert(strstr(adp_error_last(), what), "'%s': message '%s' lacks '%s'", text, adp_error_last(), what);
	cr_assert(strstr(adp_error_last(), text), "message '%s' does not name '%s'", adp_error_last(), text);
	cr_assert_null(s.reqs);
	cr_assert_null(s.text);
}

Test(kube_drain, selector_errors)
{
	bad("app=web,", "ends with a comma");
	bad(",app=web", "not a requirement");
	bad("app=we b", "label value");
	bad("=web", "label key");
	bad("-app=web", "label key");
	bad("a/b/c=x", "label key");
	bad("Example.com/x=y", "label key");
	bad("app=web=x", "label value");
	bad("env in (prod", "set requirement");
	bad("env in (pr od)", "set requirement");
	bad("x=0123456789012345678901234567890123456789012345678901234567890123", "label value");
}

Test(kube_drain, label_selector_objects)
{
	json_t *l = obj("{\"app\": \"web\", \"env\": \"prod\"}");
	json_t *sels[] = {
		obj("{\"matchLabels\": {\"app\": \"web\"}}"),
		obj("{}"),
		obj("{\"matchExpressions\": [{\"key\": \"env\", \"operator\": \"In\", \"values\": [\"prod\"]}]}"),
		obj("{\"matchExpressions\": [{\"key\": \"gpu\", \"operator\": \"DoesNotExist\"}]}"),
		obj("{\"matchLabels\": {\"app\": \"db\"}}"),
		obj("{\"matchExpressions\": [{\"key\": \"env\", \"operator\": \"NotIn\", \"values\": [\"prod\"]}]}"),
		obj("{\"matchExpressions\": [{\"key\": \"env\", \"operator\": \"Gt\", \"values\": [\"1\"]}]}"),
	};
	size_t i;

	for (i = 0; i < 4; i++)
		cr_assert(kube_label_selector_match(sels[i], l), "selector %zu", i);
	for (; i < sizeof(sels) / sizeof(sels[0]); i++)
		cr_assert_not(kube_label_selector_match(sels[i], l), "selector %zu", i);
	cr_assert_not(kube_label_selector_match(NULL, l), "a null selector selects nothing (policy/v1)");
	for (i = 0; i < sizeof(sels) / sizeof(sels[0]); i++)
		json_decref(sels[i]);
	json_decref(l);
}

#define OWNED(kind) "\"ownerReferences\": [{\"kind\": \"" kind "\", \"name\": \"x\", \"controller\": true}]"

Test(kube_drain, fates)
{
	struct kube_selector sel;
	struct kube_drain_rules none = { 0 }, all = { NULL, 1, 1, 0 }, del = { NULL, 1, 1, 1 }, only = { &sel, 0, 0, 0 };
	json_t *rs = obj("{\"metadata\": {\"labels\": {\"app\": \"web\"}, " OWNED("ReplicaSet") "}}");
	json_t *ds = obj("{\"metadata\": {" OWNED("DaemonSet") "}, " "\"spec\": {\"volumes\": [{\"emptyDir\": {}}]}}");
	json_t *mirror = obj("{\"metadata\": {\"annotations\": {\"kubernetes.io/config.mirror\": \"h\"}}}");
	json_t *shadow = obj("{\"metadata\": {\"labels\": {\"adpart-update.io/shadow-of\": \"web\"}}}");
	json_t *bare = obj("{\"metadata\": {\"name\": \"b\", \"ownerReferences\": [{\"kind\": \"ReplicaSet\", \"name\": \"x\"}]}}");
	json_t *done = obj("{\"metadata\": {}, \"status\": {\"phase\": \"Succeeded\"}}");
	json_t *cache = obj("{\"metadata\": {\"labels\": {\"app\": \"cache\"}, " OWNED("StatefulSet") "}, " "\"spec\": {\"volumes\": [{\"name\": \"c\", \"emptyDir\": {}}]}}");

	cr_assert_eq(kube_drain_fate(rs, &none), KUBE_FATE_EVICT);
	cr_assert_eq(kube_drain_fate(rs, &del), KUBE_FATE_DELETE, "--disable-eviction deletes");
	cr_assert_eq(kube_drain_fate(ds, &none), KUBE_FATE_SKIP_DAEMON, "DaemonSet pods stay, emptyDir or not");
	cr_assert_eq(kube_drain_fate(mirror, &all), KUBE_FATE_SKIP_MIRROR);
	cr_assert_eq(kube_drain_fate(shadow, &all), KUBE_FATE_SKIP_SHADOW);
	cr_assert_eq(kube_drain_fate(done, &none), KUBE_FATE_SKIP_FINISHED, "a finished bare pod is no refusal");
	cr_assert_eq(kube_drain_fate(bare, &none), KUBE_FATE_REFUSE_BARE, "an owner that is not the controller is none");
	cr_assert_eq(kube_drain_fate(bare, &all), KUBE_FATE_DELETE, "--force deletes a bare pod");
	cr_assert_eq(kube_drain_fate(cache, &none), KUBE_FATE_REFUSE_EMPTYDIR);
	cr_assert_eq(kube_drain_fate(cache, &all), KUBE_FATE_EVICT);
	cr_assert_eq(kube_selector_parse(&sel, "app=web"), 0);
	cr_assert_eq(kube_drain_fate(rs, &only), KUBE_FATE_EVICT);
	cr_assert_eq(kube_drain_fate(cache, &only), KUBE_FATE_SKIP_SELECTOR, "not selected: left, not refused");
	cr_assert_eq(kube_drain_fate(bare, &only), KUBE_FATE_SKIP_SELECTOR);
	kube_selector_release(&sel);
	kube_selector_release(&sel); /* idempotent */
	kube_selector_release(NULL);
	json_decref(rs);
	json_decref(ds);
	json_decref(mirror);
	json_decref(shadow);
	json_decref(bare);
	json_decref(done);
	json_decref(cache);
}

/* The budget (its spec as JSON) with at most `most` matching pods. */
static int never(const char *spec, size_t most, char *why)
{
	char text[256];
	json_t *pdb;
	int r;

	snprintf(text, sizeof(text), "{\"metadata\": {\"name\": \"web\"}, \"spec\": %s}", spec);
	pdb = obj(text);
	why[0] = '\0';
	r = kube_pdb_never_allows(pdb, most, why, 160);
	json_decref(pdb);
	return r;
}

Test(kube_drain, unsatisfiable_budgets)
{
	char why[160];

	cr_assert(never("{\"maxUnavailable\": 0}", 5, why));
	cr_assert_str_eq(why, "maxUnavailable 0");
	cr_assert(never("{\"maxUnavailable\": \"0%\"}", 5, why));
	cr_assert_str_eq(why, "maxUnavailable 0%");
	cr_assert_not(never("{\"maxUnavailable\": 1}", 1, why));
	cr_assert_not(never("{\"maxUnavailable\": \"10%\"}", 2, why), "10%% of 2 rounds up to 1");
	cr_assert(never("{\"minAvailable\": 3}", 3, why));
	cr_assert_str_eq(why, "minAvailable 3 of at most 3 matching pods");
	cr_assert(never("{\"minAvailable\": 4}", 3, why));
	cr_assert_not(never("{\"minAvailable\": 2}", 3, why), "2 of 3 (2 pods and a shadow): one may go");
	cr_assert(never("{\"minAvailable\": \"100%\"}", 4, why));
	cr_assert_str_eq(why, "minAvailable 100% (4) of at most 4 matching pods");
	cr_assert(never("{\"minAvailable\": \"60%\"}", 1, why), "60%% of 1 rounds up to 1");
	cr_assert_not(never("{\"minAvailable\": \"50%\"}", 3, why), "50%% of 3 is 2: one may go");
	/* No constraint, or one the server must judge: not refused here. */
	cr_assert_not(never("{}", 2, why));
	cr_assert_not(never("{\"minAvailable\": null, \"maxUnavailable\": null}", 2, why));
	cr_assert_not(never("{\"minAvailable\": \"many\"}", 2, why));
	cr_assert_not(never("{\"minAvailable\": -1}", 2, why));
}
