/* What apply's engine files share, internal to them (users of the
 * engine include orchestrator/engine.h): engine.c (orch_apply's state
 * machine: steps, undo, rollback, gates, the fleet slot, the run
 * record), journal.c (the journal document, its builder and clocks,
 * and what monitoring and loans both read: a replica's band, the
 * driver's samples once a pass), monitor.c (probes and samples against
 * the band, the policy's decision) and loans.c (borrowing, and the
 * request API's decisions and expiry), each building only on those
 * before it. Everything here runs on the engine's thread. */
#ifndef ADP_ORCH_ENGINE_INT_H
#define ADP_ORCH_ENGINE_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "orchestrator/engine.h"
#include "util/jsonutil.h"
#include "util/resource.h"

struct req_state; /* the request API's server and rate windows (loans.c) */

/* The journal: one JSON document rewritten atomically (fsync, rename)
 * before and after every step. */
struct journal {
	char *path;
	json_t *root;   /* {format, plan, digest, state, steps:[..], undo:[..]} */
	double t0;      /* monotonic time the apply started */
	int lost;       /* a write failed: the journal on disk is behind root */
	char lost_msg[512]; /* why, from the first failed write */
	int broken;     /* a build failed: root is incomplete and never written */
	const struct orch_opts *o; /* borrowed: for notifications */
	struct req_state *rq; /* owned: the request API's server, or NULL */
};

/* --- the journal (journal.c) -------------------------------------------- */

/* Test-only (orch_opts.json_fault): orch_apply points it at the count
 * for its thread; one counter for every engine file's jset and jpush. */
extern _Thread_local long *orch_json_fault;

/* adp_jset/adp_jpush behind the fault point: 0, or -1 with b failed. */
int jset(struct adp_jb *b, json_t *obj, const char *key, json_t *value);
int jpush(struct adp_jb *b, json_t *arr, json_t *value);
/* Tells o's notify hook of event; detail (owned, may be NULL) is freed. */
void emit(const struct orch_opts *o, int event, json_t *detail);
/* 0 after a good build; a failed one marks j broken: ADP_ENOMEM. */
int journal_built(struct journal *j, const struct adp_jb *b);
/* Writes j atomically: 0, or an ADP_E* with j->lost set on the first failure. */
int journal_save(struct journal *j);
/* Wall-clock seconds. */
int64_t now_s(void);
/* Monotonic seconds. */
double mono_s(void);
/* The clock of forecast bands: --now at the start (t0), then real time. */
int64_t plan_time(const struct orch_opts *o, double t0);
/* A pending step record (owned), or NULL with b failed. */
json_t *step_json(struct adp_jb *b, const struct plan_step *s);
/* A step record's status with its start or end time, and msg if any. */
void set_status(struct adp_jb *b, json_t *o, const char *status, const char *msg);
/* The journal's state, in memory: 0 or ADP_ENOMEM (root broken). */
int set_state(struct journal *j, const char *state);
/* A record's status, "" when it has none (borrowed). */
const char *status_of(json_t *o);
/* 0 when every step record of root read back has a status the engine writes, else ADP_EINPUT. */
int journal_statuses(json_t *root, const char *path);
/* Adds the observation e (owned; a deviation also emitted): 0 or ADP_ENOMEM. */
int observe(struct journal *j, struct adp_jb *b, json_t *e);
/* Whether a step of upto's wave up to upto, acting act on the replica, is done. */
int done_in_wave(json_t *steps, const struct plan *p, size_t upto, int act, const char *component,
		 size_t replica);
/* Whether x runs in upto's wave at limits the engine set (verified: its shadow verified too). */
int limited_now(json_t *steps, const struct plan *p, size_t upto, const struct plan_placement *x,
		int verified);

/* One monitoring pass's samples of a wave's placements, each taken at
 * most once (cpu and io are rates since the previous sample). */
struct seen {
	int taken, rc;
	double use[ADP_RES_COUNT];
	int have[ADP_RES_COUNT];
	char msg[300]; /* the driver's reason when rc < 0 */
};

/* x's forecast band for r at t: the plan's per-step row (*row), else the wave's peaks (*row -1). */
void band_at(const struct plan *p, const struct plan_placement *x, int r, int64_t t, double *p50,
	     double *p95, long *row);
/* w's placement k sampled by d once a pass: seen[k] (borrowed), its rc and message. */
struct seen *sample_once(const struct orch_driver *d, const struct plan *p, const struct plan_wave *w,
			 struct seen *seen, size_t k);

/* --- monitoring (monitor.c) --------------------------------------------- */

/* Probes and samples upto's wave at t: 0, 1 to roll back, or a negative ADP_E*. */
int monitor(struct journal *j, const struct orch_opts *o, const struct orch_driver *d,
	    const struct plan *p, size_t upto, int during, int64_t t);

/* --- loans and requests (loans.c) --------------------------------------- */

/* Gives back every open loan of wave (0: of every wave), why journaled: 0 or ADP_ENOMEM. */
int loans_settle(struct journal *j, const struct orch_driver *d, const struct plan *p, size_t wave,
		 const char *why);
/* At a sample of upto's wave, gives back the loans no longer needed or wanted back: 0 or a negative ADP_E*. */
int loans_tend(struct journal *j, const struct orch_driver *d, const struct plan *p, size_t upto, int64_t t,
	       struct seen *seen);
/* Borrows for x, whose usage use of r left its band; what was done goes on e: 0 or a negative ADP_E*. */
int borrow(struct journal *j, const struct orch_driver *d, const struct plan *p, size_t upto, int64_t t,
	   const struct plan_placement *x, int r, double use, struct seen *seen, struct adp_jb *b, json_t *e);
/* Listens on o->request_socket into j->rq (freed by requests_close either way): 0 or a negative ADP_E*. */
int requests_open(struct journal *j, const struct orch_driver *d, const struct plan *p,
		  const struct orch_opts *o);
/* Stops listening and frees j->rq; NULL-safe. */
void requests_close(struct journal *j);
/* Answers what arrived and gives back what expired (upto -1: undoing): 0 or a negative ADP_E*. */
int requests_serve(struct journal *j, long upto);

#endif
