/* dtorlib: links libdtor.so, whose destructor makes 1000 malloc(77) and
 * 1000 frees after main() returns.
 * usage: dtorlib */
#include <stdio.h>

void libdtor_hello(void);

int main(void)
{
	libdtor_hello();
	printf("dtorlib: main returns\n");
	return 0;
}
