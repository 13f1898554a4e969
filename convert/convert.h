/*
 * convert.h - the converters behind `heaptape convert` and the foreign
 * formats `stat` reads.  cmd_convert.c parses the options and picks one
 * function by input and output kind; each lives in the file of its format
 * (csv.c, etl.c, android.c, mtrace.c, heaptrack.c, lttng.c, recode.c).
 *
 * Every function returns an exit status (0 ok, 1 failure), prints its own
 * errors through cli_error(), and writes its output through struct
 * cli_out so that a failed conversion leaves nothing that looks complete.
 */
#ifndef HT_CONVERT_H
#define HT_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"

struct convert_opts {
	const char *in, *out;      /* "-" = stdin / stdout */
	enum cli_kind in_kind, out_kind;
	int mode;                  /* HT_READ_* for htape input */
	int salvage;               /* skip bad input (buffers, lines), count */
	int level;                 /* zstd level of htape output; 0 default */
	uint32_t block_events;     /* events per htape block; 0 default */
	int pid_set;
	uint32_t pid;
	uint32_t tids[64];
	size_t ntids;
	uint8_t ops[256];          /* op filter: ops[op] != 0 keeps it */
	int ops_set;
	int from_set, to_set;      /* time window, ns from trace start */
	uint64_t from_ns, to_ns;
	uint64_t limit;            /* rows/events; 0 = no limit */
	int lifetimes;             /* csv: one row per allocation */
	uint64_t interval_ns;      /* csv: one row per bucket; 0 = off */
	int jobs;                  /* threads; 0 = one per core */
	int progress;              /* 1 = may draw a progress bar */
	int anonymize;             /* htape -> htape: no names, no addresses */
};

/* 1 if the event passes the pid/tid/op/time filters. */
int convert_keep(const struct convert_opts *o, const struct ht_event *ev,
		 uint64_t start_ns);

/* The filter options of cat and convert: which is 'p' (--pid N), 't'
 * (--tid LIST) or 'o' (--op LIST, names or numbers), LIST comma-separated.
 * Adds arg to o; returns NULL, or the usage message for a bad value. */
const char *convert_filter(int which, const char *arg,
			   struct convert_opts *o);

int convert_htape_to_csv(const struct convert_opts *o);    /* csv.c */
int convert_htapes_to_csv(const struct convert_opts *o, char *const *ins,
			  size_t n);                       /* csv.c */
int convert_csv_to_htape(const struct convert_opts *o);    /* csv.c */
/* The origin of a trace imported from CSV (csv_read.c), which has no
 * clock: its times are ns since its start plus this. */
#define CSV_ORIGIN (UINT64_C(1) << 62)
int convert_etl_to_htape(const struct convert_opts *o);    /* etl.c */
int convert_android_to_htape(const struct convert_opts *o);/* android.c */
int convert_mtrace_to_htape(const struct convert_opts *o); /* mtrace.c */
int convert_heaptrack_to_htape(const struct convert_opts *o);
							  /* heaptrack.c */
int convert_lttng_to_htape(const struct convert_opts *o);  /* lttng.c */
int convert_htape_to_htape(const struct convert_opts *o);  /* recode.c */

/* Content probes for format detection: 1 if buf (the first n bytes of a
 * file, n <= 64 KiB) looks like that format. */
int etl_probe(const unsigned char *buf, size_t n);
int android_probe(const unsigned char *buf, size_t n);
int mtrace_probe(const unsigned char *buf, size_t n);
int heaptrack_probe(const unsigned char *buf, size_t n);
int csv_probe(const unsigned char *buf, size_t n);
/* 1 if the directory holds a CTF trace, or has one beneath it. */
int lttng_probe_dir(const char *path);

/* `heaptape stat FILE.etl [--json] [--salvage]`: etl.c. */
int etl_stat(const char *path, int json, int salvage);

#endif
