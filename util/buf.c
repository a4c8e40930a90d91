#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

void adp_buf_init(struct adp_buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

void adp_buf_release(struct adp_buf *b)
{
	if (!b)
		return;
	free(b->data);
	adp_buf_init(b, b->cap);
}

void adp_buf_reset(struct adp_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int grow(struct adp_buf *b, size_t extra)
{
	size_t cap = b->cap ? b->cap : ADP_BUF_DEFAULT_CAP;
	size_t need, n;
	char *p;

	if (extra > cap || b->len > cap - extra)
		return adp_error_set(ADP_ENOMEM, "text exceeds the limit of %zu bytes", cap);
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return 0;
	n = b->alloc ? b->alloc : 64;
	while (n < need)
		n *= 2;
	p = realloc(b->data, n);
	if (!p)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	b->data = p;
	b->alloc = n;
	return 0;
}

int adp_buf_add(struct adp_buf *b, const void *data, size_t len)
{
	int rc = grow(b, len);

	if (rc)
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int adp_buf_adds(struct adp_buf *b, const char *s)
{
	return adp_buf_add(b, s, strlen(s));
}

int adp_buf_addf(struct adp_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return adp_error_set(ADP_EINPUT, "bad format");
	if ((rc = grow(b, (size_t)n)))
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

char *adp_buf_detach(struct adp_buf *b)
{
	char *s = b->data;

	if (!s)
		s = calloc(1, 1);
	adp_buf_init(b, b->cap);
	return s;
}

const char *adp_buf_str(const struct adp_buf *b)
{
	return b->data ? b->data : "";
}

int adp_strdup_opt(char **dst, const char *src)
{
	if (src && !(*dst = strdup(src)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}
