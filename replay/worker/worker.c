/*
 * worker.c - heaptape-replay-worker: runs one replay plan (plan.h) with
 * whatever malloc the process has, i.e. the allocator that `heaptape
 * replay` put in LD_PRELOAD (none for glibc).
 *
 *   heaptape-replay-worker PLAN RESULT [EXPECTED-ALLOCATOR-PATH]
 *
 * The harness never calls malloc while replaying: its tables (slots, per
 * thread latency histograms, results) are MAP_SHARED mappings, which the
 * RSS figure leaves out (it counts anonymous private pages: the
 * allocator's heap, plus the replay threads' stacks, as the recorded
 * program had them), and the plan is a read-only file mapping.
 *
 * Each recorded thread is one pthread, started by an RK_SPAWN op of the
 * thread that ran just before it in the recording, so threads come and go
 * as they did.  Cross-thread hand-offs wait on a per-slot sequence number:
 * a short spin, then a futex.  A sampler thread reads /proc/self/statm
 * every millisecond for peak RSS and the RSS series, and the op that
 * reaches the ideal peak (RF_PEAK) reads it once more: a peak shorter
 * than the period is otherwise missed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "plan.h"

/* A block: 16 bytes, the only table every op touches. */
struct wslot {
	void *ptr;
	uint64_t size;      /* bytes requested, | ALIGNED */
};
#define ALIGNED (1ull << 63) /* made by an aligned op: see aux.align */

/* Touched only by hand-offs, --check-contents and aligned ops. */
struct wslot_aux {
	_Atomic uint32_t seq; /* publishes << 1 | waiter bit */
	uint32_t gen;       /* --check-contents pattern generation */
	uint64_t align;
};

static const struct rp_header *H;
static const char *plan_base;
static const struct rp_stream *streams;
static struct rp_result *R;
static struct wslot *slots;
static struct wslot_aux *aux;
/* Latency statistics: one set per running thread, not per recorded one
 * (a trace with thousands of short threads would otherwise touch MBs per
 * thread); a thread takes a free set when it starts and gives it back
 * when it ends, and the sets are summed at the end (they only add up). */
static struct rp_kind_stats *kstats; /* nsets * RK_NCALLS */
static uint32_t *kfree, nkfree, nsets;
static pthread_mutex_t klock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t opts, sample;
static double speed;
static uint64_t start_ns;
static long pagesize;
static pthread_attr_t tattr;
static _Atomic uint32_t started, done, aborted;
static _Atomic uint64_t content_errors, null_results, fallbacks;
static _Atomic int error_set;
static const uint32_t *ep_need;      /* streams per epoch (plan) */
static _Atomic uint32_t *ep_done;   /* streams that finished it */
static _Atomic uint32_t ep_mark;    /* epochs [0, ep_mark) all finished */
static uint32_t window;

/* The allocator's functions; NULL when it lacks one (then a fallback that
 * stays inside the allocator is used). */
static void *(*f_reallocarray)(void *, size_t, size_t);
static void *(*f_aligned_alloc)(size_t, size_t);
static void *(*f_memalign)(size_t, size_t);
static void *(*f_valloc)(size_t);
static void *(*f_pvalloc)(size_t);
static int (*f_posix_memalign)(void **, size_t, size_t);
static void *(*f_calloc)(size_t, size_t);
static void *(*f_realloc)(void *, size_t);
static void (*f_free_sized)(void *, size_t);
static void (*f_free_aligned_sized)(void *, size_t, size_t);

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline uint64_t ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __rdtsc();
#else
	return now_ns();
#endif
}

static void set_error(const char *fmt, uint64_t a, uint64_t b, uint64_t c)
{
	int expect = 0;

	if (atomic_compare_exchange_strong(&error_set, &expect, 1))
		snprintf(R->error, sizeof(R->error), fmt,
			 (unsigned long long)a, (unsigned long long)b,
			 (unsigned long long)c);
}

static long futex(_Atomic uint32_t *addr, int op, uint32_t val,
		  const struct timespec *to)
{
	return syscall(SYS_futex, (uint32_t *)addr, op, val, to, NULL, 0);
}

static inline int seq_ok(uint32_t v, uint32_t want)
{
	return (int32_t)((v >> 1) - want) >= 0;
}

/* Replay threads not asleep in a futex wait.  While it is 0 and some
 * thread has not ended, the replay stands still on the harness: every
 * thread waits for a hand-off or the window, and the thread that can go
 * on has been woken but not yet run.  That wall time is the harness's,
 * not the allocator's (stall_ns). */
static _Atomic uint32_t awake;
static _Atomic uint64_t stall_from, stall_ns;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	_mm_pause();
#endif
}

static void awake_add(int up)
{
	if (up) {
		if (atomic_fetch_add(&awake, 1) == 0) {
			uint64_t from = atomic_exchange(&stall_from, 0);
			uint64_t now = now_ns();
			if (from && now > from)
				atomic_fetch_add(&stall_ns, now - from);
		}
	} else if (atomic_fetch_sub(&awake, 1) == 1) {
		atomic_store(&stall_from, now_ns());
	}
}

static void futex_sleep(_Atomic uint32_t *addr, uint32_t val,
			const struct timespec *to)
{
	awake_add(0);
	futex(addr, FUTEX_WAIT_PRIVATE, val, to);
	awake_add(1);
}

static void wait_seq(struct wslot_aux *s, uint32_t want)
{
	static const struct timespec to = { 0, 50 * 1000 * 1000 };
	uint32_t v;

	for (int i = 0; i < 256; i++) {
		if (seq_ok(atomic_load_explicit(&s->seq, memory_order_acquire),
			   want))
			return;
		cpu_relax();
	}
	for (;;) {
		v = atomic_load_explicit(&s->seq, memory_order_acquire);
		if (seq_ok(v, want) || atomic_load(&aborted))
			break;
		if (!(v & 1)) {
			if (!atomic_compare_exchange_weak(&s->seq, &v, v | 1))
				continue;
			v |= 1;
		}
		futex_sleep(&s->seq, v, &to);
	}
}

static void publish(struct wslot_aux *s)
{
	uint32_t old = atomic_fetch_add_explicit(&s->seq, 2,
						 memory_order_release);

	if (old & 1) {
		atomic_fetch_and(&s->seq, ~1u);
		futex(&s->seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
	}
}

/* --check-contents: a pattern that names the slot and its generation. */
static inline uint64_t pattern_key(uint32_t slot, uint32_t gen)
{
	uint64_t k = ((uint64_t)slot << 32 | gen) * 0x9e3779b97f4a7c15ull;
	return k ^ (k >> 29) ^ 0x5a5a5a5a5a5a5a5aull;
}

static void fill(unsigned char *p, uint64_t n, uint64_t key)
{
	uint64_t i, w;

	for (i = 0; i + 8 <= n; i += 8) {
		w = key + i * 0x100000001b3ull;
		memcpy(p + i, &w, 8);
	}
	w = key + i * 0x100000001b3ull;
	if (i < n)
		memcpy(p + i, &w, n - i);
}

/* Offset of the first byte that differs from the pattern, or n. */
static uint64_t verify(const unsigned char *p, uint64_t n, uint64_t key)
{
	uint64_t i, w;

	for (i = 0; i + 8 <= n; i += 8) {
		w = key + i * 0x100000001b3ull;
		if (memcmp(p + i, &w, 8))
			break;
	}
	for (; i < n; i++) {
		w = key + (i & ~7ull) * 0x100000001b3ull;
		if (p[i] != ((const unsigned char *)&w)[i & 7])
			return i;
	}
	return n;
}

static void content_error(const char *what, uint32_t slot, uint64_t off,
			  uint64_t size)
{
	char fmt[160];

	atomic_fetch_add(&content_errors, 1);
	snprintf(fmt, sizeof(fmt), "%s: slot %%llu, byte %%llu of %%llu", what);
	set_error(fmt, slot, off, size);
}

static void check_block(uint32_t slot, uint64_t n, const char *what)
{
	struct wslot *s = &slots[slot];
	uint64_t off;

	if (!s->ptr)
		return;
	off = verify(s->ptr, n, pattern_key(slot, aux[slot].gen));
	if (off < n)
		content_error(what, slot, off, n);
}

static void touch(unsigned char *p, uint64_t from, uint64_t n)
{
	volatile unsigned char *q = p;
	uint64_t i = from;

	while (i < n) {
		q[i] = 0;
		i = (((uintptr_t)(p + i) & ~(uintptr_t)(pagesize - 1)) +
		     (uintptr_t)pagesize) - (uintptr_t)p;
	}
}

static uint64_t bytes_of(const struct rp_op *op)
{
	uint64_t n;

	if (op->kind != RK_CALLOC && op->kind != RK_REALLOCARRAY)
		return op->size;
	if (__builtin_mul_overflow(op->size, op->arg, &n))
		return UINT64_MAX;
	return n;
}

static void *fb_memalign(size_t align, size_t size)
{
	void *p = NULL;

	atomic_fetch_add_explicit(&fallbacks, 1, memory_order_relaxed);
	if (align < sizeof(void *))
		align = sizeof(void *);
	if (f_posix_memalign && !(align & (align - 1))) {
		if (f_posix_memalign(&p, align, size))
			return NULL;
		return p;
	}
	if (f_aligned_alloc)
		return f_aligned_alloc(align, size);
	if (f_memalign)
		return f_memalign(align, size);
	return malloc(size);
}

/* One allocator call: returns the block created (or NULL) and the ticks
 * the call took in *dt. */
static inline __attribute__((always_inline)) void *
call(const struct rp_op *op, int kind, void *old, int timed, uint64_t *dt)
{
	uint64_t t0 = 0;
	void *p = NULL;
	size_t n;
	int rc;

	if (timed)
		t0 = ticks();
	switch (kind) {
	case RK_MALLOC:
		p = malloc(op->size);
		break;
	case RK_CALLOC:
		if (f_calloc) {
			p = f_calloc(op->arg, op->size);
		} else if (!__builtin_mul_overflow(op->arg, op->size, &n) &&
			   (p = malloc(n))) {
			memset(p, 0, n);
		}
		break;
	case RK_REALLOC:
		p = f_realloc ? f_realloc(old, op->size) : NULL;
		break;
	case RK_REALLOCARRAY:
		if (f_reallocarray) {
			p = f_reallocarray(old, op->arg, op->size);
		} else if (!__builtin_mul_overflow(op->arg, op->size, &n)) {
			atomic_fetch_add_explicit(&fallbacks, 1,
						  memory_order_relaxed);
			p = f_realloc ? f_realloc(old, n) : NULL;
		} else {
			errno = ENOMEM;
		}
		break;
	case RK_FREE:
		free(old);
		break;
	case RK_FREE_SIZED:
		if (f_free_sized)
			f_free_sized(old, op->size);
		else
			free(old);
		break;
	case RK_FREE_ALIGNED_SIZED:
		if (f_free_aligned_sized)
			f_free_aligned_sized(old, op->arg, op->size);
		else
			free(old);
		break;
	case RK_POSIX_MEMALIGN:
		if (f_posix_memalign) {
			rc = f_posix_memalign(&p, op->arg, op->size);
			if (rc)
				p = NULL;
		} else {
			p = fb_memalign(op->arg, op->size);
		}
		break;
	case RK_ALIGNED_ALLOC:
		p = f_aligned_alloc ? f_aligned_alloc(op->arg, op->size)
				    : fb_memalign(op->arg, op->size);
		break;
	case RK_MEMALIGN:
		p = f_memalign ? f_memalign(op->arg, op->size)
			       : fb_memalign(op->arg, op->size);
		break;
	case RK_VALLOC:
		p = f_valloc ? f_valloc(op->size)
			     : fb_memalign((size_t)pagesize, op->size);
		break;
	case RK_PVALLOC:
		n = (op->size + (uint64_t)pagesize - 1) &
		    ~(uint64_t)(pagesize - 1);
		p = f_pvalloc ? f_pvalloc(op->size)
			      : fb_memalign((size_t)pagesize,
					    n ? n : (size_t)pagesize);
		break;
	}
	if (timed)
		*dt = ticks() - t0;
	return p;
}

/* Sampler and peak reading: anonymous private resident bytes (statm
 * resident - shared). */
static int statm_fd = -1;

static uint64_t anon_rss(void)
{
	char buf[128];
	unsigned long size, res, shr;
	ssize_t n = pread(statm_fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = 0;
	if (sscanf(buf, "%lu %lu %lu", &size, &res, &shr) != 3 || res < shr)
		return 0;
	return (uint64_t)(res - shr) * (uint64_t)pagesize;
}

/* RF_PEAK: the RSS when the ideal peak's blocks are all live (once per
 * replay), and when (ns after start). */
static uint64_t peak_op_rss, peak_op_ns;
static _Atomic int peak_op_done;

static void peak_read(void)
{
	if (statm_fd < 0)
		return;
	peak_op_rss = anon_rss();
	peak_op_ns = now_ns() - start_ns;
	atomic_store_explicit(&peak_op_done, 1, memory_order_release);
}

static void run_op(const struct rp_op *op, struct rp_kind_stats *ks,
		   uint32_t *countdown)
{
	struct wslot *os = NULL, *ns;
	void *old = NULL, *p;
	uint64_t dt = 0, n, oldsize = 0;
	struct rp_kind_stats *k = &ks[op->kind];
	int check = opts & RP_OPT_CHECK;
	int frees = op->kind == RK_FREE || op->kind == RK_FREE_SIZED ||
		    op->kind == RK_FREE_ALIGNED_SIZED;
	int reallocs = op->kind == RK_REALLOC || op->kind == RK_REALLOCARRAY;
	int quiet = op->flags & RF_EXIT;
	int timed = !quiet && !--*countdown;

	if (op->slot2 != RP_NONE) {
		os = &slots[op->slot2];
		if (op->flags & RF_WAIT)
			wait_seq(&aux[op->slot2], op->wseq);
		old = os->ptr;
		oldsize = os->size & ~ALIGNED;
		if (check)
			check_block(op->slot2, oldsize,
				    frees ? "block changed before free"
					  : "block changed before realloc");
	}
	if (frees) {
		int kind = op->kind;
		/* Sized frees only when the sizes agree: a trace that lost a
		 * free can pair a free with another block. */
		if (kind != RK_FREE && os &&
		    (oldsize != op->size ||
		     (os->size & ALIGNED ? aux[op->slot2].align : 0) !=
			     (kind == RK_FREE_SIZED ? 0 : op->arg)))
			kind = RK_FREE;
		call(op, kind, old, timed, &dt);
		p = NULL;
	} else {
		p = call(op, op->kind, old, timed, &dt);
	}
	if (!quiet)
		k->count++;
	if (timed) {
		*countdown = sample;
		rp_kind_add(k, dt);
	}
	if (frees)
		return;
	n = bytes_of(op);
	if (reallocs && !p && n && old) {
		/* A failed realloc leaves the old block: release it here,
		 * the plan has already given its slot away. */
		free(old);
	}
	if (op->slot == RP_NONE) {
		/* realloc(p, 0) or an allocation recorded as returning NULL:
		 * nothing keeps the result. */
		if (p)
			free(p);
		return;
	}
	ns = &slots[op->slot];
	if (!p && n)
		atomic_fetch_add_explicit(&null_results, 1,
					  memory_order_relaxed);
	if (check && reallocs && p && old) {
		uint64_t keep = oldsize < n ? oldsize : n;
		uint64_t off = verify(p, keep, pattern_key(op->slot2,
							    aux[op->slot2].gen));
		if (off < keep)
			content_error("realloc lost the block's contents",
				      op->slot, off, keep);
	}
	if (check && op->kind == RK_CALLOC && p) {
		for (uint64_t i = 0; i < n; i++)
			if (((unsigned char *)p)[i]) {
				content_error("calloc memory not zeroed",
					      op->slot, i, n);
				break;
			}
	}
	ns->ptr = p;
	ns->size = p ? n : 0;
	if (op->kind == RK_ALIGNED_ALLOC || op->kind == RK_POSIX_MEMALIGN ||
	    op->kind == RK_MEMALIGN) {
		ns->size |= ALIGNED;
		aux[op->slot].align = op->arg;
	}
	if (p) {
		if (check) {
			aux[op->slot].gen++;
			fill(p, n, pattern_key(op->slot, aux[op->slot].gen));
		} else if (opts & RP_OPT_TOUCH) {
			touch(p, reallocs && old && oldsize < n ? oldsize : 0,
			      n);
		}
	}
	if (op->flags & RF_PUBLISH)
		publish(&aux[op->slot]);
	if (op->flags & RF_PEAK)
		peak_read();
}

static void sleep_until(uint64_t ts)
{
	uint64_t target = start_ns + (uint64_t)((double)ts / speed);
	struct timespec t;

	if (now_ns() >= target)
		return;
	t.tv_sec = (time_t)(target / 1000000000u);
	t.tv_nsec = (long)(target % 1000000000u);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) ==
	       EINTR)
		;
}

/* Threads waiting for the window sleep in a queue chosen by the epoch
 * mark they need, and a thread that moves the mark to v wakes only the
 * queue of v: waking every waiter on every epoch (a hundred threads, tens
 * of thousands of epochs) would measure the scheduler, not the
 * allocator. */
#define EP_QUEUES 64
static _Atomic uint32_t ep_qgen[EP_QUEUES];  /* bumped to wake */
static _Atomic uint32_t ep_qwait[EP_QUEUES]; /* threads asleep in it */

static void epoch_advance(void)
{
	for (;;) {
		uint32_t w = atomic_load(&ep_mark), q = (w + 1) % EP_QUEUES;
		if (w >= H->nepochs || atomic_load(&ep_done[w]) != ep_need[w])
			break;
		if (!atomic_compare_exchange_weak(&ep_mark, &w, w + 1))
			continue;
		if (atomic_load(&ep_qwait[q])) {
			atomic_fetch_add(&ep_qgen[q], 1);
			futex(&ep_qgen[q], FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
		}
	}
}

/* Sleeps until the mark reaches need. */
static void epoch_sleep(uint32_t need)
{
	static const struct timespec to = { 0, 20 * 1000 * 1000 };
	uint32_t q = need % EP_QUEUES;

	for (;;) {
		uint32_t g;
		atomic_fetch_add(&ep_qwait[q], 1);
		g = atomic_load(&ep_qgen[q]);
		if (atomic_load(&ep_mark) >= need || atomic_load(&aborted)) {
			atomic_fetch_sub(&ep_qwait[q], 1);
			break;
		}
		futex_sleep(&ep_qgen[q], g, &to);
		atomic_fetch_sub(&ep_qwait[q], 1);
	}
}

/* RK_EPOCH: this stream is done with epoch op->size; wait until it may
 * run epoch op->arg. */
static void epoch_op(const struct rp_op *op)
{
	uint64_t need;

	if (op->size < H->nepochs) {
		atomic_fetch_add(&ep_done[op->size], 1);
		epoch_advance();
	}
	if (!window || op->arg == RP_NO_EPOCH || op->arg <= window)
		return;
	need = op->arg - window;
	for (int i = 0; i < 256; i++) {
		if (atomic_load_explicit(&ep_mark, memory_order_acquire) >= need)
			return;
		cpu_relax();
	}
	epoch_sleep((uint32_t)need);
}

static void *stream_main(void *arg);

static void spawn(uint32_t si)
{
	pthread_t t;
	int rc;

	if (si >= H->nstreams)
		return;
	atomic_fetch_add(&started, 1);
	for (int tries = 0; (rc = pthread_create(&t, &tattr, stream_main,
						 (void *)(uintptr_t)si));
	     tries++) {
		struct timespec d = { 0, 10 * 1000 * 1000 };
		if (rc != EAGAIN || tries == 500) {
			set_error("cannot start replay thread %llu of %llu "
				  "(error %llu)", si, H->nstreams,
				  (uint64_t)rc);
			atomic_store(&aborted, 1);
			atomic_fetch_add(&done, 1);
			return;
		}
		nanosleep(&d, NULL);
	}
}

static void *stream_main(void *arg)
{
	uint32_t si = (uint32_t)(uintptr_t)arg, set;
	const struct rp_op *op;
	struct rp_kind_stats *ks;
	uint32_t countdown = sample;
	int recorded = opts & RP_OPT_RECORDED;

	awake_add(1);
	pthread_mutex_lock(&klock);
	set = nkfree ? kfree[--nkfree] : nsets++;
	pthread_mutex_unlock(&klock);
	ks = &kstats[(size_t)set * RK_NCALLS];

	op = (const struct rp_op *)(plan_base + streams[si].first);
	for (;; op++) {
		if (__builtin_expect(op->kind > 0 && op->kind < RK_NCALLS, 1)) {
			if (recorded)
				sleep_until(op->ts);
			run_op(op, ks, &countdown);
			continue;
		}
		/* Harness ops; an abort is noticed here (at least once per
		 * chunk) and in every wait. */
		if (atomic_load_explicit(&aborted, memory_order_relaxed))
			break;
		if (op->kind == RK_NEXT) {
			if (op->size >= H->file_size)
				break;
			op = (const struct rp_op *)(plan_base + op->size) - 1;
		} else if (op->kind == RK_END) {
			break;
		} else if (op->kind == RK_EPOCH) {
			epoch_op(op);
		} else if (op->kind == RK_SPAWN) {
			spawn(op->slot2);
		}
	}
	awake_add(0);
	pthread_mutex_lock(&klock);
	kfree[nkfree++] = set;
	pthread_mutex_unlock(&klock);
	if (atomic_fetch_add(&done, 1) + 1 == atomic_load(&started))
		futex(&done, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
	return NULL;
}

/* sampler_stop: the replay threads have all ended, so a sample read
 * from then on is not the replay's. */
static _Atomic int sampler_stop;
static uint64_t peak_anon;

/* A full series: halve the resolution, keeping the larger of each
 * pair. */
static void series_halve(void)
{
	for (uint32_t i = 0; i < RP_SERIES_MAX / 2; i++) {
		uint64_t a = R->series_bytes[2 * i];
		uint64_t b = R->series_bytes[2 * i + 1];
		R->series_t[i] = R->series_t[2 * i + 1];
		R->series_bytes[i] = a > b ? a : b;
	}
	R->nseries = RP_SERIES_MAX / 2;
}

static void series_add(double t, uint64_t bytes)
{
	if (R->nseries == RP_SERIES_MAX)
		series_halve();
	R->series_t[R->nseries] = t;
	R->series_bytes[R->nseries] = bytes;
	R->nseries++;
}

/* Every millisecond while the series has room; past RP_SERIES_MAX
 * samples each point is the largest of a bucket that doubles in width,
 * stamped at its last sample, so that a long replay still fits and no
 * peak is lost from the series. */
static void *sampler_main(void *arg)
{
	uint64_t base = R->baseline_rss, width = 1000000, bucket_end;
	uint64_t bucket_max = 0, last_t = 0;
	int pending = 0;
	struct timespec d = { 0, 1000 * 1000 };

	(void)arg;
	bucket_end = start_ns + width;
	for (;;) {
		uint64_t rss = anon_rss(), t = now_ns();
		uint64_t above = rss > base ? rss - base : 0;
		if (atomic_load(&sampler_stop))
			break;
		if (above > peak_anon)
			peak_anon = above;
		if (above > bucket_max)
			bucket_max = above;
		pending = 1;
		last_t = t;
		if (t >= bucket_end) {
			series_add((double)(t - start_ns) / 1e9, bucket_max);
			bucket_max = 0;
			pending = 0;
			if (R->nseries == RP_SERIES_MAX / 2 &&
			    R->series_t[1] - R->series_t[0] > 1.5 * width / 1e9)
				width *= 2;
			bucket_end = t + width;
		}
		nanosleep(&d, NULL);
	}
	if (pending)
		series_add((double)(last_t - start_ns) / 1e9, bucket_max);
	return NULL;
}

/* Puts the RF_PEAK reading into the series at its time. */
static void series_insert(double t, uint64_t bytes)
{
	uint32_t i;

	if (R->nseries == RP_SERIES_MAX)
		series_halve();
	for (i = R->nseries; i > 0 && R->series_t[i - 1] > t; i--) {
		R->series_t[i] = R->series_t[i - 1];
		R->series_bytes[i] = R->series_bytes[i - 1];
	}
	R->series_t[i] = t;
	R->series_bytes[i] = bytes;
	R->nseries++;
}

/* /proc/self/status in kB: VmHWM, RssFile, RssShmem (0 if unknown). */
struct status_kb {
	uint64_t hwm, file, shmem;
};

static void read_status(struct status_kb *st)
{
	char buf[4096], *p;
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	memset(st, 0, sizeof(*st));
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	if ((p = strstr(buf, "VmHWM:")))
		st->hwm = strtoull(p + 6, NULL, 10);
	if ((p = strstr(buf, "RssFile:")))
		st->file = strtoull(p + 8, NULL, 10);
	if ((p = strstr(buf, "RssShmem:")))
		st->shmem = strtoull(p + 9, NULL, 10);
}

/* Resets the kernel's peak RSS (VmHWM) to the current RSS.  0 if done. */
static int reset_hwm(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	int rc = fd >= 0 && write(fd, "5", 1) == 1 ? 0 : -1;

	if (fd >= 0)
		close(fd);
	return rc;
}

static int same_object(void *fn, const char *want)
{
	Dl_info a;

	return fn && dladdr(fn, &a) && a.dli_fname && !strcmp(a.dli_fname, want);
}

static void *own_fn(const char *name, const char *obj)
{
	void *fn = dlsym(RTLD_DEFAULT, name);

	return same_object(fn, obj) ? fn : NULL;
}

static int fail(const char *fmt, const char *a)
{
	if (R) {
		snprintf(R->error, sizeof(R->error), fmt, a);
		R->status = 1;
	} else {
		fprintf(stderr, "heaptape-replay-worker: ");
		fprintf(stderr, fmt, a);
		fputc('\n', stderr);
	}
	return 1;
}

static void *map_file(const char *path, int prot, size_t *len)
{
	struct stat st;
	int fd = open(path, prot & PROT_WRITE ? O_RDWR : O_RDONLY);
	void *p;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || st.st_size <= 0) {
		close(fd);
		return NULL;
	}
	/* A plan that fits comfortably is mapped in full up front, so that
	 * replay threads do not take page faults on it; bigger ones stream
	 * (its pages are file pages: never counted as the allocator's). */
	p = mmap(NULL, (size_t)st.st_size, prot,
		 (prot & PROT_WRITE ? MAP_SHARED : MAP_PRIVATE) |
			 (st.st_size <= (512 << 20) ? MAP_POPULATE : 0),
		 fd, 0);
	close(fd);
	*len = (size_t)st.st_size;
	return p == MAP_FAILED ? NULL : p;
}

static void *map_anon(size_t n, int populate)
{
	void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE |
			       (populate ? MAP_POPULATE : 0),
		       -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static double tv_s(struct timeval t)
{
	return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	struct rusage ru0, ru1;
	uint64_t t0, tk0, t1, tk1;
	int hwm_ok;
	size_t plen, rlen;
	pthread_t sampler;
	Dl_info mi;
	char mobj[sizeof(R->allocator)];

	if (argc < 3)
		return fail("usage: %s PLAN RESULT [ALLOCATOR]", argv[0]);
	R = map_file(argv[2], PROT_READ | PROT_WRITE, &rlen);
	if (!R || rlen < sizeof(*R))
		return fail("cannot map result file '%s'", argv[2]);
	R->magic = RP_RESULT_MAGIC;
	plan_base = map_file(argv[1], PROT_READ, &plen);
	if (!plan_base)
		return fail("cannot map plan '%s'", argv[1]);
	H = (const struct rp_header *)plan_base;
	if (plen < sizeof(*H) || H->magic != RP_PLAN_MAGIC ||
	    H->op_size != sizeof(struct rp_op) || H->file_size != plen ||
	    H->streams_off + (uint64_t)H->nstreams * sizeof(*streams) > plen)
		return fail("'%s' is not a replay plan of this build", argv[1]);
	if (H->nepochs && (H->nepochs > UINT32_MAX ||
			   H->epochs_off + H->nepochs * 4 > plen))
		return fail("'%s' is not a replay plan of this build", argv[1]);
	streams = (const struct rp_stream *)(plan_base + H->streams_off);
	ep_need = (const uint32_t *)(plan_base + H->epochs_off);
	window = H->window;
	opts = H->options;
	sample = H->sample ? H->sample : 1;
	speed = H->speed > 0 ? H->speed : 1.0;
	pagesize = sysconf(_SC_PAGESIZE);

	/* Which object is this process's malloc? */
	if (!dladdr((void *)malloc, &mi) || !mi.dli_fname)
		return fail("cannot tell where malloc comes from%s", "");
	snprintf(mobj, sizeof(mobj), "%s", mi.dli_fname);
	snprintf(R->allocator, sizeof(R->allocator), "%s", mobj);
	if (argc > 3 && argv[3][0]) {
		char a[PATH_MAX], b[PATH_MAX];
		if (!realpath(mobj, a) || !realpath(argv[3], b) || strcmp(a, b))
			return fail("the allocator did not load: malloc comes "
				    "from '%s' (does the library export "
				    "malloc and free?)", mobj);
	}
	f_calloc = own_fn("calloc", mobj);
	f_realloc = own_fn("realloc", mobj);
	f_reallocarray = own_fn("reallocarray", mobj);
	f_aligned_alloc = own_fn("aligned_alloc", mobj);
	f_memalign = own_fn("memalign", mobj);
	f_valloc = own_fn("valloc", mobj);
	f_pvalloc = own_fn("pvalloc", mobj);
	f_posix_memalign = own_fn("posix_memalign", mobj);
	f_free_sized = own_fn("free_sized", mobj);
	f_free_aligned_sized = own_fn("free_aligned_sized", mobj);
	if (!own_fn("free", mobj))
		return fail("the allocator '%s' has malloc but not free",
			    mobj);

	/* Slots are hit at random: fault them in before the baseline. */
	slots = map_anon(H->nslots * sizeof(*slots),
			 H->nslots * sizeof(*slots) <= (1u << 30));
	aux = map_anon(H->nslots * sizeof(*aux), 0);
	kstats = map_anon((size_t)H->nstreams * RK_NCALLS * sizeof(*kstats),
			  0);
	kfree = map_anon((size_t)H->nstreams * sizeof(*kfree), 0);
	ep_done = map_anon(H->nepochs * sizeof(*ep_done), 1);
	if (!slots || !aux || !kstats || !kfree || !ep_done)
		return fail("out of memory for %s", "the replay tables");
	statm_fd = open("/proc/self/statm", O_RDONLY);
	pthread_attr_init(&tattr);
	pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&tattr, 512 * 1024);

	/* The clock's own cost, taken off every call time in reports. */
	R->timer_ticks = UINT64_MAX;
	for (int i = 0; i < 2000; i++) {
		uint64_t a = ticks(), b = ticks();
		if (b - a < R->timer_ticks)
			R->timer_ticks = b - a;
	}
	/* Let the allocator initialise itself before the baseline. */
	free(malloc(1));
	hwm_ok = !reset_hwm();
	R->baseline_rss = anon_rss();
	getrusage(RUSAGE_SELF, &ru0);
	start_ns = t0 = now_ns();
	tk0 = ticks();
	series_add(0, 0); /* the baseline: nothing above it yet */
	if (statm_fd >= 0)
		pthread_create(&sampler, NULL, sampler_main, NULL);
	for (uint32_t i = 0; i < H->nstreams; i++)
		if (streams[i].spawner == RP_NONE)
			spawn(i);
	for (;;) {
		static const struct timespec to = { 0, 100 * 1000 * 1000 };
		uint32_t d = atomic_load(&done);
		if (d == atomic_load(&started))
			break;
		futex(&done, FUTEX_WAIT_PRIVATE, d, &to);
	}
	t1 = now_ns();
	tk1 = ticks();
	getrusage(RUSAGE_SELF, &ru1);
	if (statm_fd >= 0) {
		/* Only what the replay's threads held counts: samples after
		 * they ended are not taken. */
		atomic_store(&sampler_stop, 1);
		pthread_join(sampler, NULL);
	}
	if (atomic_load_explicit(&peak_op_done, memory_order_acquire)) {
		uint64_t above = peak_op_rss > R->baseline_rss
					 ? peak_op_rss - R->baseline_rss : 0;
		if (above > peak_anon)
			peak_anon = above;
		series_insert((double)peak_op_ns / 1e9, above);
	}
	R->wall_s = (double)(t1 - t0) / 1e9;
	R->user_s = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime);
	R->sys_s = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime);
	R->page_faults = (uint64_t)(ru1.ru_minflt - ru0.ru_minflt) +
			 (uint64_t)(ru1.ru_majflt - ru0.ru_majflt);
	if (hwm_ok) {
		/* The kernel saw every peak the sampler may have missed; it
		 * counts file and shared pages too, so take off their final
		 * (largest) amounts: a slight underestimate at worst. */
		struct status_kb st;
		uint64_t other, hwm;
		read_status(&st);
		hwm = st.hwm * 1024;
		other = (st.file + st.shmem) * 1024 + R->baseline_rss;
		if (st.hwm && hwm > other && hwm - other > peak_anon)
			peak_anon = hwm - other;
	}
	R->peak_rss = peak_anon;
	R->tick_ns = tk1 > tk0 ? (double)(t1 - t0) / (double)(tk1 - tk0) : 1;
	R->threads = atomic_load(&started);
	R->stall_s = (double)atomic_load(&stall_ns) / 1e9;
	for (uint32_t i = 0; i < nsets; i++)
		for (int k = 1; k < RK_NCALLS; k++) {
			const struct rp_kind_stats *s =
				&kstats[(size_t)i * RK_NCALLS + k];
			struct rp_kind_stats *d = &R->kinds[k];
			if (!s->count)
				continue;
			d->count += s->count;
			d->timed += s->timed;
			d->sum += s->sum;
			if (s->max > d->max)
				d->max = s->max;
			for (int b = 0; b < RP_HIST_BUCKETS; b++)
				d->hist[b] += s->hist[b];
		}
	for (int k = 1; k < RK_NCALLS; k++)
		R->calls += R->kinds[k].count;
	R->content_errors = atomic_load(&content_errors);
	R->null_results = atomic_load(&null_results);
	R->fallbacks = atomic_load(&fallbacks);
	R->status = (R->content_errors || atomic_load(&aborted)) ? 1 : 0;
	_exit(0);
}
