/*
 * textin.h - a fast line reader for the text importers (android.c,
 * mtrace.c): plain text, zstd (streamed with libzstd), gzip (zlib) or zip
 * (libzip: the first member named *.txt, else the first file member),
 * from a file, standard input or memory (fuzzers).
 *
 * Lines are returned in place (no copy), without the newline or a trailing
 * carriage return, and stay valid until the next call.
 */
#ifndef HT_TEXTIN_H
#define HT_TEXTIN_H

#include <stddef.h>
#include <stdint.h>

enum textin_kind { TEXTIN_PLAIN = 0, TEXTIN_ZSTD, TEXTIN_ZIP, TEXTIN_GZIP };

struct textin;

/* Opens path ("-" is standard input).  Returns 0, or -1 with a message
 * (strerror or libzip/libzstd text) in err. */
int textin_open(struct textin **tp, const char *path, char *err,
		size_t errlen);
/* Reads from memory that stays valid until textin_close(). */
int textin_open_mem(struct textin **tp, const void *buf, size_t n,
		    char *err, size_t errlen);
void textin_close(struct textin *t); /* NULL ok */

/* Next line: 1 with *line and *len set, 0 at the end, -1 on a read or
 * decompression error (textin_error()). */
int textin_line(struct textin *t, const char **line, size_t *len);
uint64_t textin_lineno(const struct textin *t); /* of the last line, 1.. */
const char *textin_error(const struct textin *t);
enum textin_kind textin_kind(const struct textin *t);
/* "none", "zstd", "zip", "gzip" */
const char *textin_kind_name(enum textin_kind k);
const char *textin_member(const struct textin *t); /* zip member or NULL */
/* Bytes of the underlying file consumed so far, and its size (0 if not
 * known), for a progress bar. */
uint64_t textin_pos(const struct textin *t);
uint64_t textin_size(const struct textin *t);

/* For content probes: if buf (the first n bytes of a file) starts a zstd
 * frame, a gzip member or a zip local file, decompresses what it can of
 * the start of the text into out[0..cap) and returns its length; else
 * copies nothing and returns n with *text = buf.  *text is where the text
 * is. */
size_t textin_peek(const unsigned char *buf, size_t n, unsigned char *out,
		   size_t cap, const unsigned char **text);

/* Probe helper: calls fn on each complete line of text[0..n) (and on a
 * last unterminated line when whole is set), at most max lines, skipping
 * empty ones.  Returns the number of lines fn accepted, or -1 as soon as
 * one is rejected (fn returns 0). */
int textin_probe_lines(const unsigned char *text, size_t n, int whole,
		       int max, int (*fn)(const char *s, size_t len));

/* A format's content probe in one call: peeks inside compression
 * (textin_peek) and accepts the first 16 lines with fn.  Returns 1 if at
 * least one line was accepted and none rejected. */
int textin_probe(const unsigned char *buf, size_t n,
		 int (*fn)(const char *s, size_t len));

#endif
