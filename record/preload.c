/*
 * preload.c - the functions libheaptape-record.so interposes: the malloc
 * family (each call becomes one event, ht__emit() in record.h), and the
 * process-lifecycle calls after which the trace must be flushed (exec*,
 * _exit, abort, death by a signal) or relabelled (pthread_setname_np).
 *
 * Order (DESIGN.md "Recorder"): a free is recorded before the real free,
 * an allocation after the real call, so that no address is ever seen
 * reused before its free.
 *
 * The real functions come from dlsym(RTLD_NEXT, ...).  dlsym itself may
 * call calloc/malloc before they are known: those calls are served from a
 * small static buffer (lttng-ust static_calloc, heaptrack DummyPool), and
 * free() recognises and ignores that buffer.
 */
#include <dlfcn.h>
#include <link.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <stdio.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <alloca.h>
#include <malloc.h>

#include "record.h"

#define EXPORT __attribute__((visibility("default")))

/* C23, not declared by glibc 2.36 */
void free_sized(void *p, size_t n);
void free_aligned_sized(void *p, size_t align, size_t n);
/* POSIX.1-2001, withdrawn: not declared under _GNU_SOURCE */
sighandler_t bsd_signal(int sig, sighandler_t h);

struct ht__real ht__real;

/*
 * Bootstrap allocator.  Each block is preceded by its size so that a
 * later realloc() can copy it out.
 */
static _Alignas(64) char boot_buf[64 * 1024];
static _Atomic(size_t) boot_used;
static _Atomic(int) resolving;

static int is_boot(const void *p)
{
	return (const char *)p >= boot_buf &&
	       (const char *)p < boot_buf + sizeof(boot_buf);
}

static void *boot_alloc(size_t n, size_t align)
{
	size_t off, start, total;

	if (align < 16)
		align = 16;
	if (n > sizeof(boot_buf))
		return NULL;
	for (;;) {
		off = atomic_load(&boot_used);
		start = (off + 16 + align - 1) & ~(align - 1);
		total = start + n;
		if (total > sizeof(boot_buf))
			return NULL;
		if (atomic_compare_exchange_weak(&boot_used, &off, total))
			break;
	}
	memcpy(boot_buf + start - sizeof(size_t), &n, sizeof(n));
	return boot_buf + start; /* static memory: already zero */
}

static size_t boot_size(const void *p)
{
	size_t n;

	memcpy(&n, (const char *)p - sizeof(size_t), sizeof(n));
	return n;
}

#define SYM(name) ((void)(*(void **)&ht__real.name = dlsym(RTLD_NEXT, #name)))

static void resolve(void)
{
	int zero = 0;

	if (!atomic_compare_exchange_strong(&resolving, &zero, 1))
		return; /* another thread resolves; it uses boot meanwhile */
	ht__t.guard++;
	SYM(calloc);
	SYM(realloc);
	SYM(reallocarray);
	SYM(free);
	SYM(posix_memalign);
	SYM(aligned_alloc);
	SYM(memalign);
	SYM(valloc);
	SYM(pvalloc);
	SYM(free_sized);
	SYM(free_aligned_sized);
	/* malloc last: it is what the hooks test to know we are ready. */
	{
		void *m = dlsym(RTLD_NEXT, "malloc");
		atomic_store((_Atomic(void *) *)(void *)&ht__real.malloc, m);
	}
	ht__t.guard--;
}

static inline int ready(void)
{
	if (__builtin_expect(ht__real.malloc != NULL, 1))
		return 1;
	resolve();
	return ht__real.malloc != NULL;
}

/*
 * Which allocator the program really runs on: the library the next
 * malloc after ours comes from (glibc, or jemalloc, mimalloc, tcmalloc
 * linked or preloaded after us).  And whether the program calls ours at
 * all: an executable with a malloc of its own (a statically linked
 * allocator) shadows it, and nothing it allocates can be seen.  Done in
 * the constructor, before any thread: dladdr takes the loader's lock.
 */
static char alloc_name[64], alloc_version[64], alloc_warning[PATH_MAX + 96];

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static void find_allocator(void)
{
	Dl_info real, def, self;
	void *d = dlsym(RTLD_DEFAULT, "malloc");
	const ElfW(Sym) *ds = NULL;
	const char *b;

	snprintf(alloc_name, sizeof(alloc_name), "unknown");
	if (ht__real.malloc && dladdr((void *)ht__real.malloc, &real) &&
	    real.dli_fname) {
		b = base_name(real.dli_fname);
		if (!strncmp(b, "libc.so", 7) || !strncmp(b, "libc-", 5)) {
			snprintf(alloc_name, sizeof(alloc_name), "glibc");
			snprintf(alloc_version, sizeof(alloc_version), "%s",
				 gnu_get_libc_version());
		} else if (strstr(b, "jemalloc")) {
			int (*ctl)(const char *, void *, size_t *, void *,
				   size_t) = (int (*)(const char *, void *,
						      size_t *, void *,
						      size_t))
				dlsym(RTLD_NEXT, "mallctl");
			const char *v = NULL;
			size_t vs = sizeof(v);

			snprintf(alloc_name, sizeof(alloc_name), "jemalloc");
			if (ctl && ctl("version", &v, &vs, NULL, 0) == 0 && v)
				snprintf(alloc_version, sizeof(alloc_version),
					 "%s", v);
		} else if (strstr(b, "mimalloc")) {
			int (*ver)(void) = (int (*)(void))dlsym(RTLD_NEXT,
							       "mi_version");

			snprintf(alloc_name, sizeof(alloc_name), "mimalloc");
			if (ver) {
				int v = ver();

				snprintf(alloc_version, sizeof(alloc_version),
					 "%d.%d.%d", v / 100, v / 10 % 10,
					 v % 10);
			}
		} else if (strstr(b, "tcmalloc")) {
			const char *(*ver)(int *, int *, const char **) =
				(const char *(*)(int *, int *, const char **))
					dlsym(RTLD_NEXT, "tc_version");
			int ma = 0, mi = 0;
			const char *pa = NULL, *v;

			snprintf(alloc_name, sizeof(alloc_name), "tcmalloc");
			if (ver && (v = ver(&ma, &mi, &pa)) != NULL)
				snprintf(alloc_version, sizeof(alloc_version),
					 "%s", v);
		} else {
			snprintf(alloc_name, sizeof(alloc_name), "%s", b);
		}
	}
	/* a definition of malloc, not the canonical PLT entry of an
	 * executable that takes malloc's address (node): undefined there */
	if (d && dladdr1(d, &def, (void **)&ds, RTLD_DL_SYMENT) && ds &&
	    ds->st_shndx != SHN_UNDEF && dladdr((void *)base_name, &self) &&
	    def.dli_fbase != self.dli_fbase) {
		const char *who = def.dli_fname && *def.dli_fname ?
					  def.dli_fname : "the executable";

		snprintf(alloc_warning, sizeof(alloc_warning),
			 "malloc is %s's own (a statically linked "
			 "allocator?): its calls are not recorded", who);
		snprintf(alloc_name, sizeof(alloc_name), "%s", base_name(who));
		alloc_version[0] = 0;
	}
}

void ht__allocator(const char **name, const char **version,
		   const char **warning)
{
	*name = alloc_name;
	*version = alloc_version[0] ? alloc_version : NULL;
	*warning = alloc_warning[0] ? alloc_warning : NULL;
}

/* Constructor helper: resolve early, before any thread exists. */
void ht__resolve(void);
void ht__resolve(void)
{
	(void)ready();
	ht__t.guard++;
	find_allocator();
	ht__t.guard--;
}

static inline int rec_on(void)
{
	return !ht__t.guard;
}

/* What a record keeps of a result: the address, or errno if it failed. */
#define RES(p) ((p) ? (uint64_t)(uintptr_t)(p) : (uint64_t)errno)
#define FAIL(p) ((p) ? 0u : HT_EV_FAILED)

void ht__emit_ext(int op, uint64_t addr, uint64_t size, uint64_t aux,
		  uint64_t nmemb, unsigned flags, uint64_t t0, int before)
{
	struct ht__tls *t = &ht__t;
	/* a duration of an op without aux fits in one record */
	int one = t0 && size <= HT__SZ_MASK &&
		  !(ht__op_kind[op & 15] & HT__K_AUX);
	struct ht__rec *r = ht__take(t, one ? 1 : 2);
	uint64_t ts, d = 0;

	if (!r)
		return;
	ts = ht__clock();
	if (t0) {
		flags |= HT__REC_DUR;
		d = ts > t0 ? ts - t0 : 0; /* TSCs of two CPUs a hair apart */
		if (before)
			ts = t0;
	}
	if (one) {
		r[0] = (struct ht__rec){ ts, addr,
					 HT__SZOP(size, op, flags), d };
		ht__done(t);
		return;
	}
	r[0] = (struct ht__rec){ ts, addr,
				 HT__SZOP(size & HT__SZ_MASK, op,
					  flags | HT__REC_EXT),
				 aux };
	r[1] = (struct ht__rec){ d, size, nmemb, 0 };
	ht__done(t);
}

/* A free-family call: logged before the real one, or in latency mode
 * after it, with the time it was called. */
#define FREE_CALL(op, p, size, aux, call)                                  	do {                                                               		if (!rec_on()) {                                           			call;                                              		} else if (__builtin_expect(ht__lat, 0)) {                 			uint64_t t0_ = ht__clock();                        			call;                                              			ht__emit_ext(op, (uintptr_t)(p), size, aux, 0, 0,  				     t0_ ? t0_ : 1, 1);                    		} else {                                                   			ht__emit(op, (uintptr_t)(p), size, aux, 0, 0);     			call;                                              		}                                                          	} while (0)

EXPORT void *malloc(size_t n)
{
	void *p;
	uint64_t t0;

	if (!ready())
		return boot_alloc(n, 16);
	t0 = ht__t0();
	p = ht__real.malloc(n);
	if (rec_on())
		ht__emit(HT_OP_MALLOC, RES(p), n, 0, FAIL(p), t0);
	return p;
}

EXPORT void *calloc(size_t nmemb, size_t size)
{
	void *p;

	if (!ready() || !ht__real.calloc) {
		size_t total;

		if (__builtin_mul_overflow(nmemb, size, &total))
			return NULL;
		return boot_alloc(total, 16);
	}
	uint64_t t0 = ht__t0();

	p = ht__real.calloc(nmemb, size);
	if (rec_on())
		ht__emit(HT_OP_CALLOC, RES(p), size, nmemb, FAIL(p), t0);
	return p;
}

EXPORT void free(void *p)
{
	if (__builtin_expect(is_boot(p), 0))
		return;
	if (!ready())
		return; /* cannot happen: p came from somewhere */
	FREE_CALL(HT_OP_FREE, p, 0, 0, ht__real.free(p));
}

static void *boot_realloc(void *p, size_t n)
{
	size_t old = boot_size(p);
	void *q = ht__real.malloc ? ht__real.malloc(n) : boot_alloc(n, 16);

	if (q)
		memcpy(q, p, old < n ? old : n);
	return q;
}

EXPORT void *realloc(void *p, size_t n)
{
	void *q;
	unsigned fl;

	if (!ready() || is_boot(p)) {
		if (!p)
			return ready() ? malloc(n) : boot_alloc(n, 16);
		return boot_realloc(p, n);
	}
	uint64_t t0 = ht__t0();

	q = ht__real.realloc(p, n);
	if (rec_on()) {
		/* realloc(p, 0) frees p and may return NULL: not a failure */
		int failed = !q && (n != 0 || !p);

		fl = failed ? HT_EV_FAILED : (q && q == p ? HT_EV_INPLACE : 0);
		ht__emit(HT_OP_REALLOC, failed ? (uint64_t)errno : (uintptr_t)q,
			 n, (uintptr_t)p, fl, t0);
	}
	return q;
}

EXPORT void *reallocarray(void *p, size_t nmemb, size_t size)
{
	void *q;
	unsigned fl;
	int failed;

	if (!ready() || is_boot(p) || !ht__real.reallocarray) {
		size_t total;

		if (__builtin_mul_overflow(nmemb, size, &total)) {
			errno = ENOMEM;
			return NULL;
		}
		return realloc(p, total);
	}
	if (!rec_on())
		return ht__real.reallocarray(p, nmemb, size);
	/* glibc's reallocarray calls realloc: one event, not two */
	uint64_t t0 = ht__t0();

	ht__t.guard++;
	q = ht__real.reallocarray(p, nmemb, size);
	ht__t.guard--;
	failed = !q && (nmemb != 0 && size != 0);
	fl = failed ? HT_EV_FAILED : (q && q == p ? HT_EV_INPLACE : 0);
	{
		int e = errno;

		ht__emit_ext(HT_OP_REALLOCARRAY,
			     failed ? (uint64_t)e : (uintptr_t)q, size,
			     (uintptr_t)p, nmemb, fl, t0, 0);
		errno = e;
	}
	return q;
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	int rc;

	if (!ready()) {
		void *p = boot_alloc(n, align);

		if (!p)
			return ENOMEM;
		*out = p;
		return 0;
	}
	uint64_t t0 = ht__t0();

	rc = ht__real.posix_memalign(out, align, n);
	if (rec_on())
		ht__emit(HT_OP_POSIX_MEMALIGN,
			 rc ? (uint64_t)rc : (uintptr_t)*out, n, align,
			 rc ? HT_EV_FAILED : 0, t0);
	return rc;
}

#define ALIGNED_HOOK(name, OP)                                             \
	EXPORT void *name(size_t align, size_t n)                          \
	{                                                                  \
		void *p;                                                   \
		uint64_t t0;                                               \
		if (!ready())                                              \
			return boot_alloc(n, align);                       \
		t0 = ht__t0();                                             \
		p = ht__real.name(align, n);                               \
		if (rec_on())                                              \
			ht__emit(OP, RES(p), n, align, FAIL(p), t0);       \
		return p;                                                  \
	}
ALIGNED_HOOK(aligned_alloc, HT_OP_ALIGNED_ALLOC)
ALIGNED_HOOK(memalign, HT_OP_MEMALIGN)

#define PAGE_HOOK(name, OP)                                                \
	EXPORT void *name(size_t n)                                        \
	{                                                                  \
		void *p;                                                   \
		uint64_t t0;                                               \
		if (!ready())                                              \
			return boot_alloc(n, 4096);                        \
		t0 = ht__t0();                                             \
		p = ht__real.name(n);                                      \
		if (rec_on())                                              \
			ht__emit(OP, RES(p), n, 0, FAIL(p), t0);           \
		return p;                                                  \
	}
PAGE_HOOK(valloc, HT_OP_VALLOC)
PAGE_HOOK(pvalloc, HT_OP_PVALLOC)

/* C23; glibc 2.36 lacks them, then they are plain free(). */
EXPORT void free_sized(void *p, size_t n)
{
	if (is_boot(p) || !ready())
		return;
	FREE_CALL(HT_OP_FREE_SIZED, p, n, 0,
		  ht__real.free_sized ? ht__real.free_sized(p, n) :
					ht__real.free(p));
}

EXPORT void free_aligned_sized(void *p, size_t align, size_t n)
{
	if (is_boot(p) || !ready())
		return;
	FREE_CALL(HT_OP_FREE_ALIGNED_SIZED, p, n, align,
		  ht__real.free_aligned_sized ?
			  ht__real.free_aligned_sized(p, align, n) :
			  ht__real.free(p));
}

/*
 * Lifecycle.  A vfork child shares our memory and must not touch the
 * parent's trace: it is recognised by its pid.
 */
static int in_vfork_child(void)
{
	return (uint32_t)syscall(SYS_getpid) != ht__pid();
}

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);

#define NEXT(type, name) ((type)dlsym(RTLD_NEXT, name))

/* Resolved by the constructor: a vfork child (gcc's pex, ...) must not
 * call dlsym, which takes the loader's lock in the parent's memory. */
static struct {
	execve_fn execve, execvpe;
	execv_fn execv, execvp;
	int (*fexecve)(int, char *const[], char *const[]);
} real_exec;

void ht__resolve_exec(void);
static int (*real_close)(int);
static int (*real_close_range)(unsigned, unsigned, int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);

void ht__resolve_exec(void)
{
	real_close = NEXT(int (*)(int), "close");
	real_close_range = NEXT(int (*)(unsigned, unsigned, int),
				"close_range");
	real_dup2 = NEXT(int (*)(int, int), "dup2");
	real_dup3 = NEXT(int (*)(int, int, int), "dup3");
	real_exec.execve = NEXT(execve_fn, "execve");
	real_exec.execvpe = NEXT(execve_fn, "execvpe");
	real_exec.execv = NEXT(execv_fn, "execv");
	real_exec.execvp = NEXT(execv_fn, "execvp");
	real_exec.fexecve = NEXT(int (*)(int, char *const[], char *const[]),
				 "fexecve");
}

static void before_exec(void)
{
	if (!real_exec.execve)
		ht__resolve_exec();
	if (!in_vfork_child())
		ht__close_now(HT__CLOSE_EXEC);
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	before_exec();
	return real_exec.execve(path, argv, envp);
}

EXPORT int execv(const char *path, char *const argv[])
{
	before_exec();
	return real_exec.execv(path, argv);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	before_exec();
	return real_exec.execvp(file, argv);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	before_exec();
	return real_exec.execvpe(file, argv, envp);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	before_exec();
	return real_exec.fexecve(fd, argv, envp);
}

/* execl, execlp, execle: collect the arguments, then the v-form. */
#define COLLECT_ARGS(arg0, ap, argv)                                       \
	do {                                                               \
		size_t n_ = 1;                                             \
		va_list c_;                                                \
		va_copy(c_, ap);                                           \
		while (va_arg(c_, char *))                                 \
			n_++;                                              \
		va_end(c_);                                                \
		argv = alloca((n_ + 1) * sizeof(char *));                  \
		argv[0] = (char *)(arg0);                                  \
		for (size_t i_ = 1; i_ <= n_; i_++)                        \
			argv[i_] = va_arg(ap, char *);                     \
	} while (0)

EXPORT int execl(const char *path, const char *arg, ...)
{
	char **argv;
	va_list ap;

	va_start(ap, arg);
	COLLECT_ARGS(arg, ap, argv);
	va_end(ap);
	return execv(path, argv);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	char **argv;
	va_list ap;

	va_start(ap, arg);
	COLLECT_ARGS(arg, ap, argv);
	va_end(ap);
	return execvp(file, argv);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	char **argv, **envp;
	va_list ap;

	va_start(ap, arg);
	COLLECT_ARGS(arg, ap, argv);
	envp = va_arg(ap, char **);
	va_end(ap);
	return execve(path, argv, envp);
}

EXPORT void _exit(int status)
{
	if (!in_vfork_child())
		ht__close_now(HT__CLOSE_EXIT);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

EXPORT void _Exit(int status)
{
	_exit(status);
}

static int state(int sig);
static _Atomic(int) end_signal;
enum { SIG_PROGRAM, SIG_OURS, SIG_ONESHOT };

EXPORT void abort(void)
{
	if (!in_vfork_child()) {
		/* SIGABRT at SIG_DFL (ours underneath): abort() dies of it,
		 * and the trace closed here must say so */
		int none = 0;

		if (state(SIGABRT) == SIG_OURS)
			atomic_compare_exchange_strong(&end_signal, &none,
						       SIGABRT);
		ht__close_now(HT__CLOSE_ABORT);
	}
	NEXT(void (*)(void), "abort")();
	__builtin_unreachable();
}

/*
 * Daemons close every fd.  The trace file and /proc/self/statm stay
 * open: close() on them succeeds without closing (it would have
 * succeeded: they were open), and ranges skip them.
 */
EXPORT int close(int fd)
{
	if (__builtin_expect(ht__own_fd(fd), 0))
		return 0;
	if (!real_close)
		real_close = NEXT(int (*)(int), "close");
	return real_close(fd);
}

/*
 * A program may put a file of its own on one of our numbers (a parent
 * hands its child fd 1000, a shell does `exec 1001>x`): ours moves out
 * of the way first, so the trace never writes into the program's file.
 * Not in a vfork child: it has its own fds but our memory, and execs
 * (our fds close there).
 */
static void before_dup(int oldfd, int newfd)
{
	if (__builtin_expect(ht__own_fd(newfd), 0) && oldfd != newfd &&
	    !in_vfork_child())
		ht__fd_taken(newfd);
}

EXPORT int dup2(int oldfd, int newfd)
{
	before_dup(oldfd, newfd);
	if (!real_dup2)
		real_dup2 = NEXT(int (*)(int, int), "dup2");
	return real_dup2(oldfd, newfd);
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	before_dup(oldfd, newfd);
	if (!real_dup3)
		real_dup3 = NEXT(int (*)(int, int, int), "dup3");
	return real_dup3(oldfd, newfd, flags);
}

static int range(unsigned lo, unsigned hi, int flags)
{
	if (!real_close_range)
		real_close_range = NEXT(int (*)(unsigned, unsigned, int),
					"close_range");
	if (!real_close_range) {
		errno = ENOSYS;
		return -1;
	}
	return real_close_range(lo, hi, flags);
}

EXPORT int close_range(unsigned lo, unsigned hi, int flags)
{
	int own[2], n = ht__own_fds(own), rc = 0;

	if (lo > hi) {
		errno = EINVAL;
		return -1;
	}
	for (int i = 0; i < n && rc == 0; i++) {
		unsigned f = (unsigned)own[i];

		if (f < lo || f > hi)
			continue;
		if (f > lo)
			rc = range(lo, f - 1, flags);
		lo = f + 1;
		if (lo == 0 || lo > hi)
			return rc;
	}
	return rc ? rc : range(lo, hi, flags);
}

EXPORT void closefrom(int lo)
{
	int e = errno;

	if (lo < 0)
		lo = 0;
	if (close_range((unsigned)lo, ~0u, 0) < 0) {
		/* old kernels: one by one, as glibc falls back */
		for (int fd = lo; fd < 65536; fd++)
			close(fd);
	}
	errno = e;
}

EXPORT int pthread_setname_np(pthread_t th, const char *name)
{
	int rc = NEXT(int (*)(pthread_t, const char *),
		      "pthread_setname_np")(th, name);

	if (rc == 0)
		ht__names_changed();
	return rc;
}

/*
 * Death by a signal.  A process killed by a signal left at its default
 * action (SIGTERM from a service manager, ^C, SIGPIPE, a crash in
 * SIGSEGV) never reaches exit(): its trace would lose up to a flush
 * interval, the very events before a crash, and have no END block.  So
 * for each such signal still at SIG_DFL when the recorder starts, a
 * handler of ours closes the trace as abort() does, puts SIG_DFL back and
 * has the signal delivered again: the process dies of it as it would
 * have, with the same status and core dump.
 *
 * The program never sees that handler: sigaction() and signal() report
 * SIG_DFL (with the flags and mask last set) while it is ours.  A handler
 * or SIG_IGN the program sets replaces it; SIG_DFL set again brings it
 * back (Python dies of the SIGINT it caught that way).  A one-shot
 * handler (SA_RESETHAND: node's for ^C, which then raises the signal
 * again) runs from one of ours that does the reset itself, to ours rather
 * than to SIG_DFL.  A disposition changed past these functions (inside
 * libc) is noticed and left alone.
 */
static const int fatal_sigs[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGABRT, SIGBUS, SIGFPE, SIGUSR1,
	SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGXCPU, SIGVTALRM,
	SIGSYS,
};
#define NFATAL (sizeof(fatal_sigs) / sizeof(fatal_sigs[0]))
static _Atomic(unsigned char) sig_state[_NSIG];
/* what the program set (SIG_OURS: a SIG_DFL; SIG_ONESHOT: its handler) */
static struct sigaction sig_view[_NSIG];
static int (*real_sigaction)(int, const struct sigaction *,
			     struct sigaction *);
static int sig_except; /* the toggle signal: never ours */
static struct sigaction sig_ours;
static const struct sigaction sig_dfl; /* zero: SIG_DFL, empty mask */

static void on_fatal(int sig, siginfo_t *si, void *uc);
static void on_oneshot(int sig, siginfo_t *si, void *uc);

static int state(int sig)
{
	return sig > 0 && sig < _NSIG ? atomic_load(&sig_state[sig]) : 0;
}

static void set_state(int sig, int st)
{
	atomic_store(&sig_state[sig], (unsigned char)st);
}

/* Does the real disposition cur still match state st? */
static int still(int st, const struct sigaction *cur)
{
	void (*h)(int, siginfo_t *, void *) =
		st == SIG_OURS ? on_fatal : on_oneshot;

	return (cur->sa_flags & SA_SIGINFO) && cur->sa_sigaction == h;
}

/* sig's state, after a look at the real disposition: one changed past
 * our functions (inside libc: sigignore, ...) is the program's now. */
static int checked_state(int sig)
{
	struct sigaction cur;
	int st = state(sig);

	if (st != SIG_PROGRAM &&
	    (real_sigaction(sig, NULL, &cur) || !still(st, &cur))) {
		set_state(sig, SIG_PROGRAM);
		st = SIG_PROGRAM;
	}
	return st;
}

/* libc's, resolved at start (dlsym is not for signal handlers) */
static sighandler_t (*real_signal)(int, sighandler_t);
static sighandler_t (*real_sigset)(int, sighandler_t);

static int resolve_sigaction(void)
{
	if (!real_sigaction) {
		real_signal = NEXT(sighandler_t (*)(int, sighandler_t),
				   "signal");
		real_sigset = NEXT(sighandler_t (*)(int, sighandler_t),
				   "sigset");
		real_sigaction = NEXT(int (*)(int, const struct sigaction *,
					      struct sigaction *),
				      "sigaction");
	}
	return real_sigaction ? 0 : -1;
}

static int is_fatal(int sig)
{
	if (!sig_ours.sa_sigaction || sig == sig_except)
		return 0;
	for (size_t i = 0; i < NFATAL; i++)
		if (fatal_sigs[i] == sig)
			return 1;
	return 0;
}

static int oneshot(const struct sigaction *a)
{
	return a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN &&
	       (a->sa_flags & SA_RESETHAND);
}

/* Installs act for sig in state st, the program seeing view; the state
 * it had stays if the kernel refuses. */
static int install(int sig, int st, const struct sigaction *act,
		   const struct sigaction *view)
{
	int was = state(sig);

	sig_view[sig] = *view;
	set_state(sig, st);
	if (real_sigaction(sig, act, NULL) == 0)
		return 0;
	set_state(sig, was);
	return -1;
}

/* Ours under a SIG_DFL the program sees as view. */
static int take(int sig, const struct sigaction *view)
{
	return install(sig, SIG_OURS, &sig_ours, view);
}

/* The program's one-shot handler h, run by on_oneshot(). */
static int wrap(int sig, const struct sigaction *h)
{
	struct sigaction w = *h;

	w.sa_sigaction = on_oneshot;
	w.sa_flags = (h->sa_flags & ~SA_RESETHAND) | SA_SIGINFO;
	return install(sig, SIG_ONESHOT, &w, h);
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
	int e = errno;
	pid_t pid = (pid_t)syscall(SYS_getpid);
	pid_t tid = (pid_t)syscall(SYS_gettid);

	(void)uc;
	if (!in_vfork_child()) {
		/* the first fatal signal names the end; a second thread
		 * hit meanwhile waits in the close for the first */
		int none = 0;

		atomic_compare_exchange_strong(&end_signal, &none, sig);
		set_state(sig, SIG_PROGRAM);
		ht__close_now(HT__CLOSE_ABORT);
	}
	real_sigaction(sig, &sig_dfl, NULL);
	errno = e;
	/* a fault from an instruction: it runs again and faults again */
	if (si && si->si_code > 0 &&
	    (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
	     sig == SIGFPE))
		return;
	/* else again, with its siginfo (sender, code): blocked until we
	 * return, then it kills */
	if (!si || syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, si) != 0)
		syscall(SYS_tgkill, pid, tid, sig);
}

static void on_oneshot(int sig, siginfo_t *si, void *uc)
{
	struct sigaction h = sig_view[sig];
	int e = errno;

	/* what SA_RESETHAND does before the handler, with ours under the
	 * SIG_DFL (a vfork child's dispositions are its own copy) */
	if (in_vfork_child())
		real_sigaction(sig, &sig_dfl, NULL);
	else
		take(sig, &sig_dfl);
	errno = e;
	if (h.sa_flags & SA_SIGINFO)
		h.sa_sigaction(sig, si, uc);
	else
		h.sa_handler(sig);
}

int ht__end_signal(void)
{
	return atomic_load(&end_signal);
}

void ht__take_fatal_signals(int except)
{
	if (resolve_sigaction())
		return;
	sig_except = except;
	sig_ours.sa_sigaction = on_fatal;
	sig_ours.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sig_ours.sa_mask);
	for (size_t i = 0; i < NFATAL; i++) {
		int sig = fatal_sigs[i];
		struct sigaction cur;

		if (sig != except && real_sigaction(sig, NULL, &cur) == 0 &&
		    cur.sa_handler == SIG_DFL)
			take(sig, &cur);
	}
}

EXPORT int sigaction(int sig, const struct sigaction *act,
		     struct sigaction *old)
{
	struct sigaction a;
	int st, rc;

	if (resolve_sigaction()) {
		errno = ENOSYS;
		return -1;
	}
	if (act) { /* act and old may be the same struct */
		a = *act;
		act = &a;
	}
	st = checked_state(sig);
	if (st == SIG_PROGRAM) {
		if (!act || !is_fatal(sig) || in_vfork_child() ||
		    (act->sa_handler != SIG_DFL && !oneshot(act)))
			return real_sigaction(sig, act, old);
		/* SIG_DFL (ours underneath) or a one-shot handler */
		if (real_sigaction(sig, NULL, old))
			return -1;
		return act->sa_handler == SIG_DFL ? take(sig, act) :
						    wrap(sig, act);
	}
	if (old)
		*old = sig_view[sig];
	if (!act)
		return 0;
	/* a vfork child changes its own copy of the dispositions only */
	if (in_vfork_child())
		return real_sigaction(sig, act, NULL);
	if (act->sa_handler == SIG_DFL) {
		if (st == SIG_OURS) {
			sig_view[sig] = *act;
			return 0;
		}
		return take(sig, act);
	}
	if (oneshot(act))
		return wrap(sig, act);
	/* the program's handler or SIG_IGN */
	set_state(sig, SIG_PROGRAM);
	rc = real_sigaction(sig, act, NULL);
	if (rc)
		set_state(sig, st);
	return rc;
}

/* Sets handler h with flags through sigaction() above (sig blocked in
 * the handler if mask_self); returns the old handler or SIG_ERR. */
static sighandler_t via_sigaction(int sig, sighandler_t h, int flags,
				  int mask_self)
{
	struct sigaction a, o;

	memset(&a, 0, sizeof(a));
	a.sa_handler = h;
	sigemptyset(&a.sa_mask);
	if (mask_self && sig > 0 && sig < _NSIG)
		sigaddset(&a.sa_mask, sig);
	a.sa_flags = flags;
	if (sigaction(sig, &a, &o) < 0)
		return SIG_ERR;
	return o.sa_handler;
}

/* The real signal() wherever it can: its flags depend on siginterrupt()
 * (SA_RESTART or not), which only libc knows. */
EXPORT sighandler_t signal(int sig, sighandler_t h)
{
	sighandler_t (*real)(int, sighandler_t);
	sighandler_t r;
	int st;

	if (resolve_sigaction() || !(real = real_signal)) {
		errno = ENOSYS;
		return SIG_ERR;
	}
	if (in_vfork_child())
		return real(sig, h);
	st = checked_state(sig);
	/* SIG_DFL of a fatal signal: ours under it (the flags of a SIG_DFL
	 * do nothing) */
	if (h == SIG_DFL && is_fatal(sig))
		return via_sigaction(sig, h, SA_RESTART, 1);
	if (st == SIG_PROGRAM)
		return real(sig, h);
	/* the program's handler or SIG_IGN replaces ours */
	r = sig_view[sig].sa_handler;
	set_state(sig, SIG_PROGRAM);
	if (real(sig, h) == SIG_ERR) {
		set_state(sig, st);
		return SIG_ERR;
	}
	return r;
}

EXPORT sighandler_t bsd_signal(int sig, sighandler_t h)
{
	return signal(sig, h);
}

/* System V semantics: reset to SIG_DFL on delivery, not blocked in the
 * handler */
EXPORT sighandler_t sysv_signal(int sig, sighandler_t h)
{
	return via_sigaction(sig, h, SA_RESETHAND | SA_NODEFER, 0);
}

/* what signal() is in a program built for strict ISO C */
EXPORT sighandler_t __sysv_signal(int sig, sighandler_t h)
{
	return sysv_signal(sig, h);
}

EXPORT sighandler_t ssignal(int sig, sighandler_t h)
{
	return signal(sig, h);
}

EXPORT sighandler_t sigset(int sig, sighandler_t h)
{
	sighandler_t (*real)(int, sighandler_t);
	int st = state(sig);
	sighandler_t r;

	if (resolve_sigaction() || !(real = real_sigset)) {
		errno = ENOSYS;
		return SIG_ERR;
	}
	if (st != SIG_PROGRAM && h == SIG_DFL && !in_vfork_child()) {
		/* through sigaction(): ours stays, or comes back; and
		 * sigset() also takes sig out of the mask */
		sigset_t m;

		if ((r = via_sigaction(sig, SIG_DFL, 0, 0)) == SIG_ERR)
			return SIG_ERR;
		sigemptyset(&m);
		sigaddset(&m, sig);
		pthread_sigmask(SIG_UNBLOCK, &m, NULL);
		return r;
	}
	if (st != SIG_PROGRAM && h != SIG_HOLD && !in_vfork_child())
		set_state(sig, SIG_PROGRAM);
	r = real(sig, h);
	if (r == (sighandler_t)(void (*)(void))on_fatal)
		return SIG_DFL;
	if (r == (sighandler_t)(void (*)(void))on_oneshot)
		return sig_view[sig].sa_handler;
	return r;
}
