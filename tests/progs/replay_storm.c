/* replay_storm: a malloc storm for the replay tests and bench.  Each
 * thread does N random operations on SLOTS (4096) slots of its own (free if
 * occupied, else malloc of 16..1039 bytes, touched), and every 64th block
 * goes to the next thread's slots, so some blocks are freed by another
 * thread.  usage: replay_storm [THREADS] [OPS] [SLOTS]; prints a checksum. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static long nops = 200000;
static size_t SLOTS = 4096;
static int nthreads = 2;
static void *_Atomic *shared; /* nthreads * SLOTS hand-off cells */

static void *storm(void *arg)
{
	long id = (long)arg;
	void **slot = calloc(SLOTS, sizeof(*slot));
	uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1), sum = 0;

	if (!slot)
		abort();
	for (long i = 0; i < nops; i++) {
		size_t k, n;
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		k = s % SLOTS;
		if (slot[k]) {
			free(slot[k]);
			slot[k] = NULL;
			continue;
		}
		n = 16 + (s >> 20) % 1024;
		slot[k] = malloc(n);
		if (!slot[k])
			abort();
		memset(slot[k], (int)i, n);
		sum += n;
		if (nthreads > 1 && i % 64 == 0) {
			/* hand the block to the next thread */
			int to = (int)((id + 1) % nthreads);
			void *old = atomic_exchange(&shared[to * SLOTS + k],
						    slot[k]);
			slot[k] = NULL;
			free(old);
		}
		if (i % 64 == 32) {
			void *in = atomic_exchange(&shared[id * SLOTS + k],
						   NULL);
			free(in);
		}
	}
	for (size_t k = 0; k < SLOTS; k++)
		free(slot[k]);
	free(slot);
	return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
	pthread_t *t;
	uint64_t total = 0;

	if (argc > 1)
		nthreads = atoi(argv[1]);
	if (argc > 2)
		nops = atol(argv[2]);
	if (argc > 3 && atol(argv[3]) > 0)
		SLOTS = (size_t)atol(argv[3]);
	if (nthreads < 1)
		nthreads = 1;
	shared = calloc((size_t)nthreads * SLOTS, sizeof(*shared));
	t = calloc((size_t)nthreads, sizeof(*t));
	if (!shared || !t)
		return 1;
	for (long i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, storm, (void *)i);
	for (int i = 0; i < nthreads; i++) {
		void *r;
		pthread_join(t[i], &r);
		total += (uintptr_t)r;
	}
	for (size_t k = 0; k < (size_t)nthreads * SLOTS; k++)
		free(shared[k]);
	free(shared);
	free(t);
	printf("replay_storm: %d threads, %ld ops, %llu bytes\n", nthreads,
	       nops, (unsigned long long)total);
	return 0;
}
