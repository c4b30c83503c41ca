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
           (c >= '0' && c <= '9') || (c != '\0' && strchr("_-./,:+@%^=", c) != NULL);
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
