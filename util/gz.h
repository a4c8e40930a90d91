/* gzip (RFC 1952) in memory, through zlib: large plan documents are
 * written compressed, and every reader of a document takes either form. */
#ifndef ADP_GZ_H
#define ADP_GZ_H

#include <stddef.h>

/* Whether data[len] starts with the gzip magic. */
int adp_gz_is(const void *data, size_t len);

/* Compresses text[len] into *out (*outlen bytes, the caller frees). */
int adp_gz_deflate(char **out, size_t *outlen, const void *text, size_t len);

/* Inflates the gzip data[len] (one member or several, concatenated) of
 * the file named (for messages) into a NUL-terminated *out (*outlen
 * bytes, the caller frees). More than max bytes of text is an error
 * (ADP_EINPUT), as are corrupt or truncated data and trailing bytes. */
int adp_gz_inflate(char **out, size_t *outlen, const void *data, size_t len, size_t max, const char *name);

/* adp_read_file, and a gzip file (by its magic) is inflated: max bounds
 * the compressed bytes read and the text they give. */
int adp_read_text(char **out, size_t *len, const char *path, size_t max);

#endif
