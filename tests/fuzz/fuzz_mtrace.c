/*
 * fuzz_mtrace.c - the glibc mtrace parser (convert/mtrace.c)
 * and its input layer (plain, zstd, zip) on arbitrary bytes, in strict and
 * salvage mode, plus the content probe.  Every event handed out must be
 * one that the format can produce.
 */
#include <stdlib.h>
#include <string.h>

#include "../../convert/import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int put(void *ctx, const struct ht_event *ev)
{
	uint64_t *n = ctx;

	switch (ev->op) {
	case HT_OP_MALLOC:
	case HT_OP_REALLOC:
	case HT_OP_FREE:
		break;
	default:
		abort();
	}
	if ((ev->flags & HT_EV_FAILED) && ev->addr)
		abort();
	if (ev->op != HT_OP_CALLOC && ev->nmemb)
		abort();
	++*n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
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
		rc = mtrace_import(t, salvage, put, &n, &st);
		if (rc != 0 && rc != 1 && rc != -1)
			abort();
		if (n != st.events || (salvage && rc == 1) ||
		    (rc == 1 && !st.err_line) || st.events > st.lines)
			abort();
		textin_close(t);
	}
	mtrace_probe(data, size < 65536 ? size : 65536);
	return 0;
}
