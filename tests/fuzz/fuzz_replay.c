/*
 * fuzz_replay.c - the replay planner (replay/plan.c) on arbitrary event
 * sequences, then a check of the plan it wrote by simulating it: streams
 * run round-robin, an op runs only when its hand-off wait, its epoch
 * window (the strictest, one epoch) and its spawn allow.  The simulation
 * must finish every stream (no deadlock), every release must name a live
 * block, every creation a free slot, and the calls must add up.
 *
 * Input: 6 bytes per event (op, thread, address, old address, size, heap
 * and flags); addresses come from 16 values so that reuse, hand-offs,
 * unknown and double frees and inversions are frequent.  The first byte
 * chooses --threads=1 and how many traces (1 to 3, a process tree) the
 * events are spread over; their pids repeat across traces, as reused
 * pids do.  With several traces every block is freed by the end: a
 * trace's end frees what its processes left live (RF_EXIT, not a call),
 * and with a window its streams' slots are reused by later processes:
 * the simulation checks that no slot is made while still in use.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../convert/evpipe.h"
#include "../../replay/replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t ops[] = {
	HT_OP_MALLOC, HT_OP_MALLOC, HT_OP_FREE, HT_OP_FREE, HT_OP_REALLOC,
	HT_OP_CALLOC, HT_OP_POSIX_MEMALIGN, HT_OP_FREE_SIZED,
	HT_OP_REALLOCARRAY, HT_OP_VALLOC, HT_OP_HEAP_ALLOC, HT_OP_HEAP_FREE,
	HT_OP_HEAP_REALLOC, HT_OP_HEAP_DESTROY, HT_OP_THREAD_EXIT, 77,
};

static void check_plan(const uint8_t *m, size_t len,
		       const struct plan_info *in, int several)
{
	const struct rp_header *h = (const void *)m;
	const struct rp_stream *st;
	const uint32_t *nep;
	const struct rp_op **pc, **marked;
	uint8_t *state; /* 0 not started, 1 running, 2 done */
	uint32_t *seq, *edone, wm = 0;
	uint8_t *live;
	uint64_t calls = 0, left;
	int progress;

	if (len < sizeof(*h) || h->magic != RP_PLAN_MAGIC ||
	    h->file_size != len || h->op_size != sizeof(struct rp_op) ||
	    h->streams_off + (uint64_t)h->nstreams * sizeof(*st) > len ||
	    h->epochs_off + h->nepochs * 4 > len)
		abort();
	st = (const void *)(m + h->streams_off);
	nep = (const void *)(m + h->epochs_off);
	pc = calloc(h->nstreams + 1, sizeof(*pc));
	marked = calloc(h->nstreams + 1, sizeof(*marked));
	state = calloc(h->nstreams + 1, 1);
	seq = calloc(h->nslots + 1, sizeof(*seq));
	live = calloc(h->nslots + 1, 1);
	edone = calloc(h->nepochs + 1, sizeof(*edone));
	if (!pc || !marked || !state || !seq || !live || !edone)
		abort();
	left = h->nstreams;
	for (uint32_t i = 0; i < h->nstreams; i++) {
		if (st[i].first % 8 || st[i].first + sizeof(**pc) > len)
			abort();
		pc[i] = (const void *)(m + st[i].first);
		if (st[i].spawner == RP_NONE)
			state[i] = 1;
		else if (st[i].spawner >= h->nstreams)
			abort();
	}
	do {
		progress = 0;
		for (uint32_t i = 0; i < h->nstreams; i++) {
			while (state[i] == 1) {
				const struct rp_op *op = pc[i];
				if ((const uint8_t *)(op + 1) > m + len)
					abort();
				if (op->kind == RK_NEXT) {
					if (op->size % 8 ||
					    op->size + sizeof(*op) > len)
						abort();
					pc[i] = (const void *)(m + op->size);
					continue;
				}
				if (op->kind == RK_END) {
					state[i] = 2;
					left--;
					progress = 1;
					break;
				}
				if (op->kind == RK_EPOCH) {
					/* as the worker: mark the epoch
					 * done once, then wait */
					if (op->size != RP_NO_EPOCH &&
					    marked[i] != op) {
						if (op->size >= h->nepochs)
							abort();
						edone[op->size]++;
						marked[i] = op;
						while (wm < h->nepochs &&
						       edone[wm] == nep[wm])
							wm++;
					}
					/* blocked: retry later */
					if (op->arg != RP_NO_EPOCH &&
					    op->arg > 1 && wm < op->arg - 1)
						break;
				} else if (op->kind == RK_SPAWN) {
					if (op->slot2 >= h->nstreams ||
					    state[op->slot2] ||
					    st[op->slot2].spawner != i)
						abort();
					state[op->slot2] = 1;
				} else if (op->kind > 0 && op->kind < RK_NCALLS) {
					if (op->slot2 != RP_NONE &&
					    op->slot2 >= h->nslots)
						abort();
					if (op->slot != RP_NONE &&
					    op->slot >= h->nslots)
						abort();
					if ((op->flags & RF_WAIT) &&
					    seq[op->slot2] < op->wseq)
						break; /* blocked */
					if (op->slot2 != RP_NONE) {
						if (!live[op->slot2])
							abort();
						live[op->slot2] = 0;
					}
					if (op->slot != RP_NONE) {
						if (live[op->slot])
							abort();
						live[op->slot] = 1;
						if (op->flags & RF_PUBLISH)
							seq[op->slot]++;
					}
					if (!(op->flags & RF_EXIT))
						calls++;
				} else {
					abort();
				}
				pc[i] = op + 1;
				progress = 1;
			}
		}
	} while (progress && left);
	if (left || calls != in->nops || calls != h->nops)
		abort(); /* a stream never finished: the plan deadlocks */
	for (uint64_t k = 0; several && k < h->nslots; k++)
		if (live[k])
			abort(); /* a process's block outlived its trace */
	free(pc);
	free(marked);
	free(state);
	free(seq);
	free(live);
	free(edone);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ht_writer *w[3];
	struct evsrc src[3];
	struct plan_opts po = { .max_block = 1ull << 30 };
	struct plan_info info;
	int tfd[3], pfd = memfd_create("plan", 0);
	uint64_t ts = 1000;
	size_t nt = 1;
	off_t len;
	void *m;

	if (pfd < 0)
		abort();
	if (size) {
		po.one_thread = data[0] & 1;
		nt = 1 + (size_t)((data[0] >> 1) & 3) % 3;
		/* the simulation's window (one epoch), or none: ended
		 * processes' slots reused, or never */
		po.window = (data[0] >> 3) & 1;
	}
	memset(src, 0, sizeof(src));
	for (size_t t = 0; t < nt; t++)
		if ((tfd[t] = memfd_create("trace", 0)) < 0 ||
		    ht_writer_open(&w[t], tfd[t], NULL))
			abort();
	for (size_t i = 1; i + 6 <= size; i += 6) {
		const uint8_t *b = data + i;
		struct ht_event ev = { 0 };
		size_t t = (size_t)(b[1] >> 4) % nt;

		ev.op = ops[b[0] & 15];
		ev.tid = 1 + (b[1] & 7);
		ev.pid = 100 + ((b[1] >> 3) & 1);
		ev.addr = (b[2] & 16) ? 0 : 0x1000 + (b[2] & 15) * 16u;
		ev.old_addr = (b[3] & 16) ? 0 : 0x1000 + (b[3] & 15) * 16u;
		ev.size = b[4];
		ev.heap = (ev.op >= HT_OP_HEAP_CREATE) ? 1 + (b[5] & 1) : 0;
		ev.flags = (b[5] & 0x80) ? HT_EV_FAILED : 0;
		if (ev.op == HT_OP_CALLOC || ev.op == HT_OP_REALLOCARRAY)
			ev.nmemb = 1 + (b[5] & 3);
		if (ev.op == HT_OP_POSIX_MEMALIGN)
			ev.align = 16;
		if (ev.flags & HT_EV_FAILED)
			ev.addr = 0;
		if (!ht_op_is_realloc(ev.op))
			ev.old_addr = 0;
		if (ev.op == HT_OP_THREAD_EXIT || ev.op == HT_OP_HEAP_DESTROY)
			ev.addr = ev.size = 0;
		ev.ts = ts += 1 + (b[5] & 7);
		if (ht_writer_put(w[t], &ev))
			abort();
	}
	for (size_t t = 0; t < nt; t++) {
		if (ht_writer_close(w[t]) ||
		    ht_reader_open_fd(&src[t].r, tfd[t], HT_READ_STRICT) ||
		    evpipe_open(&src[t].p, src[t].r, HT_READ_STRICT, 0))
			abort();
		src[t].path = "trace";
	}
	if (plan_build(src, nt, pfd, &po, &info))
		abort();
	for (size_t t = 0; t < nt; t++) {
		evpipe_close(src[t].p);
		ht_reader_close(src[t].r);
		close(tfd[t]);
	}
	len = lseek(pfd, 0, SEEK_END);
	m = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, pfd, 0);
	if (m == MAP_FAILED)
		abort();
	check_plan(m, (size_t)len, &info, nt > 1);
	munmap(m, (size_t)len);
	close(pfd);
	return 0;
}
