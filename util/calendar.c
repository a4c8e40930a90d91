/* Calendar events (see calendar.h). */
#include "util/calendar.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"
#include "util/timeutil.h"

static const char *const day_names[7] = { "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
					  "sunday" };

int64_t adp_days_from_civil(int y, int m, int d)
{
	/* Howard Hinnant's days_from_civil. */
	int64_t yy = y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int day_index(const char *s, size_t n)
{
	int i;

	for (i = 0; i < 7; i++)
		if ((n == 3 || n == strlen(day_names[i])) && !strncasecmp(s, day_names[i], n))
			return i;
	return -1;
}

static int weekdays(struct adp_calendar *c, const char *tok, char *why, size_t len)
{
	const char *p = tok;

	c->weekdays = 0;
	while (*p) {
		const char *comma = strchr(p, ','), *dots;
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		int a, b;

		dots = memmem(p, n, "..", 2);
		a = day_index(p, dots ? (size_t)(dots - p) : n);
		b = dots ? day_index(dots + 2, n - (size_t)(dots + 2 - p)) : a;
		if (a < 0 || b < 0 || b < a) {
			snprintf(why, len, "weekdays '%s': expected names such as Mon or Sunday, lists (Sat,Sun) or "
				 "ranges (Mon..Fri)", tok);
			return ADP_EINPUT;
		}
		for (; a <= b; a++)
			c->weekdays |= 1u << a;
		p += n + (comma != NULL);
	}
	return 0;
}

/* "*" or a comma list of numbers and A..B ranges within [lo, hi], each
 * value v calling set(v). */
static int field(const char *s, size_t n, int lo, int hi, uint64_t *bits, int *list, size_t *nlist, size_t cap)
{
	char buf[128];
	char *p, *save = NULL, *tok;

	if (n == 1 && *s == '*') {
		if (bits)
			*bits = ~(uint64_t)0;
		return 0;
	}
	if (!n || n >= sizeof(buf))
		return ADP_EINPUT;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (bits)
		*bits = 0;
	for (p = buf; (tok = strtok_r(p, ",", &save)); p = NULL) {
		char *end, *dots = strstr(tok, "..");
		long a, b;

		if (!isdigit((unsigned char)*tok))
			return ADP_EINPUT;
		a = strtol(tok, &end, 10);
		if (dots ? end != dots : *end)
			return ADP_EINPUT;
		b = a;
		if (dots) {
			if (!isdigit((unsigned char)dots[2]))
				return ADP_EINPUT;
			b = strtol(dots + 2, &end, 10);
			if (*end)
				return ADP_EINPUT;
		}
		if (a < lo || b > hi || b < a)
			return ADP_EINPUT;
		for (; a <= b; a++) {
			if (bits)
				*bits |= (uint64_t)1 << (a - lo);
			else if (*nlist < cap)
				list[(*nlist)++] = (int)a;
			else
				return ADP_EINPUT;
		}
	}
	return 0;
}

static int date(struct adp_calendar *c, const char *tok, char *why, size_t len)
{
	const char *d1 = strchr(tok, '-'), *d2 = d1 ? strchr(d1 + 1, '-') : NULL;
	uint64_t months, days;

	if (!d1 || !d2 || strchr(d2 + 1, '-') ||
	    field(tok, (size_t)(d1 - tok), 1970, 2199, NULL, c->years, &c->nyears, ADP_CALENDAR_MAX_YEARS) ||
	    field(d1 + 1, (size_t)(d2 - d1 - 1), 1, 12, &months, NULL, NULL, 0) ||
	    field(d2 + 1, strlen(d2 + 1), 1, 31, &days, NULL, NULL, 0)) {
		snprintf(why, len, "date '%s': expected YEAR-MONTH-DAY, each * or numbers (2018, 1..12, 1,15), "
			 "at most %d years", tok, ADP_CALENDAR_MAX_YEARS);
		return ADP_EINPUT;
	}
	c->months = (unsigned)(months & 0xfff);
	c->days = (uint32_t)(days & 0x7fffffff);
	return 0;
}

static int clock_time(struct adp_calendar *c, const char *tok, char *why, size_t len)
{
	const char *c1 = strchr(tok, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	uint64_t hours, secs = 1;

	if (!c1 || (c2 && strchr(c2 + 1, ':')) || field(tok, (size_t)(c1 - tok), 0, 23, &hours, NULL, NULL, 0) ||
	    field(c1 + 1, c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1), 0, 59, &c->minutes, NULL, NULL, 0) ||
	    (c2 && field(c2 + 1, strlen(c2 + 1), 0, 59, &secs, NULL, NULL, 0))) {
		snprintf(why, len, "time '%s': expected HOUR:MINUTE[:SECOND], each * or numbers (0..23, 0,30)", tok);
		return ADP_EINPUT;
	}
	c->hours = (uint32_t)(hours & 0xffffff);
	c->minutes &= ((uint64_t)1 << 60) - 1;
	c->seconds = secs & (((uint64_t)1 << 60) - 1);
	return 0;
}

int adp_calendar_parse(struct adp_calendar *c, const char *expr, char *why, size_t len)
{
	char buf[256], *tok[4], *p, *save = NULL;
	size_t n = 0, i;
	int rc;

	memset(c, 0, sizeof(*c));
	c->weekdays = 0x7f;
	c->months = 0xfff;
	c->days = 0x7fffffff;
	c->seconds = 1;
	if (!strcmp(expr, "daily") || !strcmp(expr, "weekly") || !strcmp(expr, "monthly")) {
		c->hours = c->minutes = 1;
		if (!strcmp(expr, "weekly"))
			c->weekdays = 1;
		if (!strcmp(expr, "monthly"))
			c->days = 1;
		return 0;
	}
	if (strlen(expr) >= sizeof(buf)) {
		snprintf(why, len, "longer than %zu bytes", sizeof(buf) - 1);
		return ADP_EINPUT;
	}
	snprintf(buf, sizeof(buf), "%s", expr);
	for (p = buf; n < 4 && (tok[n] = strtok_r(p, " \t", &save)); p = NULL)
		n++;
	if (!n || n > 3) {
		snprintf(why, len, "expected [WEEKDAYS] [YEAR-MONTH-DAY] HOUR:MINUTE[:SECOND]");
		return ADP_EINPUT;
	}
	if (!strchr(tok[n - 1], ':')) {
		snprintf(why, len, "'%s': the last part must be the time, HOUR:MINUTE[:SECOND]", tok[n - 1]);
		return ADP_EINPUT;
	}
	for (i = 0; i + 1 < n; i++) {
		int is_date = strchr(tok[i], '-') != NULL;

		if ((is_date && i + 2 != n) || (!is_date && i != 0)) {
			snprintf(why, len, "'%s': expected weekdays first, then the date, then the time", tok[i]);
			return ADP_EINPUT;
		}
		if ((rc = is_date ? date(c, tok[i], why, len) : weekdays(c, tok[i], why, len)))
			return rc;
	}
	return clock_time(c, tok[n - 1], why, len);
}

static int skipped_day(int64_t day, const int64_t *skip, size_t nskip)
{
	size_t i;

	for (i = 0; i < nskip; i++)
		if (skip[i] == day)
			return 1;
	return 0;
}

static int year_ok(const struct adp_calendar *c, int y)
{
	size_t i;

	if (!c->nyears)
		return 1;
	for (i = 0; i < c->nyears; i++)
		if (c->years[i] == y)
			return 1;
	return 0;
}

int adp_calendar_next(const struct adp_calendar *c, int64_t t, const char *tz, const int64_t *skip, size_t nskip,
		      int64_t *out)
{
	char local[40];
	int y, m, d, h, mi, s;
	int64_t day0, k;

	adp_time_format_tz(local, t, tz);
	if (sscanf(local, "%d-%d-%d", &y, &m, &d) != 3)
		return ADP_EINPUT;
	/* The day before too: a time west of UTC may fall on it locally. */
	day0 = adp_days_from_civil(y, m, d) - 1;
	for (k = 0; k <= ADP_CALENDAR_HORIZON_DAYS; k++) {
		int64_t day = day0 + k;
		int wd = (int)(((day + 3) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */

		civil_from_days(day, &y, &m, &d);
		if (!(c->weekdays & (1u << wd)) || !year_ok(c, y) || !(c->months & (1u << (m - 1))) ||
		    !(c->days & (1u << (d - 1))) || skipped_day(day, skip, nskip))
			continue;
		for (h = 0; h < 24; h++) {
			if (!(c->hours & (1u << h)))
				continue;
			for (mi = 0; mi < 60; mi++) {
				if (!(c->minutes & ((uint64_t)1 << mi)))
					continue;
				for (s = 0; s < 60; s++) {
					char iso[32];
					int64_t u;

					if (!(c->seconds & ((uint64_t)1 << s)))
						continue;
					snprintf(iso, sizeof(iso), "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d, h, mi, s);
					if (adp_time_parse(&u, iso, tz))
						continue; /* a local time the zone skips */
					if (u >= t) {
						*out = u;
						return 0;
					}
				}
			}
		}
	}
	return ADP_EINPUT;
}
