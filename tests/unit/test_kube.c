/* The kubernetes client and driver without a server: kubeconfig and
 * in-cluster configuration, quantities, base64, and the JSON shapes of
 * the objects the driver creates (shadow pod, update Job). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "orchestrator/kube/driver.h"
#include "orchestrator/kube/client.h"
#include "orchestrator/kube/discover.h"
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

Test(kube, kubeconfig_errors)
{
	const char *head = "apiVersion: v1\ncurrent-context: a\nclusters:\n- name: c\n  cluster:\n";

	bad_cfg("clusters: [\n", NULL, "bad:2:1: not valid YAML");
	bad_cfg("- just\n- a list\n", NULL, "(top level): expected a mapping");
	bad_cfg("clusters: []\n", NULL, "current-context: not set: pass --context NAME");
	bad_cfg(good_cfg, "staging", ":15: contexts: no context named 'staging' (named by --context)");
	{
		char t[2048];

		snprintf(t, sizeof(t), "%s    server: http://k:80\ncontexts:\n- name: a\n  context: {cluster: c}\n", head);
		bad_cfg(t, NULL, "bad:6: server: 'http://k:80' is not an https:// URL");
		snprintf(t, sizeof(t), "%s    insecure-skip-tls-verify: true\n    server: https://k\ncontexts:\n- name: a\n  context: {cluster: c}\n",
			 head);
		bad_cfg(t, NULL, "bad:6: insecure-skip-tls-verify: TLS verification cannot be turned off");
		snprintf(t, sizeof(t), "%s    certificate-authority: x\ncontexts:\n- name: a\n  context: {cluster: c}\n", head);
		bad_cfg(t, NULL, "bad:6: clusters[0].cluster: missing required field 'server'");
		snprintf(t, sizeof(t),
			 "%s    server: https://k\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user:\n"
			 "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n",
			 head);
		bad_cfg(t, NULL, "bad:14: exec: exec credential plugins are not supported");
		snprintf(t, sizeof(t),
			 "%s    server: https://k\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user:\n"
			 "    auth-provider: {name: gcp}\n",
			 head);
		bad_cfg(t, NULL, "bad:13: auth-provider: auth-provider plugins are not supported");
		snprintf(t, sizeof(t),
			 "%s    server: https://k\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user:\n"
			 "    client-certificate: me.crt\n",
			 head);
		bad_cfg(t, NULL, "a client certificate needs its key");
		snprintf(t, sizeof(t),
			 "%s    server: https://k\n    certificate-authority-data: '%%%%'\ncontexts:\n- name: a\n  context: {cluster: c}\n",
			 head);
		bad_cfg(t, NULL, "bad:7: clusters[0].cluster.certificate-authority-data: not valid base64");
		snprintf(t, sizeof(t), "%s    server: https://k\ncontexts:\n- name: a\n  context: {cluster: missing}\n", head);
		bad_cfg(t, NULL, "clusters: no cluster named 'missing' (named by the context)");
		snprintf(t, sizeof(t), "%s    server: [https://k]\ncontexts:\n- name: a\n  context: {cluster: c}\n", head);
		bad_cfg(t, NULL, "bad:6: clusters[0].cluster.server: expected a string");
	}
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
	pod = orch_kube_shadow_pod(wl, "web-adp-shadow-1", "shop.web", "node-c", alloc, "0123456789abcdef");
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
	c0 = json_object_get(json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0), "resources");
	c1 = json_object_get(json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 1), "resources");
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
