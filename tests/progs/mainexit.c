/* mainexit: main() leaves by pthread_exit() while a thread allocates;
 * the process ends when that thread does (exit status 0).
 * usage: mainexit */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

void *volatile sink;

static void *work(void *arg)
{
	(void)arg;
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

	pthread_create(&t, NULL, work, NULL);
	printf("mainexit: main leaves\n");
	fflush(stdout);
	pthread_exit(NULL);
}
