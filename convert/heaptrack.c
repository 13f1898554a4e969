/*
 * heaptrack.c - import heaptrack data files (KDE heaptrack 1.0 and later,
 * file format versions 1 to 3): the file `heaptrack PROG` leaves
 * (heaptrack.PROG.PID.zst, .gz from older versions), which
 * heaptrack_interpret wrote, and the raw stream of `heaptrack --raw`
 * (heaptrack.PROG.PID.raw.zst).  Both are text: a line kind, a space,
 * then fields, numbers in lower-case hex without 0x, strings (format 3)
 * as HEXLEN STRING.  The lines kept:
 *
 *   v VERSION FILE_VERSION   heaptrack 0x010400 = 1.4.0; 1.2 wrote no
 *                            FILE_VERSION (format 1)
 *   X ARGS                   the command line, arguments separated by spaces
 *   x LEN PATH               raw: the executable
 *   I PAGE_SIZE PAGES        page size and physical pages of the host
 *   c MS                     ms since heaptrack started: a 10 ms timer
 *                            writes one, and the end of the run another
 *   R PAGES                  the RSS, after each c line
 *   A                        heaptrack attached to a running process
 *   a SIZE TRACE             interpreted: allocation info 0, 1, 2, ...
 *   + INFO                   interpreted: an allocation of that info
 *   - INFO                   interpreted: a free of a block of that info
 *   + SIZE TRACE PTR         raw: an allocation
 *   - PTR                    raw: a free
 *
 * s (strings), i (code addresses: their width gives the pointer width of
 * an interpreted file), t (backtrace nodes), m (modules), S (leak
 * suppressions) and # (comments) are checked as far as needed and not
 * kept: the trace has no stacks.
 *
 * What heaptrack does not record, so the trace cannot have: thread ids
 * (every event is tid 1, HT_TRACE_NO_TID); which function allocated
 * (calloc, memalign, aligned_alloc, valloc, realloc(NULL, n) are all
 * malloc; realloc(p, n) is written "- p" then "+ new": a free, then a
 * malloc); failed calls; realloc(p, 0), which writes nothing (p stays
 * live); memalign in heaptrack 1.4 (raw: its free is an unknown free);
 * and time finer than the timer: an event gets the time of the last c
 * line before it (0 before the first).
 *
 * An interpreted file has no addresses: heaptrack_interpret replaced
 * each by its allocation info.  The n-th allocation gets the made-up
 * address 0x100000 + 16 n (never reused), and "- INFO" frees the most
 * recently allocated live block of that info.  All blocks of an info
 * have its size, so the live bytes after every event, the peak and what
 * replay asks of an allocator are what heaptrack saw; which of several
 * equal blocks went (their lifetimes) is a guess.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "import.h"

#define HEAPTRACK_TID 1
#define SYN_BASE 0x100000u
#define MAX_FILE_VERSION 3
#define NONE UINT32_MAX

enum form { FORM_UNKNOWN, FORM_INTERPRETED, FORM_RAW };

/* A live block of an interpreted file, on its info's stack. */
struct node {
	uint64_t addr;
	uint32_t next;  /* the block below it, or NONE */
};

struct hk {
	struct import_stats *st;
	import_put_fn put;
	void *ctx;
	enum form form;
	int sized;              /* format 3: strings are HEXLEN STRING */
	int have_cmdline;
	uint64_t page_size;     /* from the I line; 0 before it */
	uint64_t now;           /* ns of the last c line */
	uint64_t serial;        /* allocations of an interpreted file */
	uint64_t *isize;        /* per allocation info: its size, */
	uint32_t *itop;         /* and its last live block (or NONE) */
	size_t ninfo, capinfo;
	struct node *node;      /* live blocks; free ones chained by next */
	uint32_t nnode, capnode, freenode;
	char why[160];          /* what was wrong with the last bad line */
	uint64_t lineno;
	/* The command line, which goes on over more lines when an
	 * argument has a newline: heaptrack writes it as it is. */
	char *cmd;
	size_t ncmd, capcmd;
	int in_cmd;             /* the lines now may still be part of it */
	uint64_t cmd_line, cmd_more; /* where it began; lines added */
};

/* One field: lower-case hex (what heaptrack writes and reads), ending at
 * a space or the end of the line. */
static const char *hexf(const char *p, const char *e, uint64_t *v)
{
	const char *s = p;
	uint64_t x = 0;

	for (; p < e && *p != ' '; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else
			return NULL;
		if (x >> 60)
			return NULL;
		x = x << 4 | d;
	}
	if (p == s)
		return NULL;
	*v = x;
	return p;
}

/* The fields of p..e, one space apart, into v[0..max).  Returns how
 * many, or -1 if one is not hex or there are more than max (max 0: any
 * number, none kept, v[0] gets the largest). */
static int fields(const char *p, const char *e, uint64_t *v, int max)
{
	uint64_t x;
	int n = 0;

	if (!max)
		v[0] = 0;
	while (p < e) {
		if (max && n == max)
			return -1;
		if (!(p = hexf(p, e, &x)))
			return -1;
		if (max)
			v[n] = x;
		else if (x > v[0])
			v[0] = x;
		n++;
		if (p < e && ++p == e)
			return -1; /* a space at the end */
	}
	return n;
}

/* A string field: "HEXLEN STRING" filling the rest of the line in
 * format 3, else the rest of the line. */
static int string(const struct hk *h, const char *p, const char *e,
		  const char **s, size_t *len)
{
	uint64_t n;

	if (!h->sized) {
		*s = p;
		*len = (size_t)(e - p);
		return 0;
	}
	if (!(p = hexf(p, e, &n)) || p == e || n != (uint64_t)(e - p - 1))
		return -1;
	*s = p + 1;
	*len = (size_t)n;
	return 0;
}

/* A malformed line: 1, with the reason in h->why. */
static int bad(struct hk *h, const char *why)
{
	snprintf(h->why, sizeof(h->why), "%s", why);
	return 1;
}

static int badv(struct hk *h, const char *fmt, unsigned long long v)
{
	snprintf(h->why, sizeof(h->why), fmt, v);
	return 1;
}

static int emit(struct hk *h, uint8_t op, uint64_t addr, uint64_t size)
{
	struct ht_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.op = op;
	ev.addr = addr;
	ev.size = size;
	ev.tid = HEAPTRACK_TID;
	ev.ts = h->now;
	return import_emit(h->st, h->put, h->ctx, &ev);
}

static int add_info(struct hk *h, uint64_t size)
{
	if (h->ninfo == h->capinfo) {
		size_t ncap = h->capinfo ? h->capinfo * 2 : 1024;
		uint64_t *s = realloc(h->isize, ncap * sizeof(*s));
		uint32_t *t;

		if (!s)
			return HT_ENOMEM;
		h->isize = s;
		if (!(t = realloc(h->itop, ncap * sizeof(*t))))
			return HT_ENOMEM;
		h->itop = t;
		h->capinfo = ncap;
	}
	h->isize[h->ninfo] = size;
	h->itop[h->ninfo++] = NONE;
	return 0;
}

/* Pushes a new block of info i and returns its address in *addr. */
static int push_block(struct hk *h, size_t i, uint64_t *addr)
{
	uint32_t k = h->freenode;

	if (k != NONE) {
		h->freenode = h->node[k].next;
	} else {
		if (h->nnode == h->capnode) {
			uint32_t ncap = h->capnode ? h->capnode * 2 : 1024;
			struct node *n;

			if (h->capnode >= NONE / 2)
				return HT_ENOMEM;
			if (!(n = realloc(h->node, ncap * sizeof(*n))))
				return HT_ENOMEM;
			h->node = n;
			h->capnode = ncap;
		}
		k = h->nnode++;
	}
	*addr = SYN_BASE + 16 * h->serial++;
	h->node[k] = (struct node){*addr, h->itop[i]};
	h->itop[i] = k;
	return 0;
}

static uint64_t pop_block(struct hk *h, size_t i)
{
	uint32_t k = h->itop[i];

	h->itop[i] = h->node[k].next;
	h->node[k].next = h->freenode;
	h->freenode = k;
	return h->node[k].addr;
}

/* Sets the file's form at its first line that tells; 1 if it had the
 * other one. */
static int form(struct hk *h, enum form f)
{
	if (h->form != FORM_UNKNOWN && h->form != f)
		return bad(h, h->form == FORM_RAW ?
			   "interpreted line ('a', '+ INFO') in a raw file" :
			   "raw line ('+ SIZE TRACE PTR') in an interpreted "
			   "file");
	h->form = f;
	return 0;
}

static int version(struct hk *h, const char *p, const char *e)
{
	uint64_t v[2];
	char buf[32];
	int k = fields(p, e, v, 2);

	if (k < 1)
		return bad(h, "expected 'v VERSION FILE_VERSION'");
	if (k == 1)
		v[1] = v[0] == 0x010200; /* 1.2.0 was format 1 */
	if (v[1] > MAX_FILE_VERSION || !v[1])
		return badv(h, "heaptrack file format %llu (this reads 1 "
			   "to 3)", v[1]);
	h->sized = v[1] >= 3;
	snprintf(buf, sizeof(buf), "%u.%u.%u", (unsigned)(v[0] >> 16 & 0xffff),
		 (unsigned)(v[0] >> 8 & 0xff), (unsigned)(v[0] & 0xff));
	if (import_meta(h->st, "recorder.version", buf, strlen(buf)))
		return HT_ENOMEM;
	snprintf(buf, sizeof(buf), "%u", (unsigned)v[1]);
	return import_meta(h->st, "import.heaptrack_file_version", buf,
			   strlen(buf));
}

static int alloc(struct hk *h, const char *p, const char *e)
{
	uint64_t v[3], addr;
	int k = fields(p, e, v, 3), err;

	if (k == 1) {
		if (form(h, FORM_INTERPRETED))
			return 1;
		if (v[0] >= h->ninfo)
			return badv(h, "allocation info 0x%llx not defined by "
				   "an 'a' line", v[0]);
		if (h->serial >= (UINT64_MAX - SYN_BASE) / 16)
			return badv(h, "more than %llu allocations",
				   (UINT64_MAX - SYN_BASE) / 16);
		if ((err = push_block(h, (size_t)v[0], &addr)))
			return err;
		return emit(h, HT_OP_MALLOC, addr, h->isize[v[0]]);
	}
	if (k != 3)
		return bad(h, "expected '+ INFO' (interpreted) or '+ SIZE "
			   "TRACE PTR' (raw)");
	if (form(h, FORM_RAW))
		return 1;
	if (!v[2])
		return bad(h, "allocation at address 0");
	return emit(h, HT_OP_MALLOC, v[2], v[0]);
}

static int release(struct hk *h, const char *p, const char *e)
{
	uint64_t v[1];

	if (fields(p, e, v, 1) != 1)
		return bad(h, "expected '- INFO' (interpreted) or '- PTR' "
			   "(raw)");
	if (h->form == FORM_INTERPRETED) {
		if (v[0] >= h->ninfo)
			return badv(h, "free of allocation info 0x%llx, which "
				   "no 'a' line defined", v[0]);
		if (h->itop[v[0]] == NONE)
			return badv(h, "free of allocation info 0x%llx, which "
				   "has no live block", v[0]);
		return emit(h, HT_OP_FREE, pop_block(h, (size_t)v[0]), 0);
	}
	/* A free before any allocation: only a raw file has one (heaptrack
	 * did not see the block allocated); interpreted '-' lines follow
	 * their 'a' and '+'. */
	h->form = FORM_RAW;
	if (!v[0])
		return bad(h, "free of address 0");
	return emit(h, HT_OP_FREE, v[0], 0);
}

static int tick(struct hk *h, const char *p, const char *e)
{
	uint64_t ms;

	if (fields(p, e, &ms, 1) != 1)
		return bad(h, "expected 'c MS'");
	if (ms > UINT64_MAX / 1000000)
		return badv(h, "time 0x%llx ms out of range", ms);
	/* heaptrack's clock is steady; a step back can only be damage,
	 * and the events keep their file order either way */
	if (ms * 1000000 > h->now)
		h->now = ms * 1000000;
	return 0;
}

static int rss(struct hk *h, const char *p, const char *e)
{
	struct ht_rss_sample s;
	uint64_t pages;

	if (fields(p, e, &pages, 1) != 1)
		return bad(h, "expected 'R PAGES'");
	if (!h->page_size)
		return bad(h, "'R' line before the 'I' line that gives the "
			   "page size");
	if (pages > UINT64_MAX / h->page_size)
		return badv(h, "RSS of 0x%llx pages out of range", pages);
	s.ts = h->now;
	s.pid = 0;
	s.rss_bytes = pages * h->page_size;
	return import_rss(h->st, &s);
}

static int sysinfo(struct hk *h, const char *p, const char *e)
{
	uint64_t v[2];
	char buf[24];

	if (fields(p, e, v, 2) != 2 || !v[0])
		return bad(h, "expected 'I PAGE_SIZE PAGES'");
	h->page_size = v[0];
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v[0]);
	return import_meta(h->st, "host.page_size", buf, strlen(buf));
}

static int cmd_add(struct hk *h, const char *s, size_t n, int nl)
{
	if (h->ncmd + n + 1 > h->capcmd) {
		size_t ncap = (h->ncmd + n + 1) * 2;
		char *c = realloc(h->cmd, ncap);

		if (!c)
			return HT_ENOMEM;
		h->cmd = c;
		h->capcmd = ncap;
	}
	if (nl)
		h->cmd[h->ncmd++] = '\n';
	memcpy(h->cmd + h->ncmd, s, n);
	h->ncmd += n;
	return 0;
}

/* Whether a line after the X line ends the command line: a well formed
 * line of a kind heaptrack writes after it (the I line, in practice). */
static int ends_cmd(const struct hk *h, const char *s, size_t n)
{
	const char *p = s + 2, *e = s + n, *str;
	uint64_t v[3];
	size_t len;
	int k;

	if (n < 3 || s[1] != ' ')
		return 0;
	switch (*s) {
	case 'I':
	case 'a':
	case 't':
		return fields(p, e, v, 2) == 2;
	case 'c':
	case 'R':
	case '-':
		return fields(p, e, v, 1) == 1;
	case '+':
		k = fields(p, e, v, 3);
		return k == 1 || k == 3;
	case 'i':
		return fields(p, e, v, 0) >= 2;
	case 's':
	case 'x':
		return h->sized && !string(h, p, e, &str, &len);
	default:
		return 0;
	}
}

static int cmd_end(struct hk *h)
{
	h->in_cmd = 0;
	return import_meta(h->st, "process.cmdline", h->cmd, h->ncmd);
}

/* The loop's view of a line: 1 if it went to the command line. */
static int cmd_line(struct hk *h, const char *s, size_t n, int *err)
{
	*err = 0;
	if (!h->in_cmd)
		return 0;
	if (n && ends_cmd(h, s, n)) {
		*err = cmd_end(h);
		return 0;
	}
	h->cmd_more++;
	*err = cmd_add(h, s, n, 1);
	return 1;
}

static const char attached[] =
	"heaptrack attached to the running process: blocks allocated "
	"before are not in the trace (in a raw file their frees are "
	"unknown frees)";

/* One line of n > 0 bytes.  0, 1 if malformed (h->st->why), or a
 * negative HT_E* code. */
static int one_line(struct hk *h, const char *s, size_t n)
{
	const char *p = s + 2, *e = s + n, *str;
	uint64_t v[2];
	size_t len;
	int err;

	if (n == 1 && (*s == 'A' || *s == 'X' || *s == '#'))
		p = e;
	else if (n < 2 || s[1] != ' ')
		return bad(h, "expected a line kind and a space");
	switch (*s) {
	case '+':
		return alloc(h, p, e);
	case '-':
		return release(h, p, e);
	case 'c':
		return tick(h, p, e);
	case 'R':
		return rss(h, p, e);
	case 'a':
		if (fields(p, e, v, 2) != 2)
			return bad(h, "expected 'a SIZE TRACE'");
		if (form(h, FORM_INTERPRETED))
			return 1;
		return add_info(h, v[0]);
	case 't':
		if (fields(p, e, v, 2) != 2)
			return bad(h, "expected 't IP PARENT'");
		return 0;
	case 'i': {
		/* code address, module, frames: all hex.  The code addresses
		 * are the only ones an interpreted file still has. */
		const char *q = hexf(p, e, &v[0]);

		if (!q || q == e || fields(q + 1, e, &v[1], 0) < 1)
			return bad(h, "expected 'i IP MODULE [FRAME...]'");
		if (v[0] > h->st->max_addr)
			h->st->max_addr = v[0];
		return 0;
	}
	case 's':
		if (string(h, p, e, &str, &len))
			return bad(h, "expected 's LENGTH STRING' with the "
				   "string's length in hex");
		return 0;
	case 'x':
		if (string(h, p, e, &str, &len))
			return bad(h, "expected 'x LENGTH PATH'");
		return import_meta(h->st, "process.exe", str, len);
	case 'X':
		if (h->have_cmdline)
			return bad(h, "a second 'X' line (a heaptrack file "
				   "holds one process)");
		h->have_cmdline = 1;
		h->in_cmd = 1;
		h->cmd_line = h->lineno;
		return cmd_add(h, p, (size_t)(e - p), 0);
	case 'I':
		return sysinfo(h, p, e);
	case 'v':
		return version(h, p, e);
	case 'A':
		if ((err = import_meta(h->st, "import.heaptrack_attached",
				       "1", 1)))
			return err;
		return import_meta(h->st, "recorder.warning", attached,
				   sizeof(attached) - 1);
	case 'm': /* modules (raw): code addresses, not kept */
	case 'S': /* leak suppressions */
	case '#':
		return 0;
	default:
		if (*s > ' ' && *s < 0x7f)
			return badv(h, "unknown line kind '%c'",
				   (unsigned char)*s);
		return badv(h, "unknown line kind 0x%02llx",
			    (unsigned char)*s);
	}
}

/* Notes a malformed line: 1 to stop, 0 to go on (salvage). */
static int bad_line(struct hk *h, uint64_t line, int salvage)
{
	struct import_stats *st = h->st;

	if (!st->err_line) {
		st->err_line = line;
		memcpy(st->why, h->why, sizeof(st->why));
	}
	if (!salvage)
		return 1;
	st->bad++;
	return 0;
}

int heaptrack_import(struct textin *in, int salvage, import_put_fn put,
		     void *ctx, struct import_stats *st)
{
	struct hk h;
	const char *s;
	size_t n;
	int r, rc = 0;

	memset(&h, 0, sizeof(h));
	h.st = st;
	h.put = put;
	h.ctx = ctx;
	h.freenode = NONE;
	st->timed = 1;
	while ((r = textin_line(in, &s, &n)) == 1) {
		st->lines++;
		h.lineno = textin_lineno(in);
		if (cmd_line(&h, s, n, &rc) || rc < 0) {
			if (rc < 0)
				break;
			continue;
		}
		if (!n)
			continue;
		rc = one_line(&h, s, n);
		if (rc < 0)
			break;
		if (rc == 1 && (rc = bad_line(&h, h.lineno, salvage)))
			break;
	}
	if (!rc && r < 0)
		rc = -1;
	if (!rc && h.in_cmd) {
		/* lines that were not heaptrack's up to the end: damage */
		if (h.cmd_more) {
			bad(&h, "the 'X' line (command line) runs on to the "
			    "end: no heaptrack line after it");
			rc = bad_line(&h, h.cmd_line, salvage);
		} else {
			rc = cmd_end(&h);
		}
	}
	if (!rc || (rc == -1 && r < 0)) { /* salvage keeps a cut input */
		const char *f = h.form == FORM_RAW ? "raw" :
				h.form == FORM_INTERPRETED ? "interpreted" :
				"unknown (no allocation)";
		int err = import_meta(st, "import.heaptrack_form", f,
				      strlen(f));

		if (err)
			rc = err;
	}
	free(h.isize);
	free(h.itop);
	free(h.node);
	free(h.cmd);
	return rc;
}

/* Content probe: the first line is heaptrack's "v VERSION FORMAT", the
 * next ones (up to 16, the command line's own lines aside) have a known
 * line kind. */
static int probe_line(const char *s, size_t n)
{
	uint64_t v[3];

	if (!strchr("vXxIcRAai+-stmS#", *s) || (n > 1 && s[1] != ' '))
		return 0;
	if (*s == '+' || *s == '-' || *s == 'c' || *s == 'a')
		return fields(s + 2, s + n, v, 3) > 0;
	return 1;
}

int heaptrack_probe(const unsigned char *buf, size_t n)
{
	unsigned char out[65536];
	const unsigned char *text;
	size_t len = textin_peek(buf, n, out, sizeof(out), &text);
	const char *p = (const char *)text, *e = p + len, *nl;
	int whole = text == buf && n < 65536, lines = 0, k;
	uint64_t v[2];
	struct hk h;

	memset(&h, 0, sizeof(h));
	for (; p < e && lines < 16; p = nl + 1) {
		size_t ln;

		if (!(nl = memchr(p, '\n', (size_t)(e - p)))) {
			if (!whole)
				break;
			nl = e;
		}
		ln = (size_t)(nl - p);
		if (!lines) {
			if (ln < 3 || p[0] != 'v' || p[1] != ' ' ||
			    (k = fields(p + 2, nl, v, 2)) < 1)
				return 0;
			h.sized = k == 2 && v[1] >= 3;
			lines++;
			continue;
		}
		if (h.in_cmd && (!ln || !ends_cmd(&h, p, ln)))
			continue;
		h.in_cmd = 0;
		if (!ln)
			continue;
		if (!probe_line(p, ln))
			return 0;
		h.in_cmd = *p == 'X';
		lines++;
	}
	return lines > 0;
}

static const struct import_format heaptrack_format = {
	.source = "heaptrack",
	.recorder = "heaptrack",
	.notes = "imported from a heaptrack file: no thread ids (all "
		 "events are tid 1); every allocating call (calloc, "
		 "aligned_alloc, valloc, realloc) is a malloc, and a "
		 "realloc is the free of the old block then the malloc of "
		 "the new one; failed calls, realloc(p, 0) and (heaptrack "
		 "1.4) memalign are not recorded; there is no pid; time has the 10 ms steps of heaptrack's timer "
		 "(each event gets the last tick before it); stacks are "
		 "not kept.  Interpreted files have no addresses: "
		 "allocation n gets 0x100000 + 16 n, and a free releases "
		 "the latest live block of its allocation info (same "
		 "size: live bytes and peak are exact, lifetimes of equal "
		 "blocks a guess)",
	.clock = "heaptrack 'c' lines (ms since start, 10 ms timer): "
		 "each event at the last tick before it",
	.flags = HT_TRACE_NO_TID,
	.import = heaptrack_import,
};

int convert_heaptrack_to_htape(const struct convert_opts *o)
{
	return import_convert(o, &heaptrack_format);
}
