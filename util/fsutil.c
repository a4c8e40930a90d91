#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fault.h"

int adp_read_file(char **out, size_t *len, const char *path, size_t max)
{
	struct stat st;
	char *data = NULL, *p;
	size_t got = 0, alloc;
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return adp_error_set(ADP_EINPUT, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = adp_error_set(ADP_ESYS, "cannot stat '%s': %s", path, strerror(errno));
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = adp_error_set(ADP_EINPUT, "'%s' is a directory, expected a file", path);
		goto done;
	}
	/* Read until EOF rather than trusting st_size: pipes and /proc lie. */
	alloc = (size_t)st.st_size < max ? (size_t)st.st_size + 1 : max + 1;
	if (alloc < 4096)
		alloc = 4096;
	for (;;) {
		if (got + 1 >= alloc) {
			alloc *= 2;
			if (!(p = realloc(data, alloc))) {
				rc = adp_error_set(ADP_ENOMEM, "out of memory reading '%s'", path);
				goto done;
			}
			data = p;
		} else if (!data && !(data = malloc(alloc))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory reading '%s'", path);
			goto done;
		}
		n = read(fd, data + got, alloc - got - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = adp_error_set(ADP_ESYS, "cannot read '%s': %s", path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > max) {
			rc = adp_error_set(ADP_EINPUT, "'%s' exceeds the limit of %zu bytes", path, max);
			goto done;
		}
	}
	data[got] = '\0';
	*out = data;
	if (len)
		*len = got;
	data = NULL;
done:
	free(data);
	close(fd);
	return rc;
}

/* After the rename, so nothing here allocates: a failure now would
 * report an error for a file that is already in place. */
static int fsync_dir_of(const char *path)
{
	char copy[4096], *slash;
	int fd, rc = 0;

	if (strlen(path) >= sizeof(copy))
		return 0; /* adp_write_atomic's own paths fit; nothing to sync by name */
	strcpy(copy, path);
	slash = strrchr(copy, '/');
	if (slash == copy)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(copy, ".");
	fd = open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (fsync(fd) < 0 && errno != EINVAL)
			rc = adp_error_set(ADP_ESYS, "cannot sync directory '%s': %s", copy, strerror(errno));
		close(fd);
	}
	return rc;
}

int adp_write_atomic(const char *path, const void *data, size_t len)
{
	const char *p = data;
	char *tmp = NULL;
	int fd = -1, rc = 0;

	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = adp_error_set(ADP_ESYS, "cannot create a file beside '%s': %s", path, strerror(errno));
		free(tmp);
		return rc;
	}
	while (len) {
		ssize_t n = adp_fault_hit(ADP_FAULT_WRITE) ? (errno = ENOSPC, -1) : write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = adp_error_set(ADP_ESYS, "cannot write '%s': %s", path, strerror(errno));
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fchmod(fd, 0644) < 0 || (adp_fault_hit(ADP_FAULT_FSYNC) ? (errno = ENOSPC, -1) : fsync(fd)) < 0) {
		rc = adp_error_set(ADP_ESYS, "cannot sync '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = adp_error_set(ADP_ESYS, "cannot close '%s': %s", path, strerror(errno));
		goto fail;
	}
	fd = -1;
	if ((adp_fault_hit(ADP_FAULT_RENAME) ? (errno = ENOSPC, -1) : rename(tmp, path)) < 0) {
		rc = adp_error_set(ADP_ESYS, "cannot rename into '%s': %s", path, strerror(errno));
		goto fail;
	}
	free(tmp);
	return fsync_dir_of(path);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return rc;
}

char *adp_path_relative_to(const char *base_file, const char *rel)
{
	const char *slash;
	char *out;

	if (rel[0] == '/' || !(slash = strrchr(base_file, '/')))
		return strdup(rel);
	if (asprintf(&out, "%.*s/%s", (int)(slash - base_file), base_file, rel) < 0)
		return NULL;
	return out;
}

int adp_snprintf_path(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < len)
		return 0;
	if (n < 0)
		return adp_error_set(ADP_EINPUT, "cannot format a path");
	/* out holds the start of the path: enough to say which one it was. */
	adp_error_set(ADP_EINPUT, "path too long (%d bytes, at most %zu): '%.64s...'", n,
		      len ? len - 1 : 0, len ? out : "");
	if (len)
		out[0] = '\0';
	return ADP_EINPUT;
}

int adp_read_secret(char **out, const char *path, size_t max, const char *what)
{
	char *s = NULL;
	size_t len = 0;
	int rc;

	if ((rc = adp_read_file(&s, &len, path, max)))
		return adp_error_wrap(rc, "%s", what);
	s[strcspn(s, "\r\n")] = '\0';
	len = strlen(s);
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		s[--len] = '\0';
	if (!len) {
		free(s);
		return adp_error_set(ADP_EINPUT, "%s '%s' is empty", what, path);
	}
	*out = s;
	return 0;
}
