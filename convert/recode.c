/* recode.c - placeholder until the converter lands. */
#include "convert.h"

int convert_htape_to_htape(const struct convert_opts *o)
{
	return cli_error("%s: not implemented yet", o->in);
}

