/*
 * etlgen.c - writes synthetic Windows .etl heap traces from the layout in
 * ../shared/docs/ETL.md (no real heap ETL is public), for t_etl.sh and
 * bench/etl.sh, and the list of heap events a converter must produce.
 *
 * The trace: a log-file header buffer (SYSTEM64 or, with --logger32,
 * SYSTEM32 header event and the 32-bit TRACE_LOGFILE_HEADER), then the
 * per-CPU buffers of NCPU processors interleaved in the file as they fill
 * (sizes alternating between BUFSIZE and an odd size, so most buffers
 * start at unaligned offsets), holding:
 * - Process DCStart rundown events naming both processes;
 * - process 1000 "app64.exe" (SYSTEM64 heap events, 8-byte pointers) and
 *   WOW64 process 2000 "app32.exe" (SYSTEM32, 4-byte pointers), two
 *   threads each, two heaps each: HeapCreate, HeapAlloc (some failed),
 *   HeapFree, in-place and moving HeapReAlloc (the moving ones also
 *   logged as Alloc(new) + Free(old), before or after the ReAlloc, as
 *   ETL.md 7.4 expects), HeapDestroy of the second heap;
 * - a StackWalk (PERFINFO64 group 0x18 type 32, or with --stack-keys
 *   the key types 37/38) event after every K-th heap event;
 * - noise: EVENT_HEADER64 events with an extended item, EVENT_HEADER32,
 *   FULL_HEADER32, INSTANCE64 and PERFINFO32 events, WPP messages;
 * - --clock 2 writes FILETIME timestamps (PerfFreq bogus, must be
 *   ignored), --clock 3 CPU cycles at CpuSpeedInMHz 2400 (ETL.md 5);
 * - with --compact the heap events use COMPACT64/COMPACT32 headers, with
 *   --pmc every kernel-style event carries one PMC counter word;
 * - one buffer flagged EVENTS_LOST and EventsLost = 3 in the header
 *   (unless --no-lost).
 *
 * usage: etlgen [--heap-events N] [--seed S] [--freq HZ] [--bufsize B]
 *               [--cpus N] [--stack-every K] [--stack-keys] [--logger32]
 *               [--compact] [--pmc] [--clock 1|2|3] [--no-lost]
 *               [--expect FILE] OUT.etl
 * --expect writes the converted events, one per line:
 *   pid tid op ts_ns heap addr size old_addr old_size aux flags
 * and a summary goes to stdout (heap_events, duplicates, stacks, ...).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_HDR 0x48

static FILE *out, *expfp;
static uint32_t bufsize = 65536;
static uint64_t seq = 1, nbuf_flushed;
static int pmc;           /* --pmc: kernel events carry a PMC counter */
static uint64_t lost_buffer_no = 3;   /* 0 = none */
static uint64_t t0 = 123456789012ULL, now;
static uint64_t freq = 10000000;   /* ticks per second of the clock */
static uint64_t perf_freq_field;   /* PerfFreq in the header */
static uint32_t clock_type = 1;    /* 1 QPC, 2 FILETIME, 3 CPU cycles */
static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct cpu {
	uint8_t *b;
	uint32_t size, pos;
	uint16_t index;
};
static struct cpu cpus[64];
static int ncpu = 2;

static void w16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void w32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void w64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void buf_header(uint8_t *b, uint32_t size, uint32_t filled,
		       uint64_t sq, uint16_t cpu, uint16_t flags,
		       uint16_t type)
{
	memset(b, 0, BUF_HDR);
	w32(b, size);
	w32(b + 4, filled);
	w32(b + 8, filled);
	w64(b + 0x10, now);
	w64(b + 0x18, sq);
	w16(b + 0x28, cpu);
	w16(b + 0x2A, 1);
	w32(b + 0x30, filled);
	w16(b + 0x34, flags);
	w16(b + 0x36, type);
}

static void flush_cpu(struct cpu *c)
{
	uint16_t flags = 0x20;

	if (!c->b || c->pos == BUF_HDR)
		return;
	nbuf_flushed++;
	if (lost_buffer_no && nbuf_flushed == lost_buffer_no)
		flags |= 0x02;
	buf_header(c->b, c->size, c->pos, seq++, c->index, flags, 0);
	memset(c->b + c->pos, 0xFF, c->size - c->pos);
	fwrite(c->b, 1, c->size, out);
	/* next buffer: alternate an even and an odd size */
	c->size = (nbuf_flushed & 1) ? bufsize + 13 : bufsize;
	c->pos = BUF_HDR;
}

/* Space for an event of n bytes in CPU c's buffer. */
static uint8_t *room(struct cpu *c, uint32_t n)
{
	uint32_t a = (n + 7) & ~7u;
	uint8_t *p;

	if (c->pos + a > c->size)
		flush_cpu(c);
	p = c->b + c->pos;
	memset(p, 0, a);
	c->pos += a;
	return p;
}

/* SYSTEM32/64 (ht 1/2) or PERFINFO64 (0x11) header + payload. */
static uint8_t *kevent(struct cpu *c, int ht, int group, int type, int ver,
		       uint32_t pid, uint32_t tid, uint64_t ts, uint32_t len)
{
	uint32_t hl = ht >= 0x10 ? 0x10 : ht >= 3 ? 0x18 : 0x20;
	uint32_t ext = pmc ? 8 : 0;   /* one PMC counter after the header */
	uint8_t *p = room(c, hl + ext + len);

	w32(p, 0xC0000000u | (uint32_t)ht << 16 | (uint32_t)ver |
	    (pmc ? 0x100u : 0));
	w16(p + 4, (uint16_t)(hl + ext + len));
	p[6] = (uint8_t)type;
	p[7] = (uint8_t)group;
	if (ht >= 0x10) {
		w64(p + 8, ts);
	} else {
		w32(p + 8, tid);
		w32(p + 12, pid);
		w64(p + 16, ts);
	}
	if (pmc)
		w64(p + hl, 0xdeadbeefcafeULL);
	return p + hl + ext;
}

static uint64_t ns(uint64_t raw)
{
	return (uint64_t)((unsigned __int128)(raw - t0) * 1000000000u / freq);
}

static void wp(uint8_t *p, int psize, uint64_t v)
{
	if (psize == 8)
		w64(p, v);
	else
		w32(p, (uint32_t)v);
}

static void expect(uint32_t pid, uint32_t tid, int op, uint64_t ts,
		   uint64_t heap, uint64_t addr, uint64_t size, uint64_t old,
		   uint64_t oldsize, uint32_t aux, uint32_t flags)
{
	if (expfp)
		fprintf(expfp, "%u %u %d %llu 0x%llx 0x%llx %llu 0x%llx %llu "
			"%u %u\n", pid, tid, op, (unsigned long long)ns(ts),
			(unsigned long long)heap, (unsigned long long)addr,
			(unsigned long long)size, (unsigned long long)old,
			(unsigned long long)oldsize, aux, flags);
}

/* ht_op values (format/heaptape.h) */
enum { OP_CREATE = 16, OP_ALLOC, OP_REALLOC, OP_FREE, OP_DESTROY };

struct proc {
	uint32_t pid, tid[2];
	int psize, ht;
	uint64_t heap[2];
	uint64_t next_addr;
	uint64_t *live;  /* addresses of live blocks, per heap */
	uint64_t *lsize;
	uint8_t *lheap;
	size_t nlive, cap;
	const char *name;
};

static uint64_t n_heap, n_dup, n_stack, n_expect, n_noise;
static int stack_every = 3, stack_keys;

static struct cpu *pick_cpu(void)
{
	return &cpus[rnd() % (uint64_t)ncpu];
}

static void stack(struct cpu *c, struct proc *pr, uint32_t tid, uint64_t ts)
{
	int nf = 2 + (int)(rnd() % 6), i;
	uint8_t *d;

	now += 1;
	if (stack_keys) {
		/* StackKeyKernel (37) / StackKeyUser (38): ts, pid, tid, key */
		d = kevent(c, 0x11, 0x18, 37 + (int)(n_stack & 1), 2, 0, 0,
			   now, 24);
		w64(d, ts);
		w32(d + 8, pr->pid);
		w32(d + 12, tid);
		w64(d + 16, 0xffffe00000000000ULL + n_stack);
		n_stack++;
		return;
	}
	d = kevent(c, 0x11, 0x18, 32, 2, 0, 0, now, 16 + 8 * nf);
	w64(d, ts);
	w32(d + 8, pr->pid);
	w32(d + 12, tid);
	for (i = 0; i < nf; i++)
		w64(d + 16 + 8 * i, 0x7ff600001000ULL + rnd() % 0x100000);
	n_stack++;
}

/* One heap event of opcode type; returns its timestamp. */
static uint64_t hevent(struct cpu *c, struct proc *pr, uint32_t tid,
		       int type, const uint64_t *f, int nf, uint32_t last32)
{
	int P = pr->psize, i;
	uint8_t *d;
	uint64_t ts;

	now += 1 + rnd() % 40;
	d = kevent(c, pr->ht, 0x10, type, type == 32 ? 3 : 2, pr->pid, tid,
		   now, (uint32_t)(nf * P + (last32 != UINT32_MAX ? 4 : 0)));
	for (i = 0; i < nf; i++)
		wp(d + i * P, P, f[i]);
	if (last32 != UINT32_MAX)
		w32(d + nf * P, last32);
	n_heap++;
	ts = now;
	if (stack_every && n_heap % (uint64_t)stack_every == 0)
		stack(c, pr, tid, ts);
	return ts;
}

static void noise(struct cpu *c)
{
	uint8_t *p;
	static const uint8_t g[16] = {1, 2, 3, 4, 5, 6, 7, 8,
				      9, 10, 11, 12, 13, 14, 15, 16};

	now += 1;
	switch (rnd() % 6) {
	case 3: /* INSTANCE64 */
		p = room(c, 0x48 + 8);
		w32(p, 0xC0150000u | (0x48 + 8));
		p[4] = 34;
		w32(p + 8, 77);
		w32(p + 12, 7);
		w64(p + 16, now);
		memcpy(p + 0x18, g, 16);
		w32(p + 0x30, 5);
		break;
	case 4: /* EVENT_HEADER32 without extended items */
		p = room(c, 0x50 + 6);
		w32(p, 0xC0120000u | (0x50 + 6));
		w32(p + 8, 77);
		w32(p + 12, 7);
		w64(p + 16, now);
		memcpy(p + 0x18, g, 16);
		w16(p + 0x28, 43);
		p[0x2D] = 2;
		break;
	case 5: /* PERFINFO32, a Config event */
		p = kevent(c, 0x10, 0x0B, 17, 2, 0, 0, now, 12);
		break;
	case 0: /* EVENT_HEADER64 with one 16-byte extended item */
		p = room(c, 0x50 + 16 + 12);
		w32(p, 0xC0130000u | (0x50 + 16 + 12));
		w16(p + 4, 1);
		w32(p + 8, 77);
		w32(p + 12, 7);
		w64(p + 16, now);
		memcpy(p + 0x18, g, 16);
		w16(p + 0x28, 42);
		p[0x2D] = 1;
		w16(p + 0x50, 16);
		w16(p + 0x52, 11);
		w16(p + 0x56, 8);
		break;
	case 1: /* FULL_HEADER32 */
		p = room(c, 0x30 + 8);
		w32(p, 0xC00A0000u | (0x30 + 8));
		p[4] = 33;
		w32(p + 8, 77);
		w32(p + 12, 7);
		w64(p + 16, now);
		memcpy(p + 0x18, g, 16);
		break;
	default: /* WPP message: sequence, guid, time, tid+pid, 4 bytes */
		p = room(c, 8 + 4 + 16 + 8 + 8 + 4);
		w32(p, 0x90000000u | (8 + 4 + 16 + 8 + 8 + 4));
		w16(p + 4, 9);
		w16(p + 6, 0x1 | 0x2 | 0x8 | 0x20);
		w32(p + 8, (uint32_t)n_noise);
		memcpy(p + 12, g, 16);
		w64(p + 28, now);
		w32(p + 36, 77);
		w32(p + 40, 7);
		break;
	}
	n_noise++;
}

static void live_add(struct proc *pr, uint64_t a, uint64_t s, int h)
{
	if (pr->nlive == pr->cap) {
		pr->cap = pr->cap ? pr->cap * 2 : 1024;
		pr->live = realloc(pr->live, pr->cap * sizeof(*pr->live));
		pr->lsize = realloc(pr->lsize, pr->cap * sizeof(*pr->lsize));
		pr->lheap = realloc(pr->lheap, pr->cap);
		if (!pr->live || !pr->lsize || !pr->lheap) {
			perror("etlgen");
			exit(1);
		}
	}
	pr->live[pr->nlive] = a;
	pr->lsize[pr->nlive] = s;
	pr->lheap[pr->nlive++] = (uint8_t)h;
}

static void process_rundown(struct cpu *c, struct proc *pr, int sid)
{
	size_t nl = strlen(pr->name) + 1;
	uint32_t len = 8 + 16 + 8 + 4 + (sid ? 16 + 8 + 20 : 4) +
		       (uint32_t)nl + 2 * (uint32_t)nl;
	uint8_t *d;
	uint32_t at;
	size_t i;

	now += 1;
	d = kevent(c, 2, 3, 3, 4, pr->pid, 0, now, len);
	w64(d, 0xffffa00000000000ULL + pr->pid);
	w32(d + 8, pr->pid);
	w32(d + 12, 4);
	w32(d + 16, 1);
	w32(d + 20, 259);
	w64(d + 24, 0x1aa000);
	w32(d + 32, 0);
	at = 36;
	if (sid) {
		w64(d + at, 0xffffc00000001000ULL);  /* TOKEN_USER */
		at += 16;
		d[at] = 1;           /* revision */
		d[at + 1] = 5;       /* sub-authorities */
		d[at + 7] = 5;
		at += 8 + 20;
	} else {
		at += 4;
	}
	memcpy(d + at, pr->name, nl);
	at += (uint32_t)nl;
	for (i = 0; i < nl; i++)
		d[at + 2 * i] = (uint8_t)pr->name[i];
}

static void header_buffer(int logger32, uint32_t events_lost)
{
	uint32_t size = 0x400, P = logger32 ? 4 : 8;
	uint32_t lh = logger32 ? 0x110 : 0x118;
	static const char *names[2] = {"HeapSession", "C:\\heap.etl"};
	uint32_t len = lh + 2 * (12 + 12);
	uint8_t b[0x400], *p = b + BUF_HDR, *d;
	uint32_t hl = 0x20, filled;
	int i, k;

	memset(b, 0xFF, sizeof(b));
	memset(p, 0, hl + len);
	w32(p, 0xC0000000u | (logger32 ? 1u : 2u) << 16 | 2);
	w16(p + 4, (uint16_t)(hl + len));
	w32(p + 8, 4242);
	w32(p + 12, 4240);
	w64(p + 16, t0);
	d = p + hl;
	w32(d, bufsize);
	d[4] = 10; d[5] = 0; d[6] = 1; d[7] = 5;
	w32(d + 8, 19045);
	w32(d + 0xC, (uint32_t)ncpu);
	w64(d + 0x10, 133000000000000000ULL + 600000000);
	w32(d + 0x18, 156250);
	w32(d + 0x20, 0x00100001);   /* sequential, heap tracing */
	w32(d + 0x24, 0);
	w32(d + 0x2C, P);
	w32(d + 0x30, events_lost);
	w32(d + 0x34, 2400);
	wp(d + 0x38, (int)P, 0x1234);
	wp(d + 0x38 + P, (int)P, 0x5678);
	w64(d + (logger32 ? 0xF0 : 0xF8), 132990000000000000ULL);
	w64(d + (logger32 ? 0xF8 : 0x100), perf_freq_field);
	w64(d + (logger32 ? 0x100 : 0x108), 133000000000000000ULL);
	w32(d + (logger32 ? 0x108 : 0x110), clock_type);
	w32(d + (logger32 ? 0x10C : 0x114), 0);
	for (k = 0, d += lh; k < 2; k++) {
		for (i = 0; names[k][i]; i++, d += 2)
			w16(d, (uint8_t)names[k][i]);
		w16(d, 0);
		d += 2;
	}
	filled = BUF_HDR + ((hl + len + 7) & ~7u);
	buf_header(b, size, filled, 0, 0, 0x21, 4);
	fwrite(b, 1, size, out);
}

int main(int argc, char **argv)
{
	uint64_t nheap = 2000, i;
	const char *path = NULL, *epath = NULL;
	int logger32 = 0, lost = 1, compact = 0, a;
	struct proc pr[2];

	for (a = 1; a < argc; a++) {
		const char *v = a + 1 < argc ? argv[a + 1] : "0";
		if (!strcmp(argv[a], "--heap-events"))
			nheap = strtoull(v, NULL, 0), a++;
		else if (!strcmp(argv[a], "--seed"))
			rng ^= strtoull(v, NULL, 0) * 0x9E3779B97F4A7C15ULL,
			a++;
		else if (!strcmp(argv[a], "--freq"))
			freq = strtoull(v, NULL, 0), a++;
		else if (!strcmp(argv[a], "--bufsize"))
			bufsize = (uint32_t)strtoul(v, NULL, 0), a++;
		else if (!strcmp(argv[a], "--cpus"))
			ncpu = atoi(v), a++;
		else if (!strcmp(argv[a], "--stack-every"))
			stack_every = atoi(v), a++;
		else if (!strcmp(argv[a], "--expect"))
			epath = v, a++;
		else if (!strcmp(argv[a], "--clock"))
			clock_type = (uint32_t)atoi(v), a++;
		else if (!strcmp(argv[a], "--compact"))
			compact = 1;
		else if (!strcmp(argv[a], "--pmc"))
			pmc = 1;
		else if (!strcmp(argv[a], "--stack-keys"))
			stack_keys = 1;
		else if (!strcmp(argv[a], "--logger32"))
			logger32 = 1;
		else if (!strcmp(argv[a], "--no-lost"))
			lost = 0;
		else if (argv[a][0] == '-') {
			fprintf(stderr, "etlgen: unknown option %s\n", argv[a]);
			return 2;
		} else
			path = argv[a];
	}
	if (!path || ncpu < 1 || ncpu > 64 || bufsize < 0x400 ||
	    bufsize > (1u << 20) || !freq) {
		fprintf(stderr, "usage: etlgen [--heap-events N] [--seed S] "
			"[--freq HZ] [--bufsize B] [--cpus N] "
			"[--stack-every K] [--stack-keys] [--logger32] "
			"[--compact] [--pmc] [--clock 1|2|3] [--no-lost] "
			"[--expect FILE] OUT.etl\n");
		return 2;
	}
	if (!lost)
		lost_buffer_no = 0;
	perf_freq_field = freq;
	if (clock_type == 2) {
		/* raw timestamps are FILETIMEs; PerfFreq must be ignored */
		freq = 10000000;
		perf_freq_field = 3579545;
		t0 = 133000000000000000ULL;
	} else if (clock_type == 3) {
		/* CPU cycles at CpuSpeedInMHz (2400) */
		freq = 2400000000ULL;
		perf_freq_field = 10000000;
	}
	if (!(out = fopen(path, "wb")) ||
	    (epath && !(expfp = fopen(epath, "w")))) {
		perror("etlgen");
		return 1;
	}
	setvbuf(out, NULL, _IOFBF, 1 << 22);
	now = t0;
	header_buffer(logger32, lost ? 3 : 0);
	for (a = 0; a < ncpu; a++) {
		cpus[a].index = (uint16_t)a;
		cpus[a].size = bufsize;
		cpus[a].pos = BUF_HDR;
		cpus[a].b = malloc(bufsize + 64);
		if (!cpus[a].b)
			return 1;
	}
	memset(pr, 0, sizeof(pr));
	pr[0] = (struct proc){.pid = 1000, .tid = {1100, 1101}, .psize = 8,
			      .ht = 2, .heap = {0x1f0000, 0x2a0000},
			      .next_addr = 0x1f0000001000ULL,
			      .name = "app64.exe"};
	if (compact)
		pr[0].ht = 4;
	pr[1] = (struct proc){.pid = 2000, .tid = {2100, 2101}, .psize = 4,
			      .ht = compact ? 3 : 1,
			      .heap = {0x5b0000, 0x6c0000},
			      .next_addr = 0x00810000, .name = "app32.exe"};
	process_rundown(&cpus[0], &pr[0], 1);
	process_rundown(&cpus[0], &pr[1], 0);
	for (a = 0; a < 2; a++)
		for (int h = 0; h < 2; h++) {
			uint64_t f[1] = {pr[a].heap[h]};
			uint64_t ts = hevent(pick_cpu(), &pr[a], pr[a].tid[0],
					     32, f, 1, 0x1002);
			expect(pr[a].pid, pr[a].tid[0], OP_CREATE, ts,
			       pr[a].heap[h], 0, 0, 0, 0, 0x1002, 0);
		}
	for (i = 0; n_heap < nheap; i++) {
		struct proc *p = &pr[rnd() % 2];
		uint32_t tid = p->tid[rnd() % 2];
		struct cpu *c = pick_cpu();
		uint64_t r = rnd() % 100, ts;
		uint32_t src = 1 + (uint32_t)(rnd() % 4);

		if (i % 97 == 0)
			noise(c);
		if (r < 45 || p->nlive < 4) {
			int h = (int)(rnd() % 2);
			uint64_t sz = 1 + rnd() % 4000, ad = p->next_addr;
			uint64_t f[3];
			int fail = rnd() % 200 == 0;
			if (fail)
				ad = 0;
			else
				p->next_addr += (sz + 31) & ~15ULL;
			f[0] = p->heap[h];
			f[1] = sz;
			f[2] = ad;
			ts = hevent(c, p, tid, 33, f, 3, src);
			expect(p->pid, tid, OP_ALLOC, ts, p->heap[h], ad, sz,
			       0, 0, src, fail ? 1 : 0);
			if (!fail)
				live_add(p, ad, sz, h);
		} else if (r < 80) {
			size_t k = rnd() % p->nlive;
			uint64_t f[2] = {p->heap[p->lheap[k]], p->live[k]};
			ts = hevent(c, p, tid, 36, f, 2, src);
			expect(p->pid, tid, OP_FREE, ts, f[0], f[1], 0, 0, 0,
			       src, 0);
			p->nlive--;
			p->live[k] = p->live[p->nlive];
			p->lsize[k] = p->lsize[p->nlive];
			p->lheap[k] = p->lheap[p->nlive];
		} else {
			/* realloc: in place (r < 90) or moving */
			size_t k = rnd() % p->nlive;
			uint64_t hp = p->heap[p->lheap[k]], old = p->live[k];
			uint64_t osz = p->lsize[k], nsz = 1 + rnd() % 8000;
			uint64_t nad = old;
			uint64_t f[5], fa[3], ff[2];
			int moving = r >= 90, after = (int)(rnd() % 2);
			if (moving) {
				nad = p->next_addr;
				p->next_addr += (nsz + 31) & ~15ULL;
			}
			f[0] = hp; f[1] = nad; f[2] = old; f[3] = nsz;
			f[4] = osz;
			fa[0] = hp; fa[1] = nsz; fa[2] = nad;
			ff[0] = hp; ff[1] = old;
			if (moving && !after) {
				hevent(c, p, tid, 33, fa, 3, src);
				hevent(c, p, tid, 36, ff, 2, src);
				n_dup += 2;
			}
			ts = hevent(c, p, tid, 34, f, 5, src);
			expect(p->pid, tid, OP_REALLOC, ts, hp, nad, nsz, old,
			       osz, src, moving ? 0 : 2);
			if (moving && after) {
				hevent(c, p, tid, 33, fa, 3, src);
				hevent(c, p, tid, 36, ff, 2, src);
				n_dup += 2;
			}
			p->live[k] = nad;
			p->lsize[k] = nsz;
		}
		n_expect++;
	}
	for (a = 0; a < 2; a++) {
		uint64_t f[1] = {pr[a].heap[1]};
		uint64_t ts = hevent(pick_cpu(), &pr[a], pr[a].tid[1], 35, f,
				     1, UINT32_MAX);
		expect(pr[a].pid, pr[a].tid[1], OP_DESTROY, ts, pr[a].heap[1],
		       0, 0, 0, 0, 0, 0);
		free(pr[a].live);
		free(pr[a].lsize);
		free(pr[a].lheap);
	}
	for (a = 0; a < ncpu; a++) {
		flush_cpu(&cpus[a]);
		free(cpus[a].b);
	}
	{
		/* BuffersWritten in the log-file header */
		uint32_t nb = (uint32_t)nbuf_flushed + 1;
		fseek(out, BUF_HDR + 0x20 + 0x24, SEEK_SET);
		fwrite(&nb, 4, 1, out);
	}
	if (fclose(out) || (expfp && fclose(expfp))) {
		perror("etlgen");
		return 1;
	}
	printf("events %llu\nheap_events %llu\nduplicates %llu\n"
	       "stacks %llu\nnoise %llu\nbuffers %llu\nevents_lost %d\n",
	       (unsigned long long)(n_heap + n_stack + n_noise + 3),
	       (unsigned long long)n_heap, (unsigned long long)n_dup,
	       (unsigned long long)n_stack, (unsigned long long)n_noise,
	       (unsigned long long)nbuf_flushed + 1, lost ? 3 : 0);
	return 0;
}
