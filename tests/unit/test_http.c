/* The HTTP client: URL redaction and escaping, and requests against a
 * one-answer server on loopback (caps, redirects, streaming, refusals).
 * TLS is exercised by the CLI tests (real Prometheus, the fake
 * Kubernetes API server). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "util/error.h"
#include "util/http.h"

static const char *redact(const char *url)
{
	static char out[256];

	return adp_url_redact(out, sizeof(out), url);
}

Test(http, url_redact_removes_credentials)
{
	cr_assert_str_eq(redact("https://user:pa55@prom.example:9090/api?x=1"), "https://prom.example:9090/api?x=1");
	cr_assert_str_eq(redact("http://us@er:p@ss@h/"), "http://h/");
	cr_assert_str_eq(redact("https://h/q?token=abc&step=60&access_token=t&Password=p&api_key=k&key=v"),
			 "https://h/q?token=REDACTED&step=60&access_token=REDACTED&Password=REDACTED&api_key=REDACTED&key=REDACTED");
	cr_assert_str_eq(redact("https://h/#access_token=abc&state=s"), "https://h/#access_token=REDACTED&state=s");
	cr_assert_str_eq(redact("https://h/a@b?monkey=1&keys=2"), "https://h/a@b?monkey=1&keys=2");
	cr_assert_str_eq(redact("/api/v1/nodes?limit=500"), "/api/v1/nodes?limit=500");
	cr_assert_str_eq(redact("u:p@host"), "host");
	cr_assert_str_eq(redact(""), "");
	cr_assert_str_eq(redact(NULL), "");
}

Test(http, url_redact_cuts_safely)
{
	char out[12];

	cr_assert_str_eq(adp_url_redact(out, sizeof(out), "https://u:secret@host.example/"), "https://hos");
	cr_assert_str_eq(adp_url_redact(out, sizeof(out), "http://h/?token=secret"), "http://h/?t");
}

Test(http, url_escape)
{
	char out[16];

	cr_assert_eq(adp_url_escape(out, sizeof(out), "a b/c~"), 0);
	cr_assert_str_eq(out, "a%20b%2Fc~");
	cr_assert_eq(adp_url_escape(out, 8, "abcd efg"), -1);
	cr_assert_str_eq(out, "abcd%20");
}

/* --- requests ------------------------------------------------------------ */

/* A server for one request on loopback: url is path on it. */
struct server {
	int fd, port;
	const char *answer;
	char request[4096];
	char url[128];
	pthread_t th;
};

static void *serve(void *arg)
{
	struct server *s = arg;
	int c = accept(s->fd, NULL, NULL);
	ssize_t n;

	if (c < 0)
		return NULL;
	n = read(c, s->request, sizeof(s->request) - 1);
	s->request[n > 0 ? n : 0] = '\0';
	if (write(c, s->answer, strlen(s->answer)) < 0)
		s->request[0] = '\0';
	close(c);
	return NULL;
}

static void start(struct server *s, const char *answer, const char *path)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t n = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->answer = answer;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert((s->fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	cr_assert_eq(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(s->fd, 4), 0);
	cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&a, &n), 0);
	s->port = ntohs(a.sin_port);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d%s", s->port, path);
	cr_assert_eq(pthread_create(&s->th, NULL, serve, s), 0);
}

static void stop(struct server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->th, NULL);
	close(s->fd);
}

/* One GET of url through a fresh handle with o; the answer into body. */
static int get(const struct adp_http_opts *o, struct adp_http_req *r, struct adp_buf *body, struct adp_http_res *res)
{
	struct adp_http h;
	int rc;

	cr_assert_eq(adp_http_init(&h, o), 0);
	rc = adp_http_request(&h, r, body, res);
	adp_http_release(&h);
	return rc;
}

Test(http, cap_names_the_redacted_url)
{
	static char answer[8192];
	struct adp_http_opts o = { .what = "test" };
	struct adp_http_req r = { 0 };
	struct adp_buf body = ADP_BUF_INIT;
	struct adp_http_res res;
	struct server s;
	char url[128];

	/* No Content-Length: only the write callback's cap can stop it. */
	memset(answer, 'x', sizeof(answer) - 1);
	memcpy(answer, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 38);
	start(&s, answer, "/x");
	snprintf(url, sizeof(url), "http://me:pa55@127.0.0.1:%d/x?token=t0k", s.port);
	r.url = url;
	r.max_bytes = 1000;
	cr_assert_eq(get(&o, &r, &body, &res), ADP_EINPUT);
	cr_assert_eq(res.fail, ADP_HTTP_TOO_BIG);
	snprintf(url, sizeof(url), "test 'http://127.0.0.1:%d/x?token=REDACTED': response larger than 1000 bytes", s.port);
	cr_assert_str_eq(adp_error_last(), url);
	stop(&s);
	adp_buf_release(&body);
}

Test(http, redirects_are_not_followed_unless_asked)
{
	struct adp_http_opts o = { 0 };
	struct adp_http_req r = { 0 };
	struct adp_buf body = ADP_BUF_INIT;
	struct adp_http_res res;
	struct server s;

	start(&s, "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 5\r\nConnection: close\r\n\r\nmoved", "/");
	r.url = s.url;
	cr_assert_eq(get(&o, &r, &body, &res), 0, "%s", adp_error_last());
	cr_assert_eq(res.status, 302);
	cr_assert_str_eq(adp_buf_str(&body), "moved");
	cr_assert(strstr(s.request, "GET / HTTP/1.1"), "%s", s.request);
	stop(&s);
	adp_buf_release(&body);
}

static int count_lines(void *arg, const char *line, size_t len)
{
	int *n = arg;

	cr_assert_eq(strlen(line), len);
	return ++*n == 2 ? 7 : 0;
}

Test(http, streaming_stops_when_asked)
{
	struct adp_http_opts o = { 0 };
	struct adp_http_req r = { 0 };
	struct adp_http_res res;
	struct server s;
	int n = 0;

	start(&s, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\none\ntwo\nthree\n", "/w");
	r.url = s.url;
	r.on_line = count_lines;
	r.line_arg = &n;
	cr_assert_eq(get(&o, &r, NULL, &res), 0, "%s", adp_error_last());
	cr_assert_eq(n, 2);
	cr_assert_eq(res.stopped, 7);
	stop(&s);
}

Test(http, post_with_headers_and_basic_auth)
{
	static const char *const headers[] = { "X-Test: 1", NULL };
	struct adp_http_opts o = { 0 };
	struct adp_http_req r = { 0 };
	struct adp_http_res res;
	struct server s;

	start(&s, "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", "/p");
	r.url = s.url;
	r.body = "a=1";
	r.body_len = 3;
	r.headers = headers;
	r.username = "ops";
	r.password = "pa55";
	cr_assert_eq(get(&o, &r, NULL, &res), 0, "%s", adp_error_last());
	cr_assert_eq(res.status, 503, "no retry unless asked");
	cr_assert_eq(res.attempts, 1);
	cr_assert(strstr(s.request, "POST /p HTTP/1.1"), "%s", s.request);
	cr_assert(strstr(s.request, "X-Test: 1"), "%s", s.request);
	cr_assert(strstr(s.request, "Authorization: Basic b3BzOnBhNTU="), "%s", s.request);
	stop(&s);
}

Test(http, refusals_send_nothing)
{
	struct adp_http_opts o = { .what = "kubernetes API", .https_only = 1 };
	struct adp_http_req r = { .url = "http://u:p@127.0.0.1:1/x" };
	struct adp_http_res res;

	cr_assert_eq(get(&o, &r, NULL, &res), ADP_EINPUT);
	cr_assert_eq(res.fail, ADP_HTTP_REFUSED);
	cr_assert_str_eq(adp_error_last(), "kubernetes API 'http://127.0.0.1:1/x': not an https:// URL");
	o.https_only = 0;
	r.bearer = "s3cret";
	cr_assert_eq(get(&o, &r, NULL, &res), ADP_EINPUT);
	cr_assert_str_eq(adp_error_last(),
			 "kubernetes API 'http://127.0.0.1:1/x': a bearer token is never sent over plain http: use https://");
	r.bearer = NULL;
	r.url = "ftp://h/";
	cr_assert_eq(get(&o, &r, NULL, &res), ADP_EINPUT);
	t_assert_msg("not an http:// or https:// URL");
}

static int always(void *arg)
{
	(void)arg;
	return 1;
}

Test(http, cancelled_before_sending)
{
	struct adp_http_opts o = { .what = "x", .cancelled = always };
	struct adp_http_req r = { .url = "http://127.0.0.1:1/", .retries = 3 };
	struct adp_http_res res;

	cr_assert_eq(get(&o, &r, NULL, &res), ADP_ESYS);
	cr_assert_eq(res.fail, ADP_HTTP_CANCELLED);
	cr_assert_str_eq(adp_error_last(), "x 'http://127.0.0.1:1/': cancelled");
}
