/* The local driver's health checks: an HTTP GET expecting a status, or a
 * command expecting exit 0, retried at an interval; each try and each
 * pause between tries returns early when the act is cancelled. Also
 * verify_shadow, which adds the shadow's limits, HAProxy's view and the
 * canary's verdict to its health. */
#include <stdio.h>
#include <string.h>

#include "orchestrator/local/local_int.h"
#include "util/error.h"
#include "util/http.h"

/* How a check runs: the section's values, or their defaults. */
struct health_try {
	long expect, retries, timeout, interval_ms;
};

static int cancelled(void *l)
{
	return local_cancelled(l);
}

static int http_check(const struct orch_local *l, const struct inv_component *c, const char *part, size_t replica,
		      const struct health_try *h, char *msg, size_t len)
{
	const char *url = json_string_value(json_object_get(c->health, "http"));
	/* Instances are checked where they run: never through a proxy from
	 * the environment, and never more than a small answer. */
	struct adp_http_opts ho = { .what = "health check", .timeout = h->timeout, .direct = 1,
				    .cancelled = cancelled, .cancel_arg = (void *)l };
	struct adp_http_req req = { .max_bytes = (size_t)1 << 20 };
	struct adp_http_res res = { 0 };
	struct adp_http http = { 0 };
	char buf[LOCAL_MAX_ARG_LEN], shown[LOCAL_MAX_ARG_LEN], why[ADP_ERROR_MAX + 32] = "";
	long i;
	int rc;

	if ((rc = local_expand(buf, sizeof(buf), url, c, part, replica)))
		return rc;
	adp_url_redact(shown, sizeof(shown), buf);
	if ((rc = adp_http_init(&http, &ho)))
		return rc;
	req.url = buf;
	for (i = 0; i < h->retries; i++) {
		res.status = 0;
		if (adp_http_request(&http, &req, NULL, &res))
			snprintf(why, sizeof(why), "%.2000s", adp_error_last());
		else if (res.status == h->expect) {
			snprintf(msg, len, "%.1000s answered %ld", shown, res.status);
			adp_http_release(&http);
			return 0;
		} else
			snprintf(why, sizeof(why), "%.1000s answered %ld", shown, res.status);
		if (res.fail == ADP_HTTP_REFUSED || res.fail == ADP_HTTP_CANCELLED ||
		    (i + 1 < h->retries && local_nap(l, h->interval_ms)))
			break;
	}
	adp_http_release(&http);
	return adp_error_set(ADP_ESYS, "health check of '%s' on '%s' failed: %s", c->name, part, why);
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
		rc = orch_local_cg_check(t.l, t.shadow, t.inst, t.x->alloc, t.x->reserve, t.c, s->replica, lim,
					 sizeof(lim));
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
