/* Plan diff over the JSON documents, so any two stored plans compare. */
#include "plans/diff.h"

#include <stdio.h>
#include <string.h>

#include "util/error.h"
#include "util/jsonutil.h"

#define DIFF_MAX_KEY 512

static int add(json_t *out, const char *op, const char *what, const char *key, json_t *from, json_t *to)
{
	json_t *c = json_pack("{s:s,s:s,s:s,s:O?,s:O?}", "op", op, "what", what, "key", key, "from", from, "to", to);

	if (!c || json_array_append_new(out, c))
		return adp_error_set(ADP_ENOMEM, "out of memory comparing plans");
	return 0;
}

/* "wave N component#replica" -> placement, over all waves; NULL when out
 * of memory. */
static json_t *placements(const json_t *doc)
{
	struct adp_jb jb = { 0 };
	json_t *map = json_object(), *w, *x;
	size_t i, j;

	json_array_foreach(json_object_get(doc, "waves"), i, w) {
		json_array_foreach(json_object_get(w, "placements"), j, x) {
			char key[DIFF_MAX_KEY];
			const char *c = json_string_value(json_object_get(x, "component"));

			snprintf(key, sizeof(key), "wave %zu %s#%lld", i + 1, c ? c : "?",
				 (long long)json_integer_value(json_object_get(x, "replica")));
			adp_jset(&jb, map, key, json_incref(x));
		}
	}
	if (jb.failed) {
		json_decref(map);
		return NULL;
	}
	return map;
}

/* json_equal, where two absent values are equal too. */
static int same(json_t *a, json_t *b)
{
	return a && b ? json_equal(a, b) : a == b;
}

/* The input of doc whose path is path, or NULL. */
static json_t *input_of(const json_t *doc, const char *path)
{
	size_t i;
	json_t *x;

	json_array_foreach(json_object_get(doc, "inputs"), i, x)
		if (!strcmp(json_string_value(json_object_get(x, "path")) ?: "", path))
			return x;
	return NULL;
}

/* The inputs that changed, came or went (by path; their digests), first:
 * they are why the rest changed. */
static int diff_inputs(json_t *res, const json_t *a, const json_t *b)
{
	size_t i;
	json_t *x, *y;
	int rc = 0;

	json_array_foreach(json_object_get(a, "inputs"), i, x) {
		const char *path = json_string_value(json_object_get(x, "path"));

		if (!path)
			continue;
		if (!(y = input_of(b, path)))
			rc = add(res, "-", "input", path, json_object_get(x, "kind"), NULL);
		else if (!same(json_object_get(x, "sha256"), json_object_get(y, "sha256")))
			rc = add(res, "~", "input", path, json_object_get(x, "sha256"), json_object_get(y, "sha256"));
		if (rc)
			return rc;
	}
	json_array_foreach(json_object_get(b, "inputs"), i, y) {
		const char *path = json_string_value(json_object_get(y, "path"));

		if (path && !input_of(a, path) && (rc = add(res, "+", "input", path, NULL, json_object_get(y, "kind"))))
			return rc;
	}
	return 0;
}

static int risk_in(const json_t *risks, const json_t *r)
{
	size_t i;
	json_t *x;

	json_array_foreach(risks, i, x)
		if (json_equal(x, (json_t *)r))
			return 1;
	return 0;
}

/* Whether name is among the partitions plan p's consolidation advice
 * says could go empty (none when it has no such block). */
static int empties(const json_t *p, const json_t *name)
{
	return risk_in(json_object_get(json_object_get(p, "consolidation"), "partitions"), name);
}

int plan_diff(json_t **out, const json_t *a, const json_t *b)
{
	json_t *res = json_array(), *pa = NULL, *pb = NULL, *wa, *wb, *x, *y, *ra, *rb;
	json_t *word = json_string("could go empty");
	const char *key;
	size_t i, na, nb;
	int rc = 0;

	if (!res || !word) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory comparing plans");
		goto done;
	}
	if ((rc = diff_inputs(res, a, b)))
		goto done;
	wa = json_object_get(a, "waves");
	wb = json_object_get(b, "waves");
	na = json_array_size(wa);
	nb = json_array_size(wb);
	for (i = 0; i < na || i < nb; i++) {
		char k[32];
		json_t *oa = json_object_get(json_array_get(wa, i), "offline");
		json_t *ob = json_object_get(json_array_get(wb, i), "offline");

		snprintf(k, sizeof(k), "wave %zu", i + 1);
		if (i >= nb)
			rc = add(res, "-", "wave", k, oa, NULL);
		else if (i >= na)
			rc = add(res, "+", "wave", k, NULL, ob);
		else if (!json_equal(oa, ob))
			rc = add(res, "~", "wave", k, oa, ob);
		if (rc)
			goto done;
	}
	if (!(pa = placements(a)) || !(pb = placements(b))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory comparing plans");
		goto done;
	}
	json_object_foreach(pa, key, x) {
		if (!(y = json_object_get(pb, key))) {
			rc = add(res, "-", "placement", key, json_object_get(x, "partition"), NULL);
		} else if (!json_equal(json_object_get(x, "partition"), json_object_get(y, "partition"))) {
			rc = add(res, "~", "placement", key, json_object_get(x, "partition"), json_object_get(y, "partition"));
		} else {
			if (!same(json_object_get(x, "allocation"), json_object_get(y, "allocation")))
				rc = add(res, "~", "allocation", key, json_object_get(x, "allocation"),
					 json_object_get(y, "allocation"));
			if (!rc && !same(json_object_get(x, "reservation"), json_object_get(y, "reservation")))
				rc = add(res, "~", "reservation", key, json_object_get(x, "reservation"),
					 json_object_get(y, "reservation"));
		}
		if (rc)
			goto done;
	}
	json_object_foreach(pb, key, y)
		if (!json_object_get(pa, key) && (rc = add(res, "+", "placement", key, NULL, json_object_get(y, "partition"))))
			goto done;
	ra = json_object_get(a, "risks");
	rb = json_object_get(b, "risks");
	json_array_foreach(ra, i, x)
		if (!risk_in(rb, x) && (rc = add(res, "-", "risk", "risk", x, NULL)))
			goto done;
	json_array_foreach(rb, i, y)
		if (!risk_in(ra, y) && (rc = add(res, "+", "risk", "risk", NULL, y)))
			goto done;
	/* The advice: a partition that could go empty, or no longer can. */
	json_array_foreach(json_object_get(json_object_get(a, "consolidation"), "partitions"), i, x)
		if (json_is_string(x) && !empties(b, x) &&
		    (rc = add(res, "-", "consolidation", json_string_value(x), word, NULL)))
			goto done;
	json_array_foreach(json_object_get(json_object_get(b, "consolidation"), "partitions"), i, y)
		if (json_is_string(y) && !empties(a, y) &&
		    (rc = add(res, "+", "consolidation", json_string_value(y), NULL, word)))
			goto done;
done:
	json_decref(word);
	json_decref(pa);
	json_decref(pb);
	if (rc) {
		json_decref(res);
		return rc;
	}
	*out = res;
	return 0;
}
