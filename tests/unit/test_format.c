/*
 * test_format.c - libheaptape round trips: seeded random events with edge
 * values, field by field, every op, empty and one-event traces, many
 * threads, blocks of 1 and of 1M events, metadata, seek, parallel
 * decode_block, ht_writer_append, the recorder's records appended as
 * they are, and the allocator hook (the writer never allocates after
 * open).  Truncation and bit flips live in test_format_damage.c.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "heaptape.h"
#include "internal.h"
#include "tap.h"
#include "gen.h"

/* A trace in memory: memfd-backed writer output read back as a buffer. */
struct mem {
	uint8_t *buf;
	size_t len;
};

static int memfd(void)
{
	char path[] = "/tmp/ht-test-XXXXXX";
	int fd = mkstemp(path);

	if (fd >= 0)
		unlink(path);
	return fd;
}

static void slurp(int fd, struct mem *m)
{
	off_t n = lseek(fd, 0, SEEK_END);

	m->len = (size_t)n;
	m->buf = malloc(m->len ? m->len : 1);
	if (pread(fd, m->buf, m->len, 0) != (ssize_t)m->len)
		m->len = 0;
	close(fd);
}

/* Fields an op does not carry read back as 0 (spec "Op table"). */
static int ev_equal(const struct ht_event *a, const struct ht_event *b)
{
	return a->ts == b->ts && a->addr == b->addr && a->size == b->size &&
	       a->old_addr == b->old_addr && a->old_size == b->old_size &&
	       a->align == b->align && a->nmemb == b->nmemb &&
	       a->heap == b->heap && a->pid == b->pid && a->tid == b->tid &&
	       a->flags == b->flags && a->result == b->result &&
	       a->aux == b->aux && a->op == b->op;
}

static void show(const char *what, size_t i, const struct ht_event *e)
{
	char buf[256];

	ht_event_format(e, buf, sizeof(buf));
	printf("# %s[%zu]: %s\n", what, i, buf);
}

/*
 * Every EVENTS block of r decoded both ways, ht_reader_decode_block()
 * and ht_reader_decode_columns(), must give the same events, and a
 * NULL array only where the field is 0 throughout.  Returns mismatches.
 * The column decoder runs twice: as it would on this CPU (AVX-512 where
 * there is some) and with its portable loops, against the events as
 * this CPU decodes them (which roundtrip() holds to what was written).
 */
static size_t columns_match1(const struct ht_reader *r, int scalar);

static size_t columns_match(const struct ht_reader *r)
{
	return columns_match1(r, 0) + columns_match1(r, 1);
}

static size_t columns_match1(const struct ht_reader *r, int scalar)
{
	const struct ht_block_info *bi;
	size_t nb = ht_reader_blocks(r, &bi), bad = 0;
	struct ht_decoder *d, *dc;
	struct ht_event *out = NULL;
	struct ht_columns c;

	ht_decoder_new(&d);
	ht_decoder_new(&dc);
	for (size_t i = 0; i < nb; i++) {
		int n, m;

		out = realloc(out, (bi[i].count + 1) * sizeof(*out));
		ht__dec_scalar = 0;
		n = ht_reader_decode_block(r, d, i, out, bi[i].count);
		ht__dec_scalar = scalar;
		m = ht_reader_decode_columns(r, dc, i, &c);
		ht__dec_scalar = 0;
		if (n != m || (n >= 0 && (c.count != (uint32_t)n ||
					  c.pid != bi[i].pid ||
					  c.tid != bi[i].tid ||
					  (n > 0 && (!c.op || !c.ts))))) {
			bad++;
			continue;
		}
		for (int k = 0; k < n; k++) {
			struct ht_event e;

			ht_columns_event(&c, (size_t)k, &e);
			if ((!ev_equal(&e, &out[k]) || e.dur != out[k].dur) &&
			    bad++ < 3) {
				show("columns", (size_t)k, &e);
				show("events", (size_t)k, &out[k]);
			}
		}
	}
	free(out);
	ht_decoder_free(d);
	ht_decoder_free(dc);
	return bad;
}

/*
 * Writes nthreads x per events with seed (ht_writer_write in batches of
 * batch, or ht_writer_put when batch == 0), then reads them back with
 * ht_reader_next and compares stream by stream and the global order.
 */
static void roundtrip(uint64_t seed, int nthreads, size_t per,
		      uint32_t block_events, size_t batch, int edge,
		      int compression)
{
	struct ht_writer_opts o;
	struct ht_writer *w;
	struct ht_reader *r;
	struct ht_event *ev, e, prev;
	size_t total = (size_t)nthreads * per, *pos, got = 0;
	struct gen g = { seed };
	struct mem m;
	int fd = memfd(), rc, bad = 0;

	ev = malloc((total ? total : 1) * sizeof(*ev));
	pos = calloc((size_t)nthreads + 1, sizeof(*pos));
	for (int t = 0; t < nthreads; t++) {
		uint64_t ts = 1000;

		for (size_t i = 0; i < per; i++)
			gen_event(&g, &ev[(size_t)t * per + i], &ts, 4242,
				  (uint32_t)(100 + t), edge);
	}
	memset(&o, 0, sizeof(o));
	o.block_events = block_events;
	o.compression = compression;
	CHECK_EQ(ht_writer_open(&w, fd, &o), 0);
	if (batch) {
		for (int t = 0; t < nthreads; t++) {
			for (size_t i = 0; i < per; i += batch) {
				size_t k = per - i < batch ? per - i : batch;

				CHECK_EQ(ht_writer_write(w, &ev[(size_t)t * per
							       + i], k), 0);
			}
		}
	} else {
		/* interleaved, as an importer sees them */
		for (size_t i = 0; i < per; i++)
			for (int t = 0; t < nthreads; t++)
				CHECK_EQ(ht_writer_put(w, &ev[(size_t)t * per
							     + i]), 0);
	}
	CHECK_EQ(ht_writer_close(w), 0);
	slurp(fd, &m);

	rc = ht_reader_open_mem(&r, m.buf, m.len, HT_READ_STRICT);
	CHECK_EQ(rc, 0);
	CHECK_EQ(ht_reader_complete(r), 1);
	struct ht_trace_info info;
	ht_reader_info(r, &info);
	CHECK_EQ(info.events, total);
	CHECK_EQ(info.file_bytes, m.len);
	memset(&prev, 0, sizeof(prev));
	while ((rc = ht_reader_next(r, &e)) == 1) {
		size_t t = e.tid - 100, i;

		if (e.pid != 4242 || t >= (size_t)nthreads || pos[t] >= per) {
			if (!bad++)
				show("unexpected", got, &e);
			break;
		}
		i = t * per + pos[t]++;
		if (!ev_equal(&e, &ev[i]) && bad++ < 3) {
			show("got", i, &e);
			show("want", i, &ev[i]);
		}
		/* global order: (ts, pid, tid) non-decreasing */
		if (got && (e.ts < prev.ts || (e.ts == prev.ts &&
					       e.tid < prev.tid)))
			bad++;
		prev = e;
		got++;
	}
	CHECK_EQ(rc, 0);
	CHECK_EQ(got, total);
	CHECK_EQ(bad, 0);
	CHECK_EQ(columns_match(r), 0);
	ht_reader_close(r);
	free(m.buf);
	free(ev);
	free(pos);
}

/* R-RD-5: merged order (ts, pid, tid), each thread's order kept. */
static void test_random(void)
{
	roundtrip(1, 4, 20000, 0, 5000, 0, 0);
}

static void test_edges(void)
{
	roundtrip(2, 3, 3000, 512, 777, 1, 0);
	roundtrip(3, 2, 1000, 100, 1000, 1, HT_COMPRESS_NONE);
}

static void test_put(void)
{
	roundtrip(4, 7, 3000, 1000, 0, 1, 0);
}

/* Live bytes through an allocator: a size word before each block. */
struct live {
	size_t now, peak;
};

static void *l_alloc(void *ctx, size_t n)
{
	struct live *l = ctx;
	size_t *p = malloc(n + 16);

	if (!p)
		return NULL;
	*p = n;
	l->now += n;
	if (l->now > l->peak)
		l->peak = l->now;
	return (char *)p + 16;
}

static void l_free(void *ctx, void *q)
{
	struct live *l = ctx;
	size_t *p;

	if (!q)
		return;
	p = (size_t *)(void *)((char *)q - 16);
	l->now -= *p;
	free(p);
}

/*
 * ht_writer_put() keeps its buffers within put_bytes: 40 threads of
 * interleaved events, 2000 each, with room for about 4000 buffered;
 * every event comes back, in its thread's order, from more blocks than
 * full ones would make.  The bound is on the buffers: the writer's own
 * memory (encoder, zstd) comes on top, measured right after open.
 */
static void test_put_bound(void)
{
	enum { T = 40, PER = 2000 };
	struct live l = { 0, 0 };
	struct ht_allocator a = { l_alloc, l_free, &l };
	struct ht_writer_opts o;
	struct ht_writer *w;
	struct ht_reader *r;
	struct ht_event *ev = malloc(T * PER * sizeof(*ev)), e;
	struct gen g = { 5 };
	size_t pos[T] = { 0 }, got = 0, bad = 0, base;
	struct mem m;
	int fd = memfd(), rc;

	for (int t = 0; t < T; t++) {
		uint64_t ts = 100;

		for (size_t i = 0; i < PER; i++)
			gen_event(&g, &ev[t * PER + i], &ts, 9, (uint32_t)t,
				  1);
	}
	memset(&o, 0, sizeof(o));
	o.allocator = &a;
	o.block_events = 1024;
	o.put_bytes = 4000 * sizeof(struct ht_event);
	CHECK_EQ(ht_writer_open(&w, fd, &o), 0);
	base = l.now;
	for (size_t i = 0; i < PER; i++)
		for (int t = 0; t < T; t++)
			CHECK_EQ(ht_writer_put(w, &ev[t * PER + i]), 0);
	/* the stream table and hash, and one buffer's growth, on top */
	CHECK(l.peak - base < o.put_bytes + 64 * 1024);
	CHECK_EQ(ht_writer_close(w), 0);
	CHECK_EQ(l.now, 0);
	slurp(fd, &m);
	CHECK_EQ(ht_reader_open_mem(&r, m.buf, m.len, HT_READ_STRICT), 0);
	struct ht_trace_info info;
	ht_reader_info(r, &info);
	CHECK(info.event_blocks > T * 2); /* full ones: 2 a thread */
	while ((rc = ht_reader_next(r, &e)) == 1) {
		if (e.tid >= T || pos[e.tid] >= PER ||
		    !ev_equal(&e, &ev[e.tid * PER + pos[e.tid]++]))
			bad++;
		got++;
	}
	CHECK_EQ(rc, 0);
	CHECK_EQ(got, (size_t)T * PER);
	CHECK_EQ(bad, 0);
	ht_reader_close(r);
	free(m.buf);
	free(ev);
}

static void test_empty(void)
{
	roundtrip(5, 0, 0, 0, 1, 0, 0);
	roundtrip(5, 1, 0, 0, 1, 0, 0);
}

static void test_one(void)
{
	roundtrip(6, 1, 1, 0, 1, 1, 0);
}

static void test_many_threads(void)
{
	roundtrip(7, 1000, 20, 0, 0, 0, 0);
}

static void test_block_of_1(void)
{
	roundtrip(8, 3, 300, 1, 300, 1, 0);
}

/* R-EV-13: the largest block, 2^20 events. */
static void test_block_of_1m(void)
{
	roundtrip(9, 1, 1u << 20, 1u << 20, 1u << 20, 0, 0);
}

/* Metadata, threads, RSS and losses come back as written; R-TS-1: ticks
 * of 1.5 ns (3/2) come back as ns; R-META-3 the clock keys. */
static void test_metadata(void)
{
	struct ht_writer_opts o;
	struct ht_writer *w;
	struct ht_reader *r;
	struct mem m;
	int fd = memfd();
	uint8_t uuid[16];
	struct ht_kv kv[] = { { "process.pid", "4242" },
			      { "process.cmdline", "a.out -x 'y z'" },
			      { "host.name", "box" } };
	struct ht_kv kv2[] = { { "host.name", "other" } };
	struct ht_rss_sample rs[3] = { { 10, 1, 4096 }, { 20, 1, 8192 },
				       { 30, 2, UINT64_MAX } };
	struct ht_loss l = { 5, 9, 1, 2, 77, HT_LOSS_BUFFERS };
	const struct ht_thread *th;
	const struct ht_rss_sample *rso;
	const struct ht_loss *lo;
	const struct ht_kv *all;

	for (int i = 0; i < 16; i++)
		uuid[i] = (uint8_t)(i * 17);
	memset(&o, 0, sizeof(o));
	o.uuid = uuid;
	o.clock_num = 3;
	o.clock_den = 2;      /* ticks are 1.5 ns */
	o.flags = HT_TRACE_NO_TID;
	CHECK_EQ(ht_writer_open(&w, fd, &o), 0);
	CHECK(!memcmp(ht_writer_uuid(w), uuid, 16));
	CHECK_EQ(ht_writer_meta(w, kv, 3), 0);
	CHECK_EQ(ht_writer_thread(w, 4, 1, 2, "worker-1"), 0);
	CHECK_EQ(ht_writer_thread(w, 8, 1, 2, "renamed"), 0);
	CHECK_EQ(ht_writer_rss(w, rs, 3), 0);
	CHECK_EQ(ht_writer_loss(w, &l), 0);
	CHECK_EQ(ht_writer_meta(w, kv2, 1), 0);
	/* many samples: a body large enough to be stored with zstd */
	struct ht_rss_sample *many = malloc(5000 * sizeof(*many));
	for (int i = 0; i < 5000; i++) {
		many[i].ts = 1000 + (uint64_t)i * 10;
		many[i].pid = 1;
		many[i].rss_bytes = (uint64_t)(i % 77) << 12;
	}
	CHECK_EQ(ht_writer_rss(w, many, 5000), 0);
	struct ht_event e = { .ts = 1000, .pid = 1, .tid = 2,
			      .op = HT_OP_MALLOC, .size = 1, .addr = 16 };
	CHECK_EQ(ht_writer_write(w, &e, 1), 0);
	CHECK_EQ(ht_writer_sync(w), 0);
	uint64_t before = ht_writer_bytes(w);
	CHECK(before > 64);
	CHECK_EQ(ht_writer_close(w), 0);
	slurp(fd, &m);
	CHECK(m.len > before);

	CHECK_EQ(ht_reader_open_mem(&r, m.buf, m.len, HT_READ_STRICT), 0);
	CHECK(!memcmp(ht_reader_uuid(r), uuid, 16));
	CHECK_EQ(ht_reader_flags(r), HT_TRACE_NO_TID);
	CHECK_STR(ht_reader_meta(r, "process.pid"), "4242");
	CHECK_STR(ht_reader_meta(r, "process.cmdline"), "a.out -x 'y z'");
	CHECK_STR(ht_reader_meta(r, "host.name"), "other");
	CHECK(ht_reader_meta(r, "nope") == NULL);
	size_t nkv = ht_reader_meta_all(r, &all);
	CHECK_EQ(nkv, 2 + 3 + 1); /* clock.unit_num/den, then ours */
	CHECK_STR(all[nkv - 2].value, "box");
	CHECK_EQ(ht_reader_threads(r, &th), 2);
	CHECK_EQ(th[0].ts, 6);
	CHECK_EQ(th[0].pid, 1);
	CHECK_EQ(th[0].tid, 2);
	CHECK_STR(th[0].name, "worker-1");
	CHECK_STR(th[1].name, "renamed");
	CHECK_EQ(ht_reader_rss(r, &rso), 5003);
	int bad_rss = 0;
	for (int i = 0; i < 5000; i++)
		bad_rss += rso[3 + i].ts != (1000 + (uint64_t)i * 10) * 3 / 2 ||
			   rso[3 + i].rss_bytes != (uint64_t)(i % 77) << 12;
	CHECK_EQ(bad_rss, 0);
	free(many);
	/* raw rows take 7 bytes a sample: less means zstd was used */
	CHECK(m.len < 30000);
	CHECK_EQ(rso[1].ts, 30);
	CHECK_EQ(rso[1].rss_bytes, 8192);
	CHECK_EQ(rso[2].pid, 2);
	CHECK_EQ(rso[2].rss_bytes, UINT64_MAX);
	CHECK_EQ(ht_reader_losses(r, &lo), 1);
	CHECK_EQ(lo[0].ts_from, 7);
	CHECK_EQ(lo[0].ts_to, 13);
	CHECK_EQ(lo[0].events, 77);
	CHECK_EQ(lo[0].tid, 2);
	CHECK_EQ(lo[0].reason, HT_LOSS_BUFFERS);
	CHECK_EQ(ht_reader_start_ns(r), 1500);
	struct ht_event o2;
	CHECK_EQ(ht_reader_next(r, &o2), 1);
	CHECK_EQ(o2.ts, 1500);
	CHECK_EQ(ht_reader_next(r, &o2), 0);
	ht_reader_close(r);
	free(m.buf);
}

/* Writes a 4-thread trace with small blocks, for seek and decode. */
static void small_trace(struct mem *m, struct ht_event **evp, size_t *np)
{
	struct ht_writer_opts o;
	struct ht_writer *w;
	struct gen g = { 11 };
	size_t per = 5000, n = 4 * per;
	struct ht_event *ev = malloc(n * sizeof(*ev));
	int fd = memfd();

	for (int t = 0; t < 4; t++) {
		uint64_t ts = 0;

		for (size_t i = 0; i < per; i++)
			gen_event(&g, &ev[t * per + i], &ts, 9, (uint32_t)t,
				  0);
	}
	memset(&o, 0, sizeof(o));
	o.block_events = 700;
	o.index_every = 5;
	ht_writer_open(&w, fd, &o);
	for (int t = 0; t < 4; t++)
		ht_writer_write(w, &ev[t * per], per);
	CHECK_EQ(ht_writer_close(w), 0);
	slurp(fd, m);
	*evp = ev;
	*np = n;
}

static void test_seek(void)
{
	struct mem m;
	struct ht_event *ev, e;
	size_t n;
	struct ht_reader *r;

	small_trace(&m, &ev, &n);
	CHECK_EQ(ht_reader_open_mem(&r, m.buf, m.len, HT_READ_STOP), 0);
	for (int k = 0; k < 6; k++) {
		uint64_t target = (uint64_t)k * 500000 + 1234;
		size_t want = 0, got = 0;
		int rc;

		for (size_t i = 0; i < n; i++)
			want += ev[i].ts >= target;
		CHECK_EQ(ht_reader_seek(r, target), 0);
		while ((rc = ht_reader_next(r, &e)) == 1) {
			if (e.ts < target)
				break;
			got++;
		}
		CHECK_EQ(rc, 0);
		CHECK_EQ(got, want);
	}
	/* back to the start */
	size_t all = 0;
	CHECK_EQ(ht_reader_seek(r, 0), 0);
	while (ht_reader_next(r, &e) == 1)
		all++;
	CHECK_EQ(all, n);
	ht_reader_close(r);
	free(m.buf);
	free(ev);
}

struct par {
	struct ht_reader *r;
	uint64_t sum;
	int err;
};

static void *decode_all(void *arg)
{
	struct par *p = arg;
	const struct ht_block_info *bi;
	size_t nb = ht_reader_blocks(p->r, &bi);
	struct ht_decoder *d;
	struct ht_event *out = malloc(700 * sizeof(*out));

	ht_decoder_new(&d);
	for (int rep = 0; rep < 5; rep++) {
		for (size_t i = 0; i < nb; i++) {
			int n = ht_reader_decode_block(p->r, d, i, out, 700);

			if (n != (int)bi[i].count)
				p->err++;
			for (int k = 0; k < n; k++)
				p->sum += out[k].addr * 31 + out[k].ts +
					  out[k].size + out[k].op;
		}
	}
	ht_decoder_free(d);
	free(out);
	return NULL;
}

static void test_parallel_decode(void)
{
	struct mem m;
	struct ht_event *ev;
	size_t n;
	struct par a, b;
	pthread_t ta, tb;
	uint64_t want = 0;

	small_trace(&m, &ev, &n);
	for (size_t i = 0; i < n; i++)
		want += ev[i].addr * 31 + ev[i].ts + ev[i].size + ev[i].op;
	want *= 5;
	memset(&a, 0, sizeof(a));
	CHECK_EQ(ht_reader_open_mem(&a.r, m.buf, m.len, HT_READ_STOP), 0);
	b = a;
	pthread_create(&ta, NULL, decode_all, &a);
	pthread_create(&tb, NULL, decode_all, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	CHECK_EQ(a.err, 0);
	CHECK_EQ(b.err, 0);
	CHECK_EQ(a.sum, want);
	CHECK_EQ(b.sum, want);
	/* too small an output buffer is refused, not overrun */
	struct ht_decoder *d;
	struct ht_event one;
	ht_decoder_new(&d);
	CHECK_EQ(ht_reader_decode_block(a.r, d, 0, &one, 1), HT_ERANGE);
	CHECK_EQ(ht_reader_decode_block(a.r, d, 1u << 30, &one, 1),
		 HT_ERANGE);
	ht_decoder_free(d);
	ht_reader_close(a.r);
	free(m.buf);
	free(ev);
}

/*
 * ht_reader_decode_columns() on what columns can be: a clock of 5 ticks
 * to 2 ns with durations (both converted), CONST columns (every
 * posix_memalign of a thread aligned alike), columns absent (a thread
 * that only frees), a block of one event (CONST ts), every op with edge
 * values; and its argument checks.
 */
static void test_columns(void)
{
	enum { PER = 700 };
	struct ht_writer_opts o;
	struct ht_writer *w;
	struct ht_reader *r;
	struct ht_decoder *d;
	struct ht_columns c;
	const struct ht_block_info *bi;
	struct ht_event *ev = calloc(PER + 1, sizeof(*ev));
	struct gen g = { 77 };
	struct mem m;
	int fd = memfd(), frees = 0;

	memset(&o, 0, sizeof(o));
	o.clock_num = 5;
	o.clock_den = 2;
	o.block_events = 100;
	CHECK_EQ(ht_writer_open(&w, fd, &o), 0);
	for (uint32_t t = 1; t <= 4; t++) {
		uint64_t ts = 1000;
		size_t n = t == 4 ? 101 : PER;

		for (size_t i = 0; i < n; i++) {
			struct ht_event *e = &ev[i];

			gen_event(&g, e, &ts, 9, t, t == 1);
			if (t == 1 && i % 3)
				e->dur = gen_below(&g, 1000);
			if (t == 2) {
				e->op = HT_OP_POSIX_MEMALIGN;
				e->size = 32;
				e->align = 64;
				e->flags = e->result = 0;
				e->old_addr = e->old_size = e->nmemb = 0;
				e->heap = e->aux = 0;
			}
			if (t == 3) {
				memset(e, 0, sizeof(*e));
				e->ts = ts;
				e->pid = 9;
				e->tid = t;
				e->op = HT_OP_FREE;
				e->addr = 0x1000 + 16 * i;
			}
		}
		CHECK_EQ(ht_writer_write(w, ev, n), 0);
	}
	CHECK_EQ(ht_writer_close(w), 0);
	slurp(fd, &m);
	CHECK_EQ(ht_reader_open_mem(&r, m.buf, m.len, HT_READ_STRICT), 0);
	CHECK_EQ(columns_match(r), 0);

	size_t nb = ht_reader_blocks(r, &bi);
	ht_decoder_new(&d);
	for (size_t i = 0; i < nb; i++) {
		CHECK_EQ(ht_reader_decode_columns(r, d, i, &c),
			 (int)bi[i].count);
		if (bi[i].tid == 3) { /* left out: no array */
			CHECK(c.size == NULL && c.old_addr == NULL &&
			      c.flags == NULL && c.dur == NULL);
			frees++;
		}
		if (bi[i].tid == 2)
			CHECK(c.align && c.align[0] == 64 &&
			      c.align[c.count - 1] == 64);
		if (bi[i].tid == 1)
			CHECK(c.dur != NULL);
	}
	CHECK_EQ(frees, 7);
	/* an empty block (R-EV-1): its thread, no arrays */
	uint8_t empty[HT__EV_PREFIX] = { 0 };
	const char *what;

	ht__wr32(empty + 16, 9);
	ht__wr32(empty + 20, 3);
	memset(&c, 0xff, sizeof(c));
	CHECK_EQ(ht__dec_columns(d, empty, sizeof(empty), 0, 5, 2, &c,
				 &what), 0);
	CHECK(c.count == 0 && c.pid == 9 && c.tid == 3 && !c.op && !c.ts &&
	      !c.addr && !c.result);
	CHECK_EQ(ht_reader_decode_columns(r, d, nb, &c), HT_ERANGE);
	CHECK_EQ(ht_reader_decode_columns(r, d, 0, NULL), HT_EINVAL);
	CHECK_EQ(ht_reader_decode_columns(r, NULL, 0, &c), HT_EINVAL);
	ht_decoder_free(d);
	ht_reader_close(r);
	free(m.buf);
	free(ev);
}

/*
 * One thread's timestamps that go back, stand still or jump by 2^63 and
 * more (a library user's or an importer's, never the recorder's): the
 * writer must fall back from UDELTA to zigzag deltas, block by block,
 * and every event must come back as written (block access keeps the
 * stream's order).  Odd blocks stay monotonic, so one trace mixes both.
 */
static void test_unordered_ts(void)
{
	for (int comp = 0; comp < 2; comp++) {
		struct ht_writer_opts o;
		struct ht_writer *w;
		struct ht_reader *r;
		struct ht_decoder *d;
		const struct ht_block_info *bi;
		struct gen g = { 11 };
		enum { N = 6000, B = 1000 };
		struct ht_event *ev = malloc(N * sizeof(*ev));
		struct ht_event *out = malloc(B * sizeof(*out));
		uint64_t ts = 1000;
		struct mem m;
		int fd = memfd(), bad = 0;
		size_t nb, at = 0;

		for (size_t i = 0; i < N; i++) {
			gen_event(&g, &ev[i], &ts, 4242, 100, 0);
			if ((i / B) % 2 == 0) {
				unsigned k = (unsigned)gen_below(&g, 8);

				ev[i].ts = k == 0 ? ev[i].ts - 5000 :
					   k == 1 ? gen_edge(&g, 1) :
					   k == 2 ? UINT64_MAX - gen_below(&g, 3) :
					   ev[i].ts;
			}
		}
		memset(&o, 0, sizeof(o));
		o.block_events = B;
		o.compression = comp ? 0 : HT_COMPRESS_NONE;
		CHECK_EQ(ht_writer_open(&w, fd, &o), 0);
		CHECK_EQ(ht_writer_write(w, ev, N), 0);
		CHECK_EQ(ht_writer_close(w), 0);
		slurp(fd, &m);
		CHECK_EQ(ht_reader_open_mem(&r, m.buf, m.len, HT_READ_STRICT),
			 0);
		CHECK_EQ(ht_decoder_new(&d), 0);
		nb = ht_reader_blocks(r, &bi);
		CHECK_EQ(nb, N / B);
		for (size_t b = 0; b < nb; b++) {
			int n = ht_reader_decode_block(r, d, b, out, B);

			CHECK_EQ(n, B);
			for (int k = 0; k < n && at < N; k++, at++) {
				/* the reader's ts is ns since its origin */
				struct ht_event x = out[k];

				x.ts += ht_reader_start_ns(r);
				if (!ev_equal(&x, &ev[at]) && bad++ < 3) {
					show("got", at, &x);
					show("want", at, &ev[at]);
				}
			}
		}
		CHECK_EQ(at, N);
		CHECK_EQ(bad, 0);
		ht_decoder_free(d);
		ht_reader_close(r);
		free(m.buf);
		free(ev);
		free(out);
	}
}

/* The allocator hook: counts calls, backed by malloc. */
struct counting {
	size_t allocs, frees;
};

static void *c_alloc(void *ctx, size_t n)
{
	((struct counting *)ctx)->allocs++;
	return malloc(n);
}

static void c_free(void *ctx, void *p)
{
	if (p)
		((struct counting *)ctx)->frees++;
	free(p);
}

/* A file of nthreads x per events, written by ht_writer_write() in one
 * batch a thread (chunk 0) or by ht_writer_append() in chunks of 1 to
 * chunk events; the same uuid makes equal blocks equal files. */
static void append_file(const struct ht_event *ev, int nthreads, size_t per,
			size_t chunk, uint64_t seed, struct mem *m)
{
	static const uint8_t uuid[16] = { 7, 7, 7 };
	struct ht_writer_opts o;
	struct ht_writer *w;
	struct gen g = { seed };
	int fd = memfd();

	memset(&o, 0, sizeof(o));
	o.block_events = 1024;
	o.uuid = uuid;
	CHECK_EQ(ht_writer_open(&w, fd, &o), 0);
	for (int t = 0; t < nthreads; t++) {
		const struct ht_event *e = ev + (size_t)t * per;

		if (!chunk) {
			CHECK_EQ(ht_writer_write(w, e, per), 0);
			continue;
		}
		for (size_t i = 0; i < per;) {
			size_t k = 1 + gen_below(&g, chunk);

			k = per - i < k ? per - i : k;
			CHECK_EQ(ht_writer_append(w, e + i, k), 0);
			i += k;
			CHECK_EQ(ht_writer_open_events(w), i % 1024);
		}
	}
	CHECK_EQ(ht_writer_close(w), 0);
	slurp(fd, m);
}

/* Reads m back: its events must be want[0..n) in stream order (one
 * thread, or threads in tid order when their spans do not overlap). */
static void check_events(const struct mem *m, const struct ht_event *want,
			 size_t n)
{
	struct ht_reader *r;
	struct ht_event e;
	size_t got = 0, bad = 0;
	int rc;

	CHECK_EQ(ht_reader_open_mem(&r, m->buf, m->len, HT_READ_STRICT), 0);
	while ((rc = ht_reader_next(r, &e)) == 1) {
		if (got < n && !ev_equal(&e, &want[got]) && bad++ < 3) {
			show("got", got, &e);
			show("want", got, &want[got]);
		}
		got++;
	}
	CHECK_EQ(rc, 0);
	CHECK_EQ(got, n);
	CHECK_EQ(bad, 0);
	CHECK_EQ(columns_match(r), 0);
	ht_reader_close(r);
}

/* The blocks of the zstd frame at p (Stored_Length n); 0 if it is not
 * one well-formed frame. */
static unsigned zstd_blocks(const uint8_t *p, size_t n)
{
	ZSTD_frameHeader fh;
	size_t at = ZSTD_frameHeaderSize(p, n);
	unsigned k = 0;

	if (ZSTD_isError(at) || ZSTD_getFrameHeader(&fh, p, n))
		return 0;
	while (at + 3 <= n) {
		uint32_t h = p[at] | (uint32_t)p[at + 1] << 8 |
			     (uint32_t)p[at + 2] << 16;
		unsigned type = (h >> 1) & 3;

		at += 3 + (type == 1 ? 1 : h >> 3); /* RLE: one byte */
		k++;
		if (h & 1)
			return at + (fh.checksumFlag ? 4 : 0) == n ? k : 0;
	}
	return 0;
}

/*
 * A column made of parts that differ goes through zstd as one frame with
 * a block per part, each with its own Huffman table: MRU_BSS's codes
 * and its literals' byte planes, and each byte plane of a byte-stream
 * split.  Half the
 * addresses hit (codes small), half miss (literals random); ts deltas
 * below 2^16 (two planes).
 */
/* n malloc/free events of one thread, half the frees LIFO, half the
 * allocations at random addresses: MRU codes and literals both. */
static void mixed_reuse(struct ht_event *ev, size_t n, uint64_t seed)
{
	struct gen g = { seed };
	uint64_t ts = 1, live[64];
	size_t nlive = 0;

	for (size_t i = 0; i < n; i++) {
		struct ht_event *e = &ev[i];

		ts += 1 + gen_below(&g, 256) + 256 * gen_below(&g, 4);
		e->ts = ts;
		e->pid = 1;
		e->tid = 2;
		if (nlive && (nlive == 64 || gen_below(&g, 2))) {
			e->op = HT_OP_FREE;
			e->addr = live[--nlive];
		} else {
			e->op = HT_OP_MALLOC;
			e->size = 16 + gen_below(&g, 8) * 16;
			e->addr = gen_below(&g, 2) && nlive < 64 && i ?
					  0x7f0000000000ull + 16 * gen_below(&g,
									     1u << 30) :
					  0x500000 + 16 * (i & 1023);
			live[nlive++] = e->addr;
		}
	}
}

static void test_zstd_parts(void)
{
	enum { N = 20000 }; /* each column within one 128 KiB zstd block */
	struct ht_event *ev = calloc(N, sizeof(*ev));
	struct ht_writer *w;
	struct ht_writer_opts o;
	struct mem m;
	int fd = memfd(), seen = 0;

	mixed_reuse(ev, N, 5);
	memset(&o, 0, sizeof(o));
	CHECK_EQ(ht_writer_open(&w, fd, &o), 0);
	CHECK_EQ(ht_writer_write(w, ev, N), 0);
	CHECK_EQ(ht_writer_close(w), 0);
	slurp(fd, &m);
	check_events(&m, ev, N);

	/* the EVENTS block is the second one, after PROCESS */
	size_t off = 64 + HT__BLK_HDR + ht__rd32(m.buf + 64 + 8);
	off = (off + 7) & ~(size_t)7;
	const uint8_t *p = m.buf + off + HT__BLK_HDR;
	CHECK_EQ(p[-HT__BLK_HDR + 4], HT__B_EVENTS);
	size_t pos = HT__EV_PREFIX + (size_t)ht__rd16(p + 26) *
		     HT__OPMAP_ENTRY;
	pos = (pos + 7) & ~(size_t)7;
	const uint8_t *dir = p + pos;
	const uint8_t *body = dir + (size_t)ht__rd16(p + 24) * HT__DIR_ENTRY;

	for (unsigned k = 0; k < ht__rd16(p + 24); k++) {
		const uint8_t *de = dir + (size_t)k * HT__DIR_ENTRY;
		uint32_t stored = ht__rd32(de + 12);

		if (de[0] == HT__C_ADDR) {
			CHECK_EQ(de[1], HT__E_MRU_BSS);
			CHECK_EQ(de[2], HT__CODEC_ZSTD);
			CHECK(zstd_blocks(body, stored) >= 2);
			seen++;
		}
		if (de[0] == HT__C_TS) {
			CHECK_EQ(de[1], HT__E_UDELTA_BSS);
			CHECK_EQ(de[3], 2);
			CHECK_EQ(de[2], HT__CODEC_ZSTD);
			CHECK(zstd_blocks(body, stored) >= 2);
			seen++;
		}
		body += stored;
	}
	CHECK_EQ(seen, 2);
	free(m.buf);
	free(ev);
}

/*
 * MRU_BSS checked at the decoder (spec/FORMAT.md R-EV-7, R-EV-11): the
 * addr column of a written block, stored again without zstd, decodes to
 * the same events; a code turned into a miss or a miss into a hit (the
 * literal count no longer matches), Width 0 or 9, or a literal part that
 * is not whole literals are each refused.
 */
static size_t mru_raw_payload(const uint8_t *p, size_t len, uint8_t *out,
			      size_t *dir_at, size_t *data_at)
{
	size_t pos = HT__EV_PREFIX + (size_t)ht__rd16(p + 26) *
		     HT__OPMAP_ENTRY, o;
	unsigned nc = ht__rd16(p + 24);
	const uint8_t *body;

	pos = (pos + 7) & ~(size_t)7;
	body = p + pos + (size_t)nc * HT__DIR_ENTRY;
	memcpy(out, p, pos + (size_t)nc * HT__DIR_ENTRY);
	o = pos + (size_t)nc * HT__DIR_ENTRY;
	for (unsigned k = 0; k < nc; k++) {
		uint8_t *de = out + pos + (size_t)k * HT__DIR_ENTRY;
		uint32_t raw = ht__rd32(de + 8), st = ht__rd32(de + 12);

		if (de[0] == HT__C_ADDR && de[2] == HT__CODEC_ZSTD) {
			CHECK_EQ(ZSTD_decompress(out + o, raw, body, st), raw);
			de[2] = HT__CODEC_NONE;
			ht__wr32(de + 12, raw);
			*dir_at = (size_t)(de - out);
			*data_at = o;
			o += raw;
		} else {
			memcpy(out + o, body, st);
			o += st;
		}
		body += st;
	}
	CHECK_EQ((size_t)(body - p), len);
	return o;
}

static void test_mru_bss(void)
{
	enum { N = 3000 };
	struct ht_event *ev = calloc(N, sizeof(*ev));
	struct ht_event *out = calloc(N, sizeof(*out));
	struct ht_writer *w;
	struct mem m;
	struct ht_decoder *d;
	const char *what;
	int fd = memfd();
	size_t de = 0, body = 0;

	mixed_reuse(ev, N, 8);
	CHECK_EQ(ht_writer_open(&w, fd, NULL), 0);
	CHECK_EQ(ht_writer_write(w, ev, N), 0);
	CHECK_EQ(ht_writer_close(w), 0);
	slurp(fd, &m);
	size_t off = 64 + HT__BLK_HDR + ht__rd32(m.buf + 64 + 8);
	off = (off + 7) & ~(size_t)7;
	CHECK_EQ(m.buf[off + 4], HT__B_EVENTS);
	CHECK_EQ(ht__rd32(m.buf + off + 12), N);

	uint8_t *p = malloc(N * 64), *q = malloc(N * 64);
	size_t len = mru_raw_payload(m.buf + off + HT__BLK_HDR,
				     ht__rd32(m.buf + off + 8), p, &de, &body);
	CHECK(de != 0);
	CHECK_EQ(p[de + 1], HT__E_MRU_BSS);
	ht_decoder_new(&d);
	CHECK_EQ(ht__dec_block(d, p, len, N, 1, 1, out, &what), N);
	size_t bad = 0;
	for (size_t i = 0; i < N; i++)
		bad += !ev_equal(&out[i], &ev[i]);
	CHECK_EQ(bad, 0);

	uint32_t m_codes = ht__rd32(p + de + 4);
	size_t hit = 0, miss = m_codes - 1; /* the first hit, last miss */
	while (hit < m_codes && p[body + hit] == HT__MRU_MISS)
		hit++;
	while (miss && p[body + miss] != HT__MRU_MISS)
		miss--;
	CHECK(hit < m_codes && miss > hit);

	memcpy(q, p, len);
	q[body + hit] = HT__MRU_MISS;     /* one literal too few */
	CHECK_EQ(ht__dec_block(d, q, len, N, 1, 1, out, &what),
		 HT_ECORRUPT);
	memcpy(q, p, len);
	q[body + miss] = 0;               /* one literal left over */
	CHECK_EQ(ht__dec_block(d, q, len, N, 1, 1, out, &what),
		 HT_ECORRUPT);
	memcpy(q, p, len);
	q[de + 3] = 0;                    /* Width 0 */
	CHECK_EQ(ht__dec_block(d, q, len, N, 1, 1, out, &what),
		 HT_ECORRUPT);
	q[de + 3] = 9;                    /* Width 9 */
	CHECK_EQ(ht__dec_block(d, q, len, N, 1, 1, out, &what),
		 HT_ECORRUPT);
	/* the last column is not addr: drop addr's last byte and say so */
	memcpy(q, p, len);
	ht__wr32(q + de + 8, ht__rd32(q + de + 8) - 1);
	ht__wr32(q + de + 12, ht__rd32(q + de + 12) - 1);
	size_t end = body + ht__rd32(p + de + 12);
	memmove(q + end - 1, q + end, len - end);
	CHECK_EQ(ht__dec_block(d, q, len - 1, N, 1, 1, out, &what),
		 HT_ECORRUPT);
	ht_decoder_free(d);
	free(p);
	free(q);
	free(m.buf);
	free(ev);
	free(out);
}

/*
 * ht_writer_append(): events handed over a few at a time make the same
 * file, byte for byte, as ht_writer_write() of whole batches, also when
 * heap, aux, flags or result first differ from 0 in the middle of a
 * block.  Another thread's events, ht_writer_write() and close write the
 * open block; a call that mixes threads and ht_writer_drop() lose the
 * open block only.
 */
static void test_append(void)
{
	enum { T = 3, PER = 5000 };
	struct ht_event *ev = malloc(T * PER * sizeof(*ev));
	struct gen g = { 99 };
	struct mem a, b;

	for (int t = 0; t < T; t++) {
		uint64_t ts = 1000 + (uint64_t)t * 100000000;

		for (size_t i = 0; i < PER; i++) {
			struct ht_event *e = &ev[(size_t)t * PER + i];

			if (t < 2) {
				gen_event(&g, e, &ts, 4242, (uint32_t)(10 + t),
					  t);
				continue;
			}
			/* mallocs and in-place reallocs, then rare
			 * fields from mid-block on */
			memset(e, 0, sizeof(*e));
			ts += 1 + gen_below(&g, 50);
			e->ts = ts;
			e->pid = 4242;
			e->tid = 12;
			e->op = HT_OP_MALLOC;
			e->addr = 0x10000 + 16 * gen_below(&g, 4096);
			e->size = gen_below(&g, 300);
			if (i % 97 == 5) {
				e->op = HT_OP_REALLOC;
				e->old_addr = e->addr;
				e->flags = HT_EV_INPLACE;
			}
			if (i == 1500 || i == 2100) {
				e->flags = HT_EV_FAILED;
				e->addr = 0;
				e->result = 12;
			}
			if (i == 3500)
				e->flags = 0x100;
		}
	}
	append_file(ev, T, PER, 0, 0, &a);
	check_events(&a, ev, T * PER);
	for (uint64_t seed = 1; seed <= 3; seed++) {
		append_file(ev, T, PER, seed == 3 ? 1 : 300 * seed, seed, &b);
		CHECK_EQ(b.len, a.len);
		CHECK(b.len == a.len && !memcmp(a.buf, b.buf, a.len));
		free(b.buf);
	}
	free(a.buf);

	/* a call of two threads; drop; write after append; close */
	struct ht_writer *w;
	struct ht_event mix[20], *t0 = ev, *t1 = ev + PER;
	int fd = memfd();

	memcpy(mix, t0, 10 * sizeof(*mix));
	memcpy(mix + 10, t1, 10 * sizeof(*mix));
	CHECK_EQ(ht_writer_open(&w, fd, NULL), 0);
	CHECK_EQ(ht_writer_append(w, t0, 5), 0);
	CHECK_EQ(ht_writer_append(w, mix + 5, 10), HT_EINVAL);
	CHECK_EQ(ht_writer_open_events(w), 0);
	CHECK_EQ(ht_writer_append(w, t0, 100), 0);
	ht_writer_drop(w);
	CHECK_EQ(ht_writer_open_events(w), 0);
	CHECK_EQ(ht_writer_append(w, t0, 100), 0);
	CHECK_EQ(ht_writer_write(w, t0 + 100, 50), 0);
	CHECK_EQ(ht_writer_append(w, t0 + 150, 7), 0);
	CHECK_EQ(ht_writer_seal(w), 0);
	CHECK_EQ(ht_writer_seal(w), 0);
	CHECK_EQ(ht_writer_append(w, t0 + 157, 43), 0);
	CHECK_EQ(ht_writer_append(w, NULL, 0), 0);
	CHECK_EQ(ht_writer_append(NULL, t0, 1), HT_EINVAL);
	CHECK_EQ(ht_writer_close(w), 0);
	slurp(fd, &a);
	check_events(&a, t0, 200);
	free(a.buf);
	free(ev);
}

/*
 * The recorder's records, appended as they are (ht__writer_append_recs()),
 * make the same file, byte for byte, as the events they stand for
 * through ht_writer_append(): every op of the C API, failed calls (errno
 * in place of the address), in-place reallocs, sizes up to 2^56 - 1,
 * aux as old_addr, align or nmemb by op, a TSC clock (with stamps a hair
 * below its origin) and a ns one.  The events are made here from the
 * record layout of internal.h, independently of record/.
 */
static void recs_to_events(const struct ht__rec *r, size_t n, uint32_t pid,
			   uint32_t tid, const struct ht__recclock *c,
			   struct ht_event *ev)
{
	for (size_t i = 0; i < n; i++) {
		unsigned op = (unsigned)(r[i].szop >> 56) & 15;
		unsigned fl = (unsigned)(r[i].szop >> 60);
		struct ht_event *e = &ev[i];

		memset(e, 0, sizeof(*e));
		e->op = (uint8_t)op;
		e->pid = pid;
		e->tid = tid;
		e->ts = !c->tsc ? r[i].ts : r[i].ts < c->tsc0 ? c->mono0 :
			c->mono0 + (uint64_t)(((unsigned __int128)(r[i].ts -
							      c->tsc0) *
					       c->mult) >> 32);
		e->flags = fl & 3;
		if (fl & HT_EV_FAILED)
			e->result = (int32_t)r[i].addr;
		else
			e->addr = r[i].addr;
		if (op != HT_OP_FREE)
			e->size = r[i].szop & ((UINT64_C(1) << 56) - 1);
		if (op == HT_OP_CALLOC)
			e->nmemb = r[i].aux;
		else if (op == HT_OP_REALLOC || op == HT_OP_REALLOCARRAY)
			e->old_addr = r[i].aux;
		else if (op == HT_OP_POSIX_MEMALIGN ||
			 op == HT_OP_ALIGNED_ALLOC || op == HT_OP_MEMALIGN ||
			 op == HT_OP_FREE_ALIGNED_SIZED)
			e->align = r[i].aux;
	}
}

static void test_append_recs(void)
{
	enum { T = 2, PER = 6000 };
	static const uint8_t uuid[16] = { 9, 9 };
	static const int ops[] = {
		HT_OP_MALLOC, HT_OP_CALLOC, HT_OP_REALLOC,
		HT_OP_REALLOCARRAY, HT_OP_FREE, HT_OP_POSIX_MEMALIGN,
		HT_OP_ALIGNED_ALLOC, HT_OP_MEMALIGN, HT_OP_VALLOC,
		HT_OP_PVALLOC, HT_OP_FREE_SIZED, HT_OP_FREE_ALIGNED_SIZED,
	};
	struct ht__recclock clk[2] = {
		{ 5000000, 777000, (uint64_t)1 << 31, 1 }, /* 2 ticks a ns */
		{ 0, 0, 0, 0 },                            /* ns */
	};
	struct ht__rec *r = malloc(T * PER * sizeof(*r));
	struct ht_event *ev = malloc(T * PER * sizeof(*ev));

	for (int c = 0; c < 2; c++) {
		struct gen g = { 123 + (uint64_t)c };
		struct mem a, b;
		int fa = memfd(), fb = memfd();
		struct ht_writer *wa, *wb;
		struct ht_writer_opts o;

		for (size_t i = 0; i < T * PER; i++) {
			int op = ops[gen_below(&g, 12)];
			unsigned fl = gen_below(&g, 40) == 0 ? HT_EV_FAILED :
				      op == HT_OP_REALLOC &&
						      gen_below(&g, 3) == 0 ?
				      HT_EV_INPLACE : 0;
			uint64_t size = gen_below(&g, 8) == 0 ?
						(UINT64_C(1) << 56) - 1 -
							gen_below(&g, 3) :
						gen_below(&g, 5000);

			/* a few stamps below the TSC origin */
			r[i].ts = 4999990 + i * 7 + gen_below(&g, 5);
			r[i].addr = fl & HT_EV_FAILED ? 12 :
				    0x7f0000000000 + 16 * gen_below(&g, 1 << 20);
			r[i].szop = HT__SZOP(size, op, fl);
			r[i].aux = gen_below(&g, 2) ?
					   0x7f0000000000 + 16 * gen_below(&g, 99) :
					   (uint64_t)1 << gen_below(&g, 20);
		}
		memset(&o, 0, sizeof(o));
		o.block_events = 1000;
		o.uuid = uuid;
		CHECK_EQ(ht_writer_open(&wa, fa, &o), 0);
		CHECK_EQ(ht_writer_open(&wb, fb, &o), 0);
		for (int t = 0; t < T; t++) {
			const struct ht__rec *rt = r + (size_t)t * PER;
			struct ht_event *et = ev + (size_t)t * PER;
			uint32_t tid = 100 + (uint32_t)t;

			recs_to_events(rt, PER, 4242, tid, &clk[c], et);
			for (size_t i = 0; i < PER;) {
				size_t k = 1 + gen_below(&g, 700);

				k = PER - i < k ? PER - i : k;
				CHECK_EQ(ht__writer_append_recs(wa, rt + i, k,
								4242, tid,
								&clk[c]), 0);
				CHECK_EQ(ht_writer_append(wb, et + i, k), 0);
				i += k;
			}
		}
		CHECK_EQ(ht_writer_close(wa), 0);
		CHECK_EQ(ht_writer_close(wb), 0);
		slurp(fa, &a);
		slurp(fb, &b);
		CHECK(a.len > 0 && a.len == b.len &&
		      !memcmp(a.buf, b.buf, a.len));
		check_events(&a, ev, T * PER);
		free(a.buf);
		free(b.buf);
	}

	/* another thread's records write the open block first, as
	 * ht_writer_append() does; no records at all is refused */
	struct ht_writer *w;
	int fd = memfd();
	struct mem m;

	CHECK_EQ(ht_writer_open(&w, fd, NULL), 0);
	CHECK_EQ(ht__writer_append_recs(w, r, 5, 1, 2, &clk[1]), 0);
	CHECK_EQ(ht__writer_append_recs(w, r + 5, 5, 1, 3, &clk[1]), 0);
	CHECK_EQ(ht_writer_open_events(w), 5); /* the first went out whole */
	CHECK_EQ(ht__writer_append_recs(w, NULL, 1, 1, 3, &clk[1]),
		 HT_EINVAL);
	CHECK_EQ(ht_writer_close(w), 0);
	slurp(fd, &m);
	recs_to_events(r, 5, 1, 2, &clk[1], ev);
	recs_to_events(r + 5, 5, 1, 3, &clk[1], ev + 5);
	check_events(&m, ev, 10);
	free(m.buf);
	free(r);
	free(ev);
}

static void test_allocator(void)
{
	struct counting c = { 0, 0 };
	struct ht_allocator a = { c_alloc, c_free, &c };
	struct ht_writer_opts o;
	struct ht_writer *w;
	struct gen g = { 12 };
	struct ht_event ev[3000];
	uint64_t ts = 0;
	size_t after_open;
	int fd = memfd();

	for (int i = 0; i < 3000; i++)
		gen_event(&g, &ev[i], &ts, 1, 1, 1);
	memset(&o, 0, sizeof(o));
	o.allocator = &a;
	o.block_events = 1024;
	o.index_every = 2;
	CHECK_EQ(ht_writer_open(&w, fd, &o), 0);
	after_open = c.allocs;
	CHECK(after_open > 0);
	for (int rep = 0; rep < 5; rep++)
		CHECK_EQ(ht_writer_write(w, ev, 3000), 0);
	for (int i = 0; i < 3000; i += 100)
		CHECK_EQ(ht_writer_append(w, ev + i, 100), 0);
	CHECK_EQ(ht_writer_seal(w), 0);
	struct ht_kv kv = { "allocator.name", "glibc" };
	struct ht_rss_sample s = { 1, 1, 2 };
	struct ht_loss l = { 1, 2, 1, 0, 3, HT_LOSS_IO };
	CHECK_EQ(ht_writer_meta(w, &kv, 1), 0);
	CHECK_EQ(ht_writer_thread(w, 1, 1, 1, "t"), 0);
	CHECK_EQ(ht_writer_rss(w, &s, 1), 0);
	CHECK_EQ(ht_writer_loss(w, &l), 0);
	CHECK_EQ(ht_writer_sync(w), 0);
	CHECK_EQ(c.allocs, after_open);   /* nothing after open */
	CHECK_EQ(ht_writer_close(w), 0);
	CHECK_EQ(c.allocs, after_open);
	CHECK_EQ(c.frees, c.allocs);      /* and everything given back */
	close(fd);
}

/* max_bytes: blocks past it are refused with HT_ENOSPC, yet the file
 * stays within the limit and ends with its INDEX and END. */
static void test_max_bytes(void)
{
	struct ht_writer_opts o;
	struct ht_writer *w;
	struct ht_reader *r;
	struct gen g = { 13 };
	struct ht_event ev[500];
	uint64_t ts = 0;
	int fd = memfd(), rc = 0, k;
	struct mem m;

	for (int i = 0; i < 500; i++)
		gen_event(&g, &ev[i], &ts, 1, 1, 0);
	memset(&o, 0, sizeof(o));
	o.block_events = 100;
	o.max_bytes = 20000;
	CHECK_EQ(ht_writer_open(&w, fd, &o), 0);
	for (k = 0; k < 100 && !(rc = ht_writer_write(w, ev, 500)); k++)
		;
	CHECK_EQ(rc, HT_ENOSPC);
	CHECK(k > 0);
	for (int i = 0; i < 450; i++) { /* full blocks are refused too */
		rc = ht_writer_put(w, &ev[i]);
		CHECK(rc == 0 || rc == HT_ENOSPC);
	}
	rc = ht_writer_close(w);        /* the last 50 may or may not fit */
	CHECK(rc == 0 || rc == HT_ENOSPC);
	slurp(fd, &m);
	CHECK(m.len <= 20000);
	CHECK_EQ(ht_reader_open_mem(&r, m.buf, m.len, HT_READ_STRICT), 0);
	struct ht_trace_info info;
	ht_reader_info(r, &info);
	CHECK(info.events >= (uint64_t)k * 500);
	CHECK(info.events < (uint64_t)k * 500 + 500);
	ht_reader_close(r);
	free(m.buf);
}

/* Argument checks, errors, names. */
static void test_api(void)
{
	struct ht_writer *w;
	struct ht_reader *r;
	struct ht_writer_opts o;
	struct ht_event a = { .pid = 1, .tid = 1, .op = 1 }, b = a;
	int fd = memfd();

	CHECK_STR(ht_strerror(HT_ECHECKSUM), "checksum mismatch");
	CHECK_STR(ht_strerror(12345), "unknown error");
	CHECK_STR(ht_op_name(HT_OP_HEAP_REALLOC), "HeapReAlloc");
	CHECK(ht_op_name(99) == NULL);
	CHECK_EQ(ht_op_from_name("free_sized"), HT_OP_FREE_SIZED);
	CHECK_EQ(ht_op_from_name("17"), 17);
	CHECK_EQ(ht_op_from_name("256"), -1);
	CHECK_EQ(ht_op_from_name("mallocx"), -1);
	CHECK(ht_op_allocates(HT_OP_CALLOC) && !ht_op_allocates(HT_OP_FREE));
	CHECK(ht_op_frees(HT_OP_HEAP_FREE) && !ht_op_frees(HT_OP_REALLOC));
	CHECK(ht_op_is_realloc(HT_OP_REALLOCARRAY));
	struct ht_event c = { .op = HT_OP_CALLOC, .nmemb = 1ull << 40,
			      .size = 1ull << 40 };
	CHECK_EQ(ht_event_bytes(&c), UINT64_MAX);
	c.nmemb = 3;
	c.size = 5;
	CHECK_EQ(ht_event_bytes(&c), 15);
	char buf[128];
	struct ht_event f = { .ts = 12345678901ull, .pid = 1234, .tid = 1235,
			      .op = HT_OP_MALLOC, .size = 64,
			      .addr = 0x5555deadbeefull };
	ht_event_format(&f, buf, sizeof(buf));
	CHECK_STR(buf, "12.345678901 1234/1235 malloc size=64 -> "
		  "0x5555deadbeef");
	CHECK_EQ(ht_event_format(&f, buf, 5), 55);
	CHECK_STR(buf, "12.3");
	/* the widest fields (unknown op, every field all ones), a negative
	 * result and zeros, against the printf forms the text had */
	struct ht_event u = { .ts = UINT64_MAX, .pid = UINT32_MAX,
			      .tid = UINT32_MAX, .op = 255, .addr = UINT64_MAX,
			      .size = UINT64_MAX, .old_addr = UINT64_MAX,
			      .old_size = UINT64_MAX, .align = UINT64_MAX,
			      .nmemb = UINT64_MAX, .heap = UINT64_MAX,
			      .aux = UINT32_MAX, .flags = UINT32_MAX,
			      .result = INT32_MIN, .dur = UINT64_MAX };
	char big[600], want[600];
	int k = snprintf(want, sizeof(want),
			 "%" PRIu64 ".%09" PRIu64 " %" PRIu32 "/%" PRIu32
			 " op255 addr=0x%" PRIx64 " size=%" PRIu64
			 " old_addr=0x%" PRIx64 " old_size=%" PRIu64
			 " align=%" PRIu64 " nmemb=%" PRIu64 " heap=0x%" PRIx64
			 " aux=%" PRIu32 " -> FAILED errno=%" PRId32
			 " inplace flags=0x%" PRIx32 " in %" PRIu64 "ns",
			 UINT64_MAX / 1000000000u, UINT64_MAX % 1000000000u,
			 UINT32_MAX, UINT32_MAX, UINT64_MAX, UINT64_MAX,
			 UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX,
			 UINT64_MAX, UINT32_MAX, INT32_MIN, UINT32_MAX,
			 UINT64_MAX);
	CHECK_EQ(ht_event_format(&u, big, sizeof(big)), k);
	CHECK_STR(big, want);
	CHECK_EQ(ht_event_format(&u, NULL, 0), k);
	struct ht_event z = { .op = HT_OP_REALLOCARRAY, .result = -7 };
	ht_event_format(&z, buf, sizeof(buf));
	CHECK_STR(buf, "0.000000000 0/0 reallocarray 0x0 nmemb=0 size=0 "
		  "-> 0x0 errno=-7");
	z.op = HT_OP_HEAP_CREATE;
	z.aux = 0x1002;
	z.result = 0;
	ht_event_format(&z, buf, sizeof(buf));
	CHECK_STR(buf, "0.000000000 0/0 HeapCreate heap=0x0 flags=0x1002");

	memset(&o, 0, sizeof(o));
	o.clock_num = 1;
	CHECK_EQ(ht_writer_open(&w, fd, &o), HT_EINVAL);
	o.clock_num = 0;
	o.block_events = HT_MAX_BLOCK_EVENTS + 1;
	CHECK_EQ(ht_writer_open(&w, fd, &o), HT_ERANGE);
	CHECK_EQ(ht_writer_open(&w, -1, NULL), HT_EINVAL);
	CHECK_EQ(ht_writer_open(&w, fd, NULL), 0);
	b.tid = 2;
	struct ht_event two[2] = { a, b };
	CHECK_EQ(ht_writer_write(w, two, 2), HT_EINVAL); /* two threads */
	CHECK_EQ(ht_writer_write(w, NULL, 0), 0);
	ht_writer_abandon(w);
	CHECK_EQ(ht_writer_close(NULL), 0);

	CHECK_EQ(ht_reader_open_mem(&r, "nope", 4, 0), HT_ENOTTRACE);
	CHECK(r != NULL);
	CHECK_EQ(ht_reader_next(r, &a), HT_ENOTTRACE); /* sticky */
	ht_reader_close(r);
	CHECK_EQ(ht_reader_open(&r, "/nonexistent/x.htape", 0), HT_EIO);
	CHECK(r == NULL);
	ht_reader_close(NULL);
	close(fd);
}

/* Contracts of the writer and reader at their edges: a loss whose range
 * is backwards ([R-META-4]), a metadata body over 2^26 ([R-META-1]), a
 * clock of 2^64-1 ticks ([R-META-3]), and a block whose timestamps are
 * all 0 read as columns (heaptape.h: ts is never NULL). */
static void test_edges_contract(void)
{
	struct ht_writer_opts o;
	struct ht_writer *w;
	struct ht_reader *r;
	struct ht_decoder *d;
	struct ht_columns cl;
	struct mem m;
	struct ht_event ev[3];
	const struct ht_loss *lo;
	int fd = memfd();

	memset(&o, 0, sizeof(o));
	o.clock_num = 1;
	o.clock_den = UINT64_MAX;
	o.flags = HT_TRACE_NO_TIME;
	o.block_events = 1u << 20;
	memset(ev, 0, sizeof(ev));
	for (int i = 0; i < 3; i++) {
		ev[i].op = HT_OP_MALLOC;
		ev[i].pid = ev[i].tid = 7;
		ev[i].addr = 0x1000 + 16 * (uint64_t)i;
		ev[i].size = 16;
	}
	CHECK_EQ(ht_writer_open(&w, fd, &o), 0);
	CHECK_EQ(ht_writer_write(w, ev, 3), 0);
	{
		struct ht_loss l = { 10, 5, 7, 7, 3, HT_LOSS_BUFFERS };
		size_t big = (1u << 26) + 1000;
		char *v = malloc(big + 1);
		struct ht_kv kv = { "x.big", v };

		CHECK_EQ(ht_writer_loss(w, &l), 0);
		if (v) {
			memset(v, 'a', big);
			v[big] = 0;
			CHECK_EQ(ht_writer_meta(w, &kv, 1), HT_ERANGE);
			free(v);
		}
	}
	CHECK_EQ(ht_writer_close(w), 0);
	slurp(fd, &m);
	CHECK_EQ(ht_reader_open_mem(&r, m.buf, m.len, HT_READ_STRICT), 0);
	if (r) {
		CHECK_EQ(ht_reader_losses(r, &lo), 1);
		CHECK_EQ(lo[0].events, 3);
		CHECK(lo[0].ts_from <= lo[0].ts_to);
		CHECK(ht_reader_meta(r, "x.big") == NULL);
		CHECK_EQ(ht_decoder_new(&d), 0);
		CHECK_EQ(ht_reader_decode_columns(r, d, 0, &cl), 3);
		CHECK(cl.op != NULL && cl.ts != NULL);
		CHECK(cl.ts && cl.ts[0] == 0 && cl.ts[2] == 0);
		ht_decoder_free(d);
	}
	ht_reader_close(r);
	free(m.buf);
}

int main(void)
{
	TEST(test_api);
	TEST(test_random);
	TEST(test_edges);
	TEST(test_put);
	TEST(test_put_bound);
	TEST(test_empty);
	TEST(test_one);
	TEST(test_many_threads);
	TEST(test_block_of_1);
	TEST(test_block_of_1m);
	TEST(test_metadata);
	TEST(test_seek);
	TEST(test_parallel_decode);
	TEST(test_columns);
	TEST(test_zstd_parts);
	TEST(test_mru_bss);
	TEST(test_unordered_ts);
	TEST(test_append);
	TEST(test_append_recs);
	TEST(test_allocator);
	TEST(test_max_bytes);
	TEST(test_edges_contract);
	return TAP_DONE();
}
