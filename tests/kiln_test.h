/*
 * kiln_test.h: assertions for kiln's C tests.
 *
 * A failed assertion prints "file:line:", the expression and both values,
 * then aborts, so CTest marks the test failed (libuv's ASSERT_EQ style).
 * Values are evaluated once. RUN_TEST(fn) runs a void test function and
 * names it on stderr, so a failure's output says which test it was in.
 */
#ifndef KILN_TEST_H
#define KILN_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KILN_TEST_FAIL_(...)                                         \
    do {                                                             \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);              \
        fprintf(stderr, __VA_ARGS__);                                \
        fputc('\n', stderr);                                         \
        abort();                                                     \
    } while (0)

#define ASSERT(cond)                                                 \
    do {                                                             \
        if (!(cond))                                                 \
            KILN_TEST_FAIL_("assertion failed: %s", #cond);          \
    } while (0)

#define KILN_TEST_CMP_INT_(a, op, b)                                 \
    do {                                                             \
        long long a_ = (long long)(a), b_ = (long long)(b);          \
        if (!(a_ op b_))                                             \
            KILN_TEST_FAIL_("%s %s %s failed: %lld vs %lld", #a,     \
                            #op, #b, a_, b_);                        \
    } while (0)

#define ASSERT_EQ_INT(a, b) KILN_TEST_CMP_INT_(a, ==, b)
#define ASSERT_NE_INT(a, b) KILN_TEST_CMP_INT_(a, !=, b)
#define ASSERT_LT_INT(a, b) KILN_TEST_CMP_INT_(a, <, b)
#define ASSERT_LE_INT(a, b) KILN_TEST_CMP_INT_(a, <=, b)

/* Strings; NULL equals only NULL. */
#define ASSERT_STREQ(a, b)                                           \
    do {                                                             \
        const char *a_ = (a), *b_ = (b);                             \
        if (a_ != b_ && (!a_ || !b_ || strcmp(a_, b_) != 0))         \
            KILN_TEST_FAIL_("%s == %s failed:\n  \"%s\"\n  \"%s\"",  \
                            #a, #b, a_ ? a_ : "(null)",              \
                            b_ ? b_ : "(null)");                     \
    } while (0)

#define ASSERT_NULL(p)                                               \
    do {                                                             \
        if ((p) != NULL)                                             \
            KILN_TEST_FAIL_("%s is not NULL", #p);                   \
    } while (0)

#define ASSERT_NOT_NULL(p)                                           \
    do {                                                             \
        if ((p) == NULL)                                             \
            KILN_TEST_FAIL_("%s is NULL", #p);                       \
    } while (0)

#define RUN_TEST(fn)                                                 \
    do {                                                             \
        fprintf(stderr, "-- %s\n", #fn);                             \
        fn();                                                        \
    } while (0)

#endif
