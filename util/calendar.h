/* Recurring times: a subset of systemd's calendar events (systemd.time(7),
 * OnCalendar=), read in an IANA time zone.
 *
 *   [WEEKDAYS] [YEAR-MONTH-DAY] HOUR:MINUTE[:SECOND]
 *
 * WEEKDAYS is a comma list of names (Mon or Monday, any case) or ranges
 * (Mon..Fri); each date and time field is "*" or a comma list of
 * numbers or ranges (1..5); a missing date is *-*-*, missing seconds 0.
 * "daily", "weekly" (Monday) and "monthly" (the 1st) are at 00:00:00.
 * Not supported: repetitions ("/"), the last days of a month ("~"),
 * time zone suffixes (the zone is the window's). */
#ifndef ADP_CALENDAR_H
#define ADP_CALENDAR_H

#include <stddef.h>
#include <stdint.h>

#define ADP_CALENDAR_MAX_YEARS 16
#define ADP_CALENDAR_HORIZON_DAYS 1500 /* the furthest next occurrence looked for (4 years, a leap day) */

struct adp_calendar {
	unsigned weekdays;        /* bit 0 Monday .. bit 6 Sunday */
	int years[ADP_CALENDAR_MAX_YEARS];
	size_t nyears;            /* 0: any year */
	unsigned months;          /* bit 0 January */
	uint32_t days;            /* bit 0 the 1st */
	uint32_t hours;
	uint64_t minutes, seconds;
};

/* Parses expr; ADP_EINPUT with why (a phrase naming the field) when it
 * is not a calendar event this subset reads. */
int adp_calendar_parse(struct adp_calendar *c, const char *expr, char *why, size_t len);

/* The first time at or after t (UTC seconds) that c matches in zone tz,
 * skipping the local dates listed in skip ("YYYY-MM-DD" as days since
 * 1970-01-01, nskip of them) and local times the zone skips (a
 * daylight-saving gap). 0, or ADP_EINPUT when none comes within
 * ADP_CALENDAR_HORIZON_DAYS. */
int adp_calendar_next(const struct adp_calendar *c, int64_t t, const char *tz, const int64_t *skip, size_t nskip,
		      int64_t *out);

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t adp_days_from_civil(int y, int m, int d);

#endif
