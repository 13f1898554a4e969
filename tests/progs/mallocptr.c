/*
 * mallocptr: takes malloc's address in an executable that is not PIE,
 * as node does.  The executable then has a "malloc" symbol of its own,
 * undefined, whose value is its PLT entry: not a malloc of its own, and
 * its calls reach the recorder.
 */
#include <stdio.h>
#include <stdlib.h>

void *(*volatile alloc)(size_t) = malloc;
void (*volatile release)(void *) = free;

int main(void)
{
	for (int i = 0; i < 1000; i++)
		release(alloc(2468));
	printf("mallocptr: %s\n", alloc == malloc ? "ok" : "?");
	return 0;
}
