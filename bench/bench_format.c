/*
 * bench_format.c - encode and decode speed and size of libheaptape on a
 * realistic synthetic stream: 4 threads churning like
 * ../shared/bench/mallocstorm.c (skewed sizes, a window of live blocks,
 * 10 % realloc, calloc and posix_memalign), addresses from a simulated
 * size-class allocator (so freed addresses come back), ns timestamps.
 *
 * usage: bench_format [-n EVENTS_PER_THREAD] [-r REPS] [-l LEVEL] [-u]
 *                     [-o TRACE] [-w ROWS]
 * -u: no zstd (shows the cost of the column codecs alone).
 * Prints encode and decode M events/s on one core (decoding into events
 * and into columns) and bytes/event; with
 * -w writes the same events as plain 40-byte rows (in the trace's order)
 * for bench/format.sh to compress with the zstd CLI.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "heaptape.h"

#define NTHREADS 4
#define WINDOW 4096
#define NCLASS 80

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t pick_size(uint64_t *s)
{
	uint64_t r = rnd(s) % 1000;

	if (r < 700)
		return 8 + rnd(s) % 120;
	if (r < 950)
		return 128 + rnd(s) % 1920;
	if (r < 998)
		return 2048 + rnd(s) % 30000;
	return 65536 + rnd(s) % 500000;
}

/* A toy size-class allocator: LIFO free lists, bump allocation. */
struct sim {
	uint64_t bump, big;
	uint64_t *fl[NCLASS];
	size_t nfl[NCLASS], cfl[NCLASS];
};

static int cls(uint64_t n)
{
	if (n <= 1024)
		return (int)((n + 15) / 16);
	int c = 64 - __builtin_clzll(n - 1); /* 11..20 */
	return 65 + (c - 11);
}

static uint64_t class_size(uint64_t n)
{
	if (n <= 1024)
		return (n + 15) & ~15ull;
	return 1ull << (64 - __builtin_clzll(n - 1));
}

static uint64_t sim_alloc(struct sim *m, uint64_t n)
{
	int c;

	if (n >= 131072) {
		uint64_t a = m->big;

		m->big += (n + 4095) & ~4095ull;
		return a;
	}
	c = cls(n);
	if (m->nfl[c])
		return m->fl[c][--m->nfl[c]];
	uint64_t a = m->bump;
	m->bump += class_size(n) + 16;
	return a;
}

static void sim_free(struct sim *m, uint64_t a, uint64_t n)
{
	int c;

	if (n >= 131072)
		return;
	c = cls(n);
	if (m->nfl[c] == m->cfl[c]) {
		m->cfl[c] = m->cfl[c] ? m->cfl[c] * 2 : 64;
		m->fl[c] = realloc(m->fl[c], m->cfl[c] * sizeof(uint64_t));
	}
	m->fl[c][m->nfl[c]++] = a;
}

/* Events of thread t, in program order. */
static void gen_thread(struct ht_event *ev, size_t n, uint32_t t)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * (t + 1), ts = 1000000 + t * 7;
	uint64_t slot[WINDOW], sz[WINDOW];
	struct sim m;
	size_t i = 0;

	memset(&m, 0, sizeof(m));
	m.bump = 0x7f0000000000ull + ((uint64_t)t << 32) + 0x10;
	m.big = 0x7e0000000000ull + ((uint64_t)t << 36);
	memset(slot, 0, sizeof(slot));
	memset(sz, 0, sizeof(sz));
	while (i < n) {
		size_t k = rnd(&s) % WINDOW;
		uint64_t r = rnd(&s) % 100;
		struct ht_event *e = &ev[i];

		memset(e, 0, sizeof(*e));
		e->pid = 4242;
		e->tid = 4242 + t;
		ts += 25 + rnd(&s) % 150 + (rnd(&s) % 64 == 0 ? rnd(&s) % 5000
					    : 0);
		e->ts = ts;
		if (slot[k] && r < 10) {
			uint64_t nsz = pick_size(&s), na;

			e->op = HT_OP_REALLOC;
			e->old_addr = slot[k];
			e->size = nsz;
			if (class_size(nsz) == class_size(sz[k]) &&
			    nsz < 131072) {
				na = slot[k];
			} else {
				na = sim_alloc(&m, nsz);
				sim_free(&m, slot[k], sz[k]);
			}
			e->addr = na;
			slot[k] = na;
			sz[k] = nsz;
			i++;
			continue;
		}
		if (slot[k]) {
			e->op = HT_OP_FREE;
			e->addr = slot[k];
			sim_free(&m, slot[k], sz[k]);
			slot[k] = 0;
			if (++i == n)
				break;
			e = &ev[i];
			memset(e, 0, sizeof(*e));
			e->pid = 4242;
			e->tid = 4242 + t;
			ts += 20 + rnd(&s) % 100;
			e->ts = ts;
		}
		uint64_t nsz = pick_size(&s);
		e->size = nsz;
		if (r < 20) {
			e->op = HT_OP_CALLOC;
			e->nmemb = 1;
		} else if (r < 22) {
			e->op = HT_OP_POSIX_MEMALIGN;
			e->align = 64;
		} else {
			e->op = HT_OP_MALLOC;
		}
		e->addr = sim_alloc(&m, nsz);
		slot[k] = e->addr;
		sz[k] = nsz;
		i++;
	}
	for (int c = 0; c < NCLASS; c++)
		free(m.fl[c]);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double cpu(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	size_t per = 250000, total;
	int reps = 3, level = 0, c, raw = 0;
	const char *out = "/tmp/bench_format.htape", *rows = NULL;
	struct ht_event *ev;
	struct ht_writer_opts o;
	double best_enc = 1e9, best_dec = 1e9, best_col = 1e9, file_enc = 0;
	uint64_t bytes = 0;

	while ((c = getopt(argc, argv, "n:r:l:o:w:u")) != -1) {
		switch (c) {
		case 'n': per = strtoul(optarg, NULL, 10); break;
		case 'r': reps = atoi(optarg); break;
		case 'l': level = atoi(optarg); break;
		case 'o': out = optarg; break;
		case 'w': rows = optarg; break;
		case 'u': raw = 1; break;
		default:
			fprintf(stderr, "usage: bench_format [-n N] [-r R] "
				"[-l LEVEL] [-o TRACE] [-w ROWS]\n");
			return 2;
		}
	}
	total = per * NTHREADS;
	ev = malloc(total * sizeof(*ev));
	if (!ev)
		return 1;
	for (uint32_t t = 0; t < NTHREADS; t++)
		gen_thread(ev + t * per, per, t);

	memset(&o, 0, sizeof(o));
	o.level = level;
	if (raw)
		o.compression = HT_COMPRESS_NONE;
	/* Pass 0..reps-1 encode to /dev/null (the encoder alone), the last
	 * pass to the trace file (encoder + write into the page cache). */
	for (int rep = 0; rep <= reps; rep++) {
		struct ht_writer *w;
		int fd = rep < reps ? open("/dev/null", O_WRONLY) :
			 open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		double t0, t1;
		size_t chunk = 65536;

		if (fd < 0 || ht_writer_open(&w, fd, &o)) {
			fprintf(stderr, "bench_format: cannot write %s\n", out);
			return 1;
		}
		t0 = cpu();
		/* the recorder's pattern: full per-thread buffers in turn */
		for (size_t i = 0; i < per; i += chunk)
			for (int t = 0; t < NTHREADS; t++)
				ht_writer_write(w, ev + t * per + i,
						per - i < chunk ? per - i :
						chunk);
		bytes = ht_writer_bytes(w);
		t1 = cpu();
		if (ht_writer_close(w))
			return 1;
		close(fd);
		if (rep == reps)
			file_enc = t1 - t0;
		else if (t1 - t0 < best_enc)
			best_enc = t1 - t0;
	}

	for (int rep = 0; rep < reps; rep++) {
		struct ht_reader *r;
		struct ht_decoder *d;
		const struct ht_block_info *bi;
		struct ht_event *buf = malloc(65536 * sizeof(*buf));
		uint64_t n = 0, x = 0;
		double t0;

		if (ht_reader_open(&r, out, HT_READ_STOP)) {
			fprintf(stderr, "bench_format: cannot read %s\n", out);
			return 1;
		}
		ht_decoder_new(&d);
		size_t nb = ht_reader_blocks(r, &bi);
		t0 = cpu();
		for (size_t i = 0; i < nb; i++) {
			int k = ht_reader_decode_block(r, d, i, buf, 65536);

			if (k < 0) {
				fprintf(stderr, "bench_format: decode: %s\n",
					ht_strerror(k));
				return 1;
			}
			n += (uint64_t)k;
			x ^= buf[k - 1].addr;
		}
		double t = cpu() - t0;
		if (t < best_dec)
			best_dec = t;
		if (n != total || !x)
			return 1;

		/* the same blocks as columns: no events assembled */
		uint64_t y = 0;
		struct ht_columns cl;

		n = 0;
		t0 = cpu();
		for (size_t i = 0; i < nb; i++) {
			int k = ht_reader_decode_columns(r, d, i, &cl);

			if (k < 0) {
				fprintf(stderr, "bench_format: decode: %s\n",
					ht_strerror(k));
				return 1;
			}
			n += (uint64_t)k;
			y ^= cl.addr[k - 1];
		}
		t = cpu() - t0;
		if (t < best_col)
			best_col = t;
		if (n != total || y != x)
			return 1;
		ht_decoder_free(d);
		ht_reader_close(r);
		free(buf);
	}
	(void)now;
	printf("events %zu (4 threads)\n", total);
	printf("encode %.1f M events/s (level %d, one core)\n",
	       (double)total / best_enc / 1e6, level ? level :
	       HT_DEFAULT_LEVEL);
	printf("encode + write to a file %.1f M events/s\n",
	       (double)total / file_enc / 1e6);
	printf("decode %.1f M events/s (decode_block, one core)\n",
	       (double)total / best_dec / 1e6);
	printf("decode %.1f M events/s (decode_columns, one core)\n",
	       (double)total / best_col / 1e6);
	printf("size %llu bytes, %.3f bytes/event\n",
	       (unsigned long long)bytes, (double)bytes / (double)total);

	if (rows) {
		FILE *f = fopen(rows, "wb");
		size_t chunk = 65536;

		if (!f)
			return 1;
		for (size_t i = 0; i < per; i += chunk) {
			for (int t = 0; t < NTHREADS; t++) {
				size_t k = per - i < chunk ? per - i : chunk;

				for (size_t j = 0; j < k; j++) {
					const struct ht_event *e =
						&ev[t * per + i + j];
					uint8_t row[40];
					uint64_t aux = e->old_addr ?
						       e->old_addr : e->align;

					memset(row, 0, sizeof(row));
					memcpy(row, &e->ts, 8);
					memcpy(row + 8, &e->addr, 8);
					memcpy(row + 16, &e->size, 8);
					memcpy(row + 24, &aux, 8);
					memcpy(row + 32, &e->tid, 4);
					row[36] = e->op;
					row[37] = (uint8_t)e->flags;
					fwrite(row, 1, 40, f);
				}
			}
		}
		if (fclose(f))
			return 1;
	}
	free(ev);
	return 0;
}
