/* exiter: allocates N blocks (leaving them live), prints, then _exit(3)
 * without running exit handlers; with "quick", quick_exit(3) instead,
 * whose handler makes 100 more allocations of 777 bytes.
 * usage: exiter [N [quick]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *volatile sink; /* keeps the compiler from dropping the calls */

static void late(void)
{
	for (int i = 0; i < 100; i++)
		sink = malloc(777);
}

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
	if (argc > 2 && !strcmp(argv[2], "quick")) {
		at_quick_exit(late);
		quick_exit(3);
	}
	_exit(3);
}
