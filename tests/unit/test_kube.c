/* The kubernetes client and driver without a server: kubeconfig and
 * in-cluster configuration, quantities, base64, the JSON shapes of the
 * objects the driver creates (shadow pod, update Job), its ops table,
 * the check of the inventory's kubernetes sections, and cancellation
 * against a port that never answers. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "orchestrator/kube/client.h"
#include "orchestrator/kube/discover.h"
#include "orchestrator/kube/driver.h"
#include "plans/steps.h"
#include "util/error.h"

TestSuite(kube, .init = t_setup, .fini = t_teardown);

Test(kube, quantities)
{
	static const struct {
		const char *s;
		double v;
	} good[] = { { "250m", 0.25 }, { "1Gi", 1073741824.0 }, { "2", 2 }, { "1.5", 1.5 }, { "1e3", 1000 },
		     { "128974848", 128974848 }, { "129M", 129e6 }, { "123Mi", 128974848 }, { "100n", 1e-7 },
		     { "0.5Ki", 512 } };
	static const char *const bad[] = { "", "Gi", "1Gx", "0x10", "-1", "1 Gi", "abc", NULL };
	double v;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(kube_quantity(good[i].s, &v), 0, "%s", good[i].s);
		cr_assert_float_eq(v, good[i].v, 1e-9 * fmax(1, good[i].v), "%s: %g", good[i].s, v);
	}
	for (i = 0; bad[i]; i++)
		cr_assert_eq(kube_quantity(bad[i], &v), -1, "'%s' accepted", bad[i]);
	cr_assert_eq(kube_quantity(NULL, &v), -1);
}

Test(kube, base64)
{
	char *out = NULL;
	size_t len = 0;

	cr_assert_eq(kube_base64_decode("aGVs\nbG8=", &out, &len), 0);
	cr_assert_str_eq(out, "hello");
	cr_assert_eq(len, 5);
	free(out);
	cr_assert_eq(kube_base64_decode("YQ==", &out, &len), 0);
	cr_assert_str_eq(out, "a");
	free(out);
	cr_assert_neq(kube_base64_decode("a@b=", &out, &len), 0);
	cr_assert_neq(kube_base64_decode("YQ==YQ", &out, &len), 0);
}

static const char good_cfg[] =
	"apiVersion: v1\n"
	"kind: Config\n"
	"current-context: dev\n"
	"clusters:\n"
	"- name: c1\n"
	"  cluster:\n"
	"    server: https://k8s.example:6443/\n"
	"    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n"
	"    tls-server-name: api.internal\n"
	"- name: c2\n"
	"  cluster:\n"
	"    server: https://other:443\n"
	"    certificate-authority: certs/ca.pem\n"
	"contexts:\n"
	"- name: dev\n"
	"  context: {cluster: c1, user: u1, namespace: shop}\n"
	"- name: prod\n"
	"  context:\n"
	"    cluster: c2\n"
	"    user: u2\n"
	"users:\n"
	"- name: u1\n"
	"  user:\n"
	"    token: s3cr3t-token\n"
	"- name: u2\n"
	"  user:\n"
	"    tokenFile: tok\n"
	"    client-certificate: certs/me.crt\n"
	"    client-key: /abs/me.key\n";

Test(kube, kubeconfig_current_context)
{
	struct kube_config c;
	const char *path = t_write("config", good_cfg);

	cr_assert_eq(kube_config_load(&c, path, NULL), 0, "%s", adp_error_last());
	cr_assert_str_eq(c.server, "https://k8s.example:6443");
	cr_assert_str_eq(c.context, "dev");
	cr_assert_str_eq(c.ns, "shop");
	cr_assert_str_eq(c.ca_pem, "-----BEGIN CERTIFICATE-----\n");
	cr_assert_str_eq(c.tls_server_name, "api.internal");
	cr_assert_str_eq(c.token, "s3cr3t-token");
	cr_assert_null(c.ca_file);
	cr_assert_null(c.token_file);
	cr_assert_str_eq(c.source, path);
	kube_config_release(&c);
	kube_config_release(&c); /* idempotent */
	kube_config_release(NULL);
}

Test(kube, kubeconfig_context_and_relative_paths)
{
	struct kube_config c;
	const char *path = t_write("config", good_cfg);
	char want[600];

	cr_assert_eq(kube_config_load(&c, path, "prod"), 0, "%s", adp_error_last());
	cr_assert_str_eq(c.server, "https://other:443");
	snprintf(want, sizeof(want), "%s/certs/ca.pem", t_dir);
	cr_assert_str_eq(c.ca_file, want);
	snprintf(want, sizeof(want), "%s/tok", t_dir);
	cr_assert_str_eq(c.token_file, want);
	cr_assert_str_eq(c.key_file, "/abs/me.key");
	cr_assert_null(c.token);
	cr_assert_null(c.ns);
	kube_config_release(&c);
}

/* Loads text as a kubeconfig, expecting failure with msg in the error. */
static void bad_cfg(const char *text, const char *context, const char *msg)
{
	struct kube_config c;
	const char *path = t_write("bad", text);

	cr_assert_neq(kube_config_load(&c, path, context), 0, "accepted: %s", text);
	cr_assert(strstr(adp_error_last(), msg), "error '%s' lacks '%s'", adp_error_last(), msg);
	cr_assert(strstr(adp_error_last(), path), "error '%s' does not name the file", adp_error_last());
	cr_assert_null(c.server);
}

/* A kubeconfig whose current context a names cluster c (cluster: its
 * fields, indented) and, when user is set, user u (its fields), expected
 * to fail with msg. */
static void bad_parts(const char *cluster, const char *context, const char *user, const char *msg)
{
	char t[2048];

	snprintf(t, sizeof(t),
		 "apiVersion: v1\ncurrent-context: a\nclusters:\n- name: c\n  cluster:\n%scontexts:\n- name: a\n  context: %s\n%s%s",
		 cluster, context, user ? "users:\n- name: u\n  user:\n" : "", user ? user : "");
	bad_cfg(t, NULL, msg);
}

Test(kube, kubeconfig_errors)
{
	const char *server = "    server: https://k\n", *with_user = "{cluster: c, user: u}";

	bad_cfg("clusters: [\n", NULL, "bad:2:1: not valid YAML");
	bad_cfg("- just\n- a list\n", NULL, "(top level): expected a mapping");
	bad_cfg("clusters: []\n", NULL, "current-context: not set: pass --context NAME");
	bad_cfg(good_cfg, "staging", ":15: contexts: no context named 'staging' (named by --context)");
	bad_parts("    server: http://k:80\n", "{cluster: c}", NULL, "bad:6: server: 'http://k:80' is not an https:// URL");
	bad_parts("    insecure-skip-tls-verify: true\n    server: https://k\n", "{cluster: c}", NULL,
		  "bad:6: insecure-skip-tls-verify: TLS verification cannot be turned off");
	bad_parts("    certificate-authority: x\n", "{cluster: c}", NULL,
		  "bad:6: clusters[0].cluster: missing required field 'server'");
	bad_parts(server, with_user, "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n",
		  "bad:14: exec: exec credential plugins are not supported");
	bad_parts(server, with_user, "    auth-provider: {name: gcp}\n",
		  "bad:13: auth-provider: auth-provider plugins are not supported");
	bad_parts(server, with_user, "    client-certificate: me.crt\n", "a client certificate needs its key");
	bad_parts("    server: https://k\n    certificate-authority-data: '%%'\n", "{cluster: c}", NULL,
		  "bad:7: clusters[0].cluster.certificate-authority-data: not valid base64");
	bad_parts(server, "{cluster: missing}", NULL, "clusters: no cluster named 'missing' (named by the context)");
	bad_parts("    server: [https://k]\n", "{cluster: c}", NULL, "bad:6: clusters[0].cluster.server: expected a string");
}

Test(kube, kubeconfig_secrets_not_in_errors)
{
	struct kube_config c;
	const char *path = t_write("cfg",
				   "current-context: a\nclusters:\n- name: c\n  cluster: {server: 'https://k'}\n"
				   "contexts:\n- name: a\n  context: {cluster: c, user: u}\n"
				   "users:\n- name: u\n  user:\n    token: TOPSECRET\n    exec: {command: x}\n");

	cr_assert_neq(kube_config_load(&c, path, NULL), 0);
	cr_assert_null(strstr(adp_error_last(), "TOPSECRET"));
}

Test(kube, kubeconfig_env)
{
	struct kube_config c;
	char both[600];
	const char *path = t_write("config", good_cfg);

	snprintf(both, sizeof(both), "%s:%s", path, path);
	setenv("KUBECONFIG", both, 1);
	cr_assert_neq(kube_config_load(&c, NULL, NULL), 0);
	cr_assert(strstr(adp_error_last(), "merging is not supported"));
	setenv("KUBECONFIG", path, 1);
	cr_assert_eq(kube_config_load(&c, NULL, NULL), 0, "%s", adp_error_last());
	cr_assert_str_eq(c.context, "dev");
	kube_config_release(&c);
	unsetenv("KUBECONFIG");
	setenv("HOME", t_dir, 1);
	cr_assert_neq(kube_config_load(&c, NULL, NULL), 0);
	cr_assert(strstr(adp_error_last(), ".kube/config"), "%s", adp_error_last());
	cr_assert_neq(kube_config_load(&c, t_path("missing"), NULL), 0);
	cr_assert(strstr(adp_error_last(), "kubeconfig: "), "%s", adp_error_last());
}

Test(kube, in_cluster)
{
	struct kube_config c;

	t_write("token", "abc\n");
	t_write("ca.crt", "x");
	t_write("namespace", "team-a\n");
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	cr_assert_neq(kube_config_in_cluster(&c, t_dir), 0);
	cr_assert(strstr(adp_error_last(), "KUBERNETES_SERVICE_HOST"));
	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443x", 1);
	cr_assert_neq(kube_config_in_cluster(&c, t_dir), 0);
	cr_assert(strstr(adp_error_last(), "not a port number"));
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	cr_assert_eq(kube_config_auto(&c, NULL, NULL, t_dir), 0, "%s", adp_error_last());
	cr_assert_str_eq(c.server, "https://10.0.0.1:443");
	cr_assert_str_eq(c.ns, "team-a");
	cr_assert_str_eq(c.source, "in-cluster");
	cr_assert(strstr(c.token_file, "/token"));
	kube_config_release(&c);
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	cr_assert_eq(kube_config_in_cluster(&c, t_dir), 0);
	cr_assert_str_eq(c.server, "https://[fd00::1]:443");
	kube_config_release(&c);
	remove(t_path("token"));
	cr_assert_neq(kube_config_in_cluster(&c, t_dir), 0);
	cr_assert(strstr(adp_error_last(), "service account token"));
}

Test(kube, names_and_requests)
{
	char n[160];
	json_error_t e;
	json_t *spec = json_loads("{\"containers\": [{\"resources\": {\"requests\": {\"cpu\": \"250m\", \"memory\": \"1Gi\"}}},"
				  "{\"resources\": {\"requests\": {\"cpu\": \"1\"}}}, {}]}",
				  0, &e);
	double cpu, mem;

	cr_assert_eq(kube_component_name(n, sizeof(n), "shop", "web"), 0);
	cr_assert_str_eq(n, "shop.web");
	cr_assert_eq(kube_component_name(n, sizeof(n), "shop", "we/b"), -1);
	kube_pod_requests(spec, &cpu, &mem);
	cr_assert_float_eq(cpu, 1.25, 1e-9);
	cr_assert_float_eq(mem, 1073741824.0, 1);
	json_decref(spec);
}

/* The resources object of container i of pod. */
static json_t *pod_resources(json_t *pod, size_t i)
{
	return json_object_get(json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), i),
			       "resources");
}

Test(kube, shadow_pod_shape)
{
	json_error_t e;
	json_t *wl = json_loads(
		"{\"metadata\": {\"name\": \"web\", \"namespace\": \"shop\"}, \"spec\": {\"template\": {"
		"\"metadata\": {\"labels\": {\"app\": \"web\", \"pod-template-hash\": \"abc\"}},"
		"\"spec\": {\"nodeName\": \"old\", \"affinity\": {\"podAntiAffinity\": {}}, \"containers\": ["
		"{\"name\": \"a\", \"resources\": {\"requests\": {\"cpu\": \"300m\", \"memory\": \"100Mi\"}, \"limits\": {\"cpu\": \"400m\"}}},"
		"{\"name\": \"b\", \"resources\": {\"requests\": {\"cpu\": \"100m\"}}}]}}}}",
		0, &e);
	double alloc[ADP_RES_COUNT] = { 0.8, 512.0 * 1048576, 0, 0 };
	json_t *pod, *c0, *c1, *term;

	cr_assert_not_null(wl, "%s", e.text);
	pod = orch_kube_shadow_pod(wl, "web-adp-shadow-1", "shop.web", "node-c", alloc, NULL, "0123456789abcdef");
	cr_assert_not_null(pod);
	cr_assert_str_eq(json_string_value(json_object_get(pod, "kind")), "Pod");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(pod, "metadata"), "namespace")), "shop");
	{
		json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
		cr_assert_str_eq(json_string_value(json_object_get(labels, "app")), "web");
		cr_assert_null(json_object_get(labels, "pod-template-hash"));
		cr_assert_str_eq(json_string_value(json_object_get(labels, KUBE_SHADOW_LABEL)), "web");
		cr_assert_str_eq(json_string_value(json_object_get(labels, "adpart-update.io/plan")), "0123456789ab");
	}
	cr_assert_null(json_object_get(json_object_get(pod, "spec"), "nodeName"));
	cr_assert_not_null(json_object_get(json_object_get(json_object_get(pod, "spec"), "affinity"), "podAntiAffinity"));
	term = json_array_get(
		json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(pod, "spec"), "affinity"),
								 "nodeAffinity"),
						 "requiredDuringSchedulingIgnoredDuringExecution"),
				"nodeSelectorTerms"),
		0);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(term, "matchFields"), 0), "key")),
			 "metadata.name");
	cr_assert_str_eq(json_string_value(json_array_get(
				 json_object_get(json_array_get(json_object_get(term, "matchFields"), 0), "values"), 0)),
			 "node-c");
	c0 = pod_resources(pod, 0);
	c1 = pod_resources(pod, 1);
	/* cpu 0.8 split 3:1 by the requests; memory: only a has a request. */
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(c0, "requests"), "cpu")), "600m");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(c1, "requests"), "cpu")), "200m");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(c0, "limits"), "cpu")), "600m",
			 "a limit below the new request is raised to it");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(c0, "requests"), "memory")), "536870912");
	cr_assert_null(json_object_get(json_object_get(c1, "requests"), "memory"),
		       "a container without a memory request keeps none");
	/* The workload itself is untouched. */
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(json_object_get(json_object_get(json_object_get(wl, "spec"), "template"),
								 "metadata"),
						 "labels"),
				 "pod-template-hash")),
			 "abc");
	json_decref(pod);
	json_decref(wl);
}

/* Reservations are the requests and limits the limits: the reservation
 * and the plan's limit are spread in proportion to the requests, a
 * declared limit takes its share of the plan's, and a container without
 * a limit gets none. */
Test(kube, shadow_pod_requests_and_limits)
{
	json_error_t e;
	json_t *wl = json_loads(
		"{\"metadata\": {\"name\": \"web\", \"namespace\": \"shop\"}, \"spec\": {\"template\": {"
		"\"spec\": {\"containers\": ["
		"{\"name\": \"a\", \"resources\": {\"requests\": {\"cpu\": \"300m\", \"memory\": \"100Mi\"}, \"limits\": {\"cpu\": \"400m\"}}},"
		"{\"name\": \"b\", \"resources\": {\"requests\": {\"cpu\": \"100m\"}}}]}}}}",
		0, &e);
	double reserve[ADP_RES_COUNT] = { 0.4, 256.0 * 1048576, 0, 0 }, alloc[ADP_RES_COUNT] = { 1.2, 1024.0 * 1048576, 0, 0 };
	json_t *pod, *c0, *c1;

	cr_assert_not_null(wl, "%s", e.text);
	pod = orch_kube_shadow_pod(wl, "web-adp-shadow-1", "shop.web", "node-c", reserve, alloc, "0123456789abcdef");
	cr_assert_not_null(pod);
	c0 = pod_resources(pod, 0);
	c1 = pod_resources(pod, 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(c0, "requests"), "cpu")), "300m");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(c1, "requests"), "cpu")), "100m");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(c0, "limits"), "cpu")), "900m",
			 "a's declared limit takes its three quarters of the plan's 1.2 cores");
	cr_assert_null(json_object_get(c1, "limits"), "no limit where the workload declares none");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(c0, "requests"), "memory")), "268435456");
	cr_assert_null(json_object_get(json_object_get(c0, "limits"), "memory"));
	json_decref(pod);
	json_decref(wl);
}

Test(kube, update_job_shape)
{
	char *argv[] = { "/usr/bin/apt-get", "-y", "upgrade", NULL };
	json_t *job = orch_kube_update_job("adp-update-node-b-01234567", "ops", "node-b", "debian:12", argv, 1200, 2);
	json_t *spec = json_object_get(job, "spec"), *pod = json_object_get(json_object_get(spec, "template"), "spec");
	json_t *c = json_array_get(json_object_get(pod, "containers"), 0);

	cr_assert_not_null(job);
	cr_assert_str_eq(json_string_value(json_object_get(job, "apiVersion")), "batch/v1");
	cr_assert_eq(json_integer_value(json_object_get(spec, "activeDeadlineSeconds")), 1200);
	cr_assert_eq(json_integer_value(json_object_get(spec, "backoffLimit")), 2);
	cr_assert_str_eq(json_string_value(json_object_get(pod, "restartPolicy")), "Never");
	cr_assert(json_is_true(json_object_get(json_object_get(c, "securityContext"), "privileged")));
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(c, "command"), 2)), "upgrade");
	cr_assert_eq(json_array_size(json_object_get(c, "command")), 3);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(json_object_get(pod, "volumes"), 0),
									   "hostPath"),
							   "path")),
			 "/");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(pod, "tolerations"), 0),
							   "operator")),
			 "Exists");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(c, "env"), 0), "value")),
			 "node-b");
	json_decref(job);
}

Test(kube, ready_condition)
{
	json_error_t e;
	json_t *ready = json_loads("{\"status\": {\"conditions\": [{\"type\": \"MemoryPressure\", \"status\": \"True\"},"
				   "{\"type\": \"Ready\", \"status\": \"True\"}]}}",
				   0, &e);
	json_t *not_ready = json_loads("{\"status\": {\"conditions\": [{\"type\": \"Ready\", \"status\": \"False\"},"
				       "{\"type\": \"PodScheduled\", \"status\": \"True\"}]}}",
				       0, &e);

	cr_assert(kube_ready(ready));
	cr_assert_not(kube_ready(not_ready));
	cr_assert_not(kube_ready(NULL));
	json_decref(ready);
	json_decref(not_ready);
}

Test(kube, ops_table)
{
	static const int nothing[] = { PLAN_CANARY, PLAN_SWITCH_TRAFFIC, PLAN_SWITCH_BACK, PLAN_CLEANUP,
				       PLAN_RESTORE_TRAFFIC, PLAN_REMOVE_PARTITION, PLAN_PREALLOCATE_SHADOW,
				       PLAN_RELEASE_SHADOW };
	struct orch_driver drv;
	struct orch_kube d;
	size_t i, j;

	memset(&d, 0, sizeof(d));
	orch_kube_driver(&drv, &d);
	cr_assert(drv.ctx == &d && drv.check && drv.grow && drv.cancel);
	cr_assert_null(drv.sample, "without Prometheus the driver does not sample");
	for (i = 0; i < PLAN_ACTION_COUNT; i++) {
		int none = 0;

		for (j = 0; j < sizeof(nothing) / sizeof(nothing[0]); j++)
			none |= nothing[j] == (int)i;
		cr_assert(none ? drv.ops[i] == NULL : drv.ops[i] != NULL, "slot of %s", plan_actions[i].name);
	}
	/* Actions that do the same share a function. */
	cr_assert(drv.ops[PLAN_DRAIN] == drv.ops[PLAN_DRAIN_ABSORBED]);
	cr_assert(drv.ops[PLAN_HEALTH_CHECK] == drv.ops[PLAN_VERIFY_SHADOW]);
	cr_assert(drv.ops[PLAN_STOP_ORIGINAL] == drv.ops[PLAN_STOP_ABSORBED]);
	cr_assert(drv.ops[PLAN_UNDRAIN] == drv.ops[PLAN_START_ORIGINAL] &&
		  drv.ops[PLAN_UNDRAIN] == drv.ops[PLAN_START_ABSORBED] &&
		  drv.ops[PLAN_UNDRAIN] == drv.ops[PLAN_UNDRAIN_ABSORBED]);
	cr_assert(drv.ops[PLAN_RESIZE] != drv.ops[PLAN_RESTORE_SIZE]);
	cr_assert(drv.ops[PLAN_HEALTH_CHECK_ORIGINAL] != drv.ops[PLAN_HEALTH_CHECK_ABSORBED]);
}

/* --- cancellation, against a port that accepts and never answers -------- */

/* A loopback port whose connections wait in the backlog: a request to it
 * hangs in its TLS handshake until cut. Returns the socket. */
static int silent_server(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t n = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(fd >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(fd, 8), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &n), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void silent_client(struct kube_client *k, int port)
{
	struct kube_config c = { 0 };
	char url[64];

	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	c.server = strdup(url);
	cr_assert_eq(kube_client_init(k, &c), 0, "%s", adp_error_last());
	k->timeout = 60;
}

Test(kube, no_token_over_plain_http)
{
	struct kube_client k;
	struct kube_config c = { 0 };
	json_t *out = NULL;

	c.server = strdup("http://127.0.0.1:1");
	c.token = strdup("s3cret-token");
	cr_assert_eq(kube_client_init(&k, &c), 0, "%s", adp_error_last());
	cr_assert_eq(kube_get(&k, "/api/v1/nodes", &out), ADP_EINPUT);
	t_assert_msg("kubernetes API 'http://127.0.0.1:1': not an https:// URL");
	cr_assert_null(strstr(adp_error_last(), "s3cret"));
	kube_client_release(&k);
}

static atomic_int stop_now;

static int stop_asked(void *arg)
{
	(void)arg;
	return atomic_load(&stop_now);
}

static int no_event(void *u, const char *type, json_t *obj)
{
	(void)u;
	(void)type;
	(void)obj;
	return 0;
}

struct call {
	struct kube_client *k;
	int watch, rc;
	char err[512]; /* the error text is per thread */
};

static void *call_api(void *arg)
{
	struct call *c = arg;
	json_t *out = NULL;
	long st;
	int stopped;

	c->rc = c->watch ? kube_watch(c->k, "/api/v1/pods?watch=1", no_event, NULL, &st, &stopped)
			 : kube_get(c->k, "/api/v1/nodes", &out);
	snprintf(c->err, sizeof(c->err), "%s", adp_error_last());
	json_decref(out);
	return NULL;
}

Test(kube, cancel_cuts_requests_in_flight)
{
	struct kube_client k;
	int port, fd = silent_server(&port), w;
	json_t *out = NULL;

	silent_client(&k, port);
	k.cancelled = stop_asked;
	for (w = 0; w < 2; w++) {
		struct call c = { .k = &k, .watch = w };
		pthread_t th;

		atomic_store(&stop_now, 0);
		cr_assert_eq(pthread_create(&th, NULL, call_api, &c), 0);
		usleep(200000); /* the request on its way; cut at once or later, the answer is the same */
		atomic_store(&stop_now, 1);
		pthread_join(th, NULL);
		cr_assert_neq(c.rc, 0);
		cr_assert(strstr(c.err, w ? "kubernetes watch '/api/v1/pods?watch=1': cancelled"
					  : "kubernetes GET '/api/v1/nodes': cancelled"),
			  "%s", c.err);
	}
	/* Cancelled: no request starts, and none is retried. */
	cr_assert_neq(kube_get(&k, "/api/v1/nodes", &out), 0);
	t_assert_msg("kubernetes GET '/api/v1/nodes': cancelled");
	kube_client_release(&k);
	close(fd);
}

struct act {
	const struct orch_driver *drv;
	struct plan_step s;
	int rc;
	atomic_int done;
	char msg[512], err[512];
};

static void *run_act(void *arg)
{
	struct act *a = arg;
	struct plan p;

	memset(&p, 0, sizeof(p));
	a->rc = a->drv->ops[a->s.act](a->drv->ctx, &p, &a->s, a->msg, sizeof(a->msg));
	snprintf(a->err, sizeof(a->err), "%s", adp_error_last());
	atomic_store(&a->done, 1);
	return NULL;
}

Test(kube, cancel_stops_an_act)
{
	struct kube_client k;
	struct inventory inv = { 0 };
	struct orch_kube d;
	struct orch_driver drv;
	struct act a = { .drv = &drv };
	int port, fd = silent_server(&port);
	pthread_t th;

	silent_client(&k, port);
	cr_assert_eq(orch_kube_init(&d, &k, &inv, NULL, t_path("st"), NULL), 0, "%s", adp_error_last());
	cr_assert_not_null(k.cancelled, "the driver's cancel reaches the client");
	orch_kube_driver(&drv, &d);
	a.s.id = 1;
	a.s.action = "create_partition";
	a.s.act = plan_action_id("create_partition");
	a.s.partition = "n1";
	cr_assert_eq(pthread_create(&th, NULL, run_act, &a), 0);
	/* As the engine at a step's deadline: cancel until the act returns. */
	while (!atomic_load(&a.done)) {
		usleep(100000);
		drv.cancel(drv.ctx);
	}
	pthread_join(th, NULL);
	cr_assert_neq(a.rc, 0);
	cr_assert(strstr(a.err, "kubernetes GET '/api/v1/nodes/n1': cancelled"), "%s", a.err);
	orch_kube_release(&d);
	cr_assert_null(k.cancelled, "release takes the hook back");
	orch_kube_release(&d); /* idempotent */
	orch_kube_release(NULL);
	kube_client_release(&k);
	close(fd);
}

/* --- the inventory's kubernetes sections -------------------------------- */

static const char kinv[] =
	"{\"partitions\": [\n"
	" {\"name\": \"n1\", \"capacity\": {\"cpu\": 4, \"memory\": 8e9},\n"
	"  \"kubernetes\": {\"node\": \"n1\", \"pool\": null, \"allocatable_cpu\": 4, \"allocatable_memory\": 8e9,\n"
	"   \"reserved_cpu\": 0.1, \"reserved_memory\": 1e8}},\n"
	" {\"name\": \"n2\", \"capacity\": {\"cpu\": 4, \"memory\": 8e9}}],\n"
	" \"components\": [\n"
	" {\"name\": \"shop.web\", \"replicas\": 1, \"placement\": [\"n1\"],\n"
	"  \"kubernetes\": {\"namespace\": \"shop\", \"kind\": \"Deployment\", \"name\": \"web\",\n"
	"   \"selector\": {\"matchLabels\": {\"app\": \"web\"}},\n"
	"   \"pods\": [], \"containers\": [], \"desired_replicas\": 1}},\n"
	" {\"name\": \"db\", \"replicas\": 1, \"placement\": [\"n2\"]}],\n"
	" \"kubernetes\": {\"server\": \"https://k:6443\", \"context\": \"c\", \"namespace\": null,\n"
	"  \"pod_disruption_budgets\": [], \"daemonsets\": [], \"warnings\": [\"w\"]}}\n";

/* kinv with from replaced by to: it loads, and the check of its
 * kubernetes sections fails with msg, naming the file and to's line. */
static void bad_kinv(const char *from, const char *to, const char *msg)
{
	const char *at = strstr(kinv, from), *path;
	char text[4096], want[600];
	struct inventory inv;

	cr_assert_not_null(at, "%s", from);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - kinv), kinv, to, at + strlen(from));
	path = t_write("inv.json", text);
	cr_assert_eq(inventory_load(&inv, path), 0, "%s", adp_error_last());
	cr_assert_neq(orch_kube_config_check(&inv), 0, "accepted: %s", to);
	snprintf(want, sizeof(want), "%s:%d: ", path, t_line_of(text, to));
	cr_assert(strstr(adp_error_last(), want), "'%s' lacks '%s'", adp_error_last(), want);
	t_assert_msg(msg);
	inventory_release(&inv);
}

Test(kube, config_check)
{
	struct inventory inv;

	cr_assert_eq(inventory_load(&inv, t_write("good.json", kinv)), 0, "%s", adp_error_last());
	cr_assert_eq(orch_kube_config_check(&inv), 0, "%s", adp_error_last());
	inventory_release(&inv);
	bad_kinv("\"kind\": \"Deployment\"", "\"kind\": \"Job\"",
		 "components[0].kubernetes.kind: 'Job' is not Deployment or StatefulSet");
	bad_kinv("\"namespace\": \"shop\"", "\"namespace\": \"shop/x\"",
		 "components[0].kubernetes.namespace: 'shop/x' is not a namespace");
	bad_kinv("\"name\": \"web\"", "\"name\": \"Web\"", "components[0].kubernetes.name: 'Web' is not a workload name");
	bad_kinv("\"kubernetes\": {\"namespace\": \"shop\", \"kind\": \"Deployment\", ",
		 "\"kubernetes\": {\"namespace\": \"shop\", ", "components[0].kubernetes: missing required field 'kind'");
	bad_kinv("{\"app\": \"web\"}", "{\"app\": 1}", "components[0].kubernetes.selector.matchLabels.app: expected a string");
	bad_kinv("\"pods\": []", "\"podz\": []", "components[0].kubernetes.podz: unknown field");
	bad_kinv("\"containers\": []", "\"containers\": {}", "components[0].kubernetes.containers: expected an array");
	bad_kinv("\"desired_replicas\": 1", "\"desired_replicas\": 1.5",
		 "components[0].kubernetes.desired_replicas: expected a whole number");
	bad_kinv("\"node\": \"n1\"", "\"node\": \"n9\"", "partitions[0].kubernetes.node: node 'n9' is not the partition 'n1'");
	bad_kinv("\"reserved_cpu\": 0.1", "\"reserved_cpu\": -1", "partitions[0].kubernetes.reserved_cpu: -1 is out of range");
	bad_kinv("\"server\": \"https://k:6443\"", "\"server\": 5", "kubernetes.server: expected a string");
	bad_kinv("\"warnings\": [\"w\"]", "\"warnings\": [1]", "kubernetes.warnings[0]: expected a string");
	bad_kinv("\"daemonsets\": []", "\"daemonsets\": 2", "kubernetes.daemonsets: expected an array");
}
