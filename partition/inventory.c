#include "partition/inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/timeutil.h"


void inventory_release(struct inventory *inv)
{
	size_t i;

	if (!inv)
		return;
	for (i = 0; i < inv->nparts; i++) {
		free(inv->parts[i].name);
		free(inv->parts[i].zone);
		json_decref(inv->parts[i].cgroup);
		json_decref(inv->parts[i].verify);
		json_decref(inv->parts[i].kube);
	}
	json_decref(inv->kube);
	for (i = 0; i < inv->ncomps; i++) {
		free(inv->comps[i].name);
		free(inv->comps[i].placement);
		history_source_release(&inv->comps[i].history);
		json_decref(inv->comps[i].run);
		json_decref(inv->comps[i].health);
		json_decref(inv->comps[i].traffic);
		json_decref(inv->comps[i].kube);
	}
	free(inv->parts);
	free(inv->comps);
	free(inv->path);
	memset(inv, 0, sizeof(*inv));
}

int inventory_partition_index(const struct inventory *inv, const char *name)
{
	size_t i;

	for (i = 0; i < inv->nparts; i++)
		if (!strcmp(inv->parts[i].name, name))
			return (int)i;
	return -1;
}

int inventory_component_index(const struct inventory *inv, const char *name)
{
	size_t i;

	for (i = 0; i < inv->ncomps; i++)
		if (!strcmp(inv->comps[i].name, name))
			return (int)i;
	return -1;
}

/* Reads {"cpu": .., "memory": .., "io": .., "net": ..} into v. */
static int read_resources(const struct adp_json_doc *d, json_t *obj, const char *jpath,
			  int require_cpu_mem, double v[ADP_RES_COUNT])
{
	static const char *const keys[] = { "cpu", "memory", "io", "net", NULL };
	int r, rc;

	if (!json_is_object(obj))
		return adp_json_fail(d, jpath, "expected an object with cpu, memory, io and net");
	if ((rc = adp_json_check_keys(d, obj, jpath, keys)))
		return rc;
	for (r = 0; r < ADP_RES_COUNT; r++)
		if ((rc = adp_json_quantity(d, obj, jpath, adp_resource_name(r),
					    require_cpu_mem && r <= ADP_RES_MEMORY, &v[r])))
			return rc;
	return 0;
}


/* ---- apply's sections: checked here so that errors carry a line ---- */

#define INV_MAX_ARGS 256
#define INV_MAX_ARG_LEN 4095

/* jpath.key, built into out. */
static const char *subpath(char *out, size_t len, const char *jpath, const char *key)
{
	snprintf(out, len, "%s.%s", jpath, key);
	return out;
}

/* An argv: a non-empty array of at most 256 non-empty strings. */
static int check_argv(const struct adp_json_doc *d, json_t *a, const char *jpath)
{
	char sub[320];
	json_t *v;
	size_t i;

	if (!json_is_array(a) || !json_array_size(a) || json_array_size(a) > INV_MAX_ARGS)
		return adp_json_fail(d, jpath, "expected an array of 1 to %d strings (argv, never a shell string)",
				     INV_MAX_ARGS);
	json_array_foreach(a, i, v) {
		snprintf(sub, sizeof(sub), "%s[%zu]", jpath, i);
		if (!json_is_string(v) || (i == 0 && !*json_string_value(v)))
			return adp_json_fail(d, sub, "expected a%s string", i == 0 ? " non-empty" : "");
		if (strlen(json_string_value(v)) > INV_MAX_ARG_LEN)
			return adp_json_fail(d, sub, "longer than %d bytes", INV_MAX_ARG_LEN);
	}
	return 0;
}

static int check_cgroup(const struct adp_json_doc *d, json_t *o, const char *jpath)
{
	static const char *const keys[] = { "path", "parent", "cpus", "device", NULL };
	const char *path = NULL, *cpus = NULL, *dev = NULL;
	char sub[320];
	unsigned a, b;
	char tail;
	int rc;

	if ((rc = adp_json_check_keys(d, o, jpath, keys)) || (rc = adp_json_string(d, o, jpath, "path", 0, &path)) ||
	    (rc = adp_json_string(d, o, jpath, "cpus", 0, &cpus)) ||
	    (rc = adp_json_string(d, o, jpath, "device", 0, &dev)))
		return rc;
	if (path && (path[0] == '/' || strstr(path, "..") || strlen(path) > 400))
		return adp_json_fail(d, subpath(sub, sizeof(sub), jpath, "path"),
				     "'%s' must be relative to the cgroup root, without '..', at most 400 bytes", path);
	if (cpus && strspn(cpus, "0123456789,-") != strlen(cpus))
		return adp_json_fail(d, subpath(sub, sizeof(sub), jpath, "cpus"),
				     "'%s' is not a cpu list such as \"0-1,4\"", cpus);
	if (dev && dev[0] != '/' && sscanf(dev, "%u:%u%c", &a, &b, &tail) != 2)
		return adp_json_fail(d, subpath(sub, sizeof(sub), jpath, "device"),
				     "'%s' is neither a device path nor MAJOR:MINOR", dev);
	return 0;
}

static int check_verify(const struct adp_json_doc *d, json_t *o, const char *jpath)
{
	static const char *const keys[] = { "command", "timeout", NULL };
	char sub[320];
	double t;
	int rc;

	if ((rc = adp_json_check_keys(d, o, jpath, keys)) ||
	    (rc = adp_json_number(d, o, jpath, "timeout", 0, 1, 86400, &t)))
		return rc;
	if (!json_object_get(o, "command"))
		return adp_json_fail(d, jpath, "missing required field 'command'");
	return check_argv(d, json_object_get(o, "command"), subpath(sub, sizeof(sub), jpath, "command"));
}

static int env_name_ok(const char *k)
{
	size_t i;

	if (!*k || (k[0] >= '0' && k[0] <= '9'))
		return 0;
	for (i = 0; k[i]; i++)
		if (!(k[i] == '_' || (k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= 'a' && k[i] <= 'z') ||
		      (k[i] >= '0' && k[i] <= '9')))
			return 0;
	return 1;
}

static int check_run(const struct adp_json_doc *d, json_t *o, const char *jpath, const struct inventory *inv)
{
	static const char *const keys[] = { "argv", "env", "cwd", "stop_grace", "ports", NULL };
	const char *cwd = NULL, *k;
	char sub[320], sub2[400];
	json_t *v, *x;
	double g;
	int rc;

	if ((rc = adp_json_check_keys(d, o, jpath, keys)) || (rc = adp_json_string(d, o, jpath, "cwd", 0, &cwd)) ||
	    (rc = adp_json_number(d, o, jpath, "stop_grace", 0, 0, 3600, &g)))
		return rc;
	if (!json_object_get(o, "argv"))
		return adp_json_fail(d, jpath, "missing required field 'argv'");
	if ((rc = check_argv(d, json_object_get(o, "argv"), subpath(sub, sizeof(sub), jpath, "argv"))))
		return rc;
	if ((v = json_object_get(o, "env"))) {
		subpath(sub, sizeof(sub), jpath, "env");
		if (!json_is_object(v) || json_object_size(v) > 1024)
			return adp_json_fail(d, sub, "expected an object of at most 1024 NAME: \"value\" strings");
		json_object_foreach(v, k, x) {
			snprintf(sub2, sizeof(sub2), "%s.%s", sub, k);
			if (!env_name_ok(k))
				return adp_json_fail(d, sub2, "'%s' is not a variable name: expected [A-Za-z_][A-Za-z0-9_]*", k);
			if (!json_is_string(x) || strlen(json_string_value(x)) > INV_MAX_ARG_LEN)
				return adp_json_fail(d, sub2, "expected a string of at most %d bytes", INV_MAX_ARG_LEN);
		}
	}
	if ((v = json_object_get(o, "ports"))) {
		subpath(sub, sizeof(sub), jpath, "ports");
		if (!json_is_object(v))
			return adp_json_fail(d, sub, "expected an object of partition: port");
		json_object_foreach(v, k, x) {
			snprintf(sub2, sizeof(sub2), "%s.%s", sub, k);
			if (inventory_partition_index(inv, k) < 0)
				return adp_json_fail(d, sub2, "'%s' is not a partition of this inventory", k);
			if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 65535)
				return adp_json_fail(d, sub2, "expected a port number from 1 to 65535");
		}
	}
	return 0;
}

static int check_health(const struct adp_json_doc *d, json_t *o, const char *jpath)
{
	static const char *const keys[] = { "http", "command", "expect_status", "timeout", "retries", "interval",
					    NULL };
	const char *url = NULL;
	char sub[320];
	double x;
	int rc;

	if ((rc = adp_json_check_keys(d, o, jpath, keys)) || (rc = adp_json_string(d, o, jpath, "http", 0, &url)) ||
	    (rc = adp_json_number(d, o, jpath, "expect_status", 0, 100, 599, &x)) ||
	    (rc = adp_json_number(d, o, jpath, "timeout", 0, 1, 3600, &x)) ||
	    (rc = adp_json_number(d, o, jpath, "retries", 0, 1, 1000, &x)) ||
	    (rc = adp_json_number(d, o, jpath, "interval", 0, 0.05, 60, &x)))
		return rc;
	if (!!url == !!json_object_get(o, "command"))
		return adp_json_fail(d, jpath, "expected exactly one of 'http' (a URL) or 'command' (an argv)");
	if (url && strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return adp_json_fail(d, subpath(sub, sizeof(sub), jpath, "http"),
				     "'%s' is not an http:// or https:// URL", url);
	if (!url)
		return check_argv(d, json_object_get(o, "command"), subpath(sub, sizeof(sub), jpath, "command"));
	return 0;
}

static int check_traffic(const struct adp_json_doc *d, json_t *o, const char *jpath)
{
	static const char *const keys[] = { "haproxy_socket", "backend", "server_prefix", "canary_seconds",
					    "max_errors", "max_response_ms", NULL };
	const char *sock = NULL, *be = NULL, *pre = NULL;
	char sub[320];
	double x;
	int rc;

	if ((rc = adp_json_check_keys(d, o, jpath, keys)) ||
	    (rc = adp_json_number(d, o, jpath, "canary_seconds", 0, 0, 3600, &x)) ||
	    (rc = adp_json_number(d, o, jpath, "max_response_ms", 0, 0, 3.6e6, &x)) ||
	    (rc = adp_json_string(d, o, jpath, "haproxy_socket", 1, &sock)) ||
	    (rc = adp_json_string(d, o, jpath, "backend", 1, &be)) ||
	    (rc = adp_json_string(d, o, jpath, "server_prefix", 0, &pre)))
		return rc;
	if (json_object_get(o, "max_errors") && (!json_is_integer(json_object_get(o, "max_errors")) ||
						 json_integer_value(json_object_get(o, "max_errors")) < 0))
		return adp_json_fail(d, subpath(sub, sizeof(sub), jpath, "max_errors"), "expected a whole number >= 0");
	/* sockaddr_un holds 107 bytes and a NUL. */
	if (strlen(sock) > 107)
		return adp_json_fail(d, subpath(sub, sizeof(sub), jpath, "haproxy_socket"),
				     "a UNIX socket path is at most 107 bytes");
	if (strpbrk(be, " \t\n/") || (pre && strpbrk(pre, " \t\n/")))
		return adp_json_fail(d, subpath(sub, sizeof(sub), jpath, strpbrk(be, " \t\n/") ? "backend" : "server_prefix"),
				     "HAProxy names take no spaces or '/'");
	return 0;
}

/* Takes a reference to the optional object obj[key] in *out (left NULL
 * when absent), refusing any other type with expect; sub receives its
 * path for the caller's checks. */
static int take_object(const struct adp_json_doc *d, json_t *obj, const char *jpath, const char *key,
		       const char *expect, json_t **out, char sub[256])
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	snprintf(sub, 256, "%s.%s", jpath, key);
	if (!json_is_object(v))
		return adp_json_fail(d, sub, "%s", expect);
	*out = json_incref(v);
	return 0;
}

static int read_partition(const struct adp_json_doc *d, json_t *obj, const char *jpath,
			  struct inventory *inv, struct inv_partition *p)
{
	static const char *const keys[] = { "name", "zone", "capacity", "cgroup", "verify", "kubernetes", NULL };
	const char *name = NULL, *zone = "";
	char sub[256];
	int rc;

	if (!json_is_object(obj))
		return adp_json_fail(d, jpath, "expected an object");
	if ((rc = adp_json_check_keys(d, obj, jpath, keys)) ||
	    (rc = adp_json_string(d, obj, jpath, "name", 1, &name)) ||
	    (rc = adp_json_string(d, obj, jpath, "zone", 0, &zone)))
		return rc;
	snprintf(sub, sizeof(sub), "%s.name", jpath);
	if (!history_name_valid(name))
		return adp_json_fail(d, sub, "'%s' is not a valid name: expected 1 to %d of A-Z a-z 0-9 . _ -",
				     name, ADP_HISTORY_MAX_NAME);
	if (inventory_partition_index(inv, name) >= 0)
		return adp_json_fail(d, sub, "partition '%s' is defined twice", name);
	if (!(p->name = strdup(name)) || !(p->zone = strdup(zone)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	snprintf(sub, sizeof(sub), "%s.capacity", jpath);
	if (!json_object_get(obj, "capacity"))
		return adp_json_fail(d, jpath, "missing required field 'capacity'");
	if ((rc = read_resources(d, json_object_get(obj, "capacity"), sub, 1, p->capacity)))
		return rc;
	if (p->capacity[ADP_RES_CPU] <= 0 || p->capacity[ADP_RES_MEMORY] <= 0)
		return adp_json_fail(d, sub, "cpu and memory capacity must be positive");
	if ((rc = take_object(d, obj, jpath, "cgroup", "expected an object with path or parent, and cpus", &p->cgroup,
			      sub)) ||
	    (p->cgroup && (rc = check_cgroup(d, p->cgroup, sub))) ||
	    (rc = take_object(d, obj, jpath, "verify", "expected an object with command and timeout", &p->verify, sub)) ||
	    (p->verify && (rc = check_verify(d, p->verify, sub))))
		return rc;
	return take_object(d, obj, jpath, "kubernetes", "expected an object", &p->kube, sub);
}

static int read_component(const struct adp_json_doc *d, json_t *obj, const char *jpath,
			  struct inventory *inv, struct inv_component *c)
{
	static const char *const keys[] = { "name", "tier", "replicas", "placement", "min", "history",
					    "run", "health", "traffic", "kubernetes", NULL };
	const char *name = NULL;
	double tier = INV_MAX_TIER, replicas = 0;
	json_t *placement, *v;
	char sub[256];
	size_t i, j;
	int rc;

	if (!json_is_object(obj))
		return adp_json_fail(d, jpath, "expected an object");
	if ((rc = adp_json_check_keys(d, obj, jpath, keys)) ||
	    (rc = adp_json_string(d, obj, jpath, "name", 1, &name)) ||
	    (rc = adp_json_number(d, obj, jpath, "tier", 0, 0, INV_MAX_TIER, &tier)) ||
	    (rc = adp_json_number(d, obj, jpath, "replicas", 0, 1, INV_MAX_REPLICAS, &replicas)))
		return rc;
	snprintf(sub, sizeof(sub), "%s.name", jpath);
	if (!history_name_valid(name))
		return adp_json_fail(d, sub, "'%s' is not a valid name: expected 1 to %d of A-Z a-z 0-9 . _ -",
				     name, ADP_HISTORY_MAX_NAME);
	if (inventory_component_index(inv, name) >= 0)
		return adp_json_fail(d, sub, "component '%s' is defined twice", name);
	if (!(c->name = strdup(name)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	c->tier = (int)tier;
	if (tier != (double)c->tier) {
		snprintf(sub, sizeof(sub), "%s.tier", jpath);
		return adp_json_fail(d, sub, "expected a whole number from 0 (most critical) to %d", INV_MAX_TIER);
	}
	placement = json_object_get(obj, "placement");
	snprintf(sub, sizeof(sub), "%s.placement", jpath);
	if (!json_is_array(placement) || json_array_size(placement) == 0)
		return adp_json_fail(d, placement ? sub : jpath,
				     placement ? "expected a non-empty array of partition names"
					       : "missing required field 'placement'");
	if (replicas == 0)
		replicas = (double)json_array_size(placement);
	if (replicas != (double)(size_t)replicas || json_array_size(placement) != (size_t)replicas)
		return adp_json_fail(d, sub, "places %zu replicas, but replicas is %g",
				     json_array_size(placement), replicas);
	c->replicas = (size_t)replicas;
	if (!(c->placement = calloc(c->replicas, sizeof(*c->placement))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_array_foreach(placement, i, v) {
		char ppath[300];
		int idx;

		snprintf(ppath, sizeof(ppath), "%s[%zu]", sub, i);
		if (!json_is_string(v))
			return adp_json_fail(d, ppath, "expected a partition name");
		if ((idx = inventory_partition_index(inv, json_string_value(v))) < 0)
			return adp_json_fail(d, ppath, "unknown partition '%s'", json_string_value(v));
		for (j = 0; j < i; j++)
			if (c->placement[j] == (size_t)idx)
				return adp_json_fail(d, ppath,
						     "partition '%s' already holds a replica of '%s': replicas must be on different partitions",
						     json_string_value(v), name);
		c->placement[i] = (size_t)idx;
	}
	if ((v = json_object_get(obj, "min"))) {
		snprintf(sub, sizeof(sub), "%s.min", jpath);
		if ((rc = read_resources(d, v, sub, 0, c->min)))
			return rc;
	}
	if ((v = json_object_get(obj, "history"))) {
		snprintf(sub, sizeof(sub), "%s.history", jpath);
		if ((rc = history_source_parse(&c->history, d, v, sub)))
			return rc;
	}
	{
		static const char *const local[] = { "run", "health", "traffic", "kubernetes" };
		json_t **dst[] = { &c->run, &c->health, &c->traffic, &c->kube };

		for (i = 0; i < 4; i++) {
			if ((rc = take_object(d, obj, jpath, local[i], "expected an object", dst[i], sub)))
				return rc;
			if (!(v = *dst[i]))
				continue;
			/* The kubernetes section is discovery's own, read by its driver. */
			if ((rc = i == 0 ? check_run(d, v, sub, inv) : i == 1 ? check_health(d, v, sub)
				  : i == 2 ? check_traffic(d, v, sub) : 0))
				return rc;
		}
	}
	return 0;
}

int inventory_load(struct inventory *out, const char *path)
{
	static const char *const keys[] = { "partitions", "components", "kubernetes", NULL };
	struct adp_json_doc d;
	struct inventory inv = { 0 };
	json_t *parts, *comps, *v;
	size_t i;
	int rc;

	if ((rc = adp_json_load(&d, path)))
		return rc;
	if ((rc = adp_json_check_keys(&d, d.root, "", keys)))
		goto done;
	parts = json_object_get(d.root, "partitions");
	comps = json_object_get(d.root, "components");
	if (!json_is_array(parts) || json_array_size(parts) == 0) {
		rc = parts ? adp_json_fail(&d, "partitions", "expected a non-empty array")
			   : adp_error_set(ADP_EINPUT, "%s: missing required field 'partitions'", path);
		goto done;
	}
	if (!json_is_array(comps)) {
		rc = comps ? adp_json_fail(&d, "components", "expected an array")
			   : adp_error_set(ADP_EINPUT, "%s: missing required field 'components'", path);
		goto done;
	}
	if (json_array_size(parts) > INV_MAX_PARTITIONS || json_array_size(comps) > INV_MAX_COMPONENTS) {
		rc = adp_error_set(ADP_EINPUT, "%s: more than %d partitions or %d components", path,
				   INV_MAX_PARTITIONS, INV_MAX_COMPONENTS);
		goto done;
	}
	if (!(inv.path = strdup(path)) ||
	    !(inv.parts = calloc(json_array_size(parts), sizeof(*inv.parts))) ||
	    (json_array_size(comps) && !(inv.comps = calloc(json_array_size(comps), sizeof(*inv.comps))))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	json_array_foreach(parts, i, v) {
		char jpath[64];

		snprintf(jpath, sizeof(jpath), "partitions[%zu]", i);
		rc = read_partition(&d, v, jpath, &inv, &inv.parts[i]);
		inv.nparts++;
		if (rc)
			goto done;
	}
	json_array_foreach(comps, i, v) {
		char jpath[64];

		snprintf(jpath, sizeof(jpath), "components[%zu]", i);
		rc = read_component(&d, v, jpath, &inv, &inv.comps[i]);
		inv.ncomps++;
		if (rc)
			goto done;
	}
	if ((v = json_object_get(d.root, "kubernetes"))) {
		if (!json_is_object(v)) {
			rc = adp_json_fail(&d, "kubernetes", "expected an object");
			goto done;
		}
		inv.kube = json_incref(v);
	}
	*out = inv;
	memset(&inv, 0, sizeof(inv));
done:
	inventory_release(&inv);
	adp_json_release(&d);
	return rc;
}

int inventory_load_history(struct history *h, const struct inventory *inv,
			   const char *const *extra, size_t nextra,
			   const struct history_opts *o, char ***files, size_t *nfiles)
{
	size_t i;
	int rc;

	for (i = 0; i < nextra; i++) {
		if ((rc = history_add_file(h, extra[i], o)) ||
		    (rc = history_files_add(files, nfiles, extra[i])))
			return rc;
	}
	for (i = 0; i < inv->ncomps; i++) {
		const struct inv_component *c = &inv->comps[i];

		if (history_has_component(h, c->name))
			continue;
		if ((rc = history_source_read(h, &c->history, c->name, o, files, nfiles)))
			return rc;
	}
	for (i = 0; i < h->n; i++)
		if (inventory_component_index(inv, h->items[i].component) < 0)
			return adp_error_set(ADP_EINPUT,
					     "%s: history names component '%s', which the inventory '%s' does not define",
					     h->items[i].source, h->items[i].component, inv->path);
	for (i = 0; i < inv->ncomps; i++)
		if (!history_has_component(h, inv->comps[i].name))
			return adp_error_set(ADP_EINPUT,
					     "%s: component '%s' has no history: give it a \"history\" field or pass a long-format file with --history",
					     inv->path, inv->comps[i].name);
	return 0;
}
