#include "history/prometheus.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/http.h"
#include "util/timeutil.h"

#define SECRET_MAX 4096

/* Samples gathered for one component across every chunk. */
struct acc {
	char *component;
	int64_t *t;
	double *v;
	size_t n, alloc;
};

struct accs {
	struct acc *items;
	size_t n;
};

static void accs_release(struct accs *a)
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		free(a->items[i].component);
		free(a->items[i].t);
		free(a->items[i].v);
	}
	free(a->items);
	memset(a, 0, sizeof(*a));
}

static struct acc *acc_get(struct accs *a, const char *component)
{
	struct acc *g;
	size_t i;

	for (i = 0; i < a->n; i++)
		if (!strcmp(a->items[i].component, component))
			return &a->items[i];
	if (!(g = realloc(a->items, (a->n + 1) * sizeof(*g))))
		return NULL;
	a->items = g;
	g = &a->items[a->n];
	memset(g, 0, sizeof(*g));
	if (!(g->component = strdup(component)))
		return NULL;
	a->n++;
	return g;
}

static int acc_add(struct acc *g, int64_t t, double v)
{
	if (g->n == g->alloc) {
		size_t n = g->alloc ? g->alloc * 2 : 1024;
		int64_t *nt;
		double *nv;

		if (n > ADP_HISTORY_MAX_POINTS)
			return adp_error_set(ADP_ENOMEM, "prometheus: more than %zu samples for '%s'",
					     (size_t)ADP_HISTORY_MAX_POINTS, g->component);
		if (!(nt = realloc(g->t, n * sizeof(*nt))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		g->t = nt;
		if (!(nv = realloc(g->v, n * sizeof(*nv))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		g->v = nv;
		g->alloc = n;
	}
	g->t[g->n] = t;
	g->v[g->n] = v;
	g->n++;
	return 0;
}

/* The server's URL for messages and source names: credentials removed. */
static const char *shown_url(char *out, size_t len, const struct history_prom_opts *p)
{
	return adp_url_redact(out, len, p->url ? p->url : "");
}

/* POSTs one query_range request, retrying transport errors, 429 and 5xx
 * with exponential backoff. On success *body holds a 2xx or 4xx answer. */
static int fetch(struct adp_http *http, const struct history_prom_opts *p, const char *endpoint,
		 const char *form, const char *token, const char *password, struct adp_buf *body, long *status)
{
	struct adp_http_req r = { 0 };
	struct adp_http_res res;
	char url[1024];
	int rc;

	r.url = endpoint;
	r.shown = p->url;
	r.body = form;
	r.body_len = strlen(form);
	r.bearer = token;
	r.username = password ? p->username : NULL;
	r.password = password;
	r.max_bytes = p->max_bytes ? p->max_bytes : HISTORY_PROM_MAX_BYTES;
	r.retries = p->retries < 0 ? 0 : p->retries ? p->retries : 3;
	if (r.retries > HISTORY_PROM_MAX_RETRIES)
		r.retries = HISTORY_PROM_MAX_RETRIES;
	rc = adp_http_request(http, &r, body, &res);
	if (rc && res.fail == ADP_HTTP_TOO_BIG)
		return adp_error_set(ADP_EINPUT, "prometheus '%s': response larger than %zu bytes: narrow the query or range",
				     shown_url(url, sizeof(url), p), r.max_bytes);
	if (!rc)
		*status = res.status;
	return rc;
}

static int want_component(const struct history_prom_opts *p, const char *name)
{
	size_t i;

	if (!p->only)
		return 1;
	for (i = 0; i < p->nonly; i++)
		if (!strcmp(p->only[i], name))
			return 1;
	return 0;
}

/* Parses one matrix answer into accs. */
static int parse_answer(const struct history_prom_opts *p, const char *component, int res,
			const char *query, const char *body, size_t len, long status, struct accs *a)
{
	const char *label = p->label ? p->label : "component";
	char url[1024];
	json_error_t jerr;
	json_t *root, *data, *result, *s;
	const char *st;
	size_t i, j;
	int rc = 0;

	shown_url(url, sizeof(url), p);
	root = json_loadb(body ? body : "", len, 0, &jerr);
	if (!root || !json_is_object(root)) {
		rc = adp_error_set(ADP_EINPUT, "prometheus '%s': HTTP %ld with a body that is not the API's JSON%s%s",
				   url, status, root ? "" : ": ", root ? "" : jerr.text);
		goto done;
	}
	st = json_string_value(json_object_get(root, "status"));
	if (!st || strcmp(st, "success") || status / 100 != 2) {
		const char *et = json_string_value(json_object_get(root, "errorType"));
		const char *em = json_string_value(json_object_get(root, "error"));

		rc = adp_error_set(ADP_EINPUT, "prometheus '%s': %s query '%s' failed: HTTP %ld: %s: %s",
				   url, adp_resource_name(res), query, status, et ? et : "error",
				   em ? em : "no message");
		goto done;
	}
	data = json_object_get(root, "data");
	result = json_object_get(data, "result");
	if (!json_is_array(result) ||
	    strcmp(json_string_value(json_object_get(data, "resultType")) ?: "", "matrix")) {
		rc = adp_error_set(ADP_EINPUT, "prometheus '%s': %s query '%s' did not return a range vector (matrix)",
				   url, adp_resource_name(res), query);
		goto done;
	}
	json_array_foreach(result, i, s) {
		const char *name = json_string_value(json_object_get(json_object_get(s, "metric"), label));
		json_t *values = json_object_get(s, "values"), *pt;
		struct acc *g;

		if (component) {
			/* One component: its own series, or the only series there is. */
			if (name ? strcmp(name, component) : json_array_size(result) != 1)
				continue;
			name = component;
		} else if (!name) {
			rc = adp_error_set(ADP_EINPUT,
					   "prometheus '%s': %s query '%s' returned a series without the label '%s' that names the component",
					   url, adp_resource_name(res), query, label);
			goto done;
		}
		if (!want_component(p, name))
			continue;
		if (!history_name_valid(name)) {
			rc = adp_error_set(ADP_EINPUT, "prometheus '%s': label %s=\"%.64s\" is not a valid component name",
					   url, label, name);
			goto done;
		}
		if (!(g = acc_get(a, name))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		json_array_foreach(values, j, pt) {
			json_t *tv = json_array_get(pt, 0);
			const char *vs = json_string_value(json_array_get(pt, 1));
			char *end;
			double v;

			if (!json_is_number(tv) || !vs) {
				rc = adp_error_set(ADP_EINPUT, "prometheus '%s': malformed sample in the answer", url);
				goto done;
			}
			v = strtod(vs, &end);
			if (end == vs || *end) {
				rc = adp_error_set(ADP_EINPUT, "prometheus '%s': sample value '%.32s' is not a number",
						   url, vs);
				goto done;
			}
			if (isnan(v))
				continue;
			if ((rc = acc_add(g, (int64_t)llround(json_number_value(tv)), v)))
				goto done;
		}
	}
done:
	json_decref(root);
	return rc;
}

/* Adds the gathered series of resource res to h. */
static int add_series(struct history *h, const struct history_prom_opts *p, int res,
		      const struct accs *a, const struct history_opts *o)
{
	size_t i;
	int rc;

	char url[1024];

	shown_url(url, sizeof(url), p);
	for (i = 0; i < a->n; i++) {
		char source[512];
		const struct acc *g = &a->items[i];

		if (g->n == 0)
			continue;
		/* A name for messages and the plan's inputs: a long URL is cut, its
		 * start names the server. */
		snprintf(source, sizeof(source), "prometheus %.400s (%s)", url, adp_resource_name(res));
		if ((rc = history_add_points(h, source, g->component, res, g->t, g->v, g->n, o)))
			return rc;
	}
	return 0;
}

int history_prom_parse(struct history *h, const struct history_prom_opts *p, const char *component,
		       int res, const char *query, const char *body, size_t len, long status,
		       const struct history_opts *o)
{
	struct accs a = { 0 };
	int rc;

	if (res < 0 || res >= ADP_RES_COUNT)
		return adp_error_set(ADP_EINPUT, "prometheus: resource %d is out of range", res);
	if (!(rc = parse_answer(p, component, res, query ? query : "", body, len, status, &a)))
		rc = add_series(h, p, res, &a, o);
	accs_release(&a);
	return rc;
}

/* Replaces "$component" in query by the name. */
static int expand(char *out, size_t len, const char *query, const char *component)
{
	const char *q = query, *hit;
	size_t n = 0;

	while ((hit = component ? strstr(q, "$component") : NULL)) {
		n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%.*s%s", (int)(hit - q), q, component);
		q = hit + strlen("$component");
	}
	n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s", q);
	if (n >= len)
		return adp_error_set(ADP_EINPUT, "prometheus query longer than %zu bytes", len - 1);
	return 0;
}

static int64_t floor_to(int64_t t, int64_t step)
{
	return t / step * step - (t % step < 0 ? step : 0);
}

int history_prom_read(struct history *h, const struct history_prom_opts *p,
		       const char *component, const struct history_opts *o)
{
	struct adp_buf body = ADP_BUF_INIT;
	struct adp_http http = { 0 };
	struct adp_http_opts ho = { 0 };
	struct accs a[ADP_RES_COUNT];
	char *token = NULL, *password = NULL, *endpoint = NULL;
	char query[HISTORY_PROM_MAX_QUERY], eq[HISTORY_PROM_MAX_QUERY * 3 + 1], url[1024];
	int64_t step, until, start, end, s;
	size_t maxpts, i, total;
	int rc = 0, res, any = 0;

	memset(a, 0, sizeof(a));
	if (!p->url || (strncmp(p->url, "http://", 7) && strncmp(p->url, "https://", 8)))
		return adp_error_set(ADP_EINPUT, "prometheus url '%s' must start with http:// or https://",
				     shown_url(url, sizeof(url), p));
	step = p->step > 0 ? p->step : o->step;
	if (step <= 0)
		return adp_error_set(ADP_EINPUT, "prometheus step must be positive");
	maxpts = p->max_points ? p->max_points : HISTORY_PROM_MAX_POINTS;
	if (maxpts < 2 || maxpts > HISTORY_PROM_MAX_POINTS)
		return adp_error_set(ADP_EINPUT, "prometheus points per request must be 2 to %d",
				     HISTORY_PROM_MAX_POINTS);
	until = o->until ? o->until : (int64_t)time(NULL);
	/* The grid is aligned to the step, the last point strictly before the origin. */
	end = floor_to(until - 1, step);
	start = floor_to(until - (p->range > 0 ? p->range : HISTORY_PROM_DEFAULT_RANGE), step) + step;
	if (start > end)
		return adp_error_set(ADP_EINPUT, "prometheus range is shorter than one step");
	adp_buf_init(&body, p->max_bytes ? p->max_bytes : HISTORY_PROM_MAX_BYTES);
	if (p->bearer_token_file && p->username)
		return adp_error_set(ADP_EINPUT, "prometheus: give a bearer token or basic auth, not both");
	if (p->bearer_token_file && (rc = adp_read_secret(&token, p->bearer_token_file, SECRET_MAX, "prometheus bearer token file")))
		goto done;
	if (p->username && !p->password_file) {
		rc = adp_error_set(ADP_EINPUT, "prometheus: basic auth user '%s' needs a password file", p->username);
		goto done;
	}
	if (p->password_file && (rc = adp_read_secret(&password, p->password_file, SECRET_MAX, "prometheus password file")))
		goto done;
	if (asprintf(&endpoint, "%s%sapi/v1/query_range", p->url,
		     p->url[strlen(p->url) - 1] == '/' ? "" : "/") < 0) {
		endpoint = NULL;
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	ho.what = "prometheus";
	ho.timeout = (long)(p->timeout > 0 ? p->timeout : 30);
	ho.compressed = 1;
	ho.ca_file = p->ca_file;
	if ((rc = adp_http_init(&http, &ho)))
		goto done;
	for (res = 0; res < ADP_RES_COUNT; res++) {
		if (!p->query[res])
			continue;
		any = 1;
		if ((rc = expand(query, sizeof(query), p->query[res], component)))
			goto done;
		adp_url_escape(eq, sizeof(eq), query); /* fits: three bytes at most for each of query's */
		/* Chunks of at most maxpts points: [s, s + (maxpts-1)*step]. */
		for (s = start; s <= end; s += (int64_t)maxpts * step) {
			int64_t e = s + (int64_t)(maxpts - 1) * step;
			char form[HISTORY_PROM_MAX_QUERY * 3 + 128];
			long status = 0;

			if (e > end)
				e = end;
			snprintf(form, sizeof(form), "query=%s&start=%lld&end=%lld&step=%lld", eq,
				 (long long)s, (long long)e, (long long)step);
			if ((rc = fetch(&http, p, endpoint, form, token, password, &body, &status)) ||
			    (rc = parse_answer(p, component, res, query, body.data, body.len, status, &a[res])))
				goto done;
		}
		for (i = 0, total = 0; i < a[res].n; i++)
			total += a[res].items[i].n;
		/* Series of nothing but NaN are no data either. */
		if (total == 0) {
			char from[32], to[32];

			adp_time_format(from, start);
			adp_time_format(to, end);
			rc = adp_error_set(ADP_EINPUT,
					   "prometheus '%s': %s query '%s' returned no series%s%s%s from %s to %s: check the query and the label '%s'",
					   shown_url(url, sizeof(url), p), adp_resource_name(res), query, component ? " for component '" : "",
					   component ? component : "", component ? "'" : "", from, to,
					   p->label ? p->label : "component");
			goto done;
		}
	}
	if (!any) {
		rc = adp_error_set(ADP_EINPUT, "prometheus: no query given: expected a PromQL expression for cpu, memory, io or net");
		goto done;
	}
	for (res = 0; res < ADP_RES_COUNT; res++)
		if ((rc = add_series(h, p, res, &a[res], o)))
			goto done;
done:
	for (res = 0; res < ADP_RES_COUNT; res++)
		accs_release(&a[res]);
	adp_http_release(&http);
	adp_buf_release(&body);
	if (token)
		explicit_bzero(token, strlen(token));
	free(token);
	if (password)
		explicit_bzero(password, strlen(password));
	free(password);
	free(endpoint);
	return rc;
}
