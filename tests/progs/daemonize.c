/* daemonize: allocates, calls daemon(0, 0) (glibc's parent leaves by its
 * internal _exit, which no preload can see), and the daemon allocates for
 * a while with every std fd on /dev/null.  usage: daemonize [N] */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void *volatile sink; /* keeps the compiler from dropping the calls */

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200000;

	for (int i = 0; i < 1000; i++) {
		sink = malloc((size_t)i + 1);
		free(sink);
	}
	printf("daemonize: going\n");
	fflush(stdout);
	if (daemon(0, 0))
		return 1;
	for (int i = 0; i < n; i++) {
		sink = malloc((size_t)(i % 500) + 1);
		free(sink);
		if (i % 1000 == 0)
			usleep(500);
	}
	return 0;
}
