/*
 * htdump.c - prints a trace as the annotated hex of spec/vectors/: every
 * field on its own line with its name from spec/FORMAT.md.  Used to make
 * the good vectors from traces written with HT_COMPRESS_NONE (and to look
 * at a trace by eye).  It follows the framing only; it checks nothing.
 *
 * usage: htdump TRACE > NAME.hex
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t *b;
static size_t len;

static void bytes(size_t off, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void bytes(size_t off, size_t n, const char *fmt, ...)
{
	int col = 0;
	va_list ap;

	for (size_t i = 0; i < n && off + i < len; i++)
		col += printf("%s%02x", i ? " " : "", b[off + i]);
	printf("%*s# ", col < 24 ? 24 - col : 1, "");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static uint64_t rd(size_t off, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | (off + (size_t)i < len ? b[off + (size_t)i] : 0);
	return v;
}

/* A run of bytes in rows of 8. */
static void run(size_t off, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i += 8)
		bytes(off + i, n - i < 8 ? n - i : 8, "%s%s", what,
		      i ? " (cont.)" : "");
}

static size_t varint(size_t off, const char *what)
{
	size_t k = 0;
	uint64_t v = 0;

	while (off + k < len && k < 10) {
		v |= (uint64_t)(b[off + k] & 0x7f) << (7 * k);
		if (!(b[off + k++] & 0x80))
			break;
	}
	bytes(off, k, "%s = %" PRIu64 " (varint)", what, v);
	return k;
}

static const char *colname(int c)
{
	static const char *n[] = { "?", "op", "ts", "addr", "size",
				   "old_addr", "old_size", "align", "nmemb",
				   "heap", "aux", "flags", "result", "dur" };

	return c >= 1 && c <= 13 ? n[c] : "unknown";
}

static const char *encname(int e)
{
	static const char *n[] = { "PLAIN", "CONST", "VARINT",
				   "DELTA_VARINT", "DELTA_BSS", "BSS",
				   "REL_ADDR", "MRU_ADDR", "UDELTA_VARINT",
				   "UDELTA_BSS", "OPMAP_BITS", "MRU_BSS" };

	return e >= 0 && e <= 11 ? n[e] : "unknown";
}

static void events(size_t p, size_t plen)
{
	size_t pos, nc = rd(p + 24, 2), no = rd(p + 26, 2), dir, data;

	bytes(p, 8, "Ts_Min = %" PRIu64, rd(p, 8));
	bytes(p + 8, 8, "Ts_Max = %" PRIu64, rd(p + 8, 8));
	bytes(p + 16, 4, "Pid = %" PRIu64, rd(p + 16, 4));
	bytes(p + 20, 4, "Tid = %" PRIu64, rd(p + 20, 4));
	bytes(p + 24, 2, "Column_Count = %zu", nc);
	bytes(p + 26, 2, "Op_Count = %zu", no);
	bytes(p + 28, 4, "Reserved");
	pos = p + 32;
	for (size_t k = 0; k < no && pos + 4 <= p + plen; k++, pos += 4) {
		bytes(pos, 1, "Op = %u", b[pos]);
		bytes(pos + 1, 1, "Reserved");
		bytes(pos + 2, 2, "Column_Mask = 0x%04" PRIx64, rd(pos + 2, 2));
	}
	if ((pos - p) & 7)
		bytes(pos, 8 - ((pos - p) & 7), "padding to 8");
	pos = p + (((pos - p) + 7) & ~(size_t)7);
	dir = pos;
	data = dir + 24 * nc;
	for (size_t k = 0; k < nc && pos + 24 <= p + plen; k++, pos += 24) {
		printf("# column directory entry %zu\n", k);
		bytes(pos, 1, "Column_Id = %u (%s)", b[pos], colname(b[pos]));
		bytes(pos + 1, 1, "Encoding = %u (%s)", b[pos + 1],
		      encname(b[pos + 1]));
		bytes(pos + 2, 1, "Codec = %u (%s)", b[pos + 2],
		      b[pos + 2] ? "zstd" : "none");
		bytes(pos + 3, 1, "Width = %u", b[pos + 3]);
		bytes(pos + 4, 4, "Values = %" PRIu64, rd(pos + 4, 4));
		bytes(pos + 8, 4, "Raw_Length = %" PRIu64, rd(pos + 8, 4));
		bytes(pos + 12, 4, "Stored_Length = %" PRIu64, rd(pos + 12, 4));
		bytes(pos + 16, 8, "Param = %" PRIu64, rd(pos + 16, 8));
	}
	for (size_t k = 0; k < nc; k++) {
		size_t de = dir + 24 * k, st = rd(de + 12, 4);
		char what[64];

		snprintf(what, sizeof(what), "column %s data",
			 colname(b[de]));
		if (st)
			run(data, st, what);
		data += st;
	}
}

static void meta(size_t p, size_t plen, int type, size_t count)
{
	size_t q = p + 8, e = p + plen;

	bytes(p, 1, "Codec = %u", b[p]);
	bytes(p + 1, 3, "Reserved");
	bytes(p + 4, 4, "Body_Length = %" PRIu64, rd(p + 4, 4));
	if (b[p] != 0)
		return run(q, e - q, "compressed body");
	if (type == 0x89) {
		bytes(q, 8, "Prev_Index_Offset = %" PRIu64, rd(q, 8));
		q += 8;
		for (size_t i = 0; i < count && q + 48 <= e; i++, q += 48) {
			printf("# index entry %zu\n", i);
			bytes(q, 8, "Offset = %" PRIu64, rd(q, 8));
			bytes(q + 8, 8, "Sequence = %" PRIu64, rd(q + 8, 8));
			bytes(q + 16, 8, "Ts_Min = %" PRIu64, rd(q + 16, 8));
			bytes(q + 24, 8, "Ts_Max = %" PRIu64, rd(q + 24, 8));
			bytes(q + 32, 4, "Pid = %" PRIu64, rd(q + 32, 4));
			bytes(q + 36, 4, "Tid = %" PRIu64, rd(q + 36, 4));
			bytes(q + 40, 4, "Count = %" PRIu64, rd(q + 40, 4));
			bytes(q + 44, 1, "Type = 0x%02x", b[q + 44]);
			bytes(q + 45, 3, "Reserved");
		}
		return;
	}
	static const char *f[][6] = {
		[0x05 & 0xf] = { "Key_Length", "", "Value_Length", "" },
		[0x86 & 0xf] = { "Ts", "Pid", "Tid", "Name_Length", "" },
		[0x87 & 0xf] = { "Ts_From", "Ts_To", "Pid", "Tid", "Events",
				 "Reason" },
		[0x8B & 0xf] = { "Ts", "Pid", "Rss_Bytes" },
	};
	int nf = type == 0x05 ? 4 : type == 0x86 ? 5 : type == 0x87 ? 6 : 3;
	for (size_t i = 0; i < count && q < e; i++) {
		uint64_t last = 0;

		printf("# row %zu\n", i);
		for (int k = 0; k < nf && q < e; k++) {
			const char *name = f[type & 0xf][k];

			if (!*name) {
				if (last)
					bytes(q, last, "\"%.*s\"", (int)last,
					      (const char *)b + q);
				q += last;
				continue;
			}
			size_t s = q;
			q += varint(q, name);
			last = 0;
			for (size_t j = 0; j < q - s; j++)
				last |= (uint64_t)(b[s + j] & 0x7f) << (7 * j);
		}
	}
}

int main(int argc, char **argv)
{
	FILE *f;
	long l;

	if (argc != 2) {
		fprintf(stderr, "usage: htdump TRACE\n");
		return 2;
	}
	f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	l = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc(l > 0 ? (size_t)l : 1);
	len = fread((void *)b, 1, l > 0 ? (size_t)l : 0, f);
	fclose(f);

	printf("# ---- file header (64 bytes) ----\n");
	bytes(0, 8, "Magic \"\\x89HTR\\r\\n\\x1a\\n\"");
	bytes(8, 2, "Major_Version = %" PRIu64, rd(8, 2));
	bytes(10, 2, "Minor_Version = %" PRIu64, rd(10, 2));
	bytes(12, 4, "Header_Length = %" PRIu64, rd(12, 4));
	bytes(16, 8, "Incompat_Features");
	bytes(24, 8, "Compat_Features");
	bytes(32, 8, "Trace_UUID (bytes 0-7: the hash seed)");
	bytes(40, 8, "Trace_UUID (bytes 8-15)");
	bytes(48, 4, "Trace_Flags = 0x%" PRIx64, rd(48, 4));
	bytes(52, 4, "Reserved");
	bytes(56, 8, "Header_Hash = XXH3_64(bytes 0-55, seed 0)");
	for (size_t off = 64; off + 48 <= len;) {
		size_t plen = rd(off + 8, 4), cnt = rd(off + 12, 4);
		int type = b[off + 4];
		const char *tn = type == 0x01 ? "EVENTS" : type == 0x05 ?
			"PROCESS" : type == 0x86 ? "THREADS" : type == 0x87 ?
			"LOSS" : type == 0x89 ? "INDEX" : type == 0x8B ? "RSS" :
			type == 0x8F ? "END" : "unknown";

		printf("# ---- block at offset %zu: %s ----\n", off, tn);
		bytes(off, 4, "Block_Magic 0xF9E7C3B1");
		bytes(off + 4, 1, "Block_Type = 0x%02x (%s)", type, tn);
		bytes(off + 5, 1, "Header_Version = 0");
		bytes(off + 6, 2, "Block_Flags = 0");
		bytes(off + 8, 4, "Payload_Length = %zu", plen);
		bytes(off + 12, 4, "Count = %zu", cnt);
		bytes(off + 16, 8, "Sequence = %" PRIu64, rd(off + 16, 8));
		bytes(off + 24, 4, "Stream_Id = %" PRIu64, rd(off + 24, 4));
		bytes(off + 28, 4, "Reserved");
		bytes(off + 32, 8, "Payload_Hash");
		bytes(off + 40, 8, "Header_Hash");
		if (off + 48 + plen > len) {
			run(off + 48, len - off - 48, "payload (truncated)");
			off = len;
			break;
		}
		size_t p = off + 48;
		if (type == 0x01)
			events(p, plen);
		else if (type == 0x8F) {
			bytes(p, 8, "Last_Index_Offset = %" PRIu64, rd(p, 8));
			bytes(p + 8, 8, "Total_Events = %" PRIu64,
			      rd(p + 8, 8));
			bytes(p + 16, 8, "Block_Count = %" PRIu64,
			      rd(p + 16, 8));
			bytes(p + 24, 8, "End_Magic \"HTREND\\0\\0\"");
		} else if (type == 0x05 || type == 0x86 || type == 0x87 ||
			   type == 0x89 || type == 0x8B)
			meta(p, plen, type, cnt);
		else
			run(p, plen, "payload");
		if (plen & 7)
			bytes(p + plen, 8 - (plen & 7), "padding to 8");
		off = p + ((plen + 7) & ~(size_t)7);
	}
	return 0;
}
