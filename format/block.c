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

static uint64_t col_get(const struct ht_event *ev, int col)
{
	switch (col) {
	case HT__C_OP: return ev->op;
	case HT__C_TS: return ev->ts;
	case HT__C_ADDR: return ev->addr;
	case HT__C_SIZE: return ev->size;
	case HT__C_OLD_ADDR: return ev->old_addr;
	case HT__C_OLD_SIZE: return ev->old_size;
	case HT__C_ALIGN: return ev->align;
	case HT__C_NMEMB: return ev->nmemb;
	case HT__C_HEAP: return ev->heap;
	case HT__C_AUX: return ev->aux;
	case HT__C_FLAGS: return ev->flags;
	default: return (uint32_t)ev->result;
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
struct ht__enc {
	struct ht__enc_mem mem;
	uint32_t max_events;
	int level;
	ZSTD_CCtx *cctx;
	void *cwork;
	uint64_t *vals;  /* one column's values */
	uint8_t *raw;    /* one column encoded, before zstd */
	uint16_t mask[256];
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
	size_t wsize;

	*ep = NULL;
	e = mem_alloc(mem, sizeof(*e));
	if (!e)
		return HT_ENOMEM;
	memset(e, 0, sizeof(*e));
	e->mem = *mem;
	e->max_events = max_events;
	e->level = level;
	for (int op = 0; op < 256; op++)
		e->mask[op] = ht__op_mask(op);
	wsize = ZSTD_estimateCCtxSize(level);
	e->cwork = mem_alloc(mem, wsize);
	e->vals = mem_alloc(mem, (size_t)max_events * 8 + 8);
	e->raw = mem_alloc(mem, (size_t)max_events * 8 + 16);
	if (!e->cwork || !e->vals || !e->raw) {
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
	mem_free(&m, e->raw);
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

/*
 * Chooses the smallest encoding of v[0..m) and writes its raw bytes into
 * e->raw.  Returns raw_len; sets *enc, *width, *param.
 */
static size_t choose(struct ht__enc *e, uint64_t *v, size_t m, unsigned cw,
		     uint8_t *enc, uint8_t *width, uint64_t *param)
{
	uint64_t first = v[0], prev = v[0], maxv = 0, maxz = 0, or_v = 0;
	size_t vlen = 0, dlen = 0, best;
	unsigned wv, wz;
	int same = 1;

	for (size_t i = 0; i < m; i++) {
		uint64_t x = v[i], z = ht__zz((int64_t)(x - prev));

		same &= x == first;
		or_v |= x;
		maxz |= z;
		vlen += ht__varint_len(x);
		dlen += ht__varint_len(z);
		prev = x;
	}
	maxv = or_v;
	if (same) {
		*enc = HT__E_CONST;
		*width = (uint8_t)cw;
		*param = first;
		return 0;
	}
	wv = ht__bytes_of(maxv);
	wz = ht__bytes_of(maxz);
	if (wv == 0)
		wv = 1;
	if (wz == 0)
		wz = 1;
	/* Candidates, smallest raw size wins; PLAIN bounds them all. */
	best = m * cw;
	*enc = HT__E_PLAIN;
	*width = (uint8_t)cw;
	*param = 0;
	if (m * wv < best || (m * wv == best && cw > 1)) {
		best = m * wv;
		*enc = HT__E_BSS;
		*width = (uint8_t)wv;
	}
	if (m * wz < best) {
		best = m * wz;
		*enc = HT__E_DELTA_BSS;
		*width = (uint8_t)wz;
		*param = first;
	}
	if (vlen < best) {
		best = vlen;
		*enc = HT__E_VARINT;
		*width = 0;
		*param = 0;
	}
	if (dlen < best) {
		best = dlen;
		*enc = HT__E_DELTA_VARINT;
		*width = 0;
		*param = first;
	}
	switch (*enc) {
	case HT__E_PLAIN:
		if (cw == 8) {
			memcpy(e->raw, v, m * 8);
		} else {
			for (size_t i = 0; i < m; i++)
				memcpy(e->raw + i * cw, &v[i], cw);
		}
		break;
	case HT__E_BSS:
		bss_put(e->raw, v, m, *width);
		break;
	case HT__E_DELTA_BSS:
		prev = first;
		for (size_t i = 0; i < m; i++) {
			uint64_t x = v[i];

			v[i] = ht__zz((int64_t)(x - prev));
			prev = x;
		}
		bss_put(e->raw, v, m, *width);
		break;
	case HT__E_VARINT: {
		uint8_t *o = e->raw;

		for (size_t i = 0; i < m; i++)
			o += ht__put_varint(o, v[i]);
		break;
	}
	case HT__E_DELTA_VARINT: {
		uint8_t *o = e->raw;

		prev = first;
		for (size_t i = 0; i < m; i++) {
			o += ht__put_varint(o, ht__zz((int64_t)(v[i] - prev)));
			prev = v[i];
		}
		break;
	}
	}
	return best;
}

size_t ht__enc_block(struct ht__enc *e, const struct ht_event *ev, size_t n,
		     uint8_t *out, int force_raw)
{
	uint8_t seen[256], ops[256];
	unsigned n_ops = 0, n_cols = 0;
	uint64_t ts_min = UINT64_MAX, ts_max = 0;
	size_t pos, dir;

	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < n; i++) {
		uint8_t op = ev[i].op;

		if (!seen[op]) {
			seen[op] = 1;
			ops[n_ops++] = op;
		}
		if (ev[i].ts < ts_min)
			ts_min = ev[i].ts;
		if (ev[i].ts > ts_max)
			ts_max = ev[i].ts;
	}
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
	/* Reserve the largest directory; columns with no rows are left out. */
	pos += HT__NCOLS * HT__DIR_ENTRY;
	for (int c = 1; c <= HT__NCOLS; c++) {
		uint16_t bit = (uint16_t)HT__COLBIT(c);
		unsigned cw = ht__col_width(c);
		size_t m = 0, raw_len, stored;
		uint8_t enc, width, codec = HT__CODEC_NONE, *d;
		uint64_t param;

		for (size_t i = 0; i < n; i++) {
			if (e->mask[ev[i].op] & bit)
				e->vals[m++] = col_get(&ev[i], c);
		}
		if (m == 0)
			continue;
		raw_len = choose(e, e->vals, m, cw, &enc, &width, &param);
		stored = 0;
		if (!force_raw && raw_len >= 64)
			stored = ht__enc_zstd(e, out + pos, raw_len - 1, e->raw,
					      raw_len);
		if (stored) {
			codec = HT__CODEC_ZSTD;
		} else {
			memcpy(out + pos, e->raw, raw_len);
			stored = raw_len;
		}
		d = out + dir + (size_t)n_cols * HT__DIR_ENTRY;
		d[0] = (uint8_t)c;
		d[1] = enc;
		d[2] = codec;
		d[3] = width;
		ht__wr32(d + 4, (uint32_t)m);
		ht__wr32(d + 8, (uint32_t)raw_len);
		ht__wr32(d + 12, (uint32_t)stored);
		ht__wr64(d + 16, param);
		n_cols++;
		pos += stored;
	}
	/* Close the gap left by columns that had no rows. */
	if (n_cols < HT__NCOLS) {
		size_t gap = (size_t)(HT__NCOLS - n_cols) * HT__DIR_ENTRY;
		size_t body = dir + HT__NCOLS * HT__DIR_ENTRY;

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
	return 0;
}

static int dec_grow(struct ht_decoder *d, size_t n)
{
	if (d->cap >= n)
		return 0;
	uint8_t *b = realloc(d->buf, n);
	if (!b)
		return HT_ENOMEM;
	d->buf = b;
	d->cap = n;
	return 0;
}

#define BAD(msg)                                                           \
	do {                                                               \
		*what = (msg);                                             \
		return HT_ECORRUPT;                                        \
	} while (0)

int ht__dec_block(struct ht_decoder *d, const uint8_t *p, size_t len,
		  uint32_t count, struct ht_event *out, const char **what)
{
	struct ht__evprefix pf;
	uint16_t opmask[256];
	uint8_t opseen[256];
	const uint8_t *dirp, *body, *end = p + len;
	uint32_t need[HT__NCOLS + 1];
	int done[HT__NCOLS + 1];

	*what = "";
	if (ht__ev_prefix(p, len, count, &pf))
		BAD("events prefix");
	memset(opseen, 0, sizeof(opseen));
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
	memset(out, 0, (size_t)count * sizeof(*out));
	memset(done, 0, sizeof(done));
	memset(need, 0, sizeof(need));

	/* Two passes: the op column first, then the rest (presence needs
	 * op).  Bodies are located by summing stored lengths. */
	for (int pass = 0; pass < 2; pass++) {
		const uint8_t *b = body;

		for (unsigned k = 0; k < pf.n_cols; k++) {
			const uint8_t *de = dirp + (size_t)k * HT__DIR_ENTRY;
			unsigned c = de[0], enc = de[1], codec = de[2];
			unsigned w = de[3];
			uint32_t m = ht__rd32(de + 4);
			uint32_t raw_len = ht__rd32(de + 8);
			uint32_t stored = ht__rd32(de + 12);
			uint64_t param = ht__rd64(de + 16);
			const uint8_t *src = b, *s, *se;
			uint16_t bit;
			unsigned cw;

			if (stored > (size_t)(end - b))
				BAD("column length");
			b += stored;
			if (pass == 0 && k + 1 == pf.n_cols && b != end)
				BAD("payload length");
			if (c == 0 || c > HT__NCOLS) {
				if (c == 0)
					BAD("column id");
				continue; /* a newer, optional column */
			}
			if ((pass == 0) != (c == HT__C_OP))
				continue;
			if (done[c])
				BAD("duplicate column");
			done[c] = 1;
			cw = ht__col_width((int)c);
			if (c != HT__C_OP && m != need[c])
				BAD("column row count");
			if (c == HT__C_OP && m != count)
				BAD("op column row count");
			if (codec > HT__CODEC_ZSTD || enc > HT__E_BSS ||
			    enc == HT__E_XOR_BSS) {
				*what = "unknown encoding or codec";
				return HT_EUNSUPPORTED;
			}
			/* raw_len must match the encoding exactly or within
			 * bounds: that bounds the decompressed size. */
			switch (enc) {
			case HT__E_PLAIN:
				if (w != cw || raw_len != (uint64_t)m * cw)
					BAD("column raw length");
				break;
			case HT__E_CONST:
				if (raw_len || stored || codec)
					BAD("const column");
				break;
			case HT__E_BSS:
			case HT__E_DELTA_BSS:
				if (w < 1 || w > cw ||
				    raw_len != (uint64_t)m * w)
					BAD("column raw length");
				break;
			default:
				if (raw_len < m || raw_len > (uint64_t)m * 10)
					BAD("column raw length");
				break;
			}
			if (codec == HT__CODEC_NONE) {
				if (stored != raw_len)
					BAD("column stored length");
				s = src;
			} else {
				size_t r;

				if (dec_grow(d, raw_len ? raw_len : 1))
					return HT_ENOMEM;
				if (!d->dctx) {
					d->dctx = ZSTD_createDCtx();
					if (!d->dctx)
						return HT_ENOMEM;
				}
				r = ZSTD_decompressDCtx(d->dctx, d->buf,
							raw_len, src, stored);
				if (ZSTD_isError(r) || r != raw_len) {
					*what = "column zstd frame";
					return HT_EZSTD;
				}
				s = d->buf;
			}
			se = s + raw_len;
			bit = (uint16_t)HT__COLBIT(c);
			uint64_t prev = param, maxv = cw == 8 ? UINT64_MAX :
				(1ull << (8 * cw)) - 1;
			uint32_t j = 0;
			for (uint32_t i = 0; i < count; i++) {
				uint64_t v = 0;

				if (c != HT__C_OP && !(opmask[out[i].op] & bit))
					continue;
				switch (enc) {
				case HT__E_PLAIN:
					memcpy(&v, s + (size_t)j * cw, cw);
					break;
				case HT__E_CONST:
					v = param;
					break;
				case HT__E_BSS:
				case HT__E_DELTA_BSS:
					for (unsigned t = 0; t < w; t++)
						v |= (uint64_t)s[(size_t)t * m + j]
						     << (8 * t);
					if (enc == HT__E_DELTA_BSS) {
						prev += (uint64_t)ht__unzz(v);
						v = prev;
					}
					break;
				case HT__E_VARINT:
					if (ht__get_varint(&s, se, &v))
						BAD("varint");
					break;
				default:
					if (ht__get_varint(&s, se, &v))
						BAD("varint");
					prev += (uint64_t)ht__unzz(v);
					v = prev;
					break;
				}
				if (v > maxv)
					BAD("value too wide for its column");
				col_set(&out[i], (int)c, v);
				j++;
			}
			if (j != m)
				BAD("column row count");
			if ((enc == HT__E_VARINT || enc == HT__E_DELTA_VARINT)
			    && s != se)
				BAD("varint column length");
			if (c == HT__C_OP) {
				for (uint32_t i = 0; i < count; i++) {
					if (!opseen[out[i].op])
						BAD("op not in op map");
				}
				for (uint32_t i = 0; i < count; i++) {
					uint16_t mk = opmask[out[i].op];

					for (int cc = 1; cc <= HT__NCOLS; cc++)
						need[cc] += (mk >> (cc - 1)) & 1;
				}
			}
		}
		if (pass == 0 && pf.n_cols == 0 && body != end)
			BAD("payload length");
		if (pass == 0 && count > 0 && !done[HT__C_OP])
			BAD("missing op column");
	}
	for (int c = 2; c <= HT__NCOLS; c++) {
		if (need[c] && !done[c])
			BAD("missing column");
	}
	for (uint32_t i = 0; i < count; i++) {
		out[i].pid = pf.pid;
		out[i].tid = pf.tid;
	}
	return (int)count;
}
