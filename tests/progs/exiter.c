/* exiter: allocates N blocks (leaving them live), prints, then _exit(3)
 * without running exit handlers.  usage: exiter [N] */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void *volatile sink; /* keeps the compiler from dropping the calls */

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 5000;
	for (int i = 0; i < n; i++) {
		void *p = malloc((size_t)(i % 100) + 1);
		sink = p;
		if (i % 2)
			free(sink);
	}
	printf("exiter: %d allocations\n", n);
	fflush(stdout);
	_exit(3);
}
