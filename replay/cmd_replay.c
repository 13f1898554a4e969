/*
 * cmd_replay.c - `heaptape replay TRACE [-a ALLOC]...`: build a replay plan
 * from the trace once (plan.c), run it under each allocator in its own
 * worker process (run.c, worker/worker.c) and compare (report.c).
 *
 * Several processes in one trace are replayed together, each recorded
 * thread as one replay thread and each process's addresses apart, unless
 * --pid picks one.  Damaged traces replay what is readable: a truncated
 * tail is a warning, a corrupt block an error unless --salvage.
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
#include "run.h"

#define MAX_ALLOCS 16

extern const struct ht_cmd cmd_replay_entry;

/* Temporary files to remove if heaptape is interrupted. */
static char tmp_dir[PATH_MAX], tmp_plan[PATH_MAX + 16];

static void on_signal(int sig)
{
	if (tmp_plan[0])
		unlink(tmp_plan);
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
	struct ht_reader *r = NULL;
	struct report_ctx rc_ = { 0 };
	const char *path, *json = NULL, *tmpbase;
	char worker[PATH_MAX], dir[PATH_MAX], plan[PATH_MAX + 16] = "";
	size_t nalloc = 0;
	uint64_t u;
	double speed = 1.0;
	int ch, err, csv = 0, touch = 1, check = 0, recorded = 0;
	int repeat = 1, salvage = 0, rc = 0, fd;
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
			return cli_usage(c, 2, "option needs a value");
		default:
			free(allocs);
			return cli_usage(c, 2, "unknown option");
		}
	}
	if (argc - optind != 1) {
		free(allocs);
		return cli_usage(c, 2, "need one trace");
	}
	if (speed != 1.0 && !recorded) {
		free(allocs);
		return cli_usage(c, 2, "--speed needs --timing=recorded");
	}
	path = argv[optind];
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
	if (worker_find(worker, sizeof(worker))) {
		free(allocs);
		return cli_error("cannot find heaptape-replay-worker next to "
				 "heaptape or in ../lib/heaptape (set "
				 "HEAPTAPE_REPLAY_WORKER)");
	}

	{
		enum cli_kind k = cli_file_kind(path);
		if (k != CLI_KIND_HTAPE && k != CLI_KIND_UNKNOWN) {
			free(allocs);
			return cli_error("'%s' is not a heaptape trace (it "
					 "looks like %s); convert it first: "
					 "heaptape convert '%s' OUT.htape",
					 path, cli_kind_name(k), path);
		}
	}
	err = ht_reader_open(&r, path, salvage ? HT_READ_SALVAGE
					       : HT_READ_STOP);
	if (err && r && err == HT_ETRUNC && !salvage) {
		/* A cut tail: replay every whole block before it. */
		cli_warn("'%s': trace ends inside a block at offset %llu; "
			 "replaying the blocks before it", path,
			 (unsigned long long)ht_reader_error_offset(r));
		ht_reader_close(r);
		r = NULL;
		err = ht_reader_open(&r, path, HT_READ_SALVAGE);
	}
	if (err) {
		if (!r) {
			free(allocs);
			return cli_error("cannot open '%s': %s", path,
					 err == HT_EIO ? strerror(errno)
						       : ht_strerror(err));
		}
		cli_trace_error(r, path, err);
		ht_reader_close(r);
		free(allocs);
		return 1;
	}
	if (recorded && (ht_reader_flags(r) & HT_TRACE_NO_TIME)) {
		const char *src = ht_reader_meta(r, "trace.source");
		cli_error("'%s': the trace has no real time stamps (source: "
			  "%s); use --timing=asap", path, src ? src : "unknown");
		ht_reader_close(r);
		free(allocs);
		return 1;
	}

	tmpbase = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/heaptape-replay.XXXXXX",
		 tmpbase && *tmpbase ? tmpbase : "/tmp");
	if (!mkdtemp(dir)) {
		ht_reader_close(r);
		free(allocs);
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
	if (plan_build(r, fd, &po, &info)) {
		rc = cli_error("cannot write the replay plan '%s': %s", plan,
			       strerror(errno));
		close(fd);
		goto out;
	}
	close(fd);
	if (info.read_err) {
		cli_warn("'%s': %s at offset %llu; replaying the %llu events "
			 "before it", path, ht_strerror(info.read_err),
			 (unsigned long long)info.read_err_offset,
			 (unsigned long long)info.events_read);
		if (info.read_err != HT_ETRUNC && !salvage)
			rc = 1;
	} else if (!ht_reader_complete(r) && !salvage) {
		const struct ht_problem *pr;
		struct ht_trace_info ti;
		size_t np = ht_reader_problems(r, &pr);
		ht_reader_info(r, &ti);
		cli_warn("'%s': trace ends without its END block at offset "
			 "%llu (cut short?); replaying the %llu events of its "
			 "whole blocks", path,
			 (unsigned long long)(np ? pr[0].offset
						 : ti.file_bytes),
			 (unsigned long long)info.events_read);
	} else if (salvage) {
		const struct ht_problem *pr;
		size_t np = ht_reader_problems(r, &pr);
		for (size_t i = 0; i < np; i++)
			cli_warn("'%s': %s at offset %llu (skipped)", path,
				 ht_strerror(pr[i].code),
				 (unsigned long long)pr[i].offset);
	}
	if (po.have_pid && !info.events_read)
		cli_warn("'%s': no events of pid %u", path, po.pid);
	if (set_options(plan, (touch ? RP_OPT_TOUCH : 0) |
				      (check ? RP_OPT_CHECK : 0) |
				      (recorded ? RP_OPT_RECORDED : 0),
			sample, speed,
			window ? (uint32_t)((window + RP_EPOCH_OPS - 1) /
					    RP_EPOCH_OPS) : 0)) {
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
	rc_.trace = path;
	rc_.info = &info;
	rc_.sums = sums;
	rc_.n = nalloc;
	rc_.timing_recorded = recorded;
	rc_.speed = speed;
	rc_.touch = touch;
	rc_.check = check;
	rc_.rec_alloc = ht_reader_meta(r, "allocator.name");
	rc_.rec_alloc_version = ht_reader_meta(r, "allocator.version");
	{
		const char *ck = ht_reader_meta(r, "recorder.clock_read_ns");

		rc_.rec_clock_ns = ck ? strtod(ck, NULL) : 0;
		if (!(rc_.rec_clock_ns >= 0 && rc_.rec_clock_ns < 1e6))
			rc_.rec_clock_ns = 0; /* not a plausible value */
	}
	{
		const struct ht_rss_sample *rs;
		size_t nrs = ht_reader_rss(r, &rs);

		for (size_t i = 0; i < nrs; i++) {
			if (po.have_pid && rs[i].pid != po.pid)
				continue;
			rc_.has_rec_rss = 1;
			if (rs[i].rss_bytes > rc_.rec_peak_rss)
				rc_.rec_peak_rss = rs[i].rss_bytes;
		}
	}
	if (json) {
		struct cli_out o;
		if (cli_out_open(&o, json)) {
			rc = 1;
		} else {
			report_json(o.fp, &rc_);
			if (cli_out_commit(&o))
				rc = 1;
		}
	}
	if (csv)
		report_csv(stdout, &rc_);
	else if (!json || strcmp(json, "-"))
		report_table(stdout, &rc_);
out:
	rm_tree(dir, plan);
	catch_signals(SIG_DFL);
	tmp_dir[0] = tmp_plan[0] = 0;
	ht_reader_close(r);
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
	.usage = "replay [options] TRACE",
	.summary = "replay a trace against allocators and compare them",
	.help =
	"options:\n"
	"  -a, --allocator A    glibc, jemalloc, mimalloc, tcmalloc, all (every\n"
	"                       installed one) or a path to a malloc .so;\n"
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
	"p99.9, max) per call kind, peak RSS above the harness baseline, ideal\n"
	"peak (peak live requested bytes), fragmentation = peak RSS / ideal\n"
	"peak, page faults, events replayed and skipped (unknown_free,\n"
	"double_free, failed_call, unsupported_op, loss_gap, too_large: a\n"
	"block bigger than this machine's memory).\n"
	"exit 1 if an allocator crashed or failed --check-contents, or the\n"
	"trace is corrupt (a cut tail only warns).\n",
	.run = cmd_replay,
};
