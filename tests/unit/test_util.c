/* util/: SHA-256, time and quantity parsing, the capped buffer, files
 * and JSON error locations. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/helpers.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/fault.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/sha256.h"
#include "util/timeutil.h"

/* 2018-05-06T00:00:00Z: 17657 days after the epoch (date -u -d @1525564800). */
#define MAY6 1525564800LL

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = s };
	return (int64_t)timegm(&tm);
}

/* s (in zone tz, NULL: UTC) must parse to want. */
static void expect_time(const char *s, const char *tz, int64_t want)
{
	int64_t t;

	cr_assert_eq(adp_time_parse(&t, s, tz), 0, "'%s': %s", s, adp_error_last());
	cr_assert_eq(t, want, "'%s' gave %lld, expected %lld", s, (long long)t, (long long)want);
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* ---- SHA-256: FIPS 180-2 appendix B and the NIST examples ---- */

Test(sha256, empty)
{
	char hex[65];

	adp_sha256_hex("", 0, hex);
	cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(sha256, abc)
{
	char hex[65];

	adp_sha256_hex("abc", 3, hex);
	cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* RFC 4231 test cases 1 and 6 (a key longer than the block). */
Test(sha256, hmac_rfc4231)
{
	unsigned char k1[20], k6[131];
	const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
	char hex[65];

	memset(k1, 0x0b, sizeof(k1));
	memset(k6, 0xaa, sizeof(k6));
	adp_hmac_sha256_hex(k1, sizeof(k1), "Hi There", 8, hex);
	cr_assert_str_eq(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	adp_hmac_sha256_hex(k6, sizeof(k6), m6, strlen(m6), hex);
	cr_assert_str_eq(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

Test(sha256, two_blocks_448_bits)
{
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char hex[65];

	cr_assert_eq(strlen(m), 56);
	adp_sha256_hex(m, strlen(m), hex);
	cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(sha256, million_a_in_uneven_chunks)
{
	static char a[1000];
	struct adp_sha256 c;
	char hex[65];
	size_t done = 0, chunk = 1;

	memset(a, 'a', sizeof(a));
	adp_sha256_init(&c);
	/* Chunk sizes 1, 8, 64, 512, 999, ...: crossing block edges every way. */
	while (done < 1000000) {
		size_t n = chunk < 1000000 - done ? chunk : 1000000 - done;
		adp_sha256_update(&c, a, n);
		done += n;
		chunk = chunk >= 512 ? 999 : chunk * 8;
	}
	adp_sha256_final_hex(&c, hex);
	cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

Test(sha256, file_matches_memory, .init = t_setup, .fini = t_teardown)
{
	char hex[65];

	cr_assert_eq(adp_sha256_file(hex, t_write("abc.txt", "abc")), 0);
	cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	cr_assert_eq(adp_sha256_file(hex, t_write("empty.txt", "")), 0);
	cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(sha256, file_missing, .init = t_setup, .fini = t_teardown)
{
	char hex[65] = "unchanged";

	cr_assert_eq(adp_sha256_file(hex, t_path("nope")), ADP_ESYS);
	t_assert_msg("nope");
}

/* ---- times ---- */

Test(time, rfc3339_utc)
{
	expect_time("2018-05-06T00:00:00Z", NULL, MAY6);
	expect_time("2018-05-06T01:02:03Z", NULL, MAY6 + 3723);
	cr_assert_eq(MAY6 + 3723, utc(2018, 5, 6, 1, 2, 3));
	expect_time("1970-01-01T00:00:00Z", NULL, 0);
}

Test(time, rfc3339_offsets)
{
	expect_time("2018-05-06T03:00:00+02:00", NULL, MAY6 + 3600);
	expect_time("2018-05-05T19:30:00-05:30", NULL, MAY6 + 3600);
	/* The offset wins over the zone argument. */
	expect_time("2018-05-06T01:00:00+00:00", "Europe/Berlin", MAY6 + 3600);
}

Test(time, fractional_seconds_truncate)
{
	int64_t t;

	expect_time("2018-05-06T00:00:07.999Z", NULL, MAY6 + 7);
	expect_time("2018-05-06T02:00:00.5+02:00", NULL, MAY6);
	cr_assert_eq(adp_time_parse(&t, "2018-05-06T00:00:00.Z", NULL), ADP_EINPUT);
}

Test(time, space_form_and_epoch)
{
	expect_time("2018-05-06 00:10:00", NULL, MAY6 + 600);
	expect_time("2018-05-06T00:10:00", NULL, MAY6 + 600);
	expect_time("1525564800", NULL, MAY6);
	expect_time("1375308176.0", NULL, 1375308176);
}

Test(time, leap_day)
{
	expect_time("2016-02-29T00:00:00Z", NULL, utc(2016, 2, 29, 0, 0, 0));
	expect_time("2000-02-29T12:00:00Z", NULL, utc(2000, 2, 29, 12, 0, 0));
}

Test(time, invalid_leaves_output)
{
	static const char *const bad[] = {
		"2018-02-30T00:00:00Z", "2018-13-01T00:00:00Z", "2018-00-10T00:00:00Z",
		"2019-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2018-05-06T24:00:00Z",
		"2018-05-06T00:60:00Z", "2018-05-06T00:00:00Zjunk", "2018-05-06T00:00:00+02:00x",
		"2018-05-06T00:00:00 junk", "2018-05-06X00:00:00Z", "2018-5-6T00:00:00Z",
		"1525564800x", "", "tomorrow", "2018-05-06T00:00:00+2:00",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t = 42;
		cr_assert_eq(adp_time_parse(&t, bad[i], NULL), ADP_EINPUT, "accepted '%s'", bad[i]);
		cr_assert_eq(t, 42, "'%s' wrote the output on failure", bad[i]);
	}
}

Test(time, zone_dst_berlin)
{
	const char *tz0 = getenv("TZ");
	char *saved = tz0 ? strdup(tz0) : NULL;
	/* CEST (+02:00) in July, CET (+01:00) in January. */
	expect_time("2018-07-01 12:00:00", "Europe/Berlin", utc(2018, 7, 1, 10, 0, 0));
	expect_time("2018-01-15 12:00:00", "Europe/Berlin", utc(2018, 1, 15, 11, 0, 0));
	/* The process's own TZ is restored afterwards. */
	if (saved)
		cr_assert_str_eq(getenv("TZ"), saved);
	else
		cr_assert_null(getenv("TZ"));
	free(saved);
}

Test(time, parse_format_strptime)
{
	int64_t t;

	cr_assert_eq(adp_time_parse_format(&t, "2014-02-14 14:27:00", "%Y-%m-%d %H:%M:%S", NULL), 0);
	cr_assert_eq(t, utc(2014, 2, 14, 14, 27, 0));
	cr_assert_eq(adp_time_parse_format(&t, "06/05/2018 01:00", "%d/%m/%Y %H:%M", NULL), 0);
	cr_assert_eq(t, MAY6 + 3600);
	cr_assert_eq(adp_time_parse_format(&t, "06/05/2018 01:00", "%d/%m/%Y %H:%M", "Europe/Berlin"), 0);
	cr_assert_eq(t, MAY6 - 3600);
	cr_assert_eq(adp_time_parse_format(&t, "2018-01-15 12:00:00", "%Y-%m-%d %H:%M:%S",
					   "Europe/Berlin"), 0);
	cr_assert_eq(t, utc(2018, 1, 15, 11, 0, 0));
	cr_assert_eq(adp_time_parse_format(&t, "2018-02-30 00:00:00", "%Y-%m-%d %H:%M:%S", NULL),
		     ADP_EINPUT);
	cr_assert_eq(adp_time_parse_format(&t, "2018-05-06 00:00:00 x", "%Y-%m-%d %H:%M:%S", NULL),
		     ADP_EINPUT);
}

Test(time, parse_format_named)
{
	int64_t t;

	cr_assert_eq(adp_time_parse_format(&t, "1525564800123", "epoch_ms", NULL), 0);
	cr_assert_eq(t, MAY6);
	cr_assert_eq(adp_time_parse_format(&t, "1525564800", "epoch", NULL), 0);
	cr_assert_eq(t, MAY6);
	cr_assert_eq(adp_time_parse_format(&t, "2018-05-06T00:00:00Z", "rfc3339", NULL), 0);
	cr_assert_eq(t, MAY6);
	cr_assert_eq(adp_time_parse_format(&t, "1525564800", "rfc3339", NULL), ADP_EINPUT);
	cr_assert_eq(adp_time_parse_format(&t, "2018-05-06T00:00:00Z", "epoch", NULL), ADP_EINPUT);
	cr_assert_eq(adp_time_parse_format(&t, "1525564800", "auto", NULL), 0);
	cr_assert_eq(t, MAY6);
}

Test(time, format_round_trip)
{
	char buf[32], tzbuf[40];
	int64_t t;

	adp_time_format(buf, MAY6 + 3600);
	cr_assert_str_eq(buf, "2018-05-06T01:00:00Z");
	cr_assert_eq(adp_time_parse(&t, buf, NULL), 0);
	cr_assert_eq(t, MAY6 + 3600);
	adp_time_format_tz(tzbuf, MAY6 + 3600, "Europe/Berlin");
	cr_assert_str_eq(tzbuf, "2018-05-06T03:00:00+02:00");
	cr_assert_eq(adp_time_parse(&t, tzbuf, NULL), 0);
	cr_assert_eq(t, MAY6 + 3600);
}

/* Found by tests/fuzz/timeutil.c: years before 1000 were written with
 * fewer than four digits, which the parser then refused. */
Test(time, early_years_written_with_four_digits)
{
	char buf[32], tzbuf[40];
	int64_t t;

	cr_assert_eq(adp_time_parse(&t, "0016-12-31T23:59:59Z", NULL), 0);
	adp_time_format(buf, t);
	cr_assert_str_eq(buf, "0016-12-31T23:59:59Z");
	adp_time_format_tz(tzbuf, t, "UTC");
	cr_assert_str_eq(tzbuf, "0016-12-31T23:59:59Z");
	cr_assert_eq(adp_time_parse(&t, "0999-01-01T00:00:00Z", NULL), 0);
	adp_time_format(buf, t);
	cr_assert_str_eq(buf, "0999-01-01T00:00:00Z");
}

Test(time, tz_valid)
{
	cr_assert(adp_tz_valid("UTC"));
	cr_assert(adp_tz_valid("Europe/Berlin"));
	cr_assert_not(adp_tz_valid("Mars/Olympus_Mons"));
	cr_assert_not(adp_tz_valid("../../etc/passwd"));
	cr_assert_not(adp_tz_valid(""));
}

/* ---- durations ---- */

Test(duration, parse)
{
	static const struct { const char *s; int64_t v; } ok[] = {
		{ "90", 90 }, { "90s", 90 }, { "40m", 2400 }, { "1h30m", 5400 },
		{ "2d", 172800 }, { "1w", 604800 }, { "1d2h3m4s", 93784 }, { "0", 0 },
	};
	static const char *const bad[] = { "", "m", "5x", "-5m", "1.5h", "1h 30m", "40m!" };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t v = -1;
		cr_assert_eq(adp_duration_parse(&v, ok[i].s), 0, "'%s'", ok[i].s);
		cr_assert_eq(v, ok[i].v, "'%s' gave %lld", ok[i].s, (long long)v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t v = 7;
		cr_assert_eq(adp_duration_parse(&v, bad[i]), ADP_EINPUT, "accepted '%s'", bad[i]);
		cr_assert_eq(v, 7);
	}
}

Test(duration, format_and_back)
{
	static const struct { int64_t v; const char *s; } cases[] = {
		{ 5400, "1h30m" }, { 2400, "40m" }, { 45, "45s" }, { 0, "0s" },
		{ 3600, "1h" }, { 3661, "1h1m1s" }, { 90000, "25h" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[32];
		int64_t back;

		adp_duration_format(buf, cases[i].v);
		cr_assert_str_eq(buf, cases[i].s);
		cr_assert_eq(adp_duration_parse(&back, buf), 0);
		cr_assert_eq(back, cases[i].v);
	}
}

/* ---- quantities ---- */

Test(quantity, units)
{
	static const struct { const char *s; double v; } ok[] = {
		{ "16GiB", 16.0 * 1024 * 1024 * 1024 },
		{ "512Mi", 512.0 * 1024 * 1024 },
		{ "1Gbit/s", 125e6 },
		{ "100MB/s", 100e6 },
		{ "1.5G", 1.5e9 },
		{ "4KiB", 4096 },
		{ "10 MB", 10e6 },
		{ "7", 7 },
		{ "0.5", 0.5 },
		{ "8Mbit", 1e6 },
	};
	static const char *const bad[] = { "16GB/x", "5XB", "abc", "-1", "", "GiB", "1e999", "16 GiBs" };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		double v = -1;
		cr_assert_eq(adp_quantity_parse(&v, ok[i].s), 0, "'%s'", ok[i].s);
		cr_assert_float_eq(v, ok[i].v, 1e-9 * ok[i].v + 1e-12, "'%s' gave %g", ok[i].s, v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		double v = 3;
		cr_assert_eq(adp_quantity_parse(&v, bad[i]), ADP_EINPUT, "accepted '%s'", bad[i]);
		cr_assert_eq(v, 3);
	}
}

Test(quantity, bytes_format)
{
	char buf[32];

	adp_bytes_format(buf, 1.5 * 1024 * 1024 * 1024);
	cr_assert_str_eq(buf, "1.5 GiB");
	adp_bytes_format(buf, 512);
	cr_assert_str_eq(buf, "512 B");
}

/* ---- the capped buffer ---- */

Test(buf, cap_refuses_and_keeps_contents)
{
	struct adp_buf b;

	adp_buf_init(&b, 8);
	cr_assert_str_eq(adp_buf_str(&b), "");
	cr_assert_eq(adp_buf_adds(&b, "12345"), 0);
	cr_assert_eq(adp_buf_adds(&b, "6789"), ADP_ENOMEM);
	t_assert_msg("limit of 8 bytes");
	cr_assert_str_eq(adp_buf_str(&b), "12345");
	cr_assert_eq(b.len, 5);
	cr_assert_eq(adp_buf_addf(&b, "%d", 6789), ADP_ENOMEM);
	cr_assert_str_eq(adp_buf_str(&b), "12345");
	cr_assert_eq(adp_buf_addf(&b, "%d", 678), 0);
	cr_assert_str_eq(adp_buf_str(&b), "12345678");
	cr_assert_eq(adp_buf_add(&b, "x", 1), ADP_ENOMEM);
	cr_assert_eq(adp_buf_add(&b, "", 0), 0);
	cr_assert_eq(b.len, 8);
	adp_buf_release(&b);
}

Test(buf, huge_request_does_not_overflow)
{
	struct adp_buf b;

	adp_buf_init(&b, 16);
	cr_assert_eq(adp_buf_adds(&b, "abc"), 0);
	cr_assert_eq(adp_buf_add(&b, "x", (size_t)-1), ADP_ENOMEM);
	cr_assert_str_eq(adp_buf_str(&b), "abc");
	adp_buf_release(&b);
}

Test(buf, grows_detach_reset)
{
	struct adp_buf b = ADP_BUF_INIT;
	char *s;
	int i;

	for (i = 0; i < 1000; i++)
		cr_assert_eq(adp_buf_addf(&b, "%03d,", i), 0);
	cr_assert_eq(b.len, 4000);
	cr_assert_eq(strncmp(adp_buf_str(&b) + 3996, "999,", 4), 0);
	adp_buf_reset(&b);
	cr_assert_str_eq(adp_buf_str(&b), "");
	cr_assert_eq(adp_buf_adds(&b, "kept"), 0);
	s = adp_buf_detach(&b);
	cr_assert_str_eq(s, "kept");
	cr_assert_eq(b.len, 0);
	cr_assert_null(b.data);
	free(s);
	s = adp_buf_detach(&b);
	cr_assert_str_eq(s, "");
	free(s);
	adp_buf_release(&b);
}

/* ---- files ---- */

Test(fsutil, write_atomic_content_and_no_temp, .init = t_setup, .fini = t_teardown)
{
	const char *path = t_path("out.json");
	char *text = NULL;
	size_t len = 0;
	struct stat st;

	cr_assert_eq(adp_write_atomic(path, "hello\n", 6), 0);
	cr_assert_eq(adp_read_file(&text, &len, path, 100), 0);
	cr_assert_eq(len, 6);
	cr_assert_str_eq(text, "hello\n");
	free(text);
	/* Replacing keeps exactly one file. */
	cr_assert_eq(adp_write_atomic(path, "bye", 3), 0);
	cr_assert_eq(adp_read_file(&text, &len, path, 100), 0);
	cr_assert_str_eq(text, "bye");
	free(text);
	cr_assert_eq(count_entries(t_dir), 1);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0644);
}

Test(fsutil, write_atomic_missing_dir, .init = t_setup, .fini = t_teardown)
{
	const char *path = t_path("missing/out.json");
	struct stat st;

	cr_assert_eq(adp_write_atomic(path, "x", 1), ADP_ESYS);
	t_assert_msg("out.json");
	cr_assert_neq(stat(path, &st), 0);
	cr_assert_eq(count_entries(t_dir), 0);
}

/* A write that finds the disk full releases the reserve once and lands
 * in its room; a symbolic link is never followed to make one. */
Test(fsutil, reserve_makes_room_once, .init = t_setup, .fini = t_teardown)
{
	char why[512] = "";
	struct stat st;

	cr_assert_eq(adp_reserve_make(t_path("reserve"), 65536), 0, "%s", adp_error_last());
	cr_assert_eq(stat(t_path("reserve"), &st), 0);
	cr_assert_geq(st.st_blocks * 512, 65536);
	cr_assert_eq(adp_reserve_released(why, sizeof(why)), 0);
	adp_fault_arm(ADP_FAULT_WRITE, 1, 1);
	cr_assert_eq(adp_write_atomic(t_path("out"), "x", 1), 0, "%s", adp_error_last());
	cr_assert_neq(stat(t_path("reserve"), &st), 0, "released");
	cr_assert_eq(adp_reserve_released(why, sizeof(why)), 1);
	cr_assert(strstr(why, "No space left on device"), "%s", why);
	/* Released once: the next full disk is an error. */
	adp_fault_arm(ADP_FAULT_WRITE, 1, 1);
	cr_assert_eq(adp_write_atomic(t_path("out"), "y", 1), ADP_ESYS);
	adp_fault_arm(ADP_FAULT_WRITE, 0, 0);
	cr_assert_eq(adp_reserve_release(), 0);
	cr_assert_eq(symlink(t_path("victim"), t_path("link")), 0);
	cr_assert_eq(adp_reserve_make(t_path("link"), 4096), ADP_ESYS);
	t_assert_msg("symbolic link");
	cr_assert_neq(stat(t_path("victim"), &st), 0);
	/* Made again, it is held and not released. */
	cr_assert_eq(adp_reserve_make(t_path("reserve"), 4096), 0);
	cr_assert_eq(adp_reserve_released(NULL, 0), 0);
	cr_assert_eq(adp_reserve_release(), 1);
}

Test(fsutil, read_file_limit, .init = t_setup, .fini = t_teardown)
{
	char text[101], *out = (char *)"untouched";
	const char *path;
	size_t len = 0;

	memset(text, 'x', 100);
	text[100] = '\0';
	path = t_write("hundred", text);
	cr_assert_eq(adp_read_file(&out, &len, path, 99), ADP_EINPUT);
	t_assert_msg("exceeds the limit of 99 bytes");
	cr_assert_str_eq(out, "untouched");
	cr_assert_eq(adp_read_file(&out, &len, path, 100), 0);
	cr_assert_eq(len, 100);
	cr_assert_eq(strlen(out), 100);
	free(out);
	cr_assert_eq(adp_read_file(&out, &len, t_path("nope"), 100), ADP_EINPUT);
	t_assert_msg("cannot open");
	cr_assert_eq(adp_read_file(&out, &len, t_dir, 100), ADP_EINPUT);
	t_assert_msg("is a directory");
}

Test(fsutil, path_relative_to)
{
	char *p;

	p = adp_path_relative_to("conf/inventory.json", "history/a.csv");
	cr_assert_str_eq(p, "conf/history/a.csv");
	free(p);
	p = adp_path_relative_to("inventory.json", "history/a.csv");
	cr_assert_str_eq(p, "history/a.csv");
	free(p);
	p = adp_path_relative_to("conf/inventory.json", "/srv/a.csv");
	cr_assert_str_eq(p, "/srv/a.csv");
	free(p);
}

/* ---- JSON locations ---- */

static const char json_text[] =
	"{\n"
	"  \"partitions\": [\n"
	"    {\"name\": \"a\"},\n"
	"    {\n"
	"      \"name\": \"b\",\n"
	"      \"capacity\": {\"cpu\": 4,\n"
	"        \"memory\": \"8GiB\"}\n"
	"    }\n"
	"  ],\n"
	"  \"note\": \"a \\\"quoted\\\" [string]\"\n"
	"}\n";

Test(json, path_line)
{
	cr_assert_eq(adp_json_path_line(json_text, "partitions"), 2);
	cr_assert_eq(adp_json_path_line(json_text, "partitions[0]"), 3);
	cr_assert_eq(adp_json_path_line(json_text, "partitions[0].name"), 3);
	cr_assert_eq(adp_json_path_line(json_text, "partitions[1]"), 4);
	cr_assert_eq(adp_json_path_line(json_text, "partitions[1].name"), 5);
	cr_assert_eq(adp_json_path_line(json_text, "partitions[1].capacity.cpu"), 6);
	cr_assert_eq(adp_json_path_line(json_text, "partitions[1].capacity.memory"),
		     t_line_of(json_text, "\"memory\""));
	cr_assert_eq(adp_json_path_line(json_text, "note"), 10);
	cr_assert_eq(adp_json_path_line(json_text, "partitions[2]"), 0);
	cr_assert_eq(adp_json_path_line(json_text, "nothing"), 0);
}

/* Text that is not JSON ends the scan (it looped forever on "[}"). */
Test(json, path_line_of_broken_text_ends, .timeout = 10)
{
	static const char *const bad[] = { "[}", "[,]", "{\"a\":}", "[[}]", "{\"a\": [1, }]}" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(adp_json_path_line(bad[i], "x"), 0, "%s", bad[i]);
	cr_assert_eq(adp_json_path_line("[1, }", "[0]"), 1);
}

Test(json, fail_names_file_line_path)
{
	struct adp_json_doc d;
	json_t *cap;

	cr_assert_eq(adp_json_load_text(&d, "inv.json", json_text), 0);
	cr_assert_eq(adp_json_fail(&d, "partitions[1].capacity.memory", "too %s", "small"), ADP_EINPUT);
	cr_assert_str_eq(adp_error_last(), "inv.json:7: partitions[1].capacity.memory: too small");
	/* A typed getter names the field's own path. */
	cap = json_object_get(json_array_get(json_object_get(d.root, "partitions"), 1), "capacity");
	{
		int64_t dur;
		cr_assert_eq(adp_json_duration(&d, cap, "partitions[1].capacity", "cpu", 1, &dur), 0);
		cr_assert_eq(dur, 4);
		cr_assert_eq(adp_json_duration(&d, cap, "partitions[1].capacity", "memory", 1, &dur),
			     ADP_EINPUT);
		cr_assert_str_eq(adp_error_last(),
				 "inv.json:7: partitions[1].capacity.memory: expected a duration such as \"40m\", \"1h30m\" or seconds");
		cr_assert_eq(adp_json_duration(&d, cap, "partitions[1].capacity", "io", 1, &dur),
			     ADP_EINPUT);
		t_assert_msg("inv.json:6: partitions[1].capacity: missing required field 'io'");
	}
	adp_json_release(&d);
}

Test(json, malformed_line_column)
{
	struct adp_json_doc d;

	cr_assert_eq(adp_json_load_text(&d, "x.json", "{\n  \"a\": 1,\n  \"b\": ]\n}\n"), ADP_EINPUT);
	/* The ']' is the eighth character of line 3. */
	t_assert_msg("x.json:3:8: malformed JSON");
	cr_assert_eq(adp_json_load_text(&d, "x.json", "[1, 2]"), ADP_EINPUT);
	t_assert_msg("x.json:1: expected a JSON object");
	cr_assert_eq(adp_json_load_text(&d, "x.json", "{\"a\": 1, \"a\": 2}"), ADP_EINPUT);
	t_assert_msg("duplicate");
}

Test(json, check_keys_names_unknown)
{
	static const char *const allowed[] = { "partitions", "note", NULL };
	static const char *const narrow[] = { "name", NULL };
	struct adp_json_doc d;
	json_t *p0;

	cr_assert_eq(adp_json_load_text(&d, "inv.json", json_text), 0);
	cr_assert_eq(adp_json_check_keys(&d, d.root, "", allowed), 0);
	p0 = json_array_get(json_object_get(d.root, "partitions"), 1);
	cr_assert_eq(adp_json_check_keys(&d, p0, "partitions[1]", narrow), ADP_EINPUT);
	t_assert_msg("inv.json:6: partitions[1].capacity: unknown field; expected one of: name");
	adp_json_release(&d);
}

Test(error, wrap_and_clear)
{
	cr_assert_eq(adp_error_set(ADP_EINPUT, "inner %d", 1), ADP_EINPUT);
	cr_assert_eq(adp_error_wrap(ADP_EINPUT, "outer"), ADP_EINPUT);
	cr_assert_str_eq(adp_error_last(), "outer: inner 1");
	adp_error_clear();
	cr_assert_str_eq(adp_error_last(), "");
}

/* The checked builder: every call that fails is remembered, its value
 * released, and the document reported incomplete once. */
Test(jbuild, records_the_first_failure)
{
	struct adp_jb jb = { 0 };
	json_t *o = json_object(), *a;

	a = adp_jset(&jb, o, "list", json_array());
	cr_assert_not_null(a);
	cr_assert_not_null(adp_jpush(&jb, a, json_integer(1)));
	cr_assert_eq(adp_jb_check(&jb), 0);
	cr_assert_null(adp_jset(&jb, o, "missing", json_string(NULL)));
	cr_assert(jb.failed);
	/* Later calls still work and do not clear the failure. */
	cr_assert_not_null(adp_jset(&jb, o, "after", json_true()));
	cr_assert_null(adp_jpush(&jb, NULL, json_string("owned: released")));
	cr_assert_null(adp_jset(&jb, NULL, "x", json_integer(2)));
	cr_assert_eq(adp_jb_check(&jb), ADP_ENOMEM);
	cr_assert(strstr(adp_error_last(), "out of memory"), "%s", adp_error_last());
	cr_assert_eq(json_object_size(o), 2);
	cr_assert_null(json_object_get(o, "missing"));
	json_decref(o);
}
