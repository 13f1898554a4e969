/*
 * writer.c - the trace writer: file header, EVENTS blocks from per-thread
 * batches, metadata blocks, the backwards-chained INDEX and the END block.
 *
 * Every block reaches the file with one write() of a buffer sized at open;
 * nothing is ever rewritten.  After ht_writer_open() only ht_writer_put()
 * allocates (its per-thread buffers), through opts->allocator if given.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "internal.h"

struct idx_entry {
	uint64_t offset, seq, ts_min, ts_max;
	uint32_t pid, tid, count;
	uint8_t type;
};

struct pstream {
	uint32_t pid, tid;
	uint32_t n, cap;
	struct ht_event *ev;
};

struct ht_writer {
	int fd;
	int err;              /* sticky HT_E* */
	struct ht__enc_mem mem;
	struct ht__enc *enc;
	uint8_t uuid[16];
	uint64_t seed;
	uint64_t seq;
	uint64_t bytes;
	uint64_t max_bytes;
	uint64_t total_events;
	uint32_t block_events;
	uint32_t index_every;
	uint8_t *out;         /* block header + payload + padding */
	size_t out_cap;       /* payload capacity */
	struct idx_entry *idx;
	uint32_t n_idx;
	uint64_t last_index;  /* offset of the last INDEX, 0 if none */
	uint64_t reserve;     /* bytes kept for the final INDEX and END */
	int force_raw;
	/* ht_writer_append(): the open block, o_n events of (o_pid, o_tid)
	 * taken by the encoder */
	uint32_t o_n, o_pid, o_tid;
	/* ht_writer_put() */
	struct pstream *ps;
	size_t n_ps, cap_ps;
	uint32_t *ps_hash;    /* index+1 into ps, 0 = empty */
	size_t hash_cap;
	uint64_t put_bytes, put_max; /* the buffers' bytes, and the bound */
};

static void *walloc(struct ht_writer *w, size_t n)
{
	return w->mem.alloc ? w->mem.alloc(w->mem.ctx, n) : malloc(n);
}

static void wfree(struct ht_writer *w, void *p)
{
	if (!p)
		return;
	if (w->mem.free)
		w->mem.free(w->mem.ctx, p);
	else
		free(p);
}

static int write_all(struct ht_writer *w, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(w->fd, p, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return HT_EIO;
		}
		if (k == 0)
			return HT_EIO;
		p += k;
		n -= (size_t)k;
		w->bytes += (uint64_t)k;
	}
	return 0;
}

static int write_index(struct ht_writer *w);

/*
 * A metadata or INDEX body of blen bytes is at w->out + HT__BLK_HDR + 8:
 * fills the 8-byte prefix, compresses the body with zstd (into the room
 * after it) when that is smaller, and returns the payload length.
 */
static size_t meta_pack(struct ht_writer *w, size_t blen)
{
	uint8_t *p = w->out + HT__BLK_HDR, *b = p + HT__META_PREFIX;
	size_t len = blen;

	memset(p, 0, 4);
	ht__wr32(p + 4, (uint32_t)blen);
	if (blen >= 512 && !w->force_raw) {
		size_t room = w->out_cap - HT__META_PREFIX - blen;
		size_t z = ht__enc_zstd(w->enc, b + blen, room < blen - 1 ?
					room : blen - 1, b, blen);

		if (z) {
			memmove(b, b + blen, z);
			p[0] = HT__CODEC_ZSTD;
			len = z;
		}
	}
	return HT__META_PREFIX + len;
}

/*
 * Writes the block whose payload (len bytes) is at w->out + HT__BLK_HDR.
 * ts/pid/tid are for the index entry.
 */
static int emit(struct ht_writer *w, uint8_t type, uint32_t count,
		uint32_t stream_id, size_t len, uint64_t ts_min,
		uint64_t ts_max, uint32_t pid)
{
	uint8_t *p = w->out + HT__BLK_HDR;
	size_t total = HT__BLK_HDR + ht__align8(len);
	struct ht__bhdr h;
	uint64_t off = w->bytes;
	int rc;

	if (w->err)
		return w->err;
	if (w->max_bytes && type != HT__B_INDEX && type != HT__B_END &&
	    off + total + w->reserve > w->max_bytes)
		return HT_ENOSPC;
	memset(p + len, 0, ht__align8(len) - len);
	memset(&h, 0, sizeof(h));
	h.type = type;
	h.payload_len = (uint32_t)len;
	h.count = count;
	h.seq = w->seq;
	h.stream_id = stream_id;
	h.payload_hash = ht__hash(p, len, w->seed);
	ht__bhdr_pack(w->out, &h, w->seed);
	rc = write_all(w, w->out, total);
	if (rc) {
		w->err = rc;
		return rc;
	}
	w->seq++;
	if (type == HT__B_INDEX || type == HT__B_END)
		return 0;
	struct idx_entry *e = &w->idx[w->n_idx++];
	e->offset = off;
	e->seq = h.seq;
	e->ts_min = ts_min;
	e->ts_max = ts_max;
	e->pid = pid;
	e->tid = stream_id;
	e->count = count;
	e->type = type;
	if (w->n_idx == w->index_every)
		return write_index(w);
	return 0;
}

static int write_index(struct ht_writer *w)
{
	uint8_t *p = w->out + HT__BLK_HDR;
	size_t blen = 8 + (size_t)w->n_idx * HT__IDX_ENTRY;
	uint64_t off = w->bytes;
	int rc;

	ht__wr64(p + 8, w->last_index);
	for (uint32_t i = 0; i < w->n_idx; i++) {
		uint8_t *q = p + 16 + (size_t)i * HT__IDX_ENTRY;
		const struct idx_entry *e = &w->idx[i];

		ht__wr64(q, e->offset);
		ht__wr64(q + 8, e->seq);
		ht__wr64(q + 16, e->ts_min);
		ht__wr64(q + 24, e->ts_max);
		ht__wr32(q + 32, e->pid);
		ht__wr32(q + 36, e->tid);
		ht__wr32(q + 40, e->count);
		q[44] = e->type;
		q[45] = q[46] = q[47] = 0;
	}
	rc = emit(w, HT__B_INDEX, w->n_idx, 0, meta_pack(w, blen), 0, 0, 0);
	if (rc)
		return rc;
	w->last_index = off;
	w->n_idx = 0;
	return 0;
}

/* Starts a metadata payload; returns where the body goes. */
static uint8_t *meta_begin(struct ht_writer *w)
{
	memset(w->out + HT__BLK_HDR, 0, HT__META_PREFIX);
	return w->out + HT__BLK_HDR + HT__META_PREFIX;
}

static int meta_end(struct ht_writer *w, uint8_t type, uint32_t count,
		    size_t body, uint32_t pid, uint32_t tid)
{
	return emit(w, type, count, tid, meta_pack(w, body), 0, 0, pid);
}

/* Body bytes a metadata block may take: the buffer, and [R-META-1]. */
static size_t meta_room(const struct ht_writer *w)
{
	size_t room = w->out_cap - HT__META_PREFIX;

	return room < HT__META_MAX ? room : HT__META_MAX;
}

static int put_kv(struct ht_writer *w, const struct ht_kv *kv, size_t n)
{
	uint8_t *b = meta_begin(w), *q = b;
	size_t room = meta_room(w);

	for (size_t i = 0; i < n; i++) {
		size_t kl, vl;

		if (!kv[i].key || !kv[i].value || !kv[i].key[0])
			return HT_EINVAL;
		kl = strlen(kv[i].key);
		vl = strlen(kv[i].value);
		if ((size_t)(q - b) + kl + vl + 20 > room)
			return HT_ERANGE;
		q += ht__put_varint(q, kl);
		memcpy(q, kv[i].key, kl);
		q += kl;
		q += ht__put_varint(q, vl);
		memcpy(q, kv[i].value, vl);
		q += vl;
	}
	return meta_end(w, HT__B_PROCESS, (uint32_t)n, (size_t)(q - b), 0, 0);
}

static int u64str(char *buf, uint64_t v)
{
	char t[24];
	int n = 0, k = 0;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		buf[k++] = t[--n];
	buf[k] = 0;
	return k;
}

HT_API int ht_writer_open(struct ht_writer **wp, int fd,
			  const struct ht_writer_opts *opts)
{
	struct ht_writer_opts o;
	struct ht_writer *w;
	struct ht__enc_mem mem = { 0, 0, 0 };
	uint8_t hdr[HT__FILE_HDR];
	size_t cap;
	int rc;

	if (!wp)
		return HT_EINVAL;
	*wp = NULL;
	memset(&o, 0, sizeof(o));
	if (opts)
		o = *opts;
	if (o.allocator) {
		if (!o.allocator->alloc || !o.allocator->free)
			return HT_EINVAL;
		mem.alloc = o.allocator->alloc;
		mem.free = o.allocator->free;
		mem.ctx = o.allocator->ctx;
	}
	if (!o.level)
		o.level = HT_DEFAULT_LEVEL;
	if (!o.block_events)
		o.block_events = 65536;
	if (!o.index_every)
		o.index_every = 64;
	if (o.block_events > HT_MAX_BLOCK_EVENTS || o.index_every > 65536)
		return HT_ERANGE;
	if (o.compression != HT_COMPRESS_ZSTD &&
	    o.compression != HT_COMPRESS_NONE)
		return HT_EINVAL;
	if ((o.clock_num == 0) != (o.clock_den == 0))
		return HT_EINVAL;
	if (!o.clock_num)
		o.clock_num = o.clock_den = 1;
	if (o.flags & ~(HT_TRACE_NO_TIME | HT_TRACE_NO_TID))
		return HT_EINVAL;
	if (fd < 0)
		return HT_EINVAL;

	w = mem.alloc ? mem.alloc(mem.ctx, sizeof(*w)) : malloc(sizeof(*w));
	if (!w)
		return HT_ENOMEM;
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->mem = mem;
	w->block_events = o.block_events;
	w->index_every = o.index_every;
	w->put_max = o.put_bytes;
	if (!w->put_max) {
		w->put_max = (uint64_t)256 << 20;
		if (w->put_max < 4ull * o.block_events * sizeof(struct ht_event))
			w->put_max = 4ull * o.block_events *
				     sizeof(struct ht_event);
	}
	w->max_bytes = o.max_bytes;
	w->force_raw = o.compression == HT_COMPRESS_NONE;
	cap = ht__enc_payload_max(o.block_events);
	if (cap < HT__META_PREFIX + 8 + (size_t)o.index_every * HT__IDX_ENTRY)
		cap = HT__META_PREFIX + 8 + (size_t)o.index_every *
		      HT__IDX_ENTRY;
	if (cap < 65536)
		cap = 65536; /* room for metadata */
	w->out_cap = cap;
	w->out = walloc(w, HT__BLK_HDR + cap + 8);
	w->idx = walloc(w, sizeof(*w->idx) * o.index_every);
	if (!w->out || !w->idx) {
		ht_writer_abandon(w);
		return HT_ENOMEM;
	}
	w->reserve = 2 * HT__BLK_HDR + HT__META_PREFIX + 8 +
		     (uint64_t)o.index_every * HT__IDX_ENTRY + 8 +
		     HT__END_PAYLOAD;
	rc = ht__enc_new(&w->enc, o.block_events,
			 w->force_raw ? 1 : o.level, &mem);
	if (rc) {
		ht_writer_abandon(w);
		return rc;
	}
	if (o.uuid) {
		memcpy(w->uuid, o.uuid, 16);
	} else {
		size_t got = 0;

		while (got < 16) {
			ssize_t k = getrandom(w->uuid + got, 16 - got, 0);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				ht_writer_abandon(w);
				return HT_EIO;
			}
			got += (size_t)k;
		}
		w->uuid[6] = (uint8_t)((w->uuid[6] & 0x0f) | 0x40);
		w->uuid[8] = (uint8_t)((w->uuid[8] & 0x3f) | 0x80);
	}
	w->seed = ht__rd64(w->uuid);

	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, ht__file_magic, 8);
	ht__wr16(hdr + 8, HT_FORMAT_MAJOR);
	ht__wr16(hdr + 10, HT_FORMAT_MINOR);
	ht__wr32(hdr + 12, HT__FILE_HDR);
	/* zstd columns may use MRU_BSS, raw ones never do; timestamps
	 * may use UDELTA either way */
	ht__wr64(hdr + 16, HT__INCOMPAT_UDELTA |
				   (w->force_raw ? 0 : HT__INCOMPAT_MRU_BSS));
	memcpy(hdr + 32, w->uuid, 16);
	ht__wr32(hdr + 48, o.flags);
	ht__wr64(hdr + 56, ht__hash(hdr, 56, 0));
	rc = write_all(w, hdr, sizeof(hdr));
	if (rc) {
		ht_writer_abandon(w);
		return rc;
	}

	char num[24], den[24];
	struct ht_kv kv[2] = { { "clock.unit_num", num },
			       { "clock.unit_den", den } };
	u64str(num, o.clock_num);
	u64str(den, o.clock_den);
	rc = put_kv(w, kv, 2);
	if (rc) {
		ht_writer_abandon(w);
		return rc;
	}
	*wp = w;
	return 0;
}

/* Writes the encoder's block of n events of (pid, tid). */
static int write_open(struct ht_writer *w, uint32_t n, uint32_t pid,
		      uint32_t tid)
{
	uint8_t *p = w->out + HT__BLK_HDR;
	size_t len = ht__enc_end(w->enc, p, w->force_raw);
	int rc;

	if (len == 0)
		return HT_EINVAL;
	rc = emit(w, HT__B_EVENTS, n, tid, len, ht__rd64(p), ht__rd64(p + 8),
		  pid);
	if (rc == 0)
		w->total_events += n;
	return rc;
}

HT_API int ht_writer_seal(struct ht_writer *w)
{
	uint32_t n;

	if (!w)
		return HT_EINVAL;
	n = w->o_n;
	w->o_n = 0;
	if (n == 0)
		return w->err;
	if (w->err) {
		ht__enc_drop(w->enc);
		return w->err;
	}
	return write_open(w, n, w->o_pid, w->o_tid);
}

HT_API void ht_writer_drop(struct ht_writer *w)
{
	if (w && w->o_n) {
		w->o_n = 0;
		ht__enc_drop(w->enc);
	}
}

/* n <= block_events events of one thread, after the open block. */
static int write_events(struct ht_writer *w, const struct ht_event *ev,
			size_t n)
{
	int rc = ht_writer_seal(w);

	if (rc)
		return rc;
	ht__enc_add(w->enc, ev, n);
	return write_open(w, (uint32_t)n, ev[0].pid, ev[0].tid);
}

/* The checks of a call that hands over n events (or records) at p. */
static int batch_check(const struct ht_writer *w, const void *p, size_t n)
{
	if (!w)
		return HT_EINVAL;
	if (w->err)
		return w->err;
	return n && !p ? HT_EINVAL : 0;
}

HT_API int ht_writer_write(struct ht_writer *w, const struct ht_event *ev,
			   size_t n)
{
	int rc = batch_check(w, ev, n);

	if (rc)
		return rc;
	while (n) {
		size_t k = n < w->block_events ? n : w->block_events;

		rc = write_events(w, ev, k);
		if (rc)
			return rc;
		ev += k;
		n -= k;
	}
	return 0;
}

/* ht_writer_append() of events (ev) or, with r, of the recorder's
 * records of thread (pid, tid). */
static int append(struct ht_writer *w, const struct ht_event *ev,
		  const struct ht__rec *r, size_t n, uint32_t pid,
		  uint32_t tid, const struct ht__recclock *clk)
{
	int rc = batch_check(w, ev ? (const void *)ev : (const void *)r, n);

	if (rc)
		return rc;
	while (n) {
		size_t k;

		if (ev) {
			pid = ev->pid;
			tid = ev->tid;
		}
		if (w->o_n && (pid != w->o_pid || tid != w->o_tid)) {
			rc = ht_writer_seal(w);
			if (rc)
				return rc;
		}
		if (w->o_n == 0) {
			w->o_pid = pid;
			w->o_tid = tid;
		}
		k = w->block_events - w->o_n;
		k = n < k ? n : k;
		if (ev ? ht__enc_add(w->enc, ev, k) :
			 ht__enc_add_recs(w->enc, r, k, pid, tid, clk)) {
			ht_writer_drop(w);
			return HT_EINVAL;
		}
		w->o_n += (uint32_t)k;
		if (ev)
			ev += k;
		else
			r += k;
		n -= k;
		if (w->o_n == w->block_events) {
			rc = ht_writer_seal(w);
			if (rc)
				return rc;
		}
	}
	return 0;
}

HT_API int ht_writer_append(struct ht_writer *w, const struct ht_event *ev,
			    size_t n)
{
	return append(w, ev, NULL, n, 0, 0, NULL);
}

int ht__writer_append_recs(struct ht_writer *w, const struct ht__rec *r,
			   size_t n, uint32_t pid, uint32_t tid,
			   const struct ht__recclock *clk)
{
	return append(w, NULL, r, n, pid, tid, clk);
}

HT_API uint32_t ht_writer_open_events(const struct ht_writer *w)
{
	return w ? w->o_n : 0;
}

static int ps_grow_hash(struct ht_writer *w)
{
	size_t cap = w->hash_cap ? w->hash_cap * 2 : 64;
	uint32_t *h = walloc(w, cap * sizeof(*h));

	if (!h)
		return HT_ENOMEM;
	memset(h, 0, cap * sizeof(*h));
	for (size_t i = 0; i < w->n_ps; i++) {
		uint64_t k = (uint64_t)w->ps[i].pid << 32 | w->ps[i].tid;
		size_t j = (size_t)(k * 0x9E3779B97F4A7C15ull >> 20) &
			   (cap - 1);

		while (h[j])
			j = (j + 1) & (cap - 1);
		h[j] = (uint32_t)i + 1;
	}
	wfree(w, w->ps_hash);
	w->ps_hash = h;
	w->hash_cap = cap;
	return 0;
}

static struct pstream *ps_find(struct ht_writer *w, uint32_t pid,
			       uint32_t tid)
{
	uint64_t k = (uint64_t)pid << 32 | tid;
	size_t j;

	if ((w->n_ps + 1) * 2 > w->hash_cap && ps_grow_hash(w))
		return NULL;
	j = (size_t)(k * 0x9E3779B97F4A7C15ull >> 20) & (w->hash_cap - 1);
	while (w->ps_hash[j]) {
		struct pstream *s = &w->ps[w->ps_hash[j] - 1];

		if (s->pid == pid && s->tid == tid)
			return s;
		j = (j + 1) & (w->hash_cap - 1);
	}
	if (w->n_ps == w->cap_ps) {
		size_t cap = w->cap_ps ? w->cap_ps * 2 : 16;
		struct pstream *ps = walloc(w, cap * sizeof(*ps));

		if (!ps)
			return NULL;
		if (w->n_ps)
			memcpy(ps, w->ps, w->n_ps * sizeof(*ps));
		wfree(w, w->ps);
		w->ps = ps;
		w->cap_ps = cap;
	}
	struct pstream *s = &w->ps[w->n_ps];
	memset(s, 0, sizeof(*s));
	s->pid = pid;
	s->tid = tid;
	w->ps_hash[j] = (uint32_t)++w->n_ps;
	return s;
}

/*
 * Keeps ht_writer_put()'s buffers within put_max when add more bytes
 * come: buffers with nothing in them are freed, then the threads with
 * the most events buffered have them written (a block shorter than
 * block_events) and their buffer freed, until add fits or nothing is
 * left to write.  s, the stream about to grow, may be one of them; then
 * it starts again from a small buffer (s->cap 0 after).
 */
static int put_room(struct ht_writer *w, struct pstream *s, uint64_t add)
{
	while (w->put_bytes + add > w->put_max) {
		struct pstream *big = NULL;
		int rc;

		for (size_t i = 0; i < w->n_ps; i++) {
			struct pstream *t = &w->ps[i];

			if (t->cap && !t->n && t != s) {
				w->put_bytes -= (uint64_t)t->cap *
						sizeof(struct ht_event);
				wfree(w, t->ev);
				t->ev = NULL;
				t->cap = 0;
			} else if (t->n && (!big || t->n > big->n)) {
				big = t;
			}
		}
		if (w->put_bytes + add <= w->put_max || !big)
			return 0;
		rc = write_events(w, big->ev, big->n);
		big->n = 0;
		w->put_bytes -= (uint64_t)big->cap * sizeof(struct ht_event);
		wfree(w, big->ev);
		big->ev = NULL;
		big->cap = 0;
		if (rc)
			return rc;
		if (big == s)
			return 0; /* it grows from nothing */
	}
	return 0;
}

HT_API int ht_writer_put(struct ht_writer *w, const struct ht_event *ev)
{
	struct pstream *s;
	int rc;

	if (!w || !ev)
		return HT_EINVAL;
	if (w->err)
		return w->err;
	s = ps_find(w, ev->pid, ev->tid);
	if (!s)
		return HT_ENOMEM;
	if (s->n == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 256;
		struct ht_event *e;

		if (cap > w->block_events)
			cap = w->block_events;
		rc = put_room(w, s, (uint64_t)(cap - s->cap) * sizeof(*e));
		if (rc)
			return rc;
		if (s->cap == 0) /* written by put_room() */
			cap = w->block_events < 256 ? w->block_events : 256;
		e = walloc(w, (size_t)cap * sizeof(*e));
		if (!e)
			return HT_ENOMEM;
		if (s->n)
			memcpy(e, s->ev, (size_t)s->n * sizeof(*e));
		wfree(w, s->ev);
		w->put_bytes += (uint64_t)(cap - s->cap) * sizeof(*e);
		s->ev = e;
		s->cap = cap;
	}
	s->ev[s->n++] = *ev;
	if (s->n == w->block_events) {
		rc = write_events(w, s->ev, s->n);
		s->n = 0;
		if (rc)
			return rc;
	}
	return 0;
}

HT_API int ht_writer_meta(struct ht_writer *w, const struct ht_kv *kv,
			  size_t n)
{
	if (!w || (n && !kv))
		return HT_EINVAL;
	if (w->err)
		return w->err;
	if (n == 0)
		return 0;
	return put_kv(w, kv, n);
}

HT_API int ht_writer_thread(struct ht_writer *w, uint64_t ts, uint32_t pid,
			    uint32_t tid, const char *name)
{
	uint8_t *b, *q;
	size_t nl;

	if (!w || !name)
		return HT_EINVAL;
	if (w->err)
		return w->err;
	nl = strlen(name);
	if (nl + 64 > meta_room(w))
		return HT_ERANGE;
	b = q = meta_begin(w);
	q += ht__put_varint(q, ts);
	q += ht__put_varint(q, pid);
	q += ht__put_varint(q, tid);
	q += ht__put_varint(q, nl);
	memcpy(q, name, nl);
	q += nl;
	return meta_end(w, HT__B_THREADS, 1, (size_t)(q - b), pid, tid);
}

HT_API int ht_writer_rss(struct ht_writer *w,
			 const struct ht_rss_sample *s, size_t n)
{
	if (!w || (n && !s))
		return HT_EINVAL;
	if (w->err)
		return w->err;
	while (n) {
		uint8_t *b = meta_begin(w), *q = b;
		size_t room = meta_room(w), k = 0;
		int rc;

		while (k < n && (size_t)(q - b) + 40 <= room) {
			q += ht__put_varint(q, s[k].ts);
			q += ht__put_varint(q, s[k].pid);
			q += ht__put_varint(q, s[k].rss_bytes);
			k++;
		}
		rc = meta_end(w, HT__B_RSS, (uint32_t)k, (size_t)(q - b),
			      s[0].pid, 0);
		if (rc)
			return rc;
		s += k;
		n -= k;
	}
	return 0;
}

void ht__writer_set_fd(struct ht_writer *w, int fd)
{
	w->fd = fd;
}

HT_API int ht_writer_loss(struct ht_writer *w, const struct ht_loss *l)
{
	uint8_t *b, *q;

	if (!w || !l)
		return HT_EINVAL;
	if (w->err)
		return w->err;
	b = q = meta_begin(w);
	q += ht__put_varint(q, l->ts_from);
	/* [R-META-4] Ts_From <= Ts_To: a range the caller got backwards
	 * (clocks of two CPUs) is kept, as the instant ts_from, not lost */
	q += ht__put_varint(q, l->ts_to < l->ts_from ? l->ts_from : l->ts_to);
	q += ht__put_varint(q, l->pid);
	q += ht__put_varint(q, l->tid);
	q += ht__put_varint(q, l->events);
	q += ht__put_varint(q, l->reason);
	return meta_end(w, HT__B_LOSS, 1, (size_t)(q - b), l->pid, l->tid);
}

HT_API int ht_writer_sync(struct ht_writer *w)
{
	if (!w)
		return HT_EINVAL;
	if (w->err)
		return w->err;
	if (w->n_idx == 0)
		return 0;
	return write_index(w);
}

static void free_all(struct ht_writer *w)
{
	for (size_t i = 0; i < w->n_ps; i++)
		wfree(w, w->ps[i].ev);
	wfree(w, w->ps);
	wfree(w, w->ps_hash);
	ht__enc_free(w->enc);
	wfree(w, w->out);
	wfree(w, w->idx);
	wfree(w, w);
}

HT_API int ht_writer_close(struct ht_writer *w)
{
	int rc = 0;

	if (!w)
		return 0;
	rc = ht_writer_seal(w);
	for (size_t i = 0; i < w->n_ps && (!rc || rc == HT_ENOSPC); i++) {
		if (w->ps[i].n) {
			int r2 = write_events(w, w->ps[i].ev, w->ps[i].n);

			if (r2 && !rc)
				rc = r2;
		}
		w->ps[i].n = 0;
	}
	/* Past max_bytes the INDEX and END still go out (room is kept for
	 * them): the file stays complete, and HT_ENOSPC says what was lost. */
	if (w->err)
		rc = w->err;
	if ((!rc || rc == HT_ENOSPC) && (w->n_idx || !w->last_index)) {
		int r2 = write_index(w);

		rc = r2 ? r2 : rc;
	}
	if (!rc || rc == HT_ENOSPC) {
		uint8_t *p = w->out + HT__BLK_HDR;

		ht__wr64(p, w->last_index);
		ht__wr64(p + 8, w->total_events);
		ht__wr64(p + 16, w->seq);
		memcpy(p + 24, ht__end_magic, 8);
		int r2 = emit(w, HT__B_END, 0, 0, HT__END_PAYLOAD, 0, 0, 0);

		rc = r2 ? r2 : rc;
	}
	free_all(w);
	return rc;
}

HT_API void ht_writer_abandon(struct ht_writer *w)
{
	if (w)
		free_all(w);
}

HT_API uint64_t ht_writer_bytes(const struct ht_writer *w)
{
	return w ? w->bytes : 0;
}

HT_API const uint8_t *ht_writer_uuid(const struct ht_writer *w)
{
	return w ? w->uuid : NULL;
}
