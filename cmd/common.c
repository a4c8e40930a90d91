#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "orchestrator/drivers.h"
#include "partition/inventory.h"
#include "plans/plan.h"
#include "util/error.h"
#include "util/jsonutil.h"
#include "util/resource.h"
#include "util/timeutil.h"

static char last_message[2048];

/* Whether a status line (cmd_status) sits on stderr without its newline:
 * any message clears it first, so that the two never share a line. */
static int status_open;

void cmd_status(const char *fmt, ...)
{
	va_list ap;

	fputs("\r\033[K", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
	status_open = 1;
}

void cmd_status_clear(void)
{
	if (!status_open)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	status_open = 0;
}

void cmd_error(const char *fmt, ...)
{
	va_list ap, copy;

	va_start(ap, fmt);
	va_copy(copy, ap);
	vsnprintf(last_message, sizeof(last_message), fmt, copy); /* kept for apply -o json */
	va_end(copy);
	cmd_status_clear();
	fputs("adpart-update: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cmd_verbosity = CMD_NORMAL;

void cmd_warn(const char *fmt, ...)
{
	va_list ap, copy;

	va_start(ap, fmt);
	va_copy(copy, ap);
	/* kept as cmd_error would keep "warning: ..." */
	memcpy(last_message, "warning: ", 10);
	vsnprintf(last_message + 9, sizeof(last_message) - 9, fmt, copy);
	va_end(copy);
	if (cmd_verbosity > CMD_QUIET) {
		cmd_status_clear();
		fputs("adpart-update: warning: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

static void note(int at_least, const char *fmt, va_list ap)
{
	if (cmd_verbosity < at_least)
		return;
	cmd_status_clear();
	fputs("adpart-update: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cmd_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note(CMD_NORMAL, fmt, ap);
	va_end(ap);
}

void cmd_verbose(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note(CMD_VERBOSE, fmt, ap);
	va_end(ap);
}

const char *cmd_last_message(void)
{
	return last_message;
}

void cmd_error_last(const char *context)
{
	const char *msg = adp_error_last();

	if (context)
		cmd_error("%s: %s", context, *msg ? msg : "unknown error");
	else
		cmd_error("%s", *msg ? msg : "unknown error");
}

/* -q and -v after the command too (adpart-update plan -v ...): a child
 * parser every command's gets, listed in its --help. */
static error_t parse_verbosity(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	(void)state;
	switch (key) {
	case 'q': cmd_verbosity = CMD_QUIET; return 0;
	case 'v': cmd_verbosity = CMD_VERBOSE; return 0;
	default: return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_option verbosity_options[] = {
	CMD_OPTION_QUIET,
	CMD_OPTION_VERBOSE,
	{ 0 },
};

static const struct argp verbosity_argp = { verbosity_options, parse_verbosity, NULL, NULL, NULL, NULL, NULL };

#define CMD_MAX_CHILDREN 8

int cmd_parse(const struct argp *argp, int argc, char **argv, unsigned flags, void *input)
{
	struct argp_child children[CMD_MAX_CHILDREN + 2] = { { 0 } };
	struct argp with = *argp;
	const struct argp_option *o;
	size_t n = 0;
	int has = 0;
	error_t rc;

	/* The global parser has its own -q and -v. */
	for (o = argp->options; o && (o->name || o->key || o->doc); o++)
		has |= o->key == 'v' || o->key == 'q';
	for (; argp->children && argp->children[n].argp && n < CMD_MAX_CHILDREN; n++)
		children[n] = argp->children[n];
	if (!has) {
		children[n].argp = &verbosity_argp;
		children[n].header = "Global options, also given before the command:";
		with.children = children;
	}
	rc = argp_parse(&with, argc, argv, flags, NULL, input);
	if (!rc && !has)
		cmd_config_say_files();

	if (!rc)
		return 0;
	/* argp has said what was wrong with the command line; it says
	 * nothing when it ran out of memory. */
	if (rc == ENOMEM) {
		cmd_error("out of memory reading the command line");
		return EXIT_ERROR;
	}
	return EXIT_USAGE;
}

int cmd_print_json(FILE *f, json_t *doc, size_t flags, const struct adp_jb *jb)
{
	if (!doc || (jb && jb->failed) || json_dumpf(doc, f, flags) || fputc('\n', f) == EOF) {
		cmd_error("out of memory building the JSON output, or cannot write it");
		return EXIT_ERROR;
	}
	return 0;
}

int cmd_print_plan_json(FILE *f, json_t *doc)
{
	char *text = doc ? plan_dumps(doc) : NULL;
	int bad = !text || fputs(text, f) == EOF;

	free(text);
	if (bad) {
		cmd_error("out of memory building the JSON output, or cannot write it");
		return EXIT_ERROR;
	}
	return 0;
}

int cmd_inventory_load(struct inventory *inv, const char *path)
{
	return cmd_inventory_load_mode(inv, path, INVENTORY_FULL);
}

int cmd_inventory_load_mode(struct inventory *inv, const char *path, int mode)
{
	struct inventory in;
	int rc;

	if ((rc = inventory_load_mode(&in, path, (enum inventory_mode)mode)))
		return rc;
	if ((rc = orch_drivers_config_check(&in))) {
		inventory_release(&in);
		return rc;
	}
	*inv = in;
	return 0;
}

int cmd_parse_output(const char *s)
{
	if (!strcmp(s, "human") || !strcmp(s, "text"))
		return 0;
	if (!strcmp(s, "json"))
		return 1;
	return -1;
}

int cmd_argp_output(struct argp_state *state, const char *arg)
{
	int json = cmd_parse_output(arg);

	if (json < 0)
		argp_error(state, "unknown output format '%s': expected human or json", arg);
	return json;
}

void cmd_argp_time(struct argp_state *state, const char *opt, const char *arg, int64_t *out)
{
	if (adp_time_parse(out, arg, NULL))
		argp_error(state, "%s '%s' is not a time: expected RFC 3339 such as 2018-05-06T00:00:00Z",
			   opt, arg);
}

const struct orch_driver_info *cmd_argp_driver(struct argp_state *state, const char *arg)
{
	const struct orch_driver_info *d = orch_driver_find(arg);
	char names[256];

	if (!d) {
		orch_driver_names(names, sizeof(names));
		argp_error(state, "unknown driver '%s': expected %s", arg, names);
	}
	return d;
}

void cmd_argp_push(struct argp_state *state, const char *what, const char **list, size_t *n, size_t max,
		   const char *arg)
{
	if (*n == max)
		argp_error(state, "at most %zu %s", max, what);
	else
		list[(*n)++] = arg;
}

void cmd_argp_duration(struct argp_state *state, const char *opt, const char *arg, const char *expected,
		       int64_t *out)
{
	if (adp_duration_parse(out, arg) || *out <= 0)
		argp_error(state, "%s '%s' is not %s", opt, arg, expected);
}

void cmd_argp_plan(struct argp_state *state, const char **plan, const char *arg)
{
	if (*plan)
		argp_error(state, "one plan at a time");
	*plan = arg;
}

static error_t output_parse(int key, char *arg, struct argp_state *state)
{
	if (key != 'o')
		return ARGP_ERR_UNKNOWN;
	*(int *)state->input = cmd_argp_output(state, arg);
	return 0;
}

static const struct argp_option output_options[] = {
	{ "output", 'o', "FORMAT", 0, "human (default) or json", 0 },
	{ 0 },
};

static const struct argp output_argp = { output_options, output_parse, NULL, NULL, NULL, NULL, NULL };
const struct argp_child cmd_output_children[] = { { &output_argp, 0, NULL, 0 }, { 0 } };

int cmd_outcome_status(int outcome)
{
	static const int codes[] = { EXIT_OK,	   EXIT_ROLLED_BACK,  EXIT_APPLY_FAILED, EXIT_REFUSED,
				     EXIT_STOPPED, EXIT_JOURNAL_LOST, EXIT_BLOCKED };

	return outcome >= 0 && outcome < (int)(sizeof(codes) / sizeof(codes[0])) ? codes[outcome] : EXIT_ERROR;
}

const char *cmd_plan_input(const struct plan *p, const char *kind)
{
	size_t i;

	for (i = 0; i < p->ninputs; i++)
		if (!strcmp(p->inputs[i].kind, kind))
			return p->inputs[i].path;
	return NULL;
}

void cmd_strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

int cmd_colour(FILE *f)
{
	const char *nc = getenv("NO_COLOR");

	return (!nc || !*nc) && isatty(fileno(f));
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* -v: the time of the phase that ends at now, on a line of its own. */
static void phase_time(struct cmd_progress *pr, double now)
{
	if (!pr->timed[0])
		return;
	cmd_verbose("%s: %.2f s", pr->timed, now - pr->since);
	pr->timed[0] = '\0';
	pr->phase = NULL; /* redrawn at the next call */
}

/* The phase on one line of stderr, rewritten in place at most five
 * times a second (every phase change at once); only on a terminal. */
void cmd_progress(void *ctx, const char *phase, size_t done, size_t total)
{
	struct cmd_progress *pr = ctx;
	double now = mono_now();

	if (cmd_verbosity >= CMD_VERBOSE && strcmp(pr->timed, phase)) {
		phase_time(pr, now);
		snprintf(pr->timed, sizeof(pr->timed), "%s", phase);
		pr->since = now;
	}
	if (!pr->on)
		return;
	if (pr->phase == phase && now - pr->last < 0.2 && done < total)
		return;
	pr->phase = phase;
	pr->last = now;
	if (total)
		cmd_status("%s: %zu of %zu series (%zu%%)", phase, done, total, done * 100 / total);
	else
		cmd_status("%s...", phase);
}

void cmd_progress_begin(struct cmd_progress *pr)
{
	memset(pr, 0, sizeof(*pr));
	pr->on = cmd_verbosity > CMD_QUIET && isatty(STDERR_FILENO);
}

void cmd_progress_end(struct cmd_progress *pr)
{
	phase_time(pr, mono_now());
	cmd_status_clear();
	pr->phase = NULL;
}

const char *cmd_bold(FILE *f) { return cmd_colour(f) ? "\033[1m" : ""; }
const char *cmd_red(FILE *f) { return cmd_colour(f) ? "\033[31m" : ""; }
const char *cmd_green(FILE *f) { return cmd_colour(f) ? "\033[32m" : ""; }
const char *cmd_reset(FILE *f) { return cmd_colour(f) ? "\033[0m" : ""; }

void cmd_format_amount(char buf[48], int r, double v)
{
	char b[32];

	switch (r) {
	case ADP_RES_CPU:
		snprintf(buf, 48, "%.2f cores", v);
		break;
	case ADP_RES_MEMORY:
		adp_bytes_format(b, v);
		snprintf(buf, 48, "%s", b);
		break;
	default:
		adp_bytes_format(b, v);
		snprintf(buf, 48, "%s/s", b);
		break;
	}
}
