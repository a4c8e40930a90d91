/* forecast/history: the long format's policy (order, duplicates, gaps,
 * resampling, the origin), every input error with its location, and
 * column-mapped real traces. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history/history.h"
#include "tests/unit/helpers.h"
#include "util/error.h"
#include "util/mathutil.h"

#define T0 1525564800LL /* 2018-05-06T00:00:00Z, a multiple of 300 */

static const struct history_opts opts5m = { 300, 3600, 0 };

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = s };
	return (int64_t)timegm(&tm);
}

/* Reads a long-format fixture and returns the code, with h released on error. */
static int load_long(struct history *h, const char *name, const char *text,
		     const struct history_opts *o)
{
	history_init(h);
	return history_add_long_csv(h, t_write(name, text), o);
}

/* Reads a long-format fixture that must load, and returns the series of
 * component comp and resource res, which must be there. */
static const struct series *load_one(struct history *h, const char *name, const char *text,
				     const struct history_opts *o, const char *comp, int res)
{
	const struct series *s;

	cr_assert_eq(load_long(h, name, text, o), 0, "%s", adp_error_last());
	s = history_find(h, comp, res);
	cr_assert_not_null(s, "%s: no %s series for '%s'", name, adp_resource_name(res), comp);
	return s;
}

/* Reads a column-mapped trace that must load (5-minute steps) and
 * returns component comp's series of resource res. */
static const struct series *load_mapped(struct history *h, const char *path, const char *comp,
					const struct history_mapping *m, int res)
{
	const struct series *s;

	history_init(h);
	cr_assert_eq(history_add_mapped_csv(h, path, comp, m, &opts5m), 0, "%s", adp_error_last());
	s = history_find(h, comp, res);
	cr_assert_not_null(s, "%s: no %s series for '%s'", path, adp_resource_name(res), comp);
	return s;
}

static void expect_error(const char *text, const char *needle)
{
	struct history h;
	char full[600];

	cr_assert_eq(load_long(&h, "bad.csv", text, &opts5m), ADP_EINPUT, "accepted:\n%s", text);
	snprintf(full, sizeof(full), "bad.csv%s", needle);
	t_assert_msg(full);
	cr_assert_eq(h.n, 0);
	history_release(&h);
}

TestSuite(history, .init = t_setup, .fini = t_teardown);

Test(history, header_any_order_unsorted_duplicates)
{
	struct history h;
	const struct series *s;
	char text[512];

	snprintf(text, sizeof(text),
		 "value,resource,timestamp,component\n"
		 "3,cpu,%lld,web\n"
		 "1,cpu,%lld,web\n"
		 "2,cpu,%lld,web\n"
		 "4,cpu,%lld,web\n"
		 "100,memory,%lld,web\n",
		 T0 + 600, T0, T0 + 300, T0 + 300, T0);
	cr_assert_eq(load_long(&h, "a.csv", text, &opts5m), 0, "%s", adp_error_last());
	cr_assert_eq(h.n, 2);
	s = history_find(&h, "web", ADP_RES_CPU);
	cr_assert_not_null(s);
	cr_assert_eq(s->start, T0);
	cr_assert_eq(s->step, 300);
	cr_assert_eq(s->n, 3);
	cr_assert_float_eq(s->v[0], 1, 1e-12);
	cr_assert_float_eq(s->v[1], 3, 1e-12); /* mean of 2 and 4 */
	cr_assert_float_eq(s->v[2], 3, 1e-12);
	cr_assert_eq(s->raw_points, 4);
	cr_assert_eq(s->duplicates, 1);
	/* Only the row for T0 goes back in time. */
	cr_assert_eq(s->unsorted, 1);
	cr_assert_eq(s->missing, 0);
	cr_assert_str_eq(s->source, t_path("a.csv"));
	cr_assert_float_eq(series_at(s, T0 + 300), 3, 1e-12);
	cr_assert(isnan(series_at(s, T0 + 900)));
	cr_assert(isnan(series_at(s, T0 + 301)));
	cr_assert(isnan(series_at(s, T0 - 300)));
	s = history_find(&h, "web", ADP_RES_MEMORY);
	cr_assert_not_null(s);
	cr_assert_eq(s->n, 1);
	cr_assert_float_eq(s->v[0], 100, 1e-12);
	cr_assert_null(history_find(&h, "web", ADP_RES_IO));
	cr_assert_null(history_find(&h, "db", ADP_RES_CPU));
	history_release(&h);
}

Test(history, short_gap_interpolated_long_gap_missing)
{
	struct history h;
	const struct series *s;
	char text[512];
	size_t k;

	/* 30 min gap (<= max_gap 1h), then a 2 h gap. */
	snprintf(text, sizeof(text),
		 "timestamp,component,resource,value\n"
		 "%lld,db,cpu,0\n%lld,db,cpu,6\n%lld,db,cpu,10\n",
		 T0, T0 + 1800, T0 + 1800 + 7200);
	s = load_one(&h, "g.csv", text, &opts5m, "db", ADP_RES_CPU);
	cr_assert_eq(s->n, 9000 / 300 + 1);
	for (k = 0; k <= 6; k++)
		cr_assert_float_eq(s->v[k], (double)k, 1e-9, "step %zu", k);
	cr_assert_eq(s->interpolated, 5);
	for (k = 7; k < 30; k++)
		cr_assert(isnan(s->v[k]), "step %zu should be missing", k);
	cr_assert_eq(s->missing, 23);
	cr_assert_float_eq(s->v[30], 10, 1e-12);
	history_release(&h);
}

Test(history, gap_exactly_max_gap_is_interpolated)
{
	struct history h;
	const struct series *s;
	char text[256];

	snprintf(text, sizeof(text), "timestamp,component,resource,value\n%lld,db,cpu,0\n%lld,db,cpu,12\n",
		 T0, T0 + 3600);
	s = load_one(&h, "g.csv", text, &opts5m, "db", ADP_RES_CPU);
	cr_assert_eq(s->missing, 0);
	cr_assert_eq(s->interpolated, 11);
	cr_assert_float_eq(s->v[6], 6, 1e-9);
	history_release(&h);
}

Test(history, hourly_upsampled)
{
	struct history h;
	const struct series *s;
	char text[512];
	size_t k;

	snprintf(text, sizeof(text),
		 "timestamp,component,resource,value\n"
		 "2018-05-06T00:00:00Z,db,net,0\n2018-05-06T01:00:00Z,db,net,12\n2018-05-06T02:00:00Z,db,net,24\n");
	s = load_one(&h, "hourly.csv", text, &opts5m, "db", ADP_RES_NET);
	cr_assert_eq(s->n, 25);
	cr_assert_eq(s->native_step, 3600);
	for (k = 0; k < 25; k++)
		cr_assert_float_eq(s->v[k], (double)k, 1e-9, "step %zu", k);
	cr_assert_eq(s->interpolated, 22);
	history_release(&h);
}

Test(history, fine_samples_averaged_into_steps)
{
	struct history h;
	const struct series *s;
	char text[1024];
	int i, n = 0;

	/* One-minute samples 0..9 fall into two 5-minute steps. */
	n += snprintf(text + n, sizeof(text) - (size_t)n, "timestamp,component,resource,value\n");
	for (i = 0; i < 10; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "%lld,db,io,%d\n", T0 + 60 * i, i);
	s = load_one(&h, "m.csv", text, &opts5m, "db", ADP_RES_IO);
	cr_assert_eq(s->n, 2);
	cr_assert_float_eq(s->v[0], 2, 1e-12);
	cr_assert_float_eq(s->v[1], 7, 1e-12);
	cr_assert_eq(s->native_step, 60);
	history_release(&h);
}

/* The native step is the median gap: here gaps of 300, 60, 600, 120, 120
 * and 900 s, whose sorted middle (the fourth of six) is 300. */
Test(history, native_step_median_of_irregular_gaps)
{
	static const int gaps[] = { 300, 60, 600, 120, 120, 900 };
	struct history h;
	const struct series *s;
	char text[1024];
	long long t = T0;
	int i, n = 0;

	n += snprintf(text + n, sizeof(text) - (size_t)n, "timestamp,component,resource,value\n");
	n += snprintf(text + n, sizeof(text) - (size_t)n, "%lld,db,cpu,1\n", t);
	for (i = 0; i < 6; i++) {
		t += gaps[i];
		n += snprintf(text + n, sizeof(text) - (size_t)n, "%lld,db,cpu,%d\n", t, i + 2);
	}
	s = load_one(&h, "g.csv", text, &opts5m, "db", ADP_RES_CPU);
	cr_assert_eq(s->native_step, 300);
	cr_assert_eq(s->unsorted, 0);
	history_release(&h);
}

/* Values read as strtod reads them, bit for bit, through the fast path for
 * plain decimals (up to 15 digits) and past it: random digit strings with
 * the point anywhere, and the forms the fast path leaves to strtod. */
Test(history, values_read_as_strtod_reads_them)
{
	static const char *fixed[] = { "0", "1.", ".5", "0.1", "0.3475", "123456789012345", "1234567890123456",
				       "0.000000000000001", "9.99999999999999", "00000000000000012.5", "1e3", "2.5E-2" };
	enum { NV = 400 };
	char vals[NV][24], *text = malloc(NV * 64);
	struct history h;
	const struct series *s;
	uint64_t st = 7;
	int i, j, n = 0;

	cr_assert_not_null(text);
	for (i = 0; i < NV; i++) {
		if (i < (int)(sizeof(fixed) / sizeof(fixed[0]))) {
			snprintf(vals[i], sizeof(vals[i]), "%s", fixed[i]);
			continue;
		}
		int nd = 1 + (int)(adp_splitmix64(&st) % 17), point = (int)(adp_splitmix64(&st) % (uint64_t)(nd + 2)), k = 0;

		for (j = 0; j < nd; j++) {
			if (j == point)
				vals[i][k++] = '.';
			vals[i][k++] = (char)('0' + adp_splitmix64(&st) % 10);
		}
		vals[i][k] = 0;
	}
	n += snprintf(text + n, (size_t)(NV * 64 - n), "timestamp,component,resource,value\n");
	for (i = 0; i < NV; i++)
		n += snprintf(text + n, (size_t)(NV * 64 - n), "%lld,db,cpu,%s\n", T0 + 300LL * i, vals[i]);
	s = load_one(&h, "v.csv", text, &opts5m, "db", ADP_RES_CPU);
	cr_assert_eq(s->n, NV);
	for (i = 0; i < NV; i++) {
		double want = strtod(vals[i], NULL);

		cr_assert(memcmp(&want, &s->v[i], sizeof(want)) == 0, "'%s': %.17g read, strtod gives %.17g", vals[i],
			  s->v[i], want);
	}
	history_release(&h);
	free(text);
}

Test(history, until_drops_later_rows)
{
	struct history h;
	const struct series *s;
	struct history_opts o = opts5m;
	char text[512];

	o.until = T0 + 600;
	snprintf(text, sizeof(text),
		 "timestamp,component,resource,value\n%lld,db,cpu,1\n%lld,db,cpu,2\n%lld,db,cpu,3\n%lld,db,cpu,4\n",
		 T0, T0 + 300, T0 + 600, T0 + 900);
	s = load_one(&h, "u.csv", text, &o, "db", ADP_RES_CPU);
	cr_assert_eq(s->n, 2);
	cr_assert_eq(s->raw_points, 2);
	cr_assert_float_eq(s->v[1], 2, 1e-12);
	history_release(&h);
	/* Nothing before the origin is an error. */
	o.until = T0;
	cr_assert_eq(load_long(&h, "u.csv", text, &o), ADP_EINPUT);
	t_assert_msg("no samples before the forecast origin");
	history_release(&h);
}

Test(history, empty_values_missing_quotes_bom_crlf)
{
	struct history h;
	const struct series *s;
	char text[512];

	snprintf(text, sizeof(text),
		 "\xef\xbb\xbftimestamp,\"component\",resource,value\r\n"
		 "%lld,\"db\",cpu,1\r\n"
		 "%lld,db,cpu,\r\n"
		 "\r\n"
		 "%lld,db,cpu,NaN\r\n"
		 "%lld, db ,cpu, 4 \r\n",
		 T0, T0 + 300, T0 + 600, T0 + 900);
	s = load_one(&h, "q.csv", text, &opts5m, "db", ADP_RES_CPU);
	cr_assert_eq(s->raw_points, 2);
	cr_assert_eq(s->n, 4);
	cr_assert_float_eq(s->v[1], 2, 1e-12);
	cr_assert_float_eq(s->v[3], 4, 1e-12);
	history_release(&h);
}

Test(history, same_series_twice_rejected)
{
	struct history h;
	char text[256];

	snprintf(text, sizeof(text), "timestamp,component,resource,value\n%lld,db,cpu,1\n", T0);
	cr_assert_eq(load_long(&h, "one.csv", text, &opts5m), 0);
	cr_assert_eq(history_add_long_csv(&h, t_write("two.csv", text), &opts5m), ADP_EINPUT);
	t_assert_msg("two.csv: history for component 'db' resource cpu is given more than once");
	cr_assert_eq(h.n, 1);
	history_release(&h);
}

/* ---- errors, each with its line and column ---- */

Test(history, error_bad_timestamp_line3)
{
	expect_error("timestamp,component,resource,value\n"
		     "2018-05-06T00:00:00Z,db,cpu,1\n"
		     "2018-02-30T00:00:00Z,db,cpu,1\n",
		     ":3:1: timestamp: '2018-02-30T00:00:00Z' is not a valid time");
}

Test(history, error_bad_timestamp_other_column)
{
	expect_error("component,resource,value,timestamp\n"
		     "db,cpu,1,1525564800\n"
		     "db,cpu,1,1525564800\n"
		     "db,cpu,1,yesterday\n",
		     ":4:4: timestamp: 'yesterday'");
}

Test(history, error_timestamp_in_milliseconds)
{
	/* Epoch milliseconds read as seconds land after 2200. */
	expect_error("timestamp,component,resource,value\n1525564800000,db,cpu,1\n",
		     ":2:1: timestamp: '1525564800000' is not a valid time: expected RFC 3339 (2018-05-06T01:00:00Z) or "
		     "epoch seconds: is the column in milliseconds? (the long format reads epoch seconds)");
}

/* A column that is not a time, or seconds read as milliseconds, lands in
 * 1970: refused with what was read and the likely cause. */
Test(history, error_timestamp_in_1970)
{
	struct history_mapping m = { ",", "t", "epoch_ms", NULL, { { NULL, 0, 0 } } };
	struct history h;
	const char *p;

	expect_error("timestamp,component,resource,value\n1525564800,db,cpu,1\n3,db,cpu,1\n",
		     ":3:1: timestamp: '3' read as 1970-01-01T00:00:03Z, before 1971: is the column a time in epoch "
		     "seconds? (a date since 2001 has 10 digits)");
	expect_error("timestamp,component,resource,value\n1970-06-01T00:00:00Z,db,cpu,1\n",
		     ":2:1: timestamp: '1970-06-01T00:00:00Z' read as 1970-06-01T00:00:00Z, before 1971: is the column "
		     "the time of each sample?");
	p = t_write("ms.csv", "t,load\n1525564800,1\n");
	m.res[ADP_RES_CPU].column = "load";
	m.res[ADP_RES_CPU].scale = 1;
	history_init(&h);
	cr_assert_eq(history_add_mapped_csv(&h, p, "c", &m, &opts5m), ADP_EINPUT);
	t_assert_msg("ms.csv:2:1: timestamp: '1525564800' read as 1970-01-18T15:46:04Z, before 1971: is the column in "
		     "seconds, not milliseconds? (the source's \"time_format\" is \"epoch_ms\"; \"epoch\" reads seconds)");
	/* The other way round: milliseconds read as seconds. */
	p = t_write("s.csv", "t,load\n1525564800000,1\n");
	m.time_format = "epoch";
	cr_assert_eq(history_add_mapped_csv(&h, p, "c", &m, &opts5m), ADP_EINPUT);
	t_assert_msg("s.csv:2:1: timestamp: '1525564800000' is not a valid time: expected epoch: is the column in "
		     "milliseconds? (read it with the source's \"time_format\": \"epoch_ms\")");
	/* 1971 and later is history. */
	p = t_write("ok.csv", "t,load\n31536000000,1\n");
	m.time_format = "epoch_ms";
	cr_assert_eq(history_add_mapped_csv(&h, p, "c", &m, &opts5m), 0, "%s", adp_error_last());
	history_release(&h);
}

Test(history, error_not_a_number)
{
	expect_error("timestamp,component,resource,value\n1525564800,db,cpu,1\n1525564900,db,cpu,1.5x\n",
		     ":3:4: value: '1.5x' is not a number");
}

Test(history, error_negative)
{
	expect_error("timestamp,component,resource,value\n1525564800,db,cpu,-0.5\n",
		     ":2:4: value: -0.5 is out of range: expected 0 to 1e+18");
}

Test(history, error_infinite_and_huge)
{
	expect_error("timestamp,component,resource,value\n1525564800,db,cpu,inf\n", ":2:4: value: inf is out of range");
	expect_error("timestamp,component,resource,value\n1525564800,db,cpu,1e19\n", ":2:4: value: 1e19 is out of range");
}

Test(history, error_unknown_resource)
{
	expect_error("timestamp,component,resource,value\n1525564800,db,disk,1\n",
		     ":2:3: resource: unknown resource 'disk': expected cpu, memory, io or net");
}

Test(history, error_invalid_component)
{
	expect_error("timestamp,component,resource,value\n1525564800,db,cpu,1\n1525564800,web/1,cpu,1\n",
		     ":3:2: component: 'web/1' is not a valid name");
	expect_error("timestamp,component,resource,value\n1525564800,,cpu,1\n",
		     ":2:2: component: '' is not a valid name");
}

Test(history, error_column_count)
{
	expect_error("timestamp,component,resource,value\n1525564800,db,cpu,1\n1525564800,db\n",
		     ":3: 2 columns, expected 4 (missing resource)");
}

Test(history, error_unterminated_quote)
{
	expect_error("timestamp,component,resource,value\n1525564800,\"db,cpu,1\n",
		     ":2:2: unterminated quoted field");
	expect_error("timestamp,component,resource,value\n1525564800,\"db\"x,cpu,1\n",
		     ":2:2: text after a closing quote");
}

Test(history, error_missing_header_column)
{
	expect_error("timestamp,component,resource\n1525564800,db,cpu\n",
		     ":1: header must name the columns timestamp, component, resource and value; 'value' is missing");
	expect_error("time,component,resource,value\n1525564800,db,cpu,1\n", ":1: header must name");
}

Test(history, error_empty_file)
{
	expect_error("", ": empty file: expected a header 'timestamp,component,resource,value'");
	expect_error("\n  \n", ": empty file");
}

Test(history, error_missing_file)
{
	struct history h;

	history_init(&h);
	cr_assert_eq(history_add_long_csv(&h, t_path("absent.csv"), &opts5m), ADP_EINPUT);
	t_assert_msg("cannot open history '");
	t_assert_msg("absent.csv'");
	history_release(&h);
}

Test(history, error_bad_options)
{
	struct history h;
	struct history_opts o = { 0, 0, 0 };

	history_init(&h);
	cr_assert_eq(history_add_long_csv(&h, t_write("x.csv", "timestamp,component,resource,value\n"), &o),
		     ADP_EINPUT);
	t_assert_msg("step must be positive");
	history_release(&h);
}

Test(history, name_valid)
{
	char long_name[ADP_HISTORY_MAX_NAME + 2];

	cr_assert(history_name_valid("mongo-01.shard_2"));
	cr_assert_not(history_name_valid(""));
	cr_assert_not(history_name_valid("a b"));
	cr_assert_not(history_name_valid("a/b"));
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	cr_assert_not(history_name_valid(long_name));
	long_name[ADP_HISTORY_MAX_NAME] = '\0';
	cr_assert(history_name_valid(long_name));
}

/* ---- column-mapped files ---- */

Test(history, mapped_nab_ec2)
{
	const char *path = "testdata/nab/ec2_cpu_utilization_5f5533.csv";
	struct history_mapping m = { ",", "timestamp", "%Y-%m-%d %H:%M:%S", NULL, { { NULL, 0, 0 } } };
	struct history h;
	const struct series *s;
	char line[256], first[256] = "", last[256] = "";
	double v0 = -1;
	size_t rows = 0;
	FILE *f;

	/* Read the first and last rows independently of the reader. */
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	while (fgets(line, sizeof(line), f)) {
		char *comma = strchr(line, ',');
		if (!comma)
			continue;
		*comma = '\0';
		if (!rows++) {
			snprintf(first, sizeof(first), "%s", line);
			v0 = strtod(comma + 1, NULL);
		}
		snprintf(last, sizeof(last), "%s", line);
	}
	fclose(f);
	cr_assert_str_eq(first, "2014-02-14 14:27:00");

	m.res[ADP_RES_CPU].column = "value";
	m.res[ADP_RES_CPU].scale = 0.01;
	s = load_mapped(&h, path, "ec2", &m, ADP_RES_CPU);
	cr_assert_eq(s->step, 300);
	cr_assert_eq(s->native_step, 300);
	cr_assert_eq(s->raw_points, rows);
	/* 14:27 falls into the step starting at 14:25. */
	cr_assert_eq(s->start, utc(2014, 2, 14, 14, 25, 0));
	{
		int y, mo, d, hh, mi, ss;
		cr_assert_eq(sscanf(last, "%d-%d-%d %d:%d:%d", &y, &mo, &d, &hh, &mi, &ss), 6);
		cr_assert_eq(s->n, (size_t)((utc(y, mo, d, hh, mi, ss) / 300 * 300 - s->start) / 300 + 1));
	}
	cr_assert_float_eq(s->v[0], v0 * 0.01, 1e-12);
	cr_assert_float_eq(v0, 51.846, 1e-9);
	history_release(&h);
}

Test(history, mapped_microsoft_quoted)
{
	const char *path = "testdata/demo/history/mongo-01.csv";
	struct history_mapping m = { ",", "TimeStamp", "rfc3339", NULL, { { NULL, 0, 0 } } };
	struct history h;
	const struct series *s;
	char line[256];
	double sum = 0;
	size_t rows = 0;
	FILE *f;

	/* The first five one-minute rows make the first five-minute step. */
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	cr_assert_eq(strncmp(line, "\"TimeStamp\",\"Value\"", 19), 0);
	while (fgets(line, sizeof(line), f)) {
		double v;
		char ts[32];
		if (sscanf(line, "\"%31[^\"]\",\"%lf\"", ts, &v) != 2)
			continue;
		if (rows < 5)
			sum += v;
		if (rows == 0)
			cr_assert_str_eq(ts, "2018-04-25T00:00:00Z");
		rows++;
	}
	fclose(f);

	m.res[ADP_RES_CPU].column = "Value";
	m.res[ADP_RES_CPU].scale = 1;
	m.res[ADP_RES_MEMORY].column = "2";
	m.res[ADP_RES_MEMORY].scale = 2;
	m.res[ADP_RES_MEMORY].offset = 100;
	history_init(&h);
	cr_assert_eq(history_add_mapped_csv(&h, path, "mongo-01", &m, &opts5m), 0, "%s", adp_error_last());
	s = history_find(&h, "mongo-01", ADP_RES_CPU);
	cr_assert_not_null(s);
	cr_assert_eq(s->start, utc(2018, 4, 25, 0, 0, 0));
	cr_assert_eq(s->native_step, 60);
	cr_assert_eq(s->raw_points, rows);
	cr_assert_float_eq(s->v[0], sum / 5, 1e-9 * sum);
	/* The same column by index, scaled and offset. */
	s = history_find(&h, "mongo-01", ADP_RES_MEMORY);
	cr_assert_not_null(s);
	cr_assert_float_eq(s->v[0], 2 * sum / 5 + 100, 1e-9 * sum);
	history_release(&h);
}

Test(history, mapped_bitbrains)
{
	const char *path = "../shared/datasets/bitbrains-rnd/2013-8/1.csv";
	struct history_mapping m = { ";\t", "Timestamp [ms]", "epoch", NULL, { { NULL, 0, 0 } } };
	struct history h;
	const struct series *s;
	char line[1024];
	long long t0 = 0;
	double mem0 = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		cr_skip_test("%s is absent (Bitbrains traces are not in the repository)", path);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	cr_assert_not_null(fgets(line, sizeof(line), f));
	/* Timestamp;\tcores;\tcap MHz;\tusage MHz;\tusage %;\tmem cap KB;\tmem usage KB */
	cr_assert_eq(sscanf(line, "%lld;\t%*f;\t%*f;\t%*f;\t%*f;\t%*f;\t%lf", &t0, &mem0), 2);
	fclose(f);

	m.res[ADP_RES_MEMORY].column = "Memory usage [KB]";
	m.res[ADP_RES_MEMORY].scale = 1024;
	s = load_mapped(&h, path, "vm1", &m, ADP_RES_MEMORY);
	cr_assert_eq(s->start, t0 / 300 * 300);
	cr_assert_eq(s->native_step, 300);
	cr_assert_gt(s->n, 1000);
	cr_assert_null(history_find(&h, "vm1", ADP_RES_CPU));
	/* The second sample is 300 s later, so the first step holds only the first. */
	cr_assert_float_eq(s->v[0], mem0 * 1024, 1e-6 * mem0 * 1024);
	history_release(&h);
}

Test(history, mapped_errors)
{
	struct history_mapping m = { ",", "when", "%Y-%m-%d %H:%M:%S", "Europe/Berlin", { { NULL, 0, 0 } } };
	struct history h;
	const char *p;

	p = t_write("w.csv", "when,load\n2018-07-01 12:00:00,1\n2018-07-01 12:05:00,x\n");
	m.res[ADP_RES_CPU].column = "load";
	m.res[ADP_RES_CPU].scale = 1;
	history_init(&h);
	cr_assert_eq(history_add_mapped_csv(&h, p, "c", &m, &opts5m), ADP_EINPUT);
	t_assert_msg("w.csv:3:2: load: 'x' is not a number");
	m.res[ADP_RES_CPU].column = "cpu";
	cr_assert_eq(history_add_mapped_csv(&h, p, "c", &m, &opts5m), ADP_EINPUT);
	t_assert_msg("w.csv:1: cpu column 'cpu' is not in the header");
	m.res[ADP_RES_CPU].column = "3";
	cr_assert_eq(history_add_mapped_csv(&h, p, "c", &m, &opts5m), ADP_EINPUT);
	t_assert_msg("w.csv:1: cpu column 3 does not exist: the header has 2 columns");
	m.res[ADP_RES_CPU].column = NULL;
	cr_assert_eq(history_add_mapped_csv(&h, p, "c", &m, &opts5m), ADP_EINPUT);
	t_assert_msg("names no resource column");
	m.res[ADP_RES_CPU].column = "load";
	p = t_write("w2.csv", "when,load\n07/01/2018 12:00,1\n");
	cr_assert_eq(history_add_mapped_csv(&h, p, "c", &m, &opts5m), ADP_EINPUT);
	t_assert_msg("w2.csv:2:1: timestamp: '07/01/2018 12:00' is not a valid time: expected %Y-%m-%d %H:%M:%S");
	cr_assert_eq(history_add_mapped_csv(&h, t_write("e.csv", ""), "c", &m, &opts5m), ADP_EINPUT);
	t_assert_msg("e.csv: empty file");
	cr_assert_eq(h.n, 0);
	/* Local times in the mapping's zone: 12:00 CEST is 10:00 UTC. */
	p = t_write("w3.csv", "when,load\n2018-07-01 12:00:00,1\n");
	cr_assert_eq(history_add_mapped_csv(&h, p, "c", &m, &opts5m), 0, "%s", adp_error_last());
	cr_assert_eq(history_find(&h, "c", ADP_RES_CPU)->start, utc(2018, 7, 1, 10, 0, 0));
	history_release(&h);
}

Test(history, failed_file_leaves_history_unchanged)
{
	struct history h;
	char text[512];
	size_t points;

	snprintf(text, sizeof(text), "timestamp,component,resource,value\n%lld,db,cpu,1\n", T0);
	cr_assert_eq(load_long(&h, "one.csv", text, &opts5m), 0);
	points = h.total_points;
	/* web is fine, but db cpu repeats a series already held. */
	snprintf(text, sizeof(text), "timestamp,component,resource,value\n%lld,web,cpu,1\n%lld,db,cpu,2\n", T0, T0);
	cr_assert_eq(history_add_long_csv(&h, t_write("two.csv", text), &opts5m), ADP_EINPUT);
	cr_assert_eq(h.n, 1, "a failed file left %zu series", h.n);
	cr_assert_null(history_find(&h, "web", ADP_RES_CPU));
	cr_assert_eq(h.total_points, points);
	/* An error while reading leaves no samples counted either. */
	snprintf(text, sizeof(text), "timestamp,component,resource,value\n%lld,web,cpu,1\n%lld,web,cpu,x\n", T0, T0);
	cr_assert_eq(history_add_long_csv(&h, t_write("three.csv", text), &opts5m), ADP_EINPUT);
	cr_assert_eq(h.n, 1);
	cr_assert_eq(h.total_points, points);
	history_release(&h);
}

/* JSON history: the same policy as the long CSV, errors with path and line. */
static int load_json(struct history *h, const char *text, const struct history_opts *o)
{
	history_init(h);
	return history_add_json(h, t_write("h.json", text), o);
}

Test(history, json_array_and_object_forms)
{
	struct history h;
	const struct series *s;
	char text[1024];

	snprintf(text, sizeof(text),
		 "{\"samples\": [{\"timestamp\": %lld, \"component\": \"web\", \"resource\": \"cpu\", \"value\": 2},\n"
		 " {\"timestamp\": \"2018-05-06T00:00:00Z\", \"component\": \"web\", \"resource\": \"cpu\", \"value\": 1},\n"
		 " {\"timestamp\": %lld, \"component\": \"web\", \"resource\": \"cpu\", \"value\": null},\n"
		 " {\"timestamp\": %lld, \"component\": \"db\", \"resource\": \"memory\", \"value\": 5}]}\n",
		 T0 + 300, T0 + 600, T0);
	cr_assert_eq(load_json(&h, text, &opts5m), 0, "%s", adp_error_last());
	cr_assert_eq(h.n, 2);
	s = history_find(&h, "web", ADP_RES_CPU);
	cr_assert_not_null(s);
	cr_assert_eq(s->start, T0);
	cr_assert_eq(s->n, 2, "the null sample is missing, not a point");
	cr_assert_float_eq(s->v[0], 1, 1e-12);
	cr_assert_float_eq(s->v[1], 2, 1e-12);
	cr_assert_not_null(history_find(&h, "db", ADP_RES_MEMORY));
	history_release(&h);

	snprintf(text, sizeof(text),
		 "{\"samples\": [{\"timestamp\": %lld, \"component\": \"a\", \"resource\": \"io\", \"value\": 1},\n"
		 "  {\"timestamp\": %lld, \"component\": \"a\", \"resource\": \"io\", \"value\": 3}]}\n",
		 T0, T0 + 300);
	cr_assert_eq(load_json(&h, text, &(struct history_opts){ 300, 3600, T0 + 300 }), 0, "%s",
		     adp_error_last());
	s = history_find(&h, "a", ADP_RES_IO);
	cr_assert_not_null(s);
	cr_assert_eq(s->n, 1, "samples at or after the origin are ignored");
	history_release(&h);
}

static void expect_json_error(const char *text, const char *needle)
{
	struct history h;

	cr_assert_eq(load_json(&h, text, &opts5m), ADP_EINPUT, "accepted:\n%s", text);
	t_assert_msg(needle);
	cr_assert_eq(h.n, 0, "a failed file adds nothing");
	history_release(&h);
}

Test(history, json_errors_name_line_and_path)
{
	expect_json_error("{\"samples\": [\n{\"timestamp\": 1525564800, \"component\": \"a\", \"resource\": \"cpu\", \"value\": 1},\n"
			  "{\"timestamp\": 1525565100, \"component\": \"a\", \"resource\": \"cpu\", \"value\": -2}]}",
			  "h.json:3: samples[1]: value: -2 is out of range");
	expect_json_error("{\"samples\": [{\"timestamp\": 1525564800, \"component\": \"a b\", \"resource\": \"cpu\", \"value\": 1}]}",
			  "h.json:1: samples[0]: component: 'a b' is not a valid name");
	expect_json_error("{\"samples\": [{\"timestamp\": 1525564800, \"component\": \"a\", \"resource\": \"gpu\", \"value\": 1}]}",
			  "samples[0]: resource: unknown resource 'gpu'");
	expect_json_error("{\"samples\": [{\"timestamp\": \"noon\", \"component\": \"a\", \"resource\": \"cpu\", \"value\": 1}]}",
			  "samples[0]: timestamp: expected RFC 3339");
	expect_json_error("{\"samples\": [{\"timestamp\": 1525564800, \"component\": \"a\", \"resource\": \"cpu\", \"value\": \"1\"}]}",
			  "samples[0]: value: expected a number or null");
	expect_json_error("{\"samples\": [{\"timestamp\": 1525564800, \"component\": \"a\", \"resource\": \"cpu\"}]}",
			  "samples[0]: value: missing");
	expect_json_error("{\"samples\": [{\"timestamp\": 1525564800, \"component\": \"a\", \"resource\": \"cpu\", \"value\": 1, \"unit\": \"%\"}]}",
			  "unit: unknown field");
	expect_json_error("{\"samples\": [{\"timestamp\": 1400000, \"component\": \"a\", \"resource\": \"cpu\", \"value\": 1}]}",
			  "h.json:1: samples[0]: timestamp: 1400000 read as 1970-01-17T04:53:20Z, before 1971: is it a time in "
			  "epoch seconds? (a date since 2001 has 10 digits)");
	expect_json_error("{\"samples\": [{\"timestamp\": 1525564800000, \"component\": \"a\", \"resource\": \"cpu\", \"value\": 1}]}",
			  "samples[0]: timestamp: 1525564800000 is out of range: expected epoch seconds, not milliseconds");
	expect_json_error("{\"rows\": []}", "rows: unknown field");
	expect_json_error("{\"samples\": 3}", "h.json: expected {\"samples\": [...]}");
	expect_json_error("[]", "expected a JSON object");
	expect_json_error("{\"samples\": [1, 2", "h.json:1:");
	/* A good series before a bad one is undone with the file. */
	expect_json_error("{\"samples\": [{\"timestamp\": 1525564800, \"component\": \"a\", \"resource\": \"cpu\", \"value\": 1},\n"
			  " {\"timestamp\": 1525564800, \"component\": \"b\", \"resource\": \"cpu\", \"value\": 1e300}]}",
			  "h.json:2: samples[1]: value:");
}

Test(history, json_and_csv_give_one_series_once)
{
	struct history h;
	char csv[256];

	snprintf(csv, sizeof(csv), "timestamp,component,resource,value\n%lld,a,cpu,1\n", T0);
	cr_assert_eq(load_json(&h, "{\"samples\": []}", &opts5m), 0, "%s", adp_error_last());
	cr_assert_eq(history_add_file(&h, t_write("h.csv", csv), &opts5m), 0, "%s", adp_error_last());
	cr_assert_eq(history_add_file(&h, t_write("again.json",
						  "{\"samples\": [{\"timestamp\": 1525564800, \"component\": \"a\", \"resource\": \"cpu\", \"value\": 2}]}"),
				      &opts5m),
		     ADP_EINPUT);
	t_assert_msg("given more than once");
	cr_assert_eq(h.n, 1);
	history_release(&h);
}
