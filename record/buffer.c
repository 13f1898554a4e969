/*
 * buffer.c - the recorder's machinery behind the hooks: options, the
 * clock, per-thread event buffers, the encoder thread and the trace file.
 *
 * Buffers come from a pool of mmap'd memory, never from the program's
 * heap.  A thread starts with a small buffer (many short-lived threads
 * must not cost a large buffer each) and then takes big ones.  Each
 * buffer has one producer (its thread) and one consumer (the encoder),
 * which reads up to the buffer's published pointer: so the encoder flushes
 * every thread's partial buffer on its timer without stopping the thread,
 * and a SIGKILL loses at most one flush interval.  When no buffer is free
 * a thread waits a bounded time for the encoder, then drops events and
 * counts them; they become LOSS records.
 *
 * The encoder thread is the only user of the ht_writer (it writes every
 * block), has every signal blocked (so RLIMIT_FSIZE gives EFBIG instead
 * of killing the program with SIGXFSZ), and samples the RSS every 10 ms.
 * The trace file is created on the first flush that has something to
 * write; its fd lives at a high number and is re-opened if the program
 * closes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <link.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__x86_64__)
#include <sys/platform/x86.h>
#endif
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "record.h"
#include "signame.h"

__thread struct ht__tls ht__t __attribute__((tls_model("initial-exec")));
_Atomic(int) ht__on;
_Atomic(uint64_t) ht__paused_events;
int ht__use_tsc;
int ht__lat;

void ht__resolve(void);      /* preload.c */
void ht__resolve_exec(void);

/* Sizes.  A record is 32 bytes. */
#define SMALL_BYTES (8u << 10)
#define BIG_BYTES (64u << 10)
#define MAX_THREADS 8192u
#define MAX_BUFS (1u << 18)
#define CHUNK_BYTES (1u << 20)
#define RSS_MAX 256
#define FD_MIN 1000

static struct {
	char out[PATH_MAX];      /* HEAPTAPE_OUT pattern */
	unsigned flush_ms;
	uint64_t pool_bytes;
	int level;
	uint64_t max_size;
	int paused;
	int toggle_sig;
	int no_follow;
	int latency;
	char desc[256];          /* recorder.options */
	char warn[512];          /* HEAPTAPE_* values not understood */
} opt;

/* Process and trace state (per process: reset in a fork child). */
static uint32_t g_pid;
/* The parent: taken at start, and in a fork child from the forking
 * process itself (the parent may exit before the trace is opened: a
 * daemon's ppid would read 1). */
static uint32_t g_ppid;
static int g_root;               /* first process of a recording */
static uint8_t g_uuid[16], g_parent_uuid[16];
static int g_have_parent;
static int g_segment;            /* files written by this process so far */
static char g_path[PATH_MAX + 32];    /* the current trace file */
static int g_fd = -1;
static dev_t g_dev;
static ino_t g_ino;
static struct ht_writer *g_w;
static int g_failed;             /* writing stopped (I/O, limit) */
static int g_final;              /* closed at exit: no new file */
static uint32_t g_stop_reason;
static uint64_t g_discarded;     /* events drained but not written */
static uint64_t g_discard_ts0, g_discard_ts1;
static uint64_t g_start_real_ns, g_start_mono_ns;
static int g_statm = -1;
static dev_t g_statm_dev;
static ino_t g_statm_ino;
static int fd_is(int fd, dev_t dev, ino_t ino);
static long g_page;

/* Clock calibration: ns = mono0 + (tsc - tsc0) * mult >> 32. */
static uint64_t g_tsc0, g_mono0;
static uint64_t g_mult;
static int g_calibrated;

/* Pool. */
static struct ht__buf *g_bufs;
static _Atomic(uint32_t) g_nbufs;
static _Atomic(uint64_t) g_free_small, g_free_big; /* tag << 32 | idx+1 */
static _Atomic(uint32_t) g_big_total, g_big_free;
static uint32_t g_big_base;
static pthread_mutex_t g_grow_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(uint32_t) g_buf_seq;   /* futex: buffers returned */
static _Atomic(uint32_t) g_buf_waiters;

/* Threads. */
static struct ht__thr *g_thrs;
static _Atomic(uint32_t) g_thr_hi;
static _Atomic(uint32_t) g_live;
static _Atomic(uint32_t) g_exiting;   /* threads past their destructor */
static _Atomic(uint64_t) g_lost_nothr;
static pthread_key_t g_key;
static int g_key_ok;
static _Atomic(uint32_t) g_names_gen;
/* The main thread left by pthread_exit() (its key destructor ran): only
 * then may the encoder be what keeps the process alive. */
static _Atomic(int) g_main_left;

/* Encoder. */
static pthread_t g_enc;
static _Atomic(int) g_enc_running;
static uint64_t g_cpu0;            /* enc_cpu_ns() when the trace opened */
static uint64_t g_here_cpu0;       /* close_here(): its thread's CPU then */
static _Atomic(uint32_t) g_enc_seq;    /* futex: wake the encoder */
static _Atomic(int) g_enc_sleeping;
/* Close commands: the process ends (exit, _exit), or its image may end
 * (exec, abort: if it goes on, a continuation file is started). */
enum { CMD_NONE, CMD_EXIT, CMD_EXEC, CMD_ABORT };
static _Atomic(int) g_cmd;
static _Atomic(uint32_t) g_ack;        /* futex: command done */
static pthread_mutex_t g_wlock = PTHREAD_MUTEX_INITIALIZER;
/* This thread holds g_wlock across its fork. */
static __thread int fork_locked;
/* Events converted a few at a time, small enough to stay in the cache
 * between convert() and the encoder's pass over them. */
#define SCRATCH 256
#define RUN 2048 /* records (64 KiB) */
static struct ht_event *g_scratch;
static uint32_t g_block_events; /* events a block holds */
static struct ht_rss_sample g_rss[RSS_MAX];
static size_t g_nrss;
static uint64_t g_pause_from;
static uint64_t g_paused_seen;

/*
 * Small helpers that never allocate.
 */
static long futex(_Atomic(uint32_t) *a, int op, uint32_t val,
		  const struct timespec *ts)
{
	return syscall(SYS_futex, (void *)a, op, val, ts, NULL, 0);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t ht__clock_slow(void)
{
	return mono_ns();
}

/* close() is ours too (it refuses to close the trace): bypass it */
static void sys_close(int fd)
{
	if (fd >= 0)
		syscall(SYS_close, fd);
}

static void *map(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static ssize_t read_file(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got = 0, r;

	if (fd < 0)
		return -1;
	while ((size_t)got < n - 1 &&
	       (r = read(fd, buf + got, n - 1 - (size_t)got)) > 0)
		got += r;
	close(fd);
	buf[got] = 0;
	return got;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9') /* strtoull takes "-5" and " 5" */
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

/* A HEAPTAPE_* value the library cannot use: the program's output is
 * not ours to write to, so the trace says it (recorder.warning, which
 * `heaptape stat` shows).  The launcher checks its options itself. */
static void env_warn(const char *name, const char *val, const char *what,
		     const char *then)
{
	size_t k = strlen(opt.warn);

	snprintf(opt.warn + k, sizeof(opt.warn) - k, "%s%s='%.40s' %s: %s",
		 k ? "; " : "", name, val, what, then);
}

static void bad_env(const char *name, const char *val, const char *then)
{
	env_warn(name, val, "not understood", then);
}

static void options(void)
{
	const char *s;
	uint64_t v;

	s = getenv("HEAPTAPE_OUT");
	if (!s || !*s)
		s = "heaptape.%p.htape";
	/* absolute now: the program may chdir before the file is made */
	if (s[0] != '/' && getcwd(opt.out, sizeof(opt.out)) &&
	    strlen(opt.out) + strlen(s) + 2 < sizeof(opt.out)) {
		strcat(opt.out, "/");
		strcat(opt.out, s);
	} else {
		snprintf(opt.out, sizeof(opt.out), "%s", s);
	}
	opt.flush_ms = 100;
	if ((s = getenv("HEAPTAPE_FLUSH_MS")) && *s) {
		if (parse_size(s, &v) || v == 0) {
			bad_env("HEAPTAPE_FLUSH_MS", s, "100 ms");
		} else if (v > 60000) {
			opt.flush_ms = 60000;
			env_warn("HEAPTAPE_FLUSH_MS", s, "above the longest "
				 "interval", "60000 ms");
		} else {
			opt.flush_ms = (unsigned)v;
		}
	}
	opt.pool_bytes = 4u << 20;
	if ((s = getenv("HEAPTAPE_BUFFER")) && *s) {
		if (parse_size(s, &v)) {
			bad_env("HEAPTAPE_BUFFER", s, "4M");
		} else if (v < (1u << 20)) {
			opt.pool_bytes = 1u << 20;
			env_warn("HEAPTAPE_BUFFER", s, "below the smallest "
				 "pool", "1M");
		} else {
			opt.pool_bytes = v;
		}
	}
	opt.level = HT_DEFAULT_LEVEL;
	if ((s = getenv("HEAPTAPE_LEVEL")) && *s) {
		char *end;
		long l = strtol(s, &end, 10);

		if (end != s && !*end && l >= -7 && l <= 22)
			opt.level = (int)l;
		else
			bad_env("HEAPTAPE_LEVEL", s, "level 1");
	}
	if ((s = getenv("HEAPTAPE_MAX_SIZE")) && *s) {
		if (!parse_size(s, &v))
			opt.max_size = v;
		else
			bad_env("HEAPTAPE_MAX_SIZE", s, "no size limit");
	}
	s = getenv("HEAPTAPE_PAUSED");
	opt.paused = s && *s && strcmp(s, "0");
	if ((s = getenv("HEAPTAPE_TOGGLE_SIGNAL")) && *s) {
		opt.toggle_sig = ht__signal_of(s);
		if (opt.toggle_sig <= 0)
			bad_env("HEAPTAPE_TOGGLE_SIGNAL", s, "no toggle signal");
	}
	s = getenv("HEAPTAPE_NO_FOLLOW");
	opt.no_follow = s && *s && strcmp(s, "0");
	s = getenv("HEAPTAPE_LATENCY");
	opt.latency = s && *s && strcmp(s, "0");
	ht__lat = opt.latency;
	snprintf(opt.desc, sizeof(opt.desc),
		 "flush_ms=%u buffer=%llu level=%d max_size=%llu paused=%d "
		 "toggle_signal=%d follow=%d latency=%d",
		 opt.flush_ms, (unsigned long long)opt.pool_bytes, opt.level,
		 (unsigned long long)opt.max_size, opt.paused,
		 opt.toggle_sig > 0 ? opt.toggle_sig : 0, !opt.no_follow,
		 opt.latency);
	if ((s = getenv("HEAPTAPE_ONLY")) && *s) {
		size_t k = strlen(opt.desc);

		snprintf(opt.desc + k, sizeof(opt.desc) - k, " only=%s", s);
	}
}

/* --no-follow: children must not inherit the preload. */
static void unfollow(void)
{
	const char *pre = getenv("LD_PRELOAD");
	char buf[4096], *w = buf;
	const char *p, *e;

	if (!pre)
		return;
	buf[0] = 0;
	for (p = pre; *p; p = e) {
		size_t n;

		while (*p == ':' || *p == ' ')
			p++;
		for (e = p; *e && *e != ':' && *e != ' '; e++)
			;
		n = (size_t)(e - p);
		if (!n)
			break;
		if (n >= 23 && !memcmp(e - 23, "libheaptape-record.so", 21))
			continue;
		if (n >= 21 && !memcmp(e - 21, "libheaptape-record.so", 21))
			continue;
		if ((size_t)(w - buf) + n + 2 >= sizeof(buf))
			return;
		if (w != buf)
			*w++ = ':';
		memcpy(w, p, n);
		w += n;
		*w = 0;
	}
	if (buf[0])
		setenv("LD_PRELOAD", buf, 1);
	else
		unsetenv("LD_PRELOAD");
}

/*
 * Clock.  rdtsc is used when the TSC is invariant (CPUID 0x80000007
 * EDX bit 8: what the kernel shows as constant_tsc + nonstop_tsc) and the
 * kernel itself keeps time with it (its clocksource is "tsc": it found
 * the TSCs synchronised).  Both checks are cheap; reading /proc/cpuinfo
 * costs ~100 us per process start.  The ticks are calibrated against
 * CLOCK_MONOTONIC over the process's first flush interval, and the
 * encoder converts them to CLOCK_MONOTONIC ns.
 */
static void clock_init(void)
{
	ht__use_tsc = 0;
#if defined(__x86_64__)
	{
		char cs[32];
		const char *want = getenv("HEAPTAPE_CLOCK");

		/* the loader's copy of CPUID (a CPUID here would trap to the
		 * hypervisor in a VM: microseconds per process) */
		ht__use_tsc = CPU_FEATURE_PRESENT(INVARIANT_TSC) != 0;
		if (want && !strcmp(want, "monotonic"))
			ht__use_tsc = 0;
		if (ht__use_tsc &&
		    read_file("/sys/devices/system/clocksource/clocksource0/"
			      "current_clocksource", cs, sizeof(cs)) > 0 &&
		    strncmp(cs, "tsc", 3))
			ht__use_tsc = 0;
	}
#endif
	g_mono0 = mono_ns();
	g_tsc0 = ht__clock();
	g_mono0 = (g_mono0 + mono_ns()) / 2;
	g_calibrated = !ht__use_tsc;
}

static void calibrate(void)
{
	uint64_t m1, t1, dt, dm;

	if (g_calibrated)
		return;
	for (;;) {
		m1 = mono_ns();
		t1 = ht__clock();
		m1 = (m1 + mono_ns()) / 2;
		/* Over a span as long as the process has lived, the error
		 * stays about the read jitter (~0.1 us) at any of its
		 * timestamps; only a very young process waits, 50 us. */
		if (m1 - g_mono0 >= 50000)
			break;
	}
	dt = t1 - g_tsc0;
	dm = m1 - g_mono0;
	g_mult = (uint64_t)(((unsigned __int128)dm << 32) / dt);
	g_calibrated = 1;
	if (g_w && !g_failed) {
		/* the writer was opened before (at start): add it now */
		char hz[32];
		struct ht_kv kv = { "clock.tsc_hz", hz };

		snprintf(hz, sizeof(hz), "%llu",
			 (unsigned long long)(((unsigned __int128)1000000000u
					       << 32) / g_mult));
		ht_writer_meta(g_w, &kv, 1);
	}
}

/* A duration in raw clock ticks, in ns. */
static uint64_t dur_ns(uint64_t d)
{
	if (!ht__use_tsc)
		return d;
	return (uint64_t)(((unsigned __int128)d * g_mult) >> 32);
}

/* The least time between two clock reads, in ns: the clock's own share
 * of every duration that record --latency measures. */
static uint64_t clock_cost_ns(void)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 64; i++) {
		uint64_t a = ht__clock(), b = ht__clock();

		if (b >= a && b - a < best)
			best = b - a;
	}
	return best == UINT64_MAX ? 0 : dur_ns(best);
}

/* The raw clock's conversion to ns, for ht__rec_ns(). */
static struct ht__recclock rec_clock(void)
{
	return (struct ht__recclock){ g_tsc0, g_mono0, g_mult, ht__use_tsc };
}

static uint64_t to_ns(uint64_t raw)
{
	struct ht__recclock c = rec_clock();

	return ht__rec_ns(&c, raw);
}

/*
 * The pool.  Free lists are Treiber stacks of buffer indexes with an ABA
 * tag; buffers are never unmapped, only recycled.
 */
static void push(_Atomic(uint64_t) *head, struct ht__buf *b)
{
	uint64_t old = atomic_load(head), nw;

	do {
		b->free_next = (uint32_t)old;
		nw = ((old >> 32) + 1) << 32 | (b->idx + 1);
	} while (!atomic_compare_exchange_weak(head, &old, nw));
}

static struct ht__buf *pop(_Atomic(uint64_t) *head)
{
	uint64_t old = atomic_load(head), nw;
	struct ht__buf *b;

	do {
		if (!(uint32_t)old)
			return NULL;
		b = &g_bufs[(uint32_t)old - 1];
		nw = ((old >> 32) + 1) << 32 | b->free_next;
	} while (!atomic_compare_exchange_weak(head, &old, nw));
	return b;
}

static void buf_reset(struct ht__buf *b)
{
	b->done = 0;
	atomic_store_explicit(&b->next, 0, memory_order_relaxed);
	atomic_store_explicit(&b->pub, b->recs, memory_order_relaxed);
}

/* The pool's chunks, for the recorder's own RSS (own_rss()); a chunk
 * holds 16 buffers or more. */
#define MAX_CHUNKS (MAX_BUFS / (CHUNK_BYTES / BIG_BYTES))
static char *g_chunks[MAX_CHUNKS];
static _Atomic(uint32_t) g_nchunks;

/* Maps one more chunk of buffers (caller holds g_grow_lock). */
static int grow(int big)
{
	uint32_t bytes = big ? BIG_BYTES : SMALL_BYTES;
	uint32_t n = CHUNK_BYTES / bytes, first;
	char *mem;

	first = atomic_load(&g_nbufs);
	if (first + n > MAX_BUFS || !(mem = map(CHUNK_BYTES)))
		return -1;
	/* the pointer first: own_rss() reads up to the count */
	g_chunks[atomic_load(&g_nchunks)] = mem;
	atomic_fetch_add(&g_nchunks, 1);
	for (uint32_t i = 0; i < n; i++) {
		struct ht__buf *b = &g_bufs[first + i];

		b->idx = first + i;
		b->recs = (struct ht__rec *)(void *)(mem + (size_t)i * bytes);
		b->cap = bytes / sizeof(struct ht__rec);
		b->big = (uint8_t)big;
		buf_reset(b);
	}
	atomic_store(&g_nbufs, first + n);
	for (uint32_t i = 0; i < n; i++)
		push(big ? &g_free_big : &g_free_small, &g_bufs[first + i]);
	if (big) {
		atomic_fetch_add(&g_big_total, n);
		atomic_fetch_add(&g_big_free, n);
	}
	return 0;
}

static void wake_encoder(void)
{
	if (atomic_load_explicit(&g_enc_sleeping, memory_order_relaxed)) {
		atomic_fetch_add(&g_enc_seq, 1);
		futex(&g_enc_seq, FUTEX_WAKE_PRIVATE, 1, NULL);
	}
}

/* n buffers went back to the pool: as many producers waiting for one
 * may take them (waking all of them for each buffer would have all but
 * one go back to sleep). */
static void wake_waiters(int n)
{
	if (n && atomic_load(&g_buf_waiters)) {
		atomic_fetch_add(&g_buf_seq, 1);
		futex(&g_buf_seq, FUTEX_WAKE_PRIVATE, (uint32_t)n, NULL);
	}
}

static struct ht__buf *take_small(void)
{
	struct ht__buf *b;

	while (!(b = pop(&g_free_small))) {
		int rc;

		pthread_mutex_lock(&g_grow_lock);
		rc = (b = pop(&g_free_small)) ? 0 : grow(0);
		pthread_mutex_unlock(&g_grow_lock);
		if (b)
			break;
		if (rc)
			return NULL;
	}
	buf_reset(b);
	return b;
}

/* A big buffer: from the free list, else grow within the budget
 * (pool size + one big buffer per live thread), else wait for the
 * encoder a bounded time.  NULL: drop. */
/* flush_all() modes: KEEP may leave the writer's block of the last
 * thread drained open (buffer pressure: more events follow), TIMER and
 * FINAL write everything. */
enum { FL_KEEP, FL_FINAL, FL_TIMER };
static void flush_all(int mode);

/*
 * After writing with signals blocked: a write past RLIMIT_FSIZE left
 * SIGXFSZ pending.  If it was not pending before (p0, taken before the
 * write), it is ours, not the program's: take it before the program's
 * mask comes back.
 */
static void take_own_sigxfsz(const sigset_t *p0)
{
	sigset_t p1, x;
	struct timespec zero = { 0, 0 };

	sigpending(&p1);
	if (!sigismember(&p1, SIGXFSZ) || sigismember(p0, SIGXFSZ))
		return;
	sigemptyset(&x);
	sigaddset(&x, SIGXFSZ);
	sigtimedwait(&x, NULL, &zero);
}

/* Writing on a program's thread, as the encoder writes: with every
 * signal blocked (a write past RLIMIT_FSIZE gives EFBIG), and the
 * SIGXFSZ it leaves taken before the program's mask comes back. */
struct quiet {
	sigset_t mask, pend;
};

static void quiet_begin(struct quiet *q)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &q->mask);
	sigpending(&q->pend);
}

static void quiet_end(const struct quiet *q)
{
	take_own_sigxfsz(&q->pend);
	pthread_sigmask(SIG_SETMASK, &q->mask, NULL);
}

static struct ht__buf *take_big(int may_wait)
{
	struct ht__buf *b;
	uint64_t deadline = 0;

	for (;;) {
		if ((b = pop(&g_free_big))) {
			uint32_t f = atomic_fetch_sub(&g_big_free, 1) - 1;

			if (f < atomic_load(&g_big_total) / 2)
				wake_encoder();
			buf_reset(b);
			return b;
		}
		pthread_mutex_lock(&g_grow_lock);
		if (atomic_load(&g_free_big) & 0xffffffffu) {
			pthread_mutex_unlock(&g_grow_lock);
			continue;
		}
		if (atomic_load(&g_big_total) + CHUNK_BYTES / BIG_BYTES <=
			    g_big_base + atomic_load(&g_live) &&
		    !grow(1)) {
			pthread_mutex_unlock(&g_grow_lock);
			continue;
		}
		pthread_mutex_unlock(&g_grow_lock);
		if (!may_wait || !atomic_load(&g_enc_running))
			return NULL;
		/* Rather than sleep until the encoder thread gets a CPU
		 * (on a busy machine it may not for a while), encode here.
		 * Signals are blocked (we are in ht__reserve_slow()). */
		if (pthread_mutex_trylock(&g_wlock) == 0) {
			uint32_t before = atomic_load(&g_big_free);
			sigset_t p0;

			sigpending(&p0);
			flush_all(FL_KEEP);
			pthread_mutex_unlock(&g_wlock);
			/* RLIMIT_FSIZE may have been lowered since we looked */
			take_own_sigxfsz(&p0);
			if (atomic_load(&g_big_free) > before)
				continue;
		}
		{
			uint64_t now = mono_ns();
			uint32_t seq;
			struct timespec ts = { 0, 20000000 };

			if (!deadline)
				deadline = now + 500000000u;
			else if (now >= deadline)
				return NULL;
			atomic_fetch_add(&g_buf_waiters, 1);
			seq = atomic_load(&g_buf_seq);
			if (!(atomic_load(&g_free_big) & 0xffffffffu)) {
				/* a sleeping encoder sees g_buf_waiters
				 * first, or is seen sleeping here */
				if (atomic_load(&g_enc_sleeping)) {
					atomic_fetch_add(&g_enc_seq, 1);
					futex(&g_enc_seq, FUTEX_WAKE_PRIVATE,
					      1, NULL);
				}
				futex(&g_buf_seq, FUTEX_WAIT_PRIVATE, seq,
				      &ts);
			}
			atomic_fetch_sub(&g_buf_waiters, 1);
		}
	}
}

static void give_back(struct ht__buf *b)
{
	if (b->big) {
		push(&g_free_big, b);
		atomic_fetch_add(&g_big_free, 1);
	} else {
		push(&g_free_small, b);
	}
}

/*
 * Threads.
 */
static void key_dtor(void *arg);

static struct ht__thr *register_thread(struct ht__tls *t)
{
	uint32_t hi = atomic_load(&g_thr_hi);

	if (!t->tid)
		t->tid = (uint32_t)syscall(SYS_gettid);
	for (uint32_t i = 0; i < MAX_THREADS; i++) {
		struct ht__thr *th = &g_thrs[i];
		uint32_t st = HT__THR_FREE;

		if (i >= hi) {
			/* extend the high-water mark */
			while (hi <= i &&
			       !atomic_compare_exchange_weak(&g_thr_hi, &hi,
							     i + 1))
				;
		}
		if (atomic_load_explicit(&th->state, memory_order_relaxed) !=
			    HT__THR_FREE ||
		    !atomic_compare_exchange_strong(&th->state, &st,
						    HT__THR_CLAIM))
			continue;
		th->tid = t->tid;
		atomic_store(&th->head, 0);
		atomic_store(&th->dropped, 0);
		atomic_store(&th->drop_ts0, 0);
		th->dropped_seen = 0;
		th->last_ts = 0;
		th->gen = 0;
		th->idle = 0;
		th->name[0] = 0;
		atomic_store(&th->pname_set, 0);
		atomic_fetch_add(&g_live, 1);
		atomic_store_explicit(&th->state, HT__THR_LIVE,
				      memory_order_release);
		if (g_key_ok)
			pthread_setspecific(g_key, (void *)1);
		return th;
	}
	return NULL;
}

static void drop(struct ht__tls *t, unsigned n)
{
	if (t->thr) {
		if (!atomic_load_explicit(&t->thr->drop_ts0,
					  memory_order_relaxed))
			atomic_store_explicit(&t->thr->drop_ts0, ht__clock(),
					      memory_order_relaxed);
		atomic_fetch_add_explicit(&t->thr->dropped, n,
					  memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&g_lost_nothr, n,
					  memory_order_relaxed);
	}
}

struct ht__rec *ht__reserve_slow(struct ht__tls *t, struct ht__rec *r,
				 unsigned n)
{
	struct ht__rec *oldend = NULL, *got = NULL;
	struct ht__buf *old, *nb;
	sigset_t all, mask;
	int e;

	if (t->guard || !g_bufs ||
	    atomic_load_explicit(&ht__on, memory_order_relaxed) != 1)
		return NULL;
	if (t->nest > 1) {
		/* a signal handler inside a hook: no switching here; the
		 * outer hook publishes at most up to the end, which must not
		 * take in the slots of this reservation that fit before it:
		 * they stay unwritten */
		if (r < t->end)
			t->end = r;
		drop(t, 1);
		return NULL;
	}
	e = errno;
	/* the switch must not be interleaved with a handler's events */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &mask);
	t->guard++;
	old = t->cur;
	if (old)
		oldend = r < t->end ? r : t->end;
	if (!t->thr) {
		/* a buffer without a thread: one a fork child keeps for the
		 * hook its fork interrupted (ht__fork_child()), not ours */
		old = NULL;
		if (!(t->thr = register_thread(t))) {
			drop(t, 1);
			t->pos = t->end = oldend;
			goto out;
		}
	}
	nb = NULL;
	if (t->fills == 0)
		nb = take_small();
	if (!nb)
		nb = take_big(!t->starved);
	if (!nb || n > nb->cap) {
		if (nb)
			give_back(nb);
		t->starved = 1;
		drop(t, 1);
		/* keep the old buffer, full: the next event comes back */
		t->pos = t->end = oldend;
		goto out;
	}
	t->starved = 0;
	if (old) {
		atomic_store_explicit(&old->pub, oldend, memory_order_release);
		atomic_store_explicit(&old->next, nb->idx + 1,
				      memory_order_release);
	} else {
		atomic_store_explicit(&t->thr->head, nb->idx + 1,
				      memory_order_release);
	}
	t->fills++;
	t->cur = nb;
	t->pos = nb->recs + n;
	t->end = nb->recs + nb->cap;
	got = nb->recs;
out:
	t->guard--;
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	errno = e;
	return got;
}

/* The calling thread exits (pthread key destructor, or TLS teardown). */
/* ht__publish() outside a hook, counted as in one (ht__done()): a
 * signal handler then cannot switch buffers under it. */
static void publish_nested(struct ht__tls *t)
{
	t->nest++;
	__asm__ __volatile__("" ::: "memory");
	ht__publish(t);
	__asm__ __volatile__("" ::: "memory");
	t->nest--;
}

void ht__thread_exit(void)
{
	struct ht__tls *t = &ht__t;
	struct ht__thr *th = t->thr;

	if (!th)
		return;
	/* the name, while the thread is still there to ask: one syscall,
	 * and no fd taken beside the program's (the encoder reads it from
	 * /proc only for the threads it sees alive) */
	{
		char name[16];

		if (prctl(PR_GET_NAME, name, 0, 0, 0) == 0) {
			name[sizeof(name) - 1] = 0;
			memcpy(th->pname, name, sizeof(th->pname));
			atomic_store_explicit(&th->pname_set, 1,
					      memory_order_release);
		}
	}
	/* The thread keeps its slot and buffers until it is gone: what it
 * frees later in its exit (TLS, stacks) stays in the same stream, in
 * order.  The encoder releases the slot once the tid no longer exists. */
	if (t->cur && t->pos)
		publish_nested(t);
	t->dead = 1;
	atomic_store_explicit(&th->state, HT__THR_EXITED,
			      memory_order_release);
	/* the encoder frees the slots and buffers of the gone ones on its
	 * rounds; woken once per 64 exits, not at each one, to bound them */
	if ((atomic_fetch_add(&g_exiting, 1) + 1) % 64 == 0)
		wake_encoder();
}

static void key_dtor(void *arg)
{
	(void)arg;
	if (ht__t.main)
		atomic_store(&g_main_left, 1);
	ht__thread_exit();
}

void ht__names_changed(void)
{
	atomic_fetch_add(&g_names_gen, 1);
}

int ht__own_fd(int fd)
{
	return fd >= 0 &&
	       ((fd == g_fd && fd_is(fd, g_dev, g_ino)) ||
		(fd == g_statm && fd_is(fd, g_statm_dev, g_statm_ino)));
}

/*
 * The program is about to put a file of its own on fd (dup2, dup3), one
 * of ours.  Move ours to another number first, under the writer's lock:
 * the encoder checks its fd before a round of writes (check_fd), and a
 * dup2 in the middle of the round would get the rest of them.  Every
 * signal is blocked while the lock is held, and a thread that holds it
 * across a fork does not take it again.
 */
void ht__fd_taken(int fd)
{
	sigset_t all, mask;
	int nfd;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &mask);
	if (!fork_locked)
		pthread_mutex_lock(&g_wlock);
	if (fd == g_fd && fd_is(fd, g_dev, g_ino)) {
		/* on failure (no fd left) the dup2 takes ours, and the next
		 * round's check_fd() opens the trace again */
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, FD_MIN);
		if (nfd >= 0) {
			g_fd = nfd;
			if (g_w)
				ht__writer_set_fd(g_w, nfd);
		}
	} else if (fd == g_statm && fd_is(fd, g_statm_dev, g_statm_ino)) {
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, FD_MIN);
		g_statm = nfd; /* -1: sample_rss() opens it again */
	}
	if (!fork_locked)
		pthread_mutex_unlock(&g_wlock);
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
}

int ht__own_fds(int out[2])
{
	int n = 0, a = ht__own_fd(g_fd) ? g_fd : -1,
	    b = ht__own_fd(g_statm) ? g_statm : -1;

	if (a > b) {
		int x = a;
		a = b;
		b = x;
	}
	if (a >= 0)
		out[n++] = a;
	if (b >= 0 && b != a)
		out[n++] = b;
	return n;
}

uint32_t ht__pid(void)
{
	return g_pid;
}

/*
 * The trace file.
 */
/*
 * The writer's memory (its buffers and zstd's): mapped in chunks as the
 * writer asks, never as one big reservation, so that a program under
 * RLIMIT_AS does not lose address space to the recorder (a writer needs
 * ~13 MB at level 1, ~100 MB at 19, ~700 MB at 22).  All of it goes when
 * the file closes; nothing is freed before.
 */
#define ARENA_CHUNK ((size_t)16 << 20)
#define ARENA_CHUNKS 64
struct arena {
	struct {
		char *base;
		size_t used, cap;
		size_t top; /* the most ever used: no page above is touched */
	} c[ARENA_CHUNKS];
	unsigned n;
};
static struct arena g_arena;

static void *arena_alloc(void *ctx, size_t n)
{
	struct arena *a = ctx;
	size_t cap;
	char *p;

	if (n > SIZE_MAX / 2)
		return NULL;
	for (unsigned i = 0; i < a->n; i++) {
		size_t off = (a->c[i].used + 63) & ~(size_t)63;

		if (off <= a->c[i].cap && n <= a->c[i].cap - off) {
			a->c[i].used = off + n;
			if (a->c[i].top < off + n)
				a->c[i].top = off + n;
			return a->c[i].base + off;
		}
	}
	if (a->n == ARENA_CHUNKS)
		return NULL;
	cap = (n + 4095) & ~(size_t)4095;
	if (cap < ARENA_CHUNK)
		cap = ARENA_CHUNK;
	if (!(p = map(cap)))
		return NULL;
	a->c[a->n].base = p;
	a->c[a->n].cap = cap;
	a->c[a->n].used = n;
	a->c[a->n].top = n;
	a->n++;
	return p;
}

static void arena_free(void *ctx, void *p)
{
	(void)ctx;
	(void)p;
}

static void arena_reset(struct arena *a)
{
	for (unsigned i = 0; i < a->n; i++)
		munmap(a->c[i].base, a->c[i].cap);
	a->n = 0;
}

/* The memory stays mapped, to be used again (at exit: unmapping there
 * would only cost a TLB shootdown on the encoder's CPU). */
static void arena_rewind(struct arena *a)
{
	for (unsigned i = 0; i < a->n; i++)
		a->c[i].used = 0;
}

static const struct ht_allocator g_alloc = { arena_alloc, arena_free,
					     &g_arena };

/* Expands %p (pid), %t (start time, seconds), %h (host name), %%. */
static void expand(const char *pat, char *out, size_t n)
{
	size_t o = 0;
	char tmp[256];

	for (const char *p = pat; *p && o + 1 < n; p++) {
		const char *ins = NULL;

		if (*p == '%' && p[1]) {
			p++;
			if (*p == 'p') {
				snprintf(tmp, sizeof(tmp), "%u", g_pid);
				ins = tmp;
			} else if (*p == 't') {
				snprintf(tmp, sizeof(tmp), "%llu",
					 (unsigned long long)(g_start_real_ns /
							      1000000000u));
				ins = tmp;
			} else if (*p == 'h') {
				if (gethostname(tmp, sizeof(tmp)))
					snprintf(tmp, sizeof(tmp), "host");
				tmp[sizeof(tmp) - 1] = 0;
				ins = tmp;
			} else if (*p == '%') {
				ins = "%";
			} else {
				tmp[0] = '%';
				tmp[1] = *p;
				tmp[2] = 0;
				ins = tmp;
			}
			o += (size_t)snprintf(out + o, n - o, "%s", ins);
			if (o >= n)
				o = n - 1;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = 0;
}

/* Moves fd to a high number, close-on-exec, out of the program's way. */
static int high_fd(int fd)
{
	struct rlimit rl;
	int min = FD_MIN, nfd;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur <= FD_MIN + 16)
		min = rl.rlim_cur > 64 ? (int)rl.rlim_cur - 16 : 3;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, min);
	if (nfd < 0)
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		return fd;
	/* not close(): ours refuses to close g_statm, which fd may be */
	sys_close(fd);
	return nfd;
}

/* Is fd still the file (dev, ino)?  The program may have put one of its
 * own on that number (dup2): then it is the program's, not ours. */
static int fd_is(int fd, dev_t dev, ino_t ino)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == dev &&
	       st.st_ino == ino;
}

static int open_statm(void)
{
	struct stat st;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	fd = high_fd(fd);
	if (fstat(fd, &st) == 0) {
		g_statm_dev = st.st_dev;
		g_statm_ino = st.st_ino;
	}
	return fd;
}

/*
 * Creates the next trace file of this process.  Never overwrites: the
 * first process of a recording takes the expanded pattern; other
 * processes (fork and exec children) and later segments add ".PID" (when
 * the pattern has no %p) and then ".N" until the name is free.
 */
static int create_file(void)
{
	char base[PATH_MAX], name[PATH_MAX + 32], cwd[PATH_MAX],
		tmp[2 * PATH_MAX + 2];
	int fd = -1;

	expand(opt.out, base, sizeof(base));
	if (base[0] != '/' && getcwd(cwd, sizeof(cwd))) {
		snprintf(tmp, sizeof(tmp), "%s/%s", cwd, base);
		if (strlen(tmp) < sizeof(base))
			memcpy(base, tmp, strlen(tmp) + 1);
	}
	for (int i = 0; i < 1000 && fd < 0; i++) {
		int first = g_root && g_segment == 0;

		if (strstr(opt.out, "%p")) {
			if (i == 0)
				snprintf(name, sizeof(name), "%s", base);
			else
				snprintf(name, sizeof(name), "%s.%d", base, i);
		} else if (first && i == 0) {
			snprintf(name, sizeof(name), "%s", base);
		} else {
			int k = i - first;

			if (k == 0)
				snprintf(name, sizeof(name), "%s.%u", base,
					 g_pid);
			else
				snprintf(name, sizeof(name), "%s.%u.%d", base,
					 g_pid, k);
		}
		fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		char msg[PATH_MAX + 128];
		int n = snprintf(msg, sizeof(msg),
				 "heaptape: cannot create '%s': %s\n", name,
				 strerror(errno));
		if (write(2, msg, (size_t)n) < 0)
			n = 0;
		return -1;
	}
	snprintf(g_path, sizeof(g_path), "%s", name);
	return high_fd(fd);
}

static void hex(const uint8_t *u, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++) {
		out[2 * i] = d[u[i] >> 4];
		out[2 * i + 1] = d[u[i] & 15];
	}
	out[32] = 0;
}

static void write_meta(void)
{
	static char cmdline[8192], exe[PATH_MAX], num[12][32], uuid[33],
		warn[768];
	static struct utsname un;
	struct ht_kv kv[32];
	const char *an, *av, *aw;
	size_t n = 0;
	ssize_t len, r;

	len = read_file("/proc/self/cmdline", cmdline, sizeof(cmdline));
	/* argv as one string: arguments separated by spaces, each one with
	 * spaces or quotes in it quoted shell-style */
	if (len > 0) {
		static char q[16384];
		size_t o = 0;

		for (ssize_t i = 0; i < len && o + 8 < sizeof(q);) {
			const char *a = cmdline + i;
			size_t al = strlen(a);
			int quote = !al || strpbrk(a, " \t\n'\"\\$`") != NULL;

			if (o)
				q[o++] = ' ';
			if (quote)
				q[o++] = '\'';
			for (size_t j = 0; j < al && o + 6 < sizeof(q); j++) {
				if (quote && a[j] == '\'') {
					memcpy(q + o, "'\\''", 4);
					o += 4;
				} else {
					q[o++] = a[j];
				}
			}
			if (quote)
				q[o++] = '\'';
			i += (ssize_t)al + 1;
		}
		q[o] = 0;
		kv[n++] = (struct ht_kv){ "process.cmdline", q };
	}
	r = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[r > 0 ? r : 0] = 0;
	uname(&un);
	snprintf(num[0], sizeof(num[0]), "%u", g_pid);
	snprintf(num[1], sizeof(num[1]), "%u", g_ppid);
	snprintf(num[2], sizeof(num[2]), "%llu",
		 (unsigned long long)g_start_real_ns);
	snprintf(num[3], sizeof(num[3]), "%ld", g_page);
	snprintf(num[4], sizeof(num[4]), "%ld", sysconf(_SC_NPROCESSORS_ONLN));
	snprintf(num[5], sizeof(num[5]), "%lld",
		 (long long)(g_start_real_ns - g_start_mono_ns));
	snprintf(num[6], sizeof(num[6]), "%llu",
		 ht__use_tsc && g_mult ?
			 (unsigned long long)(((unsigned __int128)1000000000u
					       << 32) /
					      g_mult) :
			 0ull);
	snprintf(num[7], sizeof(num[7]), "%llu",
		 (unsigned long long)(opt.latency ? clock_cost_ns() : 0));
	kv[n++] = (struct ht_kv){ "process.pid", num[0] };
	kv[n++] = (struct ht_kv){ "process.ppid", num[1] };
	kv[n++] = (struct ht_kv){ "process.exe", exe };
	kv[n++] = (struct ht_kv){ "process.start_realtime_ns", num[2] };
	if (g_have_parent) {
		hex(g_parent_uuid, uuid);
		kv[n++] = (struct ht_kv){ "process.parent_trace_uuid", uuid };
	}
	kv[n++] = (struct ht_kv){ "clock.source",
				  ht__use_tsc ? "tsc" : "monotonic" };
	kv[n++] = (struct ht_kv){ "clock.domain", "monotonic" };
	kv[n++] = (struct ht_kv){ "clock.unit_num", "1" };
	kv[n++] = (struct ht_kv){ "clock.unit_den", "1" };
	kv[n++] = (struct ht_kv){ "clock.realtime_offset_ns", num[5] };
	if (ht__use_tsc && g_calibrated)
		kv[n++] = (struct ht_kv){ "clock.tsc_hz", num[6] };
	kv[n++] = (struct ht_kv){ "host.name", un.nodename };
	kv[n++] = (struct ht_kv){ "host.kernel", un.release };
	kv[n++] = (struct ht_kv){ "host.arch", un.machine };
	kv[n++] = (struct ht_kv){ "host.page_size", num[3] };
	kv[n++] = (struct ht_kv){ "host.ncpu", num[4] };
	ht__allocator(&an, &av, &aw);
	kv[n++] = (struct ht_kv){ "allocator.name", an };
	if (av)
		kv[n++] = (struct ht_kv){ "allocator.version", av };
	if (opt.warn[0] && aw) {
		snprintf(warn, sizeof(warn), "%s; %s", opt.warn, aw);
		aw = warn;
	} else if (opt.warn[0]) {
		aw = opt.warn;
	}
	if (aw)
		kv[n++] = (struct ht_kv){ "recorder.warning", aw };
	kv[n++] = (struct ht_kv){ "libc.version", gnu_get_libc_version() };
	kv[n++] = (struct ht_kv){ "recorder.name", "heaptape" };
	kv[n++] = (struct ht_kv){ "recorder.version", HT_VERSION_STRING };
	kv[n++] = (struct ht_kv){ "recorder.options", opt.desc };
	if (opt.latency) {
		kv[n++] = (struct ht_kv){ "recorder.latency", "1" };
		kv[n++] = (struct ht_kv){ "recorder.clock_read_ns", num[7] };
	}
	if (getenv("MALLOC_ARENA_MAX"))
		kv[n++] = (struct ht_kv){ "allocator.MALLOC_ARENA_MAX",
					  getenv("MALLOC_ARENA_MAX") };
	if (getenv("GLIBC_TUNABLES"))
		kv[n++] = (struct ht_kv){ "allocator.GLIBC_TUNABLES",
					  getenv("GLIBC_TUNABLES") };
	ht_writer_meta(g_w, kv, n);
}

static void stop_writing(uint32_t reason)
{
	if (!g_failed) {
		g_failed = 1;
		g_stop_reason = reason;
	}
}

/* Takes fd as the trace's, remembering which file it is. */
static void reserve_fd(int fd)
{
	struct stat st;

	g_fd = fd;
	if (!fstat(fd, &st)) {
		g_dev = st.st_dev;
		g_ino = st.st_ino;
	}
}

static uint64_t cpu_ns(clockid_t id)
{
	struct timespec t;

	if (clock_gettime(id, &t))
		return 0;
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* CPU time of the encoder thread so far (its work on this trace is the
 * difference since the trace opened); 0 when it is not running. */
static uint64_t enc_cpu_ns(void)
{
	clockid_t id;

	if (!atomic_load(&g_enc_running) || pthread_getcpuclockid(g_enc, &id))
		return 0;
	return cpu_ns(id);
}

/* Opens the writer if needed.  0 ok, -1 recording to a file failed.
 * early: at start, before the clock is calibrated. */
static int open_writer(int early)
{
	struct ht_writer_opts wo;
	int fd, rc;

	if (g_w)
		return 0;
	if (g_failed || g_final)
		return -1;
	if (!early)
		calibrate();
	if ((fd = g_fd) < 0 && (fd = create_file()) < 0) {
		stop_writing(HT_LOSS_IO);
		return -1;
	}
	memset(&wo, 0, sizeof(wo));
	wo.level = opt.level;
	wo.block_events = g_block_events;
	wo.allocator = &g_alloc;
	wo.uuid = g_uuid;
	rc = ht_writer_open(&g_w, fd, &wo);
	if (rc < 0) {
		struct stat a, b;

		/* no memory for a writer (RLIMIT_AS): no empty file that
		 * looks like a trace either; record says none was written */
		if (fstat(fd, &a) == 0 && a.st_size == 0 &&
		    stat(g_path, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev)
			unlink(g_path);
		g_w = NULL;
		sys_close(fd);
		g_fd = -1;
		stop_writing(HT_LOSS_IO);
		return -1;
	}
	if (fd != g_fd)
		reserve_fd(fd);
	g_segment++;
	write_meta();
	g_cpu0 = enc_cpu_ns();
	return 0;
}

static int ensure_writer(void)
{
	return open_writer(0);
}

/* The program may have closed our fd (daemons close everything): put the
 * file back under the same number.  If something else now sits on that
 * number, stop: it is the program's. */
static int check_fd(void)
{
	if (fcntl(g_fd, F_GETFD) < 0 && errno == EBADF) {
		int fd = open(g_path, O_WRONLY | O_APPEND | O_CLOEXEC);

		if (fd < 0)
			return -1;
		if (fd != g_fd) {
			/* not dup3(): ours would take g_wlock again */
			if (syscall(SYS_dup3, fd, g_fd, O_CLOEXEC) < 0) {
				sys_close(fd);
				return -1;
			}
			sys_close(fd);
		}
	}
	if (!fd_is(g_fd, g_dev, g_ino)) {
		/* The program put a file of its own on the number (dup2):
		 * that one is its now; the trace goes on at another. */
		int fd = open(g_path, O_WRONLY | O_APPEND | O_CLOEXEC);

		if (fd < 0)
			return -1;
		fd = high_fd(fd);
		if (!fd_is(fd, g_dev, g_ino)) {
			sys_close(fd);
			return -1;
		}
		g_fd = fd;
		if (g_w)
			ht__writer_set_fd(g_w, fd);
	}
	return 0;
}

/* How many of n events can be written before a limit (--max-size,
 * RLIMIT_FSIZE, a full disk); 0 stops writing. */
#define EV_BOUND 48u
#define TAIL_RESERVE (64u << 10) /* the final LOSS, INDEX and END blocks */
static size_t room_for(size_t n)
{
	uint64_t have = ht_writer_bytes(g_w), lim = UINT64_MAX, left;
	uint32_t why = HT_LOSS_LIMIT;
	struct rlimit rl;
	struct statfs sf;

	if (opt.max_size)
		lim = opt.max_size;
	if (!getrlimit(RLIMIT_FSIZE, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < lim)
		lim = rl.rlim_cur;
	if (!fstatfs(g_fd, &sf)) {
		uint64_t disk = (uint64_t)sf.f_bavail * (uint64_t)sf.f_bsize;

		disk = disk > (1u << 20) ? disk - (1u << 20) : 0;
		if (have + disk < lim) {
			lim = have + disk;
			why = HT_LOSS_IO;
		}
	}
	if (lim == UINT64_MAX)
		return n;
	left = lim > have + TAIL_RESERVE + 4096 ? lim - have - TAIL_RESERVE -
							  4096 : 0;
	if (left / EV_BOUND < 64 && left / EV_BOUND < n) {
		stop_writing(why);
		return 0;
	}
	return left / EV_BOUND < n ? (size_t)(left / EV_BOUND) : n;
}

static void discard(size_t n, uint64_t ts0, uint64_t ts1)
{
	if (!n)
		return;
	if (!g_discarded || ts0 < g_discard_ts0)
		g_discard_ts0 = ts0;
	if (ts1 > g_discard_ts1)
		g_discard_ts1 = ts1;
	g_discarded += n;
}

/*
 * The writer's open block: g_pend events of thread g_pend_tid, from
 * g_pend_ts0 to g_pend_ts1 (ns), not written yet.  It may take g_budget
 * events in all: a whole block, or near a size limit (--max-size,
 * RLIMIT_FSIZE, a full disk) as many as are sure to fit (48 bytes an
 * event is more than any block needs), until not even a small block
 * does.  A drain under buffer pressure leaves it open, and the next
 * drain of the same thread goes on filling it, so that a busy thread's
 * blocks are full (65536 events compress better and encode faster than
 * the odd sizes the encoder's wake-ups would cut).  The timer flush
 * writes it: an event still reaches the file at the first timer flush
 * after it happened.
 */
static size_t g_pend, g_budget;
static uint32_t g_pend_tid;
static uint64_t g_pend_ts0, g_pend_ts1;

/* The open block cannot be written (the fd is not ours, a write
 * failed): writing stops, its events are counted as lost. */
static void lose_pending(void)
{
	size_t n = g_pend;

	g_pend = 0;
	g_budget = 0;
	stop_writing(HT_LOSS_IO); /* keeps an earlier reason */
	if (g_w)
		ht_writer_drop(g_w);
	discard(n, g_pend_ts0, g_pend_ts1);
}

/* Writes the open block. */
static void write_pending(void)
{
	if (g_pend &&
	    (g_failed || check_fd() || ht_writer_seal(g_w) < 0)) {
		lose_pending();
		return;
	}
	g_pend = 0;
	g_budget = 0;
}

/*
 * Adds n events of thread tid to the open block, after its events if it
 * is that thread's: g_scratch[0..n) when r is NULL, else the records r
 * (none with HT__REC_EXT or HT__REC_DUR) as they are.
 */
static void put_events(const struct ht__rec *r, size_t n, uint32_t tid,
		       const struct ht__recclock *clk)
{
	const struct ht_event *ev = g_scratch;
#define TS_AT(i) (r ? ht__rec_ns(clk, r[i].ts) : ev[i].ts)

	while (n) {
		size_t k;
		int rc;

		if (g_pend && g_pend_tid != tid)
			write_pending();
		if (!g_pend) {
			if (g_failed || ensure_writer() ||
			    !(g_budget = room_for(g_block_events))) {
				discard(n, TS_AT(0), TS_AT(n - 1));
				return;
			}
			g_pend_tid = tid;
			g_pend_ts0 = TS_AT(0);
		}
		k = g_budget - g_pend < n ? g_budget - g_pend : n;
		g_pend_ts1 = TS_AT(k - 1);
		/* a full block is written by the append: the fd is checked
		 * before every block, as write_pending() does */
		rc = g_pend + k == g_block_events && check_fd();
		if (!rc)
			rc = r ? ht__writer_append_recs(g_w, r, k, g_pid, tid,
							clk) :
				 ht_writer_append(g_w, ev, k);
		if (rc) {
			g_pend += k;
			lose_pending();
			if (n > k)
				discard(n - k, TS_AT(k), TS_AT(n - 1));
			return;
		}
		g_pend += k;
		if (r)
			r += k;
		else
			ev += k;
		n -= k;
		if (g_pend == g_budget)
			write_pending();
	}
#undef TS_AT
}

/*
 * Records r..end of thread tid as events, into the open block.  A run
 * of plain records goes to the encoder as it is; a record with a second
 * one (HT__REC_EXT) or a duration is made an event in g_scratch first.
 */
static void convert(const struct ht__rec *r, const struct ht__rec *end,
		    uint32_t tid)
{
	size_t n = 0;
	uint32_t pid = g_pid;
	struct ht__recclock clk = rec_clock();

	while (r < end) {
		/* runs of up to RUN records: still in cache when the
		 * encoder reads them after this scan */
		const struct ht__rec *q = r, *qe = end - r > RUN ? r + RUN : end;
		struct ht_event *ev;

		while (q < qe && !((q->szop >> 60) &
				   (HT__REC_EXT | HT__REC_DUR)))
			q++;
		if (q > r) {
			put_events(NULL, n, tid, &clk);
			n = 0;
			put_events(r, (size_t)(q - r), tid, &clk);
			r = q;
			continue;
		}

		unsigned fl = (unsigned)(r->szop >> 60);

		if (n == SCRATCH) {
			put_events(NULL, n, tid, &clk);
			n = 0;
		}
		ev = &g_scratch[n++];
		ht__rec_event(r, &clk, pid, tid, ev);
		if (!(fl & HT__REC_EXT)) {
			ev->dur = dur_ns(r->aux); /* DUR alone: an op without aux */
		} else {
			if (r + 1 < end) {
				ev->size = r[1].addr;
				ev->nmemb = r[1].szop;
				if (fl & HT__REC_DUR)
					ev->dur = dur_ns(r[1].ts);
			}
			r++;
		}
		r++;
	}
	put_events(NULL, n, tid, &clk);
}

static void thread_name(struct ht__thr *th, uint64_t ts)
{
	char path[64], name[32];
	ssize_t n;

	if (atomic_load_explicit(&th->pname_set, memory_order_acquire)) {
		memcpy(name, th->pname, sizeof(th->pname));
		n = (ssize_t)strlen(name);
	} else {
		snprintf(path, sizeof(path), "/proc/self/task/%u/comm",
			 th->tid);
		n = read_file(path, name, sizeof(name));
	}
	if (n <= 0)
		return;
	if (name[n - 1] == '\n')
		name[n - 1] = 0;
	if (!strncmp(name, th->name, sizeof(th->name)))
		return;
	name[sizeof(th->name) - 1] = 0;
	memcpy(th->name, name, sizeof(th->name));
	if (g_w && !g_failed)
		ht_writer_thread(g_w, ts, g_pid, th->tid, th->name);
}

/* Encodes what thread th has published, up to the buffers begun after
 * upto (raw clock): those wait for the next flush, so that a flush never
 * chases a producer faster than the encoder (a fork, an exit and the
 * encoder's next round each wait for g_wlock).  whole: only the buffers
 * the thread has filled, not the one it is filling (a round for buffer
 * pressure: taking a few events of each of many threads would make as
 * many tiny blocks).  Returns the number of events. */
static size_t drain(struct ht__thr *th, uint32_t names_gen, uint64_t upto,
		    int whole)
{
	uint32_t hi = atomic_load_explicit(&th->head, memory_order_acquire);
	size_t total = 0;
	uint64_t first_ts = 0;
	int returned = 0;

	while (hi) {
		struct ht__buf *b = &g_bufs[hi - 1];
		uint32_t nx = atomic_load_explicit(&b->next,
						   memory_order_acquire);
		struct ht__rec *end = atomic_load_explicit(
			&b->pub, memory_order_acquire);
		struct ht__rec *from = b->recs + b->done;

		if (whole && !nx)
			break;
		if (end > from && from->ts > upto)
			break;
		if (end > from) {
			if (!first_ts)
				first_ts = from->ts;
			convert(from, end, th->tid);
			th->last_ts = end[-1].ts;
			total += (size_t)(end - from);
			b->done = (uint32_t)(end - b->recs);
		}
		if (!nx)
			break;
		/* the producer moved on: b is finished */
		atomic_store_explicit(&th->head, nx, memory_order_release);
		give_back(b);
		returned++;
		hi = nx;
	}
	wake_waiters(returned);
	if ((total || atomic_load(&th->pname_set)) &&
	    th->gen != names_gen + 1) {
		/* name: on the first events of a thread, and after renames */
		if (!g_failed && !ensure_writer())
			thread_name(th, to_ns(first_ts ? first_ts :
							  ht__clock()));
		th->gen = names_gen + 1;
	}
	{
		uint64_t d = atomic_load_explicit(&th->dropped,
						  memory_order_relaxed);

		if (d != th->dropped_seen && !g_failed && !ensure_writer()) {
			struct ht_loss l = {
				.ts_from = to_ns(atomic_load(&th->drop_ts0)),
				.ts_to = to_ns(ht__clock()),
				.pid = g_pid,
				.tid = th->tid,
				.events = d - th->dropped_seen,
				.reason = HT_LOSS_BUFFERS,
			};
			if (ht_writer_loss(g_w, &l) >= 0) {
				th->dropped_seen = d;
				atomic_store(&th->drop_ts0, 0);
			}
		}
	}
	return total;
}

/* Returns a finished thread's buffers and its slot. */
static void release_thread(struct ht__thr *th)
{
	uint32_t hi = atomic_load(&th->head);
	int returned = 0;

	while (hi) {
		struct ht__buf *b = &g_bufs[hi - 1];

		hi = atomic_load(&b->next);
		give_back(b);
		returned++;
	}
	wake_waiters(returned);
	atomic_store(&th->head, 0);
	atomic_fetch_sub(&g_live, 1);
	atomic_store_explicit(&th->state, HT__THR_FREE, memory_order_release);
}

/*
 * The recorder's own resident memory: its buffer pool, thread table,
 * scratch and writer arena (zstd included), and the pages of its own
 * library; not the encoder's stack (~30 KiB used).  mincore() on the
 * mappings the recorder made itself: what it adds to the process's RSS.
 */
static struct {
	uintptr_t base;
	size_t len;
} g_own_seg[8];
static unsigned g_own_nseg;
static uint64_t g_peak_rss, g_peak_own; /* at the highest RSS sample */

static int own_segments(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t me = (uintptr_t)arg;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && me >= lo && me < lo + ph->p_memsz)
			goto ours;
	}
	return 0;
ours:
	for (int i = 0; i < info->dlpi_phnum &&
			g_own_nseg < sizeof(g_own_seg) / sizeof(g_own_seg[0]);
	     i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		g_own_seg[g_own_nseg].base = info->dlpi_addr + ph->p_vaddr;
		g_own_seg[g_own_nseg++].len = ph->p_memsz;
	}
	return 1;
}

static uint64_t resident(const void *p, size_t len)
{
	static unsigned char vec[4096];
	uintptr_t pg = (uintptr_t)g_page;
	uintptr_t a = (uintptr_t)p & ~(pg - 1), end = (uintptr_t)p + len;
	uint64_t n = 0;

	if (!p)
		return 0;
	while (a < end) {
		size_t k = (end - a + pg - 1) / pg;

		if (k > sizeof(vec))
			k = sizeof(vec);
		if (mincore((void *)a, k * pg, vec))
			break;
		for (size_t i = 0; i < k; i++)
			n += vec[i] & 1;
		a += k * pg;
	}
	return n * pg;
}

/* Over what was ever touched only (buffers and thread slots in use so
 * far, the arena up to its high-water marks): the pages above are not
 * resident, and asking about them was ~70 % of the mincore() pages, at
 * every new RSS peak (cc1: 14 % of the encoder's CPU). */
static uint64_t own_rss(void)
{
	/* slots a fork child's reset left below the mark stay touched */
	static uint32_t thr_top;
	uint32_t nc = atomic_load(&g_nchunks), hi = atomic_load(&g_thr_hi);
	uint64_t n;

	if (hi > thr_top)
		thr_top = hi;
	n = resident(g_bufs, sizeof(struct ht__buf) * atomic_load(&g_nbufs)) +
	    resident(g_thrs, sizeof(struct ht__thr) * thr_top) +
	    resident(g_scratch, sizeof(struct ht_event) * SCRATCH);

	for (uint32_t i = 0; i < nc; i++)
		n += resident(g_chunks[i], CHUNK_BYTES);
	for (unsigned i = 0; i < g_arena.n; i++)
		n += resident(g_arena.c[i].base, g_arena.c[i].top);
	for (unsigned i = 0; i < g_own_nseg; i++)
		n += resident((void *)g_own_seg[i].base, g_own_seg[i].len);
	return n;
}

static void sample_rss(void)
{
	char buf[128];
	ssize_t n;
	unsigned long size, res;

	if (g_statm < 0 || (n = pread(g_statm, buf, sizeof(buf) - 1, 0)) <= 0) {
		/* not if the program put a file of its own on the number */
		if (fd_is(g_statm, g_statm_dev, g_statm_ino))
			sys_close(g_statm);
		g_statm = open_statm();
		if (g_statm < 0)
			return;
		if ((n = pread(g_statm, buf, sizeof(buf) - 1, 0)) <= 0)
			return;
	}
	buf[n] = 0;
	if (sscanf(buf, "%lu %lu", &size, &res) != 2)
		return;
	if (g_nrss == RSS_MAX)
		return;
	g_rss[g_nrss++] = (struct ht_rss_sample){ ht__clock(), g_pid,
						  (uint64_t)res *
							  (uint64_t)g_page };
	/* only a new peak needs the recorder's share: few calls */
	if ((uint64_t)res * (uint64_t)g_page > g_peak_rss) {
		g_peak_rss = (uint64_t)res * (uint64_t)g_page;
		g_peak_own = own_rss();
	}
}

/* One pass over every thread.  Caller holds g_wlock. */
static void flush_all(int mode)
{
	uint32_t hi = atomic_load(&g_thr_hi);
	uint32_t gen = atomic_load(&g_names_gen);
	int state = atomic_load(&ht__on), wrote = 0;
	int final = mode == FL_FINAL;
	/* the last flush takes everything; others what came before them */
	uint64_t upto = final ? UINT64_MAX : ht__clock();

	/* the program may have put a file of its own on our number (dup2):
	 * not one byte of the trace into it */
	if (g_w && !g_failed && check_fd())
		lose_pending();
	calibrate(); /* once */
	for (uint32_t i = 0; i < hi; i++) {
		struct ht__thr *th = &g_thrs[i];
		uint32_t st = atomic_load_explicit(&th->state,
						   memory_order_acquire);
		size_t got;

		if (st != HT__THR_LIVE && st != HT__THR_EXITED)
			continue;
		if (st == HT__THR_EXITED && th->gen &&
		    atomic_load(&th->pname_set) == 1) {
			th->gen = 0; /* the exit name may be new */
			atomic_store(&th->pname_set, 2);
		}
		got = drain(th, gen, upto, mode == FL_KEEP);
		wrote |= got != 0;
		if (st == HT__THR_EXITED) {
			if (syscall(SYS_tgkill, g_pid, th->tid, 0) < 0 &&
			    errno == ESRCH) {
				/* gone: nothing more can come */
				drain(th, gen, UINT64_MAX, 0);
				release_thread(th);
				atomic_fetch_sub(&g_exiting, 1);
			}
		} else if (got) {
			th->idle = 0;
		} else if (++th->idle % 8 == 0 &&
			   syscall(SYS_tgkill, g_pid, th->tid, 0) < 0 &&
			   errno == ESRCH) {
			/* died after its key destructor ran, or without it */
			drain(th, gen, UINT64_MAX, 0);
			release_thread(th);
		}
	}
	if (mode != FL_KEEP)
		write_pending();
	/* paused intervals and events nobody could take */
	if (state == 2 && !g_pause_from)
		g_pause_from = ht__clock();
	if ((state != 2 || final) && g_pause_from && g_w && !g_failed) {
		uint64_t p = atomic_load(&ht__paused_events);
		struct ht_loss l = { to_ns(g_pause_from), to_ns(ht__clock()),
				     g_pid, 0, p - g_paused_seen,
				     HT_LOSS_PAUSED };

		ht_writer_loss(g_w, &l);
		g_paused_seen = p;
		g_pause_from = 0;
	}
	/* RSS samples ride with events, or go alone when many wait (an
	 * idle process should not write a block every flush) */
	if (g_nrss && g_w && !g_failed &&
	    (final || wrote || g_nrss >= RSS_MAX / 2)) {
		for (size_t i = 0; i < g_nrss; i++)
			g_rss[i].ts = to_ns(g_rss[i].ts);
		ht_writer_rss(g_w, g_rss, g_nrss);
		g_nrss = 0;
	} else if (g_nrss == RSS_MAX) {
		g_nrss = 0;
	}
}

/* Final LOSS records, END, close.  Caller holds g_wlock. */
static void close_trace(int cmd)
{
	uint64_t lost, cpu;
	int sig;

	write_pending();
	lost = atomic_exchange(&g_lost_nothr, 0);
	if (g_w && check_fd() == 0) {
		if (g_discarded || lost) {
			uint64_t now = to_ns(ht__clock());
			struct ht_loss l = {
				g_discarded ? g_discard_ts0 : now,
				g_discarded ? g_discard_ts1 : now, g_pid, 0,
				g_discarded + lost,
				g_discarded ? g_stop_reason : HT_LOSS_BUFFERS
			};
			ht_writer_loss(g_w, &l);
		}
		if ((sig = ht__end_signal()) != 0) {
			char v[32];
			const char *ab = sigabbrev_np(sig);
			struct ht_kv kv = { "process.end_signal", v };

			if (ab)
				snprintf(v, sizeof(v), "SIG%s", ab);
			else
				snprintf(v, sizeof(v), "%d", sig);
			ht_writer_meta(g_w, &kv, 1);
		}
		/* the encoder's work on this trace, and a close on the
		 * program's thread (_exit, a fatal signal): its flush */
		cpu = enc_cpu_ns();
		cpu = cpu > g_cpu0 ? cpu - g_cpu0 : 0;
		if (g_here_cpu0)
			cpu += cpu_ns(CLOCK_THREAD_CPUTIME_ID) - g_here_cpu0;
		if (atomic_load(&g_enc_running) || g_here_cpu0) {
			char v[32];
			struct ht_kv kv = { "recorder.cpu_ns", v };

			snprintf(v, sizeof(v), "%llu",
				 (unsigned long long)cpu);
			ht_writer_meta(g_w, &kv, 1);
		}
		if (g_peak_rss) {
			char v[32];
			struct ht_kv kv = { "recorder.rss_bytes", v };

			snprintf(v, sizeof(v), "%llu",
				 (unsigned long long)g_peak_own);
			ht_writer_meta(g_w, &kv, 1);
		}
		ht_writer_close(g_w);
	} else if (g_w) {
		/* the fd is gone or is the program's now: write nothing */
		ht_writer_abandon(g_w);
	}
	if (fd_is(g_fd, g_dev, g_ino))
		sys_close(g_fd);
	g_w = NULL;
	g_fd = -1;
	/* the writer's memory: kept at exit, else unmapped */
	if (cmd != CMD_EXIT)
		arena_reset(&g_arena);
	else
		arena_rewind(&g_arena);
	g_discarded = 0;
	g_failed = 0;
}

/* After the last flush of a close command.  Caller holds g_wlock. */
static void finish(int cmd)
{
	/* a process always leaves a trace, even without events (and a
	 * file reserved by the constructor is always made a trace) */
	if (!g_w && (g_fd >= 0 || (cmd != CMD_EXEC && g_segment == 0)))
		ensure_writer();
	close_trace(cmd);
	if (cmd == CMD_EXIT) {
		atomic_store(&ht__on, 0);
		g_final = 1;
	}
}

/* The main thread left by pthread_exit() and every other thread of the
 * program is gone: only we keep the process alive (glibc exits when its
 * thread count, which counts us, reaches zero).  Do that exit(0). */
static int only_encoder_left(void)
{
	char b[512], path[64], *p;
	long n = 0;

	/* not /proc every flush: its fds would be the lowest free ones,
	 * for a moment the program could see (and its open() would get
	 * the next one) */
	if (!atomic_load(&g_main_left))
		return 0;
	if (read_file("/proc/self/stat", b, sizeof(b)) <= 0 ||
	    !(p = strrchr(b, ')')))
		return 0;
	/* field 20, num_threads: the zombie main thread and us */
	for (int f = 2; f < 20 && p; f++)
		p = strchr(p + 1, ' ');
	if (p)
		n = strtol(p + 1, NULL, 10);
	if (n != 2)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/task/%u/stat", g_pid);
	return read_file(path, b, sizeof(b)) > 0 && (p = strrchr(b, ')')) &&
	       p[1] == ' ' && p[2] == 'Z';
}

static void *encoder(void *arg)
{
	uint64_t next_flush, next_rss, now;

	(void)arg;
	ht__t.guard = 1; /* our own allocations are not the program's */
	prctl(PR_SET_NAME, "heaptape", 0, 0, 0);
	now = mono_ns();
	next_flush = now + (uint64_t)opt.flush_ms * 1000000u;
	next_rss = now;
	for (;;) {
		uint32_t seq = atomic_load(&g_enc_seq);
		int cmd, mode;
		uint64_t wake;

		now = mono_ns();
		if (now >= next_rss) {
			/* g_rss is the writer's: a close may run on another
			 * thread (it samples too) */
			if (pthread_mutex_trylock(&g_wlock) == 0) {
				sample_rss();
				pthread_mutex_unlock(&g_wlock);
			}
			next_rss = now + 10000000u;
		}
		wake = next_rss < next_flush ? next_rss : next_flush;
		/* announce the sleep first, then look: a producer that took
		 * buffers meanwhile either sees us sleeping (and wakes us) or
		 * is seen here */
		atomic_store(&g_enc_sleeping, 1);
		cmd = atomic_load(&g_cmd);
		if (cmd == CMD_NONE && now < wake &&
		    atomic_load(&g_big_free) >= atomic_load(&g_big_total) / 2 &&
		    !atomic_load(&g_buf_waiters)) {
			struct timespec ts = { 0, (long)(wake - now) };

			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec = ts.tv_nsec / 1000000000;
				ts.tv_nsec %= 1000000000;
			}
			futex(&g_enc_seq, FUTEX_WAIT_PRIVATE, seq, &ts);
			atomic_store(&g_enc_sleeping, 0);
			continue;
		}
		atomic_store(&g_enc_sleeping, 0);
		mode = cmd != CMD_NONE ? FL_FINAL :
		       now >= next_flush ? FL_TIMER : FL_KEEP;
		pthread_mutex_lock(&g_wlock);
		flush_all(mode);
		if (cmd != CMD_NONE) {
			finish(cmd);
			atomic_store(&g_cmd, CMD_NONE);
			atomic_fetch_add(&g_ack, 1);
			futex(&g_ack, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
		}
		pthread_mutex_unlock(&g_wlock);
		if (mode != FL_KEEP)
			next_flush = mono_ns() +
				     (uint64_t)opt.flush_ms * 1000000u;
		if (mode == FL_TIMER && only_encoder_left()) {
			/* the close runs here, from the exit handler */
			atomic_store(&g_enc_running, 0);
			exit(0);
		}
	}
	return NULL;
}

static void start_encoder(void)
{
	sigset_t all, old;
	pthread_attr_t at;
	int attr = pthread_attr_init(&at) == 0;

	/* 1 MiB of stack, not RLIMIT_STACK's 8 (address space a program
	 * under RLIMIT_AS may need): the deepest path, a close, uses
	 * ~30 KiB; zstd keeps its tables in the arena */
	if (attr)
		pthread_attr_setstacksize(&at, (size_t)1 << 20);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	atomic_store(&g_enc_running,
		     pthread_create(&g_enc, attr ? &at : NULL, encoder,
				    NULL) == 0);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (attr)
		pthread_attr_destroy(&at);
	if (atomic_load(&g_enc_running))
		pthread_detach(g_enc);
}

/* Does a close on the calling thread (caller holds g_wlock), with every
 * signal blocked as in the encoder: a write past RLIMIT_FSIZE must give
 * EFBIG, and the SIGXFSZ it leaves pending is ours, not the program's. */
static void close_here(int cmd)
{
	struct quiet q;

	quiet_begin(&q);
	ht__t.guard++;
	g_here_cpu0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	sample_rss(); /* a short process may have none yet */
	flush_all(FL_FINAL);
	finish(cmd);
	g_here_cpu0 = 0;
	ht__t.guard--;
	quiet_end(&q);
}

/*
 * Closes now.  On the main thread (its stack is the big one: the close
 * needs ~30 KiB of it) when the writer is free, right here: handing the
 * close to the encoder costs two thread switches, and on a busy machine
 * the encoder may wait for a CPU.  Else as a command to the encoder, and
 * waits for it (bounded).  Without an encoder, here.
 */
static void request_close(int cmd)
{
	int expect = CMD_NONE;
	int here = !atomic_load(&g_enc_running) ||
		   (uint32_t)syscall(SYS_gettid) == g_pid;

	if (!g_bufs)
		return;
	/* what a signal handler added after this thread's last publish */
	if (ht__t.cur && ht__t.pos && !ht__t.nest)
		publish_nested(&ht__t);
	if (here) {
		/* signals blocked from the lock on: a handler's dup2 would
		 * take it again (ht__fd_taken) */
		sigset_t all, mask;
		int got;

		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &mask);
		got = pthread_mutex_trylock(&g_wlock) == 0;
		if (got) {
			close_here(cmd);
			pthread_mutex_unlock(&g_wlock);
		}
		pthread_sigmask(SIG_SETMASK, &mask, NULL);
		if (got)
			return;
	}
	if (atomic_load(&g_enc_running) &&
	    !pthread_equal(pthread_self(), g_enc)) {
		uint32_t ack = atomic_load(&g_ack);
		uint64_t deadline = mono_ns() + 5000000000ull;

		if (!atomic_compare_exchange_strong(&g_cmd, &expect, cmd) &&
		    expect != cmd)
			return;
		atomic_fetch_add(&g_enc_seq, 1);
		futex(&g_enc_seq, FUTEX_WAKE_PRIVATE, 1, NULL);
		while (atomic_load(&g_ack) == ack) {
			uint64_t now = mono_ns();
			struct timespec ts = { 0, 50000000 };

			if (now >= deadline)
				return;
			futex(&g_ack, FUTEX_WAIT_PRIVATE, ack, &ts);
		}
	}
}

void ht__close_now(int why)
{
	int e = errno;

	request_close(why == HT__CLOSE_EXEC ? CMD_EXEC :
		      why == HT__CLOSE_ABORT ? CMD_ABORT : CMD_EXIT);
	errno = e;
}

/* The final close is an exit handler that runs after the loader's
 * _dl_fini (ht__init()); our destructor then does nothing. */
static int g_exit_late;
extern int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);

static void at_last_exit(void *arg)
{
	(void)arg;
	ht__fini();
}

void ht__fini(void)
{
	int e = errno;

	request_close(CMD_EXIT);
	errno = e;
}

static void toggle(int sig)
{
	int on = atomic_load(&ht__on);

	(void)sig;
	if (on == 1)
		atomic_store(&ht__on, 2);
	else if (on == 2)
		atomic_store(&ht__on, 1);
}

/*
 * Under RLIMIT_AS the program's address space is ours too: record only
 * when the recorder needs at most a quarter of what is left (its pool,
 * tables and stacks ~32 MB, plus a writer: ~13 MB at zstd level 1, ~100
 * at 19, ~700 at 22).  Else the program runs as if not recorded, and
 * record says why no trace was written.
 */
static int address_space_ok(void)
{
	struct rlimit rl;
	unsigned long long pages = 0, need;
	char b[64];

	if (getrlimit(RLIMIT_AS, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return 1;
	if (read_file("/proc/self/statm", b, sizeof(b)) <= 0 ||
	    sscanf(b, "%llu", &pages) != 1)
		return 0;
	need = opt.level <= 3 ? 14 : opt.level <= 9 ? 26 :
	       opt.level <= 19 ? 100 : 700;
	need = (need + 32) << 20;
	pages *= (unsigned long long)sysconf(_SC_PAGESIZE);
	return rl.rlim_cur > pages && (rl.rlim_cur - pages) / 4 >= need;
}

/* Pool, threads and scratch: mapped once per process. */
static int pool_init(void)
{
	g_bufs = map(sizeof(struct ht__buf) * MAX_BUFS);
	g_thrs = map(sizeof(struct ht__thr) * MAX_THREADS);
	g_block_events = 65536;
	{
		const char *b = getenv("HEAPTAPE_BLOCK_EVENTS");

		if (b && atoi(b) >= 1024 && atoi(b) <= 65536)
			g_block_events = (uint32_t)atoi(b);
	}
	g_scratch = map(sizeof(struct ht_event) * SCRATCH);
	if (!g_bufs || !g_thrs || !g_scratch) {
		g_bufs = NULL;
		return -1;
	}
	g_big_base = (uint32_t)(opt.pool_bytes / BIG_BYTES);
	return 0;
}

/*
 * --only: HEAPTAPE_ONLY holds comma-separated shell patterns; a process
 * is recorded when one matches the base name of its executable or of
 * its argv[0] (python3 runs as python3.11; a script's argv[0] is its
 * interpreter).  1 when there is no such variable.
 */
static int only_match(void)
{
	const char *pat = getenv("HEAPTAPE_ONLY"), *p, *e;
	char exe[PATH_MAX], arg0[PATH_MAX], one[256];
	const char *be = "", *ba = "", *sl;
	ssize_t n;

	if (!pat || !*pat)
		return 1;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		be = (sl = strrchr(exe, '/')) ? sl + 1 : exe;
	}
	if (read_file("/proc/self/cmdline", arg0, sizeof(arg0)) > 0)
		ba = (sl = strrchr(arg0, '/')) ? sl + 1 : arg0;
	for (p = pat; *p; p = *e ? e + 1 : e) {
		e = strchrnul(p, ',');
		if (e == p || (size_t)(e - p) >= sizeof(one))
			continue;
		memcpy(one, p, (size_t)(e - p));
		one[e - p] = 0;
		if ((*be && fnmatch(one, be, 0) == 0) ||
		    (*ba && fnmatch(one, ba, 0) == 0))
			return 1;
	}
	return 0;
}

void ht__init(void)
{
	struct timespec rt;

	ht__t.guard++;
	ht__resolve();
	ht__resolve_exec();
	options();
	g_pid = (uint32_t)getpid();
	g_ppid = (uint32_t)getppid();
	g_page = sysconf(_SC_PAGESIZE);
	clock_gettime(CLOCK_REALTIME, &rt);
	g_start_mono_ns = mono_ns();
	g_start_real_ns = (uint64_t)rt.tv_sec * 1000000000u +
			  (uint64_t)rt.tv_nsec;
	clock_init();
	if (getrandom(g_uuid, sizeof(g_uuid), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(g_uuid)) {
		uint64_t x = g_start_real_ns ^ ((uint64_t)g_pid << 32);

		memcpy(g_uuid, &x, 8);
		x = ht__clock();
		memcpy(g_uuid + 8, &x, 8);
	}
	g_uuid[6] = (g_uuid[6] & 0x0f) | 0x40;
	g_uuid[8] = (g_uuid[8] & 0x3f) | 0x80;
	g_root = 1;
	if (opt.no_follow)
		unfollow();
	if (!only_match() || !address_space_ok() || pool_init()) {
		ht__t.guard--;
		return;
	}
	dl_iterate_phdr(own_segments, (void *)(uintptr_t)&ht__init);
	g_key_ok = pthread_key_create(&g_key, key_dtor) == 0;
	/* its destructor tells a main thread's pthread_exit(), events or
	 * not */
	ht__t.main = 1;
	if (g_key_ok)
		pthread_setspecific(g_key, (void *)1);
	pthread_atfork(ht__fork_prepare, ht__fork_parent, ht__fork_child);
	if (opt.toggle_sig > 0) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = toggle;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction(opt.toggle_sig, &sa, NULL);
	}
	ht__take_fatal_signals(opt.toggle_sig);
	/* quick_exit() runs no destructor: ours goes last of its handlers
	 * (registered first), after those of the program */
	at_quick_exit(ht__fini);
	/* exit(): after every library's destructor, which may allocate and
	 * free (ours runs before those of the libraries loaded after it).
	 * Registered now, before __libc_start_main() registers the
	 * loader's _dl_fini, and with no DSO handle (not run by our own
	 * __cxa_finalize()): the last exit handler to run. */
	g_exit_late = __cxa_atexit(at_last_exit, NULL, NULL) == 0;
	/* Our fds live high (high_fd()): the first one grows the fd table,
	 * which in a process with threads waits for an RCU grace period
	 * (~10 ms).  Take them now, while this is the only thread. */
	g_statm = open_statm();
	/* The first process of a recording takes the name now, before a
	 * child it starts can (files are otherwise made at the first
	 * flush: cc1 would get the name of the gcc that ran it). */
	if (g_root) {
		struct quiet q;
		int fd;

		/* written on the program's thread (RLIMIT_FSIZE: EFBIG,
		 * not a SIGXFSZ that kills the program) */
		quiet_begin(&q);
		fd = create_file();
		/* with its header and metadata at once: a process killed
		 * before its first flush still leaves a readable trace */
		if (fd >= 0) {
			reserve_fd(fd);
			open_writer(1);
		}
		quiet_end(&q);
	}
	atomic_store(&ht__on, opt.paused ? 2 : 1);
	if (opt.paused)
		g_pause_from = ht__clock();
	start_encoder();
	ht__t.guard--;
}

/*
 * fork: the child is a new process with one thread and no encoder.  It
 * drops what it inherited (buffers hold the parent's events, the writer
 * belongs to the parent's file) and starts its own trace, linked to the
 * parent's by UUID.
 */

void ht__fork_prepare(void)
{
	struct quiet q;

	fork_locked = 0;
	if (!g_bufs)
		return;
	/* With other threads recording, the fork neither waits for the
	 * encoder nor writes: a busy encoder holds g_wlock for a whole
	 * round and the flush would follow, ~150 ms a fork on a loaded
	 * machine.  The child starts afresh whatever the encoder was
	 * doing (ht__fork_child), and a process with threads does not
	 * daemon(3). */
	if (atomic_load(&g_live) > 1)
		return;
	/* Else keep the encoder out of the writer while the address space
	 * is copied, and write what this process recorded so far: a
	 * parent that forks and leaves by the internal _exit (daemon(3))
	 * runs no hook. */
	/* set first: a handler's dup2 (ht__fd_taken) must not wait for
	 * the lock this thread is about to hold */
	fork_locked = 1;
	pthread_mutex_lock(&g_wlock);
	if (atomic_load(&ht__on) != 1 || g_final)
		return;
	quiet_begin(&q);
	ht__t.guard++;
	flush_all(FL_TIMER);
	ht__t.guard--;
	quiet_end(&q);
}

void ht__fork_parent(void)
{
	if (fork_locked)
		pthread_mutex_unlock(&g_wlock);
	fork_locked = 0;
}

void ht__fork_child(void)
{
	struct ht__tls *t = &ht__t;
	struct ht__buf *keep = NULL;
	uint32_t nb;

	if (!g_bufs)
		return;
	/* forked by a signal handler that interrupted a hook: that hook
	 * still writes its slot of t->cur and publishes it when the handler
	 * returns.  The buffer stays out of the pool (its event is the
	 * parent's). */
	if (t->nest && t->cur)
		keep = t->cur;
	pthread_mutex_init(&g_wlock, NULL);
	pthread_mutex_init(&g_grow_lock, NULL);
	fork_locked = 0;
	t->guard++;
	memcpy(g_parent_uuid, g_uuid, 16);
	g_have_parent = 1;
	if (getrandom(g_uuid, sizeof(g_uuid), GRND_NONBLOCK) != 16)
		g_uuid[0] ^= 0x5a, g_uuid[15] ^= (uint8_t)getpid();
	g_uuid[6] = (g_uuid[6] & 0x0f) | 0x40;
	g_uuid[8] = (g_uuid[8] & 0x3f) | 0x80;
	g_ppid = g_pid;
	g_pid = (uint32_t)getpid();
	g_root = 0;
	g_segment = 0;
	g_w = NULL; /* the parent's: its memory goes with the arena */
	arena_reset(&g_arena);
	/* the parent's files: the trace, and statm (which names the
	 * parent's /proc entry) */
	if (fd_is(g_fd, g_dev, g_ino))
		syscall(SYS_close, g_fd);
	if (fd_is(g_statm, g_statm_dev, g_statm_ino))
		syscall(SYS_close, g_statm);
	g_fd = -1;
	/* the child's own, now: from the encoder it would take the lowest
	 * free fd for a moment while the program runs (close(0); open()) */
	g_statm = open_statm();
	g_failed = 0;
	g_final = 0;
	g_discarded = 0;
	g_pend = g_budget = 0; /* the parent's events */
	g_nrss = 0;
	g_peak_rss = g_peak_own = 0;
	g_pause_from = atomic_load(&ht__on) == 2 ? ht__clock() : 0;
	atomic_store(&ht__paused_events, 0);
	g_paused_seen = 0;
	atomic_store(&g_lost_nothr, 0);
	/* every buffer free, every thread gone */
	atomic_store(&g_free_small, 0);
	atomic_store(&g_free_big, 0);
	atomic_store(&g_big_free, 0);
	nb = atomic_load(&g_nbufs);
	for (uint32_t i = nb; i-- > 0;) {
		if (&g_bufs[i] == keep)
			continue;
		buf_reset(&g_bufs[i]);
		give_back(&g_bufs[i]);
	}
	memset(g_thrs, 0, sizeof(struct ht__thr) * atomic_load(&g_thr_hi));
	atomic_store(&g_thr_hi, 0);
	atomic_store(&g_live, 0);
	atomic_store(&g_exiting, 0);
	atomic_store(&g_cmd, CMD_NONE);
	atomic_store(&g_buf_waiters, 0);
	atomic_store(&g_enc_sleeping, 0);
	/* past the end: the next event takes a new buffer */
	t->pos = t->end = keep ? keep->recs + keep->cap : NULL;
	t->cur = keep;
	t->thr = NULL;
	t->tid = 0;
	t->fills = 0;
	t->dead = 0;
	/* the forking thread is the child's main thread */
	t->main = 1;
	atomic_store(&g_main_left, 0);
	if (g_key_ok)
		pthread_setspecific(g_key, (void *)1);
	start_encoder();
	t->guard--;
}

__attribute__((constructor)) static void ht_ctor(void)
{
	ht__init();
}

__attribute__((destructor)) static void ht_dtor(void)
{
	if (!g_exit_late)
		ht__fini();
}
