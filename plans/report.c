/* The plan report as one self-contained HTML page (see report.h). */
#include "plans/report.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plans/accuracy.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/resource.h"
#include "util/svg.h"
#include "util/timeutil.h"

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
#define ESCF(...)                                            \
	do {                                                     \
		if ((rc = adp_html_escapef(b, __VA_ARGS__)))         \
			goto done;                                       \
	} while (0)

/* Colours of the charts: constants, never from input. */
#define C_P50 "#1f5fa8"
#define C_BAND "#4a90d9"
#define C_BOUND "#7b3fa0"
#define C_CAP "#b03a2e"
#define C_ACTUAL "#1e8449"
#define C_DEVIATION "#d35400"
#define C_CUTOFF "#333333"

static const char style[] =
	"body{font:14px/1.4 sans-serif;color:#222;margin:1.5em auto;max-width:1000px;padding:0 1em}"
	"h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}"
	"table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:right}"
	"td:first-child,th:first-child{text-align:left}.holds{color:#1e8449}.fails{color:#b03a2e}"
	"svg.chart{width:100%;height:auto;margin:.5em 0 1em}svg text{font:12px sans-serif;fill:#222}"
	"svg .chart-title{font-weight:bold;font-size:13px}svg .span-label{fill:#555;font-size:11px}"
	"svg .bar text{fill:#fff}.meta{color:#555}.note{color:#555;font-size:.9em}";

/* The first step time at or before t on the plan's grid. */
static int64_t grid_floor(int64_t t, int64_t step)
{
	return step > 0 ? t - ((t % step) + step) % step : t;
}

static const struct plan_usage *usage_of(const struct plan_wave *w, const char *part, int r)
{
	size_t i;

	for (i = 0; i < w->nusage; i++)
		if (w->usage[i].resource == r && !strcmp(w->usage[i].partition, part))
			return &w->usage[i];
	return NULL;
}

/* A chart's data: n points of up to four values each. */
struct pts {
	int64_t *t;
	double *v[4];
	size_t n, alloc;
};

static int pts_push(struct pts *s, int64_t t, double a, double b, double c, double d)
{
	if (s->n == s->alloc) {
		size_t n = s->alloc ? s->alloc * 2 : 64, k;
		int64_t *nt;

		if (s->n >= REPORT_MAX_STEPS * 4)
			return adp_error_set(ADP_ENOMEM, "a chart of more than %d points", REPORT_MAX_STEPS * 4);
		if (!(nt = realloc(s->t, n * sizeof(*nt))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		s->t = nt;
		for (k = 0; k < 4; k++) {
			double *nv = realloc(s->v[k], n * sizeof(*nv));

			if (!nv)
				return adp_error_set(ADP_ENOMEM, "out of memory");
			s->v[k] = nv;
		}
		s->alloc = n;
	}
	s->t[s->n] = t;
	s->v[0][s->n] = a;
	s->v[1][s->n] = b;
	s->v[2][s->n] = c;
	s->v[3][s->n] = d;
	s->n++;
	return 0;
}

static void pts_release(struct pts *s)
{
	size_t k;

	free(s->t);
	for (k = 0; k < 4; k++)
		free(s->v[k]);
	memset(s, 0, sizeof(*s));
}

/* A gap between two waves that are not back to back breaks the lines. */
static int pts_gap(struct pts *s, int64_t t, int64_t step)
{
	return s->n && t > s->t[s->n - 1] + step ? pts_push(s, t - 1, NAN, NAN, NAN, NAN) : 0;
}

/* The actual load of series sh over [t0, t1) on the plan's grid. */
static int actual_pts(struct pts *s, const struct series *sh, int64_t t0, int64_t t1, int64_t step)
{
	int64_t t;
	int rc = 0;

	if (!sh)
		return 0;
	for (t = grid_floor(t0, step); t < t1 && !rc; t += step)
		rc = pts_push(s, t, series_at(sh, t), NAN, NAN, NAN);
	return rc;
}

static void fmt_time(char buf[32], int64_t t)
{
	adp_time_format(buf, t);
}

static int head(struct adp_buf *b, const struct plan_report_opts *o)
{
	const struct plan *p = o->plan;
	char t0[32], t1[32], cut[32], made[32];
	int rc = 0, r;

	fmt_time(t0, p->window_start);
	fmt_time(t1, p->window_end);
	fmt_time(cut, p->cutoff_at);
	fmt_time(made, p->created_at);
	ADD("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
	    "img-src data:\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
	ESCF("adpart-update report: %s", p->schedule_name);
	ADD("</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", style);
	ESCF("Plan '%s'", p->schedule_name);
	ADD("</h1>\n<p class=\"meta\">");
	ESCF("From %s. Window %s to %s (%s), cutoff %s. Made %s, digest %.12s", o->plan_name ? o->plan_name : "the plan",
	     t0, t1, p->timezone, cut, made, p->digest);
	if (p->serial)
		ESCF(", serial %" PRId64, p->serial);
	ESCF(". Forecast: %s model, %zu joint scenarios; confidence", p->model, p->scenarios);
	for (r = 0; r < ADP_RES_COUNT; r++)
		ESCF("%s %s %.2f", r ? "," : "", adp_resource_name(r), p->confidence[r]);
	ADD(".</p>\n");
done:
	return rc;
}

static int proof(struct adp_buf *b, const struct plan *p)
{
	struct plan_proof pf;
	size_t i;
	int r, first = 1, rc = 0;

	plan_proof(p, &pf);
	ADD("<h2 id=\"proof\">Proof</h2>\n<p class=\"proof %s\">Proof: %s%s", pf.holds ? "holds" : "fails",
	    pf.holds ? "holds" : "FAILS", !pf.holds && p->risk_accepted ? " (risk accepted)" : "");
	for (r = 0; r < ADP_RES_COUNT; r++)
		if (pf.wave[r]) {
			ADD("%s", first ? ": " : "; ");
			ESCF("%s worst P(overload) %.1f%% %s epsilon %.1f%% ('%s', wave %zu)", adp_resource_name(r),
			     100 * pf.worst[r], pf.worst[r] > pf.eps[r] + 1e-9 ? ">" : "<=", 100 * pf.eps[r],
			     pf.partition[r], pf.wave[r]);
			first = 0;
		}
	ADD(".</p>\n<table class=\"proof-table\"><tr><th>resource</th><th>worst P(overload)</th><th>epsilon</th>"
	    "<th>where</th><th>holds</th></tr>\n");
	for (r = 0; r < ADP_RES_COUNT; r++) {
		if (!pf.wave[r])
			continue;
		ADD("<tr><td>%s</td><td>%.1f%%</td><td>%.1f%%</td><td>", adp_resource_name(r), 100 * pf.worst[r],
		    100 * pf.eps[r]);
		ESCF("%s, wave %zu", pf.partition[r], pf.wave[r]);
		ADD("</td><td>%s</td></tr>\n", pf.worst[r] > pf.eps[r] + 1e-9 ? "no" : "yes");
	}
	ADD("</table>\n");
	if (!pf.reserve_fits) {
		ADD("<p class=\"fails\">");
		ESCF("The reservations do not fit: wave %zu, '%s' %s.", pf.reserve_wave, pf.reserve_partition,
		     adp_resource_name(pf.reserve_resource));
		ADD("</p>\n");
	}
	ADD("<h3>Risks</h3>\n");
	if (!p->nrisks && !p->nshortfalls)
		ADD("<p class=\"risks\">None listed.</p>\n");
	else
		ADD("<ul class=\"risks\">\n");
	for (i = 0; i < p->nrisks; i++) {
		ADD("<li>");
		ESC(p->risks[i]);
		ADD("</li>\n");
	}
	for (i = 0; i < p->nshortfalls; i++) {
		const struct plan_shortfall *s = &p->shortfalls[i];

		ADD("<li>");
		ESCF("Shortfall%s%s%s%s: %s", s->partition ? " on " : "", s->partition ? s->partition : "",
		     s->component ? " for " : "", s->component ? s->component : "", s->advice ? s->advice : "");
		ADD("</li>\n");
	}
	if (p->nrisks || p->nshortfalls)
		ADD("</ul>\n");
done:
	return rc;
}

/* The observations of the run record with a decision other than ok. */
static int is_deviation(json_t *e)
{
	const char *d = json_string_value(json_object_get(e, "decision"));

	return d && strcmp(d, "ok");
}

static void deviation_text(char *buf, size_t len, json_t *e)
{
	const char *res = json_string_value(json_object_get(e, "resource"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	const char *comp = json_string_value(json_object_get(e, "component"));
	const char *part = json_string_value(json_object_get(e, "partition"));
	char at[32], act[48] = "", p95[48] = "";
	int r = res ? adp_resource_parse(res) : -1;

	fmt_time(at, json_integer_value(json_object_get(e, "at")));
	if (r >= 0 && json_is_number(json_object_get(e, "actual")))
		adp_resource_amount(act, r, json_number_value(json_object_get(e, "actual")));
	if (r >= 0 && json_is_number(json_object_get(e, "predicted_p95")))
		adp_resource_amount(p95, r, json_number_value(json_object_get(e, "predicted_p95")));
	snprintf(buf, len, "%s: %s replica %" PRId64 "%s%s: %s%s%s%s%s%s%s%s", at, comp ? comp : "?",
		 (int64_t)json_integer_value(json_object_get(e, "replica")), part ? " on " : "", part ? part : "",
		 json_string_value(json_object_get(e, "decision")), res ? " (" : "", res ? res : "", act[0] ? " " : "",
		 act, p95[0] ? " above p95 " : "", p95, res ? ")" : "");
	if (msg) {
		size_t n = strlen(buf);

		snprintf(buf + n, len - n, ": %s", msg);
	}
}

static int timeline(struct adp_buf *b, const struct plan_report_opts *o)
{
	const struct plan *p = o->plan;
	struct adp_gantt g = { 0 };
	struct adp_gantt_bar *bars = NULL;
	struct adp_gantt_mark *marks = NULL;
	const char **rows = NULL;
	struct {
		char tip[160], label[32];
	} *tips = NULL;
	char (*mtips)[600] = NULL;
	size_t i, k, nbars = 0, nb = 0, nmarks = 0;
	json_t *obs = o->run ? json_object_get(o->run, "observations") : NULL, *e;
	int rc = 0;

	for (i = 0; i < p->nwaves; i++)
		nb += p->waves[i].noffline;
	rows = calloc(p->npartitions ? p->npartitions : 1, sizeof(*rows));
	bars = calloc(nb ? nb : 1, sizeof(*bars));
	tips = calloc(nb ? nb : 1, sizeof(*tips));
	marks = calloc(REPORT_MAX_DEVIATIONS + 1, sizeof(*marks));
	mtips = calloc(REPORT_MAX_DEVIATIONS + 1, sizeof(*mtips));
	if (!rows || !bars || !tips || !marks || !mtips) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < p->npartitions; i++)
		rows[i] = p->partitions[i].name;
	for (i = 0; i < p->nwaves; i++)
		for (k = 0; k < p->waves[i].noffline; k++) {
			size_t r;
			char a[32], z[32];

			for (r = 0; r < p->npartitions && strcmp(p->partitions[r].name, p->waves[i].offline[k]); r++)
				;
			if (r == p->npartitions)
				continue;
			fmt_time(a, p->waves[i].start);
			fmt_time(z, p->waves[i].end);
			snprintf(tips[nbars].tip, sizeof(tips[nbars].tip), "%s offline in wave %zu, %s to %s",
				 p->partitions[r].name, i + 1, a, z);
			snprintf(tips[nbars].label, sizeof(tips[nbars].label), "wave %zu", i + 1);
			bars[nbars] = (struct adp_gantt_bar){ r, p->waves[i].start, p->waves[i].end, tips[nbars].label,
							      tips[nbars].tip };
			nbars++;
		}
	marks[nmarks++] = (struct adp_gantt_mark){ p->cutoff_at, "cutoff", C_CUTOFF, "the cutoff: every wave ends by it" };
	json_array_foreach(obs, i, e) {
		if (!is_deviation(e) || nmarks > REPORT_MAX_DEVIATIONS)
			continue;
		deviation_text(mtips[nmarks], sizeof(mtips[nmarks]), e);
		marks[nmarks] = (struct adp_gantt_mark){ json_integer_value(json_object_get(e, "at")),
							 "monitoring decision (apply)", C_DEVIATION, mtips[nmarks] };
		nmarks++;
	}
	g.title = "Window and waves: when each partition is offline";
	g.row_name = "partition";
	g.bar_name = "offline (its wave)";
	g.rows = rows;
	g.nrows = p->npartitions;
	g.bars = bars;
	g.nbars = nbars;
	g.marks = marks;
	g.nmarks = nmarks;
	g.t0 = p->window_start;
	g.t1 = p->window_end;
	ADD("<h2 id=\"timeline\">Window and waves</h2>\n");
	if ((rc = adp_svg_gantt(b, &g)))
		goto done;
	ADD("<table class=\"waves\"><tr><th>wave</th><th>start</th><th>end</th><th>offline</th><th>moves</th></tr>\n");
	for (i = 0; i < p->nwaves; i++) {
		const struct plan_wave *w = &p->waves[i];
		char a[32], z[32];
		size_t moves = 0;

		for (k = 0; k < w->nplacements; k++)
			moves += w->placements[k].from != NULL;
		fmt_time(a, w->start);
		fmt_time(z, w->end);
		ADD("<tr><td>%zu</td><td>%s</td><td>%s</td><td>", i + 1, a, z);
		for (k = 0; k < w->noffline; k++) {
			ESC(k ? ", " : "");
			ESC(w->offline[k]);
		}
		ADD("</td><td>%zu</td></tr>\n", moves);
	}
	ADD("</table>\n");
done:
	free(rows);
	free(bars);
	free(tips);
	free(marks);
	free(mtips);
	return rc;
}

/* The actual total on partition part in wave w at t: its placements'
 * shares of their components' actual load (simulate's rule); NAN when
 * one is missing or nothing is placed there. */
static double actual_total(const struct plan_wave *w, const struct history *h, const char *part, int r, int64_t t)
{
	double tot = 0;
	size_t j, placed = 0;

	for (j = 0; j < w->nplacements; j++) {
		const struct plan_placement *pl = &w->placements[j];
		const struct series *s;
		double v;

		if (strcmp(pl->partition, part))
			continue;
		placed++;
		s = history_find(h, pl->component, r);
		v = s ? series_at(s, t) : NAN;
		if (isnan(v))
			return NAN;
		tot += v / (double)plan_wave_replicas(w, pl->component);
	}
	return placed ? tot : NAN;
}

static int utilisation_chart(struct adp_buf *b, const struct plan_report_opts *o, size_t pi, int r)
{
	const struct plan *p = o->plan;
	const char *part = p->partitions[pi].name;
	struct pts s = { 0 }, pr = { 0 }, act = { 0 };
	struct adp_chart_span spans[64];
	struct adp_chart_series ser[6];
	char labels[64][40], title[300];
	struct adp_chart c = { 0 };
	double cap = p->partitions[pi].capacity[r], worst = 0, peak = 0;
	size_t wi, h, nspans = 0, nser = 0;
	int rc = 0, has_bound = 0, has_prob = 0;

	for (wi = 0; wi < p->nwaves; wi++) {
		const struct plan_wave *w = &p->waves[wi];
		const struct plan_usage *u = usage_of(w, part, r);
		int64_t t0 = grid_floor(w->start, p->step);

		if (!u) {
			if (nspans < 64) {
				snprintf(labels[nspans], sizeof(labels[nspans]), "wave %zu offline", wi + 1);
				spans[nspans] = (struct adp_chart_span){ w->start, w->end, labels[nspans] };
				nspans++;
			}
			continue;
		}
		if ((rc = pts_gap(&s, t0, p->step)))
			goto done;
		for (h = 0; h < u->nsteps; h++) {
			int64_t t = t0 + (int64_t)h * p->step;
			double bound = u->bound ? u->bound[h] : NAN, prob = u->prob ? u->prob[h] : NAN;

			if ((rc = pts_push(&s, t, u->p50[h], u->p95[h], bound, NAN)))
				goto done;
			if (u->prob && (rc = pts_push(&pr, t, prob, NAN, NAN, NAN)))
				goto done;
			if (o->actual && ((rc = pts_gap(&act, t, p->step)) ||
					  (rc = pts_push(&act, t, actual_total(w, o->actual, part, r, t), NAN, NAN, NAN))))
				goto done;
			has_bound |= u->bound != NULL;
			has_prob |= u->prob != NULL;
			peak = fmax(peak, u->p95[h]);
		}
		worst = fmax(worst, u->overload_prob);
	}
	if (!s.n || (peak <= 0 && cap <= 0))
		goto done; /* never online, or a resource nothing uses */
	if (peak <= 0 && !o->actual)
		goto done;
	ser[nser++] = (struct adp_chart_series){ "p50 to p95 (predicted total)", ADP_CHART_BAND, C_BAND, s.t, s.v[0],
						 s.v[1], NULL, s.n, 0 };
	ser[nser++] = (struct adp_chart_series){ "p50", ADP_CHART_LINE, C_P50, s.t, s.v[0], NULL, NULL, s.n, 0 };
	if (has_bound)
		ser[nser++] = (struct adp_chart_series){ "total at the confidence (the proof's bound)", ADP_CHART_LINE,
							 C_BOUND, s.t, s.v[2], NULL, NULL, s.n, 1 };
	ser[nser++] = (struct adp_chart_series){ "capacity", ADP_CHART_HLINE, C_CAP, NULL, &cap, NULL, NULL, 1, 0 };
	if (o->actual)
		ser[nser++] = (struct adp_chart_series){ "actual total (history)", ADP_CHART_LINE, C_ACTUAL, act.t,
							 act.v[0], NULL, NULL, act.n, 0 };
	snprintf(title, sizeof(title), "%s %s: predicted total against capacity (worst P(overload) %.1f%%)", part,
		 adp_resource_name(r), 100 * worst);
	c.title = title;
	c.quantity = adp_resource_name(r);
	c.unit = adp_resource_unit(r);
	c.t0 = p->window_start;
	c.t1 = p->window_end;
	c.series = ser;
	c.nseries = nser;
	c.spans = spans;
	c.nspans = nspans;
	c.span_name = "offline";
	if (has_prob) {
		c.strip_t = pr.t;
		c.strip = pr.v[0];
		c.nstrip = pr.n;
		c.strip_step = p->step;
		c.strip_name = "P(overload)";
	}
	rc = adp_svg_chart(b, &c);
done:
	pts_release(&s);
	pts_release(&pr);
	pts_release(&act);
	return rc;
}

/* The component's forecast at t in wave w: its placements' rows summed
 * (their peaks where a placement has no band), and their allocations;
 * 0, or -1 when the wave places none of it. As simulate reads it. */
static int component_band(const struct plan *p, const struct plan_wave *w, const char *comp, int r, int64_t t,
			  double *p50, double *p95, double *alloc)
{
	size_t i;
	int found = -1;

	*p50 = *p95 = *alloc = 0;
	for (i = 0; i < w->nplacements; i++) {
		const struct plan_placement *x = &w->placements[i];

		if (strcmp(x->component, comp))
			continue;
		found = 0;
		*alloc += x->alloc[r];
		if (x->nband && x->band_p50 && x->band_p95 && p->step > 0) {
			int64_t k = t < x->band_start ? 0 : (t - x->band_start) / p->step;

			if (k >= (int64_t)x->nband)
				k = (int64_t)x->nband - 1;
			*p50 += x->band_p50[(size_t)k * ADP_RES_COUNT + (size_t)r];
			*p95 += x->band_p95[(size_t)k * ADP_RES_COUNT + (size_t)r];
		} else {
			*p50 += x->p50_peak[r];
			*p95 += x->p95_peak[r];
		}
	}
	return found;
}

static int component_chart(struct adp_buf *b, const struct plan_report_opts *o, const char *comp, int r)
{
	const struct plan *p = o->plan;
	const struct series *sh = o->actual ? history_find(o->actual, comp, r) : NULL;
	struct pts s = { 0 }, act = { 0 };
	struct adp_chart_span spans[64];
	struct adp_chart_series ser[5];
	char labels[64][32], title[300];
	struct adp_chart c = { 0 };
	int64_t before = sh ? p->window_end - p->window_start : 0;
	size_t wi, nspans = 0, nser = 0;
	double peak = 0;
	int rc = 0;

	for (wi = 0; wi < p->nwaves; wi++) {
		const struct plan_wave *w = &p->waves[wi];
		int64_t t;

		if ((rc = pts_gap(&s, grid_floor(w->start, p->step), p->step)))
			goto done;
		for (t = grid_floor(w->start, p->step); t < w->end; t += p->step) {
			double p50, p95, alloc;

			if (component_band(p, w, comp, r, t, &p50, &p95, &alloc))
				break;
			if ((rc = pts_push(&s, t, p50, p95, alloc, NAN)))
				goto done;
			peak = fmax(peak, fmax(p95, alloc));
		}
		if (nspans < 64) {
			snprintf(labels[nspans], sizeof(labels[nspans]), "wave %zu", wi + 1);
			spans[nspans] = (struct adp_chart_span){ w->start, w->end, labels[nspans] };
			nspans++;
		}
	}
	if (peak <= 0 && !sh)
		goto done; /* a resource the component does not use */
	if ((rc = actual_pts(&act, sh, p->window_start - before, p->window_end, p->step)))
		goto done;
	ser[nser++] = (struct adp_chart_series){ "p50 to p95 (forecast)", ADP_CHART_BAND, C_BAND, s.t, s.v[0], s.v[1],
						 NULL, s.n, 0 };
	ser[nser++] = (struct adp_chart_series){ "p50", ADP_CHART_LINE, C_P50, s.t, s.v[0], NULL, NULL, s.n, 0 };
	ser[nser++] = (struct adp_chart_series){ "allocation (its replicas' limits, at the confidence)", ADP_CHART_LINE,
						 C_BOUND, s.t, s.v[2], NULL, NULL, s.n, 1 };
	if (sh)
		ser[nser++] = (struct adp_chart_series){ "actual (history)", ADP_CHART_LINE, C_ACTUAL, act.t, act.v[0],
							 NULL, NULL, act.n, 0 };
	snprintf(title, sizeof(title), "%s %s: forecast over the window%s", comp, adp_resource_name(r),
		 sh ? ", with the history before it" : "");
	c.title = title;
	c.quantity = adp_resource_name(r);
	c.unit = adp_resource_unit(r);
	c.t0 = p->window_start - before;
	c.t1 = p->window_end;
	c.series = ser;
	c.nseries = nser;
	c.spans = spans;
	c.nspans = nspans;
	c.span_name = "waves";
	rc = adp_svg_chart(b, &c);
done:
	pts_release(&s);
	pts_release(&act);
	return rc;
}

/* apply's samples of comp and r in the run record against the band it
 * monitored them with: the predicted p50 and p95 of each sample, the
 * actual value, the decisions other than ok apart with their reason. */
static int samples_chart(struct adp_buf *b, const struct plan_report_opts *o, const char *comp, int r)
{
	const struct plan *p = o->plan;
	json_t *obs = json_object_get(o->run, "observations");
	struct pts ok = { 0 }, dev = { 0 }, band = { 0 };
	struct adp_chart_series ser[5];
	struct adp_chart c = { 0 };
	char (*tips)[600] = NULL, title[300];
	const char **okt = NULL, **devt = NULL;
	size_t i, n = json_array_size(obs), nser = 0, nt = 0;
	int rc = 0;

	if (n > REPORT_MAX_SAMPLES)
		n = REPORT_MAX_SAMPLES; /* apply records no more; a longer record is cut here */
	if (!n)
		return 0;
	if (!(tips = calloc(n, sizeof(*tips))) || !(okt = calloc(n, sizeof(*okt))) || !(devt = calloc(n, sizeof(*devt)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(obs, i);
		const char *cn = json_string_value(json_object_get(e, "component"));
		const char *res = json_string_value(json_object_get(e, "resource"));
		json_t *a = json_object_get(e, "actual");
		int64_t t = json_integer_value(json_object_get(e, "at"));
		struct pts *to = is_deviation(e) ? &dev : &ok;

		if (!cn || strcmp(cn, comp) || !res || adp_resource_parse(res) != r || !json_is_number(a))
			continue;
		if (is_deviation(e)) {
			deviation_text(tips[nt], sizeof(tips[nt]), e);
		} else {
			char at[32], v[48];

			fmt_time(at, t);
			adp_resource_amount(v, r, json_number_value(a));
			snprintf(tips[nt], sizeof(tips[nt]), "%s: replica %" PRId64 " %s (ok)", at,
				 (int64_t)json_integer_value(json_object_get(e, "replica")), v);
		}
		(to == &dev ? devt : okt)[to->n] = tips[nt++];
		if ((rc = pts_push(to, t, json_number_value(a), NAN, NAN, NAN)) ||
		    (rc = pts_push(&band, t, json_number_value(json_object_get(e, "predicted_p50")),
				   json_number_value(json_object_get(e, "predicted_p95")), NAN, NAN)))
			goto done;
	}
	if (!band.n)
		goto done;
	ser[nser++] = (struct adp_chart_series){ "predicted p50 to p95 (monitored)", ADP_CHART_BAND, C_BAND, band.t,
						 band.v[0], band.v[1], NULL, band.n, 0 };
	ser[nser++] = (struct adp_chart_series){ "actual, ok", ADP_CHART_POINTS, C_ACTUAL, ok.t, ok.v[0], NULL, okt,
						 ok.n, 0 };
	ser[nser++] = (struct adp_chart_series){ "actual, a decision other than ok", ADP_CHART_POINTS, C_DEVIATION,
						 dev.t, dev.v[0], NULL, devt, dev.n, 0 };
	snprintf(title, sizeof(title), "%s %s: apply's samples against the band it monitored", comp,
		 adp_resource_name(r));
	c.title = title;
	c.quantity = adp_resource_name(r);
	c.unit = adp_resource_unit(r);
	c.t0 = p->window_start;
	c.t1 = p->window_end;
	c.series = ser;
	c.nseries = nser;
	rc = adp_svg_chart(b, &c);
done:
	pts_release(&ok);
	pts_release(&dev);
	pts_release(&band);
	free(tips);
	free(okt);
	free(devt);
	return rc;
}

/* The components in the plan's order: its forecast's, then any placed
 * one it does not list. */
static int component_seen(const struct plan *p, size_t upto, const char *comp)
{
	size_t i;

	for (i = 0; i < upto; i++)
		if (!strcmp(p->forecast[i].component, comp))
			return 1;
	return 0;
}

static void fmt_num(char buf[32], const char *fmt, double v)
{
	if (isnan(v))
		snprintf(buf, 32, "-");
	else
		snprintf(buf, 32, fmt, v);
}

/* The run's loans (apply --on-deviation borrow, and the request API's
 * grants), one row each, and its requests and waves given up counted. */
static int loans_section(struct adp_buf *b, const json_t *run)
{
	json_t *loans = json_object_get(run, "loans"), *reqs = json_object_get(run, "requests"), *l;
	size_t i, n[4] = { 0 }, given_up = json_array_size(json_object_get(run, "given_up"));
	static const char *const states[] = { "granted", "partial", "refused", "error" };
	int rc = 0;

	if (!json_array_size(loans) && !json_array_size(reqs) && !given_up)
		return 0;
	ADD("<h3>Loans, requests and waves given up</h3>\n");
	if (given_up)
		ADD("<p class=\"given-up\">%zu wave%s given up and undone (a drain out of time with --on-drain-timeout "
		    "skip): %s partitions were not updated.</p>\n", given_up, given_up == 1 ? " was" : "s were",
		    given_up == 1 ? "its" : "their");
	json_array_foreach(reqs, i, l) {
		const char *st = json_string_value(json_object_get(l, "state"));
		size_t k;

		for (k = 0; k < 4 && st; k++)
			n[k] += !strcmp(st, states[k]);
	}
	if (json_array_size(reqs))
		ADD("<p class=\"requests\">%zu request%s from components: %zu granted, %zu partly granted, %zu refused.</p>\n",
		    json_array_size(reqs), json_array_size(reqs) == 1 ? "" : "s", n[0], n[1], n[2]);
	if (!json_array_size(loans))
		goto done;
	ADD("<table class=\"loans\"><tr><th>loan</th><th>wave</th><th>partition</th><th>resource</th><th>to</th>"
	    "<th>from</th><th>amount</th><th>state</th><th>given back</th></tr>\n");
	json_array_foreach(loans, i, l) {
		const char *res = json_string_value(json_object_get(l, "resource"));
		const char *from = json_string_value(json_object_get(json_object_get(l, "from"), "component"));
		const char *why = json_string_value(json_object_get(l, "returned_why"));
		int r = res ? adp_resource_parse(res) : -1;
		char amount[48] = "?";

		if (i >= REPORT_MAX_DEVIATIONS)
			break;
		if (r >= 0)
			adp_resource_amount(amount, r, json_number_value(json_object_get(l, "amount")));
		ADD("<tr><td>%lld%s</td><td>%lld</td><td>", (long long)json_integer_value(json_object_get(l, "id")),
		    json_object_get(l, "request") ? " (request)" : "", (long long)json_integer_value(json_object_get(l, "wave")));
		ESC(json_string_value(json_object_get(l, "partition")) ?: "");
		ADD("</td><td>%s</td><td>", r >= 0 ? adp_resource_name(r) : "?");
		ESC(json_string_value(json_object_get(json_object_get(l, "to"), "component")) ?: "");
		ADD("</td><td>");
		ESC(from ? from : "(headroom)");
		ADD("</td><td>%s</td><td>", amount);
		ESC(json_string_value(json_object_get(l, "state")) ?: "");
		ADD("</td><td>");
		ESC(why ? why : "");
		ADD("</td></tr>\n");
	}
	ADD("</table>\n");
	if (json_array_size(loans) > REPORT_MAX_DEVIATIONS)
		ADD("<p class=\"note\">The first %d of %zu shown.</p>\n", REPORT_MAX_DEVIATIONS, json_array_size(loans));
done:
	return rc;
}

static int run_section(struct adp_buf *b, const struct plan_report_opts *o)
{
	struct accuracy acc = { 0 };
	json_t *obs = json_object_get(o->run, "observations"), *e;
	const char *outcome = json_string_value(json_object_get(o->run, "outcome"));
	size_t i, ndev = 0, shown = 0;
	int rc;

	if ((rc = accuracy_add_run(&acc, o->run_name ? o->run_name : "run record", o->run)))
		goto done;
	ADD("<h2 id=\"run\">The run</h2>\n<p class=\"run\">");
	ESCF("Run record %s: outcome %s, %zu observations.", o->run_name ? o->run_name : "", outcome ? outcome : "?",
	     json_array_size(obs));
	ADD("</p>\n<h3>Accuracy after the window</h3>\n");
	if (!acc.pooled.nrows) {
		ADD("<p class=\"accuracy\">No step-boundary samples: apply's monitoring recorded none (a driver without "
		    "sampling, or no shadow was live).</p>\n");
	} else {
		ADD("<table class=\"accuracy\"><tr><th>component</th><th>resource</th><th>samples</th><th>coverage p95</th>"
		    "<th>coverage p50</th><th>bias p50</th><th>MASE p50</th><th>above allocation</th></tr>\n");
		for (i = 0; i < acc.windows[0].nrows; i++) {
			const struct acc_row *r = &acc.windows[0].rows[i];
			char c95[32], c50[32], bias[32], mase[32], above[32];

			fmt_num(c95, "%.3f", acc_coverage95(r));
			fmt_num(c50, "%.3f", acc_coverage50(r));
			fmt_num(bias, "%+.1f%%", 100 * acc_bias(r));
			fmt_num(mase, "%.3f", acc_mase(r));
			fmt_num(above, "%.1f%%", 100 * acc_above_alloc(r));
			ADD("<tr><td>");
			ESC(r->component);
			ADD("</td><td>%s</td><td>%zu</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
			    adp_resource_name(r->resource), r->n, c95, c50, bias, mase, above);
		}
		ADD("</table>\n<p class=\"note\">Nominal: coverage of the p95 0.950, of the p50 0.500, bias 0; MASE "
		    "against the one-step change of the observed samples (as the accuracy command computes them, "
		    "from the step-boundary samples).</p>\n");
	}
	json_array_foreach(obs, i, e)
		ndev += is_deviation(e);
	ADD("<h3>Monitoring decisions</h3>\n<p>%zu observation%s with a decision other than ok.</p>\n", ndev,
	    ndev == 1 ? "" : "s");
	if (ndev) {
		ADD("<ul class=\"deviations\">\n");
		json_array_foreach(obs, i, e) {
			char text[600];

			if (!is_deviation(e) || shown++ >= REPORT_MAX_DEVIATIONS)
				continue;
			deviation_text(text, sizeof(text), e);
			ADD("<li>");
			ESC(text);
			ADD("</li>\n");
		}
		ADD("</ul>\n");
		if (ndev > REPORT_MAX_DEVIATIONS)
			ADD("<p class=\"note\">The first %d shown.</p>\n", REPORT_MAX_DEVIATIONS);
	}
	rc = loans_section(b, o->run);
done:
	accuracy_release(&acc);
	return rc;
}

static int check_run(const struct plan_report_opts *o)
{
	const char *name = o->run_name ? o->run_name : "run record";
	const char *dg;

	if (!json_is_object(o->run) || !json_is_array(json_object_get(o->run, "steps")) ||
	    !json_string_value(json_object_get(o->run, "outcome")))
		return adp_error_set(ADP_EINPUT, "%s: not a run record (no steps and outcome)", name);
	dg = json_string_value(json_object_get(o->run, "digest"));
	if (!dg)
		return adp_error_set(ADP_EINPUT, "%s: a run record without the digest of its plan", name);
	if (strcmp(dg, o->plan->digest))
		return adp_error_set(ADP_EINPUT, "%s is the run of another plan (digest %.12s, this plan's %.12s)", name,
				     dg, o->plan->digest);
	return 0;
}

static int build(struct adp_buf *b, const struct plan_report_opts *o)
{
	const struct plan *p = o->plan;
	size_t i, k;
	int rc = 0, r;

	if (p->step <= 0 || p->window_end <= p->window_start ||
	    (p->window_end - p->window_start) / p->step > REPORT_MAX_STEPS)
		return adp_error_set(ADP_ENOMEM, "a window of more than %d steps", REPORT_MAX_STEPS);
	if (o->run && (rc = check_run(o)))
		return rc;
	if ((rc = head(b, o)) || (rc = proof(b, p)) || (rc = timeline(b, o)))
		goto done;
	if (o->run && (rc = run_section(b, o)))
		goto done;
	ADD("<h2 id=\"utilisation\">Utilisation per partition</h2>\n<p class=\"note\">The predicted total of what each "
	    "online partition runs, per step, against its capacity; the strip above a chart is P(overload) per "
	    "step over the joint scenarios (darker is higher).%s</p>\n",
	    o->actual ? " The actual total is each placed replica's share of its component's actual load." : "");
	for (i = 0; i < p->npartitions; i++)
		for (r = 0; r < ADP_RES_COUNT; r++)
			if ((rc = utilisation_chart(b, o, i, r)))
				goto done;
	ADD("<h2 id=\"components\">Forecast per component</h2>\n<p class=\"note\">Each component's forecast over the "
	    "waves: its replicas' p50 and p95 per step summed. The plan keeps the p50 and p95 of each series (no "
	    "p99); the allocation is each replica's forecast at the confidence.</p>\n");
	for (i = 0; i < p->nforecast; i++) {
		const char *comp = p->forecast[i].component;

		if (component_seen(p, i, comp))
			continue;
		ADD("<h3 class=\"component\">");
		ESC(comp);
		ADD("</h3>\n");
		for (r = 0; r < ADP_RES_COUNT; r++) {
			int listed = 0;

			for (k = 0; k < p->nforecast; k++)
				listed |= p->forecast[k].resource == r && !strcmp(p->forecast[k].component, comp);
			if (!listed)
				continue;
			if ((rc = component_chart(b, o, comp, r)) || (o->run && (rc = samples_chart(b, o, comp, r))))
				goto done;
		}
	}
	ADD("<footer class=\"note\"><p>");
	ESCF("Made by adpart-update%s%s from %s%s%s%s%s.", o->tool_version ? " " : "",
	     o->tool_version ? o->tool_version : "", o->plan_name ? o->plan_name : "the plan",
	     o->run ? ", the run record " : "", o->run ? (o->run_name ? o->run_name : "") : "",
	     o->actual ? " and the history " : "", o->actual ? (o->actual_name ? o->actual_name : "") : "");
	ADD(" Self-contained: no script, nothing fetched.</p></footer>\n</body>\n</html>\n");
done:
	return rc;
}

int plan_report_html(char **out, size_t *len, const struct plan_report_opts *o)
{
	struct adp_buf b = ADP_BUF_INIT;
	int rc = build(&b, o);

	if (rc) {
		adp_buf_release(&b);
		return rc;
	}
	*len = b.len;
	*out = adp_buf_detach(&b);
	return 0;
}

int plan_report_write(const char *path, const struct plan_report_opts *o)
{
	char *html = NULL;
	size_t len = 0;
	int rc = plan_report_html(&html, &len, o);

	if (!rc)
		rc = adp_write_atomic(path, html, len);
	free(html);
	return rc;
}
