/*
 * plan.h - the replay plan and result files: the contract between
 * `heaptape replay` (which builds the plan, replay/plan.c) and
 * heaptape-replay-worker (which runs it under the allocator under test,
 * replay/worker/worker.c).  Both sides are built from this tree at the same
 * time, so the layout is private and only checked by magic and size.
 *
 * Plan file: a header (RP_HEADER_BYTES), then chunks of fixed-size ops, then
 * the stream table.  Each recorded thread is one stream: a chain of chunks,
 * each ending with RK_NEXT (the file offset of the stream's next chunk) or
 * RK_END.  The worker maps the file read-only and walks each stream in its
 * own pthread, so the plan never has to fit in memory.
 *
 * Blocks are named by dense slot ids.  A block that passes between threads
 * (created by stream A, released by stream B) is a wait edge: A's creating
 * op carries RF_PUBLISH, which bumps the slot's sequence number once the
 * block is usable, and B's releasing op carries RF_WAIT with the sequence
 * number to wait for.  Nothing else is ordered across threads.
 *
 * Skew window: the ops in global order are cut into epochs of
 * RP_EPOCH_OPS ops.  A stream marks (RK_EPOCH) that it has finished its ops
 * of an epoch, and before its first op of epoch e waits until every epoch
 * below e - window is finished.  So no thread runs ahead of the others by
 * more than the window, as the recorded threads did not (a producer would
 * otherwise allocate its whole run before its consumers free anything).
 * The plan stores, per epoch, how many streams have ops in it.
 *
 * Result file: written by the worker into a MAP_SHARED mapping that the
 * parent created, read by the parent after the worker exits.
 */
#ifndef HT_REPLAY_PLAN_H
#define HT_REPLAY_PLAN_H

#include <stdint.h>

#define RP_PLAN_MAGIC 0x314e414c50505248ull   /* "HRPPLAN1" */
#define RP_RESULT_MAGIC 0x3154534552505248ull /* "HRPREST1" */
#define RP_HEADER_BYTES 4096
#define RP_NONE 0xffffffffu                   /* no slot / no stream */
#define RP_EPOCH_OPS 256

/* Op kinds: the allocator call to make (not the recorded op). */
enum rp_kind {
	RK_MALLOC = 1,
	RK_CALLOC,
	RK_REALLOC,       /* slot2 released (RP_NONE: realloc(NULL, n)),
			     slot created (RP_NONE: realloc(p, 0) frees) */
	RK_REALLOCARRAY,
	RK_FREE,          /* slot2 released (RP_NONE: free(NULL)) */
	RK_POSIX_MEMALIGN,
	RK_ALIGNED_ALLOC,
	RK_MEMALIGN,
	RK_VALLOC,
	RK_PVALLOC,
	RK_FREE_SIZED,
	RK_FREE_ALIGNED_SIZED,
	RK_NCALLS,        /* kinds below are harness ops, not timed */
	RK_SPAWN = 20,    /* start stream slot2 */
	RK_NEXT,          /* continue at file offset size */
	RK_END,
	RK_EPOCH          /* size: epoch finished by this stream (or
			     RP_NO_EPOCH); arg: epoch of its next op (or
			     RP_NO_EPOCH): wait for the window */
};
#define RP_NO_EPOCH UINT64_MAX

/* Names of the call kinds for reports (index by enum rp_kind). */
#define RP_KIND_NAMES                                                      \
	{ "", "malloc", "calloc", "realloc", "reallocarray", "free",       \
	  "posix_memalign", "aligned_alloc", "memalign", "valloc",          \
	  "pvalloc", "free_sized", "free_aligned_sized" }

#define RF_WAIT 0x1u    /* wait until slot2's seq >= wseq before the call */
#define RF_PUBLISH 0x2u /* after creating slot, bump its seq */
#define RF_EXIT 0x4u    /* a free of a block its process left live at
			   exit, or HeapDestroy released: made, but
			   neither timed nor counted */
#define RF_PEAK 0x8u    /* the live requested bytes reach their peak
			   here: read the RSS right after the call */

/* One op: 40 bytes.  wseq only with RF_WAIT. */
struct rp_op {
	uint8_t kind;
	uint8_t flags;
	uint16_t pad;
	uint32_t slot;   /* block created */
	uint32_t slot2;  /* block released; RK_SPAWN: stream */
	uint32_t wseq;
	uint64_t size;   /* bytes (element size for calloc/reallocarray);
			    RK_NEXT: file offset */
	uint64_t arg;    /* nmemb, or alignment */
	uint64_t ts;     /* ns since the first event (recorded timing) */
};

struct rp_stream {
	uint64_t first;   /* file offset of the first op */
	uint64_t ops;     /* ops in the stream (harness ops included) */
	uint32_t pid, tid;
	uint32_t spawner; /* stream that starts it; RP_NONE: the worker */
	uint32_t pad;
};

#define RP_OPT_TOUCH 0x1u
#define RP_OPT_CHECK 0x2u
#define RP_OPT_RECORDED 0x4u /* --timing=recorded */

struct rp_header {
	uint64_t magic;
	uint32_t op_size, nstreams;
	uint64_t nslots;
	uint64_t nops;          /* call ops over all streams */
	uint64_t streams_off;   /* file offset of the stream table */
	uint64_t file_size;
	uint64_t nepochs;       /* 0: no epoch markers (--threads=1) */
	uint64_t epochs_off;    /* uint32_t streams per epoch */
	/* Set by the parent per run (the worker reads them from here). */
	uint32_t options;       /* RP_OPT_* */
	uint32_t sample;        /* time one call in every `sample` */
	double speed;           /* recorded timing: > 1 is faster */
	uint32_t window;        /* epochs of skew allowed; 0 = unlimited */
};

/* Latency histogram: log-linear, 16 sub-buckets per power of two (error
 * below 1/16), in TSC ticks or ns. */
#define RP_HIST_SUB_BITS 4
#define RP_HIST_BUCKETS (32 + 59 * 16)

static inline unsigned rp_hist_index(uint64_t v)
{
	unsigned e;

	if (v < 32)
		return (unsigned)v;
	e = 63 - (unsigned)__builtin_clzll(v); /* >= 5 */
	return 32 + (e - 5) * 16 +
	       (unsigned)((v >> (e - RP_HIST_SUB_BITS)) & 15);
}

/* Lowest value of bucket i (reports use the bucket's midpoint). */
static inline uint64_t rp_hist_low(unsigned i)
{
	unsigned e, sub;

	if (i < 32)
		return i;
	e = (i - 32) / 16 + 5;
	sub = (i - 32) % 16;
	return ((uint64_t)16 + sub) << (e - RP_HIST_SUB_BITS);
}

struct rp_kind_stats {
	uint64_t count;   /* calls made */
	uint64_t timed;   /* calls timed (count / sample) */
	uint64_t max;     /* ticks */
	uint64_t sum;     /* ticks of the timed calls */
	uint64_t hist[RP_HIST_BUCKETS];
};

/* One timed call of v ticks. */
static inline void rp_kind_add(struct rp_kind_stats *k, uint64_t v)
{
	k->timed++;
	k->hist[rp_hist_index(v)]++;
	k->sum += v;
	if (v > k->max)
		k->max = v;
}

/* Value at quantile q of the n values counted in the first nb buckets
 * hist[0..nb) (the last takes every larger value): the midpoint of its
 * bucket; -1 if n is 0. */
static inline double rp_hist_pick(const uint64_t *hist, unsigned nb,
				  uint64_t n, double q)
{
	uint64_t want, seen = 0;

	if (!n)
		return -1;
	want = (uint64_t)(q * (double)n);
	if (want < 1)
		want = 1;
	if (want > n)
		want = n;
	for (unsigned i = 0; i < nb; i++) {
		seen += hist[i];
		if (seen >= want) {
			double lo = (double)rp_hist_low(i);
			double hi = i + 1 < RP_HIST_BUCKETS
					    ? (double)rp_hist_low(i + 1)
					    : lo;

			return i < 32 ? lo : (lo + hi) / 2;
		}
	}
	return -1;
}

/* Value at quantile q of k's timed calls, in ticks: the midpoint of its
 * bucket, at most the largest. */
static inline double rp_hist_quantile(const struct rp_kind_stats *k,
				      double q)
{
	double v = rp_hist_pick(k->hist, RP_HIST_BUCKETS, k->timed, q);
	double mx = (double)k->max;

	if (!k->timed)
		return 0;
	return v < 0 || v > mx ? mx : v;
}

#define RP_SERIES_MAX 4096

struct rp_result {
	uint64_t magic;
	int32_t status;          /* 0 ok, 1 replay failed (see error) */
	uint32_t nseries;
	double wall_s, user_s, sys_s;
	double tick_ns;          /* ns per histogram tick */
	uint64_t timer_ticks;    /* least ticks between two clock reads:
				    the timer's own share of each sample */
	uint64_t page_faults;    /* minor + major during replay */
	uint64_t baseline_rss;   /* anonymous resident bytes before replay */
	uint64_t peak_rss;       /* peak anonymous resident bytes, minus
				    baseline */
	uint64_t calls;          /* allocator calls made */
	uint64_t null_results;   /* allocations that returned NULL */
	uint64_t content_errors; /* --check-contents mismatches */
	uint64_t fallbacks;      /* calls redirected: the allocator lacks
				    the function (e.g. pvalloc) */
	uint64_t threads;        /* replay threads started */
	double stall_s;          /* wall time with every replay thread
				    asleep on a hand-off or the window */
	char allocator[256];     /* the object malloc resolved to */
	char error[512];
	struct rp_kind_stats kinds[RK_NCALLS];
	double series_t[RP_SERIES_MAX];
	uint64_t series_bytes[RP_SERIES_MAX];
};

#endif
