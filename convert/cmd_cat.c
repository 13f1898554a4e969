/*
 * cmd_cat.c - `heaptape cat TRACE`: every event as one readable line
 * (ht_event_format()), in global time order, optionally filtered.
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
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "convert.h"

extern const struct ht_cmd cmd_cat_entry;

/* "a,b,c" into tids (numbers) or ops (names).  0 or -1. */
static int parse_list(const char *arg, struct convert_opts *o, int ops)
{
	char *dup = strdup(arg), *save = NULL, *tok;
	int rc = 0;

	if (!dup)
		return -1;
	for (tok = strtok_r(dup, ",", &save); tok && !rc;
	     tok = strtok_r(NULL, ",", &save)) {
		if (ops) {
			int op = ht_op_from_name(tok);
			if (op < 0 || op > 255) {
				rc = -1;
				break;
			}
			o->ops[op] = 1;
			o->ops_set = 1;
		} else {
			uint64_t v;
			if (cli_parse_u64(tok, &v) || v > UINT32_MAX ||
			    o->ntids == sizeof(o->tids) / sizeof(o->tids[0]))
				rc = -1;
			else
				o->tids[o->ntids++] = (uint32_t)v;
		}
	}
	free(dup);
	return rc;
}

/* Prints the problems a salvaging reader collected; returns their count. */
static size_t report_problems(const struct ht_reader *r, const char *path)
{
	const struct ht_problem *p;
	size_t n = ht_reader_problems(r, &p);

	for (size_t i = 0; i < n; i++) {
		unsigned long long off = p[i].offset;
		if (p[i].code == HT_ETRUNC && !p[i].skipped)
			cli_warn("'%s': offset %llu: trace has no END block "
				 "(the writer did not close it)", path, off);
		else
			cli_warn("'%s': offset %llu: %s%s%s%s", path, off,
				 ht_strerror(p[i].code),
				 p[i].what[0] ? " (" : "", p[i].what,
				 p[i].what[0] ? ")" : "");
	}
	return n;
}

static int cmd_cat(int argc, char **argv)
{
	enum { O_SALVAGE = 256, O_STRICT, O_FROM, O_TO };
	static const struct option longopts[] = {
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
	struct ht_reader *r;
	struct ht_event ev;
	const char *path;
	uint64_t v, shown = 0, start;
	char line[512];
	int ch, err, mode = HT_READ_STOP, filter;

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
			if (cli_parse_u64(optarg, &v) || v > UINT32_MAX)
				return cli_usage(c, 2, "--pid takes a number");
			o.pid_set = 1;
			o.pid = (uint32_t)v;
			break;
		case 't':
			if (parse_list(optarg, &o, 0))
				return cli_usage(c, 2, "--tid takes numbers "
					"separated by commas");
			break;
		case 'o':
			if (parse_list(optarg, &o, 1))
				return cli_usage(c, 2, "--op takes operation "
					"names such as malloc,free");
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
				return cli_usage(c, 2, "--from and --to take "
					"a time such as 10ms or 1.5s");
			*(ch == O_FROM ? &o.from_set : &o.to_set) = 1;
			break;
		case ':':
			return cli_usage(c, 2, "option needs a value");
		default:
			return cli_usage(c, 2, "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage(c, 2, "need one trace");
	path = argv[optind];
	filter = o.pid_set || o.ntids || o.ops_set || o.from_set || o.to_set;
	if (cli_open_trace(&r, path, mode))
		return 1;
	start = ht_reader_start_ns(r);
	if (o.from_set)
		ht_reader_seek(r, start + o.from_ns);
	while ((err = ht_reader_next(r, &ev)) == 1) {
		int n;
		if (filter && !convert_keep(&o, &ev, start))
			continue;
		n = ht_event_format(&ev, line, sizeof(line) - 1);
		if (n < 0)
			continue;
		if ((size_t)n > sizeof(line) - 2)
			n = (int)sizeof(line) - 2;
		line[n++] = '\n';
		fwrite_unlocked(line, 1, (size_t)n, stdout);
		if (o.limit && ++shown == o.limit)
			break;
	}
	if (err < 0) {
		cli_trace_error(r, path, err);
		ht_reader_close(r);
		return 1;
	}
	if (mode == HT_READ_SALVAGE && report_problems(r, path)) {
		ht_reader_close(r);
		return 1;
	}
	if (!ht_reader_complete(r) && !(o.limit && shown == o.limit))
		report_problems(r, path);
	ht_reader_close(r);
	return 0;
}

const struct ht_cmd cmd_cat_entry = {
	.name = "cat",
	.usage = "cat [--salvage|--strict] [--pid N] [--tid N[,N]] "
		 "[--op OP[,OP]] [-n COUNT] TRACE",
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
	"By default a damaged trace prints the events before the damage,\n"
	"then the error with its byte offset, and exits 1.\n",
	.run = cmd_cat,
};
