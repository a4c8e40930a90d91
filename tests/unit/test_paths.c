/* Paths built with snprintf: one that does not fit is an error, never a
 * cut path that names another file. */
#include <criterion/criterion.h>
#include <limits.h>
#include <string.h>

#include "history/profiler.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

Test(paths, fits_exactly_or_fails)
{
	char out[8];

	cr_assert_eq(adp_snprintf_path(out, sizeof(out), "%s/%s", "ab", "cd"), 0);
	cr_assert_str_eq(out, "ab/cd");
	cr_assert_eq(adp_snprintf_path(out, sizeof(out), "%s/%s", "abc", "def"), 0);
	cr_assert_str_eq(out, "abc/def");
	cr_assert_eq(adp_snprintf_path(out, sizeof(out), "%s/%s", "abc", "defg"), ADP_EINPUT);
	cr_assert_str_eq(out, "", "a cut path is not left behind");
	cr_assert(strstr(adp_error_last(), "path too long (8 bytes, at most 7): 'abc/def...'"), "%s",
		  adp_error_last());
	cr_assert_eq(adp_snprintf_path(NULL, 0, "%s", "x"), ADP_EINPUT);
}

/* Cut at 511 bytes, this name would end in "Europe/Berlin", a real zone. */
Test(paths, long_zone_name_is_not_cut_into_a_valid_one)
{
	char tz[600] = "";
	int i;

	for (i = 0; i < 239; i++)
		strcat(tz, "./");
	strcat(tz, "Europe/Berlin");
	cr_assert(adp_tz_valid(tz), "the uncut prefix is a zone");
	strcat(tz, "-no-such-zone");
	cr_assert_not(adp_tz_valid(tz));
}

Test(paths, profiler_refuses_a_proc_root_too_long)
{
	static char root[PATH_MAX + 16];
	const pid_t pid = 1;
	struct prof_opts o = { 0 };
	struct profiler *p = NULL;

	memset(root, 'r', sizeof(root) - 1);
	root[0] = '/';
	o.pids = &pid;
	o.npids = 1;
	o.proc_root = root;
	cr_assert_eq(profiler_new(&p, &o), ADP_EINPUT);
	cr_assert_null(p);
	cr_assert(strstr(adp_error_last(), "proc root: path too long"), "%s", adp_error_last());
}

Test(paths, profiler_refuses_a_cgroup_path_too_long)
{
	static char cg[PATH_MAX];
	const char *cgs[] = { cg };
	struct prof_opts o = { 0 };
	struct profiler *p = NULL;

	memset(cg, 'c', sizeof(cg) - 1);
	cg[0] = '/';
	o.cgroups = cgs;
	o.ncgroups = 1;
	cr_assert_eq(profiler_new(&p, &o), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "cgroup: path too long"), "%s", adp_error_last());
}
