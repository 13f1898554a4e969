/*
 * record.h - internals shared by the preload library's two halves:
 * preload.c (the interposed functions, running on the program's threads)
 * and buffer.c (per-thread event buffers, the encoder thread and the
 * trace writer).
 *
 * Data flow:  hook -> ht__emit() -> this thread's buffer (a linear array
 * of struct ht__rec, published by an atomic pointer) -> encoder thread
 * reads up to the published pointer and hands the records to the writer
 * as they are (ht__writer_append_recs()), or as struct ht_event where
 * one has a second record or a duration.  One producer and one consumer
 * per buffer, so the hot path has no lock, no atomic read-modify-write
 * and no syscall.
 */
#ifndef HT_RECORD_H
#define HT_RECORD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "heaptape.h"
#include "internal.h"

/* struct ht__rec, the record the hot path writes: format/internal.h. */

/* A buffer: one producer thread appends, the encoder consumes.  A cache
 * line each: the producer stores pub on every event, and two threads'
 * current buffers must not share a line. */
struct ht__buf {
	_Alignas(64) _Atomic(struct ht__rec *) pub; /* end of the published
						     * records */
	_Atomic(uint32_t) next;        /* index+1 of the following buffer */
	uint32_t done;                 /* records the encoder has consumed */
	struct ht__rec *recs;
	uint32_t cap;
	uint32_t idx;
	uint32_t free_next;            /* free-list link (index+1) */
	uint8_t big;
};

/* A recorded thread, as the encoder sees it. */
enum { HT__THR_FREE = 0, HT__THR_LIVE, HT__THR_EXITED, HT__THR_CLAIM };
struct ht__thr {
	_Atomic(uint32_t) state;
	uint32_t tid;
	_Atomic(uint32_t) head;     /* index+1 of the oldest unread buffer */
	_Atomic(uint64_t) dropped;  /* events dropped (no buffer), producer */
	_Atomic(uint64_t) drop_ts0; /* raw clock of the first drop */
	uint64_t dropped_seen;      /* encoder: already written as LOSS */
	uint64_t last_ts;           /* encoder: last raw ts seen */
	uint32_t gen;               /* encoder: name generation written */
	uint32_t idle;              /* encoder: flushes without progress */
	char name[16];              /* encoder: last name written */
	char pname[16];             /* producer: name read at thread exit */
	_Atomic(uint32_t) pname_set;
};

/* Per-thread state of the hooks, in initial-exec TLS. */
struct ht__tls {
	struct ht__rec *pos, *end; /* free space in the current buffer */
	struct ht__buf *cur;
	struct ht__thr *thr;
	uint32_t tid;
	uint32_t nest;   /* hooks active on this thread (signals nest) */
	uint32_t guard;  /* the recorder itself is running: do not record */
	uint32_t dead;   /* the pthread key destructor ran */
	uint32_t fills;  /* buffers filled: small first, then big ones */
	uint32_t starved; /* no buffer last time: drop without waiting */
	uint32_t main;   /* the process's main thread (tid == pid) */
};

/*
 * Lttng-ust: "Use initial-exec TLS model for the nesting counter to
 * ensure dlopen'd libraries don't end up allocating memory upon first
 * access."  The same holds for every TLS variable the hooks touch: a
 * general-dynamic access may call malloc (through __tls_get_addr) the
 * first time a thread touches the variable, which would re-enter the
 * hooks before the guard is set.
 */
extern __thread struct ht__tls ht__t __attribute__((tls_model("initial-exec")));

/* Recording state (ht__on): hooks record only when it is 1. */
extern _Atomic(int) ht__on;
extern _Atomic(uint64_t) ht__paused_events;
extern int ht__use_tsc;
/* record --latency: the hooks also read the clock before the call. */
extern int ht__lat;

static inline uint64_t ht__clock(void)
{
	if (__builtin_expect(ht__use_tsc, 1)) {
		uint32_t lo, hi;
		__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
		return ((uint64_t)hi << 32) | lo;
	}
	extern uint64_t ht__clock_slow(void);
	return ht__clock_slow();
}

/* Slow path of ht__emit(): r is what ht__bump() returned, past the end
 * of the buffer.  Returns n reserved records (setting up the thread or
 * a new buffer), or NULL if the event must be dropped. */
struct ht__rec *ht__reserve_slow(struct ht__tls *t, struct ht__rec *r,
				 unsigned n);
uint64_t ht__clock_slow(void);

/* Takes n record slots: one instruction, so a signal handler that
 * allocates cannot take the same slot. */
static inline struct ht__rec *ht__bump(struct ht__tls *t, unsigned n)
{
#if defined(__x86_64__)
	uintptr_t d = (uintptr_t)n * sizeof(struct ht__rec);

	__asm__ __volatile__("xaddq %0, %1" : "+r"(d), "+m"(t->pos)::"memory");
	return (struct ht__rec *)d;
#else
	return (struct ht__rec *)__atomic_fetch_add(
		(uintptr_t *)&t->pos, n * sizeof(struct ht__rec),
		__ATOMIC_RELAXED);
#endif
}

/* Publishes the records written so far (outermost hook only). */
static inline void ht__publish(struct ht__tls *t)
{
	struct ht__rec *p = t->pos;

	if (p > t->end) /* nested hooks that dropped went past the end */
		p = t->end;
	atomic_store_explicit(&t->cur->pub, p, memory_order_release);
}

/* The clock before a call, in latency mode; else 0. */
static inline uint64_t ht__t0(void)
{
	return __builtin_expect(ht__lat, 0) ? ht__clock() : 0;
}

/* An event that needs two records (preload.c): a size of 2^56 or more,
 * an nmemb beside an aux, or a duration (t0: the clock before the call,
 * 0 for none).  The event's time is t0 when before (a free: logged as
 * called), else now (an allocation: logged as it returned). */
void ht__emit_ext(int op, uint64_t addr, uint64_t size, uint64_t aux,
		  uint64_t nmemb, unsigned flags, uint64_t t0, int before);

/*
 * A hook's n record slots.  A signal handler that allocates in the
 * middle of a hook nests: it takes the next slots, and only the
 * outermost hook publishes (ht__done()), once every slot before its end
 * is filled.  NULL when not recording (a paused recorder counts the
 * event) or when the event is dropped; else the caller fills the slots
 * and calls ht__done().
 */
static inline struct ht__rec *ht__take(struct ht__tls *t, unsigned n)
{
	int on = atomic_load_explicit(&ht__on, memory_order_relaxed);
	struct ht__rec *r;

	if (__builtin_expect(on != 1, 0)) {
		if (on == 2)
			atomic_fetch_add_explicit(&ht__paused_events, 1,
						  memory_order_relaxed);
		return NULL;
	}
	t->nest++;
	__asm__ __volatile__("" ::: "memory");
	r = ht__bump(t, n);
	if (__builtin_expect(r + n > t->end, 0)) {
		r = ht__reserve_slow(t, r, n);
		if (!r)
			t->nest--;
	}
	return r;
}

static inline void ht__done(struct ht__tls *t)
{
	__asm__ __volatile__("" ::: "memory");
	/* Publish while still counted as in a hook: a signal handler that
	 * allocates during the publish then nests and cannot switch
	 * buffers between our loads of pos/end/cur and the store.  What a
	 * handler adds after it is published by the next outermost hook. */
	if (t->nest == 1)
		ht__publish(t);
	__asm__ __volatile__("" ::: "memory");
	t->nest--;
}

/* Records one event that ends now.  addr is the errno when flags has
 * HT_EV_FAILED; t0 from ht__t0() before the call. */
static inline void ht__emit(int op, uint64_t addr, uint64_t size,
			    uint64_t aux, unsigned flags, uint64_t t0)
{
	struct ht__tls *t = &ht__t;
	struct ht__rec *r;

	if (__builtin_expect((size > HT__SZ_MASK) | (t0 != 0), 0)) {
		ht__emit_ext(op, addr, size, aux,
			     op == HT_OP_CALLOC ? aux : 0, flags, t0, 0);
		return;
	}
	r = ht__take(t, 1);
	if (!r)
		return;
	r->ts = ht__clock();
	r->addr = addr;
	r->szop = HT__SZOP(size, op, flags);
	r->aux = aux;
	ht__done(t);
}

/* buffer.c */
struct ht__real {
	void *(*malloc)(size_t);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*reallocarray)(void *, size_t, size_t);
	void (*free)(void *);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	void (*free_sized)(void *, size_t);
	void (*free_aligned_sized)(void *, size_t, size_t);
};
extern struct ht__real ht__real;

void ht__init(void);          /* constructor: options, pool, encoder */
void ht__fini(void);          /* destructor/exit: final flush and close */
/* Flush and close the trace now: the process image is about to go
 * away.  After EXEC and ABORT the recording goes on into a new file if
 * the process does (a failed exec, a handler that longjmps). */
enum { HT__CLOSE_EXIT, HT__CLOSE_EXEC, HT__CLOSE_ABORT };
void ht__close_now(int why);
/* Death by a signal at its default action: a handler closes the trace
 * first (preload.c).  Taken at start for those still at SIG_DFL but
 * except; ht__end_signal(): the signal the process is dying of, or 0. */
void ht__take_fatal_signals(int except);
int ht__end_signal(void);
/* The allocator under the hooks (name, version or NULL) and, when the
 * program's calls cannot reach the hooks, why (else NULL). */
void ht__allocator(const char **name, const char **version,
		   const char **warning);
void ht__thread_exit(void);   /* the calling thread is exiting */
void ht__names_changed(void); /* a thread was renamed */
void ht__fork_prepare(void);
void ht__fork_parent(void);
void ht__fork_child(void);
uint32_t ht__pid(void);       /* the pid recorded for this process */
int ht__own_fd(int fd);       /* one of the recorder's fds */
int ht__own_fds(int out[2]);  /* them, ascending; returns how many */
void ht__fd_taken(int fd);     /* the program dup2()s onto it */

#endif
