/*
 * heaptape.h - the public API of libheaptape: the heap-event model, the
 * trace writer and the trace reader.
 *
 * A trace (*.htape, spec/FORMAT.md) is a 64-byte file header followed by
 * self-contained, checksummed blocks.  Events are written one thread's batch
 * at a time and stored column by column, zstd-compressed.  Nothing is ever
 * rewritten, so a file cut at any byte reads back up to its last whole block.
 *
 * Handles are not thread-safe: use one writer or reader per thread, except
 * where a function says otherwise (ht_reader_decode_block()).
 * Every function that can fail returns 0 (or a count) on success and a
 * negative HT_E* code on failure; ht_strerror() names it.
 */
#ifndef HEAPTAPE_H
#define HEAPTAPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HT_API __attribute__((visibility("default")))
#else
#define HT_API
#endif

/* The version of the software; the Makefile reads these three lines. */
#define HT_VERSION_MAJOR 0
#define HT_VERSION_MINOR 3
#define HT_VERSION_PATCH 0
#define HT_VERSION_STRING "0.3.0"

/* The version of the file format (spec/FORMAT.md).
 * Bump HT_FORMAT_MINOR and add a line to spec/FORMAT.md "Changes". */
#define HT_FORMAT_MAJOR 1
#define HT_FORMAT_MINOR 4

/*
 * Errors: one table, negative codes.  Never renumber; append only.
 */
#define HT_ERRORS(X)                                                        \
	X(HT_EIO, -1, "I/O error")                                          \
	X(HT_ENOMEM, -2, "out of memory")                                   \
	X(HT_ENOTTRACE, -3, "not a heaptape trace")                         \
	X(HT_EVERSION, -4, "unsupported format version or feature")        \
	X(HT_ECORRUPT, -5, "corrupt trace")                                 \
	X(HT_ECHECKSUM, -6, "checksum mismatch")                            \
	X(HT_ETRUNC, -7, "trace ends inside a block")                       \
	X(HT_EINVAL, -8, "invalid argument")                                \
	X(HT_ERANGE, -9, "value out of range")                              \
	X(HT_ENOSPC, -10, "file size limit reached")                        \
	X(HT_EZSTD, -11, "compression library error")                       \
	X(HT_EUNSUPPORTED, -12, "unsupported encoding or block type")       \
	X(HT_ESEQ, -13, "block sequence broken (blocks missing or repeated)") \
	X(HT_ESTATE, -14, "handle already failed or closed")

enum {
#define HT__ERRENUM(name, val, msg) name = (val),
	HT_ERRORS(HT__ERRENUM)
#undef HT__ERRENUM
};

/* A short, constant, lower-case message for an HT_E* code. */
HT_API const char *ht_strerror(int err);

/*
 * Operations.  Values are stored on disk: never reuse or renumber one.
 * 1..15 the C allocation API, 16..31 Windows heap API, 32.. markers.
 */
#define HT_OPS(X)                                                           \
	X(HT_OP_MALLOC, 1, "malloc")                                        \
	X(HT_OP_CALLOC, 2, "calloc")                                        \
	X(HT_OP_REALLOC, 3, "realloc")                                      \
	X(HT_OP_REALLOCARRAY, 4, "reallocarray")                            \
	X(HT_OP_FREE, 5, "free")                                            \
	X(HT_OP_POSIX_MEMALIGN, 6, "posix_memalign")                        \
	X(HT_OP_ALIGNED_ALLOC, 7, "aligned_alloc")                          \
	X(HT_OP_MEMALIGN, 8, "memalign")                                    \
	X(HT_OP_VALLOC, 9, "valloc")                                        \
	X(HT_OP_PVALLOC, 10, "pvalloc")                                     \
	X(HT_OP_FREE_SIZED, 11, "free_sized")                               \
	X(HT_OP_FREE_ALIGNED_SIZED, 12, "free_aligned_sized")               \
	X(HT_OP_HEAP_CREATE, 16, "HeapCreate")                              \
	X(HT_OP_HEAP_ALLOC, 17, "HeapAlloc")                                \
	X(HT_OP_HEAP_REALLOC, 18, "HeapReAlloc")                            \
	X(HT_OP_HEAP_FREE, 19, "HeapFree")                                  \
	X(HT_OP_HEAP_DESTROY, 20, "HeapDestroy")                            \
	X(HT_OP_THREAD_EXIT, 32, "thread_exit")

enum ht_op {
#define HT__OPENUM(name, val, str) name = (val),
	HT_OPS(HT__OPENUM)
#undef HT__OPENUM
	HT_OP_MAX = 255
};

/* Event flags. */
#define HT_EV_FAILED 0x1u   /* the call failed: result NULL / nonzero errno */
#define HT_EV_INPLACE 0x2u  /* informational: realloc kept its address */

/*
 * One heap event.  Which fields are meaningful depends on op; others are 0.
 *
 *   op                  addr            size       old_addr  old_size align nmemb
 *   malloc              result          size       -         -        -     -
 *   calloc              result          elem size  -         -        -     count
 *   realloc             result (new)    new size   input ptr [known]  -     -
 *   reallocarray        result          elem size  input ptr -        -     count
 *   free                pointer freed   -          -         -        -     -
 *   free_sized          pointer freed   size arg   -         -        -     -
 *   free_aligned_sized  pointer freed   size arg   -         -        align -
 *   posix_memalign      result          size       -         -        align -
 *   aligned_alloc, memalign             like posix_memalign
 *   valloc, pvalloc     result          size       -         -        -     -
 *   HeapCreate          -               -          -         -        -     -    (heap = new handle, aux = flags)
 *   HeapAlloc           result          size       -         -        -     -    (heap, aux = Source)
 *   HeapReAlloc         new address     new size   old addr  old size -     -    (heap, aux = Source)
 *   HeapFree            pointer freed   -          -         -        -     -    (heap, aux = Source)
 *   HeapDestroy         -               -          -         -        -     -    (heap: frees its live blocks)
 *   thread_exit         -               -          -         -        -     -
 *
 * Requested bytes are nmemb * size for calloc/reallocarray (ht_event_bytes()).
 * A failed call has HT_EV_FAILED set and addr 0; result holds errno when
 * known (posix_memalign's return value).  realloc(p, 0) and realloc(NULL, n)
 * are kept as they were called.  Addresses are 64-bit; 32-bit processes
 * simply have small values.  dur is how long the call took, when the
 * recorder measured it (`record --latency`), else 0: an allocation's
 * call began at ts - dur (ts is when it returned), a free's ended at
 * ts + dur (ts is when it was called).
 */
struct ht_event {
	uint64_t ts;       /* reader: ns since the trace's clock origin
			      (see ht_reader_start_ns()); writer: clock ticks */
	uint64_t addr;
	uint64_t size;
	uint64_t old_addr;
	uint64_t old_size;
	uint64_t align;
	uint64_t nmemb;
	uint64_t heap;     /* Windows heap handle; 0 for the C API */
	uint64_t dur;      /* ns the call took, 0 if not measured (writer:
			      clock ticks, as ts) */
	uint32_t pid;
	uint32_t tid;
	uint32_t flags;    /* HT_EV_* */
	int32_t result;    /* errno of a failed call, else 0 */
	uint32_t aux;      /* op-specific: ETW Source, HeapCreate flags */
	uint8_t op;        /* enum ht_op */
};

/* "malloc", ...; NULL for an unknown value. */
HT_API const char *ht_op_name(int op);
/* Inverse of ht_op_name(); also accepts the decimal value.  -1 if unknown. */
HT_API int ht_op_from_name(const char *name);
/* Classification used by every consumer (stat, replay, csv). */
HT_API int ht_op_allocates(int op); /* returns a new block in addr */
HT_API int ht_op_frees(int op);     /* releases addr (free family) */
HT_API int ht_op_is_realloc(int op);/* releases old_addr, returns addr */
/* Requested bytes of an allocating event: size, or nmemb*size saturated
 * at UINT64_MAX. */
HT_API uint64_t ht_event_bytes(const struct ht_event *ev);
/* One readable line (no newline) into buf, as `heaptape cat` prints it.
 * Returns the length that the full line needs, like snprintf. */
HT_API int ht_event_format(const struct ht_event *ev, char *buf, size_t n);

/*
 * Writer.
 */
struct ht_writer;

/* Memory for the writer and zstd.  The recorder passes an mmap arena so
 * that nothing the writer does reaches the traced program's malloc. */
struct ht_allocator {
	void *(*alloc)(void *ctx, size_t n); /* NULL on failure */
	void (*free)(void *ctx, void *p);    /* p may be NULL */
	void *ctx;
};

struct ht_writer_opts {
	int level;              /* zstd level; 0 = HT_DEFAULT_LEVEL */
	uint32_t block_events;  /* max events per block; 0 = 65536 */
	uint32_t index_every;   /* data blocks between INDEX blocks; 0 = 64 */
	/* ts units: ns = ts * clock_num / clock_den.  0/0 means ns. */
	uint64_t clock_num, clock_den;
	uint64_t max_bytes;     /* 0 = unlimited; else HT_ENOSPC past it */
	const struct ht_allocator *allocator; /* NULL = malloc/free */
	const uint8_t *uuid;    /* 16 bytes, or NULL for a random one */
	uint32_t flags;         /* HT_TRACE_* */
	int compression;        /* HT_COMPRESS_*; 0 = zstd */
	/* ht_writer_put(): bytes its buffers may take in all; 0 = 256 MiB,
	 * or four blocks of block_events if more.  Past it, the thread
	 * with the most events buffered has them written as a block. */
	uint64_t put_bytes;
};
#define HT_DEFAULT_LEVEL 1
#define HT_COMPRESS_ZSTD 0      /* zstd per column where it helps */
#define HT_COMPRESS_NONE 1      /* no zstd: hand-checkable blocks */
#define HT_MAX_BLOCK_EVENTS (1u << 20) /* largest block_events */
#define HT_TRACE_NO_TIME 0x1u   /* ts is an ordinal, not a clock (android) */
#define HT_TRACE_NO_TID 0x2u    /* source had no thread ids (mtrace) */

/* Writes the file header to fd (which the caller keeps owning).  All
 * memory the writer will ever need, zstd's included, is allocated here:
 * later calls never allocate, except ht_writer_put().  opts may be NULL. */
HT_API int ht_writer_open(struct ht_writer **wp, int fd,
			  const struct ht_writer_opts *opts);

/* Writes n events of one thread (same pid and tid, in program order) as
 * one or more EVENTS blocks of at most block_events, each with a single
 * write().  Never allocates.  Safe to call with n == 0.  HT_EINVAL if a
 * block's events are not all of one thread (blocks before it are
 * written).  Fields an op does not carry (spec/FORMAT.md "Op table")
 * are not stored and read back as 0. */
HT_API int ht_writer_write(struct ht_writer *w, const struct ht_event *ev,
			   size_t n);

/* Like ht_writer_write(), for a caller that hands over a thread's events
 * a few at a time: they go on filling one open block, written when it
 * holds block_events, when events of another thread come, and by
 * ht_writer_seal(), ht_writer_write() or ht_writer_close().  A block is
 * the same whether its events came in one call or in many, and the
 * caller's batches can be small enough to stay in its cache.  Never
 * allocates.  HT_EINVAL (the open block dropped) if one call mixes
 * threads.  ht_writer_open_events(): events in the open block. */
HT_API int ht_writer_append(struct ht_writer *w, const struct ht_event *ev,
			    size_t n);
HT_API int ht_writer_seal(struct ht_writer *w);
HT_API void ht_writer_drop(struct ht_writer *w); /* forgets the open block */
HT_API uint32_t ht_writer_open_events(const struct ht_writer *w);

/* Convenience for importers that see events of many threads interleaved:
 * buffers per (pid, tid) and writes a thread's block when it is full, or
 * earlier when the buffers would pass opts->put_bytes (so that a trace
 * of a thousand threads does not need a thousand blocks in memory).
 * Allocates.  Do not mix with ht_writer_write() for the same thread. */
HT_API int ht_writer_put(struct ht_writer *w, const struct ht_event *ev);

/* Metadata: key/value strings (spec/FORMAT.md lists the keys, e.g.
 * "process.pid", "process.cmdline", "clock.source", "host.name"),
 * written at once as one PROCESS block.  Later values override earlier
 * ones.  Values may hold any bytes except NUL. */
struct ht_kv {
	const char *key;
	const char *value;
};
HT_API int ht_writer_meta(struct ht_writer *w, const struct ht_kv *kv,
			  size_t n);

/* A thread's name (or a new name).  ts in writer clock ticks. */
HT_API int ht_writer_thread(struct ht_writer *w, uint64_t ts, uint32_t pid,
			    uint32_t tid, const char *name);

/* Resident set size samples of a process. */
struct ht_rss_sample {
	uint64_t ts;         /* writer: ticks; reader: ns like events */
	uint32_t pid;
	uint64_t rss_bytes;
};
HT_API int ht_writer_rss(struct ht_writer *w,
			 const struct ht_rss_sample *s, size_t n);

/* Events that were dropped (never silently). */
struct ht_loss {
	uint64_t ts_from, ts_to; /* writer: ticks; reader: ns */
	uint32_t pid, tid;       /* tid 0 = the whole process */
	uint64_t events;         /* events dropped (0 if unknown) */
	uint32_t reason;         /* HT_LOSS_* */
};
#define HT_LOSS_BUFFERS 1   /* recorder ran out of buffers */
#define HT_LOSS_IO 2        /* write failed (disk full, fd lost) */
#define HT_LOSS_LIMIT 3     /* max file size reached */
#define HT_LOSS_SOURCE 4    /* the source trace reported a loss */
#define HT_LOSS_PAUSED 5    /* recording was paused (informational) */
HT_API int ht_writer_loss(struct ht_writer *w, const struct ht_loss *l);

/* Writes an INDEX block now (the writer also does every index_every data
 * blocks). */
HT_API int ht_writer_sync(struct ht_writer *w);

/* Writes what ht_writer_put() buffered, a last INDEX and the END block,
 * then frees the writer (also on error).  NULL is accepted.  Does not
 * close the fd.  Past max_bytes, blocks are refused with HT_ENOSPC but
 * room is kept for the INDEX and END: the file stays complete. */
HT_API int ht_writer_close(struct ht_writer *w);
/* Frees without writing anything more (a forked child dropping its
 * parent's writer, an aborted conversion). */
HT_API void ht_writer_abandon(struct ht_writer *w);

/* Bytes written so far, and the trace's UUID (16 bytes). */
HT_API uint64_t ht_writer_bytes(const struct ht_writer *w);
HT_API const uint8_t *ht_writer_uuid(const struct ht_writer *w);

/*
 * Reader.
 */
struct ht_reader;

enum ht_read_mode {
	HT_READ_STOP = 0,   /* default: stop at the first error */
	HT_READ_STRICT = 1, /* like STOP, and a missing END block is an error */
	HT_READ_SALVAGE = 2 /* skip damaged blocks, record each as a problem */
};

/* A problem found while reading: where, and what. */
struct ht_problem {
	uint64_t offset;  /* byte offset in the file */
	int code;         /* HT_E* */
	uint64_t skipped; /* bytes skipped (salvage), or 0 */
	uint64_t seq_from, seq_to; /* block sequence numbers lost, if known;
				      none when seq_to < seq_from */
	char what[96];    /* short detail, e.g. "payload hash" */
};

/* Opens a trace.  The file is mapped read-only; the fd or memory must stay
 * valid until ht_reader_close().  Opening validates the file header, finds
 * every block (through the index when the file was closed cleanly, else by
 * scanning; the scan also rebuilds the index of a file whose writer died),
 * and decodes all metadata blocks.  In STOP/STRICT mode an error here is
 * returned; in SALVAGE mode only a bad file header is fatal.
 * On failure *rp is still set to a failed reader (so that the caller can
 * ask ht_reader_error_offset() and ht_reader_problems()) whenever the
 * input could be opened; the caller closes it.  *rp is NULL only when the
 * file could not be opened or mapped (HT_EIO with errno, HT_ENOMEM). */
HT_API int ht_reader_open(struct ht_reader **rp, const char *path, int mode);
HT_API int ht_reader_open_fd(struct ht_reader **rp, int fd, int mode);
HT_API int ht_reader_open_mem(struct ht_reader **rp, const void *buf,
			      size_t len, int mode);
HT_API void ht_reader_close(struct ht_reader *r); /* NULL ok */

/* Problems found so far (salvage mode collects every one; stop mode at
 * most the one that stopped it).  Valid until the next reader call. */
HT_API size_t ht_reader_problems(const struct ht_reader *r,
				 const struct ht_problem **out);
/* What the damaged part of problem i held: 1 when its block header was
 * readable and it was an EVENTS block (*events from the header, *tid),
 * 0 when no events were lost there (a block of another type, a check
 * that skipped nothing), -1 when events of unknown number may be lost
 * (an unreadable header, a sequence gap, a trace cut at a block
 * boundary).  Problems found while decoding a listed block
 * (ht_reader_blocks()) say -1: its count is in ht_block_info. */
HT_API int ht_reader_problem_events(const struct ht_reader *r, size_t i,
				    uint64_t *events, uint32_t *tid);
/* Byte offset of the most recent error. */
HT_API uint64_t ht_reader_error_offset(const struct ht_reader *r);
/* True if the file ended cleanly with an END block. */
HT_API int ht_reader_complete(const struct ht_reader *r);

/* Metadata value for key, NULL if absent (last value wins). */
HT_API const char *ht_reader_meta(const struct ht_reader *r, const char *key);
/* All key/value pairs, in file order (later ones override earlier). */
HT_API size_t ht_reader_meta_all(const struct ht_reader *r,
				 const struct ht_kv **out);
HT_API const uint8_t *ht_reader_uuid(const struct ht_reader *r);
HT_API uint32_t ht_reader_flags(const struct ht_reader *r); /* HT_TRACE_* */
/* Clock origin in ns, the same scale as ht_event.ts (the time recording
 * started; the first event's ts if the writer gave none). */
HT_API uint64_t ht_reader_start_ns(const struct ht_reader *r);

struct ht_thread {
	uint64_t ts;   /* ns */
	uint32_t pid, tid;
	const char *name;
};
HT_API size_t ht_reader_threads(const struct ht_reader *r,
				const struct ht_thread **out);
HT_API size_t ht_reader_rss(const struct ht_reader *r,
			    const struct ht_rss_sample **out);
HT_API size_t ht_reader_losses(const struct ht_reader *r,
			       const struct ht_loss **out);

/* Totals from the block headers (no decoding). */
struct ht_trace_info {
	uint64_t file_bytes;
	uint64_t events;        /* in readable EVENTS blocks */
	uint64_t blocks;        /* all valid blocks, every type */
	uint64_t event_blocks;
	uint64_t streams;       /* distinct (pid, tid) */
	uint64_t ts_min, ts_max;/* ns, over EVENTS blocks */
	uint32_t format_major, format_minor;
};
HT_API void ht_reader_info(const struct ht_reader *r,
			   struct ht_trace_info *info);

/* Block-level access, for parallel decoding and per-thread streaming.
 * Blocks are numbered 0..n-1 in file order (EVENTS blocks only). */
struct ht_block_info {
	uint64_t offset;       /* of the block header in the file */
	uint64_t seq;
	uint32_t pid, tid;
	uint32_t count;        /* events */
	uint64_t ts_min, ts_max; /* ns */
};
HT_API size_t ht_reader_blocks(const struct ht_reader *r,
			       const struct ht_block_info **out);

/* Decodes EVENTS block i into out[0..count).  Thread-safe: several threads
 * may decode different (or the same) blocks of one reader at once, each
 * with its own ht_decoder.  Returns the number of events or HT_E*. */
struct ht_decoder;
HT_API int ht_decoder_new(struct ht_decoder **dp);
HT_API void ht_decoder_free(struct ht_decoder *d); /* NULL ok */
HT_API int ht_reader_decode_block(const struct ht_reader *r,
				  struct ht_decoder *d, size_t i,
				  struct ht_event *out, size_t cap);

/* EVENTS block i as columns, the way a columnar (Arrow-style) reader
 * wants it, without assembling events: element k of each array is the
 * field of the block's k-th event, in the thread's order, as struct
 * ht_event gives it (ts and dur in ns).  An array is NULL when that field
 * is 0 in every event of the block; op and ts are never NULL in a block
 * with events.  The arrays belong to d and stay valid until its next
 * decode, ht_decoder_free() or ht_reader_close().  Thread-safe as
 * ht_reader_decode_block(); checks the block as fully.  Returns the
 * number of events or HT_E*. */
struct ht_columns {
	uint32_t count, pid, tid;
	const uint8_t *op;
	const uint64_t *ts, *addr, *size, *old_addr, *old_size, *align;
	const uint64_t *nmemb, *heap, *dur;
	const uint32_t *aux, *flags;
	const int32_t *result;
};
HT_API int ht_reader_decode_columns(const struct ht_reader *r,
				    struct ht_decoder *d, size_t i,
				    struct ht_columns *out);
/* Event k (below c->count) of decoded columns, as one struct. */
HT_API void ht_columns_event(const struct ht_columns *c, size_t k,
			     struct ht_event *ev);

/* Iterator over all events in global time order: a merge of the
 * per-thread streams by (ts, pid, tid); each stream keeps its own order.
 * Returns 1 with *ev filled, 0 at the end, or HT_E* (sticky).  In salvage
 * mode damaged blocks are skipped and added to the problems. */
HT_API int ht_reader_next(struct ht_reader *r, struct ht_event *ev);
/* Positions the iterator at the first event with ts >= ts_ns (ns), using
 * the block time ranges. */
HT_API int ht_reader_seek(struct ht_reader *r, uint64_t ts_ns);

#ifdef __cplusplus
}
#endif
#endif /* HEAPTAPE_H */
