/*
 * csv_read.c - CSV -> htape: an RFC 4180 record reader (csv.h) and the
 * converter that turns heaptape's CSV columns back into events.
 *
 * Accepted: the header row naming the 12 event columns in any order, and
 * duration_ns when the trace was timed (record --latency)
 * (unknown or repeated names are errors: a column we cannot keep must not
 * vanish silently), an optional UTF-8 byte order mark, CRLF or LF line
 * ends, double-quoted fields with "" for a quote and line breaks inside,
 * empty lines (skipped).  Anything else is an error naming the line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert.h"
#include "csv.h"
#include "imap.h"

#define READ_CHUNK (1u << 20)
#define RECORD_MAX (1u << 20) /* longest row accepted, bytes */
#define FIELDS_MAX 64

static int fail(struct csv_reader *c, uint64_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct csv_reader *c, uint64_t line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	c->err_line = line;
	return -1;
}

static int init(struct csv_reader *c)
{
	c->cap = READ_CHUNK;
	c->buf = malloc(c->cap);
	c->rec_cap = 4096;
	c->rec = malloc(c->rec_cap);
	c->field_cap = FIELDS_MAX + 1;
	c->field = malloc(c->field_cap * sizeof(*c->field));
	c->next_line = 1;
	if (!c->buf || !c->rec || !c->field) {
		csv_reader_free(c);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int csv_reader_init_fd(struct csv_reader *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	return init(c);
}

int csv_reader_init_mem(struct csv_reader *c, const void *buf, size_t n)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->mem = buf;
	c->mem_len = n;
	return init(c);
}

void csv_reader_free(struct csv_reader *c)
{
	free(c->buf);
	free(c->rec);
	free(c->field);
	c->buf = c->rec = NULL;
	c->field = NULL;
}

/* More input after buf[end].  0, or -2 on a read error. */
static int refill(struct csv_reader *c)
{
	ssize_t k;

	if (c->start) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == c->cap) {
		char *nb;
		if (c->cap >= RECORD_MAX + READ_CHUNK)
			return fail(c, c->next_line, "row longer than %u bytes",
				    RECORD_MAX), -2;
		nb = realloc(c->buf, c->cap * 2);
		if (!nb)
			return fail(c, c->next_line, "out of memory"), -2;
		c->buf = nb;
		c->cap *= 2;
	}
	if (c->fd < 0) {
		size_t n = c->mem_len - c->mem_pos;
		if (n > c->cap - c->end)
			n = c->cap - c->end;
		memcpy(c->buf + c->end, c->mem + c->mem_pos, n);
		c->mem_pos += n;
		c->end += n;
		if (!n)
			c->eof = 1;
		return 0;
	}
	do
		k = read(c->fd, c->buf + c->end, c->cap - c->end);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return fail(c, c->next_line, "read error: %s",
			    strerror(errno)), -2;
	if (!k)
		c->eof = 1;
	c->end += (size_t)k;
	return 0;
}

static int rec_put(struct csv_reader *c, size_t *len, const char *s,
		   size_t n)
{
	if (*len + n + 1 > c->rec_cap) {
		size_t ncap = c->rec_cap;
		char *nr;
		while (*len + n + 1 > ncap)
			ncap *= 2;
		nr = realloc(c->rec, ncap);
		if (!nr)
			return -1;
		c->rec = nr;
		c->rec_cap = ncap;
	}
	memcpy(c->rec + *len, s, n);
	*len += n;
	return 0;
}

/*
 * Parses one record at buf[start..end).  Returns 1 (a record), 0 (the
 * input ended), 2 (need more input), -1 (malformed: the record is
 * skipped), -2 (cannot go on).
 */
static int parse_record(struct csv_reader *c)
{
	const char *b = c->buf, *p = b + c->start, *e = b + c->end;
	uint64_t line = c->next_line;
	size_t len = 0;
	const char *bad = NULL;

	c->nfield = 0;
	if (p == e)
		return c->eof ? 0 : 2;
	for (;;) {
		/* One field; p is at its first byte. */
		if (c->nfield == FIELDS_MAX)
			bad = "more than 64 fields";
		else
			c->field[c->nfield++] = len;
		if (p < e && *p == '"') {
			p++;
			for (;;) {
				const char *q = memchr(p, '"', (size_t)(e - p));
				const char *nl;
				if (!q) {
					if (!c->eof)
						return 2;
					return fail(c, c->next_line,
						    "unterminated quoted "
						    "field"), -2;
				}
				for (nl = p; (nl = memchr(nl, '\n',
						(size_t)(q - nl))); nl++)
					line++;
				if (rec_put(c, &len, p, (size_t)(q - p)))
					return fail(c, line, "out of memory"),
					       -2;
				if (q + 1 == e && !c->eof)
					return 2;
				if (q + 1 < e && q[1] == '"') {
					if (rec_put(c, &len, "\"", 1))
						return fail(c, line, "out of "
							    "memory"), -2;
					p = q + 2;
					continue;
				}
				p = q + 1;
				break;
			}
			if (p < e && *p != ',' && *p != '\r' && *p != '\n' &&
			    !bad)
				bad = "text after a closing quote";
			/* Skip to the field's end so that the row can be
			 * skipped as a whole. */
			while (p < e && *p != ',' && *p != '\r' && *p != '\n')
				p++;
		} else {
			const char *s = p;
			while (p < e && *p != ',' && *p != '\r' && *p != '\n') {
				if ((*p == '"' || !*p) && !bad)
					bad = *p ? "quote inside an unquoted "
						   "field"
						 : "NUL byte";
				p++;
			}
			if (rec_put(c, &len, s, (size_t)(p - s)))
				return fail(c, line, "out of memory"), -2;
		}
		if (rec_put(c, &len, "", 1)) /* the field's NUL */
			return fail(c, line, "out of memory"), -2;
		if (p == e) {
			if (!c->eof)
				return 2;
			break;
		}
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '\r') {
			if (p + 1 == e && !c->eof)
				return 2;
			if (p + 1 < e && p[1] == '\n') {
				p += 2;
				break;
			}
			if (!bad)
				bad = "carriage return without a line feed";
			p++;
			break;
		}
		p++; /* '\n' */
		break;
	}
	c->line = c->next_line;
	c->next_line = line + (p > b + c->start && p[-1] == '\n');
	c->consumed += (uint64_t)(p - (b + c->start));
	c->start = (size_t)(p - b);
	if (bad)
		return fail(c, c->line, "%s", bad);
	return 1;
}

/* Next record: 1, 0 at the end, -1 malformed, -2 fatal.  Empty lines are
 * skipped. */
static int next_record(struct csv_reader *c)
{
	for (;;) {
		int k = parse_record(c);
		if (k == 2) {
			if (c->end - c->start >= RECORD_MAX)
				return fail(c, c->next_line, "row longer than "
					    "%u bytes", RECORD_MAX), -2;
			if (refill(c))
				return -2;
			continue;
		}
		if (k == 1 && c->nfield == 1 && !c->rec[0])
			continue;
		return k;
	}
}

int csv_reader_header(struct csv_reader *c)
{
	int k;

	if (!c->end && !c->eof && refill(c))
		return -1;
	/* A UTF-8 byte order mark, as spreadsheets write it. */
	while (c->end < 3 && !c->eof)
		if (refill(c))
			return -1;
	if (c->end >= 3 && !memcmp(c->buf, "\xef\xbb\xbf", 3)) {
		c->start = 3;
		c->consumed = 3;
	}
	k = next_record(c);
	if (k == 0)
		return fail(c, c->next_line, "no header row");
	if (k < 0)
		return -1;
	for (int i = 0; i < CSV_NCOLS; i++)
		c->col_of[i] = -1;
	for (size_t f = 0; f < c->nfield; f++) {
		const char *name = c->rec + c->field[f];
		int i;
		for (i = 0; i < CSV_NCOLS; i++)
			if (!strcmp(name, csv_col_names[i]))
				break;
		if (i == CSV_NCOLS)
			return fail(c, c->line, "unknown column '%.40s' (the "
				    "header must name the columns of "
				    "`heaptape convert TRACE OUT.csv`)", name);
		if (c->col_of[i] >= 0)
			return fail(c, c->line, "column '%s' appears twice",
				    name);
		c->col_of[i] = (int)f;
	}
	for (int i = 0; i < CSV_NCOLS; i++)
		if (c->col_of[i] < 0 && i != CSV_DUR)
			return fail(c, c->line, "missing column '%s'",
				    csv_col_names[i]);
	c->ncols = c->nfield;
	return 0;
}

static int dec(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (d > 9 || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* "0x1f" (hex) or decimal. */
static int num(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return dec(s, UINT64_MAX, out);
	s += 2;
	if (!*s || strlen(s) > 16)
		return -1;
	for (; *s; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (*s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

static int sdec(const char *s, int64_t min, int64_t max, int64_t *out)
{
	uint64_t v;

	if (*s == '-') {
		if (dec(s + 1, (uint64_t)0 - (uint64_t)min, &v))
			return -1;
		*out = (int64_t)((uint64_t)0 - v);
		return 0;
	}
	if (dec(s, (uint64_t)max, &v))
		return -1;
	*out = (int64_t)v;
	return 0;
}

int csv_reader_next(struct csv_reader *c, struct ht_event *ev)
{
	const char *cell[CSV_NCOLS];
	uint64_t v;
	int64_t sv;
	int k = next_record(c), op;

	if (k <= 0)
		return k;
	if (c->nfield != c->ncols)
		return fail(c, c->line, "%zu fields where the header has %zu",
			    c->nfield, c->ncols);
	for (int i = 0; i < CSV_NCOLS; i++)
		cell[i] = c->col_of[i] < 0 ? "" :
			  c->rec + c->field[c->col_of[i]];
	memset(ev, 0, sizeof(*ev));
	for (int i = 0; i < CSV_NCOLS; i++) {
		const char *s = cell[i];
		if (!*s && i != CSV_TIME && i != CSV_PID && i != CSV_TID &&
		    i != CSV_OP && i != CSV_RESULT)
			continue;
		switch (i) {
		case CSV_TIME:
			if (sdec(s, INT64_MIN, INT64_MAX, &sv))
				goto bad;
			ev->ts = (uint64_t)sv;
			break;
		case CSV_PID:
		case CSV_TID:
			if (dec(s, UINT32_MAX, &v))
				goto bad;
			*(i == CSV_PID ? &ev->pid : &ev->tid) = (uint32_t)v;
			break;
		case CSV_OP:
			op = *s ? ht_op_from_name(s) : -1;
			if (op <= 0 || op > 255 ||
			    (*s >= '0' && *s <= '9' && dec(s, 255, &v)))
				return fail(c, c->line, "unknown op '%.40s'",
					    s);
			ev->op = (uint8_t)op;
			break;
		case CSV_HEAP:
		case CSV_ADDR:
		case CSV_OLD_ADDR:
		case CSV_SIZE:
		case CSV_OLD_SIZE:
		case CSV_ALIGN:
		case CSV_NMEMB:
		case CSV_DUR:
			if (num(s, &v))
				goto bad;
			*(i == CSV_HEAP ? &ev->heap :
			  i == CSV_ADDR ? &ev->addr :
			  i == CSV_OLD_ADDR ? &ev->old_addr :
			  i == CSV_SIZE ? &ev->size :
			  i == CSV_OLD_SIZE ? &ev->old_size :
			  i == CSV_ALIGN ? &ev->align :
			  i == CSV_DUR ? &ev->dur : &ev->nmemb) = v;
			break;
		case CSV_RESULT:
			if (!strcmp(s, "ok"))
				break;
			ev->flags |= HT_EV_FAILED;
			if (!strcmp(s, "failed"))
				break;
			if ((k = csv_errno_from_name(s)) > 0) {
				ev->result = k;
				break;
			}
			if (sdec(s, INT32_MIN, INT32_MAX, &sv))
				return fail(c, c->line, "bad result '%.40s' "
					    "(ok, failed, an errno name or "
					    "number)", s);
			ev->result = (int32_t)sv;
			if (!sv)
				ev->flags = 0;
			break;
		}
		continue;
bad:
		if (!*s)
			return fail(c, c->line, "empty %s", csv_col_names[i]);
		return fail(c, c->line, "bad number '%.40s' in column %s", s,
			    csv_col_names[i]);
	}
	return 1;
}

int csv_probe(const unsigned char *buf, size_t n)
{
	struct csv_reader c;
	const unsigned char *nl;
	int ok = 0;

	/* An empty file is no format at all (an htape whose writer died
	 * before the header, say): leave it unknown. */
	if (!n)
		return 0;
	/* A first row naming time_ns is enough: the header check proper
	 * reports what else is wrong with it. */
	if ((nl = memchr(buf, '\n', n)))
		n = (size_t)(nl - buf) + 1;
	if (csv_reader_init_mem(&c, buf, n))
		return 0;
	if (!refill(&c) && c.end >= 3 && !memcmp(c.buf, "\xef\xbb\xbf", 3))
		c.start = 3;
	if (next_record(&c) == 1)
		for (size_t f = 0; f < c.nfield && !ok; f++)
			ok = !strcmp(c.rec + c.field[f], "time_ns");
	csv_reader_free(&c);
	return ok;
}

/* Times in the CSV count from the trace start, and may be negative (an
 * event before it): the trace's ticks are time_ns + CSV_ORIGIN, and its
 * origin CSV_ORIGIN (convert.h), so that every time from -2^62 to 2^62
 * ns (146 years) keeps its order and converts back exactly.  A CSV with
 * duration_ns came from a trace whose calls were timed: so is this one. */
static int write_origin(struct ht_writer *w, int dur)
{
	static const struct ht_kv kv[] = {
		{"clock.origin_ticks", "4611686018427387904"},
		{"recorder.latency", "1"},
	};

	return ht_writer_meta(w, kv, dur ? 2 : 1);
}

/*
 * Rows out of time order.  A thread's events are stored in time order
 * (a free must not come before its malloc), so rows pass through a
 * window of the last REORDER rows, a heap by (time, row number): rows a
 * little out of order (a spreadsheet's sort, a tool's per-thread
 * buffers) come out sorted, and equal times keep their order.  A row
 * older than what its thread already wrote is refused: sorting that
 * would need every row in memory.  Rows of different threads may come
 * in any order.
 */
#define REORDER 65536

struct held {
	struct ht_event ev;
	uint64_t seq;        /* row number: equal times keep their order */
};

struct reorder {
	struct held *h;      /* REORDER slots: a ring while the rows came in
				order (the common case: O(1) a row), a binary
				heap from the first row out of order on */
	size_t n, head;      /* rows held; the ring's oldest */
	int heap;
	uint64_t seq;
	struct imap map;     /* (pid << 32 | tid) -> index into last */
	uint64_t *last;      /* each thread's latest time written */
	size_t cap;
};

static int held_less(const struct held *a, const struct held *b)
{
	return (int64_t)a->ev.ts < (int64_t)b->ev.ts ||
	       (a->ev.ts == b->ev.ts && a->seq < b->seq);
}

/* The slot of ev's thread's latest written time; NULL: out of memory. */
static uint64_t *thread_last(struct reorder *r, const struct ht_event *ev)
{
	int found;
	long j = imap_slot(&r->map, (uint64_t)ev->pid << 32 | ev->tid,
			   &found);

	if (j < 0)
		return NULL;
	if (!found) {
		if (cli_grow(&r->last, &r->cap, r->map.n, sizeof(*r->last), 64))
			return NULL;
		r->last[r->map.n] = (uint64_t)INT64_MIN;
		r->map.vals[j] = (uint32_t)r->map.n++;
	}
	return &r->last[r->map.vals[j]];
}

static void reverse(struct held *h, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		struct held t = h[i];

		h[i] = h[n - 1 - i];
		h[n - 1 - i] = t;
	}
}

/* The ring becomes a heap: rotated to start at 0 it is sorted, and a
 * sorted array is a heap. */
static void to_heap(struct reorder *r)
{
	size_t k = r->head;

	if (k && r->n) {
		/* rotate left by head, in place (the ring is full or
		 * starts at 0 when it wraps) */
		size_t len = r->head + r->n > REORDER ? REORDER : r->head +
							      r->n;
		reverse(r->h, k);
		reverse(r->h + k, len - k);
		reverse(r->h, len);
	}
	r->head = 0;
	r->heap = 1;
}

/* Takes the oldest row out of the window into *ev. */
static int reorder_pop(struct reorder *r, struct ht_event *ev)
{
	uint64_t *l;
	size_t i = 0;

	if (!r->heap) {
		*ev = r->h[r->head].ev;
		r->head = (r->head + 1) % REORDER;
		r->n--;
		goto done;
	}
	*ev = r->h[0].ev;
	r->h[0] = r->h[--r->n];
	for (;;) {
		size_t c = 2 * i + 1, m = i;
		struct held t;

		if (c < r->n && held_less(&r->h[c], &r->h[m]))
			m = c;
		if (c + 1 < r->n && held_less(&r->h[c + 1], &r->h[m]))
			m = c + 1;
		if (m == i)
			break;
		t = r->h[i];
		r->h[i] = r->h[m];
		r->h[m] = t;
		i = m;
	}
done:
	if (!(l = thread_last(r, ev)))
		return -1;
	*l = ev->ts;
	return 0;
}

/* Puts ev in the window: 0, 1 if it is older than what its thread
 * already wrote, -1 out of memory. */
static int reorder_push(struct reorder *r, const struct ht_event *ev)
{
	uint64_t *l = thread_last(r, ev);
	size_t i;

	if (!l)
		return -1;
	if ((int64_t)ev->ts < (int64_t)*l)
		return 1;
	if (!r->h && !(r->h = malloc(REORDER * sizeof(*r->h))))
		return -1;
	if (!r->heap) {
		struct held *tail = r->n ? &r->h[(r->head + r->n - 1) %
						 REORDER] : NULL;

		if (!tail || (int64_t)ev->ts >= (int64_t)tail->ev.ts) {
			r->h[(r->head + r->n++) % REORDER] =
				(struct held){*ev, r->seq++};
			return 0;
		}
		to_heap(r);
	}
	i = r->n++;
	r->h[i] = (struct held){*ev, r->seq++};
	while (i && held_less(&r->h[i], &r->h[(i - 1) / 2])) {
		struct held t = r->h[i];

		r->h[i] = r->h[(i - 1) / 2];
		r->h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
	return 0;
}

/* Writes the oldest rows while more than keep are held. */
static int reorder_drain(struct reorder *r, struct ht_writer *w, size_t keep)
{
	struct ht_event ev;
	int err;

	while (r->n > keep) {
		if (reorder_pop(r, &ev))
			return HT_ENOMEM;
		if ((err = ht_writer_put(w, &ev)))
			return err;
	}
	return 0;
}

static void reorder_free(struct reorder *r)
{
	free(r->h);
	imap_free(&r->map);
	free(r->last);
}

int convert_csv_to_htape(const struct convert_opts *o)
{
	struct reorder ro = { 0 };
	struct ht_writer_opts wo;
	struct ht_writer *w = NULL;
	struct csv_reader c;
	struct cli_progress prog;
	struct cli_out co;
	struct ht_event ev;
	struct stat st;
	uint64_t n = 0, skipped = 0, first_bad = 0;
	const char *name = strcmp(o->in, "-") ? o->in : "standard input";
	int fd, k, rc = 1, err;

	fd = strcmp(o->in, "-") ? open(o->in, O_RDONLY | O_CLOEXEC) : 0;
	if (fd < 0)
		return cli_error("cannot open '%s': %s", o->in,
				 strerror(errno));
	if (csv_reader_init_fd(&c, fd)) {
		if (fd)
			close(fd);
		return cli_error("out of memory");
	}
	if (csv_reader_header(&c)) {
		cli_error("'%s':%llu: %s", name,
			  (unsigned long long)c.err_line, c.err);
		goto out_in;
	}
	if (cli_out_open(&co, o->out))
		goto out_in;
	memset(&wo, 0, sizeof(wo));
	wo.level = o->level;
	wo.block_events = o->block_events;
	err = ht_writer_open(&w, co.fd, &wo);
	if (!err)
		err = write_origin(w, c.col_of[CSV_DUR] >= 0);
	if (err) {
		cli_error("cannot write '%s': %s", o->out, ht_strerror(err));
		goto out_abort;
	}
	cli_progress_start(&prog, "convert",
			   !fstat(fd, &st) && S_ISREG(st.st_mode) ?
			   (uint64_t)st.st_size : 0);
	if (!o->progress)
		prog.active = 0;
	while ((k = csv_reader_next(&c, &ev)) != 0) {
		if (k == 1 && ((int64_t)ev.ts < -(int64_t)CSV_ORIGIN ||
				(int64_t)ev.ts >= (int64_t)CSV_ORIGIN)) {
			snprintf(c.err, sizeof(c.err), "time_ns %lld out of "
				 "range (-2^62 to 2^62 - 1)",
				 (long long)(int64_t)ev.ts);
			c.err_line = c.line;
			k = -1;
		}
		if (k < 0) {
			if (k == -1 && o->salvage) {
				if (!skipped++)
					first_bad = c.err_line;
				continue;
			}
			cli_progress_end(&prog);
			cli_error("'%s':%llu: %s", name,
				  (unsigned long long)c.err_line, c.err);
			goto out_abort;
		}
		ev.ts += CSV_ORIGIN;
		if (!convert_keep(o, &ev, CSV_ORIGIN))
			continue;
		if ((err = reorder_push(&ro, &ev)) > 0) {
			/* not a malformed row: --salvage does not skip it */
			cli_progress_end(&prog);
			cli_error("'%s':%llu: time goes back for tid %u by more "
				  "than %d rows (sort the rows by time_ns)",
				  name, (unsigned long long)c.line, ev.tid,
				  REORDER);
			goto out_abort;
		}
		if (err || (err = reorder_drain(&ro, w, REORDER - 1))) {
			err = err < 0 ? HT_ENOMEM : err;
			cli_progress_end(&prog);
			cli_error("cannot write '%s': %s", o->out,
				  ht_strerror(err));
			goto out_abort;
		}
		if (!(++n & 0xffff))
			cli_progress_update(&prog, c.consumed);
		if (o->limit && n == o->limit)
			break;
	}
	cli_progress_end(&prog);
	if ((err = reorder_drain(&ro, w, 0))) {
		cli_error("cannot write '%s': %s", o->out, ht_strerror(err));
		goto out_abort;
	}
	err = ht_writer_close(w);
	w = NULL;
	if (err) {
		cli_error("cannot write '%s': %s", o->out, ht_strerror(err));
		goto out_abort;
	}
	if (cli_out_commit(&co))
		goto out_in;
	if (skipped)
		cli_warn("'%s': %llu malformed row%s skipped (first at line "
			 "%llu)", name, (unsigned long long)skipped,
			 skipped == 1 ? "" : "s",
			 (unsigned long long)first_bad);
	rc = 0;
	goto out_in;
out_abort:
	ht_writer_abandon(w);
	cli_out_abort(&co);
out_in:
	reorder_free(&ro);
	csv_reader_free(&c);
	if (fd)
		close(fd);
	return rc;
}
