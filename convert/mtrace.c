/*
 * mtrace.c - import glibc mtrace logs (MALLOC_TRACE with mtrace(); since
 * glibc 2.34 only under libc_malloc_debug.so).  The lines, as
 * malloc/mtrace-impl.c writes them:
 *
 *   = Start                        = End
 *   [@ CALLER ]+ PTR SIZE          malloc, calloc, memalign family,
 *                                  realloc(NULL, n); PTR (nil) if failed
 *   [@ CALLER ]- PTR               free, realloc(p, 0)
 *   [@ CALLER ]< OLD               a realloc that moved or kept p: the
 *   [@ CALLER ]> NEW SIZE          next line completes it
 *   [@ CALLER ]! OLD SIZE          failed realloc
 *
 * CALLER is "FILE:[0xOFF]", "FILE:(SYM+OFF)[0xOFF]", "(SYM-OFF)[0xOFF]"
 * or "[0xADDR]"; PTR is %p (0x... or "(nil)"), SIZE %#lx ("0" or 0x...).
 * The log has neither thread ids nor times: every event goes to one
 * thread (tid 1), ts is the line number, and the trace is marked
 * HT_TRACE_NO_TID | HT_TRACE_NO_TIME.  Callers are not kept.
 */
#include <string.h>

#include "import.h"

#define MTRACE_TID 1

/* PTR: "(nil)" or hex. */
static const char *ptr(const char *p, const char *e, uint64_t *v)
{
	if (e - p >= 5 && !memcmp(p, "(nil)", 5)) {
		*v = 0;
		return p + 5;
	}
	if (e - p < 3 || p[0] != '0' || p[1] != 'x')
		return NULL;
	return import_hex(p, e, v);
}

/* " NUMBER" where the next char is a blank or the end. */
static const char *arg(const char *p, const char *e, int isptr, uint64_t *v)
{
	if (p == e || *p != ' ')
		return NULL;
	p++;
	p = isptr ? ptr(p, e, v) : import_hex(p, e, v);
	if (p && p < e && *p != ' ')
		return NULL;
	return p;
}

/* Parses one line into ev (without ts).  Returns NULL with *kind set to
 * the op character ('+', '-', '<', '>', '!', or '=' for a marker), or a
 * reason. */
static const char *parse(const char *s, size_t n, struct ht_event *ev,
			 char *kind)
{
	const char *p = s, *e = s + n;

	memset(ev, 0, sizeof(*ev));
	if (n >= 2 && p[0] == '=' && p[1] == ' ') {
		if ((n == 7 && !memcmp(p + 2, "Start", 5)) ||
		    (n == 5 && !memcmp(p + 2, "End", 3))) {
			*kind = '=';
			return NULL;
		}
		return "unknown '=' line (expected '= Start' or '= End')";
	}
	if (n >= 2 && p[0] == '@' && p[1] == ' ') {
		/* The caller ends at the last "] ": no op text has ']'. */
		const char *r = memrchr(p, ']', n);
		if (!r || r + 1 == e || r[1] != ' ' ||
		    !memchr(p, '[', (size_t)(r - p)))
			return "caller '@ ...[ADDR]' not followed by an "
			       "operation";
		p = r + 2;
	}
	if (e - p < 2 || p[1] != ' ')
		return "expected an operation (+ - < > !) and a pointer";
	*kind = p[0];
	p++;
	switch (*kind) {
	case '+':
		ev->op = HT_OP_MALLOC;
		if (!(p = arg(p, e, 1, &ev->addr)) ||
		    !(p = arg(p, e, 0, &ev->size)))
			return "expected '+ PTR SIZE'";
		if (!ev->addr)
			ev->flags = HT_EV_FAILED;
		break;
	case '-':
		ev->op = HT_OP_FREE;
		if (!(p = arg(p, e, 1, &ev->addr)))
			return "expected '- PTR'";
		break;
	case '<':
		ev->op = HT_OP_REALLOC;
		if (!(p = arg(p, e, 1, &ev->old_addr)))
			return "expected '< PTR'";
		break;
	case '>':
		ev->op = HT_OP_REALLOC;
		if (!(p = arg(p, e, 1, &ev->addr)) ||
		    !(p = arg(p, e, 0, &ev->size)))
			return "expected '> PTR SIZE'";
		break;
	case '!':
		ev->op = HT_OP_REALLOC;
		ev->flags = HT_EV_FAILED;
		if (!(p = arg(p, e, 1, &ev->old_addr)) ||
		    !(p = arg(p, e, 0, &ev->size)))
			return "expected '! PTR SIZE'";
		break;
	default:
		return "expected an operation (+ - < > !) and a pointer";
	}
	while (p < e && *p == ' ')
		p++;
	if (p != e)
		return "unexpected text after the fields";
	return NULL;
}

static int bad(struct import_stats *st, uint64_t line, const char *why,
	       int salvage)
{
	if (!st->err_line) {
		st->err_line = line;
		snprintf(st->why, sizeof(st->why), "%s", why);
	}
	if (!salvage)
		return 1;
	st->bad++;
	return 0;
}

int mtrace_import(struct textin *in, int salvage, import_put_fn put,
		  void *ctx, struct import_stats *st)
{
	const char *s, *why;
	size_t n;
	uint64_t old = 0, old_line = 0;
	int r, err, pending = 0;
	char kind;
	struct ht_event ev;

	while ((r = textin_line(in, &s, &n)) == 1) {
		st->lines++;
		if (!n)
			continue;
		if ((why = parse(s, n, &ev, &kind))) {
			if (bad(st, textin_lineno(in), why, salvage))
				return 1;
			continue;
		}
		if (pending && kind != '>') {
			pending = 0;
			if (bad(st, old_line, "'< PTR' not followed by "
				"'> PTR SIZE'", salvage))
				return 1;
		}
		if (kind == '=') {
			st->markers++;
			continue;
		}
		if (kind == '<') {
			pending = 1;
			old = ev.old_addr;
			old_line = textin_lineno(in);
			continue;
		}
		if (kind == '>') {
			if (!pending) {
				if (bad(st, textin_lineno(in), "'> PTR SIZE' "
					"without the '< PTR' before it",
					salvage))
					return 1;
				continue;
			}
			pending = 0;
			ev.old_addr = old;
			if (ev.addr == old)
				ev.flags |= HT_EV_INPLACE;
		}
		ev.tid = MTRACE_TID;
		ev.ts = textin_lineno(in);
		if ((err = import_emit(st, put, ctx, &ev)) < 0)
			return err;
	}
	if (r < 0)
		return -1;
	if (pending && bad(st, old_line, "'< PTR' not followed by "
			   "'> PTR SIZE'", salvage))
		return 1;
	return 0;
}

static int probe_line(const char *s, size_t n)
{
	struct ht_event ev;
	char kind;

	return !parse(s, n, &ev, &kind);
}

int mtrace_probe(const unsigned char *buf, size_t n)
{
	return textin_probe(buf, n, probe_line);
}

static const struct import_format mtrace_format = {
	.source = "mtrace",
	.recorder = "glibc mtrace (MALLOC_TRACE)",
	.notes = "imported from a glibc mtrace log: the log has no thread "
		 "ids (all events are tid 1) and no times (ts is the line "
		 "number); '+' lines are malloc for every allocating call "
		 "(calloc, memalign, realloc(NULL, n) too); '- PTR' also "
		 "stands for realloc(p, 0); callers are not kept",
	.flags = HT_TRACE_NO_TID,
	.import = mtrace_import,
};

int convert_mtrace_to_htape(const struct convert_opts *o)
{
	return import_convert(o, &mtrace_format);
}
