/*
 * svg.h - line charts as self-contained SVG for `heaptape plot`: one or
 * more panels stacked over a shared time axis, each with its own y axis,
 * ticks in readable units (KiB/MiB/GiB for bytes), grid, legend, title.
 * No scripts, no external fonts or links: the file opens anywhere.
 *
 * The caller downsamples (about 2000 columns keeping min and max); this
 * draws what it is given.
 */
#ifndef HT_SVG_H
#define HT_SVG_H

#include <stddef.h>
#include <stdio.h>

struct svg_series {
	const char *label;   /* legend text */
	const double *x;     /* seconds from the start (or a count) */
	const double *y;
	size_t n;
	int dashed;
	const char *color;   /* "#rrggbb", or NULL for the next of a palette */
};

enum svg_yunit {
	SVG_Y_COUNT = 0, /* plain numbers: 1.5k, 2M */
	SVG_Y_BYTES = 1, /* bytes: KiB, MiB, GiB */
	SVG_Y_LOG_NS = 2 /* nanoseconds on a log scale: 1 ns, 10 ns, ...
			    (values below 1 at the bottom) */
};

struct svg_panel {
	const char *ylabel;  /* e.g. "live bytes" (the unit is added) */
	enum svg_yunit yunit;
	const struct svg_series *series;
	size_t nseries;
};

struct svg_chart {
	const char *title;
	const char *subtitle;   /* may be NULL */
	const char *xlabel;     /* e.g. "time since trace start" */
	double xmin;            /* left end of the x axis (0 usually) */
	double xmax;            /* seconds; 0 = from the data */
	int xcount;             /* x is a count (event number), not time */
	int width;              /* 0 = 1000 px */
	const struct svg_panel *panels;
	size_t npanels;
};

/* Writes the whole SVG document to f.  Returns 0, or -1 if f failed. */
int svg_write(FILE *f, const struct svg_chart *c);

/* Writes s with XML special characters escaped; bytes that are not
 * UTF-8 or not allowed in XML become '?'. */
void svg_text(FILE *f, const char *s);

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if s does not
 * start one.  s[0] must not be NUL. */
int svg_utf8_len(const unsigned char *s);

/* Writes s as a JSON string literal: quotes, escapes, and U+FFFD for
 * bytes that are not UTF-8 (metadata may hold any bytes). */
void svg_json_str(FILE *f, const char *s);

#endif
