/* History from Prometheus through its HTTP API (/api/v1/query_range).
 *
 * One PromQL expression per resource; each returned series is one
 * component's, named by a label (default "component"). "$component" in
 * an expression is replaced by the component's name when one component
 * is read. Long ranges are split into requests under the server's limit
 * of 11000 points per series, on a grid aligned to the step; their
 * series are merged. An empty result is an error, never zero load. */
#ifndef ADP_PROMETHEUS_H
#define ADP_PROMETHEUS_H

#include <stddef.h>
#include <stdint.h>

#include "history/history.h"
#include "util/resource.h"

#define HISTORY_PROM_MAX_POINTS 11000
#define HISTORY_PROM_MAX_BYTES ((size_t)64 << 20)
#define HISTORY_PROM_DEFAULT_RANGE ((int64_t)35 * 86400)
#define HISTORY_PROM_MAX_QUERY 8192
#define HISTORY_PROM_MAX_RETRIES 10

/* Borrowed strings throughout (history_source owns those it parsed). */
struct history_prom_opts {
	const char *url;                  /* server base, e.g. http://127.0.0.1:9090 */
	const char *query[ADP_RES_COUNT]; /* PromQL per resource; NULL: not read */
	const char *label;                /* label naming the component; NULL: "component" */
	int64_t range;                    /* seconds of history before the origin; 0: 35 days */
	int64_t step;                     /* query step; 0: the history step */
	const char *bearer_token_file;    /* NULL: none */
	const char *username;             /* basic auth, with password_file */
	const char *password_file;
	const char *ca_file;              /* extra CA bundle; TLS is always verified */
	int64_t timeout;                  /* seconds per request; 0: 30 */
	int retries;                      /* on transport errors, 429 and 5xx; <0: none; 0: 3 */
	size_t max_bytes;                 /* response cap; 0: HISTORY_PROM_MAX_BYTES */
	size_t max_points;                /* points per series per request; 0: 11000 */
	const char *const *only;          /* components wanted (others ignored); NULL: all */
	size_t nonly;
};

/* Reads history into h. With component set, reads that component's
 * series (the one whose label is its name, or the only series when the
 * query returns one); otherwise every series named by the label. The
 * range ends before o->until (now when 0). */
int history_prom_read(struct history *h, const struct history_prom_opts *p,
		       const char *component, const struct history_opts *o);

/* Parses one query_range answer (body, len bytes, with its HTTP
 * status) for resource res and adds its series to h, as
 * history_prom_read does with each response; query names the
 * expression in messages. No request is made: for tests and fuzzing. */
int history_prom_parse(struct history *h, const struct history_prom_opts *p, const char *component,
		       int res, const char *query, const char *body, size_t len, long status,
		       const struct history_opts *o);

#endif
