/* History inside archives (.tar, .tar.gz, .tar.xz, .zip): members chosen
 * by an fnmatch(3) pattern are read as streams, never extracted to disk.
 * Members ending in .json hold {"samples": [{"timestamp", "component",
 * "resource", "value"}, ...]} (or that array alone); other members are
 * CSV. Limits guard against hostile archives: entry count, bytes expanded
 * per member and in all, and the ratio of expanded bytes to the
 * archive's size. */
#ifndef ADP_ARCHIVE_H
#define ADP_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "history/history.h"

#define HISTORY_ARCHIVE_MAX_ENTRIES 10000
#define HISTORY_ARCHIVE_MAX_MEMBER ((uint64_t)64 << 20)
#define HISTORY_ARCHIVE_MAX_TOTAL ((uint64_t)256 << 20)
#define HISTORY_ARCHIVE_MAX_RATIO 200.0
/* Expanded bytes below this are never judged by ratio (tiny archives). */
#define HISTORY_ARCHIVE_RATIO_FLOOR ((uint64_t)1 << 20)

struct history_archive_limits {
	size_t max_entries;   /* entries of any kind in the archive */
	uint64_t max_member;  /* bytes expanded from one matched member */
	uint64_t max_total;   /* bytes expanded from the whole archive */
	double max_ratio;     /* expanded bytes / archive file size; 0: unchecked */
};

/* The defaults above. */
void history_archive_limits_default(struct history_archive_limits *l);

/* Reads every regular member of the archive at path whose name matches
 * pattern into h. With m NULL, CSV members are in the long format;
 * otherwise they are one component's wide CSV read through m. Fails
 * when no member matches. lim NULL: the defaults. *nmatched (may be
 * NULL) gets the number of members read. */
int history_archive_read(struct history *h, const char *path, const char *pattern,
			  const char *component, const struct history_mapping *m,
			  const struct history_opts *o, const struct history_archive_limits *lim,
			  size_t *nmatched);

#endif
