/* History ingestion: CSV files into one regular time series per
 * component and resource.
 *
 * Policy (documented in adpart-update(5)):
 *  - rows may come in any order; they are sorted by time;
 *  - duplicate timestamps are averaged;
 *  - every series is resampled to one step on a grid aligned to the
 *    epoch: samples inside a step are averaged, and empty steps between
 *    two samples at most max_gap apart are linearly interpolated;
 *  - longer gaps stay missing (NAN) and are counted; models skip them;
 *  - empty values are missing; values that are not numbers, negative,
 *    infinite or above ADP_HISTORY_MAX_VALUE are rejected with the file,
 *    line and column;
 *  - times that cannot be parsed or lie outside 1971..2200 are rejected
 *    with the file, line and column, and the likely mistake (seconds
 *    read as milliseconds land in 1970, milliseconds read as seconds
 *    after 2200);
 *  - rows at or after the forecast origin ("until") are ignored, so a
 *    past window can be replayed. */
#ifndef ADP_HISTORY_H
#define ADP_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/resource.h"

#define ADP_HISTORY_MAX_LINE 65536
/* How much history fits, from the memory this process may use (the
 * least of physical memory, RLIMIT_AS and its cgroup's memory limit):
 * ADP_HISTORY_BYTES_PER_POINT for each sample read (what a sample costs
 * from ingestion through forecasting and planning, measured at about 32
 * bytes, with room to spare), ADP_HISTORY_BYTES_PER_GRID for each point
 * of the resampled grid of every series together (samples far apart in
 * time, 1970 and 2100, must not turn a small file into gigabytes). */
#define ADP_HISTORY_BYTES_PER_POINT 64
#define ADP_HISTORY_BYTES_PER_GRID 48
#define ADP_HISTORY_MIN_POINTS ((size_t)1 << 20) /* whatever the memory says */
/* The memory history may use, in bytes (computed once). */
uint64_t history_memory(void);
/* Samples read in all, and grid points, for mem bytes of memory. */
size_t history_points_for(uint64_t mem);
size_t history_grid_for(uint64_t mem);
/* The same for this process's memory. */
#define ADP_HISTORY_MAX_POINTS (history_points_for(history_memory()))
#define ADP_HISTORY_MAX_GRID (history_grid_for(history_memory()))
#define ADP_HISTORY_MAX_VALUE 1e18
/* Sample times from 1971-01-01 to 2200-01-01 (UTC): one in 1970 is
 * epoch seconds read as milliseconds, or a column that is not a time;
 * one after 2200 is milliseconds read as seconds. */
#define ADP_HISTORY_MIN_TIME ((int64_t)31536000)
#define ADP_HISTORY_MAX_TIME ((int64_t)7258118400)
#define ADP_HISTORY_MAX_NAME 128

struct series {
	char *component;    /* owned */
	int resource;       /* enum adp_resource */
	char *source;       /* owned: the file it came from */
	int64_t start;      /* time of v[0]; a multiple of step */
	int64_t step;       /* seconds */
	size_t n;
	double *v;          /* owned; n values, NAN where missing */
	/* what ingestion did, for reports */
	size_t raw_points, duplicates, interpolated, missing, unsorted;
	int64_t native_step; /* median interval of the raw samples */
};

struct history {
	struct series *items; /* owned */
	size_t n, alloc;
	size_t total_points;  /* raw points across all files, for the limit */
	size_t grid_points;   /* resampled points across all series, for the limit */
	/* Owned: an open-addressing index of items by component and
	 * resource (SIZE_MAX: empty), so that lookups stay O(1) at fleet
	 * scale; kept by the functions below, never by callers. */
	size_t *slots;
	size_t nslots;
};

struct history_opts {
	int64_t step;     /* resampling step, seconds (> 0) */
	int64_t max_gap;  /* longest gap interpolated, seconds */
	int64_t until;    /* ignore samples at or after this time; 0: none */
};

/* A per-file column mapping for wide CSVs (NAB, Microsoft, Bitbrains). */
struct history_column {
	const char *column; /* borrowed: header name, or a 1-based index as digits; NULL: unused */
	double scale;       /* value = raw * scale + offset */
	double offset;
};

/* Its strings are borrowed (history_source owns those it parsed). */
struct history_mapping {
	const char *delimiter;   /* e.g. "," or ";\t" */
	const char *time_column; /* header name or 1-based index */
	const char *time_format; /* "auto", "rfc3339", "epoch", "epoch_ms" or strptime */
	const char *timezone;    /* for times without an offset; NULL: UTC */
	struct history_column res[ADP_RES_COUNT];
};

void history_init(struct history *h);
void history_release(struct history *h);

/* Reads the canonical long format: a header naming the columns
 * timestamp, component, resource and value (in any order), then rows. */
int history_add_long_csv(struct history *h, const char *path, const struct history_opts *o);

/* Reads one component's wide CSV through a column mapping. */
int history_add_mapped_csv(struct history *h, const char *path, const char *component,
			   const struct history_mapping *m, const struct history_opts *o);

/* The same from a stream the caller opened and closes (an archive
 * member, a memory buffer); name stands for the file in messages and as
 * the series' source. */
int history_add_long_csv_stream(struct history *h, const char *name, FILE *f,
				const struct history_opts *o);
int history_add_mapped_csv_stream(struct history *h, const char *name, FILE *f,
				  const char *component, const struct history_mapping *m,
				  const struct history_opts *o);

/* Adds one raw sample set as a series (sorted, merged and resampled by
 * the policy above); t and v hold n samples. Used by sources that are
 * not CSV (Prometheus). Every pointer is borrowed: source and component
 * are copied. */
int history_add_points(struct history *h, const char *source, const char *component,
		       int resource, const int64_t *t, const double *v, size_t n,
		       const struct history_opts *o);

/* JSON history: {"samples": [...]}, objects with the long format's fields (timestamp as RFC 3339 or epoch seconds, value a
 * number or null for missing). Errors name the file, line and JSON path;
 * on error h is as before the call. The text variant serves archive
 * members; name stands for the file. */
int history_add_json(struct history *h, const char *path, const struct history_opts *o);
int history_add_json_text(struct history *h, const char *name, const char *text,
			  const struct history_opts *o);
/* 1 when path names a JSON history file (by its ".json" suffix). */
int history_is_json(const char *path);
/* A history file of either format, chosen by history_is_json. */
int history_add_file(struct history *h, const char *path, const struct history_opts *o);

/* Moves every series of src (read on its own, e.g. on another thread)
 * to the end of dst, in src's order, with the checks a read into dst
 * makes: a component and resource dst already holds, and dst's limits
 * on samples and resampled points (errors naming the series' source).
 * On success src is left empty; on failure neither is changed. */
int history_adopt(struct history *dst, struct history *src);

/* Drops the series added after the first n0 and resets the point count:
 * undoes a failed read. */
void history_truncate(struct history *h, size_t n0, size_t points0);

/* Borrowed; NULL when absent. */
const struct series *history_find(const struct history *h, const char *component, int resource);

/* Pointer arguments of the readers above (paths, names, opts, mappings,
 * streams) are borrowed for the call; h keeps copies of what it needs. */

/* Valid component names: 1..128 of [A-Za-z0-9._-]. */
int history_name_valid(const char *name);

/* Value at time t (a grid time), or NAN when outside or missing. */
double series_at(const struct series *s, int64_t t);

#endif
