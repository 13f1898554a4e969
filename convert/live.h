/*
 * live.h - the set of live heap blocks of a trace, event by event: what
 * stat (peak live bytes, unknown frees, lifetimes), csv (--lifetimes,
 * --interval) and plot need.  Keyed by (pid, heap, address).
 *
 * Semantics (the same in replay):
 *  - an allocating event (ht_op_allocates) that did not fail adds a block
 *    of ht_event_bytes(ev) bytes at ev->addr;
 *  - a free-family event releases ev->addr (free(NULL) is a no-op);
 *  - a successful realloc releases old_addr (if not 0) and adds addr; a
 *    realloc(p, 0) that returned NULL without HT_EV_FAILED only releases;
 *    a failed realloc changes nothing;
 *  - HeapDestroy releases every live block of its heap;
 *  - releasing an address that is not live is an "unknown free" (memory
 *    allocated before recording started, or a double free);
 *  - adding at an address that is still live first drops the old block
 *    (a lost free), counted as "reused".
 */
#ifndef HT_LIVE_H
#define HT_LIVE_H

#include <stdint.h>

#include "../format/heaptape.h"

struct live_block {
	uint64_t addr, heap, size; /* size: requested bytes */
	uint64_t ts;               /* allocation time, ns */
	uint64_t chain;            /* realloc chain id: the id of the first
				      allocation of the chain */
	uint64_t id;               /* 1, 2, ...: allocation number */
	uint32_t pid, tid;
	uint8_t op;                /* the allocating op */
};

/* What one event did.  freed[] are the blocks it released (HeapDestroy
 * may release many: then nfreed counts them all but only the first
 * LIVE_MAX_FREED are listed). */
#define LIVE_MAX_FREED 4
struct live_result {
	int added;                 /* 1 if a block was added: *block */
	struct live_block block;
	uint64_t nfreed;
	struct live_block freed[LIVE_MAX_FREED];
	int unknown_free;          /* released address was not live */
	int reused;                /* added over a live block */
};

struct live;

struct live *live_new(void);            /* NULL on out of memory */
void live_free(struct live *l);         /* NULL ok */
/* Applies ev; res may be NULL.  Returns 0 or -1 (out of memory). */
int live_apply(struct live *l, const struct ht_event *ev,
	       struct live_result *res);
/* Starts loading what live_apply(l, ev) will look at first: called
 * LIVE_AHEAD events ahead, it hides the cache misses of a table larger
 * than the caches (stat of python's 10 M events, 57 k blocks live at the
 * peak: 0.69 -> 0.57 s of CPU, and convert --lifetimes 1.04 -> 0.88 s;
 * 8 and 32 ahead did worse than 16). */
#define LIVE_AHEAD 16
void live_prefetch(const struct live *l, const struct ht_event *ev);
/* The address an event looks up first: a realloc's old block, else
 * its own (a table keyed by address, like the replay planner's, may
 * prefetch by it too). */
static inline uint64_t live_first_addr(const struct ht_event *ev)
{
	return ht_op_is_realloc(ev->op) && ev->old_addr ? ev->old_addr :
	       ev->addr;
}
/* Process pid has ended: the system took back its blocks still live.
 * They leave the live set uncounted (neither freed nor unknown), so
 * that the live bytes of a process tree drop as its processes exit.
 * Returns 0 or -1 (out of memory, nothing changed). */
int live_end_process(struct live *l, uint32_t pid);
/* With a callback, HeapDestroy reports every block it releases. */
void live_on_release(struct live *l,
		     void (*fn)(void *ctx, const struct live_block *b,
				const struct ht_event *by),
		     void *ctx);

struct live_stats {
	uint64_t bytes, blocks;          /* live now */
	uint64_t peak_bytes, peak_blocks;/* maxima so far */
	uint64_t peak_ts;                /* ts of the first peak */
	uint64_t peak_at_blocks;         /* blocks live at that peak */
	uint64_t unknown_frees, reused;
	uint64_t allocs, frees;
};
void live_stats(const struct live *l, struct live_stats *s);
/* live_stats()'s peak_bytes alone, for a check after every event. */
uint64_t live_peak_bytes(const struct live *l);

/* Calls fn for every block still live (order unspecified). */
void live_foreach(const struct live *l,
		  void (*fn)(void *ctx, const struct live_block *b),
		  void *ctx);

#endif
