/*
 * replay.h - the parent side of `heaptape replay`: building the plan from
 * a trace (plan.c), running it in a worker process under one allocator
 * (run.c), and the reports (report.c).
 */
#ifndef HT_REPLAY_H
#define HT_REPLAY_H

#include <stdint.h>
#include <stdio.h>

#include "../format/heaptape.h"
#include "worker/plan.h"

/* Why an event was not replayed (or only partly: a realloc of an unknown
 * pointer is replayed as an allocation and counted as an unknown free). */
#define RP_SKIPS(X)                                                        \
	X(RS_UNKNOWN_FREE, "unknown_free")                                 \
	X(RS_DOUBLE_FREE, "double_free")                                   \
	X(RS_FAILED_CALL, "failed_call")                                   \
	X(RS_UNSUPPORTED, "unsupported_op")                                \
	X(RS_TOO_LARGE, "too_large")                                       \
	X(RS_LOSS_GAP, "loss_gap")

enum rp_skip {
#define RP__SKIPENUM(name, str) name,
	RP_SKIPS(RP__SKIPENUM)
#undef RP__SKIPENUM
	RS_N
};
extern const char *const rp_skip_names[RS_N];

struct plan_opts {
	int one_thread;     /* --threads=1: one stream in global order */
	int have_pid;       /* --pid */
	uint32_t pid;
	uint64_t max_block;  /* larger allocations are skipped (too_large) */
	uint32_t window;     /* the run's window in epochs (rp_header); 0:
				none.  Several traces: a slot of an ended
				process is reused only by an op at least
				window + 1 epochs later, when its free is sure
				to be done (0: never) */
};

struct plan_info {
	uint64_t events_read;    /* events of the selected process(es) */
	uint64_t events;         /* replayed */
	uint64_t skipped[RS_N];
	uint64_t ideal_peak;     /* peak live requested bytes (live.c) */
	uint64_t inversions;     /* reuse inversions fixed */
	uint64_t edges;          /* cross-thread wait edges */
	uint64_t nstreams, nslots, nops;
	uint32_t npids;          /* distinct processes replayed */
	/* --pid: the first trace with events of it, and how many have */
	size_t pid_trace, pid_traces;
	/* several traces (a process and its children): the blocks their
	 * processes left live when their traces ended, freed there as the
	 * system took them back (untimed RF_EXIT frees) */
	uint64_t exit_blocks;
	/* blocks HeapDestroy released, freed there (untimed too) */
	uint64_t heap_blocks;
	int read_err;            /* HT_E* that ended reading, or 0 */
	size_t read_err_trace;   /* the trace it is of */
	uint64_t read_err_offset;
	/* how long the replayed calls took in the recorded run, in ns, per
	 * kind (record --latency), else NULL; the caller frees it */
	struct rp_kind_stats *rec_lat;
};

/*
 * Reads every event of the traces s[0..ns) merged in time order
 * (evpipe_merge_next()) and writes the plan to fd (an empty, seekable
 * file).  Several traces are the processes of one recording: each
 * (trace, pid) is a process of its own, even where pids repeat, and
 * when a trace ends its process has exited: the blocks it left live are
 * released there.  Returns 0, or -1 with errno (I/O, memory).
 */
struct evsrc;
int plan_build(struct evsrc *s, size_t ns, int fd, const struct plan_opts *o,
	       struct plan_info *info);

#endif
