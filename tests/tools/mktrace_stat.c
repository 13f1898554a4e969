/*
 * mktrace_stat.c - writes a trace of known events for the cat, stat,
 * verify and plot tests, and a plain dump of the same events that
 * tests/stat_check.py reads to compute the expected numbers on its own.
 *
 *   mktrace_stat [options] OUT.htape DUMP.txt
 *     -n N        events (default 20000)
 *     -t T        threads in process 100 (default 4)
 *     -s SEED     seed (default 1)
 *     -b N        events per block (default: the writer's)
 *     --windows   also a process 200 using HeapCreate/HeapAlloc/
 *                 HeapReAlloc/HeapFree/HeapDestroy
 *     -c CAT      also write the expected `heaptape cat` output
 *                 (ht_event_format of every event, in order)
 *     --case peak instead of random events, a fixed sequence whose peak
 *                 is 1600 bytes in 4 blocks (see case_peak())
 *
 * The events cover every case live.h defines: malloc, calloc (nmemb),
 * realloc (grow, shrink, in place, NULL -> n, p -> 0), reallocarray,
 * posix_memalign/aligned_alloc/memalign/valloc, free_sized, failed calls,
 * free(NULL), frees of unknown pointers, frees in another thread, thread
 * names, RSS samples, one loss record and process metadata.  Timestamps
 * are distinct and increasing, so the reader's merge order is the order
 * of generation, which is the order of DUMP.txt.
 *
 * DUMP.txt: "meta KEY VALUE", "rss TS PID BYTES", "loss EVENTS",
 * "thread PID TID NAME" lines, then one line per event:
 * "ev TS PID TID OP ADDR SIZE OLD_ADDR NMEMB ALIGN HEAP FLAGS" (numbers
 * in decimal, OP by name).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heaptape.h"

static uint64_t rng;

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static struct ht_writer *w;
static FILE *dump, *catf;
static uint64_t now = 1000000000ull;

static void emit(struct ht_event *e)
{
	int rc;

	now += 1 + rnd() % 5000;
	e->ts = now;
	rc = ht_writer_put(w, e);
	if (rc) {
		fprintf(stderr, "mktrace_stat: %s\n", ht_strerror(rc));
		exit(1);
	}
	fprintf(dump, "ev %" PRIu64 " %u %u %s %" PRIu64 " %" PRIu64
		" %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %u\n",
		e->ts, e->pid, e->tid, ht_op_name(e->op), e->addr, e->size,
		e->old_addr, e->nmemb, e->align, e->heap, e->flags);
	if (catf) {
		char line[512];
		ht_event_format(e, line, sizeof(line));
		fprintf(catf, "%s\n", line);
	}
}

static void ev(int op, uint32_t tid, uint64_t heap, uint64_t addr,
	       uint64_t size, uint64_t old, uint64_t nmemb, uint32_t flags)
{
	struct ht_event e;

	memset(&e, 0, sizeof(e));
	e.op = (uint8_t)op;
	e.pid = 300;
	e.tid = tid;
	e.heap = heap;
	e.addr = addr;
	e.size = size;
	e.old_addr = old;
	e.nmemb = nmemb;
	e.flags = flags;
	if (flags & HT_EV_FAILED)
		e.result = 12;
	emit(&e);
}

/* Live bytes after each event in the comment; the peak is 1600 bytes in
 * 4 blocks, the end 0 bytes in 0 blocks, 1 unknown free, 2 failed. */
static void case_peak(void)
{
	const uint64_t H = 0x7ff10000;

	ev(HT_OP_MALLOC, 1, 0, 0xa0, 100, 0, 0, 0);             /* 100 */
	ev(HT_OP_CALLOC, 1, 0, 0xb0, 10, 0, 10, 0);             /* 200 */
	ev(HT_OP_REALLOC, 2, 0, 0xc0, 1000, 0xa0, 0, 0);        /* 1100 */
	ev(HT_OP_MALLOC, 2, 0, 0, (uint64_t)1 << 40, 0, 0,
	   HT_EV_FAILED);                                        /* 1100 */
	ev(HT_OP_REALLOC, 1, 0, 0, (uint64_t)1 << 41, 0xc0, 0,
	   HT_EV_FAILED);                                        /* 1100 */
	ev(HT_OP_REALLOC, 1, 0, 0, 0, 0xc0, 0, 0);              /* 100 */
	ev(HT_OP_FREE, 2, 0, 0, 0, 0, 0, 0);                    /* free(NULL) */
	ev(HT_OP_HEAP_CREATE, 3, H, 0, 0, 0, 0, 0);
	ev(HT_OP_HEAP_ALLOC, 3, H, 0xd0, 500, 0, 0, 0);         /* 600 */
	ev(HT_OP_HEAP_ALLOC, 3, H, 0xe0, 500, 0, 0, 0);         /* 1100 */
	ev(HT_OP_HEAP_ALLOC, 3, H, 0xf0, 500, 0, 0, 0);         /* 1600 */
	ev(HT_OP_HEAP_DESTROY, 3, H, 0, 0, 0, 0, 0);            /* 100 */
	ev(HT_OP_FREE, 1, 0, 0xb0, 0, 0, 0, 0);                 /* 0 */
	ev(HT_OP_FREE, 1, 0, 0x1234560, 0, 0, 0, 0);            /* unknown */
	ev(HT_OP_REALLOC, 2, 0, 0x100, 64, 0, 0, 0);            /* 64 */
	ev(HT_OP_FREE_SIZED, 2, 0, 0x100, 64, 0, 0, 0);         /* 0 */
}

/* A live block the generator may free, realloc, or hand to a thread. */
struct blk {
	uint64_t addr, heap;
	uint32_t tid;
};

#define MAXLIVE 4096
static struct blk live[MAXLIVE];
static size_t nlive;
static uint64_t next_addr = 0x55550000;

static uint64_t fresh(void)
{
	/* Mostly new addresses, sometimes one that was freed before. */
	next_addr += 16 * (1 + rnd() % 8);
	return next_addr;
}

static uint64_t pick_size(void)
{
	static const uint64_t common[] = {16, 24, 32, 48, 64, 100, 128, 4096};
	uint64_t k = rnd() % 10;

	if (k < 6)
		return common[rnd() % 8];
	if (k < 9)
		return rnd() % 2000;
	return rnd() % (1u << 20);
}

static void c_api(uint32_t pid, uint32_t tid)
{
	struct ht_event e;
	unsigned k = (unsigned)(rnd() % 100);

	memset(&e, 0, sizeof(e));
	e.pid = pid;
	e.tid = tid;
	if (nlive > MAXLIVE - 8 || (k >= 55 && nlive)) {
		size_t i = rnd() % nlive;
		struct blk b = live[i];
		unsigned j = (unsigned)(rnd() % 20);

		/* Any thread may free: cross-thread frees on purpose. */
		if (j < 12) {
			e.op = j < 10 ? HT_OP_FREE : HT_OP_FREE_SIZED;
			e.addr = b.addr;
			if (e.op == HT_OP_FREE_SIZED)
				e.size = 8;
			live[i] = live[--nlive];
		} else if (j < 18) {
			e.op = j < 17 ? HT_OP_REALLOC : HT_OP_REALLOCARRAY;
			e.old_addr = b.addr;
			e.size = pick_size();
			if (e.op == HT_OP_REALLOCARRAY)
				e.nmemb = 1 + rnd() % 10;
			if (j == 12) {            /* failed: nothing changes */
				e.flags = HT_EV_FAILED;
				e.result = 12;
				e.size = (uint64_t)1 << 46;
			} else if (j == 13) {     /* realloc(p, 0) -> NULL */
				e.op = HT_OP_REALLOC;
				e.nmemb = 0;
				e.size = 0;
				live[i] = live[--nlive];
			} else if (j == 14) {     /* in place */
				e.addr = b.addr;
				e.flags = HT_EV_INPLACE;
				live[i].tid = tid;
			} else {
				e.addr = fresh();
				live[i].addr = e.addr;
				live[i].tid = tid;
			}
		} else {
			/* free of a pointer from before recording started */
			e.op = HT_OP_FREE;
			e.addr = 0x10000 + (rnd() % 1000) * 16;
		}
		emit(&e);
		return;
	}
	if (k < 2) {
		e.op = HT_OP_FREE; /* free(NULL) */
		emit(&e);
		return;
	}
	if (k < 4) {
		e.op = HT_OP_MALLOC; /* failed */
		e.size = (uint64_t)1 << 50;
		e.flags = HT_EV_FAILED;
		e.result = 12;
		emit(&e);
		return;
	}
	switch (k % 8) {
	case 0:
		e.op = HT_OP_CALLOC;
		e.nmemb = 1 + rnd() % 64;
		e.size = 1 + rnd() % 64;
		break;
	case 1:
		e.op = HT_OP_POSIX_MEMALIGN + (int)(rnd() % 3);
		e.align = (uint64_t)64 << (rnd() % 4);
		e.size = pick_size();
		break;
	case 2:
		e.op = rnd() % 2 ? HT_OP_VALLOC : HT_OP_REALLOC;
		e.size = pick_size(); /* realloc(NULL, n) */
		break;
	default:
		e.op = HT_OP_MALLOC;
		e.size = pick_size();
	}
	e.addr = fresh();
	live[nlive].addr = e.addr;
	live[nlive].heap = 0;
	live[nlive++].tid = tid;
	emit(&e);
}

/* A Windows process: heaps created, filled, partly freed, destroyed. */
static void win_api(uint32_t pid, uint32_t tid, uint64_t *heaps, int *nh)
{
	struct ht_event e;
	unsigned k = (unsigned)(rnd() % 100);

	memset(&e, 0, sizeof(e));
	e.pid = pid;
	e.tid = tid;
	if (!*nh || k < 2) {
		e.op = HT_OP_HEAP_CREATE;
		e.heap = 0x7ff00000 + (uint64_t)(rnd() % 64) * 0x10000;
		heaps[(*nh)++ % 8] = e.heap;
		if (*nh > 8)
			*nh = 8;
		emit(&e);
		return;
	}
	e.heap = heaps[rnd() % (uint64_t)*nh];
	if (k < 5) {
		e.op = HT_OP_HEAP_DESTROY;
	} else if (k < 60) {
		e.op = HT_OP_HEAP_ALLOC;
		e.addr = 0x20000000 + (rnd() % 4000) * 32;
		e.size = pick_size();
	} else if (k < 70) {
		e.op = HT_OP_HEAP_REALLOC;
		e.old_addr = 0x20000000 + (rnd() % 4000) * 32;
		e.addr = 0x20000000 + (rnd() % 4000) * 32;
		e.size = pick_size();
	} else {
		e.op = HT_OP_HEAP_FREE;
		e.addr = 0x20000000 + (rnd() % 4000) * 32;
	}
	emit(&e);
}

int main(int argc, char **argv)
{
	struct ht_writer_opts o;
	uint64_t n = 20000, seed = 1, heaps[8];
	int threads = 4, windows = 0, fd, rc, nh = 0;
	uint32_t block = 0;
	const char *out = NULL, *dp = NULL, *cp = NULL;
	int fixed = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			n = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-t") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-b") && i + 1 < argc)
			block = (uint32_t)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--windows"))
			windows = 1;
		else if (!strcmp(argv[i], "-c") && i + 1 < argc)
			cp = argv[++i];
		else if (!strcmp(argv[i], "--case") && i + 1 < argc)
			fixed = !strcmp(argv[++i], "peak") ? 1 : -1;
		else if (!out)
			out = argv[i];
		else if (!dp)
			dp = argv[i];
		else
			out = NULL, i = argc;
	}
	if (!out || !dp || threads < 1 || threads > 1000 || fixed < 0) {
		fprintf(stderr, "usage: mktrace_stat [-n N] [-t T] [-s SEED] "
				"[-b N] [--windows] [-c CAT] [--case peak] "
				"OUT DUMP\n");
		return 2;
	}
	rng = seed;
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dump = fopen(dp, "w");
	if (cp)
		catf = fopen(cp, "w");
	if (fd < 0 || !dump || (cp && !catf)) {
		perror("mktrace_stat");
		return 1;
	}
	memset(&o, 0, sizeof(o));
	o.block_events = block;
	if ((rc = ht_writer_open(&w, fd, &o))) {
		fprintf(stderr, "mktrace_stat: %s\n", ht_strerror(rc));
		return 1;
	}
	{
		struct ht_kv kv[] = {{"process.exe", "/usr/bin/stat-test"},
				     {"process.cmdline", "stat-test --x \"q\""},
				     {"process.pid", "100"}};
		ht_writer_meta(w, kv, 3);
		for (size_t i = 0; i < 3; i++)
			fprintf(dump, "meta %s %s\n", kv[i].key, kv[i].value);
	}
	if (fixed) {
		/* Metadata may hold any bytes but NUL: JSON and SVG output
		 * must stay valid (not in the dump: it is read as UTF-8). */
		struct ht_kv odd[] = {
			{"test.bytes", "caf\xe9 \x01<&>\t\xc3\xa9\xff\"\\"},
			{"process.exe", "/opt/w\xe9ird <&> \"exe\""}};
		ht_writer_meta(w, odd, 2);
		ht_writer_thread(w, now, 300, 1, "na\"me\\1");
		fprintf(dump, "thread 300 1 na\"me\\1\n");
		case_peak();
		rc = ht_writer_close(w);
		close(fd);
		if (catf && fclose(catf))
			rc = -1;
		return rc || fclose(dump) ? 1 : 0;
	}
	for (int t = 0; t < threads; t++) {
		char name[32];
		snprintf(name, sizeof(name), t ? "worker-%d" : "main", t);
		ht_writer_thread(w, now, 100, 1000 + (uint32_t)t, name);
		fprintf(dump, "thread 100 %u %s\n", 1000 + t, name);
	}
	for (uint64_t i = 0; i < n; i++) {
		uint32_t tid = 1000 + (uint32_t)(rnd() % (uint64_t)threads);
		if (windows && rnd() % 4 == 0)
			win_api(200, 2000 + (uint32_t)(rnd() % 2), heaps, &nh);
		else
			c_api(100, tid);
		if (i % 1000 == 999) {
			struct ht_rss_sample s = {now, 100,
						  4096 * (1000 + rnd() % 5000)};
			ht_writer_rss(w, &s, 1);
			fprintf(dump, "rss %" PRIu64 " 100 %" PRIu64 "\n", s.ts,
				s.rss_bytes);
		}
	}
	{
		struct ht_loss l = {now - 100, now, 100, 1001, 42,
				    HT_LOSS_BUFFERS};
		ht_writer_loss(w, &l);
		fprintf(dump, "loss 42\n");
	}
	rc = ht_writer_close(w);
	if (rc) {
		fprintf(stderr, "mktrace_stat: %s\n", ht_strerror(rc));
		return 1;
	}
	close(fd);
	if (catf && fclose(catf))
		return 1;
	return fclose(dump) ? 1 : 0;
}
