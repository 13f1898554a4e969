/*
 * evpipe.h - the events of a trace in global time order, like
 * ht_reader_next(), but handed out in runs and with the blocks decoded
 * ahead by worker threads (ht_reader_decode_block()), so that the caller
 * (stat, plot) works on one core while the others decompress.
 *
 * The order is exactly ht_reader_next()'s: the per-thread streams merged
 * by (ts, pid, tid), each stream in its own order.  HEAPTAPE_MERGE=reader
 * in the environment makes evpipe use ht_reader_next() itself (the tests
 * compare the two).
 */
#ifndef HT_EVPIPE_H
#define HT_EVPIPE_H

#include <stddef.h>
#include <stdint.h>

#include "../format/heaptape.h"

struct evpipe;

/* jobs: decoding threads besides the caller's; < 0 = one per other core.
 * mode: the reader's mode: in HT_READ_SALVAGE a block that does not
 * decode is skipped and listed (evpipe_problems), otherwise it ends the
 * iteration with its error.  Returns 0 or HT_E* (then *pp is NULL).
 * The reader must stay open until evpipe_close(). */
int evpipe_open(struct evpipe **pp, struct ht_reader *r, int mode, int jobs);

/* The next run of events: *ev points to *n events, valid until the next
 * call.  Returns 1, 0 at the end, or HT_E* (then evpipe_error_offset()
 * says where). */
int evpipe_next(struct evpipe *p, const struct ht_event **ev, size_t *n);

uint64_t evpipe_error_offset(const struct evpipe *p);

/* A lower bound of the key (ts, pid << 32 | tid) of the next event
 * evpipe_next() will hand out, without decoding anything: 1, 0 at the
 * end, -1 if it cannot tell without loading (a block just used up, an
 * error, HEAPTAPE_MERGE=reader). */
int evpipe_peek(const struct evpipe *p, uint64_t *ts, uint64_t *pt);

/* Blocks skipped in salvage mode because they did not decode. */
size_t evpipe_problems(const struct evpipe *p,
		       const struct ht_problem **out);

void evpipe_close(struct evpipe *p); /* NULL ok */

/* qsort_r() orders of block numbers, arg a reader's ht_block_info array
 * (ht_reader_blocks()): by stream, (pid, tid) then file order; and by
 * need, ts_min then by stream: the order a merge in time reads them. */
int evpipe_by_stream(const void *a, const void *b, void *bi);
int evpipe_by_need(const void *a, const void *b, void *bi);

/* One of several traces read together: its reader and pipe (the
 * caller's), and the rest of the run its pipe handed out last. */
struct evsrc {
	const char *path;
	struct ht_reader *r;
	struct evpipe *p;
	const struct ht_event *ev;
	size_t n;
	int done;
	uint64_t lb_ts, lb_pt; /* merge: bound of its next event (n == 0) */
};

/*
 * The next run of events of the traces s[0..ns) merged in time order
 * (ts, pid, tid), each trace's own order kept: the part of the earliest
 * trace's run that comes before every other trace's next event (a whole
 * run when there is one trace, or when the processes did not run at the
 * same time).  *which: the trace the run is of.  Returns 1, 0 at the
 * end, or HT_E* (then *which is the trace at fault).
 */
int evpipe_merge_next(struct evsrc *s, size_t ns, const struct ht_event **ev,
		      size_t *n, size_t *which);

/* Opens the traces paths[0..ns) (cli_open_trace(): "-" is stdin, errors
 * are said) with a pipe each, the jobs decoding threads shared among
 * them; *start: the earliest ht_reader_start_ns().  NULL on failure. */
struct evsrc *evpipe_open_all(char *const *paths, size_t ns, int mode,
			      int jobs, uint64_t *start);
void evpipe_close_all(struct evsrc *s, size_t ns); /* NULL ok */
/* Warns once if source i is one of s[0..i) given again (the same UUID:
 * its events would count twice). */
void evpipe_warn_same(const struct evsrc *s, size_t i);

/* STOP/STRICT: the error of the damaged block the reader's scan stopped
 * at (its offset in *off), to be said once the blocks before it, all the
 * reader lists, are read; 0 if none (a cut tail is no error).  Not for
 * a reader in salvage mode. */
int evpipe_stop_error(const struct ht_reader *r, uint64_t *off);
/* evpipe_stop_error() said as an error naming path: 1 if there was
 * one, else 0. */
int evpipe_stop_said(const struct ht_reader *r, const char *path);

/* Default (stop) mode: a trace whose writer died converts up to its last
 * whole block; warns about each problem the reader met at its end, as
 * cat does, so that the events lost there are never lost silently. */
void evpipe_warn_cut(const struct ht_reader *r, const char *path);
/* What problem p lost: 1 with *events and *tid (a block whose header
 * says), 0 nothing, -1 an unknown number of events.  i: p's index in
 * ht_reader_problems(r), or (size_t)-1 for a problem of the pipeline. */
int evpipe_problem_events(const struct ht_reader *r,
			  const struct ht_problem *p, size_t i,
			  uint64_t *events, uint32_t *tid);
/* evpipe_problem_events(), with "N events lost" added to what (n
 * bytes, after a "; " if it holds something) when the count is known. */
int evpipe_problem_note(const struct ht_reader *r,
			const struct ht_problem *p, size_t i, char *what,
			size_t n, uint64_t *events);
/* p in words, the same for every command: "no END block (the writer
 * did not close it)", or the error with its detail. */
const char *evpipe_problem_text(const struct ht_problem *p, char *buf,
				size_t n);

/* One warning for each of the problems p[0..n) of the trace at path
 * (read by r: the reader's own problems when own, else the pipeline's),
 * with the events each lost when known, and after at the end of each
 * but 'no END block'. */
void evpipe_warn_problems(const struct ht_reader *r, int own,
			  const struct ht_problem *p, size_t n,
			  const char *path, const char *after);

/* --salvage: one warning for what was skipped of the trace at path:
 * r's problems and the blocks p (NULL: none) could not decode, if any;
 * returns their count. */
size_t evpipe_warn_skipped(const struct ht_reader *r,
			   const struct evpipe *p, const char *path);

#endif
