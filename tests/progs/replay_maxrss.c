/*
 * replay_maxrss.c - run a program and print its peak RSS in bytes
 * (ru_maxrss), for tests/t_replay.sh's heap-growth comparison.  A small
 * parent, because a child's ru_maxrss includes the RSS it had as a fork
 * of its parent before exec (python's ~10 MB would hide a small heap);
 * so this is a plain program, never sanitized.
 *   replay_maxrss [-i INPUT] PROG ARGS...
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	const char *in = NULL;
	int st, a = 1;
	pid_t pid;

	if (argc > 2 && !strcmp(argv[1], "-i")) {
		in = argv[2];
		a = 3;
	}
	if (a >= argc) {
		fprintf(stderr, "usage: replay_maxrss [-i INPUT] PROG ARGS...\n");
		return 2;
	}
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 1);
		if (in && (fd = open(in, O_RDONLY)) >= 0)
			dup2(fd, 0);
		execvp(argv[a], argv + a);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st))
		return 1;
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("%lld\n", (long long)ru.ru_maxrss * 1024);
	return 0;
}
