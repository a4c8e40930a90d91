/* adpart-update report: a plan (and what happened in its window) as one
 * self-contained HTML page with inline SVG charts (plans/report.h). */
#include <argp.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/cmd.h"
#include "history/history.h"
#include "plans/plan.h"
#include "plans/report.h"
#include "plans/store.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"

#define REPORT_MAX_HISTORY 64

struct report_args {
	const char *plan, *store, *run, *out;
	const char *history[REPORT_MAX_HISTORY];
	size_t nhistory;
};

enum { OPT_RUN = 1000 };

static const struct argp_option options[] = {
	{ "output-file", 'O', "FILE", 0, "Write the HTML page to FILE (required; replaced atomically)", 0 },
	{ "run", OPT_RUN, "RECORD", 0, "A run record of this plan (as apply writes it, or a store REF): apply's samples, decisions and the window's accuracy", 0 },
	{ "history", 'H', "FILE", 0, "Actual load, long-format CSV or JSON as simulate takes (repeatable)", 0 },
	{ "store", 'S', "DIR", 0, "The plan store for a stored PLAN or RECORD (default: $ADPART_STORE or the config file's store)", 0 },
	{ 0 },
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	struct report_args *a = state->input;

	switch (key) {
	case 'O': a->out = arg; break;
	case OPT_RUN: a->run = arg; break;
	case 'H': cmd_argp_push(state, "history files", a->history, &a->nhistory, REPORT_MAX_HISTORY, arg); break;
	case 'S': a->store = arg; break;
	case ARGP_KEY_ARG: cmd_argp_plan(state, &a->plan, arg); break;
	case ARGP_KEY_END:
		if (!a->plan)
			argp_error(state, "a PLAN is required");
		if (!a->out)
			argp_error(state, "name the page to write with -O FILE");
		if (!a->store)
			a->store = cmd_setting(CMD_KEY_STORE);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp cmd_report_argp = {
	options, parse, "PLAN",
	"Write one self-contained HTML page (inline SVG charts, no script, nothing fetched when viewed) of a "
	"plan: the window and its waves, each partition's predicted utilisation against its capacity with "
	"P(overload) per step, each component's forecast, the proof and the risks. With --run, apply's samples "
	"against the bands it monitored, its decisions and the window's accuracy; with --history, the actual "
	"load. PLAN is a plan file or a store REF (SCHEDULE/SERIAL or a revision), as show takes.\v"
	"A run record of another plan (its digest differs) is refused. Exit status: 0, or 1 when an input "
	"cannot be read or the page cannot be written.",
	NULL, NULL, NULL,
};

static int is_file(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode);
}

/* The document ref names (what: "plan" or "run record"): a file, else a
 * document of the store. *text owned; 0 or EXIT_ERROR (reported). */
static int read_ref(char **text, const char *what, const char *ref, const char *store)
{
	struct plan_store *s = NULL;
	struct plan_store_entry e;
	char ctx[600];
	int rc = EXIT_OK;

	struct stat st;

	if (!store && stat(ref, &st)) {
		cmd_error("cannot read %s '%s': %s (a stored one needs --store, ADPART_STORE or the config file's store)", what, ref,
			  strerror(errno));
		return EXIT_ERROR;
	}
	if (is_file(ref) || !store) {
		if (plan_read_text(text, ref)) {
			snprintf(ctx, sizeof(ctx), "cannot read %s", what);
			cmd_error_last(ctx);
			rc = EXIT_ERROR;
		}
		return rc;
	}
	if (plan_store_open(&s, store, 0) || plan_store_show(s, ref, &e, text)) {
		snprintf(ctx, sizeof(ctx), "cannot read %s '%s'", what, ref);
		cmd_error_last(ctx);
		rc = EXIT_ERROR;
	}
	plan_store_free(s);
	return rc;
}

static int load_plan(struct plan *p, const struct report_args *a)
{
	struct adp_json_doc d = { 0 };
	char *text = NULL;
	int rc = EXIT_OK;

	if (read_ref(&text, "plan", a->plan, a->store))
		return EXIT_ERROR;
	if (adp_json_load_text(&d, a->plan, text) || plan_from_doc(p, &d)) {
		cmd_error_last(NULL);
		rc = EXIT_ERROR;
	}
	adp_json_release(&d);
	free(text);
	return rc;
}

static int load_run(json_t **run, const struct report_args *a)
{
	json_error_t e;
	char *text = NULL;

	if (read_ref(&text, "run record", a->run, a->store))
		return EXIT_ERROR;
	*run = json_loads(text, 0, &e);
	free(text);
	if (!*run) {
		cmd_error("cannot read run record '%s': line %d: %s", a->run, e.line, e.text);
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

int cmd_report(int argc, char **argv)
{
	struct report_args a = { 0 };
	struct plan p = { 0 };
	struct history h;
	struct history_opts ho = { 0 };
	struct plan_report_opts o = { 0 };
	json_t *run = NULL;
	char names[1024] = "";
	size_t i, n = 0;
	int rc;

	if ((rc = cmd_parse(&cmd_report_argp, argc, argv, 0, &a)))
		return rc;
	history_init(&h);
	rc = EXIT_ERROR;
	if (load_plan(&p, &a) || (a.run && load_run(&run, &a)))
		goto done;
	ho.step = p.step;
	ho.max_gap = p.step * 4;
	for (i = 0; i < a.nhistory; i++) {
		if (history_add_file(&h, a.history[i], &ho)) {
			cmd_error_last(NULL);
			goto done;
		}
		/* "a.csv, b.csv" for the footer; display only, may be cut */
		n += (size_t)snprintf(names + n, n < sizeof(names) ? sizeof(names) - n : 0, "%s%s", i ? ", " : "",
				      a.history[i]);
		if (n >= sizeof(names))
			n = sizeof(names) - 1;
	}
	o.plan = &p;
	o.plan_name = a.plan;
	o.run = run;
	o.run_name = a.run;
	o.actual = a.nhistory ? &h : NULL;
	o.actual_name = names;
	o.tool_version = ADP_VERSION;
	if ((rc = plan_report_write(a.out, &o))) {
		char ctx[600];

		/* The inputs' errors name their files; the write's, the page. */
		snprintf(ctx, sizeof(ctx), "cannot write the report '%s'", a.out);
		cmd_error_last(rc == ADP_ESYS ? ctx : NULL);
		rc = EXIT_ERROR;
		goto done;
	}
	printf("Report written to %s\n", a.out);
	rc = EXIT_OK;
done:
	json_decref(run);
	history_release(&h);
	plan_release(&p);
	return rc;
}
