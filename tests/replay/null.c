/*
 * null.c - the cheapest possible "allocator" as a preloadable .so: every
 * allocation returns the same static buffer, free does nothing.  Useless
 * for anything but measuring what `heaptape replay` itself costs per
 * event with --no-touch (bench/replay.sh): the allocator's share is a
 * compare and a return.  cc -shared -fPIC -O2 -o libnull.so null.c
 */
#include <stddef.h>

static char buf[1 << 22] __attribute__((aligned(4096)));

void *malloc(size_t n)
{
	return n < sizeof(buf) ? buf : NULL;
}

void free(void *p)
{
	(void)p;
}

void *calloc(size_t a, size_t b)
{
	size_t n;

	return __builtin_mul_overflow(a, b, &n) ? NULL : malloc(n);
}

void *realloc(void *p, size_t n)
{
	(void)p;
	return malloc(n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	(void)align;
	*out = malloc(n);
	return *out ? 0 : 12;
}

void *aligned_alloc(size_t align, size_t n)
{
	(void)align;
	return malloc(n);
}

void *memalign(size_t align, size_t n)
{
	(void)align;
	return malloc(n);
}

void *valloc(size_t n)
{
	return malloc(n);
}

void *pvalloc(size_t n)
{
	return malloc(n);
}
