/* holdmem: allocates N blocks of SIZE bytes and touches them, holds them
 * for 100 ms (several RSS samples), frees them.  Its peak RSS is about
 * N * SIZE more than a program that does nothing.
 * usage: holdmem N SIZE */
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	size_t size = argc > 2 ? (size_t)atol(argv[2]) : 10000;
	struct timespec hold = { 0, 100000000 };
	void **p = malloc((size_t)n * sizeof(*p));

	if (!p)
		return 1;
	for (int i = 0; i < n; i++) {
		if (!(p[i] = malloc(size)))
			return 1;
		memset(p[i], 1, size);
	}
	nanosleep(&hold, NULL);
	for (int i = 0; i < n; i++)
		free(p[i]);
	free(p);
	return 0;
}
