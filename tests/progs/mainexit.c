/* mainexit: main() leaves by pthread_exit() while a thread allocates;
 * the process ends when that thread does (exit status 0).
 * usage: mainexit */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>

void *volatile sink;
static sem_t printed; /* main's line first: the output is always the same */

static void *work(void *arg)
{
	(void)arg;
	while (sem_wait(&printed))
		;
	for (int i = 0; i < 100000; i++) {
		sink = malloc(32);
		free(sink);
	}
	printf("mainexit: the thread is done\n");
	return NULL;
}

int main(void)
{
	pthread_t t;

	sem_init(&printed, 0, 0);
	pthread_create(&t, NULL, work, NULL);
	printf("mainexit: main leaves\n");
	fflush(stdout);
	sem_post(&printed);
	pthread_exit(NULL);
}
