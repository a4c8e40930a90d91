#include "history/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history/archive.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/parallel.h"
#include "util/timeutil.h"

void history_source_release(struct history_source *s)
{
	int r;

	if (!s)
		return;
	free(s->path);
	free((char *)s->member);
	free((char *)s->map.delimiter);
	free((char *)s->map.time_column);
	free((char *)s->map.time_format);
	free((char *)s->map.timezone);
	for (r = 0; r < ADP_RES_COUNT; r++)
		free((char *)s->map.res[r].column);
	if (s->prom) {
		free((char *)s->prom->url);
		free((char *)s->prom->label);
		free((char *)s->prom->bearer_token_file);
		free((char *)s->prom->username);
		free((char *)s->prom->password_file);
		free((char *)s->prom->ca_file);
		for (r = 0; r < ADP_RES_COUNT; r++)
			free((char *)s->prom->query[r]);
		free(s->prom);
	}
	memset(s, 0, sizeof(*s));
}

/* Copies an optional string field into *out: as it is, or as a path
 * resolved against the document's directory. */
static int dup_str(const struct adp_json_doc *d, json_t *obj, const char *jpath, const char *key, int is_path,
		   const char **out)
{
	const char *s = NULL;
	int rc = adp_json_string(d, obj, jpath, key, 0, &s);

	if (rc || !s)
		return rc;
	if (!(*out = is_path ? adp_path_relative_to(d->path, s) : strdup(s)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}

/* A column: its header name, or its 1-based position as a number or a
 * string of digits (kept as digits, which the reader takes as a
 * position). Absent: 0 and *out untouched. */
static int dup_column(const struct adp_json_doc *d, json_t *obj, const char *jpath, const char *key,
		      const char **out)
{
	json_t *v = json_object_get(obj, key);
	char sub[600], num[32];

	if (!json_is_integer(v))
		return dup_str(d, obj, jpath, key, 0, out);
	snprintf(sub, sizeof(sub), "%s.%s", jpath, key);
	if (json_integer_value(v) < 1 || json_integer_value(v) > 100000)
		return adp_json_fail(d, sub, "a column position counts from 1 (at most 100000)");
	snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
	if (!(*out = strdup(num)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}

static int read_duration(const struct adp_json_doc *d, json_t *obj, const char *jpath,
			 const char *key, int64_t *out)
{
	const char *s = NULL;
	char sub[600]; /* JSON paths name fields in messages only: one cut shortens a message */
	int rc = adp_json_string(d, obj, jpath, key, 0, &s);

	if (rc || !s)
		return rc;
	snprintf(sub, sizeof(sub), "%s.%s", jpath, key);
	if (adp_duration_parse(out, s) || *out <= 0)
		return adp_json_fail(d, sub, "'%s' is not a duration: expected e.g. \"30s\", \"5m\", \"30d\"", s);
	return 0;
}

/* {"format": "prometheus", "query": {"url": ..., "cpu": PromQL, ...}} */
static int read_prom_spec(const struct adp_json_doc *d, json_t *obj, const char *jpath,
			  struct history_source *h)
{
	static const char *const keys[] = { "format", "query", NULL };
	static const char *const qkeys[] = { "url", "cpu", "memory", "io", "net", "label", "range",
					     "step", "bearer_token_file", "username", "password_file",
					     "ca_file", "timeout", "retries", NULL };
	struct history_prom_opts *p;
	json_t *q = json_object_get(obj, "query");
	char sub[600]; /* for messages only, as in read_duration */
	double retries = 0;
	int rc, r, any = 0;

	if ((rc = adp_json_check_keys(d, obj, jpath, keys)))
		return rc;
	snprintf(sub, sizeof(sub), "%s.query", jpath);
	if (!json_is_object(q))
		return adp_json_fail(d, q ? sub : jpath,
				     "expected \"query\": {\"url\": ..., \"cpu\": PromQL, \"memory\": PromQL}");
	if (!(p = h->prom = calloc(1, sizeof(*p))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if ((rc = adp_json_check_keys(d, q, sub, qkeys)) ||
	    (rc = dup_str(d, q, sub, "url", 0, &p->url)) ||
	    (rc = dup_str(d, q, sub, "label", 0, &p->label)) ||
	    (rc = dup_str(d, q, sub, "bearer_token_file", 1, &p->bearer_token_file)) ||
	    (rc = dup_str(d, q, sub, "username", 0, &p->username)) ||
	    (rc = dup_str(d, q, sub, "password_file", 1, &p->password_file)) ||
	    (rc = dup_str(d, q, sub, "ca_file", 1, &p->ca_file)) ||
	    (rc = read_duration(d, q, sub, "range", &p->range)) ||
	    (rc = read_duration(d, q, sub, "step", &p->step)) ||
	    (rc = read_duration(d, q, sub, "timeout", &p->timeout)) ||
	    (rc = adp_json_number(d, q, sub, "retries", 0, 0, HISTORY_PROM_MAX_RETRIES, &retries)))
		return rc;
	p->retries = retries == 0 ? -1 : (int)retries;
	if (!json_object_get(q, "retries"))
		p->retries = 0;
	if (!p->url)
		return adp_json_fail(d, sub, "missing required field 'url'");
	if (strncmp(p->url, "http://", 7) && strncmp(p->url, "https://", 8)) {
		char upath[640];
		snprintf(upath, sizeof(upath), "%s.url", sub);
		return adp_json_fail(d, upath, "'%s' is not an http:// or https:// URL", p->url);
	}
	if (p->username && !p->password_file)
		return adp_json_fail(d, sub, "username needs password_file");
	if (p->username && p->bearer_token_file)
		return adp_json_fail(d, sub, "give bearer_token_file or username, not both");
	for (r = 0; r < ADP_RES_COUNT; r++) {
		if ((rc = dup_str(d, q, sub, adp_resource_name(r), 0, &p->query[r])))
			return rc;
		any |= p->query[r] != NULL;
	}
	if (!any)
		return adp_json_fail(d, sub, "names no query: expected PromQL for at least one of cpu, memory, io, net");
	h->format = HISTORY_SOURCE_PROMETHEUS;
	return 0;
}

int history_source_parse(struct history_source *h, const struct adp_json_doc *d, json_t *obj,
			 const char *jpath)
{
	static const char *const keys[] = { "file", "format", "delimiter", "time_column",
					    "time_format", "timezone", "columns", "member", NULL };
	static const char *const colkeys[] = { "column", "scale", "offset", NULL };
	const char *file = NULL, *format = "columns";
	char sub[512]; /* for messages only, as in read_duration */
	json_t *cols;
	int rc, r, any = 0;

	if (!json_is_object(obj))
		return adp_json_fail(d, jpath, "expected an object naming the history file");
	if (json_is_string(json_object_get(obj, "format")) &&
	    !strcmp(json_string_value(json_object_get(obj, "format")), "prometheus"))
		return read_prom_spec(d, obj, jpath, h);
	if ((rc = adp_json_check_keys(d, obj, jpath, keys)) ||
	    (rc = adp_json_string(d, obj, jpath, "file", 1, &file)) ||
	    (rc = adp_json_string(d, obj, jpath, "format", 0, &format)))
		return rc;
	if (!strcmp(format, "long"))
		h->format = HISTORY_SOURCE_LONG;
	else if (!strcmp(format, "columns"))
		h->format = HISTORY_SOURCE_COLUMNS;
	else {
		snprintf(sub, sizeof(sub), "%s.format", jpath);
		return adp_json_fail(d, sub, "unknown format '%s': expected \"long\", \"columns\" or \"prometheus\"", format);
	}
	if (!(h->path = adp_path_relative_to(d->path, file)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if ((rc = dup_str(d, obj, jpath, "delimiter", 0, &h->map.delimiter)) ||
	    (rc = dup_str(d, obj, jpath, "member", 0, &h->member)) ||
	    (rc = dup_column(d, obj, jpath, "time_column", &h->map.time_column)) ||
	    (rc = dup_str(d, obj, jpath, "time_format", 0, &h->map.time_format)) ||
	    (rc = dup_str(d, obj, jpath, "timezone", 0, &h->map.timezone)))
		return rc;
	if (h->map.timezone && !adp_tz_valid(h->map.timezone)) {
		snprintf(sub, sizeof(sub), "%s.timezone", jpath);
		return adp_json_fail(d, sub, "unknown time zone '%s': expected an IANA name such as \"Europe/Berlin\"",
				     h->map.timezone);
	}
	cols = json_object_get(obj, "columns");
	if (h->format == HISTORY_SOURCE_LONG) {
		if (cols) {
			snprintf(sub, sizeof(sub), "%s.columns", jpath);
			return adp_json_fail(d, sub, "a long-format file names its columns itself; remove this field");
		}
		return 0;
	}
	snprintf(sub, sizeof(sub), "%s.columns", jpath);
	if (!json_is_object(cols))
		return adp_json_fail(d, json_object_get(obj, "columns") ? sub : jpath,
				     "expected \"columns\": {\"cpu\": {\"column\": ..., \"scale\": ...}, ...}");
	{
		static const char *const reskeys[] = { "cpu", "memory", "io", "net", NULL };
		if ((rc = adp_json_check_keys(d, cols, sub, reskeys)))
			return rc;
	}
	for (r = 0; r < ADP_RES_COUNT; r++) {
		json_t *c = json_object_get(cols, adp_resource_name(r));
		char cpath[600];
		double scale = 1, offset = 0;

		if (!c)
			continue;
		snprintf(cpath, sizeof(cpath), "%s.%s", sub, adp_resource_name(r));
		if (json_is_string(c) || json_is_integer(c)) {
			if ((rc = dup_column(d, cols, sub, adp_resource_name(r), &h->map.res[r].column)))
				return rc;
		} else if (json_is_object(c)) {
			if ((rc = adp_json_check_keys(d, c, cpath, colkeys)) ||
			    (rc = dup_column(d, c, cpath, "column", &h->map.res[r].column)) ||
			    (rc = adp_json_number(d, c, cpath, "scale", 0, 0, 1e15, &scale)) ||
			    (rc = adp_json_quantity(d, c, cpath, "offset", 0, &offset)))
				return rc;
			if (!h->map.res[r].column)
				return adp_json_fail(d, cpath, "missing required field 'column'");
		} else {
			return adp_json_fail(d, cpath, "expected a column name, a position from 1, or {\"column\": ..., \"scale\": ...}");
		}
		h->map.res[r].scale = scale;
		h->map.res[r].offset = offset;
		any = 1;
	}
	if (!any)
		return adp_json_fail(d, sub, "names no resource: expected at least one of cpu, memory, io, net");
	return 0;
}

int history_files_add(char ***files, size_t *nfiles, const char *path)
{
	char **grown;
	size_t i;

	for (i = 0; i < *nfiles; i++)
		if (!strcmp((*files)[i], path))
			return 0;
	if (!(grown = realloc(*files, (*nfiles + 1) * sizeof(*grown))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	*files = grown;
	if (!(grown[*nfiles] = strdup(path)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	(*nfiles)++;
	return 0;
}

int history_has_component(const struct history *h, const char *component)
{
	int r;

	for (r = 0; r < ADP_RES_COUNT; r++)
		if (history_find(h, component, r))
			return 1;
	return 0;
}

int history_source_read(struct history *h, const struct history_source *s, const char *component,
			const struct history_opts *o, char ***files, size_t *nfiles)
{
	size_t f;
	int rc, seen = 0;

	switch (s->format) {
	case HISTORY_SOURCE_NONE:
		return 0;
	case HISTORY_SOURCE_PROMETHEUS:
		if ((rc = history_prom_read(h, s->prom, component, o)))
			return adp_error_wrap(rc, "component '%s'", component);
		return 0;
	case HISTORY_SOURCE_LONG:
		/* One long file may serve several components: read it once. */
		for (f = 0; f < *nfiles; f++)
			seen |= !strcmp((*files)[f], s->path);
		if (seen)
			return 0;
		if ((rc = s->member ? history_archive_read(h, s->path, s->member, NULL, NULL, o, NULL, NULL)
				    : history_add_file(h, s->path, o)) ||
		    (rc = history_files_add(files, nfiles, s->path)))
			return rc;
		return 0;
	default:
		if ((rc = s->member ? history_archive_read(h, s->path, s->member, component, &s->map, o,
							   NULL, NULL)
				    : history_add_mapped_csv(h, s->path, component, &s->map, o)) ||
		    (rc = history_files_add(files, nfiles, s->path)))
			return adp_error_wrap(rc ? rc : ADP_EINPUT, "component '%s'", component);
		return 0;
	}
}

/* One component's file, read on its own into part. */
struct read_job {
	const struct history_source *const *src;
	const char *const *component;
	const struct history_opts *o;
	size_t *todo;           /* indices of the components to read */
	struct history *part;   /* one per entry of todo */
	unsigned char *ok;      /* whether part[k] was read */
};

static int read_one(void *ctx, size_t k)
{
	struct read_job *j = ctx;
	size_t i = j->todo[k];
	int rc;

	if ((rc = history_add_mapped_csv(&j->part[k], j->src[i]->path, j->component[i], &j->src[i]->map, j->o)))
		return adp_error_wrap(rc, "component '%s'", j->component[i]);
	j->ok[k] = 1;
	return 0;
}

int history_sources_read(struct history *h, const struct history_source *const *src,
			 const char *const *component, size_t n, const struct history_opts *o,
			 size_t threads, char ***files, size_t *nfiles)
{
	struct read_job j = { .src = src, .component = component, .o = o };
	size_t i, k, ntodo = 0, nt;
	int rc = 0, plain = 1;

	if (!(j.todo = malloc((n ? n : 1) * sizeof(*j.todo))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	/* A plain file in columns adds its own component only, so which
	 * components are already held is known before any is read. */
	for (i = 0; i < n && plain; i++)
		if (src[i]->format != HISTORY_SOURCE_NONE && !history_has_component(h, component[i])) {
			plain = src[i]->format == HISTORY_SOURCE_COLUMNS && !src[i]->member;
			j.todo[ntodo++] = i;
		}
	nt = adp_threads(threads, ntodo, 4);
	if (!plain || nt < 2) {
		free(j.todo);
		for (i = 0; i < n; i++) {
			if (history_has_component(h, component[i]))
				continue;
			if ((rc = history_source_read(h, src[i], component[i], o, files, nfiles)))
				return rc;
		}
		return 0;
	}
	j.part = calloc(ntodo, sizeof(*j.part));
	j.ok = calloc(ntodo, sizeof(*j.ok));
	if (!j.part || !j.ok) {
		free(j.part);
		free(j.ok);
		free(j.todo);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	rc = adp_parallel(ntodo, nt, read_one, NULL, &j);
	/* In order, up to the first that failed (whose error is set): every
	 * one before it was read, as items start in order. */
	for (k = 0; k < ntodo && j.ok[k]; k++) {
		int arc;

		if ((arc = history_adopt(h, &j.part[k])) ||
		    (arc = history_files_add(files, nfiles, src[j.todo[k]]->path))) {
			rc = adp_error_wrap(arc, "component '%s'", component[j.todo[k]]);
			break;
		}
	}
	for (k = 0; k < ntodo; k++)
		history_release(&j.part[k]);
	free(j.part);
	free(j.ok);
	free(j.todo);
	return rc;
}
