/* fdrace: puts a pipe's write end on fd N again and again (dup2 and
 * dup3, then close) while another thread allocates hard, so that a
 * recorder with a file of its own on N is busy writing when the
 * program takes the number.  N = 0: wherever a *.htape file is open at
 * 1000 to 1015 each round (a program that happens to pick the numbers
 * a recorder moves to).  Every byte the reader thread gets must be one
 * the program wrote.
 * usage: fdrace N [ROUNDS] */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int done;
static int p[2];

static void *churn(void *arg)
{
	void *slot[256] = { 0 };
	unsigned i = 0;

	(void)arg;
	while (!atomic_load(&done)) {
		free(slot[i & 255]);
		slot[i & 255] = malloc(16 + (i * 7919u) % 200);
		i++;
	}
	for (i = 0; i < 256; i++)
		free(slot[i]);
	return NULL;
}

static void *drain(void *arg)
{
	char buf[4096];
	ssize_t n;
	long bad = 0, total = 0;

	while ((n = read(p[0], buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			bad += buf[i] != 'x';
		total += n;
	}
	printf("fdrace: read %ld bytes, %ld not the program's\n", total, bad);
	return (void *)(long)(bad != 0);
}

/* an fd from 1000 on that holds a trace, else 1000 */
static int trace_fd(void)
{
	char path[64], to[256];

	for (int fd = 1000; fd < 1016; fd++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, to, sizeof(to) - 1);
		if (n > 6 && !memcmp(to + n - 6, ".htape", 6))
			return fd;
	}
	return 1000;
}

int main(int argc, char **argv)
{
	int fd = argc > 1 ? atoi(argv[1]) : 3;
	long rounds = argc > 2 ? atol(argv[2]) : 20000;
	pthread_t c, d;
	void *rc;

	if (pipe(p) || pthread_create(&c, NULL, churn, NULL) ||
	    pthread_create(&d, NULL, drain, NULL)) {
		perror("fdrace");
		return 1;
	}
	for (long i = 0; i < rounds; i++) {
		int n = fd ? fd : trace_fd();
		int r = i & 1 ? dup3(p[1], n, O_CLOEXEC) : dup2(p[1], n);

		if (r != n || write(n, "x", 1) != 1 || close(n)) {
			perror("fdrace: dup/write/close");
			return 2;
		}
	}
	atomic_store(&done, 1);
	pthread_join(c, NULL);
	close(p[1]);
	pthread_join(d, &rc);
	printf("fdrace: %ld rounds\n", rounds);
	return rc ? 3 : 0;
}
