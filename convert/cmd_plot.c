/*
 * cmd_plot.c - `heaptape plot INPUT... -o OUT.svg`: a picture of a trace
 * or of a replay report, as a self-contained SVG (svg.h).
 *
 *  - a trace (.htape): live bytes (top panel, with the recorded RSS of
 *    each process when the trace has RSS samples) and live blocks (bottom
 *    panel) over time, from the live-block tracker (live.h); several
 *    traces (a process and its children's) merged in time order, their
 *    sum and the largest of them each as a line; for a trace of record
 *    --latency a third panel, the call times per column (p50 and p99 of
 *    the calls that allocate, p99 of those that free);
 *  - a replay report (`heaptape replay --json FILE`): RSS over time of
 *    every allocator, read from
 *      {"allocators": [{"name": "glibc", ..., "rss_series": [[t_s, bytes],
 *       ...]}, ...]}
 *    (an "ideal_series" of the same shape, if present, is drawn dashed as
 *    the live requested bytes; a top-level "ideal_peak_bytes" as a dashed
 *    level line).
 *
 * Time is cut into about 2000 columns; each column keeps the value at its
 * start, its minimum, its maximum and its last value, so that every peak
 * survives however long the trace is.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "evpipe.h"
#include "live.h"
#include "svg.h"
#include "../replay/worker/plan.h" /* the latency histogram */

extern const struct ht_cmd cmd_plot_entry;

#define COLUMNS 2000
/* Call times: per column and class (allocating, freeing) a histogram of
 * replay's buckets up to 2^32 ns (longer ones count in the last). */
#define LATB (32 + 27 * 16)

/* A downsampled series: up to 4 points per column. */
struct line {
	double *x, *y;
	size_t n, cap;
};

static int line_add(struct line *l, double x, double y)
{
	if (l->n && l->x[l->n - 1] == x && l->y[l->n - 1] == y)
		return 0;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 1024;
		double *nx = realloc(l->x, nc * sizeof(*nx));
		double *ny;
		if (!nx)
			return -1;
		l->x = nx;
		ny = realloc(l->y, nc * sizeof(*ny));
		if (!ny)
			return -1;
		l->y = ny;
		l->cap = nc;
	}
	l->x[l->n] = x;
	l->y[l->n] = y;
	l->n++;
	return 0;
}

static void line_free(struct line *l)
{
	free(l->x);
	free(l->y);
}

/* Quantile q of a column's call times h[0..LATB) (bucket midpoint), or
 * -1 without calls. */
static double lat_quantile(const uint64_t *h, double q)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < LATB; i++)
		n += h[i];
	return rp_hist_pick(h, LATB, n, q);
}

/* The points of quantile q of class cls, one per column with calls. */
static int lat_line(const uint64_t *lh, int cls, double q, double w0,
		    double w1, struct line *l)
{
	for (long c = 0; c < COLUMNS; c++) {
		double v = lat_quantile(lh + ((size_t)c * 2 + (size_t)cls) *
						     LATB, q);

		if (v >= 0 && line_add(l, w0 + (w1 - w0) * ((double)c + 0.5) /
						   COLUMNS, v))
			return -1;
	}
	return 0;
}

/* Per column: the value when it starts, min, max, last. */
struct col {
	double start, min, max, last;
	int used;
};

struct sampler {
	struct col *c;
	double cur;      /* the value now */
	int has;         /* cur is known (live values start known: 0) */
	double t0, span; /* the window, seconds */
};

/* known: the value is 0 before the first sample (live bytes), rather
 * than unknown (RSS). */
static int sampler_init(struct sampler *s, double t0, double span,
			int known)
{
	s->c = calloc(COLUMNS, sizeof(*s->c));
	s->cur = 0;
	s->has = known;
	s->t0 = t0;
	s->span = span > 0 ? span : 1e-9;
	return s->c ? 0 : -1;
}

static void sampler_put(struct sampler *s, double t, double v)
{
	long i;
	struct col *c;

	if (t < s->t0) {
		/* Before the window: only the value it starts with. */
		s->has = 1;
		s->cur = v;
		return;
	}
	if (t > s->t0 + s->span * (1 + 1e-12))
		return;
	i = (long)((t - s->t0) / s->span * COLUMNS);
	if (i >= COLUMNS)
		i = COLUMNS - 1;
	c = &s->c[i];
	if (!s->has) {
		/* A series that starts later starts at its first value. */
		s->has = 1;
		s->cur = v;
	}
	if (!c->used) {
		c->used = 1;
		c->start = c->min = c->max = s->cur;
	}
	if (v < c->min)
		c->min = v;
	if (v > c->max)
		c->max = v;
	c->last = v;
	s->cur = v;
}

/* Columns to points, x in seconds (the window's); a step shape between
 * columns.  from_start: the line begins at the left edge with the
 * value the window starts with; to_end: it goes on to the right edge
 * with its last value, else it stops at its last column (a process
 * that ended). */
static int sampler_line(const struct sampler *s, struct line *l,
			int from_start, int to_end)
{
	double prev = 0;
	int any = 0, rc = 0;
	long first = -1;

	for (long i = 0; i < COLUMNS && first < 0; i++)
		if (s->c[i].used)
			first = i;
	if (first < 0)
		return 0; /* no data: no line, the panel says so */
	if (from_start) {
		prev = s->c[first].start;
		rc |= line_add(l, s->t0, prev);
		any = 1;
	}
	for (long i = first; i < COLUMNS; i++) {
		const struct col *c = &s->c[i];
		double x = s->t0 + (double)i / COLUMNS * s->span;
		if (!c->used)
			continue;
		if (any)
			rc |= line_add(l, x, prev);
		rc |= line_add(l, x, c->start);
		/* Order min and max so the line does not zigzag. */
		if (c->last >= c->start) {
			rc |= line_add(l, x, c->min);
			rc |= line_add(l, x, c->max);
		} else {
			rc |= line_add(l, x, c->max);
			rc |= line_add(l, x, c->min);
		}
		rc |= line_add(l, x, c->last);
		prev = c->last;
		any = 1;
	}
	if (to_end)
		rc |= line_add(l, s->t0 + s->span, prev);
	return rc;
}

static int write_svg(const char *path, const struct svg_chart *c)
{
	struct cli_out out;

	if (cli_out_open(&out, path))
		return 1;
	errno = 0;
	if (svg_write(out.fp, c)) {
		int e = errno ? errno : EIO; /* before abort's close */

		cli_out_abort(&out);
		return cli_error("cannot write '%s': %s", path, strerror(e));
	}
	return cli_out_commit(&out);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static void human_bytes(char *buf, size_t n, double v)
{
	static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int k = 0;

	while (v >= 1024 && k < 4) {
		v /= 1024;
		k++;
	}
	snprintf(buf, n, k ? "%.1f %s" : "%.0f %s", v, u[k]);
}

#define MAXRSS 8 /* RSS lines drawn (one per process) */
static const char *const rss_colors[MAXRSS] = {
	"#d62728", "#ff7f0e", "#9467bd", "#8c564b",
	"#e377c2", "#17becf", "#7f7f7f", "#bcbd22",
};

/* The window to draw, from the trace start (ns; event numbers for a
 * trace without a clock). */
struct window {
	int from_set, to_set;
	uint64_t from, to;
};

static double col_max(const struct sampler *s)
{
	double m = 0;

	for (long i = 0; i < COLUMNS; i++)
		if (s->c[i].used && s->c[i].max > m)
			m = s->c[i].max;
	return m;
}

/* Per-process lines drawn besides the total, for several traces. */
#define MAXPROC 6
static const char *const proc_colors[MAXPROC] = { /* none of RSS's */
	"#2ca02c", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
};

/* One trace of those drawn together: its live blocks and its line. */
struct proc {
	struct live *lv;
	struct sampler s;
	struct line l;
	uint64_t bytes, blocks;
	double last_t;          /* of its last event */
	int ended;
	double peak;
	char label[64];
};

static int cmp_peak(const void *x, const void *y)
{
	const struct proc *const *p = x, *const *q = y;

	return ((*p)->peak < (*q)->peak) - ((*p)->peak > (*q)->peak);
}

/*
 * Traces ins[0..n): live bytes (with the recorded RSS of each process)
 * and live blocks over time.  Several traces (a process and its
 * children) are merged in time order: the lines are the sum over them,
 * and the live bytes of the MAXPROC largest each get a line too.
 */
/* ins: the paths to open, shown: the names to say (a pipe's bytes are
 * read from a memory file, cli_spool()). */
static int plot_trace(char *const *ins, char *const *shown, size_t n,
		      const char *outp, const char *title, int mode,
		      int width, const struct window *win)
{
	struct evsrc *src;
	struct ht_trace_info info;
	struct proc *pr = NULL, *top[MAXPROC];
	struct sampler sb = {0}, sk = {0};
	struct line lb = {0}, lk = {0}, lr[MAXRSS], ll[3];
	struct svg_series sbytes[1 + MAXPROC + MAXRSS], sblocks[1], slat[3];
	struct svg_panel panels[3];
	uint64_t *lh = NULL; /* call times (record --latency), else NULL */
	int lat = 0;
	struct svg_chart chart;
	const struct ht_rss_sample *rss;
	struct live_stats ls;
	const struct ht_event *ev;
	size_t nev, which, nr = 0, ntop = 0, nser;
	uint32_t rpid[MAXRSS];
	char titlebuf[512], sub[320], lbl[MAXRSS][48], pk[32], prs[32];
	const char *in = shown[0];
	uint64_t t0, t1, start, events = 0, rss_peak_w = 0;
	uint64_t tot_bytes = 0, tot_blocks = 0;
	double span, tscale, w0, w1;
	int err, rc = 1, no_time = 0;

	memset(lr, 0, sizeof(lr));
	memset(ll, 0, sizeof(ll));
	if (!(src = evpipe_open_all(ins, n, mode, n > 1 ? 0 : -1, &start)))
		return 1;
	for (size_t i = 0; i < n; i++)
		src[i].path = shown[i];
	for (size_t i = 0; i < n; i++)
		lat |= cli_trace_timed(src[i].r);
	t0 = start;
	t1 = 0;
	for (size_t i = 0; i < n; i++) {
		size_t nrss = ht_reader_rss(src[i].r, &rss);

		ht_reader_info(src[i].r, &info);
		events += info.events;
		if (info.events && info.ts_min < t0)
			t0 = info.ts_min;
		if (info.events && info.ts_max > t1)
			t1 = info.ts_max;
		for (size_t k = 0; k < nrss; k++) {
			if (rss[k].ts < t0)
				t0 = rss[k].ts;
			if (rss[k].ts > t1)
				t1 = rss[k].ts;
		}
		/* Without a clock (android record_allocs) ts is an event
		 * number, which says nothing across traces. */
		if (ht_reader_flags(src[i].r) & HT_TRACE_NO_TIME) {
			if (n > 1) {
				cli_error("'%s' has no clock: it cannot be "
					  "drawn with other traces",
					  src[i].path);
				goto out;
			}
			no_time = 1;
		}
	}
	if (t1 < t0)
		t1 = t0;
	tscale = no_time ? 1.0 : 1e9;
	span = (double)(t1 - t0) / tscale;
	w0 = win->from_set ? (double)win->from / tscale : 0;
	w1 = win->to_set && (double)win->to / tscale < span ?
	     (double)win->to / tscale : span;
	if (w1 <= w0 && !win->from_set && !win->to_set)
		w1 = w0 + (no_time ? 1 : 1e-6); /* empty or one instant */
	if (w1 <= w0) {
		cli_error("'%s': the window %.9g..%.9g %s is outside the trace "
			  "(0..%.9g)", in, w0, w1, no_time ? "" : "s", span);
		goto out;
	}
	if (!(pr = calloc(n, sizeof(*pr))) ||
	    (lat && !(lh = calloc((size_t)COLUMNS * 2 * LATB, sizeof(*lh)))) ||
	    sampler_init(&sb, w0, w1 - w0, 1) ||
	    sampler_init(&sk, w0, w1 - w0, 1)) {
		cli_error("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (!(pr[i].lv = live_new()) ||
		    (n > 1 && sampler_init(&pr[i].s, w0, w1 - w0, 1))) {
			cli_error("out of memory");
			goto out;
		}
	while ((err = evpipe_merge_next(src, n, &ev, &nev, &which)) == 1) {
		struct proc *p = &pr[which];

		/* A trace whose events are all out, while others go on: its
		 * process has exited, and the system took its blocks back. */
		for (size_t k = 0; n > 1 && k < n; k++) {
			struct proc *q = &pr[k];

			if (!src[k].done || q->ended)
				continue;
			q->ended = 1;
			live_free(q->lv); /* no event of it comes again */
			q->lv = NULL;
			tot_bytes -= q->bytes;
			tot_blocks -= q->blocks;
			q->bytes = q->blocks = 0;
			sampler_put(&sb, q->last_t, (double)tot_bytes);
			sampler_put(&sk, q->last_t, (double)tot_blocks);
			sampler_put(&q->s, q->last_t, 0);
		}
		for (size_t i = 0; i < nev; i++) {
			double t = (double)(ev[i].ts - t0) / tscale;
			if (t > w1) {
				/* Time order: nothing later is drawn. */
				err = 0;
				goto drawn;
			}
			if (live_apply(p->lv, &ev[i], NULL)) {
				cli_error("out of memory");
				goto out;
			}
			live_stats(p->lv, &ls);
			p->last_t = t;
			tot_bytes += ls.bytes - p->bytes;
			tot_blocks += ls.blocks - p->blocks;
			p->bytes = ls.bytes;
			p->blocks = ls.blocks;
			sampler_put(&sb, t, (double)tot_bytes);
			sampler_put(&sk, t, (double)tot_blocks);
			if (n > 1)
				sampler_put(&p->s, t, (double)ls.bytes);
			if (lh && t >= w0 && !(ev[i].flags & HT_EV_FAILED) &&
			    (ht_op_allocates(ev[i].op) ||
			     ht_op_frees(ev[i].op))) {
				long c = (long)((t - w0) / (w1 - w0) *
						COLUMNS);
				unsigned b = rp_hist_index(ev[i].dur);

				c = c < COLUMNS ? c : COLUMNS - 1;
				b = b < LATB ? b : LATB - 1;
				lh[((size_t)c * 2 +
				    (size_t)ht_op_frees(ev[i].op)) * LATB +
				   b]++;
			}
		}
	}
	if (err < 0) {
		cli_error("'%s': %s at offset %llu", src[which].path,
			  ht_strerror(err), (unsigned long long)
			  evpipe_error_offset(src[which].p));
		goto out;
	}
drawn:
	if (sampler_line(&sb, &lb, 1, 1) || sampler_line(&sk, &lk, 1, 1)) {
		cli_error("out of memory");
		goto out;
	}
	/* Several traces: a line for each of the largest. */
	for (size_t i = 0; n > 1 && i < n; i++) {
		const char *exe = ht_reader_meta(src[i].r, "process.exe");
		const char *pid = ht_reader_meta(src[i].r, "process.pid");

		pr[i].peak = col_max(&pr[i].s);
		if (pr[i].s.cur > pr[i].peak)
			pr[i].peak = pr[i].s.cur;
		snprintf(pr[i].label, sizeof(pr[i].label), "%s%s%s",
			 exe ? base_name(exe) : base_name(src[i].path),
			 pid ? ", pid " : "", pid ? pid : "");
		if (ntop < MAXPROC)
			top[ntop++] = &pr[i];
		else if (pr[i].peak > top[MAXPROC - 1]->peak)
			top[MAXPROC - 1] = &pr[i];
		qsort(top, ntop, sizeof(top[0]), cmp_peak);
	}
	for (size_t k = 0; k < ntop; k++)
		/* a process that exited ends where it did */
		if (sampler_line(&top[k]->s, &top[k]->l, 1, !top[k]->ended)) {
			cli_error("out of memory");
			goto out;
		}
	/* RSS: one line per process, downsampled the same way. */
	for (size_t i = 0; i < n; i++) {
		size_t nrss = ht_reader_rss(src[i].r, &rss);

		for (size_t j = 0; j < nrss; j++) {
			size_t k;
			for (k = 0; k < nr && rpid[k] != rss[j].pid; k++)
				;
			if (k == nr && nr < MAXRSS)
				rpid[nr++] = rss[j].pid;
		}
	}
	for (size_t k = 0; k < nr; k++) {
		struct sampler s = {0};
		if (sampler_init(&s, w0, w1 - w0, 0)) {
			cli_error("out of memory");
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			size_t nrss = ht_reader_rss(src[i].r, &rss);
			double lt = -1, lv = 0;

			for (size_t j = 0; j < nrss; j++) {
				double t = (double)(rss[j].ts - t0) / tscale;
				if (rss[j].pid == rpid[k]) {
					sampler_put(&s, t,
						    (double)rss[j].rss_bytes);
					lt = t;
					lv = (double)rss[j].rss_bytes;
				}
			}
			/* the last sample holds until the process's last
			 * event, where its line ends */
			if (n > 1 && lt >= 0 && pr[i].last_t > lt)
				sampler_put(&s, pr[i].last_t, lv);
		}
		if (col_max(&s) > (double)rss_peak_w)
			rss_peak_w = (uint64_t)col_max(&s);
		/* several processes: each one's line ends at its last
		 * sample, near its exit */
		err = sampler_line(&s, &lr[k], 0, n == 1);
		free(s.c);
		if (err) {
			cli_error("out of memory");
			goto out;
		}
	}

	memset(sbytes, 0, sizeof(sbytes));
	sbytes[0] = (struct svg_series){n > 1 ? "live bytes (requested), "
					"all processes" :
					"live bytes (requested)", lb.x, lb.y,
					lb.n, 0, "#1f77b4"};
	nser = 1;
	for (size_t k = 0; k < ntop; k++)
		sbytes[nser++] = (struct svg_series){top[k]->label,
			top[k]->l.x, top[k]->l.y, top[k]->l.n, 0,
			proc_colors[k]};
	for (size_t k = 0; k < nr; k++) {
		if (nr == 1)
			snprintf(lbl[k], sizeof(lbl[k]), "recorded RSS");
		else
			snprintf(lbl[k], sizeof(lbl[k]), "recorded RSS, pid %u",
				 rpid[k]);
		sbytes[nser++] = (struct svg_series){lbl[k], lr[k].x, lr[k].y,
						     lr[k].n, 1,
						     rss_colors[k]};
	}
	sblocks[0] = (struct svg_series){"live blocks", lk.x, lk.y, lk.n, 0,
					 "#2ca02c"};
	panels[0] = (struct svg_panel){"live bytes", SVG_Y_BYTES, sbytes,
				       nser};
	panels[1] = (struct svg_panel){"live blocks", SVG_Y_COUNT, sblocks,
				       1};
	if (lh) {
		if (lat_line(lh, 0, 0.50, w0, w1, &ll[0]) ||
		    lat_line(lh, 0, 0.99, w0, w1, &ll[1]) ||
		    lat_line(lh, 1, 0.99, w0, w1, &ll[2])) {
			cli_error("out of memory");
			goto out;
		}
		slat[0] = (struct svg_series){"allocating calls, p50",
			ll[0].x, ll[0].y, ll[0].n, 0, "#17becf"};
		slat[1] = (struct svg_series){"allocating calls, p99",
			ll[1].x, ll[1].y, ll[1].n, 0, "#9467bd"};
		slat[2] = (struct svg_series){"freeing calls, p99",
			ll[2].x, ll[2].y, ll[2].n, 1, "#8c564b"};
		panels[2] = (struct svg_panel){"call time", SVG_Y_LOG_NS,
					       slat, 3};
	}
	if (!title) {
		const char *exe = ht_reader_meta(src[0].r, "process.exe");

		if (n > 1)
			snprintf(titlebuf, sizeof(titlebuf), "heap of %s and "
				 "%zu more process%s",
				 exe ? base_name(exe) : base_name(in), n - 1,
				 n == 2 ? "" : "es");
		else
			snprintf(titlebuf, sizeof(titlebuf), "heap of %s",
				 exe ? base_name(exe) : base_name(in));
		title = titlebuf;
	}
	{
		/* The peaks drawn: of the window, or of the whole trace. */
		double pb = col_max(&sb), pn = col_max(&sk);
		char what[96];

		if (sb.cur > pb)
			pb = sb.cur;
		if (sk.cur > pn)
			pn = sk.cur;
		human_bytes(pk, sizeof(pk), pb);
		human_bytes(prs, sizeof(prs), (double)rss_peak_w);
		if (n > 1)
			snprintf(what, sizeof(what), "%zu traces", n);
		else
			snprintf(what, sizeof(what), "%s", base_name(in));
		snprintf(sub, sizeof(sub), "%s: %" PRIu64 " events, %speak "
			 "live %s, at most %.0f live blocks%s%s", what, events,
			 win->from_set || win->to_set ? "in this window " : "",
			 pk, pn, rss_peak_w ? ", peak recorded RSS " : "",
			 rss_peak_w ? prs : "");
	}
	memset(&chart, 0, sizeof(chart));
	chart.title = title;
	chart.subtitle = sub;
	chart.xlabel = no_time ? "event number (the trace has no clock)"
			       : "time since trace start";
	chart.xcount = no_time;
	chart.xmin = w0;
	chart.xmax = w1;
	chart.width = width;
	chart.panels = panels;
	chart.npanels = lh ? 3 : 2;
	rc = write_svg(outp, &chart);
	/* What was not drawn is said: the parts skipped, or as cat says
	 * it, a trace cut short or unclosed. */
	for (size_t i = 0; !rc && i < n; i++) {
		const struct ht_problem *p;
		size_t np = ht_reader_problems(src[i].r, &p);

		if (mode == HT_READ_SALVAGE)
			evpipe_warn_skipped(src[i].r, src[i].p, src[i].path);
		else if (!ht_reader_complete(src[i].r))
			evpipe_warn_problems(src[i].r, 1, p, np, src[i].path,
					     "");
	}
out:
	free(sb.c);
	free(sk.c);
	line_free(&lb);
	line_free(&lk);
	for (size_t k = 0; k < MAXRSS; k++)
		line_free(&lr[k]);
	for (size_t k = 0; k < 3; k++)
		line_free(&ll[k]);
	free(lh);
	for (size_t i = 0; pr && i < n; i++) {
		live_free(pr[i].lv);
		free(pr[i].s.c);
		line_free(&pr[i].l);
	}
	free(pr);
	evpipe_close_all(src, n);
	return rc;
}

#define MAXALLOC 16

static const char *const alloc_colors[] = {
	"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
	"#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
};
#define NACOL (sizeof(alloc_colors) / sizeof(alloc_colors[0]))

/* [[t, v], ...] into a downsampled line.  0 ok, -1 malformed. */
static int json_series(json_t *arr, struct line *l, double *tmax,
		       double *vmax)
{
	struct sampler s = {0};
	size_t i, n;
	json_t *p;
	double t0 = 0, t1 = 0;
	int rc;

	if (!json_is_array(arr))
		return -1;
	n = json_array_size(arr);
	json_array_foreach(arr, i, p) {
		json_t *t = json_array_get(p, 0), *v = json_array_get(p, 1);
		if (!json_is_array(p) || json_array_size(p) < 2 ||
		    !json_is_number(t) || !json_is_number(v) ||
		    json_number_value(t) < 0)
			return -1;
		if (json_number_value(t) > t1)
			t1 = json_number_value(t);
		if (json_number_value(v) > *vmax)
			*vmax = json_number_value(v);
	}
	if (t1 > *tmax)
		*tmax = t1;
	if (!n)
		return 0;
	if (sampler_init(&s, t0, t1, 0))
		return -2;
	json_array_foreach(arr, i, p)
		sampler_put(&s, json_number_value(json_array_get(p, 0)),
			    json_number_value(json_array_get(p, 1)));
	rc = sampler_line(&s, l, 0, 1);
	free(s.c);
	return rc ? -2 : 0;
}

static int plot_replay(const char *path, const char *in, const char *outp,
		       const char *title, int width)
{
	struct line rl[MAXALLOC], il[MAXALLOC];
	struct svg_series ser[2 * MAXALLOC + 1];
	char names[2 * MAXALLOC][80], titlebuf[512], sub[512];
	struct svg_panel panel;
	struct svg_chart chart;
	json_error_t jerr;
	json_t *root, *allocs, *a, *ideal;
	double ix[2] = {0, 0}, iy[2];
	size_t i, ns = 0, na = 0;
	double tmax = 0, vmax = 0, rss_max;
	int rc = 1;

	memset(rl, 0, sizeof(rl));
	memset(il, 0, sizeof(il));
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return cli_error("'%s':%d: %s", in, jerr.line, jerr.text);
	allocs = json_object_get(root, "allocators");
	if (!json_is_array(allocs)) {
		cli_error("'%s': not a replay report: no \"allocators\" "
			  "array", in);
		goto out;
	}
	json_array_foreach(allocs, i, a) {
		const char *name = json_string_value(json_object_get(a,
								      "name"));
		json_t *rs = json_object_get(a, "rss_series");
		json_t *is = json_object_get(a, "ideal_series");
		int e;
		if (!json_is_object(a)) {
			cli_error("'%s': allocators[%zu] is not an object", in,
				  i);
			goto out;
		}
		if (na == MAXALLOC) {
			cli_warn("'%s': only the first %d allocators are "
				 "drawn", in, MAXALLOC);
			break;
		}
		if (!rs) {
			cli_error("'%s': allocators[%zu] has no "
				  "\"rss_series\"", in, i);
			goto out;
		}
		e = json_series(rs, &rl[na], &tmax, &vmax);
		if (!e && is)
			e = json_series(is, &il[na], &tmax, &vmax);
		if (e == -2) {
			cli_error("out of memory");
			goto out;
		}
		if (e) {
			cli_error("'%s': allocators[%zu]: a series must be "
				  "[[seconds, bytes], ...]", in, i);
			goto out;
		}
		snprintf(names[ns], sizeof(names[ns]), "%s RSS%s",
			 name ? name : "?",
			 json_is_string(json_object_get(a, "status")) &&
			 strcmp(json_string_value(json_object_get(a, "status")),
				"ok") ? " (failed)" : "");
		ser[ns] = (struct svg_series){names[ns], rl[na].x, rl[na].y,
					      rl[na].n, 0,
					      alloc_colors[na % NACOL]};
		ns++;
		if (il[na].n) {
			snprintf(names[ns], sizeof(names[ns]),
				 "%s live requested bytes", name ? name : "?");
			ser[ns] = (struct svg_series){names[ns], il[na].x,
						      il[na].y, il[na].n, 1,
						      "#555555"};
			ns++;
		}
		na++;
	}
	if (!na) {
		cli_error("'%s': the report has no allocators", in);
		goto out;
	}
	/* The replayed trace's peak of live requested bytes: what a perfect
	 * allocator would need at most. */
	rss_max = vmax;
	ideal = json_object_get(root, "ideal_peak_bytes");
	if (json_is_number(ideal) && json_number_value(ideal) > 0 &&
	    ns <= 2 * MAXALLOC) {
		iy[0] = iy[1] = json_number_value(ideal);
		ix[1] = tmax;
		if (iy[0] > vmax)
			vmax = iy[0];
		ser[ns++] = (struct svg_series){"ideal peak (peak live "
						"requested bytes)", ix, iy, 2,
						1, "#000000"};
	}
	panel = (struct svg_panel){"resident set size", SVG_Y_BYTES, ser, ns};
	if (!title) {
		const char *tr = json_string_value(json_object_get(root,
								    "trace"));
		snprintf(titlebuf, sizeof(titlebuf), "replay of %s: RSS per "
			 "allocator", tr ? base_name(tr) : base_name(in));
		title = titlebuf;
	}
	{
		char pk[32];
		human_bytes(pk, sizeof(pk), rss_max);
		snprintf(sub, sizeof(sub), "%zu allocator%s, highest RSS %s",
			 na, na == 1 ? "" : "s", pk);
	}
	memset(&chart, 0, sizeof(chart));
	chart.title = title;
	chart.subtitle = sub;
	chart.xlabel = "time since replay start";
	chart.xmax = tmax;
	chart.width = width;
	chart.panels = &panel;
	chart.npanels = 1;
	rc = write_svg(outp, &chart);
out:
	for (i = 0; i < MAXALLOC; i++) {
		line_free(&rl[i]);
		line_free(&il[i]);
	}
	json_decref(root);
	return rc;
}

/* 1 if the file's first non-blank byte is '{'. */
static int looks_json(const char *path)
{
	FILE *f = fopen(path, "rb");
	int ch;

	if (!f)
		return 0;
	while ((ch = getc(f)) != EOF && isspace(ch))
		;
	fclose(f);
	return ch == '{';
}

/* Each input looked at once by name, pipes too (cli_spool()): traces,
 * or one replay report. */
static int plot_inputs(char **ins, size_t n, const char *outp,
		       const char *title, int mode, int width,
		       const struct window *win)
{
	char (*path)[64] = calloc(n, sizeof(*path));
	char **paths = calloc(n, sizeof(*paths));
	int *fd = malloc(n * sizeof(*fd)), rc = 1;
	size_t k = 0, traces = 0;

	if (!path || !paths || !fd) {
		cli_error("out of memory");
		goto out;
	}
	for (; k < n; k++) {
		if (cli_spool(ins[k], path[k], sizeof(path[k]), &fd[k]))
			goto out;
		/* a regular file with a long name keeps it */
		paths[k] = fd[k] < 0 ? ins[k] : path[k];
		traces += cli_file_kind(paths[k]) == CLI_KIND_HTAPE;
	}
	if (n > 1 && traces < n)
		rc = cli_usage(&cmd_plot_entry, 2, "several inputs must all "
			       "be traces");
	else if (traces)
		rc = plot_trace(paths, ins, n, outp, title, mode, width, win);
	else if (win->from_set || win->to_set)
		rc = cli_usage(&cmd_plot_entry, 2, "--from and --to apply to "
			       "traces");
	else if (looks_json(paths[0]))
		rc = plot_replay(paths[0], ins[0], outp, title, width);
	else
		rc = cli_error("'%s': neither a heaptape trace nor a replay "
			       "JSON report", ins[0]);
out:
	while (fd && k-- > 0)
		if (fd[k] >= 0)
			close(fd[k]);
	free(path);
	free(paths);
	free(fd);
	return rc;
}

static int cmd_plot(int argc, char **argv)
{
	enum { O_SALVAGE = 256, O_TITLE, O_WIDTH, O_FROM, O_TO };
	static const struct option longopts[] = {
		{"from", required_argument, 0, O_FROM},
		{"to", required_argument, 0, O_TO},
		{"output", required_argument, 0, 'o'},
		{"title", required_argument, 0, O_TITLE},
		{"width", required_argument, 0, O_WIDTH},
		{"salvage", no_argument, 0, O_SALVAGE},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	const struct ht_cmd *c = &cmd_plot_entry;
	const char *outp = NULL, *title = NULL;
	int ch, mode = HT_READ_STOP, width = 0;
	struct window win = {0};
	uint64_t v;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return cli_usage(c, 0, NULL);
		case 'o':
			outp = optarg;
			break;
		case O_TITLE:
			title = optarg;
			break;
		case O_WIDTH:
			if (cli_parse_u64(optarg, &v) || v < 400 || v > 10000)
				return cli_usage(c, 2,
						 "--width takes 400..10000");
			width = (int)v;
			break;
		case O_SALVAGE:
			mode = HT_READ_SALVAGE;
			break;
		case O_FROM:
		case O_TO:
			if (cli_parse_duration(optarg, ch == O_FROM ?
					       &win.from : &win.to))
				return cli_usage(c, 2, cli_duration_error(
					ch == O_FROM ? "--from" : "--to",
					optarg));
			*(ch == O_FROM ? &win.from_set : &win.to_set) = 1;
			break;
		case ':':
			return cli_bad_option(c, ':', argv);
		default:
			return cli_bad_option(c, ch, argv);
		}
	}
	if (argc - optind < 1)
		return cli_usage(c, 2, "need an input");
	if (!outp)
		return cli_usage(c, 2, "name the output with -o OUT.svg");
	if (win.from_set && win.to_set && win.to <= win.from)
		return cli_usage(c, 2, "--to must be after --from");
	if (cli_out_is_input(outp, argv + optind, (size_t)(argc - optind)))
		return cli_error("'%s' is also an input: the SVG would replace "
				 "it; name another output", outp);
	return plot_inputs(argv + optind, (size_t)(argc - optind), outp,
			   title, mode, width, &win);
}

const struct ht_cmd cmd_plot_entry = {
	.name = "plot",
	.usage = "plot [--from T] [--to T] [--title T] [--width PX] "
		 "[--salvage] INPUT... -o OUT.svg",
	.summary = "draw heap and RSS over time (trace or replay) as SVG",
	.help =
	"INPUT is a trace (.htape): live requested bytes with the recorded\n"
	"RSS when the trace has samples, and live blocks, over time; or a\n"
	"replay report (heaptape replay --json FILE): RSS over time of each\n"
	"allocator, from allocators[].rss_series [[seconds, bytes], ...]\n"
	"(ideal_series and the top-level ideal_peak_bytes, when present,\n"
	"are drawn dashed).\n"
	"Several traces (a process and its children: NAME NAME.*) are drawn\n"
	"together: their sum, and a line for each of the six largest; a\n"
	"process whose trace has ended has exited, and its blocks leave\n"
	"the sum there.\n"
	"options:\n"
	"  -o, --output F   the SVG to write (- for standard output)\n"
	"  --from T, --to T draw only this window of a trace (10ms, 1.5s\n"
	"                   from its start; event numbers without a clock)\n"
	"  --title T        the chart title\n"
	"  --width PX       image width (default 1000)\n"
	"  --salvage        skip damaged blocks of a trace\n"
	"The SVG is self-contained (no scripts, fonts or links); peaks\n"
	"survive downsampling (min and max of each of 2000 columns).\n",
	.run = cmd_plot,
};
