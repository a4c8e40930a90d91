#include "util/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"

/* Days since the epoch for a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

static int64_t utc_from_fields(int y, int mo, int d, int h, int mi, int s)
{
	return days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s;
}

/* The zone database is only reachable through TZ, so it is switched for
 * one conversion and restored. Returns the saved value to pass back. */
static int tz_enter(const char *tz, char **saved)
{
	const char *old = getenv("TZ");

	*saved = NULL;
	if (old && !(*saved = strdup(old)))
		return ADP_ENOMEM;
	setenv("TZ", tz, 1);
	tzset();
	return 0;
}

static void tz_leave(char *saved)
{
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
}

/* Whether instant t reads as the wall-clock fields in the current TZ. */
static int reads_as(int64_t t, int y, int mo, int d, int h, int mi, int s)
{
	time_t tt = (time_t)t;
	struct tm tm;

	return localtime_r(&tt, &tm) && tm.tm_year == y - 1900 && tm.tm_mon == mo - 1 && tm.tm_mday == d &&
	       tm.tm_hour == h && tm.tm_min == mi && tm.tm_sec == s;
}

/* Converts a wall-clock time in zone tz to UTC. mktime's answer for a
 * time the clocks pass twice depends on what was converted before it
 * (tm_isdst=-1), so the instants are found from the zone's offsets a day
 * either side (transitions are further apart than that): a time in a
 * fold is its earlier instant, and a time in a gap (the clocks skip it)
 * is LOCAL_GAP. */
enum { LOCAL_GAP = 1 };

static int local_to_utc(int64_t *out, int y, int mo, int d, int h, int mi, int s, const char *tz)
{
	char *saved;
	int64_t naive = utc_from_fields(y, mo, d, h, mi, s), best = 0, t;
	int found = 0, i;

	if (!tz || !strcmp(tz, "UTC") || !strcmp(tz, "Z")) {
		*out = naive;
		return 0;
	}
	if (tz_enter(tz, &saved))
		return ADP_ENOMEM;
	for (i = -1; i <= 1; i++) {
		time_t probe = (time_t)(naive + i * 86400);
		struct tm tm;

		if (!localtime_r(&probe, &tm))
			continue;
		t = naive - tm.tm_gmtoff;
		if (reads_as(t, y, mo, d, h, mi, s) && (!found || t < best)) {
			best = t;
			found = 1;
		}
	}
	tz_leave(saved);
	if (!found)
		return LOCAL_GAP;
	*out = best;
	return 0;
}

int adp_tz_valid(const char *tz)
{
	char path[512];

	if (!tz || !*tz || strstr(tz, ".."))
		return 0;
	if (!strcmp(tz, "UTC"))
		return 1;
	/* A cut name could name another zone: too long is not a zone. A
	 * predicate sets no message. */
	if ((size_t)snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz) >= sizeof(path))
		return 0;
	return access(path, R_OK) == 0;
}

static int parse_int(const char **p, int digits, int *out)
{
	int v = 0, i;

	for (i = 0; i < digits; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += digits;
	*out = v;
	return 0;
}

static int parse_epoch(int64_t *out, const char *s, int64_t divisor)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s)
		return ADP_EINPUT;
	/* Accept a fractional part on epoch seconds ("1375308176.0"). */
	if (*end == '.') {
		end++;
		while (isdigit((unsigned char)*end))
			end++;
	}
	if (*end)
		return ADP_EINPUT;
	*out = v / divisor;
	return 0;
}

static int parse_iso(int64_t *out, const char *s, const char *tz)
{
	const char *p = s;
	int y, mo, d, h, mi, sec = 0, oh, om, sign;
	int64_t t;

	if (parse_int(&p, 4, &y) || *p++ != '-' || parse_int(&p, 2, &mo) || *p++ != '-' ||
	    parse_int(&p, 2, &d))
		return ADP_EINPUT;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return ADP_EINPUT;
	p++;
	if (parse_int(&p, 2, &h) || *p++ != ':' || parse_int(&p, 2, &mi))
		return ADP_EINPUT;
	if (*p == ':') {
		p++;
		if (parse_int(&p, 2, &sec))
			return ADP_EINPUT;
		if (*p == '.') {
			p++;
			if (!isdigit((unsigned char)*p))
				return ADP_EINPUT;
			while (isdigit((unsigned char)*p))
				p++;
		}
	}
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
		return ADP_EINPUT;
	if (sec == 60)
		sec = 59;
	if (*p == 'Z' || *p == 'z') {
		if (p[1])
			return ADP_EINPUT;
		*out = utc_from_fields(y, mo, d, h, mi, sec);
		return 0;
	}
	if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (parse_int(&p, 2, &oh) || *p++ != ':' || parse_int(&p, 2, &om) || *p || oh > 23 || om > 59)
			return ADP_EINPUT;
		*out = utc_from_fields(y, mo, d, h, mi, sec) - sign * (oh * 3600 + om * 60);
		return 0;
	}
	if (*p)
		return ADP_EINPUT;
	if (local_to_utc(&t, y, mo, d, h, mi, sec, tz))
		return ADP_EINPUT;
	*out = t;
	return 0;
}

int adp_time_skipped(const char *s, const char *tz)
{
	int64_t t;
	int y, mo, d, h, mi, sec = 0;
	const char *p = s;

	/* Only the offset-less ISO forms are read in a zone. */
	if (!s || adp_time_parse(&t, s, NULL) || strlen(s) < 16 || s[4] != '-' || parse_int(&p, 4, &y) ||
	    *p++ != '-' || parse_int(&p, 2, &mo) || *p++ != '-' || parse_int(&p, 2, &d) || !*p++ ||
	    parse_int(&p, 2, &h) || *p++ != ':' || parse_int(&p, 2, &mi))
		return 0;
	if (*p == ':' && (p++, parse_int(&p, 2, &sec)))
		return 0;
	if (strpbrk(p, "Zz+-"))
		return 0;
	return local_to_utc(&t, y, mo, d, h, mi, sec == 60 ? 59 : sec, tz) == LOCAL_GAP;
}

int adp_time_parse(int64_t *out, const char *s, const char *tz)
{
	if (!s || !*s)
		return ADP_EINPUT;
	if (strlen(s) >= 10 && s[4] == '-')
		return parse_iso(out, s, tz);
	return parse_epoch(out, s, 1);
}

int adp_time_parse_format(int64_t *out, const char *s, const char *format, const char *tz)
{
	struct tm tm = { 0 };
	const char *end;
	int64_t t;

	if (!format || !strcmp(format, "auto"))
		return adp_time_parse(out, s, tz);
	if (!strcmp(format, "rfc3339") || !strcmp(format, "iso8601"))
		return strlen(s) >= 10 && s[4] == '-' ? parse_iso(out, s, tz) : ADP_EINPUT;
	if (!strcmp(format, "epoch"))
		return parse_epoch(out, s, 1);
	if (!strcmp(format, "epoch_ms"))
		return parse_epoch(out, s, 1000);
	end = strptime(s, format, &tm);
	if (!end || *end)
		return ADP_EINPUT;
	if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > days_in_month(tm.tm_year + 1900, tm.tm_mon + 1))
		return ADP_EINPUT;
	if (local_to_utc(&t, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, tz))
		return ADP_EINPUT;
	*out = t;
	return 0;
}

void adp_time_format(char buf[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	/* Beyond what struct tm can hold (years past 2^31): say so rather
	 * than format fields gmtime_r left unset. */
	if (!gmtime_r(&tt, &tm)) {
		snprintf(buf, 32, "(time out of range)");
		return;
	}
	/* %Y does not pad years before 1000 to the four digits the parser reads. */
	/* The fields are in range; % 100 tells the compiler so (at most 27
	 * bytes: an 11-digit year). */
	snprintf(buf, 32, "%04d-%02u-%02uT%02u:%02u:%02uZ", tm.tm_year + 1900, (unsigned)(tm.tm_mon + 1) % 100,
		 (unsigned)tm.tm_mday % 100, (unsigned)tm.tm_hour % 100, (unsigned)tm.tm_min % 100,
		 (unsigned)tm.tm_sec % 100);
}

void adp_time_format_tz(char buf[40], int64_t t, const char *tz)
{
	char *saved;
	time_t tt = (time_t)t;
	struct tm tm;
	char off[8];

	if (!tz || !strcmp(tz, "UTC") || tz_enter(tz, &saved)) {
		adp_time_format(buf, t);
		return;
	}
	if (!localtime_r(&tt, &tm)) {
		tz_leave(saved);
		adp_time_format(buf, t);
		return;
	}
	snprintf(buf, 40, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec);
	strftime(off, sizeof(off), "%z", &tm);
	tz_leave(saved);
	/* %z gives +0200; RFC 3339 wants +02:00. At most 6 more bytes after
	 * the 19 to 26 of the date: they always fit. */
	snprintf(buf + strlen(buf), 40 - strlen(buf), "%.3s:%.2s", off, off + 3);
}

void adp_time_format_msg(char buf[64], int64_t t, const char *tz)
{
	char local[40], utc[32];

	adp_time_format_tz(local, t, tz);
	adp_time_format(utc, t);
	if (!strncmp(local, utc, 19))
		snprintf(buf, 64, "%s", local);
	else
		snprintf(buf, 64, "%s (%.5s UTC)", local, utc + 11);
}

int adp_duration_parse(int64_t *out, const char *s)
{
	const char *p = s;
	int64_t total = 0;
	int any = 0;

	if (!s || !*s)
		return ADP_EINPUT;
	while (*p) {
		char *end;
		long long v;
		int64_t mult;

		if (!isdigit((unsigned char)*p))
			return ADP_EINPUT;
		errno = 0;
		v = strtoll(p, &end, 10);
		if (errno || v < 0 || v > 100LL * 365 * 86400)
			return ADP_EINPUT;
		switch (*end) {
		case '\0': mult = 1; break;
		case 's': mult = 1; end++; break;
		case 'm': mult = 60; end++; break;
		case 'h': mult = 3600; end++; break;
		case 'd': mult = 86400; end++; break;
		case 'w': mult = 7 * 86400; end++; break;
		default: return ADP_EINPUT;
		}
		total += v * mult;
		if (total > 100LL * 365 * 86400)
			return ADP_EINPUT;
		any = 1;
		p = end;
	}
	if (!any)
		return ADP_EINPUT;
	*out = total;
	return 0;
}

void adp_duration_format(char buf[32], int64_t secs)
{
	/* The magnitude as unsigned: negating INT64_MIN is undefined. */
	uint64_t mag = secs < 0 ? -(uint64_t)secs : (uint64_t)secs;
	unsigned long long h = mag / 3600, m = mag % 3600 / 60, s = mag % 60;
	int n = 0;

	/* At most "-" and 16 + 3 + 3 bytes ("2562047788015215h30m8s"): these
	 * never reach 32. */
	buf[0] = '\0';
	if (secs < 0)
		n = snprintf(buf, 32, "-");
	if (h)
		n += snprintf(buf + n, 32 - n, "%lluh", h);
	if (m)
		n += snprintf(buf + n, 32 - n, "%llum", m);
	if (s || (!h && !m))
		snprintf(buf + n, 32 - n, "%llus", s);
}

int adp_quantity_parse(double *out, const char *s)
{
	static const struct {
		const char *suffix;
		double mult;
	} units[] = {
		{ "Kibit", 1024.0 / 8 }, { "Mibit", 1048576.0 / 8 }, { "Gibit", 1073741824.0 / 8 },
		{ "kbit", 1e3 / 8 }, { "Kbit", 1e3 / 8 }, { "Mbit", 1e6 / 8 }, { "Gbit", 1e9 / 8 }, { "Tbit", 1e12 / 8 },
		{ "KiB", 1024.0 }, { "MiB", 1048576.0 }, { "GiB", 1073741824.0 }, { "TiB", 1099511627776.0 },
		{ "Ki", 1024.0 }, { "Mi", 1048576.0 }, { "Gi", 1073741824.0 }, { "Ti", 1099511627776.0 },
		{ "kB", 1e3 }, { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { "TB", 1e12 },
		{ "k", 1e3 }, { "K", 1e3 }, { "M", 1e6 }, { "G", 1e9 }, { "T", 1e12 },
		{ "B", 1 }, { "", 1 },
	};
	char *end;
	double v;
	size_t i, n;

	if (!s || !*s)
		return ADP_EINPUT;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return ADP_EINPUT;
	while (*end == ' ')
		end++;
	n = strlen(end);
	if (n >= 2 && !strcmp(end + n - 2, "/s"))
		n -= 2;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strlen(units[i].suffix) == n && !strncmp(end, units[i].suffix, n)) {
			*out = v * units[i].mult;
			return 0;
		}
	}
	return ADP_EINPUT;
}

void adp_bytes_format(char buf[32], double bytes)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	int i = 0;

	while (fabs(bytes) >= 1024 && i < 5) {
		bytes /= 1024;
		i++;
	}
	/* Display only: an absurd size (some 10^24 PiB) may be cut. */
	snprintf(buf, 32, i ? "%.1f %s" : "%.0f %s", bytes, unit[i]);
}
