/*
 * lttng_kinds.c - every call the LTTng-UST libc wrapper traces (malloc,
 * calloc, realloc, memalign, posix_memalign, free), failed calls and
 * free(NULL) included, from the main thread and THREADS workers, for
 * t_lttng.sh.  The same calls every run; BURST more malloc/free pairs at
 * the end, as fast as they go (small LTTng buffers then discard events).
 * The program's own calls are between two failed mallocs, of SIZE_MAX - 1
 * (first) and SIZE_MAX - 2 (last): what a tracer's runtime allocates
 * in the process before and after them is not the program's.
 * usage: lttng_kinds [THREADS] [BURST]
 */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* through volatile pointers: the compiler may not fold or drop calls */
static void *(*volatile vmalloc)(size_t) = malloc;
static void *(*volatile vcalloc)(size_t, size_t) = calloc;
static void *(*volatile vrealloc)(void *, size_t) = realloc;
static void *(*volatile vmemalign)(size_t, size_t) = memalign;
static int (*volatile vposix_memalign)(void **, size_t, size_t) =
	posix_memalign;
static void (*volatile vfree)(void *) = free;

static void *work(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	void *keep[16] = {0};

	for (int i = 0; i < 60; i++) {
		size_t n = 8 + (id * 131 + (size_t)i * 37) % 900;
		vfree(keep[i % 16]);
		keep[i % 16] = i % 7 == 3 ? vcalloc(3, n) : vmalloc(n);
		if (i % 5 == 4)
			keep[i % 16] = vrealloc(keep[i % 16], n * 2);
	}
	for (int i = 0; i < 16; i++)
		vfree(keep[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	int nth = argc > 1 ? atoi(argv[1]) : 2;
	long burst = argc > 2 ? atol(argv[2]) : 0;
	volatile size_t huge = SIZE_MAX / 2;
	void *p, *q, *r, *a, *b = (void *)0x1000, *f;
	pthread_t th[16];
	int rc;

	if (vmalloc(SIZE_MAX - 1))
		return 1;
	p = vmalloc(100);
	q = vcalloc(10, 12);
	r = vrealloc(NULL, 40);
	r = vrealloc(r, 4000);
	r = vrealloc(r, 16);
	a = vmemalign(64, 200);
	rc = vposix_memalign(&b, 128, 300);
	f = (void *)0x1000;
	/* alignment 3: EINVAL; the wrapper still logs the stale pointer */
	if (vposix_memalign(&f, 3, 10) == 0 || rc)
		return 1;
	if (vmalloc(huge) || vcalloc(huge, 4) || vrealloc(p, huge) ||
	    vmemalign(64, huge))
		return 1;
	vfree(NULL);
	p = vrealloc(p, 0);
	for (int i = 0; i < nth && i < 16; i++)
		pthread_create(&th[i], NULL, work, (void *)(uintptr_t)i);
	for (int i = 0; i < nth && i < 16; i++)
		pthread_join(th[i], NULL);
	vfree(p);
	vfree(q);
	vfree(r);
	vfree(a);
	vfree(b);
	for (long i = 0; i < burst; i++)
		vfree(vmalloc((size_t)(i % 64) + 1));
	return vmalloc(SIZE_MAX - 2) != NULL;
}
