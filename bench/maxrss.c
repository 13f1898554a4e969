/*
 * maxrss.c - run a command and print its peak RSS in kB (ru_maxrss of
 * the waited child).  A small C parent (fork copies little), so that the
 * child's figure is not inflated by a big parent's pages (python's).
 * With -c: the CPU seconds (user + system) of the command and all the
 * processes it waited for, instead.
 * usage: maxrss [-c] COMMAND [ARGS...]
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	int st, cpu = 0;
	pid_t pid;

	if (argc > 1 && !strcmp(argv[1], "-c")) {
		cpu = 1;
		argc--;
		argv++;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: maxrss COMMAND [ARGS...]\n");
		return 2;
	}
	pid = fork();
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &st, 0, &ru) < 0) {
		perror("maxrss");
		return 1;
	}
	if (cpu)
		printf("%.3f\n", (double)(ru.ru_utime.tv_sec +
					   ru.ru_stime.tv_sec) +
				       (double)(ru.ru_utime.tv_usec +
						ru.ru_stime.tv_usec) / 1e6);
	else
		printf("%ld\n", ru.ru_maxrss);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
