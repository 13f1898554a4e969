/*
 * test_evpipe.c - the merge of several traces (convert/evpipe.c,
 * evpipe_merge_next()): it hands out exactly the events of a merge by
 * (ts, pid, tid), and in runs as long as the order allows: a lone
 * trace's run is all its pipe gave, never one event at a time (stat,
 * cat, csv and replay prefetch a few events ahead inside a run).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"
#include "../convert/evpipe.h"

#define PER 5000    /* events of each thread */
#define BLOCK 1000  /* events per block */

static char dir[] = "/tmp/ht-evpipe-XXXXXX";

/* A trace of nthr threads of process pid, each with PER mallocs in
 * bursts of burst events 1 ns apart, one every step ns from t0, in
 * blocks of BLOCK. */
static int mktrace(const char *path, uint32_t pid, int nthr, uint64_t t0,
		   int burst, uint64_t step)
{
	struct ht_writer_opts o = { .block_events = BLOCK };
	struct ht_writer *w;
	struct ht_event *ev = calloc(PER, sizeof(*ev));
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), rc = 0;

	if (fd < 0 || !ev || ht_writer_open(&w, fd, &o))
		return -1;
	for (int j = 0; j < nthr; j++) {
		for (int k = 0; k < PER; k++) {
			ev[k].op = HT_OP_MALLOC;
			ev[k].pid = pid;
			ev[k].tid = pid + (uint32_t)j;
			ev[k].ts = t0 + (uint64_t)(k / burst) * step +
				    (uint64_t)(k % burst);
			ev[k].addr = 0x10000 + (uint64_t)k * 64;
			ev[k].size = (uint64_t)(k % 100) + 1;
		}
		rc |= ht_writer_write(w, ev, PER);
	}
	rc |= ht_writer_close(w);
	free(ev);
	return close(fd) || rc ? -1 : 0;
}

static int key_le(const struct ht_event *a, const struct ht_event *b)
{
	if (a->ts != b->ts)
		return a->ts < b->ts;
	if (a->pid != b->pid)
		return a->pid < b->pid;
	return a->tid <= b->tid;
}

/* Merges the traces paths[0..ns) (ns <= 2): checks the order, counts
 * the events, and each trace's runs and their shortest and longest. */
struct runs {
	uint64_t events, runs[2];
	size_t shortest[2], longest[2];
};

static void merge(char **paths, size_t ns, int jobs, struct runs *r)
{
	uint64_t start;
	struct evsrc *s = evpipe_open_all(paths, ns, HT_READ_STOP, jobs,
					  &start);
	const struct ht_event *ev, *prev = NULL;
	struct ht_event last;
	size_t n, which;
	int rc;

	memset(r, 0, sizeof(*r));
	r->shortest[0] = r->shortest[1] = SIZE_MAX;
	CHECK(s != NULL);
	if (!s)
		return;
	while ((rc = evpipe_merge_next(s, ns, &ev, &n, &which)) == 1) {
		CHECK(n >= 1);
		for (size_t i = 0; i < n; i++) {
			if (prev && !key_le(prev, &ev[i])) {
				CHECK(!"merge out of order");
				break;
			}
			last = ev[i];
			prev = &last;
		}
		r->events += n;
		r->runs[which]++;
		if (n > r->longest[which])
			r->longest[which] = n;
		if (n < r->shortest[which])
			r->shortest[which] = n;
	}
	CHECK_EQ(rc, 0);
	evpipe_close_all(s, ns);
}

static void test_one_trace_runs(void)
{
	char p[64], *paths[1] = { p };
	struct runs r;

	snprintf(p, sizeof(p), "%s/one.htape", dir);
	CHECK_EQ(mktrace(p, 100, 1, 1000, 1, 10), 0);
	for (int jobs = 0; jobs <= 2; jobs++) {
		merge(paths, 1, jobs, &r);
		CHECK_EQ(r.events, PER);
		/* a run is what the pipe gave: the rest of a block */
		CHECK_EQ(r.runs[0], PER / BLOCK);
		CHECK_EQ(r.shortest[0], BLOCK);
	}
	/* two threads of equal times: each run one event, the order
	 * (ts, pid, tid) alternating them */
	CHECK_EQ(mktrace(p, 100, 2, 1000, 1, 10), 0);
	merge(paths, 1, 1, &r);
	CHECK_EQ(r.events, 2 * PER);
	CHECK_EQ(r.longest[0], 1);
}

static void test_two_traces(void)
{
	char a[64], b[64], *paths[2] = { a, b };
	struct runs r;

	snprintf(a, sizeof(a), "%s/a.htape", dir);
	snprintf(b, sizeof(b), "%s/b.htape", dir);
	/* a: bursts of 5 at 1000, 1020, ...; b: one event at 1010, 1030,
	 * ... going on long after a's last, at 20980 */
	CHECK_EQ(mktrace(a, 200, 1, 1000, 5, 20), 0);
	CHECK_EQ(mktrace(b, 300, 1, 1010, 1, 20), 0);
	merge(paths, 2, 1, &r);
	CHECK_EQ(r.events, 2 * PER);
	/* a: its bursts, whole, one run each */
	CHECK_EQ(r.runs[0], PER / 5);
	CHECK_EQ(r.shortest[0], 5);
	CHECK_EQ(r.longest[0], 5);
	/* b: one event between two bursts, then, a ended, its blocks */
	CHECK_EQ(r.shortest[1], 1);
	CHECK_EQ(r.longest[1], BLOCK);
	CHECK(r.runs[1] <= PER / 5 + PER / BLOCK);
	/* b after a has ended: whole runs, as for one trace */
	CHECK_EQ(mktrace(a, 200, 1, 1000, 1, 10), 0);
	CHECK_EQ(mktrace(b, 300, 1, 1000000, 1, 10), 0);
	merge(paths, 2, 0, &r);
	CHECK_EQ(r.events, 2 * PER);
	CHECK_EQ(r.runs[0] + r.runs[1], 2 * PER / BLOCK);
}

int main(void)
{
	char cmd[64];
	int failed;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	TEST(test_one_trace_runs);
	TEST(test_two_traces);
	failed = TAP_DONE();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		return 1;
	return failed;
}
