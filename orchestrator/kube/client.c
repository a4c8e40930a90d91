#include "orchestrator/kube/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/fsutil.h"

/* Frees a secret, wiped first. */
static void free_secret(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

void kube_config_release(struct kube_config *c)
{
	if (!c)
		return;
	free(c->source);
	free(c->context);
	free(c->server);
	free(c->ca_file);
	free(c->ca_pem);
	free(c->cert_file);
	free(c->key_file);
	free(c->cert_pem);
	free_secret(c->key_pem);
	free_secret(c->token);
	free(c->token_file);
	free(c->ns);
	free(c->tls_server_name);
	memset(c, 0, sizeof(*c));
}

int kube_base64_decode(const char *in, char **out, size_t *len)
{
	size_t n = strlen(in), o = 0;
	unsigned acc = 0;
	int bits = 0, pad = 0;
	char *buf = malloc(n / 4 * 3 + 4);
	const char *p;

	if (!buf)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (p = in; *p; p++) {
		int v;
		char ch = *p;

		if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
			continue;
		if (ch == '=') {
			pad++;
			continue;
		}
		if (pad)
			goto bad;
		if (ch >= 'A' && ch <= 'Z')
			v = ch - 'A';
		else if (ch >= 'a' && ch <= 'z')
			v = ch - 'a' + 26;
		else if (ch >= '0' && ch <= '9')
			v = ch - '0' + 52;
		else if (ch == '+')
			v = 62;
		else if (ch == '/')
			v = 63;
		else
			goto bad;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (pad > 2 || bits >= 6)
		goto bad;
	buf[o] = '\0';
	*out = buf;
	if (len)
		*len = o;
	return 0;
bad:
	free(buf);
	return adp_error_set(ADP_EINPUT, "not valid base64");
}

int kube_quantity(const char *s, double *out)
{
	static const struct {
		const char *suf;
		double mul;
	} sufs[] = { { "Ki", 1024.0 }, { "Mi", 1048576.0 }, { "Gi", 1073741824.0 }, { "Ti", 1099511627776.0 },
		     { "Pi", 1125899906842624.0 }, { "Ei", 1152921504606846976.0 }, { "n", 1e-9 },
		     { "u", 1e-6 }, { "m", 1e-3 }, { "k", 1e3 }, { "M", 1e6 }, { "G", 1e9 }, { "T", 1e12 },
		     { "P", 1e15 }, { "E", 1e18 }, { "", 1 } };
	char *end;
	double v;
	size_t i;

	if (!s || !*s || !((*s >= '0' && *s <= '9') || *s == '.' || *s == '+' || *s == '-'))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0 || strpbrk(s, "xX"))
		return -1;
	for (i = 0; i < sizeof(sufs) / sizeof(sufs[0]); i++)
		if (!strcmp(end, sufs[i].suf)) {
			*out = v * sufs[i].mul;
			return 0;
		}
	return -1;
}

/* --- kubeconfig ------------------------------------------------------ */

struct kc {
	const char *path;
	yaml_document_t doc;
};

static int kc_fail(const struct kc *k, const yaml_node_t *n, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int kc_fail(const struct kc *k, const yaml_node_t *n, const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n)
		return adp_error_set(ADP_EINPUT, "%s:%zu: %s: %s", k->path, n->start_mark.line + 1, field, msg);
	return adp_error_set(ADP_EINPUT, "%s: %s: %s", k->path, field, msg);
}

static yaml_node_t *kc_get(const struct kc *k, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pr;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = yaml_document_get_node((yaml_document_t *)&k->doc, pr->key);
		if (kn && kn->type == YAML_SCALAR_NODE && !strcmp((const char *)kn->data.scalar.value, key))
			return yaml_document_get_node((yaml_document_t *)&k->doc, pr->value);
	}
	return NULL;
}

static const char *kc_scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Optional string field: 0 with *out NULL when absent. */
static int kc_str(const struct kc *k, yaml_node_t *map, const char *jpath, const char *key, const char **out)
{
	yaml_node_t *n = kc_get(k, map, key);
	char field[256];

	*out = NULL;
	if (!n)
		return 0;
	snprintf(field, sizeof(field), "%s.%s", jpath, key);
	if (n->type != YAML_SCALAR_NODE)
		return kc_fail(k, n, field, "expected a string");
	*out = kc_scalar(n);
	return 0;
}

/* Finds the entry name == want in the sequence key ("clusters", ...);
 * *inner is its value under field ("cluster", ...). */
static int kc_named(const struct kc *k, yaml_node_t *root, const char *key, const char *field, const char *want,
		    const char *why, yaml_node_t **inner, char *jpath, size_t jlen)
{
	yaml_node_t *seq = kc_get(k, root, key);
	yaml_node_item_t *it;
	size_t i = 0;

	if (seq && seq->type != YAML_SEQUENCE_NODE)
		return kc_fail(k, seq, key, "expected a list");
	for (it = seq ? seq->data.sequence.items.start : NULL; seq && it < seq->data.sequence.items.top; it++, i++) {
		yaml_node_t *e = yaml_document_get_node((yaml_document_t *)&k->doc, *it);
		const char *name = kc_scalar(kc_get(k, e, "name"));
		char ep[64];

		snprintf(ep, sizeof(ep), "%s[%zu]", key, i);
		if (!e || e->type != YAML_MAPPING_NODE)
			return kc_fail(k, e, ep, "expected a mapping with name and %s", field);
		if (!name || strcmp(name, want))
			continue;
		*inner = kc_get(k, e, field);
		snprintf(jpath, jlen, "%s.%s", ep, field);
		if (!*inner || (*inner)->type != YAML_MAPPING_NODE)
			return kc_fail(k, *inner ? *inner : e, jpath, "expected a mapping");
		return 0;
	}
	return kc_fail(k, seq, key, "no %s named '%s' (%s)", field, want, why);
}

/* Copies a path field, resolved against the kubeconfig's directory. */
static int kc_path(const struct kc *k, const char *val, char **out)
{
	if (!val)
		return 0;
	if (!(*out = adp_path_relative_to(k->path, val)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}

static int kc_b64(const struct kc *k, yaml_node_t *map, const char *jpath, const char *key, char **out)
{
	const char *v;
	char field[256];
	int rc;

	if ((rc = kc_str(k, map, jpath, key, &v)) || !v)
		return rc;
	snprintf(field, sizeof(field), "%s.%s", jpath, key);
	if (kube_base64_decode(v, out, NULL))
		return kc_fail(k, kc_get(k, map, key), field, "not valid base64");
	return 0;
}

static int kc_parse(struct kube_config *c, struct kc *k, const char *context)
{
	yaml_node_t *root = yaml_document_get_root_node(&k->doc), *ctx = NULL, *cl = NULL, *us = NULL, *n;
	const char *cur, *cluster, *user, *s, *ns;
	char cpath[128], clpath[128], upath[128];
	int rc;

	if (!root || root->type != YAML_MAPPING_NODE)
		return kc_fail(k, root, "(top level)", "expected a mapping with clusters, users and contexts");
	if ((rc = kc_str(k, root, "", "current-context", &cur)))
		return rc;
	if (!context && (!cur || !*cur))
		return kc_fail(k, root, "current-context", "not set: pass --context NAME");
	if (!context)
		context = cur;
	if ((rc = kc_named(k, root, "contexts", "context", context,
			   context == cur ? "named by current-context" : "named by --context", &ctx, cpath,
			   sizeof(cpath))))
		return rc;
	if ((rc = kc_str(k, ctx, cpath, "cluster", &cluster)) || (rc = kc_str(k, ctx, cpath, "user", &user)) ||
	    (rc = kc_str(k, ctx, cpath, "namespace", &ns)))
		return rc;
	if (!cluster)
		return kc_fail(k, ctx, cpath, "missing required field 'cluster'");
	if ((rc = kc_named(k, root, "clusters", "cluster", cluster, "named by the context", &cl, clpath,
			   sizeof(clpath))))
		return rc;
	if ((rc = kc_str(k, cl, clpath, "server", &s)))
		return rc;
	if (!s)
		return kc_fail(k, cl, clpath, "missing required field 'server'");
	if (strncmp(s, "https://", 8))
		return kc_fail(k, kc_get(k, cl, "server"), "server",
			       "'%s' is not an https:// URL: plain HTTP to the API server is refused", s);
	if ((n = kc_get(k, cl, "insecure-skip-tls-verify")) && kc_scalar(n) && !strcmp(kc_scalar(n), "true"))
		return kc_fail(k, n, "insecure-skip-tls-verify",
			       "TLS verification cannot be turned off: give certificate-authority or certificate-authority-data");
	if (kc_get(k, cl, "proxy-url"))
		return kc_fail(k, kc_get(k, cl, "proxy-url"), "proxy-url", "not supported");
	if (!(c->server = strdup(s)) || !(c->context = strdup(context)) || (ns && !(c->ns = strdup(ns))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	while (strlen(c->server) > 8 && c->server[strlen(c->server) - 1] == '/')
		c->server[strlen(c->server) - 1] = '\0';
	if ((rc = kc_str(k, cl, clpath, "certificate-authority", &s)) || (rc = kc_path(k, s, &c->ca_file)) ||
	    (rc = kc_b64(k, cl, clpath, "certificate-authority-data", &c->ca_pem)) ||
	    (rc = kc_str(k, cl, clpath, "tls-server-name", &s)))
		return rc;
	if (s && !(c->tls_server_name = strdup(s)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (!user)
		return 0; /* anonymous */
	if ((rc = kc_named(k, root, "users", "user", user, "named by the context", &us, upath, sizeof(upath))))
		return rc;
	if ((n = kc_get(k, us, "exec")))
		return kc_fail(k, n, "exec",
			       "exec credential plugins are not supported: use a token, tokenFile or client certificate "
			       "(for example a service account token)");
	if ((n = kc_get(k, us, "auth-provider")))
		return kc_fail(k, n, "auth-provider", "auth-provider plugins are not supported: use a token, tokenFile or client certificate");
	if ((n = kc_get(k, us, "username")) || (n = kc_get(k, us, "password")))
		return kc_fail(k, n, "username", "basic authentication is not supported: use a token or client certificate");
	if ((rc = kc_str(k, us, upath, "token", &s)))
		return rc;
	if (s && !(c->token = strdup(s)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if ((rc = kc_str(k, us, upath, "tokenFile", &s)) || (rc = kc_path(k, s, &c->token_file)) ||
	    (rc = kc_str(k, us, upath, "client-certificate", &s)) || (rc = kc_path(k, s, &c->cert_file)) ||
	    (rc = kc_str(k, us, upath, "client-key", &s)) || (rc = kc_path(k, s, &c->key_file)) ||
	    (rc = kc_b64(k, us, upath, "client-certificate-data", &c->cert_pem)) ||
	    (rc = kc_b64(k, us, upath, "client-key-data", &c->key_pem)))
		return rc;
	if (!(c->cert_file || c->cert_pem) != !(c->key_file || c->key_pem))
		return kc_fail(k, us, upath, "a client certificate needs its key and a key its certificate");
	return 0;
}

int kube_config_load(struct kube_config *c, const char *path, const char *context)
{
	yaml_parser_t parser;
	struct kc k = { 0 };
	char *text = NULL, *def = NULL;
	size_t len = 0;
	int rc, parsed = 0;

	memset(c, 0, sizeof(*c));
	if (!path && (path = getenv("KUBECONFIG")) && *path) {
		if (strchr(path, ':'))
			return adp_error_set(ADP_EINPUT,
					     "KUBECONFIG names several files ('%s'): merging is not supported, pass one with --kubeconfig",
					     path);
	} else if (!path) {
		const char *home = getenv("HOME");

		if (!home || asprintf(&def, "%s/.kube/config", home) < 0)
			return adp_error_set(ADP_EINPUT, "no kubeconfig: set KUBECONFIG or pass --kubeconfig");
		path = def;
	}
	if ((rc = adp_read_file(&text, &len, path, KUBE_MAX_CONFIG))) {
		rc = adp_error_wrap(ADP_EINPUT, "kubeconfig");
		goto done;
	}
	k.path = path;
	if (!yaml_parser_initialize(&parser)) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &k.doc)) {
		rc = adp_error_set(ADP_EINPUT, "%s:%zu:%zu: not valid YAML: %s", path, parser.problem_mark.line + 1,
				   parser.problem_mark.column + 1, parser.problem ? parser.problem : "syntax error");
		yaml_parser_delete(&parser);
		goto done;
	}
	parsed = 1;
	yaml_parser_delete(&parser);
	rc = kc_parse(c, &k, context);
	if (!rc && !(c->source = strdup(path)))
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
done:
	if (parsed)
		yaml_document_delete(&k.doc);
	if (text)
		explicit_bzero(text, len);
	free(text);
	free(def);
	if (rc)
		kube_config_release(c);
	return rc;
}

int kube_config_in_cluster(struct kube_config *c, const char *sa_dir)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	char *nsf = NULL, *ns = NULL;
	int rc = 0;

	memset(c, 0, sizeof(*c));
	if (!sa_dir)
		sa_dir = KUBE_SA_DIR;
	if (!host || !*host || !port || !*port)
		return adp_error_set(ADP_EINPUT,
				     "in-cluster configuration needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT");
	if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
		return adp_error_set(ADP_EINPUT, "KUBERNETES_SERVICE_PORT '%s' is not a port number", port);
	if (asprintf(&c->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port) < 0 ||
	    asprintf(&c->token_file, "%s/token", sa_dir) < 0 || asprintf(&c->ca_file, "%s/ca.crt", sa_dir) < 0 ||
	    asprintf(&nsf, "%s/namespace", sa_dir) < 0 || !(c->source = strdup("in-cluster"))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	if (!adp_read_file(&ns, NULL, nsf, 256)) {
		ns[strcspn(ns, "\r\n")] = '\0';
		if (*ns)
			c->ns = ns, ns = NULL;
	}
	if (access(c->ca_file, R_OK))
		rc = adp_error_set(ADP_EINPUT, "in-cluster: cannot read the cluster CA '%s': %s", c->ca_file,
				   strerror(errno));
	else if (access(c->token_file, R_OK))
		rc = adp_error_set(ADP_EINPUT, "in-cluster: cannot read the service account token '%s': %s",
				   c->token_file, strerror(errno));
done:
	free(nsf);
	free(ns);
	if (rc)
		kube_config_release(c);
	return rc;
}

int kube_config_auto(struct kube_config *c, const char *path, const char *context, const char *sa_dir)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");

	if (!path && host && *host && !(getenv("KUBECONFIG") && *getenv("KUBECONFIG")))
		return kube_config_in_cluster(c, sa_dir);
	return kube_config_load(c, path, context);
}

/* --- client ---------------------------------------------------------- */

int kube_client_init(struct kube_client *k, struct kube_config *cfg)
{
	CURL *c;

	memset(k, 0, sizeof(*k));
	if (!(c = curl_easy_init()))
		return adp_error_set(ADP_ENOMEM, "cannot initialise libcurl");
	k->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	k->curl = c;
	k->timeout = KUBE_DEFAULT_TIMEOUT;
	k->max_bytes = KUBE_MAX_RESPONSE;
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, ""); /* the API server is never reached through an environment proxy */
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	if (k->cfg.ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, k->cfg.ca_file);
	if (k->cfg.ca_pem) {
		struct curl_blob b = { k->cfg.ca_pem, strlen(k->cfg.ca_pem), CURL_BLOB_COPY };
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
	}
	if (k->cfg.cert_file)
		curl_easy_setopt(c, CURLOPT_SSLCERT, k->cfg.cert_file);
	if (k->cfg.key_file)
		curl_easy_setopt(c, CURLOPT_SSLKEY, k->cfg.key_file);
	if (k->cfg.cert_pem) {
		struct curl_blob b = { k->cfg.cert_pem, strlen(k->cfg.cert_pem), CURL_BLOB_COPY };
		curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &b);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (k->cfg.key_pem) {
		struct curl_blob b = { k->cfg.key_pem, strlen(k->cfg.key_pem), CURL_BLOB_COPY };
		curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &b);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	}
	return 0;
}

void kube_client_release(struct kube_client *k)
{
	if (!k)
		return;
	if (k->curl)
		curl_easy_cleanup(k->curl);
	kube_config_release(&k->cfg);
	memset(k, 0, sizeof(*k));
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	if (adp_buf_add(userp, data, size * nmemb))
		return 0;
	return size * nmemb;
}

/* The bearer token: inline, else the file (first line, trimmed). */
static int bearer(const struct kube_client *k, char **out)
{
	char *t = NULL;
	size_t n;
	int rc = 0;

	*out = NULL;
	if (k->cfg.token) {
		if (!(*out = strdup(k->cfg.token)))
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
	} else if (k->cfg.token_file && adp_read_file(&t, NULL, k->cfg.token_file, KUBE_MAX_SECRET)) {
		rc = adp_error_wrap(ADP_EINPUT, "kubernetes token file");
	} else if (t) {
		t[strcspn(t, "\r\n")] = '\0';
		n = strlen(t);
		while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
			t[--n] = '\0';
		if (n)
			*out = t, t = NULL;
		else
			rc = adp_error_set(ADP_EINPUT, "kubernetes token file '%s' is empty", k->cfg.token_file);
	}
	free(t);
	return rc;
}

const char *kube_status_message(json_t *status)
{
	const char *m = json_string_value(json_object_get(status, "message"));

	return m ? m : "";
}

int kube_ready(json_t *obj)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(obj, "status"), "conditions"), i, c) {
		const char *type = json_string_value(json_object_get(c, "type"));
		const char *st = json_string_value(json_object_get(c, "status"));

		if (type && !strcmp(type, "Ready"))
			return st && !strcmp(st, "True");
	}
	return 0;
}

static int is_cancelled(const struct kube_client *k)
{
	return k->cancelled && k->cancelled(k->cancel_arg);
}

/* libcurl's progress callback, called during every transfer (about once
 * a second while a watch is idle): non-zero aborts it. */
static int on_progress(void *u, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return is_cancelled(u);
}

/* Sleeps ms in short slices; non-zero (early) once cancelled. */
static int pause_ms(const struct kube_client *k, long ms)
{
	while (ms > 0 && !is_cancelled(k)) {
		long n = ms < 50 ? ms : 50;
		struct timespec ts = { 0, n * 1000000L };

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		ms -= n;
	}
	return is_cancelled(k);
}

/* What a request and a watch share: the URL and the headers, with the
 * bearer token (wiped by req_release, which is safe after any failure of
 * req_init). */
struct req {
	char *url, *tok, *auth;
	struct curl_slist *h;
	char err[CURL_ERROR_SIZE];
};

static int add_header(struct req *r, const char *line)
{
	struct curl_slist *n = curl_slist_append(r->h, line);

	if (!n)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	r->h = n;
	return 0;
}

static int cancelled_error(const char *method, const char *path)
{
	return adp_error_set(ADP_ESYS, "kubernetes %s '%s': cancelled", method, path);
}

static int req_init(struct req *r, struct kube_client *k, const char *method, const char *path)
{
	int rc;

	memset(r, 0, sizeof(*r));
	if (is_cancelled(k))
		return cancelled_error(method, path);
	if ((rc = bearer(k, &r->tok)))
		return rc;
	if (asprintf(&r->url, "%s%s", k->cfg.server, path) < 0) {
		r->url = NULL;
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	if (r->tok && asprintf(&r->auth, "Authorization: Bearer %s", r->tok) < 0) {
		r->auth = NULL;
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	if ((rc = add_header(r, "Accept: application/json")) || (r->auth && (rc = add_header(r, r->auth))))
		return rc;
	return 0;
}

static void req_release(struct req *r)
{
	curl_slist_free_all(r->h);
	free_secret(r->auth);
	free_secret(r->tok);
	free(r->url);
	memset(r, 0, sizeof(*r));
}

/* Performs the request set up in r (method and body already set on the
 * handle), the answer going to on_write; the handle keeps no pointer
 * into r afterwards. */
static CURLcode req_perform(struct req *r, struct kube_client *k, curl_write_callback on_write, void *data,
			    long timeout)
{
	CURL *c = k->curl;
	CURLcode cc;

	curl_easy_setopt(c, CURLOPT_URL, r->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, data);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->err);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, k);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	cc = curl_easy_perform(c);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	return cc;
}

/* The error of a transfer that did not complete. */
static int transfer_error(const struct kube_client *k, const struct req *r, CURLcode cc, const char *method,
			  const char *path)
{
	if (cc == CURLE_ABORTED_BY_CALLBACK)
		return cancelled_error(method, path);
	return adp_error_set(ADP_ESYS, "kubernetes API '%s': %s", k->cfg.server, r->err[0] ? r->err : curl_easy_strerror(cc));
}

static int request_once(struct kube_client *k, const char *method, const char *path, const char *content_type,
			json_t *body, long *status, json_t **out, int *transport)
{
	CURL *c = k->curl;
	struct adp_buf resp;
	struct req r;
	char *text = NULL, ct[128];
	json_error_t jerr;
	CURLcode cc;
	int rc;

	if (out)
		*out = NULL;
	*status = 0;
	k->last_error[0] = '\0';
	adp_buf_init(&resp, k->max_bytes);
	if ((rc = req_init(&r, k, method, path)))
		goto done;
	if (body) {
		if (!(text = json_dumps(body, JSON_COMPACT))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type ? content_type : "application/json");
		if ((rc = add_header(&r, ct)))
			goto done;
	}
	curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	if (text) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	} else if (strcmp(method, "GET")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	cc = req_perform(&r, k, on_body, &resp, k->timeout);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
	if (cc == CURLE_WRITE_ERROR) {
		rc = adp_error_set(ADP_EINPUT, "kubernetes %s '%s': response larger than %zu bytes", method, path,
				   k->max_bytes);
	} else if (cc != CURLE_OK) {
		*transport = cc != CURLE_ABORTED_BY_CALLBACK;
		rc = transfer_error(k, &r, cc, method, path);
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
		if (resp.len && out && !(*out = json_loadb(resp.data, resp.len, 0, &jerr)))
			rc = adp_error_set(ADP_ESYS, "kubernetes %s '%s': HTTP %ld with a body that is not JSON: %s", method,
					   path, *status, jerr.text);
		else if (out && *out && *status / 100 != 2)
			snprintf(k->last_error, sizeof(k->last_error), "%s", kube_status_message(*out));
	}
done:
	req_release(&r);
	free(text);
	adp_buf_release(&resp);
	return rc;
}

int kube_request(struct kube_client *k, const char *method, const char *path, const char *content_type,
		 json_t *body, long *status, json_t **out)
{
	/* Reads and deletes are idempotent: retried on transport errors,
	 * 429 (API priority and fairness) and 5xx, with a growing pause. TLS
	 * failures are not transient and are not retried. */
	int retry = !strcmp(method, "GET") || !strcmp(method, "DELETE");
	int attempt, rc = 0;

	for (attempt = 0;; attempt++) {
		int transport = 0;

		rc = request_once(k, method, path, content_type, body, status, out, &transport);
		if (!retry || attempt >= KUBE_RETRIES)
			break;
		if (rc && !(transport && !strstr(adp_error_last(), "SSL") && !strstr(adp_error_last(), "certificate")))
			break;
		if (!rc && *status != 429 && *status < 500)
			break;
		if (!rc && out) {
			json_decref(*out);
			*out = NULL;
		}
		if (pause_ms(k, 250L << attempt)) {
			rc = cancelled_error(method, path);
			break;
		}
	}
	return rc;
}

struct watch_ctx {
	struct adp_buf line;
	int (*on_event)(void *u, const char *type, json_t *obj);
	void *u;
	int stopped, bad;
};

/* Splits the stream into lines, one event each. */
static size_t on_watch(char *data, size_t size, size_t nmemb, void *userp)
{
	struct watch_ctx *w = userp;
	size_t n = size * nmemb, i, from = 0;

	for (i = 0; i < n; i++) {
		json_t *ev;
		json_error_t jerr;

		if (data[i] != '\n')
			continue;
		if (adp_buf_add(&w->line, data + from, i - from))
			return 0;
		from = i + 1;
		if (!w->line.len)
			continue;
		ev = json_loadb(w->line.data, w->line.len, 0, &jerr);
		adp_buf_reset(&w->line);
		if (!ev || !json_is_string(json_object_get(ev, "type"))) {
			json_decref(ev);
			w->bad = 1;
			return 0;
		}
		w->stopped = w->on_event(w->u, json_string_value(json_object_get(ev, "type")), json_object_get(ev, "object"));
		json_decref(ev);
		if (w->stopped)
			return 0;
	}
	if (adp_buf_add(&w->line, data + from, n - from))
		return 0;
	return n;
}

int kube_watch(struct kube_client *k, const char *path, int (*on_event)(void *u, const char *type, json_t *obj),
	       void *u, long *status, int *stopped)
{
	CURL *c = k->curl;
	struct watch_ctx w = { ADP_BUF_INIT, on_event, u, 0, 0 };
	struct req r;
	CURLcode cc;
	int rc;

	*status = 0;
	*stopped = 0;
	adp_buf_init(&w.line, (size_t)4 << 20); /* one event */
	if ((rc = req_init(&r, k, "watch", path)))
		goto done;
	curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
	cc = req_perform(&r, k, on_watch, &w, k->timeout + 40); /* timeoutSeconds is at most 30 */
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (cc == CURLE_WRITE_ERROR && w.stopped)
		*stopped = w.stopped;
	else if (cc == CURLE_WRITE_ERROR)
		rc = adp_error_set(ADP_ESYS, "kubernetes watch '%s': %s", path,
				   w.bad ? "an event that is not a JSON watch event" : "an event larger than 4 MiB");
	else if (cc != CURLE_OK)
		rc = transfer_error(k, &r, cc, "watch", path);
done:
	req_release(&r);
	adp_buf_release(&w.line);
	return rc;
}

int kube_get(struct kube_client *k, const char *path, json_t **out)
{
	long st;
	int rc;

	if ((rc = kube_request(k, "GET", path, NULL, NULL, &st, out)))
		return rc;
	if (st == 200 && json_is_object(*out))
		return 0;
	rc = adp_error_set(st == 404 ? ADP_EINPUT : ADP_ESYS, "kubernetes GET '%s': HTTP %ld%s%s", path, st,
			   k->last_error[0] ? ": " : "", k->last_error);
	json_decref(*out);
	*out = NULL;
	return rc;
}

int kube_list(struct kube_client *k, const char *path, json_t **items)
{
	json_t *all = json_array(), *page = NULL;
	char cont[1024] = "", *url = NULL;
	int rc = 0, pages = 0;

	if (!all)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	do {
		const char *next;
		char esc[3 * sizeof(cont)];

		kube_query_escape(esc, sizeof(esc), cont);
		free(url);
		if (asprintf(&url, "%s%slimit=500%s%s", path, strchr(path, '?') ? "&" : "?", cont[0] ? "&continue=" : "",
			     cont[0] ? esc : "") < 0) {
			url = NULL;
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			break;
		}
		if ((rc = kube_get(k, url, &page)))
			break;
		if (!json_is_array(json_object_get(page, "items"))) {
			rc = adp_error_set(ADP_ESYS, "kubernetes GET '%s': the answer is not a list (no items)", path);
			break;
		}
		json_array_extend(all, json_object_get(page, "items"));
		next = json_string_value(json_object_get(json_object_get(page, "metadata"), "continue"));
		if (next && strlen(next) >= sizeof(cont)) {
			rc = adp_error_set(ADP_ESYS, "kubernetes GET '%s': continue token too long", path);
			break;
		}
		snprintf(cont, sizeof(cont), "%s", next ? next : "");
		json_decref(page);
		page = NULL;
		if (++pages > 100000 || json_array_size(all) > 1000000) {
			rc = adp_error_set(ADP_ENOMEM, "kubernetes GET '%s': more than a million items", path);
			break;
		}
	} while (cont[0]);
	json_decref(page);
	free(url);
	if (rc) {
		json_decref(all);
		return rc;
	}
	*items = all;
	return 0;
}

void kube_query_escape(char *out, size_t len, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s && o + 4 < len; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		    ch == '_' || ch == '.' || ch == '~') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	if (len)
		out[o < len ? o : len - 1] = '\0';
}
