/* The profiler on a fake /proc tree (exact arithmetic), on real child
 * processes (selection and metadata), and its rotating CSV writer. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "history/history.h"
#include "history/profiler.h"
#include "util/buf.h"
#include "util/error.h"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/adp-prof.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		execlp("rm", "rm", "-rf", dir, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static void put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	cr_assert_not_null(f = fopen(path, "w"), "%s", path);
	fputs(text, f);
	fclose(f);
}

static void fake_proc(int pid, const char *comm, long utime, long stime, long rss_pages,
		      long rbytes, long wbytes, long net)
{
	char rel[128], text[1024];

	snprintf(rel, sizeof(rel), "proc/%d", pid);
	snprintf(text, sizeof(text), "%s/%s", dir, rel);
	mkdir(text, 0755);
	snprintf(text, sizeof(text), "%s/%s/ns", dir, rel);
	mkdir(text, 0755);
	snprintf(text, sizeof(text), "%s/%s/net", dir, rel);
	mkdir(text, 0755);
	/* Fields after the comm: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime prio nice threads itreal starttime vsize rss */
	snprintf(text, sizeof(text),
		 "%d (%s) S 1 1 1 0 -1 0 0 0 0 0 %ld %ld 0 0 20 0 1 0 4242 1000 %ld 0 0\n", pid, comm,
		 utime, stime, rss_pages);
	snprintf(rel, sizeof(rel), "proc/%d/stat", pid);
	put(rel, text);
	snprintf(text, sizeof(text), "rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: %ld\nwrite_bytes: %ld\ncancelled_write_bytes: 0\n",
		 rbytes, wbytes);
	snprintf(rel, sizeof(rel), "proc/%d/io", pid);
	put(rel, text);
	snprintf(rel, sizeof(rel), "proc/%d/cmdline", pid);
	put(rel, comm);
	snprintf(rel, sizeof(rel), "proc/%d/ns/net", pid);
	put(rel, "");
	snprintf(text, sizeof(text),
		 "Inter-|   Receive                                                |  Transmit\n"
		 " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
		 "    lo: 999999 1 0 0 0 0 0 0 999999 1 0 0 0 0 0 0\n"
		 "  eth0: %ld 1 0 0 0 0 0 0 %ld 1 0 0 0 0 0 0\n",
		 net, net);
	snprintf(rel, sizeof(rel), "proc/%d/net/dev", pid);
	put(rel, text);
}

TestSuite(profile, .init = setup, .fini = teardown);

Test(profile, rates_from_a_fake_proc)
{
	struct prof_opts o = { 0 };
	static const char *const names[] = { "mongo*" };
	const struct prof_component *c;
	struct adp_buf csv = ADP_BUF_INIT;
	struct profiler *p = NULL;
	char root[128];
	long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	size_t n;
	int ready = -1;

	snprintf(root, sizeof(root), "%s/proc", dir);
	mkdir(root, 0755);
	fake_proc(10, "mongod", 100, 50, 1000, 0, 0, 5000);
	fake_proc(11, "mongos", 0, 0, 500, 0, 0, 0);
	fake_proc(12, "nginx", 0, 0, 7, 0, 0, 0);
	o.names = names;
	o.nnames = 1;
	o.group = PROF_GROUP_FIXED;
	o.component = "db";
	o.proc_root = root;
	cr_assert_eq(profiler_new(&p, &o), 0, "%s", adp_error_last());
	cr_assert_eq(profiler_sample(p, 1525564800, 100.0, &ready), 0, "%s", adp_error_last());
	cr_assert_eq(ready, 0, "the first sample is a baseline");
	/* Two seconds later: mongod used 3 s of CPU (1.5 cores), wrote 2 MB. */
	fake_proc(10, "mongod", 100 + 2 * hz, 50 + hz, 1200, 1000000, 3000000, 5000 + 4000);
	fake_proc(11, "mongos", hz / 2, hz / 2, 500, 0, 0, 0);
	cr_assert_eq(profiler_sample(p, 1525564802, 102.0, &ready), 0, "%s", adp_error_last());
	cr_assert_eq(ready, 1);
	c = profiler_components(p, &n);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(c[0].name, "db");
	cr_assert_eq(c[0].nprocs, 2, "nginx does not match mongo*");
	cr_assert_float_eq(c[0].v[ADP_RES_CPU], (3.0 * hz + 1.0 * hz) / hz / 2.0, 1e-9);
	cr_assert_float_eq(c[0].v[ADP_RES_MEMORY], (double)(1200 + 500) * page, 1e-3);
	cr_assert_float_eq(c[0].v[ADP_RES_IO], 4000000.0 / 2, 1e-9);
	/* Both namespaces' eth0 rx+tx (loopback excluded): (4000 + 4000) / 2 s for mongod's. */
	cr_assert(c[0].has[ADP_RES_NET]);
	cr_assert_float_eq(c[0].v[ADP_RES_NET], 8000.0 / 2, 1e-9);
	cr_assert_eq(profiler_csv(p, &csv), 0);
	cr_assert(strstr(adp_buf_str(&csv), "2018-05-06T00:00:02Z,db,cpu,2\n"), "%s", adp_buf_str(&csv));
	adp_buf_release(&csv);
	profiler_free(p);
}

Test(profile, pid_reuse_is_a_new_process)
{
	struct prof_opts o = { 0 };
	pid_t pids[] = { 20 };
	const struct prof_component *c;
	struct profiler *p = NULL;
	char root[128];
	size_t n;
	int ready;

	snprintf(root, sizeof(root), "%s/proc", dir);
	mkdir(root, 0755);
	fake_proc(20, "app", 500, 0, 10, 0, 0, 0);
	o.pids = pids;
	o.npids = 1;
	o.proc_root = root;
	cr_assert_eq(profiler_new(&p, &o), 0);
	cr_assert_eq(profiler_sample(p, 1000, 1.0, &ready), 0);
	/* Same PID, new start time, fewer ticks: no negative or bogus rate. */
	{
		char text[256];
		snprintf(text, sizeof(text), "20 (app) S 1 1 1 0 -1 0 0 0 0 0 3 0 0 0 20 0 1 0 9999 1000 10 0 0\n");
		put("proc/20/stat", text);
	}
	cr_assert_eq(profiler_sample(p, 1001, 2.0, &ready), 0);
	c = profiler_components(p, &n);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(c[0].name, "app");
	cr_assert_not(c[0].has[ADP_RES_CPU]);
	profiler_free(p);
}

Test(profile, real_children_by_name_with_metadata)
{
	struct prof_opts o = { 0 };
	static const char *const names[] = { "adptestkid" };
	const struct prof_proc *pr;
	const struct prof_component *c;
	struct profiler *p = NULL;
	char path[128], want[64];
	pid_t kid;
	size_t n;
	int ready, fds[2];

	cr_assert_eq(pipe(fds), 0);
	if ((kid = fork()) == 0) {
		char b;
		prctl(PR_SET_NAME, "adptestkid", 0, 0, 0);
		close(fds[1]);
		if (read(fds[0], &b, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(fds[0]);
	/* Wait until the child has its name. */
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)kid);
	for (;;) {
		char comm[32] = "";
		FILE *f = fopen(path, "r");
		cr_assert_not_null(f);
		cr_assert_not_null(fgets(comm, sizeof(comm), f));
		fclose(f);
		if (!strcmp(comm, "adptestkid\n"))
			break;
		usleep(1000);
	}
	o.names = names;
	o.nnames = 1;
	o.group = PROF_GROUP_PID;
	o.threads = 1;
	cr_assert_eq(profiler_new(&p, &o), 0);
	cr_assert_eq(profiler_sample(p, 1000, 1.0, &ready), 0);
	cr_assert_eq(profiler_sample(p, 1001, 2.0, &ready), 0);
	pr = profiler_procs(p, &n);
	cr_assert_eq(n, 1);
	cr_assert_eq(pr[0].pid, kid);
	cr_assert_str_eq(pr[0].comm, "adptestkid");
	cr_assert_gt(pr[0].rss, 0);
	cr_assert_eq(pr[0].nthreads, 1);
	cr_assert_gt(strlen(pr[0].user), 0);
	c = profiler_components(p, &n);
	snprintf(want, sizeof(want), "adptestkid-%d", (int)kid);
	cr_assert_str_eq(c[0].name, want);
	snprintf(path, sizeof(path), "%s/p.prom", dir);
	cr_assert_eq(profiler_textfile(p, path), 0, "%s", adp_error_last());
	close(fds[1]);
	waitpid(kid, NULL, 0);
	/* Gone at the next sample. */
	cr_assert_eq(profiler_sample(p, 1002, 3.0, &ready), 0);
	profiler_procs(p, &n);
	cr_assert_eq(n, 0);
	profiler_free(p);
}

Test(profile, bad_options)
{
	struct prof_opts o = { 0 };
	static const char *const cg[] = { "/nonexistent/cgroup" };
	pid_t bad[] = { -4 };
	struct profiler *p = NULL;

	cr_assert_eq(profiler_new(&p, &o), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "choose processes"));
	o.cgroups = cg;
	o.ncgroups = 1;
	cr_assert_eq(profiler_new(&p, &o), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "cgroup '/nonexistent/cgroup' cannot be read"), "%s", adp_error_last());
	o.ncgroups = 0;
	o.pids = bad;
	o.npids = 1;
	cr_assert_eq(profiler_new(&p, &o), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "pid -4 is not a process id"), "%s", adp_error_last());
	cr_assert_null(p);
}

static size_t count_files(const char *prefix)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(dir);

	while ((de = readdir(d)))
		n += !strncmp(de->d_name, prefix, strlen(prefix));
	closedir(d);
	return n;
}

Test(profile, writer_rotates_by_size_and_age_and_plan_reads_every_file)
{
	struct prof_writer w;
	struct history_opts ho = { 60, 600, 0 };
	struct history h;
	struct dirent *de;
	char path[128], row[128];
	int64_t t;
	DIR *d;

	snprintf(path, sizeof(path), "%s/h.csv", dir);
	cr_assert_eq(prof_writer_open(&w, path, 4096, 0), 0);
	for (t = 1525564800; t < 1525564800 + 200 * 60; t += 60) {
		char ts[32];
		time_t tt = (time_t)t;
		struct tm tm;
		int n;

		gmtime_r(&tt, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		n = snprintf(row, sizeof(row), "%s,web,cpu,1.5\n", ts);
		cr_assert_eq(prof_writer_add(&w, row, (size_t)n, t), 0, "%s", adp_error_last());
	}
	prof_writer_close(&w);
	/* 200 rows of 36 bytes: more than one 4 KiB file. */
	cr_assert_gt(count_files("h-2018"), 0);
	/* Every file, rotated or current, is complete history on its own. */
	history_init(&h);
	d = opendir(dir);
	while ((de = readdir(d))) {
		char f[600];
		struct history one;

		if (de->d_name[0] != 'h')
			continue;
		snprintf(f, sizeof(f), "%s/%s", dir, de->d_name);
		history_init(&one);
		cr_assert_eq(history_add_long_csv(&one, f, &ho), 0, "%s", adp_error_last());
		cr_assert_eq(one.n, 1);
		history_release(&one);
	}
	closedir(d);
	history_release(&h);

	snprintf(path, sizeof(path), "%s/a.csv", dir);
	cr_assert_eq(prof_writer_open(&w, path, 0, 3600), 0);
	for (t = 1525564800; t < 1525564800 + 3 * 3600; t += 600)
		cr_assert_eq(prof_writer_add(&w, "2018-05-06T00:00:00Z,web,cpu,1\n", 31, t), 0);
	prof_writer_close(&w);
	/* 3 hours at one hour per file: 2 rotated files and the current one. */
	cr_assert_eq(count_files("a-2018"), 2);
	cr_assert_eq(count_files("a.csv"), 1);
	snprintf(path, sizeof(path), "%s/no/such/dir.csv", dir);
	cr_assert_eq(prof_writer_open(&w, path, 0, 0), 0);
	cr_assert_eq(prof_writer_add(&w, "x\n", 2, 1), ADP_ESYS);
	cr_assert(strstr(adp_error_last(), "cannot open"), "%s", adp_error_last());
	prof_writer_close(&w);
}

Test(profile, writer_never_follows_a_symbolic_link)
{
	struct prof_writer w;
	char victim[128], link[128], buf[64];
	FILE *f;

	/* A link planted in a shared directory must not make a root
	 * profiler append to the file it points at. */
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(link, sizeof(link), "%s/h.csv", dir);
	f = fopen(victim, "w");
	cr_assert_not_null(f);
	fputs("precious\n", f);
	fclose(f);
	cr_assert_eq(symlink(victim, link), 0);
	cr_assert_eq(prof_writer_open(&w, link, 0, 0), 0);
	cr_assert_eq(prof_writer_add(&w, "x\n", 2, 1525564800), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "symbolic link"), "%s", adp_error_last());
	prof_writer_close(&w);
	f = fopen(victim, "r");
	cr_assert_not_null(fgets(buf, sizeof(buf), f));
	cr_assert_str_eq(buf, "precious\n");
	cr_assert_null(fgets(buf, sizeof(buf), f), "the victim was appended to");
	fclose(f);
}
