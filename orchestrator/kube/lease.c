/* The fleet semaphore on Kubernetes Leases (lease.h), over the driver's
 * client (client.h) and what the semaphores share (orchestrator/slots.h). */
#include "orchestrator/kube/lease.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "orchestrator/slots.h"
#include "util/buf.h"
#include "util/error.h"

#define LEASES "/apis/coordination.k8s.io/v1/namespaces/%s/leases"
#define PATH_MAX_LEN 512
#define NS_MAX 63

struct kube_lease_sem {
	struct orch_slot slot;       /* what the engine sees; ctx is this */
	char *ns, *group, *host, *state_dir, *plan, *identity; /* owned copies */
	long slots, ttl;
	int64_t wait_max;
	struct kube_client c;        /* the engine's thread */
	struct kube_client ka;       /* the keepalive thread's */
	int clients;                 /* c, ka and alive are initialised */
	volatile sig_atomic_t *stop; /* during acquire: cancels a request or a pause */
	char name[KUBE_LEASE_NAME_MAX + 1]; /* the Lease held, "" when none */
	json_t *obj;                 /* owned: the Lease as last written, its resourceVersion current */
	int64_t marker;              /* its acquireTime, microseconds: the journal's lease */
	const char *holder;          /* during acquire: the holder annotation (borrowed) */
	struct orch_keepalive alive; /* renews renewTime from the take */
};

/* --- names and times -------------------------------------------------------- */

static int lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int kube_lease_url_is(const char *url)
{
	return url && !strncmp(url, KUBE_LEASE_SCHEME, strlen(KUBE_LEASE_SCHEME));
}

int kube_lease_url_ns(const char *url, const char **ns)
{
	const char *n = url + strlen(KUBE_LEASE_SCHEME), *c;
	size_t len = strlen(n);

	if (!kube_lease_url_is(url))
		return adp_error_set(ADP_EINPUT, "'%.200s' is not kubernetes://NAMESPACE", url);
	if (!len)
		return adp_error_set(ADP_EINPUT, "'%.200s' names no namespace: expected kubernetes://NAMESPACE", url);
	for (c = n; *c; c++)
		if (!lower_alnum(*c) && *c != '-')
			break;
	if (*c || len > NS_MAX || !lower_alnum(n[0]) || !lower_alnum(n[len - 1]))
		return adp_error_set(ADP_EINPUT,
				     "namespace '%.100s' of '%.200s' is not a namespace name (lower-case letters, digits "
				     "and '-', at most %d, starting and ending with a letter or digit)",
				     n, url, NS_MAX);
	*ns = n;
	return 0;
}

/* Whether s is a DNS-1123 subdomain. */
static int dns_subdomain(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || n > KUBE_LEASE_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.' || c == '-') {
			/* a part starts and ends with a letter or digit */
			if (!i || i + 1 == n || (c == '.' && (!lower_alnum(s[i - 1]) || !lower_alnum(s[i + 1]))))
				return 0;
		} else if (!lower_alnum(c)) {
			return 0;
		}
	}
	return 1;
}

int kube_lease_name(char *out, size_t len, const char *group, long slot)
{
	char name[KUBE_LEASE_NAME_MAX + 64];
	int w = snprintf(name, sizeof(name), KUBE_LEASE_PREFIX "%s-%ld", group ? group : "", slot);

	if (!group || !*group)
		return adp_error_set(ADP_EINPUT, "a fleet slot group needs a name");
	if (w < 0 || (size_t)w >= sizeof(name) || !dns_subdomain(name))
		return adp_error_set(ADP_EINPUT,
				     "fleet slot group '%.128s' cannot name a Kubernetes Lease: '%.260s' is not a DNS-1123 "
				     "subdomain (lower-case letters, digits, '-' and '.', at most %d characters, each "
				     "dot-separated part starting and ending with a letter or digit)",
				     group, name, KUBE_LEASE_NAME_MAX);
	if ((size_t)w >= len)
		return adp_error_set(ADP_ENOMEM, "Lease name '%.80s...' too long", name);
	memcpy(out, name, (size_t)w + 1);
	return 0;
}

int kube_lease_group_check(const char *group, long slots)
{
	char name[KUBE_LEASE_NAME_MAX + 1];

	/* the last slot's name is the longest */
	return kube_lease_name(name, sizeof(name), group, slots > 1 ? slots - 1 : 0);
}

long kube_lease_index(const char *name, const char *group)
{
	size_t p = strlen(KUBE_LEASE_PREFIX), g = strlen(group);
	const char *d;
	char *end;
	long i;

	if (strncmp(name, KUBE_LEASE_PREFIX, p) || strncmp(name + p, group, g) || name[p + g] != '-')
		return -1;
	d = name + p + g + 1;
	if (*d < '0' || *d > '9' || (*d == '0' && d[1]))
		return -1;
	errno = 0;
	i = strtol(d, &end, 10);
	return *end || errno ? -1 : i;
}

void kube_microtime_format(char out[32], int64_t us)
{
	time_t t = (time_t)(us / 1000000);
	long frac = (long)(us % 1000000);
	struct tm tm;

	if (frac < 0) {
		frac += 1000000;
		t--;
	}
	gmtime_r(&t, &tm);
	if (!strftime(out, 20, "%Y-%m-%dT%H:%M:%S", &tm))
		out[0] = '\0';
	snprintf(out + strlen(out), 12, ".%06ldZ", frac);
}

/* n digits of s as a number, or -1. */
static int digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int kube_microtime_parse(const char *s, int64_t *us)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, place = 100000;
	int64_t frac = 0, off = 0;
	time_t t;

	if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
	    s[16] != ':')
		return -1;
	y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
	h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    sec < 0 || sec > 60)
		return -1;
	s += 19;
	if (*s == '.') {
		if (s[1] < '0' || s[1] > '9')
			return -1;
		for (s++; *s >= '0' && *s <= '9'; s++, place /= 10)
			if (place)
				frac += (*s - '0') * place;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if ((*s == '+' || *s == '-') && s[3] == ':') {
		int oh = digits(s + 1, 2), om = digits(s + 4, 2);

		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return -1;
		off = (int64_t)(oh * 3600 + om * 60) * (*s == '+' ? 1 : -1);
		s += 6;
	} else {
		return -1;
	}
	if (*s)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*us = ((int64_t)t - off) * 1000000 + frac;
	return 0;
}

int kube_lease_is_free(json_t *spec, int64_t now_us)
{
	const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
	const char *renew = json_string_value(json_object_get(spec, "renewTime"));
	json_t *dur = json_object_get(spec, "leaseDurationSeconds");
	int64_t at;

	if (!holder || !*holder)
		return 1;
	if (!renew)
		renew = json_string_value(json_object_get(spec, "acquireTime"));
	if (!renew || kube_microtime_parse(renew, &at))
		return 1;
	return at + (json_is_integer(dur) ? (int64_t)json_integer_value(dur) : 0) * 1000000 < now_us;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --- requests ---------------------------------------------------------------- */

static void lease_path(char *out, const struct kube_lease_sem *s, const char *name)
{
	int w = snprintf(out, PATH_MAX_LEN, LEASES "%s%s", s->ns, name ? "/" : "", name ? name : "");

	if (w < 0 || w >= PATH_MAX_LEN) /* a namespace is at most 63, a name at most 253 */
		out[0] = '\0';
}

/* An answer that is no success: ADP_ESYS naming the request and the
 * Status message, with what the service account needs after a 403. */
static int refused(struct kube_client *k, const char *method, const char *path, long st)
{
	return adp_error_set(ADP_ESYS, "kubernetes %s '%s': HTTP %ld%s%s%s", method, path, st, k->last_error[0] ? ": " : "",
			     k->last_error,
			     st == 403 ? " (the service account needs get, create, update and delete on leases in API "
					 "group coordination.k8s.io: see deploy/kubernetes/clusterrole.yaml)"
				       : "");
}

static const char *holder_of(json_t *lease)
{
	return json_string_value(json_object_get(json_object_get(lease, "spec"), "holderIdentity"));
}

/* Who holds lease, as a refusal names it: the annotation, else the
 * holderIdentity (borrowed from lease). */
static const char *holder_text(json_t *lease)
{
	const char *a = json_string_value(
		json_object_get(json_object_get(json_object_get(lease, "metadata"), "annotations"), KUBE_LEASE_HOLDER_ANNOTATION));

	return a ? a : holder_of(lease) ? holder_of(lease) : "?";
}

/* The Lease to write for slot name: a new one (old NULL), or old taken
 * over or renewed by us (its resourceVersion kept as the precondition;
 * acquireTime and leaseTransitions kept when it was ours already). */
static json_t *lease_body(const struct kube_lease_sem *s, const char *name, json_t *old)
{
	json_t *o = old ? json_deep_copy(old) : json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion",
							   "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
							   name, "namespace", s->ns);
	json_t *md = json_object_get(o, "metadata"), *spec, *ann;
	const char *prev = holder_of(old);
	int ours = prev && !strcmp(prev, s->identity);
	json_int_t transitions = json_integer_value(json_object_get(json_object_get(old, "spec"), "leaseTransitions"));
	char now[32];
	int bad = !o || !json_is_object(md);

	kube_microtime_format(now, now_us());
	if (!bad) {
		json_object_set_new(o, "apiVersion", json_string("coordination.k8s.io/v1"));
		json_object_set_new(o, "kind", json_string("Lease"));
		if (!json_is_object(json_object_get(o, "spec")))
			json_object_set_new(o, "spec", json_object());
		if (!json_is_object(json_object_get(md, "annotations")))
			json_object_set_new(md, "annotations", json_object());
		spec = json_object_get(o, "spec");
		ann = json_object_get(md, "annotations");
		bad = !spec || !ann || json_object_set_new(ann, KUBE_LEASE_HOLDER_ANNOTATION, json_string(s->holder)) ||
		      json_object_set_new(spec, "holderIdentity", json_string(s->identity)) ||
		      json_object_set_new(spec, "leaseDurationSeconds", json_integer(s->ttl)) ||
		      json_object_set_new(spec, "renewTime", json_string(now)) ||
		      (!(ours && json_is_string(json_object_get(spec, "acquireTime"))) &&
		       json_object_set_new(spec, "acquireTime", json_string(now))) ||
		      json_object_set_new(spec, "leaseTransitions",
					  json_integer(old && !ours ? transitions + 1 : transitions));
	}
	if (bad) {
		json_decref(o);
		return NULL;
	}
	/* the server keeps these; the precondition is resourceVersion alone */
	json_object_del(md, "managedFields");
	return o;
}

/* The Lease just written, as the server answered it, becomes ours. */
static int hold(struct kube_lease_sem *s, const char *name, json_t *written)
{
	const char *at = json_string_value(json_object_get(json_object_get(written, "spec"), "acquireTime"));
	int64_t us = 0;

	if (!json_is_string(json_object_get(json_object_get(written, "metadata"), "resourceVersion")) || !at ||
	    kube_microtime_parse(at, &us) || !us) {
		json_decref(written);
		return adp_error_set(ADP_ESYS, "kubernetes Lease '%s/%s': the answer has no resourceVersion or acquireTime",
				     s->ns, name);
	}
	json_decref(s->obj);
	s->obj = written;
	s->marker = us;
	snprintf(s->name, sizeof(s->name), "%s", name);
	return 0;
}

/* The answer to a create or an update: ok, the Lease is ours (*out
 * taken); 409, another won (1); else the refusal. */
static int answer(struct kube_lease_sem *s, const char *name, const char *method, const char *path, long st, long ok,
		  json_t **out)
{
	json_t *o = *out;

	if (st != ok)
		return st == 409 ? 1 : refused(&s->c, method, path, st);
	*out = NULL;
	return hold(s, name, o);
}

/* Tries slot i: 0 when it was taken (s->name set); 1 when another holds
 * it (added to held as [i, who] when it could be read); a negative
 * ADP_E* when the server could not be asked. */
static int try_slot(struct kube_lease_sem *s, long i, json_t *held)
{
	char name[KUBE_LEASE_NAME_MAX + 1], path[PATH_MAX_LEN], coll[PATH_MAX_LEN];
	json_t *cur = NULL, *body = NULL, *out = NULL;
	long st;
	int rc;

	if ((rc = kube_lease_name(name, sizeof(name), s->group, i)))
		return rc;
	lease_path(path, s, name);
	lease_path(coll, s, NULL);
	if ((rc = kube_request(&s->c, "GET", path, NULL, NULL, &st, &cur)))
		return rc;
	if (st == 404) {
		/* 409 AlreadyExists: another created it first */
		if (!(body = lease_body(s, name, NULL)))
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
		else if (!(rc = kube_request(&s->c, "POST", coll, NULL, body, &st, &out)))
			rc = answer(s, name, "POST", coll, st, 201, &out);
	} else if (st == 200 && json_is_object(cur)) {
		const char *who = holder_of(cur);

		if (!kube_lease_is_free(json_object_get(cur, "spec"), now_us()) && !(who && !strcmp(who, s->identity))) {
			json_t *e = json_pack("[I, s]", (json_int_t)i, holder_text(cur));

			rc = !e || json_array_append_new(held, e) ? adp_error_set(ADP_ENOMEM, "out of memory") : 1;
		} else if (!(body = lease_body(s, name, cur))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
		} else if (!(rc = kube_request(&s->c, "PUT", path, NULL, body, &st, &out))) {
			/* 409 Conflict: another wrote it since the read */
			rc = answer(s, name, "PUT", path, st, 200, &out);
		}
	} else {
		rc = refused(&s->c, "GET", path, st);
	}
	json_decref(out);
	json_decref(body);
	json_decref(cur);
	return rc;
}

/* One look (orch_slot_wait's): every slot in turn until one is taken. */
static int try_slots(void *arg, struct adp_buf *b)
{
	struct kube_lease_sem *s = arg;
	json_t *held = json_array(), *e;
	struct orch_slot_holder *h;
	size_t k;
	long i;
	int rc = 1;

	if (!held)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (i = 0; i < s->slots && rc == 1; i++)
		rc = try_slot(s, i, held);
	if (rc == 1 && !(h = calloc(json_array_size(held) + 1, sizeof(*h)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
	} else if (rc == 1) {
		json_array_foreach(held, k, e)
			h[k] = (struct orch_slot_holder){ (long)json_integer_value(json_array_get(e, 0)),
							  json_string_value(json_array_get(e, 1)) };
		orch_slot_describe(b, h, json_array_size(held));
		free(h);
	}
	json_decref(held);
	return rc;
}

/* --- the keepalive thread ------------------------------------------------ */

static int ka_cancelled(void *arg)
{
	struct kube_lease_sem *s = arg;

	return orch_keepalive_quitting(&s->alive);
}

static int main_cancelled(void *arg)
{
	struct kube_lease_sem *s = arg;

	return s->stop && *s->stop;
}

/* A renewal: renewTime now, under the resourceVersion last written. A
 * Lease changed by another writer (409), deleted (404) or held by
 * another is lost at once; other failures are retried (slots.h). */
static int renew(void *arg, char *why, size_t len)
{
	struct kube_lease_sem *s = arg;
	json_t *body = json_deep_copy(s->obj), *out = NULL;
	char path[PATH_MAX_LEN], now[32];
	const char *who;
	long st;
	int rc;

	kube_microtime_format(now, now_us());
	if (!body || json_object_set_new(json_object_get(body, "spec"), "renewTime", json_string(now))) {
		json_decref(body);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	lease_path(path, s, s->name);
	rc = kube_request(&s->ka, "PUT", path, NULL, body, &st, &out);
	json_decref(body);
	if (rc)
		return rc;
	who = holder_of(out);
	if (st == 200 && who && !strcmp(who, s->identity)) {
		json_decref(s->obj);
		s->obj = out;
		return 0;
	}
	if (st == 409)
		snprintf(why, len, "its Lease '%s/%s' was changed by another writer (409 Conflict): it may have expired "
			 "and been taken", s->ns, s->name);
	else if (st == 404)
		snprintf(why, len, "its Lease '%s/%s' was deleted", s->ns, s->name);
	else if (st == 200)
		snprintf(why, len, "its Lease '%s/%s' is held by '%.200s' now", s->ns, s->name, who ? who : "");
	else
		rc = refused(&s->ka, "PUT", path, st);
	json_decref(out);
	return rc ? rc : 1;
}

/* Stops the thread and deletes the Lease under the resourceVersion last
 * written (refused: it expires), keeping the last error. */
static void give_up(struct kube_lease_sem *s)
{
	struct adp_error_state st;
	const char *rv = json_string_value(json_object_get(json_object_get(s->obj, "metadata"), "resourceVersion"));
	char path[PATH_MAX_LEN];
	json_t *opts, *out = NULL;
	long code;

	adp_error_save(&st, 0);
	orch_keepalive_stop(&s->alive);
	s->stop = NULL; /* a delete is never cancelled: the slot frees now rather than at its TTL */
	if (s->name[0] && rv &&
	    (opts = json_pack("{s:s, s:s, s:{s:s}}", "kind", "DeleteOptions", "apiVersion", "v1", "preconditions",
			      "resourceVersion", rv))) {
		lease_path(path, s, s->name);
		kube_request(&s->c, "DELETE", path, NULL, opts, &code, &out);
		json_decref(out);
		json_decref(opts);
	}
	json_decref(s->obj);
	s->obj = NULL;
	s->name[0] = '\0';
	s->marker = 0;
	adp_error_restore(&st);
}

/* --- the engine's slot ---------------------------------------------------------- */

static int acquire(void *ctx, int64_t lease, const char *key, double wait_s, volatile sig_atomic_t *stop,
		   int64_t *lease_out, const char **key_out)
{
	struct kube_lease_sem *s = ctx;
	char *holder = orch_slot_holder_json(s->host, s->state_dir, s->plan), where[160];
	struct orch_slot_wait w = { try_slots, NULL, s, s->group, s->slots, where, s->wait_max, wait_s, stop };
	json_t *ignored = json_array();
	long i;
	int rc = 0, refusal = 0;

	(void)lease; /* the Lease's holderIdentity says whether it is ours */
	if (!holder || !ignored) {
		free(holder);
		json_decref(ignored);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	if (s->name[0])
		give_up(s); /* taken again: the old one goes first */
	s->stop = stop;
	s->holder = holder;
	snprintf(where, sizeof(where), "as Leases in namespace '%s'", s->ns);
	/* The journaled slot first: a --resume keeps its own Lease. */
	if (key && (i = kube_lease_index(key, s->group)) >= 0 && i < s->slots && (rc = try_slot(s, i, ignored)) < 0)
		goto fail;
	if (!s->name[0] && (rc = orch_slot_wait(&w, &refusal)))
		goto fail;
	snprintf(s->alive.what, sizeof(s->alive.what), "its Lease '%.63s/%.253s'", s->ns, s->name);
	s->alive.period = (double)s->ttl / 3.0;
	if ((rc = orch_keepalive_start(&s->alive)))
		goto fail;
	s->stop = NULL;
	s->holder = NULL;
	free(holder);
	json_decref(ignored);
	*lease_out = s->marker;
	*key_out = s->name;
	return 0;
fail:
	if (rc < 0 && s->stop && *s->stop)
		rc = 1; /* a request cancelled by the signal */
	else if (rc < 0 && rc != ADP_ENOMEM && !refusal)
		rc = adp_error_wrap(ADP_EINPUT, "cannot take a fleet slot of group '%s' (no data fails closed)", s->group);
	s->holder = NULL;
	free(holder);
	json_decref(ignored);
	give_up(s);
	return rc;
}

static int healthy(void *ctx, char *why, size_t len)
{
	struct kube_lease_sem *s = ctx;

	return orch_keepalive_healthy(&s->alive, why, len);
}

static void release(void *ctx)
{
	give_up(ctx);
}

/* --- lifecycle ------------------------------------------------------------------ */

/* A client on a copy of cfg, capped for Leases. */
static int client(struct kube_client *k, const struct kube_config *cfg, long timeout,
		  int (*cancelled)(void *), void *arg)
{
	struct kube_config c;
	int rc;

	if ((rc = kube_config_copy(&c, cfg)))
		return rc;
	if ((rc = kube_client_init(k, &c))) {
		kube_config_release(&c);
		return rc;
	}
	k->timeout = timeout;
	k->max_bytes = KUBE_LEASE_MAX_RESPONSE;
	k->cancelled = cancelled;
	k->cancel_arg = arg;
	return 0;
}

int kube_lease_sem_new(struct kube_lease_sem **out, const struct kube_config *cfg, const struct kube_lease_opts *o)
{
	struct kube_lease_sem *s;
	char host[256], name[KUBE_LEASE_NAME_MAX + 1];
	long slots = o->slots ? o->slots : 1, ttl = o->ttl ? o->ttl : ORCH_SLOT_TTL_DEFAULT;
	const char *ns;
	char url[128];
	int rc;

	if (!cfg)
		return adp_error_set(ADP_EINPUT, "a fleet slot on Kubernetes Leases needs the kubernetes driver's connection");
	snprintf(url, sizeof(url), KUBE_LEASE_SCHEME "%.100s", o->ns ? o->ns : "");
	if ((rc = kube_lease_url_ns(url, &ns)))
		return rc;
	if (slots < 1 || slots > ORCH_SLOTS_MAX)
		return adp_error_set(ADP_EINPUT, "fleet slots %ld: expected 1 to %d", o->slots, ORCH_SLOTS_MAX);
	if (ttl < ORCH_SLOT_TTL_MIN || ttl > ORCH_SLOT_TTL_MAX)
		return adp_error_set(ADP_EINPUT, "fleet slot TTL %ld s: expected %d s to %d s", o->ttl, ORCH_SLOT_TTL_MIN,
				     ORCH_SLOT_TTL_MAX);
	if ((rc = kube_lease_name(name, sizeof(name), o->group, slots - 1)))
		return rc;
	if (!(s = calloc(1, sizeof(*s))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (!o->host) {
		if (gethostname(host, sizeof(host)))
			snprintf(host, sizeof(host), "unknown");
		host[sizeof(host) - 1] = '\0';
	}
	if ((rc = adp_strdup_opt(&s->ns, o->ns)) || (rc = adp_strdup_opt(&s->group, o->group)) ||
	    (rc = adp_strdup_opt(&s->host, o->host ? o->host : host)) || (rc = adp_strdup_opt(&s->state_dir, o->state_dir)) ||
	    (rc = adp_strdup_opt(&s->plan, o->plan))) {
		kube_lease_sem_free(s);
		return rc;
	}
	/* Stable across runs on this host and state directory: a --resume
	 * recognises its own Lease. */
	if (asprintf(&s->identity, "%s:%s", s->host, s->state_dir ? s->state_dir : "") < 0) {
		s->identity = NULL;
		kube_lease_sem_free(s);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	s->slots = slots;
	s->ttl = ttl;
	s->wait_max = o->wait_max;
	/* A request ends well within the TTL; a renewal within a third of it. */
	if ((rc = client(&s->c, cfg, ttl < KUBE_DEFAULT_TIMEOUT ? ttl : KUBE_DEFAULT_TIMEOUT, main_cancelled, s))) {
		kube_lease_sem_free(s);
		return rc;
	}
	if ((rc = client(&s->ka, cfg, ttl / 3, ka_cancelled, s))) {
		kube_client_release(&s->c);
		kube_lease_sem_free(s);
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

const struct orch_slot *kube_lease_sem_slot(struct kube_lease_sem *s)
{
	return &s->slot;
}

void kube_lease_sem_free(struct kube_lease_sem *s)
{
	if (!s)
		return;
	if (s->clients) {
		give_up(s);
		orch_keepalive_release(&s->alive);
		kube_client_release(&s->c);
		kube_client_release(&s->ka);
	}
	free(s->ns);
	free(s->group);
	free(s->host);
	free(s->state_dir);
	free(s->plan);
	free(s->identity);
	free(s);
}
