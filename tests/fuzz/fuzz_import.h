/*
 * fuzz_import.h - the body shared by the text-importer fuzz targets: the
 * parser and its input layer (plain, zstd, gzip, zip) on arbitrary bytes,
 * in strict and salvage mode, then the format's content probe.  The
 * target supplies ok_op(), which says whether an event could come from
 * its format.
 */
#ifndef FUZZ_IMPORT_H
#define FUZZ_IMPORT_H

#include <stdlib.h>
#include <string.h>

#include "../../convert/convert.h"
#include "../../convert/import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Defined by the target: 1 if its format can produce ev's op. */
static int ok_op(const struct ht_event *ev);

static int fuzz_put(void *ctx, const struct ht_event *ev)
{
	uint64_t *n = ctx;

	if (!ok_op(ev))
		abort();
	if ((ev->flags & HT_EV_FAILED) && ev->addr)
		abort();
	if (ev->op != HT_OP_CALLOC && ev->nmemb)
		abort();
	++*n;
	return 0;
}

static int fuzz_import(const uint8_t *data, size_t size,
		       int (*import)(struct textin *, int, import_put_fn,
				     void *, struct import_stats *),
		       int (*probe)(const unsigned char *, size_t))
{
	for (int salvage = 0; salvage < 2; salvage++) {
		struct import_stats st;
		struct textin *t;
		char err[300];
		uint64_t n = 0;
		int rc;

		memset(&st, 0, sizeof(st));
		if (textin_open_mem(&t, data, size, err, sizeof(err)))
			continue;
		rc = import(t, salvage, fuzz_put, &n, &st);
		if (rc != 0 && rc != 1 && rc != -1)
			abort();
		if (n != st.events || (salvage && rc == 1) ||
		    (rc == 1 && !st.err_line) || st.events > st.lines)
			abort();
		textin_close(t);
	}
	probe(data, size < 65536 ? size : 65536);
	return 0;
}

#endif /* FUZZ_IMPORT_H */
