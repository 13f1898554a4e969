/*
 * csv.c - htape -> CSV, `heaptape convert TRACE OUT.csv`: one row per
 * event (csv_pipe.c), or with --lifetimes one row per allocation, or with
 * --interval DUR one row per time bucket, both from the live-block
 * tracker (live.h).  The other direction is csv_read.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "csv.h"
#include "evpipe.h"
#include "live.h"
#include "../replay/worker/plan.h" /* the latency histogram */

#define SHEET_ROWS 1048576 /* rows a spreadsheet opens, header included */

/* A round bucket length giving at most about 10000 rows. */
static const char *suggest_interval(uint64_t span)
{
	static const struct {
		uint64_t ns;
		const char *s;
	} iv[] = {
		{1000ull, "1us"}, {10000ull, "10us"}, {100000ull, "100us"},
		{1000000ull, "1ms"}, {10000000ull, "10ms"},
		{100000000ull, "100ms"}, {1000000000ull, "1s"},
		{10000000000ull, "10s"}, {60000000000ull, "1m"},
		{600000000000ull, "10m"}, {3600000000000ull, "1h"},
	};
	size_t i;

	for (i = 0; i + 1 < sizeof(iv) / sizeof(iv[0]); i++)
		if (span / iv[i].ns <= 10000)
			break;
	return iv[i].s;
}

struct out {
	FILE *f;
	const char *path;
	int err;
};

static int put(struct out *w, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, w->f) != n) {
		w->err = errno ? errno : EIO;
		return -1;
	}
	return 0;
}

static int write_error(struct out *w)
{
	return cli_error("cannot write '%s': %s", w->path, strerror(w->err));
}

/*
 * --lifetimes: a row when a block ends (free, realloc, HeapDestroy, or its
 * address allocated again: a lost free), in the order of those events;
 * then the blocks never freed, by allocation number.
 */
static const char lifetime_header[] =
	"address,size,op,alloc_time_ns,free_time_ns,lifetime_ns,alloc_tid,"
	"free_tid,chain_id,id,free_op,pid,heap\r\n";

struct rowbuf {
	struct out *w;
	char buf[1 << 16];
	size_t len;
	uint64_t rows;
	int err;
};

static void rowbuf_flush(struct rowbuf *b)
{
	if (!b->err && put(b->w, b->buf, b->len))
		b->err = 1;
	b->len = 0;
}

static char *rowbuf_reserve(struct rowbuf *b)
{
	if (b->len > sizeof(b->buf) - 512)
		rowbuf_flush(b);
	return b->buf + b->len;
}

struct lt {
	const struct convert_opts *o;
	struct rowbuf rb;
	uint64_t start;
};

static int block_kept(const struct lt *t, const struct live_block *b)
{
	struct ht_event e;

	memset(&e, 0, sizeof(e));
	e.ts = b->ts;
	e.pid = b->pid;
	e.tid = b->tid;
	e.op = b->op;
	return convert_keep(t->o, &e, t->start);
}

static char *put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

static char *put_op(char *p, int op)
{
	const char *n = ht_op_name(op);

	return n ? put_str(p, n) : csv_put_u64(p, (uint64_t)op);
}

/* by: the event that ended the block (NULL: never freed); lost: ended by
 * a new allocation at its address. */
static void lifetime_row(struct lt *t, const struct live_block *b,
			 const struct ht_event *by, int lost)
{
	char *p;

	if ((t->o->limit && t->rb.rows >= t->o->limit) || !block_kept(t, b))
		return;
	p = rowbuf_reserve(&t->rb);
	p = csv_put_hex(p, b->addr);
	*p++ = ',';
	p = csv_put_u64(p, b->size);
	*p++ = ',';
	p = put_op(p, b->op);
	*p++ = ',';
	p = csv_put_i64(p, (int64_t)(b->ts - t->start));
	*p++ = ',';
	if (by)
		p = csv_put_i64(p, (int64_t)(by->ts - t->start));
	*p++ = ',';
	if (by)
		p = csv_put_i64(p, (int64_t)(by->ts - b->ts));
	*p++ = ',';
	p = csv_put_u64(p, b->tid);
	*p++ = ',';
	if (by)
		p = csv_put_u64(p, by->tid);
	*p++ = ',';
	p = csv_put_u64(p, b->chain);
	*p++ = ',';
	p = csv_put_u64(p, b->id);
	*p++ = ',';
	if (lost)
		p = put_str(p, "lost");
	else if (by)
		p = put_op(p, by->op);
	*p++ = ',';
	p = csv_put_u64(p, b->pid);
	*p++ = ',';
	if (b->heap)
		p = csv_put_hex(p, b->heap);
	*p++ = '\r';
	*p++ = '\n';
	t->rb.len = (size_t)(p - t->rb.buf);
	t->rb.rows++;
}

static void on_destroy(void *ctx, const struct live_block *b,
		       const struct ht_event *by)
{
	lifetime_row(ctx, b, by, 0);
}

struct collect {
	struct live_block *b;
	size_t n, cap;
};

static void collect_one(void *ctx, const struct live_block *b)
{
	struct collect *c = ctx;

	if (c->n < c->cap)
		c->b[c->n++] = *b;
}

static int by_id(const void *a, const void *b)
{
	const struct live_block *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int lifetimes_csv(const struct convert_opts *o, struct ht_reader *r,
			 struct out *w, uint64_t *rows_out)
{
	struct lt *t = calloc(1, sizeof(*t));
	struct live *l = live_new();
	struct ht_trace_info info;
	struct cli_progress prog;
	struct live_result res;
	struct live_stats st;
	struct collect col = {0};
	struct csv_src *src = NULL;
	const struct ht_event *const *evs;
	uint64_t seen = 0;
	size_t n;
	int k = 0, rc = 0, stop = 0;

	if (!t || !l) {
		free(t);
		live_free(l);
		return cli_error("out of memory");
	}
	t->o = o;
	t->start = ht_reader_start_ns(r);
	t->rb.w = w;
	live_on_release(l, on_destroy, t);
	ht_reader_info(r, &info);
	cli_progress_start(&prog, "convert", info.events);
	if (!o->progress)
		prog.active = 0;
	if (put(w, lifetime_header, sizeof(lifetime_header) - 1)) {
		rc = write_error(w);
		goto out;
	}
	if (csv_src_open(&src, o, r)) {
		rc = 1;
		goto out;
	}
	while (!stop && (k = csv_src_next(src, &evs, &n)) > 0) {
		for (size_t j = 0; j < n; j++) {
			const struct ht_event *ev = evs[j];
			if (j + LIVE_AHEAD < n)
				live_prefetch(l, evs[j + LIVE_AHEAD]);
			if ((o->limit && t->rb.rows >= o->limit) ||
			    t->rb.err) {
				stop = 1;
				break;
			}
			if (live_apply(l, ev, &res)) {
				rc = cli_error("out of memory");
				goto out;
			}
			/* HeapDestroy rows come from on_destroy(). */
			if (ev->op == HT_OP_HEAP_DESTROY)
				continue;
			for (uint64_t i = 0; i < res.nfreed &&
			     i < LIVE_MAX_FREED; i++) {
				const struct live_block *b = &res.freed[i];
				int lost = res.reused && b->addr == ev->addr &&
					   !(ht_op_is_realloc(ev->op) &&
					     b->addr == ev->old_addr);
				lifetime_row(t, b, ev, lost);
			}
		}
		seen += n;
		cli_progress_update(&prog, seen);
	}
	if (k < 0) {
		rc = 1;
		goto out;
	}
	live_stats(l, &st);
	col.cap = st.blocks;
	col.b = malloc((col.cap ? col.cap : 1) * sizeof(*col.b));
	if (!col.b) {
		rc = cli_error("out of memory");
		goto out;
	}
	live_foreach(l, collect_one, &col);
	qsort(col.b, col.n, sizeof(*col.b), by_id);
	for (size_t i = 0; i < col.n && !t->rb.err; i++)
		lifetime_row(t, &col.b[i], NULL, 0);
	rowbuf_flush(&t->rb);
	if (t->rb.err)
		rc = write_error(w);
out:
	csv_src_close(src, !rc);
	cli_progress_end(&prog);
	*rows_out = t->rb.rows;
	free(col.b);
	live_free(l);
	free(t);
	return rc;
}

/*
 * --interval DUR: buckets [k*DUR, (k+1)*DUR) from the trace start, from
 * the first to the one of the last kept event, empty ones included.
 * A trace of record --latency adds the call times of the bucket: p50,
 * p99 and max of the calls that allocate (realloc too) and of those
 * that free, empty cells when there were none.
 */
#define INTERVAL_COLS "start_ns,allocs,frees,reallocs,bytes_allocated," \
		      "bytes_freed,live_bytes,live_blocks,peak_live_bytes"
static const char interval_header[] = INTERVAL_COLS "\r\n";
static const char interval_header_dur[] =
	INTERVAL_COLS ",alloc_p50_ns,alloc_p99_ns,alloc_max_ns,free_p50_ns,"
	"free_p99_ns,free_max_ns\r\n";

struct bucket {
	uint64_t allocs, frees, reallocs, bytes_alloc, bytes_freed, peak;
	/* with durations: of the allocating calls [0] and the freeing [1] */
	struct rp_kind_stats *lat;
};

static char *lat_cells(char *p, const struct rp_kind_stats *k)
{
	if (!k->timed)
		return memcpy(p, ",,,", 3), p + 3;
	*p++ = ',';
	p = csv_put_u64(p, (uint64_t)rp_hist_quantile(k, 0.50));
	*p++ = ',';
	p = csv_put_u64(p, (uint64_t)rp_hist_quantile(k, 0.99));
	*p++ = ',';
	return csv_put_u64(p, k->max);
}

static void interval_row(struct rowbuf *rb, uint64_t k, uint64_t dur,
			 const struct bucket *b, const struct live_stats *st)
{
	char *p = rowbuf_reserve(rb);

	p = csv_put_u64(p, k * dur);
	*p++ = ',';
	p = csv_put_u64(p, b->allocs);
	*p++ = ',';
	p = csv_put_u64(p, b->frees);
	*p++ = ',';
	p = csv_put_u64(p, b->reallocs);
	*p++ = ',';
	p = csv_put_u64(p, b->bytes_alloc);
	*p++ = ',';
	p = csv_put_u64(p, b->bytes_freed);
	*p++ = ',';
	p = csv_put_u64(p, st->bytes);
	*p++ = ',';
	p = csv_put_u64(p, st->blocks);
	*p++ = ',';
	p = csv_put_u64(p, b->peak);
	if (b->lat) {
		p = lat_cells(p, &b->lat[0]);
		p = lat_cells(p, &b->lat[1]);
	}
	*p++ = '\r';
	*p++ = '\n';
	rb->len = (size_t)(p - rb->buf);
	rb->rows++;
}

/* A new bucket: no events yet, its peak from the live bytes now. */
static void bucket_reset(struct bucket *b, uint64_t live)
{
	struct rp_kind_stats *lat = b->lat;

	memset(b, 0, sizeof(*b));
	b->peak = live;
	if ((b->lat = lat) != NULL)
		memset(lat, 0, 2 * sizeof(*lat));
}

struct iv {
	const struct convert_opts *o;
	struct convert_opts notime;
	struct rowbuf *rb;
	struct live **l;          /* one per trace (process) */
	struct live_stats *pst;   /* each one's */
	uint8_t *ended;           /* its process has exited (iv_end()) */
	size_t nl;
	struct live_stats st;     /* bytes and blocks: their sum */
	struct bucket b;          /* b.lat: the rows have call times */
	uint64_t start, dur, cur;
	int first, done; /* done: no more rows (limit, write error) */
	int past;        /* no more events needed: past the window */
};

/* Writes bucket cur if it overlaps the time window. */
static void iv_emit(struct iv *v)
{
	const struct convert_opts *o = v->o;
	uint64_t s = v->cur * v->dur;

	if ((!o->from_set || s + v->dur > o->from_ns) &&
	    (!o->to_set || s < o->to_ns))
		interval_row(v->rb, v->cur, v->dur, &v->b, &v->st);
	if (o->limit && v->rb->rows >= o->limit)
		v->done = 1;
}

/* One event of trace which.  0, or -1 when out of memory. */
static int iv_event(struct iv *v, size_t which, const struct ht_event *ev)
{
	uint64_t t = ev->ts > v->start ? ev->ts - v->start : 0;
	uint64_t kb = t / v->dur, added = 0, nadded = 0;
	struct live_stats before, now;
	struct live_result res;

	if (!convert_keep(&v->notime, ev, v->start))
		return 0;
	if (v->o->to_set && kb * v->dur >= v->o->to_ns) {
		v->past = 1; /* every later bucket is past the window */
		return 0;
	}
	if (v->first) {
		v->cur = kb;
		v->b.peak = v->st.bytes;
		v->first = 0;
	}
	while (v->cur < kb && !v->done) {
		iv_emit(v);
		bucket_reset(&v->b, v->st.bytes);
		v->cur++;
	}
	if (v->done)
		return 0;
	before = v->st;
	if (live_apply(v->l[which], ev, &res))
		return -1;
	live_stats(v->l[which], &now);
	v->st.bytes += now.bytes - v->pst[which].bytes;
	v->st.blocks += now.blocks - v->pst[which].blocks;
	v->pst[which] = now;
	if (res.added) {
		added = res.block.size;
		nadded = 1;
	}
	if (ht_op_is_realloc(ev->op))
		v->b.reallocs++;
	else if (nadded)
		v->b.allocs++;
	if (ht_op_frees(ev->op) || ev->op == HT_OP_HEAP_DESTROY)
		v->b.frees += before.blocks + nadded - v->st.blocks;
	if (v->b.lat && !(ev->flags & HT_EV_FAILED) &&
	    (ht_op_frees(ev->op) || ht_op_allocates(ev->op))) {
		rp_kind_add(&v->b.lat[ht_op_frees(ev->op)], ev->dur);
	}
	v->b.bytes_alloc += added;
	v->b.bytes_freed += before.bytes + added - v->st.bytes;
	if (v->st.bytes > v->b.peak)
		v->b.peak = v->st.bytes;
	if (v->rb->err)
		v->done = 1;
	return 0;
}

/* Trace which has no more events while others go on: its process has
 * exited, and the system took its blocks back. */
static void iv_end(struct iv *v, size_t which)
{
	v->ended[which] = 1;
	live_free(v->l[which]); /* no event of it comes again */
	v->l[which] = NULL;
	v->st.bytes -= v->pst[which].bytes;
	v->st.blocks -= v->pst[which].blocks;
	v->pst[which].bytes = v->pst[which].blocks = 0;
}

/* Sets v up for nl traces starting at start (dur: with call times), and
 * writes the header.  0, or 1 after printing an error (iv_close() it
 * anyway). */
static int iv_open(struct iv *v, const struct convert_opts *o,
		   struct out *w, size_t nl, uint64_t start, int dur)
{
	const char *h = dur ? interval_header_dur : interval_header;

	memset(v, 0, sizeof(*v));
	v->o = o;
	v->nl = nl;
	v->rb = calloc(1, sizeof(*v->rb));
	v->l = calloc(nl, sizeof(*v->l));
	v->pst = calloc(nl, sizeof(*v->pst));
	v->ended = calloc(nl, 1);
	if (!v->rb || !v->l || !v->pst || !v->ended ||
	    (dur && !(v->b.lat = calloc(2, sizeof(*v->b.lat)))))
		return cli_error("out of memory");
	for (size_t i = 0; i < nl; i++)
		if (!(v->l[i] = live_new()))
			return cli_error("out of memory");
	v->rb->w = w;
	v->start = start;
	v->dur = o->interval_ns;
	v->first = 1;
	/* The window picks buckets; live bytes need all earlier events. */
	v->notime = *o;
	v->notime.from_set = v->notime.to_set = 0;
	if (put(w, h, strlen(h)))
		return write_error(w);
	return 0;
}

/* The last bucket and the rows buffered; 0, or 1 after printing. */
static int iv_finish(struct iv *v, struct out *w)
{
	if (!v->first && !v->done)
		iv_emit(v);
	rowbuf_flush(v->rb);
	return v->rb->err ? write_error(w) : 0;
}

static void iv_close(struct iv *v)
{
	for (size_t i = 0; v->l && i < v->nl; i++)
		live_free(v->l[i]);
	free(v->l);
	free(v->pst);
	free(v->ended);
	free(v->rb);
	free(v->b.lat);
}

static int interval_csv(const struct convert_opts *o, struct ht_reader *r,
			struct out *w, uint64_t *rows_out)
{
	struct iv v;
	struct ht_trace_info info;
	struct cli_progress prog;
	struct csv_src *src = NULL;
	const struct ht_event *const *evs;
	uint64_t seen = 0;
	size_t n;
	int k = 0, rc;

	ht_reader_info(r, &info);
	cli_progress_start(&prog, "convert", info.events);
	if (!o->progress)
		prog.active = 0;
	if ((rc = iv_open(&v, o, w, 1, ht_reader_start_ns(r),
			  cli_trace_timed(r))))
		goto out;
	if (csv_src_open(&src, o, r)) {
		rc = 1;
		goto out;
	}
	while (!v.done && !v.past && (k = csv_src_next(src, &evs, &n)) > 0) {
		for (size_t j = 0; j < n && !v.done && !v.past; j++) {
			if (iv_event(&v, 0, evs[j])) {
				rc = cli_error("out of memory");
				goto out;
			}
		}
		seen += n;
		cli_progress_update(&prog, seen);
	}
	if (k < 0) {
		rc = 1;
		goto out;
	}
	rc = iv_finish(&v, w);
out:
	csv_src_close(src, !rc);
	cli_progress_end(&prog);
	*rows_out = v.rb ? v.rb->rows : 0;
	iv_close(&v);
	return rc;
}

int convert_htape_to_csv(const struct convert_opts *o)
{
	struct ht_reader *r = NULL;
	struct cli_out co;
	struct out w;
	uint64_t rows = 0;
	int rc;

	if (cli_open_trace(&r, o->in, o->mode))
		return 1;
	if (cli_out_open(&co, o->out)) {
		ht_reader_close(r);
		return 1;
	}
	w.f = co.fp;
	w.path = strcmp(o->out, "-") ? o->out : "standard output";
	w.err = 0;
	csv_fmt_init();
	if (o->lifetimes)
		rc = lifetimes_csv(o, r, &w, &rows);
	else if (o->interval_ns)
		rc = interval_csv(o, r, &w, &rows);
	else
		rc = csv_write_events(o, r, w.f, w.path, &rows);
	if (!rc && o->mode == HT_READ_SALVAGE)
		evpipe_warn_skipped(r, NULL, o->in);
	else if (!rc)
		evpipe_warn_cut(r, o->in);
	if (rc) {
		cli_out_abort(&co);
		ht_reader_close(r);
		return 1;
	}
	if (cli_out_commit(&co)) {
		ht_reader_close(r);
		return 1;
	}
	if (!o->lifetimes && !o->interval_ns && rows + 1 > SHEET_ROWS) {
		struct ht_trace_info info;
		const char *iv;
		ht_reader_info(r, &info);
		iv = suggest_interval(info.ts_max - info.ts_min);
		fprintf(stderr, "%s: note: '%s' has %llu rows, more than a "
			"spreadsheet opens (%d); try --interval %s for one "
			"summary row per %s\n", cli_prog, w.path,
			(unsigned long long)rows + 1, SHEET_ROWS, iv, iv);
	}
	ht_reader_close(r);
	return 0;
}

/*
 * Several traces (a process and its children) as one CSV: their event
 * rows in one time order, the same rows as converting each alone; or
 * with --interval, buckets of them all (each process's blocks tracked
 * apart: their addresses are of different address spaces).  Times are
 * from the earliest trace's start.
 */
int convert_htapes_to_csv(const struct convert_opts *o, char *const *ins,
			  size_t n)
{
	struct evsrc *src;
	struct cli_out co;
	struct out w;
	struct iv v;
	struct rowbuf *rb = NULL;
	const struct ht_event *ev;
	uint64_t start;
	size_t k, which = 0;
	int err = 0, rc = 0, done = 0, dur = 0;

	memset(&v, 0, sizeof(v));
	csv_fmt_init();
	src = evpipe_open_all(ins, n, o->mode, o->jobs ? o->jobs - 1 : -1,
			      &start);
	if (!src)
		return 1;
	for (size_t i = 0; i < n; i++)
		dur |= cli_trace_timed(src[i].r);
	if (cli_out_open(&co, o->out)) {
		evpipe_close_all(src, n);
		return 1;
	}
	w.f = co.fp;
	w.path = strcmp(o->out, "-") ? o->out : "standard output";
	w.err = 0;
	if (o->interval_ns) {
		rc = iv_open(&v, o, &w, n, start, dur);
	} else if ((rb = calloc(1, sizeof(*rb))) != NULL) {
		rb->w = &w;
		if (put(&w, csv_event_header(dur),
			strlen(csv_event_header(dur))))
			rc = write_error(&w);
	} else {
		rc = cli_error("out of memory");
	}
	while (!rc && !done &&
	       (err = evpipe_merge_next(src, n, &ev, &k, &which)) == 1) {
		for (size_t i = 0; o->interval_ns && n > 1 && i < n; i++)
			if (src[i].done && !v.ended[i])
				iv_end(&v, i);
		for (size_t i = 0; i < k && !done; i++) {
			char *p;

			if (o->interval_ns) {
				if (iv_event(&v, which, &ev[i]))
					rc = cli_error("out of memory");
				done = rc || v.done || v.past;
				continue;
			}
			if (!convert_keep(o, &ev[i], start))
				continue;
			p = csv_format_event(rowbuf_reserve(rb), &ev[i],
					     start, dur);
			rb->len = (size_t)(p - rb->buf);
			done = rb->err || (o->limit && ++rb->rows == o->limit);
		}
	}
	if (!rc && err < 0)
		rc = cli_error("'%s': %s at offset %llu", src[which].path,
			       ht_strerror(err), (unsigned long long)
			       evpipe_error_offset(src[which].p));
	if (!rc && o->interval_ns) {
		rc = iv_finish(&v, &w);
	} else if (!rc) {
		rowbuf_flush(rb);
		if (rb->err)
			rc = write_error(&w);
	}
	for (size_t i = 0; !rc && i < n; i++)
		if (o->mode == HT_READ_SALVAGE)
			evpipe_warn_skipped(src[i].r, src[i].p, src[i].path);
		else
			evpipe_warn_cut(src[i].r, src[i].path);
	free(rb);
	iv_close(&v);
	evpipe_close_all(src, n);
	if (rc) {
		cli_out_abort(&co);
		return 1;
	}
	return cli_out_commit(&co) ? 1 : 0;
}
