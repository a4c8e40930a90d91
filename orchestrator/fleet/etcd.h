/* A small etcd v3 client on util/http.h, through etcd's JSON gateway
 * (grpc-gateway: POST /v3/lease/..., /v3/kv/...; keys and values base64,
 * 64-bit integers as decimal strings): leases and compare-and-swap
 * transactions, what the fleet semaphore needs. Several endpoints are
 * tried in order: one that cannot be reached passes the request on to
 * the next. TLS is verified (util/http.h); no etcd authentication yet.
 * One thread at a time per client. */
#ifndef ADP_FLEET_ETCD_H
#define ADP_FLEET_ETCD_H

#include <stddef.h>
#include <stdint.h>

#include "util/http.h"

#define ETCD_MAX_ENDPOINTS 16
#define ETCD_MAX_RESPONSE ((size_t)4 << 20) /* bytes per answer */
#define ETCD_MAX_VALUE ((size_t)4 << 10)    /* a slot's value (the holder's id) */
#define ETCD_TIMEOUT 10                     /* seconds per request, by default */

struct etcd_opts {
	const char *endpoints; /* borrowed: comma-separated http:// or https:// URLs */
	/* Borrowed, optional: a CA file added to the system's, and the
	 * client's certificate and key (etcd's --client-cert-auth). */
	const char *ca_file, *cert_file, *key_file;
	long timeout;          /* seconds per request; 0: ETCD_TIMEOUT */
	/* Optional: non-zero cancels a request under way ("cancelled").
	 * Runs on the requesting thread; cancel_arg is borrowed. */
	int (*cancelled)(void *cancel_arg);
	void *cancel_arg;
};

struct etcd_client {
	char *urls[ETCD_MAX_ENDPOINTS]; /* owned, without a trailing '/' */
	size_t nurls;
	size_t cur;                     /* the endpoint that answered last */
	char *ca_file, *cert_file, *key_file; /* owned copies */
	struct adp_http http;           /* owned; borrows the copies above */
	long timeout;
};

/* A key and its value as etcd holds them. */
struct etcd_kv {
	char *key, *value;       /* owned, NUL-terminated (the value may hold other NULs) */
	size_t value_len;
	int64_t lease;           /* 0: none */
	int64_t create_revision;
};

/* Checks a comma-separated list of endpoints: each http://HOST[:PORT] or
 * https://HOST[:PORT] (a trailing '/' allowed; no path, query or user),
 * at most ETCD_MAX_ENDPOINTS. 0, or ADP_EINPUT naming the redacted one. */
int etcd_endpoints_check(const char *list);

/* Reads the options (the endpoints checked, the TLS files readable). */
int etcd_init(struct etcd_client *c, const struct etcd_opts *o);
/* NULL-safe. */
void etcd_release(struct etcd_client *c);

/* The endpoint requests go to now, redacted into buf (returned), for messages. */
const char *etcd_endpoint_shown(const struct etcd_client *c, char *buf, size_t len);

/* A lease of ttl seconds: *id and the TTL etcd granted in *granted. */
int etcd_lease_grant(struct etcd_client *c, long ttl, int64_t *id, long *granted);
/* Renews lease id once: *ttl the seconds it now has, 0 when etcd no
 * longer has it (expired or revoked). */
int etcd_lease_keepalive(struct etcd_client *c, int64_t id, long *ttl);
/* Revokes lease id (its keys are deleted); a lease etcd no longer has is
 * no error. */
int etcd_lease_revoke(struct etcd_client *c, int64_t id);

/* The keys in [key, range_end) (range_end NULL: key alone), at most
 * limit of them (0: no limit), in key order: *kvs (owned: etcd_kvs_free)
 * and their number *n. */
int etcd_range(struct etcd_client *c, const char *key, const char *range_end, long limit, struct etcd_kv **kvs,
	       size_t *n);
void etcd_kvs_free(struct etcd_kv *kvs, size_t n);

/* Compare-and-swap: puts key = value with lease if the key does not
 * exist (create_revision == 0), or, with if_lease set, if the key is
 * attached to lease already. *ok says whether it did. */
int etcd_put_if(struct etcd_client *c, const char *key, const char *value, int64_t lease, int if_lease, int *ok);

#endif
