/* The command-line front end: one file per subcommand, dispatched from
 * the table in main.c. Only cmd/ prints, parses argv or exits. */
#ifndef ADP_CMD_H
#define ADP_CMD_H

#include <argp.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct inventory;
struct orch_driver_info;

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
	EXIT_BLOCKED = 9,     /* apply: a gate blocked (before the first step: nothing changed) */
	EXIT_PARTIAL = 2,     /* request: partly granted */
	EXIT_DENIED = 3,      /* request: refused, with the reason */
	EXIT_USAGE = 64,      /* bad command line */
};

struct cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
	const struct argp *argp;
};

extern const struct cmd cmd_table[];
/* The options before the command (--config, -q, -v), for completion. */
extern const struct argp_option cmd_global_options[];
/* -q and -v, in that table and, through cmd_parse, after every command. */
#define CMD_OPTION_QUIET { "quiet", 'q', NULL, 0, "Only the result and errors: no progress, informational warnings or hints", -1 }
#define CMD_OPTION_VERBOSE { "verbose", 'v', NULL, 0, "More detail on stderr: the config files read, phase timings, apply's steps", -1 }

/* -q and -v, global options: CMD_QUIET silences what is not essential
 * on stderr (progress, informational warnings and notes, "next:" hints)
 * but never an error; CMD_VERBOSE adds detail (the config files read,
 * plan's and forecast's phase timings, apply's steps). */
enum { CMD_QUIET = -1, CMD_NORMAL = 0, CMD_VERBOSE = 1 };
extern int cmd_verbosity;

/* Reports an error once, in the house form: "adpart-update: message". */
void cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "adpart-update: warning: message" on stderr unless -q; kept as the
 * last message like an error (apply -o json shows it). */
void cmd_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An informational line "adpart-update: message" on stderr, unless -q. */
void cmd_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A line of detail "adpart-update: message" on stderr, only with -v. */
void cmd_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reports the core's last error with an optional context prefix. */
void cmd_error_last(const char *context);
/* The human view of a plan (as plan prints it) on f; with plan_file, the
 * lines saying where it was written and what to run next (with
 * --driver DRIVER when not NULL). Without detail, a wave of many moves or
 * partitions shows the first moves and the riskiest rows. */
struct plan;
void cmd_plan_render(FILE *f, const struct plan *p, const char *plan_file, const char *driver, int detail);
/* The text of the last message cmd_error printed ("" before any). */
const char *cmd_last_message(void);

/* Output format from --output: 0 human, 1 json; -1 if unknown. */
int cmd_parse_output(const char *s);
/* The same inside an argp parser: an unknown format is a usage error. */
int cmd_argp_output(struct argp_state *state, const char *arg);
/* Parses an RFC 3339 option value such as --now; a bad one is a usage error. */
void cmd_argp_time(struct argp_state *state, const char *opt, const char *arg, int64_t *out);

/* --driver NAME, looked up in the driver registry (borrowed); an
 * unknown name is a usage error listing the registry's names. */
const struct orch_driver_info *cmd_argp_driver(struct argp_state *state, const char *arg);
/* A repeatable option: appends arg to list[*n]; past max, a usage error
 * "at most MAX WHAT". */
void cmd_argp_push(struct argp_state *state, const char *what, const char **list, size_t *n, size_t max,
		   const char *arg);
/* A duration above zero from opt's arg; otherwise the usage error
 * "OPT 'ARG' is not EXPECTED". */
void cmd_argp_duration(struct argp_state *state, const char *opt, const char *arg, const char *expected,
		       int64_t *out);
/* The command's one PLAN argument (a second is a usage error). */
void cmd_argp_plan(struct argp_state *state, const char **plan, const char *arg);

/* --output human|json as an argp child: the parent's parser points
 * state->child_inputs[0] at its int (0 human, 1 json) on ARGP_KEY_INIT. */
extern const struct argp_child cmd_output_children[];

/* Frees n owned strings and the array holding them; accepts NULL. */
void cmd_strv_free(char **v, size_t n);
/* The path of p's input of kind ("inventory", "schedule") as recorded
 * when it was planned (borrowed), or NULL. */
const char *cmd_plan_input(const struct plan *p, const char *kind);
/* The exit status of an engine outcome (enum orch_outcome): apply's and rebalance's. */
int cmd_outcome_status(int outcome);

/* history, show and diff: --store DIR (or $ADPART_STORE), --output, and
 * want REF arguments (0, 1 or 2), in ref. */
struct cmd_store_args {
	const char *store, *ref[2];
	size_t nref, want;
	int json;
	int file_ok; /* show: a REF that is a file needs no store */
};
extern const struct argp_option cmd_store_options[];
error_t cmd_store_parse(int key, char *arg, struct argp_state *state);

/* Settings: a key of the config files, each with an environment
 * variable and the flag that overrides it (cmd/config.c). Precedence:
 * flag > environment > user file > system file > built-in default. */
enum cmd_key { CMD_KEY_STORE, CMD_KEY_DRIVER, CMD_KEY_STATE_DIR, CMD_KEY_HOST_LOCK, CMD_KEY_SEMAPHORE, CMD_KEY_HOOK,
	       CMD_KEY_PROMETHEUS, CMD_KEY_PROM_TOKEN, CMD_KEY_PROM_CA, CMD_NKEYS };
#define CMD_STATE_DIR "/var/lib/adpart-update"
/* /run/lock is the FHS place for lock files (tmpfs, cleared at boot). */
#define CMD_HOST_LOCK "/run/lock/adpart-update.lock"
/* Reads the config files (file, from --config, alone when not NULL; else
 * $ADPART_CONFIG alone; else the system file and the user file) and the
 * environment's settings, checking every value. 0, or the exit status
 * after saying what is wrong (a file's error as FILE:LINE: ...). */
int cmd_config_load(const char *file);
/* With a Prometheus URL in p: its token and CA files from the settings
 * where no flag gave them. */
struct history_prom_opts;
void cmd_prom_settings(struct history_prom_opts *p);

/* Whether url can be a --semaphore: etcd endpoints, kubernetes://NAMESPACE
 * (*lease_ns the namespace, else NULL) or fleetlock+URL. 0 or ADP_EINPUT
 * saying why. */
int cmd_semaphore_check(const char *url, const char **lease_ns);
/* -v: the config files and whether each was read, said once the
 * command line (where -v may come last) has been parsed. */
void cmd_config_say_files(void);
/* Frees what cmd_config_load read; accepts being called without it. */
void cmd_config_release(void);
/* The value of a setting from the environment or a config file
 * (borrowed), or NULL for the built-in default (unset, or set empty). A
 * command's own flag comes first: `if (!a->store) a->store = cmd_setting(..)`. */
const char *cmd_setting(enum cmd_key k);
/* The host lock when neither --host-lock nor a setting names one. */
const char *cmd_default_host_lock(void);
int cmd_config(int argc, char **argv);
extern const struct argp cmd_config_argp;

/* Colour only on a terminal and when NO_COLOR is unset. */
/* Progress of a long run on stderr, only when it is a terminal (pipes,
 * logs and CI see nothing) and without -q: cmd_progress_begin, then
 * cmd_progress as the part_run_opts hook (ctx the struct), then
 * cmd_progress_end to clear the line before the result is printed. With
 * -v, each phase's time is said as the next begins (on any stderr). */
struct cmd_progress {
	int on;
	const char *phase; /* borrowed: the last one shown */
	double last;       /* when it was shown */
	char timed[64];    /* -v: the phase being timed ("" none) */
	double since;      /* when it began */
};
/* A status line on stderr, rewritten in place (callers check that stderr
 * is a terminal); cleared before any other message and by
 * cmd_status_clear. */
void cmd_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cmd_status_clear(void);
void cmd_progress_begin(struct cmd_progress *pr);
void cmd_progress(void *ctx, const char *phase, size_t done, size_t total);
void cmd_progress_end(struct cmd_progress *pr);

int cmd_colour(FILE *f);
const char *cmd_bold(FILE *f);
const char *cmd_red(FILE *f);
const char *cmd_green(FILE *f);
const char *cmd_reset(FILE *f);

/* argp_parse for a command: 0, or the exit status to return (EXIT_USAGE
 * after argp's own message; EXIT_ERROR, said here, when it ran out of
 * memory, which argp does not report). */
int cmd_parse(const struct argp *argp, int argc, char **argv, unsigned flags, void *input);

struct adp_jb;
/* Prints doc (borrowed) as JSON and a newline on f: 0, or EXIT_ERROR after
 * saying so when doc is NULL, jb (may be NULL) recorded a failed build,
 * or the dump failed; never a document missing parts. */
int cmd_print_json(FILE *f, json_t *doc, size_t flags, const struct adp_jb *jb);

/* A plan document on f as plan_write writes it (the same bytes as the
 * file); the same errors as cmd_print_json. */
int cmd_print_plan_json(FILE *f, json_t *doc);

struct inventory;
/* inventory_load, then every driver's check of its own sections (the
 * registry's config_check): every command that reads an inventory goes
 * through here, so that the sections' errors are the same everywhere.
 * 0, or a negative ADP_E* with the message (file:line: path) set for the
 * caller to report; *inv is written only on success. */
int cmd_inventory_load(struct inventory *inv, const char *path);
/* The same in an enum inventory_mode: INVENTORY_FORECAST for a command
 * that needs only the components and their history. */
int cmd_inventory_load_mode(struct inventory *inv, const char *path, int mode);

/* Formats a quantity of resource r for people: "1.5 cores", "2.0 GiB". */
void cmd_format_amount(char buf[48], int r, double v);

int cmd_plan(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_forecast(int argc, char **argv);
extern const struct argp cmd_forecast_argp;
int cmd_simulate(int argc, char **argv);
extern const struct argp cmd_simulate_argp;
int cmd_accuracy(int argc, char **argv);
extern const struct argp cmd_accuracy_argp;
int cmd_report(int argc, char **argv);
extern const struct argp cmd_report_argp;
int cmd_tune(int argc, char **argv);
extern const struct argp cmd_tune_argp;
int cmd_completion(int argc, char **argv);
extern const struct argp cmd_completion_argp;
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
int cmd_rebalance(int argc, char **argv);
extern const struct argp cmd_rebalance_argp;
int cmd_request(int argc, char **argv);
extern const struct argp cmd_request_argp;

#endif
