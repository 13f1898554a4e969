/* sigstorm: a helper thread sends SIGUSR1 to the main thread as fast as
 * it can while the main thread allocates; the handler allocates and
 * frees too.  Prints how many calls each side made.
 * usage: sigstorm [N] */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t handled;
static volatile int stop;
static pid_t main_tid;

void *volatile sink; /* keeps the compiler from dropping the calls */
void *volatile hsink;

static void handler(int sig)
{
	(void)sig;
	hsink = malloc(48);
	free(hsink);
	handled++;
}

static void *storm(void *arg)
{
	(void)arg;
	while (!stop)
		syscall(SYS_tgkill, getpid(), main_tid, SIGUSR1);
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 300000;
	struct sigaction sa = { 0 };
	pthread_t th;

	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	main_tid = (pid_t)syscall(SYS_gettid);
	pthread_create(&th, NULL, storm, NULL);
	for (long i = 0; i < n; i++)
	{
		sink = malloc((size_t)(i % 1000) + 1);
		free(sink);
	}
	stop = 1;
	pthread_join(th, NULL);
	/* the count varies from run to run: stderr only, not compared */
	fprintf(stderr, "sigstorm: %d handler calls\n", (int)handled);
	printf("sigstorm: %ld main allocations\n", n);
	return 0;
}
