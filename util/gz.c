#include "util/gz.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

/* zlib counts in uInt: feed it at most this much a call. */
#define GZ_CHUNK ((size_t)1 << 30)

int adp_gz_is(const void *data, size_t len)
{
	const unsigned char *b = data;

	return len >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

int adp_gz_deflate(char **out, size_t *outlen, const void *text, size_t len)
{
	z_stream z;
	size_t cap, in = 0;
	char *buf;
	int zr;

	memset(&z, 0, sizeof(z));
	/* 15 window bits + 16: a gzip header and trailer. Level 6, zlib's
	 * default: a 200 MiB plan in about 3 s, 10 times smaller. */
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return adp_error_set(ADP_ENOMEM, "out of memory compressing");
	cap = deflateBound(&z, len > GZ_CHUNK ? GZ_CHUNK : len) + (len / GZ_CHUNK + 1) * 64 + len / 1000;
	if (!(buf = malloc(cap))) {
		deflateEnd(&z);
		return adp_error_set(ADP_ENOMEM, "out of memory compressing %zu bytes", len);
	}
	do {
		size_t take = len - in > GZ_CHUNK ? GZ_CHUNK : len - in;

		if (z.total_out >= cap) {
			char *p = realloc(buf, cap *= 2);
			if (!p) {
				free(buf);
				deflateEnd(&z);
				return adp_error_set(ADP_ENOMEM, "out of memory compressing %zu bytes", len);
			}
			buf = p;
		}
		z.next_in = (Bytef *)text + in;
		z.avail_in = (uInt)take;
		z.next_out = (Bytef *)buf + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out > UINT_MAX ? UINT_MAX : cap - z.total_out);
		zr = deflate(&z, in + take == len ? Z_FINISH : Z_NO_FLUSH);
		in += take - z.avail_in;
	} while (zr == Z_OK || zr == Z_BUF_ERROR);
	if (zr != Z_STREAM_END) {
		free(buf);
		deflateEnd(&z);
		return adp_error_set(ADP_ESYS, "cannot compress: zlib error %d", zr);
	}
	*outlen = z.total_out;
	*out = buf;
	deflateEnd(&z);
	return 0;
}

int adp_gz_inflate(char **out, size_t *outlen, const void *data, size_t len, size_t max, const char *name)
{
	const unsigned char *src = data;
	size_t cap = len * 4 + 4096, got = 0, in = 0;
	char *buf = NULL;
	int rc = 0;

	if (cap > max + 1)
		cap = max + 1;
	if (!(buf = malloc(cap)))
		return adp_error_set(ADP_ENOMEM, "out of memory reading '%s'", name);
	/* One member after another (what gzip -c a b > c makes), each to its end. */
	while (in < len && !rc) {
		z_stream z;
		int zr = Z_OK;

		memset(&z, 0, sizeof(z));
		if (inflateInit2(&z, 15 + 16) != Z_OK) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory reading '%s'", name);
			break;
		}
		do {
			if (got + 1 >= cap) {
				char *p;

				if (cap > max) {
					char lim[32];

					adp_bytes_format(lim, (double)max);
					rc = adp_error_set(ADP_EINPUT, "'%s': more than %s once uncompressed", name, lim);
					break;
				}
				cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
				if (!(p = realloc(buf, cap))) {
					rc = adp_error_set(ADP_ENOMEM, "out of memory reading '%s'", name);
					break;
				}
				buf = p;
			}
			z.next_in = (Bytef *)src + in;
			z.avail_in = (uInt)(len - in > GZ_CHUNK ? GZ_CHUNK : len - in);
			z.next_out = (Bytef *)buf + got;
			z.avail_out = (uInt)(cap - 1 - got > UINT_MAX ? UINT_MAX : cap - 1 - got);
			{
				uInt ai = z.avail_in, ao = z.avail_out;

				zr = inflate(&z, Z_NO_FLUSH);
				in += ai - z.avail_in;
				got += ao - z.avail_out;
			}
			if (zr == Z_BUF_ERROR && in >= len) {
				rc = adp_error_set(ADP_EINPUT, "'%s': the gzip data is truncated", name);
				break;
			}
		} while (zr == Z_OK || zr == Z_BUF_ERROR);
		if (!rc && zr != Z_STREAM_END)
			rc = adp_error_set(ADP_EINPUT, "'%s': corrupt gzip data (%s)", name,
					   z.msg ? z.msg : "zlib error");
		inflateEnd(&z);
		/* Anything after a member must be another member. */
		if (!rc && in < len && !adp_gz_is(src + in, len - in))
			rc = adp_error_set(ADP_EINPUT, "'%s': %zu bytes after the gzip data", name, len - in);
	}
	if (!rc && memchr(buf, 0, got))
		rc = adp_error_set(ADP_EINPUT, "'%s': the uncompressed text holds a NUL byte", name);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[got] = 0;
	*out = buf;
	if (outlen)
		*outlen = got;
	return 0;
}

int adp_read_text(char **out, size_t *len, const char *path, size_t max)
{
	char *raw, *text;
	size_t n;
	int rc;

	if ((rc = adp_read_file(&raw, &n, path, max)))
		return rc;
	if (!adp_gz_is(raw, n)) {
		*out = raw;
		if (len)
			*len = n;
		return 0;
	}
	rc = adp_gz_inflate(&text, len, raw, n, max, path);
	free(raw);
	if (!rc)
		*out = text;
	return rc;
}
