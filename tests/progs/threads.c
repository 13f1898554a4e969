/* threads: N short-lived threads (default 1000), BATCH at a time
 * (default 8), each allocating and freeing PER blocks, and with PAUSE
 * sleeping PAUSE microseconds every 20 (a server's threads between
 * requests).
 * usage: threads [N] [PER] [BATCH] [PAUSE] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int per = 50, pause_us;

static void *work(void *arg)
{
	long sum = 0;
	void *keep[64];

	for (int i = 0; i < per; i++) {
		keep[i % 64] = malloc((size_t)(((long)arg + i) % 400) + 1);
		sum += ((char *)keep[i % 64] != NULL);
		if (i % 64 == 63)
			for (int j = 0; j < 64; j++)
				free(keep[j]);
		if (pause_us && i % 20 == 19)
			usleep((useconds_t)pause_us);
	}
	for (int j = 0; j < per % 64; j++)
		free(keep[j]);
	return (void *)sum;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000, batch = 8;
	long total = 0;
	pthread_t *th;

	if (argc > 2)
		per = atoi(argv[2]);
	if (argc > 3)
		batch = atoi(argv[3]);
	if (argc > 4)
		pause_us = atoi(argv[4]);
	if (batch < 1 || n < 0 || !(th = calloc((size_t)batch, sizeof(*th))))
		return 2;
	for (int i = 0; i < n; i += batch) {
		int k = n - i < batch ? n - i : batch;
		for (int j = 0; j < k; j++)
			pthread_create(&th[j], NULL, work,
				       (void *)(long)(i + j));
		for (int j = 0; j < k; j++) {
			void *r;
			pthread_join(th[j], &r);
			total += (long)r;
		}
	}
	free(th);
	printf("threads: %d threads, %ld allocations\n", n, total);
	return 0;
}
