/* main.c: kiln's entry point. It only dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void list(FILE *f, kiln_cmd_kind kind)
{
    for (size_t i = 0; kiln_cli_commands[i]; i++)
        if (kiln_cli_commands[i]->kind == kind)
            fprintf(f, "  %-10s %s\n", kiln_cli_commands[i]->name,
                    kiln_cli_commands[i]->summary);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: kiln COMMAND [options]\n\n"
               "kiln runs machine-learning pipelines described in YAML.\n\n"
               "Commands:\n");
    list(f, KILN_CMD_PUBLIC);
    fprintf(f, "\nInternal commands (kiln runs them as steps):\n");
    list(f, KILN_CMD_INTERNAL);
    fprintf(f, "\nRun `kiln COMMAND --help` for a command's options.\n\n"
               "Exit status:\n"
               "  0  success\n"
               "  1  a step failed or the run was cancelled\n"
               "  2  invalid pipeline file or usage\n"
               "  3  kiln itself could not work (state not writable, "
               "database locked...)\n");
}

int main(int argc, char **argv)
{
    const kiln_cmd *cmd;
    if (argc < 2) {
        usage(stderr);
        return KILN_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return KILN_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("kiln %s\n", KILN_VERSION);
        return KILN_EXIT_OK;
    }
    if ((cmd = kiln_cli_find(argv[1])) != NULL)
        return kiln_cli_check_stdout(kiln_cli_run(cmd, argc - 1, argv + 1));
    fprintf(stderr, "kiln: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return KILN_EXIT_USAGE;
}
