/* Reading a plan document back: every field is checked for type and
 * range and every name for consistency, so a hand-edited or truncated
 * plan is refused with the line and JSON path at fault. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plans/steps.h"
#include "plans/plan.h"
#include "util/error.h"
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

static int parse_steps(const struct adp_json_doc *d, json_t *root, const char *key,
		       struct plan *p, struct plan_step **out, size_t *nout)
{
	json_t *a, *o;
	size_t i;
	int rc;

	if ((rc = get_array(d, root, "", key, &a)))
		return rc;
	if (json_array_size(a) && !(*out = calloc(json_array_size(a), sizeof(**out))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_array_foreach(a, i, o) {
		struct plan_step *s = &(*out)[i];
		char jpath[PATH_MAX_LEN];
		double timeout;

		snprintf(jpath, sizeof(jpath), "%s[%zu]", key, i);
		(*nout)++;
		if (!json_is_object(o))
			return adp_json_fail(d, jpath, "expected an object");
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
		if ((s->act = plan_action_id(s->action)) < 0) {
			char sub[PATH_MAX_LEN];
			snprintf(sub, sizeof(sub), "%s.action", jpath);
			return adp_json_fail(d, sub, "unknown action '%s'", s->action);
		}
		if (s->wave < 1) {
			char sub[PATH_MAX_LEN];
			snprintf(sub, sizeof(sub), "%s.wave", jpath);
			return adp_json_fail(d, sub, "expected a wave from 1 to %zu", p->nwaves);
		}
		if (s->component && (rc = get_size(d, o, jpath, "replica", 1e6, &s->replica)))
			return rc;
		if ((rc = check_partition(d, p, jpath, "partition", s->partition)) ||
		    (rc = check_partition(d, p, jpath, "target", s->target)))
			return rc;
		if (s->id != i + 1) {
			char sub[PATH_MAX_LEN];
			snprintf(sub, sizeof(sub), "%s.id", jpath);
			return adp_json_fail(d, sub, "expected id %zu: steps are numbered in order from 1", i + 1);
		}
	}
	return 0;
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

static int parse_wave(const struct adp_json_doc *d, json_t *o, const char *jpath, struct plan *p,
		      struct plan_wave *w)
{
	json_t *a, *x;
	size_t j;
	int rc;

	if (!json_is_object(o))
		return adp_json_fail(d, jpath, "expected an object");
	if ((rc = adp_json_time(d, o, jpath, "start", 1, NULL, &w->start)) ||
	    (rc = adp_json_time(d, o, jpath, "end", 1, NULL, &w->end)))
		return rc;
	if (w->end <= w->start || w->start < p->window_start || w->end > p->window_end) {
		char sub[PATH_MAX_LEN];
		snprintf(sub, sizeof(sub), "%s.end", jpath);
		return adp_json_fail(d, sub, "the wave must end after it starts, inside the window");
	}
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
	if ((rc = get_array(d, o, jpath, "placements", &a)))
		return rc;
	if (json_array_size(a) && !(w->placements = calloc(json_array_size(a), sizeof(*w->placements))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_array_foreach(a, j, x) {
		struct plan_placement *pl = &w->placements[j];
		char sub[PATH_MAX_LEN];
		double tier;
		json_t *from;
		size_t k;

		snprintf(sub, sizeof(sub), "%s.placements[%zu]", jpath, j);
		w->nplacements++;
		if (!json_is_object(x))
			return adp_json_fail(d, sub, "expected an object");
		if ((rc = dupstr(d, x, sub, "component", 1, &pl->component)) ||
		    (rc = get_size(d, x, sub, "replica", 1e6, &pl->replica)) ||
		    (rc = adp_json_number(d, x, sub, "tier", 1, 0, 9, &tier)) ||
		    (rc = dupstr(d, x, sub, "partition", 1, &pl->partition)) ||
		    (rc = get_res(d, x, sub, "allocation", pl->alloc)) ||
		    (rc = get_res(d, x, sub, "p50_peak", pl->p50_peak)) ||
		    (rc = get_res(d, x, sub, "p95_peak", pl->p95_peak)))
			return rc;
		pl->tier = (int)tier;
		if (json_object_get(x, "band") && (rc = parse_band(d, x, sub, pl)))
			return rc;
		from = json_object_get(x, "from");
		if (from && !json_is_null(from) && (rc = dupstr(d, x, sub, "from", 1, &pl->from)))
			return rc;
		if ((rc = check_partition(d, p, sub, "partition", pl->partition)) ||
		    (rc = check_partition(d, p, sub, "from", pl->from)))
			return rc;
		for (k = 0; k < w->noffline; k++) {
			if (!strcmp(w->offline[k], pl->partition)) {
				char e[PATH_MAX_LEN + 16];
				snprintf(e, sizeof(e), "%s.partition", sub);
				return adp_json_fail(d, e, "partition '%s' is offline in this wave", pl->partition);
			}
		}
	}
	if ((rc = get_array(d, o, jpath, "utilisation", &a)))
		return rc;
	if (json_array_size(a) && !(w->usage = calloc(json_array_size(a), sizeof(*w->usage))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_array_foreach(a, j, x) {
		struct plan_usage *u = &w->usage[j];
		char sub[PATH_MAX_LEN];
		json_t *p50, *p95, *v;
		size_t k;

		snprintf(sub, sizeof(sub), "%s.utilisation[%zu]", jpath, j);
		w->nusage++;
		if (!json_is_object(x))
			return adp_json_fail(d, sub, "expected an object");
		if ((rc = dupstr(d, x, sub, "partition", 1, &u->partition)) ||
		    (rc = get_resource(d, x, sub, &u->resource)) ||
		    (rc = adp_json_number(d, x, sub, "capacity", 1, 0, 1e300, &u->capacity)) ||
		    (rc = adp_json_number(d, x, sub, "overload_probability", 1, 0, 1, &u->overload_prob)) ||
		    (rc = adp_json_number(d, x, sub, "headroom", 1, -1e300, 1e300, &u->headroom)) ||
		    (rc = get_array(d, x, sub, "p50", &p50)) || (rc = get_array(d, x, sub, "p95", &p95)) ||
		    (rc = check_partition(d, p, sub, "partition", u->partition)))
			return rc;
		if (json_array_size(p50) != json_array_size(p95)) {
			char e[PATH_MAX_LEN + 8];
			snprintf(e, sizeof(e), "%s.p95", sub);
			return adp_json_fail(d, e, "has %zu steps, p50 has %zu", json_array_size(p95), json_array_size(p50));
		}
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
		if ((v = json_object_get(x, "at_confidence"))) {
			/* Optional: per step, the total at the plan's confidence. */
			char e[PATH_MAX_LEN + 32];
			json_t *b;

			snprintf(e, sizeof(e), "%s.at_confidence", sub);
			if (!json_is_array(v) || json_array_size(v) != u->nsteps)
				return adp_json_fail(d, e, "expected an array of %zu numbers, one per step of p50", u->nsteps);
			if (!(u->bound = calloc(u->nsteps + 1, sizeof(double))))
				return adp_error_set(ADP_ENOMEM, "out of memory");
			json_array_foreach(v, k, b) {
				if (!json_is_number(b) || json_number_value(b) < 0) {
					snprintf(e, sizeof(e), "%s.at_confidence[%zu]", sub, k);
					return adp_json_fail(d, e, "expected a number at least 0");
				}
				u->bound[k] = json_number_value(b);
			}
		}
		if ((v = json_object_get(x, "overload_by_step"))) {
			/* Optional: per step, the share of scenarios over capacity. */
			char e[PATH_MAX_LEN + 32];
			json_t *b;

			snprintf(e, sizeof(e), "%s.overload_by_step", sub);
			if (!json_is_array(v) || json_array_size(v) != u->nsteps)
				return adp_json_fail(d, e, "expected an array of %zu probabilities, one per step of p50", u->nsteps);
			if (!(u->prob = calloc(u->nsteps + 1, sizeof(double))))
				return adp_error_set(ADP_ENOMEM, "out of memory");
			json_array_foreach(v, k, b) {
				if (!json_is_number(b) || json_number_value(b) < 0 || json_number_value(b) > 1) {
					snprintf(e, sizeof(e), "%s.overload_by_step[%zu]", sub, k);
					return adp_json_fail(d, e, "expected a probability from 0 to 1");
				}
				u->prob[k] = json_number_value(b);
				if (u->prob[k] > u->overload_prob + 1e-12) {
					snprintf(e, sizeof(e), "%s.overload_by_step[%zu]", sub, k);
					return adp_json_fail(d, e, "exceeds the overload_probability %g", u->overload_prob);
				}
			}
		}
	}
	if ((a = json_object_get(o, "absorbed"))) {
		/* Optional: replicas that stop with their offline home. */
		char sub[PATH_MAX_LEN];

		snprintf(sub, sizeof(sub), "%s.absorbed", jpath);
		if (!json_is_array(a))
			return adp_json_fail(d, sub, "expected an array");
		if (json_array_size(a) && !(w->absorbed = calloc(json_array_size(a), sizeof(*w->absorbed))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		json_array_foreach(a, j, x) {
			struct plan_absorbed *ab = &w->absorbed[j];
			size_t k;
			int off = 0;

			snprintf(sub, sizeof(sub), "%s.absorbed[%zu]", jpath, j);
			w->nabsorbed++;
			if (!json_is_object(x))
				return adp_json_fail(d, sub, "expected an object");
			if ((rc = dupstr(d, x, sub, "component", 1, &ab->component)) ||
			    (rc = get_size(d, x, sub, "replica", 1e6, &ab->replica)) ||
			    (rc = dupstr(d, x, sub, "partition", 1, &ab->partition)) ||
			    (rc = check_partition(d, p, sub, "partition", ab->partition)))
				return rc;
			for (k = 0; k < w->noffline; k++)
				off |= !strcmp(w->offline[k], ab->partition);
			if (!off) {
				char e[PATH_MAX_LEN + 16];
				snprintf(e, sizeof(e), "%s.partition", sub);
				return adp_json_fail(d, e, "an absorbed replica's partition must be offline in its wave");
			}
		}
	}
	return parse_exact(d, o, jpath, w);
}

/* reductions, rollback_check, cost and start_choice: absent in older plans. */
static int parse_optional(const struct adp_json_doc *d, json_t *root, struct plan *p)
{
	json_t *a, *x;
	size_t i;
	int rc;

	if ((a = json_object_get(root, "reductions"))) {
		if (!json_is_array(a))
			return adp_json_fail(d, "reductions", "expected an array");
		if (json_array_size(a) && !(p->reductions = calloc(json_array_size(a), sizeof(*p->reductions))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		json_array_foreach(a, i, x) {
			struct plan_reduction *r = &p->reductions[i];
			char jpath[64];

			snprintf(jpath, sizeof(jpath), "reductions[%zu]", i);
			p->nreductions++;
			if (!json_is_object(x))
				return adp_json_fail(d, jpath, "expected an object");
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
				return adp_json_fail(d, jpath, "wave %zu is not one of the plan's %zu waves", r->wave,
						     p->nwaves);
			if (r->granted > r->wanted) {
				char e[80];
				snprintf(e, sizeof(e), "%s.granted", jpath);
				return adp_json_fail(d, e, "a reduction grants at most what was wanted");
			}
		}
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
	return 0;
}

int plan_from_doc(struct plan *out, const struct adp_json_doc *d)
{
	struct plan p = { 0 };
	json_t *root = d->root, *o, *a, *x;
	double version, conc;
	size_t i;
	int rc, r;

	if ((rc = adp_json_number(d, root, "", "format_version", 1, 0, 1e9, &version)))
		goto done;
	if (version != PLAN_FORMAT_VERSION) {
		rc = adp_json_fail(d, "format_version",
				   "unsupported plan format %g: this version reads format %d; re-create the plan with this version",
				   version, PLAN_FORMAT_VERSION);
		goto done;
	}
	p.format_version = PLAN_FORMAT_VERSION;
	if ((rc = dupstr(d, root, "", "tool", 1, &p.tool_version)) ||
	    (rc = adp_json_time(d, root, "", "created_at", 1, NULL, &p.created_at)) ||
	    (rc = adp_json_time(d, root, "", "expires_at", 1, NULL, &p.expires_at)))
		goto done;
	{
		const char *dg;
		if ((rc = adp_json_string(d, root, "", "digest", 1, &dg)))
			goto done;
		if (strlen(dg) != 64 || strspn(dg, "0123456789abcdef") != 64) {
			rc = adp_json_fail(d, "digest", "expected 64 lowercase hex digits");
			goto done;
		}
		memcpy(p.digest, dg, 65);
	}
	if (json_object_get(root, "lineage") || json_object_get(root, "serial")) {
		/* Optional, set by a plan store: both or neither. */
		const char *lin;
		double serial;
		if ((rc = adp_json_string(d, root, "", "lineage", 1, &lin)) ||
		    (rc = adp_json_number(d, root, "", "serial", 1, 1, 9007199254740992.0, &serial)))
			goto done;
		if (strlen(lin) != 36 || strspn(lin, "0123456789abcdef-") != 36) {
			rc = adp_json_fail(d, "lineage", "expected a 36-character lowercase UUID");
			goto done;
		}
		memcpy(p.lineage, lin, 37);
		p.serial = (int64_t)serial;
	}
	if ((rc = get_array(d, root, "", "inputs", &a)))
		goto done;
	if (json_array_size(a) && !(p.inputs = calloc(json_array_size(a), sizeof(*p.inputs)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	json_array_foreach(a, i, x) {
		char jpath[64];
		const char *h;

		snprintf(jpath, sizeof(jpath), "inputs[%zu]", i);
		p.ninputs++;
		if (!json_is_object(x)) {
			rc = adp_json_fail(d, jpath, "expected an object");
			goto done;
		}
		if ((rc = dupstr(d, x, jpath, "kind", 1, &p.inputs[i].kind)) ||
		    (rc = dupstr(d, x, jpath, "path", 1, &p.inputs[i].path)) ||
		    (rc = adp_json_string(d, x, jpath, "sha256", 1, &h)))
			goto done;
		if (strlen(h) != 64 || strspn(h, "0123456789abcdef") != 64) {
			char sub[96];
			snprintf(sub, sizeof(sub), "%s.sha256", jpath);
			rc = adp_json_fail(d, sub, "expected 64 lowercase hex digits");
			goto done;
		}
		memcpy(p.inputs[i].sha256, h, 65);
	}
	{
		char check[65];
		plan_digest(&p, check);
		if (strcmp(check, p.digest)) {
			rc = adp_json_fail(d, "digest", "does not match the inputs listed: the plan was edited");
			goto done;
		}
	}
	/* An infeasible plan is refused before its waves are read: the
	 * planner clips overrunning waves to the window, so they may overlap. */
	if ((rc = get_array(d, root, "", "shortfalls", &a)))
		goto done;
	if (json_array_size(a)) {
		rc = adp_json_fail(d, "shortfalls", "the plan is infeasible: it records %zu shortfalls",
				   json_array_size(a));
		goto done;
	}
	if ((rc = get_object(d, root, "", "schedule", &o)) ||
	    (rc = dupstr(d, o, "schedule", "name", 1, &p.schedule_name)) ||
	    (rc = adp_json_time(d, o, "schedule", "window_start", 1, NULL, &p.window_start)) ||
	    (rc = adp_json_time(d, o, "schedule", "window_end", 1, NULL, &p.window_end)) ||
	    (rc = adp_json_time(d, o, "schedule", "cutoff_at", 1, NULL, &p.cutoff_at)) ||
	    (rc = dupstr(d, o, "schedule", "timezone", 1, &p.timezone)) ||
	    (rc = adp_json_duration(d, o, "schedule", "step", 1, &p.step)) ||
	    (rc = adp_json_number(d, o, "schedule", "max_concurrency", 1, 1, 1e6, &conc)))
		goto done;
	p.max_concurrency = (size_t)conc;
	{
		json_t *c;
		if ((rc = get_object(d, o, "schedule", "confidence", &c)))
			goto done;
		for (r = 0; r < ADP_RES_COUNT; r++)
			if ((rc = adp_json_number(d, c, "schedule.confidence", adp_resource_name(r), 1, 0, 1,
						  &p.confidence[r])))
				goto done;
	}
	if (p.window_end <= p.window_start || p.cutoff_at > p.window_end || p.cutoff_at < p.window_start) {
		rc = adp_json_fail(d, "schedule.cutoff_at", "the window and cutoff are inconsistent");
		goto done;
	}
	if ((rc = get_object(d, root, "", "forecast", &o)) ||
	    (rc = dupstr(d, o, "forecast", "model", 1, &p.model)) ||
	    (rc = adp_json_duration(d, o, "forecast", "period", 1, &p.period)) ||
	    (rc = get_size(d, o, "forecast", "scenarios", 1e9, &p.scenarios)) ||
	    (rc = get_array(d, o, "forecast", "series", &a)))
		goto done;
	if (json_array_size(a) && !(p.forecast = calloc(json_array_size(a), sizeof(*p.forecast)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	json_array_foreach(a, i, x) {
		char jpath[64];

		snprintf(jpath, sizeof(jpath), "forecast.series[%zu]", i);
		p.nforecast++;
		if (!json_is_object(x)) {
			rc = adp_json_fail(d, jpath, "expected an object");
			goto done;
		}
		if ((rc = dupstr(d, x, jpath, "component", 1, &p.forecast[i].component)) ||
		    (rc = get_resource(d, x, jpath, &p.forecast[i].resource)) ||
		    (rc = dupstr(d, x, jpath, "model", 1, &p.forecast[i].model)) ||
		    (rc = adp_json_number(d, x, jpath, "p50_peak", 1, 0, 1e300, &p.forecast[i].p50_peak)) ||
		    (rc = adp_json_number(d, x, jpath, "p95_peak", 1, 0, 1e300, &p.forecast[i].p95_peak)))
			goto done;
	}
	if ((rc = get_array(d, root, "", "partitions", &a)))
		goto done;
	if (json_array_size(a) && !(p.partitions = calloc(json_array_size(a), sizeof(*p.partitions)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	json_array_foreach(a, i, x) {
		char jpath[64];
		json_t *u;

		snprintf(jpath, sizeof(jpath), "partitions[%zu]", i);
		p.npartitions++;
		if (!json_is_object(x)) {
			rc = adp_json_fail(d, jpath, "expected an object");
			goto done;
		}
		if ((rc = dupstr(d, x, jpath, "name", 1, &p.partitions[i].name)) ||
		    (json_is_string(json_object_get(x, "zone")) && !*json_string_value(json_object_get(x, "zone"))
			     ? 0 /* no zone is written as "" */
			     : (rc = dupstr(d, x, jpath, "zone", 0, &p.partitions[i].zone))) ||
		    (rc = get_res(d, x, jpath, "capacity", p.partitions[i].capacity)))
			goto done;
		if (!p.partitions[i].zone && !(p.partitions[i].zone = strdup(""))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		u = json_object_get(x, "updated");
		if (!json_is_boolean(u)) {
			rc = adp_json_fail(d, jpath, "missing boolean field 'updated'");
			goto done;
		}
		p.partitions[i].updated = json_is_true(u);
	}
	if ((rc = get_array(d, root, "", "waves", &a)))
		goto done;
	if (json_array_size(a) && !(p.waves = calloc(json_array_size(a), sizeof(*p.waves)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	json_array_foreach(a, i, x) {
		char jpath[64];

		snprintf(jpath, sizeof(jpath), "waves[%zu]", i);
		p.nwaves++;
		if ((rc = parse_wave(d, x, jpath, &p, &p.waves[i])))
			goto done;
		if (i && p.waves[i].start < p.waves[i - 1].end) {
			rc = adp_json_fail(d, jpath, "starts before the previous wave ends");
			goto done;
		}
	}
	{
		double margin;
		if ((rc = adp_json_number(d, root, "", "margin", 1, -1e12, 1e12, &margin)))
			goto done;
		p.margin = (int64_t)margin;
	}
	if ((rc = parse_steps(d, root, "steps", &p, &p.steps, &p.nsteps)) ||
	    (rc = parse_steps(d, root, "rollback_steps", &p, &p.rollback, &p.nrollback)))
		goto done;
	if ((rc = get_array(d, root, "", "risks", &a)))
		goto done;
	json_array_foreach(a, i, x) {
		if (!json_is_string(x)) {
			char jpath[64];
			snprintf(jpath, sizeof(jpath), "risks[%zu]", i);
			rc = adp_json_fail(d, jpath, "expected a string");
			goto done;
		}
		if ((rc = plan_add_risk(&p, "%s", json_string_value(x))))
			goto done;
	}
	if ((rc = parse_optional(d, root, &p)))
		goto done;
	/* Last, so that an edit that breaks the document is named by its
	 * field; any other edit (an expiry pushed back, a step cut, a
	 * capacity raised) is caught here. */
	{
		const char *seal = json_string_value(json_object_get(root, "seal"));
		char check[65];

		if (!seal) {
			rc = adp_json_fail(d, "seal", "missing: the plan was written by an older version or edited; plan again");
			goto done;
		}
		if ((rc = plan_seal(root, check)))
			goto done;
		if (strcmp(seal, check)) {
			rc = adp_json_fail(d, "seal", "does not match the plan's content: the plan was edited after it was written; plan again");
			goto done;
		}
	}
	*out = p;
	memset(&p, 0, sizeof(p));
done:
	plan_release(&p);
	return rc;
}

int plan_read(struct plan *out, const char *path)
{
	struct adp_json_doc d;
	int rc;

	if ((rc = adp_json_load(&d, path)))
		return rc;
	rc = plan_from_doc(out, &d);
	adp_json_release(&d);
	return rc;
}
