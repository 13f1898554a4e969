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
};

const char csv_event_header[] =
	"time_ns,pid,tid,op,heap,address,size,old_address,old_size,"
	"alignment,nmemb,result\r\n";

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

static const uint64_t pow10tab[20] = {
	1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
	10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
	100000000000ull, 1000000000000ull, 10000000000000ull,
	100000000000000ull, 1000000000000000ull, 10000000000000000ull,
	100000000000000000ull, 1000000000000000000ull,
	10000000000000000000ull,
};

static inline int ndigits(uint64_t v)
{
	/* floor(log10) from the bit length, corrected by one compare. */
	int t = ((64 - __builtin_clzll(v | 1)) * 1233) >> 12;

	return t + (v >= pow10tab[t]);
}

char *csv_put_u64(char *p, uint64_t v)
{
	char *e;

	if (v < 10) {
		*p = (char)('0' + v);
		return p + 1;
	}
	e = p + ndigits(v);
	p = e;
	while (v >= 100) {
		unsigned d = (unsigned)(v % 100);
		v /= 100;
		p -= 2;
		memcpy(p, dig2 + 2 * d, 2);
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, dig2 + 2 * v, 2);
	} else {
		*--p = (char)('0' + v);
	}
	return e;
}

char *csv_put_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return csv_put_u64(p, (uint64_t)0 - (uint64_t)v);
	}
	return csv_put_u64(p, (uint64_t)v);
}

static const char hex2[513] =
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
	"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
	"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

char *csv_put_hex(char *p, uint64_t v)
{
	int n = (64 - __builtin_clzll(v | 1) + 3) >> 2;
	char *e;

	p[0] = '0';
	p[1] = 'x';
	e = p + 2 + n;
	p = e;
	while (n >= 2) {
		p -= 2;
		memcpy(p, hex2 + 2 * (v & 0xff), 2);
		v >>= 8;
		n -= 2;
	}
	if (n)
		*--p = hex2[2 * (v & 0xf) + 1];
	return e;
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

	tables();
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

char *csv_format_event(char *p, const struct ht_event *ev, uint64_t start)
{
	unsigned m;
	const struct opcell *oc;

	tables();
	m = opmask[ev->op];
	oc = &opcells[ev->op];
	p = csv_put_i64(p, (int64_t)(ev->ts - start));
	*p++ = ',';
	p = csv_put_u64(p, ev->pid);
	*p++ = ',';
	p = csv_put_u64(p, ev->tid);
	*p++ = ',';
	memcpy(p, oc->s, sizeof(oc->s));
	p += oc->len;
	if ((m & B(CSV_HEAP)) || ev->heap)
		p = csv_put_hex(p, ev->heap);
	*p++ = ',';
	if ((m & B(CSV_ADDR)) || ev->addr)
		p = csv_put_hex(p, ev->addr);
	*p++ = ',';
	if ((m & B(CSV_SIZE)) || ev->size)
		p = csv_put_u64(p, ev->size);
	*p++ = ',';
	if ((m & B(CSV_OLD_ADDR)) || ev->old_addr)
		p = csv_put_hex(p, ev->old_addr);
	*p++ = ',';
	if ((m & B(CSV_OLD_SIZE)) || ev->old_size)
		p = csv_put_u64(p, ev->old_size);
	*p++ = ',';
	if ((m & B(CSV_ALIGN)) || ev->align)
		p = csv_put_u64(p, ev->align);
	*p++ = ',';
	if ((m & B(CSV_NMEMB)) || ev->nmemb)
		p = csv_put_u64(p, ev->nmemb);
	*p++ = ',';
	p = csv_put_result(p, ev);
	p[0] = '\r';
	p[1] = '\n';
	return p + 2;
}
