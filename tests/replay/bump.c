/*
 * bump.c - a trivial bump allocator as a preloadable .so, to measure what
 * `heaptape replay` itself costs per event (bench/replay.sh) and to test
 * `-a ./path.so` (tests/t_replay.sh).  Not built by the Makefile (it is
 * not a program): cc -shared -fPIC -O2 -o libbump.so tests/replay/bump.c
 *
 * Each thread carves blocks out of 1 MiB chunks taken from one reserved
 * region; free does nothing; realloc copies.  A 16-byte header before each
 * block holds its size.  Memory is never reused, so calloc needs no
 * memset (fresh anonymous pages are zero).  BUMP_BREAK_REALLOC=1 makes
 * realloc lose the old contents (tests/t_replay.sh: --check-contents must
 * catch it).  BUMP_RING_MB=N carves blocks from a pre-faulted ring of N
 * MiB that wraps around, without size headers (no page faults and no
 * cache misses of its own: bench/replay.sh measures the harness, not the
 * kernel; contents are not kept, realloc returns a new block).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RESERVE (1ull << 40)
#define CHUNK (1u << 20)

static char *base;
static _Atomic uint64_t used;
static __thread __attribute__((tls_model("initial-exec"))) char *cur, *end;
static int broken = -1;
static uint64_t ring; /* BUMP_RING_MB: reuse a pre-faulted ring */

static void *take(size_t n, size_t align)
{
	uintptr_t p;

	if (align < 16)
		align = 16;
	if (n > RESERVE / 4 || align > CHUNK)
		return NULL;
	for (;;) {
		p = ((uintptr_t)cur + 16 + align - 1) & ~(uintptr_t)(align - 1);
		if (cur && p + n <= (uintptr_t)end)
			break;
		if (!base) {
			const char *r = getenv("BUMP_RING_MB");
			void *m;
			ring = r ? strtoull(r, NULL, 10) << 20 : 0;
			if (ring > RESERVE / 2)
				ring = RESERVE / 2;
			m = mmap(NULL, ring ? ring : RESERVE,
				 PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS |
					 (ring ? MAP_POPULATE : MAP_NORESERVE),
				 -1, 0);
			char *expect = NULL;
			if (m == MAP_FAILED)
				return NULL;
			if (!atomic_compare_exchange_strong(
				    (_Atomic(char *) *)&base, &expect, m))
				munmap(m, ring ? ring : RESERVE);
		}
		{
			uint64_t want = n + align + 16 > CHUNK
						? (n + align + 16 + CHUNK - 1) &
							  ~(uint64_t)(CHUNK - 1)
						: CHUNK;
			uint64_t off = atomic_fetch_add(&used, want);
			if (ring) {
				/* contents are overwritten when the ring
				 * wraps: only for harness-cost runs */
				if (want > ring / 2)
					return NULL;
				off %= ring;
				if (off + want > ring)
					off = 0;
			} else if (off + want > RESERVE) {
				return NULL;
			}
			cur = base + off;
			end = cur + want;
		}
	}
	if (!ring)
		((uint64_t *)p)[-1] = n;
	cur = (char *)(p + n);
	return (void *)p;
}

void *malloc(size_t n)
{
	void *p = take(n, 16);
	if (!p)
		errno = ENOMEM;
	return p;
}

void free(void *p)
{
	static int crash = -1;

	if (crash < 0)
		crash = getenv("BUMP_ABORT_IN_FREE") != NULL;
	if (crash && p) /* for the test of an allocator that crashes */
		abort();
}

void *calloc(size_t a, size_t b)
{
	size_t n;

	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return malloc(n);
}

void *realloc(void *old, size_t n)
{
	void *p;
	uint64_t on;

	if (!old)
		return malloc(n);
	if (!n)
		return NULL;
	if (ring) /* no headers, contents are not kept: a new block */
		return malloc(n);
	on = ((uint64_t *)old)[-1];
	if (broken < 0)
		broken = getenv("BUMP_BREAK_REALLOC") != NULL;
	if (broken) /* for the --check-contents test: loses the data */
		return malloc(n);
	if (n <= on) {
		((uint64_t *)old)[-1] = n;
		return old;
	}
	if ((p = malloc(n)))
		memcpy(p, old, on);
	return p;
}

void *reallocarray(void *old, size_t a, size_t b)
{
	size_t n;

	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(old, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	if (!align || (align & (align - 1)) || align % sizeof(void *))
		return EINVAL;
	if (!(p = take(n, align)))
		return ENOMEM;
	*out = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
	if (!align || (align & (align - 1)))
		return NULL;
	return take(n, align);
}

void *memalign(size_t align, size_t n)
{
	return aligned_alloc(align, n);
}

void *valloc(size_t n)
{
	return take(n, 4096);
}

void *pvalloc(size_t n)
{
	return take((n + 4095) & ~(size_t)4095, 4096);
}

size_t malloc_usable_size(void *p)
{
	return p && !ring ? ((uint64_t *)p)[-1] : 0;
}
