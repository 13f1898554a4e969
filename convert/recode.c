/*
 * recode.c - htape -> htape: re-encode a trace, e.g. at a higher zstd
 * level for storage (`heaptape convert in.htape out.htape --level 19`),
 * or keep only some of it (--pid, --tid, --op, --from/--to, --limit).
 *
 * The output keeps the trace's UUID and flags, every metadata value, the
 * thread names, RSS samples and loss records.  Events go a thread at a
 * time: its blocks decoded in order, filtered, and handed to
 * ht_writer_append(), so that memory holds one block whatever the
 * number of threads, and every output block but a thread's last is
 * full.  Only --limit (the first N events in time order) reads the
 * merge, through ht_writer_put(), which regroups them per thread.
 *
 * Full blocks are what a reader holds decoded, one a thread: without
 * --block-events, blocks are made small enough that a reader's blocks
 * of every thread at once take at most READ_BYTES (a 200-thread trace:
 * 13981 events a block rather than 65536, 3 % more bytes).
 * Reader timestamps are ns, so the output clock is ns (1/1): the
 * input's clock.unit_* keys are not copied and clock.origin_ticks is
 * rewritten in ns.  The file appears under its
 * name only when complete (cli_out).
 *
 * --anonymize makes a trace to share: only the metadata keys a reader
 * needs to interpret the events are kept (keep_anon()), thread names go,
 * and every address (and heap handle) is mapped one to one to a made-up
 * one: its 64 KiB granule gets the next granule number the first time it
 * is seen, and its low 16 bits stay.  So equal addresses stay equal and
 * distinct ones distinct (replay pairs the same blocks, stat counts the
 * same reuse), alignment up to 64 KiB is kept (and above it where the
 * granule is first seen at an aligned block), and the addresses still
 * compress as well; but no address, layout or ASLR base of the recorded
 * process is left.  Times count from the trace's start (its origin, or
 * its first event if earlier), not from the machine's boot: the uptime
 * goes too, as does the CPU's TSC frequency.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "evpipe.h"
#include "imap.h"

/* --anonymize: the metadata keys kept, which say how to read the
 * events and what made them; everything else (exe, command line, host
 * name and kernel, wall-clock times, source file names, x- keys, keys
 * this version does not know) goes. */
static int keep_anon(const char *k)
{
	static const char *const keep[] = {
		"clock.source", "clock.domain",
		"clock.origin_ticks", "process.pid", "process.ppid",
		"process.parent_trace_uuid", "process.end_signal",
		"host.arch", "host.page_size", "host.ncpu", "libc.version",
		"allocator.name", "allocator.version", "allocator.tunables",
		"recorder.name", "recorder.version", "recorder.options",
		"recorder.warning", "recorder.latency", "recorder.rss_bytes",
		"recorder.clock_read_ns", "recorder.cpu_ns", "trace.source",
		"trace.source_damage",
		"trace.source_compression", "trace.notes", "etl.pointer_size",
		"etl.events_lost", "etl.buffers_lost", "etl.bad_buffers",
		"etl.realloc_duplicates_dropped", "etl.stack_events",
		"etl.heap_events_with_stack",
	};

	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (!strcmp(k, keep[i]))
			return 1;
	return 0;
}

/* --anonymize: granule (address >> 16) -> its made-up number. */
struct anon {
	struct imap map;
	uint64_t next;       /* the next granule number (from 1) */
};

/* --anonymize: ns taken off every time (0 without it), so that the
 * output's start is at 0 rather than at the recording machine's uptime. */
static uint64_t g_shift;

static uint64_t shifted(uint64_t t)
{
	return t > g_shift ? t - g_shift : 0;
}

/* The made-up address of x (0 stays 0); align: the alignment the event
 * asked for, honoured where x's granule is new.  -1: out of memory, or
 * more granules than the map holds (2^32 - 1: 256 TiB). */
static int anon_addr(struct anon *a, uint64_t *x, uint64_t align)
{
	long j;
	int found;
	uint64_t v;

	if (!*x)
		return 0;
	if ((j = imap_slot(&a->map, *x >> 16, &found)) < 0)
		return -1;
	if (!found) {
		v = a->next ? a->next : 1;
		if (align > 65536 && !(*x & 0xffff) &&
		    !(align & (align - 1)) && align <= (1ull << 40)) {
			uint64_t m = align >> 16;
			v = (v + m - 1) / m * m;
		}
		if (v >= UINT32_MAX)
			return -1;
		a->next = v + 1;
		a->map.vals[j] = (uint32_t)v;
		a->map.n++;
	}
	*x = (uint64_t)a->map.vals[j] << 16 | (*x & 0xffff);
	return 0;
}

static int anon_event(struct anon *a, struct ht_event *ev)
{
	int al = ev->op == HT_OP_POSIX_MEMALIGN ||
		 ev->op == HT_OP_ALIGNED_ALLOC || ev->op == HT_OP_MEMALIGN;

	ev->ts = shifted(ev->ts);
	return anon_addr(a, &ev->addr, al ? ev->align : 0) ||
	       anon_addr(a, &ev->old_addr, 0) || anon_addr(a, &ev->heap, 0);
}

static int copy_meta(struct ht_reader *r, struct ht_writer *w, int anon)
{
	const struct ht_kv *kv;
	size_t n = ht_reader_meta_all(r, &kv), k = 0;
	struct ht_kv *keep;
	int rc;

	keep = calloc(n + 1, sizeof(*keep)); /* + trace.anonymized */
	if (!keep)
		return HT_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (strncmp(kv[i].key, "clock.unit_", 11) &&
		    strcmp(kv[i].key, "clock.origin_ticks") &&
		    (!anon || keep_anon(kv[i].key)))
			keep[k++] = kv[i];
	if (anon)
		keep[k++] = (struct ht_kv){"trace.anonymized", "1"};
	rc = k ? ht_writer_meta(w, keep, k) : 0;
	free(keep);
	/* The origin is in the input's ticks; the output's ticks are ns.
	 * Written even when the input has none (its start is then its
	 * first event): a filtered output must keep the input's time base,
	 * or its first kept event would become its time 0. */
	if (!rc) {
		char v[24];
		struct ht_kv o = {"clock.origin_ticks", v};
		snprintf(v, sizeof(v), "%llu",
			 (unsigned long long)shifted(ht_reader_start_ns(r)));
		rc = ht_writer_meta(w, &o, 1);
	}
	return rc;
}

static int copy_tables(const struct convert_opts *o, struct ht_reader *r,
		       struct ht_writer *w)
{
	const struct ht_thread *t;
	const struct ht_rss_sample *s;
	const struct ht_loss *l;
	size_t n;
	int rc = 0;

	n = o->anonymize ? 0 : ht_reader_threads(r, &t);
	for (size_t i = 0; i < n && !rc; i++) {
		if (o->pid_set && t[i].pid != o->pid)
			continue;
		rc = ht_writer_thread(w, t[i].ts, t[i].pid, t[i].tid,
				      t[i].name ? t[i].name : "");
	}
	n = ht_reader_rss(r, &s);
	if (!rc && n) {
		/* one table: the writer makes a block of each call's */
		struct ht_rss_sample *x = malloc(n * sizeof(*x));
		size_t k = 0;

		if (!x)
			return HT_ENOMEM;
		for (size_t i = 0; i < n; i++)
			if (!o->pid_set || s[i].pid == o->pid) {
				x[k] = s[i];
				x[k++].ts = shifted(s[i].ts);
			}
		rc = k ? ht_writer_rss(w, x, k) : 0;
		free(x);
	}
	n = ht_reader_losses(r, &l);
	for (size_t i = 0; i < n && !rc; i++) {
		struct ht_loss x = l[i];

		x.ts_from = shifted(x.ts_from);
		x.ts_to = shifted(x.ts_to);
		if (!o->pid_set || x.pid == o->pid)
			rc = ht_writer_loss(w, &x);
	}
	return rc;
}

/*
 * Damage carried over: every part of the input that could not be read
 * (a block skipped by --salvage, a block cut off at the end, an end
 * the writer never wrote) becomes a loss record in the output, with
 * the event count its block header gave (0: unknown), and the whole is
 * said in trace.source_damage.  So the copy is never cleaner than its
 * input: stat counts the events as lost, replay sees the gap.
 */
struct damage {
	uint64_t events;       /* in parts whose count is known */
	size_t parts, unknown; /* parts; of them, of unknown count */
	int no_end;            /* the input's writer did not close it */
};

/* The loss record for a part at offset off of stream tid (0: unknown)
 * holding events (0: unknown): its time is between the blocks of the
 * same thread (any thread when unknown) around it. */
static int damage_loss(const struct convert_opts *o, struct ht_reader *r,
		       struct ht_writer *w, uint64_t off, uint32_t tid,
		       uint64_t events)
{
	const struct ht_block_info *b;
	size_t n = ht_reader_blocks(r, &b);
	const struct ht_block_info *prev = NULL, *next = NULL;
	const char *pid = ht_reader_meta(r, "process.pid");
	struct ht_loss l = {.tid = tid, .events = events,
			    .reason = HT_LOSS_SOURCE};

	for (size_t i = 0; i < n; i++) {
		if (tid && b[i].tid != tid)
			continue;
		if (b[i].offset < off)
			prev = &b[i];
		else if (b[i].offset > off && !next)
			next = &b[i];
	}
	l.ts_from = prev ? prev->ts_max : next ? next->ts_min :
		    ht_reader_start_ns(r);
	l.ts_to = next ? next->ts_min : l.ts_from;
	if (l.ts_to < l.ts_from)
		l.ts_to = l.ts_from;
	if (prev || next)
		l.pid = (prev ? prev : next)->pid;
	else if (n)
		l.pid = b[n - 1].pid;
	else if (pid)
		l.pid = (uint32_t)strtoul(pid, NULL, 10);
	if (!tid)
		l.tid = 0;
	if (o->pid_set && l.pid != o->pid)
		return 0;
	l.ts_from = shifted(l.ts_from);
	l.ts_to = shifted(l.ts_to);
	return ht_writer_loss(w, &l);
}

static int damage_add(const struct convert_opts *o, struct ht_reader *r,
		      struct ht_writer *w, struct damage *dm, uint64_t off,
		      int known, uint32_t tid, uint64_t events)
{
	if (known == 0)
		return 0;
	dm->parts++;
	if (known < 0)
		dm->unknown++;
	else
		dm->events += events;
	return damage_loss(o, r, w, off, known < 0 ? 0 : tid,
			   known < 0 ? 0 : events);
}

/* The reader's problems as loss records, and trace.source_damage. */
static int damage_close(const struct convert_opts *o, struct ht_reader *r,
			struct ht_writer *w, struct damage *dm)
{
	const struct ht_problem *p;
	size_t n = ht_reader_problems(r, &p);
	struct ht_kv kv = {"trace.source_damage", NULL};
	char v[256];
	int err, k;

	for (size_t i = 0; i < n; i++) {
		uint64_t ev = 0;
		uint32_t tid = 0;

		if (p[i].code == HT_ETRUNC && !p[i].skipped)
			dm->no_end = 1;
		k = evpipe_problem_events(r, &p[i], i, &ev, &tid);
		if ((err = damage_add(o, r, w, dm, p[i].offset, k, tid, ev)))
			return err;
	}
	if (!dm->parts)
		return 0;
	v[0] = 0;
	if (dm->parts > dm->unknown)
		snprintf(v, sizeof(v), "%llu events lost in %zu unreadable "
			 "block%s", (unsigned long long)dm->events,
			 dm->parts - dm->unknown,
			 dm->parts - dm->unknown == 1 ? "" : "s");
	k = (int)strlen(v);
	if (dm->unknown > (size_t)dm->no_end)
		k += snprintf(v + k, sizeof(v) - (size_t)k, "%san unknown "
			      "number lost in %zu damaged part%s", k ? "; " :
			      "", dm->unknown - (size_t)dm->no_end,
			      dm->unknown - (size_t)dm->no_end == 1 ? "" : "s");
	if (dm->no_end)
		snprintf(v + k, sizeof(v) - (size_t)k, "%sno END block (the "
			 "writer did not close it): events after the last "
			 "block may be lost", k ? "; " : "");
	kv.value = v;
	return ht_writer_meta(w, &kv, 1);
}

#define READ_BYTES ((uint64_t)256 << 20)

/*
 * The events a thread at a time (see the top).  A block that does not
 * decode stops the conversion, or in salvage mode is skipped and
 * reported, as the merge does.  Returns 0, or 1 after an error message.
 */
static int by_stream(const struct convert_opts *o, struct ht_reader *r,
		     struct ht_writer *w, struct cli_progress *prog,
		     struct anon *an, struct damage *dm)
{
	const struct ht_block_info *bi;
	size_t nb = ht_reader_blocks(r, &bi), cap = 1;
	uint64_t start = ht_reader_start_ns(r), seen = 0;
	uint32_t *ord = malloc((nb ? nb : 1) * sizeof(*ord));
	struct ht_event *ev = NULL;
	struct ht_decoder *d = NULL;
	int filter = o->pid_set || o->ntids || o->ops_set || o->from_set ||
		     o->to_set;
	int rc = 1, err;

	for (size_t i = 0; i < nb; i++)
		if (bi[i].count > cap)
			cap = bi[i].count;
	if (!ord || !(ev = malloc(cap * sizeof(*ev))) ||
	    ht_decoder_new(&d)) {
		cli_error("'%s': %s", o->in, ht_strerror(HT_ENOMEM));
		goto out;
	}
	for (size_t i = 0; i < nb; i++)
		ord[i] = (uint32_t)i;
	qsort_r(ord, nb, sizeof(*ord), evpipe_by_stream, (void *)bi);
	for (size_t j = 0; j < nb; j++) {
		const struct ht_block_info *b = &bi[ord[j]];
		int k = ht_reader_decode_block(r, d, ord[j], ev, cap), m = 0;

		if (k < 0 && o->mode == HT_READ_SALVAGE) {
			cli_warn("'%s': offset %llu: %s (%s; %u events "
				 "lost), skipped", o->in,
				 (unsigned long long)b->offset, ht_strerror(k),
				 k == HT_ECHECKSUM ? "payload hash" :
				 "events block does not decode", b->count);
			if ((err = damage_add(o, r, w, dm, b->offset, 1,
					      b->tid, b->count))) {
				cli_error("'%s': %s", o->out,
					  ht_strerror(err));
				goto out;
			}
			continue;
		}
		if (k < 0) {
			cli_error("'%s': %s at offset %llu", o->in,
				  ht_strerror(k),
				  (unsigned long long)b->offset);
			goto out;
		}
		for (int i = 0; i < k; i++)
			if (!filter || convert_keep(o, &ev[i], start))
				ev[m++] = ev[i];
		for (int i = 0; an && i < m; i++)
			if (anon_event(an, &ev[i])) {
				cli_error("'%s': %s", o->in,
					  ht_strerror(HT_ENOMEM));
				goto out;
			}
		if ((err = ht_writer_append(w, ev, (size_t)m))) {
			cli_error("'%s': %s", o->out, ht_strerror(err));
			goto out;
		}
		seen += (uint64_t)k;
		cli_progress_update(prog, seen);
	}
	if (o->mode != HT_READ_SALVAGE && evpipe_stop_said(r, o->in))
		goto out;
	rc = 0;
out:
	ht_decoder_free(d);
	free(ev);
	free(ord);
	return rc;
}

/* The default events a block (see the top) for r's threads. */
static uint32_t block_events_for(struct ht_reader *r)
{
	struct ht_trace_info info;
	uint64_t per;

	ht_reader_info(r, &info);
	if (!info.streams)
		return 0;
	per = READ_BYTES / sizeof(struct ht_event) / info.streams;
	return per >= 65536 ? 0 : per < 4096 ? 4096 : (uint32_t)per;
}

int convert_htape_to_htape(const struct convert_opts *o)
{
	struct ht_writer_opts wo;
	struct ht_writer *w = NULL;
	struct ht_reader *r;
	struct ht_event ev;
	struct cli_out out;
	struct cli_progress prog;
	struct ht_trace_info info;
	struct anon an = { 0 };
	struct damage dm = { 0 };
	uint64_t start, kept = 0, seen = 0;
	int err, filter, rc = 1;

	if (!strcmp(o->in, "-"))
		return cli_error("reading an htape trace from standard input "
				 "is not supported; name the file");
	if (!strcmp(o->out, "-"))
		return cli_error("an htape output needs a file name");
	if (cli_open_trace(&r, o->in, o->mode))
		return 1;
	if (cli_out_open(&out, o->out)) {
		ht_reader_close(r);
		return 1;
	}
	memset(&wo, 0, sizeof(wo));
	wo.level = o->level;
	wo.block_events = o->block_events ? o->block_events :
			  block_events_for(r);
	wo.uuid = ht_reader_uuid(r);
	wo.flags = ht_reader_flags(r);
	err = ht_writer_open(&w, out.fd, &wo);
	ht_reader_info(r, &info);
	g_shift = 0;
	if (o->anonymize) {
		g_shift = ht_reader_start_ns(r);
		if (info.events && info.ts_min < g_shift)
			g_shift = info.ts_min;
	}
	if (!err)
		err = copy_meta(r, w, o->anonymize);
	if (!err)
		err = copy_tables(o, r, w);
	if (err) {
		cli_error("'%s': %s", o->out, ht_strerror(err));
		goto fail;
	}
	filter = o->pid_set || o->ntids || o->ops_set || o->from_set ||
		 o->to_set;
	start = ht_reader_start_ns(r);
	cli_progress_start(&prog, "convert", info.events);
	if (!o->progress)
		prog.active = 0;
	if (!o->limit) {
		err = by_stream(o, r, w, &prog, o->anonymize ? &an : NULL,
				&dm);
		cli_progress_end(&prog);
		if (err)
			goto fail;
		goto close;
	}
	while ((err = ht_reader_next(r, &ev)) == 1) {
		if (!(++seen & 0xfffff))
			cli_progress_update(&prog, seen);
		if (filter && !convert_keep(o, &ev, start))
			continue;
		if ((o->anonymize && anon_event(&an, &ev) && (err = HT_ENOMEM)) ||
		    (err = ht_writer_put(w, &ev))) {
			cli_progress_end(&prog);
			cli_error("'%s': %s", o->out, ht_strerror(err));
			goto fail;
		}
		if (o->limit && ++kept == o->limit)
			break;
	}
	cli_progress_end(&prog);
	if (err < 0) {
		cli_trace_error(r, o->in, err);
		goto fail;
	}
close:
	if ((err = damage_close(o, r, w, &dm))) {
		cli_error("'%s': %s", o->out, ht_strerror(err));
		goto fail;
	}
	err = ht_writer_close(w);
	w = NULL;
	if (err) {
		cli_error("'%s': %s", o->out, ht_strerror(err));
		goto fail;
	}
	if (o->mode == HT_READ_SALVAGE) {
		const struct ht_problem *p;
		size_t n = ht_reader_problems(r, &p);

		evpipe_warn_problems(r, 1, p, n, o->in, ", skipped");
	} else {
		evpipe_warn_cut(r, o->in);
	}
	ht_reader_close(r);
	rc = cli_out_commit(&out);
	goto done;
fail:
	if (w)
		ht_writer_abandon(w);
	cli_out_abort(&out);
	ht_reader_close(r);
done:
	imap_free(&an.map);
	return rc;
}
