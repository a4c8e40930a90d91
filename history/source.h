/* Where a component's history comes from, as an inventory names it: a
 * long-format or column-mapped CSV or JSON file (optionally a member of
 * an archive), or a Prometheus server. The history stage owns both the
 * section's schema (checked with file:line errors) and the dispatch
 * from a source to the reader of its format. */
#ifndef ADP_HISTORY_SOURCE_H
#define ADP_HISTORY_SOURCE_H

#include <jansson.h>
#include <stddef.h>

#include "history/history.h"
#include "history/prometheus.h"
#include "util/jsonutil.h"

enum history_format { HISTORY_SOURCE_NONE, HISTORY_SOURCE_LONG, HISTORY_SOURCE_COLUMNS,
		      HISTORY_SOURCE_PROMETHEUS };

struct history_source {
	int format;        /* enum history_format; NONE: the section is absent */
	char *path;        /* owned; resolved against the inventory's directory */
	const char *member; /* owned (const for the readers) or NULL: fnmatch pattern of members when path is an archive */
	/* For HISTORY_SOURCE_COLUMNS; every string owned or NULL. */
	struct history_mapping map;
	/* For HISTORY_SOURCE_PROMETHEUS: owned, and so is every string in it. */
	struct history_prom_opts *prom;
};

/* Parses a component's "history" section at jpath of d into *s (zeroed
 * by the caller); errors name file, line and field. On failure *s may
 * hold partial state: release it. */
int history_source_parse(struct history_source *s, const struct adp_json_doc *d, json_t *obj,
			 const char *jpath);
/* NULL-safe; leaves *s zeroed. */
void history_source_release(struct history_source *s);

/* Reads s into h for component (a long-format source holds any number
 * of components). Every file read is appended once to *files (owned
 * strings, for the plan's digest); a long file already in *files is not
 * read again. */
int history_source_read(struct history *h, const struct history_source *s, const char *component,
			const struct history_opts *o, char ***files, size_t *nfiles);

/* history_source_read for component[i] from src[i] (both borrowed), i
 * from 0 to n - 1, skipping components h already holds: the same series,
 * files and errors (the first failing component's) as that loop. When
 * every source to read is a plain file in columns (a file per
 * component), the files are read on every core (threads: 0 for one per
 * processor) and then added in order. */
int history_sources_read(struct history *h, const struct history_source *const *src,
			 const char *const *component, size_t n, const struct history_opts *o,
			 size_t threads, char ***files, size_t *nfiles);

/* Appends path to *files unless present: *files and its strings are
 * owned by the caller (free each, then the array); path is borrowed and
 * copied. */
int history_files_add(char ***files, size_t *nfiles, const char *path);

/* Non-zero when h holds any resource of component. */
int history_has_component(const struct history *h, const char *component);

#endif
