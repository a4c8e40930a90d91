/* The fleet slot from a FleetLock server (fleetlock.h). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orchestrator/fleet/fleetlock.h"
#include "orchestrator/slots.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/http.h"

#define FL_URL_MAX 2048
#define FL_ID_MAX 4400
#define FL_BODY_MAX 65536 /* an answer is a status and a short error object */

struct fleetlock {
	struct orch_slot slot;       /* what the engine sees; ctx is this */
	char *base, *group, *ca_file, *cert_file, *key_file; /* owned copies; base without the scheme's prefix */
	char id[FL_ID_MAX];          /* host:state directory */
	char shown[FL_URL_MAX];      /* base, redacted, for messages */
	int64_t wait_max;
	struct adp_http http;
	int inited;
	volatile sig_atomic_t *stop; /* during acquire: cancels a request */
	int held;                    /* taken and not given back */
	double checked;              /* when the server last said it is held (monotonic) */
};

int fleetlock_url_is(const char *url)
{
	return url && !strncmp(url, FLEETLOCK_SCHEME, strlen(FLEETLOCK_SCHEME));
}

int fleetlock_url_check(const char *url)
{
	const char *u = fleetlock_url_is(url) ? url + strlen(FLEETLOCK_SCHEME) : "";
	const char *host = !strncmp(u, "https://", 8) ? u + 8 : !strncmp(u, "http://", 7) ? u + 7 : NULL;
	char shown[FL_URL_MAX];
	size_t i;

	for (i = 0; host && u[i]; i++)
		if ((unsigned char)u[i] < 0x21 || u[i] == '?' || u[i] == '#')
			host = NULL;
	if (!host || !*host || *host == '/' || strlen(url) >= FL_URL_MAX - 20)
		return adp_error_set(ADP_EINPUT,
				     "FleetLock server '%s' is not fleetlock+https://HOST[:PORT][/PATH] (or fleetlock+http://)",
				     adp_url_redact(shown, sizeof(shown), url ? url : ""));
	return 0;
}

int fleetlock_group_check(const char *group)
{
	const char *c;

	if (!group || !*group || strlen(group) > FLEETLOCK_GROUP_MAX)
		return adp_error_set(ADP_EINPUT, "a FleetLock group is 1 to %d characters", FLEETLOCK_GROUP_MAX);
	for (c = group; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
		      *c == '-'))
			return adp_error_set(ADP_EINPUT,
					     "FleetLock group '%.128s' may hold only letters, digits, '.' and '-' (the protocol's [a-zA-Z0-9.-]+)",
					     group);
	return 0;
}

static int cancelled(void *arg)
{
	struct fleetlock *f = arg;

	return f->stop && *f->stop;
}

/* One operation (pre-reboot or steady-state): 0 done (200); 1 refused,
 * the server's reason in why; a negative ADP_E* when it could not be
 * asked (the message says why). */
static int op(struct fleetlock *f, const char *what, int retries, char *why, size_t len)
{
	static const char *const headers[] = { "fleet-lock-protocol: true", "Content-Type: application/json", NULL };
	struct adp_buf body = ADP_BUF_INIT;
	struct adp_http_res res = { 0 };
	struct adp_http_req r = { 0 };
	char url[FL_URL_MAX + 32], shown[FL_URL_MAX + 32];
	json_t *req = json_pack("{s:{s:s, s:s}}", "client_params", "id", f->id, "group", f->group), *err;
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	size_t n = strlen(f->base);
	int rc;

	json_decref(req);
	if (!text)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	/* The base may end in '/': one slash before the operation. */
	snprintf(url, sizeof(url), "%.*s/v1/%s", (int)(n && f->base[n - 1] == '/' ? n - 1 : n), f->base, what);
	snprintf(shown, sizeof(shown), "%s/v1/%s", f->shown, what);
	r.method = "POST";
	r.url = url;
	r.shown = shown;
	r.headers = headers;
	r.body = text;
	r.body_len = strlen(text);
	r.max_bytes = FL_BODY_MAX;
	r.retries = retries;
	rc = adp_http_request(&f->http, &r, &body, &res);
	free(text);
	if (rc) {
		adp_buf_release(&body);
		return rc;
	}
	if (res.status == 200) {
		adp_buf_release(&body);
		return 0;
	}
	/* The protocol's error object when there is one, else the status. */
	err = json_loads(adp_buf_str(&body), 0, NULL);
	if (json_is_string(json_object_get(err, "value")))
		snprintf(why, len, "the server refused (HTTP %ld, %.60s): %.300s", res.status,
			 json_is_string(json_object_get(err, "kind")) ? json_string_value(json_object_get(err, "kind"))
								       : "no kind",
			 json_string_value(json_object_get(err, "value")));
	else
		snprintf(why, len, "the server refused (HTTP %ld)", res.status);
	json_decref(err);
	adp_buf_release(&body);
	/* 4xx and 5xx are the protocol's failures; anything else is not a
	 * FleetLock server. */
	if (res.status < 400 || res.status > 599)
		return adp_error_set(ADP_EINPUT, "FleetLock server '%s': HTTP %ld is not the protocol's answer", shown,
				     res.status);
	return 1;
}

/* orch_slot_wait's look: one pre-reboot. */
static int look(void *arg, struct adp_buf *held)
{
	struct fleetlock *f = arg;
	char why[512];
	int rc = op(f, "pre-reboot", 0, why, sizeof(why));

	if (rc == 1 && adp_buf_addf(held, "%s", why))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return rc;
}

static int acquire(void *ctx, int64_t lease, const char *key, double wait_s, volatile sig_atomic_t *stop,
		   int64_t *lease_out, const char **key_out)
{
	struct fleetlock *f = ctx;
	char where[FL_URL_MAX + 40];
	struct orch_slot_wait w = { look, NULL, f, f->group, 0, where, f->wait_max, wait_s, stop };
	int rc, refused = 0;

	(void)lease;
	(void)key; /* the lock is recursive: the same ID takes the journaled slot again */
	f->stop = stop;
	snprintf(where, sizeof(where), "at FleetLock server '%s'", f->shown);
	rc = orch_slot_wait(&w, &refused);
	f->stop = NULL;
	if (rc == 0) {
		f->held = 1;
		f->checked = orch_slot_mono();
		*lease_out = 0;
		*key_out = f->id;
		return 0;
	}
	if (rc < 0 && stop && *stop)
		return 1; /* a request cancelled by the signal */
	if (rc < 0 && rc != ADP_ENOMEM && !refused)
		rc = adp_error_wrap(ADP_EINPUT, "cannot take a fleet slot of group '%s' (no data fails closed)", f->group);
	return rc;
}

/* Asked again (the lock is recursive) at most every FLEETLOCK_RECHECK
 * seconds: only the server's refusal loses the slot. */
static int healthy(void *ctx, char *why, size_t len)
{
	struct fleetlock *f = ctx;
	char reason[512];
	int rc;

	if (!f->held) {
		snprintf(why, len, "no slot is held");
		return 0;
	}
	if (orch_slot_mono() - f->checked < FLEETLOCK_RECHECK)
		return 1;
	rc = op(f, "pre-reboot", 2, reason, sizeof(reason));
	if (rc == 1) {
		f->held = 0;
		snprintf(why, len, "%s", reason);
		return 0;
	}
	if (rc == 0)
		f->checked = orch_slot_mono();
	return 1; /* unreachable: nobody else can be given our slot */
}

static void release(void *ctx)
{
	struct fleetlock *f = ctx;
	char why[512];

	if (!f->held)
		return;
	/* Retried: a slot not given back stays held until this host and
	 * state directory apply again. */
	op(f, "steady-state", 3, why, sizeof(why));
	f->held = 0;
}

int fleetlock_new(struct fleetlock **out, const struct fleetlock_opts *o)
{
	struct adp_http_opts ho = { 0 };
	struct fleetlock *f;
	char host[256];
	int rc;

	if ((rc = fleetlock_url_check(o->url)) || (rc = fleetlock_group_check(o->group)))
		return rc;
	if (!(f = calloc(1, sizeof(*f))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (o->host)
		snprintf(host, sizeof(host), "%s", o->host);
	else if (gethostname(host, sizeof(host)))
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	snprintf(f->id, sizeof(f->id), "%s:%s", host, o->state_dir ? o->state_dir : "");
	if ((rc = adp_strdup_opt(&f->base, o->url + strlen(FLEETLOCK_SCHEME))) || (rc = adp_strdup_opt(&f->group, o->group)) ||
	    (rc = adp_strdup_opt(&f->ca_file, o->ca_file)) || (rc = adp_strdup_opt(&f->cert_file, o->cert_file)) ||
	    (rc = adp_strdup_opt(&f->key_file, o->key_file))) {
		fleetlock_free(f);
		return rc;
	}
	adp_url_redact(f->shown, sizeof(f->shown), f->base);
	f->wait_max = o->wait_max;
	ho.what = "FleetLock server";
	ho.timeout = 10;
	ho.ca_file = f->ca_file;
	ho.cert_file = f->cert_file;
	ho.key_file = f->key_file;
	ho.cancelled = cancelled;
	ho.cancel_arg = f;
	adp_http_global_init();
	if ((rc = adp_http_init(&f->http, &ho))) {
		fleetlock_free(f);
		return rc;
	}
	f->inited = 1;
	f->slot = (struct orch_slot){ .ctx = f, .group = f->group, .acquire = acquire, .healthy = healthy,
				      .release = release };
	*out = f;
	return 0;
}

const struct orch_slot *fleetlock_slot(struct fleetlock *f)
{
	return &f->slot;
}

void fleetlock_free(struct fleetlock *f)
{
	if (!f)
		return;
	if (f->inited) {
		release(f);
		adp_http_release(&f->http);
	}
	free(f->base);
	free(f->group);
	free(f->ca_file);
	free(f->cert_file);
	free(f->key_file);
	free(f);
}
