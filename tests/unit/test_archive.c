/* History read from real archives built here with libarchive's writer. */
#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "history/archive.h"
#include "util/error.h"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/adp-arc.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	pid_t pid;

	/* rm -r without a shell string. */
	snprintf(cmd, sizeof(cmd), "%s", dir);
	if ((pid = fork()) == 0) {
		execlp("rm", "rm", "-rf", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

enum { FILT_NONE, FILT_GZIP, FILT_XZ };

struct member {
	const char *name;
	/* NULL: zeros newlines (blank lines, which the reader skips, so that
	 * only the archive limits can stop it; they compress as well as NUL
	 * bytes, which the line limit would stop first) */
	const char *text;
	size_t zeros;
};

static void write_archive(const char *path, int zip, int filter, const struct member *m, size_t n)
{
	struct archive *a = archive_write_new();
	static char block[1 << 16];
	size_t i;

	memset(block, '\n', sizeof(block));

	if (zip)
		archive_write_set_format_zip(a);
	else
		archive_write_set_format_pax_restricted(a);
	if (filter == FILT_GZIP)
		archive_write_add_filter_gzip(a);
	else if (filter == FILT_XZ)
		archive_write_add_filter_xz(a);
	cr_assert_eq(archive_write_open_filename(a, path), ARCHIVE_OK, "%s", archive_error_string(a));
	for (i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		size_t size = m[i].text ? strlen(m[i].text) : m[i].zeros;

		archive_entry_set_pathname(e, m[i].name);
		archive_entry_set_size(e, (la_int64_t)size);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		cr_assert_eq(archive_write_header(a, e), ARCHIVE_OK, "%s", archive_error_string(a));
		if (m[i].text) {
			cr_assert_eq(archive_write_data(a, m[i].text, size), (la_ssize_t)size);
		} else {
			size_t left = size;
			while (left) {
				size_t k = left < sizeof(block) ? left : sizeof(block);
				cr_assert_eq(archive_write_data(a, block, k), (la_ssize_t)k);
				left -= k;
			}
		}
		archive_entry_free(e);
	}
	cr_assert_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* Writes the archive name into the test's folder (its path into path)
 * and starts h empty. */
static void make_archive(char *path, size_t len, const char *name, int zip, int filter, const struct member *m,
			 size_t n, struct history *h)
{
	snprintf(path, len, "%s/%s", dir, name);
	write_archive(path, zip, filter, m, n);
	history_init(h);
}

static const struct history_opts opts = { 300, 3600, 0 };

/* Reads the long-format members of path matching pattern, which must
 * succeed on want members. */
static void read_members(struct history *h, const char *path, const char *pattern, size_t want)
{
	size_t n = 0;

	cr_assert_eq(history_archive_read(h, path, pattern, NULL, NULL, &opts, NULL, &n), 0, "%s", adp_error_last());
	cr_assert_eq(n, want, "%zu members matched '%s', expected %zu", n, pattern, want);
}

static const char long_csv[] =
	"timestamp,component,resource,value\n"
	"2018-05-01T00:00:00Z,api,cpu,1.5\n"
	"2018-05-01T00:05:00Z,api,cpu,2.5\n"
	"2018-05-01T00:00:00Z,api,memory,1000\n"
	"2018-05-01T00:10:00Z,api,memory,3000\n";


TestSuite(archive, .init = setup, .fini = teardown);

Test(archive, tar_gz_long_csv_member)
{
	struct member m[] = { { "export/history.csv", long_csv, 0 } };
	struct history h;
	const struct series *s;
	char path[128];

	make_archive(path, sizeof(path), "h.tar.gz", 0, FILT_GZIP, m, 1, &h);
	read_members(&h, path, "*.csv", 1);
	cr_assert_not_null(s = history_find(&h, "api", ADP_RES_CPU));
	cr_assert_eq(s->n, 2);
	cr_assert_float_eq(s->v[1], 2.5, 1e-12);
	/* memory: 00:05 is interpolated between 1000 and 3000 */
	cr_assert_not_null(s = history_find(&h, "api", ADP_RES_MEMORY));
	cr_assert_float_eq(s->v[1], 2000, 1e-9);
	cr_assert(strstr(s->source, "h.tar.gz(export/history.csv)"), "source %s", s->source);
	history_release(&h);
}

Test(archive, pattern_selects_members_in_tar_xz)
{
	static const char other[] = "timestamp,component,resource,value\n"
				    "2018-05-01T00:00:00Z,db,cpu,4\n";
	struct member m[] = { { "a/api.csv", long_csv, 0 }, { "b/db.csv", other, 0 },
			      { "README", "not csv at all, \"\n", 0 } };
	struct history h;
	char path[128];

	make_archive(path, sizeof(path), "h.tar.xz", 0, FILT_XZ, m, 3, &h);
	read_members(&h, path, "b/*.csv", 1);
	cr_assert_not_null(history_find(&h, "db", ADP_RES_CPU));
	cr_assert_null(history_find(&h, "api", ADP_RES_CPU));
	history_release(&h);
}

Test(archive, zip_json_member)
{
	static const char js[] =
		"{\"samples\": [{\"timestamp\": \"2018-05-01T00:00:00Z\", \"component\": \"web\", \"resource\": \"cpu\", \"value\": 0.5},"
		" {\"timestamp\": 1525133100, \"component\": \"web\", \"resource\": \"cpu\", \"value\": 1}]}";
	struct member m[] = { { "web.json", js, 0 } };
	const struct series *s;
	struct history h;
	char path[128];

	make_archive(path, sizeof(path), "h.zip", 1, FILT_NONE, m, 1, &h);
	cr_assert_eq(history_archive_read(&h, path, "*.json", NULL, NULL, &opts, NULL, NULL), 0, "%s",
		     adp_error_last());
	cr_assert_not_null(s = history_find(&h, "web", ADP_RES_CPU));
	cr_assert_eq(s->n, 2);
	cr_assert_float_eq(s->v[0], 0.5, 1e-12);
	cr_assert_float_eq(s->v[1], 1.0, 1e-12);
	history_release(&h);
}

Test(archive, mapped_member_in_plain_tar)
{
	static const char wide[] = "when;load\n2018-05-01T00:00:00Z;50\n2018-05-01T00:05:00Z;70\n";
	struct member m[] = { { "wide.csv", wide, 0 } };
	struct history_mapping map = { .delimiter = ";", .time_column = "when", .time_format = "auto" };
	const struct series *s;
	struct history h;
	char path[128];

	map.res[ADP_RES_CPU].column = "load";
	map.res[ADP_RES_CPU].scale = 0.01;
	make_archive(path, sizeof(path), "h.tar", 0, FILT_NONE, m, 1, &h);
	cr_assert_eq(history_archive_read(&h, path, "wide.csv", "svc", &map, &opts, NULL, NULL), 0, "%s",
		     adp_error_last());
	cr_assert_not_null(s = history_find(&h, "svc", ADP_RES_CPU));
	cr_assert_float_eq(s->v[1], 0.7, 1e-12);
	history_release(&h);
}

Test(archive, errors_name_archive_and_member)
{
	static const char bad[] = "timestamp,component,resource,value\n2018-05-01T00:00:00Z,api,cpu,abc\n";
	struct member m[] = { { "bad.csv", bad, 0 } };
	struct history h;
	char path[128];

	make_archive(path, sizeof(path), "bad.tar.gz", 0, FILT_GZIP, m, 1, &h);
	cr_assert_eq(history_archive_read(&h, path, "*.csv", NULL, NULL, &opts, NULL, NULL), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "bad.tar.gz(bad.csv):2:4: value: 'abc' is not a number"), "%s",
		  adp_error_last());
	cr_assert_eq(history_archive_read(&h, path, "*.json", NULL, NULL, &opts, NULL, NULL), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "no member matches '*.json'"), "%s", adp_error_last());
	snprintf(path, sizeof(path), "%s/missing.tar", dir);
	cr_assert_eq(history_archive_read(&h, path, "*", NULL, NULL, &opts, NULL, NULL), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "cannot open archive"), "%s", adp_error_last());
	/* a file that is no archive */
	snprintf(path, sizeof(path), "%s/plain.tar", dir);
	{
		FILE *f = fopen(path, "w");
		cr_assert_not_null(f);
		fputs("timestamp,component\nnot an archive\n", f);
		fclose(f);
	}
	cr_assert_eq(history_archive_read(&h, path, "*", NULL, NULL, &opts, NULL, NULL), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "plain.tar"), "%s", adp_error_last());
	cr_assert_eq(h.n, 0);
	history_release(&h);
}

/* 200 MB of zeros compresses to about 200 KB: the ratio limit stops it
 * long before it is all expanded. */
Test(archive, gzip_bomb_is_refused_by_ratio, .timeout = 120)
{
	struct member m[] = { { "bomb.csv", NULL, (size_t)200 << 20 } };
	struct history h;
	char path[128];

	make_archive(path, sizeof(path), "bomb.tar.gz", 0, FILT_GZIP, m, 1, &h);
	cr_assert_eq(history_archive_read(&h, path, "*.csv", NULL, NULL, &opts, NULL, NULL), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "possible archive bomb"), "%s", adp_error_last());
	/* Skipped (unmatched) members are judged too. */
	cr_assert_eq(history_archive_read(&h, path, "*.json", NULL, NULL, &opts, NULL, NULL), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "possible archive bomb"), "%s", adp_error_last());
	history_release(&h);
}

Test(archive, member_size_limit_without_ratio, .timeout = 120)
{
	struct member m[] = { { "big.csv", NULL, (size_t)3 << 20 } };
	struct history_archive_limits lim;
	struct history h;
	char path[128];

	history_archive_limits_default(&lim);
	lim.max_ratio = 0;
	lim.max_member = (uint64_t)1 << 20;
	make_archive(path, sizeof(path), "big.tar.gz", 0, FILT_GZIP, m, 1, &h);
	cr_assert_eq(history_archive_read(&h, path, "*.csv", NULL, NULL, &opts, &lim, NULL), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "big.tar.gz(big.csv): member expands beyond the limit")
		  || strstr(adp_error_last(), "big.tar.gz(big.csv)' expands beyond the limit"),
		  "%s", adp_error_last());
	lim.max_member = (uint64_t)8 << 20;
	lim.max_total = (uint64_t)1 << 20;
	cr_assert_eq(history_archive_read(&h, path, "*.csv", NULL, NULL, &opts, &lim, NULL), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "in all"), "%s", adp_error_last());
	history_release(&h);
}

Test(archive, too_many_entries, .timeout = 120)
{
	size_t n = HISTORY_ARCHIVE_MAX_ENTRIES + 1, i;
	struct member *m = calloc(n, sizeof(*m));
	char (*names)[24] = calloc(n, sizeof(*names));
	struct history h;
	char path[128];

	cr_assert(m && names);
	for (i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "e%zu.txt", i);
		m[i].name = names[i];
		m[i].text = "";
	}
	make_archive(path, sizeof(path), "many.tar", 0, FILT_NONE, m, n, &h);
	cr_assert_eq(history_archive_read(&h, path, "*.csv", NULL, NULL, &opts, NULL, NULL), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "more than 10000 entries"), "%s", adp_error_last());
	history_release(&h);
	free(m);
	free(names);
}
