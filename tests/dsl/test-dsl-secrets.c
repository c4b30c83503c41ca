/*
 * test-dsl-secrets.c: secrets: in the model.
 *
 * The pipeline's entries and a step's own: the step's replaces the one of
 * the same name, the rest are merged, sorted by name; each kind and its
 * reference as written, and positions. The errors are pinned by
 * bad/secrets.yaml.
 */
#include "dsl/dsl.h"
#include "kiln_test.h"

#include <stdlib.h>
#include <string.h>

static kiln_pipeline *load(const char *yaml)
{
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    if (kiln_dsl_load_buffer(&p, "s.yaml", "/", yaml, strlen(yaml),
                             &diag) != 0) {
        kiln_diag_print(&diag);
        ASSERT(!"load failed");
    }
    kiln_diag_dispose(&diag);
    return p;
}

static const kiln_step *step_of(const kiln_pipeline *p, const char *name)
{
    ssize_t i = kiln_pipeline_find_step(p, name);
    ASSERT_LE_INT(0, i);
    return &p->steps[i];
}

static void test_merge(void)
{
    kiln_pipeline *p = load(
        "pipeline: s\n"                                        /* 1 */
        "secrets:\n"                                           /* 2 */
        "  TOKEN: {env: API_TOKEN}\n"                          /* 3 */
        "  DB: {file: secrets/db}\n"                           /* 4 */
        "steps:\n"                                             /* 5 */
        "  a:\n"                                               /* 6 */
        "    run: \"true\"\n"                                  /* 7 */
        "    secrets:\n"                                       /* 8 */
        "      TOKEN: {command: \"pass show api\"}\n"          /* 9 */
        "      KEY: {file: /run/key}\n"                        /* 10 */
        "  b:\n"                                               /* 11 */
        "    run: \"true\"\n"                                  /* 12 */
        "  c:\n"                                               /* 13 */
        "    run: \"true\"\n"                                  /* 14 */
        "    secrets: {}\n");                                  /* 15 */
    const kiln_step *a = step_of(p, "a"), *b = step_of(p, "b");
    const kiln_step *c = step_of(p, "c");

    ASSERT_EQ_INT(p->n_secrets, 2);
    ASSERT_STREQ(p->secrets[0].name, "DB"); /* sorted */
    ASSERT_STREQ(p->secrets[1].name, "TOKEN");

    ASSERT_EQ_INT(a->n_secrets, 3);
    ASSERT_STREQ(a->secrets[0].name, "DB");
    ASSERT_EQ_INT(a->secrets[0].kind, KILN_SECRET_FILE);
    ASSERT_STREQ(a->secrets[0].ref, "secrets/db");
    ASSERT_EQ_INT(a->secrets[0].pos.line, 4);
    ASSERT_STREQ(a->secrets[1].name, "KEY");
    ASSERT_STREQ(a->secrets[1].ref, "/run/key");
    ASSERT_STREQ(a->secrets[2].name, "TOKEN");
    ASSERT_EQ_INT(a->secrets[2].kind, KILN_SECRET_COMMAND);
    ASSERT_STREQ(a->secrets[2].ref, "pass show api");
    ASSERT_EQ_INT(a->secrets[2].pos.line, 9);
    ASSERT_EQ_INT(a->secrets[2].pos.col, 7);

    ASSERT_EQ_INT(b->n_secrets, 2);
    ASSERT_STREQ(b->secrets[1].name, "TOKEN");
    ASSERT_EQ_INT(b->secrets[1].kind, KILN_SECRET_ENV);
    ASSERT_STREQ(b->secrets[1].ref, "API_TOKEN");
    ASSERT_EQ_INT(c->n_secrets, 2);

    ASSERT_STREQ(kiln_secret_kind_name(KILN_SECRET_ENV), "env");
    ASSERT_STREQ(kiln_secret_kind_name(KILN_SECRET_COMMAND), "command");
    kiln_pipeline_free(p);
}

static void test_step_only(void)
{
    kiln_pipeline *p = load(
        "pipeline: s\n"
        "steps:\n"
        "  a:\n"
        "    run: \"true\"\n"
        "    secrets: {B: {env: X}, A: {env: Y}}\n"
        "  b:\n"
        "    run: \"true\"\n");
    const kiln_step *a = step_of(p, "a"), *b = step_of(p, "b");
    ASSERT_EQ_INT(p->n_secrets, 0);
    ASSERT_EQ_INT(a->n_secrets, 2);
    ASSERT_STREQ(a->secrets[0].name, "A");
    ASSERT_STREQ(a->secrets[0].ref, "Y");
    ASSERT_EQ_INT(b->n_secrets, 0);
    kiln_pipeline_free(p);
}

int main(void)
{
    RUN_TEST(test_merge);
    RUN_TEST(test_step_only);
    return 0;
}
