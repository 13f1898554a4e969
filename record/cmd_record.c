/* cmd_record.c - placeholder until the command lands. */
#include "../convert/cli.h"

static int run(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_error("not implemented yet");
}

const struct ht_cmd cmd_record_entry = {
	.name = "record", .usage = "record", .summary = "(not implemented yet)",
	.run = run,
};
