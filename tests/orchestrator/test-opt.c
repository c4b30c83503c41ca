/* test-opt.c: the CLI's option tables (orchestrator/cli/opt.c): switches,
 * values, numbers, choices, repeatable options, arguments, defaults, GNU
 * getopt_long's forms, the errors, and the usage and --help they print. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln_test.h"
#include "cli/cli.h"
#include "cli/opt.h"

typedef struct t_opts {
    const char *file;     /* FILE */
    kiln_opt_list rest;   /* [MORE]... */
    bool quiet;           /* -q, --quiet */
    bool down;            /* --down; --up clears it */
    const char *state;    /* -s, --state DIR */
    const char *server;   /* --server URL */
    long jobs;            /* -j, --jobs N */
    long limit;           /* -n, --limit N (default 20) */
    const char *format;   /* -f, --format text|dot|json */
    kiln_opt_list cols;   /* -C, --column C... */
    kiln_opt_list params; /* -p, --param NAME=VALUE..., kiln_kv */
} t_opts;

static const kiln_opt specs[] = {
    KILN_OPT_ARG(t_opts, file, "FILE", NULL),
    KILN_OPT_ARGS(t_opts, rest, "MORE", 0, NULL),
    KILN_OPT_SWITCH('q', "quiet", t_opts, quiet, "say nothing"),
    KILN_OPT_SWITCH(0, "up", t_opts, down, "upwards (default)",
                    .flags = KILN_OPT_CLEARS),
    KILN_OPT_SWITCH(0, "down", t_opts, down, "downwards"),
    KILN_OPT_VALUE('s', "state", t_opts, state, "DIR", "state directory"),
    KILN_OPT_VALUE(0, "server", t_opts, server, "URL", "a server"),
    KILN_OPT_INT('j', "jobs", t_opts, jobs, "N", 1, 4096, "at most N"),
    KILN_OPT_INT('n', "limit", t_opts, limit, "N", 1, INT_MAX,
                 "at most N rows", .def = "20"),
    KILN_OPT_CHOICE('f', "format", t_opts, format, "text|dot|json",
                    "output format", .def = "text"),
    KILN_OPT_LIST('C', "column", t_opts, cols, "C", "only column C"),
    KILN_OPT_LIST_OF('p', "param", t_opts, params, kiln_kv,
                     kiln_cli_opt_param, "NAME=VALUE", "a parameter"),
    KILN_OPT_END,
};

/* Parse the words of line (split at spaces) into *o; the status, with
 * the error in err. The words stay valid until the next call. */
static int parse(t_opts *o, const char *line, kiln_err *err)
{
    static char buf[1024];
    static char *argv[64];
    int argc = 0;
    memset(o, 0, sizeof(*o));
    memset(err, 0, sizeof(*err));
    snprintf(buf, sizeof(buf), "%s", line);
    for (char *w = strtok(buf, " "); w; w = strtok(NULL, " "))
        argv[argc++] = w;
    return kiln_opt_parse(specs, o, argc, argv, err);
}

/* The error of line, which must fail. */
static const char *error_of(const char *line)
{
    static kiln_err err;
    t_opts o;
    ASSERT_EQ_INT(parse(&o, line, &err), KILN_EINVAL);
    kiln_opt_dispose(specs, &o);
    return err.msg;
}

static void test_defaults(void)
{
    t_opts o;
    kiln_err err;
    ASSERT_EQ_INT(parse(&o, "a.yaml", &err), 0);
    ASSERT_STREQ(o.file, "a.yaml");
    ASSERT_EQ_INT(o.rest.n, 0);
    ASSERT(!o.quiet);
    ASSERT_NULL(o.state);
    ASSERT_EQ_INT(o.jobs, 0);
    ASSERT_EQ_INT(o.limit, 20);
    ASSERT_STREQ(o.format, "text");
    ASSERT_EQ_INT(o.cols.n, 0);
    kiln_opt_dispose(specs, &o);
}

static void test_switches(void)
{
    t_opts o;
    kiln_err err;
    ASSERT_EQ_INT(parse(&o, "--quiet a", &err), 0);
    ASSERT(o.quiet);
    ASSERT_EQ_INT(parse(&o, "a -q", &err), 0);
    ASSERT(o.quiet);
    /* The last of --up and --down wins. */
    ASSERT_EQ_INT(parse(&o, "a --up --down", &err), 0);
    ASSERT(o.down);
    ASSERT_EQ_INT(parse(&o, "a --down --up", &err), 0);
    ASSERT(!o.down);
    ASSERT_STREQ(error_of("a --quiet=yes"), "option --quiet takes no value");
}

static void test_values(void)
{
    t_opts o;
    kiln_err err;
    const char *forms[] = {"a --state dir", "a --state=dir", "a -s dir",
                           "a -sdir", "--state dir a", "-s dir a"};
    for (size_t i = 0; i < KILN_ARRAY_SIZE(forms); i++) {
        ASSERT_EQ_INT(parse(&o, forms[i], &err), 0);
        ASSERT_STREQ(o.state, "dir");
        ASSERT_STREQ(o.file, "a");
    }
    /* The last one given wins; a value may start with "-" or be "". */
    ASSERT_EQ_INT(parse(&o, "a -s one --state two", &err), 0);
    ASSERT_STREQ(o.state, "two");
    ASSERT_EQ_INT(parse(&o, "a --state --quiet", &err), 0);
    ASSERT_STREQ(o.state, "--quiet");
    ASSERT(!o.quiet);
    ASSERT_EQ_INT(parse(&o, "a --state=", &err), 0);
    ASSERT_STREQ(o.state, "");
    ASSERT_EQ_INT(parse(&o, "a --server=http://h:1/?a=b", &err), 0);
    ASSERT_STREQ(o.server, "http://h:1/?a=b");
}

static void test_missing_value(void)
{
    ASSERT_STREQ(error_of("a --state"), "option --state needs a value (DIR)");
    ASSERT_STREQ(error_of("a -s"), "option -s needs a value (DIR)");
    ASSERT_STREQ(error_of("a -qj"), "option -j needs a value (N)");
}

static void test_numbers(void)
{
    t_opts o;
    kiln_err err;
    ASSERT_EQ_INT(parse(&o, "a --jobs 4 -n 5", &err), 0);
    ASSERT_EQ_INT(o.jobs, 4);
    ASSERT_EQ_INT(o.limit, 5);
    ASSERT_EQ_INT(parse(&o, "a -j4096", &err), 0);
    ASSERT_EQ_INT(o.jobs, 4096);
    ASSERT_STREQ(error_of("a --jobs zero"),
                 "--jobs expects 1 to 4096, got \"zero\"");
    ASSERT_STREQ(error_of("a -j 0"), "--jobs expects 1 to 4096, got \"0\"");
    ASSERT_STREQ(error_of("a --jobs=4097"),
                 "--jobs expects 1 to 4096, got \"4097\"");
    ASSERT_STREQ(error_of("a --jobs 3x"),
                 "--jobs expects 1 to 4096, got \"3x\"");
    ASSERT_STREQ(error_of("a --jobs="), "--jobs expects 1 to 4096, got \"\"");
    ASSERT_STREQ(error_of("a --limit -1"),
                 "--limit expects a positive number, got \"-1\"");
    ASSERT_STREQ(error_of("a --limit 99999999999999999999"),
                 "--limit expects a positive number, got "
                 "\"99999999999999999999\"");
}

static void test_choices(void)
{
    t_opts o;
    kiln_err err;
    ASSERT_EQ_INT(parse(&o, "a --format dot", &err), 0);
    ASSERT_STREQ(o.format, "dot");
    ASSERT_EQ_INT(parse(&o, "a -fjson", &err), 0);
    ASSERT_STREQ(o.format, "json");
    ASSERT_STREQ(error_of("a --format svg"),
                 "--format expects text, dot or json, got \"svg\"");
    /* Not a prefix of a choice, nor a choice with more. */
    ASSERT_STREQ(error_of("a --format do"),
                 "--format expects text, dot or json, got \"do\"");
    ASSERT_STREQ(error_of("a --format dots"),
                 "--format expects text, dot or json, got \"dots\"");
}

static void test_repeatable(void)
{
    t_opts o;
    kiln_err err;
    const kiln_kv *kv;
    ASSERT_EQ_INT(parse(&o, "a -C x --column y --column=z -Cw", &err), 0);
    ASSERT_EQ_INT(o.cols.n, 4);
    ASSERT_STREQ(KILN_OPT_STRINGS(o.cols)[0], "x");
    ASSERT_STREQ(KILN_OPT_STRINGS(o.cols)[1], "y");
    ASSERT_STREQ(KILN_OPT_STRINGS(o.cols)[2], "z");
    ASSERT_STREQ(KILN_OPT_STRINGS(o.cols)[3], "w");
    kiln_opt_dispose(specs, &o);
    ASSERT_EQ_INT(o.cols.n, 0);
    ASSERT_NULL(o.cols.items);

    /* Converted as they come: NAME=VALUE into kiln_kv. */
    ASSERT_EQ_INT(parse(&o, "-p lr=0.1 a --param count=5=6 -pe=", &err), 0);
    ASSERT_EQ_INT(o.params.n, 3);
    kv = o.params.items;
    ASSERT_STREQ(kv[0].key, "lr");
    ASSERT_STREQ(kv[0].value, "0.1");
    ASSERT_STREQ(kv[1].key, "count");
    ASSERT_STREQ(kv[1].value, "5=6");
    ASSERT_STREQ(kv[2].key, "e");
    ASSERT_STREQ(kv[2].value, "");
    kiln_opt_dispose(specs, &o);
    ASSERT_STREQ(error_of("a -p lr=1 --param nope"),
                 "--param expects NAME=VALUE, got \"nope\"");
}

static void test_bundles(void)
{
    t_opts o;
    kiln_err err;
    ASSERT_EQ_INT(parse(&o, "-qn5 a", &err), 0);
    ASSERT(o.quiet);
    ASSERT_EQ_INT(o.limit, 5);
    ASSERT_EQ_INT(parse(&o, "-qs dir a", &err), 0);
    ASSERT(o.quiet);
    ASSERT_STREQ(o.state, "dir");
    /* A value option takes the rest of the word, switches or not. */
    ASSERT_EQ_INT(parse(&o, "-sq a", &err), 0);
    ASSERT(!o.quiet);
    ASSERT_STREQ(o.state, "q");
    ASSERT_STREQ(error_of("a -qx"), "unknown option -x");
}

static void test_unknown(void)
{
    ASSERT_STREQ(error_of("a --bogus"), "unknown option --bogus");
    ASSERT_STREQ(error_of("a --bogus=1"), "unknown option --bogus");
    ASSERT_STREQ(error_of("a -x"), "unknown option -x");
    ASSERT_STREQ(error_of("a --="), "unknown option --");
    /* The first error is the one said. */
    ASSERT_STREQ(error_of("--jobs 0 --bogus a"),
                 "--jobs expects 1 to 4096, got \"0\"");
}

static void test_abbreviations(void)
{
    t_opts o;
    kiln_err err;
    ASSERT_EQ_INT(parse(&o, "a --qui --lim 3 --form=dot --sta d", &err), 0);
    ASSERT(o.quiet);
    ASSERT_EQ_INT(o.limit, 3);
    ASSERT_STREQ(o.format, "dot");
    ASSERT_STREQ(o.state, "d");
    ASSERT_STREQ(error_of("a --s x"),
                 "option --s is ambiguous (--state, --server)");
}

static void test_arguments(void)
{
    t_opts o;
    kiln_err err;
    ASSERT_STREQ(error_of(""), "expected FILE");
    ASSERT_STREQ(error_of("-q"), "expected FILE");
    ASSERT_EQ_INT(parse(&o, "a b c", &err), 0);
    ASSERT_STREQ(o.file, "a");
    ASSERT_EQ_INT(o.rest.n, 2);
    ASSERT_STREQ(KILN_OPT_STRINGS(o.rest)[0], "b");
    ASSERT_STREQ(KILN_OPT_STRINGS(o.rest)[1], "c");
    kiln_opt_dispose(specs, &o);
    /* Options anywhere; "--" ends them; "-" is an argument. */
    ASSERT_EQ_INT(parse(&o, "a -q b -- -s --jobs -", &err), 0);
    ASSERT(o.quiet);
    ASSERT_NULL(o.state);
    ASSERT_EQ_INT(o.rest.n, 4);
    ASSERT_STREQ(KILN_OPT_STRINGS(o.rest)[1], "-s");
    ASSERT_STREQ(KILN_OPT_STRINGS(o.rest)[3], "-");
    kiln_opt_dispose(specs, &o);
}

typedef struct pos_opts {
    int64_t run;          /* RUN */
    const char *step;     /* STEP */
    const char *extra;    /* [EXTRA] */
    const char *ref;      /* --reference A */
    const char *cur;      /* --current B */
} pos_opts;

static const kiln_opt pos_specs[] = {
    KILN_CLI_ARG_RUN(pos_opts, run),
    KILN_OPT_ARG(pos_opts, step, "STEP", NULL),
    KILN_OPT_ARG(pos_opts, extra, "EXTRA", NULL, .flags = KILN_OPT_OPTIONAL),
    KILN_OPT_VALUE('r', "reference", pos_opts, ref, "A", NULL,
                   .flags = KILN_OPT_REQUIRED),
    KILN_OPT_VALUE('c', "current", pos_opts, cur, "B", NULL,
                   .flags = KILN_OPT_REQUIRED),
    KILN_OPT_END,
};

typedef struct many_opts {
    kiln_opt_list paths; /* PATH... */
    bool all, all_of;    /* --all, --all-of */
} many_opts;

static const kiln_opt many_specs[] = {
    KILN_OPT_ARGS(many_opts, paths, "PATH", 1, "a file or a directory"),
    KILN_OPT_SWITCH(0, "all", many_opts, all, "all"),
    KILN_OPT_SWITCH(0, "all-of", many_opts, all_of, "all of them"),
    KILN_OPT_END,
};

static int parse_pos(pos_opts *o, int argc, char **argv, kiln_err *err)
{
    memset(o, 0, sizeof(*o));
    memset(err, 0, sizeof(*err));
    return kiln_opt_parse(pos_specs, o, argc, argv, err);
}

static void test_argument_count(void)
{
    pos_opts o;
    many_opts m;
    kiln_err err;
    char *none[] = {"-r", "x", "-c", "y"};
    char *one[] = {"-r", "x", "12", "-c", "y"};
    char *two[] = {"12", "train", "-r", "x", "-c", "y"};
    char *three[] = {"12", "train", "more", "-r", "x", "-c", "y"};
    char *four[] = {"12", "train", "more", "most", "-r", "x", "-c", "y"};
    char *bad_id[] = {"abc", "train", "-r", "x", "-c", "y"};
    char *no_opts[] = {"12", "train"};
    char *half[] = {"12", "train", "-c", "y"};

    ASSERT_EQ_INT(parse_pos(&o, 4, none, &err), KILN_EINVAL);
    ASSERT_STREQ(err.msg, "expected RUN and STEP");
    ASSERT_EQ_INT(parse_pos(&o, 5, one, &err), KILN_EINVAL);
    ASSERT_STREQ(err.msg, "expected STEP");
    ASSERT_EQ_INT(parse_pos(&o, 6, two, &err), 0);
    ASSERT_EQ_INT(o.run, 12);
    ASSERT_STREQ(o.step, "train");
    ASSERT_NULL(o.extra);
    ASSERT_EQ_INT(parse_pos(&o, 7, three, &err), 0);
    ASSERT_STREQ(o.extra, "more");
    ASSERT_EQ_INT(parse_pos(&o, 8, four, &err), KILN_EINVAL);
    ASSERT_STREQ(err.msg, "unexpected argument \"most\"");
    /* An argument's parser says what is wrong with it. */
    ASSERT_EQ_INT(parse_pos(&o, 6, bad_id, &err), KILN_EINVAL);
    ASSERT_STREQ(err.msg, "invalid run id \"abc\": expected a positive "
                 "number");
    /* Required options. */
    ASSERT_EQ_INT(parse_pos(&o, 2, no_opts, &err), KILN_EINVAL);
    ASSERT_STREQ(err.msg, "expected --reference and --current");
    ASSERT_EQ_INT(parse_pos(&o, 4, half, &err), KILN_EINVAL);
    ASSERT_STREQ(err.msg, "expected --reference");

    memset(&m, 0, sizeof(m));
    ASSERT_EQ_INT(kiln_opt_parse(many_specs, &m, 0, NULL, &err), KILN_EINVAL);
    ASSERT_STREQ(err.msg, "expected at least one PATH (a file or a "
                 "directory)");
    ASSERT_EQ_INT(kiln_opt_parse(many_specs, &m, 2, two, &err), 0);
    ASSERT_EQ_INT(m.paths.n, 2);
    kiln_opt_dispose(many_specs, &m);

    /* A whole name wins over the longer names it begins. */
    {
        char *all[] = {"p", "--all"}, *al[] = {"p", "--al"};
        memset(&m, 0, sizeof(m));
        ASSERT_EQ_INT(kiln_opt_parse(many_specs, &m, 2, all, &err), 0);
        ASSERT(m.all && !m.all_of);
        kiln_opt_dispose(many_specs, &m);
        ASSERT_EQ_INT(kiln_opt_parse(many_specs, &m, 2, al, &err),
                      KILN_EINVAL);
        ASSERT_STREQ(err.msg, "option --al is ambiguous (--all, --all-of)");
        kiln_opt_dispose(many_specs, &m);
    }
}

static void test_help(void)
{
    t_opts o;
    kiln_err err;
    ASSERT_EQ_INT(parse(&o, "--help", &err), KILN_OPT_HELP);
    ASSERT_EQ_INT(parse(&o, "a -h --bogus", &err), KILN_OPT_HELP);
    ASSERT_EQ_INT(parse(&o, "-qh", &err), KILN_OPT_HELP);
    ASSERT_EQ_INT(parse(&o, "--he", &err), KILN_OPT_HELP);
    /* Before any check of the arguments. */
    ASSERT_EQ_INT(parse(&o, "a b c d --help", &err), KILN_OPT_HELP);
    kiln_opt_dispose(specs, &o);
    /* An error before it is said instead. */
    ASSERT_STREQ(error_of("--bogus --help"), "unknown option --bogus");
}

/* What print wrote to a FILE, as a string to free. */
static char *printed(void (*print)(FILE *f))
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    ASSERT_NOT_NULL(f);
    print(f);
    fclose(f);
    return text;
}

static void print_usage(FILE *f)
{
    kiln_opt_usage(f, "usage: kiln test ", specs, "(see kiln test --help)");
}

static void print_help(FILE *f)
{
    kiln_opt_help(f, specs);
}

static void print_names(FILE *f)
{
    kiln_opt_list_names(f, specs);
}

static void test_usage_and_help(void)
{
    char *usage = printed(print_usage), *help = printed(print_help);
    char *names = printed(print_names), *line;
    ASSERT_STREQ(usage,
        "usage: kiln test FILE [MORE]... [--quiet] [--up] [--down] "
        "[--state DIR]\n"
        "                 [--server URL] [--jobs N] [--limit N] "
        "[--format text|dot|json]\n"
        "                 [--column C]... [--param NAME=VALUE]... "
        "(see kiln test --help)\n");
    /* Every option with its help, defaults and repeatable said, then
     * --help; nothing past column 80. */
    ASSERT_STREQ(help,
        "Options:\n"
        "  -q, --quiet             say nothing\n"
        "      --up                upwards (default)\n"
        "      --down              downwards\n"
        "  -s, --state DIR         state directory\n"
        "      --server URL        a server\n"
        "  -j, --jobs N            at most N\n"
        "  -n, --limit N           at most N rows (default 20)\n"
        "  -f, --format text|dot|json\n"
        "                          output format (default text)\n"
        "  -C, --column C          only column C (repeatable)\n"
        "  -p, --param NAME=VALUE  a parameter (repeatable)\n"
        "  -h, --help              print this help\n");
    for (line = strtok(usage, "\n"); line; line = strtok(NULL, "\n"))
        ASSERT_LT_INT(strlen(line), 80);
    ASSERT(strstr(names, "--state DIR\n-s DIR\n"));
    ASSERT(strstr(names, "--quiet\n-q\n"));
    ASSERT(strstr(names, "--format text|dot|json\n"));
    ASSERT(strstr(names, "--help\n-h\n"));
    ASSERT_NULL(strstr(names, "FILE"));
    free(usage);
    free(help);
    free(names);
}

/* Every command's table parses its own defaults, and its help and usage
 * stay within 80 columns except where a word cannot. */
static void test_commands(void)
{
    for (size_t i = 0; kiln_cli_commands[i]; i++) {
        const kiln_cmd *cmd = kiln_cli_commands[i];
        void *opts = calloc(1, cmd->opts_size);
        kiln_err err = KILN_ERR_INIT;
        char *argv[] = {"--help"};
        fprintf(stderr, "   %s\n", cmd->name);
        ASSERT_EQ_INT(kiln_opt_parse(cmd->opts, opts, 1, argv, &err),
                      KILN_OPT_HELP);
        kiln_opt_dispose(cmd->opts, opts);
        ASSERT_EQ_INT(kiln_cli_find(cmd->name) == cmd, 1);
        free(opts);
        for (const kiln_opt *s = cmd->opts; s->kind; s++) {
            if (s->kind == KILN_OPT_KIND_ARG || s->kind == KILN_OPT_KIND_ARGS)
                continue;
            /* -h and --help are every command's. */
            ASSERT(s->short_name != 'h');
            ASSERT(strcmp(s->name, "help") != 0);
            ASSERT_NOT_NULL(s->help);
            if (s->kind != KILN_OPT_KIND_SWITCH)
                ASSERT_NOT_NULL(s->value_name);
            for (const kiln_opt *t = s + 1; t->kind; t++) {
                ASSERT(strcmp(s->name, t->name) != 0 ||
                       t->kind == KILN_OPT_KIND_ARG ||
                       t->kind == KILN_OPT_KIND_ARGS);
                ASSERT(!s->short_name || s->short_name != t->short_name);
            }
        }
    }
    ASSERT_NULL(kiln_cli_find("frobnicate"));
}

/* Forms a command tells apart itself are shown as written. */
static void print_metrics_usage(FILE *f)
{
    kiln_opt_usage(f, "usage: kiln metrics ", kiln_cmd_metrics.opts, NULL);
}

static void test_forms(void)
{
    char *usage = printed(print_metrics_usage);
    ASSERT(strncmp(usage, "usage: kiln metrics [diff RUN_A RUN_B] [--", 42)
           == 0);
    free(usage);
}

int main(void)
{
    RUN_TEST(test_defaults);
    RUN_TEST(test_switches);
    RUN_TEST(test_values);
    RUN_TEST(test_missing_value);
    RUN_TEST(test_numbers);
    RUN_TEST(test_choices);
    RUN_TEST(test_repeatable);
    RUN_TEST(test_bundles);
    RUN_TEST(test_unknown);
    RUN_TEST(test_abbreviations);
    RUN_TEST(test_arguments);
    RUN_TEST(test_argument_count);
    RUN_TEST(test_help);
    RUN_TEST(test_usage_and_help);
    RUN_TEST(test_commands);
    RUN_TEST(test_forms);
    return 0;
}
