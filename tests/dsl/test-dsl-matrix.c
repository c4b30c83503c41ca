/*
 * test-dsl-matrix.c: matrix: expanded into items: the cross product and
 * its order, exclude: and include:, ranges and their formatting, limits,
 * placeholders in outputs, needs of a matrix step. Error texts are pinned
 * by the golden cases bad/matrix-*.yaml.
 */
#include "dsl/dsl.h"
#include "kiln_test.h"

#include <stdlib.h>
#include <string.h>

/* Load a pipeline with params lr, depth, opt and seed, and steps as given
 * (YAML indented by two). Returns NULL when it does not load; its first
 * error then goes to *first (when not NULL). */
static kiln_pipeline *load(const char *steps, char *first, size_t size)
{
    kiln_buf b = KILN_BUF_INIT;
    kiln_diag diag = KILN_DIAG_INIT;
    kiln_pipeline *p = NULL;

    kiln_buf_printf(&b, "pipeline: sweep\nparams: {lr: 0.1, depth: 3, "
                    "opt: sgd, seed: 1}\nsteps:\n%s", steps);
    if (kiln_dsl_load_buffer(&p, "m.yaml", "/", kiln_buf_cstr(&b), b.len,
                             &diag) != 0 && first)
    {
        const char *m = diag.n ? diag.errs[0].msg : "";
        size_t n = strlen(m) < size - 1 ? strlen(m) : size - 1;
        memcpy(first, m, n);
        first[n] = '\0';
    }
    kiln_diag_dispose(&diag);
    kiln_buf_dispose(&b);
    return p;
}

/* The names of p's steps, joined by spaces, in file order. */
static const char *names(const kiln_pipeline *p, kiln_buf *b)
{
    kiln_buf_clear(b);
    for (size_t i = 0; i < p->n_steps; i++)
        kiln_buf_printf(b, "%s%s", i ? " " : "", p->steps[i].name);
    return kiln_buf_cstr(b);
}

static void test_cross_product(void)
{
    kiln_buf b = KILN_BUF_INIT;
    kiln_pipeline *p = load(
        "  prep: {run: echo}\n"
        "  train:\n"
        "    needs: [prep]\n"
        "    run: echo\n"
        "    params: [seed]\n"
        "    outputs: [\"m/{lr}-{depth}.pkl\"]\n"
        "    matrix: {lr: [0.01, 0.1, 0.3], depth: [2, 3], "
        "max_parallel: 2}\n"
        "  pick: {needs: [train], run: echo}\n", NULL, 0);
    const kiln_step *it;
    ASSERT_NOT_NULL(p);
    ASSERT_STREQ(names(p, &b),
                 "prep train[lr=0.01,depth=2] train[lr=0.01,depth=3] "
                 "train[lr=0.1,depth=2] train[lr=0.1,depth=3] "
                 "train[lr=0.3,depth=2] train[lr=0.3,depth=3] pick");
    ASSERT_EQ_INT(p->n_matrices, 1);
    ASSERT_EQ_INT(p->matrices[0].first, 1);
    ASSERT_EQ_INT(p->matrices[0].n_items, 6);
    ASSERT_EQ_INT(p->matrices[0].max_parallel, 2);
    ASSERT(!p->matrices[0].keep_going);
    it = &p->steps[4];
    ASSERT(it->matrix == &p->matrices[0]);
    ASSERT_EQ_INT(it->n_item_params, 2);
    ASSERT_STREQ(it->item_params[0].key, "lr");
    ASSERT_STREQ(it->item_params[0].value, "0.1");
    ASSERT_STREQ(it->item_params[1].value, "3");
    ASSERT_STREQ(it->outputs.items[0], "m/0.1-3.pkl");
    /* params: gets the matrix's params. */
    ASSERT_EQ_INT(it->params.n, 3);
    ASSERT_STREQ(it->params.items[1], "lr");
    /* pick needs every item, in order. */
    ASSERT_EQ_INT(p->steps[7].needs.n, 6);
    ASSERT_STREQ(p->steps[p->steps[7].need_idx[5]].name,
                 "train[lr=0.3,depth=3]");
    ASSERT(p->steps[0].matrix == NULL);
    kiln_pipeline_free(p);
    kiln_buf_dispose(&b);
}

static void test_include_exclude(void)
{
    kiln_buf b = KILN_BUF_INIT;
    kiln_pipeline *p = load(
        "  train:\n"
        "    run: echo\n"
        "    matrix:\n"
        "      lr: [0.01, 0.1]\n"
        "      depth: [2, 3]\n"
        "      exclude: [{lr: 0.1, depth: 3}]\n"
        "      include:\n"
        "        - {lr: 0.01, opt: adam}\n"   /* adds a key to two items */
        "        - {lr: 0.1, depth: 3, opt: adam}\n" /* excluded: new */
        "        - {lr: 0.5}\n"                /* a combination of its own */
        "      on_failure: continue\n", NULL, 0);
    ASSERT_NOT_NULL(p);
    ASSERT_STREQ(names(p, &b),
                 "train[lr=0.01,depth=2,opt=adam] "
                 "train[lr=0.01,depth=3,opt=adam] train[lr=0.1,depth=2] "
                 "train[lr=0.1,depth=3,opt=adam] train[lr=0.5]");
    ASSERT(p->matrices[0].keep_going);
    ASSERT_EQ_INT(p->steps[4].n_item_params, 1);
    kiln_pipeline_free(p);
    kiln_buf_dispose(&b);
}

static void test_ranges(void)
{
    kiln_buf b = KILN_BUF_INIT;
    kiln_pipeline *p = load(
        "  train:\n"
        "    run: echo\n"
        "    matrix:\n"
        "      lr: {from: 0.1, to: 0.3, step: 0.1}\n"  /* 0.3 included */
        "      depth: {from: -1, to: 1.5, step: 0.75}\n", NULL, 0);
    ASSERT_NOT_NULL(p);
    ASSERT_EQ_INT(p->n_steps, 12);
    ASSERT_STREQ(p->steps[0].name, "train[lr=0.1,depth=-1]");
    ASSERT_STREQ(p->steps[1].name, "train[lr=0.1,depth=-0.25]");
    ASSERT_STREQ(p->steps[2].name, "train[lr=0.1,depth=0.5]");
    ASSERT_STREQ(p->steps[3].name, "train[lr=0.1,depth=1.25]");
    ASSERT_STREQ(p->steps[8].name, "train[lr=0.3,depth=-1]");
    kiln_pipeline_free(p);
    p = load("  train:\n    run: echo\n    matrix:\n"
             "      seed: {from: 1, to: 10, step: 3}\n"
             "      lr: {from: 1e-3, to: 3e-3, step: 1e-3}\n", NULL, 0);
    ASSERT_NOT_NULL(p);
    ASSERT_STREQ(names(p, &b),
                 "train[seed=1,lr=0.001] train[seed=1,lr=0.002] "
                 "train[seed=1,lr=0.003] train[seed=4,lr=0.001] "
                 "train[seed=4,lr=0.002] train[seed=4,lr=0.003] "
                 "train[seed=7,lr=0.001] train[seed=7,lr=0.002] "
                 "train[seed=7,lr=0.003] train[seed=10,lr=0.001] "
                 "train[seed=10,lr=0.002] train[seed=10,lr=0.003]");
    kiln_pipeline_free(p);
    kiln_buf_dispose(&b);
}

static void test_limits(void)
{
    char err[256] = "";
    kiln_pipeline *p = load("  train:\n    run: echo\n    matrix:\n"
                            "      seed: {from: 1, to: 10001, step: 1}\n",
                            err, sizeof(err));
    ASSERT_NULL(p);
    ASSERT(strstr(err, "10001 values, more than the 10000 items") != NULL);
    p = load("  train:\n    run: echo\n    matrix:\n"
             "      seed: {from: 1, to: 101, step: 1}\n"
             "      depth: {from: 1, to: 100, step: 1}\n", err, sizeof(err));
    ASSERT_NULL(p);
    ASSERT(strstr(err, "has 10100 items, more than 10000") != NULL);
    p = load("  train:\n    run: echo\n    matrix:\n"
             "      seed: {from: 1, to: 101, step: 1}\n"
             "      depth: {from: 1, to: 100, step: 1}\n"
             "      max_items: 10100\n", err, sizeof(err));
    ASSERT_NOT_NULL(p);
    ASSERT_EQ_INT(p->n_steps, 10100);
    kiln_pipeline_free(p);
    p = load("  train:\n    run: echo\n    matrix:\n"
             "      seed: {from: 1, to: 1000, step: 1}\n"
             "      max_items: 1000000\n", err, sizeof(err));
    ASSERT_NULL(p);
    ASSERT_STREQ(err, "matrix: max_items: expected an integer from 1 to "
                 "100000, got \"1000000\"");
    p = load("  a:\n    run: echo\n    matrix:\n"
             "      seed: {from: 1, to: 100000, step: 1}\n"
             "      max_items: 100000\n"
             "  b:\n    run: echo\n    matrix:\n"
             "      seed: {from: 1, to: 100000, step: 1}\n"
             "      max_items: 100000\n"
             "  c: {run: echo}\n", err, sizeof(err));
    ASSERT_NULL(p);
    ASSERT_STREQ(err, "the pipeline has 200001 steps once its matrices are "
                 "expanded, more than 200000");
}

static void test_collisions(void)
{
    char err[256] = "";
    kiln_pipeline *p = load("  train:\n    run: echo\n"
                            "    outputs: [\"m/{lr}.pkl\", m/fixed.txt]\n"
                            "    matrix: {lr: [1, 2]}\n", err, sizeof(err));
    ASSERT_NULL(p);
    ASSERT_STREQ(err, "items \"train[lr=1]\" and \"train[lr=2]\" of step "
                 "\"train\" both write \"m/fixed.txt\" (put the matrix's "
                 "params in the path: {param})");
    /* include: keys count as the matrix's, and the pipeline's value
     * stands in for an item without the key. */
    p = load("  train:\n    run: echo\n"
             "    outputs: [\"m/{lr}-{opt}.pkl\"]\n"
             "    matrix: {lr: [1, 2], include: [{lr: 1, opt: adam}]}\n",
             err, sizeof(err));
    ASSERT_NOT_NULL(p);
    ASSERT_STREQ(p->steps[0].outputs.items[0], "m/1-adam.pkl");
    ASSERT_STREQ(p->steps[1].outputs.items[0], "m/2-sgd.pkl");
    kiln_pipeline_free(p);
    /* register: path: is one of the item's outputs. */
    p = load("  train:\n    run: echo\n    outputs: [\"m/{lr}.pkl\"]\n"
             "    register: {model: m, path: \"m/{lr}.pkl\"}\n"
             "    matrix: {lr: [1, 2]}\n", err, sizeof(err));
    ASSERT_NOT_NULL(p);
    ASSERT_STREQ(p->steps[1].reg->register_path, "m/2.pkl");
    kiln_pipeline_free(p);
    /* Steps reading an item's output need it (the implied DAG). */
    p = load("  train:\n    run: echo\n    outputs: [\"m/{lr}.pkl\"]\n"
             "    matrix: {lr: [1, 2]}\n"
             "  use: {run: echo, inputs: [m/2.pkl]}\n", err, sizeof(err));
    ASSERT_NULL(p);
    ASSERT(strstr(err, "which step \"train[lr=2]\" (line 4) writes") != NULL);
}

int main(void)
{
    RUN_TEST(test_cross_product);
    RUN_TEST(test_include_exclude);
    RUN_TEST(test_ranges);
    RUN_TEST(test_limits);
    RUN_TEST(test_collisions);
    return 0;
}
