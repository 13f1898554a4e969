/* prodcons: producer threads allocate blocks, consumer threads free them
 * (every block is freed by another thread than the one that made it).
 * usage: prodcons [PAIRS] [BLOCKS]; prints one checksum line. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QCAP 1024

struct queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	void *slot[QCAP];
	size_t head, tail;
	int done;
	uint64_t seed;
};

static long nblocks = 20000;

static void *producer(void *arg)
{
	struct queue *q = arg;
	uint64_t s = ((struct queue *)arg)->seed;

	for (long i = 0; i < nblocks; i++) {
		size_t n = 16 + (s = s * 6364136223846793005u + 1) % 2000;
		unsigned char *p = malloc(n);

		if (!p)
			abort();
		memset(p, (int)(i & 0xff), n);
		p[0] = (unsigned char)(n & 0xff);
		pthread_mutex_lock(&q->lock);
		while (q->tail - q->head == QCAP)
			pthread_cond_wait(&q->cond, &q->lock);
		q->slot[q->tail++ % QCAP] = p;
		pthread_cond_broadcast(&q->cond);
		pthread_mutex_unlock(&q->lock);
	}
	pthread_mutex_lock(&q->lock);
	q->done = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static void *consumer(void *arg)
{
	struct queue *q = arg;
	unsigned long sum = 0;

	for (;;) {
		unsigned char *p;

		pthread_mutex_lock(&q->lock);
		while (q->tail == q->head && !q->done)
			pthread_cond_wait(&q->cond, &q->lock);
		if (q->tail == q->head) {
			pthread_mutex_unlock(&q->lock);
			break;
		}
		p = q->slot[q->head++ % QCAP];
		pthread_cond_broadcast(&q->cond);
		pthread_mutex_unlock(&q->lock);
		sum += p[0];
		free(p);
	}
	return (void *)sum;
}

int main(int argc, char **argv)
{
	int pairs = argc > 1 ? atoi(argv[1]) : 2;
	pthread_t th[64];
	struct queue *q;
	unsigned long total = 0;

	if (argc > 2)
		nblocks = atol(argv[2]);
	if (pairs < 1 || pairs > 32)
		return 2;
	q = calloc((size_t)pairs, sizeof(*q));
	for (int i = 0; i < pairs; i++) {
		pthread_mutex_init(&q[i].lock, NULL);
		pthread_cond_init(&q[i].cond, NULL);
		q[i].seed = 2 * (uint64_t)i + 1;
		pthread_create(&th[2 * i], NULL, producer, &q[i]);
		pthread_create(&th[2 * i + 1], NULL, consumer, &q[i]);
	}
	for (int i = 0; i < 2 * pairs; i++) {
		void *r;

		pthread_join(th[i], &r);
		total += (unsigned long)r;
	}
	free(q);
	printf("prodcons: %d pairs, %ld blocks each, checksum %lu\n", pairs,
	       nblocks, total);
	return 0;
}
