/* The local driver's health checks: an HTTP GET expecting a status, or a
 * command expecting exit 0, retried at an interval; each try and each
 * pause between tries returns early when the act is cancelled. Also
 * verify_shadow, which adds the shadow's limits, HAProxy's view and the
 * canary's verdict to its health. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "orchestrator/local/local_int.h"
#include "util/error.h"

/* How a check runs: the section's values, or their defaults. */
struct health_try {
	long expect, retries, timeout, interval_ms;
};

static size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

static int abort_if_cancelled(void *u, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return local_cancelled(u);
}

static int http_check(const struct orch_local *l, const struct inv_component *c, const char *part, size_t replica,
		      const struct health_try *h, char *msg, size_t len)
{
	const char *url = json_string_value(json_object_get(c->health, "http"));
	char buf[LOCAL_MAX_ARG_LEN];
	CURLcode cr = CURLE_OK;
	long code = 0, i;
	int rc;

	if ((rc = local_expand(buf, sizeof(buf), url, c, part, replica)))
		return rc;
	for (i = 0; i < h->retries; i++) {
		CURL *cu = curl_easy_init();

		if (!cu)
			return adp_error_set(ADP_ENOMEM, "cannot initialise libcurl");
		curl_easy_setopt(cu, CURLOPT_URL, buf);
		curl_easy_setopt(cu, CURLOPT_TIMEOUT, h->timeout);
		curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(cu, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(cu, CURLOPT_XFERINFOFUNCTION, abort_if_cancelled);
		curl_easy_setopt(cu, CURLOPT_XFERINFODATA, (void *)l);
		cr = curl_easy_perform(cu);
		code = 0;
		if (cr == CURLE_OK)
			curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_cleanup(cu);
		if (code == h->expect) {
			snprintf(msg, len, "%s answered %ld", buf, code);
			return 0;
		}
		if (i + 1 < h->retries && local_nap(l, h->interval_ms))
			break;
	}
	return adp_error_set(ADP_ESYS, "health check of '%s' on '%s' failed: %s %s", c->name, part, buf,
			     cr != CURLE_OK ? curl_easy_strerror(cr) : "answered another status");
}

static int command_check(const struct orch_local *l, const struct inv_component *c, const char *part,
			 size_t replica, const struct health_try *h, char *msg, size_t len)
{
	struct local_argv a;
	char log[1024];
	int st = -1, rc;
	long i;

	if ((rc = local_argv_from(&a, json_object_get(c->health, "command"), c, part, replica)))
		return rc;
	snprintf(log, sizeof(log), "%s/logs/health-%s.%zu@%s.log", l->state_dir, c->name, replica, part);
	for (i = 0; i < h->retries; i++) {
		if ((rc = local_run_cmd(l, a.v, log, part, h->timeout, &st)) || st == 0)
			break;
		if (i + 1 < h->retries && local_nap(l, h->interval_ms))
			break;
	}
	local_argv_release(&a);
	if (rc)
		return rc;
	if (st)
		return adp_error_set(ADP_ESYS, "health check of '%s' on '%s' failed: command exited %d", c->name, part,
				     st);
	snprintf(msg, len, "health command passed");
	return 0;
}

int local_health_run(const struct orch_local *l, const struct inv_component *c, const char *part, size_t replica,
		     int quick, char *msg, size_t len)
{
	struct health_try h = { 200, 10, 5, 500 };
	json_t *v;

	if (!c->health) {
		snprintf(msg, len, "no health check configured");
		return 0;
	}
	if (json_is_integer(v = json_object_get(c->health, "expect_status")))
		h.expect = (long)json_integer_value(v);
	if (json_is_integer(v = json_object_get(c->health, "retries")))
		h.retries = (long)json_integer_value(v);
	if (json_is_number(v = json_object_get(c->health, "timeout")))
		h.timeout = (long)json_number_value(v);
	if (json_is_number(v = json_object_get(c->health, "interval")))
		h.interval_ms = (long)(json_number_value(v) * 1000);
	if (quick) {
		h.retries = h.retries < 2 ? h.retries : 2;
		h.timeout = h.timeout < 2 ? h.timeout : 2;
		h.interval_ms = h.interval_ms < 200 ? h.interval_ms : 200;
	}
	/* Exactly one of http and command: orch_local_config_check saw to it. */
	if (json_object_get(c->health, "http"))
		return http_check(l, c, part, replica, &h, msg, len);
	return command_check(l, c, part, replica, &h, msg, len);
}

/* ---- the ops ---- */

/* The health of the replica on the shadow (health_check), on its home
 * (health_check_original) or, absorbed, on its own partition. */
static int health_at(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len, int need,
		     int on_shadow)
{
	struct local_step t;
	int rc = local_step_begin(&t, ctx, p, s, need);

	return rc ? rc : local_health_run(t.l, t.c, on_shadow ? t.shadow : t.home, s->replica, 0, msg, len);
}

int local_op_health_check(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	return health_at(ctx, p, s, msg, len, LOCAL_NEED_MOVED, 1);
}

int local_op_health_check_original(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	return health_at(ctx, p, s, msg, len, LOCAL_NEED_MOVED, 0);
}

int local_op_health_check_absorbed(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	return health_at(ctx, p, s, msg, len, LOCAL_NEED_ABSORBED, 0);
}

/* verify_shadow: the shadow's cgroup has the planned limits, it is
 * healthy and, with a traffic section, HAProxy sees its server UP and
 * the canary's counters pass. */
int local_op_verify_shadow(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct local_step t;
	char st[64] = "", lim[256], verdict[256];
	int rc = local_step_begin(&t, ctx, p, s, LOCAL_NEED_MOVED);

	if (!rc)
		rc = orch_local_cg_check(t.l, t.shadow, t.inst, t.x->alloc, t.c, s->replica, lim, sizeof(lim));
	if (!rc)
		rc = local_health_run(t.l, t.c, t.shadow, s->replica, 0, msg, len);
	if (rc || !t.c->traffic)
		return rc;
	if ((rc = local_server_status(t.c, t.shadow, st, sizeof(st))))
		return rc;
	if (strncmp(st, "UP", 2) && strcmp(st, "no check"))
		return adp_error_set(ADP_ESYS, "haproxy reports the shadow of '%s' on '%s' as %s", t.c->name, t.shadow,
				     st);
	if ((rc = local_canary_verdict(t.l, t.c, t.shadow, verdict, sizeof(verdict))))
		return rc;
	snprintf(msg, len, "shadow healthy, haproxy status %s; %s", st, verdict);
	return 0;
}
