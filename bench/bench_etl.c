/*
 * bench_etl.c - times the .etl reader alone (no htape writer): open, merge
 * the per-CPU streams by timestamp (or walk in file order) and decode every
 * heap payload, best of N runs, through etl_next_ref() as `heaptape
 * convert` reads.  Used by bench/etl.sh to split conversion time between
 * reading ETL and writing htape.
 * usage: bench_etl [--file-order] [--runs N] FILE.etl
 * prints: events=N heap=N seconds=S events_per_s=R heap_per_s=R
 *         cpu_seconds=S cpu_heap_per_s=R (process CPU time: the one-core
 *         figure on a shared machine)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../convert/etl_read.h"

static double now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int flags = 0, runs = 3, i;
	const char *path = NULL;
	double best = 1e30, best_cpu = 1e30;
	unsigned long long n = 0, heap = 0, sum = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--file-order"))
			flags |= ETL_FILE_ORDER;
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else
			path = argv[i];
	}
	if (!path || runs < 1) {
		fprintf(stderr, "usage: bench_etl [--file-order] [--runs N] "
			"FILE.etl\n");
		return 2;
	}
	for (int r = 0; r < runs; r++) {
		struct etl *e;
		const struct etl_event *ev;
		struct etl_heap h;
		double t = now(CLOCK_MONOTONIC);
		double c = now(CLOCK_PROCESS_CPUTIME_ID);
		int k;

		n = heap = 0;
		if (etl_open(&e, path, flags)) {
			fprintf(stderr, "bench_etl: %s: %s\n", path,
				e ? etl_error(e) : "cannot open");
			etl_close(e);
			return 1;
		}
		while ((k = etl_next_ref(e, &ev)) > 0) {
			n++;
			if (etl_heap_decode(ev, &h) == 1) {
				heap++;
				sum += h.addr + (uint64_t)etl_rel_ns(e, ev->ts);
			}
		}
		etl_close(e);
		if (k < 0)
			return 1;
		t = now(CLOCK_MONOTONIC) - t;
		c = now(CLOCK_PROCESS_CPUTIME_ID) - c;
		if (t < best)
			best = t;
		if (c < best_cpu)
			best_cpu = c;
	}
	printf("events=%llu heap=%llu seconds=%.6f events_per_s=%.0f "
	       "heap_per_s=%.0f cpu_seconds=%.6f cpu_heap_per_s=%.0f "
	       "check=%llu\n", n, heap, best, n / best, heap / best, best_cpu,
	       heap / best_cpu, sum & 0xff);
	return 0;
}
