/*
 * test-dsl-big.c: large and hostile inputs, generated in memory.
 *
 * A 10 MB pipeline must load in well under a few seconds; 10 MB of garbage
 * must fail cleanly; files over 64 MiB are refused; alias and merge-key
 * bombs hit a limit instead of eating memory. Each case is timed; set
 * KILN_TEST_NO_TIMING=1 to skip the time checks (valgrind, slow machines).
 */
#include "dsl/dsl.h"
#include "kiln_test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define TEN_MB (10u << 20)

/* Sanitizers slow the loader (not libyaml) down a few times. */
#if defined(__SANITIZE_ADDRESS__)
#define MAX_SECONDS 15.0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MAX_SECONDS 15.0
#endif
#endif
#ifndef MAX_SECONDS
#define MAX_SECONDS 5.0
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Load data, check the time, and return the status. The caller gets the
 * pipeline (or NULL) in *out and the errors printed into msgs. */
static int timed_load(kiln_pipeline **out, const char *what,
                      const char *data, size_t len, kiln_buf *msgs)
{
    kiln_diag diag = KILN_DIAG_INIT;
    const char *env = getenv("KILN_TEST_NO_TIMING");
    double t0 = now(), dt;
    int rc = kiln_dsl_load_buffer(out, what, "/", data, len, &diag);

    dt = now() - t0;
    fprintf(stderr, "   %s: %.1f MB in %.3f s -> %d (%zu errors)\n", what,
            (double)len / (1 << 20), dt, rc, diag.n + diag.dropped);
    if (!(env && *env))
        ASSERT(dt < MAX_SECONDS);
    kiln_diag_format(&diag, msgs);
    kiln_diag_dispose(&diag);
    return rc;
}

static unsigned rng_state = 12345;

static unsigned rng(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

/* About 10 MB of a valid pipeline: a long chain of steps. */
static void test_many_steps(void)
{
    kiln_buf y = KILN_BUF_INIT;
    kiln_buf msgs = KILN_BUF_INIT;
    kiln_pipeline *p = NULL;
    size_t n = 0, i;

    kiln_buf_puts(&y, "pipeline: big\n"
                      "x-common: &common {retries: 2, timeout: 1h}\n"
                      "steps:\n");
    while (y.len < TEN_MB) {
        kiln_buf_printf(&y, "  step-%06zu:\n    <<: *common\n"
                            "    kind: train\n"
                            "    run: python3 step.py --index %zu\n",
                        n, n);
        /* Each reads what the one before writes (the implied DAG is
         * checked too), and a source no step writes. */
        if (n)
            kiln_buf_printf(&y, "    needs: [step-%06zu]\n"
                                "    inputs: [out/%zu.csv, src/%zu.csv]\n",
                            n - 1, n - 1, n);
        kiln_buf_printf(&y, "    outputs: [out/%zu.csv]\n"
                            "    env: {SEED: \"%zu\"}\n", n, n);
        n++;
    }
    ASSERT_EQ_INT(timed_load(&p, "many-steps.yaml", y.ptr, y.len, &msgs),
                  0);
    ASSERT_EQ_INT(p->n_steps, n);
    for (i = 0; i < n; i++)
        ASSERT_EQ_INT(p->topo[i], i);
    ASSERT_EQ_INT(p->steps[n - 1].retries, 2);
    ASSERT_EQ_INT(p->steps[n - 1].need_idx[0], n - 2);
    kiln_pipeline_free(p);
    kiln_buf_dispose(&msgs);
    kiln_buf_dispose(&y);
}

/* One 10 MB scalar, plain and as a block. */
static void test_long_scalars(void)
{
    kiln_buf y = KILN_BUF_INIT;
    kiln_buf msgs = KILN_BUF_INIT;
    kiln_pipeline *p = NULL;
    size_t i;

    kiln_buf_puts(&y, "pipeline: long\ndescription: ");
    for (i = 0; i < TEN_MB / 8; i++)
        kiln_buf_puts(&y, "la la la");
    kiln_buf_puts(&y, "\nsteps:\n  a:\n    run: |\n");
    for (i = 0; i < TEN_MB / 32; i++)
        kiln_buf_puts(&y, "      echo some long command\n");
    ASSERT_EQ_INT(timed_load(&p, "long.yaml", y.ptr, y.len, &msgs), 0);
    ASSERT_EQ_INT(strlen(p->description), TEN_MB);
    ASSERT_EQ_INT(strlen(p->steps[0].run), TEN_MB / 32 * 23);
    kiln_pipeline_free(p);
    kiln_buf_dispose(&msgs);
    kiln_buf_dispose(&y);
}

/* Millions of tiny nodes (about 35 bytes of memory each), under an
 * ignored x- key. */
static void test_many_nodes(void)
{
    kiln_buf y = KILN_BUF_INIT;
    kiln_buf msgs = KILN_BUF_INIT;
    kiln_pipeline *p = NULL;
    struct rusage ru;

    kiln_buf_puts(&y, "pipeline: nodes\nsteps: {a: {run: x}}\nx-many:\n");
    while (y.len < TEN_MB)
        kiln_buf_puts(&y, "- a\n- b\n- c\n- d\n");
    ASSERT_EQ_INT(timed_load(&p, "nodes.yaml", y.ptr, y.len, &msgs), 0);
    kiln_pipeline_free(p);
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "   peak RSS so far: %ld MB\n", ru.ru_maxrss / 1024);
    kiln_buf_dispose(&msgs);
    kiln_buf_dispose(&y);
}

/* 10 MB of garbage of several kinds: an error, never a crash. */
static void test_garbage(void)
{
    static const char printable[] = "abc: -[]{},:?*&!|>'\"#%@` \n\t";
    char *data = kiln_malloc(TEN_MB);
    kiln_buf msgs = KILN_BUF_INIT;
    kiln_pipeline *p = NULL;
    size_t i;

    for (i = 0; i < TEN_MB; i++)
        data[i] = (char)(rng() & 0xff);
    ASSERT_EQ_INT(timed_load(&p, "random.yaml", data, TEN_MB, &msgs),
                  KILN_EINVAL);
    ASSERT_NULL(p);
    ASSERT(strstr(kiln_buf_cstr(&msgs), "random.yaml:") != NULL);

    for (i = 0; i < TEN_MB; i++)
        data[i] = printable[rng() % (sizeof(printable) - 1)];
    kiln_buf_clear(&msgs);
    ASSERT_EQ_INT(timed_load(&p, "ascii.yaml", data, TEN_MB, &msgs),
                  KILN_EINVAL);

    memset(data, '[', TEN_MB);
    kiln_buf_clear(&msgs);
    ASSERT_EQ_INT(timed_load(&p, "nested.yaml", data, TEN_MB, &msgs),
                  KILN_EINVAL);
    ASSERT_STREQ(kiln_buf_cstr(&msgs),
                 "nested.yaml:1:257: error: lists and mappings are nested "
                 "more than 256 deep\n");

    memset(data, '\0', TEN_MB);
    kiln_buf_clear(&msgs);
    ASSERT_EQ_INT(timed_load(&p, "zeros.yaml", data, TEN_MB, &msgs),
                  KILN_EINVAL);

    /* Valid YAML, wrong in every line: the cap keeps the output short. */
    kiln_buf_dispose(&msgs);
    {
        kiln_buf y = KILN_BUF_INIT;
        kiln_buf_puts(&y, "pipeline: errs\nsteps:\n  a:\n    run: x\n");
        for (i = 0; y.len < TEN_MB; i++)
            kiln_buf_printf(&y, "    unknown-key-%zu: %zu\n", i, i);
        ASSERT_EQ_INT(timed_load(&p, "errs.yaml", y.ptr, y.len, &msgs),
                      KILN_EINVAL);
        ASSERT(strstr(kiln_buf_cstr(&msgs), "more errors not shown\n"));
        kiln_buf_dispose(&y);
    }
    kiln_buf_dispose(&msgs);
    free(data);
}

/* Typos against 100,000 step names: suggestions stay cheap. */
static void test_many_unknown_needs(void)
{
    kiln_buf y = KILN_BUF_INIT;
    kiln_buf msgs = KILN_BUF_INIT;
    kiln_pipeline *p = NULL;
    size_t i;

    kiln_buf_puts(&y, "pipeline: typos\nsteps:\n");
    for (i = 0; i < 100000; i++)
        kiln_buf_printf(&y, "  s%06zu: {run: x, needs: [t%06zu]}\n", i, i);
    ASSERT_EQ_INT(timed_load(&p, "typos.yaml", y.ptr, y.len, &msgs),
                  KILN_EINVAL);
    ASSERT(strstr(kiln_buf_cstr(&msgs),
                  "typos.yaml:3:29: error: step \"s000000\" needs unknown "
                  "step \"t000000\" (did you mean \"s000000\"?)\n") != NULL);
    kiln_buf_dispose(&msgs);
    kiln_buf_dispose(&y);
}

static void test_too_large(void)
{
    size_t len = ((size_t)64 << 20) + 1;
    char *data = kiln_calloc(1, len);
    kiln_buf msgs = KILN_BUF_INIT;
    kiln_pipeline *p = NULL;

    memcpy(data, "pipeline: x\n", 12);
    ASSERT_EQ_INT(timed_load(&p, "huge.yaml", data, len, &msgs),
                  KILN_EINVAL);
    ASSERT_STREQ(kiln_buf_cstr(&msgs),
                 "huge.yaml: error: the file is larger than 64 MiB\n");
    free(data);
    kiln_buf_dispose(&msgs);
}

/* The same through kiln_dsl_load_file(), with a sparse file. */
static void test_too_large_file(void)
{
    char path[] = "/tmp/kiln-test-dsl-XXXXXX";
    kiln_diag diag = KILN_DIAG_INIT;
    kiln_buf msgs = KILN_BUF_INIT;
    kiln_pipeline *p = NULL;
    int fd = mkstemp(path);

    ASSERT(fd >= 0);
    ASSERT_EQ_INT(ftruncate(fd, ((off_t)64 << 20) + 1), 0);
    close(fd);
    ASSERT_EQ_INT(kiln_dsl_load_file(&p, path, &diag), KILN_EINVAL);
    ASSERT_NULL(p);
    kiln_diag_format(&diag, &msgs);
    ASSERT(strstr(kiln_buf_cstr(&msgs),
                  ": error: the file is larger than 64 MiB\n") != NULL);
    ASSERT_EQ_INT(unlink(path), 0);
    kiln_buf_dispose(&msgs);
    kiln_diag_dispose(&diag);
}

/* Steps that all alias one step with a long list: validation would copy
 * the list for every step. The visit budget stops it. */
static void test_alias_bomb(void)
{
    kiln_buf y = KILN_BUF_INIT;
    kiln_buf msgs = KILN_BUF_INIT;
    kiln_pipeline *p = NULL;
    size_t i;

    kiln_buf_puts(&y, "pipeline: bomb\nsteps:\n  s0: &s\n    run: x\n"
                      "    inputs: [f");
    for (i = 0; i < 20000; i++)
        kiln_buf_puts(&y, ",f");
    kiln_buf_puts(&y, "]\n");
    for (i = 1; i < 20000; i++)
        kiln_buf_printf(&y, "  s%zu: *s\n", i);
    ASSERT_EQ_INT(timed_load(&p, "bomb.yaml", y.ptr, y.len, &msgs),
                  KILN_EINVAL);
    ASSERT(strstr(kiln_buf_cstr(&msgs),
                  "error: the pipeline is too large once aliases are "
                  "expanded") != NULL);
    kiln_buf_dispose(&msgs);
    kiln_buf_dispose(&y);
}

/* Each mapping merges the previous one and adds a key: merged keys grow
 * quadratically. The merge budget stops it. */
static void test_merge_bomb(void)
{
    kiln_buf y = KILN_BUF_INIT;
    kiln_buf msgs = KILN_BUF_INIT;
    kiln_pipeline *p = NULL;
    size_t i;

    kiln_buf_puts(&y, "pipeline: merges\nsteps: {a: {run: x}}\n"
                      "x-m0: &m0 {k0: 0}\n");
    for (i = 1; i < 5000; i++)
        kiln_buf_printf(&y, "x-m%zu: &m%zu {<<: [*m%zu, *m%zu], k%zu: 0}\n",
                        i, i, i - 1, i - 1, i);
    ASSERT_EQ_INT(timed_load(&p, "merges.yaml", y.ptr, y.len, &msgs),
                  KILN_EINVAL);
    ASSERT(strstr(kiln_buf_cstr(&msgs), "error: merge keys copy more than "
                  "4000000 keys in all; the file is too large\n") != NULL);
    kiln_buf_dispose(&msgs);
    kiln_buf_dispose(&y);
}

int main(void)
{
    RUN_TEST(test_many_steps);
    RUN_TEST(test_long_scalars);
    RUN_TEST(test_many_nodes);
    RUN_TEST(test_garbage);
    RUN_TEST(test_many_unknown_needs);
    RUN_TEST(test_too_large);
    RUN_TEST(test_too_large_file);
    RUN_TEST(test_alias_bomb);
    RUN_TEST(test_merge_bomb);
    return 0;
}
