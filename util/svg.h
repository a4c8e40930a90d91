/* Inline SVG charts for self-contained HTML: a time chart (lines, bands,
 * points with tooltips, a reference line, shaded spans and a strip of
 * per-step probabilities) and a Gantt chart of time spans per row. Every
 * chart has a title, axes with their unit and a legend; every text that
 * reaches the output goes through adp_html_escape. No script, no
 * external resource: tooltips are SVG <title> elements.
 * The writers append to a struct adp_buf and return 0, ADP_ENOMEM (the
 * buffer's cap) or ADP_EINPUT (an empty time range), with the message
 * set. Pointers in the structs are borrowed for the call. */
#ifndef ADP_SVG_H
#define ADP_SVG_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Appends s with &, <, >, " and ' as character references: safe as HTML
 * or SVG text and inside a quoted attribute value. */
int adp_html_escape(struct adp_buf *b, const char *s);
/* The same for a formatted text (cut at 4 KiB). */
int adp_html_escapef(struct adp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The unit to show values of unit (adp_resource_unit's "cores", "bytes"
 * or "bytes/s") up to max in: "cores", or the binary prefix that keeps
 * max below 1024 ("MiB", "GiB/s"); *div is what a value is divided by.
 * Static, borrowed. */
const char *adp_svg_unit(const char *unit, double max, double *div);

/* Ticks covering [lo, hi] at a step of 1, 2 or 5 times a power of ten,
 * about want of them (at most max, written to out); returns how many
 * and the step in *step. lo >= hi gives lo alone. */
size_t adp_svg_ticks(double lo, double hi, size_t want, double *out, size_t max, double *step);

/* Time ticks in [lo, hi] at a whole step of minutes, hours or days
 * (1m, 5m, 10m, 15m, 30m, 1h, 2h, 3h, 6h, 12h, 1d, ...) aligned on the
 * step in UTC, about want of them (at most max). */
size_t adp_svg_time_ticks(int64_t lo, int64_t hi, size_t want, int64_t *out, size_t max);

enum adp_chart_kind {
	ADP_CHART_LINE,   /* y joined point to point; NAN breaks the line */
	ADP_CHART_BAND,   /* the area between y and y2 */
	ADP_CHART_POINTS, /* a dot per point, tips[i] its tooltip when given */
	ADP_CHART_HLINE,  /* a horizontal line at y[0] across the chart (a capacity) */
};

struct adp_chart_series {
	const char *name;        /* the legend's text */
	int kind;                /* enum adp_chart_kind */
	const char *colour;      /* a CSS colour: the caller's constant, never input */
	const int64_t *t;        /* n times (seconds); unused for HLINE */
	const double *y, *y2;    /* n values; y2 only for BAND */
	const char *const *tips; /* optional, POINTS: n tooltips (NULL entries: none) */
	size_t n;
	int dashed;
};

/* A shaded span of time, labelled at its top (a wave, an offline time). */
struct adp_chart_span {
	int64_t from, to;
	const char *label;       /* may be NULL */
};

struct adp_chart {
	const char *title;
	const char *quantity;    /* the y axis' name: "cpu" */
	const char *unit;        /* the values' unit (adp_resource_unit's); scaled by adp_svg_unit */
	int64_t t0, t1;          /* the x axis; t1 > t0 */
	const struct adp_chart_series *series;
	size_t nseries;
	const struct adp_chart_span *spans;
	size_t nspans;
	const char *span_name;   /* the spans' legend text, when there are spans */
	/* Optional: a strip above the plot, a cell per time strip_t[i] of
	 * width strip_step, darker as strip[i] (a probability) is higher. */
	const int64_t *strip_t;
	const double *strip;
	size_t nstrip;
	int64_t strip_step;
	const char *strip_name;  /* its legend text and tooltips' word */
};

int adp_svg_chart(struct adp_buf *b, const struct adp_chart *c);

struct adp_gantt_bar {
	size_t row;              /* index into rows */
	int64_t from, to;
	const char *label;       /* drawn on the bar; may be NULL */
	const char *tip;         /* tooltip; may be NULL */
};

/* A vertical mark across the rows: the cutoff, a monitoring decision. */
struct adp_gantt_mark {
	int64_t t;
	const char *name;        /* its legend text (one legend entry per distinct name) */
	const char *colour;      /* the caller's constant */
	const char *tip;         /* may be NULL */
};

struct adp_gantt {
	const char *title;
	const char *row_name;    /* the y axis' name: "partition" */
	const char *bar_name;    /* the bars' legend text */
	const char *const *rows;
	size_t nrows;
	const struct adp_gantt_bar *bars;
	size_t nbars;
	const struct adp_gantt_mark *marks;
	size_t nmarks;
	int64_t t0, t1;
};

int adp_svg_gantt(struct adp_buf *b, const struct adp_gantt *g);

#endif
