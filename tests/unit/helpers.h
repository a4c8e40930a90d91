/* Shared by the unit tests: a private temporary directory per test and
 * small fixture files written into it. Criterion runs each test in its
 * own process, so the static state below is per test. */
#ifndef ADP_TEST_HELPERS_H
#define ADP_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char t_dir[256];

static inline int t_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void t_setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(t_dir, sizeof(t_dir), "%s/adpart-unit.XXXXXX", base && *base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(t_dir), "mkdtemp failed");
}

static inline void t_teardown(void)
{
	if (t_dir[0])
		nftw(t_dir, t_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Path of name inside the test's directory (static storage, rotated). */
static inline const char *t_path(const char *name)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, 512, "%s/%s", t_dir, name);
	return b;
}

/* Writes text to name in the test's directory; returns its path. */
static inline const char *t_write(const char *name, const char *text)
{
	const char *path = t_path(name);
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "cannot create %s", path);
	cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
	cr_assert_eq(fclose(f), 0);
	return path;
}

/* 1-based line of the first occurrence of needle in text, 0 if absent. */
static inline int t_line_of(const char *text, const char *needle)
{
	const char *at = strstr(text, needle), *p;
	int line = 1;

	if (!at)
		return 0;
	for (p = text; p < at; p++)
		line += *p == '\n';
	return line;
}

#define t_assert_msg(needle)                                                        \
	cr_assert_not_null(strstr(adp_error_last(), (needle)), "message '%s' lacks '%s'", \
			   adp_error_last(), (needle))

#endif
