/* sigstorm2: a helper thread sends SIGUSR1 to the main thread as fast as
 * it can while the main thread calls free(NULL) (async-signal-safe); the
 * handler calls reallocarray(NULL, 3, 8), an event of two records, and
 * keeps the block, until the handler ran 50000 times.  Prints how many
 * calls each side made.
 * usage: sigstorm2 [N] */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define KEEP (1 << 20)
static void *keep[KEEP];
static volatile sig_atomic_t handled;
static volatile int stop;
static pid_t main_tid;
void *volatile nothing;

static void handler(int sig)
{
	(void)sig;
	if (handled < KEEP)
		keep[handled++] = reallocarray(NULL, 3, 8);
}

static void *storm(void *arg)
{
	(void)arg;
	while (!stop) {
		syscall(SYS_tgkill, getpid(), main_tid, SIGUSR1);
		for (volatile int i = 0; i < 200; i++)
			;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 3000000;
	struct sigaction sa = { 0 };
	sigset_t m;
	pthread_t th;

	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	main_tid = (pid_t)syscall(SYS_gettid);
	pthread_create(&th, NULL, storm, NULL);
	/* n calls at least, and on until the handler ran 50000 times (a
	 * loaded machine gives the storm thread little time), 60 s at
	 * most */
	time_t t0 = time(NULL);

	for (long i = 0; i < n || (handled < 50000 && time(NULL) < t0 + 60);
	     i++)
		free(nothing);
	stop = 1;
	pthread_join(th, NULL);
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigprocmask(SIG_BLOCK, &m, NULL);
	/* the count varies from run to run: stderr only, not compared */
	fprintf(stderr, "sigstorm2: %d handler calls\n", (int)handled);
	printf("sigstorm2: %ld frees of NULL\n", n);
	return 0;
}
