/* cmd_stat.c - placeholder until the command lands. */
#include "cli.h"

static int run(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_error("not implemented yet");
}

const struct ht_cmd cmd_stat_entry = {
	.name = "stat", .usage = "stat", .summary = "(not implemented yet)",
	.run = run,
};
