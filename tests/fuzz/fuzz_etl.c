/*
 * fuzz_etl.c - libFuzzer target for the .etl reader (convert/etl_read.c):
 * the buffer scan, the log-file header, decompression, every event header
 * type, the per-CPU merge (strict) and the file-order walk (salvage), and
 * the heap, stack-walk and process payload decoders on every event.
 * Corpus: tests/fuzz/corpus/fuzz_etl (slices of the real files cut down to
 * the header buffer and one data buffer, and small etlgen outputs).
 */
#include <stdint.h>
#include <string.h>

#include "../../convert/etl_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void walk(const uint8_t *data, size_t size, int flags)
{
	struct etl *e = NULL;
	struct etl_event ev;
	struct etl_counts c;
	int r;

	if (etl_open_mem(&e, data, size, flags)) {
		sink += etl_error_offset(e) + strlen(etl_error(e));
		etl_close(e);
		return;
	}
	while ((r = etl_next(e, &ev)) > 0) {
		struct etl_heap h;
		struct etl_stack s;
		uint32_t pid;
		char name[64], g[37];

		sink += ev.ts + ev.len + ev.pid;
		sink += (uint64_t)etl_rel_ns(e, ev.ts);
		if (ev.len)
			sink += ev.data[ev.len - 1];
		if (ev.ext_len)
			sink += ev.ext[ev.ext_len - 1];
		if (ev.guid)
			etl_guid_str(ev.guid, g);
		if (etl_heap_decode(&ev, &h) == 1)
			sink += h.addr + h.size + h.old_addr + h.heap;
		if (etl_stack_decode(&ev, &s) == 1 && s.nframes)
			sink += s.frames[(size_t)s.nframes * ev.psize - 1];
		if (etl_process_decode(&ev, &pid, name, sizeof(name)))
			sink += pid + strlen(name);
		sink += strlen(etl_htype_name(ev.htype));
	}
	if (r < 0)
		sink += etl_error_offset(e);
	etl_counts(e, &c);
	sink += c.bad_buffers;
	etl_close(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	walk(data, size, 0);
	walk(data, size, ETL_SALVAGE | ETL_FILE_ORDER);
	return 0;
}
