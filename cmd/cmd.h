/* The command-line front end: one file per subcommand, dispatched from
 * the table in main.c. Only cmd/ prints, parses argv or exits. */
#ifndef ADP_CMD_H
#define ADP_CMD_H

#include <argp.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes: a contract, listed in adpart-update(1) EXIT STATUS. */
enum {
	EXIT_OK = 0,          /* success; for plan: nothing to change */
	EXIT_ERROR = 1,       /* bad input or a failure, message on stderr */
	EXIT_CHANGES = 2,     /* plan: a plan with changes was written */
	EXIT_INFEASIBLE = 3,  /* plan: inputs valid, but no plan fits */
	EXIT_ROLLED_BACK = 4, /* apply: a step failed, the system was rolled back */
	EXIT_APPLY_FAILED = 5, /* apply: a step failed and so did the rollback */
	EXIT_REFUSED = 6,     /* apply: preflight refused, nothing changed */
	EXIT_STOPPED = 7,     /* apply: stopped by a signal, resumable */
	EXIT_JOURNAL_LOST = 8, /* apply: the journal could not be written; what was done was reversed */
	EXIT_USAGE = 64,      /* bad command line */
};

struct cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
	const struct argp *argp;
};

extern const struct cmd cmd_table[];

/* Reports an error once, in the house form: "adpart-update: message". */
void cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reports the core's last error with an optional context prefix. */
void cmd_error_last(const char *context);

/* Output format from --output: 0 human, 1 json; -1 if unknown. */
int cmd_parse_output(const char *s);
/* The same inside an argp parser: an unknown format is a usage error. */
int cmd_argp_output(struct argp_state *state, const char *arg);
/* Parses an RFC 3339 option value such as --now; a bad one is a usage error. */
void cmd_argp_time(struct argp_state *state, const char *opt, const char *arg, int64_t *out);

/* Colour only on a terminal and when NO_COLOR is unset. */
int cmd_colour(FILE *f);
const char *cmd_bold(FILE *f);
const char *cmd_red(FILE *f);
const char *cmd_green(FILE *f);
const char *cmd_reset(FILE *f);

struct inventory;
/* inventory_load, then the check of the drivers' sections (today the
 * local driver's, orch_local_config_check): every command that reads an
 * inventory goes through here, so that the sections' errors are the same
 * everywhere. *inv is written only on success. */
int cmd_inventory_load(struct inventory *inv, const char *path);

/* Formats a quantity of resource r for people: "1.5 cores", "2.0 GiB". */
void cmd_format_amount(char buf[48], int r, double v);

int cmd_plan(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_forecast(int argc, char **argv);
extern const struct argp cmd_forecast_argp;
int cmd_simulate(int argc, char **argv);
extern const struct argp cmd_simulate_argp;
extern const struct argp cmd_plan_argp, cmd_validate_argp;
int cmd_history(int argc, char **argv);
int cmd_show(int argc, char **argv);
extern const struct argp cmd_history_argp, cmd_show_argp;
int cmd_diff(int argc, char **argv);
extern const struct argp cmd_diff_argp;
int cmd_profile(int argc, char **argv);
extern const struct argp cmd_profile_argp;
int cmd_apply(int argc, char **argv);
extern const struct argp cmd_apply_argp;

#endif
