/*
 * block.c - the block codec of spec/FORMAT.md: block headers and their
 * hashes, and the columnar EVENTS payload (per-column encoding chosen per
 * block, zstd per column with a raw fallback).
 *
 * The encoder never allocates after ht__enc_new(): every buffer is sized
 * for max_events there, and zstd runs in a static context.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <stdlib.h>
#include <zstd.h>
#include <xxhash.h>

#include "internal.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "heaptape assumes a little-endian host"
#endif

const uint8_t ht__file_magic[8] = { 0x89, 'H', 'T', 'R', '\r', '\n',
				     0x1a, '\n' };
const uint8_t ht__end_magic[8] = { 'H', 'T', 'R', 'E', 'N', 'D', 0, 0 };

uint64_t ht__hash(const void *p, size_t n, uint64_t seed)
{
	return XXH3_64bits_withSeed(p, n, seed);
}

void ht__bhdr_pack(uint8_t *p, const struct ht__bhdr *h, uint64_t seed)
{
	ht__wr32(p, HT__BLK_MAGIC);
	p[4] = h->type;
	p[5] = 0;
	ht__wr16(p + 6, 0);
	ht__wr32(p + 8, h->payload_len);
	ht__wr32(p + 12, h->count);
	ht__wr64(p + 16, h->seq);
	ht__wr32(p + 24, h->stream_id);
	ht__wr32(p + 28, 0);
	ht__wr64(p + 32, h->payload_hash);
	ht__wr64(p + 40, ht__hash(p, 40, seed ^ HT__SEED_HDR));
}

int ht__bhdr_check(const uint8_t *p, uint64_t seed, struct ht__bhdr *h)
{
	if (ht__rd32(p) != HT__BLK_MAGIC)
		return -1;
	if (ht__rd64(p + 40) != ht__hash(p, 40, seed ^ HT__SEED_HDR))
		return -2;
	h->type = p[4];
	h->hdr_ver = p[5];
	h->flags = ht__rd16(p + 6);
	h->payload_len = ht__rd32(p + 8);
	h->count = ht__rd32(p + 12);
	h->seq = ht__rd64(p + 16);
	h->stream_id = ht__rd32(p + 24);
	h->reserved = ht__rd32(p + 28);
	h->payload_hash = ht__rd64(p + 32);
	if (h->hdr_ver != 0 || h->flags != 0 || h->reserved != 0)
		return -3;
	return 0;
}

/*
 * Which conditional columns the rows of an op carry (spec/FORMAT.md
 * "Op table").  An op the writer does not know gets every column, so
 * nothing is lost; readers use the block's own op map.
 */
uint16_t ht__op_mask(int op)
{
	const uint16_t base = HT__MASK_ALWAYS | HT__COLBIT(HT__C_FLAGS) |
			      HT__COLBIT(HT__C_RESULT);
	const uint16_t a = HT__COLBIT(HT__C_ADDR), s = HT__COLBIT(HT__C_SIZE);
	const uint16_t oa = HT__COLBIT(HT__C_OLD_ADDR);
	const uint16_t os = HT__COLBIT(HT__C_OLD_SIZE);
	const uint16_t al = HT__COLBIT(HT__C_ALIGN);
	const uint16_t nm = HT__COLBIT(HT__C_NMEMB);
	const uint16_t hp = HT__COLBIT(HT__C_HEAP) | HT__COLBIT(HT__C_AUX);

	switch (op) {
	case HT_OP_MALLOC:
	case HT_OP_VALLOC:
	case HT_OP_PVALLOC:
	case HT_OP_FREE_SIZED:
		return base | a | s;
	case HT_OP_CALLOC:
		return base | a | s | nm;
	case HT_OP_REALLOC:
		return base | a | s | oa | os;
	case HT_OP_REALLOCARRAY:
		return base | a | s | oa | os | nm;
	case HT_OP_FREE:
		return base | a;
	case HT_OP_POSIX_MEMALIGN:
	case HT_OP_ALIGNED_ALLOC:
	case HT_OP_MEMALIGN:
	case HT_OP_FREE_ALIGNED_SIZED:
		return base | a | s | al;
	case HT_OP_HEAP_CREATE:
	case HT_OP_HEAP_DESTROY:
		return base | hp;
	case HT_OP_HEAP_ALLOC:
		return base | hp | a | s;
	case HT_OP_HEAP_REALLOC:
		return base | hp | a | s | oa | os;
	case HT_OP_HEAP_FREE:
		return base | hp | a;
	case HT_OP_THREAD_EXIT:
		return base;
	default:
		return HT__MASK_ALL;
	}
}

int ht__op_frees(int op)
{
	return op == HT_OP_FREE || op == HT_OP_FREE_SIZED ||
	       op == HT_OP_FREE_ALIGNED_SIZED || op == HT_OP_HEAP_FREE;
}

unsigned ht__col_width(int col)
{
	switch (col) {
	case HT__C_OP:
		return 1;
	case HT__C_AUX:
	case HT__C_FLAGS:
	case HT__C_RESULT:
		return 4;
	default:
		return 8;
	}
}


static void col_set(struct ht_event *ev, int col, uint64_t v)
{
	switch (col) {
	case HT__C_OP: ev->op = (uint8_t)v; break;
	case HT__C_TS: ev->ts = v; break;
	case HT__C_ADDR: ev->addr = v; break;
	case HT__C_SIZE: ev->size = v; break;
	case HT__C_OLD_ADDR: ev->old_addr = v; break;
	case HT__C_OLD_SIZE: ev->old_size = v; break;
	case HT__C_ALIGN: ev->align = v; break;
	case HT__C_NMEMB: ev->nmemb = v; break;
	case HT__C_HEAP: ev->heap = v; break;
	case HT__C_AUX: ev->aux = (uint32_t)v; break;
	case HT__C_FLAGS: ev->flags = (uint32_t)v; break;
	default: ev->result = (int32_t)(uint32_t)v; break;
	}
}

/*
 * Encoder.
 */
struct ht__mslot {
	uint64_t x, cnt;
};

struct ht__enc {
	struct ht__enc_mem mem;
	uint32_t max_events;
	int level;
	ZSTD_CCtx *cctx;
	void *cwork;
	uint64_t *vals;  /* a rare column's values */
	uint64_t *hot[HT__C_OLD_ADDR + 1]; /* op, ts, addr, size, old_addr */
	uint64_t *base;  /* addr of the rows of the old_addr column */
	uint8_t *raw;    /* one column encoded, before zstd */
	uint8_t *raw2;   /* a second candidate */
	uint8_t *tmp;    /* the second candidate compressed */
	uint8_t *cls;    /* per addr row: 1 if its op frees (MRU_ADDR) */
	uint8_t *mru;    /* the MRU_ADDR candidate, before zstd */
	struct ht__mslot *mtab[2]; /* MRU_ADDR: value -> its last push */
	uint64_t mru_cnt[2];       /* pushes so far, all blocks */
	uint16_t mask[256];
	uint8_t frees[256];
};

static void *mem_alloc(const struct ht__enc_mem *m, size_t n)
{
	return m->alloc ? m->alloc(m->ctx, n) : malloc(n);
}

static void mem_free(const struct ht__enc_mem *m, void *p)
{
	if (!p)
		return;
	if (m->free)
		m->free(m->ctx, p);
	else
		free(p);
}

size_t ht__enc_payload_max(uint32_t max_events)
{
	size_t per = 0;

	for (int c = 1; c <= HT__NCOLS; c++)
		per += ht__col_width(c);
	return HT__EV_PREFIX + 256 * HT__OPMAP_ENTRY +
	       HT__NCOLS * HT__DIR_ENTRY + per * (size_t)max_events;
}

int ht__enc_new(struct ht__enc **ep, uint32_t max_events, int level,
		const struct ht__enc_mem *mem)
{
	struct ht__enc *e;
	size_t wsize, colmax = (size_t)max_events * 8 + 16;

	*ep = NULL;
	e = mem_alloc(mem, sizeof(*e));
	if (!e)
		return HT_ENOMEM;
	memset(e, 0, sizeof(*e));
	e->mem = *mem;
	e->max_events = max_events;
	e->level = level;
	for (int op = 0; op < 256; op++) {
		e->mask[op] = ht__op_mask(op);
		e->frees[op] = (uint8_t)ht__op_frees(op);
	}
	wsize = ZSTD_estimateCCtxSize(level);
	e->cwork = mem_alloc(mem, wsize);
	e->vals = mem_alloc(mem, colmax);
	e->base = mem_alloc(mem, colmax);
	for (int c = 1; c <= HT__C_OLD_ADDR; c++) {
		e->hot[c] = mem_alloc(mem, colmax);
		if (!e->hot[c]) {
			ht__enc_free(e);
			return HT_ENOMEM;
		}
	}
	e->raw = mem_alloc(mem, colmax);
	e->raw2 = mem_alloc(mem, colmax);
	e->tmp = mem_alloc(mem, colmax);
	e->cls = mem_alloc(mem, (size_t)max_events + 16);
	e->mru = mem_alloc(mem, (size_t)max_events * 11 + 16);
	for (int h = 0; h < 2; h++) {
		size_t tb = sizeof(struct ht__mslot) << HT__MRU_HBITS;

		e->mtab[h] = mem_alloc(mem, tb);
		if (e->mtab[h])
			memset(e->mtab[h], 0, tb);
	}
	/* push numbers start above every slot's 0, so no slot is live */
	e->mru_cnt[0] = e->mru_cnt[1] = 1;
	if (!e->cwork || !e->vals || !e->base || !e->raw || !e->raw2 ||
	    !e->tmp || !e->cls || !e->mru || !e->mtab[0] || !e->mtab[1]) {
		ht__enc_free(e);
		return HT_ENOMEM;
	}
	e->cctx = ZSTD_initStaticCCtx(e->cwork, wsize);
	if (!e->cctx) {
		ht__enc_free(e);
		return HT_EZSTD;
	}
	*ep = e;
	return 0;
}

void ht__enc_free(struct ht__enc *e)
{
	struct ht__enc_mem m;

	if (!e)
		return;
	m = e->mem;
	mem_free(&m, e->cwork);
	mem_free(&m, e->vals);
	mem_free(&m, e->base);
	for (int c = 1; c <= HT__C_OLD_ADDR; c++)
		mem_free(&m, e->hot[c]);
	mem_free(&m, e->raw);
	mem_free(&m, e->raw2);
	mem_free(&m, e->tmp);
	mem_free(&m, e->cls);
	mem_free(&m, e->mru);
	mem_free(&m, e->mtab[0]);
	mem_free(&m, e->mtab[1]);
	mem_free(&m, e);
}

size_t ht__enc_zstd(struct ht__enc *e, void *dst, size_t cap,
		    const void *src, size_t n)
{
	size_t r = ZSTD_compressCCtx(e->cctx, dst, cap, src, n, e->level);

	return ZSTD_isError(r) ? 0 : r;
}

/* Byte-stream split of v[0..m) at width w into out. */
static void bss_put(uint8_t *out, const uint64_t *v, size_t m, unsigned w)
{
	for (unsigned j = 0; j < w; j++) {
		uint8_t *o = out + (size_t)j * m;
		unsigned sh = 8 * j;

		for (size_t i = 0; i < m; i++)
			o[i] = (uint8_t)(v[i] >> sh);
	}
}

static size_t put_plain(uint8_t *out, const uint64_t *v, size_t m,
			unsigned w)
{
	switch (w) {
	case 8:
		memcpy(out, v, m * 8);
		break;
	case 1:
		for (size_t i = 0; i < m; i++)
			out[i] = (uint8_t)v[i];
		break;
	default:
		/* 8-byte stores, each overwriting the previous tail; out
		 * has 8 bytes of slack */
		for (size_t i = 0; i < m; i++)
			memcpy(out + i * w, &v[i], 8);
		break;
	}
	return m * w;
}

/* A column encoding choice. */
struct pick {
	uint8_t enc, width;
	uint64_t param;
	size_t len;
};

/* Writes v[0..m) encoded as p into out; v may be overwritten. */
static void put(uint8_t *out, uint64_t *v, const uint64_t *base, size_t m,
		const struct pick *p)
{
	uint64_t prev = p->param;
	uint8_t *o = out;

	switch (p->enc) {
	case HT__E_PLAIN:
		put_plain(out, v, m, p->width);
		break;
	case HT__E_BSS:
		bss_put(out, v, m, p->width);
		break;
	case HT__E_DELTA_BSS:
		for (size_t i = 0; i < m; i++) {
			uint64_t x = v[i];

			v[i] = ht__zz((int64_t)(x - prev));
			prev = x;
		}
		bss_put(out, v, m, p->width);
		break;
	case HT__E_VARINT:
		for (size_t i = 0; i < m; i++)
			o += ht__put_varint(o, v[i]);
		break;
	case HT__E_DELTA_VARINT:
		for (size_t i = 0; i < m; i++) {
			o += ht__put_varint(o, ht__zz((int64_t)(v[i] - prev)));
			prev = v[i];
		}
		break;
	case HT__E_REL_ADDR:
		for (size_t i = 0; i < m; i++)
			o += ht__put_varint(o, ht__zz((int64_t)(v[i] -
							       base[i])));
		break;
	}
}

/*
 * MRU_ADDR (spec/FORMAT.md 6.4): two histories, 0 the addresses of
 * allocating rows, 1 of freeing rows; code k < 255 names the value
 * pushed k + 1 pushes ago to the history a row looks in (allocating rows
 * look in 1, freeing rows in 0).  The encoder finds a value's last push
 * through a direct-mapped table of (value, push number); push numbers
 * grow across blocks, so entries older than the block's first push are
 * stale without any clearing.
 */
static inline size_t mru_slot(uint64_t x)
{
	return (size_t)(((x >> 4) * 0x9E3779B97F4A7C15ull) >>
			(64 - HT__MRU_HBITS));
}

/*
 * MRU_ADDR body of v[0..m) (cls[i]: row i frees) into out; returns its
 * length: m code bytes, then the literals (each a varint of the zigzag
 * delta from the previous literal of its class, prev before the first).
 */
static size_t mru_put(struct ht__enc *e, uint8_t *out, const uint64_t *v,
		      const uint8_t *cls, size_t m, uint64_t prev,
		      size_t *hits)
{
	size_t miss = 0;

	uint8_t *lit = out + m;
	uint64_t lp[2] = { prev, prev };
	uint64_t cnt[2], lo[2];

	for (int h = 0; h < 2; h++)
		cnt[h] = lo[h] = e->mru_cnt[h];
	for (size_t i = 0; i < m; i++) {
		uint64_t x = v[i];
		unsigned f = cls[i], g = !f;
		size_t sl = mru_slot(x);
		const struct ht__mslot *q = &e->mtab[g][sl];
		uint64_t dist = cnt[g] - q->cnt;

		if (q->x == x && q->cnt >= lo[g] && dist <= HT__MRU_MISS) {
			out[i] = (uint8_t)(dist - 1);
		} else {
			out[i] = HT__MRU_MISS;
			miss++;
			lit += ht__put_varint(lit, ht__zz((int64_t)(x - lp[f])));
			lp[f] = x;
		}
		e->mtab[f][sl].x = x;
		e->mtab[f][sl].cnt = cnt[f]++;
	}
	e->mru_cnt[0] = cnt[0];
	e->mru_cnt[1] = cnt[1];
	*hits = m - miss;
	return (size_t)(lit - out);
}

/*
 * Chooses the encoding of column c (values v[0..m), base[] the rows'
 * addr for old_addr) by raw size, except: ts is DELTA_VARINT through
 * zstd and DELTA_BSS when stored raw, and addr
 * tries PLAIN and DELTA_BSS through zstd and keeps the smaller (sequential
 * allocations favour deltas, reused addresses favour raw values).
 * Writes the stored bytes at out; returns their length.
 */
static size_t encode_col1(struct ht__enc *e, int c, uint64_t *v, size_t m,
			  uint8_t *out, int force_raw, struct pick *pk,
			  uint8_t *codec)
{
	uint64_t first = v[0], prev = v[0], or_v = 0, or_z = 0, or_r = 0;
	size_t vlen = 0, dlen = 0, rlen = 0, stored;
	unsigned cw = ht__col_width(c), wv, wz;
	int same = 1, rel = c == HT__C_OLD_ADDR;
	struct pick a, b;

	if (c == HT__C_TS && !force_raw) {
		for (size_t i = 0; i < m; i++) {
			uint64_t x = v[i], z = ht__zz((int64_t)(x - prev));

			same &= x == first;
			or_v |= x;
			or_z |= z;
			dlen += ht__varint_len(z);
			prev = x;
		}
	} else if (c == HT__C_TS || c == HT__C_ADDR) {
		for (size_t i = 0; i < m; i++) {
			uint64_t x = v[i];

			same &= x == first;
			or_v |= x;
			or_z |= ht__zz((int64_t)(x - prev));
			prev = x;
		}
	} else {
		for (size_t i = 0; i < m; i++) {
			uint64_t x = v[i], z = ht__zz((int64_t)(x - prev));

			same &= x == first;
			or_v |= x;
			or_z |= z;
			vlen += ht__varint_len(x);
			dlen += ht__varint_len(z);
			prev = x;
		}
	}
	if (rel) {
		for (size_t i = 0; i < m; i++) {
			uint64_t z = ht__zz((int64_t)(v[i] - e->base[i]));

			or_r |= z;
			rlen += ht__varint_len(z);
		}
	}
	*codec = HT__CODEC_NONE;
	if (same) {
		pk->enc = HT__E_CONST;
		pk->width = 0;
		pk->param = first;
		pk->len = 0;
		return 0;
	}
	wv = ht__bytes_of(or_v);
	wz = ht__bytes_of(or_z);
	wv = wv ? wv : 1;
	wz = wz ? wz : 1;
	if (wv > cw)
		wv = cw;

	a.enc = HT__E_PLAIN;
	a.width = (uint8_t)wv;
	a.param = 0;
	a.len = m * wv;
	b.enc = HT__E_DELTA_BSS;
	b.width = (uint8_t)wz;
	b.param = first;
	b.len = m * wz;
	if (c == HT__C_TS && !force_raw) {
		/* through zstd, varint deltas often beat their byte-stream
		 * split (python TSC ticks 0.76 -> 0.73 B/event, storm 0.71
		 * -> 0.62), not always (ns deltas) */
		if (b.len <= a.len)
			a = b;
		if (dlen < a.len && a.len >= 64) {
			/* both through zstd on a sample of up to 4096 */
			struct pick bs = a, vs = a;
			size_t ms = m > 4096 ? 4096 : m, sa, sb;

			vs.enc = HT__E_DELTA_VARINT;
			vs.width = 0;
			vs.param = first;
			memcpy(e->vals, v, ms * 8);
			put(e->raw, e->vals, NULL, ms, &bs);
			sa = ht__enc_zstd(e, e->tmp, ms * 8, e->raw,
					  ms * bs.width);
			memcpy(e->vals, v, ms * 8);
			put(e->raw2, e->vals, NULL, ms, &vs);
			prev = first;
			vs.len = 0;
			for (size_t i = 0; i < ms; i++) {
				vs.len += ht__varint_len(ht__zz((int64_t)(v[i] -
								      prev)));
				prev = v[i];
			}
			sb = ht__enc_zstd(e, e->tmp, ms * 8, e->raw2, vs.len);
			if (sb && (!sa || sb < sa)) {
				a.enc = HT__E_DELTA_VARINT;
				a.width = 0;
				a.param = first;
				a.len = dlen;
			}
		}
	} else if (c == HT__C_TS) {
		if (b.len <= a.len)
			a = b;
	} else if (c == HT__C_ADDR) {
		if (b.len < a.len && b.len < 64)
			a = b;
	} else {
		if (vlen < a.len) {
			a.enc = HT__E_VARINT;
			a.width = 0;
			a.len = vlen;
		}
		if (dlen < a.len) {
			a.enc = HT__E_DELTA_VARINT;
			a.width = 0;
			a.param = first;
			a.len = dlen;
		}
		if (rel && rlen < a.len) {
			a.enc = HT__E_REL_ADDR;
			a.width = 0;
			a.param = 0;
			a.len = rlen;
		}
	}
	*pk = a;
	if (c == HT__C_ADDR && a.enc == HT__E_PLAIN && a.len >= 64 &&
	    !force_raw) {
		/* Both through zstd, on a sample when the block is large;
		 * v is kept for the second. */
		size_t sa, sb, ms = m > 16384 ? 4096 : m;

		if (ms < m) {
			struct pick bs = b;

			bs.len = ms * b.width;
			put_plain(e->raw, v, ms, a.width);
			sa = ht__enc_zstd(e, e->tmp, ms * a.width, e->raw,
					  ms * a.width);
			memcpy(e->vals, v, ms * 8);
			put(e->raw2, e->vals, NULL, ms, &bs);
			sb = ht__enc_zstd(e, e->tmp, ms * a.width, e->raw2,
					  bs.len);
			if (sa && sb && sb < sa)
				a = b;
			*pk = a;
			goto single;
		}
		put_plain(e->raw, v, m, a.width);
		sa = ht__enc_zstd(e, out, a.len - 1, e->raw, a.len);
		put(e->raw2, v, NULL, m, &b);
		sb = ht__enc_zstd(e, e->tmp, (sa ? sa : a.len) - 1, e->raw2,
				  b.len);
		if (sb && (!sa || sb < sa)) {
			memcpy(out, e->tmp, sb);
			*pk = b;
			*codec = HT__CODEC_ZSTD;
			return sb;
		}
		if (sa) {
			*codec = HT__CODEC_ZSTD;
			return sa;
		}
		if (b.len < a.len) {
			*pk = b;
			memcpy(out, e->raw2, b.len);
			return b.len;
		}
		memcpy(out, e->raw, a.len);
		return a.len;
	}
single:
	put(e->raw, v, e->base, m, &a);
	stored = 0;
	if (!force_raw && a.len >= 64)
		stored = ht__enc_zstd(e, out, a.len - 1, e->raw, a.len);
	if (stored) {
		*codec = HT__CODEC_ZSTD;
		return stored;
	}
	memcpy(out, e->raw, a.len);
	return a.len;
}

/*
 * encode_col1(), and for addr through zstd also MRU_ADDR: taken without
 * trying the others when 40 % of the rows hit (they never came close on
 * the traces measured), not tried below 10 %, else kept when its zstd
 * frame is smaller.
 */
static size_t encode_col(struct ht__enc *e, int c, uint64_t *v, size_t m,
			 uint8_t *out, int force_raw, struct pick *pk,
			 uint8_t *codec)
{
	size_t stored, ml = 0, mz, hits = 0;
	uint64_t first = m ? v[0] : 0;

	if (c == HT__C_ADDR && !force_raw && m >= 64) {
		ml = mru_put(e, e->mru, v, e->cls, m, first, &hits);
		if (hits * 10 < m)
			ml = 0;
	}
	if (ml && hits * 10 >= m * 4) {
		/* out holds 8 m bytes, the plain column */
		mz = ht__enc_zstd(e, out, m * 8, e->mru, ml);
		if (mz)
			goto mru;
	}
	stored = encode_col1(e, c, v, m, out, force_raw, pk, codec);
	if (!ml || pk->enc == HT__E_CONST || stored < 2)
		return stored;
	mz = ht__enc_zstd(e, e->tmp, stored - 1, e->mru, ml);
	if (!mz)
		return stored;
	memcpy(out, e->tmp, mz);
mru:
	pk->enc = HT__E_MRU_ADDR;
	pk->width = 0;
	pk->param = first;
	pk->len = ml;
	*codec = HT__CODEC_ZSTD;
	return mz;
}

/* Gathers rare column c of the rows whose op carries it. */
static size_t gather(const struct ht__enc *e, const struct ht_event *ev,
		     size_t n, int c, uint64_t *v)
{
	uint16_t bit = (uint16_t)HT__COLBIT(c);
	size_t m = 0;

#define GATHER(expr)                                               \
	for (size_t i = 0; i < n; i++) {                           \
		v[m] = (expr);                                     \
		m += (e->mask[ev[i].op] & bit) != 0;               \
	}                                                          \
	break
	switch (c) {
	case HT__C_OLD_SIZE: GATHER(ev[i].old_size);
	case HT__C_ALIGN: GATHER(ev[i].align);
	case HT__C_NMEMB: GATHER(ev[i].nmemb);
	case HT__C_HEAP: GATHER(ev[i].heap);
	case HT__C_AUX: GATHER(ev[i].aux);
	case HT__C_FLAGS: GATHER(ev[i].flags);
	default: GATHER((uint32_t)ev[i].result);
	}
#undef GATHER
	return m;
}

size_t ht__enc_block(struct ht__enc *e, const struct ht_event *ev, size_t n,
		     uint8_t *out, int force_raw)
{
	uint8_t seen[256], ops[256];
	unsigned n_ops = 0, n_cols = 0;
	uint64_t ts_min = UINT64_MAX, ts_max = 0;
	uint16_t any = 0;
	size_t pos, dir;

	uint64_t orr[HT__NCOLS + 1];
	size_t mhot[HT__C_OLD_ADDR + 1];

	uint32_t opcnt[256], bad = 0;

	memset(seen, 0, sizeof(seen));
	memset(orr, 0, sizeof(orr));
	memset(opcnt, 0, sizeof(opcnt));
	/* One pass over the events: op set, ts range, the hot columns
	 * gathered, the rare ones only OR-ed (most are all zero). */
	uint64_t *hop = e->hot[HT__C_OP], *hts = e->hot[HT__C_TS];
	uint64_t *had = e->hot[HT__C_ADDR], *hsz = e->hot[HT__C_SIZE];
	uint64_t *hoa = e->hot[HT__C_OLD_ADDR], *hba = e->base;
	uint64_t o_os = 0, o_al = 0, o_nm = 0, o_hp = 0, o_ax = 0, o_fl = 0;
	uint64_t o_rs = 0;
	size_t ma = 0, ms = 0, mo = 0;
	uint32_t pid0 = n ? ev[0].pid : 0, tid0 = n ? ev[0].tid : 0;

	for (size_t i = 0; i < n; i++) {
		const struct ht_event *x = &ev[i];

		__builtin_prefetch(&ev[i + 16]);
		uint8_t op = x->op;
		uint64_t ts = x->ts;
		unsigned mk;

		if (!seen[op]) {
			seen[op] = 1;
			ops[n_ops++] = op;
			any |= e->mask[op];
		}
		mk = e->mask[op];
		opcnt[op]++;
		bad |= (x->pid ^ pid0) | (x->tid ^ tid0);
		ts_min = ts < ts_min ? ts : ts_min;
		ts_max = ts > ts_max ? ts : ts_max;
		hop[i] = op;
		hts[i] = ts;
		had[ma] = x->addr;
		e->cls[ma] = e->frees[op];
		ma += (mk >> (HT__C_ADDR - 1)) & 1;
		hsz[ms] = x->size;
		ms += (mk >> (HT__C_SIZE - 1)) & 1;
		hoa[mo] = x->old_addr;
		hba[mo] = x->addr;
		mo += (mk >> (HT__C_OLD_ADDR - 1)) & 1;
		o_os |= x->old_size;
		o_al |= x->align;
		o_nm |= x->nmemb;
		o_hp |= x->heap;
		o_ax |= x->aux;
		o_fl |= x->flags;
		o_rs |= (uint32_t)x->result;
	}
	orr[HT__C_OLD_SIZE] = o_os;
	orr[HT__C_ALIGN] = o_al;
	orr[HT__C_NMEMB] = o_nm;
	orr[HT__C_HEAP] = o_hp;
	orr[HT__C_AUX] = o_ax;
	orr[HT__C_FLAGS] = o_fl;
	orr[HT__C_RESULT] = o_rs;
	mhot[HT__C_OP] = mhot[HT__C_TS] = n;
	mhot[HT__C_ADDR] = ma;
	mhot[HT__C_SIZE] = ms;
	mhot[HT__C_OLD_ADDR] = mo;
	if (bad)
		return 0; /* not one thread */
	if (n == 0)
		ts_min = 0;
	memset(out, 0, HT__EV_PREFIX);
	ht__wr64(out, ts_min);
	ht__wr64(out + 8, ts_max);
	ht__wr32(out + 16, n ? ev[0].pid : 0);
	ht__wr32(out + 20, n ? ev[0].tid : 0);
	ht__wr16(out + 26, (uint16_t)n_ops);
	pos = HT__EV_PREFIX;
	for (unsigned k = 0; k < n_ops; k++) {
		out[pos] = ops[k];
		out[pos + 1] = 0;
		ht__wr16(out + pos + 2, e->mask[ops[k]]);
		pos += HT__OPMAP_ENTRY;
	}
	while (pos & 7)
		out[pos++] = 0;
	dir = pos;
	for (int c = 1; c <= HT__NCOLS; c++)
		n_cols += (any >> (c - 1)) & 1;
	size_t dir_max = (size_t)n_cols * HT__DIR_ENTRY;
	pos += dir_max;
	n_cols = 0;
	for (int c = 1; c <= HT__NCOLS; c++) {
		struct pick pk;
		uint8_t codec, *d;
		size_t m, stored;

		if (!((any >> (c - 1)) & 1))
			continue;
		if (c <= HT__C_OLD_ADDR) {
			m = mhot[c];
			stored = encode_col(e, c, e->hot[c], m, out + pos,
					    force_raw, &pk, &codec);
		} else if (!orr[c]) {
			/* all zero: no need to look at the rows */
			m = 0;
			for (unsigned k = 0; k < n_ops; k++)
				if (e->mask[ops[k]] & HT__COLBIT(c))
					m += opcnt[ops[k]];
			pk.enc = HT__E_CONST;
			pk.width = 0;
			pk.param = 0;
			pk.len = 0;
			codec = HT__CODEC_NONE;
			stored = 0;
		} else {
			m = gather(e, ev, n, c, e->vals);
			stored = encode_col(e, c, e->vals, m, out + pos,
					    force_raw, &pk, &codec);
		}
		/* A column of zeros is left out (it reads as 0), except
		 * op, which gives every row its columns. */
		if (c != HT__C_OP && pk.enc == HT__E_CONST && !pk.param)
			continue;
		d = out + dir + (size_t)n_cols * HT__DIR_ENTRY;
		d[0] = (uint8_t)c;
		d[1] = pk.enc;
		d[2] = codec;
		d[3] = pk.width;
		ht__wr32(d + 4, (uint32_t)m);
		ht__wr32(d + 8, (uint32_t)pk.len);
		ht__wr32(d + 12, (uint32_t)stored);
		ht__wr64(d + 16, pk.param);
		n_cols++;
		pos += stored;
	}
	/* Close the gap the left-out columns made in the directory. */
	size_t gap = dir_max - (size_t)n_cols * HT__DIR_ENTRY;
	if (gap) {
		size_t body = dir + dir_max;

		memmove(out + body - gap, out + body, pos - body);
		pos -= gap;
	}
	ht__wr16(out + 24, (uint16_t)n_cols);
	return pos;
}

/*
 * Decoder.
 */
int ht__ev_prefix(const uint8_t *p, size_t len, uint32_t count,
		  struct ht__evprefix *pf)
{
	if (len < HT__EV_PREFIX)
		return -1;
	pf->ts_min = ht__rd64(p);
	pf->ts_max = ht__rd64(p + 8);
	pf->pid = ht__rd32(p + 16);
	pf->tid = ht__rd32(p + 20);
	pf->n_cols = ht__rd16(p + 24);
	pf->n_ops = ht__rd16(p + 26);
	if (ht__rd32(p + 28) != 0 || pf->ts_min > pf->ts_max)
		return -1;
	if (pf->n_cols > 255 || pf->n_ops > 256)
		return -1;
	if ((count == 0) != (pf->n_ops == 0))
		return -1;
	if (count == 0 && (pf->n_cols || pf->ts_min || pf->ts_max))
		return -1;
	return 0;
}

void ht__dec_release(struct ht_decoder *d)
{
	ZSTD_freeDCtx(d->dctx);
	free(d->buf);
	for (int c = 0; c <= HT__NCOLS; c++)
		free(d->col[c]);
	memset(d, 0, sizeof(*d));
}

static int grow_buf(void **p, size_t *cap, size_t n)
{
	void *b;

	if (*cap >= n)
		return 0;
	if (n < 4096)
		n = 4096;
	b = realloc(*p, n);
	if (!b)
		return HT_ENOMEM;
	*p = b;
	*cap = n;
	return 0;
}

/* Plain values of width w; s holds m*w bytes. */
static void get_plain(uint64_t *v, const uint8_t *s, size_t m, unsigned w)
{
	size_t i = 0;

	switch (w) {
	case 8:
		memcpy(v, s, m * 8);
		return;
	case 1:
		for (; i < m; i++)
			v[i] = s[i];
		return;
	default: {
		uint64_t mask = (1ull << (8 * w)) - 1;

		/* 8-byte loads while 8 bytes remain, then bytewise */
		for (; i * w + 8 <= m * w; i++) {
			uint64_t x;

			memcpy(&x, s + i * w, 8);
			v[i] = x & mask;
		}
		for (; i < m; i++) {
			uint64_t x = 0;

			memcpy(&x, s + i * w, w);
			v[i] = x;
		}
		return;
	}
	}
}

static void get_bss(uint64_t *v, const uint8_t *s, size_t m, unsigned w)
{
	for (size_t i = 0; i < m; i++)
		v[i] = s[i];
	for (unsigned t = 1; t < w; t++) {
		const uint8_t *p = s + (size_t)t * m;
		unsigned sh = 8 * t;

		for (size_t i = 0; i < m; i++)
			v[i] |= (uint64_t)p[i] << sh;
	}
}

/* m varints from [s, se) that must end exactly at se. */
static int get_varints(uint64_t *v, const uint8_t *s, const uint8_t *se,
		       size_t m)
{
	size_t i = 0;

	/* fast path: a whole 10-byte varint is readable */
	while (i < m && se - s >= 10) {
		uint64_t x = s[0];

		if (x < 0x80) {
			v[i++] = x;
			s++;
			continue;
		}
		x &= 0x7f;
		unsigned k = 1;
		for (;;) {
			uint64_t b = s[k];

			x |= (b & 0x7f) << (7 * k);
			k++;
			if (!(b & 0x80))
				break;
			if (k == 10)
				return -1;
		}
		if (k == 10 && s[9] > 1)
			return -1;
		v[i++] = x;
		s += k;
	}
	for (; i < m; i++) {
		if (ht__get_varint(&s, se, &v[i]))
			return -1;
	}
	return s == se ? 0 : -1;
}

/*
 * MRU_ADDR body [s, se) into v[0..m): row classes from the op column
 * (ops[i * sop], the rows whose op carries addr); -1 if malformed.
 */
static int get_mru(uint64_t *v, const uint8_t *s, const uint8_t *se,
		   size_t m, uint64_t prev, const uint64_t *ops, size_t sop,
		   uint32_t count, const uint16_t *opmask)
{
	uint64_t hist[2][256], lp[2] = { prev, prev };
	uint32_t n[2] = { 0, 0 };
	const uint8_t *code = s, *lit = s + m;
	size_t k = 0;
	uint8_t kind[256]; /* 0: no addr, 1: allocating, 2: freeing */

	if ((size_t)(se - s) < m)
		return -1;
	for (int op = 0; op < 256; op++)
		kind[op] = !(opmask[op] & HT__COLBIT(HT__C_ADDR)) ? 0 :
			   (uint8_t)(1 + ht__op_frees(op));
	for (uint32_t i = 0; i < count && k < m; i++, ops += sop) {
		unsigned kd = kind[(uint8_t)*ops], f, g, j;
		uint64_t x, z;

		if (!kd)
			continue;
		f = kd - 1;
		g = !f;
		j = code[k];
		if (j < n[g] && j != HT__MRU_MISS) {
			x = hist[g][(n[g] - 1 - j) & 255];
		} else if (j == HT__MRU_MISS) {
			if (lit < se && *lit < 0x80)
				z = *lit++;
			else if (ht__get_varint(&lit, se, &z))
				return -1;
			x = lp[f] += (uint64_t)ht__unzz(z);
		} else {
			return -1;
		}
		hist[f][n[f]++ & 255] = x;
		v[k++] = x;
	}
	return k == m && lit == se ? 0 : -1;
}

static void undelta(uint64_t *v, size_t m, uint64_t prev)
{
	for (size_t i = 0; i < m; i++) {
		prev += (uint64_t)ht__unzz(v[i]);
		v[i] = prev;
	}
}

#define BAD(msg)                                                           \
	do {                                                               \
		*what = (msg);                                             \
		return HT_ECORRUPT;                                        \
	} while (0)

int ht__dec_block(struct ht_decoder *d, const uint8_t *p, size_t len,
		  uint32_t count, uint64_t num, uint64_t den,
		  struct ht_event *out, const char **what)
{
	struct ht__evprefix pf;
	uint16_t opmask[256];
	uint8_t opseen[256];
	const uint8_t *dirp, *body, *end = p + len, *b;
	uint32_t need[HT__NCOLS + 1];
	int enc_of[HT__NCOLS + 1];
	uint64_t cval[HT__NCOLS + 1];
	uint16_t any = 0;

	*what = "";
	if (ht__ev_prefix(p, len, count, &pf))
		BAD("events prefix");
	memset(opseen, 0, sizeof(opseen));
	memset(opmask, 0, sizeof(opmask));
	size_t pos = HT__EV_PREFIX;
	if ((size_t)pf.n_ops * HT__OPMAP_ENTRY > len - pos)
		BAD("op map");
	for (unsigned k = 0; k < pf.n_ops; k++) {
		const uint8_t *q = p + pos + (size_t)k * HT__OPMAP_ENTRY;
		uint16_t mask = ht__rd16(q + 2);

		if (opseen[q[0]] || q[1] != 0 ||
		    (mask & HT__MASK_ALWAYS) != HT__MASK_ALWAYS)
			BAD("op map");
		opseen[q[0]] = 1;
		opmask[q[0]] = mask;
	}
	pos += (size_t)pf.n_ops * HT__OPMAP_ENTRY;
	while (pos & 7) {
		if (pos >= len || p[pos] != 0)
			BAD("op map padding");
		pos++;
	}
	if ((size_t)pf.n_cols * HT__DIR_ENTRY > len - pos)
		BAD("column directory");
	dirp = p + pos;
	body = dirp + (size_t)pf.n_cols * HT__DIR_ENTRY;
	for (int c = 0; c <= HT__NCOLS; c++) {
		enc_of[c] = -1;
		cval[c] = 0;
		need[c] = 0;
	}

	/* Pass 1: the directory; decode the op column. */
	b = body;
	for (unsigned k = 0; k < pf.n_cols; k++) {
		const uint8_t *de = dirp + (size_t)k * HT__DIR_ENTRY;
		uint32_t stored = ht__rd32(de + 12);

		if (stored > (size_t)(end - b))
			BAD("column length");
		b += stored;
		if (de[0] == 0)
			BAD("column id");
		if (de[0] <= HT__NCOLS && enc_of[de[0]] != -2) {
			if (enc_of[de[0]] == -3)
				BAD("duplicate column");
		}
	}
	if (b != end)
		BAD("payload length");

	for (int pass = 0; pass < 2; pass++) {
		b = body;
		for (unsigned k = 0; k < pf.n_cols; k++) {
			const uint8_t *de = dirp + (size_t)k * HT__DIR_ENTRY;
			unsigned c = de[0], enc = de[1], codec = de[2];
			unsigned w = de[3];
			uint32_t m = ht__rd32(de + 4);
			uint32_t raw_len = ht__rd32(de + 8);
			uint32_t stored = ht__rd32(de + 12);
			uint64_t param = ht__rd64(de + 16);
			const uint8_t *s = b;
			unsigned cw;

			b += stored;
			if (c > HT__NCOLS)
				continue; /* a newer, optional column */
			if ((pass == 0) != (c == HT__C_OP))
				continue;
			if (enc_of[c] != -1)
				BAD("duplicate column");
			cw = ht__col_width((int)c);
			if (m != (c == HT__C_OP ? count : need[c]))
				BAD("column row count");
			if (codec > HT__CODEC_ZSTD || enc > HT__E_MAX) {
				*what = "unknown encoding or codec";
				return HT_EUNSUPPORTED;
			}
			/* raw_len must match the encoding exactly or within
			 * bounds: that bounds the decompressed size. */
			switch (enc) {
			case HT__E_PLAIN:
			case HT__E_BSS:
			case HT__E_DELTA_BSS:
				if (w < 1 || w > cw ||
				    raw_len != (uint64_t)m * w)
					BAD("column width");
				break;
			case HT__E_CONST:
				if (raw_len || stored || codec || w)
					BAD("const column");
				break;
			case HT__E_MRU_ADDR:
				if (c != HT__C_ADDR)
					BAD("encoding not allowed here");
				if (w || raw_len < m ||
				    raw_len > (uint64_t)m * 11)
					BAD("column raw length");
				break;
			case HT__E_REL_ADDR:
				if (c != HT__C_OLD_ADDR)
					BAD("encoding not allowed here");
				/* fall through */
			default:
				if (w || raw_len < m ||
				    raw_len > (uint64_t)m * 10)
					BAD("column raw length");
				break;
			}
			if (codec == HT__CODEC_NONE) {
				if (stored != raw_len)
					BAD("column stored length");
			} else {
				size_t r;

				if (grow_buf((void **)&d->buf, &d->cap,
					     (size_t)raw_len + 16))
					return HT_ENOMEM;
				if (!d->dctx) {
					d->dctx = ZSTD_createDCtx();
					if (!d->dctx)
						return HT_ENOMEM;
				}
				r = ZSTD_decompressDCtx(d->dctx, d->buf,
							raw_len, s, stored);
				if (ZSTD_isError(r) || r != raw_len) {
					*what = "column zstd frame";
					return HT_EZSTD;
				}
				s = d->buf;
			}
			enc_of[c] = (int)enc;
			if (enc == HT__E_CONST) {
				cval[c] = param;
				if (cw < 8 && param >> (8 * cw))
					BAD("value too wide for its column");
				continue;
			}
			if (param && enc != HT__E_DELTA_BSS &&
			    enc != HT__E_DELTA_VARINT && enc != HT__E_MRU_ADDR)
				BAD("column parameter");
			size_t bytes = (size_t)m * 8 + 8;
			if (grow_buf((void **)&d->col[c], &d->ccap[c], bytes))
				return HT_ENOMEM;
			uint64_t *v = d->col[c];
			switch (enc) {
			case HT__E_PLAIN:
				get_plain(v, s, m, w);
				break;
			case HT__E_BSS:
				get_bss(v, s, m, w);
				break;
			case HT__E_DELTA_BSS:
				get_bss(v, s, m, w);
				undelta(v, m, param);
				break;
			case HT__E_MRU_ADDR:
				if (enc_of[HT__C_OP] == HT__E_CONST) {
					if (get_mru(v, s, s + raw_len, m, param,
						    &cval[HT__C_OP], 0, count,
						    opmask))
						BAD("MRU_ADDR body");
				} else if (get_mru(v, s, s + raw_len, m, param,
						   d->col[HT__C_OP], 1, count,
						   opmask)) {
					BAD("MRU_ADDR body");
				}
				break;
			default:
				if (get_varints(v, s, s + raw_len, m))
					BAD("varint");
				if (enc == HT__E_DELTA_VARINT)
					undelta(v, m, param);
				break;
			}
			v[m] = 0; /* the slack the assembly may read */
			if (cw < 8 && enc != HT__E_REL_ADDR) {
				uint64_t or = 0;

				for (size_t i = 0; i < m; i++)
					or |= v[i];
				if (or >> (8 * cw))
					BAD("value too wide for its column");
			}
		}
		if (pass == 0 && count > 0 && enc_of[HT__C_OP] < 0)
			BAD("missing op column");
		if (pass == 0 && count > 0) {
			const uint64_t *v = d->col[HT__C_OP];
			int cst = enc_of[HT__C_OP] == HT__E_CONST;

			uint32_t opcnt[256];

			memset(opcnt, 0, sizeof(opcnt));
			if (cst)
				opcnt[cval[HT__C_OP] & 0xff] = count;
			else
				for (uint32_t i = 0; i < count; i++)
					opcnt[v[i] & 0xff]++;
			for (int op = 0; op < 256; op++) {
				uint16_t mk = opmask[op];

				if (!opcnt[op])
					continue;
				if (!opseen[op])
					BAD("op not in op map");
				any |= mk;
				for (int cc = 1; cc <= HT__NCOLS; cc++)
					need[cc] += ((mk >> (cc - 1)) & 1) *
						    opcnt[op];
			}
		}
	}
	/* A column that rows carry but the directory leaves out is all
	 * zeros: cval[c] is 0 and the assembly reads it as CONST. */
	if (enc_of[HT__C_OLD_ADDR] == HT__E_REL_ADDR) {
		for (int op = 0; op < 256; op++) {
			uint16_t mk = opmask[op];

			if (opseen[op] && (mk & HT__COLBIT(HT__C_OLD_ADDR)) &&
			    !(mk & HT__COLBIT(HT__C_ADDR)))
				BAD("old_addr relative to a missing addr");
		}
	}

	/*
	 * Assemble: one pass writing every field of every event.  A
	 * column's cursor advances on the rows whose op carries it; a CONST
	 * column reads its one value (stride 0).
	 */
	const uint64_t *col[HT__NCOLS + 1];
	size_t stride[HT__NCOLS + 1];
	for (int c = 1; c <= HT__NCOLS; c++) {
		if (enc_of[c] == HT__E_CONST || enc_of[c] < 0) {
			col[c] = &cval[c];
			stride[c] = 0;
		} else {
			col[c] = d->col[c];
			stride[c] = 1;
		}
	}
	/* ts_min/ts_max must be the column's; then ticks -> ns */
	if (count) {
		const uint64_t *t = col[HT__C_TS];
		uint64_t lo = UINT64_MAX, hi = 0;

		if (stride[HT__C_TS]) {
			for (uint32_t i = 0; i < count; i++) {
				lo = t[i] < lo ? t[i] : lo;
				hi = t[i] > hi ? t[i] : hi;
			}
			if (num != den)
				for (uint32_t i = 0; i < count; i++)
					d->col[HT__C_TS][i] =
						ht__to_ns(t[i], num, den);
		} else {
			lo = hi = cval[HT__C_TS];
			cval[HT__C_TS] = ht__to_ns(lo, num, den);
		}
		if (lo != pf.ts_min || hi != pf.ts_max)
			BAD("ts_min/ts_max");
	}
	/*
	 * Per op, a template event holding pid, tid and every field its
	 * CONST columns give; each row copies its op's template and fills
	 * in the columns that vary.
	 */
	struct ht_event *tp = d->tmpl;
	int vary[HT__NCOLS + 1], n_rare = 0, rare[HT__NCOLS];
	for (int c = 1; c <= HT__NCOLS; c++)
		vary[c] = stride[c] != 0;
	for (int op = 0; op < 256; op++) {
		uint16_t mk = opmask[op];

		if (!opseen[op])
			continue;
		memset(&tp[op], 0, sizeof(tp[op]));
		tp[op].op = (uint8_t)op;
		tp[op].pid = pf.pid;
		tp[op].tid = pf.tid;
		for (int c = 2; c <= HT__NCOLS; c++)
			if (!vary[c] && ((mk >> (c - 1)) & 1))
				col_set(&tp[op], c, cval[c]);
	}
	for (int c = HT__C_OLD_SIZE; c <= HT__NCOLS; c++)
		if (vary[c])
			rare[n_rare++] = c;
	const uint64_t *ops = col[HT__C_OP], *ts = col[HT__C_TS];
	const uint64_t *pa = col[HT__C_ADDR], *ps = col[HT__C_SIZE];
	const uint64_t *po = col[HT__C_OLD_ADDR];
	size_t sop = stride[HT__C_OP];
	int rel = enc_of[HT__C_OLD_ADDR] == HT__E_REL_ADDR;
	int v_ts = vary[HT__C_TS], v_a = vary[HT__C_ADDR];
	int v_s = vary[HT__C_SIZE], v_o = vary[HT__C_OLD_ADDR];

	/* A varying column's cursor advances on the rows that carry it;
	 * reading one past its end is safe (8 bytes of slack, masked). */
	for (uint32_t i = 0; i < count; i++) {
		struct ht_event *e = &out[i];
		uint8_t op = (uint8_t)*ops;
		uint64_t mk = opmask[op], on, v;

		ops += sop;
		*e = tp[op];
		if (v_ts)
			e->ts = ts[i];
		if (v_a) {
			on = (mk >> (HT__C_ADDR - 1)) & 1;
			e->addr = *pa & (0 - on);
			pa += on;
		}
		if (v_s) {
			on = (mk >> (HT__C_SIZE - 1)) & 1;
			e->size = *ps & (0 - on);
			ps += on;
		}
		if (v_o) {
			on = (mk >> (HT__C_OLD_ADDR - 1)) & 1;
			v = *po & (0 - on);
			po += on;
			if (rel)
				v = (e->addr + (uint64_t)ht__unzz(v)) &
				    (0 - on);
			e->old_addr = v;
		}
		for (int k = 0; k < n_rare; k++) {
			int c = rare[k];

			if ((mk >> (c - 1)) & 1)
				col_set(e, c, *col[c]++);
		}
	}
	(void)ts;
	return (int)count;
}
