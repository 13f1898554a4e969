/* dlopener: dlopen/dlclose a library many times, calling into it.
 * usage: dlopener [N] */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200;
	double sum = 0;

	for (int i = 0; i < n; i++) {
		void *h = dlopen(i % 2 ? "libm.so.6" : "libz.so.1", RTLD_NOW);
		char *p = malloc(100);
		if (h) {
			double (*c)(double);

			c = (double (*)(double))dlsym(h, "cos");
			if (c)
				sum += c(0.0);
			dlclose(h);
		}
		free(p);
	}
	printf("dlopener: %d rounds, %.0f\n", n, sum);
	return 0;
}
