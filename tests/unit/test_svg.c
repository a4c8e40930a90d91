/* The SVG writer of the report: escaping, ticks, units, and a title,
 * axes with their unit and a legend on every chart. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "tests/unit/planfix.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/svg.h"

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	const char *p = hay;

	while ((p = strstr(p, needle))) {
		n++;
		p += strlen(needle);
	}
	return n;
}

Test(svg, escape_every_special_character)
{
	struct adp_buf b = ADP_BUF_INIT;

	cr_assert_eq(adp_html_escape(&b, "<a href=\"x\">Tom & 'Jerry'</a>"), 0);
	cr_assert_str_eq(adp_buf_str(&b), "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
	adp_buf_reset(&b);
	cr_assert_eq(adp_html_escape(&b, "plain"), 0);
	cr_assert_eq(adp_html_escape(&b, NULL), 0);
	cr_assert_eq(adp_html_escapef(&b, " %d<%s", 1, "2"), 0);
	cr_assert_str_eq(adp_buf_str(&b), "plain 1&lt;2");
	adp_buf_release(&b);
}

Test(svg, escape_fails_cleanly_at_the_cap)
{
	struct adp_buf b;

	adp_buf_init(&b, 8);
	cr_assert_eq(adp_html_escape(&b, "<<<"), ADP_ENOMEM); /* 12 bytes */
	cr_assert(strstr(adp_error_last(), "limit"));
	adp_buf_release(&b);
}

Test(svg, nice_ticks)
{
	double t[32], step;
	size_t n = adp_svg_ticks(0, 8.64, 5, t, 32, &step);

	cr_assert_eq(n, 5);
	cr_assert_float_eq(step, 2, 1e-12);
	cr_assert_float_eq(t[0], 0, 1e-12);
	cr_assert_float_eq(t[4], 8, 1e-12);
	n = adp_svg_ticks(0, 1.08, 5, t, 32, &step);
	cr_assert_float_eq(step, 0.2, 1e-12);
	cr_assert_eq(n, 6);
	cr_assert_float_eq(t[5], 1.0, 1e-9);
	n = adp_svg_ticks(3, 3, 5, t, 32, &step); /* nothing to span */
	cr_assert_eq(n, 1);
	cr_assert_float_eq(t[0], 3, 1e-12);
	n = adp_svg_ticks(0, 1e6, 5, t, 3, &step); /* at most max */
	cr_assert_eq(n, 3);
}

Test(svg, time_ticks_on_whole_steps)
{
	int64_t t[32];
	/* 01:10 to 05:00 on 2018-05-06: half hours from 01:30 */
	size_t n = adp_svg_time_ticks(PF_NOW + 4200, PF_NOW + 18000, 8, t, 32);

	cr_assert_eq(n, 8);
	cr_assert_eq(t[0], PF_NOW + 5400);
	cr_assert_eq(t[1] - t[0], 1800);
	cr_assert_eq(t[n - 1], PF_NOW + 18000);
	cr_assert_eq(adp_svg_time_ticks(10, 10, 8, t, 32), 0);
}

Test(svg, units_of_each_resource)
{
	double div;

	cr_assert_str_eq(adp_svg_unit("cores", 12, &div), "cores");
	cr_assert_float_eq(div, 1, 0);
	cr_assert_str_eq(adp_svg_unit("bytes", 34359738368.0, &div), "GiB");
	cr_assert_float_eq(div, 1073741824.0, 0);
	cr_assert_str_eq(adp_svg_unit("bytes/s", 125e6, &div), "MiB/s");
	cr_assert_float_eq(div, 1048576.0, 0);
	cr_assert_str_eq(adp_svg_unit("bytes", 100, &div), "bytes");
}

Test(svg, chart_has_title_axes_units_legend_and_escapes)
{
	struct adp_buf b = ADP_BUF_INIT;
	int64_t t[3] = { PF_NOW, PF_NOW + 300, PF_NOW + 600 };
	double lo[3] = { 1, 2, NAN }, hi[3] = { 2, 3, 4 }, cap = 8, prob[3] = { 0, 0.02, 0.5 };
	const char *tips[3] = { "<b>one</b>", NULL, "three" };
	struct adp_chart_series s[4] = {
		{ "band <p95>", ADP_CHART_BAND, "#00f", t, lo, hi, NULL, 3, 0 },
		{ "p50 & co", ADP_CHART_LINE, "#00f", t, lo, NULL, NULL, 3, 0 },
		{ "actual", ADP_CHART_POINTS, "#0f0", t, hi, NULL, tips, 3, 0 },
		{ "capacity", ADP_CHART_HLINE, "#f00", NULL, &cap, NULL, NULL, 1, 0 },
	};
	struct adp_chart_span span = { PF_NOW, PF_NOW + 300, "wave <1>" };
	struct adp_chart c = { "node-a's cpu <test>", "cpu", "cores", PF_NOW, PF_NOW + 3600, s, 4, &span, 1,
			       "offline", t, prob, 3, 300, "P(overload)" };
	const char *out;

	cr_assert_eq(adp_svg_chart(&b, &c), 0, "%s", adp_error_last());
	out = adp_buf_str(&b);
	cr_assert_eq(count(out, "<svg"), 1);
	cr_assert(strstr(out, "node-a&#39;s cpu &lt;test&gt;"));
	cr_assert(strstr(out, "cpu (cores)"), "the y axis names its unit");
	cr_assert(strstr(out, "time (UTC)"), "the x axis names its unit");
	cr_assert(strstr(out, ">00:00<") && strstr(out, ">01:00<"), "time ticks");
	cr_assert(strstr(out, ">8<"), "a y tick at the capacity");
	cr_assert_eq(count(out, "class=\"legend\""), 1);
	cr_assert_eq(count(out, "class=\"legend-item\""), 6); /* four series, the spans, the strip */
	cr_assert(strstr(out, "band &lt;p95&gt;") && strstr(out, "p50 &amp; co") && strstr(out, "wave &lt;1&gt;"));
	cr_assert(strstr(out, "<title>&lt;b&gt;one&lt;/b&gt;</title>"), "tooltips escaped");
	cr_assert_eq(count(out, "class=\"point\""), 3);
	cr_assert(strstr(out, "P(overload) 50.0%"));
	cr_assert_null(strstr(out, "<b>"));
	cr_assert_null(strstr(out, "<p95>"));
	adp_buf_release(&b);
}

Test(svg, chart_in_binary_units)
{
	struct adp_buf b = ADP_BUF_INIT;
	int64_t t[2] = { PF_NOW, PF_NOW + 300 };
	double y[2] = { 2 * PF_GIB, 3 * PF_GIB };
	struct adp_chart_series s = { "p50", ADP_CHART_LINE, "#00f", t, y, NULL, NULL, 2, 0 };
	struct adp_chart c = { .title = "mem", .quantity = "memory", .unit = "bytes", .t0 = PF_NOW,
			       .t1 = PF_NOW + 600, .series = &s, .nseries = 1 };

	cr_assert_eq(adp_svg_chart(&b, &c), 0, "%s", adp_error_last());
	cr_assert(strstr(adp_buf_str(&b), "memory (GiB)"));
	cr_assert(strstr(adp_buf_str(&b), ">3.0<"), "ticks in GiB, not bytes");
	c.t1 = c.t0;
	cr_assert_eq(adp_svg_chart(&b, &c), ADP_EINPUT);
	adp_buf_release(&b);
}

Test(svg, gantt_rows_bars_marks_and_legend)
{
	struct adp_buf b = ADP_BUF_INIT;
	const char *rows[2] = { "node-a", "node-<b>" };
	struct adp_gantt_bar bars[2] = { { 0, PF_NOW, PF_NOW + 1800, "wave 1", "tip & more" },
					 { 1, PF_NOW + 1800, PF_NOW + 3600, "wave 2", NULL } };
	struct adp_gantt_mark marks[3] = { { PF_NOW + 3600, "cutoff", "#333", NULL },
					   { PF_NOW + 600, "decision", "#f80", "warn <x>" },
					   { PF_NOW + 900, "decision", "#f80", NULL } };
	struct adp_gantt g = { "Waves", "partition", "offline", rows, 2, bars, 2, marks, 3, PF_NOW, PF_NOW + 3600 };
	const char *out;

	cr_assert_eq(adp_svg_gantt(&b, &g), 0, "%s", adp_error_last());
	out = adp_buf_str(&b);
	cr_assert(strstr(out, "node-&lt;b&gt;") && strstr(out, "tip &amp; more") && strstr(out, "warn &lt;x&gt;"));
	cr_assert_eq(count(out, "class=\"bar\""), 2);
	cr_assert_eq(count(out, "class=\"mark\""), 3);
	cr_assert_eq(count(out, "class=\"legend-item\""), 3, "one legend entry per kind of mark");
	cr_assert(strstr(out, "time (UTC)") && strstr(out, ">partition<"));
	adp_buf_release(&b);
}
