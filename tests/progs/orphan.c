/* orphan: a double fork whose parents leave first, as a daemon's do:
 * the parent forks and exits at once; the child, once orphaned, starts
 * a session, forks and exits; the grandchild, once orphaned too,
 * allocates and ends.  Each child allocates only after its parent is
 * gone, so its trace is opened when getppid() no longer names the
 * process that forked it.  usage: orphan */
#include <stdlib.h>
#include <unistd.h>

void *volatile sink; /* keeps the compiler from dropping the calls */

/* Waits (up to 5 s) until the process that forked us has exited. */
static void orphaned(pid_t parent)
{
	for (int i = 0; i < 5000 && getppid() == parent; i++)
		usleep(1000);
}

static void allocate(int n)
{
	for (int i = 0; i < n; i++) {
		sink = malloc((size_t)i + 1);
		free(sink);
	}
}

int main(void)
{
	pid_t me = getpid();

	allocate(10);
	if (fork() != 0)
		return 0;
	orphaned(me);
	allocate(100);
	setsid();
	me = getpid();
	if (fork() != 0)
		_exit(0);
	orphaned(me);
	allocate(1000);
	return 0;
}
