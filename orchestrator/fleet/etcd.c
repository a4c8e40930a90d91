#include "orchestrator/fleet/etcd.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/error.h"

/* --- base64 (the gateway's bytes) ---------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 of len bytes of s (owned: free), or NULL. */
static char *b64_encode(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		*o++ = b64[u[i] >> 2];
		*o++ = b64[((u[i] & 3) << 4) | (u[i + 1] >> 4)];
		*o++ = b64[((u[i + 1] & 15) << 2) | (u[i + 2] >> 6)];
		*o++ = b64[u[i + 2] & 63];
	}
	if (i < len) {
		*o++ = b64[u[i] >> 2];
		if (i + 1 < len) {
			*o++ = b64[((u[i] & 3) << 4) | (u[i + 1] >> 4)];
			*o++ = b64[(u[i + 1] & 15) << 2];
		} else {
			*o++ = b64[(u[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

/* Decodes standard base64 into *out (owned, NUL-terminated) and *len;
 * -1 when malformed or out of memory. */
static int b64_decode(const char *in, char **out, size_t *len)
{
	size_t n = strlen(in), k = 0;
	unsigned acc = 0;
	int bits = 0;
	char *o = malloc(n / 4 * 3 + 4);

	if (!o)
		return -1;
	for (; *in && *in != '='; in++) {
		const char *p = strchr(b64, *in);

		if (!p || !*in) {
			free(o);
			return -1;
		}
		acc = (acc << 6) | (unsigned)(p - b64);
		if ((bits += 6) >= 8) {
			bits -= 8;
			o[k++] = (char)((acc >> bits) & 0xff);
		}
	}
	o[k] = '\0';
	*out = o;
	*len = k;
	return 0;
}

/* --- endpoints ------------------------------------------------------------ */

/* Whether url (n bytes) is http(s)://HOST[:PORT][/]. */
static int endpoint_ok(const char *url, size_t n)
{
	size_t skip = n >= 7 && !strncasecmp(url, "http://", 7) ? 7 : n >= 8 && !strncasecmp(url, "https://", 8) ? 8 : 0;
	size_t i;

	if (!skip || n == skip)
		return 0;
	if (url[n - 1] == '/')
		n--;
	if (n == skip)
		return 0;
	for (i = skip; i < n; i++)
		if (url[i] == '/' || url[i] == '?' || url[i] == '#' || url[i] == '@' || url[i] == ' ' ||
		    (unsigned char)url[i] < 0x21)
			return 0;
	return 1;
}

int etcd_endpoints_check(const char *list)
{
	const char *s = list ? list : "";
	size_t count = 0;

	do {
		size_t n = strcspn(s, ",");
		char one[1024], shown[1024];

		if (++count > ETCD_MAX_ENDPOINTS)
			return adp_error_set(ADP_EINPUT, "more than %d etcd endpoints", ETCD_MAX_ENDPOINTS);
		if (!endpoint_ok(s, n)) {
			snprintf(one, sizeof(one), "%.*s", (int)(n < 1000 ? n : 1000), s);
			return adp_error_set(ADP_EINPUT,
					     "etcd endpoint '%s' is not http://HOST:PORT or https://HOST:PORT "
					     "(several: comma-separated, no spaces)",
					     adp_url_redact(shown, sizeof(shown), one));
		}
		s += n;
	} while (*s++ == ',');
	return 0;
}

/* A TLS file that cannot be read is named now, not as a failed handshake. */
static int readable(const char *path, const char *what)
{
	if (path && access(path, R_OK))
		return adp_error_set(ADP_EINPUT, "etcd %s '%s': %s", what, path, strerror(errno));
	return 0;
}

int etcd_init(struct etcd_client *c, const struct etcd_opts *o)
{
	struct adp_http_opts h = { 0 };
	const char *s = o->endpoints;
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = etcd_endpoints_check(s)) || (rc = readable(o->ca_file, "CA file")) ||
	    (rc = readable(o->cert_file, "client certificate")) || (rc = readable(o->key_file, "client key")))
		return rc;
	if ((o->cert_file != NULL) != (o->key_file != NULL))
		return adp_error_set(ADP_EINPUT, "an etcd client certificate needs its key, and a key its certificate");
	do {
		size_t n = strcspn(s, ",");

		if (n && s[n - 1] == '/')
			n--;
		if (!(c->urls[c->nurls] = strndup(s, n))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto fail;
		}
		c->nurls++;
		s += strcspn(s, ",");
	} while (*s++ == ',');
	if ((rc = adp_strdup_opt(&c->ca_file, o->ca_file)) || (rc = adp_strdup_opt(&c->cert_file, o->cert_file)) ||
	    (rc = adp_strdup_opt(&c->key_file, o->key_file)))
		goto fail;
	c->timeout = o->timeout > 0 ? o->timeout : ETCD_TIMEOUT;
	h.what = "etcd";
	h.connect_timeout = c->timeout < 5 ? c->timeout : 5;
	h.timeout = c->timeout;
	h.direct = 1; /* the cluster is never reached through an environment proxy */
	h.ca_file = c->ca_file;
	h.cert_file = c->cert_file;
	h.key_file = c->key_file;
	h.cancelled = o->cancelled;
	h.cancel_arg = o->cancel_arg;
	if ((rc = adp_http_init(&c->http, &h)))
		goto fail;
	return 0;
fail:
	etcd_release(c);
	return rc;
}

void etcd_release(struct etcd_client *c)
{
	size_t i;

	if (!c)
		return;
	adp_http_release(&c->http);
	for (i = 0; i < c->nurls; i++)
		free(c->urls[i]);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	memset(c, 0, sizeof(*c));
}

const char *etcd_endpoint_shown(const struct etcd_client *c, char *buf, size_t len)
{
	return adp_url_redact(buf, len, c->nurls ? c->urls[c->cur] : "");
}

/* --- requests --------------------------------------------------------------- */

/* POSTs req (borrowed) to path at the current endpoint, moving on to
 * the next ones in turn while one cannot be reached. *out (owned) is
 * the answer of a 200; any other status is an error with etcd's
 * message. */
static int call(struct etcd_client *c, const char *path, json_t *req, json_t **out)
{
	static const char *const headers[] = { "Content-Type: application/json", "Accept: application/json", NULL };
	struct adp_buf body = ADP_BUF_INIT;
	struct adp_http_req r = { 0 };
	struct adp_http_res res = { 0 };
	char *text = json_dumps(req, JSON_COMPACT), *url = NULL, shown[1024];
	json_error_t e;
	json_t *doc = NULL;
	size_t tried;
	int rc = 0;

	*out = NULL;
	if (!text)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	r.method = "POST";
	r.headers = headers;
	r.body = text;
	r.body_len = strlen(text);
	r.max_bytes = ETCD_MAX_RESPONSE;
	for (tried = 0; tried < c->nurls; tried++) {
		free(url);
		if (asprintf(&url, "%s%s", c->urls[c->cur], path) < 0) {
			url = NULL;
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		r.url = url;
		r.shown = c->urls[c->cur];
		rc = adp_http_request(&c->http, &r, &body, &res);
		if (!rc || res.fail != ADP_HTTP_TRANSPORT || c->nurls == 1)
			break;
		c->cur = (c->cur + 1) % c->nurls;
	}
	if (rc && res.fail == ADP_HTTP_TRANSPORT && c->nurls > 1)
		rc = adp_error_wrap(rc, "no etcd endpoint of %zu answered; the last", c->nurls);
	if (rc)
		goto done;
	adp_url_redact(shown, sizeof(shown), c->urls[c->cur]);
	doc = json_loadb(body.data ? body.data : "", body.len, 0, &e);
	if (res.status != 200) {
		const char *m = json_string_value(json_object_get(doc, "message"));

		rc = adp_error_set(ADP_ESYS, "etcd '%s' %s: HTTP %ld%s%.300s", shown, path, res.status, m ? ": " : "",
				   m ? m : "");
		goto done;
	}
	if (!json_is_object(doc)) {
		rc = adp_error_set(ADP_ESYS, "etcd '%s' %s: the answer is not a JSON object (is it etcd's v3 gateway?)",
				   shown, path);
		goto done;
	}
	*out = doc;
	doc = NULL;
done:
	json_decref(doc);
	adp_buf_release(&body);
	free(url);
	free(text);
	return rc;
}

/* A 64-bit integer the gateway writes as a string (or a number); 0 when absent. */
static int64_t int64_of(json_t *v)
{
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_string(v))
		return (int64_t)strtoll(json_string_value(v), NULL, 10);
	return 0;
}

static json_t *int64_json(int64_t v)
{
	char s[32];

	snprintf(s, sizeof(s), "%lld", (long long)v);
	return json_string(s);
}

/* A base64 string for bytes (a key or value), or NULL. */
static json_t *bytes_json(const char *s, size_t len)
{
	char *e = b64_encode(s, len);
	json_t *v = e ? json_string(e) : NULL;

	free(e);
	return v;
}

/* The request object from "name", value pairs ending in NULL; the
 * values are taken (a NULL one: out of memory). */
static json_t *object_of(const char *name, ...)
{
	json_t *o = json_object();
	va_list ap;
	int failed = !o;

	va_start(ap, name);
	for (; name; name = va_arg(ap, const char *)) {
		json_t *v = va_arg(ap, json_t *);

		if (!v || failed) {
			json_decref(v);
			failed = 1;
		} else if (json_object_set_new(o, name, v)) {
			failed = 1;
		}
	}
	va_end(ap);
	if (failed) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int etcd_lease_grant(struct etcd_client *c, long ttl, int64_t *id, long *granted)
{
	json_t *req = object_of("TTL", json_integer(ttl), NULL), *ans;
	int rc;

	if (!req)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	rc = call(c, "/v3/lease/grant", req, &ans);
	json_decref(req);
	if (rc)
		return rc;
	if (!int64_of(json_object_get(ans, "ID")) || int64_of(json_object_get(ans, "TTL")) <= 0) {
		const char *m = json_string_value(json_object_get(ans, "error"));

		json_decref(ans);
		return adp_error_set(ADP_ESYS, "etcd granted no lease%s%.300s", m ? ": " : "", m ? m : "");
	}
	*id = int64_of(json_object_get(ans, "ID"));
	*granted = (long)int64_of(json_object_get(ans, "TTL"));
	json_decref(ans);
	return 0;
}

int etcd_lease_keepalive(struct etcd_client *c, int64_t id, long *ttl)
{
	json_t *req = object_of("ID", int64_json(id), NULL), *ans, *res;
	int rc;

	if (!req)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	/* A stream in gRPC; through the gateway, one answer per request,
	 * wrapped in "result" (no TTL once the lease is gone). */
	rc = call(c, "/v3/lease/keepalive", req, &ans);
	json_decref(req);
	if (rc)
		return rc;
	res = json_object_get(ans, "result");
	if (!json_is_object(res)) {
		const char *m = json_string_value(json_object_get(json_object_get(ans, "error"), "message"));

		rc = adp_error_set(ADP_ESYS, "etcd keepalive of lease %lld: no result%s%.300s", (long long)id,
				   m ? ": " : "", m ? m : "");
	} else {
		int64_t t = int64_of(json_object_get(res, "TTL"));

		*ttl = t > 0 ? (long)t : 0;
	}
	json_decref(ans);
	return rc;
}

int etcd_lease_revoke(struct etcd_client *c, int64_t id)
{
	json_t *req = object_of("ID", int64_json(id), NULL), *ans;
	int rc;

	if (!req)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	rc = call(c, "/v3/lease/revoke", req, &ans);
	json_decref(req);
	if (rc && strstr(adp_error_last(), "lease not found")) {
		adp_error_clear();
		rc = 0;
	}
	json_decref(ans);
	return rc;
}

void etcd_kvs_free(struct etcd_kv *kvs, size_t n)
{
	size_t i;

	for (i = 0; kvs && i < n; i++) {
		free(kvs[i].key);
		free(kvs[i].value);
	}
	free(kvs);
}

/* The kvs of a range answer into a new array. */
static int kvs_of(json_t *arr, struct etcd_kv **out, size_t *n)
{
	size_t i, len;
	json_t *kv;
	struct etcd_kv *kvs = calloc(json_array_size(arr) + 1, sizeof(*kvs));

	if (!kvs)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_array_foreach(arr, i, kv) {
		const char *k = json_string_value(json_object_get(kv, "key"));
		const char *v = json_string_value(json_object_get(kv, "value"));

		if (!k || b64_decode(k, &kvs[i].key, &len) || b64_decode(v ? v : "", &kvs[i].value, &kvs[i].value_len)) {
			etcd_kvs_free(kvs, i + 1);
			return adp_error_set(ADP_ESYS, "etcd answered a key or value that is not base64");
		}
		kvs[i].lease = int64_of(json_object_get(kv, "lease"));
		kvs[i].create_revision = int64_of(json_object_get(kv, "create_revision"));
	}
	*out = kvs;
	*n = json_array_size(arr);
	return 0;
}

int etcd_range(struct etcd_client *c, const char *key, const char *range_end, long limit, struct etcd_kv **kvs,
	       size_t *n)
{
	json_t *req = object_of("key", bytes_json(key, strlen(key)), NULL), *ans;
	int rc;

	if (req && range_end && json_object_set_new(req, "range_end", bytes_json(range_end, strlen(range_end))))
		json_decref(req), req = NULL;
	if (req && limit > 0 && json_object_set_new(req, "limit", json_integer(limit)))
		json_decref(req), req = NULL;
	if (!req)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	rc = call(c, "/v3/kv/range", req, &ans);
	json_decref(req);
	if (rc)
		return rc;
	rc = kvs_of(json_object_get(ans, "kvs"), kvs, n);
	json_decref(ans);
	return rc;
}

int etcd_put_if(struct etcd_client *c, const char *key, const char *value, int64_t lease, int if_lease, int *ok)
{
	json_t *cmp, *put, *req, *ans;
	int rc;

	if (if_lease)
		cmp = object_of("key", bytes_json(key, strlen(key)), "target", json_string("LEASE"), "result",
				json_string("EQUAL"), "lease", int64_json(lease), NULL);
	else
		cmp = object_of("key", bytes_json(key, strlen(key)), "target", json_string("CREATE"), "result",
				json_string("EQUAL"), "create_revision", json_string("0"), NULL);
	put = object_of("request_put",
			object_of("key", bytes_json(key, strlen(key)), "value", bytes_json(value, strlen(value)),
				  "lease", int64_json(lease), NULL),
			NULL);
	req = object_of("compare", cmp ? json_pack("[o]", cmp) : NULL, "success", put ? json_pack("[o]", put) : NULL,
			NULL);
	if (!req)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	rc = call(c, "/v3/kv/txn", req, &ans);
	json_decref(req);
	if (rc)
		return rc;
	/* "succeeded" is left out when false, as proto3 leaves defaults. */
	*ok = json_is_true(json_object_get(ans, "succeeded"));
	json_decref(ans);
	return 0;
}
