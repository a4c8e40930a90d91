#include "plans/plan.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/sha256.h"
#include "util/timeutil.h"

static void strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static void steps_free(struct plan_step *s, size_t n)
{
	size_t i;

	for (i = 0; s && i < n; i++) {
		free(s[i].action);
		free(s[i].partition);
		free(s[i].component);
		free(s[i].target);
	}
	free(s);
}

void plan_wave_release(struct plan_wave *w)
{
	size_t j;

	if (!w)
		return;
	strv_free(w->offline, w->noffline);
	for (j = 0; j < w->nplacements; j++) {
		free(w->placements[j].component);
		free(w->placements[j].partition);
		free(w->placements[j].from);
		free(w->placements[j].band_p50);
		free(w->placements[j].band_p95);
	}
	free(w->placements);
	for (j = 0; j < w->nusage; j++) {
		free(w->usage[j].partition);
		free(w->usage[j].p50);
		free(w->usage[j].p95);
		free(w->usage[j].bound);
		free(w->usage[j].prob);
	}
	free(w->usage);
	free(w->exact_status);
	for (j = 0; j < w->nabsorbed; j++) {
		free(w->absorbed[j].component);
		free(w->absorbed[j].partition);
	}
	free(w->absorbed);
	memset(w, 0, sizeof(*w));
}

void plan_release(struct plan *p)
{
	size_t i;

	if (!p)
		return;
	free(p->tool_version);
	for (i = 0; i < p->ninputs; i++) {
		free(p->inputs[i].kind);
		free(p->inputs[i].path);
	}
	free(p->inputs);
	free(p->schedule_name);
	free(p->timezone);
	free(p->model);
	for (i = 0; i < p->nforecast; i++) {
		free(p->forecast[i].component);
		free(p->forecast[i].model);
	}
	free(p->forecast);
	for (i = 0; i < p->npartitions; i++) {
		free(p->partitions[i].name);
		free(p->partitions[i].zone);
	}
	free(p->partitions);
	for (i = 0; i < p->nwaves; i++)
		plan_wave_release(&p->waves[i]);
	free(p->waves);
	for (i = 0; i < p->nreductions; i++) {
		free(p->reductions[i].component);
		free(p->reductions[i].partition);
	}
	free(p->reductions);
	free(p->rollback_check.partition);
	steps_free(p->steps, p->nsteps);
	steps_free(p->rollback, p->nrollback);
	for (i = 0; i < p->nshortfalls; i++) {
		free(p->shortfalls[i].partition);
		free(p->shortfalls[i].component);
		free(p->shortfalls[i].advice);
	}
	free(p->shortfalls);
	strv_free(p->risks, p->nrisks);
	memset(p, 0, sizeof(*p));
}

void plan_digest(const struct plan *p, char out[65])
{
	struct adp_sha256 c;
	size_t i;

	adp_sha256_init(&c);
	for (i = 0; i < p->ninputs; i++) {
		adp_sha256_update(&c, p->inputs[i].kind, strlen(p->inputs[i].kind));
		adp_sha256_update(&c, " ", 1);
		adp_sha256_update(&c, p->inputs[i].path, strlen(p->inputs[i].path));
		adp_sha256_update(&c, " ", 1);
		adp_sha256_update(&c, p->inputs[i].sha256, 64);
		adp_sha256_update(&c, "\n", 1);
	}
	adp_sha256_final_hex(&c, out);
}

int plan_add_input(struct plan *p, const char *kind, const char *path)
{
	struct plan_input *g, *in;
	int rc;

	if (!(g = realloc(p->inputs, (p->ninputs + 1) * sizeof(*g))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	p->inputs = g;
	in = &g[p->ninputs];
	memset(in, 0, sizeof(*in));
	if ((rc = adp_sha256_file(in->sha256, path)))
		return rc;
	in->kind = strdup(kind);
	in->path = strdup(path);
	p->ninputs++;
	if (!in->kind || !in->path)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}

int plan_add_risk(struct plan *p, const char *fmt, ...)
{
	char **grown, *s;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (!(grown = realloc(p->risks, (p->nrisks + 1) * sizeof(*grown)))) {
		free(s);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	p->risks = grown;
	p->risks[p->nrisks++] = s;
	return 0;
}

/* ---- serialisation ---- */

static json_t *jtime(int64_t t)
{
	char buf[32];

	adp_time_format(buf, t);
	return json_string(buf);
}

/* Exact, so that what a plan guarantees reads back as it was proven:
 * integral values (bytes, counts) as integers, others as the double
 * itself (17 significant digits, which read back bit for bit). */
static json_t *jnum(double v)
{
	if (!isfinite(v))
		return json_null();
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		return json_integer((json_int_t)v);
	return json_real(v);
}

static json_t *jres(const double v[ADP_RES_COUNT])
{
	json_t *o = json_object();
	int r;

	for (r = 0; r < ADP_RES_COUNT; r++)
		json_object_set_new(o, adp_resource_name(r), jnum(v[r]));
	return o;
}

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *jsteps(const struct plan_step *s, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "id", json_integer((json_int_t)s[i].id));
		json_object_set_new(o, "wave", json_integer((json_int_t)s[i].wave));
		json_object_set_new(o, "action", json_string(s[i].action));
		if (s[i].partition)
			json_object_set_new(o, "partition", json_string(s[i].partition));
		if (s[i].component) {
			json_object_set_new(o, "component", json_string(s[i].component));
			json_object_set_new(o, "replica", json_integer((json_int_t)s[i].replica));
		}
		if (s[i].target)
			json_object_set_new(o, "target", json_string(s[i].target));
		json_object_set_new(o, "timeout", json_integer(s[i].timeout));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *jseries(const double *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, jnum(v[i]));
	return a;
}

/* {"start": t, "p50": {res: [..]}, "p95": {res: [..]}} */
static json_t *jband(const struct plan_placement *x)
{
	json_t *o = json_object(), *q[2] = { json_object(), json_object() };
	const double *src[2] = { x->band_p50, x->band_p95 };
	size_t k, i;
	int r;

	json_object_set_new(o, "start", jtime(x->band_start));
	for (i = 0; i < 2; i++) {
		for (r = 0; r < ADP_RES_COUNT; r++) {
			json_t *a = json_array();
			for (k = 0; k < x->nband; k++)
				json_array_append_new(a, jnum(src[i][k * ADP_RES_COUNT + (size_t)r]));
			json_object_set_new(q[i], adp_resource_name(r), a);
		}
		json_object_set_new(o, i ? "p95" : "p50", q[i]);
	}
	return o;
}

static int seal_add(const char *buf, size_t n, void *ctx)
{
	adp_sha256_update(ctx, buf, n);
	return 0;
}

int plan_seal(json_t *root, char out[65])
{
	struct adp_sha256 c;
	json_t *body = json_copy(root);
	int rc;

	if (!body)
		return adp_error_set(ADP_ENOMEM, "out of memory sealing the plan");
	json_object_del(body, "seal");
	adp_sha256_init(&c);
	rc = json_dump_callback(body, seal_add, &c, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(body);
	if (rc)
		return adp_error_set(ADP_ENOMEM, "out of memory sealing the plan");
	adp_sha256_final_hex(&c, out);
	return 0;
}

int plan_to_json(json_t **out, const struct plan *p)
{
	json_t *root = json_object(), *a, *o;
	size_t i, j;

	if (!root)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_object_set_new(root, "format_version", json_integer(p->format_version));
	json_object_set_new(root, "tool", json_string(p->tool_version));
	json_object_set_new(root, "created_at", jtime(p->created_at));
	json_object_set_new(root, "expires_at", jtime(p->expires_at));
	json_object_set_new(root, "digest", json_string(p->digest));
	json_object_set_new(root, "seal", json_null()); /* its place; set last */
	if (p->lineage[0]) {
		json_object_set_new(root, "lineage", json_string(p->lineage));
		json_object_set_new(root, "serial", json_integer(p->serial));
	}
	a = json_array();
	for (i = 0; i < p->ninputs; i++) {
		o = json_object();
		json_object_set_new(o, "kind", json_string(p->inputs[i].kind));
		json_object_set_new(o, "path", json_string(p->inputs[i].path));
		json_object_set_new(o, "sha256", json_string(p->inputs[i].sha256));
		json_array_append_new(a, o);
	}
	json_object_set_new(root, "inputs", a);

	o = json_object();
	json_object_set_new(o, "name", json_string(p->schedule_name));
	json_object_set_new(o, "window_start", jtime(p->window_start));
	json_object_set_new(o, "window_end", jtime(p->window_end));
	json_object_set_new(o, "cutoff_at", jtime(p->cutoff_at));
	json_object_set_new(o, "timezone", json_string(p->timezone));
	json_object_set_new(o, "step", json_integer(p->step));
	json_object_set_new(o, "max_concurrency", json_integer((json_int_t)p->max_concurrency));
	json_object_set_new(o, "confidence", jres(p->confidence));
	json_object_set_new(root, "schedule", o);

	o = json_object();
	json_object_set_new(o, "model", json_string(p->model));
	json_object_set_new(o, "period", json_integer(p->period));
	json_object_set_new(o, "scenarios", json_integer((json_int_t)p->scenarios));
	a = json_array();
	for (i = 0; i < p->nforecast; i++) {
		json_t *f = json_object();
		json_object_set_new(f, "component", json_string(p->forecast[i].component));
		json_object_set_new(f, "resource", json_string(adp_resource_name(p->forecast[i].resource)));
		json_object_set_new(f, "model", json_string(p->forecast[i].model));
		json_object_set_new(f, "p50_peak", jnum(p->forecast[i].p50_peak));
		json_object_set_new(f, "p95_peak", jnum(p->forecast[i].p95_peak));
		json_array_append_new(a, f);
	}
	json_object_set_new(o, "series", a);
	json_object_set_new(root, "forecast", o);

	a = json_array();
	for (i = 0; i < p->npartitions; i++) {
		o = json_object();
		json_object_set_new(o, "name", json_string(p->partitions[i].name));
		json_object_set_new(o, "zone", json_string(p->partitions[i].zone));
		json_object_set_new(o, "capacity", jres(p->partitions[i].capacity));
		json_object_set_new(o, "updated", json_boolean(p->partitions[i].updated));
		json_array_append_new(a, o);
	}
	json_object_set_new(root, "partitions", a);

	a = json_array();
	for (i = 0; i < p->nwaves; i++) {
		const struct plan_wave *w = &p->waves[i];
		json_t *off = json_array(), *pl = json_array(), *us = json_array();

		o = json_object();
		json_object_set_new(o, "index", json_integer((json_int_t)i + 1));
		json_object_set_new(o, "start", jtime(w->start));
		json_object_set_new(o, "end", jtime(w->end));
		for (j = 0; j < w->noffline; j++)
			json_array_append_new(off, json_string(w->offline[j]));
		json_object_set_new(o, "offline", off);
		for (j = 0; j < w->nplacements; j++) {
			const struct plan_placement *x = &w->placements[j];
			json_t *e = json_object();

			json_object_set_new(e, "component", json_string(x->component));
			json_object_set_new(e, "replica", json_integer((json_int_t)x->replica));
			json_object_set_new(e, "tier", json_integer(x->tier));
			json_object_set_new(e, "partition", json_string(x->partition));
			json_object_set_new(e, "from", jstr_or_null(x->from));
			json_object_set_new(e, "allocation", jres(x->alloc));
			json_object_set_new(e, "p50_peak", jres(x->p50_peak));
			json_object_set_new(e, "p95_peak", jres(x->p95_peak));
			if (x->nband)
				json_object_set_new(e, "band", jband(x));
			json_array_append_new(pl, e);
		}
		json_object_set_new(o, "placements", pl);
		for (j = 0; j < w->nusage; j++) {
			const struct plan_usage *u = &w->usage[j];
			json_t *e = json_object();

			json_object_set_new(e, "partition", json_string(u->partition));
			json_object_set_new(e, "resource", json_string(adp_resource_name(u->resource)));
			json_object_set_new(e, "capacity", jnum(u->capacity));
			json_object_set_new(e, "overload_probability", jnum(u->overload_prob));
			json_object_set_new(e, "headroom", jnum(u->headroom));
			json_object_set_new(e, "p50", jseries(u->p50, u->nsteps));
			json_object_set_new(e, "p95", jseries(u->p95, u->nsteps));
			if (u->bound)
				json_object_set_new(e, "at_confidence", jseries(u->bound, u->nsteps));
			if (u->prob)
				json_object_set_new(e, "overload_by_step", jseries(u->prob, u->nsteps));
			json_array_append_new(us, e);
		}
		json_object_set_new(o, "utilisation", us);
		if (w->exact_status) {
			json_t *e = json_object();

			json_object_set_new(e, "status", json_string(w->exact_status));
			json_object_set_new(e, "objective", jnum(w->exact_objective));
			json_object_set_new(e, "heuristic_objective", jnum(w->exact_heuristic));
			json_object_set_new(e, "bound", jnum(w->exact_bound));
			json_object_set_new(e, "gap", jnum(w->exact_gap));
			json_object_set_new(e, "seconds", jnum(w->exact_seconds));
			json_object_set_new(e, "replaced", json_boolean(w->exact_replaced));
			json_object_set_new(o, "exact", e);
		}
		if (w->nabsorbed) {
			json_t *ab = json_array();

			for (j = 0; j < w->nabsorbed; j++)
				json_array_append_new(ab, json_pack("{s:s,s:I,s:s}", "component", w->absorbed[j].component,
								    "replica", (json_int_t)w->absorbed[j].replica,
								    "partition", w->absorbed[j].partition));
			json_object_set_new(o, "absorbed", ab);
		}
		json_array_append_new(a, o);
	}
	json_object_set_new(root, "waves", a);
	json_object_set_new(root, "margin", json_integer(p->margin));
	json_object_set_new(root, "steps", jsteps(p->steps, p->nsteps));
	json_object_set_new(root, "rollback_steps", jsteps(p->rollback, p->nrollback));
	a = json_array();
	for (i = 0; i < p->nshortfalls; i++) {
		const struct plan_shortfall *s = &p->shortfalls[i];

		o = json_object();
		json_object_set_new(o, "wave", json_integer((json_int_t)s->wave));
		json_object_set_new(o, "partition", jstr_or_null(s->partition));
		json_object_set_new(o, "component", jstr_or_null(s->component));
		json_object_set_new(o, "resource", s->resource >= 0 ? json_string(adp_resource_name(s->resource)) : json_null());
		json_object_set_new(o, "demand", jnum(s->demand));
		json_object_set_new(o, "capacity", jnum(s->capacity));
		json_object_set_new(o, "missing", jnum(s->missing));
		json_object_set_new(o, "at", jtime(s->at));
		json_object_set_new(o, "advice", jstr_or_null(s->advice));
		json_array_append_new(a, o);
	}
	json_object_set_new(root, "shortfalls", a);
	a = json_array();
	for (i = 0; i < p->nrisks; i++)
		json_array_append_new(a, json_string(p->risks[i]));
	json_object_set_new(root, "risks", a);
	a = json_array();
	for (i = 0; i < p->nreductions; i++) {
		const struct plan_reduction *x = &p->reductions[i];

		o = json_object();
		json_object_set_new(o, "wave", json_integer((json_int_t)x->wave));
		json_object_set_new(o, "component", json_string(x->component));
		json_object_set_new(o, "replica", json_integer((json_int_t)x->replica));
		json_object_set_new(o, "partition", json_string(x->partition));
		json_object_set_new(o, "resource", json_string(adp_resource_name(x->resource)));
		json_object_set_new(o, "wanted", jnum(x->wanted));
		json_object_set_new(o, "granted", jnum(x->granted));
		json_object_set_new(o, "missing", jnum(x->wanted - x->granted));
		json_array_append_new(a, o);
	}
	json_object_set_new(root, "reductions", a);
	if (p->rollback_check.checked) {
		const struct plan_rollback_check *r = &p->rollback_check;

		o = json_object();
		json_object_set_new(o, "fits", json_boolean(r->fits));
		json_object_set_new(o, "overload_probability", jnum(r->overload_prob));
		json_object_set_new(o, "partition", jstr_or_null(r->partition));
		json_object_set_new(o, "resource", r->partition ? json_string(adp_resource_name(r->resource)) : json_null());
		json_object_set_new(o, "at", r->partition ? jtime(r->at) : json_null());
		json_object_set_new(o, "at_confidence", jnum(r->bound));
		json_object_set_new(o, "capacity", jnum(r->capacity));
		json_object_set_new(root, "rollback_check", o);
	}
	if (p->cost.present)
		json_object_set_new(root, "cost", json_pack("{s:f,s:f,s:f,s:f,s:f}", "risk", p->cost.risk, "waste",
							    p->cost.waste, "moves", p->cost.moves, "confidence",
							    p->cost.confidence, "total", p->cost.total));
	if (p->start_candidates)
		json_object_set_new(root, "start_choice", json_pack("{s:o,s:I}", "earliest", jtime(p->start_chosen_from),
								     "candidates", (json_int_t)p->start_candidates));
	{
		char seal[65];
		int rc;

		if ((rc = plan_seal(root, seal))) {
			json_decref(root);
			return rc;
		}
		json_object_set_new(root, "seal", json_string(seal));
	}
	*out = root;
	return 0;
}

int plan_write(const struct plan *p, const char *path)
{
	json_t *root;
	char *text;
	int rc;

	if ((rc = plan_to_json(&root, p)))
		return rc;
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return adp_error_set(ADP_ENOMEM, "out of memory serialising the plan");
	{
		size_t n = strlen(text);
		char *nl = realloc(text, n + 2);
		if (!nl) {
			free(text);
			return adp_error_set(ADP_ENOMEM, "out of memory");
		}
		text = nl;
		text[n] = '\n';
		text[n + 1] = '\0';
		rc = adp_write_atomic(path, text, n + 1);
	}
	free(text);
	return rc;
}
