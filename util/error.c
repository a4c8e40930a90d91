#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[ADP_ERROR_MAX];

int adp_error_set(int code, const char *fmt, ...)
{
	va_list ap;

	/* A message longer than ADP_ERROR_MAX is cut: its start names the subject. */
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return code;
}

int adp_error_wrap(int code, const char *fmt, ...)
{
	char prefix[1024], old[sizeof(last_error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap); /* cut like the message below */
	va_end(ap);
	memcpy(old, last_error, sizeof(old));
	/* Truncation keeps the start, which names the subject. */
	if (snprintf(last_error, sizeof(last_error), "%.1000s: %.1040s", prefix, old) < 0)
		last_error[0] = '\0';
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
