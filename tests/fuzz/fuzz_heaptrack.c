/*
 * fuzz_heaptrack.c - the heaptrack importer (convert/heaptrack.c) and its
 * input layer, in strict and salvage mode, plus the content probe
 * (tests/fuzz/fuzz_import.h).  heaptrack records only allocations and
 * frees: any other op handed out is a bug.
 */
#include "fuzz_import.h"

static int ok_op(const struct ht_event *ev)
{
	return (ev->op == HT_OP_MALLOC || ev->op == HT_OP_FREE) &&
	       ev->addr && !ev->flags && ev->tid == 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_import(data, size, heaptrack_import, heaptrack_probe);
}
