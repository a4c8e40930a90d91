#include "partition/schedule.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/calendar.h"
#include "util/error.h"
#include "util/jsonutil.h"
#include "util/timeutil.h"

void schedule_release(struct schedule *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->npartitions; i++)
		free(s->partition_names[i]);
	free(s->partition_names);
	free(s->partitions);
	free(s->update_duration);
	for (i = 0; i < s->update_argc; i++)
		free(s->update_argv[i]);
	free(s->update_argv);
	free(s->blackouts);
	free(s->path);
	free(s->name);
	free(s->timezone);
	free(s->recurrence);
	schedule_gates_release(&s->gates);
	schedule_events_release(s);
	schedule_notify_release(&s->notify);
	memset(s, 0, sizeof(*s));
}

/* A recurring window: "recurrence" (a calendar event, util/calendar.h),
 * "duration", and "blackout_dates" (local dates without an occurrence):
 * the occurrence taken is the first starting at or after at. */
static int read_recurrence(const struct adp_json_doc *d, json_t *w, struct schedule *s, int64_t at)
{
	const char *expr = NULL;
	json_t *dates = json_object_get(w, "blackout_dates"), *v;
	struct adp_calendar cal;
	int64_t duration = 0, *skip = NULL;
	char why[256], from[32];
	size_t i, n = 0;
	int rc;

	if ((rc = adp_json_string(d, w, "window", "recurrence", 1, &expr)) ||
	    (rc = adp_json_duration(d, w, "window", "duration", 0, &duration)))
		return rc;
	if (json_object_get(w, "start") || json_object_get(w, "end"))
		return adp_json_fail(d, "window.recurrence", "give a recurrence or a start, not both");
	if (duration <= 0)
		return adp_json_fail(d, "window", "a recurring window needs its duration");
	if (adp_calendar_parse(&cal, expr, why, sizeof(why)))
		return adp_json_fail(d, "window.recurrence", "'%s': %s", expr, why);
	if (dates && (!json_is_array(dates) || json_array_size(dates) > 366))
		return adp_json_fail(d, "window.blackout_dates", "expected an array of at most 366 dates (YYYY-MM-DD)");
	if (dates && !(skip = calloc(json_array_size(dates) + 1, sizeof(*skip))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_array_foreach(dates, i, v) {
		int y, m, dd;
		char c;
		const char *t = json_string_value(v);

		if (!t || sscanf(t, "%4d-%2d-%2d%c", &y, &m, &dd, &c) != 3 || strlen(t) != 10 || m < 1 || m > 12 ||
		    dd < 1 || dd > 31) {
			char jp[64];

			free(skip);
			snprintf(jp, sizeof(jp), "window.blackout_dates[%zu]", i);
			return adp_json_fail(d, jp, "expected a date such as \"2018-12-24\"");
		}
		skip[n++] = adp_days_from_civil(y, m, dd);
	}
	rc = adp_calendar_next(&cal, at, s->timezone, skip, n, &s->start);
	free(skip);
	adp_time_format(from, at);
	if (rc)
		return adp_json_fail(d, "window.recurrence", "'%s' has no occurrence in the %d days after %s", expr,
				     ADP_CALENDAR_HORIZON_DAYS, from);
	s->end = s->start + duration;
	if (!(s->recurrence = strdup(expr)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}

static int read_window(const struct adp_json_doc *d, json_t *w, struct schedule *s, int64_t at)
{
	static const char *const keys[] = { "start", "end", "duration", "timezone", "recurrence", "blackout_dates",
					    NULL };
	const char *tz = "UTC";
	int64_t duration = 0;
	int rc;

	if (!json_is_object(w))
		return w ? adp_json_fail(d, "window", "expected an object with start, end and timezone")
			 : adp_error_set(ADP_EINPUT, "%s: missing required field 'window'", d->path);
	if ((rc = adp_json_check_keys(d, w, "window", keys)) ||
	    (rc = adp_json_string(d, w, "window", "timezone", 0, &tz)))
		return rc;
	if (!adp_tz_valid(tz))
		return adp_json_fail(d, "window.timezone",
				     "unknown time zone '%s': expected an IANA name such as \"Europe/Berlin\"", tz);
	if (!(s->timezone = strdup(tz)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (json_object_get(w, "recurrence")) {
		if ((rc = read_recurrence(d, w, s, at)))
			return rc;
		duration = s->end - s->start;
	} else if (json_object_get(w, "blackout_dates")) {
		return adp_json_fail(d, "window.blackout_dates", "blackout dates are for a recurring window: give a "
				     "recurrence, or blackouts within this window");
	} else if ((rc = adp_json_time(d, w, "window", "start", 1, tz, &s->start)) ||
		   (rc = adp_json_duration(d, w, "window", "duration", 0, &duration))) {
		return rc;
	}
	if (json_object_get(w, "end") && duration)
		return adp_json_fail(d, "window.duration", "give either end or duration, not both");
	if (duration)
		s->end = s->start + duration;
	else if ((rc = adp_json_time(d, w, "window", "end", 1, tz, &s->end)))
		return rc;
	if (s->end <= s->start)
		return adp_json_fail(d, json_object_get(w, "end") ? "window.end" : "window.duration",
				     "the window must end after it starts");
	if (s->end - s->start > 7 * 86400)
		return adp_json_fail(d, "window", "a window longer than 7 days is not supported");
	return 0;
}

static int read_partitions(const struct adp_json_doc *d, json_t *list, const struct inventory *inv,
			   struct schedule *s, enum schedule_mode mode)
{
	json_t *v;
	size_t i, j;

	/* A forecast never reads them: absent is none. */
	if (!json_is_array(list) && (list || mode != SCHEDULE_FORECAST))
		return list ? adp_json_fail(d, "partitions", "expected an array of partition names")
			    : adp_error_set(ADP_EINPUT, "%s: missing required field 'partitions'", d->path);
	if (json_array_size(list) > INV_MAX_PARTITIONS)
		return adp_json_fail(d, "partitions", "more than %d partitions", INV_MAX_PARTITIONS);
	s->partition_names = calloc(json_array_size(list) + 1, sizeof(*s->partition_names));
	s->partitions = calloc(json_array_size(list) + 1, sizeof(*s->partitions));
	s->update_duration = calloc(json_array_size(list) + 1, sizeof(*s->update_duration));
	if (!s->partition_names || !s->partitions || !s->update_duration)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	/* With list NULL, no element. */
	json_array_foreach(list, i, v) {
		char jpath[64];
		const char *name;

		snprintf(jpath, sizeof(jpath), "partitions[%zu]", i);
		if (!json_is_string(v) || !history_name_valid(json_string_value(v)))
			return adp_json_fail(d, jpath, "expected a partition name");
		name = json_string_value(v);
		for (j = 0; j < i; j++)
			if (!strcmp(s->partition_names[j], name))
				return adp_json_fail(d, jpath, "partition '%s' is listed twice", name);
		if (inv) {
			int idx = inventory_partition_index(inv, name);
			if (idx < 0)
				return adp_json_fail(d, jpath, "unknown partition '%s': the inventory '%s' does not define it",
						     name, inv->path);
			s->partitions[i] = (size_t)idx;
		}
		if (!(s->partition_names[i] = strdup(name)))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		s->npartitions++;
	}
	return 0;
}

const char *const schedule_weight_names[SCHEDULE_NWEIGHTS] = { "risk", "waste", "moves", "confidence" };
const double schedule_weight_defaults[SCHEDULE_NWEIGHTS] = { 10.0, 1.0, 0.0, 0.5 };

static int read_concurrency(const struct adp_json_doc *d, json_t *v, struct schedule *s)
{
	size_t total = s->npartitions;

	if (!v) {
		s->max_concurrency = 1;
		return 0;
	}
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 1 || json_integer_value(v) > INV_MAX_PARTITIONS)
			return adp_json_fail(d, "max_concurrency", "expected at least 1 partition at a time");
		s->max_concurrency = (size_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		const char *p = json_string_value(v);
		char *end;
		double pct = strtod(p, &end);

		if (end != p && !strcmp(end, "%") && pct > 0 && pct <= 100) {
			/* A percentage of the partitions to update, rounded down, at least one. */
			s->max_concurrency_pct = pct;
			s->max_concurrency = (size_t)floor(pct * (double)total / 100.0 + 1e-9);
			if (s->max_concurrency < 1)
				s->max_concurrency = 1;
			return 0;
		}
	}
	return adp_json_fail(d, "max_concurrency", "expected a number of partitions or a percentage such as \"25%%\"");
}

static int read_durations(const struct adp_json_doc *d, json_t *v, struct schedule *s, enum schedule_mode mode)
{
	int64_t dflt = 0;
	size_t i;
	int rc;

	if (!v && mode == SCHEDULE_FORECAST)
		return 0; /* a forecast never reads them: 0 each */
	if (json_is_object(v)) {
		static const char *const keys[] = { "default", "partitions", NULL };
		json_t *per = json_object_get(v, "partitions"), *x;
		const char *key;

		if ((rc = adp_json_check_keys(d, v, "update_duration", keys)) ||
		    (rc = adp_json_duration(d, v, "update_duration", "default", 1, &dflt)))
			return rc;
		for (i = 0; i < s->npartitions; i++)
			s->update_duration[i] = dflt;
		if (per && !json_is_object(per))
			return adp_json_fail(d, "update_duration.partitions", "expected an object of partition: duration");
		json_object_foreach(per, key, x) {
			char jpath[200];
			int64_t dur;

			snprintf(jpath, sizeof(jpath), "update_duration.partitions");
			for (i = 0; i < s->npartitions; i++)
				if (!strcmp(s->partition_names[i], key))
					break;
			if (i == s->npartitions) {
				snprintf(jpath, sizeof(jpath), "update_duration.partitions.%s", key);
				return adp_json_fail(d, jpath, "partition '%s' is not in the schedule's partitions", key);
			}
			if ((rc = adp_json_duration(d, per, jpath, key, 1, &dur)))
				return rc;
			s->update_duration[i] = dur;
		}
		return 0;
	}
	if ((rc = adp_json_duration(d, d->root, "", "update_duration", 1, &dflt)))
		return rc;
	for (i = 0; i < s->npartitions; i++)
		s->update_duration[i] = dflt;
	return 0;
}

static int read_confidence(const struct adp_json_doc *d, json_t *v, struct schedule *s)
{
	int r, rc;

	/* Absent: schedule_defaults' levels. */
	if (!v)
		return 0;
	if (json_is_number(v)) {
		double c;
		if ((rc = adp_json_number(d, d->root, "", "confidence", 1, 0.5, 0.9999, &c)))
			return rc;
		for (r = 0; r < ADP_RES_COUNT; r++)
			s->confidence[r] = c;
		return 0;
	}
	if (json_is_object(v)) {
		static const char *const keys[] = { "cpu", "memory", "io", "net", NULL };
		if ((rc = adp_json_check_keys(d, v, "confidence", keys)))
			return rc;
		for (r = 0; r < ADP_RES_COUNT; r++)
			if ((rc = adp_json_number(d, v, "confidence", adp_resource_name(r), 0, 0.5,
						  0.9999, &s->confidence[r])))
				return rc;
		return 0;
	}
	return adp_json_fail(d, "confidence", "expected a probability such as 0.95, or one per resource");
}

/* The optional update action: an argv (never a shell string) and a timeout. */
static int read_update(const struct adp_json_doc *d, json_t *u, struct schedule *s)
{
	static const char *const keys[] = { "command", "timeout", NULL };
	json_t *cmd, *v;
	size_t i;
	int rc;

	if (!u)
		return 0;
	if (!json_is_object(u))
		return adp_json_fail(d, "update", "expected an object with command and timeout");
	if ((rc = adp_json_check_keys(d, u, "update", keys)) ||
	    (rc = adp_json_duration(d, u, "update", "timeout", 0, &s->update_timeout)))
		return rc;
	cmd = json_object_get(u, "command");
	if (!json_is_array(cmd) || !json_array_size(cmd) || json_array_size(cmd) > SCHEDULE_MAX_ARGV)
		return adp_json_fail(d, cmd ? "update.command" : "update",
				     "expected a non-empty array of at most %d strings (program and arguments)",
				     SCHEDULE_MAX_ARGV);
	if (s->update_timeout < 0)
		return adp_json_fail(d, "update.timeout", "expected a positive duration");
	if (!(s->update_argv = calloc(json_array_size(cmd) + 1, sizeof(char *))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_array_foreach(cmd, i, v) {
		char sub[64];

		snprintf(sub, sizeof(sub), "update.command[%zu]", i);
		if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > SCHEDULE_MAX_ARG)
			return adp_json_fail(d, sub, "expected a non-empty string of at most %d bytes",
					     SCHEDULE_MAX_ARG);
		if (!(s->update_argv[i] = strdup(json_string_value(v))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		s->update_argc = i + 1;
	}
	return 0;
}

/* Blackouts: periods inside the window when no partition may be offline
 * (a batch run, a sales event); sorted, and they must not cover it all. */
static int read_blackouts(const struct adp_json_doc *d, json_t *list, struct schedule *s)
{
	static const char *const keys[] = { "start", "end", "reason", NULL };
	json_t *v;
	size_t i, j;
	int rc;

	if (!list)
		return 0;
	if (!json_is_array(list) || json_array_size(list) > SCHEDULE_MAX_BLACKOUTS)
		return adp_json_fail(d, "blackouts", "expected an array of at most %d {start, end} periods",
				     SCHEDULE_MAX_BLACKOUTS);
	if (!(s->blackouts = calloc(json_array_size(list) + 1, sizeof(*s->blackouts))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_array_foreach(list, i, v) {
		struct schedule_blackout *b = &s->blackouts[s->nblackouts];
		char jp[64];

		snprintf(jp, sizeof(jp), "blackouts[%zu]", i);
		if (!json_is_object(v))
			return adp_json_fail(d, jp, "expected an object with start and end");
		if ((rc = adp_json_check_keys(d, v, jp, keys)) ||
		    (rc = adp_json_time(d, v, jp, "start", 1, s->timezone, &b->start)) ||
		    (rc = adp_json_time(d, v, jp, "end", 1, s->timezone, &b->end)))
			return rc;
		if (b->end <= b->start)
			return adp_json_fail(d, jp, "a blackout must end after it starts");
		/* A recurring window's blackouts are for the occurrences they meet. */
		if ((b->end <= s->start || b->start >= s->end) && s->recurrence)
			continue;
		if (b->end <= s->start || b->start >= s->end)
			return adp_json_fail(d, jp, "the blackout lies outside the window");
		s->nblackouts++;
	}
	/* Few entries: insertion sort by start keeps the code obvious. */
	for (i = 1; i < s->nblackouts; i++)
		for (j = i; j > 0 && s->blackouts[j].start < s->blackouts[j - 1].start; j--) {
			struct schedule_blackout t = s->blackouts[j];
			s->blackouts[j] = s->blackouts[j - 1];
			s->blackouts[j - 1] = t;
		}
	return 0;
}

int64_t schedule_blackout_end(const struct schedule *s, int64_t start, int64_t end)
{
	size_t i;

	for (i = 0; i < s->nblackouts; i++)
		if (s->blackouts[i].start < end && s->blackouts[i].end > start)
			return s->blackouts[i].end;
	return 0;
}

/* max_per_zone, start, order, shortage, weights and dependence: all optional. */
static int read_planner_fields(const struct adp_json_doc *d, struct schedule *s)
{
	json_t *v;
	int rc, i;

	memcpy(s->weights, schedule_weight_defaults, sizeof(s->weights));
	s->dependence = SCHEDULE_DEFAULT_DEPENDENCE;
	if (json_object_get(d->root, "dependence") &&
	    (rc = adp_json_number(d, d->root, "", "dependence", 1, 0, 1, &s->dependence)))
		return rc;
	if ((v = json_object_get(d->root, "max_per_zone"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > INV_MAX_PARTITIONS)
			return adp_json_fail(d, "max_per_zone", "expected at least 1 partition of a zone at a time");
		s->max_per_zone = (size_t)json_integer_value(v);
	}
	if ((v = json_object_get(d->root, "start"))) {
		const char *p = json_is_string(v) ? json_string_value(v) : "";

		if (!strcmp(p, "lowest-risk"))
			s->start_policy = SCHEDULE_START_LOWEST_RISK;
		else if (!strcmp(p, "earliest"))
			s->start_policy = SCHEDULE_START_EARLIEST;
		else
			return adp_json_fail(d, "start", "expected \"lowest-risk\" or \"earliest\"");
	}
	if ((v = json_object_get(d->root, "order"))) {
		const char *p = json_is_string(v) ? json_string_value(v) : "";

		if (strcmp(p, "listed") && strcmp(p, "lightest-first"))
			return adp_json_fail(d, "order", "expected \"listed\" or \"lightest-first\"");
		s->order_lightest = !strcmp(p, "lightest-first");
	}
	if ((v = json_object_get(d->root, "preallocate"))) {
		if (!json_is_boolean(v))
			return adp_json_fail(d, "preallocate", "expected true or false");
		s->preallocate = json_is_true(v);
	}
	if ((v = json_object_get(d->root, "shortage"))) {
		const char *p = json_is_string(v) ? json_string_value(v) : "";

		if (strcmp(p, "share") && strcmp(p, "refuse"))
			return adp_json_fail(d, "shortage", "expected \"share\" or \"refuse\"");
		s->shortage_refuse = !strcmp(p, "refuse");
	}
	if ((v = json_object_get(d->root, "weights"))) {
		static const char *const keys[] = { "risk", "waste", "moves", "confidence", NULL };
		double w;

		if (!json_is_object(v))
			return adp_json_fail(d, "weights", "expected an object of risk, waste, moves and confidence");
		if ((rc = adp_json_check_keys(d, v, "weights", keys)))
			return rc;
		for (i = 0; i < SCHEDULE_NWEIGHTS; i++) {
			if (!json_object_get(v, schedule_weight_names[i]))
				continue;
			if ((rc = adp_json_number(d, v, "weights", schedule_weight_names[i], 1, 0, 1e6, &w)))
				return rc;
			s->weights[i] = w;
		}
	}
	return 0;
}

void schedule_defaults(struct schedule *s)
{
	int r;

	s->step = 300;
	s->max_gap = 3600;
	s->drain_duration = 300;
	s->verify_duration = 300;
	s->plan_ttl = 86400;
	s->period = 86400;
	/* Memory is incompressible: an overrun kills, so it is held to a
	 * higher level than CPU, disk and network, which only slow down. */
	for (r = 0; r < ADP_RES_COUNT; r++)
		s->confidence[r] = adp_resource_compressible(r) ? 0.95 : 0.99;
}

/* A forecast's steps start at multiples of the step since the epoch
 * (the history's grid); a window starting between two of them is
 * refused rather than moved. */
static int check_grid(const struct adp_json_doc *d, const struct schedule *s)
{
	int64_t off = (s->start % s->step + s->step) % s->step;
	char at[32], before[32], after[32], step[32];

	if (!off)
		return 0;
	adp_time_format(at, s->start);
	adp_time_format(before, s->start - off);
	adp_time_format(after, s->start - off + s->step);
	adp_duration_format(step, s->step);
	return adp_json_fail(d, "window.start",
			     "%s is not on the %s step grid (forecast steps start at multiples of the step since "
			     "the epoch, UTC): start the window at %s or %s, or change the step",
			     at, step, before, after);
}

int schedule_load(struct schedule *out, const char *path, const struct inventory *inv)
{
	return schedule_load_mode(out, path, inv, SCHEDULE_FULL);
}

int schedule_load_mode(struct schedule *out, const char *path, const struct inventory *inv,
		       enum schedule_mode mode)
{
	return schedule_load_at(out, path, inv, mode, (int64_t)time(NULL));
}

int schedule_load_at(struct schedule *out, const char *path, const struct inventory *inv, enum schedule_mode mode,
		     int64_t at)
{
	static const char *const keys[] = { "name", "window", "cutoff", "partitions",
					    "max_concurrency", "update_duration", "drain_duration",
					    "verify_duration", "step", "max_gap", "confidence",
					    "plan_ttl", "period", "update", "blackouts", "max_per_zone",
					    "start", "weights", "shortage", "dependence", "order", "gates", "notify", "events",
					    "preallocate", NULL };
	struct adp_json_doc d;
	struct schedule s = { 0 };
	const char *name = NULL;
	int rc;

	if ((rc = adp_json_load(&d, path)))
		return rc;
	schedule_defaults(&s);
	if ((rc = adp_json_check_keys(&d, d.root, "", keys)) ||
	    (rc = adp_json_string(&d, d.root, "", "name", mode != SCHEDULE_FORECAST, &name)))
		goto done;
	if (!(s.path = strdup(path)) || !(s.name = strdup(name ? name : ""))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = read_window(&d, json_object_get(d.root, "window"), &s, at)) ||
	    (rc = adp_json_duration(&d, d.root, "", "cutoff", 0, &s.cutoff)) ||
	    (rc = read_partitions(&d, json_object_get(d.root, "partitions"), inv, &s, mode)) ||
	    (rc = read_concurrency(&d, json_object_get(d.root, "max_concurrency"), &s)) ||
	    (rc = read_planner_fields(&d, &s)) ||
	    (rc = read_durations(&d, json_object_get(d.root, "update_duration"), &s, mode)) ||
	    (rc = adp_json_duration(&d, d.root, "", "drain_duration", 0, &s.drain_duration)) ||
	    (rc = adp_json_duration(&d, d.root, "", "verify_duration", 0, &s.verify_duration)) ||
	    (rc = adp_json_duration(&d, d.root, "", "step", 0, &s.step)) ||
	    (rc = adp_json_duration(&d, d.root, "", "max_gap", 0, &s.max_gap)) ||
	    (rc = read_confidence(&d, json_object_get(d.root, "confidence"), &s)) ||
	    (rc = adp_json_duration(&d, d.root, "", "plan_ttl", 0, &s.plan_ttl)) ||
	    (rc = adp_json_duration(&d, d.root, "", "period", 0, &s.period)) ||
	    (rc = read_update(&d, json_object_get(d.root, "update"), &s)) ||
	    (rc = read_blackouts(&d, json_object_get(d.root, "blackouts"), &s)) ||
	    (rc = schedule_read_gates(&d, json_object_get(d.root, "gates"), &s.gates)) ||
	    (rc = schedule_read_notify(&d, json_object_get(d.root, "notify"), &s.notify)) ||
	    (rc = schedule_read_events(&d, json_object_get(d.root, "events"), &s, inv, mode == SCHEDULE_FULL)))
		goto done;
	if (s.cutoff >= s.end - s.start) {
		rc = adp_json_fail(&d, "cutoff", "the cutoff leaves no time in the window");
		goto done;
	}
	if (s.step < 10 || s.step > 86400) {
		rc = adp_json_fail(&d, "step", "expected a step from 10s to 1d");
		goto done;
	}
	if (s.period < s.step || s.period % s.step) {
		rc = adp_json_fail(&d, "period", "expected a multiple of the step");
		goto done;
	}
	if (s.plan_ttl <= 0) {
		rc = adp_json_fail(&d, "plan_ttl", "expected a positive duration");
		goto done;
	}
	if (mode == SCHEDULE_FORECAST && (rc = check_grid(&d, &s)))
		goto done;
	*out = s;
	memset(&s, 0, sizeof(s));
done:
	schedule_release(&s);
	adp_json_release(&d);
	return rc;
}
