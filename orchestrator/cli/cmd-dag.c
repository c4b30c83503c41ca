/* cmd-dag.c: kiln dag FILE [--format text|dot] */
#include <stdio.h>
#include <string.h>

#include "dsl/dsl.h"
#include "cli/cli.h"

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"format", required_argument, NULL, 'f'},
    {NULL, 0, NULL, 0},
};

static void print_text(const kiln_pipeline *p)
{
    printf("pipeline %s (%zu steps, in the order they can run)\n", p->name,
           p->n_steps);
    for (size_t i = 0; i < p->n_steps; i++) {
        const kiln_step *s = &p->steps[p->topo[i]];
        printf("  %-20s %-9s", s->name, kiln_step_kind_name(s->kind));
        if (s->needs.n) {
            printf(" <- ");
            for (size_t j = 0; j < s->needs.n; j++)
                printf("%s%s", j ? ", " : "", s->needs.items[j]);
        }
        printf("\n");
    }
}

static void print_dot(const kiln_pipeline *p)
{
    printf("digraph \"%s\" {\n  rankdir=LR;\n  node [shape=box];\n",
           p->name);
    for (size_t i = 0; i < p->n_steps; i++) {
        const kiln_step *s = &p->steps[p->topo[i]];
        printf("  \"%s\" [label=\"%s\\n(%s)\"];\n", s->name, s->name,
               kiln_step_kind_name(s->kind));
    }
    for (size_t i = 0; i < p->n_steps; i++) {
        const kiln_step *s = &p->steps[p->topo[i]];
        for (size_t j = 0; j < s->needs.n; j++)
            printf("  \"%s\" -> \"%s\";\n", s->needs.items[j], s->name);
    }
    printf("}\n");
}

static int exec_dag(int argc, char **argv)
{
    const char *format = "text";
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "hf:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            kiln_cli_help(&kiln_cmd_dag);
            return KILN_EXIT_OK;
        case 'f':
            format = optarg;
            break;
        default:
            return kiln_cli_usage_error(&kiln_cmd_dag, "bad option");
        }
    }
    if (strcmp(format, "text") != 0 && strcmp(format, "dot") != 0)
        return kiln_cli_usage_error(&kiln_cmd_dag, "unknown format \"%s\" "
                                    "(text or dot)", format);
    if (optind != argc - 1)
        return kiln_cli_usage_error(&kiln_cmd_dag, "expected one FILE");
    rc = kiln_dsl_load_file(&p, argv[optind], &diag);
    if (rc != 0) {
        kiln_diag_print(&diag);
        kiln_diag_dispose(&diag);
        return rc == KILN_EINVAL ? KILN_EXIT_USAGE : KILN_EXIT_SYSTEM;
    }
    if (strcmp(format, "dot") == 0)
        print_dot(p);
    else
        print_text(p);
    kiln_pipeline_free(p);
    return KILN_EXIT_OK;
}

const kiln_cmd kiln_cmd_dag = {
    .name = "dag",
    .usage = "dag FILE [--format text|dot]",
    .summary = "Print a pipeline's steps in dependency order, or as "
               "Graphviz.",
    .help = "Options:\n"
            "  -f, --format text|dot   output format (default text)\n",
    .exec = exec_dag,
};
