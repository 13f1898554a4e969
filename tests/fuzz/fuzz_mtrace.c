/*
 * fuzz_mtrace.c - the glibc mtrace parser (convert/mtrace.c) and its
 * input layer, in strict and salvage mode, plus the content probe
 * (tests/fuzz/fuzz_import.h).  Every event handed out must be one that
 * an mtrace log can produce.
 */
#include "fuzz_import.h"

static int ok_op(const struct ht_event *ev)
{
	return ev->op == HT_OP_MALLOC || ev->op == HT_OP_REALLOC ||
	       ev->op == HT_OP_FREE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_import(data, size, mtrace_import, mtrace_probe);
}
