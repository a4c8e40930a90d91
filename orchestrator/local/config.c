/* The local driver's sections of the inventory: each partition's
 * cgroup and verify, each component's run, health and traffic. They are
 * checked here, once, with the file, the line and the JSON path of the
 * field at fault, so that the ops can take their types and bounds for
 * granted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/local/local_int.h"
#include "util/error.h"
#include "util/jsonutil.h"

#define MAX_ARGS LOCAL_MAX_ARGS
#define MAX_ARG_LEN (LOCAL_MAX_ARG_LEN - 1)

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

	if (!json_is_array(a) || !json_array_size(a) || json_array_size(a) > MAX_ARGS)
		return adp_json_fail(d, jpath, "expected an array of 1 to %d strings (argv, never a shell string)",
				     MAX_ARGS);
	json_array_foreach(a, i, v) {
		snprintf(sub, sizeof(sub), "%s[%zu]", jpath, i);
		if (!json_is_string(v) || (i == 0 && !*json_string_value(v)))
			return adp_json_fail(d, sub, "expected a%s string", i == 0 ? " non-empty" : "");
		if (strlen(json_string_value(v)) > MAX_ARG_LEN)
			return adp_json_fail(d, sub, "longer than %d bytes", MAX_ARG_LEN);
	}
	return 0;
}

/* HAProxy's identifier characters (a prefix may be empty: the server is
 * then named after the partition). */
static int haproxy_name(const char *s)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-";

	return strspn(s, ok) == strlen(s);
}

static int check_cgroup(const struct adp_json_doc *d, json_t *o, const char *jpath)
{
	static const char *const keys[] = { "path", "parent", "cpus", "device", NULL };
	const char *path = NULL, *parent = NULL, *cpus = NULL, *dev = NULL;
	char sub[320];
	unsigned a, b;
	char tail;
	int rc;

	if ((rc = adp_json_check_keys(d, o, jpath, keys)) || (rc = adp_json_string(d, o, jpath, "path", 0, &path)) ||
	    (rc = adp_json_string(d, o, jpath, "parent", 0, &parent)) ||
	    (rc = adp_json_string(d, o, jpath, "cpus", 0, &cpus)) ||
	    (rc = adp_json_string(d, o, jpath, "device", 0, &dev)))
		return rc;
	if (path && (path[0] == '/' || strstr(path, "..") || strlen(path) > 400))
		return adp_json_fail(d, subpath(sub, sizeof(sub), jpath, "path"),
				     "'%s' must be relative to the cgroup root, without '..', at most 400 bytes", path);
	/* The partition's cgroup is PARENT/NAME (a name is at most 128 bytes). */
	if (parent && (parent[0] == '/' || strstr(parent, "..") || strlen(parent) > 270))
		return adp_json_fail(d, subpath(sub, sizeof(sub), jpath, "parent"),
				     "'%s' must be relative to the cgroup root, without '..', at most 270 bytes", parent);
	if (parent && path)
		return adp_json_fail(d, subpath(sub, sizeof(sub), jpath, "parent"),
				     "give path (the cgroup itself) or parent (the cgroup above it), not both");
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
	static const char *const keys[] = { "argv", "env", "cwd", "stop_grace", "ports", "start_idle", NULL };
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
	if ((v = json_object_get(o, "start_idle")) && !json_is_boolean(v))
		return adp_json_fail(d, subpath(sub, sizeof(sub), jpath, "start_idle"),
				     "expected true (its process may be started ahead of its wave, out of traffic) or false");
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
			if (!json_is_string(x) || strlen(json_string_value(x)) > MAX_ARG_LEN)
				return adp_json_fail(d, sub2, "expected a string of at most %d bytes", MAX_ARG_LEN);
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
	/* Names go into runtime API commands, where ';' and a line end would
	 * start another command: HAProxy's identifier characters only. */
	if (!haproxy_name(be) || (pre && !haproxy_name(pre)))
		return adp_json_fail(d, subpath(sub, sizeof(sub), jpath, !haproxy_name(be) ? "backend" : "server_prefix"),
				     "HAProxy names are letters, digits and . _ : - only");
	return 0;
}


/* A section when present: check(doc, section, "WHERE[i].KEY"). */
static int check_at(const struct adp_json_doc *doc, json_t *o, const char *where, size_t i, const char *key,
		    int (*check)(const struct adp_json_doc *, json_t *, const char *))
{
	char jpath[96];

	if (!o)
		return 0;
	snprintf(jpath, sizeof(jpath), "%s[%zu].%s", where, i, key);
	return check(doc, o, jpath);
}

int orch_local_config_check(const struct inventory *inv)
{
	struct adp_json_doc doc = { 0 };
	char jpath[96];
	size_t i;
	int rc = 0;

	/* The sections are checked as inventory_load kept them; the file is
	 * read again only to name the lines (an inventory built in memory has
	 * no file: its messages have no line). */
	if ((!inv->path || adp_json_load(&doc, inv->path)) &&
	    !(doc.path = strdup(inv->path ? inv->path : "inventory")))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	adp_error_clear();
	for (i = 0; !rc && i < inv->nparts; i++)
		if (!(rc = check_at(&doc, inv->parts[i].cgroup, "partitions", i, "cgroup", check_cgroup)))
			rc = check_at(&doc, inv->parts[i].verify, "partitions", i, "verify", check_verify);
	for (i = 0; !rc && i < inv->ncomps; i++) {
		const struct inv_component *c = &inv->comps[i];

		snprintf(jpath, sizeof(jpath), "components[%zu].run", i);
		if (c->run)
			rc = check_run(&doc, c->run, jpath, inv);
		if (!rc)
			rc = check_at(&doc, c->health, "components", i, "health", check_health);
		if (!rc)
			rc = check_at(&doc, c->traffic, "components", i, "traffic", check_traffic);
	}
	adp_json_release(&doc);
	return rc;
}
