/*
 * fuzz_android.c - the Android record_allocs parser (convert/android.c)
 * and its input layer, in strict and salvage mode, plus the content
 * probe (tests/fuzz/fuzz_import.h).  Every event handed out must be one
 * that record_allocs can produce.
 */
#include "fuzz_import.h"

static int ok_op(const struct ht_event *ev)
{
	switch (ev->op) {
	case HT_OP_MALLOC:
	case HT_OP_CALLOC:
	case HT_OP_MEMALIGN:
	case HT_OP_REALLOC:
	case HT_OP_FREE:
		return 1;
	case HT_OP_THREAD_EXIT:
		return !ev->size && !ev->old_addr;
	default:
		return 0;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_import(data, size, android_import, android_probe);
}
