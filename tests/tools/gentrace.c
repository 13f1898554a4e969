/*
 * gentrace.c - writes a seeded random trace (tests/gen.h: the values for
 * a seed never change), for the CLI tests, the fuzz corpus and anyone who
 * needs a trace with every op, edge values and metadata.
 *
 * usage: gentrace [-s SEED] [-n EVENTS_PER_THREAD] [-t THREADS]
 *                 [-b BLOCK_EVENTS] [-i INDEX_EVERY] [-u] [-e] [-m] [-p]
 *                 [-k CUT_BYTES] OUT
 *   -u  no zstd        -e  edge values     -m  metadata, threads, rss, loss
 *   -p  ht_writer_put (interleaved) instead of per-thread batches
 *   -k  keep only the first CUT_BYTES bytes (a writer that died)
 *   -x  instead of random events, the four of spec/vectors/min.hex
 *   -r  with -m, N more RSS samples in one block (zstd-compressed)
 *   -f  with -x, these flags on every event
 *   -d  every event timed (record --latency): durations of 0 to ~8 us
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heaptape.h"
#include "gen.h"

static int fail(const char *what, int rc)
{
	fprintf(stderr, "gentrace: %s: %s\n", what, ht_strerror(rc));
	return 1;
}

int main(int argc, char **argv)
{
	uint64_t seed = 1;
	size_t per = 1000, cut = 0, nrss = 0;
	int threads = 2, raw = 0, edge = 0, meta = 0, put = 0, c, rc, fd;
	int example = 0, dur = 0;
	uint32_t xflags = 0;
	struct ht_writer_opts o;
	struct ht_writer *w;
	struct ht_event *ev;

	memset(&o, 0, sizeof(o));
	while ((c = getopt(argc, argv, "s:n:t:b:i:uempk:xr:f:d")) != -1) {
		switch (c) {
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'n': per = strtoul(optarg, NULL, 0); break;
		case 't': threads = atoi(optarg); break;
		case 'b': o.block_events = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'i': o.index_every = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'u': raw = 1; break;
		case 'e': edge = 1; break;
		case 'm': meta = 1; break;
		case 'p': put = 1; break;
		case 'k': cut = strtoul(optarg, NULL, 0); break;
		case 'x': example = 1; break;
		case 'd': dur = 1; break;
		case 'r': nrss = strtoul(optarg, NULL, 0); break;
		case 'f': xflags = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: gentrace [-s SEED] [-n N] "
				"[-t THREADS] [-b BLOCK] [-i INDEX] [-u] [-e] "
				"[-m] [-p] [-k CUT] OUT\n");
			return 2;
		}
	}
	if (optind != argc - 1 || threads < 0 || threads > 100000)
		return 2;
	if (raw)
		o.compression = HT_COMPRESS_NONE;
	uint8_t uuid[16];
	struct gen g = { seed };
	gen_uuid(&g, uuid);
	o.uuid = uuid;

	fd = open(argv[optind], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(argv[optind]);
		return 1;
	}
	rc = ht_writer_open(&w, fd, &o);
	if (rc)
		return fail("open", rc);
	if (meta) {
		struct ht_kv kv[] = {
			{ "process.pid", "4242" },
			{ "process.exe", "/usr/bin/gentrace" },
			{ "process.cmdline", "gentrace -m out.htape" },
			{ "host.name", "testhost" },
			{ "recorder.name", "gentrace" },
		};
		struct ht_rss_sample rs[2] = { { 5, 4242, 1 << 20 },
					       { 900, 4242, 3 << 20 } };
		struct ht_loss l = { 10, 20, 4242, 100, 7, HT_LOSS_BUFFERS };

		if ((rc = ht_writer_meta(w, kv, 5)) ||
		    (rc = ht_writer_thread(w, 1, 4242, 100, "main")) ||
		    (rc = ht_writer_rss(w, rs, 2)) ||
		    (rc = ht_writer_loss(w, &l)))
			return fail("metadata", rc);
		struct ht_rss_sample *many = calloc(nrss + 1, sizeof(*many));

		for (size_t i = 0; many && i < nrss; i++) {
			many[i].ts = 1000 + i * 977;
			many[i].pid = 4242;
			many[i].rss_bytes = (4096 + i * 8192) & 0xffffff;
		}
		if (!many || (rc = ht_writer_rss(w, many, nrss)))
			return fail("rss", many ? rc : HT_ENOMEM);
		free(many);
	}
	if (example) {
		struct ht_event x[4] = {
			{ .ts = 1000, .pid = 100, .tid = 101,
			  .op = HT_OP_MALLOC, .size = 64, .addr = 0x1000 },
			{ .ts = 1500, .pid = 100, .tid = 101,
			  .op = HT_OP_CALLOC, .nmemb = 4, .size = 16,
			  .addr = 0x1040 },
			{ .ts = 2600, .pid = 100, .tid = 101,
			  .op = HT_OP_REALLOC, .old_addr = 0x1000, .size = 128,
			  .addr = 0x1080 },
			{ .ts = 3000, .pid = 100, .tid = 101, .op = HT_OP_FREE,
			  .addr = 0x1040 },
		};

		threads = 0;
		for (int i = 0; i < 4; i++) {
			x[i].flags = xflags;
			x[i].dur = dur ? 40u + 30u * (unsigned)i : 0;
		}
		if ((rc = ht_writer_write(w, x, 4)))
			return fail("write", rc);
	}
	ev = malloc((per ? per : 1) * (size_t)(threads ? threads : 1) *
		    sizeof(*ev));
	if (!ev)
		return 1;
	for (int t = 0; t < threads; t++) {
		uint64_t ts = 1000;

		for (size_t i = 0; i < per; i++)
			gen_event(&g, &ev[(size_t)t * per + i], &ts, 4242,
				  (uint32_t)(100 + t), edge);
	}
	/* Durations from their own sequence: the events stay those of the
	 * seed.  Skewed as a real allocator's: mostly tens of ns, some
	 * microseconds, some 0 (a call faster than the clock). */
	for (size_t i = 0; dur && i < per * (size_t)threads; i++) {
		uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull;

		h ^= h >> 29;
		ev[i].dur = h % 7 == 0 ? 0 : h % 13 == 0 ? 1000 + h % 7000 :
			    15 + h % 60;
	}
	for (size_t i = 0; i < per && put; i++) {
		for (int t = 0; t < threads; t++) {
			rc = ht_writer_put(w, &ev[(size_t)t * per + i]);
			if (rc)
				return fail("put", rc);
		}
	}
	for (int t = 0; t < threads && !put; t++) {
		rc = ht_writer_write(w, &ev[(size_t)t * per], per);
		if (rc)
			return fail("write", rc);
	}
	rc = ht_writer_close(w);
	if (rc)
		return fail("close", rc);
	if (cut && ftruncate(fd, (off_t)cut)) {
		perror("ftruncate");
		return 1;
	}
	free(ev);
	return close(fd) ? 1 : 0;
}
