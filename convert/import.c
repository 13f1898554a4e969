/*
 * import.c - the driver of the text importers: opens the input (textin),
 * runs the format's parser, applies the convert filters, writes the
 * events with ht_writer_put() (threads are interleaved in these formats)
 * and finishes with the metadata that only the whole input can tell:
 * pointer width, line and event counts, skipped lines.
 *
 * The writer is opened at the first event, after the parser has seen
 * whether the lines carry timestamps (newer Android traces do).  RSS
 * samples and metadata a parser finds (heaptrack) wait here until the
 * end, when the trace start is known for the --start/--end window.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"

struct ctx {
	const struct convert_opts *o;
	const struct import_format *f;
	struct import_stats *st;
	struct textin *in;
	struct cli_out out;
	int out_open;
	struct ht_writer *w;
	struct cli_progress prog;
	uint64_t kept, ops[256];
	uint64_t start;          /* ts of the first event: the trace start */
	int have_start;
	uint32_t *tids;          /* open-addressing set of tid + 1 */
	uint32_t last_tid;       /* the tid added last (most lines repeat it) */
	char cut[320];           /* salvage: where and why the input ended */
	int have_last;
	size_t ntids, captids;
	struct ht_rss_sample *rss;
	size_t nrss, caprss;
	struct ht_kv extra[16];  /* import_meta(): keys are literals */
	size_t nextra;
};

#define RSS_BATCH 4096 /* samples per ht_writer_rss() call */

/* Hex digit value + 1; 0 for anything else. */
static const uint8_t hexval[256] = {
	['0'] = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
	['a'] = 11, 12, 13, 14, 15, 16,
	['A'] = 11, 12, 13, 14, 15, 16,
};

const char *import_hex(const char *p, const char *e, uint64_t *v)
{
	uint64_t x = 0;
	const char *s;
	unsigned d;

	if (e - p >= 2 && p[0] == '0' && (p[1] | 0x20) == 'x')
		p += 2;
	for (s = p; p < e && (d = hexval[(unsigned char)*p]); p++) {
		if (x >> 60)
			return NULL;
		x = x << 4 | (d - 1);
	}
	if (p == s)
		return NULL;
	*v = x;
	return p;
}

const char *import_dec(const char *p, const char *e, uint64_t *v)
{
	uint64_t x = 0;
	const char *s = p;

	if (e - p > 2 && p[0] == '0' && (p[1] | 0x20) == 'x')
		return import_hex(p, e, v);
	for (; p < e && (unsigned)(*p - '0') < 10; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (x > (UINT64_MAX - d) / 10)
			return NULL;
		x = x * 10 + d;
	}
	if (p == s)
		return NULL;
	*v = x;
	return p;
}

static int add_tid(struct ctx *c, uint32_t tid)
{
	uint32_t key = tid + 1, *t;
	size_t i, mask;

	if (!key) /* tid UINT32_MAX: count it once, outside the set */
		key = 1u << 31 | 1;
	if ((c->ntids + 1) * 2 > c->captids) {
		size_t ncap = c->captids ? c->captids * 2 : 1024, j;
		uint32_t *n = calloc(ncap, sizeof(*n));
		if (!n)
			return HT_ENOMEM;
		for (j = 0; j < c->captids; j++) {
			if (!c->tids[j])
				continue;
			for (i = c->tids[j] * 2654435761u & (ncap - 1); n[i];
			     i = (i + 1) & (ncap - 1))
				;
			n[i] = c->tids[j];
		}
		free(c->tids);
		c->tids = n;
		c->captids = ncap;
	}
	mask = c->captids - 1;
	for (i = key * 2654435761u & mask; (t = &c->tids[i])[0];
	     i = (i + 1) & mask)
		if (*t == key)
			return 0;
	*t = key;
	c->ntids++;
	return 0;
}

static int open_writer(struct ctx *c)
{
	struct ht_writer_opts wo;
	int err;

	memset(&wo, 0, sizeof(wo));
	wo.level = c->o->level;
	wo.block_events = c->o->block_events;
	wo.flags = c->f->flags | (c->st->timed ? 0 : HT_TRACE_NO_TIME);
	err = ht_writer_open(&c->w, c->out.fd, &wo);
	if (err)
		c->w = NULL;
	return err;
}

static int put(void *vc, const struct ht_event *ev)
{
	struct ctx *c = vc;
	int err;

	if (!c->w && (err = open_writer(c)))
		return err;
	if ((c->st->events & 0xffff) == 0)
		cli_progress_update(&c->prog, textin_pos(c->in));
	/* --start/--end count from the trace start, as for a trace:
	 * Android timestamps are since boot, not since the recording. */
	if (!c->have_start) {
		c->start = ev->ts;
		c->have_start = 1;
	}
	if (!convert_keep(c->o, ev, c->start))
		return 0;
	if (c->o->limit && c->kept >= c->o->limit)
		return 0;
	if (!c->have_last || ev->tid != c->last_tid) {
		if ((err = add_tid(c, ev->tid)))
			return err;
		c->last_tid = ev->tid;
		c->have_last = 1;
	}
	c->kept++;
	c->ops[ev->op]++;
	return ht_writer_put(c->w, ev);
}

static int rss_sink(void *vc, const struct ht_rss_sample *s)
{
	struct ctx *c = vc;

	if (c->nrss == c->caprss) {
		size_t ncap = c->caprss ? c->caprss * 2 : 256;
		void *n = realloc(c->rss, ncap * sizeof(*c->rss));
		if (!n)
			return HT_ENOMEM;
		c->rss = n;
		c->caprss = ncap;
	}
	c->rss[c->nrss++] = *s;
	return 0;
}

/* A later value of a key replaces the earlier one; a NUL (not allowed
 * in a value) ends it. */
static int meta_sink(void *vc, const char *key, const char *value,
		     size_t len)
{
	struct ctx *c = vc;
	const char *nul = memchr(value, 0, len);
	size_t i;
	char *v;

	if (nul)
		len = (size_t)(nul - value);
	for (i = 0; i < c->nextra && strcmp(c->extra[i].key, key); i++)
		;
	if (i == sizeof(c->extra) / sizeof(c->extra[0]))
		return HT_EINVAL;
	if (!(v = strndup(value, len)))
		return HT_ENOMEM;
	if (i == c->nextra)
		c->nextra++;
	else
		free((char *)c->extra[i].value);
	c->extra[i] = (struct ht_kv){key, v};
	return 0;
}

/* The RSS samples inside the --start/--end window and --pid, in batches
 * (one RSS block each). */
static int write_rss(struct ctx *c)
{
	const struct convert_opts *o = c->o;
	size_t i, n = 0;
	int err;

	for (i = 0; i < c->nrss; i++) {
		const struct ht_rss_sample *s = &c->rss[i];
		uint64_t t = s->ts >= c->start ? s->ts - c->start : 0;

		if ((o->pid_set && s->pid != o->pid) ||
		    (o->from_set && t < o->from_ns) ||
		    (o->to_set && t >= o->to_ns))
			continue;
		c->rss[n++] = *s;
	}
	for (i = 0; i < n; i += RSS_BATCH)
		if ((err = ht_writer_rss(c->w, c->rss + i, n - i < RSS_BATCH ?
					 n - i : RSS_BATCH)))
			return err;
	return 0;
}

static void u64s(char *buf, size_t n, uint64_t v)
{
	snprintf(buf, n, "%llu", (unsigned long long)v);
}

static int write_meta(struct ctx *c)
{
	static const uint8_t show[] = {HT_OP_MALLOC, HT_OP_CALLOC,
		HT_OP_MEMALIGN, HT_OP_REALLOC, HT_OP_FREE, HT_OP_THREAD_EXIT};
	char v[8][24], opbuf[256];
	struct ht_kv kv[40];
	size_t n = 0, i, len = 0;
	const char *member = textin_member(c->in);

	u64s(v[0], sizeof(v[0]), c->st->lines);
	u64s(v[1], sizeof(v[1]), c->kept);
	u64s(v[2], sizeof(v[2]), c->st->bad);
	u64s(v[3], sizeof(v[3]), c->ntids);
	snprintf(v[4], sizeof(v[4]), "%d",
		 c->st->max_addr > UINT32_MAX ? 64 : 32);
	opbuf[0] = 0;
	for (i = 0; i < sizeof(show); i++) {
		if (!c->ops[show[i]])
			continue;
		len += (size_t)snprintf(opbuf + len, sizeof(opbuf) - len,
					"%s%s=%llu", len ? "," : "",
					ht_op_name(show[i]),
					(unsigned long long)c->ops[show[i]]);
	}
	kv[n++] = (struct ht_kv){"trace.source", c->f->source};
	kv[n++] = (struct ht_kv){"trace.source_file", c->o->in};
	kv[n++] = (struct ht_kv){"trace.source_compression",
				 textin_kind_name(textin_kind(c->in))};
	if (member)
		kv[n++] = (struct ht_kv){"trace.source_member", member};
	kv[n++] = (struct ht_kv){"recorder.name", c->f->recorder};
	kv[n++] = (struct ht_kv){"trace.notes", c->f->notes};
	kv[n++] = (struct ht_kv){"clock.source", !c->st->timed ?
		"ordinal (line number)" : c->f->clock ? c->f->clock :
		"recorded (start_ns; file order kept)"};
	kv[n++] = (struct ht_kv){"trace.has_time", c->st->timed ? "1" : "0"};
	kv[n++] = (struct ht_kv){"trace.has_tid",
		(c->f->flags & HT_TRACE_NO_TID) ? "0" : "1"};
	kv[n++] = (struct ht_kv){"process.pointer_bits", v[4]};
	kv[n++] = (struct ht_kv){"import.lines", v[0]};
	kv[n++] = (struct ht_kv){"import.events", v[1]};
	kv[n++] = (struct ht_kv){"import.events_by_op", opbuf};
	kv[n++] = (struct ht_kv){"import.bad_lines", v[2]};
	kv[n++] = (struct ht_kv){"import.threads", v[3]};
	if (c->cut[0])
		kv[n++] = (struct ht_kv){"import.input_cut", c->cut};
	/* The start stays the first event's, whatever the filters kept. */
	if (c->have_start) {
		u64s(v[5], sizeof(v[5]), c->start);
		kv[n++] = (struct ht_kv){"clock.origin_ticks", v[5]};
	}
	for (i = 0; i < c->nextra; i++)
		kv[n++] = c->extra[i];
	return ht_writer_meta(c->w, kv, n);
}

int import_convert(const struct convert_opts *o,
		   const struct import_format *f)
{
	struct import_stats *st = calloc(1, sizeof(*st));
	struct ctx c;
	char err[300];
	int rc, e;

	memset(&c, 0, sizeof(c));
	c.o = o;
	c.f = f;
	c.st = st;
	if (!st)
		return cli_error("out of memory");
	st->rss = rss_sink;
	st->meta = meta_sink;
	st->sink = &c;
	if (textin_open(&c.in, o->in, err, sizeof(err))) {
		free(st);
		return cli_error("cannot read '%s': %s", o->in, err);
	}
	if (cli_out_open(&c.out, o->out)) {
		rc = 1;
		goto done;
	}
	c.out_open = 1;
	cli_progress_start(&c.prog, "convert", textin_size(c.in));
	rc = f->import(c.in, o->salvage, put, &c, st);
	cli_progress_end(&c.prog);
	if (rc == 1) {
		rc = cli_error("'%s':%llu: %s", o->in,
			       (unsigned long long)st->err_line, st->why);
		goto done;
	}
	if (rc == -1 && o->salvage) {
		/* A cut or damaged compressed input: keep what came before. */
		snprintf(c.cut, sizeof(c.cut), "line %llu: %s",
			 (unsigned long long)textin_lineno(c.in) + 1,
			 textin_error(c.in));
		cli_warn("'%s':%s; kept the %llu events before it", o->in,
			 c.cut + 5, (unsigned long long)st->events);
		rc = 0;
	}
	if (rc == -1) {
		rc = cli_error("'%s':%llu: %s", o->in,
			       (unsigned long long)textin_lineno(c.in) + 1,
			       textin_error(c.in));
		goto done;
	}
	if (rc < 0) {
		rc = cli_error("cannot write '%s': %s", o->out,
			       ht_strerror(rc));
		goto done;
	}
	if (!c.w && (e = open_writer(&c))) {
		rc = cli_error("cannot write '%s': %s", o->out,
			       ht_strerror(e));
		goto done;
	}
	if ((e = write_rss(&c)) || (e = write_meta(&c)))
		ht_writer_abandon(c.w);
	else
		e = ht_writer_close(c.w);
	c.w = NULL;
	if (e) {
		rc = cli_error("cannot write '%s': %s", o->out,
			       ht_strerror(e));
		goto done;
	}
	if (st->bad)
		cli_warn("'%s': skipped %llu malformed line%s (the first, "
			 "line %llu: %s)", o->in, (unsigned long long)st->bad,
			 st->bad == 1 ? "" : "s",
			 (unsigned long long)st->err_line, st->why);
	rc = cli_out_commit(&c.out);
	c.out_open = 0;
done:
	if (c.w)
		ht_writer_abandon(c.w);
	if (c.out_open)
		cli_out_abort(&c.out);
	textin_close(c.in);
	free(c.tids);
	free(c.rss);
	for (size_t i = 0; i < c.nextra; i++)
		free((char *)c.extra[i].value);
	free(st);
	return rc;
}

int import_emit(struct import_stats *st, import_put_fn fn, void *ctx,
		const struct ht_event *ev)
{
	int err;

	if (ev->addr > st->max_addr)
		st->max_addr = ev->addr;
	if (ev->old_addr > st->max_addr)
		st->max_addr = ev->old_addr;
	if ((err = fn(ctx, ev)) < 0)
		return err;
	st->events++;
	st->ops[ev->op]++;
	if (ev->flags & HT_EV_FAILED)
		st->failed++;
	return 0;
}

int import_rss(struct import_stats *st, const struct ht_rss_sample *s)
{
	return st->rss ? st->rss(st->sink, s) : 0;
}

int import_meta(struct import_stats *st, const char *key, const char *value,
		size_t len)
{
	return st->meta ? st->meta(st->sink, key, value, len) : 0;
}
