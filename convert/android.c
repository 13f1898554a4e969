/*
 * android.c - import Android malloc_debug record_allocs traces (the text
 * that memory_replay reads; ../shared/data/android/SOURCES.md):
 *
 *   TID: malloc PTR SIZE [START_NS END_NS]
 *   TID: calloc PTR NMEMB SIZE [START_NS END_NS]
 *   TID: memalign PTR ALIGN SIZE [START_NS END_NS]
 *   TID: realloc NEW_PTR OLD_PTR SIZE [START_NS END_NS]
 *   TID: free PTR [START_NS END_NS]
 *   TID: thread_done 0x0 [END_NS]
 *
 * Pointers are hex (0x optional), the rest decimal.  Older traces (the
 * AOSP ones) have no timestamps: then ts is the line number, so that the
 * reader's merge by ts gives back the file order across threads, and the
 * trace is marked HT_TRACE_NO_TIME.  With timestamps, ts is START_NS
 * (END_NS for thread_done), raised where needed to stay increasing, since
 * the file order is the true order of the calls.
 *
 * Hand-written scanning: this runs at well over 5 M lines/s.
 */
#include <string.h>

#include "import.h"

static const char *skip_sp(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* One blank-separated number: hex (pointers) or decimal. */
static const char *field(const char *p, const char *e, int hex, uint64_t *v)
{
	const char *q = skip_sp(p, e);

	if (q == p || q == e)
		return NULL;
	q = hex ? import_hex(q, e, v) : import_dec(q, e, v);
	if (q && q < e && *q != ' ' && *q != '\t')
		return NULL;
	return q;
}

/* Parses one line.  Returns NULL and fills ev (without ts), *nts and
 * *t0 (the timestamp to use), or a reason; *word and *wlen then name the
 * operation when it was not known. */
static const char *parse(const char *s, size_t n, struct ht_event *ev,
			 int *nts, uint64_t *t0, const char **word,
			 size_t *wlen)
{
	const char *p = s, *e = s + n, *w;
	uint64_t v[3], ts[2] = {0, 0}, tid;
	int nargs, hex2 = 0, i;

	memset(ev, 0, sizeof(*ev));
	p = skip_sp(p, e);
	if (!(p = import_dec(p, e, &tid)) || tid > UINT32_MAX)
		return "expected a thread id";
	if (p == e || *p != ':')
		return "expected ':' after the thread id";
	w = p = skip_sp(p + 1, e);
	while (p < e && *p != ' ' && *p != '\t')
		p++;
	*word = w;
	*wlen = (size_t)(p - w);
	switch (p - w) {
	case 4:
		if (memcmp(w, "free", 4))
			goto unknown;
		ev->op = HT_OP_FREE;
		nargs = 1;
		break;
	case 6:
		if (!memcmp(w, "malloc", 6))
			ev->op = HT_OP_MALLOC, nargs = 2;
		else if (!memcmp(w, "calloc", 6))
			ev->op = HT_OP_CALLOC, nargs = 3;
		else
			goto unknown;
		break;
	case 7:
		if (memcmp(w, "realloc", 7))
			goto unknown;
		ev->op = HT_OP_REALLOC;
		nargs = 3;
		hex2 = 1;
		break;
	case 8:
		if (memcmp(w, "memalign", 8))
			goto unknown;
		ev->op = HT_OP_MEMALIGN;
		nargs = 3;
		break;
	case 11:
		if (memcmp(w, "thread_done", 11))
			goto unknown;
		ev->op = HT_OP_THREAD_EXIT;
		nargs = 1;
		break;
	default:
		goto unknown;
	}
	for (i = 0; i < nargs; i++)
		if (!(p = field(p, e, i == 0 || (i == 1 && hex2), &v[i])))
			return i ? "missing or bad number" :
				   "missing or bad pointer";
	/* Optional timestamps: two (start, end), thread_done one (end). */
	*nts = 0;
	while (*nts < 2 && skip_sp(p, e) < e) {
		if (!(p = field(p, e, 0, &ts[*nts])))
			return "unexpected text after the fields";
		++*nts;
	}
	if (*nts && *nts != (ev->op == HT_OP_THREAD_EXIT ? 1 : 2))
		return "expected both START_NS and END_NS or neither";
	if (skip_sp(p, e) != e)
		return "unexpected text after the fields";
	*t0 = ts[0];
	ev->tid = (uint32_t)tid;
	switch (ev->op) {
	case HT_OP_FREE:
		ev->addr = v[0];
		break;
	case HT_OP_MALLOC:
		ev->addr = v[0];
		ev->size = v[1];
		break;
	case HT_OP_CALLOC:
		ev->addr = v[0];
		ev->nmemb = v[1];
		ev->size = v[2];
		break;
	case HT_OP_MEMALIGN:
		ev->addr = v[0];
		ev->align = v[1];
		ev->size = v[2];
		break;
	case HT_OP_REALLOC:
		ev->addr = v[0];
		ev->old_addr = v[1];
		ev->size = v[2];
		/* realloc(p, 0) may free and return NULL: not a failure. */
		if (!ev->addr && ev->size)
			ev->flags = HT_EV_FAILED;
		return NULL;
	default:
		return NULL;
	}
	if (!ev->addr && ev->op != HT_OP_FREE)
		ev->flags = HT_EV_FAILED;
	return NULL;
unknown:
	return *wlen ? "unknown operation" : "expected an operation";
}

static void note_bad(struct import_stats *st, uint64_t line, const char *why,
		     const char *w, size_t wlen)
{
	if (st->err_line)
		return;
	st->err_line = line;
	if (!strcmp(why, "unknown operation"))
		snprintf(st->why, sizeof(st->why), "%s '%.*s'", why,
			 (int)(wlen > 40 ? 40 : wlen), w);
	else
		snprintf(st->why, sizeof(st->why), "%s", why);
}

int android_import(struct textin *in, int salvage, import_put_fn put,
		   void *ctx, struct import_stats *st)
{
	const char *s, *w, *why;
	size_t n, wlen;
	uint64_t prev = 0, t0 = 0;
	int r, nts = 0, decided = 0, err;
	struct ht_event ev;

	while ((r = textin_line(in, &s, &n)) == 1) {
		st->lines++;
		if (!n || (n == 1 && (*s == ' ' || *s == '\t')))
			continue;
		if ((why = parse(s, n, &ev, &nts, &t0, &w, &wlen))) {
			note_bad(st, textin_lineno(in), why, w, wlen);
			if (!salvage)
				return 1;
			st->bad++;
			continue;
		}
		if (!decided) {
			st->timed = nts > 0;
			decided = 1;
		}
		if (!st->timed)
			ev.ts = textin_lineno(in);
		else
			ev.ts = nts && (t0 > prev || !st->events) ? t0
								   : prev + 1;
		prev = ev.ts;
		if ((err = import_emit(st, put, ctx, &ev)) < 0)
			return err;
	}
	return r < 0 ? -1 : 0;
}

static int probe_line(const char *s, size_t n)
{
	struct ht_event ev;
	const char *w;
	size_t wlen;
	uint64_t t0;
	int nts;

	return !parse(s, n, &ev, &nts, &t0, &w, &wlen);
}

int android_probe(const unsigned char *buf, size_t n)
{
	return textin_probe(buf, n, probe_line);
}

static const struct import_format android_format = {
	.source = "android",
	.recorder = "Android malloc_debug record_allocs",
	.notes = "imported from Android record_allocs text; thread_done is "
		 "thread_exit; without timestamps ts is the line number "
		 "(order only, no real time); there is no pid",
	.flags = 0,
	.import = android_import,
};

int convert_android_to_htape(const struct convert_opts *o)
{
	return import_convert(o, &android_format);
}
