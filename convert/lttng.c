/*
 * lttng.c - `heaptape convert TRACE_DIR OUT.htape` for traces of the
 * LTTng-UST libc wrapper (LD_PRELOAD=liblttng-ust-libc-wrapper.so, events
 * lttng_ust_libc:*): the parent side of lttng.h.  The child
 * (lttng_read.c) reads the CTF with libbabeltrace2; here its records are
 * checked, mapped and written.
 *
 * Conversion rules:
 * - TRACE_DIR is a CTF trace (a directory holding 'metadata') or a
 *   session directory: every trace beneath it is read (kernel/ is not),
 *   all in one time order;
 * - ts = the event's default clock snapshot in ns from the clock's
 *   origin (1970 for LTTng), writer clock 1/1, clock.origin_ticks = the
 *   first event's; tid = the vtid context, pid = the vpid context (or the
 *   'vpid' of a per-process trace's environment); without vtid every
 *   event is tid 0 and the trace is HT_TRACE_NO_TID;
 * - events of several processes: one output per process (OUT with .PID
 *   before .htape, names printed), unless --pid or only one process has
 *   events; as for .etl input;
 * - malloc/calloc/realloc/memalign returning NULL for a size > 0, and
 *   posix_memalign returning non-zero (then result = its value), are
 *   HT_EV_FAILED with addr 0; free(NULL) is a free of 0, as `heaptape
 *   record` writes it; realloc to the same address is HT_EV_INPLACE;
 * - discarded events and packets LTTng reports become loss records
 *   (HT_LOSS_SOURCE) in the output of their process (per-process
 *   buffers) or in every output (per-user buffers hold every process);
 * - other events are counted (lttng.other_events), not kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "convert.h"
#include "imap.h"
#include "lttng.h"
#include "pouts.h"

const char *const lttng_ops[LT_OP_MAX] = {
	[LT_MALLOC] = "lttng_ust_libc:malloc",
	[LT_FREE] = "lttng_ust_libc:free",
	[LT_CALLOC] = "lttng_ust_libc:calloc",
	[LT_REALLOC] = "lttng_ust_libc:realloc",
	[LT_MEMALIGN] = "lttng_ust_libc:memalign",
	[LT_POSIX_MEMALIGN] = "lttng_ust_libc:posix_memalign",
};

/* lttng-ust src/lib/lttng-ust-libc-wrapper/ust_libc.h */
const char *const lttng_fields[LT_OP_MAX][4] = {
	[LT_MALLOC] = {"size", "ptr"},
	[LT_FREE] = {"ptr"},
	[LT_CALLOC] = {"nmemb", "size", "ptr"},
	[LT_REALLOC] = {"in_ptr", "size", "ptr"},
	[LT_MEMALIGN] = {"alignment", "size", "ptr"},
	[LT_POSIX_MEMALIGN] = {"out_ptr", "alignment", "size", "result"},
};

/*
 * Records -> events.
 */
const char *lttng_map(const struct lt_rec *r, struct ht_event *ev)
{
	static char why[96];
	const uint64_t *f = r->f;
	int op = r->op, i;

	if (op < 1 || op >= LT_OP_MAX)
		return "unknown operation";
	for (i = 0; i < 4 && lttng_fields[op][i]; i++)
		if (!(r->have & LT_HAVE_F(i))) {
			snprintf(why, sizeof(why), "%s without an integer "
				 "field '%s'", lttng_ops[op],
				 lttng_fields[op][i]);
			return why;
		}
	if (!(r->have & LT_HAVE_TS))
		return "an event without a time (the stream has no clock)";
	if (r->ts < 0)
		return "an event before its clock's origin";
	memset(ev, 0, sizeof(*ev));
	ev->ts = (uint64_t)r->ts;
	ev->pid = (r->have & LT_HAVE_PID) ? r->pid : 0;
	ev->tid = (r->have & LT_HAVE_TID) ? r->tid : 0;
	switch (op) {
	case LT_MALLOC:
		ev->op = HT_OP_MALLOC;
		ev->size = f[0];
		ev->addr = f[1];
		break;
	case LT_FREE:
		ev->op = HT_OP_FREE;
		ev->addr = f[0];
		return NULL;
	case LT_CALLOC:
		ev->op = HT_OP_CALLOC;
		ev->nmemb = f[0];
		ev->size = f[1];
		ev->addr = f[2];
		if (!ev->addr && ev->nmemb && ev->size)
			ev->flags = HT_EV_FAILED;
		return NULL;
	case LT_REALLOC:
		ev->op = HT_OP_REALLOC;
		ev->old_addr = f[0];
		ev->size = f[1];
		ev->addr = f[2];
		if (ev->addr && ev->addr == ev->old_addr)
			ev->flags = HT_EV_INPLACE;
		break;
	case LT_MEMALIGN:
		ev->op = HT_OP_MEMALIGN;
		ev->align = f[0];
		ev->size = f[1];
		ev->addr = f[2];
		break;
	case LT_POSIX_MEMALIGN:
		ev->op = HT_OP_POSIX_MEMALIGN;
		ev->align = f[1];
		ev->size = f[2];
		/* *memptr is traced even when the call failed: stale */
		ev->result = (int32_t)(uint32_t)f[3];
		if (ev->result)
			ev->flags = HT_EV_FAILED;
		else
			ev->addr = f[0];
		return NULL;
	}
	/* NULL for a size > 0 failed; malloc(0) may return NULL, and
	 * realloc(p, 0) frees p and may return NULL */
	if (!ev->addr && ev->size)
		ev->flags = HT_EV_FAILED;
	return NULL;
}

static int bad(struct lt_dec *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int bad(struct lt_dec *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
	return 1;
}

static void take_text(struct lt_dec *d, const struct lt_rec *r)
{
	const char *s = (const char *)r->f;

	for (uint32_t i = 0; i < r->len && d->tlen < LT_TEXT_MAX - 1; i++) {
		unsigned char c = (unsigned char)s[i];
		/* text from a trace never moves the terminal */
		d->text[d->tlen++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	d->text[d->tlen] = 0;
}

static int dec_loss(struct lt_dec *d, const struct lt_rec *r)
{
	struct ht_loss l;
	uint64_t n = (r->have & LT_HAVE_F(0)) ? r->f[0] : 0;

	if (r->op != LT_LOSS_EVENTS && r->op != LT_LOSS_PACKETS)
		return bad(d, "record %llu: unknown loss kind %u",
			   (unsigned long long)d->recs, r->op);
	memset(&l, 0, sizeof(l));
	l.reason = HT_LOSS_SOURCE;
	l.pid = (r->have & LT_HAVE_PID) ? r->pid : 0;
	l.ts_from = (r->have & LT_HAVE_TS) && r->ts > 0 ? (uint64_t)r->ts : 0;
	l.ts_to = (r->have & LT_HAVE_F(1)) && r->f[1] <= INT64_MAX &&
		  r->f[1] > l.ts_from ? r->f[1] : l.ts_from;
	if (r->op == LT_LOSS_EVENTS) {
		l.events = n;
		d->lost_events += n;
	} else {
		d->lost_packets += n;
	}
	return d->sink.loss(d->sink.ctx, &l, !!(r->have & LT_HAVE_PID));
}

static int one(struct lt_dec *d, const struct lt_rec *r)
{
	struct ht_event ev;
	const char *why;

	d->recs++;
	if (d->ended || d->failed)
		return bad(d, "record %llu: data after the end",
			   (unsigned long long)d->recs);
	switch (r->kind) {
	case LT_EVENT:
		if ((why = lttng_map(r, &ev)))
			return bad(d, "event %llu: %s",
				   (unsigned long long)r->seq, why);
		d->events++;
		d->ops[r->op]++;
		return d->sink.put(d->sink.ctx, &ev, !!(r->have & LT_HAVE_TID));
	case LT_LOSS:
		return dec_loss(d, r);
	case LT_TEXT:
		if (r->len > sizeof(r->f))
			return bad(d, "record %llu: text of %u bytes",
				   (unsigned long long)d->recs, r->len);
		take_text(d, r);
		return 0;
	case LT_PROC:
		if (!(r->have & LT_HAVE_PID))
			return bad(d, "record %llu: a process name without "
				   "a pid", (unsigned long long)d->recs);
		d->sink.name(d->sink.ctx, r->pid, d->text);
		break;
	case LT_META:
		if (r->op < LT_META_HOST || r->op > LT_META_CLOCK)
			return bad(d, "record %llu: unknown metadata %u",
				   (unsigned long long)d->recs, r->op);
		d->sink.meta(d->sink.ctx, r->op, !!(r->have & LT_HAVE_EPOCH),
			     d->text);
		break;
	case LT_END:
		d->read = r->f[0];
		d->other = r->f[1];
		d->traces = r->f[2];
		d->ended = 1;
		break;
	case LT_ALIVE:
		return 0;
	case LT_FAIL:
		d->failed = 1;
		if (!d->tlen)
			snprintf(d->text, sizeof(d->text), "failed");
		return 1;
	default:
		return bad(d, "record %llu: unknown kind %u",
			   (unsigned long long)d->recs, r->kind);
	}
	d->tlen = 0;
	d->text[0] = 0;
	return 0;
}

int lttng_decode(struct lt_dec *d, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	struct lt_rec r;
	int rc;

	for (; n >= LT_REC_SIZE; p += LT_REC_SIZE, n -= LT_REC_SIZE) {
		memcpy(&r, p, sizeof(r));
		if ((rc = one(d, &r)))
			return rc;
	}
	if (n)
		return bad(d, "record %llu: cut short",
			   (unsigned long long)d->recs + 1);
	return 0;
}

/*
 * Events -> outputs.
 */
#define MAX_OUTPUTS POUTS_MAX

struct pname {
	uint32_t pid;
	char name[LT_TEXT_MAX];
};

struct conv {
	const struct convert_opts *o;
	struct lt_dec d;
	struct pouts outs;        /* one a process */
	struct pname *names;
	size_t nnames;
	struct lossrec {
		struct ht_loss l;
		int has_pid;
	} *loss;
	size_t nloss, loss_cap;
	char host[LT_TEXT_MAX], tracer[LT_TEXT_MAX], clock[LT_TEXT_MAX];
	int epoch;
	uint64_t start, kept, filtered;
	int have_start;
	const char *err_path;     /* the output a write failed on */
	int opened_err;           /* get_out() printed its error */
};

static struct pout *get_out(struct conv *c, uint32_t pid, int has_tid)
{
	const struct convert_opts *o = c->o;
	struct ht_writer_opts wo;
	struct pout *po;
	int created;

	memset(&wo, 0, sizeof(wo));
	wo.level = o->level;
	wo.block_events = o->block_events;
	wo.clock_num = 1;
	wo.clock_den = 1;
	wo.flags = has_tid ? 0 : HT_TRACE_NO_TID;
	po = pouts_get(&c->outs, pid, &wo, &created);
	if (po && created)
		po->has_tid = has_tid;
	return po;
}

static int put(void *vc, const struct ht_event *ev, int has_tid)
{
	struct conv *c = vc;
	const struct convert_opts *o = c->o;
	struct pout *po;
	int found, err;
	long s;

	/* --start/--end count from the first event of the whole trace */
	if (!c->have_start) {
		c->start = ev->ts;
		c->have_start = 1;
	}
	if (!convert_keep(o, ev, c->start)) {
		c->filtered++;
		return 0;
	}
	if (o->limit && c->kept >= o->limit)
		return 0;
	if (!(po = get_out(c, ev->pid, has_tid))) {
		c->opened_err = 1;
		return HT_EIO;
	}
	if ((s = imap_slot(&po->tids, ev->tid, &found)) < 0)
		return HT_ENOMEM;
	if (!found) {
		po->tids.vals[s] = 0;
		po->tids.n++;
	}
	if (ev->addr > po->max_addr)
		po->max_addr = ev->addr;
	if (ev->old_addr > po->max_addr)
		po->max_addr = ev->old_addr;
	po->events++;
	po->ops[ev->op]++;
	c->kept++;
	if ((err = ht_writer_put(po->w, ev)))
		c->err_path = po->path;
	return err;
}

static int loss(void *vc, const struct ht_loss *l, int has_pid)
{
	struct conv *c = vc;

	if (cli_grow(&c->loss, &c->loss_cap, c->nloss, sizeof(*c->loss), 16))
		return HT_ENOMEM;
	c->loss[c->nloss].l = *l;
	c->loss[c->nloss++].has_pid = has_pid;
	return 0;
}

static struct pname *name_of(struct conv *c, uint32_t pid)
{
	for (size_t i = 0; i < c->nnames; i++)
		if (c->names[i].pid == pid)
			return &c->names[i];
	return NULL;
}

static void name(void *vc, uint32_t pid, const char *s)
{
	struct conv *c = vc;

	if (!*s || name_of(c, pid) || c->nnames == MAX_OUTPUTS)
		return;
	c->names[c->nnames].pid = pid;
	snprintf(c->names[c->nnames++].name, LT_TEXT_MAX, "%s", s);
}

static void meta(void *vc, int which, int flag, const char *s)
{
	struct conv *c = vc;
	char *dst = which == LT_META_HOST ? c->host :
		    which == LT_META_TRACER ? c->tracer : c->clock;

	/* the first trace's: a session's traces share them */
	if (dst[0])
		return;
	snprintf(dst, LT_TEXT_MAX, "%s", s);
	if (which == LT_META_CLOCK)
		c->epoch = flag;
}

static void u64s(char *buf, size_t n, uint64_t v)
{
	snprintf(buf, n, "%llu", (unsigned long long)v);
}

static int write_meta(struct conv *c, struct pout *po)
{
	static const uint8_t show[] = {HT_OP_MALLOC, HT_OP_CALLOC,
		HT_OP_REALLOC, HT_OP_MEMALIGN, HT_OP_POSIX_MEMALIGN,
		HT_OP_FREE};
	char v[12][32], opbuf[256];
	struct ht_kv kv[28];
	struct pname *pn = name_of(c, po->pid);
	size_t n = 0, i, len = 0;

	opbuf[0] = 0;
	for (i = 0; i < sizeof(show); i++)
		if (po->ops[show[i]])
			len += (size_t)snprintf(opbuf + len,
				sizeof(opbuf) - len, "%s%s=%llu",
				len ? "," : "", ht_op_name(show[i]),
				(unsigned long long)po->ops[show[i]]);
	u64s(v[0], 32, po->pid);
	u64s(v[1], 32, c->start);
	u64s(v[2], 32, po->events);
	u64s(v[3], 32, po->tids.n);
	snprintf(v[4], 32, "%d", po->max_addr > UINT32_MAX ? 64 : 32);
	u64s(v[5], 32, c->d.lost_events);
	u64s(v[6], 32, c->d.lost_packets);
	u64s(v[7], 32, c->d.other);
	u64s(v[8], 32, c->d.traces);
	kv[n++] = (struct ht_kv){"trace.source", "lttng"};
	kv[n++] = (struct ht_kv){"trace.source_file", c->o->in};
	kv[n++] = (struct ht_kv){"recorder.name",
				 "LTTng-UST libc wrapper (lttng_ust_libc)"};
	if (c->tracer[0])
		kv[n++] = (struct ht_kv){"recorder.version", c->tracer};
	kv[n++] = (struct ht_kv){"trace.notes", "imported from an LTTng-UST "
		"libc-wrapper trace: malloc, calloc, realloc, memalign, "
		"posix_memalign and free only (the wrapper does not hook "
		"aligned_alloc, valloc, pvalloc or reallocarray); ts is "
		"the event's clock in ns; callers are not kept"};
	kv[n++] = (struct ht_kv){"clock.source",
				 c->clock[0] ? c->clock : "monotonic"};
	kv[n++] = (struct ht_kv){"clock.origin_ticks", v[1]};
	if (c->epoch) {
		kv[n++] = (struct ht_kv){"clock.realtime_offset_ns", "0"};
		kv[n++] = (struct ht_kv){"process.start_realtime_ns", v[1]};
	}
	kv[n++] = (struct ht_kv){"process.pid", v[0]};
	if (pn)
		kv[n++] = (struct ht_kv){"process.exe", pn->name};
	if (c->host[0])
		kv[n++] = (struct ht_kv){"host.name", c->host};
	kv[n++] = (struct ht_kv){"process.pointer_bits", v[4]};
	kv[n++] = (struct ht_kv){"trace.has_time", "1"};
	kv[n++] = (struct ht_kv){"trace.has_tid", po->has_tid ? "1" : "0"};
	kv[n++] = (struct ht_kv){"import.events", v[2]};
	kv[n++] = (struct ht_kv){"import.events_by_op", opbuf};
	kv[n++] = (struct ht_kv){"import.threads", v[3]};
	kv[n++] = (struct ht_kv){"lttng.traces", v[8]};
	kv[n++] = (struct ht_kv){"lttng.events_discarded", v[5]};
	kv[n++] = (struct ht_kv){"lttng.packets_discarded", v[6]};
	kv[n++] = (struct ht_kv){"lttng.other_events", v[7]};
	return ht_writer_meta(po->w, kv, n);
}

/* Metadata, the losses that concern the output, END. */
static int finish(struct conv *c, uint64_t *unplaced)
{
	size_t i, j;
	int r;

	for (j = 0; j < c->nloss; j++) {
		const struct lossrec *x = &c->loss[j];
		if (!x->has_pid)
			continue;
		for (i = 0; i < c->outs.n && c->outs.v[i].pid != x->l.pid; i++)
			;
		if (i == c->outs.n)
			*unplaced += x->l.events ? x->l.events : 1;
	}
	for (i = 0; i < c->outs.n; i++) {
		struct pout *po = &c->outs.v[i];

		if ((r = write_meta(c, po)))
			goto werr;
		for (j = 0; j < c->nloss; j++) {
			struct ht_loss l = c->loss[j].l;
			if (c->loss[j].has_pid && l.pid != po->pid)
				continue;
			l.pid = po->pid;
			if ((r = ht_writer_loss(po->w, &l)))
				goto werr;
		}
		if (pout_close(po))
			return 1;
		continue;
werr:
		return cli_error("cannot write '%s': %s", po->path,
				 ht_strerror(r));
	}
	return 0;
}

/* Seconds the reader may stay silent (it says LT_ALIVE every second
 * while it works): libbabeltrace2 2.0 loops for ever on some cut
 * metadata files. */
static int timeout_s(void)
{
	const char *s = getenv("HEAPTAPE_LTTNG_TIMEOUT");
	uint64_t v;

	if (s && !cli_parse_u64(s, &v) && v >= 1 && v <= 86400)
		return (int)v;
	return 60;
}

/* Reads the child's records to the end.  Returns 0, 1 after printing. */
static int pump(struct conv *c, int fd, pid_t child)
{
	static unsigned char buf[LT_REC_SIZE * 1024];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	size_t have = 0, whole;
	int rc = 0, status, tmo = timeout_s(), hung = 0;
	ssize_t k;

	for (;;) {
		int pr = poll(&pfd, 1, tmo * 1000);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			hung = 1;
			break;
		}
		k = read(fd, buf + have, sizeof(buf) - have);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		have += (size_t)k;
		whole = have - have % LT_REC_SIZE;
		if ((rc = lttng_decode(&c->d, buf, whole)))
			break;
		memmove(buf, buf + whole, have - whole);
		have -= whole;
	}
	if (!rc && have && !hung)
		rc = lttng_decode(&c->d, buf, have);
	if (rc || hung)
		kill(child, SIGKILL);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (rc < 0) {
		if (c->opened_err)
			return 1;
		return cli_error("cannot write '%s': %s",
				 c->err_path ? c->err_path : c->o->out,
				 ht_strerror(rc));
	}
	if (c->d.failed)
		return cli_error("'%s': cannot read LTTng trace: babeltrace2: "
				 "%s", c->o->in, c->d.text);
	if (rc)
		return cli_error("'%s': cannot read LTTng trace: bad record "
				 "from the reader: %s", c->o->in, c->d.why);
	if (hung)
		return cli_error("'%s': cannot read LTTng trace: babeltrace2 "
				 "made no progress for %d s (stopped; "
				 "HEAPTAPE_LTTNG_TIMEOUT sets the limit)",
				 c->o->in, tmo);
	if (WIFSIGNALED(status))
		return cli_error("'%s': cannot read LTTng trace: babeltrace2 "
				 "crashed (signal %d)", c->o->in,
				 WTERMSIG(status));
	if (!c->d.ended || !WIFEXITED(status) || WEXITSTATUS(status))
		return cli_error("'%s': cannot read LTTng trace: babeltrace2 "
				 "reader stopped (exit status %d)", c->o->in,
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}

/* The child: babeltrace2 and nothing else.  Its stdout goes to
 * /dev/null and its stderr (the library's log) to a file in memory
 * that lttng_read() reads back for the reason of a failure. */
static void __attribute__((noreturn)) child(char **dirs, long n, int fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int log = memfd_create("heaptape-lttng-log", MFD_CLOEXEC);

	signal(SIGPIPE, SIG_DFL);
	if (null >= 0)
		dup2(null, STDOUT_FILENO);
	if (log >= 0)
		dup2(log, STDERR_FILENO);
	else if (null >= 0)
		dup2(null, STDERR_FILENO);
	_exit(lttng_read(dirs, (size_t)n, fd, log >= 0 ? STDERR_FILENO : -1));
}

static void report(struct conv *c, uint64_t unplaced)
{
	const struct convert_opts *o = c->o;
	size_t i;

	if (c->outs.n > 1)
		for (i = 0; i < c->outs.n; i++) {
			const struct pout *po = &c->outs.v[i];
			struct pname *pn = name_of(c, po->pid);
			printf("%s: pid %u%s", po->out.path, po->pid,
			       pn ? " (" : "");
			if (pn) {
				cli_put_clean(stdout, pn->name, 200);
				putchar(')');
			}
			printf(", %llu events\n",
			       (unsigned long long)po->events);
		}
	if (c->d.lost_events || c->d.lost_packets)
		cli_warn("'%s': LTTng discarded %llu events and lost %llu "
			 "packets while recording; written as loss records",
			 o->in, (unsigned long long)c->d.lost_events,
			 (unsigned long long)c->d.lost_packets);
	if (unplaced)
		cli_warn("'%s': %llu discarded events belong to processes "
			 "with no events in the output", o->in,
			 (unsigned long long)unplaced);
	if (!c->d.events)
		cli_warn("'%s': no lttng_ust_libc events (%llu events read; "
			 "was the program run with LD_PRELOAD="
			 "liblttng-ust-libc-wrapper.so?)", o->in,
			 (unsigned long long)c->d.read);
	else if (o->pid_set && !c->kept)
		cli_warn("'%s': no events of pid %u", o->in, o->pid);
}

int convert_lttng_to_htape(const struct convert_opts *o)
{
	struct conv c;
	char **dirs = NULL;
	long ndirs;
	int fds[2], rc = 1;
	uint64_t unplaced = 0;
	pid_t pid;

	memset(&c, 0, sizeof(c));
	c.o = o;
	c.d.sink = (struct lt_sink){&c, put, loss, name, meta};
	if ((ndirs = lttng_find(o->in, &dirs)) < 0)
		return cli_error("cannot read '%s': %s", o->in,
				 errno == E2BIG ? "too many directories "
				 "or CTF traces beneath it" : strerror(errno));
	if (!ndirs)
		return cli_error("'%s': no CTF trace in it (no 'metadata' "
				 "file in it or beneath it)", o->in);
	if (pouts_init(&c.outs, o))
		goto out;
	c.names = calloc(MAX_OUTPUTS, sizeof(*c.names));
	if (!c.names) {
		cli_error("out of memory");
		goto out;
	}
	if (pipe2(fds, O_CLOEXEC)) {
		cli_error("cannot read '%s': %s", o->in, strerror(errno));
		goto out;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		cli_error("cannot read '%s': %s", o->in, strerror(errno));
		close(fds[0]);
		close(fds[1]);
		goto out;
	}
	if (pid == 0) {
		close(fds[0]);
		child(dirs, ndirs, fds[1]);
	}
	close(fds[1]);
	rc = pump(&c, fds[0], pid);
	close(fds[0]);
	if (rc)
		goto out;
	rc = 1;
	if (!c.outs.n) {
		/* nothing kept: still an (empty) trace, as for .etl */
		if (!get_out(&c, o->pid_set ? o->pid : 0, 1))
			goto out;
	}
	if (finish(&c, &unplaced))
		goto out;
	if (pouts_commit(&c.outs))
		goto out;
	report(&c, unplaced);
	rc = 0;
out:
	pouts_free(&c.outs);
	free(c.names);
	free(c.loss);
	lttng_find_free(dirs, ndirs);
	return rc;
}
