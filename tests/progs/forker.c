/* forker: fork without exec; parent and child both allocate, the child
 * exits with status 7 and the parent reports it.  Also a thread running
 * across the fork.  usage: forker [N] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int stop;
void *volatile sink; /* keeps the compiler from dropping the calls */

static void *spin(void *arg)
{
	(void)arg;
	while (!stop)
	{
		sink = malloc(64);
		free(sink);
	}
	return NULL;
}

static long churn(int n, int tag)
{
	long sum = 0;
	for (int i = 0; i < n; i++) {
		char *p = malloc((size_t)(i % 500) + 1);
		p[0] = (char)tag;
		sum += p[0];
		p = realloc(p, 1000);
		free(p);
	}
	return sum;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000, st;
	pthread_t th;
	pid_t pid;

	pthread_create(&th, NULL, spin, NULL);
	churn(n, 1);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char *msg = strdup("child done");
		long s = churn(n, 2);
		printf("%s %ld\n", msg, s);
		free(msg);
		exit(7);
	}
	churn(n, 3);
	waitpid(pid, &st, 0);
	stop = 1;
	pthread_join(th, NULL);
	printf("parent: child status %d\n", WEXITSTATUS(st));
	return 0;
}
