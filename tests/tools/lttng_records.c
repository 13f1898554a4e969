/*
 * lttng_records.c - writes the record stream the LTTng importer's child
 * sends its parent (convert/lttng.h) for a trace directory to stdout:
 * seeds for tests/fuzz/fuzz_lttng.c, and a way to look at what
 * libbabeltrace2 gave.
 *
 * usage: lttng_records TRACE_DIR > FILE
 */
#include <stdio.h>

#include "../../convert/lttng.h"

int main(int argc, char **argv)
{
	char **dirs;
	long n;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: lttng_records TRACE_DIR\n");
		return 2;
	}
	if ((n = lttng_find(argv[1], &dirs)) <= 0) {
		fprintf(stderr, "lttng_records: no CTF trace in '%s'\n", argv[1]);
		return 1;
	}
	rc = lttng_read(dirs, (size_t)n, 1, -1);
	lttng_find_free(dirs, n);
	return rc;
}
