#include "history/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/fsutil.h"

#define MAX_MEMBER_NAME 4096

/* One archive being read, with the running totals the limits judge. */
struct arc {
	struct archive *a;
	const char *path;
	const struct history_archive_limits *lim;
	uint64_t file_size;
	uint64_t total;     /* bytes expanded so far from matched members */
	uint64_t member;    /* bytes expanded from the current member */
	char name[PATH_MAX + MAX_MEMBER_NAME + 3]; /* "path(member)" */
	int failed;         /* a limit or read error ended the stream */
	struct adp_error_state why; /* kept while the parser reports its own error */
};

void history_archive_limits_default(struct history_archive_limits *l)
{
	l->max_entries = HISTORY_ARCHIVE_MAX_ENTRIES;
	l->max_member = HISTORY_ARCHIVE_MAX_MEMBER;
	l->max_total = HISTORY_ARCHIVE_MAX_TOTAL;
	l->max_ratio = HISTORY_ARCHIVE_MAX_RATIO;
}

/* The expanded stream (tar inside gzip) counts too: a skipped member of
 * zeros costs time even when nothing reads it. */
static int check_ratio(struct arc *c)
{
	uint64_t expanded = (uint64_t)archive_filter_bytes(c->a, 0);

	if (c->total > expanded)
		expanded = c->total;
	if (c->lim->max_ratio > 0 && expanded > HISTORY_ARCHIVE_RATIO_FLOOR && c->file_size &&
	    (double)expanded / (double)c->file_size > c->lim->max_ratio)
		return adp_error_set(ADP_EINPUT,
				     "archive '%s': expands more than %.0f times its size (%llu bytes from %llu): refusing a possible archive bomb",
				     c->path, c->lim->max_ratio, (unsigned long long)expanded,
				     (unsigned long long)c->file_size);
	return 0;
}

/* Reads from the current member with every limit applied. */
static ssize_t arc_fail(struct arc *c)
{
	c->failed = 1;
	adp_error_save(&c->why, ADP_EINPUT);
	return -1;
}

static ssize_t arc_read(struct arc *c, char *buf, size_t size)
{
	la_ssize_t n;

	if (c->failed)
		return -1;
	n = archive_read_data(c->a, buf, size);
	if (n < 0) {
		adp_error_set(ADP_EINPUT, "%s: %s", c->name, archive_error_string(c->a));
		return arc_fail(c);
	}
	c->member += (uint64_t)n;
	c->total += (uint64_t)n;
	if (c->member > c->lim->max_member) {
		adp_error_set(ADP_EINPUT, "%s: member expands beyond the limit of %llu bytes",
			      c->name, (unsigned long long)c->lim->max_member);
		return arc_fail(c);
	}
	if (c->total > c->lim->max_total) {
		adp_error_set(ADP_EINPUT, "archive '%s': members expand beyond the limit of %llu bytes in all",
			      c->path, (unsigned long long)c->lim->max_total);
		return arc_fail(c);
	}
	if (check_ratio(c))
		return arc_fail(c);
	return n;
}

static ssize_t cookie_read(void *cookie, char *buf, size_t size)
{
	ssize_t n = arc_read(cookie, buf, size);

	if (n < 0)
		errno = EIO;
	return n;
}

/* Reads the whole member (bounded by the member limit) as text. */
static int member_text(struct arc *c, struct adp_buf *out)
{
	char chunk[65536];
	ssize_t n;
	int rc;

	while ((n = arc_read(c, chunk, sizeof(chunk))) > 0)
		if ((rc = adp_buf_add(out, chunk, (size_t)n)))
			return rc;
	if (n < 0)
		return adp_error_restore(&c->why);
	return 0;
}

/* Reads the current member into h as a stream. */
static int read_member(struct arc *c, const char *member, struct history *h, const char *component,
		       const struct history_mapping *m, const struct history_opts *o)
{
	static const cookie_io_functions_t io = { cookie_read, NULL, NULL, NULL };
	struct adp_buf text = ADP_BUF_INIT;
	FILE *f = NULL;
	int rc;

	c->member = 0;
	if (history_is_json(member)) {
		if (m) {
			rc = adp_error_set(ADP_EINPUT, "%s: a JSON member holds long-format samples: use \"format\": \"long\"",
					   c->name);
			goto done;
		}
		adp_buf_init(&text, (size_t)c->lim->max_member + 1);
		if (!(rc = member_text(c, &text)))
			rc = history_add_json_text(h, c->name, adp_buf_str(&text), o);
		goto done;
	}
	f = fopencookie(c, "r", io);
	if (!f) {
		rc = adp_error_set(ADP_ESYS, "cannot read '%s': %s", c->name, strerror(errno));
		goto done;
	}
	rc = m ? history_add_mapped_csv_stream(h, c->name, f, component, m, o)
	       : history_add_long_csv_stream(h, c->name, f, o);
	/* A limit that cut the stream short speaks louder than the parser. */
	if (c->failed)
		rc = adp_error_restore(&c->why);
done:
	if (f)
		fclose(f);
	adp_buf_release(&text);
	if (c->failed && rc == 0)
		rc = adp_error_restore(&c->why);
	return rc;
}

int history_archive_read(struct history *h, const char *path, const char *pattern,
			  const char *component, const struct history_mapping *m,
			  const struct history_opts *o, const struct history_archive_limits *lim,
			  size_t *nmatched)
{
	struct history_archive_limits def;
	struct arc c = { 0 };
	struct archive_entry *e;
	struct stat st;
	size_t entries = 0, matched = 0;
	int rc = 0, r;

	if (!lim) {
		history_archive_limits_default(&def);
		lim = &def;
	}
	c.path = path;
	c.lim = lim;
	if (stat(path, &st))
		return adp_error_set(ADP_EINPUT, "cannot open archive '%s': %s", path, strerror(errno));
	c.file_size = (uint64_t)st.st_size;
	if (!(c.a = archive_read_new()))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	archive_read_support_filter_gzip(c.a);
	archive_read_support_filter_xz(c.a);
	archive_read_support_filter_bzip2(c.a);
	archive_read_support_filter_zstd(c.a);
	archive_read_support_format_tar(c.a);
	archive_read_support_format_gnutar(c.a);
	archive_read_support_format_zip(c.a);
	if (archive_read_open_filename(c.a, path, 65536) != ARCHIVE_OK) {
		rc = adp_error_set(ADP_EINPUT, "cannot open archive '%s': %s", path,
				   archive_error_string(c.a));
		goto done;
	}
	for (;;) {
		const char *name;

		r = archive_read_next_header(c.a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			rc = adp_error_set(ADP_EINPUT, "archive '%s': %s: expected a tar (optionally gzip, xz) or zip archive",
					   path, archive_error_string(c.a));
			goto done;
		}
		if (++entries > lim->max_entries) {
			rc = adp_error_set(ADP_EINPUT, "archive '%s': more than %zu entries", path,
					   lim->max_entries);
			goto done;
		}
		if ((rc = check_ratio(&c)))
			goto done;
		name = archive_entry_pathname(e);
		if (!name || archive_entry_filetype(e) != AE_IFREG || strlen(name) > MAX_MEMBER_NAME ||
		    fnmatch(pattern, name, 0))
			continue;
		/* Messages name the member as "file.tar.gz(member.csv)". */
		if ((rc = adp_snprintf_path(c.name, sizeof(c.name), "%s(%s)", path, name)) ||
		    (rc = read_member(&c, name, h, component, m, o)))
			goto done;
		matched++;
	}
	if ((rc = check_ratio(&c)))
		goto done;
	if (!matched) {
		rc = adp_error_set(ADP_EINPUT, "archive '%s': no member matches '%s'", path, pattern);
		goto done;
	}
	if (nmatched)
		*nmatched = matched;
done:
	archive_read_free(c.a);
	return rc;
}
