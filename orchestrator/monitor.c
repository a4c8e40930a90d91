/* The engine's monitoring of a wave under way: the liveness of every
 * instance carrying traffic (the driver's probe), and the usage of every
 * live shadow against its forecast band, with what the policy does when
 * it leaves it (warn, grow, borrow, roll back). */
#include "orchestrator/engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plans/steps.h"
#include "util/error.h"

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
			if (!plan_wave_offline(w, x->partition) && wave_touches(w, x->component) &&
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
int monitor(struct journal *j, const struct orch_opts *o, const struct orch_driver *d,
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
