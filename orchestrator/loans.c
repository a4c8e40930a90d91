/* The engine's loans: borrowing for a shadow that leaves its band
 * (--on-deviation borrow), and the request API's engine side (each
 * request decided, journaled and lent as loans, given back at its
 * expiry); the lenders are chosen by orchestrator/borrow.c, the protocol
 * and socket are orchestrator/request.c's. */
#include "orchestrator/engine_int.h"
#include "orchestrator/borrow.h"
#include "orchestrator/request.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "partition/planner.h"
#include "util/error.h"
#include "util/resource.h"
#include "util/timeutil.h"

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
int loans_settle(struct journal *j, const struct orch_driver *d, const struct plan *p, size_t wave,
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
int loans_tend(struct journal *j, const struct orch_driver *d, const struct plan *p, size_t upto, int64_t t,
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
int borrow(struct journal *j, const struct orch_driver *d, const struct plan *p, size_t upto, int64_t t,
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
		adp_resource_amount(amt, r, want > ORCH_REQ_UNITS_MAX * unit + 1e-9 ? ORCH_REQ_UNITS_MAX * unit : cap);
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
int requests_serve(struct journal *j, long upto)
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
int requests_open(struct journal *j, const struct orch_driver *d, const struct plan *p,
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
void requests_close(struct journal *j)
{
	if (!j->rq)
		return;
	orch_req_server_free(j->rq->srv);
	free(j->rq);
	j->rq = NULL;
}
