/*
 * test_live.c - the live-block tracker (convert/live.c) on hand-made
 * event sequences: peaks, realloc chains, failed calls, unknown frees,
 * reuse, HeapDestroy, and a seeded random run checked against a naive
 * model.
 */
#include <stdlib.h>

#include "tap.h"
#include "../convert/live.h"

static uint64_t now;

static struct ht_event mk(int op, uint32_t pid, uint64_t heap, uint64_t addr,
			  uint64_t size)
{
	struct ht_event e;

	memset(&e, 0, sizeof(e));
	e.op = (uint8_t)op;
	e.pid = pid;
	e.tid = pid + 1;
	e.heap = heap;
	e.addr = addr;
	e.size = size;
	e.ts = ++now;
	return e;
}

static struct ht_event re(uint64_t old, uint64_t addr, uint64_t size)
{
	struct ht_event e = mk(HT_OP_REALLOC, 1, 0, addr, size);

	e.old_addr = old;
	return e;
}

static struct live_stats st(struct live *l)
{
	struct live_stats s;

	live_stats(l, &s);
	return s;
}

static void test_malloc_free_peak(void)
{
	struct live *l = live_new();
	struct live_result r;
	struct ht_event e;

	e = mk(HT_OP_MALLOC, 1, 0, 0x1000, 100);
	CHECK_EQ(live_apply(l, &e, &r), 0);
	CHECK_EQ(r.added, 1);
	CHECK_EQ(r.block.size, 100);
	CHECK_EQ(r.block.id, 1);
	CHECK_EQ(r.block.chain, 1);
	e = mk(HT_OP_MALLOC, 1, 0, 0x2000, 50);
	live_apply(l, &e, &r);
	CHECK_EQ(r.block.id, 2);
	e = mk(HT_OP_FREE, 1, 0, 0x1000, 0);
	live_apply(l, &e, &r);
	CHECK_EQ(r.added, 0);
	CHECK_EQ(r.nfreed, 1);
	CHECK_EQ(r.freed[0].addr, 0x1000);
	CHECK_EQ(r.freed[0].size, 100);
	CHECK_EQ(r.unknown_free, 0);
	e = mk(HT_OP_MALLOC, 1, 0, 0x3000, 120);
	live_apply(l, &e, NULL);
	CHECK_EQ(st(l).bytes, 170);
	CHECK_EQ(st(l).blocks, 2);
	CHECK_EQ(st(l).peak_bytes, 170);
	CHECK_EQ(st(l).peak_ts, e.ts);
	CHECK_EQ(st(l).peak_blocks, 2);
	CHECK_EQ(st(l).allocs, 3);
	CHECK_EQ(st(l).frees, 1);
	e = mk(HT_OP_FREE, 1, 0, 0x3000, 0);
	live_apply(l, &e, NULL);
	e = mk(HT_OP_FREE, 1, 0, 0x2000, 0);
	live_apply(l, &e, NULL);
	CHECK_EQ(st(l).bytes, 0);
	CHECK_EQ(st(l).blocks, 0);
	CHECK_EQ(st(l).peak_bytes, 170);
	live_free(l);
}

static void test_calloc_and_sized(void)
{
	struct live *l = live_new();
	struct ht_event e;

	e = mk(HT_OP_CALLOC, 1, 0, 0x10, 24);
	e.nmemb = 10;
	live_apply(l, &e, NULL);
	CHECK_EQ(st(l).bytes, 240);
	e = mk(HT_OP_POSIX_MEMALIGN, 1, 0, 0x1000, 64);
	e.align = 4096;
	live_apply(l, &e, NULL);
	CHECK_EQ(st(l).bytes, 304);
	e = mk(HT_OP_FREE_SIZED, 1, 0, 0x10, 240);
	live_apply(l, &e, NULL);
	e = mk(HT_OP_FREE_ALIGNED_SIZED, 1, 0, 0x1000, 64);
	live_apply(l, &e, NULL);
	CHECK_EQ(st(l).bytes, 0);
	CHECK_EQ(st(l).unknown_frees, 0);
	CHECK_EQ(st(l).peak_bytes, 304);
	live_free(l);
}

static void test_realloc(void)
{
	struct live *l = live_new();
	struct live_result r;
	struct ht_event e;
	uint64_t chain;

	e = re(0, 0x100, 10); /* realloc(NULL, 10) */
	live_apply(l, &e, &r);
	CHECK_EQ(r.added, 1);
	CHECK_EQ(r.nfreed, 0);
	CHECK_EQ(r.unknown_free, 0);
	chain = r.block.chain;
	CHECK_EQ(chain, r.block.id);
	e = re(0x100, 0x100, 1000); /* in place */
	live_apply(l, &e, &r);
	CHECK_EQ(r.nfreed, 1);
	CHECK_EQ(r.freed[0].size, 10);
	CHECK_EQ(r.block.chain, chain);
	CHECK(r.block.id != chain);
	CHECK_EQ(st(l).bytes, 1000);
	e = re(0x100, 0x900, 500); /* moved and shrunk */
	live_apply(l, &e, &r);
	CHECK_EQ(r.block.chain, chain);
	CHECK_EQ(st(l).bytes, 500);
	CHECK_EQ(st(l).blocks, 1);
	/* The peak is after the release, not old + new. */
	CHECK_EQ(st(l).peak_bytes, 1000);
	/* A failed realloc changes nothing. */
	e = re(0x900, 0, 1 << 30);
	e.flags = HT_EV_FAILED;
	e.result = 12;
	live_apply(l, &e, &r);
	CHECK_EQ(r.added, 0);
	CHECK_EQ(r.nfreed, 0);
	CHECK_EQ(st(l).bytes, 500);
	/* realloc(p, 0) returning NULL releases. */
	e = re(0x900, 0, 0);
	live_apply(l, &e, &r);
	CHECK_EQ(r.added, 0);
	CHECK_EQ(r.nfreed, 1);
	CHECK_EQ(st(l).bytes, 0);
	CHECK_EQ(st(l).blocks, 0);
	/* realloc of an unknown pointer: unknown free, new chain. */
	e = re(0x5000, 0x6000, 7);
	live_apply(l, &e, &r);
	CHECK_EQ(r.unknown_free, 1);
	CHECK_EQ(r.added, 1);
	CHECK_EQ(r.block.chain, r.block.id);
	CHECK_EQ(st(l).unknown_frees, 1);
	/* reallocarray counts nmemb * size. */
	e = mk(HT_OP_REALLOCARRAY, 1, 0, 0x7000, 8);
	e.old_addr = 0x6000;
	e.nmemb = 100;
	live_apply(l, &e, &r);
	CHECK_EQ(r.block.size, 800);
	CHECK_EQ(st(l).bytes, 800);
	live_free(l);
}

static void test_failed_and_null(void)
{
	struct live *l = live_new();
	struct live_result r;
	struct ht_event e;

	e = mk(HT_OP_MALLOC, 1, 0, 0, (uint64_t)1 << 50);
	e.flags = HT_EV_FAILED;
	e.result = 12;
	live_apply(l, &e, &r);
	CHECK_EQ(r.added, 0);
	e = mk(HT_OP_FREE, 1, 0, 0, 0); /* free(NULL) */
	live_apply(l, &e, &r);
	CHECK_EQ(r.unknown_free, 0);
	CHECK_EQ(r.nfreed, 0);
	e = mk(HT_OP_MALLOC, 1, 0, 0, 0); /* malloc(0) returned NULL */
	live_apply(l, &e, &r);
	CHECK_EQ(r.added, 0);
	e = mk(HT_OP_MALLOC, 1, 0, 0x40, 0); /* malloc(0), a real block */
	live_apply(l, &e, &r);
	CHECK_EQ(r.added, 1);
	CHECK_EQ(st(l).blocks, 1);
	CHECK_EQ(st(l).bytes, 0);
	CHECK_EQ(st(l).unknown_frees, 0);
	CHECK_EQ(st(l).peak_bytes, 0);
	CHECK_EQ(st(l).peak_blocks, 1);
	e = mk(HT_OP_THREAD_EXIT, 1, 0, 0, 0);
	live_apply(l, &e, &r);
	CHECK_EQ(r.added + r.nfreed, 0);
	live_free(l);
}

static void test_unknown_and_reuse(void)
{
	struct live *l = live_new();
	struct live_result r;
	struct ht_event e;

	e = mk(HT_OP_FREE, 1, 0, 0xdead0, 0);
	live_apply(l, &e, &r);
	CHECK_EQ(r.unknown_free, 1);
	e = mk(HT_OP_MALLOC, 1, 0, 0x10, 5);
	live_apply(l, &e, NULL);
	e = mk(HT_OP_FREE, 1, 0, 0x10, 0);
	live_apply(l, &e, NULL);
	live_apply(l, &e, &r); /* double free */
	CHECK_EQ(r.unknown_free, 1);
	CHECK_EQ(st(l).unknown_frees, 2);
	e = mk(HT_OP_MALLOC, 1, 0, 0x20, 5);
	live_apply(l, &e, NULL);
	e = mk(HT_OP_MALLOC, 1, 0, 0x20, 9); /* lost free */
	live_apply(l, &e, &r);
	CHECK_EQ(r.reused, 1);
	CHECK_EQ(r.added, 1);
	CHECK_EQ(r.nfreed, 1);
	CHECK_EQ(r.freed[0].size, 5);
	CHECK_EQ(st(l).reused, 1);
	CHECK_EQ(st(l).bytes, 9);
	CHECK_EQ(st(l).blocks, 1);
	CHECK_EQ(st(l).blocks, st(l).allocs - st(l).frees - st(l).reused);
	/* The same address in another process is another block. */
	e = mk(HT_OP_MALLOC, 2, 0, 0x20, 11);
	live_apply(l, &e, &r);
	CHECK_EQ(r.reused, 0);
	CHECK_EQ(st(l).bytes, 20);
	e = mk(HT_OP_FREE, 2, 0, 0x20, 0);
	live_apply(l, &e, &r);
	CHECK_EQ(r.freed[0].size, 11);
	CHECK_EQ(r.freed[0].pid, 2);
	live_free(l);
}

static uint64_t released_cb, released_bytes;

static void on_rel(void *ctx, const struct live_block *b,
		   const struct ht_event *by)
{
	(void)ctx;
	CHECK_EQ(b->heap, by->heap);
	released_cb++;
	released_bytes += b->size;
}

static void test_heap_destroy(void)
{
	struct live *l = live_new();
	struct live_result r;
	struct ht_event e;
	uint64_t i, miss;

	live_on_release(l, on_rel, NULL);
	released_cb = released_bytes = 0;
	e = mk(HT_OP_HEAP_CREATE, 4, 0xa0000, 0, 0);
	live_apply(l, &e, NULL);
	for (i = 0; i < 5000; i++) {
		e = mk(HT_OP_HEAP_ALLOC, 4, 0xa0000, 0x100000 + i * 32, 10);
		CHECK_EQ(live_apply(l, &e, NULL), 0);
		/* the same addresses in another heap and another process */
		e = mk(HT_OP_HEAP_ALLOC, 4, 0xb0000, 0x100000 + i * 32, 1);
		live_apply(l, &e, NULL);
		e = mk(HT_OP_HEAP_ALLOC, 5, 0xa0000, 0x100000 + i * 32, 2);
		live_apply(l, &e, NULL);
	}
	e = mk(HT_OP_HEAP_FREE, 4, 0xa0000, 0x100000, 0);
	live_apply(l, &e, NULL);
	e = mk(HT_OP_HEAP_REALLOC, 4, 0xa0000, 0x900000, 100);
	e.old_addr = 0x100020;
	e.old_size = 10;
	live_apply(l, &e, NULL);
	CHECK_EQ(st(l).bytes, 4998 * 10 + 100 + 5000 * 1 + 5000 * 2);
	e = mk(HT_OP_HEAP_DESTROY, 4, 0xa0000, 0, 0);
	e.flags = HT_EV_FAILED; /* a failed HeapDestroy changes nothing */
	live_apply(l, &e, &r);
	CHECK_EQ(r.nfreed, 0);
	CHECK_EQ(released_cb, 0);
	e.flags = 0;
	live_apply(l, &e, &r);
	CHECK_EQ(r.nfreed, 4999);
	CHECK_EQ(r.freed[0].heap, 0xa0000);
	CHECK_EQ(r.freed[0].pid, 4);
	CHECK_EQ(released_cb, 4999);
	CHECK_EQ(released_bytes, 4998 * 10 + 100);
	CHECK_EQ(st(l).blocks, 10000);
	CHECK_EQ(st(l).bytes, 15000);
	CHECK_EQ(st(l).unknown_frees, 0);
	/* Destroying it again, or an empty heap, releases nothing. */
	live_apply(l, &e, &r);
	CHECK_EQ(r.nfreed, 0);
	CHECK_EQ(released_cb, 4999);
	/* The other heap's blocks are all still findable. */
	for (i = 0, miss = 0; i < 5000; i++) {
		e = mk(HT_OP_HEAP_FREE, 4, 0xb0000, 0x100000 + i * 32, 0);
		live_apply(l, &e, &r);
		miss += r.nfreed != 1;
	}
	CHECK_EQ(miss, 0);
	/* A new heap at the old handle starts empty and counts again. */
	e = mk(HT_OP_HEAP_ALLOC, 4, 0xa0000, 0x100000, 3);
	live_apply(l, &e, &r);
	CHECK_EQ(r.reused, 0);
	e = mk(HT_OP_HEAP_DESTROY, 4, 0xa0000, 0, 0);
	live_apply(l, &e, &r);
	CHECK_EQ(r.nfreed, 1);
	CHECK_EQ(st(l).bytes, 10000);
	CHECK_EQ(st(l).blocks, st(l).allocs - st(l).frees - st(l).reused);
	live_free(l);
}

static uint64_t last_id, order_bad;

static void on_rel_order(void *ctx, const struct live_block *b,
			 const struct ht_event *by)
{
	(void)ctx;
	(void)by;
	if (b->id <= last_id)
		order_bad++;
	last_id = b->id;
	released_cb++;
}

/* Many short-lived heaps beside a large C heap, and one heap with much
 * churn: destroying a heap must cost its own blocks (this loop would
 * scan the big table 20000 times otherwise) and release exactly the
 * live ones, in allocation order. */
static void test_heap_churn(void)
{
	struct live *l = live_new();
	struct live_result r;
	struct ht_event e;
	uint64_t i, bad = 0, live_in_h = 0;

	for (i = 0; i < 200000; i++) {
		e = mk(HT_OP_MALLOC, 7, 0, 0x10000000 + i * 16, 8);
		live_apply(l, &e, NULL);
	}
	for (i = 0; i < 20000; i++) {
		uint64_t h = 0x40000 + (i % 50) * 0x1000;
		e = mk(HT_OP_HEAP_ALLOC, 7, h, 0x100 + i * 16, 1);
		live_apply(l, &e, NULL);
		e = mk(HT_OP_HEAP_ALLOC, 7, h, 0x200 + i * 16, 1);
		live_apply(l, &e, NULL);
		e = mk(HT_OP_HEAP_FREE, 7, h, 0x100 + i * 16, 0);
		live_apply(l, &e, NULL);
		e = mk(HT_OP_HEAP_DESTROY, 7, h, 0, 0);
		live_apply(l, &e, &r);
		bad += r.nfreed != 1;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(st(l).blocks, 200000);
	/* Churn: 1000 live out of 100000 allocated, compactions on the
	 * way; the same address allocated again after its free. */
	live_on_release(l, on_rel_order, NULL);
	released_cb = last_id = order_bad = 0;
	for (i = 0; i < 100000; i++) {
		/* every 100th block stays, at an address of its own */
		uint64_t a = i % 100 ? 0x5000 + (i % 3000) * 16
				     : 0x900000 + i * 16;
		e = mk(HT_OP_HEAP_ALLOC, 7, 0x9000, a, 2);
		live_apply(l, &e, &r);
		bad += r.reused;
		if (i % 100) {
			e = mk(HT_OP_HEAP_FREE, 7, 0x9000, a, 0);
			live_apply(l, &e, NULL);
		} else {
			live_in_h++;
		}
	}
	CHECK_EQ(bad, 0);
	e = mk(HT_OP_HEAP_DESTROY, 7, 0x9000, 0, 0);
	live_apply(l, &e, &r);
	CHECK_EQ(r.nfreed, live_in_h);
	CHECK_EQ(released_cb, live_in_h);
	CHECK_EQ(order_bad, 0);
	CHECK_EQ(st(l).blocks, 200000);
	CHECK_EQ(st(l).unknown_frees, 0);
	live_free(l);
}

/* Random run against a naive model: a flat array of (addr, size). */
struct model {
	uint64_t addr[1024], size[1024];
	int n;
};

static int model_find(const struct model *m, uint64_t addr)
{
	for (int i = 0; i < m->n; i++)
		if (m->addr[i] == addr)
			return i;
	return -1;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t seen_blocks, seen_bytes;
static void count_block(void *ctx, const struct live_block *b)
{
	(void)ctx;
	seen_blocks++;
	seen_bytes += b->size;
}

static void test_random_vs_model(void)
{
	struct live *l = live_new();
	struct model m = {.n = 0};
	uint64_t bytes = 0, peak = 0, peak_blocks = 0, unknown = 0;
	struct live_result r;
	struct ht_event e;
	int bad = 0;

	for (int step = 0; step < 200000 && !bad; step++) {
		/* 700 distinct addresses in a table of 1024 slots: much
		 * reuse, long probe runs that wrap around the table end. */
		uint64_t addr = 0x10000 + (rnd() % 700) * 16;
		int i = model_find(&m, addr);
		unsigned k = (unsigned)(rnd() % 10);

		if (k < 6 && i < 0) {
			uint64_t sz = rnd() % 5000;
			e = mk(HT_OP_MALLOC, 1, 0, addr, sz);
			live_apply(l, &e, &r);
			m.addr[m.n] = addr;
			m.size[m.n++] = sz;
			bytes += sz;
		} else if (k < 7 && i >= 0) {
			uint64_t sz = rnd() % 5000;
			uint64_t to = 0x10000 + (rnd() % 700) * 16;
			int j = model_find(&m, to);
			if (j >= 0 && to != addr)
				continue; /* would be a reuse: not modelled */
			e = re(addr, to, sz);
			live_apply(l, &e, &r);
			bytes = bytes - m.size[i] + sz;
			m.addr[i] = to;
			m.size[i] = sz;
		} else {
			e = mk(HT_OP_FREE, 1, 0, addr, 0);
			live_apply(l, &e, &r);
			if (i >= 0) {
				bytes -= m.size[i];
				m.n--;
				m.addr[i] = m.addr[m.n];
				m.size[i] = m.size[m.n];
			} else {
				unknown++;
			}
		}
		if (bytes > peak)
			peak = bytes;
		if ((uint64_t)m.n > peak_blocks)
			peak_blocks = (uint64_t)m.n;
		if (st(l).bytes != bytes || st(l).blocks != (uint64_t)m.n)
			bad = 1;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(st(l).bytes, bytes);
	CHECK_EQ(st(l).blocks, m.n);
	CHECK_EQ(st(l).peak_bytes, peak);
	CHECK_EQ(st(l).peak_blocks, peak_blocks);
	CHECK_EQ(st(l).unknown_frees, unknown);
	seen_blocks = seen_bytes = 0;
	live_foreach(l, count_block, NULL);
	CHECK_EQ(seen_blocks, m.n);
	CHECK_EQ(seen_bytes, bytes);
	/* Every modelled block is still there and nothing else is. */
	for (int i = 0; i < m.n; i++) {
		e = mk(HT_OP_FREE, 1, 0, m.addr[i], 0);
		live_apply(l, &e, &r);
		CHECK_EQ(r.nfreed, 1);
		CHECK_EQ(r.freed[0].size, m.size[i]);
	}
	CHECK_EQ(st(l).blocks, 0);
	CHECK_EQ(st(l).bytes, 0);
	live_free(l);
}

static void test_growth(void)
{
	struct live *l = live_new();
	struct ht_event e;
	const uint64_t n = 300000;
	uint64_t i, miss = 0;

	for (i = 0; i < n; i++) {
		e = mk(HT_OP_MALLOC, 1, 0, 0x7f0000000000ull + i * 48, i % 7);
		if (live_apply(l, &e, NULL))
			miss++;
	}
	CHECK_EQ(miss, 0);
	CHECK_EQ(st(l).blocks, n);
	for (i = 0; i < n; i += 2) {
		struct live_result r;
		e = mk(HT_OP_FREE, 1, 0, 0x7f0000000000ull + i * 48, 0);
		live_apply(l, &e, &r);
		if (r.nfreed != 1 || r.freed[0].size != i % 7)
			miss++;
	}
	CHECK_EQ(miss, 0);
	CHECK_EQ(st(l).blocks, n / 2);
	CHECK_EQ(st(l).peak_blocks, n);
	CHECK_EQ(st(l).unknown_frees, 0);
	live_free(l);
}

int main(void)
{
	TEST(test_malloc_free_peak);
	TEST(test_calloc_and_sized);
	TEST(test_realloc);
	TEST(test_failed_and_null);
	TEST(test_unknown_and_reuse);
	TEST(test_heap_destroy);
	TEST(test_heap_churn);
	TEST(test_random_vs_model);
	TEST(test_growth);
	return TAP_DONE();
}
