/* etl.c - placeholder until the converter lands. */
#include "convert.h"

int convert_etl_to_htape(const struct convert_opts *o)
{
	return cli_error("%s: not implemented yet", o->in);
}

int etl_probe(const unsigned char *buf, size_t n)
{
	(void)buf;
	(void)n;
	return 0;
}

int etl_stat(const char *path, int json, int salvage)
{
	(void)json;
	(void)salvage;
	return cli_error("%s: etl not implemented yet", path);
}

