/*
 * cmd_stat.c - `heaptape stat TRACE...`: what a trace holds, as a table
 * or as JSON (--json).  Several traces (a process and its children's)
 * are reported in turn, then as one line each (or a JSON array).
 *
 * One pass over the events in global time order (evpipe.h: blocks are
 * decoded on the other cores while this one counts) feeds the live-block
 * tracker (live.h: peak live bytes, unknown frees, lifetimes) and a few
 * counters: events per op, per thread, a power-of-two size histogram, a
 * power-of-ten lifetime histogram and the most frequent sizes.  Totals
 * that the block headers already know (file bytes, blocks) come from
 * ht_reader_info(); RSS samples, losses, thread names and metadata from
 * the reader's metadata tables.  A Windows .etl file is handed to
 * etl_stat().
 *
 * JSON keys (stable; README and tests/t_stat.sh rely on them): events,
 * ops {name: count}, threads, processes, time_span_ns, peak_live_bytes,
 * peak_live_blocks, peak_time_ns, lost_events, blocks, file_bytes,
 * bytes_per_event, unknown_frees, failed_calls, reused_addresses,
 * live_at_end_bytes, live_at_end_blocks, loss_records,
 * recorded_peak_rss_bytes (null without RSS samples),
 * recorder_rss_bytes (the recorder's own part of it; null if unknown),
 * rss_samples,
 * event_blocks, size_histogram [{min, max, count}],
 * lifetime_histogram {unit, buckets [{min, max, count}], never_freed},
 * top_sizes [{size, count}], per_thread [{pid, tid, name, events,
 * allocs, frees, failed, bytes_allocated}], meta {key: value}, problems
 * [{offset, error, what, skipped_bytes}], complete, file, format_version,
 * and for a trace recorded with `record --latency`: latency_ns {op:
 * {count, mean, p50, p99, p999, max}}.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "convert.h"
#include "evpipe.h"
#include "live.h"
#include "svg.h"
#include "../replay/worker/plan.h" /* the latency histogram */

extern const struct ht_cmd cmd_stat_entry;

#define NSIZEB 65 /* bucket 0: size 0; bucket k: [2^(k-1), 2^k) */
#define NLIFEB 13 /* bucket 0: [0, 10); bucket k: [10^k, 10^(k+1)) */
#define NTOP 10

struct thr {
	uint32_t pid, tid;
	uint64_t events, allocs, frees, failed, bytes;
	const char *name;
};

struct sizecount {
	uint64_t size, count; /* count 0: empty slot */
};

#define NSMALL 32768

struct acc {
	uint64_t *small;        /* counts of sizes < NSMALL */
	uint64_t ops[256];
	uint64_t events, failed, ts_min, ts_max;
	uint64_t size_hist[NSIZEB];
	uint64_t life_hist[NLIFEB], never_freed;
	struct sizecount *sizes;
	uint64_t scap, sn;
	struct thr *thr;      /* open addressing on (pid, tid) */
	struct thr *last;
	uint64_t tcap, tn;
	struct live *live;
	/* call durations per op (record --latency), in ns; lat_on: the
	 * trace was recorded timing every call, so 0 ns is a value */
	struct rp_kind_stats *lat[256];
	int lat_on;
	int oom;
};

static inline uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static int size_bucket(uint64_t s)
{
	return s ? 64 - __builtin_clzll(s) : 0;
}

static int life_bucket(uint64_t ns)
{
	static const uint64_t p10[NLIFEB - 1] = {
		10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
		10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
		100000000000ull, 1000000000000ull};
	int b = 0;

	while (b < NLIFEB - 1 && ns >= p10[b])
		b++;
	return b;
}

static int sizes_grow(struct acc *a)
{
	uint64_t ncap = a->scap ? a->scap * 2 : 1024;
	struct sizecount *ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return -1;
	for (uint64_t i = 0; i < a->scap; i++) {
		uint64_t j;
		if (!a->sizes[i].count)
			continue;
		j = hash64(a->sizes[i].size) & (ncap - 1);
		while (ns[j].count)
			j = (j + 1) & (ncap - 1);
		ns[j] = a->sizes[i];
	}
	free(a->sizes);
	a->sizes = ns;
	a->scap = ncap;
	return 0;
}

static void count_size(struct acc *a, uint64_t size)
{
	uint64_t i;

	a->size_hist[size_bucket(size)]++;
	/* Most sizes are small: count those in a flat array (fits in L2),
	 * only the rest in the hash table. */
	if (size < NSMALL) {
		a->small[size]++;
		return;
	}
	if ((a->sn + 1) * 2 > a->scap && sizes_grow(a)) {
		a->oom = 1;
		return;
	}
	i = hash64(size) & (a->scap - 1);
	while (a->sizes[i].count && a->sizes[i].size != size)
		i = (i + 1) & (a->scap - 1);
	if (!a->sizes[i].count) {
		a->sizes[i].size = size;
		a->sn++;
	}
	a->sizes[i].count++;
}

static int thr_grow(struct acc *a)
{
	uint64_t ncap = a->tcap ? a->tcap * 2 : 64;
	struct thr *nt = calloc(ncap, sizeof(*nt));

	if (!nt)
		return -1;
	for (uint64_t i = 0; i < a->tcap; i++) {
		uint64_t j;
		if (!a->thr[i].events)
			continue;
		j = hash64((uint64_t)a->thr[i].pid << 32 | a->thr[i].tid) &
		    (ncap - 1);
		while (nt[j].events)
			j = (j + 1) & (ncap - 1);
		nt[j] = a->thr[i];
	}
	free(a->thr);
	a->thr = nt;
	a->tcap = ncap;
	return 0;
}

/* The thread's counters; a slot is in use once events > 0. */
static struct thr *thread_of(struct acc *a, uint32_t pid, uint32_t tid)
{
	uint64_t i;

	if ((a->tn + 1) * 2 > a->tcap && thr_grow(a))
		return NULL;
	i = hash64((uint64_t)pid << 32 | tid) & (a->tcap - 1);
	while (a->thr[i].events &&
	       (a->thr[i].pid != pid || a->thr[i].tid != tid))
		i = (i + 1) & (a->tcap - 1);
	if (!a->thr[i].events) {
		a->thr[i].pid = pid;
		a->thr[i].tid = tid;
		a->tn++;
	}
	return &a->thr[i];
}

static void end_life(struct acc *a, const struct live_block *b, uint64_t ts)
{
	a->life_hist[life_bucket(ts >= b->ts ? ts - b->ts : 0)]++;
}

static void on_destroy(void *ctx, const struct live_block *b,
		       const struct ht_event *by)
{
	end_life(ctx, b, by->ts);
}

static void on_still_live(void *ctx, const struct live_block *b)
{
	(void)b;
	((struct acc *)ctx)->never_freed++;
}

static void lat_add(struct acc *a, const struct ht_event *ev)
{
	struct rp_kind_stats *k = a->lat[ev->op];

	if (!k && !(k = a->lat[ev->op] = calloc(1, sizeof(*k)))) {
		a->oom = 1;
		return;
	}
	k->count++;
	rp_kind_add(k, ev->dur);
}

static void account(struct acc *a, const struct ht_event *ev)
{
	struct live_result res;
	struct thr *t;

	if (ev->dur || a->lat_on)
		lat_add(a, ev);
	a->events++;
	a->ops[ev->op]++;
	if (ev->ts < a->ts_min)
		a->ts_min = ev->ts;
	if (ev->ts > a->ts_max)
		a->ts_max = ev->ts;
	/* Events come in runs of one thread: cache the last one.  The
	 * table only grows inside thread_of(), which returns the new slot. */
	t = a->last;
	if (!t || t->pid != ev->pid || t->tid != ev->tid) {
		t = thread_of(a, ev->pid, ev->tid);
		if (!t) {
			a->oom = 1;
			return;
		}
		a->last = t;
	}
	t->events++;
	if (ev->flags & HT_EV_FAILED) {
		a->failed++;
		t->failed++;
	}
	if (live_apply(a->live, ev, &res)) {
		a->oom = 1;
		return;
	}
	if (res.added) {
		t->allocs++;
		t->bytes += res.block.size;
		count_size(a, res.block.size);
	}
	if (ev->op == HT_OP_HEAP_DESTROY) {
		t->frees += res.nfreed;
		return; /* on_destroy saw every block */
	}
	for (uint64_t i = 0; i < res.nfreed && i < LIVE_MAX_FREED; i++) {
		const struct live_block *b = &res.freed[i];
		/* A block dropped by a reuse was never freed: no lifetime. */
		if (res.reused && b->addr == ev->addr && b->heap == ev->heap &&
		    b->pid == ev->pid)
			continue;
		t->frees++;
		end_life(a, b, ev->ts);
	}
}

static int cmp_thr(const void *x, const void *y)
{
	const struct thr *a = x, *b = y;

	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	return a->tid < b->tid ? -1 : a->tid > b->tid;
}

static int cmp_top(const void *x, const void *y)
{
	const struct sizecount *a = x, *b = y;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return a->size < b->size ? -1 : a->size > b->size;
}

/* Everything the reports need, collected after the pass. */
struct report {
	const char *path;
	struct ht_trace_info info;
	struct live_stats ls;
	struct thr *threads;   /* sorted by (pid, tid) */
	size_t nthreads, nprocs;
	struct sizecount top[NTOP];
	size_t ntop;
	uint64_t lost, paused, rss_peak, start;
	uint64_t skipped;      /* events in damaged parts (headers say) */
	size_t skip_unknown;   /* damaged parts of unknown event count */
	size_t loss_unknown;   /* loss records of unknown event count */
	int no_end;            /* the writer did not close the trace */
	size_t nrss, nloss;
	int has_rss, complete, no_time;
	const struct ht_kv *meta;
	size_t nmeta;
	struct ht_problem *prob; /* the reader's and evpipe's, by offset */
	size_t nprob;
};

static int cmp_prob(const void *x, const void *y)
{
	const struct ht_problem *a = x, *b = y;

	return a->offset < b->offset ? -1 : a->offset > b->offset;
}

static void collect(struct acc *a, struct ht_reader *r,
		    const struct evpipe *pipe, struct report *rp)
{
	const struct ht_problem *p1, *p2;
	size_t n1, n2;
	const struct ht_thread *names;
	const struct ht_rss_sample *rss;
	const struct ht_loss *loss;
	size_t nnames, nloss, k = 0;

	ht_reader_info(r, &rp->info);
	live_stats(a->live, &rp->ls);
	live_foreach(a->live, on_still_live, a);
	rp->threads = calloc(a->tn ? a->tn : 1, sizeof(*rp->threads));
	if (!rp->threads) {
		a->oom = 1;
		return;
	}
	for (uint64_t i = 0; i < a->tcap; i++)
		if (a->thr[i].events)
			rp->threads[k++] = a->thr[i];
	rp->nthreads = k;
	qsort(rp->threads, k, sizeof(*rp->threads), cmp_thr);
	for (size_t i = 0; i < k; i++)
		if (!i || rp->threads[i].pid != rp->threads[i - 1].pid)
			rp->nprocs++;
	/* A process that made no event still was one. */
	if (!rp->nprocs && ht_reader_meta(r, "process.pid"))
		rp->nprocs = 1;
	/* Names: the last name a thread was given wins. */
	nnames = ht_reader_threads(r, &names);
	for (size_t i = 0; i < nnames; i++) {
		struct thr key = {.pid = names[i].pid, .tid = names[i].tid};
		struct thr *t = bsearch(&key, rp->threads, k,
					sizeof(*rp->threads), cmp_thr);
		if (t && names[i].name && names[i].name[0])
			t->name = names[i].name;
	}
	/* Top sizes: the small ones join the table (it has room: it only
	 * ever held large sizes), then sort its used slots in place. */
	for (uint64_t sz = 0; sz < NSMALL && !a->oom; sz++) {
		uint64_t i;
		if (!a->small[sz])
			continue;
		if ((a->sn + 1) * 2 > a->scap && sizes_grow(a)) {
			a->oom = 1;
			break;
		}
		i = hash64(sz) & (a->scap - 1);
		while (a->sizes[i].count)
			i = (i + 1) & (a->scap - 1);
		a->sizes[i].size = sz;
		a->sizes[i].count = a->small[sz];
		a->sn++;
	}
	k = 0;
	for (uint64_t i = 0; i < a->scap; i++)
		if (a->sizes[i].count)
			a->sizes[k++] = a->sizes[i];
	if (k)
		qsort(a->sizes, k, sizeof(*a->sizes), cmp_top);
	rp->ntop = k < NTOP ? k : NTOP;
	if (rp->ntop)
		memcpy(rp->top, a->sizes, rp->ntop * sizeof(*rp->top));
	nloss = ht_reader_losses(r, &loss);
	rp->nloss = nloss;
	/* events not recorded while paused are no loss: said apart */
	for (size_t i = 0; i < nloss; i++) {
		*(loss[i].reason == HT_LOSS_PAUSED ? &rp->paused : &rp->lost) +=
			loss[i].events;
		if (loss[i].reason != HT_LOSS_PAUSED && !loss[i].events)
			rp->loss_unknown++;
	}
	rp->nrss = ht_reader_rss(r, &rss);
	for (size_t i = 0; i < rp->nrss; i++) {
		rp->has_rss = 1;
		if (rss[i].rss_bytes > rp->rss_peak)
			rp->rss_peak = rss[i].rss_bytes;
	}
	rp->complete = ht_reader_complete(r);
	rp->no_time = !!(ht_reader_flags(r) & HT_TRACE_NO_TIME);
	rp->start = ht_reader_start_ns(r);
	rp->nmeta = ht_reader_meta_all(r, &rp->meta);
	n1 = ht_reader_problems(r, &p1);
	n2 = evpipe_problems(pipe, &p2);
	if (!(n1 + n2))
		return;
	rp->prob = calloc(n1 + n2, sizeof(*rp->prob));
	if (!rp->prob) {
		a->oom = 1;
		return;
	}
	if (n1)
		memcpy(rp->prob, p1, n1 * sizeof(*p1));
	if (n2)
		memcpy(rp->prob + n1, p2, n2 * sizeof(*p2));
	rp->nprob = n1 + n2;
	/* the events each part lost, counted and said with it */
	for (size_t i = 0; i < n1 + n2; i++) {
		struct ht_problem *p = &rp->prob[i];
		uint64_t ev = 0;
		int no_end = p->code == HT_ETRUNC && !p->skipped;
		int got = no_end ? 0 :
			  evpipe_problem_note(r, p, i < n1 ? i : (size_t)-1,
					      p->what, sizeof(p->what), &ev);

		if (no_end) {
			rp->no_end = 1;
		} else if (got > 0) {
			rp->skipped += ev;
		} else if (got < 0) {
			rp->skip_unknown++;
		}
	}
	qsort(rp->prob, rp->nprob, sizeof(*rp->prob), cmp_prob);
}

static uint64_t span(const struct acc *a)
{
	return a->events ? a->ts_max - a->ts_min : 0;
}

/* 1 if meta[i] is overridden by a later pair with the same key. */
static int meta_shadowed(const struct report *rp, size_t i)
{
	for (size_t j = i + 1; j < rp->nmeta; j++)
		if (!strcmp(rp->meta[j].key, rp->meta[i].key))
			return 1;
	return 0;
}

static void size_range(int b, uint64_t *lo, uint64_t *hi)
{
	if (!b) {
		*lo = *hi = 0;
		return;
	}
	*lo = (uint64_t)1 << (b - 1);
	*hi = b == 64 ? UINT64_MAX : ((uint64_t)1 << b) - 1;
}

static void life_range(int b, uint64_t *lo, uint64_t *hi)
{
	uint64_t p = 1;

	for (int i = 0; i < b; i++)
		p *= 10;
	*lo = b ? p : 0;
	*hi = b == NLIFEB - 1 ? UINT64_MAX : p * 10 - 1;
}

static void json_u64_or_null(FILE *f, int have, uint64_t v)
{
	if (have)
		fprintf(f, "%" PRIu64, v);
	else
		fputs("null", f);
}

/* op's name, or for an op this version does not know its number: "200"
 * in JSON, "op 200" for people. */
static const char *op_label(int op, char buf[16], int json)
{
	const char *name = ht_op_name(op);

	if (name)
		return name;
	snprintf(buf, 16, json ? "%d" : "op %d", op);
	return buf;
}

static const char *meta_get(const struct report *rp, const char *key);

static void print_json(FILE *f, const struct acc *a, const struct report *rp)
{
	const struct live_stats *ls = &rp->ls;
	int first, lo, hi;

	fputs("{\n  \"file\": ", f);
	svg_json_str(f, rp->path);
	fprintf(f, ",\n  \"format_version\": \"%u.%u\",\n",
		rp->info.format_major, rp->info.format_minor);
	fprintf(f, "  \"complete\": %s,\n", rp->complete ? "true" : "false");
	fprintf(f, "  \"events\": %" PRIu64 ",\n  \"ops\": {", a->events);
	first = 1;
	for (int op = 0; op < 256; op++) {
		char num[16];

		if (!a->ops[op])
			continue;
		fputs(first ? "" : ", ", f);
		svg_json_str(f, op_label(op, num, 1));
		fprintf(f, ": %" PRIu64, a->ops[op]);
		first = 0;
	}
	fprintf(f, "},\n  \"threads\": %zu,\n  \"processes\": %zu,\n",
		rp->nthreads, rp->nprocs);
	fprintf(f, "  \"time_span_ns\": %" PRIu64 ",\n", span(a));
	fprintf(f, "  \"peak_live_bytes\": %" PRIu64 ",\n", ls->peak_bytes);
	fprintf(f, "  \"peak_live_blocks\": %" PRIu64 ",\n", ls->peak_blocks);
	fprintf(f, "  \"blocks_at_peak\": %" PRIu64 ",\n",
		ls->peak_at_blocks);
	fprintf(f, "  \"peak_time_ns\": ");
	json_u64_or_null(f, ls->peak_bytes > 0,
			 ls->peak_ts >= rp->start ? ls->peak_ts - rp->start
						  : 0);
	fprintf(f, ",\n  \"lost_events\": %" PRIu64 ",\n", rp->lost);
	fprintf(f, "  \"paused_events\": %" PRIu64 ",\n", rp->paused);
	fprintf(f, "  \"loss_records\": %zu,\n", rp->nloss);
	fprintf(f, "  \"loss_records_unknown\": %zu,\n", rp->loss_unknown);
	fprintf(f, "  \"skipped_events\": %" PRIu64 ",\n", rp->skipped);
	fprintf(f, "  \"skipped_parts_unknown\": %zu,\n", rp->skip_unknown);
	fprintf(f, "  \"blocks\": %" PRIu64 ",\n", rp->info.blocks);
	fprintf(f, "  \"event_blocks\": %" PRIu64 ",\n",
		rp->info.event_blocks);
	fprintf(f, "  \"file_bytes\": %" PRIu64 ",\n", rp->info.file_bytes);
	fprintf(f, "  \"bytes_per_event\": %.4f,\n",
		a->events ? (double)rp->info.file_bytes / (double)a->events
			  : 0.0);
	fprintf(f, "  \"unknown_frees\": %" PRIu64 ",\n", ls->unknown_frees);
	fprintf(f, "  \"failed_calls\": %" PRIu64 ",\n", a->failed);
	fprintf(f, "  \"reused_addresses\": %" PRIu64 ",\n", ls->reused);
	fprintf(f, "  \"live_at_end_bytes\": %" PRIu64 ",\n", ls->bytes);
	fprintf(f, "  \"live_at_end_blocks\": %" PRIu64 ",\n", ls->blocks);
	fprintf(f, "  \"recorded_peak_rss_bytes\": ");
	json_u64_or_null(f, rp->has_rss, rp->rss_peak);
	fprintf(f, ",\n  \"recorder_rss_bytes\": ");
	{
		const char *own = meta_get(rp, "recorder.rss_bytes");

		json_u64_or_null(f, own != NULL,
				 own ? strtoull(own, NULL, 10) : 0);
	}
	fprintf(f, ",\n  \"rss_samples\": %zu,\n", rp->nrss);

	fputs("  \"size_histogram\": [", f);
	for (lo = 0; lo < NSIZEB && !a->size_hist[lo]; lo++)
		;
	for (hi = NSIZEB - 1; hi >= 0 && !a->size_hist[hi]; hi--)
		;
	for (int b = lo; b <= hi; b++) {
		uint64_t mn, mx;
		size_range(b, &mn, &mx);
		fprintf(f, "%s\n    {\"min\": %" PRIu64 ", \"max\": %" PRIu64
			", \"count\": %" PRIu64 "}", b == lo ? "" : ",", mn, mx,
			a->size_hist[b]);
	}
	fputs(hi >= lo ? "\n  ],\n" : "],\n", f);

	fprintf(f, "  \"lifetime_histogram\": {\"unit\": \"%s\", "
		   "\"buckets\": [", rp->no_time ? "events" : "ns");
	for (lo = 0; lo < NLIFEB && !a->life_hist[lo]; lo++)
		;
	for (hi = NLIFEB - 1; hi >= 0 && !a->life_hist[hi]; hi--)
		;
	for (int b = lo; b <= hi; b++) {
		uint64_t mn, mx;
		life_range(b, &mn, &mx);
		fprintf(f, "%s\n    {\"min\": %" PRIu64 ", \"max\": %" PRIu64
			", \"count\": %" PRIu64 "}", b == lo ? "" : ",", mn, mx,
			a->life_hist[b]);
	}
	fprintf(f, "%s], \"never_freed\": %" PRIu64 "},\n",
		hi >= lo ? "\n  " : "", a->never_freed);

	fputs("  \"top_sizes\": [", f);
	for (size_t i = 0; i < rp->ntop; i++)
		fprintf(f, "%s{\"size\": %" PRIu64 ", \"count\": %" PRIu64 "}",
			i ? ", " : "", rp->top[i].size, rp->top[i].count);
	fputs("],\n  \"per_thread\": [", f);
	for (size_t i = 0; i < rp->nthreads; i++) {
		const struct thr *t = &rp->threads[i];
		fprintf(f, "%s\n    {\"pid\": %u, \"tid\": %u, \"name\": ",
			i ? "," : "", t->pid, t->tid);
		if (t->name)
			svg_json_str(f, t->name);
		else
			fputs("null", f);
		fprintf(f, ", \"events\": %" PRIu64 ", \"allocs\": %" PRIu64
			", \"frees\": %" PRIu64 ", \"failed\": %" PRIu64
			", \"bytes_allocated\": %" PRIu64 "}",
			t->events, t->allocs, t->frees, t->failed, t->bytes);
	}
	fputs(rp->nthreads ? "\n  ],\n" : "],\n", f);

	first = 1;
	for (int op = 0; op < 256; op++) {
		const struct rp_kind_stats *k = a->lat[op];
		char num[16];

		if (!k)
			continue;
		fputs(first ? "  \"latency_ns\": {\n    " : ",\n    ", f);
		svg_json_str(f, op_label(op, num, 1));
		fprintf(f, ": {\"count\": %" PRIu64 ", \"mean\": %.1f, "
			   "\"p50\": %.0f, \"p99\": %.0f, \"p999\": %.0f, "
			   "\"max\": %" PRIu64 "}", k->count,
			(double)k->sum / (double)k->count,
			rp_hist_quantile(k, 0.50), rp_hist_quantile(k, 0.99),
			rp_hist_quantile(k, 0.999), k->max);
		first = 0;
	}
	if (!first)
		fputs("\n  },\n", f);

	fputs("  \"meta\": {", f);
	first = 1;
	for (size_t i = 0; i < rp->nmeta; i++) {
		if (meta_shadowed(rp, i))
			continue;
		fputs(first ? "\n    " : ",\n    ", f);
		svg_json_str(f, rp->meta[i].key);
		fputs(": ", f);
		svg_json_str(f, rp->meta[i].value);
		first = 0;
	}
	fputs(first ? "},\n" : "\n  },\n", f);

	fputs("  \"problems\": [", f);
	for (size_t i = 0; i < rp->nprob; i++) {
		const struct ht_problem *p = &rp->prob[i];
		fprintf(f, "%s\n    {\"offset\": %" PRIu64 ", \"error\": ",
			i ? "," : "", p->offset);
		svg_json_str(f, ht_strerror(p->code));
		fputs(", \"what\": ", f);
		svg_json_str(f, p->what);
		fprintf(f, ", \"skipped_bytes\": %" PRIu64 "}", p->skipped);
	}
	fputs(rp->nprob ? "\n  ]\n}\n" : "]\n}\n", f);
}

static const char *human_ns(char *buf, size_t n, uint64_t ns)
{
	if (ns < 1000)
		snprintf(buf, n, "%" PRIu64 " ns", ns);
	else if (ns < 1000000)
		snprintf(buf, n, "%.1f us", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, n, "%.1f ms", (double)ns / 1e6);
	else
		snprintf(buf, n, "%.3f s", (double)ns / 1e9);
	return buf;
}

static const char *const life_labels[NLIFEB] = {
	"< 10 ns",      "10-100 ns",  "0.1-1 us",   "1-10 us",  "10-100 us",
	"0.1-1 ms",     "1-10 ms",    "10-100 ms",  "0.1-1 s",  "1-10 s",
	"10-100 s",     "100-1000 s", ">= 1000 s",
};

static void bar(FILE *f, uint64_t v, uint64_t max)
{
	int w = max ? (int)((double)v * 30.0 / (double)max + 0.5) : 0;

	if (v && !w)
		w = 1;
	fprintf(f, " %.*s", w, "##############################");
}

static const char *meta_get(const struct report *rp, const char *key)
{
	const char *v = NULL;

	for (size_t i = 0; i < rp->nmeta; i++)
		if (!strcmp(rp->meta[i].key, key))
			v = rp->meta[i].value; /* the last one holds */
	return v;
}

/* How long the calls took, per op (a trace of `record --latency`). */
static void print_latency(FILE *f, const struct acc *a,
			  const struct report *rp)
{
	const char *clk = meta_get(rp, "recorder.clock_read_ns");
	int first = 1;

	for (int op = 0; op < 256; op++) {
		const struct rp_kind_stats *k = a->lat[op];
		char num[16];

		if (!k)
			continue;
		if (first)
			fprintf(f, "\n%-22s %12s %8s %8s %8s %8s %10s\n",
				"call latency (ns)", "calls", "mean", "p50",
				"p99", "p99.9", "max");
		first = 0;
		fprintf(f, "  %-20s %12" PRIu64 " %8.0f %8.0f %8.0f %8.0f "
			   "%10" PRIu64 "\n", op_label(op, num, 0), k->count,
			(double)k->sum / (double)k->count,
			rp_hist_quantile(k, 0.50), rp_hist_quantile(k, 0.99),
			rp_hist_quantile(k, 0.999), k->max);
	}
	if (!first && clk && strcmp(clk, "0"))
		fprintf(f, "  (each includes one clock read, %s ns at least)\n",
			clk);
}

static void print_human(FILE *f, const struct acc *a, const struct report *rp)
{
	const struct live_stats *ls = &rp->ls;
	static const char *const hl[][2] = {
		{"process.exe", "exe"},        {"process.cmdline", "cmdline"},
		{"process.pid", "pid"},        {"process.end_signal", "died of"},
		{"source", "source"},
		{"source.format", "source"},   {"source.file", "source file"},
		{"host.name", "host"},         {"clock.source", "clock"},
		{"allocator.name", "allocator"},
		{"recorder.warning", "warning"},
		{"trace.source_damage", "source damage"},
	};
	char b1[32], b2[32];
	const char *cpu_ns;
	uint64_t max;
	int lo, hi;

	fprintf(f, "trace          %s\n", rp->path);
	fprintf(f, "format         %u.%u, %s\n", rp->info.format_major,
		rp->info.format_minor,
		rp->complete ? "complete" : "no END block (the writer did "
					    "not close it)");
	for (size_t k = 0; k < sizeof(hl) / sizeof(hl[0]); k++) {
		const char *v = meta_get(rp, hl[k][0]);

		if (v) {
			fprintf(f, "%-14s ", hl[k][1]);
			cli_put_clean(f, v, 200);
			fputc('\n', f);
		}
	}
	fprintf(f, "file           %" PRIu64 " bytes (%s), %" PRIu64
		" blocks, %" PRIu64 " with events\n", rp->info.file_bytes,
		cli_bytes(b1, sizeof(b1), rp->info.file_bytes),
		rp->info.blocks, rp->info.event_blocks);
	fprintf(f, "events         %" PRIu64 " (%.3f bytes/event)\n",
		a->events, a->events ? (double)rp->info.file_bytes /
				       (double)a->events : 0.0);
	fprintf(f, "time span      %s%s\n",
		rp->no_time ? "" : human_ns(b1, sizeof(b1), span(a)),
		rp->no_time ? "(no timestamps)" : "");
	fprintf(f, "processes      %zu\nthreads        %zu\n", rp->nprocs,
		rp->nthreads);
	fprintf(f, "peak live      %" PRIu64 " bytes (%s) in %" PRIu64
		" blocks", ls->peak_bytes,
		cli_bytes(b1, sizeof(b1), ls->peak_bytes), ls->peak_at_blocks);
	if (ls->peak_bytes && !rp->no_time)
		fprintf(f, ", at %s",
			human_ns(b2, sizeof(b2), ls->peak_ts >= rp->start ?
				 ls->peak_ts - rp->start : 0));
	if (ls->peak_blocks != ls->peak_at_blocks)
		fprintf(f, "\nmax live blocks %" PRIu64, ls->peak_blocks);
	fprintf(f, "\nlive at end    %" PRIu64 " bytes in %" PRIu64
		" blocks\n", ls->bytes, ls->blocks);
	fprintf(f, "unknown frees  %" PRIu64 "\n", ls->unknown_frees);
	if (ls->reused)
		fprintf(f, "reused addr    %" PRIu64 " (allocated again "
			   "without a free)\n", ls->reused);
	fprintf(f, "failed calls   %" PRIu64 "\n", a->failed);
	fprintf(f, "lost events    %" PRIu64, rp->lost);
	if (rp->nloss)
		fprintf(f, " (%zu loss record%s%s", rp->nloss,
			rp->nloss == 1 ? "" : "s", !rp->loss_unknown ? "" :
			rp->loss_unknown == rp->nloss ? ", of unknown size" :
			", some of unknown size");
	if (rp->no_end)
		fprintf(f, "%smaybe more after the last block: the writer "
			   "did not close the trace", rp->nloss ? "; " : " (");
	fputs(rp->nloss || rp->no_end ? ")\n" : "\n", f);
	if (rp->skipped || rp->skip_unknown) {
		fprintf(f, "skipped events %" PRIu64 " (in blocks damaged or "
			   "cut off",
			rp->skipped);
		if (rp->skip_unknown)
			fprintf(f, "; and %zu part%s of unknown size",
				rp->skip_unknown,
				rp->skip_unknown == 1 ? "" : "s");
		fputs(")\n", f);
	}
	if (rp->paused)
		fprintf(f, "paused events  %" PRIu64 " (calls while recording "
			   "was paused: not recorded, by choice)\n",
			rp->paused);
	if (rp->has_rss) {
		const char *own = meta_get(rp, "recorder.rss_bytes");

		fprintf(f, "recorded RSS   peak %" PRIu64 " bytes (%s", rp->rss_peak,
			cli_bytes(b1, sizeof(b1), rp->rss_peak));
		/* the recorder's pool, zstd and code are in the process */
		if (own)
			fprintf(f, "; %s of it the recorder's",
				cli_bytes(b1, sizeof(b1),
					  strtoull(own, NULL, 10)));
		fprintf(f, "), %zu samples\n", rp->nrss);
	}
	if ((cpu_ns = meta_get(rp, "recorder.cpu_ns")) != NULL) {
		double cpu = strtod(cpu_ns, NULL);

		fprintf(f, "recorder CPU   %.3f s encoding and writing",
			cpu * 1e-9);
		if (a->events)
			fprintf(f, " (%.1f ns/event)", cpu / (double)a->events);
		fputc('\n', f);
	}
	if (rp->nprob)
		fprintf(f, "problems       %zu%s\n", rp->nprob,
			rp->nprob == (size_t)rp->no_end ? "" :
			" (damaged parts skipped)");

	fputs("\nevents per op\n", f);
	for (int op = 0; op < 256; op++) {
		char num[16];

		if (a->ops[op])
			fprintf(f, "  %-20s %12" PRIu64 "  %5.1f%%\n",
				op_label(op, num, 0), a->ops[op],
				100.0 * (double)a->ops[op] /
					(double)a->events);
	}
	print_latency(f, a, rp);

	for (lo = 0; lo < NSIZEB && !a->size_hist[lo]; lo++)
		;
	for (hi = NSIZEB - 1; hi >= 0 && !a->size_hist[hi]; hi--)
		;
	max = 0;
	for (int b = lo; b <= hi; b++)
		if (a->size_hist[b] > max)
			max = a->size_hist[b];
	if (hi >= lo)
		fputs("\nallocation sizes (requested bytes)\n", f);
	for (int b = lo; b <= hi; b++) {
		uint64_t mn, mx;
		char r[48];
		size_range(b, &mn, &mx);
		if (mn == mx)
			snprintf(r, sizeof(r), "%" PRIu64, mn);
		else
			snprintf(r, sizeof(r), "%" PRIu64 "-%" PRIu64, mn, mx);
		fprintf(f, "  %-22s %12" PRIu64, r, a->size_hist[b]);
		bar(f, a->size_hist[b], max);
		fputc('\n', f);
	}

	for (lo = 0; lo < NLIFEB && !a->life_hist[lo]; lo++)
		;
	for (hi = NLIFEB - 1; hi >= 0 && !a->life_hist[hi]; hi--)
		;
	max = a->never_freed;
	for (int b = lo; b <= hi; b++)
		if (a->life_hist[b] > max)
			max = a->life_hist[b];
	if (hi >= lo || a->never_freed)
		fprintf(f, "\nlifetimes (allocation to free%s)\n",
			rp->no_time ? ", in events" : "");
	for (int b = lo; b <= hi; b++) {
		fprintf(f, "  %-22s %12" PRIu64,
			rp->no_time ? "" : life_labels[b], a->life_hist[b]);
		if (rp->no_time) {
			uint64_t mn, mx;
			life_range(b, &mn, &mx);
			fprintf(f, " (%" PRIu64 "..)", mn);
		}
		bar(f, a->life_hist[b], max);
		fputc('\n', f);
	}
	if (hi >= lo || a->never_freed) {
		fprintf(f, "  %-22s %12" PRIu64, "never freed", a->never_freed);
		bar(f, a->never_freed, max);
		fputc('\n', f);
	}

	if (rp->ntop) {
		fputs("\ntop sizes (share of allocations)\n", f);
		for (size_t i = 0; i < rp->ntop; i++)
			fprintf(f, "  %-22" PRIu64 " %12" PRIu64 "  %5.1f%%\n",
				rp->top[i].size, rp->top[i].count,
				100.0 * (double)rp->top[i].count /
					(double)(ls->allocs ? ls->allocs : 1));
	}

	if (rp->nthreads) {
		size_t shown = rp->nthreads > 32 ? 32 : rp->nthreads;
		fprintf(f, "\nper thread %8s %8s %12s %12s %12s  %s\n", "pid",
			"tid", "events", "allocs", "frees", "name");
		for (size_t i = 0; i < shown; i++) {
			const struct thr *t = &rp->threads[i];
			fprintf(f, "           %8u %8u %12" PRIu64 " %12" PRIu64
				" %12" PRIu64 "  ", t->pid, t->tid,
				t->events, t->allocs, t->frees);
			cli_put_clean(f, t->name, 64);
			fputc('\n', f);
		}
		if (shown < rp->nthreads)
			fprintf(f, "           ... %zu more threads (see "
				   "--json)\n", rp->nthreads - shown);
	}
	for (size_t i = 0; i < rp->nprob; i++) {
		char t[160];

		fprintf(f, "%sproblem at offset %" PRIu64 ": %s\n",
			i ? "" : "\n", rp->prob[i].offset,
			evpipe_problem_text(&rp->prob[i], t, sizeof(t)));
	}
}

/* One trace's line in the table printed after several traces. */
struct row {
	char path[256], exe[256];
	uint64_t pid, ppid, start, events, peak, rss, lost;
	uint8_t uuid[16];  /* all zero: not an .htape trace */
	int ok, has_rss;
};

static uint64_t meta_u64(const struct report *rp, const char *key)
{
	const char *v = meta_get(rp, key);

	return v ? strtoull(v, NULL, 10) : 0;
}

static void fill_row(struct row *w, const struct acc *a,
		     const struct report *rp)
{
	const char *exe = meta_get(rp, "process.exe");

	snprintf(w->path, sizeof(w->path), "%s", rp->path);
	snprintf(w->exe, sizeof(w->exe), "%s", exe ? exe : "");
	w->pid = meta_u64(rp, "process.pid");
	w->ppid = meta_u64(rp, "process.ppid");
	w->start = meta_u64(rp, "process.start_realtime_ns");
	w->events = a->events;
	w->peak = rp->ls.peak_bytes;
	w->rss = rp->rss_peak;
	w->has_rss = rp->has_rss;
	w->lost = rp->lost;
	w->ok = 1;
}

/* Reports one trace; sep goes before its JSON object.  Fills w (a
 * .htape trace). */
static int stat_one(const char *path, int json, int mode, int jobs,
		    const char *sep, struct row *w)
{
	struct ht_reader *r;
	struct evpipe *pipe = NULL;
	const struct ht_event *ev;
	struct acc a;
	struct report rp;
	struct cli_progress prog;
	size_t n;
	int err, rc = 0;

	if (cli_file_kind(path) == CLI_KIND_ETL) {
		fputs(json ? sep : "", stdout);
		return etl_stat(path, json, mode == HT_READ_SALVAGE);
	}
	if (cli_open_trace(&r, path, mode))
		return 1;
	memcpy(w->uuid, ht_reader_uuid(r), 16);

	memset(&a, 0, sizeof(a));
	memset(&rp, 0, sizeof(rp));
	a.ts_min = UINT64_MAX;
	a.live = live_new();
	a.small = calloc(NSMALL, sizeof(*a.small));
	if (!a.live || !a.small) {
		free(a.small);
		live_free(a.live);
		ht_reader_close(r);
		return cli_error("out of memory");
	}
	live_on_release(a.live, on_destroy, &a);
	ht_reader_info(r, &rp.info);
	a.lat_on = cli_trace_timed(r);
	if ((err = evpipe_open(&pipe, r, mode, jobs))) {
		free(a.small);
		live_free(a.live);
		ht_reader_close(r);
		return cli_error("'%s': %s", path, ht_strerror(err));
	}
	cli_progress_start(&prog, "stat", rp.info.events);
	while ((err = evpipe_next(pipe, &ev, &n)) == 1) {
		for (size_t i = 0; i < n && !a.oom; i++) {
			if (i + LIVE_AHEAD < n)
				live_prefetch(a.live, &ev[i + LIVE_AHEAD]);
			account(&a, &ev[i]);
		}
		if (a.oom)
			break;
		if ((a.events >> 20) != (prog.done >> 20))
			cli_progress_update(&prog, a.events);
	}
	cli_progress_end(&prog);
	if (a.oom) {
		rc = cli_error("'%s': out of memory", path);
	} else if (err < 0) {
		rc = cli_error("'%s': %s at offset %llu", path,
			       ht_strerror(err),
			       (unsigned long long)evpipe_error_offset(pipe));
	} else {
		rp.path = path;
		collect(&a, r, pipe, &rp);
		if (a.oom)
			rc = cli_error("'%s': out of memory", path);
		else if (json) {
			fputs(sep, stdout);
			print_json(stdout, &a, &rp);
		} else {
			print_human(stdout, &a, &rp);
		}
		if (!rc)
			fill_row(w, &a, &rp);
	}
	evpipe_close(pipe);
	free(rp.prob);
	free(rp.threads);
	free(a.sizes);
	free(a.small);
	free(a.thr);
	for (int op = 0; op < 256; op++)
		free(a.lat[op]);
	live_free(a.live);
	ht_reader_close(r);
	return rc;
}

/* After several traces: one line each, in the order the processes
 * started (a parent before the children it forked), and the totals. */
static int cmp_row(const void *x, const void *y)
{
	const struct row *p = x, *q = y;

	if (p->ok != q->ok)
		return q->ok - p->ok;
	return (p->start > q->start) - (p->start < q->start);
}

static void print_table(FILE *f, struct row *w, size_t n)
{
	uint64_t ev = 0, lost = 0;
	size_t k = 0;
	char b1[32], b2[32];

	qsort(w, n, sizeof(*w), cmp_row);
	fputs("\n     pid     ppid       events    peak live     peak RSS"
	      "     lost  trace, exe\n", f);
	for (; k < n && w[k].ok; k++) {
		fprintf(f, "%8" PRIu64 " %8" PRIu64 " %12" PRIu64 " %12s "
			"%12s %8" PRIu64 "  ", w[k].pid, w[k].ppid,
			w[k].events, cli_bytes(b1, sizeof(b1), w[k].peak),
			w[k].has_rss ? cli_bytes(b2, sizeof(b2), w[k].rss) :
				       "-", w[k].lost);
		cli_put_clean(f, w[k].path, 80);
		fputs(", ", f);
		cli_put_clean(f, w[k].exe, 120);
		fputc('\n', f);
		ev += w[k].events;
		lost += w[k].lost;
	}
	fprintf(f, "%17s %12" PRIu64 " %25s %8" PRIu64 "  %zu traces%s\n",
		"total", ev, "", lost, k, k < n ? " (the others: .etl, or "
		"failed above)" : "");
}

static int cmd_stat(int argc, char **argv)
{
	enum { O_SALVAGE = 256, O_STRICT, O_JOBS };
	static const struct option longopts[] = {
		{"json", no_argument, 0, 'j'},
		{"jobs", required_argument, 0, O_JOBS},
		{"salvage", no_argument, 0, O_SALVAGE},
		{"strict", no_argument, 0, O_STRICT},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	const struct ht_cmd *c = &cmd_stat_entry;
	struct row *rows;
	char *const *names;
	uint64_t v;
	size_t n, printed = 0;
	int ch, json = 0, mode = HT_READ_STOP, rc = 0, jobs = -1;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":hj", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return cli_usage(c, 0, NULL);
		case 'j':
			json = 1;
			break;
		case O_SALVAGE:
			mode = HT_READ_SALVAGE;
			break;
		case O_STRICT:
			mode = HT_READ_STRICT;
			break;
		case O_JOBS:
			if (cli_parse_u64(optarg, &v) || v > 256)
				return cli_usage(c, 2, "--jobs takes 0..256");
			jobs = (int)v;
			break;
		default:
			return cli_bad_option(c, ch, argv);
		}
	}
	if (argc - optind < 1)
		return cli_usage(c, 2, "need a trace");
	n = (size_t)(argc - optind);
	rows = calloc(n, sizeof(*rows));
	if (!rows)
		return cli_error("out of memory");
	names = argv + optind;
	for (size_t i = 0; i < n; i++) {
		const char *sep = n == 1 ? "" : printed ? ",\n" : "[\n";

		if (!json && i)
			putchar('\n');
		if (stat_one(names[i], json, mode, jobs, sep,
			     &rows[i]))
			rc = 1;
		else
			printed++;
		for (size_t k = 0; k < i; k++)
			if (cli_warn_same_trace(rows[i].uuid, names[i],
						rows[k].uuid, names[k]))
				break;
		fflush(stdout);
	}
	if (json && n > 1)
		fputs(printed ? "]\n" : "[]\n", stdout);
	else if (!json && n > 1)
		print_table(stdout, rows, n);
	free(rows);
	return rc;
}

const struct ht_cmd cmd_stat_entry = {
	.name = "stat",
	.usage = "stat [--json] [--salvage|--strict] [--jobs N] TRACE...",
	.summary = "summarize a trace: ops, threads, peak live bytes, "
		   "histograms",
	.help =
	"options:\n"
	"  -j, --json     machine-readable output (keys: events, ops,\n"
	"                 threads, processes, time_span_ns, peak_live_bytes,\n"
	"                 blocks_at_peak (live at that peak),\n"
	"                 peak_live_blocks (the most live at any time),\n"
	"                 lost_events, paused_events, loss_records,\n"
	"                 loss_records_unknown (of unknown size),\n"
	"                 skipped_events (in damaged or cut-off blocks),\n"
	"                 skipped_parts_unknown, blocks, file_bytes, bytes_per_event,\n"
	"                 unknown_frees, recorded_peak_rss_bytes,\n"
	"                 recorder_rss_bytes (the recorder's own part of it),\n"
	"                 size_histogram, lifetime_histogram, top_sizes,\n"
	"                 per_thread, meta, problems, ...)\n"
	"  --salvage      skip damaged blocks and list them as problems\n"
	"  --strict       fail on a trace without its END block\n"
	"  --jobs N       threads decoding blocks besides the main one\n"
	"                 (default: one per other core; 0: none)\n"
	"TRACE may also be a Windows .etl file (heap events per process).\n"
	"Several traces (a recorded process and its children: NAME\n"
	"NAME.*): each is reported, then a table of them by start time;\n"
	"--json gives an array of the reports.\n"
	"Peak live bytes counts requested bytes (nmemb*size for calloc);\n"
	"a realloc releases its old block before adding the new one.\n",
	.run = cmd_stat,
};
