/* One error convention for the core: functions return 0 on success or a
 * negative ADP_E* code, and record a message retrievable with
 * adp_error_last(). The core never prints; cmd/ reports once. */
#ifndef ADP_ERROR_H
#define ADP_ERROR_H

enum {
	ADP_OK = 0,
	ADP_EINPUT = -1,      /* bad user input: file, line, field named */
	ADP_ESYS = -2,        /* I/O or system call failed */
	ADP_ENOMEM = -3,      /* allocation failed or a hard limit was hit */
	ADP_EINFEASIBLE = -4, /* the inputs are valid but no plan fits */
};

/* Records a message (printf-style) as the last error and returns code. */
int adp_error_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefixes the last error with "prefix: " (for context added by callers). */
int adp_error_wrap(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Borrowed; valid until the next adp_error_set. Empty if none. */
const char *adp_error_last(void);

void adp_error_clear(void);

#define ADP_ERROR_MAX 2048

/* A saved error: its code and a copy of the message (cf. libgit2's
 * git_error_state). Plain data: it may be kept in a struct or handed to
 * another thread, whose own last error adp_error_restore then sets. */
struct adp_error_state {
	int code;
	char msg[ADP_ERROR_MAX];
};

/* Saves code and the calling thread's last message into st, so that a
 * cleanup that may set an error of its own does not lose the first one.
 * Returns code. */
int adp_error_save(struct adp_error_state *st, int code);

/* Makes st's message the calling thread's last error again; returns the
 * saved code. */
int adp_error_restore(const struct adp_error_state *st);

#endif
