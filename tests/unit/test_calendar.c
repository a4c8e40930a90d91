/* Recurring windows: calendar events read in a time zone, the next
 * occurrence across weeks, months, daylight-saving gaps and skipped
 * dates, and the expressions refused. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "util/calendar.h"
#include "util/error.h"
#include "util/timeutil.h"

/* The next occurrence of expr at or after from (RFC 3339), as RFC 3339 UTC. */
static const char *next(const char *expr, const char *from, const char *tz, const int64_t *skip, size_t nskip)
{
	static char out[32];
	struct adp_calendar c;
	char why[256];
	int64_t t, u;

	cr_assert_eq(adp_calendar_parse(&c, expr, why, sizeof(why)), 0, "%s: %s", expr, why);
	cr_assert_eq(adp_time_parse(&t, from, NULL), 0);
	if (adp_calendar_next(&c, t, tz, skip, nskip, &u))
		return "none";
	adp_time_format(out, u);
	return out;
}

Test(calendar, weekly_in_a_zone)
{
	/* 2018-05-06 is a Sunday; 00:00Z is 02:00 in Berlin (CEST), past 01:00. */
	cr_assert_str_eq(next("Sun *-*-* 01:00", "2018-05-06T00:00:00Z", "Europe/Berlin", NULL, 0),
			 "2018-05-12T23:00:00Z");
	/* At 00:00 local that Sunday the 01:00 is still ahead: 23:00Z the day before. */
	cr_assert_str_eq(next("Sun *-*-* 01:00", "2018-05-05T22:00:00Z", "Europe/Berlin", NULL, 0),
			 "2018-05-05T23:00:00Z");
	cr_assert_str_eq(next("sunday 01:00", "2018-05-05T22:00:00Z", "Europe/Berlin", NULL, 0), "2018-05-05T23:00:00Z");
	/* At the occurrence itself: that one. */
	cr_assert_str_eq(next("Sun *-*-* 01:00", "2018-05-06T01:00:00Z", "UTC", NULL, 0), "2018-05-06T01:00:00Z");
}

Test(calendar, ranges_lists_and_months)
{
	cr_assert_str_eq(next("Mon..Fri *-*-* 02:30", "2018-05-05T12:00:00Z", "UTC", NULL, 0), "2018-05-07T02:30:00Z");
	cr_assert_str_eq(next("Sat,Sun 04:00", "2018-05-07T00:00:00Z", "UTC", NULL, 0), "2018-05-12T04:00:00Z");
	cr_assert_str_eq(next("*-*-01 03:00", "2018-05-06T00:00:00Z", "UTC", NULL, 0), "2018-06-01T03:00:00Z");
	cr_assert_str_eq(next("*-02-29 03:00", "2018-05-06T00:00:00Z", "UTC", NULL, 0), "2020-02-29T03:00:00Z");
	cr_assert_str_eq(next("*-*-* 01,13:00", "2018-05-06T02:00:00Z", "UTC", NULL, 0), "2018-05-06T13:00:00Z");
	cr_assert_str_eq(next("weekly", "2018-05-06T02:00:00Z", "UTC", NULL, 0), "2018-05-07T00:00:00Z");
	cr_assert_str_eq(next("monthly", "2018-05-06T02:00:00Z", "UTC", NULL, 0), "2018-06-01T00:00:00Z");
	cr_assert_str_eq(next("2017-*-* 01:00", "2018-05-06T00:00:00Z", "UTC", NULL, 0), "none");
}

Test(calendar, a_time_the_zone_skips_is_no_occurrence)
{
	/* 2018-03-25 02:30 does not exist in Berlin (02:00 became 03:00). */
	cr_assert_str_eq(next("*-*-* 02:30", "2018-03-25T00:00:00Z", "Europe/Berlin", NULL, 0),
			 "2018-03-26T00:30:00Z");
}

Test(calendar, skipped_dates)
{
	int64_t skip[2] = { adp_days_from_civil(2018, 5, 6), adp_days_from_civil(2018, 5, 13) };

	cr_assert_str_eq(next("Sun *-*-* 01:00", "2018-05-06T00:00:00Z", "UTC", skip, 2), "2018-05-20T01:00:00Z");
	cr_assert_eq(adp_days_from_civil(1970, 1, 1), 0);
	cr_assert_eq(adp_days_from_civil(2000, 3, 1), 11017);
}

Test(calendar, refused_expressions_say_which_part)
{
	static const struct {
		const char *expr, *want;
	} bad[] = {
		{ "Funday 01:00", "weekdays 'Funday'" },
		{ "*-13-* 01:00", "date '*-13-*'" },
		{ "Sun", "the last part must be the time" },
		{ "01:00 Sun", "the last part must be the time" },
		{ "*-*-* 25:00", "time '25:00'" },
		{ "*-*-* 01:00 Sun", "the last part must be the time" },
		{ "Fri..Mon 01:00", "weekdays 'Fri..Mon'" },
		{ "*-*-* 1:0:0:0", "time '1:0:0:0'" },
		{ "*-*-1/2 01:00", "date '*-*-1/2'" },
	};
	struct adp_calendar c;
	char why[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		cr_assert_eq(adp_calendar_parse(&c, bad[i].expr, why, sizeof(why)), ADP_EINPUT, "%s accepted", bad[i].expr);
		cr_assert(strstr(why, bad[i].want), "%s: %s", bad[i].expr, why);
	}
}
