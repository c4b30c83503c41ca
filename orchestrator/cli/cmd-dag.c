/* cmd-dag.c: kiln dag FILE [--format text|dot] */
#include <stdio.h>
#include <string.h>

#include "dsl/dsl.h"
#include "cli/cli.h"

typedef struct dag_opts {
    const char *file;   /* FILE */
    const char *format; /* --format text|dot */
} dag_opts;

static const kiln_opt options[] = {
    KILN_OPT_ARG(dag_opts, file, "FILE", NULL),
    KILN_OPT_CHOICE('f', "format", dag_opts, format, "text|dot",
                    "output format", .def = "text"),
    KILN_OPT_END,
};

static void print_text(const kiln_pipeline *p)
{
    int width = 20; /* the longest name: a sweep's items are long */
    for (size_t i = 0; i < p->n_steps; i++)
        if (strlen(p->steps[i].name) > (size_t)width)
            width = (int)strlen(p->steps[i].name);
    printf("pipeline %s (%zu steps, in the order they can run)\n", p->name,
           p->n_steps);
    for (size_t i = 0; i < p->n_steps; i++) {
        const kiln_step *s = &p->steps[p->topo[i]];
        printf("  %-*s %-9s", width, s->name, kiln_step_kind_name(s->kind));
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

static int exec_dag(void *opts)
{
    const dag_opts *o = opts;
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    int rc;

    rc = kiln_dsl_load_file(&p, o->file, &diag);
    if (rc != 0) {
        kiln_diag_print(&diag);
        kiln_diag_dispose(&diag);
        return rc == KILN_EINVAL ? KILN_EXIT_USAGE : KILN_EXIT_SYSTEM;
    }
    if (strcmp(o->format, "dot") == 0)
        print_dot(p);
    else
        print_text(p);
    kiln_pipeline_free(p);
    return KILN_EXIT_OK;
}

const kiln_cmd kiln_cmd_dag = {
    .name = "dag",
    .summary = "Print a pipeline's steps in dependency order, or as "
               "Graphviz.",
    .opts = options,
    .opts_size = sizeof(dag_opts),
    .exec = exec_dag,
};
