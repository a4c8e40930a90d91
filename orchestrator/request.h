/* apply's request API: a component asks, during apply, for more of a
 * resource for a while. The protocol (one JSON object a line over a Unix
 * socket, one request per connection), its bounds, the server the
 * engine polls on its own thread, and the client that
 * `adpart-update request` uses. What a request gets is the engine's
 * decision (loans.c, through the same loans as borrowing). */
#ifndef ADP_ORCH_REQUEST_H
#define ADP_ORCH_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bounds, documented in adpart-update(1), REQUESTS. */
#define ORCH_REQ_LINE_MAX 4096    /* a request line, its newline included */
#define ORCH_REQ_WHY_MAX 200      /* bytes of "why" */
#define ORCH_REQ_COMPONENT_MAX 127
#define ORCH_REQ_FOR_MAX 3600     /* seconds a request may ask for */
#define ORCH_REQ_UNITS_MAX 64     /* units one request may ask for (and never above the partition's capacity) */
#define ORCH_REQ_PRIORITY_MAX 9
#define ORCH_REQ_READ_MS 2000     /* a connection's time to send its line */
#define ORCH_REQ_CONNS 8          /* connections read at once; more are answered "busy" */
#define ORCH_REQ_RATE 5           /* requests per instance ... */
#define ORCH_REQ_RATE_WINDOW 10   /* ... in a window of this many seconds */
#define ORCH_REQ_OPEN_MAX 16      /* granted requests not yet expired or given back, in all */
#define ORCH_REQ_RECORDS_MAX 1000 /* requests a run journals (then only counted) */
#define ORCH_REQ_SOCKET_NAME "request.sock"

/* One request, as parsed. */
struct orch_request {
	char component[ORCH_REQ_COMPONENT_MAX + 1];
	long replica;    /* -1: any of the component's instances the caller belongs to */
	int resource;    /* enum adp_resource: cpu, memory or io */
	double amount;   /* in the resource's unit (cores, bytes, bytes/s), > 0 */
	int64_t for_s;   /* seconds, 1 to ORCH_REQ_FOR_MAX */
	int priority;    /* 0 to ORCH_REQ_PRIORITY_MAX */
	char why[ORCH_REQ_WHY_MAX + 1];
};

/* Parses one request line (len bytes, without its newline; need not be
 * NUL-terminated) into *out: a JSON object with exactly the keys
 * "component", "resource", "amount", "for", "why" and optionally
 * "replica" and "priority" (default 1). 0, or ADP_EINPUT naming the
 * field at fault (*out untouched). */
int orch_request_parse(struct orch_request *out, const char *line, size_t len);

/* The answer to a request. */
struct orch_answer {
	const char *state;  /* "granted", "partial", "refused" or "error" (a line not understood) */
	double granted;     /* in the resource's unit */
	const char *reason; /* borrowed; may be NULL when granted */
	long id;            /* the request's number in the run, 0: not journaled */
	int64_t expires_at; /* plan time (apply's --now clock), 0: none */
	double limit;       /* the instance's limit after it, 0: not said */
};

/* The answer as one line, with its newline, into buf: 0, or ADP_ENOMEM
 * when it does not fit. */
int orch_answer_format(char *buf, size_t len, const struct orch_answer *a);

/* The server the engine polls. */
struct orch_req_server;

/* What the server hands over for each line: the caller's pid and uid
 * from the socket's peer credentials, the line (without its newline);
 * the handler writes the whole answer line into ans[len]. */
typedef void (*orch_req_handler)(void *ctx, pid_t pid, uid_t uid, const char *line, size_t n, char *ans,
				 size_t len);

/* Listens on path (mode 0666: callers are told apart by their
 * credentials, not by the file's mode; the directory decides who can
 * reach it). A leftover socket at path is replaced; anything else there
 * (a file, a symlink) is refused. *out owned: orch_req_server_free. */
int orch_req_server_open(struct orch_req_server **out, const char *path);
/* Accepts what is waiting, reads what has arrived and answers each
 * complete line through h, without blocking; a connection that sends
 * more than ORCH_REQ_LINE_MAX without a newline, or nothing whole within
 * ORCH_REQ_READ_MS, gets an "error" answer and is closed. */
void orch_req_server_poll(struct orch_req_server *s, orch_req_handler h, void *ctx);
/* Closes every connection and the socket, and removes the socket file. */
void orch_req_server_free(struct orch_req_server *s);

/* The client: sends line (without newline) to the socket at path and
 * reads the answer line into ans (NUL-terminated, without newline),
 * waiting at most timeout_ms. 0, or ADP_ESYS when nothing listens there
 * or no answer came (the message says which). */
int orch_request_send(const char *path, const char *line, char *ans, size_t len, int timeout_ms);

#endif
