/*
 * etl_htdump.c - prints the events of .htape traces in the line format of
 * etlgen --expect, so that t_etl.sh can compare a converted .etl with the
 * generated events:
 *   pid tid op ts_ns heap addr size old_addr old_size aux flags
 * and, prefixed with '#', the metadata, loss records and event count.
 * usage: etl_htdump TRACE...   (exit 1 if a trace cannot be read)
 */
#include <inttypes.h>
#include <stdio.h>

#include "heaptape.h"

int main(int argc, char **argv)
{
	int i, rc = 0;

	for (i = 1; i < argc; i++) {
		struct ht_reader *r = NULL;
		struct ht_event ev;
		const struct ht_kv *kv;
		const struct ht_loss *l;
		size_t n, k;
		uint64_t count = 0;
		int e = ht_reader_open(&r, argv[i], HT_READ_STRICT);

		if (e) {
			fprintf(stderr, "etl_htdump: %s: %s\n", argv[i],
				ht_strerror(e));
			ht_reader_close(r);
			rc = 1;
			continue;
		}
		n = ht_reader_meta_all(r, &kv);
		for (k = 0; k < n; k++)
			printf("# meta %s=%s\n", kv[k].key, kv[k].value);
		while ((e = ht_reader_next(r, &ev)) > 0) {
			printf("%u %u %d %" PRIu64 " 0x%" PRIx64 " 0x%" PRIx64
			       " %" PRIu64 " 0x%" PRIx64 " %" PRIu64 " %u %u\n",
			       ev.pid, ev.tid, ev.op, ev.ts, ev.heap, ev.addr,
			       ev.size, ev.old_addr, ev.old_size, ev.aux,
			       ev.flags);
			if (ev.dur) { /* ETW heap events are not timed */
				fprintf(stderr, "etl_htdump: %s: event %"
					PRIu64 " has a duration\n", argv[i],
					count);
				rc = 1;
			}
			count++;
		}
		if (e < 0) {
			fprintf(stderr, "etl_htdump: %s: %s\n", argv[i],
				ht_strerror(e));
			rc = 1;
		}
		n = ht_reader_losses(r, &l);
		for (k = 0; k < n; k++)
			printf("# loss pid=%u tid=%u events=%" PRIu64
			       " reason=%u from=%" PRIu64 " to=%" PRIu64 "\n",
			       l[k].pid, l[k].tid, l[k].events, l[k].reason,
			       l[k].ts_from, l[k].ts_to);
		printf("# events %" PRIu64 " start_ns %" PRIu64 "\n", count,
		       ht_reader_start_ns(r));
		ht_reader_close(r);
	}
	return rc;
}
