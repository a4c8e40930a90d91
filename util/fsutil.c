#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

/* The reserve (adp_reserve_make): one per process, released at most once. */
static struct {
	pthread_mutex_t mu;
	char path[4096];
	char why[512]; /* the failed write that released it */
	int held, released;
} reserve = { .mu = PTHREAD_MUTEX_INITIALIZER };

int adp_reserve_make(const char *path, off_t size)
{
	int fd, e;

	if (strlen(path) >= sizeof(reserve.path))
		return adp_error_set(ADP_EINPUT, "path too long: '%.64s...'", path);
	/* Never through a symbolic link: root would allocate into its target. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return adp_error_set(ADP_ESYS, "cannot create '%s': %s", path,
				     errno == ELOOP ? "it is a symbolic link" : strerror(errno));
	e = posix_fallocate(fd, 0, size);
	if (!e && (adp_fault_hit(ADP_FAULT_FSYNC) ? (errno = ENOSPC, -1) : fsync(fd)) < 0)
		e = errno;
	close(fd);
	if (e) {
		unlink(path);
		return adp_error_set(ADP_ESYS, "cannot reserve %.1f MiB in '%s': %s", (double)size / 1048576.0, path,
				     strerror(e));
	}
	pthread_mutex_lock(&reserve.mu);
	strcpy(reserve.path, path);
	reserve.held = 1;
	reserve.released = 0;
	pthread_mutex_unlock(&reserve.mu);
	return 0;
}

int adp_reserve_release(void)
{
	int done = 0;

	pthread_mutex_lock(&reserve.mu);
	if (reserve.held) {
		snprintf(reserve.why, sizeof(reserve.why), "%s", adp_error_last());
		unlink(reserve.path);
		reserve.held = 0;
		reserve.released = done = 1;
	}
	pthread_mutex_unlock(&reserve.mu);
	return done;
}

int adp_reserve_released(char *why, size_t len)
{
	int r;

	pthread_mutex_lock(&reserve.mu);
	r = reserve.released;
	if (r && why && len)
		snprintf(why, len, "%s", reserve.why);
	pthread_mutex_unlock(&reserve.mu);
	return r;
}

/* One attempt of adp_write_atomic; *err the errno of a failure. */
static int write_atomic_once(const char *path, const void *data, size_t len, int *err)
{
	const char *p = data;
	char *tmp = NULL;
	int fd = -1, rc = 0;

	*err = 0;
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		*err = errno;
		rc = adp_error_set(ADP_ESYS, "cannot create a file beside '%s': %s", path, strerror(errno));
		free(tmp);
		return rc;
	}
	while (len) {
		ssize_t n = adp_fault_hit(ADP_FAULT_WRITE) ? (errno = ENOSPC, -1) : write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*err = errno;
			rc = adp_error_set(ADP_ESYS, "cannot write '%s': %s", path, strerror(errno));
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fchmod(fd, 0644) < 0 || (adp_fault_hit(ADP_FAULT_FSYNC) ? (errno = ENOSPC, -1) : fsync(fd)) < 0) {
		*err = errno;
		rc = adp_error_set(ADP_ESYS, "cannot sync '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		*err = errno;
		fd = -1;
		rc = adp_error_set(ADP_ESYS, "cannot close '%s': %s", path, strerror(errno));
		goto fail;
	}
	fd = -1;
	if ((adp_fault_hit(ADP_FAULT_RENAME) ? (errno = ENOSPC, -1) : rename(tmp, path)) < 0) {
		*err = errno;
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

int adp_write_atomic(const char *path, const void *data, size_t len)
{
	int rc, err;

	rc = write_atomic_once(path, data, len, &err);
	/* A full disk: the reserve, when there is one, makes room once. */
	if (rc && (err == ENOSPC || err == EDQUOT) && adp_reserve_release())
		rc = write_atomic_once(path, data, len, &err);
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
