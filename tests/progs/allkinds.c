/* allkinds: calls every hooked function once or more, including failed
 * calls, and names a thread.  Prints what it expects the trace to hold,
 * as "op count" lines (stdout is compared with and without recording).
 * usage: allkinds */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* through volatile pointers: the compiler may not fold or drop calls */
static void *(*volatile vmalloc)(size_t) = malloc;
static void *(*volatile vcalloc)(size_t, size_t) = calloc;
static void *(*volatile vrealloc)(void *, size_t) = realloc;
static void (*volatile vfree)(void *) = free;

static void *named(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "ht-worker");
	vfree(vmalloc(77));
	return NULL;
}

int main(void)
{
	void *p, *q;
	pthread_t th;
	volatile size_t huge = SIZE_MAX / 2;
	volatile size_t big_n = (size_t)1 << 40, big_s = (size_t)1 << 30;
	int failed = 0;

	p = malloc(10);
	p = realloc(p, 20000);
	q = calloc(3, 40);
	free(q);
	q = reallocarray(NULL, 5, 8);
	q = reallocarray(q, 50, 8);
	free(q);
	if (posix_memalign(&q, 64, 100) == 0)
		free(q);
	q = aligned_alloc(128, 256);
	free(q);
	q = memalign(4096, 10);
	free(q);
	q = valloc(5);
	free(q);
	q = pvalloc(5);
	free(q);
	free(p);
	vfree(NULL);
	failed += vmalloc(huge) == NULL;
	failed += vcalloc(huge, 4) == NULL;
	failed += posix_memalign(&q, 64, huge) != 0;
	failed += vrealloc(NULL, huge) == NULL;
	q = vmalloc(8);
	failed += vrealloc(q, huge) == NULL;
	vfree(q);
	vfree(vrealloc(vmalloc(3), 0));
	failed += reallocarray(NULL, big_n, big_s) == NULL;
	pthread_create(&th, NULL, named, NULL);
	pthread_join(th, NULL);
	printf("allkinds: %d failed calls\n", failed);
	return 0;
}
