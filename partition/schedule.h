/* The update schedule: when the window is, which partitions are updated,
 * how many at once, and how long each takes. */
#ifndef ADP_SCHEDULE_H
#define ADP_SCHEDULE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "partition/inventory.h"
#include "util/resource.h"

/* A period inside the window when nothing may be offline. */
struct schedule_blackout {
	int64_t start, end; /* UTC seconds */
};

/* When the waves start: as early as the window allows, or at the
 * candidate start (every step up to the latest that still ends before
 * the cutoff) where the tightest wave carries the least load. */
enum schedule_start { SCHEDULE_START_LOWEST_RISK, SCHEDULE_START_EARLIEST };

/* Weights of the planner's cost (see adpart-update(5), "weights"):
 * risk is overload probability times the tier's impact, waste is
 * reserved minus expected use in partition fractions, a move costs its
 * weight, and confidence charges the forecast's spread. */
enum schedule_weight { SCHEDULE_W_RISK, SCHEDULE_W_WASTE, SCHEDULE_W_MOVES, SCHEDULE_W_CONFIDENCE,
		       SCHEDULE_NWEIGHTS };
extern const char *const schedule_weight_names[SCHEDULE_NWEIGHTS];
extern const double schedule_weight_defaults[SCHEDULE_NWEIGHTS];
#define SCHEDULE_DEFAULT_DEPENDENCE 0.5

/* A known future event (a campaign, a batch job, a sales day): during
 * [start, end) the demand of its components (all when none is named) is
 * multiplied by mult and raised by add, per resource, in the forecast
 * the plan reserves for. */
#define SCHEDULE_MAX_EVENTS 64
struct schedule_load_event {
	int64_t start, end;       /* UTC seconds */
	char **components;        /* owned, and each name; NULL: every component */
	size_t ncomponents;
	double mult[ADP_RES_COUNT]; /* 1: unchanged */
	double add[ADP_RES_COUNT];  /* in the resource's unit, for the whole component */
	char *reason;             /* owned, or NULL */
};

/* Gates (adpart-update(5), "gates"): conditions apply checks before the
 * first step and before every wave, failing closed. All owned. */
#define SCHEDULE_MAX_GATE_LIST 64
struct schedule_alert_gate {
	char *url;                /* Prometheus base URL; NULL: no alert gate */
	char **names;             /* ERE patterns on alertname: only these block; none: any */
	size_t nnames;
	char **ignore;            /* ERE patterns on alertname that never block */
	size_t nignore;
	char **label_keys, **label_values; /* every label given must equal (all of them) */
	size_t nlabels;
	int pending;              /* pending alerts block too (default: only firing ones) */
	char *bearer_token_file, *ca_file;
	int64_t timeout;          /* seconds a request may take */
};
struct schedule_sentinel {
	char *file;               /* a path ("{partition}" replaced): present = update needed */
	char **argv;              /* or a command: exit 0 needed, 1 not needed, else no answer */
	size_t argc;
	int64_t timeout;
};
struct schedule_gates {
	struct schedule_alert_gate alerts;
	struct schedule_sentinel sentinel; /* neither file nor argv: no sentinel */
};

/* Notifications (adpart-update(5), "notify"): signed webhooks. Owned. */
#define SCHEDULE_MAX_WEBHOOKS 8
enum schedule_event { SCHEDULE_EV_PLAN_WRITTEN, SCHEDULE_EV_APPLY_STARTED, SCHEDULE_EV_WAVE, SCHEDULE_EV_DEVIATION,
		      SCHEDULE_EV_ROLLBACK, SCHEDULE_EV_BLOCKED, SCHEDULE_EV_OUTCOME, SCHEDULE_NEVENTS };
extern const char *const schedule_event_names[SCHEDULE_NEVENTS];
struct schedule_webhook {
	char *url;
	char *secret_file;        /* HMAC-SHA256 key; NULL: unsigned */
	char *ca_file;
	unsigned events;          /* a bit per enum schedule_event; 0: every event */
	int64_t timeout;          /* seconds per attempt */
	int retries;              /* extra attempts on transport errors, 429 and 5xx */
};
struct schedule_notify {
	struct schedule_webhook *webhooks;
	size_t nwebhooks;
};

struct schedule {
	char *path;               /* owned */
	char *name;               /* owned */
	int64_t start, end;       /* the window, UTC seconds (a recurring one's occurrence) */
	char *recurrence;         /* owned: the calendar event of a recurring window, or NULL */
	char *timezone;           /* owned; for display and local times */
	int64_t cutoff;           /* all waves end this long before the window's end */
	char **partition_names;   /* owned: as given, in update order */
	size_t *partitions;       /* owned: inventory indices (NULL without one) */
	size_t npartitions;
	size_t max_concurrency;   /* resolved count (a percentage is applied) */
	double max_concurrency_pct; /* as given, 0 when a count was given */
	int64_t *update_duration; /* owned: per entry of partitions */
	int64_t drain_duration;   /* time to drain a partition before its update */
	int64_t verify_duration;  /* time to verify after it */
	int64_t step;             /* planning resolution, seconds */
	int64_t max_gap;          /* longest history gap interpolated */
	double confidence[ADP_RES_COUNT]; /* P(demand fits) required per resource */
	int64_t plan_ttl;         /* a plan expires this long after creation */
	int64_t period;           /* seasonal period for forecasting */
	/* Optional "update": {"command": [argv...], "timeout": "40m"}: what
	 * apply runs per offline partition (ADPART_PARTITION in its env). */
	char **update_argv;       /* owned, NULL-terminated; NULL when absent */
	size_t update_argc;
	int64_t update_timeout;   /* seconds; 0 when absent */
	struct schedule_blackout *blackouts; /* owned, sorted by start */
	size_t nblackouts;
	size_t max_per_zone;      /* partitions of one zone offline at once; 0: no limit */
	int start_policy;         /* enum schedule_start */
	int shortage_refuse;      /* "shortage": "refuse": no reductions, infeasible instead */
	int order_lightest;       /* "order": "lightest-first": partitions by the load they carry */
	int preallocate;          /* "preallocate": true: each wave's shadows made in the wave before */
	double weights[SCHEDULE_NWEIGHTS]; /* the planner's cost, enum schedule_weight */
	double dependence;        /* co-movement floor of the chance constraint, 0..1 */
	struct schedule_gates gates;
	struct schedule_notify notify;
	struct schedule_load_event *events; /* owned, as given */
	size_t nevents;
};

#define SCHEDULE_MAX_ARGV 256
#define SCHEDULE_MAX_ARG 4096
#define SCHEDULE_MAX_BLACKOUTS 64

/* The defaults of the optional fields a forecast reads: step 5m,
 * max_gap 1h, period 1d, confidence 0.95 for compressible resources
 * and 0.99 for memory (and drain, verify and plan_ttl). For a forecast
 * without a schedule; schedule_load starts from them. */
void schedule_defaults(struct schedule *s);

/* Loads a schedule and resolves partition names against inv; with inv
 * NULL (validate on its own) the names are only checked for form. */
int schedule_load(struct schedule *s, const char *path, const struct inventory *inv);

/* What a command needs of a schedule. SCHEDULE_FULL (plan, validate):
 * as schedule_load. SCHEDULE_FORECAST (forecast): the window is enough;
 * name, partitions and update_duration may be absent (name "", no
 * partitions, durations 0), what is given is checked as for
 * SCHEDULE_FULL, and the window must start on the step grid (a multiple
 * of step since the epoch), which is where forecast steps start.
 * SCHEDULE_ACT (apply, kube, and what plan reads besides the planning):
 * as SCHEDULE_FULL, but events from a URL are not fetched (the plan
 * already holds its events: a server that is down must not stop an
 * update); only plan's planning and validate fetch them. */
enum schedule_mode { SCHEDULE_FULL, SCHEDULE_FORECAST, SCHEDULE_ACT };
int schedule_load_mode(struct schedule *s, const char *path, const struct inventory *inv,
		       enum schedule_mode mode);
/* As schedule_load_mode, a recurring window taking its first occurrence
 * starting at or after at (schedule_load_mode: the clock's now). */
int schedule_load_at(struct schedule *s, const char *path, const struct inventory *inv, enum schedule_mode mode,
		     int64_t at);
/* Frees what s owns; NULL-safe. */
void schedule_release(struct schedule *s);

/* The "gates" section g (NULL: none) into out, checked (patterns must
 * compile); on failure out may hold part of it: release it. */
struct adp_json_doc;
int schedule_read_gates(const struct adp_json_doc *d, json_t *g, struct schedule_gates *out);
void schedule_gates_release(struct schedule_gates *g);
/* The "notify" section n (NULL: none) into out, as for the gates. */
int schedule_read_notify(const struct adp_json_doc *d, json_t *n, struct schedule_notify *out);
void schedule_notify_release(struct schedule_notify *n);
/* The "events" list e (NULL: none) into s, checked (components against
 * inv when given); times in the window's zone. An object e names a URL
 * answering the list: fetched when fetch is non-zero, otherwise only
 * checked (s then holds no events). */
int schedule_read_events(const struct adp_json_doc *d, json_t *e, struct schedule *s, const struct inventory *inv,
			 int fetch);
void schedule_events_release(struct schedule *s);

/* Whether any gate is configured. */
static inline int schedule_has_gates(const struct schedule_gates *g)
{
	return g && (g->alerts.url || g->sentinel.file || g->sentinel.argc);
}

/* The end of the first blackout that overlaps [start, end), or 0 when
 * none does: where a wave that would overlap it may start instead. */
int64_t schedule_blackout_end(const struct schedule *s, int64_t start, int64_t end);

#endif
