/*
 * internal.h - ht__ internals shared by the files of format/ only: the
 * on-disk constants of spec/FORMAT.md, little-endian and varint helpers,
 * the block header codec and the EVENTS block codec.
 */
#ifndef HT_INTERNAL_H
#define HT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "heaptape.h"

/* File header (spec/FORMAT.md "File header"). */
#define HT__FILE_HDR 64
extern const uint8_t ht__file_magic[8];

/* Block header (spec/FORMAT.md "Block header"). */
#define HT__BLK_HDR 48
#define HT__BLK_MAGIC 0xF9E7C3B1u
#define HT__SEED_HDR 0x9E3779B97F4A7C15ull /* header hash seed = lo ^ this */
#define HT__SAFE_TO_SKIP 0x80

/* Block types.  Never reuse a value. */
#define HT__B_EVENTS 0x01
#define HT__B_PROCESS 0x05
#define HT__B_THREADS 0x86
#define HT__B_LOSS 0x87
#define HT__B_INDEX 0x89
#define HT__B_PADDING 0x8A
#define HT__B_RSS 0x8B
#define HT__B_END 0x8F

/* END block: fixed payload, so the END block is the last 80 bytes. */
#define HT__END_PAYLOAD 32
#define HT__END_TOTAL (HT__BLK_HDR + HT__END_PAYLOAD)
extern const uint8_t ht__end_magic[8];

/* Metadata payload prefix: codec u8, 3 reserved, raw_len u32. */
#define HT__META_PREFIX 8
#define HT__META_MAX (1u << 26) /* largest Body_Length */
/* INDEX entry (after the 8-byte prev_index_offset). */
#define HT__IDX_ENTRY 48

/* EVENTS payload. */
#define HT__EV_PREFIX 32
#define HT__DIR_ENTRY 24
#define HT__OPMAP_ENTRY 4

/* Column ids.  Never reuse a value. */
enum {
	HT__C_OP = 1,
	HT__C_TS = 2,
	HT__C_ADDR = 3,
	HT__C_SIZE = 4,
	HT__C_OLD_ADDR = 5,
	HT__C_OLD_SIZE = 6,
	HT__C_ALIGN = 7,
	HT__C_NMEMB = 8,
	HT__C_HEAP = 9,
	HT__C_AUX = 10,
	HT__C_FLAGS = 11,
	HT__C_RESULT = 12,
	HT__C_DUR = 13,
	HT__NCOLS = 13
};
#define HT__COLBIT(c) (1u << ((c) - 1))
#define HT__MASK_ALWAYS (HT__COLBIT(HT__C_OP) | HT__COLBIT(HT__C_TS))
#define HT__MASK_ALL ((1u << HT__NCOLS) - 1)
/* The mask of an op the writer does not know: every column of 1.2.
 * dur joins any op's mask in a block that has durations. */
#define HT__MASK_UNKNOWN 0x0FFFu

/* Column encodings.  Never reuse a value. */
enum {
	HT__E_PLAIN = 0,
	HT__E_CONST = 1,
	HT__E_VARINT = 2,
	HT__E_DELTA_VARINT = 3,
	HT__E_DELTA_BSS = 4,
	HT__E_BSS = 5,
	HT__E_REL_ADDR = 6,  /* old_addr: zigzag(v - addr of the row) varint */
	HT__E_MRU_ADDR = 7,  /* addr: MRU cache hit codes + literal deltas */
	HT__E_UDELTA_VARINT = 8, /* DELTA_VARINT of a non-decreasing column, */
	HT__E_UDELTA_BSS = 9,    /* DELTA_BSS: deltas without zigzag */
	HT__E_OPMAP_BITS = 10,   /* op: op map index in Width bits */
	HT__E_MRU_BSS = 11,      /* MRU_ADDR, literals byte-stream split */
	HT__E_MAX = 11
};
/* MRU_ADDR: code of a miss (codes 0..254 are hits); the encoder's
 * lookup table has 2^HT__MRU_HBITS slots per history. */
#define HT__MRU_MISS 255
#define HT__MRU_HBITS 10
/* Incompat_Features bit 0: EVENTS blocks may use encoding 7. */
#define HT__INCOMPAT_MRU 1ull
/* Incompat_Features bit 1: EVENTS blocks may use encodings 8 to 10. */
#define HT__INCOMPAT_UDELTA 2ull
/* Incompat_Features bit 2: EVENTS blocks may use encoding 11. */
#define HT__INCOMPAT_MRU_BSS 4ull
#define HT__INCOMPAT_KNOWN (HT__INCOMPAT_MRU | HT__INCOMPAT_UDELTA | \
			    HT__INCOMPAT_MRU_BSS)
/* 1 for the ops whose addr is a pointer freed (MRU_ADDR row class). */
int ht__op_frees(int op);
/* Codecs. */
#define HT__CODEC_NONE 0
#define HT__CODEC_ZSTD 1

/* Conditional-column mask of an op (which columns its rows carry). */
uint16_t ht__op_mask(int op);
/* Plain width in bytes of a column. */
unsigned ht__col_width(int col);

static inline uint16_t ht__rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t ht__rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v; /* little-endian hosts only, checked in block.c */
}

static inline uint64_t ht__rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline void ht__wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void ht__wr32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline void ht__wr64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static inline uint64_t ht__zz(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t ht__unzz(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline size_t ht__put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static inline unsigned ht__varint_len(uint64_t v)
{
	unsigned bits = 64 - (unsigned)__builtin_clzll(v | 1);

	return (bits + 6) / 7;
}

/* Reads a varint from [*pp, end); 0 on success, -1 if malformed. */
static inline int ht__get_varint(const uint8_t **pp, const uint8_t *end,
				 uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t r = 0;
	unsigned shift = 0;

	for (;;) {
		if (p >= end || shift > 63)
			return -1;
		uint8_t b = *p++;
		if (shift == 63 && b > 1)
			return -1;
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
		shift += 7;
	}
	*pp = p;
	*v = r;
	return 0;
}

static inline size_t ht__align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Bytes needed to hold v (0 for v == 0). */
static inline unsigned ht__bytes_of(uint64_t v)
{
	return v ? (71 - (unsigned)__builtin_clzll(v)) / 8 : 0;
}

/* ticks -> ns with a 128-bit intermediate, saturating. */
static inline uint64_t ht__to_ns(uint64_t t, uint64_t num, uint64_t den)
{
	unsigned __int128 x;

	if (num == den)
		return t;
	x = (unsigned __int128)t * num / den;
	return x > UINT64_MAX ? UINT64_MAX : (uint64_t)x;
}

/* Block header, decoded. */
struct ht__bhdr {
	uint8_t type, hdr_ver;
	uint16_t flags;
	uint32_t payload_len;
	uint32_t count;
	uint64_t seq;
	uint32_t stream_id;
	uint32_t reserved;
	uint64_t payload_hash;
};

void ht__bhdr_pack(uint8_t *p, const struct ht__bhdr *h, uint64_t seed);
/* 0 if p holds a valid block header (magic, reserved, header hash). */
int ht__bhdr_check(const uint8_t *p, uint64_t seed, struct ht__bhdr *h);
uint64_t ht__hash(const void *p, size_t n, uint64_t seed);

/*
 * The recorder's event record (record/): what its hot path writes, a
 * fixed 32 bytes (four stores, two records a cache line).  The op and
 * flags ride in the top byte of the size; a failed call (result NULL)
 * keeps its errno where the address would be.  A size of 2^56 or more
 * (always a failed call) and every reallocarray (its nmemb) take a
 * second record, HT__REC_EXT.  The encoder reads these records directly
 * (ht__enc_add_recs()), with no struct ht_event between.
 */
struct ht__rec {
	uint64_t ts;    /* raw clock: TSC ticks or CLOCK_MONOTONIC ns */
	uint64_t addr;  /* result; errno if HT_EV_FAILED */
	uint64_t szop;  /* size | op << 56 | flags << 60 */
	uint64_t aux;   /* old_addr (realloc*), align, or nmemb (calloc) */
};
#define HT__SZ_BITS 56
#define HT__SZ_MASK ((UINT64_C(1) << HT__SZ_BITS) - 1)
#define HT__SZOP(size, op, fl) \
	((size) | (uint64_t)(op) << HT__SZ_BITS | (uint64_t)(fl) << 60)
/* flags: HT_EV_FAILED (1), HT_EV_INPLACE (2) and these two.  EXT: the
 * next record (same buffer) carries the full size in addr and nmemb in
 * szop; with DUR as well, its ts is the call's duration in clock ticks
 * (record --latency).  DUR alone: aux is the duration (an op without
 * aux, below). */
#define HT__REC_EXT 0x4u
#define HT__REC_DUR 0x8u
/* Where a record's aux goes, per op: a table, not a switch (ops come in
 * random order; a mispredicted jump per event showed in profiles).  An
 * op with none of HT__K_AUX leaves aux free: a timed call keeps its
 * duration there (HT__REC_DUR alone). */
enum { HT__K_NMEMB = 1, HT__K_OLD = 2, HT__K_ALIGN = 4, HT__K_NOSIZE = 8 };
#define HT__K_AUX (HT__K_NMEMB | HT__K_OLD | HT__K_ALIGN)
extern const uint8_t ht__op_kind[16];
_Static_assert(sizeof(struct ht__rec) == 32, "ht__rec is 32 bytes");
/* v if kind k has bit, else 0, with no branch. */
static inline uint64_t ht__pick(unsigned k, unsigned bit, uint64_t v)
{
	return v & (uint64_t)-(int64_t)((k & bit) != 0);
}
/* How a record's raw clock becomes ns: with tsc, mono0 + (ts - tsc0) *
 * mult / 2^32 (mono0 for a ts below tsc0: another CPU's TSC a hair
 * behind); without, ts is ns already. */
struct ht__recclock {
	uint64_t tsc0, mono0, mult;
	int tsc;
};
static inline uint64_t ht__rec_ns(const struct ht__recclock *c, uint64_t ts)
{
	if (!c->tsc)
		return ts;
	if (ts < c->tsc0)
		return c->mono0;
	return c->mono0 + (uint64_t)(((unsigned __int128)(ts - c->tsc0) *
				      c->mult) >> 32);
}
/* The event record x of thread (pid, tid) stands for, but for what a
 * second record (HT__REC_EXT) or a duration (HT__REC_DUR) adds: every
 * field stored once, no memset of 96 bytes first. */
static inline void ht__rec_event(const struct ht__rec *x,
				 const struct ht__recclock *c, uint32_t pid,
				 uint32_t tid, struct ht_event *ev)
{
	uint64_t so = x->szop, aux = x->aux;
	unsigned op = (unsigned)(so >> HT__SZ_BITS) & 15;
	unsigned fl = (unsigned)(so >> 60), k = ht__op_kind[op];
	uint64_t failed = -(uint64_t)(fl & HT_EV_FAILED);

	ev->ts = ht__rec_ns(c, x->ts);
	ev->addr = x->addr & ~failed;
	ev->size = ht__pick(~k, HT__K_NOSIZE, so & HT__SZ_MASK);
	ev->old_addr = ht__pick(k, HT__K_OLD, aux);
	ev->old_size = 0;
	ev->align = ht__pick(k, HT__K_ALIGN, aux);
	ev->nmemb = ht__pick(k, HT__K_NMEMB, aux);
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
 * EVENTS block encoder: all buffers sized at creation for max_events.
 */
struct ht__enc;
struct ht__enc_mem {
	void *(*alloc)(void *ctx, size_t n);
	void (*free)(void *ctx, void *p);
	void *ctx;
};
int ht__enc_new(struct ht__enc **ep, uint32_t max_events, int level,
		const struct ht__enc_mem *mem);
void ht__enc_free(struct ht__enc *e);
/* Bytes the payload of a max_events block can take at most. */
size_t ht__enc_payload_max(uint32_t max_events);
/*
 * A block is built in two steps.  ht__enc_add() takes its rows, in as
 * many calls as the caller likes, max_events in all; it returns -1 once
 * they are not all of one (pid, tid) or would be more.  ht__enc_end()
 * encodes them into out (capacity from ht__enc_payload_max()) and
 * starts the next block; it returns the payload length, or 0 after such
 * a -1.  force_raw: no zstd.  ht__enc_block() is both at once.
 */
int ht__enc_add(struct ht__enc *e, const struct ht_event *ev, size_t n);
/* The same for n records of thread (pid, tid), none with HT__REC_EXT or
 * HT__REC_DUR: the events convert() in record/ would make of them. */
int ht__enc_add_recs(struct ht__enc *e, const struct ht__rec *r, size_t n,
		     uint32_t pid, uint32_t tid,
		     const struct ht__recclock *clk);
size_t ht__enc_end(struct ht__enc *e, uint8_t *out, int force_raw);
/* ht_writer_append() of the recorder's records (ht__enc_add_recs()). */
struct ht_writer;
int ht__writer_append_recs(struct ht_writer *w, const struct ht__rec *r,
			   size_t n, uint32_t pid, uint32_t tid,
			   const struct ht__recclock *clk);
void ht__enc_drop(struct ht__enc *e); /* forgets the rows added */
/* The recorder's trace moved to another fd (the program took the
 * number with dup2): the writer goes on there. */
void ht__writer_set_fd(struct ht_writer *w, int fd);
size_t ht__enc_block(struct ht__enc *e, const struct ht_event *ev, size_t n,
		     uint8_t *out, int force_raw);
/* Compresses src into dst[0..cap) with the encoder's context; 0 if it did
 * not fit. */
size_t ht__enc_zstd(struct ht__enc *e, void *dst, size_t cap,
		    const void *src, size_t n);

/* EVENTS prefix, as read from the payload. */
struct ht__evprefix {
	uint64_t ts_min, ts_max;
	uint32_t pid, tid;
	uint16_t n_cols;
	uint16_t n_ops;
};
int ht__ev_prefix(const uint8_t *p, size_t len, uint32_t count,
		  struct ht__evprefix *pf);

/* EVENTS block decoder scratch (one per thread). */
struct ht_decoder {
	void *dctx;                    /* ZSTD_DCtx */
	uint8_t *buf;                  /* the op column as bytes */
	size_t cap;
	uint64_t *col[HT__NCOLS + 1];  /* each column's zstd output */
	size_t ccap[HT__NCOLS + 1];
	uint64_t *cv;                  /* one chunk of values per column */
	uint32_t *cnt;                 /* per chunk: values of each column */
	size_t cntcap;
	uint64_t *dc[HT__NCOLS + 1];   /* ht_reader_decode_columns() arrays */
	size_t dcap[HT__NCOLS + 1];
};
void ht__dec_release(struct ht_decoder *d); /* frees the scratch */
/* Decodes a verified payload of count events into out, ts converted
 * with num/den to ns.  Returns count or HT_E*; *what names the problem. */
int ht__dec_block(struct ht_decoder *d, const uint8_t *p, size_t len,
		  uint32_t count, uint64_t num, uint64_t den,
		  struct ht_event *out, const char **what);
/* The same into column arrays owned by d.  ht__dec_scalar = 1 (tests)
 * keeps it to its portable loops. */
extern int ht__dec_scalar;
int ht__dec_columns(struct ht_decoder *d, const uint8_t *p, size_t len,
		    uint32_t count, uint64_t num, uint64_t den,
		    struct ht_columns *cols, const char **what);

#endif /* HT_INTERNAL_H */
