/* cmd_replay.c - placeholder until the command lands. */
#include "../convert/cli.h"

static int run(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_error("not implemented yet");
}

const struct ht_cmd cmd_replay_entry = {
	.name = "replay", .usage = "replay", .summary = "(not implemented yet)",
	.run = run,
};
