#include "history/history.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/error.h"
#include "util/mathutil.h"
#include "util/timeutil.h"

#define MAX_FIELDS 256

struct raw {
	int64_t t;
	double v;
};

/* Points gathered for one component and resource while a file is read. */
struct pending {
	char *component;
	int resource;
	struct raw *pts;
	size_t n, alloc, unsorted;
};

struct reader {
	const char *path;
	FILE *f;
	char *line;
	size_t cap;
	long lineno;
	char *fields[MAX_FIELDS];
	int nfields;
	struct pending *pend;
	size_t npend, palloc;
	size_t *slots;       /* open-addressing index of pend (SIZE_MAX: empty) */
	size_t nslots;
	int own;             /* close f when done */
	char *buf;           /* f read ahead a chunk at a time: buf[bpos..blen-1] not yet a line */
	size_t bpos, blen;
	int eof;
};

#define READ_CHUNK ((size_t)1 << 16)

static int read_long(struct history *h, struct reader *rd, const struct history_opts *o);
static int read_mapped(struct history *h, struct reader *rd, const char *component,
		       const struct history_mapping *m, const struct history_opts *o);

void history_init(struct history *h)
{
	memset(h, 0, sizeof(*h));
}

static void series_release(struct series *s)
{
	free(s->component);
	free(s->source);
	free(s->v);
}

void history_release(struct history *h)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->n; i++)
		series_release(&h->items[i]);
	free(h->items);
	free(h->slots);
	history_init(h);
}

/* FNV-1a of a component name and a resource. */
static size_t key_hash(const char *component, int resource)
{
	uint64_t x = 1469598103934665603ULL ^ (uint64_t)(unsigned)resource;

	for (; *component; component++)
		x = (x ^ (unsigned char)*component) * 1099511628211ULL;
	return (size_t)x;
}

/* The slot of (component, resource) in an index of nslots (a power of
 * two) over items of stride bytes whose name and resource get() reads:
 * the slot holding it, or the empty one where it would go. */
static size_t slot_of(const size_t *slots, size_t nslots, const char *component, int resource,
		      const void *items, const char *(*name)(const void *items, size_t i, int *resource))
{
	size_t k = key_hash(component, resource) & (nslots - 1);

	for (;; k = (k + 1) & (nslots - 1)) {
		int r;
		const char *c;

		if (slots[k] == SIZE_MAX)
			return k;
		c = name(items, slots[k], &r);
		if (r == resource && !strcmp(c, component))
			return k;
	}
}

/* Fills an index of nslots with items 0 .. n - 1. */
static void index_fill(size_t *slots, size_t nslots, size_t n, const void *items,
		       const char *(*name)(const void *items, size_t i, int *resource))
{
	size_t i;

	for (i = 0; i < nslots; i++)
		slots[i] = SIZE_MAX;
	for (i = 0; i < n; i++) {
		int r;
		const char *c = name(items, i, &r);

		slots[slot_of(slots, nslots, c, r, items, name)] = i;
	}
}

/* Rebuilds an index of n entries with room to grow (load at most 1/2). */
static int index_rebuild(size_t **slots, size_t *nslots, size_t n, const void *items,
			 const char *(*name)(const void *items, size_t i, int *resource))
{
	size_t want = 16, *grown;

	while (want < 2 * (n + 1))
		want *= 2;
	if (want != *nslots) {
		if (!(grown = malloc(want * sizeof(*grown))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		free(*slots);
		*slots = grown;
		*nslots = want;
	}
	index_fill(*slots, *nslots, n, items, name);
	return 0;
}

static const char *series_name(const void *items, size_t i, int *resource)
{
	const struct series *s = (const struct series *)items + i;

	*resource = s->resource;
	return s->component;
}

static const char *pending_name(const void *items, size_t i, int *resource);

int history_name_valid(const char *name)
{
	size_t n = strlen(name), i;

	/* Names become path components (cgroups, pid and log files): "." and
	 * ".." would name a directory above. */
	if (n == 0 || n > ADP_HISTORY_MAX_NAME || !strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return 0;
	return 1;
}

const struct series *history_find(const struct history *h, const char *component, int resource)
{
	size_t k;

	/* A history built by hand (a view of one series) has no index. */
	if (!h->nslots) {
		for (k = 0; k < h->n; k++)
			if (h->items[k].resource == resource && !strcmp(h->items[k].component, component))
				return &h->items[k];
		return NULL;
	}
	k = slot_of(h->slots, h->nslots, component, resource, h->items, series_name);
	return h->slots[k] == SIZE_MAX ? NULL : &h->items[h->slots[k]];
}

double series_at(const struct series *s, int64_t t)
{
	int64_t i;

	if (!s || t < s->start || (t - s->start) % s->step)
		return NAN;
	i = (t - s->start) / s->step;
	return i < (int64_t)s->n ? s->v[i] : NAN;
}

/* Splits r->line in place on delim; double-quoted fields may hold the
 * delimiter and "" for a quote. Fields are trimmed of blanks. */
static int split(struct reader *r, const char *delim)
{
	size_t dl = strlen(delim);
	char *p = r->line, *out;

	r->nfields = 0;
	for (;;) {
		char *start;

		if (r->nfields == MAX_FIELDS)
			return adp_error_set(ADP_EINPUT, "%s:%ld: more than %d columns", r->path,
					     r->lineno, MAX_FIELDS);
		while (*p == ' ' || (*p == '\t' && !strchr(delim, '\t')))
			p++;
		start = out = p;
		if (*p == '"') {
			p++;
			for (;;) {
				if (!*p)
					return adp_error_set(ADP_EINPUT, "%s:%ld:%d: unterminated quoted field",
							     r->path, r->lineno, r->nfields + 1);
				if (*p == '"' && p[1] == '"') {
					*out++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					*out++ = *p++;
				}
			}
			while (*p == ' ')
				p++;
			if (*p && strncmp(p, delim, dl))
				return adp_error_set(ADP_EINPUT, "%s:%ld:%d: text after a closing quote",
						     r->path, r->lineno, r->nfields + 1);
		} else {
			char *d = strstr(p, delim);
			p = d ? d : p + strlen(p);
			out = p;
			while (out > start && (out[-1] == ' ' || out[-1] == '\t'))
				out--;
		}
		r->fields[r->nfields++] = start;
		if (!*p) {
			*out = '\0';
			return 0;
		}
		*out = '\0';
		p += dl;
	}
}

/* One line into r->line (r->cap bytes), newline kept: its length, at
 * most cap - 1 (a longer line stops there and is refused by the caller),
 * -1 at the end of the file, -2 on a read error (errno set). */
static ssize_t read_bounded(struct reader *r)
{
	size_t n = 0;

	/* A chunk at a time, the line's end found by memchr: a character at a
	 * time was a sixth of reading a history. */
	for (;;) {
		size_t take;
		char *nl;

		if (r->bpos == r->blen) {
			if (r->eof)
				break;
			if (!r->buf && !(r->buf = malloc(READ_CHUNK))) {
				errno = ENOMEM;
				return -2;
			}
			r->blen = fread(r->buf, 1, READ_CHUNK, r->f);
			r->bpos = 0;
			if (ferror(r->f))
				return -2;
			if (r->blen < READ_CHUNK)
				r->eof = 1;
			if (!r->blen)
				break;
		}
		take = r->blen - r->bpos < r->cap - 1 - n ? r->blen - r->bpos : r->cap - 1 - n;
		if ((nl = memchr(r->buf + r->bpos, '\n', take)))
			take = (size_t)(nl - (r->buf + r->bpos)) + 1;
		memcpy(r->line + n, r->buf + r->bpos, take);
		n += take;
		r->bpos += take;
		if (nl || n + 1 >= r->cap)
			break;
	}
	r->line[n] = '\0';
	return n == 0 && r->eof && r->bpos == r->blen ? -1 : (ssize_t)n;
}

static int next_line(struct reader *r)
{
	ssize_t n;

	for (;;) {
		/* Bounded as it is read: getline would first swallow a line of
		 * any length (/dev/zero as history) and only then be refused. */
		if (!r->line) {
			r->cap = (size_t)ADP_HISTORY_MAX_LINE + 2;
			if (!(r->line = malloc(r->cap)))
				return adp_error_set(ADP_ENOMEM, "out of memory reading '%s'", r->path);
		}
		n = read_bounded(r);
		if (n == -2)
			return adp_error_set(ADP_ESYS, "cannot read '%s': %s", r->path, strerror(errno));
		if (n < 0)
			return 0;
		r->lineno++;
		/* The limit is on the line without its end. */
		if (n - (r->line[n - 1] == '\n') > ADP_HISTORY_MAX_LINE)
			return adp_error_set(ADP_EINPUT, "%s:%ld: line longer than %d bytes", r->path,
					     r->lineno, ADP_HISTORY_MAX_LINE);
		if (memchr(r->line, '\0', (size_t)n))
			return adp_error_set(ADP_EINPUT, "%s:%ld: NUL byte in a text file", r->path, r->lineno);
		while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r'))
			r->line[--n] = '\0';
		/* A UTF-8 byte-order mark on the first line is not part of the header. */
		if (r->lineno == 1 && !strncmp(r->line, "\xef\xbb\xbf", 3))
			memmove(r->line, r->line + 3, (size_t)n - 2);
		if (strspn(r->line, " \t") != strlen(r->line))
			return 1;
	}
}

static int reader_open(struct reader *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	r->f = fopen(path, "re");
	if (!r->f)
		return adp_error_set(ADP_EINPUT, "cannot open history '%s': %s", path, strerror(errno));
	r->own = 1;
	return 0;
}

/* A borrowed stream (an archive member, a memory buffer), named for messages. */
static int reader_stream(struct reader *r, const char *name, FILE *f)
{
	memset(r, 0, sizeof(*r));
	r->path = name;
	r->f = f;
	if (!f)
		return adp_error_set(ADP_ESYS, "cannot read history '%s': no stream", name);
	return 0;
}

static void reader_close(struct reader *r)
{
	size_t i;

	if (r->f && r->own)
		fclose(r->f);
	free(r->line);
	free(r->buf);
	for (i = 0; i < r->npend; i++) {
		free(r->pend[i].component);
		free(r->pend[i].pts);
	}
	free(r->pend);
	free(r->slots);
}

static const char *pending_name(const void *items, size_t i, int *resource)
{
	const struct pending *p = (const struct pending *)items + i;

	*resource = p->resource;
	return p->component;
}

/* The points gathered so far for (component, resource), found through
 * the reader's index (one long file may name thousands of series). */
static struct pending *pending_get(struct reader *r, const char *component, int resource)
{
	struct pending *p;
	size_t k;

	if (r->nslots) {
		k = slot_of(r->slots, r->nslots, component, resource, r->pend, pending_name);
		if (r->slots[k] != SIZE_MAX)
			return &r->pend[r->slots[k]];
	}
	if (r->npend == r->palloc) {
		size_t n = r->palloc ? r->palloc * 2 : 16;

		if (!(p = realloc(r->pend, n * sizeof(*p))))
			return NULL;
		r->pend = p;
		r->palloc = n;
	}
	p = &r->pend[r->npend];
	memset(p, 0, sizeof(*p));
	p->resource = resource;
	if (!(p->component = strdup(component)))
		return NULL;
	r->npend++;
	if (2 * (r->npend + 1) > r->nslots) {
		if (index_rebuild(&r->slots, &r->nslots, r->npend, r->pend, pending_name))
			return NULL;
	} else {
		r->slots[slot_of(r->slots, r->nslots, component, resource, r->pend, pending_name)] = r->npend - 1;
	}
	return p;
}

/* The cgroup (v2) memory limit of this process, or 0 for none found. */
static uint64_t cgroup_memory_max(void)
{
	char line[4096], path[4200], val[64];
	uint64_t max = 0;
	FILE *f = fopen("/proc/self/cgroup", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			FILE *m;

			line[strcspn(line, "\n")] = '\0';
			snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.max", line + 3);
			if ((m = fopen(path, "re"))) {
				if (fgets(val, sizeof(val), m) && val[0] >= '0' && val[0] <= '9')
					max = strtoull(val, NULL, 10);
				fclose(m);
			}
		}
	fclose(f);
	return max;
}

static uint64_t memory_bytes;
static pthread_once_t memory_once = PTHREAD_ONCE_INIT;

static void memory_find(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	struct rlimit rl;
	uint64_t mem, cg;

	mem = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : (uint64_t)4 << 30;
	if (!getrlimit(RLIMIT_AS, &rl) && rl.rlim_cur != RLIM_INFINITY && (uint64_t)rl.rlim_cur < mem)
		mem = (uint64_t)rl.rlim_cur;
	if ((cg = cgroup_memory_max()) && cg < mem)
		mem = cg;
	memory_bytes = mem;
}

uint64_t history_memory(void)
{
	pthread_once(&memory_once, memory_find);
	return memory_bytes;
}

size_t history_points_for(uint64_t mem)
{
	uint64_t n = mem / ADP_HISTORY_BYTES_PER_POINT;

	return n < ADP_HISTORY_MIN_POINTS ? ADP_HISTORY_MIN_POINTS : n > SIZE_MAX / 64 ? SIZE_MAX / 64 : (size_t)n;
}

size_t history_grid_for(uint64_t mem)
{
	uint64_t n = mem / ADP_HISTORY_BYTES_PER_GRID;

	return n < ADP_HISTORY_MIN_POINTS ? ADP_HISTORY_MIN_POINTS : n > SIZE_MAX / 64 ? SIZE_MAX / 64 : (size_t)n;
}

static int pending_add(struct history *h, struct reader *r, struct pending *p, int64_t t, double v)
{
	if (h->total_points >= ADP_HISTORY_MAX_POINTS)
		return adp_error_set(ADP_ENOMEM,
				     "%s:%ld: history exceeds the limit of %zu samples (%d bytes a sample of the %.1f GiB this process may use): read fewer series or a shorter span, or give it more memory",
				     r->path, r->lineno, (size_t)ADP_HISTORY_MAX_POINTS, ADP_HISTORY_BYTES_PER_POINT,
				     (double)history_memory() / 1073741824.0);
	if (p->n == p->alloc) {
		size_t n = p->alloc ? p->alloc * 2 : 1024;
		struct raw *q = realloc(p->pts, n * sizeof(*q));
		if (!q)
			return adp_error_set(ADP_ENOMEM, "out of memory reading '%s'", r->path);
		p->pts = q;
		p->alloc = n;
	}
	if (p->n && t < p->pts[p->n - 1].t)
		p->unsorted++;
	p->pts[p->n].t = t;
	p->pts[p->n].v = v;
	p->n++;
	h->total_points++;
	return 0;
}

/* The common case of a value field, plain digits with at most one point
 * and at most 15 digits in all ("0.3475", "1024"), into *v: the digits
 * as an integer, exact in a double, divided by an exact power of ten,
 * which IEEE arithmetic rounds correctly, as strtod does; so the same
 * double, without strtod's general path (a third of reading a history).
 * 0 when the field is anything else: strtod reads it. */
static int fast_decimal(const char *s, double *v)
{
	static const double p10[] = { 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
	uint64_t mant = 0;
	int digits = 0, frac = -1;

	for (; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			mant = mant * 10 + (uint64_t)(*s - '0');
			digits++;
			frac += frac >= 0;
		} else if (*s == '.' && frac < 0) {
			frac = 0;
		} else {
			return 0;
		}
	}
	if (!digits || digits > 15)
		return 0;
	*v = frac > 0 ? (double)mant / p10[frac] : (double)mant;
	return 1;
}

/* Parses a value field. Returns 1 for a value, 0 for an empty field
 * (missing), or an error naming line and column. */
static int parse_value(struct reader *r, int col, const char *colname, const char *s,
		       double scale, double offset, double *out)
{
	char *end;
	double v;

	/* The words for missing all start with an n: most fields skip the compares. */
	if (!*s || ((*s == 'n' || *s == 'N') &&
		    (!strcasecmp(s, "nan") || !strcasecmp(s, "null") || !strcasecmp(s, "NA"))))
		return 0;
	errno = 0;
	if (fast_decimal(s, &v))
		end = (char *)s + strlen(s);
	else
		v = strtod(s, &end);
	if (end == s || *end || errno == ERANGE)
		return adp_error_set(ADP_EINPUT, "%s:%ld:%d: %s: '%s' is not a number", r->path,
				     r->lineno, col, colname, s);
	if (!isfinite(v) || v < 0 || v > ADP_HISTORY_MAX_VALUE)
		return adp_error_set(ADP_EINPUT,
				     "%s:%ld:%d: %s: %s is out of range: expected 0 to %g", r->path,
				     r->lineno, col, colname, s, ADP_HISTORY_MAX_VALUE);
	*out = v * scale + offset;
	return 1;
}

/* 1 when s is all digits: an epoch count, whatever its unit. */
static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* A time column; format NULL: the long format's (RFC 3339 or epoch
 * seconds), else a mapping's time_format. A time outside 1971..2200 is
 * a unit or format mistake, and the message says which is likely:
 * epoch seconds read as milliseconds land in 1970, milliseconds read as
 * seconds after 2200, and a column that is not a time (a count, a
 * value) in 1970 too. */
static int parse_time(struct reader *r, int col, const char *s, const char *format,
		      const char *tz, int64_t *out)
{
	const char *f = format ? format : "auto", *hint;
	int ms, digits;
	char at[32];
	int64_t t;

	/* Epoch seconds as plain digits, the common case, read here: the
	 * general parser's format comparisons and strtoll were a sixth of
	 * reading a history (the same value: those formats read digits so). */
	if (!format || !strcmp(format, "epoch") || !strcmp(format, "auto")) {
		const char *c = s;

		for (t = 0; *c >= '0' && *c <= '9' && c - s < 18; c++)
			t = t * 10 + (*c - '0');
		if (!*c && c > s && t >= ADP_HISTORY_MIN_TIME && t <= ADP_HISTORY_MAX_TIME) {
			*out = t;
			return 0;
		}
	}
	if (!adp_time_parse_format(&t, s, f, tz) && t >= ADP_HISTORY_MIN_TIME && t <= ADP_HISTORY_MAX_TIME) {
		*out = t;
		return 0;
	}
	/* What went wrong, and the likely cause. */
	ms = !strcmp(f, "epoch_ms"), digits = all_digits(s);
	if (adp_time_parse_format(&t, s, f, tz) || t < 0 || t > ADP_HISTORY_MAX_TIME) {
		int64_t as_ms;

		hint = "";
		if (digits && !ms && !adp_time_parse_format(&as_ms, s, "epoch_ms", NULL) &&
		    as_ms >= ADP_HISTORY_MIN_TIME && as_ms <= ADP_HISTORY_MAX_TIME)
			hint = format ? ": is the column in milliseconds? (read it with the source's \"time_format\": \"epoch_ms\")"
				      : ": is the column in milliseconds? (the long format reads epoch seconds)";
		return adp_error_set(ADP_EINPUT,
				     "%s:%ld:%d: timestamp: '%s' is not a valid time: expected %s%s",
				     r->path, r->lineno, col, s,
				     !strcmp(f, "auto") ? "RFC 3339 (2018-05-06T01:00:00Z) or epoch seconds" : f, hint);
	}
	if (t < ADP_HISTORY_MIN_TIME) {
		if (ms)
			hint = "is the column in seconds, not milliseconds? (the source's \"time_format\" is \"epoch_ms\"; \"epoch\" reads seconds)";
		else if (digits)
			hint = "is the column a time in epoch seconds? (a date since 2001 has 10 digits)";
		else
			hint = "is the column the time of each sample?";
		adp_time_format(at, t);
		return adp_error_set(ADP_EINPUT, "%s:%ld:%d: timestamp: '%s' read as %s, before 1971: %s",
				     r->path, r->lineno, col, s, at, hint);
	}
	*out = t;
	return 0;
}

static int cmp_raw(const void *a, const void *b)
{
	const struct raw *x = a, *y = b;
	return x->t < y->t ? -1 : x->t > y->t;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Sorts, merges duplicates, and resamples one pending set into a series. */
static int finish(struct history *h, struct pending *p, const char *source,
		  const struct history_opts *o)
{
	struct series s = { 0 }, *grown;
	size_t i, j, k;
	double *diffs = NULL;
	double *sum = NULL;
	size_t *cnt = NULL;
	int rc = 0;

	if (p->n == 0)
		return 0;
	if (history_find(h, p->component, p->resource))
		return adp_error_set(ADP_EINPUT,
				     "%s: history for component '%s' resource %s is given more than once",
				     source, p->component, adp_resource_name(p->resource));
	/* In time order already, as files mostly are: a stable sort would
	 * change nothing. */
	if (p->unsorted)
		qsort(p->pts, p->n, sizeof(*p->pts), cmp_raw);
	/* Merge equal timestamps into their mean. */
	for (i = 0, j = 0; i < p->n; j++) {
		double total = 0;
		size_t n = 0;
		int64_t t = p->pts[i].t;

		while (i < p->n && p->pts[i].t == t) {
			total += p->pts[i++].v;
			n++;
		}
		s.duplicates += n - 1;
		p->pts[j].t = t;
		p->pts[j].v = total / (double)n;
	}
	s.raw_points = p->n;
	p->n = j;
	s.unsorted = p->unsorted;
	s.step = o->step;
	s.start = floor_div(p->pts[0].t, o->step) * o->step;
	s.n = (size_t)(floor_div(p->pts[p->n - 1].t, o->step) * o->step - s.start) / (size_t)o->step + 1;
	if (s.n > ADP_HISTORY_MAX_POINTS) {
		rc = adp_error_set(ADP_ENOMEM,
				   "%s: history of '%s' spans %zu steps, over the limit of %zu",
				   source, p->component, s.n, (size_t)ADP_HISTORY_MAX_POINTS);
		goto done;
	}
	if (s.n > ADP_HISTORY_MAX_GRID - h->grid_points) {
		rc = adp_error_set(ADP_ENOMEM,
				   "%s: history of '%s' spans %zu steps from its first sample to its last, which with the %zu of the other series is over the limit of %zu resampled points (samples years apart?)",
				   source, p->component, s.n, h->grid_points, (size_t)ADP_HISTORY_MAX_GRID);
		goto done;
	}
	if (p->n > 1 && (diffs = malloc((p->n - 1) * sizeof(*diffs)))) {
		/* The median gap (times are far below 2^53 seconds: exact as doubles). */
		for (i = 1; i < p->n; i++)
			diffs[i - 1] = (double)(p->pts[i].t - p->pts[i - 1].t);
		adp_select_kth(diffs, p->n - 1, (p->n - 1) / 2);
		s.native_step = (int64_t)diffs[(p->n - 1) / 2];
	}
	s.v = malloc(s.n * sizeof(*s.v));
	sum = calloc(s.n, sizeof(*sum));
	cnt = calloc(s.n, sizeof(*cnt));
	s.component = strdup(p->component);
	s.source = strdup(source);
	if (!s.v || !sum || !cnt || !s.component || !s.source) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory resampling '%s'", source);
		goto done;
	}
	s.resource = p->resource;
	for (i = 0; i < p->n; i++) {
		k = (size_t)((floor_div(p->pts[i].t, o->step) * o->step - s.start) / o->step);
		sum[k] += p->pts[i].v;
		cnt[k]++;
	}
	/* Empty steps: interpolate between the raw neighbours when they are
	 * close enough, otherwise leave the gap visible. */
	for (k = 0, j = 0; k < s.n; k++) {
		int64_t t = s.start + (int64_t)k * o->step;

		if (cnt[k]) {
			s.v[k] = sum[k] / (double)cnt[k];
			continue;
		}
		while (j + 1 < p->n && p->pts[j + 1].t <= t)
			j++;
		if (j + 1 < p->n && p->pts[j].t <= t && p->pts[j + 1].t - p->pts[j].t <= o->max_gap) {
			double f = (double)(t - p->pts[j].t) / (double)(p->pts[j + 1].t - p->pts[j].t);
			s.v[k] = p->pts[j].v + f * (p->pts[j + 1].v - p->pts[j].v);
			s.interpolated++;
		} else {
			s.v[k] = NAN;
			s.missing++;
		}
	}
	grown = h->n == h->alloc ? realloc(h->items, (h->alloc ? h->alloc * 2 : 16) * sizeof(*grown))
				 : h->items;
	if (!grown) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	if (h->n == h->alloc)
		h->alloc = h->alloc ? h->alloc * 2 : 16;
	h->items = grown;
	h->items[h->n++] = s;
	h->grid_points += s.n;
	memset(&s, 0, sizeof(s));
	if (2 * (h->n + 1) > h->nslots)
		rc = index_rebuild(&h->slots, &h->nslots, h->n, h->items, series_name);
	else
		h->slots[slot_of(h->slots, h->nslots, p->component, p->resource, h->items, series_name)] = h->n - 1;
done:
	series_release(&s);
	free(diffs);
	free(sum);
	free(cnt);
	return rc;
}

int history_adopt(struct history *dst, struct history *src)
{
	struct series *grown;
	size_t i, grid = 0, alloc;

	for (i = 0; i < src->n; i++) {
		const struct series *s = &src->items[i];

		if (history_find(dst, s->component, s->resource))
			return adp_error_set(ADP_EINPUT, "%s: history for component '%s' resource %s is given more than once",
					     s->source, s->component, adp_resource_name(s->resource));
		grid += s->n;
	}
	if (src->total_points > ADP_HISTORY_MAX_POINTS - dst->total_points)
		return adp_error_set(ADP_ENOMEM, "%s: history exceeds the limit of %zu samples",
				     src->n ? src->items[0].source : "history", (size_t)ADP_HISTORY_MAX_POINTS);
	if (grid > ADP_HISTORY_MAX_GRID - dst->grid_points)
		return adp_error_set(ADP_ENOMEM,
				     "%s: resampling would take %zu points beside the %zu already read, over the limit of %zu",
				     src->n ? src->items[0].source : "history", grid, dst->grid_points,
				     (size_t)ADP_HISTORY_MAX_GRID);
	if (!src->n) {
		dst->total_points += src->total_points;
		return 0;
	}
	for (alloc = dst->alloc ? dst->alloc : 16; alloc < dst->n + src->n; alloc *= 2)
		;
	if (alloc != dst->alloc) {
		if (!(grown = realloc(dst->items, alloc * sizeof(*grown))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		dst->items = grown;
		dst->alloc = alloc;
	}
	if (2 * (dst->n + src->n + 1) > dst->nslots) {
		size_t *slots = NULL, nslots = 0;

		memcpy(dst->items + dst->n, src->items, src->n * sizeof(*src->items));
		if (index_rebuild(&slots, &nslots, dst->n + src->n, dst->items, series_name))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		free(dst->slots);
		dst->slots = slots;
		dst->nslots = nslots;
	} else {
		for (i = 0; i < src->n; i++) {
			dst->items[dst->n + i] = src->items[i];
			dst->slots[slot_of(dst->slots, dst->nslots, src->items[i].component, src->items[i].resource,
					   dst->items, series_name)] = dst->n + i;
		}
	}
	dst->n += src->n;
	dst->total_points += src->total_points;
	dst->grid_points += grid;
	src->n = 0;
	history_release(src);
	return 0;
}

/* Undoes what a failed file added, so that h is as before the call. */
void history_truncate(struct history *h, size_t n0, size_t points0)
{
	if (h->n <= n0) {
		h->total_points = points0;
		return;
	}
	while (h->n > n0) {
		h->grid_points -= h->items[h->n - 1].n;
		series_release(&h->items[--h->n]);
	}
	h->total_points = points0;
	/* Refilled in place: no allocation that could fail here. */
	index_fill(h->slots, h->nslots, h->n, h->items, series_name);
}

/* Steps of o->step from p's first sample to its last (p unsorted). */
static size_t span_of(const struct pending *p, const struct history_opts *o)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	size_t i;

	for (i = 0; i < p->n; i++) {
		lo = p->pts[i].t < lo ? p->pts[i].t : lo;
		hi = p->pts[i].t > hi ? p->pts[i].t : hi;
	}
	if (!p->n)
		return 0;
	return (size_t)((floor_div(hi, o->step) - floor_div(lo, o->step))) + 1;
}

/* Resampling puts every series on a grid from its first sample to its
 * last: checked for the whole file before anything is allocated, so that
 * a small file with samples decades apart is refused at once rather than
 * after gigabytes. A series over HISTORY_SPARSE_FACTOR times sparser than
 * the step across more than HISTORY_SPARSE_MIN steps is refused too. */
#define HISTORY_SPARSE_FACTOR 100
#define HISTORY_SPARSE_MIN ((size_t)1000 * 1000)

static int check_grid(const struct history *h, const struct reader *r, const struct history_opts *o)
{
	size_t i, total = 0, span;

	for (i = 0; i < r->npend; i++) {
		const struct pending *p = &r->pend[i];

		span = span_of(p, o);
		if (span > HISTORY_SPARSE_MIN && span / HISTORY_SPARSE_FACTOR > p->n)
			return adp_error_set(ADP_EINPUT,
					     "%s: history of '%s' %s has %zu samples spread over %zu steps of %llds (%.1f days): too sparse to resample; check the timestamps",
					     r->path, p->component, adp_resource_name(p->resource), p->n, span,
					     (long long)o->step, (double)span * (double)o->step / 86400.0);
		total += span;
	}
	if (total > ADP_HISTORY_MAX_GRID - h->grid_points)
		return adp_error_set(ADP_ENOMEM,
				     "%s: resampling would take %zu points beside the %zu already read, over the limit of %zu",
				     r->path, total, h->grid_points, (size_t)ADP_HISTORY_MAX_GRID);
	return 0;
}

static int finish_all(struct history *h, struct reader *r, const struct history_opts *o)
{
	size_t i;
	int rc;

	if ((rc = check_grid(h, r, o)))
		return rc;
	for (i = 0; i < r->npend; i++)
		if ((rc = finish(h, &r->pend[i], r->path, o)))
			return rc;
	return 0;
}

/* Ends a read that came to rc: when all went well the pending series
 * are added; on any failure h is back as it was (n0 series, points0
 * points). Closes r. */
static int read_end(struct history *h, struct reader *r, int rc, size_t n0, size_t points0,
		    const struct history_opts *o)
{
	if (!rc)
		rc = finish_all(h, r, o);
	if (rc)
		history_truncate(h, n0, points0);
	reader_close(r);
	return rc;
}

static int check_opts(const struct history_opts *o)
{
	if (o->step <= 0 || o->max_gap < 0)
		return adp_error_set(ADP_EINPUT, "history step must be positive");
	return 0;
}

static int find_column(struct reader *r, const char *want, const char *what)
{
	char *end;
	long idx;
	int i;

	if (isdigit((unsigned char)want[0])) {
		idx = strtol(want, &end, 10);
		if (!*end && idx >= 1 && idx <= r->nfields)
			return (int)idx - 1;
		return adp_error_set(ADP_EINPUT, "%s:%ld: %s column %s does not exist: the header has %d columns",
				     r->path, r->lineno, what, want, r->nfields);
	}
	for (i = 0; i < r->nfields; i++)
		if (!strcmp(r->fields[i], want))
			return i;
	return adp_error_set(ADP_EINPUT, "%s:%ld: %s column '%s' is not in the header", r->path,
			     r->lineno, what, want);
}

int history_add_long_csv(struct history *h, const char *path, const struct history_opts *o)
{
	struct reader r;
	int rc;

	if ((rc = check_opts(o)) || (rc = reader_open(&r, path)))
		return rc;
	return read_long(h, &r, o);
}

int history_add_long_csv_stream(struct history *h, const char *name, FILE *f,
				const struct history_opts *o)
{
	struct reader r;
	int rc;

	if ((rc = check_opts(o)) || (rc = reader_stream(&r, name, f)))
		return rc;
	return read_long(h, &r, o);
}

/* Reads a long-format CSV from an opened reader and closes it. */
static int read_long(struct history *h, struct reader *rd, const struct history_opts *o)
{
	static const char *const names[] = { "timestamp", "component", "resource", "value" };
	struct reader r = *rd;
	const char *path = r.path;
	size_t n0 = h->n, points0 = h->total_points;
	int col[4], rc, i, more;

	if ((more = next_line(&r)) <= 0) {
		rc = more < 0 ? more : adp_error_set(ADP_EINPUT, "%s: empty file: expected a header 'timestamp,component,resource,value'", path);
		goto done;
	}
	if ((rc = split(&r, ",")))
		goto done;
	for (i = 0; i < 4; i++) {
		if ((col[i] = find_column(&r, names[i], names[i])) < 0) {
			rc = adp_error_set(ADP_EINPUT,
					   "%s:1: header must name the columns timestamp, component, resource and value; '%s' is missing",
					   path, names[i]);
			goto done;
		}
	}
	while ((more = next_line(&r)) > 0) {
		struct pending *p;
		int64_t t;
		double v;
		int res, has;

		if ((rc = split(&r, ",")))
			goto done;
		for (i = 0; i < 4; i++) {
			if (col[i] >= r.nfields) {
				rc = adp_error_set(ADP_EINPUT, "%s:%ld: %d columns, expected %d (missing %s)",
						   path, r.lineno, r.nfields, 4, names[i]);
				goto done;
			}
		}
		if ((rc = parse_time(&r, col[0] + 1, r.fields[col[0]], NULL, NULL, &t)))
			goto done;
		if (o->until && t >= o->until)
			continue;
		if (!history_name_valid(r.fields[col[1]])) {
			rc = adp_error_set(ADP_EINPUT,
					   "%s:%ld:%d: component: '%s' is not a valid name: expected 1 to %d of A-Z a-z 0-9 . _ -",
					   path, r.lineno, col[1] + 1, r.fields[col[1]], ADP_HISTORY_MAX_NAME);
			goto done;
		}
		if ((res = adp_resource_parse(r.fields[col[2]])) < 0) {
			rc = adp_error_set(ADP_EINPUT,
					   "%s:%ld:%d: resource: unknown resource '%s': expected cpu, memory, io or net",
					   path, r.lineno, col[2] + 1, r.fields[col[2]]);
			goto done;
		}
		if ((has = parse_value(&r, col[3] + 1, "value", r.fields[col[3]], 1, 0, &v)) < 0) {
			rc = has;
			goto done;
		}
		if (!has)
			continue;
		if (!(p = pending_get(&r, r.fields[col[1]], res))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		if ((rc = pending_add(h, &r, p, t, v)))
			goto done;
	}
	rc = more < 0 ? more : 0;
	if (!rc && r.npend == 0)
		rc = adp_error_set(ADP_EINPUT, "%s: no samples before the forecast origin", path);
done:
	return read_end(h, &r, rc, n0, points0, o);
}

int history_add_mapped_csv(struct history *h, const char *path, const char *component,
			   const struct history_mapping *m, const struct history_opts *o)
{
	struct reader r;
	int rc;

	if ((rc = check_opts(o)) || (rc = reader_open(&r, path)))
		return rc;
	return read_mapped(h, &r, component, m, o);
}

int history_add_mapped_csv_stream(struct history *h, const char *name, FILE *f,
				  const char *component, const struct history_mapping *m,
				  const struct history_opts *o)
{
	struct reader r;
	int rc;

	if ((rc = check_opts(o)) || (rc = reader_stream(&r, name, f)))
		return rc;
	return read_mapped(h, &r, component, m, o);
}

/* Reads a wide CSV through a mapping from an opened reader and closes it. */
static int read_mapped(struct history *h, struct reader *rd, const char *component,
		       const struct history_mapping *m, const struct history_opts *o)
{
	struct reader r = *rd;
	const char *path = r.path;
	size_t n0 = h->n, points0 = h->total_points;
	/* Indices into r.pend: its array moves as it grows. */
	size_t p[ADP_RES_COUNT];
	int col[ADP_RES_COUNT], tcol, rc, res, more, any = 0;
	const char *delim = m->delimiter && *m->delimiter ? m->delimiter : ",";

	if ((more = next_line(&r)) <= 0) {
		rc = more < 0 ? more : adp_error_set(ADP_EINPUT, "%s: empty file: expected a header line", path);
		goto done;
	}
	if ((rc = split(&r, delim)))
		goto done;
	if ((tcol = find_column(&r, m->time_column ? m->time_column : "1", "time")) < 0) {
		rc = tcol;
		goto done;
	}
	for (res = 0; res < ADP_RES_COUNT; res++) {
		col[res] = -1;
		if (!m->res[res].column)
			continue;
		if ((col[res] = find_column(&r, m->res[res].column, adp_resource_name(res))) < 0) {
			rc = col[res];
			goto done;
		}
		if (!pending_get(&r, component, res)) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		p[res] = r.npend - 1;
		any = 1;
	}
	if (!any) {
		rc = adp_error_set(ADP_EINPUT, "%s: the mapping names no resource column", path);
		goto done;
	}
	while ((more = next_line(&r)) > 0) {
		int64_t t;

		if ((rc = split(&r, delim)))
			goto done;
		if (tcol >= r.nfields) {
			rc = adp_error_set(ADP_EINPUT, "%s:%ld: %d columns, expected at least %d", path,
					   r.lineno, r.nfields, tcol + 1);
			goto done;
		}
		if ((rc = parse_time(&r, tcol + 1, r.fields[tcol], m->time_format, m->timezone, &t)))
			goto done;
		if (o->until && t >= o->until)
			continue;
		for (res = 0; res < ADP_RES_COUNT; res++) {
			double v;
			int has;

			if (col[res] < 0)
				continue;
			if (col[res] >= r.nfields) {
				rc = adp_error_set(ADP_EINPUT, "%s:%ld: %d columns, expected at least %d",
						   path, r.lineno, r.nfields, col[res] + 1);
				goto done;
			}
			has = parse_value(&r, col[res] + 1, m->res[res].column, r.fields[col[res]],
					  m->res[res].scale, m->res[res].offset, &v);
			if (has < 0) {
				rc = has;
				goto done;
			}
			if (has && (rc = pending_add(h, &r, &r.pend[p[res]], t, v)))
				goto done;
		}
	}
	rc = more < 0 ? more : 0;
	for (res = 0; !rc && res < ADP_RES_COUNT; res++)
		if (col[res] >= 0 && r.pend[p[res]].n == 0)
			rc = adp_error_set(ADP_EINPUT, "%s: no %s samples before the forecast origin",
					   path, adp_resource_name(res));
done:
	return read_end(h, &r, rc, n0, points0, o);
}

int history_add_points(struct history *h, const char *source, const char *component,
		       int resource, const int64_t *t, const double *v, size_t n,
		       const struct history_opts *o)
{
	struct pending p = { 0 };
	size_t i;
	int rc;

	if ((rc = check_opts(o)))
		return rc;
	if (!history_name_valid(component))
		return adp_error_set(ADP_EINPUT, "%s: '%s' is not a valid component name", source, component);
	if (resource < 0 || resource >= ADP_RES_COUNT)
		return adp_error_set(ADP_EINPUT, "%s: unknown resource", source);
	if (n > ADP_HISTORY_MAX_POINTS - h->total_points)
		return adp_error_set(ADP_ENOMEM, "%s: history exceeds the limit of %zu samples", source,
				     (size_t)ADP_HISTORY_MAX_POINTS);
	p.resource = resource;
	p.component = (char *)component;
	if (n && !(p.pts = malloc(n * sizeof(*p.pts))))
		return adp_error_set(ADP_ENOMEM, "out of memory reading '%s'", source);
	for (i = 0; i < n; i++) {
		if (!isfinite(v[i]) || v[i] < 0 || v[i] > ADP_HISTORY_MAX_VALUE) {
			rc = adp_error_set(ADP_EINPUT, "%s: '%s' %s: value %g is out of range: expected 0 to %g",
					   source, component, adp_resource_name(resource), v[i],
					   ADP_HISTORY_MAX_VALUE);
			goto done;
		}
		if (o->until && t[i] >= o->until)
			continue;
		if (p.n && t[i] < p.pts[p.n - 1].t)
			p.unsorted++;
		p.pts[p.n].t = t[i];
		p.pts[p.n].v = v[i];
		p.n++;
	}
	if (p.n == 0) {
		rc = adp_error_set(ADP_EINPUT, "%s: no samples of '%s' %s before the forecast origin", source,
				   component, adp_resource_name(resource));
		goto done;
	}
	h->total_points += p.n;
	rc = finish(h, &p, source, o);
done:
	free(p.pts);
	return rc;
}
