/*
 * maxrss.c - run a command and print its peak RSS in kB (ru_maxrss of
 * the waited child).  A small C parent with vfork, so that the child's
 * figure is not inflated by a big parent's pages (as under python).
 * usage: maxrss COMMAND [ARGS...]
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	int st;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: maxrss COMMAND [ARGS...]\n");
		return 2;
	}
	pid = vfork();
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &st, 0, &ru) < 0) {
		perror("maxrss");
		return 1;
	}
	printf("%ld\n", ru.ru_maxrss);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
