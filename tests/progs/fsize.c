/* fsize: limits its own file size (RLIMIT_FSIZE) below what the trace
 * needs, then keeps allocating.  The program must go on and exit 0.
 * usage: fsize [LIMIT_BYTES] [N] */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

void *volatile sink; /* keeps the compiler from dropping the calls */

int main(int argc, char **argv)
{
	long lim = argc > 1 ? atol(argv[1]) : 256 * 1024;
	long n = argc > 2 ? atol(argv[2]) : 2000000;
	struct rlimit rl = { (rlim_t)lim, (rlim_t)lim };
	unsigned long sum = 0;

	if (setrlimit(RLIMIT_FSIZE, &rl))
		return perror("setrlimit"), 1;
	for (long i = 0; i < n; i++) {
		sink = malloc((size_t)((i * 7919) % 4000) + 1);
		sum += (unsigned long)(sink != NULL);
		free(sink);
	}
	printf("fsize: %lu allocations\n", sum);
	return 0;
}
