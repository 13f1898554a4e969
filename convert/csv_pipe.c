/*
 * csv_pipe.c - every event of a trace as a CSV row, on every core, in
 * global time order.
 *
 *   workers:  decode blocks ahead of need  |  format chunks of rows
 *   main:     merge streams into chunks    |  write chunks in order
 *
 * The merge is the one ht_reader_next() defines (heaptape.h): per-thread
 * streams (pid, tid), each its blocks in file order, merged by (ts, pid,
 * tid); a stream whose next block is not decoded yet is keyed by the
 * block's ts_min, a lower bound, and decoded when it reaches the top.
 * Any correct merge of the same streams gives the same sequence, so the
 * rows do not depend on the number of threads.  Workers decode blocks in
 * order of (ts_min, pid, tid), which is nearly the order the merge needs
 * them, at most `window` blocks ahead; the main thread decodes a block
 * itself when no worker has started it.  The main thread fills chunks
 * with pointers to the events, a run at a time (no heap operation while
 * one stream stays below the others); workers format chunks into text;
 * chunks are written in order, and a used-up block goes back to the pool
 * once the last chunk pointing into it is written.  Chunks are small
 * (CHUNK_EVENTS) so that the events the merge has just read are still
 * in cache when they are formatted, and with one job there is one chunk,
 * formatted as soon as it is filled.  Memory: the decoded
 * blocks of the live streams, the window and the ring of chunks, whatever
 * the length of the trace.
 *
 * HEAPTAPE_CSV_MERGE=reader uses ht_reader_next() instead, which the
 * tests compare against.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "convert.h"
#include "csv.h"
#include "evpipe.h"

#define CHUNK_EVENTS 4096
#define NONE UINT32_MAX
#define PF_AHEAD 32 /* events */
#define HUGE_PAGE ((size_t)2 << 20)

enum { C_FREE, C_FILLED, C_CLAIMED, C_DONE };
enum { B_IDLE, B_BUSY, B_READY, B_TAKEN };

struct chunk {
	const struct ht_event **evp; /* rows: events in decoded blocks */
	struct ht_event *ev;         /* storage for the reader path */
	size_t n;
	char *out;
	size_t len;
	int state;
};

struct dblock {
	struct ht_event *ev; /* decoded events (from the pool) */
	uint32_t cap;
	int n;               /* events, or HT_E* */
	int state;
	int counted;         /* in the prefetch window */
	uint32_t next;       /* next block of its stream */
};

struct stream {
	uint32_t pid, tid;
	uint32_t blk;        /* current block, NONE when finished */
	const struct ht_event *ev;
	uint32_t n, pos;
	int loaded;
};

struct hent {
	uint64_t ts;
	uint32_t pid, tid, s;
};

struct pipe {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	int quit;
	uint64_t start;
	/* chunks */
	struct chunk *c;
	size_t nc;
	uint64_t next_claim, next_fill;
	/* blocks */
	const struct ht_reader *r;
	const struct ht_block_info *bi;
	size_t nb;
	struct dblock *b;
	uint32_t *order;
	size_t next_pf;
	unsigned inflight, window;
	/* merge (main thread only) */
	struct stream *st;
	size_t nst;
	struct hent *heap;
	size_t nheap;
	struct ht_decoder *dec;
	int salvage;
	uint64_t bad_blocks, bad_offset;
	/* used event buffers, kept so that a block does not fault in fresh
	 * pages: their number is bounded by the blocks in use at once */
	struct pooled {
		struct ht_event *ev;
		uint32_t cap;
	} *pool;
	size_t npool;
	/* used-up blocks whose events chunks still point to: released once
	 * chunk seq is written (FIFO, seq never decreases) */
	struct pending {
		uint32_t blk;
		uint64_t seq;
	} *pend;
	size_t pend_head, pend_tail;
	int filtering;   /* any filter set: else convert_keep is skipped */
	int dur;         /* rows end with duration_ns */
};

static void format_chunk(struct chunk *c, uint64_t start, int dur)
{
	c->len = (size_t)(csv_format_eventp(c->out, c->evp, c->n, start,
					    dur) - c->out);
}

/* A buffer for n events.  Called with the lock held. */
static void buf_get(struct pipe *g, struct dblock *b, uint32_t n)
{
	if (!n)
		n = 1;
	for (size_t k = g->npool; k-- > 0;) {
		if (g->pool[k].cap >= n) {
			b->ev = g->pool[k].ev;
			b->cap = g->pool[k].cap;
			g->pool[k] = g->pool[--g->npool];
			return;
		}
	}
	b->ev = NULL;
	b->cap = n;
}

/* Gives block b's buffer back.  Called with the lock held. */
static void buf_put(struct pipe *g, struct dblock *b)
{
	if (!b->ev)
		return;
	g->pool[g->npool].ev = b->ev;
	g->pool[g->npool++].cap = b->cap;
	b->ev = NULL;
}

/* Releases the blocks no chunk up to seq points into. */
static void release_upto(struct pipe *g, uint64_t seq)
{
	if (g->pend_head == g->pend_tail || g->pend[g->pend_head].seq > seq)
		return;
	pthread_mutex_lock(&g->mu);
	while (g->pend_head != g->pend_tail &&
	       g->pend[g->pend_head].seq <= seq)
		buf_put(g, &g->b[g->pend[g->pend_head++].blk]);
	pthread_mutex_unlock(&g->mu);
}

/* A new buffer for b->cap events.  Big ones (a block of 64K events is
 * 5.6 MB) are asked for in huge pages: the decoder's first writes would
 * otherwise fault in every 4 KB page, a few percent of the run.  b->cap
 * becomes what the buffer holds. */
static struct ht_event *ev_alloc(struct dblock *b)
{
	size_t sz = (size_t)b->cap * sizeof(*b->ev);
	void *m;

	if (sz < HUGE_PAGE)
		return malloc(sz);
	sz = (sz + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
	if (posix_memalign(&m, HUGE_PAGE, sz))
		return NULL;
#ifdef MADV_HUGEPAGE
	madvise(m, sz, MADV_HUGEPAGE); /* a hint: failure is harmless */
#endif
	b->cap = (uint32_t)(sz / sizeof(*b->ev));
	return m;
}

/* Decodes block i; called without the lock, after buf_get(). */
static void decode_one(struct pipe *g, struct ht_decoder *d, uint32_t i)
{
	struct dblock *b = &g->b[i];

	if (!b->ev && !(b->ev = ev_alloc(b))) {
		b->n = HT_ENOMEM;
		return;
	}
	b->n = ht_reader_decode_block(g->r, d, i, b->ev, b->cap);
}

/* One piece of waiting work, called with the lock held: the oldest
 * filled chunk to format, else the next block to decode ahead (with d).
 * Returns 1 if it did something (the lock was dropped meanwhile). */
static int help(struct pipe *g, struct ht_decoder *d)
{
	if (g->next_claim < g->next_fill) {
		struct chunk *c = &g->c[g->next_claim++ % g->nc];
		c->state = C_CLAIMED;
		pthread_mutex_unlock(&g->mu);
		format_chunk(c, g->start, g->dur);
		pthread_mutex_lock(&g->mu);
		c->state = C_DONE;
		pthread_cond_broadcast(&g->done);
		return 1;
	}
	while (d && !g->quit && g->inflight < g->window &&
	       g->next_pf < g->nb) {
		uint32_t i = g->order[g->next_pf++];
		if (g->b[i].state != B_IDLE)
			continue;
		g->b[i].state = B_BUSY;
		g->b[i].counted = 1;
		g->inflight++;
		buf_get(g, &g->b[i], g->bi[i].count);
		pthread_mutex_unlock(&g->mu);
		decode_one(g, d, i);
		pthread_mutex_lock(&g->mu);
		g->b[i].state = B_READY;
		pthread_cond_broadcast(&g->done);
		return 1;
	}
	return 0;
}

static void *worker(void *arg)
{
	struct pipe *g = arg;
	struct ht_decoder *d = NULL;

	if (g->nb && ht_decoder_new(&d))
		d = NULL;
	pthread_mutex_lock(&g->mu);
	for (;;) {
		if (help(g, d))
			continue;
		if (g->quit)
			break;
		pthread_cond_wait(&g->work, &g->mu);
	}
	pthread_mutex_unlock(&g->mu);
	ht_decoder_free(d);
	return NULL;
}

/* The decoded block i for the merge, decoding it here if no worker has
 * started it. */
static struct dblock *claim_block(struct pipe *g, uint32_t i)
{
	struct dblock *b = &g->b[i];

	pthread_mutex_lock(&g->mu);
	if (b->state == B_IDLE) {
		b->state = B_BUSY;
		buf_get(g, b, g->bi[i].count);
		pthread_mutex_unlock(&g->mu);
		decode_one(g, g->dec, i);
		pthread_mutex_lock(&g->mu);
		b->state = B_READY;
	}
	/* Busy on a worker: do other work meanwhile. */
	while (b->state != B_READY)
		if (!help(g, g->dec))
			pthread_cond_wait(&g->done, &g->mu);
	b->state = B_TAKEN;
	if (b->counted) {
		g->inflight--;
		pthread_cond_signal(&g->work);
	}
	pthread_mutex_unlock(&g->mu);
	return b;
}

/* Waits until chunk seq is formatted, formatting it here if no worker
 * has taken it. */
static struct chunk *finish(struct pipe *g, uint64_t seq)
{
	struct chunk *c = &g->c[seq % g->nc];

	pthread_mutex_lock(&g->mu);
	if (g->next_claim == seq && c->state == C_FILLED) {
		g->next_claim++;
		c->state = C_CLAIMED;
		pthread_mutex_unlock(&g->mu);
		format_chunk(c, g->start, g->dur);
		pthread_mutex_lock(&g->mu);
		c->state = C_DONE;
	}
	while (c->state != C_DONE)
		if (!help(g, g->dec))
			pthread_cond_wait(&g->done, &g->mu);
	pthread_mutex_unlock(&g->mu);
	return c;
}

static inline int hless(const struct hent *a, const struct hent *b)
{
	if (a->ts != b->ts)
		return a->ts < b->ts;
	if (a->pid != b->pid)
		return a->pid < b->pid;
	return a->tid < b->tid;
}

static void sift_down(struct pipe *g, size_t i)
{
	struct hent *h = g->heap;
	size_t n = g->nheap;

	for (;;) {
		size_t l = 2 * i + 1, s = i;
		struct hent t;
		if (l < n && hless(&h[l], &h[s]))
			s = l;
		if (l + 1 < n && hless(&h[l + 1], &h[s]))
			s = l + 1;
		if (s == i)
			return;
		t = h[i];
		h[i] = h[s];
		h[s] = t;
		i = s;
	}
}

/* Streams, their block chains, the heap and the prefetch order. */
static int merge_init(struct pipe *g)
{
	uint32_t *idx;

	g->nb = ht_reader_blocks(g->r, &g->bi);
	if (g->nb >= NONE)
		return -1;
	g->b = calloc(g->nb + 1, sizeof(*g->b));
	g->order = malloc((g->nb + 1) * sizeof(*g->order));
	idx = malloc((g->nb + 1) * sizeof(*idx));
	g->st = calloc(g->nb + 1, sizeof(*g->st));
	g->heap = malloc((g->nb + 1) * sizeof(*g->heap));
	g->pool = malloc((g->nb + 1) * sizeof(*g->pool));
	g->pend = malloc((g->nb + 1) * sizeof(*g->pend));
	if (!g->b || !g->order || !idx || !g->st || !g->heap || !g->pool ||
	    !g->pend) {
		free(idx);
		return -1;
	}
	for (uint32_t i = 0; i < g->nb; i++)
		idx[i] = g->order[i] = i;
	qsort_r(idx, g->nb, sizeof(*idx), evpipe_by_stream, (void *)g->bi);
	qsort_r(g->order, g->nb, sizeof(*g->order), evpipe_by_need,
		(void *)g->bi);
	for (size_t k = 0; k < g->nb; k++) {
		uint32_t i = idx[k];
		struct stream *s = g->nst ? &g->st[g->nst - 1] : NULL;
		g->b[i].next = NONE;
		if (s && s->pid == g->bi[i].pid && s->tid == g->bi[i].tid) {
			g->b[idx[k - 1]].next = i;
			continue;
		}
		s = &g->st[g->nst++];
		s->pid = g->bi[i].pid;
		s->tid = g->bi[i].tid;
		s->blk = i;
	}
	free(idx);
	for (size_t s = 0; s < g->nst; s++) {
		struct hent *h = &g->heap[g->nheap++];
		h->ts = g->bi[g->st[s].blk].ts_min;
		h->pid = g->st[s].pid;
		h->tid = g->st[s].tid;
		h->s = (uint32_t)s;
	}
	for (size_t i = g->nheap / 2; i-- > 0;)
		sift_down(g, i);
	return 0;
}

/* Loads the current block of the stream on top.  0, or 1 after printing
 * an error. */
static int load_top(struct pipe *g, const char *path)
{
	struct stream *s = &g->st[g->heap[0].s];
	struct dblock *b = claim_block(g, s->blk);

	if (b->n > 0) {
		s->ev = b->ev;
		s->n = (uint32_t)b->n;
		s->pos = 0;
		s->loaded = 1;
		g->heap[0].ts = s->ev[0].ts;
		sift_down(g, 0);
		return 0;
	}
	if (b->n < 0) {
		pthread_mutex_lock(&g->mu);
		buf_put(g, b);
		pthread_mutex_unlock(&g->mu);
		if (!g->salvage)
			return cli_error("'%s': %s at offset %llu", path,
					 ht_strerror(b->n),
					 (unsigned long long)
					 g->bi[s->blk].offset);
		if (!g->bad_blocks++)
			g->bad_offset = g->bi[s->blk].offset;
	}
	/* Nothing to read in this block: on to the next. */
	s->blk = b->next;
	if (s->blk == NONE)
		g->heap[0] = g->heap[--g->nheap];
	else
		g->heap[0].ts = g->bi[s->blk].ts_min;
	sift_down(g, 0);
	return 0;
}

/* Prefetches the two lines of the event PF_AHEAD after e: the
 * decoder's output is out of cache by now, and two streams taking turns
 * every few events defeat the hardware prefetcher. */
static inline void prefetch_ev(const struct ht_event *e)
{
	uintptr_t pf = (uintptr_t)e + PF_AHEAD * sizeof(*e);

	__builtin_prefetch((const void *)pf);
	__builtin_prefetch((const void *)(pf + 64));
}

/*
 * Appends to c the run of stream s: its current event, then those whose
 * key (ts, pid, tid) is not above lim (NULL: no other stream), up to the
 * end of the block, a full chunk or o->limit rows.  Without filters every
 * event is a row, so the run's end is found from ts alone.
 */
static void run(const struct convert_opts *o, struct stream *s,
		struct chunk *c, const struct hent *lim, uint64_t *rows,
		uint64_t *seen)
{
	const struct ht_event *ev = s->ev;
	const struct ht_event **out = c->evp;
	uint32_t pos = s->pos, end = s->n, room = CHUNK_EVENTS - c->n;
	size_t n = c->n, n0 = c->n;

	if (o->limit && o->limit - *rows < room)
		room = (uint32_t)(o->limit - *rows);
	if (end - pos > room)
		end = pos + room;
	prefetch_ev(&ev[pos]);
	out[n++] = &ev[pos++];
	if (lim) {
		uint64_t t = lim->ts;
		int le = s->pid < lim->pid ||
			 (s->pid == lim->pid && s->tid <= lim->tid);
		if (le) {
			while (pos < end && ev[pos].ts <= t) {
				prefetch_ev(&ev[pos]);
				out[n++] = &ev[pos++];
			}
		} else {
			while (pos < end && ev[pos].ts < t) {
				prefetch_ev(&ev[pos]);
				out[n++] = &ev[pos++];
			}
		}
	} else {
		while (pos < end) {
			prefetch_ev(&ev[pos]);
			out[n++] = &ev[pos++];
		}
	}
	s->pos = pos;
	c->n = n;
	*rows += n - n0;
	*seen += n - n0;
}

/* run() with filters: every event is tested, only kept ones are rows. */
static void run_filtered(struct pipe *g, const struct convert_opts *o,
			 struct stream *s, struct chunk *c,
			 const struct hent *lim, uint64_t *rows,
			 uint64_t *seen)
{
	int first = 1;

	do {
		const struct ht_event *e = &s->ev[s->pos];
		prefetch_ev(e);
		if (!first && lim &&
		    (e->ts > lim->ts ||
		     (e->ts == lim->ts &&
		      (s->pid > lim->pid ||
		       (s->pid == lim->pid && s->tid > lim->tid)))))
			break;
		first = 0;
		s->pos++;
		(*seen)++;
		if (!convert_keep(o, e, g->start))
			continue;
		c->evp[c->n++] = e;
		(*rows)++;
		if (o->limit && *rows >= o->limit)
			break;
	} while (s->pos < s->n && c->n < CHUNK_EVENTS);
}

/*
 * Fills c with the next kept events in merge order.  Returns 0 (more may
 * follow), 1 (the end), or -1 after printing an error.
 */
static int merge_fill(struct pipe *g, const struct convert_opts *o,
		      struct chunk *c, uint64_t seq, uint64_t *rows,
		      uint64_t *seen)
{
	while (c->n < CHUNK_EVENTS) {
		struct hent *top, lim = {0, 0, 0, 0};
		struct stream *s;
		int has_lim;

		if (!g->nheap && o->mode != HT_READ_SALVAGE &&
		    evpipe_stop_said(g->r, o->in))
			return -1;
		if (!g->nheap || (o->limit && *rows >= o->limit))
			return 1;
		top = &g->heap[0];
		s = &g->st[top->s];
		if (!s->loaded) {
			if (load_top(g, o->in))
				return -1;
			continue;
		}
		/* The smallest other key bounds this stream's run. */
		has_lim = g->nheap > 1;
		if (has_lim) {
			lim = g->heap[1];
			if (g->nheap > 2 && hless(&g->heap[2], &lim))
				lim = g->heap[2];
		}
		if (g->filtering)
			run_filtered(g, o, s, c, has_lim ? &lim : NULL, rows,
				     seen);
		else
			run(o, s, c, has_lim ? &lim : NULL, rows, seen);
		if (s->pos < s->n) {
			top->ts = s->ev[s->pos].ts;
			sift_down(g, 0);
			continue;
		}
		/* Block used up; chunk seq may point into it. */
		g->pend[g->pend_tail].blk = s->blk;
		g->pend[g->pend_tail++].seq = seq;
		s->loaded = 0;
		s->blk = g->b[s->blk].next;
		if (s->blk == NONE) {
			g->heap[0] = g->heap[--g->nheap];
		} else {
			top->ts = g->bi[s->blk].ts_min;
		}
		sift_down(g, 0);
	}
	return 0;
}

/* ht_reader_next() as the source: the reference order. */
static int reader_fill(struct ht_reader *r, const struct convert_opts *o,
		       uint64_t start, struct chunk *c, uint64_t *rows,
		       uint64_t *seen)
{
	while (c->n < CHUNK_EVENTS) {
		int k;
		if (o->limit && *rows >= o->limit)
			return 1;
		k = ht_reader_next(r, &c->ev[c->n]);
		if (k < 0)
			return cli_trace_error(r, o->in, k), -1;
		if (!k)
			return 1;
		(*seen)++;
		if (convert_keep(o, &c->ev[c->n], start)) {
			c->evp[c->n] = &c->ev[c->n];
			c->n++;
			(*rows)++;
		}
	}
	return 0;
}

static int jobs_of(const struct convert_opts *o)
{
	long n;

	if (o->jobs > 0)
		return o->jobs;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* Sets up the pipe for o and r: nc chunks (with text buffers if fmt),
 * the merge, and jobs - 1 worker threads.  0, or 1 after printing. */
static int pipe_setup(struct pipe *g, pthread_t *th, int *nth,
		      const struct convert_opts *o, struct ht_reader *r,
		      size_t nc, int fmt, int use_reader)
{
	int jobs = jobs_of(o);

	memset(g, 0, sizeof(*g));
	*nth = 0;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->work, NULL);
	pthread_cond_init(&g->done, NULL);
	g->r = r;
	g->start = ht_reader_start_ns(r);
	g->dur = cli_trace_timed(r);
	g->salvage = o->mode == HT_READ_SALVAGE;
	/* Decoded blocks ahead (up to 64K events, 5.6 MB each): enough to
	 * keep every worker busy, bounded for machines with many cores. */
	g->window = jobs * 2 < 32 ? (unsigned)jobs * 2 : 32;
	g->nc = nc;
	g->c = calloc(g->nc, sizeof(*g->c));
	if (!g->c || (!use_reader && (merge_init(g) ||
				      ht_decoder_new(&g->dec))))
		return cli_error("out of memory");
	for (size_t i = 0; i < g->nc; i++) {
		if (use_reader)
			g->c[i].ev = malloc(CHUNK_EVENTS *
					    sizeof(struct ht_event));
		g->c[i].evp = malloc(CHUNK_EVENTS * sizeof(*g->c[i].evp));
		if (fmt)
			g->c[i].out = malloc((size_t)CHUNK_EVENTS *
					     CSV_ROW_MAX);
		if ((use_reader && !g->c[i].ev) || !g->c[i].evp ||
		    (fmt && !g->c[i].out))
			return cli_error("out of memory");
	}
	csv_fmt_init();
	for (int i = 1; i < jobs && *nth < 64; i++) {
		if (pthread_create(&th[*nth], NULL, worker, g))
			break;
		(*nth)++;
	}
	return 0;
}

/* Warns about damaged blocks the reader has not reported (csv.c prints
 * the reader's problems). */
static void pipe_warn(struct pipe *g, const struct convert_opts *o)
{
	const struct ht_problem *pr;
	size_t np, k;

	if (!g->bad_blocks)
		return;
	np = ht_reader_problems(g->r, &pr);
	for (k = 0; k < np && pr[k].offset != g->bad_offset; k++)
		;
	if (k == np)
		cli_warn("'%s': %llu damaged block%s skipped (first at offset "
			 "%llu)", o->in, (unsigned long long)g->bad_blocks,
			 g->bad_blocks == 1 ? "" : "s",
			 (unsigned long long)g->bad_offset);
}

static void pipe_teardown(struct pipe *g, pthread_t *th, int nth)
{
	pthread_mutex_lock(&g->mu);
	g->quit = 1;
	pthread_cond_broadcast(&g->work);
	pthread_mutex_unlock(&g->mu);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	if (g->c)
		for (size_t i = 0; i < g->nc; i++) {
			free(g->c[i].ev);
			free(g->c[i].evp);
			free(g->c[i].out);
		}
	if (g->b)
		for (size_t i = 0; i < g->nb; i++)
			free(g->b[i].ev);
	for (size_t i = 0; i < g->npool; i++)
		free(g->pool[i].ev);
	free(g->pool);
	free(g->pend);
	free(g->c);
	free(g->b);
	free(g->order);
	free(g->st);
	free(g->heap);
	ht_decoder_free(g->dec);
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->work);
	pthread_cond_destroy(&g->done);
}

static int use_reader_merge(void)
{
	const char *m = getenv("HEAPTAPE_CSV_MERGE");

	return m && !strcmp(m, "reader");
}

int csv_write_events(const struct convert_opts *o, struct ht_reader *r,
		     FILE *f, const char *name, uint64_t *rows_out)
{
	int use_reader = use_reader_merge();
	struct ht_trace_info info;
	struct cli_progress prog;
	struct pipe g;
	pthread_t th[64];
	int nth, rc, end = 0, started = 0;
	uint64_t seq = 0, wseq = 0, rows = 0, seen = 0;

	rc = pipe_setup(&g, th, &nth, o, r,
			jobs_of(o) == 1 ? 1 : jobs_of(o) < 16 ?
			(size_t)jobs_of(o) * 2 + 1 : 33, 1,
			use_reader);
	if (rc)
		goto out;
	g.filtering = o->pid_set || o->ntids || o->ops_set || o->from_set ||
		      o->to_set;
	ht_reader_info(r, &info);
	cli_progress_start(&prog, "convert", info.events);
	if (!o->progress)
		prog.active = 0;
	started = 1;
	if (fwrite(csv_event_header(g.dur), 1,
		   strlen(csv_event_header(g.dur)), f) !=
	    strlen(csv_event_header(g.dur))) {
		rc = cli_error("cannot write '%s': %s", name, strerror(errno));
		goto out;
	}
	if (nth) {
		/* Let the workers start decoding. */
		pthread_mutex_lock(&g.mu);
		pthread_cond_broadcast(&g.work);
		pthread_mutex_unlock(&g.mu);
	}
	while (!end) {
		struct chunk *c;
		int k;
		if (seq - wseq == g.nc) {
			c = finish(&g, wseq);
			release_upto(&g, wseq++);
			if (fwrite(c->out, 1, c->len, f) != c->len) {
				rc = cli_error("cannot write '%s': %s", name,
					       strerror(errno));
				break;
			}
		}
		c = &g.c[seq % g.nc];
		c->n = 0;
		k = use_reader ? reader_fill(r, o, g.start, c, &rows, &seen)
			       : merge_fill(&g, o, c, seq, &rows, &seen);
		cli_progress_update(&prog, seen);
		if (k < 0) {
			rc = 1;
			break;
		}
		end = k;
		if (!c->n)
			continue;
		pthread_mutex_lock(&g.mu);
		c->state = C_FILLED;
		g.next_fill = ++seq;
		pthread_cond_signal(&g.work);
		pthread_mutex_unlock(&g.mu);
	}
	while (wseq < seq) {
		struct chunk *c = finish(&g, wseq++);
		if (!rc && fwrite(c->out, 1, c->len, f) != c->len)
			rc = cli_error("cannot write '%s': %s", name,
				       strerror(errno));
	}
	if (!rc)
		pipe_warn(&g, o);
out:
	if (started)
		cli_progress_end(&prog);
	pipe_teardown(&g, th, nth);
	*rows_out = rows;
	return rc;
}

/*
 * Events in merge order, decoded ahead by worker threads, for consumers
 * on the calling thread (--lifetimes, --interval).  No filter is applied.
 */
struct csv_src {
	struct pipe g;
	struct ht_reader *r;
	pthread_t th[64];
	int nth, use_reader, end;
	uint64_t seq, rows, seen;
	struct convert_opts o; /* o's input, no filter, no limit */
};

int csv_src_open(struct csv_src **sp, const struct convert_opts *o,
		 struct ht_reader *r)
{
	struct csv_src *s = calloc(1, sizeof(*s));

	*sp = s;
	if (!s)
		return cli_error("out of memory");
	s->use_reader = use_reader_merge();
	s->r = r;
	s->o = *o;
	s->o.pid_set = s->o.ops_set = s->o.from_set = s->o.to_set = 0;
	s->o.ntids = 0;
	s->o.limit = 0;
	if (pipe_setup(&s->g, s->th, &s->nth, o, r, 1, 0, s->use_reader))
		return 1;
	if (s->nth) {
		pthread_mutex_lock(&s->g.mu);
		pthread_cond_broadcast(&s->g.work);
		pthread_mutex_unlock(&s->g.mu);
	}
	return 0;
}

int csv_src_next(struct csv_src *s, const struct ht_event *const **ev,
		 size_t *n)
{
	struct chunk *c = &s->g.c[0];
	int k;

	/* The previous batch is done with: its used-up blocks can go. */
	if (s->seq)
		release_upto(&s->g, s->seq - 1);
	*n = 0;
	if (s->end)
		return 0;
	c->n = 0;
	k = s->use_reader ? reader_fill(s->r, &s->o, s->g.start, c,
					&s->rows, &s->seen)
			  : merge_fill(&s->g, &s->o, c, s->seq, &s->rows,
				       &s->seen);
	if (k < 0)
		return -1;
	s->end = k;
	s->seq++;
	*ev = c->evp;
	*n = c->n;
	return c->n ? 1 : 0;
}

void csv_src_close(struct csv_src *s, int ok)
{
	if (!s)
		return;
	if (ok)
		pipe_warn(&s->g, &s->o);
	pipe_teardown(&s->g, s->th, s->nth);
	free(s);
}
