/*
 * textin.c - the line reader of the text importers: plain, zstd, gzip or
 * zip input, one large buffer, lines handed out in place.
 *
 * Plain, zstd and gzip input are read with read(2) in 1 MiB chunks and
 * decompressed as a stream, so a file of any size needs ~5 MiB; zip goes
 * through libzip, which needs a seekable file or memory.  The format is
 * told by the first bytes, never by the name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zip.h>
#include <zlib.h>
#include <zstd.h>

#include "textin.h"

#define LINEBUF (4u << 20) /* also the longest line accepted */
#define RAWBUF (1u << 20)

struct textin {
	enum textin_kind kind;
	int fd, own;              /* own: close fd at the end */
	const unsigned char *mem; /* memory input instead of fd */
	size_t memlen, mempos;
	unsigned char *raw;       /* undecoded input: zstd frames, or the
				     first chunk of plain input */
	ZSTD_inBuffer zin;
	int raw_eof;
	ZSTD_DCtx *zd;
	z_stream *gz;
	int gz_end;               /* a gzip member ended */
	size_t zlast;             /* last ZSTD_decompressStream() hint */
	zip_t *za;
	zip_file_t *zf;
	char *buf;                /* lines */
	size_t pos, end, cap, rawcap;
	int eof;
	uint64_t lineno, rawpos, size, zipdone;
	char member[256];
	char err[256];
};

static const unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
static const unsigned char zip_magic[4] = {'P', 'K', 3, 4};
static const unsigned char gzip_magic[3] = {0x1f, 0x8b, 8};

const char *textin_kind_name(enum textin_kind k)
{
	return k == TEXTIN_ZSTD ? "zstd" : k == TEXTIN_ZIP ? "zip" :
	       k == TEXTIN_GZIP ? "gzip" : "none";
}

enum textin_kind textin_kind(const struct textin *t)
{
	return t->kind;
}

const char *textin_member(const struct textin *t)
{
	return t->member[0] ? t->member : NULL;
}

const char *textin_error(const struct textin *t)
{
	return t->err;
}

uint64_t textin_lineno(const struct textin *t)
{
	return t->lineno;
}

uint64_t textin_pos(const struct textin *t)
{
	return t->kind == TEXTIN_ZIP ? t->zipdone : t->rawpos;
}

uint64_t textin_size(const struct textin *t)
{
	return t->size;
}

/* Undecoded bytes from fd or memory; 0 at the end, -1 on error. */
static ssize_t raw_read(struct textin *t, void *dst, size_t n)
{
	ssize_t k;

	if (t->mem) {
		size_t left = t->memlen - t->mempos;
		if (n > left)
			n = left;
		memcpy(dst, t->mem + t->mempos, n);
		t->mempos += n;
		t->rawpos += n;
		return (ssize_t)n;
	}
	do
		k = read(t->fd, dst, n);
	while (k < 0 && errno == EINTR);
	if (k < 0) {
		snprintf(t->err, sizeof(t->err), "read error: %s",
			 strerror(errno));
		return -1;
	}
	t->rawpos += (uint64_t)k;
	return k;
}

static int pick_member(struct textin *t)
{
	zip_int64_t n = zip_get_num_entries(t->za, 0), i, pick = -1, txt = -1;

	for (i = 0; i < n; i++) {
		const char *name = zip_get_name(t->za, (zip_uint64_t)i, 0);
		size_t len;
		if (!name || !(len = strlen(name)) || name[len - 1] == '/')
			continue;
		if (pick < 0)
			pick = i;
		if (len > 4 && !strcmp(name + len - 4, ".txt") && txt < 0)
			txt = i;
	}
	if (pick < 0) {
		snprintf(t->err, sizeof(t->err), "zip archive has no file");
		return -1;
	}
	if (txt >= 0)
		pick = txt;
	snprintf(t->member, sizeof(t->member), "%s",
		 zip_get_name(t->za, (zip_uint64_t)pick, 0));
	{
		zip_stat_t st;
		if (!zip_stat_index(t->za, (zip_uint64_t)pick, 0, &st) &&
		    (st.valid & ZIP_STAT_SIZE))
			t->size = st.size;
	}
	t->zf = zip_fopen_index(t->za, (zip_uint64_t)pick, 0);
	if (!t->zf) {
		snprintf(t->err, sizeof(t->err), "zip member '%.100s': %s",
			 t->member, zip_strerror(t->za));
		return -1;
	}
	return 0;
}

static int open_zip(struct textin *t)
{
	zip_error_t ze;
	int code = 0;

	t->kind = TEXTIN_ZIP;
	if (t->mem) {
		zip_source_t *src;
		zip_error_init(&ze);
		src = zip_source_buffer_create(t->mem, t->memlen, 0, &ze);
		if (src && !(t->za = zip_open_from_source(src, ZIP_RDONLY,
							  &ze)))
			zip_source_free(src);
	} else {
		if (lseek(t->fd, 0, SEEK_SET) != 0) {
			snprintf(t->err, sizeof(t->err),
				 "zip input must be a seekable file");
			return -1;
		}
		t->za = zip_fdopen(t->fd, 0, &code);
		if (t->za)
			t->own = 0; /* libzip owns it now */
		zip_error_init_with_code(&ze, code);
	}
	if (!t->za) {
		snprintf(t->err, sizeof(t->err), "bad zip archive: %s",
			 zip_error_strerror(&ze));
		zip_error_fini(&ze);
		return -1;
	}
	zip_error_fini(&ze);
	return pick_member(t);
}

static int start(struct textin *t)
{
	ssize_t k;
	size_t have = 0;

	/* Small memory inputs (the fuzzers) get small buffers, so that
	 * their lines over 64 KiB exercise the too-long-line path. */
	t->cap = LINEBUF;
	t->rawcap = RAWBUF;
	if (t->mem && t->memlen < 65536) {
		t->rawcap = t->memlen + 8;
		t->cap = 65536;
	}
	t->buf = malloc(t->cap);
	t->raw = malloc(t->rawcap);
	if (!t->buf || !t->raw) {
		snprintf(t->err, sizeof(t->err), "out of memory");
		return -1;
	}
	/* Enough of the start to see a magic number, even from a pipe. */
	while (have < 4) {
		k = raw_read(t, t->raw + have, t->rawcap - have);
		if (k < 0)
			return -1;
		if (k == 0) {
			t->raw_eof = 1;
			break;
		}
		have += (size_t)k;
	}
	t->zin.src = t->raw;
	t->zin.size = have;
	t->zin.pos = 0;
	if (have >= 4 && !memcmp(t->raw, zip_magic, 4))
		return open_zip(t);
	if (have >= 3 && !memcmp(t->raw, gzip_magic, 3)) {
		t->kind = TEXTIN_GZIP;
		t->gz = calloc(1, sizeof(*t->gz));
		if (!t->gz || inflateInit2(t->gz, 16 + MAX_WBITS) != Z_OK) {
			free(t->gz);
			t->gz = NULL;
			snprintf(t->err, sizeof(t->err), "out of memory");
			return -1;
		}
		return 0;
	}
	if (have >= 4 && !memcmp(t->raw, zstd_magic, 4)) {
		t->kind = TEXTIN_ZSTD;
		t->zd = ZSTD_createDCtx();
		if (!t->zd) {
			snprintf(t->err, sizeof(t->err), "out of memory");
			return -1;
		}
		/* Refuse windows over 512 MiB rather than allocate them. */
		ZSTD_DCtx_setParameter(t->zd, ZSTD_d_windowLogMax, 29);
	}
	return 0;
}

int textin_open(struct textin **tp, const char *path, char *err,
		size_t errlen)
{
	struct textin *t = calloc(1, sizeof(*t));
	struct stat st;

	*tp = NULL;
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!strcmp(path, "-")) {
		t->fd = STDIN_FILENO;
	} else if ((t->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		free(t);
		return -1;
	} else {
		t->own = 1;
	}
	if (!fstat(t->fd, &st) && S_ISREG(st.st_mode))
		t->size = (uint64_t)st.st_size;
	if (start(t)) {
		snprintf(err, errlen, "%s", t->err);
		textin_close(t);
		return -1;
	}
	*tp = t;
	return 0;
}

int textin_open_mem(struct textin **tp, const void *buf, size_t n,
		    char *err, size_t errlen)
{
	struct textin *t = calloc(1, sizeof(*t));

	*tp = NULL;
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	t->fd = -1;
	t->mem = buf ? buf : (const void *)"";
	t->memlen = n;
	t->size = n;
	if (start(t)) {
		snprintf(err, errlen, "%s", t->err);
		textin_close(t);
		return -1;
	}
	*tp = t;
	return 0;
}

void textin_close(struct textin *t)
{
	if (!t)
		return;
	if (t->zf)
		zip_fclose(t->zf);
	if (t->za)
		zip_discard(t->za);
	ZSTD_freeDCtx(t->zd);
	if (t->gz) {
		inflateEnd(t->gz);
		free(t->gz);
	}
	if (t->own)
		close(t->fd);
	free(t->buf);
	free(t->raw);
	free(t);
}

/* Refills the undecoded input when it is used up.  0 or -1. */
static int refill(struct textin *t)
{
	ssize_t k;

	if (t->zin.pos < t->zin.size || t->raw_eof)
		return 0;
	k = raw_read(t, t->raw, t->rawcap);
	if (k < 0)
		return -1;
	t->zin.size = (size_t)k;
	t->zin.pos = 0;
	if (k == 0)
		t->raw_eof = 1;
	return 0;
}

static ssize_t fill_gzip(struct textin *t, char *dst, size_t room)
{
	for (;;) {
		size_t k;
		int zr;

		if (refill(t))
			return -1;
		if (t->gz_end) {
			if (t->zin.pos == t->zin.size)
				return 0;
			inflateReset(t->gz); /* the next member */
			t->gz_end = 0;
		}
		t->gz->next_in = t->raw + t->zin.pos;
		t->gz->avail_in = (uInt)(t->zin.size - t->zin.pos);
		t->gz->next_out = (unsigned char *)dst;
		t->gz->avail_out = (uInt)room;
		zr = inflate(t->gz, Z_NO_FLUSH);
		t->zin.pos = t->zin.size - t->gz->avail_in;
		k = room - t->gz->avail_out;
		if (zr == Z_STREAM_END) {
			t->gz_end = 1;
		} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
			snprintf(t->err, sizeof(t->err), "gzip input: %s",
				 t->gz->msg ? t->gz->msg : "corrupt data");
			return -1;
		}
		if (k)
			return (ssize_t)k;
		if (!t->gz_end && t->raw_eof && t->zin.pos == t->zin.size) {
			snprintf(t->err, sizeof(t->err),
				 "gzip input is truncated");
			return -1;
		}
	}
}

/* Appends decoded text to buf[end..cap).  Returns the number of
 * bytes added, 0 at the end of the text, -1 on error. */
static ssize_t fill(struct textin *t)
{
	char *dst = t->buf + t->end;
	size_t room = t->cap - t->end;

	if (t->kind == TEXTIN_ZIP) {
		zip_int64_t k = zip_fread(t->zf, dst, room);
		if (k < 0) {
			snprintf(t->err, sizeof(t->err),
				 "zip member '%.100s': %s", t->member,
				 zip_file_strerror(t->zf));
			return -1;
		}
		t->zipdone += (uint64_t)k;
		return (ssize_t)k;
	}
	if (t->kind == TEXTIN_PLAIN) {
		if (t->zin.pos < t->zin.size) { /* the first chunk */
			size_t k = t->zin.size - t->zin.pos;
			if (k > room)
				k = room;
			memcpy(dst, t->raw + t->zin.pos, k);
			t->zin.pos += k;
			return (ssize_t)k;
		}
		if (t->raw_eof)
			return 0;
		return raw_read(t, dst, room);
	}
	if (t->kind == TEXTIN_GZIP)
		return fill_gzip(t, dst, room);
	for (;;) {
		ZSTD_outBuffer out = {dst, room, 0};
		size_t r, inpos;

		if (refill(t))
			return -1;
		inpos = t->zin.pos;
		r = ZSTD_decompressStream(t->zd, &out, &t->zin);
		if (ZSTD_isError(r)) {
			snprintf(t->err, sizeof(t->err),
				 "zstd input at byte %llu: %s",
				 (unsigned long long)(t->rawpos -
					(t->zin.size - t->zin.pos)),
				 ZSTD_getErrorName(r));
			return -1;
		}
		/* A call that did nothing would report the next frame's
		 * header as still missing: keep the last real hint. */
		if (out.pos || t->zin.pos != inpos)
			t->zlast = r;
		if (out.pos)
			return (ssize_t)out.pos;
		if (t->raw_eof && t->zin.pos == t->zin.size) {
			if (t->zlast) {
				snprintf(t->err, sizeof(t->err),
					 "zstd input is truncated");
				return -1;
			}
			return 0;
		}
	}
}

int textin_line(struct textin *t, const char **line, size_t *len)
{
	for (;;) {
		char *s = t->buf + t->pos, *nl;
		size_t avail = t->end - t->pos, n;
		ssize_t k;

		if ((nl = memchr(s, '\n', avail)) || (t->eof && avail)) {
			n = nl ? (size_t)(nl - s) : avail;
			t->pos += nl ? n + 1 : n;
			if (n && s[n - 1] == '\r')
				n--;
			t->lineno++;
			*line = s;
			*len = n;
			return 1;
		}
		if (t->eof)
			return 0;
		if (t->pos) {
			memmove(t->buf, s, avail);
			t->pos = 0;
			t->end = avail;
		}
		if (t->end == t->cap) {
			snprintf(t->err, sizeof(t->err),
				 "line longer than %zu bytes", t->cap);
			return -1;
		}
		k = fill(t);
		if (k < 0)
			return -1;
		if (k == 0)
			t->eof = 1;
		t->end += (size_t)k;
	}
}

/* Inflates (or copies) the start of one member's data. */
static size_t peek_member(const unsigned char *b, size_t n, unsigned method,
			  unsigned char *out, size_t cap)
{
	if (method == 0) {
		size_t k = n < cap ? n : cap;
		memcpy(out, b, k);
		return k;
	}
	if (method == 8) {
		z_stream zs;
		size_t k;
		memset(&zs, 0, sizeof(zs));
		if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
			return 0;
		zs.next_in = (unsigned char *)(uintptr_t)b;
		zs.avail_in = (uInt)n;
		zs.next_out = out;
		zs.avail_out = (uInt)cap;
		inflate(&zs, Z_SYNC_FLUSH); /* what it gives is enough */
		k = cap - zs.avail_out;
		inflateEnd(&zs);
		return k;
	}
	return 0;
}

/* Walks the local file headers in the first bytes of a zip and peeks into
 * the member textin would read: the first .txt one, else the first file.
 * A member written with a data descriptor hides its size, so the walk
 * stops there. */
static size_t peek_zip(const unsigned char *b, size_t n, unsigned char *out,
		       size_t cap)
{
	size_t off = 0, first = SIZE_MAX, pick = SIZE_MAX;
	unsigned first_m = 0, pick_m = 0;
	int i;

	for (i = 0; i < 64 && off + 30 <= n &&
		    !memcmp(b + off, zip_magic, 4); i++) {
		const unsigned char *h = b + off;
		unsigned flags = h[6] | (unsigned)h[7] << 8;
		unsigned method = h[8] | (unsigned)h[9] << 8;
		uint32_t csize = h[18] | (uint32_t)h[19] << 8 |
				 (uint32_t)h[20] << 16 | (uint32_t)h[21] << 24;
		unsigned nlen = h[26] | (unsigned)h[27] << 8;
		unsigned xlen = h[28] | (unsigned)h[29] << 8;
		size_t data = off + 30 + nlen + xlen;
		const char *name = (const char *)h + 30;

		if (data > n)
			break;
		if (!(flags & 1) && nlen && name[nlen - 1] != '/') {
			if (first == SIZE_MAX) {
				first = data;
				first_m = method;
			}
			if (nlen > 4 && !memcmp(name + nlen - 4, ".txt", 4)) {
				pick = data;
				pick_m = method;
				break;
			}
		}
		if (flags & 8)
			break;
		off = data + csize;
	}
	if (pick == SIZE_MAX) {
		pick = first;
		pick_m = first_m;
	}
	if (pick == SIZE_MAX || pick >= n)
		return 0;
	return peek_member(b + pick, n - pick, pick_m, out, cap);
}

static size_t peek_zstd(const unsigned char *b, size_t n, unsigned char *out,
			size_t cap)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer in = {b, n, 0};
	ZSTD_outBuffer o = {out, cap, 0};

	if (!d)
		return 0;
	ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 29);
	while (o.pos < o.size && in.pos < in.size) {
		size_t before = in.pos + o.pos;
		if (ZSTD_isError(ZSTD_decompressStream(d, &o, &in)))
			break;
		if (in.pos + o.pos == before)
			break;
	}
	/* Flush what the decoder still holds for the bytes it has. */
	while (o.pos < o.size) {
		size_t before = o.pos;
		if (ZSTD_isError(ZSTD_decompressStream(d, &o, &in)) ||
		    o.pos == before)
			break;
	}
	ZSTD_freeDCtx(d);
	return o.pos;
}

static size_t peek_gzip(const unsigned char *b, size_t n, unsigned char *out,
			size_t cap)
{
	z_stream zs;
	size_t k;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return 0;
	zs.next_in = (unsigned char *)(uintptr_t)b;
	zs.avail_in = (uInt)n;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	inflate(&zs, Z_SYNC_FLUSH);
	k = cap - zs.avail_out;
	inflateEnd(&zs);
	return k;
}

size_t textin_peek(const unsigned char *buf, size_t n, unsigned char *out,
		   size_t cap, const unsigned char **text)
{
	if (n >= 3 && !memcmp(buf, gzip_magic, 3)) {
		*text = out;
		return peek_gzip(buf, n, out, cap);
	}
	if (n >= 4 && !memcmp(buf, zstd_magic, 4)) {
		*text = out;
		return peek_zstd(buf, n, out, cap);
	}
	if (n >= 4 && !memcmp(buf, zip_magic, 4)) {
		*text = out;
		return peek_zip(buf, n, out, cap);
	}
	*text = buf;
	return n;
}

int textin_probe_lines(const unsigned char *text, size_t n, int whole,
		       int max, int (*fn)(const char *s, size_t len))
{
	const char *s = (const char *)text, *e = s + n;
	int ok = 0;

	while (s < e && ok < max) {
		const char *nl = memchr(s, '\n', (size_t)(e - s));
		size_t len;
		if (!nl && !whole)
			break;
		len = nl ? (size_t)(nl - s) : (size_t)(e - s);
		if (len && s[len - 1] == '\r')
			len--;
		if (len) {
			if (!fn(s, len))
				return -1;
			ok++;
		}
		s = nl ? nl + 1 : e;
	}
	return ok;
}

int textin_probe(const unsigned char *buf, size_t n,
		 int (*fn)(const char *s, size_t len))
{
	unsigned char out[65536];
	const unsigned char *text;
	size_t len = textin_peek(buf, n, out, sizeof(out), &text);

	return textin_probe_lines(text, len, text == buf && n < 65536, 16,
				  fn) > 0;
}
