/*
 * fuzz_csv.c - the CSV reader (csv_read.c) on arbitrary bytes: it must
 * never crash, hang or read out of bounds, and every event it accepts
 * must come back unchanged through the CSV writer and the reader again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../convert/convert.h"
#include "../../convert/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const struct ht_event *a, const struct ht_event *b)
{
	return a->ts == b->ts && a->pid == b->pid && a->tid == b->tid &&
	       a->op == b->op && a->heap == b->heap && a->addr == b->addr &&
	       a->size == b->size && a->old_addr == b->old_addr &&
	       a->old_size == b->old_size && a->align == b->align &&
	       a->nmemb == b->nmemb && a->flags == b->flags &&
	       a->result == b->result && a->dur == b->dur;
}

/* Formats ev as a one-row CSV (with duration_ns when it has one), reads
 * it back and compares. */
static void again(const struct ht_event *ev)
{
	char buf[256 + CSV_ROW_MAX];
	int dur = ev->dur != 0;
	size_t h = strlen(csv_event_header(dur));
	struct csv_reader c;
	struct ht_event back;
	char *e;

	memcpy(buf, csv_event_header(dur), h);
	e = csv_format_event(buf + h, ev, 0, dur);
	if (e - (buf + h) > CSV_ROW_MAX)
		abort();
	if (csv_reader_init_mem(&c, buf, (size_t)(e - buf)))
		return;
	if (csv_reader_header(&c) || csv_reader_next(&c, &back) != 1 ||
	    !same(ev, &back) || csv_reader_next(&c, &back) != 0)
		abort();
	csv_reader_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv_reader c;
	struct ht_event ev;
	int k, rows = 0;

	csv_fmt_init();
	csv_probe(data, size < 65536 ? size : 65536);
	if (csv_reader_init_mem(&c, data, size))
		return 0;
	if (!csv_reader_header(&c)) {
		while ((k = csv_reader_next(&c, &ev)) != 0 && k != -2) {
			if (k == 1 && rows++ < 64)
				again(&ev);
			if (k < 0 && !c.err[0])
				abort();
		}
	}
	csv_reader_free(&c);
	return 0;
}
