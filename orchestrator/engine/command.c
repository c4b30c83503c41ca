/* command.c: shell or direct execution of a step's command. */
#include "command.h"

#include <stdlib.h>
#include <string.h>

/* Words that mean something else to the shell than a program would:
 * builtins without a program of the same name, and keywords. Programs
 * that are also builtins (true, echo, printf, test) behave the same run
 * directly. */
static const char *const shell_words[] = {
    ".",     ":",       "alias",  "bg",     "break",  "case",  "cd",
    "command", "continue", "do",  "done",   "elif",   "else",  "esac",
    "eval",  "exec",    "exit",   "export", "fc",     "fg",    "fi",
    "for",   "function", "getopts", "hash", "if",     "in",    "jobs",
    "let",   "local",   "read",   "readonly", "return", "select", "set",
    "shift", "source",  "then",   "times",  "trap",   "type",  "ulimit",
    "umask", "unalias", "unset",  "until",  "wait",   "while",
};

/* Characters that never need the shell. */
static bool plain_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("_-./,:+@%^=", c) != NULL);
}

static bool is_plain(const char *cmd, size_t *words)
{
    bool in_word = false;
    *words = 0;
    for (const char *c = cmd; *c; c++) {
        if (*c == ' ') {
            in_word = false;
        } else if (plain_char(*c)) {
            if (!in_word)
                (*words)++;
            in_word = true;
        } else {
            return false;
        }
    }
    return *words > 0;
}

/* A NULL-terminated argv of n strings, copied into one allocation. */
static char **argv_of(size_t n, const char *const *args)
{
    size_t len = 0;
    char **argv, *text;
    for (size_t i = 0; i < n; i++)
        len += strlen(args[i]) + 1;
    argv = kiln_malloc((n + 1) * sizeof(char *) + len);
    text = (char *)(argv + n + 1);
    for (size_t i = 0; i < n; i++) {
        len = strlen(args[i]) + 1;
        argv[i] = memcpy(text, args[i], len);
        text += len;
    }
    argv[n] = NULL;
    return argv;
}

char **kiln_command_validate_argv(const char *kiln, const char *run,
                                  const char *file, const char *step)
{
    /* sh -c SCRIPT NAME ARGS...: the script sees ARGS as $1, $2... The
     * command runs in a shell of its own, as a step without checks would,
     * so its exit, set and traps stay its own. */
    static const char script[] =
        "/bin/sh -c \"$1\" && exec \"$2\" validate-step \"$3\" \"$4\"";
    const char *checks[] = {kiln, "validate-step", file, step};
    const char *both[] = {"/bin/sh", "-c", script, "sh", run, kiln, file,
                          step};
    return run ? argv_of(KILN_ARRAY_SIZE(both), both)
               : argv_of(KILN_ARRAY_SIZE(checks), checks);
}

char **kiln_command_argv(const char *cmd)
{
    size_t words, len = strlen(cmd), first;
    char **argv, *text;

    first = strcspn(cmd + strspn(cmd, " "), " ");
    if (is_plain(cmd, &words)) {
        const char *w = cmd + strspn(cmd, " ");
        /* An assignment in front (X=1 cmd) is the shell's. */
        bool shell = memchr(w, '=', first) != NULL;
        for (size_t i = 0; i < KILN_ARRAY_SIZE(shell_words); i++)
            if (strlen(shell_words[i]) == first &&
                strncmp(shell_words[i], w, first) == 0)
                shell = true;
        if (!shell) {
            argv = kiln_malloc((words + 1) * sizeof(char *) + len + 1);
            text = (char *)(argv + words + 1);
            memcpy(text, cmd, len + 1);
            words = 0;
            for (char *tok = strtok(text, " "); tok; tok = strtok(NULL, " "))
                argv[words++] = tok;
            argv[words] = NULL;
            return argv;
        }
    }
    argv = kiln_malloc(4 * sizeof(char *) + len + 1);
    text = (char *)(argv + 4);
    memcpy(text, cmd, len + 1);
    argv[0] = "/bin/sh";
    argv[1] = "-c";
    argv[2] = text;
    argv[3] = NULL;
    return argv;
}
