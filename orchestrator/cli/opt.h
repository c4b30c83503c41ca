/*
 * opt.h: a command's options and arguments, declared once in a table that
 * both parses the command line and prints the usage line and --help
 * (libgit2's cli_opt_spec, tmux's cmd_entry .args).
 *
 * A row says where its value goes as an offset into the command's own
 * options struct, checked against the field's type at compile time, so a
 * table is const and one parse fills one struct:
 *
 *     typedef struct runs_opts {
 *         const char *pipeline, *state;
 *         long limit;
 *         bool json;
 *     } runs_opts;
 *
 *     static const kiln_opt options[] = {
 *         KILN_OPT_VALUE('P', "pipeline", runs_opts, pipeline, "P",
 *                        "only runs of pipeline P"),
 *         KILN_OPT_INT('n', "limit", runs_opts, limit, "N", 1, INT_MAX,
 *                      "at most N runs", .def = "20"),
 *         KILN_OPT_END,
 *     };
 *
 * Parsing is GNU getopt_long's: options and arguments in any order, "--"
 * ends the options, "-j4", "-j 4", "--jobs=4", "--jobs 4", bundled
 * switches ("-nq") and unambiguous abbreviations of long names ("--lim").
 * -h and --help are every command's.
 */
#ifndef KILN_CLI_OPT_H
#define KILN_CLI_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/base.h"

typedef enum kiln_opt_kind {
    KILN_OPT_KIND_END = 0, /* ends a table */
    KILN_OPT_KIND_SWITCH,  /* --json: a bool, set true (KILN_OPT_CLEARS: false) */
    KILN_OPT_KIND_VALUE,   /* --state DIR: a const char *, the last given */
    KILN_OPT_KIND_INT,     /* --jobs N: a long from min to max (1 to
                              INT_MAX: "a positive number") */
    KILN_OPT_KIND_CHOICE,  /* --format text|dot: a const char *, one of them */
    KILN_OPT_KIND_LIST,    /* --column C, repeatable: a kiln_opt_list */
    KILN_OPT_KIND_ARG,     /* a positional argument, in table order */
    KILN_OPT_KIND_ARGS     /* the positional arguments left: a kiln_opt_list */
} kiln_opt_kind;

enum {
    KILN_OPT_REQUIRED = 1 << 0, /* a VALUE or CHOICE option (no parse) that
                                   must be given */
    KILN_OPT_OPTIONAL = 1 << 1, /* an ARG that may be left out */
    KILN_OPT_CLEARS = 1 << 2,   /* a SWITCH that sets its bool false */
    KILN_OPT_NONEMPTY = 1 << 3  /* a VALUE that may not be "" (--state
                                   "$UNSET" would pick another one) */
};

typedef struct kiln_opt kiln_opt;

/*
 * Convert text (an option's value or an argument) into the value at out,
 * the row's field (an element of its list for KILN_OPT_KIND_LIST). Returns
 * 0, or KILN_EINVAL with err saying what is wrong with text ("--pool
 * expects NAME=N..."): it becomes the usage error. The text is argv's and
 * may be kept, or edited in place (then the row cannot have a .def).
 */
typedef int (*kiln_opt_parse_fn)(void *out, char *text, const kiln_opt *spec,
                                 kiln_err *err);

struct kiln_opt {
    kiln_opt_kind kind;
    char short_name;          /* 'j' for -j, or 0 */
    const char *name;         /* "jobs" for --jobs; an argument's "FILE" */
    size_t offset;            /* where the value goes in the options struct */
    size_t size;              /* a list element's size */
    const char *value_name;   /* "N", "DIR"; a choice's "text|dot" */
    const char *help;         /* one line, wrapped by --help; may be NULL */
    kiln_opt_parse_fn parse;  /* converts VALUE, LIST and ARG text, or NULL */
    long min, max;            /* INT: the range; ARGS: at least min */
    const char *def;          /* parsed before the command line; --help
                                 shows it as "(default DEF)" */
    unsigned flags;           /* KILN_OPT_REQUIRED, _OPTIONAL, _CLEARS */
};

/* The values of a repeatable option or of the arguments left. */
typedef struct kiln_opt_list {
    size_t n;
    void *items; /* n char * (argv's), or n of the row's parse type */
} kiln_opt_list;

/* offsetof(T, field), failing to compile unless field has type type. */
#define KILN_OPT_AT_(T, field, type)                                      \
    (offsetof(T, field) + 0 * sizeof(_Generic(((T *)0)->field, type: 1)))

/*
 * Rows. s is the short name (0 for none), l the long name, T the options
 * struct and f its field; trailing arguments are more designated
 * initializers (.def = "20", .flags = KILN_OPT_REQUIRED).
 */
#define KILN_OPT_SWITCH(s, l, T, f, h, ...)                               \
    {.kind = KILN_OPT_KIND_SWITCH, .short_name = s, .name = l,            \
     .offset = KILN_OPT_AT_(T, f, bool), .help = h, __VA_ARGS__}
#define KILN_OPT_VALUE(s, l, T, f, v, h, ...)                             \
    {.kind = KILN_OPT_KIND_VALUE, .short_name = s, .name = l,             \
     .offset = KILN_OPT_AT_(T, f, const char *), .value_name = v,         \
     .help = h, __VA_ARGS__}
/* A value parse converts into f, of type type. */
#define KILN_OPT_PARSED(s, l, T, f, type, parse_fn, v, h, ...)            \
    {.kind = KILN_OPT_KIND_VALUE, .short_name = s, .name = l,             \
     .offset = KILN_OPT_AT_(T, f, type), .value_name = v, .help = h,      \
     .parse = parse_fn, __VA_ARGS__}
#define KILN_OPT_INT(s, l, T, f, v, lo, hi, h, ...)                       \
    {.kind = KILN_OPT_KIND_INT, .short_name = s, .name = l,               \
     .offset = KILN_OPT_AT_(T, f, long), .value_name = v, .min = lo,      \
     .max = hi, .help = h, __VA_ARGS__}
/* choices: "text|dot"; f points at the one given. */
#define KILN_OPT_CHOICE(s, l, T, f, choices, h, ...)                      \
    {.kind = KILN_OPT_KIND_CHOICE, .short_name = s, .name = l,            \
     .offset = KILN_OPT_AT_(T, f, const char *), .value_name = choices,   \
     .help = h, __VA_ARGS__}
/* Repeatable: f is a kiln_opt_list of char *... */
#define KILN_OPT_LIST(s, l, T, f, v, h, ...)                              \
    {.kind = KILN_OPT_KIND_LIST, .short_name = s, .name = l,              \
     .offset = KILN_OPT_AT_(T, f, kiln_opt_list), .size = sizeof(char *), \
     .value_name = v, .help = h, __VA_ARGS__}
/* ...or of type, each converted by parse_fn. */
#define KILN_OPT_LIST_OF(s, l, T, f, type, parse_fn, v, h, ...)           \
    {.kind = KILN_OPT_KIND_LIST, .short_name = s, .name = l,              \
     .offset = KILN_OPT_AT_(T, f, kiln_opt_list), .size = sizeof(type),   \
     .parse = parse_fn, .value_name = v, .help = h, __VA_ARGS__}
/* An argument: a const char *, or with .flags = KILN_OPT_OPTIONAL
 * NULL when left out. Its name is shown as is in the usage line. */
#define KILN_OPT_ARG(T, f, name_, h, ...)                                 \
    {.kind = KILN_OPT_KIND_ARG, .name = name_,                            \
     .offset = KILN_OPT_AT_(T, f, const char *), .help = h, __VA_ARGS__}
#define KILN_OPT_ARG_OF(T, f, type, parse_fn, name_, h, ...)              \
    {.kind = KILN_OPT_KIND_ARG, .name = name_,                            \
     .offset = KILN_OPT_AT_(T, f, type), .parse = parse_fn, .help = h,    \
     __VA_ARGS__}
/* The arguments left, at least least of them: a kiln_opt_list of
 * char *. A name with spaces ("diff RUN_A RUN_B") is shown as is, without
 * "...": the forms the command tells apart itself. */
#define KILN_OPT_ARGS(T, f, name_, least, h, ...)                         \
    {.kind = KILN_OPT_KIND_ARGS, .name = name_,                           \
     .offset = KILN_OPT_AT_(T, f, kiln_opt_list), .size = sizeof(char *), \
     .min = least, .help = h, __VA_ARGS__}
#define KILN_OPT_END {.kind = KILN_OPT_KIND_END}

/* kiln_opt_parse()'s answer when -h or --help was given. */
#define KILN_OPT_HELP 1

/*
 * Parse argv[0..argc) by specs into opts (the struct specs describe,
 * zeroed by the caller): first every row's .def, then the command line.
 * Returns 0; KILN_OPT_HELP when -h or --help came before any error; or
 * KILN_EINVAL with err's message naming what is wrong ("unknown option
 * --bogus", "--jobs expects 1 to 4096, got \"zero\"", "expected FILE").
 * Values point into argv. Free opts' lists with kiln_opt_dispose(), in
 * every case.
 */
int kiln_opt_parse(const kiln_opt *specs, void *opts, int argc, char **argv,
                   kiln_err *err);

/* Free the lists kiln_opt_parse() made in opts. */
void kiln_opt_dispose(const kiln_opt *specs, void *opts);

/* The items of a list filled by a KILN_OPT_LIST or _ARGS row. */
#define KILN_OPT_STRINGS(list) ((char **)(list).items)

/*
 * Print "PREFIX[--opt X]..." (PREFIX is "usage: kiln run " or so), then
 * suffix when not NULL, wrapped at 80 columns under the first option.
 */
void kiln_opt_usage(FILE *f, const char *prefix, const kiln_opt *specs,
                    const char *suffix);

/* Print the "Options:" list of specs, each with its help wrapped at 80
 * columns, then -h, --help; and "Arguments:" before it when an argument
 * has help. */
void kiln_opt_help(FILE *f, const kiln_opt *specs);

/* Print every option of specs, one a line, as "--name" or "--name
 * VALUE", then "-n" or "-n VALUE" when it has a short name (for shell
 * completion). */
void kiln_opt_list_names(FILE *f, const kiln_opt *specs);

#endif
