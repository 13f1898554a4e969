/*
 * cmd_cat.c - `heaptape cat TRACE...`: every event as one readable line
 * (ht_event_format()), in global time order, optionally filtered.
 * Several traces (a process and its children's) are merged into one
 * time order, each trace's own order kept.
 *
 * In the default (stop) mode a damaged trace prints every event read
 * before the damage, then one error line naming the file and the offset,
 * and exits 1.  A trace whose writer died (no END block, maybe a cut
 * last block) prints all its whole blocks and a warning saying where it
 * ends, and exits 0.  --salvage skips damaged blocks, prints one warning per
 * problem and exits 1 if there was any; --strict also fails on a trace
 * without its END block.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "convert.h"
#include "evpipe.h"

extern const struct ht_cmd cmd_cat_entry;

/* "a,b,c" into tids (numbers) or ops (names).  0 or -1. */
/*
 * Formatting is most of cat's work, so chunks of events are formatted by
 * worker threads and written in order by the main thread, which merges
 * and filters:
 *   main:    fill chunk s  ->  FILLED         (before reusing a slot, wait
 *   worker:  FILLED -> CLAIMED -> DONE         for its chunk and write it)
 */
#define CHUNK 8192
#define LINE_MAX_ 512 /* longer lines are cut (ht_event_format: ~150) */
#define NSLOT 8

enum { S_FREE, S_FILLED, S_CLAIMED, S_DONE };

struct chunk {
	struct ht_event *ev;
	size_t n;
	char *text;
	size_t len;
	uint64_t seq;
	int state;
	int rel;         /* print times since origin (ns), not the clock's */
	uint64_t origin;
};

struct fmt {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct chunk c[NSLOT];
	uint64_t fill, claim, write; /* sequence numbers */
	int quit, nthr;
	pthread_t thr[NSLOT];
};

static void format_chunk(struct chunk *c)
{
	char *p = c->text;

	for (size_t i = 0; i < c->n; i++) {
		struct ht_event e = c->ev[i];
		int neg = c->rel && e.ts < c->origin, n;

		if (c->rel)
			e.ts = neg ? c->origin - e.ts : e.ts - c->origin;
		if (neg)
			*p = '-';
		n = ht_event_format(&e, p + neg, LINE_MAX_ - 1 - neg);
		if (n < 0)
			continue;
		n += neg;
		if (n > LINE_MAX_ - 2)
			n = LINE_MAX_ - 2;
		p[n++] = '\n';
		p += n;
	}
	c->len = (size_t)(p - c->text);
}

static void *fmt_worker(void *arg)
{
	struct fmt *f = arg;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		struct chunk *c = &f->c[f->claim % NSLOT];
		if (c->state == S_FILLED && c->seq == f->claim) {
			c->state = S_CLAIMED;
			f->claim++;
			pthread_mutex_unlock(&f->mu);
			format_chunk(c);
			pthread_mutex_lock(&f->mu);
			c->state = S_DONE;
			pthread_cond_broadcast(&f->done);
			continue;
		}
		if (f->quit)
			break;
		pthread_cond_wait(&f->work, &f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* Writes chunks in order up to (not including) sequence number upto.
 * While the next one to write is being formatted, the main thread
 * formats the next unclaimed one instead of waiting. */
static void fmt_drain(struct fmt *f, uint64_t upto)
{
	pthread_mutex_lock(&f->mu);
	while (f->write < upto) {
		struct chunk *c = &f->c[f->write % NSLOT];
		struct chunk *n = &f->c[f->claim % NSLOT];
		if (c->state == S_DONE) {
			pthread_mutex_unlock(&f->mu);
			fwrite_unlocked(c->text, 1, c->len, stdout);
			pthread_mutex_lock(&f->mu);
			c->n = 0;
			c->state = S_FREE;
			f->write++;
		} else if (n->state == S_FILLED && n->seq == f->claim) {
			n->state = S_CLAIMED;
			f->claim++;
			pthread_mutex_unlock(&f->mu);
			format_chunk(n);
			pthread_mutex_lock(&f->mu);
			n->state = S_DONE;
			pthread_cond_broadcast(&f->done);
		} else {
			pthread_cond_wait(&f->done, &f->mu);
		}
	}
	pthread_mutex_unlock(&f->mu);
}

/* The chunk being filled, after making its slot free. */
static struct chunk *fmt_current(struct fmt *f)
{
	struct chunk *c = &f->c[f->fill % NSLOT];
	int reuse;

	pthread_mutex_lock(&f->mu);
	reuse = c->state != S_FREE || c->seq != f->fill;
	pthread_mutex_unlock(&f->mu);
	if (reuse) {
		if (f->fill >= NSLOT)
			fmt_drain(f, f->fill - NSLOT + 1);
		pthread_mutex_lock(&f->mu);
		c->seq = f->fill;
		c->n = 0;
		pthread_mutex_unlock(&f->mu);
	}
	return c;
}

static void fmt_submit(struct fmt *f, struct chunk *c)
{
	pthread_mutex_lock(&f->mu);
	c->state = S_FILLED;
	f->fill++;
	pthread_cond_signal(&f->work);
	pthread_mutex_unlock(&f->mu);
}

static int fmt_open(struct fmt *f, int jobs)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->work, NULL);
	pthread_cond_init(&f->done, NULL);
	for (int i = 0; i < NSLOT; i++) {
		f->c[i].ev = malloc(CHUNK * sizeof(*f->c[i].ev));
		f->c[i].text = malloc((size_t)CHUNK * LINE_MAX_);
		if (!f->c[i].ev || !f->c[i].text)
			return -1;
	}
	if (jobs > NSLOT - 2)
		jobs = NSLOT - 2;
	for (int i = 0; i < jobs; i++) {
		if (pthread_create(&f->thr[i], NULL, fmt_worker, f))
			break; /* the main thread formats what is left */
		f->nthr++;
	}
	return 0;
}

/* Writes everything filled so far, cur (the chunk being filled, or NULL)
 * included, in order. */
static void fmt_flush(struct fmt *f, struct chunk *cur)
{
	if (cur && cur->n)
		fmt_submit(f, cur);
	fmt_drain(f, f->fill);
}

static void fmt_close(struct fmt *f)
{
	pthread_mutex_lock(&f->mu);
	f->quit = 1;
	pthread_cond_broadcast(&f->work);
	pthread_mutex_unlock(&f->mu);
	for (int i = 0; i < f->nthr; i++)
		pthread_join(f->thr[i], NULL);
	for (int i = 0; i < NSLOT; i++) {
		free(f->c[i].ev);
		free(f->c[i].text);
	}
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->work);
	pthread_cond_destroy(&f->done);
}

/* Prints the problems the reader and the merge found; returns their
 * count. */
static size_t report_problems(const struct ht_reader *r,
			      const struct evpipe *pipe, const char *path)
{
	const struct ht_problem *p1, *p2;
	size_t n1 = ht_reader_problems(r, &p1);
	size_t n2 = pipe ? evpipe_problems(pipe, &p2) : 0;

	evpipe_warn_problems(r, 1, p1, n1, path, "");
	if (n2)
		evpipe_warn_problems(r, 0, p2, n2, path, "");
	return n1 + n2;
}

static int cmd_cat(int argc, char **argv)
{
	enum { O_SALVAGE = 256, O_STRICT, O_FROM, O_TO, O_JOBS };
	static const struct option longopts[] = {
		{"jobs", required_argument, 0, O_JOBS},
		{"salvage", no_argument, 0, O_SALVAGE},
		{"strict", no_argument, 0, O_STRICT},
		{"pid", required_argument, 0, 'p'},
		{"tid", required_argument, 0, 't'},
		{"op", required_argument, 0, 'o'},
		{"count", required_argument, 0, 'n'},
		{"from", required_argument, 0, O_FROM},
		{"to", required_argument, 0, O_TO},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	const struct ht_cmd *c = &cmd_cat_entry;
	struct convert_opts o;
	struct evsrc *src;
	const struct ht_event *ev;
	struct fmt fmt;
	struct chunk *cur = NULL;
	const char *msg;
	uint64_t v, shown = 0, start;
	int rel = 0;
	size_t n, ns, bad = 0;
	int ch, err = 0, mode = HT_READ_STOP, filter, jobs = -1, done = 0;
	int rc = 0;

	memset(&o, 0, sizeof(o));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":hp:t:o:n:", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'h':
			return cli_usage(c, 0, NULL);
		case O_SALVAGE:
			mode = HT_READ_SALVAGE;
			break;
		case O_STRICT:
			mode = HT_READ_STRICT;
			break;
		case 'p':
		case 't':
		case 'o':
			msg = convert_filter(ch, optarg, &o);
			if (msg)
				return cli_usage(c, 2, msg);
			break;
		case 'n':
			if (cli_parse_u64(optarg, &o.limit))
				return cli_usage(c, 2, "-n takes a number");
			if (!o.limit)
				return 0;
			break;
		case O_FROM:
		case O_TO:
			if (cli_parse_duration(optarg, ch == O_FROM ?
					       &o.from_ns : &o.to_ns))
				return cli_usage(c, 2, cli_duration_error(
					ch == O_FROM ? "--from" : "--to",
					optarg));
			*(ch == O_FROM ? &o.from_set : &o.to_set) = 1;
			break;
		case O_JOBS:
			if (cli_parse_u64(optarg, &v) || v > 256)
				return cli_usage(c, 2, "--jobs takes 0..256");
			jobs = (int)v;
			break;
		case ':':
			return cli_bad_option(c, ':', argv);
		default:
			return cli_bad_option(c, ch, argv);
		}
	}
	if (o.from_set && o.to_set && o.to_ns <= o.from_ns)
		return cli_usage(c, 2, "the end time must be after the start");
	if (argc - optind < 1)
		return cli_usage(c, 2, "need a trace");
	ns = (size_t)(argc - optind);
	filter = o.pid_set || o.ntids || o.ops_set || o.from_set || o.to_set;
	if (jobs < 0) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = ncpu > 1 ? (int)ncpu - 1 : 0;
	}
	src = evpipe_open_all(argv + optind, ns, mode, jobs, &start);
	if (!src)
		return 1;
	if (fmt_open(&fmt, jobs)) {
		fmt_close(&fmt);
		evpipe_close_all(src, ns);
		return cli_error("out of memory");
	}
	/* A CSV import has no clock (no clock.source; its origin is
	 * CSV_ORIGIN, which keeps negative times): its absolute times
	 * mean nothing, so print time since its start. */
	for (size_t i = 0; i < ns; i++)
		if (!ht_reader_meta(src[i].r, "clock.source") &&
		    ht_reader_start_ns(src[i].r) == CSV_ORIGIN)
			rel = 1;
	for (int i = 0; i < NSLOT; i++) {
		fmt.c[i].rel = rel;
		fmt.c[i].origin = start;
	}
	while (!done &&
	       (err = evpipe_merge_next(src, ns, &ev, &n, &bad)) == 1) {
		for (size_t i = 0; i < n; i++) {
			if (filter && !convert_keep(&o, &ev[i], start))
				continue;
			if (!cur)
				cur = fmt_current(&fmt);
			cur->ev[cur->n++] = ev[i];
			if (cur->n == CHUNK) {
				fmt_submit(&fmt, cur);
				cur = NULL;
			}
			if (o.limit && ++shown == o.limit) {
				done = 1;
				break;
			}
		}
	}
	/* What was read goes out before any error. */
	fmt_flush(&fmt, cur);
	fmt_close(&fmt);
	if (err < 0) {
		fflush(stdout);
		cli_error("'%s': %s at offset %llu", src[bad].path,
			  ht_strerror(err),
			  (unsigned long long)evpipe_error_offset(src[bad].p));
		rc = 1;
	} else {
		for (size_t i = 0; i < ns; i++) {
			if (mode == HT_READ_SALVAGE) {
				if (report_problems(src[i].r, src[i].p,
						    src[i].path))
					rc = 1;
			} else if (!ht_reader_complete(src[i].r) && !done) {
				report_problems(src[i].r, src[i].p,
						src[i].path);
			}
		}
	}
	evpipe_close_all(src, ns);
	return rc;
}

const struct ht_cmd cmd_cat_entry = {
	.name = "cat",
	.usage = "cat [--salvage|--strict] [--pid N] [--tid N[,N]] "
		 "[--op OP[,OP]] [-n COUNT] TRACE...",
	.summary = "print a trace as text, one event per line in time order",
	.help =
	"options:\n"
	"  --salvage          skip damaged blocks, warn about each, exit 1\n"
	"  --strict           also fail on a trace without its END block\n"
	"  -p, --pid N        only events of process N\n"
	"  -t, --tid N[,N]    only events of these threads\n"
	"  -o, --op OP[,OP]   only these operations (malloc,free,...)\n"
	"  -n, --count N      stop after N events\n"
	"  --from T, --to T   time window from trace start (10ms, 1.5s)\n"
	"  --jobs N           threads decoding and formatting besides the\n"
	"                     main one (default: one per other core)\n"
	"By default a damaged trace prints the events before the damage,\n"
	"then the error with its byte offset, and exits 1.\n"
	"Several traces (a process and its children: NAME NAME.*) are\n"
	"merged into one time order.\n"
	"Times are seconds of the trace's clock (monotonic for a recorded\n"
	"trace); a CSV import, whose clock is unknown, prints\n"
	"seconds since its start, negative before it.\n",
	.run = cmd_cat,
};
