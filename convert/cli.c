/*
 * cli.c - shared command-line plumbing (see cli.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "convert.h"

const char *cli_prog = "heaptape";

int cli_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", cli_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: warning: ", cli_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage(const struct ht_cmd *c, int status, const char *msg)
{
	FILE *f = status ? stderr : stdout;

	if (msg)
		fprintf(stderr, "%s: %s\n", cli_prog, msg);
	fprintf(f, "usage: heaptape %s\n", c->usage);
	if (!status) {
		fprintf(f, "\n%s\n", c->summary);
		if (c->help)
			fprintf(f, "\n%s", c->help);
	}
	return status;
}

int cli_bad_option(const struct ht_cmd *c, int ch, char *const *argv)
{
	char name[64], msg[128];
	const char *a = optind > 0 ? argv[optind - 1] : NULL;

	if (ch != ':' && optopt > 0 && optopt < 128 && isprint(optopt))
		snprintf(name, sizeof(name), "-%c", optopt); /* short */
	else if (a)
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(a, "="), a);
	else
		snprintf(name, sizeof(name), "?");
	snprintf(msg, sizeof(msg), ch == ':' ? "option '%s' needs a value" :
		 "unknown option '%s'", name);
	return cli_usage(c, 2, msg);
}

/* A file too short for its 64-byte header: said as what it is, not as
 * a cut block.  Returns 1 if said. */
int cli_header_cut(const struct ht_reader *r, const char *path, int err,
		   const char *prefix)
{
	struct stat st;

	if (!r || err != HT_ETRUNC || ht_reader_error_offset(r))
		return 0;
	/* a failed reader has no info: the file says its size */
	if (!stat(path, &st) && S_ISREG(st.st_mode) && st.st_size < 64)
		cli_error("'%s': %sfile header cut short (%lld of 64 bytes)",
			  path, prefix, (long long)st.st_size);
	else
		cli_error("'%s': %sfile header cut short (less than 64 "
			  "bytes)", path, prefix);
	return 1;
}

int cli_trace_error(const struct ht_reader *r, const char *path, int err)
{
	if (cli_header_cut(r, path, err, "offset 0: "))
		return 1;
	if (r && err == HT_ECHECKSUM && ht_reader_error_offset(r) == 56)
		return cli_error("'%s': file header damaged (checksum mismatch "
				 "at offset 56); --salvage reads the blocks if "
				 "its UUID is whole", path);
	if (r)
		return cli_error("'%s': %s at offset %llu", path,
				 ht_strerror(err),
				 (unsigned long long)ht_reader_error_offset(r));
	return cli_error("'%s': %s", path, ht_strerror(err));
}

int cli_trace_timed(const struct ht_reader *r)
{
	const char *v = ht_reader_meta(r, "recorder.latency");

	return v && !strcmp(v, "1");
}

int cli_open_trace(struct ht_reader **r, const char *path, int mode)
{
	int err = strcmp(path, "-") ? ht_reader_open(r, path, mode)
				    : ht_reader_open_fd(r, STDIN_FILENO, mode);

	if (!err)
		return 0;
	if (!strcmp(path, "-"))
		path = "(stdin)";
	if (!*r) {
		if (err == HT_EIO)
			return cli_error("cannot open '%s': %s", path,
					 strerror(errno));
		return cli_error("cannot open '%s': %s", path,
				 ht_strerror(err));
	}
	cli_trace_error(*r, path, err);
	ht_reader_close(*r);
	*r = NULL;
	return 1;
}

/*
 * Temporary outputs removed when SIGINT, SIGTERM or SIGHUP ends the
 * command: the handler unlinks each (async-signal-safe), then dies of
 * the signal as it would have.  A signal the caller ignores (nohup) is
 * left ignored.
 */
#define NTMP 16
static const char *volatile tmp_live[NTMP];

static void on_fatal(int sig)
{
	for (int i = 0; i < NTMP; i++)
		if (tmp_live[i])
			unlink(tmp_live[i]);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void tmp_watch(const char *name, int on)
{
	static int installed;
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};

	if (on && !installed) {
		installed = 1;
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
			struct sigaction sa, old;

			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = on_fatal;
			sigemptyset(&sa.sa_mask);
			if (!sigaction(sigs[i], NULL, &old) &&
			    old.sa_handler == SIG_DFL)
				sigaction(sigs[i], &sa, NULL);
		}
	}
	for (int i = 0; i < NTMP; i++)
		if (on ? !tmp_live[i] : tmp_live[i] == name) {
			tmp_live[i] = on ? name : NULL;
			return;
		}
}

int cli_grow(void *v, size_t *cap, size_t n, size_t elem, size_t first)
{
	size_t nc = *cap ? *cap * 2 : first;
	void *p;

	if (n < *cap)
		return 0;
	if (nc < *cap || nc > SIZE_MAX / elem)
		return -1;
	memcpy(&p, v, sizeof(p));
	if (!(p = realloc(p, nc * elem)))
		return -1;
	memcpy(v, &p, sizeof(p));
	*cap = nc;
	return 0;
}

const char *cli_out_is_input(const char *out, char *const *in, size_t n)
{
	struct stat so, si;

	if (!strcmp(out, "-") || stat(out, &so) || !S_ISREG(so.st_mode))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(in[i], "-") && !stat(in[i], &si) &&
		    si.st_dev == so.st_dev && si.st_ino == so.st_ino)
			return in[i];
	return NULL;
}

int cli_out_open(struct cli_out *o, const char *path)
{
	memset(o, 0, sizeof(*o));
	o->path = path;
	o->fd = -1;
	if (!strcmp(path, "-")) {
		o->is_stdout = 1;
		o->fd = STDOUT_FILENO;
		o->fp = stdout;
		return 0;
	}
	{
		/* /dev/null, /dev/stdout, a FIFO: no file to replace
		 * (renaming over /dev/null would turn it into a file) */
		struct stat st;

		if (!stat(path, &st) && !S_ISREG(st.st_mode)) {
			if (S_ISDIR(st.st_mode))
				return cli_error("cannot write '%s': %s", path,
						 strerror(EISDIR));
			o->fd = open(path, O_WRONLY | O_CLOEXEC);
			if (o->fd < 0)
				return cli_error("cannot open '%s': %s", path,
						 strerror(errno));
			o->direct = 1;
			goto stream;
		}
	}
	if ((size_t)snprintf(o->tmp, sizeof(o->tmp), "%s.tmp.XXXXXX", path) >=
	    sizeof(o->tmp))
		return cli_error("'%s': name too long", path);
	o->fd = mkstemp(o->tmp);
	if (o->fd < 0)
		return cli_error("cannot create '%s': %s", path,
				 strerror(errno));
	tmp_watch(o->tmp, 1);
	fchmod(o->fd, 0644);
stream:
	o->fp = fdopen(o->fd, "w");
	if (!o->fp) {
		int e = errno;
		close(o->fd);
		if (!o->direct) {
			unlink(o->tmp);
			tmp_watch(o->tmp, 0);
		}
		return cli_error("cannot create '%s': %s", path, strerror(e));
	}
	setvbuf(o->fp, NULL, _IOFBF, 1 << 20);
	return 0;
}

int cli_out_commit(struct cli_out *o)
{
	int err = 0;

	if (o->is_stdout) {
		if (fflush(stdout) || ferror(stdout))
			return cli_error("cannot write standard output: %s",
					 strerror(errno));
		return 0;
	}
	if (fflush(o->fp) || ferror(o->fp))
		err = errno ? errno : EIO;
	if (fclose(o->fp) && !err)
		err = errno;
	o->fp = NULL;
	o->fd = -1;
	if (!err && !o->direct && rename(o->tmp, o->path))
		err = errno;
	if (!o->direct)
		tmp_watch(o->tmp, 0);
	if (err) {
		if (!o->direct)
			unlink(o->tmp);
		return cli_error("cannot write '%s': %s", o->path,
				 strerror(err));
	}
	return 0;
}

void cli_out_abort(struct cli_out *o)
{
	if (o->is_stdout) {
		fflush(stdout);
		return;
	}
	if (o->fp)
		fclose(o->fp);
	else if (o->fd >= 0)
		close(o->fd);
	o->fp = NULL;
	o->fd = -1;
	if (o->tmp[0] && !o->direct) {
		unlink(o->tmp);
		tmp_watch(o->tmp, 0);
	}
}

int cli_parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 0);
	if (errno || *end)
		return -1;
	return 0;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end == 'i' && shift)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

int cli_parse_duration(const char *s, uint64_t *ns)
{
	char *end;
	double v, mul = 1;

	if (!s || !*s)
		return -1;
	if (*s == '+')
		s++;
	if (*s == '-' || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v))
		return -1;
	if (!strcmp(end, "") && v != 0)
		return -2; /* 10 what? a bare 0 is clear */
	if (!strcmp(end, "") || !strcmp(end, "ns"))
		mul = 1;
	else if (!strcmp(end, "us"))
		mul = 1e3;
	else if (!strcmp(end, "ms"))
		mul = 1e6;
	else if (!strcmp(end, "s"))
		mul = 1e9;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		mul = 60e9;
	else if (!strcmp(end, "h"))
		mul = 3600e9;
	else
		return -1;
	v *= mul;
	if (v < 0 || v >= 1.8e19)
		return -1;
	*ns = (uint64_t)(v + 0.5);
	return 0;
}

int cli_spool(const char *in, char *path, size_t n, int *fd)
{
	struct stat st;
	char buf[65536];
	ssize_t k;
	int src = strcmp(in, "-") ? open(in, O_RDONLY | O_CLOEXEC) : 0;

	*fd = -1;
	if (src < 0)
		return cli_error("cannot open '%s': %s", in, strerror(errno));
	if (src && !fstat(src, &st) && S_ISREG(st.st_mode)) {
		close(src);
		snprintf(path, n, "%s", in);
		return 0;
	}
	/* a pipe can be read once: keep its bytes for every look */
	if ((*fd = memfd_create("heaptape-input", MFD_CLOEXEC)) < 0) {
		cli_error("'%s': %s", in, strerror(errno));
		goto fail;
	}
	while ((k = read(src, buf, sizeof(buf))) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 || write(*fd, buf, (size_t)k) != k) {
			cli_error("'%s': %s", in, strerror(errno));
			goto fail;
		}
	}
	if (src)
		close(src);
	snprintf(path, n, "/proc/self/fd/%d", *fd);
	return 0;
fail:
	if (src)
		close(src);
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return 1;
}

int cli_warn_same_trace(const uint8_t *ua, const char *pa,
			const uint8_t *ub, const char *pb)
{
	static const uint8_t zero[16];

	if (!memcmp(ua, zero, 16) || memcmp(ua, ub, 16))
		return 0;
	cli_warn("'%s' is the same trace as '%s' (same UUID): its events "
		 "count twice", pa, pb);
	return 1;
}

const char *cli_duration_error(const char *opt, const char *s)
{
	static char msg[160];

	if (cli_parse_duration(s, &(uint64_t){0}) == -2)
		snprintf(msg, sizeof(msg), "%s %.40s: add a unit, such as "
			 "%.40sms", opt, s, s);
	else
		snprintf(msg, sizeof(msg), "%s takes a time such as 10ms or "
			 "1.5s, not '%.40s'", opt, s);
	return msg;
}

void cli_put_clean(FILE *f, const char *s, int max)
{
	for (int i = 0; s && s[i] && i < max; i++)
		fputc((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i],
		      f);
}

void cli_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static const char *const kind_names[] = {
	[CLI_KIND_UNKNOWN] = "unknown", [CLI_KIND_HTAPE] = "htape",
	[CLI_KIND_ETL] = "etl",         [CLI_KIND_CSV] = "csv",
	[CLI_KIND_ANDROID] = "android", [CLI_KIND_MTRACE] = "mtrace",
	[CLI_KIND_HEAPTRACK] = "heaptrack",
	[CLI_KIND_LTTNG] = "lttng",
};

const char *cli_kind_name(enum cli_kind k)
{
	return k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k]
							       : "unknown";
}

enum cli_kind cli_kind_from_name(const char *name)
{
	for (size_t i = 1; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (!strcasecmp(name, kind_names[i]))
			return (enum cli_kind)i;
	if (!strcasecmp(name, "trace") || !strcasecmp(name, "heaptape"))
		return CLI_KIND_HTAPE;
	if (!strcasecmp(name, "record_allocs"))
		return CLI_KIND_ANDROID;
	return CLI_KIND_UNKNOWN;
}

static int has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && !strcasecmp(s + a - b, suf);
}

enum cli_kind cli_file_kind(const char *path)
{
	static const unsigned char magic[8] = {0x89, 'H', 'T', 'R',
					       0x0d, 0x0a, 0x1a, 0x0a};
	unsigned char buf[65536];
	struct stat st;
	ssize_t n = 0, k;
	int fd;

	if (!strcmp(path, "-"))
		return CLI_KIND_UNKNOWN;
	/* a pipe or a device cannot be read twice (<(cmd), a FIFO whose
	 * writer would get EPIPE when we closed it): not sniffed */
	if (!stat(path, &st) && S_ISDIR(st.st_mode))
		return lttng_probe_dir(path) ? CLI_KIND_LTTNG
					     : CLI_KIND_UNKNOWN;
	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return CLI_KIND_UNKNOWN;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return CLI_KIND_UNKNOWN;
	while (n < (ssize_t)sizeof(buf) &&
	       (k = read(fd, buf + n, sizeof(buf) - (size_t)n)) > 0)
		n += k;
	close(fd);
	if (n >= 8 && !memcmp(buf, magic, 8))
		return CLI_KIND_HTAPE;
	if (etl_probe(buf, (size_t)n))
		return CLI_KIND_ETL;
	if (has_suffix(path, ".csv") && csv_probe(buf, (size_t)n))
		return CLI_KIND_CSV;
	if (heaptrack_probe(buf, (size_t)n))
		return CLI_KIND_HEAPTRACK;
	if (android_probe(buf, (size_t)n))
		return CLI_KIND_ANDROID;
	if (mtrace_probe(buf, (size_t)n))
		return CLI_KIND_MTRACE;
	if (csv_probe(buf, (size_t)n))
		return CLI_KIND_CSV;
	return CLI_KIND_UNKNOWN;
}

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_start(struct cli_progress *p, const char *label,
			uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->label = label;
	p->total = total;
	p->start = p->last = cli_now();
	p->active = isatty(STDERR_FILENO);
}

void cli_progress_update(struct cli_progress *p, uint64_t done)
{
	double now;

	p->done = done;
	if (!p->active)
		return;
	now = cli_now();
	if (now - p->start < 1.0 || now - p->last < 0.1)
		return;
	p->last = now;
	p->drawn = 1;
	if (p->total) {
		double f = (double)done / (double)p->total;
		int w = 30, fill = (int)(f * w);
		if (fill > w)
			fill = w;
		fprintf(stderr, "\r%s [%.*s%*s] %3.0f%% %.1fs", p->label,
			fill, "##############################", w - fill, "",
			f * 100.0, now - p->start);
	} else {
		fprintf(stderr, "\r%s %llu %.1fs", p->label,
			(unsigned long long)done, now - p->start);
	}
}

void cli_progress_end(struct cli_progress *p)
{
	if (p->active && p->drawn)
		fputs("\r\033[K", stderr);
	p->active = 0;
}

const char *cli_bytes(char *buf, size_t n, uint64_t v)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB",
					   "PiB", "EiB"};
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 6) {
		d /= 1024;
		u++;
	}
	if (!u)
		snprintf(buf, n, "%" PRIu64 " B", v);
	else
		snprintf(buf, n, "%.1f %s", d, unit[u]);
	return buf;
}
