/* aborter: allocates, prints, then abort() (status 134 from a shell). */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	for (int i = 0; i < 3000; i++)
		free(malloc((size_t)i + 1));
	fprintf(stderr, "aborter: about to abort\n");
	abort();
}
