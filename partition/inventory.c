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

/* A driver's section obj.key, when present: an object (a new reference
 * into *out), else an error saying it expected what. */
static int read_section(const struct adp_json_doc *d, json_t *obj, const char *jpath, const char *key,
			const char *what, json_t **out)
{
	json_t *v = json_object_get(obj, key);
	char sub[320];

	if (!v)
		return 0;
	if (!json_is_object(v)) {
		snprintf(sub, sizeof(sub), "%s.%s", jpath, key);
		return adp_json_fail(d, sub, "expected %s", what);
	}
	*out = json_incref(v);
	return 0;
}

static int read_partition(const struct adp_json_doc *d, json_t *obj, const char *jpath,
			  struct inventory *inv, struct inv_partition *p, enum inventory_mode mode)
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
	if (!json_object_get(obj, "capacity")) {
		/* A forecast never reads a capacity. */
		if (mode != INVENTORY_FORECAST)
			return adp_json_fail(d, jpath, "missing required field 'capacity'");
	} else if ((rc = read_resources(d, json_object_get(obj, "capacity"), sub, 1, p->capacity))) {
		return rc;
	} else if (p->capacity[ADP_RES_CPU] <= 0 || p->capacity[ADP_RES_MEMORY] <= 0) {
		return adp_json_fail(d, sub, "cpu and memory capacity must be positive");
	}
	/* Checked by the drivers that read them (orch_local_config_check,
	 * orch_kube_config_check), here only that they are objects. */
	if ((rc = read_section(d, obj, jpath, "cgroup", "an object with path or parent, and cpus", &p->cgroup)) ||
	    (rc = read_section(d, obj, jpath, "verify", "an object with command and timeout", &p->verify)) ||
	    (rc = read_section(d, obj, jpath, "kubernetes", "an object", &p->kube)))
		return rc;
	return 0;
}

static int read_rest(const struct adp_json_doc *d, json_t *obj, const char *jpath, struct inv_component *c);

static int read_component(const struct adp_json_doc *d, json_t *obj, const char *jpath,
			  struct inventory *inv, struct inv_component *c, enum inventory_mode mode)
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
	if (!placement && mode == INVENTORY_FORECAST)
		return read_rest(d, obj, jpath, c); /* a forecast never reads a placement */
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
	return read_rest(d, obj, jpath, c);
}

/* A component's fields after its placement: min, history and the
 * drivers' sections. */
static int read_rest(const struct adp_json_doc *d, json_t *obj, const char *jpath, struct inv_component *c)
{
	char sub[256];
	json_t *v;
	int rc;

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
	/* The drivers' sections, as for a partition. */
	if ((rc = read_section(d, obj, jpath, "run", "an object", &c->run)) ||
	    (rc = read_section(d, obj, jpath, "health", "an object", &c->health)) ||
	    (rc = read_section(d, obj, jpath, "traffic", "an object", &c->traffic)) ||
	    (rc = read_section(d, obj, jpath, "kubernetes", "an object", &c->kube)))
		return rc;
	return 0;
}

int inventory_load(struct inventory *out, const char *path)
{
	return inventory_load_mode(out, path, INVENTORY_FULL);
}

int inventory_load_mode(struct inventory *out, const char *path, enum inventory_mode mode)
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
	/* A forecast never reads a partition: absent or empty is none. */
	if ((parts || mode != INVENTORY_FORECAST) &&
	    (!json_is_array(parts) || (json_array_size(parts) == 0 && mode != INVENTORY_FORECAST))) {
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
	    (json_array_size(parts) && !(inv.parts = calloc(json_array_size(parts), sizeof(*inv.parts)))) ||
	    (json_array_size(comps) && !(inv.comps = calloc(json_array_size(comps), sizeof(*inv.comps))))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	json_array_foreach(parts, i, v) {
		char jpath[64];

		snprintf(jpath, sizeof(jpath), "partitions[%zu]", i);
		rc = read_partition(&d, v, jpath, &inv, &inv.parts[i], mode);
		inv.nparts++;
		if (rc)
			goto done;
	}
	json_array_foreach(comps, i, v) {
		char jpath[64];

		snprintf(jpath, sizeof(jpath), "components[%zu]", i);
		rc = read_component(&d, v, jpath, &inv, &inv.comps[i], mode);
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
	{
		const struct history_source **src = malloc((inv->ncomps + 1) * sizeof(*src));
		const char **names = malloc((inv->ncomps + 1) * sizeof(*names));

		if (!src || !names) {
			free(src);
			free(names);
			return adp_error_set(ADP_ENOMEM, "out of memory");
		}
		for (i = 0; i < inv->ncomps; i++) {
			src[i] = &inv->comps[i].history;
			names[i] = inv->comps[i].name;
		}
		rc = history_sources_read(h, src, names, inv->ncomps, o, 0, files, nfiles);
		free(src);
		free(names);
		if (rc)
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
