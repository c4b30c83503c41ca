/* cmd-complete.c: kiln __complete [COMMAND], what the bash completion
 * (contrib/completion/kiln.bash) offers, read from the option tables so
 * it never falls behind them: without COMMAND the commands, one a line;
 * with one, its options as "--name" or "--name VALUE" (VALUE as --help
 * names it: FILE, DIR, text|dot...). Not listed by kiln --help. */
#include <stdio.h>

#include "cli/cli.h"

typedef struct complete_opts {
    const char *command; /* [COMMAND] */
} complete_opts;

static const kiln_opt options[] = {
    KILN_OPT_ARG(complete_opts, command, "COMMAND", NULL,
                 .flags = KILN_OPT_OPTIONAL),
    KILN_OPT_END,
};

static int exec_complete(void *opts)
{
    const complete_opts *o = opts;
    const kiln_cmd *cmd;

    if (!o->command) {
        for (size_t i = 0; kiln_cli_commands[i]; i++)
            if (kiln_cli_commands[i]->kind == KILN_CMD_PUBLIC)
                printf("%s\n", kiln_cli_commands[i]->name);
        return KILN_EXIT_OK;
    }
    if (!(cmd = kiln_cli_find(o->command)))
        return kiln_cli_usage_error(&kiln_cmd_complete, "unknown command "
                                    "\"%s\"", o->command);
    kiln_opt_list_names(stdout, cmd->opts);
    return KILN_EXIT_OK;
}

const kiln_cmd kiln_cmd_complete = {
    .name = "__complete",
    .summary = "What shell completion offers: the commands, or a "
               "command's options.",
    .opts = options,
    .opts_size = sizeof(complete_opts),
    .exec = exec_complete,
    .kind = KILN_CMD_HIDDEN,
};
