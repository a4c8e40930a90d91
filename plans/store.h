/* The plan store: a git repository (bare, created on first use) that keeps
 * every plan and every run record as commits, the audit ledger of what was
 * planned and applied. Commits are made with libgit2.
 *
 * Tree layout, per schedule name S:
 *   S/lineage            the schedule's lineage id (created on first plan)
 *   S/serial             the last plan serial recorded
 *   S/applied            the serial of the last plan applied
 *   S/plans/N.json       the plan document with serial N
 *   S/plans/N.txt        its human summary, as `plan` printed it
 *   S/runs/N.json        the run record of plan N, outcome in the message
 * Commit messages: "plan S serial N window START..END digest D" and
 * "run S serial N outcome O digest D".
 * Writers take an flock on <store>/adpart.lock (waiting up to a timeout),
 * besides libgit2's own ref locking. */
#ifndef ADP_STORE_H
#define ADP_STORE_H

#include <stddef.h>
#include <stdint.h>

#define PLAN_STORE_MAX_NAME 128
#define PLAN_STORE_LOCK_TIMEOUT 30 /* seconds */

struct plan;
struct plan_store;

/* Opens the store at path, creating a bare repository if absent (create
 * non-zero). The store owns its libgit2 state; free with plan_store_free. */
int plan_store_open(struct plan_store **out, const char *path, int create);
void plan_store_free(struct plan_store *s);

/* Records the plan for its schedule: assigns the lineage (new if the
 * schedule is new) and the next serial, set in p->lineage, p->serial and
 * written to lineage_out (37 bytes) and *serial_out. The stored document is
 * plan_json when given, else p serialised (with lineage and serial);
 * summary (may be NULL) is committed beside it for people reading the
 * repository. */
int plan_store_record_plan(struct plan_store *s, struct plan *p, const char *plan_json, const char *summary,
			   char lineage_out[37], int64_t *serial_out);

/* For apply: refuses a plan from another lineage or older than (or as old
 * as) the last applied serial for schedule, with distinct messages. */
int plan_store_check_apply(struct plan_store *s, const char *schedule, const char *lineage, int64_t serial);

/* For apply: commits the run record of plan serial with its outcome on top;
 * outcome "success" also marks serial as applied. */
int plan_store_record_run(struct plan_store *s, const char *schedule, int64_t serial, const char *digest,
			  const char *run_json, const char *outcome);

/* Reads a blob at path in HEAD's tree (caller frees *out). */
int plan_store_read(struct plan_store *s, const char *path, char **out);



/* One commit of the store, for history and show. */
struct plan_store_entry {
	char id[41];
	int64_t time;
	char summary[256];  /* the message's first line */
};

#define PLAN_STORE_MAX_HISTORY 100000

/* The commits from HEAD, newest first (caller frees *out); none for an
 * empty store. */
int plan_store_history(struct plan_store *s, struct plan_store_entry **out, size_t *n);

/* Resolves REF (a git revision, or SCHEDULE/SERIAL for that plan) to its
 * commit and the document it recorded (caller frees *doc). */
int plan_store_show(struct plan_store *s, const char *ref, struct plan_store_entry *e, char **doc);
/* Pushes the store's current branch to url (a local path or file:// URL
 * of a bare repository), fast-forward only. */
int plan_store_push(struct plan_store *s, const char *url);

#endif
