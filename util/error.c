#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[ADP_ERROR_MAX];

/* Copies src into last_error with control characters escaped: messages
 * quote names and replies from outside (files, HAProxy, an API server, a
 * hook), and a newline or a terminal escape in one must not forge a
 * second line or recolour the operator's terminal. A message longer than
 * ADP_ERROR_MAX is cut: its start names the subject. */
static void keep(const char *src)
{
	size_t n = 0;
	const unsigned char *p;

	for (p = (const unsigned char *)src; *p; p++) {
		char esc[5];
		size_t k;

		if (*p >= 0x20 && *p != 0x7f) {
			esc[0] = (char)*p;
			k = 1;
		} else {
			k = (size_t)snprintf(esc, sizeof(esc), *p == '\n' ? "\\n" : *p == '\t' ? "\\t" :
				*p == '\r' ? "\\r" : "\\x%02x", *p);
		}
		if (n + k >= sizeof(last_error))
			break;
		memcpy(last_error + n, esc, k);
		n += k;
	}
	last_error[n] = '\0';
}

int adp_error_set(int code, const char *fmt, ...)
{
	char msg[ADP_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	keep(msg);
	return code;
}

int adp_error_wrap(int code, const char *fmt, ...)
{
	char prefix[1024], old[sizeof(last_error)], msg[sizeof(last_error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap); /* cut like the message below */
	va_end(ap);
	memcpy(old, last_error, sizeof(old));
	/* Truncation keeps the start, which names the subject; old is
	 * already clean, so keep() changes only the prefix. */
	if (snprintf(msg, sizeof(msg), "%.1000s: %.1040s", prefix, old) < 0)
		msg[0] = '\0';
	keep(msg);
	return code;
}

const char *adp_error_last(void)
{
	return last_error;
}

void adp_error_clear(void)
{
	last_error[0] = '\0';
}

int adp_error_save(struct adp_error_state *st, int code)
{
	st->code = code;
	memcpy(st->msg, last_error, sizeof(st->msg));
	return code;
}

int adp_error_restore(const struct adp_error_state *st)
{
	/* A copy, not a format: the text may hold '%'. */
	memcpy(last_error, st->msg, sizeof(last_error));
	last_error[sizeof(last_error) - 1] = '\0';
	return st->code;
}
