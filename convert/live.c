/*
 * live.c - the live-block tracker of live.h: which heap blocks exist after
 * each event, with the exact peak of live bytes and blocks.
 *
 * Blocks sit in one open-addressing table (linear probing, backward-shift
 * deletion, so no tombstones) keyed by (pid, heap, addr).  A slot with
 * op == 0 is empty: no allocating op has the value 0.  HeapDestroy needs
 * every block of one heap: a second small table keeps, per (pid, heap)
 * of a Windows heap, the live count and the list of (addr, id) allocated
 * there, compacted whenever it holds more than twice the live blocks, so
 * destroying a heap costs its own blocks, never a scan of the table, and
 * releases them in allocation order.
 *
 * Details the header leaves open, decided here:
 *  - an allocation that returned address 0 without HT_EV_FAILED (malloc(0)
 *    may return NULL) adds nothing;
 *  - a block dropped because its address was allocated again ("reused")
 *    is listed in live_result.freed[] and nfreed, so that lifetime tables
 *    can end it, but live_stats.frees does not count it;
 *  - live_stats.frees counts blocks released by a free, a realloc or
 *    HeapDestroy, so blocks == allocs - frees - reused;
 *  - the live_on_release callback sees every block HeapDestroy releases,
 *    including the first LIVE_MAX_FREED that are also in freed[];
 *  - a realloc keeps the chain id of the block it released; a realloc of
 *    an unknown pointer starts a new chain;
 *  - a failed call changes nothing, a failed HeapDestroy included;
 *    HeapDestroy of heap 0 (the C heap, not a Windows heap) releases
 *    nothing: only blocks with a heap handle are counted per heap.
 */
#include <stdlib.h>
#include <string.h>

#include "live.h"

/* A block of a heap: its address and allocation number, so that an
 * entry whose block has been freed (or replaced) is recognised. */
struct hblock {
	uint64_t addr, id;
};

struct heapcount {
	uint64_t heap;
	uint32_t pid;
	uint32_t used;
	uint64_t count;         /* live blocks */
	struct hblock *blk;     /* blocks allocated since the last compaction,
				   in allocation order; some no longer live */
	uint64_t n, cap;
};

struct live {
	struct live_block *slot; /* cap slots, op == 0 means empty */
	uint64_t cap, mask, n;
	struct heapcount *hc;    /* per-heap live counts, heap != 0 only */
	uint64_t hcap, hn;
	uint64_t next_id;
	struct live_stats st;
	void (*on_release)(void *ctx, const struct live_block *b,
			   const struct ht_event *by);
	void *ctx;
};

static inline uint64_t mix(uint64_t pid, uint64_t heap, uint64_t addr)
{
	uint64_t h = addr ^ (heap * 0x9e3779b97f4a7c15ull) ^
		     (pid * 0xc2b2ae3d27d4eb4full);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

struct live *live_new(void)
{
	struct live *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->cap = 1024;
	l->mask = l->cap - 1;
	l->slot = calloc(l->cap, sizeof(*l->slot));
	if (!l->slot) {
		free(l);
		return NULL;
	}
	l->next_id = 1;
	return l;
}

void live_free(struct live *l)
{
	if (!l)
		return;
	free(l->slot);
	for (uint64_t i = 0; l->hc && i < l->hcap; i++)
		free(l->hc[i].blk);
	free(l->hc);
	free(l);
}

void live_on_release(struct live *l,
		     void (*fn)(void *ctx, const struct live_block *b,
				const struct ht_event *by),
		     void *ctx)
{
	l->on_release = fn;
	l->ctx = ctx;
}

void live_stats(const struct live *l, struct live_stats *s)
{
	*s = l->st;
}

uint64_t live_peak_bytes(const struct live *l)
{
	return l->st.peak_bytes;
}

void live_foreach(const struct live *l,
		  void (*fn)(void *ctx, const struct live_block *b), void *ctx)
{
	for (uint64_t i = 0; i < l->cap; i++)
		if (l->slot[i].op)
			fn(ctx, &l->slot[i]);
}

/* Slot of the key, or of the empty slot where it would go. */
static inline uint64_t find(const struct live *l, uint32_t pid, uint64_t heap,
			    uint64_t addr)
{
	uint64_t i = mix(pid, heap, addr) & l->mask;

	for (;;) {
		const struct live_block *b = &l->slot[i];
		if (!b->op || (b->addr == addr && b->heap == heap &&
			       b->pid == pid))
			return i;
		i = (i + 1) & l->mask;
	}
}

/* The block table rebuilt with ncap slots, without the blocks of *drop
 * (NULL: all kept), which leave the live counts. */
static int rebuild(struct live *l, uint64_t ncap, const uint32_t *drop)
{
	uint64_t nmask = ncap - 1, n = 0;
	struct live_block *ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return -1;
	for (uint64_t i = 0; i < l->cap; i++) {
		const struct live_block *b = &l->slot[i];
		uint64_t j;
		if (!b->op)
			continue;
		if (drop && b->pid == *drop) {
			l->st.bytes -= b->size;
			l->st.blocks--;
			continue;
		}
		j = mix(b->pid, b->heap, b->addr) & nmask;
		while (ns[j].op)
			j = (j + 1) & nmask;
		ns[j] = *b;
		n++;
	}
	free(l->slot);
	l->slot = ns;
	l->cap = ncap;
	l->mask = nmask;
	l->n = n;
	return 0;
}

static int grow(struct live *l)
{
	return rebuild(l, l->cap * 2, NULL);
}

/* Empties slot i, moving later members of its probe run back. */
static void remove_slot(struct live *l, uint64_t i)
{
	uint64_t j = i;

	for (;;) {
		uint64_t home;
		j = (j + 1) & l->mask;
		if (!l->slot[j].op)
			break;
		home = mix(l->slot[j].pid, l->slot[j].heap, l->slot[j].addr) &
		       l->mask;
		/* Move j to i unless its home lies cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		l->slot[i] = l->slot[j];
		i = j;
	}
	l->slot[i].op = 0;
	l->n--;
}

static struct heapcount *heap_slot(struct live *l, uint32_t pid,
				   uint64_t heap, int create)
{
	uint64_t i;

	if (!l->hc) {
		if (!create)
			return NULL;
		l->hcap = 64;
		l->hc = calloc(l->hcap, sizeof(*l->hc));
		if (!l->hc)
			return NULL;
	}
	if (create && (l->hn + 1) * 2 > l->hcap) {
		uint64_t ncap = l->hcap * 2;
		struct heapcount *nh = calloc(ncap, sizeof(*nh));
		if (!nh)
			return NULL;
		for (uint64_t k = 0; k < l->hcap; k++) {
			if (!l->hc[k].used)
				continue;
			i = mix(l->hc[k].pid, l->hc[k].heap, 0) & (ncap - 1);
			while (nh[i].used)
				i = (i + 1) & (ncap - 1);
			nh[i] = l->hc[k];
		}
		free(l->hc);
		l->hc = nh;
		l->hcap = ncap;
	}
	i = mix(pid, heap, 0) & (l->hcap - 1);
	while (l->hc[i].used) {
		if (l->hc[i].pid == pid && l->hc[i].heap == heap)
			return &l->hc[i];
		i = (i + 1) & (l->hcap - 1);
	}
	if (!create)
		return NULL;
	l->hc[i].used = 1;
	l->hc[i].pid = pid;
	l->hc[i].heap = heap;
	l->hn++;
	return &l->hc[i];
}

static void note_freed(struct live_result *res, const struct live_block *b)
{
	if (!res)
		return;
	if (res->nfreed < LIVE_MAX_FREED)
		res->freed[res->nfreed] = *b;
	res->nfreed++;
}

static void account_release(struct live *l, const struct live_block *b)
{
	l->st.bytes -= b->size;
	l->st.blocks--;
	if (b->heap) {
		struct heapcount *h = heap_slot(l, b->pid, b->heap, 0);
		if (h && h->count)
			h->count--;
	}
}

/* Releases (pid, heap, addr).  Returns 1 and the chain id if it was
 * live, 0 if it was not (an unknown free). */
static int release(struct live *l, const struct ht_event *ev, uint64_t heap,
		   uint64_t addr, struct live_result *res, uint64_t *chain)
{
	uint64_t i = find(l, ev->pid, heap, addr);
	struct live_block *b = &l->slot[i];

	if (!b->op) {
		l->st.unknown_frees++;
		if (res)
			res->unknown_free = 1;
		return 0;
	}
	if (chain)
		*chain = b->chain;
	account_release(l, b);
	l->st.frees++;
	note_freed(res, b);
	remove_slot(l, i);
	return 1;
}

/* 1 if entry e of heap h is a live block (not freed or replaced). */
static int heap_entry_live(const struct live *l, const struct heapcount *h,
			   const struct hblock *e, uint64_t *slot)
{
	uint64_t i = find(l, h->pid, h->heap, e->addr);

	*slot = i;
	return l->slot[i].op && l->slot[i].id == e->id;
}

/* Room for one more entry in h->blk; drops dead entries first when they
 * are the majority.  0 or -1 (out of memory, nothing changed). */
static int heap_room(struct live *l, struct heapcount *h)
{
	if (h->n >= 64 && h->n > 2 * h->count) {
		uint64_t k = 0, slot;
		for (uint64_t j = 0; j < h->n; j++)
			if (heap_entry_live(l, h, &h->blk[j], &slot))
				h->blk[k++] = h->blk[j];
		h->n = k;
	}
	if (h->n == h->cap) {
		uint64_t nc = h->cap ? 2 * h->cap : 16;
		struct hblock *nb = realloc(h->blk, nc * sizeof(*nb));
		if (!nb)
			return -1;
		h->blk = nb;
		h->cap = nc;
	}
	return 0;
}

static int add(struct live *l, const struct ht_event *ev, uint64_t chain,
	       struct live_result *res)
{
	uint64_t i;
	struct live_block *b;
	struct heapcount *h = NULL;

	if ((l->n + 1) * 10 > l->cap * 7 && grow(l))
		return -1;
	/* heap_slot() never moves the block table: take it first so that a
	 * failure leaves the tracker unchanged. */
	if (ev->heap && (!(h = heap_slot(l, ev->pid, ev->heap, 1)) ||
			 heap_room(l, h)))
		return -1;
	i = find(l, ev->pid, ev->heap, ev->addr);
	b = &l->slot[i];
	if (b->op) {
		/* A lost free: the old block goes, the new one takes over. */
		account_release(l, b);
		l->st.reused++;
		note_freed(res, b);
		if (res)
			res->reused = 1;
	} else {
		l->n++;
	}
	if (h) {
		h->count++;
		h->blk[h->n].addr = ev->addr;
		h->blk[h->n++].id = l->next_id;
	}
	b->addr = ev->addr;
	b->heap = ev->heap;
	b->size = ht_event_bytes(ev);
	b->ts = ev->ts;
	b->id = l->next_id++;
	b->chain = chain ? chain : b->id;
	b->pid = ev->pid;
	b->tid = ev->tid;
	b->op = ev->op;
	l->st.allocs++;
	l->st.bytes += b->size;
	l->st.blocks++;
	if (l->st.bytes > l->st.peak_bytes) {
		l->st.peak_bytes = l->st.bytes;
		l->st.peak_ts = ev->ts;
		l->st.peak_at_blocks = l->st.blocks;
	}
	if (l->st.blocks > l->st.peak_blocks)
		l->st.peak_blocks = l->st.blocks;
	if (res) {
		res->added = 1;
		res->block = *b;
	}
	return 0;
}

static int destroy_heap(struct live *l, const struct ht_event *ev,
			struct live_result *res)
{
	struct heapcount *h = heap_slot(l, ev->pid, ev->heap, 0);

	if (!h)
		return 0;
	for (uint64_t j = 0; j < h->n && h->count; j++) {
		uint64_t i;
		struct live_block b;
		if (!heap_entry_live(l, h, &h->blk[j], &i))
			continue;
		b = l->slot[i];
		account_release(l, &b); /* h->count-- */
		l->st.frees++;
		note_freed(res, &b);
		remove_slot(l, i);
		if (l->on_release)
			l->on_release(l->ctx, &b, ev);
	}
	h->n = 0;
	h->count = 0;
	return 0;
}

int live_end_process(struct live *l, uint32_t pid)
{
	/* Rebuilt without pid's blocks: removing them in place would move
	 * the rest of their probe runs under the scan. */
	if (rebuild(l, l->cap, &pid))
		return -1;
	for (uint64_t k = 0; l->hc && k < l->hcap; k++)
		if (l->hc[k].used && l->hc[k].pid == pid)
			l->hc[k].n = l->hc[k].count = 0;
	return 0;
}

void live_prefetch(const struct live *l, const struct ht_event *ev)
{
	__builtin_prefetch(&l->slot[mix(ev->pid, ev->heap,
					live_first_addr(ev)) & l->mask]);
}

int live_apply(struct live *l, const struct ht_event *ev,
	       struct live_result *res)
{
	if (res) {
		res->added = 0;
		res->nfreed = 0;
		res->unknown_free = 0;
		res->reused = 0;
	}
	if (ev->flags & HT_EV_FAILED)
		return 0;
	if (ev->op == HT_OP_HEAP_DESTROY)
		return destroy_heap(l, ev, res);
	if (ht_op_is_realloc(ev->op)) {
		uint64_t chain = 0;
		if (ev->old_addr)
			release(l, ev, ev->heap, ev->old_addr, res, &chain);
		if (!ev->addr)
			return 0;
		return add(l, ev, chain, res);
	}
	if (ht_op_frees(ev->op)) {
		if (ev->addr)
			release(l, ev, ev->heap, ev->addr, res, NULL);
		return 0;
	}
	if (ht_op_allocates(ev->op) && ev->addr)
		return add(l, ev, 0, res);
	return 0;
}
