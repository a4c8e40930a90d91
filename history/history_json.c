/* JSON history: {"samples": [{"timestamp", "component", "resource",
 * "value"}, ...]}, the same four fields as the long CSV.
 * Every sample is checked with its JSON path and line before anything is
 * added, then each component and resource goes through the CSV's policy
 * (history_add_points). */
#include "history/history.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/jsonutil.h"
#include "util/timeutil.h"

struct jsample {
	const char *component; /* borrowed from the document */
	int resource;
	int64_t t;
	double v;
};

static int cmp_sample(const void *a, const void *b)
{
	const struct jsample *x = a, *y = b;
	int c = strcmp(x->component, y->component);

	if (c)
		return c;
	if (x->resource != y->resource)
		return x->resource < y->resource ? -1 : 1;
	return 0; /* qsort is not stable, but history_add_points sorts by time */
}

/* One sample; 1 when it counts, 0 when it is missing or after the origin. */
static int read_sample(const struct adp_json_doc *d, json_t *s, size_t i,
		       const struct history_opts *o, struct jsample *out)
{
	static const char *const keys[] = { "timestamp", "component", "resource", "value", NULL };
	char jp[64];
	json_t *t, *v;
	const char *comp, *res;
	int rc;

	snprintf(jp, sizeof(jp), "samples[%zu]", i);
	if (!json_is_object(s))
		return adp_json_fail(d, jp, "expected an object with timestamp, component, resource and value");
	if ((rc = adp_json_check_keys(d, s, jp, keys)) ||
	    (rc = adp_json_string(d, s, jp, "component", 1, &comp)) ||
	    (rc = adp_json_string(d, s, jp, "resource", 1, &res)))
		return rc;
	if (!history_name_valid(comp))
		return adp_json_fail(d, jp, "component: '%s' is not a valid name: expected 1 to %d of A-Z a-z 0-9 . _ -",
				     comp, ADP_HISTORY_MAX_NAME);
	if ((out->resource = adp_resource_parse(res)) < 0)
		return adp_json_fail(d, jp, "resource: unknown resource '%s': expected cpu, memory, io or net", res);
	t = json_object_get(s, "timestamp");
	if (json_is_integer(t)) {
		out->t = (int64_t)json_integer_value(t);
	} else if (!json_is_string(t) || adp_time_parse(&out->t, json_string_value(t), NULL)) {
		return adp_json_fail(d, jp, "timestamp: expected RFC 3339 (2018-05-06T01:00:00Z) or epoch seconds");
	}
	/* 1971..2200, as for CSV: anything else is a unit mistake. */
	if (out->t < 0 || out->t > ADP_HISTORY_MAX_TIME)
		return adp_json_fail(d, jp, "timestamp: %lld is out of range: expected epoch seconds%s",
				     (long long)out->t,
				     out->t / 1000 >= ADP_HISTORY_MIN_TIME && out->t / 1000 <= ADP_HISTORY_MAX_TIME
					     ? ", not milliseconds" : "");
	if (out->t < ADP_HISTORY_MIN_TIME) {
		char at[32];

		adp_time_format(at, out->t);
		if (json_is_string(t) && strchr(json_string_value(t), '-'))
			return adp_json_fail(d, jp, "timestamp: '%s' read as %s, before 1971: is it the time of the sample?",
					     json_string_value(t), at);
		return adp_json_fail(d, jp, "timestamp: %lld read as %s, before 1971: is it a time in epoch seconds? (a date since 2001 has 10 digits)",
				     (long long)out->t, at);
	}
	v = json_object_get(s, "value");
	if (!v)
		return adp_json_fail(d, jp, "value: missing: expected a number or null");
	if (json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return adp_json_fail(d, jp, "value: expected a number or null");
	out->v = json_number_value(v);
	if (!isfinite(out->v) || out->v < 0 || out->v > ADP_HISTORY_MAX_VALUE)
		return adp_json_fail(d, jp, "value: %g is out of range: expected 0 to %g", out->v,
				     ADP_HISTORY_MAX_VALUE);
	out->component = comp;
	return !(o->until && out->t >= o->until);
}

static int add_doc(struct history *h, const struct adp_json_doc *d, const struct history_opts *o)
{
	json_t *arr = json_object_get(d->root, "samples");
	struct jsample *all = NULL;
	int64_t *t = NULL;
	double *v = NULL;
	size_t i, j, n = 0, count, n0 = h->n, points0 = h->total_points;
	json_t *s;
	int rc = 0;
	static const char *const keys[] = { "samples", NULL };

	if ((rc = adp_json_check_keys(d, d->root, "", keys)))
		return rc;
	if (!json_is_array(arr))
		return adp_error_set(ADP_EINPUT, "%s: expected {\"samples\": [...]}", d->path);
	count = json_array_size(arr);
	if (count > ADP_HISTORY_MAX_POINTS - h->total_points)
		return adp_error_set(ADP_ENOMEM, "%s: history exceeds the limit of %zu samples", d->path,
				     (size_t)ADP_HISTORY_MAX_POINTS);
	if (count && (!(all = malloc(count * sizeof(*all))) || !(t = malloc(count * sizeof(*t))) ||
		      !(v = malloc(count * sizeof(*v))))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory reading '%s'", d->path);
		goto done;
	}
	json_array_foreach(arr, i, s) {
		if ((rc = read_sample(d, s, i, o, &all[n])) < 0)
			goto done;
		n += (size_t)rc;
	}
	rc = 0;
	if (n)
		qsort(all, n, sizeof(*all), cmp_sample);
	for (i = 0; i < n; i = j) {
		size_t k = 0;

		for (j = i; j < n && !cmp_sample(&all[i], &all[j]); j++, k++) {
			t[k] = all[j].t;
			v[k] = all[j].v;
		}
		if ((rc = history_add_points(h, d->path, all[i].component, all[i].resource, t, v, k, o)))
			goto done;
	}
done:
	if (rc)
		history_truncate(h, n0, points0);
	free(all);
	free(t);
	free(v);
	return rc;
}

int history_add_json_text(struct history *h, const char *name, const char *text,
			  const struct history_opts *o)
{
	struct adp_json_doc d = { 0 };
	int rc;

	if (!(rc = adp_json_load_text(&d, name, text)))
		rc = add_doc(h, &d, o);
	adp_json_release(&d);
	return rc;
}

int history_add_json(struct history *h, const char *path, const struct history_opts *o)
{
	struct adp_json_doc d = { 0 };
	int rc;

	if (!(rc = adp_json_load(&d, path)))
		rc = add_doc(h, &d, o);
	adp_json_release(&d);
	return rc;
}

int history_is_json(const char *path)
{
	size_t n = strlen(path);

	return n > 5 && !strcmp(path + n - 5, ".json");
}

int history_add_file(struct history *h, const char *path, const struct history_opts *o)
{
	return history_is_json(path) ? history_add_json(h, path, o) : history_add_long_csv(h, path, o);
}
