/*
 * hold.c - a short heap peak: `hold N SZ` allocates N blocks of SZ bytes,
 * writes them, sleeps 50 ms, then frees them all.  Replayed as fast as
 * it goes, the peak lasts far less than the 1 ms RSS sampling period.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[1]) : 2000;
	size_t sz = argc > 2 ? (size_t)atoi(argv[2]) : 200;
	void **p = malloc((size_t)n * sizeof(*p));

	if (!p)
		return 1;
	for (int i = 0; i < n; i++) {
		p[i] = malloc(sz);
		if (p[i])
			memset(p[i], 1, sz);
	}
	usleep(50000);
	for (int i = 0; i < n; i++)
		free(p[i]);
	free(p);
	return 0;
}
