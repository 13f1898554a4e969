/*
 * reader.c - open a trace, find its blocks, decode its metadata, and
 * iterate its events in global time order.
 *
 * Layout (spec/FORMAT.md):  file header | block... | END
 * Blocks are found through the END block and the backwards INDEX chain
 * when the file was closed cleanly, else by a forward scan that checks
 * every header and payload hash (which also rebuilds the index).  Every
 * length, count and allocation is bounded by the file size or by
 * HT_MAX_BLOCK_EVENTS before it is trusted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "internal.h"

struct blk {
	uint64_t off;
	uint64_t seq;
	uint32_t plen, count, stream;
	uint8_t type;
	/* from its INDEX entry (index path): the EVENTS prefix fields,
	 * hashed there, so the payload is not touched until decoded */
	uint64_t ts_min, ts_max;
	uint32_t pid;
};

struct ebk {                /* per EVENTS block, beside ht_block_info */
	uint32_t plen;
	int verified;       /* payload hash checked at open */
};

/* What a problem's damaged part held (ht_reader_problem_events()). */
struct prob_ev {
	int known;          /* 1: events, tid; 0: no events; -1: unknown */
	uint32_t tid;
	uint64_t events;
};

struct mstream {
	uint32_t pid, tid;
	uint32_t *blk;      /* indices into r->binfo, file order */
	uint32_t nblk, bcap;
	uint32_t bi;        /* next block to load */
	struct ht_event *ev;
	uint32_t cap, n, pos;
	uint64_t skip_below; /* after a seek: drop leading events below */
	int seeking;
};

struct ht_reader {
	const uint8_t *data;
	size_t len;
	void *map;          /* munmap on close */
	uint8_t *owned;     /* free on close */
	int mode;
	int err;
	uint64_t err_off;
	int pend;           /* STOP/STRICT: the damage the scan stopped at,
			       the merged stream's error once the blocks
			       before it are read ([R-RD-1]) */
	uint64_t pend_off;
	int complete;
	struct ht_problem *prob;
	size_t n_prob, cap_prob;
	struct prob_ev *prob_ev; /* beside prob, cap_prob of them */
	uint8_t uuid[16];
	uint64_t seed;
	uint32_t flags;
	uint32_t major, minor;
	uint64_t clk_num, clk_den;
	struct ht_kv *kv;
	size_t n_kv, cap_kv;
	struct ht_thread *thr;
	size_t n_thr, cap_thr;
	struct ht_rss_sample *rss;
	size_t n_rss, cap_rss;
	struct ht_loss *loss;
	size_t n_loss, cap_loss;
	struct ht_block_info *binfo;
	struct ebk *ebk;
	size_t n_eb, cap_eb;
	struct blk *blocks;  /* every valid block, file order */
	size_t n_blk, cap_blk;
	struct ht_trace_info info;
	uint64_t start_ns;
	/* merge */
	struct mstream *st;
	size_t n_st;
	uint32_t *heap;
	size_t n_heap;
	int merge_ready;
	uint64_t merge_bytes; /* decoded event buffers of the merge */
	struct ht_decoder dec;
};

/* Grows *pp (n used, *cap allocated) to hold one more element. */
static int grow(void **pp, size_t *cap, size_t n, size_t size)
{
	size_t c;
	void *p;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 16;
	p = realloc(*pp, c * size);
	if (!p)
		return HT_ENOMEM;
	*pp = p;
	*cap = c;
	return 0;
}

#define GROW(r, arr, n, cap) grow((void **)&(r)->arr, &(r)->cap, (r)->n, \
				  sizeof(*(r)->arr))

static void problem(struct ht_reader *r, uint64_t off, int code,
		    uint64_t skipped, uint64_t seq_from, uint64_t seq_to,
		    const char *what)
{
	struct ht_problem *p;
	size_t cap = r->cap_prob;

	r->err_off = off;
	if (GROW(r, prob, n_prob, cap_prob))
		return;
	if (cap != r->cap_prob) {
		struct prob_ev *e = realloc(r->prob_ev, r->cap_prob *
					    sizeof(*e));
		if (!e) {
			r->cap_prob = cap;
			return;
		}
		r->prob_ev = e;
	}
	/* Until the scan knows better: a part skipped, a sequence gap or
	 * a cut end may have held events, a check that skipped nothing
	 * lost none. */
	r->prob_ev[r->n_prob] = (struct prob_ev){
		.known = skipped || code == HT_ESEQ || code == HT_ETRUNC ?
			 -1 : 0 };
	p = &r->prob[r->n_prob++];
	memset(p, 0, sizeof(*p));
	p->offset = off;
	p->code = code;
	p->skipped = skipped;
	p->seq_from = seq_from;
	p->seq_to = seq_to;
	snprintf(p->what, sizeof(p->what), "%s", what);
}

/* The last problem was at a block whose header h is valid: what it
 * held is known. */
static void problem_block(struct ht_reader *r, const struct ht__bhdr *h)
{
	struct prob_ev *e;

	if (!r->n_prob || !r->prob_ev)
		return;
	e = &r->prob_ev[r->n_prob - 1];
	e->known = h->type == HT__B_EVENTS;
	e->tid = h->type == HT__B_EVENTS ? h->stream_id : 0;
	e->events = h->type == HT__B_EVENTS ? h->count : 0;
}

/* A fatal error (STOP/STRICT), recorded once. */
static int fail(struct ht_reader *r, uint64_t off, int code,
		const char *what)
{
	if (!r->err) {
		r->err = code;
		problem(r, off, code, 0, 0, 0, what);
	}
	return r->err;
}

/*
 * STOP/STRICT: the scan ends at a damaged block as at a cut tail: the
 * blocks before it stay readable ([R-RD-1]), and the merged stream
 * ends with the error, at this offset.
 */
static int stop_at(struct ht_reader *r, uint64_t off, int code,
		   const char *what)
{
	problem(r, off, code, 0, 0, 0, what);
	r->pend = code;
	r->pend_off = off;
	return 0;
}

/*
 * Metadata blocks.
 */
static int meta_body(struct ht_reader *r, const uint8_t *p, size_t len,
		     const uint8_t **body, size_t *blen)
{
	uint32_t raw_len;
	size_t got;

	if (len < HT__META_PREFIX || p[1] || p[2] || p[3])
		return -1;
	raw_len = ht__rd32(p + 4);
	if (raw_len > HT__META_MAX) /* [R-META-1], whatever the codec */
		return -1;
	if (p[0] == HT__CODEC_NONE) {
		if (raw_len != len - HT__META_PREFIX)
			return -1;
		*body = p + HT__META_PREFIX;
		*blen = raw_len;
		return 0;
	}
	if (p[0] != HT__CODEC_ZSTD)
		return -1;
	if (r->dec.cap < raw_len + 1) {
		uint8_t *b = realloc(r->dec.buf, raw_len + 1);

		if (!b)
			return -1;
		r->dec.buf = b;
		r->dec.cap = raw_len + 1;
	}
	got = ZSTD_decompress(r->dec.buf, raw_len, p + HT__META_PREFIX,
			      len - HT__META_PREFIX);
	if (ZSTD_isError(got) || got != raw_len)
		return -1;
	*body = r->dec.buf;
	*blen = raw_len;
	return 0;
}

static char *dupmem(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		memcpy(s, p, n);
		s[n] = 0;
	}
	return s;
}

/* A length-prefixed string with no NUL inside. */
static int get_str(const uint8_t **q, const uint8_t *e, char **out)
{
	uint64_t n;

	if (ht__get_varint(q, e, &n) || n > (uint64_t)(e - *q))
		return -1;
	if (memchr(*q, 0, n))
		return -1;
	*out = dupmem(*q, n);
	if (!*out)
		return -1;
	*q += n;
	return 0;
}

static int get_u32(const uint8_t **q, const uint8_t *e, uint32_t *v)
{
	uint64_t x;

	if (ht__get_varint(q, e, &x) || x > UINT32_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

static int parse_meta(struct ht_reader *r, const struct blk *b)
{
	const uint8_t *p = r->data + b->off + HT__BLK_HDR, *q, *e;
	size_t blen;

	if (meta_body(r, p, b->plen, &q, &blen))
		return -1;
	e = q + blen;
	/* Every row takes at least 2 bytes: bounds count by the body. */
	if (b->count > blen)
		return -1;
	for (uint32_t i = 0; i < b->count; i++) {
		switch (b->type) {
		case HT__B_PROCESS: {
			char *k = NULL, *v = NULL;

			if (GROW(r, kv, n_kv, cap_kv))
				return -1;
			if (get_str(&q, e, &k) || !*k ||
			    get_str(&q, e, &v)) {
				free(k);
				return -1;
			}
			r->kv[r->n_kv].key = k;
			r->kv[r->n_kv++].value = v;
			break;
		}
		case HT__B_THREADS: {
			struct ht_thread t;
			char *name;

			if (GROW(r, thr, n_thr, cap_thr) ||
			    ht__get_varint(&q, e, &t.ts) ||
			    get_u32(&q, e, &t.pid) || get_u32(&q, e, &t.tid) ||
			    get_str(&q, e, &name))
				return -1;
			t.name = name;
			r->thr[r->n_thr++] = t;
			break;
		}
		case HT__B_RSS: {
			struct ht_rss_sample s;

			if (GROW(r, rss, n_rss, cap_rss) ||
			    ht__get_varint(&q, e, &s.ts) ||
			    get_u32(&q, e, &s.pid) ||
			    ht__get_varint(&q, e, &s.rss_bytes))
				return -1;
			r->rss[r->n_rss++] = s;
			break;
		}
		case HT__B_LOSS: {
			struct ht_loss l;

			if (GROW(r, loss, n_loss, cap_loss) ||
			    ht__get_varint(&q, e, &l.ts_from) ||
			    ht__get_varint(&q, e, &l.ts_to) ||
			    get_u32(&q, e, &l.pid) || get_u32(&q, e, &l.tid) ||
			    ht__get_varint(&q, e, &l.events) ||
			    get_u32(&q, e, &l.reason) || l.ts_from > l.ts_to)
				return -1;
			r->loss[r->n_loss++] = l;
			break;
		}
		default:
			return -1;
		}
	}
	return q == e ? 0 : -1;
}

/*
 * Finding blocks.
 */
static int payload_ok(const struct ht_reader *r, uint64_t off, uint32_t plen,
		      uint64_t hash)
{
	const uint8_t *p = r->data + off + HT__BLK_HDR;
	size_t pad = ht__align8(plen) - plen;

	if (ht__hash(p, plen, r->seed) != hash)
		return -1;
	for (size_t i = 0; i < pad; i++) {
		if (p[plen + i])
			return -2;
	}
	return 0;
}

static uint64_t blk_end(uint64_t off, uint32_t plen)
{
	return off + HT__BLK_HDR + ht__align8(plen);
}

/* A header at off that is valid and whose block fits in the file. */
static int header_at(const struct ht_reader *r, uint64_t off,
		     struct ht__bhdr *h)
{
	if (off + HT__BLK_HDR > r->len)
		return -1;
	if (ht__bhdr_check(r->data + off, r->seed, h))
		return -1;
	if (blk_end(off, h->payload_len) > r->len)
		return -1;
	return 0;
}

static int add_block(struct ht_reader *r, uint64_t off,
		     const struct ht__bhdr *h)
{
	struct blk *b;

	if (GROW(r, blocks, n_blk, cap_blk))
		return HT_ENOMEM;
	b = &r->blocks[r->n_blk++];
	b->off = off;
	b->seq = h->seq;
	b->plen = h->payload_len;
	b->count = h->count;
	b->stream = h->stream_id;
	b->type = h->type;
	b->ts_min = b->ts_max = 0;
	b->pid = 0;
	return 0;
}

static int known_type(int t)
{
	switch (t) {
	case HT__B_EVENTS:
	case HT__B_PROCESS:
	case HT__B_THREADS:
	case HT__B_LOSS:
	case HT__B_INDEX:
	case HT__B_PADDING:
	case HT__B_RSS:
	case HT__B_END:
		return 1;
	default:
		return 0;
	}
}

/* Structure checks of a block whose hashes are valid; 0 or a message. */
static const char *check_block(const struct ht_reader *r, uint64_t off,
			       const struct ht__bhdr *h)
{
	const uint8_t *p = r->data + off + HT__BLK_HDR;

	switch (h->type) {
	case HT__B_EVENTS:
		if (h->count > HT_MAX_BLOCK_EVENTS)
			return "too many events in block";
		struct ht__evprefix pf;
		if (ht__ev_prefix(p, h->payload_len, h->count, &pf))
			return "events prefix";
		if (pf.tid != h->stream_id)
			return "stream id";
		break;
	case HT__B_END:
		if (h->payload_len != HT__END_PAYLOAD ||
		    memcmp(p + 24, ht__end_magic, 8) || h->count)
			return "END block";
		if (ht__rd64(p + 16) != h->seq)
			return "END block count";
		break;
	case HT__B_INDEX:
		/* the body's length is checked where it is decoded */
		if (h->payload_len < HT__META_PREFIX + 8 ||
		    h->count > HT__META_MAX / HT__IDX_ENTRY)
			return "INDEX length";
		break;
	}
	return NULL;
}

/* Follows END -> INDEX chain; 0 if it describes the whole file. */
static int try_index(struct ht_reader *r)
{
	struct ht__bhdr h;
	uint64_t end_off, idx, total = 0, n_blocks;
	const uint8_t *p;

	if (r->len < HT__FILE_HDR + HT__END_TOTAL)
		return -1;
	end_off = r->len - HT__END_TOTAL;
	if (end_off & 7 || header_at(r, end_off, &h) || h.type != HT__B_END ||
	    payload_ok(r, end_off, h.payload_len, h.payload_hash) ||
	    check_block(r, end_off, &h))
		return -1;
	p = r->data + end_off + HT__BLK_HDR;
	idx = ht__rd64(p);
	n_blocks = ht__rd64(p + 16);
	if (n_blocks != h.seq || n_blocks > r->len / HT__BLK_HDR)
		return -1;
	if (add_block(r, end_off, &h))
		return -1;
	while (idx) {
		const uint8_t *q;
		uint64_t prev;

		if (idx < HT__FILE_HDR || idx & 7 || idx >= end_off ||
		    header_at(r, idx, &h) || h.type != HT__B_INDEX ||
		    payload_ok(r, idx, h.payload_len, h.payload_hash) ||
		    check_block(r, idx, &h))
			return -1;
		size_t blen;

		if (meta_body(r, r->data + idx + HT__BLK_HDR, h.payload_len,
			      &q, &blen) ||
		    blen != 8 + (uint64_t)h.count * HT__IDX_ENTRY)
			return -1;
		if (add_block(r, idx, &h))
			return -1;
		prev = ht__rd64(q);
		for (uint32_t i = 0; i < h.count; i++) {
			const uint8_t *e = q + 8 + (size_t)i * HT__IDX_ENTRY;
			struct ht__bhdr eh;
			uint64_t off = ht__rd64(e);

			if (off >= idx || off < HT__FILE_HDR || off & 7 ||
			    header_at(r, off, &eh) || eh.seq != ht__rd64(e + 8)
			    || eh.count != ht__rd32(e + 40) ||
			    eh.type != e[44] || eh.stream_id != ht__rd32(e + 36)
			    || e[45] || e[46] || e[47] ||
			    eh.type == HT__B_INDEX || eh.type == HT__B_END ||
			    (!known_type(eh.type) &&
			     !(eh.type & HT__SAFE_TO_SKIP)))
				return -1; /* the scan says it ([R-BLK-9]) */
			if (add_block(r, off, &eh))
				return -1;
			struct blk *nb = &r->blocks[r->n_blk - 1];
			nb->ts_min = ht__rd64(e + 16);
			nb->ts_max = ht__rd64(e + 24);
			nb->pid = ht__rd32(e + 32);
			if (eh.type == HT__B_EVENTS)
				total += eh.count;
		}
		if (prev >= idx)
			return -1;
		idx = prev;
		if (r->n_blk > n_blocks + 1)
			return -1;
	}
	if (r->n_blk != n_blocks + 1 || total != ht__rd64(p + 8))
		return -1;
	return 0;
}

static int cmp_blk(const void *a, const void *b)
{
	const struct blk *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Checks that the index-listed blocks tile the file in seq order. */
static int index_tiles(struct ht_reader *r)
{
	uint64_t off = HT__FILE_HDR;

	qsort(r->blocks, r->n_blk, sizeof(*r->blocks), cmp_blk);
	for (size_t i = 0; i < r->n_blk; i++) {
		const struct blk *b = &r->blocks[i];

		if (b->off != off || b->seq != i)
			return -1;
		off = blk_end(b->off, b->plen);
	}
	return off == r->len ? 0 : -1;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i])
			return 0;
	}
	return 1;
}

/* Next offset >= from (8-aligned) holding a valid block header whose
 * block fits in the file. */
static uint64_t resync(const struct ht_reader *r, uint64_t from)
{
	struct ht__bhdr h;

	for (uint64_t off = (from + 7) & ~(uint64_t)7;
	     off + HT__BLK_HDR <= r->len; off += 8) {
		if (ht__rd32(r->data + off) != HT__BLK_MAGIC)
			continue;
		/* A valid header is enough: its payload is checked by the
		 * caller, once, so a hostile file cannot make this
		 * quadratic. */
		if (header_at(r, off, &h) == 0)
			return off;
	}
	return r->len;
}

/* An INDEX must list every block since the previous INDEX (blocks
 * r->blocks[since..]) in order, and chain to that INDEX. */
static const char *check_index(struct ht_reader *r, uint64_t off,
			       const struct ht__bhdr *h, uint64_t last_index,
			       size_t since)
{
	const uint8_t *q;
	size_t k = since, blen;

	if (meta_body(r, r->data + off + HT__BLK_HDR, h->payload_len, &q,
		      &blen) || blen != 8 + (uint64_t)h->count * HT__IDX_ENTRY)
		return "INDEX length";
	if (ht__rd64(q) != last_index)
		return "INDEX chain";
	for (uint32_t i = 0; i < h->count; i++, k++) {
		const uint8_t *e = q + 8 + (size_t)i * HT__IDX_ENTRY;

		while (k < r->n_blk && (r->blocks[k].type == HT__B_INDEX ||
					r->blocks[k].type == HT__B_END))
			k++;
		if (k >= r->n_blk)
			return "INDEX entries";
		const struct blk *b = &r->blocks[k];
		const uint8_t *pf = r->data + b->off + HT__BLK_HDR;
		int ev = b->type == HT__B_EVENTS;

		if (ht__rd64(e) != b->off || ht__rd64(e + 8) != b->seq ||
		    ht__rd32(e + 36) != b->stream ||
		    ht__rd32(e + 40) != b->count || e[44] != b->type ||
		    e[45] || e[46] || e[47] ||
		    ht__rd64(e + 16) != (ev ? ht__rd64(pf) : 0) ||
		    ht__rd64(e + 24) != (ev ? ht__rd64(pf + 8) : 0) ||
		    (ev && ht__rd32(e + 32) != ht__rd32(pf + 16)))
			return "INDEX entries";
	}
	return k == r->n_blk ? NULL : "INDEX entries";
}

static const char *check_end(const struct ht_reader *r, uint64_t off,
			     uint64_t last_index)
{
	const uint8_t *q = r->data + off + HT__BLK_HDR;
	uint64_t events = 0;

	for (size_t i = 0; i < r->n_blk; i++)
		if (r->blocks[i].type == HT__B_EVENTS)
			events += r->blocks[i].count;
	if (ht__rd64(q) != last_index)
		return "END Last_Index_Offset";
	if (ht__rd64(q + 8) != events)
		return "END Total_Events";
	return NULL;
}

static int scan(struct ht_reader *r)
{
	uint64_t off = HT__FILE_HDR, next_seq = 0, last_index = 0;
	size_t since = 0;
	int salvage = r->mode == HT_READ_SALVAGE, seen_end = 0;

	while (off < r->len) {
		struct ht__bhdr h;
		const char *what = NULL;
		int code = 0, hr, hdr_ok = 0;

		if (seen_end) {
			what = "data after END block";
			code = HT_ECORRUPT;
		} else if (r->len - off < HT__BLK_HDR) {
			problem(r, off, HT_ETRUNC, r->len - off, 0, 0,
				"partial block header");
			return 0;
		} else if ((hr = ht__bhdr_check(r->data + off, r->seed,
						&h)) != 0) {
			if (all_zero(r->data + off, r->len - off)) {
				problem(r, off, HT_ETRUNC, r->len - off, 0, 0,
					"zero-filled tail");
				return 0;
			}
			code = hr == -1 ? HT_ECORRUPT : hr == -2 ?
			       HT_ECHECKSUM : HT_ECORRUPT;
			what = hr == -1 ? "bad block magic" : hr == -2 ?
			       "block header hash" : "reserved header field";
		} else if (blk_end(off, h.payload_len) > r->len) {
			uint64_t nx = salvage ? resync(r, off + 8) : r->len;

			if (nx >= r->len) {
				problem(r, off, HT_ETRUNC, r->len - off, 0, 0,
					"block runs past end of file");
				problem_block(r, &h);
				return 0;
			}
			code = HT_ECORRUPT;
			what = "block length";
		} else if ((hdr_ok = 1, hr = payload_ok(r, off, h.payload_len,
					    h.payload_hash)) != 0) {
			code = hr == -1 ? HT_ECHECKSUM : HT_ECORRUPT;
			what = hr == -1 ? "payload hash" : "block padding";
		} else if (!known_type(h.type) &&
			   !(h.type & HT__SAFE_TO_SKIP)) {
			code = HT_EUNSUPPORTED;
			what = "unknown block type";
		} else if ((what = check_block(r, off, &h)) != NULL) {
			code = HT_ECORRUPT;
		} else if (h.seq != next_seq) {
			if (!salvage)
				return stop_at(r, off, HT_ESEQ,
					       "block sequence number");
			if (h.seq < next_seq) {
				/* a block repeated or out of order: skipped
				 * as damaged, never read twice */
				code = HT_ESEQ;
				what = "block sequence repeated or out of "
				       "order";
			} else {
				problem(r, off, HT_ESEQ, 0, next_seq,
					h.seq - 1, "block sequence gap");
			}
		}
		if (code) {
			uint64_t nx;

			if (!salvage)
				return stop_at(r, off, code, what);
			/* After a valid header (bad payload, padding, type or
			 * structure) the block's length can be trusted. */
			nx = resync(r, hdr_ok ? blk_end(off, h.payload_len) :
				    off + 8);
			struct ht__bhdr nh;
			uint64_t s_to = 0;
			if (nx < r->len && !ht__bhdr_check(r->data + nx,
							   r->seed, &nh))
				s_to = nh.seq ? nh.seq - 1 : 0;
			problem(r, off, code, nx - off, next_seq, s_to, what);
			if (hdr_ok)
				problem_block(r, &h);
			if (nx < r->len && s_to + 1 >= next_seq)
				next_seq = s_to + 1;
			off = nx;
			continue;
		}
		if (h.type == HT__B_INDEX || h.type == HT__B_END) {
			/* The index and the END totals must describe what
			 * the scan found (when nothing was lost before). */
			const char *bad = h.type == HT__B_INDEX ?
				check_index(r, off, &h, last_index, since) :
				check_end(r, off, last_index);

			if (bad && !r->n_prob) {
				if (!salvage)
					return stop_at(r, off, HT_ECORRUPT,
						       bad);
				problem(r, off, HT_ECORRUPT, 0, 0, 0, bad);
			}
		}
		if (add_block(r, off, &h))
			return fail(r, off, HT_ENOMEM, "out of memory");
		if (h.type == HT__B_INDEX) {
			last_index = off;
			since = r->n_blk;
		}
		if (h.type == HT__B_END)
			seen_end = 1;
		next_seq = h.seq + 1;
		off = blk_end(off, h.payload_len);
	}
	if (seen_end)
		r->complete = 1;
	return 0;
}

/*
 * Building tables from the blocks.
 */
static int parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (*s < '0' || *s > '9' || x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

static int build(struct ht_reader *r, int via_index)
{
	int salvage = r->mode == HT_READ_SALVAGE;
	uint64_t tmin = UINT64_MAX, tmax = 0;

	for (size_t i = 0; i < r->n_blk; i++) {
		const struct blk *b = &r->blocks[i];
		const uint8_t *p = r->data + b->off + HT__BLK_HDR;

		switch (b->type) {
		case HT__B_PROCESS:
		case HT__B_THREADS:
		case HT__B_RSS:
		case HT__B_LOSS:
			if (via_index) {
				const uint8_t *h = r->data + b->off;

				if (payload_ok(r, b->off, b->plen,
					       ht__rd64(h + 32)))
					return 1; /* fall back to a scan */
			}
			if (parse_meta(r, b)) {
				if (!salvage)
					return fail(r, b->off, HT_ECORRUPT,
						    "metadata block");
				problem(r, b->off, HT_ECORRUPT,
					HT__BLK_HDR + ht__align8(b->plen),
					b->seq, b->seq, "metadata block");
			}
			break;
		case HT__B_EVENTS: {
			struct ht__evprefix pf;
			struct ht_block_info *bi;

			if (via_index) {
				/* the entry stands for the prefix; decode
				 * checks that they agree */
				pf.ts_min = b->ts_min;
				pf.ts_max = b->ts_max;
				pf.pid = b->pid;
				pf.tid = b->stream;
				if (pf.ts_min > pf.ts_max ||
				    b->count > HT_MAX_BLOCK_EVENTS ||
				    b->plen < HT__EV_PREFIX)
					return 1; /* the scan will say */
			} else if (ht__ev_prefix(p, b->plen, b->count, &pf) ||
				   pf.tid != b->stream ||
				   b->count > HT_MAX_BLOCK_EVENTS) {
				break;
			}
			if (r->n_eb == r->cap_eb) {
				size_t c = r->cap_eb ? r->cap_eb * 2 : 16;
				void *nb = realloc(r->binfo, c *
						   sizeof(*r->binfo));

				if (!nb)
					return fail(r, b->off, HT_ENOMEM,
						    "memory");
				r->binfo = nb;
				nb = realloc(r->ebk, c * sizeof(*r->ebk));
				if (!nb)
					return fail(r, b->off, HT_ENOMEM,
						    "memory");
				r->ebk = nb;
				r->cap_eb = c;
			}
			bi = &r->binfo[r->n_eb];
			bi->offset = b->off;
			bi->seq = b->seq;
			bi->pid = pf.pid;
			bi->tid = pf.tid;
			bi->count = b->count;
			bi->ts_min = pf.ts_min;
			bi->ts_max = pf.ts_max;
			r->ebk[r->n_eb].plen = b->plen;
			r->ebk[r->n_eb].verified = !via_index;
			r->n_eb++;
			if (b->count) {
				if (pf.ts_min < tmin)
					tmin = pf.ts_min;
				if (pf.ts_max > tmax)
					tmax = pf.ts_max;
			}
			r->info.events += b->count;
			break;
		}
		default:
			/* PADDING, a skippable block of a later version:
			 * nothing to read, but its checksum holds as for
			 * any block ([R-BLK-6]), as the scan checks it */
			if (via_index &&
			    payload_ok(r, b->off, b->plen,
				       ht__rd64(r->data + b->off + 32)))
				return 1; /* fall back to a scan */
			break;
		}
	}
	/* Clock: the last valid clock.unit_* values. */
	r->clk_num = r->clk_den = 1;
	const char *sn = ht_reader_meta(r, "clock.unit_num");
	const char *sd = ht_reader_meta(r, "clock.unit_den");
	if (sn || sd) {
		uint64_t n, d;

		/* [R-META-3]: a key that is absent counts as 1 */
		if (parse_u64(sn ? sn : "1", &n) ||
		    parse_u64(sd ? sd : "1", &d) || !n || !d) {
			if (!salvage)
				return fail(r, HT__FILE_HDR, HT_ECORRUPT,
					    "clock.unit_num/den");
			problem(r, HT__FILE_HDR, HT_ECORRUPT, 0, 0, 0,
				"clock.unit_num/den");
		} else {
			r->clk_num = n;
			r->clk_den = d;
		}
	}
	for (size_t i = 0; i < r->n_eb; i++) {
		r->binfo[i].ts_min = ht__to_ns(r->binfo[i].ts_min, r->clk_num,
					       r->clk_den);
		r->binfo[i].ts_max = ht__to_ns(r->binfo[i].ts_max, r->clk_num,
					       r->clk_den);
	}
	for (size_t i = 0; i < r->n_thr; i++)
		r->thr[i].ts = ht__to_ns(r->thr[i].ts, r->clk_num, r->clk_den);
	for (size_t i = 0; i < r->n_rss; i++)
		r->rss[i].ts = ht__to_ns(r->rss[i].ts, r->clk_num, r->clk_den);
	for (size_t i = 0; i < r->n_loss; i++) {
		r->loss[i].ts_from = ht__to_ns(r->loss[i].ts_from, r->clk_num,
					       r->clk_den);
		r->loss[i].ts_to = ht__to_ns(r->loss[i].ts_to, r->clk_num,
					     r->clk_den);
	}
	r->info.file_bytes = r->len;
	r->info.blocks = r->n_blk;
	r->info.event_blocks = r->n_eb;
	r->info.format_major = r->major;
	r->info.format_minor = r->minor;
	if (tmin != UINT64_MAX) {
		r->info.ts_min = ht__to_ns(tmin, r->clk_num, r->clk_den);
		r->info.ts_max = ht__to_ns(tmax, r->clk_num, r->clk_den);
	}
	uint64_t origin;
	if (!parse_u64(ht_reader_meta(r, "clock.origin_ticks"), &origin))
		r->start_ns = ht__to_ns(origin, r->clk_num, r->clk_den);
	else
		r->start_ns = r->info.ts_min;
	return 0;
}

/* Groups EVENTS blocks by (pid, tid) for the merge. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int build_streams(struct ht_reader *r)
{
	uint64_t *keys;
	size_t nk = 0;

	if (!r->n_eb)
		return 0;
	keys = malloc(r->n_eb * sizeof(*keys));
	if (!keys)
		return HT_ENOMEM;
	for (size_t i = 0; i < r->n_eb; i++)
		keys[i] = (uint64_t)r->binfo[i].pid << 32 | r->binfo[i].tid;
	qsort(keys, r->n_eb, sizeof(*keys), cmp_u64);
	for (size_t i = 0; i < r->n_eb; i++) {
		if (i == 0 || keys[i] != keys[nk - 1])
			keys[nk++] = keys[i];
	}
	r->st = calloc(nk, sizeof(*r->st));
	r->heap = malloc(nk * sizeof(*r->heap));
	if (!r->st || !r->heap) {
		free(keys);
		return HT_ENOMEM;
	}
	r->n_st = nk;
	for (size_t s = 0; s < nk; s++) {
		r->st[s].pid = (uint32_t)(keys[s] >> 32);
		r->st[s].tid = (uint32_t)keys[s];
	}
	for (size_t i = 0; i < r->n_eb; i++) {
		uint64_t k = (uint64_t)r->binfo[i].pid << 32 | r->binfo[i].tid;
		size_t lo = 0, hi = nk;
		struct mstream *m;

		while (lo + 1 < hi) {
			size_t mid = (lo + hi) / 2;

			if (keys[mid] <= k)
				lo = mid;
			else
				hi = mid;
		}
		m = &r->st[lo];
		if (m->nblk == m->bcap) {
			uint32_t c = m->bcap ? m->bcap * 2 : 4;
			uint32_t *nb = realloc(m->blk, c * sizeof(*nb));

			if (!nb) {
				free(keys);
				return HT_ENOMEM;
			}
			m->blk = nb;
			m->bcap = c;
		}
		m->blk[m->nblk++] = (uint32_t)i;
	}
	free(keys);
	r->info.streams = nk;
	return 0;
}

/*
 * Salvage: a file header that fails its hash may still name the right
 * UUID, which salts every block's hashes.  If the first block verifies
 * with it, the blocks are read (the header's other fields taken as this
 * version writes them); else the trace cannot be read.
 */
static int header_salvage(struct ht_reader *r)
{
	const uint8_t *h = r->data;
	struct ht__bhdr bh;

	if (r->mode != HT_READ_SALVAGE || r->len < HT__FILE_HDR +
	    HT__BLK_HDR || ht__bhdr_check(h + HT__FILE_HDR,
					  ht__rd64(h + 32), &bh))
		return fail(r, 56, HT_ECHECKSUM, "file header hash");
	problem(r, 56, HT_ECHECKSUM, 0, 0, 0, "file header hash; its UUID "
		"verifies the blocks: read on");
	r->major = HT_FORMAT_MAJOR;
	r->minor = HT_FORMAT_MINOR;
	memcpy(r->uuid, h + 32, 16);
	r->seed = ht__rd64(r->uuid);
	r->flags = ht__rd32(h + 48) & (HT_TRACE_NO_TIME | HT_TRACE_NO_TID);
	return 0;
}

static int open_common(struct ht_reader *r)
{
	const uint8_t *h = r->data;
	int rc;

	if (r->len < HT__FILE_HDR) {
		size_t n = r->len < 8 ? r->len : 8;

		if (r->len && !memcmp(h, ht__file_magic, n) && r->len >= 4)
			return fail(r, 0, HT_ETRUNC, "partial file header");
		return fail(r, 0, HT_ENOTTRACE, "file header magic");
	}
	if (memcmp(h, ht__file_magic, 8))
		return fail(r, 0, HT_ENOTTRACE, "file header magic");
	if (ht__rd64(h + 56) != ht__hash(h, 56, 0)) {
		if (header_salvage(r))
			return r->err;
		goto blocks;
	}
	r->major = ht__rd16(h + 8);
	r->minor = ht__rd16(h + 10);
	if (r->major != HT_FORMAT_MAJOR)
		return fail(r, 8, HT_EVERSION, "format major version");
	if (ht__rd32(h + 12) != HT__FILE_HDR)
		return fail(r, 12, HT_EVERSION, "file header length");
	if (ht__rd64(h + 16) & ~HT__INCOMPAT_KNOWN)
		return fail(r, 16, HT_EVERSION, "incompatible feature");
	if (ht__rd32(h + 52))
		return fail(r, 52, HT_ECORRUPT, "reserved header field");
	memcpy(r->uuid, h + 32, 16);
	r->seed = ht__rd64(r->uuid);
	r->flags = ht__rd32(h + 48);
blocks:
	rc = 1;
	if (try_index(r) == 0 && index_tiles(r) == 0) {
		r->complete = 1;
		rc = build(r, 1);
		if (rc < 0)
			return rc;
	}
	if (rc) {
		/* No usable index: scan, then build from what was found. */
		for (size_t i = 0; i < r->n_kv; i++) {
			free((void *)r->kv[i].key);
			free((void *)r->kv[i].value);
		}
		for (size_t i = 0; i < r->n_thr; i++)
			free((void *)r->thr[i].name);
		r->n_kv = r->n_thr = r->n_rss = r->n_loss = 0;
		r->n_blk = r->n_eb = 0;
		r->complete = 0;
		memset(&r->info, 0, sizeof(r->info));
		rc = scan(r);
		if (rc)
			return rc;
		rc = build(r, 0);
		if (rc)
			return rc;
		if (!r->complete && !r->n_prob)
			problem(r, r->len, HT_ETRUNC, 0, 0, 0,
				"no END block");
	}
	if (!r->complete && r->mode == HT_READ_STRICT && !r->pend)
		return fail(r, r->len, HT_ETRUNC, "no END block");
	rc = build_streams(r);
	if (rc)
		return fail(r, 0, rc, "out of memory");
	return 0;
}

static struct ht_reader *reader_new(int mode)
{
	struct ht_reader *r = calloc(1, sizeof(*r));

	if (r)
		r->mode = mode;
	return r;
}

HT_API int ht_reader_open_mem(struct ht_reader **rp, const void *buf,
			      size_t len, int mode)
{
	struct ht_reader *r;

	if (!rp)
		return HT_EINVAL;
	*rp = NULL;
	if ((!buf && len) || mode < HT_READ_STOP || mode > HT_READ_SALVAGE)
		return HT_EINVAL;
	r = reader_new(mode);
	if (!r)
		return HT_ENOMEM;
	r->data = buf;
	r->len = len;
	*rp = r;
	return open_common(r);
}

HT_API int ht_reader_open_fd(struct ht_reader **rp, int fd, int mode)
{
	struct ht_reader *r;
	struct stat st;

	if (!rp)
		return HT_EINVAL;
	*rp = NULL;
	if (fd < 0 || mode < HT_READ_STOP || mode > HT_READ_SALVAGE)
		return HT_EINVAL;
	if (fstat(fd, &st))
		return HT_EIO;
	r = reader_new(mode);
	if (!r)
		return HT_ENOMEM;
	if (S_ISREG(st.st_mode) && st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ,
			       MAP_PRIVATE, fd, 0);

		if (m != MAP_FAILED) {
			r->map = m;
			r->data = m;
			r->len = (size_t)st.st_size;
		}
	}
	if (!r->map && !(S_ISREG(st.st_mode) && st.st_size == 0)) {
		/* A pipe, or a file that cannot be mapped: read it all. */
		size_t cap = 1 << 16, n = 0;
		uint8_t *b = malloc(cap);

		for (;;) {
			ssize_t k;

			if (!b) {
				free(r);
				return HT_ENOMEM;
			}
			if (n == cap) {
				uint8_t *nb = realloc(b, cap * 2);

				if (!nb) {
					free(b);
					free(r);
					return HT_ENOMEM;
				}
				b = nb;
				cap *= 2;
			}
			k = read(fd, b + n, cap - n);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				int e = errno;

				free(b);
				free(r);
				errno = e;
				return HT_EIO;
			}
			if (k == 0)
				break;
			n += (size_t)k;
			/* not a trace (/dev/zero, the wrong pipe): say so now,
			 * not after reading it all */
			if (n - (size_t)k < sizeof(ht__file_magic) &&
			    memcmp(b, ht__file_magic,
				   n < sizeof(ht__file_magic) ?
					   n : sizeof(ht__file_magic)))
				break;
		}
		r->owned = b;
		r->data = b;
		r->len = n;
	}
	*rp = r;
	return open_common(r);
}

HT_API int ht_reader_open(struct ht_reader **rp, const char *path, int mode)
{
	int fd, rc, e;

	if (!rp)
		return HT_EINVAL;
	*rp = NULL;
	if (!path)
		return HT_EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return HT_EIO;
	rc = ht_reader_open_fd(rp, fd, mode);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

HT_API void ht_reader_close(struct ht_reader *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_kv; i++) {
		free((void *)r->kv[i].key);
		free((void *)r->kv[i].value);
	}
	for (size_t i = 0; i < r->n_thr; i++)
		free((void *)r->thr[i].name);
	for (size_t i = 0; i < r->n_st; i++) {
		free(r->st[i].blk);
		free(r->st[i].ev);
	}
	free(r->st);
	free(r->heap);
	free(r->kv);
	free(r->thr);
	free(r->rss);
	free(r->loss);
	free(r->binfo);
	free(r->ebk);
	free(r->blocks);
	free(r->prob);
	free(r->prob_ev);
	ht__dec_release(&r->dec);
	if (r->map)
		munmap(r->map, r->len);
	free(r->owned);
	free(r);
}

HT_API int ht_reader_problem_events(const struct ht_reader *r, size_t i,
				    uint64_t *events, uint32_t *tid)
{
	const struct prob_ev *e;

	if (!r || i >= r->n_prob || !r->prob_ev)
		return -1;
	e = &r->prob_ev[i];
	if (events)
		*events = e->events;
	if (tid)
		*tid = e->tid;
	return e->known;
}

HT_API size_t ht_reader_problems(const struct ht_reader *r,
				 const struct ht_problem **out)
{
	if (!r) {
		if (out)
			*out = NULL;
		return 0;
	}
	if (out)
		*out = r->prob;
	return r->n_prob;
}

HT_API uint64_t ht_reader_error_offset(const struct ht_reader *r)
{
	return r ? r->err_off : 0;
}

HT_API int ht_reader_complete(const struct ht_reader *r)
{
	return r ? r->complete : 0;
}

HT_API const char *ht_reader_meta(const struct ht_reader *r, const char *key)
{
	if (!r || !key)
		return NULL;
	for (size_t i = r->n_kv; i-- > 0;) {
		if (!strcmp(r->kv[i].key, key))
			return r->kv[i].value;
	}
	return NULL;
}

HT_API size_t ht_reader_meta_all(const struct ht_reader *r,
				 const struct ht_kv **out)
{
	if (out)
		*out = r ? r->kv : NULL;
	return r ? r->n_kv : 0;
}

HT_API const uint8_t *ht_reader_uuid(const struct ht_reader *r)
{
	return r ? r->uuid : NULL;
}

HT_API uint32_t ht_reader_flags(const struct ht_reader *r)
{
	return r ? r->flags : 0;
}

HT_API uint64_t ht_reader_start_ns(const struct ht_reader *r)
{
	return r ? r->start_ns : 0;
}

HT_API size_t ht_reader_threads(const struct ht_reader *r,
				const struct ht_thread **out)
{
	if (out)
		*out = r ? r->thr : NULL;
	return r ? r->n_thr : 0;
}

HT_API size_t ht_reader_rss(const struct ht_reader *r,
			    const struct ht_rss_sample **out)
{
	if (out)
		*out = r ? r->rss : NULL;
	return r ? r->n_rss : 0;
}

HT_API size_t ht_reader_losses(const struct ht_reader *r,
			       const struct ht_loss **out)
{
	if (out)
		*out = r ? r->loss : NULL;
	return r ? r->n_loss : 0;
}

HT_API void ht_reader_info(const struct ht_reader *r,
			   struct ht_trace_info *info)
{
	if (!info)
		return;
	if (!r) {
		memset(info, 0, sizeof(*info));
		return;
	}
	*info = r->info;
}

HT_API size_t ht_reader_blocks(const struct ht_reader *r,
			       const struct ht_block_info **out)
{
	if (out)
		*out = r ? r->binfo : NULL;
	return r ? r->n_eb : 0;
}

HT_API int ht_decoder_new(struct ht_decoder **dp)
{
	if (!dp)
		return HT_EINVAL;
	*dp = calloc(1, sizeof(**dp));
	return *dp ? 0 : HT_ENOMEM;
}

HT_API void ht_decoder_free(struct ht_decoder *d)
{
	if (!d)
		return;
	ht__dec_release(d);
	free(d);
}

/* Decodes EVENTS block i into out[0..cap) or, with cols, into columns;
 * sets *what on failure. */
static int decode(const struct ht_reader *r, struct ht_decoder *d, size_t i,
		  struct ht_event *out, size_t cap, struct ht_columns *cols,
		  const char **what)
{
	const struct ht_block_info *bi = &r->binfo[i];
	const uint8_t *h = r->data + bi->offset;
	const uint8_t *p = h + HT__BLK_HDR;
	uint32_t plen = r->ebk[i].plen;
	struct ht__evprefix pf;

	*what = "";
	if (!cols && cap < bi->count) {
		*what = "output buffer too small";
		return HT_ERANGE;
	}
	if (!r->ebk[i].verified) {
		int hr = payload_ok(r, bi->offset, plen, ht__rd64(h + 32));

		if (hr) {
			*what = hr == -1 ? "payload hash" : "block padding";
			return hr == -1 ? HT_ECHECKSUM : HT_ECORRUPT;
		}
	}
	if (ht__ev_prefix(p, plen, bi->count, &pf) || pf.pid != bi->pid ||
	    pf.tid != bi->tid ||
	    ht__to_ns(pf.ts_min, r->clk_num, r->clk_den) != bi->ts_min ||
	    ht__to_ns(pf.ts_max, r->clk_num, r->clk_den) != bi->ts_max) {
		*what = "events prefix";
		return HT_ECORRUPT;
	}
	if (cols)
		return ht__dec_columns(d, p, plen, bi->count, r->clk_num,
				       r->clk_den, cols, what);
	return ht__dec_block(d, p, plen, bi->count, r->clk_num, r->clk_den,
			     out, what);
}

HT_API int ht_reader_decode_block(const struct ht_reader *r,
				  struct ht_decoder *d, size_t i,
				  struct ht_event *out, size_t cap)
{
	const char *what;

	if (!r || !d || (!out && cap))
		return HT_EINVAL;
	if (i >= r->n_eb)
		return HT_ERANGE;
	return decode(r, d, i, out, cap, NULL, &what);
}

HT_API int ht_reader_decode_columns(const struct ht_reader *r,
				    struct ht_decoder *d, size_t i,
				    struct ht_columns *out)
{
	const char *what;

	if (!r || !d || !out)
		return HT_EINVAL;
	if (i >= r->n_eb)
		return HT_ERANGE;
	return decode(r, d, i, NULL, 0, out, &what);
}

/*
 * The merge: a binary heap of streams keyed by their next event's
 * (ts, pid, tid); a stream whose next block is not decoded yet is keyed
 * by that block's ts_min, a lower bound, and decoded when it reaches the
 * top.
 */
static uint64_t st_key(const struct ht_reader *r, const struct mstream *m)
{
	if (m->pos < m->n)
		return m->ev[m->pos].ts;
	return r->binfo[m->blk[m->bi]].ts_min;
}

static int st_less(const struct ht_reader *r, uint32_t a, uint32_t b)
{
	const struct mstream *x = &r->st[a], *y = &r->st[b];
	uint64_t kx = st_key(r, x), ky = st_key(r, y);

	if (kx != ky)
		return kx < ky;
	if (x->pid != y->pid)
		return x->pid < y->pid;
	return x->tid < y->tid;
}

static void sift_down(struct ht_reader *r, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, s = i;

		if (l < r->n_heap && st_less(r, r->heap[l], r->heap[s]))
			s = l;
		if (l + 1 < r->n_heap && st_less(r, r->heap[l + 1], r->heap[s]))
			s = l + 1;
		if (s == i)
			return;
		uint32_t t = r->heap[i];
		r->heap[i] = r->heap[s];
		r->heap[s] = t;
		i = s;
	}
}

static void heap_build(struct ht_reader *r)
{
	r->n_heap = 0;
	for (size_t s = 0; s < r->n_st; s++) {
		struct mstream *m = &r->st[s];

		if (m->pos < m->n || m->bi < m->nblk)
			r->heap[r->n_heap++] = (uint32_t)s;
	}
	for (size_t i = r->n_heap / 2; i-- > 0;)
		sift_down(r, i);
	r->merge_ready = 1;
}

/* Takes the top stream out of the merge: it has no events left, so its
 * decoded block goes (a trace of many threads that came and went keeps
 * only the live ones' blocks; a seek decodes again). */
static void heap_pop(struct ht_reader *r)
{
	struct mstream *m = &r->st[r->heap[0]];

	r->merge_bytes -= (uint64_t)m->cap * sizeof(struct ht_event);
	free(m->ev);
	m->ev = NULL;
	m->cap = m->n = m->pos = 0;
	r->heap[0] = r->heap[--r->n_heap];
	sift_down(r, 0);
}

/* Decodes the stream's next block; 0, or HT_E* when stopping. */
static int st_load(struct ht_reader *r, struct mstream *m)
{
	while (m->bi < m->nblk) {
		uint32_t bi = m->blk[m->bi++];
		const struct ht_block_info *b = &r->binfo[bi];
		const char *what;
		int n;

		if (b->count > m->cap) {
			/* The merge holds one decoded block per stream; a
			 * hostile file of many huge constant blocks must
			 * not take all memory: 1 GiB + 64 x the file. */
			uint64_t add = (uint64_t)(b->count - m->cap) *
				       sizeof(struct ht_event);
			struct ht_event *e;

			if (r->merge_bytes + add > (1ull << 30) +
			    64 * (uint64_t)r->len)
				return fail(r, b->offset, HT_ENOMEM,
					    "decoded blocks over the memory "
					    "bound");
			e = realloc(m->ev, (size_t)b->count * sizeof(*e));
			if (!e)
				return fail(r, b->offset, HT_ENOMEM, "memory");
			m->ev = e;
			m->cap = b->count;
			r->merge_bytes += add;
		}
		n = decode(r, &r->dec, bi, m->ev, m->cap, NULL, &what);
		if (n < 0) {
			if (r->mode != HT_READ_SALVAGE)
				return fail(r, b->offset, n, what);
			problem(r, b->offset, n, HT__BLK_HDR +
				ht__align8(r->ebk[bi].plen), b->seq, b->seq,
				what);
			continue;
		}
		m->n = (uint32_t)n;
		m->pos = 0;
		if (m->seeking) {
			while (m->pos < m->n &&
			       m->ev[m->pos].ts < m->skip_below)
				m->pos++;
			if (m->pos < m->n)
				m->seeking = 0;
		}
		if (m->pos < m->n)
			return 0;
	}
	m->n = m->pos = 0;
	return 0;
}

HT_API int ht_reader_next(struct ht_reader *r, struct ht_event *ev)
{
	if (!r || !ev)
		return HT_EINVAL;
	if (r->err)
		return r->err;
	if (!r->merge_ready)
		heap_build(r);
	while (r->n_heap) {
		struct mstream *m = &r->st[r->heap[0]];
		int rc;

		if (m->pos < m->n) {
			*ev = m->ev[m->pos++];
			if (m->pos == m->n && m->bi >= m->nblk)
				heap_pop(r);
			else
				sift_down(r, 0);
			return 1;
		}
		rc = st_load(r, m);
		if (rc)
			return rc;
		if (m->pos < m->n)
			sift_down(r, 0);
		else
			heap_pop(r);
	}
	if (r->pend) {
		/* the blocks before the damage are read: now its error */
		r->err_off = r->pend_off;
		return r->err = r->pend;
	}
	return 0;
}

HT_API int ht_reader_seek(struct ht_reader *r, uint64_t ts_ns)
{
	if (!r)
		return HT_EINVAL;
	if (r->err)
		return r->err;
	for (size_t s = 0; s < r->n_st; s++) {
		struct mstream *m = &r->st[s];
		uint32_t k = 0;

		while (k < m->nblk && r->binfo[m->blk[k]].ts_max < ts_ns)
			k++;
		m->bi = k;
		m->n = m->pos = 0;
		m->seeking = 1;
		m->skip_below = ts_ns;
	}
	heap_build(r);
	return 0;
}
