/*
 * dec.c - the EVENTS payload decoder of spec/FORMAT.md: checks every
 * length, encoding and value range against the block before it trusts
 * it, then decodes the columns and assembles events CHUNK rows at a
 * time, so that the values in between stay in the L1 cache.  bench_dec
 * (bench/) measures it and hashes what it decodes.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <stdlib.h>
#include <zstd.h>

#include "internal.h"

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
	free(d->cv);
	free(d->cnt);
	for (int c = 0; c <= HT__NCOLS; c++)
		free(d->dc[c]);
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

/*
 * Rows are decoded and assembled CHUNK at a time: each column's values
 * for the chunk go to a small array (CSTRIDE values, one of them slack
 * that a masked read may touch) that stays in the L1 cache until the
 * assembly has copied them into the events.
 */
#define CHUNK 512
#define CSTRIDE (CHUNK + 1)

/* One column, read a chunk at a time. */
struct col {
	const uint8_t *s, *se;  /* body; varints: s is the next one */
	uint32_t m, i;          /* values in all, values taken */
	unsigned enc, w, cw;
	uint64_t prev;          /* DELTA_*: the last value */
};

/*
 * AVX-512 (F, BW, VL), where the CPU has it, for a few loops that gain
 * from it; each has a portable twin.
 */
int ht__dec_scalar; /* tests: 1 takes the portable loops */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define HT_X512 1
#define X512 __attribute__((target("avx512f,avx512bw,avx512vl,popcnt")))
/* and pext, fast on every CPU with AVX-512 (pext_fast() checks) */
#define X512P __attribute__((target("avx512f,avx512bw,avx512vl,popcnt,bmi2")))

/* The CPU's AVX-512 extensions, asked once: bit 0 F, BW and VL; bit 1
 * VBMI and VBMI2. */
static int x512_feats(void)
{
	static int ok = -1;
	int v = __atomic_load_n(&ok, __ATOMIC_RELAXED);

	if (v < 0) {
		__builtin_cpu_init();
		v = (__builtin_cpu_supports("avx512f") &&
		     __builtin_cpu_supports("avx512bw") &&
		     __builtin_cpu_supports("avx512vl")) |
		    (__builtin_cpu_supports("avx512vbmi") &&
		     __builtin_cpu_supports("avx512vbmi2")) << 1;
		__atomic_store_n(&ok, v, __ATOMIC_RELAXED);
	}
	return v;
}

static int x512_ok(void)
{
	return (x512_feats() & 1) && !ht__dec_scalar;
}
#else
#define HT_X512 0

static int x512_ok(void)
{
	return 0;
}
#endif

/* Plain values of width w from s (left bytes from s to the column end). */
static void get_plain(uint64_t *v, const uint8_t *s, size_t n, unsigned w,
		      size_t left)
{
	size_t i = 0;

	switch (w) {
	case 8:
		memcpy(v, s, n * 8);
		return;
	case 1:
		for (; i < n; i++)
			v[i] = s[i];
		return;
	default: {
		uint64_t mask = (1ull << (8 * w)) - 1;

		/* 8-byte loads while 8 bytes remain, then bytewise */
		for (; i < n && i * w + 8 <= left; i++) {
			uint64_t x;

			memcpy(&x, s + i * w, 8);
			v[i] = x & mask;
		}
		for (; i < n; i++) {
			uint64_t x = 0;

			memcpy(&x, s + i * w, w);
			v[i] = x;
		}
		return;
	}
	}
}

#if HT_X512
/* get_bss() 8 values at a time: 8 bytes of each plane widened to the 8
 * lanes and shifted into place. */
X512 static void get_bss_x(uint64_t *v, const uint8_t *s, size_t n,
			   unsigned w, size_t m)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m512i x = _mm512_cvtepu8_epi64(
			_mm_loadl_epi64((const __m128i *)(const void *)
					(s + i)));

		for (unsigned t = 1; t < w; t++) {
			__m512i y = _mm512_cvtepu8_epi64(_mm_loadl_epi64(
				(const __m128i *)(const void *)
				(s + (size_t)t * m + i)));

			x = _mm512_or_si512(x, _mm512_sll_epi64(y,
					_mm_cvtsi32_si128((int)(8 * t))));
		}
		_mm512_storeu_si512(v + i, x);
	}
	for (; i < n; i++) {
		uint64_t x = 0;

		for (unsigned t = 0; t < w; t++)
			x |= (uint64_t)s[(size_t)t * m + i] << (8 * t);
		v[i] = x;
	}
}
/* The next popcount(k) values of v into the lanes k selects.  Loaded,
 * then expanded in a register: the expanding load from memory is
 * microcoded on AMD Zen 4, several times slower.  Reads 8 values: v's
 * arrays have room past their end. */
X512 static inline __m512i xexpand(__mmask8 k, const uint64_t *v)
{
	__m512i x = _mm512_loadu_si512(v);

	__asm__("" : "+v"(x)); /* not folded back into the load */
	return _mm512_maskz_expand_epi64(k, x);
}
#endif

/* Byte-stream-split values: byte t of value i at s[t * m + i]. */
static void get_bss(uint64_t *v, const uint8_t *s, size_t n, unsigned w,
		    size_t m)
{
#if HT_X512
	if (w > 2 && x512_ok()) {
		get_bss_x(v, s, n, w, m);
		return;
	}
#endif
	if (w == 2) {
		for (size_t i = 0; i < n; i++)
			v[i] = s[i] | (uint64_t)s[m + i] << 8;
		return;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = s[i];
	for (unsigned t = 1; t < w; t++) {
		const uint8_t *p = s + (size_t)t * m;
		unsigned sh = 8 * t;

		for (size_t i = 0; i < n; i++)
			v[i] |= (uint64_t)p[i] << sh;
	}
}

/*
 * pext (BMI2) gathers the 7-bit groups of a varint in one instruction;
 * where it is slow (microcode on AMD before family 19h) or missing, three
 * shift-and-mask steps do the same.
 */
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>

static int pext_fast(void)
{
	static int ok = -1;
	int v = __atomic_load_n(&ok, __ATOMIC_RELAXED);
	unsigned a, b, c, d, fam;

	if (v >= 0)
		return v;
	v = 0;
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 8))) {
		v = 1;
		__get_cpuid(0, &a, &b, &c, &d);
		if (b == 0x68747541) { /* "AuthenticAMD" */
			__get_cpuid(1, &a, &b, &c, &d);
			fam = (a >> 8) & 0xf;
			if (fam == 0xf)
				fam += (a >> 20) & 0xff;
			v = fam >= 0x19;
		}
	}
	__atomic_store_n(&ok, v, __ATOMIC_RELAXED);
	return v;
}
#else
static int pext_fast(void)
{
	return 0;
}
#endif

/* The low 7 bits of each byte of x that keep selects, packed. */
static inline __attribute__((always_inline)) uint64_t
pack7(uint64_t x, uint64_t keep, int px)
{
	keep &= 0x7f7f7f7f7f7f7f7full;
#if defined(__x86_64__) && defined(__GNUC__)
	if (px) {
		__asm__("pextq %2, %1, %0" : "=r"(x) : "r"(x), "r"(keep));
		return x;
	}
#else
	(void)px;
#endif
	x &= keep;
	x = ((x & 0x7f007f007f007f00ull) >> 1) | (x & 0x007f007f007f007full);
	x = ((x & 0x3fff00003fff0000ull) >> 2) | (x & 0x00003fff00003fffull);
	x = ((x & 0x0fffffff00000000ull) >> 4) | (x & 0x000000000fffffffull);
	return x;
}

/*
 * A varint that ends within the 8 bytes at s, without a branch: its
 * value in *v and its length, or 0 if it is longer.
 */
static inline __attribute__((always_inline)) unsigned
vfast(const uint8_t *s, uint64_t *v, int px)
{
	uint64_t x, t;

	memcpy(&x, s, 8);
	t = ~x & 0x8080808080808080ull;
	if (!t)
		return 0;
	*v = pack7(x, t ^ (t - 1), px);
	return (unsigned)(__builtin_ctzll(t) + 1) >> 3;
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* Bit k set if p[k] ends a varint (its top bit is clear). */
static inline uint64_t ends64(const uint8_t *p)
{
	const __m128i *q = (const __m128i *)(const void *)p;
	uint64_t m = (uint32_t)_mm_movemask_epi8(_mm_loadu_si128(q)) |
		     (uint64_t)(uint32_t)_mm_movemask_epi8(
			     _mm_loadu_si128(q + 1)) << 16 |
		     (uint64_t)(uint32_t)_mm_movemask_epi8(
			     _mm_loadu_si128(q + 2)) << 32 |
		     (uint64_t)(uint32_t)_mm_movemask_epi8(
			     _mm_loadu_si128(q + 3)) << 48;

	return ~m;
}
#else
static inline uint64_t ends64(const uint8_t *p)
{
	uint64_t m = 0;

	for (int k = 0; k < 64; k++)
		m |= (uint64_t)(p[k] >> 7) << k;
	return ~m;
}
#endif

/*
 * n varints from *sp (the column ends at se); -1 if malformed.  Where
 * 72 bytes remain, the ends of the varints come from a bit map of 64
 * bytes at a time, so that finding the next varint does not wait for
 * the one before it to be decoded.
 */
static inline __attribute__((always_inline)) int
varints(uint64_t *v, const uint8_t **sp, const uint8_t *se, size_t n,
	int px)
{
	const uint8_t *s = *sp, *wb = s;
	uint64_t t = 0;
	size_t i = 0;

	if (n && se - s >= 72) {
		t = ends64(s);
		while (i < n) {
			const uint8_t *e;
			uint64_t x;
			size_t len;

			while (!t) {
				wb += 64;
				if (se - wb < 72)
					goto tail;
				t = ends64(wb);
			}
			e = wb + __builtin_ctzll(t);
			t &= t - 1;
			len = (size_t)(e - s) + 1;
			if (len > 8) {
				if (ht__get_varint(&s, se, &v[i]))
					return -1;
				i++;
				continue; /* s == e + 1 */
			}
			memcpy(&x, s, 8);
			v[i++] = pack7(x, ~0ull >> (64 - 8 * len), px);
			s = e + 1;
		}
	}
tail:
	for (; i < n && se - s >= 8; i++) {
		unsigned k = vfast(s, &v[i], px);

		if (k)
			s += k;
		else if (ht__get_varint(&s, se, &v[i]))
			return -1;
	}
	for (; i < n; i++)
		if (ht__get_varint(&s, se, &v[i]))
			return -1;
	*sp = s;
	return 0;
}

static int varints_sw(uint64_t *v, const uint8_t **sp, const uint8_t *se,
		      size_t n)
{
	return varints(v, sp, se, n, 0);
}

static int varints_px(uint64_t *v, const uint8_t **sp, const uint8_t *se,
		      size_t n)
{
	return varints(v, sp, se, n, 1);
}

#if HT_X512
#define X512V __attribute__((target("avx512f,avx512bw,avx512vl,popcnt,bmi2," \
					"avx512vbmi,avx512vbmi2")))

/* x512_ok() and VBMI2 (byte compress), with VBMI and pext. */
static int vbmi2_ok(void)
{
	return (x512_feats() & 2) && pext_fast() && x512_ok();
}

/*
 * varints() 64 bytes at a time with AVX-512 VBMI2, for varints of 1 to 3
 * bytes (sizes, small deltas): the window starts at a varint; the bytes
 * that end one (top bit clear), the bytes 1 and 2 before each, are
 * compressed to the front of three vectors, and the bits saying whether
 * those belong to it pext'ed from the continuation bits; then 16 values
 * at a time from them.  A window with a longer varint takes one by
 * ht__get_varint() (which also finds the malformed ones).  Returns the
 * varints taken, -1 if malformed; stops 64 bytes before the column end.
 */
X512V static int varints_vb(uint64_t *v, const uint8_t **sp,
			    const uint8_t *se, size_t n)
{
	const __m512i m7 = _mm512_set1_epi32(0x7f), zero = _mm512_setzero_si512();
	const __m512i back1 = _mm512_sub_epi8(_mm512_set_epi8(63, 62, 61, 60,
		59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44,
		43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28,
		27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12,
		11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi8(1));
	const __m512i back2 = _mm512_sub_epi8(back1, _mm512_set1_epi8(1));
	const uint8_t *s = *sp;
	size_t i = 0;

	while (i < n && se - s >= 64) {
		__m512i x = _mm512_loadu_si512(s), b0, b1, b2;
		uint64_t e = ~(uint64_t)_mm512_movepi8_mask(x), c = ~e;
		uint64_t c1 = c << 1, c2 = c1 & c << 2, l2, l3;
		size_t k;

		if (!e || (c2 & c << 3 & e)) {
			if (ht__get_varint(&s, se, &v[i]))
				return -1;
			i++;
			continue;
		}
		k = (size_t)__builtin_popcountll(e);
		if (k > n - i) {
			e = _pdep_u64((1ull << (n - i)) - 1, e);
			k = n - i;
		}
		/* lane j of b1 (b2): the byte 1 (2) before the j-th end */
		b0 = _mm512_maskz_compress_epi8(e, x);
		b1 = _mm512_maskz_compress_epi8(e,
			_mm512_maskz_permutexvar_epi8(~1ull, back1, x));
		b2 = _mm512_maskz_compress_epi8(e,
			_mm512_maskz_permutexvar_epi8(~3ull, back2, x));
		l2 = _pext_u64(c1, e);
		l3 = _pext_u64(c2, e);
		for (size_t g = 0; g < k; g += 16) {
			__m512i e32 = _mm512_cvtepu8_epi32(
				_mm512_castsi512_si128(b0));
			__m512i p32 = _mm512_and_si512(m7, _mm512_cvtepu8_epi32(
				_mm512_castsi512_si128(b1)));
			__m512i q32 = _mm512_and_si512(m7, _mm512_cvtepu8_epi32(
				_mm512_castsi512_si128(b2)));
			__mmask16 st = k - g >= 16 ? 0xffff :
				(__mmask16)((1u << (k - g)) - 1);
			__m512i r;

			r = _mm512_mask_or_epi32(e32, (__mmask16)(l2 >> g),
						 _mm512_slli_epi32(e32, 7), p32);
			r = _mm512_mask_or_epi32(r, (__mmask16)(l3 >> g),
						 _mm512_slli_epi32(r, 7), q32);
			_mm512_mask_storeu_epi64(v + i + g, (__mmask8)st,
				_mm512_cvtepu32_epi64(
					_mm512_castsi512_si256(r)));
			_mm512_mask_storeu_epi64(v + i + g + 8,
				(__mmask8)(st >> 8), _mm512_cvtepu32_epi64(
					_mm512_extracti64x4_epi64(r, 1)));
			b0 = _mm512_alignr_epi32(zero, b0, 4);
			b1 = _mm512_alignr_epi32(zero, b1, 4);
			b2 = _mm512_alignr_epi32(zero, b2, 4);
		}
		i += k;
		s += 64 - __builtin_clzll(e);
	}
	*sp = s;
	return (int)i;
}
#endif

static int get_varints(uint64_t *v, const uint8_t **sp, const uint8_t *se,
		       size_t n)
{
#if HT_X512
	if (vbmi2_ok()) {
		int k = varints_vb(v, sp, se, n);

		if (k < 0)
			return -1;
		v += k;
		n -= (size_t)k;
	}
#endif
	return pext_fast() ? varints_px(v, sp, se, n) :
			     varints_sw(v, sp, se, n);
}

/* Prefix sums of the deltas v[0..n) (zigzag ones, or plain ones when
 * uns: UDELTA), from prev, in place; returns the last sum.  *mono: the
 * sums never decrease (no zigzag delta was negative and no sum wrapped).
 * Inlined with uns constant: one loop each, no branch in it. */
static inline __attribute__((always_inline)) uint64_t
undelta(uint64_t *v, size_t n, uint64_t prev, int *mono, int uns)
{
	uint64_t or = 0, p0 = prev;

	for (size_t i = 0; i < n; i++) {
		or |= v[i];
		prev += uns ? v[i] : (uint64_t)ht__unzz(v[i]);
		v[i] = prev;
	}
	/* n <= CHUNK < 2^9 deltas below 2^54 sum below 2^63 */
	if (uns)
		*mono = or < (1ull << 54) &&
			p0 <= UINT64_MAX - (uint64_t)n * or;
	else
		*mono = !(or & 1) && or < (1ull << 55) &&
			p0 <= UINT64_MAX - (uint64_t)n * (or >> 1);
	return prev;
}

/* (U)DELTA_BSS of width 2 (timestamps): bytes to values to sums at
 * once. */
static inline __attribute__((always_inline)) uint64_t
undelta_bss2(uint64_t *v, const uint8_t *s, size_t n, size_t m,
	     uint64_t prev, int *mono, int uns)
{
	uint64_t or = 0, p0 = prev;

	for (size_t i = 0; i < n; i++) {
		uint64_t z = s[i] | (uint64_t)s[m + i] << 8;

		or |= z;
		prev += uns ? z : (uint64_t)ht__unzz(z);
		v[i] = prev;
	}
	if (uns)
		*mono = p0 <= UINT64_MAX - (uint64_t)n * or;
	else
		*mono = !(or & 1) &&
			p0 <= UINT64_MAX - (uint64_t)n * (or >> 1);
	return prev;
}

#if HT_X512
/*
 * undelta_bss2() 16 values at a time with AVX-512: the deltas (below
 * 2^16, zigzag ones within +-2^15) summed in 32-bit lanes, where 16 of
 * them cannot overflow, then widened and added to the running sum.
 */
X512 static uint64_t undelta_bss2_x(uint64_t *v, const uint8_t *s, size_t n,
				    size_t m, uint64_t prev, int *mono,
				    int uns)
{
	const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);
	__m512i orv = zero;
	uint64_t or = 0, p0 = prev;
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m512i z = _mm512_or_si512(
			_mm512_cvtepu8_epi32(_mm_loadu_si128(
				(const __m128i *)(const void *)(s + i))),
			_mm512_slli_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128(
				(const __m128i *)(const void *)(s + m + i))), 8));
		__m512i b = _mm512_set1_epi64((long long)prev), lo, hi;

		orv = _mm512_or_si512(orv, z);
		if (!uns)
			z = _mm512_xor_si512(_mm512_srli_epi32(z, 1),
				_mm512_sub_epi32(zero, _mm512_and_si512(z, one)));
		z = _mm512_add_epi32(z, _mm512_alignr_epi32(z, zero, 15));
		z = _mm512_add_epi32(z, _mm512_alignr_epi32(z, zero, 14));
		z = _mm512_add_epi32(z, _mm512_alignr_epi32(z, zero, 12));
		z = _mm512_add_epi32(z, _mm512_alignr_epi32(z, zero, 8));
		if (uns) {
			lo = _mm512_cvtepu32_epi64(_mm512_castsi512_si256(z));
			hi = _mm512_cvtepu32_epi64(
				_mm512_extracti64x4_epi64(z, 1));
			prev += (uint32_t)_mm_extract_epi32(
				_mm512_extracti32x4_epi32(z, 3), 3);
		} else {
			lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(z));
			hi = _mm512_cvtepi32_epi64(
				_mm512_extracti64x4_epi64(z, 1));
			prev += (uint64_t)(int64_t)_mm_extract_epi32(
				_mm512_extracti32x4_epi32(z, 3), 3);
		}
		_mm512_storeu_si512(v + i, _mm512_add_epi64(b, lo));
		_mm512_storeu_si512(v + i + 8, _mm512_add_epi64(b, hi));
	}
	for (; i < n; i++) {
		uint64_t z = s[i] | (uint64_t)s[m + i] << 8;

		or |= z;
		prev += uns ? z : (uint64_t)ht__unzz(z);
		v[i] = prev;
	}
	or |= (uint32_t)_mm512_reduce_or_epi32(orv);
	if (uns)
		*mono = p0 <= UINT64_MAX - (uint64_t)n * or;
	else
		*mono = !(or & 1) &&
			p0 <= UINT64_MAX - (uint64_t)n * (or >> 1);
	return prev;
}
#endif

/* 1 if enc is one of the MRU encodings (addr only). */
static int is_mru(int enc)
{
	return enc == HT__E_MRU_ADDR || enc == HT__E_MRU_BSS;
}

/* 1 if a column of encoding enc is a run of varints (that must end at
 * the column's end). */
static int varint_body(int enc)
{
	return enc == HT__E_VARINT || enc == HT__E_DELTA_VARINT ||
	       enc == HT__E_UDELTA_VARINT || enc == HT__E_REL_ADDR;
}

/* The next n values of column k into v: 0, -1 if malformed, -2 if a
 * value is too wide for its column.  *mono as undelta() says, 0 if the
 * encoding is not a delta one. */
static int col_take(struct col *k, uint64_t *v, uint32_t n, int *mono)
{
	*mono = 0;
	switch (k->enc) {
	case HT__E_PLAIN:
		get_plain(v, k->s + (size_t)k->i * k->w, n, k->w,
			  (size_t)(k->m - k->i) * k->w);
		break;
	case HT__E_BSS:
		get_bss(v, k->s + k->i, n, k->w, k->m);
		break;
	case HT__E_DELTA_BSS:
	case HT__E_UDELTA_BSS:
#if HT_X512
		if (k->w == 2 && x512_ok()) {
			k->prev = undelta_bss2_x(v, k->s + k->i, n, k->m,
						 k->prev, mono,
						 k->enc == HT__E_UDELTA_BSS);
			break;
		}
#endif
		if (k->w == 2) {
			k->prev = k->enc == HT__E_UDELTA_BSS ?
				undelta_bss2(v, k->s + k->i, n, k->m, k->prev,
					     mono, 1) :
				undelta_bss2(v, k->s + k->i, n, k->m, k->prev,
					     mono, 0);
			break;
		}
		get_bss(v, k->s + k->i, n, k->w, k->m);
		k->prev = k->enc == HT__E_UDELTA_BSS ?
				  undelta(v, n, k->prev, mono, 1) :
				  undelta(v, n, k->prev, mono, 0);
		break;
	case HT__E_DELTA_VARINT:
	case HT__E_UDELTA_VARINT:
		if (get_varints(v, &k->s, k->se, n))
			return -1;
		k->prev = k->enc == HT__E_UDELTA_VARINT ?
				  undelta(v, n, k->prev, mono, 1) :
				  undelta(v, n, k->prev, mono, 0);
		break;
	default: /* VARINT, REL_ADDR */
		if (get_varints(v, &k->s, k->se, n))
			return -1;
		break;
	}
	k->i += n;
	if (k->cw < 8 && k->enc != HT__E_REL_ADDR) {
		uint64_t or = 0;

		for (size_t i = 0; i < n; i++)
			or |= v[i];
		if (or >> (8 * k->cw))
			return -2;
	}
	return 0;
}

#if HT_X512
/*
 * unpack_ops() 64 ops at a time with AVX-512: each index widened to a
 * byte of its own, then the 16-entry map applied with one byte shuffle
 * (w 2 and 4) or a blend of its 2 entries (w 1).  Returns how many ops
 * it wrote, a multiple of 64.
 */
X512 static uint32_t unpack_ops_x(uint8_t *o, const uint8_t *s, uint32_t n,
				  unsigned w, const uint8_t *map)
{
	const __m512i tab = _mm512_broadcast_i32x4(
		_mm_loadu_si128((const __m128i *)(const void *)map));
	const __m512i m0 = _mm512_set1_epi8((char)map[0]);
	const __m512i m1 = _mm512_set1_epi8((char)map[1]);
	uint32_t i = 0;

	for (; i + 64 <= n; i += 64) {
		const uint8_t *p = s + (size_t)i / 8 * w;
		__m512i b, x;

		switch (w) {
		case 1: {
			uint64_t k;

			memcpy(&k, p, 8);
			_mm512_storeu_si512(o + i,
					    _mm512_mask_blend_epi8(k, m0, m1));
			continue;
		}
		case 2:
			b = _mm512_cvtepu8_epi32(_mm_loadu_si128(
				(const __m128i *)(const void *)p));
			x = _mm512_or_si512(
				_mm512_or_si512(
					_mm512_and_si512(b, _mm512_set1_epi32(3)),
					_mm512_slli_epi32(_mm512_and_si512(b,
						_mm512_set1_epi32(0xc)), 6)),
				_mm512_or_si512(
					_mm512_slli_epi32(_mm512_and_si512(b,
						_mm512_set1_epi32(0x30)), 12),
					_mm512_slli_epi32(_mm512_srli_epi32(b, 6),
							  24)));
			break;
		default:
			b = _mm512_cvtepu8_epi16(_mm256_loadu_si256(
				(const __m256i *)(const void *)p));
			x = _mm512_or_si512(
				_mm512_and_si512(b, _mm512_set1_epi16(0xf)),
				_mm512_slli_epi16(_mm512_srli_epi16(b, 4), 8));
			break;
		}
		_mm512_storeu_si512(o + i, _mm512_shuffle_epi8(tab, x));
	}
	return i;
}
/* xc[j]: the rows of o[0..n) whose op is oplist[j], 64 rows a compare
 * per op: for a block of a few ops, fewer steps than a histogram. */
X512 static void op_counts_x(const uint8_t *o, uint32_t n,
			     const uint8_t *oplist, unsigned n_ops,
			     uint32_t *xc)
{
	for (unsigned j = 0; j < n_ops; j++)
		xc[j] = 0;
	for (uint32_t i = 0; i < n; i += 64) {
		__mmask64 k = n - i >= 64 ? ~0ull : (1ull << (n - i)) - 1;
		__m512i x = _mm512_maskz_loadu_epi8(k, o + i);

		for (unsigned j = 0; j < n_ops; j++)
			xc[j] += (uint32_t)__builtin_popcountll(
				_mm512_mask_cmpeq_epi8_mask(k, x,
					_mm512_set1_epi8((char)oplist[j])));
	}
}
#else
static void op_counts_x(const uint8_t *o, uint32_t n, const uint8_t *oplist,
			unsigned n_ops, uint32_t *xc)
{
	(void)o; (void)n; (void)oplist; (void)n_ops; (void)xc;
}
#endif

/*
 * OPMAP_BITS: n op map indices of w bits (1, 2 or 4), 8 / w a byte from
 * the low bits, into the ops they name (through a table of what each
 * byte holds).  An index past the map becomes an op the map lacks, which
 * the op count check then rejects.  -1 if the bits after the last value
 * are not 0.
 */
static int unpack_ops(uint8_t *o, const uint8_t *s, uint32_t n, unsigned w,
		      const uint8_t *oplist, unsigned n_ops,
		      const uint16_t *opmask)
{
	uint8_t map[16], lut[256][8];
	unsigned per = 8 / w, mk = (1u << w) - 1, absent = 0;
	uint32_t i = 0, j = 0;

	while (absent < 255 && opmask[absent])
		absent++;
	for (unsigned k = 0; k <= mk; k++)
		map[k] = (uint8_t)(k < n_ops ? oplist[k] : absent);
	for (unsigned b = 0; b < 256; b++)
		for (unsigned k = 0; k < per; k++)
			lut[b][k] = map[(b >> (k * w)) & mk];
#if HT_X512
	if (x512_ok()) {
		i = unpack_ops_x(o, s, n, w, map);
		j = i / per;
	}
#endif
	switch (w) {
	case 1:
		for (; i + 8 <= n; i += 8)
			memcpy(o + i, lut[s[j++]], 8);
		break;
	case 2:
		for (; i + 4 <= n; i += 4)
			memcpy(o + i, lut[s[j++]], 4);
		break;
	default:
		for (; i + 2 <= n; i += 2)
			memcpy(o + i, lut[s[j++]], 2);
		break;
	}
	if (i < n) {
		if (s[j] >> ((n - i) * w))
			return -1;
		memcpy(o + i, lut[s[j]], n - i);
	}
	return 0;
}

/* The histories are rings of MRU_RING values (codes name 255 at most):
 * h[0..] history 0, h[MRU_RING..] history 1, then (mru_x()) the values
 * of a chunk's literals. */
#define MRU_RING 256
#define MRU_LITS (2 * MRU_RING)

/*
 * MRU_ADDR: per row class (allocating, freeing) a history of the values
 * pushed (code j = the value pushed j+1 ago into the other class's
 * history) and the last literal.
 */
struct mru {
	uint64_t h[MRU_LITS + CHUNK + 8];
	uint64_t lp[2];
	uint32_t n[2];
	const uint8_t *code, *lit, *se;
	uint32_t w, nl, li;  /* MRU_BSS: w-byte planes of nl literals, the
				next one; w = 0: varint literals (MRU_ADDR) */
	uint8_t kind[256]; /* 0: no addr, 1: allocating, 2: freeing */
	uint8_t frees[256]; /* the block's ops of kind 2 */
	unsigned nfree, dense; /* dense: every op of the block has kind > 0 */
};

/* 1 if an MRU column's literals were all used. */
static int mru_done(const struct mru *q)
{
	return q->w ? q->li == q->nl : q->lit == q->se;
}

/* The addr values of the rows ops[0..n) that carry one into v; -1 if
 * malformed.  The caller has checked that the codes last.  lits: the
 * chunk's literals (MRU_BSS), else NULL (varints, MRU_ADDR). */
static inline __attribute__((always_inline)) int
mru_run(struct mru *q, const uint8_t *ops, uint32_t n, uint64_t *v,
	const uint64_t *lits)
{
	const uint8_t *code = q->code, *lit = q->lit, *se = q->se;
	uint64_t lp0 = q->lp[0], lp1 = q->lp[1];
	uint32_t n0 = q->n[0], n1 = q->n[1];
	int px = pext_fast();

	for (uint32_t i = 0; i < n; i++) {
		unsigned kd = q->kind[ops[i]], j, k;
		uint64_t x, z;

		if (!kd)
			continue;
		j = *code++;
		if (j != HT__MRU_MISS) {
			uint32_t ng = kd == 1 ? n1 : n0;

			if (j >= ng)
				return -1;
			x = q->h[(kd == 1) * MRU_RING + ((ng - 1 - j) & (MRU_RING - 1))];
		} else {
			if (lits)
				z = *lits++;
			else if (se - lit >= 8 &&
				 (k = vfast(lit, &z, px)) != 0)
				lit += k;
			else if (ht__get_varint(&lit, se, &z))
				return -1;
			if (kd == 1)
				x = lp0 += (uint64_t)ht__unzz(z);
			else
				x = lp1 += (uint64_t)ht__unzz(z);
		}
		if (kd == 1)
			q->h[n0++ & (MRU_RING - 1)] = x;
		else
			q->h[MRU_RING + (n1++ & (MRU_RING - 1))] = x;
		*v++ = x;
	}
	q->code = code;
	q->lit = lit;
	q->lp[0] = lp0;
	q->lp[1] = lp1;
	q->n[0] = n0;
	q->n[1] = n1;
	return 0;
}

#if HT_X512
/*
 * mru_run() for MRU_BSS (its literals at hand) with AVX-512, in passes
 * over the chunk.  mru_run()'s branches on a row's class and on hit or
 * miss mispredict about every fourth row.  Pass 1, 16 rows at a time,
 * works out the push counts (prefix counts of the class bits) and so
 * the slot each row writes and the one it reads: a hit the history's, a
 * miss its literal's value, which pass 2 puts after the histories (8
 * literals at a time: zigzag deltas summed per class).  Pass 3 is then
 * a load and two stores a row.  fb[]: bit t set if row t (of the m with
 * codes) frees; mb[]: if it misses; lf[]: bit k set if the row of
 * literal k frees.
 */
X512 static int mru_x(struct mru *q, const uint64_t *fb, const uint64_t *mb,
		      const uint64_t *lf, uint32_t m, uint32_t nl,
		      uint64_t *v, const uint64_t *lits)
{
	const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8,
					      7, 6, 5, 4, 3, 2, 1, 0);
	const __m512i one = _mm512_set1_epi32(1);
	const __m512i hi = _mm512_set1_epi32(MRU_RING);
	const __m512i ring = _mm512_set1_epi32(MRU_RING - 1);
	const __m512i zero = _mm512_setzero_si512();
	uint32_t rs[CHUNK + 16], ws[CHUNK + 16];
	uint64_t *h = q->h, *lv = q->h + MRU_LITS;
	const uint8_t *code = q->code;
	__m512i lp0 = _mm512_set1_epi64((long long)q->lp[0]);
	__m512i lp1 = _mm512_set1_epi64((long long)q->lp[1]);
	uint32_t n0 = q->n[0], n1 = q->n[1];
	__mmask16 bad = 0;

	/* the push and literal counts before the 16 rows, in every lane:
	 * as scalars the compiler packed them into one vector register, a
	 * chain of moves between registers from one 16 rows to the next */
	__m512i c0 = _mm512_set1_epi32((int)n0), c1 = _mm512_set1_epi32((int)n1);
	__m512i ck = _mm512_set1_epi32(MRU_LITS);

	for (uint32_t t = 0; t < m; t += 16) {
		__mmask16 lim = m - t >= 16 ? 0xffff :
			(__mmask16)((1u << (m - t)) - 1);
		__mmask16 f = (__mmask16)(fb[t / 64] >> (t % 64)) & lim;
		__mmask16 mi = (__mmask16)(mb[t / 64] >> (t % 64)) & lim;
		__mmask16 a = (__mmask16)~f & lim, hit = (__mmask16)~mi & lim;
		/* allocating rows and misses up to each row: prefix sums of
		 * their 0 and 1 lanes */
		__m512i pa = _mm512_maskz_mov_epi32(a, one);
		__m512i pm = _mm512_maskz_mov_epi32(mi, one);
		__m512i n0v, n1v, ng, j, p, r, w;

		pa = _mm512_add_epi32(pa, _mm512_alignr_epi32(pa, zero, 15));
		pm = _mm512_add_epi32(pm, _mm512_alignr_epi32(pm, zero, 15));
		pa = _mm512_add_epi32(pa, _mm512_alignr_epi32(pa, zero, 14));
		pm = _mm512_add_epi32(pm, _mm512_alignr_epi32(pm, zero, 14));
		pa = _mm512_add_epi32(pa, _mm512_alignr_epi32(pa, zero, 12));
		pm = _mm512_add_epi32(pm, _mm512_alignr_epi32(pm, zero, 12));
		pa = _mm512_add_epi32(pa, _mm512_alignr_epi32(pa, zero, 8));
		pm = _mm512_add_epi32(pm, _mm512_alignr_epi32(pm, zero, 8));
		/* before each row: less its own */
		pa = _mm512_mask_sub_epi32(pa, a, pa, one);
		pm = _mm512_mask_sub_epi32(pm, mi, pm, one);
		n0v = _mm512_add_epi32(c0, pa);
		n1v = _mm512_add_epi32(c1, _mm512_sub_epi32(iota, pa));
		/* allocating rows look in history 1, freeing ones in 0 */
		ng = _mm512_mask_blend_epi32(f, n1v, n0v);
		j = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(lim, code + t));
		p = _mm512_sub_epi32(_mm512_sub_epi32(ng, one), j);
		bad |= _mm512_mask_cmpge_epu32_mask(hit, j, ng);
		r = _mm512_and_si512(p, ring);
		r = _mm512_mask_or_epi32(r, a, r, hi);
		r = _mm512_mask_add_epi32(r, mi, pm, ck);
		w = _mm512_and_si512(_mm512_mask_blend_epi32(f, n0v, n1v),
				     ring);
		w = _mm512_mask_or_epi32(w, f, w, hi);
		_mm512_storeu_si512(rs + t, r);
		_mm512_storeu_si512(ws + t, w);
		c0 = _mm512_add_epi32(c0, _mm512_set1_epi32(
					      __builtin_popcount(a)));
		c1 = _mm512_add_epi32(c1, _mm512_set1_epi32(
					      __builtin_popcount(f)));
		ck = _mm512_add_epi32(ck, _mm512_set1_epi32(
					      __builtin_popcount(mi)));
		n0 += (uint32_t)__builtin_popcount(a);
	}
	n1 = q->n[1] + m - (n0 - q->n[0]);
	if (bad)
		return -1;
	for (uint32_t i = 0; i < nl; i += 8) {
		__mmask8 f = (__mmask8)(lf[i / 64] >> (i % 64));
		__m512i d = _mm512_loadu_si512(lits + i), s0, s1;

		/* the literals: zigzag deltas, summed per class */
		d = _mm512_xor_si512(_mm512_srli_epi64(d, 1),
			_mm512_sub_epi64(zero, _mm512_and_si512(d,
				_mm512_set1_epi64(1))));
		s0 = _mm512_maskz_mov_epi64((__mmask8)~f, d);
		s1 = _mm512_maskz_mov_epi64(f, d);
		s0 = _mm512_add_epi64(s0, _mm512_alignr_epi64(s0, zero, 7));
		s1 = _mm512_add_epi64(s1, _mm512_alignr_epi64(s1, zero, 7));
		s0 = _mm512_add_epi64(s0, _mm512_alignr_epi64(s0, zero, 6));
		s1 = _mm512_add_epi64(s1, _mm512_alignr_epi64(s1, zero, 6));
		s0 = _mm512_add_epi64(s0, _mm512_alignr_epi64(s0, zero, 4));
		s1 = _mm512_add_epi64(s1, _mm512_alignr_epi64(s1, zero, 4));
		s0 = _mm512_add_epi64(s0, lp0);
		s1 = _mm512_add_epi64(s1, lp1);
		_mm512_storeu_si512(lv + i, _mm512_mask_blend_epi64(f, s0, s1));
		/* the last literal of each class, past the chunk's last */
		if (nl - i < 8) {
			__m512i at = _mm512_set1_epi64(nl - i - 1);

			s0 = _mm512_permutexvar_epi64(at, s0);
			s1 = _mm512_permutexvar_epi64(at, s1);
		} else {
			__m512i at = _mm512_set1_epi64(7);

			s0 = _mm512_permutexvar_epi64(at, s0);
			s1 = _mm512_permutexvar_epi64(at, s1);
		}
		lp0 = s0;
		lp1 = s1;
	}
	for (uint32_t t = 0; t < m; t++) {
		uint64_t x = h[rs[t]];

		h[ws[t]] = x;
		v[t] = x;
	}
	q->code = code + m;
	q->lp[0] = (uint64_t)_mm_cvtsi128_si64(_mm512_castsi512_si128(lp0));
	q->lp[1] = (uint64_t)_mm_cvtsi128_si64(_mm512_castsi512_si128(lp1));
	q->n[0] = n0;
	q->n[1] = n1;
	return 0;
}

/*
 * mru_take() with AVX-512: the class and miss bits of the chunk's rows
 * with codes, the literals, then mru_x().  When every op of the block
 * carries addr, a row frees if its op is one of the block's freeing
 * ops: a compare per such op, 64 rows at a time; else the rows with
 * codes are listed first.
 */
X512P static int mru_take_x(struct mru *q, const uint8_t *ops, uint32_t n,
			    uint32_t m, uint64_t *v)
{
	const __m512i ff = _mm512_set1_epi8((char)HT__MRU_MISS);
	uint64_t fb[CHUNK / 64 + 1], mb[CHUNK / 64 + 1], lits[CHUNK + 8];
	uint64_t lf[CHUNK / 64 + 2];
	uint8_t fr[CHUNK];
	const uint8_t *src = ops;
	uint32_t nl = 0;

	lf[0] = 0;
	if (!q->dense) {
		uint32_t t = 0;

		/* kind 1 (allocating) -> 0, 2 (freeing) -> 1; the rows
		 * without a code are overwritten */
		for (uint32_t i = 0; i < n; i++) {
			unsigned kd = q->kind[ops[i]];

			fr[t] = (uint8_t)(kd - 1);
			t += kd != 0;
		}
		if (t != m)
			return -1;
		src = fr;
	} else if (n != m) {
		return -1;
	}
	for (uint32_t t = 0, k = 0; t < m; t += 64, k++) {
		__mmask64 lim = m - t >= 64 ? ~0ull : (1ull << (m - t)) - 1;
		__m512i o = _mm512_maskz_loadu_epi8(lim, src + t);
		__m512i c = _mm512_maskz_loadu_epi8(lim, q->code + t);
		__mmask64 f = 0;
		uint64_t x;

		if (!q->dense)
			f = _mm512_test_epi8_mask(o, o);
		else
			for (unsigned i = 0; i < q->nfree; i++)
				f |= _mm512_cmpeq_epi8_mask(o,
					_mm512_set1_epi8((char)q->frees[i]));
		fb[k] = f & lim;
		mb[k] = _mm512_mask_cmpeq_epi8_mask(lim, c, ff);
		/* the class bits of the misses, in a row */
		x = _pext_u64(fb[k], mb[k]);
		if (nl % 64)
			lf[nl / 64] |= x << (nl % 64);
		else
			lf[nl / 64] = x;
		lf[nl / 64 + 1] = nl % 64 ? x >> (64 - nl % 64) : 0;
		nl += (uint32_t)__builtin_popcountll(mb[k]);
	}
	fb[CHUNK / 64] = mb[CHUNK / 64] = 0;
	if (nl > q->nl - q->li)
		return -1;
	get_bss(lits, q->lit + q->li, nl, q->w, q->nl);
	memset(lits + nl, 0, 8 * sizeof(*lits)); /* what 8 lanes read past */
	q->li += nl;
	return mru_x(q, fb, mb, lf, m, nl, v, lits);
}
#endif

/* mru_run() for a chunk whose rows carry m codes: MRU_BSS first takes
 * the chunk's literals out of their byte planes, all at once. */
static int mru_take(struct mru *q, const uint8_t *ops, uint32_t n,
		    uint32_t m, uint64_t *v)
{
	uint64_t lits[CHUNK];
	uint32_t nl = 0;

	if (!q->w)
		return mru_run(q, ops, n, v, NULL);
#if HT_X512
	if (x512_ok() && pext_fast())
		return mru_take_x(q, ops, n, m, v);
#endif
	for (uint32_t i = 0; i < m; i++)
		nl += q->code[i] == HT__MRU_MISS;
	if (nl > q->nl - q->li)
		return -1;
	get_bss(lits, q->lit + q->li, nl, q->w, q->nl);
	q->li += nl;
	return mru_run(q, ops, n, v, lits);
}


/*
 * Per op, one 128-byte record: the tail of its template event (old_size
 * to the end: pid, tid, op and the fields its CONST columns give), then
 * the masks and cursor steps of the four main columns.
 */
#define TAIL_AT offsetof(struct ht_event, old_size)
#define TAIL_LEN (sizeof(struct ht_event) - TAIL_AT)
struct oprec {
	uint8_t tail[TAIL_LEN];
	uint64_t ma, ms, mo;    /* all ones if the op carries the column */
	uint64_t ia, is, io;    /* 1 if it carries it and the column varies */
};
#define OPREC 128
_Static_assert(sizeof(struct oprec) <= OPREC, "oprec");

/*
 * One chunk of events: each row takes its op's template tail and the
 * values of ts, addr, size and old_addr; a column's cursor advances on
 * the rows that carry it (reading one past its values is safe: slack,
 * masked).  CONST columns read their one value with step 0.  alla:
 * every row carries addr and it varies.
 */
static inline __attribute__((always_inline)) void
assemble(struct ht_event *out, const uint8_t *o, uint32_t n,
	 const uint8_t *recs, const uint64_t *ts, size_t sts,
	 const uint64_t *pa, const uint64_t *ps, const uint64_t *po, int rel,
	 int alla)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct oprec *x = (const struct oprec *)(const void *)
			(recs + (size_t)o[i] * OPREC);
		struct ht_event *e = &out[i];
		uint64_t a, v;

		e->ts = *ts;
		ts += sts;
		if (alla) {
			a = pa[i];
		} else {
			a = *pa & x->ma;
			pa += x->ia;
		}
		e->addr = a;
		e->size = *ps & x->ms;
		ps += x->is;
		v = *po & x->mo;
		po += x->io;
		if (rel)
			v = (a + (uint64_t)ht__unzz(v)) & x->mo;
		e->old_addr = v;
		memcpy((char *)e + TAIL_AT, x->tail, TAIL_LEN);
	}
}

#if HT_X512
/*
 * assemble() with each event written by two wide stores: its first four
 * fields and the first half of its template tail in one 64-byte store,
 * the other half in one 32-byte store, where the narrow stores of
 * assemble() were eight a row.
 */
X512 static inline __attribute__((always_inline)) void
assemble_xk(struct ht_event *out, const uint8_t *o, uint32_t n,
	    const uint8_t *recs, const uint64_t *ts, size_t sts,
	    const uint64_t *pa, const uint64_t *ps, const uint64_t *po,
	    int rel, int alla)
{
	_Static_assert(TAIL_AT == 32 && TAIL_LEN == 64, "event layout");
	for (uint32_t i = 0; i < n; i++) {
		const struct oprec *x = (const struct oprec *)(const void *)
			(recs + (size_t)o[i] * OPREC);
		char *e = (char *)&out[i];
		uint64_t a, sz, v;
		__m512i t = _mm512_loadu_si512(x->tail);
		__m256i h;

		if (alla) {
			a = pa[i];
		} else {
			a = *pa & x->ma;
			pa += x->ia;
		}
		sz = *ps & x->ms;
		ps += x->is;
		v = *po & x->mo;
		po += x->io;
		if (rel)
			v = (a + (uint64_t)ht__unzz(v)) & x->mo;
		h = _mm256_set_epi64x((long long)v, (long long)sz,
				      (long long)a, (long long)*ts);
		ts += sts;
		_mm512_storeu_si512(e, _mm512_inserti64x4(
			_mm512_castsi256_si512(h), _mm512_castsi512_si256(t),
			1));
		_mm256_storeu_si256((__m256i *)(void *)(e + 64),
				    _mm512_extracti64x4_epi64(t, 1));
	}
}

X512 static void assemble_x(struct ht_event *out, const uint8_t *o,
			    uint32_t n, const uint8_t *recs,
			    const uint64_t *ts, size_t sts,
			    const uint64_t *pa, const uint64_t *ps,
			    const uint64_t *po, int rel, int alla);

/* An event of 32 bytes of fields row and the 64 of its op's tail. */
X512 static inline void put_event(char *e, __m256i row, const uint8_t *tail)
{
	__m256i lo = _mm256_loadu_si256((const __m256i *)(const void *)tail);
	__m256i hi = _mm256_loadu_si256((const __m256i *)(const void *)
					(tail + 32));

	_mm512_storeu_si512(e, _mm512_inserti64x4(_mm512_castsi256_si512(row),
						  lo, 1));
	_mm256_storeu_si256((__m256i *)(void *)(e + 64), hi);
}

/*
 * assemble() 8 rows at a time, for a block whose ops are all below 64:
 * the rows' op masks by one permute through opmask[0..63], then ts,
 * addr, size and old_addr of the 8 rows each in one vector (a varying
 * column's values expanded into the rows that carry it, a CONST one's
 * put there), turned into the rows' first 32 bytes by a 4 x 8
 * transpose.  vary[k]: addr, size, old_addr vary (their cursor steps).
 * The rows past the last 8 go to assemble_xk().
 */
X512 static void assemble_x8(struct ht_event *out, const uint8_t *o,
			     uint32_t n, const uint8_t *recs,
			     const uint16_t *opmask, const uint64_t *ts,
			     size_t sts, const uint64_t *pa,
			     const uint64_t *ps, const uint64_t *po,
			     const int *vary, int rel, int alla)
{
	const __m512i t0 = _mm512_loadu_si512(opmask);
	const __m512i t1 = _mm512_loadu_si512(opmask + 32);
	const __m128i ba = _mm_set1_epi16(HT__COLBIT(HT__C_ADDR));
	const __m128i bs = _mm_set1_epi16(HT__COLBIT(HT__C_SIZE));
	const __m128i bo = _mm_set1_epi16(HT__COLBIT(HT__C_OLD_ADDR));
	const __m512i i02 = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
	const __m512i i46 = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
	const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi64(1);
	uint32_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m128i m = _mm512_castsi512_si128(_mm512_permutex2var_epi16(t0,
			_mm512_castsi128_si512(_mm_cvtepu8_epi16(
				_mm_loadl_epi64((const __m128i *)(const void *)
						(o + i)))), t1));
		__mmask8 ka = _mm_test_epi16_mask(m, ba);
		__mmask8 ks = _mm_test_epi16_mask(m, bs);
		__mmask8 ko = _mm_test_epi16_mask(m, bo);
		__m512i t = sts ? _mm512_loadu_si512(ts + i) :
				  _mm512_set1_epi64((long long)*ts);
		__m512i a, sz, v, u0, u1, u2, u3, r02, r13, r46, r57;
		char *e = (char *)&out[i];

		if (vary[0]) {
			a = xexpand(ka, pa);
			pa += __builtin_popcount(ka);
		} else {
			a = _mm512_maskz_set1_epi64(ka, (long long)*pa);
		}
		if (vary[1]) {
			sz = xexpand(ks, ps);
			ps += __builtin_popcount(ks);
		} else {
			sz = _mm512_maskz_set1_epi64(ks, (long long)*ps);
		}
		if (vary[2]) {
			v = xexpand(ko, po);
			po += __builtin_popcount(ko);
		} else {
			v = _mm512_maskz_set1_epi64(ko, (long long)*po);
		}
		if (rel)
			v = _mm512_maskz_add_epi64(ko, a, _mm512_xor_si512(
				_mm512_srli_epi64(v, 1),
				_mm512_sub_epi64(zero, _mm512_and_si512(v, one))));
		u0 = _mm512_unpacklo_epi64(t, a);
		u1 = _mm512_unpackhi_epi64(t, a);
		u2 = _mm512_unpacklo_epi64(sz, v);
		u3 = _mm512_unpackhi_epi64(sz, v);
		r02 = _mm512_permutex2var_epi64(u0, i02, u2);
		r13 = _mm512_permutex2var_epi64(u1, i02, u3);
		r46 = _mm512_permutex2var_epi64(u0, i46, u2);
		r57 = _mm512_permutex2var_epi64(u1, i46, u3);
#define TAIL(k) (recs + (size_t)o[i + (k)] * OPREC)
		put_event(e, _mm512_castsi512_si256(r02), TAIL(0));
		put_event(e + 96, _mm512_castsi512_si256(r13), TAIL(1));
		put_event(e + 192, _mm512_extracti64x4_epi64(r02, 1), TAIL(2));
		put_event(e + 288, _mm512_extracti64x4_epi64(r13, 1), TAIL(3));
		put_event(e + 384, _mm512_castsi512_si256(r46), TAIL(4));
		put_event(e + 480, _mm512_castsi512_si256(r57), TAIL(5));
		put_event(e + 576, _mm512_extracti64x4_epi64(r46, 1), TAIL(6));
		put_event(e + 672, _mm512_extracti64x4_epi64(r57, 1), TAIL(7));
#undef TAIL
	}
	if (i < n)
		assemble_x(out + i, o + i, n - i, recs, ts + i * sts, sts, pa,
			   ps, po, rel, alla);
}

X512 static void assemble_x(struct ht_event *out, const uint8_t *o,
			    uint32_t n, const uint8_t *recs,
			    const uint64_t *ts, size_t sts,
			    const uint64_t *pa, const uint64_t *ps,
			    const uint64_t *po, int rel, int alla)
{
	if (alla && rel)
		assemble_xk(out, o, n, recs, ts, sts, pa, ps, po, 1, 1);
	else if (alla)
		assemble_xk(out, o, n, recs, ts, sts, pa, ps, po, 0, 1);
	else if (rel)
		assemble_xk(out, o, n, recs, ts, sts, pa, ps, po, 1, 0);
	else
		assemble_xk(out, o, n, recs, ts, sts, pa, ps, po, 0, 0);
}
#endif

/* A varying column other than the four main ones, into its field;
 * all: every row carries it. */
static void fill_rare(struct ht_event *out, const uint8_t *o, uint32_t n,
		      const uint16_t *opmask, int c, const uint64_t *v,
		      int all)
{
	unsigned sh = (unsigned)c - 1;

#define FILL(field, type)                                                  \
	if (all) {                                                         \
		for (uint32_t i = 0; i < n; i++)                           \
			out[i].field = (type)v[i];                         \
		break;                                                     \
	}                                                                  \
	for (uint32_t i = 0; i < n; i++) {                                 \
		uint64_t on = (opmask[o[i]] >> sh) & 1;                    \
		out[i].field = (type)(*v & (0 - on));                      \
		v += on;                                                   \
	}                                                                  \
	break
	switch (c) {
	case HT__C_OLD_SIZE: FILL(old_size, uint64_t);
	case HT__C_ALIGN: FILL(align, uint64_t);
	case HT__C_NMEMB: FILL(nmemb, uint64_t);
	case HT__C_HEAP: FILL(heap, uint64_t);
	case HT__C_DUR: FILL(dur, uint64_t);
	case HT__C_AUX: FILL(aux, uint32_t);
	case HT__C_FLAGS: FILL(flags, uint32_t);
	default: FILL(result, int32_t);
	}
#undef FILL
}

static void tmpl_set(struct ht_event *ev, int col, uint64_t v)
{
	switch (col) {
	case HT__C_TS: ev->ts = v; break;
	case HT__C_ADDR: ev->addr = v; break;
	case HT__C_SIZE: ev->size = v; break;
	case HT__C_OLD_ADDR: ev->old_addr = v; break;
	case HT__C_OLD_SIZE: ev->old_size = v; break;
	case HT__C_ALIGN: ev->align = v; break;
	case HT__C_NMEMB: ev->nmemb = v; break;
	case HT__C_HEAP: ev->heap = v; break;
	case HT__C_DUR: ev->dur = v; break;
	case HT__C_AUX: ev->aux = (uint32_t)v; break;
	case HT__C_FLAGS: ev->flags = (uint32_t)v; break;
	default: ev->result = (int32_t)(uint32_t)v; break;
	}
}

/* The smallest and largest of t[0..n) into *lo, *hi (mono: t never
 * decreases). */
static inline void ts_range(const uint64_t *t, uint32_t n, int mono,
			    uint64_t *lo, uint64_t *hi)
{
	if (mono) {
		*lo = t[0] < *lo ? t[0] : *lo;
		*hi = t[n - 1] > *hi ? t[n - 1] : *hi;
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		*lo = t[i] < *lo ? t[i] : *lo;
		*hi = t[i] > *hi ? t[i] : *hi;
	}
}

/* Once every row is decoded, each varint column must end at its last
 * value and an MRU column must have used all its literals: NULL, or
 * what is wrong. */
static const char *cols_end(const int *enc_of, const struct col *cl,
			    const struct mru *q)
{
	for (int c = HT__C_TS; c <= HT__NCOLS; c++) {
		if (is_mru(enc_of[c])) {
			if (!mru_done(q))
				return "MRU body";
		} else if (varint_body(enc_of[c]) && cl[c].s != cl[c].se) {
			return "varint";
		}
	}
	return NULL;
}

/* What dec_block() hands dec_columns() once the block is checked. */
struct dblk {
	const struct ht__evprefix *pf;
	const uint16_t *opmask;
	const uint8_t *oplist, *ops;
	const int *enc_of;
	const uint64_t *cval;
	struct col *cl;
	struct mru *q;
	uint32_t count, nch;
	uint64_t num, den;
};

#define BAD(msg)                                                           \
	do {                                                               \
		*what = (msg);                                             \
		return HT_ECORRUPT;                                        \
	} while (0)

static int dec_columns(struct ht_decoder *d, const struct dblk *k,
		       struct ht_columns *out, const char **what);

/* Checks the payload, decodes its op column and readies the others; then
 * assembles events into out or, with cols, fills column arrays. */
static int dec_block(struct ht_decoder *d, const uint8_t *p, size_t len,
		     uint32_t count, uint64_t num, uint64_t den,
		     struct ht_event *out, struct ht_columns *cols,
		     const char **what)
{
	struct ht__evprefix pf;
	uint16_t opmask[256];
	uint8_t oplist[256];
	const uint8_t *dirp, *body, *end = p + len, *b, *ops = NULL;
	uint32_t need[HT__NCOLS + 1];
	int enc_of[HT__NCOLS + 1];
	uint64_t cval[HT__NCOLS + 1];
	struct col cl[HT__NCOLS + 1];
	struct mru q;
	uint32_t nch = (uint32_t)(((uint64_t)count + CHUNK - 1) / CHUNK);
	const char *bad;

	*what = "";
	q.code = q.lit = q.se = NULL;
	q.w = q.nl = q.li = 0;
	q.lp[0] = q.lp[1] = 0;
	q.n[0] = q.n[1] = 0;
	if (ht__ev_prefix(p, len, count, &pf))
		BAD("events prefix");
	memset(opmask, 0, sizeof(opmask));
	size_t pos = HT__EV_PREFIX;
	if ((size_t)pf.n_ops * HT__OPMAP_ENTRY > len - pos)
		BAD("op map");
	for (unsigned k = 0; k < pf.n_ops; k++) {
		const uint8_t *e = p + pos + (size_t)k * HT__OPMAP_ENTRY;
		uint16_t mask = ht__rd16(e + 2);

		/* a valid mask is never 0: a second entry is seen */
		if (opmask[e[0]] || e[1] != 0 ||
		    (mask & HT__MASK_ALWAYS) != HT__MASK_ALWAYS)
			BAD("op map");
		opmask[e[0]] = mask;
		oplist[k] = e[0];
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

	/* The directory's lengths must add up to the payload. */
	b = body;
	for (unsigned k = 0; k < pf.n_cols; k++) {
		const uint8_t *de = dirp + (size_t)k * HT__DIR_ENTRY;
		uint32_t stored = ht__rd32(de + 12);

		if (stored > (size_t)(end - b))
			BAD("column length");
		b += stored;
		if (de[0] == 0)
			BAD("column id");
	}
	if (b != end)
		BAD("payload length");
	if (!d->cv) {
		/* the chunk values, then the op records */
		d->cv = calloc((HT__NCOLS + 1) * CSTRIDE + 256 * OPREC / 8,
			       sizeof(uint64_t));
		if (!d->cv)
			return HT_ENOMEM;
	}

	/* Pass 0 checks and decodes the op column, pass 1 checks the
	 * others and readies them to be read a chunk at a time. */
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
			case HT__E_UDELTA_BSS:
				if (w < 1 || w > cw ||
				    raw_len != (uint64_t)m * w)
					BAD("column width");
				break;
			case HT__E_CONST:
				if (raw_len || stored || codec || w)
					BAD("const column");
				break;
			case HT__E_OPMAP_BITS:
				if (c != HT__C_OP)
					BAD("encoding not allowed here");
				if ((w != 1 && w != 2 && w != 4) ||
				    raw_len != ((uint64_t)m * w + 7) / 8)
					BAD("column width");
				break;
			case HT__E_MRU_ADDR:
				if (c != HT__C_ADDR)
					BAD("encoding not allowed here");
				if (w || raw_len < m ||
				    raw_len > (uint64_t)m * 11)
					BAD("column raw length");
				break;
			case HT__E_MRU_BSS:
				if (c != HT__C_ADDR)
					BAD("encoding not allowed here");
				if (w < 1 || w > 8 || raw_len < m ||
				    (raw_len - m) % w ||
				    (raw_len - m) / w > m)
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

				if (grow_buf((void **)&d->col[c], &d->ccap[c],
					     (size_t)raw_len + 16))
					return HT_ENOMEM;
				if (!d->dctx) {
					d->dctx = ZSTD_createDCtx();
					if (!d->dctx)
						return HT_ENOMEM;
				}
				r = ZSTD_decompressDCtx(d->dctx, d->col[c],
							raw_len, s, stored);
				if (ZSTD_isError(r) || r != raw_len) {
					*what = "column zstd frame";
					return HT_EZSTD;
				}
				s = (const uint8_t *)d->col[c];
			}
			enc_of[c] = (int)enc;
			if (enc == HT__E_CONST) {
				cval[c] = param;
				if (cw < 8 && param >> (8 * cw))
					BAD("value too wide for its column");
				continue;
			}
			if (param && enc != HT__E_DELTA_BSS &&
			    enc != HT__E_DELTA_VARINT && !is_mru(enc) &&
			    enc != HT__E_UDELTA_BSS &&
			    enc != HT__E_UDELTA_VARINT)
				BAD("column parameter");
			if (is_mru(enc)) {
				q.code = s;
				q.lit = s + m;
				q.se = s + raw_len;
				q.w = enc == HT__E_MRU_BSS ? w : 0;
				q.nl = q.w ? (raw_len - m) / w : 0;
				q.li = 0;
				q.lp[0] = q.lp[1] = param;
				q.n[0] = q.n[1] = 0;
				q.nfree = 0;
				q.dense = 1;
				for (unsigned j = 0; j < pf.n_ops; j++) {
					int op = oplist[j], a = opmask[op] &
						HT__COLBIT(HT__C_ADDR);

					q.kind[op] = !a ? 0 :
						(uint8_t)(1 + ht__op_frees(op));
					q.dense &= q.kind[op] != 0;
					if (q.kind[op] == 2)
						q.frees[q.nfree++] = (uint8_t)op;
				}
				continue;
			}
			cl[c].s = s;
			cl[c].se = s + raw_len;
			cl[c].m = m;
			cl[c].i = 0;
			cl[c].enc = enc;
			cl[c].w = w;
			cl[c].cw = cw;
			cl[c].prev = param;
		}
		if (pass == 1 || count == 0)
			continue;
		if (enc_of[HT__C_OP] < 0)
			BAD("missing op column");
		if (grow_buf((void **)&d->buf, &d->cap, count))
			return HT_ENOMEM;
		if (enc_of[HT__C_OP] == HT__E_CONST) {
			memset(d->buf, (int)cval[HT__C_OP], count);
			ops = d->buf;
		} else if (enc_of[HT__C_OP] == HT__E_PLAIN ||
			   enc_of[HT__C_OP] == HT__E_BSS) {
			ops = cl[HT__C_OP].s; /* one byte a value */
		} else if (enc_of[HT__C_OP] == HT__E_OPMAP_BITS) {
			if (unpack_ops(d->buf, cl[HT__C_OP].s, count,
				       cl[HT__C_OP].w, oplist, pf.n_ops,
				       opmask))
				BAD("op column padding");
			ops = d->buf;
		} else {
			uint64_t *v = d->cv;

			for (uint32_t i = 0; i < count; i += CHUNK) {
				uint32_t n = count - i < CHUNK ? count - i :
					     CHUNK;
				int mono;
				int rc = col_take(&cl[HT__C_OP], v, n, &mono);

				if (rc == -2)
					BAD("value too wide for its column");
				if (rc)
					BAD("varint");
				for (uint32_t j = 0; j < n; j++)
					d->buf[i + j] = (uint8_t)v[j];
			}
			if (varint_body(enc_of[HT__C_OP]) &&
			    cl[HT__C_OP].s != cl[HT__C_OP].se)
				BAD("varint");
			ops = d->buf;
		}
		/* Per chunk, the values each column gives; and the
		 * block's. */
		if (grow_buf((void **)&d->cnt, &d->cntcap,
			     (size_t)nch * 16 * sizeof(uint32_t)))
			return HT_ENOMEM;
		uint32_t h[4][256], xc[256];
		int vx = x512_ok() && pf.n_ops <= 8;

		memset(h, 0, sizeof(h));
		for (uint32_t ch = 0; ch < nch; ch++) {
			const uint8_t *o = ops + (size_t)ch * CHUNK;
			uint32_t n = count - ch * CHUNK, tot = 0, i = 0;
			uint32_t *cc = d->cnt + (size_t)ch * 16;

			n = n < CHUNK ? n : CHUNK;
			if (vx) {
				op_counts_x(o, n, oplist, pf.n_ops, xc);
			} else {
				for (; i + 4 <= n; i += 4) {
					h[0][o[i]]++;
					h[1][o[i + 1]]++;
					h[2][o[i + 2]]++;
					h[3][o[i + 3]]++;
				}
				for (; i < n; i++)
					h[0][o[i]]++;
				for (unsigned j = 0; j < pf.n_ops; j++) {
					int op = oplist[j];

					xc[j] = h[0][op] + h[1][op] +
						h[2][op] + h[3][op];
					h[0][op] = h[1][op] = h[2][op] =
						h[3][op] = 0;
				}
			}
			memset(cc, 0, 16 * sizeof(uint32_t));
			for (unsigned j = 0; j < pf.n_ops; j++) {
				uint32_t x = xc[j];
				uint16_t mk = opmask[oplist[j]];

				if (!x)
					continue;
				tot += x;
				for (int cc_ = 1; cc_ <= HT__NCOLS; cc_++)
					cc[cc_] += ((mk >> (cc_ - 1)) & 1) * x;
			}
			if (tot != n)
				BAD("op not in op map");
			for (int c = 1; c <= HT__NCOLS; c++)
				need[c] += cc[c];
		}
	}
	/* A column that rows carry but the directory leaves out is all
	 * zeros: cval[c] is 0 and the assembly reads it as CONST. */
	if (enc_of[HT__C_OLD_ADDR] == HT__E_REL_ADDR) {
		for (unsigned j = 0; j < pf.n_ops; j++) {
			uint16_t mk = opmask[oplist[j]];

			if ((mk & HT__COLBIT(HT__C_OLD_ADDR)) &&
			    !(mk & HT__COLBIT(HT__C_ADDR)))
				BAD("old_addr relative to a missing addr");
		}
	}
	if (cols) {
		struct dblk k = {
			.pf = &pf, .opmask = opmask, .oplist = oplist,
			.ops = ops, .enc_of = enc_of, .cval = cval, .cl = cl,
			.q = &q, .count = count, .nch = nch, .num = num,
			.den = den,
		};

		return dec_columns(d, &k, cols, what);
	}
	if (count == 0)
		return 0;

	/*
	 * Per op, a template event holding pid, tid and every field its
	 * CONST columns give, and the steps of the main columns.
	 */
	uint8_t *recs = (uint8_t *)(d->cv + (HT__NCOLS + 1) * CSTRIDE);
	int vary[HT__NCOLS + 1], n_rare = 0, rare[HT__NCOLS], alla;
	uint64_t ts_c = ht__to_ns(cval[HT__C_TS], num, den);

	for (int c = 1; c <= HT__NCOLS; c++)
		vary[c] = enc_of[c] >= 0 && enc_of[c] != HT__E_CONST;
	alla = vary[HT__C_ADDR];
	for (unsigned j = 0; j < pf.n_ops; j++) {
		int op = oplist[j];
		uint16_t mk = opmask[op];
		struct oprec *x = (struct oprec *)(void *)(recs +
							   (size_t)op * OPREC);
		struct ht_event t;

		memset(&t, 0, sizeof(t));
		t.op = (uint8_t)op;
		t.pid = pf.pid;
		t.tid = pf.tid;
		for (int c = HT__C_OLD_SIZE; c <= HT__NCOLS; c++)
			if (!vary[c] && ((mk >> (c - 1)) & 1))
				tmpl_set(&t, c, c == HT__C_DUR ?
					 ht__to_ns(cval[c], num, den) :
					 cval[c]);
		memcpy(x->tail, (const char *)&t + TAIL_AT, TAIL_LEN);
		x->ma = 0 - (uint64_t)((mk >> (HT__C_ADDR - 1)) & 1);
		x->ms = 0 - (uint64_t)((mk >> (HT__C_SIZE - 1)) & 1);
		x->mo = 0 - (uint64_t)((mk >> (HT__C_OLD_ADDR - 1)) & 1);
		x->ia = (x->ma & 1) & (uint64_t)vary[HT__C_ADDR];
		x->is = (x->ms & 1) & (uint64_t)vary[HT__C_SIZE];
		x->io = (x->mo & 1) & (uint64_t)vary[HT__C_OLD_ADDR];
		alla &= !!x->ia;
	}
	uint16_t mall = HT__MASK_ALL;

	int small = 1;

	for (unsigned j = 0; j < pf.n_ops; j++) {
		mall &= opmask[oplist[j]];
		small &= oplist[j] < 64;
	}
	for (int c = HT__C_OLD_SIZE; c <= HT__NCOLS; c++)
		if (vary[c])
			rare[n_rare++] = c;

	/* Decode a chunk of every varying column, then assemble it. */
	uint64_t *cv = d->cv, lo = UINT64_MAX, hi = 0;
	int rel = enc_of[HT__C_OLD_ADDR] == HT__E_REL_ADDR;
	const uint64_t *pa = vary[HT__C_ADDR] ? cv + HT__C_ADDR * CSTRIDE :
			     &cval[HT__C_ADDR];
	const uint64_t *ps = vary[HT__C_SIZE] ? cv + HT__C_SIZE * CSTRIDE :
			     &cval[HT__C_SIZE];
	const uint64_t *po = vary[HT__C_OLD_ADDR] ?
				     cv + HT__C_OLD_ADDR * CSTRIDE :
				     &cval[HT__C_OLD_ADDR];
	const uint64_t *pt = vary[HT__C_TS] ? cv + HT__C_TS * CSTRIDE : &ts_c;
	size_t sts = (size_t)vary[HT__C_TS];
#if HT_X512
	int x512 = x512_ok();
#endif

	for (uint32_t ch = 0; ch < nch; ch++) {
		const uint8_t *o = ops + (size_t)ch * CHUNK;
		uint32_t n = count - ch * CHUNK;
		const uint32_t *cc = d->cnt + (size_t)ch * 16;
		struct ht_event *e = out + (size_t)ch * CHUNK;

		n = n < CHUNK ? n : CHUNK;
		int mono = 0;

		for (int c = HT__C_TS; c <= HT__NCOLS; c++) {
			int rc, mo;

			if (!vary[c])
				continue;
			if (is_mru(enc_of[c])) {
				if (mru_take(&q, o, n, cc[c], cv + c * CSTRIDE))
					BAD("MRU body");
				continue;
			}
			rc = col_take(&cl[c], cv + c * CSTRIDE, cc[c], &mo);
			if (c == HT__C_TS)
				mono = mo;
			if (rc == -2)
				BAD("value too wide for its column");
			if (rc)
				BAD("varint");
		}
		if (vary[HT__C_TS]) {
			uint64_t *t = cv + HT__C_TS * CSTRIDE;

			ts_range(t, n, mono, &lo, &hi);
			if (num != den)
				for (uint32_t i = 0; i < n; i++)
					t[i] = ht__to_ns(t[i], num, den);
		}
#if HT_X512
		if (x512 && small)
			assemble_x8(e, o, n, recs, opmask, pt, sts, pa, ps, po,
				    vary + HT__C_ADDR, rel, alla);
		else if (x512)
			assemble_x(e, o, n, recs, pt, sts, pa, ps, po, rel,
				   alla);
		else
#endif
		if (alla && rel)
			assemble(e, o, n, recs, pt, sts, pa, ps, po, 1, 1);
		else if (alla)
			assemble(e, o, n, recs, pt, sts, pa, ps, po, 0, 1);
		else if (rel)
			assemble(e, o, n, recs, pt, sts, pa, ps, po, 1, 0);
		else
			assemble(e, o, n, recs, pt, sts, pa, ps, po, 0, 0);
		for (int k = 0; k < n_rare; k++)
			fill_rare(e, o, n, opmask, rare[k],
				  cv + rare[k] * CSTRIDE,
				  (mall >> (rare[k] - 1)) & 1);
		if (vary[HT__C_DUR] && num != den)
			for (uint32_t i = 0; i < n; i++)
				e[i].dur = ht__to_ns(e[i].dur, num, den);
	}

	if ((bad = cols_end(enc_of, cl, &q)) != NULL)
		BAD(bad);
	/* ts_min/ts_max must be the column's */
	if (!vary[HT__C_TS])
		lo = hi = cval[HT__C_TS];
	if (lo != pf.ts_min || hi != pf.ts_max)
		BAD("ts_min/ts_max");
	return (int)count;
}

int ht__dec_block(struct ht_decoder *d, const uint8_t *p, size_t len,
		  uint32_t count, uint64_t num, uint64_t den,
		  struct ht_event *out, const char **what)
{
	return dec_block(d, p, len, count, num, den, out, NULL, what);
}

/*
 * Columns.  A column that every op of the block carries and that fills a
 * u64 decodes straight into its array; the others decode a chunk into
 * the chunk values, then spread to the rows that carry them (0 in the
 * rows that do not).
 */

/* The n values v of column c into the rows of o that carry it. */
static void spread64(uint64_t *dst, const uint8_t *o, uint32_t n,
		     const uint16_t *opmask, unsigned c, const uint64_t *v)
{
	unsigned sh = c - 1;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t on = (opmask[o[i]] >> sh) & 1;

		dst[i] = *v & (0 - on);
		v += on;
	}
}

static void spread32(uint32_t *dst, const uint8_t *o, uint32_t n,
		     const uint16_t *opmask, unsigned c, const uint64_t *v)
{
	unsigned sh = c - 1;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t on = (opmask[o[i]] >> sh) & 1;

		dst[i] = (uint32_t)(*v & (0 - on));
		v += on;
	}
}

/* REL_ADDR old_addr: the row's addr (a, NULL: 0) plus the zigzag delta. */
static void spread_rel(uint64_t *dst, const uint8_t *o, uint32_t n,
		       const uint16_t *opmask, const uint64_t *a,
		       const uint64_t *v)
{
	unsigned sh = HT__C_OLD_ADDR - 1;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t on = (opmask[o[i]] >> sh) & 1;
		uint64_t x = (a ? a[i] : 0) + (uint64_t)ht__unzz(*v);

		dst[i] = x & (0 - on);
		v += on;
	}
}

/*
 * The same with AVX-512 where the CPU has it: per 32 rows one test of
 * their op masks gives the rows that carry the column, and per 8 rows
 * one expanding load puts the next values in those rows (zeros in the
 * others).  m16[i] is row i's op mask, for the n rows of a chunk.
 */
#if HT_X512
enum { XS_U64, XS_U32, XS_REL, XS_CONST };

/* kind XS_CONST: the value is *v, in every row that carries c; XS_REL:
 * a holds the rows' addr (NULL: 0). */
X512 static void xspread(void *dst, const uint16_t *m16, uint32_t n,
			 unsigned c, const uint64_t *v, const uint64_t *a,
			 int kind)
{
	const __m512i bit = _mm512_set1_epi16((short)(1u << (c - 1)));
	const __m512i one = _mm512_set1_epi64(1), zero = _mm512_setzero_si512();
	const __m512i cst = _mm512_set1_epi64((long long)*v);
	uint64_t *d64 = dst;
	uint32_t *d32 = dst;

	for (uint32_t i = 0; i < n; i += 32) {
		uint32_t left = n - i;
		uint32_t lim = left >= 32 ? 0xffffffffu : (1u << left) - 1;
		uint32_t k = _mm512_test_epi16_mask(
				     _mm512_loadu_si512(m16 + i), bit) & lim;

		for (unsigned g = 0; g < 4 && 8 * g < left; g++) {
			__mmask8 k8 = (__mmask8)(k >> (8 * g));
			__mmask8 l8 = (__mmask8)(lim >> (8 * g));
			size_t r = (size_t)i + 8 * g;
			__m512i x;

			switch (kind) {
			case XS_CONST:
				x = _mm512_maskz_mov_epi64(k8, cst);
				_mm512_mask_storeu_epi64(d64 + r, l8, x);
				continue;
			case XS_U32:
				x = xexpand(k8, v);
				_mm256_mask_storeu_epi32(d32 + r, l8,
					_mm512_cvtepi64_epi32(x));
				break;
			case XS_REL: {
				__m512i z = xexpand(k8, v);
				__m512i dz = _mm512_xor_si512(
					_mm512_srli_epi64(z, 1),
					_mm512_sub_epi64(zero,
						_mm512_and_si512(z, one)));
				__m512i av = a ? _mm512_maskz_loadu_epi64(l8,
									  a + r) :
						 zero;

				x = _mm512_maskz_add_epi64(k8, av, dz);
				_mm512_mask_storeu_epi64(d64 + r, l8, x);
				break;
			}
			default:
				x = xexpand(k8, v);
				_mm512_mask_storeu_epi64(d64 + r, l8, x);
				break;
			}
			v += __builtin_popcount(k8);
		}
	}
}

/* m16[i] = opmask[o[i]] for the n rows of a chunk (m16 has room for
 * CHUNK), 32 at a time by one permute through opmask[0..63]: for a
 * block whose ops are all below 64. */
X512 static void mask16_x(uint16_t *m16, const uint8_t *o, uint32_t n,
			  const uint16_t *opmask)
{
	const __m512i t0 = _mm512_loadu_si512(opmask);
	const __m512i t1 = _mm512_loadu_si512(opmask + 32);

	for (uint32_t i = 0; i < n; i += 32) {
		__mmask32 k = n - i >= 32 ? 0xffffffffu : (1u << (n - i)) - 1;
		__m512i x = _mm512_cvtepu8_epi16(
			_mm256_maskz_loadu_epi8(k, o + i));

		_mm512_storeu_si512(m16 + i,
				    _mm512_permutex2var_epi16(t0, x, t1));
	}
}

#else
enum { XS_U64, XS_U32, XS_REL, XS_CONST };

static void xspread(void *dst, const uint16_t *m16, uint32_t n, unsigned c,
		    const uint64_t *v, const uint64_t *a, int kind)
{
	(void)dst; (void)m16; (void)n; (void)c; (void)v; (void)a;
	(void)kind;
}
#endif

static int dec_columns(struct ht_decoder *d, const struct dblk *k,
		       struct ht_columns *out, const char **what)
{
	const uint16_t *opmask = k->opmask;
	const int *enc_of = k->enc_of;
	uint64_t *cv = d->cv, lo = UINT64_MAX, hi = 0;
	uint64_t num = k->num, den = k->den;
	uint32_t count = k->count;
	uint16_t many = 0, mall = HT__MASK_ALL;
	int use[HT__NCOLS + 1];
	void *arr[HT__NCOLS + 1];
	const char *bad;

	for (unsigned j = 0; j < k->pf->n_ops; j++) {
		many |= opmask[k->oplist[j]];
		mall &= opmask[k->oplist[j]];
	}
	/* The arrays: columns some row carries, unless 0 in all. */
	for (int c = HT__C_TS; c <= HT__NCOLS; c++) {
		int vary = enc_of[c] >= 0 && enc_of[c] != HT__E_CONST;

		arr[c] = NULL;
		use[c] = ((many >> (c - 1)) & 1) &&
			 (vary || k->cval[c] || (c == HT__C_TS && count));
		if (!use[c])
			continue;
		if (grow_buf((void **)&d->dc[c], &d->dcap[c],
			     (size_t)count * sizeof(uint64_t)))
			return HT_ENOMEM;
		arr[c] = d->dc[c];
	}
	int x512 = x512_ok(), small = 1;
	uint16_t m16[CHUNK];

	for (unsigned j = 0; j < k->pf->n_ops; j++)
		small &= k->oplist[j] < 64;

	for (uint32_t ch = 0; ch < k->nch; ch++) {
		const uint8_t *o = k->ops + (size_t)ch * CHUNK;
		const uint32_t *cc = d->cnt + (size_t)ch * 16;
		uint32_t n = count - ch * CHUNK;
		size_t at = (size_t)ch * CHUNK;

		n = n < CHUNK ? n : CHUNK;
		if (x512 && small)
			mask16_x(m16, o, n, opmask);
		else if (x512)
			for (uint32_t i = 0; i < n; i++)
				m16[i] = opmask[o[i]];
		for (int c = HT__C_TS; c <= HT__NCOLS; c++) {
			int wide = ht__col_width(c) == 8, all, rc, mono;
			uint64_t *w64, *v;

			if (!use[c])
				continue; /* arr[c] is NULL */
			w64 = (uint64_t *)arr[c] + at;
			all = (mall >> (c - 1)) & 1;
			if (enc_of[c] < 0 || enc_of[c] == HT__E_CONST) {
				/* one value, in the rows that carry it */
				uint64_t x = k->cval[c];
				unsigned sh = (unsigned)c - 1;

				if (c == HT__C_TS || c == HT__C_DUR)
					x = ht__to_ns(x, num, den);
				if (x512 && wide) {
					xspread(w64, m16, n, (unsigned)c, &x,
						NULL, XS_CONST);
				} else if (wide) {
					for (uint32_t i = 0; i < n; i++)
						w64[i] = x & (0 - (uint64_t)
							((opmask[o[i]] >> sh) & 1));
				} else {
					uint32_t *w32 = (uint32_t *)arr[c] +
							at;

					for (uint32_t i = 0; i < n; i++)
						w32[i] = (uint32_t)x & (0 -
							((opmask[o[i]] >> sh) &
							 1u));
				}
				continue;
			}
			v = wide && all && enc_of[c] != HT__E_REL_ADDR ? w64 :
			    cv + c * CSTRIDE;
			if (is_mru(enc_of[c])) {
				if (mru_take(k->q, o, n, cc[c], v))
					BAD("MRU body");
				mono = 0;
			} else {
				rc = col_take(&k->cl[c], v, cc[c], &mono);
				if (rc == -2)
					BAD("value too wide for its column");
				if (rc)
					BAD("varint");
			}
			if (c == HT__C_TS) /* every row carries ts */
				ts_range(v, n, mono, &lo, &hi);
			if ((c == HT__C_TS || c == HT__C_DUR) && num != den)
				for (uint32_t i = 0; i < cc[c]; i++)
					v[i] = ht__to_ns(v[i], num, den);
			if (v == w64)
				continue;
			if (x512) {
				int kind = enc_of[c] == HT__E_REL_ADDR ? XS_REL :
					   wide ? XS_U64 : XS_U32;
				const uint64_t *a = arr[HT__C_ADDR] ?
					(uint64_t *)arr[HT__C_ADDR] + at : NULL;
				void *dst = wide ? (void *)w64 :
					    (void *)((uint32_t *)arr[c] + at);

				xspread(dst, m16, n, (unsigned)c, v, a, kind);
			} else if (enc_of[c] == HT__E_REL_ADDR)
				spread_rel(w64, o, n, opmask,
					   arr[HT__C_ADDR] ? (uint64_t *)
					   arr[HT__C_ADDR] + at : NULL, v);
			else if (wide)
				spread64(w64, o, n, opmask, (unsigned)c, v);
			else
				spread32((uint32_t *)arr[c] + at, o, n, opmask,
					 (unsigned)c, v);
		}
	}
	if ((bad = cols_end(enc_of, k->cl, k->q)) != NULL)
		BAD(bad);
	if (enc_of[HT__C_TS] < 0 || enc_of[HT__C_TS] == HT__E_CONST)
		lo = hi = k->cval[HT__C_TS];
	if (lo != k->pf->ts_min || hi != k->pf->ts_max)
		BAD("ts_min/ts_max");

	/* an empty block (count 0) ends here too: no arrays, no ops */
	memset(out, 0, sizeof(*out));
	out->count = count;
	out->pid = k->pf->pid;
	out->tid = k->pf->tid;
	out->op = k->ops;
	out->ts = arr[HT__C_TS];
	out->addr = arr[HT__C_ADDR];
	out->size = arr[HT__C_SIZE];
	out->old_addr = arr[HT__C_OLD_ADDR];
	out->old_size = arr[HT__C_OLD_SIZE];
	out->align = arr[HT__C_ALIGN];
	out->nmemb = arr[HT__C_NMEMB];
	out->heap = arr[HT__C_HEAP];
	out->dur = arr[HT__C_DUR];
	out->aux = arr[HT__C_AUX];
	out->flags = arr[HT__C_FLAGS];
	out->result = arr[HT__C_RESULT];
	return (int)count;
}

int ht__dec_columns(struct ht_decoder *d, const uint8_t *p, size_t len,
		    uint32_t count, uint64_t num, uint64_t den,
		    struct ht_columns *cols, const char **what)
{
	return dec_block(d, p, len, count, num, den, NULL, cols, what);
}
