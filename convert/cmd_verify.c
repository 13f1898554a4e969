/*
 * cmd_verify.c - `heaptape verify TRACE...`: check every checksum and
 * the structure of each trace; one line per problem with its byte offset.
 *
 * The trace is opened in salvage mode, so the reader walks every block
 * and records each damaged one (header hash, payload hash, bad framing,
 * sequence gaps, a cut tail) instead of stopping at the first.  Every
 * EVENTS block is then decoded as well: a payload whose hash is right
 * but whose columns do not decode is a problem too.  A trace without its
 * END block (the writer died) is reported as truncated, with how many
 * events are still readable.  Exit 0 when every trace is clean, else 1.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "evpipe.h"

extern const struct ht_cmd cmd_verify_entry;

static void problem(const char *path, uint64_t off, const char *msg,
		    const char *what)
{
	cli_error("'%s': offset %" PRIu64 ": %s%s%s%s", path, off, msg,
		  what && what[0] ? " (" : "", what ? what : "",
		  what && what[0] ? ")" : "");
}

/* Every EVENTS block decoded, by several threads: each takes the next
 * block number and writes its result (events or HT_E*) into res[i]. */
struct decode_job {
	const struct ht_reader *r;
	const struct ht_block_info *blk;
	size_t nblk, next;
	int *res;
	pthread_mutex_t mu;
};

static void *decode_worker(void *arg)
{
	struct decode_job *j = arg;
	struct ht_decoder *d = NULL;
	struct ht_columns cols;

	if (ht_decoder_new(&d))
		d = NULL;
	for (;;) {
		size_t i;
		pthread_mutex_lock(&j->mu);
		i = j->next++;
		pthread_mutex_unlock(&j->mu);
		if (i >= j->nblk)
			break;
		/* as columns: every check of the block, no events to build */
		j->res[i] = d ? ht_reader_decode_columns(j->r, d, i, &cols) :
				HT_ENOMEM;
	}
	ht_decoder_free(d);
	return NULL;
}

static void decode_all(const struct ht_reader *r,
		       const struct ht_block_info *blk, size_t nblk, int *res)
{
	struct decode_job j = {.r = r, .blk = blk, .nblk = nblk, .res = res};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t thr[16];
	int n = 0;

	pthread_mutex_init(&j.mu, NULL);
	if (ncpu > 16)
		ncpu = 16;
	for (long i = 1; i < ncpu && (size_t)i < nblk; i++)
		if (!pthread_create(&thr[n], NULL, decode_worker, &j))
			n++;
	decode_worker(&j);
	for (int i = 0; i < n; i++)
		pthread_join(thr[i], NULL);
	pthread_mutex_destroy(&j.mu);
}

/* Verifies one trace; returns the number of problems found. */
static size_t verify_one(const char *path, int quiet)
{
	const struct ht_problem *p;
	const struct ht_block_info *blk;
	struct ht_trace_info info;
	struct ht_reader *r = NULL;
	int *res;
	size_t nprob, nblk, bad = 0, trunc_seen = 0;
	uint64_t events = 0, trunc_at = 0;
	int err;

	/* "-": standard input, as stat reads it */
	err = strcmp(path, "-") ? ht_reader_open(&r, path, HT_READ_SALVAGE) :
	      ht_reader_open_fd(&r, STDIN_FILENO, HT_READ_SALVAGE);
	if (!strcmp(path, "-"))
		path = "(stdin)";
	if (err && !r) {
		if (err == HT_EIO)
			cli_error("cannot open '%s': %s", path,
				  strerror(errno));
		else
			cli_error("cannot open '%s': %s", path,
				  ht_strerror(err));
		return 1;
	}
	if (err) {
		/* Only a bad file header is fatal in salvage mode. */
		if (!cli_header_cut(r, path, err, "offset 0: "))
			problem(path, ht_reader_error_offset(r), ht_strerror(err),
			"file header");
		ht_reader_close(r);
		return 1;
	}
	ht_reader_info(r, &info);
	nprob = ht_reader_problems(r, &p);
	for (size_t i = 0; i < nprob; i++) {
		char what[160];
		if (p[i].code == HT_ETRUNC) {
			if (!trunc_seen++)
				trunc_at = p[i].offset;
		}
		snprintf(what, sizeof(what), "%s", p[i].what);
		if (p[i].skipped)
			snprintf(what + strlen(what),
				 sizeof(what) - strlen(what),
				 "%s%" PRIu64 " bytes skipped",
				 p[i].what[0] ? "; " : "", p[i].skipped);
		/* seq_from..seq_to: the block numbers lost, inclusive. */
		if (p[i].code != HT_ETRUNC && p[i].seq_to >= p[i].seq_from &&
		    (p[i].skipped || p[i].code == HT_ESEQ))
			snprintf(what + strlen(what),
				 sizeof(what) - strlen(what),
				 "%sblock%s %" PRIu64 "%s%.0" PRIu64 " lost",
				 what[0] ? "; " : "",
				 p[i].seq_to > p[i].seq_from ? "s" : "",
				 p[i].seq_from,
				 p[i].seq_to > p[i].seq_from ? "-" : "",
				 p[i].seq_to > p[i].seq_from ? p[i].seq_to : 0);
		{
			uint64_t ev;

			evpipe_problem_note(r, &p[i], i, what, sizeof(what),
					    &ev);
		}
		if (p[i].code == HT_ETRUNC && !p[i].skipped)
			problem(path, p[i].offset, "trace has no END block",
				"the writer did not close it");
		else
			problem(path, p[i].offset, ht_strerror(p[i].code),
				what);
		bad++;
	}

	nblk = ht_reader_blocks(r, &blk);
	res = calloc(nblk + 1, sizeof(*res));
	if (!res) {
		cli_error("'%s': out of memory", path);
		ht_reader_close(r);
		return bad + 1;
	}
	decode_all(r, blk, nblk, res);
	for (size_t i = 0; i < nblk; i++) {
		int n = res[i];
		if (n == HT_ENOMEM) {
			cli_error("'%s': out of memory", path);
			bad++;
			break;
		}
		if (n < 0) {
			char what[96];

			snprintf(what, sizeof(what), "%s; %u events lost",
				 n == HT_ECHECKSUM ? "payload hash" :
				 "events block does not decode",
				 blk[i].count);
			problem(path, blk[i].offset, ht_strerror(n), what);
			bad++;
		} else if ((uint32_t)n != blk[i].count) {
			problem(path, blk[i].offset, ht_strerror(HT_ECORRUPT),
				"event count differs from the block header");
			bad++;
		} else {
			events += (uint64_t)n;
		}
	}
	free(res);

	if (!ht_reader_complete(r)) {
		if (!trunc_seen) {
			/* The file ends on a block boundary: the writer
			 * stopped between two blocks. */
			trunc_at = info.file_bytes;
			problem(path, trunc_at, "trace has no END block",
				"the writer did not close it");
			bad++;
		}
	}
	if (!bad) {
		if (!quiet)
			printf("%s: ok, %" PRIu64 " events, %" PRIu64
			       " blocks, complete\n", path, events,
			       info.blocks);
	} else {
		printf("%s: %zu problem%s, %" PRIu64 " events readable, %"
		       PRIu64 " blocks", path, bad, bad == 1 ? "" : "s",
		       events, info.blocks);
		if (!ht_reader_complete(r))
			printf(", truncated at offset %" PRIu64, trunc_at);
		putchar('\n');
	}
	ht_reader_close(r);
	return bad;
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	const struct ht_cmd *c = &cmd_verify_entry;
	int ch, quiet = 0, rc = 0;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":hq", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return cli_usage(c, 0, NULL);
		case 'q':
			quiet = 1;
			break;
		default:
			return cli_bad_option(c, ch, argv);
		}
	}
	if (optind == argc)
		return cli_usage(c, 2, "need at least one trace");
	for (int i = optind; i < argc; i++) {
		if (verify_one(argv[i], quiet))
			rc = 1;
		fflush(stdout);
	}
	return rc;
}

const struct ht_cmd cmd_verify_entry = {
	.name = "verify",
	.usage = "verify [-q] TRACE...",
	.summary = "check every checksum and block of traces, report damage",
	.help =
	"options:\n"
	"  -q, --quiet    print nothing for a trace without problems\n"
	"Each problem is one line on stderr with its byte offset, e.g.\n"
	"  heaptape verify: 'f.htape': offset 81920: checksum mismatch "
	"(payload hash)\n"
	"then a summary per trace on stdout: 'F: ok, N events, M blocks,\n"
	"complete', or the problems, the events still readable and where a\n"
	"truncated trace ends.  A trace without its END block (the writer\n"
	"died) counts as a problem.  Exit 0 if every trace is clean, else 1.\n",
	.run = cmd_verify,
};
