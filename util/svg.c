/* Inline SVG charts (see svg.h). */
#include "util/svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/error.h"

#define W 900                  /* the view box's width */
#define ML 84                  /* left margin: the y axis' ticks and name */
#define MR 24
#define PLOT_TOP 52            /* below the title and the strip */
#define PLOT_H 190
#define LEGEND_ROW 18
#define CHAR_W 6.5             /* an estimate of a 12px character's width */
#define MAX_TICKS 32

/* Appends, or leaves the function through done with rc set. */
#define ADD(...)                                             \
	do {                                                     \
		if ((rc = adp_buf_addf(b, __VA_ARGS__)))             \
			goto done;                                       \
	} while (0)
#define ESC(s)                                               \
	do {                                                     \
		if ((rc = adp_html_escape(b, (s))))                  \
			goto done;                                       \
	} while (0)

int adp_html_escape(struct adp_buf *b, const char *s)
{
	const char *p = s ? s : "", *from = p;
	int rc = 0;

	for (; *p && !rc; p++) {
		const char *ref = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '"' ? "&quot;"
				: *p == '\'' ? "&#39;" : NULL;

		if (!ref)
			continue;
		if (!(rc = adp_buf_add(b, from, (size_t)(p - from))))
			rc = adp_buf_adds(b, ref);
		from = p + 1;
	}
	return rc ? rc : adp_buf_adds(b, from);
}

int adp_html_escapef(struct adp_buf *b, const char *fmt, ...)
{
	char text[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap); /* display only: a longer text is cut */
	va_end(ap);
	return adp_html_escape(b, text);
}

const char *adp_svg_unit(const char *unit, double max, double *div)
{
	static const char *const bytes[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB" };
	static const char *const rates[] = { "bytes/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s", "PiB/s" };
	const char *const *names;
	int i = 0;

	*div = 1;
	if (!unit || (strcmp(unit, "bytes") && strcmp(unit, "bytes/s")))
		return unit ? unit : "";
	names = strcmp(unit, "bytes") ? rates : bytes;
	while (fabs(max) / *div >= 1024 && i < 5) {
		*div *= 1024;
		i++;
	}
	return names[i];
}

size_t adp_svg_ticks(double lo, double hi, size_t want, double *out, size_t max, double *step)
{
	double raw, mag, s, v;
	size_t n = 0;

	*step = 0;
	if (!max)
		return 0;
	if (!(hi > lo) || !isfinite(lo) || !isfinite(hi)) {
		out[0] = isfinite(lo) ? lo : 0;
		return 1;
	}
	raw = (hi - lo) / (double)(want ? want : 1);
	mag = pow(10, floor(log10(raw)));
	s = raw / mag < 1.5 ? 1 : raw / mag < 3.5 ? 2 : raw / mag < 7.5 ? 5 : 10;
	*step = s * mag;
	for (v = ceil(lo / *step - 1e-9) * *step; v <= hi + *step * 1e-9 && n < max; v += *step)
		out[n++] = fabs(v) < *step * 1e-9 ? 0 : v;
	return n;
}

size_t adp_svg_time_ticks(int64_t lo, int64_t hi, size_t want, int64_t *out, size_t max)
{
	static const int64_t steps[] = { 60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
					 172800, 604800, 2592000, 31536000 };
	int64_t s = steps[sizeof(steps) / sizeof(steps[0]) - 1], t;
	size_t i, n = 0;

	if (hi <= lo || !max)
		return 0;
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if ((hi - lo) / steps[i] <= (int64_t)(want ? want : 1)) {
			s = steps[i];
			break;
		}
	t = lo - ((lo % s) + s) % s;
	if (t < lo)
		t += s;
	for (; t <= hi && n < max; t += s)
		out[n++] = t;
	return n;
}

/* "01:15", or "05-06 01:15" when the axis spans more than a day. */
static void time_label(char buf[32], int64_t t, int with_date)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm)) {
		snprintf(buf, 32, "?");
		return;
	}
	strftime(buf, 32, with_date ? "%m-%d %H:%M" : "%H:%M", &tm);
}

/* A tick's text at the step's precision. */
static void tick_label(char buf[32], double v, double step)
{
	int dec = step > 0 && step < 1 ? (int)ceil(-log10(step) - 1e-9) : 0;

	snprintf(buf, 32, "%.*f", dec > 6 ? 6 : dec, v);
}

struct frame {
	double x0, x1, y0, y1;   /* the plot's box in view box units */
	int64_t t0, t1;
	double lo, hi;           /* the y axis' range, in scaled units */
	double div;
};

static double fx(const struct frame *f, int64_t t)
{
	return f->x0 + (f->x1 - f->x0) * (double)(t - f->t0) / (double)(f->t1 - f->t0);
}

static double fy(const struct frame *f, double v)
{
	double y = f->y1 - (f->y1 - f->y0) * (v / f->div - f->lo) / (f->hi - f->lo);

	return y < f->y0 ? f->y0 : y > f->y1 ? f->y1 : y;
}

/* The legend's entries laid out in rows under the axis; returns how many rows. */
struct legend_item {
	const char *name, *colour;
	int kind;                /* 0 line, 1 band, 2 point, 3 span, 4 strip, 5 dashed line */
};

static int legend_rows(const struct legend_item *it, size_t n)
{
	double x = ML, rows = 1;
	size_t i;

	for (i = 0; i < n; i++) {
		double w = 34 + CHAR_W * (double)strlen(it[i].name);

		if (x > ML && x + w > W - MR) {
			rows++;
			x = ML;
		}
		x += w;
	}
	return (int)rows;
}

static int legend(struct adp_buf *b, const struct legend_item *it, size_t n, double top)
{
	double x = ML, y = top;
	size_t i;
	int rc = 0;

	ADD("<g class=\"legend\">");
	for (i = 0; i < n; i++) {
		double w = 34 + CHAR_W * (double)strlen(it[i].name);

		if (x > ML && x + w > W - MR) {
			y += LEGEND_ROW;
			x = ML;
		}
		ADD("<g class=\"legend-item\">");
		switch (it[i].kind) {
		case 1: case 3: case 4:
			ADD("<rect x=\"%.1f\" y=\"%.1f\" width=\"20\" height=\"10\" fill=\"%s\" fill-opacity=\"%s\"/>", x,
			    y - 9, it[i].colour, it[i].kind == 1 ? "0.3" : it[i].kind == 3 ? "0.12" : "0.8");
			break;
		case 2:
			ADD("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>", x + 10, y - 4, it[i].colour);
			break;
		default:
			ADD("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>", x,
			    y - 4, x + 20, y - 4, it[i].colour, it[i].kind == 5 ? " stroke-dasharray=\"5 3\"" : "");
			break;
		}
		ADD("<text x=\"%.1f\" y=\"%.1f\">", x + 26, y);
		ESC(it[i].name);
		ADD("</text></g>");
		x += w;
	}
	ADD("</g>");
done:
	return rc;
}

/* The x axis: line, time ticks and their labels, and its name. */
static int x_axis(struct adp_buf *b, const struct frame *f)
{
	int64_t ticks[MAX_TICKS];
	size_t n = adp_svg_time_ticks(f->t0, f->t1, 8, ticks, MAX_TICKS), i;
	int with_date = f->t1 - f->t0 > 86400, rc = 0;
	char lab[32];

	ADD("<g class=\"axis x-axis\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>", f->x0,
	    f->y1, f->x1, f->y1);
	for (i = 0; i < n; i++) {
		double x = fx(f, ticks[i]);

		time_label(lab, ticks[i], with_date);
		ADD("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>"
		    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>",
		    x, f->y1, x, f->y1 + 5, x, f->y1 + 18, lab);
	}
	ADD("<text class=\"axis-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">time (UTC)</text></g>",
	    (f->x0 + f->x1) / 2, f->y1 + 34);
done:
	return rc;
}

static int chart_series(struct adp_buf *b, const struct frame *f, const struct adp_chart_series *s)
{
	size_t i;
	int rc = 0, open = 0;

	switch (s->kind) {
	case ADP_CHART_HLINE:
		if (!s->n || !isfinite(s->y[0]))
			break;
		ADD("<line class=\"hline\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
		    "stroke-width=\"2\"%s/>", f->x0, fy(f, s->y[0]), f->x1, fy(f, s->y[0]), s->colour,
		    s->dashed ? " stroke-dasharray=\"6 4\"" : "");
		break;
	case ADP_CHART_LINE:
		for (i = 0; i < s->n; i++) {
			int in = isfinite(s->y[i]) && s->t[i] >= f->t0 && s->t[i] <= f->t1;

			if (in && !open)
				ADD("<path class=\"line\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\"%s d=\"M", s->colour,
				    s->dashed ? " stroke-dasharray=\"5 3\"" : "");
			if (in)
				ADD("%s%.1f %.1f", open ? " L" : "", fx(f, s->t[i]), fy(f, s->y[i]));
			if (!in && open)
				ADD("\"/>");
			open = in;
		}
		if (open)
			ADD("\"/>");
		break;
	case ADP_CHART_BAND:
		for (i = 0; i < s->n; i++) {
			int in = isfinite(s->y[i]) && isfinite(s->y2[i]) && s->t[i] >= f->t0 && s->t[i] <= f->t1;
			size_t k, from;

			if (!in)
				continue;
			/* A run of points in range: the upper edge forward, the lower back. */
			for (from = i; i + 1 < s->n && isfinite(s->y[i + 1]) && isfinite(s->y2[i + 1]) &&
				       s->t[i + 1] >= f->t0 && s->t[i + 1] <= f->t1; i++)
				;
			ADD("<path class=\"band\" fill=\"%s\" fill-opacity=\"0.3\" stroke=\"none\" d=\"M", s->colour);
			for (k = from; k <= i; k++)
				ADD("%s%.1f %.1f", k > from ? " L" : "", fx(f, s->t[k]), fy(f, s->y2[k]));
			for (k = i + 1; k-- > from;)
				ADD(" L%.1f %.1f", fx(f, s->t[k]), fy(f, s->y[k]));
			ADD(" Z\"/>");
		}
		break;
	case ADP_CHART_POINTS:
		for (i = 0; i < s->n; i++) {
			if (!isfinite(s->y[i]) || s->t[i] < f->t0 || s->t[i] > f->t1)
				continue;
			ADD("<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\">", fx(f, s->t[i]),
			    fy(f, s->y[i]), s->colour);
			if (s->tips && s->tips[i]) {
				ADD("<title>");
				ESC(s->tips[i]);
				ADD("</title>");
			}
			ADD("</circle>");
		}
		break;
	}
done:
	return rc;
}

static int chart_strip(struct adp_buf *b, const struct frame *f, const struct adp_chart *c)
{
	size_t i;
	int rc = 0;
	char lab[32];

	ADD("<g class=\"strip\"><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", f->x0 - 6, f->y0 - 8);
	ESC(c->strip_name);
	ADD("</text><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"10\" fill=\"none\" stroke=\"#ccc\"/>", f->x0,
	    f->y0 - 17, f->x1 - f->x0);
	for (i = 0; i < c->nstrip; i++) {
		int64_t t = c->strip_t[i], e = t + c->strip_step;
		double p = c->strip[i];

		if (!isfinite(p) || e <= f->t0 || t >= f->t1)
			continue;
		if (t < f->t0)
			t = f->t0;
		if (e > f->t1)
			e = f->t1;
		time_label(lab, c->strip_t[i], 0);
		ADD("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"10\" fill=\"#c0392b\" fill-opacity=\"%.3f\">"
		    "<title>", fx(f, t), f->y0 - 17, fx(f, e) - fx(f, t), p > 0 ? 0.15 + 0.85 * fmin(1, p / 0.1) : 0.02);
		ADD("%s ", lab);
		ESC(c->strip_name);
		ADD(" %.1f%%</title></rect>", 100 * p);
	}
	ADD("</g>");
done:
	return rc;
}

int adp_svg_chart(struct adp_buf *b, const struct adp_chart *c)
{
	struct legend_item items[64];
	struct frame f;
	double ticks[MAX_TICKS], step, max = 0, top;
	const char *unit;
	size_t i, k, nitems = 0, nt;
	int rc = 0, rows;
	char lab[32];

	if (c->t1 <= c->t0)
		return adp_error_set(ADP_EINPUT, "chart '%s': an empty time range", c->title);
	for (i = 0; i < c->nseries; i++) {
		const struct adp_chart_series *s = &c->series[i];

		for (k = 0; k < (s->kind == ADP_CHART_HLINE ? (s->n ? 1 : 0) : s->n); k++) {
			if (s->kind != ADP_CHART_HLINE && (s->t[k] < c->t0 || s->t[k] > c->t1))
				continue;
			if (isfinite(s->y[k]))
				max = fmax(max, s->y[k]);
			if (s->kind == ADP_CHART_BAND && isfinite(s->y2[k]))
				max = fmax(max, s->y2[k]);
		}
		if (nitems < sizeof(items) / sizeof(items[0]))
			items[nitems++] = (struct legend_item){ s->name, s->colour,
								s->kind == ADP_CHART_BAND     ? 1
								: s->kind == ADP_CHART_POINTS ? 2
								: s->dashed		      ? 5
											      : 0 };
	}
	if (c->nspans && c->span_name && nitems < sizeof(items) / sizeof(items[0]))
		items[nitems++] = (struct legend_item){ c->span_name, "#555", 3 };
	if (c->nstrip && c->strip_name && nitems < sizeof(items) / sizeof(items[0]))
		items[nitems++] = (struct legend_item){ c->strip_name, "#c0392b", 4 };
	unit = adp_svg_unit(c->unit, max, &f.div);
	f.x0 = ML;
	f.x1 = W - MR;
	f.y0 = PLOT_TOP;
	f.y1 = PLOT_TOP + PLOT_H;
	f.t0 = c->t0;
	f.t1 = c->t1;
	f.lo = 0;
	/* The y axis from 0 to the tick at or above the highest value and 8 %. */
	top = max > 0 ? max * 1.08 / f.div : 1;
	nt = adp_svg_ticks(0, top, 5, ticks, MAX_TICKS - 1, &step);
	f.hi = nt ? ticks[nt - 1] : 0;
	if (f.hi < top && step > 0)
		ticks[nt++] = f.hi += step;
	if (!(f.hi > f.lo))
		f.hi = f.lo + 1;
	rows = legend_rows(items, nitems);

	ADD("<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %.0f\" role=\"img\">", W,
	    f.y1 + 62 + rows * LEGEND_ROW);
	ADD("<title>");
	ESC(c->title);
	ADD("</title><text class=\"chart-title\" x=\"%d\" y=\"18\">", ML);
	ESC(c->title);
	ADD("</text>");
	for (i = 0; i < c->nspans; i++) {
		const struct adp_chart_span *s = &c->spans[i];
		int64_t a = s->from < c->t0 ? c->t0 : s->from, e = s->to > c->t1 ? c->t1 : s->to;

		if (e <= a)
			continue;
		ADD("<rect class=\"span\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#555\" "
		    "fill-opacity=\"0.12\"/>", fx(&f, a), f.y0, fx(&f, e) - fx(&f, a), f.y1 - f.y0);
		if (s->label) {
			ADD("<text class=\"span-label\" x=\"%.1f\" y=\"%.1f\">", fx(&f, a) + 3, f.y0 + 12);
			ESC(s->label);
			ADD("</text>");
		}
	}
	/* The y axis: grid lines at the ticks, their labels, its name with the unit. */
	ADD("<g class=\"axis y-axis\">");
	for (i = 0; i < nt; i++) {
		double y = f.y1 - (f.y1 - f.y0) * (ticks[i] - f.lo) / (f.hi - f.lo);

		tick_label(lab, ticks[i], step);
		ADD("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
		    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", f.x0, y, f.x1, y, f.x0 - 6, y + 4, lab);
	}
	ADD("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>", f.x0, f.y0, f.x0, f.y1);
	ADD("<text class=\"axis-label\" transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">",
	    (f.y0 + f.y1) / 2);
	ESC(c->quantity);
	ADD(" (");
	ESC(unit);
	ADD(")</text></g>");
	if ((rc = x_axis(b, &f)))
		goto done;
	if (c->nstrip && (rc = chart_strip(b, &f, c)))
		goto done;
	/* Bands first, so that lines and points stay on top. */
	for (k = 0; k < 2; k++)
		for (i = 0; i < c->nseries; i++)
			if ((c->series[i].kind == ADP_CHART_BAND) == !k && (rc = chart_series(b, &f, &c->series[i])))
				goto done;
	if ((rc = legend(b, items, nitems, f.y1 + 56)))
		goto done;
	ADD("</svg>\n");
done:
	return rc;
}

#define GANTT_ROW 26

int adp_svg_gantt(struct adp_buf *b, const struct adp_gantt *g)
{
	struct legend_item items[16];
	struct frame f;
	size_t i, k, nitems = 0;
	int rc = 0, rows;

	if (g->t1 <= g->t0)
		return adp_error_set(ADP_EINPUT, "chart '%s': an empty time range", g->title);
	items[nitems++] = (struct legend_item){ g->bar_name, "#2e6da4", 4 };
	for (i = 0; i < g->nmarks; i++) {
		int seen = 0;

		for (k = 1; k < nitems; k++)
			seen |= !strcmp(items[k].name, g->marks[i].name);
		if (!seen && nitems < sizeof(items) / sizeof(items[0]))
			items[nitems++] = (struct legend_item){ g->marks[i].name, g->marks[i].colour, 5 };
	}
	memset(&f, 0, sizeof(f));
	f.x0 = ML + 40;
	f.x1 = W - MR;
	f.y0 = 34;
	f.y1 = f.y0 + GANTT_ROW * (double)(g->nrows ? g->nrows : 1);
	f.t0 = g->t0;
	f.t1 = g->t1;
	f.div = 1;
	rows = legend_rows(items, nitems);
	ADD("<svg class=\"chart gantt\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %.0f\" role=\"img\">", W,
	    f.y1 + 62 + rows * LEGEND_ROW);
	ADD("<title>");
	ESC(g->title);
	ADD("</title><text class=\"chart-title\" x=\"%d\" y=\"18\">", ML);
	ESC(g->title);
	ADD("</text><g class=\"axis y-axis\">");
	for (i = 0; i < g->nrows; i++) {
		double y = f.y0 + GANTT_ROW * (double)i;

		ADD("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>", f.x0, y, f.x1 - f.x0,
		    GANTT_ROW, i % 2 ? "#fff" : "#f4f4f4");
		ADD("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", f.x0 - 6, y + GANTT_ROW / 2 + 4);
		ESC(g->rows[i]);
		ADD("</text>");
	}
	ADD("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>", f.x0, f.y0, f.x0, f.y1);
	ADD("<text class=\"axis-label\" transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">",
	    (f.y0 + f.y1) / 2);
	ESC(g->row_name);
	ADD("</text></g>");
	if ((rc = x_axis(b, &f)))
		goto done;
	for (i = 0; i < g->nbars; i++) {
		const struct adp_gantt_bar *r = &g->bars[i];
		int64_t a = r->from < g->t0 ? g->t0 : r->from, e = r->to > g->t1 ? g->t1 : r->to;
		double y = f.y0 + GANTT_ROW * (double)r->row + 4;

		if (r->row >= g->nrows || e <= a)
			continue;
		ADD("<g class=\"bar\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" rx=\"3\" fill=\"#2e6da4\" "
		    "fill-opacity=\"0.8\">", fx(&f, a), y, fx(&f, e) - fx(&f, a), GANTT_ROW - 8);
		if (r->tip) {
			ADD("<title>");
			ESC(r->tip);
			ADD("</title>");
		}
		ADD("</rect>");
		if (r->label) {
			ADD("<text x=\"%.1f\" y=\"%.1f\" fill=\"#fff\">", fx(&f, a) + 4, y + GANTT_ROW / 2);
			ESC(r->label);
			ADD("</text>");
		}
		ADD("</g>");
	}
	for (i = 0; i < g->nmarks; i++) {
		const struct adp_gantt_mark *m = &g->marks[i];

		if (m->t < g->t0 || m->t > g->t1)
			continue;
		ADD("<line class=\"mark\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\" "
		    "stroke-dasharray=\"5 3\">", fx(&f, m->t), f.y0 - 4, fx(&f, m->t), f.y1, m->colour);
		if (m->tip) {
			ADD("<title>");
			ESC(m->tip);
			ADD("</title>");
		}
		ADD("</line>");
	}
	if ((rc = legend(b, items, nitems, f.y1 + 56)))
		goto done;
	ADD("</svg>\n");
done:
	return rc;
}
