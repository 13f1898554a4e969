/*
 * bench_csv.c - where one core's time goes when `heaptape convert -j 1`
 * writes CSV: decoding and merging (csv_src, the pipeline's own merge,
 * no worker threads) and formatting the rows (csv_format_eventp) of the
 * batches it yields, in thread CPU time, best of 3 runs.
 * usage: bench_csv TRACE.htape
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../convert/convert.h"
#include "../convert/csv.h"

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One pass: *all the whole loop, *fmt the formatting alone. */
static int pass(const char *path, double *all, double *fmt, uint64_t *rows,
		uint64_t *bytes)
{
	static char buf[8192 * CSV_ROW_MAX]; /* > one batch of rows */
	struct convert_opts o;
	struct ht_reader *r;
	struct csv_src *s;
	const struct ht_event *const *ev;
	size_t n;
	uint64_t start;
	double t0, tf = 0;
	int k;

	memset(&o, 0, sizeof(o));
	o.in = path;
	o.mode = HT_READ_STOP;
	o.jobs = 1;
	if (ht_reader_open(&r, path, HT_READ_STOP))
		return -1;
	start = ht_reader_start_ns(r);
	*rows = *bytes = 0;
	t0 = cpu_now();
	if (csv_src_open(&s, &o, r)) {
		csv_src_close(s, 0);
		ht_reader_close(r);
		return -1;
	}
	while ((k = csv_src_next(s, &ev, &n)) == 1) {
		double t = cpu_now();
		char *e;
		if (n > sizeof(buf) / CSV_ROW_MAX)
			abort();
		e = csv_format_eventp(buf, ev, n, start, 0);
		tf += cpu_now() - t;
		*rows += n;
		*bytes += (uint64_t)(e - buf);
	}
	*all = cpu_now() - t0;
	*fmt = tf;
	csv_src_close(s, k == 0);
	ht_reader_close(r);
	return k;
}

int main(int argc, char **argv)
{
	double best_all = 1e9, best_fmt = 1e9, best_rd = 1e9;
	uint64_t rows = 0, bytes = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: bench_csv TRACE.htape\n");
		return 2;
	}
	csv_fmt_init();
	for (int rep = 0; rep < 3; rep++) {
		double all, fmt;
		if (pass(argv[1], &all, &fmt, &rows, &bytes)) {
			fprintf(stderr, "bench_csv: cannot read %s\n",
				argv[1]);
			return 1;
		}
		if (all < best_all)
			best_all = all;
		if (fmt < best_fmt)
			best_fmt = fmt;
		if (all - fmt < best_rd)
			best_rd = all - fmt;
	}
	printf("events %llu  decode+merge %.1f M/s  format %.1f M rows/s "
	       "(%.1f B/row)  both, one core: %.1f M rows/s\n",
	       (unsigned long long)rows, rows / best_rd / 1e6,
	       rows / best_fmt / 1e6,
	       (double)bytes / (double)(rows ? rows : 1),
	       rows / best_all / 1e6);
	return 0;
}
