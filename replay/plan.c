/*
 * plan.c - turn a trace into a replay plan (worker/plan.h): one pass over
 * the events in global order, writing one op stream per recorded thread to
 * a file.  Memory grows with live blocks, not with the trace: each
 * stream keeps only its current chunk (<= 160 KiB) in memory, and all of
 * them together at most BUF_MAX.
 *
 * Blocks: every (pid, heap, address) has an entry holding a FIFO of the
 * slots allocated at that address and not yet released.  Normally it
 * holds one slot.  A second allocation at a live address is a reuse
 * inversion (thread C's malloc recorded before thread B's free of the same
 * address, FORMAT-NOTES §7.11): the new block gets a new slot at the FIFO
 * tail and the next release of the address takes the oldest block, which
 * restores alloc < free < next alloc per address.  A genuinely lost free
 * then just leaves one block live, as it did in the recorded run.
 *
 * Slots freed by a stream go to that stream's free list, so a slot is
 * only ever reused by the thread that last released it: reuse never needs
 * an edge.  A release in stream B of a slot created in stream A is a wait
 * edge: B's op waits for A's creating op (RF_WAIT), which is patched in
 * place to publish (RF_PUBLISH).
 *
 * Deadlock freedom.  Let E be the order in which ops are appended here.
 * (1) Each stream's ops are appended in its program order, so program
 * order is a sub-order of E.  (2) A wait edge goes from the op that
 * created the slot to the op that releases it, and the creating op was
 * appended first.  (3) A stream's first op runs only after the RK_SPAWN
 * that starts it, which is appended (to the stream of the previous event)
 * just before it.  (4) A stream's first op of epoch e waits for every op of
 * the epochs below e - window, all of which come before it in E.  So
 * every dependency points backwards in E, and E is a
 * topological order of the dependency graph.  In a run, take the first op
 * of E that has not completed: everything before it in E has completed,
 * its stream has been started and has reached it, and its wait (if any) is
 * satisfied, so it can complete.  By induction every op completes: no
 * deadlock, whatever the threads' speeds.  tests/t_replay.sh runs
 * producer/consumer and 393-thread traces in a loop under `timeout`.
 *
 * Several traces (a process and its children) are merged in time order
 * and planned as one trace of several processes.  Each (trace, pid) is a
 * process of its own: a pid that an earlier trace had gets a made-up one
 * (trace_pid()).  When a trace ends, so have its processes: the blocks
 * they left live are freed in the stream of the trace's last event with
 * RF_EXIT (made, but neither timed nor counted as calls), and their
 * entries leave the table (end_process()).  These frees are appended
 * (append()) in the current epoch, after every op of the trace, so (2)
 * and (4) above hold for them as for any op.
 *
 * The ideal peak comes from convert/live.c on the same events, so it is
 * by construction the peak_live_bytes of `heaptape stat` (for several
 * traces, with each process's blocks dropped at its end:
 * live_end_process()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../convert/cli.h"
#include "../convert/evpipe.h"
#include "../convert/live.h"
#include "replay.h"

const char *const rp_skip_names[RS_N] = {
#define RP__SKIPNAME(name, str) str,
	RP_SKIPS(RP__SKIPNAME)
#undef RP__SKIPNAME
};

#define CHUNK_FIRST 64u    /* ops in a stream's first chunk */
#define CHUNK_MAX 4096u    /* ... doubling up to this */
/* The streams' chunks in memory, at most (then written and freed, all
 * but the one being appended to): a trace of thousands of threads whose
 * exits were not recorded would otherwise keep a chunk for each. */
#define BUF_MAX ((uint64_t)64 << 20)

struct entry {
	uint64_t addr, heap;
	uint32_t pid;
	uint32_t used;       /* E_USED, and E_LISTED: in its heap's list */
	uint32_t head, tail; /* FIFO of live slots (RP_NONE: none) */
};
enum { E_USED = 1, E_LISTED = 2 };

/* A Windows heap (heap != 0) of a process: the addresses allocated in
 * it, in the order they were first listed, so that HeapDestroy visits
 * its own blocks rather than the whole entry table.  Compacted when it
 * holds more than twice its live blocks (plus some). */
struct hlist {
	uint64_t heap;
	uint32_t pid, used;
	uint64_t *addr;
	uint64_t n, cap, live;
};

struct pstream {
	uint32_t pid, tid;
	uint32_t spawner;
	int exited;
	uint64_t first;      /* file offset of the first chunk */
	uint64_t chunk;      /* file offset of the current chunk */
	uint32_t cap, n;     /* ops in the chunk: capacity, used */
	uint32_t wr_from;    /* ops [0, wr_from) of the chunk are on disk */
	struct rp_op *buf;   /* the current chunk, or NULL */
	uint64_t ops;
	uint32_t free_head;  /* released slots, linked by slot_next */
	uint64_t epoch;      /* epoch of its last op, RP_NO_EPOCH */
};

struct tkey {
	uint32_t pid, tid;
	uint32_t stream;     /* RP_NONE: empty */
};

struct plan {
	int fd;
	uint64_t file_end;
	const struct plan_opts *o;
	struct plan_info *info;
	uint64_t t0;
	int have_t0;

	struct entry *ent;
	uint64_t ecap, en;
	struct hlist *hl;    /* open addressing by (pid, heap) */
	uint32_t hlcap, hln;

	uint32_t *slot_stream, *slot_pub, *slot_next;
	uint64_t *slot_pos;
	uint64_t scap, nslots;

	struct pstream *st;
	uint32_t stcap, nst;
	struct tkey *tk;
	uint32_t tkcap, tkn;
	uint32_t last;       /* stream of the previous op, RP_NONE */

	uint64_t gidx;       /* ops so far in global order */
	uint32_t *nep;       /* streams with ops in each epoch */
	uint64_t nepochs, epcap;

	/* slots of ended processes' streams, by the epoch they were
	 * given up in (nondecreasing): see end_trace() */
	uint32_t *gy_slot;
	uint64_t *gy_epoch;
	size_t gy_head, gy_n, gy_cap;
	uint32_t *pids;      /* every pid an event has had, in order */
	uint32_t npids, pidcap;
	uint32_t next_id;    /* trace_pid(): the next made-up pid */
	uint64_t buf_bytes;  /* the streams' chunks in memory */
	/* the last call op appended, and the one that reached the ideal
	 * peak (RF_PEAK) */
	uint64_t call_pos, peak_pos, peak_bytes;
	uint32_t call_stream, peak_stream;
};

/* Several traces: what each (trace, pid) is called in the plan, and the
 * stream and time of the trace's last event (where its exit goes). */
struct tpid {
	uint32_t pid, id;
};
struct trace_state {
	struct tpid *map;
	uint32_t n, cap;
	uint32_t last;       /* stream of its last event, RP_NONE */
	uint64_t last_ts;
	int ended, timed;
	int has_pid;         /* has events of --pid */
};

static uint64_t mix(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t h = a ^ (b * 0x9e3779b97f4a7c15ull) ^
		     (c * 0xc2b2ae3d27d4eb4full);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
	const char *p = buf;

	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* The entry table rebuilt with ncap slots, without the entries of
 * *drop (NULL: all kept).  0 or -1 (out of memory, nothing changed). */
static int entry_rebuild(struct plan *p, uint64_t ncap, const uint32_t *drop)
{
	struct entry *ne = calloc(ncap, sizeof(*ne));
	uint64_t n = 0;

	if (!ne)
		return -1;
	for (uint64_t k = 0; k < p->ecap; k++) {
		const struct entry *e = &p->ent[k];
		uint64_t i;

		if (!e->used || (drop && e->pid == *drop))
			continue;
		i = mix(e->addr, e->heap, e->pid) & (ncap - 1);
		while (ne[i].used)
			i = (i + 1) & (ncap - 1);
		ne[i] = *e;
		n++;
	}
	free(p->ent);
	p->ent = ne;
	p->ecap = ncap;
	p->en = n;
	return 0;
}

/* Entry table: open addressing, never deleted (an entry whose FIFO is
 * empty remembers that the address was freed: double-free detection)
 * until its process ends (end_process()). */
static struct entry *entry_find(struct plan *p, uint32_t pid, uint64_t heap,
				uint64_t addr, int create)
{
	uint64_t i, mask;

	if (create && (p->en + 1) * 10 > p->ecap * 7 &&
	    entry_rebuild(p, p->ecap ? p->ecap * 2 : 4096, NULL))
		return NULL;
	if (!p->ecap)
		return NULL;
	mask = p->ecap - 1;
	i = mix(addr, heap, pid) & mask;
	for (;;) {
		struct entry *e = &p->ent[i];
		if (!e->used) {
			if (!create)
				return NULL;
			e->used = 1;
			e->addr = addr;
			e->heap = heap;
			e->pid = pid;
			e->head = e->tail = RP_NONE;
			p->en++;
			return e;
		}
		if (e->addr == addr && e->heap == heap && e->pid == pid)
			return e;
		i = (i + 1) & mask;
	}
}

/* The list of heap (pid, heap), made if new and create; NULL if none
 * (or out of memory, with create). */
static struct hlist *hlist_find(struct plan *p, uint32_t pid, uint64_t heap,
				int create)
{
	uint32_t i, mask;

	if (create && (p->hln + 1) * 2 > p->hlcap) {
		uint32_t ncap = p->hlcap ? p->hlcap * 2 : 64;
		struct hlist *nh = calloc(ncap, sizeof(*nh));

		if (!nh)
			return NULL;
		for (uint32_t k = 0; k < p->hlcap; k++) {
			if (!p->hl[k].used)
				continue;
			i = (uint32_t)mix(p->hl[k].heap, p->hl[k].pid, 7) &
			    (ncap - 1);
			while (nh[i].used)
				i = (i + 1) & (ncap - 1);
			nh[i] = p->hl[k];
		}
		free(p->hl);
		p->hl = nh;
		p->hlcap = ncap;
	}
	if (!p->hlcap)
		return NULL;
	mask = p->hlcap - 1;
	i = (uint32_t)mix(heap, pid, 7) & mask;
	for (;; i = (i + 1) & mask) {
		struct hlist *h = &p->hl[i];

		if (h->used && h->pid == pid && h->heap == heap)
			return h;
		if (!h->used) {
			if (!create)
				return NULL;
			h->used = 1;
			h->pid = pid;
			h->heap = heap;
			p->hln++;
			return h;
		}
	}
}

/* Keeps the addresses of h that still have live blocks. */
static void hlist_compact(struct plan *p, struct hlist *h)
{
	uint64_t k = 0;

	for (uint64_t i = 0; i < h->n; i++) {
		struct entry *e = entry_find(p, h->pid, h->heap, h->addr[i],
					     0);

		if (e && e->head != RP_NONE)
			h->addr[k++] = h->addr[i];
		else if (e)
			e->used &= ~(uint32_t)E_LISTED;
	}
	h->n = k;
}

/* Block at e (of a Windows heap) allocated: e's address is listed. */
static int hlist_add(struct plan *p, struct entry *e)
{
	uint32_t pid = e->pid;
	uint64_t heap = e->heap, addr = e->addr;
	struct hlist *h = hlist_find(p, pid, heap, 1);

	if (!h)
		return -1;
	h->live++;
	if (e->used & E_LISTED)
		return 0;
	e->used |= E_LISTED;
	if (h->n == h->cap) {
		uint64_t *na;

		if (h->n > 2 * h->live + 64) {
			hlist_compact(p, h);
			if (h->n < h->cap) {
				h->addr[h->n++] = addr;
				return 0;
			}
		}
		na = realloc(h->addr, (h->cap ? h->cap * 2 : 16) *
				      sizeof(*na));
		if (!na)
			return -1;
		h->addr = na;
		h->cap = h->cap ? h->cap * 2 : 16;
	}
	h->addr[h->n++] = addr;
	return 0;
}

static int flush(struct plan *p, struct pstream *s)
{
	if (!s->buf || s->wr_from == s->n)
		return 0;
	if (pwrite_all(p->fd, s->buf + s->wr_from,
		       (size_t)(s->n - s->wr_from) * sizeof(struct rp_op),
		       s->chunk + (uint64_t)s->wr_from * sizeof(struct rp_op)))
		return -1;
	s->wr_from = s->n;
	return 0;
}

/* Writes stream s's chunk so far and frees its buffer: appends go on in
 * a new one (only ops after wr_from are ever written from it). */
static int drop_buf(struct plan *p, struct pstream *s)
{
	if (!s->buf)
		return 0;
	if (flush(p, s))
		return -1;
	free(s->buf);
	s->buf = NULL;
	p->buf_bytes -= (uint64_t)s->cap * sizeof(struct rp_op);
	return 0;
}

/* Room for add more bytes of chunks: past BUF_MAX, every stream's but
 * si's goes to the file. */
static int buf_room(struct plan *p, uint32_t si, uint64_t add)
{
	if (p->buf_bytes + add <= BUF_MAX)
		return 0;
	for (uint32_t i = 0; i < p->nst; i++)
		if (i != si && drop_buf(p, &p->st[i]))
			return -1;
	return 0;
}

/* Appends op to stream si; *pos gets its file offset.  One op of every
 * chunk stays free for the RK_NEXT or RK_END that ends it. */
static int raw_append(struct plan *p, uint32_t si, const struct rp_op *op,
		  uint64_t *pos)
{
	struct pstream *s = &p->st[si];

	if (!s->buf) {
		uint64_t n = (uint64_t)s->cap * sizeof(struct rp_op);

		if (buf_room(p, si, n) || !(s->buf = malloc((size_t)n)))
			return -1;
		p->buf_bytes += n;
	}
	if (s->n + 1 >= s->cap) {
		uint32_t ncap = s->cap < CHUNK_MAX ? s->cap * 2 : CHUNK_MAX;
		struct rp_op next = { .kind = RK_NEXT, .size = p->file_end };
		struct rp_op *nb;

		s->buf[s->n++] = next;
		if (flush(p, s))
			return -1;
		if (ncap != s->cap) {
			uint64_t add = (uint64_t)(ncap - s->cap) * sizeof(*nb);

			if (buf_room(p, si, add))
				return -1;
			nb = realloc(s->buf, (size_t)ncap * sizeof(*nb));
			if (!nb)
				return -1;
			s->buf = nb;
			p->buf_bytes += add;
		}
		s->chunk = p->file_end;
		s->cap = ncap;
		s->n = s->wr_from = 0;
		p->file_end += (uint64_t)ncap * sizeof(struct rp_op);
	}
	if (pos)
		*pos = s->chunk + (uint64_t)s->n * sizeof(struct rp_op);
	if (op->kind < RK_NCALLS) {
		p->call_pos = s->chunk + (uint64_t)s->n * sizeof(struct rp_op);
		p->call_stream = si;
		p->info->nops++;
	}
	s->buf[s->n++] = *op;
	s->ops++;
	if (s->exited) {
		/* Only an RK_SPAWN comes after thread_exit: keep no buffer. */
		if (drop_buf(p, s))
			return -1;
	}
	return 0;
}

/* Stream si finished its ops of epoch e. */
static int epoch_done(struct plan *p, uint64_t e)
{
	if (e >= p->epcap) {
		uint64_t ncap = p->epcap ? p->epcap * 2 : 1024;
		uint32_t *n;
		while (ncap <= e)
			ncap *= 2;
		n = realloc(p->nep, ncap * sizeof(*n));
		if (!n)
			return -1;
		memset(n + p->epcap, 0, (ncap - p->epcap) * sizeof(*n));
		p->nep = n;
		p->epcap = ncap;
	}
	p->nep[e]++;
	if (e + 1 > p->nepochs)
		p->nepochs = e + 1;
	return 0;
}

/* Appends an op that counts in the global order: with an RK_EPOCH marker
 * first when it is the stream's first op of a new epoch. */
static int append(struct plan *p, uint32_t si, const struct rp_op *op,
		  uint64_t *pos)
{
	struct pstream *s = &p->st[si];
	uint64_t e = p->gidx / RP_EPOCH_OPS;

	if (!p->o->one_thread && s->epoch != e) {
		struct rp_op m = { .kind = RK_EPOCH, .slot = RP_NONE,
				   .slot2 = RP_NONE, .size = s->epoch,
				   .arg = e, .ts = op->ts };
		if (s->epoch != RP_NO_EPOCH && epoch_done(p, s->epoch))
			return -1;
		s->epoch = e;
		if (raw_append(p, si, &m, NULL))
			return -1;
	}
	p->gidx++;
	return raw_append(p, si, op, pos);
}

static uint32_t new_stream(struct plan *p, uint32_t pid, uint32_t tid)
{
	struct pstream *s;

	if (p->nst == p->stcap) {
		uint32_t ncap = p->stcap ? p->stcap * 2 : 64;
		struct pstream *ns = realloc(p->st, ncap * sizeof(*ns));
		if (!ns)
			return RP_NONE;
		p->st = ns;
		p->stcap = ncap;
	}
	s = &p->st[p->nst];
	memset(s, 0, sizeof(*s));
	s->pid = pid;
	s->tid = tid;
	s->spawner = RP_NONE;
	s->cap = CHUNK_FIRST;
	s->first = s->chunk = p->file_end;
	s->free_head = RP_NONE;
	s->epoch = RP_NO_EPOCH;
	p->file_end += (uint64_t)s->cap * sizeof(struct rp_op);
	return p->nst++;
}

static struct tkey *tkey_find(struct plan *p, uint32_t pid, uint32_t tid)
{
	uint32_t i, mask;

	if ((p->tkn + 1) * 2 > p->tkcap) {
		uint32_t ncap = p->tkcap ? p->tkcap * 2 : 256;
		struct tkey *nt = malloc(ncap * sizeof(*nt));
		if (!nt)
			return NULL;
		for (i = 0; i < ncap; i++)
			nt[i].stream = RP_NONE;
		for (uint32_t k = 0; k < p->tkcap; k++) {
			if (p->tk[k].stream == RP_NONE)
				continue;
			i = (uint32_t)mix(p->tk[k].pid, p->tk[k].tid, 1) &
			    (ncap - 1);
			while (nt[i].stream != RP_NONE)
				i = (i + 1) & (ncap - 1);
			nt[i] = p->tk[k];
		}
		free(p->tk);
		p->tk = nt;
		p->tkcap = ncap;
	}
	mask = p->tkcap - 1;
	i = (uint32_t)mix(pid, tid, 1) & mask;
	while (p->tk[i].stream != RP_NONE) {
		if (p->tk[i].pid == pid && p->tk[i].tid == tid)
			return &p->tk[i];
		i = (i + 1) & mask;
	}
	p->tk[i].pid = pid;
	p->tk[i].tid = tid;
	return &p->tk[i]; /* stream still RP_NONE: the caller fills it */
}

/* The stream that replays thread (pid, tid), started if new: the stream of
 * the previous op spawns it, as the thread was created by some running
 * thread shortly before its first event. */
static int stream_of(struct plan *p, const struct ht_event *ev, uint32_t *out)
{
	struct tkey *k;
	uint32_t si;

	if (p->o->one_thread) {
		if (!p->nst && new_stream(p, ev->pid, ev->tid) == RP_NONE)
			return -1;
		*out = 0;
		return 0;
	}
	if (!(k = tkey_find(p, ev->pid, ev->tid)))
		return -1;
	if (k->stream != RP_NONE && !p->st[k->stream].exited) {
		*out = k->stream;
		return 0;
	}
	if (k->stream == RP_NONE)
		p->tkn++;
	si = new_stream(p, ev->pid, ev->tid);
	if (si == RP_NONE)
		return -1;
	k->stream = si;
	if (p->last != RP_NONE) {
		struct rp_op op = { .kind = RK_SPAWN, .slot = RP_NONE,
				    .slot2 = si,
				    .ts = ev->ts >= p->t0 ? ev->ts - p->t0 : 0 };
		p->st[si].spawner = p->last;
		if (append(p, p->last, &op, NULL))
			return -1;
	}
	*out = si;
	return 0;
}

static uint32_t slot_new(struct plan *p, uint32_t si)
{
	struct pstream *s = &p->st[si];
	uint64_t e = p->gidx / RP_EPOCH_OPS;
	uint32_t slot;

	if (s->free_head != RP_NONE) {
		slot = s->free_head;
		s->free_head = p->slot_next[slot];
	} else if (p->gy_n && (p->o->one_thread ||
			       (p->o->window &&
				e >= p->gy_epoch[p->gy_head] + p->o->window +
					     1))) {
		/* an ended process's slot: the op that takes it runs after
		 * epoch gy_epoch is complete (the window), so after every op
		 * of the streams that gave it up */
		slot = p->gy_slot[p->gy_head++];
		p->gy_n--;
	} else {
		if (p->nslots == p->scap) {
			uint64_t ncap = p->scap ? p->scap * 2 : 4096;
			uint32_t *a = realloc(p->slot_stream, ncap * 4);
			uint32_t *b, *c;
			uint64_t *d;

			if (a)
				p->slot_stream = a;
			b = a ? realloc(p->slot_pub, ncap * 4) : NULL;
			if (b)
				p->slot_pub = b;
			c = b ? realloc(p->slot_next, ncap * 4) : NULL;
			if (c)
				p->slot_next = c;
			d = c ? realloc(p->slot_pos, ncap * 8) : NULL;
			if (!d)
				return RP_NONE;
			p->slot_pos = d;
			p->scap = ncap;
		}
		if (p->nslots >= RP_NONE - 1)
			return RP_NONE;
		slot = (uint32_t)p->nslots++;
		p->slot_pub[slot] = 0;
	}
	p->slot_stream[slot] = si;
	p->slot_next[slot] = RP_NONE;
	return slot;
}

/* Sets flag on the op at file offset pos (in stream si). */
static int patch_flag(struct plan *p, uint32_t si, uint64_t pos, uint8_t flag)
{
	struct pstream *s = &p->st[si];
	uint8_t flags;
	uint64_t lo = s->chunk + (uint64_t)s->wr_from * sizeof(struct rp_op);
	uint64_t hi = s->chunk + (uint64_t)s->n * sizeof(struct rp_op);

	if (s->buf && pos >= lo && pos < hi) {
		s->buf[(pos - s->chunk) / sizeof(struct rp_op)].flags |= flag;
		return 0;
	}
	if (pread(p->fd, &flags, 1, (off_t)pos + 1) != 1)
		return -1;
	flags |= flag;
	return pwrite_all(p->fd, &flags, 1, pos + 1);
}

/* Sets up op to release slot in stream si (a wait edge if another stream
 * created it), and returns the slot to si's free list. */
static int release(struct plan *p, uint32_t si, uint32_t slot,
		   struct rp_op *op)
{
	uint32_t owner = p->slot_stream[slot];

	op->slot2 = slot;
	if (owner != si) {
		if (patch_flag(p, owner, p->slot_pos[slot], RF_PUBLISH))
			return -1;
		op->flags |= RF_WAIT;
		op->wseq = ++p->slot_pub[slot];
		p->info->edges++;
	}
	p->slot_stream[slot] = si;
	p->slot_next[slot] = p->st[si].free_head;
	p->st[si].free_head = slot;
	return 0;
}

/* Oldest live slot at (pid, heap, addr), removed from the entry; RP_NONE
 * with the skip reason if none. */
static uint32_t take(struct plan *p, uint32_t pid, uint64_t heap,
		     uint64_t addr, int *reason)
{
	struct entry *e = entry_find(p, pid, heap, addr, 0);
	uint32_t slot;

	if (!e || e->head == RP_NONE) {
		*reason = e ? RS_DOUBLE_FREE : RS_UNKNOWN_FREE;
		return RP_NONE;
	}
	slot = e->head;
	e->head = p->slot_next[slot];
	if (e->head == RP_NONE)
		e->tail = RP_NONE;
	if (heap) {
		struct hlist *h = hlist_find(p, pid, heap, 0);

		if (h && h->live)
			h->live--;
	}
	return slot;
}

static int put(struct plan *p, uint32_t pid, uint64_t heap, uint64_t addr,
	       uint32_t slot)
{
	struct entry *e = entry_find(p, pid, heap, addr, 1);

	if (!e)
		return -1;
	p->slot_next[slot] = RP_NONE;
	if (e->tail == RP_NONE) {
		e->head = e->tail = slot;
	} else {
		p->info->inversions++;
		p->slot_next[e->tail] = slot;
		e->tail = slot;
	}
	return heap ? hlist_add(p, e) : 0;
}

/* Emits op in stream si creating a block at (pid, heap, addr). */
static int create(struct plan *p, uint32_t si, struct rp_op *op,
		  const struct ht_event *ev)
{
	uint64_t pos;
	uint32_t slot;

	if (!ev->addr) {
		op->slot = RP_NONE;
		return append(p, si, op, NULL);
	}
	slot = slot_new(p, si);
	if (slot == RP_NONE)
		return -1;
	op->slot = slot;
	if (append(p, si, op, &pos))
		return -1;
	p->slot_pos[slot] = pos;
	return put(p, ev->pid, ev->heap, ev->addr, slot);
}

/*
 * HeapDestroy: every block still live in the heap is freed, in the order
 * the heap's list has them (allocation order, mostly).  These frees are
 * made but, like a process's exit frees, neither timed nor counted as
 * calls: the recorded program made one call, which no malloc-family
 * allocator has.
 */
static int heap_destroy(struct plan *p, uint32_t si, const struct ht_event *ev)
{
	struct hlist *h = hlist_find(p, ev->pid, ev->heap, 0);

	if (!h)
		return 0;
	for (uint64_t i = 0; i < h->n; i++) {
		struct entry *e = entry_find(p, ev->pid, ev->heap, h->addr[i],
					     0);

		if (!e)
			continue;
		e->used &= ~(uint32_t)E_LISTED;
		while (e->head != RP_NONE) {
			uint32_t slot = e->head;
			struct rp_op op = { .kind = RK_FREE, .flags = RF_EXIT,
					    .slot = RP_NONE,
					    .ts = ev->ts >= p->t0 ?
						  ev->ts - p->t0 : 0 };
			e->head = p->slot_next[slot];
			if (release(p, si, slot, &op) ||
			    append(p, si, &op, NULL))
				return -1;
			p->info->nops--; /* not a call of the trace */
			p->info->heap_blocks++;
		}
		e->tail = RP_NONE;
	}
	h->n = h->live = 0;
	return 0;
}

static int call_kind(int op)
{
	switch (op) {
	case HT_OP_MALLOC:
	case HT_OP_HEAP_ALLOC:
		return RK_MALLOC;
	case HT_OP_CALLOC:
		return RK_CALLOC;
	case HT_OP_REALLOC:
	case HT_OP_HEAP_REALLOC:
		return RK_REALLOC;
	case HT_OP_REALLOCARRAY:
		return RK_REALLOCARRAY;
	case HT_OP_FREE:
	case HT_OP_HEAP_FREE:
		return RK_FREE;
	case HT_OP_POSIX_MEMALIGN:
		return RK_POSIX_MEMALIGN;
	case HT_OP_ALIGNED_ALLOC:
		return RK_ALIGNED_ALLOC;
	case HT_OP_MEMALIGN:
		return RK_MEMALIGN;
	case HT_OP_VALLOC:
		return RK_VALLOC;
	case HT_OP_PVALLOC:
		return RK_PVALLOC;
	case HT_OP_FREE_SIZED:
		return RK_FREE_SIZED;
	case HT_OP_FREE_ALIGNED_SIZED:
		return RK_FREE_ALIGNED_SIZED;
	}
	return 0;
}

/* How long a call took in the recorded run (record --latency), under
 * the kind it is replayed as; failed calls, which replay skips, not. */
static void rec_latency(struct rp_kind_stats *lat, const struct ht_event *ev)
{
	int k = call_kind(ev->op);
	struct rp_kind_stats *s = &lat[k];

	if (!k || (ev->flags & HT_EV_FAILED))
		return;
	s->count++;
	rp_kind_add(s, ev->dur);
}

static int pid_seen(const struct plan *p, uint32_t pid)
{
	for (uint32_t i = p->npids; i-- > 0;)
		if (p->pids[i] == pid)
			return 1;
	return 0;
}

/* Adds pid, which pid_seen() has not, to the pids. */
static int add_pid(struct plan *p, uint32_t pid)
{
	if (p->npids == p->pidcap) {
		uint32_t ncap = p->pidcap ? 2 * p->pidcap : 16;
		uint32_t *n = realloc(p->pids, ncap * sizeof(*n));

		if (!n)
			return -1;
		p->pids = n;
		p->pidcap = ncap;
	}
	p->pids[p->npids++] = pid;
	return 0;
}

/* 1, with the plan's pid for trace t's pid in *out, once trace_pid()
 * has given it one; else 0. */
static int mapped_pid(const struct trace_state *t, uint32_t pid,
		      uint32_t *out)
{
	for (uint32_t i = t->n; i-- > 0;)
		if (t->map[i].pid == pid) {
			*out = t->map[i].id;
			return 1;
		}
	return 0;
}

/* The plan's pid for pid in trace t: pid itself unless an earlier
 * trace had it (pids are reused, and containers repeat them), then one
 * no trace has (from 2^31 up, above Linux's PID_MAX_LIMIT).  0 on
 * success, -1 out of memory. */
static int trace_pid(struct plan *p, struct trace_state *t, uint32_t pid,
		     uint32_t *out)
{
	uint32_t id = pid;

	if (mapped_pid(t, pid, out))
		return 0;
	if (pid_seen(p, pid)) {
		while (pid_seen(p, p->next_id))
			p->next_id++;
		id = p->next_id++;
	}
	if (t->n == t->cap) {
		uint32_t ncap = t->cap ? 2 * t->cap : 4;
		struct tpid *m = realloc(t->map, ncap * sizeof(*m));

		if (!m)
			return -1;
		t->map = m;
		t->cap = ncap;
	}
	t->map[t->n].pid = pid;
	t->map[t->n++].id = id;
	*out = id;
	return add_pid(p, id);
}

/*
 * Starts loading the address-table and live-table slots that ev will
 * look up first (its pid as trace_pid() maps it, when it has been seen):
 * called LIVE_AHEAD events ahead, as stat does.  Planning python's 10 M
 * events spent 40 % of its time in those two tables; with this, replay's
 * own process takes 4-7 % fewer samples (perf, 3 alternating runs).
 */
static void prefetch(const struct plan *p, const struct trace_state *t,
		     const struct live *live, const struct ht_event *ev)
{
	struct ht_event e = *ev;
	uint64_t a = live_first_addr(&e);

	mapped_pid(t, ev->pid, &e.pid);
	live_prefetch(live, &e);
	if (p->ecap)
		__builtin_prefetch(&p->ent[mix(a, e.heap, e.pid) &
					   (p->ecap - 1)]);
}

static int one_event(struct plan *p, const struct ht_event *ev)
{
	struct plan_info *in = p->info;
	struct rp_op op = { 0 };
	uint32_t si, slot;
	int kind, reason;

	if (ev->op == HT_OP_THREAD_EXIT) {
		struct tkey *k;
		in->events++;
		if (p->o->one_thread)
			return 0;
		if (!(k = tkey_find(p, ev->pid, ev->tid)))
			return -1;
		if (k->stream != RP_NONE && !p->st[k->stream].exited) {
			struct pstream *s = &p->st[k->stream];
			s->exited = 1;
			if (drop_buf(p, s))
				return -1;
		}
		return 0;
	}
	if (ev->op == HT_OP_HEAP_CREATE) {
		in->events++;
		return 0;
	}
	if (ev->op == HT_OP_HEAP_DESTROY) {
		/* As convert/live.c: a failed HeapDestroy, or one of heap 0
		 * (the C heap, not a Windows heap), releases nothing. */
		if (ev->flags & HT_EV_FAILED) {
			in->skipped[RS_FAILED_CALL]++;
			return 0;
		}
		in->events++;
		if (!ev->heap)
			return 0;
		if (stream_of(p, ev, &si))
			return -1;
		p->last = si;
		return heap_destroy(p, si, ev);
	}
	kind = call_kind(ev->op);
	if (!kind) {
		in->skipped[RS_UNSUPPORTED]++;
		return 0;
	}
	if (ev->flags & HT_EV_FAILED) {
		in->skipped[RS_FAILED_CALL]++;
		return 0;
	}
	if (kind != RK_FREE && kind != RK_FREE_SIZED &&
	    kind != RK_FREE_ALIGNED_SIZED &&
	    ht_event_bytes(ev) > p->o->max_block) {
		in->skipped[RS_TOO_LARGE]++;
		return 0;
	}
	op.kind = (uint8_t)kind;
	op.size = ev->size;
	op.ts = ev->ts >= p->t0 ? ev->ts - p->t0 : 0;
	op.slot = op.slot2 = RP_NONE;
	switch (kind) {
	case RK_CALLOC:
	case RK_REALLOCARRAY:
		op.arg = ev->nmemb;
		break;
	case RK_POSIX_MEMALIGN:
	case RK_ALIGNED_ALLOC:
	case RK_MEMALIGN:
	case RK_FREE_ALIGNED_SIZED:
		op.arg = ev->align;
		break;
	}
	if (stream_of(p, ev, &si))
		return -1;
	p->last = si;

	if (kind == RK_FREE || kind == RK_FREE_SIZED ||
	    kind == RK_FREE_ALIGNED_SIZED) {
		if (ev->addr) {
			slot = take(p, ev->pid, ev->heap, ev->addr, &reason);
			if (slot == RP_NONE) {
				in->skipped[reason]++;
				return 0;
			}
			if (release(p, si, slot, &op))
				return -1;
		}
		in->events++;
		return append(p, si, &op, NULL);
	}
	if (kind == RK_REALLOC || kind == RK_REALLOCARRAY) {
		if (ev->old_addr) {
			slot = take(p, ev->pid, ev->heap, ev->old_addr,
				    &reason);
			if (slot == RP_NONE) {
				/* Replayed as an allocation. */
				in->skipped[reason]++;
				if (!ev->addr)
					return 0;
			} else if (release(p, si, slot, &op)) {
				return -1;
			}
		}
	}
	in->events++;
	return create(p, si, &op, ev);
}

/*
 * The process pid (of the trace that just ended) has exited: the blocks
 * it left live are freed in stream si, as the system took them back
 * (RF_EXIT: untimed, uncounted), and its entries leave the table, which
 * is rebuilt without them (so a long process tree keeps only the running
 * processes' addresses).
 */
static int end_process(struct plan *p, uint32_t pid, uint32_t si,
		       uint64_t ts)
{
	uint64_t keep = 0, cap = 4096;

	for (uint64_t k = 0; k < p->ecap; k++) {
		struct entry *e = &p->ent[k];

		if (!e->used)
			continue;
		if (e->pid != pid) {
			keep++;
			continue;
		}
		while (e->head != RP_NONE) {
			uint32_t slot = e->head;
			struct rp_op op = { .kind = RK_FREE, .flags = RF_EXIT,
					    .slot = RP_NONE, .ts = ts };

			e->head = p->slot_next[slot];
			/* append(): in the current epoch, after the marker
			 * that ends si's last one, which must not wait for
			 * these frees (their waits are on later epochs) */
			if (release(p, si, slot, &op) ||
			    append(p, si, &op, NULL))
				return -1;
			p->info->nops--; /* not a call of the trace */
			p->info->exit_blocks++;
		}
	}
	/* its heaps' lists go too (the slot stays, for the probes: the
	 * plan's pids are never reused) */
	for (uint32_t k = 0; k < p->hlcap; k++) {
		struct hlist *h = &p->hl[k];

		if (h->used && h->pid == pid) {
			free(h->addr);
			h->addr = NULL;
			h->n = h->cap = h->live = 0;
		}
	}
	/* sized for the entries that stay (at most half full): the
	 * table shrinks back as the processes that filled it end */
	while (cap < 2 * keep)
		cap *= 2;
	return p->ecap ? entry_rebuild(p, cap, &pid) : 0;
}

static void plan_free(struct plan *p)
{
	for (uint32_t i = 0; i < p->nst; i++)
		free(p->st[i].buf);
	free(p->st);
	free(p->tk);
	free(p->ent);
	for (uint32_t i = 0; i < p->hlcap; i++)
		free(p->hl[i].addr);
	free(p->hl);
	free(p->slot_stream);
	free(p->slot_pub);
	free(p->slot_next);
	free(p->slot_pos);
	free(p->nep);
	free(p->pids);
	free(p->gy_slot);
	free(p->gy_epoch);
}

static int finish(struct plan *p)
{
	struct rp_header h = { 0 };
	struct rp_stream *tab;
	size_t tabsz = (size_t)p->nst * sizeof(*tab);

	for (uint32_t i = 0; i < p->nst; i++) {
		struct rp_op end = { .kind = RK_END };
		struct pstream *s = &p->st[i];
		s->exited = 0; /* keep the buffer for these last appends */
		if (s->epoch != RP_NO_EPOCH) {
			struct rp_op m = { .kind = RK_EPOCH, .slot = RP_NONE,
					   .slot2 = RP_NONE, .size = s->epoch,
					   .arg = RP_NO_EPOCH };
			if (epoch_done(p, s->epoch) ||
			    raw_append(p, i, &m, NULL))
				return -1;
		}
		if (raw_append(p, i, &end, NULL) || flush(p, s))
			return -1;
	}
	tab = calloc(p->nst ? p->nst : 1, sizeof(*tab));
	if (!tab)
		return -1;
	for (uint32_t i = 0; i < p->nst; i++) {
		tab[i].first = p->st[i].first;
		tab[i].ops = p->st[i].ops;
		tab[i].pid = p->st[i].pid;
		tab[i].tid = p->st[i].tid;
		tab[i].spawner = p->st[i].spawner;
	}
	if (tabsz && pwrite_all(p->fd, tab, tabsz, p->file_end)) {
		free(tab);
		return -1;
	}
	free(tab);
	h.nepochs = p->nepochs;
	h.epochs_off = p->file_end + tabsz;
	if (p->nepochs && pwrite_all(p->fd, p->nep, p->nepochs * 4,
				     h.epochs_off))
		return -1;
	tabsz += p->nepochs * 4;
	h.magic = RP_PLAN_MAGIC;
	h.op_size = sizeof(struct rp_op);
	h.nstreams = p->nst;
	h.nslots = p->nslots;
	h.nops = p->info->nops;
	h.streams_off = p->file_end;
	h.file_size = p->file_end + tabsz;
	if (ftruncate(p->fd, (off_t)h.file_size))
		return -1;
	return pwrite_all(p->fd, &h, sizeof(h), 0);
}

/* Slot given up in the current epoch, for other streams to reuse. */
static int graveyard_add(struct plan *p, uint32_t slot)
{
	if (p->gy_head + p->gy_n == p->gy_cap) {
		if (p->gy_head) { /* slide the queue down first */
			memmove(p->gy_slot, p->gy_slot + p->gy_head,
				p->gy_n * sizeof(*p->gy_slot));
			memmove(p->gy_epoch, p->gy_epoch + p->gy_head,
				p->gy_n * sizeof(*p->gy_epoch));
			p->gy_head = 0;
		}
		if (p->gy_n == p->gy_cap) {
			size_t nc = p->gy_cap ? 2 * p->gy_cap : 4096;
			uint32_t *a = realloc(p->gy_slot, nc * sizeof(*a));
			uint64_t *b;

			if (!a)
				return -1;
			p->gy_slot = a;
			if (!(b = realloc(p->gy_epoch, nc * sizeof(*b))))
				return -1;
			p->gy_epoch = b;
			p->gy_cap = nc;
		}
	}
	p->gy_slot[p->gy_head + p->gy_n] = slot;
	p->gy_epoch[p->gy_head + p->gy_n++] = p->gidx / RP_EPOCH_OPS;
	return 0;
}

/*
 * Trace t has ended: so have its processes.  Their blocks still live are
 * freed (end_process()), and then every slot their streams hold free
 * goes to the graveyard, tagged with the current epoch: every op of
 * those streams is in that epoch or an earlier one, so an op window + 1
 * epochs later, which waits for it to be complete, may reuse the slot
 * without a wait edge of its own (slot_new()).  Without it the slots of
 * a long process tree would grow with every process's leftover blocks.
 */
static int end_trace(struct plan *p, struct live *live, struct trace_state *t)
{
	t->ended = 1;
	for (uint32_t k = 0; k < t->n; k++) {
		if (live_end_process(live, t->map[k].id))
			return -1;
		if (t->last != RP_NONE &&
		    end_process(p, t->map[k].id, t->last,
				t->last_ts >= p->t0 ? t->last_ts - p->t0 : 0))
			return -1;
	}
	for (uint32_t i = 0; i < p->nst && !p->o->one_thread; i++) {
		struct pstream *s = &p->st[i];
		uint32_t k;

		for (k = 0; k < t->n && t->map[k].id != s->pid; k++)
			;
		if (k == t->n)
			continue;
		while (s->free_head != RP_NONE) {
			uint32_t slot = s->free_head;

			s->free_head = p->slot_next[slot];
			if (graveyard_add(p, slot))
				return -1;
		}
	}
	return 0;
}

/* The events the reading skipped (--salvage: damaged blocks) or could
 * not reach (a cut end): a gap as a loss record is, each part of
 * unknown size counted as 1. */
static uint64_t damage_lost(const struct evsrc *s)
{
	const struct ht_problem *pr;
	uint64_t n = 0, ev;
	uint32_t tid;

	for (int from = 0; from < 2; from++) {
		size_t np = from ? evpipe_problems(s->p, &pr) :
				   ht_reader_problems(s->r, &pr);

		for (size_t k = 0; k < np; k++) {
			int got = evpipe_problem_events(s->r, &pr[k],
							from ? (size_t)-1 : k,
							&ev, &tid);

			n += got > 0 ? ev : got < 0 ? 1u : 0u;
		}
	}
	return n;
}

/* The ideal peak rose with the last event: the op replaying it (or the
 * last one before, if the event was skipped) reads the RSS right after
 * its call, when the blocks of the peak are all live.  The sampler
 * alone misses a peak shorter than its period. */
static void peak_track(struct plan *p, const struct live *live)
{
	uint64_t peak = live_peak_bytes(live);

	if (peak <= p->peak_bytes)
		return;
	p->peak_bytes = peak;
	p->peak_pos = p->call_pos;
	p->peak_stream = p->call_stream;
}

int plan_build(struct evsrc *src, size_t ns, int fd,
	       const struct plan_opts *o, struct plan_info *info)
{
	struct plan p = { 0 };
	struct live *live = live_new();
	struct live_stats ls;
	struct trace_state *ts = calloc(ns ? ns : 1, sizeof(*ts));
	const struct ht_event *run;
	size_t n, which;
	int rc = -1, err, timed = 0;

	memset(info, 0, sizeof(*info));
	if (!live || !ts) {
		errno = ENOMEM;
		goto out;
	}
	p.fd = fd;
	p.o = o;
	p.info = info;
	p.file_end = RP_HEADER_BYTES;
	p.last = RP_NONE;
	p.call_stream = p.peak_stream = RP_NONE;
	p.next_id = 0x80000000u;
	for (size_t i = 0; i < ns; i++) {
		ts[i].last = RP_NONE;
		timed |= ts[i].timed = cli_trace_timed(src[i].r);
	}
	if (timed &&
	    !(info->rec_lat = calloc(RK_NCALLS, sizeof(*info->rec_lat)))) {
		errno = ENOMEM;
		goto out;
	}
	while ((err = evpipe_merge_next(src, ns, &run, &n, &which)) >= 0) {
		struct trace_state *t = &ts[which];

		/* A trace whose events are all out has ended, and its
		 * processes with it, before this run's events. */
		for (size_t i = 0; ns > 1 && i < ns; i++)
			if (src[i].done && !ts[i].ended &&
			    end_trace(&p, live, &ts[i]))
				goto nomem;
		if (!err)
			break;
		for (size_t k = 0; k < n; k++) {
			struct ht_event ev = run[k];

			if (k + LIVE_AHEAD < n)
				prefetch(&p, t, live, &run[k + LIVE_AHEAD]);
			if (o->have_pid && ev.pid != o->pid)
				continue;
			if (o->have_pid && !t->has_pid) {
				t->has_pid = 1;
				if (!info->pid_traces++)
					info->pid_trace = which;
			}
			if (trace_pid(&p, t, ev.pid, &ev.pid))
				goto nomem;
			if (!p.have_t0) {
				p.t0 = ev.ts;
				p.have_t0 = 1;
			}
			uint64_t calls = info->nops;

			info->events_read++;
			if (live_apply(live, &ev, NULL) || one_event(&p, &ev))
				goto nomem;
			peak_track(&p, live);
			/* the recorded latency of the calls replayed, not of
			 * those skipped (unknown frees, ...) */
			if (t->timed && info->nops > calls)
				rec_latency(info->rec_lat, &ev);
			if (p.last != RP_NONE) {
				t->last = p.last;
				t->last_ts = ev.ts;
			}
		}
	}
	if (err < 0) {
		info->read_err = err;
		info->read_err_trace = which;
		info->read_err_offset = evpipe_error_offset(src[which].p);
	}
	for (size_t i = 0; i < ns; i++) {
		const struct ht_loss *loss;
		size_t nloss = ht_reader_losses(src[i].r, &loss);

		for (size_t k = 0; k < nloss; k++)
			if ((!o->have_pid || loss[k].pid == o->pid) &&
			    loss[k].reason != HT_LOSS_PAUSED)
				info->skipped[RS_LOSS_GAP] +=
					loss[k].events ? loss[k].events : 1;
		info->skipped[RS_LOSS_GAP] += damage_lost(&src[i]);
	}
	live_stats(live, &ls);
	info->ideal_peak = ls.peak_bytes;
	info->npids = p.npids;
	if ((p.peak_stream != RP_NONE &&
	     patch_flag(&p, p.peak_stream, p.peak_pos, RF_PEAK)) ||
	    finish(&p))
		goto out;
	info->nstreams = p.nst;
	info->nslots = p.nslots;
	rc = 0;
	goto out;
nomem:
	if (!errno)
		errno = ENOMEM;
out:
	for (size_t i = 0; ts && i < ns; i++)
		free(ts[i].map);
	free(ts);
	plan_free(&p);
	live_free(live);
	return rc;
}
