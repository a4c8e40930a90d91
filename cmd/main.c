/* adpart-update: predictive, proven OS update windows. */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"

#ifndef ADP_VERSION
#define ADP_VERSION "0.1.0"
#endif

const char *argp_program_version = "adpart-update " ADP_VERSION;
const char *argp_program_bug_address = NULL;

const struct cmd cmd_table[] = {
	{ "plan", "forecast the window's load and build a plan that fits", cmd_plan, &cmd_plan_argp },
	{ "validate", "check an inventory, schedule, plan or history file", cmd_validate, &cmd_validate_argp },
	{ NULL, NULL, NULL, NULL },
};

static char global_doc[] =
	"Makes operating-system update windows safe by prediction: forecasts each "
	"component's load during the window, plans which partitions go offline in "
	"which wave and where everything runs meanwhile, proven to fit with a "
	"stated probability.\v"
	"Commands:\n"
	"  plan        forecast the window's load and build a plan that fits\n"
	"  validate    check an inventory, schedule, plan or history file\n"
	"\nRun 'adpart-update COMMAND --help' for a command's options; see "
	"adpart-update(1) and adpart-update(5).";

struct global {
	int cmd_index;
};

static error_t parse_global(int key, char *arg, struct argp_state *state)
{
	struct global *g = state->input;

	(void)arg;
	switch (key) {
	case ARGP_KEY_ARG:
		/* Stop at the command: the rest belongs to it. */
		g->cmd_index = state->next - 1;
		state->next = state->argc;
		return 0;
	case ARGP_KEY_END:
		if (g->cmd_index < 0)
			argp_error(state, "a command is required: plan or validate");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp global_argp = {
	NULL, parse_global, "COMMAND [ARG...]", global_doc, NULL, NULL, NULL,
};

int main(int argc, char **argv)
{
	struct global g = { -1 };
	const struct cmd *c;
	int rc;

	argp_err_exit_status = EXIT_USAGE;
	if (argp_parse(&global_argp, argc, argv, ARGP_IN_ORDER, NULL, &g))
		return EXIT_USAGE;
	for (c = cmd_table; c->name; c++)
		if (!strcmp(c->name, argv[g.cmd_index]))
			break;
	if (!c->name) {
		cmd_error("'%s' is not a command: expected plan or validate (see --help)", argv[g.cmd_index]);
		return EXIT_USAGE;
	}
	{
		/* argp names the program after argv[0] in its messages. */
		static char name[64];
		snprintf(name, sizeof(name), "adpart-update %s", c->name);
		argv[g.cmd_index] = name;
	}
	rc = c->run(argc - g.cmd_index, argv + g.cmd_index);
	/* A full disk must be an error, not silent success. */
	if (fflush(stdout) || ferror(stdout) || fclose(stdout)) {
		cmd_error("cannot write to standard output: %s", strerror(errno));
		return EXIT_ERROR;
	}
	return rc;
}
