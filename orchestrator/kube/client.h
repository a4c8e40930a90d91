/* A small Kubernetes REST client on util/http.h: configuration from a
 * kubeconfig file (YAML, read with libyaml) or from the pod's service
 * account, TLS verified against the cluster CA, bearer-token or client
 * certificate authentication, JSON bodies capped in size.
 *
 * Not supported, and refused with a message: exec credential plugins,
 * auth-provider plugins, basic auth, insecure-skip-tls-verify, and a
 * KUBECONFIG naming more than one file. Secrets (tokens, keys) are never
 * put into error messages. tls-server-name is honoured: the server's
 * certificate is checked against it and it is sent as SNI. */
#ifndef ADP_KUBE_CLIENT_H
#define ADP_KUBE_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "util/http.h"

#define KUBE_MAX_RESPONSE ((size_t)64 << 20) /* bytes per response */
#define KUBE_MAX_CONFIG ((size_t)4 << 20)    /* kubeconfig file size */
#define KUBE_MAX_SECRET ((size_t)64 << 10)   /* token and certificate files */
#define KUBE_DEFAULT_TIMEOUT 30              /* seconds per request */
#define KUBE_RETRIES 3                      /* GET and DELETE: transport errors, 429, 5xx */
#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_config {
	char *source;      /* the kubeconfig path, or "in-cluster" */
	char *context;     /* the context used, or NULL in-cluster */
	char *server;      /* https://host:port, no trailing slash */
	char *ca_file;     /* certificate-authority, resolved; or NULL */
	char *ca_pem;      /* certificate-authority-data, decoded; or NULL */
	char *cert_file, *key_file;    /* client-certificate/-key, or NULL */
	char *cert_pem, *key_pem;      /* their -data forms, decoded, or NULL */
	char *token;       /* secret: inline token, or NULL */
	char *token_file;  /* re-read on every request (tokens rotate) */
	char *ns;          /* the context's namespace, or NULL */
	char *tls_server_name; /* tls-server-name, or NULL */
};

/* Reads path (NULL: $KUBECONFIG, else ~/.kube/config) with context
 * (NULL: current-context). Errors name the file, the line and the
 * field. */
int kube_config_load(struct kube_config *c, const char *path, const char *context);

/* The in-cluster configuration: KUBERNETES_SERVICE_HOST and _PORT, and
 * token, ca.crt and namespace under sa_dir (NULL: KUBE_SA_DIR). */
int kube_config_in_cluster(struct kube_config *c, const char *sa_dir);

/* kube_config_load when path is set or KUBERNETES_SERVICE_HOST is not;
 * otherwise the in-cluster configuration. */
int kube_config_auto(struct kube_config *c, const char *path, const char *context, const char *sa_dir);

void kube_config_release(struct kube_config *c);

/* A deep copy of src into dst (secrets included, wiped when released):
 * another client on the same connection, for another thread. */
int kube_config_copy(struct kube_config *dst, const struct kube_config *src);

struct kube_client {
	struct kube_config cfg;  /* owned */
	struct adp_http http;    /* owned; its options borrow from cfg */
	long timeout;            /* seconds per request */
	size_t max_bytes;        /* response cap */
	char last_error[256];    /* Status.message of the last non-2xx answer */
	/* Optional (NULL: never): asked before each request and retry and
	 * during transfers (watches included); non-zero aborts the request,
	 * which fails with "cancelled". Runs on the requesting thread;
	 * cancel_arg is borrowed. */
	int (*cancelled)(void *cancel_arg);
	void *cancel_arg;
};

/* Takes ownership of cfg (moved, zeroed in the caller). */
int kube_client_init(struct kube_client *k, struct kube_config *cfg);
void kube_client_release(struct kube_client *k);

/* One request. path starts with "/" (query string included). body is
 * serialised when not NULL, with content_type (NULL: application/json).
 * GET and DELETE are retried KUBE_RETRIES times on transport errors
 * (not TLS ones), 429 and 5xx, after 0.25, 0.5 and 1 s (not once
 * cancelled).
 * *status gets the HTTP status; *out (may be NULL) the parsed JSON
 * answer, or NULL when the body is empty. Fails only when no answer
 * could be had (transport, TLS, size, non-JSON body). */
int kube_request(struct kube_client *k, const char *method, const char *path, const char *content_type,
		 json_t *body, long *status, json_t **out);

/* GET path and require 200: *out is the object. 404 gives ADP_EINPUT,
 * other statuses ADP_ESYS, with the Status message. */
int kube_get(struct kube_client *k, const char *path, json_t **out);

/* Lists every item of a collection, following metadata.continue with
 * limit=500 per page. *items is a new array. */
int kube_list(struct kube_client *k, const char *path, json_t **items);

/* Watches a collection: path carries watch=1, resourceVersion and
 * timeoutSeconds. on_event gets each event's type ("ADDED", "MODIFIED",
 * "DELETED", "ERROR") and object as they arrive and returns 0 to go on
 * or non-zero to stop; that value is put in *stopped (0 when the server
 * ended the watch). *status is the HTTP status (non-200: no events). */
int kube_watch(struct kube_client *k, const char *path, int (*on_event)(void *u, const char *type, json_t *obj),
	       void *u, long *status, int *stopped);

/* Whether the Ready condition of a node or pod (status.conditions) is
 * True. */
int kube_ready(json_t *obj);

/* The message of a Status object (or ""), for errors. */
const char *kube_status_message(json_t *status);

/* Parses a Kubernetes quantity ("250m", "1Gi", "2", "1.5", "1e3", "128974848")
 * into *out (cores or bytes). -1 when malformed. */
int kube_quantity(const char *s, double *out);

/* Decodes standard base64 (whitespace ignored); *out is NUL-terminated. */
int kube_base64_decode(const char *in, char **out, size_t *len);

#endif
