/* What the fleet semaphores share (slots.h). */
#include "orchestrator/slots.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/timeutil.h"

double orch_slot_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *orch_slot_holder_json(const char *host, const char *state_dir, const char *plan)
{
	char since[32];
	json_t *o;
	char *text;

	adp_time_format(since, (int64_t)time(NULL));
	o = json_pack("{s:s, s:s?, s:I, s:s?, s:s}", "host", host, "state_dir", state_dir, "pid", (json_int_t)getpid(),
		      "plan", plan, "since", since);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

void orch_slot_describe(struct adp_buf *b, const struct orch_slot_holder *h, size_t n)
{
	size_t k, shown = 0;

	for (k = 0; k < n && shown < ORCH_SLOT_HOLDERS_SHOWN; k++, shown++) {
		json_t *v = json_loads(h[k].value ? h[k].value : "", 0, NULL);

		if (json_is_object(v)) {
			const char *host = json_string_value(json_object_get(v, "host"));
			const char *dir = json_string_value(json_object_get(v, "state_dir"));
			const char *plan = json_string_value(json_object_get(v, "plan"));
			const char *since = json_string_value(json_object_get(v, "since"));

			adp_buf_addf(b, "%sslot %ld held by host '%.100s' (pid %lld, state dir '%.200s', plan '%.100s', since %.40s)",
				     shown ? "; " : "", h[k].slot, host ? host : "?",
				     (long long)json_integer_value(json_object_get(v, "pid")), dir ? dir : "?",
				     plan ? plan : "?", since ? since : "?");
		} else {
			adp_buf_addf(b, "%sslot %ld held by '%.80s'", shown ? "; " : "", h[k].slot,
				     h[k].value ? h[k].value : "?");
		}
		json_decref(v);
	}
	if (n > shown)
		adp_buf_addf(b, "; and %zu more", n - shown);
	if (!n)
		adp_buf_adds(b, "every slot taken just now, none left to name");
}

int orch_slot_pause(volatile sig_atomic_t *stop, double secs)
{
	double until = orch_slot_mono() + secs;

	while (orch_slot_mono() < until) {
		if (stop && *stop)
			return 1;
		nanosleep(&(struct timespec){ 0, 100000000L }, NULL);
	}
	return stop && *stop;
}

int orch_slot_wait(const struct orch_slot_wait *w, int *refused)
{
	int by_option = w->wait_max >= 0 && (double)w->wait_max < w->wait_s;
	double limit = by_option ? (double)w->wait_max : w->wait_s > 0 ? w->wait_s : 0, t0 = orch_slot_mono();
	double pause = 0.25;
	struct adp_buf held = ADP_BUF_INIT;
	char waited[32], why[512], count[48];
	int rc;

	*refused = 0;
	/* A FleetLock server counts its slots itself: slots 0. */
	if (w->slots > 0)
		snprintf(count, sizeof(count), "%ld slot%s ", w->slots, w->slots == 1 ? "" : "s");
	else
		count[0] = '\0';
	for (;;) {
		adp_buf_reset(&held);
		if ((rc = w->look(w->arg, &held)) <= 0)
			break;
		if (orch_slot_mono() - t0 >= limit) {
			adp_duration_format(waited, (int64_t)(orch_slot_mono() - t0 + 0.5));
			rc = adp_error_set(ADP_EINPUT, "no fleet slot free in group '%s' (%s%s) after waiting %s, %s: %s: %s",
					   w->group, count, w->where, waited,
					   by_option ? "--semaphore-wait's limit"
						     : "as long as the plan's timing allows (a later start would overrun its cutoff)",
					   adp_buf_str(&held),
					   by_option ? "apply again once one frees (at the end of its holder's apply, or "
						       "its lease's TTL after a crash)"
						     : "plan again for a later start");
			*refused = 1;
			break;
		}
		if (w->lost && w->lost(w->arg, why, sizeof(why))) {
			rc = adp_error_set(ADP_EINPUT, "lost the lease while waiting for a fleet slot: %s", why);
			break;
		}
		if (pause > limit - (orch_slot_mono() - t0))
			pause = limit - (orch_slot_mono() - t0);
		if (orch_slot_pause(w->stop, pause > 0 ? pause : 0)) {
			rc = 1;
			break;
		}
		pause = pause * 2 > ORCH_SLOT_POLL_MAX ? ORCH_SLOT_POLL_MAX : pause * 2;
	}
	adp_buf_release(&held);
	return rc;
}

/* --- the keepalive thread ------------------------------------------------ */

static void *keepalive(void *arg)
{
	struct orch_keepalive *ka = arg;
	double next = orch_slot_mono() + ka->period, failing = 0;

	pthread_mutex_lock(&ka->mu);
	while (!ka->quit) {
		double now = orch_slot_mono();
		char why[sizeof(ka->why)] = "";
		int rc;

		if (now < next) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += (time_t)(next - now);
			ts.tv_nsec += (long)((next - now - (double)(time_t)(next - now)) * 1e9);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&ka->cv, &ka->mu, &ts);
			continue;
		}
		pthread_mutex_unlock(&ka->mu);
		rc = ka->renew(ka->arg, why, sizeof(why));
		now = orch_slot_mono();
		pthread_mutex_lock(&ka->mu);
		if (ka->quit)
			break;
		if (!rc) {
			failing = 0;
			next = now + ka->period;
		} else if (rc > 0) {
			ka->lost = 1;
			snprintf(ka->why, sizeof(ka->why), "%s", why);
			break;
		} else {
			if (!failing)
				failing = now;
			if (now - failing >= ka->period) {
				ka->lost = 1;
				snprintf(ka->why, sizeof(ka->why), "%.200s could not be kept alive for %ld s: %.260s", ka->what,
					 (long)(now - failing + 0.5), adp_error_last());
				break;
			}
			next = now + 1;
		}
	}
	pthread_mutex_unlock(&ka->mu);
	return NULL;
}

void orch_keepalive_init(struct orch_keepalive *ka)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&ka->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ka->cv, &ca);
	pthread_condattr_destroy(&ca);
}

void orch_keepalive_release(struct orch_keepalive *ka)
{
	orch_keepalive_stop(ka);
	pthread_mutex_destroy(&ka->mu);
	pthread_cond_destroy(&ka->cv);
}

int orch_keepalive_start(struct orch_keepalive *ka)
{
	ka->quit = ka->lost = 0;
	ka->why[0] = '\0';
	if (pthread_create(&ka->th, NULL, keepalive, ka))
		return adp_error_set(ADP_ESYS, "cannot start the thread that keeps the fleet slot alive");
	ka->running = 1;
	return 0;
}

void orch_keepalive_stop(struct orch_keepalive *ka)
{
	if (!ka->running)
		return;
	pthread_mutex_lock(&ka->mu);
	__atomic_store_n(&ka->quit, 1, __ATOMIC_SEQ_CST);
	pthread_cond_signal(&ka->cv);
	pthread_mutex_unlock(&ka->mu);
	pthread_join(ka->th, NULL);
	ka->running = 0;
}

int orch_keepalive_quitting(struct orch_keepalive *ka)
{
	return __atomic_load_n(&ka->quit, __ATOMIC_SEQ_CST);
}

int orch_keepalive_healthy(struct orch_keepalive *ka, char *why, size_t len)
{
	int ok;

	pthread_mutex_lock(&ka->mu);
	ok = ka->running && !ka->lost;
	if (!ok && len)
		snprintf(why, len, "%s", ka->lost ? ka->why : "no slot is held");
	pthread_mutex_unlock(&ka->mu);
	return ok;
}

int orch_keepalive_lost(struct orch_keepalive *ka, char *why, size_t len)
{
	int lost;

	pthread_mutex_lock(&ka->mu);
	lost = ka->lost;
	if (lost && len)
		snprintf(why, len, "%s", ka->why);
	pthread_mutex_unlock(&ka->mu);
	return lost;
}
