/*
 * enc.c - the EVENTS payload encoder of spec/FORMAT.md: per-column
 * encoding chosen per block, zstd per column with a raw fallback.
 *
 * It runs in the recorder's encoder thread, inside the traced program,
 * so its CPU per event counts (bench/reenc.sh measures it on recorded
 * traces, bench/format.sh on a synthetic one): one pass over the events
 * gathers every column and most statistics; choices that need trial
 * compressions (ts, addr) and the varint choice of size and old_addr
 * are made on a stream's every HT__RETRY-th block and reused between.
 *
 * The encoder never allocates after ht__enc_new(): every buffer is sized
 * for max_events there, and zstd runs in a static context.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <stdlib.h>
#include <zstd.h>

#include "internal.h"

/*
 * Encoder.
 */
struct ht__mslot {
	uint64_t x, cnt;
};

/*
 * Per stream (pid, tid): the encodings that ts and addr got when they
 * were last tried through zstd.  A stream's block tries them again every
 * HT__RETRY blocks (and its first block always does); the blocks between
 * reuse the choice, skipping the trial compressions and, for addr, the
 * MRU_ADDR pass when it lost.  A direct-mapped table: two streams that
 * share a slot only retry more often.  Every 16th block rather than 8th:
 * storm 390 -> 383, python 342 -> 340 instructions/event for +0.008 and
 * +0.003 B/event (the choices rarely change within a stream).
 */
#define HT__NSTREAM 64
#define HT__RETRY 16
struct ht__scache {
	uint32_t pid, tid;
	uint32_t blocks;  /* blocks of the stream so far, 0 = unused */
	uint8_t ts_enc;   /* DELTA_BSS or DELTA_VARINT */
	uint8_t addr_enc; /* PLAIN, DELTA_BSS or MRU_BSS */
	uint8_t var_enc[2]; /* size, old_addr: when a varint encoding */
	uint8_t var_raw[2]; /* size, old_addr: zstd saved < 1/16 */
	uint8_t addr_fast;  /* MRU_BSS addr: ZK_AFAST was no larger */
};

struct ht__enc {
	struct ht__enc_mem mem;
	uint32_t max_events;
	int level;
	ZSTD_CCtx *cctx;
	void *cwork;
	uint64_t *vals;  /* a rare column's values; scratch */
	/* ts (as deltas: ts_col()), addr, size, old_addr */
	uint64_t *hot[HT__C_OLD_ADDR + 1];
	uint64_t *base;  /* addr of the rows of the old_addr column */
	uint64_t *rr;      /* old_addr, addr, old_size, align, nmemb of the
			    * rows that carry any of the four, 5 a row
			    * (the pass) */
	uint8_t *rop;      /* the op of each of those rows */
	uint64_t *rare[3]; /* old_size, align, nmemb of the rows that carry
			    * them */
	uint8_t *raw;    /* one column encoded, before zstd */
	uint8_t *raw2;   /* a second candidate */
	uint8_t *tmp;    /* the second candidate compressed */
	uint8_t *cls;    /* per addr row: 1 if its op frees (MRU_BSS) */
	uint8_t *mru;    /* the MRU_BSS candidate, before zstd */
	uint8_t *opb;    /* the op column, PLAIN(1) */
	uint8_t *flb;    /* the flags column, PLAIN(1) */
	struct ht__scache *sc; /* this block's stream */
	int trial;       /* this block tries ts and addr encodings */
	struct ht__scache scache[HT__NSTREAM];
	struct ht__mslot *mtab[2]; /* MRU_BSS: value -> its last push */
	uint64_t mru_cnt[2];       /* pushes so far, all blocks */
	uint16_t mask[256];
	uint8_t frees[256];
	uint64_t rsel[16][3]; /* rec_row(): per record op, all ones where
			       * its aux is old_addr, align, nmemb */
	/*
	 * The block ht__enc_add() is building: what its one pass over the
	 * rows gathered so far.  heap, aux and result are only OR-ed while
	 * they stay 0 (and flags below 256, kept in flb); from the first
	 * row where one is not, all four are kept per row from row 0 in
	 * dense[] (dense_on).  Likewise dur, in ddur[] from its first
	 * nonzero value (dur_on): a trace of record --latency has one on
	 * almost every row, and nothing else.
	 */
	struct {
		size_t n, ma, ms, mo, mr, mos, mal, mnm;
		unsigned n_ops;
		int dense_on, dur_on;
		uint16_t any;
		uint32_t bad, pid0, tid0, o_fl, a_fl, o_rs;
		uint64_t ts0, t_prev, ts_min, ts_max, t_orz, o_hp, o_ax;
		uint32_t opcnt[256];
		uint8_t seen[256], ops[256];
	} b;
	uint64_t *dheap, *ddur;    /* dense heap, aux, flags, result; dur */
	uint32_t *daux, *dflags, *dres;
};

/* Starts a block: no rows. */
static void block_reset(struct ht__enc *e)
{
	memset(&e->b, 0, sizeof(e->b));
	e->b.ts_min = UINT64_MAX;
	e->b.a_fl = ~0u;
}

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
	for (int op = 0; op < 16; op++) {
		e->rsel[op][0] = ht__pick(ht__op_kind[op], HT__K_OLD, ~0ull);
		e->rsel[op][1] = ht__pick(ht__op_kind[op], HT__K_ALIGN,
					  ~0ull);
		e->rsel[op][2] = ht__pick(ht__op_kind[op], HT__K_NMEMB,
					  ~0ull);
	}
	wsize = ZSTD_estimateCCtxSize(level);
	e->cwork = mem_alloc(mem, wsize);
	e->vals = mem_alloc(mem, colmax);
	e->base = mem_alloc(mem, colmax);
	for (int c = HT__C_TS; c <= HT__C_OLD_ADDR; c++) {
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
	for (int k = 0; k < 3; k++)
		e->rare[k] = mem_alloc(mem, colmax);
	e->rr = mem_alloc(mem, colmax * 5);
	e->rop = mem_alloc(mem, (size_t)max_events + 16);
	e->opb = mem_alloc(mem, (size_t)max_events + 16);
	e->flb = mem_alloc(mem, (size_t)max_events + 16);
	/* touched only by blocks that need them */
	e->dheap = mem_alloc(mem, colmax);
	e->daux = mem_alloc(mem, (size_t)max_events * 4 + 16);
	e->dflags = mem_alloc(mem, (size_t)max_events * 4 + 16);
	e->dres = mem_alloc(mem, (size_t)max_events * 4 + 16);
	e->ddur = mem_alloc(mem, colmax);
	for (int h = 0; h < 2; h++) {
		size_t tb = sizeof(struct ht__mslot) << HT__MRU_HBITS;

		e->mtab[h] = mem_alloc(mem, tb);
		if (e->mtab[h])
			memset(e->mtab[h], 0, tb);
	}
	/* push numbers start above every slot's 0, so no slot is live */
	e->mru_cnt[0] = e->mru_cnt[1] = 1;
	block_reset(e);
	if (!e->cwork || !e->vals || !e->base || !e->raw || !e->raw2 ||
	    !e->tmp || !e->cls || !e->mru || !e->opb || !e->flb ||
	    !e->dheap || !e->daux || !e->dflags || !e->dres || !e->ddur ||
	    !e->rare[0] || !e->rare[1] || !e->rare[2] || !e->rr || !e->rop ||
	    !e->mtab[0] || !e->mtab[1]) {
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
	for (int k = 0; k < 3; k++)
		mem_free(&m, e->rare[k]);
	mem_free(&m, e->rr);
	mem_free(&m, e->rop);
	mem_free(&m, e->opb);
	mem_free(&m, e->flb);
	mem_free(&m, e->dheap);
	mem_free(&m, e->daux);
	mem_free(&m, e->dflags);
	mem_free(&m, e->dres);
	mem_free(&m, e->ddur);
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

/* Varint length of v by its count of leading zero bits: a load instead
 * of a multiply and shift. */
static const uint8_t vlen_clz[64] = {
	10, 9, 9, 9, 9, 9, 9, 9, 8, 8, 8, 8, 8, 8, 8, 7, 7, 7, 7, 7, 7, 7,
	6, 6, 6, 6, 6, 6, 6, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 4, 4, 3,
	3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1
};

static inline unsigned varint_len(uint64_t v)
{
	return vlen_clz[__builtin_clzll(v | 1)];
}

/*
 * zstd for one column.  At the default level the matcher is tuned to
 * the column (measured on storm, python and bench_format columns):
 * op and flags, mostly runs of a few byte values, need matches of 7
 * (faster and 2-8 % smaller than level 1's 5 or 6); addr bodies lose
 * nothing with 2^12 hash slots instead of 2^13-14 (10-25 % faster).
 * ts lets the match finder step ahead faster (targetLength 4, with
 * Huffman literals kept on, which targetLength > 0 would turn off at
 * level 1): long matches in its deltas are few (callgrind on
 * ht__enc_block: bench_format 420 -> 407, python 340 -> 326, storm
 * 383 -> 372 instructions/event for +0.057, +0.026, +0.020 B/event).
 * The same on addr saved 4-13 instructions/event more but made the
 * imported Android systemui trace 3 % larger (its addresses repeat in
 * patterns across threads), so addr keeps level 1's step (but see
 * mru_z()).  ts as varints (ZK_TSV) needs no more than 2^10 hash
 * slots, as byte planes (ZK_TS) 2^12 and matches of 7: storm's ts
 * (varints) zstd time -30 % for +0.008 bytes/event, python's (mostly
 * planes) -20 % and 0.003 bytes/event smaller, its trial picking planes
 * more often.  Varints step ahead faster still (targetLength 16: storm
 * 389.5 -> 379.5 instructions/event for +0.005 bytes/event, python and
 * systemui the same size).  Other levels are as asked.
 */
enum { ZK_LEVEL, ZK_RUNS, ZK_ADDR, ZK_AFAST, ZK_TS, ZK_TSV };

static void zparams(struct ht__enc *e, int kind)
{
	ZSTD_CCtx *z = e->cctx;

	ZSTD_CCtx_reset(z, ZSTD_reset_session_and_parameters);
	ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, e->level);
	if (kind == ZK_LEVEL || e->level != HT_DEFAULT_LEVEL)
		return;
	if (kind == ZK_RUNS)
		ZSTD_CCtx_setParameter(z, ZSTD_c_minMatch, 7);
	else if (kind == ZK_ADDR || kind == ZK_AFAST)
		ZSTD_CCtx_setParameter(z, ZSTD_c_hashLog, 12);
	if (kind == ZK_AFAST) {
		ZSTD_CCtx_setParameter(z, ZSTD_c_targetLength, 64);
		ZSTD_CCtx_setParameter(z, ZSTD_c_literalCompressionMode,
				       ZSTD_ps_enable);
	} else if (kind == ZK_TS || kind == ZK_TSV) {
		ZSTD_CCtx_setParameter(z, ZSTD_c_targetLength, 4);
		ZSTD_CCtx_setParameter(z, ZSTD_c_literalCompressionMode,
				       ZSTD_ps_enable);
		if (kind == ZK_TSV) {
			ZSTD_CCtx_setParameter(z, ZSTD_c_hashLog, 10);
			ZSTD_CCtx_setParameter(z, ZSTD_c_targetLength, 16);
		} else {
			ZSTD_CCtx_setParameter(z, ZSTD_c_hashLog, 12);
			ZSTD_CCtx_setParameter(z, ZSTD_c_minMatch, 7);
		}
	}
}

static size_t zc(struct ht__enc *e, int kind, void *dst, size_t cap,
		 const void *src, size_t n)
{
	size_t r;

	if (kind == ZK_LEVEL || e->level != HT_DEFAULT_LEVEL)
		return ht__enc_zstd(e, dst, cap, src, n);
	zparams(e, kind);
	r = ZSTD_compress2(e->cctx, dst, cap, src, n);
	return ZSTD_isError(r) ? 0 : r;
}

/*
 * zc() for a column made of parts that differ: MRU_BSS's codes and its
 * literals' byte planes, or the byte planes of a byte-stream split.
 * The parts are [0, first), then nseg parts of seg bytes (the last one
 * to n).  A cut between parts ends a zstd block, so that each part gets
 * its own Huffman table (zstd fits one to a block's literals): still
 * one frame.  On the synthetic stream the addr column shrank by 4 % and
 * decoded 12 % faster.  A part below SPLIT_MIN bytes is not worth a
 * block header and tables: it joins the next one.
 */
#define SPLIT_MIN 4096

static size_t zc_parts(struct ht__enc *e, int kind, void *dst, size_t cap,
		       const void *src, size_t n, size_t first, size_t seg,
		       unsigned nseg)
{
	ZSTD_CCtx *z = e->cctx;
	ZSTD_outBuffer o = { dst, cap, 0 };
	ZSTD_inBuffer in = { src, 0, 0 };
	size_t cut[10], last = 0;
	unsigned nc = 0;

	for (unsigned k = 0; k < nseg && k < 9; k++) {
		size_t at = first + (size_t)k * seg;

		if (at - last >= SPLIT_MIN && at < n && n - at >= SPLIT_MIN)
			cut[nc++] = last = at;
	}
	if (!nc)
		return zc(e, kind, dst, cap, src, n);
	cut[nc++] = n;
	zparams(e, kind);
	ZSTD_CCtx_setParameter(z, ZSTD_c_stableInBuffer, 1);
	ZSTD_CCtx_setParameter(z, ZSTD_c_stableOutBuffer, 1);
	ZSTD_CCtx_setPledgedSrcSize(z, n);
	for (unsigned k = 0; k < nc; k++) {
		ZSTD_EndDirective how = k + 1 < nc ? ZSTD_e_flush : ZSTD_e_end;
		size_t r;

		in.size = cut[k];
		do {
			size_t ip = in.pos, op = o.pos;

			r = ZSTD_compressStream2(z, &o, &in, how);
			if (ZSTD_isError(r) ||
			    (r && in.pos == ip && o.pos == op))
				return 0; /* no room: stored raw */
		} while (r);
	}
	return o.pos;
}

/* The same for a byte-stream split column of w planes of m bytes. */
static size_t zstd_or_raw_parts(struct ht__enc *e, int kind, uint8_t *out,
				const void *src, size_t len, size_t m,
				unsigned w, int force_raw, uint8_t *codec)
{
	size_t stored = 0;

	if (!force_raw && len >= 64)
		stored = zc_parts(e, kind, out, len - 1, src, len, m, m,
				  w - 1);
	*codec = stored ? HT__CODEC_ZSTD : HT__CODEC_NONE;
	if (stored)
		return stored;
	memcpy(out, src, len);
	return len;
}

static size_t zstd_or_raw(struct ht__enc *e, int kind, uint8_t *out,
			  const void *src, size_t len, int force_raw,
			  uint8_t *codec)
{
	return zstd_or_raw_parts(e, kind, out, src, len, 0, 1, force_raw,
				 codec);
}

/* 1 if enc stores its values as byte planes. */
static int is_bss(int enc)
{
	return enc == HT__E_BSS || enc == HT__E_DELTA_BSS ||
	       enc == HT__E_UDELTA_BSS;
}

/* zstd kind of column c. */
static int zkind(int c)
{
	switch (c) {
	case HT__C_OP:
	case HT__C_FLAGS:
		return ZK_RUNS;
	case HT__C_ADDR:
		return ZK_ADDR;
	default:
		return ZK_LEVEL;
	}
}

/*
 * Writes v as a varint at p, which must have 8 bytes of room past the
 * varint's end; returns its length.  Values below 2^14 take one 2-byte
 * store, others below 2^56 (all but huge deltas) one 8-byte store, with
 * no branch on the length.
 */
static inline size_t put_varint(uint8_t *p, uint64_t v)
{
	unsigned n;
	uint64_t w;

	if (v < 0x4000) {
		/* one or two bytes: most deltas, sizes and codes */
		unsigned two = v >= 0x80;
		uint16_t h = (uint16_t)((v & 0x7f) | (v << 1 & 0x7f00) |
					two << 7);

		memcpy(p, &h, 2);
		return 1 + two;
	}
	n = varint_len(v);
	if (n > 8)
		return ht__put_varint(p, v);
	w = (v & 0x7f) | (v << 1 & 0x7f00) | (v << 2 & 0x7f0000) |
	    (v << 3 & 0x7f000000) | (v << 4 & 0x7f00000000ull) |
	    (v << 5 & 0x7f0000000000ull) | (v << 6 & 0x7f000000000000ull) |
	    (v << 7 & 0x7f00000000000000ull);
	/* continuation bits on all bytes but the last */
	w |= 0x8080808080808080ull & ((1ull << (8 * (n - 1))) - 1);
	memcpy(p, &w, 8);
	return n;
}

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/*
 * Byte-stream split of v[0..m) at width w into out.  With SSE2 a plane
 * takes 16 rows a step: each value's byte masked in its 64-bit lane,
 * two rounds of 32 -> 16 bit packs bring the lanes together (a lane's
 * upper half is 0, so it packs as the low one's neighbour), one 16 -> 8
 * bit pack makes the 16 bytes.  gcc -O2 leaves the scalar loop as it is
 * (a load, shift and byte store a row and plane): callgrind on
 * ht__enc_block, storm 379.9 -> 368.3, python 328.2 -> 315.9
 * instructions/event.
 */
static void bss_put(uint8_t *out, const uint64_t *v, size_t m, unsigned w)
{
	for (unsigned j = 0; j < w; j++) {
		uint8_t *o = out + (size_t)j * m;
		unsigned sh = 8 * j;
		size_t i = 0;

#if defined(__SSE2__)
		const __m128i lo = _mm_set1_epi64x(0xff);
		const __m128i *q = (const __m128i *)(const void *)v;

		const __m128i c = _mm_cvtsi32_si128((int)sh);

		for (; i + 16 <= m; i += 16, q += 8) {
#define BYTE_OF(k) \
	_mm_and_si128(_mm_srl_epi64(_mm_loadu_si128(q + (k)), c), lo)
			__m128i b0 = _mm_packs_epi32(BYTE_OF(0), BYTE_OF(1));
			__m128i b1 = _mm_packs_epi32(BYTE_OF(2), BYTE_OF(3));
			__m128i b2 = _mm_packs_epi32(BYTE_OF(4), BYTE_OF(5));
			__m128i b3 = _mm_packs_epi32(BYTE_OF(6), BYTE_OF(7));
#undef BYTE_OF
			__m128i c0 = _mm_packs_epi32(b0, b1);
			__m128i c1 = _mm_packs_epi32(b2, b3);

			_mm_storeu_si128((__m128i *)(void *)(o + i),
					 _mm_packus_epi16(c0, c1));
		}
#endif
		for (; i < m; i++)
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

/* A column whose every value is v: CONST, nothing stored. */
static size_t pick_const(struct pick *pk, uint64_t v, uint8_t *codec)
{
	pk->enc = HT__E_CONST;
	pk->width = 0;
	pk->param = v;
	pk->len = 0;
	*codec = HT__CODEC_NONE;
	return 0;
}

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
			o += put_varint(o, v[i]);
		break;
	case HT__E_DELTA_VARINT:
		for (size_t i = 0; i < m; i++) {
			o += put_varint(o, ht__zz((int64_t)(v[i] - prev)));
			prev = v[i];
		}
		break;
	case HT__E_REL_ADDR:
		for (size_t i = 0; i < m; i++)
			o += put_varint(o, ht__zz((int64_t)(v[i] -
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
 * MRU_BSS body of v[0..m) (cls[i]: row i frees) into out; returns its
 * length: m code bytes, then the *nmiss literals (the zigzag delta from
 * the previous literal of its class, prev before the first) as *width
 * byte planes.
 */
static size_t mru_put(struct ht__enc *e, uint8_t *out, const uint64_t *v,
		      const uint8_t *cls, size_t m, uint64_t prev,
		      size_t *hits, size_t *nmiss, unsigned *width)
{
	uint32_t *mi = (uint32_t *)e->vals; /* rows that missed */
	size_t nm = 0;
	uint8_t *lit = out + m;
	uint64_t lp[2] = { prev, prev };
	uint64_t c0 = e->mru_cnt[0], c1 = e->mru_cnt[1];
	const uint64_t lo0 = c0, lo1 = c1;
	struct ht__mslot *t0 = e->mtab[0], *t1 = e->mtab[1];

	/*
	 * Codes first, without a branch on hit or miss: a row's table
	 * load is then off the loop's critical path (a literal written at
	 * once made each row wait for the previous row's load).
	 */
	for (size_t i = 0; i < m; i++) {
		uint64_t x = v[i];
		unsigned f = cls[i];
		size_t sl = mru_slot(x);
		const struct ht__mslot *q = f ? &t0[sl] : &t1[sl];
		struct ht__mslot *w = f ? &t1[sl] : &t0[sl];
		uint64_t qc = q->cnt, dist = (f ? c0 : c1) - qc;
		unsigned hit = (q->x == x) & (qc >= (f ? lo0 : lo1)) &
			       (dist <= HT__MRU_MISS);

		out[i] = hit ? (uint8_t)(dist - 1) : HT__MRU_MISS;
		mi[nm] = (uint32_t)i;
		nm += !hit;
		w->x = x;
		w->cnt = f ? c1 : c0;
		c0 += !f;
		c1 += f;
	}
	/* then the misses' literals, in row order, byte-stream split at
	 * the width of the widest */
	uint64_t *z = (uint64_t *)e->tmp, or = 0;

	for (size_t j = 0; j < nm; j++) {
		uint64_t x = v[mi[j]];
		unsigned f = cls[mi[j]];

		z[j] = ht__zz((int64_t)(x - lp[f]));
		or |= z[j];
		lp[f] = x;
	}
	*width = ht__bytes_of(or);
	*width = *width ? *width : 1;
	bss_put(lit, z, nm, *width);
	*nmiss = nm;
	e->mru_cnt[0] = c0;
	e->mru_cnt[1] = c1;
	*hits = m - nm;
	return m + nm * *width;
}

/*
 * size and old_addr between trial blocks, when the trial block chose a
 * varint encoding: written at once (into e->mru, room for 11 bytes a
 * value), no pass to measure the candidates.  Returns 0 when all values
 * are equal (the caller then makes it CONST).
 */
static size_t var_col(struct ht__enc *e, int c, int k, const uint64_t *v,
		      size_t m, uint8_t *out, struct pick *pk,
		      uint8_t *codec)
{
	uint64_t first = v[0], prev = first, diff = 0;
	uint8_t *o = e->mru;
	size_t len;

	switch (k) {
	case HT__E_VARINT:
		for (size_t i = 0; i < m; i++) {
			diff |= v[i] ^ first;
			o += put_varint(o, v[i]);
		}
		break;
	case HT__E_DELTA_VARINT:
		for (size_t i = 0; i < m; i++) {
			diff |= v[i] ^ first;
			o += put_varint(o, ht__zz((int64_t)(v[i] - prev)));
			prev = v[i];
		}
		break;
	default:
		for (size_t i = 0; i < m; i++) {
			diff |= v[i] ^ first;
			o += put_varint(o, ht__zz((int64_t)(v[i] -
							    e->base[i])));
		}
		break;
	}
	if (!diff) {
		pk->len = 0;
		return 0;
	}
	len = (size_t)(o - e->mru);
	pk->enc = (uint8_t)k;
	pk->width = 0;
	pk->param = k == HT__E_DELTA_VARINT ? first : 0;
	pk->len = len;
	/* raw, without trying zstd, when it saved little at the trial */
	return zstd_or_raw(e, zkind(c), out, e->mru, len,
			   e->sc->var_raw[c == HT__C_OLD_ADDR], codec);
}

/*
 * Chooses the encoding of column c other than op and ts (values v[0..m),
 * base[] the rows' addr for old_addr) by raw size, except that addr
 * tries PLAIN and DELTA_BSS through zstd and keeps the smaller (sequential
 * allocations favour deltas, reused addresses favour raw values): on a
 * stream's trial blocks, between them as then.  size and old_addr reuse
 * the trial block's varint encoding (var_col()).
 * Writes the stored bytes at out; returns their length.
 */
static size_t encode_col1(struct ht__enc *e, int c, uint64_t *v, size_t m,
			  uint8_t *out, int force_raw, struct pick *pk,
			  uint8_t *codec)
{
	uint64_t first = v[0], prev = v[0], or_v = 0, or_z = 0;
	size_t vlen = 0, dlen = 0, rlen = 0, stored;
	unsigned cw = ht__col_width(c), wv, wz;
	int same = 1, rel = c == HT__C_OLD_ADDR;
	int vc = c == HT__C_SIZE ? 0 : c == HT__C_OLD_ADDR ? 1 : -1;
	struct pick a, b;

	if (vc >= 0 && !force_raw && !e->trial && e->sc->var_enc[vc]) {
		stored = var_col(e, c, e->sc->var_enc[vc], v, m, out, pk,
				 codec);
		if (pk->len)
			return stored;
	}

	if (c == HT__C_ADDR) {
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
			vlen += varint_len(x);
			dlen += varint_len(z);
			prev = x;
		}
	}
	if (rel) {
		for (size_t i = 0; i < m; i++) {
			uint64_t z = ht__zz((int64_t)(v[i] - e->base[i]));

			rlen += varint_len(z);
		}
	}
	*codec = HT__CODEC_NONE;
	if (same)
		return pick_const(pk, first, codec);
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
	if (c == HT__C_ADDR) {
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
	    !force_raw && !e->trial) {
		if (e->sc->addr_enc == HT__E_DELTA_BSS)
			*pk = a = b;
	} else if (c == HT__C_ADDR && a.enc == HT__E_PLAIN && a.len >= 64 &&
		   !force_raw) {
		/* Both through zstd, on a sample when the block is large;
		 * v is kept for the second. */
		size_t sa, sb, ms = m > 16384 ? 4096 : m;

		if (ms < m) {
			struct pick bs = b;

			bs.len = ms * b.width;
			put_plain(e->raw, v, ms, a.width);
			sa = zc(e, zkind(c), e->tmp, ms * a.width, e->raw,
				ms * a.width);
			memcpy(e->vals, v, ms * 8);
			put(e->raw2, e->vals, NULL, ms, &bs);
			sb = zc(e, zkind(c), e->tmp, ms * a.width, e->raw2,
				bs.len);
			if (sa && sb && sb < sa)
				a = b;
			*pk = a;
			e->sc->addr_enc = a.enc;
			goto single;
		}
		put_plain(e->raw, v, m, a.width);
		sa = zc(e, zkind(c), out, a.len - 1, e->raw, a.len);
		put(e->raw2, v, NULL, m, &b);
		sb = zc(e, zkind(c), e->tmp, (sa ? sa : a.len) - 1, e->raw2,
			b.len);
		e->sc->addr_enc = sb && (!sa || sb < sa) ? HT__E_DELTA_BSS :
				  HT__E_PLAIN;
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
	if (vc >= 0 && !force_raw && e->trial)
		e->sc->var_enc[vc] = a.enc == HT__E_VARINT ||
				     a.enc == HT__E_DELTA_VARINT ||
				     a.enc == HT__E_REL_ADDR ? a.enc : 0;
	put(e->raw, v, e->base, m, &a);
	stored = zstd_or_raw_parts(e, zkind(c), out, e->raw, a.len, m,
				   is_bss(a.enc) ? a.width : 1, force_raw,
				   codec);
	if (vc >= 0 && !force_raw && e->trial)
		e->sc->var_raw[vc] = a.len >= 64 &&
				     (*codec != HT__CODEC_ZSTD ||
				      stored * 16 > a.len * 15);
	return stored;
}

/*
 * zc_parts() of the MRU_BSS body in e->mru (ml bytes: m codes, then the
 * literals' lw planes of nl bytes) into dst.  Where few codes repeat
 * (mallocstorm: random addresses out of a big pool), zstd finds few
 * matches and the match finder may step ahead fast (ZK_AFAST): there
 * it made the column smaller as well (storm 2.245 -> 2.227 bytes/event,
 * its zstd time -30 %), but python's codes repeat in patterns and grew
 * by 15 %.  So a stream's trial blocks compress it both ways, keep the
 * smaller, and the blocks between take the matcher that won.  Only when
 * zstd left 45 % of the body or more: below, matches are many and the
 * fast matcher lost on every trace measured (python's blocks 23-34 %,
 * storm's 57 %, bench_format's 41 %, where it won by 0.5 % but the
 * second compression of every stream's one block cost 4 % of the
 * encode time).
 */
static size_t mru_z(struct ht__enc *e, uint8_t *dst, size_t cap, size_t ml,
		    size_t m, size_t nl, unsigned lw)
{
	size_t z, f;

	if (!e->trial)
		return zc_parts(e, e->sc->addr_fast ? ZK_AFAST : ZK_ADDR, dst,
				cap, e->mru, ml, m, nl, lw);
	z = zc_parts(e, ZK_ADDR, dst, cap, e->mru, ml, m, nl, lw);
	e->sc->addr_fast = 0;
	if (!z || e->level != HT_DEFAULT_LEVEL || z * 20 < ml * 9)
		return z;
	/* raw2 is free: encode_col1() is done with it */
	f = zc_parts(e, ZK_AFAST, e->raw2, z, e->mru, ml, m, nl, lw);
	e->sc->addr_fast = f && f <= z;
	if (!e->sc->addr_fast)
		return z;
	memcpy(dst, e->raw2, f);
	return f;
}

/*
 * encode_col1(), and for addr through zstd also MRU_BSS: taken without
 * trying the others when 40 % of the rows hit (they never came close on
 * the traces measured), not tried below 10 %, else kept when its zstd
 * frame is smaller.
 */
static size_t encode_col(struct ht__enc *e, int c, uint64_t *v, size_t m,
			 uint8_t *out, int force_raw, struct pick *pk,
			 uint8_t *codec)
{
	size_t stored, ml = 0, mz, hits = 0, nl = 0;
	uint64_t first = m ? v[0] : 0;
	unsigned lw = 1;

	if (c == HT__C_ADDR && !force_raw && m >= 64 &&
	    (e->trial || e->sc->addr_enc == HT__E_MRU_BSS)) {
		ml = mru_put(e, e->mru, v, e->cls, m, first, &hits, &nl, &lw);
		if (hits * 10 < m)
			ml = 0;
	}
	/* parts: the codes, then each byte plane of the literals */
	if (ml && (hits * 10 >= m * 4 || !e->trial)) {
		/* out holds 8 m bytes, the plain column */
		mz = mru_z(e, out, m * 8, ml, m, nl, lw);
		if (mz) {
			e->sc->addr_enc = HT__E_MRU_BSS;
			goto mru;
		}
		ml = 0;
	}
	stored = encode_col1(e, c, v, m, out, force_raw, pk, codec);
	if (!ml || pk->enc == HT__E_CONST || stored < 2)
		return stored;
	mz = mru_z(e, e->tmp, stored - 1, ml, m, nl, lw);
	if (!mz)
		return stored;
	memcpy(out, e->tmp, mz);
	e->sc->addr_enc = HT__E_MRU_BSS;
mru:
	pk->enc = HT__E_MRU_BSS;
	pk->width = (uint8_t)lw;
	pk->param = first;
	pk->len = ml;
	*codec = HT__CODEC_ZSTD;
	return mz;
}

/* v[0..m) from their deltas z (v[-1] = first) into v: zigzag deltas,
 * or plain ones when uns. */
static void undelta(uint64_t *v, const uint64_t *z, size_t m,
		    uint64_t first, int uns)
{
	uint64_t x = first;

	for (size_t i = 0; i < m; i++) {
		x += uns ? z[i] : (uint64_t)ht__unzz(z[i]);
		v[i] = x;
	}
}

/*
 * The ts column from what the pass over the events gathered: z[0..n)
 * the deltas (z[0] = 0, the first value is first), plain when uns (the
 * block's timestamps never decrease, as in every recorded stream), else
 * zigzag; OR of the values (or their maximum) and of the deltas.
 * The same choice as encode_col1() would make from the values:
 * (U)DELTA_BSS unless PLAIN is narrower, and through zstd
 * (U)DELTA_VARINT when its sample compresses smaller (tried on a
 * stream's trial blocks, else as then).  Plain deltas rather than
 * zigzag: python 1.743 -> 1.643, storm 4.555 -> 4.477 bytes/event (the
 * always-0 sign bit pushed deltas of 64-127 into a second varint byte).
 */
static size_t ts_col(struct ht__enc *e, const uint64_t *z, size_t n,
		     uint64_t first, uint64_t or_v, uint64_t or_z, int uns,
		     int one, uint8_t *out, int force_raw, struct pick *pk,
		     uint8_t *codec)
{
	unsigned wv = ht__bytes_of(or_v), wz = ht__bytes_of(or_z);
	const uint8_t *src = e->raw;

	if (one)
		return pick_const(pk, first, codec);
	wv = wv ? wv : 1;
	wz = wz ? wz : 1;
	pk->enc = HT__E_PLAIN;
	pk->width = (uint8_t)wv;
	pk->param = 0;
	pk->len = n * wv;
	if (wz <= wv) {
		pk->enc = HT__E_DELTA_BSS;
		pk->width = (uint8_t)wz;
		pk->param = first;
		pk->len = n * wz;
	}
	/*
	 * The varints, where they may be taken: written at once into
	 * e->mru (room for 11 bytes a value), their length then known.
	 * Measured in the pass, it cost every block's rows a varint_len()
	 * and a register.
	 */
	size_t dlen = pk->len;

	if (!force_raw && pk->len >= 64 &&
	    (e->trial || e->sc->ts_enc == HT__E_DELTA_VARINT)) {
		uint8_t *o = e->mru;

		for (size_t i = 0; i < n; i++)
			o += put_varint(o, z[i]);
		dlen = (size_t)(o - e->mru);
	}
	if (dlen < pk->len) {
		int var = e->sc->ts_enc == HT__E_DELTA_VARINT;

		if (e->trial) {
			/* both through zstd on a sample of up to 4096 */
			size_t ms = n > 4096 ? 4096 : n, sa, sb, vl = 0;

			if (pk->enc == HT__E_PLAIN) {
				undelta(e->vals, z, ms, first, uns);
				put_plain(e->raw, e->vals, ms, pk->width);
			} else {
				bss_put(e->raw, z, ms, pk->width);
			}
			sa = zc(e, ZK_TS, e->tmp, ms * 8, e->raw,
				ms * pk->width);
			for (size_t i = 0; i < ms; i++)
				vl += put_varint(e->raw2 + vl, z[i]);
			sb = zc(e, ZK_TSV, e->tmp, ms * 8, e->raw2, vl);
			var = sb && (!sa || sb < sa);
			e->sc->ts_enc = var ? HT__E_DELTA_VARINT :
					pk->enc;
		}
		if (var) {
			pk->enc = HT__E_DELTA_VARINT;
			pk->width = 0;
			pk->param = first;
			pk->len = dlen;
			src = e->mru;
		}
	}
	if (pk->enc == HT__E_PLAIN) {
		undelta(e->vals, z, n, first, uns);
		put_plain(e->raw, e->vals, n, pk->width);
	} else if (pk->enc == HT__E_DELTA_BSS) {
		bss_put(e->raw, z, n, pk->width);
	}
	if (uns && pk->enc == HT__E_DELTA_BSS)
		pk->enc = HT__E_UDELTA_BSS;
	else if (uns && pk->enc == HT__E_DELTA_VARINT)
		pk->enc = HT__E_UDELTA_VARINT;
	return zstd_or_raw_parts(e, pk->width ? ZK_TS : ZK_TSV,
				 out, src, pk->len, n,
				 is_bss(pk->enc) ? pk->width : 1, force_raw,
				 codec);
}

/* Gathers column c (heap, aux, flags or result, kept in dense[]) of
 * the rows whose op carries it. */
static size_t gather(const struct ht__enc *e, int c, uint64_t *v)
{
	uint16_t bit = (uint16_t)HT__COLBIT(c);
	const uint8_t *op = e->opb;
	size_t m = 0, n = e->b.n;

#define GATHER(arr)                                                \
	for (size_t i = 0; i < n; i++) {                           \
		v[m] = (arr)[i];                                   \
		m += (e->mask[op[i]] & bit) != 0;                  \
	}                                                          \
	break
	switch (c) {
	case HT__C_HEAP: GATHER(e->dheap);
	case HT__C_AUX: GATHER(e->daux);
	case HT__C_FLAGS: GATHER(e->dflags);
	default: GATHER(e->dres);
	}
#undef GATHER
	return m;
}

/* old_addr and its base (e->hot[], e->base), old_size, align and
 * nmemb (e->rare[]) of the rows that carry each, from the pass's rows
 * of the four (e->rr, e->rop). */
static void rare_cols(struct ht__enc *e)
{
	const uint64_t *rr = e->rr;
	uint64_t *hoa = e->hot[HT__C_OLD_ADDR], *hba = e->base;
	size_t mo = 0, m0 = 0, m1 = 0, m2 = 0;

	for (size_t j = 0; j < e->b.mr; j++, rr += 5) {
		unsigned mk = e->mask[e->rop[j]];

		hoa[mo] = rr[0];
		hba[mo] = rr[1];
		mo += (mk >> (HT__C_OLD_ADDR - 1)) & 1;
		e->rare[0][m0] = rr[2];
		m0 += (mk >> (HT__C_OLD_SIZE - 1)) & 1;
		e->rare[1][m1] = rr[3];
		m1 += (mk >> (HT__C_ALIGN - 1)) & 1;
		e->rare[2][m2] = rr[4];
		m2 += (mk >> (HT__C_NMEMB - 1)) & 1;
	}
	e->b.mo = mo;
	e->b.mos = m0;
	e->b.mal = m1;
	e->b.mnm = m2;
}

/* OR and AND of v[0..m) (0 and all ones when m is 0). */
static void rare_stats(const uint64_t *v, size_t m, uint64_t *o,
		       uint64_t *a)
{
	uint64_t x = 0, y = ~0ull;

	for (size_t i = 0; i < m; i++) {
		x |= v[i];
		y &= v[i];
	}
	*o = x;
	*a = y;
}

/* The stream cache slot of (pid, tid), taken over if another had it. */
static struct ht__scache *stream_of(struct ht__enc *e, uint32_t pid,
				     uint32_t tid)
{
	uint32_t h = (pid * 0x9E3779B1u) ^ (tid * 0x85EBCA77u);
	struct ht__scache *sc = &e->scache[(h ^ h >> 16) % HT__NSTREAM];

	if (sc->blocks == 0 || sc->pid != pid || sc->tid != tid) {
		memset(sc, 0, sizeof(*sc));
		sc->pid = pid;
		sc->tid = tid;
	}
	return sc;
}

/* PLAIN(1) bytes b[0..m) as a column (CONST when one value). */
static size_t byte_col(struct ht__enc *e, const uint8_t *b, size_t m,
		       int one, uint8_t *out, int force_raw, struct pick *pk,
		       uint8_t *codec)
{
	pk->param = 0;
	if (one)
		return pick_const(pk, b[0], codec);
	pk->enc = HT__E_PLAIN;
	pk->width = 1;
	pk->len = m;
	return zstd_or_raw(e, ZK_RUNS, out, b, m, force_raw, codec);
}

/*
 * The op column.  With 2 to 16 ops in the block: OPMAP_BITS, each row's
 * index in the op map (ops[], the map's order) in w = 1, 2 or 4 bits,
 * then zstd when it saves.  Python's 10.3 M events: op 0.118 -> 0.087
 * bytes/event, and zstd has a quarter of the bytes to compress and
 * decompress.  Else as byte_col().
 */
static size_t op_col(struct ht__enc *e, const uint8_t *b, size_t m,
		     const uint8_t *ops, unsigned n_ops, uint8_t *out,
		     int force_raw, struct pick *pk, uint8_t *codec)
{
	uint8_t idx[256];
	unsigned w, per;
	size_t len, i = 0, j = 0;
	uint8_t *p = e->raw;

	if (n_ops < 2 || n_ops > 16 || m < 64)
		return byte_col(e, b, m, n_ops == 1, out, force_raw, pk,
				codec);
	w = n_ops <= 2 ? 1 : n_ops <= 4 ? 2 : 4;
	per = 8 / w;
	for (unsigned k = 0; k < n_ops; k++)
		idx[ops[k]] = (uint8_t)k;
	len = (m * w + 7) / 8;
	if (w == 4) {
		for (; i + 2 <= m; i += 2)
			p[j++] = (uint8_t)(idx[b[i]] | idx[b[i + 1]] << 4);
	} else if (w == 2) {
		for (; i + 4 <= m; i += 4)
			p[j++] = (uint8_t)(idx[b[i]] | idx[b[i + 1]] << 2 |
					   idx[b[i + 2]] << 4 |
					   idx[b[i + 3]] << 6);
	}
	for (; i < m; i += per) {
		unsigned x = 0;

		for (unsigned k = 0; k < per && i + k < m; k++)
			x |= (unsigned)idx[b[i + k]] << (k * w);
		p[j++] = (uint8_t)x;
	}
	pk->enc = HT__E_OPMAP_BITS;
	pk->width = (uint8_t)w;
	pk->param = 0;
	pk->len = len;
	return zstd_or_raw(e, ZK_RUNS, out, p, len, force_raw, codec);
}

/* Row r of a block whose heap, aux, flags and result are kept per row:
 * from row 0 the first time. */
static void dense_row(struct ht__enc *e, size_t r, const struct ht_event *x)
{
	if (!e->b.dense_on) {
		memset(e->dheap, 0, r * sizeof(*e->dheap));
		memset(e->daux, 0, r * sizeof(*e->daux));
		memset(e->dres, 0, r * sizeof(*e->dres));
		for (size_t i = 0; i < r; i++)
			e->dflags[i] = e->flb[i];
		e->b.dense_on = 1;
	}
	e->dheap[r] = x->heap;
	e->daux[r] = x->aux;
	e->dflags[r] = x->flags;
	e->dres[r] = (uint32_t)x->result;
}

/* Row r has a duration, heap, aux, flags over 255 or result, or an
 * earlier row had: keep what needs keeping per row (one test in the
 * pass for all of them). */
static void __attribute__((noinline))
rare_row(struct ht__enc *e, size_t r, const struct ht_event *x)
{
	if (x->dur || e->b.dur_on) {
		if (!e->b.dur_on) {
			memset(e->ddur, 0, r * sizeof(*e->ddur));
			e->b.dur_on = 1;
		}
		e->ddur[r] = x->dur;
	}
	if (e->b.dense_on || (x->heap | x->aux | (x->flags >> 8) |
			      (uint32_t)x->result) != 0)
		dense_row(e, r, x);
}

/* The per-op aux slot of struct ht__rec (internal.h). */
const uint8_t ht__op_kind[16] = {
	[HT_OP_CALLOC] = HT__K_NMEMB,
	[HT_OP_REALLOC] = HT__K_OLD,
	[HT_OP_REALLOCARRAY] = HT__K_OLD,
	[HT_OP_FREE] = HT__K_NOSIZE,
	[HT_OP_POSIX_MEMALIGN] = HT__K_ALIGN,
	[HT_OP_ALIGNED_ALLOC] = HT__K_ALIGN,
	[HT_OP_MEMALIGN] = HT__K_ALIGN,
	[HT_OP_FREE_ALIGNED_SIZED] = HT__K_ALIGN,
};

/*
 * The event record x stands for, as ht__rec_event() makes it, for the
 * pass below: a row keeps only the columns its op has, so size needs
 * no test of the op's kind (free, the op without one, has no size
 * column), and old_addr, align and nmemb one mask each (e->rsel), 0
 * where the op has the column but its record no value for it
 * (reallocarray's nmemb, an unknown op's).  clk is the caller's copy,
 * so that its fields stay in registers.
 */
static inline __attribute__((always_inline)) void
rec_row(const struct ht__enc *e, const struct ht__rec *x,
	const struct ht__recclock *clk, uint32_t pid, uint32_t tid,
	struct ht_event *ev)
{
	uint64_t so = x->szop, aux = x->aux;
	unsigned op = (unsigned)(so >> HT__SZ_BITS) & 15;
	unsigned fl = (unsigned)(so >> 60);
	uint64_t failed = -(uint64_t)(fl & HT_EV_FAILED);
	const uint64_t *sel = e->rsel[op];

	ev->ts = ht__rec_ns(clk, x->ts);
	ev->addr = x->addr & ~failed;
	ev->size = so & HT__SZ_MASK;
	ev->old_addr = aux & sel[0];
	ev->old_size = 0;
	ev->align = aux & sel[1];
	ev->nmemb = aux & sel[2];
	ev->heap = 0;
	ev->dur = 0;
	ev->pid = pid;
	ev->tid = tid;
	ev->flags = fl & (HT_EV_FAILED | HT_EV_INPLACE);
	ev->result = (int32_t)(x->addr & failed);
	ev->aux = 0;
	ev->op = (uint8_t)op;
}

/*
 * One pass over the rows: op set, ts range and deltas, the hot columns,
 * old_size, align and nmemb gathered, op and flags as bytes; heap, aux
 * and result only OR-ed while they are 0 (almost always).  The rows are
 * events (ev) or, with rc, the recorder's records (r), read in place:
 * that spares the recorder writing and this reading back 96 bytes an
 * event (recording mallocstorm, the encoder thread's instructions -6.5 %
 * under callgrind, its CPU time -10 % in the quietest of 12 runs).
 * Inlined into each caller, so the test of rc is made at compile time.
 */
static inline __attribute__((always_inline)) int
add_rows(struct ht__enc *e, const struct ht_event *ev,
	 const struct ht__rec *rv, size_t n, uint32_t rpid, uint32_t rtid,
	 const struct ht__recclock *clk, const int rc)
{
	size_t r0 = e->b.n;
	uint64_t *hts = e->hot[HT__C_TS] + r0;
	uint64_t *had = e->hot[HT__C_ADDR], *hsz = e->hot[HT__C_SIZE];
	uint8_t *opb = e->opb + r0, *flb = e->flb + r0, *cls = e->cls;
	uint64_t *rr = e->rr;
	uint8_t *rop = e->rop;
	uint8_t *seen = e->b.seen;
	uint32_t *opcnt = e->b.opcnt;
	size_t mr = e->b.mr;
	size_t ma = e->b.ma, ms = e->b.ms;
	uint64_t o_hp = e->b.o_hp, o_ax = e->b.o_ax;
	uint32_t o_fl = e->b.o_fl, a_fl = e->b.a_fl, o_rs = e->b.o_rs;
	uint32_t bad = e->b.bad;
	uint64_t ts_min = e->b.ts_min, ts_max = e->b.ts_max;
	uint64_t t_prev = e->b.t_prev, t_orz = e->b.t_orz;
	uint16_t any = e->b.any;
	int rare = e->b.dense_on | e->b.dur_on;
	struct ht__recclock ck = { 0, 0, 0, 0 };

	if (n == 0)
		return 0;
	if (rc)
		ck = *clk;
	if (n > e->max_events - r0) {
		e->b.bad = 1; /* more than a block: the caller's mistake */
		return -1;
	}
	if (r0 == 0) {
		e->b.pid0 = rc ? rpid : ev[0].pid;
		e->b.tid0 = rc ? rtid : ev[0].tid;
		e->b.ts0 = t_prev = rc ? ht__rec_ns(clk, rv[0].ts) : ev[0].ts;
	}
	uint32_t pid0 = e->b.pid0, tid0 = e->b.tid0;

	for (size_t i = 0; i < n; i++) {
		/* the row: an event, or what a record stands for (rc) */
		struct ht_event t;
		const struct ht_event *x;

		if (rc) {
			__builtin_prefetch(&rv[i + 16]);
			rec_row(e, &rv[i], &ck, pid0, tid0, &t);
			x = &t;
		} else {
			x = &ev[i];
			__builtin_prefetch(&ev[i + 16]);
			bad |= (x->pid ^ pid0) | (x->tid ^ tid0);
		}
		uint8_t op = x->op;
		uint64_t ts = x->ts;
		unsigned mk;

		if (!seen[op]) {
			seen[op] = 1;
			e->b.ops[e->b.n_ops++] = op;
			any |= e->mask[op];
		}
		mk = e->mask[op];
		opcnt[op]++;
		ts_min = ts < ts_min ? ts : ts_min;
		ts_max = ts > ts_max ? ts : ts_max;
		opb[i] = op;
		flb[i] = (uint8_t)x->flags;
		/* ts as deltas, with what ts_col() needs */
		uint64_t tz = ts - t_prev;

		t_prev = ts;
		hts[i] = tz;
		t_orz |= tz;
		had[ma] = x->addr;
		cls[ma] = e->frees[op];
		ma += (mk >> (HT__C_ADDR - 1)) & 1;
		hsz[ms] = x->size;
		ms += (mk >> (HT__C_SIZE - 1)) & 1;
		/* old_addr (with the row's addr, its base), old_size,
		 * align and nmemb, rare: one row for the four (rare_cols()
		 * parts them), so that the pass keeps one count and one
		 * pointer for them, not four of each */
		rr[5 * mr] = x->old_addr;
		rr[5 * mr + 1] = x->addr;
		rr[5 * mr + 2] = x->old_size;
		rr[5 * mr + 3] = x->align;
		rr[5 * mr + 4] = x->nmemb;
		rop[mr] = op;
		mr += (mk & (HT__COLBIT(HT__C_OLD_ADDR) |
			     HT__COLBIT(HT__C_OLD_SIZE) |
			     HT__COLBIT(HT__C_ALIGN) |
			     HT__COLBIT(HT__C_NMEMB))) != 0;
		o_fl |= x->flags;
		a_fl &= x->flags;
		/* a record has no heap, aux, dur or flags over 255.  Rows
		 * before the first that comes here have heap, aux and
		 * result 0, the rows from it on all come here: their ORs
		 * are taken here only. */
		if (__builtin_expect(rare | (rc ? x->result != 0 :
					     (x->heap | x->aux | x->dur |
					      (x->flags >> 8) |
					      (uint32_t)x->result) != 0),
				     0)) {
			/* a copy of t: t itself never has its address
			 * taken, so it stays in registers */
			struct ht_event u;

			if (rc)
				u = t;
			o_rs |= (uint32_t)x->result;
			if (!rc) {
				o_hp |= x->heap;
				o_ax |= x->aux;
			}
			rare_row(e, r0 + i, rc ? &u : x);
			rare = 1;
		}
	}
	e->b.n = r0 + n;
	e->b.mr = mr;
	e->b.ma = ma;
	e->b.ms = ms;
	e->b.o_hp = o_hp;
	e->b.o_ax = o_ax;
	e->b.o_fl = o_fl;
	e->b.a_fl = a_fl;
	e->b.o_rs = o_rs;
	e->b.bad = bad;
	e->b.ts_min = ts_min;
	e->b.ts_max = ts_max;
	e->b.t_prev = t_prev;
	e->b.t_orz = t_orz;
	e->b.any = any;
	return bad ? -1 : 0;
}

int ht__enc_add(struct ht__enc *e, const struct ht_event *ev, size_t n)
{
	return add_rows(e, ev, NULL, n, 0, 0, NULL, 0);
}

int ht__enc_add_recs(struct ht__enc *e, const struct ht__rec *r, size_t n,
		     uint32_t pid, uint32_t tid,
		     const struct ht__recclock *clk)
{
	int rc;

	/* a block holds one thread's rows */
	if (n && e->b.n && (pid != e->b.pid0 || tid != e->b.tid0))
		e->b.bad = 1;
	rc = add_rows(e, NULL, r, n, pid, tid, clk, 1);
	return e->b.bad ? -1 : rc;
}

void ht__enc_drop(struct ht__enc *e)
{
	block_reset(e);
}

size_t ht__enc_block(struct ht__enc *e, const struct ht_event *ev, size_t n,
		     uint8_t *out, int force_raw)
{
	ht__enc_add(e, ev, n);
	return ht__enc_end(e, out, force_raw);
}

size_t ht__enc_end(struct ht__enc *e, uint8_t *out, int force_raw)
{
	size_t n = e->b.n;
	const uint8_t *ops = e->b.ops;
	const uint32_t *opcnt = e->b.opcnt;
	unsigned n_ops = e->b.n_ops, n_cols = 0;
	uint64_t ts_min = e->b.ts_min, ts_max = e->b.ts_max;
	uint16_t any = e->b.any;
	size_t pos, dir;
	uint64_t orr[HT__NCOLS + 1], andd[HT__NCOLS + 1];
	size_t mhot[HT__C_OLD_ADDR + 1];
	uint64_t *hts = e->hot[HT__C_TS];
	uint64_t t_orz = e->b.t_orz;
	int uz = 0; /* ts deltas zigzag-coded */
	uint32_t pid0 = e->b.pid0, tid0 = e->b.tid0;
	uint64_t ts0 = e->b.ts0;

	if (e->b.bad) {
		block_reset(e);
		return 0; /* not one thread */
	}
	if (t_orz >> 63) {
		/* a delta below 0 (or of 2^63 or more): zigzag them */
		uz = 1;
		t_orz = 0;
		for (size_t i = 0; i < n; i++) {
			hts[i] = ht__zz((int64_t)hts[i]);
			t_orz |= hts[i];
		}
	}
	memset(andd, 0, sizeof(andd));
	rare_cols(e);
	rare_stats(e->rare[0], e->b.mos, &orr[HT__C_OLD_SIZE],
		   &andd[HT__C_OLD_SIZE]);
	rare_stats(e->rare[1], e->b.mal, &orr[HT__C_ALIGN],
		   &andd[HT__C_ALIGN]);
	rare_stats(e->rare[2], e->b.mnm, &orr[HT__C_NMEMB],
		   &andd[HT__C_NMEMB]);
	orr[HT__C_HEAP] = e->b.o_hp;
	orr[HT__C_AUX] = e->b.o_ax;
	orr[HT__C_FLAGS] = e->b.o_fl;
	andd[HT__C_FLAGS] = e->b.a_fl;
	orr[HT__C_RESULT] = e->b.o_rs;
	/* dur_on: some row's dur is not 0 */
	orr[HT__C_DUR] = (uint64_t)e->b.dur_on;
	/* A block with durations gives every op the dur column. */
	uint16_t dmask = orr[HT__C_DUR] ? (uint16_t)HT__COLBIT(HT__C_DUR) : 0;

	any |= dmask;
	/* A column past old_addr whose values are all 0 is left out below;
	 * counted in the directory's room it would leave a gap, closed by
	 * moving every column's bytes (storm: old_size and result, on every
	 * block). */
	for (int c = HT__C_OLD_SIZE; c <= HT__NCOLS; c++)
		if (c != HT__C_DUR && !orr[c])
			any &= (uint16_t)~HT__COLBIT(c);
	mhot[HT__C_OP] = mhot[HT__C_TS] = n;
	mhot[HT__C_ADDR] = e->b.ma;
	mhot[HT__C_SIZE] = e->b.ms;
	mhot[HT__C_OLD_ADDR] = e->b.mo;
	if (n == 0)
		ts_min = 0;
	e->sc = stream_of(e, pid0, tid0);
	e->trial = e->sc->blocks % HT__RETRY == 0;
	e->sc->blocks++;
	memset(out, 0, HT__EV_PREFIX);
	ht__wr64(out, ts_min);
	ht__wr64(out + 8, ts_max);
	ht__wr32(out + 16, pid0);
	ht__wr32(out + 20, tid0);
	ht__wr16(out + 26, (uint16_t)n_ops);
	pos = HT__EV_PREFIX;
	for (unsigned k = 0; k < n_ops; k++) {
		out[pos] = ops[k];
		out[pos + 1] = 0;
		ht__wr16(out + pos + 2, (uint16_t)(e->mask[ops[k]] | dmask));
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
		size_t m = 0, stored;

		if (!((any >> (c - 1)) & 1))
			continue;
		if (c > HT__C_OLD_ADDR && c != HT__C_DUR)
			for (unsigned k = 0; k < n_ops; k++)
				if (e->mask[ops[k]] & HT__COLBIT(c))
					m += opcnt[ops[k]];
		if (c == HT__C_OP) {
			m = n;
			stored = op_col(e, e->opb, n, ops, n_ops, out + pos,
					force_raw, &pk, &codec);
		} else if (c == HT__C_TS) {
			m = n;
			/* the widest value is the largest: its bytes are
			 * those of all the values OR-ed */
			stored = ts_col(e, hts, n, ts0, ts_max, t_orz, !uz,
					ts_min == ts_max, out + pos, force_raw,
					&pk, &codec);
		} else if (c == HT__C_DUR) {
			m = n;
			stored = encode_col(e, c, e->ddur, n, out + pos,
					    force_raw, &pk, &codec);
		} else if (c <= HT__C_OLD_ADDR) {
			m = mhot[c];
			stored = encode_col(e, c, e->hot[c], m, out + pos,
					    force_raw, &pk, &codec);
		} else if (!orr[c] || (andd[c] == orr[c] && m)) {
			/* one value: no need to look at the rows */
			stored = pick_const(&pk, orr[c], &codec);
		} else if (c >= HT__C_OLD_SIZE && c <= HT__C_NMEMB) {
			/* gathered in the pass */
			stored = encode_col(e, c, e->rare[c - HT__C_OLD_SIZE],
					    m, out + pos, force_raw, &pk,
					    &codec);
		} else if (c == HT__C_FLAGS && m == n && orr[c] < 256) {
			stored = byte_col(e, e->flb, n, 0, out + pos, force_raw,
					  &pk, &codec);
		} else {
			m = gather(e, c, e->vals);
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
	block_reset(e);
	return pos;
}
