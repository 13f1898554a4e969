/*
 * churn.c - many short threads: `churn ROUNDS` starts ROUNDS batches of
 * 100 threads; each thread allocates and frees 100 blocks 20 times.
 */
#include <pthread.h>
#include <stdlib.h>

static void *work(void *arg)
{
	void *p[100];

	(void)arg;
	for (int r = 0; r < 20; r++) {
		for (int i = 0; i < 100; i++)
			p[i] = malloc((size_t)i * 8 + 1);
		for (int i = 0; i < 100; i++)
			free(p[i]);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 10;

	for (int k = 0; k < rounds; k++) {
		pthread_t t[100];
		for (int i = 0; i < 100; i++)
			pthread_create(&t[i], NULL, work, NULL);
		for (int i = 0; i < 100; i++)
			pthread_join(t[i], NULL);
	}
	return 0;
}
