/* Signed webhooks on a delivery thread of their own (see notify.h). */
#include "orchestrator/notify.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/http.h"
#include "util/sha256.h"
#include "util/timeutil.h"

struct queued {
	int event;
	char *body; /* owned */
};

struct hook {
	const struct schedule_webhook *w; /* borrowed from the schedule */
	char *secret;                     /* owned, wiped when freed */
	char shown[512];                  /* the URL, redacted */
	struct adp_http http;
	int ready;
	size_t sent, failed;
	char last[640];                   /* the last failure */
};

struct orch_notifier {
	struct hook *hooks;
	size_t nhooks;
	char *schedule, *digest;
	char host[256];
	unsigned long seq;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct queued q[ORCH_NOTIFY_QUEUE];
	size_t head, count, dropped;
	int busy;     /* the thread is delivering one */
	int closing;  /* no more events: drain and stop */
	int abort;    /* the drain's time is up: cancel and stop */
};

static int cancelled(void *arg)
{
	struct orch_notifier *n = arg;
	int a;

	pthread_mutex_lock(&n->mu);
	a = n->abort;
	pthread_mutex_unlock(&n->mu);
	return a;
}

/* One POST to one webhook, with its retries; failures counted. */
static void deliver(struct orch_notifier *n, struct hook *h, const struct queued *e)
{
	char sig[128], ev[96], hex[65], ua[64];
	const char *headers[6];
	struct adp_http_req r = { 0 };
	struct adp_http_res res = { 0 };
	struct adp_buf body = { 0 };
	size_t k = 0;
	int rc;

	if (!h->ready) {
		struct adp_http_opts ho = { .what = "webhook", .ca_file = h->w->ca_file, .cancelled = cancelled,
					    .cancel_arg = n };

		ho.timeout = (long)h->w->timeout;
		ho.connect_timeout = (long)h->w->timeout;
		if (adp_http_init(&h->http, &ho)) {
			h->failed++;
			snprintf(h->last, sizeof(h->last), "%s", adp_error_last());
			adp_error_clear();
			return;
		}
		h->ready = 1;
	}
	snprintf(ev, sizeof(ev), "X-Adpart-Event: %s", schedule_event_names[e->event]);
	snprintf(ua, sizeof(ua), "User-Agent: adpart-update/%s", ADP_VERSION);
	headers[k++] = "Content-Type: application/json";
	headers[k++] = ev;
	headers[k++] = ua;
	if (h->secret) {
		adp_hmac_sha256_hex(h->secret, strlen(h->secret), e->body, strlen(e->body), hex);
		snprintf(sig, sizeof(sig), "X-Adpart-Signature-256: sha256=%s", hex);
		headers[k++] = sig;
	}
	headers[k] = NULL;
	r.method = "POST";
	r.url = h->w->url;
	r.shown = h->shown;
	r.headers = headers;
	r.body = e->body;
	r.body_len = strlen(e->body);
	r.max_bytes = 64 << 10; /* the answer is not read */
	r.retries = h->w->retries;
	rc = adp_http_request(&h->http, &r, &body, &res);
	adp_buf_release(&body);
	if (!rc && res.status >= 200 && res.status < 300) {
		h->sent++;
		return;
	}
	h->failed++;
	if (rc)
		snprintf(h->last, sizeof(h->last), "%s", adp_error_last());
	else
		snprintf(h->last, sizeof(h->last), "webhook '%s' answered HTTP %ld", h->shown, res.status);
	adp_error_clear();
}

static void *worker(void *arg)
{
	struct orch_notifier *n = arg;

	for (;;) {
		struct queued e;
		size_t i;

		pthread_mutex_lock(&n->mu);
		while (!n->count && !n->closing)
			pthread_cond_wait(&n->cv, &n->mu);
		if (!n->count || n->abort) {
			pthread_mutex_unlock(&n->mu);
			return NULL;
		}
		e = n->q[n->head];
		n->head = (n->head + 1) % ORCH_NOTIFY_QUEUE;
		n->count--;
		n->busy = 1;
		pthread_mutex_unlock(&n->mu);
		for (i = 0; i < n->nhooks; i++)
			if (!n->hooks[i].w->events || (n->hooks[i].w->events & (1u << e.event)))
				deliver(n, &n->hooks[i], &e);
		free(e.body);
		pthread_mutex_lock(&n->mu);
		n->busy = 0;
		pthread_cond_broadcast(&n->cv);
		pthread_mutex_unlock(&n->mu);
	}
}

static void free_hooks(struct orch_notifier *n)
{
	size_t i;

	for (i = 0; i < n->nhooks; i++) {
		if (n->hooks[i].secret) {
			explicit_bzero(n->hooks[i].secret, strlen(n->hooks[i].secret));
			free(n->hooks[i].secret);
		}
		adp_http_release(&n->hooks[i].http);
	}
	free(n->hooks);
	free(n->schedule);
	free(n->digest);
	free(n);
}

int orch_notifier_new(struct orch_notifier **out, const struct schedule_notify *cfg, const char *schedule,
		      const char *digest)
{
	struct orch_notifier *n;
	size_t i;
	int rc;

	*out = NULL;
	if (!cfg || !cfg->nwebhooks)
		return 0;
	if (!(n = calloc(1, sizeof(*n))) || !(n->hooks = calloc(cfg->nwebhooks, sizeof(*n->hooks))) ||
	    !(n->schedule = strdup(schedule ? schedule : "")) || !(n->digest = strdup(digest ? digest : ""))) {
		if (n)
			free_hooks(n);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	n->nhooks = cfg->nwebhooks;
	for (i = 0; i < n->nhooks; i++) {
		struct hook *h = &n->hooks[i];

		h->w = &cfg->webhooks[i];
		adp_url_redact(h->shown, sizeof(h->shown), h->w->url);
		if (h->w->secret_file && (rc = adp_read_secret(&h->secret, h->w->secret_file, ORCH_NOTIFY_SECRET_MAX,
								 "webhook secret file"))) {
			free_hooks(n);
			return rc;
		}
	}
	if (gethostname(n->host, sizeof(n->host)))
		snprintf(n->host, sizeof(n->host), "unknown");
	n->host[sizeof(n->host) - 1] = '\0';
	adp_http_global_init();
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->cv, NULL);
	if ((rc = pthread_create(&n->thread, NULL, worker, n))) {
		pthread_mutex_destroy(&n->mu);
		pthread_cond_destroy(&n->cv);
		free_hooks(n);
		return adp_error_set(ADP_ESYS, "cannot start the webhook thread: %s", strerror(rc));
	}
	*out = n;
	return 0;
}

void orch_notify(struct orch_notifier *n, int event, json_t *detail)
{
	json_t *doc;
	char at[32], id[64];
	char *body;
	struct timespec ts;

	if (!n || event < 0 || event >= SCHEDULE_NEVENTS)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	adp_time_format(at, (int64_t)ts.tv_sec);
	pthread_mutex_lock(&n->mu);
	snprintf(id, sizeof(id), "%lx-%x-%lu", (unsigned long)ts.tv_sec, (unsigned)getpid(), ++n->seq);
	pthread_mutex_unlock(&n->mu);
	doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O?}", "event", schedule_event_names[event], "delivery", id,
			"at", at, "host", n->host, "schedule", n->schedule, "plan_digest", n->digest, "detail",
			detail);
	if (doc && !json_object_get(doc, "detail"))
		json_object_set_new(doc, "detail", json_object());
	body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	pthread_mutex_lock(&n->mu);
	if (!body || n->closing) {
		n->dropped++;
		free(body);
	} else {
		if (n->count == ORCH_NOTIFY_QUEUE) { /* full: the oldest goes */
			free(n->q[n->head].body);
			n->head = (n->head + 1) % ORCH_NOTIFY_QUEUE;
			n->count--;
			n->dropped++;
		}
		n->q[(n->head + n->count) % ORCH_NOTIFY_QUEUE] = (struct queued){ event, body };
		n->count++;
		pthread_cond_broadcast(&n->cv);
	}
	pthread_mutex_unlock(&n->mu);
}

void orch_notify_hook(void *ctx, int event, json_t *detail)
{
	orch_notify(ctx, event, detail);
}

void orch_notifier_free(struct orch_notifier *n, double flush, char *why, size_t len)
{
	struct timespec until;
	size_t i, k = 0;

	if (why && len)
		why[0] = '\0';
	if (!n)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)flush;
	until.tv_nsec += (long)((flush - (double)(time_t)flush) * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&n->mu);
	n->closing = 1;
	pthread_cond_broadcast(&n->cv);
	while ((n->count || n->busy) && pthread_cond_timedwait(&n->cv, &n->mu, &until) == 0)
		;
	if (n->count || n->busy) { /* time is up: what is left is dropped */
		n->abort = 1;
		n->dropped += n->count;
		for (; n->count; n->count--, n->head = (n->head + 1) % ORCH_NOTIFY_QUEUE)
			free(n->q[n->head].body);
		pthread_cond_broadcast(&n->cv);
	}
	pthread_mutex_unlock(&n->mu);
	pthread_join(n->thread, NULL);
	for (i = 0; why && i < n->nhooks; i++)
		if (n->hooks[i].failed && k < len)
			k += (size_t)snprintf(why + k, len - k, "%swebhook '%s': %zu of %zu deliveries failed (%s)",
					      k ? "; " : "", n->hooks[i].shown, n->hooks[i].failed,
					      n->hooks[i].failed + n->hooks[i].sent, n->hooks[i].last);
	if (why && n->dropped && k < len)
		snprintf(why + k, len - k, "%s%zu webhook events dropped (a full queue, or no time left to send them)",
			 k ? "; " : "", n->dropped);
	pthread_mutex_destroy(&n->mu);
	pthread_cond_destroy(&n->cv);
	free_hooks(n);
}
