/*
 * cmd_convert.c - `heaptape convert IN OUT`: picks the converter from the
 * input's content (or --from) and the output's name (or --to), parses the
 * options every converter shares (convert.h) and hands over.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert.h"

extern const struct ht_cmd cmd_convert_entry;

int convert_keep(const struct convert_opts *o, const struct ht_event *ev,
		 uint64_t start_ns)
{
	uint64_t t = ev->ts >= start_ns ? ev->ts - start_ns : 0;

	if (o->pid_set && ev->pid != o->pid)
		return 0;
	if (o->ntids) {
		size_t i;
		for (i = 0; i < o->ntids && o->tids[i] != ev->tid; i++)
			;
		if (i == o->ntids)
			return 0;
	}
	if (o->ops_set && !o->ops[ev->op])
		return 0;
	if (o->from_set && t < o->from_ns)
		return 0;
	if (o->to_set && t >= o->to_ns)
		return 0;
	return 1;
}

/* --from and --to take a format name or a time: a value that starts with
 * a digit (or '+') is a time, anything else a format. */
static int format_or_time(const char *v, enum cli_kind *kind, int *tset,
			  uint64_t *t)
{
	if ((v[0] >= '0' && v[0] <= '9') || v[0] == '+' || v[0] == '.') {
		if (cli_parse_duration(v, t))
			return -1;
		*tset = 1;
		return 0;
	}
	*kind = cli_kind_from_name(v);
	return *kind == CLI_KIND_UNKNOWN ? -1 : 0;
}

static int add_list(const char *arg, struct convert_opts *o, int ops)
{
	char buf[1024], *save = NULL, *tok;

	if (strlen(arg) >= sizeof(buf))
		return -1;
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (ops) {
			int op = ht_op_from_name(tok);
			if (op < 0 || op > 255)
				return -1;
			o->ops[op] = 1;
			o->ops_set = 1;
		} else {
			uint64_t v;
			if (cli_parse_u64(tok, &v) || v > UINT32_MAX ||
			    o->ntids == sizeof(o->tids) / sizeof(o->tids[0]))
				return -1;
			o->tids[o->ntids++] = (uint32_t)v;
		}
	}
	return 0;
}

const char *convert_filter(int which, const char *arg,
			   struct convert_opts *o)
{
	uint64_t v;

	switch (which) {
	case 'p':
		if (cli_parse_u64(arg, &v) || v > UINT32_MAX)
			return "--pid takes a number";
		o->pid_set = 1;
		o->pid = (uint32_t)v;
		return NULL;
	case 't':
		return add_list(arg, o, 0) ?
		       "--tid takes numbers separated by commas" : NULL;
	default: {
		/* name the value: `cat T -o out.txt` is a likely slip
		 * (cat writes to standard output) */
		static char msg[160];

		if (!add_list(arg, o, 1))
			return NULL;
		snprintf(msg, sizeof(msg), "--op takes operation names such "
			 "as malloc,free, not '%.64s'", arg);
		return msg;
	}
	}
}

static enum cli_kind kind_from_name(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (!strcmp(path, "-"))
		return CLI_KIND_CSV;
	if (!dot)
		return CLI_KIND_UNKNOWN;
	if (!strcmp(dot, ".csv"))
		return CLI_KIND_CSV;
	if (!strcmp(dot, ".htape"))
		return CLI_KIND_HTAPE;
	return CLI_KIND_UNKNOWN;
}

static int cmd_convert(int argc, char **argv)
{
	enum { O_START = 256, O_END, O_LIFE, O_LEVEL, O_SALVAGE, O_STRICT,
	       O_NOPROG, O_INFMT, O_OUTFMT, O_BLOCK, O_ANON };
	static const struct option longopts[] = {
		{"from", required_argument, 0, 'f'},
		{"to", required_argument, 0, 't'},
		{"input-format", required_argument, 0, O_INFMT},
		{"output-format", required_argument, 0, O_OUTFMT},
		{"start", required_argument, 0, O_START},
		{"end", required_argument, 0, O_END},
		{"pid", required_argument, 0, 'p'},
		{"tid", required_argument, 0, 'T'},
		{"op", required_argument, 0, 'O'},
		{"limit", required_argument, 0, 'n'},
		{"lifetimes", no_argument, 0, O_LIFE},
		{"interval", required_argument, 0, 'i'},
		{"level", required_argument, 0, O_LEVEL},
		{"block-events", required_argument, 0, O_BLOCK},
		{"salvage", no_argument, 0, O_SALVAGE},
		{"strict", no_argument, 0, O_STRICT},
		{"jobs", required_argument, 0, 'j'},
		{"no-progress", no_argument, 0, O_NOPROG},
		{"anonymize", no_argument, 0, O_ANON},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	const struct ht_cmd *c = &cmd_convert_entry;
	struct convert_opts o;
	const char *msg;
	uint64_t v;
	int ch;

	memset(&o, 0, sizeof(o));
	o.progress = 1;
	o.mode = HT_READ_STOP;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":hp:T:O:n:i:j:f:t:", longopts,
				 NULL)) != -1) {
		switch (ch) {
		case 'h':
			return cli_usage(c, 0, NULL);
		case 'f':
			if (cli_parse_duration(optarg, &(uint64_t){0}) == -2)
				return cli_usage(c, 2, cli_duration_error(
					"--from", optarg));
			if (format_or_time(optarg, &o.in_kind, &o.from_set,
					   &o.from_ns))
				return cli_usage(c, 2, "--from takes a format "
					"(htape, csv, etl, android, mtrace, "
					"heaptrack, lttng) or "
					"a time such as 1.5s");
			break;
		case 't':
			if (cli_parse_duration(optarg, &(uint64_t){0}) == -2)
				return cli_usage(c, 2, cli_duration_error(
					"--to", optarg));
			if (format_or_time(optarg, &o.out_kind, &o.to_set,
					   &o.to_ns))
				return cli_usage(c, 2, "--to takes a format "
					"(htape, csv) or a time such as 2s");
			break;
		case O_INFMT:
		case O_OUTFMT: {
			enum cli_kind k = cli_kind_from_name(optarg);
			if (k == CLI_KIND_UNKNOWN)
				return cli_usage(c, 2, "unknown format");
			*(ch == O_INFMT ? &o.in_kind : &o.out_kind) = k;
			break;
		}
		case O_START:
		case O_END:
			if (cli_parse_duration(optarg, ch == O_START ?
					       &o.from_ns : &o.to_ns))
				return cli_usage(c, 2, cli_duration_error(
					ch == O_START ? "--start" : "--end",
					optarg));
			*(ch == O_START ? &o.from_set : &o.to_set) = 1;
			break;
		case 'p':
		case 'T':
		case 'O':
			msg = convert_filter(ch == 'T' ? 't' : ch == 'O' ? 'o' :
					     'p', optarg, &o);
			if (msg)
				return cli_usage(c, 2, msg);
			break;
		case 'n':
			if (cli_parse_u64(optarg, &o.limit) || !o.limit)
				return cli_usage(c, 2, "--limit takes a "
					"positive number");
			break;
		case O_LIFE:
			o.lifetimes = 1;
			break;
		case 'i':
			if (cli_parse_duration(optarg, &o.interval_ns) ||
			    !o.interval_ns)
				return cli_usage(c, 2, cli_duration_error(
					"--interval", optarg));
			break;
		case O_LEVEL:
			if (cli_parse_u64(optarg, &v) || v < 1 || v > 22)
				return cli_usage(c, 2, "--level takes 1..22");
			o.level = (int)v;
			break;
		case O_BLOCK:
			if (cli_parse_u64(optarg, &v) || v < 1 ||
			    v > HT_MAX_BLOCK_EVENTS)
				return cli_usage(c, 2, "--block-events takes "
					"1..1048576");
			o.block_events = (uint32_t)v;
			break;
		case O_SALVAGE:
			o.salvage = 1;
			o.mode = HT_READ_SALVAGE;
			break;
		case O_STRICT:
			o.mode = HT_READ_STRICT;
			break;
		case 'j':
			if (cli_parse_u64(optarg, &v) || v < 1 || v > 256)
				return cli_usage(c, 2, "--jobs takes 1..256");
			o.jobs = (int)v;
			break;
		case O_NOPROG:
			o.progress = 0;
			break;
		case O_ANON:
			o.anonymize = 1;
			break;
		case ':':
			return cli_bad_option(c, ':', argv);
		default:
			return cli_bad_option(c, ch, argv);
		}
	}
	if (o.from_set && o.to_set && o.to_ns <= o.from_ns)
		return cli_usage(c, 2, "the end time must be after the start");
	if (o.anonymize && argc - optind > 2)
		return cli_usage(c, 2, "--anonymize converts one trace to one "
				       ".htape; run it on each");
	if (argc - optind > 2) {
		/* several traces (a process and its children) into one CSV */
		size_t n = (size_t)(argc - optind - 1);

		o.out = argv[argc - 1];
		for (size_t i = 0; i < n; i++) {
			const char *in = argv[optind + (int)i];
			if (access(in, R_OK))
				return cli_error("cannot open '%s': %m", in);
			if (cli_file_kind(in) != CLI_KIND_HTAPE)
				return cli_usage(c, 2, "several inputs must "
						 "all be traces");
		}
		if ((o.out_kind ? o.out_kind : kind_from_name(o.out)) !=
		    CLI_KIND_CSV || o.lifetimes)
			return cli_usage(c, 2, "several traces convert to "
					 "one .csv of event rows or of "
					 "--interval buckets");
		if (cli_out_is_input(o.out, argv + optind, n))
			return cli_error("'%s' is also an input: the CSV would "
					 "replace it; name another output",
					 o.out);
		return convert_htapes_to_csv(&o, argv + optind, n);
	}
	if (argc - optind != 2)
		return cli_usage(c, 2, "need an input and an output");
	o.in = argv[optind];
	o.out = argv[optind + 1];
	if (o.lifetimes && o.interval_ns)
		return cli_usage(c, 2, "--lifetimes and --interval exclude "
				       "each other");
	if (!o.in_kind) {
		if (!strcmp(o.in, "-"))
			return cli_usage(c, 2, "reading standard input needs "
					       "--from FORMAT");
		o.in_kind = cli_file_kind(o.in);
		if (!o.in_kind) {
			/* not opened: a FIFO's writer would wait for us */
			if (access(o.in, R_OK))
				return cli_error("cannot open '%s': %m", o.in);
			return cli_error("'%s': unknown input format; name it "
					 "with --from (htape, csv, etl, "
					 "android, mtrace, heaptrack, lttng)",
					 o.in);
		}
	}
	if (!o.out_kind && !(o.out_kind = kind_from_name(o.out)))
		return cli_usage(c, 2, "cannot tell the output format from "
				       "its name; use .htape, .csv or --to");
	if ((o.lifetimes || o.interval_ns) && o.out_kind != CLI_KIND_CSV)
		return cli_usage(c, 2, "--lifetimes and --interval write csv");
	if (o.anonymize && (o.in_kind != CLI_KIND_HTAPE ||
			    o.out_kind != CLI_KIND_HTAPE))
		return cli_usage(c, 2, "--anonymize converts a .htape trace to "
				       "a .htape (convert other formats to "
				       ".htape first)");
	/* htape -> htape in place recompresses (the input is read to its
	 * end before the output replaces it); anything else would leave
	 * the input's name to another format */
	if (!(o.in_kind == CLI_KIND_HTAPE && o.out_kind == CLI_KIND_HTAPE) &&
	    cli_out_is_input(o.out, argv + optind, 1))
		return cli_error("'%s' is also the input: the output would "
				 "replace it; name another output", o.out);
	if (o.out_kind == CLI_KIND_CSV && o.in_kind == CLI_KIND_HTAPE)
		return convert_htape_to_csv(&o);
	if (o.out_kind != CLI_KIND_HTAPE)
		return cli_error("'%s': converting %s to %s is not supported; "
				 "convert to .htape first", o.in,
				 cli_kind_name(o.in_kind),
				 cli_kind_name(o.out_kind));
	switch (o.in_kind) {
	case CLI_KIND_HTAPE:
		return convert_htape_to_htape(&o);
	case CLI_KIND_CSV:
		return convert_csv_to_htape(&o);
	case CLI_KIND_ETL:
		return convert_etl_to_htape(&o);
	case CLI_KIND_ANDROID:
		return convert_android_to_htape(&o);
	case CLI_KIND_MTRACE:
		return convert_mtrace_to_htape(&o);
	case CLI_KIND_HEAPTRACK:
		return convert_heaptrack_to_htape(&o);
	case CLI_KIND_LTTNG:
		return convert_lttng_to_htape(&o);
	default:
		return cli_error("'%s': unknown input format", o.in);
	}
}

const struct ht_cmd cmd_convert_entry = {
	.name = "convert",
	.usage = "convert [options] INPUT OUTPUT | TRACE... OUT.csv",
	.summary = "convert traces: etl, csv, android, mtrace, heaptrack, "
		   "lttng -> htape; htape -> csv, htape",
	.help =
	"formats (from content, or --from/--to):\n"
	"  INPUT   .htape trace, .csv (heaptape columns), Windows .etl,\n"
	"          Android record_allocs text (plain, .zst or .zip),\n"
	"          glibc mtrace log, heaptrack file (heaptrack.PROG.PID.zst\n"
	"          or .gz, or --raw .raw.zst), LTTng-UST libc-wrapper\n"
	"          trace (a session or CTF trace directory); - is stdin\n"
	"          (needs --from)\n"
	"  OUTPUT  .htape, or .csv (- is csv on stdout)\n"
	"  several traces (a process and its children: NAME NAME.*) go to\n"
	"  one .csv: event rows in one time order, or --interval buckets\n"
	"  of them all\n"
	"options:\n"
	"  --from FMT|TIME    input format, or start of the time window\n"
	"  --to FMT|TIME      output format, or end of the time window\n"
	"  --start T, --end T time window from trace start (10ms, 1.5s)\n"
	"  --pid N            keep one process (etl, lttng: else one\n"
	"                     output per process, OUT.PID.htape)\n"
	"  --tid N[,N...]     keep these threads\n"
	"  --op OP[,OP...]    keep these operations (malloc,free,...)\n"
	"  --limit N          stop after N rows/events (.htape input:\n"
	"                     the first in time order; others: in the\n"
	"                     file's order, which etl groups by thread)\n"
	"  --lifetimes        csv: one row per allocation\n"
	"  --interval DUR     csv: one summary row per time bucket\n"
	"  --level N          zstd level of an htape output (1..22)\n"
	"  --block-events N   events per block of an htape output (1..1048576;\n"
	"                     default 65536, fewer for traces of over 42\n"
	"                     threads; larger: smaller file, more memory)\n"
	"  --salvage          skip damaged input, report and count it\n"
	"  --strict           fail on any irregularity (htape input)\n"
	"  -j, --jobs N       threads for decoding and formatting\n"
	"  --no-progress      never draw a progress bar\n"
	"  --anonymize        htape -> htape for sharing: drops the\n"
	"                     program's names (exe, command line, host,\n"
	"                     thread names, wall-clock times, uptime)\n"
	"                     and maps every address to a made-up one,\n"
	"                     one to one (replay, stat and plot see the\n"
	"                     same heap)\n"
	"csv columns: time_ns,pid,tid,op,heap,address,size,old_address,\n"
	"  old_size,alignment,nmemb,result (see README)\n",
	.run = cmd_convert,
};
