/* The schedule's sections beyond the window and its waves: "gates"
 * (what apply checks before the first step and before every wave),
 * "notify" (webhooks) and "events" (known surges the plan reserves
 * for). Only read and checked here; orchestrator/gates.c,
 * orchestrator/notify.c and partition/demand.c act on them. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history/history.h"
#include "partition/schedule.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/http.h"
#include "util/jsonutil.h"
#include "util/resource.h"

#define GATE_MAX_STRING 4096
#define GATE_DEFAULT_TIMEOUT 10

static void free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void schedule_gates_release(struct schedule_gates *g)
{
	struct schedule_alert_gate *a = &g->alerts;

	free(a->url);
	free_list(a->names, a->nnames);
	free_list(a->ignore, a->nignore);
	free_list(a->label_keys, a->nlabels);
	free_list(a->label_values, a->nlabels);
	free(a->bearer_token_file);
	free(a->ca_file);
	free(g->sentinel.file);
	free_list(g->sentinel.argv, g->sentinel.argc);
	memset(g, 0, sizeof(*g));
}

/* An optional string field, copied (NULL when absent). */
static int dup_string(const struct adp_json_doc *d, json_t *obj, const char *jpath, const char *key, int required,
		      char **out)
{
	const char *v = NULL;
	char sub[128];
	int rc;

	if ((rc = adp_json_string(d, obj, jpath, key, required, &v)) || !v)
		return rc;
	snprintf(sub, sizeof(sub), "%s.%s", jpath, key);
	if (!*v || strlen(v) > GATE_MAX_STRING)
		return adp_json_fail(d, sub, "expected a non-empty string of at most %d bytes", GATE_MAX_STRING);
	if (!(*out = strdup(v)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}

/* A list of strings (at most SCHEDULE_MAX_GATE_LIST); with ere set each
 * must compile as a POSIX extended regular expression, so a typo is an
 * error here rather than a gate that never matches. */
static int read_list(const struct adp_json_doc *d, json_t *obj, const char *jpath, const char *key, int ere,
		     char ***out, size_t *n)
{
	json_t *list = json_object_get(obj, key), *v;
	char sub[128];
	size_t i;

	if (!list)
		return 0;
	snprintf(sub, sizeof(sub), "%s.%s", jpath, key);
	if (!json_is_array(list) || json_array_size(list) > SCHEDULE_MAX_GATE_LIST)
		return adp_json_fail(d, sub, "expected an array of at most %d strings", SCHEDULE_MAX_GATE_LIST);
	if (!(*out = calloc(json_array_size(list) + 1, sizeof(char *))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_array_foreach(list, i, v) {
		regex_t re;
		int err;

		snprintf(sub, sizeof(sub), "%s.%s[%zu]", jpath, key, i);
		if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > GATE_MAX_STRING)
			return adp_json_fail(d, sub, "expected a non-empty string of at most %d bytes", GATE_MAX_STRING);
		if (ere && (err = regcomp(&re, json_string_value(v), REG_EXTENDED | REG_NOSUB))) {
			char why[128];

			regerror(err, &re, why, sizeof(why));
			return adp_json_fail(d, sub, "'%s' is not an extended regular expression: %s",
					     json_string_value(v), why);
		}
		if (ere)
			regfree(&re);
		if (!((*out)[i] = strdup(json_string_value(v))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		*n = i + 1;
	}
	return 0;
}

/* {"prometheus": URL, "names": [ERE], "ignore": [ERE], "labels": {k: v},
 * "pending": bool, "bearer_token_file", "ca_file", "timeout"} */
static int read_alerts(const struct adp_json_doc *d, json_t *o, struct schedule_alert_gate *a)
{
	static const char *const keys[] = { "prometheus", "names", "ignore", "labels", "pending",
					    "bearer_token_file", "ca_file", "timeout", NULL };
	const char *jp = "gates.alerts";
	json_t *labels, *pending, *v;
	const char *k;
	size_t i = 0;
	int rc;

	if (!json_is_object(o))
		return adp_json_fail(d, jp, "expected an object with prometheus (a URL) and the alerts that block");
	a->timeout = GATE_DEFAULT_TIMEOUT;
	if ((rc = adp_json_check_keys(d, o, jp, keys)) || (rc = dup_string(d, o, jp, "prometheus", 1, &a->url)) ||
	    (rc = read_list(d, o, jp, "names", 1, &a->names, &a->nnames)) ||
	    (rc = read_list(d, o, jp, "ignore", 1, &a->ignore, &a->nignore)) ||
	    (rc = dup_string(d, o, jp, "bearer_token_file", 0, &a->bearer_token_file)) ||
	    (rc = dup_string(d, o, jp, "ca_file", 0, &a->ca_file)) ||
	    (rc = adp_json_duration(d, o, jp, "timeout", 0, &a->timeout)))
		return rc;
	if (strncmp(a->url, "http://", 7) && strncmp(a->url, "https://", 8))
		return adp_json_fail(d, "gates.alerts.prometheus", "expected an http:// or https:// URL");
	if (a->timeout < 1 || a->timeout > 300)
		return adp_json_fail(d, "gates.alerts.timeout", "expected a duration from 1s to 5m");
	if ((pending = json_object_get(o, "pending"))) {
		if (!json_is_boolean(pending))
			return adp_json_fail(d, "gates.alerts.pending", "expected true or false");
		a->pending = json_is_true(pending);
	}
	if (!(labels = json_object_get(o, "labels")))
		return 0;
	if (!json_is_object(labels) || json_object_size(labels) > SCHEDULE_MAX_GATE_LIST)
		return adp_json_fail(d, "gates.alerts.labels", "expected an object of at most %d label: value strings",
				     SCHEDULE_MAX_GATE_LIST);
	if (!(a->label_keys = calloc(json_object_size(labels) + 1, sizeof(char *))) ||
	    !(a->label_values = calloc(json_object_size(labels) + 1, sizeof(char *))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_object_foreach(labels, k, v) {
		char sub[128];

		snprintf(sub, sizeof(sub), "gates.alerts.labels.%s", k);
		if (!json_is_string(v) || json_string_length(v) > GATE_MAX_STRING)
			return adp_json_fail(d, sub, "expected a string (the label's value)");
		if (!(a->label_keys[i] = strdup(k)) || !(a->label_values[i] = strdup(json_string_value(v))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		a->nlabels = ++i;
	}
	return 0;
}

/* {"file": PATH} or {"command": [argv], "timeout": D}; "{partition}"
 * in the path or an argument is replaced by the partition's name. */
static int read_sentinel(const struct adp_json_doc *d, json_t *o, struct schedule_sentinel *s)
{
	static const char *const keys[] = { "file", "command", "timeout", NULL };
	int rc;

	if (!json_is_object(o))
		return adp_json_fail(d, "gates.sentinel", "expected an object with a file or a command");
	s->timeout = GATE_DEFAULT_TIMEOUT;
	if ((rc = adp_json_check_keys(d, o, "gates.sentinel", keys)) ||
	    (rc = dup_string(d, o, "gates.sentinel", "file", 0, &s->file)) ||
	    (rc = read_list(d, o, "gates.sentinel", "command", 0, &s->argv, &s->argc)) ||
	    (rc = adp_json_duration(d, o, "gates.sentinel", "timeout", 0, &s->timeout)))
		return rc;
	if (!s->file == !s->argc)
		return adp_json_fail(d, "gates.sentinel", "expected either file or command (a non-empty array)");
	if (s->file && s->file[0] != '/')
		return adp_json_fail(d, "gates.sentinel.file", "expected an absolute path");
	if (s->timeout < 1 || s->timeout > 600)
		return adp_json_fail(d, "gates.sentinel.timeout", "expected a duration from 1s to 10m");
	return 0;
}

int schedule_read_gates(const struct adp_json_doc *d, json_t *g, struct schedule_gates *out)
{
	static const char *const keys[] = { "alerts", "sentinel", NULL };
	json_t *v;
	int rc;

	if (!g)
		return 0;
	if (!json_is_object(g))
		return adp_json_fail(d, "gates", "expected an object with alerts and/or sentinel");
	if ((rc = adp_json_check_keys(d, g, "gates", keys)))
		return rc;
	if ((v = json_object_get(g, "alerts")) && (rc = read_alerts(d, v, &out->alerts)))
		return rc;
	if ((v = json_object_get(g, "sentinel")) && (rc = read_sentinel(d, v, &out->sentinel)))
		return rc;
	return 0;
}

const char *const schedule_event_names[SCHEDULE_NEVENTS] = {
	"plan_written", "apply_started", "wave", "deviation", "rollback", "blocked", "outcome",
};

void schedule_notify_release(struct schedule_notify *n)
{
	size_t i;

	for (i = 0; i < n->nwebhooks; i++) {
		free(n->webhooks[i].url);
		free(n->webhooks[i].secret_file);
		free(n->webhooks[i].ca_file);
	}
	free(n->webhooks);
	memset(n, 0, sizeof(*n));
}

/* {"url", "secret_file", "ca_file", "events": [...], "timeout", "retries"} */
static int read_webhook(const struct adp_json_doc *d, json_t *o, const char *jp, struct schedule_webhook *w)
{
	static const char *const keys[] = { "url", "secret_file", "ca_file", "events", "timeout", "retries", NULL };
	json_t *events, *v;
	char sub[128];
	double retries = 3;
	size_t i;
	int rc, e;

	if (!json_is_object(o))
		return adp_json_fail(d, jp, "expected an object with url (and secret_file, events, timeout, retries)");
	w->timeout = 5;
	if ((rc = adp_json_check_keys(d, o, jp, keys)) || (rc = dup_string(d, o, jp, "url", 1, &w->url)) ||
	    (rc = dup_string(d, o, jp, "secret_file", 0, &w->secret_file)) ||
	    (rc = dup_string(d, o, jp, "ca_file", 0, &w->ca_file)) ||
	    (rc = adp_json_duration(d, o, jp, "timeout", 0, &w->timeout)) ||
	    (rc = adp_json_number(d, o, jp, "retries", 0, 0, 10, &retries)))
		return rc;
	w->retries = (int)retries;
	snprintf(sub, sizeof(sub), "%s.url", jp);
	if (strncmp(w->url, "http://", 7) && strncmp(w->url, "https://", 8))
		return adp_json_fail(d, sub, "expected an http:// or https:// URL");
	snprintf(sub, sizeof(sub), "%s.timeout", jp);
	if (w->timeout < 1 || w->timeout > 60)
		return adp_json_fail(d, sub, "expected a duration from 1s to 1m");
	if (!(events = json_object_get(o, "events")))
		return 0;
	snprintf(sub, sizeof(sub), "%s.events", jp);
	if (!json_is_array(events) || !json_array_size(events))
		return adp_json_fail(d, sub, "expected a non-empty array of event names");
	json_array_foreach(events, i, v) {
		snprintf(sub, sizeof(sub), "%s.events[%zu]", jp, i);
		for (e = 0; e < SCHEDULE_NEVENTS; e++)
			if (json_is_string(v) && !strcmp(json_string_value(v), schedule_event_names[e]))
				break;
		if (e == SCHEDULE_NEVENTS)
			return adp_json_fail(d, sub, "expected one of plan_written, apply_started, wave, deviation, "
					     "rollback, blocked, outcome");
		w->events |= 1u << e;
	}
	return 0;
}

int schedule_read_notify(const struct adp_json_doc *d, json_t *n, struct schedule_notify *out)
{
	static const char *const keys[] = { "webhooks", NULL };
	json_t *list, *v;
	size_t i;
	int rc;

	if (!n)
		return 0;
	if (!json_is_object(n))
		return adp_json_fail(d, "notify", "expected an object with webhooks");
	if ((rc = adp_json_check_keys(d, n, "notify", keys)))
		return rc;
	list = json_object_get(n, "webhooks");
	if (!json_is_array(list) || !json_array_size(list) || json_array_size(list) > SCHEDULE_MAX_WEBHOOKS)
		return adp_json_fail(d, list ? "notify.webhooks" : "notify", "expected an array of 1 to %d webhooks",
				     SCHEDULE_MAX_WEBHOOKS);
	if (!(out->webhooks = calloc(json_array_size(list), sizeof(*out->webhooks))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_array_foreach(list, i, v) {
		char jp[64];

		snprintf(jp, sizeof(jp), "notify.webhooks[%zu]", i);
		out->nwebhooks = i + 1;
		if ((rc = read_webhook(d, v, jp, &out->webhooks[i])))
			return rc;
	}
	return 0;
}

void schedule_events_release(struct schedule *s)
{
	size_t i;

	for (i = 0; i < s->nevents; i++) {
		free_list(s->events[i].components, s->events[i].ncomponents);
		free(s->events[i].reason);
	}
	free(s->events);
	s->events = NULL;
	s->nevents = 0;
}

/* "multiplier": a number for every resource, or {resource: number};
 * "add": {resource: quantity}. */
static int read_change(const struct adp_json_doc *d, json_t *o, const char *jp, struct schedule_load_event *e)
{
	json_t *m = json_object_get(o, "multiplier"), *a = json_object_get(o, "add"), *v;
	const char *k;
	char sub[160];
	int r, rc;

	for (r = 0; r < ADP_RES_COUNT; r++)
		e->mult[r] = 1;
	if (!m && !a)
		return adp_json_fail(d, jp, "expected a multiplier, an add, or both");
	if (json_is_number(m)) {
		double x = json_number_value(m);

		snprintf(sub, sizeof(sub), "%s.multiplier", jp);
		if (!(x > 0 && x <= 100))
			return adp_json_fail(d, sub, "expected a factor above 0 and at most 100");
		for (r = 0; r < ADP_RES_COUNT; r++)
			e->mult[r] = x;
	} else if (m) {
		snprintf(sub, sizeof(sub), "%s.multiplier", jp);
		if (!json_is_object(m))
			return adp_json_fail(d, sub, "expected a factor, or one per resource ({\"cpu\": 2})");
		json_object_foreach(m, k, v) {
			snprintf(sub, sizeof(sub), "%s.multiplier.%s", jp, k);
			if ((r = adp_resource_parse(k)) < 0)
				return adp_json_fail(d, sub, "unknown resource: expected cpu, memory, io or net");
			if (!json_is_number(v) || !(json_number_value(v) > 0 && json_number_value(v) <= 100))
				return adp_json_fail(d, sub, "expected a factor above 0 and at most 100");
			e->mult[r] = json_number_value(v);
		}
	}
	if (a) {
		snprintf(sub, sizeof(sub), "%s.add", jp);
		if (!json_is_object(a))
			return adp_json_fail(d, sub, "expected an amount per resource ({\"memory\": \"2GiB\"})");
		json_object_foreach(a, k, v) {
			snprintf(sub, sizeof(sub), "%s.add.%s", jp, k);
			if ((r = adp_resource_parse(k)) < 0)
				return adp_json_fail(d, sub, "unknown resource: expected cpu, memory, io or net");
			snprintf(sub, sizeof(sub), "%s.add", jp);
			if ((rc = adp_json_quantity(d, a, sub, k, 1, &e->add[r])))
				return rc;
		}
	}
	return 0;
}

#define EVENTS_URL_MAX_BYTES ((size_t)1 << 20)
#define EVENTS_URL_TIMEOUT 10     /* seconds, by default */
#define EVENTS_URL_TIMEOUT_MAX 120
#define EVENTS_SECRET_MAX 4096

static int read_event_list(const struct adp_json_doc *d, json_t *list, struct schedule *s,
			   const struct inventory *inv);

/* "events": {"url", "ca_file", "bearer_token_file", "timeout"}: the list
 * is fetched when the schedule is read (by plan, validate, simulate),
 * from a document {"events": [...]} of the same form as the schedule's
 * own, whose errors name the URL (redacted) and the line. */
static int fetch_events(const struct adp_json_doc *d, json_t *o, struct schedule *s, const struct inventory *inv,
			int fetch)
{
	static const char *const keys[] = { "url", "ca_file", "bearer_token_file", "timeout", NULL };
	const char *url = json_string_value(json_object_get(o, "url"));
	const char *ca = json_string_value(json_object_get(o, "ca_file"));
	const char *tokf = json_string_value(json_object_get(o, "bearer_token_file"));
	struct adp_http_opts ho = { .what = "events" };
	struct adp_http_req r = { 0 };
	struct adp_http_res res = { 0 };
	struct adp_http http = { 0 };
	struct adp_buf body = { 0 };
	struct adp_json_doc fd = { 0 };
	char shown[512], *token = NULL, *text = NULL;
	int64_t timeout = EVENTS_URL_TIMEOUT;
	int rc;

	if ((rc = adp_json_check_keys(d, o, "events", keys)))
		return rc;
	if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)))
		return adp_json_fail(d, "events.url", "expected an http:// or https:// URL of a document {\"events\": [...]}");
	if ((json_object_get(o, "ca_file") && !ca) || (json_object_get(o, "bearer_token_file") && !tokf))
		return adp_json_fail(d, "events", "ca_file and bearer_token_file are file names");
	if ((rc = adp_json_duration(d, o, "events", "timeout", 0, &timeout)))
		return rc;
	if (timeout < 1 || timeout > EVENTS_URL_TIMEOUT_MAX)
		return adp_json_fail(d, "events.timeout", "expected a timeout from 1s to %ds", EVENTS_URL_TIMEOUT_MAX);
	if (!fetch)
		return 0;
	adp_url_redact(shown, sizeof(shown), url);
	if (tokf && (rc = adp_read_secret(&token, tokf, EVENTS_SECRET_MAX, "the events' bearer token file")))
		return rc;
	ho.timeout = (long)timeout;
	ho.connect_timeout = (long)timeout;
	ho.ca_file = ca;
	adp_http_global_init();
	if ((rc = adp_http_init(&http, &ho)))
		goto done;
	r.url = url;
	r.bearer = token;
	r.max_bytes = EVENTS_URL_MAX_BYTES;
	r.retries = 2;
	if ((rc = adp_http_request(&http, &r, &body, &res)))
		goto done;
	if (res.status != 200) {
		rc = adp_error_set(ADP_EINPUT, "%s: events: '%s' answered HTTP %ld", d->path, shown, res.status);
		goto done;
	}
	if (!(text = strndup(body.data ? body.data : "", body.len))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	if (strlen(text) != body.len) {
		rc = adp_error_set(ADP_EINPUT, "%s: events: '%s' answered with a NUL byte, not JSON", d->path, shown);
		goto done;
	}
	if ((rc = adp_json_load_text(&fd, shown, text)))
		goto done;
	if (!json_is_object(fd.root) || !json_object_get(fd.root, "events")) {
		rc = adp_error_set(ADP_EINPUT, "%s: events: '%s' answered without an object {\"events\": [...]}", d->path,
				   shown);
		goto done;
	}
	rc = read_event_list(&fd, json_object_get(fd.root, "events"), s, inv);
done:
	adp_json_release(&fd);
	free(text);
	adp_buf_release(&body);
	adp_http_release(&http);
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	return rc;
}

int schedule_read_events(const struct adp_json_doc *d, json_t *list, struct schedule *s, const struct inventory *inv,
			 int fetch)
{
	if (json_is_object(list))
		return fetch_events(d, list, s, inv, fetch);
	return read_event_list(d, list, s, inv);
}

static int read_event_list(const struct adp_json_doc *d, json_t *list, struct schedule *s,
			   const struct inventory *inv)
{
	static const char *const keys[] = { "start", "end", "components", "multiplier", "add", "reason", NULL };
	json_t *v;
	size_t i, j;
	int rc;

	if (!list)
		return 0;
	if (!json_is_array(list) || json_array_size(list) > SCHEDULE_MAX_EVENTS)
		return adp_json_fail(d, "events", "expected an array of at most %d events, or an object with a url",
				     SCHEDULE_MAX_EVENTS);
	if (!(s->events = calloc(json_array_size(list) + 1, sizeof(*s->events))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_array_foreach(list, i, v) {
		struct schedule_load_event *e = &s->events[i];
		char jp[32];

		s->nevents = i + 1;
		snprintf(jp, sizeof(jp), "events[%zu]", i);
		if (!json_is_object(v))
			return adp_json_fail(d, jp, "expected an object with start, end and a multiplier or an add");
		if ((rc = adp_json_check_keys(d, v, jp, keys)) ||
		    (rc = adp_json_time(d, v, jp, "start", 1, s->timezone, &e->start)) ||
		    (rc = adp_json_time(d, v, jp, "end", 1, s->timezone, &e->end)) ||
		    (rc = dup_string(d, v, jp, "reason", 0, &e->reason)) || (rc = read_change(d, v, jp, e)) ||
		    (rc = read_list(d, v, jp, "components", 0, &e->components, &e->ncomponents)))
			return rc;
		if (e->end <= e->start)
			return adp_json_fail(d, jp, "an event must end after it starts");
		for (j = 0; j < e->ncomponents; j++) {
			char sub[128];

			snprintf(sub, sizeof(sub), "%s.components[%zu]", jp, j);
			if (!history_name_valid(e->components[j]))
				return adp_json_fail(d, sub, "expected a component name");
			if (inv && inventory_component_index(inv, e->components[j]) < 0)
				return adp_json_fail(d, sub, "component '%s' is not in the inventory", e->components[j]);
		}
	}
	return 0;
}
