/* The Prometheus client against a small HTTP server run by the test on
 * loopback, scripted per case: chunking, retries, limits, auth, errors.
 * (The CLI tests run the real Prometheus server.) */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "history/prometheus.h"
#include "util/error.h"

enum mode { M_SERIES, M_FAIL_FIRST, M_BIG, M_BAD_DATA, M_EMPTY, M_TWO_SERIES };

#define MAX_REQ 64

struct server {
	int fd, port;
	enum mode mode;
	int fail_first;
	int nreq;
	long long start[MAX_REQ], end[MAX_REQ], step[MAX_REQ];
	char auth[MAX_REQ][256];
	pthread_t th;
};

static struct server srv;

static long long form_ll(const char *body, const char *key)
{
	const char *p = strstr(body, key);
	return p ? atoll(p + strlen(key)) : -1;
}

static void reply(int c, int code, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			 code, len);
	if (write(c, head, (size_t)n) < 0 || write(c, body, len) < 0)
		return;
}

static void serve_one(int c)
{
	static char req[65536];
	size_t len = 0;
	char *hdr_end = NULL, *body, *p;
	long clen = 0;
	ssize_t n;
	int i = srv.nreq;

	while (len < sizeof(req) - 1 && (n = read(c, req + len, sizeof(req) - 1 - len)) > 0) {
		len += (size_t)n;
		req[len] = '\0';
		if (!hdr_end && (hdr_end = strstr(req, "\r\n\r\n"))) {
			p = strcasestr(req, "Content-Length:");
			clen = p ? atol(p + 15) : 0;
			if (strcasestr(req, "Expect: 100-continue") && write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
				return;
		}
		if (hdr_end && len >= (size_t)(hdr_end + 4 - req) + (size_t)clen)
			break;
	}
	if (!hdr_end)
		return;
	body = hdr_end + 4;
	if (i < MAX_REQ) {
		srv.start[i] = form_ll(body, "start=");
		srv.end[i] = form_ll(body, "end=");
		srv.step[i] = form_ll(body, "step=");
		if ((p = strcasestr(req, "Authorization: ")) && p < hdr_end)
			snprintf(srv.auth[i], sizeof(srv.auth[i]), "%.*s", (int)strcspn(p, "\r"), p);
	}
	srv.nreq++;
	if (srv.mode == M_FAIL_FIRST && i < srv.fail_first) {
		const char *b = "{\"status\":\"error\",\"errorType\":\"unavailable\",\"error\":\"busy\"}";
		reply(c, 503, b, strlen(b));
		return;
	}
	if (srv.mode == M_BAD_DATA) {
		const char *b = "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"1:5: parse error: unexpected end of input\"}";
		reply(c, 400, b, strlen(b));
		return;
	}
	if (srv.mode == M_EMPTY) {
		const char *b = "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}";
		reply(c, 200, b, strlen(b));
		return;
	}
	{
		/* A series whose value is the hour of its timestamp: checkable anywhere. */
		size_t cap = 64 << 20, o = 0;
		char *b = malloc(cap);
		long long t, s = srv.start[i], e = srv.end[i], st = srv.step[i];
		int k;

		o += (size_t)snprintf(b + o, cap - o, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[");
		for (k = 0; k < (srv.mode == M_TWO_SERIES ? 2 : 1); k++) {
			o += (size_t)snprintf(b + o, cap - o, "%s{\"metric\":{\"component\":\"%s\"},\"values\":[",
					      k ? "," : "", k ? "db" : "web");
			for (t = s; st > 0 && t <= e && o < cap - 100; t += st)
				o += (size_t)snprintf(b + o, cap - o, "%s[%lld,\"%lld\"]", t == s ? "" : ",", t,
						      (t / 3600) % 24 + k * 100);
			o += (size_t)snprintf(b + o, cap - o, "]}");
		}
		o += (size_t)snprintf(b + o, cap - o, "]}}");
		reply(c, 200, b, o);
		free(b);
	}
}

static void *server_main(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(srv.fd, NULL, NULL);
		if (c < 0)
			return NULL;
		serve_one(c);
		close(c);
	}
}

static void start(enum mode m)
{
	struct sockaddr_in a = { 0 };
	socklen_t al = sizeof(a);

	memset(&srv, 0, sizeof(srv));
	srv.mode = m;
	srv.fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(srv.fd >= 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(srv.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(srv.fd, 16), 0);
	getsockname(srv.fd, (struct sockaddr *)&a, &al);
	srv.port = ntohs(a.sin_port);
	cr_assert_eq(pthread_create(&srv.th, NULL, server_main, NULL), 0);
	pthread_detach(srv.th);
}

static char url[64];
/* 2018-05-06T00:00:00Z */
static const int64_t until = 1525564800;

static struct history_prom_opts popts(void)
{
	struct history_prom_opts p = { 0 };

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
	p.url = url;
	p.query[ADP_RES_CPU] = "load{component=\"$component\"}";
	p.range = 30 * 86400;
	p.timeout = 10;
	p.retries = -1;
	return p;
}

Test(prom, long_range_is_split_under_the_point_limit)
{
	struct history_opts o = { 60, 3600, until };
	struct history_prom_opts p;
	const struct series *s;
	struct history h;
	int i;

	start(M_SERIES);
	p = popts();
	history_init(&h);
	cr_assert_eq(history_prom_read(&h, &p, "web", &o), 0, "%s", adp_error_last());
	/* 30 days at 60 s: 43199 points after the first and before the origin, so 4 requests of at most 11000. */
	cr_assert_eq(srv.nreq, 4);
	cr_assert_eq(srv.start[0] % 60, 0);
	for (i = 0; i < srv.nreq; i++) {
		cr_assert_eq(srv.step[i], 60);
		cr_assert_leq((srv.end[i] - srv.start[i]) / 60 + 1, HISTORY_PROM_MAX_POINTS);
		if (i)
			cr_assert_eq(srv.start[i], srv.end[i - 1] + 60, "chunks must be contiguous");
	}
	cr_assert_eq(srv.end[3], until - 60, "the last point is the step before the origin");
	cr_assert_eq(srv.start[0], until - 30 * 86400 + 60);
	cr_assert_not_null(s = history_find(&h, "web", ADP_RES_CPU));
	cr_assert_eq(s->n, 43199); /* (30 days - 2 steps) / step + 1 */
	cr_assert_eq(s->missing, 0);
	cr_assert_eq(s->duplicates, 0);
	/* 2018-05-05T13:00:00Z is hour 13 */
	cr_assert_float_eq(series_at(s, until - 11 * 3600), 13, 1e-12);
	cr_assert(strstr(s->source, url), "%s", s->source);
	history_release(&h);
}

Test(prom, smaller_point_limit_and_own_step)
{
	struct history_opts o = { 300, 3600, until };
	struct history_prom_opts p;
	struct history h;

	start(M_SERIES);
	p = popts();
	p.range = 86400;
	p.step = 3600;
	p.max_points = 5;
	history_init(&h);
	cr_assert_eq(history_prom_read(&h, &p, "web", &o), 0, "%s", adp_error_last());
	/* 24 hourly points, 5 per request. */
	cr_assert_eq(srv.nreq, 5);
	cr_assert_eq(srv.step[0], 3600);
	cr_assert_eq(srv.end[4], until - 3600);
	history_release(&h);
}

Test(prom, all_series_named_by_label_with_filter)
{
	struct history_opts o = { 3600, 3600, until };
	static const char *const only[] = { "db", "web" };
	struct history_prom_opts p;
	struct history h;

	start(M_TWO_SERIES);
	p = popts();
	p.range = 86400;
	p.query[ADP_RES_CPU] = "load";
	history_init(&h);
	cr_assert_eq(history_prom_read(&h, &p, NULL, &o), 0, "%s", adp_error_last());
	cr_assert_not_null(history_find(&h, "web", ADP_RES_CPU));
	cr_assert_float_eq(series_at(history_find(&h, "db", ADP_RES_CPU), until - 3600), 123, 1e-12);
	history_release(&h);
	start(M_TWO_SERIES);
	p = popts();
	p.range = 86400;
	p.only = only + 1;
	p.nonly = 1;
	history_init(&h);
	cr_assert_eq(history_prom_read(&h, &p, NULL, &o), 0, "%s", adp_error_last());
	cr_assert_null(history_find(&h, "db", ADP_RES_CPU));
	cr_assert_not_null(history_find(&h, "web", ADP_RES_CPU));
	history_release(&h);
}

Test(prom, retries_server_errors_with_backoff)
{
	/* 503 twice then success within 3 retries; 503 throughout with 1. */
	static const struct {
		int fail_first, retries, rc, nreq;
	} cases[] = { { 2, 3, 0, 3 }, { 10, 1, ADP_EINPUT, 2 } };
	struct history_opts o = { 3600, 3600, until };
	struct history_prom_opts p;
	struct history h;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		start(M_FAIL_FIRST);
		srv.fail_first = cases[i].fail_first;
		p = popts();
		p.range = 86400;
		p.retries = cases[i].retries;
		history_init(&h);
		cr_assert_eq(history_prom_read(&h, &p, "web", &o), cases[i].rc, "case %zu: %s", i, adp_error_last());
		cr_assert_eq(srv.nreq, cases[i].nreq, "case %zu", i);
		if (cases[i].rc)
			t_assert_msg("HTTP 503: unavailable: busy");
		history_release(&h);
	}
}

Test(prom, errors_are_clear)
{
	struct history_opts o = { 3600, 3600, until };
	struct history_prom_opts p;
	struct history h;

	history_init(&h);
	start(M_BAD_DATA);
	p = popts();
	cr_assert_eq(history_prom_read(&h, &p, "web", &o), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "cpu query 'load{component=\"web\"}' failed: HTTP 400: bad_data: 1:5: parse error"),
		  "%s", adp_error_last());
	start(M_EMPTY);
	p = popts();
	cr_assert_eq(history_prom_read(&h, &p, "web", &o), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "returned no series for component 'web' from 2018-04-06T01:00:00Z to 2018-05-05T23:00:00Z"),
		  "%s", adp_error_last());
	start(M_BIG);
	p = popts();
	p.max_bytes = 4096;
	cr_assert_eq(history_prom_read(&h, &p, "web", &o), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "response larger than 4096 bytes"), "%s", adp_error_last());
	/* A port bound but not listening refuses connections. */
	{
		struct sockaddr_in a = { 0 };
		socklen_t al = sizeof(a);
		int quiet = socket(AF_INET, SOCK_STREAM, 0);

		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		cr_assert_eq(bind(quiet, (struct sockaddr *)&a, sizeof(a)), 0);
		getsockname(quiet, (struct sockaddr *)&a, &al);
		srv.port = ntohs(a.sin_port);
	}
	p = popts();
	p.retries = 1;
	cr_assert_eq(history_prom_read(&h, &p, "web", &o), ADP_ESYS, "%s", adp_error_last());
	cr_assert(strstr(adp_error_last(), "(after 2 attempts)"), "%s", adp_error_last());
	p.url = "ftp://x";
	cr_assert_eq(history_prom_read(&h, &p, "web", &o), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "must start with http:// or https://"), "%s", adp_error_last());
	p = popts();
	memset(p.query, 0, sizeof(p.query));
	cr_assert_eq(history_prom_read(&h, &p, "web", &o), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "no query given"), "%s", adp_error_last());
	cr_assert_eq(h.n, 0);
	history_release(&h);
}

Test(prom, credentials_from_files)
{
	struct history_opts o = { 3600, 3600, until };
	char tok[] = "/tmp/adp-prom-tok.XXXXXX", pw[] = "/tmp/adp-prom-pw.XXXXXX";
	struct history_prom_opts p;
	struct history h;
	int fd;

	cr_assert((fd = mkstemp(tok)) >= 0);
	cr_assert_eq(write(fd, "s3cret-token\n", 13), 13);
	close(fd);
	cr_assert((fd = mkstemp(pw)) >= 0);
	cr_assert_eq(write(fd, "pa55\n", 5), 5);
	close(fd);
	history_init(&h);
	start(M_SERIES);
	p = popts();
	p.range = 7200;
	p.bearer_token_file = tok;
	/* A bearer token goes over https only (the fake Kubernetes API server
	 * of the CLI tests checks the header the HTTP client sends). */
	cr_assert_eq(history_prom_read(&h, &p, "web", &o), ADP_EINPUT);
	t_assert_msg("prometheus 'http://127.0.0.1:");
	t_assert_msg("a bearer token is never sent over plain http");
	cr_assert_null(strstr(adp_error_last(), "s3cret"));
	cr_assert_eq(srv.nreq, 0, "nothing was sent");
	history_release(&h);
	history_init(&h);
	start(M_SERIES);
	p = popts();
	p.range = 7200;
	p.username = "ops";
	p.password_file = pw;
	cr_assert_eq(history_prom_read(&h, &p, "web", &o), 0, "%s", adp_error_last());
	/* base64("ops:pa55") */
	cr_assert_str_eq(srv.auth[0], "Authorization: Basic b3BzOnBhNTU=");
	history_release(&h);
	p.password_file = "/nonexistent/pw";
	cr_assert_lt(history_prom_read(&h, &p, "web", &o), 0);
	cr_assert(strstr(adp_error_last(), "prometheus password file"), "%s", adp_error_last());
	/* The secret never appears in messages. */
	cr_assert_null(strstr(adp_error_last(), "pa55"));
	p.password_file = NULL;
	cr_assert_eq(history_prom_read(&h, &p, "web", &o), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "needs a password file"), "%s", adp_error_last());
	unlink(tok);
	unlink(pw);
	history_release(&h);
}
