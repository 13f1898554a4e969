/*
 * lttng.h - LTTng-UST libc-wrapper traces (CTF) to htape.
 *
 * libbabeltrace2 reads the CTF; it was not written for hostile input, so
 * it runs in a forked child (lttng_read.c) that sends what the parent
 * needs as fixed-size records over a pipe.  The parent (lttng.c) checks
 * every record, maps it to an ht_event and writes the outputs, so that a
 * crash in the library costs one line of error, never the conversion's
 * process.  The fuzz target feeds lttng_decode() with arbitrary records.
 *
 * Record stream: LT_TEXT pieces carry the text of the next LT_PROC,
 * LT_META or LT_FAIL record; LT_END closes a good stream, LT_FAIL a bad
 * one.  All fields are host-endian (parent and child are one binary).
 */
#ifndef HT_LTTNG_H
#define HT_LTTNG_H

#include <stddef.h>
#include <stdint.h>

#include "../format/heaptape.h"

enum lt_kind {
	LT_EVENT = 1,   /* op, have, pid, tid, seq, ts, f[] */
	LT_LOSS,        /* op LT_LOSS_*; f[0] count, ts/f[1] time range */
	LT_TEXT,        /* len bytes of f[], appended to the pending text */
	LT_PROC,        /* pid's process name: the pending text */
	LT_META,        /* op LT_META_*: the pending text */
	LT_END,         /* f[0] events read, f[1] other events, f[2] traces */
	LT_FAIL,        /* babeltrace2 failed: the pending text says why */
	LT_ALIVE,       /* nothing: sent when a second passed without a
			   record (the parent stops a silent child) */
	LT_KIND_MAX
};

/* LT_EVENT ops: the libc wrapper's tracepoints (lttng_ust_libc:NAME),
 * whose payload fields go to f[] in this order:
 *   malloc          size, ptr
 *   free            ptr
 *   calloc          nmemb, size, ptr
 *   realloc         in_ptr, size, ptr
 *   memalign        alignment, size, ptr
 *   posix_memalign  out_ptr, alignment, size, result */
enum lt_op {
	LT_MALLOC = 1, LT_FREE, LT_CALLOC, LT_REALLOC, LT_MEMALIGN,
	LT_POSIX_MEMALIGN, LT_OP_MAX
};
extern const char *const lttng_ops[LT_OP_MAX];     /* event names */
extern const char *const lttng_fields[LT_OP_MAX][4]; /* f[] names */

#define LT_LOSS_EVENTS 1    /* a discarded-events message */
#define LT_LOSS_PACKETS 2   /* a discarded-packets message */

#define LT_META_HOST 1      /* trace environment: hostname */
#define LT_META_TRACER 2    /* tracer name and version */
#define LT_META_CLOCK 3     /* clock class name (LT_HAVE_EPOCH) */

/* have: which parts the child found. */
#define LT_HAVE_F(i) (1u << (i))  /* payload field i (integer) */
#define LT_HAVE_TS 0x10u          /* default clock snapshot */
#define LT_HAVE_TID 0x20u         /* vtid context */
#define LT_HAVE_PID 0x40u         /* vpid context (or trace env vpid) */
#define LT_HAVE_EPOCH 0x80u       /* LT_META_CLOCK: origin is 1970 */

struct lt_rec {
	uint8_t kind, op;
	uint16_t have;
	uint32_t pid, tid;
	uint32_t len;       /* LT_TEXT: bytes used in f[] */
	uint64_t seq;       /* LT_EVENT: number of the event in the trace */
	int64_t ts;         /* ns from the clock's origin */
	uint64_t f[4];
};
#define LT_REC_SIZE 64
#define LT_TEXT_MAX 512

/* Where the decoded records go.  put and loss return 0 or a negative
 * HT_E*; name and meta cannot fail. */
struct lt_sink {
	void *ctx;
	int (*put)(void *ctx, const struct ht_event *ev, int has_tid);
	int (*loss)(void *ctx, const struct ht_loss *l, int has_pid);
	void (*name)(void *ctx, uint32_t pid, const char *name);
	void (*meta)(void *ctx, int which, int flag, const char *text);
};

struct lt_dec {
	struct lt_sink sink;
	char text[LT_TEXT_MAX];   /* pending LT_TEXT, NUL-terminated */
	size_t tlen;
	uint64_t recs;            /* records decoded */
	uint64_t events, ops[LT_OP_MAX];
	uint64_t lost_events;     /* discarded events LTTng counted */
	uint64_t lost_packets;    /* packets missing from a stream */
	uint64_t read, other, traces; /* from LT_END */
	int ended;                /* LT_END seen */
	int failed;               /* LT_FAIL seen: text is the reason */
	char why[160];            /* a malformed record: what */
};

/* Maps one LT_EVENT to ev.  Returns NULL, or why it cannot be. */
const char *lttng_map(const struct lt_rec *r, struct ht_event *ev);

/* Decodes n bytes of records (n a multiple of LT_REC_SIZE is expected;
 * a partial record is an error).  Returns 0, 1 for a malformed record
 * (d->why) or after LT_FAIL (d->failed, d->text), or the sink's
 * negative code.  Records after LT_END or LT_FAIL are malformed. */
int lttng_decode(struct lt_dec *d, const void *buf, size_t n);

/* The child: reads the CTF traces in dirs[0..n) with libbabeltrace2 and
 * writes records to fd until LT_END or LT_FAIL.  logfd (or -1) is where
 * the library's error log went (the child's stderr): its first error
 * line is the reason of an LT_FAIL.  Returns 0 or 1. */
int lttng_read(char *const *dirs, size_t n, int fd, int logfd);

/* Finds the CTF traces under path: path itself if it holds a 'metadata'
 * file, else every directory beneath (not through symbolic links, not
 * into kernel/) that does.  Sets *dirs (sorted, malloc'd) and returns
 * their number, 0 for none, -1 with errno on failure. */
long lttng_find(const char *path, char ***dirs);
void lttng_find_free(char **dirs, long n);

#endif
