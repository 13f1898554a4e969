/*
 * csvgen.c - writes a trace of seeded random events of every op, for the
 * CSV tests: several processes and threads, realloc chains, frees from
 * other threads, unknown frees, free(NULL), failed calls with and without
 * errno, Windows heaps created, used and destroyed, equal timestamps.
 * The same seed always gives the same events.
 *
 * usage: csvgen OUT.htape EVENTS SEED [THREADS [BLOCK_EVENTS]]
 * (small blocks give each thread many blocks: merge and block edges)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../format/heaptape.h"

static uint64_t rs;

static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

struct blk {
	uint64_t addr, heap;
	uint32_t pid;
};

static struct blk *live;
static size_t nlive, caplive;
static uint64_t next_addr = 0x7f3a10000000ull;

static uint64_t size_pick(void)
{
	uint64_t r = rnd() % 100;

	if (r < 70)
		return 1 + rnd() % 128;
	if (r < 95)
		return 129 + rnd() % 4000;
	if (r < 99)
		return 4096 + rnd() % 100000;
	return rnd() % 8 ? 1 << 20 : 0; /* big, or malloc(0) */
}

/* Recently freed addresses, handed out again as allocators do. */
static uint64_t freed[256];
static unsigned nfreed;

static uint64_t addr_pick(void);

static void freed_note(uint64_t a)
{
	if (a)
		freed[nfreed++ % 256] = a;
}

static void push(uint64_t addr, uint64_t heap, uint32_t pid)
{
	if (nlive == caplive) {
		caplive = caplive ? caplive * 2 : 1024;
		live = realloc(live, caplive * sizeof(*live));
		if (!live)
			exit(1);
	}
	live[nlive].addr = addr;
	live[nlive].heap = heap;
	live[nlive].pid = pid;
	nlive++;
}

static uint64_t addr_pick(void)
{
	uint64_t r = rnd() % 1000;

	if (r < 300 && nfreed) {
		unsigned n = nfreed < 256 ? nfreed : 256;
		uint64_t a = freed[rnd() % n];
		if (a)
			return a;
	}
	if (r == 999 && nlive)
		return live[rnd() % nlive].addr; /* a lost free */
	next_addr += 16 * (1 + rnd() % 64);
	return next_addr;
}

/* Takes a random live block of pid (and heap-ness), or returns 0. */
static int take(uint32_t pid, int heap, struct blk *out)
{
	for (int tries = 0; tries < 8 && nlive; tries++) {
		size_t i = rnd() % nlive;
		if (live[i].pid != pid || (live[i].heap != 0) != heap)
			continue;
		*out = live[i];
		live[i] = live[--nlive];
		freed_note(out->addr);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const int weights[][2] = {
		{HT_OP_MALLOC, 300}, {HT_OP_FREE, 250}, {HT_OP_CALLOC, 60},
		{HT_OP_REALLOC, 100}, {HT_OP_REALLOCARRAY, 15},
		{HT_OP_POSIX_MEMALIGN, 20}, {HT_OP_ALIGNED_ALLOC, 15},
		{HT_OP_MEMALIGN, 10}, {HT_OP_VALLOC, 5}, {HT_OP_PVALLOC, 5},
		{HT_OP_FREE_SIZED, 30}, {HT_OP_FREE_ALIGNED_SIZED, 10},
		{HT_OP_HEAP_CREATE, 4}, {HT_OP_HEAP_ALLOC, 60},
		{HT_OP_HEAP_REALLOC, 20}, {HT_OP_HEAP_FREE, 45},
		{HT_OP_HEAP_DESTROY, 3}, {HT_OP_THREAD_EXIT, 2},
	};
	struct thr {
		uint32_t pid, tid;
		uint64_t heaps[4];
	} th[64];
	struct ht_writer *w;
	struct ht_writer_opts wo;
	uint64_t n, ts = 1000, total = 0;
	int nth = 6, fd, err;

	if (argc < 4) {
		fprintf(stderr, "usage: csvgen OUT.htape EVENTS SEED "
				"[THREADS [BLOCK_EVENTS]]\n");
		return 2;
	}
	n = strtoull(argv[2], NULL, 10);
	rs = strtoull(argv[3], NULL, 10) * 0x9e3779b97f4a7c15ull + 1;
	if (argc > 4)
		nth = atoi(argv[4]);
	memset(&wo, 0, sizeof(wo));
	if (argc > 5)
		wo.block_events = (uint32_t)strtoul(argv[5], NULL, 10);
	if (nth < 1 || nth > 64)
		return 2;
	for (int i = 0; i < nth; i++) {
		th[i].pid = 4000 + (uint32_t)(i % 2) * 1000;
		th[i].tid = th[i].pid + (uint32_t)i;
		memset(th[i].heaps, 0, sizeof(th[i].heaps));
	}
	for (size_t i = 0; i < sizeof(weights) / sizeof(weights[0]); i++)
		total += (uint64_t)weights[i][1];
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || (err = ht_writer_open(&w, fd, &wo))) {
		fprintf(stderr, "csvgen: cannot write %s\n", argv[1]);
		return 1;
	}
	for (uint64_t i = 0; i < n; i++) {
		struct thr *t = &th[rnd() % (uint64_t)nth];
		struct ht_event ev;
		struct blk b;
		uint64_t r = rnd() % total;
		size_t k = 0;
		int failed = rnd() % 50 == 0;

		while (r >= (uint64_t)weights[k][1])
			r -= (uint64_t)weights[k++][1];
		/* Keep the live set bounded. */
		if (nlive > 20000 && weights[k][0] == HT_OP_MALLOC)
			k = 1;
		memset(&ev, 0, sizeof(ev));
		if (rnd() % 8)
			ts += 1 + rnd() % 2000;
		ev.ts = ts;
		ev.pid = t->pid;
		ev.tid = t->tid;
		ev.op = (uint8_t)weights[k][0];
		switch (ev.op) {
		case HT_OP_FREE:
		case HT_OP_FREE_SIZED:
		case HT_OP_FREE_ALIGNED_SIZED:
			failed = 0;
			if (take(t->pid, 0, &b))
				ev.addr = b.addr;
			else if (rnd() % 2)
				ev.addr = 0x600000 + 16 * (rnd() % 1000);
			if (ev.op != HT_OP_FREE)
				ev.size = size_pick();
			if (ev.op == HT_OP_FREE_ALIGNED_SIZED)
				ev.align = 1ull << (4 + rnd() % 8);
			break;
		case HT_OP_REALLOC:
		case HT_OP_REALLOCARRAY:
			b.addr = 0;
			if (!take(t->pid, 0, &b) && rnd() % 4 == 0)
				b.addr = 0x600000 + 16 * (rnd() % 1000);
			ev.old_addr = b.addr;
			ev.size = size_pick();
			if (ev.op == HT_OP_REALLOCARRAY) {
				ev.nmemb = 1 + rnd() % 16;
				ev.size = 1 + ev.size / 16;
			}
			if (rnd() % 3 == 0)
				ev.old_size = 1 + rnd() % 4096;
			if (failed) {
				if (ev.old_addr)
					push(ev.old_addr, 0, t->pid);
			} else if (ev.size && rnd() % 4 == 0 && ev.old_addr) {
				ev.addr = ev.old_addr; /* in place */
				ev.flags = HT_EV_INPLACE;
			} else if (ev.size || !ev.old_addr) {
				ev.addr = addr_pick();
			}
			if (ev.addr)
				push(ev.addr, 0, t->pid);
			break;
		case HT_OP_HEAP_CREATE:
			failed = 0;
			ev.heap = 0x10000000ull * (1 + rnd() % 1000);
			t->heaps[rnd() % 4] = ev.heap;
			break;
		case HT_OP_HEAP_DESTROY: {
			int h = (int)(rnd() % 4);
			failed = 0;
			if (!t->heaps[h]) {
				ev.op = HT_OP_THREAD_EXIT;
				break;
			}
			/* Its blocks stay in the pool: freeing one later
			 * is an unknown free, as after a real destroy. */
			ev.heap = t->heaps[h];
			t->heaps[h] = 0;
			break;
		}
		case HT_OP_HEAP_ALLOC:
		case HT_OP_HEAP_REALLOC:
		case HT_OP_HEAP_FREE: {
			int h = (int)(rnd() % 4);
			if (!t->heaps[h]) {
				ev.op = HT_OP_MALLOC;
				goto alloc;
			}
			ev.heap = t->heaps[h];
			if (ev.op == HT_OP_HEAP_ALLOC) {
				ev.size = size_pick();
				if (!failed) {
					ev.addr = addr_pick();
					push(ev.addr, ev.heap, t->pid);
				}
				break;
			}
			failed = 0;
			b.heap = 0;
			if (!take(t->pid, 1, &b) || b.heap != ev.heap) {
				if (b.heap)
					push(b.addr, b.heap, b.pid);
				ev.op = HT_OP_HEAP_FREE;
				ev.addr = 0x500000 + 16 * (rnd() % 100);
				break;
			}
			if (ev.op == HT_OP_HEAP_FREE) {
				ev.addr = b.addr;
				break;
			}
			ev.old_addr = b.addr;
			ev.old_size = 1 + rnd() % 5000;
			ev.size = size_pick();
			ev.addr = addr_pick();
			push(ev.addr, ev.heap, t->pid);
			break;
		}
		case HT_OP_THREAD_EXIT:
			failed = 0;
			break;
		default:
alloc:
			ev.size = size_pick();
			if (ev.op == HT_OP_CALLOC) {
				ev.nmemb = 1 + rnd() % 64;
				ev.size = 1 + ev.size / 8;
			}
			if (ev.op == HT_OP_POSIX_MEMALIGN ||
			    ev.op == HT_OP_ALIGNED_ALLOC ||
			    ev.op == HT_OP_MEMALIGN)
				ev.align = 1ull << (3 + rnd() % 10);
			if (!failed && (ev.size || rnd() % 2)) {
				ev.addr = addr_pick();
				push(ev.addr, 0, t->pid);
			}
			break;
		}
		if (failed && ev.op != HT_OP_THREAD_EXIT) {
			ev.flags = HT_EV_FAILED;
			ev.addr = 0;
			ev.result = rnd() % 2 ? ENOMEM :
				    ev.op == HT_OP_POSIX_MEMALIGN ? EINVAL : 0;
		}
		if ((err = ht_writer_put(w, &ev))) {
			fprintf(stderr, "csvgen: %s\n", ht_strerror(err));
			return 1;
		}
	}
	if ((err = ht_writer_close(w)) || close(fd)) {
		fprintf(stderr, "csvgen: cannot write %s\n", argv[1]);
		return 1;
	}
	return 0;
}
