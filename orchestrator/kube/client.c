#include "orchestrator/kube/client.h"

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
#include "util/http.h"

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

/* Copies one optional string: 0, or -1 out of memory. */
static int dup_opt(char **dst, const char *src)
{
	return src && !(*dst = strdup(src)) ? -1 : 0;
}

int kube_config_copy(struct kube_config *dst, const struct kube_config *src)
{
	memset(dst, 0, sizeof(*dst));
	if (dup_opt(&dst->source, src->source) || dup_opt(&dst->context, src->context) ||
	    dup_opt(&dst->server, src->server) || dup_opt(&dst->ca_file, src->ca_file) ||
	    dup_opt(&dst->ca_pem, src->ca_pem) || dup_opt(&dst->cert_file, src->cert_file) ||
	    dup_opt(&dst->key_file, src->key_file) || dup_opt(&dst->cert_pem, src->cert_pem) ||
	    dup_opt(&dst->key_pem, src->key_pem) || dup_opt(&dst->token, src->token) ||
	    dup_opt(&dst->token_file, src->token_file) || dup_opt(&dst->ns, src->ns) ||
	    dup_opt(&dst->tls_server_name, src->tls_server_name)) {
		kube_config_release(dst);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	return 0;
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

/* The HTTP client's cancellation hook: the driver sets k->cancelled at
 * any time, so it is read at each call. */
static int is_cancelled(void *arg)
{
	const struct kube_client *k = arg;

	return k->cancelled && k->cancelled(k->cancel_arg);
}

int kube_client_init(struct kube_client *k, struct kube_config *cfg)
{
	struct adp_http_opts o = { 0 };
	int rc;

	memset(k, 0, sizeof(*k));
	k->cfg = *cfg; /* moved only on success: the caller still owns cfg on failure */
	k->timeout = KUBE_DEFAULT_TIMEOUT;
	k->max_bytes = KUBE_MAX_RESPONSE;
	o.what = "kubernetes API";
	o.https_only = 1;
	o.direct = 1; /* the API server is never reached through an environment proxy */
	o.ca_file = k->cfg.ca_file;
	o.ca_pem = k->cfg.ca_pem;
	o.cert_file = k->cfg.cert_file;
	o.key_file = k->cfg.key_file;
	o.cert_pem = k->cfg.cert_pem;
	o.key_pem = k->cfg.key_pem;
	o.tls_server_name = k->cfg.tls_server_name;
	o.cancelled = is_cancelled;
	o.cancel_arg = k;
	if ((rc = adp_http_init(&k->http, &o))) {
		memset(k, 0, sizeof(*k));
		return rc;
	}
	memset(cfg, 0, sizeof(*cfg));
	return 0;
}

void kube_client_release(struct kube_client *k)
{
	if (!k)
		return;
	adp_http_release(&k->http);
	kube_config_release(&k->cfg);
	memset(k, 0, sizeof(*k));
}

/* The bearer token: inline, else the file (first line, trimmed). */
static int bearer(const struct kube_client *k, char **out)
{
	int rc;

	*out = NULL;
	if (k->cfg.token) {
		if (!(*out = strdup(k->cfg.token)))
			return adp_error_set(ADP_ENOMEM, "out of memory");
	} else if (k->cfg.token_file &&
		   (rc = adp_read_secret(out, k->cfg.token_file, KUBE_MAX_SECRET, "kubernetes token file"))) {
		return rc == ADP_ENOMEM ? rc : ADP_EINPUT;
	}
	return 0;
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

/* One call of the HTTP client for method (a word for messages: "watch"
 * is a GET) and path; its cancel and size failures are named by the
 * request, its transport failures by the server. */
static int call(struct kube_client *k, const char *method, const char *path, struct adp_http_req *r,
		struct adp_buf *body, long *status, int *stopped, const char *too_big)
{
	struct adp_http_res res;
	char *tok = NULL, *url = NULL;
	int rc;

	if ((rc = bearer(k, &tok)))
		return rc;
	if (asprintf(&url, "%s%s", k->cfg.server, path) < 0) {
		free_secret(tok);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	r->url = url;
	r->shown = k->cfg.server;
	r->bearer = tok;
	rc = adp_http_request(&k->http, r, body, &res);
	*status = res.status;
	if (rc && res.fail == ADP_HTTP_CANCELLED)
		rc = adp_error_set(ADP_ESYS, "kubernetes %s '%s': cancelled", method, path);
	else if (rc && res.fail == ADP_HTTP_TOO_BIG)
		rc = adp_error_set(rc, "kubernetes %s '%s': %s", method, path, too_big);
	if (stopped)
		*stopped = rc ? 0 : res.stopped;
	free_secret(tok);
	free(url);
	return rc;
}

int kube_request(struct kube_client *k, const char *method, const char *path, const char *content_type,
		 json_t *body, long *status, json_t **out)
{
	const char *headers[3] = { "Accept: application/json", NULL, NULL };
	struct adp_http_req r = { 0 };
	struct adp_buf resp = ADP_BUF_INIT;
	char *text = NULL, ct[128], big[64];
	json_error_t jerr;
	int rc;

	if (out)
		*out = NULL;
	*status = 0;
	k->last_error[0] = '\0';
	if (body) {
		if (!(text = json_dumps(body, JSON_COMPACT)))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type ? content_type : "application/json");
		headers[1] = ct;
	}
	r.method = method;
	r.headers = headers;
	r.body = text;
	r.body_len = text ? strlen(text) : 0;
	r.max_bytes = k->max_bytes;
	r.timeout = k->timeout;
	/* Reads and deletes are idempotent: retried on transport errors
	 * (not TLS ones), 429 (API priority and fairness) and 5xx. */
	r.retries = !strcmp(method, "GET") || !strcmp(method, "DELETE") ? KUBE_RETRIES : 0;
	snprintf(big, sizeof(big), "response larger than %zu bytes", k->max_bytes);
	if ((rc = call(k, method, path, &r, &resp, status, NULL, big)))
		goto done;
	if (resp.len && out && !(*out = json_loadb(resp.data, resp.len, 0, &jerr)))
		rc = adp_error_set(ADP_ESYS, "kubernetes %s '%s': HTTP %ld with a body that is not JSON: %s", method,
				   path, *status, jerr.text);
	else if (out && *out && *status / 100 != 2)
		snprintf(k->last_error, sizeof(k->last_error), "%s", kube_status_message(*out));
done:
	free(text);
	adp_buf_release(&resp);
	return rc;
}

struct watch_ctx {
	int (*on_event)(void *u, const char *type, json_t *obj);
	void *u;
	int bad;
};

/* One line of the stream: one event. */
static int on_watch_line(void *arg, const char *line, size_t len)
{
	struct watch_ctx *w = arg;
	json_error_t jerr;
	json_t *ev;
	int stop;

	if (!len)
		return 0;
	ev = json_loadb(line, len, 0, &jerr);
	if (!ev || !json_is_string(json_object_get(ev, "type"))) {
		json_decref(ev);
		w->bad = 1;
		return 1;
	}
	stop = w->on_event(w->u, json_string_value(json_object_get(ev, "type")), json_object_get(ev, "object"));
	json_decref(ev);
	return stop;
}

int kube_watch(struct kube_client *k, const char *path, int (*on_event)(void *u, const char *type, json_t *obj),
	       void *u, long *status, int *stopped)
{
	const char *headers[] = { "Accept: application/json", NULL };
	struct watch_ctx w = { on_event, u, 0 };
	struct adp_http_req r = { 0 };
	int rc;

	*status = 0;
	*stopped = 0;
	r.headers = headers;
	r.max_bytes = (size_t)4 << 20; /* one event */
	r.timeout = k->timeout + 40;   /* timeoutSeconds is at most 30 */
	r.on_line = on_watch_line;
	r.line_arg = &w;
	if ((rc = call(k, "watch", path, &r, NULL, status, stopped, "an event larger than 4 MiB")))
		return rc;
	if (w.bad) {
		*stopped = 0;
		return adp_error_set(ADP_ESYS, "kubernetes watch '%s': an event that is not a JSON watch event", path);
	}
	return 0;
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

		adp_url_escape(esc, sizeof(esc), cont);
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
