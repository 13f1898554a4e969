/*
 * etl_read.h - a reader for Windows Event Trace Log (.etl) files, written
 * from ../shared/docs/ETL.md without any Windows API: the buffer container
 * (any buffer size, unaligned offsets, FilledBytes, 0xFF fill, XPRESS /
 * LZNT1 / XPRESS-Huffman compressed buffers through libfwnt), every event
 * header type, the log-file header, the clock, per-CPU buffer streams
 * merged by timestamp, and the heap events of the HeapTraceProvider.
 *
 * Used by etl.c (`heaptape stat` and `heaptape convert` of .etl files),
 * tests/tools/etldump.c and tests/fuzz/fuzz_etl.c.  Not thread-safe.
 */
#ifndef HT_ETL_READ_H
#define HT_ETL_READ_H

#include <stddef.h>
#include <stdint.h>

/* Header types (NTWMI TRACE_HEADER_TYPE_*; ETL.md 3.2). */
#define ETL_HT_SYSTEM32 0x01
#define ETL_HT_SYSTEM64 0x02
#define ETL_HT_COMPACT32 0x03
#define ETL_HT_COMPACT64 0x04
#define ETL_HT_FULL32 0x0A
#define ETL_HT_INSTANCE32 0x0B
#define ETL_HT_TIMED 0x0C
#define ETL_HT_ERROR 0x0D
#define ETL_HT_WNODE 0x0E
#define ETL_HT_MESSAGE 0x0F    /* WPP message (marker flags 0x90) */
#define ETL_HT_PERFINFO32 0x10
#define ETL_HT_PERFINFO64 0x11
#define ETL_HT_EVENT32 0x12
#define ETL_HT_EVENT64 0x13
#define ETL_HT_FULL64 0x14
#define ETL_HT_INSTANCE64 0x15

#define ETL_NOID 0xFFFFFFFFu   /* header has no process / thread id */

/* Kernel groups used here (ETL.md 4). */
#define ETL_GROUP_HEADER 0x00
#define ETL_GROUP_PROCESS 0x03
#define ETL_GROUP_HEAP 0x10
#define ETL_GROUP_STACKWALK 0x18

/* Buffer flags (WMI_BUFFER_HEADER.BufferFlag). */
#define ETL_BF_EVENTS_LOST 0x02
#define ETL_BF_BUFFER_LOST 0x04
#define ETL_BF_PROC_INDEX 0x20
#define ETL_BF_COMPRESSED 0x40

/* etl_open flags */
#define ETL_SALVAGE 0x1      /* skip bad buffers (counted) instead of failing */
#define ETL_FILE_ORDER 0x2   /* events in file order, no per-CPU merge */

struct etl_event {
	uint64_t ts;            /* raw clock value (etl_ns() converts) */
	const uint8_t *hdr;     /* the event's first byte */
	const uint8_t *data;    /* payload (EVENT_HEADER: user data) */
	const uint8_t *ext;     /* EVENT_HEADER extended items, or NULL */
	const uint8_t *guid;    /* provider of classic, EVENT_HEADER and
				   WPP events (16 bytes on disk), or NULL */
	uint64_t buf_off;       /* file offset of the buffer holding it */
	uint32_t off;           /* offset in the (decompressed) buffer */
	uint32_t size;          /* event size, header included */
	uint32_t len;           /* payload bytes */
	uint32_t ext_len;
	uint32_t pid, tid;      /* ETL_NOID when the header has none */
	uint16_t cpu;           /* ProcessorIndex of the buffer */
	uint16_t bflags;        /* BufferFlag of the buffer */
	uint16_t id;            /* EVENT_HEADER Id; WPP MessageNumber */
	uint16_t flags;         /* EVENT_HEADER Flags; WPP OptionFlags */
	uint8_t htype;          /* ETL_HT_* */
	uint8_t psize;          /* pointer size of the event: 4 or 8 */
	uint8_t group, type;    /* kernel HookId; classic: type = Class.Type */
	uint8_t version;        /* kernel: marker low byte; classic:
				   Class.Version; EVENT_HEADER: Version */
	uint8_t opcode;         /* EVENT_HEADER Opcode; else = type */
	uint8_t has_ts;         /* 0 for a WPP message without timestamp */
};

/* TRACE_LOGFILE_HEADER fields (ETL.md 2). */
struct etl_logfile {
	uint32_t buffer_size;
	uint8_t version[4];
	uint32_t provider_version;   /* OS build */
	uint32_t nproc;
	uint64_t end_time;           /* FILETIME */
	uint32_t timer_resolution;
	uint32_t max_file_size;
	uint32_t log_file_mode;
	uint32_t buffers_written;
	uint32_t pointer_size;
	uint32_t events_lost;
	uint32_t cpu_mhz;
	uint64_t boot_time;          /* FILETIME */
	uint64_t perf_freq;
	uint64_t start_time;         /* FILETIME */
	uint32_t clock_type;         /* ReservedFlags: 1 QPC, 2 FILETIME,
					3 CPU cycles */
	uint32_t buffers_lost;
	uint32_t header_pid, header_tid;
	char logger_name[128];       /* UTF-8, from the trailing strings */
	char log_file_name[256];
};

struct etl_buffer {
	uint64_t off;    /* file offset */
	uint64_t seq;    /* SequenceNumber */
	uint32_t size;   /* BufferSize (on disk) */
	uint32_t filled; /* Offset = FilledBytes (uncompressed end) */
	uint16_t cpu, flags, type;
};

struct etl;

/* Open a file (mapped) or memory (kept by the caller until etl_close).
 * Scans every buffer header and reads the log-file header.  Returns 0, or
 * -1 with etl_error() set; *ep is set whenever memory could be had (the
 * caller closes it, also on failure). */
int etl_open(struct etl **ep, const char *path, int flags);
int etl_open_mem(struct etl **ep, const void *buf, size_t len, int flags);
void etl_close(struct etl *e);

/* Next event: 1 with *ev filled, 0 at the end, -1 on error (strict mode;
 * sticky).  Default order: per-CPU buffer streams by sequence number,
 * merged by timestamp (ETL.md 1.3).  ev's pointers stay valid until the
 * next call. */
int etl_next(struct etl *e, struct etl_event *ev);
/* The same without the copy: *ev points into the reader. */
int etl_next_ref(struct etl *e, const struct etl_event **ev);

/* Error text ("bad event size ...") and the file offset of the buffer. */
const char *etl_error(const struct etl *e);
uint64_t etl_error_offset(const struct etl *e);

const struct etl_logfile *etl_logfile(const struct etl *e);
size_t etl_buffers(const struct etl *e, const struct etl_buffer **out);
/* Counters: bad buffers skipped in salvage mode, buffers with the lost
 * flags, compressed buffers. */
struct etl_counts {
	uint64_t buffers, compressed;
	uint64_t bad_buffers;          /* skipped (salvage) */
	uint64_t bad_bytes;            /* skipped container bytes (salvage) */
	uint64_t flag_events_lost;     /* buffers with BufferFlag 0x2 */
	uint64_t flag_buffer_lost;     /* buffers with BufferFlag 0x4 */
	uint64_t first_bad_off;        /* of the first bad buffer */
	uint64_t buffers_read;         /* started by etl_next so far */
};
void etl_counts(const struct etl *e, struct etl_counts *c);

/* Clock: the header event's raw timestamp (sync point for StartTime) and
 * ticks per second. */
uint64_t etl_t0(const struct etl *e);
uint64_t etl_freq(const struct etl *e);
/* Signed ns between raw clock value ts and the sync point: the exact
 * (ts - t0) * 1e9 / freq of 128-bit math, rounded toward zero and clamped
 * to int64_t. */
int64_t etl_rel_ns(const struct etl *e, uint64_t ts);

/* The same inline, for per-event use: 1e9 / freq is mul_int plus
 * mul_frac / 2^64 (rounded down), so d * 1e9 / freq is the product or one
 * more, which one multiplication decides exactly (no division). */
struct etl_clock {
	uint64_t t0, freq;
	uint64_t mul_int, mul_frac;
	uint64_t fast_max;     /* mul_frac 0: d * mul_int fits below this */
};
const struct etl_clock *etl_clock(const struct etl *e);

static inline int64_t etl_clock_ns(const struct etl_clock *c, uint64_t ts)
{
	int neg;
	uint64_t d;
	unsigned __int128 v;

	if (ts >= c->t0 && ts - c->t0 < c->fast_max)
		return (int64_t)((ts - c->t0) * c->mul_int);
	neg = ts < c->t0;
	d = neg ? c->t0 - ts : ts - c->t0;
	v = (unsigned __int128)d * c->mul_int;
	if (c->mul_frac) {
		v += ((unsigned __int128)d * c->mul_frac) >> 64;
		if ((v + 1) * c->freq <= (unsigned __int128)d * 1000000000u)
			v++;
	}
	if (v > INT64_MAX)
		return neg ? INT64_MIN : INT64_MAX;
	return neg ? -(int64_t)v : (int64_t)v;
}

/* Names. */
const char *etl_htype_name(int htype);   /* "SYSTEM64", ... */
const char *etl_group_name(int group);   /* "Image", ..., NULL if unknown */
void etl_guid_str(const uint8_t *g, char out[37]);

/* Heap events (ETL.md 7): HookId group 0x10 from a kernel header, or a
 * classic event of the HeapTraceProvider GUID. */
enum etl_heap_op {
	ETL_HEAP_NONE = 0,
	ETL_HEAP_CREATE = 32,
	ETL_HEAP_ALLOC = 33,
	ETL_HEAP_REALLOC = 34,
	ETL_HEAP_DESTROY = 35,
	ETL_HEAP_FREE = 36
};
struct etl_heap {
	int op;                /* etl_heap_op */
	uint64_t heap;         /* HeapHandle */
	uint64_t addr, size;   /* Alloc: result/size; ReAlloc: new; Free */
	uint64_t old_addr, old_size;
	uint32_t source;       /* Source; Create: HeapFlags */
};
/* 1 if ev is one of the five heap events above and its payload is long
 * enough (filled in *h); 0 if it is another event; -1 if it is a heap
 * event with a short payload. */
int etl_heap_decode(const struct etl_event *ev, struct etl_heap *h);
/* 1 if ev is any HeapTraceProvider event (any opcode). */
int etl_is_heap_provider(const struct etl_event *ev);

/* StackWalk (group 0x18) Type 32 stack or Types 37/38 stack key: the
 * target's timestamp, pid and tid; frames for type 32.  1 if it is one. */
struct etl_stack {
	uint64_t ts;
	uint32_t pid, tid;
	uint32_t nframes;      /* type 32: frames; 37/38: 0 */
	const uint8_t *frames; /* psize bytes each */
	uint64_t key;          /* 37/38 */
	int type;
};
int etl_stack_decode(const struct etl_event *ev, struct etl_stack *s);

/* Process events (group 3, Types 1-4, 39): process id and image name
 * (ANSI, NUL-terminated in the payload).  1 if decoded. */
int etl_process_decode(const struct etl_event *ev, uint32_t *pid,
		       char *name, size_t n);

#endif
