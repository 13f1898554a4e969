/*
 * mtrace_kinds.c - every kind of line glibc's mtrace writes, for
 * t_import.sh: run it under libc_malloc_debug.so with MALLOC_TRACE set.
 * Calls mtrace() itself.  Failed calls are real (sizes no allocator can
 * give), so the log has "+ (nil) SIZE" and "! PTR SIZE" lines.
 */
#include <malloc.h>
#include <mcheck.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	volatile size_t huge = SIZE_MAX / 2;
	void *p, *q, *r, *a, *b, *c, *v;

	mtrace();
	p = malloc(100);
	q = calloc(10, 12);
	a = memalign(64, 200);
	if (posix_memalign(&b, 128, 300))
		return 1;
	c = aligned_alloc(256, 512);
	v = valloc(1000);
	r = realloc(NULL, 40);          /* logged as '+' */
	r = realloc(r, 4000);           /* '<' and '>' */
	r = realloc(r, 16);             /* shrinks, usually in place */
	if (realloc(p, huge))           /* fails: '!' */
		return 1;
	if (malloc(huge))               /* fails: '+ (nil)' */
		return 1;
	p = realloc(p, 0);              /* frees: '-' */
	free(NULL);                     /* not logged */
	free(q);
	free(a);
	free(b);
	free(c);
	free(v);
	free(r);
	muntrace();
	printf("%p\n", p);
	return 0;
}
