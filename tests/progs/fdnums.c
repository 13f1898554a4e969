/* fdnums: which fd numbers the program gets: the first open() in the
 * process and in a forked child (after a while, so that the child's
 * recorder has started), and the fds 3..31 each has open.  A recorder
 * that left an fd of its own low would change these numbers.
 * usage: fdnums */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *who)
{
	int fd = open("/dev/null", O_RDONLY);

	printf("%s: open() returns %d; open:", who, fd);
	for (int i = 3; i < 32; i++)
		if (fcntl(i, F_GETFD) >= 0)
			printf(" %d", i);
	printf("\n");
	fflush(stdout);
	close(fd);
}

int main(void)
{
	pid_t c;

	show("parent");
	c = fork();
	if (c == 0) {
		void *volatile p = malloc(100);

		usleep(300000); /* the child's recorder samples RSS */
		free(p);
		show("child");
		_exit(0);
	}
	waitpid(c, NULL, 0);
	show("parent after the child");
	return 0;
}
