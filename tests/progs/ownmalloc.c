/*
 * ownmalloc: a program with an allocator of its own linked in (a bump
 * allocator over a static array), as a statically linked jemalloc or
 * tcmalloc would be: its malloc shadows the recorder's, which can only
 * say that it saw nothing.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static _Alignas(16) char heap[1 << 22];
static size_t used;
void *volatile sink; /* keeps the compiler from dropping the calls */

void *malloc(size_t n)
{
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (n > sizeof(heap) - used)
		return NULL;
	p = heap + used;
	used += n;
	return p;
}

void free(void *p)
{
	(void)p;
}

void *calloc(size_t a, size_t b)
{
	void *p = b && a > (size_t)-1 / b ? NULL : malloc(a * b);

	if (p)
		memset(p, 0, a * b);
	return p;
}

void *realloc(void *p, size_t n)
{
	void *q = malloc(n);

	if (p && q)
		memcpy(q, p, n); /* reads past a smaller old block: in heap */
	return q;
}

int main(void)
{
	for (int i = 0; i < 1000; i++)
		sink = malloc(100);
	/* not the bytes used: the recorder's start (libc making its
	 * thread) allocates from this malloc too */
	printf("ownmalloc: %s\n", used >= 112000 ? "ok" : "lost blocks");
	return 0;
}
