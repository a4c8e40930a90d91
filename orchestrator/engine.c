#include "orchestrator/engine.h"
#include "orchestrator/borrow.h"
#include "orchestrator/gates.h"
#include "orchestrator/request.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "partition/planner.h"
#include "plans/steps.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/resource.h"
#include "util/sha256.h"
#include "util/timeutil.h"

#define JOURNAL_MAX_BYTES ((size_t)64 << 20)

/* Test-only (orch_opts.json_fault): counts down on every jset and jpush
 * of this thread's apply; the call that brings it to 0 fails as an
 * allocation would. The engine builds JSON on its own thread only. */
static _Thread_local long *json_fault;

static json_t *fault_point(json_t *value)
{
	if (json_fault && --*json_fault == 0) {
		json_decref(value);
		return NULL;
	}
	return value;
}

/* The shared checked builder (util/jsonutil.h) behind the fault point:
 * 0, or -1 with b marked failed, so that a journal or run record is never
 * written half-built. */
static int jset(struct adp_jb *b, json_t *obj, const char *key, json_t *value)
{
	return adp_jset(b, obj, key, fault_point(value)) ? 0 : -1;
}

static int jpush(struct adp_jb *b, json_t *arr, json_t *value)
{
	return adp_jpush(b, arr, fault_point(value)) ? 0 : -1;
}

int orch_preflight(const struct plan *p, int64_t now)
{
	if (p->format_version != PLAN_FORMAT_VERSION)
		return adp_error_set(ADP_EINPUT, "plan format version %d is not known: expected %d",
				     p->format_version, PLAN_FORMAT_VERSION);
	if (p->nshortfalls)
		return adp_error_set(ADP_EINPUT, "the plan is infeasible (%zu shortfalls): nothing to apply",
				     p->nshortfalls);
	{
		struct plan_proof pf;

		plan_proof(p, &pf);
		if (!pf.holds && !p->risk_accepted)
			return adp_error_set(ADP_EINPUT, "the plan's proof fails (predicted P(overload) above epsilon) and "
					     "its risk was not accepted: plan again, or with --accept-risk");
	}
	if (p->expires_at && now >= p->expires_at) {
		char ago[32], at[64];

		adp_duration_format(ago, now - p->expires_at);
		adp_time_format_msg(at, p->expires_at, p->timezone);
		return adp_error_set(ADP_EINPUT, "the plan expired %s ago (at %s): plan again", ago, at);
	}
	return plan_check_inputs(p);
}

int64_t orch_plan_start(const struct plan *p)
{
	return p->nwaves ? p->waves[0].start : p->window_start;
}

/* The waves were planned from the first one's start; starting later
 * pushes every one later, so the lateness allowed is the margin to the
 * cutoff, and at least one step: a start is only resolved to the step. */
static int64_t start_late(const struct plan *p)
{
	return p->margin > p->step ? p->margin : p->step;
}

int orch_start_check(const struct plan *p, int64_t now, int64_t *wait_s)
{
	int64_t start = orch_plan_start(p), late = start_late(p);
	char at[64], d[32], e[32];

	*wait_s = 0;
	adp_time_format_msg(at, start, p->timezone);
	if (now < start) {
		*wait_s = start - now;
		adp_duration_format(d, start - now);
		return adp_error_set(ADP_EINPUT, "the plan starts at %s, in %s: the forecast and the proof are "
				     "for then; apply then, or now with --wait", at, d);
	}
	if (now - start >= late) {
		adp_duration_format(d, now - start);
		adp_duration_format(e, late);
		return adp_error_set(ADP_EINPUT, "the plan started at %s, %s ago: its waves would overrun the "
				     "cutoff (a start at most %s late is allowed): plan again", at, d, e);
	}
	return 0;
}

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

/* Tells the notify hook of event; detail (owned, may be NULL) is freed. */
static void emit(const struct orch_opts *o, int event, json_t *detail)
{
	if (o && o->notify)
		o->notify(o->notify_ctx, event, detail);
	json_decref(detail);
}

/* After a build into the journal: a failed one marks root broken, and
 * the apply stops where it is, as a crash would (--resume goes on from
 * the journal on disk). */
static int journal_built(struct journal *j, const struct adp_jb *b)
{
	if (!b->failed)
		return 0;
	j->broken = 1;
	return adp_error_set(ADP_ENOMEM, "out of memory building the journal '%s'", j->path);
}

static int journal_save(struct journal *j)
{
	char *text;
	int rc;

	if (j->broken)
		return adp_error_set(ADP_ENOMEM, "journal '%s' is incomplete in memory: not written", j->path);
	text = json_dumps(j->root, JSON_INDENT(1));
	if (!text)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	rc = adp_write_atomic(j->path, text, strlen(text));
	free(text);
	if (rc && !j->lost) {
		j->lost = 1;
		snprintf(j->lost_msg, sizeof(j->lost_msg), "%s", adp_error_last());
	}
	return rc;
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* A pending step record, or NULL (b records why). */
static json_t *step_json(struct adp_jb *b, const struct plan_step *s)
{
	json_t *o = json_object();

	jset(b, o, "id", json_integer((json_int_t)s->id));
	jset(b, o, "action", json_string(s->action));
	if (s->partition)
		jset(b, o, "partition", json_string(s->partition));
	if (s->component) {
		jset(b, o, "component", json_string(s->component));
		jset(b, o, "replica", json_integer((json_int_t)s->replica));
	}
	if (s->target)
		jset(b, o, "target", json_string(s->target));
	jset(b, o, "status", json_string("pending"));
	if (b->failed) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static void set_status(struct adp_jb *b, json_t *o, const char *status, const char *msg)
{
	struct timespec ts;

	jset(b, o, "status", json_string(status));
	clock_gettime(CLOCK_REALTIME, &ts);
	jset(b, o, !strcmp(status, "started") ? "start" : "end", json_integer(now_s()));
	jset(b, o, !strcmp(status, "started") ? "start_ms" : "end_ms",
	     json_integer((json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
	if (msg && *msg)
		jset(b, o, "message", json_string(msg));
}

/* The journal's state, in memory: 0 or ADP_ENOMEM (root broken). */
static int set_state(struct journal *j, const char *state)
{
	struct adp_jb b = { 0 };

	jset(&b, j->root, "state", json_string(state));
	return journal_built(j, &b);
}

static const char *status_of(json_t *o)
{
	const char *s = json_string_value(json_object_get(o, "status"));

	return s ? s : "";
}

/* Every step record of a journal read back has a status the engine
 * writes: anything else (a hand edit) would be taken for "not done". */
static int journal_statuses(json_t *root, const char *path)
{
	static const char *const lists[] = { "steps", "undo", "released" };
	size_t l, i;

	for (l = 0; l < 3; l++) {
		json_t *a = json_object_get(root, lists[l]);

		for (i = 0; i < json_array_size(a); i++) {
			const char *st = status_of(json_array_get(a, i));

			if (strcmp(st, "pending") && strcmp(st, "started") && strcmp(st, "done") && strcmp(st, "failed") &&
			    strcmp(st, "skipped"))
				return adp_error_set(ADP_EINPUT,
						     "journal '%s': %s[%zu]: status '%.40s' is not one of pending, started, done, failed, skipped",
						     path, lists[l], i, st);
		}
	}
	return 0;
}

/* The forecast band of x for resource r at time t: the plan's per-step
 * row when it has one (clamped to the band), else the wave's peaks. */
static void band_at(const struct plan *p, const struct plan_placement *x, int r, int64_t t, double *p50,
		    double *p95, long *row)
{
	*p50 = x->p50_peak[r];
	*p95 = x->p95_peak[r];
	*row = -1;
	if (x->nband && p->step > 0) {
		int64_t k = t < x->band_start ? 0 : (t - x->band_start) / p->step;

		if (k >= (int64_t)x->nband)
			k = (int64_t)x->nband - 1;
		*p50 = x->band_p50[(size_t)k * ADP_RES_COUNT + (size_t)r];
		*p95 = x->band_p95[(size_t)k * ADP_RES_COUNT + (size_t)r];
		*row = (long)k;
	}
}

#define MAX_OBSERVATIONS 20000

/* Adds the observation e, built with b (both owned): 0, or ADP_ENOMEM
 * when e or its place in the journal could not be built. */
static int observe(struct journal *j, struct adp_jb *b, json_t *e)
{
	json_t *obs = json_object_get(j->root, "observations");
	const char *decision = json_string_value(json_object_get(e, "decision"));

	if (!b->failed && decision && strcmp(decision, "ok"))
		emit(j->o, SCHEDULE_EV_DEVIATION, json_incref(e));

	if (!obs && !b->failed && !jset(b, j->root, "observations", json_array()))
		obs = json_object_get(j->root, "observations");
	if (b->failed) {
		json_decref(e);
		return journal_built(j, b);
	}
	if (json_array_size(obs) < MAX_OBSERVATIONS) {
		jpush(b, obs, e);
		return journal_built(j, b);
	}
	json_decref(e);
	jset(b, j->root, "observations_dropped",
	     json_integer(json_integer_value(json_object_get(j->root, "observations_dropped")) + 1));
	return journal_built(j, b);
}

/* Whether a step of upto's wave, at or before upto, with action act for
 * component's replica is done (the wave's steps are contiguous). */
static int done_in_wave(json_t *steps, const struct plan *p, size_t upto, int act, const char *component,
			size_t replica)
{
	size_t i = upto + 1;

	while (i-- > 0 && p->steps[i].wave == p->steps[upto].wave) {
		const struct plan_step *s = &p->steps[i];

		if (s->act == act && s->component && !strcmp(s->component, component) && s->replica == replica &&
		    !strcmp(status_of(json_array_get(steps, i)), "done"))
			return 1;
	}
	return 0;
}

static int wave_touches(const struct plan_wave *w, const char *component)
{
	size_t k;

	for (k = 0; k < w->nplacements; k++)
		if (w->placements[k].from && !strcmp(w->placements[k].component, component))
			return 1;
	for (k = 0; k < w->nabsorbed; k++)
		if (!strcmp(w->absorbed[k].component, component))
			return 1;
	return 0;
}

static int offline_in(const struct plan_wave *w, const char *partition)
{
	size_t k;

	for (k = 0; k < w->noffline; k++)
		if (!strcmp(w->offline[k], partition))
			return 1;
	return 0;
}

static double mono_s(void);

/* ---- borrowing (--on-deviation borrow) ----
 * A loan is journaled in "loans" before it acts: {"id", "wave",
 * "partition", "resource", "to" and "from" (each {"component",
 * "replica"}; no "from": the partition's headroom), "amount", "state"
 * (lending, lent, returning: open; returned, failed), "at"}. An
 * instance's limit is its allocation plus what it borrowed minus what it
 * lent, on its open loans, so that giving every loan back sets the
 * allocation exactly. */

static int loan_open(json_t *l)
{
	const char *s = json_string_value(json_object_get(l, "state"));

	return s && (!strcmp(s, "lending") || !strcmp(s, "lent") || !strcmp(s, "returning"));
}

static int loan_is(json_t *l, const char *state)
{
	const char *s = json_string_value(json_object_get(l, "state"));

	return s && !strcmp(s, state);
}

static size_t loan_wave(json_t *l)
{
	return (size_t)json_integer_value(json_object_get(l, "wave"));
}

static int loan_res(json_t *l)
{
	const char *s = json_string_value(json_object_get(l, "resource"));

	return s ? adp_resource_parse(s) : -1;
}

/* Whether who ({"component", "replica"}) names x. */
static int loan_names(json_t *who, const struct plan_placement *x)
{
	const char *c = json_string_value(json_object_get(who, "component"));

	return c && !strcmp(c, x->component) && (size_t)json_integer_value(json_object_get(who, "replica")) == x->replica;
}

/* x's limit for r in wave now: its allocation and its open loans. */
static double limit_now(json_t *loans, size_t wave, const struct plan_placement *x, int r)
{
	double v = x->alloc[r];
	json_t *l;
	size_t i;

	json_array_foreach(loans, i, l) {
		double amount = json_number_value(json_object_get(l, "amount"));

		if (!loan_open(l) || loan_wave(l) != wave || loan_res(l) != r)
			continue;
		if (loan_names(json_object_get(l, "to"), x))
			v += amount;
		if (loan_names(json_object_get(l, "from"), x))
			v -= amount;
	}
	return v;
}

/* The placement one side of a loan names in its wave, or NULL. */
static const struct plan_placement *loan_side(const struct plan *p, json_t *l, const char *side)
{
	json_t *who = json_object_get(l, side);
	const char *part = json_string_value(json_object_get(l, "partition"));
	size_t w = loan_wave(l), k;

	if (!who || !part || w < 1 || w > p->nwaves)
		return NULL;
	for (k = 0; k < p->waves[w - 1].nplacements; k++) {
		const struct plan_placement *x = &p->waves[w - 1].placements[k];

		if (!strcmp(x->partition, part) && loan_names(who, x))
			return x;
	}
	return NULL;
}

static int loan_state(struct journal *j, json_t *l, const char *state, const char *msg)
{
	struct adp_jb b = { 0 };

	jset(&b, l, "state", json_string(state));
	if (!strcmp(state, "returned") || !strcmp(state, "lent")) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		jset(&b, l, !strcmp(state, "lent") ? "lent_ms" : "returned_ms",
		     json_integer((json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
	}
	if (!strcmp(state, "returned"))
		jset(&b, l, "returned_at", json_integer(now_s()));
	if (msg && *msg)
		jset(&b, l, "message", json_string(msg));
	return journal_built(j, &b);
}

/* Gives back every open loan of wave (of every wave: 0): each instance
 * they touched gets its allocation again, the borrowers first (lowered),
 * then the lenders, so that a partition is not asked for more than the
 * plan gave out. Like an undo it acts even when the journal cannot be
 * written; a borrower that cannot be lowered (its memory in use above
 * it) is said in the loan's message, as it is about to stop or be
 * rolled back. 0 or ADP_ENOMEM. */
static int loans_settle(struct journal *j, const struct orch_driver *d, const struct plan *p, size_t wave,
			const char *why)
{
	json_t *loans = json_object_get(j->root, "loans"), *l;
	size_t i;
	int any = 0, pass, rc;

	json_array_foreach(loans, i, l) {
		if (!loan_open(l) || (wave && loan_wave(l) != wave))
			continue;
		if ((rc = loan_state(j, l, "returning", NULL)))
			return rc;
		any = 1;
	}
	if (!any)
		return 0;
	journal_save(j);
	for (pass = 0; pass < 2; pass++)
		json_array_foreach(loans, i, l) {
			const struct plan_placement *x = loan_side(p, l, pass ? "from" : "to");
			int r = loan_res(l);

			if (!loan_is(l, "returning") || (wave && loan_wave(l) != wave) || !x || r < 0 || !d->set_limit)
				continue;
			if (d->set_limit(d->ctx, p, x, r, x->alloc[r])) {
				char msg[600];

				snprintf(msg, sizeof(msg), "the %s's limit was not set back: %s", pass ? "lender" : "borrower",
					 adp_error_last());
				adp_error_clear();
				if ((rc = loan_state(j, l, "returning", msg)))
					return rc;
			}
		}
	json_array_foreach(loans, i, l)
		if (loan_is(l, "returning") && (!wave || loan_wave(l) == wave)) {
			struct adp_jb b = { 0 };

			jset(&b, l, "returned_why", json_string(why));
			if ((rc = journal_built(j, &b)) || (rc = loan_state(j, l, "returned", NULL)))
				return rc;
		}
	journal_save(j);
	return 0;
}

/* Gives back one lent loan: the borrower lowered by its amount, then the
 * lender raised. A borrower that cannot be lowered yet (memory in use
 * above it) keeps the loan for the next sample; a lender that cannot be
 * raised leaves it returning, for the wave's end to settle. 0, or a
 * negative ADP_E* when the journal cannot be built. */
static int loan_return(struct journal *j, const struct orch_driver *d, const struct plan *p, json_t *l,
		       const char *why)
{
	json_t *loans = json_object_get(j->root, "loans");
	const struct plan_placement *to = loan_side(p, l, "to"), *from = loan_side(p, l, "from");
	double amount = json_number_value(json_object_get(l, "amount"));
	size_t w = loan_wave(l);
	int r = loan_res(l), rc;
	char msg[600];

	if (!to || r < 0 || !d->set_limit)
		return 0;
	if ((rc = loan_state(j, l, "returning", NULL)))
		return rc;
	if (journal_save(j))
		return loan_state(j, l, "lent", "not given back: the journal could not be written");
	if (d->set_limit(d->ctx, p, to, r, limit_now(loans, w, to, r) - amount)) {
		snprintf(msg, sizeof(msg), "kept (%s): the borrower's limit could not be lowered: %s", why,
			 adp_error_last());
		adp_error_clear();
		rc = loan_state(j, l, "lent", msg);
	} else if (from && d->set_limit(d->ctx, p, from, r, limit_now(loans, w, from, r) + amount)) {
		snprintf(msg, sizeof(msg), "the lender's limit could not be raised again: %s", adp_error_last());
		adp_error_clear();
		rc = loan_state(j, l, "returning", msg);
	} else {
		struct adp_jb b = { 0 };

		jset(&b, l, "returned_why", json_string(why));
		if (!(rc = journal_built(j, &b)))
			rc = loan_state(j, l, "returned", NULL);
	}
	journal_save(j);
	return rc;
}

/* Whether x runs in upto's wave at limits the engine set: a shadow
 * started and not stopped, or a staying replica resized and not yet
 * restored. With verified set, a shadow only once verify_shadow found
 * its limits as planned: loans wait for it. */
static int limited_now(json_t *steps, const struct plan *p, size_t upto, const struct plan_placement *x,
		       int verified)
{
	if (x->from)
		return done_in_wave(steps, p, upto, verified ? PLAN_VERIFY_SHADOW : PLAN_START_SHADOW, x->component,
				    x->replica) &&
		       !done_in_wave(steps, p, upto, PLAN_STOP_SHADOW, x->component, x->replica);
	return done_in_wave(steps, p, upto, PLAN_RESIZE, x->component, x->replica) &&
	       !done_in_wave(steps, p, upto, PLAN_RESTORE_SIZE, x->component, x->replica);
}

/* One monitoring pass's samples of a wave's placements, each taken at
 * most once (cpu and io are rates since the previous sample). */
struct seen {
	int taken, rc;
	double use[ADP_RES_COUNT];
	int have[ADP_RES_COUNT];
	char msg[300]; /* the driver's reason when rc < 0 */
};

static struct seen *sample_once(const struct orch_driver *d, const struct plan *p, const struct plan_wave *w,
				struct seen *seen, size_t k)
{
	struct seen *s = &seen[k];

	if (!s->taken) {
		s->taken = 1;
		s->rc = d->sample(d->ctx, p, &w->placements[k], s->use, s->have);
		if (s->rc < 0)
			snprintf(s->msg, sizeof(s->msg), "%s", adp_error_last());
		adp_error_clear();
	}
	return s;
}

static size_t placement_index(const struct plan_wave *w, const struct plan_placement *x)
{
	return (size_t)(x - w->placements);
}

/* What x keeps when it lends r at time t: orch_lender_floor of its
 * guarantee, its band now and one step on, and its usage. */
static double floor_of(const struct plan *p, const struct plan_placement *x, int r, int64_t t, double usage)
{
	double p50, p95, p95_next;
	long row;

	band_at(p, x, r, t + p->step, &p50, &p95_next, &row);
	band_at(p, x, r, t, &p50, &p95, &row);
	return orch_lender_floor(x->guarantee[r], p95, p95_next, usage, part_granularity[r]);
}

/* The partition's planned headroom for r in wave, less what its open
 * loans took of it, in whole units. */
static double headroom_left(json_t *loans, const struct plan_wave *w, size_t wave, const char *partition, int r)
{
	double unit = part_granularity[r], head = 0;
	json_t *l;
	size_t k, i;

	for (k = 0; k < w->nusage; k++)
		if (!strcmp(w->usage[k].partition, partition) && w->usage[k].resource == r)
			head = w->usage[k].headroom > 0 ? w->usage[k].headroom : 0;
	json_array_foreach(loans, i, l)
		if (loan_open(l) && loan_wave(l) == wave && loan_res(l) == r && !json_object_get(l, "from") &&
		    !strcmp(json_string_value(json_object_get(l, "partition")), partition))
			head -= json_number_value(json_object_get(l, "amount"));
	return floor(head / unit + 1e-9) * unit;
}

/* What wave's placement k offers orch_borrow_choose for r at t: its
 * limit and floor now, its band's spread, its tier. 0, or -1 (out not
 * written) when it could not be sampled. */
static int lender_of(struct orch_lender *out, const struct orch_driver *d, const struct plan *p, size_t wave,
		     size_t k, json_t *loans, int r, int64_t t, struct seen *seen)
{
	const struct plan_wave *w = &p->waves[wave - 1];
	const struct plan_placement *y = &w->placements[k];
	struct seen *s = sample_once(d, p, w, seen, k);
	double p50, p95;
	long row;

	if (s->rc || !s->have[r])
		return -1;
	band_at(p, y, r, t, &p50, &p95, &row);
	out->idx = k;
	out->limit = limit_now(loans, wave, y, r);
	out->floor = floor_of(p, y, r, t, s->use[r]);
	out->spread = p95 > 0 ? (p95 - p50) / p95 : 1;
	out->tier = y->tier;
	return 0;
}

/* At each sample of upto's wave, its lent loans, newest first: a
 * borrower back within its own allocation and band gives its loan back;
 * a lender whose floor rose above its limit now (its forecast or its
 * usage needs it) has its loan given back. 0 or a negative ADP_E*. */
static int loans_tend(struct journal *j, const struct orch_driver *d, const struct plan *p, size_t upto, int64_t t,
		      struct seen *seen)
{
	json_t *loans = json_object_get(j->root, "loans");
	size_t wave = p->steps[upto].wave, i = json_array_size(loans);
	const struct plan_wave *w = &p->waves[wave - 1];
	int rc;

	while (i-- > 0) {
		json_t *l = json_array_get(loans, i);
		const struct plan_placement *to, *from;
		int r = loan_res(l);
		struct seen *s;
		double p50, p95;
		long row;

		if (!loan_is(l, "lent") || loan_wave(l) != wave || r < 0 || !(to = loan_side(p, l, "to")))
			continue;
		from = loan_side(p, l, "from");
		s = sample_once(d, p, w, seen, placement_index(w, to));
		band_at(p, to, r, t, &p50, &p95, &row);
		/* A request's loan is kept to its expiry, whatever the usage. */
		if (!json_object_get(l, "request") && !s->rc && s->have[r] && s->use[r] <= p95 &&
		    orch_units_up(s->use[r], part_granularity[r]) <= to->alloc[r] + 1e-9) {
			if ((rc = loan_return(j, d, p, l, "the borrower's need passed")))
				return rc;
			continue;
		}
		if (!from)
			continue;
		s = sample_once(d, p, w, seen, placement_index(w, from));
		if (!s->rc && s->have[r] &&
		    floor_of(p, from, r, t, s->use[r]) > limit_now(loans, wave, from, r) + 1e-9 &&
		    (rc = loan_return(j, d, p, l, "the lender needs it back")))
			return rc;
	}
	return 0;
}

/* Journals one loan of amount to x (from lender, or from the headroom
 * when NULL) and acts it: the lender lowered first, then x raised. 1 when
 * lent, 0 when not (the loan says why), or a negative ADP_E*. */
static int lend(struct journal *j, const struct orch_driver *d, const struct plan *p, size_t wave,
		const struct plan_placement *x, const struct plan_placement *lender, int r, double amount, long request,
		int64_t expires)
{
	json_t *loans = json_object_get(j->root, "loans"), *l = json_object(), *who;
	double to_before = limit_now(loans, wave, x, r), from_before = lender ? limit_now(loans, wave, lender, r) : 0;
	struct adp_jb b = { 0 };
	char msg[600];
	double t0;
	int rc;

	jset(&b, l, "id", json_integer((json_int_t)json_array_size(loans) + 1));
	jset(&b, l, "wave", json_integer((json_int_t)wave));
	jset(&b, l, "partition", json_string(x->partition));
	jset(&b, l, "resource", json_string(adp_resource_name(r)));
	who = json_object();
	jset(&b, who, "component", json_string(x->component));
	jset(&b, who, "replica", json_integer((json_int_t)x->replica));
	jset(&b, l, "to", who);
	if (lender) {
		who = json_object();
		jset(&b, who, "component", json_string(lender->component));
		jset(&b, who, "replica", json_integer((json_int_t)lender->replica));
		jset(&b, l, "from", who);
		jset(&b, l, "from_limit", json_real(from_before - amount));
	}
	jset(&b, l, "amount", json_real(amount));
	if (request) {
		jset(&b, l, "request", json_integer(request));
		jset(&b, l, "expires_at", json_integer(expires));
	}
	jset(&b, l, "to_limit", json_real(to_before + amount));
	jset(&b, l, "state", json_string("lending"));
	jset(&b, l, "at", json_integer(now_s()));
	if (b.failed) {
		json_decref(l);
		return journal_built(j, &b);
	}
	jpush(&b, loans, l);
	if ((rc = journal_built(j, &b)))
		return rc;
	/* Nothing acts before it is journaled. */
	if (journal_save(j)) {
		rc = loan_state(j, l, "failed", "not lent: the journal could not be written");
		return rc ? rc : 0;
	}
	t0 = mono_s();
	if (lender && d->set_limit(d->ctx, p, lender, r, from_before - amount)) {
		snprintf(msg, sizeof(msg), "not lent: the lender's limit could not be lowered: %s", adp_error_last());
		adp_error_clear();
		d->set_limit(d->ctx, p, lender, r, from_before);
		adp_error_clear();
		rc = loan_state(j, l, "failed", msg);
	} else if (d->set_limit(d->ctx, p, x, r, to_before + amount)) {
		snprintf(msg, sizeof(msg), "not lent: the borrower's limit could not be raised: %s", adp_error_last());
		adp_error_clear();
		if (lender)
			d->set_limit(d->ctx, p, lender, r, from_before);
		adp_error_clear();
		rc = loan_state(j, l, "failed", msg);
	} else {
		jset(&b, l, "act_us", json_integer((json_int_t)((mono_s() - t0) * 1e6)));
		rc = journal_built(j, &b);
		rc = rc ? rc : loan_state(j, l, "lent", NULL);
		rc = rc ? rc : 1;
	}
	journal_save(j);
	return rc;
}

/* Borrows for x, whose usage use of resource r left its band at time t:
 * its limit raised to its usage with one unit of room, from the
 * partition's planned headroom first, then from the partition's other
 * instances by orch_borrow_choose. What was done goes on e (built with
 * b): "borrowed", "limit", "loans", "short" and a message. 0 or a
 * negative ADP_E*. */
static int borrow(struct journal *j, const struct orch_driver *d, const struct plan *p, size_t upto, int64_t t,
		  const struct plan_placement *x, int r, double use, struct seen *seen, struct adp_jb *b, json_t *e)
{
	json_t *steps = json_object_get(j->root, "steps"), *loans, *ids;
	size_t wave = p->steps[upto].wave, k, n = 0, nt;
	const struct plan_wave *w = &p->waves[wave - 1];
	double unit = part_granularity[r], want = orch_lender_floor(0, 0, 0, use, unit), got = 0, head, need;
	struct orch_lender *lenders;
	struct orch_take *takes;
	char msg[300] = "";
	int rc;

	if (!(loans = json_object_get(j->root, "loans"))) {
		jset(b, j->root, "loans", json_array());
		if ((rc = journal_built(j, b)))
			return rc;
		loans = json_object_get(j->root, "loans");
	}
	need = want - limit_now(loans, wave, x, r);
	if (!limited_now(steps, p, upto, x, 1)) {
		jset(b, e, "message", json_string("its shadow is not verified yet: nothing borrowed"));
		return 0;
	}
	if (need < unit / 2) {
		jset(b, e, "message", json_string("within its limit: nothing to borrow"));
		return 0;
	}
	if (!d->set_limit || r == ADP_RES_NET) {
		jset(b, e, "message", json_string(r == ADP_RES_NET ? "net limits are not applied: nothing borrowed"
							       : "the driver cannot set limits: nothing borrowed"));
		return 0;
	}
	if (json_array_size(loans) >= ORCH_MAX_LOANS) {
		snprintf(msg, sizeof(msg), "the run's loans are at their limit of %d: nothing borrowed", ORCH_MAX_LOANS);
		jset(b, e, "message", json_string(msg));
		return 0;
	}
	ids = json_array();
	head = headroom_left(loans, w, wave, x->partition, r);
	if (head >= unit) {
		double take = fmin(head, ceil(need / unit - 1e-9) * unit);

		if ((rc = lend(j, d, p, wave, x, NULL, r, take, 0, 0)) < 0)
			goto out;
		if (rc) {
			got += take;
			jpush(b, ids, json_integer((json_int_t)json_array_size(loans)));
		}
	}
	lenders = calloc(w->nplacements + 1, sizeof(*lenders));
	takes = calloc(w->nplacements + 1, sizeof(*takes));
	if (!lenders || !takes) {
		free(lenders);
		free(takes);
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto out;
	}
	for (k = 0; need - got >= unit / 2 && k < w->nplacements; k++) {
		const struct plan_placement *y = &w->placements[k];

		if (y == x || strcmp(y->partition, x->partition) || !limited_now(steps, p, upto, y, 1))
			continue;
		n += !lender_of(&lenders[n], d, p, wave, k, loans, r, t, seen);
	}
	rc = 0;
	if (need - got >= unit / 2) {
		double more = 0;

		nt = orch_borrow_choose(need - got, unit, x->tier, lenders, n, takes, &more);
		for (k = 0; k < nt && rc >= 0; k++) {
			if (json_array_size(loans) >= ORCH_MAX_LOANS)
				break;
			if ((rc = lend(j, d, p, wave, x, &w->placements[takes[k].idx], r, takes[k].amount, 0, 0)) > 0) {
				got += takes[k].amount;
				jpush(b, ids, json_integer((json_int_t)json_array_size(loans)));
			}
		}
	}
	free(lenders);
	free(takes);
	if (rc < 0)
		goto out;
	rc = 0;
	if (got < need - unit / 2)
		snprintf(msg, sizeof(msg), "%s", got > 0 ? "partly covered: no more to spare on the partition"
							 : "nothing to spare on the partition");
out:
	jset(b, e, "borrowed", json_real(got));
	jset(b, e, "limit", json_real(limit_now(loans, wave, x, r)));
	jset(b, e, "loans", ids);
	if (got < need - unit / 2)
		jset(b, e, "short", json_real(ceil(need / unit - 1e-9) * unit - got));
	if (*msg)
		jset(b, e, "message", json_string(msg));
	return rc;
}

/* ---- requests (the request API, orchestrator/request.h) ----
 * Served on the engine's thread, between and during acts, so that every
 * journal write stays on it. A request is journaled in "requests" ({"id",
 * "at", "pid", "uid", "component", "replica", "partition", "resource",
 * "amount", "for", "priority", "why", "state", "granted", "reason",
 * "loans", "expires_at"}), and what it gets is lent as loans carrying
 * "request" and "expires_at": given back at expiry, when a lender needs
 * it, and wherever borrowing's loans are. */

static double mono_s(void);
static int64_t plan_time(const struct orch_opts *o, double t0);

/* "0.5 cores", "64.0 MiB", "1.0 MiB/s": an amount of r for a reason. */
static void req_amount(char buf[48], int r, double v)
{
	char bytes[32];

	if (r == ADP_RES_CPU) {
		snprintf(buf, 48, "%.3g cores", v);
		return;
	}
	adp_bytes_format(bytes, v);
	snprintf(buf, 48, "%s%s", bytes, r == ADP_RES_MEMORY ? "" : "/s");
}

struct req_rate {
	char key[300]; /* "component.replica@partition" */
	int64_t start; /* the window's, on the monotonic clock */
	int n;
};

struct req_state {
	struct orch_req_server *srv;
	const struct orch_driver *d;
	const struct plan *p;
	const struct orch_opts *o;
	long upto; /* the step under way going forward; -1 undoing */
	int rc;    /* a failed journal build: the apply stops */
	struct req_rate rate[64];
};

/* Whether the request's rate allows one more from key (counted). */
static int req_rate_ok(struct req_state *rs, const char *key)
{
	int64_t now = (int64_t)mono_s();
	struct req_rate *e = NULL, *old = &rs->rate[0];
	size_t i;

	for (i = 0; i < sizeof(rs->rate) / sizeof(*rs->rate) && !e; i++) {
		if (!strcmp(rs->rate[i].key, key))
			e = &rs->rate[i];
		else if (rs->rate[i].start < old->start)
			old = &rs->rate[i];
	}
	if (!e) {
		e = old; /* the stalest slot: its window has passed or is the oldest */
		snprintf(e->key, sizeof(e->key), "%s", key);
		e->n = 0;
		e->start = now;
	}
	if (now - e->start >= ORCH_REQ_RATE_WINDOW) {
		e->start = now;
		e->n = 0;
	}
	return ++e->n <= ORCH_REQ_RATE;
}

/* Requests with a loan still lent or being given back. */
static size_t req_open(json_t *loans)
{
	json_t *l, *m;
	size_t i, k, n = 0;

	json_array_foreach(loans, i, l) {
		json_int_t id = json_integer_value(json_object_get(l, "request"));
		int seen = 0;

		if (!id || !loan_open(l))
			continue;
		for (k = 0; k < i && !seen; k++) {
			m = json_array_get(loans, k);
			seen = loan_open(m) && json_integer_value(json_object_get(m, "request")) == id;
		}
		n += !seen;
	}
	return n;
}

/* Lends x what q asks of r (units, want) for request id: the
 * partition's headroom first, then neighbours by orch_borrow_choose, a
 * neighbour of tier t lending only when t >= x's tier + 1 - priority.
 * *got and ids (the loans' ids) say what was lent. 0 or a negative
 * ADP_E*. */
static int req_lend(struct journal *j, struct req_state *rs, size_t upto, int64_t t, const struct plan_placement *x,
		    const struct orch_request *q, double want, long id, int64_t expires, double *got, json_t *ids)
{
	const struct orch_driver *d = rs->d;
	const struct plan *p = rs->p;
	json_t *steps = json_object_get(j->root, "steps"), *loans = json_object_get(j->root, "loans");
	size_t wave = p->steps[upto].wave, k, n = 0, nt;
	const struct plan_wave *w = &p->waves[wave - 1];
	int r = q->resource, rc = 0;
	double unit = part_granularity[r], head;
	struct orch_lender *lenders;
	struct orch_take *takes;
	struct adp_jb b = { 0 };
	struct seen *seen;

	*got = 0;
	head = headroom_left(loans, w, wave, x->partition, r);
	if (head >= unit && json_array_size(loans) < ORCH_MAX_LOANS) {
		double take = fmin(head, want);

		if ((rc = lend(j, d, p, wave, x, NULL, r, take, id, expires)) < 0)
			return rc;
		if (rc) {
			*got += take;
			jpush(&b, ids, json_integer((json_int_t)json_array_size(loans)));
		}
	}
	if (want - *got < unit / 2)
		return journal_built(j, &b);
	lenders = calloc(w->nplacements + 1, sizeof(*lenders));
	takes = calloc(w->nplacements + 1, sizeof(*takes));
	seen = calloc(w->nplacements + 1, sizeof(*seen));
	if (!lenders || !takes || !seen) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto out;
	}
	for (k = 0; k < w->nplacements; k++) {
		const struct plan_placement *y = &w->placements[k];

		if (y == x || strcmp(y->partition, x->partition) || !limited_now(steps, p, upto, y, 1) ||
		    y->tier < x->tier + 1 - q->priority || !d->sample)
			continue;
		n += !lender_of(&lenders[n], d, p, wave, k, loans, r, t, seen);
	}
	{
		double more = 0;

		nt = orch_borrow_choose(want - *got, unit, x->tier, lenders, n, takes, &more);
	}
	for (k = 0; k < nt && json_array_size(loans) < ORCH_MAX_LOANS; k++) {
		if ((rc = lend(j, d, p, wave, x, &w->placements[takes[k].idx], r, takes[k].amount, id, expires)) < 0)
			goto out;
		if (rc) {
			*got += takes[k].amount;
			jpush(&b, ids, json_integer((json_int_t)json_array_size(loans)));
		}
	}
	rc = journal_built(j, &b);
out:
	free(lenders);
	free(takes);
	free(seen);
	return rc;
}

/* Decides one parsed request from pid: which instance, whether the
 * caller is one of its processes, the bounds, then what can be lent.
 * Fills a (reason in reason[len]) and journals it in rec. 0 or a
 * negative ADP_E*. */
static int req_decide(struct journal *j, struct req_state *rs, const struct orch_request *q, pid_t pid,
		      struct orch_answer *a, char *reason, size_t len, json_t *rec)
{
	const struct plan *p = rs->p;
	const struct orch_driver *d = rs->d;
	json_t *steps = json_object_get(j->root, "steps"), *loans, *ids = NULL;
	size_t upto = (size_t)rs->upto, wave = p->steps[upto].wave, k;
	const struct plan_placement *x = NULL;
	int64_t t = plan_time(rs->o, j->t0), expires;
	int r = q->resource, any = 0, rc = 0;
	struct adp_jb b = { 0 };
	double unit = part_granularity[r], want, cap = 0, got = 0;
	char key[300], amt[48];

	a->state = "refused";
	if (!wave || wave > p->nwaves) {
		snprintf(reason, len, "no wave is under way");
		return 0;
	}
	for (k = 0; k < p->waves[wave - 1].nplacements && !x; k++) {
		const struct plan_placement *y = &p->waves[wave - 1].placements[k];

		if (strcmp(y->component, q->component) || (q->replica >= 0 && y->replica != (size_t)q->replica) ||
		    !limited_now(steps, p, upto, y, 1))
			continue;
		any = 1;
		if (d->owns && (rc = d->owns(d->ctx, p, y, pid)) < 0) {
			snprintf(reason, len, "the caller could not be checked: %s", adp_error_last());
			adp_error_clear();
			return 0;
		}
		if (rc == 1)
			x = y;
	}
	rc = 0;
	if (!any) {
		snprintf(reason, len, "'%s'%s has no instance whose limits apply sets now in wave %zu (a shadow once "
			 "verified, a replica the wave resized)", q->component, q->replica >= 0 ? " (that replica)" : "",
			 wave);
		return 0;
	}
	if (!d->owns || !d->set_limit) {
		snprintf(reason, len, "the driver cannot %s: requests are refused",
			 !d->owns ? "tell a component's processes" : "set limits");
		return 0;
	}
	if (!x) {
		snprintf(reason, len, "the caller (pid %ld) is not a process of '%s'", (long)pid, q->component);
		return 0;
	}
	jset(&b, rec, "replica", json_integer((json_int_t)x->replica));
	jset(&b, rec, "partition", json_string(x->partition));
	if ((rc = journal_built(j, &b)))
		return rc;
	/* Every request of the instance counts, refused or not. */
	snprintf(key, sizeof(key), "%s.%zu@%s", x->component, x->replica, x->partition);
	if (!req_rate_ok(rs, key)) {
		snprintf(reason, len, "more than %d requests in %d s from this instance", ORCH_REQ_RATE,
			 ORCH_REQ_RATE_WINDOW);
		return 0;
	}
	want = orch_units_up(q->amount, unit);
	for (k = 0; k < p->waves[wave - 1].nusage; k++)
		if (!strcmp(p->waves[wave - 1].usage[k].partition, x->partition) &&
		    p->waves[wave - 1].usage[k].resource == r)
			cap = p->waves[wave - 1].usage[k].capacity;
	if (want > ORCH_REQ_UNITS_MAX * unit + 1e-9 || (cap > 0 && want > cap + 1e-9)) {
		req_amount(amt, r, want > ORCH_REQ_UNITS_MAX * unit + 1e-9 ? ORCH_REQ_UNITS_MAX * unit : cap);
		snprintf(reason, len, "asks for more than %s, the most a request may have %s", amt,
			 want > ORCH_REQ_UNITS_MAX * unit + 1e-9 ? "(64 units)" : "on this partition (its capacity)");
		return 0;
	}
	if (!(loans = json_object_get(j->root, "loans"))) {
		jset(&b, j->root, "loans", json_array());
		if ((rc = journal_built(j, &b)))
			return rc;
		loans = json_object_get(j->root, "loans");
	}
	if (req_open(loans) >= ORCH_REQ_OPEN_MAX) {
		snprintf(reason, len, "%d requests are open, the most at once", ORCH_REQ_OPEN_MAX);
		return 0;
	}
	if (json_array_size(loans) >= ORCH_MAX_LOANS) {
		snprintf(reason, len, "the run's loans are at their limit of %d", ORCH_MAX_LOANS);
		return 0;
	}
	/* A loan ends with its wave anyway: its expiry is never later. */
	expires = t + q->for_s;
	if (p->waves[wave - 1].end > t && p->waves[wave - 1].end < expires)
		expires = p->waves[wave - 1].end;
	if (!(ids = json_array()))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if ((rc = req_lend(j, rs, upto, t, x, q, want, a->id, expires, &got, ids)) < 0) {
		json_decref(ids);
		return rc;
	}
	a->granted = got;
	a->limit = limit_now(loans, wave, x, r);
	if (got >= want - unit / 2) {
		a->state = "granted";
		a->expires_at = expires;
	} else if (got > 0) {
		a->state = "partial";
		a->expires_at = expires;
		snprintf(reason, len, "partly granted: no more to spare on '%s'%s", x->partition,
			 q->priority < ORCH_REQ_PRIORITY_MAX ? " (a higher priority may borrow from more critical neighbours)" : "");
	} else {
		snprintf(reason, len, "nothing to spare on '%s'%s", x->partition,
			 q->priority < ORCH_REQ_PRIORITY_MAX ? " (a higher priority may borrow from more critical neighbours)" : "");
	}
	jset(&b, rec, "loans", ids);
	if (a->expires_at)
		jset(&b, rec, "expires_at", json_integer(a->expires_at));
	return journal_built(j, &b);
}

/* The server's handler: one line in, one answer out; every request
 * that parsed is journaled (up to ORCH_REQ_RECORDS_MAX), a line that did
 * not only counted. */
static void on_request(void *ctx, pid_t pid, uid_t uid, const char *line, size_t n, char *ans, size_t len)
{
	struct journal *j = ctx;
	struct req_state *rs = j->rq;
	struct orch_answer a = { .state = "refused" };
	struct orch_request q;
	struct adp_jb b = { 0 };
	json_t *reqs, *rec = NULL;
	char reason[600] = "", err[300];
	int rc = 0;

	if (orch_request_parse(&q, line, n)) {
		snprintf(err, sizeof(err), "%s", adp_error_last());
		adp_error_clear();
		a.state = "error";
		a.reason = err;
		jset(&b, j->root, "requests_malformed",
		     json_integer(json_integer_value(json_object_get(j->root, "requests_malformed")) + 1));
		rs->rc = journal_built(j, &b);
		goto answer;
	}
	if (rs->rc || j->broken || j->lost) {
		snprintf(reason, sizeof(reason), "apply is stopping: nothing is lent");
		goto answer;
	}
	if (rs->upto < 0) {
		snprintf(reason, sizeof(reason), "apply is rolling back: nothing is lent");
		goto answer;
	}
	if (!(reqs = json_object_get(j->root, "requests"))) {
		jset(&b, j->root, "requests", json_array());
		reqs = json_object_get(j->root, "requests");
	}
	if (json_array_size(reqs) >= ORCH_REQ_RECORDS_MAX) {
		jset(&b, j->root, "requests_dropped",
		     json_integer(json_integer_value(json_object_get(j->root, "requests_dropped")) + 1));
		rs->rc = journal_built(j, &b);
		snprintf(reason, sizeof(reason), "the run has had %d requests, the most it journals", ORCH_REQ_RECORDS_MAX);
		goto answer;
	}
	a.id = (long)json_array_size(reqs) + 1;
	rec = json_object();
	jset(&b, rec, "id", json_integer(a.id));
	jset(&b, rec, "at", json_integer(plan_time(rs->o, j->t0)));
	jset(&b, rec, "pid", json_integer(pid));
	jset(&b, rec, "uid", json_integer(uid));
	jset(&b, rec, "component", json_string(q.component));
	jset(&b, rec, "resource", json_string(adp_resource_name(q.resource)));
	jset(&b, rec, "amount", json_real(q.amount));
	jset(&b, rec, "for", json_integer(q.for_s));
	jset(&b, rec, "priority", json_integer(q.priority));
	jset(&b, rec, "why", json_string(q.why));
	if (b.failed) {
		json_decref(rec);
		rec = NULL;
		rs->rc = journal_built(j, &b);
		goto answer;
	}
	json_incref(rec);
	jpush(&b, reqs, rec);
	if ((rs->rc = journal_built(j, &b)))
		goto answer;
	if ((rc = req_decide(j, rs, &q, pid, &a, reason, sizeof(reason), rec)) < 0) {
		rs->rc = rc;
		a.state = "refused";
		snprintf(reason, sizeof(reason), "apply is stopping: %s", adp_error_last());
		goto answer;
	}
	jset(&b, rec, "state", json_string(a.state));
	jset(&b, rec, "granted", json_real(a.granted));
	if (*reason)
		jset(&b, rec, "reason", json_string(reason));
	if (!(rs->rc = journal_built(j, &b)))
		journal_save(j);
answer:
	json_decref(rec);
	if (*reason)
		a.reason = reason;
	if (orch_answer_format(ans, len, &a)) {
		snprintf(ans, len, "{\"state\":\"error\",\"granted\":0}\n");
		adp_error_clear();
	}
}

/* Gives back the request loans of upto's wave whose expiry (plan time)
 * has come. 0 or a negative ADP_E*. */
static int requests_expire(struct journal *j, const struct orch_driver *d, const struct plan *p, size_t upto,
			   int64_t t)
{
	json_t *loans = json_object_get(j->root, "loans"), *l;
	size_t i;
	int rc;

	json_array_foreach(loans, i, l) {
		json_t *at = json_object_get(l, "expires_at");

		if (!json_object_get(l, "request") || !loan_is(l, "lent") || loan_wave(l) != p->steps[upto].wave ||
		    !at || json_integer_value(at) > t)
			continue;
		if ((rc = loan_return(j, d, p, l, "the request expired")))
			return rc;
	}
	return 0;
}

/* One turn of the request API: answers what has arrived, then gives
 * back what expired (going forward). upto: the step under way, -1
 * undoing. 0 or a negative ADP_E* (the apply stops). */
static int requests_serve(struct journal *j, long upto)
{
	struct req_state *rs = j->rq;

	if (!rs || rs->rc)
		return rs ? rs->rc : 0;
	rs->upto = upto;
	orch_req_server_poll(rs->srv, on_request, j);
	if (!rs->rc && upto >= 0 && rs->p->steps[upto].wave && json_array_size(json_object_get(j->root, "loans")))
		rs->rc = requests_expire(j, rs->d, rs->p, (size_t)upto, plan_time(rs->o, j->t0));
	return rs->rc;
}

/* Listens for requests on o->request_socket for j's run (j->rq, freed
 * by requests_close whether or not the server opened). 0 or a negative
 * ADP_E*. */
static int requests_open(struct journal *j, const struct orch_driver *d, const struct plan *p,
			 const struct orch_opts *o)
{
	struct req_state *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	j->rq = rs;
	rs->d = d;
	rs->p = p;
	rs->o = o;
	rs->upto = -1;
	if (orch_req_server_open(&rs->srv, o->request_socket))
		return adp_error_wrap(ADP_EINPUT, "cannot listen for requests (--no-requests goes without)");
	return 0;
}

/* Stops listening (the socket removed) and frees j->rq; NULL-safe. */
static void requests_close(struct journal *j)
{
	if (!j->rq)
		return;
	orch_req_server_free(j->rq->srv);
	free(j->rq);
	j->rq = NULL;
}

/* Asks the driver whether one instance carrying traffic still serves; a
 * down one (or one the driver cannot ask about) is an observation and
 * stops the wave whatever the policy: the wave's capacity is gone, and
 * rolling back brings the originals back. Returns 1 to roll back, or
 * ADP_ENOMEM when the observation could not be built. */
static int probe_one(struct journal *j, const struct orch_driver *d, const struct plan *p, size_t upto,
		     int during, int64_t t, const char *component, size_t replica, const char *partition,
		     const char *role)
{
	char msg[512] = "";
	struct adp_jb b = { 0 };
	json_t *e;
	int rc = d->probe(d->ctx, p, component, replica, partition, msg, sizeof(msg));

	if (rc == 0 || rc == 2)
		return 0;
	e = json_object();
	jset(&b, e, during ? "during_step" : "after_step", json_integer((json_int_t)p->steps[upto].id));
	jset(&b, e, "at", json_integer(t));
	jset(&b, e, "component", json_string(component));
	jset(&b, e, "replica", json_integer((json_int_t)replica));
	jset(&b, e, "partition", json_string(partition));
	jset(&b, e, "role", json_string(role));
	jset(&b, e, "state", json_string(rc < 0 ? "unknown" : "down"));
	jset(&b, e, "message", json_string(rc < 0 ? adp_error_last() : msg));
	jset(&b, e, "decision", json_string("rollback"));
	return observe(j, &b, e) ? ADP_ENOMEM : 1;
}

/* Liveness of every instance of the wave that carries traffic: a shadow
 * from its health check until it is stopped, an original from its
 * health check after the update, an absorbed replica once it is back,
 * and the staying replicas of every component the wave moves or
 * shrinks (they carry its load). Returns 1 to roll back, or ADP_ENOMEM. */
static int probe_wave(struct journal *j, const struct orch_driver *d, const struct plan *p, size_t upto,
		      int during, int64_t t)
{
	json_t *steps = json_object_get(j->root, "steps");
	const struct plan_wave *w = &p->waves[p->steps[upto].wave - 1];
	size_t k;
	int rc;

	for (k = 0; k < w->nplacements; k++) {
		const struct plan_placement *x = &w->placements[k];

		if (!x->from) {
			if (!offline_in(w, x->partition) && wave_touches(w, x->component) &&
			    (rc = probe_one(j, d, p, upto, during, t, x->component, x->replica, x->partition, "staying")))
				return rc;
			continue;
		}
		if (done_in_wave(steps, p, upto, PLAN_HEALTH_CHECK, x->component, x->replica) &&
		    !done_in_wave(steps, p, upto, PLAN_STOP_SHADOW, x->component, x->replica) &&
		    (rc = probe_one(j, d, p, upto, during, t, x->component, x->replica, x->partition, "shadow")))
			return rc;
		if (done_in_wave(steps, p, upto, PLAN_HEALTH_CHECK_ORIGINAL, x->component, x->replica) &&
		    (rc = probe_one(j, d, p, upto, during, t, x->component, x->replica, x->from, "original")))
			return rc;
	}
	for (k = 0; k < w->nabsorbed; k++) {
		const struct plan_absorbed *b = &w->absorbed[k];

		if (done_in_wave(steps, p, upto, PLAN_HEALTH_CHECK_ABSORBED, b->component, b->replica) &&
		    (rc = probe_one(j, d, p, upto, during, t, b->component, b->replica, b->partition, "absorbed")))
			return rc;
	}
	return 0;
}

/* Watches the step's wave: first the liveness of every instance carrying
 * traffic (probe_wave), then the usage of every live shadow (started,
 * not yet stopped) against the forecast band for the current time step
 * (the plan's per-step p95 of the replica, else its peak). At a step
 * boundary every sample is recorded; during a step (during set) only
 * deviations, missing data and instances down. With open loans, each is
 * tended first (loans_tend). Returns 1 when the wave must roll back, or
 * a negative ADP_E* when an observation could not be built. */
static int monitor(struct journal *j, const struct orch_opts *o, const struct orch_driver *d,
		   const struct plan *p, size_t upto, int during, int64_t t)
{
	json_t *steps = json_object_get(j->root, "steps");
	const struct plan_wave *w;
	struct seen *seen;
	size_t k;
	int r, rc;

	if (!p->steps[upto].wave || p->steps[upto].wave > p->nwaves)
		return 0;
	if (d->probe && (rc = probe_wave(j, d, p, upto, during, t)))
		return rc;
	if (!d->sample)
		return 0;
	w = &p->waves[p->steps[upto].wave - 1];
	if (!(seen = calloc(w->nplacements + 1, sizeof(*seen))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (json_array_size(json_object_get(j->root, "loans")) && (rc = loans_tend(j, d, p, upto, t, seen)))
		goto out;
	rc = 0;
	for (k = 0; k < w->nplacements && !rc; k++) {
		const struct plan_placement *x = &w->placements[k];
		struct seen *sm;

		if (!x->from || !limited_now(steps, p, upto, x, 0))
			continue;
		sm = sample_once(d, p, w, seen, k);
		if (sm->rc < 0 || sm->rc == 1) {
			struct adp_jb b = { 0 };
			json_t *e = json_object();

			jset(&b, e, during ? "during_step" : "after_step", json_integer((json_int_t)p->steps[upto].id));
			jset(&b, e, "at", json_integer(t));
			jset(&b, e, "component", json_string(x->component));
			jset(&b, e, "replica", json_integer((json_int_t)x->replica));
			jset(&b, e, "state", json_string("no_data"));
			jset(&b, e, "decision", json_string("rollback"));
			if (sm->rc < 0)
				jset(&b, e, "message", json_string(sm->msg));
			rc = observe(j, &b, e) ? ADP_ENOMEM : 1;
			break;
		}
		for (r = 0; r < ADP_RES_COUNT && !rc; r++) {
			struct adp_jb b = { 0 };
			json_t *e;
			const char *decision = "ok";
			double p50, p95, *use = sm->use;
			long row;
			int back = 0;

			if (!sm->have[r])
				continue;
			band_at(p, x, r, t, &p50, &p95, &row);
			if (use[r] > p95 && p95 > 0) {
				decision = o->policy == ORCH_POLICY_ROLLBACK ? "rollback"
					   : o->policy == ORCH_POLICY_GROW   ? "grow"
					   : o->policy == ORCH_POLICY_BORROW ? "borrow"
									     : "warn";
				back = o->policy == ORCH_POLICY_ROLLBACK;
			}
			if (during && !strcmp(decision, "ok"))
				continue;
			e = json_object();
			jset(&b, e, during ? "during_step" : "after_step", json_integer((json_int_t)p->steps[upto].id));
			jset(&b, e, "at", json_integer(t));
			if (row >= 0)
				jset(&b, e, "band_step", json_integer(row));
			jset(&b, e, "component", json_string(x->component));
			jset(&b, e, "replica", json_integer((json_int_t)x->replica));
			jset(&b, e, "partition", json_string(x->partition));
			jset(&b, e, "resource", json_string(adp_resource_name(r)));
			jset(&b, e, "actual", json_real(use[r]));
			jset(&b, e, "predicted_p50", json_real(p50));
			jset(&b, e, "predicted_p95", json_real(p95));
			jset(&b, e, "alloc", json_real(x->alloc[r]));
			jset(&b, e, "decision", json_string(decision));
			if (!strcmp(decision, "grow") && d->grow) {
				double head = 0, limit;
				size_t u;
				for (u = 0; u < w->nusage; u++)
					if (!strcmp(w->usage[u].partition, x->partition) && w->usage[u].resource == r)
						head = w->usage[u].headroom;
				limit = x->alloc[r] + (head > 0 ? head : 0);
				if (d->grow(d->ctx, p, x, r, limit)) {
					jset(&b, e, "decision", json_string("rollback"));
					jset(&b, e, "message", json_string(adp_error_last()));
					back = 1;
				} else {
					jset(&b, e, "grown_to", json_real(limit));
				}
			}
			if (!strcmp(decision, "borrow") && (rc = borrow(j, d, p, upto, t, x, r, use[r], seen, &b, e)) < 0) {
				json_decref(e);
				break;
			}
			if (observe(j, &b, e)) {
				rc = ADP_ENOMEM;
				break;
			}
			if (back)
				rc = 1;
		}
	}
out:
	free(seen);
	return rc;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One act on the worker thread. */
struct act_job {
	const struct orch_driver *d;
	const struct plan *p;
	const struct plan_step *s;
	char msg[512];
	int rc, done;
	double seconds;     /* spent in act */
	double sampling;    /* spent by the engine's thread sampling meanwhile */
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void *act_worker(void *arg)
{
	struct act_job *a = arg;
	double t = mono_s();
	orch_act_fn act = a->s->act >= 0 && a->s->act < PLAN_ACTION_COUNT ? a->d->ops[a->s->act] : NULL;
	int rc = act ? act(a->d->ctx, a->p, a->s, a->msg, sizeof(a->msg)) : 0;

	t = mono_s() - t;
	/* The error text is thread-local: carry it over in msg, ahead of any
	 * observation the driver made before it failed. */
	if (rc) {
		char note[sizeof(a->msg)];

		snprintf(note, sizeof(note), "%s", a->msg);
		/* A message: cut if need be, the error first. */
		if (snprintf(a->msg, sizeof(a->msg), "%s%s%s", adp_error_last(), *note ? " (after: " : "", note) >=
		    (int)sizeof(a->msg))
			*note = '\0';
		if (*note && strlen(a->msg) + 1 < sizeof(a->msg))
			strcat(a->msg, ")");
	}
	pthread_mutex_lock(&a->mu);
	a->rc = rc;
	a->seconds = t;
	a->done = 1;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* The engine's clock for forecast bands: --now at the start, then real time. */
static int64_t plan_time(const struct orch_opts *o, double t0)
{
	return (o->now ? o->now : now_s()) + (int64_t)(mono_s() - t0);
}

/* Runs one action with the driver, journaling before and after; the act
 * runs on a worker while this thread enforces the timeout and, with
 * monitor_at set (the step's index), samples on a timer. */
static int run_one(struct journal *j, json_t *rec, const struct orch_driver *d, const struct plan *p,
		   const struct plan_step *s, const struct orch_opts *o, long monitor_at)
{
	struct act_job a = { .d = d, .p = p, .s = s };
	double timeout = (double)(s->timeout > 0 ? s->timeout : plan_actions[s->act].default_timeout);
	double interval = o->monitor_interval > 0 ? o->monitor_interval : 5;
	double start, deadline, next_sample, saved, journal_s;
	int rc, arc, mrc = 0, timed_out = 0, stopped = 0, cancelling = 0;
	struct adp_jb b = { 0 };
	pthread_t th;
	char msg[700];

	start = mono_s();
	set_status(&b, rec, "started", NULL);
	if ((rc = journal_built(j, &b)))
		return rc;
	/* Forward, nothing acts before it is journaled. Undoing, a journal
	 * that cannot be written does not stop the undo: its steps are
	 * idempotent, and leaving the system half-moved is worse. */
	if ((rc = journal_save(j)) && monitor_at >= 0)
		return rc;
	saved = mono_s();
	journal_s = saved - start;
	if (o->step)
		o->step(o->step_ctx, s, monitor_at < 0, "started", 0, "");
	deadline = start + timeout;
	next_sample = start + interval;
	pthread_mutex_init(&a.mu, NULL);
	pthread_cond_init(&a.cv, NULL);
	if (pthread_create(&th, NULL, act_worker, &a)) {
		pthread_mutex_destroy(&a.mu);
		pthread_cond_destroy(&a.cv);
		return adp_error_set(ADP_ESYS, "cannot start a thread for step %zu", s->id);
	}
	pthread_mutex_lock(&a.mu);
	while (!a.done) {
		double now = mono_s(), until = cancelling ? now + 0.1 : deadline;
		struct timespec ts;

		if (!cancelling && monitor_at >= 0 && d->sample_during_act && next_sample < until)
			until = next_sample;
		/* Requests are answered within a tenth of a second. */
		if (!cancelling && j->rq && (monitor_at < 0 || d->sample_during_act) && now + 0.1 < until)
			until = now + 0.1;
		if (until > now) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)(until - now);
			ts.tv_nsec += (long)((until - now - (double)(time_t)(until - now)) * 1e9);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&a.cv, &a.mu, &ts);
		}
		if (a.done)
			break;
		now = mono_s();
		if (cancelling) {
			if (d->cancel)
				d->cancel(d->ctx);
			continue;
		}
		if (now >= deadline) {
			timed_out = cancelling = 1;
			continue;
		}
		if (j->rq && (monitor_at < 0 || d->sample_during_act)) {
			pthread_mutex_unlock(&a.mu);
			/* A failed build stops the act, as monitoring's does. */
			int qrc = requests_serve(j, monitor_at);

			if (qrc < 0 && !mrc) {
				mrc = qrc;
				stopped = cancelling = 1;
			}
			pthread_mutex_lock(&a.mu);
			if (a.done)
				break;
		}
		if (monitor_at >= 0 && d->sample_during_act && now >= next_sample) {
			double t = mono_s();

			pthread_mutex_unlock(&a.mu);
			/* A failed build (mrc < 0) stops the act too: the apply ends. */
			if ((mrc = monitor(j, o, d, p, (size_t)monitor_at, 1, plan_time(o, j->t0))))
				stopped = cancelling = 1;
			pthread_mutex_lock(&a.mu);
			a.sampling += mono_s() - t;
			next_sample = mono_s() + interval;
		}
	}
	pthread_mutex_unlock(&a.mu);
	pthread_join(th, NULL);
	pthread_mutex_destroy(&a.mu);
	pthread_cond_destroy(&a.cv);
	if (monitor_at >= 0 && o->crash_before_done > 0 && (size_t)o->crash_before_done == s->id)
		_exit(137);
	if (mrc < 0)
		return adp_error_set(ADP_ENOMEM, "out of memory building the journal '%s'", j->path);
	arc = a.rc;
	if ((arc == ORCH_ACT_STOP || arc == ORCH_ACT_SKIP) && (timed_out || stopped || monitor_at < 0))
		arc = ADP_ESYS; /* cut, or undoing: a failure like any other */
	if (timed_out) {
		snprintf(msg, sizeof(msg), "timed out after %.0f s%s%s", timeout, a.msg[0] ? ": " : "", a.msg);
		jset(&b, rec, "timed_out", json_true());
		arc = arc ? arc : ADP_ESYS;
	} else if (stopped) {
		snprintf(msg, sizeof(msg), "stopped by monitoring (see observations)%s%s", a.msg[0] ? ": " : "",
			 a.msg);
		arc = arc ? arc : ADP_ESYS;
	} else {
		snprintf(msg, sizeof(msg), "%s", a.msg);
	}
	if (arc == ORCH_ACT_STOP) /* still "started", with why it stopped */
		jset(&b, rec, "message", json_string(msg));
	else
		set_status(&b, rec, arc ? "failed" : "done", msg); /* ORCH_ACT_SKIP too: failed, then its wave undone */
	/* The engine's own time in the step: journal, thread, bookkeeping;
	 * sampling during the act is monitoring and not counted. The final
	 * journal write is not in it: it costs about journal_us again. */
	jset(&b, rec, "seconds", json_real(mono_s() - start));
	jset(&b, rec, "act_seconds", json_real(a.seconds));
	jset(&b, rec, "engine_us", json_integer((json_int_t)((mono_s() - start - a.seconds - a.sampling) * 1e6)));
	jset(&b, rec, "journal_us", json_integer((json_int_t)(journal_s * 1e6)));
	if ((rc = journal_built(j, &b)))
		return rc;
	rc = journal_save(j);
	if (o->step)
		o->step(o->step_ctx, s, monitor_at < 0, arc == ORCH_ACT_STOP ? "stopped" : arc ? "failed" : "done",
			mono_s() - start, msg);
	if (rc && monitor_at >= 0)
		return rc;
	return arc == ORCH_ACT_STOP ? 2 : arc == ORCH_ACT_SKIP ? 3 : arc ? 1 : 0;
}

static void crash_hook(const struct orch_opts *o, size_t id)
{
	if (o->crash_after > 0 && (size_t)o->crash_after == id)
		_exit(137);
}

/* The inverses of every step of wave (of every wave: 0) that started,
 * last first, as pending step records; NULL with j broken when it could
 * not be built. */
static json_t *undo_list(struct journal *j, const struct plan *p, size_t wave)
{
	json_t *steps = json_object_get(j->root, "steps"), *undo = json_array();
	struct adp_jb b = { 0 };
	size_t i;

	for (i = json_array_size(steps); i-- > 0;) {
		const char *st = status_of(json_array_get(steps, i));
		const struct plan_action_def *a;
		struct plan_step inv;

		if (!strcmp(st, "pending") || !strcmp(st, "skipped") || (wave && p->steps[i].wave != wave))
			continue;
		a = plan_action_find(p->steps[i].action);
		if (!a || !a->inverse)
			continue;
		inv = p->steps[i];
		inv.action = (char *)a->inverse;
		inv.act = plan_action_id(a->inverse);
		jpush(&b, undo, step_json(&b, &inv));
	}
	if (b.failed) {
		json_decref(undo);
		journal_built(j, &b);
		return NULL;
	}
	return undo;
}

/* Builds the undo list: inverses of every step that started, last first. */
static int build_undo(struct journal *j, const struct plan *p)
{
	json_t *undo = undo_list(j, p, 0);
	struct adp_jb b = { 0 };

	if (!undo)
		return ADP_ENOMEM;
	jset(&b, j->root, "undo", undo);
	jset(&b, j->root, "state", json_string("rollback"));
	if (journal_built(j, &b))
		return ADP_ENOMEM;
	/* A failed save marks the journal lost (reported at the end): the
	 * rollback goes on from the journal in memory. */
	journal_save(j);
	return 0;
}

/* Runs the undo records not yet done, in order; *failed set when one
 * failed (the others still run: undo steps are idempotent). 0 or a
 * negative ADP_E*. */
static int run_undo(struct journal *j, const struct orch_opts *o, const struct orch_driver *d, const struct plan *p,
		    json_t *undo, int *failed)
{
	json_t *rec;
	size_t i;
	int rc;

	json_array_foreach(undo, i, rec) {
		struct plan_step s = { 0 };

		if (!strcmp(status_of(rec), "done"))
			continue;
		s.id = (size_t)json_integer_value(json_object_get(rec, "id"));
		s.action = (char *)json_string_value(json_object_get(rec, "action"));
		s.partition = (char *)json_string_value(json_object_get(rec, "partition"));
		s.component = (char *)json_string_value(json_object_get(rec, "component"));
		s.replica = (size_t)json_integer_value(json_object_get(rec, "replica"));
		s.target = (char *)json_string_value(json_object_get(rec, "target"));
		if (s.id < 1 || s.id > p->nsteps || (s.act = plan_action_id(s.action)) < 0)
			return adp_error_set(ADP_EINPUT, "journal '%s': undo entry %zu is malformed", j->path, i);
		s.wave = p->steps[s.id - 1].wave;
		s.timeout = plan_actions[s.act].default_timeout;
		if ((rc = run_one(j, rec, d, p, &s, o, -1)) < 0)
			return rc;
		*failed |= rc;
	}
	return 0;
}

/* Gives up the wave of step i, whose act asked for it (ORCH_ACT_SKIP),
 * or finishes giving it up after a kill: the inverses of the wave's
 * started steps, last first, journaled in "given_up" (one entry a wave:
 * {"wave", "why", "undo", "state"}) before each acts; then every step of
 * the wave is journaled "skipped" (undone or never acted), so that a
 * rollback does not undo it again, and the run goes on with the next
 * wave. 0, 1 when an undo step failed (the caller rolls the run back),
 * or a negative ADP_E*. */
static int give_up_wave(struct journal *j, const struct orch_opts *o, const struct orch_driver *d,
			const struct plan *p, size_t wave, const char *why)
{
	json_t *all = json_object_get(j->root, "given_up"), *e = NULL, *x, *undo, *steps = json_object_get(j->root, "steps");
	struct adp_jb b = { 0 };
	char note[600];
	size_t i;
	int failed = 0, rc;

	json_array_foreach(all, i, x)
		if ((size_t)json_integer_value(json_object_get(x, "wave")) == wave)
			e = x;
	if (!e) {
		if (!all) {
			jset(&b, j->root, "given_up", json_array());
			all = json_object_get(j->root, "given_up");
		}
		if (!(undo = undo_list(j, p, wave)))
			return ADP_ENOMEM;
		e = json_object();
		jset(&b, e, "wave", json_integer((json_int_t)wave));
		jset(&b, e, "why", json_string(why));
		jset(&b, e, "state", json_string("undoing"));
		jset(&b, e, "undo", undo);
		jpush(&b, all, e);
		if ((rc = journal_built(j, &b)))
			return rc;
		/* Undoing: a journal that cannot be written does not stop it. */
		journal_save(j);
	}
	why = json_string_value(json_object_get(e, "why"));
	if ((rc = run_undo(j, o, d, p, json_object_get(e, "undo"), &failed)))
		return rc;
	if (failed)
		return 1;
	snprintf(note, sizeof(note), "wave %zu given up: %s", wave, why ? why : "");
	for (i = 0; i < p->nsteps; i++)
		if (p->steps[i].wave == wave)
			set_status(&b, json_array_get(steps, i), "skipped", note);
	jset(&b, e, "state", json_string("done"));
	if ((rc = journal_built(j, &b)))
		return rc;
	journal_save(j);
	emit(o, SCHEDULE_EV_WAVE, json_pack("{s:I, s:s, s:s}", "wave", (json_int_t)wave, "phase", "given_up", "why",
					     why ? why : ""));
	return 0;
}

static int wave_given_up(struct journal *j, size_t wave)
{
	json_t *x;
	size_t i;

	json_array_foreach(json_object_get(j->root, "given_up"), i, x)
		if ((size_t)json_integer_value(json_object_get(x, "wave")) == wave)
			return 1;
	return 0;
}

static int do_rollback(struct journal *j, const struct orch_opts *o, const struct orch_driver *d,
		       const struct plan *p, int *outcome)
{
	json_t *undo = json_object_get(j->root, "undo");
	int failed = 0, rc;

	emit(o, SCHEDULE_EV_ROLLBACK, json_pack("{s:I, s:s?}", "undo_steps", (json_int_t)json_array_size(undo), "why",
						o->why && *o->why ? o->why : NULL));
	/* Loans first: every limit back at its allocation before the steps
	 * that made them are undone. */
	if ((rc = loans_settle(j, d, p, 0, "rollback")))
		return rc;
	if ((rc = run_undo(j, o, d, p, undo, &failed)))
		return rc;
	if ((rc = set_state(j, failed ? "failed" : "rolled_back")))
		return rc;
	*outcome = failed ? ORCH_FAILED : ORCH_ROLLED_BACK;
	journal_save(j);
	return 0;
}

const char *orch_outcome_name(int outcome)
{
	static const char *const names[] = { "done",	     "rolled_back", "failed", "refused",
					     "stopped", "journal_lost", "blocked" };

	return outcome >= 0 && outcome <= ORCH_BLOCKED ? names[outcome] : "unknown";
}

static int write_record(const struct orch_opts *o, struct journal *j, int outcome)
{
	char path[4096];
	struct adp_jb b = { 0 };
	json_t *rec;
	char *text;
	int rc;

	if (j->broken)
		return adp_error_set(ADP_ENOMEM, "journal '%s' is incomplete in memory: no run record", j->path);
	rec = json_deep_copy(j->root);
	jset(&b, rec, "outcome", json_string(orch_outcome_name(outcome)));
	jset(&b, rec, "written_at", json_integer(now_s()));
	if (b.failed) {
		json_decref(rec);
		return adp_error_set(ADP_ENOMEM, "out of memory building the run record");
	}
	snprintf(path, sizeof(path), "%s", o->record_path ? o->record_path : "");
	if (!o->record_path)
		snprintf(path, sizeof(path), "%s/run.json", o->state_dir);
	text = json_dumps(rec, JSON_INDENT(2));
	json_decref(rec);
	if (!text)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	rc = adp_write_atomic(path, text, strlen(text));
	free(text);
	return rc;
}

/* The journal on disk is behind what was done (a full or failing disk):
 * the run record is written if it can be, and the last error says what
 * state the system is in and how to continue, for cmd/ to report. */
static void journal_lost(const struct orch_opts *o, struct journal *j, int out)
{
	const char *state =
		out == ORCH_DONE ? "every step is done; once the journal can be written, --resume records it"
		: out == ORCH_ROLLED_BACK
			? "apply stopped acting and rolled back what it had done, so the system is as before the apply; once the journal can be written, --rollback records it"
		: out == ORCH_STOPPED
			? "apply stopped at a step boundary; once the journal can be written, continue with --resume or undo with --rollback"
			: "apply stopped acting and the rollback did not complete (see the failed undo steps in the run record); once the journal can be written, --rollback retries them";
	write_record(o, j, ORCH_JOURNAL_LOST);
	adp_error_set(ADP_ESYS, "the journal could not be written (%s): %s", j->lost_msg, state);
}

/* The journal of a new apply: every step pending. */
static int journal_new(struct journal *j, const struct orch_opts *o, const struct plan *p)
{
	struct adp_jb b = { 0 };
	json_t *steps = json_array();
	size_t i;

	j->root = json_object();
	jset(&b, j->root, "format", json_integer(ORCH_JOURNAL_FORMAT));
	jset(&b, j->root, "plan", json_string(o->plan_path));
	jset(&b, j->root, "digest", json_string(p->digest));
	jset(&b, j->root, "started_at", json_integer(now_s()));
	jset(&b, j->root, "state", json_string("forward"));
	for (i = 0; i < p->nsteps; i++)
		jpush(&b, steps, step_json(&b, &p->steps[i]));
	jset(&b, j->root, "steps", steps);
	return journal_built(j, &b);
}

/* One apply at a time per state directory: an flock held for the run. */
/* Takes the lock file path (what: whose lock, for the message). */
static int take_lock(const char *path, const char *what, int *fd_out)
{
	char pid[32];
	int fd;

	/* Never through a symlink: in a shared state directory, a link
	 * planted as the lock would have root write a pid into its target. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return adp_error_set(errno == ELOOP ? ADP_EINPUT : ADP_ESYS, "cannot open lock '%s': %s", path,
				     errno == ELOOP ? "it is a symbolic link" : strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;
		char held[32] = "";
		ssize_t n = pread(fd, held, sizeof(held) - 1, 0);

		close(fd);
		if (n > 0)
			held[n] = '\0';
		held[strcspn(held, "\n")] = '\0';
		if (e == EWOULDBLOCK)
			return adp_error_set(ADP_EINPUT, "another apply holds %s '%s' (pid %s)", what, path,
					     *held ? held : "unknown");
		return adp_error_set(ADP_ESYS, "cannot lock '%s': %s", path, strerror(e));
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, strlen(pid), 0) < 0) {
		close(fd);
		return adp_error_set(ADP_ESYS, "cannot write lock '%s': %s", path, strerror(errno));
	}
	*fd_out = fd;
	return 0;
}

/* Makes the reserve in the state directory (see ORCH_RESERVE_BASE). */
static int make_reserve(const struct orch_opts *o, const struct plan *p)
{
	char path[4096];
	int rc;

	if ((rc = adp_snprintf_path(path, sizeof(path), "%s/" ORCH_RESERVE_NAME, o->state_dir)))
		return rc;
	return adp_reserve_make(path, (off_t)ORCH_RESERVE_BASE + (off_t)ORCH_RESERVE_PER_STEP * (off_t)p->nsteps);
}

/* After a step: the disk under the state directory filled up (the
 * reserve was released), so apply stops acting. Says why in o->why and
 * in the journal (so in the run record). 1 then, else 0. */
static int disk_filled(struct journal *j, const struct orch_opts *o)
{
	char first[512], why[900];
	struct adp_jb b = { 0 };

	if (!adp_reserve_released(first, sizeof(first)))
		return 0;
	snprintf(why, sizeof(why),
		 "the disk under the state directory '%s' filled up (%s): apply stopped acting and rolled back, "
		 "journaling into the room its reserve left; free space there before the next apply",
		 o->state_dir, first);
	if (o->why && o->why_len)
		snprintf(o->why, o->why_len, "%s", why);
	jset(&b, j->root, "stopped_by", json_string(why));
	journal_built(j, &b);
	return 1;
}

/* An error after the journal was on disk (out of memory, a thread that
 * would not start) left the system where the journal says: the message
 * says so and names the option that continues, as for a crash. */
static int stopped_midway(const struct journal *j, int rc)
{
	struct adp_error_state st;
	const char *state = json_string_value(json_object_get(j->root, "state"));

	adp_error_save(&st, rc);
	return adp_error_set(rc, "%s; apply stopped where its journal '%s' says (state %s): %s", st.msg, j->path,
			     state ? state : "unknown",
			     state && !strcmp(state, "rollback") ? "--rollback continues the rollback"
								  : "continue with --resume or undo with --rollback");
}

/* Whether the plan may start at t: 0 when it may now or, early, by
 * waiting (*wait > 0, within o->wait_max); ADP_EINPUT with why not. */
static int start_refusal(const struct orch_opts *o, const struct plan *p, int64_t t, int64_t *wait)
{
	int rc = orch_start_check(p, t, wait);
	char at[64], in[32], lim[32];

	if (!rc || (*wait && *wait <= o->wait_max)) {
		adp_error_clear();
		return 0;
	}
	if (!*wait || !o->wait_max)
		return rc;
	adp_time_format_msg(at, orch_plan_start(p), p->timezone);
	adp_duration_format(in, *wait);
	adp_duration_format(lim, o->wait_max);
	return adp_error_set(rc, "the plan starts at %s, in %s: beyond --wait's limit of %s", at, in, lim);
}

/* Before the first step: sleeps until the plan's start when it is not
 * yet, journaled "waiting". 0 to go on; 1 with *out ORCH_STOPPED when a
 * signal came first (nothing was changed); ADP_EINPUT as a refusal. */
static int wait_for_start(struct journal *j, const struct orch_opts *o, const struct plan *p, int *out)
{
	int64_t wait;
	int rc = start_refusal(o, p, plan_time(o, j->t0), &wait);
	char at[32];
	struct adp_jb b = { 0 };

	if (rc || !wait)
		return rc;
	adp_time_format(at, orch_plan_start(p));
	jset(&b, j->root, "waiting_until", json_string(at));
	if ((rc = journal_built(j, &b)) || (rc = set_state(j, "waiting")))
		return rc;
	journal_save(j); /* a failure marks it lost, reported at the end */
	while (plan_time(o, j->t0) < orch_plan_start(p)) {
		if (o->stop && *o->stop) {
			if ((rc = set_state(j, "stopped")))
				return rc;
			journal_save(j);
			if (o->why && o->why_len)
				snprintf(o->why, o->why_len, "stopped while waiting for the plan's start (%s): "
					 "nothing was changed: --resume --wait waits again, --rollback closes the journal", at);
			*out = ORCH_STOPPED;
			return 1;
		}
		/* Short sleeps: a signal is seen within a fifth of a second. */
		nanosleep(&(struct timespec){ 0, 200000000L }, NULL);
	}
	return 0;
}

/* The schedule's gates, then the driver's (its own, e.g. blocking pods):
 * the first that blocks says why; no answer from one blocks. */
static enum orch_gate all_gates(const struct orch_opts *o, const struct orch_driver *d, const struct plan *p,
				size_t wave, char *why, size_t len)
{
	enum orch_gate g = orch_gates_check(o->gates, p, wave, why, len);
	int rc;

	if (g == ORCH_GATE_BLOCKED || !d->gate)
		return g;
	if ((rc = d->gate(d->ctx, p, wave, why, len)) < 0) {
		snprintf(why, len, "no answer from the driver's gate (fails closed): %s", adp_error_last());
		adp_error_clear();
	}
	return rc ? ORCH_GATE_BLOCKED : g;
}

/* A wave skipped after the wave before made its shadows ahead
 * (preallocate_shadow): each is released as a rollback would, journaled
 * in "released" before it acts. They run before the wave's steps are
 * journaled skipped, so that a kill here gates the wave, and releases
 * (idempotent), again. 0, 1 when a release failed, or ADP_ENOMEM. */
static int release_ahead(struct journal *j, const struct orch_opts *o, const struct orch_driver *d,
			 const struct plan *p, size_t i)
{
	json_t *steps = json_object_get(j->root, "steps"), *released, *rec;
	size_t k, w = p->steps[i].wave;
	int rc, failed = 0;

	for (k = 0; k < i; k++) {
		struct adp_jb b = { 0 };
		struct plan_step s = p->steps[k];

		if (s.act != PLAN_PREALLOCATE_SHADOW || s.wave + 1 != w ||
		    strcmp(status_of(json_array_get(steps, k)), "done"))
			continue;
		s.act = PLAN_RELEASE_SHADOW;
		s.action = (char *)plan_actions[s.act].name;
		s.timeout = plan_actions[s.act].default_timeout;
		if (!(released = json_object_get(j->root, "released"))) {
			released = json_array();
			jset(&b, j->root, "released", released);
		}
		rec = step_json(&b, &s);
		jpush(&b, released, rec);
		if ((rc = journal_built(j, &b)))
			return rc;
		if ((rc = run_one(j, rec, d, p, &s, o, -1)) < 0)
			return rc;
		failed |= rc;
	}
	return failed;
}

/* Before the first step of the wave at steps[i]: the gates. Blocked: the
 * journal says by what and the apply stops there (1, *out
 * ORCH_BLOCKED). A wave none of whose partitions needs the update: its
 * steps are journaled "skipped", never acted nor undone (the shadows
 * the wave before made for it released first: 2 when one could not be,
 * for the caller to roll back). 0 goes on. */
static int gate_wave(struct journal *j, const struct orch_opts *o, const struct orch_driver *d, const struct plan *p,
		     size_t i, int *out)
{
	json_t *steps = json_object_get(j->root, "steps");
	size_t w = p->steps[i].wave, k;
	struct adp_jb b = { 0 };
	char why[1024];
	enum orch_gate g = all_gates(o, d, p, w, why, sizeof(why));
	int rc;

	if (g == ORCH_GATE_OPEN)
		return 0;
	if (g == ORCH_GATE_BLOCKED) {
		emit(o, SCHEDULE_EV_BLOCKED, json_pack("{s:I, s:s}", "wave", (json_int_t)w, "why", why));
		jset(&b, j->root, "blocked_by", json_string(why));
		if (journal_built(j, &b) || set_state(j, "stopped"))
			return ADP_ENOMEM;
		journal_save(j); /* a failure marks it lost, reported at the end */
		if (o->why && o->why_len)
			snprintf(o->why, o->why_len, "blocked before wave %zu: %s", w, why);
		*out = ORCH_BLOCKED;
		return 1;
	}
	emit(o, SCHEDULE_EV_WAVE, json_pack("{s:I, s:s, s:s}", "wave", (json_int_t)w, "phase", "skipped", "why", why));
	if ((rc = release_ahead(j, o, d, p, i))) {
		if (rc > 0 && o->why && o->why_len)
			snprintf(o->why, o->why_len, "wave %zu was skipped (%s) but a shadow made ahead for it could not be "
				 "released", w, why);
		return rc < 0 ? rc : 2;
	}
	for (k = i; k < p->nsteps && p->steps[k].wave == w; k++)
		set_status(&b, json_array_get(steps, k), "skipped", why);
	if (journal_built(j, &b))
		return ADP_ENOMEM;
	journal_save(j);
	return 0;
}

/* A wave event's detail: its number, phase and offline partitions. */
static json_t *wave_json(const struct plan *p, size_t wave, const char *phase)
{
	json_t *d = json_pack("{s:I, s:s}", "wave", (json_int_t)wave, "phase", phase), *off = json_array();
	size_t k;

	if (wave >= 1 && wave <= p->nwaves)
		for (k = 0; k < p->waves[wave - 1].noffline; k++)
			json_array_append_new(off, json_string(p->waves[wave - 1].offline[k]));
	if (json_object_set_new(d, "offline", off))
		json_decref(d), d = NULL;
	return d;
}

/* Going forward, before the first step acts: takes the fleet slot, or
 * keeps the journaled one (a --resume after a crash, within its lease),
 * and journals it. While none is free it waits no later than a start
 * the plan allows (its margin, at least a step) when no step has begun,
 * else until the cutoff. 0 to go on; 1 with *out ORCH_STOPPED when a
 * signal came first (nothing was changed); a negative ADP_E* when no
 * slot could be had (nothing was changed either). */
static int take_slot(struct journal *j, const struct orch_opts *o, const struct plan *p, int fresh, int *out)
{
	json_t *old = json_object_get(j->root, "slot"), *slot;
	const char *key = json_string_value(json_object_get(old, "key"));
	const char *lease_s = json_string_value(json_object_get(old, "lease"));
	int64_t lease = lease_s ? strtoll(lease_s, NULL, 10) : 0, got = 0, t = plan_time(o, j->t0);
	int64_t until = fresh ? orch_plan_start(p) + start_late(p) - 1 : p->cutoff_at;
	const char *got_key = NULL;
	struct adp_jb b = { 0 };
	char id[32];
	int rc;

	rc = o->slot->acquire(o->slot->ctx, lease, key, (double)(until > t ? until - t : 0), o->stop, &got, &got_key);
	if (rc == 1) {
		if ((rc = set_state(j, "stopped")))
			return rc;
		journal_save(j);
		if (o->why && o->why_len)
			snprintf(o->why, o->why_len, "stopped while waiting for a fleet slot of group '%.200s': nothing "
				 "was changed: --resume waits again, --rollback closes the journal", o->slot->group);
		*out = ORCH_STOPPED;
		return 1;
	}
	if (rc)
		return rc;
	snprintf(id, sizeof(id), "%lld", (long long)got);
	slot = json_object();
	jset(&b, slot, "group", json_string(o->slot->group));
	jset(&b, slot, "key", json_string(got_key));
	jset(&b, slot, "lease", json_string(id));
	jset(&b, slot, "taken_at", got == lease && json_object_get(old, "taken_at")
					   ? json_deep_copy(json_object_get(old, "taken_at"))
					   : json_integer(now_s()));
	if (b.failed)
		json_decref(slot);
	else
		jset(&b, j->root, "slot", slot);
	if ((rc = journal_built(j, &b))) {
		o->slot->release(o->slot->ctx); /* not journaled: not held either */
		return rc;
	}
	journal_save(j); /* a failure marks it lost: the first step then stops the apply */
	return 0;
}

/* At a step boundary going forward: whether the fleet slot was lost
 * (its lease expired, or etcd could not be reached to keep it alive).
 * Going on would take capacity down beyond what the fleet allows, so
 * apply stops there, journaled "stopped" (--resume takes a slot again).
 * 1 then, 0 while it is held, or ADP_ENOMEM. */
static int slot_lost(struct journal *j, const struct orch_opts *o)
{
	const char *key = json_string_value(json_object_get(json_object_get(j->root, "slot"), "key"));
	char why[512] = "", msg[1024];
	struct adp_jb b = { 0 };
	int rc;

	if (o->slot->healthy(o->slot->ctx, why, sizeof(why)))
		return 0;
	snprintf(msg, sizeof(msg), "the fleet slot '%.200s' of group '%.100s' was lost (%.400s): apply stopped at a "
		 "step boundary rather than go on without it: --resume takes a slot again, --rollback undoes",
		 key ? key : "", o->slot->group, why);
	if (o->why && o->why_len)
		snprintf(o->why, o->why_len, "%s", msg);
	jset(&b, j->root, "stopped_by", json_string(msg));
	if ((rc = journal_built(j, &b)) || (rc = set_state(j, "stopped")))
		return rc;
	journal_save(j); /* a failure marks it lost, reported at the end */
	return 1;
}

/* No slot could be had: a refusal, with nothing changed. A fresh apply
 * leaves no journal behind (as when refused before writing one), so the
 * next one starts afresh; a --resume keeps its journal, "stopped". */
static int slot_refused(struct journal *j, int have_journal, int *journaled)
{
	struct adp_error_state st;

	adp_error_save(&st, ADP_EINPUT);
	if (!have_journal) {
		unlink(j->path);
		*journaled = 0;
	} else if (!set_state(j, "stopped")) {
		journal_save(j);
	}
	return adp_error_restore(&st);
}

/* Whether no step of the journal has begun. */
static int nothing_started(json_t *steps)
{
	size_t i;

	for (i = 0; i < json_array_size(steps); i++)
		if (strcmp(status_of(json_array_get(steps, i)), "pending"))
			return 0;
	return 1;
}

int orch_apply(const struct orch_opts *o, const struct orch_driver *d, int *outcome)
{
	struct plan p = { 0 };
	struct journal j = { 0 };
	char jpath[4096];
	int lockfd = -1, hostfd = -1, rc, out = ORCH_REFUSED, have_journal, journaled = 0, slot_held = 0;
	int resumed = 0;
	int64_t wait;
	size_t gated = 0; /* the wave whose gates preflight checked */
	json_t *steps, *rec;
	size_t i;

	*outcome = ORCH_REFUSED;
	if (o->why && o->why_len)
		o->why[0] = '\0';
	json_fault = o->json_fault;
	j.t0 = mono_s();
	j.o = o;
	if (mkdir(o->state_dir, 0700) && errno != EEXIST)
		return adp_error_set(ADP_ESYS, "cannot create state directory '%s': %s", o->state_dir,
				     strerror(errno));
	/* The host's lock first: two applies with other state directories
	 * would still drive this host's HAProxy, cgroups and processes. */
	if (o->host_lock && (rc = take_lock(o->host_lock, "this host's lock", &hostfd)))
		return rc;
	if ((rc = adp_snprintf_path(jpath, sizeof(jpath), "%s/lock", o->state_dir)) ||
	    (rc = take_lock(jpath, "the lock", &lockfd))) {
		if (hostfd >= 0)
			close(hostfd);
		return rc;
	}
	if ((rc = plan_read(&p, o->plan_path)))
		goto done;
	/* The request API, under the lock (no other apply of this state
	 * directory listens), for a run that may go forward. */
	if (o->request_socket && !o->rollback && (rc = requests_open(&j, d, &p, o)))
		goto done;
	snprintf(jpath, sizeof(jpath), "%s/journal.json", o->state_dir);
	j.path = jpath;
	have_journal = access(jpath, F_OK) == 0;
	if (have_journal) {
		json_error_t e;
		const char *st, *dg;

		if (!(j.root = json_load_file(jpath, 0, &e)) || !json_is_object(j.root)) {
			rc = adp_error_set(ADP_EINPUT, "journal '%s' line %d: %s", jpath, e.line, e.text);
			goto done;
		}
		st = json_string_value(json_object_get(j.root, "state"));
		dg = json_string_value(json_object_get(j.root, "digest"));
		if (json_integer_value(json_object_get(j.root, "format")) != ORCH_JOURNAL_FORMAT || !st ||
		    !dg || json_array_size(json_object_get(j.root, "steps")) != p.nsteps) {
			rc = adp_error_set(ADP_EINPUT, "journal '%s' is not a format %d journal of this plan",
					   jpath, ORCH_JOURNAL_FORMAT);
			goto done;
		}
		if (strcmp(dg, p.digest)) {
			rc = adp_error_set(ADP_EINPUT, "journal '%s' belongs to another plan (digest %.12s)",
					   jpath, dg);
			goto done;
		}
		if ((rc = journal_statuses(j.root, jpath)))
			goto done;
		if (!o->resume && !o->rollback && strcmp(st, "done") && strcmp(st, "rolled_back")) {
			rc = adp_error_set(ADP_EINPUT,
					   "an unfinished apply of this plan is journaled in '%s' (state %s): use --resume or --rollback",
					   jpath, st);
			goto done;
		}
		if (!o->resume && !o->rollback) {
			rc = adp_error_set(ADP_EINPUT, "this plan was already applied (state %s, journal '%s')",
					   st, jpath);
			goto done;
		}
		if (o->resume && (!strcmp(st, "forward") || !strcmp(st, "stopped"))) {
			/* Going forward again needs the reserve, as a fresh apply does. */
			if ((rc = make_reserve(o, &p))) {
				rc = adp_error_wrap(ADP_EINPUT, "no room in the state directory for apply's "
						    "reserve (free space there; --rollback goes on without it)");
				goto done;
			}
		} else if (make_reserve(o, &p)) {
			adp_error_clear(); /* a rollback goes on without it */
		}
	} else {
		if (o->resume || o->rollback) {
			rc = adp_error_set(ADP_EINPUT, "nothing to %s: no journal '%s'",
					   o->resume ? "resume" : "roll back", jpath);
			goto done;
		}
		/* A prerequisite that fails (even a system error) is a refusal: nothing changed yet. */
		if ((rc = orch_preflight(&p, o->now)) || (rc = start_refusal(o, &p, plan_time(o, j.t0), &wait)) ||
		    (rc = d->check(d->ctx, &p))) {
			rc = ADP_EINPUT;
			goto done;
		}
		/* Gates now, before anything is written, unless apply is to
		 * wait for the start: then at the first wave, after the wait. */
		if (!wait && p.nsteps && p.nwaves) {
			char why[1024];

			enum orch_gate g = all_gates(o, d, &p, p.steps[0].wave, why, sizeof(why));

			if (g == ORCH_GATE_BLOCKED) {
				emit(o, SCHEDULE_EV_BLOCKED, json_pack("{s:I, s:s}", "wave", (json_int_t)p.steps[0].wave,
								       "why", why));
				if (o->why && o->why_len)
					snprintf(o->why, o->why_len, "blocked before the first step: %s", why);
				*outcome = ORCH_BLOCKED;
				goto done;
			}
			if (g == ORCH_GATE_OPEN) /* a skip is journaled at the wave */
				gated = p.steps[0].wave;
		}
		if ((rc = make_reserve(o, &p))) {
			rc = adp_error_wrap(ADP_EINPUT, "no room in the state directory for apply's reserve (free "
					    "space there, or use another --state-dir)");
			goto done;
		}
		if ((rc = journal_new(&j, o, &p)) || (rc = journal_save(&j)))
			goto done;
	}
	journaled = 1;
	{
		const char *st = json_string_value(json_object_get(j.root, "state"));

		/* An incomplete rollback is retried from its first unfinished undo
		 * step: undo steps are idempotent, and the fault that stopped
		 * them (a full disk, an unreachable API) may be gone. */
		if (!strcmp(st, "failed") && (o->rollback || o->resume)) {
			if ((rc = set_state(&j, "rollback")))
				goto done;
			journal_save(&j); /* a failure marks it lost; the retry goes on */
			if ((rc = do_rollback(&j, o, d, &p, &out)))
				goto done;
			goto record;
		}
		if (!strcmp(st, "done") || !strcmp(st, "rolled_back") || !strcmp(st, "failed")) {
			if (o->rollback && !strcmp(st, "done")) {
				if ((rc = build_undo(&j, &p)) || (rc = do_rollback(&j, o, d, &p, &out)))
					goto done;
			} else {
				out = !strcmp(st, "done") ? ORCH_DONE : !strcmp(st, "failed") ? ORCH_FAILED
											  : ORCH_ROLLED_BACK;
			}
			goto record;
		}
		if (o->rollback && strcmp(st, "rollback"))
			if ((rc = build_undo(&j, &p)))
				goto done;
		if (o->rollback || !strcmp(st, "rollback")) {
			if ((rc = do_rollback(&j, o, d, &p, &out)))
				goto done;
			goto record;
		}
	}
	steps = json_object_get(j.root, "steps");
	if (nothing_started(steps) && (rc = wait_for_start(&j, o, &p, &out))) {
		if (rc < 0)
			goto done;
		goto record;
	}
	/* A journal whose run held a fleet slot goes on only holding one:
	 * without --semaphore this host would act unprotected beside the
	 * fleet's other holders. */
	if (!o->slot && json_is_object(json_object_get(j.root, "slot"))) {
		const char *g = json_string_value(json_object_get(json_object_get(j.root, "slot"), "group"));

		adp_error_set(ADP_EINPUT, "the journal's run held a fleet slot of group '%.200s': --resume goes on only "
			      "holding one (give --semaphore URL, as that run did), or --rollback undoes without one",
			      g ? g : "");
		rc = slot_refused(&j, have_journal, &journaled);
		goto done;
	}
	/* The fleet slot, held from here to the end. */
	if (o->slot && (rc = take_slot(&j, o, &p, nothing_started(steps), &out))) {
		if (rc == 1)
			goto record;
		if (rc != ADP_ENOMEM)
			rc = slot_refused(&j, have_journal, &journaled);
		goto done;
	}
	slot_held = o->slot != NULL;
	emit(o, SCHEDULE_EV_APPLY_STARTED,
	     json_pack("{s:s, s:b, s:I, s:I}", "plan", o->plan_path, "resume", o->resume, "steps", (json_int_t)p.nsteps,
		       "waves", (json_int_t)p.nwaves));
	if ((rc = set_state(&j, "forward")))
		goto done;
	/* A wave that was being given up when the run was killed: finished
	 * first, as its steps are not yet journaled skipped. */
	json_array_foreach(json_object_get(j.root, "given_up"), i, rec) {
		if (!strcmp(json_string_value(json_object_get(rec, "state")) ?: "", "done"))
			continue;
		if ((rc = give_up_wave(&j, o, d, &p, (size_t)json_integer_value(json_object_get(rec, "wave")), NULL)) < 0)
			goto done;
		if (rc > 0) {
			if ((rc = build_undo(&j, &p)) || (rc = do_rollback(&j, o, d, &p, &out)))
				goto done;
			goto record;
		}
	}
	for (i = 0; i < p.nsteps; i++) {
		rec = json_array_get(steps, i);
		if (!strcmp(status_of(rec), "done") || !strcmp(status_of(rec), "skipped"))
			continue;
		if (o->stop && *o->stop) {
			if ((rc = set_state(&j, "stopped")))
				goto done;
			journal_save(&j); /* a failure marks it lost, reported at the end */
			out = ORCH_STOPPED;
			goto record;
		}
		/* A fleet slot lost: stop here rather than go on unprotected. */
		if (slot_held && (rc = slot_lost(&j, o))) {
			if (rc < 0)
				goto done;
			out = ORCH_STOPPED;
			goto record;
		}
		if ((i == 0 || p.steps[i - 1].wave != p.steps[i].wave) && p.steps[i].wave != gated &&
		    (rc = gate_wave(&j, o, d, &p, i, &out))) {
			if (rc < 0)
				goto done;
			if (rc == 2 && ((rc = build_undo(&j, &p)) || (rc = do_rollback(&j, o, d, &p, &out))))
				goto done;
			goto record;
		}
		gated = 0;
		if (!strcmp(status_of(rec), "skipped"))
			continue;
		if ((i == 0 || p.steps[i - 1].wave != p.steps[i].wave) && !strcmp(status_of(rec), "pending"))
			emit(o, SCHEDULE_EV_WAVE, wave_json(&p, p.steps[i].wave, "started"));
		/* Loans end with their wave, and before an instance in them
		 * stops or has its own limits restored; a resumed run gives back
		 * what the run before it lent (it borrows again if need be). */
		if ((i == 0 || p.steps[i - 1].wave != p.steps[i].wave || p.steps[i].act == PLAN_STOP_SHADOW ||
		     p.steps[i].act == PLAN_RESTORE_SIZE || (o->resume && !resumed)) &&
		    (rc = loans_settle(&j, d, &p, 0, o->resume && !resumed ? "resumed" : "its wave ends")))
			goto done;
		resumed = 1;
		/* A journal that cannot be written stops the forward run; what
		 * was done is reversed from the journal in memory. */
		if ((rc = run_one(&j, rec, d, &p, &p.steps[i], o, (long)i)) < 0 && (!j.lost || j.broken))
			goto done;
		if (rc == 0 && (rc = monitor(&j, o, d, &p, i, 0, plan_time(o, j.t0))) < 0)
			goto done;
		if (rc == 0 && (rc = requests_serve(&j, (long)i)) < 0)
			goto done;
		if (disk_filled(&j, o) && rc == 0)
			rc = 1;
		/* The act gave its wave up (ORCH_ACT_SKIP): the wave undone, then
		 * the next; a failed undo step rolls the whole run back. */
		if (rc == 3) {
			size_t w = p.steps[i].wave;

			if ((rc = loans_settle(&j, d, &p, 0, "its wave is given up")) ||
			    (rc = give_up_wave(&j, o, d, &p, w, json_string_value(json_object_get(rec, "message")))) < 0)
				goto done;
			if (rc == 0) {
				while (i + 1 < p.nsteps && p.steps[i + 1].wave == w)
					i++;
				continue;
			}
		}
		/* The driver stopped at this step (ORCH_ACT_STOP): resumable. */
		if (rc == 2) {
			if ((rc = set_state(&j, "stopped")))
				goto done;
			journal_save(&j); /* a failure marks it lost, reported at the end */
			if (o->why && o->why_len)
				snprintf(o->why, o->why_len, "stopped at step %zu (%s): %s: --resume repeats it, --rollback undoes",
					 p.steps[i].id, p.steps[i].action, json_string_value(json_object_get(rec, "message")));
			out = ORCH_STOPPED;
			goto record;
		}
		if (rc != 0) {
			if ((rc = build_undo(&j, &p)) || (rc = do_rollback(&j, o, d, &p, &out)))
				goto done;
			goto record;
		}
		if (i + 1 == p.nsteps || p.steps[i + 1].wave != p.steps[i].wave)
			emit(o, SCHEDULE_EV_WAVE, wave_json(&p, p.steps[i].wave, "done"));
		crash_hook(o, p.steps[i].id);
	}
	if (o->given_up)
		*o->given_up = json_array_size(json_object_get(j.root, "given_up"));
	if (o->skipped)
		for (i = 0, *o->skipped = 0; i < p.nsteps; i++)
			*o->skipped += !strcmp(status_of(json_array_get(steps, i)), "skipped") &&
				       !wave_given_up(&j, p.steps[i].wave);
	if (o->given_up_steps)
		for (i = 0, *o->given_up_steps = 0; i < p.nsteps; i++)
			*o->given_up_steps += wave_given_up(&j, p.steps[i].wave);
	if ((rc = set_state(&j, "done")))
		goto done;
	journal_save(&j); /* a failure marks it lost, reported at the end */
	out = ORCH_DONE;
	{
		char first[512];

		/* Done, but into the reserve's room: the next apply needs space. */
		if (adp_reserve_released(first, sizeof(first)) && o->why && o->why_len)
			snprintf(o->why, o->why_len,
				 "the disk under the state directory '%s' filled up (%s) after the last step acted: "
				 "free space there before the next apply", o->state_dir, first);
	}
record:
	if (j.lost) {
		journal_lost(o, &j, out);
		*outcome = ORCH_JOURNAL_LOST;
		rc = 0;
		goto done;
	}
	if ((rc = write_record(o, &j, out))) {
		/* The journal holds the outcome; say what it is, so that the
		 * failed record is not read as a failed apply. */
		static const char *const state[] = {
			"every step is done", "a step failed and the completed steps were rolled back",
			"a step failed and the rollback did not complete: --rollback retries it", "nothing was done",
			"apply stopped at a step boundary: --resume continues, --rollback undoes",
		};
		adp_error_wrap(rc, "%s (journal '%s'), but the run record could not be written", state[out],
			       j.path);
		journaled = 0; /* the journal holds the outcome: nothing to continue */
	} else {
		*outcome = out;
	}
done:
	if (slot_held) {
		struct adp_error_state st;

		adp_error_save(&st, rc);
		o->slot->release(o->slot->ctx);
		adp_error_restore(&st);
	}
	if (rc < 0 && journaled && !j.lost)
		rc = stopped_midway(&j, rc);
	requests_close(&j);
	json_fault = NULL;
	json_decref(j.root);
	plan_release(&p);
	if (lockfd >= 0)
		close(lockfd);
	if (hostfd >= 0)
		close(hostfd);
	return rc;
}
