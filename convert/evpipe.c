/*
 * evpipe.c - merged events of a trace with parallel block decoding (see
 * evpipe.h).
 *
 *   workers: decode blocks in order of (ts_min, pid, tid), at most
 *            `window` blocks ahead of what the merge has taken
 *   caller:  merges the streams; takes a decoded block, waits for one a
 *            worker is decoding, or decodes one nobody started itself
 *
 * The merge is a binary heap of streams keyed by (ts, pid, tid) of their
 * next event.  A stream whose next block is not loaded yet is keyed by
 * that block's ts_min, a lower bound of its next event, and loaded only
 * when it reaches the top; so blocks are needed in about the order the
 * workers decode them.  A run is the stretch of the top stream's current
 * block whose events all come before the second stream's key: it goes
 * out without touching the heap.  Since no two streams share (pid, tid),
 * keys never tie and the sequence is the one ht_reader_next() gives.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "evpipe.h"

#define NONE UINT32_MAX
#define POOL 16

enum { B_IDLE, B_BUSY, B_READY, B_TAKEN };

struct dblock {
	struct ht_event *ev;
	int n;              /* events, or HT_E* */
	int state;
	uint32_t next;      /* next block of the same stream */
};

struct stream {
	uint32_t pid, tid;
	uint32_t blk;       /* current block or NONE */
	struct ht_event *ev;/* its events when loaded */
	uint32_t n, pos;
	int loaded;
};

/* A heap entry: a stream and the key of its next event (or the ts_min of
 * its next block while that is not loaded). */
struct hent {
	uint64_t ts;
	uint64_t pt;        /* pid << 32 | tid */
	uint32_t s;
};

struct evpipe {
	struct ht_reader *r;
	int salvage, use_reader, err;
	uint64_t err_off;
	/* blocks, shared with the workers under mu */
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	const struct ht_block_info *bi;
	size_t nb;
	struct dblock *b;
	uint32_t *order;    /* decode order */
	size_t next_pf;
	unsigned ahead, window;
	int quit;
	pthread_t *thr;
	int nthr;
	/* merge, caller only */
	struct stream *st;
	struct hent *heap;  /* streams by the key of their next event */
	size_t nst, nheap;
	struct ht_decoder *dec;
	struct ht_event *prev; /* block to free at the next call */
	uint32_t prev_cap;
	struct ht_event one;   /* ht_reader_next() mode */
	struct ht_problem *prob;
	size_t nprob, capprob;
	/* spare event buffers (under mu): fresh 5 MiB mallocs per block
	 * would page-fault their way through every block */
	struct ht_event *spare[POOL];
	uint32_t spare_cap[POOL];
	int nspare;
	uint32_t *cap;      /* capacity of b[i].ev / st[i].ev, by block */
};

/* A buffer for at least n events, from the pool if one is big enough.
 * Called with mu held. */
static struct ht_event *get_buf(struct evpipe *p, uint32_t n, uint32_t *cap)
{
	for (int k = p->nspare; k-- > 0;) {
		if (p->spare_cap[k] >= n) {
			struct ht_event *e = p->spare[k];
			*cap = p->spare_cap[k];
			p->nspare--;
			p->spare[k] = p->spare[p->nspare];
			p->spare_cap[k] = p->spare_cap[p->nspare];
			return e;
		}
	}
	*cap = n ? n : 1;
	return NULL;
}

/* Gives a used buffer back (mu not held). */
static void put_buf(struct evpipe *p, struct ht_event *e, uint32_t cap)
{
	if (!e)
		return;
	pthread_mutex_lock(&p->mu);
	if (p->nspare < POOL) {
		p->spare[p->nspare] = e;
		p->spare_cap[p->nspare++] = cap;
		e = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	free(e);
}

/* Decodes block i into a buffer of its own; called without mu. */
static void decode_one(struct evpipe *p, struct ht_decoder *d, uint32_t i)
{
	struct dblock *b = &p->b[i];
	uint32_t n = p->bi[i].count, cap;

	pthread_mutex_lock(&p->mu);
	b->ev = get_buf(p, n, &cap);
	pthread_mutex_unlock(&p->mu);
	if (!b->ev)
		b->ev = malloc(cap * sizeof(*b->ev));
	if (!b->ev) {
		b->n = HT_ENOMEM;
		return;
	}
	p->cap[i] = cap;
	b->n = ht_reader_decode_block(p->r, d, i, b->ev, n);
	if (b->n < 0) {
		put_buf(p, b->ev, cap);
		b->ev = NULL;
	}
}

static void *worker(void *arg)
{
	struct evpipe *p = arg;
	struct ht_decoder *d = NULL;

	if (ht_decoder_new(&d))
		return NULL; /* the caller decodes what is left */
	pthread_mutex_lock(&p->mu);
	for (;;) {
		uint32_t i;
		while (p->next_pf < p->nb &&
		       p->b[p->order[p->next_pf]].state != B_IDLE)
			p->next_pf++;
		if (p->quit || p->next_pf == p->nb)
			break;
		if (p->ahead >= p->window) {
			pthread_cond_wait(&p->work, &p->mu);
			continue;
		}
		i = p->order[p->next_pf++];
		p->b[i].state = B_BUSY;
		p->ahead++;
		pthread_mutex_unlock(&p->mu);
		decode_one(p, d, i);
		pthread_mutex_lock(&p->mu);
		p->b[i].state = B_READY;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	ht_decoder_free(d);
	return NULL;
}

/* Takes block i for the merge: decoded by a worker or here. */
static void take(struct evpipe *p, uint32_t i)
{
	struct dblock *b = &p->b[i];

	pthread_mutex_lock(&p->mu);
	while (b->state == B_BUSY)
		pthread_cond_wait(&p->done, &p->mu);
	if (b->state == B_IDLE) {
		b->state = B_TAKEN;
		pthread_mutex_unlock(&p->mu);
		decode_one(p, p->dec, i);
		return;
	}
	b->state = B_TAKEN;
	p->ahead--;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

static inline int less(const struct hent *a, const struct hent *b)
{
	return a->ts != b->ts ? a->ts < b->ts : a->pt < b->pt;
}

static uint64_t key_ts(const struct evpipe *p, const struct stream *s)
{
	return s->loaded ? s->ev[s->pos].ts : p->bi[s->blk].ts_min;
}

static void sift_down(struct evpipe *p, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct hent t;
		if (l < p->nheap && less(&p->heap[l], &p->heap[m]))
			m = l;
		if (l + 1 < p->nheap && less(&p->heap[l + 1], &p->heap[m]))
			m = l + 1;
		if (m == i)
			return;
		t = p->heap[i];
		p->heap[i] = p->heap[m];
		p->heap[m] = t;
		i = m;
	}
}

static int add_problem(struct evpipe *p, uint32_t i, int code)
{
	struct ht_problem *q;

	if (p->nprob == p->capprob) {
		size_t nc = p->capprob ? 2 * p->capprob : 8;
		q = realloc(p->prob, nc * sizeof(*q));
		if (!q)
			return HT_ENOMEM;
		p->prob = q;
		p->capprob = nc;
	}
	q = &p->prob[p->nprob++];
	memset(q, 0, sizeof(*q));
	q->offset = p->bi[i].offset;
	q->code = code;
	q->seq_from = q->seq_to = p->bi[i].seq;
	snprintf(q->what, sizeof(q->what), "%s",
		 code == HT_ECHECKSUM ? "payload hash"
				      : "events block does not decode");
	return 0;
}

/* Makes the stream at the top of the heap loaded, or drops it when it
 * has no block left.  Returns 0 or HT_E*. */
static int load_top(struct evpipe *p)
{
	while (p->nheap) {
		struct stream *s = &p->st[p->heap[0].s];
		struct dblock *b;
		if (s->loaded && s->pos < s->n)
			return 0;
		if (s->loaded) {
			/* Block used up: keep it until the caller is done
			 * with the run, then move to the next one. */
			put_buf(p, p->prev, p->prev_cap);
			p->prev = s->ev;
			p->prev_cap = p->cap[s->blk];
			s->ev = NULL;
			s->loaded = 0;
			s->blk = p->b[s->blk].next;
		} else {
			take(p, s->blk);
			b = &p->b[s->blk];
			if (b->n < 0) {
				if (!p->salvage) {
					p->err_off = p->bi[s->blk].offset;
					return b->n;
				}
				if (add_problem(p, s->blk, b->n))
					return HT_ENOMEM;
				s->blk = b->next;
			} else {
				s->ev = b->ev;
				b->ev = NULL;
				s->n = (uint32_t)b->n;
				s->pos = 0;
				s->loaded = 1;
				if (!s->n) {
					put_buf(p, s->ev, p->cap[s->blk]);
					s->ev = NULL;
					s->loaded = 0;
					s->blk = b->next;
				}
			}
		}
		if (s->blk == NONE && !s->loaded)
			p->heap[0] = p->heap[--p->nheap];
		else
			p->heap[0].ts = key_ts(p, s);
		sift_down(p, 0);
	}
	return 0;
}

int evpipe_next(struct evpipe *p, const struct ht_event **ev, size_t *n)
{
	struct stream *s;
	uint32_t end;
	int rc;

	if (p->err)
		return p->err;
	if (p->use_reader) {
		rc = ht_reader_next(p->r, &p->one);
		if (rc < 0) {
			p->err = rc;
			p->err_off = ht_reader_error_offset(p->r);
			return rc;
		}
		*ev = &p->one;
		*n = rc == 1;
		return rc;
	}
	put_buf(p, p->prev, p->prev_cap);
	p->prev = NULL;
	if ((rc = load_top(p))) {
		p->err = rc;
		return rc;
	}
	if (!p->nheap && !p->salvage &&
	    (rc = evpipe_stop_error(p->r, &p->err_off)))
		return p->err = rc;
	if (!p->nheap) {
		/* the end: its buffers go now, not when it is closed (one
		 * of many traces merged may end long before the others) */
		pthread_mutex_lock(&p->mu);
		for (int i = 0; i < p->nspare; i++)
			free(p->spare[i]);
		p->nspare = 0;
		pthread_mutex_unlock(&p->mu);
		free(p->prev); /* the last block, moved here by load_top() */
		p->prev = NULL;
		ht_decoder_free(p->dec);
		p->dec = NULL;
		return 0;
	}
	s = &p->st[p->heap[0].s];
	end = s->n;
	if (p->nheap > 1) {
		/* Up to the first event not before the runner-up's key. */
		const struct hent *o = &p->heap[1];
		uint64_t spt = p->heap[0].pt;
		uint32_t j = s->pos + 1;
		if (p->nheap > 2 && less(&p->heap[2], o))
			o = &p->heap[2];
		while (j < end) {
			uint64_t ts = s->ev[j].ts;
			if (ts > o->ts || (ts == o->ts && spt > o->pt))
				break;
			j++;
		}
		end = j;
	}
	*ev = s->ev + s->pos;
	*n = end - s->pos;
	s->pos = end;
	if (s->pos < s->n) {
		p->heap[0].ts = s->ev[s->pos].ts;
		sift_down(p, 0);
	}
	/* else load_top() moves on at the next call, after the caller is
	 * done with this run. */
	return 1;
}

int evpipe_peek(const struct evpipe *p, uint64_t *ts, uint64_t *pt)
{
	const struct stream *s;

	if (p->err || p->use_reader)
		return -1;
	if (!p->nheap)
		return 0;
	s = &p->st[p->heap[0].s];
	if (s->loaded && s->pos >= s->n)
		return -1; /* its key is stale until load_top() */
	*ts = p->heap[0].ts;
	*pt = p->heap[0].pt;
	return 1;
}

int evpipe_by_stream(const void *a, const void *b, void *bi)
{
	const struct ht_block_info *x = bi;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;

	if (x[i].pid != x[j].pid)
		return x[i].pid < x[j].pid ? -1 : 1;
	if (x[i].tid != x[j].tid)
		return x[i].tid < x[j].tid ? -1 : 1;
	return i < j ? -1 : i > j;
}

int evpipe_by_need(const void *a, const void *b, void *bi)
{
	const struct ht_block_info *x = bi;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;

	if (x[i].ts_min != x[j].ts_min)
		return x[i].ts_min < x[j].ts_min ? -1 : 1;
	return evpipe_by_stream(a, b, bi);
}

int evpipe_open(struct evpipe **pp, struct ht_reader *r, int mode, int jobs)
{
	struct evpipe *p = calloc(1, sizeof(*p));
	const char *env = getenv("HEAPTAPE_MERGE");
	uint32_t *byst;
	int rc;

	*pp = NULL;
	if (!p)
		return HT_ENOMEM;
	p->r = r;
	p->salvage = mode == HT_READ_SALVAGE;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	*pp = p;
	if (env && !strcmp(env, "reader")) {
		p->use_reader = 1;
		return 0;
	}
	p->nb = ht_reader_blocks(r, &p->bi);
	if ((rc = ht_decoder_new(&p->dec)))
		goto fail;
	p->b = calloc(p->nb + 1, sizeof(*p->b));
	p->order = calloc(p->nb + 1, sizeof(*p->order));
	byst = calloc(p->nb + 1, sizeof(*byst));
	p->st = calloc(p->nb + 1, sizeof(*p->st));
	p->heap = calloc(p->nb + 1, sizeof(*p->heap));
	p->cap = calloc(p->nb + 1, sizeof(*p->cap));
	if (!p->b || !p->order || !byst || !p->st || !p->heap || !p->cap) {
		free(byst);
		rc = HT_ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < p->nb; i++)
		p->order[i] = byst[i] = i;
	qsort_r(p->order, p->nb, sizeof(*p->order), evpipe_by_need,
		(void *)p->bi);
	qsort_r(byst, p->nb, sizeof(*byst), evpipe_by_stream, (void *)p->bi);
	/* Streams: runs of (pid, tid) in byst, blocks in file order. */
	for (size_t k = 0; k < p->nb; k++) {
		uint32_t i = byst[k];
		p->b[i].next = NONE;
		if (k && p->bi[byst[k - 1]].pid == p->bi[i].pid &&
		    p->bi[byst[k - 1]].tid == p->bi[i].tid) {
			p->b[byst[k - 1]].next = i;
			continue;
		}
		p->st[p->nst].pid = p->bi[i].pid;
		p->st[p->nst].tid = p->bi[i].tid;
		p->st[p->nst].blk = i;
		p->heap[p->nheap].ts = p->bi[i].ts_min;
		p->heap[p->nheap].pt = (uint64_t)p->bi[i].pid << 32 |
				       p->bi[i].tid;
		p->heap[p->nheap++].s = (uint32_t)p->nst;
		p->nst++;
	}
	free(byst);
	for (size_t i = p->nheap; i-- > 0;)
		sift_down(p, i);

	if (jobs < 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = c > 1 ? (int)(c - 1) : 0;
	}
	if (jobs > 64)
		jobs = 64;
	if ((size_t)jobs > p->nb / 2)
		jobs = (int)(p->nb / 2);
	p->window = 2 * (unsigned)jobs + 2;
	if (jobs > 0 && !(p->thr = calloc((size_t)jobs, sizeof(*p->thr)))) {
		rc = HT_ENOMEM;
		goto fail;
	}
	for (int i = 0; i < jobs; i++) {
		if (pthread_create(&p->thr[i], NULL, worker, p))
			break; /* fewer workers: still correct */
		p->nthr++;
	}
	return 0;
fail:
	evpipe_close(p);
	*pp = NULL;
	return rc;
}

uint64_t evpipe_error_offset(const struct evpipe *p)
{
	return p->err_off;
}

size_t evpipe_problems(const struct evpipe *p, const struct ht_problem **out)
{
	*out = p->prob;
	return p->nprob;
}

void evpipe_close(struct evpipe *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthr; i++)
		pthread_join(p->thr[i], NULL);
	for (size_t i = 0; p->b && i < p->nb; i++)
		free(p->b[i].ev);
	for (size_t i = 0; p->st && i < p->nst; i++)
		free(p->st[i].ev);
	free(p->prev);
	for (int i = 0; i < p->nspare; i++)
		free(p->spare[i]);
	free(p->cap);
	free(p->thr);
	free(p->b);
	free(p->order);
	free(p->st);
	free(p->heap);
	free(p->prob);
	ht_decoder_free(p->dec);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p);
}

/* Time order across traces: (ts, pid, tid), as within one; keys are
 * (ts, pid << 32 | tid). */
static int key_less(uint64_t ats, uint64_t apt, uint64_t bts, uint64_t bpt)
{
	return ats != bts ? ats < bts : apt < bpt;
}

/*
 * A source is only loaded (a block decoded) when the lower bound of its
 * next event comes first: traces of processes that ran one after the
 * other (a build's compilers) hold no decoded block before their turn,
 * so memory follows the traces running at once, not all of them.
 */
int evpipe_merge_next(struct evsrc *s, size_t ns, const struct ht_event **ev,
		      size_t *n, size_t *which)
{
	size_t m, m2, lo, hi;
	uint64_t mts = 0, mpt = 0, m2ts = 0, m2pt = 0;

	for (;;) {
		m = m2 = ns;
		for (size_t i = 0; i < ns; i++) {
			uint64_t ts, pt;

			if (s[i].done)
				continue;
			/* no bound, or at its end: load it now, and
			 * evpipe_next() says which (and lets the buffers of
			 * an ended one go) */
			if (!s[i].n &&
			    evpipe_peek(s[i].p, &s[i].lb_ts, &s[i].lb_pt) <= 0)
				s[i].lb_ts = s[i].lb_pt = 0;
			/* its run's first event, or a bound of it */
			ts = s[i].n ? s[i].ev->ts : s[i].lb_ts;
			pt = s[i].n ? (uint64_t)s[i].ev->pid << 32 |
					      s[i].ev->tid : s[i].lb_pt;
			if (m == ns || key_less(ts, pt, mts, mpt)) {
				m2 = m;
				m2ts = mts;
				m2pt = mpt;
				m = i;
				mts = ts;
				mpt = pt;
			} else if (m2 == ns || key_less(ts, pt, m2ts, m2pt)) {
				m2 = i;
				m2ts = ts;
				m2pt = pt;
			}
		}
		if (m == ns)
			return 0;
		if (s[m].n)
			break;
		/* the first is a bound: load that source and look again */
		{
			int e = evpipe_next(s[m].p, &s[m].ev, &s[m].n);

			if (e < 0) {
				*which = m;
				return e;
			}
			if (e == 0) {
				s[m].done = 1;
				s[m].n = 0;
			}
		}
	}
	/* events of m up to the first that m2's key comes before (an
	 * event's key, or a bound: its event comes no earlier) */
	lo = 1;
	hi = s[m].n;
	if (m2 == ns) {
		lo = hi; /* no other source: the whole run */
	} else {
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			const struct ht_event *e = &s[m].ev[mid];

			if (key_less(m2ts, m2pt, e->ts,
				     (uint64_t)e->pid << 32 | e->tid))
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	*ev = s[m].ev;
	*n = lo;
	*which = m;
	s[m].ev += lo;
	s[m].n -= lo;
	return 1;
}

void evpipe_warn_same(const struct evsrc *s, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (cli_warn_same_trace(ht_reader_uuid(s[i].r), s[i].path,
					ht_reader_uuid(s[k].r), s[k].path))
			return;
}

struct evsrc *evpipe_open_all(char *const *paths, size_t ns, int mode,
			      int jobs, uint64_t *start)
{
	struct evsrc *s = calloc(ns ? ns : 1, sizeof(*s));
	int pjobs = jobs / (int)(ns < 256 ? (ns ? ns : 1) : 256);

	if (!s) {
		cli_error("out of memory");
		return NULL;
	}
	*start = UINT64_MAX;
	for (size_t i = 0; i < ns; i++) {
		int err;

		s[i].path = paths[i];
		if (cli_open_trace(&s[i].r, s[i].path, mode)) {
			evpipe_close_all(s, ns);
			return NULL;
		}
		evpipe_warn_same(s, i);
		if (ht_reader_start_ns(s[i].r) < *start)
			*start = ht_reader_start_ns(s[i].r);
		if ((err = evpipe_open(&s[i].p, s[i].r, mode, pjobs))) {
			cli_error("'%s': %s", s[i].path, ht_strerror(err));
			evpipe_close_all(s, ns);
			return NULL;
		}
	}
	return s;
}

void evpipe_close_all(struct evsrc *s, size_t ns)
{
	if (!s)
		return;
	for (size_t i = 0; i < ns; i++) {
		evpipe_close(s[i].p);
		if (s[i].r)
			ht_reader_close(s[i].r);
	}
	free(s);
}

int evpipe_stop_error(const struct ht_reader *r, uint64_t *off)
{
	const struct ht_problem *p;
	size_t n = ht_reader_problems(r, &p);

	for (size_t i = 0; i < n; i++)
		if (p[i].code != HT_ETRUNC) {
			*off = p[i].offset;
			return p[i].code;
		}
	return 0;
}

int evpipe_stop_said(const struct ht_reader *r, const char *path)
{
	uint64_t off;
	int e = evpipe_stop_error(r, &off);

	if (e)
		cli_error("'%s': %s at offset %llu", path, ht_strerror(e),
			  (unsigned long long)off);
	return e != 0;
}

int evpipe_problem_events(const struct ht_reader *r,
			  const struct ht_problem *p, size_t i,
			  uint64_t *events, uint32_t *tid)
{
	const struct ht_block_info *b;
	size_t nb = ht_reader_blocks(r, &b), lo = 0, hi = nb;

	/* A listed block that failed to decode: its header counted it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b[mid].offset < p->offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < nb && b[lo].offset == p->offset) {
		*events = b[lo].count;
		*tid = b[lo].tid;
		return 1;
	}
	if (i == (size_t)-1)
		return -1;
	return ht_reader_problem_events(r, i, events, tid);
}

int evpipe_problem_note(const struct ht_reader *r,
			const struct ht_problem *p, size_t i, char *what,
			size_t n, uint64_t *events)
{
	uint32_t tid;
	int got = evpipe_problem_events(r, p, i, events, &tid);
	size_t l = strlen(what);

	if (got > 0 && l < n)
		snprintf(what + l, n - l, "%s%llu events lost", l ? "; " : "",
			 (unsigned long long)*events);
	return got;
}

const char *evpipe_problem_text(const struct ht_problem *p, char *buf,
				size_t n)
{
	if (p->code == HT_ETRUNC && !p->skipped)
		snprintf(buf, n, "no END block (the writer did not close it)");
	else
		snprintf(buf, n, "%s%s%s%s", ht_strerror(p->code),
			 p->what[0] ? " (" : "", p->what,
			 p->what[0] ? ")" : "");
	return buf;
}

void evpipe_warn_problems(const struct ht_reader *r, int own,
			  const struct ht_problem *p, size_t n,
			  const char *path, const char *after)
{
	for (size_t i = 0; i < n; i++) {
		char t[160];
		int no_end = p[i].code == HT_ETRUNC && !p[i].skipped;
		struct ht_problem q = p[i];
		uint64_t ev;

		/* said as stat and verify say it: "(what; N events lost)" */
		evpipe_problem_note(r, &p[i], own ? i : (size_t)-1, q.what,
				    sizeof(q.what), &ev);
		cli_warn("'%s': offset %llu: %s%s", path,
			 (unsigned long long)q.offset,
			 evpipe_problem_text(&q, t, sizeof(t)),
			 no_end ? "" : after);
	}
}

void evpipe_warn_cut(const struct ht_reader *r, const char *path)
{
	const struct ht_problem *p;
	size_t n = ht_reader_problems(r, &p);

	evpipe_warn_problems(r, 1, p, n, path, "; nothing after it converted");
}

size_t evpipe_warn_skipped(const struct ht_reader *r,
			   const struct evpipe *p, const char *path)
{
	const struct ht_problem *p1, *p2;
	size_t n1 = ht_reader_problems(r, &p1);
	size_t n2 = p ? evpipe_problems(p, &p2) : 0;
	const struct ht_problem *first = n1 ? p1 : p2;

	if (n1 && n2 && p2[0].offset < p1[0].offset)
		first = p2;
	if (n1 + n2)
		cli_warn("'%s': %zu damaged part%s skipped (first at offset "
			 "%llu: %s)", path, n1 + n2, n1 + n2 == 1 ? "" : "s",
			 (unsigned long long)first->offset,
			 ht_strerror(first->code));
	return n1 + n2;
}
