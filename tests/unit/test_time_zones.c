/* Local times across daylight-saving transitions, and the formatting of
 * extreme values. mktime with tm_isdst=-1 resolved a time the clocks pass
 * twice by whatever was converted before it, and accepted times they
 * skip; these tests parse in both orders so that such state would show. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "util/error.h"
#include "util/timeutil.h"

#define HOUR 3600

/* 2018-10-28 and 2018-03-25: Europe/Berlin's transitions (01:00Z). */
static const int64_t fold_berlin = 1540686600; /* 2018-10-28T00:30:00Z = 02:30 CEST */
static const int64_t gap_after = 1521941400;   /* 2018-03-25T01:30:00Z = 03:30 CEST */

Test(time_zones, fold_is_its_earlier_instant_whatever_came_before)
{
	int64_t t = 0;

	/* After a winter time, then after a summer time. */
	cr_assert_eq(adp_time_parse(&t, "2018-12-01 12:00:00", "Europe/Berlin"), 0);
	cr_assert_eq(adp_time_parse(&t, "2018-10-28 02:30:00", "Europe/Berlin"), 0);
	cr_assert_eq(t, fold_berlin, "got %lld", (long long)t);
	cr_assert_eq(adp_time_parse(&t, "2018-07-01 12:00:00", "Europe/Berlin"), 0);
	cr_assert_eq(adp_time_parse(&t, "2018-10-28T02:30:00", "Europe/Berlin"), 0);
	cr_assert_eq(t, fold_berlin, "got %lld", (long long)t);
	/* An explicit offset picks the later one. */
	cr_assert_eq(adp_time_parse(&t, "2018-10-28T02:30:00+01:00", "Europe/Berlin"), 0);
	cr_assert_eq(t, fold_berlin + HOUR);
	/* The hour after the fold is not ambiguous. */
	cr_assert_eq(adp_time_parse(&t, "2018-10-28 03:30:00", "Europe/Berlin"), 0);
	cr_assert_eq(t, fold_berlin + 2 * HOUR);
}

Test(time_zones, fold_in_new_york)
{
	int64_t t = 0;

	/* 2018-11-04 01:30 EDT (-04:00) is 05:30Z; EST would be 06:30Z. */
	cr_assert_eq(adp_time_parse(&t, "2018-11-04 01:30:00", "America/New_York"), 0);
	cr_assert_eq(t, 1541309400, "got %lld", (long long)t);
}

Test(time_zones, gap_is_refused_and_named)
{
	int64_t t = 42;

	cr_assert_eq(adp_time_parse(&t, "2018-03-25 02:30:00", "Europe/Berlin"), ADP_EINPUT);
	cr_assert_eq(t, 42, "the output was written on failure");
	cr_assert_eq(adp_time_parse_format(&t, "25/03/2018 02:30", "%d/%m/%Y %H:%M", "Europe/Berlin"),
		     ADP_EINPUT);
	cr_assert_eq(adp_time_skipped("2018-03-25 02:30:00", "Europe/Berlin"), 1);
	cr_assert_eq(adp_time_skipped("2018-03-25T02:00:00", "Europe/Berlin"), 1);
	/* Either side of the gap, with an offset, in UTC, or malformed: not skipped. */
	cr_assert_eq(adp_time_skipped("2018-03-25 03:30:00", "Europe/Berlin"), 0);
	cr_assert_eq(adp_time_skipped("2018-03-25 01:59:59", "Europe/Berlin"), 0);
	cr_assert_eq(adp_time_skipped("2018-03-25T02:30:00+01:00", "Europe/Berlin"), 0);
	cr_assert_eq(adp_time_skipped("2018-03-25 02:30:00", NULL), 0);
	cr_assert_eq(adp_time_skipped("2018-03-25 02:3", "Europe/Berlin"), 0);
	cr_assert_eq(adp_time_parse(&t, "2018-03-25 03:30:00", "Europe/Berlin"), 0);
	cr_assert_eq(t, gap_after);
	cr_assert_eq(adp_time_parse(&t, "2018-03-25 01:30:00", "Europe/Berlin"), 0);
	cr_assert_eq(t, gap_after - HOUR);
}

Test(time_zones, half_hour_gap_of_lord_howe)
{
	int64_t t = 0;

	/* Lord Howe moves from +10:30 to +11:00 at 02:00 local on 2018-10-07. */
	cr_assert_eq(adp_time_skipped("2018-10-07 02:15:00", "Australia/Lord_Howe"), 1);
	cr_assert_eq(adp_time_parse(&t, "2018-10-07 02:30:00", "Australia/Lord_Howe"), 0);
	cr_assert_eq(t, 1538839800 /* 2018-10-06T15:30:00Z */, "got %lld", (long long)t);
}

Test(time_zones, extreme_values_format)
{
	char buf[40];

	/* Negating INT64_MIN was undefined behaviour. */
	adp_duration_format(buf, INT64_MIN);
	cr_assert_str_eq(buf, "-2562047788015215h30m8s");
	adp_duration_format(buf, INT64_MAX);
	cr_assert_str_eq(buf, "2562047788015215h30m7s");
	/* gmtime_r fails past year 2^31: the fields were formatted unset. */
	adp_time_format(buf, INT64_MAX);
	cr_assert_str_eq(buf, "(time out of range)");
	adp_time_format_tz(buf, INT64_MAX, "Europe/Berlin");
	cr_assert_str_eq(buf, "(time out of range)");
}

/* Messages: the window's zone with its offset, and UTC beside it only
 * where the clocks differ. */
Test(time_zones, message_times)
{
	char buf[64];

	adp_time_format_msg(buf, 1525568400, "Europe/Berlin"); /* 2018-05-06T01:00:00Z */
	cr_assert_str_eq(buf, "2018-05-06T03:00:00+02:00 (01:00 UTC)");
	adp_time_format_msg(buf, 1525568400, "UTC");
	cr_assert_str_eq(buf, "2018-05-06T01:00:00Z");
	adp_time_format_msg(buf, 1525568400, NULL);
	cr_assert_str_eq(buf, "2018-05-06T01:00:00Z");
	adp_time_format_msg(buf, 1544058000, "Europe/London"); /* 2018-12-06T01:00:00Z: GMT, UTC's clock */
	cr_assert_str_eq(buf, "2018-12-06T01:00:00+00:00");
	adp_time_format_msg(buf, INT64_MAX, "Europe/Berlin");
	cr_assert_str_eq(buf, "(time out of range)");
}
