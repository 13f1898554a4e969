/* killme: allocates continuously; every 20 ms writes to stdout (a file)
 * "T N": T = CLOCK_MONOTONIC ns, N = malloc calls made so far.  Runs
 * until killed.  usage: killme */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static unsigned long long now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ull + t.tv_nsec;
}

int main(void)
{
	unsigned long long n = 0, next = now();
	void *keep[256] = { 0 };

	setvbuf(stdout, NULL, _IONBF, 0);
	for (;;) {
		unsigned k = n % 256;
		free(keep[k]);
		keep[k] = malloc(n % 512 + 1);
		n++;
		if ((n & 1023) == 0) {
			unsigned long long t = now();
			if (t >= next) {
				printf("%llu %llu\n", t, n);
				next = t + 20000000;
			}
		}
	}
}
