/* mtrace.c - placeholder until the converter lands. */
#include "convert.h"

int convert_mtrace_to_htape(const struct convert_opts *o)
{
	return cli_error("%s: not implemented yet", o->in);
}

int mtrace_probe(const unsigned char *buf, size_t n)
{
	(void)buf;
	(void)n;
	return 0;
}

