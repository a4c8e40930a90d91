/* adpart-update profile: sample chosen processes into history. */
#include <argp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"
#include "history/profiler.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/timeutil.h"

struct profile_args {
	const char *cgroups[PROF_MAX_SELECTORS], *names[PROF_MAX_SELECTORS];
	pid_t pids[PROF_MAX_SELECTORS];
	size_t ncgroups, nnames, npids;
	int group, threads;
	const char *component, *output, *textfile;
	int64_t interval, duration, rotate_time;
	double rotate_size;
};

enum { OPT_GROUP_BY = 256, OPT_INTERVAL, OPT_DURATION, OPT_ROTATE_SIZE, OPT_ROTATE_TIME,
       OPT_TEXTFILE, OPT_THREADS, OPT_COMPONENT };

static const struct argp_option options[] = {
	{ "cgroup", 'c', "DIR", 0, "Profile the processes of this cgroup directory (repeatable)", 0 },
	{ "pid", 'p', "PID", 0, "Profile this process (repeatable)", 0 },
	{ "name", 'n', "PATTERN", 0, "Profile processes whose name or argv[0] matches this shell pattern (repeatable)", 0 },
	{ "group-by", OPT_GROUP_BY, "KEY", 0, "Component of a process: name (default), cgroup, user or pid", 0 },
	{ "component", OPT_COMPONENT, "NAME", 0, "Count every chosen process as this one component", 0 },
	{ "interval", OPT_INTERVAL, "DURATION", 0, "Time between samples (default 10s)", 0 },
	{ "duration", OPT_DURATION, "DURATION", 0, "Stop after this long (default: until interrupted)", 0 },
	{ "output-file", 'O', "FILE", 0, "History CSV to append to (default adpart-history.csv)", 0 },
	/* -o is a format in every other command: said, not taken as a file. */
	{ "output", 'o', "FILE", OPTION_HIDDEN, NULL, 0 },
	{ "rotate-size", OPT_ROTATE_SIZE, "SIZE", 0, "Start a new CSV when it would exceed SIZE (e.g. 64MiB)", 0 },
	{ "rotate-time", OPT_ROTATE_TIME, "DURATION", 0, "Start a new CSV after DURATION (e.g. 1d)", 0 },
	{ "textfile", OPT_TEXTFILE, "FILE", 0, "Also write each sample to this Prometheus textfile (atomically)", 0 },
	{ "threads", OPT_THREADS, NULL, 0, "Sample each thread too (in the textfile)", 0 },
	{ 0 },
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	struct profile_args *a = state->input;
	char *end;
	long v;

	switch (key) {
	case 'c': cmd_argp_push(state, "--cgroup", a->cgroups, &a->ncgroups, PROF_MAX_SELECTORS, arg); break;
	case 'n': cmd_argp_push(state, "--name", a->names, &a->nnames, PROF_MAX_SELECTORS, arg); break;
	case 'p':
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno || *end || v <= 0 || v > 4194304)
			argp_error(state, "--pid '%s' is not a process id", arg);
		if (a->npids == PROF_MAX_SELECTORS)
			argp_error(state, "at most %d --pid", PROF_MAX_SELECTORS);
		a->pids[a->npids++] = (pid_t)v;
		break;
	case OPT_GROUP_BY:
		if (!strcmp(arg, "name")) a->group = PROF_GROUP_NAME;
		else if (!strcmp(arg, "cgroup")) a->group = PROF_GROUP_CGROUP;
		else if (!strcmp(arg, "user")) a->group = PROF_GROUP_USER;
		else if (!strcmp(arg, "pid")) a->group = PROF_GROUP_PID;
		else argp_error(state, "--group-by '%s': expected name, cgroup, user or pid", arg);
		break;
	case OPT_COMPONENT: a->component = arg; a->group = PROF_GROUP_FIXED; break;
	case OPT_INTERVAL:
		if (adp_duration_parse(&a->interval, arg) || a->interval <= 0 || a->interval > 86400)
			argp_error(state, "--interval '%s' is not a duration from 1s to 1d", arg);
		break;
	case OPT_DURATION:
		cmd_argp_duration(state, "--duration", arg, "a positive duration such as 1h", &a->duration);
		break;
	case OPT_ROTATE_TIME:
		cmd_argp_duration(state, "--rotate-time", arg, "a positive duration such as 1d", &a->rotate_time);
		break;
	case OPT_ROTATE_SIZE:
		if (adp_quantity_parse(&a->rotate_size, arg) || a->rotate_size < 4096)
			argp_error(state, "--rotate-size '%s' is not a size of at least 4KiB", arg);
		break;
	case 'O': a->output = arg; break;
	case 'o':
		argp_error(state, "-o/--output is an output format in the other commands: profile's history file is "
				  "-O/--output-file FILE");
		break;
	case OPT_TEXTFILE: a->textfile = arg; break;
	case OPT_THREADS: a->threads = 1; break;
	case ARGP_KEY_ARG: argp_error(state, "unexpected argument '%s'", arg); break;
	case ARGP_KEY_END:
		if (!a->ncgroups && !a->npids && !a->nnames)
			argp_error(state, "choose processes with --cgroup, --pid or --name");
		break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp cmd_profile_argp = {
	options, parse, NULL,
	"Sample chosen processes and threads (CPU, resident memory, disk and, per network "
	"namespace, network) from /proc and cgroups, group them into components, and append "
	"the history CSV that `plan` reads; optionally write a Prometheus textfile.\v"
	"Exit status: 0 done (duration elapsed or interrupted), 1 error.",
	NULL, NULL, NULL,
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_profile(int argc, char **argv)
{
	struct profile_args a = { 0 };
	struct prof_opts o = { 0 };
	struct profiler *p = NULL;
	struct prof_writer w;
	struct adp_buf rows = ADP_BUF_INIT;
	struct sigaction sa;
	struct timespec next;
	double start;
	int parsed, rc, status = EXIT_OK, ready, writer_open = 0;

	a.output = "adpart-history.csv";
	a.interval = 10;
	if ((parsed = cmd_parse(&cmd_profile_argp, argc, argv, 0, &a)))
		return parsed;
	o.cgroups = a.cgroups;
	o.ncgroups = a.ncgroups;
	o.pids = a.pids;
	o.npids = a.npids;
	o.names = a.names;
	o.nnames = a.nnames;
	o.group = a.group;
	o.component = a.component;
	o.threads = a.threads;
	if ((rc = profiler_new(&p, &o)) ||
	    (rc = prof_writer_open(&w, a.output, (uint64_t)a.rotate_size, a.rotate_time))) {
		cmd_error_last(NULL);
		status = EXIT_ERROR;
		goto done;
	}
	writer_open = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	start = mono_now();
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stop) {
		if ((rc = profiler_sample(p, (int64_t)time(NULL), mono_now(), &ready))) {
			cmd_error_last(NULL);
			status = EXIT_ERROR;
			break;
		}
		if (ready) {
			adp_buf_reset(&rows);
			if ((rc = profiler_csv(p, &rows)) ||
			    (rows.len && (rc = prof_writer_add(&w, rows.data, rows.len, (int64_t)time(NULL)))) ||
			    (a.textfile && (rc = profiler_textfile(p, a.textfile)))) {
				cmd_error_last(NULL);
				status = EXIT_ERROR;
				break;
			}
		}
		if (a.duration && mono_now() - start >= (double)a.duration)
			break;
		/* Absolute deadlines: the interval does not drift with the work. */
		next.tv_sec += a.interval;
		while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
done:
	if (writer_open)
		prof_writer_close(&w);
	adp_buf_release(&rows);
	profiler_free(p);
	return status;
}
