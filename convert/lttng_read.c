/*
 * lttng_read.c - the child side of the LTTng importer (lttng.h): finds
 * the CTF traces of a session, reads them with libbabeltrace2 and sends
 * fixed-size records to the parent.
 *
 * Graph: one src.ctf.fs per trace directory (a component reads one
 * logical trace; a session's 32- and 64-bit or per-process traces are
 * several) -> flt.utils.muxer (one time order) -> a simple sink that
 * turns each message into a record.  The sources log errors only, to
 * the child's stderr, which is a file in memory: the first error line
 * (else the library's deepest error cause) is the one line the parent
 * prints.
 */
#include <babeltrace2/babeltrace.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "convert.h"
#include "lttng.h"

/*
 * Finding the traces.
 */
#define MAX_TRACES 4096
/* A session keeps its traces at most 6 levels down
 * (archives/CHUNK/ust/pid/NAME-PID-TIME/64-bit); a directory that is
 * not a session is not searched to its end. */
#define MAX_DEPTH 7
#define MAX_DIRS 20000

static struct {
	char **v;
	long n, cap, dirs;
	int err;
} found;

static int has_metadata(const char *dir)
{
	char p[4096];
	struct stat st;

	if ((size_t)snprintf(p, sizeof(p), "%s/metadata", dir) >= sizeof(p))
		return 0;
	return !stat(p, &st) && S_ISREG(st.st_mode);
}

static int add_dir(const char *dir)
{
	if (found.n == MAX_TRACES) {
		found.err = E2BIG;
		return -1;
	}
	if (found.n == found.cap) {
		long nc = found.cap ? found.cap * 2 : 16;
		char **nv = realloc(found.v, (size_t)nc * sizeof(*nv));
		if (!nv) {
			found.err = ENOMEM;
			return -1;
		}
		found.v = nv;
		found.cap = nc;
	}
	if (!(found.v[found.n] = strdup(dir))) {
		found.err = ENOMEM;
		return -1;
	}
	found.n++;
	return 0;
}

static int walk_one(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	(void)st;
	if (type != FTW_D)
		return FTW_CONTINUE;
	if (++found.dirs > MAX_DIRS) {
		found.err = E2BIG;
		return FTW_STOP;
	}
	/* a kernel trace holds no libc-wrapper event and may be large */
	if (ftw->level > 0 && !strcmp(path + ftw->base, "kernel"))
		return FTW_SKIP_SUBTREE;
	if (has_metadata(path))
		return add_dir(path) ? FTW_STOP : FTW_SKIP_SUBTREE;
	return ftw->level >= MAX_DEPTH ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

long lttng_find(const char *path, char ***dirs)
{
	struct stat st;

	*dirs = NULL;
	memset(&found, 0, sizeof(found));
	if (stat(path, &st))
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	if (nftw(path, walk_one, 16, FTW_PHYS | FTW_ACTIONRETVAL) == -1 ||
	    found.err) {
		int e = found.err ? found.err : errno;
		lttng_find_free(found.v, found.n);
		errno = e;
		return -1;
	}
	if (found.n)
		qsort(found.v, (size_t)found.n, sizeof(*found.v), cmp_str);
	*dirs = found.v;
	return found.n;
}

int lttng_probe_dir(const char *path)
{
	char **dirs;
	long n = lttng_find(path, &dirs);

	if (n > 0)
		lttng_find_free(dirs, n);
	return n > 0;
}

void lttng_find_free(char **dirs, long n)
{
	for (long i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
}

/*
 * Reading them.
 */
struct rd {
	int fd, logfd;
	double sent;              /* when records last went out */
	int werr;                 /* the pipe broke: stop quietly */
	struct lt_rec buf[128];
	size_t n;
	uint64_t seq, other;
	struct {
		const bt_event_class *ec;
		int op;
	} cls[32];                /* event class -> op (0: not ours) */
	const bt_trace *trace;    /* the last trace seen, and its env */
	int trace_pid_ok;
	uint32_t trace_pid;
	const bt_trace *traces[64];
	size_t ntraces;
	uint32_t named[512];      /* pids whose name was sent */
	size_t nnamed;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int flush(struct rd *r)
{
	const char *p = (const char *)r->buf;
	size_t left = r->n * sizeof(r->buf[0]);

	r->n = 0;
	r->sent = now();
	while (left && !r->werr) {
		ssize_t k = write(r->fd, p, left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			r->werr = 1;
			break;
		}
		p += k;
		left -= (size_t)k;
	}
	return r->werr ? -1 : 0;
}

static struct lt_rec *rec(struct rd *r, int kind)
{
	struct lt_rec *x;

	if (r->n == sizeof(r->buf) / sizeof(r->buf[0]))
		flush(r);
	x = &r->buf[r->n++];
	memset(x, 0, sizeof(*x));
	x->kind = (uint8_t)kind;
	return x;
}

/* s as LT_TEXT pieces, cut to what the parent keeps. */
static void text(struct rd *r, const char *s)
{
	size_t len = strnlen(s, LT_TEXT_MAX - 1), i;

	for (i = 0; i < len; i += sizeof(((struct lt_rec *)0)->f)) {
		struct lt_rec *x = rec(r, LT_TEXT);
		size_t k = len - i < sizeof(x->f) ? len - i : sizeof(x->f);
		memcpy(x->f, s + i, k);
		x->len = (uint32_t)k;
	}
}

static int int_field(const bt_field *f, uint64_t *v)
{
	bt_field_class_type t;

	if (!f)
		return 0;
	t = bt_field_get_class_type(f);
	if (bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_UNSIGNED_INTEGER))
		*v = bt_field_integer_unsigned_get_value(f);
	else if (bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_SIGNED_INTEGER))
		*v = (uint64_t)bt_field_integer_signed_get_value(f);
	else
		return 0;
	return 1;
}

static const bt_field *member(const bt_field *s, const char *name)
{
	if (!s || bt_field_get_class_type(s) != BT_FIELD_CLASS_TYPE_STRUCTURE)
		return NULL;
	return bt_field_structure_borrow_member_field_by_name_const(s, name);
}

static const char *str_field(const bt_field *f)
{
	if (!f || bt_field_get_class_type(f) != BT_FIELD_CLASS_TYPE_STRING)
		return NULL;
	return bt_field_string_get_value(f);
}

static int env_int(const bt_trace *t, const char *name, int64_t *v)
{
	const bt_value *x =
		bt_trace_borrow_environment_entry_value_by_name_const(t, name);

	if (!x || !bt_value_is_signed_integer(x))
		return 0;
	*v = bt_value_integer_signed_get(x);
	return 1;
}

static const char *env_str(const bt_trace *t, const char *name)
{
	const bt_value *x =
		bt_trace_borrow_environment_entry_value_by_name_const(t, name);

	return x && bt_value_is_string(x) ? bt_value_string_get(x) : NULL;
}

static void send_name(struct rd *r, uint32_t pid, const char *name)
{
	size_t i;
	struct lt_rec *x;

	for (i = 0; i < r->nnamed; i++)
		if (r->named[i] == pid)
			return;
	if (r->nnamed == sizeof(r->named) / sizeof(r->named[0]))
		return;
	r->named[r->nnamed++] = pid;
	text(r, name);
	x = rec(r, LT_PROC);
	x->pid = pid;
	x->have = LT_HAVE_PID;
}

/* The trace's environment: the process of a per-process trace, host and
 * tracer once per trace. */
static void note_trace(struct rd *r, const bt_trace *t)
{
	int64_t v, ma = 0, mi = 0, pl = 0;
	const char *s;
	char buf[LT_TEXT_MAX];
	size_t i;

	if (t == r->trace)
		return;
	r->trace = t;
	r->trace_pid_ok = env_int(t, "vpid", &v) && v >= 0 &&
			  v <= UINT32_MAX;
	r->trace_pid = r->trace_pid_ok ? (uint32_t)v : 0;
	for (i = 0; i < r->ntraces; i++)
		if (r->traces[i] == t)
			return;
	if (r->ntraces < sizeof(r->traces) / sizeof(r->traces[0]))
		r->traces[r->ntraces++] = t;
	if ((s = env_str(t, "hostname"))) {
		text(r, s);
		rec(r, LT_META)->op = LT_META_HOST;
	}
	if ((s = env_str(t, "tracer_name"))) {
		env_int(t, "tracer_major", &ma);
		env_int(t, "tracer_minor", &mi);
		env_int(t, "tracer_patchlevel", &pl);
		snprintf(buf, sizeof(buf), "%s %lld.%lld.%lld", s,
			 (long long)ma, (long long)mi, (long long)pl);
		text(r, buf);
		rec(r, LT_META)->op = LT_META_TRACER;
	}
	if (r->trace_pid_ok && (s = env_str(t, "procname")))
		send_name(r, r->trace_pid, s);
}

static void note_clock(struct rd *r, const bt_stream_class *sc)
{
	const bt_clock_class *cc = bt_stream_class_borrow_default_clock_class_const(sc);
	const char *name;
	struct lt_rec *x;

	if (!cc || !(name = bt_clock_class_get_name(cc)))
		return;
	text(r, name);
	x = rec(r, LT_META);
	x->op = LT_META_CLOCK;
	if (bt_clock_class_origin_is_unix_epoch(cc))
		x->have = LT_HAVE_EPOCH;
}

static int snap_ns(const bt_clock_snapshot *cs, int64_t *ns)
{
	return cs && bt_clock_snapshot_get_ns_from_origin(cs, ns) ==
		     BT_CLOCK_SNAPSHOT_GET_NS_FROM_ORIGIN_STATUS_OK;
}

static int class_op(struct rd *r, const bt_event_class *ec)
{
	size_t h = ((uintptr_t)ec >> 4) % (sizeof(r->cls) / sizeof(r->cls[0]));
	const char *name;
	int op = 0;

	if (r->cls[h].ec == ec)
		return r->cls[h].op;
	name = bt_event_class_get_name(ec);
	for (int i = 1; name && i < LT_OP_MAX; i++)
		if (!strcmp(name, lttng_ops[i]))
			op = i;
	r->cls[h].ec = ec;
	r->cls[h].op = op;
	return op;
}

static void event(struct rd *r, const bt_message *m)
{
	const bt_event *ev = bt_message_event_borrow_event_const(m);
	const bt_field *pl, *cx;
	const char *name;
	struct lt_rec *x;
	uint64_t v;
	int op, i;

	r->seq++;
	note_trace(r, bt_stream_borrow_trace_const(
			      bt_event_borrow_stream_const(ev)));
	if (!(op = class_op(r, bt_event_borrow_class_const(ev)))) {
		r->other++;
		return;
	}
	x = rec(r, LT_EVENT);
	x->op = (uint8_t)op;
	x->seq = r->seq;
	if (bt_message_event_borrow_stream_class_default_clock_class_const(m) &&
	    snap_ns(bt_message_event_borrow_default_clock_snapshot_const(m),
		    &x->ts))
		x->have |= LT_HAVE_TS;
	pl = bt_event_borrow_payload_field_const(ev);
	for (i = 0; i < 4 && lttng_fields[op][i]; i++)
		if (int_field(member(pl, lttng_fields[op][i]), &x->f[i]))
			x->have |= LT_HAVE_F(i);
	cx = bt_event_borrow_common_context_field_const(ev);
	if (int_field(member(cx, "vtid"), &v)) {
		x->tid = (uint32_t)v;
		x->have |= LT_HAVE_TID;
	}
	if (int_field(member(cx, "vpid"), &v)) {
		x->pid = (uint32_t)v;
		x->have |= LT_HAVE_PID;
	} else if (r->trace_pid_ok) {
		x->pid = r->trace_pid;
		x->have |= LT_HAVE_PID;
	}
	if ((x->have & LT_HAVE_PID) &&
	    (name = str_field(member(cx, "procname"))))
		send_name(r, x->pid, name);
}

static void discarded(struct rd *r, const bt_message *m, int packets)
{
	const bt_stream *s = packets ?
		bt_message_discarded_packets_borrow_stream_const(m) :
		bt_message_discarded_events_borrow_stream_const(m);
	const bt_stream_class *sc = bt_stream_borrow_class_const(s);
	struct lt_rec *x;
	int snaps;

	note_trace(r, bt_stream_borrow_trace_const(s));
	x = rec(r, LT_LOSS);
	x->op = packets ? LT_LOSS_PACKETS : LT_LOSS_EVENTS;
	if ((packets ? bt_message_discarded_packets_get_count(m, &x->f[0]) :
		       bt_message_discarded_events_get_count(m, &x->f[0])) ==
	    BT_PROPERTY_AVAILABILITY_AVAILABLE)
		x->have |= LT_HAVE_F(0);
	snaps = packets ?
		bt_stream_class_discarded_packets_have_default_clock_snapshots(sc) :
		bt_stream_class_discarded_events_have_default_clock_snapshots(sc);
	if (snaps) {
		int64_t end;
		if (snap_ns(packets ?
			    bt_message_discarded_packets_borrow_beginning_default_clock_snapshot_const(m) :
			    bt_message_discarded_events_borrow_beginning_default_clock_snapshot_const(m),
			    &x->ts))
			x->have |= LT_HAVE_TS;
		if (snap_ns(packets ?
			    bt_message_discarded_packets_borrow_end_default_clock_snapshot_const(m) :
			    bt_message_discarded_events_borrow_end_default_clock_snapshot_const(m),
			    &end)) {
			x->f[1] = (uint64_t)end;
			x->have |= LT_HAVE_F(1);
		}
	}
	if (r->trace_pid_ok) {
		x->pid = r->trace_pid;
		x->have |= LT_HAVE_PID;
	}
}

static void message(struct rd *r, const bt_message *m)
{
	const bt_stream *s;

	switch (bt_message_get_type(m)) {
	case BT_MESSAGE_TYPE_EVENT:
		event(r, m);
		break;
	case BT_MESSAGE_TYPE_DISCARDED_EVENTS:
		discarded(r, m, 0);
		break;
	case BT_MESSAGE_TYPE_DISCARDED_PACKETS:
		discarded(r, m, 1);
		break;
	case BT_MESSAGE_TYPE_STREAM_BEGINNING:
		s = bt_message_stream_beginning_borrow_stream_const(m);
		note_trace(r, bt_stream_borrow_trace_const(s));
		note_clock(r, bt_stream_borrow_class_const(s));
		break;
	default:
		break;
	}
}

static bt_graph_simple_sink_component_initialize_func_status
sink_init(bt_message_iterator *it, void *ud)
{
	(void)it;
	(void)ud;
	return BT_GRAPH_SIMPLE_SINK_COMPONENT_INITIALIZE_FUNC_STATUS_OK;
}

static bt_graph_simple_sink_component_consume_func_status
sink_consume(bt_message_iterator *it, void *ud)
{
	struct rd *r = ud;
	bt_message_array_const msgs;
	uint64_t n, i;

	switch (bt_message_iterator_next(it, &msgs, &n)) {
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_OK:
		break;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_END:
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_END;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_AGAIN:
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_AGAIN;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_MEMORY_ERROR:
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_MEMORY_ERROR;
	default:
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_ERROR;
	}
	for (i = 0; i < n; i++) {
		message(r, msgs[i]);
		bt_message_put_ref(msgs[i]);
	}
	/* a trace of other events only: the parent still hears of us */
	if (now() - r->sent >= 1) {
		if (!r->n)
			rec(r, LT_ALIVE);
		flush(r);
	}
	return r->werr ? BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_ERROR
		       : BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_OK;
}

/* The message of the first error line the components logged:
 * "MM-DD HH:MM:SS.mmm PID TID E TAG FUNC@FILE:LINE MESSAGE". */
static int first_logged(int fd, char *out, size_t n)
{
	char buf[8192], *line, *save = NULL;
	ssize_t k;

	if (fd < 0 || (k = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return 0;
	buf[k] = 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f = line, *lvl = NULL;
		int i;

		for (i = 0; i < 7 && f; i++) {
			f += strspn(f, " ");
			if (i == 4)
				lvl = f;
			f = strchr(f, ' ');
		}
		if (!f || !lvl || (*lvl != 'E' && *lvl != 'F') || lvl[1] != ' ')
			continue;
		f += strspn(f, " ");
		/* "[COMPONENT] ": the component is ours, src0.. */
		if (*f == '[' && strchr(f, ']'))
			f = strchr(f, ']') + 1 + strspn(strchr(f, ']') + 1, " ");
		snprintf(out, n, "%s", f);
		return 1;
	}
	return 0;
}

/* The library's reason: the first error it logged, else the cause
 * closest to the data (the first one appended), on one line. */
static void fail(struct rd *r, const char *what)
{
	const bt_error *e = bt_current_thread_take_error();
	char buf[LT_TEXT_MAX], why[LT_TEXT_MAX], *p;

	if (first_logged(r->logfd, why, sizeof(why))) {
		snprintf(buf, sizeof(buf), "%s: %.400s", what, why);
	} else if (e && bt_error_get_cause_count(e)) {
		const bt_error_cause *c = bt_error_borrow_cause_by_index(e, 0);
		snprintf(buf, sizeof(buf), "%s: %.400s", what,
			 bt_error_cause_get_message(c));
	} else {
		snprintf(buf, sizeof(buf), "%s", what);
	}
	if (e)
		bt_error_release(e);
	for (p = buf; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	text(r, buf);
	rec(r, LT_FAIL);
	flush(r);
}

static int connect_src(bt_graph *g, const bt_component_source *src,
		       const bt_component_filter *mux)
{
	uint64_t i, j, np = bt_component_source_get_output_port_count(src);

	for (i = 0; i < np; i++) {
		const bt_port_output *out =
			bt_component_source_borrow_output_port_by_index_const(
				src, i);
		const bt_port_input *in = NULL;
		uint64_t ni = bt_component_filter_get_input_port_count(mux);

		for (j = 0; j < ni && !in; j++) {
			in = bt_component_filter_borrow_input_port_by_index_const(
				mux, j);
			if (bt_port_is_connected(bt_port_input_as_port_const(in)))
				in = NULL;
		}
		if (!in || bt_graph_connect_ports(g, out, in, NULL) !=
			   BT_GRAPH_CONNECT_PORTS_STATUS_OK)
			return -1;
	}
	return 0;
}

static int add_sources(struct rd *r, bt_graph *g,
		       const bt_component_class_source *fs,
		       const bt_component_filter *mux, char *const *dirs,
		       size_t n)
{
	char name[32], what[LT_TEXT_MAX];
	size_t i;

	for (i = 0; i < n; i++) {
		const bt_component_source *src;
		bt_value *params = bt_value_map_create(), *inputs;
		int bad;

		if (!params) {
			fail(r, "out of memory");
			return -1;
		}
		bad = bt_value_map_insert_empty_array_entry(params, "inputs",
							    &inputs) ||
		      bt_value_array_append_string_element(inputs, dirs[i]);
		snprintf(name, sizeof(name), "src%zu", i);
		if (!bad)
			bad = bt_graph_add_source_component(g, fs, name,
				params, BT_LOGGING_LEVEL_ERROR, &src) !=
				BT_GRAPH_ADD_COMPONENT_STATUS_OK;
		bt_value_put_ref(params);
		if (bad) {
			snprintf(what, sizeof(what), "cannot open the CTF "
				 "trace in '%s'", dirs[i]);
			fail(r, what);
			return -1;
		}
		if (connect_src(g, src, mux)) {
			fail(r, "cannot connect the trace to the muxer");
			return -1;
		}
	}
	return 0;
}

static int run(struct rd *r, char *const *dirs, size_t n)
{
	const bt_plugin *ctf = NULL, *utils = NULL;
	const bt_component_class_source *fs;
	const bt_component_class_filter *muxc;
	const bt_component_filter *mux;
	const bt_component_sink *sink;
	bt_graph *g = NULL;
	bt_graph_run_status st;
	struct lt_rec *x;
	int rc = 1;

	/* the system's plugins only: not BABELTRACE_PLUGIN_PATH's */
	if (bt_plugin_find("ctf", BT_FALSE, BT_FALSE, BT_TRUE, BT_TRUE,
			   BT_TRUE, &ctf) != BT_PLUGIN_FIND_STATUS_OK ||
	    bt_plugin_find("utils", BT_FALSE, BT_FALSE, BT_TRUE, BT_TRUE,
			   BT_TRUE, &utils) != BT_PLUGIN_FIND_STATUS_OK) {
		fail(r, "cannot load the ctf and utils plugins (is "
			"libbabeltrace2-0 installed?)");
		goto out;
	}
	fs = bt_plugin_borrow_source_component_class_by_name_const(ctf, "fs");
	muxc = bt_plugin_borrow_filter_component_class_by_name_const(utils,
								     "muxer");
	if (!fs || !muxc) {
		fail(r, "no src.ctf.fs or flt.utils.muxer component class");
		goto out;
	}
	if (!(g = bt_graph_create(0)) ||
	    bt_graph_add_filter_component(g, muxc, "muxer", NULL,
					  BT_LOGGING_LEVEL_NONE, &mux) !=
		    BT_GRAPH_ADD_COMPONENT_STATUS_OK) {
		fail(r, "cannot build the graph");
		goto out;
	}
	if (add_sources(r, g, fs, mux, dirs, n))
		goto out;
	if (bt_graph_add_simple_sink_component(g, "heaptape", sink_init,
					       sink_consume, NULL, r, &sink) !=
		    BT_GRAPH_ADD_COMPONENT_STATUS_OK ||
	    bt_graph_connect_ports(g,
		    bt_component_filter_borrow_output_port_by_index_const(mux, 0),
		    bt_component_sink_borrow_input_port_by_index_const(sink, 0),
		    NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
		fail(r, "cannot build the graph");
		goto out;
	}
	while ((st = bt_graph_run(g)) == BT_GRAPH_RUN_STATUS_AGAIN)
		usleep(1000);
	if (r->werr)
		goto out;
	if (st != BT_GRAPH_RUN_STATUS_OK) {
		fail(r, "cannot read the trace");
		goto out;
	}
	x = rec(r, LT_END);
	x->f[0] = r->seq;
	x->f[1] = r->other;
	x->f[2] = r->ntraces;
	rc = flush(r) ? 1 : 0;
out:
	bt_graph_put_ref(g);
	bt_plugin_put_ref(ctf);
	bt_plugin_put_ref(utils);
	return rc;
}

int lttng_read(char *const *dirs, size_t n, int fd, int logfd)
{
	struct rd *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return 1;
	/* the library's own log: off, whatever LIBBABELTRACE2_INIT_LOG_LEVEL
	 * says; the sources log their errors (to logfd) */
	bt_logging_set_global_level(BT_LOGGING_LEVEL_NONE);
	r->fd = fd;
	r->logfd = logfd;
	r->sent = now();
	rc = run(r, dirs, n);
	free(r);
	return rc;
}
