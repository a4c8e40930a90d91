/* A growable text buffer with a hard cap (cf. git strbuf, curl dynbuf):
 * data is always NUL-terminated; growing past cap fails with ADP_ENOMEM
 * and leaves the contents as they were. */
#ifndef ADP_BUF_H
#define ADP_BUF_H

#include <stddef.h>

struct adp_buf {
	char *data;  /* owned; NULL until the first append */
	size_t len;
	size_t alloc;
	size_t cap;  /* maximum len; 0 means ADP_BUF_DEFAULT_CAP */
};

#define ADP_BUF_DEFAULT_CAP ((size_t)256 << 20)
#define ADP_BUF_INIT { NULL, 0, 0, 0 }

void adp_buf_init(struct adp_buf *b, size_t cap);
/* Frees the data and empties b, keeping its cap; NULL-safe. */
void adp_buf_release(struct adp_buf *b);
void adp_buf_reset(struct adp_buf *b);
int adp_buf_add(struct adp_buf *b, const void *data, size_t len);
int adp_buf_adds(struct adp_buf *b, const char *s);
int adp_buf_addf(struct adp_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Returns the string (caller owns it) and leaves b empty. Never NULL on
 * success: an empty buffer gives "". */
char *adp_buf_detach(struct adp_buf *b);
/* Borrowed, NUL-terminated view; "" when empty. */
const char *adp_buf_str(const struct adp_buf *b);

/* *dst = a copy of src (the caller frees it); a NULL src leaves *dst
 * alone. 0, or ADP_ENOMEM with its message. */
int adp_strdup_opt(char **dst, const char *src);

#endif
