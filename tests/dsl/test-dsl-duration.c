/* test-dsl-duration.c: kiln_dsl_parse_duration(). */
#include "dsl/dsl.h"
#include "kiln_test.h"

#include <string.h>

static void ok(const char *text, int64_t want)
{
    kiln_err err = KILN_ERR_INIT;
    int64_t ms = -1;
    int rc = kiln_dsl_parse_duration(&ms, text, &err);
    if (rc != 0)
        fprintf(stderr, "\"%s\": %s\n", text, err.msg);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_EQ_INT(ms, want);
}

/* Fails; *out is left alone and msg, when not NULL, is the message. */
static void bad(const char *text, const char *msg)
{
    kiln_err err = KILN_ERR_INIT;
    int64_t ms = 12345;
    ASSERT_EQ_INT(kiln_dsl_parse_duration(&ms, text, &err), KILN_EINVAL);
    ASSERT_EQ_INT(err.code, KILN_EINVAL);
    ASSERT_EQ_INT(ms, 12345);
    if (msg)
        ASSERT_STREQ(err.msg, msg);
}

static void test_valid(void)
{
    ok("10s", 10000);
    ok("5m", 300000);
    ok("2h", 7200000);
    ok("1d", 86400000);
    ok("500ms", 500);
    ok("1h30m", 5400000);
    ok("1m30s", 90000);
    ok("1d2h3m4s5ms", 86400000 + 7200000 + 180000 + 4000 + 5);
    ok("0s", 0);
    ok("0ms", 0);
    ok("007s", 7000);
    ok("9223372036854775807ms", INT64_MAX);
    ok("106751991167d", (int64_t)106751991167 * 86400000);
}

static void test_invalid(void)
{
    bad("10", "invalid duration \"10\": expected a number with a unit "
              "(10s, 5m, 2h, 1d)");
    bad("ten", "invalid duration \"ten\": expected a number with a unit "
               "(10s, 5m, 2h, 1d)");
    bad("", "invalid duration \"\": expected a number with a unit "
            "(10s, 5m, 2h, 1d)");
    bad("5x", "invalid duration \"5x\": unknown unit \"x\" "
              "(use ms, s, m, h or d)");
    bad("10S", "invalid duration \"10S\": unknown unit \"S\" "
               "(use ms, s, m, h or d)");
    bad("1sec", NULL);
    bad("-1s", NULL);
    bad("+1s", NULL);
    bad("1.5h", NULL);
    bad(" 10s", NULL);
    bad("10s ", NULL);
    bad("10 s", NULL);
    bad("1h30", NULL);
    bad("s", NULL);
    bad("1h1h", "invalid duration \"1h1h\": write each unit once, "
                "largest first (1h30m)");
    bad("30m1h", NULL);
    bad("1s1ms1s", NULL);
    bad("9223372036854775808ms", "invalid duration "
        "\"9223372036854775808ms\": too large");
    bad("106751991168d", NULL);
    bad("99999999999999999999999999d", NULL);
    bad("106751991167d1d", NULL);
    bad("1\n", NULL);
}

/* The value is quoted with control characters escaped, and cut. */
static void test_message_quoting(void)
{
    char text[200];
    kiln_err err = KILN_ERR_INIT;
    int64_t ms;

    bad("\t1s\"", "invalid duration \"\\t1s\\\"\": expected a number with "
                  "a unit (10s, 5m, 2h, 1d)");
    memset(text, '7', sizeof(text));
    text[sizeof(text) - 1] = '\0';
    ASSERT_EQ_INT(kiln_dsl_parse_duration(&ms, text, &err), KILN_EINVAL);
    ASSERT(strstr(err.msg, "7777...\": expected") != NULL);
    ASSERT_LT_INT(strlen(err.msg), 160);
}

int main(void)
{
    RUN_TEST(test_valid);
    RUN_TEST(test_invalid);
    RUN_TEST(test_message_quoting);
    return 0;
}
