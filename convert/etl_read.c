/*
 * etl_read.c - the .etl reader declared in etl_read.h.
 *
 * The file is a concatenation of buffers (a 0x48-byte WMI_BUFFER_HEADER
 * each, BufferSize bytes on disk).  Opening scans every buffer header once
 * (O(buffers) memory, nothing decompressed) and decodes the log-file header
 * in the first buffer.  Iteration buckets the buffers by ProcessorIndex,
 * sorts each bucket by SequenceNumber and merges the buckets by event
 * timestamp with a binary heap, so memory is one decompressed buffer per
 * CPU (bounded, see MAX_INFLIGHT) and time is O(events * log CPUs).
 *
 * Every length is checked against the end of the buffer's valid data
 * before it is used; a bad buffer is an error at its file offset, or, in
 * salvage mode, is skipped and counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libfwnt.h>

#include "etl_read.h"

#define BUF_HDR 0x48u
/* Largest uncompressed buffer accepted (ETW buffers are at most 16 MiB),
 * and the most decompressed bytes held at once over all CPU streams. */
#define MAX_BUF (16u << 20)
#define MAX_INFLIGHT ((size_t)256 << 20)

struct stream {
	uint32_t *idx;          /* buffer indices, in stream order */
	size_t n, cur;
	const uint8_t *b;       /* current buffer data, NULL if none */
	uint32_t pos, end;
	uint64_t boff;
	uint16_t cpu, bflags;
	uint32_t bsize;         /* on-disk size of the current buffer */
	uint8_t *own;           /* decompression target */
	size_t own_cap;
	uint64_t last_ts;
	uint8_t clean;          /* decode_fast() */
	struct etl_event head;
};

struct etl {
	const uint8_t *map;
	size_t len;
	int mapped;
	int fd, own_fd;         /* the file (pread), or -1 for memory */
	int flags;
	struct etl_buffer *bufs;
	size_t nbufs, cap;
	struct etl_logfile lf;
	struct etl_clock clk;   /* t0, freq and the ns multiplier */
	int compress_fmt;       /* 2 LZNT1, 3 XPRESS, 4 XPRESS Huffman */
	struct etl_counts cnt;
	uint64_t err_off;
	char err[160];
	int failed;
	/* iteration */
	uint32_t *order;
	struct stream *st;
	size_t nst;
	uint32_t *heap;         /* stream numbers, min-heap on head.ts */
	size_t nheap;
	int started;
	int pending;            /* stream whose head was returned last */
	uint32_t runner_up;     /* the smaller child of the heap root */
	size_t inflight;
};

static inline uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t rdp(const uint8_t *p, int psize)
{
	return psize == 8 ? rd64(p) : rd32(p);
}

static void seterr(struct etl *e, uint64_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(struct etl *e, uint64_t off, const char *fmt, ...)
{
	va_list ap;

	e->err_off = off;
	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
}

const char *etl_error(const struct etl *e)
{
	return e && e->err[0] ? e->err : "unknown error";
}

uint64_t etl_error_offset(const struct etl *e)
{
	return e ? e->err_off : 0;
}

const struct etl_logfile *etl_logfile(const struct etl *e)
{
	return &e->lf;
}

size_t etl_buffers(const struct etl *e, const struct etl_buffer **out)
{
	*out = e->bufs;
	return e->nbufs;
}

void etl_counts(const struct etl *e, struct etl_counts *c)
{
	*c = e->cnt;
}

uint64_t etl_t0(const struct etl *e)
{
	return e->clk.t0;
}

uint64_t etl_freq(const struct etl *e)
{
	return e->clk.freq;
}

const struct etl_clock *etl_clock(const struct etl *e)
{
	return &e->clk;
}

int64_t etl_rel_ns(const struct etl *e, uint64_t ts)
{
	return etl_clock_ns(&e->clk, ts);
}

static const char *const htype_names[0x16] = {
	[0x01] = "SYSTEM32", [0x02] = "SYSTEM64", [0x03] = "COMPACT32",
	[0x04] = "COMPACT64", [0x0A] = "FULL_HEADER32",
	[0x0B] = "INSTANCE32", [0x0C] = "TIMED", [0x0D] = "ERROR",
	[0x0E] = "WNODE", [0x0F] = "MESSAGE", [0x10] = "PERFINFO32",
	[0x11] = "PERFINFO64", [0x12] = "EVENT_HEADER32",
	[0x13] = "EVENT_HEADER64", [0x14] = "FULL_HEADER64",
	[0x15] = "INSTANCE64",
};

const char *etl_htype_name(int ht)
{
	if (ht >= 0 && ht < 0x16 && htype_names[ht])
		return htype_names[ht];
	return "UNKNOWN";
}

/* Group names as NTWMI EVENT_TRACE_GROUP_* (and the reference counts). */
static const char *const group_names[0x1F] = {
	"Header", "DiskIo", "PageFault", "Process", "FileIo", "Thread",
	"TcpIp", "Job", "UdpIp", "Registry", "DbgPrint", "Config", "Spare1",
	"Wnf", "Pool", "PerfInfo", "Heap", "Object", "Power", "ModBound",
	"Image", "Dpc", "CC", "CritSec", "StackWalk", "Ums", "ALPC",
	"SplitIo", "ThreadPool", "Hypervisor", "HypervisorX",
};

const char *etl_group_name(int g)
{
	return g >= 0 && g < 0x1F ? group_names[g] : NULL;
}

void etl_guid_str(const uint8_t *g, char out[37])
{
	snprintf(out, 37,
		 "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 rd32(g), rd16(g + 4), rd16(g + 6), g[8], g[9], g[10], g[11],
		 g[12], g[13], g[14], g[15]);
}

/* {222962ab-6180-4b88-a825-346b75f2a24a} as stored on disk. */
static const uint8_t heap_guid[16] = {
	0xab, 0x62, 0x29, 0x22, 0x80, 0x61, 0x88, 0x4b,
	0xa8, 0x25, 0x34, 0x6b, 0x75, 0xf2, 0xa2, 0x4a,
};

/* The fields that only some headers carry (decode() sets them, the
 * SYSTEM/COMPACT fast path leaves them as this). */
static void reset_rare(struct etl_event *ev)
{
	ev->ext = NULL;
	ev->ext_len = 0;
	ev->guid = NULL;
	ev->id = 0;
	ev->flags = 0;
	ev->has_ts = 1;
}

/*
 * Decodes the event at b[pos] (valid data ends at b[end]).  Returns the
 * number of bytes to advance (8-aligned, > 0), 0 at the end of the data,
 * or -1 with e->err set (offset filled in by the caller).
 */
static int decode(struct etl *e, const uint8_t *b, uint32_t pos,
		  uint32_t end, struct etl_event *ev)
{
	const uint8_t *p = b + pos;
	uint32_t avail, m, size = 0, hl, fl, ht;

	if (pos >= end || end - pos < 4)
		return 0;
	avail = end - pos;
	m = rd32(p);
	if (m == 0xFFFFFFFFu)
		return 0;
	fl = m >> 24;
	ht = (m >> 16) & 0xFF;
	ev->hdr = p;
	ev->off = pos;
	reset_rare(ev);
	ev->group = 0;
	ev->type = 0;
	ev->opcode = 0;
	ev->version = 0;
	ev->ts = 0;
	ev->pid = ev->tid = ETL_NOID;
	if ((fl & 0xC0) == 0xC0) {
		ev->htype = (uint8_t)ht;
		switch (ht) {
		case ETL_HT_SYSTEM32:
		case ETL_HT_SYSTEM64:
		case ETL_HT_COMPACT32:
		case ETL_HT_COMPACT64:
		case ETL_HT_PERFINFO32:
		case ETL_HT_PERFINFO64:
			hl = ht <= 2 ? 0x20 : ht <= 4 ? 0x18 : 0x10;
			if (avail < hl)
				goto short_hdr;
			size = rd16(p + 4);
			ev->version = (uint8_t)m;
			ev->type = ev->opcode = p[6];
			ev->group = p[7];
			ev->psize = (ht == 1 || ht == 3 || ht == 0x10) ? 4 : 8;
			if (ht >= 0x10) {
				ev->ts = rd64(p + 8);
			} else {
				ev->tid = rd32(p + 8);
				ev->pid = rd32(p + 12);
				ev->ts = rd64(p + 16);
			}
			/* PEBS index and PMC counters follow the header */
			hl += (m & 0x8000 ? 8 : 0) + 8 * ((m >> 8) & 7);
			break;
		case ETL_HT_FULL32:
		case ETL_HT_FULL64:
		case ETL_HT_INSTANCE32:
		case ETL_HT_INSTANCE64:
			hl = (ht == ETL_HT_FULL32 || ht == ETL_HT_FULL64) ?
				0x30 : 0x48;
			if (avail < hl)
				goto short_hdr;
			size = rd16(p);
			ev->type = ev->opcode = p[4];
			ev->version = (uint8_t)rd16(p + 6);
			ev->tid = rd32(p + 8);
			ev->pid = rd32(p + 12);
			ev->ts = rd64(p + 16);
			ev->guid = p + 0x18;
			ev->psize = (ht == ETL_HT_FULL32 ||
				     ht == ETL_HT_INSTANCE32) ? 4 : 8;
			break;
		case ETL_HT_EVENT32:
		case ETL_HT_EVENT64:
			hl = 0x50;
			if (avail < hl)
				goto short_hdr;
			size = rd16(p);
			ev->flags = rd16(p + 4);
			ev->tid = rd32(p + 8);
			ev->pid = rd32(p + 12);
			ev->ts = rd64(p + 16);
			ev->guid = p + 0x18;
			ev->id = rd16(p + 0x28);
			ev->version = p[0x2A];
			ev->opcode = ev->type = p[0x2D];
			ev->psize = ht == ETL_HT_EVENT32 ? 4 : 8;
			if (size < hl || size > avail)
				goto bad_size;
			if (ev->flags & 1) {
				/* extended items: u16 size, u16 type,
				 * u16 linkage (bit 0: more), u16 data size */
				uint32_t q = hl;
				for (;;) {
					uint32_t isz;
					if (size - q < 8) {
						seterr(e, 0, "extended item "
						       "past the event at "
						       "buffer offset 0x%x",
						       pos);
						return -1;
					}
					isz = rd16(p + q);
					if (isz < 8 || isz > size - q ||
					    rd16(p + q + 6) > isz - 8) {
						seterr(e, 0, "bad extended "
						       "item size %u at "
						       "buffer offset 0x%x",
						       isz, pos + q);
						return -1;
					}
					q += isz;
					if (!(rd16(p + q - isz + 4) & 1))
						break;
				}
				ev->ext = p + hl;
				ev->ext_len = q - hl;
				hl = q;
			}
			break;
		case ETL_HT_TIMED:
		case ETL_HT_ERROR:
		case ETL_HT_WNODE:
			hl = 8;
			size = rd16(p);
			ev->has_ts = 0;
			ev->psize = 8;
			break;
		default:
			seterr(e, 0, "unknown event header type 0x%02x at "
			       "buffer offset 0x%x", ht, pos);
			return -1;
		}
	} else if ((fl & 0x90) == 0x90) {
		/* WPP message: MESSAGE_TRACE_HEADER + optional fields in
		 * the order sequence, guid|component, time, tid+pid */
		uint32_t q = 8, of;
		ev->htype = ETL_HT_MESSAGE;
		if (avail < 8)
			goto short_hdr;
		size = rd16(p);
		hl = 8;
		if (size < hl || size > avail)
			goto bad_size;
		ev->id = rd16(p + 4);
		of = ev->flags = rd16(p + 6);
		ev->psize = (of & 0x40) ? 4 : 8;
		ev->has_ts = 0;
		if (of & 0x1)
			q += 4;
		if (of & 0x2) {
			if (q + 16 > size)
				goto bad_size;
			ev->guid = p + q;
			q += 16;
		} else if (of & 0x4) {
			q += 4;
		}
		if (of & 0x8) {
			if (q + 8 > size)
				goto bad_size;
			ev->ts = rd64(p + q);
			ev->has_ts = 1;
			q += 8;
		}
		if (of & 0x20) {
			if (q + 8 > size)
				goto bad_size;
			ev->tid = rd32(p + q);
			ev->pid = rd32(p + q + 4);
			q += 8;
		}
		if (q > size)
			goto bad_size;
		hl = q;
	} else {
		seterr(e, 0, "bad event marker 0x%08x at buffer offset 0x%x",
		       m, pos);
		return -1;
	}
	if (size < hl || size > avail)
		goto bad_size;
	ev->size = size;
	ev->data = p + hl;
	ev->len = size - hl;
	return (int)((size + 7) & ~7u);
short_hdr:
	seterr(e, 0, "event header past the end of the data at buffer "
	       "offset 0x%x", pos);
	return -1;
bad_size:
	seterr(e, 0, "bad event size %u at buffer offset 0x%x (%u bytes "
	       "left)", size, pos, avail);
	return -1;
}

/*
 * The common case of decode(), inline in advance(): a SYSTEM or COMPACT
 * header (32 or 64) whose size checks pass.  Fills *ev exactly as
 * decode() does and returns the same; 0 to leave anything else (and every
 * error) to decode().  *clean says the fields such headers do not carry
 * hold their defaults already (0 after decode()).
 */
static inline int decode_fast(const uint8_t *b, uint32_t pos, uint32_t end,
			      struct etl_event *ev, uint8_t *clean)
{
	const uint8_t *p = b + pos;
	uint32_t m, ht, hl, size;

	if (pos >= end || end - pos < 0x20)
		return 0;
	m = rd32(p);
	ht = (m >> 16) & 0xFF;
	if ((m >> 30) != 3 || ht - 1 > 3)
		return 0;
	hl = (ht <= 2 ? 0x20 : 0x18) + (m & 0x8000 ? 8 : 0) +
	     8 * ((m >> 8) & 7);
	size = rd16(p + 4);
	if (size < hl || size > end - pos)
		return 0;
	ev->hdr = p;
	ev->off = pos;
	if (!*clean) {
		reset_rare(ev);
		*clean = 1;
	}
	ev->htype = (uint8_t)ht;
	ev->version = (uint8_t)m;
	ev->type = ev->opcode = p[6];
	ev->group = p[7];
	ev->psize = ht & 1 ? 4 : 8;
	ev->tid = rd32(p + 8);
	ev->pid = rd32(p + 12);
	ev->ts = rd64(p + 16);
	ev->size = size;
	ev->data = p + hl;
	ev->len = size - hl;
	return (int)((size + 7) & ~7u);
}

/*
 * LZNT1 (2) and XPRESS Huffman (4) never occur in the samples (ETL.md
 * 1.2), and libfwnt's Huffman decoder smashes its stack on some corrupt
 * input (found by fuzz_etl).  They run in a child process writing into
 * shared memory, so a crash there is only a bad buffer.  Returns 1 with
 * *outlen set, or 0.
 */
static int decompress_child(int fmt, const uint8_t *in, size_t inlen,
			    uint8_t *out, size_t *outlen)
{
	size_t cap = *outlen, n;
	uint8_t *shm = mmap(NULL, cap + 16, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid;
	int st = 0, ok = 0;

	if (shm == MAP_FAILED)
		return 0;
	pid = fork();
	if (pid == 0) {
		libfwnt_error_t *ferr = NULL;
		int r, fd = open("/dev/null", O_WRONLY);
		static const int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGILL,
					   SIGFPE};
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			signal(sigs[i], SIG_DFL);   /* no sanitizer reports */
		if (fd >= 0)
			dup2(fd, 2);  /* a crash message is not ours */
		n = cap;
		if (fmt == 2)
			r = libfwnt_lznt1_decompress(in, inlen, shm + 16, &n,
						     &ferr);
		else
			r = libfwnt_lzxpress_huffman_decompress(in, inlen,
				shm + 16, &n, &ferr);
		memcpy(shm, &n, sizeof(n));
		_exit(r == 1 ? 0 : 1);
	}
	if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0) {
		memcpy(&n, shm, sizeof(n));
		if (n <= cap) {
			memcpy(out, shm + 16, n);
			*outlen = n;
			ok = 1;
		}
	}
	munmap(shm, cap + 16);
	return ok;
}

/* Data of buffer i, decompressed into *own if needed.  Returns 0 with
 * *data and *end set, or -1 with e->err set. */
static int load(struct etl *e, size_t i, uint8_t **own, size_t *own_cap,
		const uint8_t **data, uint32_t *end)
{
	const struct etl_buffer *bf = &e->bufs[i];
	const uint8_t *b = e->map + bf->off;
	libfwnt_error_t *ferr = NULL;
	size_t outlen;
	int r;

	int copy = !(bf->flags & ETL_BF_COMPRESSED);

	/* Uncompressed buffers of a file are read with pread into the
	 * stream's own memory: cheaper than faulting the mapping in page by
	 * page, and nothing stays resident.  Memory input is used in place. */
	if (copy && (e->fd < 0 || bf->filled > MAX_BUF)) {
		*data = b;
		*end = bf->filled;
		return 0;
	}
	if (*own_cap < bf->filled) {
		uint8_t *n;
		if (e->inflight - *own_cap + bf->filled > MAX_INFLIGHT) {
			seterr(e, bf->off, "too much decompressed data at "
			       "once (%u bytes more)", bf->filled);
			return -1;
		}
		n = realloc(*own, bf->filled);
		if (!n) {
			seterr(e, bf->off, "out of memory");
			return -1;
		}
		e->inflight += bf->filled - *own_cap;
		*own = n;
		*own_cap = bf->filled;
	}
	if (copy) {
		if (pread(e->fd, *own, bf->filled, (off_t)bf->off) !=
		    (ssize_t)bf->filled) {
			seterr(e, bf->off, "read error: %s", strerror(errno));
			return -1;
		}
		*data = *own;
		*end = bf->filled;
		return 0;
	}
	memcpy(*own, b, BUF_HDR);
	outlen = bf->filled - BUF_HDR;
	switch (e->compress_fmt) {
	case 2:
	case 4:
		r = decompress_child(e->compress_fmt, b + BUF_HDR,
				     bf->size - BUF_HDR, *own + BUF_HDR,
				     &outlen);
		break;
	default:
		r = libfwnt_lzxpress_decompress(b + BUF_HDR, bf->size - BUF_HDR,
						*own + BUF_HDR, &outlen, &ferr);
		break;
	}
	if (ferr)
		libfwnt_error_free(&ferr);
	if (r != 1) {
		seterr(e, bf->off, "compressed buffer does not decompress");
		return -1;
	}
	if (outlen != bf->filled - BUF_HDR) {
		seterr(e, bf->off, "compressed buffer decompresses to %zu "
		       "bytes, FilledBytes says %u", outlen,
		       bf->filled - BUF_HDR);
		return -1;
	}
	*data = *own;
	*end = bf->filled;
	return 0;
}

static void bad_buffer(struct etl *e, uint64_t off, uint64_t bytes)
{
	if (!e->cnt.bad_buffers)
		e->cnt.first_bad_off = off;
	e->cnt.bad_buffers++;
	e->cnt.bad_bytes += bytes;
}

/* UTF-16LE, NUL-terminated, at most n code units, to UTF-8. */
static size_t wstr(const uint8_t *p, size_t n, char *out, size_t outsz)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		uint32_t c = rd16(p + 2 * i);
		if (!c) {
			i++;
			break;
		}
		if (c >= 0xD800 && c < 0xDC00 && i + 1 < n &&
		    rd16(p + 2 * i + 2) >= 0xDC00 &&
		    rd16(p + 2 * i + 2) < 0xE000) {
			c = 0x10000 + ((c - 0xD800) << 10) +
			    (rd16(p + 2 * i + 2) - 0xDC00);
			i++;
		}
		if (o + 5 >= outsz)
			continue;
		if (c < 0x80) {
			out[o++] = (char)c;
		} else if (c < 0x800) {
			out[o++] = (char)(0xC0 | c >> 6);
			out[o++] = (char)(0x80 | (c & 0x3F));
		} else if (c < 0x10000) {
			out[o++] = (char)(0xE0 | c >> 12);
			out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
			out[o++] = (char)(0x80 | (c & 0x3F));
		} else {
			out[o++] = (char)(0xF0 | c >> 18);
			out[o++] = (char)(0x80 | ((c >> 12) & 0x3F));
			out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
			out[o++] = (char)(0x80 | (c & 0x3F));
		}
	}
	if (outsz)
		out[o < outsz ? o : outsz - 1] = 0;
	return i;
}

/* The first event of the first buffer: EventTrace header (group 0,
 * type 0) with TRACE_LOGFILE_HEADER (ETL.md 2). */
static int read_header(struct etl *e)
{
	struct etl_logfile *lf = &e->lf;
	struct etl_event ev;
	const uint8_t *b, *d;
	uint8_t *own = NULL;
	size_t own_cap = 0;
	uint32_t end, P, need;
	int r;

	if (!e->nbufs) {
		seterr(e, 0, "no buffers");
		return -1;
	}
	e->compress_fmt = rd32(e->map + e->bufs[0].off + 0x2C) & 0xFFFF;
	if (e->compress_fmt != 2 && e->compress_fmt != 4)
		e->compress_fmt = 3;
	if (load(e, 0, &own, &own_cap, &b, &end))
		goto fail;
	r = decode(e, b, BUF_HDR, end, &ev);
	if (r <= 0 || (ev.htype != ETL_HT_SYSTEM32 &&
		       ev.htype != ETL_HT_SYSTEM64) ||
	    ev.group != 0 || ev.type != 0) {
		seterr(e, 0, "no log-file header event in the first buffer");
		goto fail;
	}
	P = ev.psize;
	need = P == 8 ? 0x118 : 0x110;
	if (ev.len < need) {
		seterr(e, 0, "log-file header too short (%u bytes)", ev.len);
		goto fail;
	}
	d = ev.data;
	lf->buffer_size = rd32(d);
	memcpy(lf->version, d + 4, 4);
	lf->provider_version = rd32(d + 8);
	lf->nproc = rd32(d + 0xC);
	lf->end_time = rd64(d + 0x10);
	lf->timer_resolution = rd32(d + 0x18);
	lf->max_file_size = rd32(d + 0x1C);
	lf->log_file_mode = rd32(d + 0x20);
	lf->buffers_written = rd32(d + 0x24);
	lf->pointer_size = rd32(d + 0x2C);
	lf->events_lost = rd32(d + 0x30);
	lf->cpu_mhz = rd32(d + 0x34);
	lf->boot_time = rd64(d + (P == 8 ? 0xF8 : 0xF0));
	lf->perf_freq = rd64(d + (P == 8 ? 0x100 : 0xF8));
	lf->start_time = rd64(d + (P == 8 ? 0x108 : 0x100));
	lf->clock_type = rd32(d + (P == 8 ? 0x110 : 0x108));
	lf->buffers_lost = rd32(d + (P == 8 ? 0x114 : 0x10C));
	lf->header_pid = ev.pid;
	lf->header_tid = ev.tid;
	{
		size_t nw = (ev.len - need) / 2, used;
		used = wstr(d + need, nw, lf->logger_name,
			    sizeof(lf->logger_name));
		wstr(d + need + 2 * used, nw - used, lf->log_file_name,
		     sizeof(lf->log_file_name));
	}
	e->clk.t0 = ev.ts;
	switch (lf->clock_type) {
	case 2:
		e->clk.freq = 10000000;
		break;
	case 3:
		e->clk.freq = (uint64_t)lf->cpu_mhz * 1000000;
		break;
	default:
		e->clk.freq = lf->perf_freq;
		break;
	}
	if (!e->clk.freq) {
		seterr(e, 0, "log-file header has no clock frequency "
		       "(clock type %u)", lf->clock_type);
		goto fail;
	}
	/* 1e9 / freq as integer part and 64-bit fraction (rounded down) */
	e->clk.mul_int = 1000000000 / e->clk.freq;
	e->clk.mul_frac = (uint64_t)(((unsigned __int128)(1000000000 %
		e->clk.freq) << 64) / e->clk.freq);
	e->clk.fast_max = e->clk.mul_frac ? 0 : INT64_MAX / e->clk.mul_int;
	free(own);
	e->inflight -= own_cap;
	return 0;
fail:
	free(own);
	e->inflight -= own_cap;
	e->err_off = e->bufs[0].off;
	return -1;
}

static int add_buffer(struct etl *e, const struct etl_buffer *bf)
{
	if (e->nbufs == e->cap) {
		size_t nc = e->cap ? e->cap * 2 : 64;
		struct etl_buffer *n = realloc(e->bufs, nc * sizeof(*n));
		if (!n) {
			seterr(e, bf->off, "out of memory");
			return -1;
		}
		e->bufs = n;
		e->cap = nc;
	}
	e->bufs[e->nbufs++] = *bf;
	return 0;
}

/* Whether b (left bytes to the end of the file) looks like a buffer
 * header of this file: sizes in range, a known BufferType and flags, the
 * first buffer's LoggerId and, uncompressed, an event marker first. */
static int plausible(const struct etl *e, const uint8_t *b, uint64_t left)
{
	uint32_t size, filled, m;
	uint16_t flags;

	if (left < BUF_HDR + 4)
		return 0;
	size = rd32(b);
	filled = rd32(b + 0x30);
	flags = rd16(b + 0x34);
	if (size < BUF_HDR + 4 || size > left || filled < BUF_HDR ||
	    rd16(b + 0x36) > 7 || (flags & ~0x7Fu) ||
	    rd16(b + 0x2A) != rd16(e->map + e->bufs[0].off + 0x2A))
		return 0;
	if (flags & ETL_BF_COMPRESSED)
		return filled <= MAX_BUF;
	if (filled > size)
		return 0;
	m = rd32(b + BUF_HDR);
	return filled == BUF_HDR || m == 0xFFFFFFFFu ||
	       (m >> 24 & 0xC0) == 0xC0 || (m >> 24 & 0x90) == 0x90;
}

/* Walks the buffer headers.  In salvage mode a bad header is skipped up
 * to the next offset that holds a plausible buffer header (buffers may
 * start at any byte, ETL.md 1), counted as one bad buffer. */
static int scan(struct etl *e)
{
	uint64_t off = 0;

	while (off < e->len) {
		uint8_t b[BUF_HDR];
		struct etl_buffer bf;
		uint64_t left = e->len - off;

		if (left < BUF_HDR) {
			seterr(e, off, "truncated buffer header (%llu bytes "
			       "left)", (unsigned long long)left);
			goto bad;
		}
		/* through the fd when there is one: touching the mapping
		 * here would fault in (around) the whole file at once */
		if (e->fd < 0 || pread(e->fd, b, BUF_HDR, (off_t)off) !=
		    (ssize_t)BUF_HDR)
			memcpy(b, e->map + off, BUF_HDR);
		memset(&bf, 0, sizeof(bf));
		bf.off = off;
		bf.size = rd32(b);
		bf.seq = rd64(b + 0x18);
		bf.filled = rd32(b + 0x30);
		bf.flags = rd16(b + 0x34);
		bf.type = rd16(b + 0x36);
		bf.cpu = (bf.flags & ETL_BF_PROC_INDEX) ?
			(rd16(b + 0x28) & 0x07FF) : b[0x28];
		if (bf.size < BUF_HDR) {
			seterr(e, off, "bad buffer size %u", bf.size);
			goto bad;
		}
		if (bf.size > left) {
			seterr(e, off, "truncated buffer (size %u, %llu bytes "
			       "left)", bf.size, (unsigned long long)left);
			goto bad;
		}
		if (bf.filled < BUF_HDR ||
		    (bf.flags & ETL_BF_COMPRESSED ? bf.filled > MAX_BUF :
		     bf.filled > bf.size)) {
			seterr(e, off, "bad FilledBytes %u (buffer size %u)",
			       bf.filled, bf.size);
			if (!(e->flags & ETL_SALVAGE))
				return -1;
			bad_buffer(e, off, bf.size);
			off += bf.size;
			continue;
		}
		if (bf.flags & ETL_BF_COMPRESSED)
			e->cnt.compressed++;
		if (bf.flags & ETL_BF_EVENTS_LOST)
			e->cnt.flag_events_lost++;
		if (bf.flags & ETL_BF_BUFFER_LOST)
			e->cnt.flag_buffer_lost++;
		if (add_buffer(e, &bf))
			return -1;
		off += bf.size;
		continue;
bad:
		if (!(e->flags & ETL_SALVAGE) || !e->nbufs)
			return -1;
		{
			uint64_t next = off + 1;
			while (next < e->len &&
			       !plausible(e, e->map + next, e->len - next))
				next++;
			bad_buffer(e, off, next - off);
			off = next;
		}
	}
	e->cnt.buffers = e->nbufs;
	return 0;
}

static int setup(struct etl *e)
{
	if (e->len < BUF_HDR) {
		seterr(e, 0, "file too short for an etl buffer (%zu bytes)",
		       e->len);
		return -1;
	}
	if (scan(e))
		return -1;
	if (read_header(e))
		return -1;
	/* a file cut at a buffer boundary: BuffersWritten is exact in every
	 * sample (ETL.md 1); circular logs may have wrapped */
	if (!(e->lf.log_file_mode & 0x2) &&
	    e->lf.buffers_written > e->nbufs + e->cnt.bad_buffers) {
		uint64_t miss = e->lf.buffers_written - e->nbufs -
				e->cnt.bad_buffers;
		seterr(e, e->len, "file ends after %zu of %u buffers "
		       "(truncated)", e->nbufs, e->lf.buffers_written);
		if (!(e->flags & ETL_SALVAGE))
			return -1;
		bad_buffer(e, e->len, 0);
		e->cnt.bad_buffers += miss - 1;
	}
	return 0;
}

static int open_common(struct etl **ep, const void *buf, size_t len,
		       int flags, int fd)
{
	struct etl *e = calloc(1, sizeof(*e));

	*ep = e;
	if (!e)
		return -1;
	e->map = buf;
	e->len = len;
	e->flags = flags;
	e->pending = -1;
	e->fd = fd;
	if (setup(e)) {
		e->failed = 1;
		return -1;
	}
	return 0;
}

int etl_open_mem(struct etl **ep, const void *buf, size_t len, int flags)
{
	return open_common(ep, buf, len, flags, -1);
}

int etl_open(struct etl **ep, const char *path, int flags)
{
	struct etl *e;
	struct stat st;
	void *m = NULL;
	int fd, r;

	*ep = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -2;
	if (fstat(fd, &st)) {
		close(fd);
		return -2;
	}
	if (st.st_size > 0) {
		m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
			 fd, 0);
		if (m == MAP_FAILED) {
			close(fd);
			return -2;
		}
		madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	r = open_common(ep, m ? m : "", m ? (size_t)st.st_size : 0, flags,
			fd);
	e = *ep;
	if (!e) {
		if (m)
			munmap(m, (size_t)st.st_size);
		close(fd);
		errno = ENOMEM;
		return -2;
	}
	e->own_fd = 1;
	e->mapped = m != NULL;
	return r;
}

void etl_close(struct etl *e)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < e->nst; i++)
		free(e->st[i].own);
	free(e->st);
	free(e->heap);
	free(e->order);
	free(e->bufs);
	if (e->mapped)
		munmap((void *)e->map, e->len);
	if (e->own_fd && e->fd >= 0)
		close(e->fd);
	free(e);
}

/*
 * Iteration.
 */
static struct etl *cmp_e;

static int cmp_order(const void *a, const void *b)
{
	const struct etl_buffer *x = &cmp_e->bufs[*(const uint32_t *)a];
	const struct etl_buffer *y = &cmp_e->bufs[*(const uint32_t *)b];

	if (x->cpu != y->cpu)
		return x->cpu < y->cpu ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* A buffer is read once: let the kernel drop its pages of the mapping so
 * that a large file does not stay resident. */
static void release(struct etl *e, const struct stream *s)
{
	uintptr_t pg = 4096, a, z;

	if (!e->mapped || s->b != e->map + s->boff)
		return;
	a = ((uintptr_t)s->b + pg - 1) & ~(pg - 1);
	z = ((uintptr_t)s->b + s->bsize) & ~(pg - 1);
	if (z > a)
		madvise((void *)a, z - a, MADV_DONTNEED);
}

/* Moves stream s to its next event.  Returns 1 if it has one, 0 if it
 * is exhausted, -1 on error (strict mode). */
static __attribute__((noinline)) int advance_slow(struct etl *e,
						 struct stream *s)
{
	for (;;) {
		int r;
		if (!s->b) {
			size_t bi;
			if (s->cur == s->n) {
				e->inflight -= s->own_cap;
				free(s->own);
				s->own = NULL;
				s->own_cap = 0;
				return 0;
			}
			bi = s->idx[s->cur++];
			e->cnt.buffers_read++;
			if (load(e, bi, &s->own, &s->own_cap, &s->b, &s->end)) {
				s->b = NULL;
				if (!(e->flags & ETL_SALVAGE))
					return -1;
				bad_buffer(e, e->bufs[bi].off,
					   e->bufs[bi].size);
				continue;
			}
			s->pos = BUF_HDR;
			s->boff = e->bufs[bi].off;
			s->cpu = e->bufs[bi].cpu;
			s->bflags = e->bufs[bi].flags;
			s->bsize = e->bufs[bi].size;
			/* the same for every event of the buffer (decode()
			 * leaves them alone) */
			s->head.buf_off = s->boff;
			s->head.cpu = s->cpu;
			s->head.bflags = s->bflags;
		}
		r = decode_fast(s->b, s->pos, s->end, &s->head, &s->clean);
		if (r > 0) {
			s->pos += (uint32_t)r;
			s->last_ts = s->head.ts;
			return 1;
		}
		s->clean = 0;
		r = decode(e, s->b, s->pos, s->end, &s->head);
		if (r > 0) {
			s->pos += (uint32_t)r;
			if (!s->head.has_ts)
				s->head.ts = s->last_ts;
			s->last_ts = s->head.ts;
			return 1;
		}
		if (r < 0) {
			e->err_off = s->boff;
			if (!(e->flags & ETL_SALVAGE)) {
				s->b = NULL;
				return -1;
			}
			bad_buffer(e, s->boff, s->end - s->pos);
		}
		release(e, s);
		s->b = NULL;
	}
}

/* advance() with the common case (a next event in the same buffer that
 * decode_fast() takes) inline. */
static inline int advance(struct etl *e, struct stream *s)
{
	if (s->b) {
		int r = decode_fast(s->b, s->pos, s->end, &s->head, &s->clean);
		if (r > 0) {
			s->pos += (uint32_t)r;
			s->last_ts = s->head.ts;
			return 1;
		}
	}
	return advance_slow(e, s);
}

static inline int less(const struct etl *e, uint32_t a, uint32_t b)
{
	uint64_t ta = e->st[a].head.ts, tb = e->st[b].head.ts;
	return (ta < tb) | ((ta == tb) & (a < b));   /* no branches */
}

static void sift_down(struct etl *e, size_t i)
{
	uint32_t *h = e->heap;
	size_t n = e->nheap;

	for (;;) {
		size_t l = 2 * i + 1, m = i;
		uint32_t t;
		if (l < n && less(e, h[l], h[m]))
			m = l;
		if (l + 1 < n && less(e, h[l + 1], h[m]))
			m = l + 1;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static int start(struct etl *e)
{
	size_t i, j, nst;

	e->started = 1;
	e->order = malloc((e->nbufs ? e->nbufs : 1) * sizeof(*e->order));
	/* one stream per CPU: ProcessorIndex is at most 0x7FF */
	nst = e->nbufs < 0x800 ? (e->nbufs ? e->nbufs : 1) : 0x800;
	e->st = calloc(nst, sizeof(*e->st));
	e->heap = malloc(nst * sizeof(*e->heap));
	if (!e->order || !e->st || !e->heap) {
		seterr(e, 0, "out of memory");
		return -1;
	}
	for (i = 0; i < e->nbufs; i++)
		e->order[i] = (uint32_t)i;
	if (e->flags & ETL_FILE_ORDER) {
		if (e->nbufs) {
			e->st[0].idx = e->order;
			e->st[0].n = e->nbufs;
			e->nst = 1;
		}
	} else {
		cmp_e = e;
		qsort(e->order, e->nbufs, sizeof(*e->order), cmp_order);
		for (i = 0; i < e->nbufs; i = j) {
			uint16_t cpu = e->bufs[e->order[i]].cpu;
			for (j = i; j < e->nbufs &&
			     e->bufs[e->order[j]].cpu == cpu; j++)
				;
			e->st[e->nst].idx = e->order + i;
			e->st[e->nst].n = j - i;
			e->nst++;
		}
	}
	for (i = 0; i < e->nst; i++) {
		int r = advance(e, &e->st[i]);
		if (r < 0)
			return -1;
		if (r)
			e->heap[e->nheap++] = (uint32_t)i;
	}
	for (i = e->nheap / 2; i-- > 0;)
		sift_down(e, i);
	if (e->nheap >= 2)
		e->runner_up = e->nheap >= 3 &&
			       less(e, e->heap[2], e->heap[1]) ?
			       e->heap[2] : e->heap[1];
	return 0;
}

int etl_next(struct etl *e, struct etl_event *ev)
{
	const struct etl_event *p;
	int r = etl_next_ref(e, &p);

	if (r > 0)
		*ev = *p;
	return r;
}

int etl_next_ref(struct etl *e, const struct etl_event **ev)
{
	if (e->failed)
		return -1;
	if (!e->started) {
		if (start(e)) {
			e->failed = 1;
			return -1;
		}
	} else if (e->pending >= 0) {
		uint32_t top = (uint32_t)e->pending;
		int r = advance(e, &e->st[top]);
		e->pending = -1;
		if (r < 0) {
			e->failed = 1;
			return -1;
		}
		if (r && e->nheap == 2) {
			/* the sift of two, without branches: which stream
			 * leads is a coin toss when CPUs interleave finely */
			uint32_t o = e->runner_up;
			uint32_t k = 0 - (uint32_t)less(e, top, o);
			uint32_t a = (top & k) | (o & ~k), b = top ^ o ^ a;
			e->heap[0] = a;
			e->heap[1] = b;
			e->runner_up = b;
			e->pending = (int)a;
			*ev = &e->st[a].head;
			return 1;
		}
		/* streams run in long stretches: while the root stays ahead
		 * of its children (untouched meanwhile), skip the sift */
		if (r && (e->nheap < 2 || less(e, top, e->runner_up))) {
			e->pending = (int)top;
			*ev = &e->st[top].head;
			return 1;
		}
		if (!r)
			e->heap[0] = e->heap[--e->nheap];
		if (e->nheap)
			sift_down(e, 0);
		if (e->nheap >= 2)
			e->runner_up = e->nheap >= 3 &&
				less(e, e->heap[2], e->heap[1]) ?
				e->heap[2] : e->heap[1];
	}
	if (!e->nheap)
		return 0;
	e->pending = (int)e->heap[0];
	*ev = &e->st[e->heap[0]].head;
	return 1;
}

/*
 * Payload decoders.
 */
static int kernel_header(int ht)
{
	return (ht >= ETL_HT_SYSTEM32 && ht <= ETL_HT_COMPACT64) ||
	       ht == ETL_HT_PERFINFO32 || ht == ETL_HT_PERFINFO64;
}

int etl_is_heap_provider(const struct etl_event *ev)
{
	if (kernel_header(ev->htype))
		return ev->group == ETL_GROUP_HEAP;
	if (ev->htype == ETL_HT_FULL32 || ev->htype == ETL_HT_FULL64 ||
	    ev->htype == ETL_HT_INSTANCE32 || ev->htype == ETL_HT_INSTANCE64)
		return !memcmp(ev->guid, heap_guid, 16);
	return 0;
}

/*
 * Heap payload layouts (ETL.md 7), by type - 32 and pointer size (0: 4
 * bytes, 1: 8): byte offsets of size, addr, old_addr, old_size and the
 * 32-bit Source, the payload size needed, and a mask per field that
 * zeroes those the type lacks (read at offset 0, HeapHandle, which every
 * payload has).
 */
#define HL(a, b, c, d, e) {(a) * 4, (b) * 4, (c) * 4, (d) * 4, (e) * 4}, \
			  {(a) * 8, (b) * 8, (c) * 8, (d) * 8, (e) * 8}
static const struct heap_layout {
	uint8_t off[2][5];
	uint8_t need[2];
	uint64_t mask[5];
} heap_layouts[5] = {
	[ETL_HEAP_CREATE - 32] = {{HL(0, 0, 0, 0, 1)}, {8, 12},
				  {0, 0, 0, 0, ~0ull}},
	[ETL_HEAP_ALLOC - 32] = {{HL(1, 2, 0, 0, 3)}, {16, 28},
				 {~0ull, ~0ull, 0, 0, ~0ull}},
	[ETL_HEAP_REALLOC - 32] = {{HL(3, 1, 2, 4, 5)}, {24, 44},
				   {~0ull, ~0ull, ~0ull, ~0ull, ~0ull}},
	[ETL_HEAP_DESTROY - 32] = {{HL(0, 0, 0, 0, 0)}, {4, 8},
				   {0, 0, 0, 0, 0}},
	[ETL_HEAP_FREE - 32] = {{HL(0, 1, 0, 0, 2)}, {12, 20},
				{0, ~0ull, 0, 0, ~0ull}},
};
#undef HL

/* The pointer at d + o, 8 bytes when wide, else 4, read as two 32-bit
 * halves (the high one masked off when 4): no branch on the pointer
 * size, which changes from event to event in a trace with WOW64
 * processes, and no byte read outside the field. */
static inline uint64_t heap_ptr(const uint8_t *d, unsigned o, unsigned wide)
{
	return rd32(d + o) |
	       ((uint64_t)rd32(d + o + 4 * wide) << 32 & (0 - (uint64_t)wide));
}

int etl_heap_decode(const struct etl_event *ev, struct etl_heap *h)
{
	const uint8_t *d = ev->data;
	const struct heap_layout *l;
	unsigned wide = ev->psize == 8, t = ev->type - 32u;
	const uint8_t *o;

	/* kernel headers first: etl_is_heap_provider() inline */
	if (kernel_header(ev->htype)) {
		if (ev->group != ETL_GROUP_HEAP)
			return 0;
	} else if (!etl_is_heap_provider(ev)) {
		return 0;
	}
	if (t > 4)
		return 0;
	l = &heap_layouts[t];
	if (ev->len < l->need[wide])
		return -1;
	o = l->off[wide];
	h->op = ev->type;
	h->heap = heap_ptr(d, 0, wide);
	h->size = heap_ptr(d, o[0], wide) & l->mask[0];
	h->addr = heap_ptr(d, o[1], wide) & l->mask[1];
	h->old_addr = heap_ptr(d, o[2], wide) & l->mask[2];
	h->old_size = heap_ptr(d, o[3], wide) & l->mask[3];
	h->source = rd32(d + o[4]) & (uint32_t)l->mask[4];
	return 1;
}

int etl_stack_decode(const struct etl_event *ev, struct etl_stack *s)
{
	const uint8_t *d = ev->data;
	int P = ev->psize;

	if (!kernel_header(ev->htype) || ev->group != ETL_GROUP_STACKWALK)
		return 0;
	if (ev->type != 32 && ev->type != 37 && ev->type != 38)
		return 0;
	if (ev->len < 16u + (ev->type == 32 ? 0u : (uint32_t)P))
		return 0;
	memset(s, 0, sizeof(*s));
	s->type = ev->type;
	s->ts = rd64(d);
	s->pid = rd32(d + 8);
	s->tid = rd32(d + 12);
	if (ev->type == 32) {
		s->nframes = (ev->len - 16) / (uint32_t)P;
		s->frames = d + 16;
	} else {
		s->key = rdp(d + 16, P);
	}
	return 1;
}

/* Process Start/End/DCStart/DCEnd/Defunct (TE ProcessTraceData):
 * UniqueProcessKey P, ProcessId, ParentId, SessionId, ExitStatus,
 * DirectoryTableBase P, [v4: Flags], UserSID, ImageFileName (ANSI). */
int etl_process_decode(const struct etl_event *ev, uint32_t *pid,
		       char *name, size_t n)
{
	const uint8_t *d = ev->data;
	uint32_t P = ev->psize, at, L = ev->len, k;

	if (!kernel_header(ev->htype) || ev->group != ETL_GROUP_PROCESS)
		return 0;
	if (!((ev->type >= 1 && ev->type <= 4) || ev->type == 39))
		return 0;
	if (ev->version < 2 || L < P + 4)
		return 0;
	*pid = rd32(d + P);
	if (n)
		name[0] = 0;
	at = (ev->version >= 4 ? 28 : 24) + 2 * (P - 4);
	if (at + 4 > L)
		return 1;
	if (rd32(d + at)) {
		uint32_t tok = 2 * P;
		if (at + tok + 2 > L)
			return 1;
		at += tok + 8 + 4 * (uint32_t)d[at + tok + 1];
	} else {
		at += 4;
	}
	if (at >= L)
		return 1;
	for (k = 0; at + k < L && d[at + k] && k + 1 < n; k++)
		name[k] = (char)d[at + k];
	if (n)
		name[k] = 0;
	return 1;
}
