#include "orchestrator/request.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/resource.h"

/* ---- the line ---- */

static int field_string(json_t *o, const char *key, char *out, size_t max, int need)
{
	json_t *v = json_object_get(o, key);
	const char *s;
	size_t n;

	if (!v)
		return need ? adp_error_set(ADP_EINPUT, "request: \"%s\" is missing", key) : 0;
	if (!json_is_string(v))
		return adp_error_set(ADP_EINPUT, "request: \"%s\": expected a string", key);
	s = json_string_value(v);
	n = json_string_length(v);
	if (!n || n > max || memchr(s, '\0', n))
		return adp_error_set(ADP_EINPUT, "request: \"%s\": expected 1 to %zu bytes of text", key, max);
	memcpy(out, s, n + 1);
	return 0;
}

/* An integer field in [lo, hi]: 1 when present, 0 when absent and not
 * needed, or ADP_EINPUT. */
static int field_int(json_t *o, const char *key, long long lo, long long hi, int need, long long *out)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return need ? adp_error_set(ADP_EINPUT, "request: \"%s\" is missing", key) : 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return adp_error_set(ADP_EINPUT, "request: \"%s\": expected an integer from %lld to %lld", key, lo, hi);
	*out = json_integer_value(v);
	return 1;
}

int orch_request_parse(struct orch_request *out, const char *line, size_t len)
{
	static const char *const known[] = { "component", "replica", "resource", "amount", "for", "priority", "why" };
	struct orch_request q = { .replica = -1, .priority = 1 };
	json_error_t e;
	json_t *o, *v;
	const char *key, *res;
	long long n;
	size_t i;
	int rc;

	if (len >= ORCH_REQ_LINE_MAX)
		return adp_error_set(ADP_EINPUT, "request: the line is longer than %d bytes", ORCH_REQ_LINE_MAX - 1);
	if (!(o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &e)))
		return adp_error_set(ADP_EINPUT, "request: not JSON: %s", e.text);
	if (!json_is_object(o)) {
		rc = adp_error_set(ADP_EINPUT, "request: expected a JSON object");
		goto out;
	}
	json_object_foreach(o, key, v) {
		for (i = 0; i < sizeof(known) / sizeof(*known) && strcmp(key, known[i]); i++)
			;
		if (i == sizeof(known) / sizeof(*known)) {
			rc = adp_error_set(ADP_EINPUT, "request: \"%.40s\" is not a field: expected component, replica, "
					   "resource, amount, for, priority or why", key);
			goto out;
		}
	}
	if ((rc = field_string(o, "component", q.component, ORCH_REQ_COMPONENT_MAX, 1)) ||
	    (rc = field_string(o, "why", q.why, ORCH_REQ_WHY_MAX, 1)))
		goto out;
	if ((rc = field_int(o, "replica", 0, 100000, 0, &n)) < 0)
		goto out;
	if (rc)
		q.replica = (long)n;
	if ((rc = field_int(o, "priority", 0, ORCH_REQ_PRIORITY_MAX, 0, &n)) < 0)
		goto out;
	if (rc)
		q.priority = (int)n;
	if ((rc = field_int(o, "for", 1, ORCH_REQ_FOR_MAX, 1, &n)) < 0)
		goto out;
	q.for_s = n;
	res = json_string_value(json_object_get(o, "resource"));
	q.resource = res ? adp_resource_parse(res) : -1;
	if (q.resource != ADP_RES_CPU && q.resource != ADP_RES_MEMORY && q.resource != ADP_RES_IO) {
		rc = adp_error_set(ADP_EINPUT, "request: \"resource\": expected \"cpu\", \"memory\" or \"io\"");
		goto out;
	}
	v = json_object_get(o, "amount");
	if (!json_is_number(v) || !(json_number_value(v) > 0) || !isfinite(json_number_value(v))) {
		rc = adp_error_set(ADP_EINPUT, "request: \"amount\": expected a number above 0, in %s",
				   adp_resource_unit(q.resource));
		goto out;
	}
	q.amount = json_number_value(v);
	*out = q;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int orch_answer_format(char *buf, size_t len, const struct orch_answer *a)
{
	json_t *o = json_object();
	char *text;
	int rc = 0;

	if (!o || json_object_set_new(o, "state", json_string(a->state)) ||
	    json_object_set_new(o, "granted", json_real(a->granted)) ||
	    (a->reason && json_object_set_new(o, "reason", json_string(a->reason))) ||
	    (a->id && json_object_set_new(o, "id", json_integer(a->id))) ||
	    (a->expires_at && json_object_set_new(o, "expires_at", json_integer(a->expires_at))) ||
	    (a->limit > 0 && json_object_set_new(o, "limit", json_real(a->limit))) ||
	    !(text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		json_decref(o);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	if ((size_t)snprintf(buf, len, "%s\n", text) >= len)
		rc = adp_error_set(ADP_ENOMEM, "the answer does not fit in %zu bytes", len);
	free(text);
	json_decref(o);
	return rc;
}

/* ---- the server ---- */

struct req_conn {
	int fd;
	pid_t pid;
	uid_t uid;
	double deadline;
	size_t n;
	char buf[ORCH_REQ_LINE_MAX];
};

struct orch_req_server {
	int fd;
	char *path;
	struct req_conn conns[ORCH_REQ_CONNS];
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sock_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path))
		return adp_error_set(ADP_EINPUT, "request socket '%s': longer than %zu bytes", path,
				     sizeof(a->sun_path) - 1);
	memcpy(a->sun_path, path, strlen(path) + 1);
	return 0;
}

int orch_req_server_open(struct orch_req_server **out, const char *path)
{
	struct orch_req_server *s;
	struct sockaddr_un a;
	struct stat st;
	mode_t old;
	size_t i;
	int fd, rc;

	if ((rc = sock_addr(&a, path)))
		return rc;
	/* lstat: a symlink is refused, never followed or removed. */
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return adp_error_set(ADP_EINPUT, "request socket '%s': something other than a socket is there",
					     path);
		if (unlink(path))
			return adp_error_set(ADP_ESYS, "request socket '%s': cannot remove the old one: %s", path,
					     strerror(errno));
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return adp_error_set(ADP_ESYS, "request socket: %s", strerror(errno));
	old = umask(0111);
	rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (rc || listen(fd, ORCH_REQ_CONNS)) {
		rc = adp_error_set(ADP_ESYS, "request socket '%s': %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	if (!(s = calloc(1, sizeof(*s))) || !(s->path = strdup(path))) {
		free(s);
		close(fd);
		unlink(path);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	s->fd = fd;
	for (i = 0; i < ORCH_REQ_CONNS; i++)
		s->conns[i].fd = -1;
	*out = s;
	return 0;
}

/* Writes the answer and closes: an answer is well under a socket's
 * buffer, so a non-blocking send takes it whole or the caller is gone. */
static void conn_end(struct req_conn *c, const char *ans)
{
	if (ans)
		(void)!send(c->fd, ans, strlen(ans), MSG_NOSIGNAL | MSG_DONTWAIT);
	close(c->fd);
	c->fd = -1;
}

static void conn_error(struct req_conn *c, const char *reason)
{
	struct orch_answer a = { .state = "error", .reason = reason };
	char ans[512];

	conn_end(c, orch_answer_format(ans, sizeof(ans), &a) ? NULL : ans);
	adp_error_clear();
}

static void accept_all(struct orch_req_server *s)
{
	int fd;

	while ((fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct ucred cr;
		socklen_t crl = sizeof(cr);
		struct req_conn *c = NULL;
		size_t i;

		for (i = 0; i < ORCH_REQ_CONNS && !c; i++)
			if (s->conns[i].fd < 0)
				c = &s->conns[i];
		if (!c) {
			struct req_conn busy = { .fd = fd };
			char why[96];

			snprintf(why, sizeof(why), "busy: %d connections are being read; try again", ORCH_REQ_CONNS);
			conn_error(&busy, why);
			continue;
		}
		c->fd = fd;
		c->n = 0;
		c->deadline = mono() + ORCH_REQ_READ_MS / 1000.0;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) || cr.pid <= 0) {
			conn_error(c, "the caller's credentials cannot be read");
			continue;
		}
		c->pid = cr.pid;
		c->uid = cr.uid;
	}
}

void orch_req_server_poll(struct orch_req_server *s, orch_req_handler h, void *ctx)
{
	double now = mono();
	size_t i;

	if (!s)
		return;
	accept_all(s);
	for (i = 0; i < ORCH_REQ_CONNS; i++) {
		struct req_conn *c = &s->conns[i];
		char ans[1024], *nl;
		ssize_t r;

		if (c->fd < 0)
			continue;
		while (c->n < sizeof(c->buf) && (r = recv(c->fd, c->buf + c->n, sizeof(c->buf) - c->n, 0)) > 0)
			c->n += (size_t)r;
		if ((nl = memchr(c->buf, '\n', c->n))) {
			h(ctx, c->pid, c->uid, c->buf, (size_t)(nl - c->buf), ans, sizeof(ans));
			conn_end(c, ans);
		} else if (c->n >= sizeof(c->buf)) {
			char why[96];

			snprintf(why, sizeof(why), "request: the line is longer than %d bytes", ORCH_REQ_LINE_MAX - 1);
			conn_error(c, why);
		} else if (now >= c->deadline) {
			char why[96];

			snprintf(why, sizeof(why), "request: no whole line within %d ms", ORCH_REQ_READ_MS);
			conn_error(c, why);
		}
	}
}

void orch_req_server_free(struct orch_req_server *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < ORCH_REQ_CONNS; i++)
		if (s->conns[i].fd >= 0)
			conn_error(&s->conns[i], "apply ended before answering");
	close(s->fd);
	unlink(s->path);
	free(s->path);
	free(s);
}

/* ---- the client ---- */

int orch_request_send(const char *path, const char *line, char *ans, size_t len, int timeout_ms)
{
	struct sockaddr_un a;
	double deadline = mono() + timeout_ms / 1000.0;
	size_t n = 0, sent = 0, ll = strlen(line);
	char out[ORCH_REQ_LINE_MAX + 1];
	int fd, rc = 0;

	if ((rc = sock_addr(&a, path)))
		return rc;
	if (ll >= ORCH_REQ_LINE_MAX)
		return adp_error_set(ADP_EINPUT, "the request is longer than %d bytes", ORCH_REQ_LINE_MAX - 1);
	memcpy(out, line, ll);
	out[ll++] = '\n';
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return adp_error_set(ADP_ESYS, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		rc = adp_error_set(ADP_ESYS, "no apply is listening on '%s': %s", path, strerror(errno));
		goto out;
	}
	while (sent < ll) {
		ssize_t w = send(fd, out + sent, ll - sent, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = adp_error_set(ADP_ESYS, "cannot send the request to '%s': %s", path, strerror(errno));
			goto out;
		}
		sent += (size_t)w;
	}
	while (n + 1 < len && !memchr(ans, '\n', n)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)((deadline - mono()) * 1000);
		ssize_t r;

		if (left <= 0 || poll(&p, 1, left) == 0) {
			rc = adp_error_set(ADP_ESYS, "no answer from the apply on '%s' within %d s", path, timeout_ms / 1000);
			goto out;
		}
		r = recv(fd, ans + n, len - 1 - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = adp_error_set(ADP_ESYS, "the apply on '%s' closed the connection without an answer", path);
			goto out;
		}
		n += (size_t)r;
		ans[n] = '\0';
	}
	ans[n] = '\0';
	if ((line = memchr(ans, '\n', n)))
		ans[line - ans] = '\0';
out:
	close(fd);
	return rc;
}
