/* File helpers: bounded reads, atomic writes, path joining. */
#ifndef ADP_FSUTIL_H
#define ADP_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Reads a whole file into a NUL-terminated string (caller frees *out).
 * Fails with ADP_EINPUT if the file exceeds max bytes. */
int adp_read_file(char **out, size_t *len, const char *path, size_t max);

/* Reads a secret (a token, a password) from path: its first line,
 * trailing blanks trimmed; an empty one is an error. *out is the
 * caller's, to wipe and free. Messages start with what (the secret is
 * never in them). */
int adp_read_secret(char **out, const char *path, size_t max, const char *what);

/* Writes data to path atomically: a temporary file beside it, fsync,
 * rename, fsync of the directory. On failure path is untouched. A write
 * that finds the disk full (ENOSPC, EDQUOT) releases the process's
 * reserve, when it holds one, and is tried once more. */
int adp_write_atomic(const char *path, const void *data, size_t len);

/* The reserve: a file of size bytes allocated on disk (posix_fallocate,
 * never through a symbolic link) that the process holds so that, when
 * the disk under it fills up, deleting it gives the writes that must
 * still happen (a journal, a rollback's records) room to land. One per
 * process; making it again replaces the one held. 0 or ADP_ESYS (the
 * file is not left behind). */
int adp_reserve_make(const char *path, off_t size);

/* Deletes the reserve if held: 1 when this call released it, else 0. */
int adp_reserve_release(void);

/* Whether the reserve was released (the disk under it filled up) since
 * it was last made; if so, and why is not NULL, the failed write's
 * message in why[len]. */
int adp_reserve_released(char *why, size_t len);

/* Joins dir (of base's directory) and rel unless rel is absolute;
 * returns a newly allocated path (the caller frees it) or NULL on
 * allocation failure. */
char *adp_path_relative_to(const char *base_file, const char *rel);

/* snprintf for paths: a path that does not fit in out[len] is an error
 * (ADP_EINPUT "path too long", out left empty), never a cut path that
 * names another file. Returns 0 when the whole path was written. */
int adp_snprintf_path(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
