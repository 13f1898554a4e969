/*
 * cmd_record.c - `heaptape record [options] -- PROG ARGS`: run PROG with
 * libheaptape-record.so preloaded and return PROG's exit status.
 *
 * The options become HEAPTAPE_* variables (the library reads only its
 * environment, so LD_PRELOAD=... HEAPTAPE_OUT=... PROG is the same thing).
 * Exit status as env(1)/timeout(1): PROG's own status, 128+N if PROG died
 * from signal N, 125 if heaptape failed, 126 if PROG cannot be executed,
 * 127 if it is not found.  A trace is never overwritten silently.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <elf.h>

#include "../convert/cli.h"
#include "signame.h"

extern const struct ht_cmd cmd_record_entry;

#define PRELOAD_NAME "libheaptape-record.so"

static pid_t child;

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

static int exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The recorder stays out of a program with little address space left
 * (record/buffer.c address_space_ok()). */
static int as_limited(void)
{
	struct rlimit rl;

	return getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY;
}

/* Where execvp() would find prog (searching PATH when it has no '/'),
 * into buf; 0 if found. */
static int find_prog(const char *prog, char *buf, size_t size)
{
	const char *p = getenv("PATH"), *end;
	char def[256];

	if (strchr(prog, '/'))
		return snprintf(buf, size, "%s", prog) >= (int)size;
	if (!p) {
		size_t n = confstr(_CS_PATH, def, sizeof(def));

		p = n && n <= sizeof(def) ? def : "/bin:/usr/bin";
	}
	for (; *p; p = *end ? end + 1 : end) {
		int n;

		end = strchrnul(p, ':');
		n = snprintf(buf, size, "%.*s%s%s", (int)(end - p), p,
			     end > p ? "/" : "", prog);
		if (n > 0 && (size_t)n < size && exists(buf) &&
		    access(buf, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* What the ELF file fd is to the recorder: ELF_STATIC (no PT_INTERP:
 * statically linked, static-pie included), ELF_OTHER (built for another
 * machine or word size than the recorder: the loader skips a preload
 * library of the wrong class), ELF_OK, or -1 if it is not an ELF file of
 * this byte order. */
enum { ELF_OK, ELF_STATIC, ELF_OTHER };

static int elf_kind(int fd)
{
	union {
		Elf64_Ehdr h64;
		Elf32_Ehdr h32;
	} h;
	uint64_t off;
	unsigned n, es, mach;
	int is64;

	if (pread(fd, &h, sizeof(h), 0) < (ssize_t)sizeof(h.h32) ||
	    memcmp(h.h64.e_ident, ELFMAG, SELFMAG) ||
	    h.h64.e_ident[EI_DATA] != (__BYTE_ORDER__ ==
				       __ORDER_LITTLE_ENDIAN__ ?
				       ELFDATA2LSB : ELFDATA2MSB))
		return -1;
	is64 = h.h64.e_ident[EI_CLASS] == ELFCLASS64;
	if (!is64 && h.h64.e_ident[EI_CLASS] != ELFCLASS32)
		return -1;
	mach = is64 ? h.h64.e_machine : h.h32.e_machine;
	if (is64 != (sizeof(void *) == 8) ||
#if defined(__x86_64__)
	    mach != EM_X86_64 ||
#elif defined(__aarch64__)
	    mach != EM_AARCH64 ||
#endif
	    0)
		return ELF_OTHER;
	off = is64 ? h.h64.e_phoff : h.h32.e_phoff;
	n = is64 ? h.h64.e_phnum : h.h32.e_phnum;
	es = is64 ? h.h64.e_phentsize : h.h32.e_phentsize;
	if (es < (is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
		return -1;
	for (unsigned i = 0; i < n && i < 4096; i++) {
		uint32_t type;

		if (pread(fd, &type, 4, (off_t)(off + (uint64_t)i * es)) != 4)
			return -1;
		if (type == PT_INTERP)
			return ELF_OK;
	}
	return ELF_STATIC;
}

/* Why a program that ran left no trace, if it can be told from its
 * file: the loader ignores LD_PRELOAD in a set-user-ID (or file
 * capability) program, a static one has no loader, and one of another
 * word size (a 32-bit program) cannot load it.  A script is judged by
 * its interpreter.  "" when none of these. */
static const char *why_untraced(const char *prog, char *msg, size_t size)
{
	char path[PATH_MAX], line[PATH_MAX];
	const char *name = prog;

	for (int depth = 0; depth < 4; depth++) {
		struct stat st;
		ssize_t k;
		int fd, st_elf;
		char *e;

		if (find_prog(name, path, sizeof(path)) || stat(path, &st))
			break;
		if (((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
		    ((st.st_mode & S_ISGID) && st.st_gid != getegid()) ||
		    getxattr(path, "security.capability", NULL, 0) > 0) {
			snprintf(msg, size, " ('%s' runs with other "
				 "privileges, %s: the loader ignores "
				 "LD_PRELOAD for it)", path,
				 st.st_mode & (S_ISUID | S_ISGID) ?
				 "set-user-ID or set-group-ID" :
				 "file capabilities");
			return msg;
		}
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			break;
		st_elf = elf_kind(fd);
		k = st_elf < 0 ? pread(fd, line, sizeof(line) - 1, 0) : 0;
		close(fd);
		if (st_elf == ELF_STATIC) {
			snprintf(msg, size, " ('%s' is statically linked: "
				 "there is no loader to preload the "
				 "recorder)", path);
			return msg;
		}
		if (st_elf == ELF_OTHER) {
			snprintf(msg, size, " ('%s' is built for another "
				 "machine or word size than the recorder, "
				 "which its loader cannot preload)", path);
			return msg;
		}
		if (st_elf == ELF_OK || k < 3 || line[0] != '#' ||
		    line[1] != '!')
			break;
		/* #! interpreter: the program the kernel runs */
		line[k] = 0;
		e = line + 2 + strspn(line + 2, " \t");
		k = (ssize_t)strcspn(e, " \t\n");
		if (!k || e[0] != '/')
			break;
		e[k] = 0;
		name = e;
	}
	return "";
}

/*
 * What the traces hold, for the last line: events, bytes, and the events
 * the recorder had to drop, by reason.  Reading a complete trace takes
 * its index only; a cut one (a killed process) is read whole to find its
 * blocks, so past READ_MAX bytes in all the rest are counted in bytes
 * only.
 */
#define READ_MAX ((uint64_t)4 << 30)
struct tally {
	uint64_t events, bytes, read_bytes, lost, by[HT_LOSS_SOURCE + 1];
	uint64_t cpu_ns, cpu_events; /* recorder.cpu_ns, of traces with it */
	size_t traces, unread;
	/* traces without an END block: their process is gone (killed
	 * before it could close the trace: its last flush interval is
	 * missing), or still running (a daemon's, still being written) */
	size_t cut, running;
	unsigned flush_ms;           /* the longest flush interval of those */
	char cut_name[96];           /* the first cut one's file name */
};

/* Whether process pid runs (a zombie no longer writes). */
static int pid_alive(long pid)
{
	char path[64], buf[512], *e;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	{
		FILE *f = fopen(path, "r");
		size_t n;

		if (!f)
			return 0;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
	}
	/* "pid (comm) S ...": a zombie no longer writes */
	e = strrchr(buf, ')');
	return e && e[1] == ' ' && e[2] != 'Z' && e[2] != 'X';
}

/* The traces of the other processes of a recording to path: PATH.PID
 * and PATH.PID.N (exec continuations).  1 if there are any (then
 * globfree(g)). */
static int glob_children(const char *path, glob_t *g)
{
	char pat[PATH_MAX + 80];

	snprintf(pat, sizeof(pat), "%s.[0-9]*", path);
	return glob(pat, GLOB_NOSORT, NULL, g) == 0;
}

/* The pid in a child's trace name, PATH.PID or PATH.PID.N. */
static long name_pid(const char *path, size_t base_len)
{
	if (strlen(path) <= base_len + 1)
		return 0;
	return strtol(path + base_len + 1, NULL, 10);
}

/* A trace without END: cut, or still being written if its process ran
 * before the trace was read (it may close the trace meanwhile: a
 * process seen gone first cannot). */
static void tally_unclosed(struct ht_reader *r, const char *path,
			   int was_alive, struct tally *t)
{
	const char *o = ht_reader_meta(r, "recorder.options"), *f, *base;
	unsigned ms = 100;

	if (was_alive) {
		t->running++;
		return;
	}
	if (o && (f = strstr(o, "flush_ms=")) != NULL)
		ms = (unsigned)strtoul(f + 9, NULL, 10);
	if (ms > t->flush_ms)
		t->flush_ms = ms;
	if (!t->cut++) {
		base = strrchr(path, '/');
		snprintf(t->cut_name, sizeof(t->cut_name), "%s",
			 base ? base + 1 : path);
	}
}

/* Adds a trace to t, and says its recorder.warning here (the recorder
 * saw it could not record: the program's malloc is its own), since the
 * program's output is not ours.  warn_only (-q): the warning alone,
 * which a trace over 1 MiB never has: only smaller ones are read.
 * Returns 0 if there is no such file. */
static int read_trace(const char *path, long pid, struct tally *t,
		      int warn_only)
{
	struct ht_reader *r;
	struct ht_trace_info info;
	const struct ht_loss *l;
	struct stat st;
	const char *w;
	size_t n;

	int alive = pid_alive(pid);

	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return 0;
	t->traces++;
	t->bytes += (uint64_t)st.st_size;
	if ((warn_only && st.st_size > (1 << 20)) ||
	    t->read_bytes + (uint64_t)st.st_size > READ_MAX ||
	    ht_reader_open(&r, path, HT_READ_STOP)) {
		t->unread++;
		return 1;
	}
	t->read_bytes += (uint64_t)st.st_size;
	if ((w = ht_reader_meta(r, "recorder.warning")) != NULL) {
		fprintf(stderr, "%s: warning: '%s': ", cli_prog, path);
		cli_put_clean(stderr, w, 400);
		fputc('\n', stderr);
	}
	ht_reader_info(r, &info);
	t->events += info.events;
	if (!ht_reader_complete(r))
		tally_unclosed(r, path, alive, t);
	if ((w = ht_reader_meta(r, "recorder.cpu_ns")) != NULL) {
		t->cpu_ns += strtoull(w, NULL, 10);
		t->cpu_events += info.events;
	}
	n = ht_reader_losses(r, &l);
	for (size_t i = 0; i < n; i++) {
		if (l[i].reason == HT_LOSS_PAUSED)
			continue; /* asked for, not lost */
		t->lost += l[i].events;
		if (l[i].reason <= HT_LOSS_SOURCE)
			t->by[l[i].reason] += l[i].events;
	}
	ht_reader_close(r);
	return 1;
}

/* The traces without END: a process killed (SIGKILL, the OOM killer)
 * flushed last up to one flush interval before it died. */
static void put_unclosed(const struct tally *t)
{
	if (t->cut == 1)
		fprintf(stderr, ", cut: the process of '%s' was killed before "
			"the trace was closed; events of its last <= %u ms "
			"(the flush interval) are not in it", t->cut_name,
			t->flush_ms);
	else if (t->cut)
		fprintf(stderr, ", %zu traces cut ('%s' and %zu more): their "
			"processes were killed before the traces were closed; "
			"events of their last <= %u ms (the flush interval) "
			"are not in them", t->cut, t->cut_name, t->cut - 1,
			t->flush_ms);
	if (t->running)
		fprintf(stderr, ", %zu trace%s still being written (%s "
			"still running)", t->running,
			t->running == 1 ? "" : "s",
			t->running == 1 ? "its process is" :
					  "their processes are");
}

/* ": 8000006 events, 30.5 MiB, recorder CPU 0.241 s (30 ns/event),
 * none lost" and the like. */
static void put_tally(const struct tally *t)
{
	static const char *const why[] = {
		[HT_LOSS_BUFFERS] = "out of buffers",
		[HT_LOSS_IO] = "write failed or disk full",
		[HT_LOSS_LIMIT] = "size limit",
		[HT_LOSS_SOURCE] = "lost at the source",
	};
	const char *sep = " (";
	char b[32];

	if (t->unread == t->traces)
		return;
	fprintf(stderr, ": %llu events, %s", (unsigned long long)t->events,
		cli_bytes(b, sizeof(b), t->bytes));
	if (t->unread)
		fprintf(stderr, " (%zu trace%s not read)", t->unread,
			t->unread == 1 ? "" : "s");
	if (t->cpu_events)
		fprintf(stderr, ", recorder CPU %.3f s (%.0f ns/event)",
			(double)t->cpu_ns * 1e-9,
			(double)t->cpu_ns / (double)t->cpu_events);
	if (t->lost) {
		fprintf(stderr, ", %llu events lost",
			(unsigned long long)t->lost);
		for (int k = HT_LOSS_BUFFERS; k <= HT_LOSS_SOURCE; k++) {
			if (!t->by[k])
				continue;
			fprintf(stderr, "%s%s", sep, why[k]);
			sep = ", ";
		}
		if (*sep == ',')
			fputc(')', stderr);
	}
	put_unclosed(t);
	/* only what was read and closed can be vouched for */
	if (!t->lost && !t->cut && !t->running)
		fputs(t->unread ? ", none lost in those read" : ", none lost",
		      stderr);
}

/* $HEAPTAPE_PRELOAD, next to this binary (build dir), then
 * <bindir>/../lib/heaptape/. */
static int find_preload(char *out, size_t n)
{
	const char *env = getenv("HEAPTAPE_PRELOAD");
	char exe[PATH_MAX], *slash;
	ssize_t len;

	if (env && *env) {
		if (!realpath(env, out) || !exists(out))
			return cli_error("HEAPTAPE_PRELOAD '%s': %s", env,
					 strerror(errno ? errno : ENOENT));
		return 0;
	}
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0)
		return cli_error("cannot find myself: %s", strerror(errno));
	exe[len] = 0;
	if ((slash = strrchr(exe, '/')))
		*slash = 0;
	if (snprintf(out, n, "%s/%s", exe, PRELOAD_NAME) < (int)n &&
	    exists(out))
		return 0;
	if (snprintf(out, n, "%s/../lib/heaptape/%s", exe, PRELOAD_NAME) <
		    (int)n &&
	    exists(out)) {
		char real[PATH_MAX];

		if (realpath(out, real))
			snprintf(out, n, "%s", real);
		return 0;
	}
	return cli_error("cannot find %s next to '%s' or in '%s/../lib/"
			 "heaptape' (set HEAPTAPE_PRELOAD)",
			 PRELOAD_NAME, exe, exe);
}

static int setenv_u64(const char *k, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return setenv(k, buf, 1);
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, 0, 'o' },
		{ "flush-interval", required_argument, 0, 'f' },
		{ "buffer-size", required_argument, 0, 'b' },
		{ "level", required_argument, 0, 'l' },
		{ "max-size", required_argument, 0, 'm' },
		{ "paused", no_argument, 0, 'P' },
		{ "toggle-signal", required_argument, 0, 's' },
		{ "no-follow", no_argument, 0, 'n' },
		{ "only", required_argument, 0, 'O' },
		{ "latency", no_argument, 0, 'L' },
		{ "force", no_argument, 0, 'F' },
		{ "quiet", no_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *out = NULL, *toggle = NULL, *only = NULL;
	char preload[PATH_MAX], path[PATH_MAX + 64], cwd[PATH_MAX];
	char why[PATH_MAX + 128];
	char *ld, *pre;
	uint64_t v;
	int c, force = 0, quiet = 0, pfd[2], status, err = 0, have = 0;
	size_t more = 0;
	struct tally t = { 0 };
	ssize_t got;
	struct sigaction sa, old_int, old_quit;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:o:f:b:l:m:Ps:nLFqh", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'f': {
			uint64_t ns;

			/* the recorder flushes in whole ms, at most a
			 * minute apart */
			if (cli_parse_duration(optarg, &ns) == 0 &&
			    strpbrk(optarg, "munsh"))
				v = ns % 1000000u ? 0 : ns / 1000000u;
			else if (cli_parse_u64(optarg, &v))
				v = 0;
			if (v == 0 || v > 60000)
				return cli_usage(&cmd_record_entry, 2,
						 "bad --flush-interval (1 to "
						 "60000 ms)");
			setenv_u64("HEAPTAPE_FLUSH_MS", v);
			break;
		}
		case 'b':
			/* the pool's smallest: one 1 MiB chunk */
			if (cli_parse_size(optarg, &v) || v < (1u << 20))
				return cli_usage(&cmd_record_entry, 2,
						 "bad --buffer-size (1M or "
						 "more)");
			setenv_u64("HEAPTAPE_BUFFER", v);
			break;
		case 'l': {
			char *end;
			long l = strtol(optarg, &end, 10);

			if (*end || end == optarg || l < -7 || l > 22)
				return cli_usage(&cmd_record_entry, 2,
						 "bad --level (-7..22)");
			setenv("HEAPTAPE_LEVEL", optarg, 1);
			break;
		}
		case 'm':
			/* below 128K the room the last blocks need (64K)
			 * leaves next to none for events */
			if (cli_parse_size(optarg, &v) || v < (128u << 10))
				return cli_usage(&cmd_record_entry, 2,
						 "bad --max-size (128K or "
						 "more)");
			setenv_u64("HEAPTAPE_MAX_SIZE", v);
			break;
		case 'P':
			setenv("HEAPTAPE_PAUSED", "1", 1);
			break;
		case 's': {
			int sig = ht__signal_of(optarg);

			if (sig < 0)
				return cli_usage(&cmd_record_entry, 2,
						 "bad --toggle-signal (a signal "
						 "name or number, e.g. USR2)");
			toggle = optarg;
			setenv_u64("HEAPTAPE_TOGGLE_SIGNAL", (uint64_t)sig);
			break;
		}
		case 'n':
			setenv("HEAPTAPE_NO_FOLLOW", "1", 1);
			break;
		case 'O':
			if (!*optarg || strlen(optarg) > 1000)
				return cli_usage(&cmd_record_entry, 2,
						 "--only takes names such as "
						 "cc1,as");
			only = optarg;
			setenv("HEAPTAPE_ONLY", optarg, 1);
			break;
		case 'L':
			setenv("HEAPTAPE_LATENCY", "1", 1);
			break;
		case 'F':
			force = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			return cli_usage(&cmd_record_entry, 0, NULL);
		default:
			return cli_bad_option(&cmd_record_entry, c, argv);
		}
	}
	if (optind >= argc)
		return cli_usage(&cmd_record_entry, 2, "no program given");
	(void)toggle;
	if (find_preload(preload, sizeof(preload)))
		return 125;
	if (!getcwd(cwd, sizeof(cwd)))
		return cli_error("getcwd: %s", strerror(errno)), 125;

	/* LD_PRELOAD: ours first, then whatever was there */
	ld = getenv("LD_PRELOAD");
	if (ld && *ld) {
		size_t n = strlen(preload) + strlen(ld) + 2;

		pre = malloc(n);
		if (!pre)
			return cli_error("out of memory"), 125;
		snprintf(pre, n, "%s:%s", preload, ld);
	} else {
		pre = strdup(preload);
	}
	if (!pre || setenv("LD_PRELOAD", pre, 1))
		return cli_error("out of memory"), 125;
	free(pre);

	/* The pattern, absolute.  Without -o: heaptape.<pid>.htape, with
	 * the pid of PROG, and its children beside it as .<their pid>. */
	if (out) {
		if (out[0] == '/')
			snprintf(path, sizeof(path), "%s", out);
		else
			snprintf(path, sizeof(path), "%s/%s", cwd, out);
		if (!strchr(out, '%')) {
			struct stat st;
			glob_t g;

			if (lstat(path, &st) == 0) {
				if (S_ISDIR(st.st_mode))
					return cli_error("'%s' is a directory",
							 out), 125;
				if (!force)
					return cli_error("'%s' exists; use "
						"--force to overwrite it",
						out), 125;
				if (unlink(path))
					return cli_error("cannot remove '%s': "
						"%s", out, strerror(errno)), 125;
			}
			/* the children of an earlier recording to this
			 * name: not to be taken for this one's */
			if (glob_children(path, &g)) {
				int bad = 0;

				for (size_t i = 0; i < g.gl_pathc && !bad; i++) {
					const char *f = g.gl_pathv[i];

					if (!force)
						bad = cli_error("'%s' exists (a "
							"process of an earlier "
							"recording); use --force "
							"to remove it", f);
					else if (unlink(f))
						bad = cli_error("cannot remove "
							"'%s': %s", f,
							strerror(errno));
				}
				globfree(&g);
				if (bad)
					return 125;
			}
		}
		setenv("HEAPTAPE_OUT", path, 1);
	}
	{
		/* the library can only warn from inside PROG: check here */
		char dir[PATH_MAX + 64], *slash;

		snprintf(dir, sizeof(dir), "%s", out ? path : cwd);
		/* %h, %p, %t may name directories: check the first one
		 * the pattern does not depend on */
		if (out && (slash = strchr(dir, '%')))
			*slash = 0;
		if (out && (slash = strrchr(dir, '/')))
			*slash = 0;
		if (access(dir[0] ? dir : "/", W_OK | X_OK))
			return cli_error("cannot write traces in '%s': %s",
					 dir, strerror(errno)), 125;
	}
	if (pipe2(pfd, O_CLOEXEC))
		return cli_error("pipe: %s", strerror(errno)), 125;
	fflush(NULL);

	child = fork();
	if (child < 0)
		return cli_error("fork: %s", strerror(errno)), 125;
	if (child == 0) {
		close(pfd[0]);
		if (!out) {
			snprintf(path, sizeof(path), "%s/heaptape.%d.htape",
				 cwd, (int)getpid());
			if (exists(path)) {
				if (!force) {
					err = -EEXIST;
					goto fail;
				}
				unlink(path);
			}
			setenv("HEAPTAPE_OUT", path, 1);
		}
		execvp(argv[optind], argv + optind);
		err = errno;
	fail:
		if (write(pfd[1], &err, sizeof(err)) < 0)
			_exit(125);
		_exit(err == ENOENT ? 127 : err < 0 ? 125 : 126);
	}
	close(pfd[1]);

	/* like system(): the terminal's ^C goes to PROG; we wait for it */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGQUIT, &sa, &old_quit);
	sa.sa_handler = forward;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);

	got = read(pfd[0], &err, sizeof(err));
	close(pfd[0]);
	while (waitpid(child, &status, 0) < 0) {
		if (errno != EINTR)
			return cli_error("waitpid: %s", strerror(errno)), 125;
	}
	if (got == (ssize_t)sizeof(err)) {
		if (err == -EEXIST) {
			cli_error("'heaptape.%d.htape' exists; use --force to "
				  "overwrite it", (int)child);
			return 125;
		}
		cli_error("cannot %s '%s': %s",
			  err == ENOENT ? "find" : "execute", argv[optind],
			  strerror(err));
		return err == ENOENT ? 127 : 126;
	}
	/* the traces written: PATH, and PATH.* for the processes after the
	 * first (not looked for with a % pattern); any with a warning */
	if (!out)
		snprintf(path, sizeof(path), "heaptape.%d.htape", (int)child);
	else
		snprintf(path, sizeof(path), "%s", out);
	if (!strchr(path, '%')) {
		glob_t g;

		/* the first process: waited for, gone */
		have = read_trace(path, 0, &t, quiet);
		if (glob_children(path, &g)) {
			more = g.gl_pathc;
			for (size_t i = 0; i < more; i++)
				read_trace(g.gl_pathv[i],
					   name_pid(g.gl_pathv[i],
						    strlen(path)),
					   &t, quiet);
			globfree(&g);
		}
	}
	/* what the shell would have said of PROG: it sees our status only */
	if (!quiet && WIFSIGNALED(status)) {
		const char *ab = sigabbrev_np(WTERMSIG(status));

		fprintf(stderr, "%s: %s died of SIG%s (%s)%s\n", cli_prog,
			argv[optind], ab ? ab : "?", strsignal(WTERMSIG(status)),
			WCOREDUMP(status) ? ", core dumped" : "");
	}
	if (!quiet) {
		if (strchr(path, '%'))
			fprintf(stderr, "%s: traces '%s'\n", cli_prog, path);
		else if (!have) {
			if (only)
				snprintf(why, sizeof(why), " (no process "
					 "matched --only '%s')", only);
			fprintf(stderr, "%s: no trace written to '%s'%s\n",
				cli_prog, path, only ? why : as_limited() ?
				" (RLIMIT_AS: too little address space left "
				"beside the program)" :
				why_untraced(argv[optind], why, sizeof(why)));
		} else {
			fprintf(stderr, "%s: trace '%s'", cli_prog, path);
			if (more)
				fprintf(stderr, " (and %zu more '%s.*')", more,
					path);
			put_tally(&t);
			fputc('\n', stderr);
		}
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

const struct ht_cmd cmd_record_entry = {
	.name = "record",
	.usage = "record [options] [--] PROG [ARGS...]",
	.summary = "run a program and record its heap events",
	.help =
	"  -o, --output PATTERN    trace file (default heaptape.<pid>.htape);\n"
	"                          %p pid, %t start time, %h host name;\n"
	"                          child processes add .<pid>\n"
	"  -f, --flush-interval MS write buffered events at least this often\n"
	"                          (default 100, 1 to 60000; bounds what a\n"
	"                          SIGKILL loses)\n"
	"  -b, --buffer-size SIZE  event buffer pool (default 4M, 1M or more)\n"
	"  -l, --level N           zstd level (default 1; recompress later\n"
	"                          with `heaptape convert --level`)\n"
	"  -m, --max-size SIZE     stop recording (with a loss record) when\n"
	"                          the trace reaches SIZE (128K or more; the\n"
	"                          last 64K are kept for its closing blocks)\n"
	"  -P, --paused            start with recording paused\n"
	"  -s, --toggle-signal SIG pause/resume recording on signal SIG\n"
	"                          (a name or number, e.g. USR2; heaptape\n"
	"                          forwards USR1/USR2)\n"
	"  -n, --no-follow         do not trace programs PROG executes\n"
	"      --only NAME[,NAME]  record only the processes whose program\n"
	"                          (or argv[0]) has one of these names, shell\n"
	"                          patterns allowed: --only 'cc1*,as'\n"
	"  -L, --latency           also time every call (one more clock\n"
	"                          read and 32 bytes an event): `heaptape\n"
	"                          stat` shows the allocator's latency\n"
	"  -F, --force             overwrite an existing trace\n"
	"  -q, --quiet             do not print the last line (the trace,\n"
	"                          its events and size, what was lost)\n"
	"environment for LD_PRELOAD use: HEAPTAPE_OUT, HEAPTAPE_FLUSH_MS,\n"
	"HEAPTAPE_BUFFER, HEAPTAPE_LEVEL, HEAPTAPE_MAX_SIZE, HEAPTAPE_PAUSED,\n"
	"HEAPTAPE_TOGGLE_SIGNAL, HEAPTAPE_NO_FOLLOW, HEAPTAPE_ONLY,\n"
	"HEAPTAPE_LATENCY;\n"
	"HEAPTAPE_PRELOAD: the library to use\n"
	"exit status: PROG's (128+N for signal N), 125 heaptape failed,\n"
	"126 PROG cannot be executed, 127 PROG not found\n",
	.run = run,
};
