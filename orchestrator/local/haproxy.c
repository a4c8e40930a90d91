/* The local driver's traffic: HAProxy's runtime API on its UNIX socket
 * (a server per instance, named by the prefix and the partition), each
 * server's prior state and weight saved before apply first changes it
 * and put back on the way back, and the canary judged on HAProxy's own
 * counters. Waits (a drain, the canary's watch) return when the act is
 * cancelled. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

#include "orchestrator/local/local_int.h"
#include "util/error.h"
#include "util/fsutil.h"

#define MAX_REPLY ((size_t)1 << 20)
#define HAPROXY_TIMEOUT_MS 10000L /* the runtime API answers in milliseconds */
#define CANARY_WEIGHT "10"

int orch_haproxy_cmd(const char *path, const char *cmd, char **reply)
{
	return orch_haproxy_cmd_within(path, cmd, reply, HAPROXY_TIMEOUT_MS);
}

int orch_haproxy_cmd_within(const char *path, const char *cmd, char **reply, long timeout_ms)
{
	struct sockaddr_un sa = { 0 };
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct timespec t0, t;
	char *buf = NULL;
	size_t n = 0, cap = 0, len = strlen(cmd);
	int fd, rc = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return adp_error_set(ADP_EINPUT, "haproxy socket path '%s' is too long", path);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return adp_error_set(ADP_ESYS, "socket: %s", strerror(errno));
	/* A hung HAProxy must not hold apply: every send and read, and the
	 * exchange as a whole, end within the timeout. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv))) {
		rc = adp_error_set(ADP_ESYS, "socket options: %s", strerror(errno));
		goto done;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = adp_error_set(ADP_ESYS, "cannot reach haproxy at '%s': %s", path, strerror(errno));
		goto done;
	}
	/* MSG_NOSIGNAL: a HAProxy that closed the connection is an error
	 * here, not a SIGPIPE that kills apply mid-step. */
	if (send(fd, cmd, len, MSG_NOSIGNAL) != (ssize_t)len || send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		rc = adp_error_set(ADP_ESYS, "cannot send to haproxy at '%s': %s", path,
				   errno == EAGAIN ? "timed out" : strerror(errno));
		goto done;
	}
	for (;;) {
		ssize_t r;
		if (n + 4096 + 1 > cap) {
			char *g;
			if (cap >= MAX_REPLY) {
				rc = adp_error_set(ADP_EINPUT, "haproxy reply exceeds %zu bytes", MAX_REPLY);
				goto done;
			}
			cap = cap ? cap * 2 : 8192;
			if (!(g = realloc(buf, cap))) {
				rc = adp_error_set(ADP_ENOMEM, "out of memory");
				goto done;
			}
			buf = g;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms) {
			rc = adp_error_set(ADP_ESYS, "haproxy at '%s' did not finish answering '%s' within %ld ms", path,
					   cmd, timeout_ms);
			goto done;
		}
		r = read(fd, buf + n, 4096);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = adp_error_set(ADP_ESYS, "haproxy at '%s' did not answer '%s'%s%s", path, cmd,
					   errno == EAGAIN || errno == EWOULDBLOCK ? " within the timeout" : ": ",
					   errno == EAGAIN || errno == EWOULDBLOCK ? "" : strerror(errno));
			goto done;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	/* Runtime API errors come back as text on a successful connection. */
	if (strstr(buf, "No such") || strstr(buf, "Unknown command") || strstr(buf, "Require ")) {
		buf[strcspn(buf, "\n")] = '\0';
		rc = adp_error_set(ADP_EINPUT, "haproxy refused '%s': %s", cmd, buf);
		goto done;
	}
	if (reply) {
		*reply = buf;
		buf = NULL;
	}
done:
	free(buf);
	close(fd);
	return rc;
}

/* The HAProxy server of a component's instance on a partition: the
 * runtime socket, the backend and the server (prefix and partition),
 * from a traffic section orch_local_config_check passed. */
struct hap_server {
	const char *sock, *be;
	char name[512];
};

static void hap_server(const struct inv_component *c, const char *part, struct hap_server *h)
{
	const char *pre = json_string_value(json_object_get(c->traffic, "server_prefix"));

	h->sock = json_string_value(json_object_get(c->traffic, "haproxy_socket"));
	h->be = json_string_value(json_object_get(c->traffic, "backend"));
	h->sock = h->sock ? h->sock : "";
	h->be = h->be ? h->be : "";
	snprintf(h->name, sizeof(h->name), "%s%s", pre ? pre : "", part);
}

/* DIR/proc/haproxy-COMP-SERVER.ext: what apply keeps about a server. */
static void server_file(const struct orch_local *l, const struct inv_component *c, const char *part,
			const char *ext, char *out, size_t len)
{
	struct hap_server h;

	hap_server(c, part, &h);
	snprintf(out, len, "%s/proc/haproxy-%s-%s.%s", l->state_dir, c->name, h.name, ext);
}

/* "set server BACKEND/SERVER what value". */
static int set_server(const struct inv_component *c, const char *part, const char *what, const char *value)
{
	struct hap_server h;
	char cmd[1200];

	hap_server(c, part, &h);
	snprintf(cmd, sizeof(cmd), "set server %s/%s %s %s", h.be, h.name, what, value);
	return orch_haproxy_cmd(h.sock, cmd, NULL);
}

static int set_weight(const struct inv_component *c, const char *part, const char *w)
{
	return set_server(c, part, "weight", w);
}

static int set_state(const struct inv_component *c, const char *part, const char *st)
{
	return set_server(c, part, "state", st);
}

int local_server_field(const struct inv_component *c, const char *part, int col, char *out, size_t len)
{
	struct hap_server h;
	char *reply = NULL, *line, *save = NULL, name[1100];
	int rc;

	hap_server(c, part, &h);
	snprintf(name, sizeof(name), "%s,%s,", h.be, h.name);
	if ((rc = orch_haproxy_cmd(h.sock, "show stat", &reply)))
		return rc;
	rc = adp_error_set(ADP_EINPUT, "haproxy has no server '%s' in backend '%s'", h.name, h.be);
	for (line = strtok_r(reply, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f = line;
		int k;

		if (strncmp(line, name, strlen(name)))
			continue;
		for (k = 0; k < col && f; k++)
			f = strchr(f + 1, ',');
		if (f) {
			snprintf(out, len, "%.*s", (int)strcspn(f + 1, ","), f + 1);
			rc = 0;
		}
		break;
	}
	if (!rc)
		adp_error_clear();
	free(reply);
	return rc;
}

int local_server_status(const struct inv_component *c, const char *part, char *out, size_t len)
{
	return local_server_field(c, part, 17, out, len);
}

/* Records a server's state and weight the first time apply changes it,
 * so that restoring puts back exactly what was there. */
static int save_server(const struct orch_local *l, const struct inv_component *c, const char *part)
{
	char path[1200], st[64], w[64], rec[160];
	int rc;

	server_file(l, c, part, "saved", path, sizeof(path));
	if (access(path, F_OK) == 0)
		return 0;
	if ((rc = local_mkdirs(l)) || (rc = local_server_status(c, part, st, sizeof(st))) ||
	    (rc = local_server_field(c, part, 18, w, sizeof(w))))
		return rc;
	snprintf(rec, sizeof(rec), "%s %s\n",
		 !strncmp(st, "MAINT", 5) ? "maint" : !strncmp(st, "DRAIN", 5) ? "drain" : "ready", w);
	return adp_write_atomic(path, rec, strlen(rec));
}

/* Puts back what save_server recorded (nothing saved: nothing changed). */
static int restore_server(const struct orch_local *l, const struct inv_component *c, const char *part)
{
	char path[1200], *text = NULL, st[16], w[32];
	size_t len;
	int rc;

	server_file(l, c, part, "saved", path, sizeof(path));
	if (access(path, F_OK))
		return 0;
	if ((rc = adp_read_file(&text, &len, path, 256)))
		return rc;
	if (sscanf(text, "%15s %31s", st, w) != 2) {
		free(text);
		return adp_error_set(ADP_EINPUT, "'%s' is not a saved server state", path);
	}
	free(text);
	if ((rc = set_weight(c, part, w)) || (rc = set_state(c, part, st)))
		return rc;
	if (unlink(path) && errno != ENOENT)
		return adp_error_set(ADP_ESYS, "cannot remove '%s': %s", path, strerror(errno));
	return 0;
}

/* The shadow server's counters HAProxy keeps: sessions (stot), connection
 * and response errors (econ, eresp), retries and redispatches away from it
 * (wretr, wredis: a retried 500 is counted there, not as a 5xx), 5xx
 * responses; and rtime (ms, the average of the last 1024 requests). */
struct srv_counters {
	long long stot, econ, eresp, wretr, wredis, h5xx, rtime;
};

static int read_counters(const struct inv_component *c, const char *part, struct srv_counters *k)
{
	static const int col[] = { 7, 13, 14, 15, 16, 43, 60 };
	long long *dst[] = { &k->stot, &k->econ, &k->eresp, &k->wretr, &k->wredis, &k->h5xx, &k->rtime };
	char v[32];
	size_t i;
	int rc;

	for (i = 0; i < 7; i++) {
		if ((rc = local_server_field(c, part, col[i], v, sizeof(v))))
			return rc;
		*dst[i] = atoll(v);
	}
	return 0;
}

/* Before the shadow takes its canary share: its counters as a baseline
 * (kept across a resume, so the canary is judged from its start). */
static int canary_baseline(const struct orch_local *l, const struct inv_component *c, const char *part)
{
	struct srv_counters k;
	char path[1200], rec[160];
	int rc;

	server_file(l, c, part, "canary", path, sizeof(path));
	if (access(path, F_OK) == 0)
		return 0;
	if ((rc = local_mkdirs(l)) || (rc = read_counters(c, part, &k)))
		return rc;
	snprintf(rec, sizeof(rec), "%lld %lld %lld %lld %lld %lld\n", k.stot, k.econ, k.eresp, k.wretr, k.wredis,
		 k.h5xx);
	return adp_write_atomic(path, rec, strlen(rec));
}

/* After canary_seconds of canary traffic: the shadow's errors and 5xx
 * since the baseline must not exceed max_errors (default 0), and its
 * average response time must stay under max_response_ms when set. */
int local_canary_verdict(const struct orch_local *l, const struct inv_component *c, const char *part, char *msg,
			  size_t len)
{
	json_t *t = c->traffic, *v;
	double wait_s = json_is_number(v = json_object_get(t, "canary_seconds")) ? json_number_value(v) : 0;
	long long max_err = json_is_integer(v = json_object_get(t, "max_errors")) ? json_integer_value(v) : 0;
	double max_rt = json_is_number(v = json_object_get(t, "max_response_ms")) ? json_number_value(v) : 0;
	struct srv_counters b = { 0 }, k;
	char path[1200], *text = NULL;
	long long errs, reqs;
	int rc;

	if (wait_s > 0 && local_nap(l, (long)(wait_s * 1000)))
		return adp_error_set(ADP_ESYS, "cancelled while watching the canary of '%s' on '%s'", c->name, part);
	server_file(l, c, part, "canary", path, sizeof(path));
	if (!adp_read_file(&text, NULL, path, 256)) {
		if (sscanf(text, "%lld %lld %lld %lld %lld %lld", &b.stot, &b.econ, &b.eresp, &b.wretr, &b.wredis,
			   &b.h5xx) != 6)
			memset(&b, 0, sizeof(b));
		free(text);
	}
	adp_error_clear();
	if ((rc = read_counters(c, part, &k)))
		return rc;
	reqs = k.stot - b.stot;
	errs = (k.econ - b.econ) + (k.eresp - b.eresp) + (k.wretr - b.wretr) + (k.wredis - b.wredis) +
	       (k.h5xx - b.h5xx);
	if (errs > max_err)
		return adp_error_set(ADP_ESYS,
				     "canary of '%s' on '%s' failed: haproxy counted %lld errors and 5xx in %lld requests (%lld connection, %lld response, %lld retried, %lld 5xx; at most %lld allowed)",
				     c->name, part, errs, reqs, k.econ - b.econ, k.eresp - b.eresp,
				     (k.wretr - b.wretr) + (k.wredis - b.wredis), k.h5xx - b.h5xx, max_err);
	if (max_rt > 0 && (double)k.rtime > max_rt)
		return adp_error_set(ADP_ESYS, "canary of '%s' on '%s' failed: average response time %lld ms, at most %.0f",
				     c->name, part, k.rtime, max_rt);
	snprintf(msg, len, "canary: %lld requests, %lld errors, average response %lld ms", reqs, errs, k.rtime);
	return 0;
}

/* Waits until HAProxy has no session and no queue on the server of c on
 * part (a drain). Best effort where HAProxy cannot be asked: 0. */
int local_wait_idle(const struct orch_local *l, const struct inv_component *c, const char *part, char *msg,
		     size_t len)
{
	char scur[32], qcur[32];
	long waited = 0;

	if (!c->traffic)
		return 0;
	for (;;) {
		if (local_server_field(c, part, 4, scur, sizeof(scur)) || local_server_field(c, part, 2, qcur, sizeof(qcur))) {
			adp_error_clear();
			return 0;
		}
		if (atol(scur) == 0 && atol(qcur) == 0)
			break;
		if (local_nap(l, 100))
			return adp_error_set(ADP_ESYS, "cancelled while '%s' on '%s' still had %s sessions", c->name,
					     part, scur);
		waited += 100;
	}
	if (msg && len)
		snprintf(msg, len, "no sessions left on '%s' after %ld ms", part, waited);
	return 0;
}

/* ---- the ops ---- */

/* The moved replica's traffic step begins: 1 (nothing to do, msg says
 * so) without a traffic section, else both servers' prior states are
 * saved before the first change. */
static int traffic_begin(struct local_step *t, void *ctx, const struct plan *p, const struct plan_step *s,
			 char *msg, size_t len)
{
	int rc = local_step_begin(t, ctx, p, s, LOCAL_NEED_MOVED);

	if (rc)
		return rc;
	if (!t->c->traffic) {
		snprintf(msg, len, "no traffic section: nothing to switch");
		return 1;
	}
	if ((rc = save_server(t->l, t->c, t->home)))
		return rc;
	return save_server(t->l, t->c, t->shadow);
}

/* canary: the shadow takes a small share beside the original, its
 * counters kept as the canary's baseline. */
int local_op_canary(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct local_step t;
	int rc = traffic_begin(&t, ctx, p, s, msg, len);

	if (rc)
		return rc < 0 ? rc : 0;
	if (!(rc = canary_baseline(t.l, t.c, t.shadow)))
		rc = set_state(t.c, t.shadow, "ready");
	return rc ? rc : set_weight(t.c, t.shadow, CANARY_WEIGHT);
}

/* switch_traffic: all of it to the shadow. */
int local_op_switch_traffic(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct local_step t;
	int rc = traffic_begin(&t, ctx, p, s, msg, len);

	if (rc)
		return rc < 0 ? rc : 0;
	if (!(rc = set_state(t.c, t.shadow, "ready")))
		rc = set_weight(t.c, t.shadow, "100");
	return rc ? rc : set_weight(t.c, t.home, "0");
}

/* drain: no new sessions to the original, and its open ones finished. */
int local_op_drain(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct local_step t;
	int rc = traffic_begin(&t, ctx, p, s, msg, len);

	if (rc)
		return rc < 0 ? rc : 0;
	rc = set_state(t.c, t.home, "drain");
	return rc ? rc : local_wait_idle(t.l, t.c, t.home, msg, len);
}

int local_op_undrain(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct local_step t;
	int rc = traffic_begin(&t, ctx, p, s, msg, len);

	return rc ? (rc < 0 ? rc : 0) : set_state(t.c, t.home, "ready");
}

/* switch_back and restore_traffic: both servers as they were before
 * apply, and the canary's baseline forgotten. */
int local_op_restore_traffic(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct local_step t;
	char path[1200];
	int rc = local_step_begin(&t, ctx, p, s, LOCAL_NEED_MOVED);

	if (rc)
		return rc;
	if (!t.c->traffic) {
		snprintf(msg, len, "no traffic section: nothing to switch");
		return 0;
	}
	if (!(rc = restore_server(t.l, t.c, t.home)))
		rc = restore_server(t.l, t.c, t.shadow);
	server_file(t.l, t.c, t.shadow, "canary", path, sizeof(path));
	if (!rc && unlink(path) && errno != ENOENT)
		rc = adp_error_set(ADP_ESYS, "cannot remove '%s': %s", path, strerror(errno));
	return rc;
}

/* An absorbed replica's server: 1 (nothing to do) without a traffic
 * section. */
static int absorbed_begin(struct local_step *t, void *ctx, const struct plan *p, const struct plan_step *s,
			  char *msg, size_t len)
{
	int rc = local_step_begin(t, ctx, p, s, LOCAL_NEED_ABSORBED);

	if (!rc && !t->c->traffic) {
		snprintf(msg, len, "no traffic section: nothing to drain");
		return 1;
	}
	return rc;
}

/* drain_absorbed: drain (no new sessions, wait for the open ones), then
 * disable (maint) the absorbed replica's server, its prior state saved
 * first. */
int local_op_drain_absorbed(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct local_step t;
	int rc = absorbed_begin(&t, ctx, p, s, msg, len);

	if (rc)
		return rc < 0 ? rc : 0;
	if ((rc = save_server(t.l, t.c, t.home)) || (rc = set_state(t.c, t.home, "drain")) ||
	    (rc = local_wait_idle(t.l, t.c, t.home, msg, len)))
		return rc;
	return set_state(t.c, t.home, "maint");
}

/* undrain_absorbed: the server's prior state back. */
int local_op_undrain_absorbed(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct local_step t;
	int rc = absorbed_begin(&t, ctx, p, s, msg, len);

	if (rc)
		return rc < 0 ? rc : 0;
	if ((rc = restore_server(t.l, t.c, t.home)))
		return rc;
	snprintf(msg, len, "haproxy server of '%s' on '%s' back to its prior state", t.c->name, t.home);
	return 0;
}
