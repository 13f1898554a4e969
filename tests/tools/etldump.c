/*
 * etldump.c - lists every event of an .etl file, one line each, for the
 * tests that compare the reader with TraceEvent baselines (t_etl.sh):
 *
 *   REL_MS PID TID CPU DATALEN HEADERTYPE KIND
 *
 * REL_MS is milliseconds since the log-file header event with 4 decimals
 * (ETL.md 5), PID/TID -1 when the header has none, KIND is
 * group/type/version for kernel headers, guid/id/opcode for EVENT_HEADER,
 * guid/type for classic events.  Heap events get their decoded payload.
 * usage: etldump [--file-order] [--salvage] [--heap] FILE.etl
 */
#include <stdio.h>
#include <string.h>

#include "../../convert/etl_read.h"

int main(int argc, char **argv)
{
	struct etl *e;
	struct etl_event ev;
	int flags = 0, heap_only = 0, i, r;
	const char *path = NULL;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--file-order"))
			flags |= ETL_FILE_ORDER;
		else if (!strcmp(argv[i], "--salvage"))
			flags |= ETL_SALVAGE;
		else if (!strcmp(argv[i], "--heap"))
			heap_only = 1;
		else
			path = argv[i];
	}
	if (!path) {
		fprintf(stderr, "usage: etldump [--file-order] [--salvage] "
			"[--heap] FILE.etl\n");
		return 2;
	}
	r = etl_open(&e, path, flags);
	if (r == -2) {
		perror(path);
		return 1;
	}
	if (r) {
		fprintf(stderr, "etldump: '%s': corrupt etl at offset %llu: "
			"%s\n", path,
			(unsigned long long)etl_error_offset(e), etl_error(e));
		etl_close(e);
		return 1;
	}
	while ((r = etl_next(e, &ev)) > 0) {
		int64_t ns = etl_rel_ns(e, ev.ts);
		struct etl_heap h;
		char g[37];
		int hr = etl_heap_decode(&ev, &h);

		if (heap_only && hr != 1)
			continue;
		printf("%s%lld.%04lld %d %d %u %u %s ", ns < 0 ? "-" : "",
		       (long long)((ns < 0 ? -ns : ns) / 1000000),
		       (long long)((ns < 0 ? -ns : ns) % 1000000 / 100),
		       (int)ev.pid, (int)ev.tid, ev.cpu, ev.len,
		       etl_htype_name(ev.htype));
		switch (ev.htype) {
		case ETL_HT_EVENT32:
		case ETL_HT_EVENT64:
			etl_guid_str(ev.guid, g);
			printf("%s/%u/%u%s", g, ev.id, ev.opcode,
			       ev.ext ? "/ext" : "");
			break;
		case ETL_HT_FULL32:
		case ETL_HT_FULL64:
		case ETL_HT_INSTANCE32:
		case ETL_HT_INSTANCE64:
			etl_guid_str(ev.guid, g);
			printf("%s/%u", g, ev.type);
			break;
		case ETL_HT_MESSAGE:
			printf("msg/%u", ev.id);
			break;
		default:
			if (etl_group_name(ev.group))
				printf("%s/%u/%u", etl_group_name(ev.group),
				       ev.type, ev.version);
			else
				printf("0x%02x/%u/%u", ev.group, ev.type,
				       ev.version);
		}
		if (hr == 1)
			printf(" heap=0x%llx addr=0x%llx size=%llu old=0x%llx "
			       "oldsize=%llu src=%u",
			       (unsigned long long)h.heap,
			       (unsigned long long)h.addr,
			       (unsigned long long)h.size,
			       (unsigned long long)h.old_addr,
			       (unsigned long long)h.old_size, h.source);
		putchar('\n');
	}
	if (r < 0) {
		fprintf(stderr, "etldump: '%s': corrupt etl at offset %llu: "
			"%s\n", path,
			(unsigned long long)etl_error_offset(e), etl_error(e));
		etl_close(e);
		return 1;
	}
	etl_close(e);
	return 0;
}
