/*
 * import.h - the text importers (Android record_allocs in android.c, glibc
 * mtrace in mtrace.c, heaptrack in heaptrack.c) and the driver they share
 * (import.c): input through textin, events to an htape writer through
 * cli_out.
 *
 * The parsers are plain functions over a struct textin and a callback, so
 * that the fuzz targets run them on memory without any file or writer.
 *
 * (The other importers have drivers of their own: etl.c for Windows
 * .etl, csv.c, and lttng.c for LTTng-UST libc-wrapper traces, read by
 * libbabeltrace2 in a child process, lttng.h.)
 *
 * Metadata written with every import (one PROCESS block, at the end):
 *   trace.source              android | mtrace | heaptrack
 *   trace.source_file         the input as named on the command line
 *   trace.source_compression  none | zstd | gzip | zip
 *   trace.source_member       the zip member read (zip only)
 *   trace.has_time, trace.has_tid   0 or 1 (also HT_TRACE_NO_TIME/NO_TID)
 *   clock.source              "ordinal (line number)", recorded ns, or
 *                             the format's own words (heaptrack: ms ticks)
 *   process.pointer_bits      32 or 64, from the largest address seen
 *   recorder.name, trace.notes
 *   import.lines, import.events, import.events_by_op, import.threads,
 *   import.bad_lines          (--salvage), import.input_cut (--salvage
 *                             on a cut compressed input)
 *   and what the parser found besides events (import_meta()): heaptrack
 *   gives process.cmdline, process.exe (raw files), host.page_size,
 *   recorder.version, recorder.warning (attached), import.heaptrack_*.
 *   RSS samples a parser hands to import_rss() are written as RSS blocks.
 */
#ifndef HT_IMPORT_H
#define HT_IMPORT_H

#include <stdint.h>

#include "convert.h"
#include "textin.h"

struct import_stats {
	uint64_t lines;          /* lines read, blank ones included */
	uint64_t events;         /* events handed to put */
	uint64_t bad;            /* malformed lines skipped (salvage) */
	uint64_t ops[256];       /* events per op */
	uint64_t failed;         /* events with HT_EV_FAILED */
	uint64_t max_addr;       /* largest address seen: pointer width */
	uint64_t markers;        /* mtrace "= Start" / "= End" lines */
	uint64_t err_line;       /* the first malformed line, 0 if none */
	char why[160];           /* what was wrong with it */
	int timed;               /* android: lines carry start/end ns */
	/* Set by the driver, NULL in the fuzz targets: where a parser puts
	 * what its format carries besides events (import_rss(),
	 * import_meta()).  They return 0 or a negative HT_E* code. */
	int (*rss)(void *sink, const struct ht_rss_sample *s);
	int (*meta)(void *sink, const char *key, const char *value,
		    size_t len);
	void *sink;
};

/* Receives each event in file order; a negative return (HT_E*) stops
 * the import and is returned. */
typedef int (*import_put_fn)(void *ctx, const struct ht_event *ev);

/* Hands ev to fn and counts it in st (events, ops, failed, the largest
 * address).  Returns fn's result. */
int import_emit(struct import_stats *st, import_put_fn fn, void *ctx,
		const struct ht_event *ev);

/* Hand an RSS sample or a metadata value (len bytes, not terminated) to
 * the driver through st; 0 when st has no sink for it. */
int import_rss(struct import_stats *st, const struct ht_rss_sample *s);
int import_meta(struct import_stats *st, const char *key, const char *value,
		size_t len);

/* Parse every line of in.  Without salvage the first malformed line stops
 * with 1 (st->err_line, st->why); with salvage it is counted in st->bad
 * and skipped.  Returns 0 when done, 1 malformed, -1 on a read error
 * (textin_error()), or put's negative code. */
int android_import(struct textin *in, int salvage, import_put_fn put,
		   void *ctx, struct import_stats *st);
int mtrace_import(struct textin *in, int salvage, import_put_fn put,
		  void *ctx, struct import_stats *st);
int heaptrack_import(struct textin *in, int salvage, import_put_fn put,
		     void *ctx, struct import_stats *st);

/* What the driver needs to know about a format. */
struct import_format {
	const char *source;     /* trace.source: "android", "mtrace", ... */
	const char *recorder;   /* recorder.name */
	const char *notes;      /* trace.notes */
	const char *clock;      /* clock.source of a timed import, or NULL */
	uint32_t flags;         /* HT_TRACE_* (NO_TIME added when untimed) */
	int (*import)(struct textin *, int, import_put_fn, void *,
		      struct import_stats *);
};

/* `heaptape convert IN OUT.htape` for a text format.  Returns 0 or 1. */
int import_convert(const struct convert_opts *o,
		   const struct import_format *f);

/* Number scanners shared by the parsers: each returns the end of the
 * number, or NULL if there is none or it overflows 64 bits. */
const char *import_hex(const char *p, const char *e, uint64_t *v);
const char *import_dec(const char *p, const char *e, uint64_t *v);

#endif
