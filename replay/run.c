/*
 * run.c - finding allocators and the worker, and running one plan in a
 * worker process under one allocator (LD_PRELOAD), as in production.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../convert/cli.h"
#include "run.h"

#if defined(__x86_64__)
#define TRIPLET "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define TRIPLET "aarch64-linux-gnu"
#elif defined(__i386__)
#define TRIPLET "i386-linux-gnu"
#else
#define TRIPLET "unknown"
#endif

static const struct known {
	const char *name, *soname, *package;
} known[] = {
	{ "jemalloc", "libjemalloc.so.2", "libjemalloc2" },
	{ "mimalloc", "libmimalloc.so.2", "libmimalloc2.0" },
	{ "tcmalloc", "libtcmalloc_minimal.so.4", "libtcmalloc-minimal4" },
};
#define NKNOWN (sizeof(known) / sizeof(known[0]))

static int find_so(const char *soname, char *out, size_t n)
{
	static const char *const dirs[] = {
		"/usr/lib/" TRIPLET, "/lib/" TRIPLET, "/usr/lib64", "/usr/lib",
		"/usr/local/lib", "/lib",
	};

	const char *over = getenv("HEAPTAPE_ALLOC_DIRS");

	if (over && *over) {
		/* Tests: look only here (a colon-separated list). */
		char list[PATH_MAX], *save, *d;
		snprintf(list, sizeof(list), "%s", over);
		for (d = strtok_r(list, ":", &save); d;
		     d = strtok_r(NULL, ":", &save)) {
			snprintf(out, n, "%s/%s", d, soname);
			if (!access(out, R_OK))
				return 0;
		}
		return -1;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(out, n, "%s/%s", dirs[i], soname);
		if (!access(out, R_OK))
			return 0;
	}
	return -1;
}

int alloc_resolve(const char *spec, struct alloc_spec *out, size_t *n,
		  size_t max)
{
	char path[PATH_MAX];

	if (!strcmp(spec, "all")) {
		if (*n < max) {
			memset(&out[*n], 0, sizeof(out[*n]));
			snprintf(out[*n].name, sizeof(out[*n].name), "glibc");
			(*n)++;
		}
		for (size_t i = 0; i < NKNOWN && *n < max; i++) {
			if (find_so(known[i].soname, path, sizeof(path)))
				continue;
			memset(&out[*n], 0, sizeof(out[*n]));
			snprintf(out[*n].name, sizeof(out[*n].name), "%s",
				 known[i].name);
			snprintf(out[*n].path, sizeof(out[*n].path), "%s",
				 path);
			(*n)++;
		}
		return 0;
	}
	if (*n >= max)
		return cli_error("too many allocators (at most %zu)", max);
	memset(&out[*n], 0, sizeof(out[*n]));
	if (!strcmp(spec, "glibc") || !strcmp(spec, "system") ||
	    !strcmp(spec, "libc")) {
		snprintf(out[*n].name, sizeof(out[*n].name), "glibc");
		(*n)++;
		return 0;
	}
	for (size_t i = 0; i < NKNOWN; i++) {
		if (strcmp(spec, known[i].name))
			continue;
		if (find_so(known[i].soname, path, sizeof(path)))
			return cli_error("allocator '%s' not found; install it "
					 "with: apt-get install %s",
					 spec, known[i].package);
		snprintf(out[*n].name, sizeof(out[*n].name), "%s", spec);
		snprintf(out[*n].path, sizeof(out[*n].path), "%s", path);
		(*n)++;
		return 0;
	}
	if (!strchr(spec, '/') && !strstr(spec, ".so")) {
		cli_error("unknown allocator '%s' (glibc, jemalloc, mimalloc, "
			  "tcmalloc, all, or a path to a .so)", spec);
		return 2;
	}
	if (!realpath(spec, path))
		return cli_error("allocator '%s': %s", spec, strerror(errno));
	if (strpbrk(path, " :\t\n"))
		return cli_error("allocator '%s': LD_PRELOAD cannot name a path "
				 "with spaces or colons; use a link", path);
	{
		const char *b = strrchr(spec, '/');
		snprintf(out[*n].name, sizeof(out[*n].name), "%s",
			 b ? b + 1 : spec);
	}
	snprintf(out[*n].path, sizeof(out[*n].path), "%s", path);
	(*n)++;
	return 0;
}

int worker_find(char *out, size_t n)
{
	static const char *const rel[] = {
		"/heaptape-replay-worker",
		"/../lib/heaptape/heaptape-replay-worker",
		"/../libexec/heaptape/heaptape-replay-worker",
	};
	const char *env = getenv("HEAPTAPE_REPLAY_WORKER");
	char self[PATH_MAX];
	ssize_t len;
	char *slash;

	if (env && *env) {
		snprintf(out, n, "%s", env);
		return access(out, X_OK);
	}
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		return -1;
	self[len] = 0;
	if (!(slash = strrchr(self, '/')))
		return -1;
	*slash = 0;
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(out, n, "%s%s", self, rel[i]);
		if (!access(out, X_OK))
			return 0;
	}
	return -1;
}

static char cur_result[PATH_MAX];

void run_cleanup(void)
{
	if (cur_result[0])
		unlink(cur_result);
}

int run_worker(const char *worker, const char *plan, const char *tmpdir,
	       const struct alloc_spec *a, struct rp_result *res, char *err,
	       size_t errn)
{
	char rpath[PATH_MAX];
	struct rp_result *map;
	pid_t pid;
	int fd, st;

	snprintf(rpath, sizeof(rpath), "%s/result.XXXXXX", tmpdir);
	fd = mkstemp(rpath);
	if (fd >= 0)
		memcpy(cur_result, rpath, sizeof(rpath));
	if (fd < 0 || ftruncate(fd, sizeof(*res))) {
		snprintf(err, errn, "cannot create a result file in '%s': %s",
			 tmpdir, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(rpath);
		}
		cur_result[0] = 0;
		return -1;
	}
	map = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		snprintf(err, errn, "cannot map the result file: %s",
			 strerror(errno));
		unlink(rpath);
		cur_result[0] = 0;
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(err, errn, "fork: %s", strerror(errno));
		munmap(map, sizeof(*res));
		unlink(rpath);
		cur_result[0] = 0;
		return -1;
	}
	if (pid == 0) {
		/* The worker dies with heaptape (kill, Ctrl-C). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_DFL);
		/* Whatever the allocator prints must not mix with the
		 * report (--csv, --json -) on stdout. */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		if (a->path[0])
			setenv("LD_PRELOAD", a->path, 1);
		else
			unsetenv("LD_PRELOAD");
		execl(worker, worker, plan, rpath, a->path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			st = -1;
			break;
		}
	memcpy(res, map, sizeof(*res));
	munmap(map, sizeof(*res));
	unlink(rpath);
	cur_result[0] = 0;
	if (st != -1 && WIFSIGNALED(st)) {
		snprintf(err, errn, "the replay under '%s' died: signal %d (%s)",
			 a->name, WTERMSIG(st), strsignal(WTERMSIG(st)));
		return -1;
	}
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) == 127) {
		snprintf(err, errn, "cannot run '%s'", worker);
		return -1;
	}
	if (res->magic != RP_RESULT_MAGIC) {
		snprintf(err, errn, "the replay under '%s' exited with status "
			 "%d and no result", a->name, WEXITSTATUS(st));
		return -1;
	}
	if (res->status) {
		snprintf(err, errn, "%s: %s", a->name,
			 res->error[0] ? res->error : "replay failed");
		return -1;
	}
	return 0;
}
