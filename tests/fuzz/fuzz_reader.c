/*
 * fuzz_reader.c - the trace reader on hostile input: open_mem in all three
 * modes, iterate ht_reader_next, decode every block (as events and as
 * columns, which must agree), read all metadata, format every event.
 *
 * Hashes stop almost every mutation at the block framing, so each input
 * is also tried a second time with every hash recomputed ("re-hashed"):
 * that lets the fuzzer reach the column decoders and metadata parsers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "heaptape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Block i as columns must give what it gave as events (rc of them) or
 * fail the same way. */
static void same_columns(const struct ht_reader *r, struct ht_decoder *dc,
			 size_t i, int rc, const struct ht_event *out)
{
	struct ht_columns c;
	struct ht_event e;

	if (ht_reader_decode_columns(r, dc, i, &c) != rc)
		abort();
	for (int k = 0; k < rc; k++) {
		ht_columns_event(&c, (size_t)k, &e);
		if (memcmp(&e, &out[k], offsetof(struct ht_event, op) + 1))
			abort();
	}
}

static void run(const uint8_t *buf, size_t len, int mode)
{
	struct ht_reader *r;
	struct ht_event ev;
	struct ht_trace_info info;
	const struct ht_problem *pr;
	const struct ht_kv *kv;
	const struct ht_thread *th;
	const struct ht_rss_sample *rs;
	const struct ht_loss *lo;
	const struct ht_block_info *bi;
	struct ht_decoder *d = NULL, *dc = NULL;
	char line[512];
	size_t n, total = 0;
	int rc;

	rc = ht_reader_open_mem(&r, buf, len, mode);
	if (!r)
		return;
	n = ht_reader_problems(r, &pr);
	for (size_t i = 0; i < n; i++)
		total += pr[i].offset + (size_t)pr[i].code;
	(void)ht_reader_error_offset(r);
	(void)ht_reader_complete(r);
	(void)ht_reader_meta(r, "clock.unit_num");
	n = ht_reader_meta_all(r, &kv);
	for (size_t i = 0; i < n; i++)
		total += strlen(kv[i].key) + strlen(kv[i].value);
	n = ht_reader_threads(r, &th);
	for (size_t i = 0; i < n; i++)
		total += strlen(th[i].name) + th[i].ts;
	n = ht_reader_rss(r, &rs);
	for (size_t i = 0; i < n; i++)
		total += rs[i].rss_bytes;
	n = ht_reader_losses(r, &lo);
	for (size_t i = 0; i < n; i++)
		total += lo[i].events;
	ht_reader_info(r, &info);
	(void)ht_reader_uuid(r);
	(void)ht_reader_flags(r);
	(void)ht_reader_start_ns(r);
	if (rc == 0) {
		/* at most a few hundred thousand events per input */
		for (int k = 0; k < 300000 && ht_reader_next(r, &ev) == 1;
		     k++) {
			if ((k & 63) == 0)
				ht_event_format(&ev, line, sizeof(line));
		}
		n = ht_reader_blocks(r, &bi);
		if (ht_decoder_new(&d) == 0 && ht_decoder_new(&dc) == 0) {
			for (size_t i = 0; i < n && i < 64; i++) {
				size_t cap = bi[i].count;
				struct ht_event *out;

				if (cap > 65536)
					continue;
				out = malloc((cap ? cap : 1) * sizeof(*out));
				if (!out)
					break;
				rc = ht_reader_decode_block(r, d, i, out, cap);
				if (rc > 0)
					ht_event_format(&out[rc - 1], line,
							sizeof(line));
				same_columns(r, dc, i, rc, out);
				free(out);
			}
			ht_decoder_free(dc);
		}
		ht_decoder_free(d);
		if (info.ts_max)
			ht_reader_seek(r, info.ts_min / 2 + info.ts_max / 2);
		for (int k = 0; k < 1000 && ht_reader_next(r, &ev) == 1; k++)
			;
	}
	ht_reader_close(r);
	if (total == 1)
		abort(); /* keep total observable; never true in practice */
}

/* Recomputes the file header hash and every block's hashes in place. */
static void rehash(uint8_t *b, size_t len)
{
	uint64_t seed, v;

	if (len < 64)
		return;
	v = XXH3_64bits_withSeed(b, 56, 0);
	memcpy(b + 56, &v, 8);
	memcpy(&seed, b + 32, 8);
	for (size_t off = 64; off + 48 <= len;) {
		uint32_t magic, plen;

		memcpy(&magic, b + off, 4);
		if (magic != 0xF9E7C3B1u) {
			off += 8;
			continue;
		}
		memcpy(&plen, b + off + 8, 4);
		if (plen > len - off - 48)
			plen = (uint32_t)(len - off - 48);
		v = XXH3_64bits_withSeed(b + off + 48, plen, seed);
		memcpy(b + off + 32, &v, 8);
		v = XXH3_64bits_withSeed(b + off, 40,
					 seed ^ 0x9E3779B97F4A7C15ull);
		memcpy(b + off + 40, &v, 8);
		off += 48 + (((size_t)plen + 7) & ~(size_t)7);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	/* an exact-size copy, so that any overread is caught */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	for (int mode = HT_READ_STOP; mode <= HT_READ_SALVAGE; mode++)
		run(copy, size, mode);
	rehash(copy, size);
	for (int mode = HT_READ_STOP; mode <= HT_READ_SALVAGE; mode++)
		run(copy, size, mode);
	free(copy);
	return 0;
}
