/* libdtor.so: a library whose destructor allocates and frees, as
 * libraries' cleanup code does at exit() (dtorlib links it). */
#include <stdlib.h>

void *volatile libdtor_sink;

__attribute__((destructor)) static void cleanup(void)
{
	for (int i = 0; i < 1000; i++) {
		libdtor_sink = malloc(77);
		free(libdtor_sink);
	}
}

void libdtor_hello(void)
{
}
