/* Reading JSON input files with errors that name the file, the line and
 * the JSON path ("inventory.json:42: components[3].min.cpu: ..."). */
#ifndef ADP_JSONUTIL_H
#define ADP_JSONUTIL_H

#include <jansson.h>
#include <stdint.h>

struct adp_json_doc {
	char *path;   /* owned copy of the file name */
	char *text;   /* owned file contents, kept to find lines for paths */
	json_t *root; /* owned */
};

#define ADP_JSON_MAX_BYTES ((size_t)64 << 20)

/* Loads and parses into d, which owns the result (adp_json_release);
 * syntax errors name line and column. */
int adp_json_load(struct adp_json_doc *d, const char *path);
/* Parses from memory; name is used in messages. */
int adp_json_load_text(struct adp_json_doc *d, const char *name, const char *text);
void adp_json_release(struct adp_json_doc *d);

/* Line (1-based) where the value at jpath starts, or 0 if not found. */
int adp_json_path_line(const char *text, const char *jpath);

/* Sets ADP_EINPUT with "file:line: jpath: message". */
int adp_json_fail(const struct adp_json_doc *d, const char *jpath, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Rejects keys of obj that are not in allowed (NULL-terminated), so that
 * a misspelt field is an error, not silently ignored. */
int adp_json_check_keys(const struct adp_json_doc *d, json_t *obj, const char *jpath,
			const char *const *allowed);

/* Typed field getters. jpath names obj; key is appended for messages.
 * When the key is absent: required fails, otherwise *out is untouched
 * and 0 is returned. obj is borrowed from d; adp_json_string's *out is
 * borrowed from obj, valid until adp_json_release(d). */
int adp_json_string(const struct adp_json_doc *d, json_t *obj, const char *jpath,
		    const char *key, int required, const char **out);
int adp_json_number(const struct adp_json_doc *d, json_t *obj, const char *jpath,
		    const char *key, int required, double min, double max, double *out);
/* The largest quantity an input may give (1e18: an exabyte, or a
 * billion billion cores): far above any host, small enough that sums and
 * squares of quantities stay finite, and within what the plan reader
 * accepts, so every plan `plan` writes reads back. */
#define ADP_QUANTITY_MAX 1e18
/* A number, or a string with a unit suffix ("16GiB", "1Gbit/s"), from 0
 * to ADP_QUANTITY_MAX. */
int adp_json_quantity(const struct adp_json_doc *d, json_t *obj, const char *jpath,
		      const char *key, int required, double *out);
/* Seconds as a number, or a string like "40m". */
int adp_json_duration(const struct adp_json_doc *d, json_t *obj, const char *jpath,
		      const char *key, int required, int64_t *out);
int adp_json_time(const struct adp_json_doc *d, json_t *obj, const char *jpath,
		  const char *key, int required, const char *tz, int64_t *out);

/* ---- A checked builder ----
 * Building a document is many set and append calls; each can fail (out of
 * memory, a NULL value from a failed constructor). The builder records
 * the first failure so that the calls stay plain and the result is
 * checked once, at the end, with adp_jb_check:
 *
 *	struct adp_jb jb = { 0 };
 *	json_t *o = adp_jpush(&jb, arr, json_object());
 *	adp_jset(&jb, o, "name", json_string(name));
 *	if ((rc = adp_jb_check(&jb))) ...
 */
struct adp_jb {
	int failed;   /* some call failed; the document is incomplete */
};

/* obj[key] = value. Takes ownership of value in every case (released on
 * failure); a NULL value or a NULL or non-object obj is a failure.
 * Returns value, borrowed from obj, or NULL on failure. */
json_t *adp_jset(struct adp_jb *jb, json_t *obj, const char *key, json_t *value);
/* Appends value to arr, with the same ownership and failures. */
json_t *adp_jpush(struct adp_jb *jb, json_t *arr, json_t *value);
/* 0, or ADP_ENOMEM with a message when some call failed. */
int adp_jb_check(const struct adp_jb *jb);

#endif
