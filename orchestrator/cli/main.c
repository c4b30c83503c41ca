/* main.c: kiln's entry point. It only dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const kiln_cmd *const commands[] = {
    &kiln_cmd_run,  &kiln_cmd_validate, &kiln_cmd_dag,
    &kiln_cmd_runs, &kiln_cmd_show,     &kiln_cmd_logs,
    &kiln_cmd_lineage, &kiln_cmd_metrics, &kiln_cmd_models, &kiln_cmd_gc,
    &kiln_cmd_drift,
    &kiln_cmd_serve, &kiln_cmd_status, &kiln_cmd_trigger, &kiln_cmd_triggers,
    &kiln_cmd_cancel, &kiln_cmd_resume, &kiln_cmd_abandon,
    &kiln_cmd_cron,
};

/* Commands kiln starts itself, listed apart. */
static const kiln_cmd *const internal[] = {
    &kiln_cmd_validate_step,
};

static void usage(FILE *f)
{
    fprintf(f, "usage: kiln COMMAND [options]\n\n"
               "kiln runs machine-learning pipelines described in YAML.\n\n"
               "Commands:\n");
    for (size_t i = 0; i < KILN_ARRAY_SIZE(commands); i++)
        fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "\nInternal commands (kiln runs them as steps):\n");
    for (size_t i = 0; i < KILN_ARRAY_SIZE(internal); i++)
        fprintf(f, "  %-10s %s\n", internal[i]->name, internal[i]->summary);
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
    for (size_t i = 0; i < KILN_ARRAY_SIZE(commands); i++)
        if (strcmp(argv[1], commands[i]->name) == 0)
            return commands[i]->exec(argc - 1, argv + 1);
    for (size_t i = 0; i < KILN_ARRAY_SIZE(internal); i++)
        if (strcmp(argv[1], internal[i]->name) == 0)
            return internal[i]->exec(argc - 1, argv + 1);
    fprintf(stderr, "kiln: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return KILN_EXIT_USAGE;
}
