/* Time and quantity parsing shared by every input format. Times are
 * int64 seconds since the Unix epoch, UTC. */
#ifndef ADP_TIMEUTIL_H
#define ADP_TIMEUTIL_H

#include <stdint.h>
#include <stddef.h>

/* Accepts RFC 3339 ("2018-05-06T01:00:00Z", "+02:00" offsets, fractional
 * seconds), "YYYY-MM-DD HH:MM:SS" and "YYYY-MM-DDTHH:MM:SS" without an
 * offset (read in tz, an IANA name, or UTC when tz is NULL), and integer
 * epoch seconds. A local time the clocks pass twice (a daylight-saving
 * fold) is its earlier instant; one they skip (a gap) is refused.
 * Returns 0 or ADP_EINPUT (no message set: callers know the location). */
int adp_time_parse(int64_t *out, const char *s, const char *tz);

/* 1 when s is a well-formed local time without an offset that zone tz
 * skips (a daylight-saving gap), else 0: a predicate, for the message of
 * a caller whose adp_time_parse failed. */
int adp_time_skipped(const char *s, const char *tz);

/* Parses in one declared format: "rfc3339", "epoch", "epoch_ms", or a
 * strptime(3) pattern such as "%Y-%m-%d %H:%M:%S". Fails like
 * adp_time_parse. */
int adp_time_parse_format(int64_t *out, const char *s, const char *format, const char *tz);

/* Formats as RFC 3339 UTC ("2018-05-06T01:00:00Z") into buf[32]. */
void adp_time_format(char buf[32], int64_t t);

/* Formats in the IANA zone tz (offset included), or UTC when tz is NULL. */
void adp_time_format_tz(char buf[40], int64_t t, const char *tz);

/* For messages: in the zone tz with its offset and, where its clock is
 * not UTC's, the UTC time beside it ("2018-05-06T03:00:00+02:00 (01:00
 * UTC)"); RFC 3339 UTC when tz is NULL or UTC. */
void adp_time_format_msg(char buf[64], int64_t t, const char *tz);

/* 1 when tz names a zone in the system database, else 0 (a predicate). */
int adp_tz_valid(const char *tz);

/* Durations: "90", "90s", "40m", "1h30m", "2d": seconds in *out. Returns
 * 0 or ADP_EINPUT (no message set, as for adp_time_parse). */
int adp_duration_parse(int64_t *out, const char *s);

/* Formats seconds as "1h30m", "40m", "45s". */
void adp_duration_format(char buf[32], int64_t secs);

/* Quantities with binary/decimal suffixes: "16GiB", "512Mi", "1.5G",
 * "100MB/s", "1Gbit/s" (bits are divided by 8): the value in base units
 * (bytes or bytes/s) in *out. Returns 0 or ADP_EINPUT (no message set). */
int adp_quantity_parse(double *out, const char *s);

/* Human-readable bytes: "1.5 GiB". */
void adp_bytes_format(char buf[32], double bytes);

#endif
