/*
 * bench_dec.c - decode speed of one trace's EVENTS blocks
 * (ht_reader_decode_block into struct ht_event, or with -c
 * ht_reader_decode_columns) on one core, in thread CPU time, best of
 * REPS; and a hash of every decoded field, the same for both, so that
 * two builds of the decoder, or its two outputs, can be compared.
 *
 * usage: bench_dec [-c] [-p] [-r REPS] TRACE...
 * -p: the portable loops only, as on a CPU without AVX-512 (the hash
 * must not change).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heaptape.h"
#include "internal.h"

static double cpu(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

static uint64_t hash_ev(uint64_t h, const struct ht_event *e)
{
	h = mix(h, e->ts);
	h = mix(h, e->addr);
	h = mix(h, e->size);
	h = mix(h, e->old_addr);
	h = mix(h, e->old_size);
	h = mix(h, e->align);
	h = mix(h, e->nmemb);
	h = mix(h, e->heap);
	h = mix(h, (uint64_t)e->pid << 32 | e->tid);
	h = mix(h, (uint64_t)e->flags << 32 | (uint32_t)e->result);
	h = mix(h, (uint64_t)e->aux << 8 | e->op);
	return h;
}

static int bench(const char *path, int reps, int cols)
{
	struct ht_reader *r;
	struct ht_decoder *d;
	const struct ht_block_info *bi;
	struct ht_event *buf;
	size_t nb, cap = 0;
	uint64_t n = 0, h = 0;
	double best = 1e9;

	if (ht_reader_open(&r, path, HT_READ_STOP)) {
		fprintf(stderr, "bench_dec: cannot read %s\n", path);
		return 1;
	}
	nb = ht_reader_blocks(r, &bi);
	for (size_t i = 0; i < nb; i++)
		if (bi[i].count > cap)
			cap = bi[i].count;
	buf = malloc((cap ? cap : 1) * sizeof(*buf));
	if (!buf || ht_decoder_new(&d))
		return 1;
	for (int rep = 0; rep < reps; rep++) {
		double t0 = cpu(), t;

		n = 0;
		for (size_t i = 0; i < nb; i++) {
			struct ht_columns cl;
			int k = cols ? ht_reader_decode_columns(r, d, i, &cl) :
				       ht_reader_decode_block(r, d, i, buf, cap);

			if (k < 0) {
				fprintf(stderr, "bench_dec: %s: block %zu: "
					"%s\n", path, i, ht_strerror(k));
				return 1;
			}
			n += (uint64_t)k;
		}
		t = cpu() - t0;
		if (t < best)
			best = t;
	}
	for (size_t i = 0; i < nb; i++) {
		struct ht_columns cl;
		int k;

		if (cols) {
			k = ht_reader_decode_columns(r, d, i, &cl);
			for (int j = 0; j < k; j++)
				ht_columns_event(&cl, (size_t)j, &buf[j]);
		} else {
			k = ht_reader_decode_block(r, d, i, buf, cap);
		}
		for (int j = 0; j < k; j++)
			h = hash_ev(h, &buf[j]);
	}
	printf("%s: %llu events, %zu blocks, decode %.1f M events/s "
	       "(%.2f ns/event), hash %016llx\n", path,
	       (unsigned long long)n, nb, (double)n / best * 1e-6,
	       best * 1e9 / (double)(n ? n : 1), (unsigned long long)h);
	ht_decoder_free(d);
	ht_reader_close(r);
	free(buf);
	return 0;
}

#define USAGE "usage: bench_dec [-c] [-p] [-r REPS] TRACE...\n"

int main(int argc, char **argv)
{
	int reps = 5, c, rc = 0, cols = 0;

	while ((c = getopt(argc, argv, "cpr:")) != -1) {
		switch (c) {
		case 'c': cols = 1; break;
		case 'p': ht__dec_scalar = 1; break;
		case 'r': reps = atoi(optarg); break;
		default:
			fputs(USAGE, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs(USAGE, stderr);
		return 2;
	}
	for (int i = optind; i < argc; i++)
		rc |= bench(argv[i], reps > 0 ? reps : 1, cols);
	return rc;
}
