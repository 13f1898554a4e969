/*
 * csv.h - heaptape's CSV dialect (RFC 4180: comma, double quotes, CRLF
 * line ends, one header row) shared by the CSV writer (csv.c, csv_fmt.c)
 * and the CSV reader (csv_read.c, and the fuzz target).
 *
 * Event rows: time_ns,pid,tid,op,heap,address,size,old_address,old_size,
 * alignment,nmemb,result, and duration_ns for a trace whose calls were
 * timed (record --latency).  A cell is empty when its field does not apply
 * to the op (csv_fields()) and holds 0; a field that applies is always
 * written, and a nonzero value is never hidden, so nothing the row model
 * carries is lost.
 */
#ifndef HT_CSV_H
#define HT_CSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../format/heaptape.h"

/* Columns of an event row, in output order. */
enum csv_col {
	CSV_TIME, CSV_PID, CSV_TID, CSV_OP, CSV_HEAP, CSV_ADDR, CSV_SIZE,
	CSV_OLD_ADDR, CSV_OLD_SIZE, CSV_ALIGN, CSV_NMEMB, CSV_RESULT,
	CSV_DUR, /* optional: only traces of record --latency have it */
	CSV_NCOLS
};
extern const char *const csv_col_names[CSV_NCOLS];

/* Bit (1 << CSV_x) for every optional field that applies to op. */
unsigned csv_fields(int op);

/* The longest event row csv_format_event() writes, CRLF included. */
#define CSV_ROW_MAX 288

/* Number formatting into p; each returns the end of what it wrote.
 * csv_put_hex() may store up to 16 bytes past its end (whole words):
 * leave that much room after the last cell. */
char *csv_put_u64(char *p, uint64_t v);
char *csv_put_i64(char *p, int64_t v);
char *csv_put_hex(char *p, uint64_t v); /* "0x1f" */

/* The header row (with CRLF) of event rows; dur: with duration_ns (a
 * timed trace: cli_trace_timed()). */
const char *csv_event_header(int dur);

/* Builds the formatting tables; call once before csv_format_event(). */
void csv_fmt_init(void);

/* One event row, CRLF included, at most CSV_ROW_MAX bytes.  time is
 * ev->ts minus the trace's start, taken as signed; dur: the row ends
 * with duration_ns. */
char *csv_format_event(char *p, const struct ht_event *ev, uint64_t start,
		       int dur);
/* n rows, the same bytes as n calls of csv_format_event(), faster. */
char *csv_format_events(char *p, const struct ht_event *ev, size_t n,
			uint64_t start, int dur);
char *csv_format_eventp(char *p, const struct ht_event *const *ev,
			size_t n, uint64_t start, int dur);

/* The result cell: "ok", "failed" (errno unknown), an errno name such as
 * "ENOMEM", or a decimal number for an errno without a name. */
char *csv_put_result(char *p, const struct ht_event *ev);

/* Writes the header and every event of r that passes o's filters to f,
 * in global time order, using o->jobs threads (csv_pipe.c).  Returns 0,
 * or 1 after printing an error; *rows is the number of event rows. */
struct convert_opts;
int csv_write_events(const struct convert_opts *o, struct ht_reader *r,
		     FILE *f, const char *name, uint64_t *rows);

/* Every event of r in global time order, in batches, decoded ahead on
 * o->jobs - 1 threads; no filter applied (csv_pipe.c).  open and next
 * print their errors: open returns 0 or 1 (close it anyway), next 1 with
 * a batch valid until the next call, 0 at the end, -1 on error.  close
 * warns about damaged blocks skipped when ok. */
struct csv_src;
int csv_src_open(struct csv_src **s, const struct convert_opts *o,
		 struct ht_reader *r);
int csv_src_next(struct csv_src *s, const struct ht_event *const **ev,
		 size_t *n);
void csv_src_close(struct csv_src *s, int ok);

/*
 * Reader: RFC 4180 records from a file descriptor or memory, mapped back
 * to events by the header's column names (any order).
 */
struct csv_reader {
	/* input */
	int fd;                 /* -1 when reading memory */
	const char *mem;
	size_t mem_len, mem_pos;
	char *buf;              /* window of the input */
	size_t cap, start, end; /* unparsed bytes are buf[start..end) */
	int eof;
	uint64_t consumed;      /* input bytes parsed so far */
	/* the current record */
	char *rec;              /* fields, unquoted and NUL-terminated */
	size_t rec_cap;
	size_t *field;          /* offsets of the fields in rec */
	size_t nfield, field_cap;
	uint64_t line;          /* line of the record just read (1-based) */
	uint64_t next_line;     /* line where the next record starts */
	/* header */
	int col_of[CSV_NCOLS];  /* field index of each column */
	size_t ncols;           /* fields a row must have */
	/* last error */
	uint64_t err_line;
	char err[160];
};

/* 0, or -1 with errno set (out of memory). */
int csv_reader_init_fd(struct csv_reader *c, int fd);
int csv_reader_init_mem(struct csv_reader *c, const void *buf, size_t n);
void csv_reader_free(struct csv_reader *c);

/* Reads and checks the header row.  0, or -1 with err and err_line. */
int csv_reader_header(struct csv_reader *c);

/* Next event.  Returns 1 with *ev filled, 0 at the end of the input, -1
 * for a malformed row (err, err_line; reading may go on with the next
 * row), -2 when the input cannot be read further (I/O error, a quote
 * left open at the end). */
int csv_reader_next(struct csv_reader *c, struct ht_event *ev);

/* The errno named by s ("ENOMEM"), or -1. */
int csv_errno_from_name(const char *s);

#endif
