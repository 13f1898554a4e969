/* aborter: allocates, prints, then abort() (status 134 from a shell). */
#include <stdio.h>
#include <stdlib.h>

void *volatile sink; /* keeps the compiler from dropping the calls */

int main(void)
{
	for (int i = 0; i < 3000; i++) {
		sink = malloc((size_t)i + 1);
		free(sink);
	}
	fprintf(stderr, "aborter: about to abort\n");
	abort();
}
