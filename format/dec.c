/*
 * dec.c - the EVENTS payload decoder of spec/FORMAT.md: checks every
 * length, encoding and value range against the block before it trusts
 * it, then assembles events.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <stdlib.h>
#include <zstd.h>

#include "internal.h"

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
