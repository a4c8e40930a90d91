/* The fleet semaphore (fleet.h) over the etcd client (etcd.h). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "orchestrator/fleet/etcd.h"
#include "orchestrator/fleet/fleet.h"
#include "orchestrator/slots.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/timeutil.h"

#define KEY_MAX 256

struct fleet_semaphore {
	struct orch_slot slot;       /* what the engine sees; ctx is this */
	char *endpoints, *group, *ca_file, *cert_file, *key_file, *host, *state_dir, *plan; /* owned copies */
	char prefix[200];            /* FLEET_PREFIX<group>/ (a group is at most FLEET_GROUP_MAX) */
	long slots, ttl;
	int64_t wait_max;
	struct etcd_client c;        /* the engine's thread */
	struct etcd_client ka;       /* the keepalive thread's */
	int clients;                 /* c, ka and alive are initialised */
	volatile sig_atomic_t *stop; /* during acquire: cancels a request or a pause */
	int64_t lease;               /* granted and not yet revoked; 0: none */
	long granted;                /* its TTL, seconds */
	char key[KEY_MAX];           /* the slot held, "" when none */
	const char *holder;          /* during acquire: the slot's value (borrowed) */
	struct orch_keepalive alive; /* keeps the lease alive from its grant */
};

int fleet_group_check(const char *name)
{
	const unsigned char *c;

	if (!name || !*name)
		return adp_error_set(ADP_EINPUT, "a fleet slot group needs a name");
	if (strlen(name) > FLEET_GROUP_MAX)
		return adp_error_set(ADP_EINPUT, "fleet slot group '%.40s...' is longer than %d characters", name,
				     FLEET_GROUP_MAX);
	for (c = (const unsigned char *)name; *c; c++)
		if (*c == '/' || *c < 0x21 || *c == 0x7f)
			return adp_error_set(ADP_EINPUT,
					     "fleet slot group '%.128s' may not hold '/', spaces or control characters", name);
	return 0;
}

int fleet_endpoints_check(const char *list)
{
	return etcd_endpoints_check(list);
}

/* --- the keepalive thread ------------------------------------------------ */

static int ka_cancelled(void *arg)
{
	struct fleet_semaphore *s = arg;

	return orch_keepalive_quitting(&s->alive);
}

static int main_cancelled(void *arg)
{
	struct fleet_semaphore *s = arg;

	return s->stop && *s->stop;
}

/* A lease etcd no longer has is lost at once (slots.h has the rule for
 * renewals that fail). */
static int renew(void *arg, char *why, size_t len)
{
	struct fleet_semaphore *s = arg;
	long ttl = 0;
	int rc;

	if ((rc = etcd_lease_keepalive(&s->ka, s->lease, &ttl)))
		return rc;
	if (ttl > 0)
		return 0;
	snprintf(why, len, "its lease %lld expired: etcd no longer has it", (long long)s->lease);
	return 1;
}

static int thread_start(struct fleet_semaphore *s)
{
	snprintf(s->alive.what, sizeof(s->alive.what), "its lease %lld", (long long)s->lease);
	s->alive.period = (double)s->granted / 3.0;
	return orch_keepalive_start(&s->alive);
}

/* Stops the thread and revokes the lease, keeping the last error. */
static void give_up(struct fleet_semaphore *s)
{
	struct adp_error_state st;

	adp_error_save(&st, 0);
	orch_keepalive_stop(&s->alive);
	s->stop = NULL; /* a revoke is never cancelled: the slot frees now rather than at its TTL */
	if (s->lease)
		etcd_lease_revoke(&s->c, s->lease);
	s->lease = 0;
	s->key[0] = '\0';
	adp_error_restore(&st);
}

/* --- taking a slot --------------------------------------------------------- */

/* The slot index of a key under the prefix, or -1 (another key). */
static long slot_index(const struct fleet_semaphore *s, const char *key)
{
	size_t n = strlen(s->prefix);
	char *end;
	long i;

	if (strncmp(key, s->prefix, n) || !key[n] || key[n] == '-' || key[n] == '+')
		return -1;
	errno = 0;
	i = strtol(key + n, &end, 10);
	return *end || errno || i < 0 ? -1 : i;
}

/* The holders among kvs, described into b. */
static int describe(const struct fleet_semaphore *s, struct adp_buf *b, const struct etcd_kv *kvs, size_t n)
{
	struct orch_slot_holder *h = calloc(n ? n : 1, sizeof(*h));
	size_t k, held = 0;

	if (!h)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (k = 0; k < n; k++) {
		long i = slot_index(s, kvs[k].key);

		if (i >= 0 && i < s->slots)
			h[held++] = (struct orch_slot_holder){ i, kvs[k].value };
	}
	orch_slot_describe(b, h, held);
	free(h);
	return 0;
}

/* One look (orch_slot_wait's): every free slot tried in turn. 0 when
 * one was taken (s->key set); 1 when all are held, described into b. */
static int try_slots(void *arg, struct adp_buf *b)
{
	struct fleet_semaphore *s = arg;
	char end[KEY_MAX], key[KEY_MAX];
	unsigned char *held = calloc((size_t)s->slots, 1);
	struct etcd_kv *kvs = NULL;
	size_t k, n = 0;
	long i;
	int rc, ok = 0;

	if (!held)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	snprintf(end, sizeof(end), "%s", s->prefix);
	end[strlen(end) - 1]++; /* the prefix's '/' becomes '0': the end of its range */
	if ((rc = etcd_range(&s->c, s->prefix, end, 0, &kvs, &n)))
		goto done;
	for (k = 0; k < n; k++)
		if ((i = slot_index(s, kvs[k].key)) >= 0 && i < s->slots)
			held[i] = 1;
	for (i = 0; i < s->slots && !ok; i++) {
		if (held[i])
			continue;
		snprintf(key, sizeof(key), "%s%ld", s->prefix, i);
		if ((rc = etcd_put_if(&s->c, key, s->holder, s->lease, 0, &ok)))
			goto done;
		if (ok)
			snprintf(s->key, sizeof(s->key), "%s", key);
	}
	rc = !ok;
	if (rc == 1)
		rc = describe(s, b, kvs, n) ? ADP_ENOMEM : 1;
done:
	free(held);
	etcd_kvs_free(kvs, n);
	return rc;
}

/* Between looks: the lease granted for the wait lost. */
static int wait_lost(void *arg, char *why, size_t len)
{
	struct fleet_semaphore *s = arg;

	return orch_keepalive_lost(&s->alive, why, len);
}

/* The journaled slot, if still ours: its lease alive and the key still
 * attached to it (then its value is rewritten with this process's id).
 * 1 kept; 0 not (a lease still alive is revoked: it holds nothing). */
static int keep(struct fleet_semaphore *s, int64_t lease, const char *key, const char *holder)
{
	struct etcd_kv *kvs = NULL;
	size_t n = 0;
	long ttl = 0;
	int rc, ok = 0;

	if (strncmp(key, s->prefix, strlen(s->prefix)) || slot_index(s, key) < 0) {
		/* another group now: that slot is let go */
		etcd_lease_revoke(&s->c, lease);
		return 0;
	}
	if ((rc = etcd_lease_keepalive(&s->c, lease, &ttl)))
		return rc;
	if (!ttl)
		return 0;
	if ((rc = etcd_range(&s->c, key, NULL, 1, &kvs, &n)))
		return rc;
	if (n == 1 && kvs[0].lease == lease && (rc = etcd_put_if(&s->c, key, holder, lease, 1, &ok))) {
		etcd_kvs_free(kvs, n);
		return rc;
	}
	etcd_kvs_free(kvs, n);
	if (!ok)
		return etcd_lease_revoke(&s->c, lease);
	s->lease = lease;
	s->granted = ttl;
	snprintf(s->key, sizeof(s->key), "%s", key);
	return 1;
}

static int acquire(void *ctx, int64_t lease, const char *key, double wait_s, volatile sig_atomic_t *stop,
		   int64_t *lease_out, const char **key_out)
{
	struct fleet_semaphore *s = ctx;
	char *holder = orch_slot_holder_json(s->host, s->state_dir, s->plan), where[1100], shown[1024];
	struct orch_slot_wait w = { try_slots, wait_lost, s, s->group, s->slots, where, s->wait_max, wait_s, stop };
	int rc = 0, refused = 0;

	if (!holder)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (s->key[0])
		give_up(s); /* taken again: the old one goes first */
	s->stop = stop;
	s->holder = holder;
	snprintf(where, sizeof(where), "at etcd '%s'", etcd_endpoint_shown(&s->c, shown, sizeof(shown)));
	if (lease && key && (rc = keep(s, lease, key, holder)) < 0)
		goto fail;
	if (rc == 0) {
		if ((rc = etcd_lease_grant(&s->c, s->ttl, &s->lease, &s->granted)))
			goto fail;
	}
	if ((rc = thread_start(s)))
		goto fail;
	if (!s->key[0] && (rc = orch_slot_wait(&w, &refused)))
		goto fail;
	s->stop = NULL;
	s->holder = NULL;
	free(holder);
	*lease_out = s->lease;
	*key_out = s->key;
	return 0;
fail:
	if (rc < 0 && s->stop && *s->stop)
		rc = 1; /* a request cancelled by the signal */
	else if (rc < 0 && rc != ADP_ENOMEM && !refused)
		rc = adp_error_wrap(ADP_EINPUT, "cannot take a fleet slot of group '%s' (no data fails closed)",
				    s->group);
	s->holder = NULL;
	free(holder);
	give_up(s);
	return rc;
}

static int healthy(void *ctx, char *why, size_t len)
{
	struct fleet_semaphore *s = ctx;

	return orch_keepalive_healthy(&s->alive, why, len);
}

static void release(void *ctx)
{
	give_up(ctx);
}

/* --- lifecycle ------------------------------------------------------------------ */

int fleet_semaphore_new(struct fleet_semaphore **out, const struct fleet_opts *o)
{
	struct fleet_semaphore *s;
	struct etcd_opts eo = { 0 };
	char host[256];
	int rc;

	if ((rc = fleet_group_check(o->group)))
		return rc;
	if (o->slots < 0 || o->slots > FLEET_MAX_SLOTS)
		return adp_error_set(ADP_EINPUT, "fleet slots %ld: expected 1 to %d", o->slots, FLEET_MAX_SLOTS);
	if (o->ttl && (o->ttl < FLEET_TTL_MIN || o->ttl > FLEET_TTL_MAX))
		return adp_error_set(ADP_EINPUT, "fleet slot TTL %ld s: expected %d s to %d s", o->ttl, FLEET_TTL_MIN,
				     FLEET_TTL_MAX);
	if (!(s = calloc(1, sizeof(*s))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (!o->host) {
		if (gethostname(host, sizeof(host)))
			snprintf(host, sizeof(host), "unknown");
		host[sizeof(host) - 1] = '\0';
	}
	if ((rc = adp_strdup_opt(&s->endpoints, o->endpoints)) || (rc = adp_strdup_opt(&s->group, o->group)) ||
	    (rc = adp_strdup_opt(&s->ca_file, o->ca_file)) || (rc = adp_strdup_opt(&s->cert_file, o->cert_file)) ||
	    (rc = adp_strdup_opt(&s->key_file, o->key_file)) || (rc = adp_strdup_opt(&s->host, o->host ? o->host : host)) ||
	    (rc = adp_strdup_opt(&s->state_dir, o->state_dir)) || (rc = adp_strdup_opt(&s->plan, o->plan))) {
		fleet_semaphore_free(s);
		return rc;
	}
	snprintf(s->prefix, sizeof(s->prefix), FLEET_PREFIX "%s/", s->group);
	s->slots = o->slots ? o->slots : 1;
	s->ttl = o->ttl ? o->ttl : FLEET_TTL_DEFAULT;
	s->wait_max = o->wait_max;
	eo.endpoints = s->endpoints;
	eo.ca_file = s->ca_file;
	eo.cert_file = s->cert_file;
	eo.key_file = s->key_file;
	eo.cancelled = main_cancelled;
	eo.cancel_arg = s;
	if ((rc = etcd_init(&s->c, &eo))) {
		fleet_semaphore_free(s);
		return rc;
	}
	/* A renewal must end well within the lease: at most a third of it. */
	eo.timeout = s->ttl / 3;
	eo.cancelled = ka_cancelled;
	if ((rc = etcd_init(&s->ka, &eo))) {
		etcd_release(&s->c);
		fleet_semaphore_free(s);
		return rc;
	}
	s->clients = 1;
	orch_keepalive_init(&s->alive);
	s->alive.renew = renew;
	s->alive.arg = s;
	s->slot = (struct orch_slot){ .ctx = s, .group = s->group, .acquire = acquire, .healthy = healthy,
				      .release = release };
	*out = s;
	return 0;
}

const struct orch_slot *fleet_semaphore_slot(struct fleet_semaphore *s)
{
	return &s->slot;
}

void fleet_semaphore_free(struct fleet_semaphore *s)
{
	if (!s)
		return;
	if (s->clients) {
		give_up(s);
		etcd_release(&s->c);
		etcd_release(&s->ka);
		orch_keepalive_release(&s->alive);
	}
	free(s->endpoints);
	free(s->group);
	free(s->ca_file);
	free(s->cert_file);
	free(s->key_file);
	free(s->host);
	free(s->state_dir);
	free(s->plan);
	free(s);
}
