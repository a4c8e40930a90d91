#include "util/jsonutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/gz.h"
#include "util/timeutil.h"

int adp_json_load_text(struct adp_json_doc *d, const char *name, const char *text)
{
	json_error_t err;

	memset(d, 0, sizeof(*d));
	d->path = strdup(name);
	d->text = strdup(text);
	if (!d->path || !d->text) {
		adp_json_release(d);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	d->root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
	if (!d->root) {
		int rc = adp_error_set(ADP_EINPUT, "%s:%d:%d: malformed JSON: %s", name,
				       err.line, err.column, err.text);
		adp_json_release(d);
		return rc;
	}
	if (!json_is_object(d->root)) {
		adp_json_release(d);
		return adp_error_set(ADP_EINPUT, "%s:1: expected a JSON object at the top level", name);
	}
	return 0;
}

int adp_json_load(struct adp_json_doc *d, const char *path)
{
	char *text;
	int rc;

	memset(d, 0, sizeof(*d));
	if ((rc = adp_read_text(&text, NULL, path, ADP_JSON_MAX_BYTES)))
		return rc;
	rc = adp_json_load_text(d, path, text);
	free(text);
	return rc;
}

void adp_json_release(struct adp_json_doc *d)
{
	if (!d)
		return;
	json_decref(d->root);
	free(d->text);
	free(d->path);
	memset(d, 0, sizeof(*d));
}

/* A small scanner over the raw text that tracks the JSON path of each
 * value; jansson keeps no positions for values, only for syntax errors. */
struct scan {
	const char *p;
	int line;
	const char *want;
	int found;
	struct adp_buf path;
};

static void skip_ws(struct scan *s)
{
	while (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r') {
		if (*s->p == '\n')
			s->line++;
		s->p++;
	}
}

static int scan_string(struct scan *s, struct adp_buf *out)
{
	if (*s->p != '"')
		return -1;
	s->p++;
	while (*s->p && *s->p != '"') {
		if (*s->p == '\\' && s->p[1])
			s->p++;
		if (out && adp_buf_add(out, s->p, 1))
			return -1;
		s->p++;
	}
	if (*s->p != '"')
		return -1;
	s->p++;
	return 0;
}

static int scan_value(struct scan *s, int depth)
{
	size_t base;

	skip_ws(s);
	if (!s->found && !strcmp(adp_buf_str(&s->path), s->want)) {
		s->found = s->line;
		return 1;
	}
	if (depth > 64)
		return -1;
	base = s->path.len;
	if (*s->p == '{') {
		s->p++;
		skip_ws(s);
		while (*s->p && *s->p != '}') {
			struct adp_buf key = ADP_BUF_INIT;
			int rc;

			if (scan_string(s, &key)) {
				adp_buf_release(&key);
				return -1;
			}
			if (base && adp_buf_adds(&s->path, "."))
				return -1;
			adp_buf_adds(&s->path, adp_buf_str(&key));
			adp_buf_release(&key);
			skip_ws(s);
			if (*s->p++ != ':')
				return -1;
			if ((rc = scan_value(s, depth + 1)))
				return rc;
			s->path.len = base;
			s->path.data[base] = '\0';
			skip_ws(s);
			if (*s->p == ',') {
				s->p++;
				skip_ws(s);
			}
		}
		if (*s->p)
			s->p++;
		return 0;
	}
	if (*s->p == '[') {
		int i = 0, rc;

		s->p++;
		skip_ws(s);
		while (*s->p && *s->p != ']') {
			adp_buf_addf(&s->path, "[%d]", i++);
			if ((rc = scan_value(s, depth + 1)))
				return rc;
			s->path.len = base;
			s->path.data[base] = '\0';
			skip_ws(s);
			if (*s->p == ',')
				s->p++;
			skip_ws(s);
		}
		if (*s->p)
			s->p++;
		return 0;
	}
	if (*s->p == '"')
		return scan_string(s, NULL);
	{
		const char *start = s->p;

		while (*s->p && !strchr(",]} \t\r\n", *s->p))
			s->p++;
		/* Nothing consumed ("[}", "[,]"): not JSON, and the callers'
		 * loops would not move on. */
		return s->p == start ? -1 : 0;
	}
}

int adp_json_path_line(const char *text, const char *jpath)
{
	struct scan s = { text, 1, jpath, 0, ADP_BUF_INIT };

	adp_buf_adds(&s.path, "");
	scan_value(&s, 0);
	adp_buf_release(&s.path);
	return s.found;
}

int adp_json_fail(const struct adp_json_doc *d, const char *jpath, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int line = d->text ? adp_json_path_line(d->text, jpath) : 0;

	/* A message: cut past 1 KiB, the file, line and path stay in front. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		return adp_error_set(ADP_EINPUT, "%s:%d: %s: %s", d->path, line, jpath, msg);
	return adp_error_set(ADP_EINPUT, "%s: %s: %s", d->path, jpath, msg);
}

static char *field_path(const char *jpath, const char *key)
{
	char *out;

	if (asprintf(&out, "%s%s%s", jpath, *jpath ? "." : "", key) < 0)
		return NULL;
	return out;
}

int adp_json_check_keys(const struct adp_json_doc *d, json_t *obj, const char *jpath,
			const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		const char *const *a;
		for (a = allowed; *a; a++)
			if (!strcmp(*a, key))
				break;
		if (!*a) {
			struct adp_buf hint = ADP_BUF_INIT;
			char *fp = field_path(jpath, key);
			int rc;

			for (a = allowed; *a; a++)
				adp_buf_addf(&hint, "%s%s", a == allowed ? "" : ", ", *a);
			rc = adp_json_fail(d, fp ? fp : jpath, "unknown field; expected one of: %s",
					   adp_buf_str(&hint));
			free(fp);
			adp_buf_release(&hint);
			return rc;
		}
	}
	return 0;
}

/* Looks up key; returns 1 if present, 0 if absent (or fails if required). */
static int lookup(const struct adp_json_doc *d, json_t *obj, const char *jpath,
		  const char *key, int required, json_t **v, int *rc)
{
	*rc = 0;
	*v = json_object_get(obj, key);
	if (*v && !json_is_null(*v))
		return 1;
	if (required) {
		if (!*jpath)
			*rc = adp_error_set(ADP_EINPUT, "%s: missing required field '%s'", d->path, key);
		else
			*rc = adp_json_fail(d, jpath, "missing required field '%s'", key);
	}
	return 0;
}

/* A typed field: conv turns the present value v into *out (0), or says
 * what was expected into why (non-zero). Arguments beyond the type
 * (bounds, zone) come in arg. */
typedef int (*field_conv)(json_t *v, const void *arg, void *out, char *why, size_t len);

/* Reads a field through conv: the lookup and the error naming file, line
 * and field are shared by every type. *out is written only on success. */
static int field(const struct adp_json_doc *d, json_t *obj, const char *jpath, const char *key, int required,
		 field_conv conv, const void *arg, void *out)
{
	char why[256], *fp;
	json_t *v;
	int rc;

	if (!lookup(d, obj, jpath, key, required, &v, &rc))
		return rc;
	if (!conv(v, arg, out, why, sizeof(why)))
		return 0;
	fp = field_path(jpath, key);
	rc = adp_json_fail(d, fp ? fp : key, "%s", why);
	free(fp);
	return rc;
}

static int conv_string(json_t *v, const void *arg, void *out, char *why, size_t len)
{
	(void)arg;
	if (!json_is_string(v) || !*json_string_value(v))
		return snprintf(why, len, "expected a %sstring", json_is_string(v) ? "non-empty " : "");
	*(const char **)out = json_string_value(v);
	return 0;
}

struct range {
	double min, max;
};

static int conv_number(json_t *v, const void *arg, void *out, char *why, size_t len)
{
	const struct range *r = arg;
	double x = json_number_value(v);

	if (!json_is_number(v))
		return snprintf(why, len, "expected a number");
	if (!isfinite(x) || x < r->min || x > r->max)
		return snprintf(why, len, "%g is out of range: expected %g to %g", x, r->min, r->max);
	*(double *)out = x;
	return 0;
}

static int conv_quantity(json_t *v, const void *arg, void *out, char *why, size_t len)
{
	double x = json_number_value(v);

	(void)arg;
	if (json_is_number(v) && (!isfinite(x) || x < 0))
		return snprintf(why, len, "%g is out of range: expected a non-negative quantity", x);
	if (!json_is_number(v) && (!json_is_string(v) || adp_quantity_parse(&x, json_string_value(v))))
		return snprintf(why, len, "expected a non-negative number or a quantity such as \"16GiB\" or \"1Gbit/s\"");
	if (!(x <= ADP_QUANTITY_MAX))
		return snprintf(why, len, "%g is out of range: at most %g", x, ADP_QUANTITY_MAX);
	*(double *)out = x;
	return 0;
}

static int conv_duration(json_t *v, const void *arg, void *out, char *why, size_t len)
{
	int64_t x;

	(void)arg;
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		x = json_integer_value(v);
	else if (!json_is_string(v) || adp_duration_parse(&x, json_string_value(v)))
		return snprintf(why, len, "expected a duration such as \"40m\", \"1h30m\" or seconds");
	*(int64_t *)out = x;
	return 0;
}

static int conv_time(json_t *v, const void *arg, void *out, char *why, size_t len)
{
	int64_t x;

	if (json_is_string(v) && adp_time_parse(&x, json_string_value(v), arg) &&
	    adp_time_skipped(json_string_value(v), arg))
		return snprintf(why, len, "'%.40s' does not exist in %.60s: the clocks skip it (daylight saving "
				"time); give a time outside the gap or an explicit offset such as \"+01:00\"",
				json_string_value(v), (const char *)arg);
	if (!json_is_string(v) || adp_time_parse(&x, json_string_value(v), arg))
		return snprintf(why, len, "expected an RFC 3339 time such as \"2018-05-06T01:00:00Z\"");
	*(int64_t *)out = x;
	return 0;
}

int adp_json_string(const struct adp_json_doc *d, json_t *obj, const char *jpath,
		    const char *key, int required, const char **out)
{
	return field(d, obj, jpath, key, required, conv_string, NULL, out);
}

int adp_json_number(const struct adp_json_doc *d, json_t *obj, const char *jpath,
		    const char *key, int required, double min, double max, double *out)
{
	struct range r = { min, max };

	return field(d, obj, jpath, key, required, conv_number, &r, out);
}

int adp_json_quantity(const struct adp_json_doc *d, json_t *obj, const char *jpath,
		      const char *key, int required, double *out)
{
	return field(d, obj, jpath, key, required, conv_quantity, NULL, out);
}

int adp_json_duration(const struct adp_json_doc *d, json_t *obj, const char *jpath,
		      const char *key, int required, int64_t *out)
{
	return field(d, obj, jpath, key, required, conv_duration, NULL, out);
}

int adp_json_time(const struct adp_json_doc *d, json_t *obj, const char *jpath,
		  const char *key, int required, const char *tz, int64_t *out)
{
	return field(d, obj, jpath, key, required, conv_time, tz, out);
}

json_t *adp_jset(struct adp_jb *jb, json_t *obj, const char *key, json_t *value)
{
	/* jansson releases value when obj is not an object. */
	if (json_object_set_new(obj, key, value)) {
		jb->failed = 1;
		return NULL;
	}
	return value;
}

json_t *adp_jpush(struct adp_jb *jb, json_t *arr, json_t *value)
{
	if (json_array_append_new(arr, value)) {
		jb->failed = 1;
		return NULL;
	}
	return value;
}

int adp_jb_check(const struct adp_jb *jb)
{
	return jb->failed ? adp_error_set(ADP_ENOMEM, "out of memory building a JSON document") : 0;
}
