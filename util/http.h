/* The one HTTP client of the tool, on libcurl: every request the tool
 * makes goes through it, so that caps, timeouts, TLS and the secrets in
 * messages are handled in one place.
 *
 * - The response body is capped by the caller; over the cap is an error.
 * - TLS is always verified (there is no option to turn it off); an extra
 *   CA (file or PEM), a client certificate and key, and a TLS server name
 *   other than the URL's host may be given.
 * - A bearer token is sent only over https://; credentials never appear in
 *   messages: every message names the URL through adp_url_redact.
 * - Redirects are not followed unless asked; retries only when asked, on
 *   transport errors (not TLS ones), 429 and 5xx.
 * - A cancellation callback is asked before each attempt, during the
 *   transfer (libcurl's progress callback, at least once a second while
 *   idle) and during the pauses between attempts.
 * - A streaming mode hands each line to a callback as it arrives. */
#ifndef ADP_HTTP_H
#define ADP_HTTP_H

#include <stddef.h>

#include "util/buf.h"

#define ADP_HTTP_MAX_BYTES ((size_t)64 << 20) /* default body cap */
#define ADP_HTTP_MAX_RETRIES 10
#define ADP_HTTP_MAX_REDIRECTS 5

/* Writes url into out (len bytes, cut if longer) without its secrets: the
 * userinfo ("user:pass@") is dropped, and the values of query or fragment
 * parameters named like secrets (token, access_token, password, key,
 * secret, signature, ... and names ending in _token, _key, _secret,
 * _password) become "REDACTED". Returns out, for use in messages. */
const char *adp_url_redact(char *out, size_t len, const char *url);

/* Percent-encodes s for a query string (all but RFC 3986's unreserved
 * characters) into out. Returns 0, or -1 when it does not fit (out then
 * holds as much as fits, still a valid encoding). */
int adp_url_escape(char *out, size_t len, const char *s);

struct adp_http_opts {
	const char *what;        /* borrowed: subject of messages ("prometheus"); NULL: "HTTP" */
	long connect_timeout;    /* seconds; 0: 10 */
	long timeout;            /* seconds per attempt; 0: 30 */
	int https_only;          /* refuse http:// URLs */
	int direct;              /* never through a proxy from the environment (http_proxy, ...) */
	int follow_redirects;    /* up to ADP_HTTP_MAX_REDIRECTS, never from https to http */
	int compressed;          /* ask for gzip/deflate bodies (the cap applies to the decoded body) */
	/* TLS, all borrowed and optional: trust added to the system's CAs,
	 * and the client's certificate and key, as files or PEM text. */
	const char *ca_file, *ca_pem;
	const char *cert_file, *key_file, *cert_pem, *key_pem;
	/* Borrowed, optional: the name the server's certificate is checked
	 * against and sent as SNI, instead of the URL's host (a kubeconfig's
	 * tls-server-name). The connection still goes to the URL's host. */
	const char *tls_server_name;
	/* Optional: non-zero cancels the request ("cancelled"). Runs on the
	 * requesting thread; cancel_arg is borrowed. */
	int (*cancelled)(void *cancel_arg);
	void *cancel_arg;
};

/* A handle: options and a libcurl handle whose connections are reused
 * from one request to the next. One thread at a time. */
struct adp_http {
	struct adp_http_opts o; /* copied; its pointers stay borrowed and must outlive the handle */
	void *curl;             /* owned CURL * */
};

/* One request; every pointer is borrowed for the call. */
struct adp_http_req {
	const char *method;          /* NULL: GET, or POST when body is set */
	const char *url;             /* http:// or https:// */
	const char *shown;           /* what messages name (redacted); NULL: url */
	const char *const *headers;  /* NULL-terminated "Name: value" lines; NULL: none */
	const char *body;            /* request body, or NULL */
	size_t body_len;
	const char *bearer;          /* secret: "Authorization: Bearer"; https:// only */
	const char *username;        /* basic authentication, with password */
	const char *password;        /* secret */
	size_t max_bytes;            /* body cap (streaming: line cap); 0: ADP_HTTP_MAX_BYTES */
	long timeout;                /* seconds for this request; 0: the handle's */
	int retries;                 /* extra attempts (capped at ADP_HTTP_MAX_RETRIES), after 0.25 s, 0.5 s, ... */
	/* Streaming (optional): each '\n'-terminated line, without it, as it
	 * arrives (a last line without '\n' is dropped); the body is then not
	 * kept. Non-zero stops the transfer, which succeeds with the value in
	 * res->stopped. */
	int (*on_line)(void *line_arg, const char *line, size_t len);
	void *line_arg;
};

/* Why a request failed, for callers that word some failures their own way. */
enum adp_http_fail {
	ADP_HTTP_OK,
	ADP_HTTP_REFUSED,   /* not sent: the URL or the credentials were refused */
	ADP_HTTP_CANCELLED,
	ADP_HTTP_TOO_BIG,   /* the body (streaming: a line) passed max_bytes */
	ADP_HTTP_TLS,       /* handshake or verification failed (never retried) */
	ADP_HTTP_TRANSPORT, /* connection, timeout, protocol */
};

struct adp_http_res {
	long status;            /* HTTP status of the last attempt; 0: none */
	int attempts;
	int stopped;            /* on_line's non-zero value */
	enum adp_http_fail fail;
};

/* Calls curl_global_init once for the process (pthread_once). */
void adp_http_global_init(void);

int adp_http_init(struct adp_http *h, const struct adp_http_opts *o);
/* NULL-safe; the handle may be initialised again. */
void adp_http_release(struct adp_http *h);

/* Performs r. On success (any HTTP status: a 4xx or 5xx answer is no
 * failure here; 429 and 5xx are retried first when r->retries allows)
 * res->status is set and body (may be NULL; reset first, its cap replaced
 * by r->max_bytes) holds the answer. On failure a negative ADP_E* with a
 * message "<what> '<redacted shown>': <problem>", and res->fail says why.
 * res may be NULL. */
int adp_http_request(struct adp_http *h, const struct adp_http_req *r, struct adp_buf *body,
		     struct adp_http_res *res);

#endif
