#include "util/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/error.h"

/* --- redaction ----------------------------------------------------------- */

struct out {
	char *p;
	size_t len, n;
};

static void put(struct out *o, const char *s, size_t n)
{
	size_t room = o->len > o->n + 1 ? o->len - o->n - 1 : 0;

	if (n > room)
		n = room;
	memcpy(o->p + o->n, s, n);
	o->n += n;
	if (o->len)
		o->p[o->n] = '\0';
}

/* Whether a query parameter's name says its value is a secret. */
static int secret_name(const char *name, size_t n)
{
	static const char *const exact[] = { "key", "apikey", "pass", "passwd", "pwd", "sig", "auth",
					     "authorization", "credential", "credentials", "x-amz-credential" };
	static const char *const suffix[] = { "token", "_key", "-key", "secret", "password", "signature" };
	size_t i, k;

	for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strlen(exact[i]) == n && !strncasecmp(name, exact[i], n))
			return 1;
	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		k = strlen(suffix[i]);
		if (n >= k && !strncasecmp(name + n - k, suffix[i], k))
			return 1;
	}
	return 0;
}

/* Copies "name=value&..." (up to end), each secret value replaced. */
static void put_params(struct out *o, const char *s, const char *end)
{
	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s)), *eq;

		if (!amp)
			amp = end;
		eq = memchr(s, '=', (size_t)(amp - s));
		if (eq && secret_name(s, (size_t)(eq - s))) {
			put(o, s, (size_t)(eq + 1 - s));
			put(o, "REDACTED", 8);
		} else {
			put(o, s, (size_t)(amp - s));
		}
		if (amp < end)
			put(o, "&", 1);
		s = amp + 1;
	}
}

const char *adp_url_redact(char *out, size_t len, const char *url)
{
	struct out o = { out, len, 0 };
	const char *s = url ? url : "", *auth = s, *sep = strstr(s, "://"), *at, *q, *h, *end;
	size_t alen;

	if (len)
		out[0] = '\0';
	if (sep && sep < s + strcspn(s, "/?#")) {
		put(&o, s, (size_t)(sep + 3 - s));
		auth = sep + 3;
	} else if (*s == '/') {
		alen = 0; /* a path: no authority */
		goto rest;
	}
	alen = strcspn(auth, "/?#");
	/* The userinfo ends at the authority's last '@'. */
	for (at = NULL, q = auth; q < auth + alen; q++)
		if (*q == '@')
			at = q;
	if (at) {
		alen -= (size_t)(at + 1 - auth);
		auth = at + 1;
	}
	put(&o, auth, alen);
rest:
	s = auth + alen;
	q = strchr(s, '?');
	h = strchr(s, '#');
	end = s + strlen(s);
	if (q && h && h < q)
		q = NULL;
	put(&o, s, (size_t)((q ? q : h ? h : end) - s));
	if (q) {
		put(&o, "?", 1);
		put_params(&o, q + 1, h ? h : end);
	}
	if (h) {
		put(&o, "#", 1);
		put_params(&o, h + 1, end);
	}
	return out;
}

int adp_url_escape(char *out, size_t len, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (!len)
		return -1;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		    ch == '_' || ch == '.' || ch == '~') {
			if (o + 1 >= len)
				break;
			out[o++] = (char)ch;
		} else {
			if (o + 3 >= len)
				break;
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return *s ? -1 : 0;
}

/* --- the handle ---------------------------------------------------------- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void adp_http_global_init(void)
{
	pthread_once(&global_once, global_init_once);
}

static int is_cancelled(const struct adp_http *h)
{
	return h->o.cancelled && h->o.cancelled(h->o.cancel_arg);
}

/* libcurl's progress callback, called during every transfer, idle ones
 * included (about once a second): non-zero aborts it. */
static int on_progress(void *u, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return is_cancelled(u);
}

static void set_blob(CURL *c, CURLoption opt, const char *pem)
{
	struct curl_blob b = { (void *)pem, strlen(pem), CURL_BLOB_COPY };

	curl_easy_setopt(c, opt, &b);
}

int adp_http_init(struct adp_http *h, const struct adp_http_opts *o)
{
	CURL *c;

	memset(h, 0, sizeof(*h));
	adp_http_global_init();
	if (!(c = curl_easy_init()))
		return adp_error_set(ADP_ENOMEM, "cannot initialise libcurl");
	h->o = *o;
	h->curl = c;
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, o->https_only ? "https" : "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, o->follow_redirects ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)ADP_HTTP_MAX_REDIRECTS);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->connect_timeout > 0 ? o->connect_timeout : 10L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "adpart-update");
	if (o->direct)
		curl_easy_setopt(c, CURLOPT_PROXY, ""); /* "" turns the environment's proxies off */
	if (o->compressed)
		curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	if (o->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
	if (o->ca_pem)
		set_blob(c, CURLOPT_CAINFO_BLOB, o->ca_pem);
	if (o->cert_file)
		curl_easy_setopt(c, CURLOPT_SSLCERT, o->cert_file);
	if (o->key_file)
		curl_easy_setopt(c, CURLOPT_SSLKEY, o->key_file);
	if (o->cert_pem) {
		set_blob(c, CURLOPT_SSLCERT_BLOB, o->cert_pem);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (o->key_pem) {
		set_blob(c, CURLOPT_SSLKEY_BLOB, o->key_pem);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (o->cancelled) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, h);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	return 0;
}

void adp_http_release(struct adp_http *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	memset(h, 0, sizeof(*h));
}

/* --- one request --------------------------------------------------------- */

/* Where the answer goes: a capped body, or lines handed on. */
struct sink {
	struct adp_buf *body;
	struct adp_buf line;
	const struct adp_http_req *r;
	int stopped, too_big;
};

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct sink *s = userp;
	size_t n = size * nmemb, i, from = 0;

	if (!s->r->on_line) {
		/* Returning less than given aborts the transfer: the cap is hit. */
		if (adp_buf_add(s->body, data, n)) {
			s->too_big = 1;
			return 0;
		}
		return n;
	}
	for (i = 0; i < n; i++) {
		if (data[i] != '\n')
			continue;
		if (adp_buf_add(&s->line, data + from, i - from)) {
			s->too_big = 1;
			return 0;
		}
		from = i + 1;
		s->stopped = s->r->on_line(s->r->line_arg, adp_buf_str(&s->line), s->line.len);
		adp_buf_reset(&s->line);
		if (s->stopped)
			return 0;
	}
	if (adp_buf_add(&s->line, data + from, n - from)) {
		s->too_big = 1;
		return 0;
	}
	return n;
}

/* What a request carries besides the caller's: headers, and with a TLS
 * server name the URL naming it and where to connect instead. */
struct prep {
	char *url;
	struct curl_slist *headers, *connect_to;
};

static void prep_release(struct prep *p)
{
	curl_slist_free_all(p->headers);
	curl_slist_free_all(p->connect_to);
	free(p->url);
	memset(p, 0, sizeof(*p));
}

static int add_line(struct curl_slist **l, const char *line)
{
	struct curl_slist *n = curl_slist_append(*l, line);

	if (!n)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	*l = n;
	return 0;
}

/* The URL names the TLS server name, so that libcurl sends it as SNI and
 * checks the certificate against it; CURLOPT_CONNECT_TO (which leaves TLS
 * alone) sends the connection to the real host, and the Host header names
 * the real host as before. libcurl has no option that sets the SNI and
 * verified name alone. */
static int prep_tls_name(struct prep *p, const char *url, const char *name)
{
	const char *sep = strstr(url, "://"), *auth, *host, *hend, *at, *q;
	char *line = NULL, port[16];
	size_t alen;
	int https, rc = 0, br = strchr(name, ':') != NULL;

	if (!sep)
		return 0;
	https = !strncasecmp(url, "https", 5);
	auth = sep + 3;
	alen = strcspn(auth, "/?#");
	for (at = NULL, q = auth; q < auth + alen; q++)
		if (*q == '@')
			at = q;
	host = at ? at + 1 : auth;
	hend = *host == '[' ? memchr(host, ']', (size_t)(auth + alen - host)) : NULL;
	hend = hend ? hend + 1 : host + strcspn(host, ":/?#");
	if (hend > auth + alen)
		hend = auth + alen;
	snprintf(port, sizeof(port), "%.*s", *hend == ':' ? (int)(auth + alen - hend - 1) : 0, hend + 1);
	if (!port[0])
		snprintf(port, sizeof(port), "%s", https ? "443" : "80");
	if (asprintf(&p->url, "%.*s%s%s%s:%s%s", (int)(host - url), url, br ? "[" : "", name, br ? "]" : "", port,
		     auth + alen) < 0 ||
	    asprintf(&line, "%s%s%s:%s:%.*s:%s", br ? "[" : "", name, br ? "]" : "", port, (int)(hend - host), host,
		     port) < 0) {
		line = NULL;
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	if (!(rc = add_line(&p->connect_to, line))) {
		free(line);
		if (asprintf(&line, "Host: %.*s", (int)(auth + alen - host), host) < 0) {
			line = NULL;
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
		} else {
			rc = add_line(&p->headers, line);
		}
	}
	free(line);
	return rc;
}

static int fail(struct adp_http_res *res, enum adp_http_fail why, int code, const struct adp_http *h,
		const struct adp_http_req *r, const char *problem, int attempts)
{
	char shown[1024];

	res->fail = why;
	adp_url_redact(shown, sizeof(shown), r->shown ? r->shown : r->url);
	if (attempts > 1)
		return adp_error_set(code, "%s '%s': %s (after %d attempts)", h->o.what ? h->o.what : "HTTP", shown,
				     problem, attempts);
	return adp_error_set(code, "%s '%s': %s", h->o.what ? h->o.what : "HTTP", shown, problem);
}

static int is_tls_error(CURLcode cc)
{
	switch (cc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_USE_SSL_FAILED:
		return 1;
	default:
		return 0;
	}
}

/* Sleeps ms in short slices; non-zero (early) once cancelled. */
static int pause_ms(const struct adp_http *h, long ms)
{
	while (ms > 0 && !is_cancelled(h)) {
		long n = ms < 50 ? ms : 50;
		struct timespec ts = { 0, n * 1000000L };

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		ms -= n;
	}
	return is_cancelled(h);
}

/* Sets the method, body and credentials of r on the handle. */
static void set_request(CURL *c, const struct adp_http_req *r, int https)
{
	const char *method = r->method ? r->method : r->body ? "POST" : "GET";

	curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
	if (strcmp(method, "GET")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->body ? r->body_len : 0));
		if (strcmp(method, "POST"))
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, r->bearer);
	curl_easy_setopt(c, CURLOPT_USERNAME, r->bearer ? NULL : r->username);
	curl_easy_setopt(c, CURLOPT_PASSWORD, r->bearer ? NULL : r->password);
	curl_easy_setopt(c, CURLOPT_HTTPAUTH, r->bearer ? (long)CURLAUTH_BEARER : (long)CURLAUTH_BASIC);
	/* Credentials never follow a redirect to plain http. */
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
}

/* Forgets what set_request and the attempt loop set, secrets included. */
static void clear_request(CURL *c)
{
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, NULL);
	curl_easy_setopt(c, CURLOPT_USERNAME, NULL);
	curl_easy_setopt(c, CURLOPT_PASSWORD, NULL);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_CONNECT_TO, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
}

static int perform(struct adp_http *h, const struct adp_http_req *r, struct sink *s, struct adp_http_res *res)
{
	CURL *c = h->curl;
	char err[CURL_ERROR_SIZE];
	int retries = r->retries < 0 ? 0 : r->retries > ADP_HTTP_MAX_RETRIES ? ADP_HTTP_MAX_RETRIES : r->retries;
	size_t cap = r->max_bytes ? r->max_bytes : ADP_HTTP_MAX_BYTES;
	CURLcode cc;

	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, r->timeout > 0 ? r->timeout : h->o.timeout > 0 ? h->o.timeout : 30L);
	/* Refuses an announced Content-Length over the cap before the body
	 * comes; libcurl 7.88 does not apply it to a body of unknown length
	 * (8.4 does), nor to a decoded one: on_write's cap is the real one. */
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, r->on_line ? (curl_off_t)0 : (curl_off_t)cap);
	for (res->attempts = 1;; res->attempts++) {
		if (is_cancelled(h) || (res->attempts > 1 && pause_ms(h, 250L << (res->attempts - 2))))
			return fail(res, ADP_HTTP_CANCELLED, ADP_ESYS, h, r, "cancelled", 1);
		err[0] = '\0';
		s->stopped = s->too_big = 0;
		adp_buf_reset(s->body);
		adp_buf_reset(&s->line);
		res->status = 0;
		cc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
		if (cc == CURLE_WRITE_ERROR && s->stopped) {
			res->stopped = s->stopped;
			return 0;
		}
		if ((cc == CURLE_WRITE_ERROR && s->too_big) || cc == CURLE_FILESIZE_EXCEEDED) {
			char msg[64];

			snprintf(msg, sizeof(msg), "response larger than %zu bytes", cap);
			return fail(res, ADP_HTTP_TOO_BIG, ADP_EINPUT, h, r, msg, 1);
		}
		if (cc == CURLE_ABORTED_BY_CALLBACK)
			return fail(res, ADP_HTTP_CANCELLED, ADP_ESYS, h, r, "cancelled", 1);
		if (cc == CURLE_OK && ((res->status != 429 && res->status < 500) || res->attempts > retries))
			return 0;
		if (cc != CURLE_OK && (is_tls_error(cc) || res->attempts > retries))
			return fail(res, is_tls_error(cc) ? ADP_HTTP_TLS : ADP_HTTP_TRANSPORT, ADP_ESYS, h, r,
				    err[0] ? err : curl_easy_strerror(cc), res->attempts);
	}
}

int adp_http_request(struct adp_http *h, const struct adp_http_req *r, struct adp_buf *body,
		     struct adp_http_res *res)
{
	struct adp_http_res own;
	struct adp_buf drain = ADP_BUF_INIT;
	struct sink s = { body ? body : &drain, ADP_BUF_INIT, r, 0, 0 };
	struct prep p = { 0 };
	const char *const *hl;
	size_t cap = r->max_bytes ? r->max_bytes : ADP_HTTP_MAX_BYTES;
	int https = r->url && !strncasecmp(r->url, "https://", 8), rc = 0;

	if (!res)
		res = &own;
	memset(res, 0, sizeof(*res));
	if (!r->url || (!https && strncasecmp(r->url, "http://", 7)) || (!https && h->o.https_only))
		return fail(res, ADP_HTTP_REFUSED, ADP_EINPUT, h, r,
			    h->o.https_only ? "not an https:// URL" : "not an http:// or https:// URL", 1);
	if (r->bearer && !https)
		return fail(res, ADP_HTTP_REFUSED, ADP_EINPUT, h, r,
			    "a bearer token is never sent over plain http: use https://", 1);
	s.body->cap = cap; /* the caller's contents are kept until the first attempt resets them */
	adp_buf_init(&s.line, cap);
	if (h->o.tls_server_name && (rc = prep_tls_name(&p, r->url, h->o.tls_server_name)))
		goto done;
	for (hl = r->headers; hl && *hl; hl++)
		if ((rc = add_line(&p.headers, *hl)))
			goto done;
	set_request(h->curl, r, https);
	curl_easy_setopt(h->curl, CURLOPT_URL, p.url ? p.url : r->url);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, p.headers);
	curl_easy_setopt(h->curl, CURLOPT_CONNECT_TO, p.connect_to);
	rc = perform(h, r, &s, res);
	clear_request(h->curl);
done:
	prep_release(&p);
	adp_buf_release(&s.line);
	adp_buf_release(&drain);
	return rc;
}
