/*
 * replay_gen.c - seeded synthetic traces for tests/t_replay.sh.
 *
 *   replay_gen MODE OUT [threads] [events] [seed]
 *
 * MODE:
 *   mix      every C allocation call, blocks freed by other threads,
 *            addresses reused across threads (LIFO), threads that exit
 *            and new ones that start later
 *   prodcons producers allocate, consumers free (every block crosses)
 *   hostile  mix plus unknown frees, double frees, failed calls, reuse
 *            inversions, a loss record, Windows heap ops, an unknown op
 *   heap     Windows heap ops only, HeapDestroy with live blocks
 *   pids     mix in two processes whose address ranges overlap
 * Prints nothing; the checks compare replay with `heaptape stat`.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heaptape.h"

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct blk {
	uint64_t addr, size;
	uint32_t tid;
};

static struct blk *live;
static size_t nlive, caplive;
static uint64_t *freeaddr;
static size_t nfree;
static uint64_t next_addr = 0x10000, ts = 1000;
static struct ht_writer *w;
static uint32_t pid = 4242;

static void put(struct ht_event *ev)
{
	ev->pid = ev->pid ? ev->pid : pid;
	ev->ts = ts;
	ts += 1 + rnd() % 500;
	if (ht_writer_put(w, ev)) {
		fprintf(stderr, "replay_gen: write failed\n");
		exit(1);
	}
}

static uint64_t new_addr(void)
{
	if (nfree && rnd() % 4)
		return freeaddr[--nfree];
	next_addr += 4096;
	return next_addr;
}

static void add_live(uint64_t addr, uint64_t size, uint32_t tid)
{
	if (nlive == caplive) {
		caplive = caplive ? caplive * 2 : 1024;
		live = realloc(live, caplive * sizeof(*live));
		if (!live)
			exit(1);
	}
	live[nlive].addr = addr;
	live[nlive].size = size;
	live[nlive].tid = tid;
	nlive++;
}

static struct blk take_live(size_t i)
{
	struct blk b = live[i];

	live[i] = live[--nlive];
	freeaddr[nfree++] = b.addr;
	return b;
}

static void mix_event(uint32_t tid, int hostile)
{
	struct ht_event ev = { 0 };
	uint64_t size = 1 + rnd() % (rnd() % 8 ? 512 : 300000);
	int r = (int)(rnd() % 100);

	ev.tid = tid;
	if (nlive > 2000 || (nlive && r < 45)) {
		/* free (or realloc) a random live block, often of another
		 * thread */
		size_t i = rnd() % nlive;
		struct blk b = take_live(i);
		int k = (int)(rnd() % 10);
		if (k == 0) {
			ev.op = HT_OP_REALLOC;
			ev.old_addr = b.addr;
			ev.addr = new_addr();
			ev.size = size;
			add_live(ev.addr, size, tid);
		} else if (k == 1) {
			ev.op = HT_OP_FREE_SIZED;
			ev.addr = b.addr;
			ev.size = b.size;
		} else if (k == 2) {
			ev.op = HT_OP_REALLOC; /* realloc(p, 0) frees */
			ev.old_addr = b.addr;
		} else {
			ev.op = HT_OP_FREE;
			ev.addr = b.addr;
		}
		put(&ev);
		return;
	}
	ev.addr = new_addr();
	ev.size = size;
	switch (r % 12) {
	case 0:
		ev.op = HT_OP_CALLOC;
		ev.nmemb = 1 + rnd() % 8;
		ev.size = 1 + size / 8;
		break;
	case 1:
		ev.op = HT_OP_POSIX_MEMALIGN;
		ev.align = 16u << (rnd() % 8);
		break;
	case 2:
		ev.op = HT_OP_ALIGNED_ALLOC;
		ev.align = 64;
		ev.size = (size + 63) & ~63ull;
		break;
	case 3:
		ev.op = HT_OP_MEMALIGN;
		ev.align = 4096;
		break;
	case 4:
		ev.op = r < 50 ? HT_OP_VALLOC : HT_OP_PVALLOC;
		break;
	case 5:
		ev.op = HT_OP_REALLOC; /* realloc(NULL, n) */
		break;
	case 6:
		ev.op = HT_OP_REALLOCARRAY;
		ev.nmemb = 1 + rnd() % 4;
		ev.size = 1 + size / 4;
		break;
	default:
		ev.op = HT_OP_MALLOC;
	}
	add_live(ev.addr, ht_event_bytes(&ev), tid);
	put(&ev);
	if (hostile && rnd() % 50 == 0) {
		struct ht_event f = { .op = HT_OP_FREE, .tid = tid };
		f.addr = 0xdead0000 + (rnd() % 1000) * 16; /* unknown */
		put(&f);
	}
	if (hostile && rnd() % 60 == 0 && nlive) {
		/* double free: free a live block twice */
		size_t i = rnd() % nlive;
		struct ht_event f = { .op = HT_OP_FREE, .tid = tid };
		struct blk b = take_live(i);
		f.addr = b.addr;
		put(&f);
		put(&f);
	}
	if (hostile && rnd() % 70 == 0) {
		struct ht_event f = { .op = HT_OP_MALLOC, .tid = tid,
				      .size = 1ull << 45,
				      .flags = HT_EV_FAILED, .result = 12 };
		put(&f);
	}
	if (hostile && rnd() % 80 == 0 && nlive) {
		/* reuse inversion: another thread's malloc of a live address
		 * is seen before the free of it */
		size_t i = rnd() % nlive;
		struct blk b = live[i];
		struct ht_event a = { .op = HT_OP_MALLOC, .tid = tid + 1,
				      .addr = b.addr, .size = 77 };
		struct ht_event f = { .op = HT_OP_FREE, .tid = b.tid,
				      .addr = b.addr };
		put(&a);
		put(&f);
		live[i].size = 77;
		live[i].tid = tid + 1;
	}
}

static void gen_mix(uint32_t threads, uint64_t events, int hostile)
{
	uint32_t base = 100, alive = threads;

	for (uint64_t e = 0; e < events; e++) {
		uint32_t tid = base + (uint32_t)(rnd() % alive);
		mix_event(tid, hostile);
		if (e % (events / 8 + 1) == events / 8 && alive > 1) {
			/* the last thread exits; a new one will take its
			 * place later with a new tid */
			struct ht_event x = { .op = HT_OP_THREAD_EXIT,
					      .tid = base + alive - 1 };
			put(&x);
			base += 1000;
		}
	}
	if (hostile) {
		struct ht_loss l = { .ts_from = ts, .ts_to = ts + 10,
				     .pid = pid, .tid = base, .events = 5,
				     .reason = HT_LOSS_BUFFERS };
		struct ht_event u = { .op = 99, .tid = base, .addr = 1 };
		struct ht_event big = { .op = HT_OP_MALLOC, .tid = base,
					.addr = 0x7f0000000000ull,
					.size = 1ull << 45 };
		ht_writer_loss(w, &l);
		put(&u);
		put(&big); /* "succeeded": more than any test machine */
	}
}

static void gen_prodcons(uint32_t threads, uint64_t events)
{
	uint32_t np = threads / 2 ? threads / 2 : 1;
	uint32_t nc = threads - np ? threads - np : 1;

	for (uint64_t e = 0; e < events; e++) {
		struct ht_event ev = { 0 };
		if (nlive < 64 && (nlive < 8 || rnd() % 2)) {
			ev.op = HT_OP_MALLOC;
			ev.tid = 10 + (uint32_t)(rnd() % np);
			ev.addr = new_addr();
			ev.size = 16 + rnd() % 2000;
			add_live(ev.addr, ev.size, ev.tid);
		} else {
			struct blk b = take_live(rnd() % nlive);
			ev.tid = 1000 + (uint32_t)(rnd() % nc);
			if (rnd() % 4 == 0) {
				/* the consumer grows the block, then it
				 * goes back to a producer to free */
				ev.op = HT_OP_REALLOC;
				ev.old_addr = b.addr;
				ev.addr = new_addr();
				ev.size = b.size * 2;
				add_live(ev.addr, ev.size,
					 10 + (uint32_t)(rnd() % np));
			} else {
				ev.op = HT_OP_FREE;
				ev.addr = b.addr;
			}
		}
		put(&ev);
	}
}

static void gen_heap(uint64_t events)
{
	uint64_t heaps[3] = { 0x5000000, 0x6000000, 0x7000000 };

	for (int h = 0; h < 3; h++) {
		struct ht_event ev = { .op = HT_OP_HEAP_CREATE, .tid = 7,
				       .heap = heaps[h] };
		put(&ev);
	}
	for (uint64_t e = 0; e < events; e++) {
		struct ht_event ev = { .tid = 7 + (uint32_t)(rnd() % 3) };
		uint64_t heap = heaps[rnd() % 3];
		if (nlive && rnd() % 3 == 0) {
			size_t i = rnd() % nlive;
			struct blk b = live[i];
			live[i] = live[--nlive];
			ev.heap = b.tid; /* heap kept in tid field */
			if (rnd() % 4 == 0) {
				ev.op = HT_OP_HEAP_REALLOC;
				ev.old_addr = b.addr;
				ev.addr = (next_addr += 4096);
				ev.size = 100 + rnd() % 5000;
				add_live(ev.addr, ev.size, b.tid);
			} else {
				ev.op = HT_OP_HEAP_FREE;
				ev.addr = b.addr;
			}
		} else {
			ev.op = HT_OP_HEAP_ALLOC;
			ev.heap = heap;
			ev.addr = (next_addr += 4096);
			ev.size = 16 + rnd() % 3000;
			add_live(ev.addr, ev.size, (uint32_t)heap);
		}
		put(&ev);
		if (e == events / 2) {
			/* destroy one heap with its live blocks */
			struct ht_event d = { .op = HT_OP_HEAP_DESTROY,
					      .tid = 8, .heap = heaps[1] };
			size_t k = 0;
			put(&d);
			for (size_t i = 0; i < nlive; i++)
				if (live[i].tid != (uint32_t)heaps[1])
					live[k++] = live[i];
			nlive = k;
			heaps[1] = 0x8000000;
		}
	}
}

int main(int argc, char **argv)
{
	uint32_t threads;
	uint64_t events;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: replay_gen mix|prodcons|hostile|heap "
				"OUT [threads] [events] [seed]\n");
		return 2;
	}
	threads = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) : 4;
	events = argc > 4 ? strtoull(argv[4], NULL, 0) : 20000;
	if (argc > 5)
		rng ^= strtoull(argv[5], NULL, 0) * 0x9e3779b97f4a7c15ull;
	if (!threads)
		threads = 1;
	freeaddr = malloc((events * 2 + 16) * sizeof(*freeaddr));
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || !freeaddr || ht_writer_open(&w, fd, NULL)) {
		fprintf(stderr, "replay_gen: cannot create '%s'\n", argv[2]);
		return 1;
	}
	if (!strcmp(argv[1], "mix"))
		gen_mix(threads, events, 0);
	else if (!strcmp(argv[1], "hostile"))
		gen_mix(threads, events, 1);
	else if (!strcmp(argv[1], "prodcons"))
		gen_prodcons(threads, events);
	else if (!strcmp(argv[1], "heap"))
		gen_heap(events);
	else if (!strcmp(argv[1], "pids")) {
		gen_mix(threads, events / 2, 0);
		/* a second process: same addresses, all blocks of the first
		 * still live in it, so any mix-up shows as a wrong peak */
		pid = 4343;
		nlive = nfree = 0;
		next_addr = 0x10000;
		gen_mix(threads, events / 2, 0);
	}
	else
		return 2;
	if (ht_writer_close(w) || close(fd)) {
		fprintf(stderr, "replay_gen: write failed\n");
		return 1;
	}
	return 0;
}
