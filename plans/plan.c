#include "plans/plan.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "util/gz.h"
#include "util/jsonutil.h"
#include "util/parallel.h"
#include "util/sha256.h"
#include "util/timeutil.h"

static void strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void plan_steps_free(struct plan_step *s, size_t n)
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

int plan_wave_offline(const struct plan_wave *w, const char *partition)
{
	size_t i;

	for (i = 0; i < w->noffline; i++)
		if (!strcmp(w->offline[i], partition))
			return 1;
	return 0;
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
	for (i = 0; i < p->nfeedback; i++)
		free(p->feedback[i].component);
	free(p->feedback);
	free(p->rollback_check.partition);
	plan_steps_free(p->steps, p->nsteps);
	plan_steps_free(p->rollback, p->nrollback);
	for (i = 0; i < p->nshortfalls; i++) {
		free(p->shortfalls[i].partition);
		free(p->shortfalls[i].component);
		free(p->shortfalls[i].advice);
	}
	free(p->shortfalls);
	strv_free(p->risks, p->nrisks);
	strv_free(p->remedies, p->nremedies);
	plan_consolidation_release(&p->consolidation);
	memset(p, 0, sizeof(*p));
}

void plan_consolidation_release(struct plan_consolidation *c)
{
	if (!c)
		return;
	strv_free(c->partitions, c->npartitions);
	free(c->reason);
	memset(c, 0, sizeof(*c));
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

int plan_check_inputs(const struct plan *p)
{
	char digest[65];
	size_t i;

	for (i = 0; i < p->ninputs; i++) {
		char hex[65];

		if (adp_sha256_file(hex, p->inputs[i].path))
			return adp_error_wrap(ADP_EINPUT, "stale plan: %s '%s' cannot be read",
					      p->inputs[i].kind, p->inputs[i].path);
		if (strcmp(hex, p->inputs[i].sha256))
			return adp_error_set(ADP_EINPUT,
					     "stale plan: %s '%s' changed since the plan was made: plan again",
					     p->inputs[i].kind, p->inputs[i].path);
	}
	plan_digest(p, digest);
	if (strcmp(digest, p->digest))
		return adp_error_set(ADP_EINPUT, "the plan's digest does not match its inputs: plan again");
	return 0;
}

/* Records an input whose file hashed to hex. */
static int add_hashed(struct plan *p, const char *kind, const char *path, const char hex[65])
{
	struct plan_input *g, *in;

	if (!(g = realloc(p->inputs, (p->ninputs + 1) * sizeof(*g))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	p->inputs = g;
	in = &g[p->ninputs];
	memset(in, 0, sizeof(*in));
	memcpy(in->sha256, hex, sizeof(in->sha256));
	in->kind = strdup(kind);
	in->path = strdup(path);
	p->ninputs++;
	if (!in->kind || !in->path)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}

int plan_add_input(struct plan *p, const char *kind, const char *path)
{
	char hex[65];
	int rc;

	if ((rc = adp_sha256_file(hex, path)))
		return rc;
	return add_hashed(p, kind, path, hex);
}

struct hash_job {
	const char *const *path;
	char (*hex)[65];
};

static int hash_one(void *ctx, size_t i)
{
	struct hash_job *j = ctx;

	return adp_sha256_file(j->hex[i], j->path[i]);
}

int plan_add_inputs(struct plan *p, const char *const *kind, const char *const *path, size_t n)
{
	struct hash_job j = { .path = path };
	size_t i;
	int rc;

	if (!n)
		return 0;
	if (!(j.hex = malloc(n * sizeof(*j.hex))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		j.hex[i][0] = '\0';
	rc = adp_parallel(n, adp_threads(0, n, 16), hash_one, NULL, &j);
	/* The inputs before the first that failed are added, as by a loop. */
	for (i = 0; i < n && j.hex[i][0]; i++) {
		int arc = add_hashed(p, kind[i], path[i], j.hex[i]);

		if (arc) {
			rc = arc;
			break;
		}
	}
	free(j.hex);
	return rc;
}

size_t plan_wave_replicas(const struct plan_wave *w, const char *comp)
{
	size_t i, n = 0;

	for (i = 0; i < w->nplacements; i++)
		n += !strcmp(w->placements[i].component, comp);
	return n;
}

/* Appends a formatted line to the list v of n. */
static int strv_add(char ***v, size_t *n, const char *fmt, va_list ap)
{
	char **grown, *s;

	if (vasprintf(&s, fmt, ap) < 0)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (!(grown = realloc(*v, (*n + 1) * sizeof(*grown)))) {
		free(s);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	*v = grown;
	(*v)[(*n)++] = s;
	return 0;
}

int plan_add_risk(struct plan *p, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = strv_add(&p->risks, &p->nrisks, fmt, ap);
	va_end(ap);
	return rc;
}

int plan_add_remedy(struct plan *p, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = strv_add(&p->remedies, &p->nremedies, fmt, ap);
	va_end(ap);
	return rc;
}

int plan_consolidation_add(struct plan_consolidation *c, const char *name)
{
	char **grown = realloc(c->partitions, (c->npartitions + 1) * sizeof(*grown)), *s;

	if (!grown)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	c->partitions = grown;
	if (!(s = strdup(name)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	c->partitions[c->npartitions++] = s;
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

/* A forecast value (a band, a peak), at 7 significant digits: far beyond
 * what a forecast knows, and a third of a plan's size at scale against
 * the 17 a double needs. Allocations, reservations and bounds stay exact. */
static json_t *jfore(double v)
{
	char b[32];

	if (isfinite(v)) {
		snprintf(b, sizeof(b), "%.7g", v);
		v = strtod(b, NULL);
	}
	return jnum(v);
}

/* {res: v[res]} (forecast values: jfore) */
static json_t *jres_of(struct adp_jb *jb, const double v[ADP_RES_COUNT], int fore)
{
	json_t *o = json_object();
	int r;

	for (r = 0; r < ADP_RES_COUNT; r++)
		adp_jset(jb, o, adp_resource_name(r), fore ? jfore(v[r]) : jnum(v[r]));
	return o;
}

static json_t *jres(struct adp_jb *jb, const double v[ADP_RES_COUNT])
{
	return jres_of(jb, v, 0);
}

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *jsteps(struct adp_jb *jb, const struct plan_step *s, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *o = adp_jpush(jb, a, json_object());

		adp_jset(jb, o, "id", json_integer((json_int_t)s[i].id));
		adp_jset(jb, o, "wave", json_integer((json_int_t)s[i].wave));
		adp_jset(jb, o, "action", json_string(s[i].action));
		if (s[i].partition)
			adp_jset(jb, o, "partition", json_string(s[i].partition));
		if (s[i].component) {
			adp_jset(jb, o, "component", json_string(s[i].component));
			adp_jset(jb, o, "replica", json_integer((json_int_t)s[i].replica));
		}
		if (s[i].target)
			adp_jset(jb, o, "target", json_string(s[i].target));
		adp_jset(jb, o, "timeout", json_integer(s[i].timeout));
	}
	return a;
}

/* n values v[0], v[stride], v[2 * stride] ... (forecast values: jfore) */
static json_t *jseries(struct adp_jb *jb, const double *v, size_t n, size_t stride, int fore)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		adp_jpush(jb, a, fore ? jfore(v[i * stride]) : jnum(v[i * stride]));
	return a;
}

/* {"start": t, "p50": {res: [..]}, "p95": {res: [..]}} */
static json_t *jband(struct adp_jb *jb, const struct plan_placement *x)
{
	json_t *o = json_object(), *q;
	const double *src[2] = { x->band_p50, x->band_p95 };
	size_t i;
	int r;

	adp_jset(jb, o, "start", jtime(x->band_start));
	for (i = 0; i < 2; i++) {
		q = adp_jset(jb, o, i ? "p95" : "p50", json_object());
		for (r = 0; r < ADP_RES_COUNT; r++)
			adp_jset(jb, q, adp_resource_name(r), jseries(jb, src[i] + r, x->nband, ADP_RES_COUNT, 1));
	}
	return o;
}

static int seal_add(const char *buf, size_t n, void *ctx)
{
	adp_sha256_update(ctx, buf, n);
	return 0;
}

/* The text the seal hashes: root without its "seal", compact, keys
 * sorted, handed to fn. 0, or -1 when it could not be made. */
static int seal_text(json_t *root, json_dump_callback_t fn, void *ctx)
{
	json_t *body = json_copy(root); /* shallow: only the top level is copied */
	int rc;

	if (!body)
		return -1;
	json_object_del(body, "seal");
	rc = json_dump_callback(body, fn, ctx, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(body);
	return rc;
}

int plan_seal(json_t *root, char out[65])
{
	struct adp_sha256 c;

	adp_sha256_init(&c);
	if (seal_text(root, seal_add, &c))
		return adp_error_set(ADP_ENOMEM, "out of memory sealing the plan");
	adp_sha256_final_hex(&c, out);
	return 0;
}

/* The plan's identity, its inputs, schedule and forecast. */
static void json_head(struct adp_jb *jb, json_t *root, const struct plan *p)
{
	json_t *a, *o;
	size_t i;

	adp_jset(jb, root, "format_version", json_integer(p->format_version));
	adp_jset(jb, root, "tool", json_string(p->tool_version));
	adp_jset(jb, root, "created_at", jtime(p->created_at));
	adp_jset(jb, root, "expires_at", jtime(p->expires_at));
	adp_jset(jb, root, "digest", json_string(p->digest));
	adp_jset(jb, root, "seal", json_null()); /* its place; set last */
	if (p->lineage[0]) {
		adp_jset(jb, root, "lineage", json_string(p->lineage));
		adp_jset(jb, root, "serial", json_integer(p->serial));
	}
	a = adp_jset(jb, root, "inputs", json_array());
	for (i = 0; i < p->ninputs; i++) {
		o = adp_jpush(jb, a, json_object());
		adp_jset(jb, o, "kind", json_string(p->inputs[i].kind));
		adp_jset(jb, o, "path", json_string(p->inputs[i].path));
		adp_jset(jb, o, "sha256", json_string(p->inputs[i].sha256));
	}

	o = adp_jset(jb, root, "schedule", json_object());
	adp_jset(jb, o, "name", json_string(p->schedule_name));
	adp_jset(jb, o, "window_start", jtime(p->window_start));
	adp_jset(jb, o, "window_end", jtime(p->window_end));
	adp_jset(jb, o, "cutoff_at", jtime(p->cutoff_at));
	adp_jset(jb, o, "timezone", json_string(p->timezone));
	adp_jset(jb, o, "step", json_integer(p->step));
	adp_jset(jb, o, "max_concurrency", json_integer((json_int_t)p->max_concurrency));
	if (p->rebalance)
		adp_jset(jb, o, "rebalance", json_true());
	adp_jset(jb, o, "confidence", jres(jb, p->confidence));

	o = adp_jset(jb, root, "forecast", json_object());
	adp_jset(jb, o, "model", json_string(p->model));
	adp_jset(jb, o, "period", json_integer(p->period));
	adp_jset(jb, o, "scenarios", json_integer((json_int_t)p->scenarios));
	a = adp_jset(jb, o, "series", json_array());
	for (i = 0; i < p->nforecast; i++) {
		json_t *f = adp_jpush(jb, a, json_object());
		adp_jset(jb, f, "component", json_string(p->forecast[i].component));
		adp_jset(jb, f, "resource", json_string(adp_resource_name(p->forecast[i].resource)));
		adp_jset(jb, f, "model", json_string(p->forecast[i].model));
		adp_jset(jb, f, "p50_peak", jfore(p->forecast[i].p50_peak));
		adp_jset(jb, f, "p95_peak", jfore(p->forecast[i].p95_peak));
	}

	a = adp_jset(jb, root, "partitions", json_array());
	for (i = 0; i < p->npartitions; i++) {
		o = adp_jpush(jb, a, json_object());
		adp_jset(jb, o, "name", json_string(p->partitions[i].name));
		adp_jset(jb, o, "zone", json_string(p->partitions[i].zone));
		adp_jset(jb, o, "capacity", jres(jb, p->partitions[i].capacity));
		adp_jset(jb, o, "updated", json_boolean(p->partitions[i].updated));
	}
}

static void json_placement(struct adp_jb *jb, json_t *e, const struct plan_placement *x)
{
	int r;

	adp_jset(jb, e, "component", json_string(x->component));
	adp_jset(jb, e, "replica", json_integer((json_int_t)x->replica));
	adp_jset(jb, e, "tier", json_integer(x->tier));
	adp_jset(jb, e, "partition", json_string(x->partition));
	adp_jset(jb, e, "from", jstr_or_null(x->from));
	adp_jset(jb, e, "allocation", jres(jb, x->alloc));
	adp_jset(jb, e, "reservation", jres(jb, x->reserve));
	for (r = 0; r < ADP_RES_COUNT && !x->guarantee[r]; r++)
		;
	if (r < ADP_RES_COUNT)
		adp_jset(jb, e, "guarantee", jres(jb, x->guarantee));
	adp_jset(jb, e, "p50_peak", jres_of(jb, x->p50_peak, 1));
	adp_jset(jb, e, "p95_peak", jres_of(jb, x->p95_peak, 1));
	if (x->nband)
		adp_jset(jb, e, "band", jband(jb, x));
}

static void json_usage(struct adp_jb *jb, json_t *e, const struct plan_usage *u)
{
	adp_jset(jb, e, "partition", json_string(u->partition));
	adp_jset(jb, e, "resource", json_string(adp_resource_name(u->resource)));
	adp_jset(jb, e, "capacity", jnum(u->capacity));
	adp_jset(jb, e, "overload_probability", jnum(u->overload_prob));
	adp_jset(jb, e, "headroom", jnum(u->headroom));
	adp_jset(jb, e, "p50", jseries(jb, u->p50, u->nsteps, 1, 1));
	adp_jset(jb, e, "p95", jseries(jb, u->p95, u->nsteps, 1, 1));
	if (u->bound)
		adp_jset(jb, e, "at_confidence", jseries(jb, u->bound, u->nsteps, 1, 0));
	if (u->prob)
		adp_jset(jb, e, "overload_by_step", jseries(jb, u->prob, u->nsteps, 1, 0));
}

static void json_wave(struct adp_jb *jb, json_t *o, const struct plan_wave *w, size_t i)
{
	json_t *a, *e;
	size_t j;

	adp_jset(jb, o, "index", json_integer((json_int_t)i + 1));
	adp_jset(jb, o, "start", jtime(w->start));
	adp_jset(jb, o, "end", jtime(w->end));
	a = adp_jset(jb, o, "offline", json_array());
	for (j = 0; j < w->noffline; j++)
		adp_jpush(jb, a, json_string(w->offline[j]));
	a = adp_jset(jb, o, "placements", json_array());
	for (j = 0; j < w->nplacements; j++)
		json_placement(jb, adp_jpush(jb, a, json_object()), &w->placements[j]);
	a = adp_jset(jb, o, "utilisation", json_array());
	for (j = 0; j < w->nusage; j++)
		json_usage(jb, adp_jpush(jb, a, json_object()), &w->usage[j]);
	if (w->exact_status) {
		e = adp_jset(jb, o, "exact", json_object());
		adp_jset(jb, e, "status", json_string(w->exact_status));
		adp_jset(jb, e, "objective", jnum(w->exact_objective));
		adp_jset(jb, e, "heuristic_objective", jnum(w->exact_heuristic));
		adp_jset(jb, e, "bound", jnum(w->exact_bound));
		adp_jset(jb, e, "gap", jnum(w->exact_gap));
		adp_jset(jb, e, "seconds", jnum(w->exact_seconds));
		adp_jset(jb, e, "replaced", json_boolean(w->exact_replaced));
	}
	if (w->nabsorbed) {
		a = adp_jset(jb, o, "absorbed", json_array());
		for (j = 0; j < w->nabsorbed; j++)
			adp_jpush(jb, a, json_pack("{s:s,s:I,s:s}", "component", w->absorbed[j].component, "replica",
						   (json_int_t)w->absorbed[j].replica, "partition", w->absorbed[j].partition));
	}
}

static void json_shortfalls(struct adp_jb *jb, json_t *a, const struct plan *p)
{
	size_t i;

	for (i = 0; i < p->nshortfalls; i++) {
		const struct plan_shortfall *s = &p->shortfalls[i];
		json_t *o = adp_jpush(jb, a, json_object());

		adp_jset(jb, o, "wave", json_integer((json_int_t)s->wave));
		adp_jset(jb, o, "partition", jstr_or_null(s->partition));
		adp_jset(jb, o, "component", jstr_or_null(s->component));
		adp_jset(jb, o, "resource", s->resource >= 0 ? json_string(adp_resource_name(s->resource)) : json_null());
		adp_jset(jb, o, "demand", jnum(s->demand));
		adp_jset(jb, o, "capacity", jnum(s->capacity));
		adp_jset(jb, o, "missing", jnum(s->missing));
		adp_jset(jb, o, "at", jtime(s->at));
		adp_jset(jb, o, "advice", jstr_or_null(s->advice));
	}
}

static void json_reductions(struct adp_jb *jb, json_t *a, const struct plan *p)
{
	size_t i;

	for (i = 0; i < p->nreductions; i++) {
		const struct plan_reduction *x = &p->reductions[i];
		json_t *o = adp_jpush(jb, a, json_object());

		adp_jset(jb, o, "wave", json_integer((json_int_t)x->wave));
		adp_jset(jb, o, "component", json_string(x->component));
		adp_jset(jb, o, "replica", json_integer((json_int_t)x->replica));
		adp_jset(jb, o, "partition", json_string(x->partition));
		adp_jset(jb, o, "resource", json_string(adp_resource_name(x->resource)));
		adp_jset(jb, o, "wanted", jnum(x->wanted));
		adp_jset(jb, o, "granted", jnum(x->granted));
		adp_jset(jb, o, "missing", jnum(x->wanted - x->granted));
	}
}

/* rollback_check, cost and start_choice, when the planner set them. */
static void json_verdicts(struct adp_jb *jb, json_t *root, const struct plan *p)
{
	if (p->rollback_check.checked) {
		const struct plan_rollback_check *r = &p->rollback_check;
		json_t *o = adp_jset(jb, root, "rollback_check", json_object());

		adp_jset(jb, o, "fits", json_boolean(r->fits));
		adp_jset(jb, o, "overload_probability", jnum(r->overload_prob));
		adp_jset(jb, o, "partition", jstr_or_null(r->partition));
		adp_jset(jb, o, "resource", r->partition ? json_string(adp_resource_name(r->resource)) : json_null());
		adp_jset(jb, o, "at", r->partition ? jtime(r->at) : json_null());
		adp_jset(jb, o, "at_confidence", jnum(r->bound));
		adp_jset(jb, o, "capacity", jnum(r->capacity));
	}
	if (p->cost.present)
		adp_jset(jb, root, "cost", json_pack("{s:f,s:f,s:f,s:f,s:f}", "risk", p->cost.risk, "waste", p->cost.waste,
						      "moves", p->cost.moves, "confidence", p->cost.confidence, "total",
						      p->cost.total));
	if (p->start_candidates)
		adp_jset(jb, root, "start_choice", json_pack("{s:o,s:I}", "earliest", jtime(p->start_chosen_from),
							      "candidates", (json_int_t)p->start_candidates));
	if (p->nfeedback) {
		json_t *a = adp_jset(jb, root, "feedback", json_array());
		size_t i;

		for (i = 0; i < p->nfeedback; i++) {
			const struct plan_feedback *f = &p->feedback[i];

			adp_jpush(jb, a, json_pack("{s:s, s:s, s:o, s:I, s:I, s:o}", "component", f->component, "resource",
						   adp_resource_name(f->resource), "scale", jnum(f->scale), "windows",
						   (json_int_t)f->windows, "samples", (json_int_t)f->samples, "above_p95",
						   jnum(f->above_p95)));
		}
	}
}

/* Whether the schedule's shortage rule gave someone on partition part
 * less of r than forecast in wave w (1-based): the lower tiers give way. */
static int reduced(const struct plan *p, size_t w, const char *part, int r)
{
	size_t i;

	for (i = 0; i < p->nreductions; i++)
		if (p->reductions[i].wave == w && p->reductions[i].resource == r && p->reductions[i].partition &&
		    !strcmp(p->reductions[i].partition, part))
			return 1;
	return 0;
}

/* Whether sum, the reservations of r on partition i in wave w (0-based),
 * is above its capacity: then recorded in out. */
static int reserve_above(const struct plan *p, size_t w, size_t i, int r, double sum, struct plan_proof *out)
{
	double cap = p->partitions[i].capacity[r];

	/* Units are whole multiples: a tolerance far below one. */
	if (!(sum > cap * (1 + 1e-9) + 1e-9))
		return 0;
	out->reserve_wave = w + 1;
	out->reserve_partition = p->partitions[i].name;
	out->reserve_resource = r;
	out->reserve_sum = sum;
	out->reserve_capacity = cap;
	return 1;
}

/* The first partition and resource of wave w whose reservations sum above
 * its capacity, into out; 0 when they all fit. A pass over the wave's
 * placements per partition and resource: only where no memory is left
 * for the index reserve_over_indexed uses. */
static int reserve_over(const struct plan *p, size_t w, struct plan_proof *out)
{
	const struct plan_wave *wv = &p->waves[w];
	size_t i, j;
	int r;

	for (i = 0; i < p->npartitions; i++)
		for (r = 0; r < ADP_RES_COUNT; r++) {
			double sum = 0;

			if (p->partitions[i].capacity[r] <= 0)
				continue; /* unmetered */
			for (j = 0; j < wv->nplacements; j++)
				if (!strcmp(wv->placements[j].partition, p->partitions[i].name))
					sum += wv->placements[j].reserve[r];
			if (reserve_above(p, w, i, r, sum, out))
				return 1;
		}
	return 0;
}

/* The partitions by name, for a placement's partition found by bsearch. */
struct part_name {
	const char *name;
	size_t group; /* the first in name order of those with this name */
};

static int cmp_part_name(const void *a, const void *b)
{
	return strcmp(((const struct part_name *)a)->name, ((const struct part_name *)b)->name);
}

/* reserve_over with each wave's sums made in one pass over its
 * placements (in their order, as reserve_over adds them): byname holds
 * the partitions sorted by name, group[i] partition i's entry in it
 * (partitions of one name share the sums), sums R per entry. */
static int reserve_over_indexed(const struct plan *p, size_t w, const struct part_name *byname,
				const size_t *group, double *sums, struct plan_proof *out)
{
	const struct plan_wave *wv = &p->waves[w];
	size_t i, j;
	int r;

	memset(sums, 0, p->npartitions * ADP_RES_COUNT * sizeof(double));
	for (j = 0; j < wv->nplacements; j++) {
		struct part_name key = { wv->placements[j].partition, 0 };
		const struct part_name *at = bsearch(&key, byname, p->npartitions, sizeof(*byname), cmp_part_name);

		if (at)
			for (r = 0; r < ADP_RES_COUNT; r++)
				sums[at->group * ADP_RES_COUNT + (size_t)r] += wv->placements[j].reserve[r];
	}
	for (i = 0; i < p->npartitions; i++)
		for (r = 0; r < ADP_RES_COUNT; r++)
			if (p->partitions[i].capacity[r] > 0 &&
			    reserve_above(p, w, i, r, sums[group[i] * ADP_RES_COUNT + (size_t)r], out))
				return 1;
	return 0;
}

/* Whether some wave's reservations sum above a partition's capacity:
 * the first such into out. */
static int reserves_over(const struct plan *p, struct plan_proof *out)
{
	size_t n = p->npartitions, i, w, *group = calloc(n + 1, sizeof(size_t));
	struct part_name *byname = calloc(n + 1, sizeof(*byname));
	double *sums = calloc(n * ADP_RES_COUNT + 1, sizeof(double));
	int over = 0;

	if (!group || !byname || !sums) {
		for (w = 0; w < p->nwaves && !over; w++)
			over = reserve_over(p, w, out);
		goto done;
	}
	for (i = 0; i < n; i++)
		byname[i].name = p->partitions[i].name;
	qsort(byname, n, sizeof(*byname), cmp_part_name);
	/* Every name's entries point at the first of them, whichever
	 * bsearch finds; a partition at that of its name. */
	for (i = 0; i < n; i++)
		byname[i].group = i && !strcmp(byname[i].name, byname[i - 1].name) ? byname[i - 1].group : i;
	for (i = 0; i < n; i++)
		group[i] = ((const struct part_name *)bsearch(&(struct part_name){ p->partitions[i].name, 0 }, byname, n,
							     sizeof(*byname), cmp_part_name))->group;
	for (w = 0; w < p->nwaves && !over; w++)
		over = reserve_over_indexed(p, w, byname, group, sums, out);
done:
	free(group);
	free(byname);
	free(sums);
	return over;
}

void plan_proof(const struct plan *p, struct plan_proof *out)
{
	size_t w, u;
	int r;

	memset(out, 0, sizeof(*out));
	out->holds = 1;
	out->reserve_fits = 1;
	if (reserves_over(p, out))
		out->reserve_fits = out->holds = 0;
	for (r = 0; r < ADP_RES_COUNT; r++)
		out->eps[r] = 1 - p->confidence[r];
	for (w = 0; w < p->nwaves; w++)
		for (u = 0; u < p->waves[w].nusage; u++) {
			const struct plan_usage *x = &p->waves[w].usage[u];

			r = x->resource;
			if (r < 0 || r >= ADP_RES_COUNT || (out->wave[r] && x->overload_prob <= out->worst[r]))
				continue;
			out->worst[r] = x->overload_prob;
			out->partition[r] = x->partition;
			out->wave[r] = w + 1;
			out->shared[r] = reduced(p, w + 1, x->partition, r);
		}
	/* The scenarios count in steps of 1/K: a tolerance below that. */
	for (r = 0; r < ADP_RES_COUNT; r++)
		if (out->wave[r] && out->worst[r] > out->eps[r] + 1e-9)
			out->holds = 0;
}

/* "consolidation", when the planner looked: checked, or why not. */
static void json_consolidation(struct adp_jb *jb, json_t *root, const struct plan_consolidation *c)
{
	json_t *o, *a;
	size_t i;

	if (c->state == PLAN_CONSOL_ABSENT)
		return;
	o = adp_jset(jb, root, "consolidation", json_object());
	adp_jset(jb, o, "checked", json_boolean(c->state == PLAN_CONSOL_CHECKED));
	if (c->state == PLAN_CONSOL_UNCHECKED) {
		adp_jset(jb, o, "reason", json_string(c->reason ? c->reason : ""));
		return;
	}
	a = adp_jset(jb, o, "partitions", json_array());
	for (i = 0; i < c->npartitions; i++)
		adp_jpush(jb, a, json_string(c->partitions[i]));
	adp_jset(jb, o, "components", json_integer((json_int_t)c->components));
	adp_jset(jb, o, "replicas", json_integer((json_int_t)c->replicas));
	adp_jset(jb, o, "freed", jres(jb, c->freed));
	adp_jset(jb, o, "worst_overload_probability", jres(jb, c->worst));
	adp_jset(jb, o, "tried", json_integer((json_int_t)c->tried));
	adp_jset(jb, o, "candidates", json_integer((json_int_t)c->candidates));
}

/* "proof": what the plan proves, for people and tools; readers compute
 * it again from the plan (only risk_accepted is read back). */
static void json_proof(struct adp_jb *jb, json_t *o, const struct plan *p)
{
	struct plan_proof pf;
	json_t *a;
	int r;

	plan_proof(p, &pf);
	adp_jset(jb, o, "holds", json_boolean(pf.holds));
	adp_jset(jb, o, "reservations_fit", json_boolean(pf.reserve_fits));
	adp_jset(jb, o, "risk_accepted", json_boolean(p->risk_accepted));
	a = adp_jset(jb, o, "resources", json_array());
	for (r = 0; r < ADP_RES_COUNT; r++)
		if (pf.wave[r])
			adp_jpush(jb, a, json_pack("{s:s, s:f, s:f, s:I, s:s}", "resource", adp_resource_name(r),
						   "worst_overload_probability", pf.worst[r], "epsilon", pf.eps[r],
						   "wave", (json_int_t)pf.wave[r], "partition", pf.partition[r]));
}

/* The waves' place in a document built without them: a string no plan
 * holds (a control character, which JSON escapes). */
#define WAVES_HOLE "\001waves"
#define WAVES_HOLE_JSON "\"\\u0001waves\""

/* The document without its seal; with waves 0, the waves are the string
 * WAVES_HOLE instead, for plan_text to fill in one wave at a time. */
static json_t *plan_body(struct adp_jb *jb, const struct plan *p, int waves)
{
	json_t *root = json_object(), *a;
	size_t i;

	if (!root)
		return NULL;
	json_head(jb, root, p);
	json_proof(jb, adp_jset(jb, root, "proof", json_object()), p);
	if (waves) {
		a = adp_jset(jb, root, "waves", json_array());
		for (i = 0; i < p->nwaves; i++)
			json_wave(jb, adp_jpush(jb, a, json_object()), &p->waves[i], i);
	} else {
		adp_jset(jb, root, "waves", json_string(WAVES_HOLE));
	}
	adp_jset(jb, root, "margin", json_integer(p->margin));
	adp_jset(jb, root, "steps", jsteps(jb, p->steps, p->nsteps));
	adp_jset(jb, root, "rollback_steps", jsteps(jb, p->rollback, p->nrollback));
	json_shortfalls(jb, adp_jset(jb, root, "shortfalls", json_array()), p);
	a = adp_jset(jb, root, "risks", json_array());
	for (i = 0; i < p->nrisks; i++)
		adp_jpush(jb, a, json_string(p->risks[i]));
	if (p->nremedies) {
		a = adp_jset(jb, root, "remedies", json_array());
		for (i = 0; i < p->nremedies; i++)
			adp_jpush(jb, a, json_string(p->remedies[i]));
	}
	json_consolidation(jb, root, &p->consolidation);
	json_reductions(jb, adp_jset(jb, root, "reductions", json_array()), p);
	json_verdicts(jb, root, p);
	return root;
}

int plan_to_json(json_t **out, const struct plan *p)
{
	struct adp_jb jb = { 0 };
	json_t *root = plan_body(&jb, p, 1);
	char seal[65];
	int rc;

	if (!root)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if ((rc = adp_jb_check(&jb)) || (rc = plan_seal(root, seal)))
		goto fail;
	adp_jset(&jb, root, "seal", json_string(seal));
	if ((rc = adp_jb_check(&jb)))
		goto fail;
	*out = root;
	return 0;
fail:
	json_decref(root);
	return rc;
}

/* The shortest text of the real in tok (len chars) that reads back as
 * the same double, into out (at least 32 chars), still a real (a '.' or
 * an exponent); its length. jansson writes 17 digits where 7 say it. */
/* v at p significant digits (1 to 17: at most 24 characters) into out
 * (32 characters). */
static void real_text(char *out, int p, double v)
{
	snprintf(out, 32, "%.*g", p < 1 ? 1 : p > 17 ? 17 : p, v);
}

/* Whether the p significant digits of v read back as v; out holds them. */
static int reads_back(char *out, int p, double v)
{
	real_text(out, p, v);
	return strtod(out, NULL) == v;
}

static size_t short_real(const char *tok, size_t len, char *out)
{
	char b[40];
	double v;
	int p;
	size_t n;

	memcpy(b, tok, len);
	b[len] = '\0';
	v = strtod(b, NULL);
	/* Forecast values are kept to 7 digits and exact ones need 15 to 17:
	 * the first of 7, 15, 16 and 17 digits that reads back, whatever is
	 * written having been read back. At 15 digits or fewer no shorter
	 * text reads back but the same one without its trailing zeros (two
	 * texts of at most 15 digits that differ are further apart than a
	 * double's spacing, and %g drops trailing zeros), so the one printed
	 * is already the shortest: stepping down a digit at a time, each a
	 * print and a read, was most of writing a plan. Not so for a
	 * subnormal, whose spacing is coarser, nor for a whole number, whose
	 * shorter text may take %g's exponent form ("4e+01"): those step
	 * down. */
	if (reads_back(out, 7, v))
		p = 7;
	else if (reads_back(out, 15, v))
		p = 15;
	else
		p = reads_back(out, 16, v) ? 16 : 17;
	if ((p == 7 || p == 15) && (fabs(v) < DBL_MIN || v == floor(v)))
		while (p > (p == 15 ? 8 : 1) && reads_back(out, p - 1, v))
			p--;
	real_text(out, p, v);
	n = strlen(out);
	if (!strpbrk(out, ".eE")) {
		memcpy(out + n, ".0", 3);
		n += 2;
	}
	return n;
}

/* Whether the array or object opening at in[i] closes before any other
 * opens and holds no string longer than LEAF_STRING (a digest fits; a
 * sentence, such as a risk, keeps its own line): a leaf, on one line. */
#define LEAF_STRING 80

static int leaf_at(const char *in, size_t i, size_t n)
{
	for (i++; i < n; i++) {
		if (in[i] == '"') {
			size_t from = i;

			for (i++; i < n && in[i] != '"'; i++)
				i += in[i] == '\\';
			if (i - from > LEAF_STRING)
				return 0;
		} else if (in[i] == '[' || in[i] == '{') {
			return 0;
		} else if (in[i] == ']' || in[i] == '}') {
			return 1;
		}
	}
	return 0;
}

/* Indented JSON with each leaf (an array or object of plain values: a
 * band, a resource map, a step) on one line and each real at its
 * shortest exact text: a plan a third the size, still one thing a line. */
static char *compact_dump(const char *in)
{
	size_t n = strlen(in), i = 0, o = 0;
	char *out = malloc(n + 2);
	int str = 0, leaf = 0;

	if (!out)
		return NULL;
	while (i < n) {
		char c = in[i];

		if (str) {
			out[o++] = c;
			if (c == '\\' && i + 1 < n)
				out[o++] = in[++i];
			else if (c == '"')
				str = 0;
			i++;
		} else if (c == '"') {
			str = 1;
			out[o++] = in[i++];
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			size_t j = i;
			int real = 0;

			while (j < n && strchr("0123456789+-.eE", in[j])) {
				real |= in[j] == '.' || in[j] == 'e' || in[j] == 'E';
				j++;
			}
			if (real && j - i < 40) {
				char t[32];
				size_t k = short_real(in + i, j - i, t);

				memcpy(out + o, t, k);
				o += k;
			} else {
				memcpy(out + o, in + i, j - i);
				o += j - i;
			}
			i = j;
		} else if ((c == '[' || c == '{') && !leaf) {
			leaf = leaf_at(in, i, n);
			out[o++] = in[i++];
		} else if (leaf && (c == ' ' || c == '\n')) {
			i++;
		} else {
			out[o++] = c;
			if (leaf && (c == ',' || c == ':'))
				out[o++] = ' ';
			if (c == ']' || c == '}')
				leaf = 0;
			i++;
		}
	}
	out[o++] = '\n';
	out[o] = '\0';
	return out;
}

/* jansson's text, into a buffer grown by realloc: json_dumps copies its
 * whole buffer at each doubling (a third of writing a plan of tens of
 * megabytes), where realloc moves large blocks without copying. */
struct dump_buf {
	char *s;
	size_t n, cap;
};

static int dump_add(const char *text, size_t len, void *ctx)
{
	struct dump_buf *b = ctx;

	if (len >= b->cap - b->n) {
		size_t cap = b->cap ? b->cap : 65536;
		char *g;

		while (len >= cap - b->n)
			cap *= 2;
		if (!(g = realloc(b->s, cap)))
			return -1;
		b->s = g;
		b->cap = cap;
	}
	memcpy(b->s + b->n, text, len);
	b->n += len;
	b->s[b->n] = '\0';
	return 0;
}

/* jansson's indented text of root, which *root gives up when owned (the
 * tree is not held beside the compacted text: at fleet scale each is
 * tens of megabytes). */
static char *dumps_owned(json_t **root, int owned)
{
	struct dump_buf b = { 0 };
	char *out;
	int rc = json_dump_callback(*root, dump_add, &b, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (owned) {
		json_decref(*root);
		*root = NULL;
	}
	if (rc || !b.s) {
		free(b.s);
		return NULL;
	}
	out = compact_dump(b.s);
	free(b.s);
	return out;
}

char *plan_dumps(json_t *root)
{
	return dumps_owned(&root, 0);
}

static int text_add(struct dump_buf *b, const char *s, size_t n)
{
	return dump_add(s, n, b) ? adp_error_set(ADP_ENOMEM, "out of memory serialising the plan") : 0;
}

/* Wave i's two texts: its compact, sorted one (the seal's) into *sorted
 * and the one plan_dumps writes into *doc (both NULL on an error). */
static int wave_texts(const struct plan *p, size_t i, char **sorted, char **doc)
{
	struct adp_jb jb = { 0 };
	struct dump_buf sb = { 0 };
	json_t *o = json_object();
	int rc;

	*sorted = *doc = NULL;
	if (!o)
		return adp_error_set(ADP_ENOMEM, "out of memory serialising the plan");
	json_wave(&jb, o, &p->waves[i], i);
	if ((rc = adp_jb_check(&jb))) {
		json_decref(o);
		return rc;
	}
	if (json_dump_callback(o, dump_add, &sb, JSON_COMPACT | JSON_SORT_KEYS) || !sb.s) {
		json_decref(o);
		free(sb.s);
		return adp_error_set(ADP_ENOMEM, "out of memory sealing the plan");
	}
	if (!(*doc = dumps_owned(&o, 1))) {
		free(sb.s);
		return adp_error_set(ADP_ENOMEM, "out of memory serialising the plan");
	}
	*sorted = sb.s;
	return 0;
}

/* Wave text t appended to b as it sits inside the document (its lines
 * indented by 4 more). */
static int wave_place(struct dump_buf *b, const char *t)
{
	const char *s;
	int rc = 0;

	for (s = t; *s && !rc;) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);

		rc = text_add(b, s, n);
		/* The final newline ends the dump, not a line of the wave. */
		if (!rc && nl && nl[1])
			rc = text_add(b, "\n    ", 5);
		s += n + (nl ? 1 : 0);
	}
	return rc;
}

/* The waves' texts are made a few at a time on every core (formatting a
 * wave's reals is most of writing a plan, and waves are independent),
 * then hashed and placed in order; only a few waves' texts are held at
 * once beside the document's. */
struct wave_batch {
	const struct plan *p;
	size_t first;
	char *sorted[ADP_MAX_THREADS], *doc[ADP_MAX_THREADS];
};

static int wave_batch_one(void *ctx, size_t k)
{
	struct wave_batch *wb = ctx;

	return wave_texts(wb->p, wb->first + k, &wb->sorted[k], &wb->doc[k]);
}

int plan_text(const struct plan *p, char **text_out)
{
	struct adp_jb jb = { 0 };
	struct adp_sha256 c;
	struct dump_buf w = { 0 }, sorted = { 0 };
	json_t *root = plan_body(&jb, p, 0);
	char seal[65], *text = NULL, *hole, *out = NULL;
	static const char sorted_hole[] = "\"waves\":" WAVES_HOLE_JSON, doc_hole[] = "\n  \"waves\": " WAVES_HOLE_JSON;
	size_t i, nt;
	int rc;

	if (!root)
		return adp_error_set(ADP_ENOMEM, "out of memory serialising the plan");
	if ((rc = adp_jb_check(&jb)))
		goto done;
	/* The seal's text, the waves hashed in their place one at a time. */
	if (seal_text(root, dump_add, &sorted) || !sorted.s || !(hole = strstr(sorted.s, sorted_hole))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory sealing the plan");
		goto done;
	}
	adp_sha256_init(&c);
	adp_sha256_update(&c, sorted.s, (size_t)(hole - sorted.s));
	adp_sha256_update(&c, "\"waves\":[", 9);
	if (p->nwaves && (rc = text_add(&w, "[\n    ", 6)))
		goto done;
	nt = adp_threads(0, p->nwaves, 1);
	for (i = 0; i < p->nwaves; i += nt) {
		struct wave_batch wb = { .p = p, .first = i };
		size_t k, nb = p->nwaves - i < nt ? p->nwaves - i : nt;

		rc = adp_parallel(nb, nt, wave_batch_one, NULL, &wb);
		for (k = 0; !rc && k < nb; k++) {
			if (i + k) {
				adp_sha256_update(&c, ",", 1);
				if ((rc = text_add(&w, ",\n    ", 6)))
					break;
			}
			adp_sha256_update(&c, wb.sorted[k], strlen(wb.sorted[k]));
			rc = wave_place(&w, wb.doc[k]);
		}
		for (k = 0; k < nb; k++) {
			free(wb.sorted[k]);
			free(wb.doc[k]);
		}
		if (rc)
			goto done;
	}
	if ((rc = text_add(&w, p->nwaves ? "\n  ]" : "[]", p->nwaves ? 4 : 2)))
		goto done;
	adp_sha256_update(&c, "]", 1);
	hole += sizeof(sorted_hole) - 1;
	adp_sha256_update(&c, hole, strlen(hole));
	adp_sha256_final_hex(&c, seal);
	/* The document, the waves' text in their place. */
	adp_jset(&jb, root, "seal", json_string(seal));
	if ((rc = adp_jb_check(&jb)))
		goto done;
	if (!(text = dumps_owned(&root, 1)) || !(hole = strstr(text, doc_hole))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory serialising the plan");
		goto done;
	}
	{
		size_t head = (size_t)(hole - text) + sizeof(doc_hole) - 1 - (sizeof(WAVES_HOLE_JSON) - 1);
		const char *tail = hole + sizeof(doc_hole) - 1;
		size_t nt = strlen(tail);

		if (!(out = malloc(head + w.n + nt + 1))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory serialising the plan");
			goto done;
		}
		memcpy(out, text, head);
		memcpy(out + head, w.s, w.n);
		memcpy(out + head + w.n, tail, nt + 1);
	}
done:
	json_decref(root);
	free(sorted.s);
	free(w.s);
	free(text);
	*text_out = out;
	return rc;
}

int plan_write_as(const struct plan *p, const char *path, enum plan_compress how, size_t *size, size_t *text_len)
{
	char *text, *gz = NULL;
	size_t n, zn = 0;
	int rc;

	if ((rc = plan_text(p, &text)))
		return rc;
	n = strlen(text);
	if (n > plan_max_bytes()) {
		char a[32], b[32];

		free(text);
		adp_bytes_format(a, (double)n);
		adp_bytes_format(b, (double)plan_max_bytes());
		return adp_error_set(ADP_EINPUT, "the plan is %s of JSON, more than the %s a plan may hold (every reader refuses more): plan fewer components or a shorter window at a time",
				     a, b);
	}
	if ((how == PLAN_COMPRESS_ALWAYS || (how == PLAN_COMPRESS_AUTO && n > PLAN_COMPRESS_ABOVE)) &&
	    (rc = adp_gz_deflate(&gz, &zn, text, n))) {
		free(text);
		return rc;
	}
	rc = gz ? adp_write_atomic(path, gz, zn) : adp_write_atomic(path, text, n);
	if (size)
		*size = gz ? zn : n;
	if (text_len)
		*text_len = gz ? n : 0;
	free(gz);
	free(text);
	return rc;
}

size_t plan_max_bytes(void)
{
	const char *t = getenv("ADPART_TEST_PLAN_MAX_KIB");
	long k = t ? strtol(t, NULL, 10) : 0;

	return k > 0 ? (size_t)k << 10 : PLAN_MAX_BYTES;
}

int plan_write(const struct plan *p, const char *path)
{
	return plan_write_as(p, path, PLAN_COMPRESS_NEVER, NULL, NULL);
}
