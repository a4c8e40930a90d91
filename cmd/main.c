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
	{ "forecast", "forecast the window's load per component as quantiles", cmd_forecast, &cmd_forecast_argp },
	{ "history", "list the plans and runs in the plan store, newest first", cmd_history, &cmd_history_argp },
	{ "show", "show a plan or run record, from a file or the plan store", cmd_show, &cmd_show_argp },
	{ "diff", "show what changed between two stored plans", cmd_diff, &cmd_diff_argp },
	{ "profile", "sample processes into history that plan reads", cmd_profile, &cmd_profile_argp },
	{ "apply", "carry out a plan on this host, journaled and reversible", cmd_apply, &cmd_apply_argp },
	{ "rebalance", "between windows: size this host's limits by the forecast", cmd_rebalance,
	  &cmd_rebalance_argp },
	{ "request", "as a component, ask the running apply for more for a while", cmd_request,
	  &cmd_request_argp },
	{ "simulate", "replay actual load through a plan and three baselines", cmd_simulate, &cmd_simulate_argp },
	{ "accuracy", "what apply observed against what the plans predicted, per window", cmd_accuracy,
	  &cmd_accuracy_argp },
	{ "report", "write a self-contained HTML report of a plan and its run", cmd_report, &cmd_report_argp },
	{ "tune", "learn the planner's cost weights from past windows", cmd_tune, &cmd_tune_argp },
	{ "completion", "print a completion script for bash, zsh or fish", cmd_completion, &cmd_completion_argp },
	{ "config", "show the effective settings and where each came from", cmd_config, &cmd_config_argp },
	{ NULL, NULL, NULL, NULL },
};

static char global_doc[] =
	"Makes operating-system update windows safe by prediction: forecasts each "
	"component's load during the window, plans which partitions go offline in "
	"which wave and where everything runs meanwhile, proven to fit with a "
	"stated probability.\v"
	"Run 'adpart-update COMMAND --help' for a command's options; see "
	"adpart-update(1) and adpart-update(5).";

/* The command list in --help comes from cmd_table, the one source. */
static char *help_filter(int key, const char *text, void *input)
{
	const struct cmd *c;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	(void)input;
	if (key != ARGP_KEY_HELP_POST_DOC || !(f = open_memstream(&out, &len)))
		return (char *)text;
	fputs("Commands:\n", f);
	for (c = cmd_table; c->name; c++)
		fprintf(f, "  %-11s %s\n", c->name, c->summary);
	fprintf(f, "\n%s", text ? text : "");
	fclose(f);
	return out;
}

/* "plan, validate or forecast": the table's names, for messages. */
static void command_names(char *buf, size_t len)
{
	const struct cmd *c;
	size_t n = 0;

	buf[0] = '\0';
	for (c = cmd_table; c->name && n < len; c++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", c == cmd_table ? "" : !c[1].name ? " or " : ", ",
				      c->name);
}

struct global {
	int cmd_index;
	const char *config; /* --config FILE */
};

enum { OPT_CONFIG = 256 };

const struct argp_option cmd_global_options[] = {
	{ "config", OPT_CONFIG, "FILE", 0,
	  "Read settings from FILE alone (default: $ADPART_CONFIG, else the system and the user config file)", 0 },
	CMD_OPTION_QUIET,
	CMD_OPTION_VERBOSE,
	{ 0 },
};

static error_t parse_global(int key, char *arg, struct argp_state *state)
{
	struct global *g = state->input;

	switch (key) {
	case OPT_CONFIG: g->config = arg; break;
	case 'q': cmd_verbosity = CMD_QUIET; break;
	case 'v': cmd_verbosity = CMD_VERBOSE; break;
	case ARGP_KEY_ARG:
		/* Stop at the command: the rest belongs to it. */
		g->cmd_index = state->next - 1;
		state->next = state->argc;
		return 0;
	case ARGP_KEY_END:
		if (g->cmd_index < 0) {
			char names[512];
			command_names(names, sizeof(names));
			argp_error(state, "a command is required: %s", names);
		}
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp global_argp = {
	cmd_global_options, parse_global, "COMMAND [ARG...]", global_doc, NULL, help_filter, NULL,
};

int main(int argc, char **argv)
{
	struct global g = { -1, NULL };
	const struct cmd *c;
	int rc;

	argp_err_exit_status = EXIT_USAGE;
	if ((rc = cmd_parse(&global_argp, argc, argv, ARGP_IN_ORDER, &g)))
		return rc;
	for (c = cmd_table; c->name; c++)
		if (!strcmp(c->name, argv[g.cmd_index]))
			break;
	if (!c->name) {
		char names[512];
		command_names(names, sizeof(names));
		cmd_error("'%s' is not a command: expected %s (see --help)", argv[g.cmd_index], names);
		return EXIT_USAGE;
	}
	{
		/* argp names the program after argv[0] in its messages. */
		static char name[64];
		snprintf(name, sizeof(name), "adpart-update %s", c->name);
		argv[g.cmd_index] = name;
	}
	if ((rc = cmd_config_load(g.config))) {
		cmd_config_release();
		return rc;
	}
	rc = c->run(argc - g.cmd_index, argv + g.cmd_index);
	cmd_config_release();
	/* A full disk must be an error, not silent success. */
	if (fflush(stdout) || ferror(stdout) || fclose(stdout)) {
		cmd_error("cannot write to standard output: %s", strerror(errno));
		return EXIT_ERROR;
	}
	return rc;
}
