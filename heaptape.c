/*
 * heaptape.c - main(): the command table and nothing else (as git.c and
 * perf.c).  Each command lives in its folder as cmd_<name>.c and exports
 * one struct ht_cmd.
 */
#include <stdio.h>
#include <string.h>

#include "convert/cli.h"

extern const struct ht_cmd cmd_record_entry, cmd_replay_entry,
	cmd_convert_entry, cmd_cat_entry, cmd_stat_entry, cmd_verify_entry,
	cmd_plot_entry;

static const struct ht_cmd *const commands[] = {
	&cmd_record_entry, &cmd_replay_entry, &cmd_convert_entry,
	&cmd_cat_entry,    &cmd_stat_entry,   &cmd_verify_entry,
	&cmd_plot_entry,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char exit_codes[] =
	"exit status: 0 success, 1 failure (I/O, corrupt input, replay failed),\n"
	"2 usage error; `record` returns the program's status (128+N for\n"
	"signal N), 125 if heaptape failed, 126 if the program cannot be\n"
	"executed, 127 if it is not found\n";

static const struct ht_cmd *find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static int help(FILE *f)
{
	fprintf(f, "usage: heaptape [--version] [--help] COMMAND [ARGS]\n\n"
		   "commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i]->name,
			commands[i]->summary);
	fprintf(f, "  %-9s %s\n\n%s\n", "help", "show help for a command",
		"`heaptape help COMMAND` or `heaptape COMMAND --help` shows "
		"its options.");
	fputs(exit_codes, f);
	return 0;
}

int main(int argc, char **argv)
{
	const struct ht_cmd *c;
	int rc;

	if (argc < 2)
		return help(stderr), 2;
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("heaptape %s (format %d.%d)\n", HT_VERSION_STRING,
		       HT_FORMAT_MAJOR, HT_FORMAT_MINOR);
		rc = 0;
	} else if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
		   !strcmp(argv[1], "help")) {
		if (argc > 2) {
			if (!(c = find(argv[2]))) {
				fprintf(stderr, "heaptape: unknown command "
						"'%s'\n", argv[2]);
				return 2;
			}
			cli_prog = "heaptape help";
			rc = cli_usage(c, 0, NULL);
		} else {
			rc = help(stdout);
		}
	} else if ((c = find(argv[1]))) {
		static char prog[64];
		snprintf(prog, sizeof(prog), "heaptape %s", c->name);
		cli_prog = prog;
		rc = c->run(argc - 1, argv + 1);
	} else {
		fprintf(stderr, "heaptape: unknown command '%s'; see "
				"'heaptape help'\n", argv[1]);
		return 2;
	}
	if (fflush(stdout) || ferror(stdout) || fclose(stdout)) {
		perror("heaptape: cannot write standard output");
		return rc ? rc : 1;
	}
	return rc;
}
