/* fdplace: puts the write end of a pipe on fd N (as a parent hands a
 * child an fd of its choice: 3, 1000, ...), writes through it, closes
 * it and reads the pipe to its end.  A recorder with a file of its own
 * on N must neither write there nor keep the program's fd open.
 * usage: fdplace N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fd = argc > 1 ? atoi(argv[1]) : 3, p[2];
	char buf[64];
	ssize_t n, total = 0;

	if (pipe(p) || dup2(p[1], fd) < 0) {
		perror("fdplace");
		return 1;
	}
	close(p[1]);
	for (int i = 0; i < 10; i++) {
		char *s = malloc(100);

		snprintf(s, 100, "line %d\n", i);
		if (write(fd, s, strlen(s)) < 0) {
			perror("fdplace: write");
			return 2;
		}
		free(s);
		usleep(30000); /* the recorder flushes meanwhile */
	}
	if (close(fd)) {
		perror("fdplace: close");
		return 3;
	}
	while ((n = read(p[0], buf, sizeof(buf))) > 0)
		total += n;
	printf("fdplace %d: read %zd bytes to the end\n", fd, total);
	return 0;
}
