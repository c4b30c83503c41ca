/*
 * test-dsl-graph.c: needs resolution, topological order and cycles.
 *
 * Pipelines are built in memory from a compact spec, "name:need,need;..."
 * and loaded with kiln_dsl_load_buffer().
 */
#include "dsl/dsl.h"
#include "kiln_test.h"

#include <stdlib.h>
#include <string.h>

/* "a;b:a;c:a,b" -> YAML with steps a, b (needs a), c (needs a and b). */
static char *yaml_of(const char *spec)
{
    kiln_buf b = KILN_BUF_INIT;
    char *copy = kiln_strdup(spec), *save = NULL, *item;

    kiln_buf_puts(&b, "pipeline: g\nsteps:\n");
    for (item = strtok_r(copy, ";", &save); item;
         item = strtok_r(NULL, ";", &save)) {
        char *colon = strchr(item, ':');
        if (colon)
            *colon = '\0';
        kiln_buf_printf(&b, "  %s:\n    run: echo %s\n", item, item);
        if (colon)
            kiln_buf_printf(&b, "    needs: [%s]\n", colon + 1);
    }
    free(copy);
    return kiln_buf_detach(&b);
}

/* Load spec; expect success and the step names in topo order. */
static void order_is(const char *spec, const char *want)
{
    char *yaml = yaml_of(spec);
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    kiln_buf got = KILN_BUF_INIT;
    size_t i;

    if (kiln_dsl_load_buffer(&p, "g.yaml", "/", yaml, strlen(yaml),
                             &diag) != 0) {
        kiln_diag_print(&diag);
        ASSERT(!"load failed");
    }
    for (i = 0; i < p->n_steps; i++)
        kiln_buf_printf(&got, "%s%s", i ? " " : "",
                        p->steps[p->topo[i]].name);
    ASSERT_STREQ(kiln_buf_cstr(&got), want);
    /* need_idx agrees with needs, and topo puts needs first. */
    for (i = 0; i < p->n_steps; i++) {
        const kiln_step *s = &p->steps[p->topo[i]];
        size_t j, k;
        for (j = 0; j < s->needs.n; j++) {
            ASSERT_STREQ(p->steps[s->need_idx[j]].name, s->needs.items[j]);
            for (k = 0; p->topo[k] != s->need_idx[j]; k++)
                ;
            ASSERT_LT_INT(k, i);
        }
    }
    kiln_buf_dispose(&got);
    kiln_pipeline_free(p);
    free(yaml);
}

/* Load spec; expect failure with exactly want as the printed errors. */
static void errors_are(const char *spec, const char *want)
{
    char *yaml = yaml_of(spec);
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    kiln_buf got = KILN_BUF_INIT;

    ASSERT_EQ_INT(kiln_dsl_load_buffer(&p, "g.yaml", "/", yaml, strlen(yaml),
                                       &diag), KILN_EINVAL);
    ASSERT_NULL(p);
    kiln_diag_format(&diag, &got);
    ASSERT_STREQ(kiln_buf_cstr(&got), want);
    kiln_buf_dispose(&got);
    kiln_diag_dispose(&diag);
    free(yaml);
}

static void test_order(void)
{
    order_is("a", "a");
    order_is("a;b;c", "a b c");
    /* Diamond, listed in order and backwards. */
    order_is("a;b:a;c:a;d:b,c", "a b c d");
    order_is("d:b,c;c:a;b:a;a", "a c b d");
    /* A chain written backwards. */
    order_is("d:c;c:b;b:a;a", "a b c d");
    /* Independent branches interleave by file order. */
    order_is("x1;y1;x2:x1;y2:y1;x3:x2;y3:y2", "x1 y1 x2 y2 x3 y3");
    /* Ties go to the earlier step in the file, even when it became ready
     * later. */
    order_is("late:root;root;early", "root late early");
    order_is("b2:a;a;b1:a", "a b2 b1");
    order_is("z:y;y;x", "y z x");
}

static void test_needs_errors(void)
{
    errors_are("a:a",
               "g.yaml:5:13: error: step \"a\" needs itself\n");
    errors_are("a;b:a,a",
               "g.yaml:7:15: error: step \"b\" needs \"a\" twice\n");
    errors_are("train;eval:trian,zzz",
               "g.yaml:7:13: error: step \"eval\" needs unknown step "
               "\"trian\" (did you mean \"train\"?)\n"
               "g.yaml:7:19: error: step \"eval\" needs unknown step "
               "\"zzz\"\n");
}

static void test_cycles(void)
{
    errors_are("a:b;b:a",
               "g.yaml:3:3: error: dependency cycle: a -> b -> a\n");
    /* One error per cycle, at its first step in the file; steps that only
     * depend on a cycle are not blamed. */
    errors_are("x;a:c;b:a;c:b;d:a;e:f,x;f:e",
               "g.yaml:5:3: error: dependency cycle: a -> c -> b -> a\n"
               "g.yaml:17:3: error: dependency cycle: e -> f -> e\n");
    /* Two cycles sharing steps form one component: one error, showing
     * the shortest cycle through the first step. */
    errors_are("a:b,c;b:a;c:b",
               "g.yaml:3:3: error: dependency cycle: a -> b -> a\n");
    /* A self-need is not a cycle error as well. */
    errors_are("a:a,b;b:a",
               "g.yaml:3:3: error: dependency cycle: a -> b -> a\n"
               "g.yaml:5:13: error: step \"a\" needs itself\n");
}

/* A long cycle is shown cut. */
static void test_long_cycle(void)
{
    kiln_buf spec = KILN_BUF_INIT;
    int i;
    for (i = 0; i < 20; i++)
        kiln_buf_printf(&spec, "%ss%02d:s%02d", i ? ";" : "", i,
                        (i + 1) % 20);
    errors_are(kiln_buf_cstr(&spec),
               "g.yaml:3:3: error: dependency cycle: s00 -> s01 -> s02 -> "
               "s03 -> s04 -> s05 -> ... (20 steps) -> s19 -> s00\n");
    kiln_buf_dispose(&spec);
}

/* 100,000 steps in a chain: no recursion, no quadratic work. */
static void test_deep_chain(void)
{
    kiln_buf y = KILN_BUF_INIT;
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    kiln_buf got = KILN_BUF_INIT;
    int i, n = 100000;

    kiln_buf_puts(&y, "pipeline: chain\nsteps:\n");
    for (i = n - 1; i >= 0; i--) {
        kiln_buf_printf(&y, "  s%d: {run: x", i);
        if (i > 0)
            kiln_buf_printf(&y, ", needs: [s%d]", i - 1);
        kiln_buf_puts(&y, "}\n");
    }
    ASSERT_EQ_INT(kiln_dsl_load_buffer(&p, "chain.yaml", "/", y.ptr, y.len,
                                       &diag), 0);
    for (i = 0; i < n; i++)
        ASSERT_EQ_INT(p->topo[i], n - 1 - i);
    kiln_pipeline_free(p);

    /* The same steps in a ring: one cycle, 100,000 steps long. */
    kiln_buf_clear(&y);
    kiln_buf_puts(&y, "pipeline: ring\nsteps:\n");
    for (i = 0; i < n; i++)
        kiln_buf_printf(&y, "  s%d: {run: x, needs: [s%d]}\n", i,
                        (i + 1) % n);
    ASSERT_EQ_INT(kiln_dsl_load_buffer(&p, "ring.yaml", "/", y.ptr, y.len,
                                       &diag), KILN_EINVAL);
    kiln_diag_format(&diag, &got);
    ASSERT_STREQ(kiln_buf_cstr(&got),
                 "ring.yaml:3:3: error: dependency cycle: s0 -> s1 -> s2 -> "
                 "s3 -> s4 -> s5 -> ... (100000 steps) -> s99999 -> s0\n");
    kiln_buf_dispose(&got);
    kiln_diag_dispose(&diag);
    kiln_buf_dispose(&y);
}

int main(void)
{
    RUN_TEST(test_order);
    RUN_TEST(test_needs_errors);
    RUN_TEST(test_cycles);
    RUN_TEST(test_long_cycle);
    RUN_TEST(test_deep_chain);
    return 0;
}
