#include "orchestrator/kube/discover.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history/history.h"
#include "util/error.h"
#include "util/jsonutil.h"

static const char *const pool_labels[] = { "node.kubernetes.io/pool", "cloud.google.com/gke-nodepool",
					   "eks.amazonaws.com/nodegroup", "karpenter.sh/nodepool",
					   "kubernetes.azure.com/agentpool", "agentpool", NULL };

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static json_t *md(json_t *o)
{
	return json_object_get(o, "metadata");
}

void kube_pod_requests(json_t *spec, double *cpu, double *memory)
{
	json_t *c;
	size_t i;

	*cpu = *memory = 0;
	json_array_foreach(json_object_get(spec, "containers"), i, c) {
		json_t *req = json_object_get(json_object_get(c, "resources"), "requests");
		double v;

		if (!kube_quantity(str(req, "cpu"), &v))
			*cpu += v;
		if (!kube_quantity(str(req, "memory"), &v))
			*memory += v;
	}
}

int kube_component_name(char *out, size_t len, const char *ns, const char *name)
{
	snprintf(out, len, "%s.%s", ns ? ns : "default", name ? name : "");
	return history_name_valid(out) && strlen(out) < len - 1 ? 0 : -1;
}

static int warn(json_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int warn(json_t *w, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return json_array_append_new(w, json_string(buf)) ? adp_error_set(ADP_ENOMEM, "out of memory") : 0;
}

/* The controlling owner reference of o, or NULL. */
static json_t *controller(json_t *o)
{
	json_t *r;
	size_t i;

	json_array_foreach(json_object_get(md(o), "ownerReferences"), i, r)
		if (json_is_true(json_object_get(r, "controller")))
			return r;
	return NULL;
}

/* The Deployment or StatefulSet among wl that owns pod, or NULL. A
 * Deployment owns its pods through a ReplicaSet named "<name>-<hash>". */
static json_t *owner_of(json_t *pod, json_t *deploys, json_t *sets)
{
	json_t *ref = controller(pod), *w;
	const char *kind = str(ref, "kind"), *name = str(ref, "name"), *ns = str(md(pod), "namespace");
	size_t i;

	if (!kind || !name)
		return NULL;
	if (!strcmp(kind, "StatefulSet")) {
		json_array_foreach(sets, i, w)
			if (!strcmp(str(md(w), "name") ?: "", name) && !strcmp(str(md(w), "namespace") ?: "", ns ?: ""))
				return w;
		return NULL;
	}
	if (strcmp(kind, "ReplicaSet"))
		return NULL;
	json_array_foreach(deploys, i, w) {
		const char *dn = str(md(w), "name");
		size_t n = dn ? strlen(dn) : 0;

		if (dn && !strncmp(name, dn, n) && name[n] == '-' && !strchr(name + n + 1, '-') &&
		    !strcmp(str(md(w), "namespace") ?: "", ns ?: ""))
			return w;
	}
	return NULL;
}

static int is_daemon_or_static(json_t *pod)
{
	json_t *ref = controller(pod);
	json_t *ann = json_object_get(md(pod), "annotations");

	return (ref && str(ref, "kind") && !strcmp(str(ref, "kind"), "DaemonSet")) ||
	       json_object_get(ann, "kubernetes.io/config.mirror") != NULL;
}

static int pod_active(json_t *pod)
{
	const char *ph = str(json_object_get(pod, "status"), "phase");

	return !json_object_get(md(pod), "deletionTimestamp") && (!ph || strcmp(ph, "Succeeded")) &&
	       (!ph || strcmp(ph, "Failed"));
}

/* Per-node bookkeeping. */
struct knode {
	const char *name;
	json_t *obj, *part;
	double alloc_cpu, alloc_mem, res_cpu, res_mem;
	int used;
};

static struct knode *find_node(struct knode *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; name && i < n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

static json_t *containers_of(json_t *tmpl)
{
	json_t *out = json_array(), *c;
	struct adp_jb jb = { 0 };
	size_t i;

	json_array_foreach(json_object_get(json_object_get(tmpl, "spec"), "containers"), i, c) {
		json_t *res = json_object_get(c, "resources");
		adp_jpush(&jb, out, json_pack("{s:s?, s:O?, s:O?}", "name", str(c, "name"), "requests",
					      json_object_get(res, "requests"), "limits", json_object_get(res, "limits")));
	}
	if (jb.failed) { /* NULL: the caller's json_pack fails on it */
		json_decref(out);
		return NULL;
	}
	return out;
}

/* Placement and guarantee of the workload wl from its pods (tagged
 * "_wl"): each node once, min the most that one node holds. */
static int place_pods(json_t *wl, json_t *pods, struct knode *nodes, size_t nn, json_t *placement, json_t *kpods,
		      double *need_cpu, double *need_mem)
{
	json_t *p, *q, *v;
	size_t i, j;

	*need_cpu = *need_mem = 0;
	json_array_foreach(pods, i, p) {
		const char *node = str(json_object_get(p, "spec"), "nodeName");
		double c = 0, m = 0, sc = 0, sm = 0;
		int seen = 0;

		if (json_object_get(p, "_wl") != wl)
			continue;
		if (json_array_append_new(kpods, json_pack("{s:s, s:s, s:s?}", "name", str(md(p), "name"), "node", node,
							   "uid", str(md(p), "uid"))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		json_array_foreach(placement, j, v)
			seen |= !strcmp(json_string_value(v), node);
		if (seen)
			continue;
		if (json_array_append_new(placement, json_string(node)))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		find_node(nodes, nn, node)->used = 1;
		json_array_foreach(pods, j, q) {
			if (json_object_get(q, "_wl") != wl || strcmp(str(json_object_get(q, "spec"), "nodeName"), node))
				continue;
			kube_pod_requests(json_object_get(q, "spec"), &c, &m);
			sc += c;
			sm += m;
		}
		*need_cpu = fmax(*need_cpu, sc);
		*need_mem = fmax(*need_mem, sm);
	}
	return 0;
}

/* One component from a workload: its pods on the partitions. */
static int add_component(json_t *comps, json_t *wl, const char *kind, json_t *pods, struct knode *nodes,
			 size_t nn, json_t *w)
{
	const char *ns = str(md(wl), "namespace"), *name = str(md(wl), "name");
	const char *tier = str(json_object_get(md(wl), "annotations"), KUBE_TIER_ANNOTATION);
	json_t *spec = json_object_get(wl, "spec"), *placement = json_array(), *kpods = json_array(), *comp = NULL, *p;
	double need_cpu, need_mem;
	char cname[160];
	size_t i;
	int rc = 0, dup = 0, err = 0;

	if (kube_component_name(cname, sizeof(cname), ns, name)) {
		rc = warn(w, "%s '%s/%s': '%s' is not a valid component name: left out", kind, ns, name, cname);
		goto done;
	}
	json_array_foreach(comps, i, p)
		dup |= !strcmp(str(p, "name"), cname);
	if (dup) {
		rc = warn(w, "%s '%s/%s': a workload of the same name is already the component '%s': left out", kind,
			  ns, name, cname);
		goto done;
	}
	if (!placement || !kpods || (rc = place_pods(wl, pods, nodes, nn, placement, kpods, &need_cpu, &need_mem))) {
		rc = rc ? rc : adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	if (!json_array_size(placement)) {
		rc = warn(w, "%s '%s/%s' has no running pods on a schedulable Ready node: left out", kind, ns, name);
		goto done;
	}
	comp = json_pack("{s:s, s:I, s:O, s:{s:f, s:f}}", "name", cname, "replicas",
			 (json_int_t)json_array_size(placement), "placement", placement, "min", "cpu", need_cpu, "memory",
			 need_mem);
	if (tier && strlen(tier) == 1 && tier[0] >= '0' && tier[0] <= '9')
		err |= json_object_set_new(comp, "tier", json_integer(tier[0] - '0'));
	else if (tier && (rc = warn(w, "%s '%s/%s': annotation %s '%s' is not a tier from 0 to 9: ignored", kind, ns,
				    name, KUBE_TIER_ANNOTATION, tier)))
		goto done;
	/* set_new takes the value also when it fails (comp NULL included). */
	err |= json_object_set_new(comp, "kubernetes",
				   json_pack("{s:s, s:s, s:s, s:O?, s:O, s:o, s:I}", "namespace", ns, "kind", kind, "name",
					     name, "selector", json_object_get(spec, "selector"), "pods", kpods,
					     "containers", containers_of(json_object_get(spec, "template")),
					     "desired_replicas",
					     (json_int_t)json_integer_value(json_object_get(spec, "replicas"))));
	if (err || json_array_append(comps, comp))
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
done:
	json_decref(comp);
	json_decref(placement);
	json_decref(kpods);
	return rc;
}

static int list(struct kube_client *k, const char *coll_path, const char *ns, json_t **out)
{
	char path[512];
	const char *slash = strrchr(coll_path, '/');

	if (ns)
		snprintf(path, sizeof(path), "%.*s/namespaces/%s%s", (int)(slash - coll_path), coll_path, ns, slash);
	else
		snprintf(path, sizeof(path), "%s", coll_path);
	return kube_list(k, path, out);
}

int kube_discover(struct kube_client *k, const struct kube_discover_opts *o, json_t **doc)
{
	json_t *nodes = NULL, *pods = NULL, *deploys = NULL, *sets = NULL, *daemons = NULL, *pdbs = NULL;
	json_t *parts = json_array(), *comps = json_array(), *w = json_array(), *kpdbs = json_array(), *v;
	json_t *kds = json_array();
	const char *zl = o && o->zone_label ? o->zone_label : "topology.kubernetes.io/zone";
	const char *ns = o ? o->ns : NULL;
	struct knode *kn = NULL;
	struct adp_jb jb = { 0 };
	size_t nn = 0, i, j;
	int rc;

	*doc = NULL;
	if ((rc = kube_list(k, "/api/v1/nodes", &nodes)) || (rc = kube_list(k, "/api/v1/pods", &pods)) ||
	    (rc = list(k, "/apis/apps/v1/deployments", ns, &deploys)) ||
	    (rc = list(k, "/apis/apps/v1/statefulsets", ns, &sets)) ||
	    (rc = list(k, "/apis/apps/v1/daemonsets", ns, &daemons)) ||
	    (rc = list(k, "/apis/policy/v1/poddisruptionbudgets", ns, &pdbs)))
		goto done;
	if (!(kn = calloc(json_array_size(nodes) + 1, sizeof(*kn)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	json_array_foreach(nodes, i, v) {
		const char *name = str(md(v), "name");
		json_t *alloc = json_object_get(json_object_get(v, "status"), "allocatable");
		int unsched = json_is_true(json_object_get(json_object_get(v, "spec"), "unschedulable"));

		if (!name)
			continue;
		if (o && o->nodes && !kube_selector_match(o->nodes, json_object_get(md(v), "labels"))) {
			warn(w, "node '%s' does not match --node-selector '%s': left out of the partitions", name, o->nodes->text);
			continue;
		}
		if (unsched || !kube_ready(v)) {
			warn(w, "node '%s' is %s: left out of the partitions", name, unsched ? "cordoned" : "not Ready");
			continue;
		}
		if (!history_name_valid(name)) {
			warn(w, "node '%s': not a valid partition name: left out", name);
			continue;
		}
		kn[nn].name = name;
		kn[nn].obj = v;
		if (kube_quantity(str(alloc, "cpu"), &kn[nn].alloc_cpu) ||
		    kube_quantity(str(alloc, "memory"), &kn[nn].alloc_mem)) {
			warn(w, "node '%s': allocatable cpu or memory missing or malformed: left out", name);
			continue;
		}
		nn++;
	}
	/* Pods: workload pods are tagged with their workload; the rest is
	 * reserved on its node. */
	json_array_foreach(pods, i, v) {
		struct knode *n = find_node(kn, nn, str(json_object_get(v, "spec"), "nodeName"));
		json_t *wl;
		double c, m;

		if (!n || !pod_active(v))
			continue;
		wl = is_daemon_or_static(v) || json_object_get(json_object_get(md(v), "labels"), KUBE_SHADOW_LABEL)
			     ? NULL
			     : owner_of(v, deploys, sets);
		if (wl) {
			json_object_set(v, "_wl", wl);
			continue;
		}
		kube_pod_requests(json_object_get(v, "spec"), &c, &m);
		n->res_cpu += c;
		n->res_mem += m;
	}
	json_array_foreach(deploys, i, v)
		if ((rc = add_component(comps, v, "Deployment", pods, kn, nn, w)))
			goto done;
	json_array_foreach(sets, i, v)
		if ((rc = add_component(comps, v, "StatefulSet", pods, kn, nn, w)))
			goto done;
	for (i = 0; i < nn; i++) {
		json_t *labels = json_object_get(md(kn[i].obj), "labels");
		const char *pool = NULL;
		double cpu = kn[i].alloc_cpu - kn[i].res_cpu, mem = kn[i].alloc_mem - kn[i].res_mem;

		if (o && o->pool_label)
			pool = str(labels, o->pool_label);
		for (j = 0; !(o && o->pool_label) && !pool && pool_labels[j]; j++)
			pool = str(labels, pool_labels[j]);
		if (cpu <= 0.001 || mem <= 1048576) {
			warn(w, "node '%s': pods that stay (DaemonSets, static and bare pods) request all of its allocatable cpu or memory",
			     kn[i].name);
			cpu = fmax(cpu, 0.001);
			mem = fmax(mem, 1048576);
		}
		adp_jpush(&jb, parts, json_pack("{s:s, s:s, s:{s:f, s:f}, s:{s:s, s:s?, s:f, s:f, s:f, s:f}}",
						       "name", kn[i].name, "zone", str(labels, zl) ?: "", "capacity",
						       "cpu", cpu, "memory", mem, "kubernetes", "node", kn[i].name,
						       "pool", pool, "allocatable_cpu", kn[i].alloc_cpu,
						       "allocatable_memory", kn[i].alloc_mem, "reserved_cpu",
						       kn[i].res_cpu, "reserved_memory", kn[i].res_mem));
	}
	json_array_foreach(pdbs, i, v) {
		json_t *spec = json_object_get(v, "spec"), *st = json_object_get(v, "status");

		adp_jpush(&jb, kpdbs, json_pack("{s:s?, s:s?, s:O?, s:O?, s:O?, s:I}", "namespace",
						       str(md(v), "namespace"), "name", str(md(v), "name"), "selector",
						       json_object_get(spec, "selector"), "minAvailable",
						       json_object_get(spec, "minAvailable"), "maxUnavailable",
						       json_object_get(spec, "maxUnavailable"), "disruptionsAllowed",
						       (json_int_t)json_integer_value(json_object_get(st, "disruptionsAllowed"))));
		if (json_integer_value(json_object_get(st, "disruptionsAllowed")) == 0)
			warn(w, "PodDisruptionBudget '%s/%s' allows no disruption now: drains wait until the shadows are Ready",
			     str(md(v), "namespace"), str(md(v), "name"));
	}
	json_array_foreach(daemons, i, v)
		adp_jpush(&jb, kds, json_pack("{s:s?, s:s?}", "namespace", str(md(v), "namespace"), "name",
						     str(md(v), "name")));
	if ((rc = adp_jb_check(&jb)))
		goto done;
	if (!nn) {
		rc = adp_error_set(ADP_EINPUT, "kubernetes '%s': no node is Ready and schedulable: nothing to plan on",
				   k->cfg.server);
		goto done;
	}
	*doc = json_pack("{s:O, s:O, s:{s:s, s:s?, s:s?, s:O, s:O, s:O}}", "partitions", parts, "components", comps,
			 "kubernetes", "server", k->cfg.server, "context", k->cfg.context, "namespace", ns,
			 "pod_disruption_budgets", kpdbs, "daemonsets", kds, "warnings", w);
	if (!*doc)
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
done:
	free(kn);
	json_decref(nodes);
	json_decref(pods);
	json_decref(deploys);
	json_decref(sets);
	json_decref(daemons);
	json_decref(pdbs);
	json_decref(parts);
	json_decref(comps);
	json_decref(w);
	json_decref(kpdbs);
	json_decref(kds);
	return rc;
}
