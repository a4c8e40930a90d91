/* The fleet semaphore (fleet.h) over the etcd client (etcd.h). */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "orchestrator/fleet/etcd.h"
#include "orchestrator/fleet/fleet.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/timeutil.h"

#define KEY_MAX 256
#define HOLDERS_SHOWN 5 /* holders a refusal names, then "and N more" */

struct fleet_semaphore {
	struct orch_slot slot;       /* what the engine sees; ctx is this */
	char *endpoints, *group, *ca_file, *cert_file, *key_file, *host, *state_dir, *plan; /* owned copies */
	char prefix[200];            /* FLEET_PREFIX<group>/ (a group is at most FLEET_GROUP_MAX) */
	long slots, ttl;
	int64_t wait_max;
	struct etcd_client c;        /* the engine's thread */
	struct etcd_client ka;       /* the keepalive thread's */
	int clients;                 /* c and ka are initialised */
	volatile sig_atomic_t *stop; /* during acquire: cancels a request or a pause */
	int64_t lease;               /* granted and not yet revoked; 0: none */
	long granted;                /* its TTL, seconds */
	char key[KEY_MAX];           /* the slot held, "" when none */
	/* the keepalive thread: quit, lost and why under mu */
	pthread_t th;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int quit, lost;
	char why[512];
};

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

	return __atomic_load_n(&s->quit, __ATOMIC_SEQ_CST);
}

static int main_cancelled(void *arg)
{
	struct fleet_semaphore *s = arg;

	return s->stop && *s->stop;
}

/* Renews the lease every TTL/3. A lease etcd no longer has is lost at
 * once; renewals that fail (etcd unreachable) are retried every second,
 * and after TTL/3 of them the slot is lost too: the lease may still
 * live a little, but nobody can say for how long. */
static void *keepalive(void *arg)
{
	struct fleet_semaphore *s = arg;
	double period = (double)s->granted / 3.0, next = mono_s() + period, failing = 0;

	pthread_mutex_lock(&s->mu);
	while (!s->quit) {
		double now = mono_s();
		long ttl = 0;
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
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
			continue;
		}
		pthread_mutex_unlock(&s->mu);
		rc = etcd_lease_keepalive(&s->ka, s->lease, &ttl);
		now = mono_s();
		pthread_mutex_lock(&s->mu);
		if (s->quit)
			break;
		if (!rc && ttl > 0) {
			failing = 0;
			next = now + period;
		} else if (!rc) {
			s->lost = 1;
			snprintf(s->why, sizeof(s->why), "its lease %lld expired: etcd no longer has it",
				 (long long)s->lease);
			break;
		} else {
			if (!failing)
				failing = now;
			if (now - failing >= period) {
				s->lost = 1;
				snprintf(s->why, sizeof(s->why), "its lease %lld could not be kept alive for %.0f s: %.400s",
					 (long long)s->lease, now - failing, adp_error_last());
				break;
			}
			next = now + 1;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static int thread_start(struct fleet_semaphore *s)
{
	s->quit = s->lost = 0;
	s->why[0] = '\0';
	if (pthread_create(&s->th, NULL, keepalive, s))
		return adp_error_set(ADP_ESYS, "cannot start the thread that keeps the fleet slot's lease alive");
	s->running = 1;
	return 0;
}

static void thread_stop(struct fleet_semaphore *s)
{
	if (!s->running)
		return;
	pthread_mutex_lock(&s->mu);
	__atomic_store_n(&s->quit, 1, __ATOMIC_SEQ_CST);
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	s->running = 0;
}

/* Stops the thread and revokes the lease, keeping the last error. */
static void give_up(struct fleet_semaphore *s)
{
	struct adp_error_state st;

	adp_error_save(&st, 0);
	thread_stop(s);
	s->stop = NULL; /* a revoke is never cancelled: the slot frees now rather than at its TTL */
	if (s->lease)
		etcd_lease_revoke(&s->c, s->lease);
	s->lease = 0;
	s->key[0] = '\0';
	adp_error_restore(&st);
}

/* --- taking a slot --------------------------------------------------------- */

/* The holder's id, the slot's value (owned: free), or NULL. */
static char *holder_json(const struct fleet_semaphore *s)
{
	char since[32];
	json_t *o;
	char *text;

	adp_time_format(since, (int64_t)time(NULL));
	o = json_pack("{s:s, s:s?, s:I, s:s?, s:s}", "host", s->host, "state_dir", s->state_dir, "pid",
		      (json_int_t)getpid(), "plan", s->plan, "since", since);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

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

/* One look: every free slot tried in turn. 0 when one was taken (s->key
 * set); 1 when all are held, *kvs (owned) then naming the holders. */
static int try_slots(struct fleet_semaphore *s, const char *holder, struct etcd_kv **kvs, size_t *n)
{
	char end[KEY_MAX], key[KEY_MAX];
	unsigned char *held = calloc((size_t)s->slots, 1);
	size_t k;
	long i;
	int rc, ok = 0;

	*kvs = NULL;
	*n = 0;
	if (!held)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	snprintf(end, sizeof(end), "%s", s->prefix);
	end[strlen(end) - 1]++; /* the prefix's '/' becomes '0': the end of its range */
	if ((rc = etcd_range(&s->c, s->prefix, end, 0, kvs, n)))
		goto done;
	for (k = 0; k < *n; k++)
		if ((i = slot_index(s, (*kvs)[k].key)) >= 0 && i < s->slots)
			held[i] = 1;
	for (i = 0; i < s->slots && !ok; i++) {
		if (held[i])
			continue;
		snprintf(key, sizeof(key), "%s%ld", s->prefix, i);
		if ((rc = etcd_put_if(&s->c, key, holder, s->lease, 0, &ok)))
			goto done;
		if (ok)
			snprintf(s->key, sizeof(s->key), "%s", key);
	}
	rc = !ok;
done:
	free(held);
	if (rc != 1) {
		etcd_kvs_free(*kvs, *n);
		*kvs = NULL;
		*n = 0;
	}
	return rc;
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

/* "slot 0 held by host 'a' (pid 1, state dir '/x', plan 'p', since T)" for the
 * holders in kvs, appended to b. */
static void describe(const struct fleet_semaphore *s, struct adp_buf *b, const struct etcd_kv *kvs, size_t n)
{
	size_t k, shown = 0, held = 0;

	for (k = 0; k < n; k++) {
		long i = slot_index(s, kvs[k].key);
		json_t *v;

		if (i < 0 || i >= s->slots)
			continue;
		if (held++ >= HOLDERS_SHOWN)
			continue;
		v = json_loads(kvs[k].value, 0, NULL);
		if (json_is_object(v)) {
			const char *host = json_string_value(json_object_get(v, "host"));
			const char *dir = json_string_value(json_object_get(v, "state_dir"));
			const char *plan = json_string_value(json_object_get(v, "plan"));
			const char *since = json_string_value(json_object_get(v, "since"));

			adp_buf_addf(b, "%sslot %ld held by host '%.100s' (pid %lld, state dir '%.200s', plan '%.100s', since %.40s)",
				     shown ? "; " : "", i, host ? host : "?",
				     (long long)json_integer_value(json_object_get(v, "pid")), dir ? dir : "?",
				     plan ? plan : "?", since ? since : "?");
		} else {
			adp_buf_addf(b, "%sslot %ld held by '%.80s'", shown ? "; " : "", i, kvs[k].value);
		}
		json_decref(v);
		shown++;
	}
	if (held > shown)
		adp_buf_addf(b, "; and %zu more", held - shown);
	if (!held)
		adp_buf_adds(b, "every slot taken just now, none left to name");
}

/* Sleeps up to secs in short slices: non-zero when *stop came first. */
static int pause_s(const struct fleet_semaphore *s, double secs)
{
	double until = mono_s() + secs;

	while (mono_s() < until) {
		if (s->stop && *s->stop)
			return 1;
		nanosleep(&(struct timespec){ 0, 100000000L }, NULL);
	}
	return s->stop && *s->stop;
}

static int acquire(void *ctx, int64_t lease, const char *key, double wait_s, volatile sig_atomic_t *stop,
		   int64_t *lease_out, const char **key_out)
{
	struct fleet_semaphore *s = ctx;
	int by_option = s->wait_max >= 0 && (double)s->wait_max < wait_s;
	double limit = by_option ? (double)s->wait_max : wait_s > 0 ? wait_s : 0, t0 = mono_s(), pause = 0.25;
	char *holder = holder_json(s), shown[1024], waited[32];
	struct etcd_kv *kvs = NULL;
	size_t n = 0;
	int rc = 0, wrap = 1;

	if (!holder)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (s->key[0])
		give_up(s); /* taken again: the old one goes first */
	s->stop = stop;
	if (lease && key && (rc = keep(s, lease, key, holder)) < 0)
		goto fail;
	if (rc == 0) {
		if ((rc = etcd_lease_grant(&s->c, s->ttl, &s->lease, &s->granted)))
			goto fail;
	}
	if ((rc = thread_start(s)))
		goto fail;
	while (!s->key[0]) {
		if ((rc = try_slots(s, holder, &kvs, &n)) <= 0) {
			if (rc)
				goto fail;
			break;
		}
		if (mono_s() - t0 >= limit) {
			struct adp_buf b = ADP_BUF_INIT;

			adp_duration_format(waited, (int64_t)(mono_s() - t0 + 0.5));
			describe(s, &b, kvs, n);
			rc = adp_error_set(ADP_EINPUT,
					   "no fleet slot free in group '%s' (%ld slot%s at etcd '%s') after waiting %s, "
					   "%s: %s: %s",
					   s->group, s->slots, s->slots == 1 ? "" : "s",
					   etcd_endpoint_shown(&s->c, shown, sizeof(shown)), waited,
					   by_option ? "--semaphore-wait's limit"
						     : "as long as the plan's timing allows (a later start would overrun its cutoff)",
					   adp_buf_str(&b),
					   by_option ? "apply again once one frees (at the end of its holder's apply, or "
						       "its lease's TTL after a crash)"
						     : "plan again for a later start");
			adp_buf_release(&b);
			wrap = 0;
			goto fail;
		}
		etcd_kvs_free(kvs, n);
		kvs = NULL;
		pthread_mutex_lock(&s->mu);
		if (s->lost) {
			rc = adp_error_set(ADP_EINPUT, "lost the lease while waiting for a fleet slot: %s", s->why);
			pthread_mutex_unlock(&s->mu);
			goto fail;
		}
		pthread_mutex_unlock(&s->mu);
		if (pause > limit - (mono_s() - t0))
			pause = limit - (mono_s() - t0);
		if (pause_s(s, pause > 0 ? pause : 0)) {
			rc = 1;
			goto fail;
		}
		pause = pause * 2 > FLEET_POLL_MAX ? FLEET_POLL_MAX : pause * 2;
	}
	s->stop = NULL;
	free(holder);
	*lease_out = s->lease;
	*key_out = s->key;
	return 0;
fail:
	if (rc < 0 && s->stop && *s->stop)
		rc = 1; /* a request cancelled by the signal */
	else if (rc < 0 && rc != ADP_ENOMEM && wrap)
		rc = adp_error_wrap(ADP_EINPUT, "cannot take a fleet slot of group '%s' (no data fails closed)",
				    s->group);
	etcd_kvs_free(kvs, n);
	free(holder);
	give_up(s);
	return rc;
}

static int healthy(void *ctx, char *why, size_t len)
{
	struct fleet_semaphore *s = ctx;
	int ok;

	pthread_mutex_lock(&s->mu);
	ok = s->running && !s->lost;
	if (!ok && len)
		snprintf(why, len, "%s", s->lost ? s->why : "no slot is held");
	pthread_mutex_unlock(&s->mu);
	return ok;
}

static void release(void *ctx)
{
	give_up(ctx);
}

/* --- lifecycle ------------------------------------------------------------------ */

static int copy(char **dst, const char *src)
{
	if (src && !(*dst = strdup(src)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}

int fleet_semaphore_new(struct fleet_semaphore **out, const struct fleet_opts *o)
{
	struct fleet_semaphore *s;
	struct etcd_opts eo = { 0 };
	pthread_condattr_t ca;
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
	if ((rc = copy(&s->endpoints, o->endpoints)) || (rc = copy(&s->group, o->group)) ||
	    (rc = copy(&s->ca_file, o->ca_file)) || (rc = copy(&s->cert_file, o->cert_file)) ||
	    (rc = copy(&s->key_file, o->key_file)) || (rc = copy(&s->host, o->host ? o->host : host)) ||
	    (rc = copy(&s->state_dir, o->state_dir)) || (rc = copy(&s->plan, o->plan))) {
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
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
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
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
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
