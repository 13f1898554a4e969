/*
 * refdec.c - a second, independent trace decoder written from
 * spec/FORMAT.md alone (in the manner of zstd's educational decoder): it
 * uses only libzstd, libxxhash and, for the output lines, ht_event_format.
 * No code of format/ is used for reading.  t_spec.sh runs it on every
 * vector: it must print what `heaptape cat --strict` prints for the good
 * ones and reject every bad one, which checks that the spec is enough to
 * write a reader.
 *
 * It reads strictly (section 10.2, strict mode) by scanning (10.1 step 3).
 * usage: refdec TRACE    exit 0 and the events, or 1 and "rule: what"
 */
#include <inttypes.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zstd.h>

#include "heaptape.h"

static const uint8_t *f;
static size_t flen;

/* Every buffer stays reachable from here until exit, also when a rule
 * check exits early: a leak checker has nothing to report. */
static void **held;
static size_t n_held;
static struct blkrec {
	size_t off;
	uint64_t seq;
	uint32_t cnt, stream;
	int type;
} *blk;                             /* every block read so far */

static void *hold(void *p)
{
	void **h = realloc(held, (n_held + 1) * sizeof(*held));

	if (!p || !h)
		exit(1);
	held = h;
	held[n_held++] = p;
	return p;
}

static void die(const char *rule, const char *what, size_t off)
{
	printf("refdec: %s at offset %zu: %s\n", rule, off, what);
	exit(1);
}

static uint64_t u(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* section 2: varint, at most 10 bytes, 10th byte 0 or 1 */
static int varint(const uint8_t **p, const uint8_t *e, uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < 10; i++) {
		if (*p >= e)
			return -1;
		uint8_t b = *(*p)++;

		if (i == 9 && b > 1)
			return -1;
		*v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

static int64_t unzz(uint64_t x)
{
	return (int64_t)(x >> 1) ^ -(int64_t)(x & 1);
}

struct ev_list {
	struct ht_event *e;
	size_t n, cap;
};

static struct ev_list all;          /* every event, file order */
static uint64_t unit_num = 1, unit_den = 1;

static void push(const struct ht_event *e)
{
	if (all.n == all.cap) {
		all.cap = all.cap ? all.cap * 2 : 1024;
		all.e = realloc(all.e, all.cap * sizeof(*all.e));
		if (!all.e)
			exit(1);
	}
	all.e[all.n++] = *e;
}

static const int colw[14] = { 0, 1, 8, 8, 8, 8, 8, 8, 8, 8, 4, 4, 4, 8 };

static void set(struct ht_event *e, int c, uint64_t v)
{
	switch (c) {
	case 1: e->op = (uint8_t)v; break;
	case 2: e->ts = v; break;
	case 3: e->addr = v; break;
	case 4: e->size = v; break;
	case 5: e->old_addr = v; break;
	case 6: e->old_size = v; break;
	case 7: e->align = v; break;
	case 8: e->nmemb = v; break;
	case 9: e->heap = v; break;
	case 10: e->aux = (uint32_t)v; break;
	case 11: e->flags = (uint32_t)v; break;
	case 12: e->result = (int32_t)(uint32_t)v; break;
	case 13: e->dur = v; break;
	}
}

/* section 6: one EVENTS payload p[0..len) of count events */
static void events_block(const uint8_t *p, size_t len, uint32_t count,
		   uint32_t stream, size_t off)
{
	uint16_t mask[256];
	uint8_t opv[256]; /* the op map's ops, in order (OPMAP_BITS) */
	int inmap[256] = { 0 };

	if (count > 1048576)
		die("R-EV-13", "Count over 2^20", off);
	if (len < 32)
		die("R-EV-1", "payload shorter than the prefix", off);
	uint64_t ts_min = u(p, 8), ts_max = u(p + 8, 8);
	uint32_t pid = (uint32_t)u(p + 16, 4), tid = (uint32_t)u(p + 20, 4);
	unsigned ncol = (unsigned)u(p + 24, 2), nop = (unsigned)u(p + 26, 2);

	if (u(p + 28, 4) || ts_min > ts_max || tid != stream ||
	    (count == 0) != (nop == 0) ||
	    (count == 0 && (ncol || ts_min || ts_max)))
		die("R-EV-1", "prefix", off);
	size_t pos = 32;
	for (unsigned k = 0; k < nop; k++, pos += 4) {
		if (pos + 4 > len)
			die("R-EV-3", "op map past the payload", off);
		uint8_t op = p[pos];
		uint16_t m = (uint16_t)u(p + pos + 2, 2);

		if (inmap[op] || p[pos + 1] || (m & 3) != 3)
			die("R-EV-3", "op map entry", off);
		inmap[op] = 1;
		mask[op] = m;
		opv[k] = op;
	}
	for (; pos % 8; pos++)
		if (pos >= len || p[pos])
			die("R-EV-3", "op map padding", off);
	if (pos + 24 * (size_t)ncol > len)
		die("R-EV-5", "directory past the payload", off);
	const uint8_t *dir = p + pos, *data = dir + 24 * (size_t)ncol;
	size_t total = 0;
	for (unsigned k = 0; k < ncol; k++)
		total += u(dir + 24 * k + 12, 4);
	if (total != (size_t)(p + len - data))
		die("R-EV-5", "stored lengths do not fill the payload", off);

	struct ht_event *ev = hold(calloc(count ? count : 1, sizeof(*ev)));
	int seen[256] = { 0 };
	/* the op column first: presence of the others depends on it;
	 * then addr, which REL_ADDR (old_addr) depends on, wherever its
	 * entry is in the directory; then the rest */
	for (int pass = 0; pass < 3; pass++) {
		const uint8_t *d = data;

		for (unsigned k = 0; k < ncol; k++) {
			const uint8_t *de = dir + 24 * k;
			int c = de[0], enc = de[1], codec = de[2], w = de[3];
			uint32_t n = (uint32_t)u(de + 4, 4);
			uint32_t raw = (uint32_t)u(de + 8, 4);
			uint32_t st = (uint32_t)u(de + 12, 4);
			uint64_t param = u(de + 16, 8);
			const uint8_t *s = d;

			d += st;
			if (c == 0)
				die("R-EV-5", "column id 0", off);
			if (c > 13 || pass != (c == 1 ? 0 : c == 3 ? 1 : 2))
				continue;       /* R-EXT-2: unknown column */
			if (seen[c]++)
				die("R-EV-5", "column twice", off);
			uint32_t want = 0;
			for (uint32_t i = 0; i < count; i++)
				want += c == 1 || ((mask[ev[i].op] >> (c - 1))
						   & 1);
			if (n != want)
				die("R-EV-6", "Values", off);
			if (codec > 1)
				die("R-EV-8", "unknown codec", off);
			if (enc > 11)
				die("R-EV-9", "unknown encoding", off);
			int fixed = enc == 0 || enc == 4 || enc == 5 ||
				    enc == 9;
			if (fixed && (w < 1 || w > colw[c] ||
				      raw != (uint64_t)n * w))
				die("R-EV-7", "width or length", off);
			if (enc == 1 && (w || raw || st || codec))
				die("R-EV-7", "CONST fields", off);
			int vi = enc == 2 || enc == 3 || enc == 6 || enc == 8;
			if (vi && (w || raw < n || raw > 10ull * n))
				die("R-EV-7", "varint length", off);
			if (enc == 7 && (w || raw < n || raw > 11ull * n))
				die("R-EV-7", "MRU_ADDR length", off);
			if (enc == 11 && (w < 1 || w > 8 || raw < n ||
					  (raw - n) % w || (raw - n) / w > n))
				die("R-EV-7", "MRU_BSS width or length", off);
			if (enc == 10 && ((w != 1 && w != 2 && w != 4) ||
					  raw != ((uint64_t)n * w + 7) / 8))
				die("R-EV-7", "OPMAP_BITS width or length", off);
			if (param && enc != 1 && enc != 3 && enc != 4 &&
			    enc != 7 && enc != 8 && enc != 9 && enc != 11)
				die("R-EV-7", "Param", off);
			if (enc == 6 && c != 5)
				die("R-EV-12", "REL_ADDR on this column", off);
			if ((enc == 7 || enc == 11) && c != 3)
				die("R-EV-12", "MRU_ADDR on this column", off);
			if (enc == 10 && c != 1)
				die("R-EV-12", "OPMAP_BITS on this column", off);
			uint8_t *buf = NULL;
			if (codec == 0 && st != raw)
				die("R-EV-8", "stored != raw", off);
			if (codec == 1) {
				buf = hold(malloc(raw + 1));
				size_t r = ZSTD_decompress(buf, raw, s, st);
				if (ZSTD_isError(r) || r != raw)
					die("R-EV-8", "zstd frame", off);
				s = buf;
			}
			const uint8_t *se = s + raw;
			uint64_t prev = param;
			uint32_t j = 0;
			/* MRU_ADDR: history 0 of allocating rows, 1 of
			 * freeing rows; literals after the n code bytes */
			static uint64_t hist[2][1u << 20];
			uint64_t lp[2] = { param, param };
			uint32_t hn[2] = { 0, 0 };
			const uint8_t *lit = s + n;
			/* MRU_BSS: literal k's byte t at s + n + t L + k */
			uint64_t nlit = enc == 11 ? (raw - n) / w : 0, li = 0;
			for (uint32_t i = 0; i < count; i++) {
				uint64_t v = 0;

				if (c != 1 && !((mask[ev[i].op] >> (c - 1)) & 1))
					continue;
				if (enc == 0) {
					v = u(s + (size_t)j * w, w);
				} else if (enc == 1) {
					v = param;
				} else if (enc == 10) {
					/* j-th index of w bits, low first */
					unsigned per = 8 / w, x;

					x = (s[j / per] >> ((j % per) * w)) &
					    ((1u << w) - 1);
					if (x >= nop)
						die("R-EV-4", "op index", off);
					v = opv[x];
				} else if (enc == 7 || enc == 11) {
					int op = ev[i].op;
					unsigned fr = op == 5 || op == 11 ||
						     op == 12 || op == 19;
					unsigned g = !fr, code = s[j];

					if (code < 255 && code < hn[g]) {
						v = hist[g][hn[g] - 1 - code];
					} else if (code == 255 && enc == 11) {
						if (li == nlit)
							die("R-EV-11",
							    "MRU literal", off);
						v = 0;
						for (int t = 0; t < w; t++)
							v |= (uint64_t)lit[t *
								nlit + li] <<
							     (8 * t);
						li++;
						v = lp[fr] += (uint64_t)unzz(v);
					} else if (code == 255) {
						if (varint(&lit, se, &v))
							die("R-EV-11",
							    "MRU literal", off);
						v = lp[fr] += (uint64_t)unzz(v);
					} else {
						die("R-EV-11", "MRU code", off);
					}
					hist[fr][hn[fr]++] = v;
				} else if (enc == 4 || enc == 5 || enc == 9) {
					for (int t = 0; t < w; t++)
						v |= (uint64_t)s[(size_t)t * n +
								 j] << (8 * t);
					if (enc == 4)
						v = prev += (uint64_t)unzz(v);
					if (enc == 9)
						v = prev += v;
				} else {
					if (varint(&s, se, &v))
						die("R-EV-11", "varint", off);
					if (enc == 3)
						v = prev += (uint64_t)unzz(v);
					if (enc == 8)
						v = prev += v;
					if (enc == 6) {
						if (!((mask[ev[i].op] >> 2) & 1))
							die("R-EV-12",
							    "no addr", off);
						v = ev[i].addr +
						    (uint64_t)unzz(v);
					}
				}
				if (colw[c] < 8 && enc != 6 &&
				    v >> (8 * colw[c]))
					die("R-EV-10", "value too wide", off);
				if (c == 1 && !inmap[v])
					die("R-EV-4", "op not in the map", off);
				set(&ev[i], c, v);
				j++;
			}
			if (vi && s != se)
				die("R-EV-11", "varint body length", off);
			if (enc == 7 && lit != se)
				die("R-EV-11", "MRU_ADDR body length", off);
			if (enc == 11 && li != nlit)
				die("R-EV-11", "MRU_BSS literal count", off);
			if (enc == 10 && n % (8 / w) &&
			    s[n / (8 / w)] >> ((n % (8 / w)) * w))
				die("R-EV-7", "OPMAP_BITS padding", off);
		}
	}
	if (count && !seen[1])
		die("R-EV-6", "no op column", off);
	/* a carried column left out of the directory reads as 0 */
	uint64_t lo = UINT64_MAX, hi = 0;
	for (uint32_t i = 0; i < count; i++) {
		lo = ev[i].ts < lo ? ev[i].ts : lo;
		hi = ev[i].ts > hi ? ev[i].ts : hi;
		ev[i].pid = pid;
		ev[i].tid = tid;
	}
	if (count && (lo != ts_min || hi != ts_max))
		die("R-EV-2", "Ts_Min/Ts_Max", off);
	for (uint32_t i = 0; i < count; i++)
		push(&ev[i]);
}

/* section 7.1: the metadata prefix and body (a malloc'd copy) */
static uint8_t *get_body(const uint8_t *p, size_t len, size_t off,
			 size_t *blen)
{
	if (len < 8 || p[1] || p[2] || p[3] || p[0] > 1 ||
	    u(p + 4, 4) > (1u << 26) ||
	    (p[0] == 0 && u(p + 4, 4) != len - 8))
		die("R-META-1", "metadata prefix", off);
	*blen = u(p + 4, 4);
	uint8_t *body = hold(malloc(*blen + 1));
	if (p[0] == 0) {
		memcpy(body, p + 8, *blen);
	} else {
		size_t r = ZSTD_decompress(body, *blen, p + 8, len - 8);
		if (ZSTD_isError(r) || r != *blen)
			die("R-META-1", "zstd body", off);
	}
	return body;
}

/* section 7.2: PROCESS rows, for the clock */
static void process(const uint8_t *p, size_t len, uint32_t count,
		    size_t off)
{
	size_t blen;
	uint8_t *body = get_body(p, len, off, &blen);
	const uint8_t *q = body, *e = body + blen;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t kl, vl;
		char key[64], val[32];

		if (varint(&q, e, &kl) || kl > (uint64_t)(e - q))
			die("R-META-1", "row", off);
		if (!kl || memchr(q, 0, kl))
			die("R-META-2", "key", off);
		snprintf(key, sizeof(key), "%.*s", (int)kl, (const char *)q);
		q += kl;
		if (varint(&q, e, &vl) || vl > (uint64_t)(e - q))
			die("R-META-1", "row", off);
		if (memchr(q, 0, vl))
			die("R-META-2", "value", off);
		snprintf(val, sizeof(val), "%.*s", (int)vl, (const char *)q);
		q += vl;
		if (!strcmp(key, "clock.unit_num") ||
		    !strcmp(key, "clock.unit_den")) {
			char *end;
			uint64_t v;

			errno = 0;
			v = strtoull(val, &end, 10);
			if (!vl || vl > 20 || *end || !v || val[0] < '0' ||
			    val[0] > '9' || errno == ERANGE)
				die("R-META-3", "clock value", off);
			*(key[11] == 'n' ? &unit_num : &unit_den) = v;
		}
	}
	if (q != e)
		die("R-META-1", "rows do not fill the body", off);
}

/* 7.3 to 7.5: rows of varints, checked, then dropped */
static void rows(const uint8_t *p, size_t len, uint32_t count, int type,
		 size_t off)
{
	size_t blen;
	uint8_t *body = get_body(p, len, off, &blen);
	const uint8_t *q = body, *e = body + blen;
	int nf = type == 0x86 ? 4 : type == 0x87 ? 6 : 3;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t v[6];

		for (int k = 0; k < nf; k++)
			if (varint(&q, e, &v[k]))
				die("R-META-1", "row", off);
		if (v[1] > UINT32_MAX)
			die("R-META-4", "pid", off);
		if (type == 0x86) {
			if (v[2] > UINT32_MAX || v[3] > (uint64_t)(e - q) ||
			    memchr(q, 0, v[3]))
				die("R-META-4", "thread row", off);
			q += v[3];
		}
		if (type == 0x87 && (v[2] > UINT32_MAX || v[3] > UINT32_MAX ||
				     v[5] > UINT32_MAX || v[0] > v[1]))
			die("R-META-4", "loss row", off);
	}
	if (q != e)
		die("R-META-1", "rows do not fill the body", off);
}

static int cmp(const void *a, const void *b)
{
	const struct ht_event *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return 0;
}

int main(int argc, char **argv)
{
	static const uint8_t magic[8] = { 0x89, 0x48, 0x54, 0x52, 0x0D, 0x0A,
					  0x1A, 0x0A };
	FILE *fp;
	uint64_t seed, seq = 0, last_index = 0, events = 0;
	size_t off, since = 0;
	size_t nblk = 0;
	int ended = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: refdec TRACE\n");
		return 2;
	}
	fp = fopen(argv[1], "rb");
	if (!fp)
		return 1;
	fseek(fp, 0, SEEK_END);
	flen = (size_t)ftell(fp);
	fseek(fp, 0, SEEK_SET);
	f = hold(malloc(flen + 1));
	if (fread((void *)f, 1, flen, fp) != flen)
		return 1;
	fclose(fp);

	/* section 4 */
	if (flen < 64)
		die("R-HDR-7", "shorter than the file header", 0);
	if (memcmp(f, magic, 8))
		die("R-HDR-1", "magic", 0);
	if (u(f + 56, 8) != XXH3_64bits_withSeed(f, 56, 0))
		die("R-HDR-2", "header hash", 56);
	if (u(f + 8, 2) != 1)
		die("R-HDR-3", "major version", 8);
	if (u(f + 12, 4) != 64)
		die("R-HDR-4", "header length", 12);
	/* bit 0: MRU_ADDR (1.1); bit 1: UDELTA (1.2); bit 2: MRU_BSS
	 * (1.4) */
	if (u(f + 16, 8) & ~7ull)
		die("R-HDR-5", "incompat features", 16);
	if (u(f + 52, 4))
		die("R-HDR-6", "reserved", 52);
	seed = u(f + 32, 8);

	/* section 5, by scanning */
	for (off = 64; off < flen;) {
		const uint8_t *h = f + off, *p = h + 48;

		if (ended)
			die("R-END-2", "data after END", off);
		if (flen - off < 48)
			die("R-BLK-5", "partial block header", off);
		if (u(h, 4) != 0xF9E7C3B1u)
			die("R-BLK-2", "block magic", off);
		if (u(h + 40, 8) != XXH3_64bits_withSeed(h, 40, seed ^
						 0x9E3779B97F4A7C15ull))
			die("R-BLK-3", "header hash", off);
		if (h[5] || u(h + 6, 2) || u(h + 28, 4))
			die("R-BLK-4", "reserved header fields", off);
		size_t plen = u(h + 8, 4), end = off + 48 + (plen + 7) / 8 * 8;
		uint32_t count = (uint32_t)u(h + 12, 4);
		uint32_t stream = (uint32_t)u(h + 24, 4);
		int type = h[4];
		if (end > flen)
			die("R-BLK-5", "block past the end of the file", off);
		if (u(h + 32, 8) != XXH3_64bits_withSeed(p, plen, seed))
			die("R-BLK-6", "payload hash", off);
		for (size_t i = off + 48 + plen; i < end; i++)
			if (f[i])
				die("R-BLK-7", "padding", off);
		if (u(h + 16, 8) != seq)
			die("R-BLK-8", "sequence", off);
		switch (type) {
		case 0x01:
			events_block(p, plen, count, stream, off);
			events += count;
			break;
		case 0x05:
			process(p, plen, count, off);
			break;
		case 0x86: case 0x87: case 0x8B:
			rows(p, plen, count, type, off);
			break;
		case 0x89: {
			size_t blen;
			uint8_t *ib = get_body(p, plen, off, &blen);

			if (blen != 8 + 48 * (size_t)count)
				die("R-IDX-1", "INDEX length", off);
			if (u(ib, 8) != last_index)
				die("R-IDX-2", "Prev_Index_Offset", off);
			size_t k = since;
			for (uint32_t i = 0; i < count; i++, k++) {
				const uint8_t *e = ib + 8 + 48 * (size_t)i;

				while (k < nblk && (blk[k].type == 0x89 ||
						    blk[k].type == 0x8F))
					k++;
				if (k >= nblk || u(e, 8) != blk[k].off ||
				    u(e + 8, 8) != blk[k].seq ||
				    u(e + 36, 4) != blk[k].stream ||
				    u(e + 40, 4) != blk[k].cnt ||
				    e[44] != blk[k].type || u(e + 45, 3))
					die("R-IDX-2", "entries", off);
				/* Ts_Min, Ts_Max, Pid: the EVENTS prefix */
				const uint8_t *pf = f + blk[k].off + 48;
				int isev = blk[k].type == 1;
				if (u(e + 16, 8) != (isev ? u(pf, 8) : 0) ||
				    u(e + 24, 8) != (isev ? u(pf + 8, 8) : 0) ||
				    (isev && u(e + 32, 4) != u(pf + 16, 4)))
					die("R-IDX-2", "entry fields", off);
			}
			if (k != nblk)
				die("R-IDX-2", "entries missing", off);
			break;
		}
		case 0x8F:
			if (plen != 32 || count ||
			    memcmp(p + 24, "HTREND\0\0", 8) ||
			    u(p + 16, 8) != seq)
				die("R-END-1", "END block", off);
			if (u(p, 8) != last_index || u(p + 8, 8) != events)
				die("R-END-3", "END totals", off);
			ended = 1;
			break;
		case 0x8A:
			break;
		default:
			if (!(type & 0x80))
				die("R-BLK-9", "unknown block type", off);
			break; /* R-EXT-1 */
		}
		blk = realloc(blk, (nblk + 1) * sizeof(*blk));
		blk[nblk].off = off;
		blk[nblk].seq = seq;
		blk[nblk].cnt = count;
		blk[nblk].stream = stream;
		blk[nblk].type = type;
		nblk++;
		if (type == 0x89) {
			last_index = off;
			since = nblk;
		}
		seq++;
		off = end;
	}
	if (!ended)
		die("R-RD-3", "no END block", flen);

	/* section 9 and 10.3: ns, then the merge (a stable sort by (ts,
	 * pid, tid) keeps each stream's order when its ts never goes
	 * backwards, which holds for the vectors) */
	for (size_t i = 0; i < all.n; i++) {
		unsigned __int128 x = (unsigned __int128)all.e[i].ts *
				      unit_num / unit_den;

		all.e[i].ts = x > UINT64_MAX ? UINT64_MAX : (uint64_t)x;
		x = (unsigned __int128)all.e[i].dur * unit_num / unit_den;
		all.e[i].dur = x > UINT64_MAX ? UINT64_MAX : (uint64_t)x;
	}
	/* an insertion sort: stable, and vectors are small */
	for (size_t i = 1; i < all.n; i++) {
		struct ht_event t = all.e[i];
		size_t j = i;

		while (j > 0 && cmp(&all.e[j - 1], &t) > 0) {
			all.e[j] = all.e[j - 1];
			j--;
		}
		all.e[j] = t;
	}
	char line[512];
	for (size_t i = 0; i < all.n; i++) {
		ht_event_format(&all.e[i], line, sizeof(line));
		puts(line);
	}
	return 0;
}
