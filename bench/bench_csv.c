/*
 * bench_csv.c - where CSV conversion time goes, one core: decoding and
 * merging (ht_reader_next) and formatting rows (csv_format_event) of a
 * trace, each timed alone, best of 3 runs.
 * usage: bench_csv TRACE.htape
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../convert/csv.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct ht_reader *r;
	struct ht_trace_info info;
	struct ht_event *ev;
	static char buf[1 << 20]; /* > 1024 rows */
	double best_rd = 1e9, best_fmt = 1e9;
	uint64_t n = 0, bytes = 0, start;

	if (argc != 2) {
		fprintf(stderr, "usage: bench_csv TRACE.htape\n");
		return 2;
	}
	if (ht_reader_open(&r, argv[1], HT_READ_STOP)) {
		fprintf(stderr, "bench_csv: cannot read %s\n", argv[1]);
		return 1;
	}
	ht_reader_info(r, &info);
	ht_reader_close(r);
	ev = malloc((info.events + 1) * sizeof(*ev));
	if (!ev)
		return 1;
	/* Every event once into memory, then the timed reads into a
	 * small buffer, so that page faults are not counted. */
	ht_reader_open(&r, argv[1], HT_READ_STOP);
	while (n <= info.events && ht_reader_next(r, &ev[n]) == 1)
		n++;
	start = ht_reader_start_ns(r);
	ht_reader_close(r);
	for (int rep = 0; rep < 3; rep++) {
		double t = now();
		uint64_t k = 0;
		ht_reader_open(&r, argv[1], HT_READ_STOP);
		while (ht_reader_next(r, &ev[k & 4095]) == 1)
			k++;
		ht_reader_close(r);
		t = now() - t;
		if (t < best_rd)
			best_rd = t;
	}
	csv_fmt_init();
	for (int rep = 0; rep < 3; rep++) {
		double t = now();
		char *p = buf;
		bytes = 0;
		for (uint64_t i = 0; i < n; i += 1024) {
			size_t k = n - i < 1024 ? n - i : 1024;
			if (p - buf > (long)sizeof(buf) - 1024 * CSV_ROW_MAX) {
				bytes += (uint64_t)(p - buf);
				p = buf;
			}
			p = csv_format_events(p, &ev[i], k, start);
		}
		bytes += (uint64_t)(p - buf);
		t = now() - t;
		if (t < best_fmt)
			best_fmt = t;
	}
	printf("events %llu  read+merge %.1f M/s  format %.1f M rows/s "
	       "(%.1f B/row)  both, one core: %.1f M rows/s\n",
	       (unsigned long long)n, n / best_rd / 1e6, n / best_fmt / 1e6,
	       (double)bytes / (double)(n ? n : 1),
	       n / (best_rd + best_fmt) / 1e6);
	free(ev);
	return 0;
}
