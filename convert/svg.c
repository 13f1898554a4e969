/*
 * svg.c - self-contained SVG line charts for `heaptape plot` (svg.h).
 *
 * Layout: title and subtitle on top, then the panels stacked, each with
 * a y axis on the left (ticks at 1-2-5 steps of a readable unit), a light
 * grid, its series as polylines and a legend box in the corner they cross
 * least;
 * the time axis (s, ms or us, whatever suits the span) under the last
 * panel.  Colours come from a palette that stays distinct in grey print.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "svg.h"

#define PANEL_H 280
#define TOP 70
#define GAP 40
#define LEFT 95
#define RIGHT 25
#define BOTTOM 60

static const char *const palette[] = {
	"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
	"#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22",
};
#define NPAL (sizeof(palette) / sizeof(palette[0]))

int svg_utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	int n, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

void svg_text(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (p && *p) {
		int n = svg_utf8_len(p);
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			/* XML 1.0 forbids most control characters. */
			if (!n || (*p < 0x20 && *p != '\t' && *p != '\n'))
				fputc('?', f);
			else
				fwrite(p, 1, (size_t)n, f);
		}
		p += n ? n : 1;
	}
}

void svg_json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (p && *p) {
		int n = svg_utf8_len(p);
		if (!n)
			fputs("\\ufffd", f);
		else if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fwrite(p, 1, (size_t)n, f);
		p += n ? n : 1;
	}
	fputc('"', f);
}

/* The smallest 1-2-5 step that cuts span into at most n intervals. */
static double nice_step(double span, int n)
{
	double raw = span / n, p, m;

	if (!(raw > 0))
		return 1;
	p = pow(10, floor(log10(raw)));
	m = raw / p;
	if (m <= 1)
		m = 1;
	else if (m <= 2)
		m = 2;
	else if (m <= 2.5)
		m = 2.5;
	else if (m <= 5)
		m = 5;
	else
		m = 10;
	return m * p;
}

static int decimals(double step)
{
	int d = 0;

	while (d < 6 && fabs(step - round(step)) > 1e-9 * (fabs(step) + 1)) {
		step *= 10;
		d++;
	}
	return d;
}

struct axis {
	double max;       /* data value at the top/right end */
	double div;       /* data / div = shown number */
	const char *unit; /* shown after the numbers, may be "" */
	double step;      /* in data units */
};

static void y_axis(struct axis *a, double vmax, enum svg_yunit u)
{
	static const char *const bunits[] = {"B", "KiB", "MiB", "GiB", "TiB",
					     "PiB"};
	static const char *const cunits[] = {"", "k", "M", "G", "T", "P"};
	double base = u == SVG_Y_BYTES ? 1024 : 1000;
	int k = 0;

	if (!(vmax > 0))
		vmax = 1;
	a->div = 1;
	while (vmax / a->div >= base && k < 5) {
		a->div *= base;
		k++;
	}
	a->unit = u == SVG_Y_BYTES ? bunits[k] : cunits[k];
	a->step = nice_step(vmax / a->div, 5) * a->div;
	if (u == SVG_Y_COUNT && k == 0 && a->step < 1)
		a->step = 1;
	a->max = ceil(vmax / a->step - 1e-9) * a->step;
	if (a->max <= 0)
		a->max = a->step;
}

/* A log axis of ns: a->max is the number of decades above 1 ns (at
 * least 2), a tick at each. */
static void log_axis(struct axis *a, double vmax)
{
	a->div = 1;
	a->unit = "";
	a->step = 1;
	a->max = vmax > 1 ? ceil(log10(vmax) - 1e-9) : 0;
	if (a->max < 2)
		a->max = 2;
}

/* Where v sits on the y axis, 0 (bottom) to 1 (top). */
static double yfrac(const struct axis *a, enum svg_yunit u, double v)
{
	if (u == SVG_Y_LOG_NS)
		return (v > 1 ? log10(v) : 0) / a->max;
	return v / a->max;
}

/* "1 ns" ... "100 s": 10^k ns. */
static void log_label(FILE *f, int k)
{
	static const char *const u[] = {"ns", "us", "ms", "s"};
	static const int m[] = {1, 10, 100};

	fprintf(f, "%d %s", m[k % 3], u[k / 3 < 3 ? k / 3 : 3]);
}

static void x_axis(struct axis *a, double smax)
{
	if (!(smax > 0))
		smax = 1e-6;
	if (smax >= 2) {
		a->div = 1;
		a->unit = "s";
	} else if (smax >= 2e-3) {
		a->div = 1e-3;
		a->unit = "ms";
	} else {
		a->div = 1e-6;
		a->unit = "us";
	}
	a->step = nice_step(smax / a->div, 8) * a->div;
	a->max = smax;
}

static void label(FILE *f, const struct axis *a, double v)
{
	int d = decimals(a->step / a->div);

	if (v == 0) {
		fputc('0', f);
		return;
	}
	fprintf(f, "%.*f", d, v / a->div);
	if (a->unit[0] && strcmp(a->unit, "s") && strcmp(a->unit, "ms") &&
	    strcmp(a->unit, "us") && v != 0)
		fprintf(f, "%s%s", a->unit[1] || a->unit[0] == 'B' ? " " : "",
			a->unit);
}

static double pix_x(double x, double xmin, double xw, int plot_w)
{
	return LEFT + (x - xmin) / xw * plot_w;
}

static double pix_y(const struct axis *ya, enum svg_yunit u, double y,
		    int y0)
{
	return y0 + PANEL_H - yfrac(ya, u, y) * PANEL_H;
}

/* 1 if the segment a-b meets the box r = {x0, y0, x1, y1} (Liang and
 * Barsky's clipping: the part of the segment inside each of the four
 * half-planes, intersected). */
static int seg_meets(double ax, double ay, double bx, double by,
		     const double r[4])
{
	double dx = bx - ax, dy = by - ay, t0 = 0, t1 = 1;
	double p[4] = { -dx, dx, -dy, dy };
	double q[4] = { ax - r[0], r[2] - ax, ay - r[1], r[3] - ay };

	for (int i = 0; i < 4; i++) {
		double t;

		if (p[i] == 0) {
			if (q[i] < 0)
				return 0;
			continue;
		}
		t = q[i] / p[i];
		if (p[i] < 0 && t > t0)
			t0 = t;
		else if (p[i] > 0 && t < t1)
			t1 = t;
		if (t0 > t1)
			return 0;
	}
	return 1;
}

/* Where a legend box of bw x bh goes in a panel: the corner (top left,
 * top right, bottom right, bottom left, in that order of preference)
 * that the fewest segments of the panel's lines cross, so that the
 * legend hides as little of the data as it can. */
static void legend_corner(const struct svg_panel *pn, const struct axis *ya,
			  double xmin, double xw, int plot_w, int y0,
			  double bw, double bh, double *bx, double *by)
{
	const double l = LEFT + 10, r = LEFT + plot_w - 10 - bw;
	const double t = y0 + 10, b = y0 + PANEL_H - 10 - bh;
	const double cx[4] = { l, r, r, l }, cy[4] = { t, t, b, b };
	size_t best = SIZE_MAX;

	*bx = l;
	*by = t;
	for (int k = 0; k < 4 && best; k++) {
		double box[4] = { cx[k], cy[k], cx[k] + bw, cy[k] + bh };
		size_t hits = 0;

		for (size_t s = 0; s < pn->nseries && hits < best; s++) {
			const struct svg_series *se = &pn->series[s];
			double ax = 0, ay = 0;

			for (size_t i = 0; i < se->n; i++) {
				double x = pix_x(se->x[i], xmin, xw, plot_w);
				double y = pix_y(ya, pn->yunit, se->y[i], y0);

				if (seg_meets(i ? ax : x, i ? ay : y, x, y,
					      box))
					hits++;
				ax = x;
				ay = y;
			}
		}
		if (hits < best) {
			best = hits;
			*bx = cx[k];
			*by = cy[k];
		}
	}
}

int svg_write(FILE *f, const struct svg_chart *c)
{
	int w = c->width > 0 ? c->width : 1000;
	int plot_w = w - LEFT - RIGHT;
	int h = TOP + (int)c->npanels * (PANEL_H + GAP) - GAP + BOTTOM;
	struct axis xa;
	double xmax = c->xmax, xmin = c->xmin, xw;
	size_t color = 0;

	if (!(xmax > 0))
		for (size_t p = 0; p < c->npanels; p++)
			for (size_t s = 0; s < c->panels[p].nseries; s++) {
				const struct svg_series *se =
					&c->panels[p].series[s];
				for (size_t i = 0; i < se->n; i++)
					if (se->x[i] > xmax)
						xmax = se->x[i];
			}
	if (!(xmax > xmin))
		xmax = xmin + 1e-6;
	/* Units and step from the width of the window, ticks at multiples
	 * of the step inside it. */
	if (c->xcount) {
		y_axis(&xa, xmax - xmin, SVG_Y_COUNT);
	} else {
		x_axis(&xa, xmax - xmin);
	}
	xa.max = xmax;

	xw = xmax - xmin;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		   "height=\"%d\" viewBox=\"0 0 %d %d\" "
		   "font-family=\"sans-serif\" font-size=\"12\">\n",
		w, h, w, h);
	fputs("<title>", f);
	svg_text(f, c->title);
	fputs("</title>\n", f);
	fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", w,
		h);
	fprintf(f, "<text x=\"%d\" y=\"28\" text-anchor=\"middle\" "
		   "font-size=\"18\" font-weight=\"bold\">", w / 2);
	svg_text(f, c->title);
	fputs("</text>\n", f);
	if (c->subtitle) {
		fprintf(f, "<text x=\"%d\" y=\"50\" text-anchor=\"middle\" "
			   "font-size=\"13\" fill=\"#444\">", w / 2);
		svg_text(f, c->subtitle);
		fputs("</text>\n", f);
	}

	for (size_t p = 0; p < c->npanels; p++) {
		const struct svg_panel *pn = &c->panels[p];
		int y0 = TOP + (int)p * (PANEL_H + GAP);
		int last = p + 1 == c->npanels;
		struct axis ya;
		double vmax = 0;
		size_t drawn = 0;

		for (size_t s = 0; s < pn->nseries; s++)
			for (size_t i = 0; i < pn->series[s].n; i++)
				if (pn->series[s].y[i] > vmax)
					vmax = pn->series[s].y[i];
		if (pn->yunit == SVG_Y_LOG_NS)
			log_axis(&ya, vmax);
		else
			y_axis(&ya, vmax * 1.04, pn->yunit);

		fprintf(f, "<g>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" "
			   "height=\"%d\" fill=\"#fbfbfb\" stroke=\"#999\"/>\n",
			LEFT, y0, plot_w, PANEL_H);
		/* y ticks and grid (a log axis: v counts decades) */
		for (double v = 0; v <= ya.max * (1 + 1e-9); v += ya.step) {
			double py = y0 + PANEL_H - v / ya.max * PANEL_H;
			fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
				   "y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n",
				LEFT, py, LEFT + plot_w, py);
			fprintf(f, "<text x=\"%d\" y=\"%.1f\" "
				   "text-anchor=\"end\">", LEFT - 6, py + 4);
			if (pn->yunit == SVG_Y_LOG_NS)
				log_label(f, (int)(v + 0.5));
			else
				label(f, &ya, v);
			fputs("</text>\n", f);
		}
		/* x ticks and grid */
		for (double v = ceil(xmin / xa.step - 1e-9) * xa.step;
		     v <= xmax + xw * 1e-9; v += xa.step) {
			double px = LEFT + (v - xmin) / xw * plot_w;
			fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
				   "y2=\"%d\" stroke=\"#e4e4e4\"/>\n",
				px, y0, px, y0 + PANEL_H);
			if (!last)
				continue;
			fprintf(f, "<text x=\"%.1f\" y=\"%d\" "
				   "text-anchor=\"middle\">", px,
				y0 + PANEL_H + 16);
			label(f, &xa, v);
			fputs("</text>\n", f);
		}
		/* y label, rotated */
		fprintf(f, "<text transform=\"translate(18,%d) rotate(-90)\" "
			   "text-anchor=\"middle\" font-size=\"13\">",
			y0 + PANEL_H / 2);
		/* The ticks carry the unit (KiB, MiB, k, M). */
		svg_text(f, pn->ylabel);
		fputs("</text>\n", f);
		if (last) {
			fprintf(f, "<text x=\"%d\" y=\"%d\" "
				   "text-anchor=\"middle\" font-size=\"13\">",
				LEFT + plot_w / 2, y0 + PANEL_H + 40);
			svg_text(f, c->xlabel ? c->xlabel : "time");
			if (!c->xcount)
				fprintf(f, " (%s)", xa.unit);
			fputs("</text>\n", f);
		}
		/* series */
		for (size_t s = 0; s < pn->nseries; s++) {
			const struct svg_series *se = &pn->series[s];
			const char *col = se->color ? se->color :
					  palette[(color + s) % NPAL];
			if (!se->n)
				continue;
			drawn++;
			fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" "
				   "stroke-width=\"1.6\" "
				   "stroke-linejoin=\"round\"%s points=\"",
				col, se->dashed ?
				" stroke-dasharray=\"6,3\"" : "");
			for (size_t i = 0; i < se->n; i++) {
				double px = pix_x(se->x[i], xmin, xw, plot_w);
				double py = pix_y(&ya, pn->yunit, se->y[i], y0);
				fprintf(f, "%.1f,%.1f%s", px, py,
					i + 1 < se->n ? " " : "");
			}
			fputs("\"/>\n", f);
		}
		if (!drawn)
			fprintf(f, "<text x=\"%d\" y=\"%d\" "
				   "text-anchor=\"middle\" fill=\"#888\">"
				   "no data</text>\n",
				LEFT + plot_w / 2, y0 + PANEL_H / 2);
		/* legend, in the corner its series cross least */
		if (pn->nseries) {
			size_t longest = 0;
			double bw, bh, bx, by;

			for (size_t s = 0; s < pn->nseries; s++) {
				size_t l = strlen(pn->series[s].label);
				if (l > longest)
					longest = l;
			}
			bw = 44 + (double)longest * 7;
			bh = 8 + (double)pn->nseries * 18;
			legend_corner(pn, &ya, xmin, xw, plot_w, y0, bw, bh,
				      &bx, &by);
			fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" "
				   "width=\"%.0f\" height=\"%.0f\" "
				   "fill=\"white\" fill-opacity=\"0.85\" "
				   "stroke=\"#bbb\"/>\n", bx, by, bw, bh);
			for (size_t s = 0; s < pn->nseries; s++) {
				double ly = by + 14 + (double)s * 18;
				fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" "
					   "x2=\"%.0f\" y2=\"%.0f\" "
					   "stroke=\"%s\" "
					   "stroke-width=\"3\"%s/>\n",
					bx + 8, ly - 4, bx + 32, ly - 4,
					pn->series[s].color ?
					pn->series[s].color :
					palette[(color + s) % NPAL],
					pn->series[s].dashed ?
					" stroke-dasharray=\"6,3\"" : "");
				fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">",
					bx + 38, ly);
				svg_text(f, pn->series[s].label);
				fputs("</text>\n", f);
			}
		}
		fputs("</g>\n", f);
		color += pn->nseries;
	}
	fputs("</svg>\n", f);
	return ferror(f) ? -1 : 0;
}
