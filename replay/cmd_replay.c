/*
 * cmd_replay.c - `heaptape replay TRACE... [-a ALLOC]...`: build a replay
 * plan from the traces once (plan.c), run it under each allocator in its
 * own worker process (run.c, worker/worker.c) and compare (report.c).
 *
 * Several processes, in one trace or in several (a process and its
 * children: NAME NAME.*), are replayed together, each recorded thread
 * as one replay thread and each process's addresses apart, unless --pid
 * picks one; a process's blocks still live when its trace ends are
 * freed there, as its exit gave them back.  Damaged traces replay what
 * is readable: a truncated tail is a warning, a corrupt block an error
 * unless --salvage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../convert/cli.h"
#include "../convert/evpipe.h"
#include "run.h"

#define MAX_ALLOCS 16

extern const struct ht_cmd cmd_replay_entry;

/* Temporary files to remove if heaptape is interrupted. */
static char tmp_dir[PATH_MAX], tmp_plan[PATH_MAX + 16];
static char tmp_json[sizeof(((struct cli_out *)0)->tmp)];

static void on_signal(int sig)
{
	if (tmp_plan[0])
		unlink(tmp_plan);
	if (tmp_json[0])
		unlink(tmp_json);
	run_cleanup();
	if (tmp_dir[0])
		rmdir(tmp_dir);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void catch_signals(void (*fn)(int))
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], fn);
}

static int rm_tree(const char *dir, const char *plan)
{
	if (plan[0])
		unlink(plan);
	return rmdir(dir);
}

static int set_options(const char *plan, uint32_t options, uint32_t sample,
		       double speed, uint32_t window)
{
	FILE *f = fopen(plan, "r+b");
	struct rp_header h;
	int rc = -1;

	if (!f)
		return -1;
	if (fread(&h, sizeof(h), 1, f) == 1) {
		h.options = options;
		h.sample = sample;
		h.speed = speed;
		h.window = window;
		if (!fseek(f, 0, SEEK_SET) && fwrite(&h, sizeof(h), 1, f) == 1)
			rc = 0;
	}
	if (fclose(f))
		rc = -1;
	return rc;
}

/*
 * Opens trace path for replay into *s (reader and pipe): a cut tail is
 * a warning and the trace is read in salvage mode up to it.  Returns 0,
 * or 1 after an error message.
 */
static int open_one(struct evsrc *s, const char *path, int salvage,
		    int recorded, int jobs)
{
	enum cli_kind k = cli_file_kind(path);
	int err, mode = salvage ? HT_READ_SALVAGE : HT_READ_STOP;

	s->path = path;
	if (k != CLI_KIND_HTAPE && k != CLI_KIND_UNKNOWN)
		return cli_error("'%s' is not a heaptape trace (it looks like "
				 "%s); convert it first: heaptape convert "
				 "'%s' OUT.htape", path, cli_kind_name(k),
				 path);
	err = ht_reader_open(&s->r, path, mode);
	if (err && s->r && err == HT_ETRUNC && !salvage) {
		/* A cut tail: replay every whole block before it. */
		unsigned long long off = ht_reader_error_offset(s->r);

		ht_reader_close(s->r);
		s->r = NULL;
		mode = HT_READ_SALVAGE;
		err = ht_reader_open(&s->r, path, mode);
		if (!err)
			cli_warn("'%s': trace ends inside a block at offset "
				 "%llu; replaying the blocks before it", path,
				 off);
	}
	if (err) {
		if (!s->r)
			return cli_error("cannot open '%s': %s", path,
					 err == HT_EIO ? strerror(errno)
						       : ht_strerror(err));
		cli_trace_error(s->r, path, err);
		return 1;
	}
	if (recorded && (ht_reader_flags(s->r) & HT_TRACE_NO_TIME)) {
		const char *src = ht_reader_meta(s->r, "trace.source");
		return cli_error("'%s': the trace has no real time stamps "
				 "(source: %s); use --timing=asap", path,
				 src ? src : "unknown");
	}
	if ((err = evpipe_open(&s->p, s->r, mode, jobs)))
		return cli_error("'%s': %s", path, ht_strerror(err));
	return 0;
}

/* After the plan: what of trace s was not read, said once. */
static int warn_unread(const struct evsrc *s, size_t i,
		       const struct plan_info *info, int salvage)
{
	const struct ht_problem *pr;
	size_t np = ht_reader_problems(s->r, &pr);

	if (info->read_err && info->read_err_trace == i) {
		cli_warn("'%s': %s at offset %llu; replaying the %llu events "
			 "before it", s->path, ht_strerror(info->read_err),
			 (unsigned long long)info->read_err_offset,
			 (unsigned long long)info->events_read);
		return info->read_err != HT_ETRUNC && !salvage;
	}
	if (salvage) {
		/* the reader's problems, then the blocks that did not
		 * decode */
		for (int from = 0; from < 2; from++) {
			if (from)
				np = evpipe_problems(s->p, &pr);
			for (size_t k = 0; k < np; k++)
				cli_warn("'%s': %s at offset %llu (skipped)",
					 s->path, ht_strerror(pr[k].code),
					 (unsigned long long)pr[k].offset);
		}
	} else if (!ht_reader_complete(s->r) && !info->read_err) {
		struct ht_trace_info ti;

		ht_reader_info(s->r, &ti);
		cli_warn("'%s': trace ends without its END block at offset "
			 "%llu (cut short?); replaying the %llu events of its "
			 "whole blocks", s->path,
			 (unsigned long long)(np ? pr[0].offset
						 : ti.file_bytes),
			 (unsigned long long)ti.events);
	}
	return 0;
}

/* The recorded run's peak RSS: of the processes of every trace
 * together, at the time of each sample, each process counted from its
 * first sample to its last (near its exit).  0 if none was sampled. */
struct rss_pt {
	uint64_t ts, bytes;
	uint32_t proc;  /* (trace, pid) numbered in order of first sample */
};

static int rss_cmp(const void *a, const void *b)
{
	const struct rss_pt *x = a, *y = b;

	if (x->ts != y->ts)
		return (x->ts > y->ts) - (x->ts < y->ts);
	return (x->proc > y->proc) - (x->proc < y->proc);
}

static int recorded_rss(const struct evsrc *s, size_t ns,
			const struct plan_opts *po, uint64_t *peak)
{
	struct rss_pt *pt = NULL;
	uint64_t *cur = NULL, sum = 0;
	uint32_t *left = NULL, *pids = NULL, nproc = 0;
	size_t n = 0, k = 0;

	*peak = 0;
	for (size_t i = 0; i < ns; i++) {
		const struct ht_rss_sample *rs;
		n += ht_reader_rss(s[i].r, &rs);
	}
	if (!n)
		return 0;
	pt = malloc(n * sizeof(*pt));
	pids = malloc(n * sizeof(*pids));
	left = calloc(n, sizeof(*left));
	cur = calloc(n, sizeof(*cur));
	if (!pt || !pids || !left || !cur)
		goto out;
	for (size_t i = 0; i < ns; i++) {
		const struct ht_rss_sample *rs;
		size_t m = ht_reader_rss(s[i].r, &rs);
		uint32_t first = nproc; /* this trace's processes */

		for (size_t j = 0; j < m; j++) {
			uint32_t q = first;

			if (po->have_pid && rs[j].pid != po->pid)
				continue;
			while (q < nproc && pids[q] != rs[j].pid)
				q++;
			if (q == nproc)
				pids[nproc++] = rs[j].pid;
			pt[k].ts = rs[j].ts;
			pt[k].bytes = rs[j].rss_bytes;
			pt[k++].proc = q;
			left[q]++;
		}
	}
	qsort(pt, k, sizeof(*pt), rss_cmp);
	for (size_t j = 0; j < k; j++) {
		uint32_t q = pt[j].proc;

		sum = sum - cur[q] + pt[j].bytes;
		cur[q] = pt[j].bytes;
		if (sum > *peak)
			*peak = sum;
		if (!--left[q]) { /* its last sample: the process ends */
			sum -= cur[q];
			cur[q] = 0;
		}
	}
out:
	free(pt);
	free(pids);
	free(left);
	free(cur);
	return k > 0;
}

static int cmd_replay(int argc, char **argv)
{
	enum { O_THREADS = 256, O_TIMING, O_SPEED, O_NO_TOUCH, O_CHECK,
	       O_JSON, O_CSV, O_REPEAT, O_PID, O_SALVAGE, O_SAMPLE,
	       O_WINDOW };
	static const struct option longopts[] = {
		{"allocator", required_argument, 0, 'a'},
		{"threads", required_argument, 0, O_THREADS},
		{"timing", required_argument, 0, O_TIMING},
		{"speed", required_argument, 0, O_SPEED},
		{"no-touch", no_argument, 0, O_NO_TOUCH},
		{"check-contents", no_argument, 0, O_CHECK},
		{"json", required_argument, 0, O_JSON},
		{"csv", no_argument, 0, O_CSV},
		{"repeat", required_argument, 0, O_REPEAT},
		{"pid", required_argument, 0, O_PID},
		{"salvage", no_argument, 0, O_SALVAGE},
		{"sample", required_argument, 0, O_SAMPLE},
		{"window", required_argument, 0, O_WINDOW},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	const struct ht_cmd *c = &cmd_replay_entry;
	struct alloc_spec *allocs;
	struct alloc_sum *sums = NULL;
	struct rp_result *res = NULL;
	struct plan_opts po = { 0 };
	struct plan_info info = { 0 };
	struct evsrc *src = NULL;
	size_t ns = 0;
	struct report_ctx rc_ = { 0 };
	struct cli_out jout = { 0 };
	const char *json = NULL, *tmpbase;
	char worker[PATH_MAX], dir[PATH_MAX], plan[PATH_MAX + 16] = "";
	size_t nalloc = 0;
	uint64_t u;
	double speed = 1.0;
	int ch, err, csv = 0, touch = 1, check = 0, recorded = 0;
	int repeat = 1, salvage = 0, rc = 0, fd, jopen = 0;
	uint32_t sample = 1;
	uint64_t window = 1024;

	allocs = calloc(MAX_ALLOCS, sizeof(*allocs));
	if (!allocs)
		return cli_error("out of memory");
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":ha:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			free(allocs);
			return cli_usage(c, 0, NULL);
		case 'a':
			if ((err = alloc_resolve(optarg, allocs, &nalloc,
						 MAX_ALLOCS))) {
				free(allocs);
				return err;
			}
			break;
		case O_THREADS:
			if (!strcmp(optarg, "1"))
				po.one_thread = 1;
			else if (strcmp(optarg, "recorded"))
				goto usage_threads;
			break;
		case O_TIMING:
			if (!strcmp(optarg, "recorded"))
				recorded = 1;
			else if (!strcmp(optarg, "asap"))
				recorded = 0;
			else {
				free(allocs);
				return cli_usage(c, 2, "--timing is asap or "
						       "recorded");
			}
			break;
		case O_SPEED: {
			char *end;
			errno = 0;
			speed = strtod(optarg, &end);
			if (errno || *end || !(speed > 0) || speed > 1e9) {
				free(allocs);
				return cli_usage(c, 2, "--speed needs a "
						       "positive number");
			}
			break;
		}
		case O_NO_TOUCH:
			touch = 0;
			break;
		case O_CHECK:
			check = 1;
			break;
		case O_JSON:
			json = optarg;
			break;
		case O_CSV:
			csv = 1;
			break;
		case O_REPEAT:
			if (cli_parse_u64(optarg, &u) || !u || u > 64) {
				free(allocs);
				return cli_usage(c, 2, "--repeat is 1 to 64");
			}
			repeat = (int)u;
			break;
		case O_PID:
			if (cli_parse_u64(optarg, &u) || u > UINT32_MAX) {
				free(allocs);
				return cli_usage(c, 2, "bad --pid");
			}
			po.have_pid = 1;
			po.pid = (uint32_t)u;
			break;
		case O_SALVAGE:
			salvage = 1;
			break;
		case O_SAMPLE:
			if (cli_parse_u64(optarg, &u) || !u || u > 1000000) {
				free(allocs);
				return cli_usage(c, 2, "--sample is 1 to "
						       "1000000");
			}
			sample = (uint32_t)u;
			break;
		case O_WINDOW:
			if (cli_parse_u64(optarg, &window) ||
			    window > (1ull << 40)) {
				free(allocs);
				return cli_usage(c, 2, "bad --window");
			}
			break;
		case ':':
			free(allocs);
			return cli_bad_option(c, ':', argv);
		default:
			free(allocs);
			return cli_bad_option(c, ch, argv);
		}
	}
	if (argc - optind < 1) {
		free(allocs);
		return cli_usage(c, 2, "need a trace");
	}
	if (speed != 1.0 && !recorded) {
		free(allocs);
		return cli_usage(c, 2, "--speed needs --timing=recorded");
	}
	if (csv && json && !strcmp(json, "-")) {
		free(allocs);
		return cli_usage(c, 2, "--csv and --json - both want stdout");
	}
	{
		/* A block bigger than the machine cannot be touched: skip
		 * it rather than have the replay killed. */
		long pages = sysconf(_SC_PHYS_PAGES);
		long psz = sysconf(_SC_PAGESIZE);
		po.max_block = pages > 0 && psz > 0
				       ? (uint64_t)pages * (uint64_t)psz
				       : (1ull << 40);
	}
	if (!nalloc)
		alloc_resolve("glibc", allocs, &nalloc, MAX_ALLOCS);
	for (size_t i = 0; i < nalloc; i++)
		if (alloc_check(&allocs[i])) {
			free(allocs);
			return 1;
		}
	if (worker_find(worker, sizeof(worker))) {
		free(allocs);
		return cli_error("cannot find heaptape-replay-worker next to "
				 "heaptape or in ../lib/heaptape (set "
				 "HEAPTAPE_REPLAY_WORKER)");
	}

	ns = (size_t)(argc - optind);
	if (json && cli_out_is_input(json, argv + optind, ns)) {
		free(allocs);
		return cli_error("'%s' is also an input: the report would "
				 "replace it; name another --json file", json);
	}
	if (!(src = calloc(ns, sizeof(*src)))) {
		free(allocs);
		return cli_error("out of memory");
	}
	for (size_t i = 0; i < ns; i++)
		if (open_one(&src[i], argv[optind + (int)i], salvage, recorded,
			     ns > 1 ? 0 : -1)) {
			evpipe_close_all(src, ns);
			free(allocs);
			return 1;
		}
	/* a trace given twice would replay its process twice, side by
	 * side: said once, as stat and cat say it */
	for (size_t i = 0; i < ns; i++)
		evpipe_warn_same(src, i);

	/* The output is created before the work, as convert does: a path
	 * that cannot be written is found now, not after every replay. */
	if (json && cli_out_open(&jout, json)) {
		evpipe_close_all(src, ns);
		free(allocs);
		return 1;
	}
	jopen = json != NULL;
	if (jopen && !jout.is_stdout && !jout.direct)
		snprintf(tmp_json, sizeof(tmp_json), "%s", jout.tmp);
	tmpbase = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/heaptape-replay.XXXXXX",
		 tmpbase && *tmpbase ? tmpbase : "/tmp");
	if (!mkdtemp(dir)) {
		evpipe_close_all(src, ns);
		free(allocs);
		if (jopen)
			cli_out_abort(&jout);
		tmp_json[0] = 0;
		return cli_error("cannot create a directory in '%s': %s",
				 tmpbase && *tmpbase ? tmpbase : "/tmp",
				 strerror(errno));
	}
	snprintf(plan, sizeof(plan), "%s/plan", dir);
	snprintf(tmp_dir, sizeof(tmp_dir), "%s", dir);
	snprintf(tmp_plan, sizeof(tmp_plan), "%s", plan);
	catch_signals(on_signal);
	fd = open(plan, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = cli_error("cannot create '%s': %s", plan, strerror(errno));
		goto out;
	}
	po.window = window ? (uint32_t)((window + RP_EPOCH_OPS - 1) /
					RP_EPOCH_OPS) : 0;
	if (plan_build(src, ns, fd, &po, &info)) {
		rc = cli_error("cannot write the replay plan '%s': %s", plan,
			       strerror(errno));
		close(fd);
		goto out;
	}
	close(fd);
	for (size_t i = 0; i < ns; i++)
		if (warn_unread(&src[i], i, &info, salvage))
			rc = 1;
	if (po.have_pid && !info.events_read)
		cli_warn("'%s'%s: no events of pid %u", src[0].path,
			 ns > 1 ? " and the others" : "", po.pid);
	if (set_options(plan, (touch ? RP_OPT_TOUCH : 0) |
				      (check ? RP_OPT_CHECK : 0) |
				      (recorded ? RP_OPT_RECORDED : 0),
			sample, speed,
			po.window)) {
		rc = cli_error("cannot update '%s': %s", plan, strerror(errno));
		goto out;
	}

	sums = calloc(nalloc, sizeof(*sums));
	res = calloc(nalloc * (size_t)repeat, sizeof(*res));
	if (!sums || !res) {
		rc = cli_error("out of memory");
		goto out;
	}
	for (size_t i = 0; i < nalloc; i++) {
		struct rp_result *ri = &res[i * (size_t)repeat];
		int ok = 1;

		sums[i].spec = &allocs[i];
		for (int k = 0; k < repeat && ok; k++)
			if (run_worker(worker, plan, dir, &allocs[i], &ri[k],
				       sums[i].error, sizeof(sums[i].error)))
				ok = 0;
		sums[i].ok = ok;
		if (ok) {
			summarise(ri, repeat, &sums[i]);
		} else {
			cli_warn("%s", sums[i].error);
			rc = 1;
		}
	}
	rc_.ntraces = ns;
	rc_.traces = argv + optind;
	rc_.info = &info;
	rc_.sums = sums;
	rc_.n = nalloc;
	rc_.timing_recorded = recorded;
	rc_.speed = speed;
	rc_.touch = touch;
	rc_.check = check;
	rc_.have_pid = po.have_pid;
	rc_.pid = po.pid;
	rc_.rec_alloc = ht_reader_meta(src[0].r, "allocator.name");
	rc_.rec_alloc_version = ht_reader_meta(src[0].r, "allocator.version");
	{
		const char *ck = ht_reader_meta(src[0].r,
						"recorder.clock_read_ns");

		rc_.rec_clock_ns = ck ? strtod(ck, NULL) : 0;
		if (!(rc_.rec_clock_ns >= 0 && rc_.rec_clock_ns < 1e6))
			rc_.rec_clock_ns = 0; /* not a plausible value */
	}
	rc_.has_rec_rss = recorded_rss(src, ns, &po, &rc_.rec_peak_rss);
	if (json) {
		report_json(jout.fp, &rc_);
		jopen = 0; /* committed or removed by commit */
		tmp_json[0] = 0;
		if (cli_out_commit(&jout))
			rc = 1;
	}
	if (csv)
		report_csv(stdout, &rc_);
	else if (!json || strcmp(json, "-"))
		report_table(stdout, &rc_);
out:
	if (jopen)
		cli_out_abort(&jout);
	rm_tree(dir, plan);
	catch_signals(SIG_DFL);
	tmp_dir[0] = tmp_plan[0] = tmp_json[0] = 0;
	evpipe_close_all(src, ns);
	free(info.rec_lat);
	free(res);
	free(sums);
	free(allocs);
	return rc;
usage_threads:
	free(allocs);
	return cli_usage(c, 2, "--threads is 1 (serialise) or recorded");
}

const struct ht_cmd cmd_replay_entry = {
	.name = "replay",
	.usage = "replay [options] TRACE...",
	.summary = "replay a trace against allocators and compare them",
	.help =
	"options:\n"
	"  -a, --allocator A    glibc, jemalloc, mimalloc, tcmalloc, all (every\n"
	"                       installed one) or a path to a malloc .so\n"
	"                       (checked first: a shared object that\n"
	"                       defines malloc and free);\n"
	"                       repeat for a side-by-side comparison\n"
	"                       (default glibc)\n"
	"  --threads=1          serialise every event on one thread in global\n"
	"                       order (default: one thread per recorded one)\n"
	"  --timing=asap|recorded  as fast as possible (default) or keep the\n"
	"                       recorded gaps between events\n"
	"  --speed X            with --timing=recorded: X times faster\n"
	"  --no-touch           do not write to allocated pages\n"
	"  --check-contents     fill blocks with a pattern, verify at free and\n"
	"                       across realloc; a mismatch fails the replay\n"
	"  --json FILE          results as JSON (\"-\" for stdout)\n"
	"  --csv                results as CSV, one row per allocator\n"
	"  --repeat N           run each allocator N times, report medians\n"
	"  --pid N              replay only process N (default: every process\n"
	"                       together, each with its own threads and\n"
	"                       addresses)\n"
	"  --salvage            skip damaged blocks instead of stopping\n"
	"  --sample N           time one allocator call in N (default 1)\n"
	"  --window N           no thread runs more than about N events (in\n"
	"                       recorded order) ahead of another; 0 = no\n"
	"                       limit, only hand-offs are ordered (default\n"
	"                       1024)\n"
	"reports per allocator: wall/user/sys time, ns per call (p50, p99,\n"
	"p99.9, max) per call kind, peak RSS above the harness baseline\n"
	"(sampled every ms, and read right after the call that reaches the\n"
	"ideal peak), ideal peak (peak live requested bytes), fragmentation\n"
	"= peak RSS / ideal peak, page faults, events replayed and skipped\n"
	"(unknown_free, double_free, failed_call, unsupported_op, loss_gap,\n"
	"too_large: a block bigger than this machine's memory).\n"
	"Several traces (a process and its children: NAME NAME.*) replay\n"
	"together in their recorded time order, as one program; the blocks\n"
	"a process left live when its trace ends are freed there, untimed\n"
	"(its exit gave them back), and the recorded peak RSS is of the\n"
	"processes together.\n"
	"exit 1 if an allocator crashed or failed --check-contents, or the\n"
	"trace is corrupt (a cut tail only warns).\n",
	.run = cmd_replay,
};
