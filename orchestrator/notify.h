/* Notifications: the schedule's webhooks (adpart-update(5), "notify"),
 * each event a JSON POST signed with HMAC-SHA256 under the webhook's
 * secret, delivered by a thread of its own so that a slow or dead
 * receiver never holds up plan or apply: events wait in a bounded queue
 * (the oldest dropped and counted when it is full), each delivery has a
 * timeout and bounded retries, and at the end the queue gets a bounded
 * time to drain. */
#ifndef ADP_ORCH_NOTIFY_H
#define ADP_ORCH_NOTIFY_H

#include <jansson.h>
#include <stddef.h>

#include "partition/schedule.h"

#define ORCH_NOTIFY_QUEUE 256         /* events waiting at most */
#define ORCH_NOTIFY_SECRET_MAX 4096   /* bytes of a secret file */
#define ORCH_NOTIFY_FLUSH 10.0        /* seconds the queue gets to drain at the end */

struct orch_notifier;

/* A notifier for cfg's webhooks, events naming schedule and digest
 * (borrowed, copied); *out is NULL when cfg has none. Secrets are read
 * here: a missing or unreadable secret file is an error now, not a
 * failed delivery later. */
int orch_notifier_new(struct orch_notifier **out, const struct schedule_notify *cfg, const char *schedule,
		      const char *digest);

/* Queues event (enum schedule_event) for the webhooks that want it:
 * {"event", "delivery", "at", "host", "schedule", "plan_digest",
 * "detail"}, with detail (borrowed; NULL: {}) serialised now. Never
 * blocks on delivery; n may be NULL. */
void orch_notify(struct orch_notifier *n, int event, json_t *detail);

/* The engine's hook (struct orch_opts' notify): ctx is the notifier. */
void orch_notify_hook(void *ctx, int event, json_t *detail);

/* Gives the queue at most flush seconds to drain (a delivery under way
 * is then cancelled), stops the thread and frees n (NULL-safe). why
 * (may be NULL) gets a summary of the deliveries that failed or were
 * dropped, "" when none: URLs redacted, secrets never in it. */
void orch_notifier_free(struct orch_notifier *n, double flush, char *why, size_t len);

#endif
