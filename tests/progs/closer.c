/* closer: a daemon-like program that closes every fd, dup2s /dev/null
 * over 0, 1 and 2, and keeps allocating for a while (several flush
 * intervals) before it exits.  Prints its count before closing stdout.
 * usage: closer [MS] [NALLOC] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

void *volatile sink; /* keeps the compiler from dropping the calls */

int main(int argc, char **argv)
{
	int ms = argc > 1 ? atoi(argv[1]) : 400;
	long n = argc > 2 ? atol(argv[2]) : 100000, done = 0;
	struct rlimit rl;
	double end;
	int fd;

	printf("closer: %ld allocations over %d ms\n", n, ms);
	fflush(stdout);
	getrlimit(RLIMIT_NOFILE, &rl);
	for (long i = 0; i < (long)rl.rlim_cur && i < 65536; i++)
		close((int)i);
	fd = open("/dev/null", O_RDWR);
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	for (int i = 3; i < 64; i++)
		dup2(fd, i);
	end = now() + ms / 1000.0;
	while (done < n || now() < end) {
		sink = malloc((size_t)(done % 300) + 8);
		free(sink);
		done++;
		if (done >= n) {
			struct timespec d = { 0, 5000000 };
			nanosleep(&d, NULL);
		}
		if (done % 20000 == 0) /* again, mid-run */
			for (int i = 3; i < 1100; i++)
				close(i);
	}
	return 0;
}
