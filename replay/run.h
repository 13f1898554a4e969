/*
 * run.h - allocators, the worker binary, and one replay run (run.c); the
 * reports over the runs (report.c).
 */
#ifndef HT_REPLAY_RUN_H
#define HT_REPLAY_RUN_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "replay.h"

struct alloc_spec {
	char name[64];
	char path[PATH_MAX]; /* "" for glibc: nothing preloaded */
};

/* Adds the allocator(s) named by spec ("glibc", "jemalloc", ..., "all",
 * or a path) to out[*n].  Returns 0, 1 after printing an error (missing
 * allocator), 2 for an unknown name. */
int alloc_resolve(const char *spec, struct alloc_spec *out, size_t *n,
		  size_t max);

/* Checks that a's path (if any) is a shared object of this machine that
 * defines malloc and free.  0, or 1 after printing one line. */
int alloc_check(const struct alloc_spec *a);

/* Path of heaptape-replay-worker: $HEAPTAPE_REPLAY_WORKER, else next to
 * the heaptape binary, else ../lib/heaptape/.  0 or -1. */
int worker_find(char *out, size_t n);

/* Runs the plan under allocator a; fills *res.  Returns 0, or -1 with a
 * message in err (res may still hold partial results). */
int run_worker(const char *worker, const char *plan, const char *tmpdir,
	       const struct alloc_spec *a, struct rp_result *res, char *err,
	       size_t errn);

/* Removes the result file of a run in progress (signal-safe). */
void run_cleanup(void);

/* One allocator's summary (medians over --repeat runs). */
struct kind_sum {
	uint64_t count;
	double p50, p99, p999, max, mean; /* ns */
};

struct alloc_sum {
	const struct alloc_spec *spec;
	int ok;
	char error[600];
	int runs;
	double wall_s, user_s, sys_s;
	double stall_s;       /* the replay stood still on the harness */
	uint64_t peak_rss, page_faults, calls, null_results, fallbacks;
	uint64_t content_errors, threads;
	double timer_ns;     /* the clock's cost, taken off call times */
	struct kind_sum kinds[RK_NCALLS];
	const struct rp_result *series; /* run whose rss_series is shown */
	char allocator[256];
};

/* Summarises nres results of one allocator into *s. */
void summarise(const struct rp_result *res, int nres, struct alloc_sum *s);

struct report_ctx {
	char *const *traces;           /* at least one */
	size_t ntraces;
	const struct plan_info *info;
	const struct alloc_sum *sums;
	size_t n;
	int timing_recorded;
	double speed;
	int touch, check;
	int have_pid;                  /* --pid */
	uint32_t pid;
	/* the recorded run, for comparison: allocator (NULL if unknown),
	 * its version, peak RSS of the whole process (has_rss: sampled) */
	const char *rec_alloc, *rec_alloc_version;
	uint64_t rec_peak_rss;
	int has_rec_rss;
	/* record --latency: the clock's own share of each recorded call
	 * time (recorder.clock_read_ns), taken off as replay's is */
	double rec_clock_ns;
};
void report_table(FILE *f, const struct report_ctx *c);
void report_csv(FILE *f, const struct report_ctx *c);
void report_json(FILE *f, const struct report_ctx *c);

#endif
