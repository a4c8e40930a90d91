/* The engine's journal: the checked JSON builder with the test-only
 * fault point that every engine file builds through, writing the
 * journal, its step records and observations, what they say of a wave's
 * steps, and the engine's clocks; and what monitoring and loans both
 * read of a wave now: a replica's forecast band, and the driver's
 * samples taken once a pass. */
#include "orchestrator/engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plans/steps.h"
#include "util/error.h"
#include "util/fsutil.h"

/* Test-only (orch_opts.json_fault): counts down on every jset and jpush
 * of this thread's apply; the call that brings it to 0 fails as an
 * allocation would. The engine builds JSON on its own thread only. */
_Thread_local long *orch_json_fault;

static json_t *fault_point(json_t *value)
{
	if (orch_json_fault && --*orch_json_fault == 0) {
		json_decref(value);
		return NULL;
	}
	return value;
}

/* The shared checked builder (util/jsonutil.h) behind the fault point:
 * 0, or -1 with b marked failed, so that a journal or run record is never
 * written half-built. */
int jset(struct adp_jb *b, json_t *obj, const char *key, json_t *value)
{
	return adp_jset(b, obj, key, fault_point(value)) ? 0 : -1;
}

int jpush(struct adp_jb *b, json_t *arr, json_t *value)
{
	return adp_jpush(b, arr, fault_point(value)) ? 0 : -1;
}

/* Tells the notify hook of event; detail (owned, may be NULL) is freed. */
void emit(const struct orch_opts *o, int event, json_t *detail)
{
	if (o && o->notify)
		o->notify(o->notify_ctx, event, detail);
	json_decref(detail);
}

/* After a build into the journal: a failed one marks root broken, and
 * the apply stops where it is, as a crash would (--resume goes on from
 * the journal on disk). */
int journal_built(struct journal *j, const struct adp_jb *b)
{
	if (!b->failed)
		return 0;
	j->broken = 1;
	return adp_error_set(ADP_ENOMEM, "out of memory building the journal '%s'", j->path);
}

int journal_save(struct journal *j)
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

int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The engine's clock for forecast bands: --now at the start, then real time. */
int64_t plan_time(const struct orch_opts *o, double t0)
{
	return (o->now ? o->now : now_s()) + (int64_t)(mono_s() - t0);
}

/* A pending step record, or NULL (b records why). */
json_t *step_json(struct adp_jb *b, const struct plan_step *s)
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

void set_status(struct adp_jb *b, json_t *o, const char *status, const char *msg)
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
int set_state(struct journal *j, const char *state)
{
	struct adp_jb b = { 0 };

	jset(&b, j->root, "state", json_string(state));
	return journal_built(j, &b);
}

const char *status_of(json_t *o)
{
	const char *s = json_string_value(json_object_get(o, "status"));

	return s ? s : "";
}

/* Every step record of a journal read back has a status the engine
 * writes: anything else (a hand edit) would be taken for "not done". */
int journal_statuses(json_t *root, const char *path)
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

#define MAX_OBSERVATIONS 20000

/* Adds the observation e, built with b (both owned): 0, or ADP_ENOMEM
 * when e or its place in the journal could not be built. */
int observe(struct journal *j, struct adp_jb *b, json_t *e)
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
int done_in_wave(json_t *steps, const struct plan *p, size_t upto, int act, const char *component,
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

/* Whether x runs in upto's wave at limits the engine set: a shadow
 * started and not stopped, or a staying replica resized and not yet
 * restored. With verified set, a shadow only once verify_shadow found
 * its limits as planned: loans wait for it. */
int limited_now(json_t *steps, const struct plan *p, size_t upto, const struct plan_placement *x,
		int verified)
{
	if (x->from)
		return done_in_wave(steps, p, upto, verified ? PLAN_VERIFY_SHADOW : PLAN_START_SHADOW, x->component,
				    x->replica) &&
		       !done_in_wave(steps, p, upto, PLAN_STOP_SHADOW, x->component, x->replica);
	return done_in_wave(steps, p, upto, PLAN_RESIZE, x->component, x->replica) &&
	       !done_in_wave(steps, p, upto, PLAN_RESTORE_SIZE, x->component, x->replica);
}

/* The forecast band of x for resource r at time t: the plan's per-step
 * row when it has one (clamped to the band), else the wave's peaks. */
void band_at(const struct plan *p, const struct plan_placement *x, int r, int64_t t, double *p50,
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

struct seen *sample_once(const struct orch_driver *d, const struct plan *p, const struct plan_wave *w,
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
