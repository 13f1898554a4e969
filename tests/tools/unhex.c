/*
 * unhex.c - converts the annotated hex of spec/vectors/ to binary.
 *
 * usage: unhex IN.hex OUT     bytes of IN (comments after '#') into OUT
 *        unhex -f IN.hex      recomputes every hash field of IN in place
 *
 * A hex file holds two-digit hex bytes separated by white space; '#'
 * starts a comment to the end of the line.  -f is for whoever edits a
 * vector: it walks the blocks from offset 64 by their Payload_Length and
 * rewrites the file header hash and each block's payload and header
 * hashes (spec/FORMAT.md), except on lines that contain "nofix" (the bad
 * vectors whose point is a wrong hash).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct tok {
	size_t pos;     /* offset of the two digits in the text */
	int nofix;
};

static char *text;
static size_t text_len;
static uint8_t *bin;
static struct tok *toks;
static size_t n;

static int parse(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 0, line = 1;
	int nofix = 0;

	if (!f) {
		perror(path);
		return -1;
	}
	fseek(f, 0, SEEK_END);
	text_len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	text = malloc(text_len + 1);
	if (!text || fread(text, 1, text_len, f) != text_len) {
		fclose(f);
		return -1;
	}
	fclose(f);
	text[text_len] = 0;
	for (size_t i = 0; i < text_len;) {
		char c = text[i];

		if (c == '\n') {
			line++;
			i++;
			/* does the next line say nofix? */
			char *eol = strchr(text + i, '\n');
			size_t l = eol ? (size_t)(eol - (text + i)) :
				   text_len - i;
			char save = text[i + l];
			text[i + l] = 0;
			nofix = strstr(text + i, "nofix") != NULL;
			text[i + l] = save;
			continue;
		}
		if (c == '#') {
			while (i < text_len && text[i] != '\n')
				i++;
			continue;
		}
		if (isspace((unsigned char)c)) {
			i++;
			continue;
		}
		if (i + 1 < text_len && isxdigit((unsigned char)c) &&
		    isxdigit((unsigned char)text[i + 1]) &&
		    (i + 2 == text_len ||
		     isspace((unsigned char)text[i + 2]) ||
		     text[i + 2] == '#')) {
			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				bin = realloc(bin, cap);
				toks = realloc(toks, cap * sizeof(*toks));
				if (!bin || !toks)
					return -1;
			}
			char h[3] = { c, text[i + 1], 0 };
			bin[n] = (uint8_t)strtoul(h, NULL, 16);
			toks[n].pos = i;
			toks[n].nofix = nofix;
			n++;
			i += 2;
			continue;
		}
		fprintf(stderr, "%s:%zu: not a hex byte\n", path, line);
		return -1;
	}
	return 0;
}

/* The first line's nofix flag is not set by the loop above. */
static void first_line_nofix(void)
{
	char *eol = strchr(text, '\n');
	size_t l = eol ? (size_t)(eol - text) : text_len;
	char save = text[l];
	int nf;

	text[l] = 0;
	nf = strstr(text, "nofix") != NULL;
	text[l] = save;
	for (size_t i = 0; i < n && toks[i].pos < l; i++)
		toks[i].nofix = nf;
}

static void put64(size_t off, uint64_t v)
{
	for (int k = 0; k < 8; k++) {
		if (off + (size_t)k < n && !toks[off + (size_t)k].nofix)
			bin[off + (size_t)k] = (uint8_t)(v >> (8 * k));
	}
}

static void fix(void)
{
	uint64_t seed = 0;

	if (n < 64)
		return;
	put64(56, XXH3_64bits_withSeed(bin, 56, 0));
	memcpy(&seed, bin + 32, 8);
	for (size_t off = 64; off + 48 <= n;) {
		uint32_t plen;

		memcpy(&plen, bin + off + 8, 4);
		if (plen > n - off - 48)
			break;
		put64(off + 32, XXH3_64bits_withSeed(bin + off + 48, plen,
						      seed));
		put64(off + 40, XXH3_64bits_withSeed(bin + off, 40, seed ^
						      0x9E3779B97F4A7C15ull));
		off += 48 + (((size_t)plen + 7) & ~(size_t)7);
	}
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "-f")) {
		FILE *f;

		if (parse(argv[2]))
			return 1;
		first_line_nofix();
		fix();
		for (size_t i = 0; i < n; i++) {
			char h[3];

			snprintf(h, sizeof(h), "%02x", bin[i]);
			text[toks[i].pos] = h[0];
			text[toks[i].pos + 1] = h[1];
		}
		f = fopen(argv[2], "wb");
		if (!f || fwrite(text, 1, text_len, f) != text_len ||
		    fclose(f)) {
			perror(argv[2]);
			return 1;
		}
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: unhex IN.hex OUT | unhex -f IN.hex\n");
		return 2;
	}
	if (parse(argv[1]))
		return 1;
	FILE *f = fopen(argv[2], "wb");
	if (!f || fwrite(bin, 1, n, f) != n || fclose(f)) {
		perror(argv[2]);
		return 1;
	}
	return 0;
}
