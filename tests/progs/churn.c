/* churn: a thread per request: N short-lived threads (default 1000), 100
 * at a time, each making 2000 mallocs and frees and then naming itself
 * "c<i>" with prctl (no hook sees that: only its name at exit does).
 * usage: churn [N] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

static void *work(void *arg)
{
	void *p[100];
	char name[16];

	for (int r = 0; r < 20; r++) {
		for (int i = 0; i < 100; i++)
			p[i] = malloc((size_t)i * 8 + 1);
		for (int i = 0; i < 100; i++)
			free(p[i]);
	}
	snprintf(name, sizeof(name), "c%u", (unsigned)(uintptr_t)arg);
	prctl(PR_SET_NAME, name, 0, 0, 0);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	pthread_t t[100];

	for (int k = 0; k < n; k += 100) {
		int m = n - k < 100 ? n - k : 100;

		for (int i = 0; i < m; i++)
			if (pthread_create(&t[i], NULL, work,
					   (void *)(uintptr_t)(k + i)))
				return 1;
		for (int i = 0; i < m; i++)
			pthread_join(t[i], NULL);
	}
	printf("churn: %d threads\n", n);
	return 0;
}
