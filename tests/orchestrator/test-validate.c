/* test-validate.c: the checks of validate steps on small CSV files, with
 * their exact reports and metrics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kiln_test.h"
#include "data/validate.h"

static char dir[] = "/tmp/kiln-test-validate.XXXXXX";

static void write_file(const char *name, const char *text)
{
    char *path = kiln_path_join(dir, name);
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs(text, f);
    fclose(f);
    free(path);
}

static void remove_file(const char *name)
{
    char *path = kiln_path_join(dir, name);
    unlink(path);
    free(path);
}

/* A validation of data.csv with no rules yet. */
static kiln_validation checks(void)
{
    kiln_validation v;
    memset(&v, 0, sizeof(v));
    v.data = "data.csv";
    v.min_rows = v.max_rows = -1;
    return v;
}

static kiln_col_rule rule(const char *column, kiln_col_type type)
{
    kiln_col_rule r;
    memset(&r, 0, sizeof(r));
    r.column = column;
    r.type = type;
    return r;
}

static double metric(const kiln_validate_result *r, const char *key)
{
    for (size_t i = 0; i < r->metrics.n; i++)
        if (strcmp(r->metrics.keys[i], key) == 0)
            return r->metrics.values[i];
    return NAN;
}

/* Run v on data.csv holding text; the report must be want. */
static void expect(kiln_validate_result *r, const kiln_validation *v,
                   const char *text, const char *want)
{
    kiln_err err = KILN_ERR_INIT;
    write_file("data.csv", text);
    ASSERT_EQ_INT(kiln_validate_run(r, v, dir, &err), 0);
    ASSERT_STREQ(kiln_buf_cstr(&r->report), want);
    ASSERT_EQ_INT(metric(r, "validate.rows"), r->rows);
    ASSERT_EQ_INT(metric(r, "validate.violations"), r->violations);
    ASSERT_EQ_INT(metric(r, "validate.warnings"), r->warnings);
}

static const char *const plans[] = {"free", "pro", "team"};

static void schema(kiln_col_rule rules[3])
{
    rules[0] = rule("age", KILN_COL_INT);
    rules[0].has_min = rules[0].has_max = true;
    rules[0].min = 0;
    rules[0].max = 120;
    rules[1] = rule("plan", KILN_COL_CATEGORY);
    rules[1].values.n = 3;
    rules[1].values.items = (const char **)plans;
    rules[2] = rule("income", KILN_COL_FLOAT);
    rules[2].has_min = true;
    rules[2].min = 0;
}

static void test_pass(void)
{
    kiln_validation v = checks();
    kiln_col_rule rules[3];
    kiln_validate_result r;
    schema(rules);
    v.rules = rules;
    v.n_rules = 3;
    v.min_rows = 2;
    v.max_rows = 3;
    expect(&r, &v, "age,plan,income\n30,free,100.5\n120,team,0\n"
           "0,\"pro\",1e3\n", "validate data.csv: 3 rows, all checks "
           "passed\n");
    ASSERT_EQ_INT(r.violations, 0);
    ASSERT_EQ_INT(r.rows, 3);
    ASSERT(metric(&r, "validate.missing.age") == 0);
    ASSERT_EQ_INT(r.metrics.n, 6);
    ASSERT_STREQ(r.metrics.keys[0], "validate.rows");
    kiln_validate_result_dispose(&r);
}

static void test_fail(void)
{
    kiln_validation v = checks();
    kiln_col_rule rules[3];
    kiln_validate_result r;
    schema(rules);
    v.rules = rules;
    v.n_rules = 3;
    expect(&r, &v,
           "age,plan,income,extra\n"      /* 1 */
           "30,free,100.5,x\n"            /* 2 */
           "-1,pro,0,x\n"                 /* 3: age below */
           "abc,team,5,x\n"               /* 4: age not an int */
           "130,gold,-3,x\n"              /* 5: above, not a plan, below */
           ",free,1e3,x\n"                /* 6: age missing */
           "2.5,pro,,x\n"                 /* 7: not an int, income missing */
           "\"4\n0\",free,7,x\n"          /* 8-9: not an int */
           "-5,Pro,x,x\n",                /* 10: below, not a plan, NaN */
           "FAIL age: type int: 3 non-integer values (lines 4, 7, 8)\n"
           "FAIL age: min 0: 2 values below (lines 3, 10)\n"
           "FAIL age: max 120: 1 value above (line 5)\n"
           "FAIL age: max_missing 0: 1 of 8 cells are empty, 12.5% "
           "(line 6)\n"
           "FAIL plan: values [free, pro, team]: 2 values not in the list "
           "(lines 5, 10)\n"
           "FAIL income: type float: 1 non-numeric value (line 10)\n"
           "FAIL income: min 0: 1 value below (line 5)\n"
           "FAIL income: max_missing 0: 1 of 8 cells are empty, 12.5% "
           "(line 7)\n"
           "WARN extra: column not in the schema\n"
           "validate data.csv: 8 rows, 8 violations, 1 warning\n");
    ASSERT_EQ_INT(r.violations, 8);
    ASSERT_EQ_INT(r.warnings, 1);
    ASSERT(metric(&r, "validate.missing.age") == 0.125);
    ASSERT(metric(&r, "validate.missing.plan") == 0);
    kiln_validate_result_dispose(&r);

    /* strict: the extra column fails too. */
    v.strict = true;
    expect(&r, &v, "age,plan,income,extra\n1,pro,2,x\n",
           "FAIL extra: column not in the schema (strict)\n"
           "validate data.csv: 1 row, 1 violation\n");
    kiln_validate_result_dispose(&r);
}

/* Only the first five lines are shown; the count is exact. */
static void test_many_lines(void)
{
    kiln_validation v = checks();
    kiln_col_rule rules[1] = {rule("n", KILN_COL_FLOAT)};
    kiln_validate_result r;
    v.rules = rules;
    v.n_rules = 1;
    expect(&r, &v, "n\na\nb\n\nc\nd\ne\nf\n1\n",
           "FAIL n: type float: 6 non-numeric values (lines 2, 3, 5, 6, 7, "
           "...)\n"
           "validate data.csv: 7 rows, 1 violation\n");
    kiln_validate_result_dispose(&r);
}

static void test_types(void)
{
    kiln_validation v = checks();
    kiln_col_rule rules[5] = {
        rule("i", KILN_COL_INT), rule("f", KILN_COL_FLOAT),
        rule("b", KILN_COL_BOOL), rule("c", KILN_COL_CATEGORY),
        rule("s", KILN_COL_STRING),
    };
    kiln_validate_result r;
    v.rules = rules;
    v.n_rules = 5;
    /* Ints are integers in text: no fraction, no exponent; floats are any
     * finite number; booleans true/false/yes/no/1/0 in any case; a
     * category with no values takes anything, as strings do. */
    expect(&r, &v,
           "i,f,b,c,s\n"
           "+7,7,TRUE,x,any\n"
           "-0,-1.5e3,no,y,thing\n"
           "007,0x10,Yes,z,\" \"\n"
           "1.0,inf,0,x,1\n"
           "1e3,nan,2,y,2\n"
           "-,1e999,t,z,3\n"
           "12345678901234567890,.5,False,x,4\n",
           "FAIL i: type int: 3 non-integer values (lines 5, 6, 7)\n"
           "FAIL f: type float: 3 non-numeric values (lines 5, 6, 7)\n"
           "FAIL b: type bool: 2 non-boolean values (lines 6, 7)\n"
           "validate data.csv: 7 rows, 3 violations\n");
    kiln_validate_result_dispose(&r);

    /* min and max compare numbers, not text; a value of the wrong type
     * counts once, as that. */
    rules[0].has_min = rules[0].has_max = true;
    rules[0].min = -10;
    rules[0].max = 100;
    rules[1].has_max = true;
    rules[1].max = 0.5;
    v.n_rules = 2;
    expect(&r, &v, "i,f\n99,0.5\n100,0.50001\n101,x\n-11,-1e9\nx,1e1\n",
           "FAIL i: type int: 1 non-integer value (line 6)\n"
           "FAIL i: min -10: 1 value below (line 5)\n"
           "FAIL i: max 100: 1 value above (line 4)\n"
           "FAIL f: type float: 1 non-numeric value (line 4)\n"
           "FAIL f: max 0.5: 2 values above (lines 3, 6)\n"
           "validate data.csv: 5 rows, 5 violations\n");
    kiln_validate_result_dispose(&r);
}

static void test_missing_values(void)
{
    kiln_validation v = checks();
    kiln_col_rule rules[2] = {rule("a", KILN_COL_ANY),
                              rule("b", KILN_COL_FLOAT)};
    kiln_validate_result r;
    v.rules = rules;
    v.n_rules = 2;
    /* 1 of 4 empty: 25% */
    rules[0].max_missing = 0.25;
    rules[1].max_missing = 0.2;
    expect(&r, &v, "a,b\n,1\nx,\n\"\",2\ny,3\n",
           "FAIL a: max_missing 0.25: 2 of 4 cells are empty, 50% "
           "(lines 2, 4)\n"
           "FAIL b: max_missing 0.2: 1 of 4 cells are empty, 25% (line 3)\n"
           "validate data.csv: 4 rows, 2 violations\n");
    ASSERT(metric(&r, "validate.missing.a") == 0.5);
    ASSERT(metric(&r, "validate.missing.b") == 0.25);
    kiln_validate_result_dispose(&r);
    rules[1].max_missing = 0.25;
    rules[0].max_missing = 0.5;
    expect(&r, &v, "a,b\n,1\nx,\n\"\",2\ny,3\n",
           "validate data.csv: 4 rows, all checks passed\n");
    kiln_validate_result_dispose(&r);
}

static void test_columns_and_rows(void)
{
    kiln_validation v = checks();
    kiln_col_rule rules[3] = {rule("a", KILN_COL_ANY),
                              rule("gone", KILN_COL_INT),
                              rule("odd name.x", KILN_COL_ANY)};
    kiln_validate_result r;
    v.rules = rules;
    v.n_rules = 3;
    v.min_rows = 3;
    expect(&r, &v, "a,b,odd name.x\n1,2,3\n\n4,5,6\n",
           "FAIL gone: column missing from the data\n"
           "WARN b: column not in the schema\n"
           "FAIL rows: min_rows 3: the data has 2\n"
           "validate data.csv: 2 rows, 2 violations, 1 warning\n");
    /* Keys a gate can write. */
    ASSERT(metric(&r, "validate.missing.odd_name_x") == 0);
    ASSERT(isnan(metric(&r, "validate.missing.gone")));
    kiln_validate_result_dispose(&r);

    v.min_rows = -1;
    v.max_rows = 1;
    expect(&r, &v, "a,odd name.x,gone\n1,2,3\n4,5,6\n",
           "FAIL rows: max_rows 1: the data has 2\n"
           "validate data.csv: 2 rows, 1 violation\n");
    kiln_validate_result_dispose(&r);

    /* Without a schema, no column is out of it; an empty file is
     * rows = 0. */
    v.n_rules = 0;
    v.max_rows = -1;
    v.min_rows = 1;
    expect(&r, &v, "a,b\n", "FAIL rows: min_rows 1: the data has 0\n"
           "validate data.csv: 0 rows, 1 violation\n");
    kiln_validate_result_dispose(&r);
}

static void expect_error(const kiln_validation *v, const char *text,
                         int want_rc, const char *want)
{
    kiln_validate_result r;
    kiln_err err = KILN_ERR_INIT;
    char *msg;
    if (text)
        write_file("data.csv", text);
    else
        remove_file("data.csv");
    ASSERT_EQ_INT(kiln_validate_run(&r, v, dir, &err), want_rc);
    ASSERT_EQ_INT(r.report.len, 0);
    ASSERT_EQ_INT(r.metrics.n, 0);
    /* want says DIR for the test's directory. */
    msg = kiln_asprintf("%.*s%s%s", (int)(strstr(want, "DIR") - want), want,
                        dir, strstr(want, "DIR") + 3);
    ASSERT_STREQ(err.msg, msg);
    free(msg);
    kiln_validate_result_dispose(&r);
}

static void test_unusable(void)
{
    kiln_validation v = checks();
    kiln_col_rule rules[1] = {rule("a", KILN_COL_INT)};
    v.rules = rules;
    v.n_rules = 1;
    expect_error(&v, "a,b\n1,2\n3,\"4\n5,6\n", KILN_EINVAL,
                 "DIR/data.csv: line 3: a quoted field is not closed before "
                 "the end of the file");
    expect_error(&v, "a,b\n1,2\n\"x\ny\",2\n3,4,5\n", KILN_EINVAL,
                 "DIR/data.csv: line 5: expected 2 fields as in the header, "
                 "got 3");
    expect_error(&v, "a,b\n1,2\n3,4\"\n", KILN_EINVAL,
                 "DIR/data.csv: line 3: malformed CSV (a quote inside an "
                 "unquoted field, or text after a closing quote)");
    expect_error(&v, "", KILN_EINVAL, "DIR/data.csv: line 1: expected a "
                 "header row naming the columns");
    expect_error(&v, NULL, KILN_ERROR, "cannot open DIR/data.csv: No such "
                 "file or directory");
    /* Headers that name no columns, or not each once. */
    expect_error(&v, "\xef\xbb\xbf", KILN_EINVAL, "DIR/data.csv: line 1: "
                 "expected a header row naming the columns, found only a "
                 "byte order mark");
    expect_error(&v, "\xef\xbb\xbf\xef\xbb\xbf" "a,b\n1,2\n", KILN_EINVAL,
                 "DIR/data.csv: line 1: more than one byte order mark "
                 "before the first column name");
    expect_error(&v, "a,b,a\n1,2,3\n", KILN_EINVAL, "DIR/data.csv: line 1: "
                 "column \"a\" appears twice in the header (columns 1 and "
                 "3)");
}

static void test_drift(void)
{
    kiln_validation v = checks();
    kiln_drift_check d;
    kiln_validate_result r;
    kiln_buf ref = KILN_BUF_INIT, cur = KILN_BUF_INIT;
    kiln_err err = KILN_ERR_INIT;
    const char *named[] = {"x", "nowhere", "only_data"};

    memset(&d, 0, sizeof(d));
    d.reference = "ref.csv";
    d.method = "psi";
    d.threshold = 0.2;
    v.drift = &d;
    /* x shifts, y does not; c is categorical and stays. */
    kiln_buf_puts(&ref, "x,y,c,only_ref\n");
    kiln_buf_puts(&cur, "x,y,c,only_data\n");
    for (int i = 0; i < 1000; i++) {
        kiln_buf_printf(&ref, "%d,%d,%s,1\n", i % 100, i % 50,
                        i % 3 ? "a" : "b");
        kiln_buf_printf(&cur, "%d,%d,%s,1\n", i % 100 + 40, i % 50,
                        i % 3 ? "a" : "b");
    }
    write_file("ref.csv", kiln_buf_cstr(&ref));
    write_file("data.csv", kiln_buf_cstr(&cur));
    ASSERT_EQ_INT(kiln_validate_run(&r, &v, dir, &err), 0);
    ASSERT_EQ_INT(r.violations, 1);
    ASSERT(strncmp(kiln_buf_cstr(&r.report), "FAIL x: drift psi 0.2: psi ",
                   strlen("FAIL x: drift psi 0.2: psi ")) == 0);
    ASSERT(strstr(kiln_buf_cstr(&r.report), " above the threshold\n"
                  "validate data.csv: 1000 rows, 1 violation\n"));
    ASSERT(metric(&r, "drift.x.psi") > 0.2);
    ASSERT(metric(&r, "drift.y.psi") < 0.001);
    ASSERT(metric(&r, "drift.x.ks") > 0.3);
    ASSERT(metric(&r, "drift.x.ks_pvalue") < 0.001);
    ASSERT(metric(&r, "drift.x.wasserstein") > 39);
    ASSERT(metric(&r, "drift.c.js") < 0.001);
    ASSERT(isnan(metric(&r, "drift.c.ks")));
    ASSERT(isnan(metric(&r, "drift.only_ref.psi")));
    kiln_validate_result_dispose(&r);

    /* ks by default skips categorical columns with a warning; named
     * columns must be in both files. */
    d.method = "ks";
    d.threshold = 0.05;
    ASSERT_EQ_INT(kiln_validate_run(&r, &v, dir, &err), 0);
    ASSERT(strstr(kiln_buf_cstr(&r.report), "FAIL x: drift ks 0.05: "
                  "p-value "));
    ASSERT(strstr(kiln_buf_cstr(&r.report), " below the threshold\n"
                  "WARN c: drift ks: needs numbers; the column is "
                  "categorical, not checked\n"
                  "validate data.csv: 1000 rows, 1 violation, 1 warning\n"));
    kiln_validate_result_dispose(&r);
    d.columns.n = 3;
    d.columns.items = named;
    ASSERT_EQ_INT(kiln_validate_run(&r, &v, dir, &err), 0);
    {
        const char *want = "FAIL nowhere: drift: column missing from the "
                           "data\n"
                           "FAIL only_data: drift: column missing from the "
                           "reference ref.csv\n"
                           "FAIL x: drift ks 0.05: p-value ";
        ASSERT(strncmp(kiln_buf_cstr(&r.report), want, strlen(want)) == 0);
    }
    ASSERT_EQ_INT(r.violations, 3);
    ASSERT(isnan(metric(&r, "drift.y.psi")));
    kiln_validate_result_dispose(&r);

    /* Numbers in one file, text in the other: compared as categories for
     * psi; ks needs numbers, and x was named. */
    d.columns.n = 1;
    write_file("data.csv", "x,y,c,only_data\nlow,1,a,1\n");
    ASSERT_EQ_INT(kiln_validate_run(&r, &v, dir, &err), 0);
    ASSERT_STREQ(kiln_buf_cstr(&r.report),
                 "FAIL x: drift ks: needs numbers; the column is "
                 "categorical\n"
                 "validate data.csv: 1 row, 1 violation\n");
    kiln_validate_result_dispose(&r);
    d.method = "psi";
    d.threshold = 0.2;
    ASSERT_EQ_INT(kiln_validate_run(&r, &v, dir, &err), 0);
    ASSERT(strncmp(kiln_buf_cstr(&r.report), "FAIL x: drift psi 0.2: psi ",
                   strlen("FAIL x: drift psi 0.2: psi ")) == 0);
    ASSERT(metric(&r, "drift.x.psi") > 0.2);
    kiln_validate_result_dispose(&r);

    /* A column with no values: ks has nothing to compare. */
    d.method = "ks";
    d.threshold = 0.05;
    write_file("data.csv", "x,y,c,only_data\n,1,a,1\n");
    ASSERT_EQ_INT(kiln_validate_run(&r, &v, dir, &err), 0);
    ASSERT_STREQ(kiln_buf_cstr(&r.report),
                 "FAIL x: drift ks: no values in the data\n"
                 "validate data.csv: 1 row, 1 violation\n");
    kiln_validate_result_dispose(&r);

    /* Data of no rows: nothing to compare, no drift claimed. */
    write_file("data.csv", "x,y,c,only_data\n");
    ASSERT_EQ_INT(kiln_validate_run(&r, &v, dir, &err), 0);
    ASSERT_STREQ(kiln_buf_cstr(&r.report),
                 "FAIL drift: the data has no rows to compare with ref.csv\n"
                 "validate data.csv: 0 rows, 1 violation\n");
    kiln_validate_result_dispose(&r);
    /* A reference of no rows is unusable input, whatever the data. */
    write_file("ref.csv", "x,y,c,only_ref\n");
    ASSERT_EQ_INT(kiln_validate_run(&r, &v, dir, &err), KILN_EINVAL);
    ASSERT(strstr(err.msg, "/ref.csv: line 2: no data rows after the "
                  "header"));
    kiln_validate_result_dispose(&r);
    write_file("data.csv", "x,y,c,only_data\n1,2,a,1\n");
    ASSERT_EQ_INT(kiln_validate_run(&r, &v, dir, &err), KILN_EINVAL);
    ASSERT(strstr(err.msg, "/ref.csv: line 2: no data rows after the "
                  "header"));
    kiln_validate_result_dispose(&r);

    /* A missing reference is unusable input. */
    d.reference = "nope.csv";
    ASSERT_EQ_INT(kiln_validate_run(&r, &v, dir, &err), KILN_ERROR);
    ASSERT(strstr(err.msg, "/nope.csv: No such file or directory"));
    kiln_validate_result_dispose(&r);

    remove_file("ref.csv");
    kiln_buf_dispose(&ref);
    kiln_buf_dispose(&cur);
}

int main(void)
{
    ASSERT_NOT_NULL(mkdtemp(dir));
    RUN_TEST(test_pass);
    RUN_TEST(test_fail);
    RUN_TEST(test_many_lines);
    RUN_TEST(test_types);
    RUN_TEST(test_missing_values);
    RUN_TEST(test_columns_and_rows);
    RUN_TEST(test_unusable);
    RUN_TEST(test_drift);
    remove_file("data.csv");
    rmdir(dir);
    return 0;
}
