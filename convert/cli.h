/*
 * cli.h - what every `heaptape` command shares: the command table entry,
 * error printing, opening traces, output files that appear only when
 * complete, option value parsing and the progress bar.
 *
 * Conventions (README "Exit codes"): a command returns 0 on success, 1 on
 * failure, 2 on a usage error.  Messages go to stderr as
 *   heaptape CMD: cannot open 'x.htape': No such file or directory
 *   heaptape CMD: 'x.htape': corrupt trace at offset 81920: checksum mismatch
 * lower-case, no full stop, the subject in quotes.
 */
#ifndef HT_CLI_H
#define HT_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "../format/heaptape.h"

struct ht_cmd {
	const char *name;
	const char *usage;   /* "cat [options] TRACE", without "heaptape " */
	const char *summary; /* one line for `heaptape help` */
	const char *help;    /* the options, one per line; may be NULL */
	int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

/* "heaptape CMD", set by main() before a command runs. */
extern const char *cli_prog;

/* Prints "heaptape CMD: <message>\n" to stderr and returns 1. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, as a warning; returns nothing. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Usage (and help text) to stdout when status is 0, else to stderr with a
 * "heaptape CMD: " line first if msg is not NULL.  Returns status. */
int cli_usage(const struct ht_cmd *c, int status, const char *msg);
/* The usage error (2) for what getopt_long() just refused: ch '?' (an
 * unknown option) or ':' (no value; the short options start with ':'),
 * naming the option as given. */
int cli_bad_option(const struct ht_cmd *c, int ch, char *const *argv);

/* Opens a trace and reports failure as one line naming the file and the
 * byte offset.  Returns 0, or 1 after printing. */
int cli_open_trace(struct ht_reader **r, const char *path, int mode);
/* Prints "heaptape CMD: 'path': <what> at offset N: <ht_strerror(err)>"
 * using the reader's error offset; returns 1. */
int cli_trace_error(const struct ht_reader *r, const char *path, int err);
/* A file shorter than its 64-byte header, said as "'path': PREFIXfile
 * header cut short (N of 64 bytes)"; 1 if it was that. */
int cli_header_cut(const struct ht_reader *r, const char *path, int err,
		   const char *prefix);
/* 1 if the trace's calls were timed (record --latency, PROCESS key
 * recorder.latency): 0 ns is then a measured duration. */
int cli_trace_timed(const struct ht_reader *r);

/* An output file that appears under its name only when complete: written
 * to a temporary file in the same directory and renamed by commit.  "-"
 * is stdout (then commit only flushes); a path that is not a regular
 * file (/dev/null, /dev/stdout, a FIFO) is written in place.  On abort
 * the temporary is removed.  Both return 0 or print an error and return
 * 1. */
struct cli_out {
	const char *path;
	char tmp[4096];
	int fd;
	FILE *fp;      /* buffered stream on fd, opened by cli_out_open */
	int is_stdout;
	int direct;    /* a device or FIFO (/dev/null): written in place */
};
int cli_out_open(struct cli_out *o, const char *path);
int cli_out_commit(struct cli_out *o);
void cli_out_abort(struct cli_out *o);

/* Values: "4096", "64K", "1M", "2G" (powers of 1024). */
int cli_parse_size(const char *s, uint64_t *out);
/* Durations to ns: "10ms", "1.5s", "250us", "100ns", "2m"; also "+DUR".
 * A bare number other than 0 is refused (-2): 10 what?  Else -1. */
int cli_parse_duration(const char *s, uint64_t *ns);
/* Input in, to be looked at more than once by name: a regular file is
 * its own path; "-" or a pipe is read once into a memory file (*fd, to
 * close after) named in path.  0, or 1 after the error message. */
int cli_spool(const char *in, char *path, size_t n, int *fd);
/* Room for element n of the array at v (a T **) of *cap elements of
 * elem bytes: when n is *cap, the array doubles (to first elements at
 * first).  0, or -1 out of memory with the array and *cap as they were. */
int cli_grow(void *v, size_t *cap, size_t n, size_t elem, size_t first);
/* The input among in[0..n) that out names too (the same file, by
 * device and inode), or NULL.  An output replaces its file when the
 * work is done: written over an input, the input would be gone (a
 * trace turned into an SVG or a CSV). */
const char *cli_out_is_input(const char *out, char *const *in, size_t n);
/* Warns that trace a (UUID ua, path pa) is trace b given again (the
 * same UUID: the same file, or a copy), if so; returns 1 if so.  An
 * all-zero UUID (not a trace) is never a duplicate. */
int cli_warn_same_trace(const uint8_t *ua, const char *pa,
			const uint8_t *ub, const char *pb);
/* The usage message for a bad duration s given to option opt. */
const char *cli_duration_error(const char *opt, const char *s);
int cli_parse_u64(const char *s, uint64_t *out); /* decimal or 0x hex */

/* Writes s as a JSON string literal (with quotes). */
void cli_json_str(FILE *f, const char *s);
/* Writes at most max bytes of s (text from a trace) with each control
 * character as '?': nothing in a trace can move the terminal. */
void cli_put_clean(FILE *f, const char *s, int max);
/* v bytes as "12.3 MiB" (powers of 1024; "512 B" below 1 KiB) into buf. */
const char *cli_bytes(char *buf, size_t n, uint64_t v);

/* What a file holds, from its first bytes (and name for csv); for a
 * directory, whether it holds an LTTng (CTF) trace. */
enum cli_kind {
	CLI_KIND_UNKNOWN = 0,
	CLI_KIND_HTAPE,
	CLI_KIND_ETL,
	CLI_KIND_CSV,
	CLI_KIND_ANDROID,
	CLI_KIND_MTRACE,
	CLI_KIND_HEAPTRACK,
	CLI_KIND_LTTNG     /* a directory: CTF trace or LTTng session */
};
enum cli_kind cli_file_kind(const char *path);
const char *cli_kind_name(enum cli_kind k);
enum cli_kind cli_kind_from_name(const char *name);

/* Progress on stderr, drawn only when stderr is a terminal and the work
 * has taken more than a second.  total may be 0 (unknown). */
struct cli_progress {
	const char *label;
	uint64_t total, done;
	double start, last;
	int active, drawn;
};
void cli_progress_start(struct cli_progress *p, const char *label,
			uint64_t total);
void cli_progress_update(struct cli_progress *p, uint64_t done);
void cli_progress_end(struct cli_progress *p);

double cli_now(void); /* monotonic seconds */

#endif
