/*
 * mtfork: forks while other threads allocate.  usage: mtfork FORKS
 * Three threads malloc and free until the main thread has made FORKS
 * children, each of which makes 1000 mallocs of 4321 bytes and leaves by
 * _exit.  A recorder that waits for its encoder (or writes) at every
 * fork of a busy process makes this one slow, not wrong; the trace of
 * every process must verify.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_int stop;

static void *spin(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		void *volatile p = malloc(64);

		free(p);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200, bad = 0;
	pthread_t t[3];

	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, spin, NULL);
	for (int k = 0; k < n; k++) {
		pid_t p = fork();
		int st;

		if (p == 0) {
			for (int j = 0; j < 1000; j++) {
				void *volatile q = malloc(4321);

				free(q);
			}
			_exit(0);
		}
		if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st))
			bad++;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("mtfork: %d forks, %d bad\n", n, bad);
	return bad != 0;
}
