/* The plan document: what `plan` proves and `apply` carries out. This
 * header owns its in-memory form, its JSON serialisation (format_version
 * PLAN_FORMAT_VERSION), the digest of its inputs, and its validation.
 * Ownership: a struct plan owns everything it points to, down to every
 * string and array; plan_release frees it all. */
#ifndef ADP_PLAN_H
#define ADP_PLAN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/resource.h"

#define PLAN_FORMAT_VERSION 1
/* The most JSON a plan may hold, read or written: 10,000 components over
 * a 4-hour window take 210 MiB, and reading one takes about ten times
 * its size in memory. */
#define PLAN_MAX_BYTES ((size_t)1 << 30)

/* PLAN_MAX_BYTES, or for the tests of both sides of it the KiB that
 * ADPART_TEST_PLAN_MAX_KIB says. */
size_t plan_max_bytes(void);

/* The text of a plan file (or a run record beside it), as JSON or
 * gzip-compressed, at most plan_max_bytes() of it; *text is the
 * caller's. The one way every command reads such a file. */
int plan_read_text(char **text, const char *path);

struct plan_input {
	char *kind;         /* owned: "inventory", "schedule" or "history" */
	char *path;         /* owned: as given on the command line */
	char sha256[65];
};

struct plan_partition {
	char *name, *zone;  /* owned; zone "" when none */
	double capacity[ADP_RES_COUNT];
	int updated;        /* in the schedule's list */
};

struct plan_placement {
	char *component;    /* owned */
	size_t replica;     /* 0-based replica index */
	int tier;
	char *partition;    /* owned: where it runs during the wave */
	char *from;         /* owned: its home partition when moved, else NULL */
	/* In granular units. alloc: the replica's limit, its own forecast at
	 * the confidence (a burst ceiling; limits on a partition may
	 * overcommit it where the chance constraint allows). reserve: what
	 * the partition sets aside for it, between its guarantee and its
	 * limit; the reservations on a partition never sum above its
	 * capacity. */
	double alloc[ADP_RES_COUNT];
	double reserve[ADP_RES_COUNT];
	/* The component's guarantee for a replica (the inventory's min), at
	 * most reserve: what apply's borrowing never takes below ("guarantee",
	 * written when one is set; 0 in older plans). */
	double guarantee[ADP_RES_COUNT];
	double p50_peak[ADP_RES_COUNT], p95_peak[ADP_RES_COUNT]; /* forecast peaks */
	/* Optional ("band"; nband 0 without): the replica's forecast per
	 * time step, row k for band_start + k * step, ADP_RES_COUNT values a
	 * row. apply's monitoring compares usage with the current row. */
	int64_t band_start;
	size_t nband;
	double *band_p50, *band_p95; /* owned: nband rows each, or NULL */
};

struct plan_usage {
	char *partition;       /* owned */
	int resource;
	double capacity;
	size_t nsteps;
	double *p50, *p95;     /* owned: predicted total per step */
	double *bound;         /* owned, optional (NULL): per step, the total exceeded with
				* probability at most 1 - confidence (the chance
				* constraint's left side); "at_confidence" */
	double *prob;          /* owned, optional (NULL): per step, P(total > capacity)
				* over the scenarios; "overload_by_step" */
	double overload_prob;  /* max over steps of P(total > capacity) */
	double headroom;       /* capacity minus the highest p95 */
};

/* A replica that is not moved: it stops with its offline partition and
 * the component's other replicas carry its share ("absorbed"). */
struct plan_absorbed {
	char *component;    /* owned */
	size_t replica;
	char *partition;    /* owned: its home, offline in the wave */
};

struct plan_wave {
	int64_t start, end;
	char **offline;           /* owned, and each name */
	size_t noffline;
	struct plan_placement *placements; /* owned */
	size_t nplacements;
	struct plan_usage *usage; /* owned */
	size_t nusage;
	/* Exact mode (plan --exact); exact_status is NULL when it did not run. */
	char *exact_status;       /* owned: "optimal", "feasible", "infeasible", "no solution" */
	double exact_objective;   /* cost of the placement kept (INFINITY: none) */
	double exact_heuristic;   /* cost of the heuristic's (INFINITY: it left a replica out) */
	double exact_bound, exact_gap, exact_seconds;
	int exact_replaced;       /* the MILP's placement replaced the heuristic's */
	struct plan_absorbed *absorbed; /* owned, optional; NULL when none */
	size_t nabsorbed;
};

/* Under shortage: a replica granted less than its forecast asks for
 * (never less than its guarantee). */
struct plan_reduction {
	size_t wave;        /* 1-based */
	char *component;    /* owned */
	size_t replica;
	char *partition;    /* owned */
	int resource;
	double wanted, granted; /* the allocation at the confidence, and what it got */
};

/* Whether moving every replica back home (the rollback's end state: the
 * original placement with every partition online) fits, over the window. */
struct plan_rollback_check {
	int checked, fits;
	double overload_prob;  /* the largest over partitions, resources and steps */
	char *partition;       /* owned: where it is tightest, or NULL */
	int resource;
	int64_t at;
	double bound, capacity; /* the total at the confidence there, and the capacity */
};

/* The planner's cost of the plan, term by term (weights applied). */
struct plan_cost {
	int present;
	double risk, waste, moves, confidence, total;
};

struct plan_step {
	size_t id;
	size_t wave;        /* 1-based */
	char *action;       /* owned; a name of plans/steps.h */
	int act;            /* enum plan_action of action, resolved when the step is built or read */
	char *partition;    /* owned, or NULL */
	char *component;    /* owned, or NULL */
	size_t replica;
	char *target;       /* owned: partition the action moves to, or NULL */
	int64_t timeout;    /* seconds */
};

struct plan_forecast_summary {
	char *component;    /* owned */
	int resource;
	char *model;        /* owned */
	double p50_peak, p95_peak; /* over the window, whole component */
};

struct plan_shortfall {
	size_t wave;        /* 0: the whole window (timing) */
	char *partition, *component; /* owned, or NULL */
	int resource;       /* -1 for timing */
	double demand, capacity, missing;
	int64_t at;
	char *advice;       /* owned, or NULL */
};

/* Consolidation advice: partitions that could go empty for the whole
 * window, what runs there (their home replicas, and the moves the waves
 * put there) placed on the others with the proof still holding. Advice
 * only: the waves, placements and steps are the plan's as without it. */
enum plan_consolidation_state {
	PLAN_CONSOL_ABSENT,    /* not looked at (a plan that does not fit or cuts allocations, or an older plan) */
	PLAN_CONSOL_CHECKED,
	PLAN_CONSOL_UNCHECKED  /* too large to check: reason says why */
};

struct plan_consolidation {
	int state;                       /* enum plan_consolidation_state */
	char **partitions;               /* owned, and each name: could go empty; none when npartitions 0 */
	size_t npartitions;
	size_t components, replicas;     /* homed on those partitions */
	double freed[ADP_RES_COUNT];     /* their capacity */
	double worst[ADP_RES_COUNT];     /* the largest P(overload) of the checks with them empty */
	size_t tried, candidates;        /* partitions tried, least loaded first, of those that could be */
	char *reason;                    /* owned: why not checked (UNCHECKED), else NULL */
};

/* Feedback from past windows (plan with a store): a series' spread
 * around its median scaled by what apply observed of its p95 there. */
struct plan_feedback {
	char *component;    /* owned */
	int resource;
	double scale;       /* the factor on the spread */
	size_t windows, samples;
	double above_p95;   /* share of the samples above the p95 they were planned with */
};

struct plan {
	int format_version;
	char *tool_version;         /* owned */
	int64_t created_at, expires_at;
	char digest[65];            /* over all inputs' hashes */
	char lineage[37];           /* plan store lineage of the schedule, "" without a store */
	int64_t serial;             /* plan store serial in that lineage, 0 without a store */
	struct plan_input *inputs;  /* owned */
	size_t ninputs;

	char *schedule_name, *timezone; /* owned */
	int64_t window_start, window_end, cutoff_at, step;
	double confidence[ADP_RES_COUNT];
	size_t max_concurrency;

	char *model;                /* owned */
	int64_t period;
	size_t scenarios;
	struct plan_forecast_summary *forecast; /* owned */
	size_t nforecast;

	struct plan_partition *partitions; /* owned */
	size_t npartitions;
	struct plan_wave *waves;    /* owned */
	size_t nwaves;
	int64_t margin;             /* cutoff minus the last wave's end */

	struct plan_step *steps, *rollback; /* owned */
	size_t nsteps, nrollback;
	/* plan --preallocate: the steps make each wave's shadows ahead, in
	 * the wave before (plans/steps.h); read back from the steps. */
	int preallocate;
	/* adpart-update rebalance: one wave with no partition offline whose
	 * steps only resize every replica to its forecast ("rebalance"). */
	int rebalance;

	int risk_accepted;          /* plan --accept-risk: written though the proof fails */
	struct plan_shortfall *shortfalls; /* owned; non-empty: infeasible */
	size_t nshortfalls;
	char **risks;               /* owned, and each line */
	size_t nrisks;
	/* owned, and each line: where the plan does not fit or its proof
	 * fails, what would fix it, each remedy planned again in full
	 * (absent from the document when none) */
	char **remedies;
	size_t nremedies;

	/* Optional fields (absent in older plans). */
	struct plan_reduction *reductions; /* owned */
	size_t nreductions;
	struct plan_rollback_check rollback_check;
	struct plan_cost cost;
	int64_t start_chosen_from; /* start policy: the earliest start considered, 0 when not recorded */
	size_t start_candidates;   /* how many starts were compared */
	struct plan_feedback *feedback; /* owned; NULL when no past window adjusted a band */
	size_t nfeedback;
	struct plan_consolidation consolidation;
};

/* Frees everything p owns and zeroes it; NULL-safe. */
void plan_release(struct plan *p);
/* Frees n steps, what they own and the array; NULL-safe. */
void plan_steps_free(struct plan_step *s, size_t n);
/* Frees what one wave owns (its offline list too) and zeroes it; NULL-safe. */
void plan_wave_release(struct plan_wave *w);
/* Whether partition is offline in wave w. */
int plan_wave_offline(const struct plan_wave *w, const char *partition);

/* Digest over inputs: SHA-256 of "kind path sha256\n" lines in order. */
void plan_digest(const struct plan *p, char out[65]);

/* 0 when every input file still has the digest the plan recorded, and
 * the plan's digest is theirs; else ADP_EINPUT naming the input that
 * changed or cannot be read ("stale plan: ..."). apply and validate both
 * check it. */
int plan_check_inputs(const struct plan *p);

/* The proof's result, computed from the plan itself: per resource the
 * worst predicted P(overload) over the online partitions and steps of
 * every wave, where it is (partition borrowed from the plan; wave from 1,
 * 0 when no wave uses the resource), and epsilon, 1 - confidence. holds:
 * no resource is above its epsilon, and the reservations fit. Where the
 * shortage rule gave someone less than forecast (a reduction) counts as
 * anywhere else: the demand is still predicted to exceed the capacity
 * (shared says the worst place is such a one). */
struct plan_proof {
	int holds;
	/* The reservations on every online partition fit its capacity; when
	 * not (never in a plan the planner wrote), the first place they do
	 * not: wave (from 1), partition (borrowed), resource, their sum. This
	 * is not a risk an operator can accept. */
	int reserve_fits;
	size_t reserve_wave;
	const char *reserve_partition;
	int reserve_resource;
	double reserve_sum, reserve_capacity;
	double worst[ADP_RES_COUNT], eps[ADP_RES_COUNT];
	const char *partition[ADP_RES_COUNT];
	size_t wave[ADP_RES_COUNT];
	int shared[ADP_RES_COUNT];
};
void plan_proof(const struct plan *p, struct plan_proof *out);

/* Serialises (a new reference in *out), sealed: "seal" is plan_seal of
 * the rest of the document. Forecast values (bands, peaks) are kept at 7
 * significant digits; allocations, reservations and bounds exactly. */
int plan_to_json(json_t **out, const struct plan *p);

/* The document's text as plan_write writes it (owned; NULL out of
 * memory): indented, each array of plain values on one line, reals at
 * their shortest exact text, a final newline. */
char *plan_dumps(json_t *root);

/* The SHA-256 of a plan document's body: root without its "seal", in
 * compact JSON with sorted keys (numbers as written, which read back bit
 * for bit). Any edit to a plan changes it. */
int plan_seal(json_t *root, char out[65]);

/* The document as plan_write writes it (plan_dumps of plan_to_json, byte
 * for byte, sealed), built one wave at a time: the whole tree of a plan
 * of 10,000 components takes gigabytes. *text is the caller's (NULL on
 * error). */
int plan_text(const struct plan *p, char **text);

/* Serialises and writes atomically (temporary file, fsync, rename). */
int plan_write(const struct plan *p, const char *path);

/* How plan_write_as stores the document: as JSON, or gzip-compressed
 * (every reader of a plan takes either, by its first bytes). AUTO
 * compresses a document above PLAN_COMPRESS_ABOVE (about 1,000
 * components), which nobody reads by eye: gzip makes it about 10 times
 * smaller for about 0.15 s a 10 MiB. */
enum plan_compress { PLAN_COMPRESS_AUTO, PLAN_COMPRESS_ALWAYS, PLAN_COMPRESS_NEVER };
#define PLAN_COMPRESS_ABOVE ((size_t)16 << 20)

/* plan_write, compressed as how says; *size (may be NULL) receives the
 * bytes written and *text the JSON's length (0 when stored as JSON). */
int plan_write_as(const struct plan *p, const char *path, enum plan_compress how, size_t *size, size_t *text);

/* Parses and validates a plan document (borrowed); errors name file,
 * line and JSON path. *out is written only on success and owns copies. */
struct adp_json_doc;
int plan_from_doc(struct plan *out, const struct adp_json_doc *d);

/* Reads and validates a plan file. */
int plan_read(struct plan *out, const char *path);

/* Hashes the file at path and records it as an input of kind; once
 * every input is in, the caller sets p->digest with plan_digest (once:
 * recomputing it after each input was quadratic in the inputs). */
int plan_add_input(struct plan *p, const char *kind, const char *path);
/* plan_add_input for n inputs in order (kind[i] and path[i] borrowed),
 * the files hashed on every core: at fleet scale a thousand history
 * files took a second on one. The same errors as a loop of
 * plan_add_input (the first failing input's), the inputs before it
 * added. */
int plan_add_inputs(struct plan *p, const char *const *kind, const char *const *path, size_t n);

/* Adds a formatted risk line. */
int plan_add_risk(struct plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int plan_add_remedy(struct plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a copy of name to the partitions that could go empty. */
int plan_consolidation_add(struct plan_consolidation *c, const char *name);
/* Frees what c owns and zeroes it (state ABSENT); NULL-safe. */
void plan_consolidation_release(struct plan_consolidation *c);

/* How many placements component comp has in wave w: each carries 1/n of
 * its demand (simulate's and report's share of an actual total). */
size_t plan_wave_replicas(const struct plan_wave *w, const char *comp);

#endif
