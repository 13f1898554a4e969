/* sigfork: a timer's signal handler forks, interrupting the main loop's
 * malloc and free; each child allocates and _exits.  Prints how many
 * children ended badly (none should).
 * usage: sigfork [CHILDREN] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t child, forks, want = 20;
void *volatile sink;

static void handler(int sig)
{
	(void)sig;
	if (child || forks >= want)
		return;
	if (fork() == 0)
		child = 1;
	else
		forks++;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { 0 };
	struct itimerval on = { { 0, 1000 }, { 0, 1000 } }, off = { 0 };
	int st, bad = 0;

	want = argc > 1 ? atoi(argv[1]) : 20;
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &on, NULL);
	while (forks < want) {
		sink = malloc(64);
		free(sink);
		if (child) {
			setitimer(ITIMER_REAL, &off, NULL);
			for (int j = 0; j < 1000; j++) {
				sink = malloc(16);
				free(sink);
			}
			_exit(0);
		}
	}
	setitimer(ITIMER_REAL, &off, NULL);
	while (wait(&st) > 0)
		bad += !WIFEXITED(st) || WEXITSTATUS(st);
	printf("sigfork: %d children, %d ended badly\n", (int)forks, bad);
	return 0;
}
