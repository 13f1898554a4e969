/*
 * csv_fmt.c - formatting of CSV rows: hand-written integer and hex
 * conversion (no printf per field) and the event row of csv.h.
 *
 * The writer formats tens of millions of rows a second, so a row is built
 * with a handful of stores: digits two at a time from a 200-byte table,
 * hex a byte at a time, the op name and the empty-cell decision from
 * tables indexed by op.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"

const char *const csv_col_names[CSV_NCOLS] = {
	"time_ns", "pid", "tid", "op", "heap", "address", "size",
	"old_address", "old_size", "alignment", "nmemb", "result",
	"duration_ns",
};

#define EVENT_COLS "time_ns,pid,tid,op,heap,address,size,old_address," \
		   "old_size,alignment,nmemb,result"

const char *csv_event_header(int dur)
{
	return dur ? EVENT_COLS ",duration_ns\r\n" : EVENT_COLS "\r\n";
}

#define B(c) (1u << (c))

unsigned csv_fields(int op)
{
	switch (op) {
	case HT_OP_MALLOC:
	case HT_OP_VALLOC:
	case HT_OP_PVALLOC:
	case HT_OP_FREE_SIZED:
		return B(CSV_ADDR) | B(CSV_SIZE);
	case HT_OP_CALLOC:
		return B(CSV_ADDR) | B(CSV_SIZE) | B(CSV_NMEMB);
	case HT_OP_REALLOC:
		/* old_size only when the recorder knew it (nonzero). */
		return B(CSV_ADDR) | B(CSV_SIZE) | B(CSV_OLD_ADDR);
	case HT_OP_REALLOCARRAY:
		return B(CSV_ADDR) | B(CSV_SIZE) | B(CSV_OLD_ADDR) |
		       B(CSV_NMEMB);
	case HT_OP_FREE:
		return B(CSV_ADDR);
	case HT_OP_FREE_ALIGNED_SIZED:
	case HT_OP_POSIX_MEMALIGN:
	case HT_OP_ALIGNED_ALLOC:
	case HT_OP_MEMALIGN:
		return B(CSV_ADDR) | B(CSV_SIZE) | B(CSV_ALIGN);
	case HT_OP_HEAP_CREATE:
	case HT_OP_HEAP_DESTROY:
		return B(CSV_HEAP);
	case HT_OP_HEAP_ALLOC:
		return B(CSV_HEAP) | B(CSV_ADDR) | B(CSV_SIZE);
	case HT_OP_HEAP_REALLOC:
		return B(CSV_HEAP) | B(CSV_ADDR) | B(CSV_SIZE) |
		       B(CSV_OLD_ADDR) | B(CSV_OLD_SIZE);
	case HT_OP_HEAP_FREE:
		return B(CSV_HEAP) | B(CSV_ADDR);
	default: /* thread_exit, and ops this version does not know */
		return 0;
	}
}

static const char dig2[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233"
	"34353637383940414243444546474849505152535455565758596061626364656667"
	"68697071727374757677787980818283848586878889909192939495969798"
	"99";

static inline void put2(char *p, unsigned d)
{
	memcpy(p, dig2 + 2 * d, 2);
}

static inline void put4(char *p, unsigned v)
{
	put2(p, v / 100);
	put2(p + 2, v % 100);
}

/* Exactly 8 digits of v < 10^8, leading zeros included, without a table
 * or a chain of divisions: the halves, quarters and digits are split in
 * parallel lanes of one 64-bit word (multiply by 5243 >> 19 is / 100 and
 * 103 >> 10 is / 10 in the ranges used), then '0' is added to each byte.
 * Little-endian: the first digit lands in the lowest byte.  Checked
 * against printf("%08u") for every value. */
static inline void put8(char *p, uint32_t v)
{
	uint64_t x = (v / 10000) | ((uint64_t)(v % 10000) << 32);
	uint64_t y = ((x * 5243) >> 19) & 0x0000007f0000007full;

	x = y | ((x - y * 100) << 16);
	y = ((x * 103) >> 10) & 0x000f000f000f000full;
	x = y | ((x - y * 10) << 8);
	x += 0x3030303030303030ull;
	memcpy(p, &x, 8);
}

/* 1..4 digits of v < 10000. */
static inline char *put_lt1e4(char *p, unsigned v)
{
	if (v < 100) {
		if (v < 10) {
			*p = (char)('0' + v);
			return p + 1;
		}
		put2(p, v);
		return p + 2;
	}
	if (v < 1000) {
		*p = (char)('0' + v / 100);
		put2(p + 1, v % 100);
		return p + 3;
	}
	put4(p, v);
	return p + 4;
}

/* v < 10^8, without leading zeros. */
static inline char *put_lt1e8(char *p, uint32_t v)
{
	if (v < 10000)
		return put_lt1e4(p, v);
	p = put_lt1e4(p, v / 10000);
	put4(p, v % 10000);
	return p + 4;
}

/* 32-bit arithmetic where it fits: its divisions by constants are
 * cheaper, and the halves do not depend on each other. */
char *csv_put_u64(char *p, uint64_t v)
{
	if (v < 100000000)
		return put_lt1e8(p, (uint32_t)v);
	if (v < 10000000000000000ull) {
		p = put_lt1e8(p, (uint32_t)(v / 100000000));
		put8(p, (uint32_t)(v % 100000000));
		return p + 8;
	}
	p = put_lt1e4(p, (unsigned)(v / 10000000000000000ull));
	v %= 10000000000000000ull;
	put8(p, (uint32_t)(v / 100000000));
	put8(p + 8, (uint32_t)(v % 100000000));
	return p + 16;
}

char *csv_put_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return csv_put_u64(p, (uint64_t)0 - (uint64_t)v);
	}
	return csv_put_u64(p, (uint64_t)v);
}

/* 1 to 4 digits of v < 10^4 without a branch: the four digits with
 * leading zeros in one word (as put8() splits them), shifted so that the
 * first significant digit is in the lowest byte.  Stores 8 bytes. */
static inline char *put_lt1e4_nb(char *p, uint32_t v)
{
	uint64_t x = v, y;
	unsigned n = 1 + (v > 9) + (v > 99) + (v > 999);

	y = ((x * 5243) >> 19) & 0x7f;
	x = y | ((x - y * 100) << 16);
	y = ((x * 103) >> 10) & 0x000f000full;
	x = y | ((x - y * 10) << 8);
	x = (x + 0x30303030ull) >> 8 * (4 - n);
	memcpy(p, &x, 8);
	return p + n;
}

/* csv_put_u64() inline for cells whose values are mostly below 10^4
 * (size, alignment, nmemb): no call, and no branch on the number of
 * digits, which varies from row to row. */
static inline char *put_num(char *p, uint64_t v)
{
	if (__builtin_expect(v < 10000, 1))
		return put_lt1e4_nb(p, (uint32_t)v);
	return csv_put_u64(p, v);
}

/* Eight hex digits of x, most significant first, as 8 bytes in memory
 * order: nibbles spread to bytes, then '0'..'9' / 'a'..'f' by adding 0x30
 * and 0x27 more where the nibble is above 9. */
static inline uint64_t hex8(uint32_t x)
{
	uint64_t v = x;

	v = (v | v << 16) & 0x0000ffff0000ffffull;
	v = (v | v << 8) & 0x00ff00ff00ff00ffull;
	v = (v | v << 4) & 0x0f0f0f0f0f0f0f0full;
	v += 0x3030303030303030ull +
	     (((v + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull) *
		     0x27;
	return __builtin_bswap64(v);
}

/* Stores whole words and shifts instead of copying a variable length:
 * up to 16 bytes past the digits may be written, which CSV_ROW_MAX and
 * every caller's buffer allow for; the next cell overwrites them. */
static inline char *put_hex(char *p, uint64_t v)
{
	int n = (64 - __builtin_clzll(v | 1) + 3) >> 2;
	uint64_t lo = hex8((uint32_t)v);

	p[0] = '0';
	p[1] = 'x';
	if (n <= 8) {
		lo >>= 8 * (8 - n);
		memcpy(p + 2, &lo, 8);
	} else {
		uint64_t hi = hex8((uint32_t)(v >> 32)) >> 8 * (16 - n);
		memcpy(p + 2, &hi, 8);
		memcpy(p + 2 + n - 8, &lo, 8);
	}
	return p + 2 + n;
}

char *csv_put_hex(char *p, uint64_t v)
{
	return put_hex(p, v);
}

/* Per-op tables, built once: the op cell with its comma, and which
 * optional cells are written even when 0. */
struct opcell {
	char s[24];
	uint8_t len;
};
static struct opcell opcells[256];
static uint16_t opmask[256];
static const char *errnames[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
	for (int op = 0; op < 256; op++) {
		const char *n = ht_op_name(op);
		char *e;

		if (n && strlen(n) < sizeof(opcells[op].s) - 1) {
			e = opcells[op].s + strlen(n);
			memcpy(opcells[op].s, n, strlen(n));
		} else {
			/* An op this version does not know: its number. */
			e = csv_put_u64(opcells[op].s, (uint64_t)op);
		}
		*e++ = ',';
		opcells[op].len = (uint8_t)(e - opcells[op].s);
		opmask[op] = (uint16_t)csv_fields(op);
	}
	for (int e = 1; e < 256; e++)
		errnames[e] = strerrorname_np(e);
}

static inline void tables(void)
{
	pthread_once(&tables_once, build_tables);
}

void csv_fmt_init(void)
{
	tables();
}

int csv_errno_from_name(const char *s)
{
	tables();
	if (s[0] != 'E')
		return -1;
	for (int e = 1; e < 256; e++)
		if (errnames[e] && !strcmp(errnames[e], s))
			return e;
	/* Aliases that strerrorname_np() does not return. */
	if (!strcmp(s, "EWOULDBLOCK"))
		return EWOULDBLOCK;
	if (!strcmp(s, "EDEADLOCK"))
		return EDEADLOCK;
	if (!strcmp(s, "ENOTSUP"))
		return ENOTSUP;
	return -1;
}

char *csv_put_result(char *p, const struct ht_event *ev)
{
	int32_t r = ev->result;

	if (!r) {
		if (ev->flags & HT_EV_FAILED) {
			memcpy(p, "failed", 6);
			return p + 6;
		}
		memcpy(p, "ok", 2);
		return p + 2;
	}
	if (r > 0 && r < 256 && errnames[r]) {
		size_t n = strlen(errnames[r]);
		memcpy(p, errnames[r], n);
		return p + n;
	}
	return csv_put_i64(p, r);
}

/*
 * Neighbouring rows mostly share their thread and the high digits of
 * their time, so csv_format_events() keeps those cells of the previous
 * row: "pid,tid," whole, and the digits of time / 10^8.
 */
struct rowcache {
	uint32_t pid, tid;
	int have_pt;
	uint8_t ptlen, thlen;
	uint64_t thi;
	uint32_t ahi;        /* high half of the last address ... */
	uint64_t ahex;       /* ... and its hex8() */
	char pt[24];
	char th[16];
	int dur;             /* rows end with duration_ns */
};

/* put_hex() for addresses: neighbouring ones share their high half. */
static inline char *put_addr(char *p, uint64_t v, struct rowcache *rc)
{
	uint32_t h = (uint32_t)(v >> 32);
	uint64_t lo, hi;
	int n;

	if (!h)
		return put_hex(p, v);
	if (h != rc->ahi) {
		rc->ahi = h;
		rc->ahex = hex8(h);
	}
	n = 8 + ((32 - __builtin_clz(h) + 3) >> 2);
	lo = hex8((uint32_t)v);
	hi = rc->ahex >> 8 * (16 - n);
	p[0] = '0';
	p[1] = 'x';
	memcpy(p + 2, &hi, 8);
	memcpy(p + 2 + n - 8, &lo, 8);
	return p + 2 + n;
}

static inline __attribute__((always_inline)) char *
format_row(char *p, const struct ht_event *ev, uint64_t start,
	   struct rowcache *rc)
{
	unsigned m;
	const struct opcell *oc;
	int64_t t = (int64_t)(ev->ts - start);

	m = opmask[ev->op];
	oc = &opcells[ev->op];
	if (t >= 100000000) {
		uint64_t hi = (uint64_t)t / 100000000;
		if (hi != rc->thi) {
			rc->thi = hi;
			rc->thlen = (uint8_t)(csv_put_u64(rc->th, hi) - rc->th);
		}
		memcpy(p, rc->th, sizeof(rc->th));
		p += rc->thlen;
		put8(p, (uint32_t)((uint64_t)t % 100000000));
		p += 8;
	} else {
		p = csv_put_i64(p, t);
	}
	*p++ = ',';
	if (!rc->have_pt || ev->pid != rc->pid || ev->tid != rc->tid) {
		char *q = csv_put_u64(rc->pt, ev->pid);
		*q++ = ',';
		q = csv_put_u64(q, ev->tid);
		*q++ = ',';
		rc->ptlen = (uint8_t)(q - rc->pt);
		rc->pid = ev->pid;
		rc->tid = ev->tid;
		rc->have_pt = 1;
	}
	memcpy(p, rc->pt, sizeof(rc->pt));
	p += rc->ptlen;
	memcpy(p, oc->s, sizeof(oc->s));
	p += oc->len;
	if ((m & B(CSV_HEAP)) || ev->heap)
		p = put_hex(p, ev->heap);
	*p++ = ',';
	if ((m & B(CSV_ADDR)) || ev->addr)
		p = put_addr(p, ev->addr, rc);
	*p++ = ',';
	if ((m & B(CSV_SIZE)) || ev->size)
		p = put_num(p, ev->size);
	*p++ = ',';
	if ((m & B(CSV_OLD_ADDR)) || ev->old_addr)
		p = put_addr(p, ev->old_addr, rc);
	*p++ = ',';
	if ((m & B(CSV_OLD_SIZE)) || ev->old_size)
		p = csv_put_u64(p, ev->old_size);
	*p++ = ',';
	if ((m & B(CSV_ALIGN)) || ev->align)
		p = put_num(p, ev->align);
	*p++ = ',';
	if ((m & B(CSV_NMEMB)) || ev->nmemb)
		p = put_num(p, ev->nmemb);
	*p++ = ',';
	if (!ev->result && !(ev->flags & HT_EV_FAILED)) {
		memcpy(p, "ok", 2);
		p += 2;
	} else {
		p = csv_put_result(p, ev);
	}
	if (rc->dur) {
		*p++ = ',';
		p = put_num(p, ev->dur); /* 0 too: a measured value */
	}
	p[0] = '\r';
	p[1] = '\n';
	return p + 2;
}

char *csv_format_event(char *p, const struct ht_event *ev, uint64_t start,
		       int dur)
{
	struct rowcache rc;

	rc.have_pt = 0;
	rc.thi = 0;
	rc.ahi = 0;
	rc.dur = dur;
	return format_row(p, ev, start, &rc);
}

char *csv_format_eventp(char *p, const struct ht_event *const *ev,
			size_t n, uint64_t start, int dur)
{
	struct rowcache rc;

	rc.have_pt = 0;
	rc.thi = 0;
	rc.ahi = 0;
	rc.dur = dur;
	for (size_t i = 0; i < n; i++)
		p = format_row(p, ev[i], start, &rc);
	return p;
}

char *csv_format_events(char *p, const struct ht_event *ev, size_t n,
			uint64_t start, int dur)
{
	struct rowcache rc;

	rc.have_pt = 0;
	rc.thi = 0;
	rc.ahi = 0;
	rc.dur = dur;
	for (size_t i = 0; i < n; i++)
		p = format_row(p, &ev[i], start, &rc);
	return p;
}
