/* Reading a plan document back: every field is checked for type and
 * range and every name for consistency, so a hand-edited or truncated
 * plan is refused with the line and JSON path at fault. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plans/steps.h"
#include "plans/plan.h"
#include "util/error.h"
#include "util/gz.h"
#include "util/jsonutil.h"
#include "util/timeutil.h"

#define PATH_MAX_LEN 256

static int dupstr(const struct adp_json_doc *d, json_t *o, const char *jpath, const char *key,
		  int required, char **out)
{
	const char *s = NULL;
	int rc = adp_json_string(d, o, jpath, key, required, &s);

	if (rc || !s)
		return rc;
	if (!(*out = strdup(s)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}

/* Looks up a required array or object (type JSON_ARRAY or JSON_OBJECT). */
static int get_typed(const struct adp_json_doc *d, json_t *o, const char *jpath, const char *key,
		     json_type type, json_t **out)
{
	char sub[PATH_MAX_LEN];

	*out = json_object_get(o, key);
	snprintf(sub, sizeof(sub), "%s%s%s", jpath, *jpath ? "." : "", key);
	if (!*out)
		return *jpath ? adp_json_fail(d, jpath, "missing required field '%s'", key)
			      : adp_error_set(ADP_EINPUT, "%s: missing required field '%s'", d->path, key);
	if (json_typeof(*out) != type)
		return adp_json_fail(d, sub, type == JSON_ARRAY ? "expected an array" : "expected an object");
	return 0;
}

static int get_array(const struct adp_json_doc *d, json_t *o, const char *jpath, const char *key,
		     json_t **out)
{
	return get_typed(d, o, jpath, key, JSON_ARRAY, out);
}

static int get_object(const struct adp_json_doc *d, json_t *o, const char *jpath, const char *key,
		      json_t **out)
{
	return get_typed(d, o, jpath, key, JSON_OBJECT, out);
}

static int get_size(const struct adp_json_doc *d, json_t *o, const char *jpath, const char *key,
		    double max, size_t *out)
{
	double v;
	int rc = adp_json_number(d, o, jpath, key, 1, 0, max, &v);

	if (rc)
		return rc;
	if (v != floor(v)) {
		char sub[PATH_MAX_LEN];
		snprintf(sub, sizeof(sub), "%s%s%s", jpath, *jpath ? "." : "", key);
		return adp_json_fail(d, sub, "expected a whole number");
	}
	*out = (size_t)v;
	return 0;
}

static int get_res(const struct adp_json_doc *d, json_t *o, const char *jpath, const char *key,
		   double v[ADP_RES_COUNT])
{
	char sub[PATH_MAX_LEN];
	json_t *x;
	int r, rc;

	if ((rc = get_object(d, o, jpath, key, &x)))
		return rc;
	snprintf(sub, sizeof(sub), "%s.%s", jpath, key);
	for (r = 0; r < ADP_RES_COUNT; r++)
		if ((rc = adp_json_number(d, x, sub, adp_resource_name(r), 1, 0, 1e300, &v[r])))
			return rc;
	return 0;
}

static int get_resource(const struct adp_json_doc *d, json_t *o, const char *jpath, int *out)
{
	const char *s;
	char sub[PATH_MAX_LEN];
	int rc;

	if ((rc = adp_json_string(d, o, jpath, "resource", 1, &s)))
		return rc;
	if ((*out = adp_resource_parse(s)) < 0) {
		snprintf(sub, sizeof(sub), "%s.resource", jpath);
		return adp_json_fail(d, sub, "unknown resource '%s': expected cpu, memory, io or net", s);
	}
	return 0;
}

static int known_partition(const struct plan *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->npartitions; i++)
		if (!strcmp(p->partitions[i].name, name))
			return 1;
	return 0;
}

static int check_partition(const struct adp_json_doc *d, const struct plan *p, const char *jpath,
			   const char *key, const char *name)
{
	char sub[PATH_MAX_LEN];

	if (!name || known_partition(p, name))
		return 0;
	snprintf(sub, sizeof(sub), "%s.%s", jpath, key);
	return adp_json_fail(d, sub, "partition '%s' is not among the plan's partitions", name);
}

/* Calls fn on each element of the array a (at jpath.key), counting it in
 * *n first so that a failure leaves it to be released; every element must
 * be an object. */
static int parse_objects(const struct adp_json_doc *d, json_t *a, const char *jpath, const char *key, size_t *n,
			 int (*fn)(const struct adp_json_doc *d, json_t *x, const char *jpath, size_t i, void *arg),
			 void *arg)
{
	json_t *x;
	size_t i;
	int rc;

	json_array_foreach(a, i, x) {
		char sub[PATH_MAX_LEN];

		snprintf(sub, sizeof(sub), "%s%s%s[%zu]", jpath, *jpath ? "." : "", key, i);
		(*n)++;
		if (!json_is_object(x))
			return adp_json_fail(d, sub, "expected an object");
		if ((rc = fn(d, x, sub, i, arg)))
			return rc;
	}
	return 0;
}

/* Allocates *out for the n elements of an array; NULL for none. */
#define ALLOC_ITEMS(out, n) (!(n) || ((out) = calloc((n), sizeof(*(out)))))

/* Fails naming jpath.key. */
static int fail_field(const struct adp_json_doc *d, const char *jpath, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail_field(const struct adp_json_doc *d, const char *jpath, const char *key, const char *fmt, ...)
{
	char sub[PATH_MAX_LEN + 32], msg[1024];
	va_list ap;

	snprintf(sub, sizeof(sub), "%s.%s", jpath, key);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return adp_json_fail(d, sub, "%s", msg);
}

struct steps_arg {
	const struct plan *p;  /* borrowed */
	struct plan_step *s;   /* borrowed: the array being filled */
};

static int parse_step(const struct adp_json_doc *d, json_t *o, const char *jpath, size_t i, void *arg)
{
	const struct plan *p = ((struct steps_arg *)arg)->p;
	struct plan_step *s = &((struct steps_arg *)arg)->s[i];
	char why[300];
	double timeout;
	int rc;

	if ((rc = get_size(d, o, jpath, "id", 1e9, &s->id)) ||
	    (rc = get_size(d, o, jpath, "wave", (double)p->nwaves, &s->wave)) ||
	    (rc = dupstr(d, o, jpath, "action", 1, &s->action)) ||
	    (rc = dupstr(d, o, jpath, "partition", 0, &s->partition)) ||
	    (rc = dupstr(d, o, jpath, "component", 0, &s->component)) ||
	    (rc = dupstr(d, o, jpath, "target", 0, &s->target)) ||
	    (rc = adp_json_number(d, o, jpath, "timeout", 1, 0, 7 * 86400, &timeout)))
		return rc;
	s->timeout = (int64_t)timeout;
	/* apply runs these: a step it has no meaning for, or outside
	 * every wave, must not pass validation. */
	if ((s->act = plan_action_id(s->action)) < 0)
		return fail_field(d, jpath, "action", "unknown action '%s'", s->action);
	if (s->wave < 1)
		return fail_field(d, jpath, "wave", "expected a wave from 1 to %zu", p->nwaves);
	if (s->component && (rc = get_size(d, o, jpath, "replica", 1e6, &s->replica)))
		return rc;
	if ((rc = check_partition(d, p, jpath, "partition", s->partition)) ||
	    (rc = check_partition(d, p, jpath, "target", s->target)))
		return rc;
	if (!plan_step_prealloc_ok(p, s, why, sizeof(why)))
		return adp_json_fail(d, jpath, "%s: %s", s->action, why);
	if (s->id != i + 1)
		return fail_field(d, jpath, "id", "expected id %zu: steps are numbered in order from 1", i + 1);
	return 0;
}

static int parse_steps(const struct adp_json_doc *d, json_t *root, const char *key,
		       struct plan *p, struct plan_step **out, size_t *nout)
{
	struct steps_arg arg = { p, NULL };
	json_t *a;
	int rc;

	if ((rc = get_array(d, root, "", key, &a)))
		return rc;
	if (!ALLOC_ITEMS(*out, json_array_size(a)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	arg.s = *out;
	return parse_objects(d, a, "", key, nout, parse_step, &arg);
}
/* The optional "exact" object of a wave (plan --exact); a null number is
 * unknown (infinite; minus infinity for the bound). */
static int parse_exact(const struct adp_json_doc *d, json_t *o, const char *jpath, struct plan_wave *w)
{
	static const char *const keys[] = { "status", "objective", "heuristic_objective", "bound", "gap",
					    "seconds", "replaced", NULL };
	static const char *const names[] = { "objective", "heuristic_objective", "bound", "gap", "seconds" };
	double *vals[] = { &w->exact_objective, &w->exact_heuristic, &w->exact_bound, &w->exact_gap,
			   &w->exact_seconds };
	json_t *e = json_object_get(o, "exact"), *r;
	char sub[PATH_MAX_LEN];
	const char *st;
	size_t i;
	int rc;

	if (!e)
		return 0;
	snprintf(sub, sizeof(sub), "%s.exact", jpath);
	if (!json_is_object(e))
		return adp_json_fail(d, sub, "expected an object");
	if ((rc = adp_json_check_keys(d, e, sub, keys)) || (rc = adp_json_string(d, e, sub, "status", 1, &st)))
		return rc;
	if (strcmp(st, "optimal") && strcmp(st, "feasible") && strcmp(st, "infeasible") && strcmp(st, "no solution"))
		return adp_json_fail(d, sub, "unknown status '%s': expected optimal, feasible, infeasible or no solution", st);
	for (i = 0; i < 5; i++) {
		*vals[i] = i == 2 ? -INFINITY : INFINITY;
		if (json_is_null(json_object_get(e, names[i])))
			continue;
		if ((rc = adp_json_number(d, e, sub, names[i], 1, -1e300, 1e300, vals[i])))
			return rc;
	}
	r = json_object_get(e, "replaced");
	w->exact_replaced = r && json_is_true(r);
	if (!(w->exact_status = strdup(st)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}

/* A placement's optional per-step forecast band: every resource's p50
 * and p95 arrays of one length (at most 100000 steps). */
static int parse_band(const struct adp_json_doc *d, json_t *x, const char *jpath, struct plan_placement *pl)
{
	char sub[PATH_MAX_LEN + 8], e[PATH_MAX_LEN + 48];
	json_t *b, *q, *a, *v;
	size_t i, k, n = 0;
	int rc, r;

	snprintf(sub, sizeof(sub), "%s.band", jpath);
	if ((rc = get_object(d, x, jpath, "band", &b)) ||
	    (rc = adp_json_time(d, b, sub, "start", 1, NULL, &pl->band_start)))
		return rc;
	for (i = 0; i < 2; i++) {
		const char *key = i ? "p95" : "p50";
		double **dst = i ? &pl->band_p95 : &pl->band_p50;

		if ((rc = get_object(d, b, sub, key, &q)))
			return rc;
		for (r = 0; r < ADP_RES_COUNT; r++) {
			snprintf(e, sizeof(e), "%s.%s.%s", sub, key, adp_resource_name(r));
			a = json_object_get(q, adp_resource_name(r));
			if (!json_is_array(a) || !json_array_size(a) || json_array_size(a) > 100000 ||
			    (n && json_array_size(a) != n))
				return adp_json_fail(d, e, "expected an array of %s1..100000 numbers, one per step",
						     n ? "the band's " : "");
			n = json_array_size(a);
			if (!*dst && !(*dst = calloc(n * ADP_RES_COUNT, sizeof(double))))
				return adp_error_set(ADP_ENOMEM, "out of memory");
			json_array_foreach(a, k, v) {
				if (!json_is_number(v) || json_number_value(v) < 0)
					return adp_json_fail(d, e, "element %zu: expected a number >= 0", k);
				(*dst)[k * ADP_RES_COUNT + (size_t)r] = json_number_value(v);
			}
		}
	}
	pl->nband = n;
	return 0;
}

struct wave_arg {
	const struct plan *p;  /* borrowed */
	struct plan_wave *w;   /* borrowed: the wave being filled */
};

static int parse_placement(const struct adp_json_doc *d, json_t *x, const char *sub, size_t j, void *arg)
{
	const struct plan *p = ((struct wave_arg *)arg)->p;
	struct plan_wave *w = ((struct wave_arg *)arg)->w;
	struct plan_placement *pl = &w->placements[j];
	double tier;
	json_t *from;
	int rc;

	if ((rc = dupstr(d, x, sub, "component", 1, &pl->component)) ||
	    (rc = get_size(d, x, sub, "replica", 1e6, &pl->replica)) ||
	    (rc = adp_json_number(d, x, sub, "tier", 1, 0, 9, &tier)) ||
	    (rc = dupstr(d, x, sub, "partition", 1, &pl->partition)) ||
	    (rc = get_res(d, x, sub, "allocation", pl->alloc)) ||
	    (rc = get_res(d, x, sub, "p50_peak", pl->p50_peak)) ||
	    (rc = get_res(d, x, sub, "p95_peak", pl->p95_peak)))
		return rc;
	pl->tier = (int)tier;
	/* Optional: a plan without reservations sets aside its limits. */
	memcpy(pl->reserve, pl->alloc, sizeof(pl->reserve));
	if (json_object_get(x, "reservation")) {
		int r;

		if ((rc = get_res(d, x, sub, "reservation", pl->reserve)))
			return rc;
		for (r = 0; r < ADP_RES_COUNT; r++)
			if (pl->reserve[r] > pl->alloc[r] * (1 + 1e-12)) {
				char rsub[PATH_MAX_LEN];

				snprintf(rsub, sizeof(rsub), "%s.reservation", sub);
				return fail_field(d, rsub, adp_resource_name(r),
						  "a reservation of %g is above the allocation (the limit) of %g",
						  pl->reserve[r], pl->alloc[r]);
			}
	}
	if (json_object_get(x, "guarantee")) {
		int r;

		if ((rc = get_res(d, x, sub, "guarantee", pl->guarantee)))
			return rc;
		for (r = 0; r < ADP_RES_COUNT; r++)
			if (pl->guarantee[r] > pl->reserve[r] * (1 + 1e-12)) {
				char rsub[PATH_MAX_LEN];

				snprintf(rsub, sizeof(rsub), "%s.guarantee", sub);
				return fail_field(d, rsub, adp_resource_name(r),
						  "a guarantee of %g is above the reservation of %g",
						  pl->guarantee[r], pl->reserve[r]);
			}
	}
	if (json_object_get(x, "band") && (rc = parse_band(d, x, sub, pl)))
		return rc;
	from = json_object_get(x, "from");
	if (from && !json_is_null(from) && (rc = dupstr(d, x, sub, "from", 1, &pl->from)))
		return rc;
	if ((rc = check_partition(d, p, sub, "partition", pl->partition)) ||
	    (rc = check_partition(d, p, sub, "from", pl->from)))
		return rc;
	if (plan_wave_offline(w, pl->partition))
		return fail_field(d, sub, "partition", "partition '%s' is offline in this wave", pl->partition);
	return 0;
}

/* An optional per-step array of a utilisation entry: n numbers from 0
 * to hi, none above limit (+1e-12). */
struct per_step {
	const char *key, *what, *range;
	double hi;
};

static const struct per_step at_confidence = { "at_confidence", "numbers", "expected a number at least 0", INFINITY };
static const struct per_step overload_by_step = { "overload_by_step", "probabilities",
						   "expected a probability from 0 to 1", 1 };

static int parse_per_step(const struct adp_json_doc *d, json_t *x, const char *sub, const struct per_step *ps,
			  size_t n, double limit, double **out)
{
	char e[PATH_MAX_LEN + 32];
	json_t *v = json_object_get(x, ps->key), *b;
	size_t k;

	if (!v)
		return 0;
	snprintf(e, sizeof(e), "%s.%s", sub, ps->key);
	if (!json_is_array(v) || json_array_size(v) != n)
		return adp_json_fail(d, e, "expected an array of %zu %s, one per step of p50", n, ps->what);
	if (!(*out = calloc(n + 1, sizeof(double))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_array_foreach(v, k, b) {
		snprintf(e, sizeof(e), "%s.%s[%zu]", sub, ps->key, k);
		if (!json_is_number(b) || json_number_value(b) < 0 || json_number_value(b) > ps->hi)
			return adp_json_fail(d, e, "%s", ps->range);
		(*out)[k] = json_number_value(b);
		if ((*out)[k] > limit + 1e-12)
			return adp_json_fail(d, e, "exceeds the overload_probability %g", limit);
	}
	return 0;
}

static int parse_usage(const struct adp_json_doc *d, json_t *x, const char *sub, size_t j, void *arg)
{
	const struct plan *p = ((struct wave_arg *)arg)->p;
	struct plan_usage *u = &((struct wave_arg *)arg)->w->usage[j];
	json_t *p50, *p95, *v;
	size_t k;
	int rc;

	if ((rc = dupstr(d, x, sub, "partition", 1, &u->partition)) ||
	    (rc = get_resource(d, x, sub, &u->resource)) ||
	    (rc = adp_json_number(d, x, sub, "capacity", 1, 0, 1e300, &u->capacity)) ||
	    (rc = adp_json_number(d, x, sub, "overload_probability", 1, 0, 1, &u->overload_prob)) ||
	    (rc = adp_json_number(d, x, sub, "headroom", 1, -1e300, 1e300, &u->headroom)) ||
	    (rc = get_array(d, x, sub, "p50", &p50)) || (rc = get_array(d, x, sub, "p95", &p95)) ||
	    (rc = check_partition(d, p, sub, "partition", u->partition)))
		return rc;
	if (json_array_size(p50) != json_array_size(p95))
		return fail_field(d, sub, "p95", "has %zu steps, p50 has %zu", json_array_size(p95), json_array_size(p50));
	u->nsteps = json_array_size(p50);
	u->p50 = calloc(u->nsteps + 1, sizeof(double));
	u->p95 = calloc(u->nsteps + 1, sizeof(double));
	if (!u->p50 || !u->p95)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_array_foreach(p50, k, v) {
		if (!json_is_number(v) || !json_is_number(json_array_get(p95, k))) {
			char e[PATH_MAX_LEN + 32];
			snprintf(e, sizeof(e), "%s.p50[%zu]", sub, k);
			return adp_json_fail(d, e, "expected numbers in p50 and p95");
		}
		u->p50[k] = json_number_value(v);
		u->p95[k] = json_number_value(json_array_get(p95, k));
	}
	/* Optional: per step, the total at the plan's confidence, and the
	 * share of scenarios over capacity. */
	if ((rc = parse_per_step(d, x, sub, &at_confidence, u->nsteps, INFINITY, &u->bound)))
		return rc;
	return parse_per_step(d, x, sub, &overload_by_step, u->nsteps, u->overload_prob, &u->prob);
}

static int parse_absorbed(const struct adp_json_doc *d, json_t *x, const char *sub, size_t j, void *arg)
{
	const struct plan *p = ((struct wave_arg *)arg)->p;
	struct plan_wave *w = ((struct wave_arg *)arg)->w;
	struct plan_absorbed *ab = &w->absorbed[j];
	int rc;

	if ((rc = dupstr(d, x, sub, "component", 1, &ab->component)) ||
	    (rc = get_size(d, x, sub, "replica", 1e6, &ab->replica)) ||
	    (rc = dupstr(d, x, sub, "partition", 1, &ab->partition)) ||
	    (rc = check_partition(d, p, sub, "partition", ab->partition)))
		return rc;
	if (!plan_wave_offline(w, ab->partition))
		return fail_field(d, sub, "partition", "an absorbed replica's partition must be offline in its wave");
	return 0;
}

static int parse_offline(const struct adp_json_doc *d, json_t *o, const char *jpath, const struct plan *p,
			 struct plan_wave *w)
{
	json_t *a, *x;
	size_t j;
	int rc;

	if ((rc = get_array(d, o, jpath, "offline", &a)))
		return rc;
	if (!(w->offline = calloc(json_array_size(a) + 1, sizeof(*w->offline))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_array_foreach(a, j, x) {
		char sub[PATH_MAX_LEN];

		snprintf(sub, sizeof(sub), "%s.offline[%zu]", jpath, j);
		if (!json_is_string(x) || !known_partition(p, json_string_value(x)))
			return adp_json_fail(d, sub, "expected the name of one of the plan's partitions");
		if (!(w->offline[j] = strdup(json_string_value(x))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		w->noffline++;
	}
	return 0;
}

static int parse_wave(const struct adp_json_doc *d, json_t *o, const char *jpath, struct plan *p,
		      struct plan_wave *w)
{
	struct wave_arg arg = { p, w };
	json_t *a;
	int rc;

	if (!json_is_object(o))
		return adp_json_fail(d, jpath, "expected an object");
	if ((rc = adp_json_time(d, o, jpath, "start", 1, NULL, &w->start)) ||
	    (rc = adp_json_time(d, o, jpath, "end", 1, NULL, &w->end)))
		return rc;
	if (w->end <= w->start || w->start < p->window_start || w->end > p->window_end)
		return fail_field(d, jpath, "end", "the wave must end after it starts, inside the window");
	if ((rc = parse_offline(d, o, jpath, p, w)) || (rc = get_array(d, o, jpath, "placements", &a)))
		return rc;
	if (!ALLOC_ITEMS(w->placements, json_array_size(a)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if ((rc = parse_objects(d, a, jpath, "placements", &w->nplacements, parse_placement, &arg)) ||
	    (rc = get_array(d, o, jpath, "utilisation", &a)))
		return rc;
	if (!ALLOC_ITEMS(w->usage, json_array_size(a)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if ((rc = parse_objects(d, a, jpath, "utilisation", &w->nusage, parse_usage, &arg)))
		return rc;
	if (json_object_get(o, "absorbed")) {
		/* Optional: replicas that stop with their offline home. */
		if ((rc = get_array(d, o, jpath, "absorbed", &a)))
			return rc;
		if (!ALLOC_ITEMS(w->absorbed, json_array_size(a)))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		if ((rc = parse_objects(d, a, jpath, "absorbed", &w->nabsorbed, parse_absorbed, &arg)))
			return rc;
	}
	return parse_exact(d, o, jpath, w);
}

static int parse_reduction(const struct adp_json_doc *d, json_t *x, const char *jpath, size_t i, void *arg)
{
	const struct plan *p = arg;
	struct plan_reduction *r = &p->reductions[i];
	int rc;

	if ((rc = get_size(d, x, jpath, "wave", 1e6, &r->wave)) ||
	    (rc = dupstr(d, x, jpath, "component", 1, &r->component)) ||
	    (rc = get_size(d, x, jpath, "replica", 1e6, &r->replica)) ||
	    (rc = dupstr(d, x, jpath, "partition", 1, &r->partition)) ||
	    (rc = check_partition(d, p, jpath, "partition", r->partition)) ||
	    (rc = get_resource(d, x, jpath, &r->resource)) ||
	    (rc = adp_json_number(d, x, jpath, "wanted", 1, 0, 1e300, &r->wanted)) ||
	    (rc = adp_json_number(d, x, jpath, "granted", 1, 0, 1e300, &r->granted)))
		return rc;
	if (r->wave < 1 || r->wave > p->nwaves)
		return adp_json_fail(d, jpath, "wave %zu is not one of the plan's %zu waves", r->wave, p->nwaves);
	if (r->granted > r->wanted)
		return fail_field(d, jpath, "granted", "a reduction grants at most what was wanted");
	return 0;
}

/* feedback: absent in older plans and in plans no past window adjusted. */
static int parse_feedback(const struct adp_json_doc *d, json_t *a, struct plan *p)
{
	static const char *const keys[] = { "component", "resource", "scale", "windows", "samples", "above_p95", NULL };
	json_t *x;
	size_t i;
	int rc;

	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > 1000000)
		return adp_json_fail(d, "feedback", "expected an array");
	if (!(p->feedback = calloc(json_array_size(a) + 1, sizeof(*p->feedback))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_array_foreach(a, i, x) {
		struct plan_feedback *f = &p->feedback[i];
		const char *comp = NULL, *res = NULL;
		char jp[64];

		snprintf(jp, sizeof(jp), "feedback[%zu]", i);
		if (!json_is_object(x))
			return adp_json_fail(d, jp, "expected an object");
		if ((rc = adp_json_check_keys(d, x, jp, keys)) || (rc = adp_json_string(d, x, jp, "component", 1, &comp)) ||
		    (rc = adp_json_string(d, x, jp, "resource", 1, &res)) ||
		    (rc = adp_json_number(d, x, jp, "scale", 1, 0.01, 100, &f->scale)) ||
		    (rc = get_size(d, x, jp, "windows", 1e9, &f->windows)) ||
		    (rc = get_size(d, x, jp, "samples", 1e15, &f->samples)) ||
		    (rc = adp_json_number(d, x, jp, "above_p95", 1, 0, 1, &f->above_p95)))
			return rc;
		if ((f->resource = adp_resource_parse(res)) < 0)
			return adp_json_fail(d, jp, "unknown resource '%s'", res);
		if (!(f->component = strdup(comp)))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		p->nfeedback = i + 1;
	}
	return 0;
}

/* consolidation: absent in older plans and in plans that do not fit.
 * What it claims must hang together: known partitions, each once, fewer
 * than all; their capacity freed; every P(overload) within its epsilon
 * (the advice is that the proof still holds). */
static int parse_consolidation(const struct adp_json_doc *d, json_t *x, struct plan *p)
{
	static const char *const keys[] = { "checked", "reason", "partitions", "components", "replicas", "freed",
					    "worst_overload_probability", "tried", "candidates", NULL };
	static const char *const unchecked_keys[] = { "checked", "reason", NULL };
	struct plan_consolidation *c = &p->consolidation;
	const char *J = "consolidation";
	double sum[ADP_RES_COUNT] = { 0 };
	json_t *f = json_object_get(x, "checked"), *a, *v;
	size_t i, j;
	int rc, r;

	if (!json_is_object(x))
		return adp_json_fail(d, J, "expected an object");
	if (!json_is_boolean(f))
		return adp_json_fail(d, J, "missing boolean field 'checked'");
	if (json_is_false(f)) {
		c->state = PLAN_CONSOL_UNCHECKED;
		return (rc = adp_json_check_keys(d, x, J, unchecked_keys)) ? rc : dupstr(d, x, J, "reason", 1, &c->reason);
	}
	c->state = PLAN_CONSOL_CHECKED;
	if ((rc = adp_json_check_keys(d, x, J, keys)) || (rc = get_array(d, x, J, "partitions", &a)))
		return rc;
	json_array_foreach(a, i, v) {
		char jp[64];
		const char *name = json_string_value(v);
		const struct plan_partition *pp = NULL;

		snprintf(jp, sizeof(jp), "consolidation.partitions[%zu]", i);
		if (!name)
			return adp_json_fail(d, jp, "expected a string");
		for (j = 0; j < p->npartitions && !pp; j++)
			pp = strcmp(p->partitions[j].name, name) ? NULL : &p->partitions[j];
		if (!pp)
			return adp_json_fail(d, jp, "partition '%s' is not among the plan's partitions", name);
		for (j = 0; j < c->npartitions; j++)
			if (!strcmp(c->partitions[j], name))
				return adp_json_fail(d, jp, "partition '%s' is listed twice", name);
		for (r = 0; r < ADP_RES_COUNT; r++)
			sum[r] += pp->capacity[r];
		if ((rc = plan_consolidation_add(c, name)))
			return rc;
	}
	if (c->npartitions && c->npartitions >= p->npartitions)
		return fail_field(d, J, "partitions", "not every partition can go empty");
	if ((rc = get_size(d, x, J, "components", 1e9, &c->components)) ||
	    (rc = get_size(d, x, J, "replicas", 1e9, &c->replicas)) || (rc = get_res(d, x, J, "freed", c->freed)) ||
	    (rc = get_res(d, x, J, "worst_overload_probability", c->worst)) ||
	    (rc = get_size(d, x, J, "tried", 1e9, &c->tried)) || (rc = get_size(d, x, J, "candidates", 1e9, &c->candidates)))
		return rc;
	if (c->components > c->replicas)
		return fail_field(d, J, "components", "%zu components on %zu replicas", c->components, c->replicas);
	if (c->tried < c->npartitions || c->tried > c->candidates || c->candidates > p->npartitions)
		return fail_field(d, J, "tried", "%zu tried of %zu candidates does not fit %zu listed of %zu partitions",
				  c->tried, c->candidates, c->npartitions, p->npartitions);
	for (r = 0; r < ADP_RES_COUNT; r++) {
		char jp[96];

		snprintf(jp, sizeof(jp), "%s.freed", J);
		if (fabs(c->freed[r] - sum[r]) > 1e-9 * fmax(1, sum[r]))
			return fail_field(d, jp, adp_resource_name(r), "%g is not the capacity of the partitions listed (%g)",
					  c->freed[r], sum[r]);
		snprintf(jp, sizeof(jp), "%s.worst_overload_probability", J);
		if (c->worst[r] > 1 - p->confidence[r] + 1e-9)
			return fail_field(d, jp, adp_resource_name(r), "%g is above epsilon %g: the proof would not hold",
					  c->worst[r], 1 - p->confidence[r]);
	}
	return 0;
}

/* reductions, rollback_check, cost and start_choice: absent in older plans. */
static int parse_optional(const struct adp_json_doc *d, json_t *root, struct plan *p)
{
	json_t *a, *x;
	int rc;

	if (json_object_get(root, "reductions")) {
		if ((rc = get_array(d, root, "", "reductions", &a)))
			return rc;
		if (!ALLOC_ITEMS(p->reductions, json_array_size(a)))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		if ((rc = parse_objects(d, a, "", "reductions", &p->nreductions, parse_reduction, p)))
			return rc;
	}
	if ((x = json_object_get(root, "rollback_check"))) {
		struct plan_rollback_check *r = &p->rollback_check;
		json_t *f = json_object_get(x, "fits"), *part;

		if (!json_is_object(x))
			return adp_json_fail(d, "rollback_check", "expected an object");
		if (!json_is_boolean(f))
			return adp_json_fail(d, "rollback_check", "missing boolean field 'fits'");
		r->checked = 1;
		r->fits = json_is_true(f);
		if ((rc = adp_json_number(d, x, "rollback_check", "overload_probability", 1, 0, 1, &r->overload_prob)) ||
		    (rc = adp_json_number(d, x, "rollback_check", "at_confidence", 1, 0, 1e300, &r->bound)) ||
		    (rc = adp_json_number(d, x, "rollback_check", "capacity", 1, 0, 1e300, &r->capacity)))
			return rc;
		part = json_object_get(x, "partition");
		if (part && !json_is_null(part)) {
			if ((rc = dupstr(d, x, "rollback_check", "partition", 1, &r->partition)) ||
			    (rc = check_partition(d, p, "rollback_check", "partition", r->partition)) ||
			    (rc = get_resource(d, x, "rollback_check", &r->resource)) ||
			    (rc = adp_json_time(d, x, "rollback_check", "at", 1, NULL, &r->at)))
				return rc;
		}
	}
	if ((x = json_object_get(root, "cost"))) {
		if (!json_is_object(x))
			return adp_json_fail(d, "cost", "expected an object");
		p->cost.present = 1;
		if ((rc = adp_json_number(d, x, "cost", "risk", 1, 0, 1e300, &p->cost.risk)) ||
		    (rc = adp_json_number(d, x, "cost", "waste", 1, -1e300, 1e300, &p->cost.waste)) ||
		    (rc = adp_json_number(d, x, "cost", "moves", 1, 0, 1e300, &p->cost.moves)) ||
		    (rc = adp_json_number(d, x, "cost", "confidence", 1, 0, 1e300, &p->cost.confidence)) ||
		    (rc = adp_json_number(d, x, "cost", "total", 1, -1e300, 1e300, &p->cost.total)))
			return rc;
	}
	if ((x = json_object_get(root, "start_choice"))) {
		if (!json_is_object(x))
			return adp_json_fail(d, "start_choice", "expected an object");
		if ((rc = adp_json_time(d, x, "start_choice", "earliest", 1, NULL, &p->start_chosen_from)) ||
		    (rc = get_size(d, x, "start_choice", "candidates", 1e6, &p->start_candidates)))
			return rc;
		if (p->start_candidates < 1)
			return adp_json_fail(d, "start_choice.candidates", "expected at least 1");
	}
	if ((x = json_object_get(root, "consolidation")) && (rc = parse_consolidation(d, x, p)))
		return rc;
	return parse_feedback(d, json_object_get(root, "feedback"), p);
}

/* A hex string of n lowercase digits (and dashes where allowed). */
static int is_hex(const char *s, size_t n, const char *digits)
{
	return strlen(s) == n && strspn(s, digits) == n;
}

/* The format version, the tool, the times, the digest and the store's
 * lineage. */
static int parse_header(const struct adp_json_doc *d, json_t *root, struct plan *p)
{
	const char *dg, *lin;
	double version, serial;
	int rc;

	if ((rc = adp_json_number(d, root, "", "format_version", 1, 0, 1e9, &version)))
		return rc;
	if (version != PLAN_FORMAT_VERSION)
		return adp_json_fail(d, "format_version",
				     "unsupported plan format %g: this version reads format %d; re-create the plan with this version",
				     version, PLAN_FORMAT_VERSION);
	p->format_version = PLAN_FORMAT_VERSION;
	if ((rc = dupstr(d, root, "", "tool", 1, &p->tool_version)) ||
	    (rc = adp_json_time(d, root, "", "created_at", 1, NULL, &p->created_at)) ||
	    (rc = adp_json_time(d, root, "", "expires_at", 1, NULL, &p->expires_at)) ||
	    (rc = adp_json_string(d, root, "", "digest", 1, &dg)))
		return rc;
	if (!is_hex(dg, 64, "0123456789abcdef"))
		return adp_json_fail(d, "digest", "expected 64 lowercase hex digits");
	memcpy(p->digest, dg, 65);
	if (!json_object_get(root, "lineage") && !json_object_get(root, "serial"))
		return 0;
	/* Optional, set by a plan store: both or neither. */
	if ((rc = adp_json_string(d, root, "", "lineage", 1, &lin)) ||
	    (rc = adp_json_number(d, root, "", "serial", 1, 1, 9007199254740992.0, &serial)))
		return rc;
	if (!is_hex(lin, 36, "0123456789abcdef-"))
		return adp_json_fail(d, "lineage", "expected a 36-character lowercase UUID");
	memcpy(p->lineage, lin, 37);
	p->serial = (int64_t)serial;
	return 0;
}

static int parse_input(const struct adp_json_doc *d, json_t *x, const char *jpath, size_t i, void *arg)
{
	struct plan_input *in = &((struct plan *)arg)->inputs[i];
	const char *h;
	int rc;

	if ((rc = dupstr(d, x, jpath, "kind", 1, &in->kind)) || (rc = dupstr(d, x, jpath, "path", 1, &in->path)) ||
	    (rc = adp_json_string(d, x, jpath, "sha256", 1, &h)))
		return rc;
	if (!is_hex(h, 64, "0123456789abcdef"))
		return fail_field(d, jpath, "sha256", "expected 64 lowercase hex digits");
	memcpy(in->sha256, h, 65);
	return 0;
}

/* The inputs, which the digest must cover. */
static int parse_inputs(const struct adp_json_doc *d, json_t *root, struct plan *p)
{
	char check[65];
	json_t *a;
	int rc;

	if ((rc = get_array(d, root, "", "inputs", &a)))
		return rc;
	if (!ALLOC_ITEMS(p->inputs, json_array_size(a)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if ((rc = parse_objects(d, a, "", "inputs", &p->ninputs, parse_input, p)))
		return rc;
	plan_digest(p, check);
	if (strcmp(check, p->digest))
		return adp_json_fail(d, "digest", "does not match the inputs listed: the plan was edited");
	return 0;
}

static int parse_schedule(const struct adp_json_doc *d, json_t *root, struct plan *p)
{
	json_t *o, *c;
	double conc;
	int rc, r;

	if ((rc = get_object(d, root, "", "schedule", &o)) ||
	    (rc = dupstr(d, o, "schedule", "name", 1, &p->schedule_name)) ||
	    (rc = adp_json_time(d, o, "schedule", "window_start", 1, NULL, &p->window_start)) ||
	    (rc = adp_json_time(d, o, "schedule", "window_end", 1, NULL, &p->window_end)) ||
	    (rc = adp_json_time(d, o, "schedule", "cutoff_at", 1, NULL, &p->cutoff_at)) ||
	    (rc = dupstr(d, o, "schedule", "timezone", 1, &p->timezone)) ||
	    (rc = adp_json_duration(d, o, "schedule", "step", 1, &p->step)) ||
	    (rc = adp_json_number(d, o, "schedule", "max_concurrency", 1, 1, 1e6, &conc)))
		return rc;
	p->max_concurrency = (size_t)conc;
	if ((c = json_object_get(o, "rebalance")) && !json_is_boolean(c))
		return adp_json_fail(d, "schedule.rebalance", "expected true or false");
	p->rebalance = json_is_true(c);
	if ((rc = get_object(d, o, "schedule", "confidence", &c)))
		return rc;
	for (r = 0; r < ADP_RES_COUNT; r++)
		if ((rc = adp_json_number(d, c, "schedule.confidence", adp_resource_name(r), 1, 0, 1, &p->confidence[r])))
			return rc;
	if (p->window_end <= p->window_start || p->cutoff_at > p->window_end || p->cutoff_at < p->window_start)
		return adp_json_fail(d, "schedule.cutoff_at", "the window and cutoff are inconsistent");
	return 0;
}

static int parse_series(const struct adp_json_doc *d, json_t *x, const char *jpath, size_t i, void *arg)
{
	struct plan_forecast_summary *f = &((struct plan *)arg)->forecast[i];
	int rc;

	if ((rc = dupstr(d, x, jpath, "component", 1, &f->component)) ||
	    (rc = get_resource(d, x, jpath, &f->resource)) || (rc = dupstr(d, x, jpath, "model", 1, &f->model)) ||
	    (rc = adp_json_number(d, x, jpath, "p50_peak", 1, 0, 1e300, &f->p50_peak)) ||
	    (rc = adp_json_number(d, x, jpath, "p95_peak", 1, 0, 1e300, &f->p95_peak)))
		return rc;
	return 0;
}

static int parse_forecast(const struct adp_json_doc *d, json_t *root, struct plan *p)
{
	json_t *o, *a;
	int rc;

	if ((rc = get_object(d, root, "", "forecast", &o)) || (rc = dupstr(d, o, "forecast", "model", 1, &p->model)) ||
	    (rc = adp_json_duration(d, o, "forecast", "period", 1, &p->period)) ||
	    (rc = get_size(d, o, "forecast", "scenarios", 1e9, &p->scenarios)) ||
	    (rc = get_array(d, o, "forecast", "series", &a)))
		return rc;
	if (!ALLOC_ITEMS(p->forecast, json_array_size(a)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return parse_objects(d, a, "forecast", "series", &p->nforecast, parse_series, p);
}

static int parse_partition(const struct adp_json_doc *d, json_t *x, const char *jpath, size_t i, void *arg)
{
	struct plan_partition *pt = &((struct plan *)arg)->partitions[i];
	json_t *u, *zone = json_object_get(x, "zone");
	int rc;

	if ((rc = dupstr(d, x, jpath, "name", 1, &pt->name)) ||
	    (json_is_string(zone) && !*json_string_value(zone) ? 0 /* no zone is written as "" */
								  : (rc = dupstr(d, x, jpath, "zone", 0, &pt->zone))) ||
	    (rc = get_res(d, x, jpath, "capacity", pt->capacity)))
		return rc;
	if (!pt->zone && !(pt->zone = strdup("")))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	u = json_object_get(x, "updated");
	if (!json_is_boolean(u))
		return adp_json_fail(d, jpath, "missing boolean field 'updated'");
	pt->updated = json_is_true(u);
	return 0;
}

static int parse_wave_at(const struct adp_json_doc *d, json_t *x, const char *jpath, size_t i, void *arg)
{
	struct plan *p = arg;
	int rc;

	if ((rc = parse_wave(d, x, jpath, p, &p->waves[i])))
		return rc;
	if (i && p->waves[i].start < p->waves[i - 1].end)
		return adp_json_fail(d, jpath, "starts before the previous wave ends");
	return 0;
}

/* The partitions, then the waves that name them. */
static int parse_estate(const struct adp_json_doc *d, json_t *root, struct plan *p)
{
	json_t *a;
	int rc;

	if ((rc = get_array(d, root, "", "partitions", &a)))
		return rc;
	if (!ALLOC_ITEMS(p->partitions, json_array_size(a)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if ((rc = parse_objects(d, a, "", "partitions", &p->npartitions, parse_partition, p)) ||
	    (rc = get_array(d, root, "", "waves", &a)))
		return rc;
	if (!ALLOC_ITEMS(p->waves, json_array_size(a)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return parse_objects(d, a, "", "waves", &p->nwaves, parse_wave_at, p);
}

/* A list of strings, each added by add; optional lists may be absent. */
static int parse_lines(const struct adp_json_doc *d, json_t *root, struct plan *p, const char *key, int optional,
		       int (*add)(struct plan *, const char *, ...))
{
	json_t *a, *x;
	size_t i;
	int rc;

	if (optional && !json_object_get(root, key))
		return 0;
	if ((rc = get_array(d, root, "", key, &a)))
		return rc;
	json_array_foreach(a, i, x) {
		if (!json_is_string(x)) {
			char jpath[64];
			snprintf(jpath, sizeof(jpath), "%s[%zu]", key, i);
			return adp_json_fail(d, jpath, "expected a string");
		}
		if ((rc = add(p, "%s", json_string_value(x))))
			return rc;
	}
	return 0;
}

/* Last, so that an edit that breaks the document is named by its field;
 * any other edit (an expiry pushed back, a step cut, a capacity raised)
 * is caught here. */
static int check_seal(const struct adp_json_doc *d, json_t *root)
{
	const char *seal = json_string_value(json_object_get(root, "seal"));
	char check[65];
	int rc;

	if (!seal)
		return adp_json_fail(d, "seal", "missing: the plan was written by an older version or edited; plan again");
	if ((rc = plan_seal(root, check)))
		return rc;
	if (strcmp(seal, check))
		return adp_json_fail(d, "seal", "does not match the plan's content: the plan was edited after it was written; plan again");
	return 0;
}

int plan_from_doc(struct plan *out, const struct adp_json_doc *d)
{
	struct plan p = { 0 };
	json_t *root = d->root, *a;
	double margin;
	size_t k;
	int rc;

	if ((rc = parse_header(d, root, &p)) || (rc = parse_inputs(d, root, &p)))
		goto done;
	/* An infeasible plan is refused before its waves are read: the
	 * planner clips overrunning waves to the window, so they may overlap. */
	if ((rc = get_array(d, root, "", "shortfalls", &a)))
		goto done;
	if (json_array_size(a)) {
		rc = adp_json_fail(d, "shortfalls", "the plan is infeasible: it records %zu shortfalls",
				   json_array_size(a));
		goto done;
	}
	if ((rc = parse_schedule(d, root, &p)) || (rc = parse_forecast(d, root, &p)) ||
	    (rc = parse_estate(d, root, &p)) ||
	    (rc = adp_json_number(d, root, "", "margin", 1, -1e12, 1e12, &margin)))
		goto done;
	p.margin = (int64_t)margin;
	/* Only the operator's acceptance is read: the rest is recomputed. */
	p.risk_accepted = json_is_true(json_object_get(json_object_get(root, "proof"), "risk_accepted"));
	if ((rc = parse_steps(d, root, "steps", &p, &p.steps, &p.nsteps)) ||
	    (rc = parse_steps(d, root, "rollback_steps", &p, &p.rollback, &p.nrollback)) ||
	    (rc = parse_lines(d, root, &p, "risks", 0, plan_add_risk)) ||
	    (rc = parse_lines(d, root, &p, "remedies", 1, plan_add_remedy)) || (rc = parse_optional(d, root, &p)) || (rc = check_seal(d, root)))
		goto done;
	for (k = 0; k < p.nsteps; k++)
		p.preallocate |= p.steps[k].act == PLAN_PREALLOCATE_SHADOW;
	/* A rebalance takes nothing offline and moves nothing: its steps
	 * only resize. */
	for (k = 0; p.rebalance && k < p.nsteps; k++)
		if (p.steps[k].act != PLAN_RESIZE || p.nwaves != 1 || p.waves[0].noffline) {
			rc = adp_json_fail(d, "schedule.rebalance",
					   "a rebalance plan is one wave with no partition offline whose steps only "
					   "resize (step %zu is %s)", k + 1, p.steps[k].action);
			goto done;
		}
	/* What no host can honour is refused here, so that validate, show
	 * and apply all refuse it. */
	{
		struct plan_proof pf;
		char wpath[64];

		plan_proof(&p, &pf);
		if (!pf.reserve_fits) {
			snprintf(wpath, sizeof(wpath), "waves[%zu].placements", pf.reserve_wave - 1);
			rc = adp_json_fail(d, wpath,
					   "the %s reservations on '%s' sum to %g, above its capacity %g: no host can "
					   "honour them; plan again",
					   adp_resource_name(pf.reserve_resource), pf.reserve_partition, pf.reserve_sum,
					   pf.reserve_capacity);
			goto done;
		}
	}
	*out = p;
	memset(&p, 0, sizeof(p));
done:
	plan_release(&p);
	return rc;
}

int plan_read_text(char **text, const char *path)
{
	return adp_read_text(text, NULL, path, plan_max_bytes());
}

int plan_read(struct plan *out, const char *path)
{
	struct adp_json_doc d;
	char *text;
	int rc;

	if ((rc = plan_read_text(&text, path)))
		return rc;
	rc = adp_json_load_text(&d, path, text);
	free(text);
	if (rc)
		return rc;
	rc = plan_from_doc(out, &d);
	adp_json_release(&d);
	return rc;
}
