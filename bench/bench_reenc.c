/*
 * bench_reenc.c - the EVENTS block encoder alone on a real trace: reads
 * every EVENTS block of a trace (events in the writer's clock ticks, as
 * the recorder hands them over), then encodes the same blocks again with
 * ht__enc_block() and prints the best CPU time of the encoder thread, M
 * events/s, and bytes/event of the blocks (headers included, metadata
 * and index not).  -c decodes every block it wrote and compares it with
 * the input field by field.
 *
 * usage: bench_reenc [-r REPS] [-l LEVEL] [-u] [-c] [-v] [-R] TRACE
 * -u: no zstd (the column codecs alone).
 * -R: hand the encoder the recorder's records (ht__enc_add_recs(), as
 *     the recorder does) instead of events: the trace must be one a
 *     recorder could have written (no old_size, heap, aux or dur).
 * -v: per column and encoding: blocks, bytes before and after zstd.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static double cpu(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* -v totals per column and encoding, from the blocks' directories */
struct tally {
	uint64_t blocks, zstd, raw, stored;
};
static struct tally tal[HT__NCOLS + 1][HT__E_MAX + 1];

static void tally(const uint8_t *p)
{
	size_t pos = HT__EV_PREFIX + ht__rd16(p + 26) * HT__OPMAP_ENTRY;
	unsigned nc = ht__rd16(p + 24);

	pos = ht__align8(pos);
	for (unsigned k = 0; k < nc; k++, pos += HT__DIR_ENTRY) {
		const uint8_t *d = p + pos;
		struct tally *t = &tal[d[0]][d[1]];

		t->blocks++;
		t->zstd += d[2] == HT__CODEC_ZSTD;
		t->raw += ht__rd32(d + 8);
		t->stored += ht__rd32(d + 12);
	}
}

static int same(const struct ht_event *a, const struct ht_event *b)
{
	return a->op == b->op && a->ts == b->ts && a->addr == b->addr &&
	       a->size == b->size && a->old_addr == b->old_addr &&
	       a->old_size == b->old_size && a->align == b->align &&
	       a->nmemb == b->nmemb && a->heap == b->heap &&
	       a->aux == b->aux && a->flags == b->flags &&
	       a->result == b->result && a->pid == b->pid && a->tid == b->tid;
}

/* The record the recorder writes for x; 0 if it writes none such. */
static int to_rec(const struct ht_event *x, struct ht__rec *r)
{
	unsigned k = x->op < 16 ? ht__op_kind[x->op] : 0;
	uint64_t size = k & HT__K_NOSIZE ? 0 : x->size;
	uint64_t aux = k & HT__K_OLD ? x->old_addr :
		       k & HT__K_ALIGN ? x->align :
		       k & HT__K_NMEMB ? x->nmemb : 0;

	if (x->op >= 16 || x->old_size || x->heap || x->aux || x->dur ||
	    x->flags > (HT_EV_FAILED | HT_EV_INPLACE) || size >> HT__SZ_BITS ||
	    (k & HT__K_NOSIZE && x->size) ||
	    (!(k & HT__K_OLD) && x->old_addr) ||
	    (!(k & HT__K_ALIGN) && x->align) ||
	    (!(k & HT__K_NMEMB) && x->nmemb) ||
	    (x->flags & HT_EV_FAILED ? x->addr != 0 : x->result != 0))
		return 0;
	r->ts = x->ts;
	r->addr = x->flags & HT_EV_FAILED ? (uint64_t)(uint32_t)x->result :
		  x->addr;
	r->szop = HT__SZOP(size, x->op, x->flags);
	r->aux = aux;
	return 1;
}

static size_t enc_block(struct ht__enc *e, const struct ht_event *ev,
			const struct ht__rec *rv, size_t n, uint8_t *out,
			int raw)
{
	/* TSC ticks as the recorder converts them, 1 tick a ns */
	static const struct ht__recclock clk = { 0, 0, 1ull << 32, 1 };

	if (!rv)
		return ht__enc_block(e, ev, n, out, raw);
	if (n && ht__enc_add_recs(e, rv, n, ev[0].pid, ev[0].tid, &clk))
		return 0;
	return ht__enc_end(e, out, raw);
}

int main(int argc, char **argv)
{
	int reps = 5, level = HT_DEFAULT_LEVEL, raw = 0, check = 0, c;
	int verbose = 0, recs = 0;
	struct ht__rec *rv = NULL;
	struct ht_reader *r;
	struct ht_decoder *d;
	const struct ht_block_info *bi;
	const uint8_t *map;
	struct stat st;
	struct ht_event *ev, *back;
	size_t nb, total = 0, maxc = 0, *start;
	double best = 1e9;
	uint64_t bytes = 0;
	const char *what;
	int fd;

	while ((c = getopt(argc, argv, "r:l:ucvR")) != -1) {
		switch (c) {
		case 'r': reps = atoi(optarg); break;
		case 'l': level = atoi(optarg); break;
		case 'u': raw = 1; break;
		case 'c': check = 1; break;
		case 'v': verbose = 1; break;
		case 'R': recs = 1; break;
		default:
			fprintf(stderr, "usage: bench_reenc [-r REPS] "
				"[-l LEVEL] [-u] [-c] [-v] [-R] TRACE\n");
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: bench_reenc [-r REPS] [-l LEVEL] "
			"[-u] [-c] [-v] [-R] TRACE\n");
		return 2;
	}
	fd = open(argv[optind], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) ||
	    (map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
			0)) == MAP_FAILED ||
	    ht_reader_open(&r, argv[optind], HT_READ_STOP) ||
	    ht_decoder_new(&d)) {
		fprintf(stderr, "bench_reenc: cannot read %s\n", argv[optind]);
		return 1;
	}
	nb = ht_reader_blocks(r, &bi);
	start = malloc((nb + 1) * sizeof(*start));
	for (size_t i = 0; i < nb; i++) {
		start[i] = total;
		total += bi[i].count;
		if (bi[i].count > maxc)
			maxc = bi[i].count;
	}
	start[nb] = total;
	ev = malloc((total + 1) * sizeof(*ev));
	back = malloc((maxc + 1) * sizeof(*back));
	if (!start || !ev || !back)
		return 1;
	/* decode with unit 1/1: the events in the file's ticks */
	for (size_t i = 0; i < nb; i++) {
		const uint8_t *h = map + bi[i].offset;
		int k = ht__dec_block(d, h + HT__BLK_HDR, ht__rd32(h + 8),
				      bi[i].count, 1, 1, ev + start[i], &what);

		if (k != (int)bi[i].count) {
			fprintf(stderr, "bench_reenc: block %zu: %s\n", i,
				what);
			return 1;
		}
	}

	if (recs) {
		rv = malloc((total + 1) * sizeof(*rv));
		if (!rv)
			return 1;
		for (size_t i = 0; i < total; i++) {
			if (!to_rec(&ev[i], &rv[i])) {
				fprintf(stderr, "bench_reenc: event %zu is not "
					"a recorder's record\n", i);
				return 1;
			}
		}
	}

	struct ht__enc *e;
	struct ht__enc_mem mem = { 0, 0, 0 };
	size_t cap = ht__enc_payload_max((uint32_t)maxc);
	uint8_t *out = malloc(cap);

	if (!out || ht__enc_new(&e, (uint32_t)maxc, raw ? 1 : level, &mem)) {
		fprintf(stderr, "bench_reenc: no memory\n");
		return 1;
	}
	for (int rep = 0; rep < reps; rep++) {
		double t0, t;
		uint64_t b = 0;

		/* a fresh encoder each time: the blocks a new writer writes */
		ht__enc_free(e);
		if (ht__enc_new(&e, (uint32_t)maxc, raw ? 1 : level, &mem))
			return 1;
		t0 = cpu();

		for (size_t i = 0; i < nb; i++) {
			size_t len = enc_block(e, ev + start[i],
					       rv ? rv + start[i] : NULL,
					       bi[i].count, out, raw);

			if (!len)
				return 1;
			b += HT__BLK_HDR + ht__align8(len);
			if (verbose && rep == 0)
				tally(out);
		}
		t = cpu() - t0;
		if (t < best)
			best = t;
		bytes = b;
	}
	if (check) {
		ht__enc_free(e);
		if (ht__enc_new(&e, (uint32_t)maxc, raw ? 1 : level, &mem))
			return 1;
		for (size_t i = 0; i < nb; i++) {
			size_t len = enc_block(e, ev + start[i],
					       rv ? rv + start[i] : NULL,
					       bi[i].count, out, raw);
			int k = ht__dec_block(d, out, len, bi[i].count, 1, 1,
					      back, &what);

			if (k != (int)bi[i].count) {
				fprintf(stderr, "bench_reenc: block %zu does "
					"not decode: %s\n", i, what);
				return 1;
			}
			for (size_t j = 0; j < bi[i].count; j++) {
				if (!same(&back[j], &ev[start[i] + j])) {
					fprintf(stderr, "bench_reenc: block "
						"%zu row %zu differs\n", i, j);
					return 1;
				}
			}
		}
		printf("round trip: %zu blocks equal\n", nb);
	}
	printf("events %zu in %zu blocks\n", total, nb);
	printf("encode %.1f M events/s, %.1f ns/event (level %d%s%s, one "
	       "core)\n", (double)total / best / 1e6, best * 1e9 /
	       (double)total, level, raw ? ", no zstd" : "",
	       recs ? ", records" : "");
	printf("blocks %.3f bytes/event\n", (double)bytes / (double)total);
	for (int col = 1; verbose && col <= HT__NCOLS; col++) {
		for (int x = 0; x <= HT__E_MAX; x++) {
			const struct tally *t = &tal[col][x];

			if (!t->blocks)
				continue;
			printf("col %2d enc %d: %5llu blocks (%llu zstd) "
			       "raw %.3f stored %.3f B/ev\n", col, x,
			       (unsigned long long)t->blocks,
			       (unsigned long long)t->zstd,
			       (double)t->raw / (double)total,
			       (double)t->stored / (double)total);
		}
	}
	ht__enc_free(e);
	ht_decoder_free(d);
	ht_reader_close(r);
	free(out);
	free(ev);
	free(back);
	free(rv);
	free(start);
	return 0;
}
