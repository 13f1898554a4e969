/*
 * pouts.h - one .htape output per process, for the converters whose input
 * may hold several (etl.c, lttng.c): OUT itself when there is one process
 * or --pid chose one, else OUT.PID.htape each (OUT.PID without .htape).
 * Each is written through cli_out, so none appears under its name before
 * pouts_commit(), and a failed conversion leaves none.
 */
#ifndef HT_POUTS_H
#define HT_POUTS_H

#include <stdint.h>

#include "cli.h"
#include "convert.h"
#include "heaptape.h"
#include "imap.h"

#define POUTS_MAX 256 /* one writer (zstd contexts) and fd each */

struct pout {
	uint32_t pid;
	struct cli_out out;
	struct ht_writer *w;
	char path[4096];
	uint64_t events;
	/* what the converters count per process */
	int psize;                   /* etl: pointer size of the first event */
	int has_tid;                 /* lttng: the events carry thread ids */
	uint64_t ops[256], max_addr; /* lttng */
	struct imap tids;            /* lttng */
};

struct pouts {
	const struct convert_opts *o;
	struct pout *v;
	size_t n;
	struct imap map;
	int committed;
};

/* 0, or -1 after saying "out of memory". */
int pouts_init(struct pouts *p, const struct convert_opts *o);

/* The output of pid: *created = 1 when it was opened here, with wo.
 * NULL after saying why (too many processes, several to stdout, the
 * file cannot be made). */
struct pout *pouts_get(struct pouts *p, uint32_t pid,
		       const struct ht_writer_opts *wo, int *created);

/* Ends po's trace (its END block) and closes its writer.  0, or -1
 * after saying why. */
int pout_close(struct pout *po);

/* Gives every output its name (one alone takes OUT's).  0, or 1 after
 * saying why, with the rest removed. */
int pouts_commit(struct pouts *p);

/* Removes every output not committed, and frees p. */
void pouts_free(struct pouts *p);

#endif
