/* test-expr.c: gate expressions: parsing, errors, evaluation. */
#include <stdlib.h>

#include "kiln_test.h"
#include "dsl/expr.h"

static bool lookup(double *out, const kiln_expr *ref, void *data)
{
    (void)data;
    if (ref->kind == KILN_EXPR_PARAM && strcmp(ref->key, "min") == 0) {
        *out = 0.5;
        return true;
    }
    if (ref->kind == KILN_EXPR_METRIC && strcmp(ref->step, "ev") == 0 &&
        strcmp(ref->key, "acc") == 0) {
        *out = 0.8;
        return true;
    }
    if (ref->kind == KILN_EXPR_METRIC && strcmp(ref->step, "ev") == 0 &&
        strcmp(ref->key, "a.b-c") == 0) {
        *out = 2;
        return true;
    }
    return false;
}

static int eval(const char *text, bool *out)
{
    kiln_arena *a = kiln_arena_new();
    kiln_expr *e;
    kiln_err err = KILN_ERR_INIT;
    size_t off;
    int rc = kiln_expr_parse(&e, a, text, &off, &err);
    if (rc == 0)
        rc = kiln_expr_eval(out, e, lookup, NULL, NULL, &err);
    kiln_arena_free(a);
    return rc;
}

static void test_eval(void)
{
    static const struct { const char *text; bool want; } cases[] = {
        {"metrics.ev.acc >= 0.8", true},
        {"metrics.ev.acc > 0.8", false},
        {"metrics.ev.acc < 1 && metrics.ev.acc > params.min", true},
        {"metrics.ev.acc < 0.1 || params.min == 0.5", true},
        {"!(metrics.ev.acc != 0.8)", true},
        {"!!(1 <= 2)", true},
        {"metrics.ev.a.b-c == 2", true},
        {"-1 < -0.5 && 1e3 > 999", true},
        {"(1 < 2 || 2 < 1) && !(3 >= 4)", true},
        {"1 == 2 || 2 == 3 || 3 == 3", true},
        {"1 == 1 && 2 == 2 && 3 != 3", false},
        /* Arithmetic: "no worse than production minus 0.02". */
        {"metrics.ev.acc >= params.min + 0.3", true},
        {"metrics.ev.acc >= params.min + 0.31", false},
        {"metrics.ev.acc - 0.02 > 0.77", true},
        {"1 + 2 * 3 == 7", true},
        {"(1 + 2) * 3 == 9", true},
        {"(1 + 2) * 3 == 9 && (2 < 3)", true},
        {"((1 + 2)) * (3) == 9", true},
        {"10 / 4 == 2.5 && 7 - 2 - 1 == 4 && 8 / 2 / 2 == 2", true},
        {"-metrics.ev.acc == -0.8 && -(1 + 1) == -2", true},
        {"metrics.ev.acc * 2 > params.min * 3", true},
        {"!(metrics.ev.acc * 10 < 8)", true},
        {"(metrics.ev.acc > 0.5) && metrics.ev.acc + 1 < 2", true},
    };
    for (size_t i = 0; i < KILN_ARRAY_SIZE(cases); i++) {
        bool got = !cases[i].want;
        if (eval(cases[i].text, &got) != 0 || got != cases[i].want)
            fprintf(stderr, "case: %s\n", cases[i].text);
        ASSERT(got == cases[i].want);
    }
}

static void test_errors(void)
{
    static const struct { const char *text, *msg; size_t off; } cases[] = {
        {"", "expected a value, got the end of the expression", 0},
        {"metrics.ev.acc", "expected a comparison (<, <=, >, >=, ==, !=) "
                           "after the value", 14},
        {"metrics.ev.acc = 1", "expected a comparison (<, <=, >, >=, ==, "
                               "!=) after the value", 15},
        {"1 < 2 & 2 < 3", "unexpected \"&\" (use ==, && or ||)", 6},
        {"(1 < 2", "expected \")\"", 6},
        {"metrics.ev", "expected \"metrics.STEP.KEY\"", 10},
        {"metrics..x > 1", "expected a step name after \"metrics.\"", 8},
        {"params. > 1", "expected a parameter name after \"params.\"", 7},
        {"foo > 1", "expected a number, metrics.STEP.KEY or params.NAME", 0},
        {"1 < 2 3", "unexpected \"3\" after the expression", 6},
        {"1x < 2", "expected a number", 0},
        {"1 + < 2", "expected a number, metrics.STEP.KEY or params.NAME", 4},
        {"(1 + 2 > 3", "expected \")\"", 10},
        {"1 * 2", "expected a comparison (<, <=, >, >=, ==, !=) after the "
                  "value", 5},
    };
    for (size_t i = 0; i < KILN_ARRAY_SIZE(cases); i++) {
        kiln_arena *a = kiln_arena_new();
        kiln_expr *e;
        kiln_err err = KILN_ERR_INIT;
        size_t off = 99;
        ASSERT_EQ_INT(kiln_expr_parse(&e, a, cases[i].text, &off, &err),
                      KILN_EINVAL);
        ASSERT_STREQ(err.msg, cases[i].msg);
        if (off != cases[i].off)
            fprintf(stderr, "offset of \"%s\"\n", cases[i].text);
        ASSERT_EQ_INT(off, cases[i].off);
        kiln_arena_free(a);
    }
}

/* Each value is told once in the trace, however often it is read; a
 * division by zero is an error, not a silent infinity. */
static void test_trace_and_arithmetic_errors(void)
{
    kiln_arena *a = kiln_arena_new();
    kiln_buf trace = KILN_BUF_INIT;
    kiln_err err = KILN_ERR_INIT;
    kiln_expr *e;
    size_t off;
    bool out;
    ASSERT_EQ_INT(kiln_expr_parse(&e, a, "metrics.ev.acc > params.min && "
                                  "metrics.ev.acc - params.min < 1 && "
                                  "metrics.ev.acc < 2", &off, &err), 0);
    ASSERT_EQ_INT(kiln_expr_eval(&out, e, lookup, NULL, &trace, &err), 0);
    ASSERT(out);
    ASSERT_STREQ(kiln_buf_cstr(&trace), "metrics.ev.acc = 0.8, params.min = "
                 "0.5");
    ASSERT_EQ_INT(kiln_expr_parse(&e, a, "metrics.ev.acc / (params.min - "
                                  "0.5) > 1", &off, &err), 0);
    ASSERT_EQ_INT(kiln_expr_eval(&out, e, lookup, NULL, NULL, &err),
                  KILN_EINVAL);
    ASSERT_STREQ(err.msg, "division by zero (0.8 / 0)");
    kiln_buf_dispose(&trace);
    kiln_arena_free(a);
}

static void test_missing_and_limits(void)
{
    kiln_buf deep = KILN_BUF_INIT;
    bool out;
    ASSERT_EQ_INT(eval("metrics.ev.nope > 1", &out), KILN_ENOTFOUND);
    ASSERT_EQ_INT(eval("params.nope > 1", &out), KILN_ENOTFOUND);
    for (int i = 0; i < 100; i++)
        kiln_buf_puts(&deep, "(");
    kiln_buf_puts(&deep, "1 < 2");
    for (int i = 0; i < 100; i++)
        kiln_buf_puts(&deep, ")");
    ASSERT_EQ_INT(eval(kiln_buf_cstr(&deep), &out), KILN_EINVAL);
    kiln_buf_clear(&deep);
    for (int i = 0; i < 2000; i++)
        kiln_buf_puts(&deep, "1 < 2 && ");
    kiln_buf_puts(&deep, "1 < 2");
    ASSERT_EQ_INT(eval(kiln_buf_cstr(&deep), &out), KILN_EINVAL);
    kiln_buf_dispose(&deep);
}

int main(void)
{
    RUN_TEST(test_eval);
    RUN_TEST(test_errors);
    RUN_TEST(test_trace_and_arithmetic_errors);
    RUN_TEST(test_missing_and_limits);
    return 0;
}
