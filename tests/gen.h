/*
 * gen.h - the seeded random event generator shared by the format tests,
 * tests/tools/gentrace.c and bench/bench_format.c.  Like xxHash's sanity
 * buffer, the values it produces for a seed must never change: expected
 * outputs and corpora depend on them.
 */
#ifndef HT_GEN_H
#define HT_GEN_H

#include <stdint.h>
#include <string.h>

#include "heaptape.h"

struct gen {
	uint64_t s;
};

static inline uint64_t gen_u64(struct gen *g)
{
	uint64_t z = (g->s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static inline uint64_t gen_below(struct gen *g, uint64_t n)
{
	return n ? gen_u64(g) % n : 0;
}

/* A trace UUID drawn from g: the same seed writes the same file. */
static inline void gen_uuid(struct gen *g, uint8_t uuid[16])
{
	for (int i = 0; i < 16; i++)
		uuid[i] = (uint8_t)gen_u64(g);
}

/* Every op heaptape.h defines, plus one it does not (200). */
static const uint8_t gen_ops[] = {
	HT_OP_MALLOC, HT_OP_CALLOC, HT_OP_REALLOC, HT_OP_REALLOCARRAY,
	HT_OP_FREE, HT_OP_POSIX_MEMALIGN, HT_OP_ALIGNED_ALLOC, HT_OP_MEMALIGN,
	HT_OP_VALLOC, HT_OP_PVALLOC, HT_OP_FREE_SIZED,
	HT_OP_FREE_ALIGNED_SIZED, HT_OP_HEAP_CREATE, HT_OP_HEAP_ALLOC,
	HT_OP_HEAP_REALLOC, HT_OP_HEAP_FREE, HT_OP_HEAP_DESTROY,
	HT_OP_THREAD_EXIT, 200
};

/* An edge value for a 64-bit field, or a plain random one. */
static inline uint64_t gen_edge(struct gen *g, int wide)
{
	switch (gen_below(g, 8)) {
	case 0: return 0;
	case 1: return UINT64_MAX;
	case 2: return gen_u64(g) & 0xffffffffu;    /* 32-bit process */
	case 3: return 1ull << gen_below(g, 64);
	default: return wide ? gen_u64(g) : gen_below(g, 4096);
	}
}

/*
 * Event i of thread t: every op, only the fields that op carries set
 * (spec/FORMAT.md "Op table"); ts strictly increasing per thread.
 * edge != 0 mixes in extreme values.
 */
static inline void gen_event(struct gen *g, struct ht_event *e, uint64_t *ts,
			     uint32_t pid, uint32_t tid, int edge)
{
	uint8_t op = gen_ops[gen_below(g, sizeof(gen_ops))];
	uint64_t a = 0x7f0000000000ull + (gen_below(g, 1 << 16) << 4);

	memset(e, 0, sizeof(*e));
	*ts += 1 + gen_below(g, 1000);
	e->ts = *ts;
	e->pid = pid;
	e->tid = tid;
	e->op = op;
	if (edge && gen_below(g, 3) == 0)
		a = gen_edge(g, 1);
	switch (op) {
	case HT_OP_MALLOC:
	case HT_OP_VALLOC:
	case HT_OP_PVALLOC:
	case HT_OP_FREE_SIZED:
		e->addr = a;
		e->size = edge ? gen_edge(g, 1) : gen_below(g, 512);
		break;
	case HT_OP_CALLOC:
		e->addr = a;
		e->size = gen_below(g, 64);
		e->nmemb = edge ? gen_edge(g, 1) : gen_below(g, 16);
		break;
	case HT_OP_REALLOC:
	case HT_OP_REALLOCARRAY:
	case HT_OP_HEAP_REALLOC:
		e->addr = a;
		e->size = edge ? gen_edge(g, 1) : gen_below(g, 4096);
		e->old_addr = a + 64 * gen_below(g, 3);
		e->old_size = gen_below(g, 2) ? gen_below(g, 100) : 0;
		if (op == HT_OP_REALLOCARRAY)
			e->nmemb = gen_below(g, 10);
		break;
	case HT_OP_FREE:
	case HT_OP_HEAP_FREE:
		e->addr = a;
		break;
	case HT_OP_POSIX_MEMALIGN:
	case HT_OP_ALIGNED_ALLOC:
	case HT_OP_MEMALIGN:
	case HT_OP_FREE_ALIGNED_SIZED:
		e->addr = a;
		e->size = gen_below(g, 1000);
		e->align = 1ull << gen_below(g, edge ? 64 : 13);
		break;
	case HT_OP_HEAP_ALLOC:
		e->addr = a;
		e->size = gen_below(g, 1000);
		break;
	case 200:
		e->addr = a;
		e->size = gen_edge(g, 1);
		e->old_addr = gen_edge(g, 1);
		e->old_size = gen_edge(g, 0);
		e->align = gen_edge(g, 0);
		e->nmemb = gen_edge(g, 0);
		e->heap = gen_edge(g, 1);
		e->aux = (uint32_t)gen_u64(g);
		break;
	default:
		break;
	}
	if (op >= HT_OP_HEAP_CREATE && op <= HT_OP_HEAP_DESTROY) {
		e->heap = 0x10000 + 0x1000 * gen_below(g, 4);
		e->aux = (uint32_t)gen_below(g, 3);
	}
	if (gen_below(g, 50) == 0 && ht_op_allocates(op)) {
		e->flags = HT_EV_FAILED;
		e->addr = 0;
		e->result = gen_below(g, 2) ? 12 : -1;
	}
	if (ht_op_is_realloc(op) && e->addr == e->old_addr && e->addr)
		e->flags |= HT_EV_INPLACE;
}

#endif /* HT_GEN_H */
