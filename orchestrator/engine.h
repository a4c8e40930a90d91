/* apply's engine: preflight, a journaled state machine over the plan's
 * steps, resume, rollback and the run record. Driver-independent: every
 * effect on the system goes through struct orch_driver. */
#ifndef ADP_ORCH_ENGINE_H
#define ADP_ORCH_ENGINE_H

#include <jansson.h>
#include <signal.h>
#include <stdint.h>

#include "orchestrator/driver.h"
#include "partition/schedule.h"
#include "plans/plan.h"

#define ORCH_JOURNAL_FORMAT 1

/* What the engine does when actual usage leaves the forecast band. "No
 * data" always stops the wave and rolls back (fails closed). */
enum orch_policy { ORCH_POLICY_WARN, ORCH_POLICY_GROW, ORCH_POLICY_ROLLBACK, ORCH_POLICY_BORROW };

/* The most loans (--on-deviation borrow) a run journals. */
#define ORCH_MAX_LOANS 1000

enum orch_outcome {
	ORCH_DONE = 0,        /* every step completed */
	ORCH_ROLLED_BACK = 1, /* a step failed; completed steps were reversed */
	ORCH_FAILED = 2,      /* a step failed and so did the rollback */
	ORCH_REFUSED = 3,     /* preflight refused; nothing was changed */
	ORCH_STOPPED = 4,     /* stopped by a signal at a step boundary; resumable */
	/* a journal write failed (a full disk): apply stopped acting and
	 * reversed what it had done from the journal in memory; the last
	 * error says what state that left and which option continues */
	ORCH_JOURNAL_LOST = 5,
	/* a gate blocked (an alert, or a gate without an answer) before the
	 * first step (nothing changed, no journal unless one was waiting)
	 * or between waves (stopped there: --resume continues) */
	ORCH_BLOCKED = 6,
};

/* The outcome's name in the run record ("done", "rolled_back", ...). */
const char *orch_outcome_name(int outcome);

/* A fleet-wide slot held for the whole apply: one of N places in a
 * semaphore that the hosts of a fleet share (orchestrator/fleet/fleet.h
 * makes one on etcd). The engine takes it after the plan's start and
 * before the first step, journals it (the journal's "slot"), checks it
 * at every step boundary going forward and gives it up at the end;
 * --rollback takes none. Every call runs on the engine's thread. */
struct orch_slot {
	void *ctx;          /* borrowed: the implementation's */
	const char *group;  /* borrowed: the group's name, for the journal */
	/* Takes a slot, keeping the journaled one (lease not 0, with its key)
	 * if it is still held; while none is free, waits up to wait_s
	 * seconds (0: one try) unless *stop (may be NULL) is set first.
	 * 0 with *lease_out and *key_out (borrowed from ctx until release)
	 * set; 1 when *stop came first (nothing is held); a negative ADP_E*
	 * when no slot freed in time or the semaphore could not be asked:
	 * nothing is held, the message says who holds the slots or what
	 * failed. */
	int (*acquire)(void *ctx, int64_t lease, const char *key, double wait_s, volatile sig_atomic_t *stop,
		       int64_t *lease_out, const char **key_out);
	/* Whether the slot taken is still held (its lease kept alive): 1,
	 * or 0 with why (a phrase) in why[len]. */
	int (*healthy)(void *ctx, char *why, size_t len);
	/* Gives the slot up; nothing held is no error. */
	void (*release)(void *ctx);
};

/* Every pointer here is borrowed: the caller keeps it alive for the call. */
struct orch_opts {
	const char *plan_path;
	const char *state_dir;    /* journal, lock, pid files, logs */
	const char *host_lock;    /* the host-wide lock file, or NULL for none */
	const char *record_path;  /* run record, or NULL for state_dir/run.json */
	int resume, rollback;
	int64_t now;              /* for expiry and the start; 0: the clock */
	int64_t wait_max;         /* --wait: sleep up to this long for the plan's start; 0: refuse before it */
	/* The schedule's gates, checked before a fresh apply journals (when
	 * it need not wait) and before every wave's first step; a wave none
	 * of whose partitions needs the update is journaled "skipped".
	 * NULL: none. */
	const struct schedule_gates *gates;
	long crash_after;         /* test hook: _exit after journaling this step id, 0 off */
	long crash_before_done;   /* test hook: _exit after this step's act, before journaling it done */
	volatile sig_atomic_t *stop; /* set by a signal handler: stop at the next boundary; NULL: never */
	int policy;               /* enum orch_policy */
	double monitor_interval;  /* seconds between samples during a step; 0: 5 */
	/* test hook: counted down by every JSON-building call of the engine;
	 * the call that brings it to 0 fails as an allocation would (the
	 * apply ends with ADP_ENOMEM, writing nothing half-built). NULL off */
	long *json_fault;
	/* out, may be NULL: why apply stopped acting when no step failed of
	 * its own (the disk under the state directory filled up), empty
	 * otherwise; also in the run record's "stopped_by" */
	char *why;
	size_t why_len;
	size_t *skipped; /* out, may be NULL: steps journaled "skipped" (waves no partition of needed) */
	/* out, may be NULL: waves given up (ORCH_ACT_SKIP, the journal's
	 * "given_up") and the steps they hold, journaled "skipped" too */
	size_t *given_up, *given_up_steps;
	/* Optional: told of apply_started, each wave (started, done,
	 * skipped), a deviation, a rollback and a block (enum
	 * schedule_event, detail borrowed for the call); must not block. */
	void (*notify)(void *ctx, int event, json_t *detail);
	void *notify_ctx;
	/* Optional, for messages: told of each step acted on, going forward
	 * or undoing (undo 1), once journaled as started (status "started",
	 * seconds 0, msg "") and once it ended (status "done", "failed" or
	 * "stopped", its seconds and the act's message, may be ""); s and msg
	 * borrowed for the call; must not block. */
	void (*step)(void *ctx, const struct plan_step *s, int undo, const char *status, double seconds,
		     const char *msg);
	void *step_ctx;
	const struct orch_slot *slot; /* a fleet slot to hold going forward, or NULL for none */
	/* The request API's socket (orchestrator/request.h), listened on
	 * while apply runs forward and removed at its end; NULL: none. */
	const char *request_socket;
};

/* The reserve apply keeps in the state directory (ORCH_RESERVE_NAME),
 * made before the first step: a fresh apply or a --resume going forward
 * is refused without room for it; a rollback goes on without. When a
 * write finds the disk full it is released (adp_write_atomic), apply
 * stops acting after the step under way and rolls back into the room it
 * left. 1 MiB plus 8 KiB a step: the journal and the run record at
 * about 1 KiB a step each, a journal write's temporary copy, pid files. */
#define ORCH_RESERVE_BASE (1 << 20)
#define ORCH_RESERVE_PER_STEP (8 << 10)

/* Preflight only: format, digest of the inputs (re-hashed), expiry,
 * infeasible plans (p borrowed). 0 or ADP_EINPUT with the reason. */
int orch_preflight(const struct plan *p, int64_t now);

/* When the plan starts: its first wave's start (the window's without waves). */
int64_t orch_plan_start(const struct plan *p);

/* Whether a plan may start at now: not before its start (the forecast
 * and the proof are for then; *wait_s says how long until it), nor so
 * late that its waves overrun the cutoff (later than the plan's margin,
 * at least one step). 0, or ADP_EINPUT with the reason. */
int orch_start_check(const struct plan *p, int64_t now, int64_t *wait_s);

/* Every act runs on a worker thread while the engine's thread enforces
 * the step's timeout (plan_step.timeout seconds, the action's default
 * when 0): a step still running at its deadline is cancelled and fails
 * ("timed out"), which rolls the apply back. During the act, every
 * monitor_interval, the engine samples the wave's live shadows (when the
 * driver allows it) and applies the deviation policy; a rollback
 * decision cancels the step under way.
 *
 * Runs (or resumes, or rolls back) the plan; o and d are borrowed for
 * the call. Returns 0 with *outcome set, or a negative ADP_E* when it
 * could not run at all (lock held, journal unreadable: *outcome is
 * ORCH_REFUSED) or had to stop where it was (ADP_ENOMEM building the
 * journal: as after a crash, the journal on disk is whole and
 * --resume goes on from it). */
int orch_apply(const struct orch_opts *o, const struct orch_driver *d, int *outcome);

#endif
